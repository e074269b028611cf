//! `clerk doctor`: an ordered list of checks of this set-up, each one saying what it found
//! and, when something is wrong, what to do (docs/doctor.md lists every check).
//!
//! Each check is a function of its own that reads the [`Inputs`] and what the checks before
//! it learned (the [`State`]: the profile, the key, the route, the connection…) and returns
//! one [`Check`]: a stable id, a [`Status`], a detail and a fix. A check whose input a
//! failed check did not provide says so ("not checked") instead of failing again; one
//! that does not matter for this set-up (the keyring when the key comes from the
//! environment, a history not created yet) is at most a warning. The order is
//! [`ORDER`]; a new check is a [`CheckId`], a place in [`ORDER`] and a function.
//!
//! Every detail and fix is a [`Said`]: the check builds it once per language, so the lines
//! printed for a person are in the interface's language while `--json` keeps English and
//! stable (scripts and IT tickets read its `detail` and `fix`).
//!
//! The checks never print and never show the API key (nor any part of it). Rendering the
//! results ([`line`], [`json`]) and the verdict ([`failed`]) are pure. Every network step
//! has its own short timeout (see the constants), so a set-up that works is checked in a
//! few seconds and one that does not is never waited on for long.

mod api;
mod local;
mod net;
mod setup;
pub mod terminal;

use std::time::Duration;

use serde::Serialize;

use crate::config::{Config, ConfigError, Paths};

/// How long a name may take to resolve.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting may take (and, behind a proxy, opening its tunnel).
pub const TCP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the TLS handshake may take.
pub const TLS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long `GET /models` may take.
pub const MODELS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the one-token call may take, to its end.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(4);
/// How long the keyring may take to answer.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the history's quick check may run.
pub const HISTORY_BUDGET: Duration = Duration::from_secs(2);

/// The version of the `--json` document.
pub const JSON_VERSION: u32 = 1;

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing wrong.
    Ok,
    /// Worth a look, but clerk works (or the check does not matter here).
    Warn,
    /// Something clerk needs does not work.
    Fail,
}

/// The checks, by their stable ids (the `--json` ids; docs/doctor.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckId {
    /// The config file parses; the other config files (themes, keys) too.
    Config,
    /// The admin's policy in force (or none), and where each rule comes from.
    Policy,
    /// The profile in use is valid, and where its key comes from.
    Profile,
    /// The OS keyring answers.
    Keyring,
    /// The proxy in use, and why.
    Proxy,
    /// The endpoint's (or the proxy's) name resolves.
    Dns,
    /// A TCP connection opens (and, behind a proxy, its tunnel).
    Tcp,
    /// The TLS handshake: the certificate's issuer and the trusted authorities.
    Tls,
    /// `GET /models` answers and lists the model.
    Models,
    /// One live call of one token, with its latency.
    Call,
    /// The history database's integrity.
    History,
    /// Free space on the disk holding the history.
    Disk,
    /// The terminal: size, colours, copying.
    Terminal,
}

/// The order the checks run and are shown in.
pub const ORDER: [CheckId; 13] = [
    CheckId::Config,
    CheckId::Policy,
    CheckId::Profile,
    CheckId::Keyring,
    CheckId::Proxy,
    CheckId::Dns,
    CheckId::Tcp,
    CheckId::Tls,
    CheckId::Models,
    CheckId::Call,
    CheckId::History,
    CheckId::Disk,
    CheckId::Terminal,
];

impl CheckId {
    /// The id in the output and the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Config => "config",
            CheckId::Policy => "policy",
            CheckId::Profile => "profile",
            CheckId::Keyring => "keyring",
            CheckId::Proxy => "proxy",
            CheckId::Dns => "dns",
            CheckId::Tcp => "tcp",
            CheckId::Tls => "tls",
            CheckId::Models => "models",
            CheckId::Call => "call",
            CheckId::History => "history",
            CheckId::Disk => "disk",
            CheckId::Terminal => "terminal",
        }
    }
}

/// A text of the report in English (for `--json`) and in the interface's language (for the
/// lines a person reads).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Said {
    en: String,
    here: String,
}

