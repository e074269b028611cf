//! Vector search beside keyword search, when a base turns it on (`embeddings = "MODEL"`):
//! passages embedded through the profile's `/v1/embeddings` while indexing, only those
//! that have no vector yet (a changed file's passages are new rows), in batches; at search
//! time the question's vectors are compared with every passage's in one pass over the
//! `vectors` table and ranked per passage language, each language one [`Ranking`] to fuse.
//!
//! Why per language: a multilingual model puts a question nearer to passages in its own
//! language than to the passage in the other language that answers it, so a single list
//! rarely brings the answer of a cross-language question into the top few; ranked among the
//! other language's passages only, it often is first (measured in docs/knowledge.md).
//!
//! Vectors are normalised, so a cosine is a dot product, and stored as 8-bit integers with
//! one scale each (`passage_vectors`: a quarter of the `f32`s' size, so a search reads a
//! quarter of the pages; the ranking moves by less than the models' own noise, measured in
//! docs/knowledge.md). Vectors are never needed: a gateway without an embeddings endpoint leaves
//! keyword search as it is. Nothing here prints.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use reqwest::Method;
use rusqlite::params;

use super::{Index, KnowledgeError, PassageId, Ranking};
use crate::llm::client::read_limited;
use crate::llm::{Endpoint, LlmError, RetryNotice};

/// Passages per embeddings request while indexing.
pub const BATCH: usize = 32;

/// Characters of a passage sent to be embedded, at most.
const MAX_CHARS: usize = 4_000;

/// The largest embeddings response read.
const MAX_RESPONSE: usize = 256 * 1024 * 1024;

/// Vectors from one embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// One per input, in order, normalised.
    pub vectors: Vec<Vec<f32>>,
    /// The prompt tokens the server counted, when it said.
    pub tokens: Option<u64>,
}

/// Whether `e` means the endpoint has no embeddings (HTTP 404): not an error for search.
pub fn is_missing_endpoint(e: &LlmError) -> bool {
    matches!(e, LlmError::NotFound { .. } | LlmError::UnknownModel { .. })
}

/// Embed `inputs` with `model` (one request, with clerk's retries).
pub async fn embed(
    endpoint: &Endpoint,
    model: &str,
    inputs: &[String],
    on_wait: &mut (dyn FnMut(RetryNotice) + Send),
) -> Result<Embedded, LlmError> {
    let body = serde_json::json!({"model": model, "input": inputs});
    // Counted like a chat request: checked against the budgets, recorded with its tokens.
    let tag = crate::llm::meter::Tag {
        kind: "embed",
        ..endpoint.tag().clone()
    };
    let estimate: u64 = inputs
        .iter()
        .map(|t| crate::llm::estimate::rough_tokens(t))
        .sum();
    endpoint.allow_embeddings_model(model)?;
    if let Some(m) = endpoint.meter() {
        m.allow(&tag, model, estimate, 0)
            .map_err(LlmError::Refused)?;
    }
    let body = Bytes::from(body.to_string());
    let resp = endpoint
        .send(Method::POST, "/embeddings", Some(body), on_wait)
        .await
        .map_err(|e| match e {
            LlmError::UnknownModel {
                message, available, ..
            } => LlmError::UnknownModel {
                model: model.to_string(),
                message,
                available,
            },
            other => other,
        })?;
    let text = read_limited(resp, MAX_RESPONSE).await;
    let embedded = parse(&text, inputs.len());
    if let Some(m) = endpoint.meter() {
        let tokens = embedded.as_ref().ok().and_then(|e| e.tokens);
        m.record(crate::llm::meter::Metered {
            tag,
            model: model.to_string(),
            usage: crate::llm::TokenUsage {
                input: tokens.unwrap_or(estimate),
                cached: 0,
                output: 0,
            },
            estimated: tokens.is_none(),
            status: if embedded.is_ok() {
                "complete"
            } else {
                "error"
            },
        });
    }
    embedded.map_err(|why| {
        LlmError::Other(
            tr!(
                "knowledge.vectors.unreadable",
                url = endpoint.url("/embeddings"),
                why = why
            )
            .into_owned(),
        )
    })
}

