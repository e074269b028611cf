//! A local OpenAI-compatible HTTP/1.1 mock server for integration tests.
//!
//! Binds 127.0.0.1 on a random port, answers `GET …/models` and every other
//! request (chat completions) from queues of canned [`Reply`]s, can misbehave
//! on demand (slow, byte-by-byte, dropped, stalled, hanging streams), and
//! records every request so tests can check what the client sent.
//!
//! Every response carries `Connection: close` and the connection is closed
//! after one response: no keep-alive.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// Model name used in every generated chunk.
pub const MODEL: &str = "gpt-4o-mini";
/// Prompt token count reported by [`Reply::stream`].
pub const PROMPT_TOKENS: u64 = 12;

const MAX_HEAD: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// Recorded requests
// ---------------------------------------------------------------------------

/// One request as received by the server.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Request target, including the query string.
    pub path: String,
    /// Header names are lowercased, values trimmed, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// First header with that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; panics (with the body) if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("request body is not JSON ({e}): {:?}", self.body))
    }

    /// The path without its query string.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// Whether this request was routed to the models replies.
    pub fn is_models(&self) -> bool {
        is_models_request(&self.method, &self.path)
    }
}

impl Recorded {
    /// The (role, content) of each message of a chat request.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.json()["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        (
                            m["role"].as_str().unwrap_or_default().to_string(),
                            m["content"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `model` a JSON request body asked for ("" when none).
    pub fn model(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["model"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Whether this request asked for embeddings (`POST …/embeddings`).
    pub fn is_embeddings(&self) -> bool {
        is_embeddings_request(&self.method, &self.path)
    }
}

fn is_embeddings_request(method: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or("");
    method.eq_ignore_ascii_case("POST") && path.trim_end_matches('/').ends_with("/embeddings")
}

fn is_models_request(method: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or("");
    method.eq_ignore_ascii_case("GET") && path.trim_end_matches('/').ends_with("/models")
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/// The body of a [`Reply`].
#[derive(Clone, Debug)]
pub enum Body {
    /// A complete body sent at once with Content-Length.
    Full(String),
    /// A server-sent-event stream: the list of raw SSE frames (each already
    /// formatted, e.g. "data: {...}\n\n" or ": keep-alive\n\n").
    Sse(Vec<String>),
    /// Accept the request, then never answer (until the client gives up).
    Hang,
}

/// A canned response and how (badly) to deliver it.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Delay between frames (not before the first).
    pub pace: Option<Duration>,
    /// Write the body one byte per write (and per chunk when chunked).
    pub byte_by_byte: bool,
    /// Close the connection after this many frames, without the final chunk.
    pub drop_after: Option<usize>,
    /// After this many frames, send nothing for that long, then continue.
    pub stall_after: Option<(usize, Duration)>,
    /// `Transfer-Encoding: chunked`; `None` means the default: true for
    /// [`Body::Sse`], false (Content-Length) for [`Body::Full`].
    pub chunked: Option<bool>,
}

impl Reply {
    /// A bare reply with no headers and default delivery.
    pub fn new(status: u16, body: Body) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body,
            pace: None,
            byte_by_byte: false,
            drop_after: None,
            stall_after: None,
            chunked: None,
        }
    }

    /// Full body with `content-type: application/json`.
    pub fn json(status: u16, value: Value) -> Reply {
        Reply::new(status, Body::Full(value.to_string())).header("content-type", "application/json")
    }

    /// Full body with the given content type.
    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply::new(status, Body::Full(body.to_string())).header("content-type", content_type)
    }

    /// `content-type: text/html` page (e.g. a proxy's error page).
    pub fn html(status: u16, page: &str) -> Reply {
        Reply::text(status, "text/html; charset=utf-8", page)
    }

