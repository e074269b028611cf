//! Configuration: the TOML file, its profiles (named endpoints), and the model table.
//!
//! Every key is optional and merged over built-in defaults (`#[serde(default)]`). Unknown
//! keys are errors, so a typo is reported instead of silently ignored. Errors name the
//! file, the line and the key. This module reads files; it never writes secrets anywhere
//! (there is no key field in the config at all: keys live in the OS keyring).

mod error;
pub mod knowledge;
pub mod models;
pub mod network;
pub mod paths;
pub mod policy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::{ConfigError, reader_message};
pub use knowledge::KnowledgeEntry;
pub use models::{ModelInfo, ModelTable};
pub use paths::Paths;
pub use policy::Policy;

/// The OpenAI endpoint used when nothing else is configured.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// The name of the built-in profile.
pub const DEFAULT_PROFILE: &str = "default";

/// API flavour of an endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiStyle {
    /// OpenAI and every OpenAI-compatible server: `{base_url}/chat/completions`, Bearer key.
    #[default]
    Openai,
    /// Azure OpenAI: `{base_url}/openai/deployments/{deployment}/chat/completions?api-version=…`,
    /// `api-key` header.
    Azure,
}

/// A named endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Base URL up to and including the API version path (`https://api.openai.com/v1`).
    pub base_url: String,
    /// Model used when none is given.
    pub model: String,
    /// `openai` (default) or `azure`.
    pub style: ApiStyle,
    /// Azure deployment name (style = "azure").
    pub deployment: Option<String>,
    /// Azure api-version (style = "azure").
    pub api_version: Option<String>,
    /// Extra HTTP headers sent with every request (e.g. a gateway's routing header).
    pub headers: BTreeMap<String, String>,
    /// Seconds to wait for the server to start answering (connect + response headers).
    pub request_timeout_secs: u64,
    /// Seconds without a single byte from a streaming answer before it is called interrupted.
    pub idle_timeout_secs: u64,
    /// A command that prints the API key (e.g. `pass show openai`), run with a timeout.
    pub api_key_cmd: Option<String>,
    /// Cap on the answer's length in tokens (sent as `max_completion_tokens`).
    pub max_output_tokens: Option<u64>,
    /// The proxy for this profile (`http://proxy.example.com:3128`, `user:password@` if it
    /// asks); `"none"` connects directly even when `HTTPS_PROXY` is set. Unset: the
    /// environment's `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` and `NO_PROXY`.
    pub proxy: Option<String>,
    /// A PEM file of certificate authorities trusted besides the system's (a company's
    /// private CA, or a TLS-inspecting proxy's). Relative to the config file's folder; `~/`
    /// is the home folder.
    pub ca_file: Option<PathBuf>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            base_url: OPENAI_BASE_URL.to_string(),
            model: DEFAULT_MODEL.to_string(),
            style: ApiStyle::Openai,
            deployment: None,
            api_version: None,
            headers: BTreeMap::new(),
            request_timeout_secs: 60,
            idle_timeout_secs: 60,
            api_key_cmd: None,
            max_output_tokens: None,
            proxy: None,
            ca_file: None,
        }
    }
}

/// History settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Save conversations at all (false: nothing is written to the database).
    pub enabled: bool,
    /// After the first answer of a new session, ask the model for a better title (one small
    /// extra request, billed like any other). Off: the title is the first question's start.
    pub smart_titles: bool,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            enabled: true,
            smart_titles: false,
        }
    }
}

/// Documents: attachments, long documents and the secret scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentsConfig {
    /// Largest file clerk reads, in MB.
    pub max_file_mb: u64,
    /// Ask before sending anything estimated to cost more than this (USD).
    pub confirm_above_usd: f64,
    /// Largest part of a long document, in tokens.
    pub chunk_tokens: usize,
    /// Overlap between neighbouring parts, in tokens.
    pub overlap_tokens: usize,
    /// Requests at a time when reading a long document in parts.
    pub concurrency: usize,
    /// Look for secrets (keys, tokens, passwords) in everything before it is sent.
    pub scan_secrets: bool,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        DocumentsConfig {
            max_file_mb: 50,
            confirm_above_usd: 0.05,
            chunk_tokens: 8_000,
            overlap_tokens: 200,
            concurrency: 4,
            scan_secrets: true,
        }
    }
}

