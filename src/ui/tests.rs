//! Snapshot tests of every screen and dialog at 120x40 and 60x20 (insta + TestBackend);
//! grounded sessions, their sources and the knowledge base dialogs in `tests/knowledge.rs`.

mod chinese;
mod knowledge;

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{RenderCache, Theme, render};
use crate::app::update::update;
use crate::app::{App, Dialog, Keymap, Msg, Setup, StreamEvent, TextField};
use crate::llm::{Answer, AnswerStatus, TokenUsage};
use crate::store::{Message, MessageStatus, Role, SearchHit, Session, SessionSummary, Usage};

const NOW: i64 = 1_764_000_000_000;

fn setup(has_key: bool) -> Setup {
    Setup {
        profile: "work".into(),
        model: "gpt-4o-mini".into(),
        has_key,
        key_problem: (!has_key).then(|| "the OS keyring is not available (no Secret Service). Set CLERK_API_KEY or api_key_cmd".into()),
        themes: vec!["dark".into(), "light".into(), "high-contrast".into(), "gruvbox".into()],
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

fn session(id: i64, title: &str, age_days: i64, pinned: bool) -> SessionSummary {
    SessionSummary {
        session: Session {
            id,
            title: title.into(),
            created_ms: NOW,
            updated_ms: NOW - age_days * 86_400_000 - 1000,
            profile: "work".into(),
            model: "gpt-4o-mini".into(),
            system_prompt: None,
            archived: false,
            pinned,
            knowledge: None,
        },
        message_count: 4,
    }
}

fn msg(id: i64, role: Role, content: &str, status: MessageStatus) -> Message {
    Message {
        id,
        session_id: 1,
        role,
        content: content.into(),
        status,
        error: (status == MessageStatus::Interrupted).then(|| "the connection dropped".into()),
        model: (role == Role::Assistant).then(|| "gpt-4o-mini".into()),
        usage: if role == Role::Assistant && status == MessageStatus::Complete {
            Usage {
                tokens_in: Some(812),
                tokens_cached: Some(0),
                tokens_out: Some(145),
                estimated: false,
            }
        } else {
            Usage::default()
        },
        cost_usd: (role == Role::Assistant && status == MessageStatus::Complete)
            .then_some(0.000209),
        ttft_ms: Some(420),
        duration_ms: Some(2310),
        created_ms: NOW,
        tokens: None,
        grounding: None,
    }
}

const ANSWER: &str = "## 差旅报销流程\n\n请在出差结束后 **30 天内** 提交：\n\n- 发票原件\n- 审批单 (`form TR-2`)\n\n| 项目 | 金额 | 说明 |\n|---|---:|---|\n| 机票 | 1,200 元 | 经济舱 |\n| Hotel | 450 元 | 2 nights 🏨 |\n\n```rust\nfn main() {\n    println!(\"报销 ok\");\n}\n```\n\n> Ask finance if unsure.";

fn base_app(w: u16, h: u16) -> App {
    let mut app = App::new(setup(true), (w, h), NOW);
    update(
        &mut app,
        Msg::SessionsLoaded(vec![
            session(3, "Quarterly budget review", 0, true),
            session(1, "我想了解差旅报销的流程", 0, false),
            session(2, "VPN on the new laptop", 1, false),
            session(4, "Contract renewal notes", 20, false),
        ]),
    );
    app
}

fn open_transcript(app: &mut App, messages: Vec<Message>) {
    app.current = Some(1);
    update(
        app,
        Msg::TranscriptLoaded {
            session_id: 1,
            messages,
            draft: None,
        },
    );
}

fn terminal(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut cache = RenderCache::default();
    terminal
        .draw(|f| {
            render(app, &Theme::default_theme(), &mut cache, f);
        })
        .unwrap();
    terminal
}

fn draw(app: &App, w: u16, h: u16) -> String {
    terminal(app, w, h).backend().to_string()
}

/// Draw as the runtime does and report the layout back to the app.
fn drawn(app: &mut App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut cache = RenderCache::default();
    let mut view = crate::app::View::default();
    terminal
        .draw(|f| view = render(app, &Theme::default_theme(), &mut cache, f))
        .unwrap();
    update(app, Msg::Layout(view));
    terminal.backend().to_string()
}

fn both(name: &str, build: impl Fn(u16, u16) -> App) {
    for (w, h) in [(120, 40), (60, 20)] {
        let app = build(w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), draw(&app, w, h));
    }
}

#[test]
fn welcome() {
    both("welcome", base_app);
}

#[test]
fn chinese_transcript_with_table_and_code() {
    both("transcript", |w, h| {
        let mut app = base_app(w, h);
        open_transcript(
            &mut app,
            vec![
                msg(
                    10,
                    Role::User,
                    "我想了解差旅报销的流程",
                    MessageStatus::Complete,
                ),
                msg(11, Role::Assistant, ANSWER, MessageStatus::Complete),
            ],
        );
        app
    });
}

#[test]
fn streaming_answer() {
    both("streaming", |w, h| {
        let mut app = base_app(w, h);
        open_transcript(&mut app, vec![]);
        for c in "Summarise the VPN steps".chars() {
            update(
                &mut app,
                Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
            );
        }
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        );
        update(
            &mut app,
            Msg::SendAccepted {
                session_id: 1,
                created: false,
                user_id: 20,
                answer_id: 21,
            },
        );
        // What the answer's driver hands over: its text, then that it grew.
        let text = crate::chat::LiveText::new();
        text.push("1. Install the client\n2. Sign in with");
        for event in [StreamEvent::Text(text), StreamEvent::Grew] {
            update(
                &mut app,
                Msg::Stream {
                    session_id: 1,
                    event,
                },
            );
        }
        app
    });
}

#[test]
fn error_states() {
    both("errors", |w, h| {
        let mut app = base_app(w, h);
        open_transcript(
            &mut app,
            vec![
                msg(10, Role::User, "Long question", MessageStatus::Complete),
                msg(
                    11,
                    Role::Assistant,
                    "Half an ans",
                    MessageStatus::Interrupted,
                ),
            ],
        );
        update(
            &mut app,
            Msg::Failed("the API key was rejected (HTTP 401). Run `clerk auth login`".into()),
        );
        app
    });
}

