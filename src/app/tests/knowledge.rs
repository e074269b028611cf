//! Grounded sessions through `update`: choosing a knowledge base for a session (new or
//! saved), `@kb:NAME` for one question (and what it refuses, keeping the text), completing
//! a base's name, the passages arriving with an answer, the sources dialog and a passage
//! with its file, regenerating and editing a grounded question, and the template form's
//! knowledge base field.

use super::*;
use crate::store::{Grounding, Source};

fn bases() -> Vec<KnowledgeBase> {
    ["handbook", "hr", "it"]
        .iter()
        .map(|n| KnowledgeBase {
            name: n.to_string(),
            about: format!("/srv/{n}"),
        })
        .collect()
}

fn kb_app() -> App {
    let mut a = app();
    a.setup.knowledge = bases();
    a
}

/// Passages of a grounded answer, `cited` by number.
fn grounding(cited: &[usize]) -> Grounding {
    Grounding {
        bases: vec!["handbook".into()],
        language: "en".into(),
        asked: true,
        passages: (1..=3)
            .map(|n| Source {
                base: "handbook".into(),
                path: format!("doc{n}.md"),
                file: format!("/srv/handbook/doc{n}.md").into(),
                section: format!("Part {n}"),
                page: (n == 2).then_some(7),
                text: format!("Passage {n} text."),
                cited: cited.contains(&n),
            })
            .collect(),
    }
}

/// The notice shown (empty: none).
fn said(a: &App) -> &str {
    a.notice.as_ref().map_or("", |n| n.text.as_str())
}

fn send_effect(fx: &[Effect]) -> (Option<String>, Option<String>, String) {
    match fx {
        [
            Effect::Send {
                ground,
                session_kb,
                text,
                ..
            },
        ] => (ground.clone(), session_kb.clone(), text.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_session_grounded_from_the_picker_is_made_with_its_base() {
    let mut a = kb_app();
    update(&mut a, ctrl('g'));
    assert_eq!(a.dialog, Some(Dialog::Knowledge { selected: 0 }));
    update(&mut a, key(KeyCode::Down));
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(fx.is_empty(), "nothing to store before the session exists");
    assert_eq!(a.dialog, None);
    assert_eq!(a.pending_kb.as_deref(), Some("handbook"));
    assert_eq!(a.session_kb(), Some("handbook"));
    type_text(&mut a, "What is the hotel limit?");
    let fx = update(&mut a, key(KeyCode::Enter));
    let (ground, session_kb, text) = send_effect(&fx);
    assert_eq!(ground.as_deref(), Some("handbook"));
    assert_eq!(session_kb.as_deref(), Some("handbook"));
    assert_eq!(text, "What is the hotel limit?");
    // The session exists but is not listed yet: still grounded (the next question too).
    accepted(&mut a, 7, true, 70);
    assert_eq!(
        a.pending_kb, None,
        "the next new session starts without one"
    );
    assert_eq!(a.session_kb(), Some("handbook"));
    let mut listed = summary(7, "What is the hotel limit?", NOW, false);
    listed.session.knowledge = Some("handbook".into());
    update(&mut a, Msg::SessionsLoaded(vec![listed]));
    assert_eq!(a.session_kb(), Some("handbook"));
    update(&mut a, ctrl('n'));
    assert_eq!(a.session_kb(), None);
    // The picker opens on the session's base.
    update(&mut a, alt_down());
    assert_eq!(a.current, Some(7));
    update(&mut a, ctrl('g'));
    assert_eq!(a.dialog, Some(Dialog::Knowledge { selected: 1 }));
}

fn alt_down() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT))
}

#[test]
fn a_saved_session_is_grounded_and_ungrounded_in_the_store() {
    let mut a = with_sessions();
    a.setup.knowledge = bases();
    a.current = Some(1);
    update(&mut a, ctrl('g'));
    update(&mut a, key(KeyCode::Down));
    update(&mut a, key(KeyCode::Down));
    update(&mut a, key(KeyCode::Down));
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::SetKnowledge(1, Some("it".into()))]);
    assert_eq!(a.session_kb(), Some("it"));
    assert!(said(&a).contains("knowledge base it"));
    // Back to none: said, and stored.
    update(&mut a, ctrl('g'));
    assert_eq!(a.dialog, Some(Dialog::Knowledge { selected: 3 }));
    for _ in 0..5 {
        update(&mut a, key(KeyCode::Up));
    }
    let fx = update(&mut a, key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::SetKnowledge(1, None)]);
    assert_eq!(a.session_kb(), None);
    // Esc keeps it as it is; choosing the same changes nothing.
    update(&mut a, ctrl('g'));
    assert!(update(&mut a, key(KeyCode::Esc)).is_empty());
    update(&mut a, ctrl('g'));
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    // An ungrounded session sends as before.
    a.focus = Focus::Input;
    type_text(&mut a, "hello");
    let (ground, session_kb, _) = send_effect(&update(&mut a, key(KeyCode::Enter)));
    assert_eq!((ground, session_kb), (None, None));
}

