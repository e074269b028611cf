//! The status bar (profile, model, the knowledge base the session answers from, context
//! used, the session's cost, whether anything is saved, whether an admin policy is in
//! force, a notice, key hints
//! for the focused pane) and, when a notice is too long for it, the notice on its own rows
//! above it. Drawing only: it reads the [`App`]; notices come and go in the app.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Theme, clip, key_hint, markdown};
use crate::app::keymap::Command;
use crate::app::{App, Focus, Level, Mode};
use crate::format::short_tokens;
use crate::llm::sanitize::sanitize;

/// One item of the status bar's left part, and when it gives way on a narrow screen.
struct Item {
    text: String,
    /// The order items give way in (1 first); `None`: never (the model, and whether anything
    /// is saved, which must never be hidden).
    gives_way: Option<u8>,
}

/// The status bar's left part: profile, model, knowledge base, context used, the session's
/// cost, whether anything is saved, whether a policy is in force.
fn left_items(app: &App) -> Vec<Item> {
    let item = |text: String, gives_way: Option<u8>| Item { text, gives_way };
    let mut items = vec![
        item(app.setup.profile.clone(), Some(1)),
        item(app.setup.model.clone(), None),
    ];
    if let Some(kb) = app.session_kb() {
        items.push(item(
            tr!("app.status.kb", name = sanitize(kb)).into_owned(),
            Some(5),
        ));
    }
    // The conversation so far plus what is in the box (chips counted, typed text estimated).
    let draft = app.draft_tokens();
    let used = match (app.context_used(), draft) {
        (None, 0) => None,
        (u, d) => Some(u.unwrap_or(0) + d),
    };
    if let (Some(used), Some(window)) = (used, app.setup.context_window) {
        let mut text = format!(
            "{}/{} ({}%)",
            short_tokens(used),
            short_tokens(window),
            used * 100 / window.max(1)
        );
        if used > window {
            text.push_str(&format!(" · {}", tr!("app.status.in_parts")));
        }
        items.push(item(text, Some(4)));
    }
    if let Some(c) = app.session_cost() {
        items.push(item(crate::config::models::format_usd(Some(c)), Some(2)));
    }
    if !app.setup.history {
        items.push(item(tr!("app.status.history_off").into_owned(), None));
    } else if app.incognito {
        items.push(item(tr!("app.status.incognito").into_owned(), None));
    }
    if app.setup.policy.in_force() {
        items.push(item(tr!("app.status.policy").into_owned(), Some(6)));
    }
    items
}

/// The left part as drawn: ` default · gpt-4o-mini · 1.2k/128.0k (0%) `.
fn join_left(items: &[Item]) -> String {
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    format!(" {} ", texts.join(" · "))
}

/// The key hints as drawn (nothing when there are none left).
fn join_hints(hints: &[String]) -> String {
    if hints.is_empty() {
        String::new()
    } else {
        format!(" {} ", hints.join(" · "))
    }
}

/// The status bar's two sides fitted to `width` cells, giving way one item at a time: the
/// key hints from the last (help stays), the profile, the cost, the help hint, the context
/// used, the knowledge base, the policy. The model and whether anything is saved stay; only
/// when they alone are too wide is the left part cut.
fn fitted(app: &App, width: usize) -> (String, String) {
    let mut left = left_items(app);
    let mut hints = status_hints(app);
    loop {
        let (l, r) = (join_left(&left), join_hints(&hints));
        if markdown::display_width(&l) + markdown::display_width(&r) <= width {
            return (l, r);
        }
        if hints.len() > 1 {
            hints.remove(hints.len() - 2);
            continue;
        }
        let next = left
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Some((item.gives_way?, i)))
            .min();
        match next {
            Some((rank, _)) if rank >= 3 && !hints.is_empty() => hints.clear(),
            Some((_, i)) => {
                left.remove(i);
            }
            None if !hints.is_empty() => hints.clear(),
            None => return (clip(&l, width), r),
        }
    }
}

