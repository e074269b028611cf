//! The runtime of the full-screen app: the terminal, the event loop, and the effects.
//!
//! Keys and resizes come from crossterm's event stream (dropped while `$EDITOR` owns the
//! terminal, so no key is stolen from it); answers stream in spawned tasks that send
//! messages back; the store is owned by one thread that applies jobs in order. The loop
//! drains every pending message, runs `update`, carries out the effects, and draws at most
//! once per frame, only when something changed; it ticks only while something waits or
//! animates. The terminal is restored on quit, on error and on panic.

mod clipboard;
mod documents;
mod store_thread;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    EventStream,
};
use ratatui::crossterm::execute;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

pub use store_thread::StoreHandle;

use crate::app::update::update;
use crate::app::{App, Effect, Keymap, Msg, Setup, StreamEvent};
use crate::config::{Config, ModelInfo, Profile};
use crate::llm::context::{count_tokens, fit};
use crate::llm::{
    AnswerStatus, ChatMessage, ChatRequest, ChatRole, Endpoint, EngineEvent, run_chat,
};
use crate::secrets::{self, ApiKey, KeyStore, OsKeyring, SERVICE};
use crate::store::{MessageFinish, MessageStatus, NewMessage, NewSession, Role, Store, Usage};
use crate::ui::{self, RenderCache, Theme};

/// Frames at most this often after a key, a paste or a resize.
const FRAME: Duration = Duration::from_millis(16);
/// Frames at most this often while only streamed text changes.
const STREAM_FRAME: Duration = Duration::from_millis(50);
/// The tick while a notice or an undo is pending.
const TICK: Duration = Duration::from_millis(250);
/// Partial answers are saved at least this often.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Everything the runtime needs to start.
#[derive(Debug)]
pub struct Start {
    /// The loaded config.
    pub config: Config,
    /// The profile's name.
    pub profile_name: String,
    /// The profile.
    pub profile: Profile,
    /// The model.
    pub model: String,
    /// `--base-url`.
    pub base_url: Option<String>,
    /// The history database (`None`: history is off; an in-memory store is used).
    pub database: Option<std::path::PathBuf>,
    /// The user's themes folder.
    pub themes_dir: std::path::PathBuf,
}

/// A long document's progress as one line: "reading part 3/12 ▰▰▰▱▱▱ · 45,000 tokens · $0.01".
struct Progress {
    price: Option<ModelInfo>,
}

impl Progress {
    fn new(price: Option<ModelInfo>) -> Progress {
        Progress { price }
    }

    fn line(&mut self, ev: &crate::documents::summarize::Event) -> Option<String> {
        use crate::documents::summarize::{Event, Phase};
        let Event::Progress(p) = ev else {
            return None;
        };
        let what = match p.phase {
            Phase::Reading => "reading part",
            Phase::Merging(_) => "combining notes",
            Phase::Answering => return Some("writing the answer from the notes…".to_string()),
        };
        let filled = (p.done * 10).checked_div(p.total).unwrap_or(0);
        let bar: String = "▰".repeat(filled) + &"▱".repeat(10 - filled);
        let cost = self
            .price
            .as_ref()
            .and_then(|i| i.cost(p.tokens_in, 0, p.tokens_out))
            .map(|c| format!(" · ${c:.4}"))
            .unwrap_or_default();
        Some(format!(
            "{what} {}/{} {bar} · {} tokens{cost} · Esc stops",
            p.done,
            p.total,
            crate::ui::thousands(p.tokens_in + p.tokens_out)
        ))
    }
}

/// Stop switches of running answers, by session.
type Stops = Arc<Mutex<HashMap<i64, oneshot::Sender<()>>>>;

struct Runtime {
    tx: UnboundedSender<Msg>,
    store: StoreHandle,
    endpoint: Option<Endpoint>,
    start: Start,
    stops: Stops,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Something to edit in `$EDITOR` (the loop hands the terminal over).
    editor: Option<EditorJob>,
    /// Where templates come from.
    sources: crate::templates::Sources,
    /// The template library, loaded on first use and reloaded when its files change.
    library: Arc<Mutex<Option<crate::templates::Library>>>,
}

/// What `$EDITOR` is opened for.
#[derive(Debug)]
enum EditorJob {
    /// The message: its text comes back into the box.
    Message(String),
    /// A new template file, checked when the editor closes.
    Template(std::path::PathBuf),
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Pick the theme by name and adapt it to the terminal (NO_COLOR, 16 colours).
fn resolve_theme(themes: &[Theme], name: &str) -> Theme {
    let base = themes
        .iter()
        .find(|t| t.name == name)
        .cloned()
        .unwrap_or_else(Theme::default_theme);
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return base.without_color();
    }
    let colorterm = std::env::var("COLORTERM").unwrap_or_default();
    let term = std::env::var("TERM").unwrap_or_default();
    if !(colorterm.contains("truecolor")
        || colorterm.contains("24bit")
        || term.contains("256")
        || term.contains("direct"))
    {
        return base.to_ansi16();
    }
    base
}

