//! Salvage of a damaged history: what can still be read is copied, row by row, into a new
//! file made with the current schema, and the damaged file is kept beside it under another
//! name.
//!
//! SQLite's own `.recover` is a feature of its shell (the `sqlite3_recover` extension is not
//! in the amalgamation rusqlite bundles). So each table is read in rowid order; where pages
//! cannot be read, the reading steps over the rowids they hold and goes on after them. Every
//! row read is written into the new file (a message whose session row was lost gets a
//! session rebuilt around it), and the search index is rebuilt from the messages saved. The
//! indexes that list every session and message tell how many could not be read.
//!
//! It must never write into the damaged file (it is opened read-only) nor remove it, and must
//! not put the new file in place before it is complete and closed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};

use super::error::{Scope, enter};
use super::search;
use super::types::{MessageStatus, title_from};
use super::{Store, StoreError};

/// What [`salvage`] saved and lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salvaged {
    /// Sessions in the new file (those rebuilt around their messages included).
    pub sessions_saved: usize,
    /// Of those, sessions whose own row was lost and that were rebuilt around their
    /// messages (titled from their first question).
    pub sessions_rebuilt: usize,
    /// Sessions known to have been in the file that could not be read.
    pub sessions_lost: usize,
    /// Messages in the new file.
    pub messages_saved: usize,
    /// Messages known to have been in the file that could not be read.
    pub messages_lost: usize,
    /// False when the losses are only a lower bound: the indexes listing every row were
    /// damaged too.
    pub losses_exact: bool,
    /// Where the damaged file is kept (its `-wal`, if any, beside it with the same name).
    pub kept_as: PathBuf,
}

/// Copies what can be read of the damaged history at `path` into a new file that takes its
/// place; the damaged file is renamed `<name>.broken-<stamp>`. `Ok(None)` when the file is
/// sound (SQLite's quick check passes): nothing is changed then.
///
/// Close every clerk that uses the history first: the files are renamed under it.
pub fn salvage(path: &Path, stamp: &str) -> Result<Option<Salvaged>, StoreError> {
    let scope = Scope::of(path);
    let _in = enter(&scope);
    let label = path.display().to_string();
    if !path.is_file() {
        return Err(StoreError::Open {
            path: label,
            cause: tr!("store.salvage.no_file").into_owned().into(),
        });
    }
    // Reading makes a -wal and a -shm when there are none; they go again afterwards.
    // (The WAL index can always go; a WAL only while empty.)
    let made: Vec<(PathBuf, bool)> = [("-wal", false), ("-shm", true)]
        .into_iter()
        .map(|(s, index)| (side(path, s), index))
        .filter(|(p, _)| !p.exists())
        .collect();
    let tidy = |made: &[(PathBuf, bool)]| {
        for (p, index) in made {
            if fs::metadata(p).is_ok_and(|m| *index || m.len() == 0) {
                let _ = fs::remove_file(p);
            }
        }
    };
    let old = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|cause| super::open::open_error(&label, cause))?;
    if sound(&old) {
        drop(old);
        tidy(&made);
        return Ok(None);
    }
    // Stricter checks of each page, so that a scribbled one fails instead of giving garbage.
    let _ = old.pragma_update(None, "cell_size_check", "ON");
    if let Ok(found) = old.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        && found > super::schema::known()
    {
        return Err(StoreError::TooNew {
            path: label,
            found,
            known: super::schema::known(),
        });
    }

    let fresh = side(path, &format!(".recovering-{stamp}"));
    if fresh.exists() {
        return Err(StoreError::Open {
            path: fresh.display().to_string(),
            cause: tr!("store.salvage.same_stamp").into_owned().into(),
        });
    }
    let copied = Store::open(&fresh).and_then(|mut new| {
        let counts = copy(&old, &mut new.conn)?;
        // One file, no WAL beside it, before it is moved into place.
        new.conn.pragma_update(None, "journal_mode", "DELETE")?;
        Ok(counts)
    });
    drop(old);
    tidy(&made);
    let counts = copied.inspect_err(|_| {
        // A half-made file is not left behind.
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = fs::remove_file(side(&fresh, suffix));
        }
    })?;

    let kept_as = free_name(path, stamp);
    let io = |what: &Path, e: std::io::Error| StoreError::Open {
        path: what.display().to_string(),
        cause: Box::new(e),
    };
    fs::rename(path, &kept_as).map_err(|e| io(path, e))?;
    let wal = side(path, "-wal");
    if wal.exists() {
        fs::rename(&wal, side(&kept_as, "-wal")).map_err(|e| io(&wal, e))?;
    }
    // The WAL index is rebuilt from the WAL whenever the kept file is opened.
    let _ = fs::remove_file(side(path, "-shm"));
    fs::rename(&fresh, path).map_err(|e| io(&fresh, e))?;
    Ok(Some(Salvaged { kept_as, ..counts }))
}

