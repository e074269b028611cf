//! `clerk usage`: what the requests cost, from the usage ledger, grouped by day, month,
//! model, profile, session, template or kind, as a table, JSON or CSV; with the budgets
//! of `[budget]` and how much of each is used.
//!
//! It only reads the ledger; it never sends anything.

use std::io::Write;

use chrono::{Local, NaiveDate, TimeZone};
use clap::{Args, ValueEnum};

use super::{CliError, Ctx, Exit};
use crate::chat::budget;
use crate::format::thousands;
use crate::store::ledger::{By, Ledger, Row, Totals};

/// How to group.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GroupBy {
    /// Local calendar day
    Day,
    /// Local calendar month
    Month,
    /// Model
    Model,
    /// Profile (endpoint)
    Profile,
    /// Session
    Session,
    /// Template
    Template,
    /// What the request was for (answer, part, step, restate, title, compare…)
    Kind,
}

/// `clerk usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Group by
    #[arg(long, value_enum, default_value = "day")]
    by: GroupBy,
    /// First day (YYYY-MM-DD, local time); default: 30 days ago
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Last day, included (YYYY-MM-DD, local time); default: today
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// One JSON object: {"rows": [...], "total": {...}}
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV with a header row
    #[arg(long)]
    csv: bool,
}

/// Run `clerk usage`.
pub fn run(ctx: &Ctx, args: &UsageArgs) -> Result<Exit, CliError> {
    let bad = |m: String| CliError::new(Exit::BadInput, m);
    let day = |text: &str, flag: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| bad(tr!("cli.usage.bad_date", flag = flag, text = text).into_owned()))
    };
    let today = Local::now().date_naive();
    let since = match &args.since {
        Some(t) => day(t, "--since")?,
        None => today - chrono::Days::new(29),
    };
    let until = match &args.until {
        Some(t) => day(t, "--until")?,
        None => today,
    };
    if until < since {
        return Err(bad(tr!(
            "cli.usage.until_before",
            until = until,
            since = since
        )
        .into_owned()));
    }
    let from_ms = local_midnight(since);
    let to_ms = local_midnight(until + chrono::Days::new(1));
    let path = ctx.paths.usage_ledger();
    // No ledger yet: nothing was ever sent.
    let (rows, total) = if path.exists() {
        let ledger = Ledger::open(&path)?;
        let by = match args.by {
            GroupBy::Day => By::Day,
            GroupBy::Month => By::Month,
            GroupBy::Model => By::Model,
            GroupBy::Profile => By::Profile,
            GroupBy::Session => By::Session,
            GroupBy::Template => By::Template,
            GroupBy::Kind => By::Kind,
        };
        (
            ledger.report(by, from_ms, to_ms)?,
            ledger.totals(from_ms, to_ms)?,
        )
    } else {
        (Vec::new(), Totals::default())
    };
    let mut out = std::io::stdout().lock();
    let w =
        |e: std::io::Error| CliError::new(Exit::Failure, tr!("cli.usage.cannot_write", error = e));
    if args.json {
        let v = serde_json::json!({ "rows": rows, "total": total });
        writeln!(out, "{v}").map_err(w)?;
    } else if args.csv {
        write_csv(&mut out, &rows).map_err(w)?;
    } else {
        write_table(&mut out, label(args.by), &rows, &total).map_err(w)?;
        if path.exists() {
            let ledger = Ledger::open(&path)?;
            if let Some(line) = budget_line(ctx, &ledger)? {
                writeln!(out, "{line}").map_err(w)?;
            }
        }
    }
    Ok(Exit::Ok)
}

/// Local midnight at the start of `day`, in ms since the epoch.
fn local_midnight(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| Local.from_local_datetime(&t).earliest())
        .map_or(0, |t| t.timestamp_millis())
}

fn label(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Day => "day",
        GroupBy::Month => "month",
        GroupBy::Model => "model",
        GroupBy::Profile => "profile",
        GroupBy::Session => "session",
        GroupBy::Template => "template",
        GroupBy::Kind => "kind",
    }
}

