//! Editing text, the same in every field of the app: the one table of editing keys (the
//! ones people know from shells: Ctrl+A/E, Ctrl+U/K, Ctrl+W, Alt+Backspace…), a text with
//! a cursor ([`TextField`]) for the fields of dialogs (search, rename, the system prompt,
//! the API key, the template form, the pickers' filters, the session list's filter), and
//! [`apply_to_box`], which gives the message box (a `TextArea`) the same keys.
//!
//! A key is an editing key only when no command of the keymap took it first: Ctrl+E in the
//! message box opens `$EDITOR`, so there End goes to the line's end. Pure: no IO, no clock.

use std::fmt;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::{CursorMove, TextArea};

use super::keymap::Key;

/// What an editing key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Type a character.
    Insert(char),
    /// Delete the character before the cursor.
    Backspace,
    /// Delete the character under the cursor.
    Delete,
    /// One character left.
    Left,
    /// One character right.
    Right,
    /// To the start of the word before the cursor.
    WordLeft,
    /// To the end of the word after the cursor.
    WordRight,
    /// To the start of the line.
    LineStart,
    /// To the end of the line.
    LineEnd,
    /// Delete from the line's start to the cursor (at the start: join with the line before).
    KillToStart,
    /// Delete from the cursor to the line's end (at the end: join with the line after).
    KillToEnd,
    /// Delete the whitespace-separated word before the cursor (a shell's Ctrl+W).
    KillWord,
    /// Delete the word (letters and digits) before the cursor (a shell's Alt+Backspace).
    KillWordPart,
}

impl Edit {
    /// What it does, for the help overlay.
    pub fn describe(self) -> std::borrow::Cow<'static, str> {
        match self {
            Edit::Insert(_) => tr!("app.edit.insert"),
            Edit::Backspace => tr!("app.edit.backspace"),
            Edit::Delete => tr!("app.edit.delete"),
            Edit::Left | Edit::Right => tr!("app.edit.left"),
            Edit::WordLeft => tr!("app.edit.word_left"),
            Edit::WordRight => tr!("app.edit.word_right"),
            Edit::LineStart => tr!("app.edit.line_start"),
            Edit::LineEnd => tr!("app.edit.line_end"),
            Edit::KillToStart => tr!("app.edit.kill_to_start"),
            Edit::KillToEnd => tr!("app.edit.kill_to_end"),
            Edit::KillWord => tr!("app.edit.kill_word"),
            Edit::KillWordPart => tr!("app.edit.kill_word_part"),
        }
    }
}

/// The editing keys of every text field. Plain characters type; a key bound to a command
/// in the keymap (Ctrl+E in the message box) is that command instead.
pub const KEYS: &[(&str, Edit)] = &[
    ("ctrl+a", Edit::LineStart),
    ("home", Edit::LineStart),
    ("ctrl+e", Edit::LineEnd),
    ("end", Edit::LineEnd),
    ("ctrl+u", Edit::KillToStart),
    ("ctrl+k", Edit::KillToEnd),
    ("ctrl+w", Edit::KillWord),
    ("alt+backspace", Edit::KillWordPart),
    ("alt+b", Edit::WordLeft),
    ("ctrl+left", Edit::WordLeft),
    ("alt+f", Edit::WordRight),
    ("ctrl+right", Edit::WordRight),
    ("left", Edit::Left),
    ("right", Edit::Right),
    ("backspace", Edit::Backspace),
    ("ctrl+h", Edit::Backspace),
    ("delete", Edit::Delete),
    ("ctrl+d", Edit::Delete),
];

/// The editing a key asks for, if it is an editing key.
pub fn edit_of(key: &KeyEvent) -> Option<Edit> {
    if let KeyCode::Char(c) = key.code
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SUPER)
    {
        return Some(Edit::Insert(c));
    }
    let pressed = Key::from_event(key);
    KEYS.iter()
        .find(|(k, _)| Key::parse(k) == Some(pressed))
        .map(|(_, e)| *e)
}

/// The editing keys for the help overlay: the keys of each edit, in the table's order
/// (typing, one character left or right and deleting one are left out: they need no help).
pub fn help() -> Vec<(Vec<Key>, std::borrow::Cow<'static, str>)> {
    let mut rows: Vec<(Edit, Vec<Key>)> = Vec::new();
    for (k, e) in KEYS {
        if matches!(
            e,
            Edit::Left | Edit::Right | Edit::Insert(_) | Edit::Backspace | Edit::Delete
        ) {
            continue;
        }
        let Some(key) = Key::parse(k) else { continue };
        match rows.iter_mut().find(|(x, _)| x == e) {
            Some((_, keys)) => keys.push(key),
            None => rows.push((*e, vec![key])),
        }
    }
    rows.into_iter().map(|(e, k)| (k, e.describe())).collect()
}

