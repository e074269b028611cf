//! Driving one answer's stream to its end: text to a [`Sink`], partial and final saves to a
//! [`Saver`], a stop signal, and how it ended.
//!
//! The decisions live in [`Answering`], a plain state machine fed one engine event at a
//! time (unit-tested without tokio); [`drive`] is the thin async loop around it that reads
//! the clock, ticks once a second and listens for the stop. The answer's text lives in one
//! string while it streams, a [`LiveText`]: the engine keeps none, the driver appends to it
//! and saves from it, and a sink that draws (the app) is handed the same string to read
//! rather than a copy of each delta. It must not know who shows the text (a terminal, the
//! app) or how it is stored.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;

use super::live::LiveText;
use super::record;
use crate::config::ModelInfo;
use crate::llm::stream::AbortOnDrop;
use crate::llm::{Answer, AnswerStatus, EngineEvent, LlmError, RetryNotice, TokenUsage};
use crate::store::{MessageFinish, Usage};

/// Partial answers are saved at least this often.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Where an answer's progress is shown.
pub trait Sink {
    /// The answer's text, once, before any of it arrives: a sink that draws reads it from
    /// here (it is the driver's one string) instead of keeping the deltas.
    fn started(&mut self, _text: &LiveText) {}
    /// More text, exactly as received (sanitize before drawing or printing); it is in the
    /// answer's text already.
    fn delta(&mut self, text: &str);
    /// A wait before a retry.
    fn retrying(&mut self, notice: &RetryNotice);
}

/// Where an answer is kept: its row, written while it streams and once at the end.
pub trait Saver {
    /// The text so far (called at most once a second, only when it changed).
    fn partial(&mut self, text: &str) -> Result<(), String>;
    /// The final state.
    fn finish(&mut self, record: &MessageFinish) -> Result<(), String>;
}

/// Nothing is saved (`--no-save`, history off).
#[derive(Debug, Default)]
pub struct NoSave;

impl Saver for NoSave {
    fn partial(&mut self, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn finish(&mut self, _: &MessageFinish) -> Result<(), String> {
        Ok(())
    }
}

/// How an answer ended.
#[derive(Debug)]
pub enum End {
    /// The stream ended: complete, truncated, cut off by the network, or an error the
    /// server sent inside it (see the answer's status).
    Answered(Answer),
    /// It failed before an answer could start (what arrived, if anything, was saved).
    Failed(LlmError),
    /// The user stopped it; what arrived is kept.
    Stopped(Answer),
    /// The task producing it ended without a word (a bug or a panic); what arrived is kept.
    Lost(Answer),
}

impl End {
    /// The answer, when there is one (all but [`End::Failed`]).
    pub fn answer(&self) -> Option<&Answer> {
        match self {
            End::Answered(a) | End::Stopped(a) | End::Lost(a) => Some(a),
            End::Failed(_) => None,
        }
    }
}

/// The result of [`drive`].
#[derive(Debug)]
pub struct Driven {
    /// How it ended.
    pub end: End,
    /// The answer's cost (known usage and price).
    pub cost: Option<f64>,
    /// The usage saved with it: the server's, or for an answer cut short, the estimate
    /// (marked estimated).
    pub usage: crate::store::Usage,
    /// The first save that failed (the answer was shown but may not be kept).
    pub save_error: Option<String>,
}

/// One answer while it streams: the pure part of [`drive`].
#[derive(Debug)]
pub struct Answering<'p> {
    text: LiveText,
    /// Whether the sink was handed the text yet.
    shown: bool,
    dirty: bool,
    price: Option<&'p ModelInfo>,
    prompt_tokens: Option<u64>,
    /// What the answer's requests used so far ([`EngineEvent::Spent`]).
    spent: Option<TokenUsage>,
    save_error: Option<String>,
}

impl<'p> Answering<'p> {
    /// A new answer, priced with `price`.
    pub fn new(price: Option<&'p ModelInfo>) -> Self {
        Answering {
            text: LiveText::new(),
            shown: false,
            dirty: false,
            price,
            prompt_tokens: None,
            spent: None,
            save_error: None,
        }
    }

