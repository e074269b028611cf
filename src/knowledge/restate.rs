//! Restating a question in the base's other languages, so that a Chinese question finds an
//! English procedure and the reverse: the one short request to the chat model, reading its
//! reply however loosely it keeps to the format, and a cache of restatements in the index.
//!
//! Small and local models rarely answer in a fixed format: the reply is read as plain text,
//! with reasoning (`<think>…</think>`), labels (`English:`, `译文：`), quotes, list marks,
//! Markdown emphasis and chatty lines ("Sure! Here is the translation:") taken away, and a
//! line kept only when it is written in the language asked for and is not the question
//! itself. The cache is the table `restatements` of the index, made on first use.

use rusqlite::{OptionalExtension, params};

use super::analyze::has_han;
use super::cite::language_name;
use super::{Index, KnowledgeError};
use crate::llm::{ChatMessage, ChatRequest, ChatRole};

/// The longest answer asked for (a restated question is a line).
pub const MAX_TOKENS: u64 = 300;

/// Restatements kept in the cache, at most (the oldest go first).
const CACHE_ROWS: i64 = 20_000;

/// A question restated in one language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Restated {
    /// The language (`en`, `zh`).
    pub language: String,
    /// The restated question.
    pub text: String,
    /// It came from the cache (no request was made for it).
    pub cached: bool,
}

/// The request that restates `question` in each of `targets` (language codes).
pub fn request(question: &str, targets: &[String], model: &str) -> ChatRequest {
    let names: Vec<String> = targets.iter().map(|t| language_name(t)).collect();
    let system = if names.len() == 1 {
        format!(
            "You restate search questions for a company's procedure documents. Restate the user's \
question in {}, keeping its meaning, names, numbers and terms. Reply with the restated question \
only, on one line: no quotes, no label, no explanation.",
            names[0]
        )
    } else {
        format!(
            "You restate search questions for a company's procedure documents. Restate the user's \
question in each of these languages: {}, keeping its meaning, names, numbers and terms. Reply \
with one line per language that starts with the language's name and a colon (for example \
\"{}: …\"), and nothing else.",
            names.join(", "),
            names[0]
        )
    };
    ChatRequest {
        model: model.to_string(),
        messages: vec![
            ChatMessage {
                role: ChatRole::System,
                content: system,
            },
            ChatMessage {
                role: ChatRole::User,
                content: question.trim().to_string(),
            },
        ],
        max_output_tokens: Some(MAX_TOKENS),
        temperature: None,
        prompt_tokens: None,
    }
}

/// The restatements in `reply` of `question`, one at most per language of `targets`, in
/// the order of `targets`. Empty when the reply holds none (then the question is searched
/// as asked).
pub fn parse(reply: &str, question: &str, targets: &[String]) -> Vec<Restated> {
    let reply = without_reasoning(reply);
    let longest = (question.chars().count() * 4).max(200);
    let same = |t: &str| fold(t) == fold(question);
    let mut labelled: Vec<(Option<String>, String)> = Vec::new();
    for line in reply.lines() {
        let Some((label, text)) = clean_line(line) else {
            continue;
        };
        if text.chars().count() > longest || same(&text) {
            continue;
        }
        labelled.push((label, text));
    }
    let mut out: Vec<Restated> = Vec::new();
    for t in targets {
        // A line labelled with this language first, then any line written in it.
        let pick = labelled
            .iter()
            .find(|(l, text)| l.as_deref() == Some(t.as_str()) && written_in(text, t))
            .or_else(|| {
                labelled
                    .iter()
                    .find(|(l, text)| l.is_none() && written_in(text, t))
            })
            .or_else(|| {
                labelled.iter().find(|(l, text)| {
                    written_in(text, t)
                        && l.as_deref().is_none_or(|l| !targets.iter().any(|x| x == l))
                })
            });
        if let Some((_, text)) = pick
            && out.iter().all(|o| o.text != *text)
        {
            out.push(Restated {
                language: t.clone(),
                text: text.clone(),
                cached: false,
            });
        }
    }
    out
}

