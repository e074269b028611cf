//! The pure planning of a run: the documents measured into blocks once, the sizes a run
//! works with, whether the documents go whole or in parts, and what a run will cost.
//!
//! It must do no IO and send nothing: it decides, `run.rs` carries out. The text the model
//! receives is built in `prompts.rs`.

use crate::config::ModelInfo;
use crate::documents::chunk::{self, Block};
use crate::llm::ChatMessage;

/// Tokens a `<document>` wrapper and its name take, roughly.
const WRAPPER_TOKENS: u64 = 16;
/// Tokens of the fixed instructions of a notes request, roughly (the request hint is counted).
pub(super) const NOTES_PROMPT_TOKENS: u64 = 200;
/// What an answer of unknown length is guessed at, for estimates.
const FINAL_ANSWER_GUESS: u64 = 800;

/// A document's text, counted once into blocks that never need splitting again.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The file name (or "pasted text").
    pub name: String,
    /// The text.
    pub text: String,
    /// Its blocks (they tile the text).
    pub blocks: Vec<Block>,
    /// Tokens in all.
    pub tokens: u64,
}

/// Count `text` into blocks of at most `block_tokens`.
pub fn measure(
    name: &str,
    text: String,
    block_tokens: usize,
    count: &dyn Fn(&str) -> usize,
) -> Measured {
    let blocks = chunk::blocks(&text, block_tokens, count);
    let tokens = blocks.iter().map(|b| b.tokens as u64).sum();
    Measured {
        name: name.to_string(),
        text,
        blocks,
        tokens,
    }
}

/// Count every document with the real tokenizer (the slow step).
pub fn measure_all(docs: Vec<(String, String)>, s: &Settings) -> Vec<Measured> {
    let count = |t: &str| crate::llm::context::count_tokens(t) as usize;
    docs.into_iter()
        .map(|(name, text)| measure(&name, text, s.chunk_tokens, &count))
        .collect()
}

/// The most recent turns of `history` that fit `budget` tokens together, oldest first, and
/// their tokens. Used when documents are read in parts: the notes need the room.
pub fn recent_turns(
    history: &[ChatMessage],
    budget: u64,
    count: &dyn Fn(&str) -> u64,
) -> (Vec<ChatMessage>, u64) {
    let mut kept = Vec::new();
    let mut used = 0;
    for m in history.iter().rev() {
        let t = count(&m.content);
        if used + t > budget {
            break;
        }
        used += t;
        kept.push(m.clone());
    }
    kept.reverse();
    (kept, used)
}

/// Keep only the first `limit` tokens of the documents, in order (whole blocks; a document
/// past the limit is dropped). Returns how many tokens were left out.
pub fn keep_first(docs: &mut Vec<Measured>, limit: u64) -> u64 {
    let mut left = limit;
    let mut cut = 0;
    let mut keep_docs = 0;
    for doc in docs.iter_mut() {
        if left == 0 {
            cut += doc.tokens;
            continue;
        }
        let mut kept = 0;
        let mut tokens = 0u64;
        while kept < doc.blocks.len() && tokens + doc.blocks[kept].tokens as u64 <= left {
            tokens += doc.blocks[kept].tokens as u64;
            kept += 1;
        }
        if kept < doc.blocks.len() {
            cut += doc.tokens - tokens;
            let end = if kept == 0 {
                0
            } else {
                doc.blocks[kept - 1].end
            };
            doc.text.truncate(end);
            doc.blocks.truncate(kept);
            doc.tokens = tokens;
        }
        left -= tokens;
        if kept > 0 {
            keep_docs += 1;
        }
    }
    docs.truncate(keep_docs);
    cut
}

/// Sizes that shape a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The model's context window (None: unknown, everything is sent whole).
    pub window: Option<u64>,
    /// Tokens kept free for the answer.
    pub reserve: u64,
    /// Largest part, in tokens.
    pub chunk_tokens: usize,
    /// Overlap between neighbouring parts, in tokens.
    pub overlap_tokens: usize,
    /// Requests at a time.
    pub concurrency: usize,
    /// Longest notes on one part, in tokens.
    pub note_tokens: u64,
}

impl Settings {
    /// The sizes for `info`'s model with the `[documents]` config; `max_output`: the answer
    /// cap asked for (else the model's, else 4,096), at most a quarter of the window.
    pub fn for_model(
        cfg: &crate::config::DocumentsConfig,
        info: &ModelInfo,
        max_output: Option<u64>,
    ) -> Settings {
        let window = info.context_window;
        let reserve = max_output
            .or(info.max_output_tokens)
            .unwrap_or(4096)
            .min(window.unwrap_or(u64::MAX) / 4);
        Settings {
            window,
            reserve,
            chunk_tokens: cfg.chunk_tokens.max(256),
            overlap_tokens: cfg.overlap_tokens,
            concurrency: cfg.concurrency.clamp(1, 16),
            note_tokens: 1_000,
        }
    }

