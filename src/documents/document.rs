//! What a document read from a file is — its kind, its text and what is counted in it —
//! and why a file could not be read. Shared by [`super::extract`] (which picks the reader)
//! and the readers in [`super::office`]; data and messages only, no reading.

/// What kind of file it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain text or source code.
    Text,
    /// Markdown.
    Markdown,
    /// HTML.
    Html,
    /// Comma- or tab-separated values.
    Csv,
    /// Word (.docx).
    Docx,
    /// Excel (.xlsx).
    Xlsx,
    /// PowerPoint (.pptx).
    Pptx,
    /// PDF.
    Pdf,
}

impl Kind {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Markdown => "markdown",
            Kind::Html => "html",
            Kind::Csv => "csv",
            Kind::Docx => "docx",
            Kind::Xlsx => "xlsx",
            Kind::Pptx => "pptx",
            Kind::Pdf => "pdf",
        }
    }

    /// The name used in messages ("a valid PDF file").
    pub fn label(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Markdown => "Markdown",
            Kind::Html => "HTML",
            Kind::Csv => "CSV",
            Kind::Docx => "DOCX",
            Kind::Xlsx => "XLSX",
            Kind::Pptx => "PPTX",
            Kind::Pdf => "PDF",
        }
    }
}

/// A document's text and what is known about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The file name (no folders).
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// The text (PDF pages are marked `--- page N ---`, sheets `# Sheet: NAME`, slides
    /// `# Slide N: TITLE`).
    pub text: String,
    /// Pages (PDF).
    pub pages: Option<usize>,
    /// Rows (CSV/TSV and XLSX, without the header rows).
    pub rows: Option<usize>,
    /// Worksheets (XLSX).
    pub sheets: Option<usize>,
    /// Slides (PPTX).
    pub slides: Option<usize>,
    /// The file's size in bytes.
    pub bytes: u64,
    /// Things worth telling ("12 invalid bytes replaced", "decoded as GB18030").
    pub notes: Vec<String>,
}

impl Document {
    /// A document of `kind` named `name`, `bytes` long, with nothing read yet.
    pub fn new(name: &str, kind: Kind, bytes: u64) -> Document {
        Document {
            name: name.to_string(),
            kind,
            text: String::new(),
            pages: None,
            rows: None,
            sheets: None,
            slides: None,
            bytes,
            notes: Vec::new(),
        }
    }

    /// Everything but the text.
    pub fn clone_meta(&self) -> Document {
        Document {
            name: self.name.clone(),
            kind: self.kind,
            text: String::new(),
            pages: self.pages,
            rows: self.rows,
            sheets: self.sheets,
            slides: self.slides,
            bytes: self.bytes,
            notes: self.notes.clone(),
        }
    }
}

/// Why a file could not be used. Each message names the file and what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtractError {
    /// It cannot be read.
    Unreadable {
        /// File.
        name: String,
        /// The system's reason.
        why: String,
    },
    /// Over the size limit.
    TooLarge {
        /// File.
        name: String,
        /// Its size.
        size_mb: f64,
        /// The limit.
        limit_mb: u64,
    },
    /// A stream (a pipe, a device, standard input) went on past the limit; reading stopped
    /// there.
    EndlessInput {
        /// File or "standard input".
        name: String,
        /// The limit.
        limit_mb: u64,
    },
    /// Not a text format clerk knows.
    Binary {
        /// File.
        name: String,
    },
    /// Password-protected.
    Encrypted {
        /// File.
        name: String,
    },
    /// An Office package whose contents unpack to more than the limit allows (a huge sheet,
    /// or a zip bomb), or whose text is longer than the limit.
    TooMuchInside {
        /// File.
        name: String,
        /// The limit that was reached.
        limit_mb: u64,
        /// "text", or "XML once unpacked".
        what: &'static str,
    },
    /// An old binary Office file (.doc, .xls, .ppt) under a new Office file's name.
    OldOffice {
        /// File.
        name: String,
        /// The kind its name says ("XLSX").
        kind: &'static str,
        /// The extension to save it as ("xlsx").
        ext: &'static str,
    },
    /// Damaged or not what its name says.
    Corrupt {
        /// File.
        name: String,
        /// Expected kind.
        kind: &'static str,
        /// Detail.
        why: String,
    },
    /// A PDF of scanned images: no text to read.
    NoText {
        /// File.
        name: String,
        /// Pages.
        pages: usize,
    },
}

// Written by hand, not with `thiserror`'s `#[error]`: the texts come from the message catalog
// (locales/documents.yml) in the interface's language; the English ones are unchanged. A
// knowledge base keeps the English text of why it skipped a file (see knowledge::update).
impl std::fmt::Display for ExtractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            ExtractError::Unreadable { name, why } => {
                tr!("documents.error.unreadable", name = name, why = why)
            }
            ExtractError::TooLarge {
                name,
                size_mb,
                limit_mb,
            } => tr!(
                "documents.error.too_large",
                name = name,
                size = format!("{size_mb:.1}"),
                limit = limit_mb
            ),
            ExtractError::EndlessInput { name, limit_mb } => {
                tr!("documents.error.endless", name = name, limit = limit_mb)
            }
            ExtractError::Binary { name } => tr!("documents.error.binary", name = name),
            ExtractError::Encrypted { name } => tr!("documents.error.encrypted", name = name),
            ExtractError::TooMuchInside {
                name,
                limit_mb,
                what,
            } => {
                let what = match *what {
                    "text" => tr!("documents.error.of_text"),
                    "XML once unpacked" => tr!("documents.error.of_xml"),
                    other => (*other).into(),
                };
                tr!(
                    "documents.error.too_much_inside",
                    name = name,
                    limit = limit_mb,
                    what = what
                )
            }
            ExtractError::OldOffice { name, kind, ext } => {
                tr!(
                    "documents.error.old_office",
                    name = name,
                    kind = kind,
                    ext = ext
                )
            }
            ExtractError::Corrupt { name, kind, why } => {
                tr!(
                    "documents.error.corrupt",
                    name = name,
                    kind = kind,
                    why = why
                )
            }
            ExtractError::NoText { name, pages } => {
                tr!("documents.error.no_text", name = name, pages = pages)
            }
        };
        f.write_str(&text)
    }
}

impl std::error::Error for ExtractError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_in_chinese_with_the_same_english() {
        let locked = ExtractError::Encrypted {
            name: "salaries.pdf".into(),
        };
        let scanned = ExtractError::NoText {
            name: "scan.pdf".into(),
            pages: 12,
        };
        let big = ExtractError::TooLarge {
            name: "big.pdf".into(),
            size_mb: 80.0,
            limit_mb: 50,
        };
        assert_eq!(
            locked.to_string(),
            "salaries.pdf is password-protected (encrypted): save an unprotected copy and attach that"
        );
        assert!(
            big.to_string()
                .starts_with("big.pdf is 80.0 MB, over the 50 MB limit")
        );
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        assert_eq!(
            locked.to_string(),
            "salaries.pdf 受密码保护（已加密）：请另存一份不加密的副本，再添加该副本"
        );
        assert!(
            scanned.to_string().contains("12 页图片，可能是扫描件"),
            "{scanned}"
        );
        assert!(
            big.to_string().contains("80.0 MB，超过了 50 MB 的上限"),
            "{big}"
        );
    }
}
