//! `clerk doctor` run as a process: against the local test server (plain, behind the HTTPS
//! front with a test CA, through the CONNECT proxy), with a rejected key, an endpoint
//! nobody listens on, a broken config, no key, and histories missing, sound and damaged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Output;

use serde_json::Value;
use support::env::{Env, doctor_check, err, out, requests_of};
use support::net::{Net, connect_proxy, dead_port, test_ca, toml_path};
use support::server::{Reply, chunk_frame, done_frame, finish_frame, usage_frame};

/// The key every test's clerk gets (support::env): it must never be printed.
const KEY: &str = "sk-templates-test-0123456789";

const IDS: [&str; 13] = [
    "config", "policy", "profile", "keyring", "proxy", "dns", "tcp", "tls", "models", "call",
    "history", "disk", "terminal",
];

/// The JSON of `clerk doctor --json`, checked for its shape: version 1, every id once in
/// order, a status, a detail, a fix for every warning and failure; never the key.
fn report(o: &Output) -> Value {
    for text in [out(o), err(o)] {
        assert!(!text.contains(KEY), "the key was printed: {text}");
        assert!(
            !text.contains("0123456789"),
            "part of the key was printed: {text}"
        );
    }
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out(o), err(o)));
    assert_eq!(v["version"], 1, "{v}");
    let checks = v["checks"].as_array().unwrap();
    let ids: Vec<&str> = checks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, IDS, "{v}");
    for c in checks {
        let status = c["status"].as_str().unwrap();
        assert!(["ok", "warn", "fail"].contains(&status), "{c}");
        assert!(!c["detail"].as_str().unwrap().is_empty(), "{c}");
        if status != "ok" {
            assert!(!c["fix"].as_str().unwrap().is_empty(), "{c}");
        }
    }
    v
}

/// [`report`], once the exit code is `code`.
fn exits(o: &Output, code: i32) -> Value {
    assert_eq!(o.status.code(), Some(code), "{}\n{}", out(o), err(o));
    report(o)
}

fn check<'v>(v: &'v Value, id: &str) -> &'v Value {
    doctor_check(v, id)
}

fn status<'v>(v: &'v Value, id: &str) -> &'v str {
    check(v, id)["status"].as_str().unwrap()
}

fn detail<'v>(v: &'v Value, id: &str) -> &'v str {
    check(v, id)["detail"].as_str().unwrap()
}

/// The detail of check `id` says `text`.
fn says(v: &Value, id: &str, text: &str) {
    assert!(
        detail(v, id).contains(text),
        "{id} should say {text:?}: {v}"
    );
}

fn fix<'v>(v: &'v Value, id: &str) -> &'v str {
    check(v, id)["fix"].as_str().unwrap_or("")
}

/// The usage ledger's requests of `kind`.
fn ledger_count(env: &Env, kind: &str) -> u64 {
    let o = env.run(&["usage", "--by", "kind", "--json"]);
    assert!(o.status.success(), "{}", err(&o));
    requests_of(&serde_json::from_slice(&o.stdout).unwrap(), kind)
}

