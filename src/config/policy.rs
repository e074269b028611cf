//! The admin's policy: a machine-wide TOML file that users cannot loosen (docs/admin.md).
//!
//! The machine file's place is fixed when clerk is built ([`MACHINE_POLICY`]: no flag,
//! config key or environment variable can move it, or a user could point clerk at a looser
//! file). `CLERK_POLICY` names one more file, which can only add rules: where two files
//! disagree the stricter rule wins, key by key ([`Policy::tighten`]), and every rule
//! remembers the file it came from, for messages, `clerk config show` and `clerk doctor`
//! ([`Policy::rules`]).
//!
//! A broken file is never skipped: an unknown key, a wrong type, a value out of range or a
//! file that exists but cannot be read is an error naming the file, the line and the key,
//! and clerk does not run (failing open would defeat the policy). Only a machine file that
//! does not exist means "no policy".
//!
//! This module reads the files and decides; it never writes anything. Applying the rules
//! to the user's settings is [`super::Config::apply_policy`]; enforcing them is the
//! engine's (`llm`: base URL and model of every request), the meter's (budgets), the
//! secret scan's callers and the history's openers (`chat::retention`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The machine-wide policy file. A constant of the build: nothing at run time moves it.
/// (On Windows this is `%ProgramData%`'s usual place, written out: the variable itself can
/// be changed by any user.)
#[cfg(target_os = "macos")]
pub const MACHINE_POLICY: &str = "/Library/Application Support/clerk/policy.toml";
/// The machine-wide policy file. A constant of the build: nothing at run time moves it.
/// (On Windows this is `%ProgramData%`'s usual place, written out: the variable itself can
/// be changed by any user.)
#[cfg(windows)]
pub const MACHINE_POLICY: &str = r"C:\ProgramData\clerk\policy.toml";
/// The machine-wide policy file. A constant of the build: nothing at run time moves it.
#[cfg(not(any(target_os = "macos", windows)))]
pub const MACHINE_POLICY: &str = "/etc/clerk/policy.toml";

/// The environment variable naming one more policy file (it adds rules; it never replaces
/// the machine file).
pub const POLICY_ENV: &str = "CLERK_POLICY";

/// `history = "on" | "off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum History {
    /// Users choose (the default without a policy).
    On,
    /// Nothing is written to the history: sessions live in memory only.
    Off,
}

/// `scrub_secrets = "ask" | "redact" | "block"`: what happens to likely secrets found in
/// what is about to be sent. Ordered from the loosest to the strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scrub {
    /// The user is asked (redact, send anyway, or cancel), as without a policy; the scan
    /// cannot be turned off.
    Ask,
    /// They are replaced with `[REDACTED:kind]` before sending, without asking.
    Redact,
    /// Nothing is sent while any is found.
    Block,
}

impl Scrub {
    /// As written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Scrub::Ask => "ask",
            Scrub::Redact => "redact",
            Scrub::Block => "block",
        }
    }
}

/// One policy file as written. Every key is optional; an unknown key is an error.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Endpoints requests may go to: a base URL as written, or a prefix of one that ends
    /// at a `/` of its path.
    pub allowed_base_urls: Option<Vec<String>>,
    /// Models requests may name: names or globs (`gpt-4o-mini`, `gpt-4.1-*`).
    pub allowed_models: Option<Vec<String>>,
    /// `off`: nothing is written to the history.
    pub history: Option<History>,
    /// Sessions whose last activity is older than this many days are deleted at start.
    pub retention_days: Option<u32>,
    /// Likely secrets in what is sent: ask, redact or block.
    pub scrub_secrets: Option<Scrub>,
    /// The most one request may be estimated to cost (USD).
    pub max_cost_per_request_usd: Option<f64>,
    /// The most a local calendar month may cost (USD).
    pub monthly_budget_usd: Option<f64>,
    /// `false`: requests use their profile's base URL and model, never a run-time
    /// override of them.
    pub allow_profiles_override: Option<bool>,
}

/// A rule in force and the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule<T> {
    /// Its value.
    pub value: T,
    /// The policy file that set it.
    pub from: PathBuf,
}

