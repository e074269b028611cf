//! Running one chat completion as a stream: request, retries, reading, timeouts.
//!
//! [`run_chat`] is meant to run in its own task; it reports through a channel
//! ([`EngineEvent`]) and is cancelled by aborting the task (the caller keeps the text it
//! was sent). Failures before the answer starts are errors; once text is flowing, a
//! dropped connection or a silent server yields an interrupted [`Answer`] holding every
//! word that arrived. Streams are never retried once started.

use std::time::{Duration, Instant};

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, ChatCompletionStreamOptions, CreateChatCompletionRequest,
};
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

use super::answer::{AnswerState, AnswerStatus, TokenUsage, parse_error_body};
use super::client::{Endpoint, RetryNotice, read_limited};
use super::error::{LlmError, excerpt};
use super::meter::Reading;
use super::reason;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// One message sent to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who said it.
    pub role: ChatRole,
    /// What was said.
    pub content: String,
}

/// What to ask.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// Model name.
    pub model: String,
    /// The conversation, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Cap on the answer length.
    pub max_output_tokens: Option<u64>,
    /// Sampling temperature (the server's default when `None`).
    pub temperature: Option<f32>,
    /// The prompt's size in tokens when the caller has it (the chat core's, from the counts
    /// kept with the messages): what a budget weighs and a stopped answer is counted with.
    /// `None`: estimated here from the texts.
    pub prompt_tokens: Option<u64>,
}

impl ChatRequest {
    /// The JSON body, built with async-openai's request types.
    pub fn to_body(&self) -> Result<Bytes, LlmError> {
        let messages = self
            .messages
            .iter()
            .map(|m| -> ChatCompletionRequestMessage {
                match m.role {
                    ChatRole::System => ChatCompletionRequestSystemMessage {
                        content: m.content.as_str().into(),
                        name: None,
                    }
                    .into(),
                    ChatRole::User => ChatCompletionRequestUserMessage {
                        content: m.content.as_str().into(),
                        name: None,
                    }
                    .into(),
                    ChatRole::Assistant => ChatCompletionRequestAssistantMessage {
                        content: Some(ChatCompletionRequestAssistantMessageContent::Text(
                            m.content.clone(),
                        )),
                        ..Default::default()
                    }
                    .into(),
                }
            })
            .collect();
        let request = CreateChatCompletionRequest {
            model: self.model.clone(),
            messages,
            stream: Some(true),
            stream_options: Some(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            }),
            max_completion_tokens: self
                .max_output_tokens
                .map(|n| n.min(u32::MAX as u64) as u32),
            temperature: self.temperature,
            ..Default::default()
        };
        // Room for the texts and their framing up front: a long session's body is ~0.5 MB,
        // which growing from nothing copies over and over.
        let room = self
            .messages
            .iter()
            .map(|m| m.content.len() + 64)
            .sum::<usize>()
            + 512;
        let mut body = Vec::with_capacity(room);
        serde_json::to_writer(&mut body, &request)
            .map(|()| Bytes::from(body))
            .map_err(|e| LlmError::Other(tr!("llm.error.cannot_encode", why = e).into_owned()))
    }
}

/// Progress of a running answer.
#[derive(Debug)]
pub enum EngineEvent {
    /// Waiting before a retry.
    Retrying(RetryNotice),
    /// The server accepted the request; the answer is starting.
    Started,
    /// More answer text, exactly as received (sanitize before printing).
    Delta(String),
    /// What the requests made for this answer so far used, by the server's counts (a
    /// summary read in parts says so after each finished part): an answer stopped or
    /// failed on the way keeps what they cost rather than nothing.
    Spent(TokenUsage),
    /// The end: an answer (possibly partial) or an error before it started.
    Finished(Result<Answer, LlmError>),
}

/// A finished (or stopped) answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The text exactly as received.
    pub text: String,
    /// How it ended.
    pub status: AnswerStatus,
    /// Why, when it is not a plain complete answer.
    pub reason: Option<String>,
    /// The server's finish reason.
    pub finish_reason: Option<String>,
    /// Token usage, when the server sent it.
    pub usage: Option<TokenUsage>,
    /// The model that answered, as the server named it.
    pub model: Option<String>,
    /// Time from sending to the first text.
    pub ttft: Option<Duration>,
    /// Time from sending to the end.
    pub duration: Duration,
    /// Chunks that could not be parsed (skipped).
    pub malformed: usize,
}

