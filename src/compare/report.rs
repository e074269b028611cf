//! A comparison as the reader gets it: the `--json` object, the Markdown report (`-o FILE`)
//! and the table on standard output (with a bold header on a terminal, plain when piped).
//!
//! Pure: strings and JSON values from a [`Comparison`]; the caller prints or writes them.
//! An unknown figure is `null` in JSON and "—" (nothing to measure) or "unknown" (a cost
//! without a price) in text, never 0.

use serde_json::{Value, json};
use unicode_width::UnicodeWidthStr;

use super::figures::Figures;
use super::judge::{self, Judged, Outcome, Verdict};
use super::{Comparison, Sample, Stopped};
use crate::format::thousands;
use crate::llm::sanitize::sanitize;

/// Milliseconds and speeds are given to a tenth.
fn tenth(x: Option<f64>) -> Value {
    x.map_or(Value::Null, |x| json!((x * 10.0).round() / 10.0))
}

/// The `--json` object: `{"models": [...]}`, with `"judge"` added when a judge was asked
/// (docs/compare.md describes every field).
pub fn json(c: &Comparison) -> Value {
    let models: Vec<Value> = c
        .models
        .iter()
        .map(|m| {
            let f = Figures::of(m);
            let answers: Vec<Value> = m
                .samples
                .iter()
                .map(|s| json!({"run": s.run, "text": s.text, "error": s.error}))
                .collect();
            json!({
                "model": m.model,
                "runs": f.runs,
                "errors": f.errors,
                "ttft_ms": {"median": tenth(f.ttft_ms.0), "p90": tenth(f.ttft_ms.1)},
                "total_ms": {"median": tenth(f.total_ms.0), "p90": tenth(f.total_ms.1)},
                "tokens_per_s": {"median": tenth(f.tokens_per_s)},
                "tokens": {"prompt": f.prompt_tokens, "completion": f.completion_tokens},
                "cost_usd": {"per_answer": f.cost_per_answer, "per_1k": f.cost_per_1k()},
                "answers": answers,
            })
        })
        .collect();
    let mut out = json!({ "models": models });
    if let (Some(j), Some(map)) = (&c.judge, out.as_object_mut()) {
        map.insert("judge".to_string(), judge_json(c, j));
    }
    out
}

fn judge_json(c: &Comparison, j: &Judged) -> Value {
    let name = |i: usize| c.models.get(i).map_or("", |m| m.model.as_str());
    let verdicts: Vec<Value> = j
        .judgements
        .iter()
        .map(|v| {
            let (verdict, reason, error) = match &v.outcome {
                Outcome::Verdict(x, r) => (Some(letter(*x)), Some(r.as_str()), None),
                Outcome::NoVerdict(raw) => (None, Some(raw.as_str()), None),
                Outcome::Failed(e) => (None, None, Some(e.as_str())),
            };
            let winner = match (&v.outcome, v.winner()) {
                (_, Some(w)) => json!(name(w)),
                (Outcome::Verdict(Verdict::Tie, _), None) => json!("tie"),
                _ => Value::Null,
            };
            json!({
                "a": name(v.a), "b": name(v.b), "verdict": verdict, "winner": winner,
                "reason": reason, "error": error,
            })
        })
        .collect();
    let wins: serde_json::Map<String, Value> = c
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.model.clone(), json!(j.wins(i))))
        .collect();
    let (ties, no_verdict, errors) = j.counts();
    json!({
        "model": j.model,
        "note": judge::OPINION,
        "verdicts": verdicts,
        "wins": wins,
        "ties": ties,
        "no_verdict": no_verdict,
        "errors": errors,
        "notes": j.notes,
    })
}

fn letter(v: Verdict) -> &'static str {
    match v {
        Verdict::A => "A",
        Verdict::B => "B",
        Verdict::Tie => "tie",
    }
}

