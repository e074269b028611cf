//! Passages: a document's text cut along its structure into pieces a search can return
//! and an answer can cite.
//!
//! The text comes from [`crate::documents::extract`], which writes every format the same
//! Markdown-like way: `#` headings (Markdown, HTML, DOCX; `# Sheet: …` for XLSX and
//! `# Slide N: …` for PPTX), `--- page N ---` markers (PDF) and Markdown tables (CSV, XLSX,
//! DOCX tables). A passage never crosses a heading or a page; it keeps its heading path
//! ("Travel › Hotels › Limits by city") and its page. A section longer than
//! [`MAX_CHARS`] is cut at paragraphs, then lines, then sentences (with a little overlap,
//! [`OVERLAP_CHARS`], between its pieces); a table is cut between rows, its header repeated
//! in every piece. Sizes are counted in characters, not bytes, so Chinese passages hold as
//! much text as English ones.
//!
//! Pure: no IO, no analysis (that is [`super::analyze`]).

/// The most characters a passage holds (a heading path is not counted).
pub const MAX_CHARS: usize = 1_500;
/// Characters of the end of one piece of a split section repeated at the start of the next.
pub const OVERLAP_CHARS: usize = 150;
/// What separates the parts of a heading path.
pub const PATH_SEPARATOR: &str = " › ";

/// One passage of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// The headings it sits under, outermost first (empty before the first heading).
    pub path: Vec<String>,
    /// The PDF page it is on (1-based).
    pub page: Option<u32>,
    /// Its text, without the heading lines.
    pub text: String,
}

impl Passage {
    /// The heading path as shown: `Travel › Hotels › Limits by city`.
    pub fn section(&self) -> String {
        self.path.join(PATH_SEPARATOR)
    }
}

/// A run of text under one heading path, on one page.
struct Section {
    path: Vec<String>,
    page: Option<u32>,
    body: String,
}

/// Cut `text` into passages.
pub fn split(text: &str) -> Vec<Passage> {
    let mut out = Vec::new();
    for s in sections(text) {
        cut_section(&s, &mut out);
    }
    out
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `# Title` (one to six `#`, then a space) as (level, title).
fn heading(line: &str) -> Option<(usize, String)> {
    let t = line.trim_end();
    let level = t.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &t[level..];
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim();
    (!title.is_empty()).then(|| (level, title.to_string()))
}

/// `--- page N ---` as N.
fn page_marker(line: &str) -> Option<u32> {
    line.trim()
        .strip_prefix("--- page ")?
        .strip_suffix(" ---")?
        .trim()
        .parse()
        .ok()
}

fn sections(text: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut page = None;
    let mut body = String::new();
    let mut fence: Option<&str> = None;
    let flush = |stack: &[(usize, String)], page, body: &mut String, out: &mut Vec<Section>| {
        if !body.trim().is_empty() {
            out.push(Section {
                path: stack.iter().map(|(_, t)| t.clone()).collect(),
                page,
                body: std::mem::take(body),
            });
        }
        body.clear();
    };
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(open) = fence {
            if t.starts_with(open) {
                fence = None;
            }
        } else if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
        } else if let Some(n) = page_marker(line) {
            flush(&stack, page, &mut body, &mut out);
            page = Some(n);
            continue;
        } else if let Some((level, title)) = heading(line) {
            flush(&stack, page, &mut body, &mut out);
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            stack.push((level, title));
            continue;
        }
        body.push_str(line);
        body.push('\n');
    }
    flush(&stack, page, &mut body, &mut out);
    out
}

/// A piece of a section's text that packing never cuts further, with what joins it to
/// the piece before it.
struct Unit {
    text: String,
    joint: &'static str,
    /// Rows of a table (no overlap is taken from it: the header is repeated instead).
    table_rows: Option<(usize, usize)>,
}

