//! `clerk ask --kb NAME QUESTION`: an answer built only from a knowledge base's passages,
//! with the sources it cites printed after it.
//!
//! Retrieval, the prompt and the citations are [`crate::knowledge::ground`]'s; this file
//! turns arguments into an [`Ask`], says the notes on stderr, answers "not found" itself
//! without sending anything, and otherwise hands the grounded question to `ask::send`, the
//! same path as every answer (saved, streamed, stoppable, priced). The history keeps the
//! question as asked; the passages go only to the model.

use std::sync::Arc;

use serde_json::json;

use super::ask::{AskArgs, Prompt, Sending, resolve_session, send};
use super::report::{grounding_json, print_not_found};
use super::{CliError, Ctx, Exit, docs, output};
use crate::config::KnowledgeEntry;
use crate::knowledge::KnowledgeError;
use crate::knowledge::ground::{self, Ask, BaseSettings, Grounded};
use crate::llm::Endpoint;
use crate::secrets::{self, OsKeyring};
use crate::store::{MessageStatus, NewMessage, NewSession, Role, Store};

/// Run `clerk ask --kb …`.
pub fn run(ctx: &Ctx, args: &AskArgs) -> Result<Exit, CliError> {
    let mut question = args.question.join(" ").trim().to_string();
    if question.is_empty() {
        return Err(CliError::new(Exit::BadInput, tr!("cli.kb.ask.nothing")));
    }
    if !args.files.is_empty() {
        return Err(CliError::new(Exit::BadInput, tr!("cli.kb.ask.no_file")));
    }
    let cfg = &ctx.config.file.documents;
    if super::ask::read_stdin_document(cfg.max_file_mb.saturating_mul(1024 * 1024))?.is_some() {
        return Err(CliError::new(Exit::BadInput, tr!("cli.kb.ask.no_stdin")));
    }
    let entries = entries(ctx, &args.kb)?;
    let index = ctx.paths.knowledge_index();
    if !index.exists() {
        return Err(KnowledgeError::NotIndexed(entries[0].name.clone()).into());
    }
    // The question leaves the machine to be restated: scanned first.
    docs::check_secrets(
        &mut [("question", &mut question)],
        args.docs.secrets,
        &ctx.config,
    )?;
    let model = ctx.model()?;
    let context = match (
        &args.session,
        args.no_save || !ctx.config.file.history.enabled,
    ) {
        (Some(which), false) => previous_question(&ctx.open_store()?, which)?,
        _ => None,
    };
    let mut ask = Ask::new(
        &question,
        entries.iter().map(|e| BaseSettings::from(*e)).collect(),
        &model,
    );
    ask.k = usize::from(args.k);
    ask.context = context;
    ask.remember = !args.no_save && ctx.config.file.history.enabled;
    let knowledge = ask.knowledge();
    let rt = super::runtime()?;
    let mut grounded = rt
        .block_on(ground::retrieve(&index, || endpoint(ctx, knowledge), ask))
        .map_err(|e| match e {
            ground::GroundError::Index(e) => CliError::from(e),
            other => CliError::new(Exit::Failure, other.to_string()),
        })?;
    drop(rt);
    for note in &grounded.notes {
        eprintln!("{}", tr!("cli.note", text = note));
    }
    if !grounded.found() {
        return not_found(ctx, args, &grounded, &model);
    }
    // The passages leave the machine inside the question: scanned like documents.
    {
        let names: Vec<String> = grounded
            .hits()
            .iter()
            .enumerate()
            .map(|(i, h)| tr!("cli.kb.ask.passage", n = i + 1, path = h.path).into_owned())
            .collect();
        let mut texts: Vec<(&str, &mut String)> = names
            .iter()
            .map(String::as_str)
            .zip(grounded.retrieval.hits.iter_mut().map(|h| &mut h.text))
            .collect();
        docs::check_secrets(&mut texts, args.docs.secrets, &ctx.config)?;
    }
    let user = grounded.user_message();
    let prompt = Prompt {
        question: question.clone(),
        hint: question.clone(),
        system: args.system.clone(),
        temperature: None,
        max_output_tokens: None,
        sources: Vec::new(),
        render: Arc::new(move |_: &str| user.clone()),
        title: None,
        model: None,
        saved: Some(question),
        grounded: Some(grounded),
    };
    let mut docs = args.docs.clone();
    // Scanned above, with the user's choice applied.
    docs.secrets = docs::SecretsMode::Send;
    send(
        ctx,
        &Sending {
            session: args.session.clone(),
            json: args.json,
            no_save: args.no_save,
            docs,
        },
        prompt,
    )
}

