//! Carrying out the app's effects: store jobs, reading and checking files off the loop's
//! thread, the clipboard, the key store, and starting answers and template runs.
//!
//! Each effect is done as asked; what to do and when is `update`'s decision, not this
//! file's.

use ratatui::crossterm::event::Event;

use super::answers::{self, AnswerJob, Replace};
use super::paths::complete_path;
use super::templates::{TemplateJob, save_as_template, template_item, with_library};
use super::terminal::EditorJob;
use super::{Runtime, clipboard, documents, now_ms};
use crate::app::{Effect, Msg};
use crate::llm::Endpoint;
use crate::llm::context::count_tokens;
use crate::secrets::{ApiKey, KeyStore, OsKeyring, SERVICE};

/// Said when there is no key to send with; the app adds the key that opens the key dialog.
pub(super) fn no_key() -> String {
    tr!("app.error.no_key").into_owned()
}
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

impl Runtime {
    pub(super) fn run_effects(&mut self, effects: Vec<Effect>) {
        for e in effects {
            self.run_effect(e);
        }
    }

    fn run_effect(&mut self, effect: Effect) {
        let tx = self.tx.clone();
        match effect {
            // Archived sessions too: the list has an archived view, and a search hit in one opens
            // it as what it is.
            Effect::LoadSessions => self.store.job(move |s| match s.list_sessions(None, true) {
                Ok(list) => Msg::SessionsLoaded(list),
                Err(e) => Msg::Failed(e.to_string()),
            }),
            Effect::LoadTranscript(id) => {
                self.store
                    .job(move |s| match (s.messages(id), s.draft(id)) {
                        (Ok(messages), Ok(draft)) => Msg::TranscriptLoaded {
                            session_id: id,
                            messages,
                            draft,
                        },
                        (Err(e), _) | (_, Err(e)) => Msg::Failed(e.to_string()),
                    })
            }
            Effect::RefreshTranscript(id) => self.store.job(move |s| match s.messages(id) {
                Ok(messages) => Msg::TranscriptRefreshed {
                    session_id: id,
                    messages,
                },
                Err(e) => Msg::Failed(e.to_string()),
            }),
            Effect::Send {
                session_id,
                text,
                model,
                system,
                replace_from,
                long,
                ground,
                session_kb,
                title,
            } => {
                let replace = replace_from.map_or(Replace::Nothing, Replace::From);
                let how = How {
                    system,
                    long,
                    ground,
                    session_kb,
                    title,
                };
                self.start_answer(session_id, Some(text), replace, model, how)
            }
            Effect::Attach {
                paths,
                from_text,
                fallback,
                model,
            } => {
                let cfg = self.start.config.file.documents.clone();
                // Priced at the session's model now (Ctrl+L may have changed it), as the
                // check before sending is: one estimate.
                let info = self.start.config.models.get(&model).cloned();
                tokio::task::spawn_blocking(move || {
                    let results = paths
                        .iter()
                        .map(|p| documents::read_attachment(p, &cfg, info.as_ref()))
                        .collect();
                    let _ = tx.send(Msg::Attached {
                        results,
                        from_text: if from_text { paths } else { Vec::new() },
                        fallback,
                    });
                });
            }
            Effect::Check(out) => {
                let cfg = self.start.config.file.documents.clone();
                let info = self
                    .start
                    .config
                    .models
                    .get(&out.model)
                    .cloned()
                    .unwrap_or_default();
                let max_out = self.start.profile.max_output_tokens;
                tokio::task::spawn_blocking(move || {
                    let check = documents::check(out, &cfg, &info, max_out);
                    let _ = tx.send(Msg::Checked(Box::new(check)));
                });
            }
            Effect::Regenerate {
                session_id,
                replace,
                model,
                ground,
            } => {
                let replace = replace.map_or(Replace::Nothing, Replace::Answer);
                let how = How {
                    ground,
                    ..How::default()
                };
                self.start_answer(Some(session_id), None, replace, model, how)
            }
            Effect::Stop(id) => {
                if let Some(stop) = self.stops.lock().ok().and_then(|mut m| m.remove(&id)) {
                    let _ = stop.send(());
                }
            }
            Effect::Rename(id, title) => {
                self.store
                    .job(move |s| match s.rename_session(id, &title, now_ms()) {
                        Ok(_) => Msg::Info(tr!("app.notice.renamed").into_owned()),
                        Err(e) => Msg::Failed(e.to_string()),
                    })
            }
            Effect::Export(id, path) => {
                let path = std::path::absolute(super::paths::expand_home(&path))
                    .unwrap_or_else(|_| super::paths::expand_home(&path));
                self.store.job(move |s| export_session(s, id, &path));
            }
            Effect::Delete(id) => self.store.job(move |s| match s.delete_session(id) {
                Ok(_) => Msg::Tick(now_ms()),
                Err(e) => Msg::Failed(e.to_string()),
            }),
            Effect::DeleteMessage(id) => {
                self.store.quiet(move |s| s.delete_message(id).map(|_| ()))
            }
            Effect::SetModel(id, model) => self
                .store
                .quiet(move |s| s.set_session_model(id, &model).map(|_| ())),
            Effect::SetKnowledge(id, kb) => self
                .store
                .quiet(move |s| s.set_session_knowledge(id, kb.as_deref()).map(|_| ())),
            Effect::OpenFile(path) => {
                tokio::task::spawn_blocking(move || {
                    let program = opener(&|k| std::env::var(k).ok());
                    let _ = tx.send(open_file(&path, &program));
                });
            }
            Effect::SetSystemPrompt(id, text) => self
                .store
                .quiet(move |s| s.set_session_system_prompt(id, text.as_deref()).map(|_| ())),
            Effect::SetPinned(id, on) => {
                self.store.quiet(move |s| s.set_pinned(id, on).map(|_| ()))
            }
            Effect::SetArchived(id, on) => self
                .store
                .quiet(move |s| s.set_archived(id, on).map(|_| ())),
            Effect::Search(query) => {
                self.store.job(
                    move |s| match s.search(&query, 50, ("\u{E000}", "\u{E001}")) {
                        Ok(hits) => Msg::SearchResults { query, hits },
                        Err(e) => Msg::Failed(e.to_string()),
                    },
                )
            }
            Effect::SaveDraft(id, text) => self.store.quiet(move |s| s.set_draft(id, &text)),
            Effect::SaveSetting(k, v) => self.store.quiet(move |s| s.set_setting(&k, &v)),
            Effect::Copy(text) => {
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::Copied(clipboard::copy(&text)));
                });
            }
            Effect::StoreKey(raw) => {
                let profile = self.start.profile.clone();
                let name = self.start.profile_name.clone();
                let base = self.start.base_url.clone();
                let key = match ApiKey::new(&raw) {
                    Ok(k) => k,
                    Err(e) => {
                        self.send(Msg::KeyStored(Err(e.to_string())));
                        return;
                    }
                };
                let ep =
                    match Endpoint::new(&profile, &key, base.as_deref(), &self.start.config.policy)
                    {
                        Ok(ep) => match &self.meter {
                            Some(m) => ep.with_meter(m.clone()),
                            None => ep,
                        },
                        Err(e) => {
                            self.send(Msg::KeyStored(Err(e.to_string())));
                            return;
                        }
                    };
                // Checked as `clerk auth login` checks it (the endpoint lists its models);
                // only a key the server accepts replaces the one in use and is stored.
                let slot = self.endpoint.clone();
                tokio::spawn(async move {
                    let models = match ep.list_models().await {
                        Ok(m) => m.len(),
                        Err(e) => {
                            let _ = tx.send(Msg::KeyStored(Err(tr!(
                                "app.key.not_accepted",
                                error = e
                            )
                            .into_owned())));
                            return;
                        }
                    };
                    let at = ep.base_url().to_string();
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(ep);
                    }
                    let stored = tokio::task::spawn_blocking(move || {
                        let masked = key.masked();
                        match OsKeyring.set(SERVICE, &name, key.expose()) {
                            Ok(()) => tr!(
                                "app.key.stored",
                                masked = masked,
                                models = models,
                                at = at,
                                backend = OsKeyring.backend(),
                                name = name
                            )
                            .into_owned(),
                            Err(e) => tr!(
                                "app.key.in_memory",
                                masked = masked,
                                models = models,
                                at = at,
                                error = e
                            )
                            .into_owned(),
                        }
                    })
                    .await
                    .unwrap_or_else(|_| tr!("app.key.works_not_stored").into_owned());
                    let _ = tx.send(Msg::KeyStored(Ok(stored)));
                });
            }
            Effect::CountTokens { paste, text } => {
                tokio::task::spawn_blocking(move || {
                    let tokens = count_tokens(&text);
                    let _ = tx.send(Msg::Counted { paste, tokens });
                });
            }
            Effect::Compose(text) => self.editor = Some(EditorJob::Message(text)),
            Effect::SaveAsTemplate(prompt) => match save_as_template(&self.sources, &prompt) {
                Ok(path) => self.editor = Some(EditorJob::Template(path)),
                Err(e) => self.send(Msg::Failed(e)),
            },
            Effect::LoadUsage => {
                let path = self.start.usage_ledger.clone();
                let budget = self.start.config.file.budget.clone();
                tokio::task::spawn_blocking(move || {
                    let view = match path {
                        Some(p) => usage_view(&p, budget).map(Box::new),
                        None => Err(tr!("app.usage.no_ledger").into_owned()),
                    };
                    let _ = tx.send(Msg::UsageLoaded(view));
                });
            }
            Effect::LoadModels { refresh } => {
                let endpoint = self.endpoint.lock().ok().and_then(|e| e.clone());
                let store = self.store.clone();
                tokio::spawn(async move {
                    let _ = tx.send(Msg::ModelsLoaded(models(endpoint, store, refresh).await));
                });
            }
            Effect::LoadTemplates => {
                let library = self.library.clone();
                let sources = self.sources.clone();
                tokio::task::spawn_blocking(move || {
                    let items = with_library(&library, &sources, |lib| {
                        lib.entries().iter().map(template_item).collect()
                    });
                    let _ = tx.send(Msg::TemplatesLoaded(items));
                });
            }
            Effect::LoadTemplateValues(id) => {
                let key = crate::app::forms::memory_key(&id);
                self.store.job(move |s| {
                    let values = s
                        .setting(&key)
                        .ok()
                        .flatten()
                        .and_then(|v| serde_json::from_str(&v).ok())
                        .unwrap_or_default();
                    Msg::TemplateValues { id, values }
                })
            }
            Effect::CompletePath(typed) => {
                tokio::task::spawn_blocking(move || {
                    let (common, candidates) = complete_path(&typed);
                    let _ = tx.send(Msg::PathCompleted {
                        typed,
                        common,
                        candidates,
                    });
                });
            }
            Effect::RunTemplate { id, values, model } => self.start_template(id, values, model),
            Effect::Compare {
                run,
                session_id,
                models,
                messages,
            } => self.start_compare(run, session_id, models, messages),
            Effect::StopCompare(run) => self.stop_compare(run),
            Effect::KeepAnswer(keep) => self.keep_answer(*keep),
            Effect::Incognito(on) => self.switch_store(on),
            Effect::Quit => {}
        }
    }

    /// Save the question (or drop the answer being replaced), then stream the answer.
    fn start_answer(
        &mut self,
        session_id: Option<i64>,
        text: Option<String>,
        replace: Replace,
        model: String,
        how: How,
    ) {
        let How {
            system,
            long,
            ground,
            session_kb,
            title,
        } = how;
        let Some(endpoint) = self.answer_endpoint() else {
            self.send(Msg::SendRefused {
                session_id,
                text,
                error: no_key(),
            });
            return;
        };
        let ground = match ground.map(|name| self.ground(&name)) {
            Some(Err(error)) => {
                self.send(Msg::SendRefused {
                    session_id,
                    text,
                    error,
                });
                return;
            }
            Some(Ok(g)) => Some(g),
            None => None,
        };
        let job = AnswerJob {
            endpoint,
            store: self.store.clone(),
            tx: self.tx.clone(),
            stops: self.stops.clone(),
            profile_name: self.start.profile_name.clone(),
            profile: self.start.profile.clone(),
            docs: self.start.config.file.documents.clone(),
            price: self.start.config.models.get(&model).cloned(),
            model,
            ground,
            session_kb,
            title,
        };
        let handle = tokio::spawn(answers::answer(
            job, session_id, text, replace, system, long,
        ));
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(handle);
    }

    /// Where knowledge base `name`'s passages come from; an error when it is not in the
    /// config, or when this run has no knowledge index.
    fn ground(&self, name: &str) -> Result<answers::Ground, String> {
        let entry = self
            .start
            .config
            .file
            .knowledge
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| tr!("app.kb.not_in_config", name = name).into_owned())?;
        let index = self
            .start
            .knowledge_index
            .clone()
            .ok_or_else(|| tr!("app.kb.no_index").into_owned())?;
        Ok(answers::Ground {
            index,
            base: crate::knowledge::ground::BaseSettings::from(entry),
            scan_secrets: self.start.config.file.documents.scan_secrets,
            block_secrets: block_secrets(&self.start.config.policy),
            remember: self.keeps_history(),
        })
    }

    /// Run a template in a new session (see [`super::templates::run_template`]).
    fn start_template(
        &mut self,
        id: String,
        given: std::collections::BTreeMap<String, String>,
        model: String,
    ) {
        let Some(endpoint) = self.answer_endpoint() else {
            self.send(Msg::RunFailed(no_key()));
            return;
        };
        let job = TemplateJob {
            endpoint,
            store: self.store.clone(),
            tx: self.tx.clone(),
            stops: self.stops.clone(),
            library: self.library.clone(),
            sources: self.sources.clone(),
            profile: self.start.profile_name.clone(),
            models: self.start.config.models.clone(),
            max_out: self.start.profile.max_output_tokens,
            max_bytes: self
                .start
                .config
                .file
                .documents
                .max_file_mb
                .saturating_mul(1024 * 1024),
            bases: super::templates::Bases {
                entries: self.start.config.file.knowledge.clone(),
                index: self.start.knowledge_index.clone(),
                remember: self.keeps_history(),
            },
            scan_secrets: self.start.config.file.documents.scan_secrets,
            block_secrets: block_secrets(&self.start.config.policy),
        };
        let handle = tokio::spawn(super::templates::run_template(job, id, given, model));
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(handle);
    }

    /// On quit: stop every answer and wait (briefly) until what arrived is saved.
    pub(super) async fn finish_streams(&mut self) {
        let senders: Vec<oneshot::Sender<()>> = match self.stops.lock() {
            Ok(mut map) => map.drain().map(|(_, s)| s).collect(),
            Err(_) => Vec::new(),
        };
        for stop in senders {
            let _ = stop.send(());
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for t in self.tasks.drain(..) {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left, t).await;
        }
        self.store.flush().await;
        // Quitting from an incognito session: what was sent to the history before it
        // (the draft of the session left) is written too.
        if let Some(disk) = &self.disk_store {
            disk.flush().await;
        }
    }
}

