//! `clerk sessions`: list, show, search, export, rename and delete saved sessions.
//!
//! Reads and edits the history database; prints model text sanitized when stdout is a
//! terminal, exactly as stored otherwise.

use std::io::Write;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::ask::resolve_session;
use super::output::{self, clip, for_stdout, local_time, pad, pad_left};
use super::{CliError, Ctx, Exit};
use crate::format::{session_json, session_markdown, thousands};
use crate::store::{Message, Role, Session, Store};

/// `clerk sessions …`
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List sessions, most recent first
    List {
        /// Include archived sessions
        #[arg(long)]
        all: bool,
        /// Show at most N sessions
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a session's messages
    Show {
        /// Session id, or `last`
        id: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Search every message (English, Chinese and other languages)
    Search {
        /// Words to find
        #[arg(required = true)]
        query: Vec<String>,
        /// At most N results
        #[arg(long, default_value_t = 20, value_name = "N")]
        limit: usize,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Export a session as Markdown or JSON
    Export {
        /// Session id, or `last`
        id: String,
        /// Format
        #[arg(long, value_enum, default_value_t = Format::Md)]
        format: Format,
        /// Write to this file instead of stdout
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Rename a session
    Rename {
        /// Session id, or `last`
        id: String,
        /// The new title
        #[arg(required = true)]
        title: Vec<String>,
    },
    /// Delete a session and its messages
    Rm {
        /// Session id, or `last`
        id: String,
    },
    /// Archive a session: kept and searchable, listed only with `list --all`
    Archive {
        /// Session id, or `last`
        id: String,
    },
    /// Bring an archived session back into the list
    Unarchive {
        /// Session id (see `clerk sessions list --all`)
        id: String,
    },
    /// Copy what can still be read of a damaged history into a new one; the damaged file is
    /// kept beside it (close every other clerk first)
    Recover {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Markdown
    Md,
    /// JSON
    Json,
}

/// Run `clerk sessions …`.
pub fn run(ctx: &Ctx, cmd: &SessionsCommand) -> Result<Exit, CliError> {
    if let SessionsCommand::Recover { json } = cmd {
        // A damaged history may not open at all: recovery reads the file itself.
        return recover(ctx, *json);
    }
    let mut store = ctx.open_store()?;
    let tty = output::stdout_is_tty();
    let mut out = std::io::stdout().lock();
    let w = |e: std::io::Error| {
        CliError::new(
            Exit::Failure,
            tr!("cli.cannot_write_output", error = crate::i18n::os_error(&e)),
        )
    };
    match cmd {
        SessionsCommand::List { all, limit, json } => {
            let list = store.list_sessions(*limit, *all)?;
            if *json {
                writeln!(out, "{}", serde_json::to_string(&list).unwrap_or_default()).map_err(w)?;
            } else if list.is_empty() {
                eprintln!("{}", tr!("cli.sessions.none"));
            } else {
                writeln!(
                    out,
                    "{}  {}  {}  {}",
                    pad_left(&tr!("cli.sessions.col.id"), 6),
                    pad(&tr!("cli.sessions.col.updated"), 16),
                    pad_left(&tr!("cli.sessions.col.messages"), 5),
                    tr!("cli.sessions.col.title")
                )
                .map_err(w)?;
                for s in &list {
                    let title = for_stdout(&s.session.title, tty);
                    let archived = if s.session.archived {
                        tr!("cli.sessions.archived_mark")
                    } else {
                        std::borrow::Cow::Borrowed("")
                    };
                    writeln!(
                        out,
                        "{:>6}  {:<16}  {:>5}  {}{archived}",
                        s.session.id,
                        local_time(s.session.updated_ms),
                        s.message_count,
                        clip(&title, 70)
                    )
                    .map_err(w)?;
                }
            }
        }
        SessionsCommand::Show { id, json } => {
            let (session, messages) = load(&store, id)?;
            if *json {
                writeln!(out, "{}", json!({"session": session, "messages": messages}))
                    .map_err(w)?;
            } else {
                out.write_all(for_stdout(&session_markdown(&session, &messages), tty).as_bytes())
                    .map_err(w)?;
            }
        }
        SessionsCommand::Search { query, limit, json } => {
            let q = query.join(" ");
            let marks = if *json {
                ("[", "]")
            } else if tty {
                ("\u{E000}", "\u{E001}")
            } else {
                ("**", "**")
            };
            let hits = store.search(&q, *limit, marks)?;
            if *json {
                writeln!(out, "{}", serde_json::to_string(&hits).unwrap_or_default()).map_err(w)?;
            } else if hits.is_empty() {
                eprintln!("{}", tr!("cli.sessions.nothing_found", query = q));
            } else {
                for h in &hits {
                    let who = match h.role {
                        Role::User => "you",
                        Role::Assistant => "assistant",
                        Role::System => "system",
                    };
                    let snippet = clip(&for_stdout(&h.snippet, tty), 200);
                    // Marks go in as inert placeholders and become bold only after sanitizing.
                    let snippet = snippet
                        .replace('\u{E000}', "\x1b[1;33m")
                        .replace('\u{E001}', "\x1b[0m");
                    writeln!(
                        out,
                        "#{}  {}  {}\n    {who}: {snippet}",
                        h.session_id,
                        local_time(h.created_ms),
                        clip(&for_stdout(&h.session_title, tty), 60)
                    )
                    .map_err(w)?;
                }
            }
        }
        SessionsCommand::Export {
            id,
            format,
            output: file,
        } => {
            let (session, messages) = load(&store, id)?;
            let text = match format {
                Format::Md => session_markdown(&session, &messages),
                Format::Json => session_json(&session, &messages),
            };
            match file {
                Some(path) => {
                    std::fs::write(path, text).map_err(|e| {
                        CliError::new(
                            Exit::Failure,
                            tr!("cli.cannot_write", path = path.display(), error = e),
                        )
                    })?;
                    let text = tr!(
                        "cli.sessions.exported",
                        id = session.id,
                        path = path.display()
                    );
                    eprintln!("{text}");
                }
                None => out.write_all(text.as_bytes()).map_err(w)?,
            }
        }
        SessionsCommand::Rename { id, title } => {
            let id = resolve_session(&store, id)?;
            let title = title.join(" ");
            if title.trim().is_empty() {
                return Err(CliError::new(
                    Exit::BadInput,
                    tr!("cli.sessions.empty_title"),
                ));
            }
            if !store.rename_session(id, title.trim(), output::now_ms())? {
                return Err(no_session(id));
            }
            eprintln!("{}", tr!("cli.sessions.renamed", id = id));
        }
        SessionsCommand::Rm { id } => {
            let id = resolve_session(&store, id)?;
            if !store.delete_session(id)? {
                return Err(no_session(id));
            }
            eprintln!("{}", tr!("cli.sessions.deleted", id = id));
        }
        SessionsCommand::Archive { id } | SessionsCommand::Unarchive { id } => {
            let archive = matches!(cmd, SessionsCommand::Archive { .. });
            let id = resolve_session(&store, id)?;
            if !store.set_archived(id, archive)? {
                return Err(no_session(id));
            }
            if archive {
                eprintln!("{}", tr!("cli.sessions.archived", id = id));
            } else {
                eprintln!("{}", tr!("cli.sessions.unarchived", id = id));
            }
        }
        SessionsCommand::Recover { .. } => {}
    }
    Ok(Exit::Ok)
}

/// `clerk sessions recover`: the damaged history copied into a new file, what was saved
/// and lost said, and where the damaged file is kept.
fn recover(ctx: &Ctx, json: bool) -> Result<Exit, CliError> {
    let path = ctx.paths.database();
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let Some(s) = crate::store::salvage(&path, &stamp)? else {
        if json {
            println!("{}", json!({"database": path, "sound": true}));
        } else {
            println!("{}", tr!("cli.recover.sound", path = path.display()));
        }
        return Ok(Exit::Ok);
    };
    if json {
        println!(
            "{}",
            json!({
                "database": path,
                "sound": false,
                "sessions_saved": s.sessions_saved,
                "sessions_rebuilt": s.sessions_rebuilt,
                "sessions_lost": s.sessions_lost,
                "messages_saved": s.messages_saved,
                "messages_lost": s.messages_lost,
                "losses_exact": s.losses_exact,
                "kept_as": s.kept_as,
            })
        );
        return Ok(Exit::Ok);
    }
    let lost = |n: usize| {
        if s.losses_exact {
            tr!("cli.recover.lost", count = thousands(n as u64)).into_owned()
        } else {
            tr!("cli.recover.lost_at_least", count = thousands(n as u64)).into_owned()
        }
    };
    let rebuilt = if s.sessions_rebuilt > 0 {
        tr!(
            "cli.recover.rebuilt",
            count = thousands(s.sessions_rebuilt as u64)
        )
        .into_owned()
    } else {
        String::new()
    };
    println!("{}", tr!("cli.recover.done", path = path.display()));
    let kept = tr!("cli.recover.kept", path = s.kept_as.display());
    if s.sessions_saved == 0 && s.messages_saved == 0 && !s.losses_exact {
        println!("  {}", tr!("cli.recover.nothing"));
        println!("{kept}");
        return Ok(Exit::Ok);
    }
    let sessions = tr!(
        "cli.recover.sessions",
        saved = thousands(s.sessions_saved as u64),
        rebuilt = rebuilt,
        lost = lost(s.sessions_lost)
    );
    println!("  {sessions}");
    let messages = tr!(
        "cli.recover.messages",
        saved = thousands(s.messages_saved as u64),
        lost = lost(s.messages_lost)
    );
    println!("  {messages}");
    println!("{kept}");
    Ok(Exit::Ok)
}

fn no_session(id: i64) -> CliError {
    CliError::new(Exit::BadInput, tr!("cli.sessions.no_such", id = id))
}

fn load(store: &Store, which: &str) -> Result<(Session, Vec<Message>), CliError> {
    let id = resolve_session(store, which)?;
    let session = store.session(id)?.ok_or_else(|| no_session(id))?;
    let messages = store.messages(id)?;
    Ok((session, messages))
}
