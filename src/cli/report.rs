//! How `clerk ask` (and a single-prompt `clerk run` sent through it) ends: the JSON object
//! or the status line, the exit code, and for an answer grounded on a knowledge base the
//! passages it cites (or, when it cites none, that the procedures do not cover it, with the
//! passages listed to read).

use serde_json::json;

use super::output::{self, for_stdout, money};
use super::{CliError, Ctx, Exit};
use crate::chat::{Driven, End};
use crate::knowledge::cite::{place, sources_heading};
use crate::knowledge::ground::Grounded;
use crate::llm::{Answer, AnswerStatus};

/// How the streaming part ended.
pub(super) enum Outcome {
    Answered(Answer, Option<String>),
    Failed(crate::llm::LlmError),
    Stopped {
        text: String,
        signal: Exit,
        save_error: Option<String>,
    },
}

impl From<Driven> for Outcome {
    fn from(d: Driven) -> Outcome {
        match d.end {
            End::Answered(answer) => Outcome::Answered(answer, d.save_error),
            End::Failed(e) => Outcome::Failed(e),
            End::Stopped(answer) => Outcome::Stopped {
                text: answer.text,
                signal: Exit::Interrupted,
                save_error: d.save_error,
            },
            End::Lost(answer) => Outcome::Stopped {
                text: answer.text,
                signal: Exit::Failure,
                save_error: Some(tr!("cli.report.task_lost").into_owned()),
            },
        }
    }
}

/// What the end of an answer is reported with.
pub(super) struct Ending<'a> {
    /// The model asked.
    pub model: &'a str,
    /// `--json`.
    pub json: bool,
    /// The session, when saved.
    pub session_id: Option<i64>,
    /// Earlier messages left out to fit.
    pub omitted: usize,
    /// Parts a long document was read in.
    pub parts: Option<usize>,
    /// The passages the answer was grounded on (`clerk ask --kb`).
    pub grounded: Option<&'a Grounded>,
}

/// Report how the answer ended: the JSON object or the status line, the sources of a
/// grounded answer, and the exit code.
pub(super) fn report(ctx: &Ctx, end: &Ending<'_>, outcome: Outcome) -> Result<Exit, CliError> {
    let Ending {
        model,
        json,
        session_id,
        omitted,
        parts,
        grounded,
    } = *end;
    match outcome {
        Outcome::Answered(answer, save_error) => {
            tracing::info!(
                status = answer.status.as_str(),
                tokens_out = answer.usage.map(|u| u.output),
                ms = answer.duration.as_millis() as u64,
                "answer"
            );
            let info = ctx.config.models.get(model);
            let cost = answer
                .usage
                .and_then(|u| info.and_then(|i| i.cost(u.input, u.cached, u.output)));
            if json {
                let v = json!({
                    "session_id": session_id,
                    "answer": answer.text,
                    "status": answer.status.as_str(),
                    "reason": answer.reason,
                    "finish_reason": answer.finish_reason,
                    "model": answer.model.clone().unwrap_or_else(|| model.to_string()),
                    "usage": answer.usage.map(|u| json!({"input_tokens": u.input, "cached_tokens": u.cached, "output_tokens": u.output})),
                    "cost_usd": cost,
                    "timings": {"ttft_ms": answer.ttft.map(|d| d.as_millis() as u64), "total_ms": answer.duration.as_millis() as u64},
                    "omitted_messages": omitted,
                    "parts": parts,
                    "malformed_chunks": answer.malformed,
                });
                println!("{}", with_grounding(v, ctx, grounded, &answer.text));
            } else {
                if let Some(g) = grounded {
                    print_sources(g, &answer.text);
                }
            }
            if !json && output::stderr_is_tty() {
                let tokens = answer
                    .usage
                    .map(|u| {
                        tr!(
                            "cli.report.tokens",
                            input = crate::format::thousands(u.input),
                            output = crate::format::thousands(u.output)
                        )
                        .into_owned()
                    })
                    .unwrap_or_else(|| tr!("cli.report.no_usage").into_owned());
                let line = tr!(
                    "cli.report.status_line",
                    model = model,
                    tokens = tokens,
                    cost = money(cost),
                    seconds = format!("{:.1}", answer.duration.as_secs_f64())
                );
                eprintln!("\x1b[2m{line}\x1b[0m");
            }
            if answer.malformed > 0 {
                let text = tr!("cli.report.malformed", count = answer.malformed);
                eprintln!("{}", tr!("cli.warning", text = text));
            }
            if let Some(e) = save_error {
                eprintln!("clerk: {}", tr!("cli.report.not_saved", error = e));
                return Ok(Exit::Failure);
            }
            match answer.status {
                AnswerStatus::Complete => {
                    if let Some(note) = &answer.reason {
                        let note = crate::chat::record::shown_reason(note);
                        let text = crate::llm::sanitize::sanitize(&note);
                        eprintln!("{}", tr!("cli.note", text = text));
                    }
                    Ok(Exit::Ok)
                }
                _ => {
                    let how = match answer.status {
                        AnswerStatus::Truncated => tr!("cli.report.truncated"),
                        AnswerStatus::Interrupted => tr!("cli.report.interrupted"),
                        _ => tr!("cli.report.failed"),
                    };
                    eprintln!(
                        "clerk: {how}: {}",
                        crate::llm::sanitize::sanitize(&crate::chat::record::shown_reason(
                            &answer.reason.unwrap_or_default()
                        ))
                    );
                    Ok(Exit::Incomplete)
                }
            }
        }
        Outcome::Failed(e) => {
            if json {
                let v = json!({"session_id": session_id, "status": "error", "error": e.to_string(), "answer": ""});
                println!("{}", with_grounding(v, ctx, grounded, ""));
            }
            Err(e.into())
        }
        Outcome::Stopped {
            text,
            signal,
            save_error,
        } => {
            if json {
                let v = json!({"session_id": session_id, "status": "interrupted", "reason": "stopped by you", "answer": text});
                println!("{}", with_grounding(v, ctx, grounded, &text));
            }
            if let Some(e) = save_error {
                eprintln!("clerk: {e}");
            }
            eprintln!("clerk: {}", tr!("cli.report.stopped"));
            Ok(signal)
        }
    }
}

