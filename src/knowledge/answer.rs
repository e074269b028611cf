//! A grounded question inside a conversation, and what its answer keeps: the decisions the
//! app's answer task makes between retrieving passages ([`super::ground::retrieve`]) and
//! streaming the answer with the chat core, written here so they are tested without a
//! runtime.
//!
//! - [`decide`]: not found (nothing is sent, the answer is clerk's own "not found") or the
//!   conversation to send — the grounding rules after the session's system prompt, the
//!   numbered passages before the latest question, the earlier turns as they are (their
//!   passages are never sent again, nor stored as their text);
//! - [`record`] and [`mark_cited`]: the passages as kept with the answer
//!   ([`crate::store::Grounding`]), and which of them the answer cites, read from its text
//!   against clerk's own list ([`super::cite`]);
//! - [`follow_up`]: the conversation's previous question, searched with a follow-up;
//! - [`redact_passages`]: likely secrets in the passages replaced before they leave.
//!
//! Pure: no index, no network, no clock, no terminal. It must not import `app`, `ui`, `tui`
//! or `cli`.

use super::cite;
use super::ground::Grounded;
use crate::chat::Conversation;
use crate::llm::ChatRole;
use crate::store::{Grounding, Source};

/// What to do with a grounded question.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// The passages do not answer it: `text` ("not found in the procedures", in the
    /// question's language) is the answer, and nothing is sent.
    NotFound {
        /// The answer.
        text: &'static str,
        /// The closest passages, kept with it (`asked: false`).
        record: Grounding,
    },
    /// Send this conversation; `record` is kept with the answer (nothing cited yet).
    Send {
        /// The conversation as it is sent.
        conversation: Conversation,
        /// The passages given.
        record: Grounding,
    },
}

/// Decide what happens to the question that ends `c` (the session's conversation as
/// stored: its system prompt, earlier turns, and the question as asked), given the
/// passages found for it.
pub fn decide(g: &Grounded, c: Conversation) -> Next {
    if !g.found() {
        return Next::NotFound {
            text: g.not_found_text(),
            record: record(g, false),
        };
    }
    Next::Send {
        conversation: conversation(g, c),
        record: record(g, true),
    }
}

/// `c` as a grounded question is sent: the rules after the session's own system prompt
/// (added when it has none), and the last message — the question — preceded by the
/// numbered passages. The last message's stored row and token count are dropped: what is
/// sent is not what the history keeps, so no count of it may be kept with the question.
pub fn conversation(g: &Grounded, mut c: Conversation) -> Conversation {
    match c.messages.first_mut() {
        Some(m) if m.role == ChatRole::System => {
            m.content = g.system_prompt(Some(&m.content));
            c.tokens[0] = None;
        }
        _ => {
            c.messages.insert(
                0,
                crate::llm::ChatMessage {
                    role: ChatRole::System,
                    content: g.system_prompt(None),
                },
            );
            c.tokens.insert(0, None);
            c.rows.insert(0, None);
        }
    }
    let last = c.messages.len() - 1;
    if c.messages[last].role == ChatRole::User {
        c.messages[last].content = g.user_message_for(&c.messages[last].content);
    } else {
        // No question at the end (never from the store): the question itself goes last.
        c.messages.push(crate::llm::ChatMessage {
            role: ChatRole::User,
            content: g.user_message(),
        });
        c.tokens.push(None);
        c.rows.push(None);
    }
    let last = c.messages.len() - 1;
    c.tokens[last] = None;
    c.rows[last] = None;
    c
}

/// The passages found for `g`'s question as kept with its answer, none cited yet;
/// `asked`: whether they are sent to the model.
pub fn record(g: &Grounded, asked: bool) -> Grounding {
    let mut bases: Vec<String> = Vec::new();
    for h in g.hits() {
        if !bases.contains(&h.base) {
            bases.push(h.base.clone());
        }
    }
    Grounding {
        bases,
        language: g.language.clone(),
        asked,
        passages: g
            .hits()
            .iter()
            .map(|h| Source {
                base: h.base.clone(),
                path: h.path.clone(),
                file: h.abs_path.clone(),
                section: h.section.clone(),
                page: h.page,
                text: h.text.clone(),
                cited: false,
            })
            .collect(),
    }
}

