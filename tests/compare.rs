//! `clerk compare`, as a real process against the local test server: the runs interleaved
//! as the server sees them, the `--json` object and its numbers, a model that fails while
//! the others run, an unknown price, the judge asked in both orders and its verdicts
//! counted, the Markdown report, a budget that refuses mid-run (exit 6, with what it had),
//! templates and attached files, and the usage ledger's kinds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::env::{Env, err, out};
use support::server::*;

const MINI: &str = "gpt-4o-mini";
const BIG: &str = "gpt-4o";

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out(o), err(o)))
}

fn config(env: &Env, text: &str) {
    env.write(&env.home().join("config/clerk"), "config.toml", text);
}

/// A streamed answer: an empty first chunk, then `text` in two pieces, paced, with the
/// usage the server reports.
fn answer(text: &str, prompt: u64, completion: u64, pace_ms: u64) -> Reply {
    let (a, b) = text.split_at(text.len() / 2);
    Reply::sse(vec![
        data_frame(&chunk_json(
            serde_json::json!({"role": "assistant", "content": ""}),
            None,
        )),
        chunk_frame(a),
        chunk_frame(b),
        finish_frame("stop"),
        usage_frame(prompt, completion, 0),
        done_frame(),
    ])
    .pace(Duration::from_millis(pace_ms))
}

/// A home and the local server, each model in `replies` answering with its reply.
fn env_with(replies: Vec<(&str, Reply)>) -> Env {
    let env = Env::new();
    for (model, reply) in replies {
        env.server.set_default_for(model, reply);
    }
    env
}

/// `clerk compare --json ARGS…`, which must succeed: its JSON object.
fn compare_json(env: &Env, args: &[&str]) -> Value {
    let o = env.run(&[&["compare", "--json"], args].concat());
    assert!(o.status.success(), "{}", err(&o));
    json(&o)
}

fn models_sent(env: &Env) -> Vec<String> {
    env.server
        .chat_requests()
        .iter()
        .map(|r| r.model())
        .collect()
}

/// The usage ledger's requests by kind: `{kind: count}`.
fn kinds(env: &Env) -> Value {
    let o = env.run(&["usage", "--by", "kind", "--json"]);
    assert!(o.status.success(), "{}", err(&o));
    let v = json(&o);
    let mut map = serde_json::Map::new();
    for row in v["rows"].as_array().unwrap() {
        map.insert(
            row["key"].as_str().unwrap().to_string(),
            row["requests"].clone(),
        );
    }
    Value::Object(map)
}

fn model<'v>(v: &'v Value, name: &str) -> &'v Value {
    v["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == name)
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

#[test]
fn runs_are_interleaved_model_by_model_and_counted_as_compare() {
    let env = Env::new();
    let o = env.run(&[
        "compare",
        "--models",
        "gpt-4o-mini,gpt-4o,o3-mini",
        "--runs",
        "2",
        "--json",
        "What is the hotel limit?",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        models_sent(&env),
        vec![MINI, BIG, "o3-mini", MINI, BIG, "o3-mini"],
        "run 1 of each model, then run 2"
    );
    // The same conversation to each.
    let chat = env.server.chat_requests();
    for r in &chat {
        assert_eq!(
            r.messages(),
            vec![("user".to_string(), "What is the hotel limit?".to_string())]
        );
        assert_eq!(r.json()["stream"], true);
    }
    let v = json(&o);
    assert_eq!(v["models"].as_array().unwrap().len(), 3);
    assert_eq!(v["models"][2]["model"], "o3-mini");
    assert_eq!(kinds(&env), serde_json::json!({"compare": 6}));
}

#[test]
fn the_json_object_has_the_documented_shape_and_the_numbers() {
    // gpt-4o-mini: $0.15 + $0.60 for a million tokens in and out: $0.75 an answer.
    let env = env_with(vec![
        (MINI, answer("CNY 800 a night", 1_000_000, 1_000_000, 40)),
        (BIG, answer("Up to CNY 800", 100, 20, 40)),
    ]);
    let v = compare_json(
        &env,
        &["--models", "gpt-4o-mini,gpt-4o", "What is the hotel limit?"],
    );
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["models"]
    );
    let m = model(&v, MINI);
    let mut keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "answers",
            "cost_usd",
            "errors",
            "model",
            "runs",
            "tokens",
            "tokens_per_s",
            "total_ms",
            "ttft_ms"
        ]
    );
    assert_eq!(
        (m["runs"].as_u64(), m["errors"].as_u64()),
        (Some(3), Some(0))
    );
    // The first text comes after the first pause; the answer ends three pauses later.
    let ttft = m["ttft_ms"]["median"].as_f64().unwrap();
    let total = m["total_ms"]["median"].as_f64().unwrap();
    assert!(ttft >= 40.0, "{m}");
    assert!(m["ttft_ms"]["p90"].as_f64().unwrap() >= ttft, "{m}");
    assert!(total >= ttft + 3.0 * 40.0, "{m}");
    assert!(m["total_ms"]["p90"].as_f64().unwrap() >= total, "{m}");
    // A million tokens over the time after the first token.
    let speed = m["tokens_per_s"]["median"].as_f64().unwrap();
    assert!(speed > 0.0 && speed <= 1_000_000.0 / 0.119, "{m}");
    assert_eq!(
        m["tokens"],
        serde_json::json!({"prompt": 1_000_000, "completion": 1_000_000})
    );
    assert!(
        (m["cost_usd"]["per_answer"].as_f64().unwrap() - 0.75).abs() < 1e-9,
        "{m}"
    );
    assert!(
        (m["cost_usd"]["per_1k"].as_f64().unwrap() - 750.0).abs() < 1e-6,
        "{m}"
    );
    let answers = m["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 3);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(
            a,
            &serde_json::json!({"run": i + 1, "text": "CNY 800 a night", "error": null})
        );
    }
    let b = model(&v, BIG);
    assert_eq!(b["tokens"]["completion"], 20);
    assert_eq!(b["answers"][0]["text"], "Up to CNY 800");
    // gpt-4o: $2.50 in, $10.00 out per million.
    let per = b["cost_usd"]["per_answer"].as_f64().unwrap();
    assert!(
        (per - (100.0 * 2.5 + 20.0 * 10.0) / 1e6).abs() < 1e-12,
        "{b}"
    );
}

