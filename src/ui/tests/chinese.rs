//! The app in Simplified Chinese: snapshots of the main screen and every dialog at 80x24
//! and 120x40, rendered on this thread only (`i18n::scoped`, never `i18n::set`: tests run
//! side by side in one process), and a check that no English text of the app's own is left
//! on any of them.
//!
//! The fixtures are Chinese too (sessions, questions, answers, templates, passages), so what
//! English remains on a screen is either one of the words people keep in Chinese software
//! ([`ALLOWED`]: key names, units, file formats, "clerk", "token") or text the app forgot to
//! put behind `tr!`. A few screens show text of other modules (the compare figures, the
//! secrets scanner's labels); those words are listed with the screen, and say whose they are.

use super::*;
use crate::app::attach::{Attached, FileMeta};
use crate::app::compare::{Ended, PaneEvent};
use crate::app::{FieldSpec, KnowledgeBase, TemplateItem};
use crate::i18n::{Language, scoped};
use crate::store::{Grounding, Source};
use crate::templates::VarKind;

/// ASCII words that may stay on a Chinese screen: key names, units and formats, names of
/// things (product, commands, config keys, markers) that are never translated, and the
/// fixtures' model names and code.
const ALLOWED: &[&str] = &[
    // Keys.
    "Ctrl",
    "Alt",
    "Shift",
    "Enter",
    "Esc",
    "Tab",
    "Space",
    "Backspace",
    "Delete",
    "Del",
    "Ins",
    "Home",
    "End",
    "PgUp",
    "PgDn",
    "BackTab",
    "Left",
    "Right",
    "Up",
    "Down",
    "prefix",
    // Product, units, formats, protocols.
    "clerk",
    "token",
    "API",
    "USD",
    "CNY",
    "HTTP",
    "OSC",
    "PDF",
    "Word",
    "Excel",
    "PowerPoint",
    "HTML",
    "CSV",
    "TSV",
    "Markdown",
    "VPN",
    "tmux",
    // Config keys, markers and placeholders shown as they are written.
    "REDACTED",
    "kind",
    "NAME",
    "FOLDER",
    "EDITOR",
    "scrub",
    "secrets",
    "block",
    "budget",
    // The fixtures: model names, the profile, code in an answer, a file name.
    "gpt",
    "mini",
    "qwen",
    "plus",
    "deepseek",
    "chat",
    "llama",
    "instruct",
    "work",
    "rust",
    "main",
    "println",
    "dark",
    "light",
    "high",
    "contrast",
    "gruvbox",
    "docx",
];

