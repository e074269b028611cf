//! The API key: where it comes from, how it is stored, and how it is kept out of sight.
//!
//! A key belongs to its endpoint. Sources, in order: `CLERK_API_KEY` (an explicit override,
//! for this run), the profile's `api_key_cmd`, the key stored for the profile in the OS
//! keyring (service `clerk`, account = profile name), and last `OPENAI_API_KEY`, only for a
//! profile with no key source of its own and only when the endpoint is OpenAI's or was
//! named for this run (`--base-url` / `OPENAI_BASE_URL`): a personal OpenAI key is never
//! sent to a company gateway. There is no plaintext fallback.
//! This module must never write a key to a file, a log or an error message: [`ApiKey`]'s
//! `Debug` and `Display` print only a masked form.

pub mod keyring;

use std::fmt;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use keyring::{KeyStore, OsKeyring};

/// The keyring service name.
pub const SERVICE: &str = "clerk";
/// How long a keyring or `api_key_cmd` may take before clerk gives up on it.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// An API key. Printing it shows only `sk-…abcd`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key, trimming surrounding white space. Rejects empty keys and keys that could
    /// not be sent in an HTTP header.
    pub fn new(raw: &str) -> Result<ApiKey, SecretError> {
        let key = raw.trim();
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        if !key.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(SecretError::BadCharacters);
        }
        remember(key);
        Ok(ApiKey(key.to_string()))
    }

    /// The key itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `sk-…abcd`: enough to tell keys apart, useless to an attacker.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// The keys this process has held, so that text from a server that echoes one (OpenAI's 401
/// names the key it refused) is masked before it is shown, logged or stored. Memory only.
static KNOWN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
/// The most keys remembered (a run holds one or two).
const KNOWN_MAX: usize = 16;

fn remember(key: &str) {
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !known.iter().any(|k| k == key) {
        if known.len() == KNOWN_MAX {
            known.remove(0);
        }
        known.push(key.to_string());
    }
}

/// `text` with every key this process knows, and anything shaped like an OpenAI-style key
/// (`sk-` and 16 or more key characters, masked or not), replaced by its masked form.
pub fn redact_keys(text: &str) -> String {
    let mut out = text.to_string();
    let known = KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for key in known.iter().filter(|k| k.len() >= 8) {
        if out.contains(key.as_str()) {
            out = out.replace(key.as_str(), &mask(key));
        }
    }
    drop(known);
    redact_key_shapes(&out)
}

fn redact_key_shapes(text: &str) -> String {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sk-") {
        let starts_word = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_key_char(c));
        let len = rest[at..]
            .find(|c: char| !is_key_char(c))
            .unwrap_or(rest.len() - at);
        // A trailing full stop ends the sentence, not the key.
        let token = rest[at..at + len].trim_end_matches('.');
        out.push_str(&rest[..at]);
        if starts_word && token.len() >= 19 {
            out.push_str(&mask(token));
        } else {
            out.push_str(token);
        }
        rest = &rest[at + token.len()..];
    }
    out.push_str(rest);
    out
}

/// Mask any secret: a short prefix up to the first dash, and the last four characters.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "…".to_string();
    }
    let prefix: String = match secret.find('-') {
        Some(i) if i <= 4 => secret[..=i].to_string(),
        _ => String::new(),
    };
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.masked())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Where a key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable (its name).
    Env(&'static str),
    /// The profile's `api_key_cmd`.
    Command,
    /// The OS keyring.
    Keyring,
}

impl KeySource {
    /// Where the key came from, for people, in the interface's language (`Display` is the
    /// English one, for logs and `--json`).
    pub fn label(&self) -> String {
        match self {
            KeySource::Env(name) => tr!("secrets.source_env", name = name).into_owned(),
            KeySource::Command => "api_key_cmd".to_string(),
            KeySource::Keyring => tr!("secrets.source_keyring").into_owned(),
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env(name) => write!(f, "environment ({name})"),
            KeySource::Command => f.write_str("api_key_cmd"),
            KeySource::Keyring => f.write_str("keyring"),
        }
    }
}

/// Why no key could be had. Messages never contain the key.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No source has a key.
    NotFound {
        /// The profile.
        profile: String,
        /// `OPENAI_API_KEY` was set but not used, as the endpoint is not OpenAI's.
        openai_skipped: bool,
    },
    /// The key is empty.
    Empty,
    /// The key has characters that cannot be sent.
    BadCharacters,
    /// The OS keyring cannot be used.
    KeyringUnavailable {
        /// What the keyring said (never a secret).
        reason: String,
    },
    /// `api_key_cmd` failed.
    Command {
        /// The command line (configured by the user; not a secret).
        cmd: String,
        /// Why.
        reason: String,
    },
}

