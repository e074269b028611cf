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
    let what = match p.phase {
        Phase::Reading => "reading part".to_string(),
        Phase::Merging(round) => format!("combining notes (round {round})"),
        Phase::Answering => return "writing the answer from the notes…".to_string(),
    };
    let filled = (p.done * 10).checked_div(p.total).unwrap_or(0).min(10);
    let bar: String = "▰".repeat(filled) + &"▱".repeat(10 - filled);
    let cost = price.and_then(|i| i.cost(p.tokens_in, 0, p.tokens_out));
    format!(
        "{what} {}/{} {bar} · {} tokens in, {} out · {}",
        p.done,
        p.total,
        crate::format::thousands(p.tokens_in),
        crate::format::thousands(p.tokens_out),
        crate::format::usd(cost)
    )
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
}
