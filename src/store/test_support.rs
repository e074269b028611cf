//! Values the store's tests build their sessions and messages from (test builds only).
//!
//! Only plain constructors live here: no assertions, and nothing that touches a database.

use super::types::{MessageStatus, NewMessage, NewSession, Role, SessionId};

pub(super) fn new_session(title: &str, now_ms: i64) -> NewSession {
    NewSession {
        title: title.into(),
        profile: "work".into(),
        model: "gpt-test".into(),
        system_prompt: Some("Be brief.".into()),
        now_ms,
    }
}

pub(super) fn new_message(
    session_id: SessionId,
    role: Role,
    text: &str,
    now_ms: i64,
) -> NewMessage {
    NewMessage {
        session_id,
        role,
        content: text.into(),
        status: MessageStatus::Complete,
        model: None,
        now_ms,
    }
}

pub(super) fn streaming(session_id: SessionId, now_ms: i64) -> NewMessage {
    NewMessage {
        session_id,
        role: Role::Assistant,
        content: String::new(),
        status: MessageStatus::Streaming,
        model: Some("gpt-test".into()),
        now_ms,
    }
}
