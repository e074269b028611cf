//! Wrapping of a help screen whose texts are Chinese.
//!
//! clap wraps help only at ASCII spaces, and Chinese sentences have none: a long one would
//! run past the terminal's edge and be folded back to its first column. So in Chinese clap
//! renders without wrapping and the lines are wrapped here: between any two Chinese
//! characters or at a space (never before a closing mark like `，` or `）`, never inside an
//! ASCII word), each continuation indented to where the line's text starts, as clap does.
//! It knows nothing of clap; it takes the rendered text (ANSI styles included) and a width.

use unicode_width::UnicodeWidthChar;

/// `text` with every line wider than `width` cells wrapped.
pub(super) fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        wrap_line(line, width, &mut out);
    }
    out
}

/// A piece of a line: one character, with the style codes written just before it.
struct Cell<'a> {
    styles: &'a str,
    ch: char,
    width: usize,
}

fn cells(text: &str) -> Vec<Cell<'_>> {
    let mut out = Vec::new();
    let mut styles_from = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        if ch == '\u{1b}' {
            styles_from.get_or_insert(i);
            // A CSI sequence: ESC [ … final byte in @..~.
            for (_, c) in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
            continue;
        }
        let styles = styles_from.map_or("", |from| &text[from..i]);
        styles_from = None;
        out.push(Cell {
            styles,
            ch,
            width: ch.width().unwrap_or(0),
        });
    }
    if let Some(from) = styles_from {
        // Styles at the end of the line (a reset): kept, on a cell of no width.
        out.push(Cell {
            styles: &text[from..],
            ch: '\0',
            width: 0,
        });
    }
    out
}

fn wide(c: char) -> bool {
    c.width().unwrap_or(0) > 1
}

/// Marks a line may not start with.
fn closing(c: char) -> bool {
    "，。、；：！？）》」』】”’,.;:!?)]}…".contains(c)
}

/// Marks a line may not end with.
fn opening(c: char) -> bool {
    "（《「『【“‘([{".contains(c)
}

/// Where the line's text starts: after its indentation, and after the first gap of two or
/// more spaces that follows something (the option or command name of a help line).
fn text_start(cells: &[Cell<'_>]) -> usize {
    let indent = cells.iter().take_while(|c| c.ch == ' ').count();
    let mut i = indent;
    while i + 1 < cells.len() {
        if cells[i].ch == ' ' && cells[i + 1].ch == ' ' {
            let mut j = i;
            while j < cells.len() && cells[j].ch == ' ' {
                j += 1;
            }
            if j < cells.len() {
                return j;
            }
            break;
        }
        i += 1;
    }
    indent
}

fn wrap_line(line: &str, width: usize, out: &mut String) {
    let cells = cells(line);
    let total: usize = cells.iter().map(|c| c.width).sum();
    if total <= width {
        out.push_str(line);
        return;
    }
    let start = text_start(&cells);
    let indent: usize = cells[..start].iter().map(|c| c.width).sum();
    if indent + 10 > width {
        out.push_str(line); // no room to wrap into
        return;
    }
    let push = |out: &mut String, cells: &[Cell<'_>]| {
        for c in cells {
            out.push_str(c.styles);
            if c.ch != '\0' {
                out.push(c.ch);
            }
        }
    };
    push(out, &cells[..start]);
    let text = &cells[start..];
    let room = width - indent;
    let mut from = 0;
    while from < text.len() {
        // The longest run from `from` that fits, ending at a place a line may break.
        let mut used = 0;
        let mut end = from;
        let mut last_break = None;
        while end < text.len() && used + text[end].width <= room {
            used += text[end].width;
            end += 1;
            if end < text.len() && may_break(&text[end - 1], &text[end]) {
                last_break = Some(end);
            }
        }
        let cut = match (end == text.len(), last_break) {
            (true, _) => end,
            (false, Some(b)) if b > from => b,
            _ => end.max(from + 1), // one word wider than the room: cut it
        };
        let mut shown = &text[from..cut];
        while shown.last().is_some_and(|c| c.ch == ' ') {
            shown = &shown[..shown.len() - 1];
        }
        push(out, shown);
        from = cut;
        while from < text.len() && text[from].ch == ' ' {
            from += 1;
        }
        if from < text.len() {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
    }
}

/// Whether a line may break between `a` and `b`.
fn may_break(a: &Cell<'_>, b: &Cell<'_>) -> bool {
    if b.ch == ' ' {
        return false; // break after the spaces, not before them
    }
    if a.ch == ' ' {
        return true;
    }
    (wide(a.ch) || wide(b.ch)) && !closing(b.ch) && !opening(a.ch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn chinese_text_wraps_under_its_column_and_never_before_a_closing_mark() {
        let line = "  doctor       逐步检查当前设置：配置、密钥、密钥环、代理、DNS、TCP、TLS、API、一次实际调用、历史记录、磁盘、终端；每项都附修复方法。";
        let wrapped = wrap(line, 60);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert!(lines.len() > 1, "{wrapped}");
        for l in &lines {
            assert!(l.width() <= 60, "{l:?}");
        }
        for l in &lines[1..] {
            assert!(l.starts_with(&" ".repeat(15)), "{l:?}");
            let first = l.trim_start().chars().next().unwrap();
            assert!(!closing(first), "{l:?}");
        }
        assert_eq!(wrapped.replace(['\n', ' '], ""), line.replace(' ', ""));
    }

    #[test]
    fn short_lines_ascii_words_and_styles_are_kept() {
        assert_eq!(wrap("用法：clerk ask", 80), "用法：clerk ask");
        let styled = "\u{1b}[1m--config\u{1b}[0m <FILE>   配置文件 abcdefghij klmnopqrst";
        let wrapped = wrap(styled, 40);
        assert!(
            wrapped.contains("\u{1b}[1m--config\u{1b}[0m"),
            "{wrapped:?}"
        );
        assert!(
            wrapped.contains("abcdefghij") && wrapped.contains("klmnopqrst"),
            "{wrapped:?}"
        );
    }
}
