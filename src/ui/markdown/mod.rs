//! Markdown to styled terminal lines, for the assistant's turns in the transcript.
//!
//! [`render`](fn@render) turns one message into [`Line`]s no wider than a given number of
//! terminal cells (widths measured with `unicode-width`, so CJK and emoji take two cells),
//! and lists the message's code blocks so the caller can copy them. [`render_plain`] wraps
//! text that is not Markdown (the user's own turns, notices).
//!
//! This module only lays text out. It must not draw, touch the terminal, read files or the
//! environment, or strip escape sequences: the caller has already removed those from the
//! text. It must not panic on any input, and no returned line may be wider than the width
//! asked for (for widths of 10 cells or more; narrower widths are best effort).
//!
//! State kept between calls: syntect's syntax and theme sets, loaded once on first use, and
//! a bounded cache of highlighted code blocks (syntect is by far the slowest part, and the
//! same blocks come back when the width changes or a streaming message grows).
//!
//! The work is split by job, in files private to this module: `wrap` measures characters
//! and breaks styled text into lines, `render` walks pulldown-cmark's events and lays out
//! the blocks (quotes, lists, code blocks, tables), and `highlight` runs syntect and keeps
//! the highlight cache. Only the items of this file are seen from outside.

mod highlight;
mod render;
mod wrap;

use pulldown_cmark::{Options, Parser};
use ratatui::style::Style;
use ratatui::text::Line;
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use render::Renderer;
use wrap::{Inline, wrap};

/// One fenced code block of a rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    /// 1-based position among the message's code blocks (shown as `[N]` in its header).
    pub number: usize,
    /// The fence's language token (`rust` in ```` ```rust ````), if any.
    pub lang: Option<String>,
    /// The code exactly, for copying: the block's lines joined with `\n`, without the
    /// newline that ends the last line.
    pub text: String,
    /// Index into [`Rendered::lines`] of the block's header line.
    pub first_line: usize,
}

/// A message rendered for a given width.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The lines, each no wider than the width asked for.
    pub lines: Vec<Line<'static>>,
    /// The message's code blocks, in order.
    pub code_blocks: Vec<CodeBlock>,
}

/// Render Markdown to lines no wider than `width` terminal cells.
///
/// Supports CommonMark plus tables, strikethrough and task lists. Code blocks are
/// highlighted with the syntect theme named by `theme.syntax` (none when it is empty or
/// unknown). An unclosed fence, as in a message still streaming, runs to the end.
pub fn render(markdown: &str, width: u16, theme: &Theme) -> Rendered {
    render_with(markdown, width, theme, true)
}

/// [`render`](fn@render), with code blocks highlighted only when `highlight` is true. The
/// lines are the same but for their colours, so a message laid out only to know its height
/// (near the view, not in it) skips syntect, by far the slowest step.
pub fn render_with(markdown: &str, width: u16, theme: &Theme, highlight: bool) -> Rendered {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut r = Renderer::new(theme, usize::from(width), highlight);
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.finish()
}

/// Wrap plain text (no Markdown) to `width` cells with `style` (used for the user's own turns).
///
/// Every `\n` starts a new line and leading spaces of a line are kept; lines are broken at
/// spaces, between CJK characters, and inside words longer than the width. Tabs become four
/// spaces and other control characters are dropped. Empty text gives one empty line.
pub fn render_plain(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    let mut inline = Inline::default();
    inline.push(text, style);
    wrap(&inline, usize::from(width).max(1))
        .into_iter()
        .map(|l| Line::from(l.spans))
        .collect()
}

