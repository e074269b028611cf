//! The compare view: the small picker of 2–4 models over the screen, then the panes side
//! by side (stacked in a narrow terminal, the chosen pane taller), each streaming its
//! answer as Markdown, with its figures (`compare::report::figures_line`, the CLI's
//! wording) or its error in red under it.
//!
//! Only reads the state; what the app must learn (each pane's lines and rows, to scroll)
//! is returned.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::markdown::{self, display_width};
use super::{Theme, centered, clip, dialog_block, open_dialog, pane, query_line};
use crate::app::compare::{Compare, MAX_MODELS, Pane, Stage, keys};
use crate::app::{App, Scroll};
use crate::compare::report::figures_line;
use crate::llm::sanitize::sanitize;

/// Panes go side by side from this width; below it they are stacked.
pub const SIDE_BY_SIDE: u16 = 100;

/// Draw the compare view; returns each pane's lines and rows as drawn.
pub(super) fn draw_compare(
    app: &App,
    c: &Compare,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) -> Vec<(usize, usize)> {
    match &c.stage {
        Stage::Choosing {
            filter,
            selected,
            chosen,
            hint,
        } => {
            draw_picker(
                app,
                c,
                (filter, *selected, chosen, hint),
                theme,
                frame,
                area,
            );
            Vec::new()
        }
        Stage::Running { panes, focus } => draw_panes(app, c, panes, *focus, theme, frame, area),
    }
}

type Picker<'a> = (
    &'a crate::app::TextField,
    usize,
    &'a [String],
    &'a Option<String>,
);

fn draw_picker(
    app: &App,
    c: &Compare,
    (filter, selected, chosen, hint): Picker<'_>,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let choices = app.model_choices(filter.as_str());
    let width = 64u16.min(area.width.saturating_sub(2));
    let inner = usize::from(width.saturating_sub(2));
    let mut lines = vec![
        Line::from(vec![
            Span::styled(tr!("app.compare.on"), theme.muted),
            Span::styled(
                clip(&sanitize(&one_line(&c.question)), inner.saturating_sub(4)),
                theme.text,
            ),
        ]),
        query_line(filter, theme),
    ];
    let room = usize::from(area.height.saturating_sub(8)).clamp(2, 12);
    let first = selected.saturating_sub(room.saturating_sub(1));
    if choices.is_empty() {
        lines.push(Line::from(Span::styled(
            tr!("app.models.none"),
            theme.muted,
        )));
    }
    for (i, e) in choices.iter().enumerate().skip(first).take(room) {
        let mark = match chosen.iter().position(|m| *m == e.name) {
            Some(n) => format!("[{}] ", n + 1),
            None => "[ ] ".to_string(),
        };
        let style = if i == selected {
            theme.selection.patch(theme.accent)
        } else if chosen.contains(&e.name) {
            theme.accent
        } else {
            theme.text
        };
        let mut spans = vec![
            Span::styled(mark, style),
            Span::styled(clip(&sanitize(&e.name), inner.saturating_sub(28)), style),
        ];
        if e.offered == Some(false) {
            spans.push(Span::styled(
                format!("  {}", tr!("app.compare.not_offered")),
                theme.warning,
            ));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    lines.push(match hint {
        Some(h) => Line::from(Span::styled(h.clone(), theme.warning)),
        None => Line::from(Span::styled(
            tr!("app.compare.chosen", n = chosen.len(), max = MAX_MODELS),
            theme.muted,
        )),
    });
    let rect = centered(area, width, lines.len() as u16 + 2);
    open_dialog(frame, rect, area);
    frame.render_widget(
        Paragraph::new(lines).block(dialog_block(&tr!("app.compare.picker_title"), theme)),
        rect,
    );
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn draw_panes(
    app: &App,
    c: &Compare,
    panes: &[Pane],
    focus: usize,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) -> Vec<(usize, usize)> {
    frame.render_widget(Block::default().style(theme.text), area);
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let title = format!("{} · ", tr!("app.compare.title"));
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(title.clone(), theme.accent),
            Span::styled(
                clip(
                    &sanitize(&one_line(&c.question)),
                    usize::from(head.width).saturating_sub(display_width(&title)),
                ),
                theme.text,
            ),
        ])),
        head,
    );
    let side = area.width >= SIDE_BY_SIDE;
    let rects = if side {
        Layout::horizontal(vec![Constraint::Fill(1); panes.len()]).split(body)
    } else {
        // Stacked: the chosen pane takes most of the height.
        Layout::vertical(
            (0..panes.len())
                .map(|i| Constraint::Fill(if i == focus { 4 } else { 1 }))
                .collect::<Vec<_>>(),
        )
        .split(body)
    };
    let drawn = panes
        .iter()
        .enumerate()
        .map(|(i, p)| draw_pane(p, i, i == focus, theme, frame, rects[i]))
        .collect();
    let hint = match &app.notice {
        Some(n) => Line::from(Span::styled(
            sanitize(&n.text),
            match n.level {
                crate::app::Level::Error => theme.error,
                crate::app::Level::Warn => theme.warning,
                crate::app::Level::Info => theme.accent,
            },
        )),
        None => {
            let close = if c.streaming() {
                tr!("app.compare.stops_all")
            } else {
                tr!("app.compare.closes")
            };
            let help = super::key_hint(app, crate::app::Mode::Global, crate::app::Command::Help);
            Line::from(Span::styled(
                tr!("app.compare.keys", close = close, help = help),
                theme.muted,
            ))
        }
    };
    frame.render_widget(Paragraph::new(hint), foot);
    drawn
}

