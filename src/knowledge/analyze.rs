//! Analysis: how text becomes search terms, the same way for documents and questions.
//!
//! SQLite's FTS5 does the English side: its `porter unicode61 remove_diacritics 2`
//! tokenizer lowercases, folds accents and stems (`reimbursements` → `reimburs`), in the
//! index and in every `MATCH`. It keeps a run of Chinese characters as one token, so
//! Chinese is segmented into words here first and the words written with spaces between
//! them:
//!
//! - **documents** ([`for_index`]): every run of Han characters is cut by jieba-rs in its
//!   search mode (`cut_for_search`: the words, and the 2- and 3-character words inside
//!   longer ones), with clerk's own dictionary ([`segmenter`]), loaded once and only when a
//!   text has Chinese. Its HMM for unknown words is not used: its tables alone are 510 KB
//!   of the binary, and a character no word covers is still found as itself; workplace
//!   words jieba lacks (年假, 入职) are added to the dictionary instead;
//! - **questions** ([`question_terms`]): a Chinese question is cut against the index's own
//!   vocabulary — every 2- to 6-character piece of it that the index holds as a word is a
//!   term — so searching needs no dictionary at all (loading one costs more than the
//!   whole search may take) and every term is one the documents were cut into. A piece no
//!   indexed word covers is kept apart as *unknown*: it counts against the question being
//!   answered by the base. Stop words (的, 吗, 如何; the, how, what) are dropped, and the
//!   terms are ORed, never searched as a phrase.
//!
//! Pure except for [`segmenter`], which decompresses the dictionary once per process.

use std::borrow::Cow;
use std::io::Read;
use std::sync::OnceLock;

use jieba_rs::Jieba;

/// The dictionary: jieba's words with a frequency of at least 5 (136,547 of 349,045),
/// grouped by frequency rounded to a power of 1.25, front-coded, in GB18030, compressed
/// with brotli (445 KB). Made from jieba-rs 0.11's `src/data/dict.txt` (MIT) by `zh_words.py` beside
/// this file, which describes the format.
static WORDS: &[u8] = include_bytes!("zh_words.br");

static JIEBA: OnceLock<Option<Jieba>> = OnceLock::new();

/// The Chinese segmenter, loaded on first use (about 0.1 s; see docs/knowledge.md).
/// `None` only if the dictionary built into clerk cannot be read, which a test rules out;
/// text is then cut one character per word, which still matches.
pub fn segmenter() -> Option<&'static Jieba> {
    JIEBA.get_or_init(load_segmenter).as_ref()
}

fn load_segmenter() -> Option<Jieba> {
    let mut packed = Vec::new();
    brotli_decompressor::Decompressor::new(WORDS, 64 * 1024)
        .read_to_end(&mut packed)
        .ok()?;
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&packed);
    if had_errors {
        return None;
    }
    // `word freq` lines, as jieba reads them.
    let mut dict = String::with_capacity(text.len() * 2);
    let mut freq = "1";
    let mut prev = String::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix('=') {
            freq = f;
            prev.clear();
            continue;
        }
        let mut chars = line.chars();
        let shared = chars.next()?.to_digit(10)? as usize;
        let word: String = prev.chars().take(shared).chain(chars).collect();
        dict.push_str(&word);
        dict.push(' ');
        dict.push_str(freq);
        dict.push('\n');
        prev = word;
    }
    let mut jieba = Jieba::with_dict(&mut dict.as_bytes()).ok()?;
    for w in WORKPLACE_WORDS {
        jieba.add_word(w, Some(WORKPLACE_FREQ), None);
    }
    Some(jieba)
}

/// Words of workplace procedures that jieba's dictionary lacks (年假, 入职) or holds as
/// too rare to keep; added with a middling frequency.
const WORKPLACE_WORDS: &[&str] = &[
    "年假",
    "入职",
    "离职",
    "报销单",
    "审批人",
    "陪产假",
    "哺乳假",
    "产检假",
    "丧假",
    "婚假",
    "带薪",
    "报税",
    "差旅",
    "调休",
    "加班费",
    "考勤",
    "打卡",
    "工牌",
    "门禁",
    "工号",
    "内网",
    "账号",
    "重置",
    "双因素",
    "多因素",
    "验证码",
    "服务台",
    "报销额度",
    "住宿标准",
    "采购单",
    "询价",
    "比价",
    "预付款",
    "发票抬头",
    "增值税",
    "专票",
    "普票",
    "电子发票",
    "出差申请",
    "差旅费",
    "交通费",
    "餐补",
    "补贴",
    "津贴",
    "绩效",
    "转岗",
    "调岗",
    "年终奖",
    "试用期",
    "公积金",
    "社保",
    "体检",
    "入职培训",
    "离职证明",
    "在职证明",
    "保密协议",
    "竞业",
    "违约金",
    "病假条",
    "请假",
    "销假",
    "外出",
    "报账",
    "借款单",
    "垫付",
    "直属经理",
];

