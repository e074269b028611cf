//! `clerk run ID --var key=value …`: a template or workflow, headless.
//!
//! Progress of each step goes to stderr and the final step's answer to stdout (sanitized
//! on a terminal, exact through a pipe). Each step is saved as it runs, like `clerk ask`:
//! the rendered prompt first, then the answer at least once a second, then its final state.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use serde_json::json;

use super::ask::Terminal;
use super::output::{self, money};
use super::{CliError, Ctx, Exit};
use crate::chat::{Driven, End, Saver, Sink};
use crate::knowledge::ground::Grounded;
use crate::llm::{AnswerStatus, Endpoint};
use crate::secrets::{self, OsKeyring};
use crate::store::{MessageStatus, NewMessage, NewSession, Role, Store};
use crate::templates::run::{Plan, RunError, StepStart, Steps};
use crate::templates::{Library, Template, VarKind};

/// Arguments of `clerk run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Template id (`clerk templates list`)
    pub id: String,
    /// A variable: `name=value`, or `name=@file` to use a file's text (`@@` for a literal @)
    #[arg(long = "var", short = 'v', value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Print one JSON object (every step's answer, usage, cost) instead of streaming
    #[arg(long)]
    pub json: bool,
    /// Do not save this run in the history
    #[arg(long)]
    pub no_save: bool,
    /// Documents: long ones, the cost check and the secret scan.
    #[command(flatten)]
    pub docs: super::docs::DocOptions,
}

fn bad(msg: impl Into<String>) -> CliError {
    CliError::new(Exit::BadInput, msg)
}

/// A file's text for variable `what`: any kind clerk can read (text in any common encoding,
/// PDF, DOCX, XLSX, PPTX, HTML, CSV), up to `max_mb`.
fn read_text(path: &str, what: &str, max_mb: u64) -> Result<String, CliError> {
    let doc = crate::documents::extract::extract_file(
        std::path::Path::new(path),
        max_mb.saturating_mul(1024 * 1024),
    )
    .map_err(|e| bad(tr!("cli.run.for_what", error = e, what = what)))?;
    for note in &doc.notes {
        eprintln!("{}", tr!("cli.run.file_note", path = path, note = note));
    }
    Ok(doc.text)
}

/// `--var` words as given, `@file` read. A `file` variable's value is a path either way
/// (`name=report.pdf` or `name=@report.pdf`): its file is read once, by [`fill`].
pub fn parse_vars(
    t: &Template,
    vars: &[String],
    max_mb: u64,
) -> Result<BTreeMap<String, String>, CliError> {
    let mut out = BTreeMap::new();
    for v in vars {
        let Some((name, value)) = v.split_once('=') else {
            return Err(bad(tr!("cli.run.var_needs_value", var = v)));
        };
        let name = name.trim();
        let is_path = t
            .variables
            .iter()
            .any(|var| var.name == name && var.kind == VarKind::File);
        let value = if let Some(rest) = value.strip_prefix("@@") {
            format!("@{rest}")
        } else if let Some(path) = value.strip_prefix('@') {
            if is_path {
                path.to_string()
            } else {
                read_text(path, name, max_mb)?
            }
        } else {
            value.to_string()
        };
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

/// The path a `file` variable was given, checked to be one: a value of several lines (or
/// of a length no path has) is text, not a path, and is never echoed back.
fn file_path<'v>(name: &str, value: &'v str) -> Result<&'v str, CliError> {
    const MAX_PATH: usize = 4096;
    if value.contains(['\n', '\r']) || value.len() > MAX_PATH {
        return Err(bad(tr!(
            "cli.run.file_variable",
            name = name,
            lines = value.lines().count(),
            bytes = value.len()
        )));
    }
    Ok(value)
}

