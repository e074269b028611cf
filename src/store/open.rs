//! Opening the database file: the folder and file made private, the connection's pragmas,
//! the errors met while opening turned into ones that say what to do, and the read-only
//! way in when the disk is full.
//!
//! A full disk shows itself in many ways while opening: `SQLITE_FULL`, but also a plain
//! "disk I/O error" when the WAL index (`-shm`) cannot grow. So an I/O error is checked
//! against the folder itself ([`no_room`]) before it is called a full disk.
//!
//! It must not create tables or change rows: the schema is `schema.rs`'s job, recovery
//! `recover.rs`'s. It must never write into the database file while the disk is full.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::StoreError;

/// How long a write waits for another clerk process holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates the parent folder (0700) if missing and the database file (0600),
/// and makes an existing file (and its WAL files) private too.
pub fn prepare_files(path: &Path) -> std::io::Result<()> {
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

/// Whether opening failed for lack of space: SQLite said the disk is full, or an I/O
/// error (the `-shm` or `-wal` could not be made or grown) met a folder with no room.
pub(super) fn out_of_space(e: &StoreError, path: &Path) -> bool {
    let code = match e {
        StoreError::DiskFull { .. } => return true,
        StoreError::Sqlite(cause) => cause.sqlite_error_code(),
        StoreError::Open { cause, .. } => match cause.downcast_ref::<rusqlite::Error>() {
            Some(cause) => cause.sqlite_error_code(),
            // An error of the file system while the files were prepared.
            None => Some(ErrorCode::SystemIoFailure),
        },
        _ => None,
    };
    matches!(
        code,
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen | ErrorCode::DiskFull)
    ) && no_room(path.parent().unwrap_or(Path::new(".")))
}

/// Room the WAL index and the first pages of a WAL take; a folder where this much cannot
/// be written has no room for the history to be opened for writing.
const ROOM_NEEDED: usize = 64 * 1024;

/// Whether the disk holding `folder` is full (or the quota used up): writing
/// [`ROOM_NEEDED`] bytes into a new file there fails for lack of space. The file is removed.
pub(super) fn no_room(folder: &Path) -> bool {
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let probe = folder.join(format!(".clerk-space-check-{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| {
            let result = f.write_all(&[0u8; ROOM_NEEDED]).and_then(|()| f.sync_all());
            drop(f);
            let _ = fs::remove_file(&probe);
            result
        });
    matches!(
        written,
        Err(e) if matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    )
}

/// The database at `path` opened read-only without writing a byte: the WAL index is kept
/// in memory (`readonly_shm`), which needs a `-shm` file to exist (an empty one takes no
/// room: it is made when missing). Without it, and with no WAL content to miss, the file
/// is opened as immutable.
pub(super) fn connect_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let side = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        std::path::PathBuf::from(p)
    };
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let uri = if options.open(side("-shm")).is_ok() {
        format!("{}?mode=ro&readonly_shm=1", file_uri(path))
    } else if fs::metadata(side("-wal")).map_or(true, |m| m.len() == 0) {
        format!("{}?immutable=1", file_uri(path))
    } else {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some("the WAL index cannot be made and the WAL holds changes".to_owned()),
        ));
    };
    let conn = Connection::open_with_flags(uri, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Reads the first page now, so a file that cannot be read fails here.
    conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?;
    Ok(conn)
}

/// `path` as an SQLite `file:` URI: every byte but unreserved ones and `/` escaped.
fn file_uri(path: &Path) -> String {
    // On Unix a path is bytes, and SQLite takes those bytes back from the escapes.
    #[cfg(not(windows))]
    let bytes = path.as_os_str().as_encoded_bytes().to_vec();
    #[cfg(windows)]
    let bytes = {
        let t = path.to_string_lossy().replace('\\', "/");
        if t.starts_with('/') {
            t
        } else {
            format!("/{t}")
        }
        .into_bytes()
    };
    let mut uri = String::from("file:");
    for &b in &bytes {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
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
