//! The compare view's requests: one task per pane, each driven to its end by the same code
//! as `clerk compare` (`compare::run::once` over the chat core), metered with the tag
//! `compare` (budgets checked before each request: a refusal ends that pane only), its
//! text and end sent to the app as `Msg::Compared`; and the kept answer stored as an
//! exchange of the session.
//!
//! What to compare and what to keep is the app's decision; this file only wires the
//! requests and the store.

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::Runtime;
use crate::app::Msg;
use crate::app::compare::{Ended, Keep, Kept, PaneEvent};
use crate::chat::conversation::{self, Conversation};
use crate::chat::{Saver, Sink, now_ms, record};
use crate::config::ModelInfo;
use crate::llm::context::count_tokens;
use crate::llm::meter::Tag;
use crate::llm::{ChatMessage, ChatRequest, Endpoint, RetryNotice};
use crate::store::{MessageFinish, MessageStatus, NewMessage, NewSession, Role, Store};

/// A pane's text and retries, as messages to the app.
struct PaneSink {
    tx: UnboundedSender<Msg>,
    run: u64,
    pane: usize,
}

impl PaneSink {
    fn send(&self, event: PaneEvent) {
        let _ = self.tx.send(Msg::Compared {
            run: self.run,
            pane: self.pane,
            event,
        });
    }
}

impl Sink for PaneSink {
    fn delta(&mut self, text: &str) {
        self.send(PaneEvent::Delta(text.to_owned()));
    }

    fn retrying(&mut self, notice: &RetryNotice) {
        self.send(PaneEvent::Retrying(notice.clone()));
    }
}

/// Keeps the answer's final record (as a normal answer would be saved), for the user to
/// keep one; nothing is written while the answers stream.
#[derive(Default)]
struct Held(Option<MessageFinish>);

impl Saver for Held {
    fn partial(&mut self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn finish(&mut self, record: &MessageFinish) -> Result<(), String> {
        self.0 = Some(record.clone());
        Ok(())
    }
}

/// One pane's request.
struct PaneJob {
    endpoint: Endpoint,
    price: Option<ModelInfo>,
    max_out: Option<u64>,
    model: String,
    messages: Vec<ChatMessage>,
    sink: PaneSink,
}

impl Runtime {
    /// Start a comparison: a request per model, all at once.
    pub(super) fn start_compare(
        &mut self,
        run: u64,
        session_id: Option<i64>,
        models: Vec<String>,
        messages: Vec<ChatMessage>,
    ) {
        let endpoint = self.answer_endpoint();
        let mut stops = Vec::new();
        for (pane, model) in models.into_iter().enumerate() {
            let sink = PaneSink {
                tx: self.tx.clone(),
                run,
                pane,
            };
            let Some(endpoint) = &endpoint else {
                sink.send(ended_with(
                    tr!("app.notice.not_sent", error = super::effects::no_key()).into_owned(),
                ));
                continue;
            };
            let endpoint = endpoint.tagged(Tag {
                kind: "compare",
                session: session_id,
                ..endpoint.tag().clone()
            });
            let (stop_tx, stop_rx) = oneshot::channel();
            stops.push(stop_tx);
            let job = PaneJob {
                endpoint,
                price: self.start.config.models.get(&model).cloned(),
                max_out: self.start.profile.max_output_tokens,
                model,
                messages: messages.clone(),
                sink,
            };
            let handle = tokio::spawn(answer_pane(job, stop_rx));
            self.tasks.retain(|t| !t.is_finished());
            self.tasks.push(handle);
        }
        self.compare_stops = Some((run, stops));
    }

    /// Stop the comparison's answers that still stream (each ends as stopped by you).
    pub(super) fn stop_compare(&mut self, run: u64) {
        if let Some((r, stops)) = self.compare_stops.take() {
            if r != run {
                self.compare_stops = Some((r, stops));
                return;
            }
            for s in stops {
                let _ = s.send(());
            }
        }
    }

