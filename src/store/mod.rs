//! The session store: clerk's chat history in one SQLite file.
//!
//! This folder owns the database. This file holds the [`Store`] handle and opens it; the
//! rest is one job per file:
//! - `open.rs`: the files with private permissions, the pragmas (WAL, `synchronous=FULL`,
//!   foreign keys, busy timeout) and the errors met while opening;
//! - `schema.rs`: the schema migrations tracked by `PRAGMA user_version`;
//! - `recover.rs`: recovery of answers left half-written by a killed clerk;
//! - `error.rs`: [`StoreError`], what can go wrong, worded for the user;
//! - `sessions.rs`: sessions (create, list, rename, pin, archive, delete), drafts, settings;
//! - `messages.rs`: messages (add, partial text, finish, token counts, delete);
//! - `import.rs`: whole sessions added in one transaction;
//! - `rows.rs`: the columns read and how rows become values;
//! - `search.rs`: full-text search; `types.rs`: the data types.
//!
//! It must not know about the terminal UI, the API client or the config
//! files: callers pass plain values in and get plain values back. It must not
//! refer to anything outside this folder (no `crate::` paths), must not edit
//! a migration step once released (append a new one), and must not write to
//! the search index from `update_partial` (that runs every second while an
//! answer streams).

mod error;
mod import;
mod messages;
mod open;
mod recover;
mod rows;
mod schema;
mod search;
mod sessions;
#[cfg(test)]
mod test_support;
mod types;

pub use self::error::StoreError;
pub use self::open::create_private_dir;
pub use self::recover::RECOVERY_REASON;
pub use self::search::{RANK_WINDOW, is_cjk, match_query, segment};
pub use self::types::{
    Message, MessageFinish, MessageId, MessageStatus, NewMessage, NewSession, Role, SearchHit,
    Session, SessionId, SessionSummary, Usage, title_from,
};

use std::path::Path;

use rusqlite::Connection;

use self::open::{configure, open_error, prepare_files};
use self::recover::recover;
use self::schema::migrate;

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

    /// The result of `PRAGMA integrity_check`: `"ok"` when the file is
    /// sound, otherwise SQLite's list of problems, one per line.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(lines.join("\n"))
    }

    /// SQLite's `PRAGMA data_version`: a number that changes when another connection (a
    /// `clerk ask` in a shell while the app runs) commits to the database. This
    /// connection's own commits leave it as it is. Cheap: it reads no table.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{new_message, new_session};
    use super::*;

    #[test]
    fn integrity_check_is_ok() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        s.add_message(&new_message(a, Role::User, "报销 and VPN", 110))
            .unwrap();
        assert_eq!(s.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn data_version_changes_with_commits_of_other_connections_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let mut app = Store::open(&path).unwrap();
        let v0 = app.data_version().unwrap();
        app.create_session(&new_session("mine", 100)).unwrap();
        assert_eq!(app.data_version().unwrap(), v0, "its own commit");
        let mut shell = Store::open(&path).unwrap();
        let id = shell
            .create_session(&new_session("from the shell", 200))
            .unwrap();
        let v1 = app.data_version().unwrap();
        assert_ne!(v1, v0, "another connection's commit");
        assert_eq!(app.data_version().unwrap(), v1, "nothing new");
        shell
            .add_message(&new_message(id, Role::User, "q", 210))
            .unwrap();
        assert_ne!(app.data_version().unwrap(), v1);
    }
}