/// `path` with `suffix` added to its name.
fn side(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// `<name>.broken-<stamp>`, or with `-2`, `-3`… when that is taken.
fn free_name(path: &Path, stamp: &str) -> PathBuf {
    let first = side(path, &format!(".broken-{stamp}"));
    std::iter::once(first.clone())
        .chain((2..).map(|n| side(&first, &format!("-{n}"))))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// Whether SQLite's quick check finds nothing wrong.
fn sound(conn: &Connection) -> bool {
    conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))
        .is_ok_and(|s| s == "ok")
}

/// The columns of `table` in `conn` (empty when its schema cannot be read).
fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let Ok(mut stmt) = conn.prepare(&format!("PRAGMA table_info({table})")) else {
        return Vec::new();
    };
    stmt.query_map([], |r| r.get::<_, String>(1))
        .and_then(|rows| rows.collect())
        .unwrap_or_default()
}

/// The rowids an index lists (it holds every row of its table), and whether it could be
/// read to its end.
fn listed(conn: &Connection, sql: &str) -> (BTreeSet<i64>, bool) {
    let mut ids = BTreeSet::new();
    let Ok(mut stmt) = conn.prepare(sql) else {
        return (ids, false);
    };
    let Ok(mut rows) = stmt.query([]) else {
        return (ids, false);
    };
    loop {
        match rows.next() {
            Ok(Some(row)) => match row.get::<_, i64>(0) {
                Ok(id) => {
                    ids.insert(id);
                }
                Err(_) => return (ids, false),
            },
            Ok(None) => return (ids, true),
            Err(_) => return (ids, false),
        }
    }
}

/// A table of the old file, read row by row.
struct Table<'c> {
    conn: &'c Connection,
    name: &'static str,
    /// The columns both files have, in the new file's order.
    columns: Vec<String>,
}

impl Table<'_> {
    /// Every row that can be read, in rowid order, stepping over the rowids held by pages
    /// that cannot be read; `each` gets the rowid and the values of [`Table::columns`].
    fn read(&self, mut each: impl FnMut(i64, Vec<Value>)) {
        if self.columns.is_empty() {
            return;
        }
        let sql = format!(
            "SELECT rowid, {} FROM {} WHERE rowid >= ?1 ORDER BY rowid",
            self.columns.join(", "),
            self.name
        );
        let mut from = i64::MIN;
        while let Err(stuck) = self.read_from(&sql, from, &mut each) {
            match self.next_readable(stuck) {
                Some(next) => from = next,
                None => return,
            }
        }
    }

    /// Rows from rowid `from` on: `Ok` at the end of the table, `Err(rowid)` at the first
    /// that cannot be read.
    fn read_from(
        &self,
        sql: &str,
        from: i64,
        each: &mut impl FnMut(i64, Vec<Value>),
    ) -> Result<(), i64> {
        let Ok(mut stmt) = self.conn.prepare(sql) else {
            return Ok(());
        };
        let Ok(mut rows) = stmt.query([from]) else {
            return Err(from);
        };
        let mut next = from;
        loop {
            match rows.next() {
                Ok(Some(row)) => {
                    let Ok(id) = row.get::<_, i64>(0) else {
                        return Err(next);
                    };
                    let values: rusqlite::Result<Vec<Value>> =
                        (1..=self.columns.len()).map(|i| row.get(i)).collect();
                    // A row whose values cannot be read is lost; the reading goes on.
                    if let Ok(values) = values
                        && id >= next
                    {
                        each(id, values);
                    }
                    if id == i64::MAX {
                        return Ok(());
                    }
                    next = next.max(id + 1);
                }
                Ok(None) => return Ok(()),
                Err(_) => return Err(next),
            }
        }
    }

    /// The smallest rowid after `stuck` from which the table can be read again: steps that
    /// double until a read works, then halving back between the last failure and it.
    /// `None` when no read works up to the end of the rowids.
    fn next_readable(&self, stuck: i64) -> Option<i64> {
        let sql = format!(
            "SELECT rowid FROM {} WHERE rowid >= ?1 ORDER BY rowid LIMIT 1",
            self.name
        );
        let reads = |at: i64| {
            self.conn
                .query_row(&sql, [at], |r| r.get::<_, i64>(0))
                .optional()
                .is_ok()
        };
        let mut failed = stuck;
        let mut step: i64 = 1;
        let mut works = loop {
            let at = stuck.checked_add(step)?;
            if reads(at) {
                break at;
            }
            failed = at;
            step = step.checked_mul(2)?;
        };
        while works - failed > 1 {
            let mid = failed + (works - failed) / 2;
            if reads(mid) {
                works = mid;
            } else {
                failed = mid;
            }
        }
        Some(works)
    }
}