/// The status bar's key hints for the focused pane, the help's last.
fn status_hints(app: &App) -> Vec<String> {
    let mode = match app.focus {
        Focus::Input => Mode::Input,
        Focus::Sessions => Mode::Sessions,
        Focus::Transcript => Mode::Transcript,
    };
    match mode {
        Mode::Sessions => vec![
            (Command::OpenSession, tr!("app.hint.open")),
            (Command::RenameSession, tr!("app.hint.rename")),
            (Command::DeleteSession, tr!("app.hint.delete")),
            (Command::PinSession, tr!("app.hint.pin")),
            (Command::ShowArchived, tr!("app.hint.archived")),
            (Command::FilterSessions, tr!("app.hint.filter")),
            // Last: the first to give way on a narrow bar (the help lists it too).
            (Command::ExportSession, tr!("app.hint.export")),
        ],
        Mode::Transcript => vec![
            (Command::SelectPrev, tr!("app.hint.select")),
            (Command::CopyMessage, tr!("app.hint.copy")),
            (Command::EditMessage, tr!("app.hint.edit")),
            (Command::DeleteMessage, tr!("app.hint.delete")),
            (Command::Regenerate, tr!("app.hint.regenerate")),
        ],
        _ => vec![
            (Command::Send, tr!("app.hint.send")),
            (Command::Search, tr!("app.hint.search")),
            (Command::NewSession, tr!("app.hint.new")),
        ],
    }
    .into_iter()
    .chain([(Command::Help, tr!("app.hint.help"))])
    .filter_map(|(c, what)| {
        app.setup
            .keymap
            .key_for(mode, c)
            .map(|k| format!("{k} {what}"))
    })
    .collect()
}

/// Rows a notice too long for the status bar takes above it (wrapped, at most 3).
pub(super) fn notice_rows(app: &App, width: u16) -> u16 {
    let Some(n) = &app.notice else { return 0 };
    let total = width as usize;
    let (left, right) = fitted(app, total);
    let used = markdown::display_width(&left) + markdown::display_width(&right);
    if markdown::display_width(&n.text) + 2 <= total.saturating_sub(used) {
        return 0;
    }
    // Word-wrapped the way the paragraph will be (a word longer than a row is cut).
    let mut rows: usize = 1;
    let mut col = 0;
    for (i, word) in n.text.split(' ').enumerate() {
        let w = markdown::display_width(word);
        // The first word follows the leading space; later ones a separating space.
        let end = col + 1 + w;
        if i > 0 && end > total {
            rows += 1;
            col = w;
        } else {
            col = end;
        }
        // A word wider than a row (Chinese has no spaces between words) is broken over
        // as many rows as it takes.
        if col > total && total > 0 {
            rows += (col - 1) / total;
            col = (col - 1) % total + 1;
        }
    }
    rows.clamp(1, 3) as u16
}

/// How a notice of `level` looks.
fn level_style(theme: &Theme, level: Level) -> Style {
    match level {
        Level::Info => theme.success,
        Level::Warn => theme.warning,
        Level::Error => theme.error,
    }
}

/// A notice too long for the status bar, wrapped on its own rows.
pub(super) fn draw_notice(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let Some(n) = &app.notice else { return };
    let style = level_style(theme, n.level);
    frame.render_widget(
        Paragraph::new(format!(" {}", sanitize(&n.text)))
            .style(theme.status.patch(style))
            .wrap(Wrap { trim: false }),
        area,
    );
}

pub(super) fn draw_status(
    app: &App,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
    notice_above: bool,
) {
    let total = area.width as usize;
    let (middle, mstyle) = match &app.notice {
        Some(_) if notice_above => (String::new(), theme.muted),
        Some(n) => (n.text.clone(), level_style(theme, n.level)),
        None if !app.setup.has_key => (
            tr!(
                "app.status.no_key",
                key = key_hint(app, Mode::Global, Command::AddKey)
            )
            .into_owned(),
            theme.warning,
        ),
        None => (String::new(), theme.muted),
    };
    // What is said in the middle keeps its room (up to half the bar): items give way to it.
    let said = match markdown::display_width(&middle) {
        0 => 0,
        w => (w + 2).min(total / 2),
    };
    let (left, right) = fitted(app, total - said);
    let lw = markdown::display_width(&left);
    let room = total.saturating_sub(lw + markdown::display_width(&right));
    let mid = clip(&sanitize(&middle), room.saturating_sub(2));
    let pad = room.saturating_sub(markdown::display_width(&mid));
    let line = Line::from(vec![
        Span::styled(
            clip(&left, total),
            theme.status.add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!(" {mid}"), theme.status.patch(mstyle)),
        Span::styled(" ".repeat(pad.saturating_sub(1)), theme.status),
        Span::styled(right, theme.status),
    ]);
    frame.render_widget(Paragraph::new(line).style(theme.status), area);
}
