//! Answers in the app: the question saved, the conversation built and fitted, the stream
//! driven by the chat core, every event forwarded to the app as a message.
//!
//! What is sent and how an answer ends are decided in `chat` (unit-tested there); this
//! file only wires them to the store thread, the app's channel and the stop switches. It
//! must not decide behaviour the state or the chat core should own.
//!
//! A question grounded on a knowledge base goes the same way, with one step more between
//! saving it and sending: its passages are retrieved (`knowledge::ground::retrieve`, the
//! index read on blocking threads, the restatement metered as `restate`), then
//! `knowledge::answer` decides — not found (clerk's own answer, nothing sent) or the
//! conversation to send — and the passages, with the ones the answer cites once it ends,
//! are kept with the answer and shown under it.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

use super::documents;
use super::store_thread::StoreHandle;
use crate::app::attach::LongSend;
use crate::app::{Msg, StreamEvent};
use crate::chat::conversation::{self, Conversation};
use crate::chat::{Driven, End, LiveText, Saver, Sink, drive, now_ms, record};
use crate::config::{ModelInfo, Profile};
use crate::documents::summarize::progress_line;
use crate::knowledge::answer::{self as grounded, Next};
use crate::knowledge::ground::{self, Ask, BaseSettings};
use crate::llm::context::{Fitted, TooLong, count_tokens};
use crate::llm::stream::{AbortOnDrop, run_chat_deltas};
use crate::llm::{Answer, AnswerStatus, ChatRequest, ChatRole, Endpoint, RetryNotice};
use crate::store::{MessageFinish, MessageId, MessageStatus, NewMessage, NewSession, Role, Store};

/// Stop switches of running answers, by session.
pub(super) type Stops = Arc<Mutex<HashMap<i64, oneshot::Sender<()>>>>;
use std::collections::HashMap;

/// An answer's text (a handle to it) and retries, as messages to the app.
pub(super) struct AppSink {
    pub tx: UnboundedSender<Msg>,
    pub session_id: i64,
    /// The model the answer was asked of: what the history keeps with it.
    pub model: String,
}

impl AppSink {
    pub(super) fn send(&self, event: StreamEvent) {
        let _ = self.tx.send(Msg::Stream {
            session_id: self.session_id,
            event,
        });
    }
}

impl Sink for AppSink {
    /// The app draws the answer from the driver's own string: it gets a handle, once.
    fn started(&mut self, text: &LiveText) {
        self.send(StreamEvent::Text(text.clone()));
    }

    /// The text is in the shared string already: only say it grew (a redraw).
    fn delta(&mut self, _text: &str) {
        self.send(StreamEvent::Grew);
    }

    fn retrying(&mut self, notice: &RetryNotice) {
        self.send(StreamEvent::Retrying(notice.clone()));
    }
}

/// An answer's row, saved through the store thread (in order with everything else).
pub(super) struct AppSaver {
    pub store: StoreHandle,
    pub answer_id: MessageId,
}

impl Saver for AppSaver {
    fn partial(&mut self, text: &str) -> Result<(), String> {
        let (id, text) = (self.answer_id, text.to_string());
        self.store.quiet(move |s| s.update_partial(id, &text));
        Ok(())
    }

    fn finish(&mut self, record: &MessageFinish) -> Result<(), String> {
        let (id, record) = (self.answer_id, record.clone());
        self.store.quiet(move |s| s.finish_message(id, &record));
        Ok(())
    }
}

/// Tell the app how the answer ended (the store already holds its final state). The answer
/// is shown with the model it was asked of, as the history keeps it and shows it once the
/// session is opened again: not the server's own name for it (`gpt-4o-mini-2024-07-18`),
/// nor none when the server names none.
pub(super) fn report(sink: &AppSink, driven: Driven) {
    match driven.end {
        End::Answered(mut a) | End::Stopped(mut a) => {
            a.model = Some(sink.model.clone());
            sink.send(StreamEvent::Done(a, driven.cost, Some(driven.usage)))
        }
        End::Failed(crate::llm::LlmError::Refused(text)) => sink.send(StreamEvent::Refused(text)),
        End::Failed(e) => sink.send(StreamEvent::Failed(e.to_string())),
        End::Lost(_) => sink.send(StreamEvent::Failed(tr!("app.run.task_lost").into_owned())),
    }
}

