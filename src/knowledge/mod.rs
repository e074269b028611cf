//! Knowledge bases: a team's procedure folders, indexed on this machine and searched in
//! English and Chinese, so that answers can be built from (and cite) the passages found.
//!
//! # The parts
//! - `mod.rs` (this file): [`Index`], the open index database, and [`KnowledgeError`].
//! - `schema.rs`: the database — `knowledge.sqlite3` beside the history, a private file,
//!   WAL, migrations by `PRAGMA user_version` — and its tables: bases, files (size, mtime,
//!   SHA-256, or why a file was skipped), passages, their FTS5 index, the passages'
//!   vectors and the packs and sign bits a vector search reads.
//! - [`walk`]: a base as configured ([`Base`]: its folders and files, `include` and
//!   `exclude` globs) and the files found in it (hidden folders, `.git`, and files that are
//!   obviously not documents — images, archives — are passed over).
//! - [`passages`]: a document's text (from [`crate::documents::extract`], the same code
//!   that reads attachments) cut along its headings, pages and table rows, in characters.
//! - [`analyze`]: how text becomes terms: Chinese cut into words with jieba-rs for
//!   documents and against the index's own vocabulary for questions; English left to
//!   FTS5's Porter stemmer; stop words.
//! - `update.rs`: [`Index::update`], incremental indexing: unchanged files (same size and
//!   mtime, or else the same SHA-256) are not read again, edited files replace their
//!   passages, deleted files leave. Files are read, extracted, cut and analysed on every
//!   core; one writer commits a batch at a time, so a build that is stopped (Ctrl-C,
//!   `kill -9`) leaves every file either as it was or as it now is.
//! - `search.rs`: [`Index::search`].
//! - [`found`]: whether the passages found answer the question at all.
//! - `scan.rs`: [`Index::vector_rankings`], how a vector search reads the index: an exact
//!   scan of a small base, a prefilter on sign bits and an exact rescoring of a large one.
//! - `status.rs`: [`Index::status`], [`Index::list`], [`Index::remove`],
//!   [`Index::languages`].
//! - [`ground`]: answers grounded on the passages — retrieval with restatements
//!   ([`restate`]) and vectors ([`vectors`]), the prompt and the citations ([`cite`]). Its
//!   top comment is the API the command line and the app call.
//! - [`answer`]: a grounded question inside a conversation (not found, or what is sent)
//!   and the passages kept with its answer, with the ones it cites — the app's decisions,
//!   tested without a runtime.
//!
//! # How a search works
//! 1. Each [`Query`] — the question as asked, and (later work) its restatements in the
//!    base's other languages — is cut into terms ([`analyze::question_terms`]): English
//!    words without stop words; Chinese words found in the index's vocabulary
//!    (`passages_vocab`); Chinese the index holds nowhere is kept as *unknown*.
//! 2. The terms (never a phrase) go into an FTS5 `MATCH`: all of them ANDed first, ORed
//!    when that finds too few; passages are ranked by BM25, the file's path and the heading
//!    path weighing more than the body text. The commonest terms are left out of the
//!    ranking when rarer ones are there (`search::searched`).
//! 3. The ranked lists of every query, and any other ranking the caller passes in
//!    ([`Ranking`]: vector search, later), are fused by reciprocal rank
//!    (`Σ 1 / (60 + rank)`), and the best `k` passages are read with their file, heading
//!    path and page ([`Hit`]).
//! 4. [`found`] decides whether they answer the question: the best passage must hold most
//!    of the question's weight (its terms weighed by how rare they are in the index).
//!
//! Nothing here leaves the machine: indexing and keyword search read local files and
//! write one local database. It must not import `app`, `ui`, `tui` or `cli`, nor print.

pub mod analyze;
pub mod answer;
pub mod cite;
pub mod found;
pub mod ground;
pub mod passages;
pub mod restate;
mod scan;
mod schema;
mod search;
mod status;
mod update;
pub mod vectors;
pub mod walk;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

pub use self::scan::Scan;
pub use self::search::{Hit, Query, Ranking, Retrieval};
pub use self::status::{BaseInfo, Change, Stale, Status};
pub use self::update::{Progress, Report};
pub use self::walk::{Base, Skipped};

/// A passage's id in the index (stable until its file changes).
pub type PassageId = i64;

