//! The message box: sending (the `@path` words attach first, the check before sending,
//! then the question goes into the transcript), pastes and their chips, `@path` completion,
//! editing a question to resend it, recalling the last message, saving it as a template.
//!
//! The check itself and attaching are in `app/attach.rs`. Pure: no IO, no await, no clock
//! reads; reading files, counting tokens and sending are effects.

use ratatui::crossterm::event::KeyEvent;

use crate::app::keymap::{Command, Mode};
use crate::app::{
    App, CHIP_CHARS, CHIP_LINES, Dialog, EXPAND_MAX_LINES, Editing, Effect, Focus, Level, Live,
    NEW_SESSION, Paste, Scroll, Turn, UNDO_MS, attach, forms, is_long,
};
use crate::store::{MessageStatus, Role, SessionId};

/// Enter: send the message, or first attach its `@path` files, ask for a key, or check it.
pub(super) fn send(app: &mut App, fx: &mut Vec<Effect>) {
    app.commit_pending_message(fx);
    let text = app.message_text();
    if text.trim().is_empty() {
        return;
    }
    // A model the admin's policy does not allow: said, nothing saved or sent, and the
    // message stays in the box.
    if let Some(why) = app.model_refused() {
        app.notice(why, Level::Error);
        return;
    }
    // A question answered from a knowledge base that cannot be: said, and nothing typed is
    // lost (the message stays in the box).
    if let Err(why) = grounding_of(app, &text) {
        app.notice(why, Level::Error);
        return;
    }
    // `@path` words attach their files first; the next Enter sends.
    let paths = attach::at_paths(&app.input_text());
    if !paths.is_empty() {
        app.notice(tr!("app.notice.attaching"), Level::Info);
        fx.push(Effect::Attach {
            paths,
            from_text: true,
            fallback: None,
            model: app.setup.model.clone(),
        });
        return;
    }
    if !app.setup.has_key {
        app.ask_for_key();
        return;
    }
    if app.current_live().is_some() {
        app.notice(tr!("app.notice.still_writing_esc"), Level::Warn);
        return;
    }
    let seq = app.next_paste_id();
    let big =
        text.len() >= attach::CHECK_OFF_THREAD_BYTES || app.pastes.iter().any(|p| p.file.is_some());
    if big {
        // Counting and scanning megabytes happen off the UI's path.
        app.checking = Some(seq);
        app.notice(tr!("app.notice.checking"), Level::Info);
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
        decide(app, check, fx);
        return;
    }
    commit_send(app, text, None, fx);
}

/// A message whose check found something to decide: the admin's `scrub_secrets` decides
/// about its secrets when there is one (`block`: not sent, the message stays in the box;
/// `redact`: replaced, without asking); the rest is asked in the dialog.
fn decide(app: &mut App, mut check: attach::Check, fx: &mut Vec<Effect>) {
    use crate::config::policy::Scrub;
    if let Some(rule) = app.setup.policy.scrub_secrets.clone()
        && !check.found.is_empty()
    {
        let n = check.found.len();
        let said = format!(
            "{} (scrub_secrets = \"{}\")",
            rule.from.display(),
            rule.value.as_str()
        );
        match rule.value {
            Scrub::Block => {
                app.notice(
                    tr!("app.notice.secrets_blocked", n = n, said = &said),
                    Level::Error,
                );
                return;
            }
            Scrub::Redact => {
                check.redact = Some(true);
                app.notice(
                    tr!("app.notice.secrets_redacted", n = n, said = &said),
                    Level::Info,
                );
                if check.parts.is_none() && !check.over_limit {
                    let text = check
                        .redacted
                        .as_deref()
                        .map_or_else(|| check.outgoing.text.to_string(), str::to_string);
                    commit_send(app, text, None, fx);
                    return;
                }
            }
            Scrub::Ask => {}
        }
    }
    attach::ask(app, check);
}

