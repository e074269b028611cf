//! The full-screen app's state and behaviour, with no IO.
//!
//! [`App`] is plain data (sessions, the open transcript, the input box, an optional
//! dialog, live answers, notices). [`update::update`] turns a [`Msg`] into state changes
//! and a list of [`Effect`]s for the runtime (`crate::tui`) to carry out, in one reducer per
//! area (`update/`); what several parts do to the state (a notice, a new session, the key
//! dialog, running a template) is a method of [`App`] in `actions.rs`. Nothing here
//! reads the clock (time arrives in messages), touches the terminal, the network or the
//! store.

mod actions;
pub mod attach;
pub mod compare;
pub mod edit;
pub mod forms;
pub mod keymap;
pub mod msg;
pub mod update;
pub mod words;

#[cfg(test)]
mod tests;

use ratatui::layout::Rect;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use ratatui_textarea::TextArea;

pub use edit::TextField;
pub use forms::{Field, FieldSpec, Form, TemplateItem};
pub use keymap::{Command, Keymap, Mode};
pub use msg::{Effect, Msg, StreamEvent};

use crate::store::{
    Grounding, Message, MessageId, MessageStatus, Role, SearchHit, SessionId, SessionSummary, Usage,
};

/// The draft key of a session not saved yet.
pub const NEW_SESSION: SessionId = 0;
/// How long a deleted session can be brought back.
pub const UNDO_MS: i64 = 5_000;
/// How long a notice stays.
pub const NOTICE_MS: i64 = 4_000;

/// A paste of at least this many lines becomes a chip.
pub const CHIP_LINES: usize = 8;
/// A paste of at least this many characters becomes a chip.
pub const CHIP_CHARS: usize = 2_000;
/// A saved draft this long comes back as a chip rather than in the box.
pub const DRAFT_CHIP_LINES: usize = 200;
/// A saved draft this long (in characters) comes back as a chip.
pub const DRAFT_CHIP_CHARS: usize = 20_000;
/// A chip longer than this is not expanded into the box (the editor takes it).
pub const EXPAND_MAX_LINES: usize = 5_000;

/// Whether text is long enough (in lines or characters) to be shown as a chip.
pub fn is_long(text: &str, lines: usize, chars: usize) -> bool {
    text.bytes().filter(|&b| b == b'\n').count() + 1 >= lines
        || (text.len() >= chars && text.chars().count() >= chars)
}

/// Text pasted in one go that is too long for the box: kept whole, shown as a chip
/// ("pasted 312 lines · 4,120 tokens") that can be expanded or removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Paste {
    /// Its number in this run (its token count comes back by it).
    pub id: u64,
    /// The text exactly as pasted (line ends normalised to `\n`).
    pub text: Arc<str>,
    /// Lines in it.
    pub lines: usize,
    /// Tokens, once counted off the UI's path.
    pub tokens: Option<u64>,
    /// Whether counting was asked for.
    pub counting: bool,
    /// It goes after the typed text (the box had text when it was pasted).
    pub after: bool,
    /// An attached file (sent in a `<document name="…">` block).
    pub file: Option<attach::FileMeta>,
}

impl Paste {
    /// A chip for `text`.
    pub fn new(id: u64, text: Arc<str>, after: bool) -> Paste {
        Paste {
            id,
            lines: text.lines().count().max(1),
            text,
            tokens: None,
            counting: false,
            after,
            file: None,
        }
    }

    /// The text as sent: a file in its named block, a paste as it is.
    pub fn sent_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.file {
            Some(f) => std::borrow::Cow::Owned(crate::documents::summarize::document_block(
                &f.name, &self.text,
            )),
            None => std::borrow::Cow::Borrowed(self.text.trim_end_matches('\n')),
        }
    }

    /// Its name in a long message ("report.pdf", "pasted text 2").
    pub fn doc_name(&self, n: usize) -> String {
        match &self.file {
            Some(f) => f.name.clone(),
            None => format!("pasted text {n}"),
        }
    }
}

