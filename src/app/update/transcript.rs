//! The open transcript: a streamed answer's events (progress, retries, text, its end or
//! failure), the layout the renderer reported, scrolling, selecting a message, copying a
//! message or one of its code blocks, deleting a message, regenerating the last answer, and
//! stopping an answer.
//!
//! Pure: no IO, no await, no clock reads; streams are started and stopped by effects, and
//! the layout is learnt from `Msg::Layout`, never by calling the renderer.

use crate::app::keymap::{Command, Mode};
use crate::app::{
    App, Effect, Focus, Level, Live, PendingMessage, Scroll, StreamEvent, Turn, UNDO_MS, View,
};
use crate::store::{MessageStatus, Role};

/// The transcript as last drawn: keep the view where the renderer drew it, and follow the
/// end again once it is in view.
pub(super) fn on_layout(app: &mut App, view: View) {
    let (lines, height) = (view.lines, view.height);
    // The renderer keeps what is on screen still while the heights of messages
    // above it become known (they are laid out as they come into view): the line it
    // drew at the top is where the view is.
    if let Scroll::Top(top) = app.scroll
        && view.top != top
        && !view.starts.is_empty()
    {
        app.scroll = Scroll::Top(view.top);
    }
    app.view = view;
    if let Scroll::Top(top) = app.scroll
        && top + height >= lines
    {
        app.scroll = Scroll::Follow;
        app.new_below = false;
    }
}

/// An answer's progress, text, end or failure.
pub(super) fn on_stream(app: &mut App, session_id: i64, event: StreamEvent, fx: &mut Vec<Effect>) {
    let open = app.current == Some(session_id);
    match event {
        StreamEvent::Progress(text) => {
            if let Some(l) = app.live.get_mut(&session_id) {
                l.waiting = Some(text);
            }
        }
        StreamEvent::Sources(g) => {
            // Onto the open transcript's streaming answer, or kept with the live answer
            // while its session is not shown: never both.
            let shown = open
                && app
                    .transcript
                    .iter_mut()
                    .rev()
                    .find(|t| t.status == MessageStatus::Streaming)
                    .map(|t| t.grounding = Some(g.clone()))
                    .is_some();
            if let Some(l) = app.live.get_mut(&session_id) {
                l.grounding = (!shown).then_some(g);
            }
        }
        StreamEvent::Retrying(n) => {
            let text = crate::chat::record::retry_text(&n);
            if let Some(l) = app.live.get_mut(&session_id) {
                l.waiting = Some(text.clone());
            }
            app.notice(text, Level::Warn);
        }
        StreamEvent::Text(text) => {
            // Drawn from where the driver writes it, for the open transcript or later.
            if let Some(l) = app.live.get_mut(&session_id) {
                l.text = text;
            }
        }
        StreamEvent::Grew => {
            if let Some(l) = app.live.get_mut(&session_id) {
                l.waiting = None;
            }
            if open && app.scroll != Scroll::Follow {
                app.new_below = true;
            }
        }
        StreamEvent::Done(mut answer, cost, saved) => {
            app.live.remove(&session_id);
            let status = crate::chat::record::status(answer.status);
            let usage = saved.unwrap_or_else(|| crate::chat::record::usage(&answer, None));
            if open {
                if let Some(t) = app
                    .transcript
                    .iter_mut()
                    .rev()
                    .find(|t| t.status == MessageStatus::Streaming)
                {
                    // The text as saved becomes the turn's (moved); the live one goes.
                    t.content = std::mem::take(&mut answer.text);
                    t.status = status;
                    t.error = answer.reason.clone();
                    t.model = answer.model.clone();
                    t.usage = usage;
                    t.cost_usd = cost;
                    t.ttft_ms = answer.ttft.map(|d| d.as_millis() as u64);
                    t.duration_ms = Some(answer.duration.as_millis() as u64);
                }
            } else {
                app.unread.insert(session_id);
            }
            if status != MessageStatus::Complete {
                let saved = answer.reason.unwrap_or_default();
                let why = crate::chat::record::shown_reason(&saved);
                app.notice(
                    tr!(
                        "app.notice.answer_status",
                        status = crate::app::words::status_name(status),
                        why = why
                    ),
                    Level::Warn,
                );
            }
            fx.push(Effect::LoadSessions);
        }
        StreamEvent::Refused(text) => {
            failed(app, session_id, open, &text);
            // Said where it cannot be missed; the question stays in the history.
            app.dialog = Some(crate::app::Dialog::Refused { text });
            fx.push(Effect::LoadSessions);
        }
        StreamEvent::Failed(e) => {
            failed(app, session_id, open, &e);
            let hint = if e.contains("clerk auth login") {
                app.key_hint(Mode::Global, Command::AddKey, &tr!("app.hint.adds_key"))
            } else {
                String::new()
            };
            app.notice(format!("{e}{hint}"), Level::Error);
            fx.push(Effect::LoadSessions);
        }
    }
}

