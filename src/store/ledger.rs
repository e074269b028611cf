//! The usage ledger: one row per request sent to a model — answers, parts of a long
//! document, workflow steps, question restatements, titles, comparisons — with its model,
//! profile, session, template and knowledge base, its tokens (the server's, or clerk's
//! estimate, marked so) and its cost from the price table in force when it ended (`NULL`
//! when the model has no price: unknown, never zero).
//!
//! It lives in its own file (`usage.sqlite3` beside the history), so that spending is
//! counted — and budgets hold — even when no conversation is kept (`--no-save`, history
//! turned off). It holds no text: no question, no answer, no title.
//!
//! It must not price anything itself (the caller passes the cost) nor decide budgets
//! (`chat::budget` does); it records and sums.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::Serialize;

use super::StoreError;
use super::open::{configure, out_of_space, prepare_files};
use super::rows::db_u64;

/// Schema steps of the ledger, in order (`PRAGMA user_version` counts those applied).
const MIGRATIONS: &[&str] = &["CREATE TABLE requests (
        id                INTEGER PRIMARY KEY,
        at_ms             INTEGER NOT NULL,
        kind              TEXT NOT NULL,
        model             TEXT NOT NULL,
        profile           TEXT NOT NULL,
        session_id        INTEGER,
        template          TEXT,
        knowledge         TEXT,
        prompt_tokens     INTEGER,
        cached_tokens     INTEGER,
        completion_tokens INTEGER,
        estimated         INTEGER NOT NULL DEFAULT 0 CHECK (estimated IN (0, 1)),
        cost_usd          REAL,
        status            TEXT NOT NULL
    );
    CREATE INDEX requests_at ON requests (at_ms);"];

/// One request, as recorded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spend {
    /// When it ended (ms since the Unix epoch).
    pub at_ms: i64,
    /// What it was for: `answer`, `part`, `merge`, `step`, `restate`, `title`, `compare`,
    /// `judge`, `embed`, `check`.
    pub kind: String,
    /// The model asked.
    pub model: String,
    /// The profile (endpoint) used.
    pub profile: String,
    /// The session it belongs to, if any.
    pub session_id: Option<i64>,
    /// The template that made it, if any.
    pub template: Option<String>,
    /// The knowledge base it answered from, if any.
    pub knowledge: Option<String>,
    /// Prompt tokens (cached ones included).
    pub prompt_tokens: Option<u64>,
    /// Prompt tokens served from the cache.
    pub cached_tokens: Option<u64>,
    /// Completion tokens.
    pub completion_tokens: Option<u64>,
    /// The counts are clerk's estimate (the server sent none, e.g. a stopped answer).
    pub estimated: bool,
    /// Cost in USD at the prices in force (`None`: the model has no price).
    pub cost_usd: Option<f64>,
    /// How it ended: `complete`, `interrupted`, `truncated`, `error`.
    pub status: String,
}

/// How usage is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// Local calendar day, `YYYY-MM-DD`.
    Day,
    /// Local calendar month, `YYYY-MM`.
    Month,
    /// Model name.
    Model,
    /// Profile name.
    Profile,
    /// Session id (`none` for requests outside a session).
    Session,
    /// Template id (`none` for requests not made by a template).
    Template,
    /// What the request was for.
    Kind,
}

/// Totals of a group of requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// How many requests.
    pub requests: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost of the priced requests (`None` when none of them was priced).
    pub cost_usd: Option<f64>,
    /// Requests whose model had no price: their cost is unknown, not in `cost_usd`.
    pub unpriced_requests: u64,
    /// Requests the server sent no counts for (stopped or cut off): their tokens and cost
    /// are clerk's estimate.
    pub estimated_requests: u64,
}

/// One group's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The group (a day, a month, a model…).
    pub key: String,
    /// Its totals.
    #[serde(flatten)]
    pub totals: Totals,
}

/// The open ledger.
#[derive(Debug)]
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

impl Ledger {
    /// Open (or create) the ledger at `path`: a private file (0600 in a 0700 folder), WAL,
    /// migrations applied.
    pub fn open(path: &Path) -> Result<Ledger, StoreError> {
        Ledger::open_writable(path).map_err(|e| {
            if out_of_space(&e, path) {
                StoreError::DiskFull {
                    folder: path.parent().map(|p| p.display().to_string()),
                    cause: Box::new(std::io::Error::from(std::io::ErrorKind::StorageFull)),
                }
            } else {
                e
            }
        })
    }

