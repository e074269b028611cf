//! Full-text search over finished messages, for English and for Chinese,
//! Japanese and Korean text.
//!
//! SQLite's FTS5 `unicode61` tokenizer keeps a run of CJK characters as one
//! token, so a word inside a Chinese sentence could never be found. The index
//! therefore holds a *segmented* copy of each message in which every CJK
//! character stands between U+200B ZERO WIDTH SPACE characters, declared as a
//! separator: each CJK character becomes its own token. Queries are segmented
//! the same way and every term is quoted as an FTS5 phrase, so a two-character
//! word must match two adjacent characters.
//!
//! This file must not pass user text raw into `MATCH` (always go through
//! [`match_query`]), must not index streaming messages (their text still
//! changes; `Store::update_partial` stays away from the index on purpose), and
//! must not return snippets that still contain U+200B.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::rows::text_to_role;
use super::types::{MessageId, SearchHit};
use super::{Store, StoreError};

/// The zero-width space put around every CJK character in the index.
pub(super) const ZWSP: char = '\u{200B}';

/// SQL creating the FTS5 table. The separator is the real U+200B character
/// inside the SQL text (the Rust escape below produces it).
pub(super) const CREATE_FTS_SQL: &str = "CREATE VIRTUAL TABLE messages_fts USING fts5(\
     message_id UNINDEXED, body, \
     tokenize = \"unicode61 remove_diacritics 2 separators '\u{200B}'\");";

/// How many of the most recent matching messages a search ranks by bm25.
/// Ranking every match of a very common word (say 70,000 of 200,000
/// messages) takes over 100 ms on a 2-core machine; this window keeps a
/// search on 200,000 messages under about 25 ms.
pub const RANK_WINDOW: usize = 2_000;

/// Tokens of context that `snippet()` shows around a match.
const SNIPPET_TOKENS: i64 = 12;

/// True for characters of the CJK scripts and their punctuation: Han
/// ideographs (all extensions), Hiragana, Katakana, Bopomofo, Hangul, CJK
/// symbols and punctuation, and halfwidth/fullwidth forms.
pub fn is_cjk(c: char) -> bool {
    matches!(
        u32::from(c),
        0x1100..=0x11FF       // Hangul Jamo
        | 0x2E80..=0x2FDF     // CJK Radicals Supplement, Kangxi Radicals
        | 0x2FF0..=0x2FFF     // Ideographic Description Characters
        | 0x3000..=0x303F     // CJK Symbols and Punctuation
        | 0x3040..=0x309F     // Hiragana
        | 0x30A0..=0x30FF     // Katakana
        | 0x3100..=0x312F     // Bopomofo
        | 0x3130..=0x318F     // Hangul Compatibility Jamo
        | 0x3190..=0x31FF     // Kanbun, Bopomofo Ext., CJK Strokes, Katakana Ext.
        | 0x3200..=0x33FF     // Enclosed CJK Letters and Months, CJK Compatibility
        | 0x3400..=0x4DBF     // CJK Unified Ideographs Extension A
        | 0x4E00..=0x9FFF     // CJK Unified Ideographs
        | 0xA960..=0xA97F     // Hangul Jamo Extended-A
        | 0xAC00..=0xD7AF     // Hangul Syllables
        | 0xD7B0..=0xD7FF     // Hangul Jamo Extended-B
        | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
        | 0xFE30..=0xFE4F     // CJK Compatibility Forms
        | 0xFF00..=0xFFEF     // Halfwidth and Fullwidth Forms
        | 0x1B000..=0x1B16F   // Kana Supplement, Kana Extended-A, Small Kana Ext.
        | 0x20000..=0x323AF // CJK Extensions B to H, Compatibility Supplement
    )
}

/// Returns `text` with every CJK character surrounded by U+200B, so that the
/// tokenizer sees each one as a separate token. Other text is unchanged.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for c in text.chars() {
        if is_cjk(c) {
            if !out.ends_with(ZWSP) {
                out.push(ZWSP);
            }
            out.push(c);
            out.push(ZWSP);
        } else {
            out.push(c);
        }
    }
    out
}