/// An embeddings response (`{"data": [{"index": 0, "embedding": [...]}], "usage": …}`,
/// the embedding as numbers or base64 of little-endian `f32`) as `expected` normalised
/// vectors of one size.
pub fn parse(body: &str, expected: usize) -> Result<Embedded, String> {
    let v: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| tr!("knowledge.vectors.not_json", why = e).into_owned())?;
    let data = v
        .get("data")
        .and_then(|d| d.as_array())
        .ok_or_else(|| tr!("knowledge.vectors.no_data").into_owned())?;
    let mut items: Vec<(usize, Vec<f32>)> = Vec::with_capacity(data.len());
    for (i, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(|x| x.as_u64())
            .map_or(i, |x| x as usize);
        let vector = match item.get("embedding") {
            Some(serde_json::Value::Array(xs)) => xs
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| tr!("knowledge.vectors.not_numbers").into_owned())?,
            Some(serde_json::Value::String(b64)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| tr!("knowledge.vectors.not_base64").into_owned())?;
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            }
            _ => return Err(tr!("knowledge.vectors.no_embedding").into_owned()),
        };
        items.push((index, vector));
    }
    items.sort_unstable_by_key(|(i, _)| *i);
    if items.len() != expected || items.iter().enumerate().any(|(i, (x, _))| i != *x) {
        return Err(tr!(
            "knowledge.vectors.count",
            got = items.len(),
            expected = expected
        )
        .into_owned());
    }
    let dims = items.first().map_or(0, |(_, v)| v.len());
    if dims == 0 || items.iter().any(|(_, v)| v.len() != dims) {
        return Err(tr!("knowledge.vectors.sizes").into_owned());
    }
    let mut vectors = Vec::with_capacity(items.len());
    for (_, mut v) in items {
        if !normalise(&mut v) {
            return Err(tr!("knowledge.vectors.zero").into_owned());
        }
        vectors.push(v);
    }
    let tokens = v
        .get("usage")
        .and_then(|u| u.get("prompt_tokens").or_else(|| u.get("total_tokens")))
        .and_then(|t| t.as_u64());
    Ok(Embedded { vectors, tokens })
}

/// Scale `v` to length 1; false when it cannot be (zero, or not finite).
pub fn normalise(v: &mut [f32]) -> bool {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return false;
    }
    for x in v.iter_mut() {
        *x = (f64::from(*x) / norm) as f32;
    }
    true
}

/// A vector as stored: its largest component's size over 127 (the scale), and each
/// component over the scale, rounded, as an `i8`'s byte.
fn quantise(v: &[f32]) -> (f32, Vec<u8>) {
    let largest = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if largest == 0.0 || !largest.is_finite() {
        return (0.0, vec![0; v.len()]);
    }
    let scale = largest / 127.0;
    let data = v
        .iter()
        // In -127..=127 by the choice of scale: the cast cannot wrap.
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8 as u8)
        .collect();
    (scale, data)
}

/// The dot product of two quantised vectors (before their scales), of the same size. In
/// integers, whose sums the compiler may reorder: it multiplies and adds many at a time
/// (a sum of floats must be added in order, one component after the other).
fn dot(data: &[u8], q: &[u8]) -> i32 {
    data.iter()
        .zip(q)
        .map(|(&d, &y)| i32::from(d as i8) * i32::from(y as i8))
        .sum()
}

/// Move the vectors of an index made before `passage_vectors` (full `f32`s in `vectors`)
/// into it, then drop the old table: once, at the first opening by this version, in one
/// transaction (an interrupted move leaves the old table for the next opening).
pub(super) fn convert_float_vectors(conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    let old: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vectors')",
        [],
        |r| r.get(0),
    )?;
    if !old {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut read = tx.prepare(
            "SELECT v.passage_id, f.base_id, v.model, p.language, v.data
             FROM vectors v JOIN passages p ON p.id = v.passage_id
             JOIN files f ON f.id = p.file_id",
        )?;
        let mut write = tx.prepare(
            "INSERT OR IGNORE INTO passage_vectors
                 (passage_id, base_id, model, language, scale, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let blob: Vec<u8> = row.get(4)?;
            let floats: Vec<f32> = blob
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let (scale, data) = quantise(&floats);
            write.execute(params![
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                f64::from(scale),
                data
            ])?;
        }
    }
    tx.execute_batch("DROP TABLE vectors")?;
    tx.commit()
}

