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
#[derive(Debug)]
pub enum LlmError {
    /// A budget (the user's or the admin's policy's) refused the request before it was
    /// sent; the text says which, how much is spent and when it starts again.
    Refused(String),
    /// The admin's policy does not allow this endpoint or model: nothing was sent. The
    /// text names the policy file and the rule.
    NotAllowed(crate::config::policy::Denied),
    /// A request for one part of a long document failed.
    InPart {
        /// Which part ("report.pdf, part 3 of 12").
        part: String,
        /// Why.
        source: Box<LlmError>,
    },
    /// 401.
    Unauthorized {
        /// The server's message.
        message: String,
    },
    /// 403.
    Forbidden {
        /// The server's message.
        message: String,
    },
    /// 404 for a model.
    UnknownModel {
        /// The model asked for.
        model: String,
        /// The server's message.
        message: String,
        /// What the endpoint offers (may be empty when it could not be listed).
        available: Vec<String>,
    },
    /// 404 for anything else: usually a wrong base URL.
    NotFound {
        /// The URL requested.
        url: String,
        /// The server's message.
        message: String,
    },
    /// 429 rate limit, after the retries.
    RateLimited {
        /// The server's message.
        message: String,
        /// The wait the server asked for, if any.
        retry_after: Option<Duration>,
    },
    /// 429 insufficient_quota.
    Quota {
        /// The server's message.
        message: String,
    },
    /// The prompt is longer than the model's window.
    ContextTooLong {
        /// The server's message.
        message: String,
    },
    /// Another 4xx.
    BadRequest {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// 5xx after the retries.
    Server {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
        /// How many retries were made.
        retries: u32,
    },
    /// The host name did not resolve.
    Dns {
        /// The URL.
        url: String,
        /// Details.
        detail: String,
    },
    /// TCP connect failed.
    Connect {
        /// The URL.
        url: String,
        /// Details.
        detail: String,
    },
    /// TLS handshake or certificate failure.
    Tls {
        /// The URL.
        url: String,
        /// Details.
        detail: String,
    },
    /// No response headers within the request timeout.
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        secs: u64,
    },
    /// A 200 answer that is not an event stream (e.g. a proxy's HTML page).
    NotAStream {
        /// The content type.
        content_type: String,
        /// A short, sanitized excerpt of the body.
        excerpt: String,
    },
    /// Anything else on the wire.
    Other(String),
}

