//! The command line: argument parsing, shared set-up, exit codes, and dispatch.
//!
//! Answers go to stdout; progress, notes and errors to stderr. Each subcommand lives in
//! its own file. Nothing here prints a key: only [`crate::secrets::ApiKey::masked`].

mod ask;
mod ask_kb;
mod auth;
mod compare;
mod config_cmd;
mod docs;
mod doctor;
mod help;
mod help_wrap;
mod kb;
mod kb_vectors;
mod language;
mod output;
mod report;
mod run_cmd;
mod sessions;
mod summarize_cmd;
mod templates_cmd;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError, Paths, Policy, Profile};
use crate::llm::{ErrorClass, LlmError};
use crate::secrets::SecretError;
use crate::store::StoreError;

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    other failure (history database, files); clerk doctor: a check failed
  2    bad input (usage, config, unknown session or model, message too long)
  3    authentication (no key, key rejected or revoked, no keyring, quota)
  4    network or server (DNS, connection, TLS, timeout, rate limit, 5xx)
  5    the answer was interrupted, truncated, or the server reported an error in it
  6    a budget ([budget] in the config) is reached: nothing was sent
  130  stopped with Ctrl-C (what arrived is saved)";

/// clerk: a terminal assistant for people at work.
#[derive(Debug, Parser)]
#[command(name = "clerk", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Config file [default: the platform config folder's clerk/config.toml]
    #[arg(long, global = true, env = "CLERK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Profile (named endpoint) to use
    #[arg(long, global = true, env = "CLERK_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Model to use instead of the profile's
    #[arg(long, global = true, value_name = "NAME")]
    pub model: Option<String>,
    /// Base URL instead of the profile's (also OPENAI_BASE_URL)
    #[arg(long, global = true, env = "OPENAI_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Save nothing of what is asked or answered: no history (the app keeps its sessions in
    /// memory and says so), no cached restatements. Usage counts, which hold no text, are
    /// still kept so budgets hold
    #[arg(long, global = true)]
    pub incognito: bool,
    /// What to do
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask a question and stream the answer to stdout
    #[command(after_help = EXIT_CODES)]
    Ask(ask::AskArgs),
    /// Store, check or remove the API key in the OS keyring
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// List, show, search, export, rename and delete saved sessions
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// Show where the config is, show it, or write an example
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// List, show, check and create prompt templates
    #[command(subcommand)]
    Templates(templates_cmd::TemplatesCommand),
    /// Run a template or workflow: final answer on stdout, step progress on stderr
    #[command(after_help = EXIT_CODES)]
    Run(run_cmd::RunArgs),
    /// Summarise files of any length (PDF, DOCX, XLSX, PPTX, HTML, CSV, text): a shortcut for the
    /// `summarize` template; progress on stderr
    #[command(after_help = EXIT_CODES)]
    Summarize(summarize_cmd::SummarizeArgs),
    /// Compare models on the same prompt: time to first token, total time, tokens, cost,
    /// errors, and optionally a judge's verdicts
    #[command(after_help = EXIT_CODES)]
    Compare(compare::CompareArgs),
    /// What the requests cost: totals by day, month, model, profile, session, template or
    /// kind, and the budgets
    Usage(usage::UsageArgs),
    /// Knowledge bases: add procedure folders, index them, search them
    #[command(subcommand)]
    Kb(kb::KbCommand),
    /// Check this set-up, step by step: config, key, keyring, proxy, DNS, TCP, TLS, the
    /// API, one live call, the history, the disk, the terminal; each with its fix.
    /// Exit 0 when nothing failed, 1 when a check failed
    Doctor(doctor::DoctorArgs),
    /// Print shell completions
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// Shells for completions.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    /// bash
    Bash,
    /// zsh
    Zsh,
    /// fish
    Fish,
}

/// Exit codes, documented in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0
    Ok = 0,
    /// 1
    Failure = 1,
    /// 2
    BadInput = 2,
    /// 3
    Auth = 3,
    /// 4
    Network = 4,
    /// 5
    Incomplete = 5,
    /// 6
    Budget = 6,
    /// 130
    Interrupted = 130,
}

/// A failure to report on stderr, with its exit code.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub exit: Exit,
    /// What to tell the user.
    pub message: String,
}

impl CliError {
    /// A new error.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        CliError {
            exit,
            message: message.into(),
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::new(Exit::BadInput, e.to_string())
    }
}

impl From<SecretError> for CliError {
    fn from(e: SecretError) -> Self {
        CliError::new(Exit::Auth, e.to_string())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::new(Exit::Failure, e.to_string())
    }
}

/// The exit code for an engine error.
pub fn llm_exit(e: &LlmError) -> Exit {
    class_exit(e.class())
}