/// The text `text` makes, in English and in this thread's language: `text` runs once for
/// each (so a value it formats that is itself a [`Said`] shows in the same language).
pub fn said<T: std::fmt::Display>(text: impl Fn() -> T) -> Said {
    let here = text().to_string();
    let en = match crate::i18n::current() {
        crate::i18n::Language::English => here.clone(),
        _ => {
            let _en = crate::i18n::scoped(crate::i18n::Language::English);
            text().to_string()
        }
    };
    Said { en, here }
}

impl Said {
    /// Parts joined into one text ("; " in English).
    fn join(parts: &[Said]) -> Said {
        let pick = |f: fn(&Said) -> &str| parts.iter().map(f).collect::<Vec<_>>();
        let en = pick(|p| &p.en).join("; ");
        let here = pick(|p| &p.here).join(&tr!("doctor.list_sep"));
        Said { en, here }
    }
}

/// The text in this thread's language (English when it is English).
impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match crate::i18n::current() {
            crate::i18n::Language::English => f.write_str(&self.en),
            _ => f.write_str(&self.here),
        }
    }
}

/// A text that is the same in every language (a name, an address, a server's words).
impl From<String> for Said {
    fn from(text: String) -> Said {
        Said {
            en: text.clone(),
            here: text,
        }
    }
}

impl From<&str> for Said {
    fn from(text: &str) -> Said {
        Said::from(text.to_string())
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The stable id.
    pub id: &'static str,
    /// How it went.
    pub status: Status,
    /// What it found, in English (the `--json` text).
    pub detail: String,
    /// What to do (for warnings and failures), in English.
    pub fix: Option<String>,
    /// The detail and the fix in the interface's language, for the printed lines.
    #[serde(skip)]
    pub shown: (String, Option<String>),
}

impl Check {
    /// A check with its status, detail and fix.
    pub fn new(id: CheckId, status: Status, detail: Said, fix: Option<Said>) -> Check {
        Check {
            id: id.as_str(),
            status,
            shown: (detail.here, fix.as_ref().map(|f| f.here.clone())),
            detail: detail.en,
            fix: fix.map(|f| f.en),
        }
    }

    /// A check that passed.
    pub fn ok(id: CheckId, detail: impl Into<Said>) -> Check {
        Check::new(id, Status::Ok, detail.into(), None)
    }

    /// A warning, with what to do.
    pub fn warn(id: CheckId, detail: impl Into<Said>, fix: impl Into<Said>) -> Check {
        Check::new(id, Status::Warn, detail.into(), Some(fix.into()))
    }

    /// A failure, with what to do.
    pub fn fail(id: CheckId, detail: impl Into<Said>, fix: impl Into<Said>) -> Check {
        Check::new(id, Status::Fail, detail.into(), Some(fix.into()))
    }

    /// A check that could not run because `by` did not pass: a warning (the failure is
    /// `by`'s), pointing there.
    pub fn not_checked(id: CheckId, by: CheckId) -> Check {
        let by = by.as_str();
        Check::warn(
            id,
            said(|| tr!("doctor.not_checked", by = by)),
            said(|| tr!("doctor.not_checked_fix", by = by)),
        )
    }
}

/// What the checks look at, gathered by the command line.
#[derive(Debug)]
pub struct Inputs {
    /// The config and what this run chose, or why the config does not load.
    pub setup: Result<Setup, ConfigError>,
    /// Problems in the other config files (themes, key bindings), which the app gets past
    /// with its defaults: warnings of the `config` check.
    pub notes: Vec<String>,
    /// The terminal.
    pub terminal: terminal::Facts,
}

/// The loaded config and this run's choices.
#[derive(Debug)]
pub struct Setup {
    /// Where clerk keeps its files (the config's `data_dir` applied).
    pub paths: Paths,
    /// The config.
    pub config: Config,
    /// The profile in use.
    pub profile: String,
    /// `--base-url` / `OPENAI_BASE_URL`.
    pub base_url: Option<String>,
    /// `--model`.
    pub model: Option<String>,
}

/// What the checks learned, for the ones after them. Each stage is `Err(id)` with the
/// check that stopped it while it is not there.
struct State<'a> {
    inputs: &'a Inputs,
    /// The profile (validated) and where its requests go.
    profile: Result<(crate::config::Profile, net::Target), CheckId>,
    /// The key and where it came from.
    key: Result<(crate::secrets::ApiKey, crate::secrets::KeySource), CheckId>,
    /// Why there is no key, when the profile check found none.
    key_error: Option<crate::secrets::SecretError>,
    /// How requests leave this machine.
    route: Result<crate::llm::trust::Route, CheckId>,
    /// The addresses to connect to (the endpoint's, or the proxy's).
    addrs: Result<Vec<std::net::SocketAddr>, CheckId>,
    /// The open connection (through the proxy's tunnel when there is one).
    conn: Result<net::Conn, CheckId>,
    /// The secure channel works (or plain http is used).
    tls: Result<(), CheckId>,
    /// The API answers with this key (the call is worth making).
    api: Result<(), CheckId>,
    /// The endpoint the API checks share, and the model.
    endpoint: Option<(crate::llm::Endpoint, String)>,
}

