//! Drawing the full-screen app. Rendering only reads the [`App`]; the one thing it keeps is
//! a cache of wrapped lines per message and width ([`RenderCache`]), so a long transcript
//! is laid out once and each frame only copies the visible lines.
//!
//! Model text is sanitized here, right before it reaches the terminal; the app and the
//! store keep it exactly as received.

mod forms;
pub mod markdown;
pub mod theme;

#[cfg(test)]
mod tests;

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

use std::collections::HashMap;
use std::rc::Rc;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::keymap::Command;
use crate::app::{App, Dialog, Focus, Level, ListRow, Mode, Panes, Scroll, Turn, View};
use crate::llm::sanitize::sanitize;
use crate::store::{MessageStatus, Role};
pub use theme::Theme;

/// Smallest terminal the app draws in.
pub const MIN_SIZE: (u16, u16) = (40, 10);
/// Width of the session list.
const SIDEBAR: u16 = 30;

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

/// Where each part of the screen is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The session list, when shown.
    pub sidebar: Option<Rect>,
    /// The transcript.
    pub transcript: Rect,
    /// The input box.
    pub input: Rect,
    /// A notice too long for the status bar, on its own rows above it.
    pub notice: Option<Rect>,
    /// The status bar.
    pub status: Rect,
}

/// Lay out the screen for `app`.
pub fn areas(app: &App, area: Rect) -> Areas {
    let rows = notice_rows(app, area.width);
    let [body, notice, status] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(rows),
        Constraint::Length(1),
    ])
    .areas(area);
    let show_sidebar = app.sidebar && area.width >= 70;
    let (sidebar, main) = if show_sidebar {
        let [s, m] =
            Layout::horizontal([Constraint::Length(SIDEBAR), Constraint::Min(1)]).areas(body);
        (Some(s), m)
    } else {
        (None, body)
    };
    let input_lines = app.input.lines().len().clamp(1, 8) as u16 + chip_rows(app);
    let [transcript, input] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(input_lines + 2)]).areas(main);
    Areas {
        sidebar,
        transcript,
        input,
        notice: (rows > 0).then_some(notice),
        status,
    }
}

/// Draw everything. Returns the transcript as drawn (fed back to the app as `Msg::Layout`
/// so scrolling and clicks know where each message is).
pub fn render(app: &App, theme: &Theme, cache: &mut RenderCache, frame: &mut Frame<'_>) -> View {
    let area = frame.area();
    frame.render_widget(Block::default().style(theme.text), area);
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = Paragraph::new(format!(
            "terminal too small\nneed {}×{}",
            MIN_SIZE.0, MIN_SIZE.1
        ))
        .alignment(Alignment::Center)
        .style(theme.warning)
        .wrap(Wrap { trim: true });
        frame.render_widget(msg, area);
        return View::default();
    }
    let a = areas(app, area);
    let list = a.sidebar.map(|s| draw_sessions(app, theme, frame, s));
    let mut extent = draw_transcript(app, theme, cache, frame, a.transcript);
    extent.panes = Panes {
        sidebar: a.sidebar,
        transcript: a.transcript,
        input: a.input,
    };
    extent.list = list;
    if matches!(app.dialog, Some(Dialog::Help { .. })) {
        extent.help_max = help_max_scroll(app, theme);
    }
    draw_input(app, theme, frame, a.input);
    if let Some(n) = a.notice {
        draw_notice(app, theme, frame, n);
    }
    draw_status(app, theme, frame, a.status, a.notice.is_some());
    if let Some(d) = &app.dialog {
        draw_dialog(app, d, theme, frame, area);
    }
    extent
}

fn pane(title: &str, focused: bool, theme: &Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if focused {
            theme.border_focus
        } else {
            theme.border
        })
        .title(Span::styled(
            format!(" {title} "),
            if focused { theme.accent } else { theme.muted },
        ))
}

