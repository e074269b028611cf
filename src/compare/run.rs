//! Running a comparison: the schedule of [`super::figures::schedule`] carried out one
//! request at a time, each driven to its end by the chat core ([`crate::chat::drive`]) like
//! any answer, then the judge's questions.
//!
//! Every request goes through the endpoint's meter, tagged `compare` (the judge's `judge`):
//! checked against the budgets before it is sent and recorded in the usage ledger. A model
//! that fails for good (unknown at the endpoint, a rejected key, a prompt longer than its
//! window, a budget's refusal) stops there, reported with its error; the others go on. A
//! stop (Ctrl-C) ends it all, keeping what was measured. Nothing is saved in the history.
//!
//! This is the only part of `compare` that awaits; it prints nothing (the caller's
//! [`Progress`] shows what is happening).

use std::future::Future;

use futures_util::FutureExt;

use super::judge::{self, Judged, Judgement, Outcome};
use super::{ModelRuns, Sample, Stopped};
use crate::chat::{Driven, End, NoSave, Saver, Sink, conversation, drive, record};
use crate::config::{ModelInfo, ModelTable};
use crate::llm::meter::Tag;
use crate::llm::stream::{AbortOnDrop, run_chat_deltas};
use crate::llm::{
    AnswerStatus, ChatMessage, ChatRequest, Endpoint, ErrorClass, LlmError, RetryNotice,
};

/// What to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The models, in the order given (the order of each round).
    pub models: Vec<String>,
    /// Runs per model.
    pub runs: usize,
    /// The conversation sent to each, unchanged.
    pub messages: Vec<ChatMessage>,
    /// Answer length cap.
    pub max_output_tokens: Option<u64>,
    /// Sampling temperature (the server's default when `None`).
    pub temperature: Option<f32>,
    /// The judge model, if one is asked.
    pub judge: Option<String>,
}

/// What the caller shows while a comparison runs (all optional).
pub trait Progress: Send {
    /// A request of run `run` (1-based) of `runs` to `model` is about to go.
    fn started(&mut self, _run: usize, _runs: usize, _model: &str) {}
    /// A wait before a retry.
    fn retrying(&mut self, _model: &str, _notice: &RetryNotice) {}
    /// A run ended.
    fn ended(&mut self, _model: &str, _sample: &Sample) {}
    /// The judge is asked question `at` (1-based) of `of`.
    fn judging(&mut self, _at: usize, _of: usize, _a: &str, _b: &str) {}
}

/// What a comparison gave.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ran {
    /// Each model's runs, in the order given.
    pub models: Vec<ModelRuns>,
    /// The judge's verdicts, when one was asked.
    pub judge: Option<Judged>,
    /// Why it ended early, if it did.
    pub stopped: Option<Stopped>,
    /// The class of the first request that failed before an answer started.
    pub failure: Option<ErrorClass>,
}

/// Whether an error makes a model's (or the judge's) remaining requests pointless: they
/// would all fail the same way.
fn final_for_model(e: &LlmError) -> bool {
    matches!(
        e.class(),
        ErrorClass::Auth | ErrorClass::BadInput | ErrorClass::Budget
    )
}

