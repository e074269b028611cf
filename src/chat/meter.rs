//! The meter the CLI and the app give their endpoints: every chat request is checked
//! against the budgets before it is sent ([`super::budget`]) and recorded in the usage
//! ledger when it ends, priced with the price table in force at that moment.
//!
//! This is the edge where the clock is read and the ledger written; the decisions are
//! `budget::check`'s. A ledger that cannot be written never fails an answer (the failure
//! is logged).

use std::collections::HashSet;
use std::sync::Mutex;

use super::budget::{self, Spent, Verdict, Which};
use crate::config::{BudgetConfig, ModelTable};
use crate::llm::meter::{Meter, Metered, Tag};
use crate::store::ledger::{Ledger, Spend};

/// Budgets and the usage ledger, for one profile.
pub struct LedgerMeter {
    ledger: Mutex<Source>,
    profile: String,
    models: ModelTable,
    budget: BudgetConfig,
    /// Warnings already given, per budget and period, so each is given once.
    warned: Mutex<HashSet<(&'static str, i64)>>,
    on_warn: Box<dyn Fn(String) + Send + Sync>,
}

impl std::fmt::Debug for LedgerMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerMeter")
            .field("profile", &self.profile)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// The ledger, or where to open it when first needed (the app's first frame does not
/// wait for a file it may not use), or why it could not be opened.
enum Source {
    Open(Ledger),
    Later(std::path::PathBuf),
    Failed(String),
}

impl LedgerMeter {
    /// A meter writing to `ledger`, pricing with `models`, holding `budget`; a budget 80%
    /// used is told to `on_warn` (stderr on the CLI, a notice in the app), once.
    pub fn new(
        ledger: Ledger,
        profile: &str,
        models: ModelTable,
        budget: BudgetConfig,
        on_warn: Box<dyn Fn(String) + Send + Sync>,
    ) -> LedgerMeter {
        LedgerMeter::from_source(Source::Open(ledger), profile, models, budget, on_warn)
    }

    /// [`LedgerMeter::new`] with the ledger at `path`, opened at the first request. When
    /// it cannot be opened, requests are not recorded (a warning in the log) and, while a
    /// budget is set, refused: a budget that cannot be checked is not kept by sending.
    pub fn opening(
        path: std::path::PathBuf,
        profile: &str,
        models: ModelTable,
        budget: BudgetConfig,
        on_warn: Box<dyn Fn(String) + Send + Sync>,
    ) -> LedgerMeter {
        LedgerMeter::from_source(Source::Later(path), profile, models, budget, on_warn)
    }

    fn from_source(
        source: Source,
        profile: &str,
        models: ModelTable,
        budget: BudgetConfig,
        on_warn: Box<dyn Fn(String) + Send + Sync>,
    ) -> LedgerMeter {
        LedgerMeter {
            ledger: Mutex::new(source),
            profile: profile.to_string(),
            models,
            budget,
            warned: Mutex::new(HashSet::new()),
            on_warn,
        }
    }

    /// `f` on the ledger, opening it first if need be; the error says why there is none.
    fn with_ledger<R>(&self, f: impl FnOnce(&mut Ledger) -> R) -> Result<R, String> {
        let mut source = self
            .ledger
            .lock()
            .map_err(|_| "the ledger's lock is poisoned".to_string())?;
        if let Source::Later(path) = &*source {
            *source = match Ledger::open(path) {
                Ok(l) => Source::Open(l),
                Err(e) => {
                    tracing::warn!(error = %e, "the usage ledger cannot be opened");
                    Source::Failed(e.to_string())
                }
            };
        }
        match &mut *source {
            Source::Open(l) => Ok(f(l)),
            Source::Failed(e) => Err(e.clone()),
            Source::Later(_) => Err(tr!("chat.budget.ledger_not_open").into_owned()),
        }
    }

