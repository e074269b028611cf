//! PowerPoint (.pptx): slide by slide in the presentation's order (the slide list of
//! `ppt/presentation.xml` and its relationships, not the parts' file names), each under a
//! `# Slide N: TITLE` heading (the chunker cuts along headings, so a part names its slide),
//! then the text of its shapes in the slide's order, its tables as Markdown tables, and its
//! speaker notes after `Speaker notes:`. Hidden slides are read and said to be hidden.
//! Charts, SmartArt and pictures have no text here.
//!
//! Read with zip + quick-xml (no well-kept crate reads PPTX text). Each part is read within
//! the package's unpacked-size budget, and the text stops at the file limit. It reads the
//! one file it is given and writes nothing.

use quick_xml::events::{BytesStart, Event};

use super::{Package, attr, push_text, value};
use crate::documents::document::{Document, ExtractError, Kind};
use crate::documents::table::markdown_table;

/// Fill `doc` from the PPTX in `bytes`: the text and the number of slides.
pub(in crate::documents) fn pptx(
    doc: &mut Document,
    bytes: &[u8],
    max_bytes: u64,
) -> Result<(), ExtractError> {
    let mut package = Package::open(&doc.name, Kind::Pptx, bytes, max_bytes)?;
    let main = package
        .relationships("")?
        .into_values()
        .find(|(kind, _)| kind == "officeDocument")
        .map(|(_, path)| path)
        .unwrap_or_else(|| "ppt/presentation.xml".to_string());
    let xml = package.require(&main)?;
    let ids = slide_ids(&xml).map_err(|e| package.corrupt(format!("{main}: {e}")))?;
    let rels = package.relationships(&main)?;
    let mut text = String::new();
    for (i, id) in ids.iter().enumerate() {
        let n = i + 1;
        let Some((_, path)) = rels.get(id).filter(|(kind, _)| kind == "slide") else {
            doc.notes
                .push(tr!("documents.note.slide_missing", n = n).into_owned());
            continue;
        };
        let Some(xml) = package.read(path)? else {
            doc.notes
                .push(tr!("documents.note.slide_missing", n = n).into_owned());
            continue;
        };
        let slide = shapes(&xml).map_err(|e| package.corrupt(format!("{path}: {e}")))?;
        let notes = match package
            .relationships(path)?
            .into_values()
            .find(|(kind, _)| kind == "notesSlide")
        {
            Some((_, notes_path)) => match package.read(&notes_path)? {
                Some(xml) => shapes(&xml)
                    .map_err(|e| package.corrupt(format!("{notes_path}: {e}")))?
                    .shapes
                    .into_iter()
                    .filter(|s| s.placeholder.as_deref() == Some("body"))
                    .map(|s| s.text)
                    .collect(),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        if !text.is_empty() {
            text.push('\n');
        }
        write_slide(&mut text, n, slide, &notes);
        if text.len() as u64 > max_bytes {
            return Err(ExtractError::TooMuchInside {
                name: doc.name.clone(),
                limit_mb: max_bytes / 1_048_576,
                what: "text",
            });
        }
    }
    doc.text = text;
    doc.slides = Some(ids.len());
    Ok(())
}

/// One slide as Markdown: its heading, its shapes' text, its notes.
fn write_slide(out: &mut String, n: usize, slide: Slide, notes: &[String]) {
    let is_title = |s: &Shape| matches!(s.placeholder.as_deref(), Some("title") | Some("ctrTitle"));
    let title = slide
        .shapes
        .iter()
        .find(|s| is_title(s))
        .map(|s| s.text.split_whitespace().collect::<Vec<_>>().join(" "));
    out.push_str(&format!("# Slide {n}"));
    if let Some(t) = title.as_deref().filter(|t| !t.is_empty()) {
        out.push_str(": ");
        out.push_str(t);
    }
    if slide.hidden {
        out.push_str(" (hidden)");
    }
    out.push_str("\n\n");
    for shape in slide.shapes.iter().filter(|s| !is_title(s)) {
        out.push_str(shape.text.trim_end());
        out.push_str("\n\n");
    }
    if !notes.is_empty() {
        out.push_str("Speaker notes:\n");
        for note in notes {
            out.push_str(note.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    out.push('\n');
}

/// The relationship ids of the slides, in the presentation's order (`p:sldIdLst`).
fn slide_ids(xml: &str) -> Result<Vec<String>, quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut ids = Vec::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "sldId" => {
                // `id` is the slide's number; `r:id` (any prefix) names the relationship.
                let rel = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.local_name().as_ref() == "id" && a.key.prefix().is_some())
                    .map(|a| value(&a));
                if let Some(rel) = rel {
                    ids.push(rel);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(ids)
}

/// A shape with text, or a table.
#[derive(Debug, PartialEq)]
struct Shape {
    /// The placeholder's type (`title`, `ctrTitle`, `body`, `subTitle`…; `obj` when a
    /// placeholder gives none), `None` for a text box or a table.
    placeholder: Option<String>,
    /// Its paragraphs, one a line, or a Markdown table.
    text: String,
}

/// What a slide (or a notes page) holds.
#[derive(Debug, Default)]
struct Slide {
    shapes: Vec<Shape>,
    /// `show="0"`: hidden in the slide show.
    hidden: bool,
}

/// The shapes with text of a slide or notes part, in their order in the shape tree.
fn shapes(xml: &str) -> Result<Slide, quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut slide = Slide::default();
    // The shape being read: its placeholder and lines.
    let mut in_shape = false;
    let mut placeholder: Option<String> = None;
    let mut lines: Vec<String> = Vec::new();
    let mut para = String::new();
    let mut in_text = false;
    // A table: its rows, the cell being read.
    let mut table_depth = 0usize;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cell: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event()?;
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.local_name().as_ref() {
                    "sld" => slide.hidden = attr(e, "show").as_deref() == Some("0"),
                    "sp" if !empty => {
                        in_shape = true;
                        placeholder = None;
                        lines.clear();
                    }
                    "ph" if in_shape => placeholder = Some(placeholder_type(e)),
                    "p" if !empty => para.clear(),
                    "t" => in_text = !empty,
                    "br" => para.push('\n'),
                    "tbl" if !empty => {
                        table_depth += 1;
                        if table_depth == 1 {
                            rows.clear();
                        }
                    }
                    "tr" if table_depth == 1 && !empty => rows.push(Vec::new()),
                    "tc" if table_depth == 1 => {
                        cell.clear();
                        if empty && let Some(row) = rows.last_mut() {
                            row.push(String::new());
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) if in_text => {
                push_text(&mut para, &event);
            }
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => {
                    let text = std::mem::take(&mut para);
                    let text = text.trim();
                    if !text.is_empty() {
                        if table_depth > 0 {
                            cell.push(text.to_string());
                        } else if in_shape {
                            lines.push(text.to_string());
                        }
                    }
                }
                "tc" if table_depth == 1 => {
                    if let Some(row) = rows.last_mut() {
                        row.push(cell.join(" "));
                    }
                }
                "tbl" => {
                    table_depth = table_depth.saturating_sub(1);
                    if table_depth == 0 && rows.iter().flatten().any(|c| !c.is_empty()) {
                        slide.shapes.push(Shape {
                            placeholder: None,
                            text: markdown_table(&rows),
                        });
                    }
                }
                "sp" if in_shape => {
                    in_shape = false;
                    if !lines.is_empty() {
                        slide.shapes.push(Shape {
                            placeholder: placeholder.take(),
                            text: lines.join("\n"),
                        });
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(slide)
}

/// A placeholder's type: its `type` attribute, or `obj` (a content placeholder) without one.
fn placeholder_type(e: &BytesStart<'_>) -> String {
    attr(e, "type").unwrap_or_else(|| "obj".to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn read(name: &str, bytes: &[u8], max_bytes: u64) -> Result<Document, ExtractError> {
        reader_on(Kind::Pptx, pptx, name, bytes, max_bytes)
    }
    use crate::documents::office::tests::{package, reader_on};

    const NS: &str = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;

    fn rel(id: &str, kind: &str, target: &str) -> String {
        format!(
            r#"<Relationship Id="{id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/>"#
        )
    }

    fn text_shape(ph: &str, paragraphs: &[&str]) -> String {
        let ps: String = paragraphs
            .iter()
            .map(|p| format!("<a:p><a:r><a:t>{p}</a:t></a:r></a:p>"))
            .collect();
        format!(
            "<p:sp><p:nvSpPr><p:cNvPr id=\"2\" name=\"s\"/><p:cNvSpPr/><p:nvPr>{ph}</p:nvPr></p:nvSpPr><p:txBody><a:bodyPr/>{ps}</p:txBody></p:sp>"
        )
    }

    /// A deck whose file names run against its order: slide2.xml is shown first.
    fn deck() -> Vec<u8> {
        let presentation = format!(
            r#"<p:presentation {NS}><p:sldIdLst><p:sldId id="256" r:id="rId7"/><p:sldId id="257" r:id="rId3"/></p:sldIdLst></p:presentation>"#
        );
        let pres_rels = format!(
            "<Relationships>{}{}{}</Relationships>",
            rel("rId3", "slide", "slides/slide1.xml"),
            rel("rId7", "slide", "slides/slide2.xml"),
            rel("rId9", "slideMaster", "slideMasters/slideMaster1.xml"),
        );
        let first = format!(
            r#"<p:sld {NS}><p:cSld><p:spTree>{}{}<p:graphicFrame><a:graphic><a:graphicData><a:tbl>
<a:tr><a:tc><a:txBody><a:p><a:r><a:t>City</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>Limit</a:t></a:r></a:p></a:txBody></a:tc></a:tr>
<a:tr><a:tc><a:txBody><a:p><a:r><a:t>上海</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>900 &amp; up</a:t></a:r></a:p></a:txBody></a:tc></a:tr>
</a:tbl></a:graphicData></a:graphic></p:graphicFrame></p:spTree></p:cSld></p:sld>"#,
            text_shape(r#"<p:ph type="title"/>"#, &["Hotel limits", "2026"]),
            text_shape(r#"<p:ph idx="1"/>"#, &["Book early", "住宿标准"]),
        );
        let second = format!(
            r#"<p:sld {NS} show="0"><p:cSld><p:spTree>{}</p:spTree></p:cSld></p:sld>"#,
            text_shape("", &["A text box without a title"]),
        );
        let notes = format!(
            r#"<p:notes {NS}><p:cSld><p:spTree>{}{}{}</p:spTree></p:cSld></p:notes>"#,
            text_shape(r#"<p:ph type="sldImg"/>"#, &[]),
            text_shape(
                r#"<p:ph type="body" idx="1"/>"#,
                &["Mention the 上海 exception."]
            ),
            text_shape(r#"<p:ph type="sldNum"/>"#, &["2"]),
        );
        let root_rels = format!(
            "<Relationships>{}</Relationships>",
            rel("rId1", "officeDocument", "ppt/presentation.xml")
        );
        let slide2_rels = format!(
            "<Relationships>{}</Relationships>",
            rel("rId2", "notesSlide", "../notesSlides/notesSlide1.xml")
        );
        package(&[
            ("_rels/.rels", &root_rels),
            ("ppt/presentation.xml", &presentation),
            ("ppt/_rels/presentation.xml.rels", &pres_rels),
            ("ppt/slides/slide1.xml", &first),
            ("ppt/slides/slide2.xml", &second),
            ("ppt/slides/_rels/slide2.xml.rels", &slide2_rels),
            ("ppt/notesSlides/notesSlide1.xml", &notes),
        ])
    }

    #[test]
    fn slides_in_the_presentations_order_with_tables_and_notes() {
        let d = read("deck.pptx", &deck(), 1 << 20).unwrap();
        assert_eq!(
            d.text,
            "# Slide 1 (hidden)\n\nA text box without a title\n\n\
             Speaker notes:\nMention the 上海 exception.\n\n\
             # Slide 2: Hotel limits 2026\n\nBook early\n住宿标准\n\n\
             | City | Limit |\n|---|---|\n| 上海 | 900 & up |\n"
        );
        assert_eq!((d.kind, d.slides), (Kind::Pptx, Some(2)));
        assert!(d.notes.is_empty(), "{:?}", d.notes);
    }

    #[test]
    fn a_deck_over_the_limit_or_without_slides_is_named() {
        let e = read("deck.pptx", &deck(), 100).unwrap_err();
        assert!(
            e.to_string().starts_with("deck.pptx holds more than"),
            "{e}"
        );
        let e = read("deck.pptx", b"PK\x03\x04 not a zip", 1 << 20).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("deck.pptx is damaged or not a valid PPTX file"),
            "{e}"
        );
        let bytes = package(&[("[Content_Types].xml", "<Types/>")]);
        let e = read("deck.pptx", &bytes, 1 << 20).unwrap_err();
        assert!(
            e.to_string().contains("it has no ppt/presentation.xml"),
            "{e}"
        );
    }
}
