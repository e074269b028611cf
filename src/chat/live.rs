//! An answer's text while it streams: one string, written by the driver and read by
//! whoever shows it.
//!
//! The driver appends each delta here and saves from here; the app's state holds a handle
//! to the same string and draws from it, so a streamed token lives in one string, not in a
//! copy the driver keeps for saving and another the screen keeps for drawing. When the
//! answer ends, the caller gets the text (moved when no one else holds it, else copied
//! once: the app's screen keeps showing it until the end reaches the state).

use std::sync::{Arc, Mutex, MutexGuard};

/// A streaming answer's text, shared by the driver and a reader (see the module).
#[derive(Debug, Clone, Default)]
pub struct LiveText(Arc<Mutex<String>>);

impl LiveText {
    /// An empty text.
    pub fn new() -> Self {
        LiveText::default()
    }

    fn lock(&self) -> MutexGuard<'_, String> {
        // A panic while holding the lock leaves a whole string: keep using it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends a delta.
    pub fn push(&self, delta: &str) {
        self.lock().push_str(delta);
    }

    /// Reads the text (the lock is held while `read` runs: keep it short).
    pub fn with<R>(&self, read: impl FnOnce(&str) -> R) -> R {
        read(&self.lock())
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing arrived yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text at the end: moved out when this is the only handle, else copied (a reader
    /// still draws it).
    pub fn finish(&self) -> String {
        let mut text = self.lock();
        match Arc::strong_count(&self.0) {
            1 => std::mem::take(&mut *text),
            _ => text.clone(),
        }
    }
}

/// Two handles are equal when they share one text.
impl PartialEq for LiveText {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_share_one_text_and_the_end_moves_it_when_alone() {
        let writer = LiveText::new();
        let reader = writer.clone();
        writer.push("Hel");
        writer.push("lo");
        assert_eq!(reader.with(str::to_owned), "Hello");
        assert_eq!(reader, writer);
        assert_ne!(reader, LiveText::new());
        // Someone still reads: the end copies.
        assert_eq!(writer.finish(), "Hello");
        assert_eq!(reader.len(), 5);
        drop(reader);
        // Alone: moved out.
        assert_eq!(writer.finish(), "Hello");
        assert!(writer.is_empty());
    }
}
