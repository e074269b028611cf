//! The command line's language, end to end: the binary run against the local test server
//! with a Chinese locale, an English one, and a config that names the language.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Output;

use support::env::*;

/// Whether `text` has a Chinese character.
fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

fn run_in(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = env.cmd(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

const ZH: &[(&str, &str)] = &[("LANG", "zh_CN.UTF-8")];

/// English sentences of clap's help screen and of the doc comments that must not be left
/// in a Chinese help.
const ENGLISH: &[&str] = &[
    "Usage:",
    "Options:",
    "Commands:",
    "Arguments:",
    "Print help",
    "Exit codes",
    "[default:",
    "[env:",
    "possible values",
    "Profile (named endpoint)",
    "Model to use",
    "Print JSON",
];

#[test]
fn help_of_every_kind_of_command_is_chinese_under_a_chinese_locale() {
    let env = Env::new();
    for args in [
        &["--help"][..],
        &["-h"],
        &["ask", "--help"],
        &["auth", "login", "--help"],
        &["sessions", "search", "--help"],
        &["kb", "search", "-h"],
        &["summarize", "--help"],
        &["usage", "--help"],
        &["help", "compare"],
    ] {
        let out = run_in(&env, ZH, args);
        assert!(out.status.success(), "{args:?}");
        let help = out_text(&out);
        assert!(
            has_chinese(&help) && help.contains("用法："),
            "{args:?}: {help}"
        );
        for english in ENGLISH {
            assert!(!help.contains(english), "{args:?}: {english:?} in\n{help}");
        }
    }
    // A command without its subcommand: exit 2, said in Chinese, with the subcommands.
    let out = run_in(&env, ZH, &["kb"]);
    assert_eq!(out.status.code(), Some(2));
    let e = err(&out);
    assert!(has_chinese(&e) && e.contains("search"), "{e}");
}

#[test]
fn claps_errors_are_chinese_and_keep_their_exit_code() {
    let env = Env::new();
    let out = run_in(&env, ZH, &["ask", "--frobnicate", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    let e = err(&out);
    assert!(
        e.starts_with("错误：") && e.contains("'--frobnicate'"),
        "{e}"
    );
    assert!(!e.contains("error:") && !e.contains("Usage"), "{e}");
    let out = run_in(&env, ZH, &["sesions"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("'sessions'"), "{}", err(&out));
    // A value its parser refuses: the reason is Chinese too, the value and range kept.
    let out = run_in(&env, ZH, &["kb", "search", "-k", "99", "年假"]);
    assert_eq!(out.status.code(), Some(2));
    let e = err(&out);
    assert!(
        e.contains("'99'") && e.contains("99 不在 1..=50 之内"),
        "{e}"
    );
    let out = run_in(&env, ZH, &["kb", "search", "-k", "five", "年假"]);
    assert!(err(&out).contains("不是整数"), "{}", err(&out));
    // In English, clap's own words.
    let out = run_in(&env, &[], &["ask", "--frobnicate", "hi"]);
    assert!(err(&out).starts_with("error: unexpected argument '--frobnicate'"));
}

#[test]
fn a_missing_key_is_explained_in_chinese() {
    let env = Env::new();
    let out = env
        .cmd(&["ask", "hi"])
        .env_remove("CLERK_API_KEY")
        .env("LANG", "zh_CN.UTF-8")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = err(&out);
    // The "clerk: " prefix stays; the advice is Chinese and names the same commands.
    assert!(e.starts_with("clerk: "), "{e}");
    assert!(has_chinese(&e) && e.contains("CLERK_API_KEY"), "{e}");
    assert!(
        e.contains("clerk auth login") || e.contains("系统密钥环不可用"),
        "{e}"
    );
    assert!(env.server.chat_requests().is_empty());
}

#[test]
fn the_configs_language_wins_over_the_locale_and_c_is_english() {
    let env = Env::new();
    let config = env.home().join("config/clerk/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "language = \"en\"\n").unwrap();
    let out = run_in(&env, ZH, &["--help"]);
    assert!(
        out_text(&out).contains("Usage: clerk"),
        "{}",
        out_text(&out)
    );
    // … and its errors, after the config is read, too.
    let out = run_in(&env, ZH, &["sessions", "show", "nope"]);
    assert!(!has_chinese(&err(&out)), "{}", err(&out));
    // `--config FILE` is the file read for the language.
    let zh = env.home().join("zh.toml");
    std::fs::write(&zh, "language = \"zh-CN\"\n").unwrap();
    let out = run_in(
        &env,
        &[("LC_ALL", "C")],
        &["--config", zh.to_str().unwrap(), "--help"],
    );
    assert!(out_text(&out).contains("用法："), "{}", out_text(&out));
    // LC_ALL=C over a Chinese LANG: English.
    std::fs::remove_file(&config).unwrap();
    let out = run_in(
        &env,
        &[("LANG", "zh_CN.UTF-8"), ("LC_ALL", "C")],
        &["--help"],
    );
    assert!(
        out_text(&out).contains("Usage: clerk"),
        "{}",
        out_text(&out)
    );
}

#[test]
fn a_bad_language_is_a_config_error_naming_the_key() {
    let env = Env::new();
    let config = env.home().join("config/clerk/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "log_level = \"info\"\nlanguage = \"fr\"\n").unwrap();
    let out = env.run(&["sessions", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let e = err(&out);
    assert!(
        e.contains("line 2") && e.contains("key `language`") && e.contains("\"zh-CN\""),
        "{e}"
    );
    // Shown by `config show`, with the language in force.
    std::fs::write(&config, "language = \"zh-CN\"\n").unwrap();
    let out = env.run(&["config", "show"]);
    assert!(out.status.success(), "{}", err(&out));
    let shown = out_text(&out);
    assert!(shown.contains("language = \"zh-CN\""), "{shown}");
    assert!(shown.contains("界面语言：简体中文（zh-CN）"), "{shown}");
}

#[test]
fn machine_output_stays_english() {
    let env = Env::new();
    let out = run_in(&env, ZH, &["ask", "--json", "hi"]);
    assert!(out.status.success(), "{}", err(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("answer").is_some() && v.get("usage").is_some(), "{v}");
    let out = run_in(&env, ZH, &["usage", "--csv"]);
    assert!(out.status.success(), "{}", err(&out));
    let csv = out_text(&out);
    assert!(!has_chinese(csv.lines().next().unwrap_or("")), "{csv}");
    let out = run_in(&env, ZH, &["completions", "bash"]);
    assert!(!has_chinese(&out_text(&out)));
}

fn out_text(o: &Output) -> String {
    out(o)
}

#[test]
fn a_policy_refusal_is_chinese_names_the_file_and_exits_2() {
    let env = Env::new();
    let file = env.write(
        &env.home().join("it"),
        "policy.toml",
        "allowed_models = [\"gpt-4o-mini\"]\n",
    );
    let out = env
        .cmd(&["ask", "--model", "gpt-4o", "hello"])
        .env("CLERK_POLICY", &file)
        .env("LANG", "zh_CN.UTF-8")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = err(&out);
    assert!(
        e.contains(&format!(
            "策略文件 {} 不允许使用模型 gpt-4o（allowed_models）",
            file.display()
        )) && e.contains("允许的有：gpt-4o-mini"),
        "{e}"
    );
    assert_eq!(env.server.request_count(), 0);
}

#[test]
fn kb_index_list_and_status_are_chinese_and_json_stays_english() {
    let env = Env::new();
    let docs = env.home().join("docs");
    env.write(
        &docs,
        "travel.md",
        "# Travel\n\nThe hotel limit is CNY 800.\n",
    );
    let out = run_in(
        &env,
        ZH,
        &["kb", "add", "procedures", docs.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", err(&out));
    let summary = out_text(&out);
    assert!(
        summary.starts_with("procedures：已索引 1 个文件") && summary.contains("秒"),
        "{summary}"
    );
    assert!(
        err(&out).contains("已将知识库 `procedures` 添加到"),
        "{}",
        err(&out)
    );
    let list = out_text(&run_in(&env, ZH, &["kb", "list"]));
    assert!(list.starts_with("名称") && list.contains("路径"), "{list}");
    let status = out_text(&run_in(&env, ZH, &["kb", "status"]));
    assert!(
        status.contains("上次索引：") && status.contains("已是最新"),
        "{status}"
    );
    let json = out_text(&run_in(&env, ZH, &["kb", "list", "--json"]));
    assert!(
        !has_chinese(&json) && json.contains("\"documents\""),
        "{json}"
    );
}
