//! Keys → named commands, per mode. The help overlay and docs/keybindings.md come from here.
//!
//! Commands derive `Deserialize`, so the config file's `[keys.MODE]` tables name them
//! directly (`"ctrl+n" = "new_session"`). This module maps keys; it performs nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Send the message in the input box.
    Send,
    /// Insert a new line in the input box.
    Newline,
    /// Stop the answer being written (it is kept, marked interrupted).
    StopAnswer,
    /// Quit clerk (asks first while an answer streams).
    Quit,
    /// Start a new session.
    NewSession,
    /// Open the next session in the list.
    NextSession,
    /// Open the previous session in the list.
    PrevSession,
    /// Move the focus to the next pane.
    FocusNext,
    /// Show or hide the session list.
    ToggleSidebar,
    /// Search all sessions.
    Search,
    /// Show the keys.
    Help,
    /// Rename the session.
    RenameSession,
    /// Write the session to a file (Markdown, or JSON).
    ExportSession,
    /// Delete the session (with undo).
    DeleteSession,
    /// Pin or unpin the session.
    PinSession,
    /// Archive the session (in the archived view: bring it back).
    ArchiveSession,
    /// Show the archived sessions instead of the others, or back.
    ShowArchived,
    /// Undo the last delete.
    Undo,
    /// Choose a theme.
    ThemePicker,
    /// Scroll the transcript up a few lines.
    ScrollUp,
    /// Scroll the transcript down a few lines.
    ScrollDown,
    /// Scroll the transcript up a page.
    PageUp,
    /// Scroll the transcript down a page.
    PageDown,
    /// Jump to the start of the transcript.
    ScrollTop,
    /// Jump to the end of the transcript.
    ScrollBottom,
    /// Select the previous message.
    SelectPrev,
    /// Select the next message.
    SelectNext,
    /// Copy the selected message (or the last answer).
    CopyMessage,
    /// Ask again: the last question gets a new answer.
    Regenerate,
    /// Put the last message sent back in the input box.
    RecallLast,
    /// Store an API key.
    AddKey,
    /// Type to filter the session list.
    FilterSessions,
    /// Open the selected session.
    OpenSession,
    /// Copy code block 1–9 of the selected message (or the last answer).
    CopyCode1,
    /// Copy code block 2.
    CopyCode2,
    /// Copy code block 3.
    CopyCode3,
    /// Copy code block 4.
    CopyCode4,
    /// Copy code block 5.
    CopyCode5,
    /// Copy code block 6.
    CopyCode6,
    /// Copy code block 7.
    CopyCode7,
    /// Copy code block 8.
    CopyCode8,
    /// Copy code block 9.
    CopyCode9,
    /// Delete the selected message.
    DeleteMessage,
    /// Choose the model.
    ModelPicker,
    /// Set the session's system prompt.
    SystemPrompt,
    /// Put the selected question back in the message box; sending it replaces it and
    /// everything after it.
    EditMessage,
    /// Put the text of pasted chips into the message box.
    ExpandPastes,
    /// Write the message in `$VISUAL` / `$EDITOR`.
    ComposeInEditor,
    /// Choose and run a template.
    Templates,
    /// Attach a file to the message.
    Attach,
    /// Save the message (or the selected question) as a new template.
    SaveAsTemplate,
    /// Show what the answers cost: today, this month, by model, the last 30 days.
    Usage,
    /// Choose the knowledge base the session's questions are answered from.
    KnowledgePicker,
    /// List the passages the selected (or last) grounded answer was given; a number
    /// opens one.
    Sources,
    /// Compare 2–4 models side by side on the current question; keep one answer.
    Compare,
    /// Start an incognito session, kept in memory only and never written to disk (again:
    /// leave it, and it is gone).
    Incognito,
}

impl Command {
    /// For `copy_code_N`: N.
    pub fn code_block(self) -> Option<usize> {
        Some(match self {
            Command::CopyCode1 => 1,
            Command::CopyCode2 => 2,
            Command::CopyCode3 => 3,
            Command::CopyCode4 => 4,
            Command::CopyCode5 => 5,
            Command::CopyCode6 => 6,
            Command::CopyCode7 => 7,
            Command::CopyCode8 => 8,
            Command::CopyCode9 => 9,
            _ => return None,
        })
    }
}

