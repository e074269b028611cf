//! Test support shared by the integration tests: a misbehaving OpenAI-compatible server.
#![allow(dead_code)]
pub mod env;
pub mod net;
pub mod server;
