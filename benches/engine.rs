//! The engine's own cost per streamed token: SSE decoding, chunk parsing, sanitizing, and
//! saving the partial answer. `cargo bench --bench engine`.
//!
//! The input is a recorded-shape stream of 2,000 `chat.completion.chunk` events (one token
//! each, English, Chinese and Markdown mixed) delivered in 1,400-byte reads, like TCP
//! segments. Throughput is reported in tokens (elements) per second.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use clerk::llm::answer::AnswerState;
use clerk::llm::sanitize::Sanitizer;
use clerk::store::{MessageFinish, MessageStatus, NewMessage, NewSession, Role, Store, Usage};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TOKENS: usize = 2_000;

fn tokens() -> Vec<String> {
    let words = [
        " The",
        " travel",
        " policy",
        " says",
        "报销",
        "流程",
        " **bold**",
        " `code`",
        "\n",
        " |",
        " 👍",
        " and",
    ];
    (0..TOKENS)
        .map(|i| words[i % words.len()].to_string())
        .collect()
}

fn recorded_stream() -> Vec<u8> {
    let mut s = String::new();
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
    for t in tokens() {
        let content = serde_json::to_string(&t).unwrap();
        s.push_str(&format!("data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{content}}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n"));
    }
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n");
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1732000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":2000,\"total_tokens\":2020,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n");
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

/// Parse and sanitize one whole answer; returns the printable text's length.
fn parse_and_sanitize(stream: &[u8]) -> usize {
    let mut state = AnswerState::new();
    let mut sanitizer = Sanitizer::new();
    let mut shown = String::with_capacity(16 * 1024);
    for read in stream.chunks(1_400) {
        state.feed(read, &mut |d| sanitizer.push_into(d, &mut shown));
    }
    state.finish(&mut |d| sanitizer.push_into(d, &mut shown));
    assert_eq!(state.usage().map(|u| u.output), Some(2_000));
    shown.len()
}

fn engine(c: &mut Criterion) {
    let stream = recorded_stream();
    let mut group = c.benchmark_group("engine_2000_tokens");
    group.throughput(Throughput::Elements(TOKENS as u64));
    group.bench_function("parse_sanitize", |b| b.iter(|| parse_and_sanitize(&stream)));

    // The same, plus what `clerk ask` does with the store for one answer: the question and
    // the empty answer are added, the partial text is written (once a second in real use;
    // here every 250 tokens, 8 times: far more often than real), and the answer finalised.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("h.sqlite3")).unwrap();
    let session = store
        .create_session(&NewSession {
            title: "bench".into(),
            profile: "default".into(),
            model: "gpt-4o-mini".into(),
            system_prompt: None,
            now_ms: 0,
        })
        .unwrap();
    group.sample_size(30);
    group.bench_function("parse_sanitize_store", |b| {
        b.iter(|| {
            store
                .add_message(&NewMessage {
                    session_id: session,
                    role: Role::User,
                    content: "question".into(),
                    status: MessageStatus::Complete,
                    model: None,
                    now_ms: 1,
                })
                .unwrap();
            let id = store
                .add_message(&NewMessage {
                    session_id: session,
                    role: Role::Assistant,
                    content: String::new(),
                    status: MessageStatus::Streaming,
                    model: None,
                    now_ms: 1,
                })
                .unwrap();
            let mut state = AnswerState::new();
            let mut sanitizer = Sanitizer::new();
            let mut shown = String::new();
            let mut count = 0;
            for read in stream.chunks(1_400) {
                state.feed(read, &mut |d| {
                    sanitizer.push_into(d, &mut shown);
                    count += 1;
                });
                if count >= 250 {
                    count = 0;
                    store.update_partial(id, state.text()).unwrap();
                }
            }
            state.finish(&mut |d| sanitizer.push_into(d, &mut shown));
            store
                .finish_message(
                    id,
                    &MessageFinish {
                        content: state.text().to_string(),
                        status: MessageStatus::Complete,
                        error: None,
                        usage: Usage::default(),
                        cost_usd: None,
                        ttft_ms: None,
                        duration_ms: None,
                        now_ms: 2,
                    },
                )
                .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
