//! Unit tests of `update`: every kind of message, no terminal, no IO. The editing keys of
//! every text field are tested in `tests/fields.rs`, what the app does when another program
//! writes to the history in `tests/store_changes.rs`, grounded sessions and their sources
//! in `tests/knowledge.rs`, the admin's policy and the incognito session in
//! `tests/policy.rs`.

mod compare;
mod fields;
mod knowledge;
mod policy;
mod store_changes;

use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::update::update;
use super::*;
use crate::llm::{Answer, AnswerStatus, RetryNotice, TokenUsage};
use crate::store::{Message, SearchHit, Session, SessionSummary};

fn setup(has_key: bool) -> Setup {
    Setup {
        profile: "default".into(),
        model: "gpt-4o-mini".into(),
        has_key,
        key_problem: if has_key {
            None
        } else {
            Some("no API key".into())
        },
        themes: vec!["dark".into(), "light".into(), "gruvbox".into()],
        theme: "dark".into(),
        keymap: Keymap::default(),
        context_window: Some(128_000),
        models: crate::config::ModelTable::new(&Default::default()),
        history: true,
        tz_offset_secs: 0,
        scan_secrets: true,
        knowledge: Vec::new(),
        profile_model: "gpt-4o-mini".into(),
        policy: crate::config::Policy::default(),
    }
}

const NOW: i64 = 1_764_000_000_000;

fn app() -> App {
    App::new(setup(true), (120, 40), NOW)
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn alt(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT))
}

fn alt_key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::ALT))
}

/// The notice's text (empty without one).
fn said(a: &App) -> &str {
    a.notice.as_ref().map_or("", |n| n.text.as_str())
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        update(app, key(KeyCode::Char(c)));
    }
}

fn summary(id: i64, title: &str, updated_ms: i64, pinned: bool) -> SessionSummary {
    SessionSummary {
        session: Session {
            id,
            title: title.into(),
            created_ms: updated_ms,
            updated_ms,
            profile: "default".into(),
            model: "gpt-4o-mini".into(),
            system_prompt: None,
            archived: false,
            pinned,
            knowledge: None,
        },
        message_count: 2,
    }
}

fn message(id: i64, session_id: i64, role: Role, content: &str, status: MessageStatus) -> Message {
    Message {
        id,
        session_id,
        role,
        content: content.into(),
        status,
        error: None,
        model: None,
        usage: Usage::default(),
        cost_usd: None,
        ttft_ms: None,
        duration_ms: None,
        created_ms: NOW,
        tokens: None,
        grounding: None,
    }
}

/// Stands in for an answer's driver (`chat::drive`): hands the app the answer's text once,
/// as `Sink::started` does, then appends each delta to that one string and says it grew.
struct Driver {
    session_id: i64,
    text: crate::chat::LiveText,
    started: bool,
}

impl Driver {
    fn new(session_id: i64) -> Self {
        Driver {
            session_id,
            text: crate::chat::LiveText::new(),
            started: false,
        }
    }

    fn delta(&mut self, a: &mut App, d: &str) {
        let session_id = self.session_id;
        if !self.started {
            self.started = true;
            let event = StreamEvent::Text(self.text.clone());
            update(a, Msg::Stream { session_id, event });
        }
        self.text.push(d);
        update(
            a,
            Msg::Stream {
                session_id,
                event: StreamEvent::Grew,
            },
        );
    }
}

/// The text a turn is drawn with (a streaming answer's: its live text).
fn shown(a: &App, i: usize) -> String {
    a.with_turn_text(&a.transcript[i], str::to_owned)
}

fn answer(text: &str, status: AnswerStatus) -> Answer {
    Answer {
        text: text.into(),
        status,
        reason: (status != AnswerStatus::Complete).then(|| "the connection dropped".to_string()),
        finish_reason: Some("stop".into()),
        usage: Some(TokenUsage {
            input: 10,
            cached: 0,
            output: 3,
        }),
        model: Some("gpt-4o-mini".into()),
        ttft: Some(Duration::from_millis(300)),
        duration: Duration::from_secs(1),
        malformed: 0,
    }
}

/// The panes and the session list as the renderer reports them at 120x40.
fn drawn_at_120x40() -> View {
    use ratatui::layout::Rect;
    View {
        panes: crate::app::Panes {
            sidebar: Some(Rect::new(0, 0, 30, 39)),
            transcript: Rect::new(30, 0, 90, 36),
            input: Rect::new(30, 36, 90, 3),
        },
        list: Some((Rect::new(1, 1, 28, 37), 0)),
        ..View::default()
    }
}

/// The store made the rows of the question just sent (the answer's is `user_id + 1`).
fn accepted(a: &mut App, session_id: i64, created: bool, user_id: i64) {
    update(
        a,
        Msg::SendAccepted {
            session_id,
            created,
            user_id,
            answer_id: user_id + 1,
        },
    );
}

/// Session `session_id`'s messages loaded (no draft kept).
fn loaded(a: &mut App, session_id: i64, messages: Vec<Message>) {
    update(
        a,
        Msg::TranscriptLoaded {
            session_id,
            messages,
            draft: None,
        },
    );
}

/// An app with two sessions loaded and session 1 open.
fn with_sessions() -> App {
    let mut a = app();
    update(
        &mut a,
        Msg::SessionsLoaded(vec![
            summary(2, "Newer", NOW - 1000, false),
            summary(1, "Older", NOW - 2 * 86_400_000, false),
        ]),
    );
    a
}

#[test]
fn typing_goes_to_the_input_and_enter_sends_it() {
    let mut a = app();
    type_text(&mut a, "hello 你好");
    assert_eq!(a.input_text(), "hello 你好");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Send {
            long: None,
            system: None,
            replace_from: None,
            session_id: None,
            text: "hello 你好".into(),
            model: "gpt-4o-mini".into(),
            ground: None,
            session_kb: None,
            title: None,
        }]
    );
    assert_eq!(a.input_text(), "");
    assert_eq!(a.transcript.len(), 2);
    assert_eq!(a.transcript[1].status, MessageStatus::Streaming);
    assert!(a.pending_new.is_some() && a.streaming());
}

#[test]
fn empty_input_does_not_send() {
    let mut a = app();
    type_text(&mut a, "   ");
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
}

#[test]
fn alt_enter_and_ctrl_j_add_newlines_and_paste_never_sends() {
    let mut a = app();
    type_text(&mut a, "a");
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)),
    );
    type_text(&mut a, "b");
    update(&mut a, ctrl('j'));
    type_text(&mut a, "c");
    assert_eq!(a.input_text(), "a\nb\nc");
    let fx = update(&mut a, Msg::Paste("line 1\r\nline 2\n".into()));
    assert!(fx.is_empty());
    assert_eq!(a.input_text(), "a\nb\ncline 1\nline 2\n");
}

#[test]
fn without_a_key_send_opens_the_key_dialog_and_nothing_is_sent() {
    let mut a = App::new(setup(false), (120, 40), NOW);
    assert!(matches!(a.dialog, Some(Dialog::ApiKey { .. })));
    update(&mut a, key(KeyCode::Esc));
    assert!(a.dialog.is_none());
    assert!(a.notice.as_ref().unwrap().text.contains("F3"));
    type_text(&mut a, "hi");
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    assert!(matches!(a.dialog, Some(Dialog::ApiKey { .. })));
    assert_eq!(a.input_text(), "hi", "the message is kept");
}

#[test]
fn key_dialog_stores_the_key_and_reports_errors() {
    let mut a = App::new(setup(false), (120, 40), NOW);
    update(&mut a, Msg::Paste("  sk-test-123456789\n".into()));
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::StoreKey("sk-test-123456789".into())]);
    update(&mut a, Msg::KeyStored(Err("no keyring".into())));
    assert!(matches!(&a.dialog, Some(Dialog::ApiKey { error: Some(e), .. }) if e == "no keyring"));
    update(
        &mut a,
        Msg::KeyStored(Ok("key sk-…6789 works for this run only".into())),
    );
    assert!(a.dialog.is_none() && a.setup.has_key);
    assert!(a.notice.as_ref().unwrap().text.contains("this run only"));
}

#[test]
fn send_accepted_makes_the_new_session_current_and_streams_append() {
    let mut a = app();
    type_text(&mut a, "q");
    update(&mut a, key(KeyCode::Enter));
    let fx = update(
        &mut a,
        Msg::SendAccepted {
            session_id: 7,
            created: true,
            user_id: 70,
            answer_id: 71,
        },
    );
    assert_eq!(fx, vec![Effect::LoadSessions]);
    assert_eq!(a.current, Some(7));
    assert_eq!(a.transcript[1].id, Some(71));
    let mut driver = Driver::new(7);
    driver.delta(&mut a, "Hel");
    driver.delta(&mut a, "lo");
    assert_eq!(shown(&a, 1), "Hello");
    // Drawn from the driver's own string: one string per streaming answer.
    assert_eq!(a.live[&7].text, driver.text);
    assert_eq!(a.transcript[1].content, "", "the turn keeps no copy");
    update(
        &mut a,
        Msg::Stream {
            session_id: 7,
            event: StreamEvent::Done(answer("Hello", AnswerStatus::Complete), Some(0.0001), None),
        },
    );
    assert!(!a.streaming());
    assert_eq!(a.transcript[1].status, MessageStatus::Complete);
    assert_eq!(a.transcript[1].usage.tokens_out, Some(3));
    assert_eq!(a.session_cost(), Some(0.0001));
    assert_eq!(a.context_used(), Some(13));
}

#[test]
fn esc_stops_the_open_sessions_answer() {
    let mut a = with_sessions();
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
    );
    let id = a.current.unwrap();
    type_text(&mut a, "q");
    update(&mut a, key(KeyCode::Enter));
    let fx = update(&mut a, key(KeyCode::Esc));
    assert_eq!(fx, vec![Effect::Stop(id)]);
    update(
        &mut a,
        Msg::Stream {
            session_id: id,
            event: StreamEvent::Done(
                answer("part", AnswerStatus::Interrupted),
                Some(0.000_012),
                Some(crate::store::Usage {
                    tokens_in: Some(40),
                    tokens_cached: Some(0),
                    tokens_out: Some(1),
                    estimated: true,
                }),
            ),
        },
    );
    let t = a.transcript.last().unwrap();
    assert_eq!(t.status, MessageStatus::Interrupted);
    // What was saved for it (an estimate: the server sent no usage) shows at once.
    assert_eq!((t.usage.tokens_in, t.usage.estimated), (Some(40), true));
    assert_eq!(t.cost_usd, Some(0.000_012));
    assert!(a.notice.as_ref().unwrap().text.contains("interrupted"));
}

