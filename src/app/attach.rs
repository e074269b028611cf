//! Attachments and the check before sending.
//!
//! Files come in three ways: `@path` words in the message (attached when Enter is pressed,
//! then a second Enter sends), the attach dialog (Ctrl+O, with Tab completion), and a
//! pasted path to a file. The runtime reads them off the UI's path and they become chips
//! that show the name, size, pages, tokens and input cost.
//!
//! Before a message leaves, it is checked: likely secrets (short messages here, long ones
//! off the UI's path), and whether it fits the model's window and the cost limit. When
//! something needs a decision, a dialog offers it: redact or send the secrets; read a long
//! message in parts or send only its first tokens; go ahead despite the cost; or cancel.

use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::edit::Edited;
use super::{App, Dialog, Effect, Level, Paste, TextField};
use crate::documents::secrets;

/// A message this long (bytes) or with attached files is checked off the UI's path.
pub const CHECK_OFF_THREAD_BYTES: usize = 64 * 1024;

/// What is known about an attached file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileMeta {
    /// File name.
    pub name: String,
    /// Size on disk.
    pub bytes: u64,
    /// Pages (PDF).
    pub pages: Option<usize>,
    /// Rows (CSV/TSV, XLSX).
    pub rows: Option<usize>,
    /// Sheets (XLSX).
    pub sheets: Option<usize>,
    /// Slides (PPTX).
    pub slides: Option<usize>,
    /// Estimated input cost of its tokens (USD), when prices are known.
    pub cost: Option<f64>,
}

/// A file read for attaching.
#[derive(Debug, Clone, PartialEq)]
pub struct Attached {
    /// What it is.
    pub meta: FileMeta,
    /// Its text.
    pub text: Arc<str>,
    /// Its tokens.
    pub tokens: u64,
}

/// One likely secret, as shown (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// "AWS access key".
    pub label: String,
    /// Line in the message.
    pub line: usize,
    /// "AKIA…LE".
    pub preview: String,
}

/// A message about to be sent, for the runtime to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Which send this is (a newer one makes older checks moot).
    pub seq: u64,
    /// The whole message.
    pub text: Arc<str>,
    /// The typed part (the question).
    pub question: String,
    /// The chips: name and text.
    pub docs: Vec<(String, Arc<str>)>,
    /// The model.
    pub model: String,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The send it answers.
    pub seq: u64,
    /// The message as checked.
    pub outgoing: Outgoing,
    /// Likely secrets.
    pub found: Vec<Found>,
    /// The message with them replaced by `[REDACTED:kind]` (when any).
    pub redacted: Option<Arc<str>>,
    /// Tokens of the message.
    pub tokens: u64,
    /// Room for a message in the model's window (None: unknown).
    pub room: Option<u64>,
    /// When it does not fit: parts it would be read in, and the requests.
    pub parts: Option<(usize, usize)>,
    /// Estimated cost (USD) of sending it as it is, or in parts when it does not fit.
    pub cost: Option<f64>,
    /// Whether that is over the limit that asks first.
    pub over_limit: bool,
    /// The limit.
    pub limit: f64,
    /// What the user chose about the secrets: redact (true) or send (false).
    pub redact: Option<bool>,
}

impl Check {
    /// Whether it can go without asking.
    pub fn is_clear(&self) -> bool {
        self.found.is_empty() && self.parts.is_none() && !self.over_limit
    }

    /// How many tokens "the first N tokens" keeps: the room, less the question and a margin.
    pub fn first_tokens(&self) -> u64 {
        let room = self.room.unwrap_or(self.tokens);
        room.saturating_sub(self.tokens_of_question() + 1_000)
            .max(1_000)
    }

    fn tokens_of_question(&self) -> u64 {
        // The question is short next to the documents; bytes/3 is a safe bound.
        (self.outgoing.question.len() as u64).div_ceil(3)
    }
}

/// How a long message goes out.
#[derive(Debug, Clone, PartialEq)]
pub struct LongSend {
    /// The typed question.
    pub question: String,
    /// The documents (chips), name and text.
    pub docs: Vec<(String, Arc<str>)>,
    /// Send only the first N tokens of the documents (else: read them in parts).
    pub first: Option<u64>,
    /// Replace likely secrets in them first.
    pub redact: bool,
}

