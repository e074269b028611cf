//! The compare view: opening it on the question, choosing the models, the panes' streams,
//! keeping one answer, stopping and closing.

use super::*;
use crate::app::compare::{Ended, Kept, PaneEvent, Stage};
use crate::compare::Sample;
use crate::store::MessageFinish;

fn f5() -> Msg {
    key(KeyCode::F(5))
}

fn offered(a: &mut App) {
    let names = [
        "gpt-4o-mini",
        "qwen-plus",
        "deepseek-chat",
        "llama3",
        "gpt-4o",
    ];
    update(
        a,
        Msg::ModelsLoaded(Ok((names.iter().map(|s| s.to_string()).collect(), NOW))),
    );
}

/// In the picker: type the name, move to it, Space, clear the filter.
fn choose(a: &mut App, name: &str) {
    type_text(a, name);
    let i = a
        .model_choices(name)
        .iter()
        .position(|e| e.name == name)
        .unwrap();
    for _ in 0..i {
        update(a, key(KeyCode::Down));
    }
    update(a, key(KeyCode::Char(' ')));
    for _ in name.chars() {
        update(a, key(KeyCode::Backspace));
    }
}

fn chosen(a: &App) -> Vec<String> {
    match &a.compare.as_ref().unwrap().stage {
        Stage::Choosing { chosen, .. } => chosen.clone(),
        Stage::Running { .. } => panic!("running"),
    }
}

/// Typed a question, opened the view, chose qwen-plus and deepseek-chat besides the
/// session's model, and started.
fn running() -> (App, Vec<Effect>) {
    let mut a = app();
    type_text(&mut a, "hotel cap?");
    update(&mut a, f5());
    offered(&mut a);
    choose(&mut a, "qwen-plus");
    choose(&mut a, "deepseek-chat");
    let fx = update(&mut a, key(KeyCode::Enter));
    (a, fx)
}

fn record(text: &str) -> MessageFinish {
    MessageFinish {
        content: text.into(),
        status: MessageStatus::Complete,
        error: None,
        usage: Usage {
            tokens_in: Some(40),
            tokens_cached: Some(0),
            tokens_out: Some(6),
            estimated: false,
        },
        cost_usd: Some(0.00003),
        ttft_ms: Some(200),
        duration_ms: Some(1200),
        now_ms: NOW,
    }
}

fn done(text: &str) -> PaneEvent {
    PaneEvent::Ended(Box::new(Ended {
        sample: Sample {
            run: 1,
            text: text.into(),
            error: None,
            ttft_ms: Some(200.0),
            total_ms: Some(1200.0),
            prompt_tokens: Some(40),
            completion_tokens: Some(6),
            cost_usd: Some(0.00003),
        },
        record: Some(record(text)),
    }))
}

fn refused(why: &str) -> PaneEvent {
    PaneEvent::Ended(Box::new(Ended {
        sample: Sample {
            run: 1,
            error: Some(why.into()),
            ..Sample::default()
        },
        record: None,
    }))
}

fn compared(a: &mut App, pane: usize, event: PaneEvent) -> Vec<Effect> {
    let run = a.compare.as_ref().unwrap().run;
    update(a, Msg::Compared { run, pane, event })
}

fn pane_texts(a: &App) -> Vec<String> {
    a.compare
        .as_ref()
        .unwrap()
        .panes()
        .iter()
        .map(|p| p.text.clone())
        .collect()
}

#[test]
fn f5_opens_the_picker_on_the_box_text_with_the_session_model_chosen() {
    let mut a = app();
    type_text(&mut a, "hotel cap?");
    let fx = update(&mut a, f5());
    assert!(fx.contains(&Effect::LoadModels { refresh: false }));
    let c = a.compare.as_ref().unwrap();
    assert_eq!(c.question, "hotel cap?");
    assert!(c.from_box);
    assert_eq!(c.messages.len(), 1);
    assert_eq!(chosen(&a), vec!["gpt-4o-mini".to_string()]);
    assert_eq!(
        a.input_text(),
        "hotel cap?",
        "the box is left alone until kept"
    );
}