/// Spending limits in US dollars (none by default). A request that would take the spend
/// past one is refused before it is sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Per local calendar day.
    pub daily_usd: Option<f64>,
    /// Per local calendar month.
    pub monthly_usd: Option<f64>,
    /// Per request (its estimate: the prompt and a whole answer).
    pub per_request_usd: Option<f64>,
    /// The policy files that set `per_request_usd` and `monthly_usd` (stricter than the
    /// user's, or the user set none): not read from the config, filled in by
    /// [`Config::apply_policy`], for messages that name the rule.
    #[serde(skip)]
    pub set_by_policy: BudgetPolicy,
}

/// Which of the budgets the admin's policy set, and in which file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetPolicy {
    /// `max_cost_per_request_usd`'s file.
    pub per_request: Option<PathBuf>,
    /// `monthly_budget_usd`'s file.
    pub monthly: Option<PathBuf>,
}

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used when `--profile` is not given.
    pub default_profile: Option<String>,
    /// Named endpoints. `default` always exists (OpenAI) and can be overridden.
    pub profiles: BTreeMap<String, Profile>,
    /// Model facts and prices, overriding the built-in table.
    pub models: BTreeMap<String, ModelInfo>,
    /// History settings.
    pub history: HistoryConfig,
    /// Folder for the history database (default: the platform data folder).
    pub data_dir: Option<PathBuf>,
    /// Log level for the log file: error, warn, info, debug, trace.
    pub log_level: Option<String>,
    /// Theme of the full-screen app (the choice made in the app's picker wins).
    pub theme: Option<String>,
    /// Language of the interface: `"auto"` (the locale's, the default), `"en"` or `"zh-CN"`;
    /// see [`ConfigFile::language`].
    pub language: Option<String>,
    /// Key bindings per mode (`global`, `input`, `sessions`, `transcript`): key = command.
    pub keys: BTreeMap<String, BTreeMap<String, String>>,
    /// Team template folders (read-only), after the user's own `templates/` folder.
    pub template_dirs: Vec<PathBuf>,
    /// Attachments, long documents and the secret scan.
    pub documents: DocumentsConfig,
    /// Spending limits.
    pub budget: BudgetConfig,
    /// Knowledge bases (`[[knowledge]]` entries), in the order written.
    pub knowledge: Vec<KnowledgeEntry>,
}

impl ConfigFile {
    /// The language the file asks for; `None` for `"auto"`, for none, and for a bad value
    /// (which [`Config::parse`] refuses).
    pub fn language(&self) -> Option<crate::i18n::Language> {
        let value = self.language.as_deref()?;
        crate::i18n::Language::from_config(value).ok().flatten()
    }
}

/// The loaded configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where it came from (it may not exist).
    pub path: PathBuf,
    /// Whether the file existed.
    pub file_exists: bool,
    /// The parsed file, defaults filled in.
    pub file: ConfigFile,
    /// Models: built-ins overlaid with the file's.
    pub models: ModelTable,
    /// The admin's policy in force (empty without one), applied by
    /// [`Config::apply_policy`].
    pub policy: Policy,
}

