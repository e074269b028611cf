//! Secret detection for text that is about to leave the machine.
//!
//! Before any text (a pasted file, a document, a command output) is sent to a
//! language model, the caller runs [`scan`] over it, shows the user what was
//! found (kind, line and a masked [`Finding::preview`]) and offers three
//! choices: redact (see [`redact`]), send anyway, or cancel.
//!
//! What this module must NOT do:
//! * it never writes anything to disk, never logs, never prints;
//! * it never stores or returns a whole secret: a [`Finding`] only carries a
//!   byte range into the caller's text and a masked preview (first 4 chars,
//!   `…`, last 2 — fewer for short values);
//! * it never panics on any input (all ranges are checked before slicing).
//!
//! Detection is heuristic: specific token formats (AWS, GCP, Azure, OpenAI,
//! GitHub, Slack, Stripe, JWT, private keys), passwords embedded in URLs and
//! connection strings, and high-entropy values assigned to names such as
//! `password`, `secret`, `token` or `api_key`. All regexes come from the
//! `regex` crate (finite automata, no backtracking), so scanning time is
//! linear in the size of the text.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

/// One likely secret found in a text.
///
/// `start..end` is the byte range of the secret itself (for assignments and
/// URLs: only the value / password part, not the name or the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable machine name of the rule, e.g. `"aws-access-key"`.
    pub kind: &'static str,
    /// Human readable name in the interface's language, e.g. `"AWS access key ID"`
    /// (`kind` is the stable name: `[REDACTED:kind]`, scripts).
    pub label: Cow<'static, str>,
    /// Byte offset of the first byte of the secret.
    pub start: usize,
    /// Byte offset one past the last byte of the secret.
    pub end: usize,
    /// Masked form: first 4 chars + `…` + last 2 (less for short values).
    /// Never the whole secret.
    pub preview: String,
    /// 1-based line number of `start`.
    pub line: usize,
}

/// Scans `text` for likely secrets.
///
/// The result is sorted by `start` and contains no overlapping findings:
/// when two rules match overlapping ranges, the more specific rule wins,
/// then the longer range.
pub fn scan(text: &str) -> Vec<Finding> {
    let mut candidates: Vec<Raw> = Vec::new();
    for (rule, re) in COMPILED.iter() {
        for caps in re.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            // The secret is the first capture group that took part in the
            // match; rules without groups use the whole match.
            let (group, m) = (1..caps.len())
                .find_map(|i| caps.get(i).map(|m| (i, m)))
                .unwrap_or((0, whole));
            let (start, end) = if rule.pem {
                (whole.start(), pem_block_end(text, whole.end()))
            } else {
                (m.start(), m.end())
            };
            let Some(secret) = text.get(start..end).filter(|s| !s.is_empty()) else {
                continue;
            };
            let before = text.get(..start).and_then(|s| s.chars().next_back());
            let after = text.get(end..).and_then(|s| s.chars().next());
            if rule.boundary
                && (before.is_some_and(is_word_char) || after.is_some_and(is_word_char))
            {
                continue;
            }
            let cand = Candidate {
                secret,
                group,
                after,
            };
            if !(rule.validate)(&cand) {
                continue;
            }
            candidates.push(Raw { rule, start, end });
        }
    }
    let chosen = resolve_overlaps(candidates);
    let mut out = Vec::with_capacity(chosen.len());
    let mut line = 1usize;
    let mut counted_to = 0usize;
    for raw in chosen {
        let (Some(counted), Some(secret)) = (
            text.as_bytes().get(counted_to..raw.start),
            text.get(raw.start..raw.end),
        ) else {
            continue;
        };
        line += counted.iter().filter(|&&b| b == b'\n').count();
        counted_to = raw.start;
        out.push(Finding {
            kind: raw.rule.kind,
            label: (raw.rule.label)(),
            start: raw.start,
            end: raw.end,
            preview: mask(secret),
            line,
        });
    }
    out
}

/// Returns a copy of `text` where the range of each finding is replaced by
/// `[REDACTED:kind]`.
///
/// `findings` may be a subset of what [`scan`] returned, in any order.
/// Findings whose range is invalid for `text` (out of bounds, not on a char
/// boundary, empty) or that overlap an earlier finding are skipped.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0usize;
    for f in sorted {
        if f.start < pos || f.start >= f.end {
            continue;
        }
        let (Some(keep), Some(_)) = (text.get(pos..f.start), text.get(f.start..f.end)) else {
            continue;
        };
        out.push_str(keep);
        out.push_str("[REDACTED:");
        out.push_str(f.kind);
        out.push(']');
        pos = f.end;
    }
    out.push_str(text.get(pos..).unwrap_or_default());
    out
}

// ---------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------

/// What a validator gets to see about one regex match.
struct Candidate<'a> {
    /// The text that would be redacted.
    secret: &'a str,
    /// Index of the capture group that produced `secret` (0 = whole match).
    group: usize,
    /// The character right after the secret, if any.
    after: Option<char>,
}