/// Run the full-screen app until the user quits.
pub fn run(start: Start) -> Result<(), String> {
    // One thread runs the loop and every stream: a token then costs no cross-thread wake-up
    // (measured: a third less CPU while streaming than with a two-thread pool).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))?;
    let store = match &start.database {
        Some(path) => Store::open(path).map_err(|e| e.to_string())?,
        None => Store::open_in_memory().map_err(|e| e.to_string())?,
    };
    let recovered = store.recovered();
    let remembered_theme = store.setting("theme").ok().flatten();
    let new_draft = store.draft(crate::app::NEW_SESSION).ok().flatten();
    let (themes, theme_errors) = ui::theme::load_all(Some(&start.themes_dir));
    let theme_names: Vec<String> = themes.iter().map(|t| t.name.clone()).collect();
    let (keymap, key_error) = match Keymap::with_overrides(&start.config.file.keys) {
        Ok(k) => (k, None),
        Err(e) => (Keymap::default(), Some(e.to_string())),
    };
    let key = secrets::resolve(
        &start.profile_name,
        start.profile.api_key_cmd.as_deref(),
        &secrets::process_env,
        &OsKeyring,
    );
    let (endpoint, key_problem) = match key {
        Ok((k, _)) => match Endpoint::new(&start.profile, &k, start.base_url.as_deref()) {
            Ok(e) => (Some(e), None),
            Err(e) => (None, Some(e.to_string())),
        },
        Err(e) => (None, Some(e.to_string())),
    };
    let mut theme_name = remembered_theme
        .or(start.config.file.theme.clone())
        .unwrap_or_else(|| ui::theme::DEFAULT_THEME.to_string());
    let mut startup_notes: Vec<String> = theme_errors.iter().map(|e| e.to_string()).collect();
    if !theme_names.contains(&theme_name) {
        startup_notes.push(format!(
            "theme “{theme_name}” not found; using {}",
            ui::theme::DEFAULT_THEME
        ));
        theme_name = ui::theme::DEFAULT_THEME.to_string();
    }
    startup_notes.extend(key_error);
    if recovered > 0 {
        startup_notes.push(format!(
            "{recovered} answer(s) cut off by a crash were kept, marked interrupted"
        ));
    }
    let info = start
        .config
        .models
        .get(&start.model)
        .cloned()
        .unwrap_or_default();
    let offset = chrono::Local::now().offset().local_minus_utc() as i64;
    let setup = Setup {
        profile: start.profile_name.clone(),
        model: start.model.clone(),
        has_key: endpoint.is_some(),
        key_problem,
        themes: theme_names,
        theme: theme_name,
        keymap,
        context_window: info.context_window,
        scan_secrets: start.config.file.documents.scan_secrets,
        models: {
            let mut names: Vec<(String, Option<u64>)> = start
                .config
                .models
                .iter()
                .map(|(n, i)| (n.clone(), i.context_window))
                .collect();
            if !names.iter().any(|(n, _)| *n == start.model) {
                names.insert(0, (start.model.clone(), info.context_window));
            }
            names
        },
        history: start.database.is_some(),
        tz_offset_secs: offset,
    };

    let mut terminal = init_terminal();
    let size = terminal
        .size()
        .map(|s| (s.width, s.height))
        .unwrap_or((80, 24));
    let mut app = App::new(setup, size, now_ms());
    if let Some(d) = new_draft {
        app.restore_draft(&d);
    }
    let (tx, rx) = unbounded_channel();
    let store = StoreHandle::spawn(store, tx.clone());
    let sources = crate::templates::sources(&start.config.path, &start.config.file.template_dirs);
    let mut runtime = Runtime {
        tx: tx.clone(),
        store,
        endpoint,
        start,
        stops: Arc::default(),
        tasks: Vec::new(),
        editor: None,
        sources,
        library: Arc::default(),
    };
    for note in startup_notes {
        let _ = tx.send(Msg::Failed(note));
    }
    let result = rt.block_on(event_loop(
        &mut app,
        &mut runtime,
        &themes,
        &mut terminal,
        rx,
    ));
    rt.block_on(runtime.finish_streams());
    restore_terminal();
    result
}

fn init_terminal() -> DefaultTerminal {
    let terminal = ratatui::init();
    let _ = execute!(std::io::stdout(), EnableBracketedPaste, EnableMouseCapture);
    // ratatui::init's hook restores raw mode and the screen; this one also turns off the
    // mouse and bracketed paste, so a panic leaves a usable shell.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(
            std::io::stdout(),
            DisableMouseCapture,
            DisableBracketedPaste
        );
        previous(info);
    }));
    terminal
}

fn restore_terminal() {
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        DisableBracketedPaste
    );
    ratatui::restore();
    let _ = std::io::stdout().flush();
}

/// The message for a terminal event (focus changes and the like are ignored).
fn event_msg(e: Event) -> Option<Msg> {
    match e {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Paste(p) => Some(Msg::Paste(p)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        Event::Mouse(m) => Some(Msg::Mouse(m)),
        _ => None,
    }
}

fn needs_tick(app: &App) -> bool {
    app.notice.is_some() || app.pending_delete.is_some() || app.removed_paste.is_some()
}

/// The user's editor: `$VISUAL`, else `$EDITOR`, else `vi`.
fn editor_command() -> String {
    std::env::var("VISUAL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".to_string())
}

/// Run the editor on `path` (through the shell, so EDITOR="code --wait" works; the path is
/// passed as "$1").
async fn run_editor(path: &std::path::Path) -> Result<(), String> {
    let editor = editor_command();
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .await
        .map_err(|e| format!("cannot start the editor “{editor}”: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the editor “{editor}” exited with {status}"))
    }
}

/// Hand the terminal to the editor on a private temporary file with `text` in it; return
/// what was saved. The caller has given up the screen and the keys.
async fn compose_in_editor(text: &str) -> Result<String, String> {
    let dir = tempfile::Builder::new()
        .prefix("clerk-compose-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary file for the editor: {e}"))?;
    let path = dir.path().join("message.md");
    write_private(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    run_editor(&path)
        .await
        .map_err(|e| format!("{e}; the message box is unchanged"))?;
    let mut out = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read back {}: {e}", path.display()))?;
    // Editors end the file with a newline; the message does not need it.
    if out.ends_with('\n') {
        out.pop();
        if out.ends_with('\r') {
            out.pop();
        }
    }
    Ok(out)
}

/// Write a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(text.as_bytes())
}

/// Give the terminal back to the shell for a while (the editor runs in it).
fn suspend_terminal() {
    restore_terminal();
}

/// Take the terminal again after the editor.
fn resume_terminal(terminal: &mut DefaultTerminal) {
    let _ = ratatui::crossterm::terminal::enable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        ratatui::crossterm::terminal::EnterAlternateScreen,
        EnableBracketedPaste,
        EnableMouseCapture
    );
    // `Terminal::clear` asks the terminal where the cursor is and gives up (leaving a stale
    // frame) if the answer is slow; a resize to the current size clears and forces a full
    // redraw without asking anything.
    if let Ok(size) = terminal.size() {
        let _ = terminal.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height));
    }
}

