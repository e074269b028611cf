//! What is saved and shown when an answer ends: its status, usage and cost, in one place.
//!
//! Pure functions from an [`Answer`] (and the price table in force) to the store's
//! [`MessageFinish`], used by every caller that saves answers. It must not read the clock
//! (the caller passes `now_ms`) or touch the store.

use crate::config::ModelInfo;
use crate::llm::{Answer, AnswerStatus, RetryNotice};
use crate::store::{MessageFinish, MessageStatus, Usage};

/// The reason saved with an answer the user stopped (and written to `--json`): English
/// whatever the language, the catalog's `chat.reason.stopped_by_you`; people read it through
/// [`shown_reason`].
pub const STOPPED_BY_YOU: &str = "stopped by you";

/// A saved reason (why an answer ended short: [`STOPPED_BY_YOU`], a cut-off stream, the
/// store's recovery at open…) in the interface's language, where it is shown.
pub use crate::llm::reason::shown as shown_reason;

/// The store's status for how an answer ended.
pub fn status(s: AnswerStatus) -> MessageStatus {
    match s {
        AnswerStatus::Complete => MessageStatus::Complete,
        AnswerStatus::Truncated => MessageStatus::Truncated,
        AnswerStatus::Interrupted => MessageStatus::Interrupted,
        AnswerStatus::Error => MessageStatus::Error,
    }
}

/// The token counts to save: the server's usage; without it (an answer stopped or cut off
/// before the server said), an estimate when the prompt's size is known — the prompt as
/// estimated when it was sent, and the text that arrived — marked as such; else nothing.
pub fn usage(answer: &Answer, prompt_tokens: Option<u64>) -> Usage {
    match (answer.usage, prompt_tokens) {
        (Some(u), _) => Usage {
            tokens_in: Some(u.input),
            tokens_cached: Some(u.cached),
            tokens_out: Some(u.output),
            estimated: false,
        },
        (None, Some(prompt)) => Usage {
            tokens_in: Some(prompt),
            tokens_cached: Some(0),
            tokens_out: Some(estimate_tokens(&answer.text)),
            estimated: true,
        },
        (None, None) => Usage::default(),
    }
}

pub use crate::llm::context::{estimate_tokens, rough_tokens};

/// The prompt's size for an estimate: the count made when it was fitted, else a rough one
/// from the messages' text (with the chat format's few tokens per message).
pub fn prompt_estimate(counted: Option<u64>, messages: &[crate::llm::ChatMessage]) -> u64 {
    counted.unwrap_or_else(|| {
        crate::llm::estimate::rough_prompt_tokens(messages.iter().map(|m| m.content.as_str()))
    })
}

/// The answer's cost from the price table and the usage saved; `None` when either is
/// unknown (never 0 for "unknown").
pub fn cost(usage: &Usage, price: Option<&ModelInfo>) -> Option<f64> {
    price?.cost(
        usage.tokens_in?,
        usage.tokens_cached.unwrap_or(0),
        usage.tokens_out?,
    )
}

/// The final record of an answer that ended (complete, truncated, cut off or stopped);
/// `prompt_tokens` is the prompt's estimated size, for when the server sends no usage.
pub fn finished(
    answer: &Answer,
    price: Option<&ModelInfo>,
    prompt_tokens: Option<u64>,
    now_ms: i64,
) -> MessageFinish {
    let usage = usage(answer, prompt_tokens);
    MessageFinish {
        content: answer.text.clone(),
        status: status(answer.status),
        error: answer.reason.clone(),
        usage,
        cost_usd: cost(&usage, price),
        ttft_ms: answer.ttft.map(|d| d.as_millis() as u64),
        duration_ms: Some(answer.duration.as_millis() as u64),
        now_ms,
    }
}

/// The final record of an answer that failed (`text`: what arrived before it failed).
pub fn failed(text: String, why: String, now_ms: i64) -> MessageFinish {
    MessageFinish {
        content: text,
        status: MessageStatus::Error,
        error: Some(why),
        usage: Usage::default(),
        cost_usd: None,
        ttft_ms: None,
        duration_ms: None,
        now_ms,
    }
}

