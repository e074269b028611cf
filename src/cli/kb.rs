//! `clerk kb`: add, index, list, inspect, remove and search knowledge bases.
//!
//! The work is [`crate::knowledge`]'s; this file turns arguments into calls, edits the
//! config file's text for `add` and `remove` (through [`crate::config::knowledge`], so the
//! user's comments and layout stay), draws the progress bar on a terminal, and prints.
//! Results go to stdout; progress, skipped files and notes to stderr.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde_json::json;

use super::output::{self, for_stdout, local_time, pad, pad_left};
use super::{CliError, Ctx, Exit};
use crate::config::KnowledgeEntry;
use crate::config::knowledge::{EditError, valid_name, with_entry_added, with_entry_removed};
use crate::format::{human_size, thousands};
use crate::knowledge::{Base, Index, KnowledgeError, Progress, Report};

/// `clerk kb …`
#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Add a knowledge base to the config file and index it
    Add {
        /// Its name (letters, digits, `-`, `_`, `.`)
        name: String,
        /// Folders (read recursively) and files
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Index only files matching this glob (relative to the folder; repeat)
        #[arg(long, value_name = "GLOB")]
        include: Vec<String>,
        /// Leave out files matching this glob (repeat)
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
    },
    /// Index a base again, or every base: only new and changed files are read
    Index {
        /// The base [default: every base in the config]
        name: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List the knowledge bases
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a base: documents, passages, size, last indexed, skipped and stale files
    Status {
        /// The base [default: every base]
        name: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a base from the config file and its passages from the index
    Remove {
        /// The base
        name: String,
    },
    /// Show the passages that answer a question, best first
    Search {
        /// Search this base (repeat) [default: every base]
        #[arg(long = "kb", value_name = "NAME")]
        kb: Vec<String>,
        /// How many passages
        #[arg(short = 'k', default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=50))]
        k: u16,
        /// Print JSON
        #[arg(long)]
        json: bool,
        /// The question
        #[arg(required = true)]
        question: Vec<String>,
    },
}

/// Run `clerk kb …`.
pub fn run(ctx: &Ctx, cmd: &KbCommand) -> Result<Exit, CliError> {
    match cmd {
        KbCommand::Add {
            name,
            paths,
            include,
            exclude,
        } => add(ctx, name, paths, include, exclude),
        KbCommand::Index { name, json } => index(ctx, name.as_deref(), *json),
        KbCommand::List { json } => list(ctx, *json),
        KbCommand::Status { name, json } => status(ctx, name.as_deref(), *json),
        KbCommand::Remove { name } => remove(ctx, name),
        KbCommand::Search {
            kb,
            k,
            json,
            question,
        } => search(ctx, kb, usize::from(*k), *json, &question.join(" ")),
    }
}

impl From<KnowledgeError> for CliError {
    fn from(e: KnowledgeError) -> Self {
        let exit = match e {
            KnowledgeError::MissingPath { .. }
            | KnowledgeError::BadGlob { .. }
            | KnowledgeError::NotIndexed(_) => Exit::BadInput,
            KnowledgeError::Stopped => Exit::Interrupted,
            _ => Exit::Failure,
        };
        CliError::new(exit, e.to_string())
    }
}

fn open_index(ctx: &Ctx) -> Result<Index, CliError> {
    Ok(Index::open(&ctx.paths.knowledge_index())?)
}

fn write_err(e: std::io::Error) -> CliError {
    CliError::new(Exit::Failure, tr!("cli.cannot_write_output", error = e))
}

/// The configured base `name`, ready to walk.
fn base(ctx: &Ctx, entry: &KnowledgeEntry) -> Result<Base, CliError> {
    let dir = ctx
        .paths
        .config_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let max = ctx
        .config
        .file
        .documents
        .max_file_mb
        .saturating_mul(1_048_576);
    Ok(Base::from_config(entry, &dir, max)?)
}

fn entry<'a>(ctx: &'a Ctx, name: &str) -> Result<&'a KnowledgeEntry, CliError> {
    ctx.config.knowledge(name).ok_or_else(|| {
        CliError::new(
            Exit::BadInput,
            tr!(
                "cli.kb.no_such_in",
                name = name,
                path = ctx.paths.config_file.display()
            ),
        )
    })
}

