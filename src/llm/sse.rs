//! A server-sent-events decoder that takes bytes exactly as they arrive.
//!
//! Bytes may be split anywhere, including inside a UTF-8 character or between `\r` and
//! `\n`: lines are cut on bytes and decoded only when whole. Handles `data:` with or
//! without the space, multi-line data, comment lines (`: keep-alive`), `event:` names and
//! CR, LF or CRLF line ends. It knows nothing about OpenAI; it does no IO.

/// One decoded item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A complete event: its `event:` name (empty when none) and its data lines joined by `\n`.
    Event {
        /// The `event:` field, or empty.
        name: String,
        /// The data.
        data: String,
    },
    /// A comment line (without the leading colon), e.g. ` keep-alive`.
    Comment(String),
}

/// Incremental decoder; feed it bytes, collect items.
#[derive(Debug, Default, Clone)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    name: String,
    last_was_cr: bool,
}

impl SseDecoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next bytes; `out` receives every item completed by them.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut impl FnMut(SseItem)) {
        if self.last_was_cr {
            // A CR ended the previous line; a LF right after it belongs to the same ending.
            if bytes.first() == Some(&b'\n') {
                bytes = &bytes[1..];
            }
            self.last_was_cr = false;
        }
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (line, rest) = bytes.split_at(pos);
            let line_end = rest[0];
            let mut rest = &rest[1..];
            if line_end == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.last_was_cr = true,
                    _ => {}
                }
            }
            if self.line.is_empty() {
                self.process_line(line, out);
            } else {
                let mut whole = std::mem::take(&mut self.line);
                whole.extend_from_slice(line);
                self.process_line(&whole, out);
                whole.clear();
                self.line = whole;
            }
            bytes = rest;
        }
        self.line.extend_from_slice(bytes);
    }

    /// The stream ended: an unfinished last line and an event without its blank line are
    /// still delivered (servers that close right after `data: [DONE]` are common).
    pub fn finish(&mut self, out: &mut impl FnMut(SseItem)) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
        }
        self.dispatch(out);
        self.last_was_cr = false;
    }

    fn process_line(&mut self, line: &[u8], out: &mut impl FnMut(SseItem)) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            out(SseItem::Comment(
                String::from_utf8_lossy(&line[1..]).into_owned(),
            ));
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                match std::str::from_utf8(value) {
                    Ok(s) => self.data.push_str(s),
                    Err(_) => self.data.push_str(&String::from_utf8_lossy(value)),
                }
            }
            b"event" => self.name = String::from_utf8_lossy(value).into_owned(),
            _ => {} // id, retry and unknown fields are ignored, as the spec says
        }
    }

    fn dispatch(&mut self, out: &mut impl FnMut(SseItem)) {
        if self.has_data {
            out(SseItem::Event {
                name: std::mem::take(&mut self.name),
                data: std::mem::take(&mut self.data),
            });
        } else {
            self.name.clear();
        }
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_pieces(pieces: &[&[u8]]) -> Vec<SseItem> {
        let mut d = SseDecoder::new();
        let mut items = Vec::new();
        for p in pieces {
            d.feed(p, &mut |i| items.push(i));
        }
        d.finish(&mut |i| items.push(i));
        items
    }

    fn data(s: &str) -> SseItem {
        SseItem::Event {
            name: String::new(),
            data: s.to_string(),
        }
    }

    #[test]
    fn basic_events_comments_and_no_space_data() {
        let items = decode_pieces(&[
            b": keep-alive\n\ndata: {\"a\":1}\n\ndata:{\"b\":2}\n\ndata: [DONE]\n\n",
        ]);
        assert_eq!(
            items,
            vec![
                SseItem::Comment(" keep-alive".into()),
                data("{\"a\":1}"),
                data("{\"b\":2}"),
                data("[DONE]"),
            ]
        );
    }

    #[test]
    fn crlf_and_cr_line_ends_and_multiline_data() {
        let items = decode_pieces(&[b"data: a\r\ndata: b\r\n\r\nevent: error\rdata: x\r\r"]);
        assert_eq!(
            items,
            vec![
                data("a\nb"),
                SseItem::Event {
                    name: "error".into(),
                    data: "x".into()
                }
            ]
        );
    }

    #[test]
    fn split_at_every_byte_position_gives_the_same_items() {
        let stream = "data: {\"c\":\"héllo 报销 👍🏽\"}\r\n\r\n: ping\n\ndata:[DONE]\n\n".as_bytes();
        let whole = decode_pieces(&[stream]);
        assert_eq!(whole.len(), 3);
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let got = decode_pieces(&[&stream[..i], &stream[i..j], &stream[j..]]);
                assert_eq!(got, whole, "split at {i},{j}");
            }
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode_pieces(&bytes), whole);
    }

    #[test]
    fn cr_at_end_of_piece_then_lf_is_one_line_end() {
        let items = decode_pieces(&[b"data: a\r", b"\n", b"\r", b"\ndata: b\n\n"]);
        assert_eq!(items, vec![data("a"), data("b")]);
    }

    #[test]
    fn event_without_final_blank_line_is_delivered_at_finish() {
        assert_eq!(decode_pieces(&[b"data: [DONE]"]), vec![data("[DONE]")]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(
            decode_pieces(&[b"data: a\xffb\n\n"]),
            vec![data("a\u{fffd}b")]
        );
    }

    #[test]
    fn field_names_must_match_exactly() {
        assert_eq!(decode_pieces(&[b"datax: 1\nid: 7\nretry: 10\n\n"]), vec![]);
    }
}
