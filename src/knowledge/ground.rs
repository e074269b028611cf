//! Grounded answers: a question answered only from a knowledge base's passages, with
//! citations. Written once, below the command line and the app, which both call it.
//!
//! # The API, in the order a caller uses it
//!
//! ```text
//! // 1. Retrieve: restate the question in the bases' other languages (one short request
//! //    to the chat model, cached), embed it when a base has vectors, search, fuse, decide.
//! let ask = Ask::new(question, bases /* Vec<BaseSettings> */, model);   // .k, .context
//! let grounded: Grounded = ground::retrieve(&paths.knowledge_index(), || endpoint, ask).await?;
//! for note in &grounded.notes { /* "could not restate the question…": show once */ }
//! // grounded.requests: the restatement and embeddings requests, with their usage.
//!
//! // 2. Not found, never guessed: nothing is sent.
//! if !grounded.found() { show(grounded.not_found_text()); return; }
//!
//! // 3. The messages: rules as the system prompt, passages + question as the user's message.
//! let system = grounded.system_prompt(user_system.as_deref());
//! let user = grounded.user_message();      // what is sent; save `question` itself
//! // … history, fit, then drive the stream with chat::drive like any answer …
//!
//! // 4. After the answer: the passages it cites, from clerk's own metadata.
//! let cited: Vec<Citation> = grounded.citations(&answer.text);
//! if cited.is_empty() { /* shown as not found; list grounded.hits() to read */ }
//! ```
//!
//! `retrieve` is `Send` (it reads the index on blocking threads, opened by path), so the
//! app can spawn it. Its three steps are public for callers that hold an [`Index`]:
//! [`prepare`] (reads the index: languages, cached restatements, whether vectors exist),
//! [`fetch`] (the network only), [`finish`] (caches, scans vectors, searches).
//!
//! # Languages
//! A question is restated into every language the searched bases hold other than its own
//! (a base's `languages`, else what indexing found), when the base allows it
//! (`translate = true`, the default). The original and each restatement are searched and
//! fused by rank ([`Index::search`]). A failed call, a reply that holds no restatement, or
//! `translate = false` leaves the original alone, with a note to show once.
//!
//! # Vectors
//! A base with `embeddings = "MODEL"` and vectors in the index has the question (and its
//! restatements) embedded with that model; [`Index::vector_rankings`] ranks its passages
//! per language, and those rankings are fused with the keyword ones. A 404 from the
//! endpoint is a note, not an error: keyword search goes on.
//!
//! It must not import `app`, `ui`, `tui` or `cli`, nor print.

use std::path::Path;
use std::time::Duration;

use super::cite::{self, Citation};
use super::restate::{self, Restated};
use super::vectors::{self, is_missing_endpoint};
use super::{Hit, Index, KnowledgeError, Query, Ranking, Retrieval};
use crate::config::KnowledgeEntry;
use crate::llm::stream::chat_to_end;
use crate::llm::{AnswerStatus, Endpoint, TokenUsage};

/// Passages given to the model by default.
pub const DEFAULT_K: usize = 5;

/// The longest wait for a restatement.
pub const RESTATE_TIMEOUT: Duration = Duration::from_secs(20);

/// Vector hits per language fused with the keyword rankings.
const VECTOR_POOL: usize = 40;

/// One base, as retrieval needs it (from its `[[knowledge]]` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSettings {
    /// Its name.
    pub name: String,
    /// The languages it holds as configured (empty: what indexing found).
    pub languages: Vec<String>,
    /// Restate questions into its other languages.
    pub translate: bool,
    /// The embeddings model, when vector search is on.
    pub embeddings: Option<String>,
}

impl From<&KnowledgeEntry> for BaseSettings {
    fn from(e: &KnowledgeEntry) -> Self {
        BaseSettings {
            name: e.name.clone(),
            languages: e.languages.clone(),
            translate: e.translate,
            embeddings: e.embeddings.clone(),
        }
    }
}

