//! What is sent: the conversation built from stored rows, the room kept for the answer,
//! fitting it into the model's window, and the notice when turns are left out.
//!
//! Pure: no store, no network, no clock. The token counts kept with stored messages are
//! used as they are, so a long session is not counted again on every send; only messages
//! without a known count are counted (the tokenizer loads lazily, off the UI's path).

use crate::config::ModelInfo;
use crate::llm::context::{self, Fitted, TooLong};
use crate::llm::{ChatMessage, ChatRole};
use crate::store::{Message, MessageId, Role};

/// A conversation ready to be fitted and sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// The messages, oldest first (the system prompt first, when there is one).
    pub messages: Vec<ChatMessage>,
    /// Each message's token count when it is known (kept with the stored message).
    pub tokens: Vec<Option<u64>>,
    /// Each message's stored row (`None`: the system prompt, or not stored).
    pub rows: Vec<Option<MessageId>>,
}

impl Conversation {
    /// Add a message.
    pub fn push(
        &mut self,
        role: ChatRole,
        content: String,
        tokens: Option<u64>,
        row: Option<MessageId>,
    ) {
        self.messages.push(ChatMessage { role, content });
        self.tokens.push(tokens);
        self.rows.push(row);
    }

    /// The conversation of a stored session: the system prompt, then every stored message
    /// with text, except system rows and `skip` (the answer being written).
    pub fn from_rows(system: Option<&str>, rows: Vec<Message>, skip: Option<MessageId>) -> Self {
        let mut c = Conversation::default();
        if let Some(s) = system {
            c.push(ChatRole::System, s.to_string(), None, None);
        }
        for m in rows {
            if Some(m.id) == skip || m.content.is_empty() || m.role == Role::System {
                continue;
            }
            let role = if m.role == Role::User {
                ChatRole::User
            } else {
                ChatRole::Assistant
            };
            c.push(role, m.content, m.tokens, Some(m.id));
        }
        c
    }
}

/// Tokens kept free for the answer: the cap asked for (else the model's, else 4,096), at
/// most a quarter of the window.
pub fn reserve(max_output: Option<u64>, info: &ModelInfo) -> u64 {
    max_output
        .or(info.max_output_tokens)
        .unwrap_or(4096)
        .min(info.context_window.unwrap_or(u64::MAX) / 4)
}

/// Messages up to this size are not counted when fitting: their bytes bound their tokens.
pub const SHORT_BYTES: usize = 2048;

/// Fit the conversation into `window` less `reserve`, counting with `count` only the
/// messages whose tokens are not known. The counts made are returned with their rows, so
/// the caller can keep them with the stored messages.
pub fn fit(
    c: &Conversation,
    window: Option<u64>,
    reserve: u64,
    count: &dyn Fn(&str) -> u64,
) -> (Result<Fitted, TooLong>, Vec<(MessageId, u64)>) {
    let counted = std::cell::RefCell::new(Vec::new());
    let exact = |i: usize, text: &str| {
        let n = count(text);
        if let Some(Some(row)) = c.rows.get(i) {
            counted.borrow_mut().push((*row, n));
        }
        n
    };
    // A short text is first bounded by its bytes (a token is at least one byte): loading the
    // tokenizer (~0.2 s and tens of MB) for a one-line question would cost more than the few
    // hundred tokens of room the bound gives away. Bounds are not kept. When the bounds
    // alone make the message too long (a small window), it is counted after all.
    let bounded = context::fit_known(&c.messages, &c.tokens, window, reserve, &|i, text| {
        if text.len() <= SHORT_BYTES {
            text.len() as u64
        } else {
            exact(i, text)
        }
    });
    let fitted = match bounded {
        Err(_) => context::fit_known(&c.messages, &c.tokens, window, reserve, &exact),
        ok => ok,
    };
    (fitted, counted.into_inner())
}