    fn spent(&self, p: &budget::Periods) -> Result<Spent, String> {
        self.with_ledger(|ledger| {
            let sum = |from: i64| {
                ledger
                    .totals(from, i64::MAX)
                    .ok()
                    .and_then(|t| t.cost_usd)
                    .unwrap_or(0.0)
            };
            Spent {
                today: sum(p.day_start_ms),
                month: sum(p.month_start_ms),
            }
        })
    }
}

impl Meter for LedgerMeter {
    fn allow(
        &self,
        _tag: &Tag,
        model: &str,
        prompt_tokens: u64,
        max_output: u64,
    ) -> Result<(), String> {
        let b = &self.budget;
        if b.daily_usd.is_none() && b.monthly_usd.is_none() && b.per_request_usd.is_none() {
            return Ok(());
        }
        let estimate = self
            .models
            .get(model)
            .and_then(|i| i.cost(prompt_tokens, 0, max_output));
        let periods = budget::periods(&chrono::Local::now());
        let spent = self
            .spent(&periods)
            .map_err(|e| tr!("chat.budget.unchecked", why = e).into_owned())?;
        match budget::check(b, spent, estimate, &periods.resets) {
            Verdict::Allow => Ok(()),
            Verdict::Refuse(r) => {
                tracing::info!(budget = r.which.key(), "request refused by a budget");
                Err(r.to_string())
            }
            warn @ Verdict::Warn { which, .. } => {
                let period = if which == Which::Daily {
                    periods.day_start_ms
                } else {
                    periods.month_start_ms
                };
                let first = self
                    .warned
                    .lock()
                    .is_ok_and(|mut w| w.insert((which.key(), period)));
                if first && let Some(text) = warn.warning() {
                    (self.on_warn)(text);
                }
                Ok(())
            }
        }
    }

    fn record(&self, r: Metered) {
        let info = self.models.get(&r.model);
        let cost = info.and_then(|i| i.cost(r.usage.input, r.usage.cached, r.usage.output));
        let spend = Spend {
            at_ms: chrono::Utc::now().timestamp_millis(),
            kind: r.tag.kind.to_string(),
            model: r.model,
            profile: self.profile.clone(),
            session_id: r.tag.session,
            template: r.tag.template,
            knowledge: r.tag.knowledge,
            prompt_tokens: Some(r.usage.input),
            cached_tokens: Some(r.usage.cached),
            completion_tokens: Some(r.usage.output),
            estimated: r.estimated,
            cost_usd: cost,
            status: r.status.to_string(),
        };
        let saved = self
            .with_ledger(|l| l.record(&spend).map_err(|e| e.to_string()))
            .and_then(|r| r);
        if let Err(e) = saved {
            tracing::warn!(error = %e, "a request was not recorded in the usage ledger");
        }
    }
}

/// The meter of requests made for sessions that are not kept (history off, an incognito
/// session): the same budgets and ledger, but each request is recorded without its
/// session — an id of a store in memory means nothing later, and could be taken for a
/// saved session's.
#[derive(Debug)]
pub struct Unfiled(pub std::sync::Arc<dyn Meter>);

impl Meter for Unfiled {
    fn allow(
        &self,
        tag: &Tag,
        model: &str,
        prompt_tokens: u64,
        max_output: u64,
    ) -> Result<(), String> {
        self.0.allow(tag, model, prompt_tokens, max_output)
    }

    fn record(&self, mut request: Metered) {
        request.tag.session = None;
        self.0.record(request);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::TokenUsage;
    use std::sync::Arc;

    fn meter(budget: BudgetConfig, warnings: Arc<Mutex<Vec<String>>>) -> LedgerMeter {
        LedgerMeter::new(
            Ledger::open_in_memory().unwrap(),
            "work",
            ModelTable::new(&Default::default()),
            budget,
            Box::new(move |w| warnings.lock().unwrap().push(w)),
        )
    }

    fn used(model: &str, input: u64, output: u64) -> Metered {
        Metered {
            tag: Tag {
                kind: "answer",
                session: Some(7),
                ..Tag::default()
            },
            model: model.into(),
            usage: TokenUsage {
                input,
                cached: 0,
                output,
            },
            estimated: false,
            status: "complete",
        }
    }

    #[test]
    fn the_ledger_opens_at_the_first_request_and_a_missing_one_refuses_only_with_a_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.sqlite3");
        let lazy = |path: std::path::PathBuf, budget: BudgetConfig| {
            LedgerMeter::opening(
                path,
                "work",
                ModelTable::new(&Default::default()),
                budget,
                Box::new(|_| {}),
            )
        };
        let m = lazy(path.clone(), BudgetConfig::default());
        assert!(!path.exists(), "nothing is opened before a request");
        m.record(used("gpt-4o-mini", 1_000, 100));
        assert!(path.exists());
        let l = Ledger::open(&path).unwrap();
        assert_eq!(l.totals(0, i64::MAX).unwrap().requests, 1);
        // A ledger that cannot be opened (its folder is a file): without a budget requests
        // go (unrecorded); with one they are refused, saying why.
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let tag = Tag::default();
        let m = lazy(blocked.join("usage.sqlite3"), BudgetConfig::default());
        assert!(m.allow(&tag, "gpt-4o-mini", 10, 10).is_ok());
        m.record(used("gpt-4o-mini", 1, 1));
        let budget = BudgetConfig {
            daily_usd: Some(1.0),
            ..BudgetConfig::default()
        };
        let m = lazy(blocked.join("usage.sqlite3"), budget);
        let e = m.allow(&tag, "gpt-4o-mini", 10, 10).unwrap_err();
        assert!(e.contains("usage ledger is unavailable"), "{e}");
    }

