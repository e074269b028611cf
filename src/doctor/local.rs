//! What lives on this machine's disk: the history database's integrity (`history`) and the
//! free space on the disk that holds it (`disk`). Nothing is created or written: a history
//! that does not exist yet is only a warning.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Check, CheckId, HISTORY_BUDGET, State};
use crate::format::human_size;
use crate::store::{Checked, StoreError};

/// Below this, clerk cannot open the history for writing (`store::open`'s room check).
const FULL_BELOW: u64 = 64 * 1024;
/// Below this, the disk is nearly full: a warning.
const LOW_BELOW: u64 = 100 * 1024 * 1024;

/// `history`: the history database opens read-only, SQLite's quick check finds nothing
/// wrong within its budget, and its schema is one this clerk knows.
pub(super) async fn history(s: &mut State<'_>) -> Check {
    let id = CheckId::History;
    let setup = match s.setup() {
        Ok(x) => x,
        Err(by) => return Check::not_checked(id, by),
    };
    if !setup.config.file.history.enabled {
        return Check::ok(
            id,
            "history is off ([history] enabled = false, or --incognito): nothing is saved",
        );
    }
    let path = setup.paths.database();
    if !path.exists() {
        return Check::warn(
            id,
            format!("{} does not exist yet", path.display()),
            "nothing to do: it is made when the first answer is saved",
        );
    }
    let start = Instant::now();
    let looked = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || crate::store::health(&path, HISTORY_BUDGET)).await
    };
    let ms = start.elapsed().as_millis();
    let shown = path.display();
    let recover = "close every other clerk, then run `clerk sessions recover` (it keeps the damaged file beside the new one)";
    match looked {
        Ok(Ok(h)) => match h.check {
            Checked::Sound => {
                let counts = h
                    .counts
                    .map(|(sessions, messages)| {
                        format!(
                            ", {}, {}",
                            crate::format::counted(sessions as usize, "session"),
                            crate::format::counted(messages as usize, "message")
                        )
                    })
                    .unwrap_or_default();
                Check::ok(
                    id,
                    format!(
                        "{shown}: {}{counts}; quick check ok ({ms} ms)",
                        human_size(h.bytes)
                    ),
                )
            }
            Checked::Damaged(lines) => Check::fail(
                id,
                format!(
                    "{shown} is damaged: {}{}",
                    lines.first().map(String::as_str).unwrap_or("?"),
                    match lines.len() {
                        n if n > 1 => format!(" (and {} more problems)", n - 1),
                        _ => String::new(),
                    }
                ),
                recover,
            ),
            Checked::Unfinished => Check::warn(
                id,
                format!(
                    "{shown}: {}; the quick check did not end within {} s",
                    human_size(h.bytes),
                    HISTORY_BUDGET.as_secs()
                ),
                format!(
                    "for a full check, close clerk and run `sqlite3 '{shown}' 'PRAGMA integrity_check'`"
                ),
            ),
            Checked::TooNew { found, known } => Check::fail(
                id,
                format!(
                    "{shown} was written by a newer clerk (schema {found}; this one knows up to {known})"
                ),
                "update clerk, or set CLERK_DATA_DIR to keep a separate history",
            ),
        },
        Ok(Err(e)) => {
            let fix = match &e {
                StoreError::Damaged { .. } => recover.to_string(),
                StoreError::Busy(_) => "close the other clerk, then try again".to_string(),
                _ => "check the folder's permissions, or set CLERK_DATA_DIR".to_string(),
            };
            Check::fail(id, e.to_string(), fix)
        }
        Err(e) => Check::fail(
            id,
            format!("the check of {shown} stopped: {e}"),
            "try again",
        ),
    }
}

/// `disk`: free space on the disk holding the history (its folder, or the nearest one
/// that exists when it is not made yet).
pub(super) fn disk(s: &mut State<'_>) -> Check {
    let id = CheckId::Disk;
    let setup = match s.setup() {
        Ok(x) => x,
        Err(by) => return Check::not_checked(id, by),
    };
    let dir = nearest_existing(&setup.paths.data_dir);
    match free_space(&dir) {
        Ok((free, total)) => judge_space(&dir, free, total),
        Err(e) => Check::warn(
            id,
            format!("the free space of {} cannot be read: {e}", dir.display()),
            "check the folder's permissions (or the disk in the system's settings)",
        ),
    }
}

/// The verdict on `free` of `total` bytes on the disk holding `dir`.
fn judge_space(dir: &Path, free: u64, total: u64) -> Check {
    let id = CheckId::Disk;
    let said = format!(
        "{} free of {} on the disk holding {}",
        human_size(free),
        human_size(total),
        dir.display()
    );
    if free < FULL_BELOW {
        Check::fail(
            id,
            format!("{said}: it is full"),
            "free some space: until then the history is read-only and nothing new is saved",
        )
    } else if free < LOW_BELOW {
        Check::warn(
            id,
            format!("{said}: nearly full"),
            "free some space before it fills up (a full disk leaves the history read-only)",
        )
    } else {
        Check::ok(id, said)
    }
}

/// `dir`, or its nearest ancestor that exists.
fn nearest_existing(dir: &Path) -> PathBuf {
    let mut cur = dir;
    loop {
        if cur.exists() {
            return cur.to_path_buf();
        }
        match cur.parent() {
            Some(p) if !p.as_os_str().is_empty() => cur = p,
            _ => return PathBuf::from("."),
        }
    }
}

/// Free (for this user) and total bytes of the file system holding `dir`.
#[cfg(unix)]
fn free_space(dir: &Path) -> Result<(u64, u64), String> {
    let st = rustix::fs::statvfs(dir).map_err(|e| e.to_string())?;
    Ok((
        st.f_bavail.saturating_mul(st.f_frsize),
        st.f_blocks.saturating_mul(st.f_frsize),
    ))
}

#[cfg(not(unix))]
fn free_space(_: &Path) -> Result<(u64, u64), String> {
    Err("clerk does not measure free space on this platform".to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::Status;
    use super::*;

    #[test]
    fn free_space_is_judged_against_what_the_history_needs() {
        let dir = Path::new("/data");
        let gib = 1u64 << 30;
        let c = judge_space(dir, 20 * gib, 100 * gib);
        assert_eq!(c.status, Status::Ok);
        assert!(c.detail.starts_with("20.0 GB free of 100.0 GB"), "{c:?}");
        assert_eq!(judge_space(dir, 50 << 20, gib).status, Status::Warn);
        let full = judge_space(dir, 4096, gib);
        assert_eq!(full.status, Status::Fail);
        assert!(full.fix.unwrap().contains("read-only"));
    }

    #[test]
    fn a_folder_not_made_yet_is_measured_on_its_nearest_parent() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("a/b/c");
        assert_eq!(nearest_existing(&deep), d.path());
        #[cfg(unix)]
        {
            let (free, total) = free_space(d.path()).unwrap();
            assert!(total > 0 && free <= total, "{free} of {total}");
        }
    }
}
