//! Text out of the files people have at hand: plain text and code (UTF-8, UTF-16 with a BOM,
//! GBK/GB18030), Markdown, HTML (its readable text), CSV/TSV (a Markdown table with its row
//! count), PDF (the text layer, page by page), and the Office files in [`super::office`]:
//! DOCX (paragraphs, headings, tables), XLSX (a table per sheet) and PPTX (slide by slide).
//!
//! Everything is done with well-kept crates (pdf_oxide, zip + quick-xml, calamine,
//! html2text, csv, encoding_rs); nothing here parses PDF by hand. Every parser runs inside
//! [`super::guard::quietly`], so a parser's panic is an error for that file, not a broken
//! terminal. Every failure names the file and says what to do. This module reads the one
//! file it is given and writes nothing.

use std::io::Read;
use std::path::Path;

/// The default size limit of a file to extract (config `[documents] max_file_mb`).
pub const DEFAULT_MAX_BYTES: u64 = 50 * 1024 * 1024;

pub use super::document::{Document, ExtractError, Kind};
use super::table::markdown_table;

/// The kind a file name suggests.
pub fn kind_of(name: &str) -> Kind {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => Kind::Pdf,
        "docx" => Kind::Docx,
        "xlsx" => Kind::Xlsx,
        "pptx" => Kind::Pptx,
        "html" | "htm" | "xhtml" => Kind::Html,
        "csv" | "tsv" => Kind::Csv,
        "md" | "markdown" => Kind::Markdown,
        _ => Kind::Text,
    }
}

/// Read and extract a file, refusing files over `max_bytes`.
pub fn extract_file(path: &Path, max_bytes: u64) -> Result<Document, ExtractError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let unreadable = |e: std::io::Error| ExtractError::Unreadable {
        name: path.display().to_string(),
        why: crate::i18n::os_error(&e),
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(ExtractError::Unreadable {
            name: path.display().to_string(),
            why: tr!("documents.why.folder").into_owned(),
        });
    }
    if meta.len() > max_bytes {
        return Err(ExtractError::TooLarge {
            name,
            size_mb: meta.len() as f64 / 1_048_576.0,
            limit_mb: max_bytes / 1_048_576,
        });
    }
    // The size above is 0 for pipes and devices (/dev/zero): the read itself stops at the
    // limit.
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let bytes = read_at_most(file, max_bytes, &path.display().to_string())?;
    extract_bytes_within(&name, &bytes, max_bytes)
}

/// Everything `reader` gives, up to `max_bytes`; more than that is an error, found after
/// reading one byte past the limit, never by reading on.
pub fn read_at_most(
    reader: impl Read,
    max_bytes: u64,
    name: &str,
) -> Result<Vec<u8>, ExtractError> {
    let mut bytes = Vec::new();
    reader
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ExtractError::Unreadable {
            name: name.to_string(),
            why: e.to_string(),
        })?;
    if bytes.len() as u64 > max_bytes {
        return Err(ExtractError::EndlessInput {
            name: name.to_string(),
            limit_mb: max_bytes / 1_048_576,
        });
    }
    Ok(bytes)
}

/// Extract a document from its bytes; `name` decides the kind (and is used in messages).
/// What an Office file unpacks to is bounded by the default limit ([`DEFAULT_MAX_BYTES`]).
pub fn extract_bytes(name: &str, bytes: &[u8]) -> Result<Document, ExtractError> {
    extract_bytes_within(name, bytes, DEFAULT_MAX_BYTES)
}

