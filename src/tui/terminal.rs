//! The terminal: taking it (raw mode, the alternate screen, mouse and bracketed paste),
//! giving it back on quit, on error, on panic and while `$EDITOR` runs, and the theme
//! adapted to what the terminal can show.
//!
//! It must not read keys or decide anything about the app.

use std::io::Write;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::execute;

use crate::ui::Theme;

/// What `$EDITOR` is opened for.
#[derive(Debug)]
pub(super) enum EditorJob {
    /// The message: its text comes back into the box.
    Message(String),
    /// A new template file, checked when the editor closes.
    Template(std::path::PathBuf),
}

/// Pick the theme by name and adapt it to the terminal (NO_COLOR, 16 colours).
pub(super) fn resolve_theme(themes: &[Theme], name: &str) -> Theme {
    let base = themes
        .iter()
        .find(|t| t.name == name)
        .cloned()
        .unwrap_or_else(Theme::default_theme);
    // The same decision `clerk doctor` reports.
    use crate::doctor::terminal::{Colours, colours};
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let colorterm = std::env::var("COLORTERM").unwrap_or_default();
    let term = std::env::var("TERM").unwrap_or_default();
    match colours(no_color, &colorterm, &term) {
        Colours::Off => base.without_color(),
        Colours::Basic => base.to_ansi16(),
        Colours::Full => base,
    }
}

pub(super) fn init_terminal() -> DefaultTerminal {
    let terminal = ratatui::init();
    let _ = execute!(std::io::stdout(), EnableBracketedPaste, EnableMouseCapture);
    // ratatui::init's hook restores raw mode and the screen; this one decides whether it
    // runs. A panic inside a document parser is that file's error (documents::guard): say
    // nothing, restore nothing. One on another thread (a background job) is reported by the
    // job's failure and goes to the log: the screen stays as it is and the app carries on.
    // One on the UI's thread ends the app: mouse, bracketed paste, the cursor and the screen
    // are restored first, then the message is printed.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if crate::documents::guard::in_quiet_section() {
            return;
        }
        if std::thread::current().name() != Some("main") {
            tracing::error!("a background task failed: {info}");
            return;
        }
        let _ = execute!(
            std::io::stdout(),
            DisableMouseCapture,
            DisableBracketedPaste,
            ratatui::crossterm::cursor::Show
        );
        previous(info);
    }));
    terminal
}

pub(super) fn restore_terminal() {
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        DisableBracketedPaste,
        ratatui::crossterm::cursor::Show
    );
    ratatui::restore();
    let _ = std::io::stdout().flush();
}

/// The user's editor: `$VISUAL`, else `$EDITOR`, else `vi`.
pub(super) fn editor_command() -> String {
    std::env::var("VISUAL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".to_string())
}

/// Run the editor on `path` (through the shell, so EDITOR="code --wait" works; the path is
/// passed as "$1").
pub(super) async fn run_editor(path: &std::path::Path) -> Result<(), String> {
    let editor = editor_command();
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .await
        .map_err(|e| tr!("app.editor.cannot_start", editor = &editor, error = e).into_owned())?;
    if status.success() {
        Ok(())
    } else {
        Err(tr!("app.editor.exited", editor = &editor, status = status).into_owned())
    }
}

/// Hand the terminal to the editor on a private temporary file with `text` in it; return
/// what was saved. The caller has given up the screen and the keys.
pub(super) async fn compose_in_editor(text: &str) -> Result<String, String> {
    let dir = tempfile::Builder::new()
        .prefix("clerk-compose-")
        .tempdir()
        .map_err(|e| tr!("app.editor.no_temp", error = e).into_owned())?;
    let path = dir.path().join("message.md");
    write_private(&path, text).map_err(|e| {
        tr!("app.editor.cannot_write", path = path.display(), error = e).into_owned()
    })?;
    run_editor(&path)
        .await
        .map_err(|e| tr!("app.editor.box_unchanged", error = e).into_owned())?;
    let mut out = std::fs::read_to_string(&path).map_err(|e| {
        tr!("app.editor.cannot_read", path = path.display(), error = e).into_owned()
    })?;
    // Editors end the file with a newline; the message does not need it.
    if out.ends_with('\n') {
        out.pop();
        if out.ends_with('\r') {
            out.pop();
        }
    }
    Ok(out)
}

/// Write a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(text.as_bytes())
}

/// Give the terminal back to the shell for a while (the editor runs in it).
pub(super) fn suspend_terminal() {
    restore_terminal();
}

/// Take the terminal again after the editor.
pub(super) fn resume_terminal(terminal: &mut DefaultTerminal) {
    let _ = ratatui::crossterm::terminal::enable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        ratatui::crossterm::terminal::EnterAlternateScreen,
        EnableBracketedPaste,
        EnableMouseCapture
    );
    // `Terminal::clear` asks the terminal where the cursor is and gives up (leaving a stale
    // frame) if the answer is slow; a resize to the current size clears and forces a full
    // redraw without asking anything.
    if let Ok(size) = terminal.size() {
        let _ = terminal.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height));
    }
}