// Written by hand (not `#[error]`) for the texts come from the catalogs (locales/cli.yml).
impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            SecretError::NotFound {
                profile,
                openai_skipped,
            } => {
                let skipped = match openai_skipped {
                    true => tr!("secrets.openai_skipped").into_owned(),
                    false => String::new(),
                };
                tr!("secrets.not_found", profile = profile, skipped = skipped)
            }
            SecretError::Empty => tr!("secrets.empty"),
            SecretError::BadCharacters => tr!("secrets.bad_characters"),
            SecretError::KeyringUnavailable { reason } => {
                tr!("secrets.keyring_unavailable", reason = reason)
            }
            SecretError::Command { cmd, reason } => {
                tr!("secrets.command_failed", cmd = cmd, reason = reason)
            }
        };
        f.write_str(&text)
    }
}

/// The environment variables consulted: the override first, OpenAI's own last.
pub const ENV_VARS: [&str; 2] = [OVERRIDE_VAR, OPENAI_VAR];
/// The explicit override, used by every profile.
pub const OVERRIDE_VAR: &str = "CLERK_API_KEY";
/// OpenAI's variable, used only where it belongs (see the module's doc).
pub const OPENAI_VAR: &str = "OPENAI_API_KEY";

/// Whose key is wanted: a profile and the endpoint its requests go to.
#[derive(Debug, Clone, Copy)]
pub struct KeyFor<'a> {
    /// The profile's name (the keyring account).
    pub profile: &'a str,
    /// The profile's `api_key_cmd`.
    pub api_key_cmd: Option<&'a str>,
    /// The base URL requests go to (the profile's, or the one named for this run).
    pub base_url: &'a str,
    /// Whether the base URL was named for this run (`--base-url` / `OPENAI_BASE_URL`).
    pub url_given: bool,
}

impl<'a> KeyFor<'a> {
    /// The key for profile `name`, whose requests go to `url_override` when one was named
    /// for this run (`--base-url` / `OPENAI_BASE_URL`), else to the profile's base URL.
    pub fn profile(
        name: &'a str,
        profile: &'a crate::config::Profile,
        url_override: Option<&'a str>,
    ) -> KeyFor<'a> {
        KeyFor {
            profile: name,
            api_key_cmd: profile.api_key_cmd.as_deref(),
            base_url: url_override.unwrap_or(&profile.base_url),
            url_given: url_override.is_some(),
        }
    }

    /// Whether `OPENAI_API_KEY` may be sent to this endpoint: OpenAI's own, or one named
    /// for this run next to the variable (as OpenAI's tools read the pair).
    pub fn openai_key_fits(&self) -> bool {
        self.url_given || is_openai(self.base_url)
    }
}

/// Whether `url` is OpenAI's API (`https://api.openai.com/...`).
fn is_openai(url: &str) -> bool {
    let Some(rest) = url.trim().strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    host.eq_ignore_ascii_case("api.openai.com") || host.eq_ignore_ascii_case("api.openai.com:443")
}

/// Find the key for a profile, in the module doc's order. `env` looks a variable up
/// (injected for tests).
pub fn resolve(
    want: &KeyFor<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    store: &dyn KeyStore,
) -> Result<(ApiKey, KeySource), SecretError> {
    let from_env = |name: &'static str| {
        env(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| ApiKey::new(&v).map(|k| (k, KeySource::Env(name))))
    };
    if let Some(found) = from_env(OVERRIDE_VAR) {
        return found;
    }
    if let Some(cmd) = want.api_key_cmd {
        return Ok((run_key_command(cmd, TIMEOUT)?, KeySource::Command));
    }
    let openai = want
        .openai_key_fits()
        .then(|| from_env(OPENAI_VAR))
        .flatten();
    let openai_skipped = || !want.openai_key_fits() && from_env(OPENAI_VAR).is_some();
    match (store.get(SERVICE, want.profile), openai) {
        (Ok(Some(k)), _) => Ok((ApiKey::new(&k)?, KeySource::Keyring)),
        // The keyring holds no key for the profile (or cannot be read): OpenAI's variable
        // where it belongs.
        (Ok(None) | Err(_), Some(found)) => found,
        (Ok(None), None) => Err(SecretError::NotFound {
            profile: want.profile.to_string(),
            openai_skipped: openai_skipped(),
        }),
        (Err(SecretError::KeyringUnavailable { reason }), None) if openai_skipped() => {
            Err(SecretError::KeyringUnavailable {
                reason: tr!(
                    "secrets.openai_not_here",
                    reason = reason,
                    profile = want.profile
                )
                .into_owned(),
            })
        }
        (Err(e), None) => Err(e),
    }
}

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Run `cmd` through the shell and take the first line of its output as the key. The
/// command's stderr passes through to the user; its stdout is never shown.
pub fn run_key_command(cmd: &str, timeout: Duration) -> Result<ApiKey, SecretError> {
    let fail = |reason: String| SecretError::Command {
        cmd: cmd.to_string(),
        reason,
    };
    let mut child = shell(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| fail(tr!("secrets.cmd.start", error = e).into_owned()))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(
                    tr!("secrets.cmd.timeout", seconds = timeout.as_secs()).into_owned(),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut out)
            .map_err(|e| fail(tr!("secrets.cmd.unreadable", error = e).into_owned()))?;
    }
    if !status.success() {
        return Err(fail(tr!("secrets.cmd.exit", status = status).into_owned()));
    }
    let first = out.lines().next().unwrap_or("");
    ApiKey::new(first).map_err(|e| fail(e.to_string()))
}

