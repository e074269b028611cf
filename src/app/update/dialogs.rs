//! Keys while a dialog is open: one function per [`Dialog`] variant (the template picker
//! and the form are in `app/forms.rs`). Each takes the dialog out of the state and returns
//! the one to keep open (`None` closes it).
//!
//! Pure: no IO, no await, no clock reads; storing a key, saving a setting, searching and
//! sending are effects.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::compose::commit_send;
use super::sessions::open_session;
use crate::app::edit::Edited;
use crate::app::keymap::{Command, Mode};
use crate::app::{App, Dialog, Effect, Focus, Level, TextField, UNDO_MS, attach, forms};
use crate::store::{SearchHit, SessionId};

/// A key while a dialog is open: the dialog handles it.
pub(super) fn on_key(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(dialog) = app.dialog.take() else {
        return;
    };
    let keep = match dialog {
        Dialog::Attach(picker) => on_attach(app, key, picker, fx),
        Dialog::TemplateSecrets(check) => on_template_secrets(app, key, check, fx),
        Dialog::BeforeSend(check) => on_before_send(app, key, check, fx),
        Dialog::Help { scroll } => on_help(app, key, scroll),
        Dialog::Search {
            query,
            hits,
            selected,
        } => on_search(app, key, query, hits, selected, fx),
        Dialog::Templates { query, selected } => forms::picker_key(app, key, query, selected, fx),
        Dialog::Form(form) => forms::form_key(app, key, form, fx),
        Dialog::Rename { id, title } => on_rename(app, key, id, title, fx),
        Dialog::Export { id, title, path } => on_export(key, id, title, path, fx),
        Dialog::ConfirmDelete { id, title } => on_confirm_delete(app, key, id, title, fx),
        Dialog::ConfirmQuit => on_confirm_quit(app, key, fx),
        Dialog::LeaveIncognito { quit } => super::incognito::on_leave_key(app, key, quit, fx),
        Dialog::Usage { view } => match key.code {
            KeyCode::Enter | KeyCode::Esc => None,
            _ if is_ctrl_c(&key) => None,
            _ => Some(Dialog::Usage { view }),
        },
        Dialog::Refused { text } => match key.code {
            KeyCode::Enter | KeyCode::Esc => None,
            _ if is_ctrl_c(&key) => None,
            _ => Some(Dialog::Refused { text }),
        },
        Dialog::Themes { selected, original } => on_themes(app, key, selected, original, fx),
        Dialog::Models { selected, filter } => on_models(app, key, selected, filter, fx),
        Dialog::SystemPrompt { text } => on_system_prompt(app, key, text, fx),
        Dialog::ApiKey { key: typed, error } => on_api_key(app, key, typed, error, fx),
        Dialog::Knowledge { selected } => on_knowledge(app, key, selected, fx),
        Dialog::Sources {
            grounding,
            selected,
        } => on_sources(app, key, grounding, selected, fx),
        Dialog::Passage {
            grounding,
            n,
            scroll,
        } => on_passage(app, key, grounding, n, scroll, fx),
    };
    app.dialog = keep;
}

/// Ctrl+C closes most dialogs.
fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}

/// Keys in the attach dialog: a path with completion and a list to pick from.
fn on_attach(
    app: &mut App,
    key: KeyEvent,
    mut picker: attach::Picker,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let chosen = attach::picker_key(&mut picker, &key, fx);
    picked(app, picker, chosen, fx)
}

/// The attach dialog's entries for a path arrived (an Enter may have been waiting for them).
pub(super) fn on_listed(
    app: &mut App,
    typed: &str,
    common: String,
    candidates: Vec<String>,
    fx: &mut Vec<Effect>,
) {
    if let Some(Dialog::Attach(mut picker)) = app.dialog.take() {
        let chosen = picker.completed(typed, common, candidates, fx);
        app.dialog = picked(app, picker, chosen, fx);
    }
}