#[test]
fn a_budget_refusal_opens_a_dialog_and_marks_the_answer() {
    let mut a = with_sessions();
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
    );
    let id = a.current.unwrap();
    type_text(&mut a, "q");
    update(&mut a, key(KeyCode::Enter));
    let text = "not sent: the daily budget of $1.00 is reached ($1.02 spent; [budget] daily_usd); it starts again at midnight";
    update(
        &mut a,
        Msg::Stream {
            session_id: id,
            event: StreamEvent::Refused(text.into()),
        },
    );
    assert_eq!(a.dialog, Some(Dialog::Refused { text: text.into() }));
    let t = a.transcript.last().unwrap();
    assert_eq!(t.status, MessageStatus::Error);
    assert_eq!(t.error.as_deref(), Some(text));
    update(&mut a, key(KeyCode::Char('x')));
    assert!(a.dialog.is_some(), "a stray key does not close it");
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(a.dialog, None);
}

#[test]
fn an_answer_in_another_session_keeps_streaming_and_marks_it_unread() {
    let mut a = with_sessions();
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
    );
    let first = a.current.unwrap();
    type_text(&mut a, "q");
    update(&mut a, key(KeyCode::Enter));
    let fx = update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
    );
    let second = a.current.unwrap();
    assert_ne!(first, second);
    assert!(fx.contains(&Effect::LoadTranscript(second)));
    assert!(
        !fx.iter().any(|f| matches!(f, Effect::Stop(_))),
        "switching does not stop it"
    );
    Driver::new(first).delta(&mut a, "x");
    assert_eq!(a.live[&first].text.with(str::to_owned), "x");
    update(
        &mut a,
        Msg::Stream {
            session_id: first,
            event: StreamEvent::Done(answer("x", AnswerStatus::Complete), None, None),
        },
    );
    assert!(a.unread.contains(&first));
    // Opening it clears the mark.
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)),
    );
    assert!(!a.unread.contains(&first));
}

#[test]
fn sending_while_an_answer_streams_in_the_same_session_is_refused_and_kept() {
    let mut a = app();
    type_text(&mut a, "one");
    update(&mut a, key(KeyCode::Enter));
    type_text(&mut a, "two");
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    assert_eq!(a.input_text(), "two");
    assert!(
        a.notice
            .as_ref()
            .unwrap()
            .text
            .contains("still being written")
    );
}

#[test]
fn transcript_loaded_shows_messages_and_overlays_a_live_answer() {
    let mut a = with_sessions();
    a.current = Some(1);
    let text = crate::chat::LiveText::new();
    text.push("live text");
    a.live.insert(
        1,
        Live {
            answer_id: Some(11),
            text,
            waiting: None,
            step: None,
            grounding: None,
        },
    );
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(10, 1, Role::User, "q", MessageStatus::Complete),
                message(11, 1, Role::Assistant, "li", MessageStatus::Streaming),
            ],
            draft: Some("half typed".into()),
        },
    );
    assert_eq!(a.transcript.len(), 2);
    assert_eq!(shown(&a, 1), "live text");
    assert_eq!(a.input_text(), "half typed");
    // A transcript for a session no longer open is ignored.
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 2,
            messages: vec![],
            draft: None,
        },
    );
    assert_eq!(a.transcript.len(), 2);
}

#[test]
fn a_streaming_answer_keeps_every_word_across_switching_sessions_in_one_string() {
    let mut a = with_sessions();
    let mut driver = Driver::new(2);
    let loaded = |a: &mut App, partial: &str| {
        update(
            a,
            Msg::TranscriptLoaded {
                session_id: 2,
                messages: vec![
                    message(20, 2, Role::User, "q", MessageStatus::Complete),
                    message(21, 2, Role::Assistant, partial, MessageStatus::Streaming),
                ],
                draft: None,
            },
        );
    };
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
    );
    assert_eq!(a.current, Some(2));
    a.live.insert(
        2,
        Live {
            answer_id: Some(21),
            text: crate::chat::LiveText::new(),
            waiting: None,
            step: None,
            grounding: None,
        },
    );
    loaded(&mut a, "");
    driver.delta(&mut a, "Hel");
    assert_eq!(shown(&a, 1), "Hel");
    assert_eq!(
        a.live[&2].text, driver.text,
        "the driver's string, not a copy"
    );
    assert_eq!(a.transcript[1].content, "", "shown: not kept twice");
    // Away from the session, the text goes on in the live answer...
    update(&mut a, ctrl('n'));
    driver.delta(&mut a, "lo");
    assert_eq!(a.live[&2].text.with(str::to_owned), "Hello");
    // ...and comes back whole, whatever the store had saved of it so far.
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
    );
    assert_eq!(a.current, Some(2));
    driver.delta(&mut a, " wor");
    loaded(&mut a, "He");
    assert_eq!(shown(&a, 1), "Hello wor");
    assert_eq!(
        a.transcript[1].content, "",
        "the saved partial is not kept beside it"
    );
    driver.delta(&mut a, "ld");
    assert_eq!(shown(&a, 1), "Hello world");
}

#[test]
fn drafts_are_kept_per_session_when_switching() {
    let mut a = with_sessions();
    type_text(&mut a, "draft for new");
    let fx = update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
    );
    assert!(fx.contains(&Effect::SaveDraft(NEW_SESSION, "draft for new".into())));
    assert_eq!(a.input_text(), "");
    type_text(&mut a, "draft for 2");
    let fx = update(&mut a, ctrl('n'));
    assert!(fx.contains(&Effect::SaveDraft(2, "draft for 2".into())));
    assert_eq!(a.input_text(), "draft for new");
}

#[test]
fn sessions_are_grouped_and_pinned_first() {
    let mut a = app();
    update(
        &mut a,
        Msg::SessionsLoaded(vec![
            summary(3, "today", NOW - 1000, false),
            summary(2, "yesterday", NOW - 86_400_000, false),
            summary(1, "pinned old", NOW - 40 * 86_400_000, true),
            summary(4, "week", NOW - 3 * 86_400_000, false),
        ]),
    );
    assert_eq!(a.sessions[0].title, "pinned old");
    let rows = a.list_rows();
    assert_eq!(rows[0], ListRow::Heading("Pinned"));
    let headings: Vec<&str> = rows
        .iter()
        .filter_map(|r| match r {
            ListRow::Heading(h) => Some(*h),
            _ => None,
        })
        .collect();
    assert_eq!(
        headings,
        ["Pinned", "Today", "Yesterday", "Previous 7 days"]
    );
}

#[test]
fn filter_narrows_the_list_as_you_type() {
    let mut a = with_sessions();
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)),
    );
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)),
    );
    assert_eq!(a.focus, Focus::Sessions);
    update(&mut a, key(KeyCode::Char('/')));
    assert!(a.filtering);
    type_text(&mut a, "old");
    assert_eq!(a.visible_sessions().len(), 1);
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::LoadTranscript(1)]);
    assert!(!a.filtering);
}

#[test]
fn rename_pin_archive_from_the_session_list() {
    let mut a = with_sessions();
    a.focus = Focus::Sessions;
    update(&mut a, key(KeyCode::Char('r')));
    assert!(matches!(&a.dialog, Some(Dialog::Rename { id: 2, .. })));
    for _ in 0.."Newer".len() {
        update(&mut a, key(KeyCode::Backspace));
    }
    type_text(&mut a, "Renamed");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::Rename(2, "Renamed".into())]);
    assert_eq!(a.sessions[0].title, "Renamed");
    update(&mut a, key(KeyCode::Down));
    let fx = update(&mut a, key(KeyCode::Char('p')));
    assert!(fx.contains(&Effect::SetPinned(1, true)));
    assert_eq!(a.sessions[0].id, 1, "pinned moves to the top");
    let fx = update(&mut a, key(KeyCode::Char('a')));
    assert!(fx.contains(&Effect::SetArchived(1, true)));
    assert!(a.visible_sessions().iter().all(|s| s.id != 1));
}

#[test]
fn e_in_the_session_list_asks_where_to_export_it_named_after_it() {
    let mut a = with_sessions();
    a.focus = Focus::Sessions;
    update(&mut a, key(KeyCode::Char('e')));
    let Some(Dialog::Export { id: 2, path, .. }) = &a.dialog else {
        panic!("{:?}", a.dialog)
    };
    assert_eq!(path.as_str(), "Newer.md");
    // Another name: JSON; pasted text goes into the field too.
    for _ in 0.."md".len() {
        update(&mut a, key(KeyCode::Backspace));
    }
    update(&mut a, Msg::Paste("json".into()));
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::Export(2, "Newer.json".into())]);
    assert!(a.dialog.is_none());
    // Esc writes nothing; an empty name is not taken.
    update(&mut a, key(KeyCode::Char('e')));
    assert!(update(&mut a, key(KeyCode::Esc)).is_empty());
    assert!(a.dialog.is_none());
    update(&mut a, key(KeyCode::Char('e')));
    for _ in 0.."Newer.md".len() {
        update(&mut a, key(KeyCode::Backspace));
    }
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    assert!(matches!(&a.dialog, Some(Dialog::Export { .. })));
}

#[test]
fn delete_asks_then_can_be_undone_or_happens_after_the_undo_time() {
    let mut a = with_sessions();
    a.focus = Focus::Sessions;
    update(&mut a, key(KeyCode::Char('d')));
    assert!(matches!(
        &a.dialog,
        Some(Dialog::ConfirmDelete { id: 2, .. })
    ));
    assert!(
        update(&mut a, key(KeyCode::Char('y'))).is_empty(),
        "nothing deleted yet"
    );
    assert_eq!(a.visible_sessions().len(), 1);
    update(&mut a, ctrl('z'));
    assert_eq!(a.visible_sessions().len(), 2, "undo brings it back");
    update(&mut a, key(KeyCode::Char('d')));
    update(&mut a, key(KeyCode::Enter));
    assert!(update(&mut a, Msg::Tick(NOW + 1000)).is_empty());
    let fx = update(&mut a, Msg::Tick(NOW + UNDO_MS + 1));
    assert!(fx.contains(&Effect::Delete(2)));
    assert!(a.pending_delete.is_none());
}