/// What a new answer replaces.
#[derive(Debug, Clone, Copy)]
pub(super) enum Replace {
    /// Nothing: a new question.
    Nothing,
    /// The last answer (regenerate).
    Answer(i64),
    /// This question and everything after it (edit and resend).
    From(i64),
}

/// Who answers: the profile, model, knowledge base and title a new session is made with
/// (no title: one from the question), and the tokens the prompt may take (the window less
/// the answer's room; `None`: unknown).
#[derive(Debug, Clone, Copy)]
pub(super) struct To<'a> {
    pub profile: &'a str,
    pub model: &'a str,
    pub budget: Option<u64>,
    pub knowledge: Option<&'a str>,
    pub title: Option<&'a str>,
}

/// What the store prepared for an answer.
#[derive(Debug)]
pub(super) struct Prepared {
    pub session_id: i64,
    pub created: bool,
    pub user_id: i64,
    pub answer_id: i64,
    pub conversation: Conversation,
    /// Older messages not read: they could not be sent (`Store::recent_messages`).
    pub older: usize,
}

/// On the store thread: create the session if needed, commit the question (or remove the
/// answer being replaced), add the streaming answer, and gather the conversation.
pub(super) fn prepare(
    s: &mut Store,
    session_id: Option<i64>,
    text: Option<String>,
    replace: Replace,
    to: To<'_>,
    system: Option<String>,
) -> Result<Prepared, String> {
    let To {
        profile,
        model,
        budget,
        knowledge,
        title,
    } = to;
    let now = now_ms();
    let e = |e: crate::store::StoreError| e.to_string();
    let (sid, created) = match session_id {
        Some(id) => (id, false),
        None => {
            let title = title.map_or_else(
                || crate::store::title_from(text.as_deref().unwrap_or_default()),
                str::to_string,
            );
            let id = s
                .create_session(&NewSession {
                    title,
                    profile: profile.to_string(),
                    model: model.to_string(),
                    system_prompt: system,
                    now_ms: now,
                })
                .map_err(e)?;
            if knowledge.is_some() {
                s.set_session_knowledge(id, knowledge).map_err(e)?;
            }
            (id, true)
        }
    };
    match replace {
        Replace::Nothing => {}
        Replace::Answer(old) => {
            s.delete_message(old).map_err(e)?;
        }
        Replace::From(first) => {
            s.delete_messages_from(first).map_err(e)?;
        }
    }
    // Only what could be sent: a long session's older messages stay on disk.
    let (rows, older) = s.recent_messages(sid, budget).map_err(e)?;
    let user_id = match text {
        Some(t) => s
            .add_message(&NewMessage {
                session_id: sid,
                role: Role::User,
                content: t,
                status: MessageStatus::Complete,
                model: None,
                now_ms: now,
            })
            .map_err(e)?,
        None => rows
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.id)
            .ok_or_else(|| tr!("app.run.no_question_again").into_owned())?,
    };
    let answer_id = s.add_streaming_answer(sid, model, now).map_err(e)?;
    let system = s.session(sid).map_err(e)?.and_then(|x| x.system_prompt);
    // The rows read above, plus the new question: the history is read once.
    let mut rows = rows;
    if rows.last().is_none_or(|m| m.id != user_id)
        && let Some(q) = s.message(user_id).map_err(e)?
    {
        rows.push(q);
    }
    Ok(Prepared {
        session_id: sid,
        created,
        user_id,
        answer_id,
        conversation: Conversation::from_rows(system.as_deref(), rows, Some(answer_id)),
        older,
    })
}

/// Answering again a question that was read in parts reads it in parts again; otherwise
/// what the user chose (parts, the first N tokens) or nothing.
pub(super) fn long_for(
    chosen: Option<LongSend>,
    fitted: &Result<Fitted, TooLong>,
    c: &Conversation,
) -> Option<LongSend> {
    match (chosen, fitted) {
        (Some(l), _) => Some(l),
        (None, Err(_)) => c
            .messages
            .last()
            .filter(|m| m.role == ChatRole::User)
            .map(|m| crate::app::attach::long_from_message(&m.content)),
        (None, Ok(_)) => None,
    }
}

