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
                tr!(
                    "config.error.read",
                    path = path.display(),
                    error = crate::i18n::os_error(source)
                )
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
                    message = reader_message(message)
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
                error = crate::i18n::os_error(source)
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

/// A message of the TOML reader or of serde in the interface's language: their known shapes
/// are translated with the names and values they quote kept; anything else stays as written.
pub fn reader_message(message: &str) -> String {
    if crate::i18n::current() == crate::i18n::Language::English {
        return message.to_string();
    }
    let tick = |rest: &str| -> Option<(String, String)> {
        // "`name`, tail" → ("name", "tail")
        let rest = rest.strip_prefix('`')?;
        let (name, tail) = rest.split_once('`')?;
        Some((name.to_string(), tail.trim_start_matches(", ").to_string()))
    };
    let choices = |tail: &str| -> String {
        match tail {
            "there are no fields" | "there are no variants" => String::new(),
            t => t
                .strip_prefix("expected one of ")
                .or_else(|| t.strip_prefix("expected "))
                .unwrap_or(t)
                .to_string(),
        }
    };
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return tr!(
            "config.reader.invalid_type",
            found = kind_of(found),
            expected = kind_of(expected)
        )
        .into_owned();
    }
    if let Some(rest) = message.strip_prefix("invalid value: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return tr!(
            "config.reader.invalid_value",
            found = kind_of(found),
            expected = kind_of(expected)
        )
        .into_owned();
    }
    if let Some((name, tail)) = message.strip_prefix("unknown field ").and_then(tick) {
        return tr!(
            "config.reader.unknown_field",
            name = name,
            known = choices(&tail)
        )
        .into_owned();
    }
    if let Some((name, tail)) = message.strip_prefix("unknown variant ").and_then(tick) {
        return tr!(
            "config.reader.unknown_variant",
            name = name,
            known = choices(&tail)
        )
        .into_owned();
    }
    if let Some((name, _)) = message.strip_prefix("missing field ").and_then(tick) {
        return tr!("config.reader.missing_field", name = name).into_owned();
    }
    if let Some((name, _)) = message.strip_prefix("duplicate field ").and_then(tick) {
        return tr!("config.reader.duplicate_key", name = name).into_owned();
    }
    // The TOML reader's own: "what is wrong[, expected what]".
    let (what, expected) = match message.split_once(", expected ") {
        Some((what, expected)) => (what, Some(expected)),
        None => (message, None),
    };
    let what = match what {
        "duplicate key" => tr!("config.reader.duplicate"),
        "string values must be quoted" => tr!("config.reader.unquoted_string"),
        "key with no value" | "missing value" | "missing value for key" => {
            tr!("config.reader.no_value")
        }
        "unclosed array" => tr!("config.reader.unclosed_array"),
        "unclosed table" | "unclosed array table" => tr!("config.reader.unclosed_table"),
        "unclosed inline table" => tr!("config.reader.unclosed_inline_table"),
        "missing comma between array elements" | "missing comma between key-value pairs" => {
            tr!("config.reader.missing_comma")
        }
        "extra comma in array" | "extra comma in inline table" => tr!("config.reader.extra_comma"),
        "missing assignment between key-value pairs" => tr!("config.reader.missing_assignment"),
        "extra assignment between key-value pairs" | "extra `=`" | "unexpected `=` in array" => {
            tr!("config.reader.extra_assignment")
        }
        "missing opening quote" => tr!("config.reader.missing_quote"),
        "invalid unquoted key" | "unquoted keys cannot be empty" | "invalid key-value pair" => {
            tr!("config.reader.bad_key")
        }
        "unexpected content"
        | "unexpected key or value"
        | "unexpected content between comment and newline" => tr!("config.reader.unexpected"),
        "invalid value" => tr!("config.reader.bad_value"),
        "missing escaped value" => tr!("config.reader.bad_escape"),
        "unexpected leading zero" => tr!("config.reader.leading_zero"),
        _ => return tr!("config.reader.other", message = message).into_owned(),
    };
    match expected {
        Some(e) => {
            let e: Vec<String> = e.split(", ").map(expected_item).collect();
            tr!(
                "config.reader.expected",
                what = what,
                expected = e.join("、")
            )
            .into_owned()
        }
        None => what.into_owned(),
    }
}

