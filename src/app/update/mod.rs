//! `update(&mut App, Msg) -> Vec<Effect>`: all of the app's behaviour, pure.
//!
//! No IO, no clock, no await: time comes in with `Msg::Tick`, results come back as
//! messages, and what must be done goes out as effects.
//!
//! This file is the dispatch: each message to the reducer of its area, and each key to the
//! open dialog, the session list's filter, or the command the keymap names (a case of a few
//! lines, such as opening a dialog or showing a result, is handled in place). The areas:
//!
//! - `sessions`: the session list, opening, renaming, deleting, pinning, archiving, and
//!   the live answers as sessions are switched and saved;
//! - `compose`: the message box, sending and the check before it, pastes and chips,
//!   editing a question to resend it;
//! - `transcript`: the stream's events, scrolling, selecting, copying, regenerating;
//! - `dialogs`: one function per dialog's keys (the template picker and form are in
//!   `app/forms.rs`);
//! - `incognito`: the incognito session (F6), kept in memory only;
//! - `mouse` and `tick`.
//!
//! What several areas share, and `app/attach.rs` and `app/forms.rs` too (a notice, the
//! key dialog, a new session, the draft kept when switching, running a template, the list's
//! selection), is a method of [`App`] in `app/actions.rs`. The areas use one another only
//! downwards: `dialogs` and `mouse` use `sessions`, `compose` and `transcript`, which use
//! no other area.

mod compare;
mod compose;
mod dialogs;
mod incognito;
mod mouse;
mod sessions;
mod tick;
mod transcript;

pub use transcript::code_blocks;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::keymap::{Command, Mode};
use super::{App, Dialog, Effect, Focus, Level, Msg, Scroll, TextField, Turn, attach, edit, forms};
use crate::store::{MessageStatus, Role};

/// Apply one message; return what the runtime must do.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) if key.kind != KeyEventKind::Release => on_key(app, key, &mut fx),
        Msg::Key(_) => {}
        Msg::Paste(text) => compose::on_paste(app, &text, &mut fx),
        Msg::Attached {
            results,
            from_text,
            fallback,
        } => attach::on_attached(app, results, from_text, fallback),
        Msg::Checked(check) => compose::on_checked(app, *check, &mut fx),
        Msg::Resize(w, h) => app.size = (w, h),
        // The compare view is keys only.
        Msg::Mouse(_) if app.compare.is_some() => {}
        Msg::Mouse(m) => mouse::on_mouse(app, m, &mut fx),
        Msg::Tick(now) => tick::on_tick(app, now, &mut fx),
        Msg::Layout(view) if compare::on_layout(app, &view) => {
            app.view.dialog_max = view.dialog_max
        }
        Msg::Layout(view) => transcript::on_layout(app, view),
        // Read from the store being left (into or out of an incognito session): not shown.
        Msg::SessionsLoaded(_)
        | Msg::StoreChanged(_)
        | Msg::TranscriptRefreshed { .. }
        | Msg::TranscriptLoaded { .. }
            if app.switching_store => {}
        // Another program wrote to the history: nothing to show in an incognito session
        // (the saved sessions are read again when it is left).
        Msg::StoreChanged(_) if app.incognito => {}
        Msg::StoreSwitched => incognito::on_switched(app, &mut fx),
        Msg::SessionsLoaded(list) => sessions::on_loaded(app, list),
        Msg::StoreChanged(list) => sessions::on_store_changed(app, list, &mut fx),
        Msg::TranscriptRefreshed {
            session_id,
            messages,
        } => sessions::on_transcript_refreshed(app, session_id, messages),
        Msg::TranscriptLoaded {
            session_id,
            messages,
            draft,
        } => sessions::on_transcript_loaded(app, session_id, messages, draft),
        Msg::SendRefused {
            session_id,
            text,
            error,
        } => compose::on_send_refused(app, session_id, text, error),
        Msg::SendAccepted {
            session_id,
            created,
            user_id,
            answer_id,
        } => {
            let was_new = created && app.current.is_none();
            sessions::adopt_live(app, session_id, created, answer_id);
            // The new session was made with the knowledge base chosen for it; the next new
            // session starts without one.
            if was_new && let Some(kb) = app.pending_kb.take() {
                app.created_kb = Some((session_id, kb));
            }
            if app.current == Some(session_id) {
                let n = app.transcript.len();
                if n >= 2 {
                    app.transcript[n - 2].id.get_or_insert(user_id);
                    app.transcript[n - 1].id = Some(answer_id);
                }
            }
            fx.push(Effect::LoadSessions);
        }
        Msg::Stream { session_id, event } => transcript::on_stream(app, session_id, event, &mut fx),
        Msg::SearchResults { query, hits } => {
            if let Some(Dialog::Search {
                query: q,
                hits: h,
                selected,
            }) = &mut app.dialog
                && q.as_str() == query
            {
                *h = hits;
                *selected = 0;
            }
        }
        Msg::KeyStored(Ok(text)) => {
            app.setup.has_key = true;
            app.dialog = None;
            app.notice(text, Level::Info);
        }
        Msg::KeyStored(Err(e)) => {
            if let Some(Dialog::ApiKey { error, .. }) = &mut app.dialog {
                *error = Some(e);
            }
        }
        Msg::Copied(Ok(how)) => app.notice(
            tr!("app.notice.copied", how = super::words::clipboard_name(how)),
            Level::Info,
        ),
        Msg::Copied(Err(e)) => app.notice(tr!("app.notice.copy_failed", error = e), Level::Error),
        Msg::Failed(e) => app.notice(e, Level::Error),
        Msg::StartNotes(notes) => app.notices(notes, Level::Error),
        Msg::Info(text) => app.notice(text, Level::Info),
        Msg::TemplatesLoaded(items) => {
            app.templates = items;
            if let Some(Dialog::Templates { query, selected }) = &mut app.dialog {
                let n = forms::matches(&app.templates, query.as_str()).len();
                *selected = (*selected).min(n.saturating_sub(1));
            }
        }
        Msg::ModelsLoaded(result) => dialogs::on_models_loaded(app, result),
        Msg::UsageLoaded(result) => {
            if let Some(Dialog::Usage { view }) = &mut app.dialog {
                *view = Some(result);
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
                forms::completed(form, &typed, common, candidates);
            }
            Some(Dialog::Attach(_)) => dialogs::on_listed(app, &typed, common, candidates, &mut fx),
            Some(_) => {}
            None => compose::at_word_completed(app, &typed, &common, &candidates),
        },
        Msg::StepStarted {
            session_id,
            created,
            label,
            prompt,
            user_id,
            answer_id,
        } => {
            let live = sessions::adopt_live(app, session_id, created, answer_id);
            live.text = crate::chat::LiveText::new();
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
            app.notice(e, Level::Error);
        }
        Msg::Composed(Ok(text)) => {
            app.set_text(&text);
            app.focus = Focus::Input;
        }
        Msg::Composed(Err(e)) => app.notice(e, Level::Error),
        Msg::Counted { paste, tokens } => compose::on_counted(app, paste, tokens),
        Msg::Compared { run, pane, event } => compare::on_event(app, run, pane, event),
        Msg::Kept(result) => compare::on_kept(app, result, &mut fx),
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

