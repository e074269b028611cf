//! The session store: clerk's chat history in one SQLite file.
//!
//! This module owns the database: opening it with private file permissions,
//! the pragmas (WAL, `synchronous=FULL`, foreign keys, busy timeout), the
//! schema migrations tracked by `PRAGMA user_version`, recovery of answers
//! left half-written by a killed clerk, and every read and write of sessions
//! and messages. Full-text search lives in `search.rs`, data types in
//! `types.rs`.
//!
//! It must not know about the terminal UI, the API client or the config
//! files: callers pass plain values in and get plain values back. It must not
//! refer to anything outside this folder (no `crate::` paths), must not edit
//! a migration step once released (append a new one), and must not write to
//! the search index from `update_partial` (that runs every second while an
//! answer streams).

mod search;
mod types;

pub use self::search::{RANK_WINDOW, is_cjk, match_query, segment};
pub use self::types::{
    Message, MessageFinish, MessageId, MessageStatus, NewMessage, NewSession, Role, SearchHit,
    Session, SessionId, SessionSummary, Usage, title_from,
};

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

/// The reason recorded on an answer that was still streaming when clerk
/// stopped; it is turned into an interrupted message at the next open.
pub const RECOVERY_REASON: &str = "clerk stopped before the answer finished";

/// How long a write waits for another clerk process holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema steps, in order. Step `i` (0-based) brings `user_version` from `i`
/// to `i + 1`; each step runs in its own transaction with that bump. Never
/// change a released step: append a new one.
const MIGRATIONS: &[&[&str]] = &[
    // 1: sessions and messages.
    &["CREATE TABLE sessions (
           id            INTEGER PRIMARY KEY,
           title         TEXT    NOT NULL,
           created_ms    INTEGER NOT NULL,
           updated_ms    INTEGER NOT NULL,
           profile       TEXT    NOT NULL,
           model         TEXT    NOT NULL,
           system_prompt TEXT,
           archived      INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
           message_count INTEGER NOT NULL DEFAULT 0
       );
       CREATE INDEX sessions_by_updated ON sessions (updated_ms DESC, id DESC);
       CREATE INDEX sessions_active_by_updated
           ON sessions (archived, updated_ms DESC, id DESC);
       CREATE TABLE messages (
           id            INTEGER PRIMARY KEY,
           session_id    INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
           role          TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
           content       TEXT    NOT NULL,
           status        TEXT    NOT NULL CHECK (status IN
                             ('complete', 'streaming', 'interrupted', 'truncated', 'error')),
           error         TEXT,
           model         TEXT,
           tokens_in     INTEGER,
           tokens_cached INTEGER,
           tokens_out    INTEGER,
           cost_usd      REAL,
           ttft_ms       INTEGER,
           duration_ms   INTEGER,
           created_ms    INTEGER NOT NULL,
           writer_pid    INTEGER
       );
       CREATE INDEX messages_by_session ON messages (session_id, id);
       CREATE INDEX messages_streaming ON messages (id) WHERE status = 'streaming';"],
    // 2: full-text search; index rows leave with their message (also on the
    // cascade from a deleted session).
    &[
        search::CREATE_FTS_SQL,
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
             DELETE FROM messages_fts WHERE rowid = old.id;
         END;",
    ],
    // 3: pinned sessions, drafts kept per session, small settings (e.g. the theme).
    &["ALTER TABLE sessions ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
       CREATE TABLE drafts (
           session_id INTEGER PRIMARY KEY,
           text       TEXT NOT NULL
       );
       CREATE TABLE settings (
           key   TEXT PRIMARY KEY,
           value TEXT NOT NULL
       );"],
    // 4: each message's size in tokens, kept once known (the server's count of an answer,
    // or a count made when the conversation had to be fitted), so a long session is not
    // counted again on every send.
    &["ALTER TABLE messages ADD COLUMN tokens INTEGER;"],
];

/// Columns read by [`row_to_session`], in its order.
const SESSION_COLUMNS: &str =
    "id, title, created_ms, updated_ms, profile, model, system_prompt, archived, pinned";

/// Columns read by [`row_to_message`], in its order.
const MESSAGE_COLUMNS: &str = "id, session_id, role, content, status, error, model, \
     tokens_in, tokens_cached, tokens_out, cost_usd, ttft_ms, duration_ms, created_ms, tokens";

/// What can go wrong with the history database, worded for the person
/// using clerk.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file or its folder could not be created or opened.
    #[error(
        "cannot open the history database at {path}: {cause}. Check the folder's permissions or set CLERK_DATA_DIR"
    )]
    Open {
        /// The database path as given.
        path: String,
        /// What the operating system or SQLite said.
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The file exists but is not a usable SQLite database.
    #[error(
        "the history database at {path} is damaged or is not a clerk database ({cause}). Move the file aside so clerk can start a new history, or set CLERK_DATA_DIR"
    )]
    Damaged {
        /// The database path as given.
        path: String,
        /// What SQLite said.
        #[source]
        cause: rusqlite::Error,
    },
    /// The database was written by a newer clerk with a schema this one does
    /// not know.
    #[error(
        "the history database at {path} was written by a newer version of clerk (schema version {found}, this version knows up to {known}). Update clerk, or set CLERK_DATA_DIR to keep a separate history"
    )]
    TooNew {
        /// The database path as given.
        path: String,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this program knows.
        known: i64,
    },
    /// The disk (or the database's size limit) is full.
    #[error(
        "the disk is full: the history could not be saved ({cause}). Free some disk space, then try again"
    )]
    DiskFull {
        /// What the operating system or SQLite said.
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Another process kept the database locked longer than the busy timeout.
    #[error(
        "the history database is busy: another clerk process kept it locked for more than 5 seconds ({0}). Try again, or close the other clerk"
    )]
    Busy(#[source] rusqlite::Error),
    /// The session does not exist (it may have been deleted).
    #[error("session {0} is not in the history (it may have been deleted)")]
    SessionNotFound(SessionId),
    /// The message does not exist (its session may have been deleted).
    #[error("message {0} is not in the history (its session may have been deleted)")]
    MessageNotFound(MessageId),
    /// `finish_message` was given a status that is not final.
    #[error("message {id} cannot be finished with status '{}': use a final status", status.as_str())]
    NotFinal {
        /// The message.
        id: MessageId,
        /// The status that was given.
        status: MessageStatus,
    },
    /// Any other SQLite error.
    #[error("history database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    /// Sorts SQLite errors into the variants a person can act on.
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::DiskFull {
                cause: Box::new(err),
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(err),
            _ => StoreError::Sqlite(err),
        }
    }
}

