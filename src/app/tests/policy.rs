//! The admin's policy in the app (the models it allows, what happens to secrets) and the
//! incognito session (F6), whose store the runtime keeps in memory.

use super::*;
use crate::config::policy::{PolicyFile, Scrub};

const FILE: &str = "/etc/clerk/policy.toml";

fn with_policy(file: PolicyFile) -> App {
    let mut policy = crate::config::Policy::default();
    policy.tighten(file, std::path::Path::new(FILE));
    let mut s = setup(true);
    s.policy = policy;
    App::new(s, (120, 40), NOW)
}

fn allowing(models: &[&str]) -> App {
    with_policy(PolicyFile {
        allowed_models: Some(models.iter().map(|m| m.to_string()).collect()),
        ..PolicyFile::default()
    })
}

fn scrubbing(how: Scrub) -> App {
    with_policy(PolicyFile {
        scrub_secrets: Some(how),
        ..PolicyFile::default()
    })
}

const KEY: &str = concat!("AKIA", "IOSFODNN7EXAMPLE");

#[test]
fn the_model_picker_lists_only_the_models_the_policy_allows() {
    let mut a = allowing(&["gpt-4o-mini", "gpt-4.1-*"]);
    update(
        &mut a,
        Msg::ModelsLoaded(Ok((
            vec![
                "gpt-4o".into(),
                "gpt-4o-mini".into(),
                "gpt-4.1-mini".into(),
                "o3".into(),
            ],
            NOW,
        ))),
    );
    let names: Vec<String> = a.model_choices("").into_iter().map(|e| e.name).collect();
    assert!(names.contains(&"gpt-4o-mini".to_string()), "{names:?}");
    assert!(names.contains(&"gpt-4.1-mini".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "gpt-4o" || n == "o3"),
        "{names:?}"
    );
    // Without a policy the same list offers them all.
    let mut b = app();
    update(
        &mut b,
        Msg::ModelsLoaded(Ok((vec!["gpt-4o".into(), "o3".into()], NOW))),
    );
    let names: Vec<String> = b.model_choices("").into_iter().map(|e| e.name).collect();
    assert!(names.contains(&"o3".to_string()), "{names:?}");
}

#[test]
fn a_model_the_policy_refuses_is_said_and_the_typed_text_stays() {
    let mut a = allowing(&["gpt-4o-mini"]);
    // A session kept with a model the policy does not allow.
    a.setup.model = "gpt-4o".into();
    type_text(&mut a, "what is the travel policy?");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(fx.is_empty(), "nothing saved or sent: {fx:?}");
    assert_eq!(a.input_text(), "what is the travel policy?");
    assert!(a.transcript.is_empty());
    let n = a.notice.as_ref().unwrap();
    assert_eq!(n.level, Level::Error);
    assert!(
        n.text.starts_with(
            "not sent: gpt-4o is not allowed by /etc/clerk/policy.toml (allowed_models)"
        ) && n.text.contains("Ctrl+L chooses one"),
        "{}",
        n.text
    );
    // An allowed model: sent.
    a.setup.model = "gpt-4o-mini".into();
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(matches!(fx.as_slice(), [Effect::Send { .. }]), "{fx:?}");
}

#[test]
fn scrub_block_keeps_the_message_and_sends_nothing() {
    let mut a = scrubbing(Scrub::Block);
    a.setup.scan_secrets = true;
    let text = format!("aws_access_key_id = {KEY}");
    type_text(&mut a, &text);
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(fx.is_empty(), "{fx:?}");
    assert!(a.dialog.is_none(), "not asked: the policy decided");
    assert_eq!(a.input_text(), text);
    let n = a.notice.as_ref().unwrap();
    assert!(
        n.text
            .contains("not allowed by /etc/clerk/policy.toml (scrub_secrets = \"block\")")
            && !n.text.contains(KEY),
        "{}",
        n.text
    );
}

