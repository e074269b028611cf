//! Markdown to styled terminal lines, for the assistant's turns in the transcript.
//!
//! [`render`] turns one message into [`Line`]s no wider than a given number of terminal
//! cells (widths measured with `unicode-width`, so CJK and emoji take two cells), and lists
//! the message's code blocks so the caller can copy them. [`render_plain`] wraps text that
//! is not Markdown (the user's own turns, notices).
//!
//! This module only lays text out. It must not draw, touch the terminal, read files or the
//! environment, or strip escape sequences: the caller has already removed those from the
//! text. It must not panic on any input, and no returned line may be wider than the width
//! asked for (for widths of 10 cells or more; narrower widths are best effort).
//!
//! State kept between calls: syntect's syntax and theme sets, loaded once on first use, and
//! a bounded cache of highlighted code blocks (syntect is by far the slowest part, and the
//! same blocks come back when the width changes or a streaming message grows).

use std::sync::{Arc, LazyLock, Mutex};

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use syntect::highlighting::{
    FontStyle, HighlightIterator, HighlightState, Highlighter, Style as SynStyle,
    Theme as SynTheme, ThemeSet,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::theme::Theme;

/// One fenced code block of a rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    /// 1-based position among the message's code blocks (shown as `[N]` in its header).
    pub number: usize,
    /// The fence's language token (`rust` in ```` ```rust ````), if any.
    pub lang: Option<String>,
    /// The code exactly, for copying: the block's lines joined with `\n`, without the
    /// newline that ends the last line.
    pub text: String,
    /// Index into [`Rendered::lines`] of the block's header line.
    pub first_line: usize,
}

/// A message rendered for a given width.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The lines, each no wider than the width asked for.
    pub lines: Vec<Line<'static>>,
    /// The message's code blocks, in order.
    pub code_blocks: Vec<CodeBlock>,
}

/// Render Markdown to lines no wider than `width` terminal cells.
///
/// Supports CommonMark plus tables, strikethrough and task lists. Code blocks are
/// highlighted with the syntect theme named by `theme.syntax` (none when it is empty or
/// unknown). An unclosed fence, as in a message still streaming, runs to the end.
pub fn render(markdown: &str, width: u16, theme: &Theme) -> Rendered {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut r = Renderer::new(theme, usize::from(width));
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.finish()
}

/// Wrap plain text (no Markdown) to `width` cells with `style` (used for the user's own turns).
///
/// Every `\n` starts a new line and leading spaces of a line are kept; lines are broken at
/// spaces, between CJK characters, and inside words longer than the width. Tabs become four
/// spaces and other control characters are dropped. Empty text gives one empty line.
pub fn render_plain(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    let mut inline = Inline::default();
    inline.push(text, style);
    wrap(&inline, usize::from(width).max(1))
        .into_iter()
        .map(|l| Line::from(l.spans))
        .collect()
}

/// Display width in cells of a string (unicode-width; CJK and emoji count 2).
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

// ---------------------------------------------------------------------------------------
// Characters and clusters

const ZWJ: char = '\u{200D}';
const TAB_STOP: usize = 4;
const SPACES: &str = "                                                                ";

/// The syntaxes bundled with syntect, loaded once.
static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);
/// The themes bundled with syntect, loaded once.
static SYNTAX_THEMES: LazyLock<ThemeSet> = LazyLock::new(ThemeSet::load_defaults);

/// Splits text into the units that are never broken apart: a character with the combining
/// marks, variation selectors, emoji modifiers and zero-width-joined characters that follow
/// it, or a pair of regional indicators (a flag). Yields each with its width in cells.
struct Clusters<'a> {
    rest: &'a str,
}