    /// The prompt's estimated size in tokens: what an answer that ends without the server's
    /// usage (stopped, cut off) is counted with, marked estimated.
    pub fn with_prompt_tokens(mut self, prompt_tokens: Option<u64>) -> Self {
        self.prompt_tokens = prompt_tokens;
        self
    }

    /// The text so far (the handle a reader draws from).
    pub fn text(&self) -> &LiveText {
        &self.text
    }

    fn saved(&mut self, r: Result<(), String>) {
        if let Err(e) = r {
            self.save_error.get_or_insert(e);
        }
    }

    /// One engine event; `Some` once the answer is over.
    pub fn event(
        &mut self,
        ev: EngineEvent,
        sink: &mut dyn Sink,
        saver: &mut dyn Saver,
        now_ms: i64,
    ) -> Option<Driven> {
        if !self.shown {
            self.shown = true;
            sink.started(&self.text);
        }
        match ev {
            EngineEvent::Delta(d) => {
                self.text.push(&d);
                self.dirty = true;
                sink.delta(&d);
                None
            }
            EngineEvent::Retrying(n) => {
                sink.retrying(&n);
                None
            }
            EngineEvent::Started => None,
            EngineEvent::Spent(u) => {
                self.spent = Some(u);
                None
            }
            EngineEvent::Finished(Ok(mut answer)) => {
                // The engine keeps no copy of the text: this is the answer's one string.
                answer.text = self.text.finish();
                let rec = self.record(&answer, now_ms);
                let r = saver.finish(&rec);
                self.saved(r);
                Some(self.end(End::Answered(answer), &rec))
            }
            EngineEvent::Finished(Err(e)) => {
                let mut rec = record::failed(self.text.finish(), e.to_string(), now_ms);
                self.count_spent(&mut rec);
                let r = saver.finish(&rec);
                self.saved(r);
                Some(self.end(End::Failed(e), &rec))
            }
        }
    }

    /// The once-a-second tick: save the text if it changed.
    pub fn tick(&mut self, saver: &mut dyn Saver) {
        if self.dirty {
            let r = self.text.with(|text| saver.partial(text));
            self.saved(r);
            self.dirty = false;
        }
    }

    /// The user stopped the answer after `elapsed`: keep what arrived, marked interrupted.
    pub fn stop(&mut self, elapsed: Duration, saver: &mut dyn Saver, now_ms: i64) -> Driven {
        let answer = self.cut(elapsed, record::STOPPED_BY_YOU);
        let rec = self.record(&answer, now_ms);
        let r = saver.finish(&rec);
        self.saved(r);
        self.end(End::Stopped(answer), &rec)
    }

    /// The producing task went away without finishing.
    pub fn lost(&mut self, elapsed: Duration, saver: &mut dyn Saver, now_ms: i64) -> Driven {
        let why = crate::llm::reason::stored(|| tr!("llm.reason.task_ended"));
        let answer = self.cut(elapsed, &why);
        let rec = self.record(&answer, now_ms);
        let r = saver.finish(&rec);
        self.saved(r);
        self.end(End::Lost(answer), &rec)
    }

    /// The final record of an answer that ended, with what its requests cost when neither
    /// the server's usage nor an estimate of the prompt is known.
    fn record(&self, answer: &Answer, now_ms: i64) -> MessageFinish {
        let mut rec = record::finished(answer, self.price, self.prompt_tokens, now_ms);
        self.count_spent(&mut rec);
        rec
    }

    /// A record without counts keeps what the requests made so far cost (the requests cut
    /// short are not in it). Their tokens are not kept as the answer's: a message's counts
    /// are read as the conversation's size, and many requests' sum is not one.
    fn count_spent(&self, rec: &mut MessageFinish) {
        if let (None, None, Some(u)) = (rec.usage.tokens_in, rec.cost_usd, self.spent) {
            let used = Usage {
                tokens_in: Some(u.input),
                tokens_cached: Some(u.cached),
                tokens_out: Some(u.output),
                estimated: true,
            };
            rec.cost_usd = record::cost(&used, self.price);
        }
    }

    fn cut(&mut self, elapsed: Duration, why: &str) -> Answer {
        Answer {
            text: self.text.finish(),
            status: AnswerStatus::Interrupted,
            reason: Some(why.to_string()),
            finish_reason: None,
            usage: None,
            model: None,
            ttft: None,
            duration: elapsed,
            malformed: 0,
        }
    }