/// Runs of 3 or more ASCII letters on `screen` that are not allowed: text the app shows in
/// English on a Chinese screen. Text between backticks (commands, names) and words with a
/// path's or a file's punctuation (`docs/keybindings.md`, `@kb:NAME`) are not looked at.
fn english_left(screen: &str, also: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for line in screen.lines() {
        // `TestBackend` notes the cells a wide character covers after the line.
        let line = line
            .split("\" Hidden by multi-width symbols:")
            .next()
            .unwrap_or_default();
        // Backticked spans are commands and names (`clerk usage`).
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
            plain.push(' ');
        }
        for word in plain.split(|c: char| c.is_whitespace() || !c.is_ascii()) {
            if word.contains(['/', '.', '@', ':', '_', '=', '$', '-', '~', '{']) {
                continue;
            }
            for run in word.split(|c: char| !c.is_ascii_alphabetic()) {
                if run.len() >= 3 && !ALLOWED.contains(&run) && !also.contains(&run) {
                    found.push(run.to_string());
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// A screen in Chinese at 120x40 and 80x24: snapshotted, and checked for English left.
fn zh(name: &str, also: &[&str], build: impl Fn(u16, u16) -> App) {
    let _zh = scoped(Language::Chinese);
    for (w, h) in [(120, 40), (80, 24)] {
        let mut app = build(w, h);
        let screen = drawn(&mut app, w, h);
        let left = english_left(&screen, also);
        assert!(
            left.is_empty(),
            "{name} {w}x{h}: English left on a Chinese screen: {left:?}\n{screen}"
        );
        snapshot(format!("zh_{name}_{w}x{h}"), screen);
    }
}

/// A snapshot kept with the others, in `src/ui/snapshots/`.
fn snapshot(name: String, screen: String) {
    insta::with_settings!({ snapshot_path => "../snapshots" }, {
        insta::assert_snapshot!(name, screen);
    });
}

fn zh_session(id: i64, title: &str, age_days: i64, pinned: bool) -> SessionSummary {
    session(id, title, age_days, pinned)
}

/// The main screen's sessions in Chinese: pinned, today, yesterday, older.
fn zh_app(w: u16, h: u16) -> App {
    let mut app = App::new(setup(true), (w, h), NOW);
    update(
        &mut app,
        Msg::SessionsLoaded(vec![
            zh_session(3, "季度预算审核", 0, true),
            zh_session(1, "我想了解差旅报销的流程", 0, false),
            zh_session(2, "新笔记本电脑上的 VPN 设置", 1, false),
            zh_session(4, "合同续签记录", 20, false),
        ]),
    );
    app
}

const ZH_ANSWER: &str = "## 差旅报销流程\n\n请在出差结束后 **30 天内** 提交以下材料：\n\n- 发票原件\n- 经部门负责人签字的审批单\n\n| 项目 | 金额 | 说明 |\n|---|---:|---|\n| 机票 | 1,200 元 | 经济舱 |\n| 酒店 | 450 元 | 两晚 🏨 |\n\n```rust\nfn main() {\n    println!(\"报销\");\n}\n```\n\n> 如有疑问，请咨询财务部。";

fn zh_transcript(w: u16, h: u16) -> App {
    let mut app = zh_app(w, h);
    open_transcript(
        &mut app,
        vec![
            msg(
                10,
                Role::User,
                "我想了解差旅报销的流程",
                MessageStatus::Complete,
            ),
            msg(11, Role::Assistant, ZH_ANSWER, MessageStatus::Complete),
        ],
    );
    app
}

fn zh_dialog(dialog: Dialog) -> impl Fn(u16, u16) -> App {
    move |w, h| {
        let mut app = zh_app(w, h);
        app.dialog = Some(dialog.clone());
        app
    }
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        update(app, key(KeyCode::Char(c)));
    }
}

#[test]
fn the_main_screen_in_chinese() {
    zh("welcome", &[], zh_app);
    zh("transcript", &[], zh_transcript);
    zh("streaming", &[], |w, h| {
        let mut app = zh_app(w, h);
        open_transcript(&mut app, vec![]);
        typed(&mut app, "总结一下 VPN 的设置步骤");
        update(&mut app, key(KeyCode::Enter));
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
        text.push("1. 安装客户端\n2. 使用工号登录");
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
    zh("errors", &[], |w, h| {
        let mut app = zh_app(w, h);
        let mut half = msg(
            11,
            Role::Assistant,
            "回答到一半",
            MessageStatus::Interrupted,
        );
        half.error = Some("连接中断".into());
        open_transcript(
            &mut app,
            vec![
                msg(10, Role::User, "一个很长的问题", MessageStatus::Complete),
                half,
            ],
        );
        update(
            &mut app,
            Msg::Failed("API 密钥被拒绝（HTTP 401）。请运行 `clerk auth login`".into()),
        );
        app
    });
    zh("paste_chips", &[], |w, h| {
        let mut app = zh_app(w, h);
        for i in 0..5 {
            update(
                &mut app,
                Msg::Paste((0..40).map(|l| format!("第 {i} 段第 {l} 行\n")).collect()),
            );
        }
        app
    });
    // The chip's key hint is cut at the box's edge ("Backspac…") as it is in English at this
    // width.
    zh("attachment_chip", &["Backspac"], |w, h| {
        let mut app = zh_app(w, h);
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
        app
    });
    zh("long_notice", &[], |w, h| {
        let mut app = zh_transcript(w, h);
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, Msg::Failed("无法连接到服务端：连接被拒绝。请检查网络和代理设置，或者稍后再试；如果问题一直存在，请联系管理员检查证书和代理配置。".into()));
        app
    });
    zh("sessions_focused", &[], |w, h| {
        let mut app = zh_transcript(w, h);
        update(&mut app, key(KeyCode::Tab));
        app
    });
    zh("editing", &[], |w, h| {
        let mut app = zh_transcript(w, h);
        app.focus = crate::app::Focus::Transcript;
        app.selected_turn = Some(1);
        update(&mut app, key(KeyCode::Enter));
        assert!(app.editing.is_some());
        app
    });
}

#[test]
fn the_status_bar_in_chinese_fits_80_columns() {
    let _zh = scoped(Language::Chinese);
    let mut s = setup(true);
    s.policy.tighten(
        crate::config::policy::PolicyFile {
            allowed_models: Some(vec!["gpt-4o-mini".into()]),
            ..Default::default()
        },
        std::path::Path::new("/etc/clerk/policy.toml"),
    );
    let mut app = App::new(s, (80, 24), NOW);
    update(&mut app, key(KeyCode::F(6)));
    update(&mut app, Msg::StoreSwitched);
    update(&mut app, Msg::Tick(NOW + crate::app::NOTICE_MS + 1));
    typed(&mut app, "私密的问题");
    let screen = draw(&app, 80, 24);
    let status = screen.lines().last().unwrap_or_default().to_string();
    assert!(
        status.contains("无痕：不保存") && status.contains("策略"),
        "{status}"
    );
    snapshot("zh_status_incognito_policy_80x24".into(), screen);
    update(&mut app, key(KeyCode::F(6)));
    let screen = draw(&app, 80, 24);
    assert!(english_left(&screen, &[]).is_empty(), "{screen}");
    snapshot("zh_dialog_leave_incognito_80x24".into(), screen);
    // With the history off, too.
    let mut s = setup(true);
    s.history = false;
    let screen = draw(&App::new(s, (80, 24), NOW), 80, 24);
    assert!(screen.contains("历史已关闭：不保存"), "{screen}");
}

fn search_hit() -> SearchHit {
    SearchHit {
        message_id: 11,
        session_id: 1,
        session_title: "我想了解差旅报销的流程".into(),
        role: Role::Assistant,
        snippet: "## 差旅\u{E000}报销\u{E001}流程 请在出差结束后".into(),
        created_ms: NOW,
        rank: -1.0,
    }
}

#[test]
fn the_common_dialogs_in_chinese() {
    zh("dialog_help", &[], zh_dialog(Dialog::Help { scroll: 0 }));
    zh(
        "dialog_search",
        &[],
        zh_dialog(Dialog::Search {
            query: "报销".into(),
            hits: vec![search_hit()],
            selected: 0,
        }),
    );
    zh(
        "dialog_rename",
        &[],
        zh_dialog(Dialog::Rename {
            id: 2,
            title: "新笔记本电脑上的 VPN 设置".into(),
        }),
    );
    zh(
        "dialog_delete",
        &[],
        zh_dialog(Dialog::ConfirmDelete {
            id: 2,
            title: "新笔记本电脑上的 VPN 设置".into(),
        }),
    );
    zh("dialog_quit", &[], zh_dialog(Dialog::ConfirmQuit));
    zh(
        "dialog_themes",
        &[],
        zh_dialog(Dialog::Themes {
            selected: 1,
            original: "dark".into(),
        }),
    );
    zh("dialog_first_run_key", &[], |w, h| {
        let mut s = setup(false);
        s.key_problem = Some("系统钥匙串不可用。请设置 CLERK_API_KEY 或 api_key_cmd".into());
        App::new(s, (w, h), NOW)
    });
    zh("dialog_refused", &[], |w, h| {
        let mut app = zh_app(w, h);
        app.dialog = Some(Dialog::Refused {
            text: "未发送：已达到每月 $50.00 的预算（已花费 $50.12）；2027-01-01 重新开始".into(),
        });
        app
    });
    zh("dialog_system_prompt", &[], |w, h| {
        let mut app = zh_app(w, h);
        let mut travel = zh_session(1, "我想了解差旅报销的流程", 0, false);
        travel.session.system_prompt =
            Some("你是财务部的助手。请引用你所依据的报销制度条款。".into());
        update(&mut app, Msg::SessionsLoaded(vec![travel]));
        open_transcript(&mut app, vec![]);
        update(&mut app, key(KeyCode::F(2)));
        typed(&mut app, "保持简短。");
        app
    });
    zh("dialog_models", &[], |w, h| {
        let mut app = zh_app(w, h);
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
        app
    });
    zh("dialog_usage", &[], |w, h| {
        let mut app = zh_app(w, h);
        update(&mut app, key(KeyCode::F(4)));
        update(&mut app, Msg::UsageLoaded(Ok(Box::new(usage_view()))));
        app
    });
    zh("dialog_attach", &[], |w, h| {
        let mut app = zh_app(w, h);
        update(&mut app, ctrl('o'));
        update(
            &mut app,
            Msg::PathCompleted {
                typed: String::new(),
                common: String::new(),
                candidates: vec![
                    "文档/".into(),
                    "Q3 报告.pdf".into(),
                    "会议纪要.docx".into(),
                    "笔记.md".into(),
                ],
            },
        );
        update(&mut app, key(KeyCode::Down));
        app
    });
    // The scanner's labels ("AWS access key ID") are the documents module's.
    // ...and the key typed in the box is the user's text.
    zh(
        "dialog_secrets",
        &["AWS", "access", "key", "AKIA", "AKIAIOSFODNN", "EXAMPLE"],
        |w, h| {
            let mut app = zh_app(w, h);
            typed(
                &mut app,
                &format!("今天用 {} 部署", concat!("AKIA", "IOSFODNN7EXAMPLE")),
            );
            update(&mut app, key(KeyCode::Enter));
            app
        },
    );
}

fn zh_templates() -> Vec<TemplateItem> {
    let field = |name: &str, label: &str, kind, required, options: &[&str]| FieldSpec {
        name: name.into(),
        label: label.into(),
        kind,
        required,
        default: None,
        help: Some(format!("{label}的说明。")),
        options: options.iter().map(|s| s.to_string()).collect(),
    };
    let item = |id: &str, title: &str, category: &str, workflow: bool| TemplateItem {
        id: id.into(),
        title: title.into(),
        description: format!("{title}：把文档整理成要点。"),
        category: category.into(),
        tags: vec!["工作".into()],
        origin: "内置".into(),
        problem: None,
        steps: if workflow {
            vec!["纪要".into(), "待办".into(), "定稿".into()]
        } else {
            vec!["回答".into()]
        },
        workflow,
        preview: "请总结下面的文档。\n\n{{document}}".into(),
        fields: vec![
            field("document", "文档", VarKind::Document, true, &[]),
            field(
                "length",
                "长度",
                VarKind::Choice,
                true,
                &["简短", "适中", "详细"],
            ),
            field("team", "团队名称", VarKind::Text, false, &[]),
            field("source", "源文件", VarKind::File, false, &[]),
            field("words", "字数", VarKind::Number, false, &[]),
        ],
    };
    let mut broken = item("old-report", "旧报告", "已损坏", false);
    broken.problem = Some("old-report.toml:3:1: 未知字段 `titel`".into());
    vec![
        item("summarize", "总结文档", "文档", false),
        item("compare-documents", "对比两份文档", "文档", true),
        item("meeting-minutes", "会议记录整理成纪要", "会议", true),
        broken,
    ]
}

#[test]
fn the_template_dialogs_in_chinese() {
    zh("dialog_templates", &[], |w, h| {
        let mut app = zh_app(w, h);
        app.templates = zh_templates();
        app.dialog = Some(Dialog::Templates {
            query: TextField::default(),
            selected: 1,
        });
        app
    });
    zh("dialog_template_form", &[], |w, h| {
        let mut app = zh_app(w, h);
        app.templates = zh_templates();
        let mut form = crate::app::Form::new(&app.templates[0], None);
        form.fields[0].value = (1..=120)
            .map(|i| format!("第 {i} 行 报销\n"))
            .collect::<String>()
            .into();
        form.fields[3].value = "~/笔记/q3".into();
        form.fields[4].value = "十".into();
        form.fields[4].problem = crate::app::forms::field_problem(&form.fields[4]);
        form.focus = 3;
        form.completions = vec!["q3-预算.md".into(), "q3-计划.txt".into()];
        app.dialog = Some(Dialog::Form(form));
        app
    });
    // The scanner's labels and masked previews are the documents module's; "document" is
    // the template's variable's name (an identifier of its file).
    zh(
        "dialog_template_secrets",
        &[
            "AWS",
            "access",
            "key",
            "connection",
            "string",
            "AKIA",
            "Wint",
            "document",
            "Database",
            "password",
        ],
        |w, h| {
            let mut app = zh_app(w, h);
            update(&mut app, ctrl('p'));
            update(&mut app, Msg::TemplatesLoaded(zh_templates()));
            update(&mut app, key(KeyCode::Enter));
            update(
                &mut app,
                Msg::Paste(format!(
                    "部署说明\nAWS 密钥 {}\nDATABASE_URL=postgres://billing:Winter2024pass@db.internal:5432/billing\n",
                    concat!("AKIA", "IOSFODNN7EXAMPLE")
                )),
            );
            update(&mut app, key(KeyCode::F(5)));
            app
        },
    );
}

fn zh_grounding(cited: &[usize], asked: bool) -> Grounding {
    let passages = [
        (
            "财务/差旅报销.md",
            "差旅与费用 › 酒店 › 各城市标准",
            None,
            "每晚酒店标准（含税）因城市而异：上海 900 元，北京 850 元，其他城市 600 元。\n\n超出标准须在预订前取得部门负责人的书面批准。",
        ),
        (
            "人事/休假制度.pdf",
            "年假 › 结转",
            Some(4),
            "未休年假最多可结转五天到下一年。",
        ),
    ];
    Grounding {
        bases: vec!["员工手册".into()],
        language: "zh".into(),
        asked,
        passages: passages
            .iter()
            .enumerate()
            .map(|(i, (path, section, page, text))| Source {
                base: "员工手册".into(),
                path: (*path).into(),
                file: format!("/srv/共享/制度/{path}").into(),
                section: (*section).into(),
                page: *page,
                text: (*text).into(),
                cited: cited.contains(&(i + 1)),
            })
            .collect(),
    }
}

fn zh_grounded_app(w: u16, h: u16) -> App {
    let mut s = setup(true);
    s.knowledge = vec![
        KnowledgeBase {
            name: "员工手册".into(),
            about: "/srv/共享/制度, ~/共享/IT/手册.pdf".into(),
        },
        KnowledgeBase {
            name: "人事".into(),
            about: "/srv/共享/人事".into(),
        },
    ];
    let mut app = App::new(s, (w, h), NOW);
    let mut one = zh_session(1, "上海的酒店标准是多少？", 0, false);
    one.session.knowledge = Some("员工手册".into());
    update(&mut app, Msg::SessionsLoaded(vec![one]));
    let mut answer = msg(
        11,
        Role::Assistant,
        "上海每晚 900 元，含税 [1]。",
        MessageStatus::Complete,
    );
    answer.grounding = Some(zh_grounding(&[1], true));
    open_transcript(
        &mut app,
        vec![
            msg(
                10,
                Role::User,
                "上海的酒店标准是多少？",
                MessageStatus::Complete,
            ),
            answer,
        ],
    );
    app
}

#[test]
fn the_knowledge_dialogs_in_chinese() {
    zh("grounded_transcript", &[], zh_grounded_app);
    zh("dialog_knowledge", &[], |w, h| {
        let mut app = zh_grounded_app(w, h);
        app.dialog = Some(Dialog::Knowledge { selected: 1 });
        app
    });
    zh("dialog_knowledge_none", &[], |w, h| {
        let mut app = zh_app(w, h);
        app.dialog = Some(Dialog::Knowledge { selected: 0 });
        app
    });
    zh("dialog_sources", &[], |w, h| {
        let mut app = zh_grounded_app(w, h);
        app.dialog = Some(Dialog::Sources {
            grounding: zh_grounding(&[1], true),
            selected: 0,
        });
        app
    });
    zh("dialog_passage", &[], |w, h| {
        let mut app = zh_grounded_app(w, h);
        app.dialog = Some(Dialog::Passage {
            grounding: zh_grounding(&[1], true),
            n: 2,
            scroll: 0,
        });
        app
    });
}

/// A comparison of `models` on a Chinese question: the first done, the second writing,
/// the third (if any) refused.
fn zh_compare_app(w: u16, h: u16, models: &[&str]) -> App {
    let mut app = zh_app(w, h);
    typed(&mut app, "上海的酒店标准是多少？");
    update(
        &mut app,
        Msg::ModelsLoaded(Ok((models.iter().map(|m| m.to_string()).collect(), NOW))),
    );
    update(&mut app, key(KeyCode::F(5)));
    for m in &models[1..] {
        typed(&mut app, m);
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
    let first = "**每晚 800 元**，含税。\n\n- 通过差旅平台预订\n- 保留发票";
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
    pane(1, PaneEvent::Delta("上海的标准是".into()));
    if models.len() > 2 {
        pane(
            2,
            PaneEvent::Ended(Box::new(Ended {
                sample: crate::compare::Sample {
                    run: 1,
                    error: Some("未发送：已达到每日 $1.00 的预算".into()),
                    ..Default::default()
                },
                record: None,
            })),
        );
    }
    app
}

#[test]
fn the_compare_screens_in_chinese() {
    zh("compare_picker", &[], |w, h| {
        let mut app = zh_app(w, h);
        typed(&mut app, "上海的酒店标准是多少？");
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
        app
    });
    // The figures under a done pane ("first token 420 ms · total 2.3 s") are
    // `compare::report`'s, shared with `clerk compare`.
    let figures = ["first", "total", "tokens", "out"];
    zh("compare_view", &figures, |w, h| {
        let models = ["gpt-4o-mini", "qwen-plus", "deepseek-chat"];
        let n = if w >= 120 { 3 } else { 2 };
        zh_compare_app(w, h, &models[..n])
    });
}

/// The check itself: an English literal on a Chinese screen is found, the allowed words
/// and backticked commands are not.
#[test]
fn english_left_on_a_chinese_screen_is_found() {
    assert_eq!(
        english_left("│ 删除会话 · Enter 保存 · press y to confirm │", &[]),
        ["confirm", "press"]
    );
    assert!(english_left("按 Ctrl+S 发送 · `clerk usage` 查看 · docs/keys.md", &[]).is_empty());
    assert_eq!(
        english_left("已添加 report", &["report"]),
        Vec::<String>::new()
    );
}

/// The "before sending" dialog in Chinese, for a message `tokens` long that `room` holds
/// (or not: `parts`), costing `cost` against a `limit`.
fn zh_before_send(
    w: u16,
    h: u16,
    tokens: u64,
    parts: Option<(usize, usize)>,
    cost: f64,
    limit: f64,
) -> App {
    let mut app = zh_app(w, h);
    let doc: String = (0..2_000)
        .map(|i| format!("第 {i} 行：报销制度条款\n"))
        .collect();
    update(&mut app, Msg::Paste(doc));
    typed(&mut app, "请总结");
    let fx = update(&mut app, key(KeyCode::Enter));
    let Some(crate::app::Effect::Check(out)) = fx.first() else {
        panic!("expected a check, got {} effect(s)", fx.len())
    };
    let check = crate::app::attach::Check {
        seq: out.seq,
        outgoing: out.clone(),
        found: Vec::new(),
        redacted: None,
        tokens,
        room: Some(123_904),
        parts,
        cost: Some(cost),
        over_limit: cost > limit,
        limit,
        redact: None,
    };
    update(&mut app, Msg::Checked(Box::new(check)));
    app
}

#[test]
fn the_before_sending_dialogs_in_chinese() {
    // Too long for the window: read in parts.
    zh("dialog_before_send_long", &[], |w, h| {
        zh_before_send(w, h, 2_600_000, Some((330, 345)), 0.41, 0.05)
    });
    // It fits, but costs more than the per-request limit.
    zh("dialog_before_send_cost", &[], |w, h| {
        zh_before_send(w, h, 90_000, None, 0.08, 0.05)
    });
}

#[test]
fn template_search_sources_not_asked_and_a_too_small_screen_in_chinese() {
    zh("dialog_templates_search", &[], |w, h| {
        let mut app = zh_app(w, h);
        app.templates = zh_templates();
        app.dialog = Some(Dialog::Templates {
            query: "会议".into(),
            selected: 0,
        });
        app
    });
    // Nothing in the base matched: the model was not asked, the passages are still listed.
    zh("dialog_sources_not_asked", &[], |w, h| {
        let mut app = zh_grounded_app(w, h);
        app.dialog = Some(Dialog::Sources {
            grounding: zh_grounding(&[], false),
            selected: 0,
        });
        app
    });
    let _zh = scoped(Language::Chinese);
    for (w, h) in [(30, 8), (20, 6)] {
        let app = zh_app(w, h);
        let screen = draw(&app, w, h);
        let left = english_left(&screen, &[]);
        assert!(left.is_empty(), "{w}x{h}: {left:?}\n{screen}");
        assert!(screen.contains('窗'), "{screen}");
        snapshot(format!("zh_too_small_{w}x{h}"), screen);
    }
}
