//! Running a template: its steps one after another, each a streamed answer.
//!
//! The runner renders each step's prompt (variables and earlier answers), sends it with the
//! template's system prompt as one request, and reports everything on a channel. It owns no
//! store and no terminal: the command line and the app save and show what it reports. A
//! workflow stops at the first step that does not complete (interrupted, truncated, failed);
//! stopping the whole run is aborting its task.

use std::collections::BTreeMap;

use tokio::sync::mpsc::UnboundedSender;

use super::Template;
use crate::llm::stream::chat_to_end;
use crate::llm::{
    Answer, AnswerStatus, ChatMessage, ChatRequest, ChatRole, Endpoint, EngineEvent, LlmError,
};

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

/// Something that happened during a run.
#[derive(Debug)]
pub enum RunEvent {
    /// A step starts: its rendered prompt is about to be sent.
    Step {
        /// Its position (0-based).
        index: usize,
        /// Steps in all.
        of: usize,
        /// Its name.
        name: String,
        /// The model asked.
        model: String,
        /// The message sent (the rendered prompt).
        prompt: String,
        /// The system prompt sent with it.
        system: Option<String>,
    },
    /// Progress of the step's answer (retries, start, text).
    Engine(usize, EngineEvent),
    /// The step's answer ended (possibly partial: then the run ends here).
    StepDone(usize, Answer),
    /// The step could not run.
    Failed(usize, RunError),
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
    /// The request failed before an answer started.
    #[error("{0}")]
    Llm(#[from] LlmError),
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

/// Run every step in order, reporting on `tx`. Returns the answers of the steps that ran.
pub async fn run(endpoint: Endpoint, plan: Plan, tx: UnboundedSender<RunEvent>) -> Vec<Answer> {
    let of = plan.template.steps.len();
    let mut answers: BTreeMap<String, String> = BTreeMap::new();
    let mut done = Vec::with_capacity(of);
    for i in 0..of {
        let name = plan.template.steps[i].name.clone();
        let (prompt, system, request) = match step_request(&plan, i, &answers) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(RunEvent::Failed(i, e));
                break;
            }
        };
        let _ = tx.send(RunEvent::Step {
            index: i,
            of,
            name: name.clone(),
            model: request.model.clone(),
            prompt,
            system,
        });
        let result = chat_to_end(endpoint.clone(), request, |ev| {
            let _ = tx.send(RunEvent::Engine(i, ev));
        })
        .await;
        match result {
            Ok(answer) => {
                let complete = answer.status == AnswerStatus::Complete;
                answers.insert(name, answer.text.clone());
                done.push(answer.clone());
                let _ = tx.send(RunEvent::StepDone(i, answer));
                if !complete {
                    break;
                }
            }
            Err(e) => {
                let _ = tx.send(RunEvent::Failed(i, RunError::Llm(e)));
                break;
            }
        }
    }
    done
}
