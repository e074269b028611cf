//! Syntax highlighting of code blocks with syntect, and the cache that makes it affordable.
//!
//! The syntax and theme sets bundled with syntect are loaded once, on first use. A block's
//! text is highlighted into styled byte ranges per line ([`Highlights`]) and kept in a
//! bounded cache that drops the least recently used blocks first; a block that grows (a
//! message still streaming) resumes from the parser state before its last line instead of
//! starting over.
//!
//! It must not lay out or wrap lines, read files or the environment, or grow past the
//! cache's budget. It must not panic: an unknown
//! language or theme gives plain code, not an error.

use std::cell::RefCell;
use std::sync::{Arc, LazyLock, OnceLock};

use ratatui::style::{Color, Modifier, Style};
use syntect::highlighting::{
    FontStyle, HighlightIterator, HighlightState, Highlighter, Style as SynStyle, Theme as SynTheme,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};

use crate::ui::theme::Theme;

/// The syntaxes bundled with syntect, loaded once.
static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);
/// The syntect themes clerk ships: syntect's seven, each as its own dump (made from
/// syntect's set; `bundled_syntax_themes_are_syntects_own` checks and, with
/// `CLERK_WRITE_SYNTAX_THEMES=1`, writes them), so that only the one in use is loaded
/// (loading all seven cost ~2 ms of every first code block).
macro_rules! dumps {
    ($(($name:literal, $file:literal)),* $(,)?) => {
        [$(($name, $file, include_bytes!(concat!("syntax_themes/", $file)) as &[u8])),*]
    };
}
const SYNTAX_THEME_DUMPS: [(&str, &str, &[u8]); 7] = dumps![
    ("base16-ocean.dark", "base16-ocean.dark.bin"),
    ("base16-eighties.dark", "base16-eighties.dark.bin"),
    ("base16-mocha.dark", "base16-mocha.dark.bin"),
    ("base16-ocean.light", "base16-ocean.light.bin"),
    ("InspiredGitHub", "InspiredGitHub.bin"),
    ("Solarized (dark)", "solarized-dark.bin"),
    ("Solarized (light)", "solarized-light.bin"),
];

/// Each shipped syntect theme, loaded on first use (`None`: a dump that does not load,
/// which gives plain code rather than a panic).
static SYNTAX_THEMES: [OnceLock<Option<SynTheme>>; 7] = [const { OnceLock::new() }; 7];

/// The syntect theme named `name`, if clerk ships it.
fn syntax_theme(name: &str) -> Option<&'static SynTheme> {
    let i = SYNTAX_THEME_DUMPS.iter().position(|(n, ..)| *n == name)?;
    SYNTAX_THEMES[i]
        .get_or_init(|| syntect::dumps::from_reader(SYNTAX_THEME_DUMPS[i].2).ok())
        .as_ref()
}

/// Highlighted code: for each line, syntect styles over byte ranges of the line (none for
/// a line left plain).
#[derive(Debug, Default)]
pub(super) struct Highlights {
    pub(super) lines: Vec<Vec<(SynStyle, usize, usize)>>,
}

/// Lines longer than this are left plain (regexes on huge lines are slow; Sublime Text
/// does the same).
const MAX_HIGHLIGHT_LINE: usize = 2_000;
/// Lines of a block past this are left plain.
const MAX_HIGHLIGHT_LINES: usize = 2_000;
/// The highlight cache's budget: source bytes plus styled ranges.
const CACHE_BYTES: usize = 32 << 20;
/// The most blocks the highlight cache keeps.
const CACHE_ENTRIES: usize = 4_096;

/// Highlighted code blocks, kept across calls: highlighting with syntect costs far more than
/// everything else here, and the same blocks are rendered again when the width changes and
/// while a message streams in. Least recently used blocks go first.
struct HighlightCache {
    entries: Vec<CacheEntry>,
    bytes: usize,
    clock: u64,
}

struct CacheEntry {
    theme: String,
    syntax: String,
    text: String,
    highlights: Arc<Highlights>,
    /// Parser state before the last line, to continue from when the text grows.
    resume: Option<(ParseState, HighlightState)>,
    used: u64,
    bytes: usize,
}

thread_local! {
    /// One cache per thread: drawing happens on the UI thread, and syntect's parser state
    /// (with the Oniguruma engine) cannot move between threads.
    static HIGHLIGHT_CACHE: RefCell<HighlightCache> = const {
        RefCell::new(HighlightCache {
            entries: Vec::new(),
            bytes: 0,
            clock: 0,
        })
    };
}

/// Where highlighting resumes: the lines already done and the state after them.
struct Resume {
    lines: Vec<Vec<(SynStyle, usize, usize)>>,
    start: usize,
    state: (ParseState, HighlightState),
}

impl HighlightCache {
    fn with<R>(f: impl FnOnce(&mut HighlightCache) -> R) -> R {
        HIGHLIGHT_CACHE.with_borrow_mut(f)
    }

    fn get(&mut self, theme: &str, syntax: &str, text: &str) -> Option<Arc<Highlights>> {
        self.clock += 1;
        let e = self
            .entries
            .iter_mut()
            .find(|e| e.text == text && e.syntax == syntax && e.theme == theme)?;
        e.used = self.clock;
        Some(e.highlights.clone())
    }

