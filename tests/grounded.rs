//! Answers grounded on a knowledge base, as a real process against the local test server:
//! `clerk ask --kb` (passages sent numbered, sources listed, not found without a request,
//! an answer citing nothing shown as not found, follow-ups), the question restated in the
//! base's other language, vectors made while indexing (and a gateway without embeddings),
//! and `clerk run` with a `kb` variable. The base is `tests/fixtures/kb-mini` (English and
//! Chinese).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::env::{Env, copy_tree, err, out};
use support::server::{Embeddings, Recorded, Reply};

/// A home with kb-mini in `docs/`, `extra` appended to its `[[knowledge]]` entry
/// `procedures` (configured by hand, so `extra` can set `translate` and `embeddings`), the
/// server's embeddings set to `embeddings`, then indexed: the indexing's output too.
fn setup(extra: &str, embeddings: Option<Embeddings>) -> (Env, PathBuf, Output) {
    let env = Env::new();
    if let Some(e) = embeddings {
        env.server.set_embeddings(e);
    }
    let docs = env.home().join("docs");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kb-mini"),
        &docs,
    );
    let config = format!(
        "[[knowledge]]\nname = \"procedures\"\npaths = [\"{}\"]\n{extra}",
        docs.display()
    );
    env.write(&env.home().join("config/clerk"), "config.toml", &config);
    let o = env.run(&["kb", "index", "procedures"]);
    assert!(o.status.success(), "{}", err(&o));
    (env, docs, o)
}

/// [`setup`] without embeddings.
fn base_with(extra: &str) -> (Env, PathBuf) {
    let (env, docs, _) = setup(extra, None);
    (env, docs)
}

fn json(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}\n{}", err(o), out(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(o)))
}

fn messages(r: &Recorded) -> Vec<(String, String)> {
    r.messages()
}

fn is_restatement(r: &Recorded) -> bool {
    messages(r)[0].1.contains("You restate search questions")
}

#[test]
fn ask_kb_sends_numbered_passages_and_lists_only_the_sources_cited() {
    let (env, _) = base_with("");
    let q = "What is the nightly hotel limit in Shanghai?";
    env.server
        .push(Reply::stream(&["中文：上海酒店每晚的住宿限额是多少？"]));
    env.server.push(Reply::stream(&[
        "It is CNY 900 [1]",
        ", taxes included [1][3]. See also [9].",
    ]));
    let o = env.run(&["ask", "--kb", "procedures", q]);
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.starts_with(
            "It is CNY 900 [1], taxes included [1][3]. See also [9].\n\nSources:\n[1] "
        ),
        "{text}"
    );
    assert_eq!(text.matches("\n[").count(), 2, "only [1] and [3]: {text}");

    let chat = env.server.chat_requests();
    assert_eq!(chat.len(), 2, "{chat:?}");
    // First the restatement into the base's other language, then the answer.
    assert!(is_restatement(&chat[0]));
    assert_eq!(messages(&chat[0])[1].1, q);
    let sent = messages(&chat[1]);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, "system");
    assert!(
        sent[0].1.contains("Answer only from those passages"),
        "{}",
        sent[0].1
    );
    assert!(sent[0].1.contains("Answer in English"), "{}", sent[0].1);
    let user = &sent[1].1;
    assert!(
        user.starts_with("Passages from the knowledge base:\n\n<passage n=\"1\" file=\""),
        "{user}"
    );
    // The sources listed are the passages numbered so, with their section.
    for n in [1, 3] {
        let tag = format!("<passage n=\"{n}\" file=\"");
        let at = user.find(&tag).unwrap() + tag.len();
        let file = &user[at..at + user[at..].find('"').unwrap()];
        assert!(
            text.contains(&format!("\n[{n}] {file}")),
            "{n} {file}: {text}"
        );
    }
    assert!(
        user.contains("section=\"Travel and expenses › Hotels › Limits by city\""),
        "{user}"
    );
    for n in 1..=5 {
        assert!(user.contains(&format!("<passage n=\"{n}\" ")), "{user}");
    }
    assert!(!user.contains("<passage n=\"6\""), "{user}");
    assert!(
        user.ends_with(&format!("</passage>\n\nQuestion: {q}")),
        "{user}"
    );

    // The usage ledger knows what each request was for: the restatement and the answer,
    // both from the base; the answer in its session.
    let ledger = rusqlite::Connection::open(env.home().join("data/clerk/usage.sqlite3")).unwrap();
    let rows: Vec<(String, Option<String>, Option<i64>)> = ledger
        .prepare("SELECT kind, knowledge, session_id FROM requests ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let session = rows[1].2;
    assert!(session.is_some(), "{rows:?}");
    assert_eq!(
        rows,
        vec![
            ("restate".into(), Some("procedures".into()), None),
            ("answer".into(), Some("procedures".into()), session),
        ]
    );

    // The history keeps the question as asked, not the passages.
    let s = json(&env.run(&["sessions", "show", "last", "--json"]));
    let saved = &s["messages"];
    assert_eq!(saved[0]["content"], q);
    assert!(
        saved[1]["content"]
            .as_str()
            .unwrap()
            .starts_with("It is CNY 900 [1]")
    );

    // Asked again: the restatement is cached, only the answer is requested.
    env.server.clear_requests();
    let o = env.run(&["ask", "--kb", "procedures", "--no-save", q]);
    assert!(o.status.success(), "{}", err(&o));
    let chat = env.server.chat_requests();
    assert_eq!(chat.len(), 1);
    assert!(!is_restatement(&chat[0]));
}

