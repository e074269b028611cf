//! Documents: getting text out of files ([`extract`], with the Office readers in [`office`],
//! into a [`document::Document`]), cutting long text into parts that fit the model
//! ([`chunk`]), summarising beyond the context window ([`summarize`]), and finding secrets
//! before anything is sent ([`secrets`]). Nothing here draws on the terminal, and nothing
//! writes the text it reads to disk.

pub mod chunk;
pub mod document;
pub mod extract;
#[doc(hidden)]
pub mod fixtures;
pub mod guard;
pub mod office;
pub mod secrets;
pub mod summarize;
pub mod table;
