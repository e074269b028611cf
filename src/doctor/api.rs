//! The API itself, through clerk's own HTTP client and engine: `GET /models` answers and
//! lists the model (`models`), and one live call of one token answers, with its latency
//! (`call`). The call is recorded in the usage ledger, tagged `doctor`, and goes through
//! the budgets like every other request.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::{CALL_TIMEOUT, Check, CheckId, MODELS_TIMEOUT, State};
use crate::llm::meter::Tag;
use crate::llm::{AnswerStatus, ChatMessage, ChatRequest, ChatRole, Endpoint, LlmError};

/// The endpoint the API checks use (one HTTP client for both, so its set-up is paid once)
/// and the model: the profile's, with the key, the base URL override and `timeout` for
/// the wait for an answer.
fn endpoint(
    s: &mut State<'_>,
    timeout: std::time::Duration,
) -> Result<(Endpoint, String), CheckId> {
    if let Some((ep, model)) = &s.endpoint {
        let mut ep = ep.clone();
        ep.request_timeout = timeout;
        return Ok((ep, model.clone()));
    }
    let setup = s.setup()?;
    let (profile, _) = s.profile.as_ref().map_err(|by| *by)?;
    let (key, _) = s.key.as_ref().map_err(|by| *by)?;
    let mut quick = profile.clone();
    quick.request_timeout_secs = timeout.as_secs().max(1);
    let model = setup.model.clone().unwrap_or_else(|| profile.model.clone());
    let ep = Endpoint::new(&quick, key, setup.base_url.as_deref(), &setup.config.policy)
        .map_err(|_| CheckId::Profile)?;
    s.endpoint = Some((ep.clone(), model.clone()));
    Ok((ep, model))
}

/// `models`: `GET /models` answers with this key and lists the model. A rejected key
/// fails (and says to run `clerk auth login`); a list without the model is a warning (some
/// gateways list less than they serve: `call` tells).
pub(super) async fn models(s: &mut State<'_>) -> Check {
    let id = CheckId::Models;
    let ready = s.tls.and(s.key.as_ref().map(|_| ()).map_err(|by| *by));
    let (endpoint, model) = match ready.and_then(|()| endpoint(s, MODELS_TIMEOUT)) {
        Ok(e) => e,
        Err(by) => {
            s.api = Err(by);
            return Check::not_checked(id, by);
        }
    };
    let url = endpoint.url("/models");
    let start = Instant::now();
    let listed = tokio::time::timeout(MODELS_TIMEOUT, endpoint.list_models()).await;
    let ms = start.elapsed().as_millis();
    match listed {
        Ok(Ok(ids)) => {
            s.api = Ok(());
            if ids.iter().any(|m| m == &model) {
                Check::ok(
                    id,
                    format!(
                        "{url}: {}, {model} among them ({ms} ms)",
                        crate::format::counted(ids.len(), "model")
                    ),
                )
            } else {
                let offered: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
                let more = if ids.len() > 10 { ", …" } else { "" };
                Check::warn(
                    id,
                    format!(
                        "{url}: {}, but not {model} ({}{more}) ({ms} ms)",
                        crate::format::counted(ids.len(), "model"),
                        if offered.is_empty() {
                            "the list is empty".to_string()
                        } else {
                            format!("it offers {}", offered.join(", "))
                        }
                    ),
                    "check the model in the profile (or --model); some gateways list fewer models than they serve, and `call` shows whether this one answers",
                )
            }
        }
        Ok(Err(e)) => {
            let (check, api) = api_error(id, &e, s, &model);
            s.api = api;
            check
        }
        Err(_) => {
            s.api = Err(id);
            Check::fail(
                id,
                format!("{url} did not answer within {} s", MODELS_TIMEOUT.as_secs()),
                "try again; if it stays slow, the endpoint (or a proxy on the way) is overloaded",
            )
        }
    }
}

