//! The compare view's behaviour: opening it on the current question, the model picker,
//! the panes' streams, scrolling, stopping, and keeping one answer as an exchange of the
//! session. Pure, as every reducer.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::super::compare::{
    Compare, Ended, Keep, Kept, MAX_MODELS, MIN_MODELS, Pane, PaneEvent, Stage, question,
};
use super::super::edit::Edited;
use super::super::keymap::{Command, Mode};
use super::super::{App, Dialog, Effect, Level, NEW_SESSION, Scroll, TextField, Turn, View};
use crate::store::{MessageStatus, Role};

/// Open the picker on the current question: the box's text, else the session's last
/// question. The session's model is chosen already.
pub(super) fn open(app: &mut App, fx: &mut Vec<Effect>) {
    if !app.setup.has_key {
        app.ask_for_key();
        return;
    }
    let Some((question, messages, from_box)) = question(app) else {
        app.notice(tr!("app.notice.compare_nothing"), Level::Info);
        return;
    };
    let model = app.setup.model.clone();
    let selected = app
        .model_choices("")
        .iter()
        .position(|e| e.name == model)
        .unwrap_or(0);
    app.compare_seq += 1;
    app.compare = Some(Box::new(Compare {
        run: app.compare_seq,
        question,
        from_box,
        messages,
        stage: Stage::Choosing {
            filter: TextField::default(),
            selected,
            chosen: vec![model],
            hint: None,
        },
    }));
    // The endpoint's own list, as the model picker loads it.
    if app.offered.names.is_none() && !app.offered.loading {
        app.offered.loading = true;
        fx.push(Effect::LoadModels { refresh: false });
    }
}

fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}

/// A key while the compare view is open (and no dialog over it).
pub(super) fn on_key(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    if app.setup.keymap.lookup(Mode::Global, &key) == Some(Command::Help) {
        app.dialog = Some(Dialog::Help { scroll: 0 });
        return;
    }
    let Some(mut c) = app.compare.take() else {
        return;
    };
    let keep_open = match &mut c.stage {
        Stage::Choosing { .. } => choosing_key(app, &mut c, key, fx),
        Stage::Running { .. } => running_key(app, &mut c, key, fx),
    };
    if keep_open {
        app.compare = Some(c);
    }
}

/// Keys in the picker; `false` closes the view.
fn choosing_key(app: &mut App, c: &mut Compare, key: KeyEvent, fx: &mut Vec<Effect>) -> bool {
    let Stage::Choosing {
        filter,
        selected,
        chosen,
        hint,
    } = &mut c.stage
    else {
        return true;
    };
    let choices = app.model_choices(filter.as_str());
    let n = choices.len();
    *hint = None;
    match key.code {
        KeyCode::Esc => return false,
        _ if is_ctrl_c(&key) => return false,
        KeyCode::Up => *selected = selected.saturating_sub(1),
        KeyCode::Down => *selected = (*selected + 1).min(n.saturating_sub(1)),
        KeyCode::Char(' ') => {
            if let Some(e) = choices.get(*selected) {
                if let Some(i) = chosen.iter().position(|m| *m == e.name) {
                    chosen.remove(i);
                } else if chosen.len() < MAX_MODELS {
                    chosen.push(e.name.clone());
                } else {
                    *hint = Some(tr!("app.compare.at_most", n = MAX_MODELS).into_owned());
                }
            }
        }
        KeyCode::Enter if chosen.len() < MIN_MODELS => {
            *hint = Some(tr!("app.compare.at_least", n = MIN_MODELS).into_owned());
        }
        KeyCode::Enter => {
            let models = std::mem::take(chosen);
            fx.push(Effect::Compare {
                run: c.run,
                session_id: app.current,
                models: models.clone(),
                messages: c.messages.clone(),
            });
            c.stage = Stage::Running {
                panes: models.iter().map(|m| Pane::new(m)).collect(),
                focus: 0,
            };
        }
        _ => {
            if filter.edit(&key) == Edited::Changed {
                *selected = 0;
            }
        }
    }
    true
}

/// Keys while the answers stream or are shown; `false` closes the view.
fn running_key(app: &mut App, c: &mut Compare, key: KeyEvent, fx: &mut Vec<Effect>) -> bool {
    if key.code == KeyCode::Esc || is_ctrl_c(&key) {
        if c.streaming() {
            // Stopping never closes: what arrived stays, to be read or kept.
            fx.push(Effect::StopCompare(c.run));
            return true;
        }
        app.notice(tr!("app.notice.compare_closed"), Level::Info);
        return false;
    }
    if key.code == KeyCode::Enter {
        return !keep(app, c, fx);
    }
    let Stage::Running { panes, focus } = &mut c.stage else {
        return true;
    };
    let n = panes.len().max(1);
    let plain = !key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match key.code {
        KeyCode::Tab | KeyCode::Right => *focus = (*focus + 1) % n,
        KeyCode::BackTab | KeyCode::Left => *focus = (*focus + n - 1) % n,
        KeyCode::Char(d @ '1'..='4') if plain => {
            let i = d as usize - '1' as usize;
            if i < panes.len() {
                *focus = i;
            }
        }
        _ => {
            let Some(p) = panes.get_mut(*focus) else {
                return true;
            };
            let page = p.drawn.1.saturating_sub(1).max(1) as isize;
            match key.code {
                KeyCode::Up => scroll(p, -1),
                KeyCode::Down => scroll(p, 1),
                KeyCode::PageUp => scroll(p, -page),
                KeyCode::PageDown => scroll(p, page),
                KeyCode::Home => p.scroll = Scroll::Top(0),
                KeyCode::End => p.scroll = Scroll::Follow,
                _ => {}
            }
        }
    }
    true
}

