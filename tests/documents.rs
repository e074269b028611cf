//! Documents on the command line, as real processes against the local test server:
//! `clerk ask --file`, `clerk summarize` over a document longer than the model's window
//! (every request of the map-reduce checked), the cost check, the secret scan, and files
//! that cannot be read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::env::*;
use support::server::*;

/// A model with a 2,000-token window and prices, and small parts.
const TINY: &str = r#"
[models.tiny]
context_window = 2000
max_output_tokens = 200
input_per_million = 0.15
cached_input_per_million = 0.075
output_per_million = 0.60

[documents]
chunk_tokens = 400
overlap_tokens = 100
concurrency = 2
"#;

fn config(env: &Env, text: &str) {
    env.write(&env.home().join("config/clerk"), "config.toml", text);
}

/// About 3,000 tokens in 40 numbered paragraphs under headings.
fn long_document() -> String {
    let mut t = String::new();
    for k in 1..=40 {
        if k % 10 == 1 {
            t.push_str(&format!("# Chapter {}\n\n", k / 10 + 1));
        }
        t.push_str(&format!(
            "P{k}: the travel policy clause number {k} says that receipts are kept for {k} months and that managers approve claims within {k} days of filing them. Claims above the limit of clause {k} go to the finance director, who answers within a week; late claims need a written reason.\n\n"
        ));
    }
    t
}

fn messages(r: &Recorded) -> Vec<(String, String)> {
    r.messages()
}

fn last_user(r: &Recorded) -> String {
    messages(r)
        .into_iter()
        .rev()
        .find(|(role, _)| role == "user")
        .unwrap()
        .1
}

fn is_notes_request(r: &Recorded) -> bool {
    messages(r)
        .first()
        .is_some_and(|(role, c)| role == "system" && c.starts_with("You read one part"))
}

#[test]
fn ask_with_files_sends_each_in_a_named_block_before_the_question() {
    let env = Env::new();
    env.server.push(Reply::stream(&["Within 30 days."]));
    let a = env.write(
        env.home(),
        "policy.md",
        "# Travel\n\nFile within 30 days.\n",
    );
    let pdf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two-pages.pdf");
    let o = env.run(&[
        "ask",
        "--file",
        a.to_str().unwrap(),
        "-f",
        pdf.to_str().unwrap(),
        "When are expenses due?",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "Within 30 days.\n");
    let reqs = env.server.chat_requests();
    assert_eq!(reqs.len(), 1, "a document that fits is sent as it is");
    let user = last_user(&reqs[0]);
    assert!(
        user.starts_with("<document name=\"policy.md\">\n# Travel\n\nFile within 30 days.\n</document>\n\n<document name=\"two-pages.pdf\">\n--- page 1 ---\nTravel policy"),
        "{user}"
    );
    assert!(
        user.contains("--- page 2 ---\nExpenses are filed within 30 days."),
        "{user}"
    );
    assert!(
        user.ends_with("</document>\n\nWhen are expenses due?"),
        "{user}"
    );
    // What was attached is described on stderr.
    assert!(err(&o).contains("two-pages.pdf · "), "{}", err(&o));
    assert!(err(&o).contains("2 pages"), "{}", err(&o));
}

/// PDFs as the tools people use write them (tests/fixtures/pdf/make.py) reach the model as
/// the text poppler's `pdftotext` reads in them.
#[test]
fn real_world_pdfs_are_read_as_text() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pdf");
    let cases: [(&str, &[&str]); 8] = [
        (
            "reportlab-ttf-chinese.pdf",
            &[
                "Meeting notes 会议纪要",
                "The budget review moves to Thursday.",
                "预算评审改到星期四下午三点。",
            ],
        ),
        (
            "libreoffice-writer.pdf",
            &[
                "Expense policy 报销制度",
                "Claims are filed within 30 days of the end of the trip.",
                "出差结束后三十天内提交报销申请，并附上发票。",
                "Shanghai 上海",
                "Managers approve claims within five working days.",
            ],
        ),
        (
            "reportlab-cid-chinese.pdf",
            &[
                "差旅报销制度",
                "出差结束后三十天内提交发票。",
                "预算负责人事先审批",
            ],
        ),
        (
            "quote-operators.pdf",
            &[
                "First line with Tj.",
                "Second line with the quote operator.",
                "Third line with the double quote operator.",
            ],
        ),
        (
            "reportlab-table.pdf",
            &[
                "Travel policy: hotel limits by city",
                "Shanghai CNY 900 CNY 200",
            ],
        ),
        (
            "reportlab-two-columns.pdf",
            &["Annual leave is 25 days.", "Passwords rotate yearly."],
        ),
        (
            "fpdf-core.pdf",
            &["orders above EUR 5,000 need three quotes."],
        ),
        (
            "fpdf-unicode.pdf",
            &["naïve café, Größe, Ελληνικά, русский — “quotes”."],
        ),
    ];
    let env = Env::new();
    for (file, wanted) in cases {
        env.server.push(Reply::stream(&["ok"]));
        let path = dir.join(file);
        let o = env.run(&["ask", "--file", path.to_str().unwrap(), "summarise"]);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", err(&o));
        let reqs = env.server.chat_requests();
        let user = last_user(reqs.last().unwrap());
        assert!(user.contains("--- page 1 ---"), "{file}: {user}");
        for w in wanted {
            assert!(user.contains(w), "{file}: {w:?} not in {user}");
        }
    }
}