fn cut_section(s: &Section, out: &mut Vec<Passage>) {
    let body = s.body.trim();
    let passage = |text: String, rows: Option<(usize, usize)>, split_table: bool| {
        let mut path = s.path.clone();
        if let (Some((a, b)), true) = (rows, split_table) {
            path.push(if a == b {
                format!("row {a}")
            } else {
                format!("rows {a}–{b}")
            });
        }
        Passage {
            path,
            page: s.page,
            text,
        }
    };
    if chars(body) <= MAX_CHARS {
        out.push(passage(body.to_string(), None, false));
        return;
    }
    let units = units(body);
    let split_table = units.iter().filter(|u| u.table_rows.is_some()).count() > 1;
    // Pack the units, up to MAX_CHARS each.
    let mut text = String::new();
    let mut rows: Option<(usize, usize)> = None;
    let mut last: Option<&Unit> = None;
    for u in &units {
        let joined = chars(&text) + chars(u.joint) + chars(&u.text);
        if !text.is_empty() && joined > MAX_CHARS {
            out.push(passage(std::mem::take(&mut text), rows.take(), split_table));
            // Overlap: the end of the text before, when it was prose and room is left.
            if let Some(prev) = last.filter(|p| p.table_rows.is_none() && u.table_rows.is_none()) {
                let tail = tail(&prev.text, OVERLAP_CHARS);
                if !tail.is_empty() && chars(tail) + 1 + chars(&u.text) <= MAX_CHARS {
                    text.push_str(tail);
                    // Chinese runs on without a space.
                    if tail.ends_with(|c: char| c.is_ascii())
                        || u.text.starts_with(|c: char| c.is_ascii())
                    {
                        text.push(' ');
                    }
                }
            }
        } else if !text.is_empty() {
            text.push_str(u.joint);
        }
        text.push_str(&u.text);
        if let Some((a, b)) = u.table_rows {
            rows = Some(rows.map_or((a, b), |(a0, _)| (a0, b)));
        }
        last = Some(u);
    }
    if !text.trim().is_empty() {
        out.push(passage(text, rows, split_table));
    }
}

/// The end of `text`, at most `max` characters, starting at a sentence or word boundary.
fn tail(text: &str, max: usize) -> &str {
    let n = chars(text);
    if n <= max {
        return text;
    }
    let start = text
        .char_indices()
        .nth(n - max)
        .map_or(text.len(), |(i, _)| i);
    let rest = &text[start..];
    // Prefer the start of a sentence, then of a word.
    if let Some(i) = sentence_ends(rest)
        .first()
        .copied()
        .filter(|&i| i < rest.len())
    {
        return rest[i..].trim_start();
    }
    match rest.find(char::is_whitespace) {
        Some(i) => rest[i..].trim_start(),
        None => rest,
    }
}

/// Byte offsets just after each sentence end in `text` (`.`, `!`, `?`, `;` before a space;
/// `。！？；` anywhere).
fn sentence_ends(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let end = i + c.len_utf8();
        match c {
            '。' | '！' | '？' | '；' => out.push(end),
            '.' | '!' | '?' | ';' if it.peek().is_some_and(|(_, n)| n.is_whitespace()) => {
                out.push(end)
            }
            _ => {}
        }
    }
    out
}

/// The section's text as units of at most [`MAX_CHARS`]: paragraphs; a long one by lines;
/// a long line by sentences; a long sentence by characters; a table by groups of rows, its
/// header first in each.
fn units(body: &str) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut row_no = 0;
    for (pi, para) in body.split("\n\n").enumerate() {
        let para = para.trim_matches('\n');
        if para.trim().is_empty() {
            continue;
        }
        let joint = if pi == 0 || out.is_empty() {
            ""
        } else {
            "\n\n"
        };
        if is_table(para) {
            table_units(para, joint, &mut row_no, &mut out);
            continue;
        }
        if chars(para) <= MAX_CHARS {
            out.push(Unit {
                text: para.to_string(),
                joint,
                table_rows: None,
            });
            continue;
        }
        let mut joint = joint;
        for line in para.lines().filter(|l| !l.trim().is_empty()) {
            if chars(line) <= MAX_CHARS {
                out.push(Unit {
                    text: line.to_string(),
                    joint,
                    table_rows: None,
                });
            } else {
                sentence_units(line, joint, &mut out);
            }
            joint = "\n";
        }
    }
    out
}

