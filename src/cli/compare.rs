//! `clerk compare --models A,B PROMPT`: the same conversation sent to each model several
//! times, interleaved; a table of times, tokens and costs on stdout (or `--json`), a
//! Markdown report with `-o FILE`, and, with `--judge MODEL`, a judge's verdicts.
//!
//! This file turns arguments into a [`Plan`] (the prompt, attached files, or a saved
//! template with its variables, as `clerk ask` and `clerk run` read them), shows progress
//! on stderr and prints the results; running, measuring, judging and rendering are
//! [`crate::compare`]'s. Nothing is saved in the history; every request is in the usage
//! ledger (kinds `compare` and `judge`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::docs::{self, DocOptions};
use super::output::{self, money};
use super::{CliError, Ctx, Exit};
use crate::chat::record;
use crate::compare::run::{Plan, Progress, Ran};
use crate::compare::{Comparison, Sample, Settings, Stopped};
use crate::documents::summarize::{self, compose, documents_text};
use crate::llm::{ChatMessage, ChatRole, RetryNotice};
use crate::secrets::{self, OsKeyring};
use crate::templates::{Library, VarKind};

/// Arguments of `clerk compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The prompt (words are joined with spaces). Piped stdin is added as a document (or fills
    /// the template's document variable)
    pub prompt: Vec<String>,
    /// The models to compare, separated by commas (2 to 4)
    #[arg(long, value_delimiter = ',', required = true, value_name = "A,B[,C,D]")]
    pub models: Vec<String>,
    /// How many times each model is asked; runs are interleaved (run 1 of each model, then
    /// run 2, …)
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=20))]
    pub runs: u16,
    /// Print one JSON object instead of the table (docs/compare.md describes it)
    #[arg(long)]
    pub json: bool,
    /// Also write a Markdown report: the prompt, the figures, every answer, the judge's
    /// verdicts and the settings
    #[arg(long = "output", short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Ask this model to judge each pair of answers, in both orders (its verdict is an
    /// opinion)
    #[arg(long, value_name = "MODEL")]
    pub judge: Option<String>,
    /// Attach a file, as `clerk ask --file` does; repeat for more
    #[arg(long = "file", short = 'f', value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Compare on a saved single-prompt template instead of a prompt (`clerk templates list`)
    #[arg(long, value_name = "NAME", conflicts_with = "prompt")]
    pub template: Option<String>,
    /// A template variable: `name=value`, or `name=@file` to use a file's text
    #[arg(
        long = "var",
        short = 'v',
        value_name = "NAME=VALUE",
        requires = "template"
    )]
    pub vars: Vec<String>,
    /// System prompt (instructions) sent with the prompt
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Documents: the cost check and the secret scan.
    #[command(flatten)]
    pub docs: DocOptions,
}

fn bad(msg: impl Into<String>) -> CliError {
    CliError::new(Exit::BadInput, msg)
}

/// The most models one comparison takes (the table stays readable).
const MAX_MODELS: usize = 4;

/// `--models` as given: trimmed, none empty, none twice, 2 to 4.
fn models(given: &[String]) -> Result<Vec<String>, CliError> {
    let models: Vec<String> = given.iter().map(|m| m.trim().to_string()).collect();
    if models.iter().any(String::is_empty) {
        return Err(bad(tr!("cli.compare.empty_model")));
    }
    for (i, m) in models.iter().enumerate() {
        if models[..i].contains(m) {
            return Err(bad(tr!("cli.compare.twice", model = m)));
        }
    }
    if models.len() < 2 || models.len() > MAX_MODELS {
        return Err(bad(tr!(
            "cli.compare.how_many",
            max = MAX_MODELS,
            given = models.len()
        )));
    }
    Ok(models)
}

/// What is compared: the messages, and how the report shows the prompt.
struct Prompted {
    messages: Vec<ChatMessage>,
    shown: String,
    system: Option<String>,
    temperature: Option<f32>,
    max_output_tokens: Option<u64>,
    documents: Vec<String>,
}

