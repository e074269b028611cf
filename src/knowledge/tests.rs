//! Tests of the index as a whole: incremental updates, an interrupted update, search in
//! both languages, and the found/not-found decision, over small folders made on the fly.

#![allow(clippy::unwrap_used)]

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

const TRAVEL: &str = "# Travel\n\n## Hotels\n\nThe nightly hotel limit in Shanghai is CNY 900. Book hotels through the portal.\n\n## Reimbursement\n\nExpenses are reimbursed within 30 days of the claim, with every receipt attached.\n";
const LEAVE: &str =
    "# Leave\n\n## Annual leave\n\nEmployees get 15 days of annual leave per calendar year.\n";
const ZH: &str = "# 差旅报销制度\n\n## 审批流程\n\n报销申请先由直属经理审批，金额超过五千元的还需部门总监审批。\n\n## 年假\n\n员工入职满一年后享有带薪年假五天。\n";
const IT: &str = "# Passwords\n\nPasswords must be at least 14 characters long. Reset a forgotten password at the self-service portal.\n";

/// A passage found in `base`, for the tests of citations and grounded answers.
pub(super) fn hit(base: &str, path: &str, section: &str, page: Option<u32>, text: &str) -> Hit {
    Hit {
        passage_id: 1,
        base: base.into(),
        path: path.into(),
        abs_path: std::path::PathBuf::from("/docs").join(path),
        section: section.into(),
        page,
        language: Some("en".into()),
        text: text.into(),
        score: 0.0,
        coverage: 1.0,
    }
}

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn base(name: &str, dir: &Path) -> Base {
    Base::new(name, vec![dir.to_path_buf()], &[], &[], 1 << 20).unwrap()
}

