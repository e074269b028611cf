//! [`Index::search`]: the passages that answer a question, from one or more bases, with
//! several wordings of the question fused by rank, and whether they answer it at all.
//!
//! Never passes user text raw into `MATCH`: every term is quoted.

use std::collections::HashMap;
use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};

use super::analyze::{QuestionTerms, question_terms};
use super::found::{answers, coverage, idf};
use super::schema::TOKENIZER;
use super::update::base_token;
use super::{Index, KnowledgeError, PassageId};

/// The `k` of reciprocal rank fusion: a passage at rank `r` (from 1) of a list adds
/// `1 / (RRF_K + r)` to its score.
pub const RRF_K: f64 = 60.0;

/// At most this many passages of one file among a search's results while passages of
/// other files are left (the rest come after them). A question whose words crowd one
/// document — its title and headings repeat them in every passage — still shows the next
/// document that may answer it, as web search keeps one site from filling a page (its
/// "host crowding"); two, not one, because an answer often needs two sections of one file.
pub const PER_FILE: usize = 2;

/// BM25 weights of the index's columns: `base` (not searched), the file's path, the
/// heading path, the body. A word in a heading or a file name says more about a passage
/// than one in its text.
const WEIGHTS: &str = "0.0, 3.0, 2.0, 1.0";

/// One wording of the question: the question as asked, or a restatement of it (in
/// another language, later work).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The text searched for.
    pub text: String,
    /// Whether it counts in the found / not-found decision: the question and its
    /// restatements do; the question joined to the conversation's earlier one (a
    /// follow-up's context) only helps rank, or any follow-up in a conversation that found
    /// something would be found.
    pub decides: bool,
}

impl Query {
    /// A query for `text` that counts in the decision.
    pub fn new(text: impl Into<String>) -> Query {
        Query {
            text: text.into(),
            decides: true,
        }
    }

    /// A query for `text` that only helps rank.
    pub fn context(text: impl Into<String>) -> Query {
        Query {
            text: text.into(),
            decides: false,
        }
    }
}

/// A ranking of passages made elsewhere (vector search), best first, to fuse with the
/// keyword rankings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranking {
    /// Where it came from (`"vectors:text-embedding-3-small"`), for the record.
    pub source: String,
    /// Passages, best first.
    pub passages: Vec<PassageId>,
}

/// A passage found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    /// The passage.
    pub passage_id: PassageId,
    /// The base it is in.
    pub base: String,
    /// Its file, relative to the folder the file was found in (`finance/travel.md`).
    pub path: String,
    /// Its file's full path, to open it.
    pub abs_path: PathBuf,
    /// The heading path (`Travel › Hotels › Limits by city`; empty before any heading).
    pub section: String,
    /// The PDF page.
    pub page: Option<u32>,
    /// The passage's language (`en`, `zh`), as found when indexing.
    pub language: Option<String>,
    /// The text.
    pub text: String,
    /// The fused score (higher is better): the sum of `1 / (60 + rank)` over the rankings.
    pub score: f64,
    /// The best share of a query's weight this passage holds ([`super::found`]).
    pub coverage: f64,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Retrieval {
    /// The best passages, best first.
    pub hits: Vec<Hit>,
    /// Whether they answer the question ([`super::found`]); false when nothing matched.
    pub found: bool,
    /// The best coverage among the hits.
    pub coverage: f64,
    /// The first query's terms, as searched (English before stemming).
    pub terms: Vec<String>,
    /// The first query's Chinese that the index holds nowhere.
    pub unknown: Vec<String>,
}

/// A query cut into terms, with each term's weight.
struct Prepared {
    /// FTS5 phrases (quoted), with their weights and how many passages hold them.
    phrases: Vec<(String, f64, u64)>,
    /// Weights of what cannot match (unknown Chinese, English words found nowhere).
    absent: Vec<f64>,
    terms: QuestionTerms,
}

/// Passages that one ranking may have to score with BM25, about: FTS5 scores every passage
/// that holds any of the ORed terms, which for the commonest words of a large base is most
/// of it (~100 ms for 100,000 passages on a 2-core laptop).
pub(super) const MATCH_BUDGET: u64 = 30_000;

/// The phrases a ranking searches: the rarest first, while the passages holding them stay
/// within [`MATCH_BUDGET`], and always the two rarest. A word in most passages adds little
/// to BM25 (its IDF is near 0) but much to the time; it still counts for
/// [`super::found`].
pub(super) fn searched(phrases: &[(String, f64, u64)]) -> Vec<&str> {
    let mut by_rarity: Vec<&(String, f64, u64)> = phrases.iter().collect();
    by_rarity.sort_by_key(|p| p.2);
    let mut total = 0u64;
    let mut out = Vec::new();
    for (phrase, _, df) in by_rarity {
        if out.len() >= 2 && total + df > MATCH_BUDGET {
            break;
        }
        total += df;
        out.push(phrase.as_str());
    }
    out
}

