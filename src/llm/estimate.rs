//! Token estimates without loading the tokenizer: for what a stopped answer is counted
//! with, and what a budget weighs before a request is sent.
//!
//! A leaf of `llm`: it imports only the shipped vocabulary's "is it loaded" check.

/// Tokens in `text`: the tokenizer's count when it is loaded, else an estimate from the
/// text (a CJK character is about one token, other text about four bytes a token). Never
/// loads the tokenizer, so it costs nothing noticeable on the UI's thread.
pub fn estimate_tokens(text: &str) -> u64 {
    match super::o200k::if_loaded() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        None => rough_tokens(text),
    }
}

/// A prompt's tokens from its messages' texts alone: [`rough_tokens`] each, plus the chat
/// format's few tokens per message and per request.
pub fn rough_prompt_tokens<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    texts.into_iter().map(|t| rough_tokens(t) + 4).sum::<u64>() + 3
}

/// Tokens in `text` from its characters alone: a CJK character about one token, other text
/// about four bytes a token. One pass over the bytes, no tokenizer: every range counted as
/// CJK is of three-byte characters, so only those are decoded (a long session's prompt is
/// estimated before each request: ~0.5 MB, where decoding every character cost ~3x more).
pub fn rough_tokens(text: &str) -> u64 {
    let b = text.as_bytes();
    let mut cjk = 0u64;
    let mut i = 0;
    while i < b.len() {
        // Sixteen ASCII bytes (most text that is not CJK) are stepped over at once: one
        // test of their high bits.
        if let Some(chunk) = b.get(i..i + 16)
            && let Ok(chunk) = <[u8; 16]>::try_from(chunk)
            && u128::from_ne_bytes(chunk) & 0x8080_8080_8080_8080_8080_8080_8080_8080 == 0
        {
            i += 16;
            continue;
        }
        let lead = b[i];
        if lead < 0xE0 {
            // ASCII, a two-byte character's lead or a continuation byte.
            i += 1;
        } else if lead < 0xF0 {
            // `text` is a str: a three-byte lead is followed by its two continuation bytes.
            let c = (u32::from(lead & 0x0F) << 12)
                | (u32::from(b[i + 1] & 0x3F) << 6)
                | u32::from(b[i + 2] & 0x3F);
            cjk += u64::from(is_cjk(c));
            i += 3;
        } else {
            i += 4;
        }
    }
    cjk + (b.len() as u64 - 3 * cjk).div_ceil(4)
}

fn is_cjk(c: u32) -> bool {
    matches!(c, 0x3000..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff | 0xff00..=0xffef)
}

#[cfg(test)]
mod tests {
    use super::rough_tokens;

    /// The estimate as first written, character by character.
    fn by_chars(text: &str) -> u64 {
        let (mut cjk, mut other) = (0u64, 0u64);
        for c in text.chars() {
            if matches!(c, '\u{3000}'..='\u{9fff}' | '\u{ac00}'..='\u{d7af}' | '\u{f900}'..='\u{faff}' | '\u{ff00}'..='\u{ffef}')
            {
                cjk += 1;
            } else {
                other += c.len_utf8() as u64;
            }
        }
        cjk + other.div_ceil(4)
    }

    #[test]
    fn the_byte_scan_counts_what_the_character_scan_did() {
        // Each range's edges and their neighbours, two-, three- and four-byte characters.
        let edges = [
            '\u{7f}',
            '\u{e9}',
            '\u{7ff}',
            '\u{800}',
            '\u{2fff}',
            '\u{3000}',
            '\u{4e2d}',
            '\u{9fff}',
            '\u{a000}',
            '\u{abff}',
            '\u{ac00}',
            '\u{d55c}',
            '\u{d7af}',
            '\u{d7b0}',
            '\u{f8ff}',
            '\u{f900}',
            '\u{faff}',
            '\u{fb00}',
            '\u{feff}',
            '\u{ff00}',
            '\u{ff0c}',
            '\u{ffef}',
            '\u{fff0}',
            '\u{fffd}',
            '\u{1f44d}',
            '\u{20000}',
        ];
        for c in edges {
            // Alone, and at every offset around the sixteen-byte steps over other text.
            let mut cases = vec![c.to_string(), format!("a{c}b"), format!("{c}{c}{c}")];
            for at in 0..40 {
                let pad = "é".repeat(at % 3) + &"x".repeat(at);
                cases.push(format!("{pad}{c}{pad}{c}é{pad}"));
            }
            for s in cases {
                assert_eq!(rough_tokens(&s), by_chars(&s), "{:x}", c as u32);
            }
        }
        let texts = [
            "",
            "The travel policy says economy class under six hours.",
            "差旅报销需要在出差结束后三十天内提交发票，超出标准的住宿费用需要预算负责人事先审批。",
            "Mixed 报销 text, café, 한국어, ｆｕｌｌｗｉｄｔｈ, emoji 👍 and `code`\n| 上海 | ¥900 |",
        ];
        for t in texts {
            assert_eq!(rough_tokens(t), by_chars(t), "{t}");
        }
        assert_eq!(rough_tokens("差旅报销"), 4);
        assert_eq!(rough_tokens("abcdefgh"), 2);
    }
}