/// A duration: "420 ms", "2.1 s"; "—" when there is nothing to measure.
pub fn duration(ms: Option<f64>) -> String {
    match ms {
        None => "—".to_string(),
        Some(ms) if ms < 1000.0 => format!("{ms:.0} ms"),
        Some(ms) => format!("{:.1} s", ms / 1000.0),
    }
}

fn usd(cost: Option<f64>, f: &Figures) -> String {
    match cost {
        _ if f.answers() == 0 => "—".to_string(),
        None => tr!("compare.unknown").into_owned(),
        Some(c) => crate::format::usd(Some(c)),
    }
}

/// The rows of figures, a cell per model.
fn figure_rows(c: &Comparison) -> Vec<(String, Vec<String>)> {
    let figures: Vec<Figures> = c.models.iter().map(Figures::of).collect();
    let row = |label: std::borrow::Cow<str>, cell: &dyn Fn(&Figures) -> String| {
        (label.into_owned(), figures.iter().map(cell).collect())
    };
    vec![
        row(tr!("compare.row.runs"), &|f| {
            format!("{} ({})", f.runs, f.errors)
        }),
        row(tr!("compare.row.ttft_median"), &|f| duration(f.ttft_ms.0)),
        row(tr!("compare.row.ttft_p90"), &|f| duration(f.ttft_ms.1)),
        row(tr!("compare.row.total_median"), &|f| duration(f.total_ms.0)),
        row(tr!("compare.row.total_p90"), &|f| duration(f.total_ms.1)),
        row(tr!("compare.row.speed"), &|f| {
            f.tokens_per_s
                .map_or("—".to_string(), |x| format!("{x:.1}"))
        }),
        row(
            tr!("compare.row.tokens"),
            &|f| match (f.prompt_tokens, f.completion_tokens) {
                (Some(i), Some(o)) => format!("{} / {}", thousands(i), thousands(o)),
                _ => "—".to_string(),
            },
        ),
        row(tr!("compare.row.cost"), &|f| usd(f.cost_per_answer, f)),
        row(tr!("compare.row.per_1k"), &|f| usd(f.cost_per_1k(), f)),
    ]
}

/// One answer's figures on a line, as the app's compare view shows them under each pane:
/// "first token 420 ms · total 2.3 s · 52.1 tok/s · 812 in / 145 out · $0.000209" (the cost
/// "unknown" when the model has no price). The same [`Figures`] and wording as the table.
pub fn figures_line(f: &Figures) -> String {
    let speed = f
        .tokens_per_s
        .map_or("—".to_string(), |x| format!("{x:.1}"));
    let tokens = match (f.prompt_tokens, f.completion_tokens) {
        (Some(i), Some(o)) => tr!(
            "compare.line.tokens",
            input = thousands(i),
            output = thousands(o)
        ),
        _ => tr!("compare.line.no_tokens"),
    };
    tr!(
        "compare.line",
        ttft = duration(f.ttft_ms.0),
        total = duration(f.total_ms.0),
        speed = speed,
        tokens = tokens,
        cost = usd(f.cost_per_answer, f)
    )
    .into_owned()
}

/// Every run that gave no complete answer: "model, run 2: why".
fn errors(c: &Comparison) -> Vec<String> {
    c.models
        .iter()
        .flat_map(|m| {
            m.samples.iter().filter_map(move |s| {
                s.error.as_ref().map(|e| {
                    tr!("compare.error", model = m.model, run = s.run, error = e).into_owned()
                })
            })
        })
        .collect()
}

fn stopped_text(s: &Stopped) -> String {
    match s {
        Stopped::Budget(why) => tr!("compare.stopped.budget", why = why).into_owned(),
        Stopped::ByYou => tr!("compare.stopped.by_you").into_owned(),
    }
}

