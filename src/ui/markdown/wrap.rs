//! Characters, clusters and line breaking: styled text cut into lines of a given width.
//!
//! Here are the clusters that are never split (a character with its combining marks, emoji
//! sequences, flags), the rules for where a line may break (at spaces, and between CJK
//! characters unless that would start a line with closing punctuation or end one with
//! opening punctuation), small helpers over spans, the styled [`Inline`] text of a
//! paragraph or table cell, the greedy [`wrap`] over it, and [`code_rows`] for lines of
//! code, which break anywhere.
//!
//! It must not know about Markdown, themes or syntect: it gets text and styles and gives
//! lines of spans, none wider than asked (a cluster wider than the whole line becomes `…`).
//! It must not panic on any input.

use ratatui::style::Style;
use ratatui::text::Span;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::display_width;

// ---------------------------------------------------------------------------------------
// Characters and clusters

const ZWJ: char = '\u{200D}';
const TAB_STOP: usize = 4;
const SPACES: &str = "                                                                ";

/// Splits text into the units that are never broken apart: a character with the combining
/// marks, variation selectors, emoji modifiers and zero-width-joined characters that follow
/// it, or a pair of regional indicators (a flag). Yields each with its width in cells.
pub(super) struct Clusters<'a> {
    rest: &'a str,
}

impl<'a> Clusters<'a> {
    pub(super) fn new(s: &'a str) -> Self {
        Clusters { rest: s }
    }
}

impl<'a> Iterator for Clusters<'a> {
    type Item = (&'a str, usize);

    fn next(&mut self) -> Option<(&'a str, usize)> {
        let bytes = self.rest.as_bytes();
        let &b0 = bytes.first()?;
        // Fast path: an ASCII character followed by ASCII (or nothing) is a cluster by itself.
        if b0 < 0x80 && bytes.get(1).is_none_or(|&b| b < 0x80) {
            let (head, tail) = self.rest.split_at(1);
            self.rest = tail;
            return Some((head, usize::from((0x20..0x7f).contains(&b0))));
        }
        let (head, tail) = self.rest.split_at(cluster_len(self.rest));
        self.rest = tail;
        let width = if head.starts_with(char::is_control) {
            0
        } else {
            UnicodeWidthStr::width(head)
        };
        Some((head, width))
    }
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Whether `c` belongs to the cluster before it.
fn is_extend(c: char) -> bool {
    c == ZWJ
        || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
        || (!c.is_control() && c.width() == Some(0))
}

/// Byte length of the cluster at the start of `s` (0 only for empty `s`).
fn cluster_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    let Some((_, first)) = chars.next() else {
        return 0;
    };
    let mut end = first.len_utf8();
    if first.is_control() {
        return end;
    }
    let mut prev = first;
    let mut flag_open = is_regional_indicator(first);
    for (i, c) in chars {
        let joins = if prev == ZWJ {
            !c.is_control() && !c.is_whitespace()
        } else if flag_open && is_regional_indicator(c) {
            flag_open = false;
            true
        } else {
            is_extend(c)
        };
        if !joins {
            break;
        }
        end = i + c.len_utf8();
        prev = c;
    }
    end
}

/// Characters that must not start a line (closing punctuation).
fn no_break_before(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '、'
            | '；'
            | '：'
            | '！'
            | '？'
            | '）'
            | '」'
            | '』'
            | '】'
            | '》'
            | '〉'
            | '〕'
            | '］'
            | '｝'
            | '”'
            | '’'
            | '…'
            | '・'
            | 'ー'
            | '.'
            | ','
            | ';'
            | ':'
            | '!'
            | '?'
            | ')'
            | ']'
            | '}'
            | '%'
    )
}

/// Characters that must not end a line (opening punctuation).
fn no_break_after(c: char) -> bool {
    matches!(
        c,
        '（' | '「'
            | '『'
            | '【'
            | '《'
            | '〈'
            | '〔'
            | '［'
            | '｛'
            | '“'
            | '‘'
            | '('
            | '['
            | '{'
    )
}

/// A span of `n` spaces; borrows a static string when it can.
pub(super) fn spaces(n: usize, style: Style) -> Span<'static> {
    match SPACES.get(..n) {
        Some(s) => Span::styled(s, style),
        None => Span::styled(" ".repeat(n), style),
    }
}