#[test]
fn at_kb_grounds_one_question_without_the_word() {
    let mut a = with_sessions();
    a.setup.knowledge = bases();
    a.current = Some(1);
    type_text(&mut a, "@kb:it how do I reset my password?");
    let fx = update(&mut a, key(KeyCode::Enter));
    let (ground, session_kb, text) = send_effect(&fx);
    assert_eq!(ground.as_deref(), Some("it"));
    assert_eq!(session_kb, None);
    assert_eq!(text, "how do I reset my password?");
    assert_eq!(a.transcript[0].content, "how do I reset my password?");
    assert_eq!(a.session_kb(), None, "the session itself stays as it was");
    // Anywhere in the message, with a comma after it; `@kb:` is never a path to attach.
    assert!(attach::at_paths("ask @kb:hr.v2 now").is_empty());
    let (names, rest) = attach::at_kb("Ask @kb:hr, please\n  keep this indent");
    assert_eq!(names, ["hr"]);
    assert_eq!(rest, "Ask please\n  keep this indent");
}

#[test]
fn a_bad_at_kb_is_said_and_the_message_stays_in_the_box() {
    let mut a = kb_app();
    for (typed, said) in [
        (
            "@kb:nope what is the rule?",
            "there is no knowledge base `nope`: the knowledge bases are handbook, hr, it",
        ),
        ("@kb: what is the rule?", "name a knowledge base after @kb:"),
        ("@kb:hr", "type the question after the @kb: name"),
        (
            "@kb:hr @kb:it both?",
            "name one knowledge base per question",
        ),
    ] {
        a.set_text(typed);
        let fx = update(&mut a, key(KeyCode::Enter));
        assert!(fx.is_empty(), "{typed}: {fx:?}");
        assert_eq!(a.input_text(), typed, "the text is kept");
        assert!(a.transcript.is_empty());
        let n = a.notice.clone().unwrap();
        assert_eq!(n.level, Level::Error);
        assert!(n.text.contains(said), "{typed}: {}", n.text);
    }
    // Without any base configured, the notice says how to add one.
    a.setup.knowledge.clear();
    a.set_text("@kb:hr what?");
    update(&mut a, key(KeyCode::Enter));
    assert!(said(&a).contains("clerk kb add NAME FOLDER"));
    assert_eq!(a.input_text(), "@kb:hr what?");
}

#[test]
fn a_grounded_question_keeps_out_attached_files_and_a_base_no_longer_configured() {
    let mut a = kb_app();
    a.pending_kb = Some("handbook".into());
    update(
        &mut a,
        Msg::Attached {
            results: vec![Ok(attached("report.pdf", "body", 10))],
            from_text: Vec::new(),
            fallback: None,
        },
    );
    type_text(&mut a, "summarise it");
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    assert!(
        said(&a).contains("remove the attached file"),
        "{:?}",
        a.notice
    );
    assert_eq!(a.pastes.len(), 1, "the file stays");
    a.pastes.clear();
    a.pending_kb = Some("gone".into());
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    let n = a.notice.clone().unwrap().text;
    assert!(n.contains("`gone`, which is not in the config"), "{n}");
    assert!(n.contains("Ctrl+G"), "{n}");
    assert_eq!(a.input_text(), "summarise it");
}

#[test]
fn tab_completes_a_base_name_after_at_kb() {
    let mut a = kb_app();
    type_text(&mut a, "@kb:ha");
    assert!(update(&mut a, key(KeyCode::Tab)).is_empty());
    assert_eq!(a.input_text(), "@kb:handbook ");
    assert_eq!(a.focus, Focus::Input);
    a.set_text("");
    type_text(&mut a, "@kb:h");
    update(&mut a, key(KeyCode::Tab));
    assert_eq!(a.input_text(), "@kb:h", "two match: listed, not chosen");
    assert!(said(&a).contains("handbook · hr"));
    a.set_text("");
    type_text(&mut a, "@kb:x");
    update(&mut a, key(KeyCode::Tab));
    assert!(said(&a).contains("no knowledge base starts with"));
    // `@path` words still complete paths.
    a.set_text("");
    type_text(&mut a, "@~/Doc");
    assert_eq!(
        update(&mut a, key(KeyCode::Tab)),
        vec![Effect::CompletePath("~/Doc".into())]
    );
}

