//! Budgets: whether a request may be sent, given what was spent today and this month, the
//! request's estimate and the limits of `[budget]` — where the admin's policy set a
//! stricter one, the policy's (`Config::apply_policy`), named with its file.
//!
//! Pure: the caller reads the spend from the ledger and the clock, and passes them in.
//! Once a budget is reached every request is refused before it is sent; a request whose
//! estimate would take the spend past a budget is refused too, so the overshoot is at most
//! what one request costs beyond its estimate. At 80% of a budget the caller is told once.

use crate::config::BudgetConfig;

/// Which budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// `daily_usd`: the local calendar day.
    Daily,
    /// `monthly_usd`: the local calendar month.
    Monthly,
    /// `per_request_usd`: one request.
    PerRequest,
}

impl Which {
    /// The config key.
    pub fn key(self) -> &'static str {
        match self {
            Which::Daily => "daily_usd",
            Which::Monthly => "monthly_usd",
            Which::PerRequest => "per_request_usd",
        }
    }

    /// Where this budget of `limits` is set, as a message names it: `[budget] daily_usd`,
    /// or the policy's key and file (`monthly_budget_usd in /etc/clerk/policy.toml`).
    pub fn rule(self, limits: &BudgetConfig) -> String {
        let by = &limits.set_by_policy;
        let policy = match self {
            Which::Daily => None,
            Which::Monthly => by.monthly.as_ref().map(|f| ("monthly_budget_usd", f)),
            Which::PerRequest => by
                .per_request
                .as_ref()
                .map(|f| ("max_cost_per_request_usd", f)),
        };
        match policy {
            Some((key, file)) => format!("{key} in {}", file.display()),
            None => format!("[budget] {}", self.key()),
        }
    }
}

/// What was spent so far (priced requests; unpriced ones cannot count).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spent {
    /// Today, local time.
    pub today: f64,
    /// This month, local time.
    pub month: f64,
}

/// When the day's and the month's budgets start again, as the user reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resets {
    /// E.g. "at midnight".
    pub day: String,
    /// E.g. "on 2027-01-01".
    pub month: String,
}

/// A request refused before it was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The budget that refused it.
    pub which: Which,
    /// Its limit in USD.
    pub limit: f64,
    /// Spent so far in its period (for `PerRequest`: 0).
    pub spent: f64,
    /// The request's estimate.
    pub estimate: f64,
    /// When it starts again ("at midnight"; empty for `PerRequest`).
    pub resets: String,
    /// Where the budget is set ([`Which::rule`]).
    pub rule: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self.which {
            Which::PerRequest => tr!(
                "chat.budget.per_request",
                estimate = usd(self.estimate),
                limit = usd(self.limit),
                rule = self.rule
            ),
            which => tr!(
                "chat.budget.reached",
                which = period(which),
                limit = usd(self.limit),
                spent = usd(self.spent),
                this = match self.estimate > 0.0 {
                    true => tr!("chat.budget.this_request", estimate = usd(self.estimate)),
                    false => "".into(),
                },
                rule = self.rule,
                resets = self.resets
            ),
        };
        f.write_str(&text)
    }
}

/// "daily" or "monthly", as the budget's texts say it.
fn period(which: Which) -> std::borrow::Cow<'static, str> {
    match which {
        Which::Daily => tr!("chat.budget.daily"),
        _ => tr!("chat.budget.monthly"),
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Send it.
    Allow,
    /// Send it, and tell the user once that a budget is 80% used.
    Warn {
        /// The budget.
        which: Which,
        /// Spent so far with this request's estimate.
        spent: f64,
        /// Its limit.
        limit: f64,
        /// Where the budget is set ([`Which::rule`]).
        rule: String,
    },
    /// Do not send it.
    Refuse(Refusal),
}

impl Verdict {
    /// The warning's text, for [`Verdict::Warn`].
    pub fn warning(&self) -> Option<String> {
        match self {
            Verdict::Warn {
                which,
                spent,
                limit,
                rule,
            } => Some(
                tr!(
                    "chat.budget.warning",
                    percent = percent(*spent, *limit),
                    which = period(*which),
                    limit = usd(*limit),
                    spent = usd(*spent),
                    rule = rule
                )
                .into_owned(),
            ),
            _ => None,
        }
    }
}

/// Share of a budget at which the user is warned.
pub const WARN_AT: f64 = 0.8;

/// Whether a request estimated at `estimate` USD (`None`: its model has no price) may go.
pub fn check(
    limits: &BudgetConfig,
    spent: Spent,
    estimate: Option<f64>,
    resets: &Resets,
) -> Verdict {
    let est = estimate.unwrap_or(0.0);
    if let (Some(limit), Some(e)) = (limits.per_request_usd, estimate)
        && e > limit
    {
        return Verdict::Refuse(Refusal {
            which: Which::PerRequest,
            limit,
            spent: 0.0,
            estimate: e,
            resets: String::new(),
            rule: Which::PerRequest.rule(limits),
        });
    }
    let periods = [
        (Which::Daily, limits.daily_usd, spent.today, &resets.day),
        (
            Which::Monthly,
            limits.monthly_usd,
            spent.month,
            &resets.month,
        ),
    ];
    for (which, limit, so_far, when) in periods {
        if let Some(limit) = limit
            && (so_far >= limit || so_far + est > limit)
        {
            return Verdict::Refuse(Refusal {
                which,
                limit,
                spent: so_far,
                estimate: est,
                resets: when.clone(),
                rule: which.rule(limits),
            });
        }
    }
    for (which, limit, so_far, _) in periods {
        if let Some(limit) = limit
            && so_far + est >= WARN_AT * limit
        {
            return Verdict::Warn {
                which,
                spent: so_far + est,
                limit,
                rule: which.rule(limits),
            };
        }
    }
    Verdict::Allow
}

