//! The index database: opening it (a private file in a private folder, WAL), its schema
//! and migrations (tracked by `PRAGMA user_version`, as the history's are), and the
//! errors met while opening, worded to say that the index can be deleted and rebuilt.
//!
//! Tables:
//! - `bases`: one row per knowledge base (name, when it was last indexed);
//! - `files`: every file found, indexed or skipped (with why), with its size, mtime and
//!   SHA-256, so an unchanged file is never read again;
//! - `passages`: the passages, with their heading path, page, language and text;
//! - `passages_fts`: FTS5 over the *analysed* text (contentless: the text is in
//!   `passages`), columns `base` (a token naming the base), `title` (the file's path),
//!   `section` (the heading path) and `body`; `passages_vocab` reads its vocabulary;
//! - `passage_vectors`: a passage's embedding per model, as 8-bit integers and a scale,
//!   with its base and language beside it; step 2 replaced `vectors` (`f32` blobs in a
//!   `WITHOUT ROWID` table), and [`super::vectors::convert_float_vectors`] moves what an
//!   older index holds;
//! - `vector_packs`: the same vectors, several hundred to a row per base, model and
//!   language, which is what a search reads (SQLite spends about a microsecond a row, so a
//!   row per vector made the scan of 130,000 cost 150 ms). Derived: the triggers on
//!   `passage_vectors` delete a base's packs whenever one of its vectors comes or goes,
//!   and they are made again by the next `kb index` or search;
//! - `vector_signs` (step 3): the sign bits of the packs' vectors (a bit a component, set
//!   when it is above the mean of the vectors of its language, the `centre` kept with
//!   them), a row per pack with its passage ids, in a table of their own
//!   so that the prefilter of a large base reads them without the 8-bit data
//!   (src/knowledge/scan.rs). Derived like the packs, by the same triggers and with them;
//!   an index of step 2 (packs without signs) has both made again by its first search.
//!
//! It must not edit a released migration step (append one), and it writes no rows.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::KnowledgeError;

/// The FTS5 tokenizer: English lowercased, accents folded and stemmed; Chinese arrives
/// already cut into words ([`super::analyze::for_index`]).
pub const TOKENIZER: &str = "porter unicode61 remove_diacritics 2";

/// Bumped when analysis changes (the dictionary, the segmentation, the passage cutting):
/// every file is then read again on the next update.
pub const ANALYSIS_VERSION: i64 = 1;

/// Schema steps; step `i` brings `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE bases (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL UNIQUE,
        created_ms  INTEGER NOT NULL,
        indexed_ms  INTEGER,
        duration_ms INTEGER
    );
    CREATE TABLE files (
        id          INTEGER PRIMARY KEY,
        base_id     INTEGER NOT NULL REFERENCES bases (id) ON DELETE CASCADE,
        root        TEXT    NOT NULL,
        path        TEXT    NOT NULL,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        sha256      BLOB,
        kind        TEXT,
        status      TEXT    NOT NULL CHECK (status IN ('indexed', 'skipped')),
        reason      TEXT,
        passages    INTEGER NOT NULL DEFAULT 0,
        chars       INTEGER NOT NULL DEFAULT 0,
        languages   TEXT    NOT NULL DEFAULT '',
        indexed_ms  INTEGER NOT NULL,
        UNIQUE (base_id, root, path)
    );
    CREATE TABLE passages (
        id       INTEGER PRIMARY KEY,
        file_id  INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
        seq      INTEGER NOT NULL,
        section  TEXT    NOT NULL,
        page     INTEGER,
        language TEXT,
        text     TEXT    NOT NULL
    );
    CREATE INDEX passages_by_file ON passages (file_id);
    CREATE VIRTUAL TABLE passages_fts USING fts5(
        base, title, section, body,
        content = '', contentless_delete = 1,
        tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE VIRTUAL TABLE passages_vocab USING fts5vocab(passages_fts, row);
    CREATE TRIGGER passages_fts_delete AFTER DELETE ON passages BEGIN
        DELETE FROM passages_fts WHERE rowid = old.id;
    END;
    CREATE TABLE vectors (
        passage_id INTEGER NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
        model      TEXT    NOT NULL,
        dims       INTEGER NOT NULL,
        data       BLOB    NOT NULL,
        PRIMARY KEY (passage_id, model)
    ) WITHOUT ROWID;
",
    "
    CREATE TABLE passage_vectors (
        id         INTEGER PRIMARY KEY,
        passage_id INTEGER NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
        base_id    INTEGER NOT NULL,
        model      TEXT    NOT NULL,
        language   TEXT,
        scale      REAL    NOT NULL,
        data       BLOB    NOT NULL,
        UNIQUE (passage_id, model)
    );
    CREATE INDEX passage_vectors_by_base ON passage_vectors (base_id, model);
    CREATE TABLE vector_packs (
        id       INTEGER PRIMARY KEY,
        base_id  INTEGER NOT NULL,
        model    TEXT    NOT NULL,
        language TEXT,
        dims     INTEGER NOT NULL,
        ids      BLOB    NOT NULL,
        scales   BLOB    NOT NULL,
        data     BLOB    NOT NULL
    );
    CREATE INDEX vector_packs_by_base ON vector_packs (base_id, model);
    CREATE TRIGGER passage_vectors_added AFTER INSERT ON passage_vectors BEGIN
        DELETE FROM vector_packs WHERE base_id = new.base_id AND model = new.model;
    END;
    CREATE TRIGGER passage_vectors_removed AFTER DELETE ON passage_vectors BEGIN
        DELETE FROM vector_packs WHERE base_id = old.base_id AND model = old.model;
    END;
",
    "
    CREATE TABLE vector_signs (
        id       INTEGER PRIMARY KEY,
        base_id  INTEGER NOT NULL,
        model    TEXT    NOT NULL,
        language TEXT,
        dims     INTEGER NOT NULL,
        ids      BLOB    NOT NULL,
        centre   BLOB    NOT NULL,
        signs    BLOB    NOT NULL
    );
    CREATE INDEX vector_signs_by_base ON vector_signs (base_id, model);
    DROP TRIGGER passage_vectors_added;
    DROP TRIGGER passage_vectors_removed;
    CREATE TRIGGER passage_vectors_added AFTER INSERT ON passage_vectors BEGIN
        DELETE FROM vector_packs WHERE base_id = new.base_id AND model = new.model;
        DELETE FROM vector_signs WHERE base_id = new.base_id AND model = new.model;
    END;
    CREATE TRIGGER passage_vectors_removed AFTER DELETE ON passage_vectors BEGIN
        DELETE FROM vector_packs WHERE base_id = old.base_id AND model = old.model;
        DELETE FROM vector_signs WHERE base_id = old.base_id AND model = old.model;
    END;
",
];

