//! Answering about documents longer than the model's window ("map-reduce"): split each
//! document along its structure into parts that fit ([`super::chunk`]), take notes on the
//! parts concurrently (a bounded number at a time; every request has the engine's retries),
//! merge the notes in rounds while they are still too long, then send the final request with
//! the notes standing in for the documents.
//!
//! The pure half ([`measure`], [`keep_first`], [`strategy`], [`estimate`], the prompt
//! builders) does no IO and is unit-tested; [`run`] is the async edge. Nothing here writes
//! the text to disk or prints: progress goes out on a channel.
//!
//! One job per file: `plan.rs` measures the documents and decides how to send them (settings,
//! strategy, estimate); `prompts.rs` builds the text the model receives (documents, notes
//! requests, notes); `progress.rs` says where a run is, in one line; `run.rs` carries a run
//! out. This file only names the parts; everything is used through the paths re-exported here.

mod plan;
mod progress;
mod prompts;
mod run;

pub use self::plan::{
    Estimate, Measured, Part, Settings, Strategy, estimate, keep_first, measure, measure_all,
    recent_turns, strategy,
};
pub use self::progress::{Phase, Progress, progress_line};
pub use self::prompts::{
    MERGE_SYSTEM, NOTES_SYSTEM, Note, compose, document_block, documents_text, final_documents,
    is_built_from_parts, notes_prompt, notes_text, part_label, part_shown,
};
pub use self::run::{Done, Event, Job, RunError, run, run_as_answer};