/// The local day and month `now` falls in: where each starts (ms since the epoch) and when
/// each budget starts again, as the user reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    /// Local midnight today.
    pub day_start_ms: i64,
    /// Local midnight on the first of this month.
    pub month_start_ms: i64,
    /// The reset times, in words.
    pub resets: Resets,
}

/// The periods of `now` (the caller reads the clock; any time zone).
pub fn periods<Tz: chrono::TimeZone>(now: &chrono::DateTime<Tz>) -> Periods {
    use chrono::{Datelike, NaiveDate};
    let tz = now.timezone();
    let today = now.date_naive();
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(tz.clone()).earliest())
            .map_or(now.timestamp_millis(), |t| t.timestamp_millis())
    };
    let first = today.with_day(1).unwrap_or(today);
    let next_month = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(first);
    Periods {
        day_start_ms: start(today),
        month_start_ms: start(first),
        resets: Resets {
            day: tr!("chat.budget.at_midnight").into_owned(),
            month: tr!("chat.budget.on_date", date = next_month.format("%Y-%m-%d")).into_owned(),
        },
    }
}

fn usd(v: f64) -> String {
    crate::config::models::format_usd(Some(v))
}

fn percent(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        return "all".to_string();
    }
    format!("{:.0}%", (part / whole * 100.0).min(999.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(daily: Option<f64>, monthly: Option<f64>, per: Option<f64>) -> BudgetConfig {
        BudgetConfig {
            daily_usd: daily,
            monthly_usd: monthly,
            per_request_usd: per,
            ..BudgetConfig::default()
        }
    }

    fn resets() -> Resets {
        Resets {
            day: "at midnight".into(),
            month: "on 2027-01-01".into(),
        }
    }

    fn spent(today: f64, month: f64) -> Spent {
        Spent { today, month }
    }

    #[test]
    fn no_budget_allows_everything() {
        let v = check(
            &BudgetConfig::default(),
            spent(1e6, 1e6),
            Some(1e3),
            &resets(),
        );
        assert_eq!(v, Verdict::Allow);
    }

    #[test]
    fn a_reached_budget_refuses_before_sending_and_says_when_it_resets() {
        let l = limits(Some(1.0), Some(10.0), None);
        // Reached: even a request of unknown cost is refused.
        let Verdict::Refuse(r) = check(&l, spent(1.0, 3.0), None, &resets()) else {
            panic!()
        };
        assert_eq!((r.which, r.limit, r.spent), (Which::Daily, 1.0, 1.0));
        let text = r.to_string();
        assert!(text.contains("daily budget of $1.00 is reached"), "{text}");
        assert!(text.contains("[budget] daily_usd"), "{text}");
        assert!(text.ends_with("starts again at midnight"), "{text}");
        // Not reached, but this request would take it past: refused too.
        let v = check(&l, spent(0.95, 3.0), Some(0.10), &resets());
        assert!(matches!(
            v,
            Verdict::Refuse(Refusal {
                which: Which::Daily,
                ..
            })
        ));
        // The month's budget counts as well.
        let Verdict::Refuse(r) = check(&l, spent(0.0, 10.0), Some(0.01), &resets()) else {
            panic!()
        };
        assert_eq!(r.which, Which::Monthly);
        assert!(r.to_string().contains("on 2027-01-01"));
    }

    #[test]
    fn a_request_over_the_per_request_budget_is_refused() {
        let l = limits(None, None, Some(0.05));
        let Verdict::Refuse(r) = check(&l, spent(0.0, 0.0), Some(0.2), &resets()) else {
            panic!()
        };
        assert_eq!(r.which, Which::PerRequest);
        assert!(r.to_string().contains("estimated at $0.20"), "{r}");
        // An unpriced model cannot be held to a per-request budget it cannot be priced for.
        assert_eq!(check(&l, spent(0.0, 0.0), None, &resets()), Verdict::Allow);
        assert_eq!(
            check(&l, spent(0.0, 0.0), Some(0.05), &resets()),
            Verdict::Allow
        );
    }

    #[test]
    fn periods_are_the_local_day_and_month() {
        use chrono::TimeZone;
        let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        // 2026-12-31 23:30 in UTC+8.
        let now = tz.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap();
        let p = periods(&now);
        let day = tz.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap();
        let month = tz.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(p.day_start_ms, day.timestamp_millis());
        assert_eq!(p.month_start_ms, month.timestamp_millis());
        assert_eq!(p.resets.month, "on 2027-01-01");
    }

    #[test]
    fn eighty_percent_warns() {
        let l = limits(Some(10.0), None, None);
        assert_eq!(
            check(&l, spent(7.0, 7.0), Some(0.5), &resets()),
            Verdict::Allow
        );
        let v = check(&l, spent(7.9, 7.9), Some(0.2), &resets());
        let text = v.warning().expect("a warning");
        assert!(
            text.starts_with("81% of the daily budget of $10.00"),
            "{text}"
        );
    }

    #[test]
    fn refusals_and_warnings_read_in_chinese() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let l = limits(Some(1.0), Some(10.0), None);
        let zh_resets = Resets {
            day: tr!("chat.budget.at_midnight").into_owned(),
            month: tr!("chat.budget.on_date", date = "2027-01-01").into_owned(),
        };
        let Verdict::Refuse(r) = check(&l, spent(1.0, 3.0), None, &zh_resets) else {
            panic!()
        };
        let text = r.to_string();
        assert!(text.starts_with("未发送：已达到每日预算"), "{text}");
        assert!(text.ends_with("预算将于午夜重新开始"), "{text}");
        assert!(text.contains("[budget] daily_usd"), "{text}");
    }
}
