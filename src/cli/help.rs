//! The command line's definition in the interface's language: `--help` of every command,
//! clap's headings, and clap's own errors.
//!
//! clap's derive takes its texts from the doc comments, in English. In English the command
//! is left exactly as derived (its help is byte-for-byte what it always was). In another
//! language the built command is walked and every text replaced with the catalog's
//! (`locales/cli-help.yml`), keyed by the command's path and the argument's id:
//! `cli.help.kb.search.about`, `cli.help.kb.search.arg.json`, `….long` for a long help,
//! `….value.NAME` for a documented value; a global argument is keyed at the top
//! (`cli.help.arg.config`), clap's built-in `--help`, `--version` and `help` under
//! `cli.help.builtin.*`. The headings come from a help template, since clap writes its own
//! in English. What clap adds to a help (`[default: …]`, `[env: …]`, the possible values) is
//! hidden and written again in the language. A test walks every command and argument and
//! fails on any text the catalog lacks.
//!
//! This module only builds the definition and formats clap's errors; it never parses.

use std::fmt::Write as _;

use clap::builder::StyledStr;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command, CommandFactory, FromArgMatches};

use super::Cli;
use crate::i18n::{self, Language};

/// The prefix of every key of this module.
const ROOT: &str = "cli.help";

/// The command line parsed; on a failure, or for `--help`, what clap has to say printed (in
/// the language in force) and the exit code returned. The translated definition is built
/// only then: a command line that parses never pays for it.
pub(super) fn parse(args: &[std::ffi::OsString]) -> Result<Cli, u8> {
    let error = match Cli::command().try_get_matches_from(args) {
        Ok(matches) => match Cli::from_arg_matches(&matches) {
            Ok(cli) => return Ok(cli),
            Err(e) => e,
        },
        Err(e) if i18n::current() == Language::English || e.kind() == ErrorKind::DisplayVersion => {
            e
        }
        // The same command line against the translated definition fails the same way.
        Err(e) => command().try_get_matches_from(args).err().unwrap_or(e),
    };
    Err(report(&error))
}

/// The command line, its texts in the language in force.
pub(super) fn command() -> Command {
    let cmd = Cli::command();
    if i18n::current() == Language::English {
        return cmd;
    }
    let mut cmd = cmd;
    // Built first, so clap's own `--help`, `--version`, `help` and the global arguments
    // copied into every subcommand are there to translate.
    cmd.build();
    translate(cmd, ROOT, &|key| i18n::text(key))
}

/// `cmd` (at the key prefix `path`) with every text looked up by `text`; a text the
/// catalog lacks stays English (the test below makes sure none does).
fn translate(cmd: Command, path: &str, text: &dyn Fn(&str) -> Option<String>) -> Command {
    let lookup = |key: String| text(&key);
    let mut cmd = cmd;
    if cmd.get_about().is_some()
        && let Some(about) = lookup(format!("{path}.about"))
    {
        cmd = cmd.about(about);
    }
    if cmd.get_long_about().is_some()
        && let Some(long) = lookup(format!("{path}.long_about"))
    {
        cmd = cmd.long_about(long);
    }
    if cmd.get_after_help().is_some() {
        cmd = cmd.after_help(tr!("cli.chrome.exit_codes").into_owned());
    }
    let t = template(&cmd);
    // No wrapping by clap, which breaks lines only at spaces: see [`super::help_wrap`].
    cmd = cmd.help_template(t).term_width(0);
    cmd = cmd.mut_args(|arg| translate_arg(arg, path, text));
    cmd.mut_subcommands(|sub| {
        if sub.get_name() == "help" {
            return builtin_help_command(sub);
        }
        let sub_path = format!("{path}.{}", sub.get_name());
        translate(sub, &sub_path, text)
    })
}

/// The catalog's key of argument `id` of the command at `path` (a global one's is at the
/// top, wherever clap copied it).
fn arg_key(path: &str, arg: &Arg) -> String {
    let at = if arg.is_global_set() { ROOT } else { path };
    format!("{at}.arg.{}", arg.get_id())
}