/// Where a grounded question's passages come from.
#[derive(Debug, Clone)]
pub(super) struct Ground {
    /// The knowledge index (`Paths::knowledge_index`).
    pub index: std::path::PathBuf,
    /// The base searched.
    pub base: BaseSettings,
    /// Replace likely secrets in the passages before they are sent.
    pub scan_secrets: bool,
    /// The policy rule that forbids sending likely secrets (`scrub_secrets = "block"`):
    /// passages holding one are then not sent at all.
    pub block_secrets: Option<String>,
    /// Cache the restatement in the index (not with the history off, `--incognito` or in
    /// an incognito session).
    pub remember: bool,
}

/// An answer clerk gives itself, without a request: "not found", or stopped before asking.
fn own_answer(text: &str, status: AnswerStatus, reason: Option<String>) -> Answer {
    Answer {
        text: text.to_string(),
        status,
        reason,
        finish_reason: None,
        usage: None,
        model: None,
        ttft: None,
        duration: std::time::Duration::ZERO,
        malformed: 0,
    }
}

/// What retrieval left to do with a grounded question.
enum Retrieved {
    /// Send this conversation; `record` goes with the answer (its citations marked at
    /// the end).
    Send(Conversation, crate::store::Grounding),
    /// Answered already (not found, stopped, failed): nothing more to do.
    Over,
}

/// Retrieve the passages of the question ending `conv`, tell the app what is going on, and
/// decide (`knowledge::answer::decide`). A question the passages do not answer, a stop, or
/// a failure ends the answer here (saved and reported).
async fn ground_question(
    g: &Ground,
    conv: Conversation,
    endpoint: &Endpoint,
    model: &str,
    sink: &AppSink,
    saver: &mut AppSaver,
    stop_rx: &mut oneshot::Receiver<()>,
) -> Retrieved {
    let name = g.base.name.clone();
    sink.send(StreamEvent::Progress(
        tr!("app.run.searching_kb", name = &name).into_owned(),
    ));
    let end = |saver: &mut AppSaver, a: Answer, sink: &AppSink| {
        let _ = saver.finish(&record::finished(&a, None, None, now_ms()));
        sink.send(StreamEvent::Done(
            a,
            None,
            Some(crate::store::Usage::default()),
        ));
        Retrieved::Over
    };
    if !g.index.exists() {
        let why = crate::knowledge::KnowledgeError::NotIndexed(name).to_string();
        let _ = saver.finish(&record::failed(String::new(), why.clone(), now_ms()));
        sink.send(StreamEvent::Failed(why));
        return Retrieved::Over;
    }
    let Some(question) = conv
        .messages
        .last()
        .filter(|m| m.role == ChatRole::User)
        .map(|m| m.content.clone())
    else {
        let why = tr!("app.run.no_question").into_owned();
        let _ = saver.finish(&record::failed(String::new(), why.clone(), now_ms()));
        sink.send(StreamEvent::Failed(why));
        return Retrieved::Over;
    };
    let mut ask = Ask::new(&question, vec![g.base.clone()], model);
    ask.context = grounded::follow_up(&conv);
    ask.remember = g.remember;
    // The restatement is a request like any other: budgets, the ledger, tagged `restate`
    // with this session and base.
    let restate = endpoint.tagged(crate::llm::meter::Tag {
        kind: "restate",
        session: Some(sink.session_id),
        knowledge: Some(name.clone()),
        ..endpoint.tag().clone()
    });
    let found = tokio::select! {
        found = ground::retrieve(&g.index, move || Ok(restate), ask) => found,
        _ = &mut *stop_rx => {
            let a = own_answer("", AnswerStatus::Interrupted, Some(record::STOPPED_BY_YOU.to_string()));
            return end(saver, a, sink);
        }
    };
    let mut found = match found {
        Ok(f) => f,
        Err(e) => {
            let why = tr!("app.run.kb_search_failed", name = &name, error = e).into_owned();
            let _ = saver.finish(&record::failed(String::new(), why.clone(), now_ms()));
            sink.send(StreamEvent::Failed(why));
            return Retrieved::Over;
        }
    };
    let mut notes = found.notes.clone();
    if g.scan_secrets {
        let redacted = grounded::redact_passages(&mut found);
        if let Some(rule) = &g.block_secrets
            && !redacted.is_empty()
        {
            let list: Vec<String> = redacted.iter().map(|n| format!("[{n}]")).collect();
            let why = tr!(
                "app.run.passages_blocked",
                list = list.join(" "),
                rule = rule
            )
            .into_owned();
            let _ = saver.finish(&record::failed(String::new(), why.clone(), now_ms()));
            sink.send(StreamEvent::Failed(why));
            return Retrieved::Over;
        }
        if !redacted.is_empty() {
            let list: Vec<String> = redacted.iter().map(|n| format!("[{n}]")).collect();
            notes.push(tr!("app.run.passages_redacted", list = list.join(" ")).into_owned());
        }
    }
    if !notes.is_empty() {
        let _ = sink.tx.send(Msg::Info(notes.join(" · ")));
    }
    match grounded::decide(&found, conv) {
        Next::NotFound { text, record } => {
            let id = saver.answer_id;
            let kept = record.clone();
            saver.store.quiet(move |s| s.set_grounding(id, Some(&kept)));
            sink.send(StreamEvent::Sources(record));
            end(saver, own_answer(text, AnswerStatus::Complete, None), sink)
        }
        Next::Send {
            conversation,
            record,
        } => {
            let id = saver.answer_id;
            let kept = record.clone();
            saver.store.quiet(move |s| s.set_grounding(id, Some(&kept)));
            sink.send(StreamEvent::Sources(record.clone()));
            sink.send(StreamEvent::Progress(
                tr!(
                    "app.run.passages_found",
                    n = record.passages.len(),
                    name = &name
                )
                .into_owned(),
            ));
            Retrieved::Send(conversation, record)
        }
    }
}

