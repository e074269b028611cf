//! The app's document work, run off the UI's path: reading files to attach, checking a
//! message before it is sent (secrets, size, cost), and setting up a long message to be
//! read in parts.

use std::sync::Arc;

use crate::app::attach::{Attached, Check, FileMeta, LongSend, Outgoing, found_of};
use crate::config::{DocumentsConfig, ModelInfo};
use crate::documents::summarize::{self, Job, Settings, Strategy};
use crate::documents::{extract, secrets};
use crate::llm::context::count_tokens;
use crate::llm::{ChatMessage, ChatRole};

/// `~/x` → `$HOME/x`.
fn expand(path: &str) -> std::path::PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|h| std::path::PathBuf::from(h).join(rest))
            .unwrap_or_else(|| path.into()),
        None => path.into(),
    }
}

/// Read one file for a chip.
pub fn read_attachment(
    path: &str,
    cfg: &DocumentsConfig,
    info: Option<&ModelInfo>,
) -> Result<Attached, String> {
    let doc = extract::extract_file(&expand(path), cfg.max_file_mb.saturating_mul(1024 * 1024))
        .map_err(|e| e.to_string())?;
    let tokens = count_tokens(&doc.text);
    Ok(Attached {
        meta: FileMeta {
            name: doc.name,
            bytes: doc.bytes,
            pages: doc.pages,
            rows: doc.rows,
            cost: info.and_then(|i| i.cost(tokens, 0, 0)),
        },
        text: Arc::from(doc.text),
        tokens,
    })
}

/// Check a message: secrets (when on), tokens against the window, and the cost.
pub fn check(
    out: Outgoing,
    cfg: &DocumentsConfig,
    info: &ModelInfo,
    max_output: Option<u64>,
) -> Check {
    let findings = if cfg.scan_secrets {
        secrets::scan(&out.text)
    } else {
        Vec::new()
    };
    let redacted = (!findings.is_empty()).then(|| Arc::from(secrets::redact(&out.text, &findings)));
    let settings = Settings::for_model(cfg, info, max_output);
    let tokens = count_tokens(&out.text);
    let room = settings.room();
    let (parts, cost) = if room.is_some_and(|r| tokens > r) {
        let (frame, docs) = split_for_parts(&out.question, &out.docs, &out.text);
        let measured = summarize::measure_all(docs, &settings);
        let frame_tokens = count_tokens(&frame);
        let strategy = summarize::strategy(&measured, frame_tokens, &settings);
        let estimate = summarize::estimate(&strategy, &measured, frame_tokens, &settings);
        let parts = match &strategy {
            Strategy::Parts(p) => p.len(),
            Strategy::Whole => 1,
        };
        (Some((parts, estimate.requests)), estimate.cost(Some(info)))
    } else {
        (None, info.cost(tokens, 0, 800.min(settings.reserve)))
    };
    let limit = cfg.confirm_above_usd;
    Check {
        seq: out.seq,
        found: found_of(&findings),
        redacted,
        tokens,
        room,
        parts,
        over_limit: cost.is_some_and(|c| c > limit),
        cost,
        limit,
        redact: None,
        outgoing: out,
    }
}

/// The question and the documents of a long message (a typed message with no chips is
/// itself the document).
fn split_for_parts(
    question: &str,
    docs: &[(String, Arc<str>)],
    text: &str,
) -> (String, Vec<(String, String)>) {
    if docs.is_empty() {
        (
            String::new(),
            vec![("your message".to_string(), text.to_string())],
        )
    } else {
        (
            question.to_string(),
            docs.iter()
                .map(|(n, t)| (n.clone(), t.to_string()))
                .collect(),
        )
    }
}

/// What a long message becomes: one request with the start of the documents, or a job that
/// reads them in parts. `messages` is the conversation as prepared (system first, the new
/// question last).
pub enum LongWork {
    /// Send this message instead of the last one.
    First(String, u64),
    /// Read in parts.
    Parts(Box<Job>),
}

/// Set up a long message (the slow steps: redaction, counting).
pub fn long_work(
    long: LongSend,
    messages: &[ChatMessage],
    model: &str,
    cfg: &DocumentsConfig,
    info: &ModelInfo,
    max_output: Option<u64>,
) -> LongWork {
    let settings = Settings::for_model(cfg, info, max_output);
    let scrub = |t: &str| -> String {
        if long.redact {
            secrets::redact(t, &secrets::scan(t))
        } else {
            t.to_string()
        }
    };
    let question = scrub(&long.question);
    let docs: Vec<(String, String)> = long
        .docs
        .iter()
        .map(|(n, t)| (n.clone(), scrub(t)))
        .collect();
    let mut measured = summarize::measure_all(docs, &settings);
    let q = question.clone();
    let render = Arc::new(move |d: &str| summarize::compose(&q, d));
    if let Some(n) = long.first {
        let cut = summarize::keep_first(&mut measured, n);
        return LongWork::First(render(&summarize::documents_text(&measured)), cut);
    }
    let (system, history) = match messages.first() {
        Some(m) if m.role == ChatRole::System => (Some(m.content.clone()), &messages[1..]),
        _ => (None, messages),
    };
    let history = &history[..history.len().saturating_sub(1)];
    // Recent turns only: the notes need the room.
    let mut kept = Vec::new();
    let mut budget = settings.room().unwrap_or(u64::MAX) / 4;
    for m in history.iter().rev() {
        let t = count_tokens(&m.content);
        if t > budget {
            break;
        }
        budget -= t;
        kept.push(m.clone());
    }
    kept.reverse();
    let frame_tokens = count_tokens(&question)
        + system.as_deref().map(count_tokens).unwrap_or(0)
        + kept.iter().map(|m| count_tokens(&m.content)).sum::<u64>();
    let parts = match summarize::strategy(&measured, frame_tokens, &settings) {
        Strategy::Parts(p) => p,
        // It fits after all (redaction or counting shrank it): send it whole.
        Strategy::Whole => {
            return LongWork::First(render(&summarize::documents_text(&measured)), 0);
        }
    };
    LongWork::Parts(Box::new(Job {
        history: kept,
        model: model.to_string(),
        system,
        max_output_tokens: max_output,
        temperature: None,
        docs: measured,
        parts,
        settings,
        hint: if question.is_empty() {
            "Summarise the document(s).".to_string()
        } else {
            question
        },
        render,
        frame_tokens,
    }))
}
