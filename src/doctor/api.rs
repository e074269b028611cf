//! The API itself, through clerk's own HTTP client and engine: `GET /models` answers and
//! lists the model (`models`), and one live call of one token answers, with its latency
//! (`call`). The call is recorded in the usage ledger, tagged `doctor`, and goes through
//! the budgets like every other request.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::{CALL_TIMEOUT, Check, CheckId, MODELS_TIMEOUT, Said, State, said};
use crate::format::{Noun, counted};
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
            let n = ids.len();
            if ids.iter().any(|m| m == &model) {
                Check::ok(
                    id,
                    said(|| {
                        let count = counted(n, Noun::Model);
                        tr!(
                            "doctor.models.ok",
                            url = url,
                            count = count,
                            model = model,
                            ms = ms
                        )
                    }),
                )
            } else {
                let offered: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
                let more = if ids.len() > 10 { ", …" } else { "" };
                let list = format!("{}{more}", offered.join(", "));
                Check::warn(
                    id,
                    said(|| {
                        let offers = match offered.is_empty() {
                            true => tr!("doctor.models.empty"),
                            false => tr!("doctor.models.offers", list = list),
                        };
                        let count = counted(n, Noun::Model);
                        tr!(
                            "doctor.models.missing",
                            url = url,
                            count = count,
                            model = model,
                            offers = offers,
                            ms = ms
                        )
                    }),
                    said(|| tr!("doctor.models.missing_fix")),
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
            let secs = MODELS_TIMEOUT.as_secs();
            Check::fail(
                id,
                said(|| tr!("doctor.models.timeout", url = url, secs = secs)),
                said(|| tr!("doctor.models.timeout_fix")),
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
    let source = said(|| match &s.key {
        Ok((_, source)) => tr!("doctor.api.key_from", source = source.label()),
        Err(_) => "".into(),
    });
    let error: Said = said(|| e);
    match e {
        LlmError::Unauthorized { message } => (
            Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.api.unauthorized",
                        message = message,
                        source = source
                    )
                }),
                said(|| tr!("doctor.api.unauthorized_fix", profile = profile)),
            ),
            Err(id),
        ),
        LlmError::Forbidden { .. } | LlmError::Quota { .. } => (
            Check::fail(id, error, said(|| tr!("doctor.api.forbidden_fix"))),
            Err(id),
        ),
        LlmError::NotFound { url, message } => (
            Check::warn(
                id,
                said(|| tr!("doctor.api.not_found", url = url, message = message)),
                said(|| tr!("doctor.api.not_found_fix")),
            ),
            Ok(()),
        ),
        LlmError::RateLimited { .. } => (
            Check::warn(id, error, said(|| tr!("doctor.api.rate_limited_fix"))),
            Ok(()),
        ),
        LlmError::UnknownModel { message, .. } => (
            Check::fail(
                id,
                said(|| tr!("doctor.api.unknown_model", model = model, message = message)),
                said(|| tr!("doctor.api.unknown_model_fix")),
            ),
            Err(id),
        ),
        _ => (
            Check::fail(id, error, said(|| tr!("doctor.api.other_fix"))),
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
        prompt_tokens: None,
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
    let noted = said(|| match notes.is_empty() {
        true => "".into(),
        false => tr!("doctor.call.noted", notes = notes),
    });
    match answered {
        Ok(Ok(answer)) => {
            let took = answer.duration.as_millis();
            let first = said(|| match answer.ttft {
                Some(t) => tr!("doctor.call.first_token", ms = t.as_millis()),
                None => "".into(),
            });
            let usage = said(|| match answer.usage {
                Some(u) => {
                    let price = setup.config.models.get(&model);
                    let cost = price.and_then(|p| p.cost(u.input, u.cached, u.output));
                    let cost = crate::format::usd(cost);
                    tr!(
                        "doctor.call.usage",
                        input = crate::format::thousands(u.input),
                        output = crate::format::thousands(u.output),
                        cost = cost
                    )
                }
                None => tr!("doctor.call.no_usage"),
            });
            let answered = said(|| {
                tr!(
                    "doctor.call.ok",
                    model = model,
                    ms = took,
                    first = first,
                    usage = usage,
                    noted = noted
                )
            });
            match answer.status {
                AnswerStatus::Complete => Check::ok(id, answered),
                AnswerStatus::Truncated => Check::warn(
                    id,
                    said(|| tr!("doctor.call.truncated", said = answered)),
                    said(|| tr!("doctor.call.truncated_fix")),
                ),
                AnswerStatus::Interrupted | AnswerStatus::Error => {
                    // The reason is the answer's own (English, as the history keeps it).
                    let reason = answer.reason.clone();
                    Check::fail(
                        id,
                        said(|| {
                            let why = match &reason {
                                Some(r) => r.as_str().into(),
                                None => tr!("doctor.call.broke_off"),
                            };
                            tr!("doctor.call.broken", model = model, why = why)
                        }),
                        said(|| tr!("doctor.call.broken_fix")),
                    )
                }
            }
        }
        Ok(Err(LlmError::Refused(why))) => Check::warn(
            id,
            said(|| tr!("doctor.call.refused", why = why)),
            said(|| tr!("doctor.call.refused_fix")),
        ),
        Ok(Err(e)) => api_error(id, &e, s, &model).0,
        Err(_) => {
            let secs = CALL_TIMEOUT.as_secs();
            Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.call.timeout",
                        model = model,
                        secs = secs,
                        noted = noted
                    )
                }),
                said(|| tr!("doctor.call.timeout_fix")),
            )
        }
    }
}