/// The text of a passage that is embedded: its file and heading path, then its text.
pub fn passage_text(path: &str, section: &str, text: &str) -> String {
    let mut out = format!("{path}\n{section}\n\n{}", text.trim());
    if let Some((cut, _)) = out.char_indices().nth(MAX_CHARS) {
        out.truncate(cut);
    }
    out
}

/// What a vector search found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VectorHits {
    /// One ranking per passage language (and one for passages of no language).
    pub rankings: Vec<Ranking>,
    /// Vectors compared.
    pub scanned: usize,
    /// Vectors of another size than the question's (made by another model): skipped.
    pub mismatched: usize,
}

/// What embedding a base's passages did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EmbedReport {
    /// The base.
    pub base: String,
    /// The model.
    pub model: String,
    /// Passages embedded now.
    pub embedded: u64,
    /// Passages of the base with a vector of this model now.
    pub with_vectors: u64,
    /// Passages of the base still without one.
    pub without: u64,
    /// Requests made.
    pub requests: u64,
    /// Prompt tokens the server counted over those requests (when it said).
    pub tokens: Option<u64>,
    /// How long it took.
    #[serde(skip)]
    pub elapsed: Duration,
}

/// Why embedding stopped; what was embedded before stays.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The index failed.
    #[error(transparent)]
    Index(#[from] KnowledgeError),
    /// The endpoint failed (see [`is_missing_endpoint`] for a 404).
    #[error("{error}")]
    Endpoint {
        /// What failed.
        error: LlmError,
        /// What was done before.
        report: EmbedReport,
    },
}

/// Embed every passage of `base` that has no vector of `model`, [`BATCH`] at a time, each
/// batch committed as it arrives (an interrupted run keeps them). Vectors of other models
/// for the base are dropped first. `progress` hears (done, to do) after each batch.
///
/// The future holds `index` across its awaits: run it with `block_on` (the CLI) or on a
/// thread of its own, not in a task that must be `Send`.
pub async fn embed_missing(
    index: &mut Index,
    endpoint: &Endpoint,
    base: &str,
    model: &str,
    progress: &mut dyn FnMut(u64, u64),
    on_wait: &mut (dyn FnMut(RetryNotice) + Send),
) -> Result<EmbedReport, EmbedError> {
    let start = Instant::now();
    index.drop_other_vectors(base, model)?;
    let todo = index.count_without_vectors(base, model)?;
    let mut report = EmbedReport {
        base: base.to_string(),
        model: model.to_string(),
        ..EmbedReport::default()
    };
    loop {
        let batch = index.without_vectors(base, model, BATCH)?;
        if batch.is_empty() {
            break;
        }
        let inputs: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
        let embedded = match embed(endpoint, model, &inputs, on_wait).await {
            Ok(e) => e,
            Err(error) => {
                report.without = index.count_without_vectors(base, model)?;
                report.with_vectors = index.count_vectors(base, model)?;
                report.elapsed = start.elapsed();
                return Err(EmbedError::Endpoint { error, report });
            }
        };
        report.requests += 1;
        if let Some(t) = embedded.tokens {
            *report.tokens.get_or_insert(0) += t;
        }
        let rows: Vec<(PassageId, Vec<f32>)> = batch
            .iter()
            .map(|(id, _)| *id)
            .zip(embedded.vectors)
            .collect();
        index.put_vectors(model, &rows)?;
        report.embedded += rows.len() as u64;
        progress(report.embedded, todo);
    }
    report.with_vectors = index.count_vectors(base, model)?;
    index.pack_vectors(base, model)?;
    report.elapsed = start.elapsed();
    Ok(report)
}

impl Index {
    fn base_id_or_err(&self, base: &str) -> Result<i64, KnowledgeError> {
        self.base_id(base)?
            .ok_or_else(|| KnowledgeError::NotIndexed(base.to_string()))
    }