#[test]
fn dialogs() {
    let hit = SearchHit {
        message_id: 11,
        session_id: 1,
        session_title: "我想了解差旅报销的流程".into(),
        role: Role::Assistant,
        snippet: "## 差旅\u{E000}报销\u{E001}流程 请在出差结束后".into(),
        created_ms: NOW,
        rank: -1.0,
    };
    let cases: Vec<(&str, Dialog)> = vec![
        ("help", Dialog::Help { scroll: 0 }),
        (
            "search",
            Dialog::Search {
                query: "报销".into(),
                hits: vec![hit],
                selected: 0,
            },
        ),
        (
            "rename",
            Dialog::Rename {
                id: 2,
                title: "VPN on the new laptop".into(),
            },
        ),
        (
            "export",
            Dialog::Export {
                id: 1,
                title: "我想了解差旅报销的流程".into(),
                path: "我想了解差旅报销的流程.md".into(),
            },
        ),
        (
            "delete",
            Dialog::ConfirmDelete {
                id: 2,
                title: "VPN on the new laptop".into(),
            },
        ),
        ("quit", Dialog::ConfirmQuit),
        (
            "themes",
            Dialog::Themes {
                selected: 1,
                original: "dark".into(),
            },
        ),
    ];
    for (name, dialog) in cases {
        both(&format!("dialog_{name}"), |w, h| {
            let mut app = base_app(w, h);
            app.dialog = Some(dialog.clone());
            app
        });
    }
    both("dialog_first_run_key", |w, h| {
        App::new(setup(false), (w, h), NOW)
    });
}

/// A key press without modifiers.
fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Ctrl and a letter.
fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// A field draws its caret where its cursor is, not at its end: in a dialog, in the masked
/// key, in the session list's filter and in a multi-line form field.
#[test]
fn the_caret_is_drawn_at_the_cursor() {
    let left = |app: &mut App, n: usize| {
        for _ in 0..n {
            update(app, key(KeyCode::Left));
        }
    };
    let mut app = base_app(120, 40);
    app.dialog = Some(Dialog::Rename {
        id: 2,
        title: "VPN on the new laptop".into(),
    });
    update(&mut app, ctrl('a'));
    for _ in 0..3 {
        update(&mut app, key(KeyCode::Right));
    }
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("VPN▏ on the new laptop"), "{screen}");

    let mut app = base_app(120, 40);
    update(&mut app, key(KeyCode::F(3)));
    for c in "sk-abcdefgh1234".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    left(&mut app, 2);
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("key › •••••••••••12▏34"), "{screen}");
    left(&mut app, 5);
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("key › ••••••••▏•••1234"), "{screen}");
    assert!(!screen.contains("abc"), "{screen}");

    let mut app = base_app(120, 40);
    app.focus = crate::app::Focus::Sessions;
    for c in "/vpn".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    left(&mut app, 1);
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("Sessions /vp▏n"), "{screen}");

    let mut app = base_app(120, 40);
    let spec = crate::app::FieldSpec {
        name: "notes".into(),
        label: "Notes".into(),
        kind: crate::templates::VarKind::Multiline,
        required: true,
        default: None,
        help: None,
        options: Vec::new(),
    };
    let mut form = crate::app::Form::new(
        &crate::app::TemplateItem {
            id: "t".into(),
            title: "T".into(),
            description: String::new(),
            category: "C".into(),
            tags: Vec::new(),
            origin: "built-in".into(),
            problem: None,
            steps: vec!["answer".into()],
            workflow: false,
            preview: String::new(),
            fields: vec![spec],
        },
        None,
    );
    form.fields[0].value = "one two\nthree".into();
    app.dialog = Some(Dialog::Form(form));
    update(&mut app, ctrl('a'));
    left(&mut app, 1);
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("    one two▏ "), "{screen}");
    assert!(screen.contains("    three "), "{screen}");
}

fn usage_view() -> crate::app::UsageView {
    use crate::store::ledger::{Row, Totals};
    let t = |requests: u64, cost: Option<f64>, unpriced: u64| Totals {
        requests,
        prompt_tokens: requests * 2_300,
        cached_tokens: 0,
        completion_tokens: requests * 410,
        cost_usd: cost,
        unpriced_requests: unpriced,
        estimated_requests: 0,
    };
    crate::app::UsageView {
        today: t(14, Some(0.0312), 0),
        month: t(420, Some(4.12), 3),
        by_model: vec![
            Row {
                key: "gpt-4o".into(),
                totals: t(40, Some(3.41), 0),
            },
            Row {
                key: "gpt-4o-mini".into(),
                totals: t(377, Some(0.71), 0),
            },
            Row {
                key: "qwen-plus-gateway".into(),
                totals: t(3, None, 3),
            },
        ],
        days: (0u32..30)
            .map(|i| {
                let cost = if i % 7 == 5 {
                    0.0
                } else {
                    f64::from((i * 37) % 23) / 100.0
                };
                let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 7).unwrap()
                    + chrono::Days::new(u64::from(i));
                (day.format("%m-%d").to_string(), cost)
            })
            .collect(),
        budget: crate::config::BudgetConfig {
            daily_usd: Some(1.0),
            monthly_usd: Some(5.0),
            per_request_usd: None,
            ..Default::default()
        },
    }
}

#[test]
fn usage_screen() {
    both("dialog_usage", |w, h| {
        let mut app = base_app(w, h);
        let fx = update(&mut app, key(KeyCode::F(4)));
        assert_eq!(fx, vec![crate::app::Effect::LoadUsage]);
        update(&mut app, Msg::UsageLoaded(Ok(Box::new(usage_view()))));
        app
    });
    // 80x24 without colours: every figure is text, the bars are blocks.
    let mut app = base_app(80, 24);
    update(&mut app, key(KeyCode::F(4)));
    update(&mut app, Msg::UsageLoaded(Ok(Box::new(usage_view()))));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut cache = RenderCache::default();
    let plain = Theme::plain("no-color");
    terminal
        .draw(|f| {
            render(&app, &plain, &mut cache, f);
        })
        .unwrap();
    let screen = terminal.backend().to_string();
    for needle in [
        "$4.12 + 3 unpriced of $5.00 (82%)",
        "gpt-4o-mini",
        "the last 30 days",
        "12-06",
        "█",
    ] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    insta::assert_snapshot!("dialog_usage_80x24_no_color", screen);
    // Requests counted by clerk's estimate (stopped, cut off) are said, in either language.
    let mut view = usage_view();
    view.month.estimated_requests = 7;
    for (language, said) in [
        (crate::i18n::Language::English, "7 estimated"),
        (crate::i18n::Language::Chinese, "7 次为估算"),
    ] {
        let _l = crate::i18n::scoped(language);
        let mut app = base_app(120, 40);
        update(&mut app, key(KeyCode::F(4)));
        update(&mut app, Msg::UsageLoaded(Ok(Box::new(view.clone()))));
        let screen = draw(&app, 120, 40);
        assert_eq!(screen.matches(said).count(), 1, "{screen}");
    }
}

#[test]
fn budget_refused() {
    both("dialog_refused", |w, h| {
        let mut app = base_app(w, h);
        app.dialog = Some(Dialog::Refused {
            text: "not sent: the monthly budget of $50.00 is reached ($50.12 spent; [budget] monthly_usd); it starts again on 2027-01-01".into(),
        });
        app
    });
}