fn clip(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut w = 0;
    for c in text.chars() {
        let cw = markdown::display_width(c.encode_utf8(&mut [0; 4]));
        if w + cw > width {
            if !out.is_empty() {
                out.pop();
                out.push('…');
            }
            return out;
        }
        w += cw;
        out.push(c);
    }
    out
}

/// Draw the session list; returns where its rows are and the first row shown.
fn draw_sessions(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) -> (Rect, usize) {
    let focused = app.focus == Focus::Sessions;
    let title = if app.filtering || !app.filter.is_empty() {
        format!("Sessions /{}", app.filter)
    } else {
        "Sessions".to_string()
    };
    let block = pane(&title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let visible = app.visible_sessions();
    let rows = app.list_rows();
    let width = inner.width as usize;
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(rows.len());
    let mut selected_line = 0;
    for row in &rows {
        match row {
            ListRow::Heading(h) => lines.push(Line::from(Span::styled(
                h.to_string(),
                theme.muted.add_modifier(Modifier::BOLD),
            ))),
            ListRow::Session(i) => {
                let s = visible[*i];
                let marker = if app.live.contains_key(&s.id) {
                    Span::styled("↻ ", theme.warning)
                } else if app.unread.contains(&s.id) {
                    Span::styled("● ", theme.accent)
                } else if s.pinned {
                    Span::styled("◆ ", theme.muted)
                } else {
                    Span::raw("  ")
                };
                let title = clip(&sanitize(&s.title), width.saturating_sub(2));
                let mut style = if app.current == Some(s.id) {
                    theme.accent
                } else {
                    theme.text
                };
                if *i == app.selected && (focused || app.current == Some(s.id)) {
                    style = style.patch(theme.selection);
                    selected_line = lines.len();
                }
                let pad = width.saturating_sub(2 + markdown::display_width(&title));
                lines.push(Line::from(vec![
                    marker,
                    Span::styled(format!("{title}{}", " ".repeat(pad)), style),
                ]));
            }
        }
    }
    if visible.is_empty() {
        let hint = if app.filter.is_empty() {
            "no sessions yet"
        } else {
            "no match"
        };
        lines.push(Line::from(Span::styled(hint, theme.muted)));
    }
    let top = list_top(selected_line, inner.height as usize);
    frame.render_widget(Paragraph::new(lines).scroll((top as u16, 0)), inner);
    (inner, top)
}

/// The first list line shown, keeping the selected line in view.
fn list_top(selected_line: usize, height: usize) -> usize {
    selected_line.saturating_sub(height.saturating_sub(1))
}

fn key_hint(app: &App, mode: Mode, cmd: Command) -> String {
    app.setup
        .keymap
        .key_for(mode, cmd)
        .map(|k| k.to_string())
        .unwrap_or_default()
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

fn draw_transcript(
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

/// Chips shown at most; more are summed up on one row.
const MAX_CHIPS: usize = 3;

/// Rows the paste chips take in the input box.
fn chip_rows(app: &App) -> u16 {
    let n = app.pastes.len();
    (n.min(MAX_CHIPS) + usize::from(n > MAX_CHIPS)) as u16
}

pub use crate::format::{human_size, thousands};

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

/// What the before-sending dialog says and offers.
fn before_send_lines(check: &crate::app::attach::Check, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let key = |k: &str, what: &str| {
        vec![
            Span::styled(format!(" {k} "), theme.selection.patch(theme.accent)),
            Span::styled(format!(" {what}   "), theme.text),
        ]
    };
    let money = |c: Option<f64>| match c {
        Some(c) if c < 0.01 => format!("${c:.4}"),
        Some(c) => format!("${c:.2}"),
        None => "cost unknown".to_string(),
    };
    if !check.found.is_empty() {
        lines.push(Line::from(Span::styled(
            format!(
                "The message holds {} likely secret{}:",
                check.found.len(),
                if check.found.len() == 1 { "" } else { "s" }
            ),
            theme.warning,
        )));
        for f in check.found.iter().take(6) {
            lines.push(Line::from(Span::styled(
                format!("  line {}: {} ({})", f.line, f.label, sanitize(&f.preview)),
                theme.text,
            )));
        }
        if check.found.len() > 6 {
            lines.push(Line::from(Span::styled(
                format!("  and {} more", check.found.len() - 6),
                theme.muted,
            )));
        }
        match check.redact {
            None => {
                let mut spans = key("r", "redact them");
                spans.extend(key("s", "send anyway"));
                spans.extend(key("Esc", "cancel"));
                lines.push(Line::from(spans));
            }
            Some(true) => lines.push(Line::from(Span::styled(
                "  → they will be replaced with [REDACTED:kind]",
                theme.muted,
            ))),
            Some(false) => lines.push(Line::from(Span::styled(
                "  → they will be sent as they are",
                theme.muted,
            ))),
        }
        if check.parts.is_some() || check.over_limit {
            lines.push(Line::default());
        }
    }
    let secrets_open = !check.found.is_empty() && check.redact.is_none();
    if let Some((parts, requests)) = check.parts {
        lines.push(Line::from(Span::styled(
            format!(
                "The message is {} tokens; the model takes about {}.",
                thousands(check.tokens),
                thousands(check.room.unwrap_or(0))
            ),
            theme.text,
        )));
        lines.push(Line::from(Span::styled(
            format!(
                "Read it in {parts} parts ({requests} requests, about {}), or send its first {} tokens.",
                money(check.cost),
                thousands(check.first_tokens())
            ),
            theme.text,
        )));
        if !secrets_open {
            let mut spans = key("p", "read in parts");
            spans.extend(key("f", "first tokens only"));
            spans.extend(key("Esc", "cancel"));
            lines.push(Line::from(spans));
        }
    } else if check.over_limit {
        lines.push(Line::from(Span::styled(
            format!(
                "Sending this is estimated at {} ({} tokens), above the {} limit.",
                money(check.cost),
                thousands(check.tokens),
                money(Some(check.limit))
            ),
            theme.text,
        )));
        if !secrets_open {
            let mut spans = key("y", "send");
            spans.extend(key("Esc", "cancel"));
            lines.push(Line::from(spans));
        }
    }
    lines
}

/// The chips of long pastes: "▤ pasted 312 lines · 4,120 tokens".
fn chip_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (i, p) in app.pastes.iter().take(MAX_CHIPS).enumerate() {
        let tokens = match p.tokens {
            Some(t) => format!("{} tokens", thousands(t)),
            None => "counting tokens…".to_string(),
        };
        let label = match &p.file {
            Some(f) => {
                let mut bits = vec![sanitize(&f.name), human_size(f.bytes)];
                if let Some(n) = f.pages {
                    bits.push(format!("{n} page{}", if n == 1 { "" } else { "s" }));
                }
                if let Some(n) = f.rows {
                    bits.push(format!(
                        "{} row{}",
                        thousands(n as u64),
                        if n == 1 { "" } else { "s" }
                    ));
                }
                bits.push(tokens.clone());
                if let Some(c) = f.cost {
                    bits.push(if c < 0.01 {
                        format!("${c:.4}")
                    } else {
                        format!("${c:.2}")
                    });
                }
                format!(" 📄 {} ", bits.join(" · "))
            }
            None => format!(
                " ▤ pasted {} line{} · {tokens} ",
                thousands(p.lines as u64),
                if p.lines == 1 { "" } else { "s" }
            ),
        };
        let mut spans = vec![Span::styled(label, theme.selection.patch(theme.accent))];
        if i == 0 {
            spans.push(Span::styled(
                format!(
                    "  {} expands · Backspace removes",
                    key_hint(app, Mode::Input, Command::ExpandPastes)
                ),
                theme.muted,
            ));
        }
        lines.push(Line::from(spans));
    }
    if app.pastes.len() > MAX_CHIPS {
        let rest = &app.pastes[MAX_CHIPS..];
        let lines_more: usize = rest.iter().map(|p| p.lines).sum();
        lines.push(Line::from(Span::styled(
            format!(
                " + {} more paste(s), {} lines",
                rest.len(),
                thousands(lines_more as u64)
            ),
            theme.muted,
        )));
    }
    lines
}

fn draw_input(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let focused = app.focus == Focus::Input && app.dialog.is_none();
    let esc = key_hint(app, Mode::Global, Command::StopAnswer);
    let title = match (app.current_live(), app.editing_replaces()) {
        (Some(l), _) => {
            let step = l
                .step
                .as_deref()
                .map(|s| format!("{s} · "))
                .unwrap_or_default();
            l.waiting
                .clone()
                .unwrap_or_else(|| format!("{step}writing… {esc} stops"))
        }
        (None, Some(0)) => format!("Editing · Enter resends · {esc} cancels"),
        (None, Some(n)) => {
            format!(
                "Editing · Enter resends and replaces the {n} message(s) after it · {esc} cancels"
            )
        }
        (None, None) => "Message".to_string(),
    };
    let block = pane(&title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let chips = chip_rows(app).min(inner.height.saturating_sub(1));
    let [chip_area, text_area] =
        Layout::vertical([Constraint::Length(chips), Constraint::Min(1)]).areas(inner);
    if chips > 0 {
        frame.render_widget(Paragraph::new(chip_lines(app, theme)), chip_area);
    }
    let mut input = app.input.clone();
    input.set_style(theme.text);
    input.set_cursor_line_style(Style::default());
    input.set_cursor_style(if focused {
        theme.text.add_modifier(Modifier::REVERSED)
    } else {
        theme.text
    });
    input.set_placeholder_text(format!(
        "Type a message · {} sends · {} new line",
        key_hint(app, Mode::Input, Command::Send),
        key_hint(app, Mode::Input, Command::Newline)
    ));
    input.set_placeholder_style(theme.muted);
    input.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
    frame.render_widget(&input, text_area);
}

use crate::format::short_tokens;

/// The status bar's left part: profile, model, context used, the session's cost.
fn status_left(app: &App) -> String {
    let mut left = format!(" {} · {}", app.setup.profile, app.setup.model);
    // The conversation so far plus what is in the box (chips counted, typed text estimated).
    let draft = app.draft_tokens();
    let used = match (app.context_used(), draft) {
        (None, 0) => None,
        (u, d) => Some(u.unwrap_or(0) + d),
    };
    if let (Some(used), Some(window)) = (used, app.setup.context_window) {
        left.push_str(&format!(
            " · {}/{} ({}%)",
            short_tokens(used),
            short_tokens(window),
            used * 100 / window.max(1)
        ));
        if used > window {
            left.push_str(" · in parts");
        }
    }
    if let Some(c) = app.session_cost() {
        left.push_str(&format!(
            " · {}",
            crate::config::models::format_usd(Some(c))
        ));
    }
    if !app.setup.history {
        left.push_str(" · history off");
    }
    left.push(' ');
    left
}

/// The status bar's key hints for the focused pane.
fn status_hints(app: &App) -> String {
    let mode = match app.focus {
        Focus::Input => Mode::Input,
        Focus::Sessions => Mode::Sessions,
        Focus::Transcript => Mode::Transcript,
    };
    let hints: Vec<String> = match mode {
        Mode::Sessions => vec![
            (Command::OpenSession, "open"),
            (Command::RenameSession, "rename"),
            (Command::DeleteSession, "delete"),
            (Command::PinSession, "pin"),
            (Command::FilterSessions, "filter"),
        ],
        Mode::Transcript => vec![
            (Command::SelectPrev, "select"),
            (Command::CopyMessage, "copy"),
            (Command::EditMessage, "edit"),
            (Command::Regenerate, "regenerate"),
        ],
        _ => vec![
            (Command::Send, "send"),
            (Command::Search, "search"),
            (Command::NewSession, "new"),
        ],
    }
    .into_iter()
    .chain([(Command::Help, "help")])
    .filter_map(|(c, what)| {
        app.setup
            .keymap
            .key_for(mode, c)
            .map(|k| format!("{k} {what}"))
    })
    .collect();
    format!(" {} ", hints.join(" · "))
}

/// Rows a notice too long for the status bar takes above it (wrapped, at most 3).
fn notice_rows(app: &App, width: u16) -> u16 {
    let Some(n) = &app.notice else { return 0 };
    let total = width as usize;
    let used =
        markdown::display_width(&status_left(app)) + markdown::display_width(&status_hints(app));
    if markdown::display_width(&n.text) + 2 <= total.saturating_sub(used) {
        return 0;
    }
    // Word-wrapped the way the paragraph will be (a word longer than a row is cut).
    let mut rows = 1;
    let mut col = 0;
    for (i, word) in n.text.split(' ').enumerate() {
        let w = markdown::display_width(word);
        // The first word follows the leading space; later ones a separating space.
        let end = col + 1 + w;
        if i > 0 && end > total {
            rows += 1;
            col = w.min(total);
        } else {
            col = end;
        }
    }
    rows.clamp(1, 3)
}

/// How a notice of `level` looks.
fn level_style(theme: &Theme, level: Level) -> Style {
    match level {
        Level::Info => theme.success,
        Level::Warn => theme.warning,
        Level::Error => theme.error,
    }
}

/// A notice too long for the status bar, wrapped on its own rows.
fn draw_notice(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let Some(n) = &app.notice else { return };
    let style = level_style(theme, n.level);
    frame.render_widget(
        Paragraph::new(format!(" {}", sanitize(&n.text)))
            .style(theme.status.patch(style))
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn draw_status(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect, notice_above: bool) {
    let left = status_left(app);
    let (middle, mstyle) = match &app.notice {
        Some(_) if notice_above => (String::new(), theme.muted),
        Some(n) => (n.text.clone(), level_style(theme, n.level)),
        None if !app.setup.has_key => (
            format!(
                "no key: press {} to add one",
                key_hint(app, Mode::Global, Command::AddKey)
            ),
            theme.warning,
        ),
        None => (String::new(), theme.muted),
    };
    let right = status_hints(app);
    let total = area.width as usize;
    let lw = markdown::display_width(&left);
    let rw = markdown::display_width(&right);
    let room = total.saturating_sub(lw + rw);
    let right = if room == 0 && lw + rw > total {
        String::new()
    } else {
        right
    };
    let room = total.saturating_sub(lw + markdown::display_width(&right));
    let mid = clip(&sanitize(&middle), room.saturating_sub(2));
    let pad = room.saturating_sub(markdown::display_width(&mid));
    let line = Line::from(vec![
        Span::styled(
            clip(&left, total),
            theme.status.add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!(" {mid}"), theme.status.patch(mstyle)),
        Span::styled(" ".repeat(pad.saturating_sub(1)), theme.status),
        Span::styled(right, theme.status),
    ]);
    frame.render_widget(Paragraph::new(line).style(theme.status), area);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width
        .min(area.width.saturating_sub(2))
        .max(10.min(area.width));
    let h = height
        .min(area.height.saturating_sub(2))
        .max(3.min(area.height));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn dialog_block(title: &str, theme: &Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.border_focus)
        .title(Span::styled(format!(" {title} "), theme.accent))
        .style(theme.text)
}

/// Clear a dialog's rectangle. A wide character just left of it would cover its border:
/// it is blanked.
fn open_dialog(frame: &mut Frame<'_>, rect: Rect, area: Rect) {
    if rect.x > area.x {
        let buf = frame.buffer_mut();
        for y in rect.y..rect.y + rect.height {
            if let Some(cell) = buf.cell_mut((rect.x - 1, y))
                && markdown::display_width(cell.symbol()) > 1
            {
                cell.set_symbol(" ");
            }
        }
    }
    frame.render_widget(Clear, rect);
}

/// The line a search box shows: a prompt, the query, a caret.
fn query_line(query: &str, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled("› ", theme.accent),
        Span::styled(sanitize(query), theme.text),
        Span::styled("▏", theme.accent),
    ])
}

/// Spans of a snippet whose matches are marked with U+E000…U+E001.
fn marked(snippet: &str, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut rest = sanitize(snippet).replace('\n', " ");
    while let Some(start) = rest.find('\u{E000}') {
        spans.push(Span::styled(rest[..start].to_string(), theme.text));
        let after = &rest[start + '\u{E000}'.len_utf8()..];
        let end = after.find('\u{E001}').unwrap_or(after.len());
        spans.push(Span::styled(after[..end].to_string(), theme.highlight));
        rest = after[(end + '\u{E001}'.len_utf8()).min(after.len())..].to_string();
    }
    spans.push(Span::styled(rest, theme.text));
    spans
}

/// The help overlay's lines, generated from the keymap (two columns on wide screens).
fn help_lines(app: &App, theme: &Theme, screen_width: u16) -> Vec<Line<'static>> {
    let section = |modes: &[(Mode, &str)]| {
        let mut lines: Vec<Line<'static>> = Vec::new();
        for (mode, name) in modes {
            lines.push(Line::from(Span::styled(name.to_string(), theme.heading)));
            for (cmd, keys) in app.setup.keymap.bindings(*mode) {
                // Code blocks 2–9 share one line with block 1.
                if cmd.code_block().is_some_and(|n| n > 1) {
                    continue;
                }
                let keys: Vec<String> = if cmd.code_block() == Some(1) {
                    vec![format!(
                        "{}…9",
                        keys.first().map(|k| k.to_string()).unwrap_or_default()
                    )]
                } else {
                    keys.iter().map(|k| k.to_string()).collect()
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("  {:<18}", keys.join(", ")), theme.accent),
                    Span::styled(cmd.describe().to_string(), theme.text),
                ]));
            }
            lines.push(Line::default());
        }
        lines
    };
    let left = section(&[(Mode::Global, "Everywhere")]);
    let right = section(&[
        (Mode::Input, "Message box"),
        (Mode::Sessions, "Session list"),
        (Mode::Transcript, "Transcript"),
    ]);
    let mut lines = Vec::new();
    if screen_width >= 110 {
        for i in 0..left.len().max(right.len()) {
            let l = left.get(i).cloned().unwrap_or_default();
            let pad = 55usize.saturating_sub(l.width());
            let mut spans = l.spans;
            spans.push(Span::raw(" ".repeat(pad)));
            if let Some(r) = right.get(i) {
                spans.extend(r.spans.clone());
            }
            lines.push(Line::from(spans));
        }
    } else {
        lines.extend(left);
        lines.extend(right);
    }
    lines.push(Line::from(Span::styled(
        "Keys can be changed in the config file: see docs/keybindings.md",
        theme.muted,
    )));
    lines
}

