//! The session list and moving between sessions: the list as loaded, its filter, opening
//! the next, previous or selected session (its draft and model come back), renaming,
//! deleting, pinning, archiving; and the live answers: a transcript that loads takes its
//! session's live text, and the store's rows are adopted by the live answer they belong to.
//!
//! Drafts kept when switching and a new session are methods of `App` (`app/actions.rs`),
//! shared with `forms`. Pure: no IO, no await, no clock reads; loading and saving are
//! effects.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use crate::app::edit::Edited;
use crate::app::keymap::{Command, Mode};
use crate::app::{
    App, Dialog, Effect, Focus, Level, Live, Scroll, SessionEntry, TextField, Turn, UNDO_MS,
};
use crate::store::{Message, MessageId, MessageStatus, Role, SessionId, SessionSummary};

/// The session list (re)loaded: pinned first; the selection stays on its session.
pub(super) fn on_loaded(app: &mut App, list: Vec<SessionSummary>) {
    let keep = app.selected_id();
    let mut entries: Vec<SessionEntry> = list.iter().map(SessionEntry::from).collect();
    entries.sort_by_key(|e| !e.pinned);
    app.sessions = entries;
    // The cursor follows the open session (a new one moves to its place in the list). While
    // the person moves it in the list, it stays where they put it.
    let follow = if app.focus == Focus::Sessions {
        keep.or(app.current)
    } else {
        app.current.or(keep)
    };
    app.select_id(follow);
}

/// Another program committed to the history (a `clerk ask` in a shell): the list as it is
/// now, the cursor on the same session; the open session's messages are read again only
/// when it changed (its messages or its last activity).
pub(super) fn on_store_changed(app: &mut App, list: Vec<SessionSummary>, fx: &mut Vec<Effect>) {
    let state = |app: &App| {
        let id = app.current?;
        let s = app.sessions.iter().find(|s| s.id == id)?;
        Some((s.message_count, s.updated_ms))
    };
    let before = state(app);
    on_loaded(app, list);
    if let Some(id) = app.current
        && state(app) != before
    {
        fx.push(Effect::RefreshTranscript(id));
    }
}

/// The open session's messages, read again because another program changed them. What
/// this app holds that the store does not have yet stays, after them: the answer being
/// written here (its saved text lags by up to a second, and the deltas go to the last
/// turn) and a question not saved yet. A message being deleted stays hidden; the selection
/// stays on its message and the view where it is. The draft is not touched.
pub(super) fn on_transcript_refreshed(
    app: &mut App,
    session_id: SessionId,
    messages: Vec<Message>,
) {
    if app.current != Some(session_id) {
        return;
    }
    let hidden = deleting(app, session_id);
    let answering = app.live.get(&session_id).and_then(|l| l.answer_id);
    let selected = app
        .selected_turn
        .and_then(|i| app.transcript.get(i))
        .and_then(|t| t.id);
    let shown = app.transcript.len();
    let here: Vec<Turn> = std::mem::take(&mut app.transcript)
        .into_iter()
        .filter(|t| t.id.is_none() || (answering.is_some() && t.id == answering))
        .collect();
    app.transcript = messages
        .into_iter()
        .filter(|m| Some(m.id) != hidden && Some(m.id) != answering)
        .map(Turn::from)
        .chain(here)
        .collect();
    app.selected_turn =
        selected.and_then(|id| app.transcript.iter().position(|t| t.id == Some(id)));
    if app.scroll != Scroll::Follow && app.transcript.len() > shown {
        app.new_below = true;
    }
}

/// The message of a session deleted within its undo time: still in the history, not shown.
fn deleting(app: &App, session_id: SessionId) -> Option<MessageId> {
    app.pending_message
        .as_ref()
        .filter(|p| p.session == Some(session_id))
        .and_then(|p| p.turn.id)
}

