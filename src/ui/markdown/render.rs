//! The Markdown renderer: pulldown-cmark events in, [`Rendered`] lines out.
//!
//! [`Renderer`] keeps the open containers (quotes, lists, items) and starts each line with
//! their bars, markers and indentation; it collects the text of paragraphs and headings
//! and has it wrapped, and lays out code blocks (a numbered header, highlighted rows padded
//! to the width) and tables (a grid whose widest columns shrink to fit, or `header: value`
//! lines when no grid fits).
//!
//! It must not break text into lines itself (that is `wrap`'s job) nor call syntect (that
//! is `highlight`'s). It keeps no state between calls, draws nothing and reads no files.

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::highlight::{code_highlights, syn_style};
use super::wrap::{Inline, code_rows, spaces, trim_front, truncate_spans, wrap};
use super::{CodeBlock, Rendered, display_width};
use crate::ui::theme::Theme;

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

pub(super) struct Renderer<'t> {
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
    /// Whether code blocks are highlighted (off for a message laid out only for its height:
    /// the rows are the same either way).
    highlight: bool,
}

impl<'t> Renderer<'t> {
    pub(super) fn new(theme: &'t Theme, width: usize, highlight: bool) -> Self {
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
            highlight,
        }
    }

    pub(super) fn finish(mut self) -> Rendered {
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

    pub(super) fn event(&mut self, event: Event<'_>) {
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
        let highlights = if self.highlight {
            code_highlights(theme, code.lang.as_deref(), text)
        } else {
            None
        };
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

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::super::tests::{dark, span_with, texts};
    use super::super::wrap::Clusters;
    use super::*;

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
}
