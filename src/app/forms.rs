//! The template picker and the form that fills a template's variables: their state and
//! their keys. Pure like the rest of `app`: the library arrives as [`TemplateItem`]s built
//! by the runtime, running goes out as [`Effect::RunTemplate`].

use std::collections::BTreeMap;

use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::edit::{Edit, Edited};
use super::{App, Dialog, Effect, Level, TextField};
use crate::templates::VarKind;

/// A template as the app shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateItem {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// One sentence.
    pub description: String,
    /// Group in the picker.
    pub category: String,
    /// Tags.
    pub tags: Vec<String>,
    /// "user (…)", "team (…)", "built-in".
    pub origin: String,
    /// Why it cannot run (broken file), if so.
    pub problem: Option<String>,
    /// Step names (one `answer` step for a single prompt).
    pub steps: Vec<String>,
    /// Whether it is a workflow.
    pub workflow: bool,
    /// The prompt, or each step's prompt, for the preview.
    pub preview: String,
    /// Its variables.
    pub fields: Vec<FieldSpec>,
}

/// A variable of a template, for the form.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// Name.
    pub name: String,
    /// Label.
    pub label: String,
    /// Kind.
    pub kind: VarKind,
    /// Must be filled (unless there is a default).
    pub required: bool,
    /// Default value.
    pub default: Option<String>,
    /// Help text.
    pub help: Option<String>,
    /// Options of a choice.
    pub options: Vec<String>,
}

/// One field of the form as filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// What it is.
    pub spec: FieldSpec,
    /// Its value.
    pub value: TextField,
    /// What is wrong with it (shown under it).
    pub problem: Option<String>,
    /// Changed by the user in this form.
    pub touched: bool,
}

/// The filled-in form of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// Template id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its fields.
    pub fields: Vec<Field>,
    /// The field with the keyboard.
    pub focus: usize,
    /// Path completions offered for a file field.
    pub completions: Vec<String>,
}

/// Kinds whose value may span lines.
pub fn multiline(kind: VarKind) -> bool {
    matches!(kind, VarKind::Multiline | VarKind::Document)
}

/// Kinds whose value is one of a list, changed with ←/→ (a knowledge base is one of the
/// configured bases).
pub fn is_choice(kind: VarKind) -> bool {
    matches!(kind, VarKind::Choice | VarKind::Kb)
}

/// The picker's rows for a query: indexes into `items`, grouped by category (categories in
/// alphabetical order), best match first within a category; all of them for an empty query.
pub fn matches(items: &[TemplateItem], query: &str) -> Vec<usize> {
    let q = query.trim();
    let mut scored: Vec<(usize, u32)> = if q.is_empty() {
        (0..items.len()).map(|i| (i, 0)).collect()
    } else {
        let mut matcher = Matcher::new(Config::DEFAULT);
        let pattern = Pattern::parse(q, CaseMatching::Ignore, Normalization::Smart);
        let mut buf = Vec::new();
        let words: Vec<String> = q
            .to_lowercase()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        items
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let name = format!("{} {}", t.title, t.id);
                let all = format!(
                    "{name} {} {} {}",
                    t.tags.join(" "),
                    t.description,
                    t.category
                );
                let fuzzy = pattern.score(Utf32Str::new(&all, &mut buf), &mut matcher)?;
                // Name and title above tags and description; whole words above parts of
                // words above letters in order.
                let name_words: Vec<String> = name
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect();
                let tier = if words.iter().all(|w| name_words.iter().any(|n| n == w)) {
                    4
                } else if words
                    .iter()
                    .all(|w| name_words.iter().any(|n| n.starts_with(w.as_str())))
                {
                    3
                } else if pattern
                    .score(Utf32Str::new(&name, &mut buf), &mut matcher)
                    .is_some()
                {
                    2
                } else if words
                    .iter()
                    .all(|w| all.to_lowercase().contains(w.as_str()))
                {
                    1
                } else {
                    0
                };
                Some((i, tier * 100_000 + fuzzy.min(99_999)))
            })
            .collect()
    };
    // Broken templates last; the category holding the best match first (alphabetical
    // without a query); the best match first within a category.
    let mut best: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for &(i, s) in &scored {
        let b = best.entry(items[i].category.as_str()).or_insert(0);
        *b = (*b).max(s);
    }
    scored.sort_unstable_by(|a, b| {
        let (x, y) = (&items[a.0], &items[b.0]);
        x.problem
            .is_some()
            .cmp(&y.problem.is_some())
            .then(best[y.category.as_str()].cmp(&best[x.category.as_str()]))
            .then(x.category.cmp(&y.category))
            .then(b.1.cmp(&a.1))
            .then(x.title.cmp(&y.title))
            .then(a.0.cmp(&b.0))
    });
    scored.into_iter().map(|(i, _)| i).collect()
}