#[test]
fn with_an_empty_box_it_compares_on_the_session_last_question_with_what_came_before() {
    let mut a = with_sessions();
    a.current = Some(1);
    update(
        &mut a,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages: vec![
                message(1, 1, Role::User, "q1", MessageStatus::Complete),
                message(2, 1, Role::Assistant, "a1", MessageStatus::Complete),
                message(3, 1, Role::User, "q2", MessageStatus::Complete),
                message(4, 1, Role::Assistant, "a2", MessageStatus::Complete),
            ],
            draft: None,
        },
    );
    update(&mut a, f5());
    let c = a.compare.as_ref().unwrap();
    assert_eq!(c.question, "q2");
    assert!(!c.from_box);
    let sent: Vec<&str> = c.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        sent,
        vec!["q1", "a1", "q2"],
        "the answer being compared is not sent"
    );
}

#[test]
fn nothing_to_compare_on_says_so_and_opens_nothing() {
    let mut a = app();
    update(&mut a, f5());
    assert!(a.compare.is_none());
    assert!(said(&a).contains("nothing to compare"));
}

#[test]
fn the_picker_wants_two_to_four_models_and_enter_starts_one_stream_each() {
    let mut a = app();
    type_text(&mut a, "hotel cap?");
    update(&mut a, f5());
    offered(&mut a);
    assert!(
        update(&mut a, key(KeyCode::Enter)).is_empty(),
        "one model is not a comparison"
    );
    assert!(matches!(
        &a.compare.as_ref().unwrap().stage,
        Stage::Choosing { hint: Some(h), .. } if h.contains("at least 2")
    ));
    for m in ["qwen-plus", "deepseek-chat", "llama3", "gpt-4o"] {
        choose(&mut a, m);
    }
    assert_eq!(chosen(&a).len(), 4, "a fifth is refused");
    choose(&mut a, "llama3");
    assert_eq!(
        chosen(&a),
        vec!["gpt-4o-mini", "qwen-plus", "deepseek-chat"],
        "Space again unchooses"
    );
    let fx = update(&mut a, key(KeyCode::Enter));
    let run = a.compare.as_ref().unwrap().run;
    assert_eq!(
        fx,
        vec![Effect::Compare {
            run,
            session_id: None,
            models: vec![
                "gpt-4o-mini".into(),
                "qwen-plus".into(),
                "deepseek-chat".into()
            ],
            messages: vec![crate::llm::ChatMessage {
                role: crate::llm::ChatRole::User,
                content: "hotel cap?".into()
            }],
        }]
    );
    assert_eq!(a.compare.as_ref().unwrap().panes().len(), 3);
    assert!(a.compare.as_ref().unwrap().streaming());
}

#[test]
fn each_pane_gets_its_own_stream_and_a_refusal_ends_only_its_pane() {
    let (mut a, _) = running();
    compared(&mut a, 0, PaneEvent::Delta("CNY ".into()));
    compared(&mut a, 2, PaneEvent::Delta("It is ".into()));
    compared(&mut a, 0, PaneEvent::Delta("800".into()));
    compared(
        &mut a,
        1,
        refused("not sent: the daily budget of $1.00 is reached"),
    );
    assert_eq!(pane_texts(&a), vec!["CNY 800", "", "It is "]);
    let c = a.compare.as_ref().unwrap();
    let p = c.panes();
    assert!(p[0].streaming() && p[2].streaming());
    assert_eq!(
        p[1].error(),
        Some("not sent: the daily budget of $1.00 is reached")
    );
    // A message of an earlier comparison is ignored.
    let run = c.run;
    update(
        &mut a,
        Msg::Compared {
            run: run - 1,
            pane: 0,
            event: PaneEvent::Delta("stale".into()),
        },
    );
    assert_eq!(pane_texts(&a)[0], "CNY 800");
    compared(&mut a, 0, done("CNY 800"));
    let f = a.compare.as_ref().unwrap().panes()[0].figures().unwrap();
    assert_eq!(f.ttft_ms.0, Some(200.0));
    assert_eq!(f.cost_per_answer, Some(0.00003));
    assert_eq!(f.tokens_per_s, Some(6.0));
}