/// The knowledge base a message is answered from — the one its `@kb:NAME` names, else
/// the session's — and the question without the `@kb:` word; or why it cannot be sent.
pub(super) fn grounding_of(app: &App, text: &str) -> Result<(Option<String>, String), String> {
    let (names, question) = attach::at_kb(text);
    let known = || {
        let names: Vec<&str> = app
            .setup
            .knowledge
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        if names.is_empty() {
            tr!("app.kb.none_configured").into_owned()
        } else {
            tr!("app.kb.known", names = names.join(", ")).into_owned()
        }
    };
    let name = match names.as_slice() {
        [] => None,
        [one] if one.is_empty() => {
            return Err(tr!("app.kb.name_one", known = known()).into_owned());
        }
        [one] if !app.is_base(one) => {
            return Err(tr!("app.kb.no_such", name = one, known = known()).into_owned());
        }
        [one] => Some(one.clone()),
        _ => {
            return Err(tr!("app.kb.only_one").into_owned());
        }
    };
    if name.is_some() && question.trim().is_empty() {
        return Err(tr!("app.kb.no_question").into_owned());
    }
    let name = match name {
        Some(n) => Some(n),
        None => match app.session_kb() {
            Some(kb) if !app.is_base(kb) => {
                let pick = app.key_hint(
                    Mode::Global,
                    Command::KnowledgePicker,
                    &tr!("app.hint.chooses_another"),
                );
                return Err(tr!("app.kb.session_gone", name = kb, pick = pick).into_owned());
            }
            kb => kb.map(str::to_string),
        },
    };
    if name.is_some() && app.pastes.iter().any(|p| p.file.is_some()) {
        return Err(tr!("app.kb.no_files", name = name.unwrap_or_default()).into_owned());
    }
    Ok((name, question))
}

/// The question could not be stored, so nothing was sent: the answer being written is
/// gone, the question leaves the transcript and goes back into the box (before what was
/// typed since), and the error says so. The app stays usable.
pub(super) fn on_send_refused(
    app: &mut App,
    session_id: Option<SessionId>,
    text: Option<String>,
    error: String,
) {
    match session_id {
        Some(id) => {
            app.live.remove(&id);
        }
        None => app.pending_new = None,
    }
    if app.current == session_id {
        if app.transcript.last().is_some_and(|t| {
            t.role == Role::Assistant && t.status == MessageStatus::Streaming && t.id.is_none()
        }) {
            app.transcript.pop();
        }
        if let Some(q) = &text
            && app
                .transcript
                .last()
                .is_some_and(|t| t.role == Role::User && t.id.is_none() && &t.content == q)
        {
            app.transcript.pop();
        }
    }
    let back = match text {
        Some(q) if app.current == session_id => {
            let typed = app.input_text();
            let joined = if typed.trim().is_empty() {
                q
            } else {
                format!("{q}\n\n{typed}")
            };
            app.set_text(&joined);
            app.focus = Focus::Input;
            format!(" · {}", tr!("app.notice.back_in_box"))
        }
        _ => String::new(),
    };
    // The runtime's error for a missing key (`tui::effects::no_key`, in either language)
    // gets the key to add one.
    let add = if error.contains("no API key") || error.contains(&*tr!("app.error.no_key")) {
        app.key_hint(Mode::Global, Command::AddKey, &tr!("app.hint.adds_one"))
    } else {
        String::new()
    };
    app.notice(
        tr!("app.notice.not_sent", error = format!("{error}{add}{back}")),
        Level::Error,
    );
}

/// Put the question in the transcript, clear the box, and send.
pub(super) fn commit_send(
    app: &mut App,
    text: String,
    long: Option<attach::LongSend>,
    fx: &mut Vec<Effect>,
) {
    // Checked when Enter was pressed; a grounded question is sent without `@kb:` and
    // never in parts (only its passages go with it).
    let (ground, text, long) = match grounding_of(app, &text) {
        Ok((Some(kb), question)) => (Some(kb), question, None),
        _ => (None, text, long),
    };
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
    // A new session is named by the words typed with a paste, not by the pasted text.
    let title = (app.current.is_none() && !app.pastes.is_empty())
        .then(|| app.input_text())
        .filter(|typed| !typed.trim().is_empty())
        .map(|typed| crate::store::title_from(&typed));
    let key = app.current.unwrap_or(NEW_SESSION);
    match &editing {
        // The draft set aside for the edit comes back.
        Some(e) if !e.draft.is_empty() => app.load_draft(e.draft.clone()),
        _ => {
            app.set_text("");
            if app.drafts.remove(&key).is_some() {
                fx.push(Effect::SaveDraft(key, String::new()));
            }
        }
    }
    match replace_from {
        Some((_, n)) if n > 0 => app.notice(tr!("app.notice.resent", n = n), Level::Info),
        Some(_) => {}
        None if editing.is_some() => app.notice(tr!("app.notice.edited_gone"), Level::Warn),
        None => {}
    }
    app.scroll = Scroll::Follow;
    app.new_below = false;
    app.selected_turn = None;
    let (system, session_kb) = if app.current.is_none() {
        (app.pending_system.take(), app.pending_kb.clone())
    } else {
        (None, None)
    };
    fx.push(Effect::Send {
        session_id: app.current,
        text,
        model: app.setup.model.clone(),
        system,
        replace_from: replace_from.map(|(id, _)| id),
        long,
        ground,
        session_kb,
        title,
    });
}

