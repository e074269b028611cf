//! `[[knowledge]]` entries: the knowledge bases a team points clerk at, their checks, and
//! the two edits `clerk kb add` and `clerk kb remove` make to the config file's *text*.
//!
//! The edits work on the text, never on a re-serialised config: a block is appended, or
//! the one block that defines a base is cut out (found through the TOML parser's spans),
//! and every other byte — comments, order, spacing — stays as the user wrote it. This
//! module only computes the new text; writing the file is the caller's job (the config
//! layer writes no files).

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// One `[[knowledge]]` entry: a named knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeEntry {
    /// The name used on the command line (`clerk kb search --kb NAME`).
    pub name: String,
    /// Folders (read recursively) and single files.
    pub paths: Vec<PathBuf>,
    /// Only files whose path (relative to the folder it was found in) matches one of
    /// these globs are indexed; empty: every file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Files matching any of these globs are left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// The languages the documents are written in (`en`, `zh`); empty: what indexing
    /// finds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// Restate a question in the base's other languages before searching.
    #[serde(default = "yes")]
    pub translate: bool,
    /// An embeddings model of the profile's endpoint: vector search next to keyword search
    /// (`knowledge::vectors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<String>,
}

fn yes() -> bool {
    true
}

impl KnowledgeEntry {
    /// A new entry with the defaults.
    pub fn new(name: &str, paths: Vec<PathBuf>) -> KnowledgeEntry {
        KnowledgeEntry {
            name: name.to_string(),
            paths,
            include: Vec::new(),
            exclude: Vec::new(),
            languages: Vec::new(),
            translate: true,
            embeddings: None,
        }
    }
}

/// Whether `name` can name a knowledge base: letters (any script), digits, `-`, `_`, `.`,
/// at most 64 characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 64
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Check every entry: names valid and unique, paths given, globs that compile, language
/// codes. The error names the file, the line and the key.
pub(super) fn check(
    path: &Path,
    text: &str,
    entries: &[KnowledgeEntry],
) -> Result<(), ConfigError> {
    let fail = |i: usize, key: &str, message: String| {
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line: entry_line(text, i, key).unwrap_or(1),
            column: 1,
            key: Some(format!("knowledge[{i}].{key}")),
            message,
        })
    };
    for (i, e) in entries.iter().enumerate() {
        if !valid_name(&e.name) {
            return fail(
                i,
                "name",
                tr!("config.knowledge.name", name = e.name).into_owned(),
            );
        }
        if entries[..i].iter().any(|o| o.name == e.name) {
            return fail(
                i,
                "name",
                tr!("config.knowledge.duplicate", name = e.name).into_owned(),
            );
        }
        if e.paths.is_empty() || e.paths.iter().any(|p| p.as_os_str().is_empty()) {
            return fail(i, "paths", tr!("config.knowledge.paths").into_owned());
        }
        for (key, globs) in [("include", &e.include), ("exclude", &e.exclude)] {
            for g in globs {
                if let Err(err) = globset::Glob::new(g) {
                    return fail(
                        i,
                        key,
                        tr!("config.knowledge.glob", glob = g, error = err.kind()).into_owned(),
                    );
                }
            }
        }
        for l in &e.languages {
            let ok = (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase());
            if !ok {
                return fail(
                    i,
                    "languages",
                    tr!("config.knowledge.language", code = l).into_owned(),
                );
            }
        }
        if e.embeddings.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return fail(
                i,
                "embeddings",
                tr!("config.knowledge.embeddings").into_owned(),
            );
        }
    }
    Ok(())
}

/// A table's keys, each with its own span and its value's.
type KeySpans = Vec<(String, Range<usize>, Range<usize>)>;

/// The byte range of every `[[knowledge]]` table's contents, in order, with the spans of
/// its keys and values, from the TOML parser.
fn entry_spans(text: &str) -> Vec<KeySpans> {
    let Ok(doc) = toml::de::DeTable::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in doc.get_ref().iter() {
        if key.get_ref().as_ref() != "knowledge" {
            continue;
        }
        if let toml::de::DeValue::Array(items) = value.get_ref() {
            for item in items.iter() {
                let mut keys = Vec::new();
                if let toml::de::DeValue::Table(t) = item.get_ref() {
                    for (k, v) in t.iter() {
                        keys.push((k.get_ref().to_string(), k.span(), v.span()));
                    }
                }
                out.push(keys);
            }
        }
    }
    out
}

/// The 1-based line where entry `index`'s `key` is written.
fn entry_line(text: &str, index: usize, key: &str) -> Option<usize> {
    let spans = entry_spans(text);
    let keys = spans.get(index)?;
    let at = keys
        .iter()
        .find(|(k, _, _)| k == key)
        .or_else(|| keys.first())
        .map(|(_, k, _)| k.start)?;
    Some(text[..at.min(text.len())].matches('\n').count() + 1)
}