/// Append `s` to `spans`, extending the last span when it has the same style.
pub(super) fn push_span(spans: &mut Vec<Span<'static>>, style: Style, s: &str) {
    if s.is_empty() {
        return;
    }
    match spans.last_mut() {
        Some(last) if last.style == style => last.content.to_mut().push_str(s),
        _ => spans.push(Span::styled(s.to_owned(), style)),
    }
}

/// Cut `spans` to at most `max` cells.
pub(super) fn truncate_spans(spans: Vec<Span<'static>>, max: usize) -> Vec<Span<'static>> {
    let mut out = Vec::with_capacity(spans.len());
    let mut used = 0;
    for span in spans {
        let w = span.width();
        if used + w <= max {
            used += w;
            out.push(span);
            continue;
        }
        for (cl, cw) in Clusters::new(&span.content) {
            if used + cw > max {
                break;
            }
            used += cw;
            push_span(&mut out, span.style, cl);
        }
        break;
    }
    out
}

/// Remove `cells` cells from the start of `spans` (a wide character cut in half becomes a
/// space, so the result is exactly `cells` narrower).
pub(super) fn trim_front(spans: &mut Vec<Span<'static>>, cells: usize) {
    let mut left = cells;
    while left > 0 && !spans.is_empty() {
        let w = spans[0].width();
        if w <= left {
            left -= w;
            spans.remove(0);
            continue;
        }
        let span = spans.remove(0);
        let mut cut = 0;
        let mut pad = 0;
        for (cl, cw) in Clusters::new(&span.content) {
            if left == 0 {
                break;
            }
            cut += cl.len();
            pad = cw.saturating_sub(left);
            left = left.saturating_sub(cw);
        }
        let mut rest = String::with_capacity(span.content.len() - cut + pad);
        rest.push_str(&SPACES[..pad.min(SPACES.len())]);
        rest.push_str(&span.content[cut..]);
        spans.insert(0, Span::styled(rest, span.style));
    }
}

// ---------------------------------------------------------------------------------------
// Styled inline text and wrapping

/// A stretch of [`Inline::text`] in one style.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub(super) style: Style,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// Styled text of one paragraph, heading or table cell. `\n` marks a hard line break.
#[derive(Debug, Default)]
pub(super) struct Inline {
    pub(super) text: String,
    pub(super) runs: Vec<Run>,
}

impl Inline {
    /// Append `s` in `style`; tabs become spaces, control characters other than `\n` go.
    pub(super) fn push(&mut self, s: &str, style: Style) {
        let start = self.text.len();
        if s.chars().any(|c| c.is_control() && c != '\n') {
            for c in s.chars() {
                match c {
                    '\t' => self.text.push_str(&SPACES[..TAB_STOP]),
                    '\n' => self.text.push('\n'),
                    c if c.is_control() => {}
                    c => self.text.push(c),
                }
            }
        } else {
            self.text.push_str(s);
        }
        let end = self.text.len();
        if end == start {
            return;
        }
        match self.runs.last_mut() {
            Some(last) if last.style == style && last.end == start => last.end = end,
            _ => self.runs.push(Run { style, start, end }),
        }
    }

    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.runs.clear();
    }

    /// Drop everything from byte `pos` on.
    pub(super) fn truncate(&mut self, pos: usize) {
        self.text.truncate(pos);
        self.runs.retain(|r| r.start < pos);
        if let Some(last) = self.runs.last_mut() {
            last.end = last.end.min(pos);
        }
    }

    /// Width of the widest unbreakable piece: a word (CJK characters break anywhere).
    pub(super) fn longest_word(&self) -> usize {
        let (mut best, mut cur) = (0, 0);
        for (cl, w) in Clusters::new(&self.text) {
            if cl.starts_with([' ', '\n']) || w >= 2 {
                cur = 0;
                best = best.max(w.min(2));
            } else {
                cur += w;
                best = best.max(cur);
            }
        }
        best
    }

    /// Width of the widest line when not wrapped.
    pub(super) fn natural_width(&self) -> usize {
        self.text.split('\n').map(display_width).max().unwrap_or(0)
    }
}

/// One wrapped line and its width in cells.
pub(super) struct WLine {
    pub(super) spans: Vec<Span<'static>>,
    pub(super) width: usize,
}