impl<'a> Clusters<'a> {
    fn new(s: &'a str) -> Self {
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
fn spaces(n: usize, style: Style) -> Span<'static> {
    match SPACES.get(..n) {
        Some(s) => Span::styled(s, style),
        None => Span::styled(" ".repeat(n), style),
    }
}

/// Append `s` to `spans`, extending the last span when it has the same style.
fn push_span(spans: &mut Vec<Span<'static>>, style: Style, s: &str) {
    if s.is_empty() {
        return;
    }
    match spans.last_mut() {
        Some(last) if last.style == style => last.content.to_mut().push_str(s),
        _ => spans.push(Span::styled(s.to_owned(), style)),
    }
}

/// Cut `spans` to at most `max` cells.
fn truncate_spans(spans: Vec<Span<'static>>, max: usize) -> Vec<Span<'static>> {
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
fn trim_front(spans: &mut Vec<Span<'static>>, cells: usize) {
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
struct Run {
    style: Style,
    start: usize,
    end: usize,
}

/// Styled text of one paragraph, heading or table cell. `\n` marks a hard line break.
#[derive(Debug, Default)]
struct Inline {
    text: String,
    runs: Vec<Run>,
}

impl Inline {
    /// Append `s` in `style`; tabs become spaces, control characters other than `\n` go.
    fn push(&mut self, s: &str, style: Style) {
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

    fn clear(&mut self) {
        self.text.clear();
        self.runs.clear();
    }

    /// Drop everything from byte `pos` on.
    fn truncate(&mut self, pos: usize) {
        self.text.truncate(pos);
        self.runs.retain(|r| r.start < pos);
        if let Some(last) = self.runs.last_mut() {
            last.end = last.end.min(pos);
        }
    }

    /// Width of the widest unbreakable piece: a word (CJK characters break anywhere).
    fn longest_word(&self) -> usize {
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
    fn natural_width(&self) -> usize {
        self.text.split('\n').map(display_width).max().unwrap_or(0)
    }
}

/// One wrapped line and its width in cells.
struct WLine {
    spans: Vec<Span<'static>>,
    width: usize,
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
fn wrap(inline: &Inline, avail: usize) -> Vec<WLine> {
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
// Block structure

#[derive(Debug)]
enum Container {
    Quote,
    List {
        next: Option<u64>,
        depth: usize,
        loose: bool,
        items: usize,
    },
    Item {
        /// Shown on the item's first line, then replaced by spaces.
        marker: Option<String>,
        indent: usize,
    },
}

struct CodeState {
    lang: Option<String>,
    text: String,
}

struct TableState {
    aligns: Vec<Alignment>,
    rows: Vec<Vec<Inline>>,
    head_rows: usize,
    in_head: bool,
}

struct Renderer<'t> {
    theme: &'t Theme,
    width: usize,
    lines: Vec<Line<'static>>,
    code_blocks: Vec<CodeBlock>,
    containers: Vec<Container>,
    quote_depth: usize,
    styles: Vec<Style>,
    inline: Inline,
    pending_blank: bool,
    links: Vec<(usize, String)>,
    images: Vec<usize>,
    code: Option<CodeState>,
    table: Option<TableState>,
}

impl<'t> Renderer<'t> {
    fn new(theme: &'t Theme, width: usize) -> Self {
        Renderer {
            theme,
            width: width.max(1),
            lines: Vec::new(),
            code_blocks: Vec::new(),
            containers: Vec::new(),
            quote_depth: 0,
            styles: Vec::new(),
            inline: Inline::default(),
            pending_blank: false,
            links: Vec::new(),
            images: Vec::new(),
            code: None,
            table: None,
        }
    }

    fn finish(mut self) -> Rendered {
        self.flush_inline();
        self.emit_code();
        if let Some(t) = self.table.take() {
            self.emit_table(&t);
        }
        Rendered {
            lines: self.lines,
            code_blocks: self.code_blocks,
        }
    }

    /// Style of text outside any inline markup.
    fn base(&self) -> Style {
        if self.quote_depth > 0 {
            self.theme.quote
        } else {
            self.theme.text
        }
    }

    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_else(|| self.base())
    }

    fn push_style(&mut self, f: impl FnOnce(Style) -> Style) {
        let s = f(self.style());
        self.styles.push(s);
    }

    /// Where inline text goes: the current table cell, or the paragraph.
    fn target(&mut self) -> &mut Inline {
        match self
            .table
            .as_mut()
            .and_then(|t| t.rows.last_mut())
            .and_then(|r| r.last_mut())
        {
            Some(cell) => cell,
            None => &mut self.inline,
        }
    }

    fn push_text(&mut self, s: &str) {
        let style = if self.images.is_empty() {
            self.style()
        } else {
            self.theme.muted
        };
        self.target().push(s, style);
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => match &mut self.code {
                Some(code) => code.text.push_str(&t),
                None => self.push_text(&t),
            },
            Event::Code(t) => {
                let style = self.style().patch(self.theme.inline_code);
                self.target().push(&t, style);
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => self.push_text(&t),
            Event::Html(t) => self.push_text(&t),
            Event::InlineHtml(t) => {
                let tag: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                if matches!(tag.to_ascii_lowercase().as_str(), "<br>" | "<br/>") {
                    self.push_text("\n");
                } else {
                    self.push_text(&t);
                }
            }
            Event::FootnoteReference(t) => {
                self.push_text("[^");
                self.push_text(&t);
                self.push_text("]");
            }
            Event::SoftBreak => self.push_text(" "),
            Event::HardBreak => self.push_text("\n"),
            Event::Rule => {
                self.flush_inline();
                let avail = self.avail();
                self.emit(vec![Span::styled("─".repeat(avail), self.theme.muted)]);
                self.pending_blank = true;
            }
            Event::TaskListMarker(done) => {
                if let Some(Container::Item {
                    marker: Some(m),
                    indent,
                }) = self.containers.last_mut()
                {
                    let glyph = if done { "☑ " } else { "☐ " };
                    if m.starts_with(|c: char| c.is_ascii_digit()) {
                        m.push_str(glyph);
                    } else {
                        *m = glyph.to_string();
                    }
                    *indent = display_width(m);
                }
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {
                self.flush_inline();
                let n = self.containers.len();
                if n >= 2
                    && matches!(self.containers[n - 1], Container::Item { .. })
                    && let Container::List { loose, .. } = &mut self.containers[n - 2]
                {
                    *loose = true;
                }
            }
            Tag::Heading { level, .. } => {
                self.flush_inline();
                let mut s = self.base().patch(self.theme.heading);
                if matches!(level, HeadingLevel::H1 | HeadingLevel::H2) {
                    s = s.add_modifier(Modifier::UNDERLINED);
                }
                self.styles.push(s);
            }
            Tag::BlockQuote(_) => {
                self.flush_inline();
                // A blank line before a nested quote belongs to the outer one.
                self.emit_pending_blank();
                self.containers.push(Container::Quote);
                self.quote_depth += 1;
            }
            Tag::CodeBlock(kind) => {
                self.flush_inline();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split(|c: char| c.is_whitespace() || c == ',')
                        .next()
                        .map(|t| t.trim_start_matches(['{', '.']).trim_end_matches('}'))
                        .filter(|t| !t.is_empty())
                        .map(str::to_string),
                    CodeBlockKind::Indented => None,
                };
                self.code = Some(CodeState {
                    lang,
                    text: String::new(),
                });
            }
            Tag::HtmlBlock => self.flush_inline(),
            Tag::List(start) => {
                self.flush_inline();
                let depth = self
                    .containers
                    .iter()
                    .filter(|c| matches!(c, Container::List { .. }))
                    .count();
                self.containers.push(Container::List {
                    next: start,
                    depth,
                    loose: false,
                    items: 0,
                });
            }
            Tag::Item => {
                self.flush_inline();
                let mut marker = String::from("• ");
                if let Some(Container::List {
                    next,
                    depth,
                    loose,
                    items,
                }) = self.containers.last_mut()
                {
                    marker = match next {
                        Some(n) => {
                            let m = format!("{n}. ");
                            *n = n.saturating_add(1);
                            m
                        }
                        None => ["• ", "◦ ", "▪ "][(*depth).min(2)].to_string(),
                    };
                    if *items > 0 && !*loose {
                        self.pending_blank = false;
                    }
                    *items += 1;
                }
                let indent = display_width(&marker);
                self.containers.push(Container::Item {
                    marker: Some(marker),
                    indent,
                });
            }
            Tag::Table(aligns) => {
                self.flush_inline();
                self.table = Some(TableState {
                    aligns,
                    rows: Vec::new(),
                    head_rows: 0,
                    in_head: false,
                });
            }
            Tag::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = true;
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {
                let mut head = false;
                if let Some(t) = &mut self.table {
                    head = t.in_head;
                    if let Some(row) = t.rows.last_mut() {
                        row.push(Inline::default());
                    }
                }
                if head {
                    self.push_style(|s| s.add_modifier(Modifier::BOLD));
                }
            }
            Tag::Emphasis => self.push_style(|s| s.add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(|s| s.add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self.push_style(|s| s.add_modifier(Modifier::CROSSED_OUT)),
            Tag::Superscript | Tag::Subscript => self.push_style(|s| s),
            Tag::Link { dest_url, .. } => {
                let link = self.theme.link;
                self.push_style(|s| s.patch(link));
                let start = self.target().text.len();
                self.links.push((start, dest_url.to_string()));
            }
            Tag::Image { .. } => {
                let muted = self.theme.muted;
                let target = self.target();
                let start = target.text.len();
                target.push("[image: ", muted);
                self.images.push(start);
            }
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => self.flush_inline(),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => {
                let keep = self.inline.text.trim_end_matches('\n').len();
                self.inline.truncate(keep);
                self.flush_inline();
                self.pending_blank = true;
            }
            TagEnd::Heading(_) => {
                self.flush_inline();
                self.styles.pop();
                self.pending_blank = true;
            }
            TagEnd::BlockQuote(_) => {
                self.flush_inline();
                if let Some(i) = self
                    .containers
                    .iter()
                    .rposition(|c| matches!(c, Container::Quote))
                {
                    self.containers.truncate(i);
                }
                self.quote_depth = self.quote_depth.saturating_sub(1);
                self.pending_blank = true;
            }
            TagEnd::CodeBlock => {
                self.emit_code();
                self.pending_blank = true;
            }
            TagEnd::List(_) => {
                self.flush_inline();
                if let Some(i) = self
                    .containers
                    .iter()
                    .rposition(|c| matches!(c, Container::List { .. }))
                {
                    self.containers.truncate(i);
                }
                if !matches!(self.containers.last(), Some(Container::Item { .. })) {
                    self.pending_blank = true;
                }
            }
            TagEnd::Item => {
                self.flush_inline();
                if let Some(Container::Item {
                    marker: Some(_), ..
                }) = self.containers.last()
                {
                    self.emit(Vec::new());
                }
                if let Some(i) = self
                    .containers
                    .iter()
                    .rposition(|c| matches!(c, Container::Item { .. }))
                {
                    self.containers.truncate(i);
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.emit_table(&t);
                }
                self.pending_blank = true;
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = false;
                    t.head_rows = t.rows.len();
                }
            }
            TagEnd::TableRow => {}
            TagEnd::TableCell => {
                if self.table.as_ref().is_some_and(|t| t.in_head) {
                    self.styles.pop();
                }
            }
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript => {
                self.styles.pop();
            }
            TagEnd::Link => {
                self.styles.pop();
                if let Some((start, url)) = self.links.pop() {
                    let muted = self.theme.muted;
                    let target = self.target();
                    let text = target.text.get(start..).unwrap_or("");
                    let same = text == url || url.strip_prefix("mailto:") == Some(text);
                    if !same && !url.is_empty() {
                        target.push(" (", muted);
                        target.push(&url, muted);
                        target.push(")", muted);
                    }
                }
            }
            TagEnd::Image => {
                if let Some(start) = self.images.pop() {
                    let muted = self.theme.muted;
                    let target = self.target();
                    if target.text.len() == start + "[image: ".len() {
                        target.truncate(start + "[image".len());
                    }
                    target.push("]", muted);
                }
            }
            TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => {
                self.flush_inline();
                self.pending_blank = true;
            }
        }
    }

    // -- lines and prefixes ------------------------------------------------------------

    /// The widest prefix (quote bars, list indentation) a line may have; deeper nesting is
    /// cut from the left so that text keeps at least half the width.
    fn max_prefix(&self) -> usize {
        self.width.saturating_sub((self.width / 2).max(4))
    }

    fn prefix_width(&self) -> usize {
        let w: usize = self
            .containers
            .iter()
            .map(|c| match c {
                Container::Quote => 2,
                Container::Item { indent, .. } => *indent,
                Container::List { .. } => 0,
            })
            .sum();
        w.min(self.max_prefix())
    }

    /// Cells left for content after the prefix (at least 1).
    fn avail(&self) -> usize {
        self.width.saturating_sub(self.prefix_width()).max(1)
    }

    /// The prefix of the next line. A content line shows (and uses up) pending list markers;
    /// a blank line shows only the quote bars.
    fn prefix(&mut self, blank: bool) -> Vec<Span<'static>> {
        let mut spans = Vec::with_capacity(self.containers.len());
        let mut width = 0;
        let (quote, text, accent) = (self.theme.quote, self.theme.text, self.theme.accent);
        for c in &mut self.containers {
            match c {
                Container::Quote => {
                    spans.push(Span::styled("│ ", quote));
                    width += 2;
                }
                Container::Item { marker, indent } => {
                    match marker.take_if(|_| !blank) {
                        Some(m) => spans.push(Span::styled(m, accent)),
                        None => spans.push(spaces(*indent, text)),
                    }
                    width += *indent;
                }
                Container::List { .. } => {}
            }
        }
        let max = self.max_prefix();
        if width > max {
            trim_front(&mut spans, width - max);
        }
        if blank {
            while let Some(last) = spans.last_mut() {
                let trimmed = last.content.trim_end();
                if trimmed.is_empty() {
                    spans.pop();
                } else {
                    let keep = trimmed.len();
                    last.content.to_mut().truncate(keep);
                    break;
                }
            }
        }
        spans
    }

    fn emit_pending_blank(&mut self) {
        if std::mem::take(&mut self.pending_blank) && !self.lines.is_empty() {
            let prefix = self.prefix(true);
            self.lines.push(Line::from(prefix));
        }
    }

    /// Emit one line: the pending blank line if any, then the prefix and `content`.
    fn emit(&mut self, content: Vec<Span<'static>>) {
        self.emit_pending_blank();
        let mut spans = self.prefix(false);
        spans.extend(content);
        self.lines.push(Line::from(spans));
    }

    /// Wrap and emit the collected paragraph or heading text.
    fn flush_inline(&mut self) {
        if self.inline.text.is_empty() {
            self.inline.clear();
            return;
        }
        let inline = std::mem::take(&mut self.inline);
        for line in wrap(&inline, self.avail()) {
            self.emit(line.spans);
        }
        self.inline = inline;
        self.inline.clear();
    }

    // -- code blocks -------------------------------------------------------------------

    fn emit_code(&mut self) {
        let Some(code) = self.code.take() else {
            return;
        };
        let theme = self.theme;
        let avail = self.avail();
        let number = self.code_blocks.len() + 1;
        self.emit_pending_blank();
        let first_line = self.lines.len();
        let mut header = vec![
            Span::styled("╭─ ", theme.muted),
            Span::styled(format!("[{number}]"), theme.accent),
        ];
        if let Some(lang) = &code.lang {
            header.push(Span::styled(format!(" {lang}"), theme.muted));
        }
        self.emit(truncate_spans(header, avail));

        let text = code.text.strip_suffix('\n').unwrap_or(&code.text);
        let highlights = code_highlights(theme, code.lang.as_deref(), text);
        let mut segments: Vec<(Style, &str)> = Vec::new();
        let mut rows: Vec<Vec<Span<'static>>> = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            segments.clear();
            let styled = highlights.as_ref().and_then(|h| h.lines.get(i));
            for &(s, start, end) in styled.into_iter().flatten() {
                if let Some(piece) = line.get(start..end) {
                    segments.push((syn_style(theme.code, s), piece));
                }
            }
            if segments.is_empty() {
                segments.push((theme.code, line));
            }
            code_rows(&segments, avail, theme.code, &mut rows);
            for row in rows.drain(..) {
                self.emit(row);
            }
        }
        self.emit(truncate_spans(vec![Span::styled("╰─", theme.muted)], avail));
        self.code_blocks.push(CodeBlock {
            number,
            lang: code.lang,
            text: text.to_string(),
            first_line,
        });
    }

    // -- tables ------------------------------------------------------------------------

    fn emit_table(&mut self, t: &TableState) {
        let n = t
            .rows
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .max(t.aligns.len());
        if n == 0 {
            return;
        }
        let avail = self.avail();
        let natural: Vec<usize> = (0..n)
            .map(|c| {
                t.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(Inline::natural_width)
                    .max()
                    .unwrap_or(0)
                    .max(1)
            })
            .collect();
        let words: Vec<usize> = (0..n)
            .map(|c| {
                t.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(Inline::longest_word)
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        match column_widths(&natural, &words, avail) {
            Some((widths, pad)) => self.emit_grid(t, &widths, pad),
            None => self.emit_stacked(t, n, avail),
        }
    }

    fn emit_grid(&mut self, t: &TableState, widths: &[usize], pad: usize) {
        let border = self.theme.border;
        let fill = self.base();
        let rule = |l: char, m: char, r: char| {
            let mut s = String::new();
            s.push(l);
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    s.push(m);
                }
                for _ in 0..w + 2 * pad {
                    s.push('─');
                }
            }
            s.push(r);
            vec![Span::styled(s, border)]
        };
        self.emit(rule('┌', '┬', '┐'));
        let empty = Inline::default();
        for (i, row) in t.rows.iter().enumerate() {
            let mut cells: Vec<_> = widths
                .iter()
                .enumerate()
                .map(|(c, &w)| wrap(row.get(c).unwrap_or(&empty), w).into_iter())
                .collect();
            let height = cells.iter().map(ExactSizeIterator::len).max().unwrap_or(1);
            for _ in 0..height {
                let mut spans = vec![Span::styled("│", border)];
                for (c, &w) in widths.iter().enumerate() {
                    let (content, used) = match cells[c].next() {
                        Some(l) => (l.spans, l.width),
                        None => (Vec::new(), 0),
                    };
                    let free = w.saturating_sub(used);
                    let (left, right) = match t.aligns.get(c) {
                        Some(Alignment::Right) => (free, 0),
                        Some(Alignment::Center) => (free / 2, free - free / 2),
                        _ => (0, free),
                    };
                    if pad + left > 0 {
                        spans.push(spaces(pad + left, fill));
                    }
                    spans.extend(content);
                    if right + pad > 0 {
                        spans.push(spaces(right + pad, fill));
                    }
                    spans.push(Span::styled("│", border));
                }
                self.emit(spans);
            }
            if i + 1 == t.head_rows {
                self.emit(rule('├', '┼', '┤'));
            }
        }
        self.emit(rule('└', '┴', '┘'));
    }

    /// A table too wide for any grid: each row as `header: value` lines.
    fn emit_stacked(&mut self, t: &TableState, n: usize, avail: usize) {
        let head = t.rows.get(..t.head_rows).and_then(<[Vec<Inline>]>::last);
        let body = t.rows.get(t.head_rows..).unwrap_or(&[]);
        let label = self.base().add_modifier(Modifier::BOLD);
        let mut cell_text = Inline::default();
        if body.is_empty() {
            for cell in head.into_iter().flatten() {
                for line in wrap(cell, avail) {
                    self.emit(line.spans);
                }
            }
            return;
        }
        for (i, row) in body.iter().enumerate() {
            if i > 0 {
                self.emit(vec![Span::styled("─".repeat(avail), self.theme.border)]);
            }
            for c in 0..n {
                cell_text.clear();
                if let Some(h) = head.and_then(|h| h.get(c))
                    && !h.text.is_empty()
                {
                    for r in &h.runs {
                        cell_text.push(&h.text[r.start..r.end], r.style);
                    }
                    cell_text.push(": ", label);
                }
                if let Some(cell) = row.get(c) {
                    for r in &cell.runs {
                        cell_text.push(&cell.text[r.start..r.end], r.style);
                    }
                }
                for line in wrap(&cell_text, avail) {
                    self.emit(line.spans);
                }
            }
        }
    }
}

/// Column widths (and cell padding, 1 or 0) for a grid table no wider than `avail`, or
/// `None` when even the narrowest grid does not fit. `natural` is each column's unwrapped
/// width, `words` its longest unbreakable word. Too wide a table has its widest columns
/// shrunk: first no narrower than their longest word, else down to 3 cells.
fn column_widths(natural: &[usize], words: &[usize], avail: usize) -> Option<(Vec<usize>, usize)> {
    const MIN: usize = 3;
    let n = natural.len();
    for pad in [1, 0] {
        let Some(target) = avail.checked_sub(n + 1 + 2 * pad * n) else {
            continue;
        };
        if natural.iter().sum::<usize>() <= target {
            return Some((natural.to_vec(), pad));
        }
        let word_floor: Vec<usize> = natural
            .iter()
            .zip(words)
            .map(|(&w, &word)| w.min(word.max(MIN)))
            .collect();
        let min_floor: Vec<usize> = natural.iter().map(|&w| w.min(MIN)).collect();
        for floor in [&word_floor, &min_floor] {
            if let Some(widths) = shrink(natural, floor, target) {
                return Some((widths, pad));
            }
        }
    }
    None
}

/// Water-filling: cap every column at the largest `cap` (never below its floor) that keeps
/// the total within `target`, then hand out what is left one cell at a time.
fn shrink(natural: &[usize], floor: &[usize], target: usize) -> Option<Vec<usize>> {
    let width = |cap: usize, w: usize, f: usize| w.min(cap.max(f));
    let total = |cap: usize| -> usize {
        natural
            .iter()
            .zip(floor)
            .map(|(&w, &f)| width(cap, w, f))
            .sum()
    };
    if total(0) > target {
        return None;
    }
    // total(lo) <= target < total(hi)
    let (mut lo, mut hi) = (0, natural.iter().copied().max().unwrap_or(0));
    if total(hi) <= target {
        return Some(natural.to_vec());
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if total(mid) <= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut left = target - total(lo);
    Some(
        natural
            .iter()
            .zip(floor)
            .map(|(&w, &f)| {
                let c = width(lo, w, f);
                if c < w && left > 0 {
                    left -= 1;
                    c + 1
                } else {
                    c
                }
            })
            .collect(),
    )
}

/// Highlighted code: for each line, syntect styles over byte ranges of the line (none for
/// a line left plain).
#[derive(Debug, Default)]
struct Highlights {
    lines: Vec<Vec<(SynStyle, usize, usize)>>,
}

/// Lines longer than this are left plain (regexes on huge lines are slow; Sublime Text
/// does the same).
const MAX_HIGHLIGHT_LINE: usize = 2_000;
/// Lines of a block past this are left plain.
const MAX_HIGHLIGHT_LINES: usize = 2_000;
/// The highlight cache's budget: source bytes plus styled ranges.
const CACHE_BYTES: usize = 32 << 20;
/// The most blocks the highlight cache keeps.
const CACHE_ENTRIES: usize = 4_096;

/// Highlighted code blocks, kept across calls: highlighting with syntect costs far more than
/// everything else here, and the same blocks are rendered again when the width changes and
/// while a message streams in. Least recently used blocks go first.
struct HighlightCache {
    entries: Vec<CacheEntry>,
    bytes: usize,
    clock: u64,
}

struct CacheEntry {
    theme: String,
    syntax: String,
    text: String,
    highlights: Arc<Highlights>,
    /// Parser state before the last line, to continue from when the text grows.
    resume: Option<(ParseState, HighlightState)>,
    used: u64,
    bytes: usize,
}

static HIGHLIGHT_CACHE: Mutex<HighlightCache> = Mutex::new(HighlightCache {
    entries: Vec::new(),
    bytes: 0,
    clock: 0,
});

/// Where highlighting resumes: the lines already done and the state after them.
struct Resume {
    lines: Vec<Vec<(SynStyle, usize, usize)>>,
    start: usize,
    state: (ParseState, HighlightState),
}

impl HighlightCache {
    fn lock() -> std::sync::MutexGuard<'static, HighlightCache> {
        HIGHLIGHT_CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&mut self, theme: &str, syntax: &str, text: &str) -> Option<Arc<Highlights>> {
        self.clock += 1;
        let e = self
            .entries
            .iter_mut()
            .find(|e| e.text == text && e.syntax == syntax && e.theme == theme)?;
        e.used = self.clock;
        Some(e.highlights.clone())
    }

    /// The longest cached block whose complete lines (all but its last) start `text`; it is
    /// removed, as the new text supersedes it (a streaming block).
    fn take_prefix(&mut self, theme: &str, syntax: &str, text: &str) -> Option<Resume> {
        let mut best: Option<(usize, usize)> = None;
        for (i, e) in self.entries.iter().enumerate() {
            let Some(done) = e.text.rfind('\n').map(|n| n + 1) else {
                continue;
            };
            if e.resume.is_some()
                && best.is_none_or(|(_, len)| done > len)
                && text.as_bytes().get(..done) == Some(&e.text.as_bytes()[..done])
                && e.syntax == syntax
                && e.theme == theme
            {
                best = Some((i, done));
            }
        }
        let (i, start) = best?;
        let e = self.entries.swap_remove(i);
        self.bytes -= e.bytes;
        let state = e.resume?;
        let mut lines = Arc::try_unwrap(e.highlights)
            .unwrap_or_else(|h| Highlights {
                lines: h.lines.clone(),
            })
            .lines;
        lines.pop();
        Some(Resume {
            lines,
            start,
            state,
        })
    }

    fn insert(&mut self, mut entry: CacheEntry) {
        self.clock += 1;
        entry.used = self.clock;
        self.bytes += entry.bytes;
        self.entries.push(entry);
        while self.entries.len() > 1
            && (self.bytes > CACHE_BYTES || self.entries.len() > CACHE_ENTRIES)
        {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.used)
                .map(|(i, _)| i)
            else {
                break;
            };
            let e = self.entries.swap_remove(oldest);
            self.bytes -= e.bytes;
        }
    }
}

/// Highlights for a code block, or `None` for plain code (no syntect theme, unknown theme
/// or unknown language).
fn code_highlights(theme: &Theme, lang: Option<&str>, text: &str) -> Option<Arc<Highlights>> {
    if theme.syntax.is_empty() {
        return None;
    }
    let syntax = find_syntax(lang?)?;
    let syn_theme = SYNTAX_THEMES.themes.get(&theme.syntax)?;
    let resume = {
        let mut cache = HighlightCache::lock();
        if let Some(h) = cache.get(&theme.syntax, &syntax.name, text) {
            return Some(h);
        }
        cache.take_prefix(&theme.syntax, &syntax.name, text)
    };
    let (highlights, state) = highlight(syntax, syn_theme, text, resume);
    let highlights = Arc::new(highlights);
    let ranges: usize = highlights.lines.iter().map(Vec::len).sum();
    let bytes = text.len()
        + ranges * std::mem::size_of::<(SynStyle, usize, usize)>()
        + highlights.lines.len() * std::mem::size_of::<Vec<()>>();
    HighlightCache::lock().insert(CacheEntry {
        theme: theme.syntax.clone(),
        syntax: syntax.name.clone(),
        text: text.to_string(),
        highlights: highlights.clone(),
        resume: state,
        used: 0,
        bytes,
    });
    Some(highlights)
}

/// Highlight `text` line by line, from the start or from `resume`. Also returns the state
/// before the last line.
fn highlight(
    syntax: &SyntaxReference,
    syn_theme: &SynTheme,
    text: &str,
    resume: Option<Resume>,
) -> (Highlights, Option<(ParseState, HighlightState)>) {
    let highlighter = Highlighter::new(syn_theme);
    let (mut lines, start, (mut parse, mut state)) = match resume {
        Some(r) => (r.lines, r.start, r.state),
        None => {
            let state = HighlightState::new(&highlighter, ScopeStack::new());
            (Vec::new(), 0, (ParseState::new(syntax), state))
        }
    };
    let mut before_last = None;
    let mut buf = String::new();
    let mut rest = text.get(start..).unwrap_or("").split('\n').peekable();
    while let Some(line) = rest.next() {
        if rest.peek().is_none() {
            before_last = Some((parse.clone(), state.clone()));
        }
        let mut ranges = Vec::new();
        if line.len() <= MAX_HIGHLIGHT_LINE && lines.len() < MAX_HIGHLIGHT_LINES {
            // syntect's grammars expect the newline.
            buf.clear();
            buf.push_str(line);
            buf.push('\n');
            if let Ok(ops) = parse.parse_line(&buf, &SYNTAXES) {
                let mut pos = 0;
                for (style, piece) in HighlightIterator::new(&mut state, &ops, &buf, &highlighter) {
                    let end = (pos + piece.len()).min(line.len());
                    if end > pos {
                        ranges.push((style, pos, end));
                    }
                    pos += piece.len();
                }
            }
        }
        lines.push(ranges);
    }
    (Highlights { lines }, before_last)
}

/// The bundled syntax for a fence's language token (a name or a file extension).
fn find_syntax(lang: &str) -> Option<&'static SyntaxReference> {
    let lower = lang.to_ascii_lowercase();
    let token = match lower.as_str() {
        "shell" | "console" | "zsh" | "bash" | "shellscript" | "sh-session" => "sh",
        "c++" => "cpp",
        "c#" | "csharp" => "cs",
        "ts" | "typescript" | "tsx" | "jsx" | "javascript" | "node" | "mjs" | "cjs" => "js",
        "python3" | "py3" => "py",
        "golang" => "go",
        "objc" | "objective-c" => "m",
        "make" | "makefile" => "Makefile",
        "yml" => "yaml",
        "text" | "txt" | "plain" | "plaintext" => return None,
        other => other,
    };
    SYNTAXES.find_syntax_by_token(token)
}

/// A syntect style on top of the theme's code style (whose background is kept).
fn syn_style(code: Style, s: SynStyle) -> Style {
    let mut style = code;
    let fg = s.foreground;
    if fg.a > 0 {
        style = style.fg(Color::Rgb(fg.r, fg.g, fg.b));
    }
    for (f, m) in [
        (FontStyle::BOLD, Modifier::BOLD),
        (FontStyle::ITALIC, Modifier::ITALIC),
        (FontStyle::UNDERLINE, Modifier::UNDERLINED),
    ] {
        if s.font_style.contains(f) {
            style = style.add_modifier(m);
        }
    }
    style
}

/// Lay out one source line of code as rows exactly `avail` cells wide: wrapped at `avail`,
/// tabs expanded, padded with spaces in `pad_style`.
fn code_rows(
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
    use super::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn dark() -> Theme {
        Theme::default_theme()
    }

    /// The span containing `needle` in any line.
    fn span_with<'a>(lines: &'a [Line<'static>], needle: &str) -> &'a Span<'static> {
        lines
            .iter()
            .flat_map(|l| l.spans.iter())
            .find(|s| s.content.contains(needle))
            .unwrap_or_else(|| panic!("no span contains {needle:?} in {:?}", texts(lines)))
    }

    fn assert_fits(lines: &[Line<'_>], width: usize, input: &str) {
        for (i, l) in lines.iter().enumerate() {
            let s: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            assert!(
                display_width(&s) <= width && l.width() <= width,
                "line {i} is {} cells at width {width}: {s:?}\ninput: {input:?}",
                display_width(&s)
            );
        }
    }

    #[test]
    fn heading_text_and_style() {
        let t = dark();
        let r = render("# Title here\n\nBody text.\n\n### Small", 40, &t);
        let lines = texts(&r.lines);
        assert_eq!(lines, ["Title here", "", "Body text.", "", "Small"]);
        let h1 = &r.lines[0].spans[0];
        assert_eq!(
            h1.style,
            t.text.patch(t.heading).add_modifier(Modifier::UNDERLINED)
        );
        let h3 = span_with(&r.lines, "Small");
        assert_eq!(h3.style, t.text.patch(t.heading));
        assert!(!h3.style.add_modifier.contains(Modifier::UNDERLINED));
        assert_eq!(span_with(&r.lines, "Body").style, t.text);
    }

    #[test]
    fn inline_styles() {
        let t = dark();
        let r = render("plain *it* **bold** `code` ~~gone~~ ***both***", 80, &t);
        assert_eq!(texts(&r.lines), ["plain it bold code gone both"]);
        assert_eq!(span_with(&r.lines, "plain").style, t.text);
        assert!(
            span_with(&r.lines, "it")
                .style
                .add_modifier
                .contains(Modifier::ITALIC)
        );
        let bold = span_with(&r.lines, "bold").style;
        assert!(
            bold.add_modifier.contains(Modifier::BOLD)
                && !bold.add_modifier.contains(Modifier::ITALIC)
        );
        assert_eq!(
            span_with(&r.lines, "code").style,
            t.text.patch(t.inline_code)
        );
        assert!(
            span_with(&r.lines, "gone")
                .style
                .add_modifier
                .contains(Modifier::CROSSED_OUT)
        );
        let both = span_with(&r.lines, "both").style.add_modifier;
        assert!(both.contains(Modifier::BOLD | Modifier::ITALIC));
    }

    #[test]
    fn links_and_images() {
        let t = dark();
        let r = render(
            "see [the docs](https://x.io/d) or <https://y.io> ![a cat](cat.png) ![](x.png)",
            80,
            &t,
        );
        assert_eq!(
            texts(&r.lines),
            ["see the docs (https://x.io/d) or https://y.io [image: a cat] [image]"]
        );
        assert_eq!(span_with(&r.lines, "the docs").style, t.text.patch(t.link));
        assert_eq!(span_with(&r.lines, "(https://x.io/d)").style, t.muted);
        assert_eq!(
            span_with(&r.lines, "https://y.io").style,
            t.text.patch(t.link)
        );
        assert_eq!(span_with(&r.lines, "[image: a cat]").style, t.muted);
    }

    #[test]
    fn bullet_lists_nest_and_numbered_lists_keep_their_start() {
        let t = dark();
        let r = render(
            "- one\n  - two\n    - three\n      - four\n- five\n\n3. third\n4. fourth",
            40,
            &t,
        );
        assert_eq!(
            texts(&r.lines),
            [
                "• one",
                "  ◦ two",
                "    ▪ three",
                "      ▪ four",
                "• five",
                "",
                "3. third",
                "4. fourth"
            ]
        );
        assert_eq!(r.lines[0].spans[0].style, t.accent);
        assert_eq!(span_with(&r.lines, "one").style, t.text);
        // Continuation lines are indented to the text start.
        let r = render("1. alpha beta gamma delta\n2. x", 12, &t);
        assert_eq!(
            texts(&r.lines),
            ["1. alpha", "   beta", "   gamma", "   delta", "2. x"]
        );
        // Task items.
        let r = render("- [ ] todo\n- [x] done", 40, &t);
        assert_eq!(texts(&r.lines), ["☐ todo", "☑ done"]);
        // Loose lists keep a blank line between items.
        let r = render("- a\n\n- b", 40, &t);
        assert_eq!(texts(&r.lines), ["• a", "", "• b"]);
    }

    #[test]
    fn quotes_prefix_every_line() {
        let t = dark();
        let r = render("> first words here\n>\n> > nested", 12, &t);
        assert_eq!(
            texts(&r.lines),
            ["│ first", "│ words here", "│", "│ │ nested"]
        );
        for l in &r.lines {
            assert_eq!(l.spans[0].style, t.quote);
        }
        assert_eq!(span_with(&r.lines, "first").style, t.quote);
        assert_eq!(span_with(&r.lines, "nested").style, t.quote);
    }

    #[test]
    fn code_blocks_have_numbered_headers_padded_lines_and_exact_text() {
        let t = dark();
        let code = "fn main() {\n\tprintln!(\"hi\");\n}";
        let md = format!("Intro.\n\n```rust\n{code}\n```\n\nthen\n\n```\nplain   text\n```\n");
        let r = render(&md, 30, &t);
        let lines = texts(&r.lines);
        assert_eq!(r.code_blocks.len(), 2);
        let b1 = &r.code_blocks[0];
        assert_eq!(
            (b1.number, b1.lang.as_deref(), b1.text.as_str()),
            (1, Some("rust"), code)
        );
        assert_eq!(lines[b1.first_line], "╭─ [1] rust");
        assert_eq!(span_with(&r.lines, "[1]").style, t.accent);
        assert_eq!(r.lines[b1.first_line].spans[0].style, t.muted);
        let body = b1.first_line + 1..b1.first_line + 4;
        for (text, line) in lines[body.clone()].iter().zip(&r.lines[body]) {
            assert_eq!(display_width(text), 30, "{text:?}");
            for s in &line.spans {
                assert_eq!(s.style.bg, t.code.bg, "{s:?}");
            }
        }
        assert_eq!(lines[b1.first_line + 2].trim_end(), "    println!(\"hi\");");
        assert_eq!(lines[b1.first_line + 4], "╰─");
        let b2 = &r.code_blocks[1];
        assert_eq!(
            (b2.number, b2.lang.as_deref(), b2.text.as_str()),
            (2, None, "plain   text")
        );
        assert_eq!(lines[b2.first_line], "╭─ [2]");
        // Long code lines wrap, continuation lines padded too.
        let long = "let x = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\";";
        let r = render(&format!("```rust\n{long}\n```"), 20, &t);
        let lines = texts(&r.lines);
        assert_eq!(lines.len(), 2 + long.len().div_ceil(20));
        for l in &lines[1..lines.len() - 1] {
            assert_eq!(display_width(l), 20);
        }
        assert_eq!(lines[1..lines.len() - 1].concat().trim_end(), long);
    }

    #[test]
    fn syntect_colours_keywords_with_the_dark_theme() {
        let t = dark();
        let r = render("```rust\nlet value = compute();\n```", 40, &t);
        let kw = span_with(&r.lines, "let").style.fg;
        let ident = span_with(&r.lines, "compute").style.fg;
        assert!(matches!(kw, Some(Color::Rgb(..))), "{kw:?}");
        assert_ne!(kw, ident);
        assert_ne!(kw, t.code.fg);
    }

    #[test]
    fn plain_code_style_without_syntax_theme() {
        let mut t = dark();
        t.syntax = String::new();
        let r = render("```rust\nlet value = compute();\n```", 40, &t);
        let b = &r.code_blocks[0];
        let body = &r.lines[b.first_line + 1];
        assert!(!body.spans.is_empty());
        for s in &body.spans {
            assert_eq!(s.style, t.code, "{s:?}");
        }
        // An unknown syntect theme or language also falls back to plain code.
        t.syntax = "no-such-theme".into();
        let r = render("```rust\nlet x;\n```\n```klingon\nqapla\n```", 40, &t);
        for b in &r.code_blocks {
            let l = &r.lines[b.first_line + 1];
            assert!(l.spans.iter().all(|s| s.style == t.code), "{l:?}");
        }
    }

    #[test]
    fn highlighting_is_cached_and_resumes_as_a_block_grows() {
        let syntax = find_syntax("rust").expect("rust syntax");
        let syn_theme = SYNTAX_THEMES
            .themes
            .get("base16-ocean.dark")
            .expect("theme");
        let t = dark();
        let text: String = (0..12)
            .map(|i| format!("let cached_{i} = \"str {i}\"; /* c */ fn f{i}() {{}}\n"))
            .collect::<String>()
            + "/* open comment\nstill comment */ let end = 1;";
        // Stream it in: every prefix renders, and each one resumes from the previous one.
        for cut in (1..text.len())
            .filter(|&i| text.is_char_boundary(i))
            .step_by(7)
        {
            let r = render(&format!("```rust\n{}", &text[..cut]), 40, &t);
            let part = &text[..cut];
            assert_eq!(
                r.code_blocks[0].text,
                part.strip_suffix('\n').unwrap_or(part)
            );
        }
        let streamed = code_highlights(&t, Some("rust"), &text).expect("highlights");
        let fresh = highlight(syntax, syn_theme, &text, None).0;
        assert_eq!(streamed.lines, fresh.lines);
        assert!(fresh.lines.iter().all(|l| !l.is_empty()));
        let again = code_highlights(&t, Some("rust"), &text).expect("highlights");
        assert!(
            Arc::ptr_eq(&streamed, &again),
            "second call should come from the cache"
        );
    }

    /// Display columns of every `│`, `┼`, `┬`, `┴` … in a line.
    fn separator_columns(line: &str) -> Vec<usize> {
        let mut cols = Vec::new();
        let mut at = 0;
        for (cl, w) in Clusters::new(line) {
            if "│┼┬┴├┤┌┐└┘".contains(cl) {
                cols.push(at);
            }
            at += w;
        }
        cols
    }

    #[test]
    fn chinese_table_aligns() {
        let t = dark();
        let md = "| 项目 | 金额 |\n|---|---:|\n| 差旅报销 | 1,200 元 |\n| 餐费 | 80 元 |";
        let r = render(md, 60, &t);
        let lines = texts(&r.lines);
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert_eq!(lines[0], "┌──────────┬──────────┐");
        assert_eq!(lines[1], "│ 项目     │     金额 │");
        assert_eq!(lines[3], "│ 差旅报销 │ 1,200 元 │");
        assert_eq!(lines[4], "│ 餐费     │    80 元 │");
        let w0 = display_width(&lines[0]);
        let cols0 = separator_columns(&lines[0]);
        for l in &lines {
            assert_eq!(display_width(l), w0, "{l}");
            assert_eq!(separator_columns(l), cols0, "{l}");
        }
        assert_eq!(r.lines[0].spans[0].style, t.border);
        assert!(
            span_with(&r.lines, "项目")
                .style
                .add_modifier
                .contains(Modifier::BOLD)
        );
        assert!(
            !span_with(&r.lines, "差旅")
                .style
                .add_modifier
                .contains(Modifier::BOLD)
        );
    }

    #[test]
    fn wide_table_shrinks_and_wraps() {
        let t = dark();
        let md = "| Name | Description | Status |\n|:-:|---|---|\n| alpha | a rather long description of the first item that will not fit | ok |\n| 中文名字 | 这是一个非常长的中文描述需要换行才能放得下 | 完成 |";
        for width in [24u16, 30, 40] {
            let r = render(md, width, &t);
            let lines = texts(&r.lines);
            assert!(lines.len() > 7, "rows should wrap: {lines:#?}");
            let w0 = display_width(&lines[0]);
            assert!(w0 <= usize::from(width));
            let cols0 = separator_columns(&lines[0]);
            for l in &lines {
                assert_eq!(display_width(l), w0, "{l}");
                assert_eq!(separator_columns(l), cols0, "{l}");
            }
            let all = lines.concat();
            assert!(all.contains("alpha") && all.contains("ok"), "{lines:#?}");
        }
        // The widest column is the one shrunk.
        assert_eq!(
            column_widths(&[4, 60, 6], &[4, 10, 6], 40),
            Some((vec![4, 20, 6], 1))
        );
        assert_eq!(
            column_widths(&[50, 60, 6], &[5, 5, 6], 40),
            Some((vec![12, 12, 6], 1))
        );
        // Whole words are kept when there is room, else columns go down to 3 cells.
        assert_eq!(
            column_widths(&[20, 20], &[15, 3], 30),
            Some((vec![15, 8], 1))
        );
        assert_eq!(
            column_widths(&[20, 20], &[15, 15], 30),
            Some((vec![12, 11], 1))
        );
        assert_eq!(
            column_widths(&[20, 20], &[15, 15], 10),
            Some((vec![4, 3], 0))
        );
        assert_eq!(column_widths(&[20, 20, 20], &[1, 1, 1], 10), None);
        // Too many columns for a grid: rows as `header: value` lines.
        let md = "| a | b | c | d | e | f |\n|---|---|---|---|---|---|\n| 1 | 2 | 3 | 4 | 5 | 6 |";
        let r = render(md, 10, &t);
        assert_eq!(
            texts(&r.lines),
            ["a: 1", "b: 2", "c: 3", "d: 4", "e: 5", "f: 6"]
        );
    }

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

    #[test]
    fn unclosed_fence_renders_as_code_to_the_end() {
        let t = dark();
        let r = render("Here:\n\n```python\nprint('hi')\nx = [", 30, &t);
        assert_eq!(r.code_blocks.len(), 1);
        assert_eq!(r.code_blocks[0].text, "print('hi')\nx = [");
        let lines = texts(&r.lines);
        assert_eq!(lines[2], "╭─ [1] python");
        assert_eq!(lines.last().map(String::as_str), Some("╰─"));
        assert_eq!(lines[3].trim_end(), "print('hi')");
    }

    #[test]
    fn rule_plain_text_and_breaks() {
        let t = dark();
        let r = render("a\n\n---\n\nb  \nc\nd", 12, &t);
        assert_eq!(
            texts(&r.lines),
            ["a", "", "─".repeat(12).as_str(), "", "b", "c d"]
        );
        assert_eq!(r.lines[2].spans[0].style, t.muted);
        let style = Style::default().fg(Color::Red);
        let lines = render_plain("  indented line that wraps\n\nsecond\tpart", 12, style);
        assert_eq!(
            texts(&lines),
            ["  indented", "line that", "wraps", "", "second", "part"]
        );
        assert!(
            lines
                .iter()
                .flat_map(|l| &l.spans)
                .all(|s| s.style == style)
        );
        assert_eq!(texts(&render_plain("", 10, style)), [""]);
        assert_eq!(display_width("a中👍🏽"), 5);
    }

    #[test]
    fn no_line_is_wider_than_the_width() {
        let long_word = "x".repeat(300);
        let deep_list: String = (0..30)
            .map(|i| format!("{}- level {i} item text\n", "  ".repeat(i)))
            .collect();
        let deep_quote = format!("{} deep quote text that goes on", ">".repeat(40));
        let wide_table = format!(
            "| {} |\n|{}|\n| {} |",
            (0..12)
                .map(|i| format!("列{i}标题"))
                .collect::<Vec<_>>()
                .join(" | "),
            "---|".repeat(12),
            (0..12)
                .map(|i| format!("value{i}{}", "z".repeat(i * 3)))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let corpus: Vec<String> = vec![
            "https://example.com/".to_string() + &"segment/".repeat(40),
            long_word,
            "中文没有空格".repeat(30),
            "日本語のテキスト、句読点。「括弧」も含む。".repeat(10),
            "한국어 텍스트와 English 가 섞인 문장입니다 ".repeat(10),
            "👍🏽👨\u{200D}👩\u{200D}👧\u{200D}👦🇫🇷🇯🇵❤\u{FE0F}".repeat(20),
            "a\u{301}\u{302}\u{303}".repeat(60),
            deep_list,
            deep_quote,
            wide_table,
            "| a | b |\n|---|---|\n| 中 | 文 |\n| x |".to_string(),
            "```rust\n".to_string() + &"let 变量 = \"字符串\t\twith tabs\"; // 注释 ".repeat(8) + "\n```",
            "```\n\t\tindented\u{7}bell\r\n```".to_string(),
            "    indented code block with a very long line of text in it ok".to_string(),
            "# A heading that is rather long and has a 中文 part and **bold** text".to_string(),
            "> - [x] quoted task with `inline code that is long` and [link](https://example.org/long/url/path)".to_string(),
            "1. a\n   1. b\n      1. c\n         1. d\n            1. e\n               ```\n               code here\n               ```".to_string(),
            "Tab\tseparated\u{0}nul\u{1b}esc and trailing spaces   \nhard break".to_string(),
            "---\n***\n___".to_string(),
            "![an image with a very long alt text that needs wrapping](https://x.y/z.png)".to_string(),
            "| 表 |\n|---|\n| ".to_string() + &"字".repeat(80) + " |",
            "<div>\nraw html block with long text inside that goes on and on\n</div>".to_string(),
        ];
        let t = dark();
        for input in &corpus {
            for width in [10u16, 11, 17, 40, 80, 120] {
                let r = render(input, width, &t);
                assert!(!r.lines.is_empty(), "{input:?}");
                assert_fits(&r.lines, usize::from(width), input);
                assert_fits(
                    &render_plain(input, width, t.text),
                    usize::from(width),
                    input,
                );
            }
        }
    }
}
