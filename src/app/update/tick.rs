//! Time passing (`Msg::Tick`): notices expire, undo windows close, and a deleted session or
//! message whose undo time is over is deleted for good.
//!
//! Pure: the time comes in the message; never read the clock, do IO or await here.

use crate::app::{App, Effect};

/// Time is now `now` (ms): drop what has expired.
pub(super) fn on_tick(app: &mut App, now: i64, fx: &mut Vec<Effect>) {
    app.now_ms = now;
    if app.notice.as_ref().is_some_and(|n| n.until_ms <= now) {
        app.notice = None;
        if let Some((text, level)) = app.queued_notices.pop_front() {
            app.notice(text, level);
        }
    }
    if app.removed_paste.as_ref().is_some_and(|(_, at)| *at <= now) {
        app.removed_paste = None;
    }
    if app
        .pending_message
        .as_ref()
        .is_some_and(|p| p.until_ms <= now)
    {
        app.commit_pending_message(fx);
    }
    if let Some((entry, at)) = &app.pending_delete
        && *at <= now
    {
        fx.push(Effect::Delete(entry.id));
        app.sessions.retain(|s| s.id != entry.id);
        app.pending_delete = None;
        fx.push(Effect::LoadSessions);
    }
}