/// What can go wrong with a knowledge base or its index. Each message says what to do.
#[derive(Debug)]
pub enum KnowledgeError {
    /// The index file cannot be opened or created.
    Open {
        /// The index file.
        path: PathBuf,
        /// Why.
        cause: String,
    },
    /// The index file is damaged.
    Damaged {
        /// The index file.
        path: PathBuf,
        /// SQLite's words.
        cause: String,
    },
    /// The index was made by a newer clerk.
    TooNew {
        /// The index file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// The newest this clerk knows.
        known: i64,
    },
    /// A statement failed.
    Sqlite {
        /// The index file, when known.
        path: Option<PathBuf>,
        /// SQLite's error.
        cause: rusqlite::Error,
    },
    /// A configured folder or file does not exist.
    MissingPath {
        /// The base.
        base: String,
        /// The path.
        path: PathBuf,
    },
    /// An `include` or `exclude` glob does not compile.
    BadGlob {
        /// The base.
        base: String,
        /// The glob.
        glob: String,
        /// Why.
        why: String,
    },
    /// A base that has never been indexed.
    NotIndexed(String),
    /// The caller stopped an update; what was committed before stays.
    Stopped,
}

// Written by hand, not with `thiserror`'s `#[error]`: the texts come from the message catalog
// (locales/knowledge.yml) in the interface's language; the English ones are unchanged.
impl std::fmt::Display for KnowledgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            KnowledgeError::Open { path, cause } => {
                tr!("knowledge.error.open", path = path.display(), cause = cause)
            }
            KnowledgeError::Damaged { path, cause } => {
                tr!(
                    "knowledge.error.damaged",
                    path = path.display(),
                    cause = cause
                )
            }
            KnowledgeError::TooNew { path, found, known } => tr!(
                "knowledge.error.too_new",
                path = path.display(),
                found = found,
                known = known
            ),
            KnowledgeError::Sqlite {
                path: Some(path),
                cause,
            } => tr!(
                "knowledge.error.sqlite_at",
                path = path.display(),
                cause = cause
            ),
            KnowledgeError::Sqlite { path: None, cause } => {
                tr!("knowledge.error.sqlite", cause = cause)
            }
            KnowledgeError::MissingPath { base, path } => tr!(
                "knowledge.error.missing_path",
                base = base,
                path = path.display()
            ),
            KnowledgeError::BadGlob { base, glob, why } => {
                tr!(
                    "knowledge.error.bad_glob",
                    base = base,
                    glob = glob,
                    why = why
                )
            }
            KnowledgeError::NotIndexed(base) => tr!("knowledge.error.not_indexed", base = base),
            KnowledgeError::Stopped => tr!("knowledge.error.stopped"),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for KnowledgeError {}

impl From<rusqlite::Error> for KnowledgeError {
    fn from(cause: rusqlite::Error) -> Self {
        KnowledgeError::Sqlite { path: None, cause }
    }
}

/// The open index database.
#[derive(Debug)]
pub struct Index {
    conn: Connection,
    path: PathBuf,
}

impl Index {
    /// Open (or create) the index at `path` (normally [`crate::config::Paths::knowledge_index`]):
    /// the folder is made 0700 and the file 0600, WAL journal, migrations applied.
    pub fn open(path: &Path) -> Result<Index, KnowledgeError> {
        Ok(Index {
            conn: schema::open(path)?,
            path: path.to_path_buf(),
        })
    }

    /// An empty index in memory (tests).
    pub fn open_in_memory() -> Result<Index, KnowledgeError> {
        Ok(Index {
            conn: schema::open_in_memory()?,
            path: PathBuf::from(":memory:"),
        })
    }

    /// The index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `e` with this index's file named, and a damaged file called so.
    fn named(&self, e: KnowledgeError) -> KnowledgeError {
        match e {
            KnowledgeError::Sqlite { path: None, cause } => {
                if matches!(
                    cause.sqlite_error_code(),
                    Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
                ) {
                    KnowledgeError::Damaged {
                        path: self.path.clone(),
                        cause: cause.to_string(),
                    }
                } else {
                    KnowledgeError::Sqlite {
                        path: Some(self.path.clone()),
                        cause,
                    }
                }
            }
            other => other,
        }
    }

    /// The id of base `name`, if it has been indexed.
    fn base_id(&self, name: &str) -> Result<Option<i64>, KnowledgeError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row("SELECT id FROM bases WHERE name = ?1", [name], |r| r.get(0))
            .optional()?)
    }
}

#[cfg(test)]
mod tests;
