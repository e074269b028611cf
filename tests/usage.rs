//! Usage and budgets, end to end: `clerk ask` and `clerk run` against the local test
//! server record every request in the usage ledger; `clerk usage` reports it; a budget
//! refuses a request before anything is sent (exit code 6).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::env::{Env, err, out};
use support::server::*;

fn config(env: &Env, text: &str) {
    env.write(&env.home().join("config/clerk"), "config.toml", text);
}

fn usage_json(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["usage", "--json"];
    all.extend_from_slice(args);
    let o = env.run(&all);
    assert!(o.status.success(), "{}", err(&o));
    serde_json::from_str(&out(&o)).unwrap()
}

/// A streamed answer whose usage the server reports as given.
fn answer_with_usage(text: &str, prompt: u64, completion: u64, cached: u64) -> Reply {
    Reply::sse(vec![
        chunk_frame(text),
        finish_frame("stop"),
        usage_frame(prompt, completion, cached),
        done_frame(),
    ])
}

fn chat_requests(env: &Env) -> usize {
    env.server
        .requests()
        .iter()
        .filter(|r| !r.is_models())
        .count()
}

#[test]
fn every_request_is_recorded_and_reported_by_day_model_json_and_csv() {
    let env = Env::new();
    env.server
        .push(answer_with_usage("one", 1_000_000, 1_000_000, 0));
    env.server.push(answer_with_usage("two", 2_000, 100, 1_000));
    let a = env.run(&["ask", "first question"]);
    assert!(a.status.success(), "{}", err(&a));
    let b = env.run(&["ask", "--model", "llama3.2", "second question"]);
    assert!(b.status.success(), "{}", err(&b));

    let all = usage_json(&env, &[]);
    let total = &all["total"];
    assert_eq!(total["requests"], 2);
    assert_eq!(total["prompt_tokens"], 1_002_000);
    assert_eq!(total["cached_tokens"], 1_000);
    assert_eq!(total["completion_tokens"], 1_000_100);
    // gpt-4o-mini: 1M in at $0.15 + 1M out at $0.60; llama3.2 has no price: unknown.
    assert!(
        (total["cost_usd"].as_f64().unwrap() - 0.75).abs() < 1e-9,
        "{total}"
    );
    assert_eq!(total["unpriced_requests"], 1);
    assert_eq!(total["estimated_requests"], 0);
    let days = all["rows"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{all}");
    assert_eq!(days[0]["key"].as_str().unwrap().len(), "2026-12-06".len());

    let by_model = usage_json(&env, &["--by", "model"]);
    let rows = by_model["rows"].as_array().unwrap();
    assert_eq!(rows[0]["key"], "gpt-4o-mini");
    assert_eq!(rows[1]["key"], "llama3.2");
    assert!(
        rows[1]["cost_usd"].is_null(),
        "unknown, never 0: {by_model}"
    );

    let csv = env.run(&["usage", "--by", "model", "--csv"]);
    let text = out(&csv);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "key,requests,prompt_tokens,cached_tokens,completion_tokens,cost_usd,unpriced_requests,estimated_requests"
        )
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("gpt-4o-mini,1,1000000,0,1000000,0.75")
    );
    assert_eq!(lines.next(), Some("llama3.2,1,2000,1000,100,,1,0"));

    let table = out(&env.run(&["usage", "--by", "kind"]));
    assert!(table.contains("answer"), "{table}");
    assert!(table.contains("cost is unknown"), "{table}");
    // A range with nothing in it.
    let old = usage_json(&env, &["--since", "2020-01-01", "--until", "2020-01-31"]);
    assert_eq!(old["total"]["requests"], 0);
    assert!(old["total"]["cost_usd"].is_null());
}

#[test]
fn a_reached_budget_refuses_before_sending_with_exit_code_6() {
    let env = Env::new();
    config(&env, "[budget]\ndaily_usd = 0.10\n");
    // $0.15 of prompt: over the day's budget once it is counted.
    env.server
        .push(answer_with_usage("pricey", 1_000_000, 10, 0));
    let first = env.run(&["ask", "a long question"]);
    assert!(first.status.success(), "{}", err(&first));
    let sent = chat_requests(&env);
    let second = env.run(&["ask", "one more"]);
    assert_eq!(second.status.code(), Some(6), "{}", err(&second));
    let e = err(&second);
    assert!(e.contains("daily budget of $0.10 is reached"), "{e}");
    assert!(e.contains("[budget] daily_usd"), "{e}");
    assert!(e.contains("at midnight"), "{e}");
    assert_eq!(chat_requests(&env), sent, "nothing was sent");
    // `clerk usage` shows the budget.
    let table = out(&env.run(&["usage"]));
    assert!(table.contains("budget: today $0.15 of $0.10"), "{table}");
}