    /// OpenAI error body `{"error":{"message","type","param":null,"code"}}`.
    pub fn error<'a>(
        status: u16,
        message: &str,
        type_: &str,
        code: impl Into<Option<&'a str>>,
    ) -> Reply {
        Reply::json(status, error_json(message, type_, code.into()))
    }

    /// 429 with a `Retry-After` header and a `rate_limit_exceeded` error.
    pub fn rate_limited(retry_after: &str) -> Reply {
        Reply::error(
            429,
            "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, \
             Requested 1. Please try again later.",
            "requests",
            Some("rate_limit_exceeded"),
        )
        .header("retry-after", retry_after)
    }

    /// 429 with code `insufficient_quota` (not retryable).
    pub fn quota_exceeded() -> Reply {
        Reply::error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            Some("insufficient_quota"),
        )
    }

    /// Accept the request, then never answer.
    pub fn hang() -> Reply {
        Reply::new(200, Body::Hang)
    }

    /// A hand-built SSE stream: status 200, `content-type: text/event-stream`.
    pub fn sse(frames: Vec<String>) -> Reply {
        Reply::new(200, Body::Sse(frames))
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
    }

    /// The standard streamed chat completion: role chunk, one chunk per
    /// delta, finish chunk ("stop"), usage-only chunk, `data: [DONE]`.
    pub fn stream(deltas: &[&str]) -> Reply {
        let mut frames = stream_frames(deltas, true);
        frames.push(done_frame());
        Reply::sse(frames)
    }

    /// Like [`Reply::stream`] (finish and usage chunks present) but without
    /// the final `data: [DONE]`; the connection then closes cleanly.
    pub fn stream_without_done(deltas: &[&str]) -> Reply {
        Reply::sse(stream_frames(deltas, true))
    }

    /// Role chunk and content chunks only: no finish chunk, no usage, no
    /// `[DONE]`; the connection then closes cleanly (final chunk sent).
    pub fn stream_truncated(deltas: &[&str]) -> Reply {
        Reply::sse(stream_frames(deltas, false))
    }

    /// The default `GET /models` reply listing the given ids.
    pub fn models(ids: &[&str]) -> Reply {
        let data: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "openai"}))
            .collect();
        Reply::json(200, json!({"object": "list", "data": data}))
    }

    /// Add a response header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Delay between frames.
    pub fn pace(mut self, delay: Duration) -> Reply {
        self.pace = Some(delay);
        self
    }

    /// One byte per write (flushed, then a task yield), one byte per chunk.
    pub fn byte_by_byte(mut self) -> Reply {
        self.byte_by_byte = true;
        self
    }

    /// Close the TCP connection after `frames` frames, without the final
    /// `0\r\n\r\n` chunk (a plain close, i.e. FIN).
    pub fn drop_after(mut self, frames: usize) -> Reply {
        self.drop_after = Some(frames);
        self
    }

    /// After `frames` frames, send nothing for `pause`, then continue.
    pub fn stall_after(mut self, frames: usize, pause: Duration) -> Reply {
        self.stall_after = Some((frames, pause));
        self
    }

    /// Use `Transfer-Encoding: chunked` (true) or not (false: Content-Length
    /// for a full body, close-delimited for an SSE body).
    pub fn chunked(mut self, chunked: bool) -> Reply {
        self.chunked = Some(chunked);
        self
    }
}

fn error_json(message: &str, type_: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": type_, "param": null, "code": code}})
}

fn stream_frames(deltas: &[&str], finish: bool) -> Vec<String> {
    let mut frames = vec![data_frame(&chunk_json(
        json!({"role": "assistant", "content": ""}),
        None,
    ))];
    frames.extend(deltas.iter().map(|d| chunk_frame(d)));
    if finish {
        frames.push(finish_frame("stop"));
        frames.push(usage_frame(PROMPT_TOKENS, deltas.len() as u64, 0));
    }
    frames
}

// ---------------------------------------------------------------------------
// SSE frame builders
// ---------------------------------------------------------------------------

/// A `chat.completion.chunk` object with one choice.
pub fn chunk_json(delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "delta": delta,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
    })
}

/// `data: <json>\n\n`.
pub fn data_frame(value: &Value) -> String {
    format!("data: {value}\n\n")
}

/// A content chunk: `"delta":{"content": delta}`.
pub fn chunk_frame(delta: &str) -> String {
    data_frame(&chunk_json(json!({"content": delta}), None))
}

/// The finishing chunk: `"delta":{}` with that finish reason.
pub fn finish_frame(reason: &str) -> String {
    data_frame(&chunk_json(json!({}), Some(reason)))
}

/// The usage-only chunk (`"choices":[]`).
pub fn usage_frame(prompt: u64, completion: u64, cached: u64) -> String {
    data_frame(&json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL,
        "system_fingerprint": "fp_mock",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }))
}

/// `data: [DONE]\n\n`.
pub fn done_frame() -> String {
    "data: [DONE]\n\n".to_string()
}

/// An SSE comment: `: text\n\n`.
pub fn comment_frame(text: &str) -> String {
    format!(": {text}\n\n")
}