fn translate_arg(arg: Arg, path: &str, text: &dyn Fn(&str) -> Option<String>) -> Arg {
    let id = arg.get_id().as_str().to_string();
    let (help, long) = match id.as_str() {
        "help" if arg.get_long_help().is_some() => (
            Some(tr!("cli.help.builtin.help_more").into_owned()),
            Some(tr!("cli.help.builtin.help_summary").into_owned()),
        ),
        "help" => (Some(tr!("cli.help.builtin.help").into_owned()), None),
        "version" => (Some(tr!("cli.help.builtin.version").into_owned()), None),
        _ => {
            let key = arg_key(path, &arg);
            let help = arg.get_help().and_then(|_| text(&key));
            let long = arg
                .get_long_help()
                .and_then(|_| text(&format!("{key}.long")));
            (help, long)
        }
    };
    let mut marks = String::new();
    if !arg.is_hide_env_set()
        && let Some(env) = arg.get_env()
    {
        let name = env.to_string_lossy();
        let _ = write!(marks, " {}", tr!("cli.chrome.env", name = name));
    }
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if takes_value && !arg.is_hide_default_value_set() && !defaults.is_empty() {
        let _ = write!(
            marks,
            " {}",
            tr!("cli.chrome.default", value = defaults.join(" "))
        );
    }
    let values: Vec<_> = arg
        .get_possible_values()
        .into_iter()
        .filter(|v| !v.is_hide_set())
        .collect();
    let show_values = takes_value && !arg.is_hide_possible_values_set() && !values.is_empty();
    let mut listed = String::new();
    if show_values {
        let names: Vec<&str> = values.iter().map(|v| v.get_name()).collect();
        let _ = write!(
            marks,
            " {}",
            tr!("cli.chrome.possible", values = names.join(", "))
        );
        if values.iter().any(|v| v.get_help().is_some()) {
            listed.push_str(&tr!("cli.chrome.possible_heading"));
            let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
            for v in &values {
                let key = format!("{}.value.{}", arg_key(path, &arg), v.get_name());
                let about = text(&key).unwrap_or_default();
                let name = format!("{}：", v.get_name());
                // The names are ASCII; the colon takes two cells.
                let _ = write!(listed, "\n  - {name:<w$}{about}", w = width + 2);
            }
        }
    }
    let help = help.or_else(|| arg.get_help().map(ToString::to_string));
    let mut arg = arg
        .hide_env(true)
        .hide_default_value(true)
        .hide_possible_values(true);
    if let Some(help) = &help {
        arg = arg.help(format!("{help}{marks}"));
    }
    let long = long.or_else(|| arg.get_long_help().map(ToString::to_string));
    match (long, listed.is_empty()) {
        (Some(long), true) => arg.long_help(format!("{long}{marks}")),
        (Some(long), false) => arg.long_help(format!("{long}{marks}\n\n{listed}")),
        (None, false) => {
            let help = help.unwrap_or_default();
            arg.long_help(format!("{help}{marks}\n\n{listed}"))
        }
        (None, true) => arg,
    }
}

/// clap's `help` subcommand, and its copies of the other commands (which carry only their
/// names and abouts).
fn builtin_help_command(cmd: Command) -> Command {
    let cmd = cmd
        .about(tr!("cli.help.builtin.help_command").into_owned())
        .mut_args(|arg| match arg.get_id().as_str() {
            "subcommand" => arg.help(tr!("cli.help.builtin.help_command_arg").into_owned()),
            _ => arg,
        });
    let t = template(&cmd);
    let cmd = cmd.help_template(t).term_width(0);
    copies(cmd, ROOT)
}

fn copies(cmd: Command, path: &str) -> Command {
    cmd.mut_subcommands(|sub| {
        let name = sub.get_name().to_string();
        let about = match name.as_str() {
            "help" => Some(tr!("cli.help.builtin.help_command").into_owned()),
            _ => i18n::text(&format!("{path}.{name}.about")),
        };
        let sub = match about {
            Some(about) if sub.get_about().is_some() => sub.about(about),
            _ => sub,
        };
        let t = template(&sub);
        let sub = sub.help_template(t).term_width(0);
        copies(sub, &format!("{path}.{name}"))
    })
}

