//! Copying text: the system clipboard through the platform's tool when there is one, else
//! the OSC 52 escape sequence, which terminals (also over SSH and in tmux) turn into a copy.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;

fn try_tool(program: &str, args: &[&str], text: &str) -> bool {
    let Ok(mut child) = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let wrote = child
        .stdin
        .take()
        .is_some_and(|mut s| s.write_all(text.as_bytes()).is_ok());
    wrote && child.wait().is_ok_and(|st| st.success())
}

/// Copy `text`; says how it was done.
pub fn copy(text: &str) -> Result<&'static str, String> {
    let over_ssh = std::env::var_os("SSH_CONNECTION").is_some();
    if !over_ssh {
        if cfg!(target_os = "macos") && try_tool("pbcopy", &[], text) {
            return Ok("system clipboard");
        }
        if cfg!(windows) && try_tool("clip.exe", &[], text) {
            return Ok("system clipboard");
        }
        if std::env::var_os("WAYLAND_DISPLAY").is_some() && try_tool("wl-copy", &[], text) {
            return Ok("system clipboard");
        }
        if std::env::var_os("DISPLAY").is_some()
            && (try_tool("xclip", &["-selection", "clipboard"], text)
                || try_tool("xsel", &["--clipboard", "--input"], text))
        {
            return Ok("system clipboard");
        }
    }
    // Inside tmux, tmux itself takes the text: its buffer, and with `-w` (tmux 3.2+) the
    // outer terminal's clipboard too when `set-clipboard` allows it. The `Ptmux;`
    // passthrough is dropped by tmux 3.3+ unless `allow-passthrough` is on, so it is not
    // used; a plain OSC 52 is what tmux forwards.
    if std::env::var_os("TMUX").is_some() {
        if try_tool("tmux", &["load-buffer", "-w", "-"], text) {
            return Ok(if tmux_clipboard_off() {
                "tmux buffer only (prefix ] pastes it); for the system clipboard: tmux set -g set-clipboard on"
            } else {
                "tmux buffer and terminal clipboard"
            });
        }
        if try_tool("tmux", &["load-buffer", "-"], text) {
            return Ok("tmux buffer (prefix ] pastes it)");
        }
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let seq = format!("\x1b]52;c;{encoded}\x07");
    let mut out = std::io::stdout().lock();
    out.write_all(seq.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())?;
    Ok("terminal clipboard, OSC 52")
}

/// Whether tmux is set not to pass copies on to the terminal (`set-clipboard off`).
fn tmux_clipboard_off() -> bool {
    tmux_set_clipboard().as_deref() == Some("off")
}

/// tmux's `set-clipboard` option (`on`, `external` or `off`); `None` when tmux does not
/// answer. `clerk doctor` reports it.
pub(crate) fn tmux_set_clipboard() -> Option<String> {
    Command::new("tmux")
        .args(["show-options", "-gv", "set-clipboard"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
}