    #[test]
    fn requests_of_sessions_not_kept_are_recorded_without_their_session() {
        let ledger = dir_ledger();
        let m: Arc<dyn Meter> = Arc::new(LedgerMeter::opening(
            ledger.1.clone(),
            "work",
            ModelTable::new(&Default::default()),
            BudgetConfig::default(),
            Box::new(|_| {}),
        ));
        Unfiled(m.clone()).record(used("gpt-4o-mini", 10, 10));
        m.record(used("gpt-4o-mini", 10, 10));
        let l = Ledger::open(&ledger.1).unwrap();
        let rows = l
            .report(crate::store::ledger::By::Session, 0, i64::MAX)
            .unwrap();
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(rows.len(), 2, "{keys:?}");
        assert!(keys.contains(&"7") && keys.contains(&"none"), "{keys:?}");
    }

    fn dir_ledger() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.sqlite3");
        (dir, path)
    }

    #[test]
    fn a_policy_budget_is_named_with_its_file_when_it_refuses() {
        let budget = BudgetConfig {
            per_request_usd: Some(0.000_01),
            set_by_policy: crate::config::BudgetPolicy {
                per_request: Some("/etc/clerk/policy.toml".into()),
                monthly: None,
            },
            ..BudgetConfig::default()
        };
        let m = meter(budget, Arc::default());
        let e = m
            .allow(&Tag::of("answer"), "gpt-4o-mini", 1_000, 1_000)
            .unwrap_err();
        assert!(
            e.contains("(max_cost_per_request_usd in /etc/clerk/policy.toml)"),
            "{e}"
        );
    }

    #[test]
    fn requests_are_priced_when_recorded_and_unknown_models_stay_unpriced() {
        let m = meter(BudgetConfig::default(), Arc::default());
        m.record(used("gpt-4o-mini", 1_000_000, 1_000_000));
        m.record(used("llama3.2", 10, 10));
        let t = m.with_ledger(|l| l.totals(0, i64::MAX).unwrap()).unwrap();
        assert_eq!((t.requests, t.unpriced_requests), (2, 1));
        assert!((t.cost_usd.unwrap() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn a_reached_daily_budget_refuses_and_eighty_percent_warns_once() {
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let m = meter(
            BudgetConfig {
                daily_usd: Some(1.0),
                ..BudgetConfig::default()
            },
            warnings.clone(),
        );
        let tag = Tag::of("answer");
        assert_eq!(m.allow(&tag, "gpt-4o-mini", 100, 100), Ok(()));
        // $0.85 spent: warned once, not twice.
        m.record(used("gpt-4o", 100_000, 60_000));
        assert_eq!(m.allow(&tag, "gpt-4o-mini", 100, 100), Ok(()));
        assert_eq!(m.allow(&tag, "gpt-4o-mini", 100, 100), Ok(()));
        assert_eq!(warnings.lock().unwrap().len(), 1);
        assert!(warnings.lock().unwrap()[0].contains("daily budget of $1.00"));
        // $1.70: refused, saying so.
        m.record(used("gpt-4o", 100_000, 60_000));
        let refused = m.allow(&tag, "gpt-4o-mini", 100, 100).unwrap_err();
        assert!(
            refused.contains("daily budget of $1.00 is reached"),
            "{refused}"
        );
    }
}
