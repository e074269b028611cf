//! Where a run is: its phase, the requests done, the tokens so far, and the one line that
//! shows it the same way on the command line and in the app.
//!
//! It must not print or draw: it only describes; callers show the line where they can.

use crate::config::ModelInfo;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Which phase.
    pub phase: Phase,
    /// Requests of this phase done.
    pub done: usize,
    /// Requests of this phase in all.
    pub total: usize,
    /// Input tokens so far, all requests (reported by the server, or counted).
    pub tokens_in: u64,
    /// Output tokens so far.
    pub tokens_out: u64,
}

/// A run's progress as one line, the same on the command line and in the app:
/// "reading part 3/12 ▰▰▱▱▱▱▱▱▱▱ · 45,000 tokens in, 1,200 out · $0.0075".
pub fn progress_line(p: &Progress, price: Option<&ModelInfo>) -> String {
    let filled = (p.done * 10).checked_div(p.total).unwrap_or(0).min(10);
    let bar: String = "▰".repeat(filled) + &"▱".repeat(10 - filled);
    let cost = match price.and_then(|i| i.cost(p.tokens_in, 0, p.tokens_out)) {
        Some(usd) => crate::format::usd(Some(usd)),
        None => tr!("documents.summarize.cost_unknown").into_owned(),
    };
    let (tokens_in, tokens_out) = (
        crate::format::thousands(p.tokens_in),
        crate::format::thousands(p.tokens_out),
    );
    let line = match p.phase {
        Phase::Reading => tr!(
            "documents.summarize.reading",
            done = p.done,
            total = p.total,
            bar = bar,
            tokens_in = tokens_in,
            tokens_out = tokens_out,
            cost = cost
        ),
        Phase::Merging(round) => tr!(
            "documents.summarize.merging",
            round = round,
            done = p.done,
            total = p.total,
            bar = bar,
            tokens_in = tokens_in,
            tokens_out = tokens_out,
            cost = cost
        ),
        Phase::Answering => tr!("documents.summarize.answering"),
    };
    line.into_owned()
}

/// The phases of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Taking notes on the parts.
    Reading,
    /// Merging notes (round 1, 2, …).
    Merging(usize),
    /// The final answer.
    Answering,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_the_same_everywhere() {
        let p = Progress {
            phase: Phase::Reading,
            done: 3,
            total: 12,
            tokens_in: 45_000,
            tokens_out: 1_200,
        };
        let price = crate::config::models::builtin_models().remove("gpt-4o-mini");
        assert_eq!(
            progress_line(&p, price.as_ref()),
            "reading part 3/12 ▰▰▱▱▱▱▱▱▱▱ · 45,000 tokens in, 1,200 out · $0.007470"
        );
        let merging = Progress {
            phase: Phase::Merging(2),
            done: 1,
            total: 1,
            ..p
        };
        assert!(
            progress_line(&merging, None).starts_with("combining notes (round 2) 1/1 ▰▰▰▰▰▰▰▰▰▰")
        );
        assert!(progress_line(&merging, None).ends_with("cost unknown"));
        let done = Progress {
            phase: Phase::Answering,
            ..p
        };
        assert_eq!(
            progress_line(&done, None),
            "writing the answer from the notes…"
        );
    }

    #[test]
    fn the_progress_line_reads_in_chinese() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let p = Progress {
            phase: Phase::Reading,
            done: 3,
            total: 12,
            tokens_in: 45_000,
            tokens_out: 1_200,
        };
        let price = crate::config::models::builtin_models().remove("gpt-4o-mini");
        let line = progress_line(&p, price.as_ref());
        assert_eq!(
            line,
            "阅读第 3/12 部分 ▰▰▱▱▱▱▱▱▱▱ · 输入 45,000 token，输出 1,200 · $0.007470"
        );
        // Fits an 80-column line with room to spare (a Chinese character takes two cells).
        assert!(
            unicode_width::UnicodeWidthStr::width(line.as_str()) <= 76,
            "{line}"
        );
        let merging = Progress {
            phase: Phase::Merging(2),
            done: 1,
            total: 1,
            ..p
        };
        let line = progress_line(&merging, None);
        assert!(
            line.starts_with("合并笔记（第 2 轮）1/1 ▰▰▰▰▰▰▰▰▰▰"),
            "{line}"
        );
        assert!(line.ends_with("费用未知"), "{line}");
        let answering = Progress {
            phase: Phase::Answering,
            ..p
        };
        assert_eq!(progress_line(&answering, None), "正在根据笔记撰写回答…");
        let stopped = super::super::run::RunError::Incomplete {
            part: "report.pdf, part 3 of 12".into(),
            status: crate::llm::AnswerStatus::Truncated,
            reason: "the answer reached the output token limit".into(),
        };
        assert_eq!(
            stopped.to_string(),
            "report.pdf, part 3 of 12 的笔记被截断了：回答达到了输出 token 上限；不会用不完整的笔记生成摘要"
        );
    }
}
