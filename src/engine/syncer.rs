//! Forces the take's files to disk every `--sync-interval` on a thread of its own, so that a
//! disk slow to sync (a rotating one: milliseconds per file) never holds up the writer.

use std::fs::File;
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

type Failure = Arc<Mutex<Option<io::Error>>>;

pub(crate) struct Syncer {
    jobs: Sender<Option<Vec<File>>>,
    failure: Failure,
    thread: Option<JoinHandle<()>>,
}

/// What a take's files hold on to: which files the thread syncs, and its first failure.
pub(crate) struct SyncWatch {
    jobs: Sender<Option<Vec<File>>>,
    failure: Failure,
}

impl Syncer {
    /// `every`: None leaves writing the data out to the kernel (no thread is started).
    pub(crate) fn start(every: Option<Duration>) -> Self {
        let (tx, rx) = mpsc::channel::<Option<Vec<File>>>();
        let failure: Failure = Arc::new(Mutex::new(None));
        let report = Arc::clone(&failure);
        let thread = every.and_then(|every| {
            std::thread::Builder::new()
                .name("tapedeck-sync".into())
                .spawn(move || {
                    let mut files: Vec<File> = Vec::new();
                    loop {
                        match rx.recv_timeout(every) {
                            Ok(Some(new)) => files = new,
                            Ok(None) => files.clear(),
                            Err(RecvTimeoutError::Timeout) => {
                                for f in &files {
                                    if let Err(e) = f.sync_data() {
                                        if let Ok(mut slot) = report.lock() {
                                            slot.get_or_insert(e);
                                        }
                                        files.clear();
                                        break;
                                    }
                                }
                            }
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                })
                .ok()
        });
        Self {
            jobs: tx,
            failure,
            thread,
        }
    }

    /// Syncs these files from now on, forgetting a failure left over from earlier files.
    pub(crate) fn watch(&self, files: Vec<File>) -> SyncWatch {
        let watch = SyncWatch {
            jobs: self.jobs.clone(),
            failure: Arc::clone(&self.failure),
        };
        let _ = watch.take_failure();
        let _ = self.jobs.send(Some(files));
        watch
    }
}

impl SyncWatch {
    /// The first failure to sync since the last call.
    pub(crate) fn take_failure(&self) -> Option<io::Error> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }

    /// Syncs these files instead from now on (the take moved on to new files).
    pub(crate) fn replace(&self, files: Vec<File>) {
        let _ = self.jobs.send(Some(files));
    }

    /// Stops syncing the files (they are being closed).
    pub(crate) fn stop(&self) {
        let _ = self.jobs.send(None);
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        // Closing the channel ends the thread; take files hold senders only while recording.
        let (tx, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
