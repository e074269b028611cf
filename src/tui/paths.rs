//! Paths typed in the app: `~` expanded, and completion of a partly typed path.
//!
//! It reads folder listings only; it must not open or change files.

/// `~/x` → the home folder's `x`.
pub(crate) fn expand_home(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(path),
    }
}

/// Complete a typed path: the longest common completion and the matching names.
pub(super) fn complete_path(typed: &str) -> (String, Vec<String>) {
    let (dir_part, prefix) = match typed.rfind('/') {
        Some(i) => (&typed[..=i], &typed[i + 1..]),
        None => ("", typed),
    };
    let dir = if dir_part.is_empty() {
        std::path::PathBuf::from(".")
    } else {
        expand_home(dir_part)
    };
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return (typed.to_string(), Vec::new());
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            (name.starts_with(prefix) && (!name.starts_with('.') || prefix.starts_with('.')))
                .then(|| if is_dir { format!("{name}/") } else { name })
        })
        .collect();
    names.sort_unstable();
    let Some(first) = names.first() else {
        return (typed.to_string(), Vec::new());
    };
    let mut common = first.clone();
    for n in &names[1..] {
        let keep = common
            .char_indices()
            .zip(n.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map(|((i, c), _)| i + c.len_utf8())
            .unwrap_or(0);
        common.truncate(keep);
    }
    (format!("{dir_part}{common}"), names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_complete_to_the_longest_common_part() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["q3-budget.md", "q3-plan.txt", "other.txt", ".hidden"] {
            std::fs::write(tmp.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(tmp.path().join("q3-archive")).unwrap();
        let base = format!("{}/", tmp.path().display());
        let (common, names) = complete_path(&format!("{base}q"));
        assert_eq!(common, format!("{base}q3-"));
        assert_eq!(names, vec!["q3-archive/", "q3-budget.md", "q3-plan.txt"]);
        let (common, names) = complete_path(&format!("{base}oth"));
        assert_eq!(common, format!("{base}other.txt"));
        assert_eq!(names.len(), 1);
        let (common, names) = complete_path(&format!("{base}zzz"));
        assert_eq!(common, format!("{base}zzz"));
        assert!(names.is_empty());
        // Hidden files only when asked for.
        assert!(complete_path(&base).1.iter().all(|n| !n.starts_with('.')));
        assert_eq!(complete_path(&format!("{base}.h")).1, vec![".hidden"]);
    }
}