/// Token counts learned from an answer, to keep with the stored messages: the answer's
/// own (the server's completion tokens) and, when every other message sent has a known
/// count, the question's (the server's prompt tokens less the rest). `plain`: the usage
/// belongs to this one request (not a run over parts). `sent`: the conversation as fitted
/// (`omitted` earlier messages left out); `counted`: counts made while fitting.
pub fn learned(
    sent: &Conversation,
    omitted: usize,
    counted: &[(MessageId, u64)],
    answer: &crate::llm::Answer,
    answer_row: Option<MessageId>,
    plain: bool,
) -> Vec<(MessageId, u64)> {
    let mut out: Vec<(MessageId, u64)> = counted.to_vec();
    let Some(usage) = answer.usage.filter(|_| plain) else {
        return out;
    };
    if let Some(row) = answer_row
        && answer.status == crate::llm::AnswerStatus::Complete
        && plausible(usage.output, answer.text.len())
    {
        out.push((row, usage.output));
    }
    // Which messages went out: the system prompt, then everything after the omitted ones.
    let first = usize::from(
        sent.messages
            .first()
            .is_some_and(|m| m.role == ChatRole::System),
    );
    let mut idx: Vec<usize> = (0..first).collect();
    idx.extend((first + omitted).min(sent.messages.len())..sent.messages.len());
    let known = |i: usize| {
        sent.tokens[i].or_else(|| {
            let row = sent.rows[i]?;
            counted.iter().find(|(r, _)| *r == row).map(|(_, n)| *n)
        })
    };
    let Some(&last) = idx.last() else { return out };
    let Some(question) = sent.rows[last].filter(|_| known(last).is_none()) else {
        return out;
    };
    let others: Option<u64> = idx[..idx.len() - 1].iter().map(|&i| known(i)).sum();
    if let Some(others) = others {
        let overhead = idx.len() as u64 * 4 + 3;
        let q = usage.input.saturating_sub(others + overhead);
        if plausible(q, sent.messages[last].content.len()) {
            out.push((question, q));
        }
    }
    out
}

/// Whether a server's count can be the size of a text of `bytes` bytes: a token is at least
/// one byte and, in practice, at most a few dozen. Counts outside that (a gateway that
/// reports nothing useful, a test server's fixed figures) are not kept: the text is
/// counted instead when it matters.
fn plausible(tokens: u64, bytes: usize) -> bool {
    let bytes = bytes as u64;
    tokens > 0 && tokens <= bytes + 8 && tokens * 32 >= bytes
}