fn sentence_units(line: &str, joint: &'static str, out: &mut Vec<Unit>) {
    let mut joint = joint;
    let mut start = 0;
    let mut ends = sentence_ends(line);
    ends.push(line.len());
    for end in ends {
        if end <= start {
            continue;
        }
        let sentence = line[start..end].trim();
        start = end;
        if sentence.is_empty() {
            continue;
        }
        // Text between CJK sentences has no space; English sentences are joined by one.
        let sep = if sentence.starts_with(|c: char| c.is_ascii()) {
            " "
        } else {
            ""
        };
        let mut rest = sentence;
        while !rest.is_empty() {
            // Room is left for the overlap before each piece.
            let cut = rest
                .char_indices()
                .nth(MAX_CHARS - OVERLAP_CHARS - 1)
                .map_or(rest.len(), |(i, _)| i);
            out.push(Unit {
                text: rest[..cut].to_string(),
                joint,
                table_rows: None,
            });
            rest = &rest[cut..];
            joint = "";
        }
        joint = sep;
    }
}

/// A Markdown table: every line starts with `|` and the second is the `|---|` rule.
fn is_table(para: &str) -> bool {
    let mut lines = para.lines();
    let (Some(first), Some(rule)) = (lines.next(), lines.next()) else {
        return false;
    };
    first.trim_start().starts_with('|')
        && rule.contains('-')
        && rule
            .trim()
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' '))
        && para.lines().all(|l| l.trim_start().starts_with('|'))
}

