//! Messages: adding them, the partial text of an answer still streaming, finishing it,
//! their sizes in tokens, reading them back, and deleting one or a session's tail.
//!
//! It must not write to the search index from `update_partial` (that runs every second while
//! an answer streams), and must not index a message before its status is final.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::rows::{MESSAGE_COLUMNS, db_u64, row_to_message};
use super::search;
use super::types::{
    Grounding, Message, MessageFinish, MessageId, MessageStatus, NewMessage, Role, SessionId,
};
use super::{Store, StoreError};

/// The most bytes one token of any tokenizer clerk meets stands for (o200k's longest
/// tokens are runs of 128 spaces or symbols): `bytes / MAX_TOKEN_BYTES` tokens at least.
pub const MAX_TOKEN_BYTES: u64 = 256;

impl Store {
    /// Adds a message and commits at once. Bumps the session's updated time
    /// and message count; a message with a final status is searchable
    /// straight away, a streaming one once finished.
    pub fn add_message(&mut self, new: &NewMessage) -> Result<MessageId, StoreError> {
        let _in = self.scope();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE sessions SET updated_ms = ?2, message_count = message_count + 1
             WHERE id = ?1",
            params![new.session_id, new.now_ms],
        )?;
        if n == 0 {
            return Err(StoreError::SessionNotFound(new.session_id));
        }
        tx.execute(
            "INSERT INTO messages (session_id, role, content, status, model, created_ms,
                                   writer_pid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                new.session_id,
                new.role.as_str(),
                new.content,
                new.status.as_str(),
                new.model,
                new.now_ms,
                (!new.status.is_final()).then(std::process::id)
            ],
        )?;
        let id = tx.last_insert_rowid();
        if new.status.is_final() {
            search::index_message(&tx, id, &new.content)?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Saves the partial text of an answer that is still streaming. Cheap:
    /// one row update, no search index. Ignored (Ok) when the message is no
    /// longer streaming, so a late partial write never overwrites a final
    /// text; an error if the message does not exist.
    pub fn update_partial(&mut self, id: MessageId, content: &str) -> Result<(), StoreError> {
        let _in = self.scope();
        let mut stmt = self.conn.prepare_cached(
            "UPDATE messages SET content = ?2 WHERE id = ?1 AND status = 'streaming'",
        )?;
        if stmt.execute(params![id, content])? > 0 {
            return Ok(());
        }
        let mut exists = self
            .conn
            .prepare_cached("SELECT 1 FROM messages WHERE id = ?1")?;
        if exists.exists([id])? {
            Ok(())
        } else {
            Err(StoreError::MessageNotFound(id))
        }
    }

    /// Writes the final state of a message (text, status, reason, usage,
    /// cost, timings), makes it searchable and bumps its session's updated
    /// time, in one transaction.
    pub fn finish_message(
        &mut self,
        id: MessageId,
        finish: &MessageFinish,
    ) -> Result<(), StoreError> {
        let _in = self.scope();
        if !finish.status.is_final() {
            return Err(StoreError::NotFinal {
                id,
                status: finish.status,
            });
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let session_id: Option<SessionId> = tx
            .query_row(
                "UPDATE messages SET content = ?2, status = ?3, error = ?4, tokens_in = ?5,
                     tokens_cached = ?6, tokens_out = ?7, cost_usd = ?8, ttft_ms = ?9,
                     duration_ms = ?10, usage_estimated = ?11
                 WHERE id = ?1 RETURNING session_id",
                params![
                    id,
                    finish.content,
                    finish.status.as_str(),
                    finish.error,
                    db_u64(finish.usage.tokens_in),
                    db_u64(finish.usage.tokens_cached),
                    db_u64(finish.usage.tokens_out),
                    finish.cost_usd,
                    db_u64(finish.ttft_ms),
                    db_u64(finish.duration_ms),
                    finish.usage.estimated
                ],
                |row| row.get(0),
            )
            .optional()?;
        let Some(session_id) = session_id else {
            return Err(StoreError::MessageNotFound(id));
        };
        tx.execute(
            "UPDATE sessions SET updated_ms = ?2 WHERE id = ?1",
            params![session_id, finish.now_ms],
        )?;
        search::index_message(&tx, id, &finish.content)?;
        tx.commit()?;
        Ok(())
    }

    /// Keeps the passages a grounded answer was given (and which it cites) with it, or
    /// removes them (`None`); an error if the message does not exist.
    pub fn set_grounding(
        &mut self,
        id: MessageId,
        grounding: Option<&Grounding>,
    ) -> Result<(), StoreError> {
        let _in = self.scope();
        // Invariant: plain strings, numbers and lists serialise without fail (no map keys
        // that are not strings); were it ever to fail, nothing is kept rather than junk.
        let json = grounding.and_then(|g| serde_json::to_string(g).ok());
        let n = self.conn.execute(
            "UPDATE messages SET grounding = ?2 WHERE id = ?1",
            params![id, json],
        )?;
        if n == 0 {
            return Err(StoreError::MessageNotFound(id));
        }
        Ok(())
    }

    /// Keeps messages' sizes in tokens (unknown rows are skipped), in one transaction.
    pub fn set_tokens(&mut self, counts: &[(MessageId, u64)]) -> Result<(), StoreError> {
        let _in = self.scope();
        if counts.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE messages SET tokens = ?2 WHERE id = ?1")?;
            for (id, n) in counts {
                stmt.execute(params![id, db_u64(Some(*n))])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The messages of a session in the order they were added (empty if the
    /// session does not exist).
    pub fn messages(&self, session_id: SessionId) -> Result<Vec<Message>, StoreError> {
        let _in = self.scope();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([session_id], row_to_message)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The newest messages of a session that could be sent within `budget` tokens (the
    /// model's window less the answer's room), oldest first, and how many older messages
    /// with text were not read. Reading stops once the messages read are certainly more
    /// than the budget — by their kept token counts, or for a message without one, by a
    /// bound no text can go under (a token is at most [`MAX_TOKEN_BYTES`] bytes) — and a
    /// question has been read. `None`: every message (no window known).
    pub fn recent_messages(
        &self,
        session_id: SessionId,
        budget: Option<u64>,
    ) -> Result<(Vec<Message>, usize), StoreError> {
        let Some(budget) = budget else {
            return Ok((self.messages(session_id)?, 0));
        };
        let _in = self.scope();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ?1 ORDER BY id DESC"
        ))?;
        let mut rows = stmt.query([session_id])?;
        let mut newest_first = Vec::new();
        let (mut least, mut asked) = (0u64, false);
        while let Some(row) = rows.next()? {
            let m = row_to_message(row)?;
            least += m.tokens.unwrap_or(m.content.len() as u64 / MAX_TOKEN_BYTES);
            asked |= m.role == Role::User;
            newest_first.push(m);
            if least > budget && asked {
                break;
            }
        }
        drop(rows);
        let older = match newest_first.last() {
            Some(oldest) => self.conn.query_row(
                "SELECT COUNT(*) FROM messages WHERE session_id = ?1 AND id < ?2
                 AND content != '' AND role != 'system'",
                params![session_id, oldest.id],
                |r| r.get::<_, i64>(0),
            )?,
            None => 0,
        };
        newest_first.reverse();
        Ok((newest_first, usize::try_from(older).unwrap_or(0)))
    }

    /// The message with this id, if it exists.
    pub fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let _in = self.scope();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], row_to_message).optional()?)
    }

    /// Deletes one message (and its search entry); false if it does not exist.
    pub fn delete_message(&mut self, id: MessageId) -> Result<bool, StoreError> {
        let _in = self.scope();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let session: Option<SessionId> = tx
            .query_row(
                "DELETE FROM messages WHERE id = ?1 RETURNING session_id",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(sid) = session {
            tx.execute(
                "UPDATE sessions SET message_count = message_count - 1 WHERE id = ?1",
                [sid],
            )?;
        }
        tx.commit()?;
        Ok(session.is_some())
    }

    /// Adds the empty row of an answer about to stream from `model`.
    pub fn add_streaming_answer(
        &mut self,
        session_id: SessionId,
        model: &str,
        now_ms: i64,
    ) -> Result<MessageId, StoreError> {
        let _in = self.scope();
        self.add_message(&NewMessage {
            session_id,
            role: Role::Assistant,
            content: String::new(),
            status: MessageStatus::Streaming,
            model: Some(model.to_string()),
            now_ms,
        })
    }

    /// Deletes a message and every later message of its session (edit and resend);
    /// returns how many were deleted.
    pub fn delete_messages_from(&mut self, id: MessageId) -> Result<usize, StoreError> {
        let _in = self.scope();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let session: Option<SessionId> = tx
            .query_row("SELECT session_id FROM messages WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(sid) = session else {
            return Ok(0);
        };
        let n = tx.execute(
            "DELETE FROM messages WHERE session_id = ?1 AND id >= ?2",
            params![sid, id],
        )?;
        tx.execute(
            "UPDATE sessions SET message_count = message_count - ?2 WHERE id = ?1",
            params![sid, n as i64],
        )?;
        tx.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{new_message, new_session, streaming};
    use super::super::types::Usage;
    use super::*;

    #[test]
    fn only_the_messages_that_could_be_sent_are_read() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("Long", 100)).unwrap();
        let mut ids = Vec::new();
        for i in 0..10 {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            ids.push(
                s.add_message(&new_message(a, role, &format!("turn {i}"), 110 + i))
                    .unwrap(),
            );
        }
        // Every message is known to be 100 tokens.
        let counts: Vec<(MessageId, u64)> = ids.iter().map(|&id| (id, 100)).collect();
        s.set_tokens(&counts).unwrap();
        let (read, older) = s.recent_messages(a, Some(250)).unwrap();
        // 300 tokens read is certainly over 250: the three newest, a question among them.
        assert_eq!(read.iter().map(|m| m.id).collect::<Vec<_>>(), ids[7..]);
        assert_eq!(older, 7);
        // Without a known size, a message counts as its bytes / MAX_TOKEN_BYTES: reading
        // goes on.
        s.set_tokens(&[(ids[9], 0)]).unwrap();
        let long = "x".repeat(2_600);
        let q = s
            .add_message(&new_message(a, Role::User, &long, 200))
            .unwrap();
        let (read, older) = s.recent_messages(a, Some(105)).unwrap();
        assert_eq!(read.first().map(|m| m.id), Some(ids[8]));
        assert_eq!(read.last().map(|m| m.id), Some(q));
        assert_eq!(older, 8);
        // No window: everything.
        let (read, older) = s.recent_messages(a, None).unwrap();
        assert_eq!((read.len(), older), (11, 0));
    }

    #[test]
    fn text_is_read_back_exactly_and_text_that_is_not_utf8_is_an_error() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        // Long enough for the SIMD check's blocks, with multi-byte characters across their
        // edges: ASCII, CJK (3 bytes), accents (2), emoji (4).
        let text = "Hotels stay within the limit. 差旅报销需要发票。é 👍\n".repeat(300);
        let id = s
            .add_message(&new_message(a, Role::User, &text, 110))
            .unwrap();
        assert_eq!(s.messages(a).unwrap()[0].content, text);
        // Bytes that are not UTF-8, written behind the store's back (a damaged file or another
        // program): an error, not a panic and not a lossy string.
        s.conn
            .execute(
                "UPDATE messages SET content = CAST(x'48e4b8ff' AS TEXT) WHERE id = ?1",
                [id],
            )
            .unwrap();
        let err = s.messages(a).unwrap_err().to_string();
        assert!(err.to_lowercase().contains("utf-8"), "{err}");
    }

    #[test]
    fn messages_round_trip_in_order() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        let other = s.create_session(&new_session("Other", 100)).unwrap();
        let sys = s
            .add_message(&new_message(a, Role::System, "Be brief.", 110))
            .unwrap();
        let user = s
            .add_message(&new_message(a, Role::User, "What is 2+2? 你好", 120))
            .unwrap();
        s.add_message(&new_message(other, Role::User, "elsewhere", 125))
            .unwrap();
        let answer = s
            .add_message(&NewMessage {
                session_id: a,
                role: Role::Assistant,
                content: "4".into(),
                status: MessageStatus::Truncated,
                model: Some("gpt-test".into()),
                now_ms: 130,
            })
            .unwrap();
        let list = s.messages(a).unwrap();
        assert_eq!(
            list.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![sys, user, answer]
        );
        assert_eq!(list[0].role, Role::System);
        assert_eq!(list[1].content, "What is 2+2? 你好");
        assert_eq!(
            list[2],
            Message {
                id: answer,
                session_id: a,
                role: Role::Assistant,
                content: "4".into(),
                status: MessageStatus::Truncated,
                error: None,
                model: Some("gpt-test".into()),
                usage: Usage::default(),
                cost_usd: None,
                ttft_ms: None,
                duration_ms: None,
                created_ms: 130,
                tokens: None,
                grounding: None,
            }
        );
        assert_eq!(s.message(user).unwrap().as_ref(), Some(&list[1]));
        assert_eq!(s.message(9999).unwrap(), None);

        // A message for a session that does not exist is refused and
        // changes nothing.
        let err = s
            .add_message(&new_message(9999, Role::User, "lost", 140))
            .unwrap_err();
        assert!(matches!(err, StoreError::SessionNotFound(9999)), "{err}");
        assert_eq!(s.list_sessions(None, false).unwrap()[0].message_count, 3);
    }

    #[test]
    fn update_partial_then_finish() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("Chat", 100)).unwrap();
        let id = s.add_message(&streaming(a, 200)).unwrap();
        assert_eq!(
            s.message(id).unwrap().unwrap().status,
            MessageStatus::Streaming
        );
        s.update_partial(id, "Hel").unwrap();
        s.update_partial(id, "Hello, wor").unwrap();
        let partial = s.message(id).unwrap().unwrap();
        assert_eq!(partial.content, "Hello, wor");
        assert_eq!(partial.status, MessageStatus::Streaming);

        let finish = MessageFinish {
            content: "Hello, world".into(),
            status: MessageStatus::Interrupted,
            error: Some("cancelled by the user".into()),
            usage: Usage {
                tokens_in: Some(120),
                tokens_cached: Some(64),
                tokens_out: Some(3),
                estimated: true,
            },
            cost_usd: Some(0.00125),
            ttft_ms: Some(350),
            duration_ms: Some(1_200),
            now_ms: 900,
        };
        s.finish_message(id, &finish).unwrap();
        let done = s.message(id).unwrap().unwrap();
        assert_eq!(
            done,
            Message {
                id,
                session_id: a,
                role: Role::Assistant,
                content: "Hello, world".into(),
                status: MessageStatus::Interrupted,
                error: Some("cancelled by the user".into()),
                model: Some("gpt-test".into()),
                usage: finish.usage,
                cost_usd: Some(0.00125),
                ttft_ms: Some(350),
                duration_ms: Some(1_200),
                created_ms: 200,
                tokens: None,
                grounding: None,
            }
        );
        assert_eq!(s.session(a).unwrap().unwrap().updated_ms, 900);

        // A late partial write does not overwrite the final text.
        s.update_partial(id, "Hello, wo").unwrap();
        assert_eq!(s.message(id).unwrap().unwrap().content, "Hello, world");

        // Mistakes are reported.
        assert!(matches!(
            s.update_partial(9999, "x"),
            Err(StoreError::MessageNotFound(9999))
        ));
        assert!(matches!(
            s.finish_message(9999, &finish),
            Err(StoreError::MessageNotFound(9999))
        ));
        let still = MessageFinish {
            status: MessageStatus::Streaming,
            ..finish
        };
        assert!(matches!(
            s.finish_message(id, &still),
            Err(StoreError::NotFinal { .. })
        ));
    }

    #[test]
    fn delete_messages_from_cuts_the_session_at_a_message() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.create_session(&new_session("A", 1)).unwrap();
        let b = s.create_session(&new_session("B", 1)).unwrap();
        let mut add = |sid, text: &str| {
            s.add_message(&NewMessage {
                session_id: sid,
                role: Role::User,
                content: text.into(),
                status: MessageStatus::Complete,
                model: None,
                now_ms: 2,
            })
            .unwrap()
        };
        let _keep = add(a, "first question");
        let cut = add(a, "second question");
        let _other = add(b, "other session's message");
        let _later = add(a, "third question");
        assert_eq!(s.delete_messages_from(cut).unwrap(), 2);
        let left: Vec<String> = s
            .messages(a)
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect();
        assert_eq!(left, vec!["first question"]);
        assert_eq!(
            s.messages(b).unwrap().len(),
            1,
            "other sessions are untouched"
        );
        assert!(s.search("third", 5, ("[", "]")).unwrap().is_empty());
        let counts: Vec<(i64, u64)> = s
            .list_sessions(None, false)
            .unwrap()
            .iter()
            .map(|x| (x.session.id, x.message_count))
            .collect();
        assert!(
            counts.contains(&(a, 1)) && counts.contains(&(b, 1)),
            "{counts:?}"
        );
        assert_eq!(s.delete_messages_from(999).unwrap(), 0);
    }
}
