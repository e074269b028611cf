//! Whole sessions with their finished messages added in one transaction: for restoring
//! exports and for filling large test databases quickly.
//!
//! It must not accept a message that is still streaming (nothing would ever finish it).

use rusqlite::{TransactionBehavior, params};

use super::search;
use super::types::{NewMessage, NewSession, SessionId};
use super::{Store, StoreError};

impl Store {
    /// Adds whole sessions with their (finished) messages in one transaction:
    /// for restoring exports and for filling large test databases quickly.
    /// Each message's `session_id` is ignored (the new session's id is used);
    /// messages must have a final status. Returns the new session ids.
    pub fn import(
        &mut self,
        sessions: &[(NewSession, Vec<NewMessage>)],
    ) -> Result<Vec<SessionId>, StoreError> {
        let _in = self.scope();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(sessions.len());
        for (session, messages) in sessions {
            let updated = messages.last().map_or(session.now_ms, |m| m.now_ms);
            tx.prepare_cached(
                "INSERT INTO sessions (title, created_ms, updated_ms, profile, model,
                                       system_prompt, message_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                session.title,
                session.now_ms,
                updated,
                session.profile,
                session.model,
                session.system_prompt,
                i64::try_from(messages.len()).unwrap_or(i64::MAX)
            ])?;
            let session_id = tx.last_insert_rowid();
            for m in messages {
                if !m.status.is_final() {
                    return Err(StoreError::NotFinal {
                        id: 0,
                        status: m.status,
                    });
                }
                tx.prepare_cached(
                    "INSERT INTO messages (session_id, role, content, status, model, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    session_id,
                    m.role.as_str(),
                    m.content,
                    m.status.as_str(),
                    m.model,
                    m.now_ms
                ])?;
                let id = tx.last_insert_rowid();
                search::index_message(&tx, id, &m.content)?;
            }
            ids.push(session_id);
        }
        tx.commit()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::new_session;
    use super::super::types::{MessageStatus, Role};
    use super::*;

    #[test]
    fn import_adds_sessions_searchably_in_one_go() {
        let mut s = Store::open_in_memory().unwrap();
        let msg = |role, content: &str, now_ms| NewMessage {
            session_id: 0,
            role,
            content: content.into(),
            status: MessageStatus::Complete,
            model: None,
            now_ms,
        };
        let ids = s
            .import(&[(
                new_session("Imported", 10),
                vec![
                    msg(Role::User, "差旅报销怎么办", 11),
                    msg(Role::Assistant, "填表", 12),
                ],
            )])
            .unwrap();
        let list = s.list_sessions(None, false).unwrap();
        assert_eq!(list[0].session.id, ids[0]);
        assert_eq!(list[0].message_count, 2);
        assert_eq!(list[0].session.updated_ms, 12);
        assert_eq!(s.search("报销", 5, ("[", "]")).unwrap().len(), 1);
        let streaming = NewMessage {
            status: MessageStatus::Streaming,
            ..msg(Role::User, "x", 1)
        };
        assert!(
            s.import(&[(new_session("Bad", 1), vec![streaming])])
                .is_err()
        );
    }
}