#[test]
fn quitting_while_streaming_asks_first() {
    let mut a = app();
    type_text(&mut a, "q");
    update(&mut a, key(KeyCode::Enter));
    assert!(update(&mut a, ctrl('c')).is_empty());
    assert_eq!(a.dialog, Some(Dialog::ConfirmQuit));
    update(&mut a, key(KeyCode::Char('n')));
    assert!(!a.quit);
    update(&mut a, ctrl('q'));
    let fx = update(&mut a, key(KeyCode::Char('y')));
    assert!(a.quit && fx.contains(&Effect::Quit));
}

#[test]
fn quitting_when_idle_is_immediate_and_keeps_the_draft() {
    let mut a = app();
    type_text(&mut a, "unsent");
    let fx = update(&mut a, ctrl('q'));
    assert!(a.quit);
    assert_eq!(
        fx,
        vec![
            Effect::SaveDraft(NEW_SESSION, "unsent".into()),
            Effect::Quit
        ]
    );
}

#[test]
fn search_queries_and_jumps_to_the_message() {
    let mut a = with_sessions();
    update(&mut a, ctrl('f'));
    type_text(&mut a, "报销");
    let fx = update(&mut a, key(KeyCode::Backspace));
    assert_eq!(fx, vec![Effect::Search("报".into())]);
    type_text(&mut a, "销");
    let hit = SearchHit {
        message_id: 11,
        session_id: 1,
        session_title: "Older".into(),
        role: Role::Assistant,
        snippet: "\u{E000}报销\u{E001}".into(),
        created_ms: NOW,
        rank: -1.0,
    };
    update(
        &mut a,
        Msg::SearchResults {
            query: "stale".into(),
            hits: vec![hit.clone()],
        },
    );
    assert!(
        matches!(&a.dialog, Some(Dialog::Search { hits, .. }) if hits.is_empty()),
        "stale results are ignored"
    );
    update(
        &mut a,
        Msg::SearchResults {
            query: "报销".into(),
            hits: vec![hit],
        },
    );
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::LoadTranscript(1)]);
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(10, 1, Role::User, "q", MessageStatus::Complete),
                message(11, 1, Role::Assistant, "报销", MessageStatus::Complete),
            ],
            draft: None,
        },
    );
    assert_eq!(a.selected_turn, Some(1));
    assert_eq!(a.focus, Focus::Transcript);
}

#[test]
fn help_and_theme_picker() {
    let mut a = app();
    update(&mut a, key(KeyCode::F(1)));
    assert_eq!(a.dialog, Some(Dialog::Help { scroll: 0 }));
    update(&mut a, key(KeyCode::Esc));
    assert!(a.dialog.is_none());
    update(&mut a, ctrl('t'));
    update(&mut a, key(KeyCode::Down));
    assert_eq!(a.setup.theme, "light", "previewed at once");
    update(&mut a, key(KeyCode::Esc));
    assert_eq!(a.setup.theme, "dark", "Esc reverts");
    update(&mut a, ctrl('t'));
    update(&mut a, key(KeyCode::Down));
    update(&mut a, key(KeyCode::Down));
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::SaveSetting("theme".into(), "gruvbox".into())]
    );
}

#[test]
fn scrolling_up_holds_the_view_and_new_text_is_flagged() {
    let mut a = app();
    type_text(&mut a, "q");
    update(&mut a, key(KeyCode::Enter));
    update(
        &mut a,
        Msg::SendAccepted {
            session_id: 1,
            created: true,
            user_id: 1,
            answer_id: 2,
        },
    );
    update(
        &mut a,
        Msg::Layout(View {
            lines: 100,
            height: 20,
            ..drawn_at_120x40()
        }),
    );
    update(&mut a, key(KeyCode::PageUp));
    assert_eq!(a.scroll, Scroll::Top(62));
    Driver::new(1).delta(&mut a, "more");
    assert!(a.new_below);
    assert_eq!(a.scroll, Scroll::Top(62), "the view does not move");
    update(
        &mut a,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 50,
            row: 10,
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(a.scroll, Scroll::Top(65));
    update(&mut a, key(KeyCode::PageDown));
    update(&mut a, key(KeyCode::PageDown));
    assert_eq!(a.scroll, Scroll::Follow);
    assert!(!a.new_below);
}

#[test]
fn copy_regenerate_and_recall() {
    let mut a = with_sessions();
    a.current = Some(1);
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(10, 1, Role::User, "question", MessageStatus::Complete),
                message(11, 1, Role::Assistant, "answer", MessageStatus::Truncated),
            ],
            draft: None,
        },
    );
    assert_eq!(
        update(&mut a, ctrl('y')),
        vec![Effect::Copy("answer".into())]
    );
    let fx = update(&mut a, ctrl('r'));
    assert_eq!(
        fx,
        vec![Effect::Regenerate {
            session_id: 1,
            replace: Some(11),
            model: "gpt-4o-mini".into(),
            ground: None,
        }]
    );
    assert_eq!(a.transcript.len(), 2);
    assert_eq!(a.transcript[1].status, MessageStatus::Streaming);
    update(
        &mut a,
        Msg::Stream {
            session_id: 1,
            event: StreamEvent::Done(answer("new", AnswerStatus::Complete), None, None),
        },
    );
    update(&mut a, key(KeyCode::Up));
    assert_eq!(
        a.input_text(),
        "question",
        "Up in an empty box recalls the last message"
    );
}

#[test]
fn retry_waits_and_failures_become_notices() {
    let mut a = app();
    type_text(&mut a, "q");
    update(&mut a, key(KeyCode::Enter));
    update(
        &mut a,
        Msg::SendAccepted {
            session_id: 5,
            created: true,
            user_id: 1,
            answer_id: 2,
        },
    );
    let n = RetryNotice {
        retry: 1,
        of: 2,
        wait: Duration::from_secs(3),
        reason: "rate limited (HTTP 429)".into(),
    };
    update(
        &mut a,
        Msg::Stream {
            session_id: 5,
            event: StreamEvent::Retrying(n),
        },
    );
    assert_eq!(
        a.live[&5].waiting.as_deref(),
        Some("rate limited (HTTP 429), retrying in 3 s (1 of 2)")
    );
    update(
        &mut a,
        Msg::Stream {
            session_id: 5,
            event: StreamEvent::Failed("the API key was rejected … run `clerk auth login`".into()),
        },
    );
    assert_eq!(a.transcript[1].status, MessageStatus::Error);
    let text = &a.notice.as_ref().unwrap().text;
    assert!(text.contains("F3 adds a key"), "{text}");
    assert_eq!(a.notice.as_ref().unwrap().level, Level::Error);
    update(&mut a, Msg::Tick(NOW + NOTICE_MS + 1));
    assert!(a.notice.is_none(), "notices expire");
}

#[test]
fn resize_copied_info_and_failed() {
    let mut a = app();
    update(&mut a, Msg::Resize(60, 20));
    assert_eq!(a.size, (60, 20));
    update(&mut a, Msg::Copied(Ok("system clipboard")));
    assert_eq!(a.notice.as_ref().unwrap().text, "copied (system clipboard)");
    update(&mut a, Msg::Info("2 earlier message(s) left out".into()));
    assert_eq!(a.notice.as_ref().unwrap().level, Level::Info);
    update(&mut a, Msg::Failed("disk full".into()));
    assert_eq!(a.notice.as_ref().unwrap().level, Level::Error);
}

#[test]
fn every_start_note_is_shown_in_turn() {
    let mut a = app();
    update(
        &mut a,
        Msg::StartNotes(vec![
            "theme a.toml: roles.text.fg is not a colour".into(),
            "theme b.toml: roles.muted is missing".into(),
        ]),
    );
    let shown = |a: &App| a.notice.as_ref().map(|n| n.text.clone());
    assert_eq!(
        shown(&a).as_deref(),
        Some("(1/2) theme a.toml: roles.text.fg is not a colour")
    );
    update(&mut a, Msg::Tick(NOW + NOTICE_MS - 1));
    assert!(shown(&a).unwrap().starts_with("(1/2)"), "not yet");
    update(&mut a, Msg::Tick(NOW + NOTICE_MS));
    assert_eq!(
        shown(&a).as_deref(),
        Some("(2/2) theme b.toml: roles.muted is missing")
    );
    assert_eq!(a.notice.as_ref().unwrap().level, Level::Error);
    update(&mut a, Msg::Tick(NOW + 2 * NOTICE_MS));
    assert_eq!(shown(&a), None, "then nothing is left");
    // A single note is not numbered.
    update(&mut a, Msg::StartNotes(vec!["only one".into()]));
    assert_eq!(shown(&a).as_deref(), Some("only one"));
}

#[test]
fn sidebar_toggles_and_focus_cycles() {
    let mut a = app();
    update(&mut a, ctrl('b'));
    assert!(!a.sidebar);
    update(&mut a, key(KeyCode::Tab));
    assert_eq!(a.focus, Focus::Transcript);
    update(&mut a, key(KeyCode::Tab));
    assert_eq!(a.focus, Focus::Input, "the hidden list is skipped");
}

#[test]
fn copy_code_block_n_and_delete_a_message() {
    let mut a = with_sessions();
    a.current = Some(1);
    let answer_text = "Run this:\n\n```sh\necho one\n```\n\nthen\n\n```rust\nfn two() {}\n```\n";
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(10, 1, Role::User, "q", MessageStatus::Complete),
                message(11, 1, Role::Assistant, answer_text, MessageStatus::Complete),
            ],
            draft: None,
        },
    );
    a.focus = Focus::Transcript;
    assert_eq!(
        update(&mut a, alt('2')),
        vec![Effect::Copy("fn two() {}".into())]
    );
    assert_eq!(
        update(&mut a, alt('1')),
        vec![Effect::Copy("echo one".into())]
    );
    assert!(update(&mut a, alt('3')).is_empty());
    assert!(a.notice.as_ref().unwrap().text.contains("no code block 3"));
    update(&mut a, key(KeyCode::Up));
    update(&mut a, key(KeyCode::Up));
    assert_eq!(a.selected_turn, Some(0));
    // Deleting takes the message out at once and deletes it when the undo time is over.
    assert!(update(&mut a, key(KeyCode::Delete)).is_empty());
    assert_eq!(a.transcript.len(), 1);
    assert!(
        a.notice.as_ref().unwrap().text.contains("Ctrl+Z to undo"),
        "{:?}",
        a.notice
    );
    update(&mut a, ctrl('z'));
    assert_eq!(a.transcript.len(), 2, "undo puts it back");
    assert_eq!(a.transcript[0].id, Some(10));
    assert!(update(&mut a, key(KeyCode::Delete)).is_empty());
    // A reload of the transcript in the meantime does not bring it back.
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(10, 1, Role::User, "q", MessageStatus::Complete),
                message(11, 1, Role::Assistant, "a", MessageStatus::Complete),
            ],
            draft: None,
        },
    );
    assert_eq!(a.transcript.len(), 1);
    assert!(update(&mut a, Msg::Tick(NOW + 1_000)).is_empty());
    assert_eq!(
        update(&mut a, Msg::Tick(NOW + crate::app::UNDO_MS + 1)),
        vec![Effect::DeleteMessage(10)]
    );
}