/// Lowercased with only letters and digits: "the same question" whatever its punctuation.
fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `reply` without `<think>…</think>` blocks (an unclosed one takes the rest).
fn without_reasoning(reply: &str) -> String {
    let mut out = String::new();
    let mut rest = reply;
    while let Some(start) = rest.find("<think>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</think>") {
            Some(end) => rest = &rest[start + end + "</think>".len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// Whether `text` is written in language `code`: Chinese holds Han characters; the other
/// languages clerk restates into are written in Latin letters here.
fn written_in(text: &str, code: &str) -> bool {
    match code {
        "zh" | "ja" => has_han(text),
        "ko" => text.chars().any(|c| ('\u{AC00}'..='\u{D7AF}').contains(&c)),
        "ru" => text.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)),
        _ => !has_han(text) && text.chars().filter(|c| c.is_alphabetic()).count() >= 2,
    }
}

/// A label's language (`English` → `en`), or `Some("")` for a label that names none
/// (`Translation`), or `None` when `label` is not a label at all.
fn label_language(label: &str) -> Option<&'static str> {
    let l = label
        .trim()
        .trim_matches(['*', '_', '`'])
        .trim()
        .to_lowercase();
    Some(match l.as_str() {
        "english" | "en" | "英文" | "英语" | "英文翻译" => "en",
        "chinese"
        | "simplified chinese"
        | "chinese (simplified)"
        | "chinese (简体中文)"
        | "zh"
        | "zh-cn"
        | "zh-hans"
        | "中文"
        | "简体中文"
        | "汉语"
        | "中文翻译" => "zh",
        "japanese" | "ja" | "日语" => "ja",
        "korean" | "ko" => "ko",
        "german" | "de" | "deutsch" => "de",
        "french" | "fr" | "français" => "fr",
        "spanish" | "es" | "español" => "es",
        "translation" | "restatement" | "restated question" | "restated" | "question" | "query"
        | "rewritten question" | "answer" | "output" | "翻译" | "译文" | "问题" | "改写" => {
            ""
        }
        _ => return None,
    })
}

/// One line of a reply as (its label's language, its text); `None` for a line that is
/// empty, a preamble ("Sure! Here it is:") or a note.
fn clean_line(line: &str) -> Option<(Option<String>, String)> {
    let mut text = line.trim();
    // List marks and quotes of Markdown.
    for mark in ["- ", "* ", "• ", "> "] {
        text = text.strip_prefix(mark).unwrap_or(text).trim_start();
    }
    if let Some((n, rest)) = text.split_once(['.', ')'])
        && !n.is_empty()
        && n.len() <= 2
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        text = rest.trim_start();
    }
    let unstarred = text.replace("**", "").replace("__", "");
    let mut text = unstarred.trim().trim_matches('`').trim().to_string();
    let mut language = None;
    if let Some((label, rest)) = text.split_once([':', '：'])
        && label.chars().count() <= 24
        && let Some(l) = label_language(label)
    {
        language = (!l.is_empty()).then(|| l.to_string());
        text = rest.trim().to_string();
    }
    let lower = text.to_lowercase();
    let chatty = [
        "sure",
        "here is",
        "here's",
        "okay",
        "certainly",
        "note:",
        "好的",
        "以下是",
    ];
    if text.is_empty() || text.ends_with([':', '：']) || chatty.iter().any(|c| lower.starts_with(c))
    {
        return None;
    }
    let text = unquote(&text);
    (!text.is_empty()).then_some((language, text))
}

/// `text` without the quotes around it (matched or not).
fn unquote(text: &str) -> String {
    let quotes = [
        '"', '\'', '“', '”', '‘', '’', '「', '」', '『', '』', '«', '»', '《', '》',
    ];
    text.trim()
        .trim_start_matches(quotes)
        .trim_end_matches(quotes)
        .trim()
        .to_string()
}

