//! Running a template: its steps one after another, each a streamed answer.
//!
//! The runner renders each step's prompt (variables and earlier answers), sends it with the
//! template's system prompt as one request, and drives it with the chat core's driver. It
//! owns no store and no terminal: through [`Steps`] the command line and the app save and
//! show each step their own way. A workflow stops at the first step that does not complete
//! (interrupted, truncated, failed, or stopped by the user).
//!
//! A template with a `kb` variable is grounded ([`Grounding`]): before the first step, the
//! passages that answer what the person asked (the values of its text variables) are
//! retrieved once ([`crate::knowledge::ground::retrieve`]); when they do not answer it the
//! run stops with [`RunError::NotFound`] before anything is sent; otherwise every step is
//! sent with the grounding rules after the template's system prompt and the passages,
//! numbered the same for every step, before its prompt. [`Steps::grounded`] hands the
//! passages to the caller, which shows the sources each answer cites.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Template, VarKind};
use crate::chat::{Driven, End, Saver, Sink, drive};
use crate::config::{KnowledgeEntry, ModelInfo};
use crate::knowledge::ground::{self, Ask, BaseSettings, Grounded};
use crate::llm::stream::{AbortOnDrop, run_chat_deltas};
use crate::llm::{AnswerStatus, ChatMessage, ChatRequest, ChatRole, Endpoint};

/// What a run needs besides the endpoint.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The template.
    pub template: Template,
    /// Every variable's value (defaults filled, files read).
    pub values: BTreeMap<String, String>,
    /// The model when neither the step nor the template names one.
    pub model: String,
    /// The answer length cap when the template sets none.
    pub max_output_tokens: Option<u64>,
    /// The knowledge bases the run is answered from (a template with a `kb` variable).
    pub grounding: Option<Grounding>,
}

/// Where a grounded run's passages come from.
#[derive(Debug, Clone)]
pub struct Grounding {
    /// The knowledge index (`Paths::knowledge_index`).
    pub index: PathBuf,
    /// The question searched for and the bases.
    pub ask: Ask,
}

impl Grounding {
    /// An error naming the base when the index has never been built (nothing to search).
    pub fn indexed(&self) -> Result<(), crate::knowledge::KnowledgeError> {
        if self.index.exists() {
            return Ok(());
        }
        let name = self
            .ask
            .bases
            .first()
            .map(|b| b.name.clone())
            .unwrap_or_default();
        Err(crate::knowledge::KnowledgeError::NotIndexed(name))
    }
}