/// What an editing key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edited {
    /// The text changed.
    Changed,
    /// An editing key that left the text as it was (it may have moved the cursor).
    Unchanged,
    /// Not an editing key.
    NotEditing,
}

/// A word character for Alt+Backspace and the word moves: letters (any script), digits, `_`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The start of the line the byte `at` is on.
fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The end of the line the byte `at` is on.
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i)
}

/// From `at`, back over the characters of its line that `skip` holds, then over those that
/// `word` holds: where a word-kill or a move a word left stops (never before the line).
fn word_back(text: &str, at: usize, skip: fn(char) -> bool, word: fn(char) -> bool) -> usize {
    let start = line_start(text, at);
    let mut chars = text[start..at].char_indices().rev().peekable();
    let mut pos = at;
    while let Some(&(i, c)) = chars.peek() {
        if !skip(c) {
            break;
        }
        pos = start + i;
        chars.next();
    }
    for (i, c) in chars {
        if !word(c) {
            break;
        }
        pos = start + i;
    }
    pos
}

/// From `at`, forward over non-word characters of its line, then over word characters.
fn word_forward(text: &str, at: usize) -> usize {
    let end = line_end(text, at);
    let mut pos = at;
    let mut in_word = false;
    for (i, c) in text[at..end].char_indices() {
        if is_word(c) {
            in_word = true;
        } else if in_word {
            return at + i;
        }
        pos = at + i + c.len_utf8();
    }
    pos
}

/// Where the start of a kill (or of a move) before the byte `at` is, on its line.
fn target_back(text: &str, at: usize, edit: Edit) -> usize {
    match edit {
        Edit::KillWord => word_back(text, at, |c| c == ' ' || c == '\t', |c| !c.is_whitespace()),
        Edit::KillWordPart | Edit::WordLeft => word_back(text, at, |c| !is_word(c), is_word),
        _ => line_start(text, at),
    }
}

/// A text with a cursor: a field of a dialog. One line, or several when the field takes
/// them (the form's multi-line fields); the cursor is a byte offset on a character boundary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextField {
    text: String,
    cursor: usize,
}