/// A question to ground.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    /// The question as asked.
    pub question: String,
    /// The conversation's previous question, for a follow-up ("and in Beijing?"): searched
    /// together with this one as one more wording.
    pub context: Option<String>,
    /// The bases searched.
    pub bases: Vec<BaseSettings>,
    /// Passages given to the model.
    pub k: usize,
    /// The chat model that restates the question.
    pub model: String,
    /// Whether the restatement may be cached in the index (it holds the question's
    /// words): not with the history off or `--incognito`.
    pub remember: bool,
}

impl Ask {
    /// The bases to search, as the usage ledger records them ("procedures,finance").
    pub fn knowledge(&self) -> Option<String> {
        let names: Vec<&str> = self.bases.iter().map(|b| b.name.as_str()).collect();
        (!names.is_empty()).then(|| names.join(","))
    }

    /// A question over `bases`, restated by `model`, [`DEFAULT_K`] passages.
    pub fn new(question: &str, bases: Vec<BaseSettings>, model: &str) -> Ask {
        Ask {
            question: question.trim().to_string(),
            context: None,
            bases,
            k: DEFAULT_K,
            model: model.to_string(),
            remember: true,
        }
    }
}

/// What a request made for retrieval was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Restating the question.
    Restate,
    /// Embedding the question.
    Embed,
}

/// A request made while retrieving, for a usage ledger: what for, which model, the usage
/// the server reported (`None`: not reported, or the request failed).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SideRequest {
    /// What for.
    pub purpose: Purpose,
    /// The model asked.
    pub model: String,
    /// Tokens, when the server said (an embedding has only input tokens).
    pub usage: Option<TokenUsage>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// The index's part before the network: what to restate, what is cached, what to embed.
#[derive(Debug, Clone)]
pub struct Prepared {
    ask: Ask,
    language: String,
    /// Languages still to restate into (not cached).
    to_restate: Vec<String>,
    cached: Vec<Restated>,
    /// Embeddings models of bases that have vectors.
    embed_models: Vec<String>,
    notes: Vec<String>,
}

impl Prepared {
    /// Whether [`fetch`] will make a request.
    pub fn needs_network(&self) -> bool {
        !self.to_restate.is_empty() || !self.embed_models.is_empty()
    }
}

/// What the network gave: restatements, the question's vectors per model.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    restated: Vec<Restated>,
    vectors: Vec<(String, Vec<Vec<f32>>)>,
    notes: Vec<String>,
    requests: Vec<SideRequest>,
}

/// A question with the passages found for it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Grounded {
    /// The question as asked.
    pub question: String,
    /// Its language (`en`, `zh`).
    pub language: String,
    /// The passages found (numbered from 1 in this order) and whether they answer it.
    pub retrieval: Retrieval,
    /// The restatements searched.
    pub restatements: Vec<Restated>,
    /// Things to tell the user once (a failed restatement, no embeddings endpoint…).
    pub notes: Vec<String>,
    /// The requests retrieval made, with their usage.
    pub requests: Vec<SideRequest>,
    /// The knowledge bases searched, by name.
    pub bases: Vec<String>,
}

impl Grounded {
    /// The bases searched, as the usage ledger records them ("procedures,finance").
    pub fn knowledge(&self) -> Option<String> {
        (!self.bases.is_empty()).then(|| self.bases.join(","))
    }

    /// Whether the passages answer the question; when not, nothing is sent.
    pub fn found(&self) -> bool {
        self.retrieval.found && !self.retrieval.hits.is_empty()
    }

    /// The passages, numbered from 1 in this order.
    pub fn hits(&self) -> &[Hit] {
        &self.retrieval.hits
    }

    /// "not found in the procedures", in the question's language.
    pub fn not_found_text(&self) -> &'static str {
        cite::not_found_text(&self.question)
    }

    /// The system prompt: `extra` (the user's or a template's instructions), then the rules.
    pub fn system_prompt(&self, extra: Option<&str>) -> String {
        cite::system_prompt(&self.question, extra)
    }

    /// The user's message: the passages, numbered and delimited, then the question.
    pub fn user_message(&self) -> String {
        cite::user_message(&self.retrieval.hits, &self.question)
    }

    /// [`Self::user_message`] with another question (a template's prompt).
    pub fn user_message_for(&self, prompt: &str) -> String {
        cite::user_message(&self.retrieval.hits, prompt)
    }

    /// The passages `answer` cites (empty: it cites none, and is shown as not found).
    pub fn citations(&self, answer: &str) -> Vec<Citation> {
        cite::citations(answer, &self.retrieval.hits)
    }
}