impl<'a> State<'a> {
    fn new(inputs: &'a Inputs) -> State<'a> {
        State {
            inputs,
            profile: Err(CheckId::Profile),
            key: Err(CheckId::Profile),
            key_error: None,
            route: Err(CheckId::Proxy),
            addrs: Err(CheckId::Dns),
            conn: Err(CheckId::Tcp),
            tls: Err(CheckId::Tls),
            api: Err(CheckId::Models),
            endpoint: None,
        }
    }

    /// The setup, or the check that stopped it (`config`).
    fn setup(&self) -> Result<&'a Setup, CheckId> {
        self.inputs.setup.as_ref().map_err(|_| CheckId::Config)
    }
}

/// Run every check in [`ORDER`], handing each result to `each` as it comes.
pub async fn run(inputs: &Inputs, mut each: impl FnMut(&Check)) -> Vec<Check> {
    let mut state = State::new(inputs);
    let mut out = Vec::with_capacity(ORDER.len());
    for id in ORDER {
        let check = run_one(id, &mut state).await;
        each(&check);
        out.push(check);
    }
    out
}

async fn run_one(id: CheckId, s: &mut State<'_>) -> Check {
    match id {
        CheckId::Config => setup::config(s),
        CheckId::Policy => setup::policy(s),
        CheckId::Profile => setup::profile(s),
        CheckId::Keyring => setup::keyring(s),
        CheckId::Proxy => net::proxy(s),
        CheckId::Dns => net::dns(s).await,
        CheckId::Tcp => net::tcp(s).await,
        CheckId::Tls => net::tls(s).await,
        CheckId::Models => api::models(s).await,
        CheckId::Call => api::call(s).await,
        CheckId::History => local::history(s).await,
        CheckId::Disk => local::disk(s),
        CheckId::Terminal => terminal::check(&s.inputs.terminal),
    }
}

/// Whether any check failed (exit 1).
pub fn failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}

/// The `--json` document: `{"version": 1, "checks": [{"id", "status", "detail", "fix"}]}`.
pub fn json(checks: &[Check]) -> serde_json::Value {
    serde_json::json!({ "version": JSON_VERSION, "checks": checks })
}

/// The width ids are padded to, so the details line up.
fn id_width() -> usize {
    ORDER.iter().map(|id| id.as_str().len()).max().unwrap_or(0)
}