#[test]
fn model_picker() {
    both("dialog_models", |w, h| {
        let mut app = base_app(w, h);
        // A gateway offering two priced models (one a dated snapshot) and two it has
        // no price for; the table's other models are not offered there.
        update(
            &mut app,
            Msg::ModelsLoaded(Ok((
                vec![
                    "gpt-4o-mini".into(),
                    "gpt-4o-mini-2024-07-18".into(),
                    "qwen2.5-72b-instruct".into(),
                    "llama3.1:8b".into(),
                ],
                NOW - 2 * 3_600_000,
            ))),
        );
        update(&mut app, ctrl('l'));
        update(&mut app, key(KeyCode::Down));
        let Some(Dialog::Models { selected, .. }) = &app.dialog else {
            panic!()
        };
        assert_eq!(
            app.model_choices("")[*selected].name,
            "gpt-4o-mini-2024-07-18"
        );
        app
    });
}

#[test]
fn system_prompt_dialog() {
    both("dialog_system_prompt", |w, h| {
        let mut app = base_app(w, h);
        // A prompt set with `clerk ask --system` can hold a line break.
        let mut travel = session(1, "我想了解差旅报销的流程", 0, false);
        travel.session.system_prompt = Some(
            "You are the finance team's assistant. Quote the expense policy section you rely on.\n请用中文回答，金额写成人民币。"
                .into(),
        );
        update(&mut app, Msg::SessionsLoaded(vec![travel]));
        open_transcript(&mut app, vec![]);
        update(&mut app, key(KeyCode::F(2)));
        for c in " 保持简短。".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        assert!(matches!(app.dialog, Some(Dialog::SystemPrompt { .. })));
        app
    });
}

#[test]
fn template_secrets_dialog() {
    let key_text = concat!("AKIA", "IOSFODNN7EXAMPLE");
    both("dialog_template_secrets", |w, h| {
        let mut app = base_app(w, h);
        update(&mut app, ctrl('p'));
        update(&mut app, Msg::TemplatesLoaded(template_items()));
        for c in "summ".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        update(&mut app, key(KeyCode::Enter));
        update(
            &mut app,
            Msg::Paste(format!(
                "部署说明 deploy notes\nAWS key {key_text}\nDATABASE_URL=postgres://billing:Winter2024pass@db.internal:5432/billing\n"
            )),
        );
        update(&mut app, key(KeyCode::F(5)));
        let Some(Dialog::TemplateSecrets(check)) = &app.dialog else {
            panic!("{:?}", app.dialog)
        };
        assert_eq!(check.found.len(), 2, "{:?}", check.found);
        let screen = draw(&app, w, h);
        assert!(!screen.contains(key_text), "{screen}");
        assert!(!screen.contains("Winter2024pass"), "{screen}");
        app
    });
}

#[test]
fn smallest_supported_size() {
    let mut app = base_app(40, 10);
    open_transcript(
        &mut app,
        vec![
            msg(
                10,
                Role::User,
                "我想了解差旅报销的流程",
                MessageStatus::Complete,
            ),
            msg(11, Role::Assistant, ANSWER, MessageStatus::Complete),
        ],
    );
    insta::assert_snapshot!("transcript_40x10", draw(&app, 40, 10));
    app.dialog = Some(Dialog::Help { scroll: 0 });
    insta::assert_snapshot!("help_40x10", draw(&app, 40, 10));
}

#[test]
fn help_scrolls_to_its_last_line_on_a_small_screen() {
    let mut app = base_app(40, 10);
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)),
    );
    let first = drawn(&mut app, 40, 10);
    assert!(first.contains("scroll"), "{first}");
    assert!(!first.contains("docs/keybindings.md"), "{first}");
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE)),
    );
    let last = drawn(&mut app, 40, 10);
    assert!(last.contains("docs/keybindings.md"), "{last}");
    // Every row between was reachable: scrolling back up one row at a time reaches the top.
    let max = app.view.dialog_max;
    assert!(max > 10, "the help is much taller than 8 rows: {max}");
    for _ in 0..max {
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)),
        );
    }
    assert_eq!(draw(&app, 40, 10), first);
    // A big screen needs no scrolling.
    app.size = (160, 66);
    drawn(&mut app, 160, 66);
    assert_eq!(app.view.dialog_max, 0);
}

#[test]
fn too_small() {
    let app = base_app(30, 8);
    insta::assert_snapshot!("too_small_30x8", draw(&app, 30, 8));
}

#[test]
fn done_answer_meta_line() {
    let mut app = base_app(120, 40);
    open_transcript(
        &mut app,
        vec![
            msg(10, Role::User, "q", MessageStatus::Complete),
            msg(11, Role::Assistant, "", MessageStatus::Streaming),
        ],
    );
    app.live.insert(
        1,
        crate::app::Live {
            answer_id: Some(11),
            text: crate::chat::LiveText::new(),
            waiting: None,
            step: None,
            grounding: None,
        },
    );
    let answer = Answer {
        text: "Done.".into(),
        status: AnswerStatus::Complete,
        reason: None,
        finish_reason: Some("stop".into()),
        usage: Some(TokenUsage {
            input: 20,
            cached: 0,
            output: 2,
        }),
        model: Some("gpt-4o-mini".into()),
        ttft: Some(Duration::from_millis(350)),
        duration: Duration::from_millis(900),
        malformed: 0,
    };
    update(
        &mut app,
        Msg::Stream {
            session_id: 1,
            event: StreamEvent::Done(answer, Some(0.0000042), None),
        },
    );
    let screen = draw(&app, 120, 40);
    assert!(
        screen.contains("gpt-4o-mini · 20 → 2 tokens · $0.000004 · first token 0.3 s · 0.9 s"),
        "{screen}"
    );
}

#[test]
fn estimated_token_counts_say_so_and_a_cost_without_counts_is_shown() {
    // A stopped answer's server sent no usage: the counts kept are clerk's estimate.
    let mut stopped = msg(13, Role::Assistant, "Partial.", MessageStatus::Interrupted);
    stopped.usage = Usage {
        tokens_in: Some(360_000),
        tokens_cached: None,
        tokens_out: Some(1_280),
        estimated: true,
    };
    stopped.cost_usd = Some(0.000021);
    // A summary stopped between parts: what its parts cost, and no counts.
    let mut parts = msg(15, Role::Assistant, "", MessageStatus::Interrupted);
    parts.cost_usd = Some(0.0512);
    let messages = vec![
        msg(10, Role::User, "q", MessageStatus::Complete),
        msg(11, Role::Assistant, "Whole.", MessageStatus::Complete),
        msg(12, Role::User, "again", MessageStatus::Complete),
        stopped,
        msg(14, Role::User, "a long one", MessageStatus::Complete),
        parts,
    ];
    let mut app = base_app(120, 40);
    open_transcript(&mut app, messages.clone());
    let screen = draw(&app, 120, 40);
    assert!(
        screen.contains("gpt-4o-mini · 812 → 145 tokens · $0.000209"),
        "{screen}"
    );
    assert!(
        screen.contains("gpt-4o-mini · 360,000 → 1,280 tokens (estimated) · $0.000021"),
        "{screen}"
    );
    assert_eq!(screen.matches("(estimated)").count(), 1, "{screen}");
    assert!(
        screen.contains("gpt-4o-mini · $0.05 · first token 0.4 s"),
        "{screen}"
    );
    let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
    let mut app = base_app(120, 40);
    open_transcript(&mut app, messages);
    let screen = draw(&app, 120, 40);
    assert!(
        screen.contains("360,000 → 1,280 个 token（估算）"),
        "{screen}"
    );
    assert!(screen.contains("812 → 145 个 token · "), "{screen}");
}