/// What the message box holds: the typed text and the chips of long pastes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    /// The typed text.
    pub text: String,
    /// Long pastes.
    pub pastes: Vec<Paste>,
}

impl Draft {
    /// The message as it will be sent: pastes made into an empty box come before the typed
    /// text, later ones after it, separated by one blank line (a paste's final line ends
    /// are dropped).
    pub fn compose(&self) -> String {
        let before = self
            .pastes
            .iter()
            .filter(|p| !p.after)
            .map(Paste::sent_text);
        let after = self.pastes.iter().filter(|p| p.after).map(Paste::sent_text);
        let typed = std::borrow::Cow::Borrowed(self.text.trim_end_matches('\n'));
        let parts: Vec<std::borrow::Cow<'_, str>> = before
            .chain(std::iter::once(typed))
            .chain(after)
            .filter(|t| !t.is_empty())
            .collect();
        parts.join("\n\n")
    }

    /// Nothing typed and nothing pasted.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.pastes.is_empty()
    }
}

/// A row of the session list as drawn: a group heading or a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListRow {
    /// "Pinned", "Today", "Yesterday", "Previous 7 days", "Older": the group's name in
    /// English, which the list shows in the interface's language (`words::group_name`).
    Heading(&'static str),
    /// Index into [`App::visible_sessions`].
    Session(usize),
}

/// Where the transcript view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    /// Following the end as text arrives.
    Follow,
    /// Fixed with this line at the top (the user scrolled up).
    Top(usize),
}

/// The screen as last drawn, reported by the renderer (`Msg::Layout`): the state learns
/// the layout from what was drawn, never by calling the renderer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Total wrapped lines of the transcript.
    pub lines: usize,
    /// Rows of the transcript view.
    pub height: usize,
    /// The transcript line at the top of the view.
    pub top: usize,
    /// The first line of each message.
    pub starts: Vec<usize>,
    /// Where each pane was drawn.
    pub panes: Panes,
    /// The session list's rows as drawn: their area and the first [`App::list_rows`] index
    /// shown.
    pub list: Option<(Rect, usize)>,
    /// How far the open dialog (the help, a passage) can scroll.
    pub dialog_max: u16,
    /// The compare view's panes as drawn: lines and rows shown, per pane.
    pub compare: Vec<(usize, usize)>,
}

/// Where the panes are on the screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Panes {
    /// The session list, when shown.
    pub sidebar: Option<Rect>,
    /// The transcript.
    pub transcript: Rect,
    /// The input box.
    pub input: Rect,
}

impl View {
    /// The session (index into [`App::visible_sessions`]) on a screen row of the list.
    pub fn session_at(&self, rows: &[ListRow], col: u16, row: u16) -> Option<usize> {
        let (inner, top) = self.list?;
        if !inner.contains(ratatui::layout::Position { x: col, y: row }) {
            return None;
        }
        match rows.get(top + (row - inner.y) as usize) {
            Some(ListRow::Session(i)) => Some(*i),
            _ => None,
        }
    }

    /// The message drawn on a row of the view (0 = its first row).
    pub fn turn_at(&self, row: usize) -> Option<usize> {
        let line = self.top + row;
        if row >= self.height || line >= self.lines {
            return None;
        }
        self.starts.partition_point(|&s| s <= line).checked_sub(1)
    }
}

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The input box.
    Input,
    /// The session list.
    Sessions,
    /// The transcript.
    Transcript,
}

/// A row of the session list.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEntry {
    /// Id.
    pub id: SessionId,
    /// Title.
    pub title: String,
    /// Model.
    pub model: String,
    /// Last activity.
    pub updated_ms: i64,
    /// Pinned to the top.
    pub pinned: bool,
    /// Messages in it.
    pub message_count: u64,
    /// Its system prompt.
    pub system_prompt: Option<String>,
    /// Archived: listed only in the archived view.
    pub archived: bool,
    /// The knowledge base its questions are answered from.
    pub knowledge: Option<String>,
}

