//! The transcript: each message as wrapped lines (Markdown for answers, plain text for
//! questions, a long question folded and attached documents shown as one line each), the
//! answer being written (its stable prefix rendered once, the tail every frame), status and
//! usage lines, and the welcome hint of an empty session. [`RenderCache`] keeps the lines per
//! message and width, so a frame only copies the visible ones.
//!
//! Drawing only: it reads the [`App`] and reports what it drew as a [`View`]; scrolling and
//! selection are decided by the app. The cache is the one thing it writes.

use std::collections::HashMap;
use std::rc::Rc;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Theme, clip, human_size, key_hint, markdown, pane, thousands};
use crate::app::keymap::Command;
use crate::app::{App, Focus, Mode, Scroll, Turn, View};
use crate::llm::sanitize::sanitize;
use crate::store::{MessageStatus, Role};

/// What a message's drawing depends on besides the width and theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: usize,
    status: MessageStatus,
    selected: bool,
    /// A grounded answer's passages and how many it cites (they arrive apart from the text).
    sources: Option<(usize, usize)>,
}

/// One message's drawn lines.
#[derive(Debug)]
struct CachedTurn {
    stamp: Stamp,
    lines: Rc<Vec<Line<'static>>>,
    /// Its code blocks were laid out without colours (it was near the view, not in it);
    /// drawn again, highlighted, when it comes into view.
    plain_code: bool,
}

/// One message's height in rows: exact once drawn, estimated before.
#[derive(Debug, Clone, Copy)]
struct Height {
    stamp: Stamp,
    rows: usize,
}

/// The stable part of a streaming answer, rendered once.
#[derive(Debug)]
struct StreamPrefix {
    len: usize,
    text: String,
    lines: Rc<Vec<Line<'static>>>,
    blocks: usize,
}

/// A message's identity in the cache: its row id, or its place while it has none.
type TurnKey = (usize, Option<i64>);

/// What is kept between frames: the drawn lines of the messages in and near the view (a
/// long transcript is never laid out whole), every message's height (exact once drawn,
/// estimated before), and the message at the top of the last frame, so the view stays
/// still when heights above it become exact.
#[derive(Debug, Default)]
pub struct RenderCache {
    key: (u16, String, Option<i64>),
    stream: Option<StreamPrefix>,
    turns: HashMap<TurnKey, CachedTurn>,
    heights: HashMap<TurnKey, Height>,
    /// The message at the top of the last frame and where it started then.
    anchor: Option<(TurnKey, usize)>,
}

impl RenderCache {
    /// How many messages have drawn lines kept (the rest have only a height).
    pub fn drawn(&self) -> usize {
        self.turns.len()
    }

    /// How many of them have their code blocks laid out without colours (near the view,
    /// never in it yet).
    pub fn uncoloured(&self) -> usize {
        self.turns.values().filter(|t| t.plain_code).count()
    }
}

/// Messages this many view heights above and below the view are drawn ahead; lines further
/// away are dropped (their heights are kept).
const MARGIN_VIEWS: usize = 1;
const KEEP_VIEWS: usize = 3;

/// Wrap `text` two cells in from the left, every line indented alike.
fn indented(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    markdown::render_plain(text, width.saturating_sub(2).max(10), style)
        .into_iter()
        .map(|l| {
            let mut spans = vec![Span::raw("  ")];
            spans.extend(l.spans);
            Line::from(spans)
        })
        .collect()
}

/// Where a streaming answer can be cut so that the part before it renders the same alone:
/// after the last blank line that is outside a code fence.
fn stable_prefix(text: &str) -> usize {
    let mut in_fence = false;
    let mut cut = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
        }
        pos += line.len();
        if !in_fence && line.trim().is_empty() && pos < text.len() {
            cut = pos;
        }
    }
    cut
}

