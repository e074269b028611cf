//! Incremental indexing of one base: [`Index::update`].
//!
//! 1. Walk the base ([`super::walk`]). A file whose size and mtime are those recorded is
//!    unchanged and not opened; every other file is a job.
//! 2. Jobs run on every core: read the file (up to the size limit), hash it (SHA-256; the
//!    same bytes as recorded mean only the mtime moved), extract its text with
//!    [`crate::documents::extract`], cut it into passages and analyse them.
//! 3. One writer (the calling thread) applies the results in transactions of a batch of
//!    files (a second's worth at most): a file's old passages go and its new ones come in
//!    the same transaction, so a build stopped at any point (Ctrl-C, `kill -9`, a power
//!    cut) leaves each file as it was or as it now is, and the index searchable. Files no
//!    longer found are removed at the end.
//!
//! An unreadable file (damaged, encrypted, scanned, too large, binary) is recorded as
//! skipped with its reason, and read again only once it changes.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, Transaction, params};

use super::analyze::{for_index, language_of};
use super::passages::{Passage, split};
use super::walk::{Base, Found, Skipped};
use super::{Index, KnowledgeError};
use crate::documents::extract::{ExtractError, extract_bytes_within, read_at_most};

/// How far an update has come, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The base.
    pub base: &'a str,
    /// Files found.
    pub found: usize,
    /// Files that had to be read (new or changed).
    pub to_read: usize,
    /// Of those, how many are done.
    pub read: usize,
    /// The file just done.
    pub path: Option<&'a str>,
}

/// What an update did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// The base.
    pub base: String,
    /// Files read and indexed (new or changed).
    pub indexed: usize,
    /// Files not read again (same size and mtime, or the same content).
    pub unchanged: usize,
    /// Files gone from disk (or from the base's paths and globs), removed from the index.
    pub removed: usize,
    /// Every file of the base that is not indexed, and why (also ones skipped before and
    /// unchanged since).
    pub skipped: Vec<Skipped>,
    /// Files passed over as not documents (images, archives…).
    pub ignored: usize,
    /// Passages in the base now.
    pub passages: u64,
    /// Passages written by this update.
    pub passages_written: u64,
    /// How long it took.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What the index knew about a file.
#[derive(Debug, Clone)]
struct Known {
    id: i64,
    size: i64,
    mtime_ns: i64,
    sha256: Option<Vec<u8>>,
    skipped: bool,
}

/// A file to read.
struct Job {
    found: Found,
    known: Option<Known>,
}

/// A passage ready to be written.
struct Ready {
    passage: Passage,
    section: String,
    language: Option<&'static str>,
    indexed_section: String,
    indexed_body: String,
}

/// What reading a file gave.
enum Outcome {
    /// Read, extracted and cut.
    Indexed {
        sha256: Vec<u8>,
        kind: &'static str,
        passages: Vec<Ready>,
        title: String,
    },
    /// The same bytes as recorded: only its mtime moved.
    Same,
    /// Not readable as a document.
    Skipped {
        sha256: Option<Vec<u8>>,
        reason: String,
    },
}

/// Files per transaction, at most.
const BATCH_FILES: usize = 500;
/// Time per transaction, at most.
const BATCH_TIME: Duration = Duration::from_secs(1);

impl Index {
    /// Bring base `base` up to date with its files on disk. `progress` is called after the
    /// walk and after every file read; returning `Break` stops the update (the batch being
    /// written is dropped, everything committed before stays) with
    /// [`KnowledgeError::Stopped`]. A configured path that does not exist is an error and
    /// changes nothing.
    pub fn update(
        &mut self,
        base: &Base,
        progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
    ) -> Result<Report, KnowledgeError> {
        self.update_inner(base, progress).map_err(|e| self.named(e))
    }