/// Tab to the transcript and type: the letters go to the message box, none is an action.
#[test]
fn typing_in_the_transcript_types_into_the_message_box() {
    let mut a = with_sessions();
    a.current = Some(1);
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(10, 1, Role::User, "q", MessageStatus::Complete),
                message(11, 1, Role::Assistant, "a", MessageStatus::Complete),
            ],
            draft: None,
        },
    );
    update(&mut a, key(KeyCode::Tab));
    assert_eq!(a.focus, Focus::Transcript);
    a.selected_turn = Some(1);
    let mut fx = Vec::new();
    for c in "ok dear? yes 1 e".chars() {
        fx.extend(update(&mut a, key(KeyCode::Char(c))));
    }
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(a.transcript.len(), 2, "nothing deleted");
    assert_eq!(a.editing, None, "nothing edited");
    assert_eq!(a.focus, Focus::Input);
    assert_eq!(a.input_text(), "ok dear? yes 1 e");
}

#[test]
fn the_new_sessions_draft_is_restored_at_start() {
    let mut a = app();
    a.restore_draft("line one\nline two");
    assert_eq!(a.input_text(), "line one\nline two");
    let fx = update(&mut a, ctrl('q'));
    assert_eq!(
        fx,
        vec![Effect::Quit],
        "an unchanged draft is not written again"
    );
}

#[test]
fn model_picker_and_system_prompt() {
    let mut a = with_sessions();
    let fx = update(&mut a, ctrl('l'));
    // The endpoint is asked for its models once; the cursor starts on the model in use.
    assert_eq!(fx, vec![Effect::LoadModels { refresh: false }]);
    let Some(Dialog::Models { selected, .. }) = &a.dialog else {
        panic!("{:?}", a.dialog)
    };
    assert_eq!(a.model_choices("")[*selected].name, "gpt-4o-mini");
    // Typing filters; the first match is chosen.
    type_text(&mut a, "4.1");
    assert!(
        update(&mut a, key(KeyCode::Enter)).is_empty(),
        "no session open: nothing to save"
    );
    assert_eq!(a.setup.model, "gpt-4.1");
    assert_eq!(a.setup.context_window, Some(1_047_576));
    // A system prompt for the new session goes with its first message.
    update(&mut a, key(KeyCode::F(2)));
    type_text(&mut a, "Answer in French");
    update(&mut a, key(KeyCode::Enter));
    type_text(&mut a, "hi");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Send {
            long: None,
            session_id: None,
            text: "hi".into(),
            model: "gpt-4.1".into(),
            system: Some("Answer in French".into()),
            replace_from: None,
            ground: None,
            session_kb: None,
            title: None,
        }]
    );
    // For a saved session it is stored at once; opening a session brings back its model.
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
    );
    assert_eq!(a.setup.model, "gpt-4o-mini");
    update(&mut a, key(KeyCode::F(2)));
    type_text(&mut a, "Be brief");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::SetSystemPrompt(
            a.current.unwrap(),
            Some("Be brief".into())
        )]
    );
    update(&mut a, ctrl('l'));
    // Up from the model in use (the table in name order: gpt-4o before gpt-4o-mini).
    update(&mut a, key(KeyCode::Up));
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::SetModel(a.current.unwrap(), "gpt-4o".into())]
    );
    // A model the endpoint does not offer is chosen with a warning, never silently.
    update(
        &mut a,
        Msg::ModelsLoaded(Ok((vec!["gpt-4o-mini".into(), "llama3.2".into()], 5))),
    );
    update(&mut a, ctrl('l'));
    type_text(&mut a, "nano");
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(a.setup.model, "gpt-4.1-nano");
    let notice = &a.notice.as_ref().unwrap().text;
    assert!(notice.contains("does not list it"), "{notice}");
    // Ctrl+R asks the endpoint again; a failure is shown in the picker, the list kept.
    update(&mut a, ctrl('l'));
    assert_eq!(
        update(&mut a, ctrl('r')),
        vec![Effect::LoadModels { refresh: true }]
    );
    update(&mut a, Msg::ModelsLoaded(Err("the server said 500".into())));
    assert_eq!(a.offered.error.as_deref(), Some("the server said 500"));
    assert!(
        a.model_choices("llama")
            .iter()
            .any(|e| e.offered == Some(true))
    );
}

#[test]
fn mouse_clicks_open_sessions_and_focus_panes_and_the_wheel_follows_the_pointer() {
    use ratatui::crossterm::event::MouseButton;
    let mut a = with_sessions();
    let click = |col, row| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: col,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // The layout as the renderer reports it at 120x40 (ui::tests checks the real one).
    update(&mut a, Msg::Layout(drawn_at_120x40()));
    // Rows inside the list: 1 = "Today", 2 = Newer, 3 = "Previous 7 days", 4 = Older.
    let fx = update(&mut a, click(5, 4));
    assert_eq!(fx, vec![Effect::LoadTranscript(1)]);
    assert_eq!(a.current, Some(1));
    assert_eq!(a.focus, Focus::Sessions);
    let fx = update(&mut a, click(5, 2));
    assert!(fx.contains(&Effect::LoadTranscript(2)), "{fx:?}");
    assert!(
        update(&mut a, click(5, 1)).is_empty(),
        "a heading opens nothing"
    );
    update(&mut a, click(60, 10));
    assert_eq!(a.focus, Focus::Transcript);
    update(&mut a, click(60, 38));
    assert_eq!(a.focus, Focus::Input);
    // The wheel over the list moves the selection, not the transcript.
    a.selected = 0;
    update(
        &mut a,
        Msg::Layout(View {
            lines: 100,
            height: 20,
            ..drawn_at_120x40()
        }),
    );
    update(
        &mut a,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 5,
            row: 5,
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(a.selected, 1);
    assert_eq!(a.scroll, Scroll::Follow);
}

#[test]
fn a_click_in_the_transcript_selects_the_message_under_it() {
    use ratatui::crossterm::event::MouseButton;
    let mut a = with_sessions();
    a.current = Some(1);
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(10, 1, Role::User, "q", MessageStatus::Complete),
                message(11, 1, Role::Assistant, "a", MessageStatus::Complete),
                message(12, 1, Role::User, "q2", MessageStatus::Complete),
            ],
            draft: None,
        },
    );
    // As drawn: message 0 on lines 0-2, message 1 on lines 3-9, message 2 from line 10;
    // the view shows lines 2..22 (it was scrolled while following the end).
    update(
        &mut a,
        Msg::Layout(View {
            lines: 14,
            height: 20,
            top: 2,
            starts: vec![0, 3, 10],
            ..drawn_at_120x40()
        }),
    );
    let click = |row| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 60,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Row 0 is the pane's border; row 1 shows line 2 (message 0), row 2 line 3 (message 1).
    update(&mut a, click(1));
    assert_eq!(a.selected_turn, Some(0));
    assert_eq!(a.focus, Focus::Transcript);
    assert_eq!(a.scroll, Scroll::Top(2), "the view stays where it was");
    update(&mut a, click(2));
    assert_eq!(a.selected_turn, Some(1));
    update(&mut a, click(9));
    assert_eq!(a.selected_turn, Some(2));
    // Below the last line: nothing changes.
    update(&mut a, click(15));
    assert_eq!(a.selected_turn, Some(2));
    // What a click selected is what y copies.
    update(&mut a, click(2));
    assert_eq!(update(&mut a, ctrl('y')), vec![Effect::Copy("a".into())]);
}

#[test]
fn edit_and_resend_replaces_the_question_and_what_followed() {
    let mut a = with_sessions();
    a.current = Some(1);
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(10, 1, Role::User, "first", MessageStatus::Complete),
                message(11, 1, Role::Assistant, "a1", MessageStatus::Complete),
                message(12, 1, Role::User, "second", MessageStatus::Complete),
                message(13, 1, Role::Assistant, "a2", MessageStatus::Complete),
            ],
            draft: None,
        },
    );
    type_text(&mut a, "half-typed draft");
    // Select the first answer: `e` edits its question.
    a.focus = Focus::Transcript;
    a.selected_turn = Some(1);
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(a.focus, Focus::Input);
    assert_eq!(a.input_text(), "first");
    assert_eq!(a.editing_replaces(), Some(3));
    // Esc cancels and gives the draft back.
    update(&mut a, key(KeyCode::Esc));
    assert_eq!(a.editing, None);
    assert_eq!(a.input_text(), "half-typed draft");
    // Edit again, change the text, send.
    a.focus = Focus::Transcript;
    a.selected_turn = Some(0);
    update(&mut a, key(KeyCode::Enter));
    type_text(&mut a, " (edited)");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Send {
            long: None,
            session_id: Some(1),
            text: "first (edited)".into(),
            model: "gpt-4o-mini".into(),
            system: None,
            replace_from: Some(10),
            ground: None,
            session_kb: None,
            title: None,
        }]
    );
    let shown: Vec<&str> = a.transcript.iter().map(|t| t.content.as_str()).collect();
    assert_eq!(shown, vec!["first (edited)", ""]);
    assert!(a.notice.as_ref().unwrap().text.contains("3 message(s)"));
    assert_eq!(a.input_text(), "half-typed draft", "the draft comes back");
    assert_eq!(a.editing, None);
}

