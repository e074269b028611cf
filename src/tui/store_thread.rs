//! The one thread that owns the history database. Jobs run in the order they were sent, so
//! a partial save can never overtake the final one.

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use crate::app::Msg;
use crate::store::{Store, StoreError};

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// A handle to the store thread.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    jobs: std::sync::mpsc::Sender<Job>,
    app: UnboundedSender<Msg>,
}

impl StoreHandle {
    /// Move the store to its own thread.
    pub fn spawn(mut store: Store, app: UnboundedSender<Msg>) -> StoreHandle {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::spawn(move || {
            while let Ok(job) = rx.recv() {
                job(&mut store);
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