/// One thing the TOML reader expected: a quoted literal (`` `]` ``) is kept, its few
/// descriptions are translated.
fn expected_item(item: &str) -> String {
    let text = match item.trim_start_matches("or ") {
        "key" => tr!("config.reader.want.key"),
        "value" => tr!("config.reader.want.value"),
        "literal string" | "basic string" | "multi-line basic string" => {
            tr!("config.reader.want.string")
        }
        "numbers" | "digits" => tr!("config.reader.want.digits"),
        "letters" => tr!("config.reader.want.letters"),
        "unicode hexadecimal value" => tr!("config.reader.want.hex"),
        _ => return item.to_string(),
    };
    text.into_owned()
}

/// serde's names of kinds of values in the interface's language ("a string", "integer
/// `3`"); a value it quotes is kept.
fn kind_of(text: &str) -> String {
    let (kind, value) = match text.find(['`', '"']) {
        Some(i) => (text[..i].trim(), text[i..].trim()),
        None => (text.trim(), ""),
    };
    let kind = match kind {
        "a string" | "string" | "a borrowed string" => tr!("config.reader.kind.string"),
        "a boolean" | "boolean" => tr!("config.reader.kind.boolean"),
        "integer" | "an integer" | "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16"
        | "i32" | "i64" | "isize" => tr!("config.reader.kind.integer"),
        "floating point" | "a number" | "f32" | "f64" => tr!("config.reader.kind.number"),
        "sequence" | "a sequence" | "array" | "an array" => tr!("config.reader.kind.list"),
        "map" | "a map" | "table" | "a table" => tr!("config.reader.kind.table"),
        other if other.starts_with("struct ") => tr!("config.reader.kind.table"),
        _ => return text.to_string(),
    };
    if value.is_empty() {
        kind.into_owned()
    } else {
        format!("{kind} {value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Language, scoped};

    /// What the TOML reader says about real mistakes, read through the config's own parse.
    fn said(text: &str) -> String {
        let path = std::path::Path::new("/home/u/.config/clerk/config.toml");
        let err = crate::config::Config::parse(path, text).err().unwrap();
        err.to_string()
    }

    #[test]
    fn the_readers_messages_are_said_in_chinese_with_their_names_kept() {
        let _zh = scoped(Language::Chinese);
        let cases = [
            (
                "stream = true\n",
                "没有 `stream` 这个键；这里可用的键：`default_profile`",
            ),
            (
                "[profiles.x]\nbase_url = 3\n",
                "类型不对：写的是整数 `3`，这里要文本",
            ),
            ("theme = dark\n", "文本值要加引号，这里应为 带引号的文本"),
            ("template_dirs = [\"a\"\n", "列表没有闭合"),
            ("theme = \"a\"\ntheme = \"b\"\n", "这个键写了两次"),
        ];
        for (text, want) in cases {
            let got = said(text);
            assert!(got.contains(want), "{text:?}: {got}");
            assert!(got.contains("第 "), "{got}");
        }
    }

    #[test]
    fn in_english_the_readers_messages_are_kept_as_written() {
        let _en = scoped(Language::English);
        let got = said("[profiles.x]\nbase_url = 3\n");
        assert!(
            got.contains("invalid type: integer `3`, expected a string"),
            "{got}"
        );
        assert_eq!(reader_message("something new"), "something new");
        let _zh = scoped(Language::Chinese);
        assert_eq!(
            reader_message("something new"),
            "TOML 格式有误（something new）"
        );
    }
}
