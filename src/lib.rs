//! clerk: a terminal assistant for people at work.
//!
//! How the parts fit (see docs/architecture.md for the whole story):
//! - [`i18n`]: the interface's language and its message catalogs (`locales/`);
//! - [`config`]: the TOML config, profiles and the model/price table;
//! - [`secrets`]: the API key (environment, command, OS keyring) and its masking;
//! - [`llm`]: requests, streaming, retries, errors, context fitting, sanitizing;
//! - [`store`]: the SQLite history with full-text search;
//! - [`knowledge`]: knowledge bases: indexing procedure folders and searching them;
//! - [`compare`]: models compared on the same prompt (`clerk compare`): timings, cost, a judge;
//! - [`doctor`]: `clerk doctor`, the checks of a set-up, one by one, each with its fix;
//! - [`cli`]: the command line, which wires the others together.

// The message catalogs (locales/*.yml), compiled in; see [`i18n`].
rust_i18n::i18n!("locales", fallback = "en");

/// A string of the interface in the language in force on this thread ([`i18n::current`]):
/// `tr!("key")`, `tr!("key", name = value)` (the catalog's `%{name}`), a `Cow<str>`. Keys are
/// literals, so a test can check that every one exists ([`i18n::text`] takes a computed key).
macro_rules! tr {
    ($key:literal) => {
        crate::i18n::lookup($key)
    };
    ($key:literal, $($name:ident = $value:expr),+ $(,)?) => {
        crate::i18n::fill(
            $key,
            &[$((stringify!($name), &$value as &dyn ::std::fmt::Display)),+],
        )
    };
}

pub mod app;
pub mod chat;
pub mod cli;
pub mod compare;
pub mod config;
pub mod doctor;
pub mod documents;
pub mod format;
pub mod i18n;
pub mod knowledge;
pub mod llm;
pub mod secrets;
pub mod store;
pub mod templates;
pub mod tui;
pub mod ui;