#[test]
fn a_model_that_fails_is_reported_with_its_error_while_the_others_run() {
    let env = Env::new();
    env.server.set_default_for(
        "gpt-5-nope",
        Reply::error(
            404,
            "The model `gpt-5-nope` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
    );
    env.server.set_default_for(MINI, answer("fine", 10, 2, 0));
    let v = compare_json(&env, &["--models", "gpt-5-nope,gpt-4o-mini", "hello"]);
    let bad = model(&v, "gpt-5-nope");
    assert_eq!(
        (bad["runs"].as_u64(), bad["errors"].as_u64()),
        (Some(1), Some(1))
    );
    let e = bad["answers"][0]["error"].as_str().unwrap();
    assert!(e.contains("`gpt-5-nope` is not available"), "{e}");
    assert!(bad["ttft_ms"]["median"].is_null());
    assert!(bad["cost_usd"]["per_answer"].is_null());
    // Asked once, not again; the other model ran all its runs.
    assert_eq!(env.server.chat_requests_for("gpt-5-nope").len(), 1);
    let good = model(&v, MINI);
    assert_eq!(
        (good["runs"].as_u64(), good["errors"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(env.server.chat_requests_for(MINI).len(), 3);

    // The table names it too.
    let o = env.run(&["compare", "--models", "gpt-5-nope,gpt-4o-mini", "hello"]);
    assert!(o.status.success(), "{}", err(&o));
    let t = out(&o);
    assert!(
        t.contains("gpt-5-nope, run 1: the model `gpt-5-nope` is not available"),
        "{t}"
    );
}

#[test]
fn a_model_without_a_price_has_an_unknown_cost_never_zero() {
    let env = Env::new();
    env.server.set_default(answer("hi", 10, 2, 0));
    let args = [
        "compare",
        "--models",
        "gpt-4o-mini,llama3.2",
        "--runs",
        "1",
        "hello",
    ];
    let o = env.run(&[&args[..], &["--json"]].concat());
    assert!(o.status.success(), "{}", err(&o));
    let v = json(&o);
    let l = model(&v, "llama3.2");
    assert_eq!(l["errors"], 0);
    assert!(l["cost_usd"]["per_answer"].is_null(), "{l}");
    assert!(l["cost_usd"]["per_1k"].is_null(), "{l}");
    assert!(model(&v, MINI)["cost_usd"]["per_answer"].as_f64().unwrap() > 0.0);

    let o = env.run(&args);
    assert!(o.status.success(), "{}", err(&o));
    let t = out(&o);
    assert!(!t.contains('\x1b'), "plain through a pipe: {t:?}");
    let cost = t
        .lines()
        .find(|l| l.starts_with("cost per answer"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(cost.ends_with("unknown"), "{cost}");
    assert!(!cost.ends_with("$0"), "{cost}");
}

#[test]
fn the_judge_is_asked_in_both_orders_and_its_verdicts_are_counted_and_reported() {
    let env = env_with(vec![
        (MINI, answer("Mini says 800", 10, 3, 0)),
        (BIG, answer("Big says CNY 800 a night", 10, 6, 0)),
    ]);
    // First order (A = gpt-4o-mini, B = gpt-4o): B. Second (A = gpt-4o, B = mini): a
    // reply with no verdict to read.
    env.server.push_for(
        "judge-model",
        Reply::stream(&["B names the currency and the unit.\n", "**Winner:** B"]),
    );
    env.server
        .push_for("judge-model", Reply::stream(&["Both seem fine to me."]));
    let report = env.home().join("report.md");
    let o = env.run(&[
        "compare",
        "--models",
        "gpt-4o-mini,gpt-4o",
        "--runs",
        "1",
        "--judge",
        "judge-model",
        "--json",
        "-o",
        report.to_str().unwrap(),
        "What is the hotel limit?",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let judged = env.server.chat_requests_for("judge-model");
    assert_eq!(judged.len(), 2);
    let asked = |r: &Recorded| r.messages()[1].1.clone();
    let (first, second) = (asked(&judged[0]), asked(&judged[1]));
    assert!(
        first.contains("<answer_a>\nMini says 800\n</answer_a>")
            && first.contains("<answer_b>\nBig says CNY 800 a night\n</answer_b>"),
        "{first}"
    );
    assert!(
        second.contains("<answer_a>\nBig says CNY 800 a night\n</answer_a>")
            && second.contains("<answer_b>\nMini says 800\n</answer_b>"),
        "{second}"
    );
    assert!(
        first.contains("The user:\nWhat is the hotel limit?"),
        "{first}"
    );
    assert!(judged[0].messages()[0].1.contains("Winner: tie"));

    let v = json(&o);
    let j = &v["judge"];
    assert_eq!(j["model"], "judge-model");
    assert_eq!(
        j["wins"],
        serde_json::json!({"gpt-4o-mini": 0, "gpt-4o": 1})
    );
    assert_eq!(
        (j["ties"].as_u64(), j["no_verdict"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(j["verdicts"][0]["verdict"], "B");
    assert_eq!(j["verdicts"][0]["winner"], "gpt-4o");
    assert_eq!(
        j["verdicts"][0]["reason"],
        "B names the currency and the unit."
    );
    assert!(j["verdicts"][1]["verdict"].is_null());
    assert_eq!(j["verdicts"][1]["reason"], "Both seem fine to me.");
    assert!(j["note"].as_str().unwrap().contains("opinion"));
    assert_eq!(kinds(&env), serde_json::json!({"compare": 2, "judge": 2}));

    // The Markdown report: prompt, figures, answers, verdicts, settings, in that order.
    let md = std::fs::read_to_string(&report).unwrap();
    let order = [
        "# Model comparison",
        "## Prompt",
        "What is the hotel limit?",
        "## Figures",
        "| runs (errors) | 1 (0) | 1 (0) |",
        "| cost per answer |",
        "## Answers",
        "### gpt-4o-mini",
        "Mini says 800",
        "### gpt-4o",
        "Big says CNY 800 a night",
        "## Judge: judge-model",
        "opinion",
        "| gpt-4o-mini vs gpt-4o | gpt-4o-mini 0, gpt-4o 1 | 0 | 1 | 0 |",
        "### gpt-4o-mini (A) vs gpt-4o (B)",
        "Verdict: **gpt-4o wins**.",
        "B names the currency and the unit.",
        "### gpt-4o (A) vs gpt-4o-mini (B)",
        "No verdict could be read",
        "Both seem fine to me.",
        "## Settings",
        &format!("- endpoint: {}", env.server.base_url()),
        "- date: ",
        "- runs: 1 per model",
        "- models: gpt-4o-mini, gpt-4o",
        "- judge: judge-model",
    ];
    let mut from = 0;
    for want in order {
        let at = md[from..]
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} missing after byte {from}:\n{md}"));
        from += at + want.len();
    }
}

#[test]
fn a_budget_refusal_mid_run_stops_with_what_it_has_and_exit_code_6() {
    let env = Env::new();
    config(&env, "[budget]\ndaily_usd = 0.10\n");
    // The first answer costs $0.75: every request after it is refused before it is sent.
    env.server
        .set_default_for(MINI, answer("expensive", 1_000_000, 1_000_000, 0));
    let report = env.home().join("partial.md");
    let o = env.run(&[
        "compare",
        "--models",
        "gpt-4o-mini,gpt-4o",
        "--json",
        "-o",
        report.to_str().unwrap(),
        "hello",
    ]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(
        err(&o).contains("daily budget of $0.10 is reached"),
        "{}",
        err(&o)
    );
    assert_eq!(
        models_sent(&env),
        vec![MINI],
        "nothing sent after the refusal"
    );
    let v = json(&o);
    let mini = model(&v, MINI);
    assert_eq!(
        (mini["runs"].as_u64(), mini["errors"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(mini["answers"][0]["text"], "expensive");
    assert!(
        mini["answers"][1]["error"]
            .as_str()
            .unwrap()
            .contains("daily budget")
    );
    assert!((mini["cost_usd"]["per_answer"].as_f64().unwrap() - 0.75).abs() < 1e-9);
    let big = model(&v, BIG);
    assert_eq!(
        (big["runs"].as_u64(), big["errors"].as_u64()),
        (Some(1), Some(1))
    );
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("stopped by a budget, with what it had"), "{md}");
    assert!(md.contains("expensive"), "{md}");
    assert_eq!(kinds(&env), serde_json::json!({"compare": 1}));
}

#[test]
fn a_template_and_attached_files_are_compared_as_clerk_run_and_ask_send_them() {
    let env = Env::new();
    env.write(
        &env.user_dir(),
        "reply.toml",
        "title = \"Reply\"\nsystem = \"You write for {{team}}.\"\ntemperature = 0.2\nprompt = \"Draft a reply to {{customer}}.\"\n\n[[variables]]\nname = \"customer\"\n\n[[variables]]\nname = \"team\"\ndefault = \"support\"\n",
    );
    let o = env.run(&[
        "compare",
        "--models",
        "gpt-4o-mini,gpt-4o",
        "--runs",
        "1",
        "--template",
        "reply",
        "--var",
        "customer=Ada",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    for r in env.server.chat_requests() {
        assert_eq!(
            r.messages(),
            vec![
                ("system".to_string(), "You write for support.".to_string()),
                ("user".to_string(), "Draft a reply to Ada.".to_string())
            ]
        );
        assert!((r.json()["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    }
    // A missing variable is named, nothing is sent.
    env.server.clear_requests();
    let o = env.run(&[
        "compare",
        "--models",
        "gpt-4o-mini,gpt-4o",
        "--template",
        "reply",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("customer"), "{}", err(&o));
    assert_eq!(env.server.request_count(), 0);

    let notes = env.write(env.home(), "notes.txt", "Hotel: CNY 800 a night.\n");
    let o = env.run(&[
        "compare",
        "--models",
        "gpt-4o-mini,gpt-4o",
        "--runs",
        "1",
        "--file",
        notes.to_str().unwrap(),
        "Summarise",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let sent = env.server.chat_requests()[0].messages();
    assert_eq!(
        sent[0].1,
        "<document name=\"notes.txt\">\nHotel: CNY 800 a night.\n</document>\n\nSummarise"
    );
}

#[test]
fn bad_arguments_are_refused_before_anything_is_sent() {
    let env = Env::new();
    env.write(
        &env.user_dir(),
        "two.toml",
        "title = \"Two\"\n\n[[steps]]\nname = \"a\"\nprompt = \"one\"\n\n[[steps]]\nname = \"b\"\nprompt = \"two\"\n",
    );
    for (args, says) in [
        (
            vec!["compare", "--models", "gpt-4o-mini", "hi"],
            "2 to 4 models",
        ),
        (vec!["compare", "--models", "a,b,a", "hi"], "`a` twice"),
        (
            vec!["compare", "--models", "a,b,c,d,e", "hi"],
            "2 to 4 models",
        ),
        (vec!["compare", "--models", "a,b"], "nothing to compare on"),
        (
            vec!["compare", "--models", "a,b", "--template", "two"],
            "workflow of 2 steps",
        ),
        (
            vec!["compare", "--model", "x", "--models", "a,b", "hi"],
            "not --model",
        ),
    ] {
        let o = env.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
        assert!(err(&o).contains(says), "{args:?}: {}", err(&o));
    }
    assert_eq!(env.server.request_count(), 0);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_comparison_and_prints_what_it_had_with_exit_130() {
    let env = env_with(vec![
        (MINI, answer("quick", 10, 2, 0)),
        (BIG, Reply::hang()),
    ]);
    let child = env
        .cmd(&[
            "compare",
            "--models",
            "gpt-4o-mini,gpt-4o",
            "--json",
            "hello",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stop it while gpt-4o's first run hangs (the stop handler is in place by then).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while env.server.chat_requests().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no second request");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", err(&o));
    let v = json(&o);
    assert_eq!(model(&v, MINI)["answers"][0]["text"], "quick");
    let big = model(&v, BIG);
    assert_eq!(
        (big["runs"].as_u64(), big["errors"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        big["answers"][0]["error"]
            .as_str()
            .unwrap()
            .contains("stopped by you"),
        "{big}"
    );
    assert_eq!(
        env.server.chat_requests().len(),
        2,
        "nothing sent after the stop"
    );
}

/// A reply that starts after `first_ms`, then streams `text` a word at a time every
/// `pace_ms`, with the usage a server would report.
fn paced(text: &str, first_ms: u64, pace_ms: u64, prompt: u64) -> Reply {
    let words: Vec<String> = text.split_inclusive(' ').map(str::to_string).collect();
    let mut frames = vec![data_frame(&chunk_json(
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
    ))];
    frames.extend(words.iter().map(|w| chunk_frame(w)));
    frames.push(finish_frame("stop"));
    frames.push(usage_frame(prompt, (words.len() as u64 * 4) / 3, 0));
    frames.push(done_frame());
    Reply::sse(frames)
        .stall_after(1, Duration::from_millis(first_ms))
        .pace(Duration::from_millis(pace_ms))
}

/// The example in docs/compare.md: `clerk compare` run against the local test server with
/// made-up answers, speeds and judge replies, its report written to
/// docs/compare-example.md and its table printed. Not a test of anything: run it with
/// `cargo test --test compare -- --ignored --nocapture example_report_for_the_docs`.
#[test]
#[ignore]
fn example_report_for_the_docs() {
    let mini = "Thank you for reaching out. Our return window is 30 days for personal accounts and 60 days for business accounts. Since your laptop was bought 40 days ago on a business account, you can still return it: reply to this email and we will send a prepaid label.";
    let big = "Thanks for getting in touch. Business accounts have a 60-day return window, so your laptop, bought 40 days ago, can still be returned. Reply to this message and we will email you a prepaid shipping label and the steps to pack it.";
    let llama = "Hello! Unfortunately our policy allows returns within 30 days, so a laptop bought 40 days ago cannot be returned. Please contact us if you have other questions.";
    let env = env_with(vec![
        (MINI, paced(mini, 280, 12, 96)),
        (BIG, paced(big, 520, 25, 96)),
        ("llama3.2", paced(llama, 90, 8, 101)),
    ]);
    for reply in [
        // gpt-4o-mini (A) vs gpt-4o (B), then swapped.
        "Both apply the 60-day business window correctly. B is a little clearer about the next steps.\nWinner: B",
        "Both are correct and polite; A explains the label and packing, B is equally complete.\nWinner: tie",
        // gpt-4o-mini vs llama3.2, both orders.
        "B ignores the 60-day business window and wrongly refuses the return.\nWinner: A",
        "A wrongly refuses the return: the customer has a business account.\n**Winner:** B",
        // gpt-4o vs llama3.2, both orders.
        "B applies the personal-account rule to a business customer.\nWinner: A",
        "Answer B is correct, A is not.",
    ] {
        env.server.push_for("gpt-4.1", Reply::stream(&[reply]));
    }
    let report = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/compare-example.md");
    let o = env.run(&[
        "compare",
        "--models",
        "gpt-4o-mini,gpt-4o,llama3.2",
        "--judge",
        "gpt-4.1",
        "--system",
        "You answer customers of an office-supplies shop. Returns: 30 days for personal accounts, 60 days for business accounts.",
        "-o",
        report.to_str().unwrap(),
        "A business customer asks whether they can return a laptop bought 40 days ago. Draft a short, polite reply.",
    ]);
    println!("{}", out(&o));
    eprintln!("{}", err(&o));
    assert!(o.status.success());
}

#[test]
fn when_no_model_answers_the_exit_code_is_the_first_errors() {
    let env = Env::new();
    env.server.set_default(Reply::error(
        401,
        "Incorrect API key provided",
        "invalid_request_error",
        "invalid_api_key",
    ));
    let o = env.run(&["compare", "--models", "gpt-4o-mini,gpt-4o", "hello"]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    assert!(
        err(&o).contains("no model gave a complete answer"),
        "{}",
        err(&o)
    );
    assert!(
        out(&o).contains("gpt-4o, run 1: the API key was rejected"),
        "{}",
        out(&o)
    );
    // A rejected key is final: each model was asked once.
    assert_eq!(env.server.chat_requests().len(), 2);
}
