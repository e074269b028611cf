//! Comparing models on the same conversation (`clerk compare`): the same messages sent to
//! each model several times, interleaved, measured, priced, optionally judged, and
//! reported as a table, JSON or Markdown.
//!
//! - [`figures`]: the interleaved schedule and the statistics of each model's runs
//!   (median and p90 of the time to the first token and of the total time, tokens a
//!   second, tokens and cost per answer);
//! - [`judge`]: what a judge model is asked, reading its verdict (tolerant of small
//!   models), and counting wins and ties over both orders of each pair;
//! - [`report`]: the results as the `--json` object, the Markdown report and the plain
//!   or terminal table;
//! - [`run`]: the only part that awaits — each request driven through the chat core
//!   (`chat::drive`), checked against the budgets and recorded by the meter like any other.
//!
//! Everything but [`run`] is pure (no tokio, no clock, no IO) and unit-tested on its own.
//! This layer sits beside `documents` and `templates`: it must not import `app`, `ui`,
//! `tui` or `cli`, print, or draw; callers show progress through [`run::Progress`].

pub mod figures;
pub mod judge;
pub mod report;
pub mod run;

/// One run of one model, as it ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// Which run (1-based).
    pub run: usize,
    /// The answer's text (what arrived, for an answer that did not complete).
    pub text: String,
    /// Why this run gave no complete answer; `None` for a complete one.
    pub error: Option<String>,
    /// Milliseconds from the request's start to the first text.
    pub ttft_ms: Option<f64>,
    /// Milliseconds from the request's start to its end.
    pub total_ms: Option<f64>,
    /// Prompt tokens (the server's, or estimated when it sent none).
    pub prompt_tokens: Option<u64>,
    /// Completion tokens (likewise).
    pub completion_tokens: Option<u64>,
    /// Its cost (`None`: unknown — no price for the model, or no usage).
    pub cost_usd: Option<f64>,
}

impl Sample {
    /// A complete answer.
    pub fn is_answer(&self) -> bool {
        self.error.is_none()
    }
}

/// Every run of one model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelRuns {
    /// The model's name as given.
    pub model: String,
    /// Its runs so far, in order.
    pub samples: Vec<Sample>,
    /// The error that made its remaining runs pointless (an unknown model, a rejected
    /// key, a budget's refusal, a prompt longer than its window); its runs stop there.
    pub gave_up: Option<String>,
}

impl ModelRuns {
    /// No runs yet.
    pub fn new(model: &str) -> ModelRuns {
        ModelRuns {
            model: model.to_string(),
            ..ModelRuns::default()
        }
    }

    /// The answer the judge reads: the first complete one (the first run's, unless it
    /// failed).
    pub fn first_answer(&self) -> Option<&Sample> {
        self.samples.iter().find(|s| s.is_answer())
    }
}

/// Why a comparison ended before its schedule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// A budget refused a request (what it said); nothing more was sent after it for that
    /// model (or, once a day's or month's budget is reached, for any).
    Budget(String),
    /// The user stopped it (Ctrl-C).
    ByYou,
}

/// The settings a report names, so that it can be read (and repeated) later.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// The endpoint's base URL.
    pub base_url: String,
    /// When it ran, as the reader reads it (local time).
    pub date: String,
    /// Runs asked for, per model.
    pub runs: usize,
    /// The models, in the order given.
    pub models: Vec<String>,
    /// The judge model, if one was asked.
    pub judge: Option<String>,
    /// The template compared on, if any.
    pub template: Option<String>,
    /// The documents attached, by name.
    pub documents: Vec<String>,
}

/// A comparison's results: what the reports are made of.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    /// The prompt as the reader should see it (the question or the rendered template,
    /// without the documents' text).
    pub prompt: String,
    /// The system prompt sent, if any.
    pub system: Option<String>,
    /// Each model's runs, in the order given.
    pub models: Vec<ModelRuns>,
    /// The judge's verdicts, when one was asked.
    pub judge: Option<judge::Judged>,
    /// Why it ended early, if it did.
    pub stopped: Option<Stopped>,
    /// The settings.
    pub settings: Settings,
}
