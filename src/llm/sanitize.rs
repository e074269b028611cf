//! Make model output inert before it reaches a terminal.
//!
//! Text produced by a model is printed to a real terminal, so it must never be
//! able to drive that terminal: no colours, no cursor movement, no alternate
//! screen, no window titles, no clipboard writes (OSC 52), no hyperlinks, no
//! device-control strings. This module removes every C0 control except `\n`
//! and `\t`, DEL, every C1 control, and whole escape sequences (CSI, OSC, DCS,
//! APC, PM, SOS and the short `ESC x` forms), including their parameters and
//! payload. It also removes the bidirectional embedding, override and isolate
//! controls (U+202A–U+202E, U+2066–U+2069: "trojan source" text that reads
//! differently from what it is) and the invisible tag characters
//! (U+E0000–U+E007F), except inside an emoji tag sequence (the flags of
//! England, Scotland and Wales: U+1F3F4 followed by tags). Everything
//! printable, including CJK, emoji, ZWJ sequences and combining marks, passes
//! through unchanged.
//!
//! What it must not do: it never rewrites, reorders or adds printable text,
//! and it is only for display. The original text is stored elsewhere,
//! untouched; never feed the sanitized form back to the model or into storage.
//!
//! [`Sanitizer`] handles streamed deltas: an escape sequence may be split
//! across pushes at any character boundary, and feeding any split of a text
//! gives exactly what [`sanitize`] gives for the whole text. Output never
//! contains a control character, so nothing it prints can start or continue
//! a terminal sequence.
//!
//! An unterminated string sequence (OSC, DCS, APC, PM, SOS) is held while
//! pending, but it ends at a line break (no terminal string has one) and its
//! payload is capped at [`MAX_STRING_PAYLOAD`] bytes: past either, the sequence
//! is abandoned (the payload so far is dropped) and the following text is
//! printed normally, so one stray `ESC ]` hides at most the rest of its line.

/// Largest payload (in UTF-8 bytes) of an OSC/DCS/APC/PM/SOS string that is
/// held while waiting for its terminator. The byte that would exceed it
/// abandons the sequence and is handled as normal text.
pub const MAX_STRING_PAYLOAD: usize = 4096;

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
/// 8-bit String Terminator.
const ST8: char = '\u{9c}';

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Normal text.
    #[default]
    Ground,
    /// Saw ESC.
    Escape,
    /// Saw ESC followed by intermediate bytes (0x20–0x2F), waiting for the final byte.
    EscapeIntermediate,
    /// Inside a control sequence (after `ESC [` or U+009B).
    Csi,
    /// Inside an OSC/DCS/APC/PM/SOS string; `len` is the payload size in bytes so far.
    Str { len: usize },
    /// Saw ESC inside a string: `\` completes ST, anything else starts a new escape.
    StrEscape,
}

/// Streaming sanitizer: keeps the state of a sequence split across deltas.
#[derive(Debug, Default, Clone)]
pub struct Sanitizer {
    state: State,
    /// The last character written was U+1F3F4 or a tag character kept after it.
    in_flag: bool,
}

