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
        let text = format!("{}: {note}", doc.name);
        eprintln!("{}", tr!("cli.note", text = text));
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
        let text = tr!(
            "cli.docs.first",
            first = group_digits(n),
            cut = group_digits(cut)
        );
        eprintln!("{}", tr!("cli.note", text = text));
    }
}

/// One line about a document: "report.pdf · 1.2 MB · 312 pages · 150,000 tokens".
pub fn describe(doc: &Document, tokens: u64) -> String {
    let mut parts = vec![doc.name.clone(), human_size(doc.bytes)];
    parts.extend(crate::format::document_counts(
        doc.sheets, doc.slides, doc.pages, doc.rows,
    ));
    parts.push(tr!("cli.docs.tokens", count = group_digits(tokens)).into_owned());
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
            let text = tr!(
                "cli.secrets.finding",
                name = texts[*i].0,
                line = f.line,
                label = f.label,
                preview = f.preview
            );
            list.push_str(&format!("  {text}\n"));
        }
        if fs.len() > 20 {
            let text = tr!(
                "cli.secrets.more",
                name = texts[*i].0,
                count = fs.len() - 20
            );
            list.push_str(&format!("  {text}\n"));
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
                tr!(
                    "cli.secrets.blocked",
                    total = total,
                    list = list,
                    rule = rule
                ),
            ));
        }
        (Some(Scrub::Redact), _) => {
            let rule = scrub.map(policy).unwrap_or_default();
            let text = tr!("cli.secrets.policy_redacts", total = total, rule = rule);
            eprintln!("{}", tr!("cli.note", text = text));
            'r'
        }
        (_, SecretsMode::Send) => 's',
        (_, SecretsMode::Redact) => 'r',
        (_, SecretsMode::Ask) => {
            if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
                return Err(CliError::new(
                    Exit::BadInput,
                    tr!("cli.secrets.found", total = total, list = list),
                ));
            }
            eprint!("{}", tr!("cli.secrets.ask", total = total, list = list));
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
            let text = tr!("cli.secrets.redacted", total = total);
            eprintln!("{}", tr!("cli.note", text = text));
            Ok(())
        }
        's' => {
            let text = tr!("cli.secrets.sending", total = total);
            eprintln!("{}", tr!("cli.warning", text = text));
            Ok(())
        }
        _ => Err(CliError::new(Exit::BadInput, tr!("cli.cancelled"))),
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
        Strategy::Whole => tr!("cli.cost.one_request").into_owned(),
        Strategy::Parts(p) => tr!(
            "cli.cost.in_parts",
            parts = p.len(),
            requests = est.requests
        )
        .into_owned(),
    };
    let what = tr!(
        "cli.cost.estimate",
        cost = money(Some(cost)),
        tokens = group_digits(est.input_tokens),
        how = how,
        limit = money(Some(cfg.confirm_above_usd))
    );
    confirm_spend(&what, &tr!("cli.cost.first_hint"))
}

/// Ask on the terminal whether to go ahead with what `what` describes (an estimate above
/// `[documents] confirm_above_usd`); without a terminal, refuse, naming `--yes` and
/// `other` as the ways on.
pub fn confirm_spend(what: &str, other: &str) -> Result<(), CliError> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CliError::new(
            Exit::BadInput,
            tr!("cli.cost.refused", what = what, other = other),
        ));
    }
    eprint!("{}", tr!("cli.cost.ask", what = what));
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim().eq_ignore_ascii_case("y") || line.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        Err(CliError::new(Exit::BadInput, tr!("cli.cancelled")))
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