/// One check as printed: `✓ id  detail`, and an indented `fix:` line for `!` and `✗`, in
/// the interface's language. `colour` paints the mark (on a terminal). Text is made inert
/// for the terminal.
pub fn line(check: &Check, colour: bool) -> String {
    let (mark, code) = match check.status {
        Status::Ok => ("✓", "32"),
        Status::Warn => ("!", "33"),
        Status::Fail => ("✗", "31"),
    };
    let mark = if colour {
        format!("\x1b[{code}m{mark}\x1b[0m")
    } else {
        mark.to_string()
    };
    // Inert for the terminal, and on one line.
    let clean = |text: &str| crate::llm::sanitize::sanitize(text).replace(['\n', '\r'], " ");
    let mut out = format!(
        "{mark} {:<width$}  {}",
        check.id,
        clean(&check.shown.0),
        width = id_width()
    );
    if let (Some(fix), true) = (&check.shown.1, check.status != Status::Ok) {
        out.push_str(&format!(
            "\n  {:<width$}  {}",
            "",
            tr!("doctor.fix", fix = clean(fix)),
            width = id_width()
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_the_documented_order() {
        let ids: Vec<&str> = ORDER.iter().map(|i| i.as_str()).collect();
        assert_eq!(
            ids,
            [
                "config", "policy", "profile", "keyring", "proxy", "dns", "tcp", "tls", "models",
                "call", "history", "disk", "terminal"
            ]
        );
    }

    #[test]
    fn one_failure_fails_the_run_and_warnings_do_not() {
        let ok = Check::ok(CheckId::Config, "fine");
        let warn = Check::warn(CheckId::History, "not created yet", "nothing to do");
        let fail = Check::fail(CheckId::Dns, "cannot resolve", "check base_url");
        assert!(!failed(&[]));
        assert!(!failed(&[ok.clone(), warn.clone()]));
        assert!(failed(&[ok, warn, fail]));
    }

    #[test]
    fn lines_show_the_mark_the_id_the_detail_and_a_fix_when_not_ok() {
        let ok = Check::ok(CheckId::Dns, "api.openai.com → 1.2.3.4");
        assert_eq!(line(&ok, false), "✓ dns       api.openai.com → 1.2.3.4");
        let warn = Check::warn(CheckId::Keyring, "not reachable", "start it");
        assert_eq!(
            line(&warn, false),
            "! keyring   not reachable\n            fix: start it"
        );
        let fail = Check::fail(CheckId::Tcp, "refused", "is it running?");
        let shown = line(&fail, true);
        assert!(shown.starts_with("\x1b[31m✗\x1b[0m tcp "), "{shown:?}");
        assert!(shown.ends_with("fix: is it running?"), "{shown:?}");
        // A server's words cannot reach the terminal as escape sequences.
        let sly = Check::fail(CheckId::Models, "\x1b]52;c;ZXZpbA==\x07denied\nok", "x");
        let shown = line(&sly, false);
        assert!(!shown.contains('\x1b'), "{shown:?}");
        assert_eq!(shown.lines().count(), 2, "one line and its fix: {shown:?}");
    }

    #[test]
    fn the_json_has_a_version_and_every_field() {
        let checks = [
            Check::ok(CheckId::Config, "fine"),
            Check::fail(CheckId::Models, "rejected", "run `clerk auth login`"),
        ];
        let v = json(&checks);
        assert_eq!(v["version"], 1);
        assert_eq!(v["checks"][0]["id"], "config");
        assert_eq!(v["checks"][0]["status"], "ok");
        assert!(v["checks"][0]["fix"].is_null());
        assert_eq!(v["checks"][1]["status"], "fail");
        assert_eq!(v["checks"][1]["fix"], "run `clerk auth login`");
        assert_eq!(v["checks"][1]["detail"], "rejected");
    }

    #[test]
    fn a_check_that_could_not_run_points_at_the_one_that_stopped_it() {
        let c = Check::not_checked(CheckId::Tls, CheckId::Tcp);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("`tcp`"), "{c:?}");
        assert_eq!(c.fix.as_deref(), Some("fix `tcp` first"));
    }
}

/// The report in Chinese, as a person reads it; its JSON stays English.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod chinese {
    use super::*;

    /// Words of 3+ ASCII letters a Chinese line may hold: the checks' ids, names of
    /// programs, protocols and products, and what the operating system says in English.
    const NAMES: &[&str] = &[
        "config",
        "policy",
        "profile",
        "keyring",
        "proxy",
        "dns",
        "tcp",
        "tls",
        "models",
        "call",
        "history",
        "disk",
        "terminal",
        "clerk",
        "API",
        "HTTP",
        "HTTPS",
        "DNS",
        "TCP",
        "TLS",
        "CONNECT",
        "VPN",
        "PEM",
        "OSC",
        "SSH",
        "GNU",
        "screen",
        "tmux",
        "TERM",
        "Linux",
        "Secret",
        "Service",
        "GNOME",
        "Keyring",
        "KWallet",
        "sqlite3",
        "PRAGMA",
        // io::Error's own words (the operating system's, not clerk's).
        "Connection",
        "refused",
        "error",
    ];

    /// The words of `text` that look like untranslated English: runs of 3+ ASCII letters
    /// outside `code spans`, paths, URLs, settings (`a_b`, `A=B`) and [`NAMES`].
    pub(crate) fn english_words(text: &str, names: &[&str]) -> Vec<String> {
        let outside_code: String = text
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, p)| p)
            .collect::<Vec<_>>()
            .join(" ");
        outside_code
            .split(|c: char| !(c.is_ascii_alphanumeric() || "_./:=-[]@".contains(c)))
            .filter(|w| {
                !w.chars()
                    .any(|c| "_./:=[]@".contains(c) || c.is_ascii_digit())
            })
            .flat_map(|w| w.split('-'))
            .filter(|w| w.len() >= 3 && !names.contains(w))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_report_in_chinese_has_no_english_sentence_and_its_json_stays_english() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("config.toml");
        let text = "[profiles.default]\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_cmd = \"echo sk-doctor-test-0123\"\nproxy = \"none\"\n";
        let config = Config::parse(&file, text).unwrap();
        let paths = Paths {
            config_file: file,
            config_explicit: true,
            data_dir: d.path().join("data"),
            state_dir: d.path().join("state"),
        };
        let inputs = Inputs {
            setup: Ok(Setup {
                paths,
                config,
                profile: "default".into(),
                base_url: None,
                model: None,
            }),
            notes: Vec::new(),
            terminal: terminal::Facts::default(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let checks = rt.block_on(run(&inputs, |_| {}));
        let report: Vec<String> = checks.iter().map(|c| line(c, false)).collect();
        let report = report.join("\n");
        // The ones that say something of their own, in Chinese (the keyring's words come in
        // part from the system's keyring library, in English).
        for c in checks.iter().filter(|c| c.id != "keyring") {
            let shown = line(c, false);
            let english = english_words(&shown, NAMES);
            assert!(english.is_empty(), "untranslated {english:?} in:\n{shown}");
            assert!(shown.chars().any(|ch| ch > '\u{2e80}'), "{shown}");
        }
        assert!(report.contains("解决："), "{report}");
        assert!(report.contains("无法连接到 127.0.0.1:9"), "{report}");
        // The JSON: the same checks, in English.
        let v = json(&checks);
        let tcp = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "tcp")
            .unwrap();
        assert_eq!(tcp["status"], "fail");
        let detail = tcp["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("cannot connect to 127.0.0.1:9"),
            "{detail}"
        );
        assert!(
            tcp["fix"]
                .as_str()
                .unwrap()
                .starts_with("is the server running")
        );
        for c in v["checks"].as_array().unwrap() {
            let all = format!("{}{}", c["detail"], c["fix"]);
            assert!(!all.chars().any(|ch| ch > '\u{2e80}'), "{c}");
        }
    }

    #[test]
    fn each_terminal_verdict_reads_in_chinese() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let odd = terminal::Facts {
            size: Some((30, 8)),
            min: (40, 10),
            term: "dumb".into(),
            tmux: Some(Some("off".into())),
            ..terminal::Facts::default()
        };
        let none = terminal::Facts {
            tmux: Some(None),
            screen: true,
            ssh: true,
            ..terminal::Facts::default()
        };
        for c in [terminal::check(&odd), terminal::check(&none)] {
            let shown = line(&c, false);
            assert!(english_words(&shown, NAMES).is_empty(), "{shown}");
            let json = format!("{}{:?}", c.detail, c.fix);
            let cjk = json.chars().any(|ch| ch > '\u{2e80}');
            assert!(!cjk, "the JSON's detail stays English: {c:?}");
        }
        let c = Check::not_checked(CheckId::Tls, CheckId::Tcp);
        assert_eq!(
            line(&c, false),
            "! tls       未检查：它依赖的 `tcp` 未通过\n            解决：请先解决 `tcp`"
        );
        assert_eq!(c.fix.as_deref(), Some("fix `tcp` first"));
    }
}