/// `@path` words of a message: those that look like paths (a `/`, or a name with an
/// extension), in order.
pub fn at_paths(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix('@'))
        .filter(|p| {
            !p.is_empty()
                && !p.starts_with(KB_PREFIX)
                && (p.contains('/')
                    || p.starts_with('~')
                    || p.rsplit_once('.')
                        .is_some_and(|(a, e)| !a.is_empty() && (1..=5).contains(&e.len())))
        })
        .map(str::to_string)
        .collect()
}

/// What names a knowledge base in a message: `@kb:NAME`.
pub const KB_PREFIX: &str = "kb:";

/// The `@kb:NAME` words of a message: each name as written (empty for a bare `@kb:`;
/// a comma, semicolon or question mark right after it is not part of it), and the message
/// without them.
pub fn at_kb(text: &str) -> (Vec<String>, String) {
    let mut names = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let before = names.len();
        let mut words: Vec<&str> = Vec::new();
        for w in line.split(' ') {
            match w.strip_prefix('@').and_then(|w| w.strip_prefix(KB_PREFIX)) {
                Some(name) => names.push(
                    name.trim_end_matches([',', ';', ':', '!', '?', '，', '；', '？', '！'])
                        .to_string(),
                ),
                None => words.push(w),
            }
        }
        // Only a line that held one is tidied: other lines stay exactly as typed.
        kept.push(if names.len() > before {
            words
                .into_iter()
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            line.to_string()
        });
    }
    if names.is_empty() {
        return (names, text.to_string());
    }
    (names, kept.join("\n").trim().to_string())
}

/// The message with its `@path` words taken out.
pub fn without_at_paths(text: &str, paths: &[String]) -> String {
    let mut out = text.to_string();
    for p in paths {
        let word = format!("@{p}");
        let spaced = format!(" {word}");
        out = if out.contains(&spaced) {
            out.replacen(&spaced, "", 1)
        } else {
            out.replacen(&word, "", 1)
        };
    }
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    lines.join("\n").trim().to_string()
}

/// A pasted text that is one path to a file (plain, quoted, or a `file://` URL).
pub fn pasted_path(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() || t.contains('\n') || t.len() > 4_096 {
        return None;
    }
    let t = t
        .strip_prefix("file://")
        .unwrap_or(t)
        .trim_matches(|c| c == '\'' || c == '"');
    let looks = t.starts_with('/') || t.starts_with("~/") || is_windows_path(t);
    (looks && !t.ends_with('/')).then(|| t.replace("%20", " "))
}

fn is_windows_path(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
}

/// A `<document name="…">` block at the start of `text`: its name, its text, and what follows
/// it (the blank line after it skipped).
pub fn leading_document(text: &str) -> Option<(String, &str, &str)> {
    let rest = text.strip_prefix("<document name=\"")?;
    let (name, rest) = rest.split_once("\">\n")?;
    if name.contains('\n') {
        return None;
    }
    let end = rest.find("\n</document>")?;
    let body = &rest[..end];
    let after = &rest[end + "\n</document>".len()..];
    let after = after
        .strip_prefix("\n\n")
        .or_else(|| after.strip_prefix('\n'))
        .unwrap_or(after);
    let name = name
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&amp;", "&");
    Some((name, body, after))
}

/// A message that does not fit, as a long send: its leading documents and the question after
/// them, or (with no documents) the whole message as the document. For answering again a
/// question that was read in parts.
pub fn long_from_message(text: &str) -> LongSend {
    let mut docs = Vec::new();
    let mut rest = text;
    while let Some((name, body, after)) = leading_document(rest) {
        docs.push((name, Arc::from(body)));
        rest = after;
    }
    if docs.is_empty() {
        return LongSend {
            question: String::new(),
            docs: vec![("your message".to_string(), Arc::from(text))],
            first: None,
            redact: false,
        };
    }
    LongSend {
        question: rest.to_string(),
        docs,
        first: None,
        redact: false,
    }
}

/// Pages of an extracted PDF's text (its `--- page N ---` markers), if any.
pub fn pages_in(text: &str) -> Option<usize> {
    let n = text
        .lines()
        .filter(|l| l.starts_with("--- page ") && l.ends_with(" ---"))
        .count();
    (n > 0).then_some(n)
}