/// The keymap's mode for where the focus is.
fn mode(app: &App) -> Mode {
    match app.focus {
        Focus::Input => Mode::Input,
        Focus::Sessions => Mode::Sessions,
        Focus::Transcript => Mode::Transcript,
    }
}

/// A key: to the open dialog, else the list's filter while typing one, else the command
/// the keymap names (unbound keys type into the message box).
fn on_key(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    if app.dialog.is_some() {
        dialogs::on_key(app, key, fx);
        return;
    }
    if app.compare.is_some() {
        compare::on_key(app, key, fx);
        return;
    }
    if app.filtering && sessions::on_filter_key(app, key, fx) {
        return;
    }
    match app.setup.keymap.lookup(mode(app), &key) {
        Some(cmd) => run(app, cmd, key, fx),
        None if app.focus == Focus::Input => {
            if key.code == KeyCode::Backspace && compose::remove_last_paste(app) {
                return;
            }
            // The editing keys of every field (`app/edit.rs`); the text box's own keys
            // (↑↓ between lines and the like) after them.
            match edit::edit_of(&key) {
                Some(e) => edit::apply_to_box(&mut app.input, e),
                None => {
                    app.input.input(key);
                }
            }
        }
        // Typing in the transcript types into the message box.
        None if app.focus == Focus::Transcript && is_typing(&key) => {
            app.focus = Focus::Input;
            app.input.input(key);
        }
        None => {}
    }
}

/// A printable character without Ctrl or Alt (Shift is part of the character).
fn is_typing(key: &KeyEvent) -> bool {
    matches!(key.code, KeyCode::Char(_))
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SUPER)
}