    /// Up to `limit` passages of `base` without a vector of `model`, with the text to embed.
    pub fn without_vectors(
        &self,
        base: &str,
        model: &str,
        limit: usize,
    ) -> Result<Vec<(PassageId, String)>, KnowledgeError> {
        let run = || -> Result<Vec<(PassageId, String)>, KnowledgeError> {
            let id = self.base_id_or_err(base)?;
            let mut stmt = self.conn.prepare_cached(
                "SELECT p.id, f.path, p.section, p.text
                 FROM passages p JOIN files f ON f.id = p.file_id
                 WHERE f.base_id = ?1 AND NOT EXISTS (
                     SELECT 1 FROM passage_vectors v WHERE v.passage_id = p.id AND v.model = ?2)
                 ORDER BY p.id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![id, model, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    passage_text(
                        &r.get::<_, String>(1)?,
                        &r.get::<_, String>(2)?,
                        &r.get::<_, String>(3)?,
                    ),
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        run().map_err(|e| self.named(e))
    }

    fn count_where(&self, base: &str, model: &str, has: bool) -> Result<u64, KnowledgeError> {
        let run = || -> Result<u64, KnowledgeError> {
            let id = self.base_id_or_err(base)?;
            let not = if has { "" } else { "NOT" };
            let n: i64 = self.conn.query_row(
                &format!(
                    "SELECT count(*) FROM passages p JOIN files f ON f.id = p.file_id
                     WHERE f.base_id = ?1 AND {not} EXISTS (
                         SELECT 1 FROM passage_vectors v WHERE v.passage_id = p.id AND v.model = ?2)"
                ),
                params![id, model],
                |r| r.get(0),
            )?;
            Ok(n.max(0) as u64)
        };
        run().map_err(|e| self.named(e))
    }

    /// Whether any passage of `base` has a vector of `model`.
    pub fn has_vectors(&self, base: &str, model: &str) -> Result<bool, KnowledgeError> {
        let run = || -> Result<bool, KnowledgeError> {
            let id = self.base_id_or_err(base)?;
            Ok(self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM passage_vectors WHERE base_id = ?1 AND model = ?2)",
                params![id, model],
                |r| r.get(0),
            )?)
        };
        run().map_err(|e| self.named(e))
    }

    /// Passages of `base` without a vector of `model`.
    pub fn count_without_vectors(&self, base: &str, model: &str) -> Result<u64, KnowledgeError> {
        self.count_where(base, model, false)
    }

    /// Passages of `base` with a vector of `model`.
    pub fn count_vectors(&self, base: &str, model: &str) -> Result<u64, KnowledgeError> {
        self.count_where(base, model, true)
    }

    /// Keep the vectors of `rows` (normalised) for `model`, in one transaction.
    pub fn put_vectors(
        &mut self,
        model: &str,
        rows: &[(PassageId, Vec<f32>)],
    ) -> Result<(), KnowledgeError> {
        let run = |index: &mut Index| -> Result<(), KnowledgeError> {
            let tx = index.conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR REPLACE INTO passage_vectors
                         (passage_id, base_id, model, language, scale, data)
                     SELECT p.id, f.base_id, ?2, p.language, ?3, ?4
                     FROM passages p JOIN files f ON f.id = p.file_id WHERE p.id = ?1",
                )?;
                for (id, v) in rows {
                    let (scale, data) = quantise(v);
                    stmt.execute(params![id, model, f64::from(scale), data])?;
                }
            }
            tx.commit()?;
            Ok(())
        };
        run(self).map_err(|e| self.named(e))
    }

    /// Drop the vectors of `base`'s passages made by another model than `model`.
    pub fn drop_other_vectors(&mut self, base: &str, model: &str) -> Result<(), KnowledgeError> {
        let run = |index: &mut Index| -> Result<(), KnowledgeError> {
            let id = index.base_id_or_err(base)?;
            index.conn.execute(
                "DELETE FROM passage_vectors WHERE base_id = ?1 AND model <> ?2",
                params![id, model],
            )?;
            Ok(())
        };
        run(self).map_err(|e| self.named(e))
    }

    /// Rank the passages of `bases` that have a vector of `model` by their best cosine with
    /// any of `queries`, one ranking of at most `per_list` passages per passage language.
    /// One pass over the vectors.
    pub fn vector_rankings(
        &self,
        bases: &[&str],
        model: &str,
        queries: &[Vec<f32>],
        per_list: usize,
    ) -> Result<VectorHits, KnowledgeError> {
        self.scan_vectors(bases, model, queries, per_list)
            .map_err(|e| self.named(e))
    }

    fn scan_vectors(
        &self,
        bases: &[&str],
        model: &str,
        queries: &[Vec<f32>],
        limit: usize,
    ) -> Result<VectorHits, KnowledgeError> {
        let per_list = limit;
        let mut out = VectorHits::default();
        let Some(dims) = queries.first().map(Vec::len) else {
            return Ok(out);
        };
        let mut ids = Vec::new();
        for b in bases {
            ids.push(self.base_id_or_err(b)?);
        }
        if ids.is_empty() || queries.iter().any(|q| q.len() != dims) {
            return Ok(out);
        }
        // The questions quantised as the vectors are: a cosine is then both scales times
        // an integer dot product.
        let queries: Vec<(f32, Vec<u8>)> = queries.iter().map(|q| quantise(q)).collect();
        let mut languages: Vec<Option<String>> = Vec::new();
        let mut lists: Vec<Vec<(f32, PassageId)>> = Vec::new();
        let mut consider = |pack: PackRef<'_>| {
            let slot = match languages.iter().position(|l| l.as_deref() == pack.language) {
                Some(i) => i,
                None => {
                    languages.push(pack.language.map(str::to_string));
                    lists.push(Vec::new());
                    languages.len() - 1
                }
            };
            let n = pack.scales.len() / 4;
            out.scanned += n;
            if pack.dims != dims || pack.data.len() != n * dims || pack.ids.len() != n * 8 {
                out.mismatched += n;
                return;
            }
            let list = &mut lists[slot];
            for ((data, scale), id) in pack
                .data
                .chunks_exact(dims)
                .zip(pack.scales.chunks_exact(4))
                .zip(pack.ids.chunks_exact(8))
            {
                let best = queries
                    .iter()
                    .map(|(q_scale, q)| q_scale * dot(data, q) as f32)
                    .fold(f32::MIN, f32::max);
                let scale = f32::from_le_bytes([scale[0], scale[1], scale[2], scale[3]]);
                let mut id8 = [0u8; 8];
                id8.copy_from_slice(id);
                list.push((best * scale, i64::from_le_bytes(id8)));
            }
        };
        // A base whose packs are missing (vectors came or went since) has them made now,
        // and kept when the index can be written; otherwise they serve this search only.
        let mut packed = Vec::new();
        for id in &ids {
            if self.has_packs(*id, model)? {
                packed.push(*id);
            }
        }
        for id in ids.iter().filter(|id| !packed.contains(id)) {
            let packs = self.make_packs(*id, model)?;
            // A base without vectors of this model has nothing to keep (and no write).
            if packs.is_empty() {
                continue;
            }
            if let Err(e) = self.keep_packs(*id, model, &packs) {
                tracing::info!("vector packs not kept (used for this search only): {e}");
            }
            for p in &packs {
                consider(p.as_ref());
            }
        }
        if !packed.is_empty() {
            let list: Vec<String> = packed.iter().map(i64::to_string).collect();
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT language, dims, ids, scales, data FROM vector_packs
                 WHERE model = ?1 AND base_id IN ({})",
                list.join(", ")
            ))?;
            let mut rows = stmt.query([model])?;
            while let Some(row) = rows.next()? {
                let blob = |i: usize| {
                    row.get_ref(i)?.as_blob().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            i,
                            rusqlite::types::Type::Blob,
                            e.into(),
                        )
                    })
                };
                let language = row.get_ref(0)?.as_str_or_null().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?;
                consider(PackRef {
                    language,
                    dims: usize::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                    ids: blob(2)?,
                    scales: blob(3)?,
                    data: blob(4)?,
                });
            }
        }
        let mut by_language: HashMap<Option<String>, Vec<(f32, PassageId)>> =
            languages.into_iter().zip(lists).collect();
        let mut languages: Vec<Option<String>> = by_language.keys().cloned().collect();
        languages.sort_unstable();
        for language in languages {
            let Some(mut list) = by_language.remove(&language) else {
                continue;
            };
            if list.len() > per_list && per_list > 0 {
                list.select_nth_unstable_by(per_list - 1, |a, b| b.0.total_cmp(&a.0));
                list.truncate(per_list);
            }
            list.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            out.rankings.push(Ranking {
                source: format!("vectors:{model}:{}", language.as_deref().unwrap_or("none")),
                passages: list.into_iter().map(|(_, id)| id).collect(),
            });
        }
        Ok(out)
    }

    fn has_packs(&self, base_id: i64, model: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM vector_packs WHERE base_id = ?1 AND model = ?2)",
            )?
            .query_row(params![base_id, model], |r| r.get(0))
    }

    /// `base_id`'s vectors of `model` in packs of at most [`PACK`], one language and one
    /// size to a pack.
    fn make_packs(&self, base_id: i64, model: &str) -> rusqlite::Result<Vec<Pack>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT passage_id, language, scale, data FROM passage_vectors
             WHERE base_id = ?1 AND model = ?2 ORDER BY language, length(data), passage_id",
        )?;
        let mut rows = stmt.query(params![base_id, model])?;
        let mut packs: Vec<Pack> = Vec::new();
        while let Some(row) = rows.next()? {
            let language: Option<String> = row.get(1)?;
            let scale: f64 = row.get(2)?;
            let data = row.get_ref(3)?.as_blob().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Blob, e.into())
            })?;
            let same = packs.last().is_some_and(|p| {
                p.language == language && p.dims == data.len() && p.ids.len() < PACK * 8
            });
            if !same {
                packs.push(Pack {
                    language,
                    dims: data.len(),
                    ..Pack::default()
                });
            }
            if let Some(p) = packs.last_mut() {
                p.ids
                    .extend_from_slice(&row.get::<_, i64>(0)?.to_le_bytes());
                p.scales.extend_from_slice(&(scale as f32).to_le_bytes());
                p.data.extend_from_slice(data);
            }
        }
        Ok(packs)
    }

    /// Keep `packs` as `base_id`'s packs of `model`. A deferred transaction: when another
    /// program wrote since they were read, SQLite refuses the write (busy snapshot) and
    /// nothing stale is kept.
    fn keep_packs(&self, base_id: i64, model: &str, packs: &[Pack]) -> rusqlite::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM vector_packs WHERE base_id = ?1 AND model = ?2",
            params![base_id, model],
        )?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO vector_packs (base_id, model, language, dims, ids, scales, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for p in packs {
                stmt.execute(params![
                    base_id,
                    model,
                    p.language,
                    p.dims as i64,
                    p.ids,
                    p.scales,
                    p.data
                ])?;
            }
        }
        tx.commit()
    }

    /// Make and keep `base`'s packs of `model` when it has none (after embedding, so the
    /// first search does not have to; packs that exist are current: see the schema).
    pub fn pack_vectors(&self, base: &str, model: &str) -> Result<(), KnowledgeError> {
        let run = || -> Result<(), KnowledgeError> {
            let id = self.base_id_or_err(base)?;
            if self.has_packs(id, model)? {
                return Ok(());
            }
            let packs = self.make_packs(id, model)?;
            Ok(self.keep_packs(id, model, &packs)?)
        };
        run().map_err(|e| self.named(e))
    }
}

