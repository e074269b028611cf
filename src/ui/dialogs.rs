//! Every dialog drawn over the screen: keys (help, generated from the keymap), search across
//! sessions, attaching a file, before sending (secrets, size, cost), the secrets found in a
//! template's values, rename, delete, quit, theme, model, system prompt and the API key. The
//! template picker and form are drawn by `forms`. Drawing only: it reads the [`App`] and the
//! open [`Dialog`]; keys in a dialog are handled by the app.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::markdown::display_width;
use super::{
    Theme, centered, clip, dialog_block, field_spans, forms, open_dialog, query_line, thousands,
};
use crate::app::keymap::Key;
use crate::app::{App, Dialog, Mode, edit};
use crate::config::models::format_prices;
use crate::format::short_tokens;
use crate::llm::sanitize::sanitize;
use crate::store::Role;
use ratatui::crossterm::event::KeyEvent;

/// What the before-sending dialog says and offers.
fn before_send_lines(check: &crate::app::attach::Check, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let key = |k: &str, what: std::borrow::Cow<'static, str>| {
        vec![
            Span::styled(format!(" {k} "), theme.selection.patch(theme.accent)),
            Span::styled(format!(" {what}   "), theme.text),
        ]
    };
    let money = |c: Option<f64>| match c {
        Some(c) if c < 0.01 => format!("${c:.4}"),
        Some(c) => format!("${c:.2}"),
        None => tr!("app.before.cost_unknown").into_owned(),
    };
    if !check.found.is_empty() {
        lines.push(Line::from(Span::styled(
            match check.found.len() {
                1 => tr!("app.before.secrets_one"),
                n => tr!("app.before.secrets", n = n),
            },
            theme.warning,
        )));
        for f in check.found.iter().take(6) {
            lines.push(Line::from(Span::styled(
                format!(
                    "  {}",
                    tr!(
                        "app.before.secret_line",
                        line = f.line,
                        label = f.label,
                        preview = sanitize(&f.preview)
                    )
                ),
                theme.text,
            )));
        }
        if check.found.len() > 6 {
            lines.push(Line::from(Span::styled(
                format!(
                    "  {}",
                    tr!("app.before.and_more", n = check.found.len() - 6)
                ),
                theme.muted,
            )));
        }
        match check.redact {
            None => {
                let mut spans = key("r", tr!("app.before.redact"));
                spans.extend(key("s", tr!("app.before.send_anyway")));
                spans.extend(key("Esc", tr!("app.cancel")));
                lines.push(Line::from(spans));
            }
            Some(true) => lines.push(Line::from(Span::styled(
                format!("  → {}", tr!("app.before.will_redact")),
                theme.muted,
            ))),
            Some(false) => lines.push(Line::from(Span::styled(
                format!("  → {}", tr!("app.before.will_send")),
                theme.muted,
            ))),
        }
        if check.parts.is_some() || check.over_limit {
            lines.push(Line::default());
        }
    }
    let secrets_open = !check.found.is_empty() && check.redact.is_none();
    if let Some((parts, requests)) = check.parts {
        lines.push(Line::from(Span::styled(
            tr!(
                "app.before.too_long",
                tokens = thousands(check.tokens),
                room = thousands(check.room.unwrap_or(0))
            ),
            theme.text,
        )));
        lines.push(Line::from(Span::styled(
            tr!(
                "app.before.parts",
                parts = parts,
                requests = requests,
                cost = money(check.cost),
                first = thousands(check.first_tokens())
            ),
            theme.text,
        )));
        if !secrets_open {
            let mut spans = key("p", tr!("app.before.read_parts"));
            spans.extend(key("f", tr!("app.before.first_only")));
            spans.extend(key("Esc", tr!("app.cancel")));
            lines.push(Line::from(spans));
        }
    } else if check.over_limit {
        lines.push(Line::from(Span::styled(
            tr!(
                "app.before.over_limit",
                cost = money(check.cost),
                tokens = thousands(check.tokens),
                limit = money(Some(check.limit))
            ),
            theme.text,
        )));
        if !secrets_open {
            let mut spans = key("y", tr!("app.hint.send"));
            spans.extend(key("Esc", tr!("app.cancel")));
            lines.push(Line::from(spans));
        }
    }
    lines
}

