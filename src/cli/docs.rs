//! Documents on the command line: reading `--file`s, the secret scan before sending, the
//! cost check, and progress while a long document is read in parts. Shared by `clerk ask`,
//! `clerk summarize` and `clerk run`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use clap::{Args, ValueEnum};

use super::output::money;
use super::{CliError, Exit};
use crate::config::policy::Scrub;
use crate::config::{Config, DocumentsConfig, ModelInfo};
use crate::documents::extract::{self, Document};
use crate::documents::secrets::{self as scrub, Finding};
use crate::documents::summarize::{Estimate, Event, Phase, Strategy, progress_line};

/// Options every command that sends documents shares.
#[derive(Debug, Args, Clone)]
pub struct DocOptions {
    /// Send only the first N tokens of the documents instead of reading them in parts
    #[arg(long, value_name = "N")]
    pub first: Option<u64>,
    /// Go ahead without asking when the estimated cost is above [documents] confirm_above_usd
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// What to do with likely secrets found in what is about to be sent
    #[arg(long, value_enum, default_value_t = SecretsMode::Ask, value_name = "MODE")]
    pub secrets: SecretsMode,
}

/// What to do when the scan finds likely secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretsMode {
    /// Ask on the terminal; without a terminal, stop with the list
    Ask,
    /// Replace each with [REDACTED:kind]
    Redact,
    /// Send them as they are
    Send,
}

/// Read every file, with the notes extraction made (decoding, replaced bytes) on stderr.
pub fn read_files(
    paths: &[std::path::PathBuf],
    cfg: &DocumentsConfig,
) -> Result<Vec<Document>, CliError> {
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let doc = read_one(p, cfg)?;
        out.push(doc);
    }
    Ok(out)
}

fn read_one(path: &Path, cfg: &DocumentsConfig) -> Result<Document, CliError> {
    let doc = extract::extract_file(path, cfg.max_file_mb.saturating_mul(1024 * 1024))
        .map_err(|e| CliError::new(Exit::BadInput, e.to_string()))?;
    for note in &doc.notes {
        eprintln!("note: {}: {note}", doc.name);
    }
    Ok(doc)
}

/// `--first N`: keep only the first `first` tokens of the documents, saying on stderr how
/// many were left out.
pub fn keep_first_noted(
    measured: &mut Vec<crate::documents::summarize::Measured>,
    first: Option<u64>,
) {
    let Some(n) = first else { return };
    let cut = crate::documents::summarize::keep_first(measured, n);
    if cut > 0 {
        eprintln!(
            "note: sending only the first {} tokens of the documents; {} tokens left out",
            group_digits(n),
            group_digits(cut)
        );
    }
}

/// One line about a document: "report.pdf · 1.2 MB · 312 pages · 150,000 tokens".
pub fn describe(doc: &Document, tokens: u64) -> String {
    let mut parts = vec![doc.name.clone(), human_size(doc.bytes)];
    parts.extend(crate::format::document_counts(
        doc.sheets, doc.slides, doc.pages, doc.rows,
    ));
    parts.push(format!("{} tokens", group_digits(tokens)));
    parts.join(" · ")
}

pub use crate::format::{human_size, thousands as group_digits};