    /// Room for the prompt in one request.
    pub fn room(&self) -> Option<u64> {
        self.window.map(|w| w.saturating_sub(self.reserve))
    }
}

/// One part of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// Which document (index into the measured list).
    pub doc: usize,
    /// Its number in the document (1-based).
    pub index: usize,
    /// Parts of that document.
    pub of: usize,
    /// Byte range (including the overlap with the part before).
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Tokens.
    pub tokens: usize,
}

/// How the documents will be sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Everything fits one request.
    Whole,
    /// In parts.
    Parts(Vec<Part>),
}

/// Decide how to send `docs` with a prompt of `frame_tokens` (system prompt, question,
/// template text) around them.
pub fn strategy(docs: &[Measured], frame_tokens: u64, s: &Settings) -> Strategy {
    let Some(room) = s.room() else {
        return Strategy::Whole;
    };
    let total: u64 = frame_tokens + docs.iter().map(|d| d.tokens + WRAPPER_TOKENS).sum::<u64>();
    if total <= room {
        return Strategy::Whole;
    }
    let budget = part_budget(frame_tokens, s);
    let mut parts = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let chunks = chunk::plan(&d.blocks, budget, s.overlap_tokens.min(budget / 4));
        let of = chunks.len();
        parts.extend(chunks.iter().enumerate().map(|(k, c)| Part {
            doc: i,
            index: k + 1,
            of,
            start: c.start,
            end: c.end,
            tokens: c.tokens,
        }));
    }
    Strategy::Parts(parts)
}

/// Largest part that fits a notes request next to the request hint.
pub(super) fn part_budget(frame_tokens: u64, s: &Settings) -> usize {
    let room = s.room().unwrap_or(u64::MAX);
    let fits = room
        .saturating_sub(frame_tokens + NOTES_PROMPT_TOKENS + WRAPPER_TOKENS)
        .max(64);
    (s.chunk_tokens as u64).min(fits).max(64) as usize
}

/// What a run is expected to cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Estimate {
    /// Requests.
    pub requests: usize,
    /// Input tokens, all requests.
    pub input_tokens: u64,
    /// Output tokens, all requests (a guess: notes at half their cap, the answer at 800).
    pub output_tokens: u64,
}

impl Estimate {
    /// In USD, when the model's prices are known.
    pub fn cost(&self, info: Option<&ModelInfo>) -> Option<f64> {
        info?.cost(self.input_tokens, 0, self.output_tokens)
    }
}

/// Estimate the requests and tokens of `strategy`.
pub fn estimate(
    strategy: &Strategy,
    docs: &[Measured],
    frame_tokens: u64,
    s: &Settings,
) -> Estimate {
    let final_out = FINAL_ANSWER_GUESS.min(s.reserve.max(1));
    match strategy {
        Strategy::Whole => Estimate {
            requests: 1,
            input_tokens: frame_tokens
                + docs.iter().map(|d| d.tokens + WRAPPER_TOKENS).sum::<u64>(),
            output_tokens: final_out,
        },
        Strategy::Parts(parts) => {
            let note = (s.note_tokens / 2).max(1);
            let per_request = frame_tokens + NOTES_PROMPT_TOKENS + WRAPPER_TOKENS;
            let mut e = Estimate {
                requests: parts.len(),
                input_tokens: parts.iter().map(|p| p.tokens as u64 + per_request).sum(),
                output_tokens: parts.len() as u64 * note,
            };
            let mut notes = vec![note; parts.len()];
            let budget = part_budget(frame_tokens, s) as u64;
            while !fits_final(&notes, frame_tokens, s) && notes.len() > 1 {
                let groups = group(&notes, budget);
                e.requests += groups.len();
                e.input_tokens += notes.iter().sum::<u64>() + groups.len() as u64 * per_request;
                e.output_tokens += groups.len() as u64 * note;
                notes = vec![note; groups.len()];
            }
            e.requests += 1;
            e.input_tokens += frame_tokens + notes.iter().sum::<u64>();
            e.output_tokens += final_out;
            e
        }
    }
}

pub(super) fn fits_final(notes: &[u64], frame_tokens: u64, s: &Settings) -> bool {
    let room = s.room().unwrap_or(u64::MAX);
    frame_tokens + notes.iter().map(|n| n + WRAPPER_TOKENS).sum::<u64>() <= room
}

