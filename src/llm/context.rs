//! Fitting a conversation into the model's context window.
//!
//! Counts tokens with tiktoken's o200k_base (the GPT-4o family's tokenizer; used as a close
//! estimate for other models). Loading it costs ~0.2 s, so it is loaded once, lazily, and
//! only when the conversation might not fit: a token is never shorter than one byte, so a
//! conversation whose bytes fit needs no counting at all. When turns must be left out, the
//! oldest go first and the caller is told how many: never silently.

use super::stream::{ChatMessage, ChatRole};

/// Tokens added per message by the chat format (role markers), as OpenAI documents.
const PER_MESSAGE: u64 = 4;
/// Tokens that prime the reply.
const REPLY_PRIMING: u64 = 3;

/// The result of fitting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// The messages to send, oldest first.
    pub messages: Vec<ChatMessage>,
    /// How many earlier messages were left out.
    pub omitted: usize,
    /// Estimated prompt tokens (`None` when the fast path skipped counting).
    pub prompt_tokens: Option<u64>,
}

/// The newest message alone does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong {
    /// Tokens needed by the system prompt and the newest message.
    pub needed: u64,
    /// Tokens available for the prompt.
    pub budget: u64,
    /// The model's window.
    pub window: u64,
    /// Tokens reserved for the answer.
    pub reserved: u64,
}

// Written by hand, not with `thiserror`: the text comes from the message catalog
// (locales/core-answers.yml) in the interface's language; the English one is unchanged.
impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&tr!(
            "llm.context.too_long",
            needed = self.needed,
            budget = self.budget,
            window = self.window,
            reserved = self.reserved
        ))
    }
}

impl std::error::Error for TooLong {}

/// Count tokens with o200k_base (loaded on first use). Should the shipped vocabulary not
/// load, the byte length stands in: never fewer than the real count, so a fit stays safe.
pub fn count_tokens(text: &str) -> u64 {
    match super::o200k::o200k() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        None => text.len() as u64,
    }
}

pub use super::estimate::{estimate_tokens, rough_tokens};

/// Keep the system message (if first) and the newest message, then as many of the most
/// recent earlier messages as fit in `window - reserve`. `count` counts tokens.
pub fn fit(
    messages: &[ChatMessage],
    window: Option<u64>,
    reserve: u64,
    count: &dyn Fn(&str) -> u64,
) -> Result<Fitted, TooLong> {
    fit_known(messages, &[], window, reserve, &|_, t| count(t))
}

