//! The retry policy, as pure functions: what is retried, how long to wait.
//!
//! Same policy as the official OpenAI SDKs: at most [`MAX_RETRIES`] retries, only for
//! connection errors, timeouts and HTTP 408/409/429/5xx, and only before the answer has
//! started. `retry-after-ms` and `Retry-After` (seconds or an HTTP date) are honoured; a
//! wait over [`MAX_WAIT`] is reported to the user instead of waited; otherwise exponential
//! back-off with jitter. `insufficient_quota` is never retried. No clock is read here:
//! callers pass `now` and a jitter value in `[0, 1)`.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// Retries after the first attempt.
pub const MAX_RETRIES: u32 = 2;
/// The longest server-requested wait clerk accepts.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
const INITIAL: f64 = 0.5;
const MAX_BACKOFF: f64 = 8.0;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Do not retry: report the error.
    GiveUp,
    /// The server asks for a wait longer than [`MAX_WAIT`]: report it.
    WaitTooLong(Duration),
}

/// HTTP statuses worth retrying.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || (500..=599).contains(&status)
}

/// The wait the server asked for, if any: `retry-after-ms`, then `Retry-After` as seconds
/// (fractions allowed) or as an HTTP date.
pub fn server_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential back-off for retry number `retry` (0 for the first retry), reduced by up to
/// 25% by `jitter` in `[0, 1)`: 0.5 s, 1 s, 2 s … capped at 8 s.
pub fn backoff(retry: u32, jitter: f64) -> Duration {
    let base = (INITIAL * 2f64.powi(retry.min(16) as i32)).min(MAX_BACKOFF);
    Duration::from_secs_f64(base * (1.0 - 0.25 * jitter.clamp(0.0, 1.0)))
}

/// Decide after attempt number `attempt` (0 = the first) failed. `status` is `None` for a
/// connection error or timeout; `code` is the error body's `code` when there was one.
pub fn decide(
    attempt: u32,
    status: Option<u16>,
    code: Option<&str>,
    headers: &HeaderMap,
    now: SystemTime,
    jitter: f64,
) -> Decision {
    if let Some(s) = status
        && !is_retryable_status(s)
    {
        return Decision::GiveUp;
    }
    if code == Some("insufficient_quota") {
        return Decision::GiveUp;
    }
    let asked = server_wait(headers, now);
    if let Some(wait) = asked
        && wait > MAX_WAIT
    {
        return Decision::WaitTooLong(wait);
    }
    if attempt >= MAX_RETRIES {
        return Decision::GiveUp;
    }
    Decision::Retry(asked.unwrap_or_else(|| backoff(attempt, jitter)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 409, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            server_wait(&headers(&[("retry-after", "3")]), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            server_wait(&headers(&[("retry-after", "0.25")]), now),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            server_wait(
                &headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(1500))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            server_wait(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(7))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(
            server_wait(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(server_wait(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(server_wait(&headers(&[("retry-after", "-1")]), now), None);
    }

    #[test]
    fn backoff_grows_caps_and_jitters_down() {
        assert_eq!(backoff(0, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(10, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(0, 0.999_999_999).as_millis(), 375);
    }

    #[test]
    fn decisions() {
        let now = SystemTime::UNIX_EPOCH;
        let none = HeaderMap::new();
        assert_eq!(
            decide(0, Some(401), None, &none, now, 0.0),
            Decision::GiveUp
        );
        assert_eq!(
            decide(0, Some(500), None, &none, now, 0.0),
            Decision::Retry(Duration::from_millis(500))
        );
        assert_eq!(
            decide(1, None, None, &none, now, 0.0),
            Decision::Retry(Duration::from_secs(1))
        );
        assert_eq!(
            decide(2, Some(503), None, &none, now, 0.0),
            Decision::GiveUp
        );
        assert_eq!(
            decide(0, Some(429), Some("insufficient_quota"), &none, now, 0.0),
            Decision::GiveUp
        );
        let h = headers(&[("retry-after", "3")]);
        assert_eq!(
            decide(0, Some(429), Some("rate_limit_exceeded"), &h, now, 0.5),
            Decision::Retry(Duration::from_secs(3))
        );
        let h = headers(&[("retry-after", "120")]);
        assert_eq!(
            decide(0, Some(429), None, &h, now, 0.0),
            Decision::WaitTooLong(Duration::from_secs(120))
        );
    }
}