    /// Store the kept answer: the question, then the answer, in the session (created when
    /// new).
    pub(super) fn keep_answer(&mut self, keep: Keep) {
        let profile = self.start.profile_name.clone();
        self.store
            .job(move |s| Msg::Kept(store_kept(s, &profile, keep)))
    }
}

fn ended_with(error: String) -> PaneEvent {
    PaneEvent::Ended(Box::new(Ended {
        sample: crate::compare::Sample {
            run: 1,
            error: Some(error),
            ..Default::default()
        },
        record: None,
    }))
}

/// One pane: the conversation fitted to its model's window (off the loop's thread), then
/// the request driven to its end.
async fn answer_pane(job: PaneJob, stop: oneshot::Receiver<()>) {
    let PaneJob {
        endpoint,
        price,
        max_out,
        model,
        messages,
        mut sink,
    } = job;
    let info = price.clone().unwrap_or_default();
    let reserve = conversation::reserve(max_out, &info);
    let window = info.context_window;
    let fitted = tokio::task::spawn_blocking(move || {
        let conv = Conversation {
            tokens: vec![None; messages.len()],
            rows: vec![None; messages.len()],
            messages,
        };
        conversation::fit(&conv, window, reserve, &count_tokens).0
    })
    .await;
    let fitted = match fitted {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            return sink.send(ended_with(
                tr!("app.notice.not_sent", error = e).into_owned(),
            ));
        }
        Err(_) => {
            return sink.send(ended_with(
                tr!(
                    "app.notice.not_sent",
                    error = tr!("app.run.counting_failed")
                )
                .into_owned(),
            ));
        }
    };
    let prompt_tokens = record::prompt_estimate(fitted.prompt_tokens, &fitted.messages);
    let request = ChatRequest {
        model,
        messages: fitted.messages,
        max_output_tokens: max_out,
        temperature: None,
        prompt_tokens: Some(prompt_tokens),
    };
    let stop = async move {
        if stop.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let mut held = Held::default();
    let driven = crate::compare::run::once(
        &endpoint,
        request,
        price.as_ref(),
        prompt_tokens,
        &mut sink,
        &mut held,
        stop,
    )
    .await;
    let sample = crate::compare::run::sample(1, &driven);
    let record = driven.end.answer().and(held.0);
    sink.send(PaneEvent::Ended(Box::new(Ended { sample, record })));
}

/// On the store thread: the session (created for it when new), the question, and the
/// answer with its model, status, usage, cost and timings.
fn store_kept(s: &mut Store, profile: &str, keep: Keep) -> Result<Kept, String> {
    let e = |e: crate::store::StoreError| e.to_string();
    let now = now_ms();
    let (session_id, created) = match keep.session_id {
        Some(id) => (id, false),
        None => (
            s.create_session(&NewSession {
                title: crate::store::title_from(&keep.question),
                profile: profile.to_string(),
                model: keep.model.clone(),
                system_prompt: keep.system.clone(),
                now_ms: now,
            })
            .map_err(e)?,
            true,
        ),
    };
    let user_id = s
        .add_message(&NewMessage {
            session_id,
            role: Role::User,
            content: keep.question,
            status: MessageStatus::Complete,
            model: None,
            now_ms: now,
        })
        .map_err(e)?;
    let answer_id = s
        .add_streaming_answer(session_id, &keep.model, now)
        .map_err(e)?;
    s.finish_message(
        answer_id,
        &MessageFinish {
            now_ms: now,
            ..keep.record
        },
    )
    .map_err(e)?;
    Ok(Kept {
        session_id,
        created,
        user_id,
        answer_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Usage;

    #[test]
    fn a_kept_answer_is_stored_as_an_exchange_with_its_model_usage_and_cost() {
        let mut s = Store::open_in_memory().unwrap();
        let record = MessageFinish {
            content: "CNY 800 a night".into(),
            status: MessageStatus::Complete,
            error: None,
            usage: Usage {
                tokens_in: Some(40),
                tokens_cached: Some(0),
                tokens_out: Some(6),
                estimated: false,
            },
            cost_usd: Some(0.0001),
            ttft_ms: Some(120),
            duration_ms: Some(900),
            now_ms: 5,
        };
        let kept = store_kept(
            &mut s,
            "default",
            Keep {
                session_id: None,
                question: "hotel cap in Shanghai?".into(),
                model: "qwen-plus".into(),
                record,
                system: Some("Be brief.".into()),
            },
        )
        .unwrap();
        assert!(kept.created);
        let session = s.session(kept.session_id).unwrap().unwrap();
        assert_eq!(session.model, "qwen-plus");
        assert_eq!(session.system_prompt.as_deref(), Some("Be brief."));
        let m = s.messages(kept.session_id).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].role, m[0].content.as_str()),
            (Role::User, "hotel cap in Shanghai?")
        );
        assert_eq!(m[0].id, kept.user_id);
        assert_eq!(m[1].id, kept.answer_id);
        assert_eq!(m[1].content, "CNY 800 a night");
        assert_eq!(m[1].model.as_deref(), Some("qwen-plus"));
        assert_eq!(m[1].status, MessageStatus::Complete);
        assert_eq!(m[1].usage.tokens_out, Some(6));
        assert_eq!(m[1].cost_usd, Some(0.0001));
        assert_eq!((m[1].ttft_ms, m[1].duration_ms), (Some(120), Some(900)));
    }
}