fn go(_: &Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

fn top(index: &Index, q: &str) -> Retrieval {
    index.search(&[], &[Query::new(q)], &[], 3).unwrap()
}

/// Set a file's modification time.
fn touch(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn unchanged_files_are_not_read_edits_replace_and_deletions_remove() {
    let dir = folder(&[
        ("travel.md", TRAVEL),
        ("leave.md", LEAVE),
        ("zh/制度.md", ZH),
    ]);
    let b = base("p", dir.path());
    let mut index = Index::open_in_memory().unwrap();
    let r = index.update(&b, &mut go).unwrap();
    assert_eq!((r.indexed, r.unchanged, r.removed), (3, 0, 0));
    assert!(r.passages >= 5, "{r:?}");

    // Same size and mtime: not opened. Proven by changing the bytes behind its back.
    let leave = dir.path().join("leave.md");
    let mtime = std::fs::metadata(&leave).unwrap().modified().unwrap();
    std::fs::write(&leave, LEAVE.replace("annual", "yearly")).unwrap();
    touch(&leave, mtime);
    let r = index.update(&b, &mut go).unwrap();
    assert_eq!((r.indexed, r.unchanged, r.removed), (0, 3, 0));
    assert!(top(&index, "annual leave").found);

    // A new mtime with the same bytes: hashed, not indexed again.
    let travel = dir.path().join("travel.md");
    let before: Vec<PassageId> = top(&index, "hotel limit")
        .hits
        .iter()
        .map(|h| h.passage_id)
        .collect();
    touch(&travel, mtime + Duration::from_secs(60));
    let r = index.update(&b, &mut go).unwrap();
    assert_eq!((r.indexed, r.unchanged), (0, 3), "{r:?}");
    let after: Vec<PassageId> = top(&index, "hotel limit")
        .hits
        .iter()
        .map(|h| h.passage_id)
        .collect();
    assert_eq!(before, after, "same passages, not rewritten");

    // An edit replaces the file's passages.
    std::fs::write(
        &travel,
        TRAVEL.replace("Shanghai is CNY 900", "Shenzhen is CNY 800"),
    )
    .unwrap();
    touch(&travel, mtime + Duration::from_secs(120));
    let r = index.update(&b, &mut go).unwrap();
    assert_eq!((r.indexed, r.unchanged), (1, 2));
    let hits = top(&index, "Shenzhen hotel limit");
    assert!(
        hits.found && hits.hits[0].text.contains("Shenzhen"),
        "{hits:?}"
    );
    assert!(!top(&index, "Shanghai").found, "the old text is gone");

    // A deleted file disappears.
    std::fs::remove_file(dir.path().join("zh/制度.md")).unwrap();
    let r = index.update(&b, &mut go).unwrap();
    assert_eq!((r.indexed, r.unchanged, r.removed), (0, 2, 1));
    assert!(top(&index, "年假").hits.is_empty());
    let passages: i64 = index
        .conn
        .query_row("SELECT count(*) FROM passages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        u64::try_from(passages).unwrap(),
        r.passages,
        "no passage left behind"
    );
}

#[test]
fn an_interrupted_update_leaves_the_previous_index_usable() {
    let dir = folder(&[("travel.md", TRAVEL), ("leave.md", LEAVE), ("it.md", IT)]);
    let b = base("p", dir.path());
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("knowledge.sqlite3");
    let mut index = Index::open(&path).unwrap();
    index.update(&b, &mut go).unwrap();
    // Every file changes; the update is stopped after the first file is written (as a
    // kill would: the batch in progress is never committed).
    let later = SystemTime::now() + Duration::from_secs(60);
    for (name, text) in [("travel.md", TRAVEL), ("leave.md", LEAVE), ("it.md", IT)] {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            text.replace("portal", "gateway")
                .replace("15 days", "20 days"),
        )
        .unwrap();
        touch(&p, later);
    }
    write(
        dir.path(),
        "new.md",
        "# Pets\n\nDogs may come to the office on Fridays.\n",
    );
    let mut seen = 0;
    let err = index
        .update(&b, &mut |p: &Progress| {
            if p.read > 0 {
                seen += 1;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(matches!(err, KnowledgeError::Stopped), "{err}");
    assert_eq!(seen, 1);
    drop(index);
    // Reopened: the old index, whole and searchable.
    let mut index = Index::open(&path).unwrap();
    let r = top(&index, "annual leave days");
    assert!(r.found && r.hits[0].text.contains("15 days"), "{r:?}");
    assert!(top(&index, "hotels portal").found);
    assert!(top(&index, "gateway").hits.is_empty());
    assert!(top(&index, "dogs office").hits.is_empty());
    let check: String = index
        .conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // Run again: everything is brought up to date.
    let r = index.update(&b, &mut go).unwrap();
    assert_eq!((r.indexed, r.unchanged), (4, 0));
    assert!(
        top(&index, "annual leave days").hits[0]
            .text
            .contains("20 days")
    );
    assert!(top(&index, "dogs office").found);
}

#[test]
fn english_is_stemmed_and_chinese_words_match_inside_sentences() {
    let dir = folder(&[("travel.md", TRAVEL), ("zh.md", ZH), ("it.md", IT)]);
    let mut index = Index::open_in_memory().unwrap();
    index.update(&base("p", dir.path()), &mut go).unwrap();
    // "reimbursements" finds "reimbursed"; "claims" finds "claim".
    let r = top(&index, "How are reimbursements of claims paid?");
    assert!(r.hits[0].text.contains("reimbursed"), "{r:?}");
    assert_eq!(r.hits[0].section, "Travel › Reimbursement");
    // Two-character words inside Chinese sentences.
    for (q, expect) in [("报销", "审批流程"), ("审批", "审批流程"), ("年假", "年假")]
    {
        let r = top(&index, q);
        assert!(r.found, "{q}: {r:?}");
        // The document's title (差旅报销制度) is in every passage's heading path, so a
        // passage holding the word only there may rank as high.
        assert!(
            r.hits.iter().take(2).any(|h| h.section.ends_with(expect)),
            "{q}: {r:?}"
        );
    }
    // A whole Chinese sentence is not a phrase: its words are far apart in the text.
    let r = top(&index, "报销金额很大的话，除了经理还要谁来审批？");
    assert!(r.found, "{r:?}");
    assert!(r.hits[0].text.contains("部门总监"), "{r:?}");
    assert!(r.terms.iter().any(|t| t == "报销") && r.terms.iter().any(|t| t == "审批"));
    // English words in a Chinese passage and the reverse.
    let r = top(&index, "IT self-service 忘记密码");
    assert_eq!(r.hits[0].path, "it.md");
    // The file name and the heading path are searched too.
    let r = top(&index, "passwords");
    assert_eq!(r.hits[0].path, "it.md");
    assert_eq!(index.languages("p").unwrap(), ["en", "zh"]);
}

#[test]
fn not_found_when_the_base_does_not_cover_the_question() {
    let dir = folder(&[
        ("travel.md", TRAVEL),
        ("leave.md", LEAVE),
        ("zh.md", ZH),
        ("it.md", IT),
    ]);
    let mut index = Index::open_in_memory().unwrap();
    index.update(&base("p", dir.path()), &mut go).unwrap();
    for q in [
        "Can I bring my pet to the office?",
        "What is the policy on pets in the office?",
        "可以带宠物来办公室吗？",
        "What is the parking policy for visitors?",
    ] {
        let r = top(&index, q);
        assert!(!r.found, "{q}: {r:?}");
    }
    for q in [
        "What is the hotel limit in Shanghai?",
        "How many days of annual leave do I get?",
        "报销要谁审批？",
        "年假有几天？",
        "How long must a password be?",
    ] {
        let r = top(&index, q);
        assert!(r.found, "{q}: {r:?}");
        assert!(r.coverage >= found::FOUND_COVERAGE);
    }
    // A follow-up's context (the conversation's earlier question joined to it) helps rank
    // but does not make an uncovered question found.
    let follow_up = "Is there a yoga class for staff on Fridays?";
    let r = index
        .search(
            &[],
            &[
                Query::new(follow_up),
                Query::context(format!("What is the hotel limit in Shanghai?\n{follow_up}")),
            ],
            &[],
            3,
        )
        .unwrap();
    assert!(!r.found && !r.hits.is_empty(), "{r:?}");
    let r = index
        .search(
            &[],
            &[Query::new(format!(
                "What is the hotel limit in Shanghai?\n{follow_up}"
            ))],
            &[],
            3,
        )
        .unwrap();
    assert!(
        r.found,
        "the same words as the question itself decide: {r:?}"
    );
    // An empty index finds nothing, and says so.
    let empty = Index::open_in_memory().unwrap();
    let r = empty.search(&[], &[Query::new("hotel")], &[], 3).unwrap();
    assert!(r.hits.is_empty() && !r.found);
}

#[test]
fn several_queries_and_other_rankings_are_fused_and_bases_kept_apart() {
    let a = folder(&[("travel.md", TRAVEL)]);
    let b = folder(&[("zh.md", ZH), ("it.md", IT)]);
    let mut index = Index::open_in_memory().unwrap();
    index.update(&base("en", a.path()), &mut go).unwrap();
    index.update(&base("zh", b.path()), &mut go).unwrap();
    // Only the chosen base.
    let r = index
        .search(&["en"], &[Query::new("报销 审批 portal")], &[], 5)
        .unwrap();
    assert!(r.hits.iter().all(|h| h.base == "en"), "{r:?}");
    let r = index
        .search(&["zh"], &[Query::new("报销 审批 portal")], &[], 5)
        .unwrap();
    assert!(r.hits.iter().all(|h| h.base == "zh"), "{r:?}");
    // A question and its restatement: the passage both find comes first.
    let r = index
        .search(
            &[],
            &[Query::new("谁审批报销？"), Query::new("报销 经理 审批")],
            &[],
            5,
        )
        .unwrap();
    assert!(r.found);
    let both = r.hits[0].score;
    assert!(both > 1.0 / 61.0, "found by both lists: {both}");
    // Another ranking (vectors, later) is fused in: its first passage moves up.
    let leave = index
        .search(&["zh"], &[Query::new("年假")], &[], 1)
        .unwrap()
        .hits[0]
        .passage_id;
    let ranking = Ranking {
        source: "test".into(),
        passages: vec![leave],
    };
    let r = index
        .search(
            &[],
            &[Query::new("hotel")],
            std::slice::from_ref(&ranking),
            5,
        )
        .unwrap();
    assert!(r.hits.iter().any(|h| h.passage_id == leave), "{r:?}");
    let r = index
        .search(&["en"], &[Query::new("hotel")], &[ranking], 5)
        .unwrap();
    assert!(
        r.hits.iter().all(|h| h.passage_id != leave),
        "other bases stay out"
    );
    let err = index
        .search(&["nope"], &[Query::new("x")], &[], 5)
        .unwrap_err();
    assert!(err.to_string().contains("clerk kb index nope"), "{err}");
    // Removing a base takes its passages with it.
    assert!(index.remove("zh").unwrap());
    assert!(!index.remove("zh").unwrap());
    let n: i64 = index
        .conn
        .query_row("SELECT count(*) FROM passages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(u64::try_from(n).unwrap(), index.list().unwrap()[0].passages);
    assert!(
        index
            .search(&[], &[Query::new("年假")], &[], 3)
            .unwrap()
            .hits
            .is_empty()
    );
}

#[test]
fn status_lists_skipped_and_stale_files() {
    let dir = folder(&[("travel.md", TRAVEL), ("leave.md", LEAVE), ("it.md", IT)]);
    std::fs::write(dir.path().join("broken.pdf"), b"%PDF-1.4 not really").unwrap();
    let b = base("p", dir.path());
    let mut index = Index::open_in_memory().unwrap();
    let r = index.update(&b, &mut go).unwrap();
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].path, "broken.pdf");
    assert!(r.skipped[0].reason.contains("damaged"), "{:?}", r.skipped);
    let s = index.status(&b).unwrap();
    assert_eq!((s.documents, s.skipped.len()), (3, 1));
    assert!(s.stale.is_empty() && s.indexed_ms.is_some());
    // A skipped file is not read again until it changes.
    let r = index.update(&b, &mut go).unwrap();
    assert_eq!((r.indexed, r.unchanged, r.skipped.len()), (0, 3, 1));
    write(dir.path(), "new.md", "new");
    std::fs::write(dir.path().join("leave.md"), "changed").unwrap();
    touch(
        &dir.path().join("leave.md"),
        SystemTime::now() + Duration::from_secs(60),
    );
    std::fs::remove_file(dir.path().join("it.md")).unwrap();
    let s = index.status(&b).unwrap();
    let stale: Vec<(&str, Change)> = s
        .stale
        .iter()
        .map(|f| (f.path.as_str(), f.change))
        .collect();
    assert_eq!(
        stale,
        [
            ("leave.md", Change::Changed),
            ("new.md", Change::New),
            ("it.md", Change::Deleted)
        ]
    );
}

#[test]
fn the_commonest_words_of_a_large_base_are_not_ranked_when_rarer_ones_are() {
    let p = |t: &str, df: u64| (t.to_string(), 1.0, df);
    let phrases = [
        p("policy", 90_000),
        p("pets", 12),
        p("office", 20_000),
        p("the", 150_000),
    ];
    assert_eq!(search::searched(&phrases), ["pets", "office"]);
    let phrases = [
        p("a", 5_000),
        p("b", 6_000),
        p("c", 7_000),
        p("d", 8_000),
        p("e", 9_000),
    ];
    assert_eq!(search::searched(&phrases).len(), 4, "within the budget");
    // The two rarest always, however common.
    let phrases = [p("hotel", 60_000), p("limit", 50_000), p("day", 70_000)];
    assert_eq!(search::searched(&phrases), ["limit", "hotel"]);
}

#[test]
fn one_file_does_not_crowd_out_the_next_that_may_answer() {
    // Every section of the hotel guide repeats the question's words (its title and
    // headings do); the overseas rules say it once, and are what the question needs.
    let guide = "# Hotel limits\n\n## Hotel limits in Shanghai\n\nThe hotel limit is CNY 900.\n\n\
                 ## Hotel limits in Beijing\n\nThe hotel limit is CNY 850.\n\n\
                 ## Hotel limits in Shenzhen\n\nThe hotel limit is CNY 800.\n\n\
                 ## Hotel limits in Chengdu\n\nThe hotel limit is CNY 600.\n";
    let abroad = "# Travel abroad\n\n## Cities not listed\n\nFor a city not listed, the hotel limit is USD 180 a night.\n";
    let dir = folder(&[("hotel-guide.md", guide), ("abroad.md", abroad)]);
    let mut index = Index::open_in_memory().unwrap();
    index.update(&base("p", dir.path()), &mut go).unwrap();
    let r = top(&index, "hotel limit");
    let paths: Vec<&str> = r.hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert_eq!(
        paths.iter().filter(|p| **p == "hotel-guide.md").count(),
        search::PER_FILE,
        "{paths:?}"
    );
    assert!(paths.contains(&"abroad.md"), "{paths:?}");
    // With no other file to show, the crowded-out passages fill the results.
    let only = folder(&[("hotel-guide.md", guide)]);
    let mut index = Index::open_in_memory().unwrap();
    index.update(&base("p", only.path()), &mut go).unwrap();
    let r = index
        .search(&[], &[Query::new("hotel limit")], &[], 4)
        .unwrap();
    assert_eq!(r.hits.len(), 4, "{r:?}");
    assert!(r.hits.iter().all(|h| h.path == "hotel-guide.md"));
}

#[test]
fn index_errors_read_in_chinese() {
    let e = KnowledgeError::NotIndexed("policies".into());
    assert_eq!(
        e.to_string(),
        "knowledge base `policies` has not been indexed yet: run `clerk kb index policies`"
    );
    let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
    assert_eq!(
        e.to_string(),
        "知识库 `policies` 尚未建立索引：请运行 `clerk kb index policies`"
    );
    let stopped = KnowledgeError::Stopped.to_string();
    assert!(stopped.starts_with("索引已停止"), "{stopped}");
}