#[test]
fn an_edit_is_refused_while_answering_and_kept_when_switching_sessions() {
    let mut a = with_sessions();
    a.current = Some(1);
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(10, 1, Role::User, "q", MessageStatus::Complete),
                message(11, 1, Role::Assistant, "a", MessageStatus::Complete),
            ],
            draft: None,
        },
    );
    a.focus = Focus::Transcript;
    update(&mut a, key(KeyCode::Enter));
    assert!(
        a.notice
            .as_ref()
            .unwrap()
            .text
            .contains("select a question")
    );
    a.selected_turn = Some(0);
    a.live.insert(1, Live::default());
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(a.editing, None);
    assert!(a.notice.as_ref().unwrap().text.contains("stop the answer"));
    a.live.clear();
    type_text(&mut a, "");
    a.input.insert_str("my draft");
    a.focus = Focus::Transcript;
    update(&mut a, key(KeyCode::Enter));
    a.input.insert_str(" changed");
    // Deleting while editing would move the message being edited: refused.
    a.focus = Focus::Transcript;
    update(&mut a, key(KeyCode::Delete));
    assert_eq!(a.transcript.len(), 2);
    // Switching away keeps both texts as the session's draft.
    let fx = update(&mut a, ctrl('n'));
    assert!(
        fx.contains(&Effect::SaveDraft(1, "my draft\n\nq changed".into())),
        "{fx:?}"
    );
    assert_eq!(a.editing, None);
}

fn lines(n: usize, word: &str) -> String {
    (1..=n)
        .map(|i| format!("{word} {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_long_paste_becomes_a_chip_that_is_sent_whole() {
    let mut a = app();
    let doc = lines(312, "row");
    // Pasted into an empty box: it goes before what is typed next.
    let fx = update(&mut a, Msg::Paste(doc.replace('\n', "\r\n")));
    assert_eq!(a.input_text(), "", "the box stays free for the question");
    assert_eq!(a.pastes.len(), 1);
    assert_eq!(a.pastes[0].lines, 312);
    assert_eq!(a.pastes[0].tokens, None);
    assert_eq!(
        fx,
        vec![Effect::CountTokens {
            paste: a.pastes[0].id,
            text: doc.clone().into()
        }],
        "tokens are counted once, off the UI's path"
    );
    assert!(update(&mut a, key(KeyCode::Char('S'))).is_empty());
    let id = a.pastes[0].id;
    update(
        &mut a,
        Msg::Counted {
            paste: id,
            tokens: 4120,
        },
    );
    assert_eq!(a.pastes[0].tokens, Some(4120));
    type_text(&mut a, "ummarise this");
    // A second long paste, with text in the box, goes after it.
    update(&mut a, Msg::Paste(lines(9, "tail")));
    assert_eq!(a.pastes.len(), 2);
    // A short paste goes into the box as before.
    update(&mut a, Msg::Paste("!".into()));
    assert_eq!(a.input_text(), "Summarise this!");
    let fx = update(&mut a, key(KeyCode::Enter));
    let Some(Effect::Send { text, title, .. }) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(
        *text,
        format!("{doc}\n\nSummarise this!\n\n{}", lines(9, "tail"))
    );
    // The new session is named by the words typed, not by the pasted rows.
    assert_eq!(title.as_deref(), Some("Summarise this!"));
    assert!(a.pastes.is_empty() && a.input_text().is_empty());
    assert_eq!(a.transcript[0].content, *text);
}

#[test]
fn a_paste_sent_alone_or_into_an_open_session_leaves_the_title_to_the_history() {
    for open in [false, true] {
        let mut a = app();
        if open {
            a.current = Some(1);
        }
        update(&mut a, Msg::Paste(lines(40, "row")));
        if open {
            type_text(&mut a, "and this?");
        }
        let fx = update(&mut a, key(KeyCode::Enter));
        let Some(Effect::Send { title, .. }) = fx.first() else {
            panic!("{fx:?}")
        };
        assert_eq!(*title, None, "open: {open}");
    }
}

#[test]
fn chips_can_be_removed_undone_and_expanded() {
    let mut a = app();
    update(&mut a, Msg::Paste(lines(10, "x")));
    // Backspace with the cursor at the start removes the chip; Ctrl+Z brings it back.
    update(&mut a, key(KeyCode::Backspace));
    assert!(a.pastes.is_empty());
    assert!(
        a.notice
            .as_ref()
            .unwrap()
            .text
            .contains("removed the pasted text (10 lines)")
    );
    update(&mut a, ctrl('z'));
    assert_eq!(a.pastes.len(), 1);
    // Backspace after typed text edits the text, not the chip.
    type_text(&mut a, "ab");
    update(&mut a, key(KeyCode::Backspace));
    assert_eq!((a.input_text().as_str(), a.pastes.len()), ("a", 1));
    // The undo window closes.
    update(&mut a, key(KeyCode::Home));
    update(&mut a, key(KeyCode::Backspace));
    assert!(a.pastes.is_empty());
    update(&mut a, Msg::Tick(NOW + UNDO_MS + 1));
    assert_eq!(a.removed_paste, None);
    update(&mut a, ctrl('z'));
    assert!(a.pastes.is_empty());
    // Ctrl+P puts the text into the box, in order.
    update(&mut a, Msg::Paste(lines(8, "y")));
    update(&mut a, ctrl('x'));
    assert!(a.pastes.is_empty());
    assert_eq!(a.input_text(), format!("a\n\n{}", lines(8, "y")));
    // Too long to expand: kept as a chip, and the editor is suggested.
    update(&mut a, Msg::Paste(lines(EXPAND_MAX_LINES + 1, "z")));
    update(&mut a, ctrl('x'));
    assert_eq!(a.pastes.len(), 1);
    assert!(
        a.notice.as_ref().unwrap().text.contains("Ctrl+E"),
        "{:?}",
        a.notice
    );
}

#[test]
fn chips_are_kept_with_the_draft_when_switching_sessions() {
    let mut a = with_sessions();
    update(&mut a, Msg::Paste(lines(20, "doc")));
    type_text(&mut a, "question");
    let fx = update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
    );
    let saved = format!("{}\n\nquestion", lines(20, "doc"));
    assert!(
        fx.contains(&Effect::SaveDraft(NEW_SESSION, saved)),
        "{fx:?}"
    );
    assert!(a.pastes.is_empty());
    update(&mut a, ctrl('n'));
    assert_eq!(a.pastes.len(), 1, "the chip comes back as a chip");
    assert_eq!(a.input_text(), "question");
    // A very long draft from the last run comes back as a chip too.
    let mut b = app();
    b.restore_draft(&lines(DRAFT_CHIP_LINES, "old"));
    assert_eq!((b.input_text().as_str(), b.pastes.len()), ("", 1));
    let mut c = app();
    c.restore_draft("short\ndraft");
    assert_eq!(
        (c.input_text().as_str(), c.pastes.len()),
        ("short\ndraft", 0)
    );
}

#[test]
fn ctrl_e_hands_the_whole_message_to_the_editor_and_takes_back_what_it_saved() {
    let mut a = app();
    update(&mut a, Msg::Paste(lines(8, "p")));
    type_text(&mut a, "q");
    let fx = update(&mut a, ctrl('e'));
    assert_eq!(fx, vec![Effect::Compose(format!("{}\n\nq", lines(8, "p")))]);
    update(&mut a, Msg::Composed(Ok("written in vim\nline two".into())));
    assert_eq!(a.input_text(), "written in vim\nline two");
    assert!(a.pastes.is_empty());
    update(
        &mut a,
        Msg::Composed(Err("the editor “nope” exited with 127".into())),
    );
    assert_eq!(
        a.input_text(),
        "written in vim\nline two",
        "unchanged on failure"
    );
    assert_eq!(a.notice.as_ref().unwrap().level, Level::Error);
}

fn item(id: &str, title: &str, category: &str, fields: Vec<FieldSpec>) -> TemplateItem {
    TemplateItem {
        id: id.into(),
        title: title.into(),
        description: format!("about {title}"),
        category: category.into(),
        tags: vec!["tag".into()],
        origin: "built-in".into(),
        problem: None,
        steps: vec!["answer".into()],
        workflow: false,
        preview: "Do it: {{text}}".into(),
        fields,
    }
}

fn spec(name: &str, kind: crate::templates::VarKind, required: bool) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        label: name.to_uppercase(),
        kind,
        required,
        default: None,
        help: None,
        options: if kind == crate::templates::VarKind::Choice {
            vec!["short".into(), "medium".into(), "long".into()]
        } else {
            Vec::new()
        },
    }
}

fn library() -> Vec<TemplateItem> {
    use crate::templates::VarKind;
    let mut broken = item("broken", "broken", "Broken", vec![]);
    broken.problem = Some("broken.toml:3:1: error: unknown field `titel`".into());
    vec![
        item(
            "summarize",
            "Summarise a document",
            "Documents",
            vec![
                spec("document", VarKind::Document, true),
                spec("length", VarKind::Choice, true),
                spec("words", VarKind::Number, false),
            ],
        ),
        item(
            "email-reply",
            "Draft an email reply",
            "Writing",
            vec![spec("email", VarKind::Text, true)],
        ),
        item("weekly-report", "Weekly report", "Reports", vec![]),
        broken,
    ]
}

#[test]
fn the_picker_filters_fuzzily_and_groups_by_category() {
    let items = library();
    let all = forms::matches(&items, "");
    let cats: Vec<&str> = all.iter().map(|&i| items[i].category.as_str()).collect();
    assert_eq!(cats, vec!["Documents", "Reports", "Writing", "Broken"]);
    let hits = forms::matches(&items, "smrs");
    assert_eq!(hits.len(), 1);
    assert_eq!(items[hits[0]].id, "summarize");
    // Tags and descriptions count too.
    assert_eq!(forms::matches(&items, "about weekly").len(), 1);
    assert!(forms::matches(&items, "zzzz").is_empty());
}

