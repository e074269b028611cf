//! The interface's language: English or Simplified Chinese.
//!
//! Every string a person reads (screens, dialogs, the help, notices, errors and their advice,
//! `--help`, progress lines) comes from the message catalogs in `locales/*.yml`, compiled into
//! the binary by `rust-i18n`, and is looked up with [`tr!`](crate::tr) by key. Each file holds
//! one area's keys with both languages side by side (`en:` and `zh-CN:`); the tests below fail
//! when a key lacks a language or when code asks for a key no catalog has. Machine output stays
//! English and stable whatever the language: `--json` keys, exit codes, log lines.
//!
//! The language is chosen once at start ([`choose`]): the config's `language` (`"en"`,
//! `"zh-CN"`; `"auto"` or absent defers), else the environment as gettext reads it —
//! `LANGUAGE` (a colon-separated list, first supported entry wins) unless the locale is `C` or
//! `POSIX`, then the first set of `LC_ALL`, `LC_MESSAGES`, `LANG`. Any Chinese locale (`zh_CN`,
//! `zh_SG`, `zh_TW`, `zh`) gets Simplified Chinese, the only Chinese catalog; anything else,
//! English. docs/i18n.md tells translators and developers how to add a string.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Display;
use std::sync::atomic::{AtomicU8, Ordering};

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// English (the default, and the fallback for a missing translation).
    #[default]
    English,
    /// Simplified Chinese (`zh-CN`).
    Chinese,
}

impl Language {
    /// The catalog's locale code.
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Chinese => "zh-CN",
        }
    }

    /// The config's value for a language (`"auto"` is `None`). Accepts the codes people
    /// write: `en`, `en-US`, `zh-CN`, `zh_CN`, `zh`, any case.
    pub fn from_config(value: &str) -> Result<Option<Language>, String> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("auto") {
            return Ok(None);
        }
        from_tag(v)
            .map(Some)
            .ok_or_else(|| format!("unknown language {value:?}: use \"auto\", \"en\" or \"zh-CN\""))
    }
}

/// A locale or language tag (`zh_CN.UTF-8`, `en-GB`, `zh`) as a supported language.
fn from_tag(tag: &str) -> Option<Language> {
    let lang = tag
        .split(['_', '-', '.', '@'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match lang.as_str() {
        "zh" => Some(Language::Chinese),
        "en" => Some(Language::English),
        _ => None,
    }
}

/// The language to use: the config's choice, else the environment's (see the module's
/// documentation for the order). `env` reads a variable (empty counts as unset).
pub fn choose(config: Option<Language>, env: impl Fn(&str) -> Option<String>) -> Language {
    if let Some(language) = config {
        return language;
    }
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let locale = get("LC_ALL")
        .or_else(|| get("LC_MESSAGES"))
        .or_else(|| get("LANG"));
    let plain = matches!(locale.as_deref(), Some("C" | "POSIX"))
        || locale.as_deref().is_some_and(|l| l.starts_with("C."));
    let listed = match plain {
        true => None,
        false => get("LANGUAGE").and_then(|list| list.split(':').find_map(from_tag)),
    };
    if let Some(language) = listed {
        return language;
    }
    locale.as_deref().and_then(from_tag).unwrap_or_default()
}

static GLOBAL: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// A language for this thread only (tests render both languages side by side).
    static SCOPED: Cell<Option<Language>> = const { Cell::new(None) };
}

/// Sets the language of the whole process (once, at start).
pub fn set(language: Language) {
    GLOBAL.store(language as u8, Ordering::Relaxed);
}

/// The language in force on this thread.
pub fn current() -> Language {
    SCOPED
        .with(|s| s.get())
        .unwrap_or(match GLOBAL.load(Ordering::Relaxed) {
            1 => Language::Chinese,
            _ => Language::English,
        })
}

/// The catalog's locale code in force on this thread (what [`tr!`](crate::tr) looks up).
pub fn code() -> &'static str {
    current().code()
}

/// The text of a key computed at run time (a built-in template's title, say), in this
/// thread's language; `None` when no catalog has it.
pub fn text(key: &str) -> Option<String> {
    crate::_rust_i18n_try_translate(code(), key).map(|t| t.into_owned())
}

