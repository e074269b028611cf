//! The API key: where it comes from, how it is stored, and how it is kept out of sight.
//!
//! Sources, in order: `CLERK_API_KEY`, `OPENAI_API_KEY`, the profile's `api_key_cmd`, the
//! OS keyring (service `clerk`, account = profile name). There is no plaintext fallback.
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
    #[error(
        "no API key for profile `{profile}`. Run `clerk auth login --profile {profile}`, or set CLERK_API_KEY (or OPENAI_API_KEY), or set api_key_cmd in the profile"
    )]
    NotFound {
        /// The profile.
        profile: String,
    },
    /// The key is empty.
    #[error("the API key is empty")]
    Empty,
    /// The key has characters that cannot be sent.
    #[error("the API key contains spaces or control characters; paste only the key")]
    BadCharacters,
    /// The OS keyring cannot be used.
    #[error(
        "the OS keyring is not available ({reason}). Set CLERK_API_KEY (or OPENAI_API_KEY) in the environment, or set api_key_cmd in the profile (e.g. `pass show openai`)"
    )]
    KeyringUnavailable {
        /// What the keyring said (never a secret).
        reason: String,
    },
    /// `api_key_cmd` failed.
    #[error("api_key_cmd `{cmd}` failed: {reason}")]
    Command {
        /// The command line (configured by the user; not a secret).
        cmd: String,
        /// Why.
        reason: String,
    },
}

/// The environment variables consulted, in order.
pub const ENV_VARS: [&str; 2] = ["CLERK_API_KEY", "OPENAI_API_KEY"];

/// Find the key for `profile`: environment, then `api_key_cmd`, then the keyring.
/// `env` looks a variable up (injected for tests).
pub fn resolve(
    profile: &str,
    api_key_cmd: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    store: &dyn KeyStore,
) -> Result<(ApiKey, KeySource), SecretError> {
    for name in ENV_VARS {
        if let Some(v) = env(name).filter(|v| !v.trim().is_empty()) {
            return Ok((ApiKey::new(&v)?, KeySource::Env(name)));
        }
    }
    if let Some(cmd) = api_key_cmd {
        return Ok((run_key_command(cmd, TIMEOUT)?, KeySource::Command));
    }
    match store.get(SERVICE, profile)? {
        Some(k) => Ok((ApiKey::new(&k)?, KeySource::Keyring)),
        None => Err(SecretError::NotFound {
            profile: profile.to_string(),
        }),
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
        .map_err(|e| fail(format!("could not start it: {e}")))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "no answer within {} s (is it waiting for a password?)",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut out)
            .map_err(|e| fail(format!("unreadable output: {e}")))?;
    }
    if !status.success() {
        return Err(fail(format!("it exited with {status}")));
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

    const CANARY: &str = "sk-test-CANARY0123456789abcd";

    #[test]
    fn masked_forms_never_contain_the_key() {
        let k = ApiKey::new(CANARY).unwrap();
        assert_eq!(k.masked(), "sk-…abcd");
        assert!(!format!("{k:?}").contains("CANARY"));
        assert!(!format!("{k}").contains("CANARY"));
        assert_eq!(mask("short"), "…");
    }

    #[test]
    fn env_wins_over_command_and_keyring() {
        let store = MemoryStore::default();
        store
            .set(SERVICE, "default", "sk-from-keyring-000000")
            .unwrap();
        let env = |n: &str| (n == "OPENAI_API_KEY").then(|| "sk-from-env-1111111".to_string());
        let (k, src) = resolve("default", Some("echo sk-cmd-222222222"), &env, &store).unwrap();
        assert_eq!(k.expose(), "sk-from-env-1111111");
        assert_eq!(src, KeySource::Env("OPENAI_API_KEY"));
    }

    #[test]
    fn clerk_api_key_wins_over_openai_api_key() {
        let store = MemoryStore::default();
        let env = |n: &str| Some(format!("sk-{n}-xxxxxxxx"));
        let (k, src) = resolve("default", None, &env, &store).unwrap();
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
        let (k, src) = resolve(
            "default",
            Some("printf 'sk-cmd-222222222\\nignored'"),
            &env,
            &store,
        )
        .unwrap();
        assert_eq!(k.expose(), "sk-cmd-222222222");
        assert_eq!(src, KeySource::Command);
    }

    #[test]
    fn keyring_is_last_and_per_profile() {
        let store = MemoryStore::default();
        store.set(SERVICE, "work", "sk-work-key-00000000").unwrap();
        let env = |_: &str| None;
        let (k, src) = resolve("work", None, &env, &store).unwrap();
        assert_eq!(k.expose(), "sk-work-key-00000000");
        assert_eq!(src, KeySource::Keyring);
        let err = resolve("home", None, &env, &store).unwrap_err().to_string();
        assert!(err.contains("clerk auth login --profile home"), "{err}");
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
