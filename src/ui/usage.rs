//! The usage screen (F4): what the answers cost today and this month, this month by model,
//! the budgets and how much of each is used, and a bar chart of the last 30 days.
//!
//! Drawing only: the figures come from the state ([`UsageView`], read from the ledger by
//! the runtime). Bars are block characters and every figure is also written as text, so
//! the screen reads the same without colours (NO_COLOR) and in 80x24.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Paragraph};

use super::markdown::display_width;
use super::{Theme, centered, clip, dialog_block, open_dialog, pad, pad_left, thousands};
use crate::app::UsageView;
use crate::config::models::format_usd;
use crate::store::ledger::Totals;

/// Draw the usage screen over `area`.
pub fn draw_usage(
    view: Option<&Result<Box<UsageView>, String>>,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let rect = centered(area, 100, area.height.saturating_sub(2).clamp(10, 30));
    open_dialog(frame, rect, area);
    let block = dialog_block(&tr!("app.usage.title"), theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let v = match view {
        None => {
            let text = Span::styled(tr!("app.usage.loading"), theme.muted);
            frame.render_widget(Paragraph::new(Line::from(text)), inner);
            return;
        }
        Some(Err(e)) => {
            let text = Span::styled(tr!("app.usage.error", error = e), theme.error);
            frame.render_widget(Paragraph::new(Line::from(text)), inner);
            return;
        }
        Some(Ok(v)) => v,
    };
    let width = inner.width as usize;
    let mut lines = vec![
        figure(
            &tr!("app.usage.today"),
            &v.today,
            v.budget.daily_usd,
            theme,
            width,
        ),
        figure(
            &tr!("app.usage.month"),
            &v.month,
            v.budget.monthly_usd,
            theme,
            width,
        ),
    ];
    if let Some(r) = v.budget.per_request_usd {
        lines.push(Line::from(Span::styled(
            tr!("app.usage.per_request", usd = usd(r)),
            theme.muted,
        )));
    }
    lines.push(Line::default());
    // Room left for the models and the chart: the chart gets what the models do not use.
    let models_room = (inner.height as usize)
        .saturating_sub(lines.len() + 8)
        .clamp(1, 6);
    if v.by_model.is_empty() {
        lines.push(Line::from(Span::styled(
            tr!("app.usage.no_requests"),
            theme.muted,
        )));
    } else {
        lines.push(Line::from(Span::styled(
            tr!("app.usage.by_model"),
            theme.accent,
        )));
        for r in v.by_model.iter().take(models_room) {
            let name = clip(&crate::llm::sanitize::sanitize(&r.key), 28);
            lines.push(Line::from(vec![
                Span::styled(format!("  {}", pad(&name, 28)), theme.text),
                Span::styled(
                    format!(
                        "{:>6} {}  {}  {}",
                        thousands(r.totals.requests),
                        tr!("app.usage.req"),
                        pad_left(&cost(&r.totals), 12),
                        tokens(&r.totals)
                    ),
                    theme.muted,
                ),
            ]));
        }
        if v.by_model.len() > models_room {
            lines.push(Line::from(Span::styled(
                format!(
                    "  … {}",
                    tr!("app.usage.more", n = v.by_model.len() - models_room)
                ),
                theme.muted,
            )));
        }
    }
    let top = lines.len() as u16 + 1;
    let [text_area, chart_area] =
        Layout::vertical([Constraint::Length(top), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), text_area);
    if chart_area.height >= 4 {
        chart(v, theme, frame, chart_area);
    }
}

/// "today  $0.42 of $5.00 (8%) · 31 requests · 12.4k in / 3.1k out".
fn figure(
    label: &str,
    t: &Totals,
    limit: Option<f64>,
    theme: &Theme,
    width: usize,
) -> Line<'static> {
    let mut spans = vec![
        Span::styled(pad(label, 11), theme.accent),
        Span::styled(cost(t), theme.text),
    ];
    if let Some(l) = limit {
        let spent = t.cost_usd.unwrap_or(0.0);
        let share = if l > 0.0 { spent / l * 100.0 } else { 0.0 };
        let style = if share >= 100.0 {
            theme.error
        } else if share >= 80.0 {
            theme.warning
        } else {
            theme.muted
        };
        spans.push(Span::styled(
            tr!(
                "app.usage.of_limit",
                limit = usd(l),
                share = format!("{share:.0}")
            ),
            style,
        ));
    }
    let mut rest = format!(
        " · {} · {}",
        tr!("app.usage.requests", n = thousands(t.requests)),
        tokens(t)
    );
    if t.estimated_requests > 0 {
        let n = thousands(t.estimated_requests);
        rest.push_str(&format!(" · {}", tr!("app.usage.estimated", n = n)));
    }
    let used: usize = spans.iter().map(|s| display_width(&s.content)).sum();
    spans.push(Span::styled(
        clip(&rest, width.saturating_sub(used)),
        theme.muted,
    ));
    Line::from(spans)
}

