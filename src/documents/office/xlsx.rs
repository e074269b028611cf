//! Excel (.xlsx): every worksheet, in the workbook's order, as a Markdown table under a
//! `# Sheet: NAME` heading (the chunker cuts along headings, so a part names its sheet).
//!
//! Cells are read with calamine: shared and inline strings, numbers (as Excel shows them, at
//! most 15 significant digits; a percentage format shows a percentage), booleans, errors
//! (`#DIV/0!`), formulas as their cached values, and dates and times as dates when the
//! cell's number format is a date. Empty rows and columns are left out; the first row left
//! is the table's header. Chart sheets have no cells and are skipped; hidden sheets are read
//! and said to be hidden.
//!
//! Bounds: the package is unpacked once without keeping it ([`Package::check_unpacked_size`])
//! before calamine reads it, and cells are streamed, so a sheet's text stops at the file
//! limit instead of filling memory. It reads the one file it is given and writes nothing.

use std::io::Cursor;

use calamine::{DataRef, Reader, SheetType, SheetVisible, Xlsx, XlsxError};

use super::Package;
use crate::documents::document::{Document, ExtractError, Kind};
use crate::documents::table::markdown_table;

/// Bytes a cell costs in the table besides its text (`| ` and the space after).
const CELL_OVERHEAD: u64 = 3;

/// Fill `doc` from the XLSX in `bytes`: the text, the sheets and the data rows.
pub(in crate::documents) fn xlsx(
    doc: &mut Document,
    bytes: &[u8],
    max_bytes: u64,
) -> Result<(), ExtractError> {
    let mut package = Package::open(&doc.name, Kind::Xlsx, bytes, max_bytes)?;
    package.check_unpacked_size()?;
    let failed = |e: XlsxError| match e {
        XlsxError::Password => ExtractError::Encrypted {
            name: doc.name.clone(),
        },
        e => package.corrupt(e.to_string()),
    };
    let mut book = Xlsx::new(Cursor::new(bytes)).map_err(failed)?;
    let sheets = book.sheets_metadata().to_vec();
    let too_much = || ExtractError::TooMuchInside {
        name: doc.name.clone(),
        limit_mb: max_bytes / 1_048_576,
        what: "text",
    };
    let mut text = String::new();
    let mut rows = 0usize;
    let mut read = 0usize;
    for sheet in sheets.iter().filter(|s| s.typ == SheetType::WorkSheet) {
        let room = max_bytes.saturating_sub(text.len() as u64);
        let cells = cells(&mut book, &sheet.name, room)
            .map_err(failed)?
            .ok_or_else(too_much)?;
        let table = table(cells, room).ok_or_else(too_much)?;
        read += 1;
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str("# Sheet: ");
        text.push_str(&one_line(&sheet.name));
        if sheet.visible != SheetVisible::Visible {
            text.push_str(" (hidden)");
        }
        text.push_str("\n\n");
        if table.is_empty() {
            text.push_str("(no cells)\n");
        } else {
            rows += table.len() - 1;
            text.push_str(&markdown_table(&table));
        }
        if text.len() as u64 > max_bytes {
            return Err(too_much());
        }
    }
    if read == 0 {
        return Err(package.corrupt(tr!("documents.why.no_worksheets")));
    }
    doc.text = text;
    doc.sheets = Some(read);
    doc.rows = Some(rows);
    Ok(())
}

/// A cell with text: row, column, text.
type Cell = (u32, u32, String);

/// The sheet's cells that show something, streamed; `None` when their text (with a table's
/// overhead per cell) would pass `room` bytes.
fn cells(
    book: &mut Xlsx<Cursor<&[u8]>>,
    sheet: &str,
    room: u64,
) -> Result<Option<Vec<Cell>>, XlsxError> {
    let mut reader = match book.worksheet_cells_reader(sheet) {
        Ok(r) => r,
        // A sheet whose part is missing or not a worksheet has nothing to read.
        Err(XlsxError::NotAWorksheet(_) | XlsxError::WorksheetNotFound(_)) => {
            return Ok(Some(Vec::new()));
        }
        Err(e) => return Err(e),
    };
    // Per style: the decimals of its percentage format, if it has one.
    let percent: Vec<Option<usize>> = reader
        .styles()
        .iter()
        .map(|s| {
            s.number_format
                .as_ref()
                .and_then(|f| percent_decimals(&f.format_code))
        })
        .collect();
    let mut out = Vec::new();
    let mut size = 0u64;
    while let Some((cell, style)) = reader.next_cell_with_style_id()? {
        let text = show(cell.get_value(), percent.get(style).copied().flatten());
        if text.trim().is_empty() {
            continue;
        }
        size += text.len() as u64 + CELL_OVERHEAD;
        if size > room {
            return Ok(None);
        }
        let (row, col) = cell.get_position();
        out.push((row, col, text));
    }
    Ok(Some(out))
}