impl Form {
    /// A form for `item`, defaults filled, then the values remembered from last time.
    pub fn new(item: &TemplateItem, remembered: Option<&BTreeMap<String, String>>) -> Form {
        let fields = item
            .fields
            .iter()
            .map(|spec| {
                let value = remembered
                    .and_then(|r| r.get(&spec.name).cloned())
                    .or_else(|| spec.default.clone())
                    .unwrap_or_else(|| match spec.kind {
                        VarKind::Choice => spec.options.first().cloned().unwrap_or_default(),
                        _ => String::new(),
                    });
                Field {
                    spec: spec.clone(),
                    value: TextField::new(value),
                    problem: None,
                    touched: false,
                }
            })
            .collect();
        Form {
            id: item.id.clone(),
            title: item.title.clone(),
            fields,
            focus: 0,
            completions: Vec::new(),
        }
    }

    /// Fill fields from remembered values (only where nothing was typed yet).
    pub fn remember(&mut self, values: &BTreeMap<String, String>) {
        for f in &mut self.fields {
            if let Some(v) = values.get(&f.spec.name)
                && !f.touched
                && (!is_choice(f.spec.kind) || f.spec.options.contains(v))
            {
                f.value.set(v.clone());
            }
        }
    }

    /// The knowledge base fields offer the configured bases (`[[knowledge]]`), the first
    /// chosen when nothing is.
    pub fn with_bases(mut self, bases: &[super::KnowledgeBase]) -> Form {
        for f in self
            .fields
            .iter_mut()
            .filter(|f| f.spec.kind == VarKind::Kb)
        {
            f.spec.options = bases.iter().map(|b| b.name.clone()).collect();
            if f.value.is_empty()
                && let Some(first) = f.spec.options.first()
            {
                f.value.set(first.clone());
            }
        }
        self
    }

    /// Check every field; true when the form can run.
    pub fn validate(&mut self) -> bool {
        for f in &mut self.fields {
            f.problem = field_problem(f);
        }
        self.fields.iter().all(|f| f.problem.is_none())
    }

    /// The values to run with.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .map(|f| (f.spec.name.clone(), f.value.to_string()))
            .collect()
    }

    /// The values worth remembering (not pasted documents).
    pub fn memory(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .filter(|f| f.spec.kind != VarKind::Document && f.value.as_str().len() <= 4_000)
            .map(|f| (f.spec.name.clone(), f.value.to_string()))
            .collect()
    }
}

/// The problem of a required field left empty (shown only once the form was tried).
fn required() -> String {
    tr!("app.form.required").into_owned()
}

/// What is wrong with a field's value, if anything.
pub fn field_problem(f: &Field) -> Option<String> {
    let v = f.value.as_str().trim();
    if f.spec.kind == VarKind::Kb && f.spec.options.is_empty() && (f.spec.required || !v.is_empty())
    {
        return Some(tr!("app.kb.none_configured").into_owned());
    }
    if v.is_empty() {
        return (f.spec.required && f.spec.default.is_none()).then(required);
    }
    match f.spec.kind {
        VarKind::Number if v.parse::<f64>().is_err() => {
            Some(tr!("app.form.not_a_number").into_owned())
        }
        VarKind::Choice if !f.spec.options.iter().any(|o| o == v) => {
            Some(tr!("app.form.one_of", options = f.spec.options.join(", ")).into_owned())
        }
        VarKind::Kb if !f.spec.options.iter().any(|o| o == v) => Some(
            tr!(
                "app.form.not_a_kb",
                value = v,
                options = f.spec.options.join(", ")
            )
            .into_owned(),
        ),
        _ => None,
    }
}

/// The settings key under which a template's last values are kept.
pub fn memory_key(id: &str) -> String {
    format!("template_values.{id}")
}

/// Keys in the template picker.
pub fn picker_key(
    app: &mut App,
    key: KeyEvent,
    mut query: TextField,
    mut selected: usize,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let rows = matches(&app.templates, query.as_str());
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return None,
        KeyCode::Up => selected = selected.saturating_sub(1),
        KeyCode::Down => selected = (selected + 1).min(rows.len().saturating_sub(1)),
        KeyCode::Enter => {
            let Some(item) = rows.get(selected).and_then(|&i| app.templates.get(i)) else {
                return Some(Dialog::Templates { query, selected });
            };
            if let Some(p) = &item.problem {
                app.notice(
                    tr!("app.templates.cannot_run_id", id = &item.id, problem = p),
                    Level::Error,
                );
                return Some(Dialog::Templates { query, selected });
            }
            let form = Form::new(item, None).with_bases(&app.setup.knowledge);
            fx.push(Effect::LoadTemplateValues(item.id.clone()));
            if form.fields.is_empty() {
                return run_form(app, form, fx);
            }
            return Some(Dialog::Form(form));
        }
        _ => {
            if query.edit(&key) == Edited::Changed {
                selected = 0;
            }
        }
    }
    Some(Dialog::Templates { query, selected })
}