/// Ask on the terminal for each variable still missing.
fn prompt_for_missing(t: &Template, given: &mut BTreeMap<String, String>) -> Result<(), CliError> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    for v in &t.variables {
        if !v.required || v.default.is_some() || given.contains_key(&v.name) {
            continue;
        }
        let help = v
            .help
            .as_deref()
            .map(|h| format!(" — {h}"))
            .unwrap_or_default();
        let multi = matches!(v.kind, VarKind::Multiline | VarKind::Document);
        let options = if v.options.is_empty() {
            String::new()
        } else {
            format!(" [{}]", v.options.join(" | "))
        };
        eprint!(
            "{}{options}{help}{}: ",
            v.label,
            if multi {
                tr!("cli.run.end_with_empty_line")
            } else {
                "".into()
            }
        );
        let _ = std::io::stderr().flush();
        let mut value = String::new();
        for line in lines.by_ref() {
            let line = line.map_err(|e| bad(tr!("cli.run.cannot_read_terminal", error = e)))?;
            if !multi {
                value = line;
                break;
            }
            if line.is_empty() {
                break;
            }
            if !value.is_empty() {
                value.push('\n');
            }
            value.push_str(&line);
        }
        given.insert(v.name.clone(), value);
    }
    Ok(())
}

/// Fill variables: `--var`, piped stdin for one document variable, files read, defaults,
/// then a prompt on a terminal or an error listing what is missing.
pub fn fill(
    t: &Template,
    mut given: BTreeMap<String, String>,
    stdin_text: Option<String>,
    interactive: bool,
    max_mb: u64,
) -> Result<BTreeMap<String, String>, CliError> {
    if let Some(text) = stdin_text {
        match t
            .variables
            .iter()
            .find(|v| v.kind == VarKind::Document && !given.contains_key(&v.name))
        {
            Some(v) => {
                given.insert(v.name.clone(), text);
            }
            None => {
                return Err(bad(tr!("cli.run.piped_without_document", id = t.id)));
            }
        }
    }
    if interactive {
        prompt_for_missing(t, &mut given)?;
    }
    let mut values = crate::templates::check_values(t, &given).map_err(|problems| {
        bad(tr!(
            "cli.run.cannot_run_yet",
            id = t.id,
            problems = problems.join("\n  ")
        ))
    })?;
    for v in t.variables.iter().filter(|v| v.kind == VarKind::File) {
        if let Some(path) = values.get(&v.name).filter(|p| !p.is_empty()).cloned() {
            let text = read_text(file_path(&v.name, &path)?, &v.name, max_mb)?;
            values.insert(v.name.clone(), text);
        }
    }
    Ok(values)
}

/// The profile a template runs with: `--profile`, else the template's, else the config's.
fn profile_of(ctx: &Ctx, template: &crate::templates::Template) -> String {
    match (&template.profile, ctx.profile_given) {
        (Some(p), false) => p.clone(),
        _ => ctx.profile_name.clone(),
    }
}

/// The admin's policy on a run, before any value is read or anything sent (exit 2): its
/// profile's endpoint, and every model its steps ask (`--model`, else each step's, else
/// the template's, else the profile's).
fn allowed(ctx: &Ctx, template: &crate::templates::Template) -> Result<(), CliError> {
    let Ok(profile) = ctx.config.profile(&profile_of(ctx, template)) else {
        // Said, with what to do, where the profile is used.
        return Ok(());
    };
    let policy = &ctx.config.policy;
    let used = ctx.base_url.as_deref().unwrap_or(&profile.base_url);
    policy
        .check_endpoint(&profile.base_url, used)
        .map_err(crate::config::ConfigError::from)?;
    let base = ctx
        .model_override
        .as_deref()
        .or(template.model.as_deref())
        .unwrap_or(&profile.model);
    let steps = template.steps.iter().filter_map(|s| s.model.as_deref());
    let models: Vec<&str> = match ctx.model_override {
        Some(_) => vec![base],
        None => std::iter::once(base).chain(steps).collect(),
    };
    for m in models {
        policy
            .check_request_model(&profile.model, m)
            .map_err(crate::config::ConfigError::from)?;
    }
    Ok(())
}

