//! The editing keys of every text field, through `update`: the message box, the search,
//! rename, system prompt and key dialogs, the template picker's and the file picker's
//! filters, the session list's filter, and the template form's one-line and multi-line
//! fields. One table of keys (`app/edit.rs`) serves them all, so each gets the same script.

use super::*;

/// A text field of the app, and how to open it with nothing typed in it.
struct Kind {
    name: &'static str,
    open: fn(&mut App),
}

fn kinds() -> Vec<Kind> {
    vec![
        Kind {
            name: "message box",
            open: |_| {},
        },
        Kind {
            name: "search",
            open: |a| {
                update(a, ctrl('f'));
            },
        },
        Kind {
            name: "rename",
            open: |a| {
                a.focus = Focus::Sessions;
                update(a, key(KeyCode::Char('r')));
                update(a, ctrl('u'));
            },
        },
        Kind {
            name: "system prompt",
            open: |a| {
                update(a, key(KeyCode::F(2)));
            },
        },
        Kind {
            name: "API key",
            open: |a| {
                update(a, key(KeyCode::F(3)));
            },
        },
        Kind {
            name: "template picker",
            open: |a| {
                update(a, ctrl('p'));
                update(a, Msg::TemplatesLoaded(library()));
            },
        },
        Kind {
            name: "file picker",
            open: |a| {
                update(a, ctrl('o'));
            },
        },
        Kind {
            name: "session filter",
            open: |a| {
                a.focus = Focus::Sessions;
                update(a, key(KeyCode::Char('/')));
            },
        },
        Kind {
            name: "template form, one line",
            open: |a| open_form(a, "email"),
        },
        Kind {
            name: "template form, multi-line",
            open: |a| open_form(a, "summ"),
        },
    ]
}

/// Open the form of the template the picker finds for `query` (its first field focused).
fn open_form(a: &mut App, query: &str) {
    update(a, ctrl('p'));
    update(a, Msg::TemplatesLoaded(library()));
    type_text(a, query);
    update(a, key(KeyCode::Enter));
    assert!(matches!(a.dialog, Some(Dialog::Form(_))), "{:?}", a.dialog);
}

/// The text of the field that has the keys.
fn field_text(a: &App) -> String {
    match &a.dialog {
        Some(Dialog::Search { query, .. } | Dialog::Templates { query, .. }) => query.to_string(),
        Some(Dialog::Rename { title, .. }) => title.to_string(),
        Some(Dialog::SystemPrompt { text }) => text.to_string(),
        Some(Dialog::ApiKey { key, .. }) => key.to_string(),
        Some(Dialog::Attach(picker)) => picker.path.to_string(),
        Some(Dialog::Form(form)) => form.fields[form.focus].value.to_string(),
        Some(other) => panic!("not a text field: {other:?}"),
        None if a.filtering => a.filter.to_string(),
        None => a.input_text(),
    }
}

fn press(a: &mut App, code: KeyCode, mods: KeyModifiers) {
    update(a, Msg::Key(KeyEvent::new(code, mods)));
}

/// Issue 13, point 12: the same keys, the same result, in every field.
#[test]
fn every_text_field_has_the_shell_editing_keys() {
    let none = KeyModifiers::NONE;
    for kind in kinds() {
        let mut a = with_sessions();
        (kind.open)(&mut a);
        let name = kind.name;
        assert_eq!(field_text(&a), "", "{name} starts empty");
        type_text(&mut a, "cp docs/travel-2024.md ~/out");
        press(&mut a, KeyCode::Backspace, KeyModifiers::ALT);
        assert_eq!(
            field_text(&a),
            "cp docs/travel-2024.md ~/",
            "{name}: Alt+Backspace"
        );
        update(&mut a, ctrl('w'));
        assert_eq!(field_text(&a), "cp docs/travel-2024.md ", "{name}: Ctrl+W");
        update(&mut a, ctrl('w'));
        assert_eq!(field_text(&a), "cp ", "{name}: Ctrl+W over the space");
        type_text(&mut a, "a.md");
        update(&mut a, ctrl('a'));
        type_text(&mut a, ">");
        assert_eq!(field_text(&a), ">cp a.md", "{name}: Ctrl+A");
        press(&mut a, KeyCode::Right, none);
        press(&mut a, KeyCode::Right, none);
        update(&mut a, ctrl('k'));
        assert_eq!(field_text(&a), ">cp", "{name}: Ctrl+K");
        press(&mut a, KeyCode::Home, none);
        press(&mut a, KeyCode::End, none);
        type_text(&mut a, " b");
        assert_eq!(field_text(&a), ">cp b", "{name}: Home, End");
        press(&mut a, KeyCode::Left, none);
        update(&mut a, ctrl('u'));
        assert_eq!(field_text(&a), "b", "{name}: Ctrl+U");
        if name != "message box" {
            update(&mut a, ctrl('a'));
            update(&mut a, ctrl('e'));
            type_text(&mut a, "!");
            assert_eq!(field_text(&a), "b!", "{name}: Ctrl+E");
        }
        let text = field_text(&a);
        press(&mut a, KeyCode::End, none);
        press(&mut a, KeyCode::Left, KeyModifiers::CONTROL);
        press(&mut a, KeyCode::Delete, none);
        assert_eq!(field_text(&a), text[1..], "{name}: a word left, Delete");
    }
}