/// Run the comparison of `plan` on `endpoint` (its meter sees every request); `stop`
/// resolving stops it, keeping what was measured.
pub async fn run(
    endpoint: &Endpoint,
    prices: &ModelTable,
    plan: &Plan,
    progress: &mut dyn Progress,
    stop: impl Future<Output = ()>,
) -> Ran {
    let stop = stop.shared();
    let compare = endpoint.tagged(Tag {
        kind: "compare",
        ..endpoint.tag().clone()
    });
    let mut ran = Ran {
        models: plan.models.iter().map(|m| ModelRuns::new(m)).collect(),
        ..Ran::default()
    };
    // A prompt longer than a model's window is that model's error, found before sending.
    let conv = conversation::Conversation {
        tokens: vec![None; plan.messages.len()],
        rows: vec![None; plan.messages.len()],
        messages: plan.messages.clone(),
    };
    for m in ran.models.iter_mut() {
        let info = prices.get(&m.model).cloned().unwrap_or_default();
        let reserve = conversation::reserve(plan.max_output_tokens, &info);
        let (fitted, _) = conversation::fit(
            &conv,
            info.context_window,
            reserve,
            &crate::llm::context::count_tokens,
        );
        if let Err(e) = fitted {
            let why = tr!("compare.run.not_sent", why = e).into_owned();
            m.samples.push(failed(1, why.clone()));
            m.gave_up = Some(why);
        }
    }
    let prompt_tokens = record::prompt_estimate(None, &plan.messages);
    for (run, i) in super::figures::schedule(plan.models.len(), plan.runs) {
        if ran.models[i].gave_up.is_some() {
            continue;
        }
        if stop.peek().is_some() {
            ran.stopped = Some(Stopped::ByYou);
            break;
        }
        let model = plan.models[i].clone();
        progress.started(run + 1, plan.runs, &model);
        let request = ChatRequest {
            model: model.clone(),
            messages: plan.messages.clone(),
            max_output_tokens: plan.max_output_tokens,
            temperature: plan.temperature,
            prompt_tokens: Some(prompt_tokens),
        };
        let price = prices.get(&model);
        let mut sink = Shown {
            progress: &mut *progress,
            model: &model,
        };
        let driven = once(
            &compare,
            request,
            price,
            prompt_tokens,
            &mut sink,
            &mut NoSave,
            stop.clone(),
        )
        .await;
        let sample = sample(run + 1, &driven);
        progress.ended(&model, &sample);
        let m = &mut ran.models[i];
        m.samples.push(sample);
        if let End::Failed(e) = &driven.end {
            ran.failure.get_or_insert(e.class());
        }
        match &driven.end {
            End::Failed(e) if final_for_model(e) => {
                if e.class() == ErrorClass::Budget {
                    ran.stopped.get_or_insert(Stopped::Budget(e.to_string()));
                }
                m.gave_up = Some(e.to_string());
            }
            End::Stopped(_) => {
                ran.stopped = Some(Stopped::ByYou);
                break;
            }
            _ => {}
        }
    }
    if let Some(judge_model) = &plan.judge
        && ran.stopped != Some(Stopped::ByYou)
    {
        let judged = judge(
            endpoint,
            prices,
            plan,
            judge_model,
            &ran.models,
            progress,
            &stop,
        )
        .await;
        if let (Some(s), None) = (judged.1, &ran.stopped) {
            ran.stopped = Some(s);
        }
        ran.judge = Some(judged.0);
    }
    ran
}

/// Ask the judge about each pair of first answers, in both orders.
async fn judge<S: Future<Output = ()>>(
    endpoint: &Endpoint,
    prices: &ModelTable,
    plan: &Plan,
    judge_model: &str,
    models: &[ModelRuns],
    progress: &mut dyn Progress,
    stop: &futures_util::future::Shared<S>,
) -> (Judged, Option<Stopped>) {
    let endpoint = endpoint.tagged(Tag {
        kind: "judge",
        ..endpoint.tag().clone()
    });
    let mut judged = Judged {
        model: judge_model.to_string(),
        ..Judged::default()
    };
    for m in models.iter().filter(|m| m.first_answer().is_none()) {
        judged
            .notes
            .push(tr!("compare.run.nothing_to_judge", model = m.model).into_owned());
    }
    let pairs: Vec<(usize, usize)> = judge::pairs(models.len())
        .into_iter()
        .filter(|(a, b)| models[*a].first_answer().is_some() && models[*b].first_answer().is_some())
        .collect();
    let price = prices.get(judge_model);
    let mut stopped = None;
    for (k, &(a, b)) in pairs.iter().enumerate() {
        if stop.peek().is_some() {
            stopped = Some(Stopped::ByYou);
            break;
        }
        let (Some(first), Some(second)) = (models[a].first_answer(), models[b].first_answer())
        else {
            continue;
        };
        progress.judging(k + 1, pairs.len(), &models[a].model, &models[b].model);
        let messages = judge::messages(&plan.messages, &first.text, &second.text);
        let prompt_tokens = record::prompt_estimate(None, &messages);
        let request = ChatRequest {
            model: judge_model.to_string(),
            messages,
            max_output_tokens: None,
            temperature: None,
            prompt_tokens: Some(prompt_tokens),
        };
        let mut sink = Shown {
            progress: &mut *progress,
            model: judge_model,
        };
        let driven = once(
            &endpoint,
            request,
            price,
            prompt_tokens,
            &mut sink,
            &mut NoSave,
            stop.clone(),
        )
        .await;
        let outcome = match driven.end {
            End::Answered(answer) if answer.status == AnswerStatus::Error => Outcome::Failed(
                answer
                    .reason
                    .unwrap_or_else(|| tr!("compare.run.server_error").into_owned()),
            ),
            End::Answered(answer) => match judge::parse(&answer.text) {
                Some((v, reason)) => Outcome::Verdict(v, reason),
                None => Outcome::NoVerdict(answer.text),
            },
            End::Failed(e) => {
                let why = e.to_string();
                judged.judgements.push(Judgement {
                    a,
                    b,
                    outcome: Outcome::Failed(why.clone()),
                });
                if final_for_model(&e) {
                    if e.class() == ErrorClass::Budget {
                        stopped = Some(Stopped::Budget(why.clone()));
                    }
                    judged
                        .notes
                        .push(tr!("compare.run.judge_stopped", why = why).into_owned());
                    break;
                }
                continue;
            }
            End::Stopped(_) => {
                stopped = Some(Stopped::ByYou);
                break;
            }
            End::Lost(answer) => Outcome::Failed(answer.reason.unwrap_or_default()),
        };
        judged.judgements.push(Judgement { a, b, outcome });
    }
    (judged, stopped)
}

