//! Rows of cells as a Markdown table: what CSV files, Word and PowerPoint tables and Excel
//! sheets become. Strings only.

/// Rows of cells as a Markdown table, the first row its header and shorter rows padded to
/// the widest. Cells are made safe here: `|` is escaped, line breaks become spaces.
pub(crate) fn markdown_table(rows: &[Vec<String>]) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        out.push('|');
        for c in 0..width {
            let cell = row.get(c).map(String::as_str).unwrap_or_default();
            out.push(' ');
            out.push_str(
                &cell
                    .trim()
                    .replace('|', "\\|")
                    .replace("\r\n", " ")
                    .replace(['\n', '\r'], " "),
            );
            out.push_str(" |");
        }
        out.push('\n');
        if i == 0 {
            out.push_str(&"|---".repeat(width));
            out.push_str("|\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_padded_and_cells_made_safe() {
        let rows = vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["x | y".to_string()],
            vec!["line\nbreak ".to_string(), "z".to_string()],
        ];
        assert_eq!(
            markdown_table(&rows),
            "| a | b |\n|---|---|\n| x \\| y |  |\n| line break | z |\n"
        );
        assert_eq!(markdown_table(&[]), "");
    }
}