/// Extract a document from its bytes, the file's size limit being `max_bytes`: an Office
/// file may unpack to at most [`super::office::UNPACKED_FACTOR`] times that, and give at
/// most that much text.
pub fn extract_bytes_within(
    name: &str,
    bytes: &[u8],
    max_bytes: u64,
) -> Result<Document, ExtractError> {
    let kind = kind_of(name);
    let mut doc = Document::new(name, kind, bytes.len() as u64);
    let parsed = super::guard::quietly(|| -> Result<Document, ExtractError> {
        match kind {
            Kind::Pdf => pdf(name, bytes, &mut doc)?,
            Kind::Docx => super::office::docx(&mut doc, bytes, max_bytes)?,
            Kind::Xlsx => super::office::xlsx(&mut doc, bytes, max_bytes)?,
            Kind::Pptx => super::office::pptx(&mut doc, bytes, max_bytes)?,
            Kind::Html => {
                let text = decode_text(name, bytes, &mut doc.notes)?;
                doc.text = html(&text);
            }
            Kind::Csv => {
                let text = decode_text(name, bytes, &mut doc.notes)?;
                let tab = name.to_ascii_lowercase().ends_with(".tsv");
                let (table, rows) = csv_table(name, &text, if tab { b'\t' } else { b',' })?;
                doc.text = table;
                doc.rows = Some(rows);
            }
            Kind::Text | Kind::Markdown => doc.text = decode_text(name, bytes, &mut doc.notes)?,
        }
        Ok(doc)
    });
    parsed.unwrap_or_else(|why| {
        Err(ExtractError::Corrupt {
            name: name.to_string(),
            kind: kind.label(),
            why: tr!(
                "documents.why.reader_failed",
                kind = kind.label(),
                why = why
            )
            .into_owned(),
        })
    })
}

/// Bytes to text: a BOM (UTF-8, UTF-16 LE/BE) decides; else UTF-8; else GB18030 (GBK) when
/// that decodes cleanly; else UTF-8 with invalid bytes replaced (and said so). NUL bytes
/// outside UTF-16 mean a binary file.
pub fn decode_text(
    name: &str,
    bytes: &[u8],
    notes: &mut Vec<String>,
) -> Result<String, ExtractError> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _, had_errors) = enc.decode(bytes);
        let _ = bom;
        if had_errors {
            notes.push(
                tr!(
                    "documents.note.invalid_replaced",
                    name = name,
                    encoding = enc.name()
                )
                .into_owned(),
            );
        }
        if enc != encoding_rs::UTF_8 {
            notes.push(
                tr!(
                    "documents.note.decoded_as",
                    name = name,
                    encoding = enc.name()
                )
                .into_owned(),
            );
        }
        return Ok(text.into_owned());
    }
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return Err(ExtractError::Binary {
            name: name.to_string(),
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            if !had_errors {
                notes.push(
                    tr!(
                        "documents.note.decoded_as",
                        name = name,
                        encoding = "GB18030 (GBK)"
                    )
                    .into_owned(),
                );
                return Ok(text.into_owned());
            }
            let lossy = String::from_utf8_lossy(bytes);
            let replaced = lossy.matches('\u{FFFD}').count();
            notes
                .push(tr!("documents.note.bytes_replaced", name = name, n = replaced).into_owned());
            Ok(lossy.into_owned())
        }
    }
}

fn pdf(name: &str, bytes: &[u8], doc: &mut Document) -> Result<(), ExtractError> {
    if !bytes.starts_with(b"%PDF") {
        return Err(ExtractError::Corrupt {
            name: name.to_string(),
            kind: "PDF",
            why: tr!("documents.why.not_pdf").into_owned(),
        });
    }
    let corrupt = |e: pdf_oxide::Error| {
        let why = e.to_string();
        let lower = why.to_ascii_lowercase();
        if lower.contains("encrypt") || lower.contains("password") {
            ExtractError::Encrypted {
                name: name.to_string(),
            }
        } else {
            ExtractError::Corrupt {
                name: name.to_string(),
                kind: "PDF",
                why,
            }
        }
    };
    let mut pdf = pdf_oxide::PdfDocument::from_bytes(bytes.to_vec()).map_err(corrupt)?;
    // A PDF with only an owner password opens with the empty user password; one that
    // needs a password to be read cannot be.
    if pdf.is_encrypted() && !pdf.authenticate(b"").unwrap_or(false) {
        return Err(ExtractError::Encrypted {
            name: name.to_string(),
        });
    }
    let count = pdf.page_count().map_err(corrupt)?;
    let pages = (0..count)
        .map(|i| pdf.extract_text(i).map_err(corrupt))
        .collect::<Result<Vec<String>, ExtractError>>()?;
    doc.pages = Some(pages.len());
    if pages.iter().all(|p| p.trim().is_empty()) {
        return Err(ExtractError::NoText {
            name: name.to_string(),
            pages: pages.len(),
        });
    }
    let mut text = String::new();
    for (i, p) in pages.iter().enumerate() {
        if i > 0 {
            text.push_str("\n\n");
        }
        text.push_str(&format!("--- page {} ---\n", i + 1));
        text.push_str(p.trim());
    }
    doc.text = text;
    Ok(())
}

