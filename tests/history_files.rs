//! The history file when the disk under it fails: a full disk (history read-only, writes
//! refused naming the real cause) and scribbled pages (the file named with the way out, and
//! `clerk sessions recover`). Real files, the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use clerk::store::{MessageStatus, NewMessage, NewSession, Role, Store};
use serde_json::Value;
use support::env::*;

fn db(env: &Env) -> PathBuf {
    env.home().join("data/clerk/history.sqlite3")
}

/// A history of `sessions` sessions, each a question and an answer naming its number, plus
/// `padding` bytes of text per answer so that the messages fill many pages.
fn make_history(path: &Path, sessions: usize, padding: usize) {
    let mut store = Store::open(path).unwrap();
    let batch: Vec<(NewSession, Vec<NewMessage>)> = (0..sessions)
        .map(|i| {
            let t = 1_700_000_000_000 + i as i64 * 60_000;
            let message = |role, text: String, dt| NewMessage {
                session_id: 0,
                role,
                content: text,
                status: MessageStatus::Complete,
                model: Some("gpt-4o-mini".into()),
                now_ms: t + dt,
            };
            (
                NewSession {
                    title: format!("Budget talk {i}"),
                    profile: "default".into(),
                    model: "gpt-4o-mini".into(),
                    system_prompt: None,
                    now_ms: t,
                },
                vec![
                    message(Role::User, format!("question{i} about the budget"), 1),
                    message(
                        Role::Assistant,
                        format!("answer{i} approved {}", "lorem ipsum ".repeat(padding / 12)),
                        2,
                    ),
                ],
            )
        })
        .collect();
    store.import(&batch).unwrap();
}

// ---------------------------------------------------------------- the disk is full

/// Runs `script` (sh, which must end with `exit 0` and exit 97 when `mount` fails) with a
/// tmpfs to mount on its `$1`, in a private mount namespace: as an unprivileged user
/// through a user namespace, or as root. The mount is gone when the script ends. `None`
/// when no way to mount works here; in CI (`CI` set) that is a failure, never a skip.
fn with_tmpfs(env: &Env, mount_point: &Path, script: &str) -> Option<std::process::Output> {
    let tries: [&[&str]; 2] = [&["--user", "--map-root-user", "--mount"], &["--mount"]];
    // The environment clerk gets in the other tests, for the clerk the script runs.
    let clerk_env: Vec<(std::ffi::OsString, std::ffi::OsString)> = env
        .cmd(&[])
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))
        .collect();
    let mut why = Vec::new();
    for flags in tries {
        let result = Command::new("unshare")
            .args(flags)
            .args(["sh", "-c", script, "sh"])
            .arg(mount_point)
            .env_clear()
            .envs(clerk_env.iter().map(|(k, v)| (k, v)))
            .env("CLERK", env!("CARGO_BIN_EXE_clerk"))
            .output();
        match result {
            Ok(o) if o.status.success() => return Some(o),
            Ok(o) => why.push(format!("unshare {}: {}", flags.join(" "), err(&o).trim())),
            Err(e) => why.push(format!("unshare {}: {e}", flags.join(" "))),
        }
    }
    let msg = format!(
        "SKIPPED: cannot mount a tmpfs here, so the full-disk test did not run ({})",
        why.join("; ")
    );
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("{msg}");
    None
}