/// How far the help overlay can scroll on the current screen.
fn help_max_scroll(app: &App, theme: &Theme) -> u16 {
    let area = Rect::new(0, 0, app.size.0, app.size.1);
    let lines = help_lines(app, theme, area.width);
    let rect = centered(area, 112, lines.len() as u16 + 2);
    let rows = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .line_count(rect.width.saturating_sub(2)) as u16;
    rows.saturating_sub(rect.height.saturating_sub(2))
}

fn draw_dialog(app: &App, dialog: &Dialog, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    match dialog {
        Dialog::Templates { query, selected } => {
            return forms::draw_picker(app, query, *selected, theme, frame, area);
        }
        Dialog::Form(form) => return forms::draw_form(app, form, theme, frame, area),
        _ => {}
    }
    let mut top = 0;
    let (title, width, height, lines): (&str, u16, u16, Vec<Line<'static>>) = match dialog {
        Dialog::Help { scroll } => {
            let max = help_max_scroll(app, theme);
            let title = if max > 0 {
                "Keys · ↑↓ scroll · Esc closes"
            } else {
                "Keys · Esc closes"
            };
            let lines = help_lines(app, theme, area.width);
            let rows = lines.len() as u16;
            top = (*scroll).min(max);
            (title, 112, rows, lines)
        }
        Dialog::Search {
            query,
            hits,
            selected,
        } => {
            let mut lines = vec![query_line(query, theme), Line::default()];
            if hits.is_empty() && !query.is_empty() {
                lines.push(Line::from(Span::styled("no match", theme.muted)));
            }
            for (i, h) in hits.iter().enumerate() {
                let sel = i == *selected;
                let head = Style::default().patch(if sel {
                    theme.selection
                } else {
                    Style::default()
                });
                let who = if h.role == Role::User {
                    "you"
                } else {
                    "assistant"
                };
                lines.push(Line::from(vec![
                    Span::styled(
                        format!(
                            "{} {}",
                            if sel { "▶" } else { " " },
                            sanitize(&h.session_title)
                        ),
                        theme.accent.patch(head),
                    ),
                    Span::styled(format!(" · {who}"), theme.muted.patch(head)),
                ]));
                let mut spans = vec![Span::raw("   ")];
                spans.extend(marked(&h.snippet, theme));
                lines.push(Line::from(spans));
            }
            (
                "Search all sessions · Enter opens · Esc closes",
                90,
                30,
                lines,
            )
        }
        Dialog::Attach(picker) => {
            let mut lines = vec![
                Line::from(vec![
                    Span::styled(sanitize(&picker.path), theme.text),
                    Span::styled("▏", theme.accent),
                ]),
                Line::from(Span::styled(
                    "PDF, Word (.docx), HTML, CSV/TSV, Markdown, text or code · or @path in the message",
                    theme.muted,
                )),
            ];
            // A window of the list that keeps the highlighted entry in view.
            const SHOWN: usize = 10;
            let first = picker.selected.unwrap_or(0).saturating_sub(SHOWN - 1);
            for (i, c) in picker.candidates.iter().enumerate().skip(first).take(SHOWN) {
                let on = picker.selected == Some(i);
                let style = if on {
                    theme.selection.patch(theme.accent)
                } else if c.ends_with('/') {
                    theme.accent
                } else {
                    theme.text
                };
                lines.push(Line::from(Span::styled(
                    format!("{} {}", if on { "▶" } else { " " }, sanitize(c)),
                    style,
                )));
            }
            if picker.candidates.len() > first + SHOWN {
                lines.push(Line::from(Span::styled(
                    format!("  … {} more", picker.candidates.len() - first - SHOWN),
                    theme.muted,
                )));
            }
            let rows = lines.len() as u16;
            (
                "Attach a file · ↑↓ pick · Enter opens or attaches · Tab completes · Esc",
                96,
                rows,
                lines,
            )
        }
        Dialog::TemplateSecrets(check) => {
            let mut lines = vec![Line::from(Span::styled(
                format!(
                    "The values hold {} likely secret{}:",
                    check.found.len(),
                    if check.found.len() == 1 { "" } else { "s" }
                ),
                theme.warning,
            ))];
            for (name, f) in check.found.iter().take(6) {
                lines.push(Line::from(Span::styled(
                    format!(
                        "  {name} line {}: {} ({})",
                        f.line,
                        f.label,
                        sanitize(&f.preview)
                    ),
                    theme.text,
                )));
            }
            lines.push(Line::from(Span::styled(
                " r  redact them    s  send anyway    Esc  cancel",
                theme.accent,
            )));
            let rows = lines.len() as u16;
            ("Before running the template", 96, rows, lines)
        }
        Dialog::BeforeSend(check) => {
            let lines = before_send_lines(check, theme);
            let rows = lines.len() as u16;
            ("Before sending", 96, rows, lines)
        }
        Dialog::Rename { title, .. } => (
            "Rename session · Enter saves · Esc cancels",
            60,
            3,
            vec![Line::from(vec![
                Span::styled(sanitize(title), theme.text),
                Span::styled("▏", theme.accent),
            ])],
        ),
        Dialog::ConfirmDelete { title, .. } => (
            "Delete session",
            60,
            4,
            vec![
                Line::from(Span::styled(
                    format!("Delete “{}”?", sanitize(title)),
                    theme.text,
                )),
                Line::from(Span::styled(
                    "y / Enter deletes (undo for a few seconds) · n / Esc keeps it",
                    theme.muted,
                )),
            ],
        ),
        Dialog::ConfirmQuit => (
            "Quit",
            64,
            4,
            vec![
                Line::from(Span::styled(
                    "An answer is still being written. Quit anyway?",
                    theme.text,
                )),
                Line::from(Span::styled(
                    "y / Enter quits (what arrived is saved) · n / Esc stays",
                    theme.muted,
                )),
            ],
        ),
        Dialog::Themes { selected, .. } => {
            let lines = app
                .setup
                .themes
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let style = if i == *selected {
                        theme.selection.patch(theme.accent)
                    } else {
                        theme.text
                    };
                    Line::from(Span::styled(
                        format!("{} {t}", if i == *selected { "▶" } else { " " }),
                        style,
                    ))
                })
                .collect();
            (
                "Theme · ↑↓ preview · Enter keeps · Esc reverts",
                52,
                app.setup.themes.len() as u16 + 2,
                lines,
            )
        }
        Dialog::Models { selected } => {
            let lines = app
                .setup
                .models
                .iter()
                .enumerate()
                .map(|(i, (name, window))| {
                    let style = if i == *selected {
                        theme.selection.patch(theme.accent)
                    } else {
                        theme.text
                    };
                    let ctx = window
                        .map(|w| format!("  {} tokens", short_tokens(w)))
                        .unwrap_or_default();
                    Line::from(vec![
                        Span::styled(
                            format!(
                                "{} {}",
                                if i == *selected { "▶" } else { " " },
                                sanitize(name)
                            ),
                            style,
                        ),
                        Span::styled(ctx, theme.muted),
                    ])
                })
                .collect();
            (
                "Model · Enter chooses · Esc keeps",
                56,
                app.setup.models.len() as u16,
                lines,
            )
        }
        Dialog::SystemPrompt { text } => (
            "System prompt · Enter sets (empty clears) · Esc cancels",
            76,
            4,
            vec![
                Line::from(Span::styled(
                    "Instructions the model follows throughout this session.",
                    theme.muted,
                )),
                Line::default(),
                Line::from(vec![
                    Span::styled(sanitize(text), theme.text),
                    Span::styled("▏", theme.accent),
                ]),
            ],
        ),
        Dialog::Templates { .. } | Dialog::Form(_) => return,
        Dialog::ApiKey { key, error } => {
            let shown = if key.is_empty() {
                String::new()
            } else {
                format!(
                    "{}{}",
                    "•".repeat(key.chars().count().saturating_sub(4).min(40)),
                    key.chars()
                        .rev()
                        .take(4)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<String>()
                )
            };
            let mut lines = vec![
                Line::from(Span::styled(
                    format!("Paste the API key for profile “{}”.", app.setup.profile),
                    theme.text,
                )),
                Line::from(Span::styled(
                    "It is stored in the OS keyring, never in a file.",
                    theme.muted,
                )),
                Line::default(),
                Line::from(vec![
                    Span::styled("key › ", theme.accent),
                    Span::styled(shown, theme.text),
                    Span::styled("▏", theme.accent),
                ]),
                Line::default(),
            ];
            if let Some(e) = error {
                lines.push(Line::from(Span::styled(sanitize(e), theme.error)));
                lines.push(Line::default());
            }
            lines.push(Line::from(Span::styled("Enter stores · Esc continues without a key (history, search and export still work)", theme.muted)));
            ("API key", 76, if error.is_some() { 12 } else { 9 }, lines)
        }
    };
    // Room for lines that wrap in a narrow terminal (word wrapping may need a row more).
    let inner = width
        .min(area.width.saturating_sub(2))
        .saturating_sub(2)
        .max(1) as usize;
    let wrapped: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = height.max(wrapped as u16);
    let rect = centered(area, width, height + 2);
    open_dialog(frame, rect, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(dialog_block(title, theme))
            .wrap(Wrap { trim: false })
            .scroll((top, 0)),
        rect,
    );
}
