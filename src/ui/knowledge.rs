//! Knowledge bases on screen: the sources listed under a grounded answer in the transcript,
//! and the three dialogs — the knowledge base picker, an answer's sources, one passage
//! (its text, file, heading path and page).
//!
//! Drawing only: it reads the [`App`] and the passages kept with an answer
//! ([`Grounding`]); which passages an answer cites was decided when it ended
//! (`knowledge::answer`), never here. Passage text is sanitized before it reaches the
//! terminal.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Theme, centered, clip, dialog_block, key_hint, open_dialog};
use crate::app::keymap::Command;
use crate::app::{App, Mode};
use crate::knowledge::cite::{cites_none_in, closest_in, place, sources_heading_in};
use crate::llm::sanitize::sanitize;
use crate::store::{Grounding, Source};

/// Where a passage is: `file › section, page 3`.
fn where_of(p: &Source) -> String {
    sanitize(&place(&p.path, &p.section, p.page))
}

/// The lines under a grounded answer: the sources it cites; or, when it cites none (or
/// nothing was asked), that the procedures do not cover the question and the passages
/// found, to read.
pub(super) fn sources_lines(app: &App, g: &Grounding) -> Vec<String> {
    let lang = g.language.as_str();
    let hint = match key_hint(app, Mode::Global, Command::Sources) {
        k if k.is_empty() => String::new(),
        k => tr!("app.sources.hint", key = k).into_owned(),
    };
    let mut out = Vec::new();
    if g.found() {
        // The heading carries the key hint, so it is in the interface's language (the
        // statements below follow the question's, as the answer does).
        out.push(format!(
            "{}{hint}{}",
            sources_heading_in(interface_language()),
            tr!("app.sources.colon")
        ));
        out.extend(g.cited().map(|(n, p)| format!("[{n}] {}", where_of(p))));
        return out;
    }
    if g.passages.is_empty() {
        return out;
    }
    if g.asked {
        out.push(cites_none_in(lang));
    } else {
        out.push(closest_in(lang).to_string());
    }
    out.extend(
        g.passages
            .iter()
            .enumerate()
            .map(|(i, p)| format!("[{}] {}", i + 1, where_of(p))),
    );
    out
}

/// The interface's language as the knowledge base's texts name languages (`en`, `zh`).
fn interface_language() -> &'static str {
    match crate::i18n::current() {
        crate::i18n::Language::Chinese => "zh",
        _ => "en",
    }
}

/// Rows the sources under an answer take (for the height estimate of an answer not drawn
/// yet).
pub(super) fn sources_rows(g: &Grounding) -> usize {
    match (g.found(), g.passages.is_empty()) {
        (true, _) => 1 + g.cited().count(),
        (false, true) => 0,
        (false, false) => 1 + g.passages.len(),
    }
}

/// A row of a list: `▶` and the selection's colours when selected.
fn row(text: String, selected: bool, theme: &Theme) -> Line<'static> {
    let style = if selected {
        theme.selection.patch(theme.accent)
    } else {
        theme.text
    };
    Line::from(Span::styled(
        format!("{} {text}", if selected { "▶" } else { " " }),
        style,
    ))
}

/// The knowledge base picker: "none", then each configured base and what it holds.
fn picker_lines(app: &App, selected: usize, inner: usize, theme: &Theme) -> Vec<Line<'static>> {
    let current = app.session_kb();
    let mut lines = vec![
        Line::from(Span::styled(tr!("app.kb.picker_about"), theme.muted)),
        Line::default(),
    ];
    let mark = |on: bool| if on { " ✓" } else { "" };
    lines.push(row(
        format!("{}{}", tr!("app.kb.picker_none"), mark(current.is_none())),
        selected == 0,
        theme,
    ));
    let pad = app
        .setup
        .knowledge
        .iter()
        .map(|b| super::markdown::display_width(&b.name))
        .max()
        .unwrap_or(0)
        + 2;
    for (i, b) in app.setup.knowledge.iter().enumerate() {
        let name = format!(
            "{}{}",
            sanitize(&b.name),
            mark(current == Some(b.name.as_str()))
        );
        let gap = " ".repeat(pad.saturating_sub(super::markdown::display_width(&name)));
        let text = format!("{name}{gap}");
        // One row each: what it holds is cut to the room left.
        let room = inner.saturating_sub(super::markdown::display_width(&text) + 2 + 3 + 2);
        let mut line = row(text, selected == i + 1, theme);
        line.spans.push(Span::styled(
            format!("   {}", clip(&sanitize(&b.about), room)),
            theme.muted,
        ));
        lines.push(line);
    }
    if app.setup.knowledge.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            tr!("app.kb.picker_empty"),
            theme.warning,
        )));
    } else if let Some(kb) = current.filter(|kb| !app.is_base(kb)) {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            tr!("app.kb.picker_gone", name = sanitize(kb)),
            theme.warning,
        )));
    }
    lines
}

