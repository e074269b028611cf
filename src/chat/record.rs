//! What is saved and shown when an answer ends: its status, usage and cost, in one place.
//!
//! Pure functions from an [`Answer`] (and the price table in force) to the store's
//! [`MessageFinish`], used by every caller that saves answers. It must not read the clock
//! (the caller passes `now_ms`) or touch the store.

use crate::config::ModelInfo;
use crate::llm::{Answer, AnswerStatus, RetryNotice};
use crate::store::{MessageFinish, MessageStatus, Usage};

/// The reason saved with an answer the user stopped.
pub const STOPPED_BY_YOU: &str = "stopped by you";

/// The store's status for how an answer ended.
pub fn status(s: AnswerStatus) -> MessageStatus {
    match s {
        AnswerStatus::Complete => MessageStatus::Complete,
        AnswerStatus::Truncated => MessageStatus::Truncated,
        AnswerStatus::Interrupted => MessageStatus::Interrupted,
        AnswerStatus::Error => MessageStatus::Error,
    }
}

/// The token counts to save: the server's usage, or nothing known.
pub fn usage(answer: &Answer) -> Usage {
    answer
        .usage
        .map(|u| Usage {
            tokens_in: Some(u.input),
            tokens_cached: Some(u.cached),
            tokens_out: Some(u.output),
        })
        .unwrap_or_default()
}

/// The answer's cost from the price table; `None` when the usage or the price is unknown
/// (never 0 for "unknown").
pub fn cost(answer: &Answer, price: Option<&ModelInfo>) -> Option<f64> {
    let u = answer.usage?;
    price?.cost(u.input, u.cached, u.output)
}

/// The final record of an answer that ended (complete, truncated, cut off or stopped).
pub fn finished(answer: &Answer, price: Option<&ModelInfo>, now_ms: i64) -> MessageFinish {
    MessageFinish {
        content: answer.text.clone(),
        status: status(answer.status),
        error: answer.reason.clone(),
        usage: usage(answer),
        cost_usd: cost(answer, price),
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
    format!(
        "{}, retrying in {} ({} of {})",
        n.reason,
        crate::llm::error::human_duration(n.wait),
        n.retry,
        n.of
    )
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
        let r = finished(&a, Some(&mini()), 7);
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
        assert_eq!(cost(&answer(None), Some(&mini())), None);
        assert_eq!(cost(&answer(priced), None), None);
        assert_eq!(
            finished(&answer(None), Some(&mini()), 0).usage,
            Usage::default()
        );
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
}