/// The open history database.
///
/// Reads take `&self`, writes take `&mut self`; each write method is one
/// transaction, committed (and synced to disk) before it returns.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    recovered: usize,
}

impl Store {
    /// Opens (or creates) the history database at `path`.
    ///
    /// Creates a missing parent folder with mode 0700 and the file with mode
    /// 0600 (an existing file is set to 0600), sets the pragmas, applies the
    /// migrations and turns answers left streaming by a killed clerk into
    /// interrupted ones (see [`Store::recovered`]).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let label = path.display().to_string();
        prepare_files(path).map_err(|cause| {
            if cause.kind() == std::io::ErrorKind::StorageFull {
                StoreError::DiskFull {
                    cause: Box::new(cause),
                }
            } else {
                StoreError::Open {
                    path: label.clone(),
                    cause: Box::new(cause),
                }
            }
        })?;
        let conn = Connection::open(path)
            .and_then(|conn| configure(&conn).map(|()| conn))
            .map_err(|cause| open_error(&label, cause))?;
        Store::init(conn, &label)
    }

    /// Opens a fresh database in memory, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let label = ":memory:";
        let conn = Connection::open_in_memory()
            .and_then(|conn| configure(&conn).map(|()| conn))
            .map_err(|cause| open_error(label, cause))?;
        Store::init(conn, label)
    }

    fn init(mut conn: Connection, label: &str) -> Result<Store, StoreError> {
        migrate(&mut conn, label)?;
        let recovered = recover(&mut conn)?;
        Ok(Store { conn, recovered })
    }

    /// How many answers were found still streaming when the database was
    /// opened and were marked interrupted with [`RECOVERY_REASON`].
    pub fn recovered(&self) -> usize {
        self.recovered
    }

    /// Creates a session and returns its id.
    pub fn create_session(&mut self, new: &NewSession) -> Result<SessionId, StoreError> {
        self.conn.execute(
            "INSERT INTO sessions (title, created_ms, updated_ms, profile, model, system_prompt)
             VALUES (?1, ?2, ?2, ?3, ?4, ?5)",
            params![
                new.title,
                new.now_ms,
                new.profile,
                new.model,
                new.system_prompt
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The session with this id, if it exists.
    pub fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], row_to_session).optional()?)
    }

    /// The most recently updated session that is not archived.
    pub fn last_session_id(&self) -> Result<Option<SessionId>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM sessions WHERE archived = 0
             ORDER BY updated_ms DESC, id DESC LIMIT 1",
        )?;
        Ok(stmt.query_row([], |row| row.get(0)).optional()?)
    }

    /// Sessions with their message counts, most recently updated first, at
    /// most `limit` of them (all with `None`); archived ones only when
    /// `include_archived`.
    pub fn list_sessions(
        &self,
        limit: Option<usize>,
        include_archived: bool,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        // LIMIT -1 means no limit in SQLite.
        let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let filter = if include_archived {
            ""
        } else {
            "WHERE archived = 0"
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS}, message_count FROM sessions {filter}
             ORDER BY updated_ms DESC, id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], |row| {
            Ok(SessionSummary {
                session: row_to_session(row)?,
                message_count: get_count(row, 9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Gives a session a new title and marks it updated; false if it does
    /// not exist.
    pub fn rename_session(
        &mut self,
        id: SessionId,
        title: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE sessions SET title = ?2, updated_ms = ?3 WHERE id = ?1",
            params![id, title, now_ms],
        )?;
        Ok(n > 0)
    }

    /// Archives or unarchives a session; false if it does not exist.
    pub fn set_archived(&mut self, id: SessionId, archived: bool) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE sessions SET archived = ?2 WHERE id = ?1",
            params![id, archived],
        )?;
        Ok(n > 0)
    }

    /// Sets or clears a session's system prompt; false if it does not exist.
    pub fn set_session_system_prompt(
        &mut self,
        id: SessionId,
        system_prompt: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE sessions SET system_prompt = ?2 WHERE id = ?1",
            params![id, system_prompt],
        )?;
        Ok(n > 0)
    }

    /// Sets the model a session talks to; false if it does not exist.
    pub fn set_session_model(&mut self, id: SessionId, model: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE sessions SET model = ?2 WHERE id = ?1",
            params![id, model],
        )?;
        Ok(n > 0)
    }

    /// Deletes a session with its messages and their search index rows;
    /// false if it did not exist.
    pub fn delete_session(&mut self, id: SessionId) -> Result<bool, StoreError> {
        // Messages go by ON DELETE CASCADE, index rows by the
        // messages_fts_delete trigger, all in this one statement.
        let n = self
            .conn
            .execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        Ok(n > 0)
    }

    /// Adds a message and commits at once. Bumps the session's updated time
    /// and message count; a message with a final status is searchable
    /// straight away, a streaming one once finished.
    pub fn add_message(&mut self, new: &NewMessage) -> Result<MessageId, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE sessions SET updated_ms = ?2, message_count = message_count + 1
             WHERE id = ?1",
            params![new.session_id, new.now_ms],
        )?;
        if n == 0 {
            return Err(StoreError::SessionNotFound(new.session_id));
        }
        tx.execute(
            "INSERT INTO messages (session_id, role, content, status, model, created_ms,
                                   writer_pid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                new.session_id,
                new.role.as_str(),
                new.content,
                new.status.as_str(),
                new.model,
                new.now_ms,
                (!new.status.is_final()).then(std::process::id)
            ],
        )?;
        let id = tx.last_insert_rowid();
        if new.status.is_final() {
            search::index_message(&tx, id, &new.content)?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Saves the partial text of an answer that is still streaming. Cheap:
    /// one row update, no search index. Ignored (Ok) when the message is no
    /// longer streaming, so a late partial write never overwrites a final
    /// text; an error if the message does not exist.
    pub fn update_partial(&mut self, id: MessageId, content: &str) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE messages SET content = ?2 WHERE id = ?1 AND status = 'streaming'",
        )?;
        if stmt.execute(params![id, content])? > 0 {
            return Ok(());
        }
        let mut exists = self
            .conn
            .prepare_cached("SELECT 1 FROM messages WHERE id = ?1")?;
        if exists.exists([id])? {
            Ok(())
        } else {
            Err(StoreError::MessageNotFound(id))
        }
    }

    /// Writes the final state of a message (text, status, reason, usage,
    /// cost, timings), makes it searchable and bumps its session's updated
    /// time, in one transaction.
    pub fn finish_message(
        &mut self,
        id: MessageId,
        finish: &MessageFinish,
    ) -> Result<(), StoreError> {
        if !finish.status.is_final() {
            return Err(StoreError::NotFinal {
                id,
                status: finish.status,
            });
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let session_id: Option<SessionId> = tx
            .query_row(
                "UPDATE messages SET content = ?2, status = ?3, error = ?4, tokens_in = ?5,
                     tokens_cached = ?6, tokens_out = ?7, cost_usd = ?8, ttft_ms = ?9,
                     duration_ms = ?10
                 WHERE id = ?1 RETURNING session_id",
                params![
                    id,
                    finish.content,
                    finish.status.as_str(),
                    finish.error,
                    db_u64(finish.usage.tokens_in),
                    db_u64(finish.usage.tokens_cached),
                    db_u64(finish.usage.tokens_out),
                    finish.cost_usd,
                    db_u64(finish.ttft_ms),
                    db_u64(finish.duration_ms)
                ],
                |row| row.get(0),
            )
            .optional()?;
        let Some(session_id) = session_id else {
            return Err(StoreError::MessageNotFound(id));
        };
        tx.execute(
            "UPDATE sessions SET updated_ms = ?2 WHERE id = ?1",
            params![session_id, finish.now_ms],
        )?;
        search::index_message(&tx, id, &finish.content)?;
        tx.commit()?;
        Ok(())
    }

    /// Keeps messages' sizes in tokens (unknown rows are skipped), in one transaction.
    pub fn set_tokens(&mut self, counts: &[(MessageId, u64)]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE messages SET tokens = ?2 WHERE id = ?1")?;
            for (id, n) in counts {
                stmt.execute(params![id, db_u64(Some(*n))])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The messages of a session in the order they were added (empty if the
    /// session does not exist).
    pub fn messages(&self, session_id: SessionId) -> Result<Vec<Message>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([session_id], row_to_message)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The message with this id, if it exists.
    pub fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], row_to_message).optional()?)
    }

    /// Pins or unpins a session (pinned sessions are listed first by the app); false if it
    /// does not exist.
    pub fn set_pinned(&mut self, id: SessionId, pinned: bool) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE sessions SET pinned = ?2 WHERE id = ?1",
            params![id, pinned],
        )?;
        Ok(n > 0)
    }

    /// The unsent draft kept for a session (`0` is the draft of a new, unsaved session).
    pub fn draft(&self, session_id: SessionId) -> Result<Option<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT text FROM drafts WHERE session_id = ?1")?;
        Ok(stmt.query_row([session_id], |r| r.get(0)).optional()?)
    }

    /// Keeps (or, when empty, forgets) the unsent draft of a session.
    pub fn set_draft(&mut self, session_id: SessionId, text: &str) -> Result<(), StoreError> {
        if text.is_empty() {
            self.conn
                .execute("DELETE FROM drafts WHERE session_id = ?1", [session_id])?;
        } else {
            self.conn.execute(
                "INSERT INTO drafts (session_id, text) VALUES (?1, ?2)
                 ON CONFLICT (session_id) DO UPDATE SET text = excluded.text",
                params![session_id, text],
            )?;
        }
        Ok(())
    }

    /// A small setting remembered across runs (e.g. `theme`).
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
        Ok(stmt.query_row([key], |r| r.get(0)).optional()?)
    }

    /// Remembers a setting.
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Deletes one message (and its search entry); false if it does not exist.
    pub fn delete_message(&mut self, id: MessageId) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let session: Option<SessionId> = tx
            .query_row(
                "DELETE FROM messages WHERE id = ?1 RETURNING session_id",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(sid) = session {
            tx.execute(
                "UPDATE sessions SET message_count = message_count - 1 WHERE id = ?1",
                [sid],
            )?;
        }
        tx.commit()?;
        Ok(session.is_some())
    }

    /// Adds the empty row of an answer about to stream from `model`.
    pub fn add_streaming_answer(
        &mut self,
        session_id: SessionId,
        model: &str,
        now_ms: i64,
    ) -> Result<MessageId, StoreError> {
        self.add_message(&NewMessage {
            session_id,
            role: Role::Assistant,
            content: String::new(),
            status: MessageStatus::Streaming,
            model: Some(model.to_string()),
            now_ms,
        })
    }

    /// Deletes a message and every later message of its session (edit and resend);
    /// returns how many were deleted.
    pub fn delete_messages_from(&mut self, id: MessageId) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let session: Option<SessionId> = tx
            .query_row("SELECT session_id FROM messages WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(sid) = session else {
            return Ok(0);
        };
        let n = tx.execute(
            "DELETE FROM messages WHERE session_id = ?1 AND id >= ?2",
            params![sid, id],
        )?;
        tx.execute(
            "UPDATE sessions SET message_count = message_count - ?2 WHERE id = ?1",
            params![sid, n as i64],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Adds whole sessions with their (finished) messages in one transaction:
    /// for restoring exports and for filling large test databases quickly.
    /// Each message's `session_id` is ignored (the new session's id is used);
    /// messages must have a final status. Returns the new session ids.
    pub fn import(
        &mut self,
        sessions: &[(NewSession, Vec<NewMessage>)],
    ) -> Result<Vec<SessionId>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(sessions.len());
        for (session, messages) in sessions {
            let updated = messages.last().map_or(session.now_ms, |m| m.now_ms);
            tx.prepare_cached(
                "INSERT INTO sessions (title, created_ms, updated_ms, profile, model,
                                       system_prompt, message_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                session.title,
                session.now_ms,
                updated,
                session.profile,
                session.model,
                session.system_prompt,
                i64::try_from(messages.len()).unwrap_or(i64::MAX)
            ])?;
            let session_id = tx.last_insert_rowid();
            for m in messages {
                if !m.status.is_final() {
                    return Err(StoreError::NotFinal {
                        id: 0,
                        status: m.status,
                    });
                }
                tx.prepare_cached(
                    "INSERT INTO messages (session_id, role, content, status, model, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    session_id,
                    m.role.as_str(),
                    m.content,
                    m.status.as_str(),
                    m.model,
                    m.now_ms
                ])?;
                let id = tx.last_insert_rowid();
                search::index_message(&tx, id, &m.content)?;
            }
            ids.push(session_id);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// The result of `PRAGMA integrity_check`: `"ok"` when the file is
    /// sound, otherwise SQLite's list of problems, one per line.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(lines.join("\n"))
    }
}

