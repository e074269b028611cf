//! The o200k_base tokenizer (the GPT-4o family's), built from a vocabulary that clerk ships
//! compressed.
//!
//! tiktoken-rs embeds the vocabulary as base64 text (3.6 MB of the binary); clerk ships the
//! same 199,998 tokens as raw bytes in rank order (each preceded by its length), compressed
//! with brotli (its decoder is in the binary already, for PDFs): `o200k_base.bin.br`,
//! 828 KB (1.0 MB with zlib). The tokenizer itself (the split pattern, the
//! byte-pair merges) is tiktoken-rs's `CoreBPE` with tiktoken-rs's pattern and special
//! tokens, so the counts are the same; a test checks every token against tiktoken-rs's own
//! table. The vocabulary is OpenAI's (tiktoken, MIT licence).
//!
//! To make the file again (after tiktoken-rs changes its table; the test says so):
//!
//! ```text
//! python3 -c 'import base64,sys; rows=sorted((int(r),base64.b64decode(t)) for t,r in (l.split() for l in open(sys.argv[1]))); open("/tmp/o200k.bin","wb").write(b"".join(bytes([len(b)])+b for _,b in rows))' ~/.cargo/registry/src/*/tiktoken-rs-0.12.*/assets/o200k_base.tiktoken
//! brotli -q 11 -w 24 -o src/llm/o200k_base.bin.br /tmp/o200k.bin
//! ```
//!
//! Loading takes about 0.2 s, so it is done once, on first use, by whoever counts first.
//! It must not be loaded on the UI's path.

use std::io::Read;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use tiktoken_rs::{CoreBPE, Rank};

/// The vocabulary: for each rank from 0, one byte with the token's length, then the token.
static VOCABULARY: &[u8] = include_bytes!("o200k_base.bin.br");

/// The tokens that are not in the vocabulary file, with their ranks (as tiktoken-rs has them).
const SPECIAL: [(&str, Rank); 2] = [
    (tiktoken_rs::ENDOFTEXT, 199_999),
    (tiktoken_rs::ENDOFPROMPT, 200_018),
];

static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();

/// The tokenizer if it is loaded already (counting with it then costs no load).
pub fn if_loaded() -> Option<&'static CoreBPE> {
    O200K.get().and_then(Option::as_ref)
}

/// The tokenizer, loaded on first use; `None` if the shipped vocabulary could not be read
/// (a damaged build), in which case callers estimate.
pub fn o200k() -> Option<&'static CoreBPE> {
    O200K.get_or_init(|| load().ok()).as_ref()
}

fn load() -> anyhow::Result<CoreBPE> {
    let mut raw = Vec::with_capacity(1_600_000);
    brotli_decompressor::Decompressor::new(VOCABULARY, 64 * 1024).read_to_end(&mut raw)?;
    let mut encoder = FxHashMap::default();
    encoder.reserve(200_000);
    let mut rest = raw.as_slice();
    let mut rank: Rank = 0;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        anyhow::ensure!(tail.len() >= len, "the o200k vocabulary is cut short");
        let (token, tail) = tail.split_at(len);
        encoder.insert(token.to_vec(), rank);
        rank += 1;
        rest = tail;
    }
    let special = SPECIAL.iter().map(|&(s, r)| (s.to_string(), r)).collect();
    CoreBPE::new(encoder, special, tiktoken_rs::O200K_BASE_PAT_STR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_is_the_one_tiktoken_rs_has() {
        let ours = o200k().expect("the shipped vocabulary loads");
        let theirs = tiktoken_rs::o200k_base().unwrap();
        for rank in 0..199_998 {
            assert_eq!(
                ours.decode_bytes(&[rank]).ok(),
                theirs.decode_bytes(&[rank]).ok(),
                "token {rank} differs: regenerate o200k_base.bin.br (see the module's doc)"
            );
        }
        for (s, r) in SPECIAL {
            assert_eq!(theirs.encode_with_special_tokens(s), vec![r]);
            assert_eq!(ours.encode_with_special_tokens(s), vec![r]);
        }
    }

    #[test]
    fn counts_match_tiktoken_rs_on_mixed_text() {
        let ours = o200k().unwrap();
        let theirs = tiktoken_rs::o200k_base().unwrap();
        let samples = [
            "Employees book economy class for flights under six hours.",
            "差旅报销需要在出差结束后三十天内提交发票，超出标准的住宿费用需要预算负责人事先审批。",
            "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n}\n",
            "| city | hotel limit |\n|---|---|\n| 上海 | ¥900 |\n👍🏽 naïve café — “quotes”",
            "   leading spaces\t\ttabs\r\nCRLF and a very-long-hyphenated-compound-word 12345678901234",
            "",
        ];
        for s in samples {
            assert_eq!(ours.encode_ordinary(s), theirs.encode_ordinary(s), "{s:?}");
        }
    }
}
