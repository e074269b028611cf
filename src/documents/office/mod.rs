//! Office Open XML files — Word (.docx), Excel (.xlsx), PowerPoint (.pptx) — as Markdown the
//! model can read and the chunker can cut: headings for documents, sheets and slides, tables
//! as Markdown tables.
//!
//! What the three share is here: opening the package (a zip archive; a password-protected
//! file is an OLE compound file instead, and so is an old binary .doc/.xls/.ppt, and each
//! gets its own message), reading a part within the unpacked-size budget, the package's
//! relationships, and the text of XML events. The readers are `docx` and `pptx` (zip +
//! quick-xml) and `xlsx` (calamine, with this module's budget checked first).
//!
//! Every reader runs inside [`super::guard::quietly`] (called by `extract`), names the file
//! in every error, and writes nothing. Nothing here decides what a file is from its name:
//! `extract` does.

mod docx;
mod pptx;
mod xlsx;

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::events::Event;

use super::document::{ExtractError, Kind};

pub(super) use docx::docx;
pub(super) use pptx::pptx;
pub(super) use xlsx::xlsx;

/// How many times `max_bytes` the XML inside a package may unpack to. Deflate packs XML 5 to
/// 20 times; a file that unpacks to more is a huge sheet or a zip bomb, refused before its
/// memory is spent.
pub const UNPACKED_FACTOR: u64 = 4;

/// The first bytes of an OLE compound file: what an encrypted Office file is (and an old
/// binary .doc/.xls/.ppt).
const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// An Office package being read: its zip archive and the bytes it may still unpack.
pub(super) struct Package<'a> {
    name: &'a str,
    kind: Kind,
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    /// Bytes the parts read from now on may still unpack to.
    budget: u64,
    /// The limit, for messages.
    limit: u64,
}

