//! Store benchmarks at the size the issue names: 10,000 sessions and 200,000 messages of
//! mixed English and Chinese text. Measures the session list, three searches, and the
//! admin policy's retention purge (one old session deleted, the search index merged, the
//! WAL emptied).
//!
//! `cargo bench --bench store`. The database is built once per run in a temporary folder
//! (about 20 s), or kept at `$CLERK_BENCH_DB` when that is set (reused if it exists), so
//! `benches/cli.sh` can time the real binary against the same data.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use clerk::store::{MessageStatus, NewMessage, NewSession, Role, Store};
use criterion::{Criterion, criterion_group, criterion_main};

const SESSIONS: usize = 10_000;
const MESSAGES_PER_SESSION: usize = 20;
/// Inserted into a few messages only.
const RARE_WORD: &str = "zyxquark";

#[path = "support/lcg.rs"]
mod lcg;
use lcg::Lcg;

const ENGLISH: &[&str] = &[
    "the",
    "to",
    "and",
    "of",
    "a",
    "in",
    "is",
    "for",
    "report",
    "meeting",
    "please",
    "we",
    "can",
    "you",
    "with",
    "budget",
    "team",
    "project",
    "on",
    "this",
    "that",
    "customer",
    "invoice",
    "schedule",
    "review",
    "draft",
    "email",
    "policy",
    "travel",
    "expense",
    "reimbursement",
    "deadline",
    "quarter",
    "sales",
    "contract",
    "server",
    "VPN",
    "password",
    "summary",
    "agenda",
    "manager",
    "approval",
    "request",
    "update",
    "release",
    "issue",
    "ticket",
    "slides",
    "numbers",
    "forecast",
    "hiring",
    "onboarding",
    "training",
    "office",
    "laptop",
    "printer",
    "vendor",
    "quote",
    "order",
    "shipping",
    "warehouse",
    "compliance",
    "audit",
    "legal",
    "privacy",
    "security",
    "migration",
    "database",
    "backup",
    "outage",
    "incident",
    "postmortem",
    "roadmap",
    "feature",
    "bug",
    "test",
    "deploy",
    "rollback",
    "calendar",
    "holiday",
    "leave",
    "payroll",
    "benefits",
    "insurance",
    "pension",
    "tax",
    "receipt",
    "hotel",
    "flight",
    "train",
    "taxi",
    "conference",
    "workshop",
    "webinar",
    "translation",
    "localization",
    "marketing",
    "campaign",
    "newsletter",
    "survey",
];

const CHINESE: &[&str] = &[
    "我们",
    "需要",
    "报销",
    "流程",
    "会议",
    "项目",
    "预算",
    "发票",
    "差旅",
    "系统",
    "客户",
    "合同",
    "审批",
    "经理",
    "请问",
    "材料",
    "时间",
    "安排",
    "总结",
    "报告",
    "部门",
    "同事",
    "培训",
    "服务器",
    "密码",
    "网络",
    "数据",
    "备份",
    "上线",
    "测试",
    "问题",
    "解决",
    "方案",
    "季度",
    "销售",
    "市场",
    "活动",
    "邮件",
    "日程",
    "假期",
    "工资",
    "保险",
    "税务",
    "酒店",
    "机票",
    "火车",
    "出租车",
    "翻译",
    "文档",
    "的",
    "了",
    "是",
    "在",
    "和",
    "有",
    "吗",
];

fn english_text(rng: &mut Lcg, target: usize) -> String {
    let mut out = String::new();
    while out.len() < target {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(ENGLISH[rng.skewed(ENGLISH.len())]);
        if rng.below(12) == 0 {
            out.push('.');
        }
    }
    out
}

fn chinese_text(rng: &mut Lcg, target_chars: usize) -> String {
    let mut out = String::new();
    while out.chars().count() < target_chars {
        // Keep 报销 and 审批 apart from the sentence's other words often enough
        // to look like real text; punctuation now and then.
        out.push_str(CHINESE[rng.skewed(CHINESE.len())]);
        match rng.below(10) {
            0 => out.push('，'),
            1 => out.push('。'),
            _ => {}
        }
    }
    out
}