/// Scroll a pane by `by` lines (negative: up); at the end it follows the text again.
fn scroll(pane: &mut Pane, by: isize) {
    let (lines, height) = pane.drawn;
    let last = lines.saturating_sub(height);
    let top = match pane.scroll {
        Scroll::Follow => last,
        Scroll::Top(t) => t.min(last),
    };
    let top = top.saturating_add_signed(by).min(last);
    pane.scroll = if top >= last {
        Scroll::Follow
    } else {
        Scroll::Top(top)
    };
}

/// Enter: the chosen pane's answer becomes an exchange of the session (the question, then
/// the answer with its model, usage and cost) and the view closes; the answers still
/// streaming are stopped. `false`: nothing was kept (the reason is in the notice).
fn keep(app: &mut App, c: &mut Compare, fx: &mut Vec<Effect>) -> bool {
    let streaming = c.streaming();
    let Stage::Running { panes, focus } = &c.stage else {
        return false;
    };
    let pane = &panes[*focus];
    let record = match &pane.ended {
        None => {
            app.notice(
                tr!("app.notice.compare_still_writing", model = &pane.model),
                Level::Info,
            );
            return false;
        }
        Some(Ended {
            record: Some(r), ..
        }) if !r.content.is_empty() => r.clone(),
        Some(_) => {
            app.notice(
                tr!("app.notice.compare_no_answer", model = &pane.model),
                Level::Warn,
            );
            return false;
        }
    };
    if streaming {
        fx.push(Effect::StopCompare(c.run));
    }
    let model = pane.model.clone();
    app.transcript.push(Turn::new(
        Role::User,
        c.question.clone(),
        MessageStatus::Complete,
    ));
    let mut answer = Turn::new(Role::Assistant, record.content.clone(), record.status);
    answer.error = record.error.clone();
    answer.model = Some(model.clone());
    answer.usage = record.usage;
    answer.cost_usd = record.cost_usd;
    answer.ttft_ms = record.ttft_ms;
    answer.duration_ms = record.duration_ms;
    app.transcript.push(answer);
    if c.from_box {
        app.sent.push(c.question.clone());
        app.set_text("");
        let key = app.current.unwrap_or(NEW_SESSION);
        if app.drafts.remove(&key).is_some() {
            fx.push(Effect::SaveDraft(key, String::new()));
        }
    }
    app.scroll = Scroll::Follow;
    app.new_below = false;
    app.selected_turn = None;
    let system = if app.current.is_none() {
        app.pending_system.take()
    } else {
        None
    };
    fx.push(Effect::KeepAnswer(Box::new(Keep {
        session_id: app.current,
        question: c.question.clone(),
        model: model.clone(),
        record,
        system,
    })));
    app.notice(tr!("app.notice.compare_kept", model = &model), Level::Info);
    true
}

/// A pane's progress (of the open comparison; an earlier one's is dropped).
pub(super) fn on_event(app: &mut App, run: u64, pane: usize, event: PaneEvent) {
    let Some(c) = app.compare.as_mut().filter(|c| c.run == run) else {
        return;
    };
    let Stage::Running { panes, .. } = &mut c.stage else {
        return;
    };
    let Some(p) = panes.get_mut(pane) else {
        return;
    };
    match event {
        PaneEvent::Delta(text) => {
            p.waiting = None;
            p.text.push_str(&text);
        }
        PaneEvent::Retrying(n) => p.waiting = Some(crate::chat::record::retry_text(&n)),
        PaneEvent::Ended(e) => {
            p.waiting = None;
            if !e.sample.text.is_empty() {
                p.text = e.sample.text.clone();
            }
            p.ended = Some(*e);
        }
    }
}

/// The kept exchange was stored: its rows and session are known (a new session becomes
/// the open one); or it could not be, and the user is told (the exchange stays on screen).
pub(super) fn on_kept(app: &mut App, result: Result<Kept, String>, fx: &mut Vec<Effect>) {
    match result {
        Ok(k) => {
            if k.created && app.current.is_none() {
                app.current = Some(k.session_id);
            }
            if app.current == Some(k.session_id) {
                let n = app.transcript.len();
                if n >= 2 {
                    app.transcript[n - 2].id.get_or_insert(k.user_id);
                    app.transcript[n - 1].id.get_or_insert(k.answer_id);
                }
            }
            fx.push(Effect::LoadSessions);
        }
        Err(e) => app.notice(tr!("app.notice.compare_not_saved", error = e), Level::Error),
    }
}

/// The panes as drawn: their lines and rows, for scrolling. `true`: the compare view was
/// drawn (the transcript was not, and its layout stays as it was).
pub(super) fn on_layout(app: &mut App, view: &View) -> bool {
    match app.compare.as_mut().map(|c| &mut c.stage) {
        Some(Stage::Running { panes, .. }) => {
            for (p, drawn) in panes.iter_mut().zip(&view.compare) {
                p.drawn = *drawn;
            }
            true
        }
        _ => false,
    }
}