fn add(
    ctx: &Ctx,
    name: &str,
    paths: &[PathBuf],
    include: &[String],
    exclude: &[String],
) -> Result<Exit, CliError> {
    if !valid_name(name) {
        return Err(CliError::new(
            Exit::BadInput,
            tr!("cli.kb.bad_name", name = name),
        ));
    }
    if ctx.config.knowledge(name).is_some() {
        return Err(CliError::new(
            Exit::BadInput,
            tr!(
                "cli.kb.exists",
                name = name,
                path = ctx.paths.config_file.display()
            ),
        ));
    }
    let mut absolute = Vec::new();
    for p in paths {
        let abs = std::fs::canonicalize(p).map_err(|_| {
            CliError::new(Exit::BadInput, tr!("cli.kb.no_path", path = p.display()))
        })?;
        absolute.push(abs);
    }
    let mut entry = KnowledgeEntry::new(name, absolute);
    entry.include = include.to_vec();
    entry.exclude = exclude.to_vec();
    let path = &ctx.paths.config_file;
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(CliError::new(
                Exit::Failure,
                tr!(
                    "cli.kb.cannot_read_config",
                    path = path.display(),
                    error = e
                ),
            ));
        }
    };
    let new = with_entry_added(&old, &entry);
    let config = crate::config::Config::parse(path, &new)?;
    write_config(path, &new)?;
    eprintln!(
        "{}",
        tr!("cli.kb.added", name = name, path = path.display())
    );
    let Some(entry) = config.knowledge(name) else {
        return Err(CliError::new(Exit::Failure, tr!("cli.kb.not_read_back")));
    };
    let base = base(ctx, entry)?;
    let mut index = open_index(ctx)?;
    let report = run_update(&mut index, &base)?;
    summary(&report);
    Ok(Exit::Ok)
}

/// Write the config file through a temporary file in the same folder, keeping the old
/// file's permissions.
fn write_config(path: &Path, text: &str) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        CliError::new(
            Exit::Failure,
            tr!(
                "cli.kb.cannot_write_config",
                path = path.display(),
                error = crate::i18n::os_error(&e)
            ),
        )
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), meta.permissions()).map_err(fail)?;
    }
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

fn index(ctx: &Ctx, name: Option<&str>, json: bool) -> Result<Exit, CliError> {
    let entries: Vec<&KnowledgeEntry> = match name {
        Some(n) => vec![entry(ctx, n)?],
        None => ctx.config.file.knowledge.iter().collect(),
    };
    if entries.is_empty() {
        return Err(no_bases(ctx));
    }
    let bases = entries
        .iter()
        .map(|e| base(ctx, e))
        .collect::<Result<Vec<_>, _>>()?;
    let mut index = open_index(ctx)?;
    let mut reports = Vec::new();
    for (b, e) in bases.iter().zip(&entries) {
        let report = run_update(&mut index, b)?;
        if !json {
            summary(&report);
        }
        reports.push(report);
        // Vectors for the passages that have none, when the base turns them on.
        super::kb_vectors::embed(ctx, &mut index, e, json)?;
    }
    if json {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{}",
            serde_json::to_string(&reports).unwrap_or_default()
        )
        .map_err(write_err)?;
    }
    Ok(Exit::Ok)
}

fn no_bases(ctx: &Ctx) -> CliError {
    CliError::new(
        Exit::BadInput,
        tr!("cli.kb.none_in", path = ctx.paths.config_file.display()),
    )
}

/// Index one base with a progress bar on a terminal; list what was skipped on stderr.
fn run_update(index: &mut Index, base: &Base) -> Result<Report, CliError> {
    let mut bar = Bar::new(output::stderr_is_tty());
    let result = index.update(base, &mut |p| {
        bar.show(p);
        ControlFlow::Continue(())
    });
    bar.clear();
    let report = result?;
    for s in &report.skipped {
        eprintln!(
            "{}",
            tr!("cli.kb.skipped_file", path = s.path, reason = s.reason)
        );
    }
    Ok(report)
}

/// The one-line summary of an update, on stdout.
fn summary(r: &Report) {
    println!("{}", summary_text(r));
}

/// The one-line summary of an update, in the interface's language.
fn summary_text(r: &Report) -> String {
    tr!(
        "cli.kb.summary",
        base = r.base,
        indexed = files(r.indexed),
        unchanged = thousands(r.unchanged as u64),
        removed = thousands(r.removed as u64),
        skipped = thousands(r.skipped.len() as u64),
        passages = passages(usize::try_from(r.passages).unwrap_or(usize::MAX)),
        seconds = format!("{:.1}", r.elapsed.as_secs_f64())
    )
    .into_owned()
}