#[cfg(unix)]
fn shell(cmd: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(cmd);
    c
}

#[cfg(windows)]
fn shell(cmd: &str) -> Command {
    let mut c = Command::new("cmd");
    c.arg("/C").arg(cmd);
    c
}

#[cfg(test)]
mod tests {
    use super::keyring::MemoryStore;
    use super::*;

    #[test]
    fn where_a_key_came_from_is_said_in_the_interfaces_language_and_logged_in_english() {
        let env = KeySource::Env("CLERK_API_KEY");
        assert_eq!(env.label(), "environment (CLERK_API_KEY)");
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        assert_eq!(env.label(), "环境变量（CLERK_API_KEY）");
        assert_eq!(KeySource::Keyring.label(), "密钥环");
        assert_eq!(KeySource::Command.label(), "api_key_cmd");
        assert_eq!(env.to_string(), "environment (CLERK_API_KEY)");
    }

    const CANARY: &str = "sk-test-CANARY0123456789abcd";

    #[test]
    fn keys_echoed_by_a_server_are_masked() {
        let held = ApiKey::new("gw-0123456789abcdefXYZW").unwrap();
        let text = format!(
            "Incorrect API key provided: {}. Also sk-proj-AbCdEf0123456789abcd and \
             sk-abc1**********************wxyz. Not a key: task-sk-flow, sk-short.",
            held.expose()
        );
        let out = redact_keys(&text);
        assert!(!out.contains("0123456789abcdef"), "{out}");
        assert!(!out.contains("AbCdEf0123456789"), "{out}");
        assert!(!out.contains("abc1****"), "{out}");
        assert!(
            out.contains("gw-…XYZW") && out.contains("sk-…abcd") && out.contains("sk-…wxyz"),
            "{out}"
        );
        assert!(out.contains("task-sk-flow, sk-short."), "{out}");
        assert!(out.starts_with("Incorrect API key provided: "), "{out}");
    }

    #[test]
    fn masked_forms_never_contain_the_key() {
        let k = ApiKey::new(CANARY).unwrap();
        assert_eq!(k.masked(), "sk-…abcd");
        assert!(!format!("{k:?}").contains("CANARY"));
        assert!(!format!("{k}").contains("CANARY"));
        assert_eq!(mask("short"), "…");
    }

    const OPENAI: &str = "https://api.openai.com/v1";
    const GATEWAY: &str = "https://llm.corp.example/v1";

