//! `clerk usage`: what the requests cost, from the usage ledger, grouped by day, month,
//! model, profile, session, template or kind, as a table, JSON or CSV; with the budgets
//! of `[budget]` and how much of each is used.
//!
//! It only reads the ledger; it never sends anything.

use std::io::Write;

use chrono::{Local, NaiveDate, TimeZone};
use clap::{Args, ValueEnum};

use super::output::{pad, pad_left};
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
    let w = |e: std::io::Error| {
        CliError::new(
            Exit::Failure,
            tr!("cli.usage.cannot_write", error = crate::i18n::os_error(&e)),
        )
    };
    if args.json {
        let v = serde_json::json!({ "rows": rows, "total": total });
        writeln!(out, "{v}").map_err(w)?;
    } else if args.csv {
        write_csv(&mut out, &rows).map_err(w)?;
    } else {
        write_table(&mut out, &label(args.by), &rows, &total).map_err(w)?;
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

/// The heading of the table's first column, in the interface's language.
fn label(by: GroupBy) -> String {
    match by {
        GroupBy::Day => tr!("cli.usage.col.day"),
        GroupBy::Month => tr!("cli.usage.col.month"),
        GroupBy::Model => tr!("cli.usage.col.model"),
        GroupBy::Profile => tr!("cli.usage.col.profile"),
        GroupBy::Session => tr!("cli.usage.col.session"),
        GroupBy::Template => tr!("cli.usage.col.template"),
        GroupBy::Kind => tr!("cli.usage.col.kind"),
    }
    .into_owned()
}

fn money(t: &Totals) -> String {
    let cost = match t.cost_usd {
        Some(c) => format!("${c:.4}"),
        None if t.requests == 0 => "$0".to_string(),
        None => tr!("cli.usage.unknown").into_owned(),
    };
    if t.unpriced_requests > 0 && t.cost_usd.is_some() {
        format!("{cost} + {}", tr!("cli.usage.unknown"))
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
    use unicode_width::UnicodeWidthStr;
    // Widths in terminal cells: a Chinese heading or key takes two a character.
    let key_w = rows
        .iter()
        .map(|r| r.key.width())
        .max()
        .unwrap_or(0)
        .max(by.width())
        .clamp(5, 40);
    let columns = [
        (tr!("cli.usage.col.requests"), 8),
        (tr!("cli.usage.col.prompt"), 12),
        (tr!("cli.usage.col.cached"), 10),
        (tr!("cli.usage.col.completion"), 12),
        (tr!("cli.usage.col.cost"), 12),
    ];
    let mut heading = pad(by, key_w);
    for (name, w) in &columns {
        heading.push_str("  ");
        heading.push_str(&pad_left(name, *w));
    }
    writeln!(out, "{heading}")?;
    let line = |out: &mut dyn Write, key: &str, t: &Totals| {
        let mut shown = String::new();
        let mut used = 0;
        for ch in crate::llm::sanitize::sanitize(key).chars() {
            used += unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
            if used > key_w {
                break;
            }
            shown.push(ch);
        }
        writeln!(
            out,
            "{}  {:>8}  {:>12}  {:>10}  {:>12}  {}",
            pad(&shown, key_w),
            thousands(t.requests),
            thousands(t.prompt_tokens),
            thousands(t.cached_tokens),
            thousands(t.completion_tokens),
            pad_left(&money(t), 12)
        )
    };
    for r in rows {
        line(out, &r.key, &r.totals)?;
    }
    line(out, &tr!("cli.usage.total"), total)?;
    if total.estimated_requests > 0 {
        let count = thousands(total.estimated_requests);
        writeln!(out, "{}", tr!("cli.usage.estimated", count = count))?;
    }
    if total.unpriced_requests > 0 {
        writeln!(
            out,
            "{}",
            tr!(
                "cli.usage.unpriced",
                count = thousands(total.unpriced_requests)
            )
        )?;
    }
    Ok(())
}

fn write_csv(out: &mut impl Write, rows: &[Row]) -> std::io::Result<()> {
    writeln!(
        out,
        "key,requests,prompt_tokens,cached_tokens,completion_tokens,cost_usd,unpriced_requests,estimated_requests"
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
            "{key},{},{},{},{},{},{},{}",
            t.requests,
            t.prompt_tokens,
            t.cached_tokens,
            t.completion_tokens,
            t.cost_usd.map(|c| format!("{c}")).unwrap_or_default(),
            t.unpriced_requests,
            t.estimated_requests
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Language, scoped};
    use unicode_width::UnicodeWidthStr;

    fn table(rows: &[Row], total: &Totals) -> String {
        let mut out = Vec::new();
        write_table(&mut out, &label(GroupBy::Template), rows, total).unwrap_or_default();
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn the_table_is_chinese_and_its_columns_line_up_in_cells() {
        let totals = Totals {
            requests: 3,
            prompt_tokens: 1200,
            completion_tokens: 300,
            cost_usd: Some(0.0012),
            unpriced_requests: 1,
            ..Totals::default()
        };
        let rows = vec![Row {
            key: "会议纪要".into(),
            totals: Totals {
                unpriced_requests: 0,
                ..totals.clone()
            },
        }];
        let english = table(&rows, &totals);
        assert!(english.starts_with("template  requests"), "{english}");
        assert!(english.contains("$0.0012 + unknown"), "{english}");
        let _zh = scoped(Language::Chinese);
        let t = table(&rows, &totals);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("模板") && lines[0].contains("请求数"),
            "{t}"
        );
        assert!(
            lines[2].starts_with("合计") && lines[2].ends_with("$0.0012 + 未知"),
            "{t}"
        );
        assert!(lines[3].contains("没有价格"), "{t}");
        // The heading and a row end at the same cell (the total's "+ 未知" is longer).
        assert_eq!(lines[0].width(), lines[1].width(), "{t}");
        let before = |l: &str| l[..l.find("300").unwrap_or(0)].width();
        assert_eq!(before(lines[1]), before(lines[2]), "{t}");
    }
}