/// Render a streaming answer: the stable prefix once (cached), the tail every frame. Code
/// block numbers in the tail continue from the prefix's.
fn streaming_body(
    clean: &str,
    width: u16,
    theme: &Theme,
    prefix: &mut Option<StreamPrefix>,
) -> Vec<Line<'static>> {
    let cut = stable_prefix(clean);
    let cached = prefix
        .as_ref()
        .filter(|p| p.len == cut && clean.starts_with(&p.text));
    let (head, blocks) = match cached {
        Some(p) => (p.lines.clone(), p.blocks),
        None => {
            let r = markdown::render(&clean[..cut], width, theme);
            let p = StreamPrefix {
                len: cut,
                text: clean[..cut].to_string(),
                lines: Rc::new(r.lines),
                blocks: r.code_blocks.len(),
            };
            let out = (p.lines.clone(), p.blocks);
            *prefix = Some(p);
            out
        }
    };
    let mut lines: Vec<Line<'static>> = head.as_ref().clone();
    let tail = markdown::render(&clean[cut..], width, theme);
    // Blocks are separated by one blank line, as in the whole render.
    if !lines.is_empty() && !tail.lines.is_empty() && lines.last().is_some_and(|l| l.width() > 0) {
        lines.push(Line::default());
    }
    for mut l in tail.lines {
        if blocks > 0 {
            for span in l.spans.iter_mut() {
                if let Some(rest) = span.content.strip_prefix('[')
                    && let Some((n, after)) = rest.split_once(']')
                    && let Ok(n) = n.parse::<usize>()
                {
                    span.content = format!("[{}]{after}", n + blocks).into();
                }
            }
        }
        lines.push(l);
    }
    lines
}

/// Lines of a long question shown in the transcript.
const FOLD_LINES: usize = 40;
/// Characters of a long question shown in the transcript.
const FOLD_CHARS: usize = 8_000;

/// The start of a long text to show, and how many lines are left out.
fn folded(text: &str) -> (&str, usize) {
    let mut end = text.len();
    if let Some(i) = memchr::memchr_iter(b'\n', text.as_bytes()).nth(FOLD_LINES - 1) {
        end = i;
    }
    if end > FOLD_CHARS {
        end = FOLD_CHARS;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
    }
    if end >= text.len() {
        return (text, 0);
    }
    let rest = &text[end..];
    let hidden = split_lines(rest.strip_prefix('\n').unwrap_or(rest))
        .count()
        .max(1);
    (&text[..end], hidden)
}

/// A message's lines, and whether its code blocks were left without colours (`highlight`
/// false: the message is only near the view, and highlighting is the slowest step).
fn turn_lines(
    app: &App,
    turn: &Turn,
    width: u16,
    theme: &Theme,
    prefix: &mut Option<StreamPrefix>,
    highlight: bool,
) -> (Vec<Line<'static>>, bool) {
    let mut plain_code = false;
    let mut lines = Vec::new();
    let (who, style) = match turn.role {
        Role::User => (tr!("app.role.you"), theme.user),
        Role::Assistant => (tr!("app.role.assistant"), theme.assistant),
        Role::System => (tr!("app.role.system"), theme.muted),
    };
    lines.push(Line::from(Span::styled(format!("▌{who}"), style)));
    let body_width = width.saturating_sub(2).max(10);
    // A long question (a pasted document) shows its start only: drawing megabytes would
    // stall the frame, and the whole text is one `y` away.
    let collapsed;
    let (shown, hidden) = match turn.role {
        Role::User => {
            collapsed = collapse_documents(&turn.content);
            folded(&collapsed)
        }
        _ => (turn.content.as_str(), 0),
    };
    let body: Vec<Line<'static>> = match turn.role {
        // Drawn from the answer's one string, where its driver writes (locked while its
        // unsettled tail is laid out: no copy of the text per frame).
        Role::Assistant if turn.status == MessageStatus::Streaming => app
            .with_turn_text(turn, |text| {
                streaming_body(&sanitize(text), body_width, theme, prefix)
            }),
        Role::Assistant => {
            let clean = sanitize(shown);
            let r = markdown::render_with(&clean, body_width, theme, highlight);
            plain_code = !highlight && !r.code_blocks.is_empty();
            r.lines
        }
        _ => markdown::render_plain(&sanitize(shown), body_width, theme.text),
    };
    for l in body {
        let mut spans = vec![Span::raw("  ")];
        spans.extend(l.spans);
        lines.push(Line::from(spans).style(l.style));
    }
    if hidden > 0 {
        let copy = key_hint(app, Mode::Transcript, Command::CopyMessage);
        lines.extend(indented(
            &format!(
                "… {}",
                tr!(
                    "app.transcript.folded",
                    n = thousands(hidden as u64),
                    key = copy
                )
            ),
            width,
            theme.muted,
        ));
    }
    if turn.role == Role::Assistant {
        match turn.status {
            MessageStatus::Streaming => {
                lines.push(Line::from(Span::styled("  ▍", theme.accent)));
            }
            MessageStatus::Complete => {}
            other => {
                let why = turn
                    .error
                    .as_deref()
                    .map(|e| {
                        let shown = crate::chat::record::shown_reason(e);
                        tr!("app.transcript.why", error = sanitize(&shown)).into_owned()
                    })
                    .unwrap_or_default();
                let style = if other == MessageStatus::Error {
                    theme.error
                } else {
                    theme.warning
                };
                let retry = key_hint(app, Mode::Global, Command::Regenerate);
                let text = format!(
                    "⚠ {}{why} · {}",
                    crate::app::words::status_name(other),
                    tr!("app.transcript.regenerates", key = retry)
                );
                lines.extend(indented(&text, width, style));
            }
        }
        if turn.status != MessageStatus::Streaming
            && let Some(g) = &turn.grounding
        {
            let sources = super::knowledge::sources_lines(app, g);
            for (i, text) in sources.iter().enumerate() {
                let style = match i {
                    0 if g.found() => theme.muted,
                    0 => theme.warning,
                    _ => theme.accent,
                };
                lines.extend(indented(text, width, style));
            }
        }
        if turn.status != MessageStatus::Streaming {
            let mut meta = Vec::new();
            if let Some(m) = &turn.model {
                meta.push(sanitize(m));
            }
            let counted = turn.usage.tokens_in.zip(turn.usage.tokens_out);
            if let Some((i, o)) = counted {
                let (i, o) = (crate::format::thousands(i), crate::format::thousands(o));
                // The server sent no usage (stopped or cut off): clerk's own count, said so.
                meta.push(if turn.usage.estimated {
                    tr!("app.transcript.tokens_estimated", i = i, o = o).into_owned()
                } else {
                    tr!("app.transcript.tokens", i = i, o = o).into_owned()
                });
            }
            // With counts, the cost ("unknown" without a price); without, what a summary's
            // parts cost before it was stopped or failed, if anything.
            if counted.is_some() || turn.cost_usd.is_some() {
                meta.push(crate::config::models::format_usd(turn.cost_usd));
            }
            if let Some(t) = turn.ttft_ms {
                meta.push(
                    tr!(
                        "app.transcript.first_token",
                        s = format!("{:.1}", t as f64 / 1000.0)
                    )
                    .into_owned(),
                );
            }
            if let Some(d) = turn.duration_ms {
                meta.push(
                    tr!(
                        "app.transcript.seconds",
                        s = format!("{:.1}", d as f64 / 1000.0)
                    )
                    .into_owned(),
                );
            }
            if !meta.is_empty() {
                lines.extend(indented(&meta.join(" · "), width, theme.muted));
            }
        }
    }
    lines.push(Line::default());
    (lines, plain_code)
}

