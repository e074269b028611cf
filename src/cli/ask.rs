//! `clerk ask`: one question, streamed to stdout, saved as it arrives.
//!
//! The user's message is committed before the request goes out; the answer is written at
//! least once a second while it streams and finalised at the end, so a crash or Ctrl-C
//! loses nothing that arrived. Model text is sanitized when stdout is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Args;

use std::sync::Arc;

use super::docs::{self, DocOptions};
use super::output::{self, money};
use super::report::{Ending, Outcome, report};
use super::{CliError, Ctx, Exit};
use crate::chat::{Conversation, NoSave, RowSaver, Saver, Sink, conversation, drive, record};
use crate::config::ModelInfo;
use crate::documents::extract::Document;
use crate::documents::summarize::{self, Job, Strategy, documents_text, estimate, strategy};
use crate::llm::context::count_tokens;
use crate::llm::meter::Tag;
use crate::llm::sanitize::Sanitizer;
use crate::llm::stream::{AbortOnDrop, chat_to_end, run_chat_deltas};
use crate::llm::{
    AnswerStatus, ChatMessage, ChatRequest, ChatRole, Endpoint, EngineEvent, RetryNotice,
};
use crate::secrets::{self, OsKeyring};
use crate::store::{MessageStatus, NewMessage, NewSession, Role, Store};

/// Arguments of `clerk ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question (words are joined with spaces). Piped stdin is added as a document.
    pub question: Vec<String>,
    /// Continue a session: its id, or `last`
    #[arg(long, short = 's', value_name = "ID|last")]
    pub session: Option<String>,
    /// System prompt (instructions) for this session
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Print one JSON object (answer, status, usage, cost, timings) instead of streaming
    #[arg(long)]
    pub json: bool,
    /// Do not save this exchange in the history
    #[arg(long)]
    pub no_save: bool,
    /// Attach a file (text, Markdown, code, PDF, DOCX, XLSX, PPTX, HTML, CSV/TSV); repeat for
    /// more
    #[arg(long = "file", short = 'f', value_name = "PATH")]
    pub files: Vec<std::path::PathBuf>,
    /// Answer only from this knowledge base's passages, with citations (repeat for more)
    #[arg(long = "kb", value_name = "NAME")]
    pub kb: Vec<String>,
    /// With --kb: how many passages to give the model
    #[arg(short = 'k', long = "passages", default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=20))]
    pub k: u16,
    /// Documents.
    #[command(flatten)]
    pub docs: DocOptions,
}

pub use crate::store::title_from;

pub use crate::documents::summarize::compose;

/// Piped standard input (none when it is a terminal or empty), read up to the documents'
/// size limit and refused when it is binary, as a file would be.
pub(super) fn read_stdin_document(max_bytes: u64) -> Result<Option<String>, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let bad =
        |e: crate::documents::extract::ExtractError| CliError::new(Exit::BadInput, e.to_string());
    let bytes = crate::documents::extract::read_at_most(stdin.lock(), max_bytes, "standard input")
        .map_err(bad)?;
    let mut notes = Vec::new();
    let text = crate::documents::extract::decode_text("standard input", &bytes, &mut notes)
        .map_err(bad)?;
    for n in notes {
        let text = format!("{}: {n}", tr!("cli.stdin"));
        eprintln!("{}", tr!("cli.note", text = text));
    }
    Ok((!text.trim().is_empty()).then_some(text))
}

struct Saving {
    store: Store,
    session_id: i64,
    answer_id: i64,
}