/// Run `clerk run`.
pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<Exit, CliError> {
    let lib = Library::load(&super::templates_cmd::sources(ctx));
    let entry = super::templates_cmd::find(&lib, &args.id)?;
    let Some(template) = entry.template.clone() else {
        let problems: Vec<String> = entry.problems.iter().map(|p| p.to_string()).collect();
        return Err(bad(tr!(
            "cli.run.broken",
            id = args.id,
            problems = problems.join("\n  ")
        )));
    };
    allowed(ctx, &template)?;
    let max_mb = ctx.config.file.documents.max_file_mb;
    let given = parse_vars(&template, &args.vars, max_mb)?;
    let piped = super::ask::read_stdin_document(
        ctx.config
            .file
            .documents
            .max_file_mb
            .saturating_mul(1024 * 1024),
    )?;
    let interactive = piped.is_none() && std::io::stdin().is_terminal() && output::stderr_is_tty();
    let mut values = fill(&template, given, piped, interactive, max_mb)?;
    {
        let mut texts: Vec<(&str, &mut String)> =
            values.iter_mut().map(|(k, v)| (k.as_str(), v)).collect();
        super::docs::check_secrets(&mut texts, args.docs.secrets, &ctx.config)?;
    }
    let grounded_run = template
        .variables
        .iter()
        .any(|v| v.kind == VarKind::Kb && values.get(&v.name).is_some_and(|x| !x.is_empty()));
    // A grounded run sends passages, not a long document read in parts.
    if !grounded_run && let Some(var) = too_long_document(ctx, &template, &values)? {
        return run_in_parts(ctx, args, &template, values, &var);
    }

    let profile_name = profile_of(ctx, &template);
    let profile = ctx
        .config
        .profile(&profile_name)
        .cloned()
        .map_err(|e| bad(tr!("cli.run.profile", id = template.id, error = e)))?;
    let model = ctx
        .model_override
        .clone()
        .unwrap_or_else(|| profile.model.clone());
    // --model beats the template's model; the template's beats the profile's.
    let mut template = template;
    if ctx.model_override.is_some() {
        template.model = None;
        for s in &mut template.steps {
            s.model = None;
        }
    }
    let grounding = crate::templates::run::grounding(
        &template,
        &values,
        &ctx.config.file.knowledge,
        ctx.paths.knowledge_index(),
        &model,
    )
    .map_err(bad)?;
    let mut grounding = grounding;
    if let Some(g) = &mut grounding {
        g.indexed()?;
        g.ask.remember = !args.no_save && ctx.config.file.history.enabled;
    }
    let plan = Plan {
        template,
        values,
        model,
        max_output_tokens: profile.max_output_tokens,
        grounding,
    };
    let (key, _) = secrets::resolve(
        &secrets::KeyFor::profile(&profile_name, &profile, ctx.base_url.as_deref()),
        &secrets::process_env,
        &OsKeyring,
    )?;
    let endpoint = ctx.metered(ctx.endpoint(&profile, &key)?.warming())?;
    drop(key);
    let save = !args.no_save && ctx.config.file.history.enabled;
    let store = if save { Some(ctx.open_store()?) } else { None };
    let rt = super::runtime()?;
    let outcome = rt.block_on(drive(
        ctx,
        &profile_name,
        endpoint,
        plan,
        store,
        args.json,
        args.docs.secrets,
    ));
    Ok(outcome)
}

/// A single-prompt template's document variable whose value makes the prompt longer than
/// the model's window (a workflow is never split: its steps depend on each other).
fn too_long_document(
    ctx: &Ctx,
    t: &Template,
    values: &BTreeMap<String, String>,
) -> Result<Option<String>, CliError> {
    if t.steps.len() != 1 {
        return Ok(None);
    }
    let Some(var) = t
        .variables
        .iter()
        .filter(|v| matches!(v.kind, VarKind::Document | VarKind::File))
        .max_by_key(|v| values.get(&v.name).map_or(0, String::len))
    else {
        return Ok(None);
    };
    let model = ctx
        .model_override
        .clone()
        .or_else(|| t.model.clone())
        .map_or_else(|| ctx.model(), Ok)?;
    let info = ctx.config.models.get(&model).cloned().unwrap_or_default();
    let settings = crate::documents::summarize::Settings::for_model(
        &ctx.config.file.documents,
        &info,
        t.max_output_tokens.map(u64::from),
    );
    let (Some(room), Some(value)) = (settings.room(), values.get(&var.name)) else {
        return Ok(None);
    };
    // A token is at least one byte: shorter values fit without counting.
    if (value.len() as u64) < room / 2 {
        return Ok(None);
    }
    let prompt = crate::templates::render_step(t, 0, values, &BTreeMap::new())
        .map_err(|e| bad(e.to_string()))?;
    let tokens = crate::llm::context::count_tokens(&prompt)
        + t.system
            .as_deref()
            .map_or(0, crate::llm::context::count_tokens);
    Ok((tokens > room).then(|| var.name.clone()))
}