/// A term quoted as an FTS5 string (never an operator).
fn quoted(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

impl Index {
    /// Search `bases` (all bases when empty) with every query, fuse their rankings and
    /// `extra` ones by reciprocal rank, and return the best `k` passages and whether they
    /// answer the question. A base that was never indexed is an error.
    pub fn search(
        &self,
        bases: &[&str],
        queries: &[Query],
        extra: &[Ranking],
        k: usize,
    ) -> Result<Retrieval, KnowledgeError> {
        self.search_inner(bases, queries, extra, k)
            .map_err(|e| self.named(e))
    }

    fn search_inner(
        &self,
        bases: &[&str],
        queries: &[Query],
        extra: &[Ranking],
        k: usize,
    ) -> Result<Retrieval, KnowledgeError> {
        let mut ids = Vec::new();
        for name in bases {
            ids.push(
                self.base_id(name)?
                    .ok_or_else(|| KnowledgeError::NotIndexed((*name).to_string()))?,
            );
        }
        let all: i64 = self
            .conn
            .query_row("SELECT count(*) FROM bases", [], |r| r.get(0))?;
        // Every base: no filter. Some: the `base` column must name one of them.
        let filter = (!ids.is_empty() && (ids.len() as i64) < all).then(|| {
            let names: Vec<String> = ids.iter().map(|&i| base_token(i)).collect();
            format!("base : ({}) AND ", names.join(" OR "))
        });
        let n: u64 = self
            .conn
            .query_row("SELECT coalesce(sum(passages), 0) FROM files", [], |r| {
                r.get::<_, i64>(0)
            })?
            .max(0) as u64;
        let prepared: Vec<Prepared> = queries
            .iter()
            .map(|q| self.prepare_query(&q.text, n))
            .collect::<Result<_, _>>()?;
        let pool = (k * 4).max(40);
        let mut rankings: Vec<Vec<PassageId>> = Vec::new();
        let filter = filter.as_deref().unwrap_or_default();
        for p in &prepared {
            let terms = searched(&p.phrases);
            if terms.is_empty() {
                continue;
            }
            // Passages holding every term first: FTS5 walks the rarest term's list and
            // seeks in the others, so this is fast however common the words are. Only when
            // that finds fewer than `k` are the terms ORed, which scores every passage
            // holding any of them.
            let mut list = Vec::new();
            if terms.len() > 1 {
                list = self.ranked(&format!("{filter}({})", terms.join(" AND ")), pool)?;
            }
            if list.len() < k {
                for id in self.ranked(&format!("{filter}({})", terms.join(" OR ")), pool)? {
                    if !list.contains(&id) {
                        list.push(id);
                    }
                }
                list.truncate(pool);
            }
            rankings.push(list);
        }
        rankings.extend(extra.iter().map(|r| r.passages.clone()));
        let mut fused: HashMap<PassageId, f64> = HashMap::new();
        for list in &rankings {
            for (rank, id) in list.iter().enumerate() {
                *fused.entry(*id).or_default() += 1.0 / (RRF_K + rank as f64 + 1.0);
            }
        }
        let mut order: Vec<(PassageId, f64)> = fused.into_iter().collect();
        order.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        // Best first, at most PER_FILE passages of one file while other files' passages
        // are left; the crowded-out ones fill the rest, still best first.
        let mut hits = Vec::new();
        let mut crowded = Vec::new();
        let mut per_file: HashMap<PathBuf, usize> = HashMap::new();
        for (id, score) in order {
            if hits.len() >= k {
                break;
            }
            if let Some(hit) = self.hit(id, score, &ids)? {
                let seen = per_file.entry(hit.abs_path.clone()).or_default();
                *seen += 1;
                match *seen > PER_FILE {
                    true => crowded.push(hit),
                    false => hits.push(hit),
                }
            }
        }
        let room = k.saturating_sub(hits.len());
        hits.extend(crowded.into_iter().take(room));
        let mut best = 0.0f64;
        for hit in &mut hits {
            for (p, _) in prepared.iter().zip(queries).filter(|(_, q)| q.decides) {
                let c = self.coverage_of(hit.passage_id, p)?;
                hit.coverage = hit.coverage.max(c);
            }
            best = best.max(hit.coverage);
        }
        let first = prepared
            .into_iter()
            .next()
            .map(|p| p.terms)
            .unwrap_or_default();
        let mut terms = first.words;
        terms.extend(first.han.into_iter().map(|(t, _)| t));
        Ok(Retrieval {
            found: !hits.is_empty() && answers(best),
            hits,
            coverage: best,
            terms,
            unknown: first.unknown,
        })
    }

    /// The passages matching the FTS5 expression `expr`, best first by BM25, at most `limit`.
    fn ranked(&self, expr: &str, limit: usize) -> Result<Vec<PassageId>, KnowledgeError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?1
             ORDER BY bm25(passages_fts, {WEIGHTS}) LIMIT ?2"
        ))?;
        let list = stmt
            .query_map(params![expr, limit as i64], |r| r.get(0))?
            .collect::<Result<Vec<PassageId>, _>>()?;
        Ok(list)
    }

    /// A query's terms and their weights against an index of `n` passages.
    fn prepare_query(&self, text: &str, n: u64) -> Result<Prepared, KnowledgeError> {
        let mut vocab = self
            .conn
            .prepare_cached("SELECT doc FROM passages_vocab WHERE term = ?1")?;
        let failed = std::cell::RefCell::new(None);
        let mut passages_with = |term: &str| -> u64 {
            match vocab.query_row([term], |r| r.get::<_, i64>(0)).optional() {
                Ok(v) => v.unwrap_or(0).max(0) as u64,
                Err(e) => {
                    failed.borrow_mut().get_or_insert(e);
                    0
                }
            }
        };
        let terms = question_terms(text, &mut passages_with);
        let stems = self.stems(&terms.words)?;
        let mut phrases = Vec::new();
        // A single unknown character says less than an unknown word (it may be a word of
        // the question that the stop list does not know): it weighs a third.
        let mut absent: Vec<f64> = terms
            .unknown
            .iter()
            .map(|u| {
                if u.chars().count() > 1 {
                    idf(n, 0)
                } else {
                    idf(n, 0) / 3.0
                }
            })
            .collect();
        for (word, stem) in terms.words.iter().zip(&stems) {
            let df = match stem {
                Some(s) => passages_with(s),
                None => 0,
            };
            if df == 0 {
                absent.push(idf(n, 0));
            } else {
                phrases.push((quoted(word), idf(n, df), df));
            }
        }
        if let Some(e) = failed.into_inner() {
            return Err(e.into());
        }
        for (t, df) in &terms.han {
            phrases.push((quoted(t), idf(n, *df), *df));
        }
        Ok(Prepared {
            phrases,
            absent,
            terms,
        })
    }

    /// Each word as FTS5's tokenizer indexes it (lowercased, stemmed), through a scratch
    /// FTS5 table in memory with the same tokenizer; `None` for a word with no token.
    fn stems(&self, words: &[String]) -> Result<Vec<Option<String>>, KnowledgeError> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        self.conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.question USING fts5(w, tokenize = '{TOKENIZER}');
             CREATE VIRTUAL TABLE IF NOT EXISTS temp.question_vocab USING fts5vocab(temp, question, instance);
             DELETE FROM temp.question;"
        ))?;
        let mut insert = self
            .conn
            .prepare_cached("INSERT INTO temp.question (rowid, w) VALUES (?1, ?2)")?;
        for (i, w) in words.iter().enumerate() {
            insert.execute(params![i as i64, w])?;
        }
        let mut out = vec![None; words.len()];
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc, term FROM temp.question_vocab ORDER BY doc, offset")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (doc, term) = row?;
            if let Some(slot) = usize::try_from(doc).ok().and_then(|d| out.get_mut(d))
                && slot.is_none()
            {
                *slot = Some(term);
            }
        }
        Ok(out)
    }

    /// The share of `p`'s weight that passage `id` holds.
    fn coverage_of(&self, id: PassageId, p: &Prepared) -> Result<f64, KnowledgeError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM passages_fts WHERE passages_fts MATCH ?1 AND rowid = ?2",
        )?;
        let mut weights = Vec::new();
        let mut present = Vec::new();
        for (phrase, w, _) in &p.phrases {
            let expr = format!("{{title section body}} : {phrase}");
            weights.push(*w);
            present.push(stmt.exists(params![expr, id])?);
        }
        for w in &p.absent {
            weights.push(*w);
            present.push(false);
        }
        Ok(coverage(&weights, &present))
    }

    /// Passage `id` as a hit, if it is in one of `bases` (any base when empty).
    fn hit(&self, id: PassageId, score: f64, bases: &[i64]) -> Result<Option<Hit>, KnowledgeError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.id, b.name, f.root, f.path, p.section, p.page, p.language, p.text
             FROM passages p JOIN files f ON f.id = p.file_id JOIN bases b ON b.id = f.base_id
             WHERE p.id = ?1",
        )?;
        let row = stmt
            .query_row([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Hit {
                        passage_id: id,
                        base: r.get(1)?,
                        abs_path: PathBuf::from(r.get::<_, String>(2)?),
                        path: r.get(3)?,
                        section: r.get(4)?,
                        page: r.get(5)?,
                        language: r.get(6)?,
                        text: r.get(7)?,
                        score,
                        coverage: 0.0,
                    },
                ))
            })
            .optional()?;
        Ok(row.and_then(|(base, mut hit)| {
            if !bases.is_empty() && !bases.contains(&base) {
                return None;
            }
            hit.abs_path = hit.abs_path.join(&hit.path);
            Some(hit)
        }))
    }
}