/// The retrieval of `clerk kb search`: the same as an answer's (the question restated,
/// vectors), `k` passages from `names` (configured bases). Notes go to stderr; a question
/// that looks like it holds a secret is not sent to be restated.
pub(super) fn search(
    ctx: &Ctx,
    names: &[&str],
    question: &str,
    k: usize,
) -> Result<Grounded, CliError> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let entries = entries(ctx, &names)?;
    let mut ask = Ask::new(
        question,
        entries.iter().map(|e| BaseSettings::from(*e)).collect(),
        &ctx.model()?,
    );
    ask.k = k;
    ask.remember = ctx.config.file.history.enabled;
    let knowledge = ask.knowledge();
    let secret = ctx.config.file.documents.scan_secrets
        && !crate::documents::secrets::scan(question).is_empty();
    let rt = super::runtime()?;
    let grounded = rt
        .block_on(ground::retrieve(
            &ctx.paths.knowledge_index(),
            || {
                if secret {
                    return Err(tr!("cli.kb.ask.secret").into_owned());
                }
                endpoint(ctx, knowledge)
            },
            ask,
        ))
        .map_err(|e| match e {
            ground::GroundError::Index(e) => CliError::from(e),
            other => CliError::new(Exit::Failure, other.to_string()),
        })?;
    for note in &grounded.notes {
        eprintln!("{}", tr!("cli.note", text = note));
    }
    Ok(grounded)
}

/// The configured entries named by `--kb`.
fn entries<'c>(ctx: &'c Ctx, names: &[String]) -> Result<Vec<&'c KnowledgeEntry>, CliError> {
    names
        .iter()
        .map(|n| {
            ctx.config.knowledge(n).ok_or_else(|| {
                CliError::new(
                    Exit::BadInput,
                    tr!(
                        "cli.kb.no_such_in",
                        name = n,
                        path = ctx.paths.config_file.display()
                    ),
                )
            })
        })
        .collect()
}

/// The profile's endpoint for the restatements (and the question's embedding) of a
/// question over `knowledge` (the bases, as the ledger records them), or why there is none
/// (no key): retrieval then makes no request.
pub(super) fn endpoint(ctx: &Ctx, knowledge: Option<String>) -> Result<Endpoint, String> {
    let profile = ctx.profile().map_err(|e| e.message)?.clone();
    let (key, _) = secrets::resolve(
        &secrets::KeyFor::profile(&ctx.profile_name, &profile, ctx.base_url.as_deref()),
        &secrets::process_env,
        &OsKeyring,
    )
    .map_err(|e| e.to_string())?;
    let endpoint = ctx
        .endpoint(&profile, &key)
        .map_err(|e| e.message)?
        .warming();
    // Restatements (and the question's embedding) are requests like any other: checked
    // against the budgets and recorded in the usage ledger.
    Ok(ctx
        .metered(endpoint)
        .map_err(|e| e.message)?
        .tagged(crate::llm::meter::Tag {
            knowledge,
            ..crate::llm::meter::Tag::of("restate")
        }))
}

/// The last question of session `which`, for a follow-up.
fn previous_question(store: &Store, which: &str) -> Result<Option<String>, CliError> {
    let id = resolve_session(store, which)?;
    let (rows, _) = store.recent_messages(id, Some(8_192))?;
    Ok(rows
        .into_iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.content))
}

/// Not found: say so in the question's language, send nothing, keep the exchange in the
/// history (the question and clerk's answer), and list the closest passages to read.
fn not_found(ctx: &Ctx, args: &AskArgs, g: &Grounded, model: &str) -> Result<Exit, CliError> {
    let text = g.not_found_text();
    let save = !args.no_save && ctx.config.file.history.enabled;
    let session_id = if save {
        Some(save_exchange(ctx, args, &g.question, text, model)?)
    } else {
        None
    };
    if args.json {
        let mut v = json!({
            "session_id": session_id, "answer": text, "status": "not_found", "reason": null,
            "model": model, "usage": null, "cost_usd": null,
            "found": false, "citations": [],
        });
        if let Some(map) = v.as_object_mut() {
            map.extend(grounding_json(ctx, g));
        }
        println!("{v}");
        return Ok(Exit::Ok);
    }
    print_not_found(g);
    Ok(Exit::Ok)
}

/// Save a question and clerk's own answer to it (no request was made).
fn save_exchange(
    ctx: &Ctx,
    args: &AskArgs,
    question: &str,
    answer: &str,
    model: &str,
) -> Result<i64, CliError> {
    let mut store = ctx.open_store()?;
    let now = output::now_ms();
    let sid = match &args.session {
        Some(which) => {
            let id = resolve_session(&store, which)?;
            store
                .session(id)?
                .ok_or_else(|| CliError::new(Exit::BadInput, tr!("cli.no_session", id = id)))?;
            id
        }
        None => store.create_session(&NewSession {
            title: crate::store::title_from(question),
            profile: ctx.profile_name.clone(),
            model: model.to_string(),
            system_prompt: args.system.clone(),
            now_ms: now,
        })?,
    };
    for (role, content) in [(Role::User, question), (Role::Assistant, answer)] {
        store.add_message(&NewMessage {
            session_id: sid,
            role,
            content: content.to_string(),
            status: MessageStatus::Complete,
            model: None,
            now_ms: now,
        })?;
    }
    Ok(sid)
}