/// A session's messages and its saved draft loaded: shown if it is still the open one,
/// with its live answer's text and the message a search jumped to.
pub(super) fn on_transcript_loaded(
    app: &mut App,
    session_id: SessionId,
    messages: Vec<Message>,
    draft: Option<String>,
) {
    if app.current != Some(session_id) {
        return;
    }
    let hidden = deleting(app, session_id);
    app.transcript = messages
        .into_iter()
        .filter(|m| Some(m.id) != hidden)
        .map(Turn::from)
        .collect();
    if let Some(live) = app.live.get_mut(&session_id) {
        // The streaming answer is drawn from the live text: the row's partial copy goes.
        let grounding = live.grounding.take();
        let idx = app
            .transcript
            .iter()
            .position(|t| t.id.is_some() && t.id == live.answer_id);
        let turn = match idx {
            Some(i) => {
                app.transcript[i].content = String::new();
                app.transcript[i].status = MessageStatus::Streaming;
                &mut app.transcript[i]
            }
            None => {
                app.transcript.push(Turn::new(
                    Role::Assistant,
                    String::new(),
                    MessageStatus::Streaming,
                ));
                let last = app.transcript.len() - 1;
                &mut app.transcript[last]
            }
        };
        if grounding.is_some() {
            turn.grounding = grounding;
        }
    }
    if !app.drafts.contains_key(&session_id)
        && let Some(d) = draft
    {
        app.set_text(&d);
    }
    app.selected_turn = None;
    app.scroll = Scroll::Follow;
    app.new_below = false;
    if let Some(target) = app.jump_to.take()
        && let Some(i) = app.transcript.iter().position(|t| t.id == Some(target))
    {
        app.selected_turn = Some(i);
        app.focus = Focus::Transcript;
    }
}

/// The store gave an answer its row: the live answer (of the new session when `created`)
/// is filed under its session, which becomes the open one if the new session was open.
pub(super) fn adopt_live(
    app: &mut App,
    session_id: i64,
    created: bool,
    answer_id: i64,
) -> &mut Live {
    let mut live = if created {
        app.pending_new.take().unwrap_or_default()
    } else {
        app.live.remove(&session_id).unwrap_or_default()
    };
    live.answer_id = Some(answer_id);
    if created && app.current.is_none() {
        app.current = Some(session_id);
    }
    app.live.entry(session_id).or_insert(live)
}

/// Keys while typing the list's filter; `false`: not the filter's key.
pub(super) fn on_filter_key(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) -> bool {
    match key.code {
        KeyCode::Esc => {
            app.filtering = false;
            app.filter = TextField::default();
        }
        KeyCode::Enter => {
            app.filtering = false;
            open_selected(app, fx);
        }
        _ => match app.filter.edit(&key) {
            Edited::Changed => app.selected = 0,
            Edited::Unchanged => {}
            Edited::NotEditing => return false,
        },
    }
    true
}

/// Open a session: its model, draft and transcript come back; the one left keeps its own.
pub(super) fn open_session(app: &mut App, id: i64, fx: &mut Vec<Effect>) {
    if app.current == Some(id) {
        return;
    }
    // The session's own model is used when it is continued.
    if let Some(model) = app
        .sessions
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.model.clone())
        && model != app.setup.model
    {
        let window = app.setup.models.get(&model).and_then(|i| i.context_window);
        app.set_model(&model, window);
    }
    // An archived session (a search hit) opens as what it is: the list shows the archived
    // view, with the cursor on it.
    if let Some(archived) = app.sessions.iter().find(|s| s.id == id).map(|s| s.archived)
        && archived != app.show_archived
    {
        app.show_archived = archived;
    }
    app.stash_draft(fx);
    app.stash_live();
    app.current = Some(id);
    app.transcript.clear();
    app.unread.remove(&id);
    let draft = app.drafts.get(&id).cloned().unwrap_or_default();
    app.load_draft(draft);
    app.select_id(Some(id));
    fx.push(Effect::LoadTranscript(id));
}

/// Open the session selected in the list.
pub(super) fn open_selected(app: &mut App, fx: &mut Vec<Effect>) {
    if let Some(id) = app.selected_id() {
        open_session(app, id, fx);
    }
}

/// Open the next or previous session of the list.
pub(super) fn open_next(app: &mut App, cmd: Command, fx: &mut Vec<Effect>) {
    let n = app.visible_sessions().len();
    if n == 0 {
        return;
    }
    let cur = app
        .current
        .and_then(|c| app.visible_sessions().iter().position(|s| s.id == c));
    let base = if app.focus == Focus::Sessions {
        Some(app.selected)
    } else {
        cur
    };
    app.selected = match (cmd, base) {
        (Command::NextSession, Some(i)) => (i + 1).min(n - 1),
        (Command::NextSession, None) => 0,
        (_, Some(i)) => i.saturating_sub(1),
        (_, None) => 0,
    };
    open_selected(app, fx);
}

/// Ask where to write the target session: a file named after it, in the folder clerk was
/// started in, until the user types another.
pub(super) fn ask_export(app: &mut App) {
    if let Some(s) = target_session(app) {
        let path = format!("{}.md", file_stem(&s.title, s.id));
        app.dialog = Some(Dialog::Export {
            id: s.id,
            title: s.title,
            path: TextField::new(path),
        });
    }
}