    /// The longest cached block whose complete lines (all but its last) start `text`; it is
    /// removed, as the new text supersedes it (a streaming block).
    fn take_prefix(&mut self, theme: &str, syntax: &str, text: &str) -> Option<Resume> {
        let mut best: Option<(usize, usize)> = None;
        for (i, e) in self.entries.iter().enumerate() {
            let Some(done) = e.text.rfind('\n').map(|n| n + 1) else {
                continue;
            };
            if e.resume.is_some()
                && best.is_none_or(|(_, len)| done > len)
                && text.as_bytes().get(..done) == Some(&e.text.as_bytes()[..done])
                && e.syntax == syntax
                && e.theme == theme
            {
                best = Some((i, done));
            }
        }
        let (i, start) = best?;
        let e = self.entries.swap_remove(i);
        self.bytes -= e.bytes;
        let state = e.resume?;
        let mut lines = Arc::try_unwrap(e.highlights)
            .unwrap_or_else(|h| Highlights {
                lines: h.lines.clone(),
            })
            .lines;
        lines.pop();
        Some(Resume {
            lines,
            start,
            state,
        })
    }

    fn insert(&mut self, mut entry: CacheEntry) {
        self.clock += 1;
        entry.used = self.clock;
        self.bytes += entry.bytes;
        self.entries.push(entry);
        while self.entries.len() > 1
            && (self.bytes > CACHE_BYTES || self.entries.len() > CACHE_ENTRIES)
        {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.used)
                .map(|(i, _)| i)
            else {
                break;
            };
            let e = self.entries.swap_remove(oldest);
            self.bytes -= e.bytes;
        }
    }
}

/// Highlights for a code block, or `None` for plain code (no syntect theme, unknown theme
/// or unknown language).
pub(super) fn code_highlights(
    theme: &Theme,
    lang: Option<&str>,
    text: &str,
) -> Option<Arc<Highlights>> {
    if theme.syntax.is_empty() {
        return None;
    }
    let syntax = find_syntax(lang?)?;
    let syn_theme = syntax_theme(&theme.syntax)?;
    let resume = HighlightCache::with(|cache| match cache.get(&theme.syntax, &syntax.name, text) {
        Some(h) => Err(h),
        None => Ok(cache.take_prefix(&theme.syntax, &syntax.name, text)),
    });
    let resume = match resume {
        Ok(resume) => resume,
        Err(cached) => return Some(cached),
    };
    let (highlights, state) = highlight(syntax, syn_theme, text, resume);
    let highlights = Arc::new(highlights);
    let ranges: usize = highlights.lines.iter().map(Vec::len).sum();
    let bytes = text.len()
        + ranges * std::mem::size_of::<(SynStyle, usize, usize)>()
        + highlights.lines.len() * std::mem::size_of::<Vec<()>>();
    HighlightCache::with(|cache| {
        cache.insert(CacheEntry {
            theme: theme.syntax.clone(),
            syntax: syntax.name.clone(),
            text: text.to_string(),
            highlights: highlights.clone(),
            resume: state,
            used: 0,
            bytes,
        })
    });
    Some(highlights)
}

/// Highlight `text` line by line, from the start or from `resume`. Also returns the state
/// before the last line.
fn highlight(
    syntax: &SyntaxReference,
    syn_theme: &SynTheme,
    text: &str,
    resume: Option<Resume>,
) -> (Highlights, Option<(ParseState, HighlightState)>) {
    let highlighter = Highlighter::new(syn_theme);
    let (mut lines, start, (mut parse, mut state)) = match resume {
        Some(r) => (r.lines, r.start, r.state),
        None => {
            let state = HighlightState::new(&highlighter, ScopeStack::new());
            (Vec::new(), 0, (ParseState::new(syntax), state))
        }
    };
    let mut before_last = None;
    let mut buf = String::new();
    let mut rest = text.get(start..).unwrap_or("").split('\n').peekable();
    while let Some(line) = rest.next() {
        if rest.peek().is_none() {
            before_last = Some((parse.clone(), state.clone()));
        }
        let mut ranges = Vec::new();
        if line.len() <= MAX_HIGHLIGHT_LINE && lines.len() < MAX_HIGHLIGHT_LINES {
            // syntect's grammars expect the newline.
            buf.clear();
            buf.push_str(line);
            buf.push('\n');
            if let Ok(ops) = parse.parse_line(&buf, &SYNTAXES) {
                let mut pos = 0;
                for (style, piece) in HighlightIterator::new(&mut state, &ops, &buf, &highlighter) {
                    let end = (pos + piece.len()).min(line.len());
                    if end > pos {
                        ranges.push((style, pos, end));
                    }
                    pos += piece.len();
                }
            }
        }
        lines.push(ranges);
    }
    (Highlights { lines }, before_last)
}