/// An answer's passages: what the answer made of them, then one row each (cited ones
/// marked ✓) with the start of its text.
fn sources_dialog_lines(
    g: &Grounding,
    selected: usize,
    width: u16,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let lang = g.language.as_str();
    let n = g.passages.len();
    let bases = sanitize(&g.bases.join(", "));
    let head = if !g.asked {
        tr!(
            "app.sources.not_sent",
            not_found = crate::knowledge::cite::not_found_in(lang),
            bases = &bases
        )
        .into_owned()
    } else if g.found() {
        tr!(
            "app.sources.cites",
            cited = g.cited().count(),
            n = n,
            bases = &bases
        )
        .into_owned()
    } else {
        cites_none_in(lang)
    };
    let mut lines = vec![
        Line::from(Span::styled(
            head,
            if g.found() {
                theme.muted
            } else {
                theme.warning
            },
        )),
        Line::default(),
    ];
    // Two rows a passage whatever the width: its place, then the start of its text.
    let inner = usize::from(width.saturating_sub(2)).max(12);
    for (i, p) in g.passages.iter().enumerate() {
        let cited = if p.cited { "✓" } else { " " };
        lines.push(row(
            clip(&format!("[{}] {cited} {}", i + 1, where_of(p)), inner - 2),
            i == selected,
            theme,
        ));
        let start: String = sanitize(&p.text)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        lines.push(Line::from(Span::styled(
            format!("       {}", clip(&start, inner - 7)),
            theme.muted,
        )));
    }
    lines
}

/// One passage: where it is, whether the answer cites it, its text, and the file to open.
/// The text is drawn as Markdown (headings, lists, the tables CSV and spreadsheet rows
/// become) within `width` cells, but for plain text and PDF pages, drawn line by line.
fn passage_lines(g: &Grounding, n: usize, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let Some(p) = g.passages.get(n.wrapping_sub(1)) else {
        return vec![Line::from(Span::styled(
            tr!("app.passage.none"),
            theme.muted,
        ))];
    };
    let mut lines = vec![Line::from(Span::styled(sanitize(&p.path), theme.accent))];
    if !p.section.is_empty() {
        lines.push(Line::from(Span::styled(
            sanitize(&p.section),
            theme.heading,
        )));
    }
    if let Some(page) = p.page {
        lines.push(Line::from(Span::styled(
            tr!("app.passage.page", page = page),
            theme.text,
        )));
    }
    let cited = if p.cited {
        tr!("app.passage.cited")
    } else if g.asked {
        tr!("app.passage.not_cited")
    } else {
        tr!("app.passage.not_sent")
    };
    lines.push(Line::from(Span::styled(
        format!(
            "{} · {cited}",
            tr!("app.passage.base", name = sanitize(&p.base))
        ),
        theme.muted,
    )));
    lines.push(Line::default());
    let text = sanitize(p.text.trim());
    let plain = [".txt", ".pdf"]
        .iter()
        .any(|ext| p.path.to_ascii_lowercase().ends_with(ext));
    if plain {
        for l in text.lines() {
            lines.push(Line::from(Span::styled(l.to_string(), theme.text)));
        }
    } else {
        lines.extend(super::markdown::render(&text, width, theme).lines);
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        tr!(
            "app.passage.opens",
            file = sanitize(&p.file.display().to_string())
        ),
        theme.muted,
    )));
    lines
}

/// The passage dialog's rectangle and lines on `area`.
fn passage_layout(
    g: &Grounding,
    n: usize,
    theme: &Theme,
    area: Rect,
) -> (Rect, Vec<Line<'static>>) {
    let width = 96u16.min(area.width.saturating_sub(2));
    let lines = passage_lines(g, n, theme, width.saturating_sub(2));
    let rows = Paragraph::new(lines.clone())
        .wrap(Wrap { trim: false })
        .line_count(width.saturating_sub(2)) as u16;
    let height = (rows + 2).min(area.height.saturating_sub(4)).max(6);
    (centered(area, width, height), lines)
}

/// How far the passage dialog can scroll on `area`.
pub(super) fn passage_max_scroll(g: &Grounding, n: usize, theme: &Theme, area: Rect) -> u16 {
    let (rect, lines) = passage_layout(g, n, theme, area);
    let rows = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .line_count(rect.width.saturating_sub(2)) as u16;
    rows.saturating_sub(rect.height.saturating_sub(2))
}

/// Draw the picker, an answer's sources, or one passage.
pub(super) fn draw(
    app: &App,
    dialog: &crate::app::Dialog,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    use crate::app::Dialog;
    let (title, rect, lines, top) = match dialog {
        Dialog::Knowledge { selected } => {
            let width = 84;
            let inner =
                usize::from(width.min(area.width.saturating_sub(2)).saturating_sub(2)).max(1);
            let lines = picker_lines(app, *selected, inner, theme);
            let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
            (
                tr!("app.kb.picker_title").into_owned(),
                centered(area, width, rows as u16 + 2),
                lines,
                0,
            )
        }
        Dialog::Sources {
            grounding,
            selected,
        } => {
            let width = 96u16.min(area.width.saturating_sub(2));
            let lines = sources_dialog_lines(grounding, *selected, width, theme);
            let rows = Paragraph::new(lines.clone())
                .wrap(Wrap { trim: false })
                .line_count(width.saturating_sub(2)) as u16;
            (
                tr!("app.sources.title").into_owned(),
                centered(area, width, rows + 2),
                lines,
                0,
            )
        }
        Dialog::Passage {
            grounding,
            n,
            scroll,
        } => {
            let (rect, lines) = passage_layout(grounding, *n, theme, area);
            let max = passage_max_scroll(grounding, *n, theme, area);
            let more = if max > 0 {
                format!(" · {}", tr!("app.passage.scroll"))
            } else {
                String::new()
            };
            (
                tr!(
                    "app.passage.title",
                    n = n,
                    of = grounding.passages.len(),
                    more = more
                )
                .into_owned(),
                rect,
                lines,
                (*scroll).min(max),
            )
        }
        _ => return,
    };
    open_dialog(frame, rect, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(dialog_block(&title, theme))
            .wrap(Wrap { trim: false })
            .scroll((top, 0)),
        rect,
    );
}