/// What the user is told when earlier turns were left out to fit (`None`: nothing was).
pub fn left_out_notice(omitted: usize) -> Option<String> {
    (omitted > 0).then(|| tr!("chat.left_out", n = omitted).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MessageStatus, Usage};

    fn row(id: i64, role: Role, content: &str, tokens: Option<u64>) -> Message {
        Message {
            id,
            session_id: 1,
            role,
            content: content.to_string(),
            status: MessageStatus::Complete,
            error: None,
            model: None,
            usage: Usage::default(),
            cost_usd: None,
            ttft_ms: None,
            duration_ms: None,
            tokens,
            created_ms: 0,
            grounding: None,
        }
    }

    #[test]
    fn stored_rows_become_the_conversation_without_the_answer_being_written() {
        let rows = vec![
            row(1, Role::User, "q1", Some(3)),
            row(2, Role::Assistant, "a1", None),
            row(3, Role::System, "note", None),
            row(4, Role::User, "q2", None),
            row(5, Role::Assistant, "", None),
            row(6, Role::Assistant, "being written", None),
        ];
        let c = Conversation::from_rows(Some("Be brief."), rows, Some(6));
        let sent: Vec<(&str, ChatRole)> = c
            .messages
            .iter()
            .map(|m| (m.content.as_str(), m.role))
            .collect();
        assert_eq!(
            sent,
            vec![
                ("Be brief.", ChatRole::System),
                ("q1", ChatRole::User),
                ("a1", ChatRole::Assistant),
                ("q2", ChatRole::User)
            ]
        );
        assert_eq!(c.tokens, vec![None, Some(3), None, None]);
        assert_eq!(c.rows, vec![None, Some(1), Some(2), Some(4)]);
    }

    #[test]
    fn the_reserve_is_the_cap_else_the_models_else_4096_at_most_a_quarter_of_the_window() {
        let info = |window, out| ModelInfo {
            context_window: window,
            max_output_tokens: out,
            ..ModelInfo::default()
        };
        assert_eq!(reserve(Some(500), &info(Some(128_000), Some(16_384))), 500);
        assert_eq!(reserve(None, &info(Some(128_000), Some(16_384))), 16_384);
        assert_eq!(reserve(None, &info(Some(128_000), None)), 4096);
        assert_eq!(reserve(None, &info(Some(8_000), Some(16_384))), 2_000);
        assert_eq!(reserve(None, &info(None, None)), 4096);
    }

    #[test]
    fn known_counts_are_used_and_only_unknown_messages_are_counted() {
        let mut c = Conversation::default();
        c.push(ChatRole::User, "x".repeat(4000), Some(1000), Some(1));
        c.push(ChatRole::Assistant, "y".repeat(4000), Some(1000), Some(2));
        c.push(ChatRole::User, "z".repeat(4000), None, Some(3));
        c.push(ChatRole::Assistant, "w".repeat(4000), Some(1000), Some(4));
        c.push(ChatRole::User, "new question".into(), None, None);
        let calls = std::cell::Cell::new(0);
        let count = |t: &str| {
            calls.set(calls.get() + 1);
            t.len() as u64 / 4
        };
        // 4 messages of 1,000 tokens each (+ overhead) do not fit 4,000; the newest goes.
        let (fitted, counted) = fit(&c, Some(8000), 4000, &count);
        let f = fitted.unwrap();
        assert_eq!(f.omitted, 2, "the oldest turn is left out");
        assert_eq!(
            counted,
            vec![(3, 1000)],
            "only the row without a count was counted and is reported"
        );
        assert_eq!(
            calls.get(),
            1,
            "row 3 only: never the rows with counts, nor a short question (its bytes bound it)"
        );
        assert_eq!(
            left_out_notice(f.omitted).unwrap(),
            "2 earlier message(s) left out to fit the context window"
        );
        assert_eq!(left_out_notice(0), None);
    }

    #[test]
    fn the_servers_usage_gives_the_answer_and_the_question_their_counts() {
        use crate::llm::{Answer, AnswerStatus, TokenUsage};
        let mut c = Conversation::default();
        c.push(ChatRole::User, "q1".into(), Some(10), Some(1));
        c.push(ChatRole::Assistant, "a1".into(), Some(20), Some(2));
        c.push(
            ChatRole::User,
            "the second question".repeat(3),
            None,
            Some(3),
        );
        let answer = Answer {
            text: "an answer of forty-two tokens or so, ".repeat(5),
            status: AnswerStatus::Complete,
            reason: None,
            finish_reason: Some("stop".into()),
            usage: Some(TokenUsage {
                input: 10 + 20 + 7 + 3 * 4 + 3,
                cached: 0,
                output: 42,
            }),
            model: None,
            ttft: None,
            duration: std::time::Duration::ZERO,
            malformed: 0,
        };
        assert_eq!(
            learned(&c, 0, &[], &answer, Some(4), true),
            vec![(4, 42), (3, 7)]
        );
        // A run over parts: its usage is the whole run's, not this answer's size.
        assert!(learned(&c, 0, &[], &answer, Some(4), false).is_empty());
        // A message sent without a known count: the question's share cannot be told.
        let mut unknown = c.clone();
        unknown.tokens[1] = None;
        assert_eq!(
            learned(&unknown, 0, &[], &answer, Some(4), true),
            vec![(4, 42)]
        );
        // ...unless it was counted while fitting; and a left-out message does not count.
        assert_eq!(
            learned(&unknown, 0, &[(2, 20)], &answer, Some(4), true),
            vec![(2, 20), (4, 42), (3, 7)]
        );
        let omitted = learned(&unknown, 2, &[], &answer, Some(4), true);
        assert_eq!(
            omitted,
            vec![(4, 42), (3, 52 - 7)],
            "only q2 was sent: all the prompt is its own"
        );
    }

    #[test]
    fn a_conversation_whose_known_size_fits_is_not_counted_at_all() {
        let mut c = Conversation::default();
        c.push(ChatRole::User, "x".repeat(40_000), Some(9_000), Some(1));
        c.push(
            ChatRole::Assistant,
            "y".repeat(40_000),
            Some(9_000),
            Some(2),
        );
        c.push(ChatRole::User, "short".into(), None, None);
        let count = |_: &str| -> u64 { panic!("must not count") };
        let (fitted, counted) = fit(&c, Some(128_000), 4_096, &count);
        assert_eq!(fitted.unwrap().omitted, 0);
        assert!(counted.is_empty());
    }
}
