//! `update(&mut App, Msg) -> Vec<Effect>`: all of the app's behaviour, pure.
//!
//! No IO, no clock, no await: time comes in with `Msg::Tick`, results come back as
//! messages, and what must be done goes out as effects.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};

use super::attach;
use super::keymap::{Command, Mode};
use super::{
    App, Dialog, Draft, EXPAND_MAX_LINES, Editing, Effect, Focus, Level, Live, Msg, NEW_SESSION,
    NOTICE_MS, Notice, Paste, Scroll, SessionEntry, StreamEvent, Turn, UNDO_MS,
};
use crate::store::{MessageStatus, Role};

/// Apply one message; return what the runtime must do.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) if key.kind != KeyEventKind::Release => on_key(app, key, &mut fx),
        Msg::Key(_) => {}
        Msg::Paste(text) => on_paste(app, &text, &mut fx),
        Msg::Attached {
            results,
            from_text,
            fallback,
        } => attach::on_attached(app, results, from_text, fallback),
        Msg::Checked(check) => on_checked(app, *check, &mut fx),
        Msg::Resize(w, h) => app.size = (w, h),
        Msg::Mouse(m) => on_mouse(app, m, &mut fx),
        Msg::Tick(now) => on_tick(app, now, &mut fx),
        Msg::Layout(view) => {
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
        Msg::SessionsLoaded(list) => {
            let keep = selected_id(app);
            let mut entries: Vec<SessionEntry> = list.iter().map(SessionEntry::from).collect();
            entries.sort_by_key(|e| !e.pinned);
            app.sessions = entries;
            select_id(app, keep.or(app.current));
        }
        Msg::TranscriptLoaded {
            session_id,
            messages,
            draft,
        } => {
            if app.current != Some(session_id) {
                return fx;
            }
            app.transcript = messages.into_iter().map(Turn::from).collect();
            if let Some(live) = app.live.get_mut(&session_id) {
                // The live text moves into the transcript: one string per streaming answer.
                let text = std::mem::take(&mut live.text);
                let idx = app
                    .transcript
                    .iter()
                    .position(|t| t.id.is_some() && t.id == live.answer_id);
                match idx {
                    Some(i) => {
                        app.transcript[i].content = text;
                        app.transcript[i].status = MessageStatus::Streaming;
                    }
                    None => app.transcript.push(Turn::new(
                        Role::Assistant,
                        text,
                        MessageStatus::Streaming,
                    )),
                }
            }
            if !app.drafts.contains_key(&session_id)
                && let Some(d) = draft
            {
                set_input(app, &d);
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
        Msg::SendAccepted {
            session_id,
            created,
            user_id,
            answer_id,
        } => {
            adopt_live(app, session_id, created, answer_id);
            if app.current == Some(session_id) {
                let n = app.transcript.len();
                if n >= 2 {
                    app.transcript[n - 2].id.get_or_insert(user_id);
                    app.transcript[n - 1].id = Some(answer_id);
                }
            }
            fx.push(Effect::LoadSessions);
        }
        Msg::Stream { session_id, event } => on_stream(app, session_id, event, &mut fx),
        Msg::SearchResults { query, hits } => {
            if let Some(Dialog::Search {
                query: q,
                hits: h,
                selected,
            }) = &mut app.dialog
                && *q == query
            {
                *h = hits;
                *selected = 0;
            }
        }
        Msg::KeyStored(Ok(text)) => {
            app.setup.has_key = true;
            app.dialog = None;
            notice(app, text, Level::Info);
        }
        Msg::KeyStored(Err(e)) => {
            if let Some(Dialog::ApiKey { error, .. }) = &mut app.dialog {
                *error = Some(e);
            }
        }
        Msg::Copied(Ok(how)) => notice(app, format!("copied ({how})"), Level::Info),
        Msg::Copied(Err(e)) => notice(app, format!("could not copy: {e}"), Level::Error),
        Msg::Failed(e) => notice(app, e, Level::Error),
        Msg::Info(text) => notice(app, text, Level::Info),
        Msg::TemplatesLoaded(items) => {
            app.templates = items;
            if let Some(Dialog::Templates { query, selected }) = &mut app.dialog {
                let n = super::forms::matches(&app.templates, query).len();
                *selected = (*selected).min(n.saturating_sub(1));
            }
        }
        Msg::TemplateValues { id, values } => {
            if let Some(Dialog::Form(form)) = &mut app.dialog
                && form.id == id
            {
                form.remember(&values);
            }
        }
        Msg::PathCompleted {
            typed,
            common,
            candidates,
        } => match &mut app.dialog {
            Some(Dialog::Form(form)) => {
                super::forms::completed(form, &typed, common, candidates);
            }
            Some(Dialog::Attach(picker)) => picker.completed(&typed, common, candidates),
            Some(_) => {}
            None => at_word_completed(app, &typed, &common, &candidates),
        },
        Msg::StepStarted {
            session_id,
            created,
            label,
            prompt,
            user_id,
            answer_id,
        } => {
            let live = adopt_live(app, session_id, created, answer_id);
            live.text.clear();
            live.waiting = None;
            live.step = label;
            if app.current == Some(session_id) {
                let mut q = Turn::new(Role::User, prompt, MessageStatus::Complete);
                q.id = Some(user_id);
                let mut a = Turn::new(Role::Assistant, String::new(), MessageStatus::Streaming);
                a.id = Some(answer_id);
                app.transcript.push(q);
                app.transcript.push(a);
                app.scroll = Scroll::Follow;
            }
            fx.push(Effect::LoadSessions);
        }
        Msg::RunFailed(e) => {
            app.pending_new = None;
            if app.current.is_none() {
                app.transcript.clear();
            }
            notice(app, e, Level::Error);
        }
        Msg::Composed(Ok(text)) => {
            set_input(app, &text);
            app.focus = Focus::Input;
        }
        Msg::Composed(Err(e)) => notice(app, e, Level::Error),
        Msg::Counted { paste, tokens } => {
            let chips = app
                .pastes
                .iter_mut()
                .chain(app.drafts.values_mut().flat_map(|d| d.pastes.iter_mut()))
                .chain(
                    app.editing
                        .iter_mut()
                        .flat_map(|e| e.draft.pastes.iter_mut()),
                );
            for p in chips.filter(|p| p.id == paste) {
                p.tokens = Some(tokens);
            }
        }
    }
    // Every chip gets its tokens counted, once, off the UI's path.
    for p in app.pastes.iter_mut().filter(|p| !p.counting) {
        p.counting = true;
        fx.push(Effect::CountTokens {
            paste: p.id,
            text: p.text.clone(),
        });
    }
    fx
}

/// The store gave an answer its row: the live answer (of the new session when `created`)
/// is filed under its session, which becomes the open one if the new session was open.
fn adopt_live(app: &mut App, session_id: i64, created: bool, answer_id: i64) -> &mut Live {
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

fn on_mouse(app: &mut App, m: ratatui::crossterm::event::MouseEvent, fx: &mut Vec<Effect>) {
    if matches!(app.dialog, Some(Dialog::Help { .. })) {
        let max = app.view.help_max;
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

/// Show a notice in the status bar.
pub(super) fn notice(app: &mut App, text: impl Into<String>, level: Level) {
    app.notice = Some(Notice {
        text: text.into(),
        level,
        until_ms: app.now_ms + NOTICE_MS,
    });
}

fn on_tick(app: &mut App, now: i64, fx: &mut Vec<Effect>) {
    app.now_ms = now;
    if app.notice.as_ref().is_some_and(|n| n.until_ms <= now) {
        app.notice = None;
    }
    if app.removed_paste.as_ref().is_some_and(|(_, at)| *at <= now) {
        app.removed_paste = None;
    }
    if let Some((entry, at)) = &app.pending_delete
        && *at <= now
    {
        fx.push(Effect::Delete(entry.id));
        app.sessions.retain(|s| s.id != entry.id);
        app.pending_delete = None;
        fx.push(Effect::LoadSessions);
    }
}

fn on_stream(app: &mut App, session_id: i64, event: StreamEvent, fx: &mut Vec<Effect>) {
    let open = app.current == Some(session_id);
    match event {
        StreamEvent::Progress(text) => {
            if let Some(l) = app.live.get_mut(&session_id) {
                l.waiting = Some(text);
            }
        }
        StreamEvent::Retrying(n) => {
            let text = crate::chat::record::retry_text(&n);
            if let Some(l) = app.live.get_mut(&session_id) {
                l.waiting = Some(text.clone());
            }
            notice(app, text, Level::Warn);
        }
        StreamEvent::Delta(d) => {
            // The text goes to the open transcript, or waits in the live answer while its
            // session is not shown: never both.
            let shown = open
                && app
                    .transcript
                    .last_mut()
                    .filter(|t| t.status == MessageStatus::Streaming)
                    .map(|t| t.content.push_str(&d))
                    .is_some();
            if let Some(l) = app.live.get_mut(&session_id) {
                if !shown {
                    l.text.push_str(&d);
                }
                l.waiting = None;
            }
            if open && app.scroll != Scroll::Follow {
                app.new_below = true;
            }
        }
        StreamEvent::Done(mut answer, cost) => {
            app.live.remove(&session_id);
            let status = crate::chat::record::status(answer.status);
            let usage = crate::chat::record::usage(&answer);
            if open {
                if let Some(t) = app
                    .transcript
                    .iter_mut()
                    .rev()
                    .find(|t| t.status == MessageStatus::Streaming)
                {
                    // The text as saved replaces the one gathered from the deltas (moved).
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
                let why = answer.reason.unwrap_or_default();
                notice(
                    app,
                    format!("answer {}: {why}", status.as_str()),
                    Level::Warn,
                );
            }
            fx.push(Effect::LoadSessions);
        }
        StreamEvent::Failed(e) => {
            app.live.remove(&session_id);
            if open
                && let Some(t) = app
                    .transcript
                    .iter_mut()
                    .rev()
                    .find(|t| t.status == MessageStatus::Streaming)
            {
                t.status = MessageStatus::Error;
                t.error = Some(e.clone());
            }
            let hint = if e.contains("clerk auth login") {
                " · Ctrl+K adds a key"
            } else {
                ""
            };
            notice(app, format!("{e}{hint}"), Level::Error);
            fx.push(Effect::LoadSessions);
        }
    }
}

fn mode(app: &App) -> Mode {
    match app.focus {
        Focus::Input => Mode::Input,
        Focus::Sessions => Mode::Sessions,
        Focus::Transcript => Mode::Transcript,
    }
}

fn on_key(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    if app.dialog.is_some() {
        on_dialog_key(app, key, fx);
        return;
    }
    if app.filtering && on_filter_key(app, key, fx) {
        return;
    }
    match app.setup.keymap.lookup(mode(app), &key) {
        Some(cmd) => run(app, cmd, key, fx),
        None if app.focus == Focus::Input => {
            if key.code == KeyCode::Backspace && remove_last_paste(app) {
                return;
            }
            app.input.input(key);
        }
        None => {}
    }
}

fn on_filter_key(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) -> bool {
    match key.code {
        KeyCode::Esc => {
            app.filtering = false;
            app.filter.clear();
        }
        KeyCode::Enter => {
            app.filtering = false;
            open_selected(app, fx);
        }
        KeyCode::Backspace => {
            app.filter.pop();
            app.selected = 0;
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            app.filter.push(c);
            app.selected = 0;
        }
        _ => return false,
    }
    true
}

fn selected_id(app: &App) -> Option<i64> {
    app.visible_sessions().get(app.selected).map(|s| s.id)
}

fn select_id(app: &mut App, id: Option<i64>) {
    if let Some(id) = id
        && let Some(i) = app.visible_sessions().iter().position(|s| s.id == id)
    {
        app.selected = i;
        return;
    }
    let n = app.visible_sessions().len();
    app.selected = app.selected.min(n.saturating_sub(1));
}

/// Fill the message box (chips cleared; a very long text becomes a chip).
fn set_input(app: &mut App, text: &str) {
    app.set_text(text);
}

/// Keep the draft of the session being left, in memory and on disk. An edit in progress
/// becomes part of the draft (after the draft it had set aside): nothing typed is lost.
fn stash_draft(app: &mut App, fx: &mut Vec<Effect>) {
    if let Some(e) = app.editing.take() {
        let edited = app.draft();
        let text = match (e.draft.text.is_empty(), edited.text.is_empty()) {
            (true, _) => edited.text,
            (false, true) => e.draft.text,
            (false, false) => format!("{}\n\n{}", e.draft.text, edited.text),
        };
        let mut pastes = e.draft.pastes;
        pastes.extend(edited.pastes);
        app.load_draft(Draft { text, pastes });
        notice(app, "the edit was kept as a draft", Level::Info);
    }
    let key = app.current.unwrap_or(NEW_SESSION);
    let draft = app.draft();
    let before = app.drafts.get(&key).map(Draft::compose).unwrap_or_default();
    let text = draft.compose();
    if text != before {
        fx.push(Effect::SaveDraft(key, text));
    }
    if draft.is_empty() {
        app.drafts.remove(&key);
    } else {
        app.drafts.insert(key, draft);
    }
}

/// Use a model from now on (and show its context window).
fn set_model(app: &mut App, name: &str, window: Option<u64>) {
    app.setup.model = name.to_string();
    app.setup.context_window = window;
}

fn open_session(app: &mut App, id: i64, fx: &mut Vec<Effect>) {
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
        let window = app
            .setup
            .models
            .iter()
            .find(|(m, _)| *m == model)
            .and_then(|(_, w)| *w);
        set_model(app, &model, window);
    }
    stash_draft(app, fx);
    stash_live(app);
    app.current = Some(id);
    app.transcript.clear();
    app.unread.remove(&id);
    let draft = app.drafts.get(&id).cloned().unwrap_or_default();
    app.load_draft(draft);
    select_id(app, Some(id));
    fx.push(Effect::LoadTranscript(id));
}

/// Before the open transcript goes: its streaming answer's text moves back to the live
/// answer, where the deltas that follow will go until the session is shown again.
fn stash_live(app: &mut App) {
    let Some(turn) = app
        .transcript
        .iter_mut()
        .rev()
        .find(|t| t.status == MessageStatus::Streaming)
    else {
        return;
    };
    let live = match app.current {
        Some(id) => app.live.get_mut(&id),
        None => app.pending_new.as_mut(),
    };
    if let Some(l) = live {
        l.text = std::mem::take(&mut turn.content);
    }
}

fn open_selected(app: &mut App, fx: &mut Vec<Effect>) {
    if let Some(id) = selected_id(app) {
        open_session(app, id, fx);
    }
}

fn new_session(app: &mut App, fx: &mut Vec<Effect>) {
    stash_draft(app, fx);
    stash_live(app);
    app.current = None;
    app.transcript.clear();
    if let Some(l) = &mut app.pending_new {
        app.transcript.push(Turn::new(
            Role::Assistant,
            std::mem::take(&mut l.text),
            MessageStatus::Streaming,
        ));
    }
    let draft = app.drafts.get(&NEW_SESSION).cloned().unwrap_or_default();
    app.load_draft(draft);
    app.scroll = Scroll::Follow;
    app.focus = Focus::Input;
}

fn scroll_up(app: &mut App, n: usize) {
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

fn scroll_down(app: &mut App, n: usize) {
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

/// Put the selected question (or the question of the selected answer) in the message box
/// for editing; sending it replaces it and everything after it.
fn edit_message(app: &mut App) {
    let Some(sel) = app.selected_turn.filter(|&i| i < app.transcript.len()) else {
        notice(
            app,
            "select a question first (↑/↓ in the transcript)",
            Level::Info,
        );
        return;
    };
    let Some(index) = (0..=sel)
        .rev()
        .find(|&i| app.transcript[i].role == Role::User)
    else {
        notice(app, "there is no question here to edit", Level::Info);
        return;
    };
    if app.current_live().is_some() {
        notice(app, "stop the answer first (Esc)", Level::Warn);
        return;
    }
    let Some(id) = app.transcript[index].id else {
        notice(app, "the message is not saved yet", Level::Info);
        return;
    };
    let draft = match app.editing.take() {
        Some(e) => e.draft,
        None => app.draft(),
    };
    let text = app.transcript[index].content.clone();
    set_input(app, &text);
    app.editing = Some(Editing { id, draft });
    app.selected_turn = Some(index);
    app.focus = Focus::Input;
}

/// The `@path` word just before the cursor in the message box (without the `@`).
fn at_word(app: &App) -> Option<String> {
    let cursor = app.input.cursor();
    let (row, col) = (cursor.0, cursor.1);
    let line = app.input.lines().get(row)?;
    let before: String = line.chars().take(col).collect();
    let word = before.rsplit(char::is_whitespace).next()?;
    word.strip_prefix('@').map(str::to_string)
}

/// Completions of an `@path` word arrived: the common part is typed in, several matches are
/// listed in a notice.
fn at_word_completed(app: &mut App, typed: &str, common: &str, candidates: &[String]) {
    if at_word(app).as_deref() != Some(typed) {
        return;
    }
    if let Some(rest) = common.strip_prefix(typed) {
        app.input.insert_str(rest);
    }
    if candidates.len() > 1 {
        let shown: Vec<&str> = candidates.iter().take(8).map(String::as_str).collect();
        let more = if candidates.len() > 8 { " · …" } else { "" };
        notice(app, format!("{}{more}", shown.join(" · ")), Level::Info);
    } else if candidates.is_empty() {
        notice(app, format!("no file matches {typed}"), Level::Warn);
    }
}

/// Open the key dialog with the reason there is no key.
pub(super) fn ask_for_key(app: &mut App) {
    app.dialog = Some(Dialog::ApiKey {
        key: String::new(),
        error: app.setup.key_problem.clone(),
    });
}

fn send(app: &mut App, fx: &mut Vec<Effect>) {
    let text = app.message_text();
    if text.trim().is_empty() {
        return;
    }
    // `@path` words attach their files first; the next Enter sends.
    let paths = attach::at_paths(&app.input_text());
    if !paths.is_empty() {
        notice(app, "attaching…", Level::Info);
        fx.push(Effect::Attach {
            paths,
            from_text: true,
            fallback: None,
        });
        return;
    }
    if !app.setup.has_key {
        ask_for_key(app);
        return;
    }
    if app.current_live().is_some() {
        notice(
            app,
            "an answer is still being written: wait, or press Esc to stop it",
            Level::Warn,
        );
        return;
    }
    let seq = app.next_paste_id();
    let big =
        text.len() >= attach::CHECK_OFF_THREAD_BYTES || app.pastes.iter().any(|p| p.file.is_some());
    if big {
        // Counting and scanning megabytes happen off the UI's path.
        app.checking = Some(seq);
        notice(app, "checking the message…", Level::Info);
        let docs = app
            .pastes
            .iter()
            .enumerate()
            .map(|(i, p)| (p.doc_name(i + 1), p.text.clone()))
            .collect();
        fx.push(Effect::Check(attach::Outgoing {
            seq,
            text: std::sync::Arc::from(text),
            question: app.input_text(),
            docs,
            model: app.setup.model.clone(),
        }));
        return;
    }
    if let Some(check) = attach::quick_check(app, seq, &text) {
        attach::ask(app, check);
        return;
    }
    commit_send(app, text, None, fx);
}

/// Put the question in the transcript, clear the box, and send.
fn commit_send(app: &mut App, text: String, long: Option<attach::LongSend>, fx: &mut Vec<Effect>) {
    // Resending an edited question: it and everything after it are replaced.
    let editing = app.editing.take();
    let replace_from = editing.as_ref().and_then(|e| {
        let i = app.transcript.iter().position(|t| t.id == Some(e.id))?;
        let replaced = app.transcript.len() - i - 1;
        app.transcript.truncate(i);
        Some((e.id, replaced))
    });
    app.transcript
        .push(Turn::new(Role::User, text.clone(), MessageStatus::Complete));
    app.transcript.push(Turn::new(
        Role::Assistant,
        String::new(),
        MessageStatus::Streaming,
    ));
    match app.current {
        Some(id) => {
            app.live.insert(id, Live::default());
        }
        None => app.pending_new = Some(Live::default()),
    }
    app.sent.push(text.clone());
    let key = app.current.unwrap_or(NEW_SESSION);
    match &editing {
        // The draft set aside for the edit comes back.
        Some(e) if !e.draft.is_empty() => app.load_draft(e.draft.clone()),
        _ => {
            set_input(app, "");
            if app.drafts.remove(&key).is_some() {
                fx.push(Effect::SaveDraft(key, String::new()));
            }
        }
    }
    match replace_from {
        Some((_, n)) if n > 0 => notice(
            app,
            format!("resent; the {n} message(s) after it were replaced"),
            Level::Info,
        ),
        Some(_) => {}
        None if editing.is_some() => notice(
            app,
            "the edited message was gone; sent as a new message",
            Level::Warn,
        ),
        None => {}
    }
    app.scroll = Scroll::Follow;
    app.new_below = false;
    app.selected_turn = None;
    let system = if app.current.is_none() {
        app.pending_system.take()
    } else {
        None
    };
    fx.push(Effect::Send {
        session_id: app.current,
        text,
        model: app.setup.model.clone(),
        system,
        replace_from: replace_from.map(|(id, _)| id),
        long,
    });
}

/// The check before sending came back.
fn on_checked(app: &mut App, check: attach::Check, fx: &mut Vec<Effect>) {
    if app.checking != Some(check.seq) {
        return;
    }
    app.checking = None;
    app.notice = None;
    if check.is_clear() {
        commit_send(app, check.outgoing.text.to_string(), None, fx);
    } else {
        attach::ask(app, check);
    }
}

fn run(app: &mut App, cmd: Command, key: KeyEvent, fx: &mut Vec<Effect>) {
    match cmd {
        Command::Send => send(app, fx),
        Command::Newline => app.input.insert_newline(),
        Command::StopAnswer => {
            if let Some(id) = app.current
                && app.live.contains_key(&id)
            {
                fx.push(Effect::Stop(id));
                notice(app, "stopping the answer…", Level::Info);
            } else if app.current.is_none() && app.pending_new.is_some() {
                notice(
                    app,
                    "the answer is starting; press Esc again in a moment",
                    Level::Info,
                );
            } else if let Some(e) = app.editing.take() {
                app.load_draft(e.draft);
                notice(app, "edit cancelled", Level::Info);
            } else if app.focus != Focus::Input {
                app.focus = Focus::Input;
            }
        }
        Command::EditMessage => edit_message(app),
        Command::Quit => {
            if app.streaming() {
                app.dialog = Some(Dialog::ConfirmQuit);
            } else {
                stash_draft(app, fx);
                app.quit = true;
                fx.push(Effect::Quit);
            }
        }
        Command::NewSession => new_session(app, fx),
        Command::NextSession | Command::PrevSession => {
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
        Command::OpenSession => {
            open_selected(app, fx);
            app.focus = Focus::Input;
        }
        Command::FocusNext if app.focus == Focus::Input && at_word(app).is_some() => {
            // Tab after `@pa` completes the path instead of moving the focus.
            let word = at_word(app).unwrap_or_default();
            fx.push(Effect::CompletePath(word));
        }
        Command::FocusNext => {
            app.focus = match app.focus {
                Focus::Input => Focus::Transcript,
                Focus::Transcript if app.sidebar => Focus::Sessions,
                _ => Focus::Input,
            };
        }
        Command::ToggleSidebar => {
            app.sidebar = !app.sidebar;
            if !app.sidebar && app.focus == Focus::Sessions {
                app.focus = Focus::Input;
            }
        }
        Command::Search => {
            app.dialog = Some(Dialog::Search {
                query: String::new(),
                hits: Vec::new(),
                selected: 0,
            })
        }
        Command::Help => app.dialog = Some(Dialog::Help { scroll: 0 }),
        Command::RenameSession => {
            if let Some(s) = target_session(app) {
                app.dialog = Some(Dialog::Rename {
                    id: s.id,
                    title: s.title,
                });
            }
        }
        Command::DeleteSession => {
            if let Some(s) = target_session(app) {
                app.dialog = Some(Dialog::ConfirmDelete {
                    id: s.id,
                    title: s.title,
                });
            }
        }
        Command::PinSession => {
            if let Some(s) = target_session(app) {
                let pinned = !s.pinned;
                if let Some(e) = app.sessions.iter_mut().find(|e| e.id == s.id) {
                    e.pinned = pinned;
                }
                app.sessions.sort_by_key(|e| !e.pinned);
                select_id(app, Some(s.id));
                fx.push(Effect::SetPinned(s.id, pinned));
                notice(app, if pinned { "pinned" } else { "unpinned" }, Level::Info);
            }
        }
        Command::ArchiveSession => {
            if let Some(s) = target_session(app) {
                app.sessions.retain(|e| e.id != s.id);
                fx.push(Effect::SetArchived(s.id, true));
                if app.current == Some(s.id) {
                    new_session(app, fx);
                }
                select_id(app, None);
                notice(app, format!("archived “{}”", s.title), Level::Info);
            }
        }
        Command::Undo => {
            if let Some((p, _)) = app.removed_paste.take() {
                notice(
                    app,
                    format!("pasted text back ({} lines)", p.lines),
                    Level::Info,
                );
                app.pastes.push(p);
            } else if let Some((entry, _)) = app.pending_delete.take() {
                notice(app, format!("restored “{}”", entry.title), Level::Info);
                select_id(app, Some(entry.id));
            }
        }
        Command::ThemePicker => {
            let selected = app
                .setup
                .themes
                .iter()
                .position(|t| *t == app.setup.theme)
                .unwrap_or(0);
            app.dialog = Some(Dialog::Themes {
                selected,
                original: app.setup.theme.clone(),
            });
        }
        Command::ScrollUp => scroll_up(app, 3),
        Command::ScrollDown => scroll_down(app, 3),
        Command::PageUp => scroll_up(app, app.view.height.saturating_sub(2).max(1)),
        Command::PageDown => scroll_down(app, app.view.height.saturating_sub(2).max(1)),
        Command::ScrollBottom => {
            app.scroll = Scroll::Follow;
            app.new_below = false;
            app.selected_turn = None;
        }
        Command::SelectPrev | Command::SelectNext => {
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
        Command::CopyMessage => {
            let turn = target_turn(app);
            match turn {
                Some(t) if !t.content.is_empty() => fx.push(Effect::Copy(t.content.clone())),
                _ => notice(app, "nothing to copy yet", Level::Info),
            }
        }
        Command::Regenerate => regenerate(app, fx),
        Command::CopyCode1
        | Command::CopyCode2
        | Command::CopyCode3
        | Command::CopyCode4
        | Command::CopyCode5
        | Command::CopyCode6
        | Command::CopyCode7
        | Command::CopyCode8
        | Command::CopyCode9 => {
            let n = cmd.code_block().unwrap_or(1);
            let turn = target_turn(app);
            match turn.and_then(|t| code_blocks(&t.content).into_iter().nth(n - 1)) {
                Some(code) => fx.push(Effect::Copy(code)),
                None => notice(app, format!("there is no code block {n}"), Level::Info),
            }
        }
        Command::DeleteMessage if app.editing.is_some() => {
            notice(app, "finish or cancel the edit first (Esc)", Level::Info);
        }
        Command::DeleteMessage => match app.selected_turn {
            Some(i) if app.transcript[i].status == MessageStatus::Streaming => {
                notice(app, "stop the answer first (Esc)", Level::Info);
            }
            Some(i) => {
                let turn = app.transcript.remove(i);
                if let Some(id) = turn.id {
                    fx.push(Effect::DeleteMessage(id));
                }
                app.selected_turn = if app.transcript.is_empty() {
                    None
                } else {
                    Some(i.min(app.transcript.len() - 1))
                };
                notice(app, "message deleted", Level::Info);
            }
            None => notice(
                app,
                "select a message first (↑/↓ in the transcript)",
                Level::Info,
            ),
        },
        Command::ExpandPastes => expand_pastes(app),
        Command::ComposeInEditor => fx.push(Effect::Compose(app.message_text())),
        Command::Attach => {
            app.dialog = Some(Dialog::Attach(attach::Picker::default()));
            fx.push(Effect::CompletePath(String::new()));
        }
        Command::Templates => {
            app.dialog = Some(Dialog::Templates {
                query: String::new(),
                selected: 0,
            });
            fx.push(Effect::LoadTemplates);
        }
        Command::SaveAsTemplate => {
            let text = match app.message_text() {
                t if !t.trim().is_empty() => Some(t),
                _ => app
                    .selected_turn
                    .and_then(|i| app.transcript.get(i))
                    .filter(|t| t.role == Role::User)
                    .map(|t| t.content.clone()),
            };
            match text {
                Some(t) => fx.push(Effect::SaveAsTemplate(t)),
                None => notice(
                    app,
                    "type a message (or select a question) to save as a template",
                    Level::Info,
                ),
            }
        }
        Command::RecallLast => {
            if app.draft().is_empty() {
                if let Some(last) = app.sent.last().cloned().or_else(|| {
                    app.transcript
                        .iter()
                        .rev()
                        .find(|t| t.role == Role::User)
                        .map(|t| t.content.clone())
                }) {
                    set_input(app, &last);
                }
            } else {
                app.input.input(key);
            }
        }
        Command::ModelPicker => {
            let selected = app
                .setup
                .models
                .iter()
                .position(|(m, _)| *m == app.setup.model)
                .unwrap_or(0);
            app.dialog = Some(Dialog::Models { selected });
        }
        Command::SystemPrompt => {
            let text = match app.current {
                Some(id) => app
                    .sessions
                    .iter()
                    .find(|s| s.id == id)
                    .and_then(|s| s.system_prompt.clone()),
                None => app.pending_system.clone(),
            };
            app.dialog = Some(Dialog::SystemPrompt {
                text: text.unwrap_or_default(),
            });
        }
        Command::AddKey => {
            app.dialog = Some(Dialog::ApiKey {
                key: String::new(),
                error: None,
            })
        }
        Command::FilterSessions => {
            app.sidebar = true;
            app.focus = Focus::Sessions;
            app.filtering = true;
        }
    }
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

/// The session a session command applies to: the selected one in the list when the list
/// has the focus, otherwise the open one.
fn target_session(app: &App) -> Option<SessionEntry> {
    let id = if app.focus == Focus::Sessions {
        selected_id(app)
    } else {
        app.current.or_else(|| selected_id(app))
    }?;
    app.sessions.iter().find(|s| s.id == id).cloned()
}

fn regenerate(app: &mut App, fx: &mut Vec<Effect>) {
    let Some(id) = app.current else {
        notice(app, "nothing to regenerate yet", Level::Info);
        return;
    };
    if app.live.contains_key(&id) {
        notice(app, "an answer is still being written", Level::Warn);
        return;
    }
    if !app.setup.has_key {
        ask_for_key(app);
        return;
    }
    let replace = match app.transcript.last() {
        Some(t) if t.role == Role::Assistant => {
            let id = t.id;
            app.transcript.pop();
            id
        }
        Some(t) if t.role == Role::User => None,
        _ => {
            notice(app, "nothing to regenerate yet", Level::Info);
            return;
        }
    };
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
    });
}

fn on_paste(app: &mut App, text: &str, fx: &mut Vec<Effect>) {
    let one_line = || text.replace(['\r', '\n'], " ");
    match &mut app.dialog {
        Some(Dialog::ApiKey { key, .. }) => key.push_str(text.trim()),
        Some(Dialog::Search { query, .. }) => query.push_str(&one_line()),
        Some(Dialog::Rename { title, .. }) => title.push_str(&one_line()),
        Some(Dialog::SystemPrompt { text: t }) => t.push_str(&one_line()),
        Some(Dialog::Templates { query, selected }) => {
            query.push_str(&one_line());
            *selected = 0;
        }
        Some(Dialog::Form(form)) => super::forms::form_paste(form, text),
        Some(Dialog::Attach(picker)) => {
            picker
                .path
                .push_str(&attach::pasted_path(text).unwrap_or_else(one_line));
            fx.push(Effect::CompletePath(picker.path.clone()));
        }
        Some(_) => {}
        None if attach::pasted_path(text).is_some() => {
            // A path to a file attaches it; anything else is inserted as typed.
            app.focus = Focus::Input;
            fx.push(Effect::Attach {
                paths: attach::pasted_path(text).into_iter().collect(),
                from_text: false,
                fallback: Some(text.to_string()),
            });
        }
        None => {
            let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
            app.focus = Focus::Input;
            if super::is_long(&normalized, super::CHIP_LINES, super::CHIP_CHARS) {
                let id = app.next_paste_id();
                let after = !app.input_text().is_empty();
                app.pastes
                    .push(Paste::new(id, std::sync::Arc::from(normalized), after));
            } else {
                app.input.insert_str(normalized);
            }
        }
    }
}

/// Run a template in a new session (the form was filled and checked).
pub(super) fn start_template(
    app: &mut App,
    id: &str,
    title: &str,
    values: std::collections::BTreeMap<String, String>,
    fx: &mut Vec<Effect>,
) {
    if app.pending_new.is_some() {
        notice(
            app,
            "a new session's answer is still starting; try again in a moment",
            Level::Warn,
        );
        return;
    }
    new_session(app, fx);
    app.pending_new = Some(Live {
        waiting: Some(format!("starting “{title}”…")),
        ..Live::default()
    });
    fx.push(Effect::RunTemplate {
        id: id.to_string(),
        values,
        model: app.setup.model.clone(),
    });
}

/// Put the chips' text into the box, where it can be edited.
fn expand_pastes(app: &mut App) {
    if app.pastes.is_empty() {
        notice(app, "there is no pasted text to expand", Level::Info);
        return;
    }
    let lines: usize = app.pastes.iter().map(|p| p.lines).sum();
    if lines > EXPAND_MAX_LINES {
        let editor = app
            .setup
            .keymap
            .key_for(Mode::Input, Command::ComposeInEditor)
            .map(|k| format!(": {k} opens it in your editor"))
            .unwrap_or_default();
        notice(
            app,
            format!("{lines} lines are too many to edit here{editor}"),
            Level::Warn,
        );
        return;
    }
    let text = app.draft().compose();
    app.pastes.clear();
    app.set_box(&text);
}

/// Backspace at the very start of the box removes the last chip (Ctrl+Z brings it back).
fn remove_last_paste(app: &mut App) -> bool {
    if app.input.cursor() != (0, 0) {
        return false;
    }
    let Some(p) = app.pastes.pop() else {
        return false;
    };
    let undo = app
        .setup
        .keymap
        .key_for(Mode::Global, Command::Undo)
        .map(|k| format!(" · {k} brings it back"))
        .unwrap_or_default();
    notice(
        app,
        match &p.file {
            Some(f) => format!("removed {}{undo}", f.name),
            None => format!("removed the pasted text ({} lines){undo}", p.lines),
        },
        Level::Info,
    );
    app.removed_paste = Some((p, app.now_ms + UNDO_MS));
    true
}

fn edit_line(text: &mut String, key: &KeyEvent) -> bool {
    match key.code {
        KeyCode::Backspace => {
            text.pop();
            true
        }
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            text.push(c);
            true
        }
        _ => false,
    }
}

fn on_dialog_key(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(dialog) = app.dialog.take() else {
        return;
    };
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    let keep = match dialog {
        Dialog::Attach(mut picker) => match attach::picker_key(&mut picker, &key, fx) {
            attach::PickerKey::Attach(path) => {
                notice(app, "attaching…", Level::Info);
                fx.push(Effect::Attach {
                    paths: vec![path],
                    from_text: false,
                    fallback: None,
                });
                None
            }
            attach::PickerKey::Close => None,
            attach::PickerKey::Open => Some(Dialog::Attach(picker)),
        },
        Dialog::TemplateSecrets(check) => match key.code {
            KeyCode::Char('r') => {
                start_template(app, &check.id, &check.title, check.redacted, fx);
                None
            }
            KeyCode::Char('s') => {
                start_template(app, &check.id, &check.title, check.values, fx);
                None
            }
            KeyCode::Esc | KeyCode::Char('c') => {
                notice(app, "not run; nothing was sent", Level::Info);
                None
            }
            _ if ctrl_c => None,
            _ => Some(Dialog::TemplateSecrets(check)),
        },
        Dialog::BeforeSend(check) => match attach::before_send_key(*check, key) {
            attach::Decision::Open(check) => Some(Dialog::BeforeSend(check)),
            attach::Decision::Cancel => {
                notice(
                    app,
                    "not sent; the message is still in the box",
                    Level::Info,
                );
                None
            }
            attach::Decision::Whole(text) => {
                commit_send(app, text, None, fx);
                None
            }
            attach::Decision::Long(text, long) => {
                commit_send(app, text, Some(long), fx);
                None
            }
        },
        Dialog::Help { scroll } => {
            let max = app.view.help_max;
            let page = app.size.1.saturating_sub(4).max(1);
            let scroll = match key.code {
                KeyCode::Esc
                | KeyCode::Enter
                | KeyCode::F(1)
                | KeyCode::Char('q')
                | KeyCode::Char('?') => return,
                _ if ctrl_c => return,
                KeyCode::Up | KeyCode::Char('k') => scroll.min(max).saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => (scroll + 1).min(max),
                KeyCode::PageUp => scroll.min(max).saturating_sub(page),
                KeyCode::PageDown | KeyCode::Char(' ') => (scroll + page).min(max),
                KeyCode::Home | KeyCode::Char('g') => 0,
                KeyCode::End | KeyCode::Char('G') => max,
                _ => scroll,
            };
            Some(Dialog::Help { scroll })
        }
        Dialog::Search {
            mut query,
            hits,
            mut selected,
        } => match key.code {
            KeyCode::Esc => None,
            _ if ctrl_c => None,
            KeyCode::Up => {
                selected = selected.saturating_sub(1);
                Some(Dialog::Search {
                    query,
                    hits,
                    selected,
                })
            }
            KeyCode::Down => {
                selected = (selected + 1).min(hits.len().saturating_sub(1));
                Some(Dialog::Search {
                    query,
                    hits,
                    selected,
                })
            }
            KeyCode::Enter => match hits.get(selected) {
                Some(hit) => {
                    let (sid, mid) = (hit.session_id, hit.message_id);
                    app.jump_to = Some(mid);
                    if app.current == Some(sid) {
                        if let Some(i) = app.transcript.iter().position(|t| t.id == Some(mid)) {
                            app.selected_turn = Some(i);
                            app.focus = Focus::Transcript;
                        }
                        app.jump_to = None;
                    } else {
                        open_session(app, sid, fx);
                    }
                    None
                }
                None => Some(Dialog::Search {
                    query,
                    hits,
                    selected,
                }),
            },
            _ => {
                if edit_line(&mut query, &key) {
                    fx.push(Effect::Search(query.clone()));
                }
                Some(Dialog::Search {
                    query,
                    hits,
                    selected,
                })
            }
        },
        Dialog::Templates { query, selected } => {
            super::forms::picker_key(app, key, query, selected, fx)
        }
        Dialog::Form(form) => super::forms::form_key(app, key, form, fx),
        Dialog::Rename { id, mut title } => match key.code {
            KeyCode::Esc => None,
            _ if ctrl_c => None,
            KeyCode::Enter => {
                let t = title.trim().to_string();
                if !t.is_empty() {
                    if let Some(e) = app.sessions.iter_mut().find(|e| e.id == id) {
                        e.title = t.clone();
                    }
                    fx.push(Effect::Rename(id, t));
                }
                None
            }
            _ => {
                edit_line(&mut title, &key);
                Some(Dialog::Rename { id, title })
            }
        },
        Dialog::ConfirmDelete { id, title } => match key.code {
            KeyCode::Char('y') | KeyCode::Enter => {
                if let Some((prev, _)) = app.pending_delete.take() {
                    fx.push(Effect::Delete(prev.id));
                    app.sessions.retain(|s| s.id != prev.id);
                }
                if let Some(entry) = app.sessions.iter().find(|s| s.id == id).cloned() {
                    app.pending_delete = Some((entry, app.now_ms + UNDO_MS));
                }
                if app.current == Some(id) {
                    new_session(app, fx);
                }
                select_id(app, None);
                let undo = app
                    .setup
                    .keymap
                    .key_for(Mode::Global, Command::Undo)
                    .map(|k| format!(" · {k} to undo"))
                    .unwrap_or_default();
                notice(app, format!("deleted “{title}”{undo}"), Level::Info);
                None
            }
            KeyCode::Char('n') | KeyCode::Esc => None,
            _ if ctrl_c => None,
            _ => Some(Dialog::ConfirmDelete { id, title }),
        },
        Dialog::ConfirmQuit => match key.code {
            KeyCode::Char('y') | KeyCode::Enter => {
                stash_draft(app, fx);
                app.quit = true;
                fx.push(Effect::Quit);
                None
            }
            KeyCode::Char('n') | KeyCode::Esc => None,
            _ => Some(Dialog::ConfirmQuit),
        },
        Dialog::Themes {
            mut selected,
            original,
        } => {
            let n = app.setup.themes.len();
            match key.code {
                KeyCode::Up | KeyCode::Char('k') => {
                    selected = selected.saturating_sub(1);
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    selected = (selected + 1).min(n.saturating_sub(1));
                }
                KeyCode::Enter => {
                    fx.push(Effect::SaveSetting(
                        "theme".to_string(),
                        app.setup.theme.clone(),
                    ));
                    notice(app, format!("theme: {}", app.setup.theme), Level::Info);
                    return;
                }
                KeyCode::Esc => {
                    app.setup.theme = original;
                    return;
                }
                _ if ctrl_c => {
                    app.setup.theme = original;
                    return;
                }
                _ => {}
            }
            if let Some(name) = app.setup.themes.get(selected) {
                app.setup.theme = name.clone();
            }
            Some(Dialog::Themes { selected, original })
        }
        Dialog::Models { mut selected } => {
            let n = app.setup.models.len();
            match key.code {
                KeyCode::Up | KeyCode::Char('k') => selected = selected.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => {
                    selected = (selected + 1).min(n.saturating_sub(1))
                }
                KeyCode::Enter => {
                    if let Some((name, window)) = app.setup.models.get(selected).cloned() {
                        set_model(app, &name, window);
                        if let Some(id) = app.current {
                            if let Some(e) = app.sessions.iter_mut().find(|e| e.id == id) {
                                e.model = name.clone();
                            }
                            fx.push(Effect::SetModel(id, name.clone()));
                        }
                        notice(app, format!("model: {name}"), Level::Info);
                    }
                    return;
                }
                KeyCode::Esc => return,
                _ if ctrl_c => return,
                _ => {}
            }
            Some(Dialog::Models { selected })
        }
        Dialog::SystemPrompt { mut text } => match key.code {
            KeyCode::Esc => None,
            _ if ctrl_c => None,
            KeyCode::Enter => {
                let t = text.trim().to_string();
                let value = (!t.is_empty()).then_some(t);
                match app.current {
                    Some(id) => {
                        if let Some(e) = app.sessions.iter_mut().find(|e| e.id == id) {
                            e.system_prompt = value.clone();
                        }
                        fx.push(Effect::SetSystemPrompt(id, value.clone()));
                    }
                    None => app.pending_system = value.clone(),
                }
                notice(
                    app,
                    if value.is_some() {
                        "system prompt set"
                    } else {
                        "system prompt cleared"
                    },
                    Level::Info,
                );
                None
            }
            _ => {
                edit_line(&mut text, &key);
                Some(Dialog::SystemPrompt { text })
            }
        },
        Dialog::ApiKey {
            key: mut typed,
            error,
        } => match key.code {
            KeyCode::Esc => {
                if !app.setup.has_key {
                    let hint = app
                        .setup
                        .keymap
                        .key_for(Mode::Global, Command::AddKey)
                        .map(|k| format!(": press {k} to add one"))
                        .unwrap_or_default();
                    notice(app, format!("no API key{hint}"), Level::Warn);
                }
                None
            }
            _ if ctrl_c => None,
            KeyCode::Enter => {
                let k = typed.trim().to_string();
                if k.is_empty() {
                    Some(Dialog::ApiKey {
                        key: typed,
                        error: Some("paste the key first".to_string()),
                    })
                } else {
                    fx.push(Effect::StoreKey(k));
                    Some(Dialog::ApiKey {
                        key: typed,
                        error: None,
                    })
                }
            }
            _ => {
                edit_line(&mut typed, &key);
                Some(Dialog::ApiKey { key: typed, error })
            }
        },
    };
    app.dialog = keep;
}