impl TextField {
    /// A field holding `text`, the cursor at its end.
    pub fn new(text: impl Into<String>) -> TextField {
        let text = text.into();
        TextField {
            cursor: text.len(),
            text,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The cursor (a byte offset into [`TextField::as_str`]).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The text before the cursor and after it.
    pub fn split(&self) -> (&str, &str) {
        self.text.split_at(self.cursor)
    }

    /// Nothing typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Replace the text; the cursor goes to its end.
    pub fn set(&mut self, text: impl Into<String>) {
        *self = TextField::new(text);
    }

    /// Insert text at the cursor (a paste), the cursor after it.
    pub fn insert_str(&mut self, s: &str) {
        self.text.insert_str(self.cursor, s);
        self.cursor += s.len();
    }

    /// Apply an editing key if `key` is one.
    pub fn edit(&mut self, key: &KeyEvent) -> Edited {
        match edit_of(key) {
            Some(e) => self.apply(e),
            None => Edited::NotEditing,
        }
    }

    /// Apply an edit.
    pub fn apply(&mut self, edit: Edit) -> Edited {
        let (text, at) = (&self.text, self.cursor);
        let prev = text[..at]
            .chars()
            .next_back()
            .map_or(at, |c| at - c.len_utf8());
        let next = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
        let (cut, to) = match edit {
            Edit::Insert(c) => {
                self.text.insert(at, c);
                self.cursor += c.len_utf8();
                return Edited::Changed;
            }
            Edit::Backspace => (prev..at, prev),
            Edit::Delete => (at..next, at),
            Edit::Left => (at..at, prev),
            Edit::Right => (at..at, next),
            Edit::LineStart => (at..at, line_start(text, at)),
            Edit::LineEnd => (at..at, line_end(text, at)),
            Edit::WordRight if at == line_end(text, at) => (at..at, next),
            Edit::WordRight => (at..at, word_forward(text, at)),
            Edit::KillToEnd if at == line_end(text, at) => (at..next, at),
            Edit::KillToEnd => (at..line_end(text, at), at),
            // At a line's start, the kills before it join it with the line before, as
            // Backspace does; a move a word left goes to the line before.
            Edit::KillToStart | Edit::KillWord | Edit::KillWordPart
                if at == line_start(text, at) =>
            {
                (prev..at, prev)
            }
            Edit::WordLeft if at == line_start(text, at) => (at..at, prev),
            Edit::KillToStart | Edit::KillWord | Edit::KillWordPart => {
                let from = target_back(text, at, edit);
                (from..at, from)
            }
            Edit::WordLeft => (at..at, target_back(text, at, edit)),
        };
        let changed = !cut.is_empty();
        self.text.replace_range(cut, "");
        self.cursor = to;
        if changed {
            Edited::Changed
        } else {
            Edited::Unchanged
        }
    }
}

impl From<&str> for TextField {
    fn from(text: &str) -> TextField {
        TextField::new(text)
    }
}

impl From<String> for TextField {
    fn from(text: String) -> TextField {
        TextField::new(text)
    }
}

impl PartialEq<str> for TextField {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for TextField {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl fmt::Display for TextField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Apply an edit to the message box, with the same meaning as in a [`TextField`].
pub fn apply_to_box(area: &mut TextArea<'_>, edit: Edit) {
    let (row, col) = (area.cursor().0, area.cursor().1);
    let line = area.lines().get(row).cloned().unwrap_or_default();
    let at = line.char_indices().nth(col).map_or(line.len(), |(i, _)| i);
    match edit {
        Edit::Insert(c) => area.insert_char(c),
        Edit::Backspace => {
            area.delete_char();
        }
        Edit::Delete => {
            area.delete_next_char();
        }
        Edit::Left => area.move_cursor(CursorMove::Back),
        Edit::Right => area.move_cursor(CursorMove::Forward),
        Edit::LineStart => area.move_cursor(CursorMove::Head),
        Edit::LineEnd => area.move_cursor(CursorMove::End),
        Edit::KillToStart => {
            area.delete_line_by_head();
        }
        Edit::KillToEnd => {
            area.delete_line_by_end();
        }
        Edit::WordRight if at == line.len() => area.move_cursor(CursorMove::Forward),
        Edit::WordRight => {
            for _ in line[at..word_forward(&line, at)].chars() {
                area.move_cursor(CursorMove::Forward);
            }
        }
        Edit::WordLeft if at == 0 => area.move_cursor(CursorMove::Back),
        Edit::KillWord | Edit::KillWordPart if at == 0 => {
            area.delete_char();
        }
        Edit::WordLeft | Edit::KillWord | Edit::KillWordPart => {
            let n = line[target_back(&line, at, edit)..at].chars().count();
            for _ in 0..n {
                area.move_cursor(CursorMove::Back);
            }
            if edit != Edit::WordLeft {
                area.delete_str(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str, cursor: usize) -> TextField {
        TextField {
            text: text.into(),
            cursor,
        }
    }

    fn after(text: &str, cursor: usize, edit: Edit) -> (String, usize) {
        let mut f = field(text, cursor);
        f.apply(edit);
        (f.text, f.cursor)
    }

    #[test]
    fn the_kills_stop_where_shells_stop() {
        let s = "cp docs/travel-2024.md ~/out";
        assert_eq!(
            after(s, s.len(), Edit::KillWord).0,
            "cp docs/travel-2024.md "
        );
        assert_eq!(
            after(s, s.len(), Edit::KillWordPart).0,
            "cp docs/travel-2024.md ~/"
        );
        let s = "cp docs/travel.md  ";
        assert_eq!(
            after(s, s.len(), Edit::KillWord).0,
            "cp ",
            "spaces, then the word"
        );
        assert_eq!(after(s, s.len(), Edit::KillWordPart).0, "cp docs/travel.");
        assert_eq!(
            after("hotel limit", 5, Edit::KillToStart),
            (" limit".into(), 0)
        );
        assert_eq!(
            after("hotel limit", 5, Edit::KillToEnd),
            ("hotel".into(), 5)
        );
        // CJK is one word; the cursor stays on a character boundary.
        assert_eq!(
            after("差旅 报销", "差旅 报销".len(), Edit::KillWord),
            ("差旅 ".into(), 7)
        );
    }

    #[test]
    fn lines_are_edited_one_at_a_time() {
        let s = "first line\nsecond line";
        let mid = s.find("line\n").unwrap_or(0) + 2; // in "line" of the first line
        assert_eq!(after(s, mid, Edit::KillToEnd).0, "first li\nsecond line");
        assert_eq!(after(s, mid, Edit::LineEnd).1, 10);
        let second = 11 + 6; // after "second"
        assert_eq!(after(s, second, Edit::KillToStart).0, "first line\n line");
        assert_eq!(after(s, second, Edit::LineStart).1, 11);
        assert_eq!(after(s, second, Edit::KillWord).0, "first line\n line");
        // At a line's edge, a kill joins the lines.
        assert_eq!(
            after(s, 11, Edit::KillToStart),
            ("first linesecond line".into(), 10)
        );
        assert_eq!(after(s, 11, Edit::KillWord).0, "first linesecond line");
        assert_eq!(after(s, 10, Edit::KillToEnd).0, "first linesecond line");
        // Word moves.
        assert_eq!(after(s, 0, Edit::WordRight).1, 5);
        assert_eq!(after(s, 5, Edit::WordRight).1, 10);
        assert_eq!(after(s, 10, Edit::WordRight).1, 11);
        assert_eq!(after(s, 10, Edit::WordLeft).1, 6);
        assert_eq!(after(s, 11, Edit::WordLeft).1, 10);
    }

    #[test]
    fn typing_and_deleting_at_the_cursor() {
        let mut f = TextField::new("ac");
        f.apply(Edit::Left);
        assert_eq!(f.apply(Edit::Insert('b')), Edited::Changed);
        assert_eq!(f.as_str(), "abc");
        assert_eq!(f.split(), ("ab", "c"));
        f.apply(Edit::LineStart);
        assert_eq!(f.apply(Edit::Backspace), Edited::Unchanged);
        assert_eq!(f.apply(Edit::Delete), Edited::Changed);
        assert_eq!(f.as_str(), "bc");
        f.insert_str("报");
        assert_eq!(f.split(), ("报", "bc"));
        f.apply(Edit::LineEnd);
        f.apply(Edit::Left);
        f.apply(Edit::Left);
        f.apply(Edit::Left);
        assert_eq!(f.cursor(), 0, "a wide character is one step");
        f.set("new");
        assert_eq!((f.as_str(), f.cursor()), ("new", 3));
    }

    #[test]
    fn the_table_names_the_keys() {
        let k = |code, mods| KeyEvent::new(code, mods);
        assert_eq!(
            edit_of(&k(KeyCode::Char('w'), KeyModifiers::CONTROL)),
            Some(Edit::KillWord)
        );
        assert_eq!(
            edit_of(&k(KeyCode::Backspace, KeyModifiers::ALT)),
            Some(Edit::KillWordPart)
        );
        assert_eq!(
            edit_of(&k(KeyCode::Char('A'), KeyModifiers::SHIFT)),
            Some(Edit::Insert('A'))
        );
        assert_eq!(edit_of(&k(KeyCode::Char('x'), KeyModifiers::CONTROL)), None);
        assert_eq!(edit_of(&k(KeyCode::Enter, KeyModifiers::NONE)), None);
        assert!(KEYS.iter().all(|(k, _)| Key::parse(k).is_some()));
        let help = help();
        assert!(help.iter().any(|(keys, what)| {
            *what == Edit::KillWordPart.describe() && keys[0].to_string() == "Alt+Backspace"
        }));
    }

    #[test]
    fn the_message_box_edits_as_a_field_does() {
        for (text, edit) in [
            ("cp docs/travel.md  ", Edit::KillWord),
            ("cp docs/travel.md", Edit::KillWordPart),
            ("one two\nthree four", Edit::KillWord),
            ("one two\nthree four", Edit::KillToStart),
            ("one two\n", Edit::KillWordPart),
            ("one two\nthree", Edit::WordLeft),
        ] {
            let mut area = TextArea::from(text.split('\n').map(str::to_string));
            area.move_cursor(CursorMove::Bottom);
            area.move_cursor(CursorMove::End);
            apply_to_box(&mut area, edit);
            area.insert_char('|');
            let mut f = TextField::new(text);
            f.apply(edit);
            f.apply(Edit::Insert('|'));
            assert_eq!(area.lines().join("\n"), f.as_str(), "{text:?} {edit:?}");
        }
    }
}