impl From<&SessionSummary> for SessionEntry {
    fn from(s: &SessionSummary) -> Self {
        SessionEntry {
            id: s.session.id,
            title: s.session.title.clone(),
            model: s.session.model.clone(),
            updated_ms: s.session.updated_ms,
            pinned: s.session.pinned,
            message_count: s.message_count,
            system_prompt: s.session.system_prompt.clone(),
            archived: s.session.archived,
            knowledge: s.session.knowledge.clone(),
        }
    }
}

/// A message taken out of the transcript and not yet deleted from the history.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingMessage {
    /// The session it was in.
    pub session: Option<SessionId>,
    /// Where it was in the transcript.
    pub index: usize,
    /// The message.
    pub turn: Turn,
    /// When it is deleted for good (ms).
    pub until_ms: i64,
}

/// One message of the open transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Its row, once saved.
    pub id: Option<MessageId>,
    /// Who.
    pub role: Role,
    /// The text exactly as received (sanitized only when drawn).
    pub content: String,
    /// Complete, streaming, interrupted, truncated, error.
    pub status: MessageStatus,
    /// Why it is not complete.
    pub error: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// Tokens.
    pub usage: Usage,
    /// Cost in USD.
    pub cost_usd: Option<f64>,
    /// Time to first token.
    pub ttft_ms: Option<u64>,
    /// Duration.
    pub duration_ms: Option<u64>,
    /// An answer grounded on a knowledge base: the passages it was given, which it cites.
    pub grounding: Option<Grounding>,
}

impl From<Message> for Turn {
    fn from(m: Message) -> Self {
        Turn {
            id: Some(m.id),
            role: m.role,
            content: m.content,
            status: m.status,
            error: m.error,
            model: m.model,
            usage: m.usage,
            cost_usd: m.cost_usd,
            ttft_ms: m.ttft_ms,
            duration_ms: m.duration_ms,
            grounding: m.grounding,
        }
    }
}

impl Turn {
    /// A new turn with default metadata.
    pub fn new(role: Role, content: String, status: MessageStatus) -> Turn {
        Turn {
            id: None,
            role,
            content,
            status,
            error: None,
            model: None,
            usage: Usage::default(),
            cost_usd: None,
            ttft_ms: None,
            duration_ms: None,
            grounding: None,
        }
    }
}

/// An answer being written, per session (several can run at once).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Live {
    /// The answer's row, once the store accepted the question.
    pub answer_id: Option<MessageId>,
    /// Text so far: the driver's one string, which the streaming turn is drawn from.
    pub text: crate::chat::LiveText,
    /// "rate limited, retrying in 3 s" while waiting.
    pub waiting: Option<String>,
    /// "step 2/3 · actions" while a workflow runs.
    pub step: Option<String>,
    /// A grounded answer's passages, while its session is not shown.
    pub grounding: Option<Grounding>,
}