/// Greedy line filling over styled runs.
struct Wrapper<'a> {
    src: &'a str,
    avail: usize,
    out: Vec<WLine>,
    cur: Vec<Span<'static>>,
    cur_w: usize,
    /// The current line began at the start of the text or after a hard break, so leading
    /// spaces are kept.
    hard_start: bool,
    /// Spaces waiting between the line's last word and the next one.
    space: Option<(Style, usize)>,
    /// The word being collected: pieces of `src`.
    word: Vec<Run>,
    word_w: usize,
    prev_wide: bool,
    prev_no_break_after: bool,
}

/// Wrap `inline` to lines of at most `avail` (>= 1) cells. Always gives at least one line.
pub(super) fn wrap(inline: &Inline, avail: usize) -> Vec<WLine> {
    let mut w = Wrapper {
        src: &inline.text,
        avail: avail.max(1),
        out: Vec::new(),
        cur: Vec::new(),
        cur_w: 0,
        hard_start: true,
        space: None,
        word: Vec::new(),
        word_w: 0,
        prev_wide: false,
        prev_no_break_after: false,
    };
    for run in &inline.runs {
        let mut pos = run.start;
        for (cl, cw) in Clusters::new(&inline.text[run.start..run.end]) {
            let start = pos;
            pos += cl.len();
            w.cluster(run.style, start, pos, cl, cw);
        }
    }
    w.flush_word();
    let spans = std::mem::take(&mut w.cur);
    w.out.push(WLine {
        spans,
        width: w.cur_w,
    });
    w.out
}

impl Wrapper<'_> {
    fn cluster(&mut self, style: Style, start: usize, end: usize, cl: &str, cw: usize) {
        let first = cl.chars().next().unwrap_or(' ');
        if first == '\n' || first == ' ' {
            self.flush_word();
            self.prev_wide = false;
            self.prev_no_break_after = false;
            if first == '\n' {
                self.break_line(true);
            } else {
                self.add_space(style, cl, cw);
            }
            return;
        }
        let wide = cw >= 2;
        if (wide || self.prev_wide) && !self.prev_no_break_after && !no_break_before(first) {
            self.flush_word();
        }
        self.prev_wide = wide;
        self.prev_no_break_after = no_break_after(first);
        match self.word.last_mut() {
            Some(last) if last.style == style && last.end == start => last.end = end,
            _ => self.word.push(Run { style, start, end }),
        }
        self.word_w += cw;
    }

    fn add_space(&mut self, style: Style, cl: &str, cw: usize) {
        if self.cur_w == 0 && self.space.is_none() {
            // Leading spaces: kept after a hard break (indentation), dropped after a wrap.
            if self.hard_start && cw <= self.avail {
                push_span(&mut self.cur, style, cl);
                self.cur_w += cw;
            }
            return;
        }
        match &mut self.space {
            Some((_, w)) => *w += cw,
            None => self.space = Some((style, cw)),
        }
    }

    fn flush_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let sp = self.space.map_or(0, |s| s.1);
        if self.cur_w + sp + self.word_w <= self.avail {
            self.emit_space();
            self.emit_word();
        } else if self.word_w <= self.avail {
            self.break_line(false);
            self.emit_word();
        } else {
            // Longer than a line: start it here if a good part of the line is free.
            let room = self.avail.saturating_sub(self.cur_w + sp);
            if self.cur_w > 0 && room * 2 < self.avail {
                self.break_line(false);
            } else {
                self.emit_space();
            }
            self.emit_word_broken();
        }
        self.word.clear();
        self.word_w = 0;
    }

    fn emit_space(&mut self) {
        if let Some((style, w)) = self.space.take() {
            let mut left = w;
            while left > 0 {
                let n = left.min(SPACES.len());
                push_span(&mut self.cur, style, &SPACES[..n]);
                left -= n;
            }
            self.cur_w += w;
        }
    }

    fn emit_word(&mut self) {
        let src = self.src;
        for run in &self.word {
            push_span(&mut self.cur, run.style, &src[run.start..run.end]);
        }
        self.cur_w += self.word_w;
    }

    fn emit_word_broken(&mut self) {
        let src = self.src;
        let word = std::mem::take(&mut self.word);
        for run in &word {
            for (cl, cw) in Clusters::new(&src[run.start..run.end]) {
                if self.cur_w + cw > self.avail && self.cur_w > 0 {
                    self.break_line(false);
                }
                if cw > self.avail {
                    // Only when a line is narrower than one character.
                    push_span(&mut self.cur, run.style, "…");
                    self.cur_w += 1;
                } else {
                    push_span(&mut self.cur, run.style, cl);
                    self.cur_w += cw;
                }
            }
        }
        self.word = word;
    }

    fn break_line(&mut self, hard: bool) {
        let spans = std::mem::take(&mut self.cur);
        self.out.push(WLine {
            spans,
            width: self.cur_w,
        });
        self.cur_w = 0;
        self.space = None;
        self.hard_start = hard;
    }
}