/// Run one chat completion, reporting through `tx`. Always ends with exactly one
/// [`EngineEvent::Finished`] unless the task is aborted.
pub async fn run_chat(endpoint: Endpoint, request: ChatRequest, tx: UnboundedSender<EngineEvent>) {
    let result = chat(&endpoint, &request, &tx, true).await;
    let _ = tx.send(EngineEvent::Finished(result));
}

/// Like [`run_chat`], but the final [`Answer`]'s text is left empty: the caller gathers the
/// deltas (the chat core does), so the text is not kept twice while it streams.
pub async fn run_chat_deltas(
    endpoint: Endpoint,
    request: ChatRequest,
    tx: UnboundedSender<EngineEvent>,
) {
    let result = chat(&endpoint, &request, &tx, false).await;
    let _ = tx.send(EngineEvent::Finished(result));
}

/// Run one chat completion to its end, handing every other event to `on_event`. Dropping the
/// returned future aborts the request.
pub async fn chat_to_end(
    endpoint: Endpoint,
    request: ChatRequest,
    mut on_event: impl FnMut(EngineEvent),
) -> Result<Answer, LlmError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _task = AbortOnDrop(tokio::spawn(run_chat(endpoint, request, tx)));
    while let Some(ev) = rx.recv().await {
        match ev {
            EngineEvent::Finished(r) => return r,
            other => on_event(other),
        }
    }
    Err(LlmError::Other(tr!("llm.error.task_ended").into_owned()))
}

/// A spawned task that is aborted when this is dropped.
#[derive(Debug)]
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn chat(
    endpoint: &Endpoint,
    request: &ChatRequest,
    tx: &UnboundedSender<EngineEvent>,
    keep_text: bool,
) -> Result<Answer, LlmError> {
    let start = Instant::now();
    // What a stopped answer is counted with, and what a budget weighs: the caller's count,
    // or estimated as sent (a long session's prompt is ~0.5 MB to go over again).
    let prompt = request.prompt_tokens.unwrap_or_else(|| {
        super::estimate::rough_prompt_tokens(request.messages.iter().map(|m| m.content.as_str()))
    });
    // The admin's policy first: a model it does not allow is refused before anything else.
    endpoint.allow_chat_model(&request.model)?;
    if let Some(m) = endpoint.meter() {
        let most = request.max_output_tokens.unwrap_or(DEFAULT_ANSWER_ROOM);
        m.allow(endpoint.tag(), &request.model, prompt, most)
            .map_err(LlmError::Refused)?;
    }
    let body = request.to_body()?;
    let mut on_wait = |n: RetryNotice| {
        let _ = tx.send(EngineEvent::Retrying(n));
    };
    let resp = match endpoint
        .send(Method::POST, "/chat/completions", Some(body), &mut on_wait)
        .await
    {
        Ok(r) => r,
        Err(LlmError::UnknownModel {
            message, available, ..
        }) => {
            return Err(LlmError::UnknownModel {
                model: request.model.clone(),
                message,
                available,
            });
        }
        Err(e) => return Err(e),
    };
    let _ = tx.send(EngineEvent::Started);
    // From here the request is paid for: it is recorded however it ends (when this future
    // is dropped — a stopped answer — with what had arrived).
    let mut reading = Reading::new(
        endpoint.meter().cloned(),
        endpoint.tag().clone(),
        &request.model,
        prompt,
    );
    let result = answer_of(endpoint, resp, start, tx, keep_text, &reading).await;
    match &result {
        Ok(a) => reading.finish(a.usage, a.status.as_str()),
        Err(_) => reading.finish(None, "error"),
    }
    result
}

/// The most an answer is expected to take when no cap is asked for (budgets weigh it).
pub const DEFAULT_ANSWER_ROOM: u64 = 4_096;

/// The response of a sent request, read to its end.
async fn answer_of(
    endpoint: &Endpoint,
    resp: reqwest::Response,
    start: Instant,
    tx: &UnboundedSender<EngineEvent>,
    keep_text: bool,
    reading: &Reading,
) -> Result<Answer, LlmError> {
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        let text = read_limited(resp, 16 * 1024 * 1024).await;
        let mut answer = whole_json_answer(&text, start, tx)?;
        reading.text(&answer.text);
        if !keep_text {
            answer.text.clear();
        }
        return Ok(answer);
    }
    read_stream(endpoint, resp, &content_type, start, tx, keep_text, reading).await
}

