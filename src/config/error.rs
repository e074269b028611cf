//! [`ConfigError`]: what is wrong with the configuration or the admin's policy, and what to
//! do about it, in the interface's language.
//!
//! The texts come from `locales/config.yml` when the error is shown (`Display`), not when it
//! is made, so an error made before the language is known still reads right. Nothing here
//! reads files.

use std::fmt;
use std::path::PathBuf;

use super::policy;

/// Something is wrong with the configuration; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file exists but could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file named with --config or CLERK_CONFIG does not exist.
    Missing(PathBuf),
    /// The TOML is invalid or a value has the wrong type.
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The dotted key at fault, when it can be told.
        key: Option<String>,
        /// What was expected.
        message: String,
    },
    /// A profile was asked for that the config does not define.
    UnknownProfile {
        /// The requested profile.
        name: String,
        /// The profiles that exist.
        known: String,
        /// The config file.
        path: PathBuf,
    },
    /// A profile is incomplete or contradictory.
    BadProfile {
        /// The profile.
        profile: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A policy file exists but cannot be read: clerk does not run without its policy.
    PolicyUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file named by `CLERK_POLICY` does not exist.
    PolicyMissing(PathBuf),
    /// A policy file is broken (its file, line and key are in the error): clerk does not
    /// run, as skipping it would defeat the policy.
    BrokenPolicy(Box<ConfigError>),
    /// The policy does not allow what was asked; nothing was sent.
    NotAllowed(#[from] policy::Denied),
    /// No home folder, so no platform folders.
    NoHome,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ConfigError::Read { path, source } => {
                tr!("config.error.read", path = path.display(), error = source)
            }
            ConfigError::Missing(path) => tr!("config.error.missing", path = path.display()),
            ConfigError::Invalid {
                path,
                line,
                column,
                key,
                message,
            } => {
                let key = match key {
                    Some(k) => tr!("config.error.invalid_key", key = k).into_owned(),
                    None => String::new(),
                };
                tr!(
                    "config.error.invalid",
                    path = path.display(),
                    line = line,
                    column = column,
                    key = key,
                    message = message
                )
            }
            ConfigError::UnknownProfile { name, known, path } => tr!(
                "config.error.unknown_profile",
                name = name,
                known = known,
                path = path.display()
            ),
            ConfigError::BadProfile { profile, message } => tr!(
                "config.error.bad_profile",
                profile = profile,
                message = message
            ),
            ConfigError::PolicyUnreadable { path, source } => tr!(
                "config.error.policy_unreadable",
                path = path.display(),
                error = source
            ),
            ConfigError::PolicyMissing(path) => {
                tr!("config.error.policy_missing", path = path.display())
            }
            ConfigError::BrokenPolicy(inner) => {
                tr!("config.error.broken_policy", error = inner)
            }
            ConfigError::NotAllowed(denied) => tr!("config.error.not_allowed", error = denied),
            ConfigError::NoHome => tr!("config.error.no_home"),
        };
        f.write_str(&text)
    }
}
