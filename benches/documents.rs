//! The long-document pipeline at the sizes the issue names: `cargo bench --bench documents`.
//!
//! - extract a generated 300-page PDF and count its tokens into blocks (what attaching a long
//!   report costs before anything is sent);
//! - plan the parts of a ~1,000,000-token text (headings, paragraphs, `--- page N ---`
//!   markers, English with some Chinese): `chunk::plan` alone, and `summarize::strategy` +
//!   `estimate` for a 128k-token model, both on blocks counted once outside the timing;
//! - count that text into blocks with the real tokenizer (what a user waits for on a huge
//!   paste);
//! - scan ~10 MiB of ordinary prose with a few secrets in it.
//!
//! The inputs are generated once per run (a few seconds), from a fixed seed. The tokenizer's
//! vocabulary (o200k_base) is loaded before any timing starts, so no sample pays for it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use clerk::documents::chunk::{self, Block};
use clerk::documents::summarize::{self, Measured, Settings};
use clerk::documents::{extract, fixtures, secrets};
use clerk::llm::context::count_tokens;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const PDF_PAGES: usize = 300;
/// The long text is generated until it has at least this many tokens.
const LONG_TOKENS: usize = 1_000_000;
const SCAN_BYTES: usize = 10 * 1024 * 1024;
const CHUNK_TOKENS: usize = 8_000;
const OVERLAP_TOKENS: usize = 200;
/// System prompt, question and template text around the documents.
const FRAME_TOKENS: u64 = 500;

#[path = "support/lcg.rs"]
mod lcg;
use lcg::Lcg;

const SUBJECTS: &[&str] = &[
    "The finance team",
    "Our main supplier",
    "The regional office in Lyon",
    "Each department head",
    "The project board",
    "The customer",
    "Senior management",
    "The audit committee",
    "The sales team",
    "The travel desk",
    "Legal",
    "The works council",
];
const VERBS: &[&str] = &[
    "reviewed",
    "approved",
    "postponed",
    "updated",
    "questioned",
    "signed",
    "summarised",
    "rejected",
    "shared",
    "revised",
    "escalated",
    "closed",
];
const OBJECTS: &[&str] = &[
    "the quarterly budget",
    "the travel and expense policy",
    "the draft framework contract",
    "the monthly expense report",
    "the hiring plan for next year",
    "the invoice backlog",
    "the delivery schedule",
    "the risk register",
    "the service level agreement",
    "the data migration plan",
    "the onboarding checklist",
    "the vendor assessment",
];
const TAILS: &[&str] = &[
    "before the deadline",
    "after the meeting on Tuesday",
    "with two questions still open",
    "for the third quarter",
    "pending a legal review",
    "in line with last year",
    "despite the delay at the warehouse",
    "as agreed in the steering group",
    "without further comments",
    "and asked for a revised version by Friday",
];
const CHINESE: &[&str] = &[
    "本季度的差旅报销流程已经更新",
    "请各部门在月底前提交发票",
    "财务部审核了第三季度预算",
    "项目延期的主要原因是供应商交付推迟",
    "会议纪要已发送给所有参与者",
    "合同草案还需要法务部门确认",
    "客户要求在下周五之前给出答复",
    "新的采购政策将于下月一日生效",
    "人力资源部正在修订招聘计划",
    "风险登记册中新增了三项内容",
];
const TOPICS: &[&str] = &[
    "Budget and forecast",
    "Travel and expenses",
    "Contracts",
    "Hiring",
    "Suppliers",
    "Risks and open issues",
    "Customer feedback",
    "IT and security",
];

/// One English sentence, 70–150 characters, with figures; no parentheses or backslashes (the
/// PDF generator puts each page in one `(…) Tj` string).
fn sentence(rng: &mut Lcg, out: &mut String) {
    out.push_str(rng.pick(SUBJECTS));
    out.push(' ');
    out.push_str(rng.pick(VERBS));
    out.push(' ');
    out.push_str(rng.pick(OBJECTS));
    out.push(' ');
    out.push_str(rng.pick(TAILS));
    match rng.below(4) {
        0 => out.push_str(&format!(
            ", at a cost of EUR {},{:03}",
            1 + rng.below(900),
            rng.below(1000)
        )),
        1 => out.push_str(&format!(
            "; the total is now {} line items across {} cost centres",
            10 + rng.below(990),
            2 + rng.below(40)
        )),
        2 => out.push_str(&format!(
            ", see item {}.{} of the minutes dated 2026-{:02}-{:02}",
            1 + rng.below(12),
            1 + rng.below(9),
            1 + rng.below(12),
            1 + rng.below(28)
        )),
        _ => {}
    }
    out.push_str(". ");
}