/// Run `clerk ask`.
pub fn run(ctx: &Ctx, args: &AskArgs) -> Result<Exit, CliError> {
    let question = args.question.join(" ").trim().to_string();
    let document = read_stdin_document(
        ctx.config
            .file
            .documents
            .max_file_mb
            .saturating_mul(1024 * 1024),
    )?;
    let files = docs::read_files(&args.files, &ctx.config.file.documents)?;
    let mut sources: Vec<Source> = files
        .into_iter()
        .map(|d| Source {
            about: d.clone_meta(),
            name: d.name,
            text: d.text,
        })
        .collect();
    if let Some(text) = document {
        sources.push(Source::pasted("standard input", text));
    }
    if question.is_empty() && sources.is_empty() {
        return Err(CliError::new(Exit::BadInput, tr!("cli.ask.nothing")));
    }
    let q = question.clone();
    let prompt = Prompt {
        hint: if question.is_empty() {
            "Summarise the document(s).".to_string()
        } else {
            question.clone()
        },
        question,
        system: args.system.clone(),
        temperature: None,
        max_output_tokens: None,
        sources,
        render: Arc::new(move |docs: &str| compose(&q, docs)),
        title: None,
        model: None,
        saved: None,
        grounded: None,
    };
    send(
        ctx,
        &Sending {
            session: args.session.clone(),
            json: args.json,
            no_save: args.no_save,
            docs: args.docs.clone(),
        },
        prompt,
    )
}

/// A document to send: its text and what the extraction knew about it.
pub(super) struct Source {
    pub name: String,
    pub text: String,
    pub about: Document,
}

impl Source {
    /// Pasted or piped text.
    pub fn pasted(name: &str, text: String) -> Source {
        Source {
            about: Document::new(
                name,
                crate::documents::extract::Kind::Text,
                text.len() as u64,
            ),
            name: name.to_string(),
            text,
        }
    }
}

/// What to send: a question or a template's prompt, around some documents.
pub(super) struct Prompt {
    /// What the user asked (for the title and the saved message when documents are long).
    pub question: String,
    /// What the user asked, for the notes on each part of a long document.
    pub hint: String,
    /// The system prompt.
    pub system: Option<String>,
    /// Temperature.
    pub temperature: Option<f32>,
    /// Answer length cap (else the profile's).
    pub max_output_tokens: Option<u64>,
    /// The documents.
    pub sources: Vec<Source>,
    /// The user's message, given the text standing for the documents.
    pub render: Arc<dyn Fn(&str) -> String + Send + Sync>,
    /// The new session's title (else from the question).
    pub title: Option<String>,
    /// The model when `--model` is not given (else the profile's).
    pub model: Option<String>,
    /// What the history keeps of the user's message when it is not what is sent (a
    /// grounded question is saved without its passages).
    pub saved: Option<String>,
    /// The passages the answer is grounded on (`clerk ask --kb`): their sources are shown
    /// after it.
    pub grounded: Option<crate::knowledge::ground::Grounded>,
}

/// How to send it.
pub(super) struct Sending {
    pub session: Option<String>,
    pub json: bool,
    pub no_save: bool,
    pub docs: DocOptions,
}