/// Why retrieval failed.
#[derive(Debug, thiserror::Error)]
pub enum GroundError {
    /// The index.
    #[error(transparent)]
    Index(#[from] KnowledgeError),
    /// A blocking task ended without an answer (a panic).
    #[error("the search stopped unexpectedly: {0}")]
    Task(String),
}

/// Read what retrieval needs from the index: each base's languages (an unindexed base is an
/// error), cached restatements, whether vectors exist.
pub fn prepare(index: &Index, ask: &Ask) -> Result<Prepared, KnowledgeError> {
    let language = super::analyze::language_of(&ask.question)
        .unwrap_or("en")
        .to_string();
    let mut notes = Vec::new();
    let mut targets: Vec<String> = Vec::new();
    let mut embed_models: Vec<String> = Vec::new();
    for b in &ask.bases {
        let held = index.languages(&b.name)?;
        let languages = if b.languages.is_empty() {
            held
        } else {
            b.languages.clone()
        };
        let others: Vec<&String> = languages.iter().filter(|l| **l != language).collect();
        if !others.is_empty() && !b.translate {
            let names: Vec<String> = others.iter().map(|l| cite::language_name(l)).collect();
            notes.push(
                tr!(
                    "knowledge.note.no_translate",
                    base = b.name,
                    languages = names.join(&tr!("knowledge.note.or"))
                )
                .into_owned(),
            );
        }
        if b.translate {
            for l in others {
                if !targets.contains(l) {
                    targets.push(l.clone());
                }
            }
        }
        if let Some(m) = &b.embeddings {
            if index.has_vectors(&b.name, m)? {
                if !embed_models.contains(m) {
                    embed_models.push(m.clone());
                }
            } else {
                notes.push(tr!("knowledge.note.no_vectors", base = b.name, model = m).into_owned());
            }
        }
    }
    let mut cached = Vec::new();
    let mut to_restate = Vec::new();
    for t in targets {
        match index.cached_restatement(&ask.question, &t, &ask.model)? {
            Some(text) => cached.push(Restated {
                language: t,
                text,
                cached: true,
            }),
            None => to_restate.push(t),
        }
    }
    Ok(Prepared {
        ask: ask.clone(),
        language,
        to_restate,
        cached,
        embed_models,
        notes,
    })
}

/// The network part: restate the question (one request), embed it and its restatements
/// (one request per embeddings model). Never fails: what fails becomes a note, and the
/// search goes on without it. `endpoint` is `Err(why)` when no request can be made (no
/// key): then nothing is sent and `why` is said.
pub async fn fetch(endpoint: Result<&Endpoint, &str>, prepared: &Prepared) -> Fetched {
    let mut out = Fetched::default();
    let ask = &prepared.ask;
    let names = |langs: &[String]| {
        langs
            .iter()
            .map(|l| cite::language_name(l))
            .collect::<Vec<_>>()
            .join(&tr!("knowledge.note.and"))
    };
    if !prepared.to_restate.is_empty() {
        let into = names(&prepared.to_restate);
        match endpoint {
            Err(why) => out
                .notes
                .push(tr!("knowledge.note.not_restated", into = into, why = why).into_owned()),
            Ok(ep) => {
                let request = restate::request(&ask.question, &prepared.to_restate, &ask.model);
                let answer =
                    tokio::time::timeout(RESTATE_TIMEOUT, chat_to_end(ep.clone(), request, |_| {}))
                        .await;
                // What went wrong: in English for the request's record (`--json`), and in
                // the interface's language for the note the user reads.
                let (usage, error) = match answer {
                    Err(_) => {
                        let secs = RESTATE_TIMEOUT.as_secs();
                        let said = tr!("knowledge.note.no_reply", secs = secs).into_owned();
                        (None, Some((format!("no reply in {secs} s"), said)))
                    }
                    Ok(Err(e)) => (None, Some((e.to_string(), e.to_string()))),
                    Ok(Ok(a)) if a.status != AnswerStatus::Complete => {
                        let status = a.status.as_str();
                        let said = tr!("knowledge.note.reply_ended", status = status).into_owned();
                        (a.usage, Some((format!("the reply ended {status}"), said)))
                    }
                    Ok(Ok(a)) => {
                        let got = restate::parse(&a.text, &ask.question, &prepared.to_restate);
                        let error = got.is_empty().then(|| {
                            let text = excerpt(&a.text);
                            let said =
                                tr!("knowledge.note.not_a_restatement", into = into, text = text)
                                    .into_owned();
                            (
                                format!(
                                    "the model's reply was not a restatement in {into}: {text}"
                                ),
                                said,
                            )
                        });
                        out.restated = got;
                        (a.usage, error)
                    }
                };
                let error = error.map(|(english, said)| {
                    out.notes.push(
                        tr!("knowledge.note.not_restated", into = into, why = said).into_owned(),
                    );
                    english
                });
                out.requests.push(SideRequest {
                    purpose: Purpose::Restate,
                    model: ask.model.clone(),
                    usage,
                    error,
                });
            }
        }
    }
    if !prepared.embed_models.is_empty() {
        let mut texts = vec![ask.question.clone()];
        texts.extend(
            prepared
                .cached
                .iter()
                .chain(&out.restated)
                .map(|r| r.text.clone()),
        );
        for model in &prepared.embed_models {
            let ep = match endpoint {
                Ok(ep) => ep,
                Err(why) => {
                    out.notes
                        .push(tr!("knowledge.note.no_vector_search", why = why).into_owned());
                    break;
                }
            };
            match vectors::embed(ep, model, &texts, &mut |_| {}).await {
                Ok(e) => {
                    out.requests.push(SideRequest {
                        purpose: Purpose::Embed,
                        model: model.clone(),
                        usage: e.tokens.map(|t| TokenUsage {
                            input: t,
                            cached: 0,
                            output: 0,
                        }),
                        error: None,
                    });
                    out.vectors.push((model.clone(), e.vectors));
                }
                Err(e) => {
                    let note = if is_missing_endpoint(&e) {
                        let url = ep.url("/embeddings");
                        tr!("knowledge.note.no_embeddings", url = url, model = model).into_owned()
                    } else {
                        tr!("knowledge.note.no_vector_search", why = e).into_owned()
                    };
                    out.notes.push(note);
                    out.requests.push(SideRequest {
                        purpose: Purpose::Embed,
                        model: model.clone(),
                        usage: None,
                        error: Some(e.to_string()),
                    });
                }
            }
        }
    }
    out
}

/// The index's part after the network: keep new restatements, rank passages by vector,
/// search with every wording, fuse, and decide whether the passages answer the question.
pub fn finish(
    index: &mut Index,
    prepared: Prepared,
    fetched: Fetched,
) -> Result<Grounded, KnowledgeError> {
    let Prepared {
        ask,
        language,
        cached,
        mut notes,
        ..
    } = prepared;
    if ask.remember
        && !fetched.restated.is_empty()
        && let Err(e) = index.cache_restatements(
            &ask.question,
            &ask.model,
            &fetched.restated,
            crate::chat::now_ms(),
        )
    {
        tracing::warn!(error = %e, "restatements not cached");
    }
    notes.extend(fetched.notes);
    let mut restatements = cached;
    restatements.extend(fetched.restated);
    let mut queries = vec![Query::new(&ask.question)];
    queries.extend(restatements.iter().map(|r| Query::new(&r.text)));
    if let Some(c) = ask
        .context
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        queries.push(Query::context(format!("{c}\n{}", ask.question)));
    }
    let mut extra: Vec<Ranking> = Vec::new();
    for (model, vectors) in &fetched.vectors {
        let bases: Vec<&str> = ask
            .bases
            .iter()
            .filter(|b| b.embeddings.as_deref() == Some(model.as_str()))
            .map(|b| b.name.as_str())
            .collect();
        let found = index.vector_rankings(&bases, model, vectors, VECTOR_POOL)?;
        if found.mismatched > 0 {
            notes.push(
                tr!(
                    "knowledge.note.vectors_mismatched",
                    n = found.mismatched,
                    model = model
                )
                .into_owned(),
            );
        }
        extra.extend(found.rankings);
    }
    let names: Vec<&str> = ask.bases.iter().map(|b| b.name.as_str()).collect();
    let retrieval = index.search(&names, &queries, &extra, ask.k.max(1))?;
    Ok(Grounded {
        question: ask.question,
        language,
        retrieval,
        restatements,
        notes,
        requests: fetched.requests,
        bases: names.iter().map(|n| n.to_string()).collect(),
    })
}