fn english_paragraph(rng: &mut Lcg, out: &mut String) {
    for _ in 0..3 + rng.below(4) {
        sentence(rng, out);
    }
    out.pop();
}

fn chinese_paragraph(rng: &mut Lcg, out: &mut String) {
    for i in 0..4 + rng.below(5) {
        if i > 0 {
            out.push_str(if i % 3 == 0 { "。" } else { "，" });
        }
        out.push_str(rng.pick(CHINESE));
    }
    out.push('。');
}

/// One page of a long report, as the extractor lays it out: the page marker, sometimes a
/// chapter or section heading, then paragraphs (about one in ten Chinese).
fn page(rng: &mut Lcg, n: usize) -> String {
    let mut out = format!("--- page {n} ---\n");
    if n % 8 == 1 {
        out.push_str(&format!(
            "# Chapter {}: {}\n\n",
            n / 8 + 1,
            rng.pick(TOPICS)
        ));
    } else if rng.below(3) == 0 {
        out.push_str(&format!(
            "## {}.{} {}\n\n",
            n / 8 + 1,
            n % 8,
            rng.pick(TOPICS)
        ));
    }
    for i in 0..3 + rng.below(3) {
        if i > 0 {
            out.push_str("\n\n");
        }
        if rng.below(10) == 0 {
            chinese_paragraph(rng, &mut out);
        } else {
            english_paragraph(rng, &mut out);
        }
    }
    out
}

/// When to stop adding pages.
enum Until {
    Tokens(usize),
    Bytes(usize),
}

/// Pages of a long report, separated by blank lines, up to the size asked for.
fn long_text(rng: &mut Lcg, until: Until) -> String {
    let mut text = String::new();
    let mut tokens = 0;
    let mut n = 1;
    loop {
        match until {
            Until::Tokens(t) if tokens >= t => break,
            Until::Bytes(b) if text.len() >= b => break,
            _ => {}
        }
        let p = page(rng, n);
        if n > 1 {
            text.push_str("\n\n");
        }
        if matches!(until, Until::Tokens(_)) {
            tokens += count(&p);
        }
        text.push_str(&p);
        n += 1;
    }
    text
}

/// The text of one PDF page: a line or two, 300–500 characters, ASCII only (Helvetica).
fn pdf_page(rng: &mut Lcg) -> String {
    let target = 300 + rng.below(180);
    let mut out = String::new();
    while out.len() < target {
        sentence(rng, &mut out);
    }
    out.truncate(out.trim_end().len());
    out
}

fn count(t: &str) -> usize {
    count_tokens(t) as usize
}

/// Ordinary prose with a few secrets spread through it; the number of secrets.
fn prose_with_secrets(rng: &mut Lcg) -> (String, usize) {
    let planted = [
        format!(
            "The old deploy script still exports AWS_ACCESS_KEY_ID={} for the backup job.",
            concat!("AKIA", "IOSFODNN7EXAMPLE")
        ),
        format!(
            "Reports read from postgres://report:{}@db.internal:5432/finance every night.",
            concat!("Vq8", "zL2mTx7Rk")
        ),
        format!(
            "Please rotate it: DB_PASSWORD={} was pasted in the ticket.",
            concat!("Xk9#mQ2", "$vL8pR4")
        ),
        format!(
            "The webhook uses api_key = \"{}\" until the vault is set up.",
            concat!("a8f5f167f44f", "4964e6c998dee827110c")
        ),
    ];
    let text = long_text(rng, Until::Bytes(SCAN_BYTES));
    // One secret at the first paragraph break after each fifth of the text.
    let mut out = String::with_capacity(text.len() + 1024);
    let mut from = 0;
    for (k, s) in planted.iter().enumerate() {
        let at = (k + 1) * text.len() / (planted.len() + 1);
        let at = text.as_bytes()[at..]
            .windows(2)
            .position(|w| w == b"\n\n")
            .map_or(text.len(), |p| at + p)
            .max(from);
        out.push_str(&text[from..at]);
        out.push_str("\n\n");
        out.push_str(s);
        from = at;
    }
    out.push_str(&text[from..]);
    (out, planted.len())
}

