//! The interface's language, chosen before the command line is parsed, so that `--help`
//! and clap's own errors are already in it.
//!
//! The config's top-level `language` key wins, then the locale ([`crate::i18n::choose`]).
//! The config file is found as [`crate::config::Paths`] finds it (`--config FILE`,
//! `--config=FILE`, `CLERK_CONFIG`, else the platform's config folder) and only that one
//! key is read, by scanning the lines before the first table: a broken or missing file is
//! ignored here, as the normal load reports it afterwards. It must stay cheap (the app's
//! first frame is measured): no TOML parse, no other file.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::i18n::{self, Language};

/// Sets the process's language from `args` (the raw command line) and the environment.
pub(super) fn set_at_start(args: &[OsString]) {
    let config = config_file(args, std::env::var_os("CLERK_CONFIG"))
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| language_key(&text));
    i18n::set(i18n::choose(config, |k| std::env::var(k).ok()));
}

/// The config file the command line and `clerk_config` (the `CLERK_CONFIG` variable) name,
/// else the default one.
fn config_file(args: &[OsString], clerk_config: Option<OsString>) -> Option<PathBuf> {
    let mut rest = args.iter().skip(1);
    let mut named = None;
    while let Some(arg) = rest.next() {
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            break;
        }
        if text == "--config" {
            named = rest.next().map(PathBuf::from);
        } else if let Some(value) = text.strip_prefix("--config=") {
            named = Some(PathBuf::from(value));
        }
    }
    if let Some(path) = named.or_else(|| clerk_config.filter(|v| !v.is_empty()).map(PathBuf::from))
    {
        return Some(path);
    }
    directories::ProjectDirs::from("", "", "clerk").map(|d| d.config_dir().join("config.toml"))
}

/// The value of the top-level `language = "…"` of a config file's text, if it has a valid
/// one (`"auto"` and anything unreadable: `None`).
fn language_key(text: &str) -> Option<Language> {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            return None; // the top level is over
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "language" {
            continue;
        }
        let value = value.trim();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &value[1..];
        let value = &inner[..inner.find(quote)?];
        return Language::from_config(value).ok().flatten();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_config_file_is_found_as_paths_finds_it() {
        let named = config_file(&args(&["clerk", "--config", "/a.toml", "ask"]), None);
        assert_eq!(named, Some(PathBuf::from("/a.toml")));
        let eq = config_file(
            &args(&["clerk", "ask", "--config=/b.toml"]),
            Some("/c".into()),
        );
        assert_eq!(eq, Some(PathBuf::from("/b.toml")));
        let env = config_file(
            &args(&["clerk", "ask", "--", "--config=/x"]),
            Some("/c".into()),
        );
        assert_eq!(env, Some(PathBuf::from("/c")));
        let default = config_file(&args(&["clerk"]), None).unwrap();
        assert!(default.ends_with("clerk/config.toml"), "{default:?}");
    }

    #[test]
    fn only_the_top_level_language_key_is_read() {
        assert_eq!(
            language_key("# x\nlanguage = \"zh-CN\" # mine\n[history]\n"),
            Some(Language::Chinese)
        );
        assert_eq!(language_key("language='en'\n"), Some(Language::English));
        assert_eq!(language_key("language = \"auto\"\n"), None);
        assert_eq!(language_key("language = \"fr\"\n"), None);
        assert_eq!(language_key("language = 5\n"), None);
        assert_eq!(language_key("[profiles.x]\nlanguage = \"zh-CN\"\n"), None);
        assert_eq!(language_key("not toml at all ===\n"), None);
    }
}