impl Config {
    /// Load from `paths.config_file`. A missing file means defaults, unless it was named
    /// explicitly.
    pub fn load(paths: &Paths) -> Result<Config, ConfigError> {
        let path = &paths.config_file;
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if paths.config_explicit {
                    Err(ConfigError::Missing(path.clone()))
                } else {
                    Ok(Config::from_file(path, false, ConfigFile::default()))
                }
            }
            Err(source) => Err(ConfigError::Read {
                path: path.clone(),
                source,
            }),
        }
    }

    /// Parse TOML text that came from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| invalid(path, text, &e))?;
        check_ranges(path, text, &file)?;
        Ok(Config::from_file(path, true, file))
    }

    fn from_file(path: &Path, file_exists: bool, mut file: ConfigFile) -> Config {
        let folder = path.parent().unwrap_or(Path::new("."));
        for p in file.profiles.values_mut() {
            if let Some(ca) = &p.ca_file {
                p.ca_file = Some(paths::absolute(ca, folder));
            }
        }
        file.profiles
            .entry(DEFAULT_PROFILE.to_string())
            .or_default();
        let models = ModelTable::new(&file.models);
        Config {
            path: path.to_path_buf(),
            file_exists,
            file,
            models,
            policy: Policy::default(),
        }
    }

    /// Put the admin's `policy` in force over the user's settings, so nothing the config,
    /// a flag or the environment says can loosen it: `history = "off"` turns the history
    /// off; `scrub_secrets` turns the secret scan on; `max_cost_per_request_usd` and
    /// `monthly_budget_usd` become the budgets wherever they are stricter than the user's
    /// (or the user has none), remembering their file, and then no built-in model is priced
    /// below the built-in table. The rest (endpoints, models, retention) is enforced where
    /// it applies, from [`Config::policy`].
    pub fn apply_policy(&mut self, policy: Policy) {
        if policy.history_off().is_some() {
            self.file.history.enabled = false;
        }
        if policy.scrub_secrets.is_some() {
            self.file.documents.scan_secrets = true;
        }
        let b = &mut self.file.budget;
        if let Some(r) = &policy.max_cost_per_request_usd
            && b.per_request_usd.is_none_or(|mine| r.value < mine)
        {
            b.per_request_usd = Some(r.value);
            b.set_by_policy.per_request = Some(r.from.clone());
        }
        if let Some(r) = &policy.monthly_budget_usd
            && b.monthly_usd.is_none_or(|mine| r.value < mine)
        {
            b.monthly_usd = Some(r.value);
            b.set_by_policy.monthly = Some(r.from.clone());
        }
        if policy.max_cost_per_request_usd.is_some() || policy.monthly_budget_usd.is_some() {
            self.models.no_cheaper_than_builtin();
        }
        self.policy = policy;
    }

    /// The name of the profile to use: the explicit choice, else `default_profile`, else
    /// `default`.
    pub fn profile_name<'a>(&'a self, explicit: Option<&'a str>) -> &'a str {
        explicit
            .or(self.file.default_profile.as_deref())
            .unwrap_or(DEFAULT_PROFILE)
    }

    /// The knowledge base named `name`, if the config has one.
    pub fn knowledge(&self, name: &str) -> Option<&KnowledgeEntry> {
        self.file.knowledge.iter().find(|k| k.name == name)
    }

    /// Look up a profile and check it is usable.
    pub fn profile(&self, name: &str) -> Result<&Profile, ConfigError> {
        let profile = self
            .file
            .profiles
            .get(name)
            .ok_or_else(|| ConfigError::UnknownProfile {
                name: name.to_string(),
                known: self
                    .file
                    .profiles
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                path: self.path.clone(),
            })?;
        validate_profile(name, profile)?;
        Ok(profile)
    }
}

fn validate_profile(name: &str, p: &Profile) -> Result<(), ConfigError> {
    let bad = |message: String| ConfigError::BadProfile {
        profile: name.to_string(),
        message,
    };
    if !(p.base_url.starts_with("http://") || p.base_url.starts_with("https://")) {
        return Err(bad(
            tr!("config.profile.base_url", url = &p.base_url).into_owned()
        ));
    }
    if p.style == ApiStyle::Azure && (p.deployment.is_none() || p.api_version.is_none()) {
        return Err(bad(tr!("config.profile.azure").into_owned()));
    }
    if p.request_timeout_secs == 0 || p.idle_timeout_secs == 0 {
        return Err(bad(tr!("config.profile.timeouts").into_owned()));
    }
    if let Some(problem) = p.proxy.as_deref().and_then(network::proxy_problem) {
        return Err(bad(problem));
    }
    if let Some(ca) = &p.ca_file {
        network::pem_file(ca, "ca_file").map_err(bad)?;
    }
    for (k, v) in &p.headers {
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err()
            || reqwest::header::HeaderValue::from_str(v).is_err()
        {
            return Err(bad(tr!("config.profile.header", name = k).into_owned()));
        }
    }
    Ok(())
}

/// Values the types accept but clerk does not: named with the key, the value and what is
/// allowed, at the line where the key is written.
fn check_ranges(path: &Path, text: &str, file: &ConfigFile) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| {
        let line = line_of(text, key).unwrap_or(1);
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column: 1,
            key: Some(key.to_string()),
            message,
        })
    };
    if let Some(level) = &file.log_level
        && !["error", "warn", "info", "debug", "trace"]
            .contains(&level.to_ascii_lowercase().as_str())
    {
        return fail(
            "log_level",
            tr!("config.range.log_level", value = level).into_owned(),
        );
    }
    if let Some(language) = &file.language
        && crate::i18n::Language::from_config(language).is_err()
    {
        return fail(
            "language",
            tr!("config.range.language", value = language).into_owned(),
        );
    }
    let b = &file.budget;
    positive_usd(
        path,
        text,
        &[
            ("budget.daily_usd", b.daily_usd),
            ("budget.monthly_usd", b.monthly_usd),
            ("budget.per_request_usd", b.per_request_usd),
        ],
        true,
    )?;
    let d = &file.documents;
    if !(1..=16).contains(&d.concurrency) {
        return fail(
            "documents.concurrency",
            tr!("config.range.concurrency", value = d.concurrency).into_owned(),
        );
    }
    if d.max_file_mb == 0 {
        return fail(
            "documents.max_file_mb",
            tr!("config.range.at_least", value = 0, min = 1).into_owned(),
        );
    }
    if d.chunk_tokens < 100 {
        return fail(
            "documents.chunk_tokens",
            tr!("config.range.at_least", value = d.chunk_tokens, min = 100).into_owned(),
        );
    }
    if d.overlap_tokens >= d.chunk_tokens / 2 {
        return fail(
            "documents.overlap_tokens",
            tr!(
                "config.range.overlap",
                value = d.overlap_tokens,
                half = d.chunk_tokens / 2
            )
            .into_owned(),
        );
    }
    if d.confirm_above_usd.is_nan() || d.confirm_above_usd < 0.0 {
        return fail(
            "documents.confirm_above_usd",
            tr!(
                "config.range.at_least",
                value = d.confirm_above_usd,
                min = 0
            )
            .into_owned(),
        );
    }
    knowledge::check(path, text, &file.knowledge)
}