/// Builds a safe FTS5 `MATCH` expression from what a person typed, or `None`
/// when nothing in it can match (empty, or only punctuation).
///
/// The query is split on whitespace; each term is segmented like the index,
/// quoted as a phrase (`"` doubled) and the phrases are joined with spaces,
/// which FTS5 reads as AND. The last term gets prefix matching (`"reimb"*`)
/// unless it ends with a CJK character.
pub fn match_query(query: &str) -> Option<String> {
    let terms: Vec<&str> = query
        .split_whitespace()
        // A term without a letter or digit has no token: as a phrase it would
        // be empty, so it is left out rather than sent to FTS5.
        .filter(|term| term.chars().any(char::is_alphanumeric))
        .collect();
    let last = terms.len().checked_sub(1)?;
    let mut out = String::new();
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('"');
        out.push_str(&segment(term).replace('"', "\"\""));
        out.push('"');
        if i == last && !term.chars().next_back().is_some_and(is_cjk) {
            out.push('*');
        }
    }
    Some(out)
}

/// Puts (or replaces) the finished text of message `id` in the search index.
/// Must run inside the caller's transaction, together with the status change.
pub(super) fn index_message(
    conn: &Connection,
    id: MessageId,
    content: &str,
) -> rusqlite::Result<()> {
    let mut delete = conn.prepare_cached("DELETE FROM messages_fts WHERE rowid = ?1")?;
    delete.execute([id])?;
    let mut insert = conn
        .prepare_cached("INSERT INTO messages_fts (rowid, message_id, body) VALUES (?1, ?1, ?2)")?;
    insert.execute(params![id, segment(content)])?;
    Ok(())
}

