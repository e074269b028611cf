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
    ledger: Mutex<Ledger>,
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
        LedgerMeter {
            ledger: Mutex::new(ledger),
            profile: profile.to_string(),
            models,
            budget,
            warned: Mutex::new(HashSet::new()),
            on_warn,
        }
    }

    fn spent(&self, p: &budget::Periods) -> Spent {
        let Ok(ledger) = self.ledger.lock() else {
            return Spent::default();
        };
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
        let spent = self.spent(&periods);
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
            .ledger
            .lock()
            .map_err(|_| "the ledger's lock is poisoned".to_string())
            .and_then(|mut l| l.record(&spend).map_err(|e| e.to_string()));
        if let Err(e) = saved {
            tracing::warn!(error = %e, "a request was not recorded in the usage ledger");
        }
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
    fn requests_are_priced_when_recorded_and_unknown_models_stay_unpriced() {
        let m = meter(BudgetConfig::default(), Arc::default());
        m.record(used("gpt-4o-mini", 1_000_000, 1_000_000));
        m.record(used("llama3.2", 10, 10));
        let t = m.ledger.lock().unwrap().totals(0, i64::MAX).unwrap();
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