/// The policy in force: the machine file's rules tightened by `CLERK_POLICY`'s. Empty
/// (the default) when there is no policy. Each rule keeps its file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// The files read, machine file first.
    pub files: Vec<PathBuf>,
    /// Each file's list of allowed base URLs: a URL must be allowed by every one (so two
    /// lists meet in their intersection).
    pub allowed_base_urls: Vec<Rule<Vec<String>>>,
    /// Each file's list of allowed models: a model must be allowed by every one.
    pub allowed_models: Vec<Rule<Vec<String>>>,
    /// `off` beats `on`.
    pub history: Option<Rule<History>>,
    /// The smaller wins.
    pub retention_days: Option<Rule<u32>>,
    /// block beats redact beats ask.
    pub scrub_secrets: Option<Rule<Scrub>>,
    /// The smaller wins (and beats the user's `[budget] per_request_usd` when smaller).
    pub max_cost_per_request_usd: Option<Rule<f64>>,
    /// The smaller wins (and beats the user's `[budget] monthly_usd` when smaller).
    pub monthly_budget_usd: Option<Rule<f64>>,
    /// `false` beats `true`.
    pub allow_profiles_override: Option<Rule<bool>>,
}

/// One rule of the policy in force, as `clerk config show` and `clerk doctor` list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLine {
    /// The key, as written in a policy file.
    pub key: &'static str,
    /// Its value, as TOML would write it.
    pub value: String,
    /// The file it came from.
    pub from: PathBuf,
}

/// A request the policy does not allow: what, which rule of which file, and what is.
///
/// Shown in the interface's language (`locales/cli-config.yml`) when displayed, not when
/// made; the English reads "WHAT is not allowed by FILE (RULE); HINT".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Denied {
    /// What was refused, with what is allowed instead.
    pub what: Refused,
    /// The policy file.
    pub from: PathBuf,
    /// The rule (`allowed_models`).
    pub rule: &'static str,
}

/// What a policy refused, and what it allows instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A model no name or glob of a list matches.
    Model {
        /// The model asked for.
        model: String,
        /// The list that refused it.
        allowed: Vec<String>,
    },
    /// A base URL no entry of a list allows.
    BaseUrl {
        /// The URL (without a trailing `/`).
        url: String,
        /// The list that refused it.
        allowed: Vec<String>,
    },
    /// A base URL other than the profile's (`--base-url`, `OPENAI_BASE_URL`) under
    /// `allow_profiles_override = false`.
    OverriddenUrl {
        /// The URL that would have been used.
        used: String,
        /// The profile's own.
        profile: String,
    },
    /// A model other than the profile's under `allow_profiles_override = false`.
    OverriddenModel {
        /// The model asked for.
        model: String,
        /// The profile's own.
        profile: String,
    },
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, hint) = match &self.what {
            Refused::Model { model, allowed } => (
                tr!("config.policy.what.model", model = model),
                tr!("config.policy.hint.allowed", list = allowed.join(", ")),
            ),
            Refused::BaseUrl { url, allowed } => (
                tr!("config.policy.what.base_url", url = url),
                tr!("config.policy.hint.allowed", list = allowed.join(", ")),
            ),
            Refused::OverriddenUrl { used, profile } => (
                tr!("config.policy.what.overridden_url", url = used),
                tr!("config.policy.hint.profile_url", url = profile),
            ),
            Refused::OverriddenModel { model, profile } => (
                tr!("config.policy.what.overridden_model", model = model),
                tr!("config.policy.hint.profile_model", model = profile),
            ),
        };
        let text = tr!(
            "config.policy.denied",
            what = what,
            path = self.from.display(),
            rule = self.rule,
            hint = hint
        );
        f.write_str(&text)
    }
}

