//! `clerk kb` run as a real process over `tests/fixtures/kb-mini`: a small procedure folder
//! in English and Chinese (Markdown, HTML, GBK text, CSV, PDF, DOCX) with a damaged DOCX.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::env::{Env, copy_tree, err, out};

/// A home with the fixture copied to `docs/` (plus a `.git` folder and a picture, which
/// must be passed over) and a config file with comments.
fn setup() -> (Env, PathBuf) {
    let env = Env::new();
    let docs = env.home().join("docs");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kb-mini"),
        &docs,
    );
    env.write(&docs.join(".git"), "config", "[core]\nhotel = secret\n");
    std::fs::write(docs.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0").unwrap();
    env.write(&env.home().join("config/clerk"), "config.toml", CONFIG);
    (env, docs)
}

/// [`setup`], with the fixture added as the base `procedures`.
fn added() -> (Env, PathBuf) {
    let (env, docs) = setup();
    let o = env.run(&["kb", "add", "procedures", docs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", err(&o));
    (env, docs)
}

const CONFIG: &str = "# Ana's settings: keep these comments\nlog_level = \"info\"   # quiet\n\n[documents]\n# PDFs up to 20 MB\nmax_file_mb = 20\n";

fn config(env: &Env) -> String {
    std::fs::read_to_string(env.home().join("config/clerk/config.toml")).unwrap()
}

/// Assert that the command's stdout starts with `prefix`.
fn stdout_starts(o: &std::process::Output, prefix: &str) {
    assert!(out(o).starts_with(prefix), "{}", out(o));
}

fn json(env: &Env, args: &[&str]) -> Value {
    let o = env.run(args);
    assert!(o.status.success(), "{args:?}: {}", err(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", out(&o)))
}

#[test]
fn add_indexes_keeps_the_config_and_skips_the_damaged_file_by_name() {
    let (env, docs) = setup();
    let o = env.run(&["kb", "add", "procedures", docs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", err(&o));
    // One summary line: 8 documents (the picture and .git are not documents), 1 skipped.
    assert_eq!(out(&o).lines().count(), 1, "{}", out(&o));
    stdout_starts(
        &o,
        "procedures: 8 files indexed, 0 unchanged, 0 removed, 1 skipped · ",
    );
    assert!(
        err(&o).contains("skipped broken/minutes.docx: minutes.docx is damaged"),
        "{}",
        err(&o)
    );
    // The config keeps every byte it had, and gains one block.
    let text = config(&env);
    assert!(text.starts_with(CONFIG), "{text}");
    let added = &text[CONFIG.len()..];
    assert_eq!(
        added,
        format!(
            "\n[[knowledge]]\nname = \"procedures\"\npaths = [\"{}\"]\n",
            docs.canonicalize().unwrap().display()
        )
    );
    // No progress bar without a terminal.
    assert!(!err(&o).contains('\r'));

    let list = json(&env, &["kb", "list", "--json"]);
    assert_eq!(list[0]["name"], "procedures");
    assert_eq!(list[0]["documents"], 8);
    assert!(list[0]["passages"].as_u64().unwrap() >= 15, "{list}");

    let status = json(&env, &["kb", "status", "procedures", "--json"]);
    let base = &status["bases"][0];
    assert_eq!(base["documents"], 8);
    assert_eq!(base["skipped"][0]["path"], "broken/minutes.docx");
    assert!(
        base["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("damaged")
    );
    assert_eq!(base["stale"], serde_json::json!([]));
    assert_eq!(base["languages"], serde_json::json!(["en", "zh"]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let index = env.home().join("data/clerk/knowledge.sqlite3");
        let mode = std::fs::metadata(&index).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn search_json_finds_passages_in_both_languages_and_says_when_nothing_covers_it() {
    let (env, _) = added();
    let v = json(
        &env,
        &[
            "kb",
            "search",
            "--json",
            "-k",
            "3",
            "What is the hotel limit in Shanghai?",
        ],
    );
    assert_eq!(v["query"], "What is the hotel limit in Shanghai?");
    assert_eq!(v["found"], true);
    let p = v["passages"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p[0]["rank"], 1);
    assert_eq!(p[0]["path"], "finance/travel-expense.md");
    assert_eq!(
        p[0]["section"],
        "Travel and expenses › Hotels › Limits by city"
    );
    assert_eq!(p[0]["page"], Value::Null);
    assert!(p[0]["text"].as_str().unwrap().contains("CNY 900"));
    assert!(p[0]["score"].as_f64().unwrap() > p[2]["score"].as_f64().unwrap());
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["found", "passages", "query"]);

    // A Chinese sentence; a GBK file; a PDF page; a CSV row.
    let v = json(
        &env,
        &["kb", "search", "--json", "出差回来以后报销需要谁审批？"],
    );
    assert_eq!(v["found"], true);
    assert_eq!(v["passages"][0]["path"], "finance/差旅报销.md");
    let sections: Vec<&str> = v["passages"].as_array().unwrap()[..2]
        .iter()
        .map(|p| p["section"].as_str().unwrap())
        .collect();
    assert!(sections.contains(&"差旅报销制度 › 审批流程"), "{v}");
    let v = json(&env, &["kb", "search", "--json", "年假可以结转吗"]);
    assert_eq!(v["passages"][0]["path"], "hr/年假制度.txt");
    let v = json(
        &env,
        &[
            "kb",
            "search",
            "--json",
            "Which VPN gateway do I use abroad?",
        ],
    );
    assert_eq!(v["passages"][0]["path"], "it/vpn-guide.pdf");
    assert_eq!(v["passages"][0]["page"], 2);
    let v = json(&env, &["kb", "search", "--json", "Chengdu nightly limit"]);
    assert_eq!(v["passages"][0]["path"], "tables/hotel-limits.csv");
    let v = json(&env, &["kb", "search", "--json", "purchase order invoices"]);
    assert_eq!(v["passages"][0]["path"], "finance/purchasing.docx");
    assert_eq!(v["passages"][0]["section"], "Purchasing › Purchase orders");
    let v = json(&env, &["kb", "search", "--json", "hotel secret"]);
    assert!(
        v["passages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| !p["path"].as_str().unwrap().starts_with(".git")),
        "{v}"
    );

    // Not covered: found is false, in JSON and in words, in the question's language.
    let v = json(
        &env,
        &[
            "kb",
            "search",
            "--json",
            "Is there a yoga class for staff on Fridays?",
        ],
    );
    assert_eq!(v["found"], false);
    let o = env.run(&[
        "kb",
        "search",
        "Is there a yoga class for staff on Fridays?",
    ]);
    assert!(o.status.success());
    stdout_starts(&o, "not found in the procedures\n");
    let o = env.run(&["kb", "search", "周五有瑜伽课吗？"]);
    stdout_starts(&o, "知识库中没有找到相关规定\n");
    // Plain output: place, section and text.
    let o = env.run(&["kb", "search", "-k", "1", "parental leave weeks"]);
    stdout_starts(
        &o,
        "[1] hr/leave-policy.html › Leave policy › Parental leave\n    Parents get 16 weeks",
    );
}

#[test]
fn index_is_incremental_and_status_shows_stale_files() {
    let (env, docs) = added();
    let o = env.run(&["kb", "index"]);
    assert!(o.status.success(), "{}", err(&o));
    stdout_starts(
        &o,
        "procedures: 0 files indexed, 8 unchanged, 0 removed, 1 skipped",
    );
    // Edit one file, add one, delete one.
    let it = docs.join("it/passwords.md");
    let text = std::fs::read_to_string(&it)
        .unwrap()
        .replace("14 characters", "16 characters");
    std::fs::write(&it, text).unwrap();
    let f = std::fs::File::options().write(true).open(&it).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    std::fs::write(
        docs.join("hr/remote-work.md"),
        "# Remote work\n\nWork from home up to two days a week.\n",
    )
    .unwrap();
    std::fs::remove_file(docs.join("tables/hotel-limits.csv")).unwrap();
    let status = json(&env, &["kb", "status", "--json"]);
    let stale = &status["bases"][0]["stale"];
    assert_eq!(
        *stale,
        serde_json::json!([
            {"path": "hr/remote-work.md", "change": "new"},
            {"path": "it/passwords.md", "change": "changed"},
            {"path": "tables/hotel-limits.csv", "change": "deleted"}
        ])
    );
    let o = env.run(&["kb", "status"]);
    assert!(
        out(&o).contains("stale (3)") && out(&o).contains("clerk kb index procedures"),
        "{}",
        out(&o)
    );
    let o = env.run(&["kb", "index", "procedures"]);
    stdout_starts(
        &o,
        "procedures: 2 files indexed, 6 unchanged, 1 removed, 1 skipped",
    );
    let v = json(
        &env,
        &[
            "kb",
            "search",
            "--json",
            "-k",
            "1",
            "password length characters",
        ],
    );
    assert!(
        v["passages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("16 characters")
    );
    let v = json(&env, &["kb", "search", "--json", "Chengdu"]);
    assert!(
        v["passages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["path"] != "tables/hotel-limits.csv")
    );
    let status = json(&env, &["kb", "status", "--json"]);
    assert_eq!(status["bases"][0]["stale"], serde_json::json!([]));
}

#[test]
fn remove_takes_out_its_block_and_its_passages() {
    let (env, docs) = added();
    let hr = docs.join("hr");
    let o = env.run(&[
        "kb",
        "add",
        "hr",
        hr.to_str().unwrap(),
        "--include",
        "*.html",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    stdout_starts(&o, "hr: 1 file indexed");
    let v = json(&env, &["kb", "search", "--json", "--kb", "hr", "年假"]);
    assert!(
        v["passages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["path"] == "leave-policy.html"),
        "{v}"
    );
    let o = env.run(&["kb", "remove", "procedures"]);
    assert!(o.status.success(), "{}", err(&o));
    let text = config(&env);
    assert!(text.starts_with(CONFIG), "{text}");
    assert!(!text.contains("\"procedures\""), "{text}");
    assert!(text.contains("name = \"hr\""), "{text}");
    let list = json(&env, &["kb", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "hr");
    let o = env.run(&["kb", "remove", "procedures"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("no knowledge base `procedures`"),
        "{}",
        err(&o)
    );
    let o = env.run(&["kb", "search", "--kb", "procedures", "hotel"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_killed_index_leaves_a_usable_index_and_the_next_run_finishes() {
    let env = Env::new();
    let docs = env.home().join("many");
    for i in 0..1_500 {
        let dir = docs.join(format!("d{}", i % 30));
        env.write(
            &dir,
            &format!("p{i}.md"),
            &format!("# Procedure {i}\n\nStep {i}: file form F-{i} with the travel desk. 第{i}号流程：提交报销申请。\n"),
        );
    }
    env.write(&env.home().join("config/clerk"), "config.toml", "");
    let dir = docs.to_str().unwrap();
    let text = format!("[[knowledge]]\nname = \"many\"\npaths = [\"{dir}\"]\n");
    std::fs::write(env.home().join("config/clerk/config.toml"), text).unwrap();
    // Killed (SIGKILL) part-way through, or after it finished on a fast machine: either
    // way the index must open, search and be completed by the next run.
    let mut child = env.cmd(&["kb", "index"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    child.kill().unwrap();
    child.wait().unwrap();
    let o = env.run(&["kb", "search", "--json", "form F-7 travel desk"]);
    assert!(o.status.success(), "{}", err(&o));
    let o = env.run(&["kb", "index"]);
    assert!(o.status.success(), "{}", err(&o));
    let line = out(&o);
    let n = |label: &str| -> usize {
        let at = line.find(label).unwrap();
        let digits: String = line[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .filter(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap()
    };
    assert_eq!(n(" files indexed") + n(" unchanged"), 1_500, "{line}");
    assert!(line.contains("1,500 passages"), "{line}");
    let v = json(&env, &["kb", "search", "--json", "-k", "1", "form F-1499"]);
    assert_eq!(v["passages"][0]["path"], "d29/p1499.md");
}

#[test]
fn bad_input_is_named_with_what_to_do() {
    let (env, docs) = setup();
    // A missing path: nothing is written.
    let missing = docs.join("no-such-folder");
    let o = env.run(&["kb", "add", "procedures", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("no-such-folder does not exist"),
        "{}",
        err(&o)
    );
    assert_eq!(config(&env), CONFIG);
    // A folder configured by hand that is gone: `kb index` names it.
    let gone = env.home().join("gone");
    let text = format!(
        "{CONFIG}\n[[knowledge]]\nname = \"old\"\npaths = [\"{}\"]\n",
        gone.display()
    );
    std::fs::write(env.home().join("config/clerk/config.toml"), text).unwrap();
    let o = env.run(&["kb", "index", "old"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains(&format!("{} does not exist", gone.display())),
        "{}",
        err(&o)
    );
    let o = env.run(&["kb", "search", "--kb", "old", "hotel"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("clerk kb index old"), "{}", err(&o));
    // Names: taken, unusable, unknown.
    let o = env.run(&["kb", "add", "old", docs.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("already a knowledge base `old`"),
        "{}",
        err(&o)
    );
    let o = env.run(&["kb", "add", "two words", docs.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let o = env.run(&["kb", "status", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no knowledge base `nope`"), "{}", err(&o));
    // A bad glob in the config names the file, the line and the key.
    let text = format!(
        "{CONFIG}\n[[knowledge]]\nname = \"x\"\npaths = [\"/tmp\"]\nexclude = [\"[oops\"]\n"
    );
    std::fs::write(env.home().join("config/clerk/config.toml"), text).unwrap();
    let o = env.run(&["kb", "list"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("line 11") && err(&o).contains("knowledge[0].exclude"),
        "{}",
        err(&o)
    );
}
