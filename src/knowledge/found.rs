//! Deciding whether anything in the base matches a question at all, so that clerk can say
//! "not found in the procedures" without asking the model, instead of handing it passages
//! that merely share a word.
//!
//! Each of the question's terms weighs its inverse document frequency (the rarer in the
//! base, the more it says about what is asked; a term the base never holds weighs the
//! most). A passage *covers* the share of that weight whose terms it contains. Something
//! matches when one of the best passages covers at least [`FOUND_COVERAGE`] of it: "Can I
//! bring my cat to the office?" against a travel policy finds "office" but neither "cat"
//! nor "bring" in one passage, and "cat", held nowhere, is most of the question's weight.
//!
//! The threshold is low on purpose. Words decide badly on their own whether passages
//! *answer* a question: people ask with words the procedures do not use ("a bottle of wine
//! a customer gave me" against a gifts policy, typos, "how long" for "within 5 days"), and
//! on the sample corpora half of the answerable questions covered less than 60% while some
//! unanswerable ones covered more (docs/knowledge.md). So only a question that clearly
//! matches nothing stops here; for the rest the passages go to the model, which is told to
//! say when they do not answer, and an answer citing no real source is shown as not found
//! (`knowledge::cite`).
//!
//! Pure arithmetic; the counts come from the index.

/// The share of a question's weight the best passage must cover for the base to be asked
/// (measured with `benches/kb_recall.py`: at 0.3, 90% of the sample corpora's answerable
/// questions reach the model, against 51% at 0.6).
pub const FOUND_COVERAGE: f64 = 0.3;

/// The weight of a term held by `df` of `n` passages (BM25's IDF, never below a small
/// positive floor, so a term in every passage still counts a little).
pub fn idf(n: u64, df: u64) -> f64 {
    let (n, df) = (n as f64, df.min(n) as f64);
    ((n - df + 0.5) / (df + 0.5) + 1.0).ln().max(0.01)
}

/// The share of the total weight of `weights` whose terms `present` says a passage holds.
/// 0 when there are no terms.
pub fn coverage(weights: &[f64], present: &[bool]) -> f64 {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let held: f64 = weights
        .iter()
        .zip(present)
        .filter(|(_, p)| **p)
        .map(|(w, _)| w)
        .sum();
    held / total
}

/// Whether a best coverage of `best` means the base answers the question.
pub fn answers(best: f64) -> bool {
    best >= FOUND_COVERAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_terms_weigh_more_and_absent_ones_most() {
        let n = 10_000;
        assert!(idf(n, 0) > idf(n, 10));
        assert!(idf(n, 10) > idf(n, 5_000));
        assert!(idf(n, n) > 0.0, "a term everywhere still counts a little");
        assert!(idf(0, 0) > 0.0);
    }

    #[test]
    fn a_question_about_pets_is_not_found_in_a_travel_policy() {
        // 2,000 passages of travel, expense and IT procedures.
        let n = 2_000;
        // "Can I bring my pet to the office?": "bring" is rare, "office" common, "pet"
        // nowhere; the best passage holds "office" only.
        let weights = [idf(n, 12), idf(n, 400), idf(n, 0)];
        let best = coverage(&weights, &[false, true, false]);
        assert!(!answers(best), "{best}");
        // "What is the hotel limit in Shanghai?": the passage on limits by city has all.
        let weights = [idf(n, 150), idf(n, 90), idf(n, 30)];
        assert!(answers(coverage(&weights, &[true, true, true])));
        // A passage missing only the most common word still answers.
        assert!(answers(coverage(&weights, &[false, true, true])));
        // One missing rare word among common ones goes to the model, which decides.
        assert!(answers(coverage(&weights, &[true, true, false])));
        // "policy" alone is not enough for a question about pets and the office policy.
        let weights = [idf(n, 1_500), idf(n, 0), idf(n, 400)];
        assert!(!answers(coverage(&weights, &[true, false, false])));
        // Nor a question of typos whose one known word is common.
        let weights = [idf(n, 900), idf(n, 0), idf(n, 0)];
        assert!(!answers(coverage(&weights, &[true, false, false])));
    }

    #[test]
    fn no_terms_means_not_found() {
        assert_eq!(coverage(&[], &[]), 0.0);
        assert!(!answers(coverage(&[], &[])));
    }
}
