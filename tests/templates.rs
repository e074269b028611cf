//! `clerk templates …` and `clerk run` as real processes against the local test server:
//! the library's folders and their precedence, validation with file:line:column, and
//! workflows whose every request is checked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::env::*;
use support::server::*;

const WORKFLOW: &str = r#"title = "Notes to minutes"
description = "Three steps."
category = "Meetings"
system = "You are a careful secretary for {{team}}."

[[variables]]
name = "notes"
kind = "document"

[[variables]]
name = "team"
kind = "text"
default = "Finance"

[[steps]]
name = "minutes"
prompt = "Write minutes of:\n{{notes}}"

[[steps]]
name = "actions"
prompt = "List the action items in:\n{{steps.minutes}}"

[[steps]]
name = "final"
prompt = "Combine:\n{{steps.minutes}}\n---\n{{steps.actions}}\nLiteral \\{{braces}} stay."
"#;

#[test]
fn a_three_step_workflow_sends_each_step_what_it_needs() {
    let env = Env::new();
    env.write(&env.user_dir(), "minutes.toml", WORKFLOW);
    env.server.push(Reply::stream(&["MINUTES-A"]));
    env.server.push(Reply::stream(&["ACTIONS-B"]));
    env.server.push(Reply::stream(&["FINAL-C"]));
    let notes = env.write(
        env.home(),
        "notes.txt",
        "Alice: budget is approved. {{notes}}",
    );
    let o = env.run(&[
        "run",
        "minutes",
        "--var",
        &format!("notes=@{}", notes.display()),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "FINAL-C\n", "only the final answer on stdout");
    let e = err(&o);
    assert!(e.contains("step 1/3 minutes"), "{e}");
    assert!(e.contains("step 3/3 final"), "{e}");

    let reqs = env.server.chat_requests();
    assert_eq!(reqs.len(), 3);
    let body = |i: usize| reqs[i].json();
    let sys = &body(0)["messages"][0];
    assert_eq!(sys["role"], "system");
    assert_eq!(sys["content"], "You are a careful secretary for Finance.");
    assert_eq!(
        body(0)["messages"][1]["content"],
        "Write minutes of:\nAlice: budget is approved. {{notes}}",
        "a value's own braces are not expanded"
    );
    assert_eq!(
        body(1)["messages"][1]["content"],
        "List the action items in:\nMINUTES-A"
    );
    assert_eq!(
        body(2)["messages"][1]["content"],
        "Combine:\nMINUTES-A\n---\nACTIONS-B\nLiteral {{braces}} stay."
    );

    // Saved as one session named after the template, every step in it.
    let o = env.run(&["sessions", "show", "last", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["session"]["title"], "Notes to minutes");
    let contents: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents.len(), 6);
    assert_eq!(contents[5], "FINAL-C");
}

#[test]
fn a_workflow_stops_at_a_failed_step_and_json_shows_every_step() {
    let env = Env::new();
    env.write(&env.user_dir(), "minutes.toml", WORKFLOW);
    env.server.push(Reply::stream(&["MINUTES-A"]));
    env.server.push(Reply::stream_truncated(&["half"]));
    let o = env.run_with_stdin(&["run", "minutes", "--json"], "piped notes");
    assert_eq!(o.status.code(), Some(5), "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["steps"].as_array().unwrap().len(), 2);
    assert_eq!(v["steps"][0]["answer"], "MINUTES-A");
    assert_eq!(v["steps"][1]["status"], "truncated");
    assert_eq!(
        env.server.chat_requests().len(),
        2,
        "the third step never ran"
    );
    assert!(
        env.server.chat_requests()[0].json()["messages"][1]["content"]
            .as_str()
            .unwrap()
            .ends_with("piped notes"),
        "piped stdin filled the document variable"
    );
}

#[test]
fn missing_variables_are_listed_and_a_broken_template_cannot_run() {
    let env = Env::new();
    env.write(&env.user_dir(), "minutes.toml", WORKFLOW);
    let o = env.run(&["run", "minutes"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("missing `notes`"), "{}", err(&o));
    assert!(env.server.chat_requests().is_empty());

    env.write(
        &env.user_dir(),
        "bad.toml",
        "title = \"Bad\"\nprompt = \"{{nope}}\"\n",
    );
    let o = env.run(&["run", "bad"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("bad.toml:2:"), "{}", err(&o));
    let o = env.run(&["run", "no-such-template"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("there is no template `no-such-template`"));
}

#[test]
fn user_templates_beat_team_templates_beat_built_ins_and_broken_files_are_listed() {
    let env = Env::new();
    env.write(
        &env.user_dir(),
        "summarize.toml",
        "title = \"My own summary\"\nprompt = \"Sum up: {{text}}\"\n[[variables]]\nname = \"text\"\n",
    );
    env.write(
        &env.team_dir(),
        "summarize.toml",
        "title = \"Team summary\"\nprompt = \"Team: {{text}}\"\n[[variables]]\nname = \"text\"\n",
    );
    env.write(
        &env.team_dir(),
        "team-only.toml",
        "title = \"Team only\"\nprompt = \"Hello\"\n",
    );
    env.write(&env.team_dir(), "latin1.toml", "");
    std::fs::write(env.team_dir().join("latin1.toml"), b"title = \"caf\xe9\"\n").unwrap();
    // Unreadable: a folder where a file should be (the suite may run as root).
    std::fs::create_dir_all(env.team_dir().join("folder.toml")).unwrap();
    let big = format!(
        "title = \"Big\"\nprompt = '''\n{}\n'''\n",
        "x".repeat(1_000_000)
    );
    env.write(&env.team_dir(), "big.toml", &big);

    let o = env.run(&["templates", "list", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let rows: Vec<Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_id = |id: &str| rows.iter().find(|r| r["id"] == id).cloned().unwrap();
    assert_eq!(by_id("summarize")["title"], "My own summary");
    assert!(
        by_id("summarize")["origin"]
            .as_str()
            .unwrap()
            .starts_with("user")
    );
    assert!(
        by_id("team-only")["origin"]
            .as_str()
            .unwrap()
            .starts_with("team")
    );
    assert_eq!(by_id("big")["broken"], false, "a 1 MB template loads");
    assert_eq!(by_id("latin1")["broken"], true);
    assert!(
        by_id("latin1")["problems"][0]
            .as_str()
            .unwrap()
            .contains("UTF-8")
    );
    assert_eq!(by_id("folder")["broken"], true);
    assert!(
        rows.len() >= 10 + 3,
        "the built-ins are there too: {}",
        rows.len()
    );

    let o = env.run(&["templates", "show", "summarize"]);
    assert!(out(&o).contains("overrides: team"), "{}", out(&o));
    assert!(out(&o).contains("overrides: built-in"), "{}", out(&o));
}

#[test]
fn validate_reports_file_line_and_column_and_fails_on_errors() {
    let env = Env::new();
    let dir = env.home().join("check");
    env.write(
        &dir,
        "ok.toml",
        "title = \"Fine\"\nprompt = \"Hi {{name}}\"\n[[variables]]\nname = \"name\"\n[[variables]]\nname = \"unused\"\n",
    );
    env.write(
        &dir,
        "bad.toml",
        "title = \"Bad\"\nprompt = \"Hi {{who}}\"\ncolour = 1\n",
    );
    let o = env.run(&["templates", "validate", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let text = out(&o);
    assert!(
        text.contains(&format!("{}:2:", dir.join("bad.toml").display())),
        "{text}"
    );
    assert!(text.contains("who"), "{text}");
    assert!(text.contains("colour"), "{text}");
    assert!(text.contains("warning"), "{text}");
    assert!(text.contains("unused"), "{text}");
    // Only warnings: success.
    std::fs::remove_file(dir.join("bad.toml")).unwrap();
    let o = env.run(&["templates", "validate", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // The whole library, built-ins included, is valid.
    let o = env.run(&["templates", "validate"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
}

#[test]
fn new_writes_a_valid_template_and_path_lists_the_folders() {
    let env = Env::new();
    let o = env.run(&["templates", "new", "my-report"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let path = PathBuf::from(out(&o).trim());
    assert_eq!(path, env.user_dir().join("my-report.toml"));
    let o = env.run(&["templates", "validate", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = env.run(&["templates", "new", "my-report"]);
    assert_eq!(o.status.code(), Some(2), "never overwrites");
    let o = env.run(&["templates", "new", "Bad Id"]);
    assert_eq!(o.status.code(), Some(2));
    let o = env.run(&["templates", "path"]);
    let text = out(&o);
    assert!(
        text.contains(&env.user_dir().display().to_string()),
        "{text}"
    );
    assert!(
        text.contains(&env.team_dir().display().to_string()),
        "{text}"
    );
    assert!(text.contains("built-in"), "{text}");
}

#[test]
fn no_save_keeps_no_history_and_the_template_temperature_is_sent() {
    let env = Env::new();
    env.write(
        &env.user_dir(),
        "cool.toml",
        "title = \"Cool\"\ntemperature = 0.3\nmax_output_tokens = 77\nprompt = \"Say {{word}}\"\n[[variables]]\nname = \"word\"\n",
    );
    env.server.push(Reply::stream(&["hi"]));
    let o = env.run(&["run", "cool", "--var", "word=hi", "--no-save"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let body = env.server.chat_requests()[0].json();
    assert!(
        (body["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6,
        "{body}"
    );
    assert_eq!(body["max_completion_tokens"], 77);
    let o = env.run(&["sessions", "list", "--json"]);
    assert_eq!(out(&o).trim(), "[]", "nothing saved");
    // `@@` is a literal @.
    env.server.push(Reply::stream(&["ok"]));
    let o = env.run(&["run", "cool", "--var", "word=@@home", "--no-save"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        env.server.chat_requests()[1].json()["messages"][0]["content"],
        "Say @home"
    );
}

const FILE_TEMPLATE: &str = r#"title = "Read a file"
prompt = "Read this:\n{{doc}}"

[[variables]]
name = "doc"
kind = "file"
"#;

#[test]
fn a_file_variable_takes_a_path_with_or_without_at_and_an_error_never_shows_the_file() {
    let env = Env::new();
    env.write(&env.user_dir(), "read.toml", FILE_TEMPLATE);
    let secret = "line one\nline two: the CONTENT-CANARY\n";
    let file = env.write(env.home(), "notes.txt", secret);
    // `@path`, as the documentation says for any variable, and a bare path: the file's text
    // is sent, once.
    for value in [
        format!("doc=@{}", file.display()),
        format!("doc={}", file.display()),
    ] {
        env.server.push(Reply::stream(&["ok"]));
        let o = env.run(&["run", "read", "--var", &value, "--no-save"]);
        assert_eq!(o.status.code(), Some(0), "{value}: {}", err(&o));
    }
    let reqs = env.server.chat_requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(
            r.json()["messages"][0]["content"],
            format!("Read this:\n{secret}")
        );
    }

    // A missing file: one line that names the file and the reason.
    let missing = env.home().join("nowhere.txt");
    let o = env.run(&[
        "run",
        "read",
        "--var",
        &format!("doc=@{}", missing.display()),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains(&missing.display().to_string()), "{e}");
    assert!(e.contains("No such file"), "{e}");

    // Text where a path belongs: refused in one line, without echoing the text.
    let o = env.run(&["run", "read", "--var", &format!("doc={secret}")]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(!e.contains("CONTENT-CANARY"), "{e}");
    assert!(
        e.contains("`doc` is a file variable: give it a path"),
        "{e}"
    );
    assert_eq!(env.server.chat_requests().len(), 2, "nothing more was sent");
}

#[test]
fn every_step_of_a_built_in_workflow_ends_with_its_status_line_the_last_included() {
    let env = Env::new();
    env.server.push(Reply::stream(&["MINUTES"]));
    env.server.push(Reply::stream(&["ACTIONS"]));
    env.server.push(Reply::stream(&["FINAL"]));
    // stderr is a pipe here, as in a log or CI.
    let o = env.run_with_stdin(
        &["run", "meeting-minutes"],
        "Alice: the budget is approved.",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "FINAL\n");
    let e = err(&o);
    let lines: Vec<&str> = e.lines().collect();
    let steps: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("▸ step "))
        .collect();
    assert_eq!(steps.len(), 3, "{e}");
    for (n, &i) in steps.iter().enumerate() {
        let status = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            status.starts_with("  complete · "),
            "step {} has no status line after it: {e}",
            n + 1
        );
    }
}