/// Open (or create) the index at `path`: folder 0700, file 0600, WAL, migrated.
pub(super) fn open(path: &Path) -> Result<Connection, KnowledgeError> {
    let failed = |cause: String| KnowledgeError::Open {
        path: path.to_path_buf(),
        cause,
    };
    crate::store::prepare_files(path).map_err(|e| failed(e.to_string()))?;
    let mut conn = Connection::open(path).map_err(|e| opening(path, e))?;
    configure(&conn).map_err(|e| opening(path, e))?;
    migrate(&mut conn, path).map_err(|e| match e {
        KnowledgeError::Sqlite { cause, .. } => opening(path, cause),
        other => other,
    })?;
    Ok(conn)
}

/// An index in memory, for tests.
pub(super) fn open_in_memory() -> Result<Connection, KnowledgeError> {
    let mut conn = Connection::open_in_memory().map_err(|e| opening(Path::new(":memory:"), e))?;
    configure(&conn).map_err(|e| opening(Path::new(":memory:"), e))?;
    migrate(&mut conn, Path::new(":memory:"))?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    // Derived data: a power cut may lose the last batch, never the file's integrity.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -32_000i64)?;
    conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
    Ok(())
}

/// An SQLite error met while opening, as the error that says what to do.
fn opening(path: &Path, cause: rusqlite::Error) -> KnowledgeError {
    match cause.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => KnowledgeError::Damaged {
            path: path.to_path_buf(),
            cause: cause.to_string(),
        },
        _ => KnowledgeError::Open {
            path: path.to_path_buf(),
            cause: cause.to_string(),
        },
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), KnowledgeError> {
    let sql = |cause| KnowledgeError::Sqlite { path: None, cause };
    let known = MIGRATIONS.len() as i64;
    let version =
        |c: &Connection| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0));
    let current = version(conn).map_err(sql)?;
    if current > known {
        return Err(KnowledgeError::TooNew {
            path: path.to_path_buf(),
            found: current,
            known,
        });
    }
    for (done, step) in (0_i64..).zip(MIGRATIONS.iter()) {
        if done < current {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        if version(&tx).map_err(sql)? > done {
            continue;
        }
        tx.execute_batch(step).map_err(sql)?;
        tx.pragma_update(None, "user_version", done + 1)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    super::vectors::convert_float_vectors(conn).map_err(sql)?;
    // Analysis changed since the files were read: forget their hashes and times, so the
    // next update reads every file again (and the old passages stay searchable meanwhile).
    let analysis: Option<i64> = conn
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'analysis'",
            [],
            |r| r.get(0),
        )
        .ok();
    if analysis != Some(ANALYSIS_VERSION) {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute("UPDATE files SET sha256 = NULL, mtime_ns = -1", [])
            .map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('analysis', ?1)",
            [ANALYSIS_VERSION.to_string()],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_new_index_is_private_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("data").join("clerk");
        let path = folder.join("knowledge.sqlite3");
        drop(open(&path).unwrap());
        let conn = open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&folder), 0o700);
            assert_eq!(mode(&path), 0o600);
        }
    }

    #[test]
    fn a_damaged_or_newer_index_says_to_rebuild_it() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("knowledge.sqlite3");
        std::fs::write(&junk, vec![b'z'; 8192]).unwrap();
        let err = open(&junk).unwrap_err().to_string();
        assert!(
            err.contains("damaged") && err.contains("clerk kb index"),
            "{err}"
        );
        assert!(err.contains(&junk.display().to_string()), "{err}");
        let newer = dir.path().join("newer.sqlite3");
        drop(open(&newer).unwrap());
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = open(&newer).unwrap_err().to_string();
        assert!(
            err.contains("newer version of clerk") && err.contains("rebuild"),
            "{err}"
        );
    }
}