/// "rate limited (HTTP 429), retrying in 3 s (1 of 2)": one wording everywhere.
pub fn retry_text(n: &RetryNotice) -> String {
    tr!(
        "chat.retrying",
        reason = n.reason,
        wait = crate::llm::error::human_duration(n.wait),
        retry = n.retry,
        of = n.of
    )
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::TokenUsage;
    use std::time::Duration;

    fn answer(usage: Option<TokenUsage>) -> Answer {
        Answer {
            text: "hello".into(),
            status: AnswerStatus::Complete,
            reason: None,
            finish_reason: Some("stop".into()),
            usage,
            model: Some("gpt-4o-mini".into()),
            ttft: Some(Duration::from_millis(120)),
            duration: Duration::from_millis(900),
            malformed: 0,
        }
    }

    fn mini() -> ModelInfo {
        crate::config::models::builtin_models()
            .remove("gpt-4o-mini")
            .unwrap()
    }

    #[test]
    fn a_finished_answer_is_saved_with_its_usage_cost_and_timings() {
        let a = answer(Some(TokenUsage {
            input: 1_000_000,
            cached: 0,
            output: 1_000_000,
        }));
        // The server's usage wins over an estimate.
        let r = finished(&a, Some(&mini()), Some(5), 7);
        assert!(!r.usage.estimated);
        assert_eq!(r.status, MessageStatus::Complete);
        assert_eq!(r.usage.tokens_in, Some(1_000_000));
        assert_eq!(r.usage.tokens_out, Some(1_000_000));
        // 0.15 in + 0.60 out per million.
        assert!(
            (r.cost_usd.unwrap() - 0.75).abs() < 1e-9,
            "{:?}",
            r.cost_usd
        );
        assert_eq!(
            (r.ttft_ms, r.duration_ms, r.now_ms),
            (Some(120), Some(900), 7)
        );
    }

    #[test]
    fn unknown_usage_or_price_is_an_unknown_cost_not_zero() {
        let priced = Some(TokenUsage {
            input: 10,
            cached: 0,
            output: 10,
        });
        assert_eq!(cost(&usage(&answer(None), None), Some(&mini())), None);
        assert_eq!(cost(&usage(&answer(priced), None), None), None);
        assert_eq!(
            finished(&answer(None), Some(&mini()), None, 0).usage,
            Usage::default()
        );
    }

    #[test]
    fn an_answer_without_the_servers_usage_is_counted_as_an_estimate() {
        let mut a = answer(None);
        a.status = AnswerStatus::Interrupted;
        a.text = "The hotel limit is €180 in Berlin. 上海的住宿标准是每晚九百元".into();
        let r = finished(&a, Some(&mini()), Some(1_000_000), 0);
        assert!(r.usage.estimated);
        assert_eq!(r.usage.tokens_in, Some(1_000_000));
        let out = r.usage.tokens_out.unwrap();
        // About a token per Chinese character and per four bytes of the rest.
        assert!((20..=40).contains(&out), "{out}");
        // Priced like any usage: 0.15 per million in, so at least that.
        let c = r.cost_usd.unwrap();
        assert!((0.15..0.151).contains(&c), "{c}");
        assert_eq!(
            prompt_estimate(
                None,
                &[crate::llm::ChatMessage {
                    role: crate::llm::ChatRole::User,
                    content: "a".repeat(400),
                }]
            ),
            100 + 4 + 3
        );
        assert_eq!(prompt_estimate(Some(42), &[]), 42);
    }

    #[test]
    fn statuses_map_one_to_one() {
        assert_eq!(status(AnswerStatus::Complete), MessageStatus::Complete);
        assert_eq!(status(AnswerStatus::Truncated), MessageStatus::Truncated);
        assert_eq!(
            status(AnswerStatus::Interrupted),
            MessageStatus::Interrupted
        );
        assert_eq!(status(AnswerStatus::Error), MessageStatus::Error);
        let f = failed("part".into(), "boom".into(), 3);
        assert_eq!(
            (f.status, f.error.as_deref(), f.content.as_str()),
            (MessageStatus::Error, Some("boom"), "part")
        );
    }

    #[test]
    fn reasons_are_saved_in_english_and_shown_in_chinese() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        // The constants are the catalog's English (what the history and --json keep).
        assert_eq!(
            crate::llm::reason::stored(|| tr!("chat.reason.stopped_by_you")),
            STOPPED_BY_YOU
        );
        assert_eq!(
            crate::llm::reason::stored(|| tr!("store.reason.recovered")),
            crate::store::RECOVERY_REASON
        );
        assert_eq!(shown_reason(STOPPED_BY_YOU), "已由你停止");
        let state = {
            let mut s = crate::llm::answer::AnswerState::new();
            s.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"length\"}]}\n\n", &mut |_| {});
            s
        };
        let (_, why) = state.status_at_end();
        let why = why.unwrap();
        assert_eq!(why, "the answer reached the output token limit");
        assert_eq!(shown_reason(&why), "回答达到了输出 token 上限");
    }
}