fn office(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/office")
        .join(file)
}

/// Office files as LibreOffice, XlsxWriter and python-pptx write them
/// (tests/fixtures/office/make.py) reach the model as Markdown: a table per sheet under its
/// name, slides in the presentation's order with their tables and speaker notes.
#[test]
fn office_files_reach_the_model_as_markdown() {
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "libreoffice-budget.xlsx",
            " KB · 2 sheets · 5 rows · ",
            &[
                "# Sheet: Budget 预算\n\n| Item 项目 | Cost | Approved | Due | Share |\n|---|---|---|---|---|\n",
                // Shared strings, a number, a boolean, a date and a formula shown as a percentage.
                "| Hotel 酒店 | 900 | TRUE | 2026-03-15 | 25.9% |",
                "| Flights 机票 | 2450.5 | FALSE | 2026-04-01 | 70.6% |",
                // A formula's cached value.
                "| Total 合计 | 3470.5 |  |  |  |",
                "# Sheet: Notes 说明\n\n| Receipts are kept for seven years. |\n|---|\n| 超过预算的部分需要财务总监批准。 |",
            ],
        ),
        (
            "xlsxwriter-inline.xlsx",
            " KB · 2 sheets · 4 rows · ",
            &[
                // Inline strings; the empty column D is left out.
                "# Sheet: Headcount 人数\n\n| Team 团队 | People | Since |  |\n",
                "| Finance 财务 | 12 | 2019-07-01 |  |",
                "| All teams | 17 |  | Headcount is reviewed every quarter. |",
                "# Sheet: Lookup (hidden)\n\n| Code | Meaning 含义 |",
            ],
        ),
        (
            "python-pptx-deck.pptx",
            " KB · 3 slides · ",
            &[
                "# Slide 1: Travel policy 2026\n\n差旅制度更新\n\n# Slide 2: Hotel limits\n\n| City 城市 | Limit |\n|---|---|\n| Shanghai 上海 | CNY 900 |",
                "# Slide 3: What changes 变化\n\nBook hotels through the portal.\n经济舱适用于六小时以内的航班。\n\nSpeaker notes:\nRemind everyone that the portal opens on 1 March.\n提醒大家三月一日开放。",
            ],
        ),
        (
            "libreoffice-deck.pptx",
            " KB · 3 slides · ",
            &[
                "# Slide 2: Hotel limits\n\n| City 城市 | Limit |",
                "# Slide 3: What changes 变化\n\nBook hotels through the portal.\n经济舱适用于六小时以内的航班。\n\nSpeaker notes:\nRemind everyone that the portal opens on 1 March.",
            ],
        ),
        (
            "libreoffice-writer.docx",
            "libreoffice-writer.docx · ",
            &[
                "# Expense policy 报销制度\n\nClaims are filed within 30 days of the end of the trip.\n\n出差结束后三十天内提交报销申请，并附上发票。",
                "| City 城市 | Hotel limit 住宿标准 |\n|---|---|\n| Shanghai 上海 | CNY 900 |",
            ],
        ),
    ];
    let env = Env::new();
    for (file, described, wanted) in cases {
        env.server.push(Reply::stream(&["ok"]));
        let o = env.run(&["ask", "--file", office(file).to_str().unwrap(), "summarise"]);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", err(&o));
        // What was attached is described on stderr: the sheets and rows, or the slides.
        let about = err(&o)
            .lines()
            .find(|l| l.starts_with(file))
            .unwrap_or_default()
            .to_string();
        assert!(about.contains(described), "{file}: {}", err(&o));
        let user = last_user(env.server.chat_requests().last().unwrap());
        assert!(
            user.starts_with(&format!("<document name=\"{file}\">\n")),
            "{user}"
        );
        for w in wanted {
            assert!(user.contains(w), "{file}: {w:?} not in {user}");
        }
    }
}