/// A key as shown while it is typed, split at the cursor: dots, then its last four
/// characters (at most 40 dots).
fn masked_key(key: &crate::app::TextField) -> (String, String) {
    let chars: Vec<char> = key.as_str().chars().collect();
    let n = chars.len();
    let at = key.as_str()[..key.cursor()].chars().count();
    let dots = n.saturating_sub(4);
    let shown: Vec<char> = std::iter::repeat_n('•', dots.min(40))
        .chain(chars[dots..].iter().copied())
        .collect();
    // The cursor among the dots stays among them; in the last four it is where it is.
    let pos = if at >= dots {
        dots.min(40) + (at - dots)
    } else {
        at.min(40)
    };
    (shown[..pos].iter().collect(), shown[pos..].iter().collect())
}

/// Spans of a snippet whose matches are marked with U+E000…U+E001.
fn marked(snippet: &str, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut rest = sanitize(snippet).replace('\n', " ");
    while let Some(start) = rest.find('\u{E000}') {
        spans.push(Span::styled(rest[..start].to_string(), theme.text));
        let after = &rest[start + '\u{E000}'.len_utf8()..];
        let end = after.find('\u{E001}').unwrap_or(after.len());
        spans.push(Span::styled(after[..end].to_string(), theme.highlight));
        rest = after[(end + '\u{E001}'.len_utf8()).min(after.len())..].to_string();
    }
    spans.push(Span::styled(rest, theme.text));
    spans
}

/// The help overlay's lines, generated from the keymap (two columns on wide screens).
fn help_lines(app: &App, theme: &Theme, screen_width: u16) -> Vec<Line<'static>> {
    let section = |modes: &[(Mode, std::borrow::Cow<'static, str>)]| {
        let mut lines: Vec<Line<'static>> = Vec::new();
        for (mode, name) in modes {
            lines.push(Line::from(Span::styled(name.to_string(), theme.heading)));
            for (cmd, keys) in app.setup.keymap.bindings(*mode) {
                // Code blocks 2–9 share one line with block 1.
                if cmd.code_block().is_some_and(|n| n > 1) {
                    continue;
                }
                let keys: Vec<String> = if cmd.code_block() == Some(1) {
                    vec![format!(
                        "{}…9",
                        keys.first().map(|k| k.to_string()).unwrap_or_default()
                    )]
                } else {
                    keys.iter().map(|k| k.to_string()).collect()
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("  {:<18}", keys.join(", ")), theme.accent),
                    Span::styled(cmd.describe(), theme.text),
                ]));
            }
            lines.push(Line::default());
        }
        lines
    };
    let mut left = section(&[(Mode::Global, tr!("app.help.everywhere"))]);
    left.extend(editing_lines(app, theme));
    left.extend(super::compare::help_lines(theme));
    let right = section(&[
        (Mode::Input, tr!("app.help.message_box")),
        (Mode::Sessions, tr!("app.help.session_list")),
        (Mode::Transcript, tr!("app.help.transcript")),
    ]);
    let mut lines = Vec::new();
    if screen_width >= 110 {
        for i in 0..left.len().max(right.len()) {
            let l = left.get(i).cloned().unwrap_or_default();
            let pad = 55usize.saturating_sub(l.width());
            let mut spans = l.spans;
            spans.push(Span::raw(" ".repeat(pad)));
            if let Some(r) = right.get(i) {
                spans.extend(r.spans.clone());
            }
            lines.push(Line::from(spans));
        }
    } else {
        lines.extend(left);
        lines.extend(right);
    }
    lines.push(Line::from(Span::styled(
        tr!("app.help.footer"),
        theme.muted,
    )));
    lines
}

/// The editing keys of every text field (`app::edit`), and those a command of the message
/// box takes there.
fn editing_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(
        tr!("app.help.text_fields"),
        theme.heading,
    ))];
    for (keys, what) in edit::help() {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<18}", keys.join(", ")), theme.accent),
            Span::styled(what, theme.text),
        ]));
    }
    for (key, _) in edit::KEYS {
        let Some(k) = Key::parse(key) else { continue };
        let event = KeyEvent::new(k.code, k.mods);
        if let Some(cmd) = app.setup.keymap.lookup(Mode::Input, &event) {
            lines.push(Line::from(Span::styled(
                format!(
                    "  {}",
                    tr!("app.help.in_message_box", key = k, what = cmd.describe())
                ),
                theme.muted,
            )));
        }
    }
    lines.push(Line::default());
    lines
}

/// How far the help overlay can scroll on the current screen.
pub(super) fn help_max_scroll(app: &App, theme: &Theme) -> u16 {
    let area = Rect::new(0, 0, app.size.0, app.size.1);
    let lines = help_lines(app, theme, area.width);
    let rect = centered(area, 112, lines.len() as u16 + 2);
    let rows = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .line_count(rect.width.saturating_sub(2)) as u16;
    rows.saturating_sub(rect.height.saturating_sub(2))
}