fn usd(v: f64) -> String {
    format_usd(Some(v))
}

/// The cost, with the requests whose price is unknown said, never counted as 0.
fn cost(t: &Totals) -> String {
    match (t.cost_usd, t.unpriced_requests) {
        (Some(c), 0) => usd(c),
        (Some(c), n) => tr!("app.usage.plus_unpriced", usd = usd(c), n = n).into_owned(),
        (None, 0) => "$0".to_string(),
        (None, n) => tr!("app.usage.unknown", n = n).into_owned(),
    }
}

fn tokens(t: &Totals) -> String {
    tr!(
        "app.usage.tokens",
        i = crate::format::short_tokens(t.prompt_tokens),
        o = crate::format::short_tokens(t.completion_tokens)
    )
    .into_owned()
}

/// The last 30 days as bars (cost in cents), every fifth day labelled.
fn chart(v: &UsageView, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let [title, bars] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    // As many of the latest days as fit, a column each and one between.
    let fit = usize::from(area.width).div_ceil(2);
    let days = &v.days[v.days.len().saturating_sub(fit)..];
    let most = days.iter().map(|(_, c)| *c).fold(0.0, f64::max);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(tr!("app.usage.last_days", n = days.len()), theme.accent),
            Span::styled(
                format!(" · {}", tr!("app.usage.highest", usd = usd(most))),
                theme.muted,
            ),
        ])),
        title,
    );
    // One column a bar and one between, as wide as fits; the days under every fifth bar
    // (and the last), written on their own row so none is cut to the bar's width.
    let [bars, axis] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(bars);
    let n = days.len().max(1) as u16;
    let bar_width = ((bars.width + 1) / n).saturating_sub(1).clamp(1, 3);
    let data: Vec<Bar<'_>> = days
        .iter()
        .map(|(_, c)| {
            Bar::default()
                .value((c * 100.0).round() as u64)
                .text_value(String::new())
                .style(Style::default().patch(theme.accent))
        })
        .collect();
    frame.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&data))
            .bar_width(bar_width)
            .bar_gap(1),
        bars,
    );
    let step = usize::from(bar_width + 1);
    let mut labels = String::new();
    for (i, (day, _)) in days.iter().enumerate() {
        if i % 5 != 0 && i + 1 != days.len() {
            continue;
        }
        let at = i * step;
        // The last day is placed to end under its bar when it would run off the row.
        let at = if i + 1 == days.len() {
            at.min(usize::from(axis.width).saturating_sub(day.len()))
        } else {
            at
        };
        if at < labels.chars().count() + usize::from(!labels.is_empty()) {
            continue;
        }
        labels.push_str(&" ".repeat(at - labels.chars().count()));
        labels.push_str(day);
    }
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(labels, theme.muted))),
        axis,
    );
}
