//! Themes: named roles (not widgets) mapped to styles, loaded from TOML.
//!
//! The built-in themes live in `themes/*.toml` and are embedded in the binary; files in the
//! user's `themes/` config folder add to them or override them by name. A broken theme file
//! is reported with its path and key and the built-in default is used instead. This module
//! only turns text into styles; it never draws.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The built-in themes, embedded at compile time: (name, TOML).
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("gruvbox", include_str!("../../themes/gruvbox.toml")),
];

/// The theme used when none is chosen or the chosen one is broken.
pub const DEFAULT_THEME: &str = "dark";

/// Styles for every role the interface uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// The theme's name.
    pub name: String,
    /// syntect theme used to highlight code blocks.
    pub syntax: String,
    /// Ordinary text.
    pub text: Style,
    /// Secondary text: metadata, hints, placeholders.
    pub muted: Style,
    /// Emphasis: titles, the selected item's marker, key names in hints.
    pub accent: Style,
    /// The user's turns.
    pub user: Style,
    /// The assistant's turns.
    pub assistant: Style,
    /// Errors.
    pub error: Style,
    /// Warnings: interrupted or truncated answers, notices.
    pub warning: Style,
    /// Success notices.
    pub success: Style,
    /// Pane borders.
    pub border: Style,
    /// The focused pane's border.
    pub border_focus: Style,
    /// The selected row or message.
    pub selection: Style,
    /// Fenced code blocks (foreground and background).
    pub code: Style,
    /// `inline code`.
    pub inline_code: Style,
    /// Markdown headings.
    pub heading: Style,
    /// Links.
    pub link: Style,
    /// Block quotes.
    pub quote: Style,
    /// The status bar.
    pub status: Style,
    /// Search matches.
    pub highlight: Style,
}

/// A broken theme file (said in the interface's language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError {
    /// The file (or `built-in NAME`).
    pub path: String,
    /// What is wrong, naming the key.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    syntax: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, RoleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    reversed: bool,
}

/// Every role a theme must define, in the order of [`Theme`]'s fields.
pub const ROLES: [&str; 18] = [
    "text",
    "muted",
    "accent",
    "user",
    "assistant",
    "error",
    "warning",
    "success",
    "border",
    "border_focus",
    "selection",
    "code",
    "inline_code",
    "heading",
    "link",
    "quote",
    "status",
    "highlight",
];

/// Parse a colour: a name (`red`, `lightblue`, `reset`…), `#rrggbb`, or an index `0`–`255`.
pub fn parse_color(text: &str) -> Option<Color> {
    let t = text.trim().to_ascii_lowercase();
    if let Some(hex) = t.strip_prefix('#') {
        if hex.len() != 6 {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
    }
    if let Ok(i) = t.parse::<u8>() {
        return Some(Color::Indexed(i));
    }
    t.parse::<Color>().ok()
}

impl RoleSpec {
    fn style(&self, key: &str) -> Result<Style, String> {
        let mut s = Style::default();
        if let Some(fg) = &self.fg {
            s = s.fg(parse_color(fg).ok_or_else(|| {
                tr!(
                    "app.theme.not_a_colour",
                    key = format!("roles.{key}.fg"),
                    value = fg
                )
                .into_owned()
            })?);
        }
        if let Some(bg) = &self.bg {
            s = s.bg(parse_color(bg).ok_or_else(|| {
                tr!(
                    "app.theme.not_a_colour",
                    key = format!("roles.{key}.bg"),
                    value = bg
                )
                .into_owned()
            })?);
        }
        for (on, m) in [
            (self.bold, Modifier::BOLD),
            (self.italic, Modifier::ITALIC),
            (self.underline, Modifier::UNDERLINED),
            (self.dim, Modifier::DIM),
            (self.reversed, Modifier::REVERSED),
        ] {
            if on {
                s = s.add_modifier(m);
            }
        }
        Ok(s)
    }
}

impl std::fmt::Display for ThemeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = tr!("app.theme.broken", path = self.path, message = self.message);
        f.write_str(&text)
    }
}

impl std::error::Error for ThemeError {}

