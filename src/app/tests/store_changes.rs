//! Another program wrote to the history (`clerk ask` in a shell while the app runs): the
//! store thread sends `Msg::StoreChanged` with the list as it is now, and `update` decides
//! what to read again.

use super::*;

/// The list as the store has it: a session from the shell on top of the two of
/// `with_sessions`, whose open session 1 has `count` messages, last active at `updated`.
fn list_with(count: u64, updated: i64) -> Vec<SessionSummary> {
    let mut older = summary(1, "Older", updated, false);
    older.message_count = count;
    vec![
        summary(3, "From the shell", NOW, false),
        summary(2, "Newer", NOW - 1000, false),
        older,
    ]
}

/// `with_sessions`, session 1 open with its two messages, and a draft typed in the box.
fn open_session_1() -> App {
    let mut a = with_sessions();
    update(&mut a, alt_key(KeyCode::Down));
    assert_eq!(a.current, Some(2));
    update(&mut a, alt_key(KeyCode::Down));
    assert_eq!(a.current, Some(1));
    loaded(
        &mut a,
        1,
        vec![
            message(10, 1, Role::User, "q", MessageStatus::Complete),
            message(11, 1, Role::Assistant, "a", MessageStatus::Complete),
        ],
    );
    type_text(&mut a, "half typed");
    a
}

/// Session 1 as the store has it after the shell added a question and its answer: its
/// first two messages, then `mine` (this app's), then the shell's.
fn stored(mine: Vec<Message>) -> Vec<Message> {
    let mut all = vec![
        message(10, 1, Role::User, "q", MessageStatus::Complete),
        message(11, 1, Role::Assistant, "a", MessageStatus::Complete),
    ];
    all.extend(mine);
    all.push(message(
        20,
        1,
        Role::User,
        "from the shell",
        MessageStatus::Complete,
    ));
    all.push(message(
        21,
        1,
        Role::Assistant,
        "shell answer",
        MessageStatus::Complete,
    ));
    all
}

/// Issue 13, point 15: a session created in the shell appears; the cursor, the open
/// transcript and the draft stay as they were.
#[test]
fn a_session_from_the_shell_appears_and_nothing_else_moves() {
    let mut a = open_session_1();
    let before = a.transcript.clone();
    let fx = update(
        &mut a,
        Msg::StoreChanged(list_with(2, NOW - 2 * 86_400_000)),
    );
    assert!(fx.is_empty(), "the open session did not change: {fx:?}");
    let titles: Vec<&str> = a
        .visible_sessions()
        .iter()
        .map(|s| s.title.as_str())
        .collect();
    assert_eq!(titles, ["From the shell", "Newer", "Older"]);
    assert_eq!(a.selected_id(), Some(1), "the cursor stays on its session");
    assert_eq!(a.transcript, before);
    assert_eq!(a.input_text(), "half typed");
}

/// `clerk ask --session last` appended to the open session: its messages are read again
/// and shown; the draft, the selection and the view stay.
#[test]
fn the_open_session_changed_in_the_shell_is_read_again() {
    let mut a = open_session_1();
    a.selected_turn = Some(0);
    a.scroll = Scroll::Top(0);
    let fx = update(&mut a, Msg::StoreChanged(list_with(4, NOW)));
    assert_eq!(fx, vec![Effect::RefreshTranscript(1)]);
    let fx = update(
        &mut a,
        Msg::TranscriptRefreshed {
            session_id: 1,
            messages: stored(vec![]),
        },
    );
    assert!(fx.is_empty());
    let texts: Vec<String> = (0..a.transcript.len())
        .map(|i| super::shown(&a, i))
        .collect();
    assert_eq!(texts, ["q", "a", "from the shell", "shell answer"]);
    assert_eq!(a.input_text(), "half typed", "the draft is not touched");
    assert_eq!(a.selected_turn, Some(0));
    assert_eq!(a.scroll, Scroll::Top(0));
    assert!(a.new_below, "scrolled up: it says there is more below");
    // A refresh for a session that is no longer open changes nothing.
    update(&mut a, alt_key(KeyCode::Up));
    let shown = a.transcript.clone();
    update(
        &mut a,
        Msg::TranscriptRefreshed {
            session_id: 1,
            messages: vec![],
        },
    );
    assert_eq!(a.transcript, shown);
}

/// An answer being written here keeps its text (the store's lags) and stays the last turn,
/// where the next deltas go; a message being deleted stays hidden.
#[test]
fn a_refresh_keeps_the_answer_being_written_here() {
    let mut a = open_session_1();
    a.set_box("");
    type_text(&mut a, "mine");
    update(&mut a, key(KeyCode::Enter));
    update(
        &mut a,
        Msg::SendAccepted {
            session_id: 1,
            created: false,
            user_id: 12,
            answer_id: 13,
        },
    );
    let mut driver = super::Driver::new(1);
    driver.delta(&mut a, "partial");
    // The first answer is being deleted (its undo time runs).
    a.focus = Focus::Transcript;
    a.selected_turn = Some(1);
    update(&mut a, key(KeyCode::Delete));
    assert!(a.pending_message.is_some());
    a.focus = Focus::Input;
    let fx = update(&mut a, Msg::StoreChanged(list_with(6, NOW)));
    assert_eq!(fx, vec![Effect::RefreshTranscript(1)]);
    update(
        &mut a,
        Msg::TranscriptRefreshed {
            session_id: 1,
            messages: stored(vec![
                message(12, 1, Role::User, "mine", MessageStatus::Complete),
                message(13, 1, Role::Assistant, "par", MessageStatus::Streaming),
            ]),
        },
    );
    let texts: Vec<String> = (0..a.transcript.len())
        .map(|i| super::shown(&a, i))
        .collect();
    assert_eq!(
        texts,
        ["q", "mine", "from the shell", "shell answer", "partial"]
    );
    driver.delta(&mut a, " and more");
    update(
        &mut a,
        Msg::Stream {
            session_id: 1,
            event: StreamEvent::Done(
                answer("partial and more", AnswerStatus::Complete),
                None,
                None,
            ),
        },
    );
    let last = a.transcript.last().unwrap();
    assert_eq!(last.content, "partial and more");
    assert_eq!(last.status, MessageStatus::Complete);
    assert_eq!(last.id, Some(13));
}
