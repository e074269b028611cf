//! Assembling an answer from the bytes of a streaming chat completion.
//!
//! [`AnswerState`] is pure: it is fed bytes, hands out text deltas, and remembers the
//! finish reason, token usage, `[DONE]`, errors sent inside the stream and malformed
//! chunks. It decides how the answer ended ([`AnswerStatus`]): a stream that ends without a
//! finish reason is truncated, never complete. It does no IO and reads no clock.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::reason;
use super::sse::{SseDecoder, SseItem};

/// Token counts of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Prompt tokens (including cached ones).
    pub input: u64,
    /// Prompt tokens served from the cache.
    pub cached: u64,
    /// Answer tokens.
    pub output: u64,
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerStatus {
    /// The server said it finished (a finish reason arrived).
    Complete,
    /// The stream ended cleanly but without a finish reason: part of the answer is missing.
    Truncated,
    /// Stopped before the end: by the user, a dropped connection or the idle timeout.
    Interrupted,
    /// The server reported an error inside the stream.
    Error,
}

impl AnswerStatus {
    /// The word used in the store and in `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerStatus::Complete => "complete",
            AnswerStatus::Truncated => "truncated",
            AnswerStatus::Interrupted => "interrupted",
            AnswerStatus::Error => "error",
        }
    }
}

/// An error object as OpenAI-compatible servers send it (`{"error": {...}}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiErrorBody {
    /// Human message.
    pub message: String,
    /// `type`, e.g. `invalid_request_error`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `code`, e.g. `insufficient_quota`; some servers send a number.
    #[serde(deserialize_with = "string_or_number")]
    pub code: Option<String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

#[derive(Deserialize)]
struct WrappedError {
    error: ErrorField,
}

/// `error` is usually an object, sometimes just a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Object(ApiErrorBody),
    Text(String),
}

impl From<ErrorField> for ApiErrorBody {
    fn from(e: ErrorField) -> Self {
        match e {
            ErrorField::Object(b) => b,
            ErrorField::Text(message) => ApiErrorBody {
                message,
                ..Default::default()
            },
        }
    }
}

/// Parse an `{"error": …}` body, if that is what it is.
pub fn parse_error_body(body: &str) -> Option<ApiErrorBody> {
    serde_json::from_str::<WrappedError>(body)
        .ok()
        .map(|w| w.error.into())
}

// Lenient chunk shapes: every field optional, unknown fields and unknown enum values
// (finish reasons are plain strings) accepted.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<UsageField>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    error: Option<ErrorField>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    index: u32,
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    /// Some servers stream `message` instead of `delta`.
    #[serde(default, borrow)]
    message: Option<Delta<'a>>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct UsageField {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// The state of one streaming answer.
#[derive(Debug, Default)]
pub struct AnswerState {
    sse: SseDecoder,
    /// Whether the text is gathered here too (`false`: the caller keeps the deltas; the
    /// chat core does, so a streamed token lives in one string).
    discard_text: bool,
    text: String,
    finish_reason: Option<String>,
    usage: Option<TokenUsage>,
    model: Option<String>,
    done: bool,
    error: Option<ApiErrorBody>,
    malformed: usize,
    events: u64,
    complete_items: u64,
}

impl AnswerState {
    /// A fresh state that also gathers the text.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh state that hands out deltas and keeps no copy of the text.
    pub fn without_text() -> Self {
        AnswerState {
            discard_text: true,
            ..Self::default()
        }
    }

    /// Feed raw bytes; `on_delta` gets each piece of answer text as it is decoded.
    pub fn feed(&mut self, bytes: &[u8], on_delta: &mut impl FnMut(&str)) {
        let mut sse = std::mem::take(&mut self.sse);
        sse.feed(bytes, &mut |item| self.item(item, on_delta));
        self.sse = sse;
    }

    /// The byte stream ended (cleanly). Delivers whatever the decoder still held.
    pub fn finish(&mut self, on_delta: &mut impl FnMut(&str)) {
        let mut sse = std::mem::take(&mut self.sse);
        sse.finish(&mut |item| self.item(item, on_delta));
        self.sse = sse;
    }

