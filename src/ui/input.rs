//! The message box: its title (what sending will do, or the answer being written), the chips
//! of long pastes and attached files above the text, and the text area with its cursor.
//! Drawing only: it reads the [`App`]; editing the text is the app's.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, human_size, key_hint, pane, thousands};
use crate::app::keymap::Command;
use crate::app::{App, Focus, Mode};
use crate::format::document_counts;
use crate::llm::sanitize::sanitize;

/// Chips shown at most; more are summed up on one row.
const MAX_CHIPS: usize = 3;

/// Rows the paste chips take in the input box.
pub(super) fn chip_rows(app: &App) -> u16 {
    let n = app.pastes.len();
    (n.min(MAX_CHIPS) + usize::from(n > MAX_CHIPS)) as u16
}

/// The chips of long pastes: "▤ pasted 312 lines · 4,120 tokens".
fn chip_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (i, p) in app.pastes.iter().take(MAX_CHIPS).enumerate() {
        let tokens = match p.tokens {
            Some(t) => tr!("app.chip.tokens", n = thousands(t)).into_owned(),
            None => tr!("app.chip.counting").into_owned(),
        };
        let label = match &p.file {
            Some(f) => {
                let mut bits = vec![sanitize(&f.name), human_size(f.bytes)];
                bits.extend(document_counts(f.sheets, f.slides, f.pages, f.rows));
                bits.push(tokens.clone());
                if let Some(c) = f.cost {
                    bits.push(if c < 0.01 {
                        format!("${c:.4}")
                    } else {
                        format!("${c:.2}")
                    });
                }
                format!(" 📄 {} ", bits.join(" · "))
            }
            None => {
                let pasted = match p.lines {
                    1 => tr!("app.chip.pasted_one"),
                    n => tr!("app.chip.pasted", n = thousands(n as u64)),
                };
                format!(" ▤ {pasted} · {tokens} ")
            }
        };
        let mut spans = vec![Span::styled(label, theme.selection.patch(theme.accent))];
        if i == 0 {
            spans.push(Span::styled(
                format!(
                    "  {}",
                    tr!(
                        "app.chip.keys",
                        key = key_hint(app, Mode::Input, Command::ExpandPastes)
                    )
                ),
                theme.muted,
            ));
        }
        lines.push(Line::from(spans));
    }
    if app.pastes.len() > MAX_CHIPS {
        let rest = &app.pastes[MAX_CHIPS..];
        let lines_more: usize = rest.iter().map(|p| p.lines).sum();
        lines.push(Line::from(Span::styled(
            format!(
                " {}",
                tr!(
                    "app.chip.more",
                    n = rest.len(),
                    lines = thousands(lines_more as u64)
                )
            ),
            theme.muted,
        )));
    }
    lines
}

pub(super) fn draw_input(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let focused = app.focus == Focus::Input && app.dialog.is_none();
    let esc = key_hint(app, Mode::Global, Command::StopAnswer);
    let title = match (app.current_live(), app.editing_replaces()) {
        (Some(l), _) => {
            let step = l
                .step
                .as_deref()
                .map(|s| format!("{s} · "))
                .unwrap_or_default();
            l.waiting
                .clone()
                .unwrap_or_else(|| format!("{step}{}", tr!("app.input.writing", key = esc)))
        }
        (None, Some(0)) => tr!("app.input.editing", key = esc).into_owned(),
        (None, Some(n)) => tr!("app.input.editing_replaces", n = n, key = esc).into_owned(),
        (None, None) => tr!("app.input.title").into_owned(),
    };
    let block = pane(&title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let chips = chip_rows(app).min(inner.height.saturating_sub(1));
    let [chip_area, text_area] =
        Layout::vertical([Constraint::Length(chips), Constraint::Min(1)]).areas(inner);
    if chips > 0 {
        frame.render_widget(Paragraph::new(chip_lines(app, theme)), chip_area);
    }
    let mut input = app.input.clone();
    input.set_style(theme.text);
    input.set_cursor_line_style(Style::default());
    input.set_cursor_style(if focused {
        theme.text.add_modifier(Modifier::REVERSED)
    } else {
        theme.text
    });
    input.set_placeholder_text(tr!(
        "app.input.placeholder",
        send = key_hint(app, Mode::Input, Command::Send),
        newline = key_hint(app, Mode::Input, Command::Newline)
    ));
    input.set_placeholder_style(theme.muted);
    input.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
    frame.render_widget(&input, text_area);
}
