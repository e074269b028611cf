//! The streaming engine against a local OpenAI-compatible server that misbehaves on demand.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use clerk::config::{ApiStyle, Profile};
use clerk::llm::{
    Answer, AnswerStatus, ChatMessage, ChatRequest, ChatRole, Endpoint, EngineEvent, LlmError,
    RetryNotice, run_chat,
};
use clerk::secrets::ApiKey;
use serde_json::json;
use support::server::*;

const KEY: &str = "sk-test-engine-0123456789";

fn profile(server: &MockServer) -> Profile {
    Profile {
        base_url: server.base_url(),
        idle_timeout_secs: 2,
        request_timeout_secs: 5,
        ..Profile::default()
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "gpt-4o-mini".into(),
        messages: vec![
            ChatMessage {
                role: ChatRole::System,
                content: "be brief".into(),
            },
            ChatMessage {
                role: ChatRole::User,
                content: "hello 你好".into(),
            },
        ],
        max_output_tokens: Some(100),
        temperature: None,
        prompt_tokens: None,
    }
}

struct Run {
    deltas: Vec<String>,
    retries: Vec<RetryNotice>,
    result: Result<Answer, LlmError>,
}

async fn run_with(profile: Profile) -> Run {
    let endpoint = Endpoint::new(
        &profile,
        &ApiKey::new(KEY).unwrap(),
        None,
        &clerk::config::Policy::default(),
    )
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(run_chat(endpoint, request(), tx));
    let mut deltas = Vec::new();
    let mut retries = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("engine hung")
        {
            Some(EngineEvent::Delta(d)) => deltas.push(d),
            Some(EngineEvent::Retrying(n)) => retries.push(n),
            Some(EngineEvent::Started) => {}
            Some(EngineEvent::Spent(u)) => panic!("one request reports no running spend: {u:?}"),
            Some(EngineEvent::Finished(result)) => {
                return Run {
                    deltas,
                    retries,
                    result,
                };
            }
            None => panic!("channel closed without Finished"),
        }
    }
}

async fn run(server: &MockServer) -> Run {
    run_with(profile(server)).await
}

#[tokio::test]
async fn normal_stream_gives_text_usage_timings_and_sends_the_right_request() {
    let server = MockServer::start().await;
    server.push(Reply::stream(&["Hel", "lo ", "报销 👍"]));
    let r = run(&server).await;
    let a = r.result.unwrap();
    assert_eq!(a.text, "Hello 报销 👍");
    assert_eq!(r.deltas.concat(), a.text);
    assert_eq!(a.status, AnswerStatus::Complete);
    assert_eq!(a.finish_reason.as_deref(), Some("stop"));
    let u = a.usage.unwrap();
    assert_eq!((u.input, u.output), (12, 3));
    assert!(a.ttft.is_some() && a.ttft.unwrap() <= a.duration);
    let reqs = server.chat_requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path_only(), "/v1/chat/completions");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = req.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_completion_tokens"], 100);
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": "hello 你好"})
    );
}

#[tokio::test]
async fn byte_by_byte_delivery_with_comments_and_no_space_data() {
    let server = MockServer::start().await;
    let frames = vec![
        comment_frame("keep-alive"),
        chunk_frame("第一"),
        "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"段 ok\"}}]}\n\n".to_string(),
        comment_frame("ping"),
        finish_frame("stop"),
        usage_frame(7, 2, 3),
        done_frame(),
    ];
    server.push(Reply::sse(frames).byte_by_byte());
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "第一段 ok");
    assert_eq!(a.status, AnswerStatus::Complete);
    assert_eq!(a.usage.unwrap().cached, 3);
}

#[tokio::test]
async fn stream_without_done_but_with_finish_reason_is_complete() {
    let server = MockServer::start().await;
    server.push(Reply::stream_without_done(&["a", "b"]));
    let a = run(&server).await.result.unwrap();
    assert_eq!((a.text.as_str(), a.status), ("ab", AnswerStatus::Complete));
}

#[tokio::test]
async fn clean_end_without_finish_reason_is_truncated() {
    let server = MockServer::start().await;
    server.push(Reply::stream_truncated(&["half ", "an answ"]));
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "half an answ");
    assert_eq!(a.status, AnswerStatus::Truncated);
    assert!(a.reason.unwrap().contains("no finish reason"));
}