/// Open dialogs, one at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    /// The keys, scrolled down this many rows.
    Help {
        /// Rows scrolled.
        scroll: u16,
    },
    /// Full-text search.
    Search {
        /// What is typed.
        query: TextField,
        /// Results.
        hits: Vec<SearchHit>,
        /// Selected result.
        selected: usize,
    },
    /// Rename the session.
    Rename {
        /// Which.
        id: SessionId,
        /// The new title as typed.
        title: TextField,
    },
    /// Export the session to a file.
    Export {
        /// Which.
        id: SessionId,
        /// Its title (shown).
        title: String,
        /// The file to write, as typed (`~` allowed; relative to where clerk started).
        path: TextField,
    },
    /// Confirm deleting a session.
    ConfirmDelete {
        /// Which.
        id: SessionId,
        /// Its title.
        title: String,
    },
    /// Confirm quitting while answers stream.
    ConfirmQuit,
    /// Confirm leaving the incognito session (or quitting from it): its messages will be
    /// gone.
    LeaveIncognito {
        /// Quit clerk rather than go back to the saved sessions.
        quit: bool,
    },
    /// What the answers cost (`None`: still being read from the ledger).
    Usage {
        /// The figures, once read.
        view: Option<Result<Box<UsageView>, String>>,
    },
    /// A budget refused a request before it was sent: which, the spend, when it resets.
    Refused {
        /// What the budget said.
        text: String,
    },
    /// Choose a theme.
    Themes {
        /// Selected row.
        selected: usize,
        /// The theme before the dialog opened (Esc goes back to it).
        original: String,
    },
    /// Choose the model.
    Models {
        /// Selected row of the models that match the filter.
        selected: usize,
        /// What is typed: models whose name holds it.
        filter: TextField,
    },
    /// Edit the session's system prompt.
    SystemPrompt {
        /// The text as typed.
        text: TextField,
    },
    /// Choose a template.
    Templates {
        /// What is typed (fuzzy).
        query: TextField,
        /// Selected row of the matches.
        selected: usize,
    },
    /// Fill a template's variables.
    Form(Form),
    /// Attach a file: a path with completion and a list to pick from.
    Attach(attach::Picker),
    /// A decision before sending: secrets found, too long, or over the cost limit.
    BeforeSend(Box<attach::Check>),
    /// A decision before running a template whose values hold likely secrets.
    TemplateSecrets(Box<attach::TemplateCheck>),
    /// Choose the knowledge base the session's questions are answered from.
    Knowledge {
        /// Selected row: 0 is "none", then the configured bases in order.
        selected: usize,
    },
    /// The passages a grounded answer was given: cited ones marked, a number opens one.
    Sources {
        /// The answer's passages.
        grounding: Grounding,
        /// Selected row (a passage, from 0).
        selected: usize,
    },
    /// One passage: its text, file, heading path and page; the file can be opened.
    Passage {
        /// The answer's passages (Esc goes back to their list).
        grounding: Grounding,
        /// Which (from 1).
        n: usize,
        /// Rows scrolled.
        scroll: u16,
    },
    /// Paste an API key.
    ApiKey {
        /// The key as typed (shown masked).
        key: TextField,
        /// Why it could not be stored.
        error: Option<String>,
    },
}

/// A question being edited in the message box, to be resent.
#[derive(Debug, Clone, PartialEq)]
pub struct Editing {
    /// Its row: this message and every later one are replaced on send.
    pub id: MessageId,
    /// What the message box held before (put back after sending or on cancel).
    pub draft: Draft,
}

/// Kinds of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Neutral.
    Info,
    /// Something to watch.
    Warn,
    /// Something failed.
    Error,
}

/// A short message in the status bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Text.
    pub text: String,
    /// Kind.
    pub level: Level,
    /// When it goes away.
    pub until_ms: i64,
}

/// What the app is started with.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Profile name.
    pub profile: String,
    /// Model.
    pub model: String,
    /// Whether a key was found.
    pub has_key: bool,
    /// Why there is no key (shown in the key dialog).
    pub key_problem: Option<String>,
    /// Theme names available.
    pub themes: Vec<String>,
    /// The theme in use.
    pub theme: String,
    /// Keys.
    pub keymap: Keymap,
    /// The model's context window, for the status bar.
    pub context_window: Option<u64>,
    /// The price table (built-ins overlaid by the config): the models to choose from
    /// besides those the endpoint offers, with their windows and prices.
    pub models: crate::config::ModelTable,
    /// Whether history is saved.
    pub history: bool,
    /// The local time zone's offset from UTC, for grouping sessions by day.
    pub tz_offset_secs: i64,
    /// Look for secrets before sending.
    pub scan_secrets: bool,
    /// The knowledge bases of the config (`[[knowledge]]`), in its order.
    pub knowledge: Vec<KnowledgeBase>,
    /// The profile's own model (the admin's policy may allow no other).
    pub profile_model: String,
    /// The admin's policy in force (empty without one): the models allowed, what happens
    /// to secrets; the status bar says when there is one.
    pub policy: crate::config::Policy,
}