/// clap's default help template with the headings in the language (clap writes its own in
/// English), and only the sections `cmd` has.
fn template(cmd: &Command) -> StyledStr {
    let subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let positionals = cmd.get_positionals().any(|a| !a.is_hide_set());
    let options = cmd
        .get_arguments()
        .any(|a| !a.is_positional() && !a.is_hide_set());
    template_for(subcommands, positionals, options)
}

fn template_for(subcommands: bool, positionals: bool, options: bool) -> StyledStr {
    let styles = clap::builder::Styles::default();
    let heading = |style: &clap::builder::styling::Style, text: &str| {
        format!("{}{text}{}", style.render(), style.render_reset())
    };
    let header = styles.get_header();
    let mut t = format!(
        "{{before-help}}{{about-with-newline}}\n{}{{usage}}",
        heading(styles.get_usage(), &tr!("cli.chrome.usage"))
    );
    let mut sections = Vec::new();
    if subcommands {
        sections.push(format!(
            "{}\n{{subcommands}}",
            heading(header, &tr!("cli.chrome.commands"))
        ));
    }
    if positionals {
        sections.push(format!(
            "{}\n{{positionals}}",
            heading(header, &tr!("cli.chrome.arguments"))
        ));
    }
    if options {
        sections.push(format!(
            "{}\n{{options}}",
            heading(header, &tr!("cli.chrome.options"))
        ));
    }
    if !sections.is_empty() {
        t.push_str("\n\n");
        t.push_str(&sections.join("\n\n"));
    }
    t.push_str("{after-help}");
    StyledStr::from(t)
}

/// Prints one of clap's errors (or its help and version, which are not errors) in the
/// language in force and returns the exit code clap would give.
fn report(error: &clap::Error) -> u8 {
    use std::io::{IsTerminal, Write};
    let code = error.exit_code().clamp(0, 255) as u8;
    if i18n::current() == Language::English || error.kind() == ErrorKind::DisplayVersion {
        let _ = error.print();
        return code;
    }
    let help = match error.kind() {
        ErrorKind::DisplayHelp => Some(true),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Some(false),
        _ => None,
    };
    let Some(to_stdout) = help else {
        eprint!("{}", error_text(error));
        return code;
    };
    let terminal = match to_stdout {
        true => std::io::stdout().is_terminal(),
        false => std::io::stderr().is_terminal(),
    };
    let rendered = error.render();
    let text = match terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) {
        true => rendered.ansi().to_string(),
        false => rendered.to_string(),
    };
    let text = super::help_wrap::wrap(&text, super::output::text_width(terminal));
    let _ = match to_stdout {
        true => std::io::stdout().write_all(text.as_bytes()),
        false => std::io::stderr().write_all(text.as_bytes()),
    };
    code
}