/// Everything an answer task needs from the runtime.
pub(super) struct AnswerJob {
    pub endpoint: Endpoint,
    pub store: StoreHandle,
    pub tx: UnboundedSender<Msg>,
    pub stops: Stops,
    pub profile_name: String,
    pub profile: Profile,
    pub docs: crate::config::DocumentsConfig,
    pub price: Option<ModelInfo>,
    pub model: String,
    /// The knowledge base this question is answered from.
    pub ground: Option<Ground>,
    /// The knowledge base a new session is grounded on.
    pub session_kb: Option<String>,
    /// A new session's title (`None`: named from the question).
    pub title: Option<String>,
}

/// Fit on a blocking thread (counting a long conversation is slow); the conversation
/// comes back with the result and the counts made.
async fn fit_off_thread(
    c: Conversation,
    window: Option<u64>,
    reserve: u64,
) -> (Result<Fitted, TooLong>, Vec<(MessageId, u64)>, Conversation) {
    tokio::task::spawn_blocking(move || {
        let (fitted, counted) = conversation::fit(&c, window, reserve, &count_tokens);
        (fitted, counted, c)
    })
    .await
    .unwrap_or_else(|_| {
        // Counting panicked: say it does not fit rather than send blindly.
        let too_long = TooLong {
            needed: 0,
            budget: 0,
            window: window.unwrap_or(0),
            reserved: reserve,
        };
        (Err(too_long), Vec::new(), Conversation::default())
    })
}

