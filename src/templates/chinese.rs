//! The template messages people read, in Chinese: validation problems (with their file,
//! line and column kept as they are), the values given to a template, placeholders and a
//! run's errors. The English texts are asserted by each module's own tests.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::placeholders::{self, RenderError};
use super::run::RunError;
use super::{Severity, check_values, parse_template};
use crate::i18n::{Language, scoped};

const BROKEN: &str = "title = \"Minutes\"\n\
    prompt = \"Notes: {{notes}} {{missing}}\"\n\
    \n\
    [[variables]]\n\
    name = \"notes\"\n\
    \n\
    [[variables]]\n\
    name = \"tone\"\n\
    kind = \"choice\"\n\
    options = [\"formal\"]\n\
    default = \"casual\"\n";

#[test]
fn a_validation_problem_names_the_file_line_and_key_in_chinese() {
    let english: Vec<String> = parse_template("minutes", "team/minutes.toml", BROKEN)
        .1
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(
        english.contains(
            &"team/minutes.toml:2:28: error: `{{missing}}` is not a variable of this template: add it under [[variables]]"
                .to_string()
        ),
        "{english:#?}"
    );
    let _zh = scoped(Language::Chinese);
    let (template, problems) = parse_template("minutes", "team/minutes.toml", BROKEN);
    assert!(template.is_none());
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(
        shown.contains(
            &"team/minutes.toml:2:28: 错误：`{{missing}}` 不是此模板的变量：请在 [[variables]] 下添加"
                .to_string()
        ),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.contains("错误：`tone` 的默认值不在其选项之中（formal）")),
        "{shown:#?}"
    );
    assert_eq!(
        problems.len(),
        english.len(),
        "the same problems, in Chinese"
    );
}

#[test]
fn warnings_and_missing_keys_read_in_chinese() {
    let _zh = scoped(Language::Chinese);
    let text = "prompt = \"hi\"\n[[variables]]\nname = \"unused\"\n";
    let problems = parse_template("x", "x.toml", text).1;
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(
        shown.contains(&"x.toml:1:1: 错误：缺少 `title = \"…\"`".to_string()),
        "{shown:#?}"
    );
    let warning = problems
        .iter()
        .find(|p| p.severity == Severity::Warning)
        .unwrap();
    assert_eq!(
        warning.to_string(),
        "x.toml:3:8: 警告：变量 `unused` 没有被任何提示词使用"
    );
    let bad_id = parse_template("Bad Id", "Bad Id.toml", "title = \"t\"\nprompt = \"p\"\n").1;
    assert!(
        bad_id[0].message.starts_with("`Bad Id` 不能用作模板 ID"),
        "{bad_id:?}"
    );
}

#[test]
fn values_and_placeholders_read_in_chinese() {
    let text = "title = \"t\"\nprompt = \"{{n}} {{tone}}\"\n\
        [[variables]]\nname = \"n\"\nkind = \"number\"\nlabel = \"Count\"\nhelp = \"how many\"\n\
        [[variables]]\nname = \"tone\"\nkind = \"choice\"\noptions = [\"a\", \"b\"]\n";
    let t = parse_template("t", "t.toml", text).0.unwrap();
    let _zh = scoped(Language::Chinese);
    let missing = check_values(&t, &BTreeMap::new()).unwrap_err();
    assert!(
        missing.contains(&"缺少 `n`（Count）：how many".to_string()),
        "{missing:?}"
    );
    let given = BTreeMap::from([
        ("n".to_string(), "many".to_string()),
        ("tone".to_string(), "c".to_string()),
        ("colour".to_string(), "red".to_string()),
    ]);
    let wrong = check_values(&t, &given).unwrap_err();
    assert_eq!(
        wrong,
        [
            "未知变量 `colour`；此模板的变量有：n, tone",
            "`n` 的值为“many”，不是数字",
            "`tone` 的值为“c”，必须是以下之一：a, b",
        ]
    );
    let open = placeholders::parse("a {{name").unwrap_err();
    assert_eq!(
        open.message,
        "`{{` 没有用 `}}` 闭合（要写字面的大括号，请写作 `\\{{`）"
    );
    let bad = placeholders::parse("{{ Bad }}").unwrap_err();
    assert!(
        bad.message.starts_with("`{{Bad}}` 不是占位符"),
        "{}",
        bad.message
    );
    let err = RunError::Render {
        step: "draft".into(),
        message: RenderError::MissingStep("notes".into()).to_string(),
    };
    assert_eq!(
        err.to_string(),
        "无法填写步骤 `draft`：步骤 `notes` 还没有回答"
    );
}
