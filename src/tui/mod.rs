//! The runtime of the full-screen app: the terminal, the event loop, and the effects.
//!
//! Keys and resizes come from crossterm's event stream (dropped while `$EDITOR` owns the
//! terminal, so no key is stolen from it); answers stream in spawned tasks that send
//! messages back; the store is owned by one thread that applies jobs in order. The loop
//! drains every pending message, runs `update`, carries out the effects, and draws at most
//! once per frame, only when something changed; it ticks only while something waits or
//! animates. The terminal is restored on quit, on error and on panic.

mod answers;
pub(crate) mod clipboard;
mod compare;
mod documents;
mod effects;
mod paths;
mod store_thread;
mod templates;
mod terminal;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::EventStream;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

pub use store_thread::StoreHandle;

use crate::app::update::update;
use crate::app::{App, Effect, Keymap, Msg, Setup};
use crate::config::{Config, Profile};
use crate::llm::Endpoint;
use crate::secrets::{self, OsKeyring};
use crate::store::Store;
use crate::ui::{self, RenderCache, Theme};
use answers::Stops;
use effects::event_msg;
pub(crate) use paths::expand_home;
use templates::template_edited;
use terminal::{
    EditorJob, compose_in_editor, init_terminal, resolve_theme, restore_terminal, resume_terminal,
    run_editor, suspend_terminal,
};

/// Frames at most this often after a key, a paste or a resize.
const FRAME: Duration = Duration::from_millis(16);
/// Frames at most this often while only streamed text changes.
const STREAM_FRAME: Duration = Duration::from_millis(50);
/// The tick while a notice or an undo is pending.
const TICK: Duration = Duration::from_millis(250);

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
    /// The usage ledger (kept even when history is off; `None`: none, as in tests).
    pub usage_ledger: Option<std::path::PathBuf>,
    /// The knowledge index (`None`: grounded questions are refused, as in tests).
    pub knowledge_index: Option<std::path::PathBuf>,
    /// The user's themes folder.
    pub themes_dir: std::path::PathBuf,
}

struct Runtime {
    tx: UnboundedSender<Msg>,
    /// The store every job goes to: the history's, or — while an incognito session is
    /// open — one in memory.
    store: StoreHandle,
    /// The history's store, set aside while an incognito session is open.
    disk_store: Option<StoreHandle>,
    /// Shared with a key check in flight, which replaces it once the new key is accepted.
    endpoint: std::sync::Arc<std::sync::Mutex<Option<Endpoint>>>,
    /// Budgets and the usage ledger (a key typed in the app gets it too).
    meter: Option<Arc<dyn crate::llm::meter::Meter>>,
    start: Start,
    stops: Stops,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Something to edit in `$EDITOR` (the loop hands the terminal over).
    editor: Option<EditorJob>,
    /// The stop switches of the compare view's answers (and which comparison).
    compare_stops: Option<(u64, Vec<tokio::sync::oneshot::Sender<()>>)>,
    /// Where templates come from.
    sources: crate::templates::Sources,
    /// The template library, loaded on first use and reloaded when its files change.
    library: Arc<Mutex<Option<crate::templates::Library>>>,
}

use crate::chat::now_ms;