/// Copies every readable row of the old file into the new one (in one transaction), with
/// sessions rebuilt for messages whose session row was lost and the search index rebuilt;
/// returns the counts (`kept_as` left empty).
fn copy(old: &Connection, new: &mut Connection) -> Result<Salvaged, StoreError> {
    let (known_sessions, sessions_listed) = listed(
        old,
        "SELECT id FROM sessions INDEXED BY sessions_by_updated",
    );
    let (known_messages, messages_listed) = listed(
        old,
        "SELECT id FROM messages INDEXED BY messages_by_session",
    );

    let tx = new.transaction()?;
    let table = |name: &'static str| {
        let had = columns(old, name);
        Table {
            conn: old,
            name,
            columns: columns(&tx, name)
                .into_iter()
                .filter(|c| had.contains(c))
                .collect(),
        }
    };
    let insert = |t: &Table<'_>| {
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            t.name,
            t.columns.join(", "),
            vec!["?"; t.columns.len()].join(", ")
        )
    };

    let sessions = table("sessions");
    let mut saved_sessions = BTreeSet::new();
    // The message counts the sessions said they had: a lower bound of the messages when
    // the index of messages cannot be read.
    let mut said_counts: BTreeMap<i64, i64> = BTreeMap::new();
    {
        let mut stmt = tx.prepare(&insert(&sessions))?;
        let count_at = sessions.columns.iter().position(|c| c == "message_count");
        sessions.read(|id, values| {
            if let Some(Value::Integer(n)) = count_at.and_then(|i| values.get(i)) {
                said_counts.insert(id, *n);
            }
            if stmt.execute(params_from_iter(values)).is_ok() {
                saved_sessions.insert(id);
            }
        });
    }

    let messages = table("messages");
    let at = |name: &str| messages.columns.iter().position(|c| c == name);
    let (session_at, content_at, status_at) = (at("session_id"), at("content"), at("status"));
    let mut saved_messages: BTreeMap<i64, i64> = BTreeMap::new();
    let mut rebuilt = BTreeSet::new();
    {
        let mut stmt = tx.prepare(&insert(&messages))?;
        let mut rebuild = tx.prepare(
            "INSERT INTO sessions (id, title, created_ms, updated_ms, profile, model)
             VALUES (?1, ?2, 0, 0, 'default', '')",
        )?;
        messages.read(|id, values| {
            let Some(Value::Integer(session)) = session_at.and_then(|i| values.get(i)).cloned()
            else {
                return;
            };
            if !saved_sessions.contains(&session) && !rebuilt.contains(&session) {
                let title = tr!("store.title.recovered_session", n = session).into_owned();
                if rebuild.execute(rusqlite::params![session, title]).is_ok() {
                    rebuilt.insert(session);
                }
            }
            let text = match content_at.and_then(|i| values.get(i)) {
                Some(Value::Text(t)) => t.clone(),
                _ => String::new(),
            };
            let streaming = matches!(
                status_at.and_then(|i| values.get(i)),
                Some(Value::Text(s)) if s == MessageStatus::Streaming.as_str()
            );
            if stmt.execute(params_from_iter(values)).is_ok()
                && (streaming || search::index_message(&tx, id, &text).is_ok())
            {
                saved_messages.insert(id, session);
            }
        });
    }
    // Messages saved per session.
    let mut per_session: BTreeMap<i64, i64> = BTreeMap::new();
    for session in saved_messages.values() {
        *per_session.entry(*session).or_default() += 1;
    }
    // A session rebuilt but left with no message (every insert failed) is not kept.
    for empty in rebuilt.iter().filter(|s| !per_session.contains_key(s)) {
        tx.execute("DELETE FROM sessions WHERE id = ?1", [empty])?;
    }
    rebuilt.retain(|s| per_session.contains_key(s));
    for session in &rebuilt {
        retitle(&tx, *session)?;
    }
    tx.execute(
        "UPDATE sessions SET message_count =
             (SELECT count(*) FROM messages WHERE session_id = sessions.id)",
        [],
    )?;
    for name in ["drafts", "settings"] {
        let t = table(name);
        let mut stmt = tx.prepare(&insert(&t))?;
        t.read(|_, values| {
            // Best effort: a draft or a setting that cannot be read is simply left out.
            let _ = stmt.execute(params_from_iter(values));
        });
    }
    let sessions_saved: usize =
        tx.query_row("SELECT count(*) FROM sessions", [], |r| r.get::<_, i64>(0))? as usize;
    tx.commit()?;

    let session_ids: BTreeSet<i64> = saved_sessions
        .iter()
        .copied()
        .chain(saved_messages.values().copied())
        .collect();
    let sessions_lost = known_sessions.difference(&session_ids).count();
    let by_index = known_messages
        .iter()
        .filter(|id| !saved_messages.contains_key(id))
        .count();
    let by_counts: i64 = said_counts
        .iter()
        .map(|(s, n)| n - per_session.get(s).copied().unwrap_or(0))
        .filter(|lost| *lost > 0)
        .sum();
    let messages_lost = if messages_listed {
        by_index
    } else {
        by_index.max(usize::try_from(by_counts).unwrap_or(0))
    };
    Ok(Salvaged {
        sessions_saved,
        sessions_rebuilt: rebuilt.len(),
        sessions_lost,
        messages_saved: saved_messages.len(),
        messages_lost,
        losses_exact: sessions_listed && messages_listed,
        kept_as: PathBuf::new(),
    })
}