/// Retrieve the passages for `ask` from the index at `index` (the three steps, the index's
/// on blocking threads, so the future is `Send`). `endpoint` is called only when a request
/// is needed (a restatement not cached, vectors), or before searching when one is likely;
/// `Err(why)` (no key) leaves the question as asked and keyword search, with `why` in a
/// note.
pub async fn retrieve(
    index: &Path,
    endpoint: impl FnOnce() -> Result<Endpoint, String> + Send,
    ask: Ask,
) -> Result<Grounded, GroundError> {
    let task = |e: tokio::task::JoinError| GroundError::Task(e.to_string());
    let path = index.to_path_buf();
    let first = path.clone();
    // A base with vectors, or one said to hold several languages, will make a request: its
    // endpoint is made first, so that its client is built while the index is searched.
    let early = ask
        .bases
        .iter()
        .any(|b| b.embeddings.is_some() || (b.translate && b.languages.len() > 1));
    let mut endpoint = Some(endpoint);
    let made = early.then(|| endpoint.take().map(|make| make())).flatten();
    let prepared = tokio::task::spawn_blocking(move || prepare(&Index::open(&first)?, &ask))
        .await
        .map_err(task)??;
    let fetched = if prepared.needs_network() {
        let endpoint = match (made, endpoint) {
            (Some(made), _) => made,
            (None, Some(make)) => make(),
            // Not reached: `endpoint` is taken only to make `made`.
            (None, None) => Err("no endpoint".to_string()),
        };
        fetch(endpoint.as_ref().map_err(String::as_str), &prepared).await
    } else {
        Fetched::default()
    };
    let grounded =
        tokio::task::spawn_blocking(move || finish(&mut Index::open(&path)?, prepared, fetched))
            .await
            .map_err(task)??;
    Ok(grounded)
}