/// The frequency the workplace words are added with (a common word has thousands).
const WORKPLACE_FREQ: usize = 300;

/// A Han (Chinese) character: the CJK Unified Ideographs and their extensions and
/// compatibility forms.
pub fn is_han(c: char) -> bool {
    matches!(
        u32::from(c),
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x323AF
    )
}

/// Whether `text` holds a Han character.
pub fn has_han(text: &str) -> bool {
    text.chars().any(is_han)
}

/// `text` as it is indexed: each run of Han characters replaced by its words (search
/// mode) separated by spaces; everything else as it is. Text without Chinese is borrowed.
pub fn for_index(text: &str) -> Cow<'_, str> {
    if !has_han(text) {
        return Cow::Borrowed(text);
    }
    let jieba = segmenter();
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut rest = text;
    while let Some(start) = rest.find(is_han) {
        out.push_str(&rest[..start]);
        let run = &rest[start..];
        let end = run.find(|c: char| !is_han(c)).unwrap_or(run.len());
        out.push(' ');
        match jieba {
            Some(j) => {
                for t in j.cut_for_search(&run[..end], false) {
                    out.push_str(t.word);
                    out.push(' ');
                }
            }
            None => {
                for c in run[..end].chars() {
                    out.push(c);
                    out.push(' ');
                }
            }
        }
        rest = &run[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The language a text is mostly written in: `zh` (Han characters) or `en` (Latin
/// letters), by an estimate of words of each; `None` for text with neither.
pub fn language_of(text: &str) -> Option<&'static str> {
    let (mut han, mut latin) = (0usize, 0usize);
    for c in text.chars() {
        if is_han(c) {
            han += 1;
        } else if c.is_ascii_alphabetic() {
            latin += 1;
        }
    }
    // About 1.5 Han characters and 5 Latin letters to a word.
    match (han * 10 / 15, latin / 5) {
        (0, 0) => None,
        (h, l) if h >= l => Some("zh"),
        _ => Some("en"),
    }
}

/// English words that say nothing about what is asked.
const ENGLISH_STOP: &[&str] = &[
    "a", "about", "after", "all", "am", "an", "and", "any", "are", "as", "at", "be", "been",
    "before", "but", "by", "can", "could", "did", "do", "does", "for", "from", "get", "got", "had",
    "has", "have", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it",
    "its", "let", "me", "might", "more", "much", "must", "my", "need", "no", "not", "of", "on",
    "or", "our", "please", "shall", "she", "should", "so", "some", "tell", "than", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "to", "us", "was", "we",
    "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your",
];

/// Chinese words (and single characters) that say nothing about what is asked.
const CHINESE_STOP: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "是",
    "在",
    "和",
    "与",
    "及",
    "或",
    "我",
    "你",
    "您",
    "他",
    "她",
    "它",
    "们",
    "这",
    "那",
    "有",
    "要",
    "会",
    "能",
    "都",
    "也",
    "还",
    "就",
    "把",
    "被",
    "给",
    "对",
    "从",
    "到",
    "为",
    "于",
    "个",
    "得",
    "地",
    "着",
    "过",
    "么",
    "请",
    "问",
    "该",
    "可",
    "怎",
    "哪",
    "什么",
    "怎么",
    "怎样",
    "怎么样",
    "如何",
    "哪些",
    "哪个",
    "哪里",
    "多少",
    "是否",
    "可以",
    "能否",
    "需要",
    "应该",
    "请问",
    "我们",
    "你们",
    "他们",
    "一下",
    "是不是",
    "有没有",
    "能不能",
    "可不可以",
    "为什么",
    "什么样",
    "这个",
    "那个",
    "谁",
    "几",
    "多",
    "哪儿",
    "何时",
    "什么时候",
    "多长时间",
    "多久",
    "怎么办",
    "要求",
    "规定",
    "情况",
    "时候",
    "很",
    "大",
    "小",
    "话",
    "的话",
    "除",
    "除了",
    "来",
    "去",
    "做",
    "用",
    "让",
    "一",
    "些",
    "每",
    "各",
    "比",
    "等",
    "但",
    "而",
    "并",
    "且",
    "如果",
    "虽然",
    "因为",
    "所以",
    "然后",
    "还有",
    "已经",
    "现在",
    "一些",
    "一个",
    "这些",
    "那些",
    "其他",
    "之",
    "里",
    "想",
    "知道",
    "告诉",
    "找",
    "办",
    "呐",
    "嘛",
    "哦",
    "么样",
    "有关",
    "关于",
    "需",
    "须",
    "必须",
    "得到",
    "应",
    "才",
    "又",
    "再",
    "最",
    "太",
    "非常",
    "以后",
    "之后",
    "以前",
    "之前",
    "后",
    "前",
];

/// A question's terms: what is searched for, and what could not be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuestionTerms {
    /// Latin-script words, lowercased, stop words dropped, each once. FTS5 stems them.
    pub words: Vec<String>,
    /// Chinese words found in the index's vocabulary, each once, with how many passages
    /// hold them.
    pub han: Vec<(String, u64)>,
    /// Runs of Chinese that no indexed word covers (after stop words): content the base
    /// does not hold.
    pub unknown: Vec<String>,
}

