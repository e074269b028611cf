//! The one message type (everything that happens) and the one effect type (everything the
//! app wants done). Plain data: no channels, no handles.

use ratatui::crossterm::event::{KeyEvent, MouseEvent};

use crate::llm::{Answer, RetryNotice};
use crate::store::{Message, MessageId, SearchHit, SessionId, SessionSummary};

/// Something that happened.
#[derive(Debug)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// Text was pasted (bracketed paste): inserted, never sent.
    Paste(String),
    /// The terminal changed size.
    Resize(u16, u16),
    /// The mouse did something.
    Mouse(MouseEvent),
    /// Time passed (only sent while something animates or waits).
    Tick(i64),
    /// The session list (re)loaded.
    SessionsLoaded(Vec<SessionSummary>),
    /// Another program (`clerk ask` in a shell) committed to the history: the session list
    /// as it is now. Sent only when something changed.
    StoreChanged(Vec<SessionSummary>),
    /// The open session's messages, read again after another program changed them.
    TranscriptRefreshed {
        /// Which session.
        session_id: SessionId,
        /// Its messages, oldest first.
        messages: Vec<Message>,
    },
    /// A session's messages and its saved draft loaded.
    TranscriptLoaded {
        /// Which session.
        session_id: SessionId,
        /// Its messages, oldest first.
        messages: Vec<Message>,
        /// The unsent draft kept for it.
        draft: Option<String>,
    },
    /// The store accepted a question: the session (maybe new) and the two rows exist.
    /// The question could not be stored (a full disk, a read-only file): nothing was sent.
    SendRefused {
        /// The session it was for (`None`: a new one).
        session_id: Option<SessionId>,
        /// The question, to put back in the box (`None` for a regenerate).
        text: Option<String>,
        /// Why.
        error: String,
    },
    SendAccepted {
        /// The session (new or existing).
        session_id: SessionId,
        /// Whether the session was created for this message.
        created: bool,
        /// The user's message row.
        user_id: MessageId,
        /// The streaming answer's row.
        answer_id: MessageId,
    },
    /// Progress of an answer.
    Stream {
        /// Whose answer.
        session_id: SessionId,
        /// What happened.
        event: StreamEvent,
    },
    /// Search results for the search dialog.
    SearchResults {
        /// The query they answer.
        query: String,
        /// The hits.
        hits: Vec<SearchHit>,
    },
    /// A key is in use (what to tell: stored, or this run only), or it was refused.
    KeyStored(Result<String, String>),
    /// A clipboard copy finished: how, or why not.
    Copied(Result<&'static str, String>),
    /// Something failed in the background; shown as a notice.
    Failed(String),
    /// Problems found while starting (broken theme files, a bad key binding, a read-only
    /// history…): every one is shown, one after another, numbered.
    StartNotes(Vec<String>),
    /// Something worth saying (e.g. earlier messages left out to fit the context window).
    Info(String),
    /// The transcript as last drawn.
    Layout(super::View),
    /// The editor closed: the message as saved, or why it could not be used.
    Composed(Result<String, String>),
    /// The template library (re)loaded.
    TemplatesLoaded(Vec<super::TemplateItem>),
    /// The usage screen's figures, or why the ledger could not be read.
    UsageLoaded(Result<Box<super::UsageView>, String>),
    /// The endpoint's models (`Ok((names, fetched at ms))`), or why they could not be had.
    ModelsLoaded(Result<(Vec<String>, i64), String>),
    /// The values a template's form had last time.
    TemplateValues {
        /// Template id.
        id: String,
        /// Its values.
        values: std::collections::BTreeMap<String, String>,
    },
    /// Completions of a path typed in a file field.
    PathCompleted {
        /// What was typed.
        typed: String,
        /// The longest common completion.
        common: String,
        /// Every match (when several).
        candidates: Vec<String>,
    },
    /// A template step starts: its question and streaming answer rows exist.
    StepStarted {
        /// The session (new for the first step).
        session_id: SessionId,
        /// Whether the session was created for this run.
        created: bool,
        /// "step 2/3 · actions" (None for a single prompt).
        label: Option<String>,
        /// The rendered prompt (the user's message).
        prompt: String,
        /// Its row.
        user_id: MessageId,
        /// The streaming answer's row.
        answer_id: MessageId,
    },
    /// A template could not start (the message says why).
    RunFailed(String),
    /// Files were read for attaching (or why not).
    Attached {
        /// Each file, in order.
        results: Vec<Result<super::attach::Attached, String>>,
        /// The `@path` words they came from (taken out of the message once attached).
        from_text: Vec<String>,
        /// A pasted text to insert as typed if it was not a file after all.
        fallback: Option<String>,
    },
    /// A message was checked before sending.
    Checked(Box<super::attach::Check>),
    /// A pane of the compare view progressed (`run`: which comparison).
    Compared {
        /// Which comparison.
        run: u64,
        /// Which pane.
        pane: usize,
        /// What happened.
        event: super::compare::PaneEvent,
    },
    /// The answer kept from the compare view was stored, or why not.
    Kept(Result<super::compare::Kept, String>),
    /// The runtime's store was switched (into an incognito session's store in memory, or
    /// back to the history on disk): what arrives from now on is the new store's.
    StoreSwitched,
    /// A chip's tokens were counted.
    Counted {
        /// Which paste.
        paste: u64,
        /// Its tokens (o200k).
        tokens: u64,
    },
}

