//! Frame cost of the full-screen app: `cargo bench --bench render`.
//!
//! - a 5,000-message session with code blocks and tables at 200x60, cache warm (the normal
//!   frame while reading or typing);
//! - the same while an answer streams (the last message grows every frame);
//! - the first frame with 10,000 sessions in the list.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use clerk::app::update::update;
use clerk::app::{App, Keymap, Msg, Setup, StreamEvent};
use clerk::store::{Message, MessageStatus, Role, Session, SessionSummary, Usage};
use clerk::ui::{RenderCache, Theme, render};
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NOW: i64 = 1_764_000_000_000;

fn setup() -> Setup {
    Setup {
        profile: "work".into(),
        model: "gpt-4o-mini".into(),
        has_key: true,
        key_problem: None,
        themes: vec!["dark".into()],
        theme: "dark".into(),
        keymap: Keymap::default(),
        context_window: Some(128_000),
        models: clerk::config::ModelTable::new(&Default::default()),
        history: true,
        tz_offset_secs: 0,
        scan_secrets: true,
        knowledge: Vec::new(),
        profile_model: "gpt-4o-mini".into(),
        policy: clerk::config::Policy::default(),
    }
}

fn summary(id: i64) -> SessionSummary {
    SessionSummary {
        session: Session {
            id,
            title: format!("Session {id} about budgets and 报销"),
            created_ms: NOW,
            updated_ms: NOW - id * 60_000,
            profile: "work".into(),
            model: "gpt-4o-mini".into(),
            system_prompt: None,
            archived: false,
            pinned: false,
            knowledge: None,
        },
        message_count: 20,
    }
}

fn answer_text(i: usize) -> String {
    if i.is_multiple_of(10) {
        format!(
            "Here is step {i}:\n\n```rust\nfn step_{i}() -> u32 {{\n    let total = {i} * 2;\n    total + 1\n}}\n```\n\n| item | cost |\n|---|---:|\n| 机票 | 1,200 |\n| hotel | 450 |\n"
        )
    } else {
        format!(
            "Answer {i}: the **travel policy** says to file within `30 days`; 报销需要发票和审批单。 See the [handbook](https://intranet/handbook) for details and exceptions."
        )
    }
}

fn big_session() -> App {
    let mut app = App::new(setup(), (200, 60), NOW);
    update(
        &mut app,
        Msg::SessionsLoaded((1..=50).map(summary).collect()),
    );
    app.current = Some(1);
    let messages = (0..5_000)
        .map(|i| Message {
            id: i as i64 + 1,
            session_id: 1,
            role: if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            },
            content: if i % 2 == 0 {
                format!("Question {i} about expenses?")
            } else {
                answer_text(i)
            },
            status: MessageStatus::Complete,
            error: None,
            model: Some("gpt-4o-mini".into()),
            usage: Usage {
                tokens_in: Some(100),
                tokens_cached: Some(0),
                tokens_out: Some(50),
                estimated: false,
            },
            cost_usd: Some(0.00005),
            ttft_ms: Some(300),
            duration_ms: Some(1200),
            created_ms: NOW,
            tokens: None,
            grounding: None,
        })
        .collect();
    update(
        &mut app,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages,
            draft: None,
        },
    );
    app
}

fn frames(c: &mut Criterion) {
    let theme = Theme::default_theme();
    let mut group = c.benchmark_group("frame");

    let app = big_session();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut cache = RenderCache::default();
    terminal
        .draw(|f| {
            render(&app, &theme, &mut cache, f);
        })
        .unwrap();
    group.bench_function("5000_messages_200x60_warm", |b| {
        b.iter(|| {
            terminal
                .draw(|f| {
                    render(&app, &theme, &mut cache, f);
                })
                .unwrap();
        })
    });

    let mut app = big_session();
    for c in "and one more question".chars() {
        update(
            &mut app,
            Msg::Key(ratatui::crossterm::event::KeyEvent::new(
                ratatui::crossterm::event::KeyCode::Char(c),
                ratatui::crossterm::event::KeyModifiers::NONE,
            )),
        );
    }
    update(
        &mut app,
        Msg::Key(ratatui::crossterm::event::KeyEvent::new(
            ratatui::crossterm::event::KeyCode::Enter,
            ratatui::crossterm::event::KeyModifiers::NONE,
        )),
    );
    update(
        &mut app,
        Msg::SendAccepted {
            session_id: 1,
            created: false,
            user_id: 9_001,
            answer_id: 9_002,
        },
    );
    // The answer's text, as its driver hands it over: one string the screen draws from.
    let mut text = clerk::chat::LiveText::new();
    update(
        &mut app,
        Msg::Stream {
            session_id: 1,
            event: StreamEvent::Text(text.clone()),
        },
    );
    let mut cache = RenderCache::default();
    group.bench_function("5000_messages_200x60_streaming_token", |b| {
        b.iter(|| {
            // Keep the answer between 0 and ~2,000 tokens, like a real one.
            if text.len() > 12_000 {
                text = clerk::chat::LiveText::new();
                update(
                    &mut app,
                    Msg::Stream {
                        session_id: 1,
                        event: StreamEvent::Text(text.clone()),
                    },
                );
            }
            text.push(" token");
            update(
                &mut app,
                Msg::Stream {
                    session_id: 1,
                    event: StreamEvent::Grew,
                },
            );
            terminal
                .draw(|f| {
                    render(&app, &theme, &mut cache, f);
                })
                .unwrap();
        })
    });

    let mut list = App::new(setup(), (120, 40), NOW);
    update(
        &mut list,
        Msg::SessionsLoaded((1..=10_000).map(summary).collect()),
    );
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    group.bench_function("first_frame_10000_sessions_120x40", |b| {
        b.iter(|| {
            let mut cache = RenderCache::default();
            terminal
                .draw(|f| {
                    render(&list, &theme, &mut cache, f);
                })
                .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
