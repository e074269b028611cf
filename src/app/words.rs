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

/// What a person reads for a heading of the session list ([`ListRow::Heading`] names the
/// group in English: "Pinned", "Today", "Yesterday", "Previous 7 days", "Older").
///
/// [`ListRow::Heading`]: super::ListRow::Heading
pub fn group_name(group: &str) -> Cow<'static, str> {
    match group {
        "Pinned" => tr!("app.group.pinned"),
        "Today" => tr!("app.group.today"),
        "Yesterday" => tr!("app.group.yesterday"),
        "Previous 7 days" => tr!("app.group.week"),
        "Older" => tr!("app.group.older"),
        other => Cow::Owned(other.to_string()),
    }
}

/// What a person reads for how a copy was done (`Msg::Copied` carries the runtime's
/// English name of the way: "system clipboard", "tmux buffer …").
pub fn clipboard_name(how: &str) -> Cow<'static, str> {
    match how {
        "system clipboard" => tr!("app.clipboard.system"),
        "tmux buffer and terminal clipboard" => tr!("app.clipboard.tmux_and_terminal"),
        "tmux buffer (prefix ] pastes it)" => tr!("app.clipboard.tmux"),
        "terminal clipboard, OSC 52" => tr!("app.clipboard.osc52"),
        "tmux buffer only (prefix ] pastes it); for the system clipboard: tmux set -g set-clipboard on" =>
        {
            tr!("app.clipboard.tmux_only")
        }
        other => Cow::Owned(other.to_string()),
    }
}