type Validator = fn(&Candidate<'_>) -> bool;

struct Rule {
    kind: &'static str,
    /// The finding's name as people read it, from the catalog (locales/documents.yml).
    label: fn() -> Cow<'static, str>,
    pattern: &'static str,
    /// Higher wins when findings overlap.
    priority: u8,
    /// Reject matches glued to an ASCII letter, digit or `_` on either side.
    boundary: bool,
    /// The pattern only matches a PEM `BEGIN` line; the finding extends
    /// through the matching `END` line (see [`pem_block_end`]).
    pem: bool,
    validate: Validator,
}

const P_GENERIC: u8 = 1;
const P_URL: u8 = 2;
const P_SPECIFIC: u8 = 3;
const P_MOST_SPECIFIC: u8 = 4;

/// Value forms for `Password=` in ODBC / ADO.NET strings: `{…}`, `"…"`,
/// `'…'` or bare up to `;`. The secret is the part inside the delimiters.
macro_rules! odbc_value {
    () => {
        r#"(?:\{([^}\r\n]*)\}|"([^"\r\n]*)"|'([^'\r\n]*)'|([^;"'{\r\n][^;"'\r\n]*))"#
    };
}

/// Names under which a value is treated as a credential by the generic
/// assignment rule. The name must END with one of these words.
macro_rules! secret_name {
    () => {
        r"[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|secret|token|api[_.-]?key|apikey|access[_.-]?key|secret[_.-]?key|private[_.-]?key|auth[_.-]?key)"
    };
}

// Patterns avoid `\b`: a Unicode word boundary makes the regex crate fall
// back to a much slower engine on non-ASCII text. Boundaries are checked in
// code instead (`Rule::boundary`).
static RULES: &[Rule] = &[
    Rule {
        kind: "gcp-service-account",
        label: || tr!("documents.secret.gcp_service_account"),
        pattern: r#""private_key"[ \t]*:[ \t]*"(-----BEGIN[^"]*)""#,
        priority: P_MOST_SPECIFIC,
        boundary: false,
        pem: false,
        validate: accept,
    },
    Rule {
        kind: "private-key",
        label: || tr!("documents.secret.private_key"),
        // Only the BEGIN line; extended to END by `pem_block_end`.
        pattern: r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
        priority: P_SPECIFIC,
        boundary: false,
        pem: true,
        validate: accept,
    },
    Rule {
        kind: "aws-access-key",
        label: || tr!("documents.secret.aws_access_key"),
        pattern: r"(?:AKIA|ASIA)[A-Z0-9]{16}",
        priority: P_SPECIFIC,
        boundary: true,
        pem: false,
        validate: not_filler,
    },
    Rule {
        kind: "aws-secret-key",
        label: || tr!("documents.secret.aws_secret_key"),
        pattern: r#"(?i)(?:aws[_.-]?secret[_.-]?(?:access[_.-]?)?key|secret[_.-]?access[_.-]?key)["']?[ \t]*(?:=>|:=|=|:)[ \t]*["']?([A-Za-z0-9/+]{40})"#,
        priority: P_SPECIFIC,
        boundary: false,
        pem: false,
        validate: aws_secret,
    },
    Rule {
        kind: "gcp-api-key",
        label: || tr!("documents.secret.gcp_api_key"),
        pattern: r"AIza[0-9A-Za-z_-]{35}",
        priority: P_SPECIFIC,
        boundary: true,
        pem: false,
        validate: not_filler,
    },
    Rule {
        kind: "azure-account-key",
        label: || tr!("documents.secret.azure_account_key"),
        pattern: r"(?i)(?:AccountKey|SharedAccessKey)[ \t]*=[ \t]*([A-Za-z0-9+/]{40,}={0,2})",
        priority: P_SPECIFIC,
        boundary: false,
        pem: false,
        validate: not_filler,
    },
    Rule {
        kind: "azure-sas",
        label: || tr!("documents.secret.azure_sas"),
        pattern: r"(?i)[?&;]sig=([A-Za-z0-9%+/=_-]{20,})",
        priority: P_SPECIFIC,
        boundary: false,
        pem: false,
        validate: high_entropy_token,
    },
    Rule {
        kind: "anthropic-api-key",
        label: || tr!("documents.secret.anthropic_api_key"),
        pattern: r"sk-ant-[A-Za-z0-9_-]{20,}",
        priority: P_MOST_SPECIFIC,
        boundary: true,
        pem: false,
        validate: openai_like,
    },
    Rule {
        kind: "openai-api-key",
        label: || tr!("documents.secret.openai_api_key"),
        pattern: r"sk-[A-Za-z0-9_-]{20,}",
        priority: P_SPECIFIC,
        boundary: true,
        pem: false,
        validate: openai_like,
    },
    Rule {
        kind: "github-token",
        label: || tr!("documents.secret.github_token"),
        pattern: r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{82,})",
        priority: P_SPECIFIC,
        boundary: true,
        pem: false,
        validate: not_filler,
    },
    Rule {
        kind: "slack-token",
        label: || tr!("documents.secret.slack_token"),
        pattern: r"xox[abprs]-[A-Za-z0-9-]{10,}",
        priority: P_SPECIFIC,
        boundary: true,
        pem: false,
        validate: has_digit_not_filler,
    },
    Rule {
        kind: "slack-webhook",
        label: || tr!("documents.secret.slack_webhook"),
        pattern: r"(?:https?://)?hooks\.slack\.com/services/[A-Za-z0-9_]+/[A-Za-z0-9_]+/[A-Za-z0-9_]+",
        priority: P_SPECIFIC,
        boundary: true,
        pem: false,
        validate: accept,
    },
    Rule {
        kind: "stripe-key",
        label: || tr!("documents.secret.stripe_key"),
        pattern: r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}",
        priority: P_SPECIFIC,
        boundary: true,
        pem: false,
        validate: not_filler,
    },
    Rule {
        kind: "jwt",
        label: || tr!("documents.secret.jwt"),
        pattern: r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{10,}",
        priority: P_SPECIFIC,
        boundary: true,
        pem: false,
        validate: accept,
    },
    Rule {
        kind: "connection-string",
        label: || tr!("documents.secret.database_password"),
        pattern: r#"(?i)(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|oracle|cockroachdb|clickhouse)://[^\s:/?#@"'<>]*:([^\s/?#@"'<>]+)@"#,
        priority: P_SPECIFIC,
        boundary: false,
        pem: false,
        validate: not_placeholder,
    },
    Rule {
        kind: "connection-string",
        label: || tr!("documents.secret.connection_string_password"),
        // `;Password=…` or `Password=…;` (the semicolon is what tells an
        // ODBC/ADO string from a plain env assignment).
        pattern: concat!(
            r#"(?i)(?:;[ \t]*(?:password|pwd)[ \t]*=[ \t]*"#,
            odbc_value!(),
            // Leading form: `Password=x;Server=…` (no spaces around `=`,
            // another `key=` after the `;`), so that code such as
            // `password = get();` is not taken for a connection string.
            r#"|(?m:^|[\s"'=:,(])(?:password|pwd)=(?:\{([^}\r\n]*)\}|([^;"'{\s][^;"'\r\n]*))"#,
            r"[ \t]*;[ \t]*[A-Za-z][A-Za-z0-9 _]*=)"
        ),
        priority: P_SPECIFIC,
        boundary: false,
        pem: false,
        validate: not_placeholder,
    },
    Rule {
        kind: "url-password",
        label: || tr!("documents.secret.url_password"),
        pattern: r#"[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@"'<>]*:([^\s/?#@"'<>]+)@"#,
        priority: P_URL,
        boundary: false,
        pem: false,
        validate: not_placeholder,
    },
    Rule {
        kind: "generic-secret",
        label: || tr!("documents.secret.generic_secret"),
        pattern: concat!(
            r#"(?i)["']?"#,
            secret_name!(),
            r#"["']?[ \t]*(?:=>|:=|=|:)[ \t]*(?:"([^"\r\n]*)"|'([^'\r\n]*)'|([^\s"',;]+))"#
        ),
        priority: P_GENERIC,
        boundary: false,
        pem: false,
        validate: generic_value,
    },
    Rule {
        kind: "bearer-token",
        label: || tr!("documents.secret.bearer_token"),
        pattern: r"(?i)bearer[ \t]+([A-Za-z0-9._~+/-]{16,}=*)",
        priority: P_GENERIC,
        boundary: false,
        pem: false,
        validate: high_entropy_token,
    },
];