/// Carry out a command (the key that named it, for those that fall back to typing).
fn run(app: &mut App, cmd: Command, key: KeyEvent, fx: &mut Vec<Effect>) {
    match cmd {
        Command::Send => compose::send(app, fx),
        Command::Newline => app.input.insert_newline(),
        Command::StopAnswer => transcript::stop_answer(app, fx),
        Command::EditMessage => compose::edit_message(app),
        Command::Quit => {
            if app.streaming() {
                app.dialog = Some(Dialog::ConfirmQuit);
            } else if app.incognito && incognito::holds_messages(app) {
                app.dialog = Some(Dialog::LeaveIncognito { quit: true });
            } else {
                app.stash_draft(fx);
                app.commit_pending_message(fx);
                app.quit = true;
                fx.push(Effect::Quit);
            }
        }
        Command::NewSession => app.new_session(fx),
        Command::Incognito => incognito::toggle(app, fx),
        Command::NextSession | Command::PrevSession => sessions::open_next(app, cmd, fx),
        Command::OpenSession => {
            sessions::open_selected(app, fx);
            app.focus = Focus::Input;
        }
        Command::FocusNext if app.focus == Focus::Input && compose::at_word(app).is_some() => {
            // Tab after `@pa` completes the path (after `@kb:` the knowledge base's name)
            // instead of moving the focus.
            if !compose::complete_kb(app) {
                let word = compose::at_word(app).unwrap_or_default();
                fx.push(Effect::CompletePath(word));
            }
        }
        Command::FocusNext => {
            app.focus = match app.focus {
                Focus::Input => Focus::Transcript,
                Focus::Transcript if app.sidebar => Focus::Sessions,
                _ => Focus::Input,
            };
            // Entering the list, the cursor is on the open session: r, d, p and a act on it.
            if app.focus == Focus::Sessions && app.current.is_some() {
                app.select_id(app.current);
            }
        }
        Command::ToggleSidebar => {
            app.sidebar = !app.sidebar;
            if !app.sidebar && app.focus == Focus::Sessions {
                app.focus = Focus::Input;
            }
        }
        Command::Search => {
            app.dialog = Some(Dialog::Search {
                query: TextField::default(),
                hits: Vec::new(),
                selected: 0,
            })
        }
        Command::Help => app.dialog = Some(Dialog::Help { scroll: 0 }),
        Command::RenameSession => sessions::ask_rename(app),
        Command::ExportSession => sessions::ask_export(app),
        Command::DeleteSession => sessions::ask_delete(app),
        Command::PinSession => sessions::toggle_pin(app, fx),
        Command::ArchiveSession => sessions::archive(app, fx),
        Command::ShowArchived => sessions::toggle_archived_view(app),
        Command::Undo => {
            if let Some((p, _)) = app.removed_paste.take() {
                app.notice(tr!("app.notice.paste_back", n = p.lines), Level::Info);
                app.pastes.push(p);
            } else if transcript::undo_delete_message(app) || sessions::undo_archive(app, fx) {
            } else if let Some((entry, _)) = app.pending_delete.take() {
                app.notice(
                    tr!("app.notice.restored", title = &entry.title),
                    Level::Info,
                );
                app.select_id(Some(entry.id));
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
        Command::ScrollUp => transcript::scroll_up(app, 3),
        Command::ScrollDown => transcript::scroll_down(app, 3),
        Command::PageUp => transcript::scroll_up(app, app.view.height.saturating_sub(2).max(1)),
        Command::PageDown => transcript::scroll_down(app, app.view.height.saturating_sub(2).max(1)),
        Command::ScrollTop => {
            app.scroll = Scroll::Top(0);
            app.selected_turn = None;
        }
        Command::ScrollBottom => {
            app.scroll = Scroll::Follow;
            app.new_below = false;
            app.selected_turn = None;
        }
        Command::SelectPrev | Command::SelectNext => transcript::select_step(app, cmd),
        Command::CopyMessage => transcript::copy_message(app, fx),
        Command::Regenerate => transcript::regenerate(app, fx),
        Command::CopyCode1
        | Command::CopyCode2
        | Command::CopyCode3
        | Command::CopyCode4
        | Command::CopyCode5
        | Command::CopyCode6
        | Command::CopyCode7
        | Command::CopyCode8
        | Command::CopyCode9 => transcript::copy_code(app, cmd, fx),
        Command::DeleteMessage if app.editing.is_some() => {
            app.notice(tr!("app.notice.finish_edit"), Level::Info);
        }
        Command::DeleteMessage => transcript::delete_message(app, fx),
        Command::ExpandPastes => compose::expand_pastes(app),
        Command::ComposeInEditor => fx.push(Effect::Compose(app.message_text())),
        Command::Attach => {
            let mut picker = attach::Picker::default();
            picker.refresh(fx);
            app.dialog = Some(Dialog::Attach(picker));
        }
        Command::Templates => {
            app.dialog = Some(Dialog::Templates {
                query: TextField::default(),
                selected: 0,
            });
            fx.push(Effect::LoadTemplates);
        }
        Command::SaveAsTemplate => compose::save_as_template(app, fx),
        Command::Compare => compare::open(app, fx),
        Command::Usage => {
            app.dialog = Some(Dialog::Usage { view: None });
            fx.push(Effect::LoadUsage);
        }
        Command::RecallLast => compose::recall_last(app, key),
        Command::ModelPicker => {
            let selected = app
                .model_choices("")
                .iter()
                .position(|e| e.name == app.setup.model)
                .unwrap_or(0);
            app.dialog = Some(Dialog::Models {
                selected,
                filter: TextField::default(),
            });
            // The endpoint's own list, kept for a day (Ctrl+R asks again).
            if app.offered.names.is_none() && !app.offered.loading {
                app.offered.loading = true;
                fx.push(Effect::LoadModels { refresh: false });
            }
        }
        Command::SystemPrompt => {
            let text = app.system_prompt();
            app.dialog = Some(Dialog::SystemPrompt {
                text: TextField::new(text.unwrap_or_default()),
            });
        }
        Command::KnowledgePicker => {
            let selected = app
                .session_kb()
                .and_then(|kb| app.setup.knowledge.iter().position(|b| b.name == kb))
                .map_or(0, |i| i + 1);
            app.dialog = Some(Dialog::Knowledge { selected });
        }
        Command::Sources => transcript::open_sources(app),
        Command::AddKey => {
            app.dialog = Some(Dialog::ApiKey {
                key: TextField::default(),
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