/// Lays out message `i` into the cache (highlighted when `highlight`); its height in rows.
#[allow(clippy::too_many_arguments)]
fn draw_turn(
    app: &App,
    i: usize,
    key: TurnKey,
    stamp: Stamp,
    width: u16,
    theme: &Theme,
    cache: &mut RenderCache,
    highlight: bool,
) -> usize {
    let t = &app.transcript[i];
    let (mut l, plain_code) = turn_lines(app, t, width, theme, &mut cache.stream, highlight);
    if stamp.selected
        && let Some(first) = l.first_mut()
    {
        *first = first.clone().patch_style(theme.selection);
    }
    let rows = l.len();
    cache.heights.insert(key, Height { stamp, rows });
    cache.turns.insert(
        key,
        CachedTurn {
            stamp,
            lines: Rc::new(l),
            plain_code,
        },
    );
    rows
}

/// A message's height without drawing it: the rows its `text` would take at `width` (a
/// close estimate; the real height replaces it once the message comes near the view).
fn estimate_rows(turn: &Turn, text: &str, width: u16) -> usize {
    let body = width.saturating_sub(2).max(10) as usize;
    let collapsed;
    let (shown, hidden) = match turn.role {
        Role::User => {
            collapsed = collapse_documents(text);
            folded(&collapsed)
        }
        _ => (text, 0),
    };
    // Widths without a table lookup per character: an ASCII line's is its length; any
    // other line's is taken as the mean of its bytes and characters (exact for CJK, 3 bytes
    // and 2 cells; a little over for accented Latin and emoji): a close estimate is enough.
    let rows: usize = split_lines(shown)
        .map(|l| estimated_width(l).div_ceil(body).max(1))
        .sum();
    let trailer = match turn.role {
        Role::Assistant => 1 + usize::from(turn.status != MessageStatus::Complete),
        _ => 0,
    } + turn
        .grounding
        .as_ref()
        .map_or(0, super::knowledge::sources_rows);
    // The header, the body, a "not shown" line, the status and usage lines, a blank line.
    1 + rows + usize::from(hidden > 0) + trailer + 1
}