/// `v` with the grounding's keys when the answer was grounded: `found` (the passages
/// answer the question and the answer cites one), `citations`, the `passages` sent, the
/// `restatements` searched and the `retrieval_requests` made.
pub(super) fn with_grounding(
    mut v: serde_json::Value,
    ctx: &Ctx,
    grounded: Option<&Grounded>,
    answer: &str,
) -> serde_json::Value {
    let (Some(g), Some(map)) = (grounded, v.as_object_mut()) else {
        return v;
    };
    let citations = g.citations(answer);
    map.insert("found".into(), json!(g.found() && !citations.is_empty()));
    map.insert("citations".into(), json!(citations));
    for (k, x) in grounding_json(ctx, g) {
        map.insert(k, x);
    }
    v
}

/// The passages, restatements and requests of a retrieval, as JSON keys.
pub(super) fn grounding_json(
    ctx: &Ctx,
    g: &Grounded,
) -> serde_json::Map<String, serde_json::Value> {
    let passages: Vec<serde_json::Value> = g
        .hits()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            json!({"n": i + 1, "base": h.base, "path": h.path, "section": h.section,
                   "page": h.page, "text": h.text})
        })
        .collect();
    let mut map = serde_json::Map::new();
    map.insert("passages".into(), json!(passages));
    map.insert("restatements".into(), json!(g.restatements));
    let requests: Vec<serde_json::Value> = g
        .requests
        .iter()
        .map(|r| {
            let cost = r.usage.and_then(|u| {
                ctx.config
                    .models
                    .get(&r.model)
                    .and_then(|i| i.cost(u.input, u.cached, u.output))
            });
            let usage = r.usage.map(|u| {
                json!({"input_tokens": u.input, "cached_tokens": u.cached, "output_tokens": u.output})
            });
            json!({"purpose": r.purpose, "model": r.model, "usage": usage, "cost_usd": cost,
                   "error": r.error})
        })
        .collect();
    map.insert("retrieval_requests".into(), json!(requests));
    map
}

/// After a grounded answer, on stdout: the passages it cites (file › section, page), or,
/// when it cites none, that the procedures do not cover it and the passages to read.
pub(super) fn print_sources(g: &Grounded, answer: &str) {
    let tty = output::stdout_is_tty();
    let cited = g.citations(answer);
    if !cited.is_empty() {
        println!("\n{}:", sources_heading(&g.question));
        for c in &cited {
            println!("[{}] {}", c.n, for_stdout(&c.place(), tty));
        }
        return;
    }
    println!("\n{}", crate::knowledge::cite::cites_none_in(&g.language));
    print_passages(g.hits(), tty);
}

/// "not found in the procedures" (in the question's language) and the closest passages,
/// on stdout: nothing was sent.
pub(super) fn print_not_found(g: &Grounded) {
    println!("{}", g.not_found_text());
    if !g.hits().is_empty() {
        println!("\n{}", tr!("cli.kb.closest"));
        print_passages(g.hits(), output::stdout_is_tty());
    }
}

/// Passages numbered from 1, with their place and the start of their text.
pub(super) fn print_passages(hits: &[crate::knowledge::Hit], tty: bool) {
    for (i, h) in hits.iter().enumerate() {
        println!(
            "[{}] {}",
            i + 1,
            for_stdout(&place(&h.path, &h.section, h.page), tty)
        );
        println!(
            "{}",
            output::passage_excerpt(&h.text, 300, tty.then(|| output::text_width(true)))
        );
    }
}