// ---------------------------------------------------------------------------------------
// Code lines

/// Lay out one source line of code as rows exactly `avail` cells wide: wrapped at `avail`,
/// tabs expanded, padded with spaces in `pad_style`.
pub(super) fn code_rows(
    segments: &[(Style, &str)],
    avail: usize,
    pad_style: Style,
    rows: &mut Vec<Vec<Span<'static>>>,
) {
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut w = 0;
    let mut col = 0;
    let finish =
        |cur: &mut Vec<Span<'static>>, w: &mut usize, rows: &mut Vec<Vec<Span<'static>>>| {
            if *w < avail {
                cur.push(spaces(avail - *w, pad_style));
            }
            rows.push(std::mem::take(cur));
            *w = 0;
        };
    for &(style, seg) in segments {
        if seg.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            // Printable ASCII: one cell per byte.
            let mut rest = seg;
            while !rest.is_empty() {
                if w == avail {
                    finish(&mut cur, &mut w, rows);
                }
                let take = (avail - w).min(rest.len());
                let (head, tail) = rest.split_at(take);
                push_span(&mut cur, style, head);
                w += take;
                col += take;
                rest = tail;
            }
            continue;
        }
        for (cl, cw) in Clusters::new(seg) {
            let (piece, pw, repeat) = if cl == "\t" {
                (" ", 1, TAB_STOP - col % TAB_STOP)
            } else if cl.starts_with(char::is_control) {
                continue;
            } else if cw > avail {
                ("…", 1, 1)
            } else {
                (cl, cw, 1)
            };
            for _ in 0..repeat {
                if w + pw > avail && w > 0 {
                    finish(&mut cur, &mut w, rows);
                }
                push_span(&mut cur, style, piece);
                w += pw;
                col += pw;
            }
        }
    }
    finish(&mut cur, &mut w, rows);
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::super::tests::{assert_fits, dark, texts};
    use super::*;

    #[test]
    fn long_url_and_cjk_wrap_within_width() {
        let t = dark();
        let url =
            "https://example.com/a/very/long/path/that/goes/on/and/on/forever?with=query&and=more";
        let r = render(&format!("Link: {url} end"), 20, &t);
        assert_fits(&r.lines, 20, url);
        assert!(texts(&r.lines).concat().contains("forever?with=query"));
        let cjk = "这是一个没有空格的很长的中文段落用来测试换行是否正确处理每一个字符的宽度";
        let r = render(cjk, 21, &t);
        let lines = texts(&r.lines);
        assert_fits(&r.lines, 21, cjk);
        assert_eq!(lines.concat(), cjk);
        assert!(lines.len() > 3);
        for l in &lines[..lines.len() - 1] {
            assert_eq!(display_width(l), 20, "{l}");
        }
        // Closing punctuation does not start a line.
        let r = render("一二三四五，六七八", 10, &t);
        assert_eq!(texts(&r.lines), ["一二三四", "五，六七八"]);
    }

    #[test]
    fn emoji_and_combining_marks_stay_whole() {
        let t = dark();
        let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦";
        let thumbs = "👍🏽";
        let text = format!(
            "{thumbs}{family}{thumbs}{family}{thumbs}{family} ok {family}{family}{family}{family}{family}"
        );
        for width in [10u16, 11, 12] {
            let r = render(&text, width, &t);
            assert_fits(&r.lines, usize::from(width), &text);
            let joined = texts(&r.lines).join("|");
            assert_eq!(joined.matches(family).count(), 8, "{joined}");
            assert_eq!(joined.matches(thumbs).count(), 3, "{joined}");
        }
        let accented = "e\u{301}".repeat(30);
        let r = render(&accented, 10, &t);
        for l in texts(&r.lines) {
            assert!(l.starts_with('e') && l.ends_with('\u{301}'), "{l:?}");
            assert_eq!(display_width(&l), 10);
        }
    }
}
