//! Template files on disk, clerk's side: where the folders are, the built-in templates,
//! writing a new template (`clerk templates new`, "save as template" in the app).
//! Parsing and checking live in `format`/`validate`; this module never parses.

use std::path::{Path, PathBuf};

use super::Sources;

/// The built-in templates, embedded in the binary: (id, text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("action-items", include_str!("builtin/action-items.toml")),
    (
        "compare-documents",
        include_str!("builtin/compare-documents.toml"),
    ),
    ("email-reply", include_str!("builtin/email-reply.toml")),
    ("explain-code", include_str!("builtin/explain-code.toml")),
    ("explain-error", include_str!("builtin/explain-error.toml")),
    (
        "meeting-minutes",
        include_str!("builtin/meeting-minutes.toml"),
    ),
    (
        "procedure-question",
        include_str!("builtin/procedure-question.toml"),
    ),
    ("proofread", include_str!("builtin/proofread.toml")),
    ("rewrite-tone", include_str!("builtin/rewrite-tone.toml")),
    ("summarize", include_str!("builtin/summarize.toml")),
    ("table-to-csv", include_str!("builtin/table-to-csv.toml")),
    (
        "translate-zh-en",
        include_str!("builtin/translate-zh-en.toml"),
    ),
    ("weekly-report", include_str!("builtin/weekly-report.toml")),
];

/// The sources for a config file (its folder's `templates/` is the user's), the config's
/// `template_dirs`, then `CLERK_TEMPLATE_PATH`, then the built-ins.
pub fn sources(config_file: &Path, template_dirs: &[PathBuf]) -> Sources {
    let mut team: Vec<PathBuf> = template_dirs.to_vec();
    if let Some(extra) = std::env::var_os("CLERK_TEMPLATE_PATH") {
        team.extend(std::env::split_paths(&extra).filter(|p| !p.as_os_str().is_empty()));
    }
    Sources {
        user: config_file.parent().map(|p| p.join("templates")),
        team,
        builtin: BUILTIN.to_vec(),
    }
}

/// A new template's text: a working example to edit.
pub fn skeleton(id: &str) -> String {
    format!(
        r#"# A clerk template: see docs/templates.md. Check it with `clerk templates validate`.
# Keys at the top, then the [[variables]] tables.
title = {id:?}
description = ""
category = "General"
tags = []
# model = "gpt-4o-mini"
# temperature = 0.3
prompt = '''
Work on this text:

{{{{text}}}}
'''

[[variables]]
name = "text"
label = "Text"
kind = "document"
help = "Paste the text to work on."
"#
    )
}

/// A template made from a message: the prompt as written, braces kept literal.
pub fn from_prompt(title: &str, prompt: &str) -> String {
    let body = prompt.replace("{{", "\\{{");
    let quoted = if body.contains("'''") {
        // A literal string cannot hold '''; a basic string can.
        format!("{:?}", body)
    } else {
        format!("'''\n{body}\n'''")
    };
    format!(
        "# Saved from a message: give it a title and variables ({{{{name}}}}), see docs/templates.md.\n\
         title = {title:?}\ndescription = \"\"\ncategory = \"Mine\"\ntags = []\nprompt = {quoted}\n"
    )
}

/// Write a new template file `ID.toml` in `dir` (made if needed); refuses to overwrite.
pub fn new_template_file(dir: &Path, id: &str, text: &str) -> Result<PathBuf, String> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(tr!("templates.file.bad_id", id = id).into_owned());
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        tr!(
            "templates.file.cannot_create",
            path = dir.display(),
            why = e
        )
        .into_owned()
    })?;
    let path = dir.join(format!("{id}.toml"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                tr!("templates.file.exists", path = path.display()).into_owned()
            }
            _ => tr!(
                "templates.file.cannot_write",
                path = path.display(),
                why = e
            )
            .into_owned(),
        })?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| {
        tr!(
            "templates.file.cannot_write",
            path = path.display(),
            why = e
        )
        .into_owned()
    })?;
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::templates::{VarKind, check_values, parse_template, render_step, render_system};

    /// Every built-in parses without a problem and renders every step with sample values.
    #[test]
    fn every_built_in_is_valid_and_renders() {
        assert!(BUILTIN.len() >= 10);
        let mut workflows = 0;
        for (id, text) in BUILTIN {
            let (t, problems) = parse_template(id, id, text);
            assert!(problems.is_empty(), "{id}: {problems:?}");
            let t = t.unwrap();
            assert!(t.model.is_none(), "{id}: built-ins use the user's model");
            assert!(!t.description.is_empty(), "{id}");
            let given: BTreeMap<String, String> = t
                .variables
                .iter()
                .filter(|v| v.default.is_none())
                .map(|v| {
                    let value = match v.kind {
                        VarKind::Choice => v.options[0].clone(),
                        VarKind::Number => "3".to_string(),
                        _ => format!("<<{}>>", v.name),
                    };
                    (v.name.clone(), value)
                })
                .collect();
            let values = check_values(&t, &given).unwrap();
            let mut answers = BTreeMap::new();
            for (i, s) in t.steps.iter().enumerate() {
                let out = render_step(&t, i, &values, &answers).unwrap();
                assert!(!out.contains("{{"), "{id}/{}: {out}", s.name);
                for v in t.variables.iter().filter(|v| v.default.is_none()) {
                    if s.prompt.contains(&format!("{{{{{}}}}}", v.name)) {
                        assert!(out.contains(&given[&v.name]), "{id}: {} filled", v.name);
                    }
                }
                answers.insert(s.name.clone(), format!("[answer of {}]", s.name));
            }
            if let Some(sys) = render_system(&t, &values).unwrap() {
                assert!(!sys.contains("{{"), "{id}");
            }
            if t.is_workflow() {
                workflows += 1;
                let last = render_step(&t, t.steps.len() - 1, &values, &answers).unwrap();
                assert!(
                    last.contains("[answer of "),
                    "{id}: the last step uses earlier answers"
                );
            }
        }
        assert!(workflows >= 3, "several workflows: {workflows}");
    }

    #[test]
    fn summarize_keeps_the_variable_names_clerk_summarize_uses() {
        let (_, text) = BUILTIN.iter().find(|(id, _)| *id == "summarize").unwrap();
        let t = parse_template("summarize", "s", text).0.unwrap();
        for name in ["document", "length", "audience", "language"] {
            assert!(t.variable(name).is_some(), "{name}");
        }
    }

    #[test]
    fn a_saved_prompt_is_a_valid_template_that_renders_to_the_prompt() {
        let prompt = "Translate {{this}} and keep \\{{that}} and ''' quotes";
        for p in [prompt, "Plain {{x}} prompt"] {
            let text = from_prompt("Mine", p);
            let (t, problems) = parse_template("mine", "mine.toml", &text);
            assert!(problems.is_empty(), "{text}\n{problems:?}");
            let out = render_step(&t.unwrap(), 0, &BTreeMap::new(), &BTreeMap::new()).unwrap();
            assert_eq!(out.trim_end(), p, "the message comes back exactly");
        }
        let text = skeleton("my-report");
        let (t, problems) = parse_template("my-report", "x", &text);
        assert!(t.is_some() && problems.is_empty(), "{problems:?}");
    }
}