/// Scroll the view up `n` lines (following the end stops).
pub(super) fn scroll_up(app: &mut App, n: usize) {
    let (lines, height) = (app.view.lines, app.view.height);
    let max_top = lines.saturating_sub(height);
    let top = match app.scroll {
        Scroll::Follow => max_top,
        Scroll::Top(t) => t,
    };
    app.scroll = Scroll::Top(top.saturating_sub(n));
    if max_top == 0 {
        app.scroll = Scroll::Follow;
    }
}

/// Scroll the view down `n` lines (at the end it follows again).
pub(super) fn scroll_down(app: &mut App, n: usize) {
    if let Scroll::Top(t) = app.scroll {
        let (lines, height) = (app.view.lines, app.view.height);
        if t + n + height >= lines {
            app.scroll = Scroll::Follow;
            app.new_below = false;
        } else {
            app.scroll = Scroll::Top(t + n);
        }
    }
}

/// Esc: stop the open session's answer, else cancel the edit, else focus the input.
pub(super) fn stop_answer(app: &mut App, fx: &mut Vec<Effect>) {
    if let Some(id) = app.current
        && app.live.contains_key(&id)
    {
        fx.push(Effect::Stop(id));
        app.notice(tr!("app.notice.stopping"), Level::Info);
    } else if app.current.is_none() && app.pending_new.is_some() {
        app.notice(tr!("app.notice.starting_esc"), Level::Info);
    } else if let Some(e) = app.editing.take() {
        app.load_draft(e.draft);
        app.notice(tr!("app.notice.edit_cancelled"), Level::Info);
    } else if app.focus != Focus::Input {
        app.focus = Focus::Input;
    }
}

/// Select the previous or next message.
pub(super) fn select_step(app: &mut App, cmd: Command) {
    let n = app.transcript.len();
    if n == 0 {
        return;
    }
    app.selected_turn = Some(match (cmd, app.selected_turn) {
        (Command::SelectPrev, None) => n - 1,
        (Command::SelectPrev, Some(i)) => i.saturating_sub(1),
        (_, None) => n - 1,
        (_, Some(i)) => (i + 1).min(n - 1),
    });
}

/// Copy the target message.
pub(super) fn copy_message(app: &mut App, fx: &mut Vec<Effect>) {
    let turn = target_turn(app);
    let text = turn.map(|t| app.with_turn_text(t, str::to_owned));
    match text {
        Some(text) if !text.is_empty() => fx.push(Effect::Copy(text)),
        _ => app.notice(tr!("app.notice.nothing_to_copy"), Level::Info),
    }
}

/// Copy code block 1 to 9 of the target message.
pub(super) fn copy_code(app: &mut App, cmd: Command, fx: &mut Vec<Effect>) {
    let n = cmd.code_block().unwrap_or(1);
    let turn = target_turn(app);
    let code = turn.and_then(|t| app.with_turn_text(t, code_blocks).into_iter().nth(n - 1));
    match code {
        Some(code) => fx.push(Effect::Copy(code)),
        None => app.notice(tr!("app.notice.no_code_block", n = n), Level::Info),
    }
}

/// Take the selected message out of the transcript (not while it streams); it is deleted
/// from the history when its undo time is over, or before the next send.
pub(super) fn delete_message(app: &mut App, fx: &mut Vec<Effect>) {
    match app.selected_turn {
        Some(i) if app.transcript[i].status == MessageStatus::Streaming => {
            app.notice(tr!("app.notice.stop_first"), Level::Info);
        }
        Some(i) => {
            app.commit_pending_message(fx);
            let turn = app.transcript.remove(i);
            app.pending_message = Some(PendingMessage {
                session: app.current,
                index: i,
                turn,
                until_ms: app.now_ms + UNDO_MS,
            });
            app.selected_turn = if app.transcript.is_empty() {
                None
            } else {
                Some(i.min(app.transcript.len() - 1))
            };
            let undo = app.key_hint(Mode::Global, Command::Undo, &tr!("app.hint.to_undo"));
            app.notice(tr!("app.notice.message_deleted", undo = undo), Level::Info);
        }
        None => app.notice(tr!("app.notice.select_message"), Level::Info),
    }
}

/// Put a message deleted within its undo time back where it was.
pub(super) fn undo_delete_message(app: &mut App) -> bool {
    if app
        .pending_message
        .as_ref()
        .is_none_or(|p| p.session != app.current)
    {
        return false;
    }
    let Some(p) = app.pending_message.take() else {
        return false;
    };
    let at = p.index.min(app.transcript.len());
    app.transcript.insert(at, p.turn);
    app.selected_turn = Some(at);
    app.notice(tr!("app.notice.message_restored"), Level::Info);
    true
}