/// Creates the parent folder (0700) if missing and the database file (0600),
/// and makes an existing file (and its WAL files) private too.
fn prepare_files(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        create_private_dir(parent)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        // SQLite gives new -wal/-shm files the database's mode; older ones
        // are fixed here.
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = Path::new(&side);
            if side.exists() {
                fs::set_permissions(side, fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    drop(file);
    Ok(())
}

/// Creates `dir` (and missing ancestors) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // The umask may have taken bits away; make sure it is exactly 0700.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Sets the connection's pragmas.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Returns the mode in force: "wal", or "memory" for an in-memory
    // database. A file system that cannot do WAL keeps its rollback journal,
    // which is still safe with synchronous=FULL.
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Turns an SQLite error met while opening into the variant that tells the
/// person what to do.
fn open_error(label: &str, cause: rusqlite::Error) -> StoreError {
    match cause.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Damaged {
            path: label.to_owned(),
            cause,
        },
        Some(ErrorCode::DiskFull | ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::from(cause)
        }
        _ => StoreError::Open {
            path: label.to_owned(),
            cause: Box::new(cause),
        },
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Applies the migration steps the database does not have yet.
fn migrate(conn: &mut Connection, label: &str) -> Result<(), StoreError> {
    // Invariant: the list is a few entries long, far below i64::MAX.
    let known = MIGRATIONS.len() as i64;
    let too_new = |found: i64| StoreError::TooNew {
        path: label.to_owned(),
        found,
        known,
    };
    let current = user_version(conn).map_err(|cause| open_error(label, cause))?;
    if current > known {
        return Err(too_new(current));
    }
    for (done, step) in (0_i64..).zip(MIGRATIONS.iter()) {
        if done < current {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another clerk may have migrated while this one waited for the lock.
        let now = user_version(&tx)?;
        if now > known {
            return Err(too_new(now));
        }
        if now > done {
            continue;
        }
        for sql in step.iter() {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", done + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Whether the process that is streaming an answer still runs. Another clerk
/// (a second window, a `clerk ask` in another terminal) may be writing while
/// this one opens the database: its answer must not be marked interrupted.
/// On Linux this asks /proc (and checks the process is a clerk, against pid
/// reuse); elsewhere a writer is assumed gone, the safe side for a crash.
fn writer_alive(pid: Option<i64>) -> bool {
    let Some(pid) = pid else { return false };
    if pid == i64::from(std::process::id()) {
        return true;
    }
    let comm = Path::new("/proc").join(pid.to_string()).join("comm");
    match fs::read_to_string(comm) {
        Ok(name) => name.trim().starts_with("clerk"),
        Err(_) => false,
    }
}

/// Marks answers left streaming by a killed clerk as interrupted and indexes
/// them; returns how many there were. Answers whose writer still runs are
/// left alone.
fn recover(conn: &mut Connection) -> Result<usize, StoreError> {
    // A cheap read first (partial index), so a normal open takes no write lock.
    let any: bool = conn
        .prepare("SELECT 1 FROM messages WHERE status = 'streaming'")?
        .exists([])?;
    if !any {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stuck = {
        let mut stmt =
            tx.prepare("SELECT id, content, writer_pid FROM messages WHERE status = 'streaming'")?;
        stmt.query_map([], |row| {
            Ok((
                row.get::<_, MessageId>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<i64>>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|(_, _, pid)| !writer_alive(*pid))
        .map(|(id, content, _)| (id, content))
        .collect::<Vec<_>>()
    };
    for (id, content) in &stuck {
        tx.execute(
            "UPDATE messages SET status = 'interrupted', error = ?2 WHERE id = ?1",
            params![id, RECOVERY_REASON],
        )?;
        search::index_message(&tx, *id, content)?;
    }
    tx.commit()?;
    Ok(stuck.len())
}

/// A token count or duration as stored: values beyond i64 (never seen in
/// practice) are clamped.
fn db_u64(value: Option<u64>) -> Option<i64> {
    value.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn get_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let value: Option<i64> = row.get(idx)?;
    value
        .map(|v| {
            u64::try_from(v).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e))
            })
        })
        .transpose()
}

fn get_count(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(idx)?;
    u64::try_from(value)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

/// Reads a role column, failing on a name this program does not know.
fn text_to_role(idx: usize, text: &str) -> rusqlite::Result<Role> {
    Role::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            format!("unknown message role '{text}'").into(),
        )
    })
}

/// Reads a status column, failing on a name this program does not know.
fn text_to_status(idx: usize, text: &str) -> rusqlite::Result<MessageStatus> {
    MessageStatus::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            format!("unknown message status '{text}'").into(),
        )
    })
}

/// Reads the columns of [`SESSION_COLUMNS`].
fn row_to_session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        title: row.get(1)?,
        created_ms: row.get(2)?,
        updated_ms: row.get(3)?,
        profile: row.get(4)?,
        model: row.get(5)?,
        system_prompt: row.get(6)?,
        archived: row.get(7)?,
        pinned: row.get(8)?,
    })
}