#[test]
fn clicking_a_drawn_message_selects_that_message() {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = base_app(120, 40);
    open_transcript(
        &mut app,
        vec![
            msg(
                10,
                Role::User,
                "我想了解差旅报销的流程",
                MessageStatus::Complete,
            ),
            msg(11, Role::Assistant, ANSWER, MessageStatus::Complete),
        ],
    );
    // Draw as the runtime does and feed the layout back.
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut cache = RenderCache::default();
    let mut view = crate::app::View::default();
    terminal
        .draw(|f| view = render(&app, &Theme::default_theme(), &mut cache, f))
        .unwrap();
    update(&mut app, Msg::Layout(view));
    let screen = terminal.backend().to_string();
    let row_of = |needle: &str| {
        screen
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not drawn:\n{screen}")) as u16
    };
    let click = |row| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 70,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    update(&mut app, click(row_of("Ask finance")));
    assert_eq!(app.selected_turn, Some(1));
    update(&mut app, click(row_of("▌You")));
    assert_eq!(app.selected_turn, Some(0));
}

#[test]
fn editing_a_question_says_what_sending_replaces() {
    let mut app = base_app(120, 40);
    open_transcript(
        &mut app,
        vec![
            msg(
                10,
                Role::User,
                "我想了解差旅报销的流程",
                MessageStatus::Complete,
            ),
            msg(11, Role::Assistant, ANSWER, MessageStatus::Complete),
        ],
    );
    app.focus = crate::app::Focus::Transcript;
    app.selected_turn = Some(1);
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let screen = draw(&app, 120, 40);
    assert!(
        screen.contains(
            "Editing · Enter resends and replaces the 1 message(s) after it · Esc cancels"
        ),
        "{screen}"
    );
}

#[test]
fn paste_chips_in_the_message_box() {
    both("input_paste_chips", |w, h| {
        let mut app = base_app(w, h);
        let doc: String = (1..=312).map(|i| format!("line {i}\n")).collect();
        update(&mut app, Msg::Paste(doc));
        let id = app.pastes[0].id;
        update(
            &mut app,
            Msg::Counted {
                paste: id,
                tokens: 4120,
            },
        );
        for c in "总结一下 🙂".chars() {
            update(
                &mut app,
                Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
            );
        }
        update(&mut app, Msg::Paste("a\nb\nc\nd\ne\nf\ng\nh\n".into()));
        app
    });
}

/// The cell drawn as the input's cursor (reversed), as (x, y).
fn cursor_cell(app: &App, w: u16, h: u16) -> (u16, u16) {
    let buf = terminal(app, w, h).backend().buffer().clone();
    let mut found = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if buf[(x, y)]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED)
            {
                found.push((x, y));
            }
        }
    }
    assert_eq!(found.len(), 1, "one cursor cell: {found:?}");
    found[0]
}

#[test]
fn the_input_cursor_sits_in_the_right_cell_after_cjk_emoji_and_combining_marks() {
    let mut app = base_app(60, 20);
    let key = |c| Msg::Key(KeyEvent::new(c, KeyModifiers::NONE));
    let (x0, y0) = cursor_cell(&app, 60, 20);
    // 中 and 文 are two cells wide, 😀 two, a and b one; e + U+0301 is one cell.
    for c in "中文😀ab".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    assert_eq!(cursor_cell(&app, 60, 20), (x0 + 8, y0));
    // Left over b, a, then onto the emoji: the cursor covers its first cell.
    for _ in 0..3 {
        update(&mut app, key(KeyCode::Left));
    }
    assert_eq!(cursor_cell(&app, 60, 20), (x0 + 4, y0));
    update(&mut app, key(KeyCode::End));
    for c in "e\u{301}".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    assert_eq!(cursor_cell(&app, 60, 20), (x0 + 9, y0));
}

#[test]
fn a_10_mb_paste_is_a_chip_and_its_message_is_folded_in_the_transcript() {
    let mut app = base_app(120, 40);
    // 10 MB in 200,000 lines.
    let doc: String = (0..200_000)
        .map(|i| format!("{i:06} {}\n", "x".repeat(43)))
        .collect();
    assert!(doc.len() >= 10_000_000);
    update(&mut app, Msg::Paste(doc.clone()));
    assert_eq!(app.pastes.len(), 1);
    assert_eq!(app.input_text(), "");
    assert!(draw(&app, 120, 40).contains("pasted 200,000 lines"));
    for c in "summarise".chars() {
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
        );
    }
    let fx = update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    // Counting and scanning 10 MB happen off the UI's path: nothing is sent yet.
    let Some(crate::app::Effect::Check(out)) = fx.first() else {
        panic!("expected a check, got {} effect(s)", fx.len())
    };
    assert_eq!(
        out.text.len(),
        doc.len() - 1 + "\n\nsummarise".len(),
        "checked whole"
    );
    assert_eq!(out.question, "summarise");
    assert_eq!(out.docs.len(), 1);
    assert!(app.transcript.is_empty());
    // The check comes back: far too long for the window.
    let check = crate::app::attach::Check {
        seq: out.seq,
        outgoing: out.clone(),
        found: Vec::new(),
        redacted: None,
        tokens: 2_600_000,
        room: Some(123_904),
        parts: Some((330, 345)),
        cost: Some(0.41),
        over_limit: true,
        limit: 0.05,
        redact: None,
    };
    update(&mut app, Msg::Checked(Box::new(check)));
    let dialog = draw(&app, 120, 40);
    insta::assert_snapshot!("dialog_before_send_long_120x40", dialog);
    assert!(
        dialog.contains("Read it in 330 parts (345 requests, about $0.41)"),
        "{dialog}"
    );
    let fx = update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE)),
    );
    let Some(crate::app::Effect::Send {
        text,
        long: Some(long),
        ..
    }) = fx.first()
    else {
        panic!("expected a long send, got {} effect(s)", fx.len())
    };
    assert_eq!(
        text.len(),
        doc.len() - 1 + "\n\nsummarise".len(),
        "saved whole"
    );
    assert_eq!(long.question, "summarise");
    assert_eq!(long.docs[0].0, "pasted text 1");
    assert_eq!(long.docs[0].1.len(), doc.len());
    assert_eq!(long.first, None);
    app.selected_turn = Some(0);
    app.scroll = crate::app::Scroll::Top(0);
    app.size = (120, 60);
    let screen = draw(&app, 120, 60);
    assert!(screen.contains("000039 "), "{screen}");
    assert!(!screen.contains("000040 "), "{screen}");
    assert!(
        screen.contains(
            "199,962 more line(s) not shown · select it and press Ctrl+Y to copy all of it"
        ),
        "{screen}"
    );
}