async fn event_loop(
    app: &mut App,
    rt: &mut Runtime,
    themes: &[Theme],
    terminal: &mut DefaultTerminal,
    mut rx: UnboundedReceiver<Msg>,
) -> Result<(), String> {
    let mut cache = RenderCache::default();
    let mut theme_name = String::new();
    let mut theme = Theme::default_theme();
    rt.run_effects(vec![Effect::LoadSessions]);
    // The secret scanner's patterns are compiled once, here, off the UI's path, so the first
    // Enter (which scans a short message in `update`) does not wait for them.
    if rt.start.config.file.documents.scan_secrets {
        tokio::task::spawn_blocking(|| crate::documents::secrets::scan(""));
    }
    let mut last_draw = Instant::now() - STREAM_FRAME;
    // When the next frame is due (None: nothing changed). Keys and the like are drawn within
    // one 16 ms frame; streamed text alone is gathered for up to 50 ms (20 frames a second
    // reads as smooth and keeps a fast stream cheap).
    let mut next_draw: Option<Instant> = Some(Instant::now());
    let mut next_tick: Option<Instant> = None;
    let mut events = EventStream::new();
    loop {
        if let Some(job) = rt.editor.take() {
            // The editor gets the keys: stop reading them until it is done.
            drop(events);
            suspend_terminal();
            let msg = match job {
                EditorJob::Message(text) => Msg::Composed(compose_in_editor(&text).await),
                EditorJob::Template(path) => template_edited(&path, run_editor(&path).await),
            };
            resume_terminal(terminal);
            events = EventStream::new();
            let fx = update(app, msg);
            rt.run_effects(fx);
            next_draw = Some(Instant::now());
        }
        if let Some(at) = next_draw
            && Instant::now() >= at
        {
            if theme_name != app.setup.theme {
                theme_name = app.setup.theme.clone();
                theme = resolve_theme(themes, &theme_name);
            }
            let mut extent = crate::app::View::default();
            terminal
                .draw(|f| extent = ui::render(app, &theme, &mut cache, f))
                .map_err(|e| format!("cannot draw: {e}"))?;
            last_draw = Instant::now();
            next_draw = None;
            // Debug builds only: lets the end-to-end test check that a real panic gives the
            // terminal back. Release builds do not contain this.
            #[cfg(debug_assertions)]
            if std::env::var_os("CLERK_DEBUG_PANIC").is_some() {
                panic!("CLERK_DEBUG_PANIC is set: panicking on purpose after the first frame");
            }
            if extent != app.view {
                let fx = update(app, Msg::Layout(extent));
                rt.run_effects(fx);
            }
        }
        // Tick only while a notice or an undo is pending: an idle app sleeps.
        if needs_tick(app) {
            next_tick.get_or_insert_with(|| Instant::now() + TICK);
        } else {
            next_tick = None;
        }
        let wake = match (next_draw, next_tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let first = tokio::select! {
            m = rx.recv() => m.map(Some),
            e = events.next() => match e {
                Some(Ok(e)) => Some(event_msg(e)),
                // The terminal is gone: nothing more can be typed.
                Some(Err(e)) => return Err(format!("cannot read the terminal: {e}")),
                None => return Ok(()),
            },
            _ = sleep => Some(None),
        };
        let Some(first) = first else { return Ok(()) };
        let mut batch = Vec::new();
        if let Some(m) = first {
            batch.push(m);
        }
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        if next_tick.is_some_and(|t| Instant::now() >= t) {
            batch.push(Msg::Tick(now_ms()));
            next_tick = None;
        }
        for msg in batch {
            let urgent = !matches!(msg, Msg::Stream { .. } | Msg::Tick(_));
            if !matches!(msg, Msg::Tick(_)) {
                app.now_ms = now_ms();
            }
            let fx = update(app, msg);
            rt.run_effects(fx);
            let due = last_draw + if urgent { FRAME } else { STREAM_FRAME };
            next_draw = Some(next_draw.map_or(due, |d| d.min(due)));
        }
        if app.quit {
            return Ok(());
        }
    }
}

impl Runtime {
    fn send(&self, msg: Msg) {
        let _ = self.tx.send(msg);
    }

    fn run_effects(&mut self, effects: Vec<Effect>) {
        for e in effects {
            self.run_effect(e);
        }
    }

    fn run_effect(&mut self, effect: Effect) {
        let tx = self.tx.clone();
        match effect {
            Effect::LoadSessions => self.store.job(move |s| match s.list_sessions(None, false) {
                Ok(list) => Msg::SessionsLoaded(list),
                Err(e) => Msg::Failed(e.to_string()),
            }),
            Effect::LoadTranscript(id) => {
                self.store
                    .job(move |s| match (s.messages(id), s.draft(id)) {
                        (Ok(messages), Ok(draft)) => Msg::TranscriptLoaded {
                            session_id: id,
                            messages,
                            draft,
                        },
                        (Err(e), _) | (_, Err(e)) => Msg::Failed(e.to_string()),
                    })
            }
            Effect::Send {
                session_id,
                text,
                model,
                system,
                replace_from,
                long,
            } => {
                let replace = replace_from.map_or(Replace::Nothing, Replace::From);
                self.start_answer(session_id, Some(text), replace, model, system, long)
            }
            Effect::Attach {
                paths,
                from_text,
                fallback,
            } => {
                let cfg = self.start.config.file.documents.clone();
                let info = self.start.config.models.get(&self.start.model).cloned();
                tokio::task::spawn_blocking(move || {
                    let results = paths
                        .iter()
                        .map(|p| documents::read_attachment(p, &cfg, info.as_ref()))
                        .collect();
                    let _ = tx.send(Msg::Attached {
                        results,
                        from_text: if from_text { paths } else { Vec::new() },
                        fallback,
                    });
                });
            }
            Effect::Check(out) => {
                let cfg = self.start.config.file.documents.clone();
                let info = self
                    .start
                    .config
                    .models
                    .get(&out.model)
                    .cloned()
                    .unwrap_or_default();
                let max_out = self.start.profile.max_output_tokens;
                tokio::task::spawn_blocking(move || {
                    let check = documents::check(out, &cfg, &info, max_out);
                    let _ = tx.send(Msg::Checked(Box::new(check)));
                });
            }
            Effect::Regenerate {
                session_id,
                replace,
                model,
            } => {
                let replace = replace.map_or(Replace::Nothing, Replace::Answer);
                self.start_answer(Some(session_id), None, replace, model, None, None)
            }
            Effect::Stop(id) => {
                if let Some(stop) = self.stops.lock().ok().and_then(|mut m| m.remove(&id)) {
                    let _ = stop.send(());
                }
            }
            Effect::Rename(id, title) => {
                self.store
                    .job(move |s| match s.rename_session(id, &title, now_ms()) {
                        Ok(_) => Msg::Info("renamed".to_string()),
                        Err(e) => Msg::Failed(e.to_string()),
                    })
            }
            Effect::Delete(id) => self.store.job(move |s| match s.delete_session(id) {
                Ok(_) => Msg::Tick(now_ms()),
                Err(e) => Msg::Failed(e.to_string()),
            }),
            Effect::DeleteMessage(id) => {
                self.store.quiet(move |s| s.delete_message(id).map(|_| ()))
            }
            Effect::SetModel(id, model) => self
                .store
                .quiet(move |s| s.set_session_model(id, &model).map(|_| ())),
            Effect::SetSystemPrompt(id, text) => self
                .store
                .quiet(move |s| s.set_session_system_prompt(id, text.as_deref()).map(|_| ())),
            Effect::SetPinned(id, on) => {
                self.store.quiet(move |s| s.set_pinned(id, on).map(|_| ()))
            }
            Effect::SetArchived(id, on) => self
                .store
                .quiet(move |s| s.set_archived(id, on).map(|_| ())),
            Effect::Search(query) => {
                self.store.job(
                    move |s| match s.search(&query, 50, ("\u{E000}", "\u{E001}")) {
                        Ok(hits) => Msg::SearchResults { query, hits },
                        Err(e) => Msg::Failed(e.to_string()),
                    },
                )
            }
            Effect::SaveDraft(id, text) => self.store.quiet(move |s| s.set_draft(id, &text)),
            Effect::SaveSetting(k, v) => self.store.quiet(move |s| s.set_setting(&k, &v)),
            Effect::Copy(text) => {
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::Copied(clipboard::copy(&text)));
                });
            }
            Effect::StoreKey(raw) => {
                let profile = self.start.profile.clone();
                let name = self.start.profile_name.clone();
                let base = self.start.base_url.clone();
                let key = match ApiKey::new(&raw) {
                    Ok(k) => k,
                    Err(e) => {
                        self.send(Msg::KeyStored(Err(e.to_string())));
                        return;
                    }
                };
                match Endpoint::new(&profile, &key, base.as_deref()) {
                    Ok(ep) => self.endpoint = Some(ep),
                    Err(e) => {
                        self.send(Msg::KeyStored(Err(e.to_string())));
                        return;
                    }
                }
                tokio::task::spawn_blocking(move || {
                    // Either way the key is in use now; only where it is kept differs.
                    let text = match OsKeyring.set(SERVICE, &name, key.expose()) {
                        Ok(()) => format!("key {} stored in the keyring", key.masked()),
                        Err(e) => format!(
                            "key {} works for this run only; not stored: {e}",
                            key.masked()
                        ),
                    };
                    let _ = tx.send(Msg::KeyStored(Ok(text)));
                });
            }
            Effect::CountTokens { paste, text } => {
                tokio::task::spawn_blocking(move || {
                    let tokens = count_tokens(&text);
                    let _ = tx.send(Msg::Counted { paste, tokens });
                });
            }
            Effect::Compose(text) => self.editor = Some(EditorJob::Message(text)),
            Effect::SaveAsTemplate(prompt) => match save_as_template(&self.sources, &prompt) {
                Ok(path) => self.editor = Some(EditorJob::Template(path)),
                Err(e) => self.send(Msg::Failed(e)),
            },
            Effect::LoadTemplates => {
                let library = self.library.clone();
                let sources = self.sources.clone();
                tokio::task::spawn_blocking(move || {
                    let items = with_library(&library, &sources, |lib| {
                        lib.entries().iter().map(template_item).collect()
                    });
                    let _ = tx.send(Msg::TemplatesLoaded(items));
                });
            }
            Effect::LoadTemplateValues(id) => {
                let key = crate::app::forms::memory_key(&id);
                self.store.job(move |s| {
                    let values = s
                        .setting(&key)
                        .ok()
                        .flatten()
                        .and_then(|v| serde_json::from_str(&v).ok())
                        .unwrap_or_default();
                    Msg::TemplateValues { id, values }
                })
            }
            Effect::CompletePath(typed) => {
                tokio::task::spawn_blocking(move || {
                    let (common, candidates) = complete_path(&typed);
                    let _ = tx.send(Msg::PathCompleted {
                        typed,
                        common,
                        candidates,
                    });
                });
            }
            Effect::RunTemplate { id, values, model } => self.start_template(id, values, model),
            Effect::Quit => {}
        }
    }

    /// Save the question (or drop the answer being replaced), then stream the answer.
    fn start_answer(
        &mut self,
        session_id: Option<i64>,
        text: Option<String>,
        replace: Replace,
        model: String,
        system: Option<String>,
        long: Option<crate::app::attach::LongSend>,
    ) {
        let Some(endpoint) = self.endpoint.clone() else {
            self.send(Msg::Failed(
                "no API key: press Ctrl+K to add one".to_string(),
            ));
            return;
        };
        let docs_cfg = self.start.config.file.documents.clone();
        let store = self.store.clone();
        let tx = self.tx.clone();
        let stops = self.stops.clone();
        let profile = self.start.profile_name.clone();
        let price = self.start.config.models.get(&model).cloned();
        let max_out = self.start.profile.max_output_tokens;
        let handle = tokio::spawn(async move {
            let prepared = store
                .call(move |s| prepare(s, session_id, text, replace, &profile, &model, system))
                .await;
            let p = match prepared {
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    let _ = tx.send(Msg::Failed(e));
                    return;
                }
                None => return,
            };
            let (stop_tx, stop_rx) = oneshot::channel();
            if let Ok(mut map) = stops.lock() {
                map.insert(p.session_id, stop_tx);
            }
            let _ = tx.send(Msg::SendAccepted {
                session_id: p.session_id,
                created: p.created,
                user_id: p.user_id,
                answer_id: p.answer_id,
            });
            let info = price.clone().unwrap_or_default();
            let reserve = max_out
                .or(info.max_output_tokens)
                .unwrap_or(4096)
                .min(info.context_window.unwrap_or(u64::MAX) / 4);
            // Counting a long conversation is slow: off the loop's thread.
            let (mut fitted, mut messages) =
                fit_off_thread(p.messages, info.context_window, reserve).await;
            // Answering again a question that was read in parts: read it in parts again.
            let long = match (long, &fitted) {
                (Some(l), _) => Some(l),
                (None, Err(_)) => messages
                    .last()
                    .filter(|m| m.role == ChatRole::User)
                    .map(|m| crate::app::attach::long_from_message(&m.content)),
                (None, Ok(_)) => None,
            };
            let (sid, aid) = (p.session_id, p.answer_id);
            let fail = |why: String| {
                finish(
                    &store,
                    aid,
                    String::new(),
                    MessageStatus::Error,
                    Some(why.clone()),
                    None,
                );
                let _ = tx.send(Msg::Stream {
                    session_id: sid,
                    event: StreamEvent::Failed(why),
                });
            };
            let mut parts = None;
            if let Some(long) = long {
                let (m, i, model) = (messages.clone(), info.clone(), p.model.clone());
                let work = tokio::task::spawn_blocking(move || {
                    documents::long_work(long, &m, &model, &docs_cfg, &i, max_out)
                })
                .await;
                match work {
                    Ok(documents::LongWork::First(text, cut)) => {
                        if cut > 0 {
                            let _ = tx.send(Msg::Info(format!(
                                "sent the first part of the documents; {} tokens left out",
                                crate::ui::thousands(cut)
                            )));
                        }
                        if let Some(last) = messages.last_mut() {
                            last.content = text;
                        }
                        (fitted, _) = fit_off_thread(messages, info.context_window, reserve).await;
                    }
                    Ok(documents::LongWork::Parts(job)) => parts = Some(job),
                    Err(e) => return fail(format!("could not prepare the documents: {e}")),
                }
            }
            // One request, or a run over parts that reports like one answer.
            let (etx, erx) = unbounded_channel();
            let task = match parts {
                Some(job) => {
                    let progress_tx = tx.clone();
                    let mut bar = Progress::new(price.clone());
                    tokio::spawn(crate::documents::summarize::run_as_answer(
                        endpoint,
                        *job,
                        etx,
                        move |ev| {
                            if let Some(text) = bar.line(ev) {
                                let _ = progress_tx.send(Msg::Stream {
                                    session_id: sid,
                                    event: StreamEvent::Progress(text),
                                });
                            }
                        },
                    ))
                }
                None => {
                    let fitted = match fitted {
                        Ok(f) => f,
                        Err(e) => return fail(e.to_string()),
                    };
                    if fitted.omitted > 0 {
                        let _ = tx.send(Msg::Info(format!(
                            "{} earlier message(s) left out to fit the context window",
                            fitted.omitted
                        )));
                    }
                    let request = ChatRequest {
                        model: p.model,
                        messages: fitted.messages,
                        max_output_tokens: max_out,
                        temperature: None,
                    };
                    tokio::spawn(run_chat(endpoint, request, etx))
                }
            };
            stream_events(erx, task, sid, aid, &store, &tx, stop_rx, price.as_ref()).await;
            if let Ok(mut map) = stops.lock() {
                map.remove(&sid);
            }
        });
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(handle);
    }

    /// Run a template in a new session: each step's prompt and answer are saved and
    /// streamed like a chat; the run stops at the first step that does not complete, or
    /// when the user stops it.
    fn start_template(&mut self, id: String, given: BTreeMap<String, String>, model: String) {
        let Some(endpoint) = self.endpoint.clone() else {
            self.send(Msg::RunFailed(
                "no API key: press Ctrl+K to add one".to_string(),
            ));
            return;
        };
        let store = self.store.clone();
        let tx = self.tx.clone();
        let stops = self.stops.clone();
        let library = self.library.clone();
        let sources = self.sources.clone();
        let profile = self.start.profile_name.clone();
        let models = self.start.config.models.clone();
        let max_out = self.start.profile.max_output_tokens;
        let max_bytes = self
            .start
            .config
            .file
            .documents
            .max_file_mb
            .saturating_mul(1024 * 1024);
        let handle = tokio::spawn(async move {
            // Files and the library are read off the loop's thread.
            let plan = tokio::task::spawn_blocking(move || {
                with_library(&library, &sources, |lib| {
                    plan_for(lib, &id, given, model, max_out, max_bytes)
                })
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            let plan = match plan {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Msg::RunFailed(e));
                    return;
                }
            };
            let of = plan.template.steps.len();
            let title = plan.template.title.clone();
            let mut answers = BTreeMap::new();
            let mut session: Option<i64> = None;
            for i in 0..of {
                let step = plan.template.steps[i].name.clone();
                let (prompt, system, request) =
                    match crate::templates::run::step_request(&plan, i, &answers) {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = tx.send(Msg::RunFailed(e.to_string()));
                            return;
                        }
                    };
                let (t, p, m, q) = (
                    title.clone(),
                    profile.clone(),
                    request.model.clone(),
                    prompt.clone(),
                );
                let prepared = store
                    .call(move |s| begin_step(s, session, &t, &p, &m, system, q))
                    .await;
                let (sid, created, user_id, answer_id) = match prepared {
                    Some(Ok(x)) => x,
                    Some(Err(e)) => {
                        let _ = tx.send(Msg::RunFailed(e));
                        return;
                    }
                    None => return,
                };
                session = Some(sid);
                let (stop_tx, stop_rx) = oneshot::channel();
                if let Ok(mut map) = stops.lock() {
                    map.insert(sid, stop_tx);
                }
                let _ = tx.send(Msg::StepStarted {
                    session_id: sid,
                    created,
                    label: (of > 1).then(|| format!("step {}/{of} · {step}", i + 1)),
                    prompt,
                    user_id,
                    answer_id,
                });
                let price = models.get(&request.model).cloned();
                let answer = stream_to_app(
                    endpoint.clone(),
                    request,
                    sid,
                    answer_id,
                    &store,
                    &tx,
                    stop_rx,
                    price.as_ref(),
                )
                .await;
                if let Ok(mut map) = stops.lock() {
                    map.remove(&sid);
                }
                match answer {
                    Some(a) if a.status == AnswerStatus::Complete => {
                        answers.insert(step, a.text);
                    }
                    _ => {
                        if i + 1 < of {
                            let _ = tx.send(Msg::Info(format!(
                                "“{title}” stopped at step {} of {of}",
                                i + 1
                            )));
                        }
                        return;
                    }
                }
            }
        });
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(handle);
    }

    /// On quit: stop every answer and wait (briefly) until what arrived is saved.
    async fn finish_streams(&mut self) {
        let senders: Vec<oneshot::Sender<()>> = match self.stops.lock() {
            Ok(mut map) => map.drain().map(|(_, s)| s).collect(),
            Err(_) => Vec::new(),
        };
        for stop in senders {
            let _ = stop.send(());
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for t in self.tasks.drain(..) {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left, t).await;
        }
        self.store.flush().await;
    }
}

