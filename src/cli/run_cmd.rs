//! `clerk run ID --var key=value …`: a template or workflow, headless.
//!
//! Progress of each step goes to stderr and the final step's answer to stdout (sanitized
//! on a terminal, exact through a pipe). Each step is saved as it runs, like `clerk ask`:
//! the rendered prompt first, then the answer at least once a second, then its final state.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::output::{self, money};
use super::{CliError, Ctx, Exit};
use crate::llm::sanitize::Sanitizer;
use crate::llm::{Answer, AnswerStatus, Endpoint, EngineEvent};
use crate::secrets::{self, OsKeyring};
use crate::store::{MessageFinish, MessageStatus, NewMessage, NewSession, Role, Store, Usage};
use crate::templates::run::{Plan, RunEvent};
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
/// PDF, DOCX, HTML, CSV), up to `max_mb`.
fn read_text(path: &str, what: &str, max_mb: u64) -> Result<String, CliError> {
    let doc = crate::documents::extract::extract_file(
        std::path::Path::new(path),
        max_mb.saturating_mul(1024 * 1024),
    )
    .map_err(|e| bad(format!("{e} (for `{what}`)")))?;
    for note in &doc.notes {
        eprintln!("note: {path}: {note}");
    }
    Ok(doc.text)
}

/// `--var` words as given, `@file` read.
pub fn parse_vars(vars: &[String], max_mb: u64) -> Result<BTreeMap<String, String>, CliError> {
    let mut out = BTreeMap::new();
    for v in vars {
        let Some((name, value)) = v.split_once('=') else {
            return Err(bad(format!(
                "`--var {v}` needs a name and a value: --var name=value (or name=@file)"
            )));
        };
        let value = if let Some(rest) = value.strip_prefix("@@") {
            format!("@{rest}")
        } else if let Some(path) = value.strip_prefix('@') {
            read_text(path, name, max_mb)?
        } else {
            value.to_string()
        };
        out.insert(name.trim().to_string(), value);
    }
    Ok(out)
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
                " (end with an empty line)"
            } else {
                ""
            }
        );
        let _ = std::io::stderr().flush();
        let mut value = String::new();
        for line in lines.by_ref() {
            let line = line.map_err(|e| bad(format!("cannot read the terminal: {e}")))?;
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
                return Err(bad(format!(
                    "standard input was piped, but template `{}` has no document variable left to fill",
                    t.id
                )));
            }
        }
    }
    if interactive {
        prompt_for_missing(t, &mut given)?;
    }
    let mut values = crate::templates::check_values(t, &given).map_err(|problems| {
        bad(format!(
            "template `{}` cannot run yet:\n  {}\nGive values with --var name=value (or name=@file).",
            t.id,
            problems.join("\n  ")
        ))
    })?;
    for v in t.variables.iter().filter(|v| v.kind == VarKind::File) {
        if let Some(path) = values.get(&v.name).filter(|p| !p.is_empty()).cloned() {
            values.insert(v.name.clone(), read_text(&path, &v.name, max_mb)?);
        }
    }
    Ok(values)
}