/// Why a config file's text could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// No entry has that name.
    NotFound(String),
    /// The entry is not written as its own `[[knowledge]]` block (an inline table, say).
    NotABlock(String),
}

// Written by hand so that the text comes from the catalog when shown.
impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            EditError::NotFound(name) => tr!("config.knowledge.not_found", name = name),
            EditError::NotABlock(name) => tr!("config.knowledge.not_a_block", name = name),
        };
        f.write_str(&text)
    }
}

/// TOML for one value (a quoted, escaped string or an array of them).
fn toml_strings(values: &[String]) -> String {
    toml::Value::Array(values.iter().cloned().map(toml::Value::String).collect()).to_string()
}

/// The config text with a `[[knowledge]]` block for `entry` appended; everything already
/// there is kept byte for byte.
pub fn with_entry_added(text: &str, entry: &KnowledgeEntry) -> String {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str("[[knowledge]]\n");
    out.push_str(&format!(
        "name = {}\n",
        toml::Value::String(entry.name.clone())
    ));
    let paths: Vec<String> = entry
        .paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    out.push_str(&format!("paths = {}\n", toml_strings(&paths)));
    for (key, list) in [
        ("include", &entry.include),
        ("exclude", &entry.exclude),
        ("languages", &entry.languages),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("{key} = {}\n", toml_strings(list)));
        }
    }
    if !entry.translate {
        out.push_str("translate = false\n");
    }
    if let Some(model) = &entry.embeddings {
        out.push_str(&format!(
            "embeddings = {}\n",
            toml::Value::String(model.clone())
        ));
    }
    out
}