/// Run `clerk compare`.
pub fn run(ctx: &Ctx, args: &CompareArgs) -> Result<Exit, CliError> {
    if ctx.model_override.is_some() {
        return Err(bad(tr!("cli.compare.not_model")));
    }
    let models = models(&args.models)?;
    let profile = ctx.profile()?.clone();
    // The admin's policy on every model asked, the judge's too, before anything is sent.
    for m in models.iter().chain(args.judge.iter()) {
        ctx.allow_model(m)?;
    }
    let prompted = prompt(ctx, args, &models)?;
    let runs = usize::from(args.runs);
    confirm(ctx, args, &prompted, &models, runs)?;
    let (key, source) = secrets::resolve(
        &secrets::KeyFor::profile(&ctx.profile_name, &profile, ctx.base_url.as_deref()),
        &secrets::process_env,
        &OsKeyring,
    )?;
    tracing::info!(profile = %ctx.profile_name, %source, models = %models.join(","), runs, "compare");
    let endpoint = ctx.metered(ctx.endpoint(&profile, &key)?.warming())?;
    drop(key);
    let plan = Plan {
        models: models.clone(),
        runs,
        messages: prompted.messages.clone(),
        max_output_tokens: prompted.max_output_tokens.or(profile.max_output_tokens),
        temperature: prompted.temperature,
        judge: args.judge.clone(),
    };
    let rt = super::runtime()?;
    let mut progress = Shown {
        tty: output::stderr_is_tty(),
    };
    let ran = rt.block_on(crate::compare::run::run(
        &endpoint,
        &ctx.config.models,
        &plan,
        &mut progress,
        async {
            super::ask::terminate_signal().await;
        },
    ));
    let exit = exit_of(&ran);
    let comparison = Comparison {
        prompt: prompted.shown,
        system: prompted.system,
        models: ran.models,
        judge: ran.judge,
        stopped: ran.stopped,
        settings: Settings {
            base_url: endpoint.base_url().to_string(),
            date: chrono::Local::now()
                .format("%Y-%m-%d %H:%M (UTC%:z)")
                .to_string(),
            runs,
            models,
            judge: args.judge.clone(),
            template: args.template.clone(),
            documents: prompted.documents,
        },
    };
    if args.json {
        println!("{}", crate::compare::report::json(&comparison));
    } else {
        let tty = output::stdout_is_tty();
        print!("{}", crate::compare::report::table(&comparison, tty));
        if tty && args.output.is_none() {
            eprintln!("{}", tr!("cli.compare.read_answers"));
        }
    }
    if let Some(path) = &args.output {
        std::fs::write(path, crate::compare::report::markdown(&comparison)).map_err(|e| {
            CliError::new(
                Exit::Failure,
                tr!("cli.compare.cannot_write", path = path.display(), error = e),
            )
        })?;
        eprintln!("{}", tr!("cli.compare.written", path = path.display()));
    }
    match (&comparison.stopped, exit) {
        (Some(Stopped::Budget(why)), _) => {
            eprintln!("clerk: {}", crate::llm::sanitize::sanitize(why));
        }
        (None, e) if e != Exit::Ok => {
            eprintln!("clerk: {}", tr!("cli.compare.no_answer"));
        }
        _ => {}
    }
    Ok(exit)
}

/// The exit code: 130 when stopped, 6 when a budget refused a request, the first error's
/// when no model gave a single complete answer, else 0 (errors are in the report).
fn exit_of(ran: &Ran) -> Exit {
    match &ran.stopped {
        Some(Stopped::ByYou) => return Exit::Interrupted,
        Some(Stopped::Budget(_)) => return Exit::Budget,
        None => {}
    }
    let answered = ran
        .models
        .iter()
        .any(|m| m.samples.iter().any(Sample::is_answer));
    match (answered, ran.failure) {
        (true, _) => Exit::Ok,
        (false, Some(class)) => super::class_exit(class),
        (false, None) => Exit::Incomplete,
    }
}

/// The conversation to compare on: a prompt with files and piped stdin, or a template.
fn prompt(ctx: &Ctx, args: &CompareArgs, models: &[String]) -> Result<Prompted, CliError> {
    let cfg = &ctx.config.file.documents;
    let max_bytes = cfg.max_file_mb.saturating_mul(1024 * 1024);
    let piped = super::ask::read_stdin_document(max_bytes)?;
    let (mut question, mut system, temperature, max_output_tokens, mut piped) = match &args.template
    {
        Some(id) => {
            let (text, system, t, max) = template(ctx, args, id, piped)?;
            (text, system, t, max, None)
        }
        None => (
            args.prompt.join(" ").trim().to_string(),
            None,
            None,
            None,
            piped,
        ),
    };
    if args.system.is_some() {
        system = args.system.clone();
    }
    let files = docs::read_files(&args.files, cfg)?;
    let mut sources: Vec<(String, String)> = files.into_iter().map(|d| (d.name, d.text)).collect();
    if let Some(text) = piped.take() {
        sources.push(("standard input".to_string(), text));
    }
    if question.is_empty() && sources.is_empty() {
        return Err(bad(tr!("cli.compare.nothing")));
    }
    // Nothing leaves the machine before the secret scan.
    {
        let mut sys = system.clone().unwrap_or_default();
        let mut texts: Vec<(&str, &mut String)> =
            vec![("prompt", &mut question), ("system prompt", &mut sys)];
        for (name, text) in sources.iter_mut() {
            texts.push((name.as_str(), text));
        }
        docs::check_secrets(&mut texts, args.docs.secrets, &ctx.config)?;
        if system.is_some() {
            system = Some(sys);
        }
    }
    let documents: Vec<String> = sources.iter().map(|(n, _)| n.clone()).collect();
    // Documents are sent whole, as `clerk ask` sends them when they fit (a model whose
    // window they do not fit is reported with that error); `--first N` cuts them.
    let info = models
        .first()
        .and_then(|m| ctx.config.models.get(m))
        .cloned()
        .unwrap_or_default();
    let settings = summarize::Settings::for_model(cfg, &info, max_output_tokens);
    let mut measured = summarize::measure_all(sources, &settings);
    docs::keep_first_noted(&mut measured, args.docs.first);
    let user = compose(&question, &documents_text(&measured));
    let mut messages = Vec::new();
    if let Some(s) = &system {
        messages.push(ChatMessage {
            role: ChatRole::System,
            content: s.clone(),
        });
    }
    messages.push(ChatMessage {
        role: ChatRole::User,
        content: user,
    });
    Ok(Prompted {
        messages,
        shown: if question.is_empty() {
            tr!("cli.compare.no_prompt").into_owned()
        } else {
            question
        },
        system,
        temperature,
        max_output_tokens,
        documents,
    })
}

