//! Prompt templates and workflows: the file format and its checks ([`format`]), placeholders
//! ([`placeholders`]), the library of user, team and built-in templates ([`library`]),
//! clerk's folders and new files ([`files`]), and running a template's steps ([`run`]).
//!
//! Nothing here draws or owns a terminal; the command line (`cli::templates_cmd`,
//! `cli::run_cmd`) and the app (`app::forms`, `tui`) use it.

pub mod files;
pub mod format;
pub mod library;
pub mod placeholders;
pub mod run;

pub use files::{BUILTIN, from_prompt, new_template_file, skeleton, sources};
pub use format::{
    Problem, Severity, Step, Template, VarKind, Variable, check_values, parse_template,
    render_step, render_system,
};
pub use library::{Entry, Library, Origin, Sources, read_file};

#[cfg(test)]
mod chinese;
