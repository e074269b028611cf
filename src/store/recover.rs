//! Recovery at open: answers left streaming by a clerk that was killed are marked
//! interrupted, with what they had so far, and made searchable.
//!
//! It must not cut off an answer whose writer still runs (another clerk may be streaming
//! it), and must not take a write lock when there is nothing to recover.

use std::fs;
use std::path::Path;

use rusqlite::{Connection, TransactionBehavior, params};

use super::StoreError;
use super::search;
use super::types::MessageId;

/// The reason recorded on an answer that was still streaming when clerk
/// stopped; it is turned into an interrupted message at the next open. Saved in English
/// whatever the language (the catalog's `store.reason.recovered`); people read it through
/// `chat::record::shown_reason`.
pub const RECOVERY_REASON: &str = "clerk stopped before the answer finished";

/// Whether the process that is streaming an answer still runs. Another clerk
/// (a second window, a `clerk ask` in another terminal) may be writing while
/// this one opens the database: its answer must not be marked interrupted.
/// On Linux this asks /proc (and checks the process is a clerk, against pid
/// reuse); elsewhere a writer is assumed gone, the safe side for a crash.
fn writer_alive(pid: Option<i64>) -> bool {
    let Some(pid) = pid else { return false };
    if pid == i64::from(std::process::id()) {
        return true;
    }
    let comm = Path::new("/proc").join(pid.to_string()).join("comm");
    match fs::read_to_string(comm) {
        Ok(name) => name.trim().starts_with("clerk"),
        Err(_) => false,
    }
}

/// Marks answers left streaming by a killed clerk as interrupted and indexes
/// them; returns how many there were. Answers whose writer still runs are
/// left alone.
pub(super) fn recover(conn: &mut Connection) -> Result<usize, StoreError> {
    // A cheap read first (partial index), so a normal open takes no write lock.
    let any: bool = conn
        .prepare("SELECT 1 FROM messages WHERE status = 'streaming'")?
        .exists([])?;
    if !any {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stuck = {
        let mut stmt =
            tx.prepare("SELECT id, content, writer_pid FROM messages WHERE status = 'streaming'")?;
        stmt.query_map([], |row| {
            Ok((
                row.get::<_, MessageId>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<i64>>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|(_, _, pid)| !writer_alive(*pid))
        .map(|(id, content, _)| (id, content))
        .collect::<Vec<_>>()
    };
    for (id, content) in &stuck {
        tx.execute(
            "UPDATE messages SET status = 'interrupted', error = ?2 WHERE id = ?1",
            params![id, RECOVERY_REASON],
        )?;
        search::index_message(&tx, *id, content)?;
    }
    tx.commit()?;
    Ok(stuck.len())
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::super::test_support::{new_session, streaming};
    use super::super::types::{MessageFinish, MessageStatus, Usage};
    use super::*;

    #[test]
    fn streaming_message_is_recovered_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let (session, id, done) = {
            let mut s = Store::open(&path).unwrap();
            assert_eq!(s.recovered(), 0);
            let session = s.create_session(&new_session("Chat", 100)).unwrap();
            let done = s.add_message(&streaming(session, 200)).unwrap();
            s.finish_message(
                done,
                &MessageFinish {
                    content: "finished answer".into(),
                    status: MessageStatus::Complete,
                    error: None,
                    usage: Usage::default(),
                    cost_usd: None,
                    ttft_ms: None,
                    duration_ms: None,
                    now_ms: 250,
                },
            )
            .unwrap();
            let id = s.add_message(&streaming(session, 300)).unwrap();
            s.update_partial(id, "The expense policy says").unwrap();
            assert!(s.search("expense", 10, ("[", "]")).unwrap().is_empty());
            (session, id, done)
            // Dropped without finishing, as if clerk had been killed.
        };
        // While its writer (this very process) still runs, the answer is left alone:
        // another clerk opening the database must not cut a live answer off.
        assert_eq!(Store::open(&path).unwrap().recovered(), 0);
        // Now the writer is gone (a pid no process has).
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE messages SET writer_pid = 2147483646 WHERE id = ?1",
                [id],
            )
            .unwrap();
        let s = Store::open(&path).unwrap();
        assert_eq!(s.recovered(), 1);
        let m = s.message(id).unwrap().unwrap();
        assert_eq!(m.status, MessageStatus::Interrupted);
        assert_eq!(m.error.as_deref(), Some(RECOVERY_REASON));
        assert_eq!(m.content, "The expense policy says");
        assert_eq!(
            s.message(done).unwrap().unwrap().status,
            MessageStatus::Complete
        );
        let hits = s.search("expense", 10, ("[", "]")).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].message_id, id);
        assert_eq!(hits[0].session_id, session);
        drop(s);
        // Nothing left to recover the next time.
        assert_eq!(Store::open(&path).unwrap().recovered(), 0);
    }
}