/// The text of a clap error, in the language in force: what is wrong, a tip when clap has
/// one, the usage, and where to learn more.
fn error_text(error: &clap::Error) -> String {
    let get = |kind: ContextKind| match error.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(list)) => list.join(", "),
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        Some(ContextValue::StyledStrs(list)) => list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Some(ContextValue::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let arg = get(ContextKind::InvalidArg);
    let value = get(ContextKind::InvalidValue);
    let what = match error.kind() {
        ErrorKind::InvalidValue if value.is_empty() => {
            tr!("cli.clap.value_missing", arg = arg).into_owned()
        }
        ErrorKind::InvalidValue => {
            tr!("cli.clap.invalid_value", value = value, arg = arg).into_owned()
        }
        ErrorKind::UnknownArgument => tr!("cli.clap.unknown_argument", arg = arg).into_owned(),
        ErrorKind::InvalidSubcommand => tr!(
            "cli.clap.unknown_command",
            name = get(ContextKind::InvalidSubcommand)
        )
        .into_owned(),
        ErrorKind::NoEquals => tr!("cli.clap.no_equals", arg = arg).into_owned(),
        ErrorKind::ValueValidation => tr!(
            "cli.clap.value_validation",
            value = value,
            arg = arg,
            reason = reason_text(&error_source(error))
        )
        .into_owned(),
        ErrorKind::TooManyValues => tr!("cli.clap.too_many", value = value, arg = arg).into_owned(),
        ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => tr!(
            "cli.clap.wrong_number",
            arg = arg,
            expected = get(ContextKind::ExpectedNumValues),
            actual = get(ContextKind::ActualNumValues)
        )
        .into_owned(),
        ErrorKind::ArgumentConflict => tr!(
            "cli.clap.conflict",
            arg = arg,
            other = get(ContextKind::PriorArg)
        )
        .into_owned(),
        ErrorKind::MissingRequiredArgument => {
            tr!("cli.clap.missing_required", arg = arg).into_owned()
        }
        ErrorKind::MissingSubcommand => tr!(
            "cli.clap.missing_command",
            name = get(ContextKind::InvalidSubcommand)
        )
        .into_owned(),
        ErrorKind::InvalidUtf8 => tr!("cli.clap.invalid_utf8").into_owned(),
        _ => tr!("cli.clap.other").into_owned(),
    };
    let mut out = format!("{}{what}\n", tr!("cli.clap.error"));
    let valid = get(ContextKind::ValidValue);
    if !valid.is_empty() {
        let _ = writeln!(out, "  {}", tr!("cli.clap.valid_values", values = valid));
    }
    let commands = get(ContextKind::ValidSubcommand);
    if !commands.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            tr!("cli.clap.valid_commands", names = commands)
        );
    }
    let suggested = [ContextKind::SuggestedArg, ContextKind::SuggestedSubcommand]
        .into_iter()
        .map(get)
        .find(|s| !s.is_empty());
    if let Some(suggested) = suggested {
        let _ = writeln!(out, "\n  {}", tr!("cli.clap.suggested", name = suggested));
    }
    let usage = get(ContextKind::Usage);
    if let Some(usage) = usage.trim().strip_prefix("Usage:") {
        let _ = writeln!(out, "\n{}{}", tr!("cli.chrome.usage"), usage.trim());
    }
    let _ = writeln!(out, "\n{}", tr!("cli.clap.more"));
    out
}

/// Why a value did not parse (the value parser's own words, which may be English).
/// A value parser's reason in Chinese (only the Chinese path comes here): clap's range and
/// the standard library's number errors are known; any other reason is kept as written.
fn reason_text(reason: &str) -> String {
    if let Some((value, range)) = reason.split_once(" is not in ") {
        return tr!("cli.clap.reason.range", value = value, range = range).into_owned();
    }
    let text = match reason {
        "invalid digit found in string" => tr!("cli.clap.reason.digit"),
        "number too large to fit in target type" => tr!("cli.clap.reason.too_large"),
        "number too small to fit in target type" => tr!("cli.clap.reason.too_small"),
        "cannot parse integer from empty string" | "cannot parse float from empty string" => {
            tr!("cli.clap.reason.empty")
        }
        "invalid float literal" => tr!("cli.clap.reason.float"),
        other => return other.to_string(),
    };
    text.into_owned()
}