/// What the attach dialog leads to: attaching a file, closing, or staying open.
fn picked(
    app: &mut App,
    picker: attach::Picker,
    chosen: attach::PickerKey,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    match chosen {
        attach::PickerKey::Attach(path) => {
            app.notice(tr!("app.notice.attaching"), Level::Info);
            fx.push(Effect::Attach {
                paths: vec![path],
                from_text: false,
                fallback: None,
                model: app.setup.model.clone(),
            });
            None
        }
        attach::PickerKey::Close => None,
        attach::PickerKey::Open => Some(Dialog::Attach(picker)),
    }
}

/// Keys in the question before running a template whose values hold likely secrets.
fn on_template_secrets(
    app: &mut App,
    key: KeyEvent,
    check: Box<attach::TemplateCheck>,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl_c = is_ctrl_c(&key);
    match key.code {
        KeyCode::Char('r') => {
            app.start_template(&check.id, &check.title, check.redacted, fx);
            None
        }
        KeyCode::Char('s') => {
            app.start_template(&check.id, &check.title, check.values, fx);
            None
        }
        KeyCode::Esc | KeyCode::Char('c') => {
            app.notice(tr!("app.notice.not_run"), Level::Info);
            None
        }
        _ if ctrl_c => None,
        _ => Some(Dialog::TemplateSecrets(check)),
    }
}