/// [`fit`] with the token counts already known for some messages (`known[i]` for
/// `messages[i]`; missing entries are unknown): only the others are counted, with
/// `count(i, text)`, and only when the conversation might not fit.
pub fn fit_known(
    messages: &[ChatMessage],
    known: &[Option<u64>],
    window: Option<u64>,
    reserve: u64,
    count: &dyn Fn(usize, &str) -> u64,
) -> Result<Fitted, TooLong> {
    let Some(window) = window else {
        return Ok(Fitted {
            messages: messages.to_vec(),
            omitted: 0,
            prompt_tokens: None,
        });
    };
    let budget = window.saturating_sub(reserve);
    let overhead = |n: usize| n as u64 * PER_MESSAGE + REPLY_PRIMING;
    let known_at = |i: usize| known.get(i).copied().flatten();
    // A token is never shorter than a byte: the bytes bound what is not counted yet.
    let bound: u64 = messages
        .iter()
        .enumerate()
        .map(|(i, m)| known_at(i).unwrap_or(m.content.len() as u64))
        .sum();
    if bound + overhead(messages.len()) <= budget {
        return Ok(Fitted {
            messages: messages.to_vec(),
            omitted: 0,
            prompt_tokens: None,
        });
    }
    let tokens = |i: usize| known_at(i).unwrap_or_else(|| count(i, &messages[i].content));
    let has_system = messages.first().is_some_and(|m| m.role == ChatRole::System);
    let first = usize::from(has_system);
    if messages.len() <= first {
        return Ok(Fitted {
            messages: messages.to_vec(),
            omitted: 0,
            prompt_tokens: None,
        });
    }
    let newest = messages.len() - 1;
    let mut used = REPLY_PRIMING + PER_MESSAGE + tokens(newest);
    if has_system {
        used += PER_MESSAGE + tokens(0);
    }
    if used > budget {
        return Err(TooLong {
            needed: used,
            budget,
            window,
            reserved: reserve,
        });
    }
    let earlier = &messages[first..newest];
    let mut kept = 0;
    for i in (first..newest).rev() {
        let cost = PER_MESSAGE + tokens(i);
        if used + cost > budget {
            break;
        }
        used += cost;
        kept += 1;
    }
    // Never start the kept history with an assistant turn cut from its question.
    let mut start = earlier.len() - kept;
    while start < earlier.len() && earlier[start].role == ChatRole::Assistant {
        start += 1;
    }
    let mut out = Vec::with_capacity(2 + earlier.len() - start);
    if has_system {
        out.push(messages[0].clone());
    }
    out.extend_from_slice(&earlier[start..]);
    out.push(messages[newest].clone());
    Ok(Fitted {
        messages: out,
        omitted: start,
        prompt_tokens: Some(used),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: ChatRole, content: &str) -> ChatMessage {
        ChatMessage {
            role,
            content: content.to_string(),
        }
    }

    fn words(text: &str) -> u64 {
        text.split_whitespace().count() as u64
    }

    fn convo() -> Vec<ChatMessage> {
        vec![
            msg(ChatRole::System, "be brief"),
            msg(ChatRole::User, "one two three four five"),
            msg(ChatRole::Assistant, "six seven eight nine ten"),
            msg(ChatRole::User, "a b c d e"),
            msg(ChatRole::Assistant, "f g h i j"),
            msg(ChatRole::User, "last question"),
        ]
    }

    #[test]
    fn small_conversation_is_sent_whole_without_counting() {
        let c = convo();
        let f = fit(&c, Some(128_000), 16_384, &|_| panic!("must not count")).unwrap();
        assert_eq!(f.messages, c);
        assert_eq!(f.omitted, 0);
    }

    #[test]
    fn oldest_turns_go_first_and_are_counted() {
        let c = convo();
        // system 2+4, newest 2+4, priming 3 = 15; each earlier turn costs 5+4 = 9.
        let f = fit(&c, Some(15 + 18 + 5), 0, &words).unwrap();
        assert_eq!(f.omitted, 2);
        assert_eq!(f.messages.len(), 4);
        assert_eq!(f.messages[0].role, ChatRole::System);
        assert_eq!(f.messages[1].content, "a b c d e");
        assert_eq!(f.messages.last().unwrap().content, "last question");
    }

    #[test]
    fn a_kept_history_never_starts_with_an_orphan_answer() {
        let c = convo();
        // room for exactly one earlier message: it would be the assistant's "f g h i j"
        let f = fit(&c, Some(15 + 9), 0, &words).unwrap();
        assert_eq!(f.omitted, 4);
        assert_eq!(f.messages.len(), 2);
    }

    #[test]
    fn newest_message_too_long_is_an_error_with_numbers() {
        let c = vec![msg(ChatRole::User, &"w ".repeat(100))];
        let e = fit(&c, Some(60), 10, &words).unwrap_err();
        assert_eq!(e.budget, 50);
        assert!(e.to_string().contains("107 tokens"), "{e}");
    }

    #[test]
    fn unknown_window_sends_everything() {
        let c = convo();
        assert_eq!(fit(&c, None, 0, &words).unwrap().messages, c);
    }

    #[test]
    fn o200k_counts_real_tokens() {
        assert_eq!(count_tokens("hello world"), 2);
        assert!(count_tokens("我想了解差旅报销的流程") >= 4);
    }

    #[test]
    fn a_message_too_long_reads_in_chinese() {
        let e = TooLong {
            needed: 200_000,
            budget: 110_000,
            window: 128_000,
            reserved: 16_384,
        };
        assert!(
            e.to_string()
                .starts_with("the message is about 200000 tokens")
        );
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        assert_eq!(
            e.to_string(),
            "这条消息约有 200000 个 token，但模型最多接受 110000 个作为提示（上下文窗口 128000，其中 16384 个留给回答）。请缩短消息，或分几次发送"
        );
    }
}