/// A failed request as a check, and whether the API is worth calling after it.
fn api_error(
    id: CheckId,
    e: &LlmError,
    s: &State<'_>,
    model: &str,
) -> (Check, Result<(), CheckId>) {
    let profile = s.setup().map(|x| x.profile.as_str()).unwrap_or("default");
    let source = match &s.key {
        Ok((_, source)) => format!(" (the key in use comes from {source})"),
        Err(_) => String::new(),
    };
    match e {
        LlmError::Unauthorized { message } => (
            Check::fail(
                id,
                format!("the API key was rejected (HTTP 401: {message}){source}"),
                format!(
                    "run `clerk auth login --profile {profile}` to store a working key (a key set in CLERK_API_KEY or api_key_cmd is used first: fix or remove it)"
                ),
            ),
            Err(id),
        ),
        LlmError::Forbidden { .. } | LlmError::Quota { .. } => (
            Check::fail(
                id,
                e.to_string(),
                "ask your administrator, or check billing",
            ),
            Err(id),
        ),
        LlmError::NotFound { url, message } => (
            Check::warn(
                id,
                format!("{url} answered 404 Not Found ({message})"),
                "check base_url (it usually ends in /v1); an endpoint without /models is fine if `call` passes",
            ),
            Ok(()),
        ),
        LlmError::RateLimited { .. } => (
            Check::warn(
                id,
                e.to_string(),
                "wait a little and run `clerk doctor` again",
            ),
            Ok(()),
        ),
        LlmError::UnknownModel { message, .. } => (
            Check::fail(
                id,
                format!("the model `{model}` is not available at this endpoint ({message})"),
                "set the profile's model to one the endpoint offers (`clerk doctor` lists them under models), or use --model",
            ),
            Err(id),
        ),
        other => (
            Check::fail(
                id,
                other.to_string(),
                "see the checks above it for the network; try again later for a server error",
            ),
            Err(id),
        ),
    }
}

/// `call`: one chat request of one token, streamed as every answer is, timed; metered
/// (budgets, the usage ledger) and tagged `doctor`.
pub(super) async fn call(s: &mut State<'_>) -> Check {
    let id = CheckId::Call;
    let setup = match s.setup() {
        Ok(x) => x,
        Err(by) => return Check::not_checked(id, by),
    };
    let (endpoint, model) = match s.api.and_then(|()| endpoint(s, CALL_TIMEOUT)) {
        Ok(e) => e,
        Err(by) => return Check::not_checked(id, by),
    };
    let notes = Arc::new(Mutex::new(Vec::new()));
    let heard = notes.clone();
    let meter = crate::chat::meter::LedgerMeter::opening(
        setup.paths.usage_ledger(),
        &setup.profile,
        setup.config.models.clone(),
        setup.config.file.budget.clone(),
        Box::new(move |w| heard.lock().unwrap_or_else(PoisonError::into_inner).push(w)),
    );
    let endpoint = endpoint
        .with_meter(Arc::new(meter))
        .tagged(Tag::of("doctor"));
    let request = ChatRequest {
        model: model.clone(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "Reply with one word: ok".to_string(),
        }],
        max_output_tokens: Some(1),
        temperature: None,
    };
    let answered = tokio::time::timeout(
        CALL_TIMEOUT,
        crate::llm::stream::chat_to_end(endpoint, request, |_| {}),
    )
    .await;
    let notes = notes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .join("; ");
    let noted = if notes.is_empty() {
        String::new()
    } else {
        format!("; note: {notes}")
    };
    match answered {
        Ok(Ok(answer)) => {
            let took = answer.duration.as_millis();
            let first = answer
                .ttft
                .map(|t| format!(", first token after {} ms", t.as_millis()))
                .unwrap_or_default();
            let usage = match answer.usage {
                Some(u) => {
                    let price = setup.config.models.get(&model);
                    let cost = price.and_then(|p| p.cost(u.input, u.cached, u.output));
                    format!(
                        "; {} tokens in, {} out, {}",
                        u.input,
                        u.output,
                        crate::format::usd(cost)
                    )
                }
                None => "; no token counts from the server".to_string(),
            };
            let said = format!(
                "{model} answered in {took} ms{first}{usage}; recorded in the usage ledger as `doctor`{noted}"
            );
            match answer.status {
                AnswerStatus::Complete => Check::ok(id, said),
                AnswerStatus::Truncated => Check::warn(
                    id,
                    format!("{said}, but the stream ended without a finish reason"),
                    "a proxy may be cutting streamed answers short: ask IT about server-sent events (text/event-stream)",
                ),
                AnswerStatus::Interrupted | AnswerStatus::Error => Check::fail(
                    id,
                    format!(
                        "{model} started answering but {}",
                        answer.reason.as_deref().unwrap_or("the answer broke off")
                    ),
                    "try again; if it persists, the endpoint or a proxy on the way breaks streams",
                ),
            }
        }
        Ok(Err(LlmError::Refused(why))) => Check::warn(
            id,
            format!("not sent: {why}"),
            "a budget ([budget] in the config) holds the request back; raise it, or run `clerk doctor` when the period starts again",
        ),
        Ok(Err(e)) => api_error(id, &e, s, &model).0,
        Err(_) => Check::fail(
            id,
            format!(
                "{model} did not answer within {} s{noted}",
                CALL_TIMEOUT.as_secs()
            ),
            "try again; if it stays slow the model or the endpoint is overloaded (answers wait up to request_timeout_secs in the profile)",
        ),
    }
}
