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
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtractError {
    /// It cannot be read.
    #[error("cannot read {name}: {why}")]
    Unreadable {
        /// File.
        name: String,
        /// The system's reason.
        why: String,
    },
    /// Over the size limit.
    #[error(
        "{name} is {size_mb:.1} MB, over the {limit_mb} MB limit: split it, or raise [documents] max_file_mb in the config"
    )]
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
    #[error(
        "{name} goes on past the {limit_mb} MB limit ([documents] max_file_mb; reading stopped there): send a part of it, or raise the limit in the config"
    )]
    EndlessInput {
        /// File or "standard input".
        name: String,
        /// The limit.
        limit_mb: u64,
    },
    /// Not a text format clerk knows.
    #[error(
        "{name} looks like a binary file, not text: clerk reads text, Markdown, HTML, CSV, PDF, DOCX, XLSX and PPTX"
    )]
    Binary {
        /// File.
        name: String,
    },
    /// Password-protected.
    #[error("{name} is password-protected (encrypted): save an unprotected copy and attach that")]
    Encrypted {
        /// File.
        name: String,
    },
    /// An Office package whose contents unpack to more than the limit allows (a huge sheet,
    /// or a zip bomb), or whose text is longer than the limit.
    #[error(
        "{name} holds more than {limit_mb} MB of {what}: split it, or raise [documents] max_file_mb in the config"
    )]
    TooMuchInside {
        /// File.
        name: String,
        /// The limit that was reached.
        limit_mb: u64,
        /// "text", or "XML once unpacked".
        what: &'static str,
    },
    /// An old binary Office file (.doc, .xls, .ppt) under a new Office file's name.
    #[error(
        "{name} is an older binary Office file, not a {kind} file: open it in Office or LibreOffice and save it as .{ext}"
    )]
    OldOffice {
        /// File.
        name: String,
        /// The kind its name says ("XLSX").
        kind: &'static str,
        /// The extension to save it as ("xlsx").
        ext: &'static str,
    },
    /// Damaged or not what its name says.
    #[error(
        "{name} is damaged or not a valid {kind} file ({why}): open and save it again, or export it as PDF or text"
    )]
    Corrupt {
        /// File.
        name: String,
        /// Expected kind.
        kind: &'static str,
        /// Detail.
        why: String,
    },
    /// A PDF of scanned images: no text to read.
    #[error(
        "{name} has no text layer ({pages} page(s) of images, probably scanned): run it through OCR first, then attach the result"
    )]
    NoText {
        /// File.
        name: String,
        /// Pages.
        pages: usize,
    },
}