    fn open_writable(path: &Path) -> Result<Ledger, StoreError> {
        let label = path.display().to_string();
        let open_err = |cause: Box<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: label.clone(),
            cause,
        };
        prepare_files(path).map_err(|e| open_err(Box::new(e)))?;
        let conn = Connection::open(path).map_err(|e| open_err(Box::new(e)))?;
        configure(&conn).map_err(|e| open_err(Box::new(e)))?;
        // A row a request, written while the user waits for nothing: no sync per commit
        // (WAL keeps the file whole; a power cut may lose the last rows, never the file).
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| open_err(Box::new(e)))?;
        let mut ledger = Ledger {
            conn,
            path: path.to_path_buf(),
        };
        ledger.migrate()?;
        Ok(ledger)
    }

    /// A ledger in memory (tests, and history turned off in the app when no file may be
    /// written).
    pub fn open_in_memory() -> Result<Ledger, StoreError> {
        let mut ledger = Ledger {
            conn: Connection::open_in_memory()?,
            path: PathBuf::from(":memory:"),
        };
        ledger.migrate()?;
        Ok(ledger)
    }

    /// The ledger's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = MIGRATIONS.len() as i64;
        let current: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current > known {
            return Err(StoreError::TooNew {
                path: self.path.display().to_string(),
                found: current,
                known,
            });
        }
        for (done, sql) in (0_i64..).zip(MIGRATIONS.iter()) {
            if done < current {
                continue;
            }
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if now > done {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", done + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Record one request.
    pub fn record(&mut self, s: &Spend) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO requests (at_ms, kind, model, profile, session_id, template,
                     knowledge, prompt_tokens, cached_tokens, completion_tokens, estimated,
                     cost_usd, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                s.at_ms,
                s.kind,
                s.model,
                s.profile,
                s.session_id,
                s.template,
                s.knowledge,
                db_u64(s.prompt_tokens),
                db_u64(s.cached_tokens),
                db_u64(s.completion_tokens),
                s.estimated,
                s.cost_usd,
                s.status,
            ])?;
        Ok(())
    }

    /// The totals of the requests that ended in `[from_ms, to_ms)`.
    pub fn totals(&self, from_ms: i64, to_ms: i64) -> Result<Totals, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {TOTALS} FROM requests WHERE at_ms >= ?1 AND at_ms < ?2"
        ))?;
        Ok(stmt.query_row(params![from_ms, to_ms], totals_of(0))?)
    }

    /// The requests that ended in `[from_ms, to_ms)`, grouped `by`, in the group's order
    /// (days and months in time order, the rest by cost, highest first). Days and months
    /// are the local calendar's (the process's time zone).
    pub fn report(&self, by: By, from_ms: i64, to_ms: i64) -> Result<Vec<Row>, StoreError> {
        let (key, order) = match by {
            By::Day => (
                "date(at_ms / 1000, 'unixepoch', 'localtime')",
                "key".to_string(),
            ),
            By::Month => (
                "strftime('%Y-%m', at_ms / 1000, 'unixepoch', 'localtime')",
                "key".to_string(),
            ),
            By::Model => ("model", BY_COST.to_string()),
            By::Profile => ("profile", BY_COST.to_string()),
            By::Session => (
                "COALESCE(CAST(session_id AS TEXT), 'none')",
                BY_COST.to_string(),
            ),
            By::Template => ("COALESCE(template, 'none')", BY_COST.to_string()),
            By::Kind => ("kind", BY_COST.to_string()),
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {key} AS key, {TOTALS} FROM requests
             WHERE at_ms >= ?1 AND at_ms < ?2 GROUP BY key ORDER BY {order}"
        ))?;
        let rows = stmt.query_map(params![from_ms, to_ms], |r| {
            Ok(Row {
                key: r.get(0)?,
                totals: totals_of(1)(r)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// Groups by cost, highest first, unpriced last; then by name.
const BY_COST: &str = "SUM(cost_usd) IS NULL, SUM(cost_usd) DESC, key";

/// The totals' columns, read by [`totals_of`].
const TOTALS: &str = "COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(cached_tokens), 0),
     COALESCE(SUM(completion_tokens), 0), SUM(cost_usd), COUNT(*) - COUNT(cost_usd),
     COALESCE(SUM(estimated), 0)";

/// Reads [`TOTALS`] starting at column `at`.
fn totals_of(at: usize) -> impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Totals> {
    move |r| {
        let n = |i: usize| -> rusqlite::Result<u64> {
            Ok(u64::try_from(r.get::<_, i64>(at + i)?).unwrap_or(0))
        };
        Ok(Totals {
            requests: n(0)?,
            prompt_tokens: n(1)?,
            cached_tokens: n(2)?,
            completion_tokens: n(3)?,
            cost_usd: r.get(at + 4)?,
            unpriced_requests: n(5)?,
            estimated_requests: n(6)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(at_ms: i64, model: &str, cost: Option<f64>) -> Spend {
        Spend {
            at_ms,
            kind: "answer".into(),
            model: model.into(),
            profile: "default".into(),
            prompt_tokens: Some(1_000),
            cached_tokens: Some(200),
            completion_tokens: Some(100),
            cost_usd: cost,
            status: "complete".into(),
            ..Spend::default()
        }
    }

    #[test]
    fn totals_count_unpriced_requests_apart_and_never_as_zero() {
        let mut l = Ledger::open_in_memory().unwrap();
        l.record(&spend(1_000, "gpt-4o-mini", Some(0.25))).unwrap();
        l.record(&spend(2_000, "gpt-4o-mini", Some(0.5))).unwrap();
        l.record(&spend(3_000, "llama3.2", None)).unwrap();
        l.record(&spend(9_000, "gpt-4o-mini", Some(4.0))).unwrap();
        let t = l.totals(0, 5_000).unwrap();
        assert_eq!((t.requests, t.unpriced_requests), (3, 1));
        assert_eq!(
            (t.prompt_tokens, t.cached_tokens, t.completion_tokens),
            (3_000, 600, 300)
        );
        assert!((t.cost_usd.unwrap() - 0.75).abs() < 1e-12);
        // Nothing priced: unknown, not 0.
        let only_unpriced = l.totals(2_500, 5_000).unwrap();
        assert_eq!(
            (only_unpriced.cost_usd, only_unpriced.unpriced_requests),
            (None, 1)
        );
        let none = l.totals(100_000, 200_000).unwrap();
        assert_eq!((none.requests, none.cost_usd), (0, None));
    }

    #[test]
    fn reports_group_by_model_and_by_local_day() {
        let mut l = Ledger::open_in_memory().unwrap();
        // 2026-03-01 10:00 UTC and 2026-03-02 10:00 UTC.
        let d1 = 1_772_359_200_000;
        let d2 = d1 + 86_400_000;
        l.record(&spend(d1, "gpt-4o-mini", Some(0.1))).unwrap();
        l.record(&spend(d1 + 1, "gpt-4o", Some(2.0))).unwrap();
        l.record(&spend(d2, "llama3.2", None)).unwrap();
        let by_model = l.report(By::Model, 0, i64::MAX).unwrap();
        let keys: Vec<&str> = by_model.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            ["gpt-4o", "gpt-4o-mini", "llama3.2"],
            "by cost, unpriced last"
        );
        assert_eq!(by_model[2].totals.cost_usd, None);
        let by_day = l.report(By::Day, 0, i64::MAX).unwrap();
        assert_eq!(by_day.len(), 2);
        assert!(by_day[0].key < by_day[1].key, "days in time order");
        assert_eq!(by_day[0].totals.requests, 2);
        assert_eq!(by_day[0].key.len(), "2026-03-01".len());
        let json = serde_json::to_value(&by_day[1]).unwrap();
        assert_eq!(json["unpriced_requests"], 1);
        assert!(json["cost_usd"].is_null());
    }

    #[test]
    fn the_ledger_file_is_private_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.sqlite3");
        Ledger::open(&path)
            .unwrap()
            .record(&spend(5, "gpt-4o-mini", Some(0.1)))
            .unwrap();
        let l = Ledger::open(&path).unwrap();
        assert_eq!(l.totals(0, 10).unwrap().requests, 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
