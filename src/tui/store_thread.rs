//! The one thread that owns the history database. Jobs run in the order they were sent, so
//! a partial save can never overtake the final one.
//!
//! Between jobs it notices what other programs write (a `clerk ask` in a shell while the
//! app runs): every [`POLL`] it reads SQLite's `PRAGMA data_version`, which changes only
//! when another connection commits, and only then reads the session list and sends it to
//! the app (`Msg::StoreChanged`). An idle app is woken by nothing else: what to do about
//! the change is `update`'s decision, not this thread's.

use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use crate::app::Msg;
use crate::store::{Store, StoreError};

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// How often the store thread looks for commits of other programs.
pub const POLL: Duration = Duration::from_secs(2);

/// A handle to the store thread.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    jobs: std::sync::mpsc::Sender<Job>,
    app: UnboundedSender<Msg>,
}

impl StoreHandle {
    /// Move the store to its own thread. With `poll`, it looks that often for commits of
    /// other programs and sends the session list to the app when there were some (none
    /// for a store in memory: no other program can reach it).
    pub fn spawn(
        mut store: Store,
        app: UnboundedSender<Msg>,
        poll: Option<Duration>,
    ) -> StoreHandle {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let tell = app.clone();
        std::thread::spawn(move || {
            let mut seen = store.data_version().ok();
            let mut next = poll.map(|p| Instant::now() + p);
            loop {
                let job = match next {
                    Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now()))
                    {
                        Ok(job) => Some(job),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return,
                    },
                    None => match rx.recv() {
                        Ok(job) => Some(job),
                        Err(_) => return,
                    },
                };
                if let Some(job) = job {
                    job(&mut store);
                }
                if let (Some(at), Some(every)) = (next, poll)
                    && Instant::now() >= at
                {
                    next = Some(Instant::now() + every);
                    if let Some(msg) = changed(&store, &mut seen)
                        && tell.send(msg).is_err()
                    {
                        return;
                    }
                }
            }
        });
        StoreHandle { jobs, app }
    }

    /// Run `f` and send its message to the app.
    pub fn job(&self, f: impl FnOnce(&mut Store) -> Msg + Send + 'static) {
        let app = self.app.clone();
        let _ = self.jobs.send(Box::new(move |s| {
            let _ = app.send(f(s));
        }));
    }

    /// Run `f`; only a failure is reported to the app.
    pub fn quiet<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static) {
        let app = self.app.clone();
        let _ = self.jobs.send(Box::new(move |s| {
            if let Err(e) = f(s) {
                let _ = app.send(Msg::Failed(e.to_string()));
            }
        }));
    }

    /// Run `f` and await its result (`None` if the store thread is gone).
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let _ = self.jobs.send(Box::new(move |s| {
            let _ = tx.send(f(s));
        }));
        rx.await.ok()
    }

    /// Wait until every job sent so far has run.
    pub async fn flush(&self) {
        let _ = self.call(|_| ()).await;
    }
}

/// What the app must hear when another connection committed since `seen` (the session list
/// as it is now), or nothing.
fn changed(store: &Store, seen: &mut Option<i64>) -> Option<Msg> {
    let now = store.data_version().ok()?;
    if seen.replace(now) == Some(now) {
        return None;
    }
    Some(match store.list_sessions(None, true) {
        Ok(list) => Msg::StoreChanged(list),
        Err(e) => Msg::Failed(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewSession;

    fn session(title: &str) -> NewSession {
        NewSession {
            title: title.into(),
            profile: "default".into(),
            model: "m".into(),
            system_prompt: None,
            now_ms: 1,
        }
    }

    /// A commit of another connection reaches the app as the new list; the thread's own
    /// jobs and a quiet database send nothing.
    #[tokio::test]
    async fn commits_of_other_programs_reach_the_app_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let poll = Duration::from_millis(20);
        let handle = StoreHandle::spawn(Store::open(&path).unwrap(), tx, Some(poll));
        handle.quiet(|s| s.create_session(&session("from the app")).map(|_| ()));
        handle.flush().await;
        tokio::time::sleep(poll * 6).await;
        assert!(
            rx.try_recv().is_err(),
            "its own commits and quiet polls send nothing"
        );

        let mut shell = Store::open(&path).unwrap();
        shell.create_session(&session("from the shell")).unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let Msg::StoreChanged(list) = msg else {
            panic!("{msg:?}")
        };
        let titles: Vec<&str> = list.iter().map(|s| s.session.title.as_str()).collect();
        assert_eq!(titles.len(), 2);
        assert!(titles.contains(&"from the shell"), "{titles:?}");
        tokio::time::sleep(poll * 6).await;
        assert!(rx.try_recv().is_err(), "told once");
    }
}