impl<'a> Package<'a> {
    /// Open `bytes` as an Office package of `kind`, whose parts may unpack to at most
    /// [`UNPACKED_FACTOR`] × `max_bytes` in all.
    pub(super) fn open(
        name: &'a str,
        kind: Kind,
        bytes: &'a [u8],
        max_bytes: u64,
    ) -> Result<Package<'a>, ExtractError> {
        if bytes.starts_with(&OLE_MAGIC) {
            return Err(ole_error(name, kind, bytes));
        }
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ExtractError::Corrupt {
            name: name.to_string(),
            kind: kind.label(),
            why: tr!("documents.why.not_zip", why = e).into_owned(),
        })?;
        let limit = max_bytes.saturating_mul(UNPACKED_FACTOR);
        Ok(Package {
            name,
            kind,
            zip,
            budget: limit,
            limit,
        })
    }

    /// The error for this file when its contents are not what its kind needs.
    pub(super) fn corrupt(&self, why: impl Into<String>) -> ExtractError {
        ExtractError::Corrupt {
            name: self.name.to_string(),
            kind: self.kind.label(),
            why: why.into(),
        }
    }

    /// The error for this file when it unpacks to more than the budget.
    fn too_big(&self) -> ExtractError {
        ExtractError::TooMuchInside {
            name: self.name.to_string(),
            limit_mb: self.limit / 1_048_576,
            what: "XML once unpacked",
        }
    }

    /// A part's text, `None` when there is no such part. What it unpacks to is taken from
    /// the budget, counted as it is read (a part's stated size can lie).
    pub(super) fn read(&mut self, path: &str) -> Result<Option<String>, ExtractError> {
        let budget = self.budget;
        let mut raw = Vec::new();
        // `Ok(None)`: more than the budget.
        let read = match self.zip.by_name(path) {
            Ok(file) if file.size() > budget => Ok(None),
            Ok(mut file) => {
                raw.reserve(usize::try_from(file.size()).unwrap_or(0));
                (&mut file)
                    .take(budget.saturating_add(1))
                    .read_to_end(&mut raw)
                    .map(Some)
                    .map_err(|e| {
                        tr!("documents.why.cannot_unpack", part = path, why = e).into_owned()
                    })
            }
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => Err(tr!("documents.why.cannot_read_part", part = path, why = e).into_owned()),
        };
        if read.map_err(|why| self.corrupt(why))?.is_none() {
            return Err(self.too_big());
        }
        let used = raw.len() as u64;
        if used > self.budget {
            return Err(self.too_big());
        }
        self.budget -= used;
        let text = String::from_utf8(raw)
            .map_err(|_| self.corrupt(tr!("documents.why.not_utf8_xml", part = path)))?;
        Ok(Some(text))
    }

    /// A part that must be there.
    pub(super) fn require(&mut self, path: &str) -> Result<String, ExtractError> {
        self.read(path)?
            .ok_or_else(|| self.corrupt(tr!("documents.why.missing_part", part = path)))
    }

    /// Unpack every XML part (and relationships) without keeping it, to check that they fit
    /// the budget before a reader that unpacks them itself (calamine) is given the file.
    pub(super) fn check_unpacked_size(&mut self) -> Result<(), ExtractError> {
        for i in 0..self.zip.len() {
            let budget = self.budget;
            let copied = match self.zip.by_index(i) {
                Ok(mut file) => {
                    let part = file.name().map(|n| n.into_owned()).unwrap_or_default();
                    if !(part.ends_with(".xml") || part.ends_with(".rels")) {
                        continue;
                    }
                    std::io::copy(
                        &mut (&mut file).take(budget.saturating_add(1)),
                        &mut std::io::sink(),
                    )
                    .map_err(|e| {
                        tr!("documents.why.cannot_unpack", part = part, why = e).into_owned()
                    })
                }
                Err(e) => Err(e.to_string()),
            };
            let used = copied.map_err(|why| self.corrupt(why))?;
            if used > self.budget {
                return Err(self.too_big());
            }
            self.budget -= used;
        }
        Ok(())
    }

    /// The relationships of `part` (`ppt/presentation.xml` → `ppt/_rels/presentation.xml.rels`):
    /// each internal one's id, with its type's last word (`slide`, `notesSlide`) and the
    /// path of its target inside the package.
    pub(super) fn relationships(
        &mut self,
        part: &str,
    ) -> Result<HashMap<String, (String, String)>, ExtractError> {
        let (dir, file) = part.rsplit_once('/').unwrap_or(("", part));
        let rels_path = if dir.is_empty() {
            format!("_rels/{file}.rels")
        } else {
            format!("{dir}/_rels/{file}.rels")
        };
        let Some(xml) = self.read(&rels_path)? else {
            return Ok(HashMap::new());
        };
        let mut out = HashMap::new();
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            let event = reader
                .read_event()
                .map_err(|e| self.corrupt(format!("{rels_path}: {e}")))?;
            match event {
                Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                    let (mut id, mut typ, mut target, mut external) =
                        (String::new(), String::new(), String::new(), false);
                    for a in e.attributes().flatten() {
                        let value = value(&a);
                        match a.key.local_name().as_ref() {
                            "Id" => id = value,
                            "Type" => typ = value,
                            "Target" => target = value,
                            "TargetMode" => external = value == "External",
                            _ => {}
                        }
                    }
                    if !external && !id.is_empty() {
                        let kind = typ.rsplit('/').next().unwrap_or_default().to_string();
                        out.insert(id, (kind, resolve(dir, &target)));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(out)
    }
}

/// A target of a relationship, relative to the folder of its source part (or absolute from
/// the package's root), as a path inside the package.
fn resolve(dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|p| !p.is_empty()).collect()
    };
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Why an OLE compound file cannot be read: an encrypted Office file keeps its package in a
/// stream named `EncryptedPackage` next to `EncryptionInfo`; any other is an old binary
/// Office file.
fn ole_error(name: &str, kind: Kind, bytes: &[u8]) -> ExtractError {
    let marker: Vec<u8> = "EncryptionInfo"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    if bytes.windows(marker.len()).any(|w| w == marker.as_slice()) {
        ExtractError::Encrypted {
            name: name.to_string(),
        }
    } else {
        ExtractError::OldOffice {
            name: name.to_string(),
            kind: kind.label(),
            ext: kind.name(),
        }
    }
}

