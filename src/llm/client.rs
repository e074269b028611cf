//! One endpoint (a profile plus its key), and sending requests to it with clerk's retries.
//!
//! Requests go through async-openai's transport boundary: its `Config` (OpenAI or Azure
//! URL, query and auth headers) and a replayable `HttpRequestFactory` executed by its
//! plain `ReqwestService` tower service. async-openai's own retry layer is not used: the
//! retry loop here follows [`super::retry`] and reports every wait to the caller. The key
//! lives only inside the async-openai config; nothing here logs headers.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use async_openai::config::{AzureConfig, Config as ApiConfig, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response};
use serde::Deserialize;
use tower::ServiceExt;

use super::answer::parse_error_body;
use super::error::{LlmError, excerpt};
use super::retry::{self, Decision, MAX_RETRIES};
use crate::config::network::{self, ProxyChoice};
use crate::config::{ApiStyle, Policy, Profile};
use crate::secrets::ApiKey;

/// A wait before a retry, reported so the user sees what is happening.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryNotice {
    /// Which retry this will be (1-based).
    pub retry: u32,
    /// How many retries at most.
    pub of: u32,
    /// How long clerk waits first.
    pub wait: Duration,
    /// Why, e.g. "rate limited (429)".
    pub reason: String,
}

/// The HTTP client and the tower service over it: built on first use (or by
/// [`Endpoint::warm`] on another thread), because loading the system's root certificates
/// costs milliseconds that a first frame should not wait for.
struct Transport {
    service: ReqwestService,
    http: reqwest::Client,
}