/// The readable text of an HTML page (links and structure kept as plain-text Markdown).
fn html(text: &str) -> String {
    html2text::from_read(text.as_bytes(), 100).unwrap_or_else(|_| text.to_string())
}

/// A CSV/TSV as a Markdown table; the number of data rows.
fn csv_table(name: &str, text: &str, delimiter: u8) -> Result<(String, usize), ExtractError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows: Vec<Vec<String>> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ExtractError::Corrupt {
            name: name.to_string(),
            kind: "CSV",
            why: e.to_string(),
        })?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    Ok((markdown_table(&rows), rows.len().saturating_sub(1)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use crate::documents::fixtures::pdf_with_pages;

    /// A small DOCX with a heading, a paragraph with an entity, and a table.
    pub(crate) fn docx_bytes() -> Vec<u8> {
        let xml = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Travel policy 差旅</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">File claims within </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>30 days</w:t></w:r><w:r><w:t> &amp; keep receipts.</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Item</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Limit</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:p><w:r><w:t>Hotel</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>450 元</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:r><w:t>After the table.</w:t></w:r></w:p>
</w:body></w:document>"#;
        crate::documents::office::tests::package(&[
            ("[Content_Types].xml", "<Types/>"),
            ("word/document.xml", xml),
        ])
    }

    #[test]
    fn text_encodings() {
        let mut notes = Vec::new();
        assert_eq!(
            decode_text("a.txt", "plain 中文".as_bytes(), &mut notes).unwrap(),
            "plain 中文"
        );
        assert!(notes.is_empty());
        // UTF-16 LE and BE with a BOM.
        let mut le = vec![0xFF, 0xFE];
        for u in "报销 ok".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode_text("w.txt", &le, &mut notes).unwrap(), "报销 ok");
        let mut be = vec![0xFE, 0xFF];
        for u in "报销 ok".encode_utf16() {
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(decode_text("w.txt", &be, &mut notes).unwrap(), "报销 ok");
        assert!(notes.iter().any(|n| n.contains("UTF-16")));
        // GBK, as Chinese Windows writes it.
        let (gbk, _, _) = encoding_rs::GBK.encode("差旅报销流程：30 天内提交");
        let mut notes = Vec::new();
        assert_eq!(
            decode_text("g.txt", &gbk, &mut notes).unwrap(),
            "差旅报销流程：30 天内提交"
        );
        assert!(notes[0].contains("GB18030"), "{notes:?}");
        // Invalid bytes that are not GB18030 either: replaced and reported.
        let mut notes = Vec::new();
        let text = decode_text("bad.txt", b"ok \xff\xff\xff end", &mut notes).unwrap();
        assert!(text.starts_with("ok ") && text.ends_with(" end"));
        assert!(notes[0].contains("replaced"), "{notes:?}");
        // NUL bytes: a binary file.
        let e = extract_bytes("photo.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap_err();
        assert!(matches!(e, ExtractError::Binary { .. }), "{e}");
        assert!(e.to_string().contains("photo.txt"));
    }

    #[test]
    fn pdf_pages_are_kept_and_a_scan_is_named() {
        let d = extract_bytes(
            "report.pdf",
            &pdf_with_pages(&["First page text", "Second page text"]),
        )
        .unwrap();
        assert_eq!(d.pages, Some(2));
        assert!(d.text.contains("--- page 1 ---"), "{}", d.text);
        assert!(d.text.contains("First page text"), "{}", d.text);
        assert!(
            d.text.contains("--- page 2 ---\nSecond page text"),
            "{}",
            d.text
        );
        let e = extract_bytes("scan.pdf", &pdf_with_pages(&["", ""])).unwrap_err();
        assert_eq!(
            e,
            ExtractError::NoText {
                name: "scan.pdf".into(),
                pages: 2
            }
        );
        assert!(e.to_string().contains("OCR"));
        let e = extract_bytes("broken.pdf", b"%PDF-1.4\ngarbage").unwrap_err();
        assert!(matches!(e, ExtractError::Corrupt { .. }), "{e}");
        let e = extract_bytes("fake.pdf", b"hello").unwrap_err();
        assert!(e.to_string().contains("fake.pdf"));
    }

    #[test]
    fn docx_paragraphs_headings_and_tables() {
        let d = extract_bytes("policy.docx", &docx_bytes()).unwrap();
        assert_eq!(
            d.text,
            "# Travel policy 差旅\n\nFile claims within 30 days & keep receipts.\n\n| Item | Limit |\n|---|---|\n| Hotel | 450 元 |\n\nAfter the table.\n"
        );
        let e = extract_bytes("bad.docx", b"PK\x03\x04 not really a zip").unwrap_err();
        assert!(matches!(e, ExtractError::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains("bad.docx"));
        // An encrypted Office file: an OLE compound file with an `EncryptionInfo` stream.
        let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        ole.extend_from_slice(&[0; 64]);
        for u in "EncryptionInfo".encode_utf16() {
            ole.extend_from_slice(&u.to_le_bytes());
        }
        let e = extract_bytes("secret.docx", &ole).unwrap_err();
        assert_eq!(
            e,
            ExtractError::Encrypted {
                name: "secret.docx".into()
            }
        );
    }

    #[test]
    fn html_csv_and_markdown() {
        let d = extract_bytes(
            "page.html",
            b"<html><head><style>p{}</style><script>var x=1;</script></head><body><h1>Expenses</h1><p>File <b>within</b> 30 days.</p><ul><li>one</li></ul></body></html>",
        )
        .unwrap();
        assert!(d.text.contains("Expenses"), "{}", d.text);
        assert!(d.text.contains("30 days"), "{}", d.text);
        assert!(!d.text.contains("var x"), "{}", d.text);
        let d = extract_bytes("t.csv", b"name,amount\n\"Hotel, Paris\",450\nTaxi,30\n").unwrap();
        assert_eq!(d.rows, Some(2));
        assert_eq!(
            d.text,
            "| name | amount |\n|---|---|\n| Hotel, Paris | 450 |\n| Taxi | 30 |\n"
        );
        let d = extract_bytes("t.tsv", b"a\tb\n1\t2\n").unwrap();
        assert_eq!(d.rows, Some(1));
        let d = extract_bytes("notes.md", "# Title\n\ntext".as_bytes()).unwrap();
        assert_eq!(
            (d.kind, d.text.as_str()),
            (Kind::Markdown, "# Title\n\ntext")
        );
    }

    #[test]
    fn files_over_the_limit_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.txt");
        std::fs::write(&p, vec![b'a'; 2 * 1024 * 1024 + 1]).unwrap();
        let e = extract_file(&p, 2 * 1024 * 1024).unwrap_err();
        assert!(e.to_string().contains("over the 2 MB limit"), "{e}");
        let e = extract_file(&dir.path().join("nope.txt"), DEFAULT_MAX_BYTES).unwrap_err();
        assert!(e.to_string().contains("nope.txt"), "{e}");
    }
}