impl Policy {
    /// The policy in force on this machine: [`MACHINE_POLICY`], then the file `env` names
    /// in [`POLICY_ENV`] (pass `std::env::var_os`).
    pub fn load(env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Result<Policy, ConfigError> {
        let extra = env(POLICY_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        Policy::read(Path::new(MACHINE_POLICY), extra.as_deref())
    }

    /// The policy of the machine file `machine` (none when it does not exist) tightened by
    /// `extra` (which must exist: it was named on purpose).
    pub fn read(machine: &Path, extra: Option<&Path>) -> Result<Policy, ConfigError> {
        let mut policy = Policy::default();
        match std::fs::read_to_string(machine) {
            Ok(text) => policy.tighten(Policy::parse(machine, &text)?, machine),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(ConfigError::PolicyUnreadable {
                    path: machine.to_path_buf(),
                    source,
                });
            }
        }
        if let Some(path) = extra {
            let text = std::fs::read_to_string(path).map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    ConfigError::PolicyMissing(path.to_path_buf())
                } else {
                    ConfigError::PolicyUnreadable {
                        path: path.to_path_buf(),
                        source,
                    }
                }
            })?;
            policy.tighten(Policy::parse(path, &text)?, path);
        }
        Ok(policy)
    }

    /// Read one policy file's text; errors name `path`, the line and the key.
    pub fn parse(path: &Path, text: &str) -> Result<PolicyFile, ConfigError> {
        let broken = |e: ConfigError| ConfigError::BrokenPolicy(Box::new(e));
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| broken(super::invalid(path, text, &e)))?;
        check(path, text, &file).map_err(broken)?;
        Ok(file)
    }

    /// Add `file`'s rules (read from `from`): on every key the stricter rule wins; on a
    /// tie the rule already in force (the machine file's) is kept.
    pub fn tighten(&mut self, file: PolicyFile, from: &Path) {
        fn rule<T>(value: T, from: &Path) -> Rule<T> {
            Rule {
                value,
                from: from.to_path_buf(),
            }
        }
        if !self.files.iter().any(|f| f == from) {
            self.files.push(from.to_path_buf());
        }
        if let Some(list) = file.allowed_base_urls {
            self.allowed_base_urls.push(rule(list, from));
        }
        if let Some(list) = file.allowed_models {
            self.allowed_models.push(rule(list, from));
        }
        stricter(
            &mut self.history,
            file.history.map(|v| rule(v, from)),
            |new, old| new > old,
        );
        stricter(
            &mut self.retention_days,
            file.retention_days.map(|v| rule(v, from)),
            |new, old| new < old,
        );
        stricter(
            &mut self.scrub_secrets,
            file.scrub_secrets.map(|v| rule(v, from)),
            |new, old| new > old,
        );
        stricter(
            &mut self.max_cost_per_request_usd,
            file.max_cost_per_request_usd.map(|v| rule(v, from)),
            |new, old| new < old,
        );
        stricter(
            &mut self.monthly_budget_usd,
            file.monthly_budget_usd.map(|v| rule(v, from)),
            |new, old| new < old,
        );
        stricter(
            &mut self.allow_profiles_override,
            file.allow_profiles_override.map(|v| rule(v, from)),
            |new, old| !new & old,
        );
    }

    /// Whether any policy file was read.
    pub fn in_force(&self) -> bool {
        !self.files.is_empty()
    }

    /// The file that turns the history off, if one does.
    pub fn history_off(&self) -> Option<&Path> {
        self.history
            .as_ref()
            .filter(|r| r.value == History::Off)
            .map(|r| r.from.as_path())
    }

    /// The rule that forbids run-time overrides of a profile's base URL and model, if one
    /// does.
    pub fn no_overrides(&self) -> Option<&Path> {
        self.allow_profiles_override
            .as_ref()
            .filter(|r| !r.value)
            .map(|r| r.from.as_path())
    }

    /// Whether requests may name `model` (every `allowed_models` list has a name or glob
    /// that matches it, any case).
    pub fn check_model(&self, model: &str) -> Result<(), Denied> {
        for rule in &self.allowed_models {
            if !rule.value.iter().any(|g| glob_matches(g, model)) {
                return Err(Denied {
                    what: Refused::Model {
                        model: model.to_string(),
                        allowed: rule.value.clone(),
                    },
                    from: rule.from.clone(),
                    rule: "allowed_models",
                });
            }
        }
        Ok(())
    }

    /// Whether the model is one a list allows (the model picker shows only those).
    pub fn allows_model(&self, model: &str) -> bool {
        self.check_model(model).is_ok()
    }

    /// Whether requests may go to `base_url` (every `allowed_base_urls` list allows it).
    pub fn check_base_url(&self, base_url: &str) -> Result<(), Denied> {
        for rule in &self.allowed_base_urls {
            if !rule.value.iter().any(|a| url_allowed(a, base_url)) {
                return Err(Denied {
                    what: Refused::BaseUrl {
                        url: base_url.trim_end_matches('/').to_string(),
                        allowed: rule.value.clone(),
                    },
                    from: rule.from.clone(),
                    rule: "allowed_base_urls",
                });
            }
        }
        Ok(())
    }

    /// Whether an endpoint may be used: its base URL allowed, and — under
    /// `allow_profiles_override = false` — not a run-time override (`--base-url`,
    /// `OPENAI_BASE_URL`) of the profile's.
    pub fn check_endpoint(&self, profile_url: &str, used: &str) -> Result<(), Denied> {
        if let Some(from) = self.no_overrides()
            && used.trim_end_matches('/') != profile_url.trim_end_matches('/')
        {
            return Err(Denied {
                what: Refused::OverriddenUrl {
                    used: used.trim_end_matches('/').to_string(),
                    profile: profile_url.trim_end_matches('/').to_string(),
                },
                from: from.to_path_buf(),
                rule: "allow_profiles_override = false",
            });
        }
        self.check_base_url(used)
    }

    /// Whether a chat request may ask `model` through a profile whose model is
    /// `profile_model`: allowed by the lists and — under `allow_profiles_override = false`
    /// — the profile's own.
    pub fn check_request_model(&self, profile_model: &str, model: &str) -> Result<(), Denied> {
        if let Some(from) = self.no_overrides()
            && model != profile_model
        {
            return Err(Denied {
                what: Refused::OverriddenModel {
                    model: model.to_string(),
                    profile: profile_model.to_string(),
                },
                from: from.to_path_buf(),
                rule: "allow_profiles_override = false",
            });
        }
        self.check_model(model)
    }

    /// Every rule in force with the file it came from, in the order of the keys in
    /// docs/admin.md: what `clerk config show` prints under `[policy]` and what a
    /// `clerk doctor` check can list. Empty when there is no policy.
    pub fn rules(&self) -> Vec<RuleLine> {
        let mut out = Vec::new();
        let list = |v: &[String]| {
            let quoted: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
            format!("[{}]", quoted.join(", "))
        };
        for r in &self.allowed_base_urls {
            out.push(line("allowed_base_urls", list(&r.value), &r.from));
        }
        for r in &self.allowed_models {
            out.push(line("allowed_models", list(&r.value), &r.from));
        }
        if let Some(r) = &self.history {
            let v = if r.value == History::Off { "off" } else { "on" };
            out.push(line("history", format!("{v:?}"), &r.from));
        }
        if let Some(r) = &self.retention_days {
            out.push(line("retention_days", r.value.to_string(), &r.from));
        }
        if let Some(r) = &self.scrub_secrets {
            out.push(line(
                "scrub_secrets",
                format!("{:?}", r.value.as_str()),
                &r.from,
            ));
        }
        if let Some(r) = &self.max_cost_per_request_usd {
            out.push(line(
                "max_cost_per_request_usd",
                r.value.to_string(),
                &r.from,
            ));
        }
        if let Some(r) = &self.monthly_budget_usd {
            out.push(line("monthly_budget_usd", r.value.to_string(), &r.from));
        }
        if let Some(r) = &self.allow_profiles_override {
            out.push(line(
                "allow_profiles_override",
                r.value.to_string(),
                &r.from,
            ));
        }
        out
    }
}

