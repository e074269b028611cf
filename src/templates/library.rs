//! The template library: the user's folder, then team folders, then the built-ins; the same
//! id in a higher source wins and the lower ones are remembered as shadowed. A file that
//! cannot be read or parsed becomes a broken entry that says why; it never hides the others
//! and never panics. A cheap fingerprint of the folders tells when to load again.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::format::{Problem, Severity, Template, parse_template};

/// Files larger than this are not read.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Where a template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The user's own folder.
    User(PathBuf),
    /// A team folder (read-only).
    Team(PathBuf),
    /// Embedded in clerk.
    BuiltIn,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::User(p) => f.write_str(&tr!("templates.origin.user", path = p.display())),
            Origin::Team(p) => f.write_str(&tr!("templates.origin.team", path = p.display())),
            Origin::BuiltIn => f.write_str(&tr!("templates.origin.built_in")),
        }
    }
}

/// One template of the library (possibly broken).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Id.
    pub id: String,
    /// Where it comes from.
    pub origin: Origin,
    /// Its file (none for built-ins).
    pub path: Option<PathBuf>,
    /// The template, unless the file has errors.
    pub template: Option<Template>,
    /// Errors and warnings of its file.
    pub problems: Vec<Problem>,
    /// Lower sources with the same id.
    pub shadows: Vec<Origin>,
}

impl Entry {
    /// It cannot run until its file is fixed.
    pub fn is_broken(&self) -> bool {
        self.template.is_none()
    }
}

/// Where to look.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sources {
    /// The user's folder.
    pub user: Option<PathBuf>,
    /// Team folders, highest priority first.
    pub team: Vec<PathBuf>,
    /// Built-in templates: (id, text).
    pub builtin: Vec<(&'static str, &'static str)>,
}

/// A fingerprint of the folders: every folder's and `*.toml` file's path, time and size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stamp(Vec<(PathBuf, Option<SystemTime>, u64)>);

/// The loaded library.
#[derive(Debug, Clone, PartialEq)]
pub struct Library {
    entries: Vec<Entry>,
    warnings: Vec<Problem>,
    stamp: Stamp,
}

