//! The async edge of a run: notes on every part (a bounded number at a time), merge rounds
//! while the notes do not fit, then the final answer, with progress and retries reported on
//! a channel, and the tally of requests and tokens.
//!
//! It must not decide sizes or build prompt text itself (that is `plan.rs`'s and
//! `prompts.rs`'s), must not write the text to disk or print, and must stop every request it
//! started when its task is aborted.

use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinSet;

use super::plan::{Measured, NOTES_PROMPT_TOKENS, Part, Settings, fits_final, group, part_budget};
use super::progress::{Phase, Progress};
use super::prompts::{
    MERGE_SYSTEM, NOTES_SYSTEM, Note, final_documents, notes_prompt, notes_text, part_label,
    part_shown,
};
use crate::llm::stream::{AbortOnDrop, chat_to_end};
use crate::llm::{
    Answer, AnswerStatus, ChatMessage, ChatRequest, ChatRole, Endpoint, EngineEvent, LlmError,
    RetryNotice,
};

/// Something that happened during a run.
#[derive(Debug)]
pub enum Event {
    /// Parts done so far.
    Progress(Progress),
    /// A request waits before a retry.
    Retrying(RetryNotice),
    /// The final answer's progress (never `Finished`: that is [`run`]'s result).
    Answer(EngineEvent),
    /// The end (only from [`run_as_answer`]'s inner task).
    Done(Result<Done, RunError>),
}

/// Everything a run needs besides the endpoint.
#[derive(Clone)]
pub struct Job {
    /// Earlier turns of the conversation, sent before the final message.
    pub history: Vec<ChatMessage>,
    /// The model.
    pub model: String,
    /// The system prompt of the final request.
    pub system: Option<String>,
    /// The final answer's length cap.
    pub max_output_tokens: Option<u64>,
    /// The final answer's temperature.
    pub temperature: Option<f32>,
    /// The documents.
    pub docs: Vec<Measured>,
    /// Their parts ([`strategy`](super::strategy)).
    pub parts: Vec<Part>,
    /// Sizes.
    pub settings: Settings,
    /// What the user asked, with a placeholder for the documents: sent with every part.
    pub hint: String,
    /// The final user message, given the text that stands for the documents.
    pub render: Arc<dyn Fn(&str) -> String + Send + Sync>,
    /// Tokens of the request's fixed text (for merge budgets).
    pub frame_tokens: u64,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("model", &self.model)
            .field("docs", &self.docs.len())
            .field("parts", &self.parts.len())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Done {
    /// The final answer.
    pub answer: Answer,
    /// Parts read.
    pub parts: usize,
    /// Requests made (not counting retries).
    pub requests: usize,
    /// Input tokens, all requests.
    pub tokens_in: u64,
    /// Output tokens, all requests.
    pub tokens_out: u64,
}

/// Why a run stopped before its answer.
#[derive(Debug)]
pub enum RunError {
    /// A request failed (after its retries).
    Part {
        /// Which part.
        part: String,
        /// Why.
        error: LlmError,
    },
    /// A part's notes were cut short or stopped.
    Incomplete {
        /// Which part.
        part: String,
        /// How it ended.
        status: AnswerStatus,
        /// Why (as the answer saved it: `chat::record::shown_reason` words it).
        reason: String,
    },
    /// The final request failed.
    Final(LlmError),
}

// Written by hand, not with `thiserror`: the texts come from the message catalog
// (locales/documents.yml) in the interface's language; the English ones are unchanged.
impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            RunError::Part { part, error } => tr!("llm.error.in_part", part = part, why = error),
            RunError::Incomplete {
                part,
                status,
                reason,
            } => {
                let status = match status {
                    AnswerStatus::Truncated => tr!("documents.summarize.status.truncated"),
                    AnswerStatus::Interrupted => tr!("documents.summarize.status.interrupted"),
                    AnswerStatus::Error | AnswerStatus::Complete => {
                        tr!("documents.summarize.status.error")
                    }
                };
                tr!(
                    "documents.summarize.incomplete",
                    part = part,
                    status = status,
                    reason = crate::llm::reason::shown(reason)
                )
            }
            RunError::Final(e) => e.to_string().into(),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for RunError {}

struct Tally {
    tx: UnboundedSender<Event>,
    tokens_in: u64,
    tokens_out: u64,
    requests: usize,
}

impl Tally {
    fn add(&mut self, answer: &Answer, sent_tokens: u64) {
        self.requests += 1;
        match answer.usage {
            Some(u) => {
                self.tokens_in += u.input;
                self.tokens_out += u.output;
            }
            None => {
                self.tokens_in += sent_tokens;
                self.tokens_out += crate::llm::context::count_tokens(&answer.text);
            }
        }
    }