/// Ctrl+E is the line's end in every field but the message box, where it opens `$EDITOR`
/// (End goes to the line's end there).
#[test]
fn ctrl_e_opens_the_editor_only_from_the_message_box() {
    let mut a = app();
    type_text(&mut a, "draft");
    update(&mut a, ctrl('a'));
    assert_eq!(
        update(&mut a, ctrl('e')),
        vec![Effect::Compose("draft".into())]
    );
    update(&mut a, ctrl('f'));
    type_text(&mut a, "ab");
    update(&mut a, ctrl('a'));
    assert!(
        update(&mut a, ctrl('e')).is_empty(),
        "no editor from a dialog"
    );
    type_text(&mut a, "c");
    assert_eq!(field_text(&a), "abc");
}

/// The reported case: Ctrl+W in the search box takes the word back and searches again.
#[test]
fn ctrl_w_in_the_search_box_searches_for_what_is_left() {
    let mut a = app();
    update(&mut a, ctrl('f'));
    type_text(&mut a, "travel 报销");
    let fx = update(&mut a, ctrl('w'));
    assert_eq!(fx, vec![Effect::Search("travel ".into())]);
    assert_eq!(field_text(&a), "travel ");
    // Moving the cursor changes nothing and does not search.
    assert!(update(&mut a, key(KeyCode::Left)).is_empty());
}

/// In a multi-line field the line keys act on the cursor's line; at its edge they join it
/// with its neighbour, as Backspace does.
#[test]
fn multi_line_fields_edit_the_cursors_line() {
    for name in ["message box", "template form, multi-line"] {
        let mut a = app();
        if name != "message box" {
            open_form(&mut a, "summ");
        }
        type_text(&mut a, "one two");
        update(
            &mut a,
            Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)),
        );
        type_text(&mut a, "three four");
        update(&mut a, ctrl('w'));
        assert_eq!(field_text(&a), "one two\nthree ", "{name}: Ctrl+W");
        update(&mut a, ctrl('u'));
        assert_eq!(field_text(&a), "one two\n", "{name}: Ctrl+U");
        update(&mut a, ctrl('u'));
        assert_eq!(field_text(&a), "one two", "{name}: Ctrl+U joins the lines");
        update(&mut a, ctrl('a'));
        update(&mut a, ctrl('k'));
        assert_eq!(field_text(&a), "", "{name}: Ctrl+A, Ctrl+K");
    }
}

/// A value typed in the form is still checked as it is edited, and moving the cursor does
/// not count as a change.
#[test]
fn form_fields_are_checked_as_they_are_edited() {
    let mut a = app();
    update(&mut a, ctrl('p'));
    update(&mut a, Msg::TemplatesLoaded(library()));
    type_text(&mut a, "summ");
    update(&mut a, key(KeyCode::Enter));
    // The number field: "12x" is not a number until Ctrl+W… takes "12x" away.
    update(&mut a, key(KeyCode::Tab));
    update(&mut a, key(KeyCode::Tab));
    let form = |a: &App| match &a.dialog {
        Some(Dialog::Form(f)) => f.clone(),
        other => panic!("{other:?}"),
    };
    update(&mut a, key(KeyCode::Left));
    assert!(!form(&a).fields[2].touched, "a move is not an edit");
    type_text(&mut a, "12x");
    assert_eq!(form(&a).fields[2].problem.as_deref(), Some("not a number"));
    update(&mut a, key(KeyCode::Backspace));
    assert_eq!(form(&a).fields[2].problem, None);
    assert!(form(&a).fields[2].touched);
}
