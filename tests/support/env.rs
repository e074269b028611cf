//! A home folder, the local test server, and the clerk binary pointed at both.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::server::MockServer;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub server: MockServer,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            server: MockServer::start_blocking(),
        }
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn user_dir(&self) -> PathBuf {
        self.home().join("config/clerk/templates")
    }

    pub fn team_dir(&self) -> PathBuf {
        self.home().join("team")
    }

    pub fn write(&self, dir: &Path, name: &str, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clerk"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join("config"))
            .env("XDG_DATA_HOME", self.home().join("data"))
            .env("XDG_STATE_HOME", self.home().join("state"))
            .env("CLERK_API_KEY", "sk-templates-test-0123456789")
            .env("OPENAI_BASE_URL", self.server.base_url())
            .env("CLERK_TEMPLATE_PATH", self.team_dir())
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copy folder `from` into `to`, recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The check `id` of a `clerk doctor --json` report.
pub fn doctor_check<'v>(report: &'v serde_json::Value, id: &str) -> &'v serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check `{id}` in {report}"))
}

/// The requests of `kind` in a `clerk usage --by kind --json` report (0 when none).
pub fn requests_of(usage: &serde_json::Value, kind: &str) -> u64 {
    usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == kind)
        .map_or(0, |r| r["requests"].as_u64().unwrap())
}

/// Every file below `dir` with its bytes read as text (lossy): for tests that check a
/// text reached no file.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                out.push((p, text));
            }
        }
    }
    out
}

/// The titles of `clerk sessions list --json`'s output, in its order.
pub fn session_titles(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["session"]["title"].as_str().unwrap().to_string())
        .collect()
}