/// A configured knowledge base, as the app offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeBase {
    /// Its name (`[[knowledge]] name`).
    pub name: String,
    /// What it holds, for the picker: its folders and files.
    pub about: String,
}

/// The whole state of the full-screen app.
#[derive(Debug, Clone)]
pub struct App {
    /// Sessions, as loaded (pinned first, then newest first).
    pub sessions: Vec<SessionEntry>,
    /// Index into [`App::visible_sessions`].
    pub selected: usize,
    /// The session-list filter.
    pub filter: TextField,
    /// Typing goes to the filter.
    pub filtering: bool,
    /// The list shows the archived sessions (and only those).
    pub show_archived: bool,
    /// The session archived last, while it can be undone (until, ms).
    pub last_archived: Option<(SessionId, i64)>,
    /// The open session (`None`: a new one, not saved yet).
    pub current: Option<SessionId>,
    /// Its messages.
    pub transcript: Vec<Turn>,
    /// Where the transcript view is.
    pub scroll: Scroll,
    /// The transcript as last drawn.
    pub view: View,
    /// A message to select once its session has loaded (from search).
    pub jump_to: Option<MessageId>,
    /// Text arrived below while scrolled up.
    pub new_below: bool,
    /// The selected message in the transcript.
    pub selected_turn: Option<usize>,
    /// A question being edited for resending.
    pub editing: Option<Editing>,
    /// The input box.
    pub input: TextArea<'static>,
    /// Long pastes in the message box, shown as chips.
    pub pastes: Vec<Paste>,
    /// The last chip removed, until its undo time ends.
    pub removed_paste: Option<(Paste, i64)>,
    /// Numbers pastes.
    pub paste_seq: u64,
    /// The send being checked off the UI's path (its number).
    pub checking: Option<u64>,
    /// Drafts of sessions switched away from (`0`: the new session).
    pub drafts: HashMap<SessionId, Draft>,
    /// Answers being written.
    pub live: HashMap<SessionId, Live>,
    /// An answer sent from the new session, before the store gave it an id.
    pub pending_new: Option<Live>,
    /// Sessions whose answer finished while not open.
    pub unread: HashSet<SessionId>,
    /// Keyboard focus.
    pub focus: Focus,
    /// The open dialog.
    pub dialog: Option<Dialog>,
    /// The status-bar notice.
    pub notice: Option<Notice>,
    /// Notices waiting their turn: each is shown when the one before it expires (several
    /// problems found at start are all read, one after another).
    pub queued_notices: VecDeque<(String, Level)>,
    /// A deleted session waiting out its undo time.
    pub pending_delete: Option<(SessionEntry, i64)>,
    /// A deleted message waiting out its undo time (Ctrl+Z brings it back).
    pub pending_message: Option<PendingMessage>,
    /// Messages sent in this run, for recall.
    pub sent: Vec<String>,
    /// The system prompt for the new, unsaved session.
    pub pending_system: Option<String>,
    /// The knowledge base the new, unsaved session will be grounded on.
    pub pending_kb: Option<String>,
    /// The knowledge base of the session just made from the new one, until the session
    /// list (which reads it from the store) holds that session.
    pub created_kb: Option<(SessionId, String)>,
    /// The template library, as last loaded.
    pub templates: Vec<TemplateItem>,
    /// The endpoint's list of models, as last loaded.
    pub offered: Offered,
    /// Start-up facts.
    pub setup: Setup,
    /// Show the session list.
    pub sidebar: bool,
    /// Terminal size.
    pub size: (u16, u16),
    /// The last time seen (from ticks and events).
    pub now_ms: i64,
    /// Set when the app should end.
    pub quit: bool,
    /// The compare view, when open (over the transcript; a dialog such as the help can
    /// open over it).
    pub compare: Option<Box<compare::Compare>>,
    /// Comparisons started in this run (numbers them).
    pub compare_seq: u64,
    /// The sessions shown are incognito ones: kept in memory only (the runtime's store is
    /// in memory until the incognito session is left), never written to disk.
    pub incognito: bool,
    /// The runtime is switching stores (into or out of incognito): lists and transcripts
    /// read from the store left behind are ignored until [`Msg::StoreSwitched`].
    pub switching_store: bool,
}

