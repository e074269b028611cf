//! The real binary in a real terminal (tmux) against the local test server: start, type,
//! send, see the answer stream, stop one, switch session, search, quit — and the terminal
//! is given back as it was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::server::*;

struct Tmux {
    socket: String,
    home: tempfile::TempDir,
}

impl Tmux {
    fn start(server: &MockServer, width: u16, height: u16) -> Tmux {
        Tmux::start_with(server, width, height, "")
    }

    /// Start clerk with extra `NAME=value` words in its environment. After it exits the
    /// pane says `CLERK_EXIT=<code>` and whether the tty settings are as they were.
    fn start_with(server: &MockServer, width: u16, height: u16, env: &str) -> Tmux {
        Tmux::start_prepared(server, width, height, env, |_| {})
    }

    /// Like `start_with`, after `prepare` has put files in the home folder.
    fn start_prepared(
        server: &MockServer,
        width: u16,
        height: u16,
        env: &str,
        prepare: impl FnOnce(&std::path::Path),
    ) -> Tmux {
        let home = tempfile::tempdir().unwrap();
        prepare(home.path());
        Tmux::start_in(server, width, height, env, home)
    }

    /// Start clerk in `home` (kept by the returned value).
    fn start_in(
        server: &MockServer,
        width: u16,
        height: u16,
        env: &str,
        home: tempfile::TempDir,
    ) -> Tmux {
        let socket = format!("clerk-e2e-{}-{}", std::process::id(), fastrand_suffix());
        let h = home.path().display().to_string();
        let cmd = format!(
            "S=$(stty -g); env -i PATH=\"$PATH\" TERM=xterm-256color HOME={h} XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data XDG_STATE_HOME={h}/state CLERK_API_KEY=sk-e2e-0123456789abcdef OPENAI_BASE_URL={} {env} {}; echo CLERK_EXIT=$?; if [ \"$(stty -g)\" = \"$S\" ]; then echo TTY_RESTORED; else echo TTY_CHANGED; fi; sleep 600",
            server.base_url(),
            env!("CARGO_BIN_EXE_clerk")
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                &cmd,
            ])
            .status()
            .expect("tmux is needed for the end-to-end test");
        assert!(status.success());
        Tmux { socket, home }
    }

    /// Start clerk again in the same home (its history, config and data kept), once the
    /// app has quit.
    fn restart(mut self, server: &MockServer, width: u16, height: u16, env: &str) -> Tmux {
        let home = std::mem::replace(&mut self.home, tempfile::tempdir().unwrap());
        drop(self);
        Tmux::start_in(server, width, height, env, home)
    }

    /// Run `clerk` as a shell beside the app would: the same home, data, key and server.
    fn clerk(&self, server: &MockServer, args: &[&str]) -> std::process::Output {
        let h = self.home.path();
        Command::new(env!("CARGO_BIN_EXE_clerk"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_STATE_HOME", h.join("state"))
            .env("CLERK_API_KEY", "sk-e2e-0123456789abcdef")
            .env("OPENAI_BASE_URL", server.base_url())
            .output()
            .unwrap()
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-t", "t", "-p"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(what) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {what:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn flag(&self, name: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "t", &format!("#{{{name}}}")])
            .trim()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 % 1_000_000)
        .unwrap_or(0)
}

#[test]
fn a_session_from_start_to_quit_in_a_real_terminal() {
    let server = MockServer::start_blocking();
    let t = Tmux::start(&server, 120, 40);
    t.wait_for("Ask anything about your work.");
    assert_eq!(
        t.flag("alternate_on"),
        "1",
        "the app uses the alternate screen"
    );

    // Type and send; the answer streams in.
    server.push(Reply::stream(&[
        "Travel ",
        "expenses: ",
        "file within **30 days**.",
    ]));
    t.text("How do I file travel expenses? 报销");
    t.keys(&["Enter"]);
    let screen = t.wait_for("file within 30 days.");
    assert!(
        screen.contains("How do I file travel expenses? 报销"),
        "{screen}"
    );
    let body = server.chat_requests()[0].json();
    assert_eq!(
        body["messages"][0]["content"],
        "How do I file travel expenses? 报销"
    );

    // A slow answer, stopped with Esc: kept and marked interrupted.
    let words: Vec<String> = (0..100).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    server.push(Reply::stream(&refs).pace(Duration::from_millis(100)));
    t.text("and a long answer please");
    t.keys(&["Enter"]);
    t.wait_for("w3 ");
    t.keys(&["Escape"]);
    t.wait_for("interrupted");

    // A new session, then back to the first one with the list.
    t.keys(&["C-n"]);
    t.wait_for("New session");
    server.push(Reply::stream(&["Second session answer"]));
    t.text("second");
    t.keys(&["Enter"]);
    t.wait_for("Second session answer");
    t.keys(&["M-Down"]);
    t.wait_for("file within 30 days.");

    // Search across sessions and jump.
    t.keys(&["C-f"]);
    t.wait_for("Search all sessions");
    t.text("Second");
    t.wait_for("· assistant");
    t.keys(&["Enter"]);
    // The hit itself shows the text too: wait for the dialog to close.
    t.wait_until("the search to jump to the answer", |s| {
        !s.contains("Search all sessions") && s.contains("Second session answer")
    });

    // Quit: the terminal is restored.
    t.keys(&["C-q"]);
    t.wait_for("CLERK_EXIT=0");
    t.wait_for("TTY_RESTORED");
    assert_eq!(t.flag("alternate_on"), "0", "back on the normal screen");
    assert_eq!(
        t.flag("mouse_any_flag"),
        "0",
        "mouse reporting is off again"
    );
    assert_eq!(t.flag("pane_in_mode"), "0");
}

#[test]
fn tiny_terminals_say_so_and_resizing_back_works() {
    let server = MockServer::start_blocking();
    let t = Tmux::start(&server, 30, 8);
    t.wait_for("terminal too small");
    t.tmux(&["resize-window", "-t", "t", "-x", "60", "-y", "20"]);
    t.wait_for("Message");
    t.keys(&["C-q"]);
    t.wait_for("CLERK_EXIT=0");
}

#[test]
fn every_broken_theme_file_is_reported_at_start() {
    let server = MockServer::start_blocking();
    let t = Tmux::start_prepared(&server, 220, 30, "", |home| {
        let dir = home.join("config/clerk/themes");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("first.toml"),
            "name = \"first\"\n[roles]\ntext = { fg = \"blurple\" }\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("second.toml"),
            "name = \"second\"\n[roles]\nsparkle = { bold = true }\n",
        )
        .unwrap();
    });
    let screen = t.wait_for("(1/2)");
    assert!(
        screen.contains("first.toml") && screen.contains("`blurple` is not a colour"),
        "{screen}"
    );
    let screen = t.wait_for("(2/2)");
    assert!(
        screen.contains("second.toml") && screen.contains("roles.sparkle is not a role"),
        "{screen}"
    );
    t.keys(&["C-q"]);
    t.wait_for("CLERK_EXIT=0");
}

