//! Errors from talking to a model endpoint, worded so a person knows what to do next.
//!
//! Messages never contain the API key or request headers; a server's own message is
//! sanitized before it is shown. Each error belongs to an [`ErrorClass`] that the command
//! line maps to an exit code.

use std::time::Duration;

use super::sanitize::sanitize;

/// Broad kinds of failure, for exit codes and for deciding what to offer the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The key is missing, wrong, revoked or not allowed.
    Auth,
    /// The network, the server or the rate limit.
    Network,
    /// What was asked cannot be sent as it is (unknown model, too long, bad request).
    BadInput,
    /// A budget refused the request before it was sent.
    Budget,
}

/// A failure before or while opening a stream.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// A budget (the user's or the admin's policy's) refused the request before it was
    /// sent; the text says which, how much is spent and when it starts again.
    #[error("{0}")]
    Refused(String),
    /// The admin's policy does not allow this endpoint or model: nothing was sent. The
    /// text names the policy file and the rule.
    #[error("not sent: {0}")]
    NotAllowed(#[from] crate::config::policy::Denied),
    /// A request for one part of a long document failed.
    #[error("reading {part} failed: {source}")]
    InPart {
        /// Which part ("report.pdf, part 3 of 12").
        part: String,
        /// Why.
        source: Box<LlmError>,
    },
    /// 401.
    #[error(
        "the API key was rejected (HTTP 401: {message}). It may be wrong or revoked: run `clerk auth login` to store a new one"
    )]
    Unauthorized {
        /// The server's message.
        message: String,
    },
    /// 403.
    #[error(
        "access denied (HTTP 403: {message}). The key may not be allowed to use this model or project; ask your administrator"
    )]
    Forbidden {
        /// The server's message.
        message: String,
    },
    /// 404 for a model.
    #[error(
        "the model `{model}` is not available at this endpoint ({message}).{}",
        available_list(available)
    )]
    UnknownModel {
        /// The model asked for.
        model: String,
        /// The server's message.
        message: String,
        /// What the endpoint offers (may be empty when it could not be listed).
        available: Vec<String>,
    },
    /// 404 for anything else: usually a wrong base URL.
    #[error(
        "the endpoint {url} answered 404 Not Found ({message}). Check base_url in the profile (it usually ends in /v1)"
    )]
    NotFound {
        /// The URL requested.
        url: String,
        /// The server's message.
        message: String,
    },
    /// 429 rate limit, after the retries.
    #[error("rate limited (HTTP 429: {message}).{}", retry_hint(*retry_after))]
    RateLimited {
        /// The server's message.
        message: String,
        /// The wait the server asked for, if any.
        retry_after: Option<Duration>,
    },
    /// 429 insufficient_quota.
    #[error(
        "the account is out of credit or over its quota ({message}). Check billing; retrying will not help"
    )]
    Quota {
        /// The server's message.
        message: String,
    },
    /// The prompt is longer than the model's window.
    #[error(
        "the conversation is too long for the model's context window ({message}). Start a new session or shorten the message"
    )]
    ContextTooLong {
        /// The server's message.
        message: String,
    },
    /// Another 4xx.
    #[error("the server refused the request (HTTP {status}: {message})")]
    BadRequest {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// 5xx after the retries.
    #[error(
        "the server failed (HTTP {status}: {message}) and kept failing after {retries} retries; try again later"
    )]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
        /// How many retries were made.
        retries: u32,
    },
    /// The host name did not resolve.
    #[error(
        "cannot resolve the host of {url} ({detail}). Check the base_url and your network or VPN"
    )]
    Dns {
        /// The URL.
        url: String,
        /// Details.
        detail: String,
    },
    /// TCP connect failed.
    #[error(
        "cannot connect to {url} ({detail}). Is the server running and reachable? Behind a proxy, set HTTPS_PROXY"
    )]
    Connect {
        /// The URL.
        url: String,
        /// Details.
        detail: String,
    },
    /// TLS handshake or certificate failure.
    #[error(
        "secure connection to {url} failed ({detail}). If your company uses its own certificate authority or a proxy that inspects HTTPS, set `ca_file` in the profile (or SSL_CERT_FILE) to its PEM file"
    )]
    Tls {
        /// The URL.
        url: String,
        /// Details.
        detail: String,
    },
    /// No response headers within the request timeout.
    #[error(
        "{url} did not answer within {secs} s; try again, or raise request_timeout_secs in the profile"
    )]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        secs: u64,
    },
    /// A 200 answer that is not an event stream (e.g. a proxy's HTML page).
    #[error(
        "the server answered with {content_type} instead of an event stream (a proxy or login page?): {excerpt}"
    )]
    NotAStream {
        /// The content type.
        content_type: String,
        /// A short, sanitized excerpt of the body.
        excerpt: String,
    },
    /// Anything else on the wire.
    #[error("{0}")]
    Other(String),
}

