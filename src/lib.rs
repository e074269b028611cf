//! clerk: a terminal assistant for people at work.
//!
//! How the parts fit (see docs/architecture.md for the whole story):
//! - [`config`]: the TOML config, profiles and the model/price table;
//! - [`secrets`]: the API key (environment, command, OS keyring) and its masking;
//! - [`llm`]: requests, streaming, retries, errors, context fitting, sanitizing;
//! - [`store`]: the SQLite history with full-text search;
//! - [`knowledge`]: knowledge bases: indexing procedure folders and searching them;
//! - [`compare`]: models compared on the same prompt (`clerk compare`): timings, cost, a judge;
//! - [`doctor`]: `clerk doctor`, the checks of a set-up, one by one, each with its fix;
//! - [`cli`]: the command line, which wires the others together.

pub mod app;
pub mod chat;
pub mod cli;
pub mod compare;
pub mod config;
pub mod doctor;
pub mod documents;
pub mod format;
pub mod knowledge;
pub mod llm;
pub mod secrets;
pub mod store;
pub mod templates;
pub mod tui;
pub mod ui;