/// Use the template library, (re)loading it when its files changed.
fn with_library<T>(
    library: &Mutex<Option<crate::templates::Library>>,
    sources: &crate::templates::Sources,
    f: impl FnOnce(&crate::templates::Library) -> T,
) -> T {
    let mut guard = match library.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    let stale = guard.as_ref().is_none_or(|l| l.is_stale(sources));
    if stale {
        *guard = Some(crate::templates::Library::load(sources));
    }
    match guard.as_ref() {
        Some(lib) => f(lib),
        // Just loaded above.
        None => f(&crate::templates::Library::load(sources)),
    }
}

/// A library entry as the app shows it.
fn template_item(e: &crate::templates::Entry) -> crate::app::TemplateItem {
    use crate::app::{FieldSpec, TemplateItem};
    let problem = e
        .problems
        .iter()
        .find(|p| p.severity == crate::templates::Severity::Error)
        .map(|p| p.to_string());
    match &e.template {
        Some(t) => TemplateItem {
            id: e.id.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            category: t.category.clone(),
            tags: t.tags.clone(),
            origin: e.origin.to_string(),
            problem: None,
            steps: t.steps.iter().map(|s| s.name.clone()).collect(),
            workflow: t.is_workflow(),
            preview: if t.is_workflow() {
                t.steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("{}. {}\n{}", i + 1, s.name, s.prompt.trim()))
                    .collect::<Vec<_>>()
                    .join("\n\n")
            } else {
                t.steps
                    .first()
                    .map(|s| s.prompt.trim().to_string())
                    .unwrap_or_default()
            },
            fields: t
                .variables
                .iter()
                .map(|v| FieldSpec {
                    name: v.name.clone(),
                    label: v.label.clone(),
                    kind: v.kind,
                    required: v.required,
                    default: v.default.clone(),
                    help: v.help.clone(),
                    options: v.options.clone(),
                })
                .collect(),
        },
        None => TemplateItem {
            id: e.id.clone(),
            title: e.id.clone(),
            description: String::new(),
            category: "Broken".to_string(),
            tags: Vec::new(),
            origin: e.origin.to_string(),
            problem: problem.or_else(|| Some("cannot be read".to_string())),
            steps: Vec::new(),
            workflow: false,
            preview: String::new(),
            fields: Vec::new(),
        },
    }
}

