//! Where clerk keeps its files: config, data (the history database) and state (logs).
//!
//! Follows the platform's conventions through `directories` (XDG on Linux, so
//! `XDG_CONFIG_HOME`, `XDG_DATA_HOME` and `XDG_STATE_HOME` are honoured), with clerk's own
//! overrides on top. This module only computes paths; it never creates or reads files.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// The folders clerk uses, resolved once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The config file (it may not exist: every key has a default).
    pub config_file: PathBuf,
    /// True when the config file was named explicitly (`--config` or `CLERK_CONFIG`):
    /// then a missing file is an error rather than "use the defaults".
    pub config_explicit: bool,
    /// Folder of the history database.
    pub data_dir: PathBuf,
    /// Folder of the log file.
    pub state_dir: PathBuf,
}

impl Paths {
    /// The history database file.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("history.sqlite3")
    }

    /// The usage ledger: one row per request, no text (kept even when history is off).
    pub fn usage_ledger(&self) -> PathBuf {
        self.data_dir.join("usage.sqlite3")
    }

    /// The knowledge-base index (derived data: it can be deleted and rebuilt).
    pub fn knowledge_index(&self) -> PathBuf {
        self.data_dir.join("knowledge.sqlite3")
    }

    /// The log file.
    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("clerk.log")
    }

    /// Resolve the paths. `config_override` is `--config` (or `CLERK_CONFIG`, which clap
    /// already folded in); `data_override` is `CLERK_DATA_DIR`.
    pub fn resolve(
        config_override: Option<PathBuf>,
        data_override: Option<PathBuf>,
    ) -> Result<Paths, ConfigError> {
        let dirs = directories::ProjectDirs::from("", "", "clerk").ok_or(ConfigError::NoHome)?;
        let (config_file, config_explicit) = match config_override {
            Some(path) => (path, true),
            None => (dirs.config_dir().join("config.toml"), false),
        };
        let data_dir = data_override.unwrap_or_else(|| dirs.data_dir().to_path_buf());
        let state_dir = dirs
            .state_dir()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| data_dir.join("logs"));
        Ok(Paths {
            config_file,
            config_explicit,
            data_dir,
            state_dir,
        })
    }
}
/// `p` made absolute: `~/` is the home folder; relative paths are relative to `base`.
pub fn absolute(p: &Path, base: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~")
        && let Some(home) = directories::BaseDirs::new()
    {
        return home.home_dir().join(rest);
    }
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