impl Command {
    /// A short description for the help overlay.
    pub fn describe(self) -> std::borrow::Cow<'static, str> {
        match self {
            Command::Send => tr!("app.cmd.send"),
            Command::Newline => tr!("app.cmd.newline"),
            Command::StopAnswer => tr!("app.cmd.stop_answer"),
            Command::Quit => tr!("app.cmd.quit"),
            Command::NewSession => tr!("app.cmd.new_session"),
            Command::NextSession => tr!("app.cmd.next_session"),
            Command::PrevSession => tr!("app.cmd.prev_session"),
            Command::FocusNext => tr!("app.cmd.focus_next"),
            Command::ToggleSidebar => tr!("app.cmd.toggle_sidebar"),
            Command::Search => tr!("app.cmd.search"),
            Command::Help => tr!("app.cmd.help"),
            Command::RenameSession => tr!("app.cmd.rename_session"),
            Command::ExportSession => tr!("app.cmd.export_session"),
            Command::DeleteSession => tr!("app.cmd.delete_session"),
            Command::PinSession => tr!("app.cmd.pin_session"),
            Command::ArchiveSession => tr!("app.cmd.archive_session"),
            Command::ShowArchived => tr!("app.cmd.show_archived"),
            Command::Undo => tr!("app.cmd.undo"),
            Command::ThemePicker => tr!("app.cmd.theme_picker"),
            Command::ScrollUp => tr!("app.cmd.scroll_up"),
            Command::ScrollDown => tr!("app.cmd.scroll_down"),
            Command::PageUp => tr!("app.cmd.page_up"),
            Command::PageDown => tr!("app.cmd.page_down"),
            Command::ScrollTop => tr!("app.cmd.scroll_top"),
            Command::ScrollBottom => tr!("app.cmd.scroll_bottom"),
            Command::SelectPrev => tr!("app.cmd.select_prev"),
            Command::SelectNext => tr!("app.cmd.select_next"),
            Command::CopyMessage => tr!("app.cmd.copy_message"),
            Command::Regenerate => tr!("app.cmd.regenerate"),
            Command::RecallLast => tr!("app.cmd.recall_last"),
            Command::AddKey => tr!("app.cmd.add_key"),
            Command::FilterSessions => tr!("app.cmd.filter_sessions"),
            Command::OpenSession => tr!("app.cmd.open_session"),
            Command::CopyCode1 => tr!("app.cmd.copy_code_1"),
            Command::CopyCode2
            | Command::CopyCode3
            | Command::CopyCode4
            | Command::CopyCode5
            | Command::CopyCode6
            | Command::CopyCode7
            | Command::CopyCode8
            | Command::CopyCode9 => tr!("app.cmd.copy_code_n"),
            Command::DeleteMessage => tr!("app.cmd.delete_message"),
            Command::ModelPicker => tr!("app.cmd.model_picker"),
            Command::SystemPrompt => tr!("app.cmd.system_prompt"),
            Command::EditMessage => tr!("app.cmd.edit_message"),
            Command::ExpandPastes => tr!("app.cmd.expand_pastes"),
            Command::ComposeInEditor => tr!("app.cmd.compose_in_editor"),
            Command::Templates => tr!("app.cmd.templates"),
            Command::Attach => tr!("app.cmd.attach"),
            Command::SaveAsTemplate => tr!("app.cmd.save_as_template"),
            Command::Usage => tr!("app.cmd.usage"),
            Command::KnowledgePicker => tr!("app.cmd.knowledge_picker"),
            Command::Sources => tr!("app.cmd.sources"),
            Command::Compare => tr!("app.cmd.compare"),
            Command::Incognito => tr!("app.cmd.incognito"),
        }
    }
}

/// Where the keyboard focus is; each has its own bindings on top of the global ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Keys that work everywhere (unless a dialog is open).
    Global,
    /// The input box.
    Input,
    /// The session list.
    Sessions,
    /// The transcript.
    Transcript,
}

/// A key with modifiers, as written in the config (`ctrl+n`, `alt+enter`, `f1`, `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl, Alt, Shift.
    pub mods: KeyModifiers,
}

