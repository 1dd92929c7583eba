//! Coverage of the streets by the cameras' fields of view, computed on the thread "coverage"
//! (about 1 ms for the district's streets, 6 ms for a 561 km grid: too much for every frame
//! of a drag on the UI thread). The map asks with a snapshot of the sites; the answer comes
//! back through a channel the map polls each frame, and the thread asks for a repaint. One
//! question at a time: while one is being answered, later changes wait and are asked as one.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use mt_core::CameraSite;
use mt_map::coverage::{self, Coverage, Road};

use crate::map::SiteFilter;

/// What one computation needs: shared geometry, and a copy of the sites and the filter.
pub struct Job {
    pub roads: Arc<Vec<Road>>,
    pub wards: Arc<Vec<(String, geo::MultiPolygon)>>,
    pub sites: Vec<CameraSite>,
    pub filter: SiteFilter,
    /// The coverage without planned sites, when it is still right (only a planned site
    /// changed): kept instead of computed again.
    pub before: Option<Coverage>,
}

pub struct Answer {
    pub before: Coverage,
    pub after: Coverage,
    pub ms: f64,
}

/// Coverage without the plan (unless kept) and with it, on the calling thread.
pub fn compute(job: Job) -> Answer {
    let t = Instant::now();
    let f = &job.filter;
    let before = job.before.unwrap_or_else(|| {
        coverage::compute(&job.roads, &job.sites, &job.wards, |s| {
            !s.planned && f.accepts(s)
        })
    });
    let after = coverage::compute(&job.roads, &job.sites, &job.wards, |s| f.accepts(s));
    Answer {
        before,
        after,
        ms: t.elapsed().as_secs_f64() * 1e3,
    }
}

pub struct CoverageWorker {
    jobs: SyncSender<(Job, egui::Context)>,
    answers: Receiver<Answer>,
    waiting: bool,
    /// The thread is gone (it panicked): the map computes in place from then on.
    pub gone: bool,
}

impl CoverageWorker {
    /// The thread; None if it cannot be started (coverage is then computed in place).
    pub fn start() -> Option<CoverageWorker> {
        let (jobs, job_rx) = std::sync::mpsc::sync_channel::<(Job, egui::Context)>(1);
        let (tx, answers) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("coverage".into())
            .spawn(move || {
                mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
                for (job, ctx) in job_rx {
                    if tx.send(compute(job)).is_err() {
                        break;
                    }
                    ctx.request_repaint();
                }
            });
        match spawned {
            Ok(_) => Some(CoverageWorker {
                jobs,
                answers,
                waiting: false,
                gone: false,
            }),
            Err(e) => {
                tracing::warn!("coverage thread: {e}");
                None
            }
        }
    }

    /// A question is being answered.
    pub fn busy(&self) -> bool {
        self.waiting
    }

    /// Asks; false when a question is still being answered (ask again after the answer) or
    /// the thread is gone.
    pub fn ask(&mut self, job: Job, ctx: &egui::Context) -> bool {
        if self.waiting {
            return false;
        }
        match self.jobs.try_send((job, ctx.clone())) {
            Ok(()) => {
                self.waiting = true;
                true
            }
            Err(TrySendError::Full(_)) => false,
            Err(TrySendError::Disconnected(_)) => {
                self.gone = true;
                false
            }
        }
    }

    /// The answer, once it is there (never blocks).
    pub fn poll(&mut self) -> Option<Answer> {
        match self.answers.try_recv() {
            Ok(a) => {
                self.waiting = false;
                Some(a)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.waiting = false;
                self.gone = true;
                None
            }
        }
    }
}
