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

/// Read one file for a chip.
pub fn read_attachment(
    path: &str,
    cfg: &DocumentsConfig,
    info: Option<&ModelInfo>,
) -> Result<Attached, String> {
    let full = super::expand_home(path);
    if std::fs::symlink_metadata(&full).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Err(tr!("app.attach.no_such", path = path).into_owned());
    }
    let doc = extract::extract_file(&full, cfg.max_file_mb.saturating_mul(1024 * 1024))
        .map_err(|e| e.to_string())?;
    let tokens = count_tokens(&doc.text);
    Ok(Attached {
        meta: FileMeta {
            name: doc.name,
            bytes: doc.bytes,
            pages: doc.pages,
            rows: doc.rows,
            sheets: doc.sheets,
            slides: doc.slides,
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
    let (kept, kept_tokens) = summarize::recent_turns(
        history,
        settings.room().unwrap_or(u64::MAX) / 4,
        &count_tokens,
    );
    let frame_tokens =
        count_tokens(&question) + system.as_deref().map(count_tokens).unwrap_or(0) + kept_tokens;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tiny() -> ModelInfo {
        ModelInfo {
            context_window: Some(2_000),
            max_output_tokens: Some(200),
            input_per_million: Some(0.15),
            cached_input_per_million: None,
            output_per_million: Some(0.6),
        }
    }

    fn outgoing(question: &str, doc: &str) -> Outgoing {
        let text = summarize::compose(question, &summarize::document_block("a.txt", doc));
        Outgoing {
            seq: 7,
            text: Arc::from(text),
            question: question.to_string(),
            docs: vec![("a.txt".to_string(), Arc::from(doc))],
            model: "tiny".to_string(),
        }
    }

    fn long_doc() -> String {
        (1..=150)
            .map(|k| format!("Paragraph {k}: receipts are kept for {k} months and claims above the limit go to the finance director.\n\n"))
            .collect()
    }

    /// The app's chips for Office files count sheets and rows, or slides, like a PDF's pages.
    #[test]
    fn office_files_attach_with_their_sheets_or_slides() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/office");
        let cfg = DocumentsConfig::default();
        let a = read_attachment(
            dir.join("libreoffice-budget.xlsx").to_str().unwrap(),
            &cfg,
            Some(&tiny()),
        )
        .unwrap();
        assert_eq!(
            (a.meta.sheets, a.meta.rows, a.meta.slides, a.meta.pages),
            (Some(2), Some(5), None, None)
        );
        assert!(a.text.starts_with("# Sheet: Budget 预算\n"), "{}", a.text);
        assert!(a.tokens > 50 && a.meta.cost.is_some(), "{a:?}");
        let a = read_attachment(
            dir.join("python-pptx-deck.pptx").to_str().unwrap(),
            &cfg,
            None,
        )
        .unwrap();
        assert_eq!((a.meta.slides, a.meta.sheets), (Some(3), None));
        let e =
            read_attachment(dir.join("encrypted.pptx").to_str().unwrap(), &cfg, None).unwrap_err();
        assert!(e.starts_with("encrypted.pptx is password-protected"), "{e}");
    }

    #[test]
    fn a_path_that_is_not_there_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = format!("{}/trav", dir.path().display());
        let e = read_attachment(&path, &DocumentsConfig::default(), None).unwrap_err();
        assert_eq!(e, format!("no such file or folder: {path}"));
    }

    #[test]
    fn a_short_clean_message_is_clear() {
        let c = check(
            outgoing("what?", "short text"),
            &DocumentsConfig::default(),
            &tiny(),
            None,
        );
        assert!(c.is_clear(), "{c:?}");
        assert_eq!(c.seq, 7);
        assert!(c.tokens > 0 && c.room == Some(1_800));
    }

    #[test]
    fn a_long_message_is_planned_in_parts_and_priced() {
        let cfg = DocumentsConfig {
            chunk_tokens: 400,
            ..DocumentsConfig::default()
        };
        let c = check(
            outgoing("what are the limits?", &long_doc()),
            &cfg,
            &tiny(),
            None,
        );
        let (parts, requests) = c.parts.unwrap();
        assert!(parts >= 4, "{parts}");
        assert!(requests > parts);
        assert!(c.cost.unwrap() > 0.0);
        assert!(!c.is_clear());
    }

    #[test]
    fn secrets_are_found_and_a_redacted_copy_is_ready() {
        let key = concat!("AKIA", "IOSFODNN7EXAMPLE");
        let c = check(
            outgoing("check this", &format!("id = {key}\n")),
            &DocumentsConfig::default(),
            &tiny(),
            None,
        );
        assert_eq!(c.found.len(), 1);
        let r = c.redacted.as_deref().unwrap();
        assert!(r.contains("[REDACTED:aws-access-key]") && !r.contains(key));
        let off = DocumentsConfig {
            scan_secrets: false,
            ..DocumentsConfig::default()
        };
        let c = check(
            outgoing("check this", &format!("id = {key}\n")),
            &off,
            &tiny(),
            None,
        );
        assert!(c.found.is_empty(), "the scan can be turned off");
    }

    #[test]
    fn long_work_reads_in_parts_or_keeps_the_start() {
        let cfg = DocumentsConfig {
            chunk_tokens: 400,
            ..DocumentsConfig::default()
        };
        let key = concat!("AKIA", "IOSFODNN7EXAMPLE");
        let doc = format!("{}secret {key}\n", long_doc());
        let long = LongSend {
            question: "what are the limits?".into(),
            docs: vec![("a.txt".into(), Arc::from(doc.as_str()))],
            first: None,
            redact: true,
        };
        let messages = vec![
            ChatMessage {
                role: ChatRole::System,
                content: "be brief".into(),
            },
            ChatMessage {
                role: ChatRole::User,
                content: "earlier question".into(),
            },
            ChatMessage {
                role: ChatRole::Assistant,
                content: "earlier answer".into(),
            },
            ChatMessage {
                role: ChatRole::User,
                content: "the whole long message".into(),
            },
        ];
        let LongWork::Parts(job) = long_work(long.clone(), &messages, "tiny", &cfg, &tiny(), None)
        else {
            panic!("expected parts")
        };
        assert!(job.parts.len() >= 4);
        assert_eq!(job.system.as_deref(), Some("be brief"));
        assert_eq!(
            job.history.len(),
            2,
            "earlier turns, not the long message itself"
        );
        assert_eq!(job.hint, "what are the limits?");
        assert!(job.docs[0].text.contains("[REDACTED:aws-access-key]"));
        assert!(!job.docs[0].text.contains(key));
        assert!((job.render)("NOTES").ends_with("NOTES\n\nwhat are the limits?"));
        // Only the first 300 tokens.
        let first = LongSend {
            first: Some(300),
            ..long
        };
        let LongWork::First(text, cut) = long_work(first, &messages, "tiny", &cfg, &tiny(), None)
        else {
            panic!("expected the start")
        };
        assert!(
            text.starts_with("<document name=\"a.txt\">\nParagraph 1:"),
            "{text}"
        );
        assert!(text.ends_with("what are the limits?"));
        assert!(!text.contains("Paragraph 100:"));
        assert!(cut > 1_000);
    }
}
