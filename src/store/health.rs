//! A look at a history file that changes nothing, for `clerk doctor`: its size, how many
//! sessions and messages it holds, its schema version and SQLite's quick check, within a
//! time budget (a large history is not read to its end when the budget runs out).
//!
//! It must not create the file, migrate it or write to it: it uses the read-only connection
//! of `open.rs` (which, as any reader of a WAL database, may leave an empty `-shm` beside
//! it).

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use super::StoreError;
use super::error::{Scope, enter};
use super::open::{connect_read_only, open_error};
use super::schema::{known, user_version};

/// What a look at a history file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The file's size with its WAL, in bytes.
    pub bytes: u64,
    /// Sessions and messages, when the file is sound and was read.
    pub counts: Option<(u64, u64)>,
    /// What SQLite's quick check said.
    pub check: Checked,
}

/// The verdict of the quick check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Nothing wrong.
    Sound,
    /// SQLite's list of problems (at most 20 lines).
    Damaged(Vec<String>),
    /// The time budget ran out before the check ended.
    Unfinished,
    /// Written by a newer clerk (schema version `found`, this one knows up to `known`).
    TooNew {
        /// The file's schema version.
        found: i64,
        /// The newest this clerk knows.
        known: i64,
    },
}

/// Look at the history at `path` (which must exist), giving the quick check `budget`.
/// A file that is not a database, or cannot be opened, is an error naming it.
pub fn health(path: &Path, budget: Duration) -> Result<Health, StoreError> {
    let scope = Scope::of(path);
    let _in = enter(&scope);
    let label = path.display().to_string();
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let bytes = size(path) + size(Path::new(&wal));
    let conn = connect_read_only(path).map_err(|cause| open_error(&label, cause))?;
    let found = user_version(&conn).map_err(|cause| open_error(&label, cause))?;
    if found > known() {
        return Ok(Health {
            bytes,
            counts: None,
            check: Checked::TooNew {
                found,
                known: known(),
            },
        });
    }
    let check = verdict(quick_check_within(&conn, budget))?;
    let counts = if check == Checked::Sound {
        let count = |table: &str| {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
        };
        match (count("sessions"), count("messages")) {
            // Counts are never negative.
            (Ok(s), Ok(m)) => Some((s.max(0) as u64, m.max(0) as u64)),
            _ => None,
        }
    } else {
        None
    };
    Ok(Health {
        bytes,
        counts,
        check,
    })
}

/// `PRAGMA quick_check(20)`, interrupted when `budget` runs out.
fn quick_check_within(conn: &Connection, budget: Duration) -> rusqlite::Result<Vec<String>> {
    let handle = conn.get_interrupt_handle();
    let (done, wait) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(budget) {
            handle.interrupt();
        }
    });
    let result = conn.prepare("PRAGMA quick_check(20)").and_then(|mut stmt| {
        stmt.query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()
    });
    // The watchdog ends at once (the sender is gone); after it has, nothing interrupts.
    drop(done);
    let _ = watchdog.join();
    result
}

/// The quick check's outcome as a verdict; errors other than damage and the budget's end
/// are the caller's.
fn verdict(result: rusqlite::Result<Vec<String>>) -> Result<Checked, StoreError> {
    match result {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok(Checked::Sound),
        Ok(lines) => Ok(Checked::Damaged(lines)),
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::OperationInterrupted) => {
            Ok(Checked::Unfinished)
        }
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
            ) =>
        {
            Ok(Checked::Damaged(vec![e.to_string()]))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::Store;
    use super::super::test_support::{new_message, new_session};
    use super::super::types::Role;
    use super::*;

    fn history(path: &Path, sessions: i64) {
        let mut s = Store::open(path).unwrap();
        for i in 0..sessions {
            let id = s.create_session(&new_session("Chat", 100 + i)).unwrap();
            let text = format!("message {i} {}", "lorem ipsum ".repeat(200));
            s.add_message(&new_message(id, Role::User, &text, 110 + i))
                .unwrap();
        }
    }

    #[test]
    fn a_sound_history_is_counted_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite3");
        history(&path, 3);
        let before = std::fs::read(&path).unwrap();
        let h = health(&path, Duration::from_secs(10)).unwrap();
        assert_eq!(h.check, Checked::Sound);
        assert_eq!(h.counts, Some((3, 3)));
        assert!(h.bytes >= before.len() as u64, "{h:?}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");
    }

    #[test]
    fn damage_a_newer_schema_and_a_file_that_is_not_a_history_are_told_apart() {
        use std::io::{Seek, SeekFrom, Write};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite3");
        history(&path, 60);
        // Garbage over a page in the middle of the file.
        let pages = std::fs::metadata(&path).unwrap().len() / 4096;
        assert!(pages > 8, "{pages}");
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(pages / 2 * 4096)).unwrap();
        f.write_all(&[0x5a; 4096]).unwrap();
        drop(f);
        let h = health(&path, Duration::from_secs(10)).unwrap();
        assert!(
            matches!(&h.check, Checked::Damaged(lines) if !lines.is_empty()),
            "{h:?}"
        );
        assert_eq!(h.counts, None);

        let newer = dir.path().join("newer.sqlite3");
        history(&newer, 1);
        rusqlite::Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", 999)
            .unwrap();
        let h = health(&newer, Duration::from_secs(10)).unwrap();
        assert_eq!(
            h.check,
            Checked::TooNew {
                found: 999,
                known: known()
            }
        );

        let junk = dir.path().join("junk.sqlite3");
        std::fs::write(&junk, vec![b'z'; 8192]).unwrap();
        let e = health(&junk, Duration::from_secs(10)).unwrap_err();
        assert!(matches!(e, StoreError::Damaged { .. }), "{e:?}");
        assert!(e.to_string().contains("junk.sqlite3"), "{e}");
    }

    #[test]
    fn a_check_stopped_by_its_budget_is_unfinished_not_damaged() {
        let interrupted = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERRUPT),
            None,
        );
        assert_eq!(verdict(Err(interrupted)).unwrap(), Checked::Unfinished);
        assert_eq!(verdict(Ok(vec!["ok".into()])).unwrap(), Checked::Sound);
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(verdict(Err(busy)).is_err());
    }
}