/// Retries are shown through the caller's progress; the text is kept by the driver.
struct Shown<'p> {
    progress: &'p mut dyn Progress,
    model: &'p str,
}

impl Sink for Shown<'_> {
    fn delta(&mut self, _text: &str) {}

    fn retrying(&mut self, notice: &RetryNotice) {
        self.progress.retrying(self.model, notice);
    }
}

/// One request, driven to its end by the chat core: its text and retries shown through
/// `sink`, its final record handed to `saver` (the CLI keeps none; the app's compare view
/// keeps it, to store the answer the user chooses). Used by `clerk compare` and the app.
pub async fn once(
    endpoint: &Endpoint,
    request: ChatRequest,
    price: Option<&ModelInfo>,
    prompt_tokens: u64,
    sink: &mut (dyn Sink + Send),
    saver: &mut (dyn Saver + Send),
    stop: impl Future<Output = ()>,
) -> Driven {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(run_chat_deltas(endpoint.clone(), request, tx));
    drive(
        rx,
        AbortOnDrop(task),
        stop,
        sink,
        saver,
        price,
        Some(prompt_tokens),
    )
    .await
}

fn failed(run: usize, error: String) -> Sample {
    Sample {
        run,
        error: Some(error),
        ..Sample::default()
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A run's sample from how its request ended (the figures are computed from it).
pub fn sample(run: usize, driven: &Driven) -> Sample {
    let answer = match &driven.end {
        End::Failed(e) => return failed(run, e.to_string()),
        End::Answered(a) | End::Stopped(a) | End::Lost(a) => a,
    };
    let error = (answer.status != AnswerStatus::Complete).then(|| {
        let why = answer.reason.clone().unwrap_or_default();
        if why.is_empty() {
            answer.status.as_str().to_string()
        } else {
            format!("{}: {why}", answer.status.as_str())
        }
    });
    Sample {
        run,
        text: answer.text.clone(),
        error,
        ttft_ms: answer.ttft.map(ms),
        total_ms: Some(ms(answer.duration)),
        prompt_tokens: driven.usage.tokens_in,
        completion_tokens: driven.usage.tokens_out,
        cost_usd: driven.cost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Answer;
    use std::time::Duration;

    fn driven(end: End, cost: Option<f64>) -> Driven {
        Driven {
            end,
            cost,
            usage: crate::store::Usage {
                tokens_in: Some(12),
                tokens_cached: Some(0),
                tokens_out: Some(3),
                estimated: false,
            },
            save_error: None,
        }
    }

    fn answer(status: AnswerStatus, reason: Option<&str>) -> Answer {
        Answer {
            text: "CNY 800".into(),
            status,
            reason: reason.map(str::to_string),
            finish_reason: None,
            usage: None,
            model: None,
            ttft: Some(Duration::from_millis(250)),
            duration: Duration::from_millis(1500),
            malformed: 0,
        }
    }

    #[test]
    fn a_complete_answer_is_measured_and_priced() {
        let s = sample(
            2,
            &driven(
                End::Answered(answer(AnswerStatus::Complete, None)),
                Some(0.01),
            ),
        );
        assert_eq!(s.run, 2);
        assert!(s.is_answer());
        assert_eq!((s.ttft_ms, s.total_ms), (Some(250.0), Some(1500.0)));
        assert_eq!((s.prompt_tokens, s.completion_tokens), (Some(12), Some(3)));
        assert_eq!(s.cost_usd, Some(0.01));
    }

    #[test]
    fn a_cut_off_answer_keeps_its_text_and_says_why_and_a_failure_has_no_figures() {
        let s = sample(
            1,
            &driven(
                End::Answered(answer(AnswerStatus::Truncated, Some("no finish reason"))),
                None,
            ),
        );
        assert_eq!(s.error.as_deref(), Some("truncated: no finish reason"));
        assert_eq!(s.text, "CNY 800");
        let e = LlmError::Refused("not sent: the daily budget of $1.00 is reached".into());
        assert!(final_for_model(&e));
        let s = sample(3, &driven(End::Failed(e), None));
        assert_eq!(
            s.error.as_deref(),
            Some("not sent: the daily budget of $1.00 is reached")
        );
        assert_eq!((s.ttft_ms, s.cost_usd, s.prompt_tokens), (None, None, None));
        assert!(!final_for_model(&LlmError::Other(
            "the connection dropped".into()
        )));
    }
}