impl QuestionTerms {
    /// Whether nothing is left to search for.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.han.is_empty()
    }
}

/// The longest Chinese word looked up in the vocabulary.
const MAX_WORD_CHARS: usize = 6;

/// Cut a question into terms. `passages_with(term)` says in how many passages the index
/// holds `term` (0: not at all); it is asked about pieces of the question's Chinese.
pub fn question_terms(question: &str, passages_with: &mut dyn FnMut(&str) -> u64) -> QuestionTerms {
    let mut out = QuestionTerms::default();
    let mut latin = String::new();
    let mut han = String::new();
    let flush_latin = |w: &mut String, out: &mut QuestionTerms| {
        let word = w.to_lowercase();
        w.clear();
        let short = word.chars().count() < 2 && !word.chars().all(|c| c.is_ascii_digit());
        if !word.is_empty()
            && !short
            && !ENGLISH_STOP.contains(&word.as_str())
            && !out.words.contains(&word)
        {
            out.words.push(word);
        }
    };
    for c in question.chars().chain(std::iter::once(' ')) {
        if is_han(c) {
            flush_latin(&mut latin, &mut out);
            han.push(c);
            continue;
        }
        if !han.is_empty() {
            han_terms(&han, passages_with, &mut out);
            han.clear();
        }
        if c.is_alphanumeric() {
            latin.push(c);
        } else {
            flush_latin(&mut latin, &mut out);
        }
    }
    // A question of nothing but stop words is searched with them.
    if out.is_empty() && out.unknown.is_empty() {
        for w in question
            .split(|c: char| !c.is_alphanumeric() || is_han(c))
            .filter(|w| !w.is_empty())
        {
            let w = w.to_lowercase();
            if !out.words.contains(&w) {
                out.words.push(w);
            }
        }
    }
    out
}

