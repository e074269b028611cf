//! Drawing the full-screen app. Rendering only reads the [`App`]; the one thing it keeps is
//! a cache of wrapped lines per message and width ([`RenderCache`]), so a long transcript
//! is laid out once and each frame only copies the visible lines.
//!
//! Model text is sanitized here, right before it reaches the terminal; the app and the
//! store keep it exactly as received.
//!
//! [`render`] lays out the screen ([`areas`]) and hands each part its rectangle; each part
//! lives in its own file:
//!
//! - `sessions`: the session list on the left;
//! - `transcript`: the conversation, with the wrapped-lines cache and the streaming answer;
//! - `input`: the message box and the chips of long pastes and attached files;
//! - `status`: the status bar and a notice too long for it;
//! - `dialogs`: every dialog over the screen (help, search, before sending, rename, …),
//!   with `forms` for the template picker and the template form, and `knowledge` for the
//!   knowledge base picker, an answer's sources and one passage (and the sources listed
//!   under a grounded answer);
//! - `markdown` and `theme`: how model text and colours are drawn.
//!
//! This file keeps only the layout and the small helpers the parts share (pane borders,
//! clipping, key hints, dialog frames). No part changes the state: what the app must learn
//! from a frame (where the messages were drawn) is returned as a [`View`].

mod compare;
mod dialogs;
mod forms;
mod input;
mod knowledge;
pub mod markdown;
mod sessions;
mod status;
pub mod theme;
mod transcript;
mod usage;

#[cfg(test)]
mod tests;

use crate::format::{pad, pad_left};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::keymap::Command;
use crate::app::{App, Dialog, Mode, Panes, TextField, View};
use crate::llm::sanitize::sanitize;
pub use theme::Theme;
pub use transcript::{RenderCache, collapse_documents};

pub use crate::format::{human_size, thousands};

use dialogs::{draw_dialog, help_max_scroll};
use input::{chip_rows, draw_input};
use sessions::draw_sessions;
use status::{draw_notice, draw_status, notice_rows};
use transcript::draw_transcript;

/// Smallest terminal the app draws in.
pub const MIN_SIZE: (u16, u16) = (40, 10);
/// Width of the session list.
const SIDEBAR: u16 = 30;

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
/// Rows the message box's text takes as it is wrapped at `width` (a long paragraph grows
/// the box, as a long list of lines does), at least 1 and at most 8 or a third of the
/// `height` there is; past that the box scrolls.
fn input_rows(app: &App, width: u16, height: u16) -> u16 {
    let width = usize::from(width.max(1));
    let rows: usize = app
        .input
        .lines()
        .iter()
        .map(|l| markdown::display_width(l).div_ceil(width).max(1))
        .sum();
    let cap = 8.min(height / 3).max(1);
    (rows.min(usize::from(u16::MAX)) as u16).clamp(1, cap)
}

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
    let input_lines = input_rows(app, main.width.saturating_sub(2), main.height) + chip_rows(app);
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
        let msg = Paragraph::new(
            tr!(
                "app.too_small",
                need = format!("{}×{}", MIN_SIZE.0, MIN_SIZE.1)
            )
            .into_owned(),
        )
        .alignment(Alignment::Center)
        .style(theme.warning)
        .wrap(Wrap { trim: true });
        frame.render_widget(msg, area);
        return View::default();
    }
    if let Some(c) = app.compare.as_deref()
        && matches!(c.stage, crate::app::compare::Stage::Running { .. })
    {
        // The compare view takes the whole screen; the help can open over it.
        let mut view = View {
            compare: compare::draw_compare(app, c, theme, frame, area),
            ..View::default()
        };
        if let Some(d) = &app.dialog {
            if matches!(d, Dialog::Help { .. }) {
                view.dialog_max = help_max_scroll(app, theme);
            }
            draw_dialog(app, d, theme, frame, area);
        }
        return view;
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
    match &app.dialog {
        Some(Dialog::Help { .. }) => extent.dialog_max = help_max_scroll(app, theme),
        Some(Dialog::Passage { grounding, n, .. }) => {
            extent.dialog_max = knowledge::passage_max_scroll(grounding, *n, theme, area);
        }
        _ => {}
    }
    draw_input(app, theme, frame, a.input);
    if let Some(n) = a.notice {
        draw_notice(app, theme, frame, n);
    }
    draw_status(app, theme, frame, a.status, a.notice.is_some());
    if let Some(c) = app.compare.as_deref() {
        compare::draw_compare(app, c, theme, frame, area);
    }
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

fn key_hint(app: &App, mode: Mode, cmd: Command) -> String {
    app.setup
        .keymap
        .key_for(mode, cmd)
        .map(|k| k.to_string())
        .unwrap_or_default()
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

/// A text field as drawn: its text before and after the cursor ([`TextField::split`]), with
/// the caret between them when the field has the keys.
fn field_spans((before, after): (&str, &str), theme: &Theme, caret: bool) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled(sanitize(before), theme.text)];
    if caret {
        spans.push(Span::styled("▏", theme.accent));
    }
    if !after.is_empty() {
        spans.push(Span::styled(sanitize(after), theme.text));
    }
    spans
}

/// The line a search box shows: a prompt, the query with its caret.
fn query_line(query: &TextField, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("› ", theme.accent)];
    spans.extend(field_spans(query.split(), theme, true));
    Line::from(spans)
}
