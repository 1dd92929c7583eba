//! The thread that owns the database. Callers send jobs over a bounded channel and get a
//! [`Pending`] back; the UI polls it (`try_take`) and never blocks on SQLite.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use crate::{Db, Result, StoreError};

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// Jobs waiting for the store thread. Small: if SQLite is stuck (disk), the UI learns at once
/// instead of piling up work.
pub const QUEUE: usize = 64;

/// A handle to the store thread; clones send to the same thread (e.g. an export worker
/// that writes its audit row).
#[derive(Clone)]
pub struct StoreThread {
    tx: SyncSender<Job>,
    path: std::path::PathBuf,
}

/// The answer to a job, when it is ready.
pub struct Pending<T>(Receiver<Result<T>>);

impl<T> Pending<T> {
    /// The result if it is ready (never blocks); an error if the store thread is gone, so
    /// a caller never waits for an answer that cannot come.
    pub fn try_take(&self) -> Option<Result<T>> {
        match self.0.try_recv() {
            Ok(r) => Some(r),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(StoreError::Invalid(
                "the store thread has stopped".into(),
            ))),
        }
    }
    /// Blocks until the result is there (tests, command line).
    pub fn wait(self) -> Result<T> {
        self.0
            .recv()
            .unwrap_or_else(|_| Err(StoreError::Invalid("the store thread has stopped".into())))
    }
}

impl StoreThread {
    /// Opens the database on a new thread named "store"; returns once it is open (or failed).
    pub fn start(path: &Path) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let path = path.to_owned();
        let db_path = path.clone();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || match Db::open(&path) {
                Ok(mut db) => {
                    let _ = ready_tx.send(Ok(()));
                    loop {
                        match rx.recv_timeout(std::time::Duration::from_millis(250)) {
                            Ok(job) => job(&mut db),
                            // Idle: a good moment to copy the WAL back (see Db::pragmas).
                            Err(mpsc::RecvTimeoutError::Timeout) => {
                                if db.needs_checkpoint() {
                                    if let Err(e) = db.checkpoint() {
                                        tracing::warn!("{e}");
                                    }
                                }
                            }
                            Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        }
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| StoreError::Invalid(format!("cannot start the store thread: {e}")))?;
        ready_rx.recv().unwrap_or_else(|_| {
            Err(StoreError::Invalid(
                "the store thread ended at start".into(),
            ))
        })?;
        Ok(StoreThread { tx, path: db_path })
    }

    /// The log file this thread owns (for a reader of its own, e.g. the checkpoint thread).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues `f` to run on the store thread. Fails at once (never blocks) when the queue is full.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db) -> Result<T> + Send + 'static,
    ) -> Result<Pending<T>> {
        let (rtx, rrx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |db| {
            let _ = rtx.send(f(db));
        });
        match self.tx.try_send(job) {
            Ok(()) => Ok(Pending(rrx)),
            Err(TrySendError::Full(_)) => Err(StoreError::Invalid(
                "the log is busy; the change is kept and retried".into(),
            )),
            Err(TrySendError::Disconnected(_)) => {
                Err(StoreError::Invalid("the store thread has stopped".into()))
            }
        }
    }
}
