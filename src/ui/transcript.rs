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

/// One message's drawn lines and what they were drawn from.
#[derive(Debug)]
struct CachedTurn {
    len: usize,
    status: MessageStatus,
    selected: bool,
    lines: Rc<Vec<Line<'static>>>,
}

/// The stable part of a streaming answer, rendered once.
#[derive(Debug)]
struct StreamPrefix {
    len: usize,
    text: String,
    lines: Rc<Vec<Line<'static>>>,
    blocks: usize,
}

/// Wrapped lines of each message, per width and theme.
#[derive(Debug, Default)]
pub struct RenderCache {
    key: (u16, String),
    stream: Option<StreamPrefix>,
    turns: HashMap<(usize, Option<i64>), CachedTurn>,
}

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
    if let Some((i, _)) = text.match_indices('\n').nth(FOLD_LINES - 1) {
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
    let hidden = rest
        .strip_prefix('\n')
        .unwrap_or(rest)
        .lines()
        .count()
        .max(1);
    (&text[..end], hidden)
}

fn turn_lines(
    app: &App,
    turn: &Turn,
    width: u16,
    theme: &Theme,
    prefix: &mut Option<StreamPrefix>,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let (who, style) = match turn.role {
        Role::User => ("You", theme.user),
        Role::Assistant => ("Assistant", theme.assistant),
        Role::System => ("System", theme.muted),
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
    let clean = sanitize(shown);
    let body: Vec<Line<'static>> = match turn.role {
        Role::Assistant if turn.status == MessageStatus::Streaming => {
            streaming_body(&clean, body_width, theme, prefix)
        }
        Role::Assistant => markdown::render(&clean, body_width, theme).lines,
        _ => markdown::render_plain(&clean, body_width, theme.text),
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
                "… {} more line(s) not shown · select it and press {copy} to copy all of it",
                thousands(hidden as u64)
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
                    .map(|e| format!(": {}", sanitize(e)))
                    .unwrap_or_default();
                let style = if other == MessageStatus::Error {
                    theme.error
                } else {
                    theme.warning
                };
                let retry = key_hint(app, Mode::Global, Command::Regenerate);
                let text = format!("⚠ {}{why} · {retry} regenerates", other.as_str());
                lines.extend(indented(&text, width, style));
            }
        }
        if turn.status != MessageStatus::Streaming {
            let mut meta = Vec::new();
            if let Some(m) = &turn.model {
                meta.push(sanitize(m));
            }
            if let (Some(i), Some(o)) = (turn.usage.tokens_in, turn.usage.tokens_out) {
                meta.push(format!("{i} → {o} tokens"));
                meta.push(crate::config::models::format_usd(turn.cost_usd));
            }
            if let Some(t) = turn.ttft_ms {
                meta.push(format!("first token {:.1} s", t as f64 / 1000.0));
            }
            if let Some(d) = turn.duration_ms {
                meta.push(format!("{:.1} s", d as f64 / 1000.0));
            }
            if !meta.is_empty() {
                lines.extend(indented(&meta.join(" · "), width, theme.muted));
            }
        }
    }
    lines.push(Line::default());
    lines
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
        None => "New session".to_string(),
    };
    let block = pane(&title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width;
    if cache.key != (width, theme.name.clone()) {
        cache.key = (width, theme.name.clone());
        cache.turns.clear();
        cache.stream = None;
    }
    let mut all: Vec<Rc<Vec<Line<'static>>>> = Vec::with_capacity(app.transcript.len());
    let mut starts = Vec::with_capacity(app.transcript.len());
    let mut total = 0;
    for (i, t) in app.transcript.iter().enumerate() {
        let key = (
            if t.id.is_some() { 0 } else { i },
            t.id.or(Some(-(i as i64))),
        );
        let selected = app.selected_turn == Some(i);
        let hit = cache
            .turns
            .get(&key)
            .filter(|c| c.len == t.content.len() && c.status == t.status && c.selected == selected);
        let lines = match hit {
            Some(c) => c.lines.clone(),
            None => {
                let mut l = turn_lines(app, t, width, theme, &mut cache.stream);
                if selected && let Some(first) = l.first_mut() {
                    *first = first.clone().patch_style(theme.selection);
                }
                let rc = Rc::new(l);
                let entry = CachedTurn {
                    len: t.content.len(),
                    status: t.status,
                    selected,
                    lines: rc.clone(),
                };
                cache.turns.insert(key, entry);
                rc
            }
        };
        starts.push(total);
        total += lines.len();
        all.push(lines);
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
            Line::from(Span::styled("Ask anything about your work.", theme.accent)),
            Line::from(Span::styled(
                format!("{send} sends · {search} searches every session · {help} shows all keys"),
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
    let max_top = total.saturating_sub(height);
    let mut top = match app.scroll {
        Scroll::Follow => max_top,
        Scroll::Top(t) => t.min(max_top),
    };
    if let (Some(sel), Scroll::Follow) = (app.selected_turn, app.scroll)
        && let Some(&start) = starts.get(sel)
        && (start < top || start >= top + height)
    {
        top = start.min(max_top);
    }
    // Copy only the visible lines.
    let mut visible: Vec<Line<'static>> = Vec::with_capacity(height);
    for (lines, &start) in all.iter().zip(&starts) {
        let end = start + lines.len();
        if end <= top || start >= top + height {
            continue;
        }
        let from = top.saturating_sub(start);
        let to = (top + height - start).min(lines.len());
        visible.extend(lines[from..to].iter().cloned());
    }
    frame.render_widget(Paragraph::new(visible), inner);
    if app.new_below && app.scroll != Scroll::Follow {
        let tag = " ↓ new text below ";
        let w = tag.chars().count() as u16;
        let r = Rect {
            x: inner.x + inner.width.saturating_sub(w + 1),
            y: inner.y + inner.height.saturating_sub(1),
            width: w.min(inner.width),
            height: 1,
        };
        frame.render_widget(Paragraph::new(Span::styled(tag, theme.highlight)), r);
    }
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
        out.push_str(&format!(
            "📄 {} · {} line{} · {}",
            name.replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&amp;", "&"),
            thousands(n),
            if n == 1 { "" } else { "s" },
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
}