#[test]
fn picking_a_template_opens_its_form_and_running_starts_a_new_session() {
    let mut a = app();
    let fx = update(&mut a, ctrl('p'));
    assert_eq!(fx, vec![Effect::LoadTemplates]);
    update(&mut a, Msg::TemplatesLoaded(library()));
    type_text(&mut a, "summ");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::LoadTemplateValues("summarize".into())]);
    let Some(Dialog::Form(form)) = &a.dialog else {
        panic!("{:?}", a.dialog)
    };
    assert_eq!(form.fields.len(), 3);
    assert_eq!(
        form.fields[1].value, "short",
        "a choice starts at its first option"
    );
    // Remembered values fill the form.
    update(
        &mut a,
        Msg::TemplateValues {
            id: "summarize".into(),
            values: [("length".to_string(), "long".to_string())].into(),
        },
    );
    // Enter on an empty required document: moves on; running says what is missing.
    update(&mut a, key(KeyCode::Enter));
    update(&mut a, key(KeyCode::Left));
    update(&mut a, key(KeyCode::Enter));
    type_text(&mut a, "12x");
    let Some(Dialog::Form(form)) = &a.dialog else {
        panic!()
    };
    assert_eq!(form.fields[1].value, "medium", "← went back from long");
    assert_eq!(form.fields[2].problem.as_deref(), Some("not a number"));
    update(&mut a, key(KeyCode::Backspace));
    let fx = update(&mut a, key(KeyCode::F(5)));
    assert!(fx.is_empty());
    let Some(Dialog::Form(form)) = &a.dialog else {
        panic!()
    };
    assert_eq!(form.focus, 0, "the first problem gets the focus");
    assert_eq!(form.fields[0].problem.as_deref(), Some("required"));
    // A paste fills the document; F5 runs it.
    update(&mut a, Msg::Paste("line one\r\nline two".into()));
    let fx = update(&mut a, key(KeyCode::F(5)));
    assert_eq!(a.dialog, None);
    let expected: std::collections::BTreeMap<String, String> = [
        ("document".to_string(), "line one\nline two".to_string()),
        ("length".to_string(), "medium".to_string()),
        ("words".to_string(), "12".to_string()),
    ]
    .into();
    assert!(
        fx.contains(&Effect::RunTemplate {
            id: "summarize".into(),
            values: expected,
            model: "gpt-4o-mini".into()
        }),
        "{fx:?}"
    );
    // The document is not remembered; the rest is.
    assert!(fx.contains(&Effect::SaveSetting(
        "template_values.summarize".into(),
        r#"{"length":"medium","words":"12"}"#.into()
    )));
    assert!(a.pending_new.is_some());
    assert_eq!(a.current, None);

    // The steps arrive: the session is adopted and each step shows as a turn.
    update(
        &mut a,
        Msg::StepStarted {
            session_id: 7,
            created: true,
            label: Some("step 1/2 · minutes".into()),
            prompt: "Minutes of: …".into(),
            user_id: 70,
            answer_id: 71,
        },
    );
    assert_eq!(a.current, Some(7));
    assert_eq!(a.transcript.len(), 2);
    assert_eq!(a.live[&7].step.as_deref(), Some("step 1/2 · minutes"));
    Driver::new(7).delta(&mut a, "Minutes.");
    assert_eq!(shown(&a, 1), "Minutes.");
    // Esc stops the running step.
    assert_eq!(update(&mut a, key(KeyCode::Esc)), vec![Effect::Stop(7)]);
}

#[test]
fn a_broken_template_cannot_run_and_a_failed_start_is_reported() {
    let mut a = app();
    update(&mut a, ctrl('p'));
    update(&mut a, Msg::TemplatesLoaded(library()));
    type_text(&mut a, "broken");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(fx.is_empty());
    assert!(matches!(a.dialog, Some(Dialog::Templates { .. })));
    assert!(
        a.notice
            .as_ref()
            .unwrap()
            .text
            .contains("unknown field `titel`")
    );
    // A template without variables runs at once; a failure to start is a notice.
    update(&mut a, key(KeyCode::Esc));
    update(&mut a, ctrl('p'));
    type_text(&mut a, "weekly");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::RunTemplate { id, .. } if id == "weekly-report")),
        "{fx:?}"
    );
    update(
        &mut a,
        Msg::RunFailed("cannot read /nope for “Notes”".into()),
    );
    assert_eq!(a.pending_new, None);
    assert_eq!(a.notice.as_ref().unwrap().level, Level::Error);
}

#[test]
fn save_as_template_takes_the_message_or_the_selected_question() {
    let mut a = app();
    assert!(update(&mut a, ctrl('s')).is_empty());
    assert!(
        a.notice
            .as_ref()
            .unwrap()
            .text
            .contains("to save as a template")
    );
    type_text(&mut a, "Translate {{this}}");
    assert_eq!(
        update(&mut a, ctrl('s')),
        vec![Effect::SaveAsTemplate("Translate {{this}}".into())]
    );
}

#[test]
fn with_a_query_the_best_match_comes_first() {
    let mut items = library();
    items.push(item("policy-bot", "Ask the policy bot", "Mine", vec![]));
    let hits = forms::matches(&items, "policy bot");
    assert_eq!(items[hits[0]].id, "policy-bot", "{hits:?}");
}

// ---- attachments and the check before sending -------------------------------------

fn attached(name: &str, text: &str, tokens: u64) -> attach::Attached {
    attach::Attached {
        meta: attach::FileMeta {
            name: name.into(),
            bytes: 1_258_291,
            pages: Some(312),
            rows: None,
            sheets: None,
            slides: None,
            cost: Some(0.0225),
        },
        text: std::sync::Arc::from(text),
        tokens,
    }
}

#[test]
fn at_path_words_attach_their_files_then_enter_checks_and_sends() {
    let mut a = app();
    type_text(&mut a, "summarise @~/docs/report.pdf for me");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Attach {
            paths: vec!["~/docs/report.pdf".into()],
            from_text: true,
            fallback: None,
            model: "gpt-4o-mini".into(),
        }]
    );
    assert!(a.transcript.is_empty(), "nothing sent yet");
    update(
        &mut a,
        Msg::Attached {
            results: vec![Ok(attached("report.pdf", "--- page 1 ---\nBody", 150_000))],
            from_text: vec!["~/docs/report.pdf".into()],
            fallback: None,
        },
    );
    assert_eq!(a.input_text(), "summarise for me");
    assert_eq!(a.pastes.len(), 1);
    assert_eq!(a.pastes[0].file.as_ref().unwrap().name, "report.pdf");
    assert_eq!(a.pastes[0].tokens, Some(150_000));
    assert!(
        a.notice
            .as_ref()
            .unwrap()
            .text
            .contains("attached report.pdf")
    );
    // The file is sent in a named block before the question, after a check off the UI path.
    let fx = update(&mut a, key(KeyCode::Enter));
    let [Effect::Check(out)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(
        &*out.text,
        "<document name=\"report.pdf\">\n--- page 1 ---\nBody\n</document>\n\nsummarise for me"
    );
    assert_eq!(
        out.docs,
        vec![(
            "report.pdf".to_string(),
            std::sync::Arc::from("--- page 1 ---\nBody")
        )]
    );
    // A clear check sends it as it is.
    let check = attach::Check {
        seq: out.seq,
        outgoing: out.clone(),
        found: vec![],
        redacted: None,
        tokens: 20,
        room: Some(100_000),
        parts: None,
        cost: Some(0.000_01),
        over_limit: false,
        limit: 0.05,
        redact: None,
    };
    let fx = update(&mut a, Msg::Checked(Box::new(check.clone())));
    let [
        Effect::Send {
            text, long: None, ..
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(text, &*out.text);
    assert!(a.pastes.is_empty() && a.input_text().is_empty());
    // A stale check (an older send) does nothing.
    assert!(update(&mut a, Msg::Checked(Box::new(check))).is_empty());
}

#[test]
fn a_file_that_cannot_be_read_keeps_the_words_and_says_why() {
    let mut a = app();
    type_text(&mut a, "read @missing.txt");
    update(&mut a, key(KeyCode::Enter));
    update(
        &mut a,
        Msg::Attached {
            results: vec![Err("cannot read missing.txt: No such file".into())],
            from_text: vec!["missing.txt".into()],
            fallback: None,
        },
    );
    assert_eq!(a.input_text(), "read @missing.txt");
    assert!(a.pastes.is_empty());
    let n = a.notice.as_ref().unwrap();
    assert_eq!(n.level, Level::Error);
    assert!(n.text.contains("No such file"));
}

#[test]
fn a_pasted_path_attaches_and_falls_back_to_text() {
    let mut a = app();
    let fx = update(&mut a, Msg::Paste("'/tmp/q3 report.docx'".into()));
    assert_eq!(
        fx,
        vec![Effect::Attach {
            paths: vec!["/tmp/q3 report.docx".into()],
            from_text: false,
            fallback: Some("'/tmp/q3 report.docx'".into()),
            model: "gpt-4o-mini".into(),
        }]
    );
    update(
        &mut a,
        Msg::Attached {
            results: vec![Err("cannot read q3 report.docx".into())],
            from_text: vec![],
            fallback: Some("'/tmp/q3 report.docx'".into()),
        },
    );
    assert_eq!(
        a.input_text(),
        "'/tmp/q3 report.docx'",
        "not a file: pasted as text"
    );
    assert!(a.notice.is_none());
    // Ordinary text is pasted as before.
    assert!(update(&mut a, Msg::Paste(" and more".into())).is_empty());
}

#[test]
fn ctrl_o_opens_a_file_picker_with_completion() {
    let mut a = app();
    let fx = update(&mut a, ctrl('o'));
    assert_eq!(
        fx,
        vec![Effect::CompletePath(String::new())],
        "lists the folder"
    );
    let picker = |a: &App| match &a.dialog {
        Some(Dialog::Attach(p)) => p.clone(),
        other => panic!("{other:?}"),
    };
    // Typing filters the list; Tab completes the common part.
    type_text(&mut a, "~/Doc");
    let fx = update(&mut a, key(KeyCode::Tab));
    assert_eq!(fx, vec![Effect::CompletePath("~/Doc".into())]);
    update(
        &mut a,
        Msg::PathCompleted {
            typed: "~/Doc".into(),
            common: "~/Documents/".into(),
            candidates: vec!["Documents/".into()],
        },
    );
    assert_eq!(picker(&a).path, "~/Documents/");
    // A stale answer (for what was typed before) changes nothing.
    update(
        &mut a,
        Msg::PathCompleted {
            typed: "~/Do".into(),
            common: "~/Do".into(),
            candidates: vec!["Downloads/".into()],
        },
    );
    assert_eq!(picker(&a).candidates, vec!["Documents/".to_string()]);
    update(
        &mut a,
        Msg::PathCompleted {
            typed: "~/Documents/".into(),
            common: "~/Documents/".into(),
            candidates: vec!["old/".into(), "plan.pdf".into()],
        },
    );
    assert_eq!(
        picker(&a).path,
        "~/Documents/",
        "listing without Tab keeps the path"
    );
    // The first entry is highlighted; ↑↓ pick; Enter on a folder opens it, on a file
    // attaches it.
    assert_eq!(picker(&a).selected, Some(0));
    update(&mut a, key(KeyCode::Down));
    update(&mut a, key(KeyCode::Up));
    update(&mut a, key(KeyCode::Up));
    assert_eq!(picker(&a).selected, Some(0), "stops at the first entry");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::CompletePath("~/Documents/old/".into())]);
    assert_eq!(picker(&a).path, "~/Documents/old/");
    update(
        &mut a,
        Msg::PathCompleted {
            typed: "~/Documents/old/".into(),
            common: "~/Documents/old/".into(),
            candidates: vec!["a.txt".into(), "plan.pdf".into()],
        },
    );
    update(&mut a, key(KeyCode::Down));
    update(&mut a, key(KeyCode::Down));
    update(&mut a, key(KeyCode::Down));
    assert_eq!(picker(&a).selected, Some(1), "stops at the last entry");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Attach {
            paths: vec!["~/Documents/old/plan.pdf".into()],
            from_text: false,
            fallback: None,
            model: "gpt-4o-mini".into(),
        }]
    );
    assert!(a.dialog.is_none());
    // A typed path that nothing matches attaches as it is (once the folder's entries have
    // come back, and say so); Esc closes.
    update(&mut a, ctrl('o'));
    type_text(&mut a, "/tmp/x.csv");
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    let fx = update(
        &mut a,
        Msg::PathCompleted {
            typed: "/tmp/x.csv".into(),
            common: "/tmp/x.csv".into(),
            candidates: vec![],
        },
    );
    assert!(
        matches!(&fx[..], [Effect::Attach { paths, .. }] if paths == &vec!["/tmp/x.csv".to_string()])
    );
    update(&mut a, ctrl('o'));
    update(&mut a, key(KeyCode::Esc));
    assert!(a.dialog.is_none());
}

