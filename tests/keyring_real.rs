//! Round trips through the real OS keyring (Secret Service), run by `.ci/run` inside
//! `dbus-run-session` with an unlocked gnome-keyring. Ignored in a plain `cargo test`
//! because a desktop keyring may prompt; `.ci/run` runs them with `--ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::server::*;

const KEY: &str = "sk-real-keyring-test-5a6b7c8d9e";

fn clerk(
    home: &std::path::Path,
    server: &MockServer,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clerk"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("OPENAI_BASE_URL", server.base_url())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(bus) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        c.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    let mut child = c.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn secret_tool_lookup(profile: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "clerk", "username", profile])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
#[ignore = "needs a real Secret Service; run by .ci/run inside dbus-run-session"]
fn login_status_ask_logout_round_trip_in_the_real_keyring() {
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start_blocking();
    let profile = "ci-roundtrip";
    let config = home.path().join("config/clerk/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!("default_profile = \"{profile}\"\n[profiles.{profile}]\nmodel = \"gpt-4o-mini\"\n"),
    )
    .unwrap();

    let out = clerk(
        home.path(),
        &server,
        &["auth", "login"],
        Some(&format!("{KEY}\n")),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("sk-…8d9e") && !text(&out).contains(KEY),
        "{}",
        text(&out)
    );
    // The key went to /models for the check.
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    // It is really in the OS store (not an in-process mock): another program can read it.
    assert_eq!(secret_tool_lookup(profile).as_deref(), Some(KEY));

    let out = clerk(home.path(), &server, &["auth", "status"], None);
    let status = text(&out);
    assert!(out.status.success(), "{status}");
    assert!(status.contains("keyring: Secret Service store"), "{status}");
    assert!(
        status.contains("from keyring") && status.contains("works"),
        "{status}"
    );
    assert!(!status.contains(KEY));

    server.push(Reply::stream(&["from the keyring"]));
    let out = clerk(home.path(), &server, &["ask", "hi"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from the keyring\n");
    assert_eq!(
        server.chat_requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    // `clerk doctor`: the key comes from the keyring, which runs and is unlocked.
    let out = clerk(home.path(), &server, &["doctor", "--json"], None);
    assert!(!text(&out).contains(KEY));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = |id: &str| support::env::doctor_check(&report, id).clone();
    assert!(
        check("profile")["detail"]
            .as_str()
            .unwrap()
            .contains("the key comes from keyring"),
        "{report}"
    );
    assert_eq!(check("keyring")["status"], "ok", "{report}");
    assert!(
        check("keyring")["detail"]
            .as_str()
            .unwrap()
            .contains("running and unlocked"),
        "{report}"
    );

    let out = clerk(home.path(), &server, &["auth", "logout"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(secret_tool_lookup(profile), None);
    let out = clerk(home.path(), &server, &["ask", "hi"], None);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("clerk auth login --profile ci-roundtrip"),
        "{}",
        text(&out)
    );
    // Without a key in it, the doctor fails the profile; the keyring itself answers.
    let out = clerk(home.path(), &server, &["doctor", "--json"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keyring = support::env::doctor_check(&report, "keyring");
    assert_eq!(keyring["status"], "ok", "{report}");
    assert!(
        keyring["detail"].as_str().unwrap().contains("holds no key"),
        "{report}"
    );
}

#[test]
#[ignore = "needs a real Secret Service; run by .ci/run inside dbus-run-session"]
fn a_rejected_key_is_not_stored() {
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start_blocking();
    server.push_models(Reply::error(
        401,
        "Incorrect API key provided",
        "invalid_request_error",
        "invalid_api_key",
    ));
    let out = clerk(
        home.path(),
        &server,
        &["--profile", "default", "auth", "login"],
        Some("sk-wrong-key-000000000\n"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("not stored"), "{}", text(&out));
    assert_eq!(secret_tool_lookup("default"), None);
}