/// An error object sent inside a 200 stream:
/// `data: {"error":{"message","type":"server_error","param":null,"code"}}`.
pub fn error_frame<'a>(message: &str, code: impl Into<Option<&'a str>>) -> String {
    data_frame(&error_json(message, "server_error", code.into()))
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// How `POST …/embeddings` is answered once [`MockServer::set_embeddings`] is called
/// (before that, it takes the chat replies like any other request).
#[derive(Clone, Debug)]
pub enum Embeddings {
    /// Vectors from [`toy_embedding`] of each input, with usage.
    Toy,
    /// Always this reply (e.g. a 404 of a gateway without embeddings).
    Reply(Reply),
}

/// The concepts of [`toy_embedding`]: words of both languages that mean the same thing.
const TOY_CONCEPTS: &[&[&str]] = &[
    &["hotel", "酒店", "住宿"],
    &["leave", "年假", "休假"],
    &["password", "密码"],
    &["vpn"],
    &["purchase", "采购"],
    &["reimburs", "报销"],
];

/// A toy multilingual embedding: how often a text names each concept of [`TOY_CONCEPTS`]
/// (in English or Chinese), plus a small constant.
pub fn toy_embedding(text: &str) -> Vec<f32> {
    let t = text.to_lowercase();
    let mut v: Vec<f32> = TOY_CONCEPTS
        .iter()
        .map(|words| words.iter().map(|w| t.matches(w).count()).sum::<usize>() as f32)
        .collect();
    v.push(0.05);
    v
}

fn embeddings_reply(body: &str) -> Reply {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Reply::error(400, "not JSON", "invalid_request_error", None);
    };
    let inputs: Vec<String> = match &v["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().unwrap_or("").to_string())
            .collect(),
        _ => return Reply::error(400, "no input", "invalid_request_error", None),
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": toy_embedding(t)}))
        .collect();
    let tokens: usize = inputs.iter().map(|t| t.len() / 4 + 1).sum();
    Reply::json(
        200,
        json!({"object": "list", "data": data, "model": v["model"],
               "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
    )
}

#[derive(Debug)]
struct State {
    embeddings: Option<Embeddings>,
    chat: VecDeque<Reply>,
    chat_default: Reply,
    /// Chat replies for one model (the request body's `model`): its queue first, then its
    /// default, then the general queue and default.
    per_model: std::collections::HashMap<String, (VecDeque<Reply>, Option<Reply>)>,
    models: VecDeque<Reply>,
    models_default: Reply,
    requests: Vec<Recorded>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
enum Runner {
    /// Accept task inside the caller's runtime.
    Task(JoinHandle<()>),
    /// Dedicated thread with its own runtime.
    Thread {
        shutdown: Option<oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

/// The mock server; stops (and drops its open connections) when dropped.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Shared,
    runner: Runner,
}

impl MockServer {
    fn new_state() -> Shared {
        Arc::new(Mutex::new(State {
            embeddings: None,
            chat: VecDeque::new(),
            chat_default: Reply::stream(&["Hello", " world"]),
            per_model: std::collections::HashMap::new(),
            models: VecDeque::new(),
            models_default: Reply::models(&["gpt-4o-mini", "gpt-4o"]),
            requests: Vec::new(),
        }))
    }

    /// Start on 127.0.0.1:0 inside the current tokio runtime.
    pub async fn start() -> MockServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind mock server");
        let addr = listener.local_addr().expect("mock server address");
        let state = Self::new_state();
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        MockServer {
            addr,
            state,
            runner: Runner::Task(task),
        }
    }

    /// Start on a dedicated background thread with its own runtime, for
    /// tests that are not async. The server lives until dropped.
    pub fn start_blocking() -> MockServer {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind mock server");
        std_listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = std_listener.local_addr().expect("mock server address");
        let state = Self::new_state();
        let (tx, rx) = oneshot::channel::<()>();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name("mock-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("mock server runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).expect("tokio listener");
                    tokio::select! {
                        _ = accept_loop(listener, thread_state) => {}
                        _ = rx => {}
                    }
                });
            })
            .expect("spawn mock server thread");
        MockServer {
            addr,
            state,
            runner: Runner::Thread {
                shutdown: Some(tx),
                thread: Some(thread),
            },
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// e.g. "http://127.0.0.1:PORT/v1"
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queue a reply for the next non-models request.
    pub fn push(&self, reply: Reply) {
        lock(&self.state).chat.push_back(reply);
    }

    /// Reply used for non-models requests once the queue is empty.
    pub fn set_default(&self, reply: Reply) {
        lock(&self.state).chat_default = reply;
    }

    /// Queue a reply for the next chat request that asks for `model`.
    pub fn push_for(&self, model: &str, reply: Reply) {
        lock(&self.state)
            .per_model
            .entry(model.to_string())
            .or_default()
            .0
            .push_back(reply);
    }

    /// Reply used for chat requests asking for `model` once its queue is empty (e.g. the
    /// 404 of a model the endpoint does not have).
    pub fn set_default_for(&self, model: &str, reply: Reply) {
        lock(&self.state)
            .per_model
            .entry(model.to_string())
            .or_default()
            .1 = Some(reply);
    }

    /// The chat requests (not models, not embeddings) that asked for `model`.
    pub fn chat_requests_for(&self, model: &str) -> Vec<Recorded> {
        self.chat_requests()
            .into_iter()
            .filter(|r| r.model() == model)
            .collect()
    }

    /// Answer `POST …/embeddings` this way from now on.
    pub fn set_embeddings(&self, how: Embeddings) {
        lock(&self.state).embeddings = Some(how);
    }

    /// The embeddings requests received so far.
    pub fn embeddings_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_embeddings)
            .collect()
    }

    /// Queue a reply for the next `GET …/models`.
    pub fn push_models(&self, reply: Reply) {
        lock(&self.state).models.push_back(reply);
    }

    /// Reply used for `GET …/models` once its queue is empty.
    pub fn set_models_default(&self, reply: Reply) {
        lock(&self.state).models_default = reply;
    }

    /// Everything received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// The requests routed to the chat replies (everything but models and embeddings).
    pub fn chat_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| !r.is_models() && !r.is_embeddings())
            .collect()
    }

    /// Number of requests received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.state).requests.len()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.state).requests.clear();
    }

    /// Wait (polling) until at least `n` requests were received or the
    /// timeout elapses; returns the requests either way.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.request_count() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.requests()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        match &mut self.runner {
            Runner::Task(task) => task.abort(),
            Runner::Thread { shutdown, thread } => {
                if let Some(tx) = shutdown.take() {
                    let _ = tx.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

/// Accepts connections forever; dropping this future (abort or select)
/// drops the JoinSet, which aborts every connection task.
async fn accept_loop(listener: TcpListener, state: Shared) {
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let state = state.clone();
        conns.spawn(async move {
            let _ = handle(stream, state).await;
        });
    }
}

#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn handle(mut stream: TcpStream, state: Shared) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let Some(req) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let models = is_models_request(&req.method, &req.path);
    let embeddings = is_embeddings_request(&req.method, &req.path);
    let reply = {
        let mut st = lock(&state);
        let body = String::from_utf8_lossy(&req.body).into_owned();
        st.requests.push(Recorded {
            method: req.method,
            path: req.path,
            headers: req.headers,
            body: body.clone(),
        });
        let embedder = st.embeddings.clone().filter(|_| embeddings);
        if let Some(how) = embedder {
            match how {
                Embeddings::Toy => embeddings_reply(&body),
                Embeddings::Reply(r) => r,
            }
        } else if models {
            st.models
                .pop_front()
                .unwrap_or_else(|| st.models_default.clone())
        } else {
            let model = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["model"].as_str().map(str::to_string))
                .unwrap_or_default();
            let own = st
                .per_model
                .get_mut(&model)
                .and_then(|(queue, default)| queue.pop_front().or_else(|| default.clone()));
            own.or_else(|| st.chat.pop_front())
                .unwrap_or_else(|| st.chat_default.clone())
        }
    };
    send_reply(&mut stream, &reply).await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request; `Ok(None)` if the client closed before a full request.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::with_capacity(4096);
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let chunked =
        get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length: usize = get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);

    let mut rest = buf.split_off(head_end + 4);
    let body = loop {
        if chunked {
            if let Some(body) = decode_chunked(&rest) {
                break body;
            }
        } else if rest.len() >= length {
            rest.truncate(length);
            break rest;
        }
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        rest.extend_from_slice(&tmp[..n]);
    };
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

