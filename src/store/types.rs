//! Plain data types of the session store: sessions, messages, their roles and
//! statuses, token usage and search hits, plus the text form each enum takes in
//! the database.
//!
//! This file must not touch the database or do any I/O: it only describes
//! values. The strings returned by `as_str` are stored on disk, so they must
//! never change once released (add new variants instead).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Row id of a session in the history database.
pub type SessionId = i64;

/// Row id of a message in the history database.
pub type MessageId = i64;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions given to the model (the system prompt).
    System,
    /// Text typed by the person using clerk.
    User,
    /// An answer written by the model.
    Assistant,
}

impl Role {
    /// The lowercase name stored in the database and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    /// Parses the lowercase name written by [`Role::as_str`]; `None` for
    /// anything else.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// Where a message is in its life: still being written, or final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// The whole text is there.
    Complete,
    /// The answer is still arriving; its content is the partial text so far.
    Streaming,
    /// The answer stopped early (cancelled, or clerk stopped); `error` says why.
    Interrupted,
    /// The model stopped because of a length limit; `error` says which.
    Truncated,
    /// The request failed; `error` holds the reason and `content` any partial text.
    Error,
}

impl MessageStatus {
    /// The lowercase name stored in the database and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Complete => "complete",
            MessageStatus::Streaming => "streaming",
            MessageStatus::Interrupted => "interrupted",
            MessageStatus::Truncated => "truncated",
            MessageStatus::Error => "error",
        }
    }

    /// Parses the lowercase name written by [`MessageStatus::as_str`]; `None`
    /// for anything else.
    pub fn parse(s: &str) -> Option<MessageStatus> {
        match s {
            "complete" => Some(MessageStatus::Complete),
            "streaming" => Some(MessageStatus::Streaming),
            "interrupted" => Some(MessageStatus::Interrupted),
            "truncated" => Some(MessageStatus::Truncated),
            "error" => Some(MessageStatus::Error),
            _ => None,
        }
    }

    /// True for every status except [`MessageStatus::Streaming`]: the text will
    /// not change any more and the message is searchable.
    pub fn is_final(self) -> bool {
        !matches!(self, MessageStatus::Streaming)
    }
}

/// What is needed to start a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Title shown in the session list.
    pub title: String,
    /// Name of the configuration profile the session uses.
    pub profile: String,
    /// Model the session talks to.
    pub model: String,
    /// System prompt for the session, if any.
    pub system_prompt: Option<String>,
    /// Current time in milliseconds since the Unix epoch (created and updated).
    pub now_ms: i64,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// Row id.
    pub id: SessionId,
    /// Title shown in the session list.
    pub title: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Time of the last change (new message, finished answer, rename).
    pub updated_ms: i64,
    /// Name of the configuration profile the session uses.
    pub profile: String,
    /// Model the session talks to.
    pub model: String,
    /// System prompt for the session, if any.
    pub system_prompt: Option<String>,
    /// Hidden from the default session list.
    pub archived: bool,
    /// Whether the session is pinned to the top of the list.
    pub pinned: bool,
    /// The knowledge base its questions are answered from (`[[knowledge]]` name), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<String>,
}

/// A session with its number of messages, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// The session itself.
    pub session: Session,
    /// How many messages it holds.
    pub message_count: u64,
}

/// What is needed to add a message to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Session the message belongs to.
    pub session_id: SessionId,
    /// Who wrote it.
    pub role: Role,
    /// Its text (empty or partial for a streaming answer).
    pub content: String,
    /// Its status; use [`MessageStatus::Streaming`] for an answer that is
    /// still arriving and finish it later with `Store::finish_message`.
    pub status: MessageStatus,
    /// Model that wrote it (assistant messages).
    pub model: Option<String>,
    /// Current time in milliseconds since the Unix epoch.
    pub now_ms: i64,
}

/// Token counts reported by the API for one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Prompt tokens sent.
    pub tokens_in: Option<u64>,
    /// Prompt tokens served from the provider's cache.
    pub tokens_cached: Option<u64>,
    /// Completion tokens received.
    pub tokens_out: Option<u64>,
    /// The counts are clerk's estimate (the tokenizer's, or one from the text's size),
    /// not the server's: the server sent no usage (an answer stopped or cut off).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

/// The final state of an answer that was streaming.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageFinish {
    /// The final text.
    pub content: String,
    /// A final status (anything but [`MessageStatus::Streaming`]).
    pub status: MessageStatus,
    /// Why the answer is interrupted, truncated or an error; `None` when complete.
    pub error: Option<String>,
    /// Token counts, when known.
    pub usage: Usage,
    /// Cost in US dollars, when known.
    pub cost_usd: Option<f64>,
    /// Time to the first token, in milliseconds.
    pub ttft_ms: Option<u64>,
    /// Time from the request to the last token, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Current time in milliseconds since the Unix epoch (bumps the session).
    pub now_ms: i64,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Row id; increases in the order messages were added.
    pub id: MessageId,
    /// Session it belongs to.
    pub session_id: SessionId,
    /// Who wrote it.
    pub role: Role,
    /// Its text (the partial text while streaming).
    pub content: String,
    /// Where it is in its life.
    pub status: MessageStatus,
    /// Why it is interrupted, truncated or an error.
    pub error: Option<String>,
    /// Model that wrote it.
    pub model: Option<String>,
    /// Token counts, when known.
    pub usage: Usage,
    /// Cost in US dollars, when known.
    pub cost_usd: Option<f64>,
    /// Time to the first token, in milliseconds.
    pub ttft_ms: Option<u64>,
    /// Time from the request to the last token, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Its size in tokens, once known (kept for fitting long conversations).
    #[serde(skip)]
    pub tokens: Option<u64>,
    /// For an answer grounded on a knowledge base: the passages it was given and which it
    /// cited (never part of `content`, and never sent again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grounding: Option<Grounding>,
}

