//! Running third-party parsers where a panic is an ordinary error for that one file.
//!
//! A parser (PDF, DOCX, XLSX, PPTX, HTML, CSV) that panics on a strange file must not print over the
//! screen, drop the terminal out of raw mode, or end clerk: [`quietly`] catches the panic
//! and returns its message, and while it runs the process's panic hook ([`install`], and the
//! app's own hook, which asks [`in_quiet_section`]) says nothing and restores nothing.
//!
//! It must not hide a panic outside a parser: those still reach the hook.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, PanicHookInfo};

thread_local! {
    /// How many [`quietly`] calls are running on this thread.
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

/// Whether this thread is inside [`quietly`] (a panic here is caught and reported as the
/// file's error).
pub fn in_quiet_section() -> bool {
    QUIET.get() > 0
}

/// Run `f`; a panic inside becomes `Err` with the panic's message.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    QUIET.set(QUIET.get() + 1);
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.set(QUIET.get().saturating_sub(1));
    result.map_err(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| tr!("documents.why.internal").into_owned());
        let line = text.lines().next().unwrap_or_default();
        line.chars().take(200).collect()
    })
}

/// Wrap the process's panic hook so that panics inside [`quietly`] are silent. Call once,
/// first thing in `main`.
pub fn install() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
        if !in_quiet_section() {
            previous(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_the_section_ends() {
        let r: Result<(), String> = quietly(|| panic!("unsupported encoding UniGB-UCS2-H"));
        assert_eq!(r.unwrap_err(), "unsupported encoding UniGB-UCS2-H");
        assert!(!in_quiet_section());
        let r = quietly(|| {
            assert!(in_quiet_section());
            7
        });
        assert_eq!(r, Ok(7));
        let owned: Result<(), String> = quietly(|| panic!("{} at {}", "index out of range", 3));
        assert_eq!(owned.unwrap_err(), "index out of range at 3");
    }
}