/// Files were read: add chips, or say why not. `fallback`: a pasted text to insert as
/// typed when it turned out not to be a file.
pub fn on_attached(
    app: &mut App,
    results: Vec<Result<Attached, String>>,
    from_text: Vec<String>,
    fallback: Option<String>,
) {
    if let (Some(text), [Err(_)]) = (&fallback, results.as_slice()) {
        app.input.insert_str(text);
        return;
    }
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(a) => {
                let id = app.next_paste_id();
                let mut chip = Paste::new(id, a.text, false);
                chip.tokens = Some(a.tokens);
                chip.counting = true;
                names.push(a.meta.name.clone());
                chip.file = Some(a.meta);
                app.pastes.push(chip);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() && !from_text.is_empty() {
        let text = without_at_paths(&app.input_text(), &from_text);
        app.input = ratatui_textarea::TextArea::from(text.split('\n').map(str::to_string));
        app.input.move_cursor(ratatui_textarea::CursorMove::Bottom);
        app.input.move_cursor(ratatui_textarea::CursorMove::End);
    }
    match (names.is_empty(), errors.first()) {
        (_, Some(e)) => app.notice(e.clone(), Level::Error),
        (false, None) => app.notice(
            tr!("app.notice.attached", names = names.join(", ")),
            Level::Info,
        ),
        (true, None) => {}
    }
}

/// Check a short message here: only secrets (it fits any window). `None`: nothing found.
pub fn quick_check(app: &App, seq: u64, text: &str) -> Option<Check> {
    if !app.setup.scan_secrets {
        return None;
    }
    let findings = secrets::scan(text);
    if findings.is_empty() {
        return None;
    }
    Some(Check {
        seq,
        outgoing: Outgoing {
            seq,
            text: Arc::from(text),
            question: app.input_text(),
            docs: Vec::new(),
            model: app.setup.model.clone(),
        },
        found: found_of(&findings),
        redacted: Some(Arc::from(secrets::redact(text, &findings))),
        tokens: 0,
        room: None,
        parts: None,
        cost: None,
        over_limit: false,
        limit: 0.0,
        redact: None,
    })
}

/// Findings as shown.
pub fn found_of(findings: &[secrets::Finding]) -> Vec<Found> {
    findings
        .iter()
        .map(|f| Found {
            label: f.label.to_string(),
            line: f.line,
            preview: f.preview.clone(),
        })
        .collect()
}

/// What the user decided in the dialog.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Send this text as it is.
    Whole(String),
    /// Send it as a long message.
    Long(String, LongSend),
    /// Not sent.
    Cancel,
    /// Still deciding.
    Open(Box<Check>),
}

/// A key in the before-sending dialog.
pub fn before_send_key(mut check: Check, key: KeyEvent) -> Decision {
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    if key.code == KeyCode::Esc || ctrl_c {
        return Decision::Cancel;
    }
    let KeyCode::Char(c) = key.code else {
        return Decision::Open(Box::new(check));
    };
    let secrets_open = !check.found.is_empty() && check.redact.is_none();
    match c.to_ascii_lowercase() {
        'c' => return Decision::Cancel,
        'r' if secrets_open => check.redact = Some(true),
        's' if secrets_open => check.redact = Some(false),
        'p' if !secrets_open && check.parts.is_some() => return long(check, None),
        'f' if !secrets_open && check.parts.is_some() => {
            let n = check.first_tokens();
            return long(check, Some(n));
        }
        'y' if !secrets_open && check.parts.is_none() && check.over_limit => {
            return whole(check);
        }
        _ => {}
    }
    if check.redact.is_some() && check.parts.is_none() && !check.over_limit {
        return whole(check);
    }
    Decision::Open(Box::new(check))
}

fn whole(check: Check) -> Decision {
    let text = match (check.redact, &check.redacted) {
        (Some(true), Some(r)) => r.to_string(),
        _ => check.outgoing.text.to_string(),
    };
    Decision::Whole(text)
}

