//! The template file format: parsing one TOML file into a [`Template`] and checking it,
//! every problem with its line and column. Pure: no file system, no network.
//!
//! One file is one template; its id is the file name without `.toml`. Top-level keys:
//! `title` (required), `description`, `category`, `tags`, `model`, `profile`,
//! `temperature`, `max_output_tokens`, `system`, and either `prompt` or `[[steps]]`
//! (`name`, `prompt`, `model`). `[[variables]]`: `name`, `label`, `kind` (text, multiline,
//! document, file, choice, number, kb), `required` (default true), `default`, `help`,
//! `options`.
//! See docs/templates.md.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use super::placeholders::{self, Piece, RenderError};

/// What a variable holds and how it is filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarKind {
    /// One line of text.
    Text,
    /// Several lines of text.
    Multiline,
    /// A pasted or attached text (`name=@file` on the command line).
    Document,
    /// A file path; the file's text is used.
    File,
    /// One of `options`.
    Choice,
    /// A number.
    Number,
    /// A knowledge base's name: the template's prompt is then answered from that base's
    /// passages, with citations (`templates::run::Grounding`).
    Kb,
}

impl VarKind {
    fn parse(s: &str) -> Option<VarKind> {
        Some(match s {
            "text" => VarKind::Text,
            "multiline" => VarKind::Multiline,
            "document" => VarKind::Document,
            "file" => VarKind::File,
            "choice" => VarKind::Choice,
            "number" => VarKind::Number,
            "kb" => VarKind::Kb,
            _ => return None,
        })
    }
}

/// A variable of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Name used in `{{name}}`.
    pub name: String,
    /// Shown in forms (default: the name).
    pub label: String,
    /// Kind.
    pub kind: VarKind,
    /// Default value.
    pub default: Option<String>,
    /// Must be given (when there is no default).
    pub required: bool,
    /// Help text.
    pub help: Option<String>,
    /// Options of a choice.
    pub options: Vec<String>,
}

/// One step of a workflow (a single-prompt template has one, named `answer`).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Name used in `{{steps.name}}`.
    pub name: String,
    /// The prompt.
    pub prompt: String,
    /// Its own model.
    pub model: Option<String>,
}

/// A parsed, valid template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Id (the file name without `.toml`).
    pub id: String,
    /// Title.
    pub title: String,
    /// One sentence about it.
    pub description: String,
    /// Group in lists.
    pub category: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Model to use.
    pub model: Option<String>,
    /// Profile to use.
    pub profile: Option<String>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Answer length cap.
    pub max_output_tokens: Option<u32>,
    /// System prompt.
    pub system: Option<String>,
    /// Variables.
    pub variables: Vec<Variable>,
    /// Steps, in order.
    pub steps: Vec<Step>,
    workflow: bool,
}

impl Template {
    /// Whether it was written with `[[steps]]`.
    pub fn is_workflow(&self) -> bool {
        self.workflow
    }

    /// The variable called `name`.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The template cannot be used.
    Error,
    /// Worth fixing; the template works.
    Warning,
}

/// A problem in a template file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (as shown).
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The position stays `path:line:column` in every language (editors jump to it).
        let at = format!("{}:{}:{}", self.path, self.line, self.column);
        let text = match self.severity {
            Severity::Error => tr!("templates.problem.error", at = at, message = self.message),
            Severity::Warning => {
                tr!("templates.problem.warning", at = at, message = self.message)
            }
        };
        f.write_str(&text)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    title: Option<Spanned<String>>,
    description: Option<String>,
    category: Option<String>,
    tags: Option<Vec<String>>,
    model: Option<String>,
    profile: Option<String>,
    temperature: Option<Spanned<f64>>,
    max_output_tokens: Option<Spanned<i64>>,
    system: Option<Spanned<String>>,
    prompt: Option<Spanned<String>>,
    #[serde(default)]
    variables: Vec<RawVar>,
    steps: Option<Spanned<Vec<RawStep>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVar {
    name: Spanned<String>,
    label: Option<String>,
    kind: Option<Spanned<String>>,
    required: Option<bool>,
    default: Option<Spanned<toml::Value>>,
    help: Option<String>,
    options: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Spanned<String>,
    prompt: Spanned<String>,
    model: Option<String>,
}