#[test]
fn ask_kb_json_has_found_citations_passages_and_the_restatement_request() {
    let (env, _) = base_with("");
    env.server
        .push(Reply::stream(&["上海酒店每晚的住宿限额是多少？"]));
    env.server
        .push(Reply::stream(&["CNY 900【1】，见［2］和[2-3]。"]));
    let v = json(&env.run(&[
        "ask",
        "--kb",
        "procedures",
        "--json",
        "-k",
        "3",
        "What is the nightly hotel limit in Shanghai?",
    ]));
    assert_eq!(v["status"], "complete");
    assert_eq!(v["found"], true);
    let c = v["citations"].as_array().unwrap();
    assert_eq!(c.len(), 3, "{v}");
    let p = v["passages"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    for (i, cit) in c.iter().enumerate() {
        assert_eq!(cit["n"], i + 1);
        assert_eq!(cit["path"], p[i]["path"]);
        assert_eq!(cit["section"], p[i]["section"]);
        assert_eq!(cit["page"], p[i]["page"]);
    }
    assert!(
        p.iter().any(|x| x["path"] == "finance/travel-expense.md"
            && x["section"] == "Travel and expenses › Hotels › Limits by city"),
        "{v}"
    );
    assert_eq!(v["restatements"][0]["language"], "zh");
    assert_eq!(
        v["restatements"][0]["text"],
        "上海酒店每晚的住宿限额是多少？"
    );
    assert_eq!(v["retrieval_requests"][0]["purpose"], "restate");
    assert_eq!(v["retrieval_requests"][0]["usage"]["input_tokens"], 12);
    assert!(v["retrieval_requests"][0]["cost_usd"].as_f64().unwrap() > 0.0);
    // The keys `clerk ask --json` always had are still there.
    for k in [
        "session_id",
        "answer",
        "usage",
        "cost_usd",
        "timings",
        "model",
    ] {
        assert!(v.get(k).is_some(), "{k}: {v}");
    }
}

#[test]
fn not_found_sends_no_question_to_the_model_and_says_so_in_the_questions_language() {
    // One language searched only (translate = false): not a single request.
    let (env, _) = base_with("translate = false\n");
    let o = env.run(&[
        "ask",
        "--kb",
        "procedures",
        "Is there a yoga class for staff on Fridays?",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        out(&o).starts_with("not found in the procedures\n"),
        "{}",
        out(&o)
    );
    assert!(err(&o).contains("`translate = false`"), "{}", err(&o));
    assert_eq!(env.server.request_count(), 0, "{:?}", env.server.requests());
    let o = env.run(&["ask", "--kb", "procedures", "--json", "周五有瑜伽课吗？"]);
    let v = json(&o);
    assert_eq!(v["found"], false);
    assert_eq!(v["citations"], serde_json::json!([]));
    assert_eq!(v["status"], "not_found");
    assert_eq!(v["answer"], "知识库中没有找到相关规定");
    assert_eq!(env.server.request_count(), 0);
    // The exchange is kept: the question and clerk's answer.
    let s = json(&env.run(&["sessions", "show", "last", "--json"]));
    assert_eq!(s["messages"][0]["content"], "周五有瑜伽课吗？");
    assert_eq!(s["messages"][1]["content"], "知识库中没有找到相关规定");
}

#[test]
fn not_found_after_the_restatement_sends_no_passages() {
    let (env, _) = base_with("");
    env.server.push(Reply::stream(&["周五有员工瑜伽课吗？"]));
    let o = env.run(&[
        "ask",
        "--kb",
        "procedures",
        "Is there a yoga class for staff on Fridays?",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).starts_with("not found in the procedures\n"));
    let chat = env.server.chat_requests();
    assert_eq!(chat.len(), 1, "only the restatement: {chat:?}");
    assert!(is_restatement(&chat[0]));
}

#[test]
fn an_answer_that_cites_no_passage_is_shown_as_not_found_with_the_passages() {
    let (env, _) = base_with("translate = false\n");
    env.server
        .push(Reply::stream(&["Probably about CNY 1,000 a night."]));
    let o = env.run(&[
        "ask",
        "--kb",
        "procedures",
        "What is the hotel limit in Shanghai?",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.starts_with("Probably about CNY 1,000 a night.\n\nnot found in the procedures: the answer cites none of the passages. The passages found, to read yourself:\n[1] finance/travel-expense.md › "),
        "{text}"
    );
    env.server.push(Reply::stream(&["I do not know [7]."]));
    let v = json(&env.run(&[
        "ask",
        "--kb",
        "procedures",
        "--json",
        "What is the hotel limit in Shanghai?",
    ]));
    assert_eq!(v["found"], false);
    assert_eq!(v["citations"], serde_json::json!([]));
    assert_eq!(v["status"], "complete");
    assert!(!v["passages"].as_array().unwrap().is_empty());
}

#[test]
fn a_chinese_question_finds_the_english_rules_through_its_restatement() {
    let (env, _) = base_with("");
    let q = "密码至少要多少个字符？";
    // Without a restatement (the model's reply is not English) nothing covers it.
    env.server.push(Reply::stream(&["好的。"]));
    let v = json(&env.run(&["kb", "search", "--kb", "procedures", "--json", q]));
    assert_eq!(v["found"], false, "{v}");
    // A messy but usable reply: found, the English rules first.
    env.server.clear_requests();
    env.server.push(Reply::stream(&[
        "<think>They want English.</think>\n**English:** \"How many characters must a password have at least?\"",
    ]));
    let o = env.run(&["kb", "search", "--kb", "procedures", "--json", q]);
    let v = json(&o);
    assert_eq!(v["found"], true, "{v}");
    assert_eq!(v["passages"][0]["path"], "it/passwords.md");
    assert_eq!(env.server.chat_requests().len(), 1);
    // The answer to it is in Chinese, from the English passage.
    env.server.push(Reply::stream(&["至少 14 个字符 [1]。"]));
    let o = env.run(&["ask", "--kb", "procedures", q]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        out(&o).starts_with("至少 14 个字符 [1]。\n\n来源:\n[1] it/passwords.md"),
        "{}",
        out(&o)
    );
    let chat = env.server.chat_requests();
    let system = &messages(chat.last().unwrap())[0].1;
    assert!(system.contains("Answer in Chinese"), "{system}");
}

#[test]
fn a_failed_restatement_is_a_note_and_the_question_is_searched_as_asked() {
    let (env, _) = base_with("");
    env.server.push(Reply::error(
        401,
        "Incorrect API key provided",
        "invalid_request_error",
        "invalid_api_key",
    ));
    let o = env.run(&["kb", "search", "--json", "annual leave carry over"]);
    let v = json(&o);
    assert_eq!(v["found"], true);
    let stderr = err(&o);
    let notes: Vec<&str> = stderr.lines().filter(|l| l.starts_with("note:")).collect();
    assert_eq!(notes.len(), 1, "{}", err(&o));
    assert!(
        notes[0].contains("could not restate the question in Chinese")
            && notes[0].contains("searched with the question as asked"),
        "{stderr}"
    );
}

#[test]
fn a_follow_up_in_a_session_is_grounded_with_the_history() {
    let (env, _) = base_with("translate = false\n");
    env.server.push(Reply::stream(&["CNY 900 [1]."]));
    let o = env.run(&[
        "ask",
        "--kb",
        "procedures",
        "What is the hotel limit in Shanghai?",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    env.server.clear_requests();
    env.server.push(Reply::stream(&["GBP 220 [1]."]));
    let v = json(&env.run(&[
        "ask",
        "--kb",
        "procedures",
        "--session",
        "last",
        "--json",
        "And in London?",
    ]));
    assert_eq!(v["found"], true, "{v}");
    assert_eq!(v["citations"][0]["path"], "finance/travel-expense.md");
    let sent = messages(&env.server.chat_requests()[0]);
    // System, the earlier question and answer, then the passages with the follow-up.
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(sent[1].1, "What is the hotel limit in Shanghai?");
    assert_eq!(sent[2].1, "CNY 900 [1].");
    assert!(sent[3].1.ends_with("Question: And in London?"));
    let s = json(&env.run(&["sessions", "show", "last", "--json"]));
    assert_eq!(s["messages"].as_array().unwrap().len(), 4);
    // The session's own system prompt is not the grounding rules.
    assert!(s["system_prompt"].is_null(), "{s}");
}

#[test]
fn vectors_are_made_while_indexing_only_for_changed_passages_and_used_in_search() {
    let (env, docs, o) = setup(
        "translate = false\nembeddings = \"toy-embed\"\n",
        Some(Embeddings::Toy),
    );
    let summary = out(&o);
    assert!(
        summary.contains("passages embedded with toy-embed"),
        "{summary}"
    );
    let first = env.server.embeddings_requests();
    assert!(!first.is_empty());
    let inputs: usize = first
        .iter()
        .map(|r| r.json()["input"].as_array().unwrap().len())
        .sum();
    assert!(
        first
            .iter()
            .all(|r| r.json()["input"].as_array().unwrap().len() <= 32)
    );
    assert_eq!(first[0].json()["model"], "toy-embed");
    assert!(first[0].path_only().ends_with("/v1/embeddings"));

    // Nothing changed: no vectors made again. One file changed: only its passages.
    env.server.clear_requests();
    let o = env.run(&["kb", "index"]);
    assert!(out(&o).contains("0 passages embedded"), "{}", out(&o));
    assert!(env.server.embeddings_requests().is_empty());
    std::fs::write(
        docs.join("it/passwords.md"),
        "# Passwords\n\nPasswords must be at least 16 characters long.\n",
    )
    .unwrap();
    let o = env.run(&["kb", "index"]);
    assert!(o.status.success(), "{}", err(&o));
    let again: usize = env
        .server
        .embeddings_requests()
        .iter()
        .map(|r| r.json()["input"].as_array().unwrap().len())
        .sum();
    assert!(again >= 1 && again < inputs, "{again} of {inputs}");

    // Search embeds the question and fuses vector hits: a Chinese question about
    // passwords (no Chinese document has the word) reaches the English rules.
    env.server.clear_requests();
    let v = json(&env.run(&["kb", "search", "--json", "-k", "5", "忘记了密码怎么办？"]));
    assert!(
        v["passages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["path"] == "it/passwords.md"),
        "{v}"
    );
    let e = env.server.embeddings_requests();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].json()["input"][0], "忘记了密码怎么办？");
}

#[test]
fn a_gateway_without_embeddings_is_a_note_and_keyword_search_works() {
    let (env, _, o) = setup(
        "translate = false\nembeddings = \"text-embedding-3-small\"\n",
        Some(Embeddings::Reply(Reply::error(
            404,
            "Not Found",
            "not_found",
            None,
        ))),
    );
    assert!(
        err(&o).contains("has no embeddings for text-embedding-3-small (HTTP 404)"),
        "{}",
        err(&o)
    );
    let o = env.run(&["kb", "search", "--json", "hotel limit Shanghai"]);
    let v = json(&o);
    assert_eq!(v["found"], true);
    assert!(
        err(&o).contains("no vectors of text-embedding-3-small yet"),
        "{}",
        err(&o)
    );
}

#[test]
fn a_template_with_a_kb_variable_answers_from_the_passages_with_sources() {
    let (env, _) = base_with("translate = false\n");
    env.write(
        &env.team_dir(),
        "policy.toml",
        "title = \"Policy question\"\nprompt = \"Answer briefly, for a new employee: {{question}}\"\n\n[[variables]]\nname = \"procedures\"\nkind = \"kb\"\ndefault = \"procedures\"\n\n[[variables]]\nname = \"question\"\n",
    );
    env.server.push(Reply::stream(&["CNY 900 a night [1]."]));
    let o = env.run(&[
        "run",
        "policy",
        "--var",
        "question=What is the hotel limit in Shanghai?",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        out(&o).starts_with("CNY 900 a night [1].\n\nSources:\n[1] finance/travel-expense.md › "),
        "{}",
        out(&o)
    );
    let sent = messages(&env.server.chat_requests()[0]);
    assert!(sent[0].1.contains("Answer only from those passages"));
    assert!(sent[1].1.starts_with("Passages from the knowledge base:"));
    // Counted as the template's answer from the base.
    let ledger = rusqlite::Connection::open(env.home().join("data/clerk/usage.sqlite3")).unwrap();
    let (kind, template, knowledge): (String, Option<String>, Option<String>) = ledger
        .query_row(
            "SELECT kind, template, knowledge FROM requests ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (kind.as_str(), template.as_deref(), knowledge.as_deref()),
        ("answer", Some("policy"), Some("procedures"))
    );
    assert!(sent[1].1.ends_with(
        "Question: Answer briefly, for a new employee: What is the hotel limit in Shanghai?"
    ));
    // Not covered: nothing is sent.
    env.server.clear_requests();
    let o = env.run(&[
        "run",
        "policy",
        "--json",
        "--var",
        "question=Can I bring my dog to the office?",
    ]);
    let v = json(&o);
    assert_eq!(v["status"], "not_found");
    assert_eq!(v["found"], false);
    assert_eq!(env.server.request_count(), 0);
    // An unknown base is named.
    let o = env.run(&[
        "run",
        "policy",
        "--var",
        "procedures=nope",
        "--var",
        "question=hotel",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("`nope`, which is not a knowledge base"),
        "{}",
        err(&o)
    );
}

#[test]
fn incognito_keeps_no_history_and_caches_no_restatement() {
    let (env, _) = base_with("");
    let q = "What is the nightly hotel limit in Shanghai?";
    for _ in 0..2 {
        env.server
            .push(Reply::stream(&["上海酒店每晚的住宿限额是多少？"]));
        env.server.push(Reply::stream(&["It is CNY 900 [1]."]));
        let o = env.run(&["--incognito", "ask", "--kb", "procedures", q]);
        assert!(o.status.success(), "{}", err(&o));
        assert!(out(&o).starts_with("It is CNY 900 [1]."), "{}", out(&o));
    }
    // Restated both times: the restatement (the question's words) was not kept.
    let chat = env.server.chat_requests();
    assert_eq!(chat.len(), 4, "{chat:?}");
    assert!(is_restatement(&chat[0]) && is_restatement(&chat[2]));
    // Nothing in the history.
    let list = json(&env.run(&["sessions", "list", "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    // The usage counts (no text) are still kept, for the budgets.
    let usage = json(&env.run(&["usage", "--by", "kind", "--json"]));
    assert_eq!(usage["total"]["requests"], 4, "{usage}");
    // The question's words are nowhere in the data folder.
    let mut stack = vec![env.home().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.starts_with(env.home().join("docs")) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains("nightly hotel limit in Shanghai"),
                    "{}",
                    p.display()
                );
                assert!(!text.contains("上海酒店每晚"), "{}", p.display());
            }
        }
    }
}