fn money(t: &Totals) -> String {
    let cost = match t.cost_usd {
        Some(c) => format!("${c:.4}"),
        None if t.requests == 0 => "$0".to_string(),
        None => "unknown".to_string(),
    };
    if t.unpriced_requests > 0 && t.cost_usd.is_some() {
        format!("{cost} + unknown")
    } else {
        cost
    }
}

fn write_table(
    out: &mut impl Write,
    by: &str,
    rows: &[Row],
    total: &Totals,
) -> std::io::Result<()> {
    let key_w = rows
        .iter()
        .map(|r| r.key.chars().count())
        .max()
        .unwrap_or(0)
        .max(by.len())
        .clamp(5, 40);
    writeln!(
        out,
        "{by:<key_w$}  {:>8}  {:>12}  {:>10}  {:>12}  {:>12}",
        "requests", "prompt", "cached", "completion", "cost"
    )?;
    let line = |out: &mut dyn Write, key: &str, t: &Totals| {
        let key: String = crate::llm::sanitize::sanitize(key)
            .chars()
            .take(key_w)
            .collect();
        writeln!(
            out,
            "{key:<key_w$}  {:>8}  {:>12}  {:>10}  {:>12}  {:>12}",
            thousands(t.requests),
            thousands(t.prompt_tokens),
            thousands(t.cached_tokens),
            thousands(t.completion_tokens),
            money(t)
        )
    };
    for r in rows {
        line(out, &r.key, &r.totals)?;
    }
    line(out, "total", total)?;
    if total.unpriced_requests > 0 {
        writeln!(
            out,
            "{} request(s) were for models without a price: their cost is unknown and not in the totals (add [models.\"NAME\"] prices to the config)",
            thousands(total.unpriced_requests)
        )?;
    }
    Ok(())
}

fn write_csv(out: &mut impl Write, rows: &[Row]) -> std::io::Result<()> {
    writeln!(
        out,
        "key,requests,prompt_tokens,cached_tokens,completion_tokens,cost_usd,unpriced_requests"
    )?;
    for r in rows {
        let t = &r.totals;
        let key = if r.key.contains([',', '"', '\n']) {
            format!("\"{}\"", r.key.replace('"', "\"\""))
        } else {
            r.key.clone()
        };
        writeln!(
            out,
            "{key},{},{},{},{},{},{}",
            t.requests,
            t.prompt_tokens,
            t.cached_tokens,
            t.completion_tokens,
            t.cost_usd.map(|c| format!("{c}")).unwrap_or_default(),
            t.unpriced_requests
        )?;
    }
    Ok(())
}

/// "budget: today $0.12 of $5.00 · this month $3.40 of $50.00", when budgets are set.
fn budget_line(ctx: &Ctx, ledger: &Ledger) -> Result<Option<String>, CliError> {
    let b = &ctx.config.file.budget;
    if b.daily_usd.is_none() && b.monthly_usd.is_none() && b.per_request_usd.is_none() {
        return Ok(None);
    }
    let p = budget::periods(&Local::now());
    let far = i64::MAX;
    let today = ledger.totals(p.day_start_ms, far)?.cost_usd.unwrap_or(0.0);
    let month = ledger
        .totals(p.month_start_ms, far)?
        .cost_usd
        .unwrap_or(0.0);
    let usd = |v: f64| crate::config::models::format_usd(Some(v));
    let mut parts = Vec::new();
    if let Some(d) = b.daily_usd {
        parts.push(tr!("cli.usage.today", spent = usd(today), limit = usd(d)).into_owned());
    }
    if let Some(m) = b.monthly_usd {
        parts.push(tr!("cli.usage.month", spent = usd(month), limit = usd(m)).into_owned());
    }
    if let Some(r) = b.per_request_usd {
        parts.push(tr!("cli.usage.per_request", limit = usd(r)).into_owned());
    }
    Ok(Some(
        tr!("cli.usage.budget", parts = parts.join(" · ")).into_owned(),
    ))
}