/// "1 file", "3 files" (Chinese has one form).
fn files(n: usize) -> String {
    let count = thousands(n as u64);
    match n {
        1 => tr!("cli.kb.file_one", count = count),
        _ => tr!("cli.kb.file_other", count = count),
    }
    .into_owned()
}

/// "1 passage", "3 passages".
pub(super) fn passages(n: usize) -> String {
    let count = thousands(n as u64);
    match n {
        1 => tr!("cli.kb.passage_one", count = count),
        _ => tr!("cli.kb.passage_other", count = count),
    }
    .into_owned()
}

/// "1 document", "3 documents".
fn documents(n: usize) -> String {
    let count = thousands(n as u64);
    match n {
        1 => tr!("cli.kb.document_one", count = count),
        _ => tr!("cli.kb.document_other", count = count),
    }
    .into_owned()
}

/// A progress bar on stderr, drawn only on a terminal and only once indexing has taken
/// half a second, at most ten times a second.
struct Bar {
    tty: bool,
    start: Instant,
    last: Option<Instant>,
}

impl Bar {
    fn new(tty: bool) -> Bar {
        Bar {
            tty,
            start: Instant::now(),
            last: None,
        }
    }

    fn show(&mut self, p: &Progress) {
        let now = Instant::now();
        if !self.tty
            || now - self.start < Duration::from_millis(500)
            || self
                .last
                .is_some_and(|l| now - l < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(now);
        let width = 30;
        let filled = (p.read * width).checked_div(p.to_read).unwrap_or(width);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(width - filled));
        eprint!(
            "\r\x1b[2K{}",
            tr!(
                "cli.kb.progress",
                base = p.base,
                bar = bar,
                read = thousands(p.read as u64),
                total = thousands(p.to_read as u64),
                seconds = format!("{:.0}", (now - self.start).as_secs_f64())
            )
        );
    }

    fn clear(&self) {
        if self.last.is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}

fn list(ctx: &Ctx, json: bool) -> Result<Exit, CliError> {
    let index = open_index(ctx)?;
    let infos = index.list()?;
    let configured = &ctx.config.file.knowledge;
    let mut rows = Vec::new();
    for e in configured {
        let info = infos.iter().find(|i| i.name == e.name);
        rows.push(json!({
            "name": e.name,
            "paths": e.paths,
            "in_config": true,
            "documents": info.map_or(0, |i| i.documents),
            "passages": info.map_or(0, |i| i.passages),
            "skipped": info.map_or(0, |i| i.skipped),
            "indexed_ms": info.and_then(|i| i.indexed_ms),
        }));
    }
    for i in infos
        .iter()
        .filter(|i| configured.iter().all(|e| e.name != i.name))
    {
        rows.push(json!({
            "name": i.name, "paths": [], "in_config": false, "documents": i.documents,
            "passages": i.passages, "skipped": i.skipped, "indexed_ms": i.indexed_ms,
        }));
    }
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::Value::Array(rows)).map_err(write_err)?;
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        eprintln!("{}", tr!("cli.kb.none_yet"));
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{} {} {}  {}  {}",
        pad(&tr!("cli.kb.col.name"), 20),
        pad_left(&tr!("cli.kb.col.docs"), 9),
        pad_left(&tr!("cli.kb.col.passages"), 9),
        pad(&tr!("cli.kb.col.indexed"), 16),
        tr!("cli.kb.col.paths")
    )
    .map_err(write_err)?;
    for r in &rows {
        let paths: Vec<String> = r["paths"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let paths = if r["in_config"] == true {
            paths.join(", ")
        } else {
            tr!(
                "cli.kb.not_in_config",
                name = r["name"].as_str().unwrap_or_default()
            )
            .into_owned()
        };
        writeln!(
            out,
            "{} {} {}  {}  {paths}",
            pad(r["name"].as_str().unwrap_or_default(), 20),
            pad_left(&thousands(r["documents"].as_u64().unwrap_or(0)), 9),
            pad_left(&thousands(r["passages"].as_u64().unwrap_or(0)), 9),
            pad(
                &r["indexed_ms"]
                    .as_i64()
                    .map_or(tr!("cli.kb.never").into_owned(), local_time),
                16
            ),
        )
        .map_err(write_err)?;
    }
    Ok(Exit::Ok)
}