/// The table (figures as rows, one column a model), the errors, and the judge's counts and
/// reasons, for standard output. On a terminal the header is bold and model text is made
/// safe to show; through a pipe it is plain.
pub fn table(c: &Comparison, tty: bool) -> String {
    let clean = |t: &str| if tty { sanitize(t) } else { t.to_string() };
    let rows = figure_rows(c);
    let names: Vec<String> = c.models.iter().map(|m| clean(&m.model)).collect();
    let label_w = rows.iter().map(|(l, _)| l.width()).max().unwrap_or(0);
    let widths: Vec<usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            rows.iter()
                .map(|(_, cells)| cells[i].width())
                .chain([n.width()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |label: &str, cells: &[String]| {
        let mut s = format!("{label}{}", " ".repeat(label_w - label.width()));
        for (cell, w) in cells.iter().zip(&widths) {
            s.push_str("  ");
            s.push_str(&" ".repeat(w.saturating_sub(cell.width())));
            s.push_str(cell);
        }
        s.trim_end().to_string()
    };
    let mut out = String::new();
    let header = line("", &names);
    if tty {
        out.push_str(&format!("\x1b[1m{header}\x1b[0m\n"));
    } else {
        out.push_str(&header);
        out.push('\n');
    }
    for (label, cells) in &rows {
        out.push_str(&line(label, cells));
        out.push('\n');
    }
    let errs = errors(c);
    if !errs.is_empty() {
        out.push_str(&format!("\n{}\n", tr!("compare.errors")));
        for e in errs {
            out.push_str(&format!("  {}\n", clean(&e)));
        }
    }
    if let Some(j) = &c.judge {
        out.push('\n');
        out.push_str(&clean(&tr!(
            "compare.judge.line",
            model = j.model,
            counts = judge_counts(c, j)
        )));
        out.push('\n');
        for v in &j.judgements {
            out.push_str(&clean(&format!("  {}\n", judgement_line(c, v))));
        }
        for n in &j.notes {
            out.push_str(&clean(&format!("  {}\n", tr!("cli.note", text = n))));
        }
        out.push_str(&format!("  {}\n", tr!("compare.opinion")));
    }
    if let Some(s) = &c.stopped {
        out.push_str(&format!("\n{}\n", clean(&stopped_text(s))));
    }
    out
}

/// "a 1 win, b 3 wins; 0 ties, 0 without a verdict".
fn judge_counts(c: &Comparison, j: &Judged) -> String {
    let wins: Vec<String> = c
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let n = j.wins(i);
            match n {
                1 => tr!("compare.judge.win_one", model = m.model, count = n),
                _ => tr!("compare.judge.win_other", model = m.model, count = n),
            }
            .into_owned()
        })
        .collect();
    let (ties, none, failed) = j.counts();
    let ties = match ties {
        1 => tr!("compare.judge.tie_one", count = ties),
        _ => tr!("compare.judge.tie_other", count = ties),
    };
    let mut s = tr!(
        "compare.judge.counts",
        wins = wins.join(tr!("compare.list_sep").as_ref()),
        ties = ties,
        none = none
    )
    .into_owned();
    if failed > 0 {
        s.push_str(&tr!("compare.judge.failed", count = failed));
    }
    s
}

/// "a (A) vs b (B): B, b wins — reason" on one line.
fn judgement_line(c: &Comparison, v: &judge::Judgement) -> String {
    let name = |i: usize| c.models.get(i).map_or("?", |m| m.model.as_str());
    let head = format!("{} (A) vs {} (B)", name(v.a), name(v.b));
    let one_line = |t: &str| {
        let folded = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if folded.chars().count() > 160 {
            format!("{}…", folded.chars().take(159).collect::<String>())
        } else {
            folded
        }
    };
    match (&v.outcome, v.winner()) {
        (Outcome::Verdict(_, r), Some(w)) => tr!(
            "compare.judge.wins",
            pair = head,
            model = name(w),
            reason = one_line(r)
        ),
        (Outcome::Verdict(_, r), None) => {
            tr!("compare.judge.tie", pair = head, reason = one_line(r))
        }
        (Outcome::NoVerdict(raw), _) => {
            tr!(
                "compare.judge.no_verdict",
                pair = head,
                reply = one_line(raw)
            )
        }
        (Outcome::Failed(e), _) => tr!("compare.judge.not_judged", pair = head, error = e),
    }
    .into_owned()
}