fn long(check: Check, first: Option<u64>) -> Decision {
    let redact = check.redact == Some(true);
    let text = match (redact, &check.redacted) {
        (true, Some(r)) => r.to_string(),
        _ => check.outgoing.text.to_string(),
    };
    let o = check.outgoing;
    let (question, docs) = if o.docs.is_empty() {
        // One long typed message: it is the document.
        (
            String::new(),
            vec![("your message".to_string(), o.text.clone())],
        )
    } else {
        (o.question, o.docs)
    };
    Decision::Long(
        text,
        LongSend {
            question,
            docs,
            first,
            redact,
        },
    )
}

/// Open the dialog for a check that needs a decision.
pub fn ask(app: &mut App, check: Check) {
    app.dialog = Some(Dialog::BeforeSend(Box::new(check)));
}

/// A template about to run whose values hold likely secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateCheck {
    /// Template id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The values as filled in.
    pub values: std::collections::BTreeMap<String, String>,
    /// The values with the secrets replaced.
    pub redacted: std::collections::BTreeMap<String, String>,
    /// What was found, with the variable's name.
    pub found: Vec<(String, Found)>,
}

/// Scan a template's values before it runs; `None`: nothing found (or the scan is off).
pub fn check_template(
    app: &App,
    id: &str,
    title: &str,
    values: &std::collections::BTreeMap<String, String>,
) -> Option<TemplateCheck> {
    if !app.setup.scan_secrets {
        return None;
    }
    let mut found = Vec::new();
    let mut redacted = values.clone();
    for (name, value) in values {
        let f = secrets::scan(value);
        if f.is_empty() {
            continue;
        }
        redacted.insert(name.clone(), secrets::redact(value, &f));
        found.extend(found_of(&f).into_iter().map(|x| (name.clone(), x)));
    }
    (!found.is_empty()).then(|| TemplateCheck {
        id: id.to_string(),
        title: title.to_string(),
        values: values.clone(),
        redacted,
        found,
    })
}

/// The attach dialog: the path as typed and the entries of its folder that match.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Picker {
    /// The path as typed.
    pub path: TextField,
    /// Entries of the path's folder that start with its last part (folders end in `/`).
    pub candidates: Vec<String>,
    /// The highlighted entry: while entries match, always one (the first, or the one named
    /// exactly as typed); `None` only when nothing matches.
    pub selected: Option<usize>,
    /// Tab was pressed: the next completion replaces the path with the common part.
    pub tabbed: bool,
    /// The entries for the path as typed now have been asked for and not come back yet.
    pub listing: bool,
    /// Enter was pressed while listing: it chooses once the entries are there.
    pub enter_pending: bool,
}

impl Picker {
    /// The folder part of the path (up to its last `/`).
    pub fn folder(&self) -> &str {
        let path = self.path.as_str();
        path.rfind('/').map_or("", |i| &path[..=i])
    }

    /// Ask for the entries that match the path as typed now.
    pub fn refresh(&mut self, fx: &mut Vec<Effect>) {
        self.listing = true;
        fx.push(Effect::CompletePath(self.path.to_string()));
    }

    /// The entry to highlight among the candidates: the one named exactly as typed, else
    /// the first; none when nothing matches.
    fn first_match(&self) -> Option<usize> {
        let typed = &self.path.as_str()[self.folder().len()..];
        let exact = self
            .candidates
            .iter()
            .position(|c| c.strip_suffix('/').unwrap_or(c) == typed);
        exact.or((!self.candidates.is_empty()).then_some(0))
    }

    /// Entries for `typed` arrived (stale ones, for what was typed before, are dropped).
    /// An Enter pressed while they were on their way chooses now.
    pub fn completed(
        &mut self,
        typed: &str,
        common: String,
        candidates: Vec<String>,
        fx: &mut Vec<Effect>,
    ) -> PickerKey {
        if typed != self.path.as_str() {
            return PickerKey::Open;
        }
        self.candidates = candidates;
        self.listing = false;
        if std::mem::take(&mut self.tabbed) && common != typed {
            // The path grew (maybe into a folder): list what matches it now.
            self.path.set(common);
            self.refresh(fx);
        }
        self.selected = self.first_match();
        if !self.listing && std::mem::take(&mut self.enter_pending) {
            return self.choose(fx);
        }
        PickerKey::Open
    }