#[tokio::test]
async fn dropped_connection_keeps_the_words_and_is_interrupted() {
    let server = MockServer::start().await;
    server.push(Reply::stream(&["one ", "two ", "three"]).drop_after(3));
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "one two ");
    assert_eq!(a.status, AnswerStatus::Interrupted);
    assert!(a.reason.unwrap().contains("connection dropped"));
}

#[tokio::test]
async fn close_delimited_drop_is_truncated_not_complete() {
    let server = MockServer::start().await;
    server.push(
        Reply::stream(&["one ", "two ", "three"])
            .chunked(false)
            .drop_after(2),
    );
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "one ");
    assert_ne!(a.status, AnswerStatus::Complete);
}

#[tokio::test]
async fn a_stall_longer_than_the_idle_timeout_interrupts_with_the_reason() {
    let server = MockServer::start().await;
    server.push(Reply::stream(&["wait", "ing"]).stall_after(2, Duration::from_secs(10)));
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "wait");
    assert_eq!(a.status, AnswerStatus::Interrupted);
    assert!(
        a.reason
            .unwrap()
            .contains("no data from the server for 2 s")
    );
}

#[tokio::test]
async fn comments_keep_a_slow_stream_alive() {
    let server = MockServer::start().await;
    let mut frames = vec![chunk_frame("slow ")];
    for _ in 0..3 {
        frames.push(comment_frame("keep-alive"));
    }
    frames.extend([chunk_frame("but fine"), finish_frame("stop"), done_frame()]);
    // 4 × 0.8 s of silence between data frames, more than the 2 s idle timeout in total.
    server.push(Reply::sse(frames).pace(Duration::from_millis(800)));
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "slow but fine");
    assert_eq!(a.status, AnswerStatus::Complete);
}

#[tokio::test]
async fn error_inside_a_200_stream_is_an_error_answer_with_the_partial_text() {
    let server = MockServer::start().await;
    server.push(Reply::sse(vec![
        chunk_frame("partial "),
        error_frame(
            "The server had an error while processing your request",
            None,
        ),
    ]));
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "partial ");
    assert_eq!(a.status, AnswerStatus::Error);
    assert!(a.reason.unwrap().contains("The server had an error"));
}

#[tokio::test]
async fn malformed_chunk_is_skipped_and_counted() {
    let server = MockServer::start().await;
    server.push(Reply::sse(vec![
        chunk_frame("a"),
        "data: {\"choices\": [\n\n".into(),
        chunk_frame("b"),
        finish_frame("stop"),
        done_frame(),
    ]));
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "ab");
    assert_eq!(a.malformed, 1);
}

#[tokio::test]
async fn html_page_from_a_proxy_is_reported_with_an_excerpt() {
    let server = MockServer::start().await;
    server.push(Reply::html(
        200,
        "<html><body><h1>Sign in to Corporate Proxy</h1><p>Your session expired.</p></body></html>",
    ));
    let err = run(&server).await.result.unwrap_err().to_string();
    assert!(err.contains("text/html"), "{err}");
    assert!(
        err.contains("Sign in to Corporate Proxy Your session expired."),
        "{err}"
    );
    assert!(!err.contains('<'), "{err}");
}

#[tokio::test]
async fn escape_sequences_arrive_exactly_as_sent() {
    let server = MockServer::start().await;
    server.push(Reply::stream(&[
        "red \x1b[31mX\x1b[0m ",
        "\x1b]52;c;ZXZpbA==\x07clip",
    ]));
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "red \x1b[31mX\x1b[0m \x1b]52;c;ZXZpbA==\x07clip");
    assert_eq!(clerk::llm::sanitize::sanitize(&a.text), "red X clip");
}