/// Consecutive groups of at least two notes whose sum stays within `budget` where it can.
pub(super) fn group(notes: &[u64], budget: u64) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < notes.len() {
        let mut j = i;
        let mut sum = 0;
        while j < notes.len() && (j < i + 2 || sum + notes[j] + WRAPPER_TOKENS <= budget) {
            sum += notes[j] + WRAPPER_TOKENS;
            j += 1;
        }
        out.push(i..j);
        i = j;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn count(s: &str) -> usize {
        s.len().div_ceil(4).max(1)
    }

    fn doc(name: &str, paragraphs: usize) -> Measured {
        let text: String = (1..=paragraphs)
            .map(|i| format!("Paragraph {i}: {}\n\n", "word ".repeat(40)))
            .collect();
        measure(name, text, 500, &count)
    }

    fn settings(window: u64) -> Settings {
        Settings {
            window: Some(window),
            reserve: 500,
            chunk_tokens: 1_000,
            overlap_tokens: 100,
            concurrency: 4,
            note_tokens: 300,
        }
    }

    #[test]
    fn what_fits_is_sent_whole() {
        let docs = vec![doc("a.txt", 10)];
        assert!(docs[0].tokens > 500 && docs[0].tokens < 1_000);
        assert_eq!(strategy(&docs, 50, &settings(2_000)), Strategy::Whole);
        let e = estimate(&Strategy::Whole, &docs, 50, &settings(2_000));
        assert_eq!(e.requests, 1);
        assert_eq!(e.input_tokens, 50 + docs[0].tokens + WRAPPER_TOKENS);
        // Unknown window: whole.
        let mut s = settings(0);
        s.window = None;
        assert_eq!(strategy(&docs, 50, &s), Strategy::Whole);
    }

    #[test]
    fn what_does_not_fit_is_read_in_parts_per_document() {
        let docs = vec![doc("a.txt", 100), doc("b.txt", 30)];
        let s = settings(3_000);
        let Strategy::Parts(parts) = strategy(&docs, 50, &s) else {
            panic!("expected parts")
        };
        let a: Vec<_> = parts.iter().filter(|p| p.doc == 0).collect();
        let b: Vec<_> = parts.iter().filter(|p| p.doc == 1).collect();
        assert!(a.len() >= 5, "{}", a.len());
        assert!(b.len() >= 2);
        assert!(parts.iter().all(|p| p.tokens <= 1_000));
        assert_eq!(a.last().unwrap().end, docs[0].text.len());
        assert_eq!(a[0].of, a.len());
        assert_eq!(b[0].index, 1);
        let e = estimate(&Strategy::Parts(parts.clone()), &docs, 50, &s);
        assert!(e.requests > parts.len(), "notes and a final request");
        assert!(e.input_tokens > docs[0].tokens + docs[1].tokens);
    }

    #[test]
    fn many_notes_need_merge_rounds_in_the_estimate() {
        let docs = vec![doc("big.txt", 2_000)];
        let s = settings(3_000);
        let Strategy::Parts(parts) = strategy(&docs, 50, &s) else {
            panic!()
        };
        let e = estimate(&Strategy::Parts(parts.clone()), &docs, 50, &s);
        // 2,000 paragraphs of ~50 tokens in ~1,000-token parts: ~100 notes of ~150 tokens
        // do not fit 2,500 tokens, so there are merge requests too.
        assert!(
            e.requests > parts.len() + 1,
            "{} vs {}",
            e.requests,
            parts.len()
        );
    }

    #[test]
    fn groups_have_at_least_two_notes_and_cover_all() {
        let notes = vec![900, 900, 900, 100, 100, 100, 100, 5_000];
        let g = group(&notes, 1_000);
        assert_eq!(g.first().unwrap().start, 0);
        assert_eq!(g.last().unwrap().end, notes.len());
        for w in g.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert!(g.iter().all(|r| r.len() >= 2 || r.end == notes.len()));
        assert!(g.len() < notes.len(), "each round shrinks");
    }

    #[test]
    fn keep_first_cuts_at_block_boundaries_across_documents() {
        let mut docs = vec![doc("a.txt", 10), doc("b.txt", 10), doc("c.txt", 10)];
        let a = docs[0].tokens;
        let total: u64 = docs.iter().map(|d| d.tokens).sum();
        let cut = keep_first(&mut docs, a + 100);
        assert_eq!(docs.len(), 2, "the third document is dropped");
        assert_eq!(docs[0].tokens, a);
        assert!(docs[1].tokens <= 100 && docs[1].tokens > 0);
        assert!(docs[1].text.ends_with("\n\n"), "whole paragraphs");
        assert_eq!(cut + docs[0].tokens + docs[1].tokens, total);
    }
}