#[test]
fn a_request_over_the_per_request_budget_is_never_sent() {
    let env = Env::new();
    config(&env, "[budget]\nper_request_usd = 0.0001\n");
    // The prompt alone is about 40,000 tokens: at $0.15 per million, $0.006.
    let long = "words ".repeat(30_000);
    let o = env.run_with_stdin(&["ask", "summarise this"], &long);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(err(&o).contains("per-request budget"), "{}", err(&o));
    assert_eq!(chat_requests(&env), 0);
    assert_eq!(usage_json(&env, &[])["total"]["requests"], 0);
}

#[test]
fn an_answer_cut_short_is_recorded_with_estimated_tokens() {
    let env = Env::new();
    // No usage and no finish: the server's stream ends early.
    env.server.push(Reply::sse(vec![
        chunk_frame("half of an answer that"),
        chunk_frame(" stops here"),
    ]));
    let o = env.run(&["ask", "a question"]);
    assert!(!o.status.success());
    let all = usage_json(&env, &[]);
    let t = &all["total"];
    assert_eq!(t["requests"], 1, "{all}");
    assert!(t["prompt_tokens"].as_u64().unwrap() > 0, "{all}");
    assert!(t["completion_tokens"].as_u64().unwrap() > 0, "{all}");
    assert!(t["cost_usd"].as_f64().unwrap() > 0.0, "{all}");
    let db = env.home().join("data/clerk/usage.sqlite3");
    let conn = rusqlite::Connection::open(db).unwrap();
    let (estimated, status): (bool, String) = conn
        .query_row("SELECT estimated, status FROM requests", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(estimated);
    assert_ne!(status, "complete");
    // And the report says how many of its requests are estimates.
    assert_eq!(t["estimated_requests"], 1, "{all}");
    let table = out(&env.run(&["usage"]));
    assert!(
        table.contains("1 request(s) were stopped or cut off before the server counted them"),
        "{table}"
    );
}

#[test]
fn workflow_steps_are_recorded_with_their_template() {
    let env = Env::new();
    env.write(
        &env.user_dir(),
        "two-steps.toml",
        "title = \"Two steps\"\n\n[[steps]]\nname = \"first\"\nprompt = \"Say one\"\n\n[[steps]]\nname = \"second\"\nprompt = \"Then {{steps.first}}\"\n",
    );
    env.server.push(answer_with_usage("one", 100, 10, 0));
    env.server.push(answer_with_usage("two", 200, 20, 0));
    let o = env.run(&["run", "two-steps"]);
    assert!(o.status.success(), "{}", err(&o));
    let by = usage_json(&env, &["--by", "template"]);
    assert_eq!(by["rows"][0]["key"], "two-steps", "{by}");
    assert_eq!(by["rows"][0]["requests"], 2);
    let kinds = usage_json(&env, &["--by", "kind"]);
    assert_eq!(kinds["rows"][0]["key"], "step", "{kinds}");
}

#[test]
fn a_smart_title_is_counted_as_a_title_of_the_answers_session() {
    let env = Env::new();
    config(&env, "[history]\nsmart_titles = true\n");
    env.server
        .push(answer_with_usage("CNY 800 a night", 100, 10, 0));
    env.server.push(answer_with_usage("Hotel limit", 60, 3, 0));
    let o = env.run(&["ask", "What is the hotel limit?"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(chat_requests(&env), 2, "the answer, then its title");
    let kinds = usage_json(&env, &["--by", "kind"]);
    let rows: Vec<(String, u64)> = kinds["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![("answer".into(), 1), ("title".into(), 1)],
        "{kinds}"
    );
    // Both belong to the session the title names.
    let sessions = usage_json(&env, &["--by", "session"]);
    assert_eq!(sessions["rows"].as_array().unwrap().len(), 1, "{sessions}");
    assert_eq!(sessions["rows"][0]["requests"], 2, "{sessions}");
    assert_ne!(sessions["rows"][0]["key"], "none", "{sessions}");
    let s = out(&env.run(&["sessions", "list"]));
    assert!(s.contains("Hotel limit"), "{s}");
}