#[tokio::test]
async fn status_401_says_to_log_in_and_is_not_retried() {
    let server = MockServer::start().await;
    server.push(Reply::error(
        401,
        "Incorrect API key provided",
        "invalid_request_error",
        "invalid_api_key",
    ));
    let r = run(&server).await;
    let err = r.result.unwrap_err();
    assert!(matches!(err, LlmError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("clerk auth login"));
    assert!(!err.to_string().contains(KEY));
    assert_eq!(server.chat_requests().len(), 1);
    assert!(r.retries.is_empty());
}

#[tokio::test]
async fn status_404_for_a_model_lists_what_the_endpoint_offers() {
    let server = MockServer::start().await;
    server.push(Reply::error(
        404,
        "The model `gpt-4o-mini` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ));
    server.push_models(Reply::models(&["llama3.2", "qwen2.5"]));
    let err = run(&server).await.result.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LlmError::UnknownModel { .. }), "{err:?}");
    assert!(
        msg.contains("`gpt-4o-mini`") && msg.contains("llama3.2, qwen2.5"),
        "{msg}"
    );
}

#[tokio::test]
async fn status_404_without_model_points_at_the_base_url() {
    let server = MockServer::start().await;
    server.push(Reply::text(404, "text/plain", "404 page not found"));
    let err = run(&server).await.result.unwrap_err().to_string();
    assert!(err.contains("base_url"), "{err}");
}

#[tokio::test]
async fn rate_limit_is_retried_after_the_servers_wait_and_reported() {
    let server = MockServer::start().await;
    server.push(Reply::rate_limited("1"));
    server.push(Reply::stream(&["after the wait"]));
    let r = run(&server).await;
    assert_eq!(r.result.unwrap().text, "after the wait");
    assert_eq!(r.retries.len(), 1);
    assert_eq!(r.retries[0].wait, Duration::from_secs(1));
    assert!(r.retries[0].reason.contains("429"));
    assert_eq!(server.chat_requests().len(), 2);
}

#[tokio::test]
async fn retry_after_ms_is_honoured() {
    let server = MockServer::start().await;
    server.push(Reply::rate_limited("5").header("retry-after-ms", "150"));
    server.push(Reply::stream(&["ok"]));
    let r = run(&server).await;
    assert_eq!(r.retries[0].wait, Duration::from_millis(150));
    assert!(r.result.is_ok());
}

#[tokio::test]
async fn a_wait_over_60_seconds_is_reported_not_waited() {
    let server = MockServer::start().await;
    server.push(Reply::rate_limited("3600"));
    let r = run(&server).await;
    let msg = r.result.unwrap_err().to_string();
    assert!(msg.contains("1 h 0 min"), "{msg}");
    assert!(r.retries.is_empty());
    assert_eq!(server.chat_requests().len(), 1);
}

#[tokio::test]
async fn insufficient_quota_is_not_retried() {
    let server = MockServer::start().await;
    server.push(Reply::quota_exceeded());
    let r = run(&server).await;
    let err = r.result.unwrap_err();
    assert!(matches!(err, LlmError::Quota { .. }), "{err:?}");
    assert_eq!(server.chat_requests().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_twice_then_reported() {
    let server = MockServer::start().await;
    for _ in 0..3 {
        server.push(Reply::error(503, "overloaded", "server_error", None));
    }
    let r = run(&server).await;
    let err = r.result.unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::Server {
                status: 503,
                retries: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(r.retries.len(), 2);
    assert!(
        r.retries[0].wait <= Duration::from_millis(500)
            && r.retries[0].wait >= Duration::from_millis(375)
    );
    assert_eq!(server.chat_requests().len(), 3);
}

#[tokio::test]
async fn a_500_then_success_recovers() {
    let server = MockServer::start().await;
    server.push(Reply::error(500, "boom", "server_error", None));
    server.push(Reply::stream(&["recovered"]));
    let r = run(&server).await;
    assert_eq!(r.result.unwrap().text, "recovered");
    assert_eq!(r.retries.len(), 1);
}

#[tokio::test]
async fn context_length_exceeded_is_its_own_error() {
    let server = MockServer::start().await;
    server.push(Reply::error(
        400,
        "This model's maximum context length is 128000 tokens.",
        "invalid_request_error",
        "context_length_exceeded",
    ));
    let err = run(&server).await.result.unwrap_err();
    assert!(matches!(err, LlmError::ContextTooLong { .. }), "{err:?}");
}

#[tokio::test]
async fn a_started_stream_is_never_retried() {
    let server = MockServer::start().await;
    server.push(Reply::stream(&["x", "y"]).drop_after(2));
    server.push(Reply::stream(&["should not be asked"]));
    let r = run(&server).await;
    assert_eq!(r.result.unwrap().text, "x");
    assert_eq!(server.chat_requests().len(), 1);
}

#[tokio::test]
async fn connection_refused_is_retried_then_explained() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let p = Profile {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        ..Profile::default()
    };
    let r = run_with(p).await;
    let err = r.result.unwrap_err();
    assert!(matches!(err, LlmError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot connect"));
    assert_eq!(r.retries.len(), 2);
}

#[tokio::test]
async fn unknown_host_is_a_dns_error() {
    let p = Profile {
        base_url: "http://clerk-test-no-such-host.invalid/v1".into(),
        ..Profile::default()
    };
    let err = run_with(p).await.result.unwrap_err();
    assert!(matches!(err, LlmError::Dns { .. }), "{err:?}");
}

#[tokio::test]
async fn no_answer_within_the_request_timeout() {
    let server = MockServer::start().await;
    for _ in 0..3 {
        server.push(Reply::hang());
    }
    let p = Profile {
        request_timeout_secs: 1,
        ..profile(&server)
    };
    let err = run_with(p).await.result.unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
    // Retries and their pauses stay within the request timeout: no retry starts after it.
    let asked = server.requests().len();
    assert_eq!(asked, 1, "{asked} requests");
}

#[tokio::test]
async fn azure_style_uses_deployment_url_api_version_and_api_key_header() {
    let server = MockServer::start().await;
    server.push(Reply::stream(&["az"]));
    let base = server.base_url().trim_end_matches("/v1").to_string();
    let p = Profile {
        base_url: base,
        style: ApiStyle::Azure,
        deployment: Some("mini-prod".into()),
        api_version: Some("2024-10-21".into()),
        ..Profile::default()
    };
    let r = run_with(p).await;
    assert_eq!(r.result.unwrap().text, "az");
    let req = &server.chat_requests()[0];
    assert_eq!(
        req.path,
        "/openai/deployments/mini-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(req.header("api-key"), Some(KEY));
    assert_eq!(req.header("authorization"), None);
}

#[tokio::test]
async fn extra_headers_from_the_profile_are_sent() {
    let server = MockServer::start().await;
    let mut p = profile(&server);
    p.headers.insert("X-Team".into(), "finance".into());
    run_with(p).await.result.unwrap();
    assert_eq!(server.chat_requests()[0].header("x-team"), Some("finance"));
}

#[tokio::test]
async fn a_server_that_ignores_stream_true_still_gives_the_answer() {
    let server = MockServer::start().await;
    server.push(Reply::json(200, json!({"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}})));
    let a = run(&server).await.result.unwrap();
    assert_eq!(
        (a.text.as_str(), a.status),
        ("whole", AnswerStatus::Complete)
    );
    assert_eq!(a.usage.unwrap().input, 5);
}

#[tokio::test]
async fn list_models_reads_the_endpoint() {
    let server = MockServer::start().await;
    let endpoint = Endpoint::new(
        &profile(&server),
        &ApiKey::new(KEY).unwrap(),
        None,
        &clerk::config::Policy::default(),
    )
    .unwrap();
    let models = endpoint.list_models().await.unwrap();
    assert!(models.contains(&"gpt-4o-mini".to_string()));
    assert_eq!(server.requests()[0].path_only(), "/v1/models");
}

#[tokio::test]
async fn status_403_says_the_key_is_not_allowed() {
    let server = MockServer::start().await;
    server.push(Reply::error(
        403,
        "Project does not have access to model",
        "invalid_request_error",
        None,
    ));
    let err = run(&server).await.result.unwrap_err();
    assert!(matches!(err, LlmError::Forbidden { .. }), "{err:?}");
    assert!(err.to_string().contains("administrator"));
    assert_eq!(server.chat_requests().len(), 1);
}

#[tokio::test]
async fn https_to_a_server_that_does_not_speak_tls_is_a_tls_error() {
    // A server that answers in plain text whatever it is sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut sock, _)) = listener.accept().await {
            let _ = sock
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let p = Profile {
        base_url: format!("https://{addr}/v1"),
        ..Profile::default()
    };
    let err = run_with(p).await.result.unwrap_err();
    assert!(matches!(err, LlmError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("ca_file"), "{err}");
}

/// A server that drips a byte now and then but never completes an event is stopped after
/// the idle timeout, as a silent one is (bytes alone are no sign of life).
#[tokio::test]
async fn a_server_that_drips_bytes_without_finishing_an_event_is_stopped() {
    let server = MockServer::start().await;
    let mut frames = vec![chunk_frame("start ")];
    let drip = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"never ends";
    frames.extend(drip.chars().map(|c| c.to_string()));
    server.push(Reply::sse(frames).pace(Duration::from_millis(400)));
    let a = run(&server).await.result.unwrap();
    assert_eq!(a.text, "start ");
    assert_eq!(a.status, AnswerStatus::Interrupted);
    let why = a.reason.unwrap();
    assert!(why.contains("no complete event for 2 s"), "{why}");
}