/// Session 1 open with `typed` sent and its rows made (question 10, answer 11).
fn sent_in_session_1(typed: &str) -> App {
    let mut a = with_sessions();
    a.setup.knowledge = bases();
    a.current = Some(1);
    type_text(&mut a, typed);
    update(&mut a, key(KeyCode::Enter));
    accepted(&mut a, 1, false, 10);
    a
}

/// Session 1 open with a grounded question answered (`cited`) and saved.
fn answered(cited: &[usize]) -> App {
    let mut a = sent_in_session_1("@kb:handbook What is the limit?");
    let text = crate::chat::LiveText::new();
    text.push("CNY 900 [1].");
    for event in [
        StreamEvent::Sources(grounding(&[])),
        StreamEvent::Text(text),
        StreamEvent::Grew,
        StreamEvent::Sources(grounding(cited)),
        StreamEvent::Done(answer("CNY 900 [1].", AnswerStatus::Complete), None, None),
    ] {
        update(
            &mut a,
            Msg::Stream {
                session_id: 1,
                event,
            },
        );
    }
    a
}

#[test]
fn the_passages_arrive_with_the_answer_and_the_sources_dialog_opens_them() {
    let mut a = answered(&[1, 3]);
    let g = a.transcript[1].grounding.clone().unwrap();
    assert_eq!(g.cited().map(|(n, _)| n).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(a.transcript[1].content, "CNY 900 [1].");
    // Alt+S: the sources, the first cited selected.
    update(&mut a, alt('s'));
    assert_eq!(
        a.dialog,
        Some(Dialog::Sources {
            grounding: g.clone(),
            selected: 0
        })
    );
    update(&mut a, key(KeyCode::Down));
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(
        a.dialog,
        Some(Dialog::Passage {
            grounding: g.clone(),
            n: 2,
            scroll: 0
        })
    );
    // `o` opens the passage's file, without closing the passage.
    let fx = update(&mut a, key(KeyCode::Char('o')));
    assert_eq!(fx, vec![Effect::OpenFile("/srv/handbook/doc2.md".into())]);
    assert!(matches!(a.dialog, Some(Dialog::Passage { n: 2, .. })));
    update(&mut a, key(KeyCode::Right));
    assert!(matches!(a.dialog, Some(Dialog::Passage { n: 3, .. })));
    update(&mut a, key(KeyCode::Right));
    assert!(
        matches!(a.dialog, Some(Dialog::Passage { n: 3, .. })),
        "no 4th"
    );
    // Esc goes back to the list on that passage, then closes.
    update(&mut a, key(KeyCode::Esc));
    assert!(matches!(
        a.dialog,
        Some(Dialog::Sources { selected: 2, .. })
    ));
    // A number opens that passage; one that is not there does nothing.
    update(&mut a, key(KeyCode::Char('9')));
    assert!(matches!(a.dialog, Some(Dialog::Sources { .. })));
    update(&mut a, key(KeyCode::Char('1')));
    assert!(matches!(a.dialog, Some(Dialog::Passage { n: 1, .. })));
    update(&mut a, key(KeyCode::Esc));
    update(&mut a, key(KeyCode::Esc));
    assert_eq!(a.dialog, None);
    // `o` in the list opens the selected passage's file.
    update(&mut a, alt('s'));
    let fx = update(&mut a, key(KeyCode::Char('o')));
    assert_eq!(fx, vec![Effect::OpenFile("/srv/handbook/doc1.md".into())]);
}

#[test]
fn sources_are_for_the_selected_answer_or_the_last_grounded_one() {
    let mut a = answered(&[2]);
    // The question selected: its answer's sources.
    a.selected_turn = Some(0);
    update(&mut a, alt('s'));
    assert!(matches!(
        a.dialog,
        Some(Dialog::Sources { selected: 1, .. })
    ));
    a.dialog = None;
    // An answer that is not grounded says so.
    a.transcript
        .push(Turn::new(Role::User, "hi".into(), MessageStatus::Complete));
    a.transcript.push(Turn::new(
        Role::Assistant,
        "hello".into(),
        MessageStatus::Complete,
    ));
    a.selected_turn = Some(3);
    update(&mut a, alt('s'));
    assert_eq!(a.dialog, None);
    assert!(said(&a).contains("no sources"));
    // Nothing selected: the last grounded answer.
    a.selected_turn = None;
    update(&mut a, alt('s'));
    assert!(matches!(a.dialog, Some(Dialog::Sources { .. })));
    // A session without any: how to ground one.
    let mut b = kb_app();
    update(&mut b, alt('s'));
    assert_eq!(b.dialog, None);
    assert!(said(&b).contains("Ctrl+G"));
}

#[test]
fn passages_wait_with_the_live_answer_while_its_session_is_not_shown() {
    let mut a = sent_in_session_1("@kb:hr q");
    update(
        &mut a,
        Msg::Stream {
            session_id: 1,
            event: StreamEvent::Sources(grounding(&[])),
        },
    );
    // Away to session 2 and back: the passages follow the answer being written.
    update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)),
    );
    assert_eq!(a.current, Some(2));
    assert!(a.live[&1].grounding.is_some());
    update(&mut a, alt_down());
    assert_eq!(a.current, Some(1));
    loaded(
        &mut a,
        1,
        vec![
            message(10, 1, Role::User, "q", MessageStatus::Complete),
            message(11, 1, Role::Assistant, "", MessageStatus::Streaming),
        ],
    );
    assert_eq!(a.transcript[1].grounding, Some(grounding(&[])));
    assert!(a.live[&1].grounding.is_none(), "one copy");
}