/// Write the last answer again (the last question's answer, if it has none).
pub(super) fn regenerate(app: &mut App, fx: &mut Vec<Effect>) {
    app.commit_pending_message(fx);
    let Some(id) = app.current else {
        app.notice(tr!("app.notice.nothing_to_regenerate"), Level::Info);
        return;
    };
    if app.live.contains_key(&id) {
        app.notice(tr!("app.notice.still_writing"), Level::Warn);
        return;
    }
    if !app.setup.has_key {
        app.ask_for_key();
        return;
    }
    if let Some(why) = app.model_refused() {
        app.notice(why, Level::Error);
        return;
    }
    // Answered again from the knowledge base it was answered from, else the session's.
    let mut ground = app.session_kb().map(str::to_string);
    let replace = match app.transcript.last() {
        Some(t) if t.role == Role::Assistant => {
            let id = t.id;
            if let Some(base) = t.grounding.as_ref().and_then(|g| g.bases.first()) {
                ground = Some(base.clone());
            }
            app.transcript.pop();
            id
        }
        Some(t) if t.role == Role::User => None,
        _ => {
            app.notice(tr!("app.notice.nothing_to_regenerate"), Level::Info);
            return;
        }
    };
    if let Some(kb) = ground.as_deref().filter(|kb| !app.is_base(kb)) {
        app.notice(
            tr!("app.notice.kb_gone_regenerate", name = kb),
            Level::Error,
        );
        return;
    }
    app.transcript.push(Turn::new(
        Role::Assistant,
        String::new(),
        MessageStatus::Streaming,
    ));
    app.live.insert(id, Live::default());
    app.scroll = Scroll::Follow;
    fx.push(Effect::Regenerate {
        session_id: id,
        replace,
        model: app.setup.model.clone(),
        ground,
    });
}

/// The fenced code blocks of a Markdown text, in order, exactly as written.
pub fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.split('\n') {
        let t = line.trim_start();
        match &mut current {
            None if t.starts_with("```") || t.starts_with("~~~") => {
                current = Some((t[..3].to_string(), String::new()));
            }
            Some((fence, body))
                if t.starts_with(fence.as_str())
                    && t.trim_start_matches(fence.chars().next().unwrap_or('`'))
                        .trim()
                        .is_empty() =>
            {
                blocks.push(std::mem::take(body).trim_end_matches('\n').to_string());
                current = None;
            }
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    if let Some((_, body)) = current {
        blocks.push(body.trim_end_matches('\n').to_string());
    }
    blocks
}

/// The passages of the selected answer (a selected question: its answer), else of the last
/// grounded answer, in a dialog; a number there opens one.
pub(super) fn open_sources(app: &mut App) {
    let selected = app.selected_turn.and_then(|i| {
        let t = app.transcript.get(i)?;
        match t.role {
            Role::User => app
                .transcript
                .get(i + 1)
                .filter(|a| a.role == Role::Assistant),
            _ => Some(t),
        }
    });
    let grounding = match selected {
        Some(t) => t.grounding.clone(),
        None => app
            .transcript
            .iter()
            .rev()
            .find(|t| t.role == Role::Assistant && t.grounding.is_some())
            .and_then(|t| t.grounding.clone()),
    };
    match grounding {
        Some(g) if !g.passages.is_empty() => {
            let selected = g.passages.iter().position(|p| p.cited).unwrap_or(0);
            app.dialog = Some(crate::app::Dialog::Sources {
                grounding: g,
                selected,
            });
        }
        Some(_) => app.notice(tr!("app.notice.no_passage"), Level::Info),
        None if selected.is_some() => app.notice(tr!("app.notice.no_sources"), Level::Info),
        None => {
            let pick = app.key_hint(
                Mode::Global,
                Command::KnowledgePicker,
                &tr!("app.hint.chooses_one"),
            );
            app.notice(tr!("app.notice.no_grounded", pick = pick), Level::Info);
        }
    }
}

/// The message a copy applies to: the selected one, else the last answer.
fn target_turn(app: &App) -> Option<&Turn> {
    app.selected_turn
        .and_then(|i| app.transcript.get(i))
        .or_else(|| {
            app.transcript
                .iter()
                .rev()
                .find(|t| t.role == Role::Assistant)
        })
}

/// The answer being written in `session_id` ended without one: no live answer is left, and
/// the open transcript's streaming turn shows `why`.
fn failed(app: &mut App, session_id: crate::store::SessionId, open: bool, why: &str) {
    app.live.remove(&session_id);
    if open
        && let Some(t) = app
            .transcript
            .iter_mut()
            .rev()
            .find(|t| t.status == MessageStatus::Streaming)
    {
        t.status = MessageStatus::Error;
        t.error = Some(why.to_string());
    }
}