/// A single-prompt template's prompt and system prompt, its variables filled as `clerk
/// run` fills them; its temperature and answer cap.
#[allow(clippy::type_complexity)]
fn template(
    ctx: &Ctx,
    args: &CompareArgs,
    id: &str,
    piped: Option<String>,
) -> Result<(String, Option<String>, Option<f32>, Option<u64>), CliError> {
    let lib = Library::load(&super::templates_cmd::sources(ctx));
    let entry = super::templates_cmd::find(&lib, id)?;
    let Some(t) = entry.template.clone() else {
        let problems: Vec<String> = entry.problems.iter().map(|p| p.to_string()).collect();
        return Err(bad(tr!(
            "cli.compare.broken_template",
            id = id,
            problems = problems.join("\n  ")
        )));
    };
    if t.steps.len() != 1 {
        return Err(bad(tr!(
            "cli.compare.workflow",
            id = id,
            steps = t.steps.len()
        )));
    }
    let max_mb = ctx.config.file.documents.max_file_mb;
    let given = super::run_cmd::parse_vars(&t, &args.vars, max_mb)?;
    let interactive = piped.is_none() && std::io::stdin().is_terminal() && output::stderr_is_tty();
    let values: BTreeMap<String, String> =
        super::run_cmd::fill(&t, given, piped, interactive, max_mb)?;
    if t.variables
        .iter()
        .any(|v| v.kind == VarKind::Kb && values.get(&v.name).is_some_and(|x| !x.is_empty()))
    {
        return Err(bad(tr!("cli.compare.kb_template", id = id)));
    }
    let text = crate::templates::render_step(&t, 0, &values, &BTreeMap::new())
        .map_err(|e| bad(tr!("cli.compare.template_error", id = id, error = e)))?;
    let system = crate::templates::render_system(&t, &values)
        .map_err(|e| bad(tr!("cli.compare.template_error", id = id, error = e)))?;
    Ok((
        text,
        system,
        t.temperature,
        t.max_output_tokens.map(u64::from),
    ))
}

/// A guess of an answer's length, for the estimate before sending (as for documents).
const ANSWER_GUESS: u64 = 800;

/// Above `[documents] confirm_above_usd`, ask first (or `--yes`): a comparison multiplies
/// a prompt's cost by its models and runs.
fn confirm(
    ctx: &Ctx,
    args: &CompareArgs,
    p: &Prompted,
    models: &[String],
    runs: usize,
) -> Result<(), CliError> {
    let cfg = &ctx.config.file.documents;
    if args.docs.yes {
        return Ok(());
    }
    let prompt_tokens = record::prompt_estimate(None, &p.messages);
    let requests = runs * models.len();
    let cost: f64 = models
        .iter()
        .filter_map(|m| ctx.config.models.get(m))
        .filter_map(|i| i.cost(prompt_tokens, 0, ANSWER_GUESS))
        .map(|c| c * runs as f64)
        .sum();
    if cost <= cfg.confirm_above_usd {
        return Ok(());
    }
    let what = tr!(
        "cli.compare.estimate",
        cost = money(Some(cost)),
        requests = requests,
        tokens = docs::group_digits(prompt_tokens),
        limit = money(Some(cfg.confirm_above_usd))
    );
    docs::confirm_spend(&what, &tr!("cli.compare.cheaper"))
}

/// Progress on stderr: a line per run and per question to the judge on a terminal; retries
/// always.
struct Shown {
    tty: bool,
}

impl Progress for Shown {
    fn retrying(&mut self, model: &str, n: &RetryNotice) {
        eprintln!("{model}: {}…", record::retry_text(n));
    }

    fn ended(&mut self, model: &str, s: &Sample) {
        if !self.tty {
            return;
        }
        let how = match &s.error {
            None => tr!(
                "cli.compare.ended",
                ttft = crate::compare::report::duration(s.ttft_ms),
                total = crate::compare::report::duration(s.total_ms)
            )
            .into_owned(),
            Some(e) => crate::llm::sanitize::sanitize(e),
        };
        let line = tr!(
            "cli.compare.run_line",
            run = s.run,
            model = model,
            how = how
        );
        eprintln!("\x1b[2m{line}\x1b[0m");
    }

    fn judging(&mut self, at: usize, of: usize, a: &str, b: &str) {
        if self.tty {
            let line = tr!("cli.compare.judging", at = at, of = of, a = a, b = b);
            eprintln!("\x1b[2m{line}\x1b[0m");
        }
    }
}