/// The text of `key` in this thread's language, the key itself when no catalog has it (a
/// test keeps that from happening). What [`tr!`](crate::tr) calls: one function, not the
/// lookup inlined at each of the thousand places that show a string.
#[inline(never)]
pub fn lookup(key: &'static str) -> Cow<'static, str> {
    crate::_rust_i18n_try_translate(code(), key).unwrap_or(Cow::Borrowed(key))
}

/// Builds the catalogs' lookup table now (it is built on the first lookup otherwise): the
/// app does it on a thread of its own at start, off the first frame's path.
pub fn warm() {
    let _ = lookup("language.name");
}

/// The text of `key` with each `%{name}` replaced by its value (what `tr!("key", name =
/// value)` calls).
#[inline(never)]
pub fn fill(key: &'static str, values: &[(&str, &dyn Display)]) -> Cow<'static, str> {
    let text = lookup(key);
    let names: Vec<&str> = values.iter().map(|(name, _)| *name).collect();
    let values: Vec<String> = values.iter().map(|(_, value)| value.to_string()).collect();
    Cow::Owned(rust_i18n::replace_patterns(&text, &names, &values))
}

/// Makes this thread use `language` until the guard is dropped (for tests: the process-wide
/// language is shared by the tests that run side by side).
pub fn scoped(language: Language) -> Scoped {
    let before = SCOPED.with(|s| s.replace(Some(language)));
    Scoped { before }
}

/// An error of the operating system in the interface's language: in Chinese the common
/// kinds (a missing file, no permission, a full disk, a refused connection…) are said in
/// Chinese with the system's error number kept; any other error keeps its own words.
pub fn os_error(error: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let Some(code) = error.raw_os_error() else {
        return error.to_string();
    };
    if current() == Language::English {
        return error.to_string();
    }
    let said = match error.kind() {
        K::NotFound => tr!("os.not_found"),
        K::PermissionDenied => tr!("os.permission_denied"),
        K::AlreadyExists => tr!("os.already_exists"),
        K::StorageFull => tr!("os.storage_full"),
        K::QuotaExceeded => tr!("os.quota_exceeded"),
        K::ReadOnlyFilesystem => tr!("os.read_only"),
        K::IsADirectory => tr!("os.is_a_directory"),
        K::NotADirectory => tr!("os.not_a_directory"),
        K::DirectoryNotEmpty => tr!("os.directory_not_empty"),
        K::FileTooLarge => tr!("os.file_too_large"),
        K::ConnectionRefused => tr!("os.connection_refused"),
        K::ConnectionReset => tr!("os.connection_reset"),
        K::TimedOut => tr!("os.timed_out"),
        K::BrokenPipe => tr!("os.broken_pipe"),
        K::InvalidFilename => tr!("os.invalid_filename"),
        _ => return error.to_string(),
    };
    tr!("os.error", said = said, code = code).into_owned()
}

/// Restores the thread's language when dropped (see [`scoped`]).
#[derive(Debug)]
pub struct Scoped {
    before: Option<Language>,
}

impl Drop for Scoped {
    fn drop(&mut self) {
        SCOPED.with(|s| s.set(self.before));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_config_wins_over_the_environment() {
        let zh = env(&[("LANG", "zh_CN.UTF-8")]);
        assert_eq!(choose(Some(Language::English), &zh), Language::English);
        assert_eq!(choose(None, &zh), Language::Chinese);
        assert_eq!(Language::from_config("auto"), Ok(None));
        assert_eq!(Language::from_config("zh_CN"), Ok(Some(Language::Chinese)));
        assert_eq!(Language::from_config("EN"), Ok(Some(Language::English)));
        assert!(Language::from_config("fr").unwrap_err().contains("zh-CN"));
    }

    #[test]
    fn the_locale_is_read_in_posix_order_and_language_as_a_list() {
        // LC_ALL over LC_MESSAGES over LANG.
        let e = env(&[
            ("LC_ALL", "en_US.UTF-8"),
            ("LC_MESSAGES", "zh_CN.UTF-8"),
            ("LANG", "zh_CN.UTF-8"),
        ]);
        assert_eq!(choose(None, e), Language::English);
        let e = env(&[
            ("LC_ALL", ""),
            ("LC_MESSAGES", "zh_CN.UTF-8"),
            ("LANG", "en_US.UTF-8"),
        ]);
        assert_eq!(choose(None, e), Language::Chinese);
        let e = env(&[("LANG", "zh_TW.Big5")]);
        assert_eq!(choose(None, e), Language::Chinese);
        // LANGUAGE: the first supported entry of the list, over the locale.
        let e = env(&[("LANGUAGE", "fr:zh_CN:en"), ("LANG", "en_US.UTF-8")]);
        assert_eq!(choose(None, e), Language::Chinese);
        // ...but not when the locale is C (gettext ignores it then).
        let e = env(&[("LANGUAGE", "zh_CN"), ("LC_ALL", "C")]);
        assert_eq!(choose(None, e), Language::English);
        // Nothing known: English.
        assert_eq!(
            choose(None, env(&[("LANG", "de_DE.UTF-8")])),
            Language::English
        );
        assert_eq!(choose(None, env(&[])), Language::English);
    }

    #[test]
    fn a_scoped_language_is_this_threads_only() {
        {
            let _zh = scoped(Language::Chinese);
            assert_eq!(current(), Language::Chinese);
            std::thread::spawn(|| assert_eq!(current(), Language::English))
                .join()
                .unwrap();
        }
        assert_eq!(current(), Language::English);
    }

    fn catalog(locale: &str) -> BTreeSet<String> {
        crate::_rust_i18n_backend()
            .messages_for_locale(locale)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k.into_owned())
            .collect()
    }

    #[test]
    fn every_key_is_in_both_catalogs() {
        let en = catalog("en");
        let zh = catalog("zh-CN");
        assert!(!en.is_empty());
        let only_en: Vec<_> = en.difference(&zh).collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        assert!(
            only_en.is_empty(),
            "keys without a Chinese text: {only_en:?}"
        );
        assert!(
            only_zh.is_empty(),
            "keys without an English text: {only_zh:?}"
        );
    }

    /// Every `tr!("key"…)` in the source names a key the catalogs have (a typo would show the
    /// key itself to the user).
    #[test]
    fn every_key_the_code_asks_for_exists() {
        let en = catalog("en");
        let mut missing = Vec::new();
        let mut count = 0;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices("tr!(") {
                    let before = text[..i].chars().next_back().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' || before == '"' {
                        continue; // include_str!, and this test's own text
                    }
                    let line = &text[text[..i].rfind('\n').map_or(0, |n| n + 1)..i];
                    if line.contains("//") {
                        continue; // documentation of the macro
                    }
                    // The key: the literal after `tr!(`, on the same line or the next.
                    let rest = text[i + 4..].trim_start();
                    let Some(rest) = rest.strip_prefix('"') else {
                        continue; // the macro's own definition
                    };
                    let key = &rest[..rest.find('"').unwrap()];
                    count += 1;
                    if !en.contains(key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(count > 0);
        assert!(missing.is_empty(), "keys no catalog has: {missing:#?}");
    }

    #[test]
    fn the_systems_errors_are_said_in_chinese_with_their_number() {
        let missing = std::fs::read("/no/such/file/here").unwrap_err();
        let english = os_error(&missing);
        assert_eq!(english, missing.to_string());
        let _zh = scoped(Language::Chinese);
        assert_eq!(os_error(&missing), "找不到该文件或文件夹（系统错误 2）");
        // An error clerk made itself keeps its words.
        let own = std::io::Error::other("the archive is damaged");
        assert_eq!(os_error(&own), "the archive is damaged");
    }

    #[test]
    fn tr_follows_the_threads_language_and_fills_in_values() {
        let en = tr!("language.name");
        let _zh = scoped(Language::Chinese);
        let zh = tr!("language.name");
        assert_eq!(en, "English");
        assert_eq!(zh, "简体中文");
        let said = "policy.toml";
        let filled = tr!("app.notice.secrets_redacted", n = 2, said = said);
        assert_eq!(
            filled,
            "已按 policy.toml 的要求把 2 处可能的机密信息替换为 [REDACTED:kind]"
        );
        drop(_zh);
        let filled = tr!("app.notice.secrets_redacted", n = 2, said = said);
        assert!(
            filled.starts_with("2 likely secret(s) replaced"),
            "{filled}"
        );
        // A key no catalog has shows itself (the test above keeps that from happening).
        assert_eq!(lookup("no.such.key"), "no.such.key");
    }
}