/// Issue 13, point 16c: `trav` + Enter chooses the one entry that matches (it was taken as
/// the path `docs/trav`), also when Enter comes before the entries for `trav` do; an entry
/// named exactly as typed comes first; only when nothing matches is the text the path.
#[test]
fn enter_in_the_file_picker_chooses_the_highlighted_match() {
    let listed = |typed: &str, candidates: &[&str]| Msg::PathCompleted {
        typed: typed.into(),
        common: typed.into(),
        candidates: candidates.iter().map(|c| c.to_string()).collect(),
    };
    let attach = |path: &str| Effect::Attach {
        paths: vec![path.into()],
        from_text: false,
        fallback: None,
        model: "gpt-4o-mini".into(),
    };
    let mut a = app();
    update(&mut a, ctrl('o'));
    type_text(&mut a, "docs/");
    update(
        &mut a,
        listed("docs/", &["budget.csv", "travel.md", "zzz/"]),
    );
    type_text(&mut a, "trav");
    // Enter before the entries for `docs/trav` are back: it waits for them.
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    assert!(matches!(a.dialog, Some(Dialog::Attach(_))));
    let fx = update(&mut a, listed("docs/trav", &["travel.md"]));
    assert_eq!(fx, vec![attach("docs/travel.md")]);
    assert!(a.dialog.is_none());

    // With the entries there, Enter chooses at once; the exact name before the first.
    update(&mut a, ctrl('o'));
    type_text(&mut a, "docs/plan");
    update(&mut a, listed("docs/plan", &["plan-b.md", "plan/"]));
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::CompletePath("docs/plan/".into())]);
    update(&mut a, listed("docs/plan/", &["q3.pdf"]));
    assert_eq!(
        update(&mut a, key(KeyCode::Enter)),
        vec![attach("docs/plan/q3.pdf")]
    );

    // Nothing matches: the text is taken as the path (reading it says what is wrong).
    update(&mut a, ctrl('o'));
    type_text(&mut a, "docs/nothing");
    update(&mut a, listed("docs/nothing", &[]));
    assert_eq!(
        update(&mut a, key(KeyCode::Enter)),
        vec![attach("docs/nothing")]
    );
}

#[test]
fn secrets_in_a_short_message_ask_first_redact_send_or_cancel() {
    let key_text = concat!("AKIA", "IOSFODNN7EXAMPLE");
    let message = format!("why is {key_text} rejected?");
    for (choice, expect) in [
        (
            'r',
            Some("why is [REDACTED:aws-access-key] rejected?".to_string()),
        ),
        ('s', Some(message.clone())),
        ('c', None),
    ] {
        let mut a = app();
        type_text(&mut a, &message);
        let fx = update(&mut a, key(KeyCode::Enter));
        assert!(fx.is_empty(), "nothing is sent before the choice");
        let Some(Dialog::BeforeSend(check)) = &a.dialog else {
            panic!("{:?}", a.dialog)
        };
        assert_eq!(check.found.len(), 1);
        assert_eq!(check.found[0].label, "AWS access key ID");
        assert!(!check.found[0].preview.contains(key_text));
        let fx = update(&mut a, key(KeyCode::Char(choice)));
        match expect {
            Some(text) => {
                let [Effect::Send { text: sent, .. }] = fx.as_slice() else {
                    panic!("{fx:?}")
                };
                assert_eq!(sent, &text);
                assert_eq!(
                    a.transcript[0].content, text,
                    "the transcript shows what was sent"
                );
            }
            None => {
                assert!(fx.is_empty());
                assert_eq!(a.input_text(), message, "cancel keeps the message");
                assert!(a.dialog.is_none());
            }
        }
    }
}

fn long_check(a: &mut App) -> attach::Check {
    let body = "paragraph\n".repeat(20_000);
    update(&mut a.clone(), Msg::Paste(body.clone()));
    update(a, Msg::Paste(body));
    type_text(a, "what are the risks?");
    let fx = update(a, key(KeyCode::Enter));
    let [Effect::Check(out)] = fx.as_slice() else {
        panic!("{} effects", fx.len())
    };
    attach::Check {
        seq: out.seq,
        outgoing: out.clone(),
        found: vec![],
        redacted: None,
        tokens: 400_000,
        room: Some(123_904),
        parts: Some((50, 52)),
        cost: Some(0.07),
        over_limit: true,
        limit: 0.05,
        redact: None,
    }
}

#[test]
fn a_message_longer_than_the_window_is_read_in_parts_or_cut() {
    // In parts.
    let mut a = app();
    let check = long_check(&mut a);
    assert!(update(&mut a, Msg::Checked(Box::new(check))).is_empty());
    assert!(matches!(a.dialog, Some(Dialog::BeforeSend(_))));
    assert!(
        update(&mut a, key(KeyCode::Char('y'))).is_empty(),
        "y is not an answer here"
    );
    let fx = update(&mut a, key(KeyCode::Char('p')));
    let [
        Effect::Send {
            long: Some(long), ..
        },
    ] = fx.as_slice()
    else {
        panic!("{} effects", fx.len())
    };
    assert_eq!(long.question, "what are the risks?");
    assert_eq!(long.docs.len(), 1);
    assert_eq!(long.docs[0].0, "pasted text 1");
    assert_eq!(long.first, None);
    assert!(!long.redact);
    // Only the first tokens.
    let mut a = app();
    let check = long_check(&mut a);
    let n = check.first_tokens();
    assert!(n > 100_000 && n < 123_904, "{n}");
    update(&mut a, Msg::Checked(Box::new(check)));
    let fx = update(&mut a, key(KeyCode::Char('f')));
    let [
        Effect::Send {
            long: Some(long), ..
        },
    ] = fx.as_slice()
    else {
        panic!("{} effects", fx.len())
    };
    assert_eq!(long.first, Some(n));
}

#[test]
fn over_the_cost_limit_asks_before_sending() {
    let mut a = app();
    let mut check = long_check(&mut a);
    check.parts = None;
    update(&mut a, Msg::Checked(Box::new(check)));
    assert!(
        update(&mut a, key(KeyCode::Char('p'))).is_empty(),
        "no parts to read"
    );
    let fx = update(&mut a, key(KeyCode::Char('y')));
    assert!(
        matches!(fx.as_slice(), [Effect::Send { long: None, .. }]),
        "{} effects",
        fx.len()
    );
}

#[test]
fn progress_of_a_long_document_shows_while_it_is_read() {
    let mut a = with_sessions();
    update(&mut a, key(KeyCode::Enter));
    a.live.insert(2, Live::default());
    update(
        &mut a,
        Msg::Stream {
            session_id: 2,
            event: StreamEvent::Progress("reading part 3/12 ▰▰▱▱▱▱▱▱▱▱".into()),
        },
    );
    assert_eq!(
        a.live[&2].waiting.as_deref(),
        Some("reading part 3/12 ▰▰▱▱▱▱▱▱▱▱")
    );
    Driver::new(2).delta(&mut a, "The");
    assert_eq!(a.live[&2].waiting, None, "the answer's text replaces it");
}

#[test]
fn a_template_whose_values_hold_a_secret_asks_before_running() {
    let key_text = concat!("AKIA", "IOSFODNN7EXAMPLE");
    for (choice, redacted) in [('r', true), ('s', false), ('c', false)] {
        let mut a = app();
        update(&mut a, ctrl('p'));
        update(&mut a, Msg::TemplatesLoaded(library()));
        type_text(&mut a, "summ");
        update(&mut a, key(KeyCode::Enter));
        update(
            &mut a,
            Msg::Paste(format!("deploy notes\nkey {key_text}\n")),
        );
        let fx = update(&mut a, key(KeyCode::F(5)));
        assert!(
            !fx.iter().any(|e| matches!(e, Effect::RunTemplate { .. })),
            "nothing runs before the choice"
        );
        let Some(Dialog::TemplateSecrets(check)) = &a.dialog else {
            panic!("{:?}", a.dialog)
        };
        assert_eq!(check.found[0].0, "document");
        assert_eq!(check.found[0].1.line, 2);
        let fx = update(&mut a, key(KeyCode::Char(choice)));
        let run = fx.iter().find_map(|e| match e {
            Effect::RunTemplate { values, .. } => Some(values["document"].clone()),
            _ => None,
        });
        match choice {
            'c' => assert_eq!(run, None),
            _ if redacted => assert_eq!(
                run.as_deref(),
                Some("deploy notes\nkey [REDACTED:aws-access-key]\n")
            ),
            _ => assert!(run.unwrap().contains(key_text)),
        }
        assert!(a.dialog.is_none());
    }
}