/// The rule that forbids sending likely secrets (`scrub_secrets = "block"`), as messages
/// name it: passages of a knowledge base holding one are then not sent, not redacted.
fn block_secrets(policy: &crate::config::Policy) -> Option<String> {
    policy
        .scrub_secrets
        .as_ref()
        .filter(|r| r.value == crate::config::policy::Scrub::Block)
        .map(|r| format!("{} (scrub_secrets = \"block\")", r.from.display()))
}

/// How an answer is asked for, besides its session, question and model.
#[derive(Debug, Default)]
struct How {
    /// The system prompt of a new session.
    system: Option<String>,
    /// A long message: read in parts, or only its start.
    long: Option<crate::app::attach::LongSend>,
    /// The knowledge base the question is answered from.
    ground: Option<String>,
    /// The knowledge base a new session is grounded on.
    session_kb: Option<String>,
    /// A new session's title (`None`: named from the message).
    title: Option<String>,
}

/// The program that opens a file the way the desktop does: `CLERK_OPENER` when set (a
/// command name or path, given the file as its one argument), else `open` on macOS,
/// `explorer` on Windows, `xdg-open` elsewhere.
fn opener(env: &dyn Fn(&str) -> Option<String>) -> String {
    if let Some(o) = env("CLERK_OPENER").filter(|o| !o.trim().is_empty()) {
        return o;
    }
    if cfg!(target_os = "macos") {
        "open".to_string()
    } else if cfg!(windows) {
        "explorer".to_string()
    } else {
        "xdg-open".to_string()
    }
}