impl Sanitizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next piece of streamed text; append the printable part to `out`.
    pub fn push_into(&mut self, input: &str, out: &mut String) {
        let bytes = input.as_bytes();
        let mut i = 0;
        if self.state == State::Ground {
            match first_special(bytes) {
                // Fast path: nothing to change.
                None => {
                    self.wrote(input);
                    out.push_str(input);
                    return;
                }
                Some(pos) => {
                    self.wrote(&input[..pos]);
                    out.push_str(&input[..pos]);
                    i = pos;
                }
            }
        }
        while i < input.len() {
            if self.state == State::Ground {
                // Copy the clean run in one go. Special bytes are ASCII or a
                // lead byte (0xC2, 0xE2, 0xF3), so `end` is always a char boundary.
                let end = first_special(&bytes[i..]).map_or(input.len(), |p| i + p);
                self.wrote(&input[i..end]);
                out.push_str(&input[i..end]);
                i = end;
                if i >= input.len() {
                    break;
                }
            }
            let Some(c) = input[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            self.step(c, out);
        }
    }

    /// Convenience wrapper returning a new String.
    pub fn push(&mut self, input: &str) -> String {
        let mut out = String::with_capacity(input.len());
        self.push_into(input, &mut out);
        out
    }

    /// End of stream: whatever is still pending (an unterminated sequence) is
    /// dropped; returns text that is safe (usually empty). Resets state.
    ///
    /// Pending state never holds printable text, so this currently always
    /// returns an empty string.
    pub fn finish(&mut self) -> String {
        self.state = State::Ground;
        String::new()
    }

    /// Remember whether `run` (written as it is) ends inside an emoji flag.
    fn wrote(&mut self, run: &str) {
        if let Some(last) = run.chars().next_back() {
            self.in_flag = last == FLAG;
        }
    }

    /// Process one character that is not part of a clean run.
    fn step(&mut self, c: char, out: &mut String) {
        // Each `continue` re-handles `c` in a state closer to Ground, so this
        // loops at most three times.
        loop {
            match self.state {
                State::Ground => {
                    match c {
                        ESC => self.state = State::Escape,
                        '\u{9b}' => self.state = State::Csi,
                        // OSC, DCS, SOS, PM, APC.
                        '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => {
                            self.state = State::Str { len: 0 };
                        }
                        c if is_removed_control(c) || is_bidi_control(c) => {}
                        c if is_tag(c) => {
                            // Kept only inside an emoji tag sequence; the cancel tag
                            // ends it.
                            if self.in_flag {
                                out.push(c);
                                self.in_flag = c != '\u{e007f}';
                            }
                        }
                        c => {
                            out.push(c);
                            self.in_flag = c == FLAG;
                        }
                    }
                    return;
                }
                State::Escape => {
                    match c {
                        '[' => self.state = State::Csi,
                        // OSC, DCS, APC, PM, SOS.
                        ']' | 'P' | '_' | '^' | 'X' => self.state = State::Str { len: 0 },
                        '\u{20}'..='\u{2f}' => self.state = State::EscapeIntermediate,
                        '\u{30}'..='\u{7e}' => self.state = State::Ground,
                        _ => {
                            // Not an escape sequence: ESC is dropped, `c` is
                            // handled normally (another ESC restarts).
                            self.state = State::Ground;
                            continue;
                        }
                    }
                    return;
                }
                State::EscapeIntermediate => {
                    match c {
                        '\u{20}'..='\u{2f}' => {}
                        '\u{30}'..='\u{7e}' => self.state = State::Ground,
                        _ => {
                            self.state = State::Ground;
                            continue;
                        }
                    }
                    return;
                }
                State::Csi => {
                    match c {
                        // Parameter and intermediate bytes.
                        '\u{20}'..='\u{3f}' => {}
                        // Final byte.
                        '\u{40}'..='\u{7e}' => self.state = State::Ground,
                        _ => {
                            // Broken sequence: it ends here, `c` is normal text.
                            self.state = State::Ground;
                            continue;
                        }
                    }
                    return;
                }
                State::Str { len } => {
                    match c {
                        BEL | ST8 => self.state = State::Ground,
                        // No terminal string holds a line break: the sequence was
                        // never going to end; the line break is text.
                        '\n' => {
                            self.state = State::Ground;
                            continue;
                        }
                        ESC => self.state = State::StrEscape,
                        _ => {
                            let len = len + c.len_utf8();
                            if len > MAX_STRING_PAYLOAD {
                                // Abandon: payload so far is dropped, `c` and
                                // what follows are normal text.
                                self.state = State::Ground;
                                continue;
                            }
                            self.state = State::Str { len };
                        }
                    }
                    return;
                }
                State::StrEscape => {
                    if c == '\\' {
                        self.state = State::Ground;
                        return;
                    }
                    // The ESC ends the string and starts a new escape, as in
                    // terminals; `c` is its next character.
                    self.state = State::Escape;
                }
            }
        }
    }
}