/// The terms of one run of Han characters.
fn han_terms(run: &str, passages_with: &mut dyn FnMut(&str) -> u64, out: &mut QuestionTerms) {
    let chars: Vec<(usize, char)> = run.char_indices().collect();
    let n = chars.len();
    let at = |i: usize| chars.get(i).map_or(run.len(), |(b, _)| *b);
    let mut covered = vec![false; n];
    for i in 0..n {
        for len in 2..=MAX_WORD_CHARS.min(n - i) {
            let piece = &run[at(i)..at(i + len)];
            let stop = CHINESE_STOP.contains(&piece);
            let df = if stop { 0 } else { passages_with(piece) };
            if stop || df > 0 {
                covered[i..i + len].iter_mut().for_each(|c| *c = true);
            }
            if df > 0 && !out.han.iter().any(|(t, _)| t == piece) {
                out.han.push((piece.to_string(), df));
            }
        }
    }
    let mut unknown = String::new();
    for i in 0..=n {
        let single = (i < n && !covered[i]).then(|| &run[at(i)..at(i + 1)]);
        let df = match single {
            Some(c) if !CHINESE_STOP.contains(&c) => passages_with(c),
            // Covered, a stop word, or the end of the run: ends an unknown piece.
            _ => u64::MAX,
        };
        match (single, df) {
            (Some(c), 0) => unknown.push_str(c),
            (Some(c), df) if df != u64::MAX => {
                if !out.han.iter().any(|(t, _)| t == c) {
                    out.han.push((c.to_string(), df));
                }
                if !unknown.is_empty() {
                    out.unknown.push(std::mem::take(&mut unknown));
                }
            }
            _ => {
                if !unknown.is_empty() {
                    out.unknown.push(std::mem::take(&mut unknown));
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The vocabulary an index of `docs` would hold, with passage counts.
    fn vocabulary(docs: &[&str]) -> HashMap<String, u64> {
        let mut v = HashMap::new();
        for d in docs {
            let mut seen = std::collections::HashSet::new();
            for w in for_index(d).split(|c: char| !c.is_alphanumeric()) {
                if !w.is_empty() && seen.insert(w.to_lowercase()) {
                    *v.entry(w.to_lowercase()).or_insert(0) += 1;
                }
            }
        }
        v
    }

    #[test]
    fn the_dictionary_loads_and_cuts_words_inside_sentences() {
        let jieba = segmenter().unwrap();
        // Words read back whole from the front-coded list, rare ones left out.
        for w in [
            "中华人民共和国",
            "中华",
            "财务部",
            "报销",
            "审批",
            "密码",
            "年假",
            "入职",
        ] {
            assert!(jieba.has_word(w), "{w}");
        }
        assert!(!jieba.has_word("1号店"), "frequency 3: not kept");
        let text =
            for_index("员工出差回来后应在十个工作日内提交报销申请，经部门经理审批后由财务部支付。");
        let words: Vec<&str> = text.split_whitespace().collect();
        for w in ["出差", "报销", "审批", "财务部", "财务", "工作日", "申请"] {
            assert!(words.contains(&w), "{w} in {words:?}");
        }
        let text = for_index("新员工入职满一年后享有年假五天；忘记密码时请联系IT服务台重置。");
        let words: Vec<&str> = text.split_whitespace().collect();
        for w in ["年假", "密码", "重置", "入职"] {
            assert!(words.contains(&w), "{w} in {words:?}");
        }
        // English and numbers are left to FTS5, as they are.
        assert!(text.contains("IT"), "{text}");
        assert_eq!(for_index("Hotel limit: 900 CNY"), "Hotel limit: 900 CNY");
    }

    #[test]
    fn a_chinese_question_is_cut_into_the_words_the_documents_were_cut_into() {
        let docs = [
            "员工出差回来后应在十个工作日内提交报销申请，经部门经理审批后由财务部支付。",
            "新员工入职满一年后享有年假五天，年假需提前三天申请。",
            "忘记密码时请联系IT服务台重置密码。",
        ];
        let vocab = vocabulary(&docs);
        let mut df = |t: &str| vocab.get(t).copied().unwrap_or(0);
        let q = question_terms("出差回来以后报销需要谁审批？", &mut df);
        let terms: Vec<&str> = q.han.iter().map(|(t, _)| t.as_str()).collect();
        for w in ["出差", "报销", "审批"] {
            assert!(terms.contains(&w), "{w} in {terms:?}");
        }
        assert!(!terms.contains(&"需要"), "a stop word: {terms:?}");
        // Every jieba word of the question that the index holds is a term.
        let jieba_words = for_index("出差回来以后报销需要谁审批？");
        for w in jieba_words.split_whitespace().filter(|w| has_han(w)) {
            if vocab.contains_key(w) && !CHINESE_STOP.contains(&w) {
                assert!(terms.contains(&w), "{w} in {terms:?}");
            }
        }
        let q = question_terms("年假有几天", &mut df);
        assert_eq!(q.han[0].0, "年假");
        assert_eq!(q.han[0].1, 1);
        // What the base holds nothing about is unknown, not silently dropped.
        let q = question_terms("可以带宠物来办公室吗？", &mut df);
        assert!(q.unknown.iter().any(|u| u.contains("宠物")), "{q:?}");
    }

    #[test]
    fn english_words_are_lowercased_and_stop_words_dropped() {
        let mut none = |_: &str| 0;
        let q = question_terms(
            "What is the HOTEL limit for Shanghai, and the hotel's tax?",
            &mut none,
        );
        assert_eq!(q.words, ["hotel", "limit", "shanghai", "tax"]);
        assert!(q.han.is_empty() && q.unknown.is_empty());
        let q = question_terms("how do I?", &mut none);
        assert_eq!(
            q.words,
            ["how", "do", "i"],
            "only stop words: searched with them"
        );
        let q = question_terms("Form 12B, step 3", &mut none);
        assert_eq!(q.words, ["form", "12b", "step", "3"]);
    }

    #[test]
    fn the_language_of_a_text() {
        assert_eq!(
            language_of("The hotel limit is 900 CNY per night."),
            Some("en")
        );
        assert_eq!(
            language_of("住宿标准为每晚900元，超出部分自理。"),
            Some("zh")
        );
        assert_eq!(
            language_of("VPN 使用说明：连接公司网络前先登录。"),
            Some("zh")
        );
        assert_eq!(language_of("12 345 — 678"), None);
    }
}