#[test]
fn a_working_set_up_passes_with_the_checks_in_order_and_one_metered_call() {
    let env = Env::new();
    let v = exits(&env.run(&["doctor", "--json"]), 0);
    for id in [
        "config", "policy", "profile", "proxy", "dns", "tcp", "tls", "models", "call",
    ] {
        assert_eq!(status(&v, id), "ok", "{id}: {}", check(&v, id));
    }
    says(&v, "config", "does not exist");
    says(&v, "policy", "none in force");
    assert!(
        detail(&v, "profile").contains("profile `default`")
            && detail(&v, "profile").contains("environment (CLERK_API_KEY)"),
        "{v}"
    );
    // The key comes from the environment: the keyring does not matter, at most a warning
    // (no D-Bus session in the test's environment, so it cannot be reached).
    assert_ne!(status(&v, "keyring"), "fail", "{v}");
    says(&v, "keyring", "not used");
    #[cfg(target_os = "linux")]
    assert_eq!(status(&v, "keyring"), "warn", "{v}");
    let port = env.server.addr().port().to_string();
    says(&v, "tcp", &format!("127.0.0.1:{port}"));
    says(&v, "tls", "not used");
    says(&v, "models", "gpt-4o-mini among them");
    says(&v, "call", "gpt-4o-mini answered in");
    // Nothing saved yet: no history is a warning, not a failure.
    assert_eq!(status(&v, "history"), "warn", "{v}");
    says(&v, "history", "does not exist yet");
    assert!(!env.home().join("data/clerk/history.sqlite3").exists());
    assert_ne!(status(&v, "disk"), "fail", "{v}");
    assert_ne!(status(&v, "terminal"), "fail", "{v}");
    // One call of one token, recorded in the ledger as `doctor`.
    let calls = env.server.chat_requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].json()["max_completion_tokens"], 1);
    assert_eq!(ledger_count(&env, "doctor"), 1);

    // The same as lines: a mark, the id, the detail; a fix under each warning. (This
    // server counts a long system prompt: the counts are grouped in thousands.)
    env.server.push(Reply::sse(vec![
        chunk_frame("ok"),
        finish_frame("stop"),
        usage_frame(12_345, 1, 0),
        done_frame(),
    ]));
    let o = env.run(&["doctor"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(lines.len(), IDS.len(), "{text}");
    for (line, id) in lines.iter().zip(IDS) {
        let mut words = line.split_whitespace();
        let mark = words.next().unwrap();
        assert!(["✓", "!", "✗"].contains(&mark), "{line}");
        assert_eq!(words.next(), Some(id), "{text}");
    }
    assert!(text.contains("✓ config"), "{text}");
    assert!(text.contains("; 12,345 tokens in, 1 out, $0.0"), "{text}");
    assert!(text.contains("! history"), "{text}");
    assert!(text.contains("fix: nothing to do: it is made"), "{text}");
    assert!(!text.contains('\x1b'), "no colours into a pipe: {text:?}");
}

#[test]
fn a_rejected_key_fails_models_says_clerk_auth_login_and_spends_nothing() {
    let env = Env::new();
    env.server.push_models(Reply::error(
        401,
        &format!("Incorrect API key provided: {KEY}."),
        "invalid_request_error",
        "invalid_api_key",
    ));
    let v = exits(&env.run(&["doctor", "--json"]), 1);
    assert_eq!(status(&v, "models"), "fail", "{v}");
    assert!(detail(&v, "models").contains("rejected (HTTP 401"), "{v}");
    assert!(fix(&v, "models").contains("clerk auth login"), "{v}");
    // The call is not made with a key the server refused.
    assert_eq!(status(&v, "call"), "warn", "{v}");
    says(&v, "call", "not checked");
    assert!(env.server.chat_requests().is_empty());
    // The network was fine.
    for id in ["dns", "tcp", "tls"] {
        assert_eq!(status(&v, id), "ok", "{v}");
    }
}

#[test]
fn an_unreachable_endpoint_names_the_url_and_the_connection_step() {
    let env = Env::new();
    let url = format!("http://127.0.0.1:{}/v1", dead_port());
    let v = exits(
        &env.cmd(&["doctor", "--json"])
            .env("OPENAI_BASE_URL", &url)
            .output()
            .unwrap(),
        1,
    );
    assert_eq!(status(&v, "dns"), "ok", "{v}");
    assert_eq!(status(&v, "tcp"), "fail", "{v}");
    let d = detail(&v, "tcp");
    assert!(d.contains("cannot connect") && d.contains(&url), "{d}");
    assert!(d.to_lowercase().contains("refused"), "{d}");
    assert!(fix(&v, "tcp").contains("base_url"), "{v}");
    for id in ["tls", "models", "call"] {
        assert_eq!(status(&v, id), "warn", "{v}");
        assert!(detail(&v, id).contains("`tcp`"), "{v}");
    }
    // Lines say it too, with the fix under it.
    let o = env
        .cmd(&["doctor"])
        .env("OPENAI_BASE_URL", &url)
        .output()
        .unwrap();
    let text = out(&o);
    assert!(text.contains("✗ tcp"), "{text}");
    assert!(text.contains("fix: is the server running"), "{text}");
}

#[test]
fn a_certificate_from_an_untrusted_authority_fails_tls_naming_the_problem_and_the_issuer() {
    let net = Net::new();
    let other = test_ca("someone else's CA");
    let wrong = net
        .env
        .write(&net.env.home().join("certs"), "other-ca.pem", &other.pem);
    net.profile(&format!("ca_file = \"{}\"", toml_path(&wrong)));
    let v = exits(&net.run(&["doctor", "--json"], &[]), 1);
    assert_eq!(status(&v, "tcp"), "ok", "{v}");
    assert_eq!(status(&v, "tls"), "fail", "{v}");
    let d = detail(&v, "tls");
    assert!(d.contains("TLS handshake with localhost:"), "{d}");
    assert!(d.contains("UnknownIssuer"), "{d}");
    assert!(d.contains("issued by clerk test CA"), "{d}");
    assert!(d.contains("ca_file") && d.contains("other-ca.pem"), "{d}");
    assert!(fix(&v, "tls").contains("ca_file"), "{v}");
    says(&v, "models", "not checked");
    assert_eq!(net.env.server.request_count(), 0);

    // The company's CA: the handshake names the issuer and the bundle, and the API answers.
    net.profile(&format!("ca_file = \"{}\"", toml_path(&net.ca_file)));
    let v = exits(&net.run(&["doctor", "--json"], &[]), 0);
    let d = detail(&v, "tls");
    assert_eq!(status(&v, "tls"), "ok", "{v}");
    assert!(d.contains("certificate issued by clerk test CA"), "{d}");
    assert!(d.contains("trusted through system roots + ca_file"), "{d}");
    assert!(d.contains("company-ca.pem"), "{d}");
    assert_eq!(status(&v, "models"), "ok", "{v}");
    assert_eq!(status(&v, "call"), "ok", "{v}");
    // SSL_CERT_FILE is named as the bundle in use too.
    net.profile("");
    let o = net.run(
        &["doctor", "--json"],
        &[("SSL_CERT_FILE", net.ca_file.to_str().unwrap())],
    );
    let v = report(&o);
    assert_eq!(status(&v, "tls"), "ok", "{v}");
    says(&v, "tls", "+ SSL_CERT_FILE");
}

#[test]
fn behind_a_connect_proxy_dns_and_tcp_go_to_the_proxy_and_tls_through_its_tunnel() {
    let net = Net::new();
    let (proxy, seen) = connect_proxy();
    let ca = format!("ca_file = \"{}\"", toml_path(&net.ca_file));
    net.profile(&format!("{ca}\nproxy = \"http://{proxy}\""));
    let v = exits(&net.run(&["doctor", "--json"], &[]), 0);
    let shown = format!("http://{proxy}");
    says(&v, "proxy", &shown);
    says(&v, "proxy", "the profile's proxy");
    says(&v, "proxy", "CONNECT tunnel");
    says(&v, "dns", "the proxy");
    let tunnel = format!("opened a tunnel to localhost:{}", net.https.port());
    says(&v, "tcp", &tunnel);
    says(&v, "tls", "through the tunnel of");
    assert_eq!(status(&v, "call"), "ok", "{v}");
    {
        let seen = seen.lock().unwrap();
        let target = format!("CONNECT localhost:{} ", net.https.port());
        assert!(
            seen.len() >= 3,
            "doctor's own tunnel, models and call: {seen:?}"
        );
        assert!(seen.iter().all(|l| l.starts_with(&target)), "{seen:?}");
    }

    // HTTPS_PROXY is named as the source; NO_PROXY that covers the host goes around it.
    net.profile(&ca);
    let o = net.run(&["doctor", "--json"], &[("HTTPS_PROXY", &shown)]);
    let v = report(&o);
    says(&v, "proxy", "(HTTPS_PROXY)");
    assert_eq!(status(&v, "tls"), "ok", "{v}");
    let o = net.run(
        &["doctor", "--json"],
        &[("HTTPS_PROXY", &shown), ("NO_PROXY", "localhost")],
    );
    let v = report(&o);
    says(&v, "proxy", "NO_PROXY (`localhost`) covers localhost");
    assert!(!detail(&v, "dns").contains("proxy"), "{v}");

    // An https:// proxy (TLS to the proxy, then the tunnel, then TLS to the endpoint),
    // its certificate from the same company CA.
    let tls_proxy = support::net::https_front(&net.ca, proxy);
    let shown = format!("https://localhost:{}", tls_proxy.port());
    net.profile(&format!("{ca}\nproxy = \"{shown}\""));
    let v = exits(&net.run(&["doctor", "--json"], &[]), 0);
    says(&v, "proxy", &shown);
    says(&v, "tcp", &tunnel);
    says(&v, "tls", &format!("through the tunnel of {shown}"));
    assert_eq!(status(&v, "call"), "ok", "{v}");

    // A proxy nobody listens on: the tcp step names the proxy.
    let dead = format!("http://127.0.0.1:{}", dead_port());
    net.profile(&format!("{ca}\nproxy = \"{dead}\""));
    let v = exits(&net.run(&["doctor", "--json"], &[]), 1);
    assert_eq!(status(&v, "tcp"), "fail", "{v}");
    says(&v, "tcp", &format!("cannot connect to the proxy {dead}"));
}

#[test]
fn a_broken_config_fails_naming_its_file_and_line_and_the_rest_waits_for_it() {
    let env = Env::new();
    let file = env.write(
        &env.home().join("config/clerk"),
        "config.toml",
        "[profiles.default]\nmodel = 5\n",
    );
    let v = exits(&env.run(&["doctor", "--json"]), 1);
    assert_eq!(status(&v, "config"), "fail", "{v}");
    let d = detail(&v, "config");
    assert!(d.contains(&file.display().to_string()), "{d}");
    assert!(
        d.contains("line 2") && d.contains("profiles.default.model"),
        "{d}"
    );
    assert!(fix(&v, "config").contains("line 2"), "{v}");
    for id in ["profile", "dns", "models", "call", "history", "disk"] {
        assert_eq!(status(&v, id), "warn", "{id}: {v}");
        assert!(detail(&v, id).contains("`config`"), "{id}: {v}");
    }
    assert_eq!(env.server.request_count(), 0);
    // A broken theme file is a warning: the app starts with its defaults.
    std::fs::write(&file, "").unwrap();
    env.write(
        &env.home().join("config/clerk/themes"),
        "mine.toml",
        "[colors\n",
    );
    let v = report(&env.run(&["doctor", "--json"]));
    assert_eq!(status(&v, "config"), "warn", "{v}");
    says(&v, "config", "mine.toml");
}

#[test]
fn without_a_key_the_profile_fails_but_the_network_is_still_checked() {
    let env = Env::new();
    let v = exits(
        &env.cmd(&["doctor", "--json"])
            .env_remove("CLERK_API_KEY")
            .output()
            .unwrap(),
        1,
    );
    assert_eq!(status(&v, "profile"), "fail", "{v}");
    says(&v, "profile", "no API key");
    assert!(
        fix(&v, "profile").contains("clerk auth login --profile default"),
        "{v}"
    );
    for id in ["proxy", "dns", "tcp", "tls"] {
        assert_eq!(status(&v, id), "ok", "{id}: {v}");
    }
    says(&v, "models", "`profile`");
    // The key would come from the keyring, which cannot be reached here: that matters.
    #[cfg(target_os = "linux")]
    assert_eq!(status(&v, "keyring"), "fail", "{v}");

    // A profile whose api_key_cmd fails: the command is named; the keyring is not its source.
    env.write(
        &env.home().join("config/clerk"),
        "config.toml",
        "[profiles.default]\napi_key_cmd = \"exit 3\"\n",
    );
    let o = env
        .cmd(&["doctor", "--json"])
        .env_remove("CLERK_API_KEY")
        .output()
        .unwrap();
    let v = exits(&o, 1);
    assert_eq!(status(&v, "profile"), "fail", "{v}");
    says(&v, "profile", "api_key_cmd `exit 3` failed");
    assert!(
        fix(&v, "profile").contains("run `exit 3` in a shell"),
        "{v}"
    );
    assert_ne!(status(&v, "keyring"), "fail", "{v}");
}

#[test]
fn the_history_is_checked_once_it_exists_and_damage_points_to_recover() {
    let env = Env::new();
    let o = env.run(&["ask", "Hello?"]);
    assert!(o.status.success(), "{}", err(&o));
    let v = report(&env.run(&["doctor", "--json"]));
    assert_eq!(status(&v, "history"), "ok", "{v}");
    let d = detail(&v, "history");
    assert!(d.contains("1 session, 2 messages; quick check ok"), "{d}");
    // Off for this run: nothing to check.
    let v = report(&env.run(&["doctor", "--json", "--incognito"]));
    assert_eq!(status(&v, "history"), "ok", "{v}");
    says(&v, "history", "history is off");
    // Not a database any more.
    let db = env.home().join("data/clerk/history.sqlite3");
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", db.display()));
    }
    std::fs::write(&db, vec![b'z'; 8192]).unwrap();
    let v = exits(&env.run(&["doctor", "--json"]), 1);
    assert_eq!(status(&v, "history"), "fail", "{v}");
    says(&v, "history", "history.sqlite3");
    assert!(fix(&v, "history").contains("clerk sessions recover"), "{v}");
}