#[test]
fn scrub_redact_sends_the_redacted_text_without_asking() {
    let mut a = scrubbing(Scrub::Redact);
    type_text(&mut a, &format!("aws_access_key_id = {KEY}"));
    let fx = update(&mut a, key(KeyCode::Enter));
    let [Effect::Send { text, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert!(text.contains("[REDACTED:") && !text.contains(KEY), "{text}");
    assert!(a.dialog.is_none());
    // Under `ask` (and without a policy) the user decides.
    let mut b = scrubbing(Scrub::Ask);
    type_text(&mut b, &format!("aws_access_key_id = {KEY}"));
    let fx = update(&mut b, key(KeyCode::Enter));
    assert!(fx.is_empty());
    assert!(matches!(b.dialog, Some(Dialog::BeforeSend(_))));
}

/// An app with the two sessions of `with_sessions` in the list and one open with messages.
fn with_saved_sessions() -> App {
    let mut a = with_sessions();
    update(&mut a, alt_key(KeyCode::Down));
    loaded(
        &mut a,
        2,
        vec![
            message(10, 2, Role::User, "saved q", MessageStatus::Complete),
            message(11, 2, Role::Assistant, "saved a", MessageStatus::Complete),
        ],
    );
    a
}

fn f6(a: &mut App) -> Vec<Effect> {
    update(a, key(KeyCode::F(6)))
}

#[test]
fn f6_starts_an_incognito_session_in_a_store_in_memory() {
    let mut a = with_saved_sessions();
    type_text(&mut a, "half typed");
    let fx = f6(&mut a);
    // The draft of the session left is kept on disk first, then the store switches.
    assert_eq!(
        fx,
        vec![
            Effect::SaveDraft(2, "half typed".into()),
            Effect::Incognito(true)
        ]
    );
    assert!(a.incognito && a.switching_store);
    assert!(a.sessions.is_empty() && a.transcript.is_empty() && a.current.is_none());
    assert_eq!(a.input_text(), "");
    assert!(said(&a).contains("nothing is saved"));
    // The saved sessions' list, read before the switch, arrives late: not shown.
    update(
        &mut a,
        Msg::SessionsLoaded(vec![summary(2, "Newer", NOW, false)]),
    );
    assert!(a.sessions.is_empty());
    let fx = update(&mut a, Msg::StoreSwitched);
    assert_eq!(fx, vec![Effect::LoadSessions]);
    assert!(!a.switching_store);
    // Another program writing to the history does not bring saved sessions into it.
    let fx = update(
        &mut a,
        Msg::StoreChanged(vec![summary(3, "From the shell", NOW, false)]),
    );
    assert!(fx.is_empty() && a.sessions.is_empty());
    // A question in the incognito session goes out as any other (to the store in memory).
    type_text(&mut a, "a private question");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Send {
                session_id: None,
                ..
            }]
        ),
        "{fx:?}"
    );
}

#[test]
fn leaving_an_incognito_session_with_messages_asks_first_and_then_it_is_gone() {
    let mut a = with_saved_sessions();
    f6(&mut a);
    update(&mut a, Msg::StoreSwitched);
    type_text(&mut a, "a private question");
    update(&mut a, key(KeyCode::Enter));
    accepted(&mut a, 1, true, 1);
    update(
        &mut a,
        Msg::Stream {
            session_id: 1,
            event: StreamEvent::Done(answer("private answer", AnswerStatus::Complete), None, None),
        },
    );
    update(
        &mut a,
        Msg::SessionsLoaded(vec![summary(1, "a private question", NOW, false)]),
    );
    // F6 again: asked; n keeps it.
    let fx = f6(&mut a);
    assert!(fx.is_empty());
    assert_eq!(a.dialog, Some(Dialog::LeaveIncognito { quit: false }));
    update(&mut a, key(KeyCode::Char('n')));
    assert!(a.incognito && a.dialog.is_none());
    assert_eq!(a.transcript.len(), 2);
    // y leaves: the incognito session is dropped with its store, the saved ones come back.
    f6(&mut a);
    let fx = update(&mut a, key(KeyCode::Char('y')));
    assert_eq!(fx, vec![Effect::Incognito(false)]);
    assert!(!a.incognito && a.transcript.is_empty() && a.sessions.is_empty());
    assert!(said(&a).contains("its messages are gone"));
    assert_eq!(
        update(&mut a, Msg::StoreSwitched),
        vec![Effect::LoadSessions]
    );
}

#[test]
fn quitting_from_an_incognito_session_with_messages_asks_and_an_empty_one_just_leaves() {
    let mut a = app();
    f6(&mut a);
    update(&mut a, Msg::StoreSwitched);
    // Nothing in it: F6 leaves at once.
    let fx = f6(&mut a);
    assert_eq!(fx, vec![Effect::Incognito(false)]);
    assert!(!a.incognito && a.dialog.is_none());
    update(&mut a, Msg::StoreSwitched);
    f6(&mut a);
    update(&mut a, Msg::StoreSwitched);
    update(
        &mut a,
        Msg::SessionsLoaded(vec![summary(1, "private", NOW, false)]),
    );
    update(&mut a, ctrl('q'));
    assert_eq!(a.dialog, Some(Dialog::LeaveIncognito { quit: true }));
    assert!(!a.quit);
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::Quit]);
    assert!(a.quit);
}

#[test]
fn f6_waits_for_answers_and_says_when_the_history_is_off_already() {
    let mut a = app();
    type_text(&mut a, "question");
    update(&mut a, key(KeyCode::Enter));
    assert!(a.streaming());
    let fx = f6(&mut a);
    assert!(fx.is_empty() && !a.incognito);
    assert!(said(&a).contains("still being written"));

    let mut s = setup(true);
    s.history = false;
    let mut b = App::new(s, (120, 40), NOW);
    let fx = f6(&mut b);
    assert!(fx.is_empty() && !b.incognito);
    assert!(said(&b).contains("nothing is saved already"));
}