/// Scan, measure, fit or split, confirm the cost, send, stream, save and report.
pub(super) fn send(ctx: &Ctx, how: &Sending, mut prompt: Prompt) -> Result<Exit, CliError> {
    let cfg = &ctx.config.file.documents;
    // The admin's policy before anything else: the endpoint and the model (exit 2).
    let profile = ctx.profile()?.clone();
    let model = match (&ctx.model_override, &prompt.model) {
        (None, Some(m)) => {
            ctx.allow_model(m)?;
            m.clone()
        }
        _ => ctx.model()?,
    };
    // Nothing leaves the machine before the secret scan.
    {
        let mut question = prompt.question.clone();
        let mut system = prompt.system.clone().unwrap_or_default();
        let mut texts: Vec<(&str, &mut String)> =
            vec![("question", &mut question), ("system prompt", &mut system)];
        for s in prompt.sources.iter_mut() {
            texts.push((s.name.as_str(), &mut s.text));
        }
        docs::check_secrets(&mut texts, how.docs.secrets, &ctx.config)?;
        if question != prompt.question {
            let (old, new) = (prompt.question.clone(), question.clone());
            let render = prompt.render.clone();
            // The question is inside the rendered message: redact it there too.
            prompt.render = Arc::new(move |d: &str| render(d).replace(&old, &new));
            prompt.hint = prompt.hint.replace(&prompt.question, &question);
            prompt.question = question;
        }
        if prompt.system.is_some() {
            prompt.system = Some(system);
        }
    }
    let (key, source) = secrets::resolve(
        &secrets::KeyFor::profile(&ctx.profile_name, &profile, ctx.base_url.as_deref()),
        &secrets::process_env,
        &OsKeyring,
    )?;
    tracing::info!(profile = %ctx.profile_name, %source, %model, "ask");
    let endpoint = ctx.metered(ctx.endpoint(&profile, &key)?.warming())?;
    drop(key);

    let save = !how.no_save && ctx.config.file.history.enabled;
    let mut store = if save { Some(ctx.open_store()?) } else { None };

    let info = ctx.config.models.get(&model).cloned().unwrap_or_default();
    let max_output = prompt.max_output_tokens.or(profile.max_output_tokens);
    let settings = summarize::Settings::for_model(cfg, &info, max_output);

    // The conversation so far, with the token counts kept with its messages: only what
    // could be sent is read (`older` messages before it stay on disk).
    let (session_id, history, system, older) = match (&mut store, &how.session) {
        (Some(store), Some(which)) => {
            let id = resolve_session(store, which)?;
            let session = store
                .session(id)?
                .ok_or_else(|| CliError::new(Exit::BadInput, tr!("cli.no_session", id = id)))?;
            let (rows, older) = store.recent_messages(id, settings.room())?;
            let history = Conversation::from_rows(None, rows, None);
            let system = prompt.system.clone().or(session.system_prompt);
            if prompt.system.is_some() {
                store.set_session_system_prompt(id, prompt.system.as_deref())?;
            }
            (Some(id), history, system, older)
        }
        (None, Some(_)) => {
            return Err(CliError::new(
                Exit::BadInput,
                tr!("cli.ask.session_needs_history"),
            ));
        }
        (_, None) => (None, Conversation::default(), prompt.system.clone(), 0),
    };
    // What is sent as the system prompt: a grounded question's rules come after the
    // session's own instructions, and are not kept as the session's.
    let sent_system = match &prompt.grounded {
        Some(g) => Some(g.system_prompt(system.as_deref())),
        None => system.clone(),
    };
    let abouts: Vec<Document> = prompt.sources.iter().map(|s| s.about.clone()).collect();
    let mut measured = summarize::measure_all(
        std::mem::take(&mut prompt.sources)
            .into_iter()
            .map(|s| (s.name, s.text))
            .collect(),
        &settings,
    );
    for (m, about) in measured.iter().zip(&abouts) {
        if about.bytes > 0 && !how.json {
            eprintln!("{}", docs::describe(about, m.tokens));
        }
    }
    docs::keep_first_noted(&mut measured, how.docs.first);
    let count = |t: &str| count_tokens(t);
    // The history does not decide whether documents are read in parts: sent whole, the
    // oldest turns are left out to fit; read in parts, only recent turns go with the answer.
    // Without documents nothing is counted here: a token is never shorter than a byte, and
    // the estimate is capped by the window anyway.
    let frame_tokens = if measured.is_empty() {
        ((prompt.render)("").len() + sent_system.as_deref().map_or(0, str::len)) as u64
    } else {
        count((prompt.render)("").as_str()) + sent_system.as_deref().map(count).unwrap_or(0)
    };
    let history_tokens: u64 = history
        .messages
        .iter()
        .zip(&history.tokens)
        .map(|(m, t)| t.unwrap_or(m.content.len() as u64))
        .sum();
    let strategy = if measured.is_empty() {
        Strategy::Whole
    } else {
        strategy(&measured, frame_tokens, &settings)
    };
    let mut estimate = estimate(&strategy, &measured, frame_tokens, &settings);
    if strategy == Strategy::Whole {
        let room = settings.room().unwrap_or(u64::MAX);
        estimate.input_tokens += history_tokens.min(room.saturating_sub(estimate.input_tokens));
    }
    docs::confirm_cost(&estimate, Some(&info), cfg, how.docs.yes, &strategy)?;

    let omitted;
    let mut sent = Conversation::default();
    let mut counted = Vec::new();
    let (saved_text, work) = match &strategy {
        Strategy::Whole => {
            let user_text = (prompt.render)(&documents_text(&measured));
            if let Some(s) = &sent_system {
                sent.push(ChatRole::System, s.clone(), None, None);
            }
            for ((m, t), r) in history
                .messages
                .iter()
                .zip(&history.tokens)
                .zip(&history.rows)
            {
                sent.push(m.role, m.content.clone(), *t, *r);
            }
            sent.push(ChatRole::User, user_text.clone(), None, None);
            let (fitted, made) =
                conversation::fit(&sent, info.context_window, settings.reserve, &count);
            counted = made;
            let fitted = fitted.map_err(|e| CliError::new(Exit::BadInput, e.to_string()))?;
            omitted = fitted.omitted;
            if let Some(note) = conversation::left_out_notice(fitted.omitted + older) {
                eprintln!("{}", tr!("cli.note", text = note));
            }
            // Estimated once, here: the stopped answer's count and the budget's weight.
            let prompt_tokens = crate::chat::record::prompt_estimate(None, &fitted.messages);
            let request = ChatRequest {
                model: model.clone(),
                messages: fitted.messages,
                max_output_tokens: max_output,
                temperature: prompt.temperature,
                prompt_tokens: Some(prompt_tokens),
            };
            let saved = prompt.saved.clone().unwrap_or_else(|| user_text.clone());
            (saved, Work::Whole(request))
        }
        Strategy::Parts(parts) => {
            let names: Vec<String> = abouts
                .iter()
                .zip(&measured)
                .map(|(a, m)| docs::describe(a, m.tokens))
                .collect();
            let text = tr!(
                "cli.ask.in_parts",
                model = model,
                parts = parts.len(),
                requests = estimate.requests,
                cost = money(estimate.cost(Some(&info)))
            );
            eprintln!("{text}");
            let stand_in = format!(
                "[{} — longer than the model's window, read in {} parts]",
                names.join("; "),
                parts.len()
            );
            let saved = (prompt.render)(&stand_in);
            let (kept, kept_tokens) = summarize::recent_turns(
                &history.messages,
                settings.room().unwrap_or(u64::MAX) / 4,
                &count,
            );
            omitted = history.messages.len() - kept.len();
            let frame_tokens = frame_tokens + kept_tokens;
            let job = Job {
                history: kept,
                model: model.clone(),
                system: sent_system.clone(),
                max_output_tokens: max_output,
                temperature: prompt.temperature,
                parts: parts.clone(),
                docs: measured,
                settings: settings.clone(),
                hint: prompt.hint.clone(),
                render: prompt.render.clone(),
                frame_tokens,
            };
            (saved, Work::Parts(Box::new(job)))
        }
    };
    let title_text = if prompt.question.is_empty() {
        saved_text.clone()
    } else {
        prompt.question.clone()
    };

    // Commit the question before anything is sent.
    let mut saving = match store {
        Some(mut store) => {
            let now = output::now_ms();
            let sid = match session_id {
                Some(id) => id,
                None => store.create_session(&NewSession {
                    title: prompt
                        .title
                        .clone()
                        .unwrap_or_else(|| title_from(&title_text)),
                    profile: ctx.profile_name.clone(),
                    model: model.clone(),
                    system_prompt: system.clone(),
                    now_ms: now,
                })?,
            };
            let question_id = store.add_message(&NewMessage {
                session_id: sid,
                role: Role::User,
                content: saved_text.clone(),
                status: MessageStatus::Complete,
                model: None,
                now_ms: now,
            })?;
            if let Some(row) = sent.rows.last_mut() {
                *row = Some(question_id);
            }
            let answer_id = store.add_streaming_answer(sid, &model, output::now_ms())?;
            Some(Saving {
                store,
                session_id: sid,
                answer_id,
            })
        }
        None => None,
    };

    let rt = super::runtime()?;
    let price = ctx.config.models.get(&model).cloned();
    let session_id = saving.as_ref().map(|s| s.session_id);
    // A smart title is a request of its own, counted as one.
    let title_endpoint = endpoint.tagged(Tag {
        kind: "title",
        session: session_id,
        ..Tag::default()
    });
    let parts = match &work {
        Work::Whole(_) => None,
        Work::Parts(job) => Some(job.parts.len()),
    };
    // The server's prompt tokens are the question's only when it was saved as it was sent.
    let plain = parts.is_none() && prompt.saved.is_none();
    let prompt_tokens = match &work {
        Work::Whole(request) => request.prompt_tokens,
        Work::Parts(_) => None,
    };
    // Counted in the usage ledger as this session's answer, from the knowledge bases it is
    // grounded on (`--kb`).
    let endpoint = endpoint.tagged(Tag {
        kind: "answer",
        session: session_id,
        knowledge: prompt.grounded.as_ref().and_then(|g| g.knowledge()),
        ..endpoint.tag().clone()
    });
    let outcome = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = match work {
            Work::Whole(request) => tokio::spawn(run_chat_deltas(endpoint, request, tx)),
            Work::Parts(job) => tokio::spawn(run_in_parts(endpoint, *job, price.clone(), tx)),
        };
        let mut sink = Terminal::new(how.json);
        let mut no_save = NoSave;
        let mut row;
        let saver: &mut (dyn Saver + Send) = match saving.as_mut() {
            Some(s) => {
                row = RowSaver {
                    store: &mut s.store,
                    answer_id: s.answer_id,
                };
                &mut row
            }
            None => &mut no_save,
        };
        let stop = async {
            terminate_signal().await;
        };
        let driven = drive(
            rx,
            AbortOnDrop(task),
            stop,
            &mut sink,
            saver,
            price.as_ref(),
            prompt_tokens,
        )
        .await;
        sink.end_line();
        driven
    });
    if let (Some(s), Some(answer)) = (saving.as_mut(), outcome.end.answer()) {
        // Keep what was learned of the messages' sizes; a failure here loses nothing.
        let learned =
            conversation::learned(&sent, omitted, &counted, answer, Some(s.answer_id), plain);
        if let Err(e) = s.store.set_tokens(&learned) {
            tracing::warn!(error = %e, "token counts not kept");
        }
    }
    let outcome = Outcome::from(outcome);
    if let (Outcome::Answered(answer, None), Some(s)) = (&outcome, saving.as_mut())
        && ctx.config.file.history.smart_titles
        && how.session.is_none()
        && prompt.title.is_none()
        && answer.status == AnswerStatus::Complete
        && let Some(title) = rt.block_on(smart_title(
            title_endpoint,
            &model,
            &saved_text,
            &answer.text,
        ))
    {
        tracing::info!(session = s.session_id, "smart title");
        let _ = s
            .store
            .rename_session(s.session_id, &title, output::now_ms());
    }
    let end = Ending {
        model: &model,
        json: how.json,
        session_id,
        omitted: omitted + older,
        parts,
        grounded: prompt.grounded.as_ref(),
    };
    report(ctx, &end, outcome)
}