// The texts are written by hand rather than with `thiserror`'s `#[error]` because they come
// from the message catalog (locales/errors.yml) in the interface's language; the English ones
// are the catalog's `en` texts, unchanged.
impl std::fmt::Display for LlmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            LlmError::Refused(why) => why.clone().into(),
            LlmError::NotAllowed(denied) => tr!("llm.error.not_allowed", why = denied),
            LlmError::InPart { part, source } => {
                tr!("llm.error.in_part", part = part, why = source)
            }
            LlmError::Unauthorized { message } => {
                tr!("llm.error.unauthorized", message = message)
            }
            LlmError::Forbidden { message } => tr!("llm.error.forbidden", message = message),
            LlmError::UnknownModel {
                model,
                message,
                available,
            } => tr!(
                "llm.error.unknown_model",
                model = model,
                message = message,
                advice = available_list(available)
            ),
            LlmError::NotFound { url, message } => {
                tr!("llm.error.not_found", url = url, message = message)
            }
            LlmError::RateLimited {
                message,
                retry_after,
            } => tr!(
                "llm.error.rate_limited",
                message = message,
                advice = retry_hint(*retry_after)
            ),
            LlmError::Quota { message } => tr!("llm.error.quota", message = message),
            LlmError::ContextTooLong { message } => {
                tr!("llm.error.context_too_long", message = message)
            }
            LlmError::BadRequest { status, message } => {
                tr!("llm.error.bad_request", status = status, message = message)
            }
            LlmError::Server {
                status,
                message,
                retries,
            } => tr!(
                "llm.error.server",
                status = status,
                message = message,
                retries = retries
            ),
            LlmError::Dns { url, detail } => tr!("llm.error.dns", url = url, detail = detail),
            LlmError::Connect { url, detail } => {
                tr!("llm.error.connect", url = url, detail = detail)
            }
            LlmError::Tls { url, detail } => tr!("llm.error.tls", url = url, detail = detail),
            LlmError::Timeout { url, secs } => tr!("llm.error.timeout", url = url, secs = secs),
            LlmError::NotAStream {
                content_type,
                excerpt,
            } => tr!(
                "llm.error.not_a_stream",
                content_type = content_type,
                excerpt = excerpt
            ),
            LlmError::Other(text) => text.clone().into(),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for LlmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LlmError::NotAllowed(denied) => Some(denied),
            LlmError::InPart { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<crate::config::policy::Denied> for LlmError {
    fn from(denied: crate::config::policy::Denied) -> Self {
        LlmError::NotAllowed(denied)
    }
}

fn available_list(models: &[String]) -> String {
    if models.is_empty() {
        tr!("llm.error.unknown_model_check").into_owned()
    } else {
        let shown: Vec<&str> = models.iter().take(20).map(String::as_str).collect();
        let list = shown.join(", ");
        if models.len() > 20 {
            let more = models.len() - 20;
            tr!(
                "llm.error.unknown_model_offers_more",
                list = list,
                more = more
            )
            .into_owned()
        } else {
            tr!("llm.error.unknown_model_offers", list = list).into_owned()
        }
    }
}

fn retry_hint(wait: Option<Duration>) -> String {
    match wait {
        Some(w) => tr!("llm.error.retry_after", wait = human_duration(w)).into_owned(),
        None => tr!("llm.error.retry_later").into_owned(),
    }
}

/// "3 s", "2 min 5 s", "1 h 10 min".
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64().ceil() as u64;
    match s {
        0..=59 => tr!("llm.duration.s", s = s).into_owned(),
        60..=3599 => {
            let (m, r) = (s / 60, s % 60);
            if r == 0 {
                tr!("llm.duration.min", m = m).into_owned()
            } else {
                tr!("llm.duration.min_s", m = m, s = r).into_owned()
            }
        }
        _ => tr!("llm.duration.h_min", h = s / 3600, m = (s % 3600) / 60).into_owned(),
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

/// Shorten and sanitize a server-provided text for display: for HTML, tags stripped,
/// the insides of `<script>` and `<style>` left out (a proxy's block page is often mostly
/// CSS) and a piece of text that repeats the one before it said once (a page's `<title>`
/// is usually its `<h1>`); keys masked (a server may echo the key it refused), white space
/// folded, at most `max` characters.
pub fn excerpt(body: &str, max: usize) -> String {
    let text = if body.trim_start().starts_with('<') {
        html_text(body)
    } else {
        body.chars().take(64 * 1024).collect()
    };
    let clean = sanitize(&crate::secrets::redact_keys(&text));
    let folded: Vec<&str> = clean.split_whitespace().collect();
    let joined = folded.join(" ");
    if joined.chars().count() > max {
        let cut: String = joined.chars().take(max).collect();
        format!("{cut}…")
    } else if joined.is_empty() {
        tr!("llm.error.empty_body").into_owned()
    } else {
        joined
    }
}

/// The text of an HTML page, piece by piece between tags (see `excerpt`).
fn html_text(body: &str) -> String {
    let body = match body.char_indices().nth(64 * 1024) {
        Some((i, _)) => &body[..i],
        None => body,
    };
    let lower = body.to_ascii_lowercase();
    let mut pieces: Vec<String> = Vec::new();
    let mut push = |text: &str| {
        let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !folded.is_empty() && pieces.last() != Some(&folded) {
            pieces.push(folded);
        }
    };
    let mut at = 0;
    while let Some(open) = body[at..].find('<').map(|i| at + i) {
        push(&body[at..open]);
        let Some(close) = body[open..].find('>').map(|i| open + i) else {
            at = body.len();
            break;
        };
        let name: String = lower[open + 1..close]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        at = close + 1;
        if name == "script" || name == "style" {
            // Everything up to the closing tag is code, not text (it may hold `<`).
            let end = format!("</{name}");
            at = match lower[at..].find(&end) {
                Some(i) => lower[at + i..]
                    .find('>')
                    .map_or(body.len(), |j| at + i + j + 1),
                None => body.len(),
            };
        }
    }
    push(&body[at..]);
    pieces.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_excerpt_is_short_tagless_and_inert() {
        let page = "<html><head><title>Access denied</title></head><body><h1>Blocked by \x1b]52;c;ZXZpbA==\x07proxy</h1>\n\n<p>Contact IT.</p></body></html>";
        let e = excerpt(page, 60);
        assert_eq!(e, "Access denied Blocked by proxy Contact IT.");
        // A proxy's block page: its CSS and script left out, the title said once.
        let page = "<!DOCTYPE html><html><head><title>Error response</title>\n<STYLE type=\"text/css\">body { font-family: sans-serif; color: #333 }</STYLE><script>var a = 1 < 2;</script></head><body><h1>Error response</h1><p>Error code: 501</p><p>Message: Unsupported method.</p></body></html>";
        assert_eq!(
            excerpt(page, 200),
            "Error response Error code: 501 Message: Unsupported method."
        );
        // Not HTML: angle brackets are text.
        assert_eq!(excerpt("quota < 0 > limit", 50), "quota < 0 > limit");
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

    #[test]
    fn errors_and_their_advice_read_in_chinese_and_stay_english_otherwise() {
        let e = LlmError::Unauthorized {
            message: "Incorrect API key provided".into(),
        };
        let en = e.to_string();
        assert!(en.starts_with("the API key was rejected (HTTP 401"), "{en}");
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let zh = e.to_string();
        assert_eq!(
            zh,
            "API 密钥被拒绝（HTTP 401：Incorrect API key provided）。密钥可能有误或已被吊销：请运行 `clerk auth login` 保存新的密钥"
        );
        let limited = LlmError::RateLimited {
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(125)),
        };
        assert!(
            limited.to_string().contains("服务器要求等待 2 分 5 秒"),
            "{limited}"
        );
        let late = LlmError::Timeout {
            url: "https://api.openai.com/v1/chat/completions".into(),
            secs: 60,
        };
        assert!(late.to_string().contains("60 秒内没有响应"), "{late}");
        let part = LlmError::InPart {
            part: "report.pdf, part 3 of 12".into(),
            source: Box::new(late),
        };
        assert!(part.to_string().starts_with("读取 report.pdf"), "{part}");
    }
}
