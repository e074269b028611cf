//! The columns the store reads, and how a row becomes a [`Session`] or a [`Message`]
//! (and a value a column holds).
//!
//! It must not run queries of its own: callers select the columns named here and hand the
//! rows over.

use rusqlite::Row;
use rusqlite::types::{Type, ValueRef};

use super::types::{Grounding, Message, MessageStatus, Role, Session, Usage};

/// Columns read by [`row_to_session`], in its order.
pub(super) const SESSION_COLUMNS: &str =
    "id, title, created_ms, updated_ms, profile, model, system_prompt, archived, pinned, knowledge";

/// Columns read by [`row_to_message`], in its order.
pub(super) const MESSAGE_COLUMNS: &str = "id, session_id, role, content, status, error, model, \
     tokens_in, tokens_cached, tokens_out, cost_usd, ttft_ms, duration_ms, created_ms, tokens, \
     usage_estimated, grounding";

/// A token count or duration as stored: values beyond i64 (never seen in
/// practice) are clamped.
pub(super) fn db_u64(value: Option<u64>) -> Option<i64> {
    value.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn get_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let value: Option<i64> = row.get(idx)?;
    value
        .map(|v| {
            u64::try_from(v).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e))
            })
        })
        .transpose()
}

pub(super) fn get_count(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(idx)?;
    u64::try_from(value)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

/// Reads a role column, failing on a name this program does not know.
pub(super) fn text_to_role(idx: usize, text: &str) -> rusqlite::Result<Role> {
    Role::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            format!("unknown message role '{text}'").into(),
        )
    })
}

/// Reads a status column, failing on a name this program does not know.
fn text_to_status(idx: usize, text: &str) -> rusqlite::Result<MessageStatus> {
    MessageStatus::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            format!("unknown message status '{text}'").into(),
        )
    })
}

/// Reads the columns of [`SESSION_COLUMNS`].
pub(super) fn row_to_session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        title: row.get(1)?,
        created_ms: row.get(2)?,
        updated_ms: row.get(3)?,
        profile: row.get(4)?,
        model: row.get(5)?,
        system_prompt: row.get(6)?,
        archived: row.get(7)?,
        pinned: row.get(8)?,
        knowledge: row.get(9)?,
    })
}

/// A text column as a `String`, its UTF-8 checked with SIMD: opening a long session reads
/// every message's text, and std's byte-by-byte check was most of that read on Chinese
/// text. Anything else (not text, not UTF-8) is left to rusqlite, for its own error.
fn get_text(row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
    match row.get_ref(idx)? {
        ValueRef::Text(bytes) => match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) => row.get(idx),
        },
        _ => row.get(idx),
    }
}

/// Reads the columns of [`MESSAGE_COLUMNS`].
pub(super) fn row_to_message(row: &Row<'_>) -> rusqlite::Result<Message> {
    let role: String = row.get(2)?;
    let status: String = row.get(4)?;
    Ok(Message {
        id: row.get(0)?,
        session_id: row.get(1)?,
        role: text_to_role(2, &role)?,
        content: get_text(row, 3)?,
        status: text_to_status(4, &status)?,
        error: row.get(5)?,
        model: row.get(6)?,
        usage: Usage {
            tokens_in: get_u64(row, 7)?,
            tokens_cached: get_u64(row, 8)?,
            tokens_out: get_u64(row, 9)?,
            estimated: row.get(15)?,
        },
        cost_usd: row.get(10)?,
        ttft_ms: get_u64(row, 11)?,
        duration_ms: get_u64(row, 12)?,
        created_ms: row.get(13)?,
        tokens: get_u64(row, 14)?,
        grounding: grounding(row.get(16)?),
    })
}

/// A grounding column's JSON as stored ([`Grounding`]); a value this program cannot read
/// (damaged, or written by a newer clerk in another shape) is left out, with a log line,
/// rather than making the whole session unreadable.
fn grounding(json: Option<String>) -> Option<Grounding> {
    let json = json?;
    match serde_json::from_str(&json) {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!(error = %e, "a message's sources cannot be read");
            None
        }
    }
}