/// One request, or a document read in parts.
enum Work {
    Whole(ChatRequest),
    Parts(Box<Job>),
}

/// Read the documents in parts, showing progress on stderr.
async fn run_in_parts(
    endpoint: Endpoint,
    job: Job,
    price: Option<ModelInfo>,
    tx: tokio::sync::mpsc::UnboundedSender<EngineEvent>,
) {
    let mut progress = docs::ProgressLine::new(price);
    summarize::run_as_answer(endpoint, job, tx, |ev| progress.show(ev)).await;
}

/// Ask the model for a short title (one small request, at most 10 s); `None` on any failure:
/// the deterministic title stays.
async fn smart_title(
    endpoint: Endpoint,
    model: &str,
    question: &str,
    answer: &str,
) -> Option<String> {
    let excerpt = |t: &str| t.chars().take(1_500).collect::<String>();
    let request = ChatRequest {
        model: model.to_string(),
        messages: vec![
            ChatMessage {
                role: ChatRole::System,
                content: "Write a title of at most six words for this conversation, in the language of the question. Reply with the title only, no quotes, no punctuation at the end.".to_string(),
            },
            ChatMessage {
                role: ChatRole::User,
                content: format!("Question: {}\n\nAnswer: {}", excerpt(question), excerpt(answer)),
            },
        ],
        max_output_tokens: Some(24),
        temperature: None,
        prompt_tokens: None,
    };
    let finished = tokio::time::timeout(
        Duration::from_secs(10),
        chat_to_end(endpoint, request, |_| {}),
    )
    .await;
    let answer = finished.ok()?.ok()?;
    if answer.status != AnswerStatus::Complete {
        return None;
    }
    let title = crate::llm::sanitize::sanitize(&answer.text);
    let title = title
        .trim()
        .trim_matches(['"', '\'', '“', '”', '「', '」', '.', '。'])
        .trim();
    (!title.is_empty()).then(|| output::clip(title, 60))
}