fn template_items() -> Vec<crate::app::TemplateItem> {
    use crate::app::{FieldSpec, TemplateItem};
    use crate::templates::VarKind;
    let field = |name: &str, kind, required, options: &[&str], default: Option<&str>| FieldSpec {
        name: name.into(),
        label: name.replace('_', " "),
        kind,
        required,
        default: default.map(str::to_string),
        help: Some(format!("Help for {name}.")),
        options: options.iter().map(|s| s.to_string()).collect(),
    };
    let item = |id: &str, title: &str, category: &str, workflow: bool| TemplateItem {
        id: id.into(),
        title: title.into(),
        description: format!("What {title} does."),
        category: category.into(),
        tags: vec!["work".into()],
        origin: "built-in".into(),
        problem: None,
        steps: if workflow {
            vec!["minutes".into(), "actions".into(), "final".into()]
        } else {
            vec!["answer".into()]
        },
        workflow,
        preview: "Summarise the document below.\n\n<document>\n{{document}}\n</document>".into(),
        fields: vec![
            field("document", VarKind::Document, true, &[], None),
            field(
                "length",
                VarKind::Choice,
                true,
                &["short", "medium", "long"],
                Some("medium"),
            ),
            field("team_name", VarKind::Text, false, &[], Some("")),
            field("source_file", VarKind::File, false, &[], None),
            field("words", VarKind::Number, false, &[], None),
        ],
    };
    let mut broken = item("old-report", "old-report", "Broken", false);
    broken.problem = Some("old-report.toml:3:1: error: unknown field `titel`".into());
    vec![
        item("summarize", "Summarise a document", "Documents", false),
        item(
            "compare-documents",
            "Compare two documents",
            "Documents",
            true,
        ),
        item(
            "meeting-minutes",
            "Meeting notes to minutes",
            "Meetings",
            true,
        ),
        item(
            "translate-zh-en",
            "Translate Chinese ↔ English 中英互译",
            "Language",
            false,
        ),
        broken,
    ]
}

#[test]
fn template_picker_and_form() {
    both("dialog_templates", |w, h| {
        let mut app = base_app(w, h);
        app.templates = template_items();
        app.dialog = Some(Dialog::Templates {
            query: TextField::default(),
            selected: 1,
        });
        app
    });
    both("dialog_templates_search", |w, h| {
        let mut app = base_app(w, h);
        app.templates = template_items();
        app.dialog = Some(Dialog::Templates {
            query: "meet".into(),
            selected: 0,
        });
        app
    });
    both("dialog_template_form", |w, h| {
        let mut app = base_app(w, h);
        app.templates = template_items();
        let mut form = crate::app::Form::new(&app.templates[0], None);
        form.fields[0].value = (1..=120)
            .map(|i| format!("line {i} 报销\n"))
            .collect::<String>()
            .into();
        form.fields[3].value = "~/notes/q3".into();
        form.fields[4].value = "ten".into();
        form.fields[4].problem = Some("not a number".into());
        form.focus = 3;
        form.completions = vec!["q3-budget.md".into(), "q3-plan.txt".into()];
        app.dialog = Some(Dialog::Form(form));
        app
    });
}

/// Spreadsheets and decks show what they hold on their chips, as PDFs show pages.
#[test]
fn office_chips_count_sheets_rows_and_slides() {
    use crate::app::attach::{Attached, FileMeta};
    let mut app = base_app(120, 40);
    let chip = |name: &str, sheets, rows, slides| {
        Ok(Attached {
            meta: FileMeta {
                name: name.into(),
                bytes: 6_436,
                pages: None,
                rows,
                sheets,
                slides,
                cost: None,
            },
            text: std::sync::Arc::from("# Sheet: Budget\n\n| a |\n|---|\n"),
            tokens: 1_204,
        })
    };
    update(
        &mut app,
        Msg::Attached {
            results: vec![
                chip("budget.xlsx", Some(2), Some(5), None),
                chip("deck.pptx", None, None, Some(1)),
            ],
            from_text: vec![],
            fallback: None,
        },
    );
    let screen = draw(&app, 120, 40);
    assert!(
        screen.contains("📄 budget.xlsx · 7 KB · 2 sheets · 5 rows · 1,204 tokens"),
        "{screen}"
    );
    assert!(
        screen.contains("📄 deck.pptx · 7 KB · 1 slide · 1,204 tokens"),
        "{screen}"
    );
}

#[test]
fn an_attachment_chip_and_the_secrets_dialog() {
    use crate::app::attach::{Attached, FileMeta};
    for (w, h) in [(120, 40), (60, 20)] {
        let mut app = base_app(w, h);
        update(
            &mut app,
            Msg::Attached {
                results: vec![Ok(Attached {
                    meta: FileMeta {
                        name: "Q3 报告.pdf".into(),
                        bytes: 1_258_291,
                        pages: Some(312),
                        rows: None,
                        sheets: None,
                        slides: None,
                        cost: Some(0.0225),
                    },
                    text: std::sync::Arc::from("--- page 1 ---\ntext"),
                    tokens: 150_000,
                })],
                from_text: vec![],
                fallback: None,
            },
        );
        let screen = draw(&app, w, h);
        if w == 120 {
            assert!(
                screen.contains("📄 Q3 报告.pdf · 1.2 MB · 312 pages · 150,000 tokens · $0.02"),
                "{screen}"
            );
        }
        insta::assert_snapshot!(format!("attachment_chip_{w}x{h}"), screen);
        app.pastes.clear();
        let key_text = concat!("AKIA", "IOSFODNN7EXAMPLE");
        for c in format!("deploy with {key_text} today").chars() {
            update(
                &mut app,
                Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
            );
        }
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        );
        let screen = draw(&app, w, h);
        assert!(
            screen.matches(key_text).count() <= 1,
            "only the message box (what the user typed) shows it whole, not the dialog"
        );
        assert!(screen.contains("AWS access key ID"), "{screen}");
        insta::assert_snapshot!(format!("dialog_secrets_{w}x{h}"), screen);
    }
}