/// The config text without the `[[knowledge]]` block that defines `name`: from the comment
/// lines right above its header (no blank line between) to the end of its last value's
/// line, and the blank lines after it. Every other byte is kept.
pub fn with_entry_removed(text: &str, name: &str) -> Result<String, EditError> {
    let spans = entry_spans(text);
    let config: super::ConfigFile =
        toml::from_str(text).map_err(|_| EditError::NotFound(name.to_string()))?;
    let index = config
        .knowledge
        .iter()
        .position(|e| e.name == name)
        .ok_or_else(|| EditError::NotFound(name.to_string()))?;
    let keys = spans
        .get(index)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| EditError::NotABlock(name.to_string()))?;
    let first = keys.iter().map(|(_, k, _)| k.start).min().unwrap_or(0);
    let last = keys.iter().map(|(_, _, v)| v.end).max().unwrap_or(0);
    // The header: the nearest line above the first key that opens a table. Between them
    // there can only be blank lines and comments.
    let line_start = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = |at: usize| text[at..].lines().next().unwrap_or_default().trim();
    let mut header = line_start(first);
    loop {
        if header == 0 {
            return Err(EditError::NotABlock(name.to_string()));
        }
        header = line_start(header - 1);
        let l = line(header);
        if l.starts_with('[') {
            let bare: String = l
                .split('#')
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if bare != "[[knowledge]]" {
                return Err(EditError::NotABlock(name.to_string()));
            }
            break;
        }
        if !(l.is_empty() || l.starts_with('#')) {
            return Err(EditError::NotABlock(name.to_string()));
        }
    }
    // Comment lines right above the header describe the block.
    let mut start = header;
    while start > 0 {
        let prev = line_start(start - 1);
        if text[prev..start].trim_start().starts_with('#') {
            start = prev;
        } else {
            break;
        }
    }
    // The end of the last value's line (a comment after it on the same line goes too),
    // then the blank lines after the block.
    let mut end = text[last..].find('\n').map_or(text.len(), |i| last + i + 1);
    while end < text.len() {
        let next = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        if text[end..next].trim().is_empty() {
            end = next;
        } else {
            break;
        }
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.push_str(&text[end..]);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;

    const TEXT: &str = "# my settings\nlog_level = \"info\" # keep it quiet\n\n[profiles.work]\nmodel = \"gpt-4o\"\n\n# Finance team\n[[knowledge]]\nname = \"finance\"\npaths = [\"/srv/finance\"]\n\n# HR, in two languages\n[[knowledge]]\nname = \"hr\"\npaths = [\n  \"/srv/hr\",   # the shared drive\n  \"/srv/hr-zh\",\n]\nlanguages = [\"en\", \"zh\"]\n\n[documents]\n# bigger files\nmax_file_mb = 80\n";

    #[test]
    fn entries_parse_with_defaults() {
        let c = Config::parse(Path::new("c.toml"), TEXT).unwrap();
        assert_eq!(c.file.knowledge.len(), 2);
        let hr = &c.file.knowledge[1];
        assert_eq!(hr.name, "hr");
        assert_eq!(hr.paths.len(), 2);
        assert!(hr.translate);
        assert_eq!(hr.languages, ["en", "zh"]);
        assert_eq!(c.file.documents.max_file_mb, 80);
    }

    #[test]
    fn bad_entries_name_the_file_line_and_key() {
        let cases = [
            (
                "[[knowledge]]\nname = \"a\"\npaths = [\"/x\"]\n[[knowledge]]\nname = \"a\"\npaths = [\"/y\"]\n",
                "line 5",
                "knowledge[1].name",
                "already a knowledge base named `a`",
            ),
            (
                "[[knowledge]]\nname = \"a\"\npaths = []\n",
                "line 3",
                "knowledge[0].paths",
                "at least one folder",
            ),
            (
                "[[knowledge]]\nname = \"a b\"\npaths = [\"/x\"]\n",
                "line 2",
                "knowledge[0].name",
                "not a usable name",
            ),
            (
                "[[knowledge]]\nname = \"a\"\npaths = [\"/x\"]\nexclude = [\"[oops\"]\n",
                "line 4",
                "knowledge[0].exclude",
                "not a valid glob",
            ),
            (
                "[[knowledge]]\nname = \"a\"\npaths = [\"/x\"]\nlanguages = [\"English\"]\n",
                "line 4",
                "knowledge[0].languages",
                "not a language code",
            ),
        ];
        for (text, line, key, says) in cases {
            let err = Config::parse(Path::new("clerk.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("clerk.toml")
                    && err.contains(line)
                    && err.contains(key)
                    && err.contains(says),
                "{text:?}: {err}"
            );
        }
        let err = Config::parse(
            Path::new("c.toml"),
            "[[knowledge]]\nname = \"a\"\npaths = [\"/x\"]\nlanguage = [\"en\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 4") && err.contains("language"), "{err}");
        let err = Config::parse(Path::new("c.toml"), "[[knowledge]]\npaths = [\"/x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("name"), "{err}");
    }

    #[test]
    fn a_bad_entry_and_a_failed_edit_read_in_chinese() {
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let err = Config::parse(
            Path::new("clerk.toml"),
            "[[knowledge]]\nname = \"a\"\npaths = [\"/x\"]\n[[knowledge]]\nname = \"a\"\npaths = [\"/y\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("clerk.toml，第 5 行") && err.contains("已有名为 `a` 的知识库"),
            "{err}"
        );
        let e = with_entry_removed(TEXT, "nope").unwrap_err().to_string();
        assert_eq!(e, "配置中没有名为 `nope` 的知识库");
    }

    #[test]
    fn adding_keeps_every_byte_and_parses() {
        let mut e = KnowledgeEntry::new(
            "it \"ops\"",
            vec![PathBuf::from("/srv/it"), PathBuf::from("C:\\docs\\it")],
        );
        e.exclude = vec!["drafts/**".into()];
        let out = with_entry_added(TEXT, &e);
        assert!(out.starts_with(TEXT));
        let added = &out[TEXT.len()..];
        assert!(added.starts_with("\n[[knowledge]]\n"), "{added}");
        let file: crate::config::ConfigFile = toml::from_str(&out).unwrap();
        assert_eq!(file.knowledge[2], e);
        // No trailing newline, and an empty file.
        let out = with_entry_added("log_level = \"info\"", &e);
        assert!(
            out.starts_with("log_level = \"info\"\n\n[[knowledge]]\n"),
            "{out}"
        );
        let out = with_entry_added("", &e);
        assert!(out.starts_with("[[knowledge]]\n"), "{out}");
    }

    #[test]
    fn removing_cuts_out_exactly_one_block() {
        let out = with_entry_removed(TEXT, "finance").unwrap();
        assert_eq!(
            out,
            TEXT.replace(
                "# Finance team\n[[knowledge]]\nname = \"finance\"\npaths = [\"/srv/finance\"]\n\n",
                ""
            )
        );
        let out = with_entry_removed(TEXT, "hr").unwrap();
        assert_eq!(
            out,
            TEXT.replace(
                "# HR, in two languages\n[[knowledge]]\nname = \"hr\"\npaths = [\n  \"/srv/hr\",   # the shared drive\n  \"/srv/hr-zh\",\n]\nlanguages = [\"en\", \"zh\"]\n\n",
                ""
            )
        );
        let c = Config::parse(Path::new("c.toml"), &out).unwrap();
        assert_eq!(c.file.knowledge.len(), 1);
        assert_eq!(c.file.documents.max_file_mb, 80);
        // Added then removed: the file as it was (less the blank line added before it).
        let e = KnowledgeEntry::new("x", vec![PathBuf::from("/x")]);
        let round = with_entry_removed(&with_entry_added(TEXT, &e), "x").unwrap();
        assert_eq!(round, format!("{TEXT}\n"));
        assert_eq!(
            with_entry_removed(TEXT, "nope"),
            Err(EditError::NotFound("nope".into()))
        );
        let inline = "knowledge = [{ name = \"a\", paths = [\"/x\"] }]\n";
        assert_eq!(
            with_entry_removed(inline, "a"),
            Err(EditError::NotABlock("a".into()))
        );
    }
}