/// `last` or a number.
pub fn resolve_session(store: &Store, which: &str) -> Result<i64, CliError> {
    if which == "last" {
        return store
            .last_session_id()?
            .ok_or_else(|| CliError::new(Exit::BadInput, tr!("cli.no_sessions_yet")));
    }
    which
        .parse::<i64>()
        .map_err(|_| CliError::new(Exit::BadInput, tr!("cli.not_a_session_id", value = which)))
}

/// The answer on standard output: sanitized on a terminal, exact through a pipe, nothing
/// with `--json` (the JSON object says it all at the end). Retries are said on stderr.
pub(super) struct Terminal {
    json: bool,
    tty: bool,
    sanitizer: Sanitizer,
    shown: String,
    /// Something was printed and it did not end with a newline.
    open: bool,
}

impl Terminal {
    /// For `--json` or not.
    pub(super) fn new(json: bool) -> Self {
        Terminal {
            json,
            tty: output::stdout_is_tty(),
            sanitizer: Sanitizer::new(),
            shown: String::new(),
            open: false,
        }
    }

    /// End the answer's last line, if it is open.
    pub(super) fn end_line(&mut self) {
        if self.open {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            self.open = false;
        }
    }
}

impl Sink for Terminal {
    fn delta(&mut self, d: &str) {
        if self.json {
            return;
        }
        let out = if self.tty {
            self.shown.clear();
            self.sanitizer.push_into(d, &mut self.shown);
            self.shown.as_str()
        } else {
            d
        };
        if out.is_empty() {
            return;
        }
        self.open = !out.ends_with('\n');
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }

    fn retrying(&mut self, n: &RetryNotice) {
        eprintln!("{}…", record::retry_text(n));
    }
}

/// Ctrl-C (exit 130) or, on Unix, SIGTERM (also treated as a stop; exit 130).
pub(super) async fn terminate_signal() -> Exit {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return Exit::Interrupted;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => Exit::Interrupted,
            _ = term.recv() => Exit::Interrupted,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        Exit::Interrupted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_short_and_deterministic() {
        assert_eq!(
            title_from("  How do I file travel expenses?\nmore"),
            "How do I file travel expenses?"
        );
        let long = "word ".repeat(40);
        let t = title_from(&long);
        assert!(t.chars().count() <= 61 && t.ends_with('…'), "{t}");
        assert_eq!(title_from("# Heading\nbody"), "Heading");
        assert_eq!(title_from(""), "Untitled");
        assert_eq!(
            title_from("我想了解差旅报销的流程"),
            "我想了解差旅报销的流程"
        );
    }

    #[test]
    fn piped_document_wraps_before_the_question() {
        let docs = documents_text(&[summarize::measure(
            "standard input",
            "notes\n".to_string(),
            100,
            &|t: &str| t.len(),
        )]);
        assert_eq!(
            compose("summarise this", &docs),
            "<document name=\"standard input\">\nnotes\n</document>\n\nsummarise this"
        );
        assert_eq!(compose("", "just text"), "just text");
        assert_eq!(compose("q", ""), "q");
    }
}