/// Mark the passages `answer` cites (`[1]`, `[1][3]`, `【2】`…; numbers that are no passage
/// are ignored), and only those. Not found (nothing asked): nothing is cited.
pub fn mark_cited(record: &mut Grounding, answer: &str) {
    let cited = if record.asked {
        cite::cited_numbers(answer, record.passages.len())
    } else {
        Vec::new()
    };
    for (i, p) in record.passages.iter_mut().enumerate() {
        p.cited = cited.contains(&(i + 1));
    }
}

/// The question asked before the last one in `c`, for a follow-up ("and in Beijing?") to
/// be searched together with it.
pub fn follow_up(c: &Conversation) -> Option<String> {
    c.messages
        .iter()
        .rev()
        .filter(|m| m.role == ChatRole::User)
        .nth(1)
        .map(|m| m.content.clone())
        .filter(|q| !q.trim().is_empty())
}

/// Replace likely secrets in the passages with `[REDACTED:kind]` before they are sent (a
/// document in the procedures folder may hold a password); the passages changed, by
/// number.
pub fn redact_passages(g: &mut Grounded) -> Vec<usize> {
    let mut changed = Vec::new();
    for (i, h) in g.retrieval.hits.iter_mut().enumerate() {
        let found = crate::documents::secrets::scan(&h.text);
        if !found.is_empty() {
            h.text = crate::documents::secrets::redact(&h.text, &found);
            changed.push(i + 1);
        }
    }
    changed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::knowledge::Retrieval;
    use crate::knowledge::tests::hit;

    fn grounded(question: &str, found: bool) -> Grounded {
        Grounded {
            question: question.into(),
            language: if question.is_ascii() { "en" } else { "zh" }.into(),
            retrieval: Retrieval {
                hits: vec![
                    hit(
                        "handbook",
                        "travel.md",
                        "Travel › Hotels",
                        None,
                        "CNY 900 a night.",
                    ),
                    hit("handbook", "leave.pdf", "Leave", Some(4), "16 weeks."),
                    hit("it", "vpn.md", "", None, "Use the gateway."),
                ],
                found,
                ..Retrieval::default()
            },
            restatements: Vec::new(),
            notes: Vec::new(),
            requests: Vec::new(),
            bases: vec!["handbook".into()],
        }
    }

    fn stored(system: Option<&str>, turns: &[(ChatRole, &str)]) -> Conversation {
        let mut c = Conversation::default();
        if let Some(s) = system {
            c.push(ChatRole::System, s.into(), Some(3), None);
        }
        for (i, (role, text)) in turns.iter().enumerate() {
            c.push(*role, (*text).into(), Some(5), Some(i as i64 + 1));
        }
        c
    }

    #[test]
    fn not_found_sends_nothing_and_keeps_the_closest_passages_unasked() {
        let g = grounded("Can I bring my dog?", false);
        let c = stored(None, &[(ChatRole::User, "Can I bring my dog?")]);
        match decide(&g, c) {
            Next::NotFound { text, record } => {
                assert_eq!(text, "not found in the procedures");
                assert!(!record.asked);
                assert_eq!(record.passages.len(), 3);
                assert!(!record.found());
            }
            other => panic!("{other:?}"),
        }
        let zh = grounded("可以带狗来办公室吗？", false);
        match decide(&zh, Conversation::default()) {
            Next::NotFound { text, record } => {
                assert_eq!(text, "知识库中没有找到相关规定");
                assert_eq!(record.language, "zh");
            }
            other => panic!("{other:?}"),
        }
        // Found, but no passages: not found either.
        let mut empty = grounded("q", true);
        empty.retrieval.hits.clear();
        assert!(matches!(
            decide(&empty, Conversation::default()),
            Next::NotFound { .. }
        ));
    }

    #[test]
    fn a_found_question_is_sent_with_rules_and_passages_and_the_history_as_it_was() {
        let g = grounded("What is the hotel limit?", true);
        let c = stored(
            Some("Be brief."),
            &[
                (ChatRole::User, "Earlier question"),
                (ChatRole::Assistant, "Earlier answer [1]"),
                (ChatRole::User, "What is the hotel limit?"),
            ],
        );
        let Next::Send {
            conversation,
            record,
        } = decide(&g, c)
        else {
            panic!("found")
        };
        let m = &conversation.messages;
        assert_eq!(m.len(), 4);
        assert!(
            m[0].content.starts_with("Be brief.\n\n"),
            "{}",
            m[0].content
        );
        assert!(m[0].content.contains("Answer only from those passages"));
        assert_eq!(conversation.tokens[0], None, "the system prompt changed");
        assert_eq!(m[1].content, "Earlier question");
        assert_eq!(m[2].content, "Earlier answer [1]");
        assert_eq!(conversation.rows[1], Some(1));
        assert_eq!(conversation.tokens[1], Some(5));
        assert!(m[3].content.starts_with(
            "Passages from the knowledge base:\n\n<passage n=\"1\" file=\"travel.md\" section=\"Travel › Hotels\">"
        ));
        assert!(
            m[3].content
                .contains("<passage n=\"2\" file=\"leave.pdf\" section=\"Leave\" page=\"4\">")
        );
        assert!(m[3].content.ends_with("Question: What is the hotel limit?"));
        // No count of what is sent is kept with the stored question.
        assert_eq!(conversation.rows[3], None);
        assert_eq!(conversation.tokens[3], None);
        assert!(record.asked);
        assert_eq!(record.bases, ["handbook", "it"]);
        assert_eq!(record.passages[1].page, Some(4));
        assert_eq!(record.passages[1].file, PathBuf::from("/docs/leave.pdf"));
        assert!(record.passages.iter().all(|p| !p.cited));

        // Without a system prompt the rules are one.
        let c = stored(None, &[(ChatRole::User, "What is the hotel limit?")]);
        let sent = super::conversation(&g, c);
        assert_eq!(sent.messages.len(), 2);
        assert_eq!(sent.messages[0].role, ChatRole::System);
        assert!(sent.messages[0].content.starts_with("You answer questions"));
        assert_eq!(sent.rows, [None, None]);
    }

    #[test]
    fn only_the_passages_cited_are_marked_and_a_not_found_answer_cites_none() {
        let g = grounded("What is the hotel limit?", true);
        let mut r = record(&g, true);
        mark_cited(&mut r, "CNY 900 [1], and see 【3】. Not [9] nor [2024].");
        let cited: Vec<usize> = r.cited().map(|(n, _)| n).collect();
        assert_eq!(cited, [1, 3]);
        assert!(r.found());
        mark_cited(&mut r, "No passage answers this.");
        assert_eq!(r.cited().count(), 0);
        assert!(!r.found(), "an answer citing nothing is not found");
        let mut unasked = record(&g, false);
        mark_cited(&mut unasked, "[1]");
        assert_eq!(unasked.cited().count(), 0);
    }

    #[test]
    fn a_follow_up_is_searched_with_the_question_before_it() {
        let c = stored(
            Some("s"),
            &[
                (ChatRole::User, "Hotel limit in Shanghai?"),
                (ChatRole::Assistant, "CNY 900 [1]"),
                (ChatRole::User, "And in Beijing?"),
            ],
        );
        assert_eq!(follow_up(&c).as_deref(), Some("Hotel limit in Shanghai?"));
        let first = stored(None, &[(ChatRole::User, "Hotel limit?")]);
        assert_eq!(follow_up(&first), None);
    }

    #[test]
    fn secrets_in_passages_are_redacted_before_they_leave() {
        let mut g = grounded("q", true);
        g.retrieval.hits[1].text = "The VPN key is AKIA2QX7RTBWZ5JH4KDM, ask IT for yours.".into();
        assert_eq!(redact_passages(&mut g), [2]);
        assert!(!g.hits()[1].text.contains("AKIA2QX7RTBWZ5JH4KDM"));
        assert!(
            g.hits()[1].text.contains("[REDACTED"),
            "{}",
            g.hits()[1].text
        );
        assert_eq!(g.hits()[0].text, "CNY 900 a night.");
    }
}
