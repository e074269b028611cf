//! The session store: clerk's chat history in one SQLite file.
//!
//! This folder owns the database. This file holds the [`Store`] handle and opens it; the
//! rest is one job per file:
//! - `open.rs`: the files with private permissions, the pragmas (WAL, `synchronous=FULL`,
//!   foreign keys, busy timeout), the errors met while opening, and the read-only way in
//!   when the disk is full;
//! - `schema.rs`: the schema migrations tracked by `PRAGMA user_version`;
//! - `recover.rs`: recovery of answers left half-written by a killed clerk;
//! - `error.rs`: [`StoreError`], what can go wrong, worded for the user (each public
//!   method enters the store's scope first, so errors name the file or its folder);
//! - `salvage.rs`: copying what can be read from a damaged file into a new one;
//! - `health.rs`: a look at a file that changes nothing (size, counts, quick check), for
//!   `clerk doctor`;
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
mod health;
mod import;
pub mod ledger;
mod messages;
mod open;
mod recover;
mod rows;
mod salvage;
mod schema;
mod search;
mod sessions;
#[cfg(test)]
mod test_support;
mod types;

pub use self::error::StoreError;
pub use self::health::{Checked, Health, health};
pub use self::open::{create_private_dir, prepare_files};
pub use self::recover::RECOVERY_REASON;
pub use self::salvage::{Salvaged, salvage};
pub use self::search::{RANK_WINDOW, is_cjk, match_query, segment};
pub use self::types::{
    Grounding, Message, MessageFinish, MessageId, MessageStatus, NewMessage, NewSession, Role,
    SearchHit, Session, SessionId, SessionSummary, Source, Usage, title_from,
};

use std::path::Path;

use rusqlite::Connection;

use self::error::{InScope, Scope, enter};
use self::open::{configure, connect_read_only, open_error, out_of_space};
use self::recover::recover;
use self::schema::{migrate, up_to_date};

/// The open history database.
///
/// Reads take `&self`, writes take `&mut self`; each write method is one
/// transaction, committed (and synced to disk) before it returns. Every public method
/// enters the store's scope first (`let _in = self.scope();`), so that its errors name
/// the file or its folder.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    recovered: usize,
    scope: Scope,
}