/// `clerk summarize` and a template's `file` variable read Office files as `ask` does.
#[test]
fn summarize_and_templates_read_office_files() {
    let env = Env::new();
    env.server.push(Reply::stream(&["A deck about travel."]));
    let o = env.run(&[
        "summarize",
        office("python-pptx-deck.pptx").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let user = last_user(&env.server.chat_requests()[0]);
    assert!(user.contains("Speaker notes:\nRemind everyone"), "{user}");
    env.write(
        &env.user_dir(),
        "costs.toml",
        "title = \"Check the costs\"\nprompt = \"Check:\\n{{sheet}}\"\n\n[[variables]]\nname = \"sheet\"\nkind = \"file\"\n",
    );
    env.server.push(Reply::stream(&["Fine."]));
    let budget = office("libreoffice-budget.xlsx");
    let o = env.run(&[
        "run",
        "costs",
        "--var",
        &format!("sheet={}", budget.display()),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let user = last_user(&env.server.chat_requests()[1]);
    assert!(
        user.starts_with("Check:\n# Sheet: Budget 预算\n")
            && user.contains("| Total 合计 | 3470.5 |"),
        "{user}"
    );
}

/// A secret in a spreadsheet's cell is caught before it is sent, as in any other file.
#[test]
fn a_secret_in_a_sheet_is_caught() {
    let env = Env::new();
    let key = concat!("AKIA", "IOSFODNN7EXAMPLE");
    let path = env.home().join("deploy.xlsx");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let parts = [
        ("_rels/.rels", r#"<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string()),
        ("xl/workbook.xml", r#"<workbook xmlns:r="r"><sheets><sheet name="Keys" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()),
        ("xl/_rels/workbook.xml.rels", r#"<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string()),
        ("xl/worksheets/sheet1.xml", format!(r#"<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>aws_access_key_id = {key}</t></is></c></row></sheetData></worksheet>"#)),
    ];
    for (name, text) in parts {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    let o = env.run(&["ask", "--file", path.to_str().unwrap(), "what is this?"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("AWS access key"), "{}", err(&o));
    assert!(!err(&o).contains(key));
    assert_eq!(env.server.chat_requests().len(), 0, "nothing was sent");
}

#[test]
fn a_gbk_file_is_decoded_and_said_so() {
    let env = Env::new();
    env.server.push(Reply::stream(&["ok"]));
    let gbk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gbk-notes.txt");
    let o = env.run(&["ask", "--file", gbk.to_str().unwrap(), "总结"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let user = last_user(&env.server.chat_requests()[0]);
    assert!(user.contains("差旅报销须在三十天内提交。"), "{user}");
    assert!(err(&o).contains("GB18030"), "{}", err(&o));
}

#[test]
fn files_that_cannot_be_read_say_why_and_send_nothing() {
    let env = Env::new();
    let docx = env.write(
        env.home(),
        "broken.docx",
        "this is not a zip archive at all",
    );
    let scan = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scanned.pdf");
    let bin = env.home().join("tool.bin");
    std::fs::write(&bin, [0u8, 159, 146, 150, 0, 1, 2, 3, 0, 0, 7, 200]).unwrap();
    let encrypted = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pdf/reportlab-encrypted.pdf");
    let locked_xlsx = office("encrypted.xlsx");
    let locked_pptx = office("encrypted.pptx");
    let truncated = office("truncated.xlsx");
    let cases: [(&std::path::Path, &str); 8] = [
        (&docx, "broken.docx is damaged or not a valid"),
        (
            &locked_xlsx,
            "encrypted.xlsx is password-protected (encrypted): save an unprotected copy",
        ),
        (&locked_pptx, "encrypted.pptx is password-protected"),
        (
            &truncated,
            "truncated.xlsx is damaged or not a valid XLSX file (not a zip archive",
        ),
        (&encrypted, "reportlab-encrypted.pdf is password-protected"),
        (&scan, "scanned.pdf has no text layer (3 page(s)"),
        (&bin, "tool.bin looks like a binary file"),
        (
            std::path::Path::new("/nonexistent/plan.txt"),
            "cannot read /nonexistent/plan.txt",
        ),
    ];
    for (path, says) in cases {
        let o = env.run(&["ask", "--file", path.to_str().unwrap(), "summarise"]);
        assert_eq!(o.status.code(), Some(2), "{}: {}", path.display(), err(&o));
        assert!(err(&o).contains(says), "{}: {}", path.display(), err(&o));
    }
    // A file over the configured size.
    config(&env, "[documents]\nmax_file_mb = 1\n");
    let big = env.write(env.home(), "big.txt", &"x ".repeat(600_000));
    let o = env.run(&["ask", "--file", big.to_str().unwrap(), "summarise"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("over the 1 MB limit"), "{}", err(&o));
    assert_eq!(env.server.chat_requests().len(), 0, "nothing was sent");
}

#[test]
fn summarize_reads_a_long_document_in_parts_and_combines_the_notes() {
    let env = Env::new();
    config(&env, TINY);
    let doc = long_document();
    let path = env.write(env.home(), "policy.txt", &doc);
    env.server.push(Reply::rate_limited("0"));
    env.server.set_default(Reply::stream(&["NOTE"]));
    let o = env.run(&[
        "--model",
        "tiny",
        "summarize",
        path.to_str().unwrap(),
        "--length",
        "short",
        "--lang",
        "zh",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: Value = serde_json::from_str(out(&o).trim()).unwrap();
    let n = v["parts"].as_u64().unwrap() as usize;
    assert!(n >= 5, "~3,000 tokens in parts of at most 400: {n}");
    let answer = v["answer"].as_str().unwrap();
    assert!(
        answer.starts_with("NOTE")
            && answer.contains(&format!("Built from {n} parts of policy.txt")),
        "{answer}"
    );

    let reqs = env.server.chat_requests();
    assert_eq!(
        reqs.len(),
        n + 2,
        "one request per part, one retry, one final"
    );
    let notes: Vec<&Recorded> = reqs.iter().filter(|r| is_notes_request(r)).collect();
    // n notes requests plus the one that was rate limited and retried with the same body.
    assert_eq!(notes.len(), n + 1);
    let mut seen = BTreeSet::new();
    for r in &notes {
        let user = last_user(r);
        assert!(
            user.contains("<request>\nSummarise the document below."),
            "the request travels with every part"
        );
        assert!(user.contains("Chinese (简体中文)"), "{user}");
        let part = user
            .split("part=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        assert!(part.ends_with(&format!(" of {n}")), "{part}");
        assert_eq!(
            r.json()["max_tokens"]
                .as_u64()
                .or(r.json()["max_completion_tokens"].as_u64()),
            Some(1000)
        );
        seen.insert(part);
        // Each part fits: 400 tokens is well under 2,400 bytes.
        let body = user.split("\">\n").nth(1).unwrap();
        assert!(body.len() < 2_400, "{}", body.len());
    }
    assert_eq!(seen.len(), n, "every part was read");
    // No text lost: every paragraph went out in some part, and neighbours overlap.
    for k in 1..=40 {
        assert!(
            notes
                .iter()
                .any(|r| last_user(r).contains(&format!("P{k}: "))),
            "paragraph {k} was sent"
        );
    }
    let copies: usize = (1..=40)
        .map(|k| {
            let needle = format!("P{k}: ");
            let in_parts: BTreeSet<String> = notes
                .iter()
                .map(|r| last_user(r))
                .filter(|u| u.contains(&needle))
                .collect();
            in_parts.len()
        })
        .sum();
    assert!(copies > 40, "some paragraphs are in two neighbouring parts");

    // The final request: the template's system prompt, the notes on every part in order.
    let last = reqs.last().unwrap();
    assert!(!is_notes_request(last));
    let m = messages(last);
    assert!(m[0].1.starts_with("You summarise documents"), "{}", m[0].1);
    let user = &m[1].1;
    assert!(user.contains(&format!("read in {n} parts")), "{user}");
    let mut at = 0;
    for i in 1..=n {
        let tag = format!("<notes on=\"policy.txt, part {i} of {n}\">\nNOTE\n</notes>");
        let pos = user.find(&tag).unwrap_or_else(|| panic!("{tag} in {user}"));
        assert!(pos >= at, "in order");
        at = pos;
    }
    assert!(
        !user.contains("P7: "),
        "the final request has notes, not the document"
    );
    // Progress went to stderr.
    let e = err(&o);
    assert!(e.contains(&format!("reading them in {n} parts")), "{e}");
    assert!(e.contains("rate limited"), "{e}");
    assert!(e.contains(&format!("reading part {n}/{n}")), "{e}");
}

#[test]
fn first_n_tokens_sends_one_request_instead_of_parts() {
    let env = Env::new();
    config(&env, TINY);
    let path = env.write(env.home(), "policy.txt", &long_document());
    env.server.set_default(Reply::stream(&["short"]));
    let o = env.run(&[
        "--model",
        "tiny",
        "summarize",
        path.to_str().unwrap(),
        "--first",
        "600",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let reqs = env.server.chat_requests();
    assert_eq!(reqs.len(), 1);
    let user = last_user(&reqs[0]);
    assert!(user.contains("P1: ") && !user.contains("P30: "), "{user}");
    assert!(
        err(&o).contains("sending only the first 600 tokens"),
        "{}",
        err(&o)
    );
}

#[test]
fn a_failed_part_stops_the_run_and_names_the_part() {
    let env = Env::new();
    config(&env, &TINY.replace("concurrency = 2", "concurrency = 1"));
    let path = env.write(env.home(), "policy.txt", &long_document());
    env.server.push(Reply::stream(&["NOTE"]));
    env.server.push(Reply::error(
        400,
        "This model's maximum context length is exceeded",
        "invalid_request_error",
        None,
    ));
    env.server.set_default(Reply::stream(&["NOTE"]));
    let o = env.run(&["--model", "tiny", "summarize", path.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        err(&o).contains("reading policy.txt, part 2 of"),
        "{}",
        err(&o)
    );
    assert_eq!(
        env.server.chat_requests().len(),
        2,
        "no request after the failure"
    );
    assert_eq!(out(&o), "");
}

#[test]
fn an_expensive_run_asks_first_and_stops_without_a_terminal() {
    let env = Env::new();
    config(
        &env,
        &TINY.replace("input_per_million = 0.15", "input_per_million = 100.0"),
    );
    let path = env.write(env.home(), "policy.txt", &long_document());
    env.server.set_default(Reply::stream(&["NOTE"]));
    let o = env.run(&["--model", "tiny", "summarize", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("above [documents] confirm_above_usd"),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("--yes"), "{}", err(&o));
    assert_eq!(env.server.chat_requests().len(), 0, "nothing was sent");
    let o = env.run(&[
        "--model",
        "tiny",
        "summarize",
        path.to_str().unwrap(),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(env.server.chat_requests().len() > 2);
}

#[test]
fn secrets_are_caught_before_sending() {
    let env = Env::new();
    let key = concat!("AKIA", "IOSFODNN7EXAMPLE");
    let path = env.write(
        env.home(),
        "deploy.txt",
        &format!("Deploy notes.\naws_access_key_id = {key}\nThen restart.\n"),
    );
    // No terminal: stop, list what was found (masked), send nothing.
    let o = env.run(&[
        "ask",
        "--file",
        path.to_str().unwrap(),
        "what does this do?",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("deploy.txt line 2: AWS access key"), "{e}");
    assert!(!e.contains(key), "the secret itself is never printed");
    assert!(e.contains("--secrets redact"), "{e}");
    assert_eq!(env.server.chat_requests().len(), 0);
    // Redact: the key is replaced in what is sent.
    env.server.push(Reply::stream(&["ok"]));
    let o = env.run(&[
        "ask",
        "--file",
        path.to_str().unwrap(),
        "--secrets",
        "redact",
        "what does this do?",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let user = last_user(&env.server.chat_requests()[0]);
    assert!(
        user.contains("[REDACTED:aws-access-key]") && !user.contains(key),
        "{user}"
    );
    // Send anyway: as it is.
    env.server.push(Reply::stream(&["ok"]));
    let o = env.run(&[
        "ask",
        "--file",
        path.to_str().unwrap(),
        "--secrets",
        "send",
        "what does this do?",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(last_user(&env.server.chat_requests()[1]).contains(key));
    // The question is scanned too, and `clerk run` values.
    let o = env.run(&["ask", &format!("is {key} valid?")]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let o = env.run(&[
        "run",
        "summarize",
        "--var",
        &format!("document=@{}", path.display()),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("document line 2: AWS access key"),
        "{}",
        err(&o)
    );
    assert_eq!(env.server.chat_requests().len(), 2);
}

#[test]
fn clerk_run_reads_a_pdf_variable() {
    let env = Env::new();
    env.server.push(Reply::stream(&["summary"]));
    let pdf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two-pages.pdf");
    let o = env.run(&[
        "run",
        "summarize",
        "--var",
        &format!("document=@{}", pdf.display()),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let user = last_user(&env.server.chat_requests()[0]);
    assert!(
        user.contains("--- page 2 ---\nExpenses are filed within 30 days."),
        "{user}"
    );
}

#[test]
fn clerk_run_reads_a_long_document_variable_in_parts() {
    let env = Env::new();
    config(&env, TINY);
    env.write(
        &env.user_dir(),
        "risks.toml",
        "title = \"List the risks\"\nprompt = \"List the risks in:\\n{{doc}}\"\n\n[[variables]]\nname = \"doc\"\nkind = \"file\"\n",
    );
    let path = env.write(env.home(), "policy.txt", &long_document());
    env.server.set_default(Reply::stream(&["NOTE"]));
    let o = env.run(&[
        "--model",
        "tiny",
        "run",
        "risks",
        "--var",
        &format!("doc={}", path.display()),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let reqs = env.server.chat_requests();
    let notes = reqs.iter().filter(|r| is_notes_request(r)).count();
    assert!(notes >= 5, "{notes}");
    assert_eq!(reqs.len(), notes + 1);
    let last = last_user(reqs.last().unwrap());
    assert!(
        last.starts_with("List the risks in:\nThe documents were too long"),
        "{last}"
    );
    assert!(
        out(&o).contains(&format!("Built from {notes} parts of doc")),
        "{}",
        out(&o)
    );
}

#[test]
fn parts_are_read_at_most_concurrency_at_a_time_and_ctrl_c_stops_them() {
    let env = Env::new();
    config(&env, TINY);
    let path = env.write(env.home(), "policy.txt", &long_document());
    // Every request hangs: the number in flight is the number the server sees.
    env.server.set_default(Reply::hang());
    let mut child = env
        .cmd(&["--model", "tiny", "summarize", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while env.server.chat_requests().len() < 2 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no requests"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(
        env.server.chat_requests().len(),
        2,
        "concurrency = 2: no third request while two are open"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = std::time::Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "Ctrl-C did not stop it"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(code, Some(130));
    assert_eq!(
        env.server.chat_requests().len(),
        2,
        "nothing more after the stop"
    );
}

#[test]
fn an_answer_that_fails_between_parts_keeps_what_the_parts_before_it_cost() {
    let env = Env::new();
    config(&env, &TINY.replace("concurrency = 2", "concurrency = 1"));
    let path = env.write(env.home(), "policy.txt", &long_document());
    // Two parts are read (12 tokens in, 1 out each, as the server counts), the third is
    // refused: the answer fails, and its record keeps what the two cost.
    env.server.push(Reply::stream(&["NOTE"]));
    env.server.push(Reply::stream(&["NOTE"]));
    env.server
        .set_default(Reply::error(400, "bad part", "invalid_request_error", None));
    let o = env.run(&[
        "--model",
        "tiny",
        "ask",
        "--file",
        path.to_str().unwrap(),
        "summarise",
    ]);
    assert_ne!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(env.server.chat_requests().len(), 3, "{}", err(&o));
    let o = env.run(&["sessions", "show", "last", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let show: Value = serde_json::from_str(&out(&o)).unwrap();
    let answer = &show["messages"][1];
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["status"], "error", "{answer}");
    // Not as the answer's tokens: those are read as the conversation's size.
    assert!(answer["usage"]["tokens_in"].is_null(), "{answer}");
    let cost = answer["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (24.0 * 0.15 + 2.0 * 0.60) / 1e6).abs() < 1e-12,
        "{cost}"
    );
}

#[test]
fn a_long_history_is_trimmed_not_read_in_parts() {
    let env = Env::new();
    config(&env, TINY);
    let long_answer = "The policy says many things about travel and receipts. ".repeat(100);
    for q in ["first question", "second question"] {
        env.server.push(Reply::stream(&[&long_answer]));
        let args: Vec<&str> = if q == "first question" {
            vec!["--model", "tiny", "ask", q]
        } else {
            vec!["--model", "tiny", "ask", "--session", "last", q]
        };
        let o = env.run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    }
    env.server.clear_requests();
    env.server.push(Reply::stream(&["short"]));
    let o = env.run(&[
        "--model",
        "tiny",
        "ask",
        "--session",
        "last",
        "third question",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let reqs = env.server.chat_requests();
    assert_eq!(reqs.len(), 1, "one request: no parts without documents");
    assert!(!is_notes_request(&reqs[0]));
    assert_eq!(last_user(&reqs[0]), "third question");
    assert!(
        err(&o).contains("earlier message(s) left out"),
        "{}",
        err(&o)
    );
}

/// Endless input (a device, a pipe, standard input) stops at the size limit, says which
/// limit was hit, and sends nothing; binary bytes on standard input are refused as for files.
#[cfg(unix)]
#[test]
fn endless_input_stops_at_the_limit() {
    let env = Env::new();
    config(&env, "[documents]\nmax_file_mb = 1\n");
    let o = env.run(&["ask", "--file", "/dev/zero", "what is this?"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("/dev/zero goes on past the 1 MB limit"),
        "{}",
        err(&o)
    );

    let o = env.run(&["run", "summarize", "--var", "document=@/dev/zero"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(err(&o).contains("past the 1 MB limit"), "{}", err(&o));

    let zero = std::fs::File::open("/dev/zero").unwrap();
    let o = env
        .cmd(&["ask", "what is this?"])
        .stdin(zero)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("standard input goes on past the 1 MB limit"),
        "{}",
        err(&o)
    );

    let o = env.run_with_stdin(&["ask", "q"], "text\0with\0NULs\0\0\0");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("standard input looks like a binary file"),
        "{}",
        err(&o)
    );
    assert_eq!(env.server.chat_requests().len(), 0, "nothing was sent");
}