/// The plan for running template `id` with the form's values (files read here).
fn plan_for(
    lib: &crate::templates::Library,
    id: &str,
    given: BTreeMap<String, String>,
    model: String,
    max_out: Option<u64>,
    max_bytes: u64,
) -> Result<crate::templates::run::Plan, String> {
    let entry = lib
        .get(id)
        .ok_or_else(|| format!("the template “{id}” is gone (its file was removed?)"))?;
    let template = entry
        .template
        .clone()
        .ok_or_else(|| format!("the template “{id}” cannot run until its file is fixed"))?;
    let given: BTreeMap<String, String> =
        given.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut values = crate::templates::check_values(&template, &given)
        .map_err(|p| format!("“{id}” cannot run: {}", p.join("; ")))?;
    for v in template
        .variables
        .iter()
        .filter(|v| v.kind == crate::templates::VarKind::File)
    {
        if let Some(path) = values.get(&v.name).filter(|p| !p.is_empty()).cloned() {
            let path = expand_home(&path);
            let doc = crate::documents::extract::extract_file(&path, max_bytes)
                .map_err(|e| format!("{e} (for “{}”)", v.label))?;
            values.insert(v.name.clone(), doc.text);
        }
    }
    Ok(crate::templates::run::Plan {
        template,
        values,
        model,
        max_output_tokens: max_out,
    })
}

