//! Placeholders in template text: `{{name}}` is a variable, `{{steps.NAME}}` the answer of
//! an earlier step; spaces inside the braces are allowed (`{{ name }}`).
//!
//! Literal braces: `\{{` is written as `{{` and starts no placeholder. A lone `{`, `}` or
//! `}}` is plain text. Rendering is one pass over the text, and substituted values are never
//! expanded again (a document that contains `{{x}}` stays as it is). This module knows
//! nothing of files or templates.

use std::fmt;

/// A piece of parsed template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Plain text (literal braces already unescaped).
    Text(String),
    /// `{{name}}`, at this byte offset of the `{{`.
    Var {
        /// The variable's name.
        name: String,
        /// Where the placeholder starts.
        offset: usize,
    },
    /// `{{steps.name}}`, at this byte offset of the `{{`.
    Step {
        /// The step's name.
        name: String,
        /// Where the placeholder starts.
        offset: usize,
    },
}

/// A placeholder that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlaceholderError {
    /// Byte offset of the `{{`.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// A placeholder without a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The text does not parse.
    Syntax(PlaceholderError),
    /// No value for this variable.
    MissingVar(String),
    /// No answer for this step.
    MissingStep(String),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Syntax(e) => write!(f, "{e}"),
            RenderError::MissingVar(n) => {
                f.write_str(&tr!("templates.placeholder.no_value", name = n))
            }
            RenderError::MissingStep(n) => {
                f.write_str(&tr!("templates.placeholder.no_answer", name = n))
            }
        }
    }
}

impl std::error::Error for RenderError {}

/// Whether `s` is a valid variable or step name: `[a-z_][a-z0-9_]*`.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Split text into plain text and placeholders.
pub fn parse(text: &str) -> Result<Vec<Piece>, PlaceholderError> {
    let mut pieces = Vec::new();
    let mut plain = String::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && text[i + 1..].starts_with("{{") {
            plain.push_str(&text[copied..i]);
            plain.push_str("{{");
            i += 3;
            copied = i;
            continue;
        }
        if bytes[i] == b'{' && text[i..].starts_with("{{") {
            plain.push_str(&text[copied..i]);
            let Some(len) = text[i + 2..].find("}}") else {
                return Err(PlaceholderError {
                    offset: i,
                    message: tr!("templates.placeholder.not_closed").into_owned(),
                });
            };
            let inner = text[i + 2..i + 2 + len].trim();
            let (is_step, name) = match inner.strip_prefix("steps.") {
                Some(rest) => (true, rest),
                None => (false, inner),
            };
            if !valid_name(name) {
                return Err(PlaceholderError {
                    offset: i,
                    message: tr!("templates.placeholder.invalid", inner = inner).into_owned(),
                });
            }
            if !plain.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut plain)));
            }
            let name = name.to_string();
            pieces.push(if is_step {
                Piece::Step { name, offset: i }
            } else {
                Piece::Var { name, offset: i }
            });
            i += 2 + len + 2;
            copied = i;
            continue;
        }
        i += 1;
    }
    plain.push_str(&text[copied..]);
    if !plain.is_empty() {
        pieces.push(Piece::Text(plain));
    }
    Ok(pieces)
}

/// Fill in the placeholders of `text`.
pub fn render(
    text: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    steps: &dyn Fn(&str) -> Option<String>,
) -> Result<String, RenderError> {
    let pieces = parse(text).map_err(RenderError::Syntax)?;
    let mut out = String::with_capacity(text.len());
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Var { name, .. } => {
                out.push_str(&vars(&name).ok_or(RenderError::MissingVar(name))?);
            }
            Piece::Step { name, .. } => {
                out.push_str(&steps(&name).ok_or(RenderError::MissingStep(name))?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vars(n: &str) -> Option<String> {
        match n {
            "name" => Some("Ada".into()),
            "doc" => Some("see {{name}} and \\{{x}}".into()),
            _ => None,
        }
    }

    fn steps(n: &str) -> Option<String> {
        (n == "minutes").then(|| "M".into())
    }

    #[test]
    fn rendering_table() {
        let cases: &[(&str, &str)] = &[
            ("Hello {{name}}!", "Hello Ada!"),
            ("Hello {{ name }}!", "Hello Ada!"),
            ("{{name}}{{name}}", "AdaAda"),
            ("from {{steps.minutes}}", "from M"),
            ("from {{ steps.minutes }}", "from M"),
            ("literal \\{{name}} here", "literal {{name}} here"),
            ("a { b } c }} d", "a { b } c }} d"),
            ("json: {\"a\": 1}", "json: {\"a\": 1}"),
            (
                "a value is not expanded: {{doc}}",
                "a value is not expanded: see {{name}} and \\{{x}}",
            ),
            ("中文 {{name}} 🙂", "中文 Ada 🙂"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(render(input, &vars, &steps).unwrap(), *want, "{input}");
        }
    }

    #[test]
    fn parse_errors_and_missing_values() {
        let e = parse("ok {{name").unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(e.message.contains("not closed"));
        let e = parse("x {{Bad Name}}").unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("not a placeholder"));
        assert!(parse("{{}}").is_err());
        assert!(parse("{{steps.}}").is_err());
        assert_eq!(
            render("{{who}}", &vars, &steps).unwrap_err(),
            RenderError::MissingVar("who".into())
        );
        assert_eq!(
            render("{{steps.later}}", &vars, &steps).unwrap_err(),
            RenderError::MissingStep("later".into())
        );
    }

    #[test]
    fn offsets_point_at_the_placeholder() {
        let p = parse("ab {{x}} 中 {{steps.y}}").unwrap();
        assert_eq!(
            p,
            vec![
                Piece::Text("ab ".into()),
                Piece::Var {
                    name: "x".into(),
                    offset: 3
                },
                Piece::Text(" 中 ".into()),
                Piece::Step {
                    name: "y".into(),
                    offset: 13
                },
            ]
        );
    }

    #[test]
    fn a_megabyte_prompt_renders() {
        let big = format!("{}{{{{name}}}}", "word ".repeat(200_000));
        let out = render(&big, &vars, &steps).unwrap();
        assert_eq!(out.len(), 1_000_000 + 3);
        assert!(out.ends_with("Ada"));
    }

    #[test]
    fn names() {
        for ok in ["a", "doc_1", "_x"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "A", "1a", "a-b", "a.b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
