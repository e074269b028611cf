//! `clerk` run as a real process against the local test server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::server::*;

const CANARY: &str = "sk-canary-7f3e9b1c5d2a8e4f6b0c";

struct Env {
    dir: tempfile::TempDir,
    server: MockServer,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            server: MockServer::start_blocking(),
        }
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.home().join("data/clerk/history.sqlite3")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clerk"));
        c.args(args);
        self.isolate(&mut c);
        c
    }

    /// A clean environment: temporary home folders, the canary key, the test server.
    fn isolate(&self, c: &mut Command) {
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join("config"))
            .env("XDG_DATA_HOME", self.home().join("data"))
            .env("XDG_STATE_HOME", self.home().join("state"))
            .env("CLERK_API_KEY", CANARY)
            .env("OPENAI_BASE_URL", self.server.base_url())
            .stdin(Stdio::null());
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn ask_streams_the_answer_and_saves_the_session() {
    let env = Env::new();
    env.server.push(Reply::stream(&["Hello", " world"]));
    let out = env.run(&["ask", "How", "do I file travel expenses?"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Hello world\n");
    let list = env.json(&["sessions", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        list[0]["session"]["title"],
        "How do I file travel expenses?"
    );
    assert_eq!(list[0]["message_count"], 2);
    let show = env.json(&["sessions", "show", "last", "--json"]);
    let msgs = show["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "user");
    assert_eq!(msgs[0]["content"], "How do I file travel expenses?");
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["content"], "Hello world");
    assert_eq!(msgs[1]["status"], "complete");
    assert_eq!(msgs[1]["usage"]["tokens_in"], 12);
    // 12 input and 2 output tokens of gpt-4o-mini
    let cost = msgs[1]["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (12.0 * 0.15 + 2.0 * 0.60) / 1e6).abs() < 1e-12,
        "{cost}"
    );
}

#[test]
fn ask_json_reports_status_usage_cost_and_timings() {
    let env = Env::new();
    env.server.push(Reply::stream(&["4"]));
    let v = env.json(&["ask", "--json", "2+2?"]);
    assert_eq!(v["answer"], "4");
    assert_eq!(v["status"], "complete");
    assert_eq!(v["usage"]["input_tokens"], 12);
    assert_eq!(v["usage"]["output_tokens"], 1);
    assert!(v["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(v["timings"]["total_ms"].is_u64());
    assert!(v["session_id"].is_i64());
}

#[test]
fn unknown_model_cost_is_null_not_zero() {
    let env = Env::new();
    let v = env.json(&["ask", "--json", "--model", "llama3.2", "hi"]);
    assert_eq!(v["cost_usd"], Value::Null);
    assert_eq!(env.server.chat_requests()[0].json()["model"], "llama3.2");
}

#[test]
fn piped_stdin_is_added_as_a_document() {
    let env = Env::new();
    let mut child = env
        .cmd(&["ask", "summarise this"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Meeting notes: budget approved.\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let body = env.server.chat_requests()[0].json();
    let content = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        content.starts_with(
            "<document name=\"standard input\">\nMeeting notes: budget approved.\n</document>"
        ),
        "{content}"
    );
    assert!(content.ends_with("summarise this"));
}

#[test]
fn session_last_continues_the_conversation_with_its_history() {
    let env = Env::new();
    env.server.push(Reply::stream(&["Paris"]));
    env.server.push(Reply::stream(&["About 2 million"]));
    assert!(
        env.run(&[
            "ask",
            "--system",
            "answer in one line",
            "Capital of France?"
        ])
        .status
        .success()
    );
    let out = env.run(&["ask", "--session", "last", "Its population?"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let body = env.server.chat_requests()[1].json();
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(body["messages"][2]["content"], "Paris");
    let list = env.json(&["sessions", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["message_count"], 4);
}

#[test]
fn no_save_writes_no_history() {
    let env = Env::new();
    assert!(
        env.run(&["ask", "--no-save", "secret plans"])
            .status
            .success()
    );
    assert!(
        !env.db().exists()
            || env
                .json(&["sessions", "list", "--json"])
                .as_array()
                .unwrap()
                .is_empty()
    );
}

#[test]
fn long_history_is_trimmed_and_the_user_is_told() {
    let env = Env::new();
    let config = env.home().join("clerk.toml");
    std::fs::write(
        &config,
        "[models.tiny]\ncontext_window = 30\nmax_output_tokens = 10\n",
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    for q in [
        "first question with several words in it",
        "second question with several words too",
    ] {
        let mut args = vec!["--config", cfg, "--model", "tiny", "ask"];
        if env.db().exists() {
            args.extend(["--session", "last"]);
        }
        args.push(q);
        let out = env.run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = env.run(&[
        "--config",
        cfg,
        "--model",
        "tiny",
        "ask",
        "--session",
        "last",
        "third one",
    ]);
    assert!(
        stderr(&out).contains("earlier message(s) left out"),
        "{}",
        stderr(&out)
    );
    let sent = env.server.chat_requests().last().unwrap().json();
    assert!(sent["messages"].as_array().unwrap().len() < 5);
    assert_eq!(
        sent["messages"].as_array().unwrap().last().unwrap()["content"],
        "third one"
    );
}

#[test]
fn exit_codes_tell_what_went_wrong() {
    let env = Env::new();
    env.server.push(Reply::error(
        401,
        "Incorrect API key provided",
        "invalid_request_error",
        "invalid_api_key",
    ));
    let out = env.run(&["ask", "hi"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("clerk auth login"));

    env.server.push(Reply::stream_truncated(&["cut"]));
    let out = env.run(&["ask", "hi"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("truncated"));

    let out = env.run(&["ask"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nothing to ask"));

    let out = env.run(&["sessions", "show", "999"]);
    assert_eq!(out.status.code(), Some(2));

    let out = env.run(&["ask", "--base-url", "http://127.0.0.1:9/v1", "hi"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot connect"));

    let help = stdout(&env.run(&["ask", "--help"]));
    assert!(help.contains("130") && help.contains("Exit codes"));
}

#[test]
fn a_failed_answer_is_saved_as_an_error_and_the_question_is_kept() {
    let env = Env::new();
    env.server
        .push(Reply::error(401, "revoked", "invalid_request_error", None));
    assert_eq!(env.run(&["ask", "keep my question"]).status.code(), Some(3));
    let show = env.json(&["sessions", "show", "last", "--json"]);
    assert_eq!(show["messages"][0]["content"], "keep my question");
    assert_eq!(show["messages"][1]["status"], "error");
}

#[test]
fn config_errors_name_the_file_line_and_key() {
    let env = Env::new();
    let config = env.home().join("bad.toml");
    std::fs::write(
        &config,
        "[profiles.default]\nidle_timeout_secs = \"soon\"\n",
    )
    .unwrap();
    let out = env.run(&["--config", config.to_str().unwrap(), "ask", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("bad.toml")
            && err.contains("line 2")
            && err.contains("profiles.default.idle_timeout_secs"),
        "{err}"
    );
    let out = env.run(&["--config", "/nonexistent/clerk.toml", "ask", "hi"]);
    assert!(stderr(&out).contains("does not exist"));
}

#[test]
fn config_path_init_and_show() {
    let env = Env::new();
    let paths = stdout(&env.run(&["config", "path"]));
    assert!(
        paths.contains(&format!(
            "{}/config/clerk/config.toml",
            env.home().display()
        )),
        "{paths}"
    );
    assert!(paths.contains("not created yet"));
    assert!(env.run(&["config", "init"]).status.success());
    assert!(env.home().join("config/clerk/config.toml").exists());
    assert_eq!(env.run(&["config", "init"]).status.code(), Some(2));
    let show = stdout(&env.run(&["config", "show"]));
    assert!(
        show.contains("gpt-4o-mini") && show.contains("input_per_million = 0.15"),
        "{show}"
    );
}

#[test]
fn config_show_reports_every_broken_theme_file() {
    let env = Env::new();
    let dir = env.home().join("config/clerk/themes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("first.toml"),
        "name = \"first\"\n[roles]\ntext = { fg = \"blurple\" }\n",
    )
    .unwrap();
    std::fs::write(dir.join("second.toml"), "name = \"second\"\nroles = 3\n").unwrap();
    std::fs::write(
        env.home().join("config/clerk/config.toml"),
        "theme = \"nonesuch\"\n",
    )
    .unwrap();
    let out = env.run(&["config", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&dir.join("first.toml").display().to_string()) && e.contains("blurple"),
        "{e}"
    );
    assert!(
        e.contains(&dir.join("second.toml").display().to_string()) && e.contains("line 2"),
        "{e}"
    );
    assert!(e.contains("theme = \"nonesuch\""), "{e}");
}

#[test]
fn sessions_search_export_rename_and_rm() {
    let env = Env::new();
    env.server.push(Reply::stream(&["请提交发票和审批单。"]));
    env.server.push(Reply::stream(&["Use the VPN client."]));
    assert!(env.run(&["ask", "我想了解差旅报销的流程"]).status.success());
    assert!(
        env.run(&["ask", "How do I connect to the office network remotely?"])
            .status
            .success()
    );

    let hits = env.json(&["sessions", "search", "报销", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert!(
        hits[0]["snippet"].as_str().unwrap().contains("[报销]"),
        "{hits}"
    );
    let hits = env.json(&["sessions", "search", "vpn", "--json"]);
    assert_eq!(hits[0]["role"], "assistant");
    let out = env.run(&["sessions", "search", "network"]);
    assert!(stdout(&out).contains("**network**"), "{}", stdout(&out));
    assert!(
        env.json(&["sessions", "search", "审批单不存在的词", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    let md = env.home().join("s.md");
    assert!(
        env.run(&[
            "sessions",
            "export",
            "1",
            "--format",
            "md",
            "-o",
            md.to_str().unwrap()
        ])
        .status
        .success()
    );
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.starts_with("# 我想了解差旅报销的流程")
            && text.contains("## Assistant\n\n请提交发票和审批单。"),
        "{text}"
    );
    let json: Value = serde_json::from_slice(
        &env.run(&["sessions", "export", "2", "--format", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(json["messages"][1]["content"], "Use the VPN client.");

    assert!(
        env.run(&["sessions", "rename", "2", "Remote", "access"])
            .status
            .success()
    );
    assert_eq!(
        env.json(&["sessions", "show", "2", "--json"])["session"]["title"],
        "Remote access"
    );
    assert!(env.run(&["sessions", "rm", "1"]).status.success());
    assert!(
        env.json(&["sessions", "search", "报销", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(env.run(&["sessions", "rm", "1"]).status.code(), Some(2));
    let listing = stdout(&env.run(&["sessions", "list"]));
    assert!(
        listing.contains("Remote access") && !listing.contains("报销"),
        "{listing}"
    );
}

#[test]
fn piped_output_is_exact_and_terminal_output_is_sanitized() {
    let env = Env::new();
    let evil = "a\x1b]52;c;ZXZpbA==\x07b\x1b[2Jc";
    env.server.push(Reply::stream(&[evil]));
    let out = env.run(&["ask", "hi"]);
    assert_eq!(
        stdout(&out),
        format!("{evil}\n"),
        "a pipe gets the text exactly"
    );
    // Under a pseudo-terminal (util-linux `script`), the escape sequences must not pass.
    env.server
        .push(Reply::stream(&["x\x1b]52;c;ZXZpbA==", "\x07y\x1b[31mz"]));
    let out = in_pty(&env, "ask hi");
    let text = stdout(&out);
    assert!(text.contains("xyz"), "{text:?}");
    assert!(
        !text.contains("52;c;") && !text.contains("[31m"),
        "{text:?}"
    );
    // Stored exactly as received.
    let show = env.json(&["sessions", "show", "last", "--json"]);
    assert_eq!(
        show["messages"][1]["content"],
        "x\x1b]52;c;ZXZpbA==\x07y\x1b[31mz"
    );
    // On a terminal, search hits are highlighted (and nothing else of the text is lost).
    let text = stdout(&in_pty(&env, "sessions search hi"));
    assert!(text.contains("\x1b[1;33mhi\x1b[0m"), "{text:?}");
}

/// Run clerk under a pseudo-terminal (util-linux `script`), so stdout is a terminal.
fn in_pty(env: &Env, args: &str) -> Output {
    let bin = env!("CARGO_BIN_EXE_clerk");
    let mut c = Command::new("script");
    c.args(["-qec", &format!("{bin} {args}"), "/dev/null"]);
    env.isolate(&mut c);
    c.output()
        .expect("util-linux `script` is needed for the terminal tests")
}

fn wait_for(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn slow_reply() -> Reply {
    let words: Vec<String> = (0..60).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    Reply::stream(&refs).pace(Duration::from_millis(100))
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_answer_saves_what_arrived_and_exits_130() {
    let env = Env::new();
    env.server.push(slow_reply());
    let mut child = env
        .cmd(&["ask", "long answer please"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stop it once the answer has started (the stop handler is in place by then).
    let mut pipe = child.stdout.take().unwrap();
    let mut printed = Vec::new();
    let mut buf = [0u8; 64];
    while !String::from_utf8_lossy(&printed).contains("w2 ") {
        let n = std::io::Read::read(&mut pipe, &mut buf).unwrap();
        assert!(n > 0, "the answer ended before it was stopped");
        printed.extend_from_slice(&buf[..n]);
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::io::Read::read_to_end(&mut pipe, &mut printed).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&printed).into_owned();
    assert!(printed.starts_with("w0 w1 "), "{printed}");
    let show = env.json(&["sessions", "show", "last", "--json"]);
    let answer = &show["messages"][1];
    assert_eq!(answer["status"], "interrupted");
    let saved = answer["content"].as_str().unwrap();
    assert!(
        !saved.is_empty() && printed.trim_end().starts_with(saved.trim_end()),
        "saved {saved:?} printed {printed:?}"
    );
    // What was paid is counted: the server sent no usage, so clerk's estimate, marked so.
    let usage = &answer["usage"];
    assert_eq!(usage["estimated"], true, "{answer}");
    assert!(usage["tokens_in"].as_u64().unwrap() > 0, "{answer}");
    assert!(usage["tokens_out"].as_u64().unwrap() > 0, "{answer}");
    assert!(answer["cost_usd"].as_f64().unwrap() > 0.0, "{answer}");
}

#[cfg(unix)]
#[test]
fn kill_9_mid_answer_keeps_a_sound_database_with_the_partial_answer() {
    let env = Env::new();
    env.server.push(slow_reply());
    let mut child = env
        .cmd(&["ask", "long answer please"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until at least one partial write (once a second) has happened.
    let db = env.db();
    wait_for(
        "the partial answer in the database",
        Duration::from_secs(20),
        || partial_on_disk(&db),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let store = clerk::store::Store::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(store.recovered(), 1);
    let id = store.last_session_id().unwrap().unwrap();
    let msgs = store.messages(id).unwrap();
    assert_eq!(msgs[0].content, "long answer please");
    assert_eq!(msgs[1].status, clerk::store::MessageStatus::Interrupted);
    assert!(
        msgs[1].content.starts_with("w0 w1 "),
        "{:?}",
        msgs[1].content
    );
}

/// True once the streaming answer has some text on disk (read without clerk, read-only).
fn partial_on_disk(db: &Path) -> bool {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, flags) else {
        return false;
    };
    conn.query_row(
        "SELECT length(content) FROM messages WHERE role = 'assistant' AND status = 'streaming'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 6)
    .unwrap_or(false)
}

#[test]
fn the_key_never_lands_in_files_or_output() {
    let env = Env::new();
    let mut outputs = String::new();
    let mut run = |args: &[&str]| {
        let o = env.run(args);
        outputs.push_str(&stdout(&o));
        outputs.push_str(&stderr(&o));
    };
    run(&["ask", "hello"]);
    run(&["ask", "--json", "--session", "last", "again"]);
    env.server.push(Reply::error(
        401,
        "Incorrect API key provided: sk-canar***********4f6b0c",
        "invalid_request_error",
        "invalid_api_key",
    ));
    run(&["ask", "fails"]);
    env.server
        .push(Reply::error(500, "boom", "server_error", None));
    env.server
        .push(Reply::error(500, "boom", "server_error", None));
    env.server
        .push(Reply::error(500, "boom", "server_error", None));
    run(&["ask", "fails too"]);
    run(&["auth", "status"]);
    run(&["sessions", "list"]);
    run(&["sessions", "show", "last"]);
    run(&["sessions", "search", "hello"]);
    run(&["sessions", "export", "1", "--format", "json"]);
    run(&["config", "show"]);
    run(&["config", "path"]);
    assert!(!outputs.contains(CANARY), "the key appeared in output");
    assert!(
        outputs.contains("sk-…6b0c"),
        "auth status shows the masked key: {outputs}"
    );
    let mut files = 0;
    let mut stack = vec![env.home().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files += 1;
                let bytes = std::fs::read(&path).unwrap();
                let hay = String::from_utf8_lossy(&bytes);
                assert!(!hay.contains(CANARY), "the key is in {}", path.display());
            }
        }
    }
    assert!(files >= 2, "expected the database and the log to exist");
    assert!(env.home().join("state/clerk/clerk.log").exists());
}

#[cfg(unix)]
#[test]
fn database_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    assert!(env.run(&["ask", "hi"]).status.success());
    let mode = std::fs::metadata(env.db()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mode = std::fs::metadata(env.db().parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn completions_and_help() {
    let env = Env::new();
    let out = env.run(&["completions", "bash"]);
    assert!(stdout(&out).contains("_clerk"));
    for cmd in [
        &["--help"][..],
        &["auth", "--help"],
        &["sessions", "search", "--help"],
        &["config", "--help"],
    ] {
        assert!(env.run(cmd).status.success(), "{cmd:?}");
    }
}

#[test]
fn without_a_key_ask_says_how_to_get_one() {
    let env = Env::new();
    let out = env
        .cmd(&["ask", "hi"])
        .env_remove("CLERK_API_KEY")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("CLERK_API_KEY")
            && (err.contains("clerk auth login") || err.contains("keyring is not available")),
        "{err}"
    );
    assert!(env.server.chat_requests().is_empty());
}

#[test]
fn http_proxy_and_no_proxy_from_the_environment_are_honoured() {
    let env = Env::new();
    let proxy = format!("http://{}", env.server.addr());
    // The endpoint's host does not exist: only the proxy can answer.
    let out = env
        .cmd(&["ask", "via proxy"])
        .env("OPENAI_BASE_URL", "http://clerk-proxy-test.invalid/v1")
        .env("HTTP_PROXY", &proxy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Hello world\n");
    assert_eq!(
        env.server.chat_requests()[0].path,
        "http://clerk-proxy-test.invalid/v1/chat/completions"
    );
    let out = env
        .cmd(&["ask", "bypass"])
        .env("OPENAI_BASE_URL", "http://clerk-proxy-test.invalid/v1")
        .env("HTTP_PROXY", &proxy)
        .env("NO_PROXY", "clerk-proxy-test.invalid")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot resolve"), "{}", stderr(&out));
    assert_eq!(env.server.chat_requests().len(), 1);
}

#[test]
fn smart_titles_rename_a_new_session_after_its_first_answer() {
    let env = Env::new();
    let config = env.home().join("titles.toml");
    std::fs::write(&config, "[history]\nsmart_titles = true\n").unwrap();
    env.server
        .push(Reply::stream(&["Submit the form within 30 days."]));
    env.server
        .push(Reply::stream(&["\"Travel expense deadline\""]));
    let out = env.run(&[
        "--config",
        config.to_str().unwrap(),
        "ask",
        "when must I file my travel expenses",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Submit the form within 30 days.\n");
    let reqs = env.server.chat_requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1].json()["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("when must I file")
    );
    let list = env.json(&["sessions", "list", "--json"]);
    assert_eq!(list[0]["session"]["title"], "Travel expense deadline");
    // Without the setting, only one request and the question's start as title.
    env.server.push(Reply::stream(&["ok"]));
    assert!(
        env.run(&["ask", "second session question"])
            .status
            .success()
    );
    assert_eq!(env.server.chat_requests().len(), 3);
}

/// A personal `OPENAI_API_KEY` in the environment never reaches a company gateway: a profile
/// with its own `api_key_cmd` uses it, and a gateway profile without a key of its own is
/// refused before anything is sent.
#[cfg(unix)]
#[test]
fn a_key_goes_only_to_the_endpoint_it_belongs_to() {
    let env = Env::new();
    let config = env.home().join("work.toml");
    let url = env.server.base_url();
    std::fs::write(
        &config,
        format!(
            "[profiles.work]\nbase_url = \"{url}\"\napi_key_cmd = \"echo sk-gateway-key-0123456789\"\n\n\
             [profiles.bare]\nbase_url = \"{url}\"\n"
        ),
    )
    .unwrap();
    let run = |profile: &str| {
        let mut c = env.cmd(&[
            "--config",
            config.to_str().unwrap(),
            "--profile",
            profile,
            "ask",
            "hi",
        ]);
        c.env_remove("CLERK_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env("OPENAI_API_KEY", "sk-personal-key-9876543210");
        c.output().unwrap()
    };
    let out = run("work");
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = env.server.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].header("Authorization"),
        Some("Bearer sk-gateway-key-0123456789")
    );

    let out = run("bare");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("OPENAI_API_KEY is set, but it is OpenAI's") && err.contains("bare"),
        "{err}"
    );
    assert!(!err.contains("9876543210"), "{err}");
    assert_eq!(
        env.server.requests().len(),
        1,
        "nothing was sent for `bare`"
    );
}

/// A server that repeats the key in its 401 (as OpenAI's "Incorrect API key provided: …"
/// does, and gateways do in full) has it masked everywhere clerk shows or keeps the text.
#[test]
fn a_key_echoed_by_the_server_is_never_shown_or_stored() {
    let env = Env::new();
    let echo = format!("Incorrect API key provided: {CANARY}. You can find your API key at …");
    env.server.push(Reply::error(
        401,
        &echo,
        "invalid_request_error",
        "invalid_api_key",
    ));
    let out = env.run(&["ask", "hi"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("Incorrect API key provided: sk-…"), "{err}");
    let secret_part = &CANARY[10..];
    assert!(
        !err.contains(secret_part) && !stdout(&out).contains(secret_part),
        "{err}"
    );
    let show = stdout(&env.run(&["sessions", "show", "last", "--json"]));
    assert!(show.contains("Incorrect API key provided"), "{show}");
    assert!(!show.contains(secret_part), "{show}");
    let export = stdout(&env.run(&["sessions", "export", "last"]));
    assert!(!export.contains(secret_part), "{export}");
    // Nor in the database file or its write-ahead log.
    for f in ["history.sqlite3", "history.sqlite3-wal"] {
        let path = env.db().with_file_name(f);
        if let Ok(bytes) = std::fs::read(&path) {
            let hay = String::from_utf8_lossy(&bytes);
            assert!(!hay.contains(secret_part), "{f} holds the key");
        }
    }
}

#[test]
fn sessions_archive_and_unarchive() {
    let env = Env::new();
    env.server.push(Reply::stream(&["fine"]));
    assert!(env.run(&["ask", "keep this one"]).status.success());
    let id = env.json(&["sessions", "list", "--json"])[0]["session"]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let out = env.run(&["sessions", "archive", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("clerk sessions unarchive {id}")));
    assert_eq!(
        env.json(&["sessions", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let all = env.json(&["sessions", "list", "--all", "--json"]);
    assert_eq!(all[0]["session"]["archived"], true);
    let out = env.run(&["sessions", "unarchive", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = env.json(&["sessions", "list", "--json"]);
    assert_eq!(list[0]["session"]["archived"], false);
    assert_eq!(
        env.run(&["sessions", "unarchive", "9999"]).status.code(),
        Some(2)
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    // `clerk templates list | head -0`: the pipe is closed before clerk writes to it.
    let env = Env::new();
    let mut child = env
        .cmd(&["templates", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