/// Everything needed to talk to one endpoint.
#[derive(Clone)]
pub struct Endpoint {
    transport: Arc<OnceLock<Result<Transport, String>>>,
    connect_timeout: Duration,
    /// The profile's proxy and extra certificate authorities.
    proxy: ProxyChoice,
    ca_file: Option<std::path::PathBuf>,
    /// Sees every chat request (budgets, the usage ledger); none in tests and `auth`.
    meter: Option<Arc<dyn super::meter::Meter>>,
    /// What the requests sent through this endpoint are for.
    tag: super::meter::Tag,
    /// The admin's policy: the models a request may name (checked before each is sent).
    policy: Arc<Policy>,
    /// The profile's model (a policy may forbid asking another).
    profile_model: String,
    api: Arc<dyn ApiConfig>,
    extra: HeaderMap,
    base_url: String,
    /// Connect + response headers.
    pub request_timeout: Duration,
    /// Longest silence inside a stream.
    pub idle_timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Build an endpoint from a (validated) profile, its key, an optional base URL
    /// override (`--base-url` or `OPENAI_BASE_URL`) and the admin's policy, which must
    /// allow the base URL (and, under `allow_profiles_override = false`, no override): an
    /// endpoint the policy does not allow is never made, so nothing can be sent to it.
    pub fn new(
        profile: &Profile,
        key: &ApiKey,
        base_url: Option<&str>,
        policy: &Policy,
    ) -> Result<Endpoint, LlmError> {
        let base_url = base_url
            .unwrap_or(&profile.base_url)
            .trim_end_matches('/')
            .to_string();
        policy.check_endpoint(&profile.base_url, &base_url)?;
        let api: Arc<dyn ApiConfig> = match profile.style {
            ApiStyle::Openai => Arc::new(
                OpenAIConfig::new()
                    .with_api_base(&base_url)
                    .with_api_key(key.expose()),
            ),
            ApiStyle::Azure => Arc::new(
                AzureConfig::new()
                    .with_api_base(&base_url)
                    .with_api_key(key.expose())
                    .with_deployment_id(profile.deployment.clone().unwrap_or_default())
                    .with_api_version(profile.api_version.clone().unwrap_or_default()),
            ),
        };
        let mut extra = HeaderMap::new();
        for (k, v) in &profile.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                LlmError::Other(tr!("llm.client.bad_header_name", header = k).into_owned())
            })?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                LlmError::Other(tr!("llm.client.bad_header_value", header = k).into_owned())
            })?;
            extra.insert(name, value);
        }
        Ok(Endpoint {
            transport: Arc::new(OnceLock::new()),
            connect_timeout: Duration::from_secs(profile.request_timeout_secs.min(30)),
            proxy: ProxyChoice::of(profile.proxy.as_deref()),
            ca_file: profile.ca_file.clone(),
            meter: None,
            tag: super::meter::Tag::of("answer"),
            policy: Arc::new(policy.clone()),
            profile_model: profile.model.clone(),
            api,
            extra,
            base_url,
            request_timeout: Duration::from_secs(profile.request_timeout_secs),
            idle_timeout: Duration::from_secs(profile.idle_timeout_secs),
        })
    }

    /// The HTTP client, built on first use: TLS through ring (the only crypto provider
    /// built in; installing it twice is harmless) with the system's root certificates and
    /// the profile's and the environment's extra ones ([`super::trust`]), through the
    /// profile's proxy or the environment's.
    fn transport(&self) -> Result<&Transport, LlmError> {
        self.transport
            .get_or_init(|| {
                let _ = rustls::crypto::ring::default_provider().install_default();
                // No overall timeout: answers stream for minutes. Connect and idle limits
                // are ours.
                let mut builder = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .user_agent(concat!("clerk/", env!("CARGO_PKG_VERSION")));
                match &self.proxy {
                    ProxyChoice::Environment => {}
                    ProxyChoice::Direct => builder = builder.no_proxy(),
                    ProxyChoice::Via(url) => {
                        let proxy = reqwest::Proxy::all(url)
                            .map_err(|e| {
                                tr!(
                                    "llm.client.proxy",
                                    proxy = network::without_password(url),
                                    why = e
                                )
                                .into_owned()
                            })?
                            .no_proxy(reqwest::NoProxy::from_env());
                        builder = builder.proxy(proxy);
                    }
                }
                let sources = super::trust::TrustSources::from_env(self.ca_file.as_deref());
                let certs = |ders: Vec<rustls::pki_types::CertificateDer<'static>>| {
                    ders.iter()
                        .map(|d| reqwest::Certificate::from_der(d))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| tr!("llm.client.bad_certificate", why = e).into_owned())
                };
                builder = match super::trust::roots(&sources, &super::trust::system_bundle)? {
                    super::trust::Roots::System => builder,
                    super::trust::Roots::Merge(ders) => builder.tls_certs_merge(certs(ders)?),
                    super::trust::Roots::Only(ders) => builder.tls_certs_only(certs(ders)?),
                };
                builder
                    .build()
                    .map(|http| Transport {
                        service: ReqwestService::new(http.clone()),
                        http,
                    })
                    .map_err(|e| tr!("llm.client.no_https", why = e).into_owned())
            })
            .as_ref()
            .map_err(|e| LlmError::Other(e.clone()))
    }

    /// Build the HTTP client now (the app does it on another thread at start, so the first
    /// request does not pay for it and the first frame does not wait for it).
    pub fn warm(&self) {
        let _ = self.transport();
    }

    /// Build the HTTP client on a thread of its own (reading the system's certificates takes
    /// milliseconds), while the caller prepares its request; a request that comes first
    /// waits for the same build. Returns `self`.
    pub fn warming(self) -> Endpoint {
        let copy = self.clone();
        let _ = std::thread::Builder::new()
            .name("clerk-http".into())
            .spawn(move || copy.warm());
        self
    }

    /// This endpoint with `meter` seeing every chat request (it may refuse one: a budget).
    pub fn with_meter(mut self, meter: Arc<dyn super::meter::Meter>) -> Endpoint {
        self.meter = Some(meter);
        self
    }

    /// The same endpoint (same client, same meter) for requests that are for `tag`.
    pub fn tagged(&self, tag: super::meter::Tag) -> Endpoint {
        Endpoint {
            tag,
            ..self.clone()
        }
    }

    /// The meter, if any.
    pub fn meter(&self) -> Option<&Arc<dyn super::meter::Meter>> {
        self.meter.as_ref()
    }

    /// What requests sent through it are for.
    pub fn tag(&self) -> &super::meter::Tag {
        &self.tag
    }

    /// Whether the policy lets a chat request ask `model` (before anything is sent).
    pub fn allow_chat_model(&self, model: &str) -> Result<(), LlmError> {
        Ok(self
            .policy
            .check_request_model(&self.profile_model, model)?)
    }

    /// Whether the policy lets an embeddings request ask `model`: the lists only (the
    /// model of a knowledge base's vectors is its own setting, not the profile's).
    pub fn allow_embeddings_model(&self, model: &str) -> Result<(), LlmError> {
        Ok(self.policy.check_model(model)?)
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The full URL for an API path.
    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    fn factory(
        &self,
        http: &reqwest::Client,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> HttpRequestFactory {
        let url = self.api.url(path);
        let query: Vec<(String, String)> = self
            .api
            .query()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut headers = self.api.headers();
        headers.extend(self.extra.clone());
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let http = http.clone();
        HttpRequestFactory::new(move || {
            let mut builder = http
                .request(method.clone(), &url)
                .query(&query)
                .headers(headers.clone());
            if let Some(b) = &body {
                builder = builder.body(b.clone());
            }
            let request = builder.build().map_err(OpenAIError::Reqwest);
            async move { request }
        })
    }

    /// Send a request, retrying per [`super::retry`], until a 2xx response arrives (its
    /// body unread) or the failure is final. `on_wait` hears about every wait.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        on_wait: &mut (dyn FnMut(RetryNotice) + Send),
    ) -> Result<Response, LlmError> {
        let transport = self.transport()?;
        let factory = self.factory(&transport.http, method, path, body);
        let url = self.url(path);
        let mut attempt = 0;
        // The whole wait for a response, retries and their pauses included, is bounded by
        // `request_timeout` (a stalled server is reported after it, not after each attempt).
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        loop {
            let call = transport.service.clone().oneshot(factory.clone());
            let (failure, decision) = match tokio::time::timeout_at(deadline, call).await {
                Ok(Ok(resp)) if resp.status().is_success() => return Ok(resp),
                Ok(Ok(resp)) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let body = read_limited(resp, 64 * 1024).await;
                    let api = parse_error_body(&body);
                    let code = api.as_ref().and_then(|e| e.code.clone());
                    let decision = retry::decide(
                        attempt,
                        Some(status),
                        code.as_deref(),
                        &headers,
                        SystemTime::now(),
                        fastrand::f64(),
                    );
                    let wait = retry::server_wait(&headers, SystemTime::now());
                    let message = api
                        .map(|e| excerpt(&e.message, 300))
                        .unwrap_or_else(|| excerpt(&body, 200));
                    (
                        Failure::Http {
                            status,
                            code,
                            message,
                            wait,
                        },
                        decision,
                    )
                }
                Ok(Err(e)) => {
                    let failure = transport_failure(&url, &e, self.request_timeout);
                    let decision = if failure.retryable() {
                        without_status(attempt)
                    } else {
                        Decision::GiveUp
                    };
                    (Failure::Transport(failure), decision)
                }
                Err(_) => (
                    Failure::Transport(LlmError::Timeout {
                        url: url.clone(),
                        secs: self.request_timeout.as_secs(),
                    }),
                    without_status(attempt),
                ),
            };
            let decision = match decision {
                Decision::Retry(wait) if tokio::time::Instant::now() + wait >= deadline => {
                    Decision::GiveUp
                }
                other => other,
            };
            match decision {
                Decision::Retry(wait) => {
                    tracing::info!(attempt, ?wait, reason = %failure.reason(), "retrying");
                    on_wait(RetryNotice {
                        retry: attempt + 1,
                        of: MAX_RETRIES,
                        wait,
                        reason: failure.shown(),
                    });
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Decision::WaitTooLong(wait) => {
                    return Err(match failure {
                        Failure::Http { message, .. } => LlmError::RateLimited {
                            message,
                            retry_after: Some(wait),
                        },
                        Failure::Transport(e) => e,
                    });
                }
                Decision::GiveUp => return Err(self.final_error(failure, &url, attempt).await),
            }
        }
    }

    async fn final_error(&self, failure: Failure, url: &str, retries: u32) -> LlmError {
        let (status, code, message, wait) = match failure {
            Failure::Http {
                status,
                code,
                message,
                wait,
            } => (status, code, message, wait),
            Failure::Transport(e) => return e,
        };
        let code = code.unwrap_or_default();
        let lower = message.to_lowercase();
        match status {
            401 => LlmError::Unauthorized { message },
            403 => LlmError::Forbidden { message },
            404 if code == "model_not_found" || lower.contains("model") => {
                // The caller knows which model it asked for and fills it in.
                let available = self.list_models_once().await.unwrap_or_default();
                LlmError::UnknownModel {
                    model: String::new(),
                    message,
                    available,
                }
            }
            404 => LlmError::NotFound {
                url: url.to_string(),
                message,
            },
            429 if code == "insufficient_quota" => LlmError::Quota { message },
            429 => LlmError::RateLimited {
                message,
                retry_after: wait,
            },
            400 | 413
                if code == "context_length_exceeded"
                    || lower.contains("context length")
                    || lower.contains("maximum context") =>
            {
                LlmError::ContextTooLong { message }
            }
            500..=599 => LlmError::Server {
                status,
                message,
                retries,
            },
            _ => LlmError::BadRequest { status, message },
        }
    }
}

