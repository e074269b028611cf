//! Sessions: creating, looking up, listing, renaming, pinning, archiving and deleting them,
//! their model and system prompt, the unsent draft kept per session, and small settings.
//!
//! It must not read or write messages beyond what deleting a session takes along (that is
//! `messages.rs`'s job).

use rusqlite::{OptionalExtension, params};

use super::rows::{SESSION_COLUMNS, get_count, row_to_session};
use super::types::{NewSession, Session, SessionId, SessionSummary};
use super::{Store, StoreError};

/// Up to this many messages a purge removes their words from the search index one by
/// one (FTS5's `secure-delete`); past it, a merge of the whole index is cheaper.
pub const SECURE_DELETE_MAX: i64 = 500;

impl Store {
    /// Creates a session and returns its id.
    pub fn create_session(&mut self, new: &NewSession) -> Result<SessionId, StoreError> {
        let _in = self.scope();
        self.conn.execute(
            "INSERT INTO sessions (title, created_ms, updated_ms, profile, model, system_prompt)
             VALUES (?1, ?2, ?2, ?3, ?4, ?5)",
            params![
                new.title,
                new.now_ms,
                new.profile,
                new.model,
                new.system_prompt
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The session with this id, if it exists.
    pub fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let _in = self.scope();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], row_to_session).optional()?)
    }

    /// The most recently updated session that is not archived.
    pub fn last_session_id(&self) -> Result<Option<SessionId>, StoreError> {
        let _in = self.scope();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM sessions WHERE archived = 0
             ORDER BY updated_ms DESC, id DESC LIMIT 1",
        )?;
        Ok(stmt.query_row([], |row| row.get(0)).optional()?)
    }

    /// Sessions with their message counts, most recently updated first, at
    /// most `limit` of them (all with `None`); archived ones only when
    /// `include_archived`.
    pub fn list_sessions(
        &self,
        limit: Option<usize>,
        include_archived: bool,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let _in = self.scope();
        // LIMIT -1 means no limit in SQLite.
        let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let filter = if include_archived {
            ""
        } else {
            "WHERE archived = 0"
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS}, message_count FROM sessions {filter}
             ORDER BY updated_ms DESC, id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], |row| {
            Ok(SessionSummary {
                session: row_to_session(row)?,
                message_count: get_count(row, 10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Gives a session a new title and marks it updated; false if it does
    /// not exist.
    pub fn rename_session(
        &mut self,
        id: SessionId,
        title: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _in = self.scope();
        let n = self.conn.execute(
            "UPDATE sessions SET title = ?2, updated_ms = ?3 WHERE id = ?1",
            params![id, title, now_ms],
        )?;
        Ok(n > 0)
    }

    /// Archives or unarchives a session; false if it does not exist.
    pub fn set_archived(&mut self, id: SessionId, archived: bool) -> Result<bool, StoreError> {
        let _in = self.scope();
        let n = self.conn.execute(
            "UPDATE sessions SET archived = ?2 WHERE id = ?1",
            params![id, archived],
        )?;
        Ok(n > 0)
    }

    /// Sets or clears a session's system prompt; false if it does not exist.
    pub fn set_session_system_prompt(
        &mut self,
        id: SessionId,
        system_prompt: Option<&str>,
    ) -> Result<bool, StoreError> {
        let _in = self.scope();
        let n = self.conn.execute(
            "UPDATE sessions SET system_prompt = ?2 WHERE id = ?1",
            params![id, system_prompt],
        )?;
        Ok(n > 0)
    }

    /// Grounds a session on a knowledge base (its questions are answered from the base's
    /// passages), or stops grounding it (`None`); false if it does not exist.
    pub fn set_session_knowledge(
        &mut self,
        id: SessionId,
        knowledge: Option<&str>,
    ) -> Result<bool, StoreError> {
        let _in = self.scope();
        let n = self.conn.execute(
            "UPDATE sessions SET knowledge = ?2 WHERE id = ?1",
            params![id, knowledge],
        )?;
        Ok(n > 0)
    }

    /// Sets the model a session talks to; false if it does not exist.
    pub fn set_session_model(&mut self, id: SessionId, model: &str) -> Result<bool, StoreError> {
        let _in = self.scope();
        let n = self.conn.execute(
            "UPDATE sessions SET model = ?2 WHERE id = ?1",
            params![id, model],
        )?;
        Ok(n > 0)
    }

    /// Deletes a session with its messages and their search index rows;
    /// false if it did not exist.
    pub fn delete_session(&mut self, id: SessionId) -> Result<bool, StoreError> {
        let _in = self.scope();
        // Messages go by ON DELETE CASCADE, index rows by the
        // messages_fts_delete trigger, all in this one statement.
        let n = self
            .conn
            .execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        Ok(n > 0)
    }

    /// Deletes every session whose last activity is before `cutoff_ms` (pinned and
    /// archived ones too), with its messages, their search rows and its draft, in one
    /// transaction; returns how many sessions went. What they held is also wiped from the
    /// file: the freed pages are zeroed (`secure_delete`); the search index drops their
    /// words at once — for a few messages with FTS5's `secure-delete` (each delete rewrites
    /// its part of the index), for more by merging the whole index afterwards (cheaper past
    /// [`SECURE_DELETE_MAX`] messages: docs/performance.md); and the WAL is checkpointed and
    /// emptied.
    pub fn purge_before(&mut self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let _in = self.scope();
        let messages: i64 = self.conn.query_row(
            "SELECT count(*) FROM messages WHERE session_id IN
                 (SELECT id FROM sessions WHERE updated_ms < ?1)",
            [cutoff_ms],
            |r| r.get(0),
        )?;
        let one_by_one = messages <= SECURE_DELETE_MAX;
        self.conn.pragma_update(None, "secure_delete", true)?;
        let fts_secure_delete = |conn: &rusqlite::Connection, on: bool| {
            conn.execute(
                "INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', ?1)",
                [i64::from(on)],
            )
        };
        if one_by_one {
            fts_secure_delete(&self.conn, true)?;
        }
        let deleted = (|| {
            let tx = self.conn.transaction()?;
            tx.execute(
                "DELETE FROM drafts WHERE session_id IN
                     (SELECT id FROM sessions WHERE updated_ms < ?1)",
                [cutoff_ms],
            )?;
            // Messages go by ON DELETE CASCADE, index rows by the messages_fts_delete
            // trigger.
            let n = tx.execute("DELETE FROM sessions WHERE updated_ms < ?1", [cutoff_ms])?;
            tx.commit()?;
            Ok::<usize, rusqlite::Error>(n)
        })();
        if one_by_one {
            // Other deletes keep their speed (a deleted message's words then leave the
            // index at its next merge).
            fts_secure_delete(&self.conn, false)?;
        }
        let n = deleted?;
        if n > 0 {
            if !one_by_one {
                self.conn.execute(
                    "INSERT INTO messages_fts (messages_fts) VALUES ('optimize')",
                    [],
                )?;
            }
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(n)
    }

    /// Pins or unpins a session (pinned sessions are listed first by the app); false if it
    /// does not exist.
    pub fn set_pinned(&mut self, id: SessionId, pinned: bool) -> Result<bool, StoreError> {
        let _in = self.scope();
        let n = self.conn.execute(
            "UPDATE sessions SET pinned = ?2 WHERE id = ?1",
            params![id, pinned],
        )?;
        Ok(n > 0)
    }

    /// The unsent draft kept for a session (`0` is the draft of a new, unsaved session).
    pub fn draft(&self, session_id: SessionId) -> Result<Option<String>, StoreError> {
        let _in = self.scope();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT text FROM drafts WHERE session_id = ?1")?;
        Ok(stmt.query_row([session_id], |r| r.get(0)).optional()?)
    }

    /// Keeps (or, when empty, forgets) the unsent draft of a session.
    pub fn set_draft(&mut self, session_id: SessionId, text: &str) -> Result<(), StoreError> {
        let _in = self.scope();
        if text.is_empty() {
            self.conn
                .execute("DELETE FROM drafts WHERE session_id = ?1", [session_id])?;
        } else {
            self.conn.execute(
                "INSERT INTO drafts (session_id, text) VALUES (?1, ?2)
                 ON CONFLICT (session_id) DO UPDATE SET text = excluded.text",
                params![session_id, text],
            )?;
        }
        Ok(())
    }

    /// A small setting remembered across runs (e.g. `theme`).
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let _in = self.scope();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
        Ok(stmt.query_row([key], |r| r.get(0)).optional()?)
    }

    /// Remembers a setting.
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let _in = self.scope();
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{new_message, new_session};
    use super::super::types::{MessageStatus, NewMessage, Role};
    use super::*;

    fn ids(list: &[SessionSummary]) -> Vec<SessionId> {
        list.iter().map(|s| s.session.id).collect()
    }

    #[test]
    fn purging_removes_old_sessions_their_messages_drafts_and_search_rows_and_their_words() {
        // A few messages (their words leave the index one by one) and many (the index is
        // merged after): the same outcome.
        for extra in [0, SECURE_DELETE_MAX as usize] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("history.sqlite3");
            let mut s = Store::open(&path).unwrap();
            let old = s.create_session(&new_session("Old", 100)).unwrap();
            s.add_message(&new_message(old, Role::User, "zanzibarquokka plans", 200))
                .unwrap();
            for i in 0..extra {
                let text = format!("filler {i}");
                s.add_message(&new_message(old, Role::Assistant, &text, 200))
                    .unwrap();
            }
            s.set_draft(old, "old draft").unwrap();
            s.set_pinned(old, true).unwrap();
            let kept = s.create_session(&new_session("Kept", 100)).unwrap();
            s.add_message(&new_message(kept, Role::User, "recent words", 5_000))
                .unwrap();
            // Nothing is older than the start: nothing goes.
            assert_eq!(s.purge_before(50).unwrap(), 0);
            assert_eq!(s.purge_before(1_000).unwrap(), 1);
            assert_eq!(s.session(old).unwrap(), None);
            assert!(s.messages(old).unwrap().is_empty());
            assert_eq!(s.draft(old).unwrap(), None);
            assert!(s.search("zanzibarquokka", 10, ("", "")).unwrap().is_empty());
            assert_eq!(s.search("recent", 10, ("", "")).unwrap().len(), 1);
            assert_eq!(s.messages(kept).unwrap().len(), 1);
            drop(s);
            // The words are not left behind in the file's free pages, its index or its WAL.
            for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
                let bytes = std::fs::read(file.path()).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains("zanzibarquokka") && !text.contains("old draft"),
                    "{extra}: {}",
                    file.path().display()
                );
            }
        }
    }

    #[test]
    fn create_list_rename_archive_delete() {
        let mut s = Store::open_in_memory().unwrap();
        assert!(s.list_sessions(None, false).unwrap().is_empty());
        assert_eq!(s.last_session_id().unwrap(), None);

        let a = s.create_session(&new_session("First", 100)).unwrap();
        let b = s.create_session(&new_session("Second", 200)).unwrap();
        let c = s.create_session(&new_session("Third", 300)).unwrap();
        let got = s.session(a).unwrap().unwrap();
        assert_eq!(
            got,
            Session {
                id: a,
                title: "First".into(),
                created_ms: 100,
                updated_ms: 100,
                profile: "work".into(),
                model: "gpt-test".into(),
                system_prompt: Some("Be brief.".into()),
                archived: false,
                pinned: false,
                knowledge: None,
            }
        );
        assert_eq!(s.session(9999).unwrap(), None);

        // Most recently updated first; a message moves its session up.
        assert_eq!(ids(&s.list_sessions(None, false).unwrap()), vec![c, b, a]);
        s.add_message(&new_message(a, Role::User, "hello", 400))
            .unwrap();
        s.add_message(&new_message(a, Role::Assistant, "hi", 401))
            .unwrap();
        let list = s.list_sessions(None, false).unwrap();
        assert_eq!(ids(&list), vec![a, c, b]);
        assert_eq!(list[0].message_count, 2);
        assert_eq!(list[0].session.updated_ms, 401);
        assert_eq!(list[1].message_count, 0);
        assert_eq!(ids(&s.list_sessions(Some(2), false).unwrap()), vec![a, c]);
        assert_eq!(s.last_session_id().unwrap(), Some(a));

        // Rename bumps the updated time.
        assert!(s.rename_session(b, "Renamed", 500).unwrap());
        assert!(!s.rename_session(9999, "Nobody", 500).unwrap());
        assert_eq!(s.session(b).unwrap().unwrap().title, "Renamed");
        assert_eq!(ids(&s.list_sessions(None, false).unwrap()), vec![b, a, c]);

        // Archived sessions leave the default list and last_session_id.
        assert!(s.set_archived(b, true).unwrap());
        assert!(!s.set_archived(9999, true).unwrap());
        assert_eq!(ids(&s.list_sessions(None, false).unwrap()), vec![a, c]);
        assert_eq!(ids(&s.list_sessions(None, true).unwrap()), vec![b, a, c]);
        assert!(s.session(b).unwrap().unwrap().archived);
        assert_eq!(s.last_session_id().unwrap(), Some(a));
        assert!(s.set_archived(b, false).unwrap());
        assert_eq!(s.last_session_id().unwrap(), Some(b));

        // Setters.
        assert!(s.set_session_model(c, "gpt-other").unwrap());
        assert!(s.set_session_system_prompt(c, None).unwrap());
        let got = s.session(c).unwrap().unwrap();
        assert_eq!(got.model, "gpt-other");
        assert_eq!(got.system_prompt, None);
        assert!(s.set_session_system_prompt(c, Some("Use French.")).unwrap());
        assert_eq!(
            s.session(c).unwrap().unwrap().system_prompt.as_deref(),
            Some("Use French.")
        );
        assert!(!s.set_session_model(9999, "x").unwrap());

        // Delete takes the messages along.
        let first = s.messages(a).unwrap()[0].id;
        assert!(s.delete_session(a).unwrap());
        assert!(!s.delete_session(a).unwrap());
        assert_eq!(s.session(a).unwrap(), None);
        assert!(s.messages(a).unwrap().is_empty());
        assert_eq!(s.message(first).unwrap(), None);
        assert_eq!(ids(&s.list_sessions(None, true).unwrap()), vec![b, c]);
    }

    #[test]
    fn pins_drafts_settings_and_message_delete() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("A", 1)).unwrap();
        assert!(s.set_pinned(a, true).unwrap());
        assert!(s.session(a).unwrap().unwrap().pinned);
        assert!(!s.set_pinned(999, true).unwrap());
        s.set_draft(a, "half a thought 报销").unwrap();
        assert_eq!(s.draft(a).unwrap().as_deref(), Some("half a thought 报销"));
        s.set_draft(a, "").unwrap();
        assert_eq!(s.draft(a).unwrap(), None);
        s.set_setting("theme", "light").unwrap();
        s.set_setting("theme", "gruvbox").unwrap();
        assert_eq!(s.setting("theme").unwrap().as_deref(), Some("gruvbox"));
        let m = s
            .add_message(&NewMessage {
                session_id: a,
                role: Role::User,
                content: "delete me".into(),
                status: MessageStatus::Complete,
                model: None,
                now_ms: 2,
            })
            .unwrap();
        assert!(s.delete_message(m).unwrap());
        assert!(s.messages(a).unwrap().is_empty());
        assert!(s.search("delete", 5, ("[", "]")).unwrap().is_empty());
        assert_eq!(s.list_sessions(None, false).unwrap()[0].message_count, 0);
    }
}
