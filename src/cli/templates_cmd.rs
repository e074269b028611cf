//! `clerk templates list | show | validate | new | path`: the template library from the
//! command line. Reading only, except `new`, which writes one file in the user's folder.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use super::output::for_stdout;
use super::{CliError, Ctx, Exit};
use crate::templates::{self, Entry, Library, Severity, Sources, VarKind};

/// `clerk templates …`
#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// List every template (user, team and built-in), grouped by category
    List {
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Show a template: its variables, prompts, origin and problems
    Show {
        /// Template id
        id: String,
    },
    /// Check template files (default: the whole library); every problem with file:line:column
    Validate {
        /// Files or folders to check
        paths: Vec<PathBuf>,
    },
    /// Create a template file in your folder (opened in $EDITOR on a terminal)
    New {
        /// Id of the new template (lowercase letters, digits and -)
        id: String,
    },
    /// Print the template folders, highest priority first
    Path,
}

/// Where templates come from for this config.
pub fn sources(ctx: &Ctx) -> Sources {
    templates::sources(&ctx.paths.config_file, &ctx.config.file.template_dirs)
}

/// Run a `templates` command.
pub fn run(ctx: &Ctx, cmd: &TemplatesCommand) -> Result<Exit, CliError> {
    let src = sources(ctx);
    match cmd {
        TemplatesCommand::List { json } => list(&src, *json),
        TemplatesCommand::Show { id } => show(&src, id),
        TemplatesCommand::Validate { paths } => validate(&src, paths),
        TemplatesCommand::New { id } => new(&src, id),
        TemplatesCommand::Path => {
            if let Some(u) = &src.user {
                let path = u.display();
                println!(
                    "{}",
                    tr!("cli.templates.yours", path = path, missing = missing(u))
                );
            }
            for t in &src.team {
                let path = t.display();
                println!(
                    "{}",
                    tr!("cli.templates.team", path = path, missing = missing(t))
                );
            }
            println!("{}", tr!("cli.templates.builtin", n = src.builtin.len()));
            Ok(Exit::Ok)
        }
    }
}

fn missing(p: &Path) -> std::borrow::Cow<'static, str> {
    if p.is_dir() {
        "".into()
    } else {
        tr!("cli.templates.missing")
    }
}

fn warn_library(lib: &Library) {
    for w in lib.warnings() {
        eprintln!("{w}");
    }
}

fn list(src: &Sources, json: bool) -> Result<Exit, CliError> {
    let lib = Library::load(src);
    warn_library(&lib);
    let tty = super::output::stdout_is_tty();
    let mut category = String::new();
    for e in lib.entries() {
        if json {
            let t = e.template.as_ref();
            println!(
                "{}",
                json!({
                    "id": e.id,
                    "title": t.map(|t| t.title.clone()),
                    "category": t.map(|t| t.category.clone()),
                    "workflow": t.map(|t| t.is_workflow()),
                    "steps": t.map(|t| t.steps.len()),
                    "origin": e.origin.to_string(),
                    "path": e.path.as_ref().map(|p| p.display().to_string()),
                    "broken": e.is_broken(),
                    "problems": e.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                })
            );
            continue;
        }
        match &e.template {
            Some(t) => {
                if t.category != category {
                    category = t.category.clone();
                    println!("{}", for_stdout(&category, tty));
                }
                let kind = if t.is_workflow() {
                    tr!("cli.templates.workflow", n = t.steps.len())
                } else {
                    tr!("cli.templates.prompt_kind")
                };
                println!(
                    "  {:<22} {}  ({kind}; {})",
                    e.id,
                    for_stdout(&t.title, tty),
                    e.origin
                );
            }
            None => {
                let why = e
                    .problems
                    .iter()
                    .find(|p| p.severity == Severity::Error)
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                let why = for_stdout(&why, tty);
                println!("  {:<22} {}", e.id, tr!("cli.templates.broken", why = why));
            }
        }
    }
    Ok(Exit::Ok)
}

/// The library entry for `id`, or an error that lists what exists.
pub fn find<'a>(lib: &'a Library, id: &str) -> Result<&'a Entry, CliError> {
    lib.get(id).ok_or_else(|| {
        let ids: Vec<&str> = lib.entries().iter().map(|e| e.id.as_str()).collect();
        CliError::new(
            Exit::BadInput,
            format!(
                "{}",
                tr!("cli.templates.unknown", id = id, ids = ids.join(", "))
            ),
        )
    })
}

fn kind_name(k: VarKind) -> &'static str {
    match k {
        VarKind::Text => "text",
        VarKind::Multiline => "multiline",
        VarKind::Document => "document",
        VarKind::File => "file",
        VarKind::Choice => "choice",
        VarKind::Number => "number",
        VarKind::Kb => "kb",
    }
}