/// On the store thread: write session `id` to a new file at `path` (JSON when its name ends
/// in `.json`, else Markdown). A file already there is left alone; a write that fails
/// leaves no half-written file.
fn export_session(s: &mut crate::store::Store, id: i64, path: &std::path::Path) -> Msg {
    use std::io::Write;
    let shown = path.display();
    let session = match s.session(id) {
        Ok(Some(session)) => session,
        Ok(None) => return Msg::Failed(tr!("app.export.gone").into_owned()),
        Err(e) => return Msg::Failed(e.to_string()),
    };
    let messages = match s.messages(id) {
        Ok(m) => m,
        Err(e) => return Msg::Failed(e.to_string()),
    };
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let text = if json {
        crate::format::session_json(&session, &messages)
    } else {
        crate::format::session_markdown(&session, &messages)
    };
    let failed = |e: std::io::Error| {
        let error = crate::i18n::os_error(&e);
        Msg::Failed(tr!("app.export.failed", path = shown, error = error).into_owned())
    };
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Msg::Failed(tr!("app.export.exists", path = shown).into_owned());
        }
        Err(e) => return failed(e),
    };
    match file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
    {
        Ok(()) => Msg::Info(tr!("app.notice.exported", path = shown).into_owned()),
        Err(e) => {
            // Not left behind half-written (a full disk).
            drop(file);
            let _ = std::fs::remove_file(path);
            failed(e)
        }
    }
}