/// The cells as rows of a table without its empty rows and columns; `None` when the table
/// (its empty cells too) would pass `room` bytes.
fn table(mut cells: Vec<Cell>, room: u64) -> Option<Vec<Vec<String>>> {
    cells.sort_unstable_by_key(|&(r, c, _)| (r, c));
    let mut cols: Vec<u32> = cells.iter().map(|&(_, c, _)| c).collect();
    cols.sort_unstable();
    cols.dedup();
    let mut rows = cells.iter().map(|&(r, _, _)| r).collect::<Vec<_>>();
    rows.dedup();
    let text: u64 = cells.iter().map(|(_, _, t)| t.len() as u64).sum();
    let grid = (rows.len() as u64).saturating_mul(cols.len() as u64);
    if text.saturating_add(grid.saturating_mul(CELL_OVERHEAD)) > room {
        return None;
    }
    let mut out: Vec<Vec<String>> = Vec::with_capacity(rows.len());
    let mut last_row = None;
    for (r, c, t) in cells {
        if last_row != Some(r) {
            out.push(vec![String::new(); cols.len()]);
            last_row = Some(r);
        }
        if let (Some(row), Ok(i)) = (out.last_mut(), cols.binary_search(&c)) {
            row[i] = t;
        }
    }
    Some(out)
}

/// A cell's value as Excel would show it, near enough; `percent`: the decimals of the
/// cell's percentage format.
fn show(value: &DataRef<'_>, percent: Option<usize>) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(*f, percent),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::Error(e) => e.to_string(),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::DateTime(d) => {
            if d.is_duration() {
                let secs = (d.as_f64() * 86_400.0).round() as i64;
                let sign = if secs < 0 { "-" } else { "" };
                let secs = secs.abs();
                format!(
                    "{sign}{}:{:02}:{:02}",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                )
            } else {
                let (y, mo, day, h, mi, s, _) = d.to_ymd_hms_milli();
                let has_date = d.as_f64() >= 1.0;
                let has_time = d.as_f64().fract() != 0.0;
                match (has_date, has_time) {
                    (true, false) => format!("{y:04}-{mo:02}-{day:02}"),
                    (false, _) => format!("{h:02}:{mi:02}:{s:02}"),
                    (true, true) if s == 0 => format!("{y:04}-{mo:02}-{day:02} {h:02}:{mi:02}"),
                    (true, true) => format!("{y:04}-{mo:02}-{day:02} {h:02}:{mi:02}:{s:02}"),
                }
            }
        }
    }
}

/// A number as Excel shows it in a wide enough column: at most 15 significant digits, or a
/// percentage with `percent` decimals.
fn number(f: f64, percent: Option<usize>) -> String {
    if let Some(decimals) = percent {
        return format!("{:.*}%", decimals, f * 100.0);
    }
    let shown: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    if shown.fract() == 0.0 && shown.abs() < 1e15 {
        format!("{}", shown as i64)
    } else {
        format!("{shown}")
    }
}

/// The decimals of a percentage format (`0%` → 0, `0.00%` → 2), `None` for any other.
fn percent_decimals(format: &str) -> Option<usize> {
    // Only the first section (positive numbers), without quoted text.
    let first = format.split(';').next().unwrap_or_default();
    let mut plain = String::new();
    let mut quoted = false;
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            c if !quoted => plain.push(c),
            _ => {}
        }
    }
    if !plain.contains('%') {
        return None;
    }
    let digits = plain.split('%').next().unwrap_or_default();
    Some(
        digits
            .split_once('.')
            .map(|(_, d)| d.chars().filter(|c| matches!(c, '0' | '#' | '?')).count())
            .unwrap_or(0),
    )
}