impl Store {
    /// Opens (or creates) the history database at `path`.
    ///
    /// Creates a missing parent folder with mode 0700 and the file with mode
    /// 0600 (an existing file is set to 0600), sets the pragmas, applies the
    /// migrations and turns answers left streaming by a killed clerk into
    /// interrupted ones (see [`Store::recovered`]).
    ///
    /// When that fails because the disk holding the file is full, an existing history is
    /// opened read-only instead: it can be read, and every write is refused with
    /// [`StoreError::FullReadOnly`] (see [`Store::read_only`]).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let scope = Scope::of(path);
        let _in = enter(&scope);
        let label = path.display().to_string();
        match Store::open_writable(path, &label, &scope) {
            Ok(store) => Ok(store),
            Err(e) if out_of_space(&e, path) => Store::open_read_only(path, scope, e),
            Err(e) => Err(e),
        }
    }

    fn open_writable(path: &Path, label: &str, scope: &Scope) -> Result<Store, StoreError> {
        prepare_files(path).map_err(|cause| {
            if cause.kind() == std::io::ErrorKind::StorageFull {
                StoreError::DiskFull {
                    folder: scope.folder.as_deref().map(str::to_owned),
                    cause: Box::new(cause),
                }
            } else {
                StoreError::Open {
                    path: label.to_owned(),
                    cause: Box::new(cause),
                }
            }
        })?;
        let conn = Connection::open(path)
            .and_then(|conn| configure(&conn).map(|()| conn))
            .map_err(|cause| open_error(label, cause))?;
        Store::init(conn, label, scope.clone())
    }

    /// The history on a full disk, read-only; `full` is why the ordinary way failed, and
    /// the error when there is nothing to read (a new or out-of-date history).
    fn open_read_only(path: &Path, scope: Scope, full: StoreError) -> Result<Store, StoreError> {
        let full = match full {
            StoreError::DiskFull { .. } => full,
            other => StoreError::DiskFull {
                folder: scope.folder.as_deref().map(str::to_owned),
                cause: Box::new(other),
            },
        };
        let Ok(conn) = connect_read_only(path) else {
            return Err(full);
        };
        if !up_to_date(&conn) {
            return Err(full);
        }
        tracing::warn!(
            "the disk holding {} is full: the history is open read-only",
            scope.folder.as_deref().unwrap_or_default()
        );
        Ok(Store {
            conn,
            recovered: 0,
            scope: Scope {
                full: true,
                ..scope
            },
        })
    }

    /// Opens a fresh database in memory, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let label = ":memory:";
        let conn = Connection::open_in_memory()
            .and_then(|conn| configure(&conn).map(|()| conn))
            .map_err(|cause| open_error(label, cause))?;
        Store::init(conn, label, Scope::default())
    }

    fn init(mut conn: Connection, label: &str, scope: Scope) -> Result<Store, StoreError> {
        migrate(&mut conn, label)?;
        let recovered = recover(&mut conn)?;
        Ok(Store {
            conn,
            recovered,
            scope,
        })
    }

    /// Enters this store's scope until the result is dropped: errors made meanwhile on this
    /// thread name its file and folder (see `error.rs`).
    fn scope(&self) -> InScope {
        enter(&self.scope)
    }

    /// How many answers were found still streaming when the database was
    /// opened and were marked interrupted with [`RECOVERY_REASON`].
    pub fn recovered(&self) -> usize {
        self.recovered
    }

    /// The history's folder when the disk holding it was full at open, so that the store
    /// was opened read-only: reads work, writes are refused with
    /// [`StoreError::FullReadOnly`].
    pub fn read_only(&self) -> Option<&str> {
        self.scope
            .full
            .then(|| self.scope.folder.as_deref().unwrap_or_default())
    }

    /// What to tell the person when the store is read-only for a full disk (`None`
    /// otherwise): the command line and the app say it the same way.
    pub fn read_only_notice(&self) -> Option<String> {
        self.read_only()
            .map(|folder| tr!("store.notice.read_only", folder = folder).into_owned())
    }

    /// The result of `PRAGMA integrity_check`: `"ok"` when the file is
    /// sound, otherwise SQLite's list of problems, one per line.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let _in = self.scope();
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
    fn a_read_only_store_reads_and_refuses_writes_naming_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        // A folder and a file name with characters a URI must escape.
        let folder = dir.path().join("my data?#%");
        let path = folder.join("history 1.db");
        let a = {
            let mut s = Store::open(&path).unwrap();
            let a = s.create_session(&new_session("Kept", 100)).unwrap();
            s.add_message(&new_message(a, Role::User, "still readable", 110))
                .unwrap();
            a
        };
        let full = StoreError::DiskFull {
            folder: None,
            cause: "no space left on device".into(),
        };
        let mut s = Store::open_read_only(&path, error::Scope::of(&path), full).unwrap();
        let shown = folder.display().to_string();
        assert_eq!(s.read_only(), Some(shown.as_str()));
        assert!(s.read_only_notice().unwrap().contains("read-only"));
        assert_eq!(s.messages(a).unwrap()[0].content, "still readable");
        assert_eq!(s.search("readable", 5, ("[", "]")).unwrap().len(), 1);
        let err = s.create_session(&new_session("New", 200)).unwrap_err();
        assert!(matches!(err, StoreError::FullReadOnly { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("the disk holding {shown} is full")),
            "{err}"
        );
        let err = s.set_draft(a, "typed").unwrap_err();
        assert!(matches!(err, StoreError::FullReadOnly { .. }), "{err:?}");
        drop(s);
        // Nothing was written: the file opens as it was.
        let s = Store::open(&path).unwrap();
        assert_eq!(s.list_sessions(None, true).unwrap().len(), 1);
        assert_eq!(s.read_only(), None);
    }

    #[test]
    fn a_new_history_on_a_full_disk_says_the_disk_is_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        std::fs::write(&path, b"").unwrap();
        let full = StoreError::DiskFull {
            folder: Some(dir.path().display().to_string()),
            cause: "no space left on device".into(),
        };
        let err = Store::open_read_only(&path, error::Scope::of(&path), full).unwrap_err();
        assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
        assert!(err.to_string().starts_with("the disk is full"), "{err}");
    }

    #[test]
    fn errors_name_the_file_of_the_store_that_met_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let s = Store::open(&path).unwrap();
        // A damaged page, as SQLite reports it, met by one of this store's methods.
        let _in = s.scope();
        let err = StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            None,
        ));
        assert!(
            err.to_string().contains(&format!(
                "the history database at {} is damaged",
                path.display()
            )) && err.to_string().contains("clerk sessions recover"),
            "{err}"
        );
        drop(_in);
        // Outside every store's scope nothing is made up.
        let err = StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            None,
        ));
        assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
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