/// Decodes a complete chunked body; `None` while incomplete.
fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers (ignored) end with an empty line.
            find(data, b"\r\n")?;
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

async fn send_reply(stream: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    let frames: Vec<&str> = match &reply.body {
        Body::Hang => {
            // Never answer; end when the client gives up (EOF or error).
            let mut tmp = [0u8; 1024];
            while stream.read(&mut tmp).await? > 0 {}
            return Ok(());
        }
        Body::Full(body) => vec![body.as_str()],
        Body::Sse(frames) => frames.iter().map(String::as_str).collect(),
    };
    let chunked = reply.chunked.unwrap_or(matches!(reply.body, Body::Sse(_)));

    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status,
        reason_phrase(reply.status)
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("connection: close\r\n");
    if chunked {
        head.push_str("transfer-encoding: chunked\r\n");
    } else if let Body::Full(body) = &reply.body {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await?;

    let last = frames.len();
    for (i, frame) in frames.iter().enumerate() {
        if reply.drop_after == Some(i) {
            return Ok(()); // dropping the stream closes it, no final chunk
        }
        if let Some((_, pause)) = reply.stall_after.filter(|(n, _)| *n == i) {
            tokio::time::sleep(pause).await;
        }
        if let Some(pace) = reply.pace.filter(|_| i > 0) {
            tokio::time::sleep(pace).await;
        }
        write_piece(stream, frame.as_bytes(), chunked, reply.byte_by_byte).await?;
    }
    if reply.drop_after.is_some_and(|n| n >= last) {
        return Ok(());
    }
    if let Some((_, pause)) = reply.stall_after.filter(|(n, _)| *n >= last) {
        tokio::time::sleep(pause).await;
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").await?;
    }
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

async fn write_piece(
    stream: &mut TcpStream,
    data: &[u8],
    chunked: bool,
    byte_by_byte: bool,
) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(()); // an empty chunk would end the body
    }
    if byte_by_byte {
        for byte in data {
            if chunked {
                stream.write_all(b"1\r\n").await?;
                stream.write_all(&[*byte, b'\r', b'\n']).await?;
            } else {
                stream.write_all(&[*byte]).await?;
            }
            stream.flush().await?;
            tokio::task::yield_now().await;
        }
    } else if chunked {
        let mut out = format!("{:x}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        stream.write_all(&out).await?;
    } else {
        stream.write_all(data).await?;
    }
    stream.flush().await
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Sends a raw request and reads until the server closes.
    async fn raw(addr: SocketAddr, request: &str) -> Vec<u8> {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .expect("response within 5 s")
            .unwrap();
        out
    }

    fn post(path: &str, body: &str) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    fn get(path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
    }

    /// Splits a raw response into (head, body bytes).
    fn split(resp: &[u8]) -> (String, Vec<u8>) {
        let pos = find(resp, b"\r\n\r\n").expect("response head");
        (
            String::from_utf8_lossy(&resp[..pos]).to_ascii_lowercase(),
            resp[pos + 4..].to_vec(),
        )
    }

    fn sse_json(body: &str) -> Vec<Value> {
        body.split("\n\n")
            .filter_map(|f| f.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn records_request_and_streams_chunked() {
        let server = MockServer::start().await;
        assert!(server.base_url().starts_with("http://127.0.0.1:"));
        let body = r#"{"model":"gpt-4o-mini","stream":true}"#;
        let resp = raw(server.addr(), &post("/v1/chat/completions?x=1", body)).await;

        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/chat/completions?x=1");
        assert_eq!(r.path_only(), "/v1/chat/completions");
        assert_eq!(r.header("Authorization"), Some("Bearer sk-test"));
        assert_eq!(r.body, body);
        assert_eq!(r.json()["stream"], true);

        let (head, raw_body) = split(&resp);
        assert!(head.starts_with("http/1.1 200 ok"));
        assert!(head.contains("transfer-encoding: chunked"));
        assert!(head.contains("content-type: text/event-stream"));
        assert!(raw_body.ends_with(b"0\r\n\r\n"));
        let body = String::from_utf8(decode_chunked(&raw_body).unwrap()).unwrap();
        assert!(body.ends_with("data: [DONE]\n\n"));
        let chunks = sse_json(&body);
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hello");
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[4]["usage"]["completion_tokens"], 2);
        assert_eq!(chunks[4]["usage"]["total_tokens"], 14);
    }

    #[tokio::test]
    async fn queue_then_default_and_json_escaping() {
        let server = MockServer::start().await;
        server.push(Reply::rate_limited("3"));
        server.set_default(Reply::stream(&["a\"b\n\\c"]).chunked(false));

        let (head, body) = split(&raw(server.addr(), &post("/v1/chat/completions", "{}")).await);
        assert!(head.starts_with("http/1.1 429"));
        assert!(head.contains("retry-after: 3"));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");

        let (head, body) = split(&raw(server.addr(), &post("/v1/chat/completions", "{}")).await);
        assert!(!head.contains("transfer-encoding"));
        assert!(!head.contains("content-length"));
        let chunks = sse_json(&String::from_utf8(body).unwrap());
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "a\"b\n\\c");
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn drop_after_has_no_final_chunk() {
        let server = MockServer::start().await;
        server.push(Reply::stream(&["one", "two"]).drop_after(1));
        let resp = raw(server.addr(), &post("/v1/chat/completions", "{}")).await;
        let (_, body) = split(&resp);
        assert!(!body.ends_with(b"0\r\n\r\n"));
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("\"role\":\"assistant\""));
        assert!(!text.contains("one"));
        assert!(!text.contains("[DONE]"));
    }

    #[tokio::test]
    async fn byte_by_byte_delivers_same_bytes_fast() {
        let deltas: Vec<String> = (0..10).map(|i| format!("delta number {i} ")).collect();
        let deltas: Vec<&str> = deltas.iter().map(String::as_str).collect();
        let server = MockServer::start().await;
        server.push(Reply::stream(&deltas));
        server.push(Reply::stream(&deltas).byte_by_byte());

        let (_, normal) = split(&raw(server.addr(), &post("/v1/chat/completions", "{}")).await);
        let started = Instant::now();
        let (_, slow) = split(&raw(server.addr(), &post("/v1/chat/completions", "{}")).await);
        assert!(started.elapsed() < Duration::from_secs(1));
        let normal = decode_chunked(&normal).unwrap();
        assert!(normal.len() > 2000, "stream is {} bytes", normal.len());
        assert_eq!(decode_chunked(&slow).unwrap(), normal);
        assert!(slow.starts_with(b"1\r\nd\r\n1\r\na\r\n"));
    }

    #[tokio::test]
    async fn models_default_and_override() {
        let server = MockServer::start().await;
        server.push_models(Reply::error(401, "bad key", "invalid_request_error", None));

        let (head, _) = split(&raw(server.addr(), &get("/v1/models")).await);
        assert!(head.starts_with("http/1.1 401"));

        let (head, body) = split(&raw(server.addr(), &get("/v1/models")).await);
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["data"][0]["id"], "gpt-4o-mini");
        assert_eq!(v["data"][1]["id"], "gpt-4o");
        assert!(server.requests().iter().all(Recorded::is_models));
        assert!(server.chat_requests().is_empty());
    }

    #[tokio::test]
    async fn hang_never_answers() {
        let server = MockServer::start().await;
        server.push(Reply::hang());
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        s.write_all(post("/v1/chat/completions", "{}").as_bytes())
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await;
        assert!(read.is_err(), "expected no answer");
        assert_eq!(
            server
                .wait_for_requests(1, Duration::from_secs(1))
                .await
                .len(),
            1
        );
    }

    #[test]
    fn start_blocking_works_without_async() {
        use std::io::{Read, Write};
        let server = MockServer::start_blocking();
        server.push(Reply::stream(&["x"]).stall_after(1, Duration::from_millis(50)));
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.write_all(post("/v1/chat/completions", "{\"a\":1}").as_bytes())
            .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("data: [DONE]"));
        assert_eq!(server.requests()[0].json()["a"], 1);
        drop(server);
    }

    #[test]
    fn frame_helpers() {
        assert_eq!(done_frame(), "data: [DONE]\n\n");
        assert_eq!(comment_frame("keep-alive"), ": keep-alive\n\n");
        let e = error_frame("boom", "server_error");
        let v: Value = serde_json::from_str(e.strip_prefix("data: ").unwrap().trim()).unwrap();
        assert_eq!(v["error"]["message"], "boom");
        assert_eq!(v["error"]["param"], Value::Null);
        let e = error_frame("boom", None);
        assert!(e.contains("\"code\":null"));
        let t = Reply::stream_truncated(&["a"]);
        let Body::Sse(frames) = &t.body else { panic!() };
        assert_eq!(frames.len(), 2);
        let w = Reply::stream_without_done(&["a"]);
        let Body::Sse(frames) = &w.body else { panic!() };
        assert_eq!(frames.len(), 4);
        assert!(frames[2].contains("\"finish_reason\":\"stop\""));
    }
}
