//! Splitting a long text into parts that each fit a token budget, along its structure
//! (pages, headings, paragraphs, then lines, then characters as a last resort), with a
//! little overlap between neighbours. Nothing is lost: the parts cover the text from its
//! first byte to its last, in order.
//!
//! Counting ([`blocks`]) is the slow step (a tokenizer call per block) and is done once;
//! planning ([`plan`]) is arithmetic on the counts.

/// A piece of text that is never split further by [`plan`]: a byte range and its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Tokens in it.
    pub tokens: usize,
}

/// A part of the text to send on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// First byte (inside the previous part when they overlap).
    pub start: usize,
    /// Where the text new to this part starts.
    pub fresh: usize,
    /// One past the last byte.
    pub end: usize,
    /// Tokens in it (the sum of its blocks).
    pub tokens: usize,
}

/// Byte ranges of the text's structural units: a unit ends at a blank line, before a
/// heading (`#`) and before a page marker (`--- page N ---`). Every byte is in one range.
pub fn units(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    let mut prev_blank = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let opens = t.starts_with('#') || (t.starts_with("--- page ") && t.ends_with("---"));
        if pos > start && (opens || (prev_blank && !t.is_empty())) {
            out.push((start, pos));
            start = pos;
        }
        prev_blank = t.is_empty();
        pos += line.len();
    }
    if pos > start {
        out.push((start, pos));
    }
    out
}

/// Count the units of `text` into blocks of at most `max_tokens` each: a unit that is too
/// big is cut at line ends, and a line that is too big at character boundaries.
pub fn blocks(text: &str, max_tokens: usize, count: &dyn Fn(&str) -> usize) -> Vec<Block> {
    let max_tokens = max_tokens.max(1);
    let mut out = Vec::new();
    for (s, e) in units(text) {
        let tokens = count(&text[s..e]);
        if tokens <= max_tokens {
            out.push(Block {
                start: s,
                end: e,
                tokens,
            });
            continue;
        }
        // Too big: line by line.
        let mut pos = s;
        for line in text[s..e].split_inclusive('\n') {
            let ls = pos;
            pos += line.len();
            let lt = count(line);
            if lt <= max_tokens {
                out.push(Block {
                    start: ls,
                    end: pos,
                    tokens: lt,
                });
            } else {
                split_line(text, ls, pos, max_tokens, count, &mut out);
            }
        }
    }
    out
}

/// Cut one long line into pieces of at most `max_tokens`, at character boundaries.
fn split_line(
    text: &str,
    start: usize,
    end: usize,
    max_tokens: usize,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<Block>,
) {
    let mut s = start;
    while s < end {
        // A token is at least one byte: start from a guess and halve until it fits.
        let mut len = (max_tokens * 3).min(end - s);
        loop {
            let mut e = s + len;
            while e < end && !text.is_char_boundary(e) {
                e += 1;
            }
            let e = e.min(end);
            let t = count(&text[s..e]);
            if t <= max_tokens || len <= 1 {
                out.push(Block {
                    start: s,
                    end: e,
                    tokens: t,
                });
                s = e;
                break;
            }
            len /= 2;
        }
    }
}

/// Group blocks into parts of at most `max_tokens`; each part after the first starts with
/// up to `overlap_tokens` of the end of the one before (whole blocks), as long as it still
/// fits with at least one new block.
pub fn plan(blocks: &[Block], max_tokens: usize, overlap_tokens: usize) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        // Overlap: whole blocks just before `i`, within the overlap budget.
        let mut back = i;
        let mut overlap = 0;
        while back > 0
            && !chunks.is_empty()
            && overlap + blocks[back - 1].tokens <= overlap_tokens
            && overlap + blocks[back - 1].tokens + blocks[i].tokens <= max_tokens
        {
            back -= 1;
            overlap += blocks[back].tokens;
        }
        let mut tokens = overlap;
        let mut j = i;
        while j < blocks.len() && (j == i || tokens + blocks[j].tokens <= max_tokens) {
            tokens += blocks[j].tokens;
            j += 1;
        }
        chunks.push(Chunk {
            start: blocks[back].start,
            fresh: blocks[i].start,
            end: blocks[j - 1].end,
            tokens,
        });
        i = j;
    }
    chunks
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A stand-in tokenizer: one token per 4 bytes, at least one.
    fn count(s: &str) -> usize {
        s.len().div_ceil(4).max(1)
    }

    fn sample() -> String {
        let mut t = String::new();
        for p in 1..=30 {
            t.push_str(&format!("--- page {p} ---\n# Section {p}\n\n"));
            for k in 0..5 {
                t.push_str(&format!(
                    "Paragraph {k} of page {p}: 报销 rules and travel details, {}.\n\n",
                    "words ".repeat(p * 3 % 17 + 1)
                ));
            }
        }
        // A long line without breaks and a huge paragraph.
        t.push_str(&"x".repeat(5_000));
        t.push('\n');
        t
    }

    #[test]
    fn units_cover_the_text_and_break_at_structure() {
        let t = sample();
        let u = units(&t);
        assert_eq!(u[0].0, 0);
        assert_eq!(u.last().unwrap().1, t.len());
        for w in u.windows(2) {
            assert_eq!(w[0].1, w[1].0, "no gap, no overlap");
        }
        assert!(u.iter().any(|&(s, _)| t[s..].starts_with("# Section 2")));
        assert!(u.iter().any(|&(s, _)| t[s..].starts_with("--- page 2 ---")));
    }

    #[test]
    fn plan_invariants_hold_for_many_budgets() {
        let t = sample();
        for max in [40, 64, 100, 257, 1000, 100_000] {
            let b = blocks(&t, max, &count);
            assert!(b.iter().all(|b| b.tokens <= max), "blocks fit {max}");
            let overlap = max / 10;
            let chunks = plan(&b, max, overlap);
            // Nothing lost: the fresh parts tile the text exactly.
            assert_eq!(chunks[0].start, 0);
            assert_eq!(chunks[0].fresh, 0);
            assert_eq!(chunks.last().unwrap().end, t.len());
            for w in chunks.windows(2) {
                assert_eq!(w[0].end, w[1].fresh, "{max}: contiguous");
                assert!(w[1].start <= w[1].fresh);
            }
            for c in &chunks {
                assert!(c.tokens <= max, "{max}: {c:?}");
                assert!(
                    count(&t[c.start..c.end]) <= max + 2,
                    "{max}: the text itself fits"
                );
                assert!(t.is_char_boundary(c.start) && t.is_char_boundary(c.end));
            }
            if max < 1000 {
                assert!(
                    chunks.iter().skip(1).any(|c| c.start < c.fresh),
                    "{max}: neighbours overlap"
                );
            }
            if max == 100_000 {
                assert_eq!(chunks.len(), 1, "a text that fits is one part");
            }
        }
    }

    #[test]
    fn overlap_never_stops_progress_and_cjk_is_cut_at_char_boundaries() {
        let t = "中".repeat(10_000);
        let b = blocks(&t, 50, &|s: &str| s.chars().count());
        assert!(b.iter().all(|b| b.tokens <= 50));
        let chunks = plan(&b, 50, 45);
        assert_eq!(chunks.last().unwrap().end, t.len());
        for c in &chunks {
            assert!(c.fresh < c.end, "each part brings new text");
        }
    }
}
