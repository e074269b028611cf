//! Snapshots of grounded sessions: the status bar naming the knowledge base, the sources
//! under a grounded answer (cited ones only; an answer citing none, and one not asked,
//! shown as not found with the passages), the knowledge base picker, an answer's sources
//! and one passage — at 120x40, 60x20 and 80x24.

use super::*;
use crate::app::KnowledgeBase;
use crate::store::{Grounding, Source};

fn bases() -> Vec<KnowledgeBase> {
    vec![
        KnowledgeBase {
            name: "handbook".into(),
            about: "/srv/shared/procedures, ~/Shared/IT/handbook.pdf".into(),
        },
        KnowledgeBase {
            name: "hr".into(),
            about: "/srv/shared/hr".into(),
        },
    ]
}

/// Three passages of the handbook; `cited` by number; `asked`: sent to the model.
fn grounding(cited: &[usize], asked: bool, language: &str) -> Grounding {
    let passages = [
        (
            "finance/travel-expense.md",
            "Travel and expenses › Hotels › Limits by city",
            None,
            "The nightly hotel limit, taxes included, depends on the city: Shanghai CNY 900, Beijing CNY 850, other cities CNY 600.\n\nA higher rate needs the written approval of your department head before booking.",
        ),
        (
            "hr/leave-policy.pdf",
            "Annual leave › Carry-over",
            Some(4),
            "Up to five days of unused annual leave can be carried over to the next year.",
        ),
        (
            "it/vpn.md",
            "",
            None,
            "Connect to vpn.example.com with your badge number.",
        ),
    ];
    Grounding {
        bases: vec!["handbook".into()],
        language: language.into(),
        asked,
        passages: passages
            .iter()
            .enumerate()
            .map(|(i, (path, section, page, text))| Source {
                base: "handbook".into(),
                path: (*path).into(),
                file: format!("/srv/shared/procedures/{path}").into(),
                section: (*section).into(),
                page: *page,
                text: (*text).into(),
                cited: cited.contains(&(i + 1)),
            })
            .collect(),
    }
}

/// A snapshot kept with the others, in `src/ui/snapshots/`.
fn snapshot(name: String, screen: String) {
    insta::with_settings!({ snapshot_path => "../snapshots" }, {
        insta::assert_snapshot!(name, screen);
    });
}

fn grounded(id: i64, content: &str, g: Grounding) -> Message {
    let mut m = msg(id, Role::Assistant, content, MessageStatus::Complete);
    m.grounding = Some(g);
    m
}

/// The first question asked.
const HOTEL: &str = "What is the hotel limit in Shanghai?";

/// Session 1 grounded on the handbook, with three grounded answers: one citing [1] and
/// [3], one citing none, and a "not found" nothing was asked for.
fn grounded_app(w: u16, h: u16) -> App {
    let mut app = base_app(w, h);
    app.setup.knowledge = bases();
    app.sessions
        .iter_mut()
        .filter(|s| s.id == 1)
        .for_each(|s| s.knowledge = Some("handbook".into()));
    open_transcript(
        &mut app,
        vec![
            msg(10, Role::User, HOTEL, MessageStatus::Complete),
            grounded(
                11,
                "It is **CNY 900** a night, taxes included [1]; connect through the VPN to book [3].",
                grounding(&[1, 3], true, "en"),
            ),
            msg(
                12,
                Role::User,
                "Can I bring my dog?",
                MessageStatus::Complete,
            ),
            grounded(13, "The passages do not say.", grounding(&[], true, "en")),
            msg(
                14,
                Role::User,
                "可以带宠物来办公室吗？",
                MessageStatus::Complete,
            ),
            grounded(15, "知识库中没有找到相关规定", grounding(&[], false, "zh")),
        ],
    );
    app
}

#[test]
fn a_grounded_session_shows_its_base_and_each_answers_sources() {
    for (w, h) in [(120, 40), (60, 20), (80, 24)] {
        let mut app = grounded_app(w, h);
        let screen = drawn(&mut app, w, h);
        let status = screen.lines().last().unwrap_or_default().to_string();
        assert!(status.contains("kb: handbook"), "{w}x{h}: {status}");
        snapshot(format!("grounded_transcript_{w}x{h}"), screen);
    }
    let mut app = grounded_app(120, 40);
    let screen = drawn(&mut app, 120, 40);
    // Only the sources cited, from clerk's own metadata.
    assert!(
        screen.contains("Sources (Alt+S, then 1–9, shows one):"),
        "{screen}"
    );
    assert!(
        screen.contains("[1] finance/travel-expense.md › Travel and expenses › Hotels ›"),
        "{screen}"
    );
    assert!(screen.contains("[3] it/vpn.md"), "{screen}");
    // The answer citing none: not found, with every passage to read.
    assert!(
        screen.contains("the answer cites none of the passages"),
        "{screen}"
    );
    assert!(
        screen.contains("[2] hr/leave-policy.pdf › Annual leave › Carry-over, page 4"),
        "{screen}"
    );
    // Nothing asked: the closest passages, in the question's language.
    assert!(screen.contains("最接近的段落"), "{screen}");
}

