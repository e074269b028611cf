//! Small formatting helpers shared by the command line and the app: sizes, numbers with
//! thousands separators, short token counts, money, and columns padded by terminal cells.
//!
//! Pure string functions; they must not depend on anything but the standard library and
//! the price table's money format.

pub use crate::config::models::format_usd as usd;

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
        format!("{bytes} bytes")
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

/// A count and its noun: (1, "page") → "1 page", (1204, "row") → "1,204 rows".
pub fn counted(n: usize, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", thousands(n as u64))
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
        (sheets, "sheet"),
        (slides, "slide"),
        (pages, "page"),
        (rows, "row"),
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
        assert_eq!(counted(1, "page"), "1 page");
        assert_eq!(counted(1204, "row"), "1,204 rows");
        assert_eq!(
            document_counts(Some(2), None, None, Some(340)),
            ["2 sheets", "340 rows"]
        );
        assert_eq!(document_counts(None, Some(1), None, None), ["1 slide"]);
    }
}