/// The lines of `text` as `str::lines` gives them (split at `\n` or `\r\n`; a final line
/// break ends the last line rather than starting an empty one), the breaks found with SIMD:
/// a long session's every message is measured when it opens, ~1 MB.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut from = 0;
    let breaks = memchr::memchr_iter(b'\n', text.as_bytes()).map(Some);
    breaks.chain([None]).filter_map(move |at| {
        let start = from;
        match at {
            Some(at) => {
                from = at + 1;
                let line = &text[start..at];
                Some(line.strip_suffix('\r').unwrap_or(line))
            }
            None => (start < text.len()).then(|| &text[start..]),
        }
    })
}

/// A line's width in cells: an ASCII line's length, any other line's mean of its bytes and
/// its characters (both checks run many bytes at a time).
fn estimated_width(line: &str) -> usize {
    if line.is_ascii() {
        line.len()
    } else {
        (line.len() + line.chars().count()) / 2
    }
}

/// The first line of each message and the total, from the heights.
fn starts_of(heights: &[usize]) -> (Vec<usize>, usize) {
    let mut starts = Vec::with_capacity(heights.len());
    let mut total = 0;
    for h in heights {
        starts.push(total);
        total += h;
    }
    (starts, total)
}

/// The line at the top of the view: following the end, kept on the selected message, or
/// where the user scrolled to — moved by as much as the message at the top of the last frame
/// moved (heights above it became exact), so what is on screen stays still.
fn top_line(
    scroll: Scroll,
    selected: Option<usize>,
    starts: &[usize],
    total: usize,
    height: usize,
    shift: isize,
) -> usize {
    let max_top = total.saturating_sub(height);
    let mut top = match scroll {
        Scroll::Follow => max_top,
        Scroll::Top(t) => t.saturating_add_signed(shift).min(max_top),
    };
    if let (Some(sel), Scroll::Follow) = (selected, scroll)
        && let Some(&start) = starts.get(sel)
        && (start < top || start >= top + height)
    {
        top = start.min(max_top);
    }
    top
}

/// The messages whose lines overlap `from..to`.
fn overlapping(starts: &[usize], total: usize, from: usize, to: usize) -> std::ops::Range<usize> {
    let first = starts.partition_point(|&s| s <= from).saturating_sub(1);
    let end = starts.partition_point(|&s| s < to.min(total.max(1)));
    first..end.max(first)
}