/// A sheet name on one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn read(name: &str, bytes: &[u8], max_bytes: u64) -> Result<Document, ExtractError> {
        reader_on(Kind::Xlsx, xlsx, name, bytes, max_bytes)
    }
    use crate::documents::office::tests::{package, reader_on};

    const ROOT_RELS: &str = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;

    /// A workbook written by hand: two sheets (the second hidden), shared and inline
    /// strings, a formula's cached value, a boolean, an error, a date, a percentage, an
    /// empty row and column, and a chart sheet.
    fn workbook() -> Vec<u8> {
        let rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/>
<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>
<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>"#;
        let book = r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>
<sheet name="Budget 预算" sheetId="1" r:id="rId1"/><sheet name="Rates" sheetId="2" state="hidden" r:id="rId2"/></sheets></workbook>"#;
        let strings = r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>Item</t></si><si><t>Cost</t></si><si><r><t xml:space="preserve">Hotel </t></r><r><t>酒店</t></r></si></sst>"#;
        let styles = r#"<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>
<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="10" applyNumberFormat="1"/></cellXfs></styleSheet>"#;
        let sheet1 = r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="2"><c r="B2" t="s"><v>0</v></c><c r="D2" t="s"><v>1</v></c><c r="E2" t="inlineStr"><is><t>Booked | paid</t></is></c></row>
<row r="3"><c r="B3" t="s"><v>2</v></c><c r="D3"><f>450*2</f><v>900</v></c><c r="E3" t="b"><v>1</v></c></row>
<row r="5"><c r="B5" s="1"><v>46096</v></c><c r="D5"><v>0.30000000000000004</v></c><c r="E5" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>
<row r="6"><c r="B6" s="2"><v>0.125</v></c></row>
</sheetData></worksheet>"#;
        let sheet2 = r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Rate</t></is></c></row></sheetData></worksheet>"#;
        package(&[
            ("[Content_Types].xml", "<Types/>"),
            ("_rels/.rels", ROOT_RELS),
            ("xl/workbook.xml", book),
            ("xl/_rels/workbook.xml.rels", rels),
            ("xl/sharedStrings.xml", strings),
            ("xl/styles.xml", styles),
            ("xl/worksheets/sheet1.xml", sheet1),
            ("xl/worksheets/sheet2.xml", sheet2),
        ])
    }

    #[test]
    fn sheets_become_tables_under_their_names() {
        let d = read("budget.xlsx", &workbook(), 1 << 20).unwrap();
        assert_eq!(
            d.text,
            "# Sheet: Budget 预算\n\n\
             | Item | Cost | Booked \\| paid |\n|---|---|---|\n\
             | Hotel 酒店 | 900 | TRUE |\n\
             | 2026-03-15 | 0.3 | #DIV/0! |\n\
             | 12.50% |  |  |\n\
             \n# Sheet: Rates (hidden)\n\n| Rate |\n|---|\n"
        );
        assert_eq!((d.kind, d.sheets, d.rows), (Kind::Xlsx, Some(2), Some(3)));
    }

    #[test]
    fn a_sheet_over_the_limit_is_refused_and_named() {
        // Unpacked XML over 4 × the limit.
        let e = read("budget.xlsx", &workbook(), 300).unwrap_err();
        assert!(
            matches!(
                e,
                ExtractError::TooMuchInside {
                    what: "XML once unpacked",
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("budget.xlsx holds more than"),
            "{e}"
        );
        // Little XML, much text: one long shared string in many cells.
        let long = "x".repeat(10_000);
        let strings = format!("<sst><si><t>{long}</t></si></sst>");
        let row: String = (1..=50)
            .map(|r| format!("<row r=\"{r}\"><c r=\"A{r}\" t=\"s\"><v>0</v></c></row>"))
            .collect();
        let sheet = format!("<worksheet><sheetData>{row}</sheetData></worksheet>");
        let bytes = package(&[
            ("_rels/.rels", ROOT_RELS),
            (
                "xl/workbook.xml",
                r#"<workbook xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
            ),
            ("xl/sharedStrings.xml", &strings),
            ("xl/worksheets/sheet1.xml", &sheet),
        ]);
        let e = read("strings.xlsx", &bytes, 100_000).unwrap_err();
        assert!(
            matches!(e, ExtractError::TooMuchInside { what: "text", .. }),
            "{e}"
        );
        let d = read("strings.xlsx", &bytes, 1_000_000).unwrap();
        assert_eq!(d.rows, Some(49));
        // Cells on a diagonal: the empty grid between them counts.
        let diagonal: Vec<Cell> = (0..2_000).map(|i| (i, i, "v".to_string())).collect();
        assert!(table(diagonal.clone(), 1_000_000).is_none());
        assert_eq!(table(diagonal, 20_000_000).map(|t| t.len()), Some(2_000));
        // Far apart but few: only the rows and columns used make the table.
        let far = vec![
            (0, 0, "a".to_string()),
            (1_000_000, 16_000, "b".to_string()),
        ];
        assert_eq!(
            table(far, 100),
            Some(vec![
                vec!["a".to_string(), String::new()],
                vec![String::new(), "b".to_string()]
            ])
        );
    }

    #[test]
    fn numbers_show_as_excel_shows_them() {
        assert_eq!(number(0.1 + 0.2, None), "0.3");
        assert_eq!(number(1234.0, None), "1234");
        assert_eq!(number(-2.5, None), "-2.5");
        assert_eq!(number(0.256, percent_decimals("0%")), "26%");
        assert_eq!(number(0.256, percent_decimals("0.0%;[Red]-0.0%")), "25.6%");
        assert_eq!(percent_decimals("\"%\"0"), None, "a quoted % is text");
        assert_eq!(percent_decimals("#,##0.00"), None);
        assert_eq!(percent_decimals("General"), None);
    }

    #[test]
    fn a_package_without_a_workbook_is_damaged() {
        let bytes = package(&[("[Content_Types].xml", "<Types/>")]);
        let e = read("empty.xlsx", &bytes, 1 << 20).unwrap_err();
        assert!(matches!(e, ExtractError::Corrupt { .. }), "{e}");
        assert!(e.to_string().starts_with("empty.xlsx is damaged"), "{e}");
    }
}