fn table_units(para: &str, joint: &'static str, row_no: &mut usize, out: &mut Vec<Unit>) {
    let mut lines = para.lines();
    let header = format!(
        "{}\n{}",
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default()
    );
    let mut group = String::new();
    let mut first_row = *row_no + 1;
    let mut joint = joint;
    let mut emit = |group: &mut String, first: usize, last: usize, joint: &mut &'static str| {
        let before: &'static str = joint;
        out.push(Unit {
            text: format!("{header}\n{}", group.trim_end()),
            joint: before,
            table_rows: Some((first, last)),
        });
        group.clear();
        *joint = "\n\n";
    };
    for row in lines {
        let row = if chars(row) > MAX_CHARS / 2 {
            row.chars().take(MAX_CHARS / 2).collect::<String>()
        } else {
            row.to_string()
        };
        if !group.is_empty() && chars(&header) + chars(&group) + chars(&row) + 2 > MAX_CHARS {
            emit(&mut group, first_row, *row_no, &mut joint);
            first_row = *row_no + 1;
        }
        *row_no += 1;
        group.push_str(&row);
        group.push('\n');
    }
    if !group.is_empty() {
        emit(&mut group, first_row, *row_no, &mut joint);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn headings_make_the_path_and_text_before_them_has_none() {
        let text = "Intro line.\n\n# Travel\n\nGeneral rules.\n\n## Hotels\n\nBook through the portal.\n\n### Limits by city\n\nShanghai: 900.\n\n## Meals\n\nUp to 200 a day.\n\n# Leave 休假\n\n年假五天。\n";
        let p = split(text);
        let got: Vec<(String, &str)> = p.iter().map(|p| (p.section(), p.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (String::new(), "Intro line."),
                ("Travel".into(), "General rules."),
                ("Travel › Hotels".into(), "Book through the portal."),
                ("Travel › Hotels › Limits by city".into(), "Shanghai: 900."),
                ("Travel › Meals".into(), "Up to 200 a day."),
                ("Leave 休假".into(), "年假五天。"),
            ]
        );
        assert!(p.iter().all(|p| p.page.is_none()));
    }

    #[test]
    fn a_hash_in_code_or_without_a_space_is_not_a_heading() {
        let text = "# Setup\n\n```sh\n# not a heading\necho hi\n```\n\n#hashtag stays\n";
        let p = split(text);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].section(), "Setup");
        assert!(p[0].text.contains("# not a heading"));
        assert!(p[0].text.contains("#hashtag stays"));
    }

    #[test]
    fn pdf_pages_split_passages_and_are_kept() {
        let text = "--- page 1 ---\nFirst page text.\n\n--- page 2 ---\nSecond page.\n\n--- page 3 ---\n\n--- page 4 ---\n第四页。";
        let p = split(text);
        let got: Vec<(Option<u32>, &str)> = p.iter().map(|p| (p.page, p.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (Some(1), "First page text."),
                (Some(2), "Second page."),
                (Some(4), "第四页。")
            ]
        );
    }

    #[test]
    fn slides_and_sheets_are_sections() {
        let text = "# Slide 1: Hotel limits\n\nBook early.\n\n# Sheet: Budget 预算\n\n| Item | Cost |\n|---|---|\n| Hotel | 900 |\n";
        let p = split(text);
        assert_eq!(p[0].section(), "Slide 1: Hotel limits");
        assert_eq!(p[1].section(), "Sheet: Budget 预算");
        assert!(p[1].text.starts_with("| Item | Cost |"));
    }

    #[test]
    fn csv_rows_are_grouped_with_the_header_repeated() {
        let mut text = String::from("| City 城市 | Hotel limit | Meals |\n|---|---|---|\n");
        for i in 1..=200 {
            text.push_str(&format!(
                "| City number {i} | {} | {} |\n",
                400 + i,
                100 + i
            ));
        }
        let p = split(&text);
        assert!(p.len() >= 5, "{}", p.len());
        let mut next_row = 1;
        for (i, passage) in p.iter().enumerate() {
            assert!(chars(&passage.text) <= MAX_CHARS, "{i}");
            assert!(
                passage.text.starts_with(
                    "| City 城市 | Hotel limit | Meals |\n|---|---|---|\n| City number"
                ),
                "{i}: {}",
                passage.text
            );
            // Every row once, in order, and the path says which.
            let rows: Vec<&str> = passage.text.lines().skip(2).collect();
            let first = format!("| City number {next_row} |");
            assert!(rows[0].starts_with(&first), "{i}: {}", rows[0]);
            let last = next_row + rows.len() - 1;
            assert_eq!(passage.section(), format!("rows {next_row}–{last}"));
            next_row = last + 1;
        }
        assert_eq!(next_row, 201);
    }

    #[test]
    fn sizes_are_in_characters_so_chinese_passages_are_as_long_as_english_ones() {
        let zh_sentence = "员工出差期间的住宿费用按照城市等级实行限额管理，超出部分由个人承担。";
        let en_sentence = "Hotel costs during business travel are capped by city tier, and any excess is paid by the employee. ";
        let zh = format!("# 差旅\n\n{}", zh_sentence.repeat(200));
        let en = format!("# Travel\n\n{}", en_sentence.repeat(60));
        let zp = split(&zh);
        let ep = split(&en);
        for p in zp.iter().chain(&ep) {
            assert!(chars(&p.text) <= MAX_CHARS, "{}", chars(&p.text));
        }
        // All but the last are nearly full, in characters (a Chinese passage is 3x the
        // bytes of its characters).
        for p in &zp[..zp.len() - 1] {
            assert!(chars(&p.text) >= 1_200, "{}", chars(&p.text));
            assert!(p.text.len() > 3_000);
        }
        for p in &ep[..ep.len() - 1] {
            assert!(chars(&p.text) >= 1_200, "{}", chars(&p.text));
        }
        // Cut at sentence ends, with a sentence of overlap.
        assert!(zp[0].text.ends_with('。'));
        assert!(zp[1].text.starts_with(zh_sentence), "{}", &zp[1].text[..60]);
        assert!(
            ep[1].text.starts_with("Hotel costs"),
            "{}",
            &ep[1].text[..60]
        );
        assert!(zp.iter().all(|p| p.section() == "差旅"));
    }

    #[test]
    fn long_sections_cut_at_paragraphs_keep_every_paragraph() {
        let paras: Vec<String> = (1..=30)
            .map(|i| format!("Paragraph {i}: {}", "approval steps and forms ".repeat(8)))
            .collect();
        let text = format!("# Purchasing\n\n{}", paras.join("\n\n"));
        let p = split(&text);
        assert!(p.len() >= 4);
        for para in &paras {
            assert!(p.iter().any(|p| p.text.contains(para.trim())), "{para}");
        }
        // A paragraph is never cut: a passage starts at one (after the overlap).
        for w in p.windows(2) {
            assert!(w[1].text.contains("Paragraph "));
        }
        // A single line longer than a passage with no sentence end is cut at characters.
        let long = format!("# X\n\n{}", "字".repeat(4_000));
        let p = split(&long);
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|p| chars(&p.text) <= MAX_CHARS));
        let total: usize = p.iter().map(|p| chars(&p.text)).sum();
        assert_eq!(
            total,
            4_000 + 2 * OVERLAP_CHARS,
            "every character, and two overlaps"
        );
    }
}