/// A fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn answer_heading(s: &Sample) -> String {
    match (&s.error, s.total_ms) {
        (None, total) => tr!("compare.md.run", run = s.run, time = duration(total)),
        (Some(e), _) => tr!(
            "compare.md.run_failed",
            run = s.run,
            error = e.replace('\n', " ")
        ),
    }
    .into_owned()
}

/// The Markdown report: the prompt, the figures, every answer per model, the judge's
/// verdicts, and the settings it was made with.
pub fn markdown(c: &Comparison) -> String {
    let mut md = format!("# {}\n\n", tr!("compare.md.title"));
    md.push_str(&tr!(
        "compare.md.made",
        date = c.settings.date,
        runs = c.settings.runs
    ));
    md.push_str("\n\n");
    if let Some(s) = &c.stopped {
        md.push_str(&format!("**{}.**\n\n", stopped_text(s)));
    }
    md.push_str(&format!("## {}\n\n", tr!("compare.md.prompt")));
    if let Some(system) = &c.system {
        let f = fence(system);
        let label = tr!("compare.md.system");
        md.push_str(&format!("{label}\n\n{f}text\n{system}\n{f}\n\n"));
    }
    let f = fence(&c.prompt);
    md.push_str(&format!("{f}text\n{}\n{f}\n\n", c.prompt));
    if !c.settings.documents.is_empty() {
        md.push_str(&tr!(
            "compare.md.documents",
            list = c.settings.documents.join(", ")
        ));
        md.push_str("\n\n");
    }

    md.push_str(&format!("## {}\n\n|  |", tr!("compare.md.figures")));
    for m in &c.models {
        md.push_str(&format!(" {} |", cell(&m.model)));
    }
    md.push_str("\n|---|");
    md.push_str(&"---:|".repeat(c.models.len()));
    md.push('\n');
    for (label, cells) in figure_rows(c) {
        md.push_str(&format!("| {label} |"));
        for x in cells {
            md.push_str(&format!(" {} |", cell(&x)));
        }
        md.push('\n');
    }
    md.push_str(&format!("\n{}\n", tr!("compare.md.figures_note")));
    let errs = errors(c);
    if !errs.is_empty() {
        md.push_str(&format!("\n### {}\n\n", tr!("compare.md.errors")));
        for e in errs {
            md.push_str(&format!("- {}\n", e.replace('\n', " ")));
        }
    }

    md.push_str(&format!("\n## {}\n", tr!("compare.md.answers")));
    for m in &c.models {
        md.push_str(&format!("\n### {}\n", m.model));
        if m.samples.is_empty() {
            md.push_str(&format!("\n{}\n", tr!("compare.md.no_runs")));
        }
        for (i, s) in m.samples.iter().enumerate() {
            md.push_str(&format!("\n#### {}\n\n", answer_heading(s)));
            // A text given before (a model at temperature 0 often repeats itself) is named,
            // not printed again.
            let same = m.samples[..i]
                .iter()
                .find(|e| !s.text.trim().is_empty() && e.text == s.text);
            if let Some(earlier) = same {
                md.push_str(&format!("{}\n", tr!("compare.md.same", run = earlier.run)));
            } else if !s.text.trim().is_empty() {
                md.push_str(s.text.trim_end());
                md.push('\n');
            } else if s.error.is_none() {
                md.push_str(&format!("{}\n", tr!("compare.md.empty")));
            }
        }
    }

    if let Some(j) = &c.judge {
        md.push_str(&format!(
            "\n## {}\n\n",
            tr!("compare.md.judge", model = j.model)
        ));
        md.push_str(&format!("> {}\n\n", tr!("compare.opinion")));
        md.push_str(&format!("{}\n\n", tr!("compare.md.both_orders")));
        md.push_str(&tr!("compare.md.in_all", counts = judge_counts(c, j)));
        md.push_str("\n\n");
        md.push_str(&format!(
            "{}\n|---|---|---:|---:|---:|\n",
            tr!("compare.md.tally_head")
        ));
        for t in j.tallies() {
            let (x, y) = (&c.models[t.x].model, &c.models[t.y].model);
            let split = if t.split() {
                tr!("compare.md.split")
            } else {
                std::borrow::Cow::Borrowed("")
            };
            md.push_str(&format!(
                "| {} vs {} | {} {}, {} {}{split} | {} | {} | {} |\n",
                cell(x),
                cell(y),
                cell(x),
                t.x_wins,
                cell(y),
                t.y_wins,
                t.ties,
                t.no_verdict,
                t.failed
            ));
        }
        for v in &j.judgements {
            let name = |i: usize| c.models.get(i).map_or("?", |m| m.model.as_str());
            md.push_str(&format!("\n### {} (A) vs {} (B)\n\n", name(v.a), name(v.b)));
            match (&v.outcome, v.winner()) {
                (Outcome::Verdict(_, r), w) => {
                    let said = w.map_or(tr!("compare.md.a_tie"), |w| {
                        tr!("compare.md.wins", model = name(w))
                    });
                    md.push_str(&tr!("compare.md.verdict", said = said));
                    md.push_str(&format!("\n\n{}\n", r.trim()));
                }
                (Outcome::NoVerdict(raw), _) => md.push_str(&format!(
                    "{}\n\n{}\n",
                    tr!("compare.md.no_verdict"),
                    raw.trim()
                )),
                (Outcome::Failed(e), _) => {
                    md.push_str(&format!("{}\n", tr!("compare.md.not_judged", error = e)))
                }
            }
        }
        for n in &j.notes {
            md.push_str(&format!("\n{}\n", tr!("compare.md.note", text = n)));
        }
    }

    let s = &c.settings;
    md.push_str(&format!("\n## {}\n\n", tr!("compare.md.settings")));
    let item = |text: std::borrow::Cow<str>| format!("- {text}\n");
    md.push_str(&item(tr!("compare.md.endpoint", url = s.base_url)));
    md.push_str(&item(tr!("compare.md.date", date = s.date)));
    md.push_str(&item(tr!("compare.md.runs", runs = s.runs)));
    md.push_str(&item(tr!("compare.md.models", list = s.models.join(", "))));
    if let Some(j) = &s.judge {
        md.push_str(&item(tr!("compare.md.judge_model", model = j)));
    }
    if let Some(t) = &s.template {
        md.push_str(&item(tr!("compare.md.template", name = t)));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_answers_figures_line_names_an_unknown_price() {
        let runs = |cost| ModelRuns {
            model: "m".into(),
            samples: vec![Sample {
                run: 1,
                text: "a".into(),
                error: None,
                ttft_ms: Some(420.0),
                total_ms: Some(2310.0),
                prompt_tokens: Some(1812),
                completion_tokens: Some(145),
                cost_usd: cost,
            }],
            gave_up: None,
        };
        assert_eq!(
            figures_line(&Figures::of(&runs(Some(0.000209)))),
            "first token 420 ms · total 2.3 s · 76.7 tok/s · 1,812 in / 145 out · $0.000209"
        );
        assert!(figures_line(&Figures::of(&runs(None))).ends_with("145 out · unknown"));
    }
    use crate::compare::judge::Judgement;
    use crate::compare::{ModelRuns, Settings};

    fn sample(run: usize, text: &str, ttft: f64, total: f64, cost: Option<f64>) -> Sample {
        Sample {
            run,
            text: text.into(),
            error: None,
            ttft_ms: Some(ttft),
            total_ms: Some(total),
            prompt_tokens: Some(1200),
            completion_tokens: Some(300),
            cost_usd: cost,
        }
    }

    fn comparison() -> Comparison {
        Comparison {
            prompt: "What is the hotel limit in Shanghai?".into(),
            system: None,
            models: vec![
                ModelRuns {
                    model: "gpt-4o-mini".into(),
                    samples: vec![
                        sample(1, "CNY 800 a night.", 420.04, 2100.0, Some(0.0004)),
                        sample(2, "CNY 800.", 380.0, 1900.0, Some(0.0002)),
                    ],
                    gave_up: None,
                },
                ModelRuns {
                    model: "llama3.2".into(),
                    samples: vec![
                        sample(1, "800 yuan", 90.0, 1500.0, None),
                        Sample {
                            run: 2,
                            error: Some("rate limited (HTTP 429)".into()),
                            ..Sample::default()
                        },
                    ],
                    gave_up: None,
                },
            ],
            judge: None,
            stopped: None,
            settings: Settings {
                base_url: "http://127.0.0.1:9/v1".into(),
                date: "2026-12-06 14:05".into(),
                runs: 2,
                models: vec!["gpt-4o-mini".into(), "llama3.2".into()],
                ..Settings::default()
            },
        }
    }

    #[test]
    fn the_json_has_the_documented_shape_and_unknown_is_null() {
        let v = json(&comparison());
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, vec!["models"], "no judge asked: models only");
        // (The exact keys of a model are checked end to end in tests/compare.rs.)
        let m = &v["models"][0];
        assert_eq!(m["ttft_ms"]["median"], 400.0);
        assert_eq!(m["ttft_ms"]["p90"], 420.0);
        assert_eq!(m["tokens"]["prompt"], 1200);
        assert!((m["cost_usd"]["per_1k"].as_f64().unwrap() - 0.3).abs() < 1e-9);
        assert_eq!(
            m["answers"][0],
            json!({"run": 1, "text": "CNY 800 a night.", "error": null})
        );
        let l = &v["models"][1];
        assert_eq!(
            (l["runs"].as_u64(), l["errors"].as_u64()),
            (Some(2), Some(1))
        );
        assert!(l["cost_usd"]["per_answer"].is_null(), "unknown, never 0");
        assert!(l["cost_usd"]["per_1k"].is_null());
        assert_eq!(l["answers"][1]["error"], "rate limited (HTTP 429)");
        assert_eq!(l["answers"][1]["text"], "");
    }

    #[test]
    fn the_table_is_plain_when_piped_and_says_unknown() {
        let t = table(&comparison(), false);
        assert!(!t.contains('\x1b'), "{t}");
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].trim_start().starts_with("gpt-4o-mini"), "{t}");
        assert!(lines[0].ends_with("llama3.2"), "{t}");
        assert!(t.contains("runs (errors)"), "{t}");
        let cost = lines
            .iter()
            .find(|l| l.starts_with("cost per answer"))
            .unwrap();
        assert!(
            cost.contains("$0.000300") && cost.ends_with("unknown"),
            "{cost}"
        );
        assert!(
            t.contains("llama3.2, run 2: rate limited (HTTP 429)"),
            "{t}"
        );
        // Columns line up: right-aligned, every row of the table ends at the same column.
        let w = lines[0].width();
        assert!(lines[..10].iter().all(|l| l.width() == w), "{t}");
        let tty = table(&comparison(), true);
        assert!(tty.starts_with("\x1b[1m"), "{tty}");
    }

    #[test]
    fn the_markdown_has_the_prompt_figures_answers_judge_and_settings() {
        let mut c = comparison();
        c.judge = Some(Judged {
            model: "gpt-4o".into(),
            judgements: vec![
                Judgement {
                    a: 0,
                    b: 1,
                    outcome: Outcome::Verdict(Verdict::A, "A names the currency.".into()),
                },
                Judgement {
                    a: 1,
                    b: 0,
                    outcome: Outcome::NoVerdict("They are both fine I guess".into()),
                },
            ],
            notes: vec![],
        });
        let md = markdown(&c);
        let order = [
            "## Prompt",
            "What is the hotel limit in Shanghai?",
            "## Figures",
            "| runs (errors) | 2 (0) | 2 (1) |",
            "## Answers",
            "### gpt-4o-mini",
            "CNY 800 a night.",
            "### llama3.2",
            "#### Run 2: rate limited (HTTP 429)",
            "## Judge: gpt-4o",
            judge::OPINION,
            "| gpt-4o-mini vs llama3.2 | gpt-4o-mini 1, llama3.2 0 | 0 | 1 | 0 |",
            "Verdict: **gpt-4o-mini wins**.",
            "They are both fine I guess",
            "## Settings",
            "- endpoint: http://127.0.0.1:9/v1",
            "- date: 2026-12-06 14:05",
            "- models: gpt-4o-mini, llama3.2",
        ];
        let mut from = 0;
        for want in order {
            let at = md[from..]
                .find(want)
                .unwrap_or_else(|| panic!("{want:?} missing after {from}:\n{md}"));
            from += at + want.len();
        }
        let v = json(&c);
        assert_eq!(v["judge"]["wins"]["gpt-4o-mini"], 1);
        assert_eq!(v["judge"]["no_verdict"], 1);
        assert_eq!(v["judge"]["verdicts"][0]["winner"], "gpt-4o-mini");
        assert_eq!(v["judge"]["verdicts"][1]["verdict"], Value::Null);
        assert_eq!(
            v["judge"]["verdicts"][1]["reason"],
            "They are both fine I guess"
        );
    }

    #[test]
    fn the_table_and_the_markdown_follow_the_interface_language() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let t = table(&comparison(), false);
        let lines: Vec<&str> = t.lines().collect();
        assert!(t.contains("运行次数（错误）"), "{t}");
        let cost = lines
            .iter()
            .find(|l| l.starts_with("每个回答的费用"))
            .unwrap();
        assert!(cost.ends_with("未知"), "{cost}");
        assert!(
            t.contains("llama3.2，第 2 次运行：rate limited (HTTP 429)"),
            "{t}"
        );
        // Columns still line up, with labels two cells a character wide.
        let w = lines[0].width();
        assert!(lines[..10].iter().all(|l| l.width() == w), "{t}");
        let mut c = comparison();
        c.judge = Some(Judged {
            model: "gpt-4o".into(),
            judgements: vec![Judgement {
                a: 0,
                b: 1,
                outcome: Outcome::Verdict(Verdict::A, "A names the currency.".into()),
            }],
            notes: vec![],
        });
        let md = markdown(&c);
        for want in [
            "# 模型对比",
            "## 提示词",
            "## 数据",
            "| 运行次数（错误） | 2 (0) | 2 (1) |",
            "## 回答",
            "#### 第 2 次运行：rate limited (HTTP 429)",
            "## 评判模型：gpt-4o",
            "| 对比 | 胜 | 平局 | 无结论 | 失败 |",
            "结论：**gpt-4o-mini 胜**。",
            "## 设置",
            "- 端点：http://127.0.0.1:9/v1",
        ] {
            assert!(md.contains(want), "{want:?} missing:\n{md}");
        }
        let table = table(&c, false);
        assert!(
            table.contains("评判模型 gpt-4o（每对回答按两种顺序各评一次）：gpt-4o-mini 胜 1 次"),
            "{table}"
        );
    }

    #[test]
    fn a_text_repeated_by_a_later_run_is_named_not_printed_again() {
        let mut c = comparison();
        c.models[0].samples[1].text = "CNY 800 a night.".into();
        let md = markdown(&c);
        assert_eq!(md.matches("CNY 800 a night.").count(), 1, "{md}");
        assert!(
            md.contains("#### Run 2 (1.9 s)\n\n(the same text as run 1)\n"),
            "{md}"
        );
    }

    #[test]
    fn a_prompt_with_backticks_gets_a_longer_fence() {
        assert_eq!(fence("plain"), "```");
        assert_eq!(fence("a ```rust``` b"), "````");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
