//! What lives on this machine's disk: the history database's integrity (`history`) and the
//! free space on the disk that holds it (`disk`). Nothing is created or written: a history
//! that does not exist yet is only a warning.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Check, CheckId, HISTORY_BUDGET, State, said};
use crate::format::human_size;
use crate::format::{Noun, counted};
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
        return Check::ok(id, said(|| tr!("doctor.history.off")));
    }
    let path = setup.paths.database();
    if !path.exists() {
        return Check::warn(
            id,
            said(|| tr!("doctor.history.absent", path = path.display())),
            said(|| tr!("doctor.history.absent_fix")),
        );
    }
    let start = Instant::now();
    let looked = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || crate::store::health(&path, HISTORY_BUDGET)).await
    };
    let ms = start.elapsed().as_millis();
    let shown = path.display();
    let recover = || said(|| tr!("doctor.history.recover_fix"));
    match looked {
        Ok(Ok(h)) => match h.check {
            Checked::Sound => {
                let size = human_size(h.bytes);
                Check::ok(
                    id,
                    said(|| {
                        let counts = match h.counts {
                            Some((sessions, messages)) => tr!(
                                "doctor.history.counts",
                                sessions = counted(sessions as usize, Noun::Session),
                                messages = counted(messages as usize, Noun::Message)
                            ),
                            None => "".into(),
                        };
                        tr!(
                            "doctor.history.ok",
                            path = shown,
                            size = size,
                            counts = counts,
                            ms = ms
                        )
                    }),
                )
            }
            Checked::Damaged(lines) => Check::fail(
                id,
                said(|| {
                    let first = lines.first().map(String::as_str).unwrap_or("?");
                    let more = match lines.len() {
                        n if n > 1 => tr!("doctor.history.more_problems", n = n - 1),
                        _ => "".into(),
                    };
                    tr!(
                        "doctor.history.damaged",
                        path = shown,
                        first = first,
                        more = more
                    )
                }),
                recover(),
            ),
            Checked::Unfinished => {
                let (size, secs) = (human_size(h.bytes), HISTORY_BUDGET.as_secs());
                Check::warn(
                    id,
                    said(|| {
                        tr!(
                            "doctor.history.unfinished",
                            path = shown,
                            size = size,
                            secs = secs
                        )
                    }),
                    said(|| tr!("doctor.history.unfinished_fix", path = shown)),
                )
            }
            Checked::TooNew { found, known } => Check::fail(
                id,
                said(|| {
                    tr!(
                        "doctor.history.too_new",
                        path = shown,
                        found = found,
                        known = known
                    )
                }),
                said(|| tr!("doctor.history.too_new_fix")),
            ),
        },
        Ok(Err(e)) => {
            let fix = match &e {
                StoreError::Damaged { .. } => recover(),
                StoreError::Busy(_) => said(|| tr!("doctor.history.busy_fix")),
                _ => said(|| tr!("doctor.history.open_fix")),
            };
            Check::fail(id, said(|| &e), fix)
        }
        Err(e) => Check::fail(
            id,
            said(|| tr!("doctor.history.stopped", path = shown, why = e)),
            said(|| tr!("doctor.history.stopped_fix")),
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
            said(|| tr!("doctor.disk.unreadable", path = dir.display(), why = e)),
            said(|| tr!("doctor.disk.unreadable_fix")),
        ),
    }
}

/// The verdict on `free` of `total` bytes on the disk holding `dir`.
fn judge_space(dir: &Path, free: u64, total: u64) -> Check {
    let free_bytes = free;
    let id = CheckId::Disk;
    let (free, total) = (human_size(free), human_size(total));
    let space = said(|| {
        tr!(
            "doctor.disk.space",
            free = free,
            total = total,
            path = dir.display()
        )
    });
    if free_bytes < FULL_BELOW {
        Check::fail(
            id,
            said(|| tr!("doctor.disk.full", space = space)),
            said(|| tr!("doctor.disk.full_fix")),
        )
    } else if free_bytes < LOW_BELOW {
        Check::warn(
            id,
            said(|| tr!("doctor.disk.low", space = space)),
            said(|| tr!("doctor.disk.low_fix")),
        )
    } else {
        Check::ok(id, space)
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
