//! The incognito session (F6): a session kept in memory only. Entering it, the runtime
//! moves every store job to a new store in memory (`Effect::Incognito(true)`), so nothing
//! of the session — its messages, its row, its drafts, its restatements — reaches the
//! disk; leaving it drops that store (asking first when it holds messages) and goes back
//! to the saved sessions.
//!
//! While the stores are switched, lists and transcripts read from the store left behind
//! may still arrive: they are ignored until `Msg::StoreSwitched`. Pure: the switch itself
//! is the runtime's.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::keymap::{Command, Mode};
use crate::app::{App, Dialog, Effect, Focus, Level, Scroll};

/// F6: enter an incognito session, or leave the one open.
pub(super) fn toggle(app: &mut App, fx: &mut Vec<Effect>) {
    if !app.setup.history {
        app.notice(tr!("app.notice.history_off"), Level::Info);
        return;
    }
    if app.switching_store {
        // The last switch is still under way (F6 pressed twice quickly).
        return;
    }
    if app.streaming() || app.compare.is_some() {
        app.notice(tr!("app.notice.still_writing_switch"), Level::Warn);
        return;
    }
    if app.incognito {
        if holds_messages(app) {
            app.dialog = Some(Dialog::LeaveIncognito { quit: false });
        } else {
            leave(app, fx);
        }
        return;
    }
    enter(app, fx);
}

/// Whether leaving loses something: a message in any incognito session, or text in the
/// box.
pub(super) fn holds_messages(app: &App) -> bool {
    !app.transcript.is_empty()
        || app.sessions.iter().any(|s| s.message_count > 0)
        || !app.draft().is_empty()
}

/// Start the incognito session: what waits to be written to the history is written first
/// (the draft of the session left, a delete past its undo), then the store switches.
fn enter(app: &mut App, fx: &mut Vec<Effect>) {
    app.stash_draft(fx);
    app.commit_pending_message(fx);
    if let Some((entry, _)) = app.pending_delete.take() {
        fx.push(Effect::Delete(entry.id));
    }
    clear(app);
    app.incognito = true;
    fx.push(Effect::Incognito(true));
    let again = app.key_hint(Mode::Global, Command::Incognito, &tr!("app.hint.leaves_it"));
    app.notice(tr!("app.notice.incognito", again = again), Level::Info);
}

/// Back to the saved sessions; the incognito sessions are gone, and so is what was typed
/// in the box (it would otherwise be kept as a saved session's draft).
pub(super) fn leave(app: &mut App, fx: &mut Vec<Effect>) {
    app.commit_pending_message(fx);
    app.pending_delete = None;
    clear(app);
    app.incognito = false;
    fx.push(Effect::Incognito(false));
    app.notice(tr!("app.notice.left_incognito"), Level::Info);
}

/// The state of the sessions of the store being left, and the box: gone (entering, the
/// box's text was kept as the draft of the session left).
fn clear(app: &mut App) {
    app.set_text("");
    app.switching_store = true;
    app.sessions.clear();
    app.selected = 0;
    app.current = None;
    app.transcript.clear();
    app.drafts.clear();
    app.unread.clear();
    app.selected_turn = None;
    app.editing = None;
    app.pending_system = None;
    app.pending_kb = None;
    app.created_kb = None;
    app.last_archived = None;
    app.jump_to = None;
    app.scroll = Scroll::Follow;
    app.focus = Focus::Input;
}

/// The runtime switched stores: from now on lists come from the store in use.
pub(super) fn on_switched(app: &mut App, fx: &mut Vec<Effect>) {
    app.switching_store = false;
    fx.push(Effect::LoadSessions);
}

/// Keys in the question before leaving the incognito session (or quitting from it).
pub(super) fn on_leave_key(
    app: &mut App,
    key: KeyEvent,
    quit: bool,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('y') | KeyCode::Enter if quit => {
            app.quit = true;
            fx.push(Effect::Quit);
            None
        }
        KeyCode::Char('y') | KeyCode::Enter => {
            leave(app, fx);
            None
        }
        KeyCode::Char('n') | KeyCode::Esc => None,
        _ if ctrl_c => None,
        _ => Some(Dialog::LeaveIncognito { quit }),
    }
}