/// Scan every outgoing text; on findings, do what `mode` says (asking on a terminal) —
/// unless the admin's policy decides (`scrub_secrets`): `ask` leaves it to `mode`,
/// `redact` replaces them whatever `mode` says, `block` sends nothing (exit 2). Under a
/// policy the scan runs even when the user's config turns it off. Texts are redacted in
/// place when that is the choice.
pub fn check_secrets(
    texts: &mut [(&str, &mut String)],
    mode: SecretsMode,
    config: &Config,
) -> Result<(), CliError> {
    let scrub = config.policy.scrub_secrets.as_ref();
    if !config.file.documents.scan_secrets && scrub.is_none() {
        return Ok(());
    }
    let found: Vec<(usize, Vec<Finding>)> = texts
        .iter()
        .enumerate()
        .map(|(i, (_, t))| (i, scrub::scan(t)))
        .filter(|(_, f)| !f.is_empty())
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    let total: usize = found.iter().map(|(_, f)| f.len()).sum();
    let mut list = String::new();
    for (i, fs) in &found {
        for f in fs.iter().take(20) {
            list.push_str(&format!(
                "  {} line {}: {} ({})\n",
                texts[*i].0, f.line, f.label, f.preview
            ));
        }
        if fs.len() > 20 {
            list.push_str(&format!("  {}: and {} more\n", texts[*i].0, fs.len() - 20));
        }
    }
    let policy = |r: &crate::config::policy::Rule<Scrub>| {
        format!(
            "{} (scrub_secrets = \"{}\")",
            r.from.display(),
            r.value.as_str()
        )
    };
    let choice = match (scrub.map(|r| r.value), mode) {
        (Some(Scrub::Block), _) => {
            let rule = scrub.map(policy).unwrap_or_default();
            return Err(CliError::new(
                Exit::BadInput,
                format!(
                    "found {total} likely secret(s) in what would be sent:\n{list}nothing was sent: sending them is not allowed by {rule}. Remove them and try again"
                ),
            ));
        }
        (Some(Scrub::Redact), _) => {
            let rule = scrub.map(policy).unwrap_or_default();
            eprintln!("note: replacing {total} likely secret(s), as {rule} requires");
            'r'
        }
        (_, SecretsMode::Send) => 's',
        (_, SecretsMode::Redact) => 'r',
        (_, SecretsMode::Ask) => {
            if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
                return Err(CliError::new(
                    Exit::BadInput,
                    format!(
                        "found {total} likely secret(s) in what would be sent:\n{list}nothing was sent. Remove them, or run again with --secrets redact (they become [REDACTED:kind]) or --secrets send (send them as they are)"
                    ),
                ));
            }
            eprint!(
                "clerk found {total} likely secret(s) in what is about to be sent:\n{list}[r]edact them, [s]end anyway, or [c]ancel? "
            );
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            line.trim()
                .chars()
                .next()
                .unwrap_or('c')
                .to_ascii_lowercase()
        }
    };
    match choice {
        'r' => {
            for (i, fs) in &found {
                let text = &mut *texts[*i].1;
                *text = scrub::redact(text, fs);
            }
            eprintln!("note: {total} likely secret(s) replaced with [REDACTED:kind]");
            Ok(())
        }
        's' => {
            eprintln!("warning: sending {total} likely secret(s) as they are");
            Ok(())
        }
        _ => Err(CliError::new(Exit::BadInput, "cancelled: nothing was sent")),
    }
}

/// Ask before an expensive run (or stop, without a terminal), unless `--yes`.
pub fn confirm_cost(
    est: &Estimate,
    info: Option<&ModelInfo>,
    cfg: &DocumentsConfig,
    yes: bool,
    strategy: &Strategy,
) -> Result<(), CliError> {
    let Some(cost) = est.cost(info) else {
        return Ok(());
    };
    if cost <= cfg.confirm_above_usd || yes {
        return Ok(());
    }
    let how = match strategy {
        Strategy::Whole => "in one request".to_string(),
        Strategy::Parts(p) => format!("read in {} parts, {} requests", p.len(), est.requests),
    };
    let what = format!(
        "this is estimated at {} ({} tokens in, {how}), above [documents] confirm_above_usd ({})",
        money(Some(cost)),
        group_digits(est.input_tokens),
        money(Some(cfg.confirm_above_usd))
    );
    confirm_spend(&what, "--first N to send only the first N tokens")
}

/// Ask on the terminal whether to go ahead with what `what` describes (an estimate above
/// `[documents] confirm_above_usd`); without a terminal, refuse, naming `--yes` and
/// `other` as the ways on.
pub fn confirm_spend(what: &str, other: &str) -> Result<(), CliError> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CliError::new(
            Exit::BadInput,
            format!("{what}: nothing was sent. Add --yes to go ahead, or {other}"),
        ));
    }
    eprint!("{what}. Go ahead? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim().eq_ignore_ascii_case("y") || line.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        Err(CliError::new(Exit::BadInput, "cancelled: nothing was sent"))
    }
}

/// Show a run's progress on stderr: one updating line on a terminal, a line per step
/// otherwise.
pub struct ProgressLine {
    tty: bool,
    price: Option<ModelInfo>,
    open: bool,
}

impl ProgressLine {
    /// For a model with these prices.
    pub fn new(price: Option<ModelInfo>) -> Self {
        ProgressLine {
            tty: std::io::stderr().is_terminal(),
            price,
            open: false,
        }
    }

    /// Show one event (answer text is not shown here).
    pub fn show(&mut self, ev: &Event) {
        match ev {
            Event::Progress(p) => {
                if p.phase == Phase::Answering && p.done > 0 {
                    return self.end();
                }
                let line = progress_line(p, self.price.as_ref());
                if self.tty {
                    eprint!("\r\x1b[K{line}");
                    if p.phase == Phase::Answering {
                        eprintln!();
                        self.open = false;
                    } else {
                        self.open = true;
                    }
                } else if p.done > 0 || p.phase == Phase::Answering {
                    eprintln!("{line}");
                }
            }
            Event::Retrying(n) => {
                self.end();
                eprintln!("{}…", crate::chat::record::retry_text(n));
            }
            Event::Answer(_) | Event::Done(_) => self.end(),
        }
    }

    /// Finish an open line.
    pub fn end(&mut self) {
        if self.open {
            eprintln!();
            self.open = false;
        }
    }
}