/// The bundled syntax for a fence's language token (a name or a file extension).
fn find_syntax(lang: &str) -> Option<&'static SyntaxReference> {
    let lower = lang.to_ascii_lowercase();
    let token = match lower.as_str() {
        "shell" | "console" | "zsh" | "bash" | "shellscript" | "sh-session" => "sh",
        "c++" => "cpp",
        "c#" | "csharp" => "cs",
        "ts" | "typescript" | "tsx" | "jsx" | "javascript" | "node" | "mjs" | "cjs" => "js",
        "python3" | "py3" => "py",
        "golang" => "go",
        "objc" | "objective-c" => "m",
        "make" | "makefile" => "Makefile",
        "yml" => "yaml",
        "text" | "txt" | "plain" | "plaintext" => return None,
        other => other,
    };
    SYNTAXES.find_syntax_by_token(token)
}

/// A syntect style on top of the theme's code style (whose background is kept).
pub(super) fn syn_style(code: Style, s: SynStyle) -> Style {
    let mut style = code;
    let fg = s.foreground;
    if fg.a > 0 {
        style = style.fg(Color::Rgb(fg.r, fg.g, fg.b));
    }
    for (f, m) in [
        (FontStyle::BOLD, Modifier::BOLD),
        (FontStyle::ITALIC, Modifier::ITALIC),
        (FontStyle::UNDERLINE, Modifier::UNDERLINED),
    ] {
        if s.font_style.contains(f) {
            style = style.add_modifier(m);
        }
    }
    style
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::super::tests::{dark, span_with};
    use super::*;

    #[test]
    fn syntect_colours_keywords_with_the_dark_theme() {
        let t = dark();
        let r = render("```rust\nlet value = compute();\n```", 40, &t);
        let kw = span_with(&r.lines, "let").style.fg;
        let ident = span_with(&r.lines, "compute").style.fg;
        assert!(matches!(kw, Some(Color::Rgb(..))), "{kw:?}");
        assert_ne!(kw, ident);
        assert_ne!(kw, t.code.fg);
    }

    #[test]
    fn bundled_syntax_themes_are_syntects_own() {
        let set = syntect::highlighting::ThemeSet::load_defaults();
        assert_eq!(set.themes.len(), SYNTAX_THEME_DUMPS.len());
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui/markdown/syntax_themes");
        for (i, (name, file, bytes)) in SYNTAX_THEME_DUMPS.iter().enumerate() {
            let theirs = set.themes.get(*name).expect("a theme syntect ships");
            let dump = syntect::dumps::dump_binary(theirs);
            if std::env::var_os("CLERK_WRITE_SYNTAX_THEMES").is_some() {
                std::fs::write(dir.join(file), &dump).unwrap();
                continue;
            }
            let ours: SynTheme = syntect::dumps::from_reader(*bytes).unwrap();
            assert_eq!(syntect::dumps::dump_binary(&ours), dump, "{name}");
            assert!(syntax_theme(name).is_some());
            assert!(SYNTAX_THEMES[i].get().is_some());
        }
        assert!(syntax_theme("no-such-theme").is_none());
    }

    #[test]
    fn plain_code_style_without_syntax_theme() {
        let mut t = dark();
        t.syntax = String::new();
        let r = render("```rust\nlet value = compute();\n```", 40, &t);
        let b = &r.code_blocks[0];
        let body = &r.lines[b.first_line + 1];
        assert!(!body.spans.is_empty());
        for s in &body.spans {
            assert_eq!(s.style, t.code, "{s:?}");
        }
        // An unknown syntect theme or language also falls back to plain code.
        t.syntax = "no-such-theme".into();
        let r = render("```rust\nlet x;\n```\n```klingon\nqapla\n```", 40, &t);
        for b in &r.code_blocks {
            let l = &r.lines[b.first_line + 1];
            assert!(l.spans.iter().all(|s| s.style == t.code), "{l:?}");
        }
    }

    #[test]
    fn highlighting_is_cached_and_resumes_as_a_block_grows() {
        let syntax = find_syntax("rust").expect("rust syntax");
        let syn_theme = syntax_theme("base16-ocean.dark").expect("theme");
        let t = dark();
        let text: String = (0..12)
            .map(|i| format!("let cached_{i} = \"str {i}\"; /* c */ fn f{i}() {{}}\n"))
            .collect::<String>()
            + "/* open comment\nstill comment */ let end = 1;";
        // Stream it in: every prefix renders, and each one resumes from the previous one.
        for cut in (1..text.len())
            .filter(|&i| text.is_char_boundary(i))
            .step_by(7)
        {
            let r = render(&format!("```rust\n{}", &text[..cut]), 40, &t);
            let part = &text[..cut];
            assert_eq!(
                r.code_blocks[0].text,
                part.strip_suffix('\n').unwrap_or(part)
            );
        }
        let streamed = code_highlights(&t, Some("rust"), &text).expect("highlights");
        let fresh = highlight(syntax, syn_theme, &text, None).0;
        assert_eq!(streamed.lines, fresh.lines);
        assert!(fresh.lines.iter().all(|l| !l.is_empty()));
        let again = code_highlights(&t, Some("rust"), &text).expect("highlights");
        assert!(
            Arc::ptr_eq(&streamed, &again),
            "second call should come from the cache"
        );
    }
}