/// Keys in the question before sending (secrets, too long, over the cost limit).
fn on_before_send(
    app: &mut App,
    key: KeyEvent,
    check: Box<attach::Check>,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    match attach::before_send_key(*check, key) {
        attach::Decision::Open(check) => Some(Dialog::BeforeSend(check)),
        attach::Decision::Cancel => {
            app.notice(tr!("app.notice.not_sent_kept"), Level::Info);
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
    }
}

/// Keys in the help: scroll it, or close it.
fn on_help(app: &App, key: KeyEvent, scroll: u16) -> Option<Dialog> {
    let ctrl_c = is_ctrl_c(&key);
    let max = app.view.dialog_max;
    let page = app.size.1.saturating_sub(4).max(1);
    let scroll = match key.code {
        KeyCode::Esc | KeyCode::Enter | KeyCode::F(1) | KeyCode::Char('q') | KeyCode::Char('?') => {
            return None;
        }
        _ if ctrl_c => return None,
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

/// Keys in the search: type the query, choose a hit, open its session at it.
fn on_search(
    app: &mut App,
    key: KeyEvent,
    mut query: TextField,
    hits: Vec<SearchHit>,
    mut selected: usize,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl_c = is_ctrl_c(&key);
    match key.code {
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
            if query.edit(&key) == Edited::Changed {
                fx.push(Effect::Search(query.to_string()));
            }
            Some(Dialog::Search {
                query,
                hits,
                selected,
            })
        }
    }
}

/// Keys in the rename dialog.
fn on_rename(
    app: &mut App,
    key: KeyEvent,
    id: SessionId,
    mut title: TextField,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl_c = is_ctrl_c(&key);
    match key.code {
        KeyCode::Esc => None,
        _ if ctrl_c => None,
        KeyCode::Enter => {
            let t = title.as_str().trim().to_string();
            if !t.is_empty() {
                if let Some(e) = app.sessions.iter_mut().find(|e| e.id == id) {
                    e.title = t.clone();
                }
                fx.push(Effect::Rename(id, t));
            }
            None
        }
        _ => {
            title.edit(&key);
            Some(Dialog::Rename { id, title })
        }
    }
}

/// Keys in the export dialog: Enter writes the file (never over one that exists).
fn on_export(
    key: KeyEvent,
    id: SessionId,
    title: String,
    mut path: TextField,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    match key.code {
        KeyCode::Esc => None,
        _ if is_ctrl_c(&key) => None,
        KeyCode::Enter if !path.as_str().trim().is_empty() => {
            fx.push(Effect::Export(id, path.as_str().trim().to_string()));
            None
        }
        _ => {
            path.edit(&key);
            Some(Dialog::Export { id, title, path })
        }
    }
}

/// Keys in the question before deleting a session (it can be undone for a while).
fn on_confirm_delete(
    app: &mut App,
    key: KeyEvent,
    id: SessionId,
    title: String,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl_c = is_ctrl_c(&key);
    match key.code {
        KeyCode::Char('y') | KeyCode::Enter => {
            if let Some((prev, _)) = app.pending_delete.take() {
                fx.push(Effect::Delete(prev.id));
                app.sessions.retain(|s| s.id != prev.id);
            }
            if let Some(entry) = app.sessions.iter().find(|s| s.id == id).cloned() {
                app.pending_delete = Some((entry, app.now_ms + UNDO_MS));
            }
            if app.current == Some(id) {
                app.new_session(fx);
            }
            app.select_id(None);
            let undo = app.key_hint(Mode::Global, Command::Undo, &tr!("app.hint.to_undo"));
            app.notice(
                tr!("app.notice.deleted", title = &title, undo = undo),
                Level::Info,
            );
            None
        }
        KeyCode::Char('n') | KeyCode::Esc => None,
        _ if ctrl_c => None,
        _ => Some(Dialog::ConfirmDelete { id, title }),
    }
}

/// Keys in the question before quitting while answers are written.
fn on_confirm_quit(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) -> Option<Dialog> {
    match key.code {
        KeyCode::Char('y') | KeyCode::Enter => {
            app.stash_draft(fx);
            app.commit_pending_message(fx);
            app.quit = true;
            fx.push(Effect::Quit);
            None
        }
        KeyCode::Char('n') | KeyCode::Esc => None,
        // Ctrl+C again keeps the answers running, as Esc does (a second Ctrl+C is a reflex,
        // not a yes).
        _ if is_ctrl_c(&key) => None,
        _ => Some(Dialog::ConfirmQuit),
    }
}

/// Keys in the theme picker: the theme changes as the selection moves; Esc goes back.
fn on_themes(
    app: &mut App,
    key: KeyEvent,
    mut selected: usize,
    original: String,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl_c = is_ctrl_c(&key);
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
            app.notice(
                tr!("app.notice.theme", name = &app.setup.theme),
                Level::Info,
            );
            return None;
        }
        KeyCode::Esc => {
            app.setup.theme = original;
            return None;
        }
        _ if ctrl_c => {
            app.setup.theme = original;
            return None;
        }
        _ => {}
    }
    if let Some(name) = app.setup.themes.get(selected) {
        app.setup.theme = name.clone();
    }
    Some(Dialog::Themes { selected, original })
}

/// Keys in the model picker: typing filters, arrows move, Enter chooses, Ctrl+R asks the
/// endpoint for its models again.
fn on_models(
    app: &mut App,
    key: KeyEvent,
    mut selected: usize,
    mut filter: TextField,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl_c = is_ctrl_c(&key);
    let choices = app.model_choices(filter.as_str());
    let n = choices.len();
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Up => selected = selected.saturating_sub(1),
        KeyCode::Down => selected = (selected + 1).min(n.saturating_sub(1)),
        KeyCode::Char('r') if ctrl => {
            if !app.offered.loading {
                app.offered.loading = true;
                fx.push(Effect::LoadModels { refresh: true });
            }
        }
        KeyCode::Enter => {
            let Some(choice) = choices.get(selected) else {
                return Some(Dialog::Models { selected, filter });
            };
            let name = choice.name.clone();
            let window = choice.info.as_ref().and_then(|i| i.context_window);
            app.set_model(&name, window);
            if let Some(id) = app.current {
                if let Some(e) = app.sessions.iter_mut().find(|e| e.id == id) {
                    e.model = name.clone();
                }
                fx.push(Effect::SetModel(id, name.clone()));
            }
            if choice.offered == Some(false) {
                // No silent fallback: said now, and the endpoint's error names it on send.
                app.notice(
                    tr!("app.notice.model_not_listed", name = &name),
                    Level::Warn,
                );
            } else {
                app.notice(tr!("app.notice.model", name = &name), Level::Info);
            }
            return None;
        }
        KeyCode::Esc => return None,
        _ if ctrl_c => return None,
        _ => {
            if filter.edit(&key) == Edited::Changed {
                selected = 0;
            }
        }
    }
    Some(Dialog::Models { selected, filter })
}