/// What went wrong in one attempt.
enum Failure {
    Http {
        status: u16,
        code: Option<String>,
        message: String,
        wait: Option<Duration>,
    },
    Transport(LlmError),
}

impl Failure {
    fn reason(&self) -> String {
        match self {
            Failure::Http { status: 429, .. } => "rate limited (HTTP 429)".to_string(),
            Failure::Http { status, .. } => format!("server error (HTTP {status})"),
            Failure::Transport(LlmError::Timeout { .. }) => "no answer in time".to_string(),
            Failure::Transport(_) => "connection failed".to_string(),
        }
    }

    /// [`Failure::reason`] for people (the retry notice), in the interface's language; the
    /// log keeps the English one.
    fn shown(&self) -> String {
        match self {
            Failure::Http { status: 429, .. } => tr!("llm.retry.rate_limited"),
            Failure::Http { status, .. } => tr!("llm.retry.server_error", status = status),
            Failure::Transport(LlmError::Timeout { .. }) => tr!("llm.retry.timeout"),
            Failure::Transport(_) => tr!("llm.retry.connection"),
        }
        .into_owned()
    }
}

impl LlmError {
    fn retryable(&self) -> bool {
        matches!(
            self,
            LlmError::Connect { .. } | LlmError::Timeout { .. } | LlmError::Other(_)
        )
    }
}