/// Rules compiled once. A rule whose pattern failed to compile is skipped
/// (the `all_rules_compile` test guarantees that none does).
static COMPILED: LazyLock<Vec<(&'static Rule, Regex)>> = LazyLock::new(|| {
    RULES
        .iter()
        .filter_map(|rule| Regex::new(rule.pattern).ok().map(|re| (rule, re)))
        .collect()
});

/// END line of a PEM private key block.
static PEM_END: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----").ok());

/// Base64 body right after a BEGIN line (for pastes cut before END); real
/// or JSON-escaped (`\n`) line breaks.
static PEM_BODY: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?:(?:\r?\n|\\n|[ \t])*[A-Za-z0-9+/=]{16,})*").ok());

/// How far after a BEGIN line an END line is looked for. Real keys are a few
/// KiB; the bound keeps many unterminated BEGIN lines linear.
const PEM_MAX_BLOCK: usize = 256 * 1024;

/// Matches `a.b.c` style identifiers (`settings.API_KEY`, `process.env.X`).
static DOTTED_IDENT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+$").ok());

// ---------------------------------------------------------------------------
// Validators
// ---------------------------------------------------------------------------

fn accept(_: &Candidate<'_>) -> bool {
    true
}

/// Rejects runs like `AKIAXXXXXXXXXXXXXXXX` or `ghp_000…`.
fn not_filler(c: &Candidate<'_>) -> bool {
    shannon_entropy(c.secret) >= 2.5
}

fn has_digit_not_filler(c: &Candidate<'_>) -> bool {
    c.secret.bytes().any(|b| b.is_ascii_digit()) && not_filler(c)
}