/// The exit code for a class of engine errors.
pub fn class_exit(class: ErrorClass) -> Exit {
    match class {
        ErrorClass::Auth => Exit::Auth,
        ErrorClass::Network => Exit::Network,
        ErrorClass::BadInput => Exit::BadInput,
        ErrorClass::Budget => Exit::Budget,
    }
}

impl From<LlmError> for CliError {
    fn from(e: LlmError) -> Self {
        CliError::new(llm_exit(&e), e.to_string())
    }
}

/// What every command needs: paths, config, and the chosen profile.
#[derive(Debug)]
pub struct Ctx {
    /// Folders.
    pub paths: Paths,
    /// The config.
    pub config: Config,
    /// The chosen profile's name.
    pub profile_name: String,
    /// Whether `--profile` (or `CLERK_PROFILE`) was given.
    pub profile_given: bool,
    /// `--model`.
    pub model_override: Option<String>,
    /// `--base-url` / `OPENAI_BASE_URL`.
    pub base_url: Option<String>,
}

impl Ctx {
    fn load(cli: &Cli) -> Result<Ctx, CliError> {
        Ok(Ctx::read(cli)?)
    }

    /// [`Ctx::load`], keeping the config's error as it is (`clerk doctor` reports it).
    fn read(cli: &Cli) -> Result<Ctx, ConfigError> {
        // The admin's policy first: while it is broken nothing else runs.
        let policy = Policy::load(&|name| std::env::var_os(name))?;
        let data_override = std::env::var_os("CLERK_DATA_DIR").map(PathBuf::from);
        let mut paths = Paths::resolve(cli.config.clone(), data_override.clone())?;
        let mut config = Config::load(&paths)?;
        // The language was chosen from a quick look at the file before parsing; the file's
        // own reading decides (they agree but for a file only the full parser understands).
        crate::i18n::set(crate::i18n::choose(config.file.language(), |k| {
            std::env::var(k).ok()
        }));
        config.apply_policy(policy);
        if cli.incognito {
            config.file.history.enabled = false;
        }
        if data_override.is_none()
            && let Some(dir) = &config.file.data_dir
        {
            paths.data_dir = dir.clone();
        }
        let profile_name = config.profile_name(cli.profile.as_deref()).to_string();
        Ok(Ctx {
            paths,
            config,
            profile_name,
            profile_given: cli.profile.is_some(),
            model_override: cli.model.clone(),
            base_url: cli.base_url.clone().filter(|u| !u.is_empty()),
        })
    }

    /// The chosen profile, when the admin's policy allows its endpoint (and the
    /// `--base-url` / `OPENAI_BASE_URL` override, if any): refused with exit 2 before
    /// anything is read or sent.
    pub fn profile(&self) -> Result<&Profile, CliError> {
        let p = self.config.profile(&self.profile_name)?;
        let used = self.base_url.as_deref().unwrap_or(&p.base_url);
        self.config
            .policy
            .check_endpoint(&p.base_url, used)
            .map_err(ConfigError::from)?;
        Ok(p)
    }

    /// The model to use (`--model`, else the profile's), when the policy allows it.
    pub fn model(&self) -> Result<String, CliError> {
        let profile = self.profile()?;
        let model = self
            .model_override
            .clone()
            .unwrap_or_else(|| profile.model.clone());
        self.allow_model(&model)?;
        Ok(model)
    }

    /// Whether the admin's policy lets a chat request of this run ask `model`: checked
    /// before anything is sent (the engine checks every request again).
    pub fn allow_model(&self, model: &str) -> Result<(), CliError> {
        let profile = self.config.profile(&self.profile_name)?;
        self.config
            .policy
            .check_request_model(&profile.model, model)
            .map_err(ConfigError::from)?;
        Ok(())
    }

    /// The endpoint of `profile` (this run's `--base-url` / `OPENAI_BASE_URL` applied),
    /// when the admin's policy allows it; not metered.
    pub fn endpoint(
        &self,
        profile: &Profile,
        key: &crate::secrets::ApiKey,
    ) -> Result<crate::llm::Endpoint, CliError> {
        Ok(crate::llm::Endpoint::new(
            profile,
            key,
            self.base_url.as_deref(),
            &self.config.policy,
        )?)
    }