#[test]
fn an_endpoint_that_never_answers_is_given_up_on_after_the_checks_own_timeout() {
    let env = Env::new();
    // /models hangs: it fails after its 3 s, and no call is made.
    env.server.push_models(Reply::hang());
    let v = exits(&env.run(&["doctor", "--json"]), 1);
    assert_eq!(status(&v, "models"), "fail", "{v}");
    says(&v, "models", "within 3 s");
    says(&v, "call", "not checked");
    assert!(env.server.chat_requests().is_empty());
    // The model list answers, the call hangs: it fails after its 4 s.
    env.server.push(Reply::hang());
    let v = exits(&env.run(&["doctor", "--json"]), 1);
    assert_eq!(status(&v, "models"), "ok", "{v}");
    assert_eq!(status(&v, "call"), "fail", "{v}");
    says(&v, "call", "within 4 s");
}

#[test]
fn the_policy_in_force_is_shown_with_its_files_and_a_model_it_refuses_fails_the_profile() {
    let env = Env::new();
    let it = env.home().join("it");
    let allows = env.write(
        &it,
        "allows.toml",
        "allowed_models = [\"gpt-4o-*\"]\nhistory = \"off\"\n",
    );
    let o = env
        .cmd(&["doctor", "--json"])
        .env("CLERK_POLICY", &allows)
        .output()
        .unwrap();
    let v = exits(&o, 0);
    assert_eq!(status(&v, "policy"), "ok", "{v}");
    says(&v, "policy", &format!("in force from {}", allows.display()));
    says(&v, "policy", "allowed_models");
    says(&v, "policy", "history = \"off\"");
    assert_eq!(status(&v, "profile"), "ok", "{v}");

    let sent = env.server.chat_requests().len();
    let refuses = env.write(&it, "refuses.toml", "allowed_models = [\"gpt-4.1\"]\n");
    let o = env
        .cmd(&["doctor", "--json"])
        .env("CLERK_POLICY", &refuses)
        .output()
        .unwrap();
    let v = exits(&o, 1);
    assert_eq!(status(&v, "profile"), "fail", "{v}");
    says(&v, "profile", "allowed_models");
    says(&v, "profile", &refuses.display().to_string());
    assert_eq!(
        env.server.chat_requests().len(),
        sent,
        "nothing is sent for a refused model"
    );

    // A broken policy: clerk would not run; the doctor names it and waits on the rest.
    let broken = env.write(&it, "broken.toml", "allowed_modles = [\"x\"]\n");
    let o = env
        .cmd(&["doctor", "--json"])
        .env("CLERK_POLICY", &broken)
        .output()
        .unwrap();
    let v = exits(&o, 1);
    assert_eq!(status(&v, "policy"), "fail", "{v}");
    says(&v, "policy", "allowed_modles");
    assert_eq!(status(&v, "config"), "warn", "{v}");
    says(&v, "config", "needs `policy`");
}