pub(super) fn draw_transcript(
    app: &App,
    theme: &Theme,
    cache: &mut RenderCache,
    frame: &mut Frame<'_>,
    area: Rect,
) -> View {
    let focused = app.focus == Focus::Transcript;
    let title = match app
        .current
        .and_then(|id| app.sessions.iter().find(|s| s.id == id))
    {
        Some(s) => clip(&sanitize(&s.title), area.width.saturating_sub(6) as usize),
        None if app.incognito => tr!("app.transcript.new_incognito").into_owned(),
        None => tr!("app.transcript.new_session").into_owned(),
    };
    let block = pane(&title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width;
    // Another width, theme or session: nothing drawn before applies.
    let key = (width, theme.name.clone(), app.current);
    if cache.key != key {
        cache.key = key;
        cache.turns.clear();
        cache.heights.clear();
        cache.stream = None;
        cache.anchor = None;
    }
    // A saved session with nothing to show is still loading: no welcome hint flashing.
    if app.transcript.is_empty() && app.current.is_some() {
        return View {
            height: inner.height as usize,
            ..View::default()
        };
    }
    if app.transcript.is_empty() {
        let send = key_hint(app, Mode::Input, Command::Send);
        let help = key_hint(app, Mode::Global, Command::Help);
        let search = key_hint(app, Mode::Global, Command::Search);
        let hint = vec![
            Line::default(),
            Line::from(Span::styled(tr!("app.welcome.title"), theme.accent)),
            Line::from(Span::styled(
                tr!(
                    "app.welcome.keys",
                    send = send,
                    search = search,
                    help = help
                ),
                theme.muted,
            )),
        ];
        frame.render_widget(
            Paragraph::new(hint)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            inner,
        );
        return View {
            height: inner.height as usize,
            ..View::default()
        };
    }
    let height = inner.height as usize;
    let keys: Vec<TurnKey> = app
        .transcript
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                if t.id.is_some() { 0 } else { i },
                t.id.or(Some(-(i as i64))),
            )
        })
        .collect();
    let stamp = |i: usize| {
        let t = &app.transcript[i];
        Stamp {
            len: app.with_turn_text(t, str::len),
            status: t.status,
            selected: app.selected_turn == Some(i),
            sources: t
                .grounding
                .as_ref()
                .map(|g| (g.passages.len(), g.cited().count())),
        }
    };
    // Every message's height: exact where drawn, estimated elsewhere.
    let mut rows: Vec<usize> = (0..keys.len())
        .map(|i| {
            let st = stamp(i);
            match cache.heights.get(&keys[i]) {
                Some(h) if h.stamp == st => h.rows,
                _ => {
                    let t = &app.transcript[i];
                    let rows = app.with_turn_text(t, |text| estimate_rows(t, text, width));
                    cache.heights.insert(keys[i], Height { stamp: st, rows });
                    rows
                }
            }
        })
        .collect();
    let (mut starts, mut total) = starts_of(&rows);
    let anchored = |starts: &[usize], anchor: Option<(TurnKey, usize)>| -> isize {
        anchor
            .and_then(|(k, was)| {
                keys.iter()
                    .position(|x| *x == k)
                    .map(|i| starts[i] as isize - was as isize)
            })
            .unwrap_or(0)
    };
    let shift = anchored(&starts, cache.anchor);
    let mut top = top_line(app.scroll, app.selected_turn, &starts, total, height, shift);
    // Draw the messages in and near the view; each drawing makes a height exact, which can
    // move the view (following the end), so repeat until nothing new is drawn.
    for _ in 0..8 {
        let margin = height * MARGIN_VIEWS;
        let near = overlapping(
            &starts,
            total,
            top.saturating_sub(margin),
            top + height + margin,
        );
        let mut drew = false;
        // The message at the top, before heights change: the view stays on it.
        let before = overlapping(&starts, total, top, top + 1).start;
        let before = (
            keys.get(before).copied(),
            starts.get(before).copied().unwrap_or(0),
        );
        let in_view = overlapping(&starts, total, top, top + height);
        for i in near {
            let st = stamp(i);
            let shown = in_view.contains(&i);
            if cache
                .turns
                .get(&keys[i])
                .is_some_and(|c| c.stamp == st && !(c.plain_code && shown))
            {
                continue;
            }
            rows[i] = draw_turn(app, i, keys[i], st, width, theme, cache, shown);
            drew = true;
        }
        if !drew {
            break;
        }
        (starts, total) = starts_of(&rows);
        let shift = match before {
            (Some(k), was) => anchored(&starts, Some((k, was))),
            _ => 0,
        };
        let scroll = match app.scroll {
            Scroll::Top(_) => Scroll::Top(top),
            follow => follow,
        };
        top = top_line(scroll, app.selected_turn, &starts, total, height, shift);
    }
    // What came into view on the last round is highlighted now (the rows are the same).
    for i in overlapping(&starts, total, top, top + height) {
        if cache.turns.get(&keys[i]).is_some_and(|c| c.plain_code) {
            draw_turn(app, i, keys[i], stamp(i), width, theme, cache, true);
        }
    }
    // Copy only the visible lines.
    let mut visible: Vec<Line<'static>> = Vec::with_capacity(height);
    for i in overlapping(&starts, total, top, top + height) {
        let Some(c) = cache.turns.get(&keys[i]) else {
            continue;
        };
        let (start, lines) = (starts[i], &c.lines);
        let from = top.saturating_sub(start);
        let to = (top + height).saturating_sub(start).min(lines.len());
        if from < to {
            visible.extend(lines[from..to].iter().cloned());
        }
    }
    frame.render_widget(Paragraph::new(visible), inner);
    if app.new_below && app.scroll != Scroll::Follow {
        let tag = format!(" {} ", tr!("app.transcript.new_below"));
        let w = super::markdown::display_width(&tag) as u16;
        let r = Rect {
            x: inner.x + inner.width.saturating_sub(w + 1),
            y: inner.y + inner.height.saturating_sub(1),
            width: w.min(inner.width),
            height: 1,
        };
        frame.render_widget(Paragraph::new(Span::styled(tag, theme.highlight)), r);
    }
    // Keep the lines of what is near; forget what is far (and what left the transcript).
    let keep = overlapping(
        &starts,
        total,
        top.saturating_sub(height * KEEP_VIEWS),
        top + height * (KEEP_VIEWS + 1),
    );
    let near: std::collections::HashSet<TurnKey> = keys[keep].iter().copied().collect();
    cache.turns.retain(|k, _| near.contains(k));
    if cache.heights.len() > keys.len() {
        let all: std::collections::HashSet<TurnKey> = keys.iter().copied().collect();
        cache.heights.retain(|k, _| all.contains(k));
    }
    let at_top = overlapping(&starts, total, top, top + 1).start;
    cache.anchor = keys.get(at_top).map(|k| (*k, starts[at_top]));
    View {
        lines: total,
        height,
        top,
        starts,
        ..View::default()
    }
}