impl Theme {
    /// Parse a theme file's text. `path` names it in errors.
    pub fn parse(path: &str, text: &str, fallback_name: &str) -> Result<Theme, ThemeError> {
        let err = |message: String| ThemeError {
            path: path.to_string(),
            message,
        };
        let file: ThemeFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            err(match line {
                Some(l) => tr!(
                    "app.theme.at_line",
                    line = l,
                    message = crate::config::reader_message(e.message())
                )
                .into_owned(),
                None => crate::config::reader_message(e.message()),
            })
        })?;
        for key in file.roles.keys() {
            if !ROLES.contains(&key.as_str()) {
                return Err(err(tr!(
                    "app.theme.not_a_role",
                    key = format!("roles.{key}"),
                    roles = ROLES.join(", ")
                )
                .into_owned()));
            }
        }
        let mut styles = Vec::with_capacity(ROLES.len());
        for role in ROLES {
            let spec = file.roles.get(role).ok_or_else(|| {
                err(tr!("app.theme.missing", key = format!("roles.{role}")).into_owned())
            })?;
            styles.push(spec.style(role).map_err(err)?);
        }
        let s = |i: usize| styles[i];
        Ok(Theme {
            name: file.name.unwrap_or_else(|| fallback_name.to_string()),
            syntax: file
                .syntax
                .unwrap_or_else(|| "base16-ocean.dark".to_string()),
            text: s(0),
            muted: s(1),
            accent: s(2),
            user: s(3),
            assistant: s(4),
            error: s(5),
            warning: s(6),
            success: s(7),
            border: s(8),
            border_focus: s(9),
            selection: s(10),
            code: s(11),
            inline_code: s(12),
            heading: s(13),
            link: s(14),
            quote: s(15),
            status: s(16),
            highlight: s(17),
        })
    }

    /// The built-in default theme.
    pub fn default_theme() -> Theme {
        let (name, text) = BUILTIN[0];
        // Invariant: the embedded themes are checked by the `builtin_themes_parse` test.
        Theme::parse(name, text, name).unwrap_or_else(|_| Theme::plain(name))
    }

    /// A theme with no colours at all (used for NO_COLOR and as a last resort).
    pub fn plain(name: &str) -> Theme {
        let b = Style::default();
        Theme {
            name: name.to_string(),
            syntax: "base16-ocean.dark".to_string(),
            text: b,
            muted: b.add_modifier(Modifier::DIM),
            accent: b.add_modifier(Modifier::BOLD),
            user: b.add_modifier(Modifier::BOLD),
            assistant: b,
            error: b.add_modifier(Modifier::BOLD),
            warning: b.add_modifier(Modifier::BOLD),
            success: b,
            border: b.add_modifier(Modifier::DIM),
            border_focus: b,
            selection: b.add_modifier(Modifier::REVERSED),
            code: b,
            inline_code: b.add_modifier(Modifier::BOLD),
            heading: b.add_modifier(Modifier::BOLD),
            link: b.add_modifier(Modifier::UNDERLINED),
            quote: b.add_modifier(Modifier::ITALIC),
            status: b.add_modifier(Modifier::REVERSED),
            highlight: b.add_modifier(Modifier::REVERSED),
        }
    }

    fn map_styles(mut self, f: impl Fn(Style) -> Style) -> Theme {
        for s in [
            &mut self.text,
            &mut self.muted,
            &mut self.accent,
            &mut self.user,
            &mut self.assistant,
            &mut self.error,
            &mut self.warning,
            &mut self.success,
            &mut self.border,
            &mut self.border_focus,
            &mut self.selection,
            &mut self.code,
            &mut self.inline_code,
            &mut self.heading,
            &mut self.link,
            &mut self.quote,
            &mut self.status,
            &mut self.highlight,
        ] {
            *s = f(*s);
        }
        self
    }

    /// NO_COLOR: keep the modifiers, drop every colour; the selection and status bar stay
    /// visible through reverse video.
    pub fn without_color(self) -> Theme {
        let mut t = self.map_styles(|s| Style {
            fg: None,
            bg: None,
            underline_color: None,
            ..s
        });
        t.selection = t.selection.add_modifier(Modifier::REVERSED);
        t.status = t.status.add_modifier(Modifier::REVERSED);
        t.highlight = t.highlight.add_modifier(Modifier::REVERSED);
        t.syntax = String::new();
        t
    }

    /// For 16-colour terminals: every RGB or indexed colour becomes the nearest ANSI colour,
    /// and code is shown in the `code` role's colours (syntect's colours are RGB).
    pub fn to_ansi16(mut self) -> Theme {
        self.syntax = String::new();
        self.map_styles(|s| Style {
            fg: s.fg.map(nearest_ansi),
            bg: s.bg.map(nearest_ansi),
            ..s
        })
    }
}

const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn nearest_ansi(c: Color) -> Color {
    let (r, g, b) = match c {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) if i >= 16 => indexed_rgb(i),
        Color::Indexed(i) => return ANSI16[i as usize].0,
        other => return other,
    };
    let dist = |(r2, g2, b2): (u8, u8, u8)| {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        d(r, r2) + d(g, g2) + d(b, b2)
    };
    ANSI16
        .iter()
        .min_by_key(|(_, rgb)| dist(*rgb))
        .map(|(c, _)| *c)
        .unwrap_or(Color::Reset)
}

fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    if i >= 232 {
        let v = 8 + (i - 232) * 10;
        return (v, v, v);
    }
    let i = i - 16;
    let level = |n: u8| if n == 0 { 0 } else { 55 + n * 40 };
    (level(i / 36), level((i / 6) % 6), level(i % 6))
}

/// All available themes: built-ins, then the user's folder (same name overrides). Broken
/// user files are skipped and reported.
pub fn load_all(user_dir: Option<&Path>) -> (Vec<Theme>, Vec<ThemeError>) {
    let mut themes: Vec<Theme> = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in BUILTIN {
        match Theme::parse(&format!("built-in {name}"), text, name) {
            Ok(t) => themes.push(t),
            Err(e) => errors.push(e),
        }
    }
    if let Some(dir) = user_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let mut paths: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort_unstable();
        for path in paths {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let shown = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => match Theme::parse(&shown, &text, &stem) {
                    Ok(t) => {
                        themes.retain(|x| x.name != t.name);
                        themes.push(t);
                    }
                    Err(e) => errors.push(e),
                },
                Err(e) => errors.push(ThemeError {
                    path: shown,
                    message: e.to_string(),
                }),
            }
        }
    }
    (themes, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_themes_parse_and_differ() {
        let (themes, errors) = load_all(None);
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = themes.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["dark", "light", "high-contrast", "gruvbox"]);
        assert_ne!(themes[0].text, themes[1].text);
        assert_eq!(Theme::default_theme().name, "dark");
    }

    #[test]
    fn colours_parse_in_all_forms() {
        assert_eq!(parse_color("#ff8000"), Some(Color::Rgb(255, 128, 0)));
        assert_eq!(parse_color("LightBlue"), Some(Color::LightBlue));
        assert_eq!(parse_color("236"), Some(Color::Indexed(236)));
        assert_eq!(parse_color("#ff80"), None);
        assert_eq!(parse_color("blurple"), None);
    }

    #[test]
    fn broken_user_theme_names_file_and_key_and_others_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let good = BUILTIN[0].1.replace("name = \"dark\"", "name = \"mine\"");
        std::fs::write(dir.path().join("mine.toml"), good).unwrap();
        let bad = BUILTIN[0]
            .1
            .replace("name = \"dark\"", "name = \"bad\"")
            .replacen("fg = \"#", "fg = \"#zz", 1);
        std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
        let (themes, errors) = load_all(Some(dir.path()));
        assert!(themes.iter().any(|t| t.name == "mine"));
        assert_eq!(errors.len(), 1);
        let msg = errors[0].to_string();
        assert!(
            msg.contains("bad.toml") && msg.contains("roles.") && msg.contains("not a colour"),
            "{msg}"
        );
    }

    #[test]
    fn user_theme_overrides_builtin_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let over = BUILTIN[0].1.replacen("bold = true", "bold = false", 1);
        std::fs::write(dir.path().join("dark.toml"), over).unwrap();
        let (themes, _) = load_all(Some(dir.path()));
        assert_eq!(themes.iter().filter(|t| t.name == "dark").count(), 1);
        assert_eq!(themes.last().unwrap().name, "dark");
    }

    #[test]
    fn missing_role_is_named() {
        let e = Theme::parse(
            "x.toml",
            "name = \"x\"\n[roles]\ntext = { fg = \"red\" }\n",
            "x",
        )
        .unwrap_err();
        assert!(e.message.contains("roles.muted is missing"), "{e}");
        let _zh = crate::i18n::scoped(crate::i18n::Language::Chinese);
        let e = Theme::parse("x.toml", "name = x\n", "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "主题 x.toml：第 1 行：文本值要加引号，这里应为 带引号的文本；改用默认主题"
        );
        let e = Theme::parse(
            "x.toml",
            "name = \"x\"\n[roles]\ntext = { fg = \"blurple\" }\n",
            "x",
        )
        .unwrap_err();
        assert!(
            e.message.contains("roles.text.fg：`blurple` 不是颜色"),
            "{e}"
        );
    }

    #[test]
    fn no_color_strips_colours_and_ansi16_maps_them() {
        let t = Theme::default_theme();
        let plain = t.clone().without_color();
        assert_eq!(plain.text.fg, None);
        assert!(plain.selection.add_modifier.contains(Modifier::REVERSED));
        let a16 = t.to_ansi16();
        for s in [a16.text, a16.accent, a16.code, a16.status] {
            for c in [s.fg, s.bg].into_iter().flatten() {
                assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "{c:?}");
            }
        }
    }
}