fn line(key: &'static str, value: String, from: &Path) -> RuleLine {
    RuleLine {
        key,
        value,
        from: from.to_path_buf(),
    }
}

/// Keep `new` in `slot` when there is nothing there or `wins(new, old)`.
fn stricter<T: Copy>(slot: &mut Option<Rule<T>>, new: Option<Rule<T>>, wins: fn(T, T) -> bool) {
    let Some(new) = new else { return };
    match slot {
        Some(old) if !wins(new.value, old.value) => {}
        _ => *slot = Some(new),
    }
}

/// A model name against a name or glob of `allowed_models`, any case.
fn glob_matches(glob: &str, model: &str) -> bool {
    globset::GlobBuilder::new(glob)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .is_ok_and(|g| g.compile_matcher().is_match(model))
}

/// A base URL against an entry of `allowed_base_urls`: the same scheme, host and port, and
/// a path that is the entry's or below it (`https://gw.example.com/v1` allows
/// `https://gw.example.com/v1` and `…/v1/team`, never `…/v10` or
/// `https://gw.example.com.evil.test`).
fn url_allowed(entry: &str, url: &str) -> bool {
    let (Ok(a), Ok(u)) = (reqwest::Url::parse(entry), reqwest::Url::parse(url)) else {
        return false;
    };
    if a.scheme() != u.scheme()
        || a.host_str() != u.host_str()
        || a.port_or_known_default() != u.port_or_known_default()
    {
        return false;
    }
    let base = a.path().trim_end_matches('/');
    let path = u.path().trim_end_matches('/');
    path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Values the types accept but a policy cannot mean: named with the key, at its line.
fn check(path: &Path, text: &str, file: &PolicyFile) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| {
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line: super::line_of(text, key).unwrap_or(1),
            column: 1,
            key: Some(key.to_string()),
            message,
        })
    };
    for (key, list) in [
        ("allowed_base_urls", &file.allowed_base_urls),
        ("allowed_models", &file.allowed_models),
    ] {
        if list.as_ref().is_some_and(Vec::is_empty) {
            return fail(key, tr!("config.policy.check.empty_list").into_owned());
        }
    }
    for url in file.allowed_base_urls.iter().flatten() {
        if let Some(why) = url_problem(url) {
            return fail(
                "allowed_base_urls",
                tr!("config.policy.check.url", url = url, problem = why).into_owned(),
            );
        }
    }
    for glob in file.allowed_models.iter().flatten() {
        if glob.trim().is_empty() {
            return fail(
                "allowed_models",
                tr!("config.policy.check.empty_model").into_owned(),
            );
        }
        if let Err(e) = globset::Glob::new(glob) {
            return fail(
                "allowed_models",
                tr!("config.policy.check.glob", glob = glob, error = e.kind()).into_owned(),
            );
        }
    }
    if file.retention_days == Some(0) {
        return fail(
            "retention_days",
            tr!("config.policy.check.retention").into_owned(),
        );
    }
    super::positive_usd(
        path,
        text,
        &[
            ("max_cost_per_request_usd", file.max_cost_per_request_usd),
            ("monthly_budget_usd", file.monthly_budget_usd),
        ],
        false,
    )
}