/// Check the form; run it, or keep it open showing what is wrong.
fn run_form(app: &mut App, mut form: Form, fx: &mut Vec<Effect>) -> Option<Dialog> {
    if !form.validate() {
        if let Some(i) = form.fields.iter().position(|f| f.problem.is_some()) {
            form.focus = i;
        }
        return Some(Dialog::Form(form));
    }
    if !app.setup.has_key {
        app.ask_for_key();
        return app.dialog.take();
    }
    let memory = form.memory();
    fx.push(Effect::SaveSetting(
        memory_key(&form.id),
        serde_json::to_string(&memory).unwrap_or_default(),
    ));
    let values = form.values();
    match super::attach::check_template(app, &form.id, &form.title, &values) {
        // The admin's scrub_secrets decides, when there is one: `block` does not run it,
        // `redact` runs it with the values redacted.
        Some(check) => match app.setup.policy.scrub_secrets.clone() {
            Some(rule) if rule.value == crate::config::policy::Scrub::Block => {
                app.notice(
                    tr!(
                        "app.templates.blocked",
                        n = check.found.len(),
                        file = rule.from.display()
                    ),
                    Level::Error,
                );
                Some(Dialog::Form(form))
            }
            Some(rule) if rule.value == crate::config::policy::Scrub::Redact => {
                app.start_template(&check.id, &check.title, check.redacted, fx);
                None
            }
            _ => Some(Dialog::TemplateSecrets(Box::new(check))),
        },
        None => {
            app.start_template(&form.id, &form.title, values, fx);
            None
        }
    }
}

/// Keys in the form.
pub fn form_key(
    app: &mut App,
    key: KeyEvent,
    mut form: Form,
    fx: &mut Vec<Effect>,
) -> Option<Dialog> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let n = form.fields.len();
    let field = form.fields.get_mut(form.focus)?;
    let kind = field.spec.kind;
    let before = field.value.clone();
    let focus_before = form.focus;
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Char('c') if ctrl => return None,
        KeyCode::F(5) => return run_form(app, form, fx),
        KeyCode::Enter if alt && multiline(kind) => {
            field.value.apply(Edit::Insert('\n'));
        }
        KeyCode::Char('j') if ctrl && multiline(kind) => {
            field.value.apply(Edit::Insert('\n'));
        }
        KeyCode::Enter => {
            if form.focus + 1 >= n {
                return run_form(app, form, fx);
            }
            form.focus += 1;
        }
        KeyCode::Tab if kind == VarKind::File && !field.value.is_empty() => {
            fx.push(Effect::CompletePath(field.value.to_string()));
        }
        KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % n.max(1),
        KeyCode::BackTab | KeyCode::Up => form.focus = (form.focus + n - 1) % n.max(1),
        KeyCode::Left | KeyCode::Right if is_choice(kind) => {
            let opts = &field.spec.options;
            if !opts.is_empty() {
                let i = opts
                    .iter()
                    .position(|o| o == field.value.as_str())
                    .unwrap_or(0);
                let next = if key.code == KeyCode::Right {
                    (i + 1) % opts.len()
                } else {
                    (i + opts.len() - 1) % opts.len()
                };
                field.value.set(opts[next].clone());
            }
        }
        // The editing keys of every field (`app/edit.rs`).
        _ if !is_choice(kind) => {
            field.value.edit(&key);
        }
        _ => {}
    }
    // Inline validation as you type (a required field says so only once tried).
    if let Some(f) = form.fields.get_mut(focus_before) {
        if f.value.as_str() != before.as_str() {
            f.touched = true;
        }
        f.problem = field_problem(f).filter(|p| *p != required());
    }
    form.completions.clear();
    Some(Dialog::Form(form))
}

/// Text pasted into the form goes into the focused field.
pub fn form_paste(form: &mut Form, text: &str) {
    if let Some(f) = form.fields.get_mut(form.focus) {
        match f.spec.kind {
            k if is_choice(k) => {}
            k if multiline(k) => f
                .value
                .insert_str(&text.replace("\r\n", "\n").replace('\r', "\n")),
            _ => f.value.insert_str(
                text.trim_end_matches(['\r', '\n'])
                    .replace(['\r', '\n'], " ")
                    .as_str(),
            ),
        }
        f.problem = field_problem(f).filter(|p| *p != required());
        f.touched = true;
    }
}

/// A path completion came back: complete the focused file field.
pub fn completed(form: &mut Form, typed: &str, common: String, candidates: Vec<String>) {
    if let Some(f) = form.fields.get_mut(form.focus)
        && f.spec.kind == VarKind::File
        && f.value.as_str() == typed
    {
        if common.len() > typed.len() {
            f.value.set(common);
        }
        form.completions = if candidates.len() > 1 {
            candidates
        } else {
            Vec::new()
        };
    }
}
