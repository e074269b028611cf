//! `clerk doctor`: gathers what the checks look at (the config, or why it does not load;
//! the theme and key-binding problems the app would get past; the terminal), runs
//! [`crate::doctor`]'s checks and prints each as it ends, or one JSON document.
//!
//! The checks and their wording live in `doctor`; this file only gathers and prints.

use std::io::{IsTerminal, Write};

use clap::Args;

use super::{Cli, CliError, Ctx, Exit};
use crate::doctor::{self, Inputs, Setup, terminal::Facts};

/// `clerk doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print one JSON object (`{"version": 1, "checks": [{"id", "status", "detail",
    /// "fix"}]}`) instead of one line per check
    #[arg(long)]
    pub json: bool,
}

/// Run `clerk doctor`.
pub fn run(cli: &Cli, args: &DoctorArgs) -> Result<Exit, CliError> {
    let (setup, notes) = match Ctx::read(cli) {
        Ok(ctx) => {
            super::output::init_logging(&ctx);
            let mut notes = super::config_cmd::theme_problems(&ctx);
            if let Err(e) = crate::app::keymap::Keymap::with_overrides(&ctx.config.file.keys) {
                notes.push(
                    tr!(
                        "cli.doctor.bad_keys",
                        error = e,
                        path = ctx.paths.config_file.display()
                    )
                    .into_owned(),
                );
            }
            let setup = Setup {
                paths: ctx.paths,
                config: ctx.config,
                profile: ctx.profile_name,
                base_url: ctx.base_url,
                model: ctx.model_override,
            };
            (Ok(setup), notes)
        }
        Err(e) => (Err(e), Vec::new()),
    };
    let inputs = Inputs {
        setup,
        notes,
        terminal: terminal_facts(),
    };
    let terminal = std::io::stdout().is_terminal();
    let colour = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // On a terminal, a long detail is wrapped under its own column (folded by the terminal
    // it would go on at the first column, under the marks); in a pipe, a line a check.
    let width = terminal.then(|| super::output::text_width(true));
    let json = args.json;
    let rt = super::runtime()?;
    let checks = rt.block_on(doctor::run(&inputs, |check| {
        if !json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", printed(check, colour, width));
            let _ = out.flush();
        }
    }));
    // A name lookup given up on may still run on a blocking thread: do not wait for it
    // (the ledger's record of a call given up on is written within this).
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    if json {
        let text = serde_json::to_string_pretty(&doctor::json(&checks)).map_err(|e| {
            CliError::new(
                Exit::Failure,
                tr!("cli.doctor.cannot_write_json", error = e),
            )
        })?;
        println!("{text}");
    }
    Ok(exit(&checks))
}

/// A check as printed: its line, wrapped to `width` on a terminal.
fn printed(check: &doctor::Check, colour: bool, width: Option<usize>) -> String {
    let line = doctor::line(check, colour);
    match width {
        Some(w) => super::help_wrap::wrap(&line, w),
        None => line,
    }
}

/// 0 when nothing failed, 1 when a check failed.
fn exit(checks: &[doctor::Check]) -> Exit {
    if doctor::failed(checks) {
        Exit::Failure
    } else {
        Exit::Ok
    }
}

/// The terminal as it is: size (through `/dev/tty` when stdout is a pipe), the colour
/// variables, tmux's `set-clipboard`, GNU screen, SSH.
fn terminal_facts() -> Facts {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    Facts {
        size: ratatui::crossterm::terminal::size()
            .ok()
            .filter(|(w, h)| *w > 0 && *h > 0),
        min: crate::ui::MIN_SIZE,
        no_color: set("NO_COLOR"),
        colorterm: var("COLORTERM"),
        term: var("TERM"),
        tmux: set("TMUX").then(crate::tui::clipboard::tmux_set_clipboard),
        screen: set("STY"),
        ssh: set("SSH_CONNECTION") || set("SSH_TTY"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{Check, CheckId};

    #[test]
    fn the_exit_code_is_one_only_when_a_check_failed() {
        let ok = Check::ok(CheckId::Config, "fine");
        let warn = Check::warn(CheckId::Keyring, "unreachable", "not needed");
        assert_eq!(exit(&[ok.clone(), warn.clone()]), Exit::Ok);
        let fail = Check::fail(CheckId::Models, "rejected", "clerk auth login");
        assert_eq!(exit(&[ok, fail, warn]) as u8, 1);
    }

    #[test]
    fn a_long_check_wraps_under_its_column_on_a_terminal_and_stays_one_line_in_a_pipe() {
        let warn = Check::warn(
            CheckId::Keyring,
            "Secret Service cannot be reached (not used: the key comes from environment (CLERK_API_KEY)): no secret service provider or dbus session found",
            "nothing to do while the key comes from the environment; to keep the key in the keyring instead, run `clerk auth login` once the Secret Service runs",
        );
        let piped = printed(&warn, false, None);
        assert_eq!(piped.lines().count(), 2, "the detail and the fix");
        let shown = printed(&warn, true, Some(60));
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines.len() > 4, "{shown}");
        // Where the detail starts (the mark and the id are ASCII: a byte a cell).
        let column = piped.find("Secret").unwrap();
        for line in &lines[1..] {
            assert!(line.starts_with(&" ".repeat(column)), "{line:?}");
        }
        for line in &lines {
            let plain = crate::llm::sanitize::sanitize(line);
            assert!(
                unicode_width::UnicodeWidthStr::width(plain.as_str()) <= 60,
                "{line:?}"
            );
        }
        let words = |s: &str| {
            crate::llm::sanitize::sanitize(s)
                .split_whitespace()
                .collect::<String>()
        };
        assert_eq!(words(&shown), words(&piped));
    }
}
