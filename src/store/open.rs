//! Opening the database file: the folder and file made private, the connection's pragmas,
//! and the errors met while opening turned into ones that say what to do.
//!
//! It must not create tables or change rows: the schema is `schema.rs`'s job, recovery
//! `recover.rs`'s.

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use super::StoreError;

/// How long a write waits for another clerk process holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates the parent folder (0700) if missing and the database file (0600),
/// and makes an existing file (and its WAL files) private too.
pub(super) fn prepare_files(path: &Path) -> std::io::Result<()> {
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
pub(super) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Returns the mode in force: "wal", or "memory" for an in-memory
    // database. A file system that cannot do WAL keeps its rollback journal,
    // which is still safe with synchronous=FULL.
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "mmap_size", 64i64 << 20)?;
    Ok(())
}

/// Turns an SQLite error met while opening into the variant that tells the
/// person what to do.
pub(super) fn open_error(label: &str, cause: rusqlite::Error) -> StoreError {
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

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::super::test_support::{new_message, new_session};
    use super::super::types::Role;
    use super::*;

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
}