/// Some servers ignore `stream: true` and send one JSON completion.
fn whole_json_answer(
    text: &str,
    start: Instant,
    tx: &UnboundedSender<EngineEvent>,
) -> Result<Answer, LlmError> {
    if let Some(e) = parse_error_body(text) {
        return Err(LlmError::Other(
            tr!(
                "llm.error.server_reported",
                message = excerpt(&e.message, 300)
            )
            .into_owned(),
        ));
    }
    #[derive(Deserialize)]
    struct Whole {
        #[serde(default)]
        choices: Vec<WholeChoice>,
        #[serde(default)]
        model: Option<String>,
        #[serde(default)]
        usage: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct WholeChoice {
        message: WholeMessage,
        #[serde(default)]
        finish_reason: Option<String>,
    }
    #[derive(Deserialize)]
    struct WholeMessage {
        #[serde(default)]
        content: Option<String>,
    }
    let whole: Whole = serde_json::from_str(text).map_err(|_| LlmError::NotAStream {
        content_type: "JSON".to_string(),
        excerpt: excerpt(text, 200),
    })?;
    let choice = whole
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::Other(tr!("llm.error.no_choices").into_owned()))?;
    let answer_text = choice.message.content.unwrap_or_default();
    let _ = tx.send(EngineEvent::Delta(answer_text.clone()));
    let usage = whole.usage.map(|u| TokenUsage {
        input: u["prompt_tokens"].as_u64().unwrap_or(0),
        cached: u["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
        output: u["completion_tokens"].as_u64().unwrap_or(0),
    });
    let elapsed = start.elapsed();
    let (status, reason) = match &choice.finish_reason {
        Some(_) => (AnswerStatus::Complete, None),
        None => (
            AnswerStatus::Truncated,
            Some(reason::stored(|| tr!("llm.reason.whole_without_finish"))),
        ),
    };
    Ok(Answer {
        text: answer_text,
        status,
        reason,
        finish_reason: choice.finish_reason,
        usage,
        model: whole.model,
        ttft: Some(elapsed),
        duration: elapsed,
        malformed: 0,
    })
}

async fn read_stream(
    endpoint: &Endpoint,
    mut resp: reqwest::Response,
    content_type: &str,
    start: Instant,
    tx: &UnboundedSender<EngineEvent>,
    keep_text: bool,
    reading: &Reading,
) -> Result<Answer, LlmError> {
    let mut state = if keep_text {
        AnswerState::new()
    } else {
        AnswerState::without_text()
    };
    let mut ttft = None;
    let mut checked = content_type.starts_with("text/event-stream");
    let mut sniff = Vec::new();
    // The text of one read goes out as one delta: fewer messages and wake-ups per token.
    let mut pending = String::new();
    let flush = |pending: &mut String| {
        if !pending.is_empty() {
            reading.text(pending);
            let _ = tx.send(EngineEvent::Delta(std::mem::take(pending)));
        }
    };
    let mut stopped: Option<String> = None;
    // The idle deadline runs between complete events (a keep-alive comment line counts),
    // not between bytes: a server that drips a byte now and then but never finishes a line
    // is stopped like a silent one.
    let mut last_event = tokio::time::Instant::now();
    let mut events = state.complete_items();
    let mut bytes_since = false;
    loop {
        let next = tokio::time::timeout_at(last_event + endpoint.idle_timeout, resp.chunk()).await;
        if let Ok(Ok(Some(_))) = &next {
            bytes_since = true;
        }
        match next {
            Ok(Ok(Some(bytes))) => {
                if !checked {
                    // Not labelled as an event stream: look at the first bytes before
                    // trusting it (a proxy's HTML page must not become an empty answer).
                    sniff.extend_from_slice(&bytes);
                    let head = String::from_utf8_lossy(&sniff);
                    let trimmed = head.trim_start();
                    if trimmed.len() < 6 && sniff.len() < 1024 {
                        continue;
                    }
                    if !(trimmed.starts_with("data:")
                        || trimmed.starts_with(':')
                        || trimmed.starts_with("event:"))
                    {
                        let rest = read_limited(resp, 64 * 1024).await;
                        let body = format!("{head}{rest}");
                        return Err(LlmError::NotAStream {
                            content_type: if content_type.is_empty() {
                                tr!("llm.error.no_content_type").into_owned()
                            } else {
                                content_type.to_string()
                            },
                            excerpt: excerpt(&body, 200),
                        });
                    }
                    checked = true;
                    let first = std::mem::take(&mut sniff);
                    feed(&mut state, &first, &mut ttft, start, &mut pending);
                } else {
                    feed(&mut state, &bytes, &mut ttft, start, &mut pending);
                }
                flush(&mut pending);
                if state.complete_items() > events {
                    events = state.complete_items();
                    last_event = tokio::time::Instant::now();
                    bytes_since = false;
                }
                if state.is_over() {
                    break;
                }
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                let cause = root_cause(&e);
                stopped = Some(reason::stored(|| tr!("llm.reason.dropped", detail = cause)));
                break;
            }
            Err(_) => {
                let secs = endpoint.idle_timeout.as_secs();
                stopped = Some(match bytes_since {
                    true => reason::stored(|| tr!("llm.reason.scraps", detail = secs)),
                    false => reason::stored(|| tr!("llm.reason.silent", detail = secs)),
                });
                break;
            }
        }
    }
    if !checked && !sniff.is_empty() {
        let first = std::mem::take(&mut sniff);
        feed(&mut state, &first, &mut ttft, start, &mut pending);
    }
    if stopped.is_none() {
        state.finish(&mut |d| {
            ttft.get_or_insert_with(|| start.elapsed());
            pending.push_str(d);
        });
    }
    flush(&mut pending);
    let (status, reason) = match stopped {
        Some(why) if state.error().is_none() && state.finish_reason().is_none() => {
            (AnswerStatus::Interrupted, Some(why))
        }
        _ => state.status_at_end(),
    };
    Ok(Answer {
        text: state.text().to_string(),
        status,
        reason,
        finish_reason: state.finish_reason().map(str::to_string),
        usage: state.usage(),
        model: state.model().map(str::to_string),
        ttft,
        duration: start.elapsed(),
        malformed: state.malformed(),
    })
}

/// Feed bytes, noting the time of the first text and gathering the text of this read.
fn feed(
    state: &mut AnswerState,
    bytes: &[u8],
    ttft: &mut Option<Duration>,
    start: Instant,
    pending: &mut String,
) {
    state.feed(bytes, &mut |d| {
        ttft.get_or_insert_with(|| start.elapsed());
        pending.push_str(d);
    });
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Policy, Profile};
    use crate::llm::meter::tests::Seen;
    use std::sync::Arc;

    /// The prompt a budget weighs: the caller's count when it gives one (the chat core's,
    /// from counts kept with the messages), else the estimate from the texts. A refusing
    /// meter stops the request before anything is sent, so no server is needed.
    #[tokio::test]
    async fn a_budget_weighs_the_callers_prompt_count_or_the_estimate() {
        let key = crate::secrets::ApiKey::new("sk-test-0123456789").unwrap();
        let seen = Arc::new(Seen {
            refuse: Some("over budget".into()),
            ..Seen::default()
        });
        let endpoint = Endpoint::new(
            &Profile::default(),
            &key,
            Some("http://127.0.0.1:9/v1"),
            &Policy::default(),
        )
        .unwrap()
        .with_meter(seen.clone());
        let text = "The travel policy says economy class. 差旅报销需要发票。".repeat(50);
        let mut request = ChatRequest {
            model: "gpt-4o-mini".into(),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: text.clone(),
            }],
            max_output_tokens: Some(100),
            temperature: None,
            prompt_tokens: Some(12_345),
        };
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..2 {
            let refused = chat(&endpoint, &request, &tx, false).await;
            assert!(matches!(refused, Err(LlmError::Refused(_))), "{refused:?}");
            request.prompt_tokens = None;
        }
        let weighed: Vec<u64> = seen.allowed.lock().unwrap().iter().map(|a| a.2).collect();
        let estimate = crate::llm::estimate::rough_tokens(&text) + 4 + 3;
        assert_eq!(weighed, vec![12_345, estimate]);
    }
}