/// The start of a reply, on one line, for a note.
fn excerpt(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(80) {
        Some((cut, _)) => format!("“{}…”", &line[..cut]),
        None => format!("“{line}”"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::ops::ControlFlow;

    use super::*;
    use crate::knowledge::Base;

    const TRAVEL: &str = "# Travel\n\n## Hotels\n\nThe nightly hotel limit in Shanghai is CNY 900. Book hotels through the portal.\n";
    const LEAVE: &str = "# 年假制度\n\n## 结转\n\n未休年假最多可结转五天到下一年度。\n";
    const IT: &str = "# Passwords\n\nPasswords must be at least 14 characters long.\n";

    /// An index of an English travel policy, English password rules and Chinese leave
    /// rules, as base `p`.
    fn index() -> (tempfile::TempDir, Index) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("travel.md", TRAVEL), ("年假.md", LEAVE), ("it.md", IT)] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let base = Base::new("p", vec![dir.path().to_path_buf()], &[], &[], 1 << 20).unwrap();
        let mut index = Index::open_in_memory().unwrap();
        index
            .update(&base, &mut |_| ControlFlow::Continue(()))
            .unwrap();
        (dir, index)
    }

    fn settings(translate: bool, embeddings: Option<&str>) -> Vec<BaseSettings> {
        vec![BaseSettings {
            name: "p".into(),
            languages: Vec::new(),
            translate,
            embeddings: embeddings.map(str::to_string),
        }]
    }

    fn restated(language: &str, text: &str) -> Fetched {
        Fetched {
            restated: vec![Restated {
                language: language.into(),
                text: text.into(),
                cached: false,
            }],
            ..Fetched::default()
        }
    }

    #[test]
    fn a_chinese_question_finds_the_english_passage_through_its_restatement_then_the_cache() {
        let (_dir, mut index) = index();
        let ask = Ask::new("上海出差住宿每晚限额是多少？", settings(true, None), "m");
        let prepared = prepare(&index, &ask).unwrap();
        assert_eq!(prepared.to_restate, ["en"]);
        assert!(prepared.needs_network());
        // As asked alone, the English policy shares no word with it.
        let alone = finish(&mut index, prepared.clone(), Fetched::default()).unwrap();
        assert!(!alone.found(), "{:?}", alone.retrieval);
        let g = finish(
            &mut index,
            prepared,
            restated(
                "en",
                "What is the nightly hotel limit for a trip to Shanghai?",
            ),
        )
        .unwrap();
        assert!(g.found(), "{:?}", g.retrieval);
        assert_eq!(g.hits()[0].path, "travel.md");
        assert_eq!(g.language, "zh");
        assert_eq!(g.not_found_text(), "知识库中没有找到相关规定");
        // Asked again: the restatement comes from the cache, nothing is sent.
        let again = prepare(&index, &ask).unwrap();
        assert!(again.to_restate.is_empty() && !again.needs_network());
        let g = finish(&mut index, again, Fetched::default()).unwrap();
        assert!(g.found());
        assert!(g.restatements[0].cached);
    }

    #[test]
    fn translate_false_searches_as_asked_and_says_so() {
        let (_dir, index) = index();
        let ask = Ask::new("hotel limit in Shanghai", settings(false, None), "m");
        let prepared = prepare(&index, &ask).unwrap();
        assert!(prepared.to_restate.is_empty());
        assert_eq!(prepared.notes.len(), 1);
        assert!(
            prepared.notes[0].contains("`translate = false`"),
            "{:?}",
            prepared.notes
        );
        assert!(
            prepared.notes[0].contains("Chinese"),
            "{:?}",
            prepared.notes
        );
    }

    #[tokio::test]
    async fn without_a_key_nothing_is_sent_and_the_note_says_why() {
        let (_dir, index) = index();
        let ask = Ask::new("hotel limit in Shanghai", settings(true, None), "m");
        let prepared = prepare(&index, &ask).unwrap();
        assert_eq!(prepared.to_restate, ["zh"]);
        let fetched = fetch(Err("no API key"), &prepared).await;
        assert!(fetched.requests.is_empty());
        assert_eq!(
            fetched.notes,
            [
                "could not restate the question in Chinese (简体中文) (no API key): searched with the question as asked"
            ]
        );
    }

    #[test]
    fn an_unindexed_base_is_an_error_that_says_to_index_it() {
        let (_dir, index) = index();
        let mut ask = Ask::new("q", settings(true, None), "m");
        ask.bases[0].name = "other".into();
        let e = prepare(&index, &ask).unwrap_err().to_string();
        assert!(e.contains("clerk kb index other"), "{e}");
    }

    /// A toy embedding: how much a text is about hotels, leave or passwords, in either
    /// language.
    fn toy(text: &str) -> Vec<f32> {
        let t = text.to_lowercase();
        let about = |words: &[&str]| words.iter().filter(|w| t.contains(*w)).count() as f32;
        let mut v = vec![
            about(&["hotel", "酒店", "住宿"]),
            about(&["leave", "年假", "假"]),
            about(&["password", "密码"]),
            0.1,
        ];
        vectors::normalise(&mut v);
        v
    }

    #[test]
    fn vectors_rank_passages_per_language_and_fuse_with_keywords() {
        let (_dir, mut index) = index();
        let model = "toy";
        let mut ask = Ask::new("忘记密码怎么办", settings(false, Some(model)), "m");
        let prepared = prepare(&index, &ask).unwrap();
        assert!(prepared.embed_models.is_empty(), "no vectors yet");
        assert!(
            prepared
                .notes
                .iter()
                .any(|n| n.contains("no vectors of toy yet"))
        );
        loop {
            let batch = index.without_vectors("p", model, 2).unwrap();
            if batch.is_empty() {
                break;
            }
            let rows: Vec<_> = batch.iter().map(|(id, t)| (*id, toy(t))).collect();
            index.put_vectors(model, &rows).unwrap();
        }
        assert_eq!(index.count_without_vectors("p", model).unwrap(), 0);
        assert!(index.has_vectors("p", model).unwrap());
        let hits = index
            .vector_rankings(&["p"], model, &[toy("忘记密码怎么办")], 10)
            .unwrap();
        assert_eq!(hits.rankings.len(), 2, "one ranking per language: {hits:?}");
        assert!(hits.rankings[0].source.ends_with(":en"));
        assert!(hits.rankings[1].source.ends_with(":zh"));
        // A Chinese question about passwords: the English rules lead the English ranking.
        let it = index
            .search(&["p"], &[Query::new("Passwords characters")], &[], 1)
            .unwrap()
            .hits[0]
            .passage_id;
        assert_eq!(hits.rankings[0].passages[0], it);

        ask.k = 3;
        let prepared = prepare(&index, &ask).unwrap();
        assert_eq!(prepared.embed_models, ["toy"]);
        let fetched = Fetched {
            vectors: vec![(model.to_string(), vec![toy("忘记密码怎么办")])],
            ..Fetched::default()
        };
        let g = finish(&mut index, prepared, fetched).unwrap();
        assert!(g.hits().iter().any(|h| h.path == "it.md"), "{:?}", g.hits());
        // Vectors of another size are skipped and said.
        let hits = index
            .vector_rankings(&["p"], model, &[vec![1.0, 0.0]], 10)
            .unwrap();
        assert!(hits.rankings.iter().all(|r| r.passages.is_empty()));
        assert_eq!(hits.mismatched, hits.scanned);
        // Another model's vectors go when a base is embedded with a new one.
        index.drop_other_vectors("p", "new-model").unwrap();
        assert!(!index.has_vectors("p", model).unwrap());
    }

    /// Every passage of `p` without a `toy` vector gets one.
    fn embed_all(index: &mut Index) {
        loop {
            let batch = index.without_vectors("p", "toy", 8).unwrap();
            if batch.is_empty() {
                break;
            }
            let rows: Vec<_> = batch.iter().map(|(id, t)| (*id, toy(t))).collect();
            index.put_vectors("toy", &rows).unwrap();
        }
    }

    /// Rows of packs, checked to be as many as rows of signs (made and dropped together).
    fn packs(index: &Index) -> i64 {
        let count = |table: &str| -> i64 {
            index
                .conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        let packs = count("vector_packs");
        assert_eq!(count("vector_signs"), packs, "signs follow the packs");
        packs
    }

    #[test]
    fn packs_follow_the_vectors_they_are_made_of() {
        let (dir, mut index) = index();
        embed_all(&mut index);
        assert_eq!(packs(&index), 0, "vectors added: no packs until asked");
        index.pack_vectors("p", "toy").unwrap();
        assert!(packs(&index) >= 2, "one pack per language at least");
        let question = [toy("forgot my password")];
        let first = index.vector_rankings(&["p"], "toy", &question, 10).unwrap();
        let with_vectors = index.count_vectors("p", "toy").unwrap() as usize;
        assert_eq!(first.scanned, with_vectors);

        // An edit replaces the file's passages: their vectors go, and so do the packs.
        std::fs::write(
            dir.path().join("it.md"),
            "# Passwords\n\nPasswords must be at least 16 characters long.\n",
        )
        .unwrap();
        let base = Base::new("p", vec![dir.path().to_path_buf()], &[], &[], 1 << 20).unwrap();
        index
            .update(&base, &mut |_| ControlFlow::Continue(()))
            .unwrap();
        assert_eq!(packs(&index), 0, "a vector went with its passage");
        let missing = index.count_without_vectors("p", "toy").unwrap() as usize;
        assert!(missing >= 1);
        // A search before the new passage is embedded makes packs of what is there.
        let hits = index.vector_rankings(&["p"], "toy", &question, 10).unwrap();
        assert_eq!(hits.scanned, with_vectors - missing);
        assert!(packs(&index) >= 1, "made by the search and kept");
        embed_all(&mut index);
        assert_eq!(packs(&index), 0, "a new vector: the packs are stale and go");
        let hits = index.vector_rankings(&["p"], "toy", &question, 10).unwrap();
        assert_eq!(hits.scanned, with_vectors);
        assert_eq!(
            hits.rankings.len(),
            first.rankings.len(),
            "one per language"
        );
        let it = index
            .search(&["p"], &[Query::new("Passwords characters")], &[], 1)
            .unwrap()
            .hits[0]
            .passage_id;
        assert_eq!(
            hits.rankings[0].passages[0], it,
            "the edited passage, found by its vector"
        );
        // A base removed takes its packs with it.
        index.remove("p").unwrap();
        assert_eq!(packs(&index), 0);
    }

    #[test]
    fn an_index_with_float_vectors_from_an_older_version_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("docs");
        std::fs::create_dir(&docs).unwrap();
        for (name, text) in [("travel.md", TRAVEL), ("年假.md", LEAVE), ("it.md", IT)] {
            std::fs::write(docs.join(name), text).unwrap();
        }
        let base = Base::new("p", vec![docs], &[], &[], 1 << 20).unwrap();
        let path = dir.path().join("knowledge.sqlite3");
        let mut index = Index::open(&path).unwrap();
        index
            .update(&base, &mut |_| ControlFlow::Continue(()))
            .unwrap();
        // What an index made before `passage_vectors` holds: whole f32s in `vectors`.
        index
            .conn
            .execute_batch(
                "CREATE TABLE vectors (passage_id INTEGER NOT NULL, model TEXT NOT NULL,
                 dims INTEGER NOT NULL, data BLOB NOT NULL,
                 PRIMARY KEY (passage_id, model)) WITHOUT ROWID",
            )
            .unwrap();
        let passages = index.without_vectors("p", "toy", 100).unwrap();
        assert!(passages.len() >= 3);
        for (id, text) in &passages {
            let blob: Vec<u8> = toy(text).iter().flat_map(|x| x.to_le_bytes()).collect();
            index
                .conn
                .execute(
                    "INSERT INTO vectors VALUES (?1, 'toy', 4, ?2)",
                    rusqlite::params![id, blob],
                )
                .unwrap();
        }
        drop(index);
        let index = Index::open(&path).unwrap();
        let old: i64 = index
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'vectors'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0, "the old table is gone once moved");
        assert_eq!(index.count_without_vectors("p", "toy").unwrap(), 0);
        let hits = index
            .vector_rankings(&["p"], "toy", &[toy("forgot my password")], 10)
            .unwrap();
        assert_eq!(hits.scanned, passages.len());
        let it = index
            .search(&["p"], &[Query::new("Passwords characters")], &[], 1)
            .unwrap()
            .hits[0]
            .passage_id;
        assert_eq!(hits.rankings[0].passages[0], it, "{hits:?}");
    }

    #[test]
    fn a_follow_up_is_searched_with_the_previous_question_too() {
        let (_dir, mut index) = index();
        let mut ask = Ask::new("And for Beijing?", settings(false, None), "m");
        let p = prepare(&index, &ask).unwrap();
        let g = finish(&mut index, p, Fetched::default()).unwrap();
        assert!(!g.found());
        ask.context = Some("What is the nightly hotel limit in Shanghai?".into());
        let p = prepare(&index, &ask).unwrap();
        let g = finish(&mut index, p, Fetched::default()).unwrap();
        assert_eq!(g.hits()[0].path, "travel.md");
    }

    #[test]
    fn the_grounded_messages_and_citations_use_the_passages_found() {
        let (_dir, mut index) = index();
        let ask = Ask::new(
            "What is the hotel limit in Shanghai?",
            settings(false, None),
            "m",
        );
        let p = prepare(&index, &ask).unwrap();
        let g = finish(&mut index, p, Fetched::default()).unwrap();
        assert!(g.found());
        let user = g.user_message();
        assert!(user.contains("<passage n=\"1\" file=\"travel.md\" section=\"Travel › Hotels\">"));
        assert!(user.ends_with("Question: What is the hotel limit in Shanghai?"));
        assert!(
            g.system_prompt(None)
                .contains("not found in the procedures")
        );
        let c = g.citations("CNY 900 [1]. [99]");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, "travel.md");
        assert!(g.citations("No idea.").is_empty());
    }
}
