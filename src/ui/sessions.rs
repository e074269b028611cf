//! The session list on the left: headings by age, one row per session with a marker (live
//! answer, unread, pinned), the open and the selected session highlighted, the filter in the
//! title. Drawing only: it reads the [`App`] and reports where its rows are; choosing,
//! filtering and scrolling the list are the app's.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, clip, markdown, pane};
use crate::app::{App, Focus, ListRow};
use crate::llm::sanitize::sanitize;

/// Draw the session list; returns where its rows are and the first row shown.
pub(super) fn draw_sessions(
    app: &App,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) -> (Rect, usize) {
    let focused = app.focus == Focus::Sessions;
    let name = if app.show_archived {
        tr!("app.sessions.archived")
    } else {
        tr!("app.sessions.title")
    };
    let title = if app.filtering {
        let (before, after) = app.filter.split();
        format!("{name} /{before}▏{after}")
    } else if !app.filter.is_empty() {
        format!("{name} /{}", app.filter)
    } else {
        name.to_string()
    };
    let block = pane(&title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let visible = app.visible_sessions();
    let rows = app.list_rows();
    let width = inner.width as usize;
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(rows.len());
    let mut selected_line = 0;
    // Titles shown more than once ("hotel limit?" four times) get their last activity's
    // time, or date when older than today, so they can be told apart.
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for s in &visible {
        *seen.entry(s.title.as_str()).or_default() += 1;
    }
    let offset = app.setup.tz_offset_secs;
    let day = |ms: i64| (ms / 1000 + offset).div_euclid(86_400);
    let when = |ms: i64| {
        let local = ms / 1000 + offset;
        let t = chrono::DateTime::from_timestamp(local, 0).unwrap_or_default();
        if day(ms) == day(app.now_ms) {
            t.format("%H:%M").to_string()
        } else {
            t.format("%m-%d").to_string()
        }
    };
    for row in &rows {
        match row {
            ListRow::Heading(h) => lines.push(Line::from(Span::styled(
                crate::app::words::group_name(h),
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
                let stamp = if seen.get(s.title.as_str()).is_some_and(|n| *n > 1) {
                    format!(" · {}", when(s.updated_ms))
                } else {
                    String::new()
                };
                let room = width.saturating_sub(2 + markdown::display_width(&stamp));
                let title = format!("{}{stamp}", clip(&sanitize(&s.title), room));
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
        let hint = if app.incognito && app.filter.is_empty() {
            tr!("app.sessions.incognito")
        } else if app.filter.is_empty() {
            tr!("app.sessions.none")
        } else {
            tr!("app.no_match")
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