/// Open `path` with `program` (the desktop's, [`opener`]), off the loop's thread: what to
/// tell. The program is waited for a few seconds at most (a viewer that stays open is
/// fine); a missing file, a missing program or one that fails is said with the file's path.
fn open_file(path: &std::path::Path, program: &str) -> Msg {
    use std::process::{Command, Stdio};
    let shown = path.display();
    if !path.exists() {
        return Msg::Failed(tr!("app.open.gone", file = shown).into_owned());
    }
    let child = Command::new(program)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Msg::Failed(
                tr!("app.open.no_program", file = shown, program = program).into_owned(),
            );
        }
        Err(e) => {
            return Msg::Failed(
                tr!(
                    "app.open.failed_with",
                    file = shown,
                    program = program,
                    error = e
                )
                .into_owned(),
            );
        }
    };
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => {
                return Msg::Info(tr!("app.open.opened", file = shown).into_owned());
            }
            Ok(Some(status)) => {
                let mut said = String::new();
                if let Some(mut err) = child.stderr.take() {
                    use std::io::Read;
                    let _ = err.read_to_string(&mut said);
                }
                let said = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                let why = if said.is_empty() {
                    status.to_string()
                } else {
                    format!("{status}: {}", said.trim())
                };
                return Msg::Failed(
                    tr!(
                        "app.open.program_failed",
                        file = shown,
                        program = program,
                        why = why
                    )
                    .into_owned(),
                );
            }
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(50)),
            // Still running (a viewer that stays open): it is open; reaped when it ends.
            Ok(None) => {
                std::thread::spawn(move || child.wait());
                return Msg::Info(tr!("app.open.opened", file = shown).into_owned());
            }
            Err(e) => {
                return Msg::Failed(tr!("app.open.failed", file = shown, error = e).into_owned());
            }
        }
    }
}

