//! The meter: every chat request an [`Endpoint`](super::Endpoint) sends is shown to it
//! before it goes out (it may refuse: a budget is reached) and when it ends — finished,
//! failed, or dropped half-way (a stopped answer, an aborted part) — with the server's
//! token counts, or clerk's estimate of the prompt and of the text that arrived, marked so.
//!
//! Being in the engine, it sees every request whatever made it (an answer, a part of a
//! long document, a workflow step, a restatement, a title, a comparison): what it was for
//! is the endpoint's [`Tag`]. The meter itself (`chat::meter` keeps the usage ledger and
//! checks the budgets) is passed in; this module does no IO.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::TokenUsage;

/// What a request is for, for the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tag {
    /// `answer`, `part`, `merge`, `step`, `restate`, `title`, `compare`, `judge`, `embed`.
    pub kind: &'static str,
    /// The session it belongs to.
    pub session: Option<i64>,
    /// The template that made it.
    pub template: Option<String>,
    /// The knowledge base it answers from.
    pub knowledge: Option<String>,
}

impl Tag {
    /// A tag of `kind` and nothing else.
    pub fn of(kind: &'static str) -> Tag {
        Tag {
            kind,
            ..Tag::default()
        }
    }
}

/// A request as it ended, for the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Metered {
    /// What it was for.
    pub tag: Tag,
    /// The model asked.
    pub model: String,
    /// Prompt, cached and completion tokens.
    pub usage: TokenUsage,
    /// The counts are clerk's estimate (the server sent none).
    pub estimated: bool,
    /// `complete`, `truncated`, `interrupted`, `error`.
    pub status: &'static str,
}

/// Sees every request (see the module's documentation).
pub trait Meter: Send + Sync + std::fmt::Debug {
    /// Before sending: `Err` (what to tell the user) refuses the request. `prompt_tokens`
    /// is estimated; `max_output` is the most the answer may take.
    fn allow(
        &self,
        tag: &Tag,
        model: &str,
        prompt_tokens: u64,
        max_output: u64,
    ) -> Result<(), String>;

    /// When the request ended, however it ended.
    fn record(&self, request: Metered);
}

/// Records a request exactly once: when it is finished, or — when the future that runs it
/// is dropped first (a stopped answer) — with the estimated prompt and the text that had
/// arrived.
#[derive(Debug)]
pub(crate) struct Reading {
    meter: Option<Arc<dyn Meter>>,
    tag: Tag,
    model: String,
    prompt_estimate: u64,
    /// Estimated tokens of the text received so far.
    pub received: AtomicU64,
    done: bool,
}

impl Reading {
    /// A request to `model`, its prompt estimated at `prompt_estimate` tokens.
    pub fn new(meter: Option<Arc<dyn Meter>>, tag: Tag, model: &str, prompt_estimate: u64) -> Self {
        Reading {
            meter,
            tag,
            model: model.to_string(),
            prompt_estimate,
            received: AtomicU64::new(0),
            done: false,
        }
    }

    /// Text arrived.
    pub fn text(&self, delta: &str) {
        self.received
            .fetch_add(super::estimate::rough_tokens(delta), Ordering::Relaxed);
    }

    /// The request ended: with the server's usage, or estimated when it sent none.
    pub fn finish(&mut self, usage: Option<TokenUsage>, status: &'static str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let Some(meter) = &self.meter else { return };
        let (usage, estimated) = match usage {
            Some(u) => (u, false),
            None => (self.estimate(), true),
        };
        meter.record(Metered {
            tag: self.tag.clone(),
            model: self.model.clone(),
            usage,
            estimated,
            status,
        });
    }

    fn estimate(&self) -> TokenUsage {
        TokenUsage {
            input: self.prompt_estimate,
            cached: 0,
            output: self.received.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        // Dropped before it finished: the request was stopped or aborted; what was sent
        // and what arrived are still paid for.
        self.finish(None, "interrupted");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A meter that keeps what it saw and refuses when told to.
    #[derive(Debug, Default)]
    pub struct Seen {
        pub allowed: Mutex<Vec<(Tag, String, u64)>>,
        pub recorded: Mutex<Vec<Metered>>,
        pub refuse: Option<String>,
    }

    impl Meter for Seen {
        fn allow(&self, tag: &Tag, model: &str, prompt: u64, _: u64) -> Result<(), String> {
            self.allowed
                .lock()
                .unwrap()
                .push((tag.clone(), model.to_string(), prompt));
            self.refuse.clone().map_or(Ok(()), Err)
        }

        fn record(&self, request: Metered) {
            self.recorded.lock().unwrap().push(request);
        }
    }

    #[test]
    fn a_reading_records_once_and_a_dropped_one_is_estimated() {
        let seen = Arc::new(Seen::default());
        let usage = TokenUsage {
            input: 10,
            cached: 2,
            output: 5,
        };
        let mut r = Reading::new(Some(seen.clone()), Tag::of("answer"), "m", 40);
        r.finish(Some(usage), "complete");
        drop(r);
        {
            let rec = seen.recorded.lock().unwrap();
            assert_eq!(rec.len(), 1, "finished, then dropped: one record");
            assert_eq!((rec[0].usage, rec[0].estimated), (usage, false));
        }
        let r = Reading::new(Some(seen.clone()), Tag::of("part"), "m", 40);
        r.text("twelve chars");
        drop(r);
        let rec = seen.recorded.lock().unwrap();
        assert_eq!(rec[1].status, "interrupted");
        assert!(rec[1].estimated);
        assert_eq!((rec[1].usage.input, rec[1].usage.output), (40, 3));
        assert_eq!(rec[1].tag.kind, "part");
    }
}