impl App {
    /// A fresh app.
    pub fn new(setup: Setup, size: (u16, u16), now_ms: i64) -> App {
        let mut app = App {
            sessions: Vec::new(),
            selected: 0,
            filter: TextField::default(),
            show_archived: false,
            last_archived: None,
            filtering: false,
            current: None,
            transcript: Vec::new(),
            scroll: Scroll::Follow,
            view: View::default(),
            jump_to: None,
            new_below: false,
            selected_turn: None,
            editing: None,
            input: TextArea::default(),
            pastes: Vec::new(),
            removed_paste: None,
            paste_seq: 0,
            checking: None,
            drafts: HashMap::new(),
            live: HashMap::new(),
            pending_new: None,
            unread: HashSet::new(),
            focus: Focus::Input,
            dialog: None,
            notice: None,
            queued_notices: VecDeque::new(),
            pending_delete: None,
            pending_message: None,
            sent: Vec::new(),
            pending_system: None,
            pending_kb: None,
            created_kb: None,
            templates: Vec::new(),
            offered: Offered::default(),
            setup,
            sidebar: true,
            size,
            now_ms,
            quit: false,
            compare: None,
            compare_seq: 0,
            incognito: false,
            switching_store: false,
        };
        if !app.setup.has_key {
            app.ask_for_key();
        }
        app
    }

    /// Put back the unsent draft of the new session (kept from the last run).
    pub fn restore_draft(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.set_text(text);
        self.drafts.insert(NEW_SESSION, self.draft());
    }

    /// Fill the message box with a saved text (a very long one comes back as a chip).
    pub fn set_text(&mut self, text: &str) {
        self.pastes.clear();
        // Attached documents (in their named blocks at the start) come back as file chips.
        let mut text = text;
        while let Some((name, body, rest)) = attach::leading_document(text) {
            let id = self.next_paste_id();
            let mut chip = Paste::new(id, Arc::from(body), false);
            chip.file = Some(attach::FileMeta {
                name,
                bytes: body.len() as u64,
                pages: attach::pages_in(body),
                rows: None,
                sheets: None,
                slides: None,
                cost: None,
            });
            self.pastes.push(chip);
            text = rest;
        }
        if is_long(text, DRAFT_CHIP_LINES, DRAFT_CHIP_CHARS) {
            let id = self.next_paste_id();
            self.pastes.push(Paste::new(id, Arc::from(text), false));
            self.set_box("");
        } else {
            self.set_box(text);
        }
    }

    /// Replace only the text in the box (the chips stay), the cursor at the end.
    pub fn set_box(&mut self, text: &str) {
        let lines: Vec<String> = if text.is_empty() {
            vec![String::new()]
        } else {
            text.split('\n').map(str::to_string).collect()
        };
        self.input = TextArea::new(lines);
        self.input.move_cursor(ratatui_textarea::CursorMove::Bottom);
        self.input.move_cursor(ratatui_textarea::CursorMove::End);
    }

    /// Put a draft (typed text and chips) in the box.
    pub fn load_draft(&mut self, draft: Draft) {
        self.set_box(&draft.text);
        self.pastes = draft.pastes;
    }

    /// What the box holds now.
    pub fn draft(&self) -> Draft {
        Draft {
            text: self.input_text(),
            pastes: self.pastes.clone(),
        }
    }

    /// The open session's system prompt, or the one chosen for the next new session.
    pub fn system_prompt(&self) -> Option<String> {
        match self.current {
            Some(id) => self
                .sessions
                .iter()
                .find(|s| s.id == id)
                .and_then(|s| s.system_prompt.clone()),
            None => self.pending_system.clone(),
        }
    }