fn aws_secret(c: &Candidate<'_>) -> bool {
    // Exactly 40 chars: the next char must not continue the base64 run.
    !c.after
        .is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '/' || ch == '+')
        && not_filler(c)
}

/// `sk-…` keys: letters and digits mixed and random-looking, so that
/// hyphenated prose (`sk-learn-compatible-estimator`) is not flagged.
fn openai_like(c: &Candidate<'_>) -> bool {
    let s = c.secret;
    s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && shannon_entropy(s) >= 3.0
}

fn high_entropy_token(c: &Candidate<'_>) -> bool {
    openai_like(c) && !is_placeholder(c.secret)
}

fn not_placeholder(c: &Candidate<'_>) -> bool {
    !is_placeholder(c.secret)
}

/// The generic `name = value` rule: long enough, random enough, and not an
/// obvious placeholder, variable reference or code expression.
fn generic_value(c: &Candidate<'_>) -> bool {
    let v = c.secret.trim();
    if v.chars().count() < 8 || shannon_entropy(v) < 3.0 || is_placeholder(v) {
        return false;
    }
    // Natural language: `token: authentication`, `=> "invalid token"`.
    let wordy = v.chars().all(|ch| ch.is_alphabetic() || ch.is_whitespace());
    if wordy && (c.group == 3 || v.contains(char::is_whitespace)) {
        return false;
    }
    if (c.group == 3 && looks_like_code(v)) || (v.contains('_') && is_identifier_words(v)) {
        return false;
    }
    if v.starts_with(':') || v.contains("://") || (v.starts_with('/') && v[1..].contains('/')) {
        return false; // `Token::X`, URLs and file paths (URLs: other rules)
    }
    if DOTTED_IDENT.as_ref().is_some_and(|re| re.is_match(v)) {
        return false;
    }
    true
}

/// Unquoted values that are code rather than data: calls, paths, types,
/// references and plain identifiers (`my_private_key`, `LSA_STRING`,
/// `u64`, `token::Paren`, `get_token(&cfg)`, `os.environ["X"]`).
fn looks_like_code(v: &str) -> bool {
    v.contains(['(', ')', '[', ']', '{', '}', '<', '>', '`', '|'])
        || v.starts_with(['=', '!', '&', '*'])
        || v.contains("::")
        || v.contains("->")
        || is_identifier_words(v)
}

/// `my_private_key`, `CLIENT_TRAFFIC_SECRET`, `u64`: `_`-separated words,
/// each letters followed by optional digits.
fn is_identifier_words(v: &str) -> bool {
    v.split('_').all(|seg| {
        let digits_from = seg
            .find(|ch: char| ch.is_ascii_digit())
            .unwrap_or(seg.len());
        let (letters, digits) = seg.split_at(digits_from);
        letters.chars().all(|ch| ch.is_ascii_alphabetic())
            && digits.chars().all(|ch| ch.is_ascii_digit())
    })
}

/// Values that are obviously not real credentials: `<your-token>`,
/// `${TOKEN}`, `{{ secret }}`, `%PASSWORD%`, `xxxx`, `****`,
/// `your_api_key_here`, `changeme`, …
fn is_placeholder(value: &str) -> bool {
    let t = value.trim();
    if t.is_empty() {
        return true;
    }
    let is_ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
    };
    if (t.starts_with('<') && t.ends_with('>'))
        || (t.starts_with('[') && t.ends_with(']'))
        || t.starts_with("${")
        || t.starts_with("$(")
        || t.starts_with("{{")
        || t.starts_with("#{")
        || (t.starts_with('%') && t.ends_with('%'))
        || (t.starts_with('{') && t.ends_with('}') && is_ident(&t[1..t.len() - 1]))
        || (t.starts_with('$') && is_ident(&t[1..]))
    {
        return true;
    }
    if t.chars()
        .all(|c| matches!(c, 'x' | 'X' | '*' | '.' | '-' | '_' | '#' | '•' | '…' | '0'))
    {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    const MARKERS: &[&str] = &[
        "your",
        "here",
        "placeholder",
        "changeme",
        "change_me",
        "change-me",
        "redacted",
        "example",
        "dummy",
        "xxxx",
        "****",
        "replace",
        "insert",
        "todo",
        "fixme",
        "<",
        ">",
    ];
    if MARKERS.iter().any(|m| lower.contains(m)) {
        return true;
    }
    const EXACT: &[&str] = &[
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "null",
        "none",
        "nil",
        "true",
        "false",
        "undefined",
        "test",
        "string",
    ];
    EXACT.contains(&lower.as_str())
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// End (exclusive byte offset) of the private key block whose BEGIN line
/// ends at `body_start`: through the END line if one follows within
/// [`PEM_MAX_BLOCK`], else through the base64 body (truncated paste), else
/// just the BEGIN line.
fn pem_block_end(text: &str, body_start: usize) -> usize {
    let mut limit = body_start.saturating_add(PEM_MAX_BLOCK).min(text.len());
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let Some(window) = text.get(body_start..limit) else {
        return body_start;
    };
    if let Some(m) = PEM_END.as_ref().and_then(|re| re.find(window)) {
        return body_start + m.end();
    }
    let rest = text.get(body_start..).unwrap_or_default();
    body_start
        + PEM_BODY
            .as_ref()
            .and_then(|re| re.find(rest))
            .map_or(0, |m| m.end())
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Shannon entropy in bits per character.
fn shannon_entropy(s: &str) -> f64 {
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    let mut n = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_insert(0) += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// First 4 chars + `…` + last 2; fewer for short values, so that the preview
/// never reveals the whole secret (at most half of it for short ones).
fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        12.. => (4, 2),
        8..=11 => (2, 1),
        4..=7 => (1, 0),
        _ => (0, 0),
    };
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[n - tail..]);
    out
}