/// `~/x` → the home folder's `x`.
pub(crate) fn expand_home(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(path),
    }
}

/// Complete a typed path: the longest common completion and the matching names.
fn complete_path(typed: &str) -> (String, Vec<String>) {
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
    names.sort();
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

/// Write the prompt as a new template in the user's folder (`my-template`, `my-template-2`…).
fn save_as_template(
    sources: &crate::templates::Sources,
    prompt: &str,
) -> Result<std::path::PathBuf, String> {
    let dir = sources
        .user
        .clone()
        .ok_or("there is no config folder to keep templates in")?;
    let text = crate::templates::from_prompt("My template", prompt);
    for n in 1..1000 {
        let id = if n == 1 {
            "my-template".to_string()
        } else {
            format!("my-template-{n}")
        };
        if dir.join(format!("{id}.toml")).exists() {
            continue;
        }
        return crate::templates::new_template_file(&dir, &id, &text);
    }
    Err(format!("{} has too many my-template files", dir.display()))
}

/// After the editor closed on a new template: say whether it is valid.
fn template_edited(path: &std::path::Path, edited: Result<(), String>) -> Msg {
    if let Err(e) = edited {
        return Msg::Failed(format!("{e}; the template is kept at {}", path.display()));
    }
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = path.display().to_string();
    let problems = match crate::templates::read_file(path) {
        Ok(text) => crate::templates::parse_template(&id, &label, &text).1,
        Err(p) => vec![p],
    };
    match problems
        .iter()
        .find(|p| p.severity == crate::templates::Severity::Error)
    {
        Some(p) => Msg::Failed(format!("template saved but not valid yet: {p}")),
        None => Msg::Info(format!("template “{id}” saved · Ctrl+P to run it")),
    }
}

/// On the store thread: the run's session (made for the first step), the step's question
/// and its streaming answer row.
fn begin_step(
    s: &mut Store,
    session: Option<i64>,
    title: &str,
    profile: &str,
    model: &str,
    system: Option<String>,
    prompt: String,
) -> Result<(i64, bool, i64, i64), String> {
    let now = now_ms();
    let e = |e: crate::store::StoreError| e.to_string();
    let (sid, created) = match session {
        Some(id) => (id, false),
        None => (
            s.create_session(&NewSession {
                title: title.to_string(),
                profile: profile.to_string(),
                model: model.to_string(),
                system_prompt: system,
                now_ms: now,
            })
            .map_err(e)?,
            true,
        ),
    };
    let user_id = s
        .add_message(&NewMessage {
            session_id: sid,
            role: Role::User,
            content: prompt,
            status: MessageStatus::Complete,
            model: None,
            now_ms: now,
        })
        .map_err(e)?;
    let answer_id = s.add_streaming_answer(sid, model, now).map_err(e)?;
    Ok((sid, created, user_id, answer_id))
}

/// What a new answer replaces.
#[derive(Debug, Clone, Copy)]
enum Replace {
    /// Nothing: a new question.
    Nothing,
    /// The last answer (regenerate).
    Answer(i64),
    /// This question and everything after it (edit and resend).
    From(i64),
}

/// What the store prepared for an answer.
struct Prepared {
    session_id: i64,
    created: bool,
    user_id: i64,
    answer_id: i64,
    messages: Vec<ChatMessage>,
    model: String,
}

/// On the store thread: create the session if needed, commit the question (or remove the
/// answer being replaced), add the streaming answer, and gather the conversation.
fn prepare(
    s: &mut Store,
    session_id: Option<i64>,
    text: Option<String>,
    replace: Replace,
    profile: &str,
    model: &str,
    system: Option<String>,
) -> Result<Prepared, String> {
    let now = now_ms();
    let e = |e: crate::store::StoreError| e.to_string();
    let (sid, created) = match session_id {
        Some(id) => (id, false),
        None => {
            let title = crate::store::title_from(text.as_deref().unwrap_or("Untitled"));
            let id = s
                .create_session(&NewSession {
                    title,
                    profile: profile.to_string(),
                    model: model.to_string(),
                    system_prompt: system,
                    now_ms: now,
                })
                .map_err(e)?;
            (id, true)
        }
    };
    match replace {
        Replace::Nothing => {}
        Replace::Answer(old) => {
            s.delete_message(old).map_err(e)?;
        }
        Replace::From(first) => {
            s.delete_messages_from(first).map_err(e)?;
        }
    }
    let user_id = match text {
        Some(t) => s
            .add_message(&NewMessage {
                session_id: sid,
                role: Role::User,
                content: t,
                status: MessageStatus::Complete,
                model: None,
                now_ms: now,
            })
            .map_err(e)?,
        None => s
            .messages(sid)
            .map_err(e)?
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.id)
            .ok_or("there is no question to answer again")?,
    };
    let answer_id = s.add_streaming_answer(sid, model, now).map_err(e)?;
    let session = s.session(sid).map_err(e)?;
    let mut messages = Vec::new();
    if let Some(sys) = session.and_then(|x| x.system_prompt) {
        messages.push(ChatMessage {
            role: ChatRole::System,
            content: sys,
        });
    }
    for m in s.messages(sid).map_err(e)? {
        if m.id == answer_id || m.content.is_empty() || m.role == Role::System {
            continue;
        }
        let role = if m.role == Role::User {
            ChatRole::User
        } else {
            ChatRole::Assistant
        };
        messages.push(ChatMessage {
            role,
            content: m.content,
        });
    }
    Ok(Prepared {
        session_id: sid,
        created,
        user_id,
        answer_id,
        messages,
        model: model.to_string(),
    })
}