/// Run `clerk run`.
pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<Exit, CliError> {
    let lib = Library::load(&super::templates_cmd::sources(ctx));
    let entry = super::templates_cmd::find(&lib, &args.id)?;
    let Some(template) = entry.template.clone() else {
        let problems: Vec<String> = entry.problems.iter().map(|p| p.to_string()).collect();
        return Err(bad(format!(
            "template `{}` is broken and cannot run until fixed:\n  {}",
            args.id,
            problems.join("\n  ")
        )));
    };
    let max_mb = ctx.config.file.documents.max_file_mb;
    let given = parse_vars(&args.vars, max_mb)?;
    let piped = super::ask::read_stdin_document()?;
    let interactive = piped.is_none() && std::io::stdin().is_terminal() && output::stderr_is_tty();
    let mut values = fill(&template, given, piped, interactive, max_mb)?;
    {
        let mut texts: Vec<(&str, &mut String)> =
            values.iter_mut().map(|(k, v)| (k.as_str(), v)).collect();
        super::docs::check_secrets(&mut texts, args.docs.secrets, &ctx.config.file.documents)?;
    }
    if let Some(var) = too_long_document(ctx, &template, &values)? {
        return run_in_parts(ctx, args, &template, values, &var);
    }

    let profile_name = match (&template.profile, ctx.profile_given) {
        (Some(p), false) => p.clone(),
        _ => ctx.profile_name.clone(),
    };
    let profile = ctx.config.profile(&profile_name).cloned().map_err(|e| {
        bad(format!(
            "template `{}` asks for a profile: {e}",
            template.id
        ))
    })?;
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
    let plan = Plan {
        template,
        values,
        model,
        max_output_tokens: profile.max_output_tokens,
    };
    let (key, _) = secrets::resolve(
        &profile_name,
        profile.api_key_cmd.as_deref(),
        &secrets::process_env,
        &OsKeyring,
    )?;
    let endpoint = Endpoint::new(&profile, &key, ctx.base_url.as_deref())?;
    drop(key);
    let save = !args.no_save && ctx.config.file.history.enabled;
    let store = if save { Some(ctx.open_store()?) } else { None };
    let rt = super::runtime()?;
    let outcome = rt.block_on(drive(ctx, &profile_name, endpoint, plan, store, args.json));
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

/// One step's row in the store while it runs.
struct Saving {
    store: Store,
    session_id: Option<i64>,
    answer_id: Option<i64>,
}

impl Saving {
    fn begin(
        &mut self,
        title: &str,
        profile: &str,
        model: &str,
        system: Option<&str>,
        prompt: &str,
    ) -> Result<(), String> {
        let now = output::now_ms();
        let e = |e: crate::store::StoreError| e.to_string();
        let sid = match self.session_id {
            Some(id) => id,
            None => {
                let id = self
                    .store
                    .create_session(&NewSession {
                        title: title.to_string(),
                        profile: profile.to_string(),
                        model: model.to_string(),
                        system_prompt: system.map(str::to_string),
                        now_ms: now,
                    })
                    .map_err(e)?;
                self.session_id = Some(id);
                id
            }
        };
        self.store
            .add_message(&NewMessage {
                session_id: sid,
                role: Role::User,
                content: prompt.to_string(),
                status: MessageStatus::Complete,
                model: None,
                now_ms: now,
            })
            .map_err(e)?;
        self.answer_id = Some(
            self.store
                .add_streaming_answer(sid, model, now)
                .map_err(e)?,
        );
        Ok(())
    }

    fn finish(
        &mut self,
        text: &str,
        status: MessageStatus,
        error: Option<String>,
        answer: Option<&Answer>,
        cost: Option<f64>,
    ) -> Result<(), String> {
        let Some(id) = self.answer_id.take() else {
            return Ok(());
        };
        let usage = answer
            .and_then(|a| a.usage)
            .map(|u| Usage {
                tokens_in: Some(u.input),
                tokens_cached: Some(u.cached),
                tokens_out: Some(u.output),
            })
            .unwrap_or_default();
        self.store
            .finish_message(
                id,
                &MessageFinish {
                    content: text.to_string(),
                    status,
                    error,
                    usage,
                    cost_usd: cost,
                    ttft_ms: answer.and_then(|a| a.ttft).map(|d| d.as_millis() as u64),
                    duration_ms: answer.map(|a| a.duration.as_millis() as u64),
                    now_ms: output::now_ms(),
                },
            )
            .map_err(|e| e.to_string())
    }
}

async fn drive(
    ctx: &Ctx,
    profile: &str,
    endpoint: Endpoint,
    plan: Plan,
    store: Option<Store>,
    json: bool,
) -> Exit {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let of = plan.template.steps.len();
    let title = plan.template.title.clone();
    let workflow = plan.template.is_workflow();
    let task = tokio::spawn(crate::templates::run::run(endpoint, plan, tx));
    let mut saving = store.map(|store| Saving {
        store,
        session_id: None,
        answer_id: None,
    });
    let tty = output::stdout_is_tty();
    let err_tty = output::stderr_is_tty();
    let mut sanitizer = Sanitizer::new();
    let mut shown = String::new();
    let mut text = String::new();
    let mut current = 0usize;
    let mut model = String::new();
    let mut steps_json = Vec::new();
    let mut save_error: Option<String> = None;
    let mut failed: Option<(Exit, String)> = None;
    let mut last_status = AnswerStatus::Complete;
    let mut total_cost: Option<f64> = None;
    let mut dirty = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut stdout = std::io::stdout().lock();
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(RunEvent::Step { index, name, model: m, prompt, system, .. }) => {
                    current = index;
                    model = m;
                    text.clear();
                    if workflow {
                        eprintln!("▸ step {}/{of} {name} ({model})…", index + 1);
                    }
                    if let Some(s) = saving.as_mut()
                        && let Err(e) = s.begin(&title, profile, &model, system.as_deref(), &prompt)
                    {
                        save_error.get_or_insert(e);
                    }
                }
                Some(RunEvent::Engine(i, EngineEvent::Delta(d))) => {
                    text.push_str(&d);
                    dirty = true;
                    if !json && i + 1 == of {
                        let out = if tty { shown.clear(); sanitizer.push_into(&d, &mut shown); shown.as_str() } else { d.as_str() };
                        let _ = stdout.write_all(out.as_bytes());
                        let _ = stdout.flush();
                    }
                }
                Some(RunEvent::Engine(_, EngineEvent::Retrying(n))) => {
                    eprintln!("{}, retrying in {} (retry {} of {})…", n.reason, crate::llm::error::human_duration(n.wait), n.retry, n.of);
                }
                Some(RunEvent::Engine(..)) => {}
                Some(RunEvent::StepDone(i, answer)) => {
                    let info = ctx.config.models.get(&model);
                    let cost = answer.usage.and_then(|u| info.and_then(|p| p.cost(u.input, u.cached, u.output)));
                    if let Some(c) = cost {
                        *total_cost.get_or_insert(0.0) += c;
                    }
                    if let Some(s) = saving.as_mut()
                        && let Err(e) = s.finish(&answer.text, MessageStatus::from(answer.status), answer.reason.clone(), Some(&answer), cost)
                    {
                        save_error.get_or_insert(e);
                    }
                    if !json && i + 1 == of && !answer.text.is_empty() && !answer.text.ends_with('\n') {
                        let _ = stdout.write_all(b"\n");
                        let _ = stdout.flush();
                    }
                    if workflow && (err_tty || i + 1 < of) {
                        let tokens = answer.usage.map(|u| format!("{} → {} tokens", u.input, u.output)).unwrap_or_default();
                        eprintln!("  {} · {tokens} · {} · {:.1} s", answer.status.as_str(), money(cost), answer.duration.as_secs_f64());
                    }
                    last_status = answer.status;
                    steps_json.push(json!({
                        "step": i + 1,
                        "answer": answer.text,
                        "status": answer.status.as_str(),
                        "reason": answer.reason,
                        "model": answer.model.clone().unwrap_or_else(|| model.clone()),
                        "usage": answer.usage.map(|u| json!({"input_tokens": u.input, "cached_tokens": u.cached, "output_tokens": u.output})),
                        "cost_usd": cost,
                    }));
                    if answer.status != AnswerStatus::Complete {
                        failed = Some((Exit::Incomplete, format!(
                            "step {} of {of} ended {}: {}",
                            i + 1,
                            answer.status.as_str(),
                            answer.reason.clone().unwrap_or_default()
                        )));
                    }
                }
                Some(RunEvent::Failed(i, e)) => {
                    if let Some(s) = saving.as_mut() {
                        let _ = s.finish(&text, MessageStatus::Error, Some(e.to_string()), None, None);
                    }
                    let exit = match e {
                        crate::templates::run::RunError::Llm(ref l) => super::llm_exit(l),
                        crate::templates::run::RunError::Render { .. } => Exit::BadInput,
                    };
                    failed = Some((exit, format!("step {} of {of}: {e}", i + 1)));
                }
                None => break,
            },
            _ = tick.tick() => {
                if let Some(s) = saving.as_mut()
                    && dirty
                    && let Some(id) = s.answer_id
                    && let Err(e) = s.store.update_partial(id, &text)
                {
                    save_error.get_or_insert(e.to_string());
                }
                dirty = false;
            }
            _ = &mut stop => {
                task.abort();
                if let Some(s) = saving.as_mut() {
                    let _ = s.finish(&text, MessageStatus::Interrupted, Some("stopped by you".to_string()), None, None);
                }
                if !json && !text.is_empty() && current + 1 == of {
                    let _ = stdout.write_all(b"\n");
                }
                eprintln!("stopped at step {} of {of}; what arrived is saved", current + 1);
                return Exit::Interrupted;
            }
        }
    }
    let session_id = saving.as_ref().and_then(|s| s.session_id);
    if json {
        let result = steps_json.last().and_then(|s| s.get("answer").cloned());
        let v = json!({
            "template": title,
            "session_id": session_id,
            "status": if failed.is_some() { "failed" } else { last_status.as_str() },
            "error": failed.as_ref().map(|(_, m)| m.clone()),
            "result": result,
            "steps": steps_json,
            "cost_usd": total_cost,
        });
        println!("{v}");
    }
    if let Some(e) = save_error {
        eprintln!("clerk: the run was shown but could not be saved: {e}");
        return Exit::Failure;
    }
    match failed {
        Some((exit, msg)) => {
            eprintln!("clerk: {}", crate::llm::sanitize::sanitize(&msg));
            exit
        }
        None => {
            if err_tty && !json {
                eprintln!(
                    "\x1b[2m{title} · {} step(s) · {}{}\x1b[0m",
                    of,
                    money(total_cost),
                    session_id
                        .map(|s| format!(" · session {s}"))
                        .unwrap_or_default()
                );
            }
            Exit::Ok
        }
    }
}
