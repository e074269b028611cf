//! Drawing the template picker (matches grouped by category, with a preview) and the form
//! that fills a template's variables. Reads state only.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{
    Theme, centered, clip, dialog_block, field_spans, markdown::display_width, open_dialog,
    query_line, thousands,
};
use crate::app::forms::{Form, TemplateItem, is_choice, matches, multiline};
use crate::app::{App, TextField};
use crate::llm::sanitize::sanitize;
use crate::templates::VarKind;

fn kind_name(k: VarKind) -> std::borrow::Cow<'static, str> {
    match k {
        VarKind::Text => tr!("app.templates.kind.text"),
        VarKind::Multiline => tr!("app.templates.kind.multiline"),
        VarKind::Document => tr!("app.templates.kind.document"),
        VarKind::File => tr!("app.templates.kind.file"),
        VarKind::Choice => tr!("app.templates.kind.choice"),
        VarKind::Number => tr!("app.templates.kind.number"),
        VarKind::Kb => tr!("app.templates.kind.kb"),
    }
}

/// The picker: a list on the left, the selected template's preview on the right.
pub fn draw_picker(
    app: &App,
    query: &TextField,
    selected: usize,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let rect = centered(area, 110, area.height.saturating_sub(4).max(12));
    open_dialog(frame, rect, area);
    let block = dialog_block(&tr!("app.templates.title"), theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let rows = matches(&app.templates, query.as_str());
    let wide = inner.width >= 70;
    let [list_area, preview_area] = if wide {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(inner)
    } else {
        [inner, Rect::default()]
    };
    let mut lines = vec![query_line(query, theme), Line::default()];
    if app.templates.is_empty() {
        lines.push(Line::from(Span::styled(
            tr!("app.templates.loading"),
            theme.muted,
        )));
    } else if rows.is_empty() {
        lines.push(Line::from(Span::styled(
            tr!("app.templates.none"),
            theme.muted,
        )));
    }
    let width = list_area.width as usize;
    let mut category = "";
    let mut selected_line = 0;
    for (row, &i) in rows.iter().enumerate() {
        let t = &app.templates[i];
        if t.category != category {
            category = &t.category;
            lines.push(Line::from(Span::styled(sanitize(category), theme.heading)));
        }
        let sel = row == selected;
        if sel {
            selected_line = lines.len();
        }
        let marker = if sel { "▶ " } else { "  " };
        let tag = if t.problem.is_some() {
            format!(" ⚠ {}", tr!("app.templates.broken"))
        } else if t.workflow {
            format!(" · {}", tr!("app.templates.steps", n = t.steps.len()))
        } else {
            String::new()
        };
        let style = if sel {
            theme.selection.patch(theme.accent)
        } else if t.problem.is_some() {
            theme.warning
        } else {
            theme.text
        };
        let title = clip(
            &sanitize(&t.title),
            width.saturating_sub(display_width(&tag) + 3),
        );
        lines.push(Line::from(vec![
            Span::styled(format!("{marker}{title}"), style),
            Span::styled(tag, theme.muted),
        ]));
    }
    // Keep the selected row in view.
    let h = list_area.height as usize;
    let top = (selected_line + 2).saturating_sub(h);
    frame.render_widget(Paragraph::new(lines).scroll((top as u16, 0)), list_area);

    if !wide {
        return;
    }
    let Some(t) = rows.get(selected).and_then(|&i| app.templates.get(i)) else {
        return;
    };
    frame.render_widget(
        Paragraph::new(preview(t, theme)).wrap(Wrap { trim: false }),
        preview_area.inner(ratatui::layout::Margin::new(1, 0)),
    );
}

/// The preview of a template: what it does, where it comes from, its variables and prompt.
fn preview(t: &TemplateItem, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(Span::styled(sanitize(&t.title), theme.heading)),
        Line::from(Span::styled(
            format!("{} · {}", sanitize(&t.id), sanitize(&t.origin)),
            theme.muted,
        )),
    ];
    if let Some(p) = &t.problem {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            tr!("app.templates.cannot_run", problem = sanitize(p)),
            theme.error,
        )));
        return lines;
    }
    if !t.description.is_empty() {
        lines.push(Line::from(Span::styled(
            sanitize(&t.description),
            theme.text,
        )));
    }
    if !t.tags.is_empty() {
        lines.push(Line::from(Span::styled(
            tr!("app.templates.tags", tags = sanitize(&t.tags.join(", "))),
            theme.muted,
        )));
    }
    lines.push(Line::default());
    if !t.fields.is_empty() {
        lines.push(Line::from(Span::styled(
            tr!("app.templates.variables"),
            theme.accent,
        )));
        for f in &t.fields {
            let kind = if f.required && f.default.is_none() {
                tr!("app.templates.var", kind = kind_name(f.kind))
            } else {
                tr!("app.templates.var_optional", kind = kind_name(f.kind))
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {}", sanitize(&f.label)), theme.text),
                Span::styled(kind, theme.muted),
            ]));
        }
        lines.push(Line::default());
    }
    if t.workflow {
        lines.push(Line::from(Span::styled(
            tr!("app.templates.workflow", steps = t.steps.join(" → ")),
            theme.accent,
        )));
    } else {
        lines.push(Line::from(Span::styled(
            tr!("app.templates.prompt"),
            theme.accent,
        )));
    }
    for l in t.preview.lines().take(40) {
        lines.push(Line::from(Span::styled(sanitize(l), theme.muted)));
    }
    lines
}