fn message_text(rng: &mut Lcg, index: usize) -> String {
    let len = 100 + rng.below(301);
    let mut text = match rng.below(10) {
        0..=5 => english_text(rng, len),
        6..=8 => chinese_text(rng, len / 3),
        _ => {
            let mut t = english_text(rng, len / 2);
            t.push(' ');
            t.push_str(&chinese_text(rng, len / 6));
            t
        }
    };
    if index % 10_000 == 1_234 {
        text.push(' ');
        text.push_str(RARE_WORD);
    }
    text
}

fn fill(store: &mut Store) {
    let mut rng = Lcg(0x00C1_E4C0_FFEE);
    let mut message_index = 0;
    for chunk in 0..(SESSIONS / 500) {
        let mut batch = Vec::with_capacity(500);
        for s in chunk * 500..(chunk + 1) * 500 {
            let now = 1_700_000_000_000_i64 + s as i64 * 60_000;
            let session = NewSession {
                title: format!("Session {s}"),
                profile: "work".into(),
                model: "gpt-4o-mini".into(),
                system_prompt: None,
                now_ms: now,
            };
            let messages = (0..MESSAGES_PER_SESSION)
                .map(|m| {
                    let content = message_text(&mut rng, message_index);
                    message_index += 1;
                    NewMessage {
                        session_id: 0,
                        role: if m % 2 == 0 {
                            Role::User
                        } else {
                            Role::Assistant
                        },
                        content,
                        status: MessageStatus::Complete,
                        model: None,
                        now_ms: now + m as i64 * 1_000,
                    }
                })
                .collect();
            batch.push((session, messages));
        }
        store.import(&batch).unwrap();
    }
}

fn database() -> (Option<tempfile::TempDir>, PathBuf) {
    if let Some(path) = std::env::var_os("CLERK_BENCH_DB") {
        return (None, PathBuf::from(path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    (Some(dir), path)
}

fn store_benches(c: &mut Criterion) {
    let (_dir, path) = database();
    let mut store = Store::open(&path).unwrap();
    if store.list_sessions(Some(1), true).unwrap().is_empty() {
        eprintln!("filling {} with {SESSIONS} sessions ...", path.display());
        fill(&mut store);
    }
    let mut group = c.benchmark_group("store_10k_sessions_200k_messages");
    group.sample_size(20);
    group.bench_function("list_sessions_all", |b| {
        b.iter(|| store.list_sessions(None, false).unwrap())
    });
    for (name, query) in [
        ("search_common_word", "budget"),
        ("search_rare_word", RARE_WORD),
        ("search_chinese_word", "报销"),
        ("search_mixed", "VPN 报销"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| store.search(query, 20, ("[", "]")).unwrap())
        });
    }
    // Retention: one old session deleted at start (the case of every day), timed once
    // cold and then by criterion; at the end, once, half the history at one go (the day a
    // policy with retention_days first meets an old history).
    let old_session = |store: &mut Store| {
        let session = NewSession {
            title: "old".into(),
            profile: "work".into(),
            model: "gpt-4o-mini".into(),
            system_prompt: None,
            now_ms: 1,
        };
        let messages = (0..MESSAGES_PER_SESSION)
            .map(|m| NewMessage {
                session_id: 0,
                role: Role::User,
                content: format!("an old message {m} about budget and 报销"),
                status: MessageStatus::Complete,
                model: None,
                now_ms: 1,
            })
            .collect();
        store.import(&[(session, messages)]).unwrap();
    };
    old_session(&mut store);
    let start = std::time::Instant::now();
    assert_eq!(store.purge_before(2).unwrap(), 1);
    eprintln!(
        "retention purge of one session, first: {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    group.bench_function("retention_purge_one_session", |b| {
        b.iter_custom(|iters| {
            let mut spent = std::time::Duration::ZERO;
            for _ in 0..iters {
                old_session(&mut store);
                let start = std::time::Instant::now();
                store.purge_before(2).unwrap();
                spent += start.elapsed();
            }
            spent
        })
    });
    group.finish();
    let half = 1_700_000_000_000_i64 + (SESSIONS as i64 / 2) * 60_000;
    let start = std::time::Instant::now();
    let n = store.purge_before(half).unwrap();
    eprintln!(
        "retention purge of {n} sessions ({} messages) at one go: {:.2} s",
        n * MESSAGES_PER_SESSION,
        start.elapsed().as_secs_f64()
    );
}

criterion_group!(benches, store_benches);
criterion_main!(benches);