    /// The message the box would send (chips included).
    pub fn message_text(&self) -> String {
        if self.pastes.is_empty() {
            self.input_text()
        } else {
            self.draft().compose()
        }
    }

    /// A number for a new paste.
    pub fn next_paste_id(&mut self) -> u64 {
        self.paste_seq += 1;
        self.paste_seq
    }

    /// Sessions shown in the list: filtered, without one waiting to be deleted.
    pub fn visible_sessions(&self) -> Vec<&SessionEntry> {
        let f = self.filter.as_str().to_lowercase();
        self.sessions
            .iter()
            .filter(|s| {
                self.pending_delete
                    .as_ref()
                    .is_none_or(|(d, _)| d.id != s.id)
            })
            .filter(|s| s.archived == self.show_archived)
            .filter(|s| f.is_empty() || s.title.to_lowercase().contains(&f))
            .collect()
    }

    /// The session list's rows with group headings, newest first, pinned on top.
    pub fn list_rows(&self) -> Vec<ListRow> {
        let day = |ms: i64| (ms / 1000 + self.setup.tz_offset_secs).div_euclid(86_400);
        let today = day(self.now_ms);
        let mut rows = Vec::new();
        let mut last: Option<&'static str> = None;
        for (i, s) in self.visible_sessions().iter().enumerate() {
            let group = if s.pinned {
                "Pinned"
            } else {
                match today - day(s.updated_ms) {
                    i64::MIN..=0 => "Today",
                    1 => "Yesterday",
                    2..=7 => "Previous 7 days",
                    _ => "Older",
                }
            };
            if last != Some(group) {
                rows.push(ListRow::Heading(group));
                last = Some(group);
            }
            rows.push(ListRow::Session(i));
        }
        rows
    }

    /// The input box's text.
    pub fn input_text(&self) -> String {
        self.input.lines().join("\n")
    }

    /// Whether any answer is being written.
    pub fn streaming(&self) -> bool {
        !self.live.is_empty() || self.pending_new.is_some()
    }

    /// A turn's text: a streaming answer's is its live answer's (the one string the driver
    /// writes; the turn keeps none while it streams), any other's its own. `read` runs
    /// with the live text locked: keep it short (copy, then work on the copy).
    pub fn with_turn_text<R>(&self, turn: &Turn, read: impl FnOnce(&str) -> R) -> R {
        // Asked per message per frame: a settled one needs no lookup of the live answer.
        if turn.status != MessageStatus::Streaming || turn.role != Role::Assistant {
            return read(&turn.content);
        }
        match self.current_live() {
            Some(live) => live.text.with(read),
            None => read(&turn.content),
        }
    }

    /// The live answer of the open session, if any.
    pub fn current_live(&self) -> Option<&Live> {
        match self.current {
            Some(id) => self.live.get(&id),
            None => self.pending_new.as_ref(),
        }
    }

    /// While a question is edited: how many messages after it will be replaced.
    pub fn editing_replaces(&self) -> Option<usize> {
        let e = self.editing.as_ref()?;
        let i = self.transcript.iter().position(|t| t.id == Some(e.id))?;
        Some(self.transcript.len() - i - 1)
    }

    /// The knowledge base the open session's questions are answered from (the new
    /// session's: the one chosen for it).
    pub fn session_kb(&self) -> Option<&str> {
        match self.current {
            Some(id) => match self.sessions.iter().find(|s| s.id == id) {
                Some(s) => s.knowledge.as_deref(),
                None => self
                    .created_kb
                    .as_ref()
                    .filter(|(sid, _)| *sid == id)
                    .map(|(_, kb)| kb.as_str()),
            },
            None => self.pending_kb.as_deref(),
        }
    }

    /// Whether `name` is a configured knowledge base.
    pub fn is_base(&self, name: &str) -> bool {
        self.setup.knowledge.iter().any(|b| b.name == name)
    }