/// The form: one block per variable, the focused one highlighted, problems under them.
pub fn draw_form(app: &App, form: &Form, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let _ = app;
    let rect = centered(area, 90, area.height.saturating_sub(4).max(10));
    open_dialog(frame, rect, area);
    let title = tr!("app.form.title", title = clip(&sanitize(&form.title), 40));
    let block = dialog_block(&title, theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut focus_line = 0;
    for (i, f) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        if focused {
            focus_line = lines.len();
        }
        let req = if f.spec.required && f.spec.default.is_none() {
            " *"
        } else {
            ""
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{}{}",
                    if focused { "▶ " } else { "  " },
                    sanitize(&f.spec.label)
                ),
                if focused {
                    theme.accent.patch(theme.selection)
                } else {
                    theme.accent
                },
            ),
            Span::styled(req, theme.error),
            Span::styled(format!("  {}", kind_name(f.spec.kind)), theme.muted),
        ]));
        let caret = if focused { "▏" } else { "" };
        match f.spec.kind {
            k if is_choice(k) => {
                let mut spans = vec![Span::raw("    ")];
                for o in &f.spec.options {
                    let on = o == f.value.as_str();
                    spans.push(Span::styled(
                        format!(" {} ", sanitize(o)),
                        if on {
                            theme.selection.patch(theme.accent)
                        } else {
                            theme.muted
                        },
                    ));
                }
                if focused {
                    spans.push(Span::styled("  ←/→", theme.muted));
                }
                lines.push(Line::from(spans));
            }
            k if multiline(k) => {
                let value = f.value.as_str();
                let n = value.lines().count();
                if k == VarKind::Document && (n > 6 || value.len() > 600) {
                    // A pasted document: its size, not its text.
                    lines.push(Line::from(Span::styled(
                        format!(
                            "    ▤ {}{caret}",
                            tr!(
                                "app.form.document_size",
                                lines = thousands(n as u64),
                                chars = thousands(value.chars().count() as u64),
                                tokens = thousands(value.len().div_ceil(4) as u64)
                            )
                        ),
                        theme.selection.patch(theme.accent),
                    )));
                } else if value.is_empty() {
                    lines.push(Line::from(vec![
                        Span::raw("    "),
                        Span::styled(caret, theme.accent),
                        Span::styled(
                            if k == VarKind::Document {
                                tr!("app.form.paste_here")
                            } else {
                                tr!("app.form.type_here")
                            },
                            theme.muted,
                        ),
                    ]));
                } else {
                    lines.extend(multiline_rows(&f.value, theme, focused));
                }
            }
            _ => {
                let mut spans = vec![Span::raw("    ")];
                spans.extend(field_spans(f.value.split(), theme, focused));
                lines.push(Line::from(spans));
            }
        }
        if let Some(p) = &f.problem {
            lines.push(Line::from(Span::styled(format!("    ⚠ {p}"), theme.error)));
        } else if focused && let Some(h) = &f.spec.help {
            lines.push(Line::from(Span::styled(
                format!("    {}", sanitize(h)),
                theme.muted,
            )));
        }
        if focused && f.spec.kind == VarKind::File {
            if form.completions.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("    {}", tr!("app.form.tab_completes")),
                    theme.muted,
                )));
            } else {
                lines.push(Line::from(Span::styled(
                    format!("    {}", sanitize(&form.completions.join("  "))),
                    theme.muted,
                )));
            }
        }
        lines.push(Line::default());
    }
    let h = inner.height as usize;
    let top = (focus_line + 4).saturating_sub(h);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((top as u16, 0)),
        inner,
    );
}

/// Up to six lines of a multi-line field, those around the cursor's line (the last ones
/// while typing at the end), the caret at the cursor when the field has the keys.
fn multiline_rows(value: &TextField, theme: &Theme, focused: bool) -> Vec<Line<'static>> {
    const SHOWN: usize = 6;
    let all: Vec<&str> = value.as_str().split('\n').collect();
    let (before, _) = value.split();
    let line = before.matches('\n').count();
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1);
    let first = line
        .saturating_sub(SHOWN - 1)
        .min(all.len().saturating_sub(SHOWN));
    all.iter()
        .enumerate()
        .skip(first)
        .take(SHOWN)
        .map(|(j, l)| {
            let mut spans = vec![Span::raw("    ")];
            if j == line {
                spans.extend(field_spans(l.split_at(column), theme, focused));
            } else {
                spans.push(Span::styled(sanitize(l), theme.text));
            }
            Line::from(spans)
        })
        .collect()
}
