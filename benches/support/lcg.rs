//! A small deterministic generator for benchmark inputs (shared by the benches).
#![allow(dead_code)]

/// Knuth's MMIX linear congruential generator, fixed seed.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next number (31 bits).
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        // Invariant: n is a small list length, so both casts are lossless.
        (self.next() % n as u64) as usize
    }

    /// Skewed towards low indexes (roughly Zipf-like).
    pub fn skewed(&mut self, n: usize) -> usize {
        let a = self.below(n);
        let b = self.below(n);
        a * b / n
    }

    /// One of `list`.
    pub fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }
}