/// One pane: its model as the title, the answer, and under it the figures or the error.
fn draw_pane(
    p: &Pane,
    i: usize,
    focused: bool,
    theme: &Theme,
    frame: &mut Frame<'_>,
    rect: Rect,
) -> (usize, usize) {
    let state = match (&p.ended, p.error()) {
        (None, _) if p.text.is_empty() => tr!("app.compare.waiting"),
        (None, _) => tr!("app.compare.streaming"),
        (Some(_), Some(_)) => tr!("app.compare.incomplete"),
        (Some(_), None) => tr!("app.compare.done"),
    };
    let title = format!("{} {} · {state}", i + 1, sanitize(&p.model));
    let block = pane(&title, focused, theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if inner.width == 0 || inner.height == 0 {
        return (0, 0);
    }
    let width = inner.width;
    let mut under: Vec<Line<'static>> = Vec::new();
    if let Some(w) = &p.waiting {
        under.push(Line::from(Span::styled(sanitize(w), theme.warning)));
    }
    if let Some(e) = p.error() {
        under.extend(markdown::render_plain(&sanitize(e), width, theme.error));
    }
    if let Some(f) = p.figures().filter(|f| f.answers() > 0) {
        under.extend(markdown::render_plain(
            &figures_line(&f),
            width,
            theme.muted,
        ));
    }
    // The answer keeps at least a row: what is under it is cut first.
    under.truncate(usize::from(inner.height.saturating_sub(1)).min(4));
    let [text_area, under_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(under.len() as u16)]).areas(inner);
    frame.render_widget(Paragraph::new(under), under_area);
    let lines = if p.text.is_empty() {
        Vec::new()
    } else {
        markdown::render(&sanitize(&p.text), width, theme).lines
    };
    let height = usize::from(text_area.height);
    let last = lines.len().saturating_sub(height);
    let top = match p.scroll {
        Scroll::Follow => last,
        Scroll::Top(t) => t.min(last),
    };
    let shown: Vec<Line<'static>> = lines.iter().skip(top).take(height).cloned().collect();
    frame.render_widget(Paragraph::new(shown), text_area);
    if top > 0 && text_area.width > 4 {
        let more = format!("↑{top}");
        let x = text_area.x + text_area.width - display_width(&more) as u16;
        frame.render_widget(
            Paragraph::new(Span::styled(more, theme.muted)),
            Rect::new(x, text_area.y, text_area.width - (x - text_area.x), 1),
        );
    }
    (lines.len(), height)
}

/// The help's section on the compare view (its keys are its own, listed in
/// `app::compare::keys`).
pub(super) fn help_lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(
        tr!("app.help.compare"),
        theme.heading,
    ))];
    for (keys, what) in keys() {
        lines.push(Line::from(vec![
            Span::styled(format!("  {keys:<18}"), theme.accent),
            Span::styled(what.to_string(), theme.text),
        ]));
    }
    lines.push(Line::default());
    lines
}