/// Progress of one answer.
#[derive(Debug)]
pub enum StreamEvent {
    /// Waiting before a retry.
    Retrying(RetryNotice),
    /// The answer's text, before any of it arrives: one string the answer's driver writes
    /// and the app draws from (kept with the live answer; the transcript keeps no copy).
    Text(crate::chat::LiveText),
    /// More text arrived in it.
    Grew,
    /// How a long document's reading is going ("reading part 3/12 · …"), or what a
    /// grounded question waits for ("searching handbook…").
    Progress(String),
    /// A grounded answer's passages: once found (none cited), then as the answer cites
    /// them, just before it ends. Kept with the answer in the store too.
    Sources(crate::store::Grounding),
    /// Finished (possibly partial); the store already holds the final state. With its cost
    /// and the usage saved with it (`None`: the answer's own usage; a stopped answer's is
    /// the estimate that was saved).
    Done(Answer, Option<f64>, Option<crate::store::Usage>),
    /// Could not start (the message says why); the store marked the answer failed.
    Failed(String),
    /// A budget refused the request before it was sent (the text says which, the spend
    /// and when it starts again); the store marked the answer failed.
    Refused(String),
}

/// Something the app wants done by the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Reload the session list.
    LoadSessions,
    /// Load a session's messages and draft.
    LoadTranscript(SessionId),
    /// Read the open session's messages again (another program changed them); its draft is
    /// left alone.
    RefreshTranscript(SessionId),
    /// Save the question and start an answer. `session_id: None` creates a session.
    Send {
        /// Existing session, or none for a new one.
        session_id: Option<SessionId>,
        /// The user's message.
        text: String,
        /// Model to ask.
        model: String,
        /// System prompt for a new session.
        system: Option<String>,
        /// Edit and resend: this message and every later one are replaced.
        replace_from: Option<MessageId>,
        /// Longer than the window: read in parts, or only its start.
        long: Option<super::attach::LongSend>,
        /// The knowledge base this question is answered from (the session's, or one named
        /// with `@kb:NAME`): passages are found first, and only they are sent.
        ground: Option<String>,
        /// The knowledge base a new session is grounded on.
        session_kb: Option<String>,
        /// A new session's title when pasted text came with typed words: from the words
        /// (`None`: the history names it from the message).
        title: Option<String>,
    },
    /// Read files to attach (off the UI's path).
    Attach {
        /// Paths as typed (`~` allowed).
        paths: Vec<String>,
        /// Whether they are `@path` words of the message.
        from_text: bool,
        /// A pasted text to insert if the one path is not a file.
        fallback: Option<String>,
        /// The model the session uses now (its price goes on the chips).
        model: String,
    },
    /// Check a message before sending (secrets, size, cost) off the UI's path.
    Check(super::attach::Outgoing),
    /// Answer the last question of a session again (its last answer is replaced).
    Regenerate {
        /// The session.
        session_id: SessionId,
        /// The answer being replaced (deleted first).
        replace: Option<MessageId>,
        /// Model to ask.
        model: String,
        /// The knowledge base the question is answered from, as it was the first time.
        ground: Option<String>,
    },
    /// Stop an answer.
    Stop(SessionId),
    /// Rename a session.
    Rename(SessionId, String),
    /// Write a session to a new file: JSON when its name ends in `.json`, else Markdown.
    Export(SessionId, String),
    /// Delete a session for good (after the undo window).
    Delete(SessionId),
    /// Delete one message.
    DeleteMessage(MessageId),
    /// Pin or unpin.
    SetPinned(SessionId, bool),
    /// Change a session's model.
    SetModel(SessionId, String),
    /// Ground a session on a knowledge base, or stop grounding it.
    SetKnowledge(SessionId, Option<String>),
    /// Open a file with the system's program for it (`xdg-open`, `open`), never waiting
    /// on it; a failure comes back as a notice.
    OpenFile(std::path::PathBuf),
    /// Set (or clear) a session's system prompt.
    SetSystemPrompt(SessionId, Option<String>),
    /// Archive or unarchive.
    SetArchived(SessionId, bool),
    /// Full-text search.
    Search(String),
    /// Keep a draft (`0` = the new, unsaved session).
    SaveDraft(SessionId, String),
    /// Remember a setting.
    SaveSetting(String, String),
    /// Copy text to the clipboard.
    Copy(String),
    /// Store an API key in the keyring and start using it.
    StoreKey(String),
    /// Reload the template library if its files changed.
    LoadTemplates,
    /// Read the usage ledger for the usage screen.
    LoadUsage,
    /// Load the endpoint's list of models (`refresh`: ask the endpoint even when a recent
    /// list is kept).
    LoadModels {
        /// Ask the endpoint even when a recent list is kept.
        refresh: bool,
    },
    /// Read the values a template's form had last time.
    LoadTemplateValues(String),
    /// Complete a file path.
    CompletePath(String),
    /// Run a template in a new session.
    RunTemplate {
        /// Template id.
        id: String,
        /// Its variables' values (file kinds: the path).
        values: std::collections::BTreeMap<String, String>,
        /// Model when the template names none.
        model: String,
    },
    /// Save this prompt as a new template in the user's folder and open it in `$EDITOR`.
    SaveAsTemplate(String),
    /// Hand the terminal to `$EDITOR` to write this message.
    Compose(String),
    /// Count a chip's tokens (off the UI's path).
    CountTokens {
        /// Which paste.
        paste: u64,
        /// Its text.
        text: std::sync::Arc<str>,
    },
    /// Stream the compare view's answers: `messages` sent to each model, metered with the
    /// tag `compare` (budgets checked before each request).
    Compare {
        /// Which comparison.
        run: u64,
        /// The session it is for (the meter's tag).
        session_id: Option<SessionId>,
        /// The models, one pane each.
        models: Vec<String>,
        /// What each is sent.
        messages: Vec<crate::llm::ChatMessage>,
    },
    /// Stop the compare view's answers that still stream.
    StopCompare(u64),
    /// Store the answer kept from the compare view as an exchange of the session.
    KeepAnswer(Box<super::compare::Keep>),
    /// `true`: keep everything in a new store in memory from now on (an incognito
    /// session: nothing reaches the disk); `false`: drop it and go back to the history.
    /// Answered by [`Msg::StoreSwitched`].
    Incognito(bool),
    /// Leave.
    Quit,
}
