//! The admin's `retention_days` (docs/admin.md): when the history is opened — by a CLI
//! command or the app — sessions whose last activity is older are deleted, with their
//! messages, drafts and search rows ([`crate::store::Store::purge_before`]).
//!
//! The caller reads the clock and passes the time in. The purge is logged with its count
//! only, never a title or a word of what was deleted.

use crate::config::Policy;
use crate::store::Store;

/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Apply the policy's retention to `store` at `now_ms`: what to tell the user (how many
/// sessions were deleted, and by which rule), or `None` when there is no such rule or
/// nothing was old enough. A purge that fails is an error worded for the user (the
/// caller says it and goes on: the history is not written by a failed purge either).
pub fn apply(store: &mut Store, policy: &Policy, now_ms: i64) -> Result<Option<String>, String> {
    let Some(rule) = &policy.retention_days else {
        return Ok(None);
    };
    let days = i64::from(rule.value);
    let cutoff = now_ms.saturating_sub(days.saturating_mul(DAY_MS));
    let n = store.purge_before(cutoff).map_err(|e| {
        tracing::warn!(error = %e, days, "retention: the purge failed");
        tr!(
            "chat.retention.failed",
            days = days,
            path = rule.from.display(),
            why = e
        )
        .into_owned()
    })?;
    if n == 0 {
        return Ok(None);
    }
    tracing::info!(
        sessions = n,
        days,
        policy = %rule.from.display(),
        "retention: sessions older than the policy's retention_days were deleted"
    );
    Ok(Some(
        tr!(
            "chat.retention.deleted",
            n = n,
            days = days,
            file = rule.from.display()
        )
        .into_owned(),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::{MessageStatus, NewMessage, NewSession, Role};

    fn session(store: &mut Store, title: &str, at_ms: i64) -> i64 {
        let id = store
            .create_session(&NewSession {
                title: title.into(),
                profile: "default".into(),
                model: "m".into(),
                system_prompt: None,
                now_ms: at_ms,
            })
            .unwrap();
        store
            .add_message(&NewMessage {
                session_id: id,
                role: Role::User,
                content: format!("{title} words"),
                status: MessageStatus::Complete,
                model: None,
                now_ms: at_ms,
            })
            .unwrap();
        id
    }

    #[test]
    fn sessions_older_than_the_rule_go_and_the_user_is_told_how_many() {
        let mut store = Store::open_in_memory().unwrap();
        let now = 100 * DAY_MS;
        let old = session(&mut store, "old", now - 31 * DAY_MS);
        let recent = session(&mut store, "recent", now - 29 * DAY_MS);
        // No rule: nothing happens.
        assert_eq!(apply(&mut store, &Policy::default(), now), Ok(None));
        assert!(store.session(old).unwrap().is_some());
        let mut policy = Policy::default();
        policy.tighten(
            crate::config::policy::PolicyFile {
                retention_days: Some(30),
                ..Default::default()
            },
            std::path::Path::new("/etc/clerk/policy.toml"),
        );
        let said = apply(&mut store, &policy, now).unwrap().unwrap();
        assert!(
            said.starts_with("1 session(s) with no activity for 30 days were deleted")
                && said.ends_with("(retention_days in /etc/clerk/policy.toml)"),
            "{said}"
        );
        assert!(store.session(old).unwrap().is_none());
        assert!(store.session(recent).unwrap().is_some());
        // Nothing more to delete: nothing said.
        assert_eq!(apply(&mut store, &policy, now), Ok(None));
    }
}