#[test]
fn attached_documents_show_as_one_line_in_the_transcript() {
    let text = "<document name=\"a &quot;q&quot;.pdf\">\n--- page 1 ---\nline\n</document>\n\n<document name=\"b.txt\">\nx\n</document>\n\nWhat changed?";
    assert_eq!(
        super::collapse_documents(text),
        "📄 a \"q\".pdf · 2 lines · 19 bytes\n\n📄 b.txt · 1 line · 1 bytes\n\nWhat changed?"
    );
    assert_eq!(
        super::collapse_documents("no documents here"),
        "no documents here"
    );
    // An unclosed block is left as it is.
    assert_eq!(
        super::collapse_documents("<document name=\"x\">\nopen"),
        "<document name=\"x\">\nopen"
    );
}

#[test]
fn the_file_picker() {
    for (w, h) in [(120, 40), (60, 20)] {
        let mut app = base_app(w, h);
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL)),
        );
        update(
            &mut app,
            Msg::PathCompleted {
                typed: String::new(),
                common: String::new(),
                candidates: vec![
                    "Documents/".into(),
                    "Q3 报告.pdf".into(),
                    "minutes.docx".into(),
                    "notes.md".into(),
                ],
            },
        );
        // The first entry is highlighted; ↓ moves to the next.
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
        );
        let screen = draw(&app, w, h);
        assert!(screen.contains("▶ Q3 报告.pdf"), "{screen}");
        insta::assert_snapshot!(format!("dialog_attach_{w}x{h}"), screen);
    }
}

#[test]
fn a_notice_too_long_for_the_status_bar_is_shown_whole_above_it() {
    for (w, h) in [(120, 40), (60, 20)] {
        let mut app = base_app(w, h);
        update(
            &mut app,
            Msg::Attached {
                results: vec![Err("scanned.pdf has no text layer (3 page(s) of images, probably scanned): run it through OCR first, then attach the result".into())],
                from_text: vec![],
                fallback: None,
            },
        );
        let screen = draw(&app, w, h);
        let joined: String = screen
            .lines()
            .map(|l| l.trim_matches('"').trim())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            joined.contains("run it through OCR first, then attach the result"),
            "{screen}"
        );
        insta::assert_snapshot!(format!("long_notice_{w}x{h}"), screen);
    }
}

#[test]
fn the_layout_reported_after_a_frame_is_where_things_were_drawn() {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    use ratatui::layout::Rect;
    let mut app = base_app(120, 40);
    let screen = drawn(&mut app, 120, 40);
    let v = app.view.clone();
    assert_eq!(v.panes.sidebar, Some(Rect::new(0, 0, 30, 39)));
    assert_eq!(v.panes.transcript, Rect::new(30, 0, 90, 36));
    assert_eq!(v.panes.input, Rect::new(30, 36, 90, 3));
    assert_eq!(v.list, Some((Rect::new(1, 1, 28, 37), 0)));
    // A click on the row that shows a session opens that session.
    let row = screen
        .lines()
        .position(|l| l.contains("VPN on the new laptop"))
        .unwrap() as u16;
    let fx = update(
        &mut app,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 5,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(fx, vec![crate::app::Effect::LoadTranscript(2)], "{screen}");
    // Without the sidebar (a narrow screen) nothing is reported for it.
    let mut narrow = base_app(60, 20);
    drawn(&mut narrow, 60, 20);
    assert_eq!(narrow.view.panes.sidebar, None);
    assert_eq!(narrow.view.list, None);
}

/// A terminal and a render cache kept across frames, as the runtime keeps them.
struct Screen {
    terminal: Terminal<TestBackend>,
    cache: RenderCache,
}

impl Screen {
    fn new(w: u16, h: u16) -> Screen {
        Screen {
            terminal: Terminal::new(TestBackend::new(w, h)).unwrap(),
            cache: RenderCache::default(),
        }
    }

    /// Draw, report the layout to the app, and return the transcript pane's inner rows.
    fn frame(&mut self, app: &mut App) -> Vec<String> {
        let mut view = crate::app::View::default();
        let cache = &mut self.cache;
        let buf = self
            .terminal
            .draw(|f| view = render(app, &Theme::default_theme(), cache, f))
            .unwrap()
            .buffer
            .clone();
        update(app, Msg::Layout(view));
        let pane = app.view.panes.transcript;
        (pane.y + 1..pane.y + pane.height - 1)
            .map(|y| {
                (pane.x + 1..pane.x + pane.width - 1)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect()
            })
            .collect()
    }
}

/// A long session: questions and answers of many shapes (prose, Chinese, code, tables).
fn long_session(app: &mut App, n: i64) {
    long_session_ending(app, n, "end of answer")
}

fn long_session_ending(app: &mut App, n: i64, end: &str) {
    let messages = (0..n)
        .map(|i| {
            let answer = format!(
                "Answer {i}.\n\n{}\n\n{}\n\n{end} {i}",
                "The travel policy covers hotels, meals and flights. ".repeat((i % 7 + 1) as usize),
                if i % 3 == 0 {
                    ANSWER
                } else {
                    "差旅报销需要发票。"
                }
            );
            if i % 2 == 0 {
                msg(
                    i,
                    Role::User,
                    &format!("Question {i}: {}", "why? ".repeat((i % 5) as usize)),
                    MessageStatus::Complete,
                )
            } else {
                msg(i, Role::Assistant, &answer, MessageStatus::Complete)
            }
        })
        .collect();
    open_transcript(app, messages);
}

#[test]
fn a_long_transcript_is_drawn_only_near_the_view() {
    let mut app = base_app(100, 30);
    long_session(&mut app, 400);
    let mut screen = Screen::new(100, 30);
    let rows = screen.frame(&mut app).join("\n");
    assert!(
        rows.contains("end of answer 399"),
        "the end is shown:\n{rows}"
    );
    let drawn = screen.cache.drawn();
    assert!(
        drawn < 40,
        "{drawn} of 400 messages were laid out for one screen"
    );
    assert_eq!(app.view.starts.len(), 400, "every message has a place");
    // Home goes to the top: the first message is drawn, the end is let go.
    app.scroll = crate::app::Scroll::Top(0);
    let rows = screen.frame(&mut app).join("\n");
    assert!(rows.contains("Question 0"), "{rows}");
    assert!(screen.cache.drawn() < 80);
}

#[test]
fn code_is_coloured_only_once_it_comes_into_view() {
    let mut app = base_app(100, 30);
    // Every answer has a code block.
    let messages = (0..60)
        .map(|i| match i % 2 {
            0 => msg(
                i,
                Role::User,
                &format!("Question {i}"),
                MessageStatus::Complete,
            ),
            _ => msg(i, Role::Assistant, ANSWER, MessageStatus::Complete),
        })
        .collect();
    open_transcript(&mut app, messages);
    let mut screen = Screen::new(100, 30);
    // Syntect's colour of `fn` in `fn main()` wherever it is on screen.
    let fn_colours = |screen: &Screen| {
        let buf = screen.terminal.backend().buffer();
        let mut found = Vec::new();
        for y in 0..buf.area.height {
            let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            if let Some(at) = row.find("fn main()") {
                let x = row[..at].chars().count() as u16;
                found.push(buf[(x, y)].fg);
            }
        }
        found
    };
    let mut coloured = 0;
    let mut left_plain = 0;
    // Each answer with code at the top of the view in turn: every `fn` drawn is coloured,
    // while messages only near the view keep their code uncoloured.
    for i in (1..59).step_by(6) {
        app.scroll = crate::app::Scroll::Top(app.view.starts.get(i).copied().unwrap_or(0));
        screen.frame(&mut app);
        screen.frame(&mut app);
        for colour in fn_colours(&screen) {
            assert_ne!(
                Some(colour),
                Theme::default_theme().code.fg,
                "code in view drawn without syntect's colours"
            );
            coloured += 1;
        }
        left_plain += screen.cache.uncoloured();
    }
    assert!(coloured >= 5, "{coloured} code blocks seen");
    assert!(
        left_plain > 0,
        "every message near the view was highlighted"
    );
}

#[test]
fn scrolling_up_a_long_transcript_moves_it_one_line_at_a_time() {
    // Heights of messages above the view are estimates until they come near; when they
    // become exact, what is on screen must not jump.
    for (w, h, end) in [
        (80, 24, ""),
        (80, 24, "end of answer"),
        (60, 20, "—"),
        (120, 40, ""),
    ] {
        scroll_up_one_line_at_a_time(w, h, end);
    }
}

fn scroll_up_one_line_at_a_time(w: u16, h: u16, end: &str) {
    let mut app = base_app(w, h);
    long_session_ending(&mut app, 40, end);
    let mut screen = Screen::new(w, h);
    let mut before = screen.frame(&mut app);
    let mut seen_first = false;
    for step in 0..3000 {
        // One line up from where the view was drawn (as the wheel does, a line at a time).
        app.scroll = crate::app::Scroll::Top(app.view.top.saturating_sub(1));
        let after = screen.frame(&mut app);
        if after == before {
            seen_first = after.iter().any(|r| r.contains("Question 0"));
            break;
        }
        assert_eq!(
            &after[1..],
            &before[..before.len() - 1],
            "{w}x{h} step {step}: the view must move down by exactly one line\nbefore:\n{}\nafter:\n{}",
            before.join("\n"),
            after.join("\n")
        );
        before = after;
    }
    assert!(seen_first, "scrolling ends at the first message");
}

/// Home in the transcript shows a long session's first message (its height above the view
/// only estimated until then), End goes back to following the end.
#[test]
fn home_in_the_transcript_jumps_to_the_first_message_and_end_back() {
    let mut app = base_app(80, 24);
    long_session_ending(&mut app, 40, "end of answer");
    let mut screen = Screen::new(80, 24);
    let at_end = screen.frame(&mut app).join("\n");
    assert!(!at_end.contains("Question 0"), "{at_end}");
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, crate::app::Focus::Transcript);
    update(&mut app, key(KeyCode::Home));
    let top = screen.frame(&mut app);
    assert!(
        top[0].contains("You"),
        "the first message's header on the first row: {top:#?}"
    );
    assert!(top.join("\n").contains("Question 0"), "{top:#?}");
    update(&mut app, key(KeyCode::End));
    assert_eq!(screen.frame(&mut app).join("\n"), at_end);
}