/// Write an answer's final state (on the store thread, in order with everything else).
fn finish(
    store: &StoreHandle,
    id: i64,
    content: String,
    status: MessageStatus,
    error: Option<String>,
    answer: Option<(&crate::llm::Answer, Option<f64>)>,
) {
    let (usage, cost, ttft, dur) = match answer {
        Some((a, cost)) => (
            a.usage
                .map(|u| Usage {
                    tokens_in: Some(u.input),
                    tokens_cached: Some(u.cached),
                    tokens_out: Some(u.output),
                })
                .unwrap_or_default(),
            cost,
            a.ttft.map(|d| d.as_millis() as u64),
            Some(a.duration.as_millis() as u64),
        ),
        None => (Usage::default(), None, None, None),
    };
    store.quiet(move |s| {
        s.finish_message(
            id,
            &MessageFinish {
                content,
                status,
                error,
                usage,
                cost_usd: cost,
                ttft_ms: ttft,
                duration_ms: dur,
                now_ms: now_ms(),
            },
        )
    });
}

/// Run one answer: forward its text to the app, save it at least once a second, finalise it.
#[allow(clippy::too_many_arguments)]
async fn stream_to_app(
    endpoint: Endpoint,
    request: ChatRequest,
    sid: i64,
    answer_id: i64,
    store: &StoreHandle,
    tx: &UnboundedSender<Msg>,
    stop_rx: oneshot::Receiver<()>,
    price: Option<&ModelInfo>,
) -> Option<crate::llm::Answer> {
    let (etx, erx) = unbounded_channel();
    let task = tokio::spawn(run_chat(endpoint, request, etx));
    stream_events(erx, task, sid, answer_id, store, tx, stop_rx, price).await
}