    fn end(&mut self, end: End, saved: &MessageFinish) -> Driven {
        Driven {
            end,
            cost: saved.cost_usd,
            usage: saved.usage,
            save_error: self.save_error.take(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Drive the answer that `task` produces on `events` to its end. `stop` resolving stops it
/// (the task is aborted, what arrived is saved as interrupted).
pub async fn drive(
    mut events: UnboundedReceiver<EngineEvent>,
    task: AbortOnDrop,
    stop: impl Future<Output = ()>,
    sink: &mut (dyn Sink + Send),
    saver: &mut (dyn Saver + Send),
    price: Option<&ModelInfo>,
    prompt_tokens: Option<u64>,
) -> Driven {
    let started = Instant::now();
    let mut state = Answering::new(price).with_prompt_tokens(prompt_tokens);
    let mut tick = tokio::time::interval(SAVE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => {
                    if let Some(done) = state.event(ev, sink, saver, now_ms()) {
                        return done;
                    }
                }
                None => return state.lost(started.elapsed(), saver, now_ms()),
            },
            _ = tick.tick() => state.tick(saver),
            _ = &mut stop => {
                drop(task);
                return state.stop(started.elapsed(), saver, now_ms());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::TokenUsage;
    use crate::store::MessageStatus;

    #[derive(Default)]
    struct Shown {
        text: String,
        retries: Vec<String>,
    }
    impl Sink for Shown {
        fn delta(&mut self, text: &str) {
            self.text.push_str(text);
        }
        fn retrying(&mut self, n: &RetryNotice) {
            self.retries.push(record::retry_text(n));
        }
    }

    #[derive(Default)]
    struct Kept {
        partials: Vec<String>,
        finals: Vec<MessageFinish>,
        fail: bool,
    }
    impl Saver for Kept {
        fn partial(&mut self, text: &str) -> Result<(), String> {
            self.partials.push(text.to_string());
            if self.fail {
                Err("disk full".into())
            } else {
                Ok(())
            }
        }
        fn finish(&mut self, r: &MessageFinish) -> Result<(), String> {
            self.finals.push(r.clone());
            Ok(())
        }
    }

    fn done(usage: Option<TokenUsage>) -> EngineEvent {
        EngineEvent::Finished(Ok(Answer {
            text: String::new(),
            status: AnswerStatus::Complete,
            reason: None,
            finish_reason: Some("stop".into()),
            usage,
            model: Some("m".into()),
            ttft: None,
            duration: Duration::from_millis(5),
            malformed: 0,
        }))
    }

    fn price() -> ModelInfo {
        crate::config::models::builtin_models()
            .remove("gpt-4o-mini")
            .unwrap()
    }

    #[test]
    fn text_is_shown_as_it_comes_saved_when_it_changed_and_final_at_the_end() {
        let p = price();
        let (mut sink, mut saver) = (Shown::default(), Kept::default());
        let mut a = Answering::new(Some(&p));
        assert!(
            a.event(EngineEvent::Started, &mut sink, &mut saver, 1)
                .is_none()
        );
        a.tick(&mut saver);
        assert!(saver.partials.is_empty(), "nothing to save yet");
        a.event(EngineEvent::Delta("Hel".into()), &mut sink, &mut saver, 1);
        a.event(EngineEvent::Delta("lo".into()), &mut sink, &mut saver, 1);
        a.tick(&mut saver);
        a.tick(&mut saver);
        assert_eq!(
            saver.partials,
            vec!["Hello"],
            "saved once: unchanged text is not saved again"
        );
        let usage = Some(TokenUsage {
            input: 1_000_000,
            cached: 0,
            output: 0,
        });
        let d = a.event(done(usage), &mut sink, &mut saver, 9).unwrap();
        assert_eq!(sink.text, "Hello");
        let End::Answered(answer) = &d.end else {
            panic!("{:?}", d.end)
        };
        assert_eq!(
            answer.text, "Hello",
            "the answer carries the text the driver gathered"
        );
        assert_eq!(saver.finals.len(), 1);
        let f = &saver.finals[0];
        assert_eq!(
            (f.content.as_str(), f.status, f.now_ms),
            ("Hello", MessageStatus::Complete, 9)
        );
        assert!((d.cost.unwrap() - 0.15).abs() < 1e-9);
        assert_eq!(f.cost_usd, d.cost);
        assert!(d.save_error.is_none());
    }

    /// A sink that draws, like the app: it keeps the driver's text, not the deltas.
    #[derive(Default)]
    struct Drawn {
        text: Option<LiveText>,
        started: usize,
        grew: usize,
    }
    impl Sink for Drawn {
        fn started(&mut self, text: &LiveText) {
            self.started += 1;
            self.text = Some(text.clone());
        }
        fn delta(&mut self, _: &str) {
            self.grew += 1;
        }
        fn retrying(&mut self, _: &RetryNotice) {}
    }

    #[test]
    fn a_sink_that_draws_reads_the_drivers_one_string() {
        let (mut sink, mut saver) = (Drawn::default(), Kept::default());
        let mut a = Answering::new(None);
        for d in ["Hel", "lo"] {
            a.event(EngineEvent::Delta(d.into()), &mut sink, &mut saver, 1);
        }
        let drawn = sink.text.clone().unwrap();
        assert_eq!((sink.started, sink.grew), (1, 2), "handed over once");
        assert_eq!(&drawn, a.text(), "the same string, not a copy");
        assert_eq!(drawn.with(str::to_owned), "Hello");
        a.tick(&mut saver);
        assert_eq!(saver.partials, vec!["Hello"], "saved from that string");
        let d = a.event(done(None), &mut sink, &mut saver, 2).unwrap();
        let End::Answered(answer) = &d.end else {
            panic!("{:?}", d.end)
        };
        assert_eq!(answer.text, "Hello");
        assert_eq!(
            drawn.with(str::to_owned),
            "Hello",
            "still drawn until the end reaches the screen"
        );
    }

    #[test]
    fn a_summary_stopped_or_failed_between_parts_keeps_what_its_parts_cost() {
        let p = price();
        let spent = |input, output| {
            EngineEvent::Spent(TokenUsage {
                input,
                cached: 0,
                output,
            })
        };
        // Stopped after two parts: what they cost ($0.15 a million in, $0.60 out); no
        // token counts, which would be read as the conversation's size.
        let (mut sink, mut saver) = (Shown::default(), Kept::default());
        let mut a = Answering::new(Some(&p));
        a.event(spent(500_000, 1_000), &mut sink, &mut saver, 1);
        a.event(spent(1_000_000, 2_000), &mut sink, &mut saver, 1);
        let d = a.stop(Duration::from_secs(3), &mut saver, 5);
        assert!((d.cost.unwrap() - 0.1512).abs() < 1e-9, "{:?}", d.cost);
        assert_eq!(saver.finals[0].cost_usd, d.cost);
        assert_eq!((d.usage.tokens_in, d.usage.tokens_out), (None, None));
        // A part that failed: the parts before it are still paid for.
        let (mut sink, mut saver) = (Shown::default(), Kept::default());
        let mut a = Answering::new(Some(&p));
        a.event(spent(200_000, 300), &mut sink, &mut saver, 1);
        let failed = EngineEvent::Finished(Err(LlmError::Other("part 3 failed".into())));
        let d = a.event(failed, &mut sink, &mut saver, 2).unwrap();
        assert!(matches!(d.end, End::Failed(_)));
        assert_eq!(saver.finals[0].status, MessageStatus::Error);
        assert!((d.cost.unwrap() - 0.03018).abs() < 1e-9, "{:?}", d.cost);
        // Finished: the server's total and its price, not the running one.
        let (mut sink, mut saver) = (Shown::default(), Kept::default());
        let mut a = Answering::new(Some(&p));
        a.event(spent(200_000, 300), &mut sink, &mut saver, 1);
        let total = Some(TokenUsage {
            input: 1_000_000,
            cached: 0,
            output: 0,
        });
        let d = a.event(done(total), &mut sink, &mut saver, 2).unwrap();
        assert_eq!(d.usage.tokens_in, Some(1_000_000));
        assert!((d.cost.unwrap() - 0.15).abs() < 1e-9, "{:?}", d.cost);
        // A plain answer stopped: its estimate, as before; nothing spent: nothing.
        let (mut sink, mut saver) = (Shown::default(), Kept::default());
        let mut a = Answering::new(Some(&p)).with_prompt_tokens(Some(40));
        a.event(spent(200_000, 300), &mut sink, &mut saver, 1);
        let d = a.stop(Duration::from_secs(1), &mut saver, 2);
        assert_eq!(d.usage.tokens_in, Some(40));
        let (mut sink, mut saver) = (Shown::default(), Kept::default());
        let mut a = Answering::new(Some(&p));
        a.event(EngineEvent::Delta("x".into()), &mut sink, &mut saver, 1);
        let d = a.stop(Duration::from_secs(1), &mut saver, 2);
        assert_eq!((d.usage.tokens_in, d.cost), (None, None));
    }

    #[test]
    fn a_stop_keeps_what_arrived_as_interrupted_by_you() {
        let (mut sink, mut saver) = (Shown::default(), Kept::default());
        let mut a = Answering::new(None).with_prompt_tokens(Some(40));
        a.event(
            EngineEvent::Delta("half an ans".into()),
            &mut sink,
            &mut saver,
            1,
        );
        let d = a.stop(Duration::from_secs(2), &mut saver, 5);
        let End::Stopped(answer) = &d.end else {
            panic!()
        };
        assert_eq!(answer.text, "half an ans");
        assert_eq!(answer.status, AnswerStatus::Interrupted);
        let f = &saver.finals[0];
        assert_eq!(f.status, MessageStatus::Interrupted);
        assert_eq!(f.error.as_deref(), Some(record::STOPPED_BY_YOU));
        assert_eq!(f.content, "half an ans");
        assert_eq!(f.duration_ms, Some(2000));
        // The caller is told what was saved: the prompt as sent and what arrived, estimated.
        assert_eq!(d.usage, f.usage);
        assert!(d.usage.estimated && d.usage.tokens_in == Some(40));
        assert!(d.usage.tokens_out.is_some_and(|n| n > 0));
    }

    #[test]
    fn a_failure_saves_the_partial_text_as_an_error() {
        let (mut sink, mut saver) = (Shown::default(), Kept::default());
        let mut a = Answering::new(None);
        a.event(
            EngineEvent::Delta("so far".into()),
            &mut sink,
            &mut saver,
            1,
        );
        let err = LlmError::Other("the server went away".into());
        let d = a
            .event(EngineEvent::Finished(Err(err)), &mut sink, &mut saver, 2)
            .unwrap();
        assert!(matches!(d.end, End::Failed(_)));
        let f = &saver.finals[0];
        assert_eq!(
            (f.status, f.content.as_str()),
            (MessageStatus::Error, "so far")
        );
        assert_eq!(f.error.as_deref(), Some("the server went away"));
    }

    #[test]
    fn a_lost_task_keeps_the_text_and_retries_are_shown() {
        let (mut sink, mut saver) = (Shown::default(), Kept::default());
        let mut a = Answering::new(None);
        let n = RetryNotice {
            retry: 1,
            of: 2,
            wait: Duration::from_secs(3),
            reason: "rate limited (HTTP 429)".into(),
        };
        a.event(EngineEvent::Retrying(n), &mut sink, &mut saver, 0);
        assert_eq!(
            sink.retries,
            vec!["rate limited (HTTP 429), retrying in 3 s (1 of 2)"]
        );
        a.event(EngineEvent::Delta("x".into()), &mut sink, &mut saver, 0);
        let d = a.lost(Duration::ZERO, &mut saver, 0);
        assert!(matches!(d.end, End::Lost(ref a) if a.text == "x"));
        assert_eq!(saver.finals[0].status, MessageStatus::Interrupted);
    }

    #[test]
    fn the_first_failed_save_is_reported_at_the_end() {
        let (mut sink, mut saver) = (
            Shown::default(),
            Kept {
                fail: true,
                ..Kept::default()
            },
        );
        let mut a = Answering::new(None);
        a.event(EngineEvent::Delta("x".into()), &mut sink, &mut saver, 0);
        a.tick(&mut saver);
        let d = a.event(done(None), &mut sink, &mut saver, 0).unwrap();
        assert_eq!(d.save_error.as_deref(), Some("disk full"));
        assert_eq!(d.cost, None, "no usage: the cost is unknown");
    }
}