/// The retry decision for a failure that has no HTTP status (connection error, timeout).
fn without_status(attempt: u32) -> Decision {
    retry::decide(
        attempt,
        None,
        None,
        &HeaderMap::new(),
        SystemTime::now(),
        fastrand::f64(),
    )
}

/// Whether an io::Error carries a rustls error (`source()` skips the wrapped error itself).
fn io_wraps_tls(e: &std::io::Error) -> bool {
    match e.get_ref() {
        Some(inner) => {
            inner.is::<rustls::Error>()
                || inner
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(io_wraps_tls)
        }
        None => false,
    }
}

/// Classify a transport error by walking its causes.
fn transport_failure(url: &str, e: &OpenAIError, timeout: Duration) -> LlmError {
    let mut chain = Vec::new();
    let mut is_tls = false;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        chain.push(err.to_string());
        // rustls errors arrive bare or wrapped in (nested) io::Errors.
        is_tls |= err.is::<rustls::Error>()
            || err
                .downcast_ref::<std::io::Error>()
                .is_some_and(io_wraps_tls);
        cur = err.source();
    }
    let all = chain.join(": ").to_lowercase();
    let detail = chain.last().cloned().unwrap_or_default();
    let url = url.to_string();
    if all.contains("dns error")
        || all.contains("failed to lookup address")
        || all.contains("name or service not known")
    {
        LlmError::Dns { url, detail }
    } else if is_tls || all.contains("certificate") || all.contains("tls handshake") {
        LlmError::Tls {
            url,
            detail: certificate_problem(&all).unwrap_or(detail),
        }
    } else if let OpenAIError::Reqwest(r) = e
        && r.is_timeout()
    {
        LlmError::Timeout {
            url,
            secs: timeout.as_secs(),
        }
    } else if let OpenAIError::Reqwest(r) = e
        && (r.is_connect() || r.is_request())
    {
        LlmError::Connect { url, detail }
    } else {
        LlmError::Other(tr!("llm.client.request_failed", url = url, detail = detail).into_owned())
    }
}

