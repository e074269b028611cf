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

/// Tokens in `text` from its characters alone: a CJK character about one token, other text
/// about four bytes a token. One pass, no tokenizer.
pub fn rough_tokens(text: &str) -> u64 {
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
