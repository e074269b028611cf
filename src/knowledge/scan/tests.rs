//! Tests of the scan: the sign bits and their distance, the prefilter against the exact
//! scan on a few thousand vectors made by a seeded generator (clustered and leaning one
//! way, as a real model's are), small bases scanned exactly, and an index made before the
//! signs.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use super::*;
use crate::knowledge::vectors::normalise;

/// A seeded generator of vectors that look like a model's: every vector leans towards one
/// direction (a real model's cosines are rarely below 0.5), passages come in topics (a
/// cluster each), and each has its own noise.
struct Vectors {
    rng: fastrand::Rng,
    dims: usize,
    lean: Vec<f32>,
    topics: Vec<Vec<f32>>,
}

impl Vectors {
    fn new(dims: usize, topics: usize, seed: u64) -> Vectors {
        let mut rng = fastrand::Rng::with_seed(seed);
        let unit = |rng: &mut fastrand::Rng| {
            let mut v: Vec<f32> = (0..dims).map(|_| gauss(rng)).collect();
            normalise(&mut v);
            v
        };
        let lean = unit(&mut rng);
        let topics = (0..topics).map(|_| unit(&mut rng)).collect();
        Vectors {
            rng,
            dims,
            lean,
            topics,
        }
    }

    /// A vector about a topic chosen at random.
    fn next(&mut self) -> Vec<f32> {
        let topic = self.rng.usize(..self.topics.len());
        let noise = 0.45 / (self.dims as f32).sqrt();
        let mut v: Vec<f32> = (0..self.dims)
            .map(|i| {
                0.8 * self.lean[i] + 0.5 * self.topics[topic][i] + noise * gauss(&mut self.rng)
            })
            .collect();
        normalise(&mut v);
        v
    }
}