fn status(ctx: &Ctx, name: Option<&str>, json: bool) -> Result<Exit, CliError> {
    let entries: Vec<&KnowledgeEntry> = match name {
        Some(n) => vec![entry(ctx, n)?],
        None => ctx.config.file.knowledge.iter().collect(),
    };
    if entries.is_empty() {
        return Err(no_bases(ctx));
    }
    let index = open_index(ctx)?;
    let index_bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| {
            let mut p = index.path().as_os_str().to_owned();
            p.push(s);
            std::fs::metadata(PathBuf::from(p)).ok()
        })
        .map(|m| m.len())
        .sum();
    let mut all = Vec::new();
    for e in entries {
        all.push(index.status(&base(ctx, e)?)?);
    }
    let mut out = std::io::stdout().lock();
    if json {
        let v = json!({"index": index.path(), "index_bytes": index_bytes, "bases": all});
        writeln!(out, "{v}").map_err(write_err)?;
        return Ok(Exit::Ok);
    }
    let tty = output::stdout_is_tty();
    writeln!(
        out,
        "{}",
        tr!(
            "cli.kb.index_file",
            path = index.path().display(),
            size = human_size(index_bytes)
        )
    )
    .map_err(write_err)?;
    for s in &all {
        writeln!(out, "\n{}", s.name).map_err(write_err)?;
        let langs = if s.languages.is_empty() {
            "-".to_string()
        } else {
            s.languages.join(", ")
        };
        writeln!(
            out,
            "  {}",
            tr!(
                "cli.kb.status_counts",
                documents = documents(usize::try_from(s.documents).unwrap_or(0)),
                passages = passages(usize::try_from(s.passages).unwrap_or(0)),
                size = human_size(s.bytes),
                languages = langs
            )
        )
        .map_err(write_err)?;
        let when = match (s.indexed_ms, s.duration_ms) {
            (Some(t), Some(d)) => tr!(
                "cli.kb.took",
                time = local_time(t),
                seconds = format!("{:.1}", d as f64 / 1000.0)
            )
            .into_owned(),
            (Some(t), None) => local_time(t),
            _ => tr!("cli.kb.never_run", name = s.name).into_owned(),
        };
        writeln!(out, "  {}", tr!("cli.kb.last_indexed", when = when)).map_err(write_err)?;
        if !s.skipped.is_empty() {
            writeln!(out, "  {}", tr!("cli.kb.skipped", count = s.skipped.len()))
                .map_err(write_err)?;
            for k in &s.skipped {
                writeln!(out, "    {}: {}", for_stdout(&k.path, tty), k.reason)
                    .map_err(write_err)?;
            }
        }
        if s.stale.is_empty() {
            if s.indexed_ms.is_some() {
                writeln!(out, "  {}", tr!("cli.kb.up_to_date")).map_err(write_err)?;
            }
        } else {
            writeln!(
                out,
                "  {}",
                tr!("cli.kb.stale", count = s.stale.len(), name = s.name)
            )
            .map_err(write_err)?;
            for f in &s.stale {
                let what = match f.change {
                    crate::knowledge::Change::New => tr!("cli.kb.change.new"),
                    crate::knowledge::Change::Changed => tr!("cli.kb.change.changed"),
                    crate::knowledge::Change::Deleted => tr!("cli.kb.change.deleted"),
                };
                writeln!(out, "    {} {}", pad(&what, 8), for_stdout(&f.path, tty))
                    .map_err(write_err)?;
            }
        }
    }
    Ok(Exit::Ok)
}

fn remove(ctx: &Ctx, name: &str) -> Result<Exit, CliError> {
    let path = &ctx.paths.config_file;
    let mut said = false;
    if ctx.config.knowledge(name).is_some() {
        let old = std::fs::read_to_string(path).map_err(|e| {
            CliError::new(
                Exit::Failure,
                tr!(
                    "cli.kb.cannot_read_config",
                    path = path.display(),
                    error = e
                ),
            )
        })?;
        let new = with_entry_removed(&old, name).map_err(|e| {
            let exit = match e {
                EditError::NotFound(_) | EditError::NotABlock(_) => Exit::BadInput,
            };
            CliError::new(exit, format!("{e} ({})", path.display()))
        })?;
        crate::config::Config::parse(path, &new)?;
        write_config(path, &new)?;
        eprintln!(
            "{}",
            tr!("cli.kb.removed", name = name, path = path.display())
        );
        said = true;
    }
    if ctx.paths.knowledge_index().exists() {
        let mut index = open_index(ctx)?;
        if index.remove(name)? {
            eprintln!("{}", tr!("cli.kb.removed_passages"));
            said = true;
        }
    }
    if !said {
        return Err(CliError::new(
            Exit::BadInput,
            tr!("cli.kb.no_such", name = name),
        ));
    }
    Ok(Exit::Ok)
}