/// Every amount of `amounts` that is set must be a number of US dollars above 0; else an
/// error at its key's line, saying how to have no limit when `no_limit_hint`.
fn positive_usd(
    path: &Path,
    text: &str,
    amounts: &[(&str, Option<f64>)],
    no_limit_hint: bool,
) -> Result<(), ConfigError> {
    for (key, value) in amounts {
        if let Some(v) = value
            && !(v.is_finite() && *v > 0.0)
        {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, key).unwrap_or(1),
                column: 1,
                key: Some(key.to_string()),
                message: match no_limit_hint {
                    true => tr!("config.range.usd_no_limit", value = v).into_owned(),
                    false => tr!("config.range.usd", value = v).into_owned(),
                },
            });
        }
    }
    Ok(())
}

/// The 1-based line where the dotted `key` is set (`table.key = …` under `[table]`, or at
/// the top for a key without a table).
fn line_of(text: &str, key: &str) -> Option<usize> {
    let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
    let mut current = String::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with('[') {
            current = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            continue;
        }
        let Some((k, _)) = l.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if (current == table && k == name) || (current.is_empty() && k == key) {
            return Some(i + 1);
        }
    }
    None
}

/// Turn a toml error into one that names the file, line, column and key.
fn invalid(path: &Path, text: &str, err: &toml::de::Error) -> ConfigError {
    let (line, column, key) = match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
            let column = before[line_start..].chars().count() + 1;
            (line, column, key_at(text, line))
        }
        None => (1, 1, None),
    };
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        column,
        key,
        message: err.message().to_string(),
    }
}

/// The dotted key written on `line` (1-based), prefixed with its table header.
fn key_at(text: &str, line: usize) -> Option<String> {
    let mut table = String::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if i + 1 == line {
            if l.starts_with('[') {
                return Some(l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
            }
            let key = l.split('=').next()?.trim();
            if key.is_empty() {
                return None;
            }
            return Some(if table.is_empty() {
                key.to_string()
            } else {
                format!("{table}.{key}")
            });
        }
        if l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        }
    }
    None
}

