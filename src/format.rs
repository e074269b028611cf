//! Small formatting helpers shared by the command line and the app: sizes, numbers with
//! thousands separators, short token counts, money, and columns padded by terminal cells.
//!
//! Pure string functions; they depend on nothing but the standard library, the price
//! table's money format and the interface's language (units and nouns are translated).

pub use crate::config::models::format_usd as usd;
use crate::store::{Message, MessageStatus, Role, Session};

/// `text` followed by spaces up to `width` terminal cells, for columns whose texts are
/// translated (`format!`'s `{:<w}` counts characters, and a Chinese character takes two).
pub fn pad(text: &str, width: usize) -> String {
    let used = unicode_width::UnicodeWidthStr::width(text);
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

/// `text` after spaces up to `width` terminal cells (a right-aligned column, see [`pad`]).
pub fn pad_left(text: &str, width: usize) -> String {
    let used = unicode_width::UnicodeWidthStr::width(text);
    format!("{}{text}", " ".repeat(width.saturating_sub(used)))
}

/// 1536 → "2 KB", 2621440 → "2.5 MB", 5368709120 → "5.0 GB".
pub fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 * 1024 {
        format!("{:.1} GB", bytes as f64 / (1024.0 * 1024.0 * 1024.0))
    } else if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        tr!("size.bytes", n = bytes).into_owned()
    }
}

/// 4120 → "4,120".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a count counts (its words in each language are `count.*` in locales/common.yml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noun {
    Page,
    Row,
    Sheet,
    Slide,
    Model,
    Session,
    Message,
    Profile,
    KnowledgeBase,
}

/// A count and its noun in the interface's language: (1, Page) → "1 page", (1204, Row) →
/// "1,204 rows"; in Chinese "1,204 行".
pub fn counted(n: usize, noun: Noun) -> String {
    let n = thousands(n as u64);
    let one = n == "1";
    let text = match noun {
        Noun::Page if one => tr!("count.page.one", n = n),
        Noun::Page => tr!("count.page.other", n = n),
        Noun::Row if one => tr!("count.row.one", n = n),
        Noun::Row => tr!("count.row.other", n = n),
        Noun::Sheet if one => tr!("count.sheet.one", n = n),
        Noun::Sheet => tr!("count.sheet.other", n = n),
        Noun::Slide if one => tr!("count.slide.one", n = n),
        Noun::Slide => tr!("count.slide.other", n = n),
        Noun::Model if one => tr!("count.model.one", n = n),
        Noun::Model => tr!("count.model.other", n = n),
        Noun::Session if one => tr!("count.session.one", n = n),
        Noun::Session => tr!("count.session.other", n = n),
        Noun::Message if one => tr!("count.message.one", n = n),
        Noun::Message => tr!("count.message.other", n = n),
        Noun::Profile if one => tr!("count.profile.one", n = n),
        Noun::Profile => tr!("count.profile.other", n = n),
        Noun::KnowledgeBase if one => tr!("count.knowledge_base.one", n = n),
        Noun::KnowledgeBase => tr!("count.knowledge_base.other", n = n),
    };
    text.into_owned()
}

/// What a document's chip and description count, in the order shown: sheets, slides,
/// pages, rows ("2 sheets", "340 rows").
pub fn document_counts(
    sheets: Option<usize>,
    slides: Option<usize>,
    pages: Option<usize>,
    rows: Option<usize>,
) -> Vec<String> {
    [
        (sheets, Noun::Sheet),
        (slides, Noun::Slide),
        (pages, Noun::Page),
        (rows, Noun::Row),
    ]
    .into_iter()
    .filter_map(|(n, noun)| n.map(|n| counted(n, noun)))
    .collect()
}

/// 950 → "950", 45_300 → "45.3k", 1_200_000 → "1.2M".
pub fn short_tokens(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1_000_000.0)
    } else if n >= 1000 {
        format!("{:.1}k", n as f64 / 1000.0)
    } else {
        n.to_string()
    }
}

/// A local date-time like `2026-11-28 14:05`.
pub fn local_time(ms: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        _ => "?".to_string(),
    }
}

/// A session as Markdown: a title, then each message under a heading (what `clerk
/// sessions export` prints and the app's export writes).
pub fn session_markdown(session: &Session, messages: &[Message]) -> String {
    let mut md = format!(
        "# {}\n\n_Session {} · {} · {} · {}_\n\n",
        session.title,
        session.id,
        session.model,
        session.profile,
        local_time(session.created_ms)
    );
    if let Some(s) = &session.system_prompt {
        md.push_str(&format!("> System: {}\n\n", s.replace('\n', "\n> ")));
    }
    for m in messages {
        let who = match m.role {
            Role::User => "You",
            Role::Assistant => "Assistant",
            Role::System => "System",
        };
        md.push_str(&format!("## {who}\n\n"));
        md.push_str(m.content.trim_end());
        md.push_str("\n\n");
        if m.role == Role::Assistant {
            let mut facts = Vec::new();
            if m.status != MessageStatus::Complete {
                facts.push(format!(
                    "{}{}",
                    m.status.as_str(),
                    m.error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ));
            }
            let counted = m.usage.tokens_in.zip(m.usage.tokens_out);
            if let Some((i, o)) = counted {
                facts.push(format!("{i} in / {o} out tokens"));
            }
            if counted.is_some() || m.cost_usd.is_some() {
                facts.push(usd(m.cost_usd));
            }
            if !facts.is_empty() {
                md.push_str(&format!("_{}_\n\n", facts.join(" · ")));
            }
        }
    }
    md
}

/// A session as one JSON object, `{"session": …, "messages": […]}`, pretty-printed.
pub fn session_json(session: &Session, messages: &[Message]) -> String {
    let value = serde_json::json!({"session": session, "messages": messages});
    format!("{value:#}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sizes_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(4120), "4,120");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_size(900), "900 bytes");
        assert_eq!(human_size(1536), "2 KB");
        assert_eq!(human_size(2_621_440), "2.5 MB");
        assert_eq!(human_size(5 << 30), "5.0 GB");
        assert_eq!(short_tokens(950), "950");
        assert_eq!(short_tokens(45_300), "45.3k");
        assert_eq!(short_tokens(1_200_000), "1.2M");
        assert_eq!(usd(None), "cost unknown");
        assert_eq!(counted(1, Noun::Page), "1 page");
        assert_eq!(counted(1204, Noun::Row), "1,204 rows");
        assert_eq!(counted(2, Noun::KnowledgeBase), "2 knowledge bases");
        assert_eq!(
            document_counts(Some(2), None, None, Some(340)),
            ["2 sheets", "340 rows"]
        );
        assert_eq!(document_counts(None, Some(1), None, None), ["1 slide"]);
    }

    #[test]
    fn counts_sizes_and_money_follow_the_interfaces_language() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        assert_eq!(counted(1, Noun::Page), "1 页");
        assert_eq!(counted(1204, Noun::Row), "1,204 行");
        assert_eq!(
            document_counts(Some(2), Some(12), Some(312), None),
            ["2 个工作表", "12 张幻灯片", "312 页"]
        );
        assert_eq!(counted(3, Noun::Model), "3 个模型");
        assert_eq!(human_size(900), "900 字节");
        assert_eq!(human_size(1536), "2 KB");
        assert_eq!(usd(None), "费用未知");
        assert_eq!(usd(Some(1.5)), "$1.50");
    }
}
