//! Templates in the app: the library (loaded on first use, reloaded when its files
//! change), the plan for a run with the form's values, and the run itself — through the
//! same runner as `clerk run` ([`crate::templates::run`]), with the app's store thread and
//! channel around each step.
//!
//! It must not decide what a step sends or how it ends: that is the runner's and the chat
//! core's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::answers::{AppSaver, AppSink, Stops, report};
use super::store_thread::StoreHandle;
use crate::app::Msg;
use crate::chat::{Driven, End, Saver, Sink, now_ms};
use crate::config::{ModelInfo, ModelTable};
use crate::llm::{AnswerStatus, Endpoint};
use crate::store::{MessageStatus, NewMessage, NewSession, Role, Store};
use crate::templates::run::{RunError, StepStart, Steps};

use super::paths::expand_home;

/// Use the template library, (re)loading it when its files changed.
pub(super) fn with_library<T>(
    library: &Mutex<Option<crate::templates::Library>>,
    sources: &crate::templates::Sources,
    f: impl FnOnce(&crate::templates::Library) -> T,
) -> T {
    let mut guard = match library.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    let stale = guard.as_ref().is_none_or(|l| l.is_stale(sources));
    if stale {
        *guard = Some(crate::templates::Library::load(sources));
    }
    match guard.as_ref() {
        Some(lib) => f(lib),
        // Just loaded above.
        None => f(&crate::templates::Library::load(sources)),
    }
}

/// A library entry as the app shows it.
pub(super) fn template_item(e: &crate::templates::Entry) -> crate::app::TemplateItem {
    use crate::app::{FieldSpec, TemplateItem};
    let problem = e
        .problems
        .iter()
        .find(|p| p.severity == crate::templates::Severity::Error)
        .map(|p| p.to_string());
    match &e.template {
        Some(t) => TemplateItem {
            id: e.id.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            category: t.category.clone(),
            tags: t.tags.clone(),
            origin: e.origin.to_string(),
            problem: None,
            steps: t.steps.iter().map(|s| s.name.clone()).collect(),
            workflow: t.is_workflow(),
            preview: if t.is_workflow() {
                t.steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("{}. {}\n{}", i + 1, s.name, s.prompt.trim()))
                    .collect::<Vec<_>>()
                    .join("\n\n")
            } else {
                t.steps
                    .first()
                    .map(|s| s.prompt.trim().to_string())
                    .unwrap_or_default()
            },
            fields: t
                .variables
                .iter()
                .map(|v| FieldSpec {
                    name: v.name.clone(),
                    label: v.label.clone(),
                    kind: v.kind,
                    required: v.required,
                    default: v.default.clone(),
                    help: v.help.clone(),
                    options: v.options.clone(),
                })
                .collect(),
        },
        None => TemplateItem {
            id: e.id.clone(),
            title: e.id.clone(),
            description: String::new(),
            category: "Broken".to_string(),
            tags: Vec::new(),
            origin: e.origin.to_string(),
            problem: problem.or_else(|| Some("cannot be read".to_string())),
            steps: Vec::new(),
            workflow: false,
            preview: String::new(),
            fields: Vec::new(),
        },
    }
}

/// Where a run's `kb` variables find their bases: the config's entries and the index.
#[derive(Debug, Clone, Default)]
pub(super) struct Bases {
    pub entries: Vec<crate::config::KnowledgeEntry>,
    pub index: Option<std::path::PathBuf>,
    /// Cache restatements in the index (not with the history off or `--incognito`).
    pub remember: bool,
}

