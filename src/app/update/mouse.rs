//! The mouse: the wheel scrolls what is under the pointer (the help, the session list or
//! the transcript); a click opens a session, selects a message or focuses the input.
//!
//! Where things are comes from what the renderer reported (`App::view`), never from calling
//! it. Pure: no IO, no await, no clock reads.

use ratatui::crossterm::event::MouseEventKind;

use super::sessions::open_selected;
use super::transcript::{scroll_down, scroll_up};
use crate::app::{App, Dialog, Effect, Focus, Scroll};

/// A mouse event.
pub(super) fn on_mouse(
    app: &mut App,
    m: ratatui::crossterm::event::MouseEvent,
    fx: &mut Vec<Effect>,
) {
    if matches!(app.dialog, Some(Dialog::Help { .. })) {
        let max = app.view.dialog_max;
        if let Some(Dialog::Help { scroll }) = &mut app.dialog {
            match m.kind {
                MouseEventKind::ScrollUp => *scroll = (*scroll).min(max).saturating_sub(3),
                MouseEventKind::ScrollDown => *scroll = (*scroll + 3).min(max),
                _ => {}
            }
        }
        return;
    }
    if app.dialog.is_some() {
        return;
    }
    let at = ratatui::layout::Position {
        x: m.column,
        y: m.row,
    };
    let areas = app.view.panes;
    let over_list = areas.sidebar.is_some_and(|r| r.contains(at));
    match m.kind {
        // The wheel moves what is under the pointer.
        MouseEventKind::ScrollUp if over_list => app.selected = app.selected.saturating_sub(1),
        MouseEventKind::ScrollDown if over_list => {
            app.selected = (app.selected + 1).min(app.visible_sessions().len().saturating_sub(1));
        }
        MouseEventKind::ScrollUp => scroll_up(app, 3),
        MouseEventKind::ScrollDown => scroll_down(app, 3),
        MouseEventKind::Down(ratatui::crossterm::event::MouseButton::Left) => {
            if over_list {
                app.focus = Focus::Sessions;
                if let Some(i) = app.view.session_at(&app.list_rows(), m.column, m.row) {
                    app.selected = i;
                    open_selected(app, fx);
                }
            } else if areas.transcript.contains(at) {
                app.focus = Focus::Transcript;
                // The pane's border is one row.
                let row = m.row.saturating_sub(areas.transcript.y + 1) as usize;
                if m.row > areas.transcript.y
                    && let Some(i) = app.view.turn_at(row)
                {
                    app.selected_turn = Some(i);
                    // Keep the view still: selecting by click must not jump to the
                    // message's first line.
                    if app.scroll == Scroll::Follow && app.view.starts[i] < app.view.top {
                        app.scroll = Scroll::Top(app.view.top);
                    }
                }
            } else if areas.input.contains(at) {
                app.focus = Focus::Input;
            }
        }
        _ => {}
    }
}