#[test]
fn on_a_full_disk_history_is_read_and_a_write_says_the_disk_is_full() {
    let env = Env::new();
    let source = env.home().join("made/history.sqlite3");
    make_history(&source, 3, 100);
    let mount = env.home().join("full");
    let out = env.home().join("out");
    std::fs::create_dir_all(&mount).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let script = format!(
        r#"
M="$1"
mount -t tmpfs -o size=1m tmpfs "$M" || exit 97
mkdir "$M/clerk"
cp '{source}' "$M/clerk/history.sqlite3"
# Fill the disk to the last byte.
dd if=/dev/zero of="$M/filler" bs=4096 2>/dev/null
dd if=/dev/zero of="$M/filler2" bs=1 2>/dev/null
export CLERK_DATA_DIR="$M/clerk"
run() {{ name=$1; shift; "$CLERK" "$@" >'{out}'/$name.out 2>'{out}'/$name.err; echo $? >'{out}'/$name.rc; }}
run list sessions list --json
run show sessions show last --json
run search sessions search approved --json
run export sessions export last --format md
run ask ask "a new question"
df -k "$M" | tail -1 >'{out}'/df.txt
# The full-screen app starts and shows the history, with a notice.
export TMUX_TMPDIR='{out}'
tmux -L full -f /dev/null new-session -d -s t -x 300 -y 30 "TERM=xterm-256color $CLERK; sleep 60"
for i in $(seq 1 200); do
  tmux -L full capture-pane -p -t t >'{out}'/app.txt
  grep -q 'read-only' '{out}'/app.txt && grep -q 'Budget talk' '{out}'/app.txt && break
  sleep 0.1
done
tmux -L full kill-server
exit 0
"#,
        source = source.display(),
        out = out.display()
    );
    let Some(o) = with_tmpfs(&env, &mount, &script) else {
        return;
    };
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    let rc = |name: &str| read(&format!("{name}.rc")).trim().to_string();
    let df = read("df.txt");
    assert!(
        df.split_whitespace().nth(3) == Some("0"),
        "the disk is full: {df}\n{}",
        err(&o)
    );
    let folder = mount.join("clerk").display().to_string();

    // Reading works, with a note that says why nothing is saved.
    assert_eq!(rc("list"), "0", "{}", read("list.err"));
    let list: Value = serde_json::from_str(&read("list.out")).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    let note = read("list.err");
    assert!(
        note.contains(&format!("the disk holding {folder} is full")) && note.contains("read-only"),
        "{note}"
    );
    assert!(!note.contains("permissions"), "{note}");
    assert_eq!(rc("show"), "0", "{}", read("show.err"));
    assert!(read("show.out").contains("answer2 approved"));
    assert_eq!(rc("search"), "0", "{}", read("search.err"));
    let hits: Value = serde_json::from_str(&read("search.out")).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 3);
    assert_eq!(rc("export"), "0", "{}", read("export.err"));
    assert!(read("export.out").starts_with("# Budget talk 2"));

    // A write is refused before anything is sent, and says the real cause.
    assert_eq!(rc("ask"), "1");
    let e = read("ask.err");
    assert!(
        e.contains(&format!("clerk: the disk holding {folder} is full")),
        "{e}"
    );
    assert!(!e.contains("permissions") && !e.contains("I/O"), "{e}");
    assert!(env.server.chat_requests().is_empty(), "nothing was sent");

    // The app started, showed the history and said it is read-only.
    let app = read("app.txt");
    assert!(
        app.contains("Budget talk 2") && app.contains("read-only"),
        "{app}"
    );
}

// ---------------------------------------------------------------- scribbled pages

/// The pages of `table`'s b-tree leaves, in file order.
fn leaf_pages(path: &Path, table: &str) -> Vec<u64> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT pageno FROM dbstat WHERE name = ?1 AND pagetype = 'leaf' ORDER BY pageno")
        .unwrap();
    stmt.query_map([table], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|p| p.unwrap() as u64)
        .collect()
}

/// Overwrites page `n` (1-based, 4096 bytes) with garbage.
fn scribble(path: &Path, n: u64, seed: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect();
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start((n - 1) * 4096)).unwrap();
    f.write_all(&garbage).unwrap();
}