/// The commented example written by `clerk config init`.
pub const EXAMPLE: &str = include_str!("example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/tmp/c.toml"), text)
    }

    #[test]
    fn values_out_of_range_name_the_key_the_value_and_the_range() {
        let cases = [
            (
                "log_level = \"verbose\"\n",
                "log_level",
                "line 1",
                "error, warn, info, debug, trace",
            ),
            (
                "[documents]\nconcurrency = 100\n",
                "documents.concurrency",
                "line 2",
                "100 is out of range; use 1 to 16",
            ),
            (
                "[documents]\nchunk_tokens = 1000\noverlap_tokens = 600\n",
                "documents.overlap_tokens",
                "line 3",
                "less than half",
            ),
            (
                "documents.max_file_mb = 0\n",
                "documents.max_file_mb",
                "line 1",
                "use 1 or more",
            ),
            (
                "[budget]\ndaily_usd = 5.0\nmonthly_usd = -1\n",
                "budget.monthly_usd",
                "line 3",
                "-1 is out of range; use an amount in US dollars above 0",
            ),
        ];
        for (text, key, line, says) in cases {
            let err = Config::parse(Path::new("clerk.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("key `{key}`")) && err.contains(line) && err.contains(says),
                "{text:?}: {err}"
            );
        }
        assert!(
            Config::parse(
                Path::new("c.toml"),
                "log_level = \"DEBUG\"\n[documents]\nconcurrency = 16\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn a_policy_forces_history_off_the_scan_on_and_its_stricter_budgets_at_builtin_prices() {
        let mut c = parse(
            "[history]\nenabled = true\n[documents]\nscan_secrets = false\n\
             [budget]\nper_request_usd = 0.01\nmonthly_usd = 500.0\n\
             [models.\"gpt-4o-mini\"]\ninput_per_million = 0.0\noutput_per_million = 0.0\n\
             [models.\"in-house\"]\ninput_per_million = 0.01\n",
        )
        .unwrap();
        let mut policy = Policy::default();
        policy.tighten(
            policy::Policy::parse(
                Path::new("/etc/clerk/policy.toml"),
                "history = \"off\"\nscrub_secrets = \"ask\"\n\
                 max_cost_per_request_usd = 0.5\nmonthly_budget_usd = 40\n",
            )
            .unwrap(),
            Path::new("/etc/clerk/policy.toml"),
        );
        c.apply_policy(policy);
        assert!(!c.file.history.enabled);
        assert!(c.file.documents.scan_secrets);
        let b = &c.file.budget;
        // The user's per-request budget is the stricter: it stays, named as the user's.
        assert_eq!(b.per_request_usd, Some(0.01));
        assert_eq!(b.set_by_policy.per_request, None);
        assert_eq!(b.monthly_usd, Some(40.0));
        assert_eq!(
            b.set_by_policy.monthly.as_deref(),
            Some(Path::new("/etc/clerk/policy.toml"))
        );
        // A built-in model cannot be made free to pass the budgets; the user's own model
        // keeps its price.
        let mini = c.models.get("gpt-4o-mini").unwrap();
        assert_eq!(
            (mini.input_per_million, mini.output_per_million),
            (Some(0.15), Some(0.60))
        );
        assert_eq!(
            c.models.get("in-house").unwrap().input_per_million,
            Some(0.01)
        );
        // Without a policy the user's prices stand.
        let free = parse("[models.\"gpt-4o-mini\"]\ninput_per_million = 0.0\n").unwrap();
        assert_eq!(
            free.models.get("gpt-4o-mini").unwrap().input_per_million,
            Some(0.0)
        );
    }

    #[test]
    fn empty_file_gives_openai_default_profile() {
        let c = parse("").unwrap();
        let p = c.profile(c.profile_name(None)).unwrap();
        assert_eq!(p.base_url, "https://api.openai.com/v1");
        assert_eq!(p.model, "gpt-4o-mini");
        assert_eq!(p.idle_timeout_secs, 60);
        assert!(c.file.history.enabled);
    }

    #[test]
    fn example_file_parses() {
        let c = parse(EXAMPLE).unwrap();
        assert!(c.file.profiles.contains_key("default"));
        for name in c.file.profiles.keys() {
            c.profile(name).unwrap();
        }
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let text = "default_profile = \"default\"\n\n[profiles.work]\nbase_url = \"https://x/v1\"\nmodel = 5\n";
        let err = parse(text).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/tmp/c.toml"), "{msg}");
        assert!(msg.contains("line 5"), "{msg}");
        assert!(msg.contains("profiles.work.model"), "{msg}");
        assert!(msg.contains("expected a string"), "{msg}");
    }

    #[test]
    fn typo_key_is_reported_not_ignored() {
        let err = parse("[profiles.default]\nmodle = \"gpt-4o\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("modle"), "{msg}");
    }

    #[test]
    fn unknown_profile_lists_known_ones() {
        let c = parse("[profiles.work]\nmodel = \"gpt-4o\"\n").unwrap();
        let err = c.profile("home").unwrap_err().to_string();
        assert!(err.contains("default, work"), "{err}");
    }

    #[test]
    fn azure_needs_deployment_and_version() {
        let c =
            parse("[profiles.az]\nstyle = \"azure\"\nbase_url = \"https://r.openai.azure.com\"\n")
                .unwrap();
        let err = c.profile("az").unwrap_err().to_string();
        assert!(err.contains("deployment"), "{err}");
    }

    #[test]
    fn user_default_profile_merges_over_builtin() {
        let c = parse("[profiles.default]\nmodel = \"gpt-4o\"\n").unwrap();
        let p = c.profile("default").unwrap();
        assert_eq!(p.model, "gpt-4o");
        assert_eq!(p.base_url, OPENAI_BASE_URL);
    }

    #[test]
    fn bad_base_url_is_rejected() {
        let c = parse("[profiles.default]\nbase_url = \"api.openai.com\"\n").unwrap();
        assert!(
            c.profile("default")
                .unwrap_err()
                .to_string()
                .contains("http")
        );
    }
}