/// A file name from a title: its letters and digits (any script), other runs as one `-`,
/// at most 60 characters; `session-ID` when nothing is left.
fn file_stem(title: &str, id: SessionId) -> String {
    let mut stem = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            stem.push(c);
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
        if stem.chars().count() >= 60 {
            break;
        }
    }
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        format!("session-{id}")
    } else {
        stem.to_string()
    }
}

/// Ask for the target session's new title.
pub(super) fn ask_rename(app: &mut App) {
    if let Some(s) = target_session(app) {
        app.dialog = Some(Dialog::Rename {
            id: s.id,
            title: TextField::new(s.title),
        });
    }
}

/// Ask before deleting the target session.
pub(super) fn ask_delete(app: &mut App) {
    if let Some(s) = target_session(app) {
        app.dialog = Some(Dialog::ConfirmDelete {
            id: s.id,
            title: s.title,
        });
    }
}

/// Pin the target session to the top of the list, or unpin it.
pub(super) fn toggle_pin(app: &mut App, fx: &mut Vec<Effect>) {
    if let Some(s) = target_session(app) {
        let pinned = !s.pinned;
        if let Some(e) = app.sessions.iter_mut().find(|e| e.id == s.id) {
            e.pinned = pinned;
        }
        app.sessions.sort_by_key(|e| !e.pinned);
        app.select_id(Some(s.id));
        fx.push(Effect::SetPinned(s.id, pinned));
        app.notice(
            if pinned {
                tr!("app.notice.pinned")
            } else {
                tr!("app.notice.unpinned")
            },
            Level::Info,
        );
    }
}

/// Archive the target session: it leaves the list (and is closed if open).
pub(super) fn archive(app: &mut App, fx: &mut Vec<Effect>) {
    let Some(s) = target_session(app) else {
        return;
    };
    let archive = !s.archived;
    if let Some(e) = app.sessions.iter_mut().find(|e| e.id == s.id) {
        e.archived = archive;
    }
    fx.push(Effect::SetArchived(s.id, archive));
    fx.push(Effect::LoadSessions);
    if archive {
        if app.current == Some(s.id) {
            app.new_session(fx);
        }
        app.last_archived = Some((s.id, app.now_ms + UNDO_MS));
        let undo = app.key_hint(Mode::Global, Command::Undo, &tr!("app.hint.to_undo"));
        let view = app.key_hint(
            Mode::Sessions,
            Command::ShowArchived,
            &tr!("app.hint.shows_archived"),
        );
        app.notice(
            tr!(
                "app.notice.archived",
                title = &s.title,
                undo = undo,
                view = view
            ),
            Level::Info,
        );
    } else {
        app.notice(
            tr!("app.notice.back_in_list", title = &s.title),
            Level::Info,
        );
    }
    app.select_id(None);
}

/// Bring back the session archived last, within its undo time.
pub(super) fn undo_archive(app: &mut App, fx: &mut Vec<Effect>) -> bool {
    let Some((id, until)) = app.last_archived.take() else {
        return false;
    };
    if until < app.now_ms {
        return false;
    }
    let Some(e) = app.sessions.iter_mut().find(|e| e.id == id) else {
        return false;
    };
    e.archived = false;
    let title = e.title.clone();
    fx.push(Effect::SetArchived(id, false));
    fx.push(Effect::LoadSessions);
    app.notice(tr!("app.notice.back_in_list", title = &title), Level::Info);
    app.select_id(Some(id));
    true
}

/// The list shows the archived sessions, or the others again.
pub(super) fn toggle_archived_view(app: &mut App) {
    app.show_archived = !app.show_archived;
    app.selected = 0;
    app.select_id(app.current);
    if app.show_archived && app.visible_sessions().is_empty() {
        app.notice(tr!("app.notice.no_archived"), Level::Info);
    }
}

/// The session a session command applies to: the selected one in the list when the list
/// has the focus, otherwise the open one.
fn target_session(app: &App) -> Option<SessionEntry> {
    let id = if app.focus == Focus::Sessions {
        app.selected_id()
    } else {
        app.current.or_else(|| app.selected_id())
    }?;
    app.sessions.iter().find(|s| s.id == id).cloned()
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn an_export_is_named_after_the_title_in_any_script() {
        assert_eq!(
            file_stem("Q3 budget: review/notes?", 4),
            "Q3-budget-review-notes"
        );
        assert_eq!(
            file_stem("我想了解差旅报销的流程", 4),
            "我想了解差旅报销的流程"
        );
        assert_eq!(file_stem("../../etc/passwd", 4), "etc-passwd");
        assert_eq!(file_stem("***", 4), "session-4");
        assert_eq!(file_stem(&"a".repeat(100), 4).chars().count(), 60);
    }
}
