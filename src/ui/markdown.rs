//! TEMPORARY stand-in, replaced by the real renderer before commit.
#![allow(missing_docs)]
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    pub number: usize,
    pub lang: Option<String>,
    pub text: String,
    pub first_line: usize,
}
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub lines: Vec<Line<'static>>,
    pub code_blocks: Vec<CodeBlock>,
}
pub fn render(markdown: &str, width: u16, theme: &Theme) -> Rendered {
    Rendered {
        lines: render_plain(markdown, width, theme.text),
        code_blocks: vec![],
    }
}
pub fn render_plain(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for raw in text.split('\n') {
        let mut cur = String::new();
        for c in raw.chars() {
            if display_width(&cur) + display_width(c.encode_utf8(&mut [0; 4])) > width as usize {
                out.push(Line::from(Span::styled(std::mem::take(&mut cur), style)));
            }
            cur.push(c);
        }
        out.push(Line::from(Span::styled(cur, style)));
    }
    out
}
pub fn display_width(s: &str) -> usize {
    s.width()
}