#[test]
fn a_grounded_answer_is_regenerated_and_edited_from_its_base() {
    let mut a = answered(&[1]);
    let fx = update(&mut a, ctrl('r'));
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Regenerate { session_id: 1, replace: Some(11), ground: Some(kb), .. }] if kb == "handbook"
        ),
        "{fx:?}"
    );
    let mut a = answered(&[1]);
    a.focus = Focus::Transcript;
    a.selected_turn = Some(0);
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(a.input_text(), "@kb:handbook What is the limit?");
    // In a session grounded on that base, the question is edited as it was asked.
    let mut a = answered(&[1]);
    a.sessions[1].knowledge = Some("handbook".into());
    a.focus = Focus::Transcript;
    a.selected_turn = Some(0);
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(a.input_text(), "What is the limit?");
}

#[test]
fn a_template_form_offers_the_configured_bases_as_a_choice() {
    use crate::templates::VarKind;
    let mut a = kb_app();
    a.templates = vec![item(
        "policy",
        "Policy question",
        "Knowledge",
        vec![
            spec("question", VarKind::Text, true),
            spec("kb", VarKind::Kb, true),
        ],
    )];
    update(&mut a, ctrl('p'));
    update(&mut a, key(KeyCode::Enter));
    let Some(Dialog::Form(form)) = &a.dialog else {
        panic!("{:?}", a.dialog)
    };
    assert_eq!(form.fields[1].spec.options, ["handbook", "hr", "it"]);
    assert_eq!(form.fields[1].value.as_str(), "handbook");
    update(&mut a, key(KeyCode::Down));
    update(&mut a, key(KeyCode::Right));
    update(&mut a, key(KeyCode::Right));
    // Typing does not change a choice.
    update(&mut a, key(KeyCode::Char('x')));
    let Some(Dialog::Form(form)) = &a.dialog else {
        panic!()
    };
    assert_eq!(form.fields[1].value.as_str(), "it");
    // A remembered base that is no longer configured is not taken.
    let mut form = form.clone();
    form.remember(&[("kb".to_string(), "gone".to_string())].into());
    assert_eq!(form.fields[1].value.as_str(), "it");
    // Without bases the field says how to add one.
    let mut a = app();
    a.templates = vec![item(
        "policy",
        "Policy question",
        "Knowledge",
        vec![spec("kb", VarKind::Kb, true)],
    )];
    update(&mut a, ctrl('p'));
    update(&mut a, key(KeyCode::Enter));
    let Some(Dialog::Form(form)) = &a.dialog else {
        panic!("{:?}", a.dialog)
    };
    let mut form = form.clone();
    assert!(!form.validate());
    assert!(
        form.fields[0]
            .problem
            .as_deref()
            .unwrap()
            .contains("clerk kb add NAME FOLDER")
    );
}