#[test]
fn editing_a_question_with_attachments_brings_the_files_back_as_chips() {
    let mut a = app();
    type_text(&mut a, "summarise @r.pdf");
    update(&mut a, key(KeyCode::Enter));
    update(
        &mut a,
        Msg::Attached {
            results: vec![Ok(attached("r.pdf", "--- page 1 ---\nBody", 9))],
            from_text: vec!["r.pdf".into()],
            fallback: None,
        },
    );
    let sent = a.message_text();
    a.set_text(&sent);
    assert_eq!(a.input_text(), "summarise");
    assert_eq!(a.pastes.len(), 1);
    let f = a.pastes[0].file.as_ref().unwrap();
    assert_eq!((f.name.as_str(), f.pages), ("r.pdf", Some(1)));
    assert_eq!(a.message_text(), sent, "sent again exactly as before");
}

#[test]
fn tab_after_an_at_word_completes_the_path_in_the_message() {
    let mut a = app();
    type_text(&mut a, "summarise @~/Doc");
    let fx = update(&mut a, key(KeyCode::Tab));
    assert_eq!(fx, vec![Effect::CompletePath("~/Doc".into())]);
    assert_eq!(a.focus, Focus::Input, "the focus stays");
    update(
        &mut a,
        Msg::PathCompleted {
            typed: "~/Doc".into(),
            common: "~/Documents/".into(),
            candidates: vec!["Documents/".into()],
        },
    );
    assert_eq!(a.input_text(), "summarise @~/Documents/");
    type_text(&mut a, "q");
    update(&mut a, key(KeyCode::Tab));
    update(
        &mut a,
        Msg::PathCompleted {
            typed: "~/Documents/q".into(),
            common: "~/Documents/q3-".into(),
            candidates: vec!["q3-plan.pdf".into(), "q3-report.pdf".into()],
        },
    );
    assert_eq!(a.input_text(), "summarise @~/Documents/q3-");
    assert!(
        a.notice
            .as_ref()
            .unwrap()
            .text
            .contains("q3-plan.pdf · q3-report.pdf")
    );
    // Without an @ word, Tab moves the focus as before.
    let mut b = app();
    type_text(&mut b, "hello");
    assert!(update(&mut b, key(KeyCode::Tab)).is_empty());
    assert_eq!(b.focus, Focus::Transcript);
}

/// Ask something in a new session, Tab Tab: the cursor is on the new session, not on the
/// pinned row at the top, so `r` renames the session just used.
#[test]
fn the_session_cursor_follows_the_open_session() {
    let mut a = app();
    update(
        &mut a,
        Msg::SessionsLoaded(vec![
            summary(1, "Pinned notes", NOW - 10, true),
            summary(2, "Older", NOW - 20, false),
        ]),
    );
    assert_eq!(a.selected_id(), Some(1));
    type_text(&mut a, "hotel limit?");
    update(&mut a, key(KeyCode::Enter));
    update(
        &mut a,
        Msg::SendAccepted {
            session_id: 7,
            created: true,
            user_id: 70,
            answer_id: 71,
        },
    );
    update(
        &mut a,
        Msg::SessionsLoaded(vec![
            summary(1, "Pinned notes", NOW - 10, true),
            summary(7, "hotel limit?", NOW, false),
            summary(2, "Older", NOW - 20, false),
        ]),
    );
    assert_eq!(
        a.selected_id(),
        Some(7),
        "a reload puts the cursor on the open session"
    );
    // Moved off it by hand (focus elsewhere), Tab Tab brings it back.
    a.selected = 0;
    update(&mut a, key(KeyCode::Tab));
    update(&mut a, key(KeyCode::Tab));
    assert_eq!(a.focus, Focus::Sessions);
    assert_eq!(a.selected_id(), Some(7));
    update(&mut a, key(KeyCode::Char('r')));
    assert!(
        matches!(&a.dialog, Some(Dialog::Rename { id: 7, .. })),
        "{:?}",
        a.dialog
    );
    // While the person moves the cursor in the list, a reload leaves it where they put it.
    update(&mut a, key(KeyCode::Esc));
    update(&mut a, key(KeyCode::Down));
    let moved = a.selected_id();
    assert_ne!(moved, Some(7));
    update(
        &mut a,
        Msg::SessionsLoaded(vec![
            summary(1, "Pinned notes", NOW - 10, true),
            summary(7, "hotel limit?", NOW, false),
            summary(2, "Older", NOW - 20, false),
        ]),
    );
    assert_eq!(a.selected_id(), moved);
}

/// A full disk refuses the question: it comes back into the box, nothing stays "writing…",
/// and the next Enter sends again.
#[test]
fn a_question_the_history_refused_goes_back_into_the_box() {
    let mut a = app();
    type_text(&mut a, "q1");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(matches!(fx.last(), Some(Effect::Send { .. })));
    assert!(a.streaming());
    assert_eq!(a.input_text(), "");
    type_text(&mut a, "and more");
    update(
        &mut a,
        Msg::SendRefused {
            session_id: None,
            text: Some("q1".into()),
            error: "the disk is full".into(),
        },
    );
    assert!(!a.streaming(), "nothing is left writing");
    assert!(a.transcript.is_empty(), "{:?}", a.transcript);
    assert_eq!(a.input_text(), "q1\n\nand more");
    let n = a.notice.as_ref().unwrap();
    assert!(
        n.text.contains("not sent: the disk is full") && n.text.contains("back in the box"),
        "{}",
        n.text
    );
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Send { text, .. } if text == "q1\n\nand more")),
        "{fx:?}"
    );
}

/// Archiving is no trap: it can be undone, the archived view lists what was archived and
/// brings it back, and a search hit in an archived session opens it as what it is.
#[test]
fn archive_undo_view_unarchive_and_search_hits() {
    let mut a = with_sessions();
    a.focus = Focus::Sessions;
    a.select_id(Some(2));
    let fx = update(&mut a, key(KeyCode::Char('a')));
    assert!(fx.contains(&Effect::SetArchived(2, true)), "{fx:?}");
    assert_eq!(a.visible_sessions().len(), 1);
    assert!(
        a.notice.as_ref().unwrap().text.contains("Ctrl+Z to undo"),
        "{:?}",
        a.notice
    );
    let fx = update(&mut a, ctrl('z'));
    assert!(fx.contains(&Effect::SetArchived(2, false)), "{fx:?}");
    assert_eq!(a.visible_sessions().len(), 2, "undo brings it back");

    // Archive again; the archived view shows it, and `a` there unarchives it.
    a.select_id(Some(2));
    update(&mut a, key(KeyCode::Char('a')));
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT)),
    );
    assert!(a.show_archived);
    let shown: Vec<i64> = a.visible_sessions().iter().map(|s| s.id).collect();
    assert_eq!(shown, vec![2]);
    let fx = update(&mut a, key(KeyCode::Char('a')));
    assert!(fx.contains(&Effect::SetArchived(2, false)), "{fx:?}");
    assert!(a.visible_sessions().is_empty());
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT)),
    );
    assert!(!a.show_archived);
    assert_eq!(a.visible_sessions().len(), 2);

    // A search hit in an archived session: opened with its own title, in the archived view.
    let mut archived = summary(5, "Hidden plans", NOW - 5000, false);
    archived.session.archived = true;
    update(
        &mut a,
        Msg::SessionsLoaded(vec![summary(2, "Newer", NOW - 1000, false), archived]),
    );
    assert_eq!(a.visible_sessions().len(), 1);
    update(&mut a, ctrl('f'));
    type_text(&mut a, "plans");
    update(
        &mut a,
        Msg::SearchResults {
            query: "plans".into(),
            hits: vec![SearchHit {
                message_id: 51,
                session_id: 5,
                session_title: "Hidden plans".into(),
                role: Role::User,
                snippet: "plans".into(),
                created_ms: NOW,
                rank: -1.0,
            }],
        },
    );
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(a.current, Some(5));
    assert!(a.show_archived, "the list shows where the session is");
    assert_eq!(a.selected_id(), Some(5));
    let title = a
        .current
        .and_then(|id| a.sessions.iter().find(|s| s.id == id))
        .map(|s| s.title.clone());
    assert_eq!(title.as_deref(), Some("Hidden plans"));
}

/// The editing keys people know from shells work in the message box.
#[test]
fn shell_editing_keys_in_the_message_box() {
    let mut a = app();
    type_text(&mut a, "hotel limit in Berlin");
    for _ in 0.." in Berlin".len() {
        update(&mut a, key(KeyCode::Left));
    }
    update(&mut a, ctrl('k'));
    assert_eq!(a.input_text(), "hotel limit", "Ctrl+K kills to the end");
    assert!(a.dialog.is_none(), "Ctrl+K is not the key dialog");
    update(&mut a, ctrl('w'));
    assert_eq!(a.input_text(), "hotel ", "Ctrl+W kills the word before");
    update(&mut a, ctrl('u'));
    assert_eq!(a.input_text(), "", "Ctrl+U clears to the line's start");
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::F(3), KeyModifiers::NONE)),
    );
    assert!(
        matches!(a.dialog, Some(Dialog::ApiKey { .. })),
        "F3 opens the key dialog"
    );
}

/// Name and title matches rank above description matches, whole words above fuzzy ones.
#[test]
fn the_picker_ranks_titles_and_whole_words_first() {
    let mut compare = item("compare", "Compare two documents", "Documents", vec![]);
    compare.description = "Summarise the differences between two documents".into();
    let mut minutes = item("meeting-minutes", "Meeting minutes", "Writing", vec![]);
    minutes.description = "Minutes and an email to send them".into();
    let mut announce = item("announce", "Announcement", "Comms", vec![]);
    announce.description = "An email announcement to the team".into();
    let items = vec![
        compare,
        item("summarize", "Summarise a document", "Documents", vec![]),
        minutes,
        announce,
        item("email-reply", "Draft an email reply", "Writing", vec![]),
    ];
    let first = |q: &str| items[forms::matches(&items, q)[0]].id.clone();
    assert_eq!(first("summarise"), "summarize");
    assert_eq!(first("email"), "email-reply");
    assert_eq!(
        first("summ"),
        "summarize",
        "a word's start counts as the word"
    );
    assert_eq!(first("minutes"), "meeting-minutes");
}

/// After Ctrl+L switched the model, files are priced at the new model's rate.
#[test]
fn attachments_are_priced_at_the_model_in_use() {
    let mut a = app();
    update(&mut a, ctrl('l'));
    assert!(matches!(a.dialog, Some(Dialog::Models { .. })));
    type_text(&mut a, "gpt-4.1");
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(a.setup.model, "gpt-4.1");
    type_text(&mut a, "summarise @report.pdf");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::Attach { model, .. }] if model == "gpt-4.1"),
        "{fx:?}"
    );
}