fn error_source(error: &clap::Error) -> String {
    std::error::Error::source(error)
        .map(ToString::to_string)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every text of the command line in English, keyed as [`translate`] looks it up.
    fn english(cmd: &Command, path: &str, out: &mut Vec<(String, String)>) {
        if let Some(about) = cmd.get_about() {
            out.push((format!("{path}.about"), about.to_string()));
        }
        if let Some(long) = cmd.get_long_about() {
            out.push((format!("{path}.long_about"), long.to_string()));
        }
        for arg in cmd.get_arguments() {
            if matches!(arg.get_id().as_str(), "help" | "version") {
                continue;
            }
            if arg.is_global_set() && path != ROOT {
                continue;
            }
            let key = arg_key(path, arg);
            if let Some(help) = arg.get_help() {
                out.push((key.clone(), help.to_string()));
            }
            if let Some(long) = arg.get_long_help() {
                out.push((format!("{key}.long"), long.to_string()));
            }
            for v in arg.get_possible_values() {
                if let Some(help) = v.get_help() {
                    out.push((format!("{key}.value.{}", v.get_name()), help.to_string()));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                english(sub, &format!("{path}.{}", sub.get_name()), out);
            }
        }
    }

    fn all_texts() -> Vec<(String, String)> {
        let mut cmd = Cli::command();
        cmd.build();
        let mut out = Vec::new();
        english(&cmd, ROOT, &mut out);
        out
    }

    /// A new command, flag or documented value without its Chinese text fails here.
    #[test]
    fn every_command_and_argument_has_a_chinese_text() {
        let _zh = i18n::scoped(Language::Chinese);
        let texts = all_texts();
        assert!(texts.len() > 100, "{}", texts.len());
        let missing: Vec<String> = texts
            .iter()
            .filter(|(key, _)| i18n::text(key).is_none())
            .map(|(key, en)| format!("{key}: {en:?}"))
            .collect();
        assert!(
            missing.is_empty(),
            "help texts without a translation:\n{}",
            missing.join("\n")
        );
    }

    /// And the catalog has no text for a command or argument that is gone.
    #[test]
    fn the_catalog_has_no_help_text_for_what_is_gone() {
        let keys: std::collections::BTreeSet<String> =
            all_texts().into_iter().map(|(k, _)| k).collect();
        let stale: Vec<String> = crate::_rust_i18n_backend()
            .messages_for_locale("en")
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k.into_owned())
            .filter(|k| {
                k.starts_with("cli.help.")
                    && !k.starts_with("cli.help.builtin.")
                    && !keys.contains(k)
            })
            .collect();
        assert!(stale.is_empty(), "help texts of nothing: {stale:?}");
    }

    /// The catalog's English texts are the doc comments' (so the English catalog can be read
    /// side by side with the Chinese one, and a changed doc comment is noticed).
    #[test]
    fn the_catalogs_english_help_is_the_doc_comments() {
        let stale: Vec<String> = all_texts()
            .into_iter()
            .filter(|(key, en)| {
                let _en = i18n::scoped(Language::English);
                i18n::text(key).is_some_and(|t| &t != en)
            })
            .map(|(key, en)| format!("{key}: now {en:?}"))
            .collect();
        assert!(
            stale.is_empty(),
            "doc comments changed:\n{}",
            stale.join("\n")
        );
    }

    #[test]
    fn english_help_is_claps_own() {
        let _en = i18n::scoped(Language::English);
        let mut ours = command();
        let mut derived = Cli::command();
        assert_eq!(
            ours.render_long_help().to_string(),
            derived.render_long_help().to_string()
        );
    }

    #[test]
    fn chinese_help_has_chinese_headings_and_texts() {
        let _zh = i18n::scoped(Language::Chinese);
        let mut cmd = command();
        let help = cmd.render_help().to_string();
        for heading in ["用法：", "命令：", "选项：", "退出码："] {
            assert!(help.contains(heading), "{heading}: {help}");
        }
        for english in [
            "Usage:",
            "Options:",
            "Commands:",
            "Print help",
            "Exit codes",
        ] {
            assert!(!help.contains(english), "{english}: {help}");
        }
        let ask = cmd.find_subcommand_mut("ask").unwrap();
        let help = ask.render_long_help().to_string();
        assert!(
            help.contains("参数：") && help.contains("[环境变量：CLERK_CONFIG]"),
            "{help}"
        );
    }

    #[test]
    fn claps_errors_are_in_the_language() {
        let _zh = i18n::scoped(Language::Chinese);
        let err = command()
            .try_get_matches_from(["clerk", "ask", "--frobnicate", "hi"])
            .unwrap_err();
        let text = error_text(&err);
        assert!(
            text.starts_with("错误：") && text.contains("--frobnicate"),
            "{text}"
        );
        assert!(text.contains("用法：") && !text.contains("Usage"), "{text}");
        let err = command()
            .try_get_matches_from(["clerk", "usage", "--by", "week"])
            .unwrap_err();
        let text = error_text(&err);
        assert!(text.contains("week") && text.contains("day"), "{text}");
    }

    /// Prints the English texts as catalog entries (run by hand when adding commands:
    /// `cargo test --lib cli::help::tests::dump -- --ignored --nocapture`).
    #[test]
    #[ignore = "a tool, not a test"]
    fn dump() {
        for (key, en) in all_texts() {
            println!("{key}:\n  en: {en:?}");
        }
    }
}