    fn progress(&self, phase: Phase, done: usize, total: usize) {
        let _ = self.tx.send(Event::Progress(Progress {
            phase,
            done,
            total,
            tokens_in: self.tokens_in,
            tokens_out: self.tokens_out,
        }));
    }
}

/// One notes or merge request to make.
struct Task {
    label: String,
    /// The label in the interface's language (errors).
    shown: String,
    system: &'static str,
    user: String,
    tokens: u64,
}

/// Run the job: notes on every part (at most `concurrency` at a time), merges while the
/// notes do not fit, then the final answer, reporting on `tx`. Aborting the task stops every
/// request it started.
pub async fn run(
    endpoint: Endpoint,
    job: Job,
    tx: UnboundedSender<Event>,
) -> Result<Done, RunError> {
    let mut tally = Tally {
        tx: tx.clone(),
        tokens_in: 0,
        tokens_out: 0,
        requests: 0,
    };
    let note_cap = job.settings.note_tokens.max(64);
    // Notes on every part.
    let tasks: Vec<Task> = job
        .parts
        .iter()
        .map(|p| {
            let d = &job.docs[p.doc];
            let label = part_label(&d.name, p.index, p.of);
            Task {
                shown: part_shown(&d.name, p.index, p.of),
                user: notes_prompt(&job.hint, &d.name, p.index, p.of, &d.text[p.start..p.end]),
                label,
                system: NOTES_SYSTEM,
                tokens: p.tokens as u64 + job.frame_tokens + NOTES_PROMPT_TOKENS,
            }
        })
        .collect();
    let mut notes = run_batch(&endpoint, &job, tasks, note_cap, Phase::Reading, &mut tally).await?;
    // Merge rounds.
    let budget = part_budget(job.frame_tokens, &job.settings) as u64;
    let mut round = 0;
    loop {
        let sizes: Vec<u64> = notes
            .iter()
            .map(|n| crate::llm::context::count_tokens(&n.text))
            .collect();
        if notes.len() <= 1 || fits_final(&sizes, job.frame_tokens, &job.settings) {
            break;
        }
        round += 1;
        let tasks: Vec<Task> = group(&sizes, budget)
            .into_iter()
            .map(|r| {
                let first = &notes[r.start].label;
                let last = &notes[r.end - 1].label;
                let label = format!("{first} … {last}");
                let shown = format!("{} … {}", notes[r.start].shown, notes[r.end - 1].shown);
                let user = format!(
                    "The user's request:\n<request>\n{}\n</request>\n\n{}",
                    job.hint.trim(),
                    notes_text(&notes[r.clone()])
                );
                let tokens = sizes[r].iter().sum::<u64>() + NOTES_PROMPT_TOKENS;
                Task {
                    label,
                    shown,
                    system: MERGE_SYSTEM,
                    user,
                    tokens,
                }
            })
            .collect();
        notes = run_batch(
            &endpoint,
            &job,
            tasks,
            note_cap,
            Phase::Merging(round),
            &mut tally,
        )
        .await?;
    }
    // The answer.
    tally.progress(Phase::Answering, 0, 1);
    let user = (job.render)(&final_documents(job.parts.len(), &notes));
    let mut messages = Vec::with_capacity(job.history.len() + 2);
    if let Some(s) = &job.system {
        messages.push(ChatMessage {
            role: ChatRole::System,
            content: s.clone(),
        });
    }
    messages.extend(job.history.iter().cloned());
    messages.push(ChatMessage {
        role: ChatRole::User,
        content: user,
    });
    let request = ChatRequest {
        model: job.model.clone(),
        messages,
        max_output_tokens: job.max_output_tokens,
        temperature: job.temperature,
        prompt_tokens: None,
    };
    let answer = chat_to_end(endpoint, request, |ev| {
        let _ = tx.send(Event::Answer(ev));
    })
    .await
    .map_err(RunError::Final)?;
    let sent = job.frame_tokens
        + notes
            .iter()
            .map(|n| crate::llm::context::count_tokens(&n.text))
            .sum::<u64>();
    tally.add(&answer, sent);
    tally.progress(Phase::Answering, 1, 1);
    Ok(Done {
        answer,
        parts: job.parts.len(),
        requests: tally.requests,
        tokens_in: tally.tokens_in,
        tokens_out: tally.tokens_out,
    })
}

/// Run the job and report it like one answer on `tx` (retries, the final answer's text,
/// then exactly one `Finished`): the answer ends with a line saying it was built from N
/// parts, and its usage is the whole run's. Every other event goes to `on_event` (progress).
pub async fn run_as_answer(
    endpoint: Endpoint,
    job: Job,
    tx: UnboundedSender<EngineEvent>,
    mut on_event: impl FnMut(&Event) + Send,
) {
    let (etx, mut erx) = unbounded_channel();
    let names: Vec<String> = job.docs.iter().map(|d| d.name.clone()).collect();
    let runner = AbortOnDrop(tokio::spawn(async move {
        let _ = etx.send(Event::Done(run(endpoint, job, etx.clone()).await));
    }));
    let mut result = None;
    while let Some(ev) = erx.recv().await {
        match ev {
            Event::Answer(inner) => {
                let _ = tx.send(inner);
            }
            Event::Retrying(n) => {
                on_event(&Event::Retrying(n.clone()));
                let _ = tx.send(EngineEvent::Retrying(n));
            }
            Event::Done(r) => {
                result = Some(r);
                break;
            }
            Event::Progress(p) => {
                // Once a part has been read: nothing is spent before.
                if p.tokens_in > 0 {
                    let _ = tx.send(EngineEvent::Spent(crate::llm::TokenUsage {
                        input: p.tokens_in,
                        cached: 0,
                        output: p.tokens_out,
                    }));
                }
                on_event(&Event::Progress(p));
            }
        }
    }
    drop(runner);
    let result = match result {
        Some(Ok(done)) => {
            let mut answer = done.answer;
            if answer.status == AnswerStatus::Complete {
                let footer = tr!(
                    "documents.summarize.footer",
                    parts = done.parts,
                    names = names.join(", "),
                    requests = done.requests
                )
                .into_owned();
                let _ = tx.send(EngineEvent::Delta(footer.clone()));
                answer.text.push_str(&footer);
            }
            answer.usage = Some(crate::llm::TokenUsage {
                input: done.tokens_in,
                cached: 0,
                output: done.tokens_out,
            });
            Ok(answer)
        }
        Some(Err(RunError::Final(e))) => Err(e),
        Some(Err(RunError::Part { part, error })) => Err(LlmError::InPart {
            part,
            source: Box::new(error),
        }),
        Some(Err(e)) => Err(LlmError::Other(e.to_string())),
        None => Err(LlmError::Other(
            tr!("documents.summarize.stopped").into_owned(),
        )),
    };
    let _ = tx.send(EngineEvent::Finished(result));
}

/// Run `tasks` at most `concurrency` at a time; their notes in the tasks' order. The first
/// failure stops the others.
async fn run_batch(
    endpoint: &Endpoint,
    job: &Job,
    tasks: Vec<Task>,
    note_cap: u64,
    phase: Phase,
    tally: &mut Tally,
) -> Result<Vec<Note>, RunError> {
    let total = tasks.len();
    tally.progress(phase, 0, total);
    let limit = job.settings.concurrency.max(1);
    let mut set = JoinSet::new();
    let mut labels = Vec::with_capacity(total);
    let mut shown = Vec::with_capacity(total);
    let mut sent = Vec::with_capacity(total);
    let mut requests = Vec::with_capacity(total);
    for t in tasks {
        labels.push(t.label);
        shown.push(t.shown);
        sent.push(t.tokens);
        requests.push(ChatRequest {
            model: job.model.clone(),
            messages: vec![
                ChatMessage {
                    role: ChatRole::System,
                    content: t.system.to_string(),
                },
                ChatMessage {
                    role: ChatRole::User,
                    content: t.user,
                },
            ],
            max_output_tokens: Some(note_cap),
            temperature: Some(0.0),
            prompt_tokens: None,
        });
    }
    // Each request is counted as a part (or a merge) of the answer it belongs to.
    let kind = if matches!(phase, Phase::Reading) {
        "part"
    } else {
        "merge"
    };
    let endpoint = &endpoint.tagged(crate::llm::meter::Tag {
        kind,
        ..endpoint.tag().clone()
    });
    // Start them in order, at most `limit` at a time; dropping the set aborts the rest.
    let mut queue = requests.into_iter().enumerate();
    let mut notes: Vec<Option<Note>> = vec![None; total];
    let mut done = 0;
    loop {
        while set.len() < limit {
            let Some((i, request)) = queue.next() else {
                break;
            };
            let endpoint = endpoint.clone();
            let events = tally.tx.clone();
            set.spawn(async move { (i, ask_once(endpoint, request, &events).await) });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (i, result) = joined.map_err(|e| RunError::Part {
            part: tr!("documents.summarize.one_of_the_parts").into_owned(),
            error: LlmError::Other(tr!("documents.summarize.task_failed", why = e).into_owned()),
        })?;
        let answer = result.map_err(|error| RunError::Part {
            part: shown[i].clone(),
            error,
        })?;
        if answer.status != AnswerStatus::Complete {
            return Err(RunError::Incomplete {
                part: shown[i].clone(),
                status: answer.status,
                reason: answer
                    .reason
                    .clone()
                    .unwrap_or_else(|| tr!("documents.summarize.no_reason").into_owned()),
            });
        }
        tally.add(&answer, sent[i]);
        done += 1;
        tally.progress(phase, done, total);
        notes[i] = Some(Note {
            label: labels[i].clone(),
            shown: shown[i].clone(),
            text: answer.text,
        });
    }
    Ok(notes.into_iter().flatten().collect())
}

/// One request to its end; retries are reported on `events`.
async fn ask_once(
    endpoint: Endpoint,
    request: ChatRequest,
    events: &UnboundedSender<Event>,
) -> Result<Answer, LlmError> {
    chat_to_end(endpoint, request, |ev| {
        if let EngineEvent::Retrying(n) = ev {
            let _ = events.send(Event::Retrying(n));
        }
    })
    .await
}
