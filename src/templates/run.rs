//! Running a template: its steps one after another, each a streamed answer.
//!
//! The runner renders each step's prompt (variables and earlier answers), sends it with the
//! template's system prompt as one request, and drives it with the chat core's driver. It
//! owns no store and no terminal: through [`Steps`] the command line and the app save and
//! show each step their own way. A workflow stops at the first step that does not complete
//! (interrupted, truncated, failed, or stopped by the user).

use std::collections::BTreeMap;

use super::Template;
use crate::chat::{Driven, End, Saver, Sink, drive};
use crate::config::ModelInfo;
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
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A placeholder had no value.
    #[error("cannot fill in step `{step}`: {message}")]
    Render {
        /// The step.
        step: String,
        /// What is missing.
        message: String,
    },
    /// The step's question could not be saved.
    #[error("cannot save the step: {0}")]
    Save(String),
}

/// The requests of step `i`, given the answers of the steps before it.
pub fn step_request(
    plan: &Plan,
    i: usize,
    answers: &BTreeMap<String, String>,
) -> Result<(String, Option<String>, ChatRequest), RunError> {
    let t = &plan.template;
    let name = t.steps.get(i).map(|s| s.name.clone()).unwrap_or_default();
    let render_err = |e: super::placeholders::RenderError| RunError::Render {
        step: name.clone(),
        message: e.to_string(),
    };
    let prompt = super::render_step(t, i, &plan.values, answers).map_err(render_err)?;
    let system = super::render_system(t, &plan.values).map_err(render_err)?;
    let mut messages = Vec::with_capacity(2);
    if let Some(s) = &system {
        messages.push(ChatMessage {
            role: ChatRole::System,
            content: s.clone(),
        });
    }
    messages.push(ChatMessage {
        role: ChatRole::User,
        content: prompt.clone(),
    });
    let request = ChatRequest {
        model: plan.step_model(i),
        messages,
        max_output_tokens: t
            .max_output_tokens
            .map(u64::from)
            .or(plan.max_output_tokens),
        temperature: t.temperature,
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
    // Counted in the usage ledger as steps of this template (a one-prompt template's one
    // step is its answer).
    let endpoint = endpoint.tagged(crate::llm::meter::Tag {
        kind: if of > 1 { "step" } else { "answer" },
        template: Some(plan.template.id.clone()),
        ..endpoint.tag().clone()
    });
    for i in 0..of {
        let name = plan.template.steps[i].name.clone();
        let (prompt, system, request) = match step_request(plan, i, &answers) {
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
