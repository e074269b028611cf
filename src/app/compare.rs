//! The compare view's state: the current question answered by 2–4 models side by side,
//! each pane streaming its answer, and the one the user keeps.
//!
//! Plain data, like the rest of `app`: the keys are handled in `update/compare.rs`, the
//! requests made by the runtime (`tui/compare.rs`, through the same chat core and meter as
//! `clerk compare`), the view drawn by `ui/compare.rs`. A pane's figures are computed by
//! `crate::compare::figures` from the pane's [`crate::compare::Sample`], as the CLI's are.

use crate::compare::{ModelRuns, Sample, figures::Figures};
use crate::llm::{ChatMessage, ChatRole};
use crate::store::{MessageFinish, MessageStatus, Role};

use super::{App, Scroll, TextField};

/// At most this many models side by side.
pub const MAX_MODELS: usize = 4;
/// At least this many.
pub const MIN_MODELS: usize = 2;

/// The keys of the compare view, for the help overlay and the view's own hint line
/// (fixed: the view is a mode of its own, opened by the `compare` command).
pub fn keys() -> [(&'static str, std::borrow::Cow<'static, str>); 6] {
    [
        ("Space", tr!("app.compare.key.space")),
        ("Enter", tr!("app.compare.key.enter")),
        ("Tab, ←→, 1–4", tr!("app.compare.key.pane")),
        ("↑↓, PgUp, PgDn", tr!("app.compare.key.scroll")),
        ("Home, End", tr!("app.compare.key.home")),
        ("Esc, Ctrl+C", tr!("app.compare.key.esc")),
    ]
}

/// A comparison: the question, what is sent, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    /// Its number in this run (messages of an earlier comparison are ignored).
    pub run: u64,
    /// The question, as the user wrote it.
    pub question: String,
    /// It came from the message box (kept: it becomes the session's user message and the
    /// box is emptied), not from the session's last question.
    pub from_box: bool,
    /// What each model is sent: the session's system prompt, the conversation before the
    /// question, and the question.
    pub messages: Vec<ChatMessage>,
    /// Choosing the models, or the answers.
    pub stage: Stage,
}

/// Where a comparison is.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// The small picker: the models to compare.
    Choosing {
        /// What is typed: models whose name holds it.
        filter: TextField,
        /// Selected row of the models that match.
        selected: usize,
        /// The models chosen, in the order chosen.
        chosen: Vec<String>,
        /// Why Enter did not start (fewer than 2 chosen).
        hint: Option<String>,
    },
    /// The panes, streaming or done.
    Running {
        /// One per model, in the order chosen.
        panes: Vec<Pane>,
        /// The chosen pane (Enter keeps its answer).
        focus: usize,
    },
}

/// How a pane's request ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    /// What the figures are computed from (its error, when it gave no complete answer).
    pub sample: Sample,
    /// The answer's record as a normal answer is saved (`None`: nothing to keep).
    pub record: Option<MessageFinish>,
}

/// One model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Pane {
    /// The model.
    pub model: String,
    /// Text so far.
    pub text: String,
    /// "rate limited, retrying in 3 s" while waiting.
    pub waiting: Option<String>,
    /// How it ended (`None`: still streaming).
    pub ended: Option<Ended>,
    /// Where the pane is scrolled.
    pub scroll: Scroll,
    /// Lines of the pane and rows shown, as last drawn (for scrolling).
    pub drawn: (usize, usize),
}

impl Pane {
    /// A pane waiting for its first text.
    pub fn new(model: &str) -> Pane {
        Pane {
            model: model.to_string(),
            text: String::new(),
            waiting: None,
            ended: None,
            scroll: Scroll::Follow,
            drawn: (0, 0),
        }
    }

    /// Still streaming.
    pub fn streaming(&self) -> bool {
        self.ended.is_none()
    }

    /// The figures under the pane once it ended (the CLI's, for one run).
    pub fn figures(&self) -> Option<Figures> {
        let e = self.ended.as_ref()?;
        Some(Figures::of(&ModelRuns {
            model: self.model.clone(),
            samples: vec![e.sample.clone()],
            gave_up: None,
        }))
    }

    /// Why it gave no complete answer.
    pub fn error(&self) -> Option<&str> {
        self.ended.as_ref()?.sample.error.as_deref()
    }
}

impl Compare {
    /// The panes, when running.
    pub fn panes(&self) -> &[Pane] {
        match &self.stage {
            Stage::Running { panes, .. } => panes,
            Stage::Choosing { .. } => &[],
        }
    }

    /// Whether any pane still streams.
    pub fn streaming(&self) -> bool {
        self.panes().iter().any(Pane::streaming)
    }
}

/// The question a comparison answers: the message box's text if any, else the session's
/// last question. With it, what the models are sent (the session's system prompt and the
/// conversation before the question) and whether it came from the box.
pub fn question(app: &App) -> Option<(String, Vec<ChatMessage>, bool)> {
    let system = app.system_prompt();
    let typed = app.message_text();
    let (question, before, from_box) = if typed.trim().is_empty() {
        let i = app.transcript.iter().rposition(|t| t.role == Role::User)?;
        (
            app.transcript[i].content.clone(),
            &app.transcript[..i],
            false,
        )
    } else {
        (typed, &app.transcript[..], true)
    };
    let mut messages: Vec<ChatMessage> = system
        .filter(|s| !s.trim().is_empty())
        .map(|s| ChatMessage {
            role: ChatRole::System,
            content: s,
        })
        .into_iter()
        .collect();
    // As a normal answer is sent: every message with text (a failed answer's empty row is
    // left out, as `Conversation::from_rows` does).
    for t in before.iter().filter(|t| {
        !t.content.is_empty() && t.role != Role::System && t.status != MessageStatus::Streaming
    }) {
        messages.push(ChatMessage {
            role: if t.role == Role::User {
                ChatRole::User
            } else {
                ChatRole::Assistant
            },
            content: t.content.clone(),
        });
    }
    messages.push(ChatMessage {
        role: ChatRole::User,
        content: question.clone(),
    });
    Some((question, messages, from_box))
}

/// Progress of one pane's answer, from the runtime.
#[derive(Debug)]
pub enum PaneEvent {
    /// More text.
    Delta(String),
    /// Waiting before a retry.
    Retrying(crate::llm::RetryNotice),
    /// It ended: answered, stopped, failed or refused by a budget.
    Ended(Box<Ended>),
}

/// The answer kept from a comparison, to store as an exchange of the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Keep {
    /// The session (`None`: a new one, created for it).
    pub session_id: Option<crate::store::SessionId>,
    /// The question: the user's message stored before the answer.
    pub question: String,
    /// The model that answered.
    pub model: String,
    /// The answer as a normal answer is saved: text, status, usage, cost and timings.
    pub record: MessageFinish,
    /// The system prompt for a new session.
    pub system: Option<String>,
}

/// Where the kept exchange was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    /// The session.
    pub session_id: crate::store::SessionId,
    /// Whether it was created for it.
    pub created: bool,
    /// The question's row.
    pub user_id: crate::store::MessageId,
    /// The answer's row.
    pub answer_id: crate::store::MessageId,
}