/// Appends the text of a text event or an entity or character reference (`&amp;`,
/// `&#x4E2D;`) to `out`; other events add nothing.
pub(super) fn push_text(out: &mut String, event: &Event<'_>) {
    match event {
        Event::Text(t) => out.push_str(&t.xml10_content()),
        Event::CData(t) => out.push_str(&t.xml10_content()),
        Event::GeneralRef(r) => {
            if let Ok(Some(c)) = r.resolve_char_ref() {
                out.push(c);
            } else {
                let named = match r.xml10_content().as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                };
                out.push_str(named);
            }
        }
        _ => {}
    }
}

/// The value of the attribute `local` (any namespace) of an element.
pub(super) fn attr(e: &quick_xml::events::BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .map(|a| value(&a))
}

/// An attribute's value, entities resolved (as it is when they cannot be).
pub(super) fn value(a: &quick_xml::events::attributes::Attribute<'_>) -> String {
    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .map(|v| v.into_owned())
        .unwrap_or_else(|_| a.value.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::documents::document::Document;

    /// What `reader` makes of `bytes` named `name`, as a document of `kind`, the file limit
    /// being `max_bytes`.
    pub(crate) fn reader_on(
        kind: Kind,
        reader: fn(&mut Document, &[u8], u64) -> Result<(), ExtractError>,
        name: &str,
        bytes: &[u8],
        max_bytes: u64,
    ) -> Result<Document, ExtractError> {
        let mut doc = Document::new(name, kind, bytes.len() as u64);
        reader(&mut doc, bytes, max_bytes)?;
        Ok(doc)
    }

    /// A zip archive of `(path, text)` parts, as an Office package is.
    pub(crate) fn package(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (path, text) in parts {
                zip.start_file(*path, opts).unwrap();
                std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
            }
            zip.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn relationship_targets_resolve_inside_the_package() {
        assert_eq!(resolve("ppt", "slides/slide1.xml"), "ppt/slides/slide1.xml");
        assert_eq!(
            resolve("ppt/slides", "../notesSlides/notesSlide1.xml"),
            "ppt/notesSlides/notesSlide1.xml"
        );
        assert_eq!(resolve("ppt", "/ppt/slides/s.xml"), "ppt/slides/s.xml");
        assert_eq!(resolve("", "ppt/presentation.xml"), "ppt/presentation.xml");
    }

    #[test]
    fn a_part_over_the_budget_is_refused_by_what_it_unpacks_to() {
        let big = "<a>".to_string() + &"x".repeat(5000) + "</a>";
        let bytes = package(&[("word/document.xml", &big)]);
        // 4 × 1,000 bytes: the part's 5,007 bytes do not fit.
        let mut p = Package::open("big.docx", Kind::Docx, &bytes, 1000).unwrap();
        let e = p.read("word/document.xml").unwrap_err();
        assert!(matches!(e, ExtractError::TooMuchInside { .. }), "{e}");
        assert!(e.to_string().starts_with("big.docx holds more than"), "{e}");
        let mut p = Package::open("big.docx", Kind::Docx, &bytes, 1000).unwrap();
        assert!(p.check_unpacked_size().is_err());
        let mut p = Package::open("big.docx", Kind::Docx, &bytes, 2000).unwrap();
        assert!(p.check_unpacked_size().is_ok());
        assert_eq!(p.read("missing.xml").unwrap(), None);
    }

    #[test]
    fn ole_files_are_encrypted_or_old_office() {
        let mut ole = OLE_MAGIC.to_vec();
        ole.extend_from_slice(&[0; 64]);
        let e = Package::open("old.xlsx", Kind::Xlsx, &ole, 1 << 20)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("old.xlsx is an older binary Office file"),
            "{e}"
        );
        for u in "EncryptionInfo".encode_utf16() {
            ole.extend_from_slice(&u.to_le_bytes());
        }
        let e = Package::open("locked.pptx", Kind::Pptx, &ole, 1 << 20)
            .err()
            .unwrap();
        assert_eq!(
            e,
            ExtractError::Encrypted {
                name: "locked.pptx".into()
            }
        );
    }
}
