//! What can go wrong with the history database, and how SQLite's errors are sorted into
//! variants a person can act on.
//!
//! SQLite's errors do not say which file they are about, and `?` turns them into
//! [`StoreError`] far from the [`super::Store`] that knows. So each public method of the
//! store enters a [`Scope`] (its file, its folder, whether it was opened read-only for a
//! full disk) for as long as it runs, on its thread; the conversion reads it to name the
//! file of a damaged database and the folder of a full disk.
//!
//! This file only names and words errors: it must not open, read or write the database.

use std::cell::RefCell;
use std::sync::Arc;

use rusqlite::ErrorCode;

use super::types::{MessageId, MessageStatus, SessionId};

/// What can go wrong with the history database, worded for the person
/// using clerk.
#[derive(Debug)]
pub enum StoreError {
    /// The database file or its folder could not be created or opened.
    Open {
        /// The database path as given.
        path: String,
        /// What the operating system or SQLite said.
        cause: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The file exists but is not a usable SQLite database, or parts of it are damaged.
    Damaged {
        /// The database path as given.
        path: String,
        /// What SQLite said.
        cause: rusqlite::Error,
    },
    /// The database was written by a newer clerk with a schema this one does
    /// not know.
    TooNew {
        /// The database path as given.
        path: String,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this program knows.
        known: i64,
    },
    /// The disk (or the database's size limit) is full.
    DiskFull {
        /// The history's folder, when known.
        folder: Option<String>,
        /// What the operating system or SQLite said.
        cause: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The disk was full when the history was opened, so it was opened read-only: it can be
    /// read, and this write was refused.
    FullReadOnly {
        /// The history's folder.
        folder: String,
    },
    /// Another process kept the database locked longer than the busy timeout.
    Busy(rusqlite::Error),
    /// The session does not exist (it may have been deleted).
    SessionNotFound(SessionId),
    /// The message does not exist (its session may have been deleted).
    MessageNotFound(MessageId),
    /// `finish_message` was given a status that is not final.
    NotFinal {
        /// The message.
        id: MessageId,
        /// The status that was given.
        status: MessageStatus,
    },
    /// Any other SQLite error.
    Sqlite(rusqlite::Error),
}

// Written by hand, not with `thiserror`'s `#[error]`: the texts come from the message catalog
// (locales/errors.yml) in the interface's language; the English ones are unchanged.
impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            StoreError::Open { path, cause } => {
                tr!("store.error.open", path = path, cause = cause)
            }
            StoreError::Damaged { path, cause } => {
                tr!("store.error.damaged", path = path, cause = cause)
            }
            StoreError::TooNew { path, found, known } => {
                tr!(
                    "store.error.too_new",
                    path = path,
                    found = found,
                    known = known
                )
            }
            StoreError::DiskFull {
                folder: Some(folder),
                cause,
            } => tr!("store.error.disk_full_at", folder = folder, cause = cause),
            StoreError::DiskFull {
                folder: None,
                cause,
            } => tr!("store.error.disk_full", cause = cause),
            StoreError::FullReadOnly { folder } => {
                tr!("store.error.full_read_only", folder = folder)
            }
            StoreError::Busy(cause) => tr!("store.error.busy", cause = cause),
            StoreError::SessionNotFound(id) => tr!("store.error.no_session", id = id),
            StoreError::MessageNotFound(id) => tr!("store.error.no_message", id = id),
            StoreError::NotFinal { id, status } => {
                tr!("store.error.not_final", id = id, status = status.as_str())
            }
            StoreError::Sqlite(cause) => tr!("store.error.sqlite", cause = cause),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Open { cause, .. } | StoreError::DiskFull { cause, .. } => {
                Some(cause.as_ref())
            }
            StoreError::Damaged { cause, .. }
            | StoreError::Busy(cause)
            | StoreError::Sqlite(cause) => Some(cause),
            _ => None,
        }
    }
}

/// What the error conversion knows about the database a store method works on.
#[derive(Debug, Clone, Default)]
pub(super) struct Scope {
    /// The database file (none for a database in memory).
    pub(super) path: Option<Arc<str>>,
    /// Its folder.
    pub(super) folder: Option<Arc<str>>,
    /// Opened read-only because the disk was full.
    pub(super) full: bool,
}

impl Scope {
    /// The scope of the database file at `path`.
    pub(super) fn of(path: &std::path::Path) -> Scope {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
            _ => ".".to_owned(),
        };
        Scope {
            path: Some(Arc::from(path.display().to_string())),
            folder: Some(Arc::from(folder)),
            full: false,
        }
    }
}

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// The scope entered by [`enter`]; leaving it (dropping this) restores the one before, so
/// a store method may call another.
#[derive(Debug)]
pub(super) struct InScope(Option<Scope>);

/// Makes `scope` the one errors on this thread are named from, until the result is dropped.
pub(super) fn enter(scope: &Scope) -> InScope {
    InScope(SCOPE.with(|s| s.replace(Some(scope.clone()))))
}

impl Drop for InScope {
    fn drop(&mut self) {
        let before = self.0.take();
        SCOPE.with(|s| *s.borrow_mut() = before);
    }
}

impl From<rusqlite::Error> for StoreError {
    /// Sorts SQLite errors into the variants a person can act on, naming the file or the
    /// folder when a store method's [`Scope`] is entered.
    fn from(err: rusqlite::Error) -> Self {
        let scope = SCOPE.with(|s| s.borrow().clone()).unwrap_or_default();
        let folder = scope.folder.as_deref().map(str::to_owned);
        match err.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::DiskFull {
                folder,
                cause: Box::new(err),
            },
            Some(ErrorCode::ReadOnly) if scope.full => StoreError::FullReadOnly {
                folder: folder.unwrap_or_default(),
            },
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) if scope.path.is_some() => {
                StoreError::Damaged {
                    path: scope.path.as_deref().unwrap_or_default().to_owned(),
                    cause: err,
                }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(err),
            _ => StoreError::Sqlite(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::super::test_support::{new_message, new_session};
    use super::super::types::Role;
    use super::*;

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
    fn a_damaged_history_names_its_file_and_the_way_out_in_chinese() {
        let damaged = || StoreError::Damaged {
            path: "/home/ana/.local/share/clerk/history.sqlite3".into(),
            cause: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                None,
            ),
        };
        let en = damaged().to_string();
        assert!(en.starts_with("the history database at /home/ana"), "{en}");
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let zh = damaged().to_string();
        assert!(
            zh.starts_with("位于 /home/ana/.local/share/clerk/history.sqlite3 的历史数据库已损坏"),
            "{zh}"
        );
        assert!(zh.contains("`clerk sessions recover`"), "{zh}");
        let full = StoreError::FullReadOnly {
            folder: "/data".into(),
        };
        assert!(
            full.to_string().starts_with("/data 所在的磁盘已满"),
            "{full}"
        );
    }
}