/// The endpoint's models arrived (or could not be had): the picker's rows follow, the
/// cursor stays on the model it was on.
pub(super) fn on_models_loaded(app: &mut App, result: Result<(Vec<String>, i64), String>) {
    let before = match &app.dialog {
        Some(Dialog::Models { selected, filter }) => app
            .model_choices(filter.as_str())
            .get(*selected)
            .map(|e| e.name.clone()),
        _ => None,
    };
    app.offered.loading = false;
    match result {
        Ok((names, at)) => {
            app.offered.names = Some(names);
            app.offered.at_ms = Some(at);
            app.offered.error = None;
        }
        Err(e) => app.offered.error = Some(e),
    }
    let now = match &app.dialog {
        Some(Dialog::Models { filter, .. }) => app.model_choices(filter.as_str()),
        _ => return,
    };
    if let Some(Dialog::Models { selected, .. }) = &mut app.dialog {
        *selected = before
            .and_then(|b| now.iter().position(|e| e.name == b))
            .unwrap_or(0)
            .min(now.len().saturating_sub(1));
    }
}

/// Keys in the knowledge base picker: ↑↓ choose, Enter grounds the session on the base
/// (the first row: on none), Esc keeps it as it was.
fn on_knowledge(
    app: &mut App,
    key: KeyEvent,
    mut selected: usize,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let rows = app.setup.knowledge.len() + 1;
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => selected = selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => selected = (selected + 1).min(rows - 1),
        KeyCode::Enter => {
            let kb = selected
                .checked_sub(1)
                .and_then(|i| app.setup.knowledge.get(i))
                .map(|b| b.name.clone());
            if kb.as_deref() != app.session_kb() {
                app.set_session_kb(kb, fx);
            }
            return None;
        }
        KeyCode::Esc => return None,
        _ if is_ctrl_c(&key) => return None,
        _ => {}
    }
    Some(Dialog::Knowledge { selected })
}

/// Passage `n` (from 1) of `grounding`, from its top.
fn passage(grounding: crate::store::Grounding, n: usize) -> Option<Dialog> {
    Some(Dialog::Passage {
        grounding,
        n,
        scroll: 0,
    })
}

/// The passage a digit names (1–9), when the answer has it.
fn digit(key: &KeyEvent, g: &crate::store::Grounding) -> Option<usize> {
    match key.code {
        KeyCode::Char(c) if key.modifiers.difference(KeyModifiers::SHIFT).is_empty() => c
            .to_digit(10)
            .map(|d| d as usize)
            .filter(|&n| n >= 1 && n <= g.passages.len()),
        _ => None,
    }
}

/// Open passage `n` (from 1) of `g` with the system's program for its file.
fn open_file(app: &mut App, g: &crate::store::Grounding, n: usize, fx: &mut Vec<Effect>) {
    if let Some(p) = g.passages.get(n.wrapping_sub(1)) {
        app.notice(tr!("app.notice.opening", path = &p.path), Level::Info);
        fx.push(Effect::OpenFile(p.file.clone()));
    }
}

