//! What can go wrong with the history database, and how SQLite's errors are sorted into
//! variants a person can act on.
//!
//! This file only names and words errors: it must not open, read or write the database.

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
