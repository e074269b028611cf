//! Vector search beside keyword search, when a base turns it on (`embeddings = "MODEL"`):
//! passages embedded through the profile's `/v1/embeddings` while indexing, only those
//! that have no vector yet (a changed file's passages are new rows), in batches; at search
//! time the question's vectors are compared with the passages' and ranked per passage
//! language, each language one [`Ranking`] to fuse (how the index is read: `scan.rs`).
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
pub(super) fn quantise(v: &[f32]) -> (f32, Vec<u8>) {
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
pub(super) fn dot(data: &[u8], q: &[u8]) -> i32 {
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
    /// Candidates of the sign-bit prefilter scored exactly (0 when every vector was).
    pub rescored: usize,
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
