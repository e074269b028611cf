//! `clerk summarize FILE...`: the built-in `summarize` template (or the user's own version
//! of it) over files of any length, with progress on stderr.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::ask::{Prompt, Sending, Source, send};
use super::docs::{self, DocOptions};
use super::{CliError, Ctx, Exit};
use crate::templates::Library;

/// Arguments of `clerk summarize`.
#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Files to summarise (`-` reads standard input)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// How long the summary is
    #[arg(long, value_enum, default_value_t = Length::Medium)]
    pub length: Length,
    /// Language of the summary [default: the document's]
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Who reads it
    #[arg(long, value_enum, default_value_t = Audience::General)]
    pub audience: Audience,
    /// Print one JSON object (summary, parts, usage, cost) instead of streaming
    #[arg(long)]
    pub json: bool,
    /// Do not save this summary in the history
    #[arg(long)]
    pub no_save: bool,
    /// Documents.
    #[command(flatten)]
    pub docs: DocOptions,
}

/// Summary length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Length {
    /// 3 to 5 bullet points
    Short,
    /// a gist and 5 to 8 bullet points
    Medium,
    /// an overview and a section per topic
    Long,
}

/// Summary language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Chinese (简体中文)
    Zh,
    /// English
    En,
}

/// Audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Audience {
    /// plain language
    General,
    /// decisions, risks, costs, deadlines
    Executive,
    /// the details people need to act
    Team,
}

fn name_of<T: ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// A single-prompt template as a [`Prompt`] whose variable `doc_var` stands for `sources`
/// (sent whole, or read in parts when too long). `values` has every variable filled.
pub(super) fn template_prompt(
    template: &crate::templates::Template,
    mut values: BTreeMap<String, String>,
    doc_var: &str,
    sources: Vec<Source>,
    title: &str,
) -> Result<Prompt, CliError> {
    let bad = |m: String| CliError::new(Exit::BadInput, m);
    let system = crate::templates::render_system(template, &values).map_err(|e| {
        bad(tr!("cli.compare.template_error", id = template.id, error = e).into_owned())
    })?;
    values.remove(doc_var);
    let t = template.clone();
    let var = doc_var.to_string();
    let render = Arc::new(move |docs: &str| {
        let mut v = values.clone();
        v.insert(var.clone(), docs.to_string());
        crate::templates::render_step(&t, 0, &v, &BTreeMap::new()).unwrap_or_default()
    });
    let hint = render("[the document, read in parts]");
    Ok(Prompt {
        question: String::new(),
        hint,
        system,
        temperature: template.temperature,
        max_output_tokens: template.max_output_tokens.map(u64::from),
        sources,
        render,
        title: Some(crate::cli::output::clip(title, 60)),
        model: template.model.clone(),
        saved: None,
        grounded: None,
    })
}

/// Run `clerk summarize`.
pub fn run(ctx: &Ctx, args: &SummarizeArgs) -> Result<Exit, CliError> {
    let bad = |m: String| CliError::new(Exit::BadInput, m);
    let lib = Library::load(&super::templates_cmd::sources(ctx));
    let entry = super::templates_cmd::find(&lib, "summarize")?;
    let Some(template) = entry.template.clone() else {
        return Err(bad(
            tr!("cli.summarize.broken", place = place(entry)).into_owned()
        ));
    };
    if template.steps.len() != 1 || template.variable("document").is_none() {
        return Err(bad(
            tr!("cli.summarize.unusable", place = place(entry)).into_owned()
        ));
    }
    let cfg = &ctx.config.file.documents;
    let mut sources = Vec::with_capacity(args.files.len());
    for path in &args.files {
        if path.as_os_str() == "-" {
            let text = super::ask::read_stdin_document(
                ctx.config
                    .file
                    .documents
                    .max_file_mb
                    .saturating_mul(1024 * 1024),
            )?
            .ok_or_else(|| bad(tr!("cli.summarize.nothing_piped").into_owned()))?;
            sources.push(Source::pasted("standard input", text));
            continue;
        }
        for d in docs::read_files(std::slice::from_ref(path), cfg)? {
            sources.push(Source {
                about: d.clone_meta(),
                name: d.name,
                text: d.text,
            });
        }
    }
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    values.insert("length".into(), name_of(args.length));
    values.insert("audience".into(), name_of(args.audience));
    if let Some(lang) = args.lang {
        values.insert(
            "language".into(),
            match lang {
                Lang::Zh => "Chinese (简体中文)",
                Lang::En => "English",
            }
            .into(),
        );
    }
    values.insert("document".into(), "[the document]".into());
    let values = crate::templates::check_values(&template, &values)
        .map_err(|p| bad(tr!("cli.summarize.problems", problems = p.join("; ")).into_owned()))?;
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    let title = format!("Summary: {}", names.join(", "));
    let prompt = template_prompt(&template, values, "document", sources, &title)?;
    send(
        ctx,
        &Sending {
            session: None,
            json: args.json,
            no_save: args.no_save,
            docs: args.docs.clone(),
        },
        prompt,
    )
}

/// Where a template comes from, for messages: its file, or "built in".
fn place(entry: &crate::templates::Entry) -> String {
    entry
        .path
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| tr!("cli.summarize.built_in").into_owned())
}