#[test]
fn a_damaged_history_names_its_file_and_recover_saves_what_can_be_read() {
    let env = Env::new();
    let path = db(&env);
    let sessions = 400;
    make_history(&path, sessions, 300);
    assert!(!Path::new(&format!("{}-wal", path.display())).exists());
    // Garbage over pages in the middle of the file: three leaves of the messages, one of
    // the sessions (their messages survive it), one of the search index.
    let messages = leaf_pages(&path, "messages");
    let session_pages = leaf_pages(&path, "sessions");
    let index = leaf_pages(&path, "messages_fts_data");
    assert!(
        messages.len() > 20 && session_pages.len() > 3,
        "{messages:?}"
    );
    let middle = messages.len() / 2;
    for (i, page) in messages[middle..middle + 3]
        .iter()
        .chain([&session_pages[session_pages.len() / 2]])
        .chain(index.get(index.len() / 2))
        .enumerate()
    {
        scribble(&path, *page, i as u64);
    }
    let damaged = std::fs::read(&path).unwrap();

    // Reading says which file is damaged and what to do, never only SQLite's words.
    let shown = path.display().to_string();
    let mut failures = Vec::new();
    let mut commands: Vec<Vec<String>> = vec![
        vec!["sessions".into(), "list".into(), "--json".into()],
        vec!["sessions".into(), "search".into(), "approved".into()],
    ];
    commands.extend((1..=sessions).map(|i| vec!["sessions".into(), "show".into(), i.to_string()]));
    for args in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = env.run(&args);
        if !o.status.success() {
            failures.push((args.join(" "), err(&o)));
        }
    }
    assert!(failures.len() >= 2, "the damage is met: {failures:?}");
    for (args, e) in &failures {
        assert!(
            e.contains(&format!("the history database at {shown} is damaged"))
                && e.contains("clerk sessions recover"),
            "{args}: {e}"
        );
    }

    // Recovery: most rows are saved, the losses are counted, the damaged file is kept.
    let o = env.run(&["sessions", "recover", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k}: {r}")) as usize;
    assert_eq!(r["sound"], false);
    assert_eq!(r["losses_exact"], true, "{r}");
    assert_eq!(
        n("messages_saved") + n("messages_lost"),
        2 * sessions,
        "{r}"
    );
    assert!(n("messages_lost") > 0, "{r}");
    assert!(
        n("messages_saved") * 10 >= 2 * sessions * 9,
        "most survive: {r}"
    );
    assert!(n("sessions_rebuilt") > 0, "{r}");
    assert_eq!(n("sessions_saved") + n("sessions_lost"), sessions, "{r}");
    assert!(n("sessions_saved") * 10 >= sessions * 9, "{r}");
    let kept = PathBuf::from(r["kept_as"].as_str().unwrap());
    assert!(
        kept.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("history.sqlite3.broken-"),
        "{kept:?}"
    );
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        damaged,
        "the damaged file is kept as it was"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The new history is sound, opens, lists and searches.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let list = env.run(&["sessions", "list", "--json", "--limit", "1000"]);
    assert!(list.status.success(), "{}", err(&list));
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), n("sessions_saved"));
    let messages_listed: u64 = list
        .iter()
        .map(|s| s["message_count"].as_u64().unwrap())
        .sum();
    assert_eq!(messages_listed as usize, n("messages_saved"));
    assert!(
        list.iter().any(|s| s["session"]["title"]
            .as_str()
            .unwrap()
            .starts_with("Recovered: question")),
        "a rebuilt session is titled from its question"
    );
    let hits = env.run(&[
        "sessions", "search", "approved", "--json", "--limit", "1000",
    ]);
    assert!(hits.status.success(), "{}", err(&hits));
    let hits: Value = serde_json::from_slice(&hits.stdout).unwrap();
    let answers = hits.as_array().unwrap().len();
    assert!(
        answers * 10 >= sessions * 9,
        "the index is rebuilt: {answers}"
    );
    for s in list {
        let id = s["session"]["id"].to_string();
        let o = env.run(&["sessions", "show", &id]);
        assert!(o.status.success(), "{id}: {}", err(&o));
    }

    // A sound history is left alone.
    let o = env.run(&["sessions", "recover"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("is sound"), "{}", out(&o));
}