/// Vectors per row of `vector_packs` (96 KB at 384 dimensions).
const PACK: usize = 256;

/// Vectors of one base, model, passage language and size, side by side.
#[derive(Debug, Default)]
struct Pack {
    language: Option<String>,
    dims: usize,
    /// Passage ids, little-endian `i64`s.
    ids: Vec<u8>,
    /// Scales, little-endian `f32`s.
    scales: Vec<u8>,
    /// `dims` bytes a vector.
    data: Vec<u8>,
}

/// A pack as read: borrowed from SQLite's row or from a [`Pack`].
struct PackRef<'a> {
    language: Option<&'a str>,
    dims: usize,
    ids: &'a [u8],
    scales: &'a [u8],
    data: &'a [u8],
}

impl Pack {
    fn as_ref(&self) -> PackRef<'_> {
        PackRef {
            language: self.language.as_deref(),
            dims: self.dims,
            ids: &self.ids,
            scales: &self.scales,
            data: &self.data,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_read_in_order_normalised_and_checked() {
        let body = r#"{"object":"list","data":[
            {"object":"embedding","index":1,"embedding":[0.0,2.0]},
            {"object":"embedding","index":0,"embedding":[3.0,4.0]}],
            "model":"m","usage":{"prompt_tokens":7,"total_tokens":7}}"#;
        let e = parse(body, 2).unwrap();
        assert_eq!(e.vectors, vec![vec![0.6, 0.8], vec![0.0, 1.0]]);
        assert_eq!(e.tokens, Some(7));
        // base64 of little-endian f32s.
        let b64 = base64::engine::general_purpose::STANDARD.encode(
            [1.0f32, 0.0]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
        let e = parse(&format!(r#"{{"data":[{{"embedding":"{b64}"}}]}}"#), 1).unwrap();
        assert_eq!(e.vectors, vec![vec![1.0, 0.0]]);
        assert_eq!(e.tokens, None);
        for (bad, why) in [
            ("<html>404</html>", "not JSON"),
            (r#"{"error":{"message":"x"}}"#, "no `data`"),
            (r#"{"data":[{"embedding":[1.0]}]}"#, "1 embeddings for 2"),
            (
                r#"{"data":[{"embedding":[1.0]},{"embedding":[1.0,2.0]}]}"#,
                "different sizes",
            ),
            (
                r#"{"data":[{"embedding":[0.0]},{"embedding":[0.0]}]}"#,
                "zero",
            ),
            (
                r#"{"data":[{"embedding":["a"]},{"embedding":[1]}]}"#,
                "not a number",
            ),
        ] {
            let e = parse(bad, 2).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn an_unusable_embeddings_answer_reads_in_chinese() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let e = parse(r#"{"data":[{"embedding":[1.0]}]}"#, 2).unwrap_err();
        assert_eq!(e, "2 个输入却返回了 1 个嵌入");
        let e = parse(r#"{"error":{"message":"x"}}"#, 2).unwrap_err();
        assert_eq!(e, "没有 `data` 列表");
    }

    #[test]
    fn stored_vectors_keep_the_cosine_and_dot_is_cosine_of_normalised_vectors() {
        let mut a = vec![1.0f32, 2.0, 2.0];
        assert!(normalise(&mut a));
        let (scale, data) = quantise(&a);
        assert_eq!(data.len(), 3);
        assert!((scale * scale * dot(&data, &data) as f32 - 1.0).abs() < 1e-2);
        // With negative parts: the scaled integer dot product is within a hundredth of the
        // true cosine.
        let mut b: Vec<f32> = (0..37).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
        let mut c: Vec<f32> = (0..37).map(|i| ((i * 5 % 13) as f32 - 6.0) / 2.0).collect();
        assert!(normalise(&mut b) && normalise(&mut c));
        let exact: f32 = b.iter().zip(&c).map(|(x, y)| x * y).sum();
        let (scale, data) = quantise(&b);
        let (c_scale, c_data) = quantise(&c);
        let cosine = scale * c_scale * dot(&data, &c_data) as f32;
        assert!((cosine - exact).abs() < 1e-2, "{cosine} for {exact}");
        assert!(data.iter().any(|&d| d as i8 == 127 || d as i8 == -127));
        assert_eq!(quantise(&[0.0, 0.0]), (0.0, vec![0, 0]));
        let mut z = vec![0.0f32; 3];
        assert!(!normalise(&mut z));
        assert!(!normalise(&mut [f32::NAN]));
        let t = passage_text("a.md", "A › B", &"x".repeat(10_000));
        assert_eq!(t.chars().count(), MAX_CHARS);
        assert!(t.starts_with("a.md\nA › B\n\nxxx"));
    }
}