#[test]
fn the_knowledge_base_picker() {
    both("dialog_knowledge", |w, h| {
        let mut app = grounded_app(w, h);
        app.dialog = Some(Dialog::Knowledge { selected: 2 });
        app
    });
    // No base configured: how to add one, at 80x24.
    let mut app = base_app(80, 24);
    app.dialog = Some(Dialog::Knowledge { selected: 0 });
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("clerk kb add NAME"), "{screen}");
    snapshot("dialog_knowledge_none_80x24".into(), screen);
}

#[test]
fn an_answers_sources_and_one_passage() {
    for (w, h) in [(120, 40), (60, 20), (80, 24)] {
        let mut app = grounded_app(w, h);
        app.dialog = Some(Dialog::Sources {
            grounding: grounding(&[1, 3], true, "en"),
            selected: 0,
        });
        snapshot(format!("dialog_sources_{w}x{h}"), draw(&app, w, h));
        app.dialog = Some(Dialog::Passage {
            grounding: grounding(&[1, 3], true, "en"),
            n: 2,
            scroll: 0,
        });
        let screen = draw(&app, w, h);
        for part in [
            "hr/leave-policy.pdf",
            "Annual leave › Carry-over",
            "page 4",
            "five days",
        ] {
            assert!(screen.contains(part), "{w}x{h} {part}: {screen}");
        }
        snapshot(format!("dialog_passage_{w}x{h}"), screen);
    }
    // A not-found answer's list says nothing was sent.
    let mut app = grounded_app(80, 24);
    app.dialog = Some(Dialog::Sources {
        grounding: grounding(&[], false, "en"),
        selected: 2,
    });
    let said = "not found in the procedures: nothing was sent";
    assert!(draw(&app, 80, 24).contains(said), "{said}");
}

#[test]
fn a_long_passage_scrolls_to_its_last_line() {
    let mut g = grounding(&[1], true, "en");
    g.passages[0].text = (1..=60)
        .map(|i| format!("Line {i} of the travel policy."))
        .collect::<Vec<_>>()
        // Paragraphs: a Markdown passage joins lines that are not.
        .join("\n\n");
    let mut app = grounded_app(80, 24);
    app.dialog = Some(Dialog::Passage {
        grounding: g,
        n: 1,
        scroll: 0,
    });
    let first = drawn(&mut app, 80, 24);
    assert!(first.contains("↑↓ scroll"), "{first}");
    assert!(!first.contains("Line 60 of"), "{first}");
    let max = app.view.dialog_max;
    assert!(max > 30, "{max}");
    for _ in 0..max + 5 {
        update(&mut app, key(KeyCode::Down));
    }
    let last = drawn(&mut app, 80, 24);
    assert!(last.contains("Line 60 of"), "{last}");
    assert!(
        last.contains("o opens /srv/shared/procedures/finance/travel-expense.md"),
        "{last}"
    );
    // One Up is one row back (the scroll stopped at the end).
    update(&mut app, key(KeyCode::Up));
    assert!(matches!(app.dialog, Some(Dialog::Passage { scroll, .. }) if scroll == max - 1));
}

#[test]
fn a_table_passage_is_drawn_as_a_table_and_a_text_file_line_by_line() {
    let mut g = grounding(&[1], true, "en");
    g.passages[0].path = "tables/hotel-limits.csv".into();
    g.passages[0].text =
        "| City | Nightly limit |\n|---|---|\n| Shanghai | 900 |\n| Chengdu | 600 |".into();
    let mut app = grounded_app(80, 24);
    app.dialog = Some(Dialog::Passage {
        grounding: g.clone(),
        n: 1,
        scroll: 0,
    });
    let screen = drawn(&mut app, 80, 24);
    assert!(screen.contains("Shanghai"), "{screen}");
    assert!(
        !screen.contains("|---|"),
        "the table is drawn, not its Markdown: {screen}"
    );
    // A plain text file keeps its lines and characters as they are.
    g.passages[0].path = "hr/leave.txt".into();
    app.dialog = Some(Dialog::Passage {
        grounding: g,
        n: 1,
        scroll: 0,
    });
    let screen = drawn(&mut app, 80, 24);
    assert!(screen.contains("|---|---|"), "{screen}");
}

#[test]
fn the_sources_heading_is_in_the_interfaces_language_with_its_key_hint() {
    // A Chinese question in the English interface: the heading and its hint in English
    // (they were "来源 (Alt+S, then 1–9, shows one):", two languages on one line).
    let app = grounded_app(120, 40);
    let lines = crate::ui::knowledge::sources_lines(&app, &grounding(&[1], true, "zh"));
    assert!(lines[0].starts_with("Sources ("), "{lines:?}");
    assert!(!lines[0].contains("来源"), "{lines:?}");
    assert_eq!(
        lines[1],
        "[1] finance/travel-expense.md › Travel and expenses › Hotels › Limits by city"
    );
    // An English question in the Chinese interface: all Chinese.
    let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
    let lines = crate::ui::knowledge::sources_lines(&app, &grounding(&[1], true, "en"));
    assert!(lines[0].starts_with("来源（"), "{lines:?}");
    assert!(!lines[0].contains("Sources"), "{lines:?}");
}