    fn update_inner(
        &mut self,
        base: &Base,
        progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
    ) -> Result<Report, KnowledgeError> {
        let started = Instant::now();
        let walk = base.walk()?;
        let now = now_ms();
        self.conn.execute(
            "INSERT OR IGNORE INTO bases (name, created_ms) VALUES (?1, ?2)",
            params![base.name, now],
        )?;
        let base_id: i64 =
            self.conn
                .query_row("SELECT id FROM bases WHERE name = ?1", [&base.name], |r| {
                    r.get(0)
                })?;
        let mut known = self.known_files(base_id)?;
        let mut report = Report {
            base: base.name.clone(),
            ignored: walk.ignored,
            ..Report::default()
        };
        let found = walk.files.len();
        let mut jobs = Vec::new();
        for f in walk.files {
            let k = known.remove(&(f.root.clone(), f.rel.clone()));
            match k {
                Some(k)
                    if u64::try_from(k.size).ok() == Some(f.size) && k.mtime_ns == f.mtime_ns =>
                {
                    if !k.skipped {
                        report.unchanged += 1;
                    }
                }
                k => jobs.push(Job { found: f, known: k }),
            }
        }
        let gone: Vec<i64> = known.values().map(|k| k.id).collect();
        let mut state = Progress {
            base: &base.name,
            found,
            to_read: jobs.len(),
            read: 0,
            path: None,
        };
        if progress(&state).is_break() {
            return Err(KnowledgeError::Stopped);
        }
        let max = base.max_file_bytes;
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8)
            .min(jobs.len().max(1));
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let base_token = base_token(base_id);
        let conn = &mut self.conn;
        std::thread::scope(|scope| -> Result<(), KnowledgeError> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Outcome)>(workers * 2);
            for _ in 0..workers {
                let tx = tx.clone();
                let (jobs, next, stop) = (&jobs, &next, &stop);
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let outcome = read(job, max);
                        if tx.send((i, outcome)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let result = (|| {
                let mut txn = conn.transaction()?;
                let mut batch = (0usize, Instant::now());
                for (i, outcome) in rx.iter() {
                    let job = &jobs[i];
                    let written = write(&txn, base_id, &base_token, job, outcome, now)?;
                    match written {
                        Written::Indexed(n) => {
                            report.indexed += 1;
                            report.passages_written += n;
                        }
                        Written::Same => report.unchanged += 1,
                        Written::Skipped => {}
                    }
                    state.read += 1;
                    state.path = Some(&job.found.rel);
                    if progress(&state).is_break() {
                        // Dropping the transaction rolls this batch back, as a kill would.
                        return Err(KnowledgeError::Stopped);
                    }
                    batch.0 += 1;
                    if batch.0 >= BATCH_FILES || batch.1.elapsed() >= BATCH_TIME {
                        txn.commit()?;
                        txn = conn.transaction()?;
                        batch = (0, Instant::now());
                    }
                }
                for id in &gone {
                    txn.execute("DELETE FROM files WHERE id = ?1", [id])?;
                }
                report.removed = gone.len();
                txn.execute(
                    "UPDATE bases SET indexed_ms = ?2, duration_ms = ?3 WHERE id = ?1",
                    params![
                        base_id,
                        now_ms(),
                        i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
                    ],
                )?;
                txn.commit()?;
                Ok(())
            })();
            // Workers stop picking files up, and those waiting to send find no receiver.
            stop.store(true, Ordering::Relaxed);
            result
        })?;
        let mut skipped = self.skipped_files(base_id)?;
        skipped.extend(walk.unreadable);
        report.skipped = skipped;
        report.passages = self
            .conn
            .query_row(
                "SELECT coalesce(sum(passages), 0) FROM files WHERE base_id = ?1",
                [base_id],
                |r| r.get::<_, i64>(0),
            )?
            .max(0) as u64;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    fn known_files(
        &self,
        base_id: i64,
    ) -> Result<HashMap<(String, String), Known>, KnowledgeError> {
        let mut stmt = self.conn.prepare(
            "SELECT root, path, id, size, mtime_ns, sha256, status FROM files WHERE base_id = ?1",
        )?;
        let rows = stmt.query_map([base_id], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                Known {
                    id: r.get(2)?,
                    size: r.get(3)?,
                    mtime_ns: r.get(4)?,
                    sha256: r.get(5)?,
                    skipped: r.get::<_, String>(6)? == "skipped",
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The base's skipped files, by path.
    pub(super) fn skipped_files(&self, base_id: i64) -> Result<Vec<Skipped>, KnowledgeError> {
        let mut stmt = self.conn.prepare(
            "SELECT path, coalesce(reason, '') FROM files
             WHERE base_id = ?1 AND status = 'skipped' ORDER BY path",
        )?;
        let rows = stmt.query_map([base_id], |r| {
            Ok(Skipped {
                path: r.get(0)?,
                reason: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The token in the `base` column that names base `id`.
pub(super) fn base_token(id: i64) -> String {
    format!("kbase{id}")
}

/// A file's path as searchable words: folders and name, without the extension, with
/// `-`, `_` and `.` as spaces.
fn title(rel: &str) -> String {
    let stem = match rel.rsplit_once('.') {
        Some((s, ext)) if !ext.contains('/') && ext.len() <= 5 => s,
        _ => rel,
    };
    stem.replace(['/', '-', '_', '.'], " ")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Why a file is skipped, as the index keeps it and `kb status --json` shows it: in
/// English whatever the interface's language (a value stored, and read by scripts).
fn stored_reason(why: &impl std::fmt::Display) -> String {
    let _en = crate::i18n::scoped(crate::i18n::Language::English);
    why.to_string()
}

/// Read, hash, extract, cut and analyse one file (on a worker thread).
fn read(job: &Job, max: u64) -> Outcome {
    let path: &Path = &job.found.abs;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| job.found.rel.clone());
    if job.found.size > max {
        let reason = ExtractError::TooLarge {
            name,
            size_mb: job.found.size as f64 / 1_048_576.0,
            limit_mb: max / 1_048_576,
        };
        return Outcome::Skipped {
            sha256: None,
            reason: stored_reason(&reason),
        };
    }
    let bytes = std::fs::File::open(path)
        .map_err(|e| ExtractError::Unreadable {
            name: name.clone(),
            why: e.to_string(),
        })
        .and_then(|f| read_at_most(f, max, &name));
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            return Outcome::Skipped {
                sha256: None,
                reason: stored_reason(&e),
            };
        }
    };
    let sha256 = ring::digest::digest(&ring::digest::SHA256, &bytes)
        .as_ref()
        .to_vec();
    if let Some(k) = &job.known
        && !k.skipped
        && k.sha256.as_deref() == Some(sha256.as_slice())
    {
        return Outcome::Same;
    }
    let doc = match extract_bytes_within(&name, &bytes, max) {
        Ok(d) => d,
        Err(e) => {
            return Outcome::Skipped {
                sha256: Some(sha256),
                reason: stored_reason(&e),
            };
        }
    };
    drop(bytes);
    let passages = split(&doc.text)
        .into_iter()
        .map(|p| {
            let section = p.section();
            Ready {
                indexed_section: for_index(&p.path.join(" ")).into_owned(),
                indexed_body: for_index(&p.text).into_owned(),
                language: language_of(&p.text),
                section,
                passage: p,
            }
        })
        .collect();
    Outcome::Indexed {
        sha256,
        kind: doc.kind.name(),
        passages,
        title: for_index(&title(&job.found.rel)).into_owned(),
    }
}

enum Written {
    Indexed(u64),
    Same,
    Skipped,
}

/// Apply one file's outcome inside the writer's transaction.
fn write(
    tx: &Transaction,
    base_id: i64,
    base_token: &str,
    job: &Job,
    outcome: Outcome,
    now: i64,
) -> Result<Written, KnowledgeError> {
    let f = &job.found;
    let size = i64::try_from(f.size).unwrap_or(i64::MAX);
    let id = job.known.as_ref().map(|k| k.id);
    if let Some(id) = id {
        if matches!(outcome, Outcome::Same) {
            tx.prepare_cached("UPDATE files SET size = ?2, mtime_ns = ?3 WHERE id = ?1")?
                .execute(params![id, size, f.mtime_ns])?;
            return Ok(Written::Same);
        }
        // The old passages go (their index rows with them, by trigger).
        tx.prepare_cached("DELETE FROM passages WHERE file_id = ?1")?
            .execute([id])?;
    }
    let (status, reason, sha, kind, langs, chars, count) = match &outcome {
        Outcome::Indexed {
            sha256,
            kind,
            passages,
            ..
        } => {
            let mut langs: Vec<&str> = passages.iter().filter_map(|p| p.language).collect();
            langs.sort_unstable();
            langs.dedup();
            let chars: usize = passages
                .iter()
                .map(|p| p.passage.text.chars().count())
                .sum();
            (
                "indexed",
                None,
                Some(sha256.as_slice()),
                Some(*kind),
                langs.join(","),
                chars,
                passages.len(),
            )
        }
        Outcome::Skipped { sha256, reason } => (
            "skipped",
            Some(reason.as_str()),
            sha256.as_deref(),
            None,
            String::new(),
            0,
            0,
        ),
        Outcome::Same => return Ok(Written::Same),
    };
    let file_id: i64 = tx
        .prepare_cached(
            "INSERT INTO files (base_id, root, path, size, mtime_ns, sha256, kind, status, reason,
                                passages, chars, languages, indexed_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (base_id, root, path) DO UPDATE SET
                size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256,
                kind = excluded.kind, status = excluded.status, reason = excluded.reason,
                passages = excluded.passages, chars = excluded.chars,
                languages = excluded.languages, indexed_ms = excluded.indexed_ms
             RETURNING id",
        )?
        .query_row(
            params![
                base_id,
                f.root,
                f.rel,
                size,
                f.mtime_ns,
                sha,
                kind,
                status,
                reason,
                count as i64,
                chars as i64,
                langs,
                now
            ],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_default();
    let Outcome::Indexed {
        passages, title, ..
    } = outcome
    else {
        return Ok(Written::Skipped);
    };
    let mut insert = tx.prepare_cached(
        "INSERT INTO passages (file_id, seq, section, page, language, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut fts = tx.prepare_cached(
        "INSERT INTO passages_fts (rowid, base, title, section, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let n = passages.len() as u64;
    for (seq, p) in passages.into_iter().enumerate() {
        insert.execute(params![
            file_id,
            seq as i64,
            p.section,
            p.passage.page,
            p.language,
            p.passage.text
        ])?;
        let rowid = tx.last_insert_rowid();
        fts.execute(params![
            rowid,
            base_token,
            title,
            p.indexed_section,
            p.indexed_body
        ])?;
    }
    Ok(Written::Indexed(n))
}