/// A TLS failure's certificate problem in words, from rustls's error text (lowercased), in
/// the interface's language; it ends with rustls's name for it (`(UnknownIssuer)`).
pub(crate) fn certificate_problem(all: &str) -> Option<String> {
    let text = if all.contains("unknownissuer") {
        tr!("llm.certificate.unknown_issuer")
    } else if all.contains("notvalidforname") {
        tr!("llm.certificate.not_valid_for_name")
    } else if all.contains("expired") {
        tr!("llm.certificate.expired")
    } else if all.contains("notvalidyet") {
        tr!("llm.certificate.not_valid_yet")
    } else if all.contains("revoked") {
        tr!("llm.certificate.revoked")
    } else if all.contains("badsignature") {
        tr!("llm.certificate.bad_signature")
    } else {
        return None;
    };
    Some(text.into_owned())
}

/// Read at most `limit` bytes of a body as text (lossy); errors give what was read.
pub(crate) async fn read_limited(mut resp: Response, limit: usize) -> String {
    let mut buf = Vec::new();
    while buf.len() < limit {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    buf.truncate(limit);
    String::from_utf8_lossy(&buf).into_owned()
}

#[derive(Deserialize)]
struct ModelList {
    #[serde(default)]
    data: Vec<ModelId>,
}

#[derive(Deserialize)]
struct ModelId {
    id: String,
}

impl Endpoint {
    /// `GET /models`: the ids the endpoint offers, sorted. Used to check a key and to say
    /// what is available when a model is unknown.
    pub async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let resp = self.send(Method::GET, "/models", None, &mut |_| {}).await?;
        let body = read_limited(resp, 4 * 1024 * 1024).await;
        let list: ModelList = serde_json::from_str(&body).map_err(|_| {
            LlmError::Other(
                tr!("llm.client.models_not_json", excerpt = excerpt(&body, 120)).into_owned(),
            )
        })?;
        let mut ids: Vec<String> = list.data.into_iter().map(|m| m.id).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn list_models_once(&self) -> Option<Vec<String>> {
        // Box the recursion (send → final_error → list_models → send).
        Box::pin(self.list_models()).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_client_is_built_on_first_use_and_shared_by_clones() {
        let key = crate::secrets::ApiKey::new("sk-test-0123456789").unwrap();
        let ep = Endpoint::new(
            &Profile::default(),
            &key,
            Some("http://127.0.0.1:9/v1"),
            &Policy::default(),
        )
        .unwrap();
        let copy = ep.clone();
        // Nothing is loaded by `new`: a first frame does not wait for the certificates.
        assert!(ep.transport.get().is_none());
        copy.warm();
        assert!(
            ep.transport.get().is_some_and(Result::is_ok),
            "a clone's build serves the original"
        );
    }
}