/// Read a template file: at most [`MAX_FILE_BYTES`], UTF-8. The problem names the file.
pub fn read_file(path: &Path) -> Result<String, Problem> {
    let problem = |message: String| Problem {
        path: path.display().to_string(),
        line: 1,
        column: 1,
        severity: Severity::Error,
        message,
    };
    let unreadable = |e: std::io::Error| {
        problem(tr!("templates.file.unreadable", why = crate::i18n::os_error(&e)).into_owned())
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(problem(tr!("templates.file.folder").into_owned()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(problem(
            tr!(
                "templates.file.too_large",
                size = meta.len() / (1024 * 1024),
                limit = MAX_FILE_BYTES / (1024 * 1024)
            )
            .into_owned(),
        ));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    String::from_utf8(bytes).map_err(|e| {
        problem(
            tr!(
                "templates.file.not_utf8",
                byte = e.utf8_error().valid_up_to()
            )
            .into_owned(),
        )
    })
}

/// The `*.toml` files directly in `dir`, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort_unstable();
    files
}

fn load_file(path: &Path, origin: Origin) -> Entry {
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = path.display().to_string();
    let (template, problems) = match read_file(path) {
        Ok(text) => parse_template(&id, &label, &text),
        Err(p) => (None, vec![p]),
    };
    Entry {
        id,
        origin,
        path: Some(path.to_path_buf()),
        template,
        problems,
        shadows: Vec::new(),
    }
}

impl Library {
    /// Load every source.
    pub fn load(sources: &Sources) -> Library {
        let mut warnings = Vec::new();
        let mut all: Vec<Entry> = Vec::new();
        if let Some(u) = &sources.user {
            for f in toml_files(u) {
                all.push(load_file(&f, Origin::User(u.clone())));
            }
        }
        for t in &sources.team {
            if !t.is_dir() {
                warnings.push(Problem {
                    path: t.display().to_string(),
                    line: 1,
                    column: 1,
                    severity: Severity::Warning,
                    message: tr!("templates.file.no_team_folder").into_owned(),
                });
                continue;
            }
            for f in toml_files(t) {
                all.push(load_file(&f, Origin::Team(t.clone())));
            }
        }
        for (id, text) in &sources.builtin {
            let (mut template, problems) = parse_template(id, &format!("built-in {id}"), text);
            if let Some(t) = template.as_mut() {
                in_this_language(t);
            }
            all.push(Entry {
                id: id.to_string(),
                origin: Origin::BuiltIn,
                path: None,
                template,
                problems,
                shadows: Vec::new(),
            });
        }
        // First one of each id wins (sources are in priority order).
        let mut by_id: BTreeMap<String, Entry> = BTreeMap::new();
        for e in all {
            match by_id.get_mut(&e.id) {
                Some(winner) => winner.shadows.push(e.origin),
                None => {
                    by_id.insert(e.id.clone(), e);
                }
            }
        }
        let mut entries: Vec<Entry> = by_id.into_values().collect();
        for t in entries.iter_mut().filter_map(|e| e.template.as_mut()) {
            if let Some(name) = crate::i18n::text(&format!("templates.category.{}", t.category)) {
                t.category = name;
            }
        }
        entries.sort_by(|a, b| match (&a.template, &b.template) {
            (Some(x), Some(y)) => x
                .category
                .cmp(&y.category)
                .then(x.title.cmp(&y.title))
                .then(a.id.cmp(&b.id)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        });
        Library {
            entries,
            warnings,
            stamp: Library::stamp(sources),
        }
    }

    /// Every template, valid ones by category and title, broken ones last.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The template with this id.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Problems of the library itself (a missing team folder).
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// The folders' fingerprint now.
    pub fn stamp(sources: &Sources) -> Stamp {
        let mut out = Vec::new();
        let dirs = sources.user.iter().chain(sources.team.iter());
        for d in dirs {
            let meta = std::fs::metadata(d).ok();
            out.push((d.clone(), meta.as_ref().and_then(|m| m.modified().ok()), 0));
            for f in toml_files(d) {
                let m = std::fs::metadata(&f).ok();
                out.push((
                    f,
                    m.as_ref().and_then(|m| m.modified().ok()),
                    m.map_or(0, |m| m.len()),
                ));
            }
        }
        Stamp(out)
    }

    /// Whether a file or folder changed since loading (then load again).
    pub fn is_stale(&self, sources: &Sources) -> bool {
        self.stamp != Library::stamp(sources)
    }
}

/// A built-in template's title, description and variables' labels and help in the
/// interface's language (locales/templates.yml: `templates.builtin.<id>.title`, …), each
/// falling back to the file's own. Its prompts and choices are left as they are: they are
/// what the model reads.
fn in_this_language(t: &mut Template) {
    let text = |what: &str| crate::i18n::text(&format!("templates.builtin.{}.{what}", t.id));
    if let Some(title) = text("title") {
        t.title = title;
    }
    if let Some(description) = text("description") {
        t.description = description;
    }
    let mut vars = std::mem::take(&mut t.variables);
    for v in &mut vars {
        if let Some(label) = text(&format!("var.{}.label", v.name)) {
            v.label = label;
        }
        if v.help.is_some()
            && let Some(help) = text(&format!("var.{}.help", v.name))
        {
            v.help = Some(help);
        }
    }
    t.variables = vars;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SIMPLE: &str = "title = \"T\"\nprompt = \"p\"\n";

    fn write(dir: &Path, name: &str, text: &[u8]) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn user_beats_team_beats_builtin_and_broken_files_are_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let user = tmp.path().join("user");
        let team = tmp.path().join("team");
        write(&user, "a.toml", b"title = \"user a\"\nprompt = \"p\"\n");
        write(&team, "a.toml", b"title = \"team a\"\nprompt = \"p\"\n");
        write(&team, "b.toml", b"title = \"team b\"\nprompt = \"p\"\n");
        write(&team, "latin.toml", b"title = \"caf\xe9\"\n");
        write(&team, "notes.txt", b"ignored");
        std::fs::create_dir_all(team.join("dir.toml")).unwrap();
        let sources = Sources {
            user: Some(user.clone()),
            team: vec![team.clone(), tmp.path().join("missing")],
            builtin: vec![("a", SIMPLE), ("c", SIMPLE)],
        };
        let lib = Library::load(&sources);
        let a = lib.get("a").unwrap();
        assert_eq!(a.template.as_ref().unwrap().title, "user a");
        assert_eq!(a.origin, Origin::User(user.clone()));
        assert_eq!(a.shadows, vec![Origin::Team(team.clone()), Origin::BuiltIn]);
        assert_eq!(lib.get("b").unwrap().origin, Origin::Team(team.clone()));
        assert_eq!(lib.get("c").unwrap().origin, Origin::BuiltIn);
        let latin = lib.get("latin").unwrap();
        assert!(latin.is_broken());
        assert!(
            latin.problems[0].message.contains("not UTF-8"),
            "{:?}",
            latin.problems
        );
        assert!(lib.get("dir").unwrap().is_broken());
        assert!(lib.get("notes").is_none());
        assert_eq!(lib.warnings().len(), 1);
        assert!(lib.warnings()[0].message.contains("does not exist"));
        // Valid ones first, broken ones last.
        assert!(lib.entries().last().unwrap().is_broken());
        assert_eq!(Origin::BuiltIn.to_string(), "built-in");
        assert_eq!(
            Origin::Team(team.clone()).to_string(),
            format!("team ({})", team.display())
        );
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        assert_eq!(Origin::BuiltIn.to_string(), "内置");
        assert_eq!(
            Origin::User(user.clone()).to_string(),
            format!("个人（{}）", user.display())
        );
    }

    #[test]
    fn edits_and_new_files_make_the_library_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let user = tmp.path().join("user");
        write(&user, "a.toml", SIMPLE.as_bytes());
        let sources = Sources {
            user: Some(user.clone()),
            ..Sources::default()
        };
        let lib = Library::load(&sources);
        assert!(!lib.is_stale(&sources));
        write(
            &user,
            "a.toml",
            b"title = \"Changed title\"\nprompt = \"p\"\n",
        );
        assert!(lib.is_stale(&sources));
        let lib = Library::load(&sources);
        assert_eq!(
            lib.get("a").unwrap().template.as_ref().unwrap().title,
            "Changed title"
        );
        write(&user, "b.toml", SIMPLE.as_bytes());
        assert!(lib.is_stale(&sources));
    }

    #[test]
    fn oversized_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let big = tmp.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let e = read_file(&big).unwrap_err();
        assert!(e.message.contains("at most 4 MB"), "{e}");
    }

    #[test]
    fn built_in_templates_have_chinese_titles_labels_and_categories_but_keep_their_prompts() {
        let sources = Sources {
            user: None,
            team: Vec::new(),
            builtin: super::super::files::BUILTIN.to_vec(),
        };
        let en = Library::load(&sources);
        let en_reply = en.get("email-reply").unwrap().template.clone().unwrap();
        assert_eq!(en_reply.title, "Draft an email reply");
        assert_eq!(en_reply.category, "Writing");
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let zh = Library::load(&sources);
        let reply = zh.get("email-reply").unwrap().template.clone().unwrap();
        assert_eq!(reply.title, "起草邮件回复");
        assert_eq!(reply.category, "写作");
        assert!(reply.description.starts_with("按你选择的语气"), "{reply:?}");
        let points = reply.variable("points").unwrap();
        assert_eq!(points.label, "要表达的内容");
        assert_eq!(
            points.help.as_deref(),
            Some("每行一个要点，写得粗略也没关系。")
        );
        // What the model reads is the same in both languages.
        assert_eq!(reply.steps, en_reply.steps);
        assert_eq!(reply.system, en_reply.system);
        assert_eq!(
            reply.variable("language").unwrap().options,
            en_reply.variable("language").unwrap().options
        );
        // Every built-in one has a Chinese title and description, every variable a label.
        for e in zh.entries() {
            let t = e.template.as_ref().unwrap();
            let cjk = |s: &str| s.chars().any(|c| c > '\u{2e80}');
            assert!(
                cjk(&t.title) && cjk(&t.description) && cjk(&t.category),
                "{t:?}"
            );
            for v in &t.variables {
                assert!(cjk(&v.label), "{}: {v:?}", t.id);
                assert!(v.help.as_deref().is_none_or(cjk), "{}: {v:?}", t.id);
            }
        }
    }
}