/// The plan for running template `id` with the form's values (files read here; a `kb`
/// variable grounds the run on its base, as `clerk run` does).
fn plan_for(
    lib: &crate::templates::Library,
    id: &str,
    given: BTreeMap<String, String>,
    model: String,
    max_out: Option<u64>,
    max_bytes: u64,
    bases: &Bases,
) -> Result<crate::templates::run::Plan, String> {
    let entry = lib
        .get(id)
        .ok_or_else(|| tr!("app.templates.gone", id = id).into_owned())?;
    let template = entry
        .template
        .clone()
        .ok_or_else(|| tr!("app.templates.broken_id", id = id).into_owned())?;
    let given: BTreeMap<String, String> =
        given.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut values = crate::templates::check_values(&template, &given).map_err(|p| {
        tr!("app.templates.cannot_run_why", id = id, why = p.join("; ")).into_owned()
    })?;
    for v in template
        .variables
        .iter()
        .filter(|v| v.kind == crate::templates::VarKind::File)
    {
        if let Some(path) = values.get(&v.name).filter(|p| !p.is_empty()).cloned() {
            let path = expand_home(&path);
            let doc = crate::documents::extract::extract_file(&path, max_bytes).map_err(|e| {
                tr!("app.templates.for_field", error = e, label = &v.label).into_owned()
            })?;
            values.insert(v.name.clone(), doc.text);
        }
    }
    let index = bases.index.clone().unwrap_or_default();
    let mut grounding =
        crate::templates::run::grounding(&template, &values, &bases.entries, index, &model)
            .map_err(|e| tr!("app.templates.cannot_run_why", id = id, why = e).into_owned())?;
    if let Some(g) = &mut grounding {
        g.indexed().map_err(|e| e.to_string())?;
        g.ask.remember = bases.remember;
    }
    Ok(crate::templates::run::Plan {
        template,
        values,
        model,
        max_output_tokens: max_out,
        grounding,
    })
}

/// Write the prompt as a new template in the user's folder (`my-template`, `my-template-2`…).
pub(super) fn save_as_template(
    sources: &crate::templates::Sources,
    prompt: &str,
) -> Result<std::path::PathBuf, String> {
    let dir = sources
        .user
        .clone()
        .ok_or_else(|| tr!("app.templates.no_folder").into_owned())?;
    let text = crate::templates::from_prompt("My template", prompt);
    for n in 1..1000 {
        let id = if n == 1 {
            "my-template".to_string()
        } else {
            format!("my-template-{n}")
        };
        if dir.join(format!("{id}.toml")).exists() {
            continue;
        }
        return crate::templates::new_template_file(&dir, &id, &text);
    }
    Err(tr!("app.templates.too_many", dir = dir.display()).into_owned())
}

/// After the editor closed on a new template: say whether it is valid.
pub(super) fn template_edited(path: &std::path::Path, edited: Result<(), String>) -> Msg {
    if let Err(e) = edited {
        return Msg::Failed(
            tr!("app.templates.kept_at", error = e, path = path.display()).into_owned(),
        );
    }
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = path.display().to_string();
    let problems = match crate::templates::read_file(path) {
        Ok(text) => crate::templates::parse_template(&id, &label, &text).1,
        Err(p) => vec![p],
    };
    match problems
        .iter()
        .find(|p| p.severity == crate::templates::Severity::Error)
    {
        Some(p) => Msg::Failed(tr!("app.templates.saved_invalid", problem = p).into_owned()),
        None => Msg::Info(tr!("app.templates.saved", id = &id).into_owned()),
    }
}

/// On the store thread: the run's session (made for the first step), the step's question
/// and its streaming answer row.
fn begin_step(
    s: &mut Store,
    session: Option<i64>,
    title: &str,
    profile: &str,
    model: &str,
    system: Option<String>,
    prompt: String,
) -> Result<(i64, bool, i64, i64), String> {
    let now = now_ms();
    let e = |e: crate::store::StoreError| e.to_string();
    let (sid, created) = match session {
        Some(id) => (id, false),
        None => (
            s.create_session(&NewSession {
                title: title.to_string(),
                profile: profile.to_string(),
                model: model.to_string(),
                system_prompt: system,
                now_ms: now,
            })
            .map_err(e)?,
            true,
        ),
    };
    let user_id = s
        .add_message(&NewMessage {
            session_id: sid,
            role: Role::User,
            content: prompt,
            status: MessageStatus::Complete,
            model: None,
            now_ms: now,
        })
        .map_err(e)?;
    let answer_id = s.add_streaming_answer(sid, model, now).map_err(e)?;
    Ok((sid, created, user_id, answer_id))
}

/// The app around each step of a run: the question saved through the store thread, the
/// answer shown as it streams, the stop switch filed under the run's session.
struct AppSteps {
    store: StoreHandle,
    tx: UnboundedSender<Msg>,
    stops: Stops,
    /// The run's stop switch, filed under its session once the first step made it.
    stop: Option<oneshot::Sender<()>>,
    title: String,
    profile: String,
    models: ModelTable,
    session: Option<i64>,
    sink: AppSink,
    saver: AppSaver,
    of: usize,
    /// A grounded run's passages (the sources of each step's answer).
    grounded: Option<crate::knowledge::ground::Grounded>,
    /// Replace likely secrets in the passages before they are sent.
    scan_secrets: bool,
    /// The policy rule that forbids sending them (then the run stops instead).
    block_secrets: Option<String>,
}