/// Gives a session rebuilt around its messages a title from its first question, and the
/// times and model of its messages.
fn retitle(tx: &Connection, session: i64) -> Result<(), StoreError> {
    let first: Option<String> = tx
        .query_row(
            "SELECT content FROM messages WHERE session_id = ?1 AND role = 'user'
             ORDER BY id LIMIT 1",
            [session],
            |r| r.get(0),
        )
        .optional()?;
    let title = match first.map(|q| title_from(&q)).filter(|t| !t.is_empty()) {
        Some(t) => tr!("store.title.recovered", title = t).into_owned(),
        None => tr!("store.title.recovered_session", n = session).into_owned(),
    };
    tx.execute(
        "UPDATE sessions SET title = ?2,
             created_ms = coalesce((SELECT min(created_ms) FROM messages WHERE session_id = ?1), 0),
             updated_ms = coalesce((SELECT max(created_ms) FROM messages WHERE session_id = ?1), 0),
             model = coalesce((SELECT model FROM messages WHERE session_id = ?1
                               AND model IS NOT NULL ORDER BY id LIMIT 1), '')
         WHERE id = ?1",
        rusqlite::params![session, title],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{new_message, new_session};
    use super::super::types::Role;
    use super::*;

    #[test]
    fn a_sound_history_is_left_alone_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        {
            let mut s = Store::open(&path).unwrap();
            let a = s.create_session(&new_session("Chat", 100)).unwrap();
            s.add_message(&new_message(a, Role::User, "hello", 110))
                .unwrap();
        }
        assert_eq!(salvage(&path, "20250101-000000").unwrap(), None);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["history.db"], "nothing renamed or added");

        let missing = dir.path().join("nope.db");
        let err = salvage(&missing, "20250101-000000").unwrap_err();
        assert!(err.to_string().contains("nope.db"), "{err}");
        assert!(!missing.exists());
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let err = salvage(&missing, "20250101-000000").unwrap_err();
        assert!(
            err.to_string().contains("那里没有可恢复的历史记录文件"),
            "{err}"
        );
    }

    #[test]
    fn a_kept_file_never_replaces_an_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let first = free_name(&path, "s");
        assert_eq!(first, dir.path().join("history.db.broken-s"));
        fs::write(&first, b"x").unwrap();
        assert_eq!(
            free_name(&path, "s"),
            dir.path().join("history.db.broken-s-2")
        );
    }
}
