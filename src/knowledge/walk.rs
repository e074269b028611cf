//! A knowledge base as configured ([`Base`]) and the files found in it.
//!
//! Folders are read recursively; hidden files and folders (a name starting with `.`, so
//! `.git` too) are passed over, and so are files whose extension says they are not
//! documents (images, audio, video, archives, programs, fonts, databases and their
//! `-wal`/`-shm` files, editors' `~` backups). `include` and
//! `exclude` globs match the path relative to the folder the file was found in (`*` also
//! crosses `/`). A configured path that does not exist is an error naming it. This module
//! reads folder listings and file metadata, never file contents.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::KnowledgeError;
use crate::config::KnowledgeEntry;

/// Extensions of files that are never documents; they are passed over without a word.
const NOT_DOCUMENTS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp", "ico", "heic", "psd", "ai", "mp3",
    "wav", "flac", "ogg", "m4a", "mp4", "mov", "avi", "mkv", "webm", "zip", "gz", "tgz", "bz2",
    "xz", "zst", "7z", "rar", "jar", "exe", "dll", "so", "dylib", "o", "a", "bin", "iso", "dmg",
    "msi", "woff", "woff2", "ttf", "otf", "eot", "sqlite", "sqlite3", "db", "pyc", "class", "lock",
];

/// A knowledge base: its name, where its documents are, and which of them count.
#[derive(Debug, Clone)]
pub struct Base {
    /// The name.
    pub name: String,
    /// Absolute folders and files.
    pub roots: Vec<PathBuf>,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    /// Files larger than this are skipped (config `[documents] max_file_mb`).
    pub max_file_bytes: u64,
}

impl Base {
    /// A base over `roots` (absolute paths), with `include`/`exclude` globs.
    pub fn new(
        name: &str,
        roots: Vec<PathBuf>,
        include: &[String],
        exclude: &[String],
        max_file_bytes: u64,
    ) -> Result<Base, KnowledgeError> {
        let set = |globs: &[String]| -> Result<Option<GlobSet>, KnowledgeError> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(Glob::new(g).map_err(|e| KnowledgeError::BadGlob {
                    base: name.to_string(),
                    glob: g.clone(),
                    why: e.kind().to_string(),
                })?);
            }
            b.build().map(Some).map_err(|e| KnowledgeError::BadGlob {
                base: name.to_string(),
                glob: globs.join(", "),
                why: e.to_string(),
            })
        };
        Ok(Base {
            name: name.to_string(),
            roots,
            include: set(include)?,
            exclude: set(exclude)?,
            max_file_bytes,
        })
    }

    /// The base a config entry describes: `~/` is the home folder, and a relative path is
    /// relative to `config_dir` (the config file's folder).
    pub fn from_config(
        entry: &KnowledgeEntry,
        config_dir: &Path,
        max_file_bytes: u64,
    ) -> Result<Base, KnowledgeError> {
        let roots = entry.paths.iter().map(|p| resolve(p, config_dir)).collect();
        Base::new(
            &entry.name,
            roots,
            &entry.include,
            &entry.exclude,
            max_file_bytes,
        )
    }

    /// Whether a file at `rel` (relative to its root, `/`-separated) belongs to the base.
    fn admits(&self, rel: &str) -> bool {
        self.include.as_ref().is_none_or(|s| s.is_match(rel))
            && !self.exclude.as_ref().is_some_and(|s| s.is_match(rel))
    }

    /// Every file of the base, with its size and mtime.
    pub(super) fn walk(&self) -> Result<Walk, KnowledgeError> {
        let mut out = Walk::default();
        // A file reached through two configured paths (a folder and one inside it) is
        // indexed once, under the first.
        let mut seen = std::collections::HashSet::new();
        for root in &self.roots {
            let meta = std::fs::metadata(root).map_err(|_| KnowledgeError::MissingPath {
                base: self.name.clone(),
                path: root.clone(),
            })?;
            if !meta.is_dir() {
                let folder = root.parent().unwrap_or(Path::new("/"));
                let rel = root
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if seen.insert(root.clone()) {
                    out.files.push(found(folder, rel, root.clone(), &meta));
                }
                continue;
            }
            let entries = walkdir::WalkDir::new(root)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                });
            for entry in entries {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        let path = e.path().map(|p| relative(root, p)).unwrap_or_default();
                        out.unreadable.push(Skipped {
                            path,
                            reason: e.to_string(),
                        });
                        continue;
                    }
                };
                if entry.file_type().is_dir() {
                    continue;
                }
                let rel = relative(root, entry.path());
                if !self.admits(&rel) {
                    continue;
                }
                let ext = rel.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
                let side_file = ["-wal", "-shm", "-journal", "~"]
                    .iter()
                    .any(|s| rel.ends_with(s));
                if side_file || ext.is_some_and(|e| NOT_DOCUMENTS.contains(&e.as_str())) {
                    out.ignored += 1;
                    continue;
                }
                if !seen.insert(entry.path().to_path_buf()) {
                    continue;
                }
                match entry.metadata() {
                    Ok(meta) => out.files.push(found(root, rel, entry.into_path(), &meta)),
                    Err(e) => out.unreadable.push(Skipped {
                        path: rel,
                        reason: e.to_string(),
                    }),
                }
            }
        }
        Ok(out)
    }
}