/// One-shot: sanitize a complete text.
pub fn sanitize(text: &str) -> String {
    if is_clean(text) {
        return text.to_owned();
    }
    let mut sanitizer = Sanitizer::new();
    let mut out = String::with_capacity(text.len());
    sanitizer.push_into(text, &mut out);
    out.push_str(&sanitizer.finish());
    out
}

/// True when `text` contains nothing the sanitizer would change (fast check).
pub fn is_clean(text: &str) -> bool {
    first_special(text.as_bytes()).is_none()
}

/// Controls removed from the output: C0 except `\n` and `\t`, DEL, C1.
/// U+1F3F4 WAVING BLACK FLAG, which tag characters follow in subdivision flags.
const FLAG: char = '\u{1f3f4}';

/// Bidirectional embedding, override and isolate controls.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Tag characters (invisible; they can carry hidden text).
fn is_tag(c: char) -> bool {
    matches!(c, '\u{e0000}'..='\u{e007f}')
}

fn is_removed_control(c: char) -> bool {
    matches!(c, '\u{00}'..='\u{08}' | '\u{0b}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Byte offset of the first byte that starts a character the sanitizer acts
/// on: a C0 control other than `\n`/`\t`, DEL, or a C1 control (encoded as
/// 0xC2 0x80..=0x9F). The offset is always a char boundary.
fn first_special(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' | b'\t' => {}
            0x00..=0x1f | 0x7f => return Some(i),
            0xc2 => {
                if let Some(0x80..=0x9f) = bytes.get(i + 1) {
                    return Some(i);
                }
            }
            // U+202A–U+202E (E2 80 AA–AE) and U+2066–U+2069 (E2 81 A6–A9).
            0xe2 => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(0x80), Some(0xaa..=0xae)) | (Some(0x81), Some(0xa6..=0xa9)) => {
                    return Some(i);
                }
                _ => {}
            },
            // U+E0000–U+E007F (F3 A0 80 80 – F3 A0 81 BF).
            0xf3 if bytes.get(i + 1) == Some(&0xa0)
                && matches!(bytes.get(i + 2), Some(0x80 | 0x81)) =>
            {
                return Some(i);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, input, expected)
    fn cases() -> Vec<(&'static str, String, String)> {
        let s = |name: &'static str, input: &str, expected: &str| {
            (name, input.to_owned(), expected.to_owned())
        };
        // Unterminated OSC longer than the cap: "52;c;" (5 bytes) plus 4091
        // 'A's fill the 4096-byte payload; the next byte abandons it, so the
        // remaining 'A's and the text after them are printed.
        let long_osc = format!("\x1b]52;c;{}visible\n", "A".repeat(5000));
        let long_osc_expected = format!("{}visible\n", "A".repeat(5000 - 4091));
        // Exactly at the cap and then terminated: the whole sequence goes.
        let full_osc = format!("a\x1b]{}\x07b", "B".repeat(MAX_STRING_PAYLOAD));
        // A multi-byte char that would straddle the cap abandons the sequence
        // and is printed whole.
        let straddle = format!("\x1b]{}é\x07z", "C".repeat(MAX_STRING_PAYLOAD - 1));
        vec![
            s(
                "plain ascii",
                "Hello, world! 1 + 1 = 2 [ok] ~_^",
                "Hello, world! 1 + 1 = 2 [ok] ~_^",
            ),
            s(
                "cjk emoji zwj combining",
                "你好，世界 🎉 👩\u{200d}👩\u{200d}👧 e\u{301} \u{a0}nbsp ñ",
                "你好，世界 🎉 👩\u{200d}👩\u{200d}👧 e\u{301} \u{a0}nbsp ñ",
            ),
            s("newline and tab kept", "a\nb\tc\n\n", "a\nb\tc\n\n"),
            s("cr bel bs nul removed", "a\rb\x07c\x08d\0e", "abcde"),
            s(
                "vt ff and other c0 removed",
                "a\x0bb\x0cc\x01d\x1fe\x18f\x1ag",
                "abcdefg",
            ),
            s("del removed", "a\x7fb", "ab"),
            s("c1 nel removed", "a\u{85}b", "ab"),
            s("c1 st alone removed", "a\u{9c}b\u{80}c\u{9a}d", "abcd"),
            s(
                "sgr colors",
                "\x1b[31mred\x1b[0m \x1b[1;38;5;196mX\x1b[m",
                "red X",
            ),
            s("cursor movement", "\x1b[2;5Hx\x1b[3Ay\x1b[10D", "xy"),
            s(
                "csi with intermediates",
                "a\x1b[2 qb\x1b[!pc\x1b[0\"qd",
                "abcd",
            ),
            s("alt screen", "\x1b[?1049hhi\x1b[?1049l", "hi"),
            s("clear screen", "\x1b[2J\x1b[Hok", "ok"),
            s("osc 0 title bel", "\x1b]0;pwned\x07after", "after"),
            s("osc 2 title st", "\x1b]2;pwned\x1b\\after", "after"),
            s("osc 52 bel", "x\x1b]52;c;aGVsbG8=\x07y", "xy"),
            s("osc 52 st", "x\x1b]52;c;aGVsbG8=\x1b\\y", "xy"),
            s("osc 52 8-bit", "x\u{9d}52;c;aGVsbG8=\u{9c}y", "xy"),
            s(
                "osc 8 hyperlink",
                "see \x1b]8;;http://x\x1b\\text\x1b]8;;\x1b\\!",
                "see text!",
            ),
            s("dcs", "\x1bP1$r0m\x1b\\ok", "ok"),
            s("dcs 8-bit sixel", "\u{90}q#0;2;0;0;0\u{9c}ok", "ok"),
            s("dcs bel", "\x1bPpayload\x07ok", "ok"),
            s("apc kitty graphics", "\x1b_Gf=100;AAAA\x1b\\ok", "ok"),
            s("apc 8-bit", "\u{9f}payload\u{9c}ok", "ok"),
            s("pm", "\x1b^secret\x1b\\ok", "ok"),
            s("sos", "\x1bXsos\x07ok\u{98}more\u{9c}!", "ok!"),
            s("csi 8-bit", "\u{9b}31mred\u{9b}2J", "red"),
            s(
                "two-char escapes",
                "a\x1bcb\x1b7c\x1b8d\x1b=e\x1b>f\x1bMg",
                "abcdefg",
            ),
            s("esc intermediate", "\x1b(Bx\x1b#8y\x1b%Gz\x1b ( 0w", "xyzw"),
            s("unterminated osc dropped", "text\x1b]0;title", "text"),
            s("unterminated dcs dropped", "text\x1bPq#1;2", "text"),
            s("lone esc at end dropped", "abc\x1b", "abc"),
            s("csi at end dropped", "abc\x1b[12;", "abc"),
            ("unterminated osc over cap", long_osc, long_osc_expected),
            ("osc exactly at cap", full_osc, "ab".to_owned()),
            ("multi-byte char straddling cap", straddle, "éz".to_owned()),
            s("csi interrupted by newline", "\x1b[31\nnext", "\nnext"),
            s("csi interrupted by non-ascii", "\x1b[12é", "é"),
            s("csi interrupted by esc", "\x1b[1\x1b[2Jx", "x"),
            s("csi interrupted by control", "\x1b[1\x07x", "x"),
            s("esc followed by non-ascii", "\x1bé", "é"),
            s("esc followed by newline", "a\x1b\nb", "a\nb"),
            s("esc esc restarts", "\x1b\x1b[31mX", "X"),
            s("esc followed by del", "a\x1b\x7fb", "ab"),
            s("osc cut by another escape", "\x1b]0;t\x1b[31mX", "X"),
            s("osc ends at a newline", "\x1b]0;a\nb\x07c", "\nbc"),
            s(
                "unterminated osc hides only the rest of its line",
                "Answer:\x1b]8;;http://x\nline two\nline three",
                "Answer:\nline two\nline three",
            ),
            s(
                "bidi overrides and isolates removed",
                "if (is_admin\u{202e}\u{2066}// check\u{2069}\u{2066}) {\u{202a}\u{202b}\u{202c}\u{202d}\u{2067}\u{2068}",
                "if (is_admin// check) {",
            ),
            s(
                "tag characters removed",
                "hello\u{e0001}\u{e0068}\u{e0069}\u{e007f} world",
                "hello world",
            ),
            s(
                "emoji tag sequence kept whole",
                "flag \u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}\u{e0041} end",
                "flag \u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f} end",
            ),
            s(
                "zwj sequences, marks and rtl text kept",
                "👨\u{200d}👩\u{200d}👧 e\u{301} שלום \u{200f}",
                "👨\u{200d}👩\u{200d}👧 e\u{301} שלום \u{200f}",
            ),
            s("st alone", "a\x1b\\b", "ab"),
            s("esc then 8-bit csi", "\x1b\u{9b}1mX", "X"),
        ]
    }

    /// Extra inputs for the split properties (short enough for all pairs).
    fn nasty() -> Vec<String> {
        let mut v: Vec<String> = cases()
            .into_iter()
            .map(|(_, input, _)| input)
            .filter(|i| i.chars().count() <= 120)
            .collect();
        v.extend(
            [
                "é\x1b]8;;https://例え.jp/🎉\x1b\\リンク\x1b]8;;\x1b\\✓",
                "\x1b\x1b]\x1b\\\x1b[\x1b(\x1b",
                "\u{9b}\u{9d}\u{90}\u{9c}\u{9f}x\u{9c}y",
                "a\x1b[?25l\r\nb\x1b]52;c;🎉\x07\x1bP\x1b\\c",
                "\x1b ( \x1b # 8 \x1b]\x1b[m",
            ]
            .map(str::to_owned),
        );
        v
    }

    /// Feed `parts` one push at a time and collect everything, including finish().
    fn streamed(parts: &[&str]) -> String {
        let mut s = Sanitizer::new();
        let mut out = String::new();
        for p in parts {
            out.push_str(&s.push(p));
        }
        out.push_str(&s.finish());
        out
    }

    fn boundaries(text: &str) -> Vec<usize> {
        (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect()
    }

    fn has_control(text: &str) -> bool {
        text.chars().any(is_removed_control)
    }

    #[test]
    fn table() {
        for (name, input, expected) in cases() {
            assert_eq!(sanitize(&input), expected, "case {name:?}: {input:?}");
            assert!(!has_control(&sanitize(&input)), "case {name:?}");
        }
    }

    #[test]
    fn table_streamed_in_one_push() {
        for (name, input, expected) in cases() {
            assert_eq!(streamed(&[&input]), expected, "case {name:?}");
        }
    }

    #[test]
    fn is_clean_agrees_with_sanitize_on_table() {
        for (name, input, _) in cases() {
            assert_eq!(
                is_clean(&input),
                sanitize(&input) == input,
                "case {name:?}: {input:?}"
            );
        }
        // The table has both kinds, so the check above is not vacuous.
        let clean = cases().iter().filter(|(_, i, _)| is_clean(i)).count();
        assert!(clean >= 3 && clean < cases().len());
    }

    #[test]
    fn every_single_char() {
        // Each char is either kept as is or removed, and is_clean agrees.
        let mut buf = [0u8; 4];
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let text: &str = c.encode_utf8(&mut buf);
            let out = sanitize(text);
            // A tag character alone (not after U+1F3F4) is removed too.
            let removed = is_removed_control(c) || is_bidi_control(c) || is_tag(c);
            let expected = if removed { "" } else { text };
            assert_eq!(out, expected, "U+{:04X}", c as u32);
            assert_eq!(is_clean(text), !removed, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn split_at_every_position() {
        let mut inputs = nasty();
        inputs.extend(cases().into_iter().map(|(_, input, _)| input));
        for text in &inputs {
            let whole = sanitize(text);
            for &i in &boundaries(text) {
                let (a, b) = text.split_at(i);
                assert_eq!(streamed(&[a, b]), whole, "split {i} of {text:?}");
            }
        }
    }

    #[test]
    fn split_at_every_pair_of_positions() {
        for text in nasty() {
            let whole = sanitize(&text);
            let bounds = boundaries(&text);
            for (n, &i) in bounds.iter().enumerate() {
                for &j in &bounds[n..] {
                    let parts = [&text[..i], &text[i..j], &text[j..]];
                    assert_eq!(streamed(&parts), whole, "splits {i},{j} of {text:?}");
                }
            }
        }
    }

    #[test]
    fn one_char_per_push() {
        let mut inputs = nasty();
        inputs.extend(cases().into_iter().map(|(_, input, _)| input));
        for text in &inputs {
            let parts: Vec<&str> = boundaries(text)
                .windows(2)
                .map(|w| &text[w[0]..w[1]])
                .collect();
            assert_eq!(streamed(&parts), sanitize(text), "{text:?}");
        }
    }

    #[test]
    fn pseudo_random_streams() {
        // Deterministic xorshift; texts built from nasty fragments, fed in
        // random pieces. Output must match one-shot and contain no controls.
        let fragments = [
            "a", "é", "🎉", "你", "\n", "\t", "\r", "\x07", "\x1b", "[", "]", "P", "_", "^", "X",
            "\\", "(", "#", "8", ";", "?", "1049", "h", "m", "52;c;", "\u{9b}", "\u{9c}", "\u{9d}",
            "\u{90}", "\u{85}", "\x7f", " ", "\0",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 40) as usize;
            let text: String = (0..len)
                .map(|_| fragments[(next() % fragments.len() as u64) as usize])
                .collect();
            let whole = sanitize(&text);
            assert!(!has_control(&whole), "{text:?} -> {whole:?}");
            assert!(is_clean(&whole), "{text:?} -> {whole:?}");
            let bounds = boundaries(&text);
            let mut parts = Vec::new();
            let mut start = 0;
            for &b in &bounds {
                if b > start && next() % 3 == 0 {
                    parts.push(&text[start..b]);
                    start = b;
                }
            }
            parts.push(&text[start..]);
            assert_eq!(streamed(&parts), whole, "{text:?} as {parts:?}");
        }
    }

    #[test]
    fn pending_esc_carries_to_next_push() {
        let mut s = Sanitizer::new();
        assert_eq!(s.push("a\x1b"), "a");
        assert_eq!(s.push("[31mb"), "b");
        assert_eq!(s.finish(), "");
    }

    #[test]
    fn clean_delta_inside_pending_osc_is_not_printed() {
        // The middle delta is clean on its own; the fast path must not print it.
        let mut s = Sanitizer::new();
        assert_eq!(s.push("x\x1b"), "x");
        assert_eq!(s.push("]52;c;aGVsbG8="), "");
        assert_eq!(s.push("\x07rest"), "rest");
        assert_eq!(s.finish(), "");
    }

    #[test]
    fn cap_counts_across_pushes() {
        let mut s = Sanitizer::new();
        assert_eq!(s.push("\x1b]"), "");
        for _ in 0..MAX_STRING_PAYLOAD / 2 {
            assert_eq!(s.push("ab"), "");
        }
        // Payload is now exactly at the cap; the next byte abandons it.
        assert_eq!(s.push("cd"), "cd");
        assert_eq!(s.push("\x07e"), "e");
    }

    #[test]
    fn finish_drops_pending_and_resets() {
        let mut s = Sanitizer::new();
        assert_eq!(s.push("hi\x1b]0;title"), "hi");
        assert_eq!(s.finish(), "");
        assert_eq!(s.push("after"), "after");
        assert_eq!(s.push("\x1b["), "");
        assert_eq!(s.finish(), "");
        assert_eq!(s.push("5mX"), "5mX");
    }

    #[test]
    fn push_into_appends() {
        let mut s = Sanitizer::new();
        let mut out = String::from("> ");
        s.push_into("\x1b[1mbold", &mut out);
        s.push_into(" plain", &mut out);
        assert_eq!(out, "> bold plain");
    }

    #[test]
    fn clone_keeps_pending_state() {
        let mut s = Sanitizer::new();
        assert_eq!(s.push("\x1b]0;"), "");
        let mut t = s.clone();
        assert_eq!(t.push("x\x07y"), "y");
        assert_eq!(s.push("x\x07y"), "y");
    }
}