/// Display width in cells of a string (unicode-width; CJK and emoji count 2).
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Color;
    use ratatui::text::Span;

    pub(super) fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    pub(super) fn dark() -> Theme {
        Theme::default_theme()
    }

    /// The span containing `needle` in any line.
    pub(super) fn span_with<'a>(lines: &'a [Line<'static>], needle: &str) -> &'a Span<'static> {
        lines
            .iter()
            .flat_map(|l| l.spans.iter())
            .find(|s| s.content.contains(needle))
            .unwrap_or_else(|| panic!("no span contains {needle:?} in {:?}", texts(lines)))
    }

    pub(super) fn assert_fits(lines: &[Line<'_>], width: usize, input: &str) {
        for (i, l) in lines.iter().enumerate() {
            let s: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            assert!(
                display_width(&s) <= width && l.width() <= width,
                "line {i} is {} cells at width {width}: {s:?}\ninput: {input:?}",
                display_width(&s)
            );
        }
    }

    #[test]
    fn rule_plain_text_and_breaks() {
        let t = dark();
        let r = render("a\n\n---\n\nb  \nc\nd", 12, &t);
        assert_eq!(
            texts(&r.lines),
            ["a", "", "─".repeat(12).as_str(), "", "b", "c d"]
        );
        assert_eq!(r.lines[2].spans[0].style, t.muted);
        let style = Style::default().fg(Color::Red);
        let lines = render_plain("  indented line that wraps\n\nsecond\tpart", 12, style);
        assert_eq!(
            texts(&lines),
            ["  indented", "line that", "wraps", "", "second", "part"]
        );
        assert!(
            lines
                .iter()
                .flat_map(|l| &l.spans)
                .all(|s| s.style == style)
        );
        assert_eq!(texts(&render_plain("", 10, style)), [""]);
        assert_eq!(display_width("a中👍🏽"), 5);
    }

    #[test]
    fn no_line_is_wider_than_the_width() {
        let long_word = "x".repeat(300);
        let deep_list: String = (0..30)
            .map(|i| format!("{}- level {i} item text\n", "  ".repeat(i)))
            .collect();
        let deep_quote = format!("{} deep quote text that goes on", ">".repeat(40));
        let wide_table = format!(
            "| {} |\n|{}|\n| {} |",
            (0..12)
                .map(|i| format!("列{i}标题"))
                .collect::<Vec<_>>()
                .join(" | "),
            "---|".repeat(12),
            (0..12)
                .map(|i| format!("value{i}{}", "z".repeat(i * 3)))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let corpus: Vec<String> = vec![
            "https://example.com/".to_string() + &"segment/".repeat(40),
            long_word,
            "中文没有空格".repeat(30),
            "日本語のテキスト、句読点。「括弧」も含む。".repeat(10),
            "한국어 텍스트와 English 가 섞인 문장입니다 ".repeat(10),
            "👍🏽👨\u{200D}👩\u{200D}👧\u{200D}👦🇫🇷🇯🇵❤\u{FE0F}".repeat(20),
            "a\u{301}\u{302}\u{303}".repeat(60),
            deep_list,
            deep_quote,
            wide_table,
            "| a | b |\n|---|---|\n| 中 | 文 |\n| x |".to_string(),
            "```rust\n".to_string() + &"let 变量 = \"字符串\t\twith tabs\"; // 注释 ".repeat(8) + "\n```",
            "```\n\t\tindented\u{7}bell\r\n```".to_string(),
            "    indented code block with a very long line of text in it ok".to_string(),
            "# A heading that is rather long and has a 中文 part and **bold** text".to_string(),
            "> - [x] quoted task with `inline code that is long` and [link](https://example.org/long/url/path)".to_string(),
            "1. a\n   1. b\n      1. c\n         1. d\n            1. e\n               ```\n               code here\n               ```".to_string(),
            "Tab\tseparated\u{0}nul\u{1b}esc and trailing spaces   \nhard break".to_string(),
            "---\n***\n___".to_string(),
            "![an image with a very long alt text that needs wrapping](https://x.y/z.png)".to_string(),
            "| 表 |\n|---|\n| ".to_string() + &"字".repeat(80) + " |",
            "<div>\nraw html block with long text inside that goes on and on\n</div>".to_string(),
        ];
        let t = dark();
        for input in &corpus {
            for width in [10u16, 11, 17, 40, 80, 120] {
                let r = render(input, width, &t);
                assert!(!r.lines.is_empty(), "{input:?}");
                assert_fits(&r.lines, usize::from(width), input);
                assert_fits(
                    &render_plain(input, width, t.text),
                    usize::from(width),
                    input,
                );
            }
        }
    }
}