    /// Enter: the highlighted entry (a folder opens, a file is attached); only when nothing
    /// matches, the path as typed.
    fn choose(&mut self, fx: &mut Vec<Effect>) -> PickerKey {
        let chosen = match self.selected.and_then(|i| self.candidates.get(i)) {
            Some(c) => format!("{}{c}", self.folder()),
            None => self.path.as_str().trim().to_string(),
        };
        if chosen.ends_with('/') {
            self.path.set(chosen);
            self.refresh(fx);
        } else if !chosen.is_empty() {
            return PickerKey::Attach(chosen);
        }
        PickerKey::Open
    }
}

/// What a key in the attach dialog leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum PickerKey {
    /// Keep the dialog open.
    Open,
    /// Attach this path.
    Attach(String),
    /// Close.
    Close,
}

/// A key in the attach dialog: typing (with the editing keys of every field) filters the
/// list, ↑↓ pick, Enter opens a folder or attaches a file, Tab completes, Esc closes.
pub fn picker_key(p: &mut Picker, key: &KeyEvent, fx: &mut Vec<Effect>) -> PickerKey {
    match key.code {
        KeyCode::Esc => return PickerKey::Close,
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            return PickerKey::Close;
        }
        KeyCode::Up => p.selected = p.selected.map(|i| i.saturating_sub(1)),
        KeyCode::Down if !p.candidates.is_empty() => {
            p.selected = Some(
                p.selected
                    .map_or(0, |i| (i + 1).min(p.candidates.len() - 1)),
            );
        }
        // The entries shown are for an older path: choose when those for this one arrive.
        KeyCode::Enter if p.listing => p.enter_pending = true,
        KeyCode::Enter => return p.choose(fx),
        KeyCode::Tab => {
            p.tabbed = true;
            p.refresh(fx);
        }
        _ => {
            if p.path.edit(key) == Edited::Changed {
                p.enter_pending = false;
                p.refresh(fx);
            }
        }
    }
    PickerKey::Open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_words_that_look_like_paths() {
        assert_eq!(
            at_paths("summarise @report.pdf and @~/notes/a.md for @alice please"),
            vec!["report.pdf", "~/notes/a.md"]
        );
        assert!(at_paths("mail me @ noon, cc @team").is_empty());
        assert_eq!(
            without_at_paths("summarise @report.pdf\nplease", &["report.pdf".into()]),
            "summarise\nplease"
        );
    }

    #[test]
    fn document_blocks_are_found_at_the_start() {
        let text = "<document name=\"a &quot;x&quot;.pdf\">\n--- page 1 ---\nA\n--- page 2 ---\nB\n</document>\n\nquestion";
        let (name, body, rest) = leading_document(text).unwrap();
        assert_eq!(name, "a \"x\".pdf");
        assert_eq!(body, "--- page 1 ---\nA\n--- page 2 ---\nB");
        assert_eq!(rest, "question");
        assert_eq!(pages_in(body), Some(2));
        assert_eq!(
            leading_document("question <document name=\"a\">\nb\n</document>"),
            None
        );
        assert_eq!(leading_document("<document name=\"a\">\nunclosed"), None);
        let long = long_from_message(text);
        assert_eq!(long.question, "question");
        assert_eq!(long.docs.len(), 1);
        assert_eq!(long.docs[0].0, "a \"x\".pdf");
        let long = long_from_message("just a very long typed text");
        assert_eq!(long.docs[0].0, "your message");
        assert_eq!(long.question, "");
    }

    #[test]
    fn pasted_paths_are_recognised() {
        assert_eq!(
            pasted_path("/home/a/report.pdf\n"),
            Some("/home/a/report.pdf".into())
        );
        assert_eq!(
            pasted_path("'/tmp/my file.txt'"),
            Some("/tmp/my file.txt".into())
        );
        assert_eq!(
            pasted_path("file:///tmp/my%20file.txt"),
            Some("/tmp/my file.txt".into())
        );
        assert_eq!(
            pasted_path("C:\\Users\\a\\doc.docx"),
            Some("C:\\Users\\a\\doc.docx".into())
        );
        assert_eq!(pasted_path("just some words"), None);
        assert_eq!(pasted_path("/a\n/b"), None);
        assert_eq!(pasted_path("/tmp/"), None);
    }
}