impl Index {
    fn restatement_table(&self) -> Result<(), KnowledgeError> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS restatements (
                question TEXT    NOT NULL,
                language TEXT    NOT NULL,
                model    TEXT    NOT NULL,
                text     TEXT    NOT NULL,
                made_ms  INTEGER NOT NULL,
                PRIMARY KEY (question, language, model)
            ) WITHOUT ROWID;",
        )?;
        Ok(())
    }

    /// The cached restatement of `question` in `language` by `model`.
    pub fn cached_restatement(
        &self,
        question: &str,
        language: &str,
        model: &str,
    ) -> Result<Option<String>, KnowledgeError> {
        let run = || -> Result<Option<String>, KnowledgeError> {
            self.restatement_table()?;
            Ok(self
                .conn
                .query_row(
                    "SELECT text FROM restatements
                     WHERE question = ?1 AND language = ?2 AND model = ?3",
                    params![question.trim(), language, model],
                    |r| r.get(0),
                )
                .optional()?)
        };
        run().map_err(|e| self.named(e))
    }

    /// Keep restatements of `question` by `model` (the oldest beyond the cache's size go).
    pub fn cache_restatements(
        &mut self,
        question: &str,
        model: &str,
        restated: &[Restated],
        now_ms: i64,
    ) -> Result<(), KnowledgeError> {
        let run = |index: &mut Index| -> Result<(), KnowledgeError> {
            index.restatement_table()?;
            let tx = index.conn.transaction()?;
            for r in restated {
                tx.execute(
                    "INSERT OR REPLACE INTO restatements (question, language, model, text, made_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![question.trim(), r.language, model, r.text, now_ms],
                )?;
            }
            tx.execute(
                "DELETE FROM restatements WHERE made_ms < (
                     SELECT made_ms FROM restatements ORDER BY made_ms DESC LIMIT 1 OFFSET ?1)",
                [CACHE_ROWS],
            )?;
            tx.commit()?;
            Ok(())
        };
        run(self).map_err(|e| self.named(e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn langs(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    fn one(reply: &str, question: &str, to: &str) -> Option<String> {
        parse(reply, question, &langs(&[to]))
            .into_iter()
            .next()
            .map(|r| r.text)
    }

    #[test]
    fn messy_replies_give_the_restated_question() {
        let zh = "出差到上海住酒店每晚最多报多少？";
        let want = Some("What is the nightly hotel limit for a trip to Shanghai?".to_string());
        let replies = [
            "What is the nightly hotel limit for a trip to Shanghai?",
            "\"What is the nightly hotel limit for a trip to Shanghai?\"",
            "English: What is the nightly hotel limit for a trip to Shanghai?",
            "**English:** “What is the nightly hotel limit for a trip to Shanghai?”",
            "Sure! Here is the translation:\n\nWhat is the nightly hotel limit for a trip to Shanghai?\n",
            "<think>The user wants English.\nOK.</think>\nWhat is the nightly hotel limit for a trip to Shanghai?",
            "- What is the nightly hotel limit for a trip to Shanghai?\nNote: \"报\" means reimburse.",
            "Translation: What is the nightly hotel limit for a trip to Shanghai?",
            "出差到上海住酒店每晚最多报多少？\nWhat is the nightly hotel limit for a trip to Shanghai?",
            "`What is the nightly hotel limit for a trip to Shanghai?`",
        ];
        for r in replies {
            assert_eq!(one(r, zh, "en"), want, "{r:?}");
        }
        let en = "How many days of annual leave can I carry over?";
        for r in [
            "年假可以结转多少天？",
            "中文：「年假可以结转多少天？」",
            "好的，以下是翻译：\n年假可以结转多少天？",
            "1. 年假可以结转多少天？",
        ] {
            assert_eq!(
                one(r, en, "zh").as_deref(),
                Some("年假可以结转多少天？"),
                "{r:?}"
            );
        }
    }

    #[test]
    fn replies_that_are_not_a_restatement_give_nothing() {
        let en = "How many days of annual leave can I carry over?";
        for r in [
            "",
            "   \n  ",
            "How many days of annual leave can I carry over?",
            "how many days of annual leave can i carry over",
            "Annual leave carry-over is five days.",
            "<think>unfinished reasoning 年假",
            &"很长的回答。".repeat(60),
        ] {
            // An English reply to a request for Chinese is no restatement.
            assert_eq!(one(r, en, "zh"), None, "{r:?}");
        }
    }

    #[test]
    fn several_languages_are_read_by_label_then_by_script() {
        let q = "Wie viele Urlaubstage?";
        let got = parse(
            "English: How many days of leave?\n中文：有多少天假？",
            q,
            &langs(&["en", "zh"]),
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].language, "en");
        assert_eq!(got[0].text, "How many days of leave?");
        assert_eq!(got[1].language, "zh");
        assert_eq!(got[1].text, "有多少天假？");
        // No labels: by script.
        let got = parse(
            "有多少天假？\nHow many days of leave?",
            q,
            &langs(&["en", "zh"]),
        );
        assert_eq!(got[0].text, "How many days of leave?");
        assert_eq!(got[1].text, "有多少天假？");
    }

    #[test]
    fn the_request_is_short_and_asks_for_the_line_only() {
        let r = request("年假可以结转吗？", &langs(&["en"]), "gpt-4o-mini");
        assert_eq!(r.model, "gpt-4o-mini");
        assert_eq!(r.max_output_tokens, Some(MAX_TOKENS));
        assert_eq!(r.messages.len(), 2);
        assert!(r.messages[0].content.contains("in English"));
        assert!(r.messages[0].content.contains("restated question only"));
        assert_eq!(r.messages[1].content, "年假可以结转吗？");
        let r = request("q", &langs(&["en", "de"]), "m");
        assert!(r.messages[0].content.contains("English, German"));
    }

    #[test]
    fn the_cache_keeps_restatements_per_question_language_and_model() {
        let mut index = Index::open_in_memory().unwrap();
        assert_eq!(index.cached_restatement("q", "en", "m").unwrap(), None);
        let r = Restated {
            language: "en".into(),
            text: "Hotel limit?".into(),
            cached: false,
        };
        index.cache_restatements(" q ", "m", &[r], 1).unwrap();
        assert_eq!(
            index.cached_restatement("q", "en", "m").unwrap().as_deref(),
            Some("Hotel limit?")
        );
        assert_eq!(index.cached_restatement("q", "en", "other").unwrap(), None);
        assert_eq!(index.cached_restatement("q", "zh", "m").unwrap(), None);
    }
}
