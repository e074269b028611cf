//! Word (.docx): the body of `word/document.xml` as Markdown — paragraphs, headings (the
//! `Title` and `HeadingN` styles) as `#` headings, tables as Markdown tables (a nested table
//! is flattened into its cell). Headers, footers, comments and footnotes are not read.
//!
//! It reads the one package it is given and writes nothing.

use quick_xml::events::Event;

use super::{Package, attr, push_text};
use crate::documents::document::{Document, ExtractError, Kind};
use crate::documents::table::markdown_table;

/// Fill `doc` from the DOCX in `bytes`.
pub(in crate::documents) fn docx(
    doc: &mut Document,
    bytes: &[u8],
    max_bytes: u64,
) -> Result<(), ExtractError> {
    let mut package = Package::open(&doc.name, Kind::Docx, bytes, max_bytes)?;
    let xml = package.require("word/document.xml")?;
    doc.text = body(&xml).map_err(|e| package.corrupt(format!("word/document.xml: {e}")))?;
    Ok(())
}

/// The Markdown of a DOCX body.
fn body(xml: &str) -> Result<String, quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = String::new();
    let mut para = String::new();
    let mut heading: Option<usize> = None;
    let mut in_text = false;
    // Tables: rows of cells; nested tables are flattened into their cell.
    let mut table_depth = 0usize;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cell = String::new();
    loop {
        let event = reader.read_event()?;
        match &event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "t" => in_text = matches!(event, Event::Start(_)),
                "tab" => para.push('\t'),
                "br" | "cr" => para.push('\n'),
                "pStyle" => {
                    let v = attr(e, "val").unwrap_or_default().to_ascii_lowercase();
                    heading = if v == "title" {
                        Some(1)
                    } else {
                        v.strip_prefix("heading")
                            .and_then(|n| n.trim().parse::<usize>().ok())
                            .map(|n| n.clamp(1, 6))
                    };
                }
                "tbl" => {
                    table_depth += 1;
                    if table_depth == 1 {
                        rows.clear();
                    }
                }
                "tr" if table_depth == 1 => rows.push(Vec::new()),
                "tc" if table_depth == 1 => cell.clear(),
                _ => {}
            },
            Event::Text(_) | Event::GeneralRef(_) if in_text => push_text(&mut para, &event),
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => {
                    let text = std::mem::take(&mut para);
                    if table_depth > 0 {
                        if !cell.is_empty() && !text.is_empty() {
                            cell.push(' ');
                        }
                        cell.push_str(text.trim());
                    } else if !text.trim().is_empty() {
                        if let Some(level) = heading {
                            out.push_str(&"#".repeat(level));
                            out.push(' ');
                        }
                        out.push_str(text.trim_end());
                        out.push_str("\n\n");
                    }
                    heading = None;
                }
                "tc" if table_depth == 1 => {
                    if let Some(row) = rows.last_mut() {
                        row.push(std::mem::take(&mut cell));
                    }
                }
                "tbl" => {
                    table_depth = table_depth.saturating_sub(1);
                    if table_depth == 0 && !rows.is_empty() {
                        out.push_str(&markdown_table(&rows));
                        out.push('\n');
                        rows.clear();
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out.trim_end().to_string() + "\n")
}