struct Raw {
    rule: &'static Rule,
    start: usize,
    end: usize,
}

/// Keeps the most specific, then longest, then earliest candidates such
/// that no two overlap; returns them sorted by start.
fn resolve_overlaps(mut candidates: Vec<Raw>) -> Vec<Raw> {
    candidates.sort_by(|a, b| {
        b.rule
            .priority
            .cmp(&a.rule.priority)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    // start -> end of accepted, non-overlapping ranges
    let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
    let mut kept = Vec::new();
    for c in candidates {
        let overlaps_prev = taken
            .range(..c.end)
            .next_back()
            .is_some_and(|(_, &e)| e > c.start);
        if overlaps_prev {
            continue;
        }
        taken.insert(c.start, c.end);
        kept.push(c);
    }
    kept.sort_unstable_by_key(|c| c.start);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_aws_id() -> String {
        concat!("AKIA", "IOSFODNN7EXAMPLE").to_string()
    }
    fn fake_aws_secret() -> String {
        // 40 chars of base64 alphabet
        format!("{}{}", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYzEXAMPLEKEY")[..40].to_string()
    }

    /// Asserts that `text` yields exactly one finding, of `kind`, covering
    /// exactly the first occurrence of `secret`.
    fn assert_one(text: &str, kind: &str, secret: &str) {
        let found = scan(text);
        let start = text.find(secret).unwrap();
        assert_eq!(
            found.len(),
            1,
            "expected one finding in {text:?}, got {found:?}"
        );
        let f = &found[0];
        assert_eq!(f.kind, kind, "kind for {text:?}");
        assert_eq!(
            (f.start, f.end),
            (start, start + secret.len()),
            "range in {text:?}"
        );
        assert!(!f.preview.contains(secret), "preview leaks secret");
        assert_eq!(f.line, text[..start].matches('\n').count() + 1);
    }

    /// The same sample bare and inside ordinary surroundings.
    fn contexts(sample: &str, glued_ok: bool) -> Vec<String> {
        let mut v = vec![
            sample.to_string(),
            format!("Hi team, please use {sample} for the deploy, thanks."),
            format!("{{\n  \"note\": \"{sample}\",\n  \"n\": 1\n}}"),
            format!("# settings\nFOO=bar\nNOTE={sample}\nBAZ=1\n"),
            format!("我的密钥是 {sample} 请保密"),
            format!("line one\nline two\n  {sample}\nline four"),
        ];
        if glued_ok {
            v.push(format!("我的密钥是{sample}请保密"));
        }
        v
    }

    fn check_rule(sample: &str, kind: &str, secret: &str, glued_ok: bool) {
        for text in contexts(sample, glued_ok) {
            assert_one(&text, kind, secret);
        }
    }

    #[test]
    fn all_rules_compile() {
        assert_eq!(COMPILED.len(), RULES.len());
        assert!(DOTTED_IDENT.is_some() && PEM_END.is_some() && PEM_BODY.is_some());
    }

    #[test]
    fn private_keys() {
        for label in ["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "] {
            let key = format!(
                "-----BEGIN {label}PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END {label}PRIVATE KEY-----"
            );
            check_rule(&key, "private-key", &key, true);
        }
        let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0Ab1cBCADfakefakefakeQ2x9\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----";
        check_rule(pgp, "private-key", pgp, true);
        // truncated paste: BEGIN + body, no END
        let cut = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0";
        assert_one(&format!("{cut}\n\n(rest was cut)"), "private-key", cut);
    }

    #[test]
    fn two_private_keys_are_two_findings() {
        let k1 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFakeFakeFakeKeyMaterial0123\n-----END EC PRIVATE KEY-----";
        let k2 = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUfake\n-----END OPENSSH PRIVATE KEY-----";
        let text = format!("first:\n{k1}\nsecond:\n{k2}\n");
        let found = scan(&text);
        assert_eq!(found.len(), 2);
        assert_eq!(&text[found[0].start..found[0].end], k1);
        assert_eq!(&text[found[1].start..found[1].end], k2);
        assert_eq!((found[0].line, found[1].line), (2, 6));
    }

    #[test]
    fn many_unterminated_begin_lines_stay_fast() {
        let block = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\nsome prose follows.\n",
            "x".repeat(2_000)
        );
        let text = block.repeat(2_000); // ~4 MB, 2000 BEGIN lines, no END
        let found = scan(&text);
        assert_eq!(found.len(), 2_000);
        assert!(found.iter().all(|f| f.kind == "private-key"));
        assert!(!redact(&text, &found).contains("xxxx"));
    }

    #[test]
    fn gcp_service_account() {
        let value = "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n";
        let json = format!(
            "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\",\n  \"private_key\": \"{value}\",\n  \"client_email\": \"x@demo.iam.gserviceaccount.com\"\n}}"
        );
        check_rule(&json, "gcp-service-account", value, true);
    }

    #[test]
    fn aws_access_key() {
        let id = fake_aws_id();
        check_rule(&id, "aws-access-key", &id, true);
        let sts = concat!("ASIA", "Y3FAKE7QRSTUV2WX");
        check_rule(sts, "aws-access-key", sts, true);
        // longer run of capitals is not a key id
        assert!(scan(&format!("{id}ABC")).is_empty());
    }

    #[test]
    fn aws_secret_key() {
        let s = fake_aws_secret();
        for line in [
            format!("aws_secret_access_key = {s}"),
            format!("AWS_SECRET_ACCESS_KEY={s}"),
            format!("\"SecretAccessKey\": \"{s}\""),
        ] {
            check_rule(&line, "aws-secret-key", &s, false);
        }
        // bare 40-char base64 without a name is not flagged
        assert!(scan(&s).is_empty());
    }

    #[test]
    fn gcp_api_key() {
        let k = concat!("AIza", "SyDfake0Example9Key_abcDEF-12345678");
        assert_eq!(k.len(), 39);
        check_rule(k, "gcp-api-key", k, true);
    }

    #[test]
    fn azure_account_key_and_sas() {
        let key = format!("{}==", "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw".get(..86).unwrap());
        let conn = format!(
            "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey={key};EndpointSuffix=core.windows.net"
        );
        check_rule(&conn, "azure-account-key", &key, true);
        let sig = "Xk9mQ2vL8pR4fAkE5sIgNaTuRe0w%2Bq7%3D";
        let url = format!(
            "https://demo.blob.core.windows.net/c/f.txt?sv=2022-11-02&ss=b&sp=r&se=2030-01-01T00:00:00Z&sig={sig}"
        );
        check_rule(&url, "azure-sas", sig, false);
    }

    #[test]
    fn openai_and_anthropic() {
        let k = format!("sk-{}", "T3BlbkFJ9xQ2mZ7fakeKeyA1b2C3d4E5f6");
        check_rule(&k, "openai-api-key", &k, true);
        let p = format!("sk-proj-{}", "Ab3dEf9hIjK1mNoPqR5tUvWxYz_0123-fake");
        check_rule(&p, "openai-api-key", &p, true);
        let a = format!("sk-ant-api03-{}", "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0-fake");
        check_rule(&a, "anthropic-api-key", &a, true);
    }

    #[test]
    fn github_tokens() {
        let body = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
        for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            let t = format!("{prefix}{body}");
            check_rule(&t, "github-token", &t, true);
        }
        let pat = format!(
            "github_pat_{}_{}",
            "11ABCDEFG0".repeat(3).get(..22).unwrap(),
            "x9Y8z7W6v5".repeat(6).get(..59).unwrap()
        );
        assert_eq!(pat.len(), 11 + 82);
        check_rule(&pat, "github-token", &pat, true);
    }

    #[test]
    fn slack() {
        for p in ["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"] {
            let t = format!("{p}{}", "1234567890-0987654321-AbCdEfGhIjKlMnOp");
            check_rule(&t, "slack-token", &t, true);
        }
        let hook = format!(
            "https://hooks.slack.com/services/{}/{}/{}",
            "T0FAKE123", "B0FAKE456", "q1W2e3R4t5Y6u7I8o9P0aSdF"
        );
        check_rule(&hook, "slack-webhook", &hook, true);
    }

    #[test]
    fn stripe() {
        for p in ["sk_live_", "rk_live_", "sk_test_"] {
            let t = format!("{p}{}", "51Hfake0Abc9Def8Ghi7Jkl6");
            check_rule(&t, "stripe-key", &t, true);
        }
    }

    #[test]
    fn jwt() {
        let t = concat!(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
            ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkZha2UifQ",
            ".c2lnbmF0dXJlLWZha2UtZmFrZS1mYWtl"
        );
        check_rule(t, "jwt", t, true);
        check_rule(&format!("Authorization: Bearer {t}"), "jwt", t, true);
    }

    #[test]
    fn url_password() {
        let pw = "S3cr3t-P4ss!";
        for url in [
            format!("https://admin:{pw}@git.internal.corp/repo.git"),
            format!("ftp://bob:{pw}@files.example.org"),
        ] {
            check_rule(&url, "url-password", pw, true);
        }
    }

    #[test]
    fn connection_strings() {
        let pw = "Pa55w0rd!Zq";
        for cs in [
            format!(
                "Server=tcp:db.example.net,1433;Database=app;User ID=app;Password={pw};Encrypt=True;"
            ),
            format!("Driver={{ODBC Driver 18}};Server=db;Uid=sa;Pwd={{{pw}}};"),
            format!("Data Source=db;Initial Catalog=app;User Id=u;Password=\"{pw}\""),
            format!("Password={pw};Server=db"),
            format!("postgres://app:{pw}@db.example.net:5432/app"),
            format!("mongodb+srv://app:{pw}@cluster0.example.net/test"),
            format!("jdbc:postgresql://app:{pw}@db:5432/app"),
            format!("redis://:{pw}@cache:6379/0"),
        ] {
            check_rule(&cs, "connection-string", pw, false);
        }
    }

    #[test]
    fn generic_assignments() {
        let v = "Xk9#mQ2$vL8pR4";
        for line in [
            format!("password: \"{v}\""),
            format!("password = \"{v}\""),
            format!("DB_PASSWORD={v}"),
            format!("\"client_secret\": \"{v}\""),
            format!("apiKey: '{v}'"),
            format!("X-Api-Key: {v}"),
            format!("export GITLAB_TOKEN={v}"),
            format!("access_key => '{v}'"),
            format!("passwd := \"{v}\""),
        ] {
            check_rule(&line, "generic-secret", v, false);
        }
        for (line, v) in [
            (
                "API_TOKEN=dGhpc2lzYWZha2V0b2tlbjEyMzQ1Njc4OQ==",
                "dGhpc2lzYWZha2V0b2tlbjEyMzQ1Njc4OQ==",
            ),
            (
                "SESSION_SECRET=a8f5f167f44f4964e6c998dee827110c",
                "a8f5f167f44f4964e6c998dee827110c",
            ),
            (
                "secret_key: django-insecure-9x#k2m!q7z",
                "django-insecure-9x#k2m!q7z",
            ),
        ] {
            check_rule(line, "generic-secret", v, false);
        }
        // a specific rule wins over the generic one on the same range
        let gh = format!("ghp_{}", "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8");
        assert_one(&format!("GITHUB_TOKEN={gh}"), "github-token", &gh);
    }

    #[test]
    fn bearer_token() {
        let t = "dGhpc2lzYWZha2V0b2tlbjEyMzQ1Njc4OQ";
        check_rule(
            &format!("Authorization: Bearer {t}"),
            "bearer-token",
            t,
            false,
        );
    }

    #[test]
    fn negatives() {
        let cases = [
            "id 550e8400-e29b-41d4-a716-446655440000 created",
            "commit 3f786850e387550fdab836ed7e6dc881de23001b",
            "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "a risk-free investment",
            "see task-management-system-configuration-overview",
            "we used sk-learn-compatible-estimators-everywhere",
            "mail john.doe@example.com or mailto:jane@example.org",
            "https://example.com:8443/path/to?q=1&x=y#frag",
            "https://user@example.com/repo and ssh://git@github.com/org/repo.git",
            "git@github.com:org/repo.git",
            "password = \"changeme\"",
            "api_key = \"<your-token>\"",
            "TOKEN=${TOKEN}",
            "token: {{ secrets.GITHUB_TOKEN }}",
            "secret: xxxxxxxxxxxx",
            "password: \"********\"",
            "api_key = \"your_api_key_here\"",
            "token = os.environ[\"TOKEN\"]",
            "const apiKey = process.env.OPENAI_API_KEY;",
            "let token = get_token(&config);",
            "password_hash = \"$2b$12$abcdefghijklmnopqrstuv\"",
            "max_tokens: 4096",
            "The token: authentication happens later. Password: incorrect",
            "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AKIAXXXXXXXXXXXXXXXX",
            "postgres://user:password@localhost/db",
            "postgres://user:${DB_PASSWORD}@localhost/db",
            "Server=db;Password=<password>;",
            "<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\"> logo",
            "plain words, nothing secret here at all",
            "password_file: /run/secrets/db_password",
            "token_url = \"https://auth.example.com/oauth/token\"",
            "let secret = my_private_key;",
            "pub paren_token: token::Paren,",
            "type Token: core::fmt::Debug;",
            "pub const IFLA_INET6_TOKEN: _bindgen_ty_5 = 7;",
            "    Password: LSA_UNICODE_STRING,",
            "fn new(private_key: PrivateKey) -> Self",
            "Error::Token => \"invalid token\",",
            "let password = entry.get_password()?;",
            "let password = \"test password\";",
            "let token: cpuid_aarch64::InitToken = cpuid_aarch64::init();",
            "input.peek(token::Bracket) || input.peek(Token![#])",
            "see [`CancellationToken::run_until_cancelled`]",
            "secret: `BadPassphrase` is returned",
            "ClientEarlyTrafficSecret => \"CLIENT_EARLY_TRAFFIC_SECRET\",",
            "let f = move |token: CancellationToken| {};",
        ];
        for c in cases {
            let found = scan(c);
            assert!(found.is_empty(), "false positive in {c:?}: {found:?}");
        }
    }

    #[test]
    fn redact_mixed_text() {
        let id = fake_aws_id();
        let pw = "Xk9#mQ2$vL8pR4";
        let text = format!(
            "Deploy notes\nkey id: {id}\npassword: \"{pw}\"\ndb: postgres://app:Pa55w0rd!Zq@db:5432/app\nuuid 550e8400-e29b-41d4-a716-446655440000\n"
        );
        let found = scan(&text);
        let kinds: Vec<_> = found.iter().map(|f| (f.kind, f.line)).collect();
        assert_eq!(
            kinds,
            [
                ("aws-access-key", 2),
                ("generic-secret", 3),
                ("connection-string", 4)
            ]
        );
        assert_eq!(
            redact(&text, &found),
            "Deploy notes\nkey id: [REDACTED:aws-access-key]\npassword: \"[REDACTED:generic-secret]\"\ndb: postgres://app:[REDACTED:connection-string]@db:5432/app\nuuid 550e8400-e29b-41d4-a716-446655440000\n"
        );
        // subset, reversed order, bogus entries are tolerated
        let mut some = vec![found[2].clone(), found[0].clone()];
        some.push(Finding {
            start: 5,
            end: 500_000,
            ..found[1].clone()
        });
        some.push(Finding {
            start: 1,
            end: 1,
            ..found[1].clone()
        });
        let out = redact(&text, &some);
        assert!(out.contains("[REDACTED:aws-access-key]") && out.contains(pw));
        assert!(!out.contains("Pa55w0rd"));
    }

    #[test]
    fn redact_non_char_boundary_is_skipped() {
        let text = "密钥";
        let f = Finding {
            kind: "x",
            label: "x".into(),
            start: 1,
            end: 4,
            preview: String::new(),
            line: 1,
        };
        assert_eq!(redact(text, &[f]), text);
    }

    #[test]
    fn preview_never_whole_secret() {
        for s in [
            "AKIAIOSFODNN7EXAMPLE",
            "Xk9#mQ2$vL8pR4",
            "abcdefghij",
            "abcdefg",
            "abc",
            "密钥密钥密钥密钥密钥密钥",
        ] {
            let p = mask(s);
            assert!(!p.contains(s), "{p}");
            assert!(p.contains('…'));
            assert!(p.chars().count() <= 7);
        }
        assert_eq!(mask("AKIAIOSFODNN7EXAMPLE"), "AKIA…LE");
        let id = fake_aws_id();
        let f = &scan(&format!("k={id}"))[0];
        assert_eq!(f.preview, "AKIA…LE");
    }

    #[test]
    fn overlaps_resolved_and_sorted() {
        let id = fake_aws_id();
        let text = format!("secret = \"{id}\" and token={id} and {id}");
        let found = scan(&text);
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(|f| f.kind == "aws-access-key"));
        assert!(found.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn large_input_is_linear_and_finds_key_at_end() {
        let para = "The quarterly report (v2.3, 2024-05-01) covers 1,234 items; see \
                    https://intranet.example.com/reports?id=42 or mail ops@example.com. \
                    Commit 3f786850e387550fdab836ed7e6dc881de23001b fixed task-management \
                    of id 550e8400-e29b-41d4-a716-446655440000. 我们的报告已经完成。\n";
        let mut text = String::with_capacity(10 * 1024 * 1024 + 1024);
        while text.len() < 10 * 1024 * 1024 {
            text.push_str(para);
        }
        // pathological shapes for the patterns: long identifier runs, BEGIN
        // without END, many `://` and `password=` without values
        text.push_str(&"a".repeat(100_000));
        text.push_str("\n-----BEGIN RSA PRIVATE KEY-----\n");
        text.push_str(&"password= x://:@ ".repeat(5_000));
        let id = fake_aws_id();
        text.push_str(&format!("\nfinally: {id}\n"));
        let found = scan(&text);
        let last = found.last().unwrap();
        assert_eq!(last.kind, "aws-access-key");
        assert_eq!(&text[last.start..last.end], id);
        assert!(
            found.iter().all(|f| f.start > 10 * 1024 * 1024),
            "{:?}",
            &found[..found.len().min(3)]
        );
    }

    #[test]
    fn a_findings_label_reads_in_chinese_and_its_kind_stays() {
        let text =
            "aws_access_key_id = AKIAQ3EGRTBN7XPLM2VW\nurl = postgres://app:Pa55w0rd-Q7x@db/prod\n";
        let english: Vec<String> = scan(text).iter().map(|f| f.label.to_string()).collect();
        assert_eq!(
            english,
            ["AWS access key ID", "Database connection string password"]
        );
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let found = scan(text);
        let labels: Vec<&str> = found.iter().map(|f| f.label.as_ref()).collect();
        assert_eq!(labels, ["AWS 访问密钥 ID", "数据库连接字符串中的密码"]);
        assert_eq!(found[0].kind, "aws-access-key");
        assert!(redact(text, &found).contains("[REDACTED:aws-access-key]"));
        // Every rule has its Chinese name.
        for rule in RULES {
            let zh = (rule.label)();
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
                    || zh == "JSON Web Token（JWT）",
                "{}: {zh}",
                rule.kind
            );
        }
    }
}
