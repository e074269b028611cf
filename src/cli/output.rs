//! Shared output helpers: logging to a file, completions, time and money formatting.
//!
//! The log goes to a file in the state folder, never to the terminal; it records what
//! happened (model, status, timings), never keys or headers.

pub use crate::format::{pad, pad_left};
use std::io::IsTerminal;

use clap::CommandFactory;

use super::{Cli, Ctx, Shell};

/// Send `tracing` output to `clerk.log` in the state folder. Failing to open the log is not
/// fatal: clerk works without it.
pub fn init_logging(ctx: &Ctx) {
    let level = std::env::var("CLERK_LOG")
        .ok()
        .or_else(|| ctx.config.file.log_level.clone())
        .unwrap_or_else(|| "info".to_string());
    let level = match level.to_ascii_lowercase().as_str() {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    let dir = &ctx.paths.state_dir;
    if crate::store::create_private_dir(dir).is_err() {
        return;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ctx.paths.log_file());
    if let Ok(file) = file {
        let _ = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_target(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init();
    }
}

/// Print completions for `shell` to stdout.
pub fn completions(shell: Shell) {
    let mut cmd = Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "clerk", &mut std::io::stdout());
}

/// Whether stdout is a terminal (then model text is sanitized and marks are coloured).
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether stderr is a terminal.
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub use crate::format::local_time;

pub use crate::config::models::format_usd as money;

/// Text safe for the terminal when stdout is one; unchanged when it is a pipe or file.
pub fn for_stdout(text: &str, tty: bool) -> std::borrow::Cow<'_, str> {
    if tty && !crate::llm::sanitize::is_clean(text) {
        std::borrow::Cow::Owned(crate::llm::sanitize::sanitize(text))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The width text is wrapped to on a terminal, as clap chooses it for help: the terminal's,
/// else `COLUMNS`, else 100; at most 100 (longer lines are hard to read).
pub fn text_width(terminal: bool) -> usize {
    let columns = match terminal {
        true => crossterm::terminal::size()
            .ok()
            .map(|(w, _)| usize::from(w)),
        false => None,
    };
    columns
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .filter(|w| *w > 0)
        .unwrap_or(100)
        .min(100)
}

/// The start of a passage under its place: folded to one line of at most `max`
/// characters and indented by four spaces; on a terminal (`width`), made safe and wrapped
/// to the width with every line indented (a long line folded back by the terminal would
/// start at its first column, under the numbers).
pub fn passage_excerpt(text: &str, max: usize, width: Option<usize>) -> String {
    let line = format!("    {}", clip(&for_stdout(text, width.is_some()), max));
    match width {
        Some(w) => super::help_wrap::wrap(&line, w),
        None => line,
    }
}

/// Cut to `max` characters with an ellipsis.
pub fn clip(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// `clerk … | head`: when the reader of stdout goes away, stop quietly with the status a
/// shell reports for SIGPIPE, as command-line tools do. Rust ignores SIGPIPE, so a write
/// to the closed pipe fails and `println!` panics ("failed printing to stdout: Broken
/// pipe"): a panic message and a backtrace for what is no error. Call once, in `main`.
pub fn exit_quietly_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std")
            && (message.contains("Broken pipe") || message.contains("os error 32"))
        {
            std::process::exit(128 + 13); // 128 + SIGPIPE
        }
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passage_is_indented_and_wrapped_on_a_terminal_and_one_line_in_a_pipe() {
        let text = "| city | hotel limit per night |\n|---|---|\n| Shanghai | 900 |\n| Berlin | 180 |\n差旅报销需要在出差结束后三十天内提交发票，超出标准的住宿费用需要预算负责人事先审批。";
        let piped = passage_excerpt(text, 400, None);
        assert_eq!(piped.lines().count(), 1);
        assert!(piped.starts_with("    | city |"));
        let shown = passage_excerpt(text, 400, Some(40));
        assert!(shown.lines().count() > 2, "{shown}");
        for line in shown.lines() {
            assert!(line.starts_with("    "), "{line:?}");
            assert!(
                unicode_width::UnicodeWidthStr::width(line) <= 40,
                "{line:?}"
            );
        }
        // The same words, only the breaks differ.
        let words = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(words(&shown), words(&piped));
        // Escape sequences never reach the terminal.
        assert!(!passage_excerpt("a \x1b]52;c;ZXZpbA==\x07 b", 50, Some(40)).contains('\x1b'));
    }

    #[test]
    fn money_is_never_zero_for_a_small_cost_and_unknown_is_said() {
        assert_eq!(money(Some(0.0000036)), "$0.000004");
        assert_eq!(money(Some(1.5)), "$1.50");
        assert_eq!(money(None), "cost unknown");
    }

    #[test]
    fn clip_folds_and_cuts() {
        assert_eq!(clip("a\n b   c", 10), "a b c");
        assert_eq!(clip("abcdefghij", 5), "abcd…");
    }

    #[test]
    fn pads_count_terminal_cells() {
        assert_eq!(pad("名称", 6), "名称  ");
        assert_eq!(pad_left("文档", 6), "  文档");
        assert_eq!(pad("NAME", 6), format!("{:<6}", "NAME"));
        assert_eq!(pad("toolong", 3), "toolong");
    }
}