/// A standard normal number (Box–Muller).
fn gauss(rng: &mut fastrand::Rng) -> f32 {
    let u = 1.0 - rng.f32();
    let v = rng.f32();
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

/// A base `name` of `n` passages, half English and half Chinese (by file), each with a
/// vector of `model` from `gen`; written as the indexer would, without reading files.
fn fill(index: &mut Index, name: &str, n: usize, model: &str, source: &mut Vectors) {
    let tx = index.conn.transaction().unwrap();
    tx.execute(
        "INSERT INTO bases (name, created_ms) VALUES (?1, 0)",
        [name],
    )
    .unwrap();
    let base = tx.last_insert_rowid();
    let per_file = 50;
    let mut ids = Vec::with_capacity(n);
    for f in 0..n.div_ceil(per_file) {
        tx.execute(
            "INSERT INTO files (base_id, root, path, size, mtime_ns, status, passages, indexed_ms)
             VALUES (?1, '/docs', ?2, 1, 0, 'indexed', ?3, 0)",
            params![base, format!("gen/{f:05}.md"), per_file as i64],
        )
        .unwrap();
        let file = tx.last_insert_rowid();
        let language = if f % 2 == 0 { "en" } else { "zh" };
        for seq in 0..per_file.min(n - f * per_file) {
            tx.execute(
                "INSERT INTO passages (file_id, seq, section, language, text)
                 VALUES (?1, ?2, 'S', ?3, 'text')",
                params![file, seq as i64, language],
            )
            .unwrap();
            ids.push(tx.last_insert_rowid());
        }
    }
    tx.commit().unwrap();
    let rows: Vec<(PassageId, Vec<f32>)> = ids.into_iter().map(|id| (id, source.next())).collect();
    index.put_vectors(model, &rows).unwrap();
}

fn count(index: &Index, table: &str) -> i64 {
    index
        .conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Of `exact`'s passages, the share `other` found too, over every language; and whether
/// the passages both found are in the same order in both (what the rescoring keeps).
/// Each ranking's passages, in order: what two scans are compared by.
fn ranked(hits: &VectorHits) -> Vec<&Vec<PassageId>> {
    hits.rankings.iter().map(|r| &r.passages).collect()
}

fn overlap(exact: &VectorHits, other: &VectorHits) -> (usize, usize, bool) {
    assert_eq!(exact.rankings.len(), other.rankings.len());
    let (mut found, mut of, mut ordered) = (0, 0, true);
    for (e, o) in exact.rankings.iter().zip(&other.rankings) {
        assert_eq!(e.source, o.source);
        let mine: HashSet<PassageId> = o.passages.iter().copied().collect();
        let theirs: HashSet<PassageId> = e.passages.iter().copied().collect();
        found += e.passages.iter().filter(|id| mine.contains(id)).count();
        of += e.passages.len();
        let a: Vec<_> = e.passages.iter().filter(|id| mine.contains(id)).collect();
        let b: Vec<_> = o.passages.iter().filter(|id| theirs.contains(id)).collect();
        ordered &= a == b;
    }
    (found, of, ordered)
}

#[test]
fn signs_are_the_components_above_the_centre_and_hamming_counts_those_that_differ() {
    // 70 components: a whole word and 6 bits of another, padded.
    let a: Vec<u8> = (0..70)
        .map(|i| if i % 3 == 0 { 5u8 } else { (-5i8) as u8 })
        .collect();
    let zero = vec![0f32; 70];
    let mut signs = Vec::new();
    push_signs(stored(&a, 0.1), &zero, &mut signs);
    assert_eq!(signs.len(), sign_bytes(70));
    assert_eq!(signs[0], 0b0100_1001);
    let mut b = a.clone();
    for i in [0, 1, 63, 64, 69] {
        b[i] = (-(b[i] as i8)) as u8;
    }
    b[2] = 0; // not above the centre: the same sign bit as a negative component
    let mut other = Vec::new();
    push_signs(stored(&b, 0.1), &zero, &mut other);
    assert_eq!(hamming(&words(&signs), &signs), 0);
    assert_eq!(hamming(&words(&signs), &other), 5);
    assert_eq!(hamming(&words(&other), &signs), 5);
    // About a centre above both, every bit is clear: the signs say where a vector is
    // against the mean, not against zero.
    let mut above = Vec::new();
    push_signs(stored(&a, 0.1), &[1.0; 70], &mut above);
    assert!(above.iter().all(|&x| x == 0));
}

#[test]
fn packs_of_a_language_share_its_centre_the_mean_of_its_vectors() {
    let mut index = Index::open_in_memory().unwrap();
    fill(&mut index, "b", 700, "m", &mut Vectors::new(32, 4, 9));
    let id = index.base_id("b").unwrap().unwrap();
    let packs = index.make_packs(id, "m").unwrap();
    assert_eq!(packs.len(), 4, "350 a language: two packs each");
    assert_eq!(packs[0].centre, packs[1].centre);
    assert_ne!(packs[1].centre, packs[2].centre);
    // The centre is the mean of the language's vectors as stored.
    let centre: Vec<f32> = packs[0].centre.chunks_exact(4).map(f32_at).collect();
    let mut sum = [0f64; 32];
    for p in &packs[..2] {
        for (data, scale) in p.data.chunks_exact(32).zip(p.scales.chunks_exact(4)) {
            let v = stored(data, f32_at(scale));
            for (i, s) in sum.iter_mut().enumerate() {
                *s += f64::from(v(i));
            }
        }
    }
    for (c, s) in centre.iter().zip(sum) {
        assert!((f64::from(*c) - s / 350.0).abs() < 1e-5);
    }
    // About it, a component is above in about half the vectors (about zero, the lean of
    // the vectors makes most components one sign in nearly all of them).
    let set: u32 = packs[0].signs.iter().map(|b| b.count_ones()).sum();
    let share = f64::from(set) / (256.0 * 32.0);
    assert!((0.35..0.65).contains(&share), "{share}");
}

#[test]
fn with_every_vector_a_candidate_the_rescoring_gives_the_exact_rankings() {
    // The signs only choose what is scored: ranked by their distance, these lists would
    // not be in the cosines' order.
    let mut index = Index::open_in_memory().unwrap();
    let mut source = Vectors::new(384, 20, 11);
    fill(&mut index, "b", 1_000, "m", &mut source);
    index.pack_vectors("b", "m").unwrap();
    for _ in 0..3 {
        let q = [source.next()];
        let exact = index
            .vector_rankings_by(&["b"], "m", &q, 40, Scan::Exact)
            .unwrap();
        let all = index
            .vector_rankings_by(&["b"], "m", &q, 40, Scan::Prefilter(1_000))
            .unwrap();
        assert_eq!(all.rescored, 1_000);
        assert_eq!(ranked(&all), ranked(&exact));
        // Few candidates: fewer of the exact passages, still in the cosines' order.
        let few = index
            .vector_rankings_by(&["b"], "m", &q, 40, Scan::Prefilter(40))
            .unwrap();
        let (found, of, ordered) = overlap(&exact, &few);
        assert!(ordered);
        assert!(found < of, "40 candidates of 500 miss some of the best 40");
    }
}

#[test]
fn the_prefilter_finds_the_exact_top_40_at_384_and_1536_dimensions() {
    // As many vectors as turn the prefilter on: the candidates are a quarter of each
    // language's.
    let n = EXACT_BELOW;
    for dims in [384, 1536] {
        let mut index = Index::open_in_memory().unwrap();
        let mut source = Vectors::new(dims, 60, dims as u64);
        fill(&mut index, "big", n, "m", &mut source);
        index.pack_vectors("big", "m").unwrap();
        let (mut found, mut of) = (0, 0);
        for _ in 0..5 {
            // A question and its restatement, as a search sends them.
            let q = [source.next(), source.next()];
            let exact = index
                .vector_rankings_by(&["big"], "m", &q, 40, Scan::Exact)
                .unwrap();
            let auto = index.vector_rankings(&["big"], "m", &q, 40).unwrap();
            assert_eq!(exact.rescored, 0);
            assert_eq!(auto.rescored, 2 * candidates(40), "prefiltered: {dims}");
            assert_eq!(auto.scanned, n);
            let (f, o, ordered) = overlap(&exact, &auto);
            assert!(ordered, "rescored: in the exact order ({dims})");
            assert_eq!(o, 80, "40 a language");
            found += f;
            of += o;
        }
        assert!(
            found * 100 >= of * 95,
            "{dims} dimensions: {found} of {of} of the exact top 40 found"
        );
    }
}

#[test]
fn a_small_base_is_scanned_exactly_and_a_large_one_prefiltered() {
    // Small vectors, to make a base of the size that turns the prefilter on quickly.
    let mut index = Index::open_in_memory().unwrap();
    let mut source = Vectors::new(32, 20, 3);
    let small = EXACT_BELOW - 1;
    fill(&mut index, "small", small, "m", &mut source);
    fill(&mut index, "more", 1, "m", &mut source);
    index.pack_vectors("small", "m").unwrap();
    index.pack_vectors("more", "m").unwrap();
    let q = [source.next()];
    let exact = index
        .vector_rankings_by(&["small"], "m", &q, 40, Scan::Exact)
        .unwrap();
    let auto = index.vector_rankings(&["small"], "m", &q, 40).unwrap();
    assert_eq!(auto.rescored, 0, "no prefilter below {EXACT_BELOW} vectors");
    assert_eq!(auto.scanned, small);
    assert_eq!(ranked(&auto), ranked(&exact));
    // Two bases searched together count together.
    let both = index
        .vector_rankings(&["small", "more"], "m", &q, 40)
        .unwrap();
    assert_eq!(both.scanned, EXACT_BELOW);
    assert!(both.rescored > 0, "prefiltered from {EXACT_BELOW} vectors");
    assert_eq!(both.rescored, 2 * candidates(40));
}

#[test]
fn an_index_made_before_the_signs_searches_right_and_gets_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("knowledge.sqlite3");
    let mut index = Index::open(&path).unwrap();
    let mut source = Vectors::new(384, 40, 5);
    fill(&mut index, "old", 5_000, "m", &mut source);
    index.pack_vectors("old", "m").unwrap();
    let q = [source.next()];
    let prefilter = Scan::Prefilter(candidates(40));
    let before = index
        .vector_rankings_by(&["old"], "m", &q, 40, prefilter)
        .unwrap();
    assert!(before.rescored > 0);
    let packs = count(&index, "vector_packs");
    assert_eq!(count(&index, "vector_signs"), packs);
    // Back to step 2 of the schema: packs, their triggers, and no signs.
    index
        .conn
        .execute_batch(
            "DROP TABLE vector_signs;
             DROP TRIGGER passage_vectors_added;
             DROP TRIGGER passage_vectors_removed;
             CREATE TRIGGER passage_vectors_added AFTER INSERT ON passage_vectors BEGIN
                 DELETE FROM vector_packs WHERE base_id = new.base_id AND model = new.model;
             END;
             CREATE TRIGGER passage_vectors_removed AFTER DELETE ON passage_vectors BEGIN
                 DELETE FROM vector_packs WHERE base_id = old.base_id AND model = old.model;
             END;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    drop(index);
    let mut index = Index::open(&path).unwrap();
    assert_eq!(count(&index, "vector_signs"), 0, "the table made, empty");
    assert_eq!(count(&index, "vector_packs"), packs);
    // The first search scores every vector exactly and keeps packs and signs.
    let first = index
        .vector_rankings_by(&["old"], "m", &q, 40, prefilter)
        .unwrap();
    assert_eq!(first.rescored, 0);
    assert_eq!(first.scanned, 5_000);
    assert_eq!(count(&index, "vector_signs"), packs);
    let exact = index
        .vector_rankings_by(&["old"], "m", &q, 40, Scan::Exact)
        .unwrap();
    assert_eq!(ranked(&first), ranked(&exact));
    let next = index
        .vector_rankings_by(&["old"], "m", &q, 40, prefilter)
        .unwrap();
    assert_eq!(next.rescored, before.rescored, "then prefiltered");
    assert_eq!(ranked(&next), ranked(&before));
    // The migrated triggers drop both when a vector comes.
    let id: PassageId = index
        .conn
        .query_row("SELECT min(passage_id) FROM passage_vectors", [], |r| {
            r.get(0)
        })
        .unwrap();
    index.put_vectors("m", &[(id, source.next())]).unwrap();
    assert_eq!(count(&index, "vector_packs"), 0);
    assert_eq!(count(&index, "vector_signs"), 0);
}

/// How many of the exact top 40 the prefilter keeps with this many candidates, at both
/// sizes (the figures of docs/performance.md):
/// `cargo nextest run --lib --run-ignored only candidates_by_recall --no-capture`.
#[test]
#[ignore = "a measurement, printed"]
fn candidates_by_recall() {
    for dims in [384, 1536] {
        let mut index = Index::open_in_memory().unwrap();
        let mut source = Vectors::new(dims, 60, dims as u64);
        fill(&mut index, "big", EXACT_BELOW, "m", &mut source);
        index.pack_vectors("big", "m").unwrap();
        let questions: Vec<[Vec<f32>; 2]> =
            (0..5).map(|_| [source.next(), source.next()]).collect();
        let mut line = format!(
            "{dims} dims, 2 x {} vectors, top 40 kept with",
            EXACT_BELOW / 2
        );
        for keep in [40, 80, 160, 320, 512, 1024, 2048] {
            let (mut found, mut of) = (0, 0);
            for q in &questions {
                let exact = index
                    .vector_rankings_by(&["big"], "m", q, 40, Scan::Exact)
                    .unwrap();
                let pre = index
                    .vector_rankings_by(&["big"], "m", q, 40, Scan::Prefilter(keep))
                    .unwrap();
                let (f, o, _) = overlap(&exact, &pre);
                found += f;
                of += o;
            }
            line += &format!(" {keep}: {:.1}%", found as f64 * 100.0 / of as f64);
        }
        println!("{line}");
    }
}