fn settings() -> Settings {
    Settings {
        window: Some(128_000),
        reserve: 4096,
        chunk_tokens: CHUNK_TOKENS,
        overlap_tokens: OVERLAP_TOKENS,
        concurrency: 4,
        note_tokens: 1000,
    }
}

fn documents(c: &mut Criterion) {
    // Load the tokenizer's vocabulary (~0.2 s) before anything is timed.
    count_tokens("warm up");
    let mut rng = Lcg(42);

    // 1. A 300-page PDF.
    let pages: Vec<String> = (0..PDF_PAGES).map(|_| pdf_page(&mut rng)).collect();
    let page_refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let pdf = fixtures::pdf_with_pages(&page_refs);
    let doc = extract::extract_bytes("report.pdf", &pdf).unwrap();
    assert_eq!(doc.pages, Some(PDF_PAGES));
    let m = summarize::measure("report.pdf", doc.text, CHUNK_TOKENS, &count);
    eprintln!(
        "pdf: {PDF_PAGES} pages, {} bytes of PDF, {} bytes of text, {} tokens",
        pdf.len(),
        m.text.len(),
        m.tokens
    );

    let mut group = c.benchmark_group("documents");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("extract_and_count_pdf_300_pages", |b| {
        b.iter(|| {
            let doc = extract::extract_bytes("report.pdf", black_box(&pdf)).unwrap();
            summarize::measure("report.pdf", doc.text, CHUNK_TOKENS, &count)
        })
    });

    // 2. About 1,000,000 tokens of structured text.
    let text = long_text(&mut rng, Until::Tokens(LONG_TOKENS));
    let blocks: Vec<Block> = chunk::blocks(&text, CHUNK_TOKENS, &count);
    let tokens: usize = blocks.iter().map(|b| b.tokens).sum();
    let s = settings();
    let docs = vec![Measured {
        name: "pasted text".to_string(),
        text,
        blocks,
        tokens: tokens as u64,
    }];
    let strategy = summarize::strategy(&docs, FRAME_TOKENS, &s);
    let summarize::Strategy::Parts(parts) = &strategy else {
        panic!("1M tokens must not fit a 128k window");
    };
    let est = summarize::estimate(&strategy, &docs, FRAME_TOKENS, &s);
    eprintln!(
        "long text: {} bytes, {tokens} tokens, {} blocks, {} chunks by plan, {} parts, {} requests, {} input tokens estimated",
        docs[0].text.len(),
        docs[0].blocks.len(),
        chunk::plan(&docs[0].blocks, CHUNK_TOKENS, OVERLAP_TOKENS).len(),
        parts.len(),
        est.requests,
        est.input_tokens
    );

    group.throughput(Throughput::Elements(tokens as u64));
    group.bench_function("count_blocks_1m_tokens", |b| {
        b.iter(|| chunk::blocks(black_box(&docs[0].text), CHUNK_TOKENS, &count))
    });
    group.finish();

    let mut group = c.benchmark_group("documents");
    group.bench_function("plan_chunks_1m_tokens", |b| {
        b.iter(|| chunk::plan(black_box(&docs[0].blocks), CHUNK_TOKENS, OVERLAP_TOKENS))
    });
    group.bench_function("strategy_and_estimate_1m_tokens", |b| {
        b.iter(|| {
            let st = summarize::strategy(black_box(&docs), FRAME_TOKENS, &s);
            let e = summarize::estimate(&st, &docs, FRAME_TOKENS, &s);
            (st, e)
        })
    });
    group.finish();
    drop(docs);

    // 3. ~10 MiB of prose with a few secrets.
    let (prose, planted) = prose_with_secrets(&mut rng);
    let found = secrets::scan(&prose);
    eprintln!(
        "scan: {} bytes, {} findings: {:?}",
        prose.len(),
        found.len(),
        found.iter().map(|f| f.kind).collect::<Vec<_>>()
    );
    assert_eq!(found.len(), planted);

    let mut group = c.benchmark_group("documents");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(prose.len() as u64));
    group.bench_function("scan_secrets_10mib", |b| {
        b.iter(|| secrets::scan(black_box(&prose)))
    });
    group.finish();
}

criterion_group!(benches, documents);
criterion_main!(benches);