/// A question with attached documents shows each as one line ("📄 report.pdf · 312 lines ·
/// 1.2 MB"); the whole text is still what `y` copies.
pub fn collapse_documents(text: &str) -> std::borrow::Cow<'_, str> {
    const OPEN: &str = "<document name=\"";
    const CLOSE: &str = "\n</document>";
    if !text.starts_with(OPEN) && !text.contains(&format!("\n{OPEN}")) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest
        .find(OPEN)
        .filter(|&i| i == 0 || rest[..i].ends_with('\n'))
    {
        let Some(len) = rest[at..].find(CLOSE) else {
            break;
        };
        let block = &rest[at..at + len];
        let name = block[OPEN.len()..].split('"').next().unwrap_or_default();
        let body = block.split_once('\n').map(|(_, b)| b).unwrap_or_default();
        out.push_str(&rest[..at]);
        let n = body.lines().count() as u64;
        let lines = match n {
            1 => tr!("app.transcript.one_line"),
            n => tr!("app.transcript.lines", n = thousands(n)),
        };
        out.push_str(&format!(
            "📄 {} · {lines} · {}",
            name.replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&amp;", "&"),
            human_size(body.len() as u64)
        ));
        rest = &rest[at + len + CLOSE.len()..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    #[test]
    fn the_stable_prefix_ends_after_a_blank_line_outside_fences() {
        assert_eq!(stable_prefix("para one\n\npara two"), 10);
        assert_eq!(stable_prefix("```\ncode\n\nmore\n"), 0);
        assert_eq!(stable_prefix("a\n\n```\nx\n\n"), 3);
        assert_eq!(stable_prefix("no blank line yet"), 0);
    }

    #[test]
    fn streaming_render_matches_the_full_render_and_numbers_code_blocks_on() {
        let theme = Theme::default_theme();
        let text = "Intro with **bold**.\n\n```sh\necho one\n```\n\nMiddle 报销 paragraph.\n\n```rust\nfn two() {}\n```\n\nLast line still stream";
        let full: Vec<String> = markdown::render(text, 60, &theme)
            .lines
            .iter()
            .map(|l| l.to_string())
            .collect();
        let mut prefix = None;
        // Render as the text grows; the final state must equal the full render.
        let mut got = Vec::new();
        for end in (1..=text.len()).filter(|i| text.is_char_boundary(*i)) {
            got = streaming_body(&text[..end], 60, &theme, &mut prefix)
                .iter()
                .map(|l| l.to_string())
                .collect();
        }
        assert_eq!(got, full);
        assert!(got.iter().any(|l| l.contains("[2] rust")), "{got:#?}");
    }

    #[test]
    fn lines_are_split_as_str_lines_splits_them() {
        let long = "a paragraph of prose 报销\n".repeat(50);
        for text in [
            "",
            "\n",
            "\n\n",
            "one",
            "one\n",
            "one\ntwo",
            "one\r\ntwo\r\n",
            "a\rb\n",
            "trailing\r",
            "\r\n",
            "x\n\ny",
            &long,
        ] {
            let ours: Vec<&str> = split_lines(text).collect();
            assert_eq!(ours, text.lines().collect::<Vec<_>>(), "{text:?}");
        }
    }

    #[test]
    fn a_lines_estimated_width_is_exact_for_ascii_and_cjk_and_never_short() {
        let width = super::markdown::display_width;
        // Long enough for the counting to run in blocks, with characters across their edges.
        let mixed = "Receipts within thirty days 差旅报销需要发票。".repeat(9);
        for line in ["", "plain ASCII text", "报销流程，需要审批", mixed.as_str()] {
            assert_eq!(estimated_width(line), width(line), "{line:?}");
        }
        for line in [
            "café résumé naïve",
            "👍 done 👍👍",
            "Ça va? Привет мир",
            "上海 ¥900",
        ] {
            assert!(estimated_width(line) >= width(line), "{line:?}");
        }
    }
}
