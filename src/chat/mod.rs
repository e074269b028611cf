//! One answer's life, written once and used by `clerk ask`, `clerk run`, `clerk summarize`
//! and the full-screen app alike.
//!
//! - [`conversation`]: what is sent — the stored rows as a conversation, the room kept for
//!   the answer, fitting it into the window with the token counts kept with the messages,
//!   and the notice when turns are left out;
//! - [`drive`]: one loop that drives a stream to its end with a stop signal, showing the
//!   text through a [`Sink`] and keeping it through a [`Saver`];
//! - [`live`]: the text while it streams, one string the driver writes and a reader draws;
//! - [`record`]: how an answer ended, its usage and cost, as the store keeps them;
//! - [`budget`] and [`meter`]: the budgets (the user's and the admin policy's) checked
//!   before each request, and the usage ledger;
//! - [`retention`]: the admin policy's `retention_days`, applied when the history opens.
//!
//! This layer sits above `llm` and `store` and below `documents`, `templates`, the app and
//! the CLI. It must not import `app`, `ui`, `tui` or `cli`, print, or draw: callers decide
//! how text is shown (a terminal, the app's state) and where it is kept (the store
//! directly, or the app's store thread).

pub mod budget;
pub mod conversation;
pub mod drive;
pub mod live;
pub mod meter;
pub mod record;
pub mod retention;

pub use conversation::Conversation;
pub use drive::{Driven, End, NoSave, Saver, Sink, drive, now_ms};
pub use live::LiveText;

use crate::store::{MessageFinish, MessageId, Store};

/// The store as a [`Saver`] of one answer row (the CLI's; the app saves through its store
/// thread).
#[derive(Debug)]
pub struct RowSaver<'s> {
    /// The store.
    pub store: &'s mut Store,
    /// The answer's row.
    pub answer_id: MessageId,
}

impl Saver for RowSaver<'_> {
    fn partial(&mut self, text: &str) -> Result<(), String> {
        self.store
            .update_partial(self.answer_id, text)
            .map_err(|e| e.to_string())
    }

    fn finish(&mut self, record: &MessageFinish) -> Result<(), String> {
        self.store
            .finish_message(self.answer_id, record)
            .map_err(|e| e.to_string())
    }
}
