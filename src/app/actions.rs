//! What any part of the app's update may do to the state, as methods of [`App`]: show a
//! notice, ask for the API key, keep the draft and the live answer of the session being
//! left, open a new session, run a template, select in the session list, use a model.
//!
//! The reducers in `update/` share them, and so do `attach` and `forms`: that is why they
//! live on the state and not in `update`. Nothing here may call into `update` (that would
//! make a circle of files). Pure like the rest of `app`: no IO, no await, no clock reads
//! (the time is `App::now_ms`, set by ticks).

use super::keymap::{Command, Mode};
use super::{
    App, Dialog, Draft, Effect, Focus, Level, Live, NEW_SESSION, NOTICE_MS, Notice, Scroll,
    TextField, Turn,
};
use crate::store::{MessageStatus, Role};

impl App {
    /// Show a notice in the status bar.
    pub(super) fn notice(&mut self, text: impl Into<String>, level: Level) {
        self.notice = Some(Notice {
            text: text.into(),
            level,
            until_ms: self.now_ms + NOTICE_MS,
        });
    }

    /// Show several notices one after another, each for [`NOTICE_MS`], numbered `(1/3)` so
    /// the person knows more follow.
    pub(super) fn notices(&mut self, texts: Vec<String>, level: Level) {
        let n = texts.len();
        let mut numbered = texts.into_iter().enumerate().map(|(i, text)| {
            if n > 1 {
                format!("({}/{n}) {text}", i + 1)
            } else {
                text
            }
        });
        if let Some(first) = numbered.next() {
            self.notice(first, level);
        }
        self.queued_notices
            .extend(numbered.map(|text| (text, level)));
    }

    /// Open the key dialog with the reason there is no key.
    pub(super) fn ask_for_key(&mut self) {
        self.dialog = Some(Dialog::ApiKey {
            key: TextField::default(),
            error: self.setup.key_problem.clone(),
        });
    }

    /// Run a template in a new session (the form was filled and checked).
    pub(super) fn start_template(
        &mut self,
        id: &str,
        title: &str,
        values: std::collections::BTreeMap<String, String>,
        fx: &mut Vec<Effect>,
    ) {
        if self.pending_new.is_some() {
            self.notice(tr!("app.notice.new_still_starting"), Level::Warn);
            return;
        }
        if let Some(why) = self.model_refused() {
            self.notice(why, Level::Error);
            return;
        }
        self.new_session(fx);
        self.pending_new = Some(Live {
            waiting: Some(tr!("app.notice.starting_template", title = title).into_owned()),
            ..Live::default()
        });
        fx.push(Effect::RunTemplate {
            id: id.to_string(),
            values,
            model: self.setup.model.clone(),
        });
    }

    /// Open a new, unsaved session; the draft and the live answer of the one left are kept.
    pub(super) fn new_session(&mut self, fx: &mut Vec<Effect>) {
        self.stash_draft(fx);
        self.stash_live();
        self.current = None;
        self.transcript.clear();
        if self.pending_new.is_some() {
            // Drawn from the live answer's text.
            self.transcript.push(Turn::new(
                Role::Assistant,
                String::new(),
                MessageStatus::Streaming,
            ));
        }
        let draft = self.drafts.get(&NEW_SESSION).cloned().unwrap_or_default();
        self.load_draft(draft);
        self.scroll = Scroll::Follow;
        self.focus = Focus::Input;
    }

    /// Keep the draft of the session being left, in memory and on disk. An edit in progress
    /// becomes part of the draft (after the draft it had set aside): nothing typed is lost.
    pub(super) fn stash_draft(&mut self, fx: &mut Vec<Effect>) {
        if let Some(e) = self.editing.take() {
            let edited = self.draft();
            let text = match (e.draft.text.is_empty(), edited.text.is_empty()) {
                (true, _) => edited.text,
                (false, true) => e.draft.text,
                (false, false) => format!("{}\n\n{}", e.draft.text, edited.text),
            };
            let mut pastes = e.draft.pastes;
            pastes.extend(edited.pastes);
            self.load_draft(Draft { text, pastes });
            self.notice(tr!("app.notice.edit_kept"), Level::Info);
        }
        let key = self.current.unwrap_or(NEW_SESSION);
        let draft = self.draft();
        let before = self
            .drafts
            .get(&key)
            .map(Draft::compose)
            .unwrap_or_default();
        let text = draft.compose();
        if text != before {
            fx.push(Effect::SaveDraft(key, text));
        }
        if draft.is_empty() {
            self.drafts.remove(&key);
        } else {
            self.drafts.insert(key, draft);
        }
    }

    /// Before the open transcript goes: its streaming answer's passages move back to the live
    /// answer (whose text is the one the turn was drawn from), until the session is shown
    /// again.
    pub(super) fn stash_live(&mut self) {
        let Some(turn) = self
            .transcript
            .iter_mut()
            .rev()
            .find(|t| t.status == MessageStatus::Streaming)
        else {
            return;
        };
        let live = match self.current {
            Some(id) => self.live.get_mut(&id),
            None => self.pending_new.as_mut(),
        };
        if let Some(l) = live {
            l.grounding = turn.grounding.take();
        }
    }

    /// The id of the session selected in the list.
    pub(super) fn selected_id(&self) -> Option<i64> {
        self.visible_sessions().get(self.selected).map(|s| s.id)
    }

    /// Select a session in the list by id; without one, or when it is not shown, keep the
    /// selection inside the list.
    /// " · Ctrl+Z to undo" (the key as bound; empty when `cmd` has no key in `mode`): a
    /// notice's hint. `what` follows the key.
    pub(super) fn key_hint(&self, mode: Mode, cmd: Command, what: &str) -> String {
        self.setup
            .keymap
            .key_for(mode, cmd)
            .map(|k| format!(" · {k} {what}"))
            .unwrap_or_default()
    }

    /// Delete for good the message waiting out its undo time (before a send, so the
    /// conversation sent is the one shown; when the time is over; on quitting).
    pub(super) fn commit_pending_message(&mut self, fx: &mut Vec<Effect>) {
        if let Some(p) = self.pending_message.take()
            && let Some(id) = p.turn.id
        {
            fx.push(Effect::DeleteMessage(id));
        }
    }

    pub(super) fn select_id(&mut self, id: Option<i64>) {
        if let Some(id) = id
            && let Some(i) = self.visible_sessions().iter().position(|s| s.id == id)
        {
            self.selected = i;
            return;
        }
        let n = self.visible_sessions().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// Answer the open session's questions from knowledge base `kb` (`None`: from the
    /// model alone): kept with the session, or for the new session until it is made.
    pub(super) fn set_session_kb(&mut self, kb: Option<String>, fx: &mut Vec<Effect>) {
        match self.current {
            Some(id) => {
                match self.sessions.iter_mut().find(|e| e.id == id) {
                    Some(e) => e.knowledge = kb.clone(),
                    // Just made, not listed yet.
                    None => self.created_kb = kb.clone().map(|k| (id, k)),
                }
                fx.push(Effect::SetKnowledge(id, kb.clone()));
            }
            None => self.pending_kb = kb.clone(),
        }
        match kb {
            Some(name) => self.notice(tr!("app.notice.kb_on", name = name), Level::Info),
            None => self.notice(tr!("app.notice.kb_off"), Level::Info),
        }
    }

    /// Use a model from now on (and show its context window).
    pub(super) fn set_model(&mut self, name: &str, window: Option<u64>) {
        self.setup.model = name.to_string();
        self.setup.context_window = window;
    }
}