/// Fit the conversation to the window on a blocking thread; the messages come back too.
async fn fit_off_thread(
    messages: Vec<ChatMessage>,
    window: Option<u64>,
    reserve: u64,
) -> (
    Result<crate::llm::context::Fitted, crate::llm::context::TooLong>,
    Vec<ChatMessage>,
) {
    tokio::task::spawn_blocking(move || {
        let fitted = fit(&messages, window, reserve, &count_tokens);
        (fitted, messages)
    })
    .await
    .unwrap_or_else(|_| {
        // Counting panicked: say it does not fit rather than send blindly.
        let too_long = crate::llm::context::TooLong {
            needed: 0,
            budget: 0,
            window: window.unwrap_or(0),
            reserved: reserve,
        };
        (Err(too_long), Vec::new())
    })
}

/// Show and save an answer's events as they come; stopping aborts `task`.
#[allow(clippy::too_many_arguments)]
async fn stream_events(
    mut erx: UnboundedReceiver<EngineEvent>,
    task: tokio::task::JoinHandle<()>,
    sid: i64,
    answer_id: i64,
    store: &StoreHandle,
    tx: &UnboundedSender<Msg>,
    stop_rx: oneshot::Receiver<()>,
    price: Option<&ModelInfo>,
) -> Option<crate::llm::Answer> {
    let started = Instant::now();
    let mut text = String::new();
    let mut dirty = false;
    let mut tick = tokio::time::interval(SAVE_EVERY);
    let stop = async move {
        if stop_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(stop);
    let send = |event: StreamEvent| {
        let _ = tx.send(Msg::Stream {
            session_id: sid,
            event,
        });
    };
    loop {
        tokio::select! {
            ev = erx.recv() => match ev {
                Some(EngineEvent::Delta(d)) => {
                    text.push_str(&d);
                    dirty = true;
                    send(StreamEvent::Delta(d));
                }
                Some(EngineEvent::Retrying(n)) => send(StreamEvent::Retrying(n)),
                Some(EngineEvent::Started) => {}
                Some(EngineEvent::Finished(Ok(answer))) => {
                    let cost = answer.usage.and_then(|u| price.and_then(|p| p.cost(u.input, u.cached, u.output)));
                    finish(store, answer_id, answer.text.clone(), MessageStatus::from(answer.status), answer.reason.clone(), Some((&answer, cost)));
                    send(StreamEvent::Done(answer.clone(), cost));
                    return Some(answer);
                }
                Some(EngineEvent::Finished(Err(e))) => {
                    finish(store, answer_id, text, MessageStatus::Error, Some(e.to_string()), None);
                    send(StreamEvent::Failed(e.to_string()));
                    return None;
                }
                None => {
                    finish(store, answer_id, text, MessageStatus::Interrupted, Some("the answer task ended".to_string()), None);
                    send(StreamEvent::Failed("the answer task ended unexpectedly".to_string()));
                    return None;
                }
            },
            _ = tick.tick() => {
                if dirty {
                    let partial = text.clone();
                    store.quiet(move |s| s.update_partial(answer_id, &partial));
                    dirty = false;
                }
            }
            _ = &mut stop => {
                task.abort();
                let answer = crate::llm::Answer {
                    text: text.clone(),
                    status: AnswerStatus::Interrupted,
                    reason: Some("stopped by you".to_string()),
                    finish_reason: None,
                    usage: None,
                    model: None,
                    ttft: None,
                    duration: started.elapsed(),
                    malformed: 0,
                };
                finish(store, answer_id, text, MessageStatus::Interrupted, answer.reason.clone(), Some((&answer, None)));
                send(StreamEvent::Done(answer.clone(), None));
                return Some(answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut Store, sid: i64, role: Role, text: &str) -> i64 {
        s.add_message(&NewMessage {
            session_id: sid,
            role,
            content: text.into(),
            status: MessageStatus::Complete,
            model: None,
            now_ms: 1,
        })
        .unwrap()
    }

    #[test]
    fn a_resent_edit_replaces_the_question_and_what_followed_in_the_store() {
        let mut s = Store::open_in_memory().unwrap();
        let sid = s
            .create_session(&NewSession {
                title: "t".into(),
                profile: "default".into(),
                model: "gpt-4o-mini".into(),
                system_prompt: None,
                now_ms: 1,
            })
            .unwrap();
        add(&mut s, sid, Role::User, "q1");
        add(&mut s, sid, Role::Assistant, "a1");
        let q2 = add(&mut s, sid, Role::User, "q2");
        add(&mut s, sid, Role::Assistant, "a2");
        let p = prepare(
            &mut s,
            Some(sid),
            Some("q2 edited".into()),
            Replace::From(q2),
            "default",
            "gpt-4o-mini",
            None,
        )
        .unwrap();
        let sent: Vec<&str> = p.messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(sent, vec!["q1", "a1", "q2 edited"]);
        let stored: Vec<String> = s
            .messages(sid)
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect();
        assert_eq!(stored, vec!["q1", "a1", "q2 edited", ""]);
    }

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