pub(super) fn draw_dialog(
    app: &App,
    dialog: &Dialog,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    match dialog {
        Dialog::Templates { query, selected } => {
            return forms::draw_picker(app, query, *selected, theme, frame, area);
        }
        Dialog::Form(form) => return forms::draw_form(app, form, theme, frame, area),
        Dialog::Usage { view } => {
            return super::usage::draw_usage(view.as_ref(), theme, frame, area);
        }
        Dialog::Knowledge { .. } | Dialog::Sources { .. } | Dialog::Passage { .. } => {
            return super::knowledge::draw(app, dialog, theme, frame, area);
        }
        _ => {}
    }
    let mut top = 0;
    type Title = std::borrow::Cow<'static, str>;
    let (title, width, height, lines): (Title, u16, u16, Vec<Line<'static>>) = match dialog {
        Dialog::Help { scroll } => {
            let max = help_max_scroll(app, theme);
            let title = if max > 0 {
                tr!("app.help.title_scroll")
            } else {
                tr!("app.help.title")
            };
            let lines = help_lines(app, theme, area.width);
            let rows = lines.len() as u16;
            top = (*scroll).min(max);
            (title, 112, rows, lines)
        }
        Dialog::Search {
            query,
            hits,
            selected,
        } => {
            let mut lines = vec![query_line(query, theme), Line::default()];
            if hits.is_empty() && !query.is_empty() {
                lines.push(Line::from(Span::styled(tr!("app.no_match"), theme.muted)));
            }
            for (i, h) in hits.iter().enumerate() {
                let sel = i == *selected;
                let head = Style::default().patch(if sel {
                    theme.selection
                } else {
                    Style::default()
                });
                let who = if h.role == Role::User {
                    tr!("app.search.you")
                } else {
                    tr!("app.search.assistant")
                };
                lines.push(Line::from(vec![
                    Span::styled(
                        format!(
                            "{} {}",
                            if sel { "▶" } else { " " },
                            sanitize(&h.session_title)
                        ),
                        theme.accent.patch(head),
                    ),
                    Span::styled(format!(" · {who}"), theme.muted.patch(head)),
                ]));
                let mut spans = vec![Span::raw("   ")];
                spans.extend(marked(&h.snippet, theme));
                lines.push(Line::from(spans));
            }
            (tr!("app.search.title"), 90, 30, lines)
        }
        Dialog::Attach(picker) => {
            let mut lines = vec![
                Line::from(field_spans(picker.path.split(), theme, true)),
                Line::from(Span::styled(tr!("app.attach.kinds"), theme.muted)),
            ];
            // A window of the list that keeps the highlighted entry in view.
            const SHOWN: usize = 10;
            let first = picker.selected.unwrap_or(0).saturating_sub(SHOWN - 1);
            for (i, c) in picker.candidates.iter().enumerate().skip(first).take(SHOWN) {
                let on = picker.selected == Some(i);
                let style = if on {
                    theme.selection.patch(theme.accent)
                } else if c.ends_with('/') {
                    theme.accent
                } else {
                    theme.text
                };
                lines.push(Line::from(Span::styled(
                    format!("{} {}", if on { "▶" } else { " " }, sanitize(c)),
                    style,
                )));
            }
            if picker.candidates.len() > first + SHOWN {
                lines.push(Line::from(Span::styled(
                    format!(
                        "  … {}",
                        tr!("app.more", n = picker.candidates.len() - first - SHOWN)
                    ),
                    theme.muted,
                )));
            }
            let rows = lines.len() as u16;
            (tr!("app.attach.title"), 96, rows, lines)
        }
        Dialog::TemplateSecrets(check) => {
            let mut lines = vec![Line::from(Span::styled(
                match check.found.len() {
                    1 => tr!("app.template_secrets.one"),
                    n => tr!("app.template_secrets.many", n = n),
                },
                theme.warning,
            ))];
            for (name, f) in check.found.iter().take(6) {
                lines.push(Line::from(Span::styled(
                    format!(
                        "  {name} {}",
                        tr!(
                            "app.before.secret_line",
                            line = f.line,
                            label = f.label,
                            preview = sanitize(&f.preview)
                        )
                    ),
                    theme.text,
                )));
            }
            lines.push(Line::from(Span::styled(
                format!(
                    " r  {}    s  {}    Esc  {}",
                    tr!("app.before.redact"),
                    tr!("app.before.send_anyway"),
                    tr!("app.cancel")
                ),
                theme.accent,
            )));
            let rows = lines.len() as u16;
            (tr!("app.template_secrets.title"), 96, rows, lines)
        }
        Dialog::BeforeSend(check) => {
            let lines = before_send_lines(check, theme);
            let rows = lines.len() as u16;
            (tr!("app.before.title"), 96, rows, lines)
        }
        Dialog::Rename { title, .. } => (
            tr!("app.rename.title"),
            60,
            3,
            vec![Line::from(field_spans(title.split(), theme, true))],
        ),
        Dialog::Export { title, path, .. } => (
            tr!("app.export.title"),
            72,
            5,
            vec![
                Line::from(Span::styled(
                    tr!("app.export.question", title = sanitize(title)).into_owned(),
                    theme.muted,
                )),
                Line::from(field_spans(path.split(), theme, true)),
                Line::from(Span::styled(tr!("app.export.keys"), theme.muted)),
            ],
        ),
        Dialog::ConfirmDelete { title, .. } => (
            tr!("app.delete.title"),
            60,
            4,
            confirm(
                theme,
                tr!("app.delete.question", title = sanitize(title)),
                tr!("app.delete.keys"),
            ),
        ),
        Dialog::Refused { text } => (
            tr!("app.refused.title"),
            72,
            4,
            vec![
                Line::from(Span::styled(sanitize(text), theme.warning)),
                Line::default(),
                Line::from(Span::styled(tr!("app.refused.hint"), theme.muted)),
            ],
        ),
        Dialog::ConfirmQuit => (
            tr!("app.quit.title"),
            64,
            4,
            confirm(theme, tr!("app.quit.question"), tr!("app.quit.keys")),
        ),
        Dialog::LeaveIncognito { quit } => (
            if *quit {
                tr!("app.quit.title")
            } else {
                tr!("app.incognito.leave_title")
            },
            66,
            4,
            confirm(
                theme,
                tr!("app.incognito.leave_question"),
                if *quit {
                    tr!("app.incognito.quit_keys")
                } else {
                    tr!("app.incognito.leave_keys")
                },
            ),
        ),
        Dialog::Themes { selected, .. } => {
            let lines = app
                .setup
                .themes
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let style = if i == *selected {
                        theme.selection.patch(theme.accent)
                    } else {
                        theme.text
                    };
                    Line::from(Span::styled(
                        format!("{} {t}", if i == *selected { "▶" } else { " " }),
                        style,
                    ))
                })
                .collect();
            (
                tr!("app.themes.title"),
                52,
                app.setup.themes.len() as u16 + 2,
                lines,
            )
        }
        Dialog::Models { selected, filter } => {
            let choices = app.model_choices(filter.as_str());
            let o = &app.offered;
            let status = if o.loading {
                Span::styled(tr!("app.models.loading"), theme.muted)
            } else if let Some(e) = &o.error {
                Span::styled(tr!("app.models.error", error = sanitize(e)), theme.warning)
            } else if let Some(names) = &o.names {
                let age = o
                    .at_ms
                    .map(|at| {
                        format!(
                            " · {}",
                            tr!(
                                "app.models.listed",
                                ago = ago(app.now_ms.saturating_sub(at))
                            )
                        )
                    })
                    .unwrap_or_default();
                // The policy hides some: say so, or "no model matches" would puzzle.
                let policy = &app.setup.policy;
                let allowed = names
                    .iter()
                    .filter(|n| {
                        policy
                            .check_request_model(&app.setup.profile_model, n)
                            .is_ok()
                    })
                    .count();
                let hidden = if allowed < names.len() {
                    tr!("app.models.allowed", n = allowed).into_owned()
                } else {
                    String::new()
                };
                Span::styled(
                    tr!(
                        "app.models.offered",
                        n = names.len(),
                        hidden = hidden,
                        age = age
                    ),
                    theme.muted,
                )
            } else {
                Span::styled(tr!("app.models.price_table"), theme.muted)
            };
            let mut lines = vec![
                query_line(filter, theme),
                Line::from(status),
                Line::from(Span::styled(tr!("app.models.columns"), theme.muted)),
            ];
            if choices.is_empty() {
                lines.push(Line::from(Span::styled(
                    tr!("app.models.none"),
                    theme.muted,
                )));
            }
            // A window of rows around the cursor: a gateway can offer a hundred models.
            let room = (area.height.saturating_sub(9) as usize).max(3);
            let first = selected.saturating_sub(room.saturating_sub(1));
            // The name column, clipped in a narrow terminal so that a row stays one line:
            // the cursor, the window, the prices and "not offered" take 38 cells.
            let inner = usize::from(area.width.saturating_sub(2).min(76).saturating_sub(2));
            let pad = choices
                .iter()
                .map(|e| display_width(&e.name))
                .max()
                .unwrap_or(0)
                .min(inner.saturating_sub(38).max(10));
            for (i, e) in choices.iter().enumerate().skip(first).take(room) {
                let sel = i == *selected;
                let style = if sel {
                    theme.selection.patch(theme.accent)
                } else {
                    theme.text
                };
                let window = e
                    .info
                    .as_ref()
                    .and_then(|i| i.context_window)
                    .map(|w| format!("{:>6} · ", short_tokens(w)))
                    .unwrap_or_default();
                let mut spans = vec![
                    Span::styled(
                        format!(
                            "{} {}{}",
                            if sel { "▶" } else { " " },
                            clip(&sanitize(&e.name), pad),
                            " ".repeat(pad.saturating_sub(display_width(&e.name)))
                        ),
                        style,
                    ),
                    Span::styled(
                        format!("  {window}{}", format_prices(e.info.as_ref())),
                        theme.muted,
                    ),
                ];
                if e.offered == Some(false) {
                    spans.push(Span::styled(
                        format!(" · {}", tr!("app.models.not_offered")),
                        theme.warning,
                    ));
                }
                lines.push(Line::from(spans));
            }
            let rows = lines.len() as u16;
            (tr!("app.models.title"), 76, rows, lines)
        }
        Dialog::SystemPrompt { text } => (
            tr!("app.system_prompt.title"),
            76,
            4,
            vec![
                Line::from(Span::styled(tr!("app.system_prompt.about"), theme.muted)),
                Line::default(),
                Line::from(field_spans(text.split(), theme, true)),
            ],
        ),
        Dialog::Templates { .. }
        | Dialog::Form(_)
        | Dialog::Usage { .. }
        | Dialog::Knowledge { .. }
        | Dialog::Sources { .. }
        | Dialog::Passage { .. } => return,
        Dialog::ApiKey { key, error } => {
            let (before, after) = masked_key(key);
            let mut lines = vec![
                Line::from(Span::styled(
                    tr!("app.key.paste", profile = &app.setup.profile),
                    theme.text,
                )),
                Line::from(Span::styled(tr!("app.key.where"), theme.muted)),
                Line::default(),
                Line::from(vec![
                    Span::styled(format!("{} › ", tr!("app.key.prompt")), theme.accent),
                    Span::styled(before, theme.text),
                    Span::styled("▏", theme.accent),
                    Span::styled(after, theme.text),
                ]),
                Line::default(),
            ];
            if let Some(e) = error {
                lines.push(Line::from(Span::styled(sanitize(e), theme.error)));
                lines.push(Line::default());
            }
            lines.push(Line::from(Span::styled(tr!("app.key.keys"), theme.muted)));
            (
                tr!("app.key.title"),
                76,
                if error.is_some() { 12 } else { 9 },
                lines,
            )
        }
    };
    // Room for lines that wrap in a narrow terminal (word wrapping may need a row more).
    let inner = width
        .min(area.width.saturating_sub(2))
        .saturating_sub(2)
        .max(1) as usize;
    let wrapped: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = height.max(wrapped as u16);
    let rect = centered(area, width, height + 2);
    open_dialog(frame, rect, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(dialog_block(&title, theme))
            .wrap(Wrap { trim: false })
            .scroll((top, 0)),
        rect,
    );
}

/// How long ago, roughly: "just now", "5 min ago", "3 h ago", "2 days ago".
fn ago(ms: i64) -> String {
    let min = ms / 60_000;
    match min {
        ..=0 => tr!("app.ago.now").into_owned(),
        1..=59 => tr!("app.ago.min", n = min).into_owned(),
        60..=2_879 => tr!("app.ago.hours", n = min / 60).into_owned(),
        _ => tr!("app.ago.days", n = min / 1_440).into_owned(),
    }
}

/// A yes-or-no question's lines: the question, then its keys.
fn confirm(
    theme: &Theme,
    question: std::borrow::Cow<'static, str>,
    keys: std::borrow::Cow<'static, str>,
) -> Vec<Line<'static>> {
    vec![
        Line::from(Span::styled(question, theme.text)),
        Line::from(Span::styled(keys, theme.muted)),
    ]
}