fn show(src: &Sources, id: &str) -> Result<Exit, CliError> {
    let lib = Library::load(src);
    let e = find(&lib, id)?;
    let tty = super::output::stdout_is_tty();
    let p = |s: &str| println!("{}", for_stdout(s, tty));
    // A label and its value, the values lined up by terminal cells.
    let field = |label: &str, value: &dyn std::fmt::Display| {
        format!("{} {value}", super::output::pad(label, 9))
    };
    p(&field(&tr!("cli.templates.label.id"), &e.id));
    p(&field(&tr!("cli.templates.label.origin"), &e.origin));
    if let Some(path) = &e.path {
        p(&field(&tr!("cli.templates.label.file"), &path.display()));
    }
    for o in &e.shadows {
        p(&field(&tr!("cli.templates.label.overrides"), o));
    }
    for problem in &e.problems {
        p(&problem.to_string());
    }
    let Some(t) = &e.template else {
        return Ok(Exit::BadInput);
    };
    p(&field(&tr!("cli.templates.label.title"), &t.title));
    if !t.description.is_empty() {
        p(&field(&tr!("cli.templates.label.about"), &t.description));
    }
    p(&field(&tr!("cli.templates.label.category"), &t.category));
    if !t.tags.is_empty() {
        p(&field(&tr!("cli.templates.label.tags"), &t.tags.join(", ")));
    }
    if let Some(m) = &t.model {
        p(&field(&tr!("cli.templates.label.model"), m));
    }
    p("");
    p(&tr!("cli.templates.label.variables"));
    for v in &t.variables {
        let mut facts = vec![kind_name(v.kind).to_string()];
        facts.push(match v.required {
            true => tr!("cli.templates.required").into_owned(),
            false => tr!("cli.templates.optional").into_owned(),
        });
        if let Some(d) = &v.default {
            facts.push(tr!("cli.templates.default", value = format!("{d:?}")).into_owned());
        }
        if !v.options.is_empty() {
            let options = v.options.join(" | ");
            facts.push(tr!("cli.templates.one_of", options = options).into_owned());
        }
        p(&format!(
            "  {:<14} {} ({})",
            v.name,
            v.label,
            facts.join(", ")
        ));
        if let Some(h) = &v.help {
            p(&format!("  {:<14} {h}", ""));
        }
    }
    if let Some(s) = &t.system {
        p("");
        p(&tr!("cli.templates.label.system"));
        p(s);
    }
    for (i, s) in t.steps.iter().enumerate() {
        p("");
        if t.is_workflow() {
            let model = s
                .model
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            p(&tr!(
                "cli.templates.step",
                n = i + 1,
                of = t.steps.len(),
                name = s.name,
                model = model
            ));
        } else {
            p(&tr!("cli.templates.label.prompt"));
        }
        p(&s.prompt);
    }
    Ok(Exit::Ok)
}

/// The `*.toml` files among `paths` (folders are read one level deep).
fn template_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| {
                CliError::new(
                    Exit::BadInput,
                    tr!("cli.templates.cannot_read", path = p.display(), error = e),
                )
            })?;
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort_unstable();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn validate(src: &Sources, paths: &[PathBuf]) -> Result<Exit, CliError> {
    let mut problems = Vec::new();
    let mut checked = 0;
    if paths.is_empty() {
        let lib = Library::load(src);
        for w in lib.warnings() {
            problems.push(w.clone());
        }
        for e in lib.entries() {
            checked += 1;
            problems.extend(e.problems.iter().cloned());
        }
    } else {
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        for file in template_files(paths)? {
            checked += 1;
            let label = file.display().to_string();
            let id = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(first) = seen.get(&id) {
                problems.push(templates::Problem {
                    path: label.clone(),
                    line: 1,
                    column: 1,
                    severity: Severity::Error,
                    message: tr!("cli.templates.duplicate", id = id, other = first.display())
                        .into_owned(),
                });
            } else {
                seen.insert(id.clone(), file.clone());
            }
            match templates::read_file(&file) {
                Ok(text) => problems.extend(templates::parse_template(&id, &label, &text).1),
                Err(p) => problems.push(p),
            }
        }
    }
    for p in &problems {
        println!("{p}");
    }
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    eprintln!(
        "{}",
        tr!(
            "cli.templates.checked",
            checked = checked,
            errors = errors,
            warnings = warnings
        )
    );
    Ok(if errors > 0 { Exit::BadInput } else { Exit::Ok })
}

fn new(src: &Sources, id: &str) -> Result<Exit, CliError> {
    let Some(dir) = &src.user else {
        return Err(CliError::new(Exit::Failure, tr!("cli.templates.no_folder")));
    };
    let path = templates::new_template_file(dir, id, &templates::skeleton(id))
        .map_err(|e| CliError::new(Exit::BadInput, e))?;
    println!("{}", path.display());
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if interactive
        && let Some(editor) = std::env::var("VISUAL")
            .ok()
            .or_else(|| std::env::var("EDITOR").ok())
            .filter(|e| !e.trim().is_empty())
    {
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(&path)
            .status();
    }
    Ok(Exit::Ok)
}