/// One long paragraph (common in Chinese) grows the message box with its wrapped rows, up
/// to a limit, instead of showing only its last row.
#[test]
fn a_long_paragraph_grows_the_message_box() {
    let mut app = base_app(80, 24);
    let one_row = super::areas(&app, ratatui::layout::Rect::new(0, 0, 80, 24))
        .input
        .height;
    assert_eq!(one_row, 3, "an empty box is one row between its borders");
    let paragraph =
        "出差结束后三十天内提交发票，超出标准的住宿费用需要预算负责人事先审批。".repeat(3);
    app.set_text(&paragraph);
    let grown = super::areas(&app, ratatui::layout::Rect::new(0, 0, 80, 24))
        .input
        .height;
    assert!(grown >= 5, "{grown}");
    let screen = draw(&app, 80, 24);
    assert!(
        screen.contains("出差结束后三十天内"),
        "the start is in view: {screen}"
    );
    // A very long one stops growing and scrolls.
    app.set_text(&paragraph.repeat(20));
    let capped = super::areas(&app, ratatui::layout::Rect::new(0, 0, 80, 24))
        .input
        .height;
    assert!(
        capped > grown && capped <= 24 / 3 + 2,
        "at most a third of the screen, borders aside: {capped}"
    );
}

/// Sessions with the same title are told apart by their time (today) or date (older).
#[test]
fn repeated_session_titles_show_when() {
    let mut app = App::new(setup(true), (100, 30), NOW);
    let mut today = session(1, "hotel limit?", 0, false);
    today.session.updated_ms = NOW - 3_600_000;
    update(
        &mut app,
        Msg::SessionsLoaded(vec![
            today,
            session(2, "hotel limit?", 3, false),
            session(3, "VPN setup", 0, false),
        ]),
    );
    let screen = draw(&app, 100, 30);
    let t = chrono::DateTime::from_timestamp((NOW - 3_600_000) / 1000, 0).unwrap();
    let d = chrono::DateTime::from_timestamp((NOW - 3 * 86_400_000 - 1000) / 1000, 0).unwrap();
    assert!(
        screen.contains(&format!("hotel limit? · {}", t.format("%H:%M"))),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("hotel limit? · {}", d.format("%m-%d"))),
        "{screen}"
    );
    assert!(
        !screen.contains("VPN setup ·"),
        "a unique title has no stamp: {screen}"
    );
}

/// The compare view with three models on a question: one done (with its figures), one
/// streaming, one refused by a budget.
fn compare_app(w: u16, h: u16, models: &[&str]) -> App {
    use crate::app::compare::{Ended, PaneEvent};
    let mut app = base_app(w, h);
    for c in "What is the hotel cap in Shanghai?".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    update(
        &mut app,
        Msg::ModelsLoaded(Ok((models.iter().map(|m| m.to_string()).collect(), NOW))),
    );
    update(&mut app, key(KeyCode::F(5)));
    for m in &models[1..] {
        for c in m.chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        update(&mut app, key(KeyCode::Char(' ')));
        for _ in m.chars() {
            update(&mut app, key(KeyCode::Backspace));
        }
    }
    update(&mut app, key(KeyCode::Enter));
    let run = app.compare.as_ref().unwrap().run;
    let mut pane = |pane: usize, event: PaneEvent| {
        update(&mut app, Msg::Compared { run, pane, event });
    };
    let first =
        "**CNY 800** a night, taxes included.\n\n- Book through the portal\n- Keep the `fapiao`";
    pane(0, PaneEvent::Delta(first.into()));
    pane(
        0,
        PaneEvent::Ended(Box::new(Ended {
            sample: crate::compare::Sample {
                run: 1,
                text: first.into(),
                error: None,
                ttft_ms: Some(420.0),
                total_ms: Some(2310.0),
                prompt_tokens: Some(812),
                completion_tokens: Some(145),
                cost_usd: Some(0.000209),
            },
            record: None,
        })),
    );
    pane(1, PaneEvent::Delta("The cap for Shanghai is".into()));
    if models.len() > 2 {
        pane(
            2,
            PaneEvent::Ended(Box::new(Ended {
                sample: crate::compare::Sample {
                    run: 1,
                    error: Some("not sent: the daily budget of $1.00 is reached ($1.02 spent today); it starts again at midnight".into()),
                    ..Default::default()
                },
                record: None,
            })),
        );
    }
    app
}