/// What a grounded answer was built from, kept with it: the passages found for its
/// question (numbered from 1 in this order, as the model saw them), which of them the
/// answer cites, and whether the model was asked at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Grounding {
    /// The knowledge bases searched.
    pub bases: Vec<String>,
    /// The question's language (`en`, `zh`): the words the sources are shown with.
    pub language: String,
    /// Whether the passages were sent to the model. `false`: they do not answer the
    /// question, so nothing was sent and the answer is clerk's "not found".
    pub asked: bool,
    /// The passages, numbered from 1 in this order.
    pub passages: Vec<Source>,
}

impl Grounding {
    /// The passages the answer cites (empty: it cites none, and is shown as not found).
    pub fn cited(&self) -> impl Iterator<Item = (usize, &Source)> {
        self.passages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.cited)
            .map(|(i, p)| (i + 1, p))
    }

    /// Whether the answer is built from the passages: they were sent and it cites one.
    pub fn found(&self) -> bool {
        self.asked && self.passages.iter().any(|p| p.cited)
    }
}

/// A passage a grounded answer was given, as clerk's index described it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Source {
    /// The knowledge base it is in.
    pub base: String,
    /// Its file, relative to the folder it was found in (`finance/travel.md`).
    pub path: String,
    /// The file's full path, to open it.
    pub file: std::path::PathBuf,
    /// Its heading path (`Travel › Hotels`; empty before any heading).
    pub section: String,
    /// Its PDF page.
    pub page: Option<u32>,
    /// Its text, as it was sent.
    pub text: String,
    /// The answer cites it.
    pub cited: bool,
}

/// One message found by a full-text search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The message found.
    pub message_id: MessageId,
    /// Its session.
    pub session_id: SessionId,
    /// Title of its session.
    pub session_title: String,
    /// Who wrote it.
    pub role: Role,
    /// A short extract around the match, with the matched words between the
    /// caller's marks.
    pub snippet: String,
    /// Creation time of the message, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// bm25 score as computed by SQLite: lower (more negative) is a better match.
    pub rank: f64,
}

/// A short, deterministic session title from the first question: its first non-empty line,
/// Markdown markers trimmed, at most 60 characters (cut at a word, with an ellipsis). The
/// titles clerk makes itself ("Summary of a.pdf", "Untitled") are in the interface's
/// language when the session is made, as a title typed then would be.
pub fn title_from(text: &str) -> String {
    // Attached documents come first in a message: the question after them names it best,
    // else the first document's name.
    if text.starts_with("<document name=\"")
        && let Some(end) = text.rfind("</document>")
    {
        let after = text[end + "</document>".len()..].trim();
        if !after.is_empty() {
            return title_from(after);
        }
        let name = text["<document name=\"".len()..]
            .split('"')
            .next()
            .unwrap_or_default();
        return title_from(&tr!("store.title.summary", name = name));
    }
    let line = text
        .lines()
        .map(|l| l.trim().trim_start_matches(['#', '>', '-', '*']).trim())
        .find(|l| !l.is_empty())
        .map(Cow::Borrowed)
        .unwrap_or_else(|| tr!("store.title.untitled"));
    let mut title = String::new();
    for w in line.split_whitespace() {
        let extra = usize::from(!title.is_empty()) + w.chars().count();
        if title.chars().count() + extra > 60 {
            if title.is_empty() {
                title = w.chars().take(59).collect();
            }
            title.push('…');
            return title;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(w);
    }
    title
}

#[cfg(test)]
mod title_tests {
    use super::title_from;

    #[test]
    fn attached_documents_do_not_make_the_title() {
        assert_eq!(
            title_from("<document name=\"a.pdf\">\nbody\n</document>\n\nWhat are the limits?"),
            "What are the limits?"
        );
        assert_eq!(
            title_from("<document name=\"a.pdf\">\nbody\n</document>"),
            "Summary of a.pdf"
        );
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        assert_eq!(
            title_from("<document name=\"a.pdf\">\nbody\n</document>"),
            "a.pdf 的摘要"
        );
        assert_eq!(title_from("  \n"), "未命名");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_and_status_names_round_trip() {
        for role in [Role::System, Role::User, Role::Assistant] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        for status in [
            MessageStatus::Complete,
            MessageStatus::Streaming,
            MessageStatus::Interrupted,
            MessageStatus::Truncated,
            MessageStatus::Error,
        ] {
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.is_final(), status != MessageStatus::Streaming);
        }
        assert_eq!(Role::parse("User"), None);
        assert_eq!(MessageStatus::parse("done"), None);
    }
}