/// Keys in an answer's sources: ↑↓ choose, Enter or a number (1–9) shows the passage,
/// `o` opens its file, Esc closes.
fn on_sources(
    app: &mut App,
    key: KeyEvent,
    grounding: crate::store::Grounding,
    mut selected: usize,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let n = grounding.passages.len();
    if let Some(d) = digit(&key, &grounding) {
        return passage(grounding, d);
    }
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => selected = selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => selected = (selected + 1).min(n.saturating_sub(1)),
        KeyCode::Enter if n > 0 => return passage(grounding, selected + 1),
        KeyCode::Char('o') => open_file(app, &grounding, selected + 1, fx),
        KeyCode::Esc | KeyCode::Char('q') => return None,
        _ if is_ctrl_c(&key) => return None,
        _ => {}
    }
    Some(Dialog::Sources {
        grounding,
        selected,
    })
}

/// Keys in one passage: ↑↓ PgUp PgDn scroll, ←→ (or a number) another passage, `o` opens
/// the file, Esc back to the list.
fn on_passage(
    app: &mut App,
    key: KeyEvent,
    grounding: crate::store::Grounding,
    mut n: usize,
    mut scroll: u16,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let max = app.view.dialog_max;
    let page = app.size.1.saturating_sub(8).max(1);
    let count = grounding.passages.len();
    if let Some(d) = digit(&key, &grounding) {
        return passage(grounding, d);
    }
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => scroll = scroll.min(max).saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => scroll = (scroll + 1).min(max),
        KeyCode::PageUp => scroll = scroll.min(max).saturating_sub(page),
        KeyCode::PageDown | KeyCode::Char(' ') => scroll = (scroll + page).min(max),
        KeyCode::Home => scroll = 0,
        KeyCode::Left if n > 1 => (n, scroll) = (n - 1, 0),
        KeyCode::Right if n < count => (n, scroll) = (n + 1, 0),
        KeyCode::Char('o') => open_file(app, &grounding, n, fx),
        KeyCode::Esc | KeyCode::Backspace | KeyCode::Char('q') => {
            return Some(Dialog::Sources {
                grounding,
                selected: n.saturating_sub(1),
            });
        }
        _ if is_ctrl_c(&key) => return None,
        _ => {}
    }
    Some(Dialog::Passage {
        grounding,
        n,
        scroll,
    })
}

/// Keys in the system prompt dialog.
fn on_system_prompt(
    app: &mut App,
    key: KeyEvent,
    mut text: TextField,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl_c = is_ctrl_c(&key);
    match key.code {
        KeyCode::Esc => None,
        _ if ctrl_c => None,
        KeyCode::Enter => {
            let t = text.as_str().trim().to_string();
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
            app.notice(
                if value.is_some() {
                    tr!("app.notice.system_set")
                } else {
                    tr!("app.notice.system_cleared")
                },
                Level::Info,
            );
            None
        }
        _ => {
            text.edit(&key);
            Some(Dialog::SystemPrompt { text })
        }
    }
}

/// Keys in the API key dialog.
fn on_api_key(
    app: &mut App,
    key: KeyEvent,
    mut typed: TextField,
    error: Option<String>,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl_c = is_ctrl_c(&key);
    match key.code {
        KeyCode::Esc => {
            if !app.setup.has_key {
                let hint = app
                    .setup
                    .keymap
                    .key_for(Mode::Global, Command::AddKey)
                    .map(|k| tr!("app.notice.press_to_add", key = k).into_owned())
                    .unwrap_or_default();
                app.notice(tr!("app.notice.no_key", hint = hint), Level::Warn);
            }
            None
        }
        _ if ctrl_c => None,
        KeyCode::Enter => {
            let k = typed.as_str().trim().to_string();
            if k.is_empty() {
                Some(Dialog::ApiKey {
                    key: typed,
                    error: Some(tr!("app.key.paste_first").into_owned()),
                })
            } else {
                fx.push(Effect::StoreKey(k));
                app.notice(tr!("app.notice.checking_key"), Level::Info);
                Some(Dialog::ApiKey {
                    key: typed,
                    error: None,
                })
            }
        }
        _ => {
            typed.edit(&key);
            Some(Dialog::ApiKey { key: typed, error })
        }
    }
}