/// Reads the columns of [`MESSAGE_COLUMNS`].
fn row_to_message(row: &Row<'_>) -> rusqlite::Result<Message> {
    let role: String = row.get(2)?;
    let status: String = row.get(4)?;
    Ok(Message {
        id: row.get(0)?,
        session_id: row.get(1)?,
        role: text_to_role(2, &role)?,
        content: row.get(3)?,
        status: text_to_status(4, &status)?,
        error: row.get(5)?,
        model: row.get(6)?,
        usage: Usage {
            tokens_in: get_u64(row, 7)?,
            tokens_cached: get_u64(row, 8)?,
            tokens_out: get_u64(row, 9)?,
        },
        cost_usd: row.get(10)?,
        ttft_ms: get_u64(row, 11)?,
        duration_ms: get_u64(row, 12)?,
        created_ms: row.get(13)?,
        tokens: get_u64(row, 14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_session(title: &str, now_ms: i64) -> NewSession {
        NewSession {
            title: title.into(),
            profile: "work".into(),
            model: "gpt-test".into(),
            system_prompt: Some("Be brief.".into()),
            now_ms,
        }
    }

    fn new_message(session_id: SessionId, role: Role, text: &str, now_ms: i64) -> NewMessage {
        NewMessage {
            session_id,
            role,
            content: text.into(),
            status: MessageStatus::Complete,
            model: None,
            now_ms,
        }
    }

    fn streaming(session_id: SessionId, now_ms: i64) -> NewMessage {
        NewMessage {
            session_id,
            role: Role::Assistant,
            content: String::new(),
            status: MessageStatus::Streaming,
            model: Some("gpt-test".into()),
            now_ms,
        }
    }

    fn ids(list: &[SessionSummary]) -> Vec<SessionId> {
        list.iter().map(|s| s.session.id).collect()
    }

    #[test]
    fn create_list_rename_archive_delete() {
        let mut s = Store::open_in_memory().unwrap();
        assert!(s.list_sessions(None, false).unwrap().is_empty());
        assert_eq!(s.last_session_id().unwrap(), None);

        let a = s.create_session(&new_session("First", 100)).unwrap();
        let b = s.create_session(&new_session("Second", 200)).unwrap();
        let c = s.create_session(&new_session("Third", 300)).unwrap();
        let got = s.session(a).unwrap().unwrap();
        assert_eq!(
            got,
            Session {
                id: a,
                title: "First".into(),
                created_ms: 100,
                updated_ms: 100,
                profile: "work".into(),
                model: "gpt-test".into(),
                system_prompt: Some("Be brief.".into()),
                archived: false,
                pinned: false,
            }
        );
        assert_eq!(s.session(9999).unwrap(), None);

        // Most recently updated first; a message moves its session up.
        assert_eq!(ids(&s.list_sessions(None, false).unwrap()), vec![c, b, a]);
        s.add_message(&new_message(a, Role::User, "hello", 400))
            .unwrap();
        s.add_message(&new_message(a, Role::Assistant, "hi", 401))
            .unwrap();
        let list = s.list_sessions(None, false).unwrap();
        assert_eq!(ids(&list), vec![a, c, b]);
        assert_eq!(list[0].message_count, 2);
        assert_eq!(list[0].session.updated_ms, 401);
        assert_eq!(list[1].message_count, 0);
        assert_eq!(ids(&s.list_sessions(Some(2), false).unwrap()), vec![a, c]);
        assert_eq!(s.last_session_id().unwrap(), Some(a));

        // Rename bumps the updated time.
        assert!(s.rename_session(b, "Renamed", 500).unwrap());
        assert!(!s.rename_session(9999, "Nobody", 500).unwrap());
        assert_eq!(s.session(b).unwrap().unwrap().title, "Renamed");
        assert_eq!(ids(&s.list_sessions(None, false).unwrap()), vec![b, a, c]);

        // Archived sessions leave the default list and last_session_id.
        assert!(s.set_archived(b, true).unwrap());
        assert!(!s.set_archived(9999, true).unwrap());
        assert_eq!(ids(&s.list_sessions(None, false).unwrap()), vec![a, c]);
        assert_eq!(ids(&s.list_sessions(None, true).unwrap()), vec![b, a, c]);
        assert!(s.session(b).unwrap().unwrap().archived);
        assert_eq!(s.last_session_id().unwrap(), Some(a));
        assert!(s.set_archived(b, false).unwrap());
        assert_eq!(s.last_session_id().unwrap(), Some(b));

        // Setters.
        assert!(s.set_session_model(c, "gpt-other").unwrap());
        assert!(s.set_session_system_prompt(c, None).unwrap());
        let got = s.session(c).unwrap().unwrap();
        assert_eq!(got.model, "gpt-other");
        assert_eq!(got.system_prompt, None);
        assert!(s.set_session_system_prompt(c, Some("Use French.")).unwrap());
        assert_eq!(
            s.session(c).unwrap().unwrap().system_prompt.as_deref(),
            Some("Use French.")
        );
        assert!(!s.set_session_model(9999, "x").unwrap());

        // Delete takes the messages along.
        let first = s.messages(a).unwrap()[0].id;
        assert!(s.delete_session(a).unwrap());
        assert!(!s.delete_session(a).unwrap());
        assert_eq!(s.session(a).unwrap(), None);
        assert!(s.messages(a).unwrap().is_empty());
        assert_eq!(s.message(first).unwrap(), None);
        assert_eq!(ids(&s.list_sessions(None, true).unwrap()), vec![b, c]);
    }

    #[test]
    fn messages_round_trip_in_order() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        let other = s.create_session(&new_session("Other", 100)).unwrap();
        let sys = s
            .add_message(&new_message(a, Role::System, "Be brief.", 110))
            .unwrap();
        let user = s
            .add_message(&new_message(a, Role::User, "What is 2+2? 你好", 120))
            .unwrap();
        s.add_message(&new_message(other, Role::User, "elsewhere", 125))
            .unwrap();
        let answer = s
            .add_message(&NewMessage {
                session_id: a,
                role: Role::Assistant,
                content: "4".into(),
                status: MessageStatus::Truncated,
                model: Some("gpt-test".into()),
                now_ms: 130,
            })
            .unwrap();
        let list = s.messages(a).unwrap();
        assert_eq!(
            list.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![sys, user, answer]
        );
        assert_eq!(list[0].role, Role::System);
        assert_eq!(list[1].content, "What is 2+2? 你好");
        assert_eq!(
            list[2],
            Message {
                id: answer,
                session_id: a,
                role: Role::Assistant,
                content: "4".into(),
                status: MessageStatus::Truncated,
                error: None,
                model: Some("gpt-test".into()),
                usage: Usage::default(),
                cost_usd: None,
                ttft_ms: None,
                duration_ms: None,
                created_ms: 130,
                tokens: None,
            }
        );
        assert_eq!(s.message(user).unwrap().as_ref(), Some(&list[1]));
        assert_eq!(s.message(9999).unwrap(), None);

        // A message for a session that does not exist is refused and
        // changes nothing.
        let err = s
            .add_message(&new_message(9999, Role::User, "lost", 140))
            .unwrap_err();
        assert!(matches!(err, StoreError::SessionNotFound(9999)), "{err}");
        assert_eq!(s.list_sessions(None, false).unwrap()[0].message_count, 3);
    }

    #[test]
    fn update_partial_then_finish() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        let id = s.add_message(&streaming(a, 200)).unwrap();
        assert_eq!(
            s.message(id).unwrap().unwrap().status,
            MessageStatus::Streaming
        );
        s.update_partial(id, "Hel").unwrap();
        s.update_partial(id, "Hello, wor").unwrap();
        let partial = s.message(id).unwrap().unwrap();
        assert_eq!(partial.content, "Hello, wor");
        assert_eq!(partial.status, MessageStatus::Streaming);

        let finish = MessageFinish {
            content: "Hello, world".into(),
            status: MessageStatus::Interrupted,
            error: Some("cancelled by the user".into()),
            usage: Usage {
                tokens_in: Some(120),
                tokens_cached: Some(64),
                tokens_out: Some(3),
            },
            cost_usd: Some(0.00125),
            ttft_ms: Some(350),
            duration_ms: Some(1_200),
            now_ms: 900,
        };
        s.finish_message(id, &finish).unwrap();
        let done = s.message(id).unwrap().unwrap();
        assert_eq!(
            done,
            Message {
                id,
                session_id: a,
                role: Role::Assistant,
                content: "Hello, world".into(),
                status: MessageStatus::Interrupted,
                error: Some("cancelled by the user".into()),
                model: Some("gpt-test".into()),
                usage: finish.usage,
                cost_usd: Some(0.00125),
                ttft_ms: Some(350),
                duration_ms: Some(1_200),
                created_ms: 200,
                tokens: None,
            }
        );
        assert_eq!(s.session(a).unwrap().unwrap().updated_ms, 900);

        // A late partial write does not overwrite the final text.
        s.update_partial(id, "Hello, wo").unwrap();
        assert_eq!(s.message(id).unwrap().unwrap().content, "Hello, world");

        // Mistakes are reported.
        assert!(matches!(
            s.update_partial(9999, "x"),
            Err(StoreError::MessageNotFound(9999))
        ));
        assert!(matches!(
            s.finish_message(9999, &finish),
            Err(StoreError::MessageNotFound(9999))
        ));
        let still = MessageFinish {
            status: MessageStatus::Streaming,
            ..finish
        };
        assert!(matches!(
            s.finish_message(id, &still),
            Err(StoreError::NotFinal { .. })
        ));
    }

    #[test]
    fn pins_drafts_settings_and_message_delete() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("A", 1)).unwrap();
        assert!(s.set_pinned(a, true).unwrap());
        assert!(s.session(a).unwrap().unwrap().pinned);
        assert!(!s.set_pinned(999, true).unwrap());
        s.set_draft(a, "half a thought 报销").unwrap();
        assert_eq!(s.draft(a).unwrap().as_deref(), Some("half a thought 报销"));
        s.set_draft(a, "").unwrap();
        assert_eq!(s.draft(a).unwrap(), None);
        s.set_setting("theme", "light").unwrap();
        s.set_setting("theme", "gruvbox").unwrap();
        assert_eq!(s.setting("theme").unwrap().as_deref(), Some("gruvbox"));
        let m = s
            .add_message(&NewMessage {
                session_id: a,
                role: Role::User,
                content: "delete me".into(),
                status: MessageStatus::Complete,
                model: None,
                now_ms: 2,
            })
            .unwrap();
        assert!(s.delete_message(m).unwrap());
        assert!(s.messages(a).unwrap().is_empty());
        assert!(s.search("delete", 5, ("[", "]")).unwrap().is_empty());
        assert_eq!(s.list_sessions(None, false).unwrap()[0].message_count, 0);
    }

    #[test]
    fn delete_messages_from_cuts_the_session_at_a_message() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("A", 1)).unwrap();
        let b = s.create_session(&new_session("B", 1)).unwrap();
        let mut add = |sid, text: &str| {
            s.add_message(&NewMessage {
                session_id: sid,
                role: Role::User,
                content: text.into(),
                status: MessageStatus::Complete,
                model: None,
                now_ms: 2,
            })
            .unwrap()
        };
        let _keep = add(a, "first question");
        let cut = add(a, "second question");
        let _other = add(b, "other session's message");
        let _later = add(a, "third question");
        assert_eq!(s.delete_messages_from(cut).unwrap(), 2);
        let left: Vec<String> = s
            .messages(a)
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect();
        assert_eq!(left, vec!["first question"]);
        assert_eq!(
            s.messages(b).unwrap().len(),
            1,
            "other sessions are untouched"
        );
        assert!(s.search("third", 5, ("[", "]")).unwrap().is_empty());
        let counts: Vec<(i64, u64)> = s
            .list_sessions(None, false)
            .unwrap()
            .iter()
            .map(|x| (x.session.id, x.message_count))
            .collect();
        assert!(
            counts.contains(&(a, 1)) && counts.contains(&(b, 1)),
            "{counts:?}"
        );
        assert_eq!(s.delete_messages_from(999).unwrap(), 0);
    }

    #[test]
    fn import_adds_sessions_searchably_in_one_go() {
        let mut s = Store::open_in_memory().unwrap();
        let msg = |role, content: &str, now_ms| NewMessage {
            session_id: 0,
            role,
            content: content.into(),
            status: MessageStatus::Complete,
            model: None,
            now_ms,
        };
        let ids = s
            .import(&[(
                new_session("Imported", 10),
                vec![
                    msg(Role::User, "差旅报销怎么办", 11),
                    msg(Role::Assistant, "填表", 12),
                ],
            )])
            .unwrap();
        let list = s.list_sessions(None, false).unwrap();
        assert_eq!(list[0].session.id, ids[0]);
        assert_eq!(list[0].message_count, 2);
        assert_eq!(list[0].session.updated_ms, 12);
        assert_eq!(s.search("报销", 5, ("[", "]")).unwrap().len(), 1);
        let streaming = NewMessage {
            status: MessageStatus::Streaming,
            ..msg(Role::User, "x", 1)
        };
        assert!(
            s.import(&[(new_session("Bad", 1), vec![streaming])])
                .is_err()
        );
    }

    #[test]
    fn streaming_message_is_recovered_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let (session, id, done) = {
            let mut s = Store::open(&path).unwrap();
            assert_eq!(s.recovered(), 0);
            let session = s.create_session(&new_session("Chat", 100)).unwrap();
            let done = s.add_message(&streaming(session, 200)).unwrap();
            s.finish_message(
                done,
                &MessageFinish {
                    content: "finished answer".into(),
                    status: MessageStatus::Complete,
                    error: None,
                    usage: Usage::default(),
                    cost_usd: None,
                    ttft_ms: None,
                    duration_ms: None,
                    now_ms: 250,
                },
            )
            .unwrap();
            let id = s.add_message(&streaming(session, 300)).unwrap();
            s.update_partial(id, "The expense policy says").unwrap();
            assert!(s.search("expense", 10, ("[", "]")).unwrap().is_empty());
            (session, id, done)
            // Dropped without finishing, as if clerk had been killed.
        };
        // While its writer (this very process) still runs, the answer is left alone:
        // another clerk opening the database must not cut a live answer off.
        assert_eq!(Store::open(&path).unwrap().recovered(), 0);
        // Now the writer is gone (a pid no process has).
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE messages SET writer_pid = 2147483646 WHERE id = ?1",
                [id],
            )
            .unwrap();
        let s = Store::open(&path).unwrap();
        assert_eq!(s.recovered(), 1);
        let m = s.message(id).unwrap().unwrap();
        assert_eq!(m.status, MessageStatus::Interrupted);
        assert_eq!(m.error.as_deref(), Some(RECOVERY_REASON));
        assert_eq!(m.content, "The expense policy says");
        assert_eq!(
            s.message(done).unwrap().unwrap().status,
            MessageStatus::Complete
        );
        let hits = s.search("expense", 10, ("[", "]")).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].message_id, id);
        assert_eq!(hits[0].session_id, session);
        drop(s);
        // Nothing left to recover the next time.
        assert_eq!(Store::open(&path).unwrap().recovered(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;

        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("data").join("clerk");
        let path = folder.join("history.db");
        let mut s = Store::open(&path).unwrap();
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        s.add_message(&new_message(a, Role::User, "secret", 110))
            .unwrap();
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        assert_eq!(mode(&path), 0o600);
        let wal = folder.join("history.db-wal");
        assert!(wal.exists());
        assert_eq!(mode(&wal), 0o600);
        drop(s);

        // An existing file that is too open is made private; an existing
        // folder is left as it is.
        let loose_dir = dir.path().join("shared");
        fs::create_dir(&loose_dir).unwrap();
        fs::set_permissions(&loose_dir, fs::Permissions::from_mode(0o755)).unwrap();
        let loose = loose_dir.join("history.db");
        fs::write(&loose, b"").unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o644)).unwrap();
        Store::open(&loose).unwrap();
        assert_eq!(mode(&loose), 0o600);
        assert_eq!(mode(&loose_dir), 0o755);
    }

    #[test]
    fn pragmas_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("history.db")).unwrap();
        let text = |p: &str| -> String {
            s.conn
                .pragma_query_value(None, p, |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| match v {
                    rusqlite::types::Value::Text(t) => t,
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        assert_eq!(text("journal_mode"), "wal");
        assert_eq!(text("synchronous"), "2"); // FULL
        assert_eq!(text("foreign_keys"), "1");
        assert_eq!(text("busy_timeout"), "5000");
    }

    #[test]
    fn migrations_are_idempotent_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let a = {
            let mut s = Store::open(&path).unwrap();
            assert_eq!(
                user_version(&s.conn).unwrap(),
                i64::try_from(MIGRATIONS.len()).unwrap()
            );
            let a = s.create_session(&new_session("Kept", 100)).unwrap();
            s.add_message(&new_message(a, Role::User, "still here", 110))
                .unwrap();
            a
        };
        for _ in 0..2 {
            let s = Store::open(&path).unwrap();
            assert_eq!(
                user_version(&s.conn).unwrap(),
                i64::try_from(MIGRATIONS.len()).unwrap()
            );
            assert_eq!(s.messages(a).unwrap()[0].content, "still here");
            assert_eq!(s.search("still", 5, ("[", "]")).unwrap().len(), 1);
            assert_eq!(s.integrity_check().unwrap(), "ok");
        }
    }

    #[test]
    fn partly_migrated_database_is_completed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0][0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        assert_eq!(
            user_version(&s.conn).unwrap(),
            i64::try_from(MIGRATIONS.len()).unwrap()
        );
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        s.add_message(&new_message(a, Role::User, "indexed now", 110))
            .unwrap();
        assert_eq!(s.search("indexed", 5, ("[", "]")).unwrap().len(), 1);
    }

    #[test]
    fn newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        drop(Store::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        match &err {
            StoreError::TooNew { found, known, .. } => {
                assert_eq!(*found, 99);
                assert_eq!(*known, i64::try_from(MIGRATIONS.len()).unwrap());
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("newer version of clerk"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }

    #[test]
    fn open_failures_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        // The parent "folder" is a regular file.
        let blocker = dir.path().join("not-a-folder");
        fs::write(&blocker, b"x").unwrap();
        let path = blocker.join("history.db");
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("cannot open the history database at"),
            "{text}"
        );
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("CLERK_DATA_DIR"), "{text}");

        // A file that is not a database.
        let junk = dir.path().join("junk.db");
        fs::write(&junk, vec![b'z'; 8192]).unwrap();
        let err = Store::open(&junk).unwrap_err();
        assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn full_disk_is_reported_as_such() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        // Cap the database at its current size: the next big write is
        // refused with SQLITE_FULL, as on a full disk.
        let pages: i64 = s
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .unwrap();
        s.conn.pragma_update(None, "max_page_count", pages).unwrap();
        let big = "lorem ipsum ".repeat(10_000);
        let err = s
            .add_message(&new_message(a, Role::User, &big, 110))
            .unwrap_err();
        assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
        assert!(err.to_string().starts_with("the disk is full"), "{err}");
        // Nothing half-written: the count did not move.
        assert_eq!(s.list_sessions(None, false).unwrap()[0].message_count, 0);
        assert!(s.messages(a).unwrap().is_empty());
    }

    #[test]
    fn integrity_check_is_ok() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        s.add_message(&new_message(a, Role::User, "报销 and VPN", 110))
            .unwrap();
        assert_eq!(s.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn listing_and_lookups_use_indexes() {
        let s = Store::open_in_memory().unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = s
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            stmt.query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap()
                .join("\n")
        };
        for sql in [
            "SELECT id FROM sessions WHERE archived = 0 ORDER BY updated_ms DESC, id DESC LIMIT -1",
            "SELECT id FROM sessions ORDER BY updated_ms DESC, id DESC LIMIT -1",
            "SELECT id FROM messages WHERE session_id = 1 ORDER BY id",
            "SELECT id FROM messages WHERE status = 'streaming'",
        ] {
            let p = plan(sql);
            assert!(p.contains("USING"), "{sql}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{sql}: {p}");
        }
    }
}