    fn item(&mut self, item: SseItem, on_delta: &mut impl FnMut(&str)) {
        self.complete_items += 1;
        let SseItem::Event { name, data } = item else {
            return;
        };
        self.events += 1;
        if self.done {
            return; // nothing after [DONE] counts
        }
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return;
        }
        if data.is_empty() {
            return;
        }
        match serde_json::from_str::<Chunk<'_>>(data) {
            Ok(chunk) => {
                if let Some(e) = chunk.error {
                    self.error = Some(e.into());
                    return;
                }
                if name == "error" {
                    self.error = Some(ApiErrorBody {
                        message: data.to_string(),
                        ..Default::default()
                    });
                    return;
                }
                if self.model.is_none() {
                    self.model = chunk.model;
                }
                if let Some(u) = chunk.usage {
                    self.usage = Some(TokenUsage {
                        input: u.prompt_tokens.unwrap_or(0),
                        cached: u
                            .prompt_tokens_details
                            .and_then(|d| d.cached_tokens)
                            .unwrap_or(0),
                        output: u.completion_tokens.unwrap_or(0),
                    });
                }
                for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
                    if let Some(delta) = choice.delta.or(choice.message) {
                        for piece in [delta.content, delta.refusal].into_iter().flatten() {
                            if !piece.is_empty() {
                                if !self.discard_text {
                                    self.text.push_str(&piece);
                                }
                                on_delta(&piece);
                            }
                        }
                    }
                    if let Some(r) = choice.finish_reason.filter(|r| !r.is_empty()) {
                        self.finish_reason = Some(r);
                    }
                }
            }
            Err(_) if name == "error" => {
                self.error = Some(ApiErrorBody {
                    message: data.to_string(),
                    ..Default::default()
                });
            }
            Err(_) => self.malformed += 1,
        }
    }

    /// The text so far, exactly as received (empty for [`AnswerState::without_text`]).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The finish reason, once one arrived.
    pub fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }

    /// Token usage, if the server sent it.
    pub fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }

    /// The model the server says answered.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// `[DONE]` arrived.
    pub fn saw_done(&self) -> bool {
        self.done
    }

    /// An error the server sent inside the stream.
    pub fn error(&self) -> Option<&ApiErrorBody> {
        self.error.as_ref()
    }

    /// Chunks that were not valid JSON (skipped).
    pub fn malformed(&self) -> usize {
        self.malformed
    }

    /// Events decoded so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Complete items (events and comment lines such as `: keep-alive`) decoded so far: a
    /// sign of life, where a byte without its line's end is not.
    pub fn complete_items(&self) -> u64 {
        self.complete_items
    }

    /// True once nothing more should be read: `[DONE]`, or an error inside the stream.
    pub fn is_over(&self) -> bool {
        self.done || self.error.is_some()
    }

    /// How the answer ended if the stream ended now, cleanly.
    pub fn status_at_end(&self) -> (AnswerStatus, Option<String>) {
        if let Some(e) = &self.error {
            return (
                AnswerStatus::Error,
                Some(reason::stored(|| {
                    tr!("llm.reason.server_error", detail = e.message)
                })),
            );
        }
        match &self.finish_reason {
            Some(r) if r == "length" => (
                AnswerStatus::Complete,
                Some(reason::stored(|| tr!("llm.reason.length"))),
            ),
            Some(r) if r == "content_filter" => (
                AnswerStatus::Complete,
                Some(reason::stored(|| tr!("llm.reason.content_filter"))),
            ),
            Some(_) => (AnswerStatus::Complete, None),
            None => (
                AnswerStatus::Truncated,
                Some(match self.done {
                    true => reason::stored(|| tr!("llm.reason.no_finish_reason")),
                    false => reason::stored(|| tr!("llm.reason.ended_early")),
                }),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&[u8]]) -> (AnswerState, String) {
        let mut s = AnswerState::new();
        let mut seen = String::new();
        for p in pieces {
            s.feed(p, &mut |d| seen.push_str(d));
        }
        s.finish(&mut |d| seen.push_str(d));
        (s, seen)
    }

    const NORMAL: &str = concat!(
        "data: {\"id\":\"1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        ": keep-alive\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"报销 \"},\"finish_reason\":null}],\"new_field\":[1,2]}\n\n",
        "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok 👍\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
        "data: [DONE]\n\n"
    );

    #[test]
    fn normal_stream_is_complete_with_usage() {
        let (s, seen) = run(&[NORMAL.as_bytes()]);
        assert_eq!(s.text(), "报销 ok 👍");
        assert_eq!(seen, s.text());
        assert_eq!(s.finish_reason(), Some("stop"));
        assert_eq!(
            s.usage(),
            Some(TokenUsage {
                input: 12,
                cached: 4,
                output: 3
            })
        );
        assert_eq!(s.model(), Some("gpt-4o-mini"));
        assert!(s.saw_done());
        assert_eq!(s.status_at_end(), (AnswerStatus::Complete, None));
    }

    #[test]
    fn every_split_position_gives_the_same_answer() {
        let bytes = NORMAL.as_bytes();
        for i in 0..=bytes.len() {
            let (s, seen) = run(&[&bytes[..i], &bytes[i..]]);
            assert_eq!(s.text(), "报销 ok 👍", "split at {i}");
            assert_eq!(seen, "报销 ok 👍");
            assert_eq!(s.usage().map(|u| u.cached), Some(4));
            assert!(s.saw_done());
        }
        let ones: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(&ones).0.text(), "报销 ok 👍");
    }

    #[test]
    fn no_finish_reason_is_truncated_even_with_done() {
        let (s, _) = run(&[b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: [DONE]\n\n"]);
        assert_eq!(s.status_at_end().0, AnswerStatus::Truncated);
        let (s, _) =
            run(&[b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"]);
        let (status, why) = s.status_at_end();
        assert_eq!(status, AnswerStatus::Truncated);
        assert!(why.unwrap().contains("no [DONE]"));
    }

    #[test]
    fn finish_reason_without_done_is_complete() {
        let (s, _) = run(&[b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"]);
        assert_eq!(s.status_at_end().0, AnswerStatus::Complete);
    }

    #[test]
    fn unknown_finish_reason_is_accepted() {
        let (s, _) = run(&[b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"eos_token\"}]}\n\n"]);
        assert_eq!(s.finish_reason(), Some("eos_token"));
        assert_eq!(s.status_at_end().0, AnswerStatus::Complete);
    }

    #[test]
    fn length_finish_is_complete_with_a_note() {
        let (s, _) = run(&[
            b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
        ]);
        let (st, note) = s.status_at_end();
        assert_eq!(st, AnswerStatus::Complete);
        assert!(note.unwrap().contains("limit"));
    }

    #[test]
    fn error_inside_a_200_stream() {
        let (s, _) = run(&[b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\ndata: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\",\"code\":null}}\n\n"]);
        assert!(s.is_over());
        assert_eq!(s.text(), "par");
        let (st, why) = s.status_at_end();
        assert_eq!(st, AnswerStatus::Error);
        assert!(why.unwrap().contains("The server had an error"));
        let (s, _) = run(&[b"event: error\ndata: upstream timeout\n\n"]);
        assert_eq!(s.error().unwrap().message, "upstream timeout");
    }

    #[test]
    fn malformed_chunks_are_counted_and_skipped() {
        let (s, _) = run(&[b"data: {not json\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n"]);
        assert_eq!(s.malformed(), 1);
        assert_eq!(s.text(), "ok");
    }

    #[test]
    fn empty_choices_first_chunk_and_other_indexes() {
        let (s, _) = run(&[b"data: {\"choices\":[],\"prompt_filter_results\":[]}\n\ndata: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"no\"}},{\"index\":0,\"delta\":{\"content\":\"yes\"}}]}\n\n"]);
        assert_eq!(s.text(), "yes");
    }

    #[test]
    fn text_after_done_is_ignored() {
        let (s, _) = run(&[b"data: [DONE]\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"late\"}}]}\n\n"]);
        assert_eq!(s.text(), "");
    }

    #[test]
    fn error_bodies_parse_in_their_variants() {
        let e = parse_error_body(r#"{"error":{"message":"m","type":"t","code":429}}"#).unwrap();
        assert_eq!(e.code.as_deref(), Some("429"));
        let e = parse_error_body(r#"{"error":"plain"}"#).unwrap();
        assert_eq!(e.message, "plain");
        assert!(parse_error_body("<html>").is_none());
    }
}