/// `p` made absolute: `~/` is the home folder; relative paths are relative to `base`.
pub fn resolve(p: &Path, base: &Path) -> PathBuf {
    crate::config::paths::absolute(p, base)
}

/// `path` relative to `root`, with `/` between its parts.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn found(root: &Path, rel: String, abs: PathBuf, meta: &std::fs::Metadata) -> Found {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Found {
        root: root.to_string_lossy().into_owned(),
        rel,
        abs,
        size: meta.len(),
        mtime_ns,
    }
}

/// A file that was not indexed, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Its path relative to the folder it was found in.
    pub path: String,
    /// Why (the reader's message, which says what to do).
    pub reason: String,
}

/// A file found in a base.
#[derive(Debug, Clone)]
pub(super) struct Found {
    /// The folder it was found in (as configured, or a file's parent).
    pub root: String,
    /// Its path relative to `root`.
    pub rel: String,
    /// Its full path.
    pub abs: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
}

/// What a walk found.
#[derive(Debug, Default)]
pub(super) struct Walk {
    /// The files that belong to the base.
    pub files: Vec<Found>,
    /// Entries that could not be read (a folder without permission, a symlink loop).
    pub unreadable: Vec<Skipped>,
    /// Files passed over as not documents.
    pub ignored: usize,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hidden_folders_binaries_and_globs_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "a.md",
            "sub/b.txt",
            "sub/drafts/c.md",
            ".git/config",
            "sub/.hidden.md",
            "logo.png",
            "x.docx",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "text").unwrap();
        }
        let base = Base::new(
            "t",
            vec![d.to_path_buf()],
            &[],
            &["**/drafts/**".into()],
            1 << 20,
        )
        .unwrap();
        let w = base.walk().unwrap();
        let rels: Vec<&str> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["a.md", "sub/b.txt", "x.docx"]);
        assert_eq!(w.ignored, 1);
        let base = Base::new("t", vec![d.to_path_buf()], &["*.md".into()], &[], 1 << 20).unwrap();
        let rels: Vec<String> = base
            .walk()
            .unwrap()
            .files
            .into_iter()
            .map(|f| f.rel)
            .collect();
        assert_eq!(rels, ["a.md", "sub/drafts/c.md"]);
        // A single file: found relative to its folder.
        let base = Base::new("t", vec![d.join("sub/b.txt")], &[], &[], 1 << 20).unwrap();
        let w = base.walk().unwrap();
        assert_eq!(w.files[0].rel, "b.txt");
        assert_eq!(w.files[0].root, d.join("sub").to_string_lossy());
        // Overlapping paths: each file once.
        let base = Base::new(
            "t",
            vec![d.to_path_buf(), d.join("sub"), d.join("a.md")],
            &[],
            &[],
            1 << 20,
        )
        .unwrap();
        assert_eq!(base.walk().unwrap().files.len(), 4);
        // A missing path is an error naming it.
        let base = Base::new("t", vec![d.join("nope")], &[], &[], 1 << 20).unwrap();
        let err = base.walk().unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains("does not exist"),
            "{err}"
        );
        let err = Base::new("t", vec![], &["[x".into()], &[], 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid glob"), "{err}");
    }

    #[test]
    fn paths_resolve_against_home_and_the_config_folder() {
        assert_eq!(
            resolve(Path::new("docs"), Path::new("/etc/clerk")),
            PathBuf::from("/etc/clerk/docs")
        );
        assert_eq!(
            resolve(Path::new("/abs"), Path::new("/x")),
            PathBuf::from("/abs")
        );
        let home = resolve(Path::new("~/procedures"), Path::new("/x"));
        assert!(
            home.is_absolute() && home.ends_with("procedures"),
            "{home:?}"
        );
    }
}