/// The grounding of `t` with `values`: `None` when it has no `kb` variable with a value.
/// The question searched for is what the person gave (the values of the text, multi-line,
/// document and file variables, in their order), not the template's own wording. An
/// error names a base that is not in `entries` (the config's `[[knowledge]]`).
pub fn grounding(
    t: &Template,
    values: &BTreeMap<String, String>,
    entries: &[KnowledgeEntry],
    index: PathBuf,
    model: &str,
) -> Result<Option<Grounding>, String> {
    let mut bases = Vec::new();
    let mut question = Vec::new();
    for v in &t.variables {
        let Some(value) = values
            .get(&v.name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        match v.kind {
            VarKind::Kb => {
                let entry = entries.iter().find(|e| e.name == value).ok_or_else(|| {
                    tr!("templates.run.not_a_base", name = v.name, value = value).into_owned()
                })?;
                bases.push(BaseSettings::from(entry));
            }
            VarKind::Text | VarKind::Multiline | VarKind::Document | VarKind::File => {
                question.push(value.to_string());
            }
            VarKind::Choice | VarKind::Number => {}
        }
    }
    if bases.is_empty() {
        return Ok(None);
    }
    let question = if question.is_empty() {
        super::render_step(t, 0, values, &BTreeMap::new()).map_err(|e| e.to_string())?
    } else {
        question.join("\n")
    };
    Ok(Some(Grounding {
        index,
        ask: Ask::new(&question, bases, model),
    }))
}

impl Plan {
    /// The model step `i` uses.
    pub fn step_model(&self, i: usize) -> String {
        self.template
            .steps
            .get(i)
            .and_then(|s| s.model.clone())
            .or_else(|| self.template.model.clone())
            .unwrap_or_else(|| self.model.clone())
    }
}

/// Why a step could not run.
#[derive(Debug)]
pub enum RunError {
    /// A placeholder had no value.
    Render {
        /// The step.
        step: String,
        /// What is missing.
        message: String,
    },
    /// The step's question could not be saved.
    Save(String),
    /// The knowledge bases could not be searched.
    Knowledge(String),
    /// The knowledge bases do not cover what was asked: nothing was sent. The text is
    /// "not found in the procedures" in the question's language.
    NotFound(String),
}

// Written by hand, not with `thiserror`: the texts come from the message catalog
// (locales/core-templates.yml) in the interface's language; the English ones are unchanged.
impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            RunError::Render { step, message } => {
                tr!("templates.run.cannot_fill", step = step, why = message)
            }
            RunError::Save(why) => tr!("templates.run.cannot_save", why = why),
            RunError::Knowledge(why) => tr!("templates.run.cannot_search", why = why),
            RunError::NotFound(text) => text.as_str().into(),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for RunError {}

/// The requests of step `i`, given the answers of the steps before it (and, for a
/// grounded run, the passages: the rules after the system prompt, the passages before the
/// prompt). The prompt and system returned are the template's, as the history keeps them.
pub fn step_request(
    plan: &Plan,
    i: usize,
    answers: &BTreeMap<String, String>,
    grounded: Option<&Grounded>,
) -> Result<(String, Option<String>, ChatRequest), RunError> {
    let t = &plan.template;
    let name = t.steps.get(i).map(|s| s.name.clone()).unwrap_or_default();
    let render_err = |e: super::placeholders::RenderError| RunError::Render {
        step: name.clone(),
        message: e.to_string(),
    };
    let prompt = super::render_step(t, i, &plan.values, answers).map_err(render_err)?;
    let system = super::render_system(t, &plan.values).map_err(render_err)?;
    let (sent_system, sent_prompt) = match grounded {
        Some(g) => (
            Some(g.system_prompt(system.as_deref())),
            g.user_message_for(&prompt),
        ),
        None => (system.clone(), prompt.clone()),
    };
    let mut messages = Vec::with_capacity(2);
    if let Some(s) = sent_system {
        messages.push(ChatMessage {
            role: ChatRole::System,
            content: s,
        });
    }
    messages.push(ChatMessage {
        role: ChatRole::User,
        content: sent_prompt,
    });
    let request = ChatRequest {
        model: plan.step_model(i),
        messages,
        max_output_tokens: t
            .max_output_tokens
            .map(u64::from)
            .or(plan.max_output_tokens),
        temperature: t.temperature,
        prompt_tokens: None,
    };
    Ok((prompt, system, request))
}

/// A step about to be sent.
#[derive(Debug)]
pub struct StepStart<'a> {
    /// Its position (0-based).
    pub index: usize,
    /// Steps in all.
    pub of: usize,
    /// Its name.
    pub name: &'a str,
    /// The model asked.
    pub model: &'a str,
    /// The message sent (the rendered prompt).
    pub prompt: &'a str,
    /// The system prompt sent with it.
    pub system: Option<&'a str>,
}