use crate::knowledge::cite::not_found_text;

fn search(
    ctx: &Ctx,
    kb: &[String],
    k: usize,
    json: bool,
    question: &str,
) -> Result<Exit, CliError> {
    if question.trim().is_empty() {
        return Err(CliError::new(Exit::BadInput, tr!("cli.kb.empty_question")));
    }
    let mut names: Vec<&str> = kb.iter().map(String::as_str).collect();
    if names.is_empty() {
        names = ctx
            .config
            .file
            .knowledge
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        if names.is_empty() {
            return Err(no_bases(ctx));
        }
    }
    for n in &names {
        entry(ctx, n)?;
    }
    if !ctx.paths.knowledge_index().exists() {
        return Err(KnowledgeError::NotIndexed(names[0].to_string()).into());
    }
    // The same retrieval as `clerk ask --kb`: restated, with vectors when on.
    let grounded = super::ask_kb::search(ctx, &names, question, k)?;
    let r = grounded.retrieval;
    let mut out = std::io::stdout().lock();
    if json {
        let passages: Vec<serde_json::Value> = r
            .hits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                json!({"rank": i + 1, "path": h.path, "section": h.section, "page": h.page,
                       "score": h.score, "text": h.text})
            })
            .collect();
        let v = json!({"query": question, "found": r.found, "passages": passages});
        writeln!(out, "{v}").map_err(write_err)?;
        return Ok(Exit::Ok);
    }
    let tty = output::stdout_is_tty();
    if !r.found {
        writeln!(out, "{}", not_found_text(question)).map_err(write_err)?;
        if r.hits.is_empty() {
            return Ok(Exit::Ok);
        }
        writeln!(out, "{}\n", tr!("cli.kb.closest")).map_err(write_err)?;
    }
    let width = tty.then(|| output::text_width(true));
    for (i, h) in r.hits.iter().enumerate() {
        let place = crate::knowledge::cite::place(&h.path, &h.section, h.page);
        let base = if names.len() > 1 {
            format!("{}: ", h.base)
        } else {
            String::new()
        };
        writeln!(out, "[{}] {base}{}", i + 1, for_stdout(&place, tty)).map_err(write_err)?;
        writeln!(out, "{}\n", output::passage_excerpt(&h.text, 400, width)).map_err(write_err)?;
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Language, scoped};

    fn report() -> Report {
        Report {
            base: "procedures".into(),
            indexed: 1,
            unchanged: 1204,
            removed: 2,
            skipped: Vec::new(),
            ignored: 0,
            passages: 3,
            passages_written: 3,
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn the_index_summary_reads_in_english_and_in_chinese() {
        assert_eq!(
            summary_text(&report()),
            "procedures: 1 file indexed, 1,204 unchanged, 2 removed, 0 skipped · 3 passages · 1.5 s"
        );
        let _zh = scoped(Language::Chinese);
        assert_eq!(
            summary_text(&report()),
            "procedures：已索引 1 个文件，未变 1,204 个，移除 2 个，跳过 0 个 · 3 个段落 · 1.5 秒"
        );
        // A PDF passage's page, as `kb search` and the sources both say it.
        assert_eq!(
            crate::knowledge::cite::place("policy.pdf", "Hotels", Some(4)),
            "policy.pdf › Hotels，第 4 页"
        );
    }

    #[test]
    fn the_list_headings_line_up_in_chinese() {
        let _zh = scoped(Language::Chinese);
        let heading = format!(
            "{} {}",
            pad(&tr!("cli.kb.col.name"), 20),
            pad_left(&tr!("cli.kb.col.docs"), 9)
        );
        assert_eq!(unicode_width::UnicodeWidthStr::width(heading.as_str()), 30);
        assert!(heading.starts_with("名称"), "{heading}");
    }
}
