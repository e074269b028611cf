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
    /// The file exists but is not a usable SQLite database, or parts of it are damaged.
    #[error(
        "the history database at {path} is damaged or is not a clerk database ({cause}). Run `clerk sessions recover` to copy what can still be read into a new history (the damaged file is kept beside it), or move the file aside so clerk starts a new one"
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
        "the disk is full{}: the history could not be saved ({cause}). Free some disk space, then try again",
        folder.as_deref().map(|f| format!(" (the disk holding {f})")).unwrap_or_default()
    )]
    DiskFull {
        /// The history's folder, when known.
        folder: Option<String>,
        /// What the operating system or SQLite said.
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The disk was full when the history was opened, so it was opened read-only: it can be
    /// read, and this write was refused.
    #[error(
        "the disk holding {folder} is full: the history was opened read-only, so this cannot be saved. Free some space on that disk, then try again"
    )]
    FullReadOnly {
        /// The history's folder.
        folder: String,
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
}