/// The check before sending came back.
pub(super) fn on_checked(app: &mut App, check: attach::Check, fx: &mut Vec<Effect>) {
    if app.checking != Some(check.seq) {
        return;
    }
    app.checking = None;
    app.notice = None;
    if check.is_clear() {
        commit_send(app, check.outgoing.text.to_string(), None, fx);
    } else {
        decide(app, check, fx);
    }
}

/// Pasted text: into the open dialog's field, or the box (a long text becomes a chip, a
/// path to a file is attached).
pub(super) fn on_paste(app: &mut App, text: &str, fx: &mut Vec<Effect>) {
    let one_line = || text.replace(['\r', '\n'], " ");
    match &mut app.dialog {
        Some(Dialog::ApiKey { key, .. }) => key.insert_str(text.trim()),
        Some(Dialog::Search { query, .. }) => {
            query.insert_str(&one_line());
            fx.push(Effect::Search(query.to_string()));
        }
        Some(Dialog::Rename { title, .. }) => title.insert_str(&one_line()),
        Some(Dialog::Export { path, .. }) => path.insert_str(&one_line()),
        Some(Dialog::SystemPrompt { text: t }) => t.insert_str(&one_line()),
        Some(Dialog::Templates { query, selected }) => {
            query.insert_str(&one_line());
            *selected = 0;
        }
        Some(Dialog::Form(form)) => forms::form_paste(form, text),
        Some(Dialog::Attach(picker)) => {
            let pasted = attach::pasted_path(text).unwrap_or_else(one_line);
            picker.path.insert_str(&pasted);
            picker.refresh(fx);
        }
        Some(_) => {}
        None if attach::pasted_path(text).is_some() => {
            // A path to a file attaches it; anything else is inserted as typed.
            app.focus = Focus::Input;
            fx.push(Effect::Attach {
                paths: attach::pasted_path(text).into_iter().collect(),
                from_text: false,
                fallback: Some(text.to_string()),
                model: app.setup.model.clone(),
            });
        }
        None => {
            let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
            app.focus = Focus::Input;
            if is_long(&normalized, CHIP_LINES, CHIP_CHARS) {
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

/// A chip's tokens were counted (it may be in the box, a draft, or an edit's draft).
pub(super) fn on_counted(app: &mut App, paste: u64, tokens: u64) {
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

/// Put the chips' text into the box, where it can be edited.
pub(super) fn expand_pastes(app: &mut App) {
    if app.pastes.is_empty() {
        app.notice(tr!("app.notice.nothing_to_expand"), Level::Info);
        return;
    }
    let lines: usize = app.pastes.iter().map(|p| p.lines).sum();
    if lines > EXPAND_MAX_LINES {
        let editor = app
            .setup
            .keymap
            .key_for(Mode::Input, Command::ComposeInEditor)
            .map(|k| tr!("app.notice.opens_in_editor", key = k).into_owned())
            .unwrap_or_default();
        app.notice(
            tr!("app.notice.too_many_lines", n = lines, editor = editor),
            Level::Warn,
        );
        return;
    }
    let text = app.draft().compose();
    app.pastes.clear();
    app.set_box(&text);
}

/// Backspace at the very start of the box removes the last chip (Ctrl+Z brings it back).
pub(super) fn remove_last_paste(app: &mut App) -> bool {
    if app.input.cursor() != (0, 0) {
        return false;
    }
    let Some(p) = app.pastes.pop() else {
        return false;
    };
    let undo = app.key_hint(Mode::Global, Command::Undo, &tr!("app.hint.brings_back"));
    app.notice(
        match &p.file {
            Some(f) => tr!("app.notice.removed_file", name = &f.name, undo = undo),
            None => tr!("app.notice.removed_paste", n = p.lines, undo = undo),
        },
        Level::Info,
    );
    app.removed_paste = Some((p, app.now_ms + UNDO_MS));
    true
}

/// Put the selected question (or the question of the selected answer) in the message box
/// for editing; sending it replaces it and everything after it.
pub(super) fn edit_message(app: &mut App) {
    let Some(sel) = app.selected_turn.filter(|&i| i < app.transcript.len()) else {
        app.notice(tr!("app.notice.select_question"), Level::Info);
        return;
    };
    let Some(index) = (0..=sel)
        .rev()
        .find(|&i| app.transcript[i].role == Role::User)
    else {
        app.notice(tr!("app.notice.no_question_to_edit"), Level::Info);
        return;
    };
    if app.current_live().is_some() {
        app.notice(tr!("app.notice.stop_first"), Level::Warn);
        return;
    }
    let Some(id) = app.transcript[index].id else {
        app.notice(tr!("app.notice.not_saved_yet"), Level::Info);
        return;
    };
    let draft = match app.editing.take() {
        Some(e) => e.draft,
        None => app.draft(),
    };
    let mut text = app.transcript[index].content.clone();
    // A question grounded with `@kb:NAME` (not the session's base) is resent so again.
    if let Some(base) = app
        .transcript
        .get(index + 1)
        .filter(|t| t.role == Role::Assistant)
        .and_then(|t| t.grounding.as_ref())
        .and_then(|g| g.bases.first())
        && app.session_kb() != Some(base.as_str())
    {
        text = format!("@{}{base} {text}", attach::KB_PREFIX);
    }
    app.set_text(&text);
    app.editing = Some(Editing { id, draft });
    app.selected_turn = Some(index);
    app.focus = Focus::Input;
}

/// The `@path` word just before the cursor in the message box (without the `@`).
pub(super) fn at_word(app: &App) -> Option<String> {
    let cursor = app.input.cursor();
    let (row, col) = (cursor.0, cursor.1);
    let line = app.input.lines().get(row)?;
    let before: String = line.chars().take(col).collect();
    let word = before.rsplit(char::is_whitespace).next()?;
    word.strip_prefix('@').map(str::to_string)
}

/// Tab after `@kb:` and the start of a name: the name completed from the configured bases
/// (several that match are listed). `false`: the word is not an `@kb:` word.
pub(super) fn complete_kb(app: &mut App) -> bool {
    let Some(typed) =
        at_word(app).and_then(|w| w.strip_prefix(attach::KB_PREFIX).map(String::from))
    else {
        return false;
    };
    let matches: Vec<String> = app
        .setup
        .knowledge
        .iter()
        .filter(|b| b.name.starts_with(&typed))
        .map(|b| b.name.clone())
        .collect();
    let common =
        matches
            .iter()
            .skip(1)
            .fold(matches.first().cloned().unwrap_or_default(), |acc, m| {
                acc.chars()
                    .zip(m.chars())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect()
            });
    if let Some(rest) = common.strip_prefix(&typed) {
        app.input.insert_str(rest);
    }
    match matches.len() {
        0 if app.setup.knowledge.is_empty() => {
            app.notice(tr!("app.kb.none_configured"), Level::Warn)
        }
        0 => app.notice(tr!("app.kb.none_starts", typed = &typed), Level::Warn),
        1 => app.input.insert_char(' '),
        _ => app.notice(matches.join(" · "), Level::Info),
    }
    true
}

/// Completions of an `@path` word arrived: the common part is typed in, several matches are
/// listed in a notice.
pub(super) fn at_word_completed(app: &mut App, typed: &str, common: &str, candidates: &[String]) {
    if at_word(app).as_deref() != Some(typed) {
        return;
    }
    if let Some(rest) = common.strip_prefix(typed) {
        app.input.insert_str(rest);
    }
    if candidates.len() > 1 {
        let shown: Vec<&str> = candidates.iter().take(8).map(String::as_str).collect();
        let more = if candidates.len() > 8 { " · …" } else { "" };
        app.notice(format!("{}{more}", shown.join(" · ")), Level::Info);
    } else if candidates.is_empty() {
        app.notice(
            tr!("app.notice.no_file_matches", typed = typed),
            Level::Warn,
        );
    }
}

/// Save the typed message (or the selected question) as a template.
pub(super) fn save_as_template(app: &mut App, fx: &mut Vec<Effect>) {
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
        None => app.notice(tr!("app.notice.nothing_to_save"), Level::Info),
    }
}

/// Recall the last message sent into an empty box (otherwise the key goes to the box).
pub(super) fn recall_last(app: &mut App, key: KeyEvent) {
    if app.draft().is_empty() {
        if let Some(last) = app.sent.last().cloned().or_else(|| {
            app.transcript
                .iter()
                .rev()
                .find(|t| t.role == Role::User)
                .map(|t| t.content.clone())
        }) {
            app.set_text(&last);
        }
    } else {
        app.input.input(key);
    }
}