/// The message for a terminal event (focus changes and the like are ignored).
pub(super) fn event_msg(e: Event) -> Option<Msg> {
    match e {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Paste(p) => Some(Msg::Paste(p)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        Event::Mouse(m) => Some(Msg::Mouse(m)),
        _ => None,
    }
}

/// How long the endpoint's list of models is kept before it is asked again.
const MODELS_KEPT_MS: i64 = 24 * 3_600_000;

/// The endpoint's models: the list kept in the history when it is recent (and not
/// `refresh`), else the endpoint's `/models`, kept for next time.
async fn models(
    endpoint: Option<Endpoint>,
    store: super::store_thread::StoreHandle,
    refresh: bool,
) -> Result<(Vec<String>, i64), String> {
    let endpoint = endpoint.ok_or_else(no_key)?;
    let key = format!("models.{}", endpoint.base_url());
    let now = crate::chat::drive::now_ms();
    if !refresh {
        let k = key.clone();
        let kept: Option<String> = store
            .call(move |s| s.setting(&k).ok().flatten())
            .await
            .flatten();
        if let Some(json) = kept
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&json)
            && let (Some(at), Some(names)) = (v["at"].as_i64(), v["names"].as_array())
            && now.saturating_sub(at) < MODELS_KEPT_MS
        {
            let names = names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect();
            return Ok((names, at));
        }
    }
    let names = endpoint.list_models().await.map_err(|e| e.to_string())?;
    let json = serde_json::json!({ "at": now, "names": names }).to_string();
    store.quiet(move |s| s.set_setting(&key, &json));
    Ok((names, now))
}