impl Key {
    /// A key from an event; Shift is ignored for characters (it is in the character).
    pub fn from_event(e: &KeyEvent) -> Key {
        let mut mods =
            e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match e.code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) {
                    c.to_ascii_lowercase()
                } else {
                    c
                })
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Key { code, mods }
    }

    /// Parse `ctrl+alt+x`, `enter`, `f5`, `pageup`…
    pub fn parse(text: &str) -> Option<Key> {
        let mut mods = KeyModifiers::NONE;
        let parts: Vec<&str> = text.split('+').collect();
        let (last, prefix) = match text {
            "+" => ("+", &[][..]),
            _ => {
                let (last, prefix) = parts.split_last()?;
                (*last, prefix)
            }
        };
        for m in prefix {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => mods |= KeyModifiers::CONTROL,
                "alt" | "meta" => mods |= KeyModifiers::ALT,
                "shift" => mods |= KeyModifiers::SHIFT,
                _ => return None,
            }
        }
        let lower = last.to_ascii_lowercase();
        let code = match lower.as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().ok()?)
            }
            _ if last.chars().count() == 1 => {
                let c = last.chars().next()?;
                KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) {
                    c.to_ascii_lowercase()
                } else if mods.contains(KeyModifiers::SHIFT) {
                    // As events arrive: Shift is in the character (`shift+a` is `A`).
                    mods.remove(KeyModifiers::SHIFT);
                    c.to_ascii_uppercase()
                } else {
                    c
                })
            }
            _ => return None,
        };
        Some(Key { code, mods })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl+")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("Alt+")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("Shift+")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(
                f,
                "{}",
                if self.mods.is_empty() {
                    c
                } else {
                    c.to_ascii_uppercase()
                }
            ),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift+Tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Del"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Bindings per mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    modes: BTreeMap<Mode, HashMap<Key, Command>>,
}