impl Store {
    /// Full-text search over every finished message (archived sessions
    /// included), best matches first, at most `limit` hits.
    ///
    /// `marks` are put around each matched word in the snippet, e.g.
    /// `("[", "]")`. Any text is accepted as a query: FTS5 syntax in it is
    /// treated as plain words, and a query with no words gives no hits.
    ///
    /// Hits are ranked by bm25 among the [`RANK_WINDOW`] most recent matching
    /// messages (or `limit`, if larger): a query matching fewer messages is
    /// ranked over all of them; for a very common word, older messages are
    /// left out so that the search stays fast on a large history.
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        marks: (&str, &str),
    ) -> Result<Vec<SearchHit>, StoreError> {
        let _in = self.scope();
        self.search_in_window(query, limit, marks, RANK_WINDOW.max(limit))
    }

    fn search_in_window(
        &self,
        query: &str,
        limit: usize,
        marks: (&str, &str),
        window: usize,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let Some(expr) = match_query(query) else {
            return Ok(Vec::new());
        };
        if limit == 0 || window == 0 {
            return Ok(Vec::new());
        }

        // Stage 1: bm25 of the `window` most recent matches. FTS5 walks its
        // doclists newest first and stops there; ranking inside FTS5
        // (`ORDER BY rank`) would score every match instead.
        let mut scored: Vec<(MessageId, f64)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT rowid, bm25(messages_fts) FROM messages_fts
                 WHERE messages_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
            )?;
            let window = i64::try_from(window).unwrap_or(i64::MAX);
            stmt.query_map(params![expr, window], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        // Lower bm25 is better; the newer message wins a tie.
        scored.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        scored.truncate(limit);
        let (Some(lo), Some(hi)) = (
            scored.iter().map(|&(id, _)| id).min(),
            scored.iter().map(|&(id, _)| id).max(),
        ) else {
            return Ok(Vec::new());
        };

        // Stage 2: snippets and session data for the chosen ids only. The
        // rowid range bounds the scan; `+rowid IN (...)` is a plain filter
        // (not a per-id FTS5 lookup, which re-expands a prefix term each
        // time), checked before the snippet is built.
        let ids = {
            let list: Vec<String> = scored.iter().map(|(id, _)| id.to_string()).collect();
            format!("[{}]", list.join(","))
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT messages_fts.rowid, m.session_id, s.title, m.role,
                    snippet(messages_fts, 1, ?2, ?3, '…', ?4), m.created_ms
             FROM messages_fts
             CROSS JOIN messages AS m ON m.id = messages_fts.rowid
             CROSS JOIN sessions AS s ON s.id = m.session_id
             WHERE messages_fts MATCH ?1
               AND messages_fts.rowid BETWEEN ?5 AND ?6
               AND +messages_fts.rowid IN (SELECT value FROM json_each(?7))",
        )?;
        let rows = stmt.query_map(
            params![expr, marks.0, marks.1, SNIPPET_TOKENS, lo, hi, ids],
            |row| {
                let role: String = row.get(3)?;
                let snippet: String = row.get(4)?;
                Ok(SearchHit {
                    message_id: row.get(0)?,
                    session_id: row.get(1)?,
                    session_title: row.get(2)?,
                    role: text_to_role(3, &role)?,
                    snippet: snippet.replace(ZWSP, ""),
                    created_ms: row.get(5)?,
                    rank: 0.0,
                })
            },
        )?;
        let mut found: HashMap<MessageId, SearchHit> = HashMap::with_capacity(scored.len());
        for hit in rows {
            let hit = hit?;
            found.insert(hit.message_id, hit);
        }
        Ok(scored
            .into_iter()
            .filter_map(|(id, rank)| found.remove(&id).map(|hit| SearchHit { rank, ..hit }))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::types::{MessageFinish, MessageStatus, NewMessage, NewSession, Role, Usage};
    use super::*;

    fn store() -> Store {
        Store::open_in_memory().unwrap()
    }

    fn session(store: &mut Store, title: &str) -> i64 {
        store
            .create_session(&NewSession {
                title: title.into(),
                profile: "work".into(),
                model: "gpt-test".into(),
                system_prompt: None,
                now_ms: 1_000,
            })
            .unwrap()
    }

    fn say(store: &mut Store, session_id: i64, role: Role, text: &str) -> MessageId {
        store
            .add_message(&NewMessage {
                session_id,
                role,
                content: text.into(),
                status: MessageStatus::Complete,
                model: None,
                now_ms: 2_000,
            })
            .unwrap()
    }

    #[test]
    fn cjk_characters_are_recognised() {
        for c in ['报', '销', 'ア', 'あ', '한', '，', '。', 'Ａ', '𠀀'] {
            assert!(is_cjk(c), "{c} should be CJK");
        }
        for c in ['a', 'é', '1', ' ', ',', 'ж', '\u{200B}'] {
            assert!(!is_cjk(c), "{c:?} should not be CJK");
        }
    }

    #[test]
    fn segment_puts_zero_width_spaces_around_cjk_only() {
        assert_eq!(segment("VPN报销ok"), "VPN\u{200B}报\u{200B}销\u{200B}ok");
        assert_eq!(segment("plain text"), "plain text");
    }

    #[test]
    fn match_query_quotes_every_term() {
        assert_eq!(match_query("  "), None);
        assert_eq!(match_query("\" ( *"), None);
        assert_eq!(match_query("reimb"), Some("\"reimb\"*".into()));
        assert_eq!(match_query("say \"hi"), Some("\"say\" \"\"\"hi\"*".into()));
        assert_eq!(
            match_query("VPN 报销"),
            Some("\"VPN\" \"\u{200B}报\u{200B}销\u{200B}\"".into())
        );
    }

    #[test]
    fn english_search_ranks_and_highlights() {
        let mut s = store();
        let a = session(&mut s, "Travel");
        let once = say(
            &mut s,
            a,
            Role::User,
            "Please send the reimbursement form for my trip to Berlin today.",
        );
        let twice = say(
            &mut s,
            a,
            Role::Assistant,
            "The reimbursement form is attached; each reimbursement needs receipts.",
        );
        say(
            &mut s,
            a,
            Role::User,
            "Thanks, nothing else about the trip.",
        );

        let hits = s.search("reimbursement", 10, ("[", "]")).unwrap();
        let ids: Vec<_> = hits.iter().map(|h| h.message_id).collect();
        assert_eq!(ids, vec![twice, once]);
        assert!(hits[0].rank < hits[1].rank);
        assert!(
            hits[0].snippet.contains("[reimbursement]"),
            "{}",
            hits[0].snippet
        );
        assert_eq!(hits[0].session_title, "Travel");
        assert_eq!(hits[0].role, Role::Assistant);
        assert_eq!(hits[0].created_ms, 2_000);

        // Prefix matching on the last term.
        let prefix = s.search("reimb", 10, ("[", "]")).unwrap();
        assert_eq!(prefix.len(), 2);
        // Several terms are ANDed.
        let both = s.search("form Berlin", 10, ("[", "]")).unwrap();
        assert_eq!(
            both.iter().map(|h| h.message_id).collect::<Vec<_>>(),
            vec![once]
        );
        // The limit is honoured.
        assert_eq!(s.search("reimbursement", 1, ("[", "]")).unwrap().len(), 1);
    }

    #[test]
    fn chinese_word_inside_a_sentence_is_found() {
        let mut s = store();
        let a = session(&mut s, "差旅");
        let id = say(
            &mut s,
            a,
            Role::User,
            "我想了解差旅报销的流程，请问需要哪些材料？",
        );
        say(&mut s, a, Role::Assistant, "Nothing Chinese here.");

        let hits = s.search("报销", 10, ("【", "】")).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].message_id, id);
        assert!(hits[0].snippet.contains("【报销】"), "{}", hits[0].snippet);
        assert!(!hits[0].snippet.contains(ZWSP));
        assert!(hits[0].snippet.contains("差旅"));

        // A word made of characters that are not adjacent, or not present.
        assert!(s.search("审批", 10, ("【", "】")).unwrap().is_empty());
        assert!(s.search("报流", 10, ("【", "】")).unwrap().is_empty());
        // A single character is a word too.
        assert_eq!(s.search("材", 10, ("【", "】")).unwrap().len(), 1);
    }

    #[test]
    fn japanese_and_korean_words_are_found() {
        let mut s = store();
        let a = session(&mut s, "多言語");
        let ja = say(&mut s, a, Role::User, "経費精算のやり方を教えてください");
        let ko = say(&mut s, a, Role::User, "출장비정산 절차를 알려주세요");
        let hits = s.search("精算", 10, ("<", ">")).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
            vec![ja]
        );
        let hits = s.search("정산", 10, ("<", ">")).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
            vec![ko]
        );
    }

    #[test]
    fn mixed_query_needs_both_words() {
        let mut s = store();
        let a = session(&mut s, "IT");
        let both = say(&mut s, a, Role::User, "连不上VPN，报销系统打不开");
        say(&mut s, a, Role::User, "VPN is down again");
        say(&mut s, a, Role::User, "报销单已经提交");
        let hits = s.search("VPN 报销", 10, ("[", "]")).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
            vec![both]
        );
        assert!(hits[0].snippet.contains("[VPN]"), "{}", hits[0].snippet);
        assert!(hits[0].snippet.contains("[报销]"), "{}", hits[0].snippet);
    }

    #[test]
    fn hostile_queries_do_not_fail() {
        let mut s = store();
        let a = session(&mut s, "Odd");
        say(
            &mut s,
            a,
            Role::User,
            "foo bar AND baz (quoted) \"text\" NEAR x:y",
        );
        for q in [
            "\"", "AND", "*", "foo:bar", "(", ")", "OR", "NOT", "NEAR(", "a OR", "^x", "'", "\"\"",
            "-foo", "col:", "body:foo", "\u{200B}", "{a b}", "x + y", "",
        ] {
            let r = s.search(q, 10, ("[", "]"));
            assert!(r.is_ok(), "query {q:?} failed: {r:?}");
        }
        assert_eq!(s.search("foo:bar", 10, ("[", "]")).unwrap().len(), 1);
        assert_eq!(s.search("(quoted)", 10, ("[", "]")).unwrap().len(), 1);
        assert!(s.search("", 10, ("[", "]")).unwrap().is_empty());
    }

    #[test]
    fn streaming_text_is_not_searchable_until_finished() {
        let mut s = store();
        let a = session(&mut s, "Stream");
        let id = s
            .add_message(&NewMessage {
                session_id: a,
                role: Role::Assistant,
                content: String::new(),
                status: MessageStatus::Streaming,
                model: Some("gpt-test".into()),
                now_ms: 2_000,
            })
            .unwrap();
        s.update_partial(id, "the quarterly budget").unwrap();
        assert!(s.search("quarterly", 10, ("[", "]")).unwrap().is_empty());
        s.finish_message(
            id,
            &MessageFinish {
                content: "the quarterly budget is final".into(),
                status: MessageStatus::Complete,
                error: None,
                usage: Usage::default(),
                cost_usd: None,
                ttft_ms: None,
                duration_ms: None,
                now_ms: 3_000,
            },
        )
        .unwrap();
        let hits = s.search("quarterly", 10, ("[", "]")).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].message_id, id);
        // Finishing twice replaces the index entry instead of adding one.
        s.finish_message(
            id,
            &MessageFinish {
                content: "rewritten forecast".into(),
                status: MessageStatus::Complete,
                error: None,
                usage: Usage::default(),
                cost_usd: None,
                ttft_ms: None,
                duration_ms: None,
                now_ms: 4_000,
            },
        )
        .unwrap();
        assert!(s.search("quarterly", 10, ("[", "]")).unwrap().is_empty());
        assert_eq!(s.search("forecast", 10, ("[", "]")).unwrap().len(), 1);
    }

    #[test]
    fn common_words_are_ranked_among_recent_matches() {
        let mut s = store();
        let a = session(&mut s, "Window");
        let old = say(&mut s, a, Role::User, "ledger ledger ledger ledger entry");
        let mut recent = Vec::new();
        for i in 0..4 {
            recent.push(say(
                &mut s,
                a,
                Role::User,
                &format!("one ledger line number {i}"),
            ));
        }
        // Everything fits in the window: the best match wins.
        let all = s.search_in_window("ledger", 10, ("[", "]"), 10).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].message_id, old);
        // A window of 3 ranks only the three newest matches.
        let hits = s.search_in_window("ledger", 10, ("[", "]"), 3).unwrap();
        let mut ids: Vec<_> = hits.iter().map(|h| h.message_id).collect();
        ids.sort_unstable();
        assert_eq!(ids, recent[1..].to_vec());
        // The window never holds fewer than `limit` candidates.
        assert_eq!(s.search("ledger", 10, ("[", "]")).unwrap().len(), 5);
    }

    #[test]
    fn deleting_a_session_removes_its_hits() {
        let mut s = store();
        let a = session(&mut s, "Gone");
        let b = session(&mut s, "Kept");
        say(&mut s, a, Role::User, "invoice 报销 number one");
        let kept = say(&mut s, b, Role::User, "invoice 报销 number two");
        assert_eq!(s.search("invoice", 10, ("[", "]")).unwrap().len(), 2);
        assert!(s.delete_session(a).unwrap());
        let hits = s.search("invoice", 10, ("[", "]")).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
            vec![kept]
        );
        assert_eq!(s.search("报销", 10, ("[", "]")).unwrap().len(), 1);
        let rows: i64 = s
            .conn
            .query_row("SELECT count(*) FROM messages_fts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
    }
}