impl Steps for AppSteps {
    async fn begin(&mut self, step: &StepStart<'_>) -> Result<(), String> {
        let (t, p, m, q) = (
            self.title.clone(),
            self.profile.clone(),
            step.model.to_string(),
            step.prompt.to_string(),
        );
        let (session, system) = (self.session, step.system.map(str::to_string));
        let prepared = self
            .store
            .call(move |s| begin_step(s, session, &t, &p, &m, system, q))
            .await
            .ok_or("the history is gone")??;
        let (sid, created, user_id, answer_id) = prepared;
        self.session = Some(sid);
        if let Some(stop) = self.stop.take()
            && let Ok(mut map) = self.stops.lock()
        {
            map.insert(sid, stop);
        }
        self.sink.session_id = sid;
        self.sink.model = step.model.to_string();
        self.saver.answer_id = answer_id;
        let of = step.of;
        let _ = self.tx.send(Msg::StepStarted {
            session_id: sid,
            created,
            label: (of > 1).then(|| {
                tr!(
                    "app.templates.step",
                    n = step.index + 1,
                    of = of,
                    name = &step.name
                )
                .into_owned()
            }),
            prompt: step.prompt.to_string(),
            user_id,
            answer_id,
        });
        Ok(())
    }

    fn sink_and_saver(&mut self) -> (&mut (dyn Sink + Send), &mut (dyn Saver + Send)) {
        (&mut self.sink, &mut self.saver)
    }

    fn price(&self, model: &str) -> Option<ModelInfo> {
        self.models.get(model).cloned()
    }

    fn grounded(&mut self, g: &mut crate::knowledge::ground::Grounded) -> Result<(), String> {
        let mut notes = g.notes.clone();
        if self.scan_secrets {
            let redacted = crate::knowledge::answer::redact_passages(g);
            if let Some(rule) = &self.block_secrets
                && !redacted.is_empty()
            {
                let why = tr!(
                    "app.templates.passages_blocked",
                    n = redacted.len(),
                    rule = rule
                )
                .into_owned();
                let _ = self.tx.send(Msg::RunFailed(why.clone()));
                return Err(why);
            }
            if !redacted.is_empty() {
                notes.push(tr!("app.templates.passages_redacted", n = redacted.len()).into_owned());
            }
        }
        if !notes.is_empty() {
            let _ = self.tx.send(Msg::Info(notes.join(" · ")));
        }
        self.grounded = Some(g.clone());
        Ok(())
    }

    fn ended(&mut self, i: usize, driven: &Driven) {
        // The passages this step's answer cites, kept and shown with it.
        if let (Some(g), Some(a)) = (&self.grounded, driven.end.answer()) {
            let mut record = crate::knowledge::answer::record(g, true);
            crate::knowledge::answer::mark_cited(&mut record, &a.text);
            let (id, kept) = (self.saver.answer_id, record.clone());
            self.store.quiet(move |s| s.set_grounding(id, Some(&kept)));
            self.sink.send(crate::app::StreamEvent::Sources(record));
        }
        let stopped_early =
            !matches!(&driven.end, End::Answered(a) if a.status == AnswerStatus::Complete);
        let copy = Driven {
            end: match &driven.end {
                End::Answered(a) => End::Answered(a.clone()),
                End::Stopped(a) => End::Stopped(a.clone()),
                End::Lost(a) => End::Lost(a.clone()),
                End::Failed(e) => End::Failed(crate::llm::LlmError::Other(e.to_string())),
            },
            cost: driven.cost,
            usage: driven.usage,
            save_error: driven.save_error.clone(),
        };
        report(&self.sink, copy);
        if stopped_early && i + 1 < self.of {
            let _ = self.tx.send(Msg::Info(
                tr!(
                    "app.templates.stopped_at",
                    title = &self.title,
                    n = i + 1,
                    of = self.of
                )
                .into_owned(),
            ));
        }
    }

    fn failed(&mut self, _: usize, e: &RunError) {
        let text = match e {
            RunError::NotFound(words) => tr!(
                "app.templates.not_found",
                title = &self.title,
                words = words
            )
            .into_owned(),
            other => other.to_string(),
        };
        let _ = self.tx.send(Msg::RunFailed(text));
    }
}