/// The usage screen's figures from the ledger at `path`: today, this month and its models,
/// and the cost of each of the last 30 local days.
fn usage_view(
    path: &std::path::Path,
    budget: crate::config::BudgetConfig,
) -> Result<crate::app::UsageView, String> {
    use crate::store::ledger::{By, Ledger, Totals};
    use chrono::{Days, Local, TimeZone};
    let now = Local::now();
    let p = crate::chat::budget::periods(&now);
    let first_day = now.date_naive() - Days::new(29);
    let from = first_day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| Local.from_local_datetime(&t).earliest())
        .map_or(p.month_start_ms, |t| t.timestamp_millis());
    if !path.exists() {
        // Nothing was ever sent.
        return Ok(crate::app::UsageView {
            today: Totals::default(),
            month: Totals::default(),
            by_model: Vec::new(),
            days: (0..30)
                .map(|i| ((first_day + Days::new(i)).format("%m-%d").to_string(), 0.0))
                .collect(),
            budget,
        });
    }
    let e = |e: crate::store::StoreError| e.to_string();
    let ledger = Ledger::open(path).map_err(e)?;
    let per_day = ledger.report(By::Day, from, i64::MAX).map_err(e)?;
    let days = (0..30)
        .map(|i| {
            let d = first_day + Days::new(i);
            let key = d.format("%Y-%m-%d").to_string();
            let cost = per_day
                .iter()
                .find(|r| r.key == key)
                .and_then(|r| r.totals.cost_usd)
                .unwrap_or(0.0);
            (d.format("%m-%d").to_string(), cost)
        })
        .collect();
    Ok(crate::app::UsageView {
        today: ledger.totals(p.day_start_ms, i64::MAX).map_err(e)?,
        month: ledger.totals(p.month_start_ms, i64::MAX).map_err(e)?,
        by_model: ledger
            .report(By::Model, p.month_start_ms, i64::MAX)
            .map_err(e)?,
        days,
        budget,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_opener_is_the_desktops_unless_clerk_opener_names_one() {
        let none = |_: &str| None;
        let default = opener(&none);
        if cfg!(target_os = "linux") {
            assert_eq!(default, "xdg-open");
        }
        let set = |k: &str| (k == "CLERK_OPENER").then(|| "my-viewer".to_string());
        assert_eq!(opener(&set), "my-viewer");
        let blank = |_: &str| Some("  ".to_string());
        assert_eq!(opener(&blank), default);
    }

    #[test]
    fn an_export_writes_a_new_file_in_the_format_its_name_says_and_never_over_one() {
        use crate::store::{NewMessage, NewSession, Role, Store};
        let mut s = Store::open_in_memory().unwrap();
        let id = s
            .create_session(&NewSession {
                title: "差旅报销".into(),
                profile: "default".into(),
                model: "gpt-4o-mini".into(),
                system_prompt: None,
                now_ms: 1,
            })
            .unwrap();
        for (role, text) in [(Role::User, "How long?"), (Role::Assistant, "30 天内。")] {
            s.add_message(&NewMessage {
                session_id: id,
                role,
                content: text.into(),
                status: crate::store::MessageStatus::Complete,
                model: None,
                now_ms: 2,
            })
            .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let said = |m: Msg| match m {
            Msg::Info(t) => Ok(t),
            Msg::Failed(t) => Err(t),
            other => panic!("{other:?}"),
        };
        let md = dir.path().join("travel.md");
        let ok = said(export_session(&mut s, id, &md)).unwrap();
        assert!(
            ok.starts_with("exported to ") && ok.ends_with("travel.md"),
            "{ok}"
        );
        let text = std::fs::read_to_string(&md).unwrap();
        assert!(text.starts_with("# 差旅报销\n"), "{text}");
        assert!(text.contains("## You\n\nHow long?") && text.contains("## Assistant\n\n30 天内。"));
        let json = dir.path().join("travel.JSON");
        said(export_session(&mut s, id, &json)).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(v["messages"][1]["content"], "30 天内。");
        // A file already there is kept as it was.
        std::fs::write(&md, "mine").unwrap();
        let e = said(export_session(&mut s, id, &md)).unwrap_err();
        assert!(
            e.contains("already exists") && e.contains("travel.md"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&md).unwrap(), "mine");
        // A folder that is not there: said, nothing made.
        let nowhere = dir.path().join("no-such-folder/travel.md");
        let e = said(export_session(&mut s, id, &nowhere)).unwrap_err();
        assert!(
            e.starts_with("not exported to ") && e.contains("nothing was written"),
            "{e}"
        );
        assert!(!nowhere.exists());
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let e = said(export_session(&mut s, id, &nowhere)).unwrap_err();
        assert!(
            e.contains("没有写入任何内容") && !e.contains("No such file"),
            "{e}"
        );
        drop(_zh);
        // A session deleted meanwhile.
        let e = said(export_session(&mut s, id + 1, &dir.path().join("x.md"))).unwrap_err();
        assert!(e.contains("no longer in the history"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn opening_a_file_says_what_happened_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("travel.md");
        std::fs::write(&file, "# Travel").unwrap();
        let said = |m: Msg| match m {
            Msg::Info(t) => Ok(t),
            Msg::Failed(t) => Err(t),
            other => panic!("{other:?}"),
        };
        let ok = said(open_file(&file, "true")).unwrap();
        assert!(
            ok.starts_with("opened ") && ok.ends_with("travel.md"),
            "{ok}"
        );
        let e = said(open_file(&file, "false")).unwrap_err();
        assert!(
            e.contains("`false` failed") && e.contains("travel.md"),
            "{e}"
        );
        let e = said(open_file(&file, "clerk-no-such-opener")).unwrap_err();
        assert!(
            e.contains("was not found") && e.contains("CLERK_OPENER"),
            "{e}"
        );
        let gone = dir.path().join("moved.md");
        let e = said(open_file(&gone, "true")).unwrap_err();
        assert!(
            e.contains("not there any more") && e.contains("moved.md"),
            "{e}"
        );
    }
}
