//! The admin's policy, end to end: the binary with `CLERK_POLICY` naming a policy file the
//! test writes (the machine file, `/etc/clerk/policy.toml`, is a constant of the build and
//! not touched; the rules of both files merge in `config::policy`'s unit tests). Every
//! refusal happens before anything reaches the local test server, which counts requests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;
use support::env::{Env, err, files_under, out, session_titles};
use support::server::*;

/// Writes `text` as the policy file and returns its path.
fn policy(env: &Env, text: &str) -> PathBuf {
    env.write(&env.home().join("it"), "policy.toml", text)
}

fn config(env: &Env, text: &str) {
    env.write(&env.home().join("config/clerk"), "config.toml", text);
}

/// `clerk ARGS` under the policy file `file`.
fn run(env: &Env, file: &std::path::Path, args: &[&str]) -> Output {
    env.cmd(args).env("CLERK_POLICY", file).output().unwrap()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", err(o));
    serde_json::from_str(&out(o)).unwrap()
}

/// A streamed answer whose usage the server reports as given.
fn answer_with_usage(text: &str, prompt: u64, completion: u64) -> Reply {
    Reply::sse(vec![
        chunk_frame(text),
        finish_frame("stop"),
        usage_frame(prompt, completion, 0),
        done_frame(),
    ])
}