    /// `endpoint` with the meter of this run: every chat request checked against the
    /// budgets before it is sent and recorded in the usage ledger. Without a ledger (a
    /// folder that cannot be written) requests go unrecorded, with a note — unless a budget
    /// is set, which then cannot be checked: refused.
    pub fn metered(
        &self,
        endpoint: crate::llm::Endpoint,
    ) -> Result<crate::llm::Endpoint, CliError> {
        match crate::store::ledger::Ledger::open(&self.paths.usage_ledger()) {
            Ok(ledger) => {
                let meter = crate::chat::meter::LedgerMeter::new(
                    ledger,
                    &self.profile_name,
                    self.config.models.clone(),
                    self.config.file.budget.clone(),
                    Box::new(|w| eprintln!("{}", tr!("cli.note", text = w))),
                );
                Ok(endpoint.with_meter(std::sync::Arc::new(meter)))
            }
            Err(e) => {
                let b = &self.config.file.budget;
                if b.daily_usd.is_some() || b.monthly_usd.is_some() || b.per_request_usd.is_some() {
                    return Err(CliError::new(
                        Exit::Budget,
                        tr!("cli.budget_unchecked", error = e).into_owned(),
                    ));
                }
                let text = tr!("cli.not_recorded", error = e);
                eprintln!("{}", tr!("cli.note", text = text));
                Ok(endpoint)
            }
        }
    }

    /// The user's themes folder, next to the config file.
    pub fn themes_dir(&self) -> PathBuf {
        self.paths
            .config_file
            .parent()
            .map(|p| p.join("themes"))
            .unwrap_or_default()
    }

    /// Open the history database.
    pub fn open_store(&self) -> Result<crate::store::Store, CliError> {
        let mut store = crate::store::Store::open(&self.paths.database())?;
        // The admin's retention_days, whenever the history is opened.
        match crate::chat::retention::apply(&mut store, &self.config.policy, crate::chat::now_ms())
        {
            Ok(Some(note)) => eprintln!("{}", tr!("cli.note", text = note)),
            Ok(None) => {}
            Err(e) => eprintln!("{}", tr!("cli.warning", text = e)),
        }
        if let Some(notice) = store.read_only_notice() {
            eprintln!("{}", tr!("cli.note", text = notice));
        }
        if store.recovered() > 0 {
            let text = tr!("cli.recovered", count = store.recovered());
            eprintln!("{}", tr!("cli.note", text = text));
        }
        Ok(store)
    }
}

/// Run the command line and return the process exit code.
pub fn main() -> ExitCode {
    crate::documents::guard::install();
    output::exit_quietly_on_broken_pipe();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    language::set_at_start(&args);
    let cli = match help::parse(&args) {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    let code = match run(cli) {
        Ok(exit) => exit,
        Err(e) => {
            // Messages can quote a server; nothing reaches the terminal un-sanitized.
            eprintln!("clerk: {}", crate::llm::sanitize::sanitize(&e.message));
            e.exit
        }
    };
    ExitCode::from(code as u8)
}

fn run(cli: Cli) -> Result<Exit, CliError> {
    let Some(command) = &cli.command else {
        return run_app(&cli);
    };
    if let Command::Completions { shell } = command {
        output::completions(*shell);
        return Ok(Exit::Ok);
    }
    if let Command::Doctor(args) = command {
        // Before the config is loaded: a config that does not load is its first finding.
        return doctor::run(&cli, args);
    }
    let ctx = Ctx::load(&cli)?;
    output::init_logging(&ctx);
    match command {
        Command::Ask(args) if !args.kb.is_empty() => ask_kb::run(&ctx, args),
        Command::Ask(args) => ask::run(&ctx, args),
        Command::Auth(cmd) => auth::run(&ctx, cmd),
        Command::Sessions(cmd) => sessions::run(&ctx, cmd),
        Command::Config(cmd) => config_cmd::run(&ctx, cmd),
        Command::Templates(cmd) => templates_cmd::run(&ctx, cmd),
        Command::Run(args) => run_cmd::run(&ctx, args),
        Command::Summarize(args) => summarize_cmd::run(&ctx, args),
        Command::Usage(args) => usage::run(&ctx, args),
        Command::Compare(args) => compare::run(&ctx, args),
        Command::Kb(cmd) => kb::run(&ctx, cmd),
        Command::Completions { .. } | Command::Doctor(_) => Ok(Exit::Ok),
    }
}

/// `clerk` with no command: the full-screen app.
fn run_app(cli: &Cli) -> Result<Exit, CliError> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::new(Exit::BadInput, tr!("cli.needs_terminal")));
    }
    let ctx = Ctx::load(cli)?;
    output::init_logging(&ctx);
    let profile = ctx.profile()?.clone();
    let model = ctx.model()?;
    let themes_dir = ctx.themes_dir();
    let start = crate::tui::Start {
        database: ctx
            .config
            .file
            .history
            .enabled
            .then(|| ctx.paths.database()),
        usage_ledger: Some(ctx.paths.usage_ledger()),
        knowledge_index: Some(ctx.paths.knowledge_index()),
        config: ctx.config.clone(),
        profile_name: ctx.profile_name.clone(),
        profile,
        model,
        base_url: ctx.base_url.clone(),
        themes_dir,
    };
    crate::tui::run(start).map_err(|e| CliError::new(Exit::Failure, e))?;
    Ok(Exit::Ok)
}

/// A tokio runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::new(Exit::Failure, tr!("cli.cannot_start", error = e)))
}