    /// Cost of the open session so far.
    pub fn session_cost(&self) -> Option<f64> {
        let costs: Vec<f64> = self.transcript.iter().filter_map(|t| t.cost_usd).collect();
        (!costs.is_empty()).then(|| costs.iter().sum())
    }

    /// Tokens of the last request of the open session (its prompt plus answer), for the
    /// context gauge.
    /// Tokens of what is in the message box: chips as counted, typed text estimated
    /// (a token is about 4 bytes).
    pub fn draft_tokens(&self) -> u64 {
        let lines = self.input.lines();
        let typed = if lines.iter().all(|l| l.is_empty()) {
            0
        } else {
            lines
                .iter()
                .map(|l| l.len() as u64 + 1)
                .sum::<u64>()
                .div_ceil(4)
        };
        let chips: u64 = self
            .pastes
            .iter()
            .map(|p| p.tokens.unwrap_or(p.text.len() as u64 / 4))
            .sum();
        typed + chips
    }

    /// Tokens of the conversation at its last answer (as the server counted them).
    pub fn context_used(&self) -> Option<u64> {
        // An answer built from parts counts every request of the run: not a context size.
        self.transcript.iter().rev().find_map(|t| {
            let used = t.usage.tokens_in? + t.usage.tokens_out.unwrap_or(0);
            (!crate::documents::summarize::is_built_from_parts(&t.content)).then_some(used)
        })
    }
}

/// The endpoint's own list of models (its `/models`), as last loaded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offered {
    /// The names (`None`: not loaded yet).
    pub names: Option<Vec<String>>,
    /// When they were fetched from the endpoint (ms since the epoch).
    pub at_ms: Option<i64>,
    /// A load is under way.
    pub loading: bool,
    /// Why the last load failed.
    pub error: Option<String>,
}

impl App {
    /// The models the picker shows for `filter` (names holding it, any case): the
    /// endpoint's and the price table's ([`crate::config::models::catalog`]), and the model
    /// in use even when neither knows it — only those the admin's policy allows.
    pub fn model_choices(&self, filter: &str) -> Vec<crate::config::models::CatalogEntry> {
        let names = self.offered.names.as_deref();
        let mut all = crate::config::models::catalog(&self.setup.models, names);
        if !all.iter().any(|e| e.name == self.setup.model) {
            all.insert(
                0,
                crate::config::models::CatalogEntry {
                    name: self.setup.model.clone(),
                    info: None,
                    offered: names.map(|n| n.contains(&self.setup.model)),
                },
            );
        }
        let needle = filter.to_lowercase();
        let policy = &self.setup.policy;
        all.retain(|e| {
            e.name.to_lowercase().contains(&needle)
                && policy
                    .check_request_model(&self.setup.profile_model, &e.name)
                    .is_ok()
        });
        all
    }

    /// Why the admin's policy refuses the model in use, if it does (a session kept with a
    /// model the policy no longer allows): said before anything is sent or saved.
    pub fn model_refused(&self) -> Option<String> {
        self.setup
            .policy
            .check_request_model(&self.setup.profile_model, &self.setup.model)
            .err()
            .map(|d| {
                let pick = self
                    .setup
                    .keymap
                    .key_for(Mode::Global, Command::ModelPicker)
                    .map(|k| tr!("app.notice.pick_model", key = k).into_owned())
                    .unwrap_or_default();
                tr!("app.notice.not_sent", error = format!("{d}{pick}")).into_owned()
            })
    }
}

/// What the usage screen shows, read from the usage ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageView {
    /// Today (local time).
    pub today: crate::store::ledger::Totals,
    /// This month (local time).
    pub month: crate::store::ledger::Totals,
    /// This month, by model (highest cost first).
    pub by_model: Vec<crate::store::ledger::Row>,
    /// The last 30 days, oldest first: the day (`MM-DD`) and what it cost (priced requests).
    pub days: Vec<(String, f64)>,
    /// The budgets in force.
    pub budget: crate::config::BudgetConfig,
}