/// What the caller of [`run`] does around each step: the command line prints and saves
/// through the store; the app shows and saves through its store thread.
pub trait Steps {
    /// A step is about to be sent: save its question (and the run's session, for the
    /// first). An error stops the run before the step is sent.
    fn begin(
        &mut self,
        step: &StepStart<'_>,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send;
    /// Where the step's answer is shown and kept (after `begin`).
    fn sink_and_saver(&mut self) -> (&mut (dyn Sink + Send), &mut (dyn Saver + Send));
    /// The price of a model's answers.
    fn price(&self, model: &str) -> Option<ModelInfo>;
    /// A step ended (its answer may be partial: then the run ends here).
    fn ended(&mut self, index: usize, driven: &Driven);
    /// A step could not run.
    fn failed(&mut self, index: usize, error: &RunError);
    /// A grounded run's passages were found, before its first step (and before
    /// [`RunError::NotFound`] when they do not answer it): notes to show, the sources to
    /// list after each answer ([`Grounded::citations`]). The caller may redact passages
    /// (they are sent as they are left); an error stops the run before anything is sent,
    /// the caller having said why.
    fn grounded(&mut self, _grounded: &mut Grounded) -> Result<(), String> {
        Ok(())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every step completed.
    Complete,
    /// Step `n` (0-based) ended without completing, failed, or was stopped.
    StoppedAt(usize),
}

/// Run every step in order through the chat core's driver; `stop` stops the run (the
/// running step keeps what arrived). A workflow stops at the first step that does not
/// complete.
pub async fn run<S: Steps + Send>(
    endpoint: Endpoint,
    plan: &Plan,
    steps: &mut S,
    stop: impl std::future::Future<Output = ()> + Send,
) -> RunEnd {
    let of = plan.template.steps.len();
    let mut answers: BTreeMap<String, String> = BTreeMap::new();
    tokio::pin!(stop);
    let grounded = match &plan.grounding {
        None => None,
        Some(g) => {
            // The question's restatement is counted as this template's.
            let ep = endpoint.tagged(crate::llm::meter::Tag {
                kind: "restate",
                template: Some(plan.template.id.clone()),
                knowledge: g.ask.knowledge(),
                ..endpoint.tag().clone()
            });
            match ground::retrieve(&g.index, move || Ok(ep), g.ask.clone()).await {
                Ok(mut found) => {
                    if steps.grounded(&mut found).is_err() {
                        return RunEnd::StoppedAt(0);
                    }
                    if !found.found() {
                        steps.failed(0, &RunError::NotFound(found.not_found_text().to_string()));
                        return RunEnd::StoppedAt(0);
                    }
                    Some(found)
                }
                Err(e) => {
                    steps.failed(0, &RunError::Knowledge(e.to_string()));
                    return RunEnd::StoppedAt(0);
                }
            }
        }
    };
    // Counted in the usage ledger as steps of this template (a one-prompt template's one
    // step is its answer).
    let endpoint = endpoint.tagged(crate::llm::meter::Tag {
        kind: if of > 1 { "step" } else { "answer" },
        template: Some(plan.template.id.clone()),
        knowledge: grounded.as_ref().and_then(Grounded::knowledge),
        ..endpoint.tag().clone()
    });
    for i in 0..of {
        let name = plan.template.steps[i].name.clone();
        let (prompt, system, request) = match step_request(plan, i, &answers, grounded.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                steps.failed(i, &e);
                return RunEnd::StoppedAt(i);
            }
        };
        let start = StepStart {
            index: i,
            of,
            name: &name,
            model: &request.model,
            prompt: &prompt,
            system: system.as_deref(),
        };
        if let Err(e) = steps.begin(&start).await {
            steps.failed(i, &RunError::Save(e));
            return RunEnd::StoppedAt(i);
        }
        let price = steps.price(&request.model);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let prompt_tokens = Some(crate::chat::record::prompt_estimate(
            None,
            &request.messages,
        ));
        // Estimated once: the request carries it to the budget and the usage ledger.
        let request = ChatRequest {
            prompt_tokens,
            ..request
        };
        let task = AbortOnDrop(tokio::spawn(run_chat_deltas(endpoint.clone(), request, tx)));
        let (sink, saver) = steps.sink_and_saver();
        let driven = drive(
            rx,
            task,
            stop.as_mut(),
            sink,
            saver,
            price.as_ref(),
            prompt_tokens,
        )
        .await;
        steps.ended(i, &driven);
        match driven.end {
            End::Answered(a) if a.status == AnswerStatus::Complete => {
                answers.insert(name, a.text);
            }
            _ => return RunEnd::StoppedAt(i),
        }
    }
    RunEnd::Complete
}