#[test]
fn a_model_the_policy_does_not_allow_is_refused_before_anything_is_sent() {
    let env = Env::new();
    let file = policy(&env, "allowed_models = [\"gpt-4o-mini\", \"gpt-4.1-*\"]\n");
    let shown = file.display().to_string();
    for args in [
        vec!["ask", "--model", "gpt-4o", "hello"],
        vec!["compare", "--models", "gpt-4o-mini,gpt-4o", "hello"],
        // The judge is asked too: it is checked with the rest.
        vec![
            "compare",
            "--models",
            "gpt-4o-mini,gpt-4.1-mini",
            "--judge",
            "gpt-4o",
            "hello",
        ],
    ] {
        let o = run(&env, &file, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
        let e = err(&o);
        assert!(
            e.contains(&format!(
                "gpt-4o is not allowed by {shown} (allowed_models)"
            )),
            "{args:?}: {e}"
        );
        assert!(e.contains("allowed: gpt-4o-mini, gpt-4.1-*"), "{e}");
        assert_eq!(env.server.request_count(), 0, "{args:?}: nothing was sent");
    }
    // A template that names a model the policy does not allow: refused before it runs.
    env.write(
        &env.home().join("config/clerk/templates"),
        "pricey.toml",
        "title = \"Pricey\"\nmodel = \"gpt-4o\"\nprompt = \"Say hello.\"\n",
    );
    let o = run(&env, &file, &["run", "pricey"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("(allowed_models)"), "{}", err(&o));
    assert_eq!(env.server.request_count(), 0);
    // An allowed model goes, as without a policy.
    env.server.push(Reply::stream(&["Hello."]));
    let o = run(&env, &file, &["ask", "--model", "GPT-4.1-mini", "hello"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(env.server.chat_requests().len(), 1);
}

#[test]
fn a_base_url_the_policy_does_not_allow_is_refused_before_anything_is_sent() {
    let env = Env::new();
    let file = policy(
        &env,
        "allowed_base_urls = [\"https://gateway.example.com/v1\"]\n",
    );
    // The test environment points OPENAI_BASE_URL at the local server.
    for args in [
        vec!["ask", "hello"],
        vec!["compare", "--models", "a,b", "hello"],
    ] {
        let o = run(&env, &file, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
        let e = err(&o);
        assert!(
            e.contains(&format!(
                "the base URL {} is not allowed by {} (allowed_base_urls)",
                env.server.base_url(),
                file.display()
            )),
            "{args:?}: {e}"
        );
    }
    // `auth status` reports it (the key is not tried there either).
    let o = run(&env, &file, &["auth", "status"]);
    assert!(
        out(&o).contains("does not work: not sent: the base URL")
            && out(&o).contains("(allowed_base_urls)"),
        "{}",
        out(&o)
    );
    assert_eq!(env.server.request_count(), 0);
    // The server's address allowed (a prefix of the URL): it answers.
    let addr = format!("http://{}", env.server.addr());
    let file = policy(&env, &format!("allowed_base_urls = [\"{addr}\"]\n"));
    env.server.push(Reply::stream(&["Hi."]));
    let o = run(&env, &file, &["ask", "hello"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o).trim(), "Hi.");
}

#[test]
fn without_profile_overrides_requests_use_the_profiles_endpoint_and_model() {
    let env = Env::new();
    let file = policy(&env, "allow_profiles_override = false\n");
    config(
        &env,
        &format!(
            "[profiles.default]\nbase_url = \"{}\"\nmodel = \"gpt-4o-mini\"\n",
            env.server.base_url()
        ),
    );
    // OPENAI_BASE_URL (set by the test environment) is an override: refused, even when it
    // names the same server under another spelling.
    let other = format!("http://localhost:{}/v1", env.server.addr().port());
    let o = env
        .cmd(&["ask", "hello"])
        .env("CLERK_POLICY", &file)
        .env("OPENAI_BASE_URL", &other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("(allow_profiles_override = false)")
            && err(&o).contains("OPENAI_BASE_URL"),
        "{}",
        err(&o)
    );
    let o = env
        .cmd(&["--base-url", &other, "ask", "hello"])
        .env("CLERK_POLICY", &file)
        .env_remove("OPENAI_BASE_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    // --model is an override of the profile's model.
    let o = env
        .cmd(&["ask", "--model", "gpt-4o", "hello"])
        .env("CLERK_POLICY", &file)
        .env_remove("OPENAI_BASE_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("gpt-4o instead of the profile's model is not allowed by"),
        "{}",
        err(&o)
    );
    assert_eq!(env.server.request_count(), 0);
    // The profile as it is: sent.
    env.server.push(Reply::stream(&["Hi."]));
    let o = env
        .cmd(&["ask", "hello"])
        .env("CLERK_POLICY", &file)
        .env_remove("OPENAI_BASE_URL")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(env.server.chat_requests()[0].model(), "gpt-4o-mini");
}

#[test]
fn history_off_writes_nothing_whatever_the_users_config_says() {
    let env = Env::new();
    let file = policy(&env, "history = \"off\"\n");
    config(&env, "[history]\nenabled = true\n");
    env.server
        .push(Reply::stream(&["The quokka answer, kept nowhere."]));
    let o = run(&env, &file, &["ask", "Where do quokkas zanzibar live?"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("The quokka answer"));
    let list = json(&run(&env, &file, &["sessions", "list", "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    for (path, text) in files_under(env.home()) {
        assert!(
            !text.contains("quokkas zanzibar") && !text.contains("quokka answer"),
            "{}",
            path.display()
        );
    }
    let show = out(&run(&env, &file, &["config", "show"]));
    assert!(show.contains("[history]\nenabled = false"), "{show}");
    // The usage counts (no text) are still kept, for the budgets.
    let usage = json(&run(&env, &file, &["usage", "--json"]));
    assert_eq!(usage["total"]["requests"], 1, "{usage}");
}

#[test]
fn retention_deletes_old_sessions_at_start_and_logs_only_the_count() {
    let env = Env::new();
    let db = env.home().join("data/clerk/history.sqlite3");
    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000;
    {
        let mut store = clerk::store::Store::open(&db).unwrap();
        for (title, age) in [("ancient pelican notes", 40), ("fresh notes", 2)] {
            let id = store
                .create_session(&clerk::store::NewSession {
                    title: title.into(),
                    profile: "default".into(),
                    model: "gpt-4o-mini".into(),
                    system_prompt: None,
                    now_ms: now - age * day,
                })
                .unwrap();
            store
                .add_message(&clerk::store::NewMessage {
                    session_id: id,
                    role: clerk::store::Role::User,
                    content: format!("{title} in full"),
                    status: clerk::store::MessageStatus::Complete,
                    model: None,
                    now_ms: now - age * day,
                })
                .unwrap();
        }
    }
    let file = policy(&env, "retention_days = 30\n");
    let o = run(&env, &file, &["sessions", "list", "--json"]);
    let list = json(&o);
    assert_eq!(session_titles(&list), vec!["fresh notes"]);
    assert!(
        err(&o).contains(&format!(
            "1 session(s) with no activity for 30 days were deleted (retention_days in {})",
            file.display()
        )),
        "{}",
        err(&o)
    );
    let log = std::fs::read_to_string(env.home().join("state/clerk/clerk.log")).unwrap();
    assert!(
        log.contains("retention") && log.contains("sessions=1"),
        "{log}"
    );
    assert!(
        !log.contains("pelican"),
        "no title or text in the log: {log}"
    );
    // Searching finds nothing of it any more.
    let hits = json(&run(
        &env,
        &file,
        &["sessions", "search", "pelican", "--json"],
    ));
    assert_eq!(hits.as_array().map(Vec::len), Some(0), "{hits}");
    // A second start has nothing left to delete, and says nothing.
    let o = run(&env, &file, &["sessions", "list"]);
    assert!(!err(&o).contains("deleted"), "{}", err(&o));
}

#[test]
fn scrub_block_sends_nothing_and_redact_replaces_what_the_server_sees() {
    let env = Env::new();
    // The user turns the scan off and asks to send secrets as they are: the policy wins.
    config(&env, "[documents]\nscan_secrets = false\n");
    let key = concat!("AKIA", "IOSFODNN7EXAMPLE");
    let question = format!("why does aws_access_key_id = {key} fail?");
    let block = policy(&env, "scrub_secrets = \"block\"\n");
    let o = run(&env, &block, &["ask", "--secrets", "send", &question]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let e = err(&o);
    assert!(
        e.contains(&format!(
            "not allowed by {} (scrub_secrets = \"block\")",
            block.display()
        )) && e.contains("AWS access key"),
        "{e}"
    );
    assert!(!e.contains(key), "{e}");
    assert_eq!(env.server.request_count(), 0);

    let redact = policy(&env, "scrub_secrets = \"redact\"\n");
    env.server.push(Reply::stream(&["Rotate it."]));
    let o = run(&env, &redact, &["ask", "--secrets", "send", &question]);
    assert!(o.status.success(), "{}", err(&o));
    let sent = env.server.chat_requests()[0].messages();
    let (_, text) = sent.last().unwrap();
    assert!(
        text.contains("[REDACTED:") && !text.contains(key),
        "the server saw: {text}"
    );
    // What the history keeps is what was sent.
    let list = json(&run(&env, &redact, &["sessions", "list", "--json"]));
    let id = list[0]["session"]["id"].as_i64().unwrap().to_string();
    let shown = out(&run(&env, &redact, &["sessions", "show", &id]));
    assert!(!shown.contains(key), "{shown}");
}

#[test]
fn policy_budgets_hold_over_a_looser_user_config() {
    let env = Env::new();
    config(
        &env,
        "[budget]\nper_request_usd = 100.0\nmonthly_usd = 1000.0\n",
    );
    let file = policy(&env, "max_cost_per_request_usd = 0.0001\n");
    let o = run(&env, &file, &["ask", "hello"]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(
        err(&o).contains("over the per-request budget of $0.0001")
            && err(&o).contains(&format!("(max_cost_per_request_usd in {})", file.display())),
        "{}",
        err(&o)
    );
    assert_eq!(env.server.request_count(), 0);

    let file = policy(&env, "monthly_budget_usd = 0.01\n");
    // $0.75 recorded: the month's budget is spent.
    env.server
        .push(answer_with_usage("pricey", 1_000_000, 1_000_000));
    let first = run(&env, &file, &["ask", "a first question"]);
    assert!(first.status.success(), "{}", err(&first));
    let sent = env.server.request_count();
    let second = run(&env, &file, &["ask", "one more"]);
    assert_eq!(second.status.code(), Some(6), "{}", err(&second));
    let e = err(&second);
    assert!(
        e.contains("monthly budget of $0.01")
            && e.contains(&format!("monthly_budget_usd in {}", file.display())),
        "{e}"
    );
    assert_eq!(env.server.request_count(), sent, "nothing was sent");
    // `config show` has the budget in force.
    let show = out(&run(&env, &file, &["config", "show"]));
    assert!(show.contains("monthly_usd = 0.01"), "{show}");
}

#[test]
fn a_broken_policy_file_stops_every_command_naming_the_file_the_line_and_the_key() {
    let env = Env::new();
    for (text, line, key) in [
        (
            "# IT policy\nhistory = \"off\"\nallowed_modles = [\"gpt-4o-mini\"]\n",
            "line 3",
            "allowed_modles",
        ),
        (
            "history = \"off\"\nretention_days = \"thirty\"\n",
            "line 2",
            "retention_days",
        ),
    ] {
        let file = policy(&env, text);
        for args in [vec!["config", "path"], vec!["ask", "hello"]] {
            let o = run(&env, &file, &args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
            let e = err(&o);
            assert!(
                e.contains(&file.display().to_string())
                    && e.contains(line)
                    && e.contains(key)
                    && e.contains("does not run with a broken policy file"),
                "{args:?}: {e}"
            );
        }
    }
    // A policy file named but missing is not "no policy".
    let missing = env.home().join("it/nowhere.toml");
    let o = run(&env, &missing, &["ask", "hello"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("nowhere.toml") && err(&o).contains("CLERK_POLICY"),
        "{}",
        err(&o)
    );
    assert_eq!(env.server.request_count(), 0);
}

#[test]
fn config_show_lists_the_policy_with_each_rules_file() {
    let env = Env::new();
    let plain = out(&env.run(&["config", "show"]));
    assert!(plain.contains("# no admin policy"), "{plain}");
    let file = policy(
        &env,
        "allowed_models = [\"gpt-4o-mini\"]\nscrub_secrets = \"redact\"\nretention_days = 90\n",
    );
    let o = run(&env, &file, &["config", "show"]);
    assert!(o.status.success(), "{}", err(&o));
    let show = out(&o);
    let from = format!("  # from {}", file.display());
    for line in [
        "[policy]".to_string(),
        format!("allowed_models = [\"gpt-4o-mini\"]{from}"),
        format!("retention_days = 90{from}"),
        format!("scrub_secrets = \"redact\"{from}"),
    ] {
        assert!(show.contains(&line), "{line:?} in:\n{show}");
    }
    assert!(show.contains("scan_secrets = true"), "{show}");
}

#[test]
fn a_knowledge_bases_embeddings_model_the_policy_does_not_allow_is_never_asked() {
    let env = Env::new();
    env.server.set_embeddings(support::server::Embeddings::Toy);
    let docs = env.home().join("docs");
    support::env::copy_tree(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kb-mini"),
        &docs,
    );
    config(
        &env,
        &format!(
            "[[knowledge]]\nname = \"procedures\"\npaths = [\"{}\"]\ntranslate = false\nembeddings = \"toy-embed\"\n",
            docs.display()
        ),
    );
    let file = policy(&env, "allowed_models = [\"gpt-4o-mini\"]\n");
    let o = run(&env, &file, &["kb", "index", "procedures"]);
    // The keyword index is made; vectors are not, and the policy is named.
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains(&format!(
            "toy-embed is not allowed by {} (allowed_models)",
            file.display()
        )),
        "{}",
        err(&o)
    );
    assert!(env.server.embeddings_requests().is_empty());
    assert_eq!(env.server.request_count(), 0);
}