    fn want<'a>(profile: &'a str, cmd: Option<&'a str>, url: &'a str) -> KeyFor<'a> {
        KeyFor {
            profile,
            api_key_cmd: cmd,
            base_url: url,
            url_given: false,
        }
    }

    fn personal(n: &str) -> Option<String> {
        (n == "OPENAI_API_KEY").then(|| "sk-personal-1111111".to_string())
    }

    #[cfg(unix)]
    #[test]
    fn a_profile_with_a_command_uses_it_even_with_openai_api_key_set() {
        let store = MemoryStore::default();
        let w = want("work", Some("echo sk-gateway-222222222"), GATEWAY);
        let (k, src) = resolve(&w, &personal, &store).unwrap();
        assert_eq!(k.expose(), "sk-gateway-222222222");
        assert_eq!(src, KeySource::Command);
        // On OpenAI's own endpoint too: the profile named its source.
        let w = want("work", Some("echo sk-gateway-222222222"), OPENAI);
        assert_eq!(
            resolve(&w, &personal, &store).unwrap().1,
            KeySource::Command
        );
    }

    #[test]
    fn a_key_stored_for_the_profile_wins_over_openai_api_key() {
        let store = MemoryStore::default();
        store
            .set(SERVICE, "default", "sk-from-keyring-000000")
            .unwrap();
        let (k, src) = resolve(&want("default", None, OPENAI), &personal, &store).unwrap();
        assert_eq!(k.expose(), "sk-from-keyring-000000");
        assert_eq!(src, KeySource::Keyring);
    }

    #[test]
    fn openai_api_key_only_goes_to_openai_or_an_endpoint_named_with_it() {
        let store = MemoryStore::default();
        let (k, src) = resolve(&want("default", None, OPENAI), &personal, &store).unwrap();
        assert_eq!(k.expose(), "sk-personal-1111111");
        assert_eq!(src, KeySource::Env("OPENAI_API_KEY"));
        // A gateway profile without a key of its own: refused, and told why.
        let err = resolve(&want("work", None, GATEWAY), &personal, &store)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("OPENAI_API_KEY is set, but it is OpenAI's"),
            "{err}"
        );
        assert!(err.contains("clerk auth login --profile work"), "{err}");
        // Look-alike hosts are not OpenAI's.
        for url in [
            "https://api.openai.com.evil.example/v1",
            "http://api.openai.com/v1",
            "https://evil.example/api.openai.com/v1",
        ] {
            assert!(
                resolve(&want("x", None, url), &personal, &store).is_err(),
                "{url}"
            );
        }
        // --base-url / OPENAI_BASE_URL for this run goes with the variable.
        let mut w = want("default", None, "http://127.0.0.1:8080/v1");
        w.url_given = true;
        assert_eq!(
            resolve(&w, &personal, &store).unwrap().1,
            KeySource::Env("OPENAI_API_KEY")
        );
    }

    #[cfg(unix)]
    #[test]
    fn clerk_api_key_overrides_every_source() {
        let store = MemoryStore::default();
        store
            .set(SERVICE, "work", "sk-from-keyring-000000")
            .unwrap();
        let env = |n: &str| Some(format!("sk-{n}-xxxxxxxx"));
        let w = want("work", Some("echo sk-cmd-222222222"), GATEWAY);
        let (k, src) = resolve(&w, &env, &store).unwrap();
        assert_eq!(src, KeySource::Env("CLERK_API_KEY"));
        assert!(k.expose().contains("CLERK"));
    }

    #[cfg(unix)]
    #[test]
    fn command_wins_over_keyring() {
        let store = MemoryStore::default();
        store
            .set(SERVICE, "default", "sk-from-keyring-000000")
            .unwrap();
        let env = |_: &str| None;
        let w = want(
            "default",
            Some("printf 'sk-cmd-222222222\\nignored'"),
            OPENAI,
        );
        let (k, src) = resolve(&w, &env, &store).unwrap();
        assert_eq!(k.expose(), "sk-cmd-222222222");
        assert_eq!(src, KeySource::Command);
    }

    #[test]
    fn keyring_is_per_profile() {
        let store = MemoryStore::default();
        store.set(SERVICE, "work", "sk-work-key-00000000").unwrap();
        let env = |_: &str| None;
        let (k, src) = resolve(&want("work", None, GATEWAY), &env, &store).unwrap();
        assert_eq!(k.expose(), "sk-work-key-00000000");
        assert_eq!(src, KeySource::Keyring);
        let err = resolve(&want("home", None, OPENAI), &env, &store)
            .unwrap_err()
            .to_string();
        assert!(err.contains("clerk auth login --profile home"), "{err}");
        assert!(!err.contains("OPENAI_API_KEY is set"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn failing_or_slow_command_is_a_clear_error() {
        let err = run_key_command("exit 3", TIMEOUT).unwrap_err().to_string();
        assert!(err.contains("exit"), "{err}");
        let err = run_key_command("sleep 5", Duration::from_millis(200))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no answer"), "{err}");
        let err = run_key_command("true", TIMEOUT).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
    }

    #[test]
    fn keys_with_spaces_are_rejected() {
        assert!(matches!(
            ApiKey::new("sk-abc def"),
            Err(SecretError::BadCharacters)
        ));
        assert!(matches!(ApiKey::new("  "), Err(SecretError::Empty)));
        assert_eq!(ApiKey::new(" sk-abc\n").unwrap().expose(), "sk-abc");
    }
}