/// Run the full-screen app until the user quits.
pub fn run(start: Start) -> Result<(), String> {
    // One thread runs the loop and every stream: a token then costs no cross-thread wake-up
    // (measured: a third less CPU while streaming than with a two-thread pool).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| tr!("app.run.cannot_start", error = e).into_owned())?;
    // The history opens (its pragmas, the schema check, the crash recovery: milliseconds)
    // on a thread of its own while the themes, the keymap and the key are read here.
    let opening = {
        let database = start.database.clone();
        let policy = start.config.policy.clone();
        std::thread::Builder::new()
            .name("clerk-store".into())
            .spawn(move || {
                // The catalogs' lookup table is built on its first use: here, beside the
                // history's opening, rather than inside the first frame.
                crate::i18n::warm();
                open_history(database.as_deref(), &policy)
            })
            .map_err(|e| tr!("app.run.cannot_start", error = e).into_owned())?
    };
    let (themes, theme_errors) = ui::theme::load_all(Some(&start.themes_dir));
    let theme_names: Vec<String> = themes.iter().map(|t| t.name.clone()).collect();
    let (keymap, key_error) = match Keymap::with_overrides(&start.config.file.keys) {
        Ok(k) => (k, None),
        Err(e) => (Keymap::default(), Some(e.to_string())),
    };
    let key = secrets::resolve(
        &secrets::KeyFor::profile(
            &start.profile_name,
            &start.profile,
            start.base_url.as_deref(),
        ),
        &secrets::process_env,
        &OsKeyring,
    );
    let (tx, rx) = unbounded_channel();
    // Budgets and the usage ledger see every request (warnings become notices).
    let meter = ledger_meter(&start, tx.clone());
    let (endpoint, key_problem) = match key {
        Ok((k, _)) => match Endpoint::new(
            &start.profile,
            &k,
            start.base_url.as_deref(),
            &start.config.policy,
        ) {
            Ok(e) => (
                Some(match &meter {
                    Some(m) => e.with_meter(m.clone()),
                    None => e,
                }),
                None,
            ),
            Err(e) => (None, Some(e.to_string())),
        },
        Err(e) => (None, Some(e.to_string())),
    };
    let Opened {
        store,
        retention,
        recovered,
        notice: store_notice,
        theme: remembered_theme,
        draft: new_draft,
    } = opening
        .join()
        .map_err(|_| tr!("app.run.history_thread").into_owned())??;
    // The HTTP client (the system's root certificates) is built once the first frame is
    // on the screen (`warm_up`), not before or beside it.
    let mut theme_name = remembered_theme
        .or(start.config.file.theme.clone())
        .unwrap_or_else(|| ui::theme::DEFAULT_THEME.to_string());
    let mut startup_notes: Vec<String> = theme_errors.iter().map(|e| e.to_string()).collect();
    if !theme_names.contains(&theme_name) {
        startup_notes.push(
            tr!(
                "app.run.theme_missing",
                name = &theme_name,
                default = ui::theme::DEFAULT_THEME
            )
            .into_owned(),
        );
        theme_name = ui::theme::DEFAULT_THEME.to_string();
    }
    startup_notes.extend(retention);
    startup_notes.extend(key_error);
    startup_notes.extend(store_notice);
    if recovered > 0 {
        startup_notes.push(tr!("app.run.recovered", n = recovered).into_owned());
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
        profile_model: start.profile.model.clone(),
        policy: start.config.policy.clone(),
        models: start.config.models.clone(),
        history: start.database.is_some(),
        tz_offset_secs: offset,
        knowledge: start
            .config
            .file
            .knowledge
            .iter()
            .map(|e| crate::app::KnowledgeBase {
                name: e.name.clone(),
                about: e
                    .paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
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
    // Sessions another program adds (a `clerk ask` in a shell) appear without a restart;
    // an in-memory store (history off) has no other writer to look for.
    let poll = start.database.is_some().then_some(store_thread::POLL);
    let store = StoreHandle::spawn(store, tx.clone(), poll);
    let sources = crate::templates::sources(&start.config.path, &start.config.file.template_dirs);
    let mut runtime = Runtime {
        tx: tx.clone(),
        store,
        disk_store: None,
        endpoint: std::sync::Arc::new(std::sync::Mutex::new(endpoint)),
        meter,
        start,
        stops: Arc::default(),
        tasks: Vec::new(),
        editor: None,
        compare_stops: None,
        sources,
        library: Arc::default(),
    };
    if !startup_notes.is_empty() {
        // One message: each note is shown in turn (sent one by one, each hid the last).
        let _ = tx.send(Msg::StartNotes(startup_notes));
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

/// The history, opened, and what the first frame needs from it.
struct Opened {
    store: Store,
    /// What the admin's `retention_days` removed, or why it could not.
    retention: Option<String>,
    recovered: usize,
    notice: Option<String>,
    theme: Option<String>,
    draft: Option<String>,
}

/// Open the history at `database` (in memory without one: history off) and apply the
/// admin's `retention_days` before anything of it is shown.
fn open_history(
    database: Option<&std::path::Path>,
    policy: &crate::config::policy::Policy,
) -> Result<Opened, String> {
    let mut store = match database {
        Some(path) => Store::open(path).map_err(|e| e.to_string())?,
        None => Store::open_in_memory().map_err(|e| e.to_string())?,
    };
    let retention = match crate::chat::retention::apply(&mut store, policy, now_ms()) {
        Ok(note) => note,
        Err(e) => Some(e),
    };
    Ok(Opened {
        retention,
        recovered: store.recovered(),
        notice: store.read_only_notice(),
        theme: store.setting("theme").ok().flatten(),
        draft: store.draft(crate::app::NEW_SESSION).ok().flatten(),
        store,
    })
}

fn needs_tick(app: &App) -> bool {
    app.notice.is_some() || app.pending_delete.is_some() || app.removed_paste.is_some()
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
    let mut warmed = false;
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
                .map_err(|e| tr!("app.run.cannot_draw", error = e).into_owned())?;
            last_draw = Instant::now();
            next_draw = None;
            if !warmed {
                warmed = true;
                rt.warm_up();
            }
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
                Some(Err(e)) => {
                    return Err(tr!("app.run.cannot_read_terminal", error = e).into_owned());
                }
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
    /// Once the first frame is on the screen: the HTTP client (reading the system's root
    /// certificates: ~55 M instructions) and the secret scanner's patterns (~24 M, so the
    /// first Enter does not wait for them) are made on threads of their own. Made before or
    /// beside the first frame, on two cores, they took its time (measured with callgrind:
    /// they are 90% of the start's instructions; the first frame's own thread is 10%).
    fn warm_up(&self) {
        let endpoint = self
            .endpoint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(endpoint) = endpoint {
            endpoint.warming();
        }
        if self.start.config.file.documents.scan_secrets {
            tokio::task::spawn_blocking(|| crate::documents::secrets::scan(""));
        }
    }

    fn send(&self, msg: Msg) {
        let _ = self.tx.send(msg);
    }

    /// Whether what is asked now is kept on disk: not with the history off, nor in an
    /// incognito session (then no restatement is cached either).
    fn keeps_history(&self) -> bool {
        self.start.database.is_some() && self.disk_store.is_none()
    }

    /// The endpoint answers are asked through (`None`: no key). For sessions that are not
    /// kept, its requests go to the ledger without their session
    /// ([`crate::chat::meter::Unfiled`]).
    fn answer_endpoint(&self) -> Option<Endpoint> {
        let ep = self.endpoint.lock().ok().and_then(|e| e.clone())?;
        Some(match &self.meter {
            Some(m) if !self.keeps_history() => {
                ep.with_meter(Arc::new(crate::chat::meter::Unfiled(m.clone())))
            }
            _ => ep,
        })
    }

    /// Into an incognito session (`true`: every job goes to a new store in memory from
    /// now on) or out of it (`false`: that store and all it held are dropped). The app
    /// hears `Msg::StoreSwitched` after every job sent to the store left behind.
    fn switch_store(&mut self, incognito: bool) {
        let left = if incognito {
            if self.disk_store.is_some() {
                return;
            }
            let memory = match Store::open_in_memory() {
                Ok(s) => s,
                Err(e) => {
                    self.send(Msg::Failed(
                        tr!("app.run.incognito_failed", error = e).into_owned(),
                    ));
                    return;
                }
            };
            let memory = StoreHandle::spawn(memory, self.tx.clone(), None);
            let disk = std::mem::replace(&mut self.store, memory);
            self.disk_store = Some(disk.clone());
            disk
        } else {
            let Some(disk) = self.disk_store.take() else {
                return;
            };
            std::mem::replace(&mut self.store, disk)
        };
        left.job(|_| Msg::StoreSwitched);
    }
}

/// The meter of this run: the usage ledger beside the history, the budgets, warnings as
/// notices. `None` without a data folder. A ledger that cannot be opened is logged, and a
/// budget then refuses every request, as it cannot be checked (`LedgerMeter::opening`).
fn ledger_meter(
    start: &Start,
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
) -> Option<Arc<dyn crate::llm::meter::Meter>> {
    let path = start.usage_ledger.as_ref()?;
    // Opened at the first request, not before the first frame.
    Some(Arc::new(crate::chat::meter::LedgerMeter::opening(
        path.clone(),
        &start.profile_name,
        start.config.models.clone(),
        start.config.file.budget.clone(),
        Box::new(move |w| {
            let _ = tx.send(Msg::Info(w));
        }),
    )))
}
