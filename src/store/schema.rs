//! The schema: its migration steps, applied in order and tracked by `PRAGMA user_version`.
//!
//! It must not edit a released step (append a new one), and must not touch rows beyond what
//! a step itself does.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;
use super::open::open_error;
use super::search;

/// Schema steps, in order. Step `i` (0-based) brings `user_version` from `i`
/// to `i + 1`; each step runs in its own transaction with that bump. Never
/// change a released step: append a new one.
const MIGRATIONS: &[&[&str]] = &[
    // 1: sessions and messages.
    &["CREATE TABLE sessions (
           id            INTEGER PRIMARY KEY,
           title         TEXT    NOT NULL,
           created_ms    INTEGER NOT NULL,
           updated_ms    INTEGER NOT NULL,
           profile       TEXT    NOT NULL,
           model         TEXT    NOT NULL,
           system_prompt TEXT,
           archived      INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
           message_count INTEGER NOT NULL DEFAULT 0
       );
       CREATE INDEX sessions_by_updated ON sessions (updated_ms DESC, id DESC);
       CREATE INDEX sessions_active_by_updated
           ON sessions (archived, updated_ms DESC, id DESC);
       CREATE TABLE messages (
           id            INTEGER PRIMARY KEY,
           session_id    INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
           role          TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
           content       TEXT    NOT NULL,
           status        TEXT    NOT NULL CHECK (status IN
                             ('complete', 'streaming', 'interrupted', 'truncated', 'error')),
           error         TEXT,
           model         TEXT,
           tokens_in     INTEGER,
           tokens_cached INTEGER,
           tokens_out    INTEGER,
           cost_usd      REAL,
           ttft_ms       INTEGER,
           duration_ms   INTEGER,
           created_ms    INTEGER NOT NULL,
           writer_pid    INTEGER
       );
       CREATE INDEX messages_by_session ON messages (session_id, id);
       CREATE INDEX messages_streaming ON messages (id) WHERE status = 'streaming';"],
    // 2: full-text search; index rows leave with their message (also on the
    // cascade from a deleted session).
    &[
        search::CREATE_FTS_SQL,
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
             DELETE FROM messages_fts WHERE rowid = old.id;
         END;",
    ],
    // 3: pinned sessions, drafts kept per session, small settings (e.g. the theme).
    &["ALTER TABLE sessions ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
       CREATE TABLE drafts (
           session_id INTEGER PRIMARY KEY,
           text       TEXT NOT NULL
       );
       CREATE TABLE settings (
           key   TEXT PRIMARY KEY,
           value TEXT NOT NULL
       );"],
    // 4: each message's size in tokens, kept once known (the server's count of an answer,
    // or a count made when the conversation had to be fitted), so a long session is not
    // counted again on every send.
    &["ALTER TABLE messages ADD COLUMN tokens INTEGER;"],
    // 5: whether an answer's usage is clerk's estimate (the server sent none, e.g. the answer
    // was stopped) rather than the server's count.
    &["ALTER TABLE messages ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0
           CHECK (usage_estimated IN (0, 1));"],
    // 6: the knowledge base a session is grounded on (its questions are answered from the
    // base's passages), and the passages a grounded answer was given, as JSON
    // (`types::Grounding`): which it cited, their files, sections, pages and text.
    &["ALTER TABLE sessions ADD COLUMN knowledge TEXT;
       ALTER TABLE messages ADD COLUMN grounding TEXT;"],
];

pub(super) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// The newest schema version this program knows.
pub(super) fn known() -> i64 {
    // Invariant: the list is a few entries long, far below i64::MAX.
    MIGRATIONS.len() as i64
}

/// Whether the database has every migration step (so that it can be read without one).
pub(super) fn up_to_date(conn: &Connection) -> bool {
    user_version(conn).is_ok_and(|v| usize::try_from(v) == Ok(MIGRATIONS.len()))
}

/// Applies the migration steps the database does not have yet.
pub(super) fn migrate(conn: &mut Connection, label: &str) -> Result<(), StoreError> {
    // Invariant: the list is a few entries long, far below i64::MAX.
    let known = MIGRATIONS.len() as i64;
    let too_new = |found: i64| StoreError::TooNew {
        path: label.to_owned(),
        found,
        known,
    };
    let current = user_version(conn).map_err(|cause| open_error(label, cause))?;
    if current > known {
        return Err(too_new(current));
    }
    if current == known {
        return Ok(());
    }
    // Every step still to do in one transaction: all or nothing, and one commit (a new
    // history is made before the app's first frame, and each commit waits for the disk).
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another clerk may have migrated while this one waited for the lock.
    let now = user_version(&tx)?;
    if now > known {
        return Err(too_new(now));
    }
    for (done, step) in (0_i64..).zip(MIGRATIONS.iter()) {
        if done < now {
            continue;
        }
        for sql in step.iter() {
            tx.execute_batch(sql)?;
        }
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::super::test_support::{new_message, new_session};
    use super::super::types::Role;
    use super::*;

    #[test]
    fn migrations_are_idempotent_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let a = {
            let mut s = Store::open(&path).unwrap();
            assert_eq!(
                user_version(&s.conn).unwrap(),
                i64::try_from(MIGRATIONS.len()).unwrap()
            );
            let a = s.create_session(&new_session("Kept", 100)).unwrap();
            s.add_message(&new_message(a, Role::User, "still here", 110))
                .unwrap();
            a
        };
        for _ in 0..2 {
            let s = Store::open(&path).unwrap();
            assert_eq!(
                user_version(&s.conn).unwrap(),
                i64::try_from(MIGRATIONS.len()).unwrap()
            );
            assert_eq!(s.messages(a).unwrap()[0].content, "still here");
            assert_eq!(s.search("still", 5, ("[", "]")).unwrap().len(), 1);
            assert_eq!(s.integrity_check().unwrap(), "ok");
        }
    }

    #[test]
    fn partly_migrated_database_is_completed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0][0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        assert_eq!(
            user_version(&s.conn).unwrap(),
            i64::try_from(MIGRATIONS.len()).unwrap()
        );
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        s.add_message(&new_message(a, Role::User, "indexed now", 110))
            .unwrap();
        assert_eq!(s.search("indexed", 5, ("[", "]")).unwrap().len(), 1);
    }

    #[test]
    fn a_history_of_version_5_upgrades_and_keeps_grounding() {
        use super::super::types::{Grounding, Source};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        // A history as clerk left it before knowledge bases: steps 1 to 5 only.
        {
            let conn = Connection::open(&path).unwrap();
            for step in &MIGRATIONS[..5] {
                for sql in step.iter() {
                    conn.execute_batch(sql).unwrap();
                }
            }
            conn.pragma_update(None, "user_version", 5).unwrap();
            conn.execute_batch(
                "INSERT INTO sessions (id, title, created_ms, updated_ms, profile, model)
                     VALUES (1, 'Old', 1, 1, 'work', 'm');
                 INSERT INTO messages (id, session_id, role, content, status, created_ms)
                     VALUES (1, 1, 'user', 'q', 'complete', 1),
                            (2, 1, 'assistant', 'a [1]', 'complete', 2);",
            )
            .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        assert_eq!(user_version(&s.conn).unwrap(), 6);
        let old = s.session(1).unwrap().unwrap();
        assert_eq!((old.title.as_str(), old.knowledge), ("Old", None));
        assert_eq!(s.messages(1).unwrap()[1].grounding, None);
        // What the new columns hold comes back.
        assert!(s.set_session_knowledge(1, Some("handbook")).unwrap());
        assert_eq!(
            s.list_sessions(None, true).unwrap()[0]
                .session
                .knowledge
                .as_deref(),
            Some("handbook")
        );
        let g = Grounding {
            bases: vec!["handbook".into()],
            language: "en".into(),
            asked: true,
            passages: vec![Source {
                base: "handbook".into(),
                path: "travel.md".into(),
                file: "/docs/travel.md".into(),
                section: "Travel › Hotels".into(),
                page: Some(3),
                text: "CNY 900".into(),
                cited: true,
            }],
        };
        s.set_grounding(2, Some(&g)).unwrap();
        let back = s.messages(1).unwrap();
        assert_eq!(back[1].grounding.as_ref(), Some(&g));
        assert_eq!(back[1].content, "a [1]", "the passages are not content");
        assert!(s.set_grounding(99, Some(&g)).is_err());
        // A value this clerk cannot read is left out; the session still opens.
        s.conn
            .execute(
                "UPDATE messages SET grounding = 'not json' WHERE id = 2",
                [],
            )
            .unwrap();
        assert_eq!(s.messages(1).unwrap()[1].grounding, None);
        assert!(!s.set_session_knowledge(99, None).unwrap());
    }

    #[test]
    fn newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        drop(Store::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        match &err {
            StoreError::TooNew { found, known, .. } => {
                assert_eq!(*found, 99);
                assert_eq!(*known, i64::try_from(MIGRATIONS.len()).unwrap());
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("newer version of clerk"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }

    #[test]
    fn listing_and_lookups_use_indexes() {
        let s = Store::open_in_memory().unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = s
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            stmt.query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap()
                .join("\n")
        };
        for sql in [
            "SELECT id FROM sessions WHERE archived = 0 ORDER BY updated_ms DESC, id DESC LIMIT -1",
            "SELECT id FROM sessions ORDER BY updated_ms DESC, id DESC LIMIT -1",
            "SELECT id FROM messages WHERE session_id = 1 ORDER BY id",
            "SELECT id FROM messages WHERE status = 'streaming'",
        ] {
            let p = plan(sql);
            assert!(p.contains("USING"), "{sql}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{sql}: {p}");
        }
    }
}
