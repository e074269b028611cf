//! What the index holds: [`Index::list`] (every base), [`Index::status`] (one base, with
//! the files changed on disk since it was indexed), [`Index::languages`], and
//! [`Index::remove`].

use std::collections::HashMap;

use rusqlite::params;

use super::walk::{Base, Skipped};
use super::{Index, KnowledgeError};

/// A base in the index, in brief.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BaseInfo {
    /// Its name.
    pub name: String,
    /// Files indexed.
    pub documents: u64,
    /// Passages.
    pub passages: u64,
    /// Files skipped.
    pub skipped: u64,
    /// When it was last indexed completely (ms since the epoch).
    pub indexed_ms: Option<i64>,
}

/// How a file differs from what was indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// On disk, not in the index.
    New,
    /// Its size or modification time changed.
    Changed,
    /// In the index, gone from disk.
    Deleted,
}

/// A file whose index entry is out of date.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stale {
    /// Relative to the folder it is in.
    pub path: String,
    /// What changed.
    pub change: Change,
}

/// One base in detail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// Its name.
    pub name: String,
    /// Files indexed.
    pub documents: u64,
    /// Passages.
    pub passages: u64,
    /// The indexed files' size in bytes.
    pub bytes: u64,
    /// Characters of passage text.
    pub chars: u64,
    /// When it was last indexed completely (ms since the epoch); `None`: never.
    pub indexed_ms: Option<i64>,
    /// How long that took (ms).
    pub duration_ms: Option<i64>,
    /// Files not indexed, and why.
    pub skipped: Vec<Skipped>,
    /// Files changed on disk since they were indexed.
    pub stale: Vec<Stale>,
    /// The languages of its passages.
    pub languages: Vec<String>,
}

impl Index {
    /// Every base in the index, by name.
    pub fn list(&self) -> Result<Vec<BaseInfo>, KnowledgeError> {
        self.list_inner().map_err(|e| self.named(e))
    }

    fn list_inner(&self) -> Result<Vec<BaseInfo>, KnowledgeError> {
        let mut stmt = self.conn.prepare(
            "SELECT b.name,
                    count(f.id) FILTER (WHERE f.status = 'indexed'),
                    coalesce(sum(f.passages), 0),
                    count(f.id) FILTER (WHERE f.status = 'skipped'),
                    b.indexed_ms
             FROM bases b LEFT JOIN files f ON f.base_id = b.id
             GROUP BY b.id ORDER BY b.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(BaseInfo {
                name: r.get(0)?,
                documents: r.get::<_, i64>(1)?.max(0) as u64,
                passages: r.get::<_, i64>(2)?.max(0) as u64,
                skipped: r.get::<_, i64>(3)?.max(0) as u64,
                indexed_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Base `base` in detail, its files on disk compared with the index (sizes and times
    /// only; nothing is read).
    pub fn status(&self, base: &Base) -> Result<Status, KnowledgeError> {
        self.status_inner(base).map_err(|e| self.named(e))
    }

    fn status_inner(&self, base: &Base) -> Result<Status, KnowledgeError> {
        let walk = base.walk()?;
        let id = self.base_id(&base.name)?;
        let mut status = Status {
            name: base.name.clone(),
            documents: 0,
            passages: 0,
            bytes: 0,
            chars: 0,
            indexed_ms: None,
            duration_ms: None,
            skipped: Vec::new(),
            stale: Vec::new(),
            languages: Vec::new(),
        };
        let mut recorded: HashMap<(String, String), (i64, i64)> = HashMap::new();
        if let Some(id) = id {
            (status.indexed_ms, status.duration_ms) = self.conn.query_row(
                "SELECT indexed_ms, duration_ms FROM bases WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut stmt = self.conn.prepare(
                "SELECT root, path, size, mtime_ns, status, passages, chars FROM files WHERE base_id = ?1",
            )?;
            let rows = stmt.query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)? == "indexed",
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?;
            for row in rows {
                let (root, path, size, mtime, indexed, passages, chars) = row?;
                if indexed {
                    status.documents += 1;
                    status.passages += passages.max(0) as u64;
                    status.bytes += size.max(0) as u64;
                    status.chars += chars.max(0) as u64;
                }
                recorded.insert((root, path), (size, mtime));
            }
            status.skipped = self.skipped_files(id)?;
            status.skipped.extend(walk.unreadable);
            status.languages = self.languages_of(id)?;
        }
        for f in walk.files {
            let change = match recorded.remove(&(f.root, f.rel.clone())) {
                None => Some(Change::New),
                Some((size, mtime))
                    if u64::try_from(size).ok() != Some(f.size) || mtime != f.mtime_ns =>
                {
                    Some(Change::Changed)
                }
                Some(_) => None,
            };
            if let Some(change) = change {
                status.stale.push(Stale {
                    path: f.rel,
                    change,
                });
            }
        }
        let mut deleted: Vec<String> = recorded.into_keys().map(|(_, p)| p).collect();
        deleted.sort_unstable();
        status.stale.extend(deleted.into_iter().map(|path| Stale {
            path,
            change: Change::Deleted,
        }));
        Ok(status)
    }

    /// The languages of base `name`'s passages (`en`, `zh`), as found when indexing.
    pub fn languages(&self, name: &str) -> Result<Vec<String>, KnowledgeError> {
        let id = self
            .base_id(name)
            .map_err(|e| self.named(e))?
            .ok_or_else(|| KnowledgeError::NotIndexed(name.to_string()))?;
        self.languages_of(id).map_err(|e| self.named(e))
    }

    fn languages_of(&self, id: i64) -> Result<Vec<String>, KnowledgeError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT languages FROM files WHERE base_id = ?1 AND status = 'indexed'",
        )?;
        let mut out: Vec<String> = Vec::new();
        for row in stmt.query_map([id], |r| r.get::<_, String>(0))? {
            for l in row?.split(',').filter(|l| !l.is_empty()) {
                if !out.iter().any(|o| o == l) {
                    out.push(l.to_string());
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Remove base `name` and everything indexed for it. Whether it was there.
    pub fn remove(&mut self, name: &str) -> Result<bool, KnowledgeError> {
        let run = |conn: &mut rusqlite::Connection| -> Result<bool, KnowledgeError> {
            let tx = conn.transaction()?;
            let n = tx.execute("DELETE FROM bases WHERE name = ?1", params![name])?;
            tx.commit()?;
            Ok(n > 0)
        };
        let removed = run(&mut self.conn).map_err(|e| self.named(e))?;
        if removed {
            // Give the room back to the file system now and then (cheap when little is free).
            let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        }
        Ok(removed)
    }
}