/// Collects problems with positions in one file.
struct Checker<'a> {
    path: &'a str,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn at(&mut self, offset: usize, severity: Severity, message: String) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[start..].chars().count() + 1;
        self.problems.push(Problem {
            path: self.path.to_string(),
            line,
            column,
            severity,
            message,
        });
    }

    fn error(&mut self, offset: usize, message: String) {
        self.at(offset, Severity::Error, message);
    }

    /// Where byte `inner` of a string value's text is in the file (the value spans `span`).
    fn in_string(&self, span: &std::ops::Range<usize>, value: &str, inner: usize) -> usize {
        let raw = self.text.get(span.clone()).unwrap_or("");
        // The placeholder's own text, found in the raw value, is the best guess even when
        // escapes shift offsets.
        let token_end = value[inner..]
            .find("}}")
            .map_or(value.len(), |e| inner + e + 2);
        let token = &value[inner..token_end.min(value.len())];
        let nth = value[..inner].matches(token).count();
        match raw.match_indices(token).nth(nth) {
            Some((i, _)) => span.start + i,
            None => span.start,
        }
    }
}

/// Parse and check a template file. The template comes back only when there is no error
/// (warnings are allowed); every problem comes back either way.
pub fn parse_template(id: &str, path: &str, text: &str) -> (Option<Template>, Vec<Problem>) {
    let mut c = Checker {
        path,
        text,
        problems: Vec::new(),
    };
    if id.is_empty()
        || !id
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
    {
        c.error(0, tr!("templates.check.bad_id", id = id).into_owned());
    }
    // An unknown key is reported, then its line is commented out (same length, so every
    // offset stays right) and the file parsed again, so the other problems are found too.
    let mut source = text.to_string();
    let raw: RawTemplate = loop {
        match toml::from_str(&source) {
            Ok(r) => break r,
            Err(e) => {
                let offset = e.span().map_or(0, |s| s.start);
                // The TOML parser's own words (English, whatever the language).
                let message = match e.message().lines().next() {
                    Some(line) => line.to_string(),
                    None => tr!("templates.check.invalid_toml").into_owned(),
                };
                let unknown = message.starts_with("unknown field");
                c.error(offset, message);
                let line_start = source[..offset.min(source.len())]
                    .rfind('\n')
                    .map_or(0, |i| i + 1);
                if !unknown
                    || c.problems.len() > 50
                    || source[line_start..].starts_with('#')
                    || !source.is_char_boundary(line_start + 1)
                {
                    return (None, c.problems);
                }
                source.replace_range(line_start..line_start + 1, "#");
            }
        }
    };
    let title = match &raw.title {
        Some(t) if !t.get_ref().trim().is_empty() => t.get_ref().clone(),
        Some(t) => {
            c.error(
                t.span().start,
                tr!("templates.check.title_empty").into_owned(),
            );
            String::new()
        }
        None => {
            c.error(0, tr!("templates.check.title_missing").into_owned());
            String::new()
        }
    };
    if let Some(t) = &raw.temperature
        && !(0.0..=2.0).contains(t.get_ref())
    {
        c.error(
            t.span().start,
            tr!("templates.check.temperature", value = t.get_ref()).into_owned(),
        );
    }
    if let Some(m) = &raw.max_output_tokens
        && !(1..=u32::MAX as i64).contains(m.get_ref())
    {
        c.error(
            m.span().start,
            tr!("templates.check.max_output_tokens").into_owned(),
        );
    }

    // Variables.
    let mut variables = Vec::new();
    let mut var_spans: HashMap<String, usize> = HashMap::new();
    for v in &raw.variables {
        let name = v.name.get_ref().clone();
        let at = v.name.span().start;
        if !placeholders::valid_name(&name) || name == "steps" {
            c.error(
                at,
                tr!("templates.check.bad_variable_name", name = name).into_owned(),
            );
        }
        if var_spans.insert(name.clone(), at).is_some() {
            c.error(
                at,
                tr!("templates.check.variable_twice", name = name).into_owned(),
            );
        }
        let kind = match &v.kind {
            None => VarKind::Text,
            Some(k) => VarKind::parse(k.get_ref()).unwrap_or_else(|| {
                c.error(
                    k.span().start,
                    tr!("templates.check.unknown_kind", kind = k.get_ref()).into_owned(),
                );
                VarKind::Text
            }),
        };
        let options = v
            .options
            .as_ref()
            .map(|o| o.get_ref().clone())
            .unwrap_or_default();
        match (&v.options, kind) {
            (None, VarKind::Choice) => c.error(
                at,
                tr!("templates.check.choice_needs_options", name = name).into_owned(),
            ),
            (Some(o), VarKind::Choice) if o.get_ref().is_empty() => {
                c.error(
                    o.span().start,
                    tr!("templates.check.choice_without_options", name = name).into_owned(),
                );
            }
            (Some(o), k) if k != VarKind::Choice => c.error(
                o.span().start,
                tr!("templates.check.options_not_choice", name = name).into_owned(),
            ),
            _ => {}
        }
        let default = match &v.default {
            None => None,
            Some(d) => {
                let value = match d.get_ref() {
                    toml::Value::String(s) => Some(s.clone()),
                    toml::Value::Integer(i) => Some(i.to_string()),
                    toml::Value::Float(f) => Some(f.to_string()),
                    toml::Value::Boolean(b) => Some(b.to_string()),
                    _ => {
                        c.error(
                            d.span().start,
                            tr!("templates.check.default_type", name = name).into_owned(),
                        );
                        None
                    }
                };
                if let Some(s) = &value {
                    if kind == VarKind::Number && s.trim().parse::<f64>().is_err() {
                        c.error(
                            d.span().start,
                            tr!("templates.check.default_not_number", name = name).into_owned(),
                        );
                    }
                    if kind == VarKind::Choice && !options.is_empty() && !options.contains(s) {
                        c.error(
                            d.span().start,
                            tr!(
                                "templates.check.default_not_option",
                                name = name,
                                options = options.join(", ")
                            )
                            .into_owned(),
                        );
                    }
                }
                value
            }
        };
        variables.push(Variable {
            label: v.label.clone().unwrap_or_else(|| name.clone()),
            name,
            kind,
            default,
            required: v.required.unwrap_or(true),
            help: v.help.clone(),
            options,
        });
    }

    // Steps.
    let (steps, workflow) = match (&raw.prompt, &raw.steps) {
        (Some(_), Some(s)) => {
            c.error(
                s.span().start,
                tr!("templates.check.prompt_and_steps").into_owned(),
            );
            (Vec::new(), true)
        }
        (None, None) => {
            c.error(0, tr!("templates.check.no_prompt").into_owned());
            (Vec::new(), false)
        }
        (Some(p), None) => (
            vec![(
                "answer".to_string(),
                p.clone(),
                None::<String>,
                p.span().start,
            )],
            false,
        ),
        (None, Some(s)) => {
            if s.get_ref().is_empty() {
                c.error(
                    s.span().start,
                    tr!("templates.check.steps_empty").into_owned(),
                );
            }
            (
                s.get_ref()
                    .iter()
                    .map(|st| {
                        (
                            st.name.get_ref().clone(),
                            st.prompt.clone(),
                            st.model.clone(),
                            st.name.span().start,
                        )
                    })
                    .collect(),
                true,
            )
        }
    };
    let mut step_index: HashMap<String, usize> = HashMap::new();
    for (i, (name, _, _, at)) in steps.iter().enumerate() {
        if workflow && !placeholders::valid_name(name) {
            c.error(
                *at,
                tr!("templates.check.bad_step_name", name = name).into_owned(),
            );
        }
        if step_index.insert(name.clone(), i).is_some() {
            c.error(
                *at,
                tr!("templates.check.step_twice", name = name).into_owned(),
            );
        }
    }

    // Placeholders.
    let mut used: HashSet<String> = HashSet::new();
    let mut texts: Vec<(Option<usize>, &Spanned<String>)> = Vec::new();
    if let Some(s) = &raw.system {
        texts.push((None, s));
    }
    for (i, (_, p, _, _)) in steps.iter().enumerate() {
        texts.push((Some(i), p));
    }
    for (step, spanned) in texts {
        let value = spanned.get_ref();
        let span = spanned.span();
        let pieces = match placeholders::parse(value) {
            Ok(p) => p,
            Err(e) => {
                let at = c.in_string(&span, value, e.offset);
                c.error(at, e.message);
                continue;
            }
        };
        for piece in pieces {
            match piece {
                Piece::Text(_) => {}
                Piece::Var { name, offset } => {
                    if var_spans.contains_key(&name) {
                        used.insert(name);
                    } else {
                        let at = c.in_string(&span, value, offset);
                        c.error(
                            at,
                            tr!("templates.check.not_a_variable", name = name).into_owned(),
                        );
                    }
                }
                Piece::Step { name, offset } => {
                    let at = c.in_string(&span, value, offset);
                    let here = match step {
                        Some(i) if workflow => i,
                        Some(_) => {
                            c.error(
                                at,
                                tr!("templates.check.steps_outside_workflow").into_owned(),
                            );
                            continue;
                        }
                        None => {
                            c.error(at, tr!("templates.check.steps_in_system").into_owned());
                            continue;
                        }
                    };
                    let me = &steps[here].0;
                    match step_index.get(&name) {
                        None => c.error(
                            at,
                            tr!("templates.check.no_such_step", name = name).into_owned(),
                        ),
                        Some(&j) if j == here => c.error(
                            at,
                            tr!("templates.check.own_answer", step = me, name = name).into_owned(),
                        ),
                        Some(&j) if j > here => c.error(
                            at,
                            tr!("templates.check.later_step", step = me, name = name).into_owned(),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    for v in &variables {
        // A knowledge base grounds the whole template; its name need not be in a prompt.
        if v.kind != VarKind::Kb
            && !used.contains(&v.name)
            && let Some(&at) = var_spans.get(&v.name)
        {
            c.at(
                at,
                Severity::Warning,
                tr!("templates.check.unused_variable", name = v.name).into_owned(),
            );
        }
    }

    if c.problems.iter().any(|p| p.severity == Severity::Error) {
        return (None, c.problems);
    }
    let template = Template {
        id: id.to_string(),
        title,
        description: raw.description.unwrap_or_default(),
        category: raw
            .category
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "General".to_string()),
        tags: raw.tags.unwrap_or_default(),
        model: raw.model,
        profile: raw.profile,
        temperature: raw.temperature.map(|t| *t.get_ref() as f32),
        max_output_tokens: raw.max_output_tokens.map(|m| *m.get_ref() as u32),
        system: raw.system.map(|s| s.into_inner()),
        variables,
        steps: steps
            .into_iter()
            .map(|(name, prompt, model, _)| Step {
                name,
                prompt: prompt.into_inner(),
                model,
            })
            .collect(),
        workflow,
    };
    (Some(template), c.problems)
}

/// Fill in defaults and check given values: every problem as a readable line (missing
/// required variables, unknown names, a choice not among its options, a bad number).
/// Files of `file` variables are not read here.
pub fn check_values(
    t: &Template,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Vec<String>> {
    let mut problems = Vec::new();
    for name in given.keys() {
        if t.variable(name).is_none() {
            let names: Vec<&str> = t.variables.iter().map(|v| v.name.as_str()).collect();
            let names = match names.is_empty() {
                true => tr!("templates.values.none").into_owned(),
                false => names.join(", "),
            };
            problems.push(tr!("templates.values.unknown", name = name, names = names).into_owned());
        }
    }
    let mut values = BTreeMap::new();
    for v in &t.variables {
        let value = given
            .get(&v.name)
            .filter(|s| !s.is_empty())
            .or(v.default.as_ref())
            .cloned();
        let Some(value) = value else {
            if v.required {
                let text = match v.help.as_deref() {
                    Some(help) => tr!(
                        "templates.values.missing_help",
                        name = v.name,
                        label = v.label,
                        help = help
                    ),
                    None => tr!("templates.values.missing", name = v.name, label = v.label),
                };
                problems.push(text.into_owned());
            } else {
                values.insert(v.name.clone(), String::new());
            }
            continue;
        };
        match v.kind {
            VarKind::Choice if !v.options.contains(&value) => problems.push(
                tr!(
                    "templates.values.not_an_option",
                    name = v.name,
                    value = value,
                    options = v.options.join(", ")
                )
                .into_owned(),
            ),
            VarKind::Number if value.trim().parse::<f64>().is_err() => {
                problems.push(
                    tr!(
                        "templates.values.not_a_number",
                        name = v.name,
                        value = value
                    )
                    .into_owned(),
                );
            }
            _ => {}
        }
        values.insert(v.name.clone(), value);
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// The prompt of step `step` with its placeholders filled.
pub fn render_step(
    t: &Template,
    step: usize,
    values: &BTreeMap<String, String>,
    answers: &BTreeMap<String, String>,
) -> Result<String, RenderError> {
    let text = t
        .steps
        .get(step)
        .map(|s| s.prompt.as_str())
        .unwrap_or_default();
    placeholders::render(text, &|n| values.get(n).cloned(), &|n| {
        answers.get(n).cloned()
    })
}

/// The system prompt with its placeholders filled.
pub fn render_system(
    t: &Template,
    values: &BTreeMap<String, String>,
) -> Result<Option<String>, RenderError> {
    match &t.system {
        None => Ok(None),
        Some(s) => placeholders::render(s, &|n| values.get(n).cloned(), &|_| None).map(Some),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        parse_template("t", "t.toml", text).1
    }

    /// (file, line, column, severity, fragment of the message)
    #[test]
    fn every_problem_has_its_line_and_column() {
        let cases: &[(&str, usize, usize, Severity, &str)] = &[
            (
                "title = \"x\"\nprompt = \"a\"\nthis is not toml\n",
                3,
                6,
                Severity::Error,
                "",
            ),
            (
                "title = \"x\"\nprompt = \"a\"\ncolour = 1\n",
                3,
                1,
                Severity::Error,
                "unknown field `colour`",
            ),
            (
                "title = \"x\"\nprompt = \"{{a}}\"\n[[variables]]\nname = \"a\"\nlable = \"A\"\n",
                5,
                1,
                Severity::Error,
                "unknown field `lable`",
            ),
            (
                "title = \"x\"\n[[steps]]\nname = \"a\"\nprompt = \"p\"\nmodle = \"m\"\n",
                5,
                1,
                Severity::Error,
                "unknown field `modle`",
            ),
            ("prompt = \"a\"\n", 1, 1, Severity::Error, "missing `title"),
            ("title = \"x\"\n", 1, 1, Severity::Error, "needs `prompt"),
            (
                "title = \"x\"\nprompt = \"a\"\n[[steps]]\nname = \"s\"\nprompt = \"p\"\n",
                3,
                1,
                Severity::Error,
                "not both",
            ),
            (
                "title = \"x\"\nprompt = \"Hi {{who}}!\"\n",
                2,
                14,
                Severity::Error,
                "`{{who}}` is not a variable",
            ),
            (
                "title = \"x\"\nsystem = '''\nline one\n  see {{ nobody }}'''\nprompt = \"a\"\n",
                4,
                7,
                Severity::Error,
                "nobody",
            ),
            (
                "title = \"x\"\nprompt = \"a {{b\"\n",
                2,
                13,
                Severity::Error,
                "not closed",
            ),
            (
                "title = \"x\"\nprompt = \"a\"\n[[variables]]\nname = \"unused\"\n",
                4,
                8,
                Severity::Warning,
                "not used",
            ),
            (
                "title = \"x\"\nprompt = \"{{a}}\"\n[[variables]]\nname = \"a\"\n[[variables]]\nname = \"a\"\n",
                6,
                8,
                Severity::Error,
                "defined twice",
            ),
            (
                "title = \"x\"\nprompt = \"{{A}}\"\n",
                2,
                11,
                Severity::Error,
                "not a placeholder",
            ),
            (
                "title = \"x\"\nprompt = \"{{a}}\"\n[[variables]]\nname = \"a\"\nkind = \"choice\"\n",
                4,
                8,
                Severity::Error,
                "needs `options",
            ),
            (
                "title = \"x\"\nprompt = \"{{a}}\"\n[[variables]]\nname = \"a\"\noptions = [\"p\"]\n",
                5,
                11,
                Severity::Error,
                "only work with kind",
            ),
            (
                "title = \"x\"\nprompt = \"{{a}}\"\n[[variables]]\nname = \"a\"\nkind = \"choice\"\noptions = [\"p\", \"q\"]\ndefault = \"r\"\n",
                7,
                11,
                Severity::Error,
                "not one of its options",
            ),
            (
                "title = \"x\"\nprompt = \"{{a}}\"\n[[variables]]\nname = \"a\"\nkind = \"number\"\ndefault = \"ten\"\n",
                6,
                11,
                Severity::Error,
                "not a number",
            ),
            (
                "title = \"x\"\nprompt = \"{{a}}\"\n[[variables]]\nname = \"a\"\nkind = \"colour\"\n",
                5,
                8,
                Severity::Error,
                "unknown kind",
            ),
            (
                "title = \"x\"\ntemperature = 3.5\nprompt = \"a\"\n",
                2,
                15,
                Severity::Error,
                "between 0 and 2",
            ),
            (
                "title = \"x\"\n[[steps]]\nname = \"a\"\nprompt = \"{{steps.b}}\"\n[[steps]]\nname = \"b\"\nprompt = \"p\"\n",
                4,
                11,
                Severity::Error,
                "runs after it",
            ),
            (
                "title = \"x\"\n[[steps]]\nname = \"a\"\nprompt = \"x {{steps.a}}\"\n",
                4,
                13,
                Severity::Error,
                "its own answer",
            ),
            (
                "title = \"x\"\n[[steps]]\nname = \"a\"\nprompt = \"{{steps.zzz}}\"\n",
                4,
                11,
                Severity::Error,
                "no step `zzz`",
            ),
            (
                "title = \"x\"\nprompt = \"{{steps.a}}\"\n",
                2,
                11,
                Severity::Error,
                "only works in the [[steps]]",
            ),
            (
                "title = \"x\"\nsystem = \"{{steps.a}}\"\n[[steps]]\nname = \"a\"\nprompt = \"p\"\n",
                2,
                11,
                Severity::Error,
                "cannot be used in `system`",
            ),
            (
                "title = \"x\"\n[[steps]]\nname = \"a\"\nprompt = \"p\"\n[[steps]]\nname = \"a\"\nprompt = \"q\"\n",
                6,
                8,
                Severity::Error,
                "step `a` is defined twice",
            ),
            (
                "title = \"x\"\n[[steps]]\nname = \"Bad-Name\"\nprompt = \"p\"\n",
                3,
                8,
                Severity::Error,
                "cannot be a step name",
            ),
        ];
        for (text, line, column, severity, fragment) in cases {
            let ps = problems(text);
            let found = ps
                .iter()
                .find(|p| p.message.contains(fragment) && p.severity == *severity);
            let p = found.unwrap_or_else(|| panic!("{text:?}: no {fragment:?} in {ps:?}"));
            assert_eq!((p.line, p.column), (*line, *column), "{text:?}: {p}");
        }
    }

    #[test]
    fn a_bad_id_and_display() {
        let (t, ps) = parse_template("Bad_Id", "Bad_Id.toml", "title = \"x\"\nprompt = \"a\"\n");
        assert!(t.is_none());
        assert_eq!(
            ps[0].to_string(),
            "Bad_Id.toml:1:1: error: `Bad_Id` cannot be a template id (it is the file name): use lowercase letters, digits and -"
        );
    }

    #[test]
    fn a_valid_workflow_parses_with_defaults() {
        let text = "title = \"Minutes\"\nsystem = \"For {{team}}\"\n\n[[variables]]\nname = \"notes\"\nkind = \"document\"\n\n[[variables]]\nname = \"team\"\ndefault = \"Finance\"\nrequired = false\n\n[[variables]]\nname = \"n\"\nkind = \"number\"\ndefault = 3\n\n[[steps]]\nname = \"minutes\"\nprompt = \"{{notes}} {{n}}\"\n\n[[steps]]\nname = \"actions\"\nprompt = \"{{steps.minutes}}\"\nmodel = \"gpt-4o\"\n";
        let (t, ps) = parse_template("minutes", "m.toml", text);
        assert!(ps.is_empty(), "{ps:?}");
        let t = t.unwrap();
        assert!(t.is_workflow());
        assert_eq!(t.category, "General");
        assert_eq!(t.variable("notes").unwrap().kind, VarKind::Document);
        assert_eq!(t.variable("notes").unwrap().label, "notes");
        assert_eq!(t.variable("n").unwrap().default.as_deref(), Some("3"));
        assert_eq!(t.steps[1].model.as_deref(), Some("gpt-4o"));
        let values = check_values(&t, &[("notes".to_string(), "N".to_string())].into()).unwrap();
        assert_eq!(
            render_system(&t, &values).unwrap().as_deref(),
            Some("For Finance")
        );
        assert_eq!(
            render_step(&t, 0, &values, &BTreeMap::new()).unwrap(),
            "N 3"
        );
        let answers = [("minutes".to_string(), "M".to_string())].into();
        assert_eq!(render_step(&t, 1, &values, &answers).unwrap(), "M");
        // A single prompt is one step named `answer`.
        let (t, _) = parse_template("one", "one.toml", "title = \"x\"\nprompt = \"hi\"\n");
        let t = t.unwrap();
        assert!(!t.is_workflow());
        assert_eq!(t.steps[0].name, "answer");
    }

    #[test]
    fn check_values_lists_every_problem() {
        let text = "title = \"x\"\nprompt = \"{{a}}{{b}}{{c}}{{d}}\"\n[[variables]]\nname = \"a\"\nlabel = \"The A\"\nhelp = \"Paste it.\"\n[[variables]]\nname = \"b\"\nkind = \"choice\"\noptions = [\"p\", \"q\"]\n[[variables]]\nname = \"c\"\nkind = \"number\"\n[[variables]]\nname = \"d\"\nrequired = false\n";
        let t = parse_template("x", "x.toml", text).0.unwrap();
        let given: BTreeMap<String, String> = [
            ("b".to_string(), "r".to_string()),
            ("c".to_string(), "ten".to_string()),
            ("zz".to_string(), "1".to_string()),
        ]
        .into();
        let e = check_values(&t, &given).unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e.iter().any(|l| l == "missing `a` (The A): Paste it."));
        assert!(e.iter().any(|l| l.contains("must be one of: p, q")));
        assert!(e.iter().any(|l| l.contains("not a number")));
        assert!(
            e.iter()
                .any(|l| l.contains("unknown variable `zz`; this template has: a, b, c, d"))
        );
        let ok: BTreeMap<String, String> = [
            ("a".to_string(), "A".to_string()),
            ("b".to_string(), "q".to_string()),
            ("c".to_string(), "2.5".to_string()),
        ]
        .into();
        let v = check_values(&t, &ok).unwrap();
        assert_eq!(v["d"], "", "an optional variable without a value is empty");
    }

    #[test]
    fn a_megabyte_template_parses() {
        let text = format!(
            "title = \"big\"\nprompt = '''\n{}\n'''\n",
            "x".repeat(1_000_000)
        );
        let (t, ps) = parse_template("big", "big.toml", &text);
        assert!(ps.is_empty());
        assert_eq!(t.unwrap().steps[0].prompt.len(), 1_000_001);
    }
}