/// What is wrong with an entry of `allowed_base_urls`, if anything.
fn url_problem(entry: &str) -> Option<String> {
    let Ok(u) = reqwest::Url::parse(entry) else {
        return Some(tr!("config.policy.url.not_a_url").into_owned());
    };
    if !matches!(u.scheme(), "http" | "https") {
        return Some(tr!("config.policy.url.scheme").into_owned());
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Some(tr!("config.policy.url.no_host").into_owned());
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return Some(tr!("config.policy.url.extra").into_owned());
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn file(text: &str) -> PolicyFile {
        Policy::parse(Path::new("/etc/clerk/policy.toml"), text).unwrap()
    }

    fn policy(files: &[(&str, &str)]) -> Policy {
        let mut p = Policy::default();
        for (path, text) in files {
            p.tighten(file(text), Path::new(path));
        }
        p
    }

    #[test]
    fn every_key_is_read() {
        let f = file(
            "allowed_base_urls = [\"https://gw.example.com/v1\"]\n\
             allowed_models = [\"gpt-4o-mini\", \"gpt-4.1-*\"]\n\
             history = \"off\"\n\
             retention_days = 30\n\
             scrub_secrets = \"redact\"\n\
             max_cost_per_request_usd = 0.5\n\
             monthly_budget_usd = 20\n\
             allow_profiles_override = false\n",
        );
        assert_eq!(f.history, Some(History::Off));
        assert_eq!(f.retention_days, Some(30));
        assert_eq!(f.scrub_secrets, Some(Scrub::Redact));
        assert_eq!(f.monthly_budget_usd, Some(20.0));
        assert_eq!(f.allow_profiles_override, Some(false));
        assert_eq!(f.allowed_models.unwrap().len(), 2);
    }

    #[test]
    fn a_broken_file_names_the_file_the_line_and_the_key() {
        let cases = [
            // An unknown key (a typo must not silently allow everything).
            (
                "history = \"off\"\nallowed_modles = [\"gpt-4o-mini\"]\n",
                "line 2",
                "allowed_modles",
            ),
            // A wrong type.
            (
                "\n\nretention_days = \"thirty\"\n",
                "line 3",
                "retention_days",
            ),
            // A value the type allows but a policy cannot mean.
            ("retention_days = 0\n", "line 1", "retention_days"),
            ("scrub_secrets = \"maybe\"\n", "line 1", "scrub_secrets"),
            (
                "# budgets\nmonthly_budget_usd = -5\n",
                "line 2",
                "monthly_budget_usd",
            ),
            ("allowed_models = []\n", "line 1", "allowed_models"),
            (
                "allowed_base_urls = [\"gw.example.com\"]\n",
                "line 1",
                "allowed_base_urls",
            ),
            ("allowed_models = [\"gpt-[\"]\n", "line 1", "allowed_models"),
        ];
        for (text, at, key) in cases {
            let err = Policy::parse(Path::new("/etc/clerk/policy.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("/etc/clerk/policy.toml")
                    && err.contains(at)
                    && err.contains(key)
                    && err.contains("does not run"),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn the_stricter_rule_wins_key_by_key_and_keeps_its_file() {
        let p = policy(&[
            (
                "/etc/clerk/policy.toml",
                "history = \"on\"\nretention_days = 90\nscrub_secrets = \"redact\"\n\
                 max_cost_per_request_usd = 0.10\nmonthly_budget_usd = 50\n\
                 allow_profiles_override = true\n",
            ),
            (
                "/home/u/team.toml",
                "history = \"off\"\nretention_days = 120\nscrub_secrets = \"ask\"\n\
                 max_cost_per_request_usd = 0.05\nmonthly_budget_usd = 80\n\
                 allow_profiles_override = false\n",
            ),
        ]);
        let machine = Path::new("/etc/clerk/policy.toml");
        let team = Path::new("/home/u/team.toml");
        assert_eq!(p.history_off(), Some(team));
        let r = p.retention_days.as_ref().unwrap();
        assert_eq!((r.value, r.from.as_path()), (90, machine));
        let s = p.scrub_secrets.as_ref().unwrap();
        assert_eq!((s.value, s.from.as_path()), (Scrub::Redact, machine));
        let c = p.max_cost_per_request_usd.as_ref().unwrap();
        assert_eq!((c.value, c.from.as_path()), (0.05, team));
        let m = p.monthly_budget_usd.as_ref().unwrap();
        assert_eq!((m.value, m.from.as_path()), (50.0, machine));
        assert_eq!(p.no_overrides(), Some(team));
        // The order of the files does not change the outcome, only which file a tie names.
        let q = policy(&[
            ("/home/u/team.toml", "scrub_secrets = \"block\"\n"),
            ("/etc/clerk/policy.toml", "scrub_secrets = \"redact\"\n"),
        ]);
        assert_eq!(q.scrub_secrets.unwrap().value, Scrub::Block);
    }

    #[test]
    fn two_lists_allow_only_what_both_allow_and_the_refusal_names_the_file_that_refused() {
        let p = policy(&[
            (
                "/etc/clerk/policy.toml",
                "allowed_models = [\"gpt-4o-mini\", \"gpt-4.1-*\"]\n",
            ),
            (
                "/home/u/team.toml",
                "allowed_models = [\"gpt-4o-mini\", \"gpt-4o\"]\n",
            ),
        ]);
        assert!(p.check_model("gpt-4o-mini").is_ok());
        assert!(p.check_model("GPT-4o-MINI").is_ok(), "any case");
        let e = p.check_model("gpt-4o").unwrap_err();
        assert_eq!(e.from, Path::new("/etc/clerk/policy.toml"));
        let e = p.check_model("gpt-4.1-nano").unwrap_err();
        assert_eq!(e.from, Path::new("/home/u/team.toml"));
        assert_eq!(
            e.to_string(),
            "gpt-4.1-nano is not allowed by /home/u/team.toml (allowed_models); allowed: gpt-4o-mini, gpt-4o"
        );
        // No list: everything.
        assert!(Policy::default().check_model("anything").is_ok());
    }

    #[test]
    fn a_refusal_in_chinese_names_the_file_the_rule_and_what_is_allowed() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let p = policy(&[(
            "/etc/clerk/policy.toml",
            "allowed_models = [\"gpt-4o-mini\"]\nallow_profiles_override = false\n",
        )]);
        let e = p.check_model("gpt-4o").unwrap_err().to_string();
        assert_eq!(
            e,
            "策略文件 /etc/clerk/policy.toml 不允许使用模型 gpt-4o（allowed_models）；允许的有：gpt-4o-mini"
        );
        let e = p
            .check_endpoint("https://x/v1", "http://127.0.0.1:9/v1/")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("http://127.0.0.1:9/v1 代替")
                && e.contains("（allow_profiles_override = false）")
                && e.contains("base_url（https://x/v1）"),
            "{e}"
        );
        // A broken file: the key and the line, the advice in Chinese.
        let err = Policy::parse(Path::new("/etc/clerk/policy.toml"), "retention_days = 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/etc/clerk/policy.toml，第 1 行")
                && err.contains("`retention_days`")
                && err.contains("0 超出范围"),
            "{err}"
        );
    }

    #[test]
    fn globs_match_whole_names() {
        let p = policy(&[("/p", "allowed_models = [\"gpt-4.1-*\", \"o3\"]\n")]);
        assert!(p.allows_model("gpt-4.1-mini"));
        assert!(!p.allows_model("gpt-4.1"));
        assert!(!p.allows_model("o3-pro"));
        assert!(!p.allows_model("my-gpt-4.1-mini"));
    }

    #[test]
    fn base_urls_are_allowed_exactly_or_below_a_path_never_by_a_longer_host() {
        let p = policy(&[(
            "/p",
            "allowed_base_urls = [\"https://gw.example.com/v1\", \"http://127.0.0.1:8080\"]\n",
        )]);
        for ok in [
            "https://gw.example.com/v1",
            "https://gw.example.com/v1/",
            "https://GW.example.com:443/v1/team",
            "http://127.0.0.1:8080/v1",
        ] {
            assert!(p.check_base_url(ok).is_ok(), "{ok}");
        }
        for no in [
            "https://gw.example.com/v10",
            "https://gw.example.com",
            "https://gw.example.com.evil.test/v1",
            "http://gw.example.com/v1",
            "https://gw.example.com:8443/v1",
            "http://127.0.0.1:8081/v1",
            "not a url",
        ] {
            let e = p.check_base_url(no).unwrap_err();
            assert_eq!(e.rule, "allowed_base_urls", "{no}");
        }
    }

    #[test]
    fn without_overrides_the_profile_decides_the_endpoint_and_the_model() {
        let p = policy(&[("/p", "allow_profiles_override = false\n")]);
        assert!(p.check_endpoint("https://x/v1", "https://x/v1/").is_ok());
        let e = p
            .check_endpoint("https://x/v1", "http://127.0.0.1:9/v1")
            .unwrap_err();
        assert!(
            e.to_string().contains("allow_profiles_override = false"),
            "{e}"
        );
        assert!(p.check_request_model("gpt-4o-mini", "gpt-4o-mini").is_ok());
        let e = p
            .check_request_model("gpt-4o-mini", "gpt-4o")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("gpt-4o instead of the profile's model is not allowed by /p"),
            "{e}"
        );
        // Allowed overrides: only the lists apply.
        let q = policy(&[("/p", "allow_profiles_override = true\n")]);
        assert!(
            q.check_endpoint("https://x/v1", "http://127.0.0.1:9/v1")
                .is_ok()
        );
        assert!(q.check_request_model("gpt-4o-mini", "gpt-4o").is_ok());
    }

    #[test]
    fn the_machine_file_may_be_absent_but_a_named_one_must_exist_and_both_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let machine = dir.path().join("machine.toml");
        let extra = dir.path().join("extra.toml");
        let none = Policy::read(&machine, None).unwrap();
        assert!(!none.in_force() && none.rules().is_empty());
        let e = Policy::read(&machine, Some(&extra))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("extra.toml") && e.contains("CLERK_POLICY"),
            "{e}"
        );
        std::fs::write(&machine, "retention_days = 30\n").unwrap();
        std::fs::write(&extra, "retention_days = 7\nhistory = \"off\"\n").unwrap();
        let p = Policy::read(&machine, Some(&extra)).unwrap();
        assert_eq!(p.files, vec![machine.clone(), extra.clone()]);
        let rules = p.rules();
        assert_eq!(
            rules,
            vec![
                line("history", "\"off\"".into(), &extra),
                line("retention_days", "7".into(), &extra),
            ]
        );
        // A machine file that exists but cannot be read stops clerk (here: a folder).
        let folder = dir.path().join("folder.toml");
        std::fs::create_dir(&folder).unwrap();
        let e = Policy::read(&folder, None).unwrap_err().to_string();
        assert!(
            e.contains("folder.toml") && e.contains("does not run"),
            "{e}"
        );
    }
}
