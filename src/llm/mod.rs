//! Talking to models: requests, streaming, retries, errors, context fitting, and making
//! model text safe for a terminal.
//!
//! The pure parts ([`sse`], [`answer`], [`retry`], [`sanitize`], [`context`]) do no IO and are
//! unit-tested on their own; [`client`] and [`stream`] are the thin IO edge.

pub mod answer;
pub mod client;
pub mod context;
pub mod error;
pub mod estimate;
pub mod meter;
pub mod o200k;
pub mod reason;
pub mod retry;
pub mod sanitize;
pub mod sse;
pub mod stream;
pub mod trust;

pub use answer::{AnswerStatus, TokenUsage};
pub use client::{Endpoint, RetryNotice};
pub use error::{ErrorClass, LlmError};
pub use stream::{Answer, ChatMessage, ChatRequest, ChatRole, EngineEvent, run_chat};