/// Everything a run in the app needs from the runtime.
pub(super) struct TemplateJob {
    pub endpoint: Endpoint,
    pub store: StoreHandle,
    pub tx: UnboundedSender<Msg>,
    pub stops: Stops,
    pub library: Arc<Mutex<Option<crate::templates::Library>>>,
    pub sources: crate::templates::Sources,
    pub profile: String,
    pub models: ModelTable,
    pub max_out: Option<u64>,
    pub max_bytes: u64,
    pub bases: Bases,
    pub scan_secrets: bool,
    /// The policy rule that forbids sending likely secrets (`scrub_secrets = "block"`).
    pub block_secrets: Option<String>,
}

/// Run a template in a new session: each step's prompt and answer are saved and streamed
/// like a chat; the run stops at the first step that does not complete, or when the user
/// stops it.
pub(super) async fn run_template(
    job: TemplateJob,
    id: String,
    given: BTreeMap<String, String>,
    model: String,
) {
    let TemplateJob {
        endpoint,
        store,
        tx,
        stops,
        library,
        sources,
        profile,
        models,
        max_out,
        max_bytes,
        bases,
        scan_secrets,
        block_secrets,
    } = job;
    // Files and the library are read off the loop's thread.
    let plan = tokio::task::spawn_blocking(move || {
        with_library(&library, &sources, |lib| {
            plan_for(lib, &id, given, model, max_out, max_bytes, &bases)
        })
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let plan = match plan {
        Ok(p) => p,
        Err(e) => {
            let _ = tx.send(Msg::RunFailed(e));
            return;
        }
    };
    let (stop_tx, stop_rx) = oneshot::channel();
    let mut steps = AppSteps {
        store: store.clone(),
        tx: tx.clone(),
        stops: stops.clone(),
        stop: Some(stop_tx),
        title: plan.template.title.clone(),
        profile,
        models,
        session: None,
        sink: AppSink {
            tx: tx.clone(),
            session_id: 0,
            model: String::new(),
        },
        saver: AppSaver {
            store,
            answer_id: 0,
        },
        of: plan.template.steps.len(),
        grounded: None,
        scan_secrets,
        block_secrets,
    };
    let stop = async move {
        if stop_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    crate::templates::run::run(endpoint, &plan, &mut steps, stop).await;
    if let (Some(sid), Ok(mut map)) = (steps.session, stops.lock()) {
        map.remove(&sid);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const POLICY: &str = "title = \"Policy question\"\nprompt = \"Answer briefly: {{question}}\"\n\n[[variables]]\nname = \"base\"\nkind = \"kb\"\n\n[[variables]]\nname = \"question\"\n";

    #[test]
    fn a_kb_variable_grounds_the_run_on_the_base_chosen_in_the_form() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("policy.toml"), POLICY).unwrap();
        let lib = crate::templates::Library::load(&crate::templates::Sources {
            user: Some(dir.path().to_path_buf()),
            team: Vec::new(),
            builtin: Vec::new(),
        });
        let index = dir.path().join("knowledge.sqlite3");
        let bases = Bases {
            entries: vec![crate::config::KnowledgeEntry::new(
                "handbook",
                vec![dir.path().to_path_buf()],
            )],
            index: Some(index.clone()),
            remember: true,
        };
        let values = |base: &str| {
            BTreeMap::from([
                ("base".to_string(), base.to_string()),
                (
                    "question".to_string(),
                    "What is the hotel limit?".to_string(),
                ),
            ])
        };
        let plan = |base: &str| {
            plan_for(
                &lib,
                "policy",
                values(base),
                "m".into(),
                None,
                1 << 20,
                &bases,
            )
        };
        // Never indexed: said, with what to run.
        let e = plan("handbook").unwrap_err();
        assert!(e.contains("clerk kb index handbook"), "{e}");
        std::fs::write(&index, "").unwrap();
        let p = plan("handbook").unwrap();
        let g = p.grounding.unwrap();
        assert_eq!(g.index, index);
        assert_eq!(g.ask.question, "What is the hotel limit?");
        assert_eq!(g.ask.bases[0].name, "handbook");
        // A base that is not configured is refused before anything runs.
        let e = plan("gone").unwrap_err();
        assert!(e.contains("not a knowledge base"), "{e}");
    }
}