/// Run a single-prompt template whose document is too long, reading it in parts (like
/// `clerk summarize`).
fn run_in_parts(
    ctx: &Ctx,
    args: &RunArgs,
    t: &Template,
    mut values: BTreeMap<String, String>,
    var: &str,
) -> Result<Exit, CliError> {
    let text = values
        .insert(var.to_string(), String::new())
        .unwrap_or_default();
    let source = super::ask::Source::pasted(var, text);
    let prompt = super::summarize_cmd::template_prompt(t, values, var, vec![source], &t.title)?;
    let mut docs = args.docs.clone();
    // The values were scanned above.
    docs.secrets = super::docs::SecretsMode::Send;
    super::ask::send(
        ctx,
        &super::ask::Sending {
            session: None,
            json: args.json,
            no_save: args.no_save,
            docs,
        },
        prompt,
    )
}

/// One step's row in the store while it runs (nothing when the history is off).
struct StepSaver {
    store: Option<Store>,
    session_id: Option<i64>,
    answer_id: Option<i64>,
}

impl StepSaver {
    fn begin(&mut self, title: &str, profile: &str, step: &StepStart<'_>) -> Result<(), String> {
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        let now = output::now_ms();
        let e = |e: crate::store::StoreError| e.to_string();
        let sid = match self.session_id {
            Some(id) => id,
            None => {
                let id = store
                    .create_session(&NewSession {
                        title: title.to_string(),
                        profile: profile.to_string(),
                        model: step.model.to_string(),
                        system_prompt: step.system.map(str::to_string),
                        now_ms: now,
                    })
                    .map_err(e)?;
                self.session_id = Some(id);
                id
            }
        };
        store
            .add_message(&NewMessage {
                session_id: sid,
                role: Role::User,
                content: step.prompt.to_string(),
                status: MessageStatus::Complete,
                model: None,
                now_ms: now,
            })
            .map_err(e)?;
        self.answer_id = Some(
            store
                .add_streaming_answer(sid, step.model, now)
                .map_err(e)?,
        );
        Ok(())
    }
}