/// A `[keys]` entry that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[keys.{mode}] `{key}`: {message}")]
pub struct KeymapError {
    /// The mode table.
    pub mode: String,
    /// The key as written.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

const DEFAULTS: &[(Mode, &str, Command)] = &[
    (Mode::Global, "ctrl+c", Command::Quit),
    (Mode::Global, "ctrl+q", Command::Quit),
    (Mode::Global, "esc", Command::StopAnswer),
    (Mode::Global, "ctrl+n", Command::NewSession),
    (Mode::Global, "ctrl+f", Command::Search),
    (Mode::Global, "f1", Command::Help),
    (Mode::Global, "ctrl+b", Command::ToggleSidebar),
    (Mode::Global, "ctrl+t", Command::ThemePicker),
    (Mode::Global, "tab", Command::FocusNext),
    (Mode::Global, "alt+down", Command::NextSession),
    (Mode::Global, "alt+up", Command::PrevSession),
    (Mode::Global, "pageup", Command::PageUp),
    (Mode::Global, "pagedown", Command::PageDown),
    (Mode::Global, "ctrl+y", Command::CopyMessage),
    (Mode::Global, "ctrl+r", Command::Regenerate),
    (Mode::Global, "ctrl+z", Command::Undo),
    // Not Ctrl+K: in a text box that kills to the end of the line, as in shells.
    (Mode::Global, "f3", Command::AddKey),
    (Mode::Global, "ctrl+l", Command::ModelPicker),
    (Mode::Global, "ctrl+o", Command::Attach),
    (Mode::Global, "f2", Command::SystemPrompt),
    (Mode::Global, "ctrl+p", Command::Templates),
    (Mode::Global, "ctrl+s", Command::SaveAsTemplate),
    (Mode::Global, "f4", Command::Usage),
    (Mode::Global, "ctrl+g", Command::KnowledgePicker),
    (Mode::Global, "alt+s", Command::Sources),
    (Mode::Global, "f5", Command::Compare),
    (Mode::Global, "f6", Command::Incognito),
    (Mode::Input, "enter", Command::Send),
    (Mode::Input, "alt+enter", Command::Newline),
    (Mode::Input, "ctrl+j", Command::Newline),
    (Mode::Input, "up", Command::RecallLast),
    (Mode::Input, "ctrl+x", Command::ExpandPastes),
    (Mode::Input, "ctrl+e", Command::ComposeInEditor),
    (Mode::Sessions, "up", Command::PrevSession),
    (Mode::Sessions, "k", Command::PrevSession),
    (Mode::Sessions, "down", Command::NextSession),
    (Mode::Sessions, "j", Command::NextSession),
    (Mode::Sessions, "enter", Command::OpenSession),
    (Mode::Sessions, "r", Command::RenameSession),
    (Mode::Sessions, "e", Command::ExportSession),
    (Mode::Sessions, "d", Command::DeleteSession),
    (Mode::Sessions, "delete", Command::DeleteSession),
    (Mode::Sessions, "p", Command::PinSession),
    (Mode::Sessions, "a", Command::ArchiveSession),
    (Mode::Sessions, "shift+a", Command::ShowArchived),
    (Mode::Sessions, "u", Command::Undo),
    (Mode::Sessions, "/", Command::FilterSessions),
    (Mode::Sessions, "?", Command::Help),
    // The transcript has no single-letter keys: a printable key typed there goes to the
    // message box (as in chat apps), so typing after Tab is never a trap.
    (Mode::Transcript, "up", Command::SelectPrev),
    (Mode::Transcript, "down", Command::SelectNext),
    (Mode::Transcript, "home", Command::ScrollTop),
    (Mode::Transcript, "end", Command::ScrollBottom),
    (Mode::Transcript, "delete", Command::DeleteMessage),
    (Mode::Transcript, "enter", Command::EditMessage),
    (Mode::Transcript, "alt+1", Command::CopyCode1),
    (Mode::Transcript, "alt+2", Command::CopyCode2),
    (Mode::Transcript, "alt+3", Command::CopyCode3),
    (Mode::Transcript, "alt+4", Command::CopyCode4),
    (Mode::Transcript, "alt+5", Command::CopyCode5),
    (Mode::Transcript, "alt+6", Command::CopyCode6),
    (Mode::Transcript, "alt+7", Command::CopyCode7),
    (Mode::Transcript, "alt+8", Command::CopyCode8),
    (Mode::Transcript, "alt+9", Command::CopyCode9),
];

impl Default for Keymap {
    fn default() -> Self {
        let mut modes: BTreeMap<Mode, HashMap<Key, Command>> = BTreeMap::new();
        for (mode, key, cmd) in DEFAULTS {
            if let Some(k) = Key::parse(key) {
                modes.entry(*mode).or_default().insert(k, *cmd);
            }
        }
        Keymap { modes }
    }
}

impl Keymap {
    /// The defaults with the user's `[keys.MODE]` tables on top. `"none"` unbinds a key.
    pub fn with_overrides(
        user: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Keymap, KeymapError> {
        let mut map = Keymap::default();
        for (mode_name, table) in user {
            let err = |key: &str, message: String| KeymapError {
                mode: mode_name.clone(),
                key: key.to_string(),
                message,
            };
            let mode: Mode = Mode::deserialize(serde::de::value::StrDeserializer::<
                serde::de::value::Error,
            >::new(mode_name))
            .map_err(|_| err("", tr!("app.keys.bad_mode").into_owned()))?;
            for (key_text, cmd_text) in table {
                let key = Key::parse(key_text)
                    .ok_or_else(|| err(key_text, tr!("app.keys.bad_key").into_owned()))?;
                let entry = map.modes.entry(mode).or_default();
                if cmd_text == "none" {
                    entry.remove(&key);
                    continue;
                }
                let cmd = Command::deserialize(serde::de::value::StrDeserializer::<
                    serde::de::value::Error,
                >::new(cmd_text))
                .map_err(|_| {
                    err(
                        key_text,
                        tr!("app.keys.bad_command", command = cmd_text).into_owned(),
                    )
                })?;
                entry.insert(key, cmd);
            }
        }
        Ok(map)
    }

    /// The command for a key in a mode: the mode's own binding first, then the global one.
    pub fn lookup(&self, mode: Mode, key: &KeyEvent) -> Option<Command> {
        let k = Key::from_event(key);
        self.modes
            .get(&mode)
            .and_then(|m| m.get(&k))
            .or_else(|| self.modes.get(&Mode::Global).and_then(|m| m.get(&k)))
            .copied()
    }

    /// The first key bound to a command (for hints), searching the mode then global.
    pub fn key_for(&self, mode: Mode, cmd: Command) -> Option<Key> {
        let find = |m: Mode| {
            let mut keys: Vec<Key> = self
                .modes
                .get(&m)?
                .iter()
                .filter(|(_, c)| **c == cmd)
                .map(|(k, _)| *k)
                .collect();
            keys.sort_unstable_by_key(|k| (k.to_string().len(), k.to_string()));
            keys.first().copied()
        };
        find(mode).or_else(|| find(Mode::Global))
    }

    /// All bindings of a mode, sorted by command, for the help overlay.
    pub fn bindings(&self, mode: Mode) -> Vec<(Command, Vec<Key>)> {
        let mut by_cmd: BTreeMap<Command, Vec<Key>> = BTreeMap::new();
        if let Some(m) = self.modes.get(&mode) {
            for (k, c) in m {
                by_cmd.entry(*c).or_default().push(*k);
            }
        }
        for keys in by_cmd.values_mut() {
            keys.sort_unstable_by_key(|k| (k.to_string().len(), k.to_string()));
        }
        by_cmd.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn parse_and_display_keys() {
        let k = Key::parse("ctrl+n").unwrap();
        assert_eq!(
            k,
            Key {
                code: KeyCode::Char('n'),
                mods: KeyModifiers::CONTROL
            }
        );
        assert_eq!(k.to_string(), "Ctrl+N");
        assert_eq!(Key::parse("alt+enter").unwrap().to_string(), "Alt+Enter");
        assert_eq!(Key::parse("f1").unwrap().code, KeyCode::F(1));
        assert_eq!(Key::parse("?").unwrap().code, KeyCode::Char('?'));
        assert!(Key::parse("hyper+x").is_none());
        assert!(Key::parse("nonsense").is_none());
    }

    #[test]
    fn mode_binding_wins_then_global() {
        let km = Keymap::default();
        assert_eq!(
            km.lookup(Mode::Input, &ev(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Command::Send)
        );
        assert_eq!(
            km.lookup(Mode::Sessions, &ev(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Command::OpenSession)
        );
        assert_eq!(
            km.lookup(Mode::Input, &ev(KeyCode::Char('n'), KeyModifiers::CONTROL)),
            Some(Command::NewSession)
        );
        assert_eq!(
            km.lookup(Mode::Input, &ev(KeyCode::Char('x'), KeyModifiers::NONE)),
            None
        );
        // Shift is part of the character.
        assert_eq!(
            km.lookup(Mode::Sessions, &ev(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Command::Help)
        );
    }

    #[test]
    fn user_overrides_rebind_and_unbind() {
        let mut user = BTreeMap::new();
        let mut input = BTreeMap::new();
        input.insert("ctrl+s".to_string(), "send".to_string());
        input.insert("enter".to_string(), "newline".to_string());
        user.insert("input".to_string(), input);
        let mut global = BTreeMap::new();
        global.insert("ctrl+q".to_string(), "none".to_string());
        user.insert("global".to_string(), global);
        let km = Keymap::with_overrides(&user).unwrap();
        assert_eq!(
            km.lookup(Mode::Input, &ev(KeyCode::Char('s'), KeyModifiers::CONTROL)),
            Some(Command::Send)
        );
        assert_eq!(
            km.lookup(Mode::Input, &ev(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Command::Newline)
        );
        assert_eq!(
            km.lookup(Mode::Input, &ev(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            None
        );
    }

    #[test]
    fn bad_overrides_are_named() {
        let mut user = BTreeMap::new();
        user.insert(
            "input".to_string(),
            BTreeMap::from([("ctrl+s".to_string(), "launch".to_string())]),
        );
        let e = Keymap::with_overrides(&user).unwrap_err().to_string();
        assert!(e.contains("[keys.input]") && e.contains("launch"), "{e}");
        let mut user = BTreeMap::new();
        user.insert("typing".to_string(), BTreeMap::new());
        assert!(Keymap::with_overrides(&user).is_err());
    }

    #[test]
    fn help_lists_bindings_from_the_keymap() {
        let km = Keymap::default();
        let global = km.bindings(Mode::Global);
        let quit = global.iter().find(|(c, _)| *c == Command::Quit).unwrap();
        assert_eq!(quit.1.len(), 2);
        assert_eq!(
            km.key_for(Mode::Input, Command::Send).unwrap().to_string(),
            "Enter"
        );
    }
}