fn available_list(models: &[String]) -> String {
    if models.is_empty() {
        " Check the model name with the endpoint's documentation".to_string()
    } else {
        let shown: Vec<&str> = models.iter().take(20).map(String::as_str).collect();
        let more = if models.len() > 20 {
            format!(" and {} more", models.len() - 20)
        } else {
            String::new()
        };
        format!(" It offers: {}{more}. Use --model NAME", shown.join(", "))
    }
}

fn retry_hint(wait: Option<Duration>) -> String {
    match wait {
        Some(w) => format!(
            " The server asks to wait {}; try again then",
            human_duration(w)
        ),
        None => " Wait a little and try again".to_string(),
    }
}

/// "3 s", "2 min 5 s", "1 h 10 min".
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64().ceil() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => {
            let (m, r) = (s / 60, s % 60);
            if r == 0 {
                format!("{m} min")
            } else {
                format!("{m} min {r} s")
            }
        }
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

impl LlmError {
    /// The broad kind of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            LlmError::InPart { source, .. } => source.class(),
            LlmError::Refused(_) => ErrorClass::Budget,
            LlmError::Unauthorized { .. } | LlmError::Forbidden { .. } | LlmError::Quota { .. } => {
                ErrorClass::Auth
            }
            LlmError::UnknownModel { .. }
            | LlmError::NotAllowed(_)
            | LlmError::ContextTooLong { .. }
            | LlmError::BadRequest { .. } => ErrorClass::BadInput,
            _ => ErrorClass::Network,
        }
    }
}

/// Shorten and sanitize a server-provided text for display: tags stripped for HTML, keys
/// masked (a server may echo the key it refused), white space folded, at most `max`
/// characters.
pub fn excerpt(body: &str, max: usize) -> String {
    let mut text = String::with_capacity(body.len().min(4096));
    let mut in_tag = false;
    let looks_html = body.trim_start().starts_with('<');
    for c in body.chars().take(64 * 1024) {
        match c {
            '<' if looks_html => in_tag = true,
            '>' if looks_html => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let clean = sanitize(&crate::secrets::redact_keys(&text));
    let folded: Vec<&str> = clean.split_whitespace().collect();
    let joined = folded.join(" ");
    if joined.chars().count() > max {
        let cut: String = joined.chars().take(max).collect();
        format!("{cut}…")
    } else if joined.is_empty() {
        "(empty body)".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_excerpt_is_short_tagless_and_inert() {
        let page = "<html><head><title>Access denied</title></head><body><h1>Blocked by \x1b]52;c;ZXZpbA==\x07proxy</h1>\n\n<p>Contact IT.</p></body></html>";
        let e = excerpt(page, 60);
        assert_eq!(e, "Access denied Blocked by proxy Contact IT.");
        assert!(excerpt(&"x".repeat(500), 10).ends_with('…'));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_millis(2500)), "3 s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(
            human_duration(Duration::from_secs(7200 + 600)),
            "2 h 10 min"
        );
    }

    #[test]
    fn unknown_model_lists_what_is_offered() {
        let e = LlmError::UnknownModel {
            model: "gpt-5o".into(),
            message: "not found".into(),
            available: vec!["gpt-4o".into(), "gpt-4o-mini".into()],
        };
        let s = e.to_string();
        assert!(s.contains("gpt-4o, gpt-4o-mini"), "{s}");
        assert_eq!(e.class(), ErrorClass::BadInput);
    }
}