#[test]
fn enter_keeps_the_chosen_answer_as_an_exchange_and_stops_the_others() {
    let (mut a, _) = running();
    compared(&mut a, 1, PaneEvent::Delta("CNY 800".into()));
    compared(&mut a, 1, done("CNY 800"));
    // The first pane still streams: it cannot be kept yet.
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    assert!(a.compare.is_some());
    assert!(said(&a).contains("still being written"));
    update(&mut a, key(KeyCode::Char('2')));
    let fx = update(&mut a, key(KeyCode::Enter));
    let run = 1;
    assert_eq!(fx[0], Effect::StopCompare(run));
    let Effect::KeepAnswer(keep) = &fx[1] else {
        panic!("{fx:?}")
    };
    assert_eq!(keep.session_id, None);
    assert_eq!(keep.question, "hotel cap?");
    assert_eq!(keep.model, "qwen-plus");
    assert_eq!(keep.record, record("CNY 800"));
    assert!(a.compare.is_none(), "the view closes");
    assert_eq!(a.input_text(), "", "the question left the box");
    assert_eq!(a.transcript.len(), 2);
    assert_eq!(a.transcript[0].content, "hotel cap?");
    let t = &a.transcript[1];
    assert_eq!(
        (t.content.as_str(), t.model.as_deref(), t.status),
        ("CNY 800", Some("qwen-plus"), MessageStatus::Complete)
    );
    assert_eq!((t.usage.tokens_out, t.cost_usd), (Some(6), Some(0.00003)));
    assert!(!a.streaming(), "a kept answer is not a live one");
    let fx = update(
        &mut a,
        Msg::Kept(Ok(Kept {
            session_id: 7,
            created: true,
            user_id: 70,
            answer_id: 71,
        })),
    );
    assert_eq!(a.current, Some(7));
    assert_eq!(
        (a.transcript[0].id, a.transcript[1].id),
        (Some(70), Some(71))
    );
    assert_eq!(fx, vec![Effect::LoadSessions]);
}

#[test]
fn a_pane_without_an_answer_cannot_be_kept() {
    let (mut a, _) = running();
    compared(&mut a, 0, refused("unknown model"));
    assert!(update(&mut a, key(KeyCode::Enter)).is_empty());
    assert!(a.compare.is_some());
    assert!(a.transcript.is_empty());
}

#[test]
fn esc_stops_the_streams_first_and_closes_only_when_none_streams() {
    let (mut a, _) = running();
    compared(&mut a, 0, PaneEvent::Delta("partial".into()));
    assert_eq!(
        update(&mut a, key(KeyCode::Esc)),
        vec![Effect::StopCompare(1)]
    );
    assert!(a.compare.is_some(), "stopping never closes: the text stays");
    assert_eq!(update(&mut a, ctrl('c')), vec![Effect::StopCompare(1)]);
    for p in 0..3 {
        compared(&mut a, p, done("partial"));
    }
    assert!(update(&mut a, key(KeyCode::Esc)).is_empty());
    assert!(a.compare.is_none());
    assert!(said(&a).contains("no answer kept"));
    assert!(a.transcript.is_empty());
    assert_eq!(
        a.input_text(),
        "hotel cap?",
        "the question stays in the box"
    );
}

#[test]
fn panes_are_chosen_with_tab_arrows_and_digits_and_scroll_on_their_own() {
    let (mut a, _) = running();
    let focus = |a: &App| match &a.compare.as_ref().unwrap().stage {
        Stage::Running { focus, .. } => *focus,
        _ => unreachable!(),
    };
    update(&mut a, key(KeyCode::Tab));
    assert_eq!(focus(&a), 1);
    update(&mut a, key(KeyCode::Left));
    update(&mut a, key(KeyCode::Left));
    assert_eq!(focus(&a), 2, "wraps");
    update(&mut a, key(KeyCode::Char('1')));
    assert_eq!(focus(&a), 0);
    update(&mut a, key(KeyCode::Char('4')));
    assert_eq!(focus(&a), 0, "there is no pane 4");
    update(
        &mut a,
        Msg::Layout(View {
            compare: vec![(30, 10), (5, 10), (5, 10)],
            ..View::default()
        }),
    );
    update(&mut a, key(KeyCode::PageUp));
    let scroll = |a: &App, i: usize| a.compare.as_ref().unwrap().panes()[i].scroll;
    assert_eq!(scroll(&a, 0), Scroll::Top(11));
    assert_eq!(scroll(&a, 1), Scroll::Follow);
    update(&mut a, key(KeyCode::Down));
    assert_eq!(scroll(&a, 0), Scroll::Top(12));
    update(&mut a, key(KeyCode::End));
    assert_eq!(scroll(&a, 0), Scroll::Follow);
    // F1 opens the help over the view; Esc closes the help, not the view.
    update(&mut a, key(KeyCode::F(1)));
    assert!(matches!(a.dialog, Some(Dialog::Help { .. })));
    update(&mut a, key(KeyCode::Esc));
    assert!(a.dialog.is_none() && a.compare.is_some());
}