/// Save the question, then stream the answer (one request, or a run over parts).
pub(super) async fn answer(
    job: AnswerJob,
    session_id: Option<i64>,
    text: Option<String>,
    replace: Replace,
    system: Option<String>,
    long: Option<LongSend>,
) {
    let AnswerJob {
        endpoint,
        store,
        tx,
        stops,
        profile_name,
        profile,
        docs,
        price,
        model,
        ground,
        session_kb,
        title,
    } = job;
    let m = model.clone();
    let question = text.clone();
    let info = price.clone().unwrap_or_default();
    let max_out = profile.max_output_tokens;
    let reserve = conversation::reserve(max_out, &info);
    let budget = info.context_window.map(|w| w.saturating_sub(reserve));
    let prepared = store
        .call(move |s| {
            let to = To {
                profile: &profile_name,
                model: &m,
                budget,
                knowledge: session_kb.as_deref(),
                title: title.as_deref(),
            };
            prepare(s, session_id, text, replace, to, system)
        })
        .await;
    let p = match prepared {
        Some(Ok(p)) => p,
        Some(Err(error)) => {
            let _ = tx.send(Msg::SendRefused {
                session_id,
                text: question,
                error,
            });
            return;
        }
        None => {
            let _ = tx.send(Msg::SendRefused {
                session_id,
                text: question,
                error: tr!("app.run.history_unreachable").into_owned(),
            });
            return;
        }
    };
    let (stop_tx, mut stop_rx) = oneshot::channel();
    if let Ok(mut map) = stops.lock() {
        map.insert(p.session_id, stop_tx);
    }
    let _ = tx.send(Msg::SendAccepted {
        session_id: p.session_id,
        created: p.created,
        user_id: p.user_id,
        answer_id: p.answer_id,
    });
    let mut sink = AppSink {
        tx: tx.clone(),
        session_id: p.session_id,
        model: model.clone(),
    };
    let mut saver = AppSaver {
        store: store.clone(),
        answer_id: p.answer_id,
    };
    let older = p.older;
    let mut conversation = p.conversation;
    let mut sources = None;
    if let Some(g) = &ground {
        match ground_question(
            g,
            conversation,
            &endpoint,
            &model,
            &sink,
            &mut saver,
            &mut stop_rx,
        )
        .await
        {
            Retrieved::Send(c, record) => {
                conversation = c;
                sources = Some(record);
            }
            Retrieved::Over => {
                if let Ok(mut map) = stops.lock() {
                    map.remove(&p.session_id);
                }
                return;
            }
        }
    }
    let (mut fitted, mut counted, mut conv) =
        fit_off_thread(conversation, info.context_window, reserve).await;
    let fail = |saver: &mut AppSaver, why: String| {
        let _ = saver.finish(&record::failed(String::new(), why.clone(), now_ms()));
        sink.send(StreamEvent::Failed(why));
    };
    let mut parts = None;
    // A grounded question sends its passages, never a document read in parts.
    let long = if sources.is_some() {
        None
    } else {
        long_for(long, &fitted, &conv)
    };
    if let Some(long) = long {
        let (msgs, i, model) = (conv.messages.clone(), info.clone(), model.clone());
        let work = tokio::task::spawn_blocking(move || {
            documents::long_work(long, &msgs, &model, &docs, &i, max_out)
        })
        .await;
        match work {
            Ok(documents::LongWork::First(text, cut)) => {
                if cut > 0 {
                    let _ = tx.send(Msg::Info(
                        tr!("app.run.first_part", n = crate::format::thousands(cut)).into_owned(),
                    ));
                }
                if let Some(last) = conv.messages.last_mut() {
                    last.content = text;
                }
                if let Some(t) = conv.tokens.last_mut() {
                    *t = None;
                }
                (fitted, counted, conv) = fit_off_thread(conv, info.context_window, reserve).await;
            }
            Ok(documents::LongWork::Parts(job)) => parts = Some(job),
            Err(e) => {
                return fail(
                    &mut saver,
                    tr!("app.run.prepare_failed", error = e).into_owned(),
                );
            }
        }
    }
    let (etx, erx) = unbounded_channel();
    let plain = parts.is_none();
    let omitted = fitted.as_ref().map_or(0, |f| f.omitted);
    // What a stopped answer is counted with (a summary in parts counts its own requests).
    let prompt_tokens = match (&parts, &fitted) {
        (None, Ok(f)) => Some(record::prompt_estimate(f.prompt_tokens, &f.messages)),
        _ => None,
    };
    // Counted in the usage ledger as this session's answer (from its knowledge base).
    let endpoint = endpoint.tagged(crate::llm::meter::Tag {
        kind: "answer",
        session: Some(p.session_id),
        knowledge: ground.as_ref().map(|g| g.base.name.clone()),
        ..endpoint.tag().clone()
    });
    let task = match parts {
        Some(job) => {
            let progress = sink.tx.clone();
            let sid = p.session_id;
            let price = price.clone();
            tokio::spawn(crate::documents::summarize::run_as_answer(
                endpoint,
                *job,
                etx,
                move |ev| {
                    if let crate::documents::summarize::Event::Progress(pr) = ev {
                        let _ = progress.send(Msg::Stream {
                            session_id: sid,
                            event: StreamEvent::Progress(format!(
                                "{} · {}",
                                progress_line(pr, price.as_ref()),
                                tr!("app.run.esc_stops")
                            )),
                        });
                    }
                },
            ))
        }
        None => {
            let fitted = match fitted {
                Ok(f) => f,
                Err(e) => return fail(&mut saver, e.to_string()),
            };
            if let Some(note) = conversation::left_out_notice(fitted.omitted + older) {
                let _ = tx.send(Msg::Info(note));
            }
            let request = ChatRequest {
                model,
                messages: fitted.messages,
                max_output_tokens: max_out,
                temperature: None,
                prompt_tokens,
            };
            tokio::spawn(run_chat_deltas(endpoint, request, etx))
        }
    };
    let stop = async move {
        if stop_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let driven = drive(
        erx,
        AbortOnDrop(task),
        stop,
        &mut sink,
        &mut saver,
        price.as_ref(),
        prompt_tokens,
    )
    .await;
    if let Some(a) = driven.end.answer() {
        let learned = conversation::learned(&conv, omitted, &counted, a, Some(p.answer_id), plain);
        store.quiet(move |s| s.set_tokens(&learned));
        // The passages the answer cites, read from its text, kept and shown with it.
        if let Some(mut record) = sources {
            grounded::mark_cited(&mut record, &a.text);
            let (id, kept) = (p.answer_id, record.clone());
            store.quiet(move |s| s.set_grounding(id, Some(&kept)));
            sink.send(StreamEvent::Sources(record));
        }
    } else if !counted.is_empty() {
        store.quiet(move |s| s.set_tokens(&counted));
    }
    report(&sink, driven);
    if let Ok(mut map) = stops.lock() {
        map.remove(&p.session_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut Store, sid: i64, role: Role, text: &str) -> i64 {
        s.add_message(&NewMessage {
            session_id: sid,
            role,
            content: text.into(),
            status: MessageStatus::Complete,
            model: None,
            now_ms: 1,
        })
        .unwrap()
    }

    fn session(s: &mut Store) -> i64 {
        s.create_session(&NewSession {
            title: "t".into(),
            profile: "default".into(),
            model: "gpt-4o-mini".into(),
            system_prompt: Some("Be brief.".into()),
            now_ms: 1,
        })
        .unwrap()
    }

    /// The app shows a finished answer with the model it was asked of, as the history keeps
    /// it: the same line before and after the session is opened again, whatever name the
    /// server gave (its dated snapshot) or none.
    #[test]
    fn a_finished_answer_is_shown_with_the_model_it_was_asked_of() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let sink = AppSink {
            tx,
            session_id: 7,
            model: "gpt-4o-mini".into(),
        };
        for served in [Some("gpt-4o-mini-2024-07-18"), None] {
            let answer = Answer {
                text: "ok".into(),
                status: crate::llm::AnswerStatus::Complete,
                reason: None,
                finish_reason: Some("stop".into()),
                usage: None,
                model: served.map(str::to_string),
                ttft: None,
                duration: std::time::Duration::from_millis(5),
                malformed: 0,
            };
            let driven = Driven {
                end: End::Answered(answer),
                cost: None,
                usage: crate::store::Usage::default(),
                save_error: None,
            };
            report(&sink, driven);
            match rx.try_recv() {
                Ok(Msg::Stream {
                    session_id: 7,
                    event: StreamEvent::Done(a, _, _),
                }) => assert_eq!(a.model.as_deref(), Some("gpt-4o-mini"), "{served:?}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_new_session_takes_the_title_it_is_given_else_one_from_the_question() {
        let mut s = Store::open_in_memory().unwrap();
        for (given, expected) in [
            (Some("Summarise this"), "Summarise this"),
            (None, "000001 row one"),
        ] {
            let to = To {
                profile: "default",
                model: "gpt-4o-mini",
                budget: None,
                knowledge: None,
                title: given,
            };
            let text = "000001 row one\n000002 row two\n\nSummarise this".to_string();
            let p = prepare(&mut s, None, Some(text), Replace::Nothing, to, None).unwrap();
            assert!(p.created);
            let made = s.session(p.session_id).unwrap().unwrap();
            assert_eq!(made.title, expected);
        }
    }

    #[test]
    fn a_resent_edit_replaces_the_question_and_what_followed_in_the_store() {
        let mut s = Store::open_in_memory().unwrap();
        let sid = session(&mut s);
        add(&mut s, sid, Role::User, "q1");
        add(&mut s, sid, Role::Assistant, "a1");
        let q2 = add(&mut s, sid, Role::User, "q2");
        add(&mut s, sid, Role::Assistant, "a2");
        let p = prepare(
            &mut s,
            Some(sid),
            Some("q2 edited".into()),
            Replace::From(q2),
            To {
                profile: "default",
                model: "gpt-4o-mini",
                budget: None,
                knowledge: None,
                title: None,
            },
            None,
        )
        .unwrap();
        let sent: Vec<&str> = p
            .conversation
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .collect();
        assert_eq!(sent, vec!["Be brief.", "q1", "a1", "q2 edited"]);
        let stored: Vec<String> = s
            .messages(sid)
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect();
        assert_eq!(stored, vec!["q1", "a1", "q2 edited", ""]);
    }

    #[test]
    fn regenerating_drops_the_old_answer_and_keeps_the_stored_counts() {
        let mut s = Store::open_in_memory().unwrap();
        let sid = session(&mut s);
        let q = add(&mut s, sid, Role::User, "q1");
        let a = add(&mut s, sid, Role::Assistant, "a1");
        s.set_tokens(&[(q, 3)]).unwrap();
        let p = prepare(
            &mut s,
            Some(sid),
            None,
            Replace::Answer(a),
            To {
                profile: "default",
                model: "m",
                budget: None,
                knowledge: None,
                title: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(p.user_id, q);
        let sent: Vec<&str> = p
            .conversation
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .collect();
        assert_eq!(sent, vec!["Be brief.", "q1"]);
        assert_eq!(p.conversation.tokens, vec![None, Some(3)]);
    }

    #[test]
    fn a_long_session_sends_from_what_could_fit_and_counts_the_rest_as_left_out() {
        let mut s = Store::open_in_memory().unwrap();
        let sid = session(&mut s);
        let mut ids = Vec::new();
        for i in 0..20 {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            ids.push(add(&mut s, sid, role, &format!("turn {i}")));
        }
        let known: Vec<(i64, u64)> = ids.iter().map(|&id| (id, 1_000)).collect();
        s.set_tokens(&known).unwrap();
        let to = To {
            profile: "default",
            model: "m",
            budget: Some(2_500),
            knowledge: None,
            title: None,
        };
        let p = prepare(
            &mut s,
            Some(sid),
            Some("next".into()),
            Replace::Nothing,
            to,
            None,
        )
        .unwrap();
        let sent: Vec<&str> = p
            .conversation
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .collect();
        // The newest rows until they are certainly over the budget; the rest stay on disk
        // and are counted as left out.
        assert_eq!(
            sent,
            vec!["Be brief.", "turn 17", "turn 18", "turn 19", "next"]
        );
        assert_eq!(p.older, 17);
        let (fitted, _) =
            conversation::fit(&p.conversation, Some(3_500), 1_000, &|t| t.len() as u64);
        let fitted = fitted.unwrap();
        assert_eq!(
            conversation::left_out_notice(fitted.omitted + p.older).as_deref(),
            Some("18 earlier message(s) left out to fit the context window")
        );
    }

    #[test]
    fn a_question_read_in_parts_is_read_in_parts_again_when_it_does_not_fit() {
        let mut c = Conversation::default();
        c.push(
            ChatRole::User,
            "<document name=\"r.txt\">\nbody\n</document>\n\nsum it up".into(),
            None,
            Some(1),
        );
        let too_long: Result<Fitted, TooLong> = Err(TooLong {
            needed: 9,
            budget: 1,
            window: 2,
            reserved: 1,
        });
        let again = long_for(None, &too_long, &c).unwrap();
        assert_eq!(again.question, "sum it up");
        assert_eq!(again.docs.len(), 1);
        let fits: Result<Fitted, TooLong> = Ok(Fitted {
            messages: c.messages.clone(),
            omitted: 0,
            prompt_tokens: None,
        });
        assert!(long_for(None, &fits, &c).is_none(), "it fits: one request");
        let chosen = LongSend {
            question: "q".into(),
            docs: Vec::new(),
            first: Some(10),
            redact: false,
        };
        assert_eq!(
            long_for(Some(chosen), &fits, &c).unwrap().first,
            Some(10),
            "the user's choice wins"
        );
    }
}