#[test]
fn a_panic_gives_the_terminal_back() {
    let server = MockServer::start_blocking();
    let t = Tmux::start_with(&server, 100, 30, "CLERK_DEBUG_PANIC=1");
    let screen = t.wait_for("CLERK_EXIT=");
    assert!(screen.contains("CLERK_EXIT=101"), "{screen}");
    assert!(
        screen.contains("panicking on purpose"),
        "the panic is reported: {screen}"
    );
    t.wait_for("TTY_RESTORED");
    assert_eq!(t.flag("alternate_on"), "0", "back on the normal screen");
    assert_eq!(t.flag("mouse_any_flag"), "0", "mouse reporting is off");
    assert_eq!(t.flag("cursor_flag"), "1", "the cursor is shown");
}

#[test]
fn long_pastes_become_a_chip_and_the_editor_gets_the_keys() {
    let server = MockServer::start_blocking();
    let dir = tempfile::tempdir().unwrap();
    // An "editor" that reads a line from the terminal and appends it: it only works if
    // clerk stops reading keys while it runs.
    let editor = dir.path().join("ed.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'EDITOR READY: '\nread line\nprintf '%s\\n' \"$line\" >> \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let t = Tmux::start_with(&server, 100, 30, &format!("EDITOR={}", editor.display()));
    t.wait_for("Ask anything about your work.");

    // A bracketed paste of 40 lines: a chip, not 40 lines in the box.
    let doc: String = (1..=40).map(|i| format!("clause {i}\n")).collect();
    let file = dir.path().join("doc.txt");
    std::fs::write(&file, &doc).unwrap();
    t.tmux(&["load-buffer", file.to_str().unwrap()]);
    t.tmux(&["paste-buffer", "-p", "-t", "t"]);
    t.wait_for("pasted 40 lines");
    t.wait_for("tokens  ");
    assert!(!t.screen().contains("clause 7"), "{}", t.screen());

    // CJK and emoji typed after it.
    t.text("总结 🙂");
    t.wait_for("总结 🙂");

    // Ctrl+E: the editor gets the whole message and the keys typed while it runs.
    t.keys(&["C-e"]);
    t.wait_for("EDITOR READY");
    t.text("added in the editor");
    t.keys(&["Enter"]);
    // The editor's own screen shows the line first: wait for the app to draw again.
    let screen = t.wait_until("the whole screen drawn again with the editor's line", |s| {
        s.contains("added in the editor") && s.contains("Sessions")
    });
    assert!(!screen.contains("EDITOR READY"), "{screen}");

    // Sent: the model receives the pasted text, what was typed and the editor's line.
    server.push(Reply::stream(&["Summary done."]));
    t.keys(&["Enter"]);
    t.wait_for("Summary done.");
    let body = server.chat_requests()[0].json();
    let sent = body["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(sent.starts_with("clause 1\nclause 2\n"), "{sent}");
    assert!(
        sent.contains("clause 40\n\n总结 🙂added in the editor"),
        "{sent}"
    );
    t.keys(&["C-q"]);
    t.wait_for("TTY_RESTORED");
}

#[test]
fn a_template_runs_from_the_picker_in_a_new_session() {
    let server = MockServer::start_blocking();
    let t = Tmux::start(&server, 120, 40);
    t.wait_for("Ask anything about your work.");
    t.keys(&["C-p"]);
    t.wait_for("Templates");
    t.text("weekly");
    t.wait_for("Weekly report from bullet points");
    t.keys(&["Enter"]);
    t.wait_for("This week's notes");
    t.text("shipped the VPN guide");
    t.keys(&["M-Enter"]);
    t.text("blocked on 报销 form");
    server.push(Reply::stream(&[
        "## Done this week\n",
        "- Shipped the VPN guide",
    ]));
    t.keys(&["F5"]);
    t.wait_for("Shipped the VPN guide");
    let body = server.chat_requests()[0].json();
    let prompt = body["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(prompt.starts_with("Write my weekly report"), "{prompt}");
    assert!(
        prompt.contains("shipped the VPN guide\nblocked on 报销 form"),
        "{prompt}"
    );
    assert!(prompt.contains("Name: —"), "defaults filled: {prompt}");
    // The session is named after the template and continues as a chat.
    t.wait_for("Weekly report from bullet points");
    server.push(Reply::stream(&["Shorter version."]));
    t.text("make it shorter");
    t.keys(&["Enter"]);
    t.wait_for("Shorter version.");
    let follow = server.chat_requests()[1].json();
    assert_eq!(follow["messages"].as_array().unwrap().len(), 3, "{follow}");
    t.keys(&["C-q"]);
    t.wait_for("TTY_RESTORED");
}

#[test]
fn an_attached_document_longer_than_the_window_is_read_in_parts() {
    let server = MockServer::start_blocking();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[profiles.default]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"tiny\"\n\n[models.tiny]\ncontext_window = 2000\nmax_output_tokens = 200\ninput_per_million = 0.15\noutput_per_million = 0.6\n\n[documents]\nchunk_tokens = 400\noverlap_tokens = 100\nconcurrency = 2\n",
    )
    .unwrap();
    let doc = dir.path().join("policy.txt");
    let text: String = (1..=80)
        .map(|k| format!("P{k}: clause {k} of the travel policy says receipts are kept for {k} months, and claims above the limit go to the finance director, who answers within a week.\n\n"))
        .collect();
    std::fs::write(&doc, text).unwrap();
    server.set_default(Reply::stream(&["NOTE"]));
    let t = Tmux::start_with(
        &server,
        120,
        40,
        &format!("CLERK_CONFIG={}", config.display()),
    );
    t.wait_for("Ask anything about your work.");
    t.text(&format!("what are the limits? @{}", doc.display()));
    t.keys(&["Enter"]);
    t.wait_for("📄 policy.txt");
    assert!(server.chat_requests().is_empty(), "attaching sends nothing");
    t.keys(&["Enter"]);
    let screen = t.wait_for("Before sending");
    assert!(screen.contains("read in parts"), "{screen}");
    t.keys(&["p"]);
    let screen = t.wait_for("Built from");
    assert!(
        screen.contains("What are the limits?") || screen.contains("what are the limits?"),
        "{screen}"
    );
    let reqs = server.chat_requests();
    let notes = reqs
        .iter()
        .filter(|r| {
            r.json()["messages"][0]["content"]
                .as_str()
                .is_some_and(|s| s.starts_with("You read one part"))
        })
        .count();
    assert!(notes >= 4, "{notes} parts");
    assert_eq!(reqs.len(), notes + 1, "the parts, then the answer");
    assert!(
        screen.contains(&format!("Built from {notes} parts of policy.txt")),
        "{screen}"
    );
    let last = reqs.last().unwrap().json();
    let question = last["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(question.ends_with("what are the limits?"), "{question}");
    assert!(
        question.contains(&format!("read in {notes} parts")),
        "{question}"
    );
    // Answering again reads it in parts again (the question alone is over the window).
    server.clear_requests();
    t.keys(&["C-r"]);
    t.wait_until("the parts read again", |_| {
        server.chat_requests().len() == notes + 1
    });
    t.wait_for("Built from");
    t.keys(&["C-q"]);
    t.wait_for("TTY_RESTORED");
}

/// A key typed into the key dialog is checked with the endpoint before it is used, as
/// `clerk auth login` checks it; a refused key changes nothing, an accepted one is used and
/// the notice says where it is kept.
#[test]
fn a_key_from_the_dialog_is_checked_before_it_is_used() {
    let server = MockServer::start_blocking();
    let t = Tmux::start(&server, 120, 40);
    t.wait_for("F1 help");
    let before = server.requests().len();
    server.push_models(Reply::error(
        401,
        "Incorrect API key provided",
        "invalid_request_error",
        "invalid_api_key",
    ));
    t.keys(&["F3"]);
    t.wait_for("API key");
    t.text("sk-refused-0123456789abcd");
    t.keys(&["Enter"]);
    let screen = t.wait_for("not accepted");
    assert!(!screen.contains("0123456789abcd"), "{screen}");
    // The refused key was tried against /models only.
    let tried = server.requests();
    assert!(tried[before..].iter().all(|r| r.is_models()), "{tried:?}");
    for _ in 0.."sk-refused-0123456789abcd".len() {
        t.keys(&["BSpace"]);
    }
    t.text("sk-accepted-0123456789wxyz");
    t.keys(&["Enter"]);
    let screen = t.wait_for("works (");
    assert!(screen.contains("sk-…wxyz"), "{screen}");
    server.push(Reply::stream(&["ok"]));
    t.text("hello");
    t.keys(&["Enter"]);
    t.wait_for("ok");
    let chat = server
        .requests()
        .into_iter()
        .rfind(|r| !r.is_models())
        .expect("a chat request");
    assert_eq!(
        chat.header("Authorization"),
        Some("Bearer sk-accepted-0123456789wxyz")
    );
}

/// Inside tmux, a copy goes through tmux itself (its buffer; the outer clipboard when tmux
/// allows it), and the notice says which path was used.
#[test]
fn copying_inside_tmux_reaches_the_tmux_buffer() {
    let server = MockServer::start_blocking();
    server.push(Reply::stream(&["copy ", "me ", "please"]));
    let t = Tmux::start_with(&server, 120, 40, "TMUX=\"$TMUX\"");
    t.wait_for("F1 help");
    t.text("hello");
    t.keys(&["Enter"]);
    t.wait_for("please");
    t.keys(&["C-y"]);
    let screen = t.wait_for("copied (tmux buffer");
    assert!(!screen.contains("OSC 52"), "{screen}");
    let buffer = t.tmux(&["show-buffer"]);
    assert_eq!(buffer.trim_end(), "copy me please");
}

/// Issue 13, point 15: a session `clerk ask` creates in a shell while the app runs appears
/// in its list without a key press, and a `clerk ask --session last` added to the open
/// session shows its turns there.
#[test]
fn sessions_from_the_shell_appear_while_the_app_runs() {
    let server = MockServer::start_blocking();
    let t = Tmux::start(&server, 120, 40);
    t.wait_for("Ask anything about your work.");
    // The app's own first session, so the list is not empty and has a cursor to keep.
    server.push(Reply::stream(&["App answer."]));
    t.text("asked in the app");
    t.keys(&["Enter"]);
    t.wait_for("App answer.");

    server.push(Reply::stream(&["Shell answer one."]));
    let out = t.clerk(&server, &["ask", "Shell question about VPN"]);
    assert!(out.status.success(), "{out:?}");
    let screen = t.wait_for("Shell question about VPN");
    assert!(
        screen.contains("App answer.") && !screen.contains("Shell answer one."),
        "the open transcript stays: {screen}"
    );

    // Open it; a follow-up from the shell shows in it, again without a key.
    t.keys(&["M-Up"]);
    t.wait_for("Shell answer one.");
    server.push(Reply::stream(&["Second shell answer."]));
    let out = t.clerk(
        &server,
        &["ask", "--session", "last", "And a follow-up from the shell"],
    );
    assert!(out.status.success(), "{out:?}");
    let screen = t.wait_for("Second shell answer.");
    assert!(
        screen.contains("And a follow-up from the shell"),
        "{screen}"
    );
    t.keys(&["C-q"]);
    t.wait_for("TTY_RESTORED");
}

/// Ctrl+L lists what the endpoint offers (its /models) beside the price table, kept for a
/// day; Ctrl+R asks again; typing filters.
#[test]
fn the_model_picker_lists_the_endpoints_models() {
    let server = MockServer::start_blocking();
    server.set_models_default(Reply::models(&["gpt-4o-mini", "qwen-plus-gateway"]));
    let t = Tmux::start(&server, 120, 40);
    t.wait_for("F1 help");
    t.keys(&["C-l"]);
    let screen = t.wait_for("offers 2 model(s)");
    assert!(screen.contains("qwen-plus-gateway"), "{screen}");
    assert!(screen.contains("price unknown"), "{screen}");
    assert!(screen.contains("not offered"), "{screen}");
    let asked = |server: &MockServer| server.requests().iter().filter(|r| r.is_models()).count();
    assert_eq!(asked(&server), 1);
    // Closed and opened again: the kept list, no new request.
    // One key at a time: Esc and the next key read together are Alt+key.
    t.keys(&["Escape"]);
    t.wait_until("the picker to close", |s| !s.contains("offers 2 model(s)"));
    t.keys(&["C-l"]);
    t.wait_for("offers 2 model(s)");
    assert_eq!(asked(&server), 1);
    server.set_models_default(Reply::models(&[
        "gpt-4o-mini",
        "qwen-plus-gateway",
        "deepseek-chat",
    ]));
    t.keys(&["C-r"]);
    t.wait_for("offers 3 model(s)");
    t.text("deep");
    t.keys(&["Enter"]);
    t.wait_for("model: deepseek-chat");
}

/// An answer in the app is recorded in the usage ledger; F4 shows it.
#[test]
fn f4_shows_what_the_answers_cost() {
    let server = MockServer::start_blocking();
    server.push(Reply::sse(vec![
        chunk_frame("priced answer"),
        finish_frame("stop"),
        usage_frame(1_000_000, 1_000, 0),
        done_frame(),
    ]));
    let t = Tmux::start(&server, 120, 40);
    t.wait_for("F1 help");
    t.text("what does it cost?");
    t.keys(&["Enter"]);
    t.wait_for("priced answer");
    t.keys(&["F4"]);
    let screen = t.wait_for("this month by model");
    assert!(screen.contains("gpt-4o-mini"), "{screen}");
    assert!(screen.contains("$0.15"), "{screen}");
    assert!(screen.contains("the last 30 days"), "{screen}");
}

/// A session grounded on a knowledge base, in the real program: chosen with Ctrl+G (the
/// status bar says so), the question answered from numbered passages after a restatement
/// metered as `restate`, the sources it cites listed under it, a passage opened with Alt+S
/// then its number, and its file opened with the desktop's program; a question the base
/// does not cover answered "not found" with nothing sent but the restatement; `@kb:` with
/// an unknown base refused with the text kept; and after a restart the session is still
/// grounded and its answer still shows its sources.
#[test]
fn a_session_grounded_on_a_knowledge_base_cites_its_sources() {
    let server = MockServer::start_blocking();
    let tools = tempfile::tempdir().unwrap();
    let opened = tools.path().join("opened.txt");
    let opener = tools.path().join("opener.sh");
    std::fs::write(
        &opener,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let env = format!("CLERK_OPENER={}", opener.display());
    let t = Tmux::start_prepared(&server, 120, 40, &env, |home| {
        let docs = home.join("docs");
        support::env::copy_tree(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kb-mini"),
            &docs,
        );
        let dir = home.join("config/clerk");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.toml"),
            format!(
                "[[knowledge]]\nname = \"procedures\"\npaths = [\"{}\"]\n",
                docs.display()
            ),
        )
        .unwrap();
    });
    t.wait_for("Ask anything about your work.");
    let o = t.clerk(&server, &["kb", "index", "procedures"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Ctrl+G: the session is grounded on the base.
    t.keys(&["C-g"]);
    let screen = t.wait_for("Knowledge base ·");
    assert!(screen.contains("procedures"), "{screen}");
    t.keys(&["Down", "Enter"]);
    t.wait_for("kb: procedures");

    // A question: restated, then answered from numbered passages; the sources cited listed.
    let q = "What is the nightly hotel limit in Shanghai?";
    server.push(Reply::stream(&["上海酒店每晚的住宿限额是多少？"]));
    server.push(Reply::stream(&["It is CNY 900 a night [1]."]));
    t.text(q);
    t.keys(&["Enter"]);
    let screen = t.wait_for("Sources (Alt+S");
    let chat = server.chat_requests();
    assert_eq!(chat.len(), 2, "the restatement, then the answer");
    let first = chat[0].messages();
    assert!(
        first[0].1.contains("You restate search questions"),
        "{first:?}"
    );
    let sent = chat[1].messages();
    assert_eq!(sent[0].0, "system");
    assert!(
        sent[0].1.contains("Answer only from those passages"),
        "{}",
        sent[0].1
    );
    let user = &sent.last().unwrap().1;
    assert!(
        user.starts_with("Passages from the knowledge base:\n\n<passage n=\"1\" file=\""),
        "{user}"
    );
    assert!(user.ends_with(&format!("Question: {q}")), "{user}");
    let tag = "<passage n=\"1\" file=\"";
    let at = user.find(tag).unwrap() + tag.len();
    let file = &user[at..at + user[at..].find('"').unwrap()];
    assert!(screen.contains(&format!("[1] {file}")), "{file}: {screen}");
    assert!(!screen.contains("[2] "), "only the passage cited: {screen}");

    // Alt+S, then 1: the passage, its file opened with the desktop's program.
    t.keys(&["M-s"]);
    t.wait_for("Sources · 1–9");
    t.keys(&["1"]);
    let screen = t.wait_for("Passage [1] of");
    assert!(screen.contains("cited in the answer"), "{screen}");
    t.keys(&["o"]);
    t.wait_until("the opener to run", |_| opened.exists());
    t.wait_for("opened ");
    let path = std::fs::read_to_string(&opened).unwrap();
    assert!(path.ends_with(file), "{path} {file}");
    assert!(std::path::Path::new(&path).is_absolute() && std::path::Path::new(&path).exists());
    // Esc back to the list, Esc again closes it (one at a time: two at once read as Alt+Esc).
    t.keys(&["Escape"]);
    t.wait_until("the passage to close", |s| !s.contains("Passage [1] of"));
    t.keys(&["Escape"]);
    t.wait_until("the sources to close", |s| !s.contains("Sources · 1–9"));

    // Not covered: "not found", the closest passages, nothing sent but the restatement.
    server.clear_requests();
    server.push(Reply::stream(&["周五有员工瑜伽课吗？"]));
    t.text("Is there a yoga class for staff on Fridays?");
    t.keys(&["Enter"]);
    let screen = t.wait_for("the closest passages:");
    assert!(screen.contains("not found in the procedures"), "{screen}");
    let chat = server.chat_requests();
    assert_eq!(chat.len(), 1, "only the restatement");
    assert!(
        chat[0].messages()[0]
            .1
            .contains("You restate search questions")
    );

    // An unknown base: said, and the text stays in the box.
    t.text("@kb:nope where is the VPN guide?");
    t.keys(&["Enter"]);
    let screen = t.wait_for("there is no knowledge base `nope`");
    assert!(
        screen.contains("@kb:nope where is the VPN guide?"),
        "{screen}"
    );
    assert_eq!(server.chat_requests().len(), 1, "nothing sent");
    t.keys(&["C-u"]);

    // The restatements are metered as such; the history keeps questions, not passages.
    // (Both are written by the app's threads as the answers end: read until they are.)
    let kinds = || {
        let o = t.clerk(&server, &["usage", "--by", "kind", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            (
                support::env::requests_of(&v, "restate"),
                support::env::requests_of(&v, "answer"),
            ),
            v,
        )
    };
    let mut seen = kinds();
    for _ in 0..50 {
        if seen.0 == (2, 1) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        seen = kinds();
    }
    assert_eq!(seen.0, (2, 1), "{}", seen.1);
    let shown = || {
        let o = t.clerk(&server, &["sessions", "show", "last", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let mut s = shown();
    for _ in 0..50 {
        if s["messages"].as_array().is_some_and(|m| m.len() >= 4) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        s = shown();
    }
    let m = &s["messages"];
    assert_eq!(m[0]["content"], q);
    assert_eq!(m[1]["content"], "It is CNY 900 a night [1].");
    assert_eq!(m[1]["grounding"]["passages"][0]["cited"], true, "{s}");
    assert_eq!(
        m[2]["content"],
        "Is there a yoga class for staff on Fridays?"
    );
    assert_eq!(m[3]["content"], "not found in the procedures");
    assert_eq!(m[3]["grounding"]["asked"], false);

    // Started again: the session is still grounded, its answer still shows its sources.
    t.keys(&["C-q"]);
    t.wait_for("CLERK_EXIT=0");
    let t = t.restart(&server, 120, 40, &env);
    t.wait_for("F1 help");
    t.keys(&["M-Down"]);
    let screen = t.wait_for("Sources (Alt+S");
    assert!(screen.contains(&format!("[1] {file}")), "{screen}");
    assert!(screen.contains("kb: procedures"), "{screen}");
    t.keys(&["C-q"]);
    t.wait_for("TTY_RESTORED");
}

/// F5 compares two models side by side on the typed question (one request each, both
/// answers streamed into their panes with their figures); 2 then Enter keeps the second
/// answer in the session, under its model.
#[test]
fn f5_compares_models_side_by_side_and_keeps_one_answer() {
    let server = MockServer::start_blocking();
    server.set_models_default(Reply::models(&["gpt-4o-mini", "qwen-plus"]));
    server.push_for("gpt-4o-mini", Reply::stream(&["mini says ", "CNY 700"]));
    server.push_for(
        "qwen-plus",
        Reply::sse(vec![
            chunk_frame("qwen says CNY 800"),
            finish_frame("stop"),
            usage_frame(40, 6, 0),
            done_frame(),
        ]),
    );
    let t = Tmux::start(&server, 120, 40);
    t.wait_for("F1 help");
    t.text("hotel cap in Shanghai?");
    t.keys(&["F5"]);
    t.wait_for("Compare models");
    // One key at a time, each waited for: the list is filtered as the endpoint's models
    // arrive, and Space chooses the row under the cursor.
    t.text("qwen");
    t.wait_until("the list filtered to qwen-plus", |s| {
        s.contains("› qwen") && s.contains("[ ] qwen-plus") && !s.contains("] gpt-4o-mini")
    });
    t.keys(&["Space"]);
    t.wait_for("[2] qwen-plus");
    t.keys(&["Enter"]);
    let screen = t.wait_until("both answers with their figures", |s| {
        s.contains("mini says CNY 700")
            && s.contains("qwen says CNY 800")
            && s.matches("first token").count() == 2
    });
    assert!(screen.contains("1 gpt-4o-mini"), "{screen}");
    assert!(screen.contains("2 qwen-plus"), "{screen}");
    // The figures line may wrap in a pane (its timings vary in width).
    assert!(screen.contains("40 in /"), "{screen}");
    for model in ["gpt-4o-mini", "qwen-plus"] {
        let asked = server.chat_requests_for(model);
        assert_eq!(asked.len(), 1, "{model}");
        let last = asked[0].messages().last().cloned().unwrap();
        assert_eq!(last.1, "hotel cap in Shanghai?");
    }
    t.keys(&["2", "Enter"]);
    let screen = t.wait_for("kept qwen-plus's answer");
    assert!(!screen.contains("mini says"), "the view closed: {screen}");
    assert!(screen.contains("qwen says CNY 800"), "{screen}");
    assert!(screen.contains("hotel cap in Shanghai?"), "{screen}");
}

/// F6 starts an incognito session: its question and answer show like any other's, and
/// nothing of them — no session, no message, no draft — reaches the disk; leaving it asks,
/// then the saved sessions are back.
#[test]
fn f6_starts_an_incognito_session_that_never_reaches_the_disk() {
    let server = MockServer::start_blocking();
    let t = Tmux::start(&server, 120, 40);
    t.wait_for("Ask anything about your work.");
    server.push(Reply::stream(&["Saved answer."]));
    t.text("a saved question");
    t.keys(&["Enter"]);
    t.wait_for("Saved answer.");

    t.keys(&["F6"]);
    t.wait_for("incognito: nothing saved");
    server.push(Reply::stream(&["The walrus plan stays private."]));
    t.text("what is the walrus plan?");
    t.keys(&["Enter"]);
    t.wait_for("The walrus plan stays private.");
    // Text typed and left in the box is not kept as a draft either.
    t.text("an unsent walrus draft");
    t.keys(&["F6"]);
    t.wait_for("Leave incognito");
    t.keys(&["y"]);
    t.wait_until("the saved sessions to come back", |s| {
        s.contains("a saved question") && !s.contains("incognito: nothing saved")
    });
    t.keys(&["C-q"]);
    t.wait_for("CLERK_EXIT=0");

    let list = t.clerk(&server, &["sessions", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        support::env::session_titles(&list),
        vec!["a saved question"]
    );
    for (path, text) in support::env::files_under(t.home.path()) {
        assert!(
            !text.contains("walrus"),
            "{} holds words of the incognito session",
            path.display()
        );
    }
    // Both requests are counted (no text), the incognito one without a session.
    let usage = t.clerk(&server, &["usage", "--by", "session", "--json"]);
    let usage: serde_json::Value = serde_json::from_slice(&usage.stdout).unwrap();
    assert_eq!(usage["total"]["requests"], 2, "{usage}");
    let keys: Vec<&str> = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"none"), "{keys:?}");
}

/// Under an admin policy the status bar says so, and the model picker lists only the
/// models the policy allows.
#[test]
fn a_policy_shows_in_the_status_bar_and_the_picker_lists_only_allowed_models() {
    let server = MockServer::start_blocking();
    server.set_models_default(Reply::models(&[
        "gpt-4o-mini",
        "gpt-4o",
        "qwen-plus-gateway",
    ]));
    let it = tempfile::tempdir().unwrap();
    let file = it.path().join("policy.toml");
    std::fs::write(&file, "allowed_models = [\"gpt-4o-mini\"]\n").unwrap();
    let t = Tmux::start_with(
        &server,
        120,
        40,
        &format!("CLERK_POLICY={}", file.display()),
    );
    let screen = t.wait_for("F1 help");
    assert!(screen.contains("· policy"), "{screen}");
    t.keys(&["C-l"]);
    let screen = t.wait_for("offers 3 model(s)");
    assert!(screen.contains("gpt-4o-mini"), "{screen}");
    // What the policy hides is said, so an empty filter is not a puzzle.
    assert!(screen.contains("allowed by the admin's policy"), "{screen}");
    assert!(
        !screen.contains("qwen-plus-gateway") && !screen.contains("gpt-4o "),
        "{screen}"
    );
    // One key at a time: Esc and Ctrl+Q read together are Alt+Ctrl+Q.
    t.keys(&["Escape"]);
    t.wait_until("the picker to close", |s| !s.contains("offers 3 model(s)"));
    t.keys(&["C-q"]);
    t.wait_for("CLERK_EXIT=0");
}