impl Saver for StepSaver {
    fn partial(&mut self, text: &str) -> Result<(), String> {
        match (self.store.as_mut(), self.answer_id) {
            (Some(store), Some(id)) => store.update_partial(id, text).map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    fn finish(&mut self, record: &crate::store::MessageFinish) -> Result<(), String> {
        match (self.store.as_mut(), self.answer_id.take()) {
            (Some(store), Some(id)) => store.finish_message(id, record).map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }
}

/// The command line around each step: progress on stderr, the last step's answer on
/// stdout, every step saved, a JSON record of each.
struct CliSteps<'c> {
    ctx: &'c Ctx,
    profile: String,
    title: String,
    of: usize,
    workflow: bool,
    json: bool,
    err_tty: bool,
    sink: Terminal,
    saver: StepSaver,
    model: String,
    steps_json: Vec<serde_json::Value>,
    save_error: Option<String>,
    failed: Option<(Exit, String)>,
    stopped_at: Option<usize>,
    last_status: AnswerStatus,
    total_cost: Option<f64>,
    /// What to do with likely secrets in the passages of a grounded run.
    secrets: super::docs::SecretsMode,
    /// The passages of a grounded run.
    grounded: Option<Grounded>,
    /// A grounded run's "not found in the procedures": nothing was sent.
    not_found: Option<String>,
}

impl Steps for CliSteps<'_> {
    async fn begin(&mut self, step: &StepStart<'_>) -> Result<(), String> {
        self.model = step.model.to_string();
        // Only the last step's answer goes to stdout.
        self.sink = Terminal::new(self.json || step.index + 1 < self.of);
        if self.workflow {
            eprintln!(
                "{}",
                tr!(
                    "cli.run.step_started",
                    n = step.index + 1,
                    of = self.of,
                    name = step.name,
                    model = step.model
                )
            );
        }
        if let Err(e) = self.saver.begin(&self.title, &self.profile, step) {
            // Shown but not kept: said at the end, the run goes on.
            self.save_error.get_or_insert(e);
        }
        Ok(())
    }

    fn sink_and_saver(&mut self) -> (&mut (dyn Sink + Send), &mut (dyn Saver + Send)) {
        (&mut self.sink, &mut self.saver)
    }

    fn price(&self, model: &str) -> Option<crate::config::ModelInfo> {
        self.ctx.config.models.get(model).cloned()
    }

    fn ended(&mut self, i: usize, driven: &Driven) {
        self.sink.end_line();
        if let Some(e) = &driven.save_error {
            self.save_error.get_or_insert(e.clone());
        }
        let of = self.of;
        let answer = match &driven.end {
            End::Answered(a) => a,
            End::Failed(e) => {
                self.failed = Some((
                    super::llm_exit(e),
                    tr!("cli.run.step_failed", n = i + 1, of = of, error = e).into_owned(),
                ));
                return;
            }
            End::Stopped(_) => {
                self.stopped_at = Some(i);
                return;
            }
            End::Lost(a) => {
                self.failed = Some((
                    Exit::Failure,
                    tr!(
                        "cli.run.step_failed",
                        n = i + 1,
                        of = of,
                        error = crate::chat::record::shown_reason(
                            a.reason.as_deref().unwrap_or_default()
                        )
                    )
                    .into_owned(),
                ));
                return;
            }
        };
        let cost = driven.cost;
        if let Some(c) = cost {
            *self.total_cost.get_or_insert(0.0) += c;
        }
        // Every step ends with its status line, the last one too (its answer is on stdout).
        if self.workflow {
            let tokens = answer
                .usage
                .map(|u| {
                    tr!("cli.run.step_tokens", input = u.input, output = u.output).into_owned()
                })
                .unwrap_or_default();
            eprintln!(
                "  {} · {tokens} · {} · {:.1} s",
                answer.status.as_str(),
                money(cost),
                answer.duration.as_secs_f64()
            );
        }
        self.last_status = answer.status;
        if let Some(g) = &self.grounded
            && !self.json
            && i + 1 == of
        {
            super::report::print_sources(g, &answer.text);
        }
        let citations = self.grounded.as_ref().map(|g| g.citations(&answer.text));
        self.steps_json.push(json!({
            "citations": citations,
            "step": i + 1,
            "answer": answer.text,
            "status": answer.status.as_str(),
            "reason": answer.reason,
            "model": answer.model.clone().unwrap_or_else(|| self.model.clone()),
            "usage": answer.usage.map(|u| json!({"input_tokens": u.input, "cached_tokens": u.cached, "output_tokens": u.output})),
            "cost_usd": cost,
        }));
        if answer.status != AnswerStatus::Complete {
            self.failed = Some((
                Exit::Incomplete,
                tr!(
                    "cli.run.step_ended",
                    n = i + 1,
                    of = of,
                    status = answer.status.as_str(),
                    reason = crate::chat::record::shown_reason(
                        answer.reason.as_deref().unwrap_or_default()
                    )
                )
                .into_owned(),
            ));
        }
    }

    fn grounded(&mut self, g: &mut Grounded) -> Result<(), String> {
        for note in &g.notes {
            eprintln!("{}", tr!("cli.note", text = note));
        }
        // The passages leave the machine inside each step: scanned like documents.
        let names: Vec<String> = (1..=g.hits().len())
            .map(|n| tr!("cli.run.passage", n = n).into_owned())
            .collect();
        let mut texts: Vec<(&str, &mut String)> = names
            .iter()
            .map(String::as_str)
            .zip(g.retrieval.hits.iter_mut().map(|h| &mut h.text))
            .collect();
        if let Err(e) = super::docs::check_secrets(&mut texts, self.secrets, &self.ctx.config) {
            self.failed = Some((e.exit, e.message.clone()));
            return Err(e.message);
        }
        self.grounded = Some(g.clone());
        Ok(())
    }

    fn failed(&mut self, i: usize, e: &RunError) {
        let exit = match e {
            RunError::Render { .. } | RunError::Knowledge(_) => Exit::BadInput,
            RunError::Save(_) => Exit::Failure,
            RunError::NotFound(text) => {
                self.not_found = Some(text.clone());
                return;
            }
        };
        self.failed = Some((
            exit,
            tr!("cli.run.step_failed", n = i + 1, of = self.of, error = e).into_owned(),
        ));
    }
}

async fn drive(
    ctx: &Ctx,
    profile: &str,
    endpoint: Endpoint,
    plan: Plan,
    store: Option<Store>,
    json: bool,
    secrets: super::docs::SecretsMode,
) -> Exit {
    let of = plan.template.steps.len();
    let title = plan.template.title.clone();
    let mut steps = CliSteps {
        ctx,
        profile: profile.to_string(),
        title: title.clone(),
        of,
        workflow: plan.template.is_workflow(),
        json,
        err_tty: output::stderr_is_tty(),
        sink: Terminal::new(true),
        saver: StepSaver {
            store,
            session_id: None,
            answer_id: None,
        },
        model: String::new(),
        steps_json: Vec::new(),
        save_error: None,
        failed: None,
        stopped_at: None,
        last_status: AnswerStatus::Complete,
        total_cost: None,
        secrets,
        grounded: None,
        not_found: None,
    };
    let stop = async {
        super::ask::terminate_signal().await;
    };
    crate::templates::run::run(endpoint, &plan, &mut steps, stop).await;
    if let Some(at) = steps.stopped_at {
        eprintln!("{}", tr!("cli.run.stopped", n = at + 1, of = of));
        return Exit::Interrupted;
    }
    if let Some(text) = steps.not_found.take() {
        return not_found(ctx, &title, &text, steps.grounded.as_ref(), json);
    }
    let session_id = steps.saver.session_id;
    if json {
        let result = steps
            .steps_json
            .last()
            .and_then(|s| s.get("answer").cloned());
        let v = json!({
            "template": title,
            "session_id": session_id,
            "status": if steps.failed.is_some() { "failed" } else { steps.last_status.as_str() },
            "error": steps.failed.as_ref().map(|(_, m)| m.clone()),
            "result": result,
            "steps": steps.steps_json,
            "cost_usd": steps.total_cost,
        });
        let last = steps
            .steps_json
            .last()
            .and_then(|s| s.get("answer"))
            .and_then(|a| a.as_str())
            .unwrap_or_default()
            .to_string();
        let v = super::report::with_grounding(v, ctx, steps.grounded.as_ref(), &last);
        println!("{v}");
    }
    if let Some(e) = steps.save_error {
        eprintln!("clerk: {}", tr!("cli.run.not_saved", error = e));
        return Exit::Failure;
    }
    match steps.failed {
        Some((exit, msg)) => {
            eprintln!("clerk: {}", crate::llm::sanitize::sanitize(&msg));
            exit
        }
        None => {
            if steps.err_tty && !json {
                let summary = tr!(
                    "cli.run.summary",
                    title = title,
                    steps = of,
                    cost = money(steps.total_cost)
                );
                let session = session_id
                    .map(|s| tr!("cli.run.session", id = s))
                    .unwrap_or_default();
                eprintln!("\x1b[2m{summary}{session}\x1b[0m");
            }
            Exit::Ok
        }
    }
}

/// A grounded run whose passages do not answer what was asked: nothing was sent. Says so
/// (in the question's language), lists the closest passages, exit 0.
fn not_found(ctx: &Ctx, title: &str, text: &str, g: Option<&Grounded>, json: bool) -> Exit {
    if json {
        let mut v = json!({
            "template": title, "session_id": null, "status": "not_found", "error": null,
            "result": text, "steps": [], "cost_usd": null, "found": false, "citations": [],
        });
        if let (Some(g), Some(map)) = (g, v.as_object_mut()) {
            map.extend(super::report::grounding_json(ctx, g));
        }
        println!("{v}");
        return Exit::Ok;
    }
    match g {
        Some(g) => super::report::print_not_found(g),
        None => println!("{text}"),
    }
    Exit::Ok
}