#[test]
fn compare_view_side_by_side_and_stacked() {
    let models = ["gpt-4o-mini", "qwen-plus", "deepseek-chat"];
    let mut app = compare_app(120, 40, &models);
    let wide = drawn(&mut app, 120, 40);
    insta::assert_snapshot!("compare_view_120x40", wide);
    // The figures under the done pane are the CLI's, and the refusal is drawn in red.
    assert!(wide.contains("first token 420 ms · total 2.3 s"), "{wide}");
    let t = terminal(&app, 120, 40);
    let buf = t.backend().buffer();
    let red = Theme::default_theme().error.fg;
    let at = (0..40u16)
        .flat_map(|y| (0..120u16).map(move |x| (x, y)))
        .find(|&(x, y)| {
            buf[(x, y)].symbol() == "n"
                && buf[(x + 1, y)].symbol() == "o"
                && buf[(x + 2, y)].symbol() == "t"
                && buf[(x + 4, y)].symbol() == "s"
        })
        .expect("the refusal is drawn");
    assert_eq!(buf[at].fg, red.unwrap());
    // 80x24: two panes stacked, the chosen one taller.
    let mut app = compare_app(80, 24, &models[..2]);
    update(&mut app, key(KeyCode::Tab));
    insta::assert_snapshot!("compare_view_80x24", drawn(&mut app, 80, 24));
}

#[test]
fn compare_picker() {
    for (w, h) in [(120, 40), (80, 24)] {
        let mut app = base_app(w, h);
        for c in "What is the hotel cap in Shanghai?".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        update(
            &mut app,
            Msg::ModelsLoaded(Ok((
                vec![
                    "gpt-4o-mini".into(),
                    "qwen-plus".into(),
                    "llama3.1:8b".into(),
                ],
                NOW,
            ))),
        );
        update(&mut app, key(KeyCode::F(5)));
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Char(' ')));
        insta::assert_snapshot!(format!("compare_picker_{w}x{h}"), draw(&app, w, h));
    }
}

#[test]
fn with_the_history_off_the_status_bar_says_nothing_is_saved() {
    let mut s = setup(true);
    s.history = false;
    let app = App::new(s, (120, 20), NOW);
    let screen = draw(&app, 120, 20);
    assert!(screen.contains("history off: nothing saved"), "{screen}");
    let app = App::new(setup(true), (120, 20), NOW);
    assert!(!draw(&app, 120, 20).contains("nothing saved"));
}

#[test]
fn an_incognito_session_and_a_policy_in_force_show_in_the_status_bar() {
    let mut s = setup(true);
    s.policy.tighten(
        crate::config::policy::PolicyFile {
            allowed_models: Some(vec!["gpt-4o-mini".into()]),
            ..Default::default()
        },
        std::path::Path::new("/etc/clerk/policy.toml"),
    );
    let mut app = App::new(s, (120, 20), NOW);
    let plain = draw(&app, 120, 20);
    assert!(
        plain.contains("· policy") && !plain.contains("incognito"),
        "{plain}"
    );
    update(&mut app, key(KeyCode::F(6)));
    update(&mut app, Msg::StoreSwitched);
    // The notice gone, the status bar as it stays.
    update(&mut app, Msg::Tick(NOW + crate::app::NOTICE_MS + 1));
    insta::assert_snapshot!("status_incognito_policy_120x20", draw(&app, 120, 20));
    for c in "private".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    update(&mut app, key(KeyCode::F(6)));
    insta::assert_snapshot!("dialog_leave_incognito_80x24", draw(&app, 80, 24));
}

/// On a narrow screen the status bar gives way one item at a time, the key hints first
/// (help last), and never hides the model or that nothing is saved; nothing is cut mid-word.
#[test]
fn a_narrow_status_bar_drops_items_whole_and_keeps_the_model_and_incognito() {
    let last_row = |screen: &str| {
        screen
            .lines()
            .last()
            .unwrap_or("")
            .trim_matches('"')
            .to_string()
    };
    for language in [
        crate::i18n::Language::English,
        crate::i18n::Language::Chinese,
    ] {
        let _l = crate::i18n::scoped(language);
        let mut s = setup(true);
        s.policy.tighten(
            crate::config::policy::PolicyFile {
                allowed_models: Some(vec!["gpt-4o-mini".into()]),
                ..Default::default()
            },
            std::path::Path::new("/etc/clerk/policy.toml"),
        );
        let mut app = App::new(s, (120, 20), NOW);
        update(&mut app, key(KeyCode::F(6)));
        update(&mut app, Msg::StoreSwitched);
        update(&mut app, Msg::Tick(NOW + crate::app::NOTICE_MS + 1));
        let incognito = tr!("app.status.incognito").into_owned();
        let help = tr!("app.hint.help").into_owned();
        let policy = tr!("app.status.policy").into_owned();
        let wide = last_row(&draw(&app, 120, 20));
        assert!(wide.contains(&help) && wide.contains(&policy), "{wide}");
        let mut seen_help_alone = false;
        for w in (40..=100).rev() {
            let row = last_row(&draw(&app, w, 20));
            assert!(
                row.contains("gpt-4o-mini") && row.contains(&incognito),
                "{w}: {row}"
            );
            assert!(!row.contains('…'), "cut at {w}: {row}");
            // Help is the last hint to go, and the others go before it.
            if row.contains(&help) && !row.contains(&tr!("app.hint.send").into_owned()) {
                seen_help_alone = true;
            }
        }
        assert!(seen_help_alone, "the help hint never stood alone");
        // What the bar says in the middle (no key yet) keeps its room: the hints give way.
        let mut s = setup(true);
        s.has_key = false;
        let bare = App::new(s, (60, 20), NOW);
        let row = last_row(&draw(&bare, 60, 20));
        let no_key = tr!("app.status.no_key", key = "F3").into_owned();
        assert!(row.contains(&no_key), "{row}");
        // The help hint gives way before the policy does.
        assert!(
            (40..=100).any(|w| {
                let row = last_row(&draw(&app, w, 20));
                row.contains(&policy) && !row.contains(&help)
            }),
            "the policy went before the help hint"
        );
    }
}
