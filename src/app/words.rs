//! Words that the app's notices and the screens both show, in the interface's language (the
//! catalogs in `locales/app-*.yml`). The store's own names (`MessageStatus::as_str`) are
//! machine words written to the database and the `--json` output: they stay English, so
//! what a person reads is looked up here instead.

use std::borrow::Cow;

use crate::store::MessageStatus;

/// What a person reads for an answer's status ("interrupted", "中断").
pub fn status_name(status: MessageStatus) -> Cow<'static, str> {
    match status {
        MessageStatus::Complete => tr!("app.status_name.complete"),
        MessageStatus::Streaming => tr!("app.status_name.streaming"),
        MessageStatus::Interrupted => tr!("app.status_name.interrupted"),
        MessageStatus::Truncated => tr!("app.status_name.truncated"),
        MessageStatus::Error => tr!("app.status_name.error"),
    }
}
