//! `clerk kb index` for a base with `embeddings = "MODEL"`: after the keyword index is up to
//! date, the passages without a vector are embedded through the profile's endpoint
//! ([`crate::knowledge::vectors::embed_missing`]), with a progress bar on a terminal and a
//! summary line. Vectors are never needed: no key, an endpoint without embeddings (404) or a
//! failure is a note, the keyword index stays, and the exit code is that of the indexing.

use std::io::Write;
use std::time::{Duration, Instant};

use super::{CliError, Ctx, output};
use crate::config::KnowledgeEntry;
use crate::format::thousands;
use crate::knowledge::Index;
use crate::knowledge::vectors::{EmbedError, EmbedReport, embed_missing, is_missing_endpoint};

/// Embed base `entry`'s passages that have no vector, when it turns vectors on. The summary
/// goes to stdout (stderr with `--json`, whose stdout is the indexing reports).
pub(super) fn embed(
    ctx: &Ctx,
    index: &mut Index,
    entry: &KnowledgeEntry,
    json: bool,
) -> Result<Option<EmbedReport>, CliError> {
    let Some(model) = entry.embeddings.as_deref() else {
        return Ok(None);
    };
    let name = &entry.name;
    let endpoint = match super::ask_kb::endpoint(ctx, Some(name.clone())) {
        Ok(e) => e,
        Err(why) => {
            let text = tr!("cli.kb.vectors.no_endpoint", name = name, why = why);
            eprintln!("{}", tr!("cli.note", text = text));
            return Ok(None);
        }
    };
    let rt = super::runtime()?;
    let mut bar = Bar::new(output::stderr_is_tty(), name);
    let result = rt.block_on(embed_missing(
        index,
        &endpoint,
        name,
        model,
        &mut |done, todo| bar.show(done, todo),
        &mut |n| eprintln!("{}…", crate::chat::record::retry_text(&n)),
    ));
    bar.clear();
    let say = |line: String| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    match result {
        Ok(r) => {
            say(tr!(
                "cli.kb.vectors.done",
                name = name,
                embedded = thousands(r.embedded),
                model = model,
                with = thousands(r.with_vectors),
                requests = thousands(r.requests),
                seconds = format!("{:.1}", r.elapsed.as_secs_f64())
            )
            .into_owned());
            Ok(Some(r))
        }
        Err(EmbedError::Endpoint { error, report }) => {
            if is_missing_endpoint(&error) {
                let text = tr!(
                    "cli.kb.vectors.no_embeddings",
                    name = name,
                    url = endpoint.url("/embeddings"),
                    model = model
                );
                eprintln!("{}", tr!("cli.note", text = text));
            } else {
                let text = tr!(
                    "cli.kb.vectors.stopped",
                    name = name,
                    embedded = thousands(report.embedded),
                    without = thousands(report.without),
                    error = error
                );
                eprintln!("{}", tr!("cli.warning", text = text));
            }
            Ok(Some(report))
        }
        Err(EmbedError::Index(e)) => Err(e.into()),
    }
}

/// A progress bar on stderr, on a terminal only, once embedding has taken a second.
struct Bar<'a> {
    tty: bool,
    name: &'a str,
    start: Instant,
    drawn: bool,
}

impl<'a> Bar<'a> {
    fn new(tty: bool, name: &'a str) -> Self {
        Bar {
            tty,
            name,
            start: Instant::now(),
            drawn: false,
        }
    }

    fn show(&mut self, done: u64, todo: u64) {
        if !self.tty || self.start.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.drawn = true;
        let width = 30u64;
        let filled = (done * width).checked_div(todo).unwrap_or(width).min(width) as usize;
        let bar = format!(
            "{}{}",
            "#".repeat(filled),
            ".".repeat(width as usize - filled)
        );
        eprint!(
            "\r\x1b[2K{}",
            tr!(
                "cli.kb.vectors.progress",
                name = self.name,
                bar = bar,
                done = thousands(done),
                total = thousands(todo)
            )
        );
        let _ = std::io::stderr().flush();
    }

    fn clear(&self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
        }
    }
}
