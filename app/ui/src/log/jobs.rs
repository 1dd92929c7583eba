//! The log's jobs on the store thread: what is asked (refresh, detail, saves), the answers
//! polled once per frame, refusals (the officer signed out) and unsaved drafts kept for a retry.

use super::*;

/// After the log refused a write because another program held it locked, the entries are
/// tried again after this long (and again, each time it refuses).
const BUSY_RETRY: Duration = Duration::from_secs(3);

impl LogUi {
    pub(super) fn submit(&mut self, f: impl FnOnce(&StoreThread) -> mt_store::Result<Job>) {
        match f(&self.store) {
            Ok(j) => self.jobs.push(j),
            Err(e) => self.banner = Some(e.to_string()),
        }
    }

    pub(super) fn refresh(&mut self) {
        if !self.may(Right::Bookmark) {
            // A viewer: the log is not theirs to read (the store would refuse it too).
            return;
        }
        let op = self.operator_id();
        let o = op.clone();
        self.submit(|s| {
            s.run(move |db| db.as_officer(&o)?.bookmarks(200))
                .map(Job::Bookmarks)
        });
        let (q, o) = (self.query.clone(), op.clone());
        self.submit(|s| {
            s.run(move |db| db.as_officer(&o)?.search(&q))
                .map(Job::Incidents)
        });
        let mut sq = self.query.clone();
        sq.text.clear();
        sq.from_ms = self
            .period_days
            .map(|d| mt_store::now_ms() - d * 86_400_000);
        self.submit(|s| {
            s.run(move |db| db.as_officer(&op)?.stats(&sq))
                .map(Job::Stats)
        });
    }

    /// An incident's detail, read as the signed-in officer.
    pub(super) fn load_detail(&mut self, id: i64) {
        let op = self.operator_id();
        self.submit(|s| {
            s.run(move |db| db.as_officer(&op)?.incident_detail(id))
                .map(Job::Detail)
        });
    }

    /// Takes finished store work into the UI state.
    pub fn poll(&mut self, tr: &Tr) {
        let before = self
            .operator
            .as_ref()
            .map(|o| (o.id.clone(), o.must_change_pin));
        self.session.poll(tr, &mut self.operator);
        if self
            .operator
            .as_ref()
            .map(|o| (o.id.clone(), o.must_change_pin))
            != before
        {
            // Another officer took over (shift change), or the PIN was just changed.
            self.forget_reads();
            self.officers = Default::default();
            self.tab = Tab::Bookmarks;
            self.refresh();
        }
        if let Some(s) = self.officers.saved_settings.take() {
            self.session.apply_settings(&s);
        }
        if self.retry_at.is_some_and(|t| Instant::now() >= t) && self.jobs.is_empty() {
            // The log was locked by another program: what it refused is written again.
            self.retry_at = None;
            self.banner = None;
            for u in std::mem::take(&mut self.unsaved) {
                self.save(u);
            }
        }
        let jobs = std::mem::take(&mut self.jobs);
        let mut refresh = false;
        for job in jobs {
            macro_rules! take {
                ($p:expr, $job:expr) => {
                    match $p.try_take() {
                        None => {
                            self.jobs.push($job);
                            continue;
                        }
                        Some(r) => r,
                    }
                };
            }
            match job {
                Job::Count(p) => match take!(p, Job::Count(p)) {
                    Ok(n) => self.first_run = Some(n == 0),
                    Err(e) => self.banner = Some(e.to_string()),
                },
                Job::SignIn(p) => match take!(p, Job::SignIn(p)) {
                    Ok(op) => {
                        // The first supervisor exists now (set here, not when asked: a
                        // refused first PIN or ID keeps the first-run screen).
                        self.first_run = Some(false);
                        self.operator = Some(op);
                        // The next sign-in (after a sign-out) starts from empty fields.
                        self.signin_id.clear();
                        self.signin_pin.clear();
                        self.signin_error = None;
                        self.officers = Default::default();
                        self.tab = Tab::Bookmarks;
                        self.session.load_settings(&self.store);
                        refresh = true;
                    }
                    Err(e) => {
                        self.signin_pin.clear();
                        self.signin_error = Some(crate::session::error_text(tr, &e));
                    }
                },
                Job::Types(p) => {
                    if let Ok(t) = take!(p, Job::Types(p)) {
                        self.types = t;
                    }
                }
                Job::Bookmarks(p) => match take!(p, Job::Bookmarks(p)) {
                    Ok(b) => self.bookmarks = b,
                    Err(e) => self.read_failed(tr, e),
                },
                Job::Incidents(p) => match take!(p, Job::Incidents(p)) {
                    Ok(i) => {
                        self.incidents = i;
                        self.sort_incidents();
                    }
                    Err(e) => self.read_failed(tr, e),
                },
                Job::Stats(p) => match take!(p, Job::Stats(p)) {
                    Ok(s) => self.stats = Some(s),
                    Err(e) => self.read_failed(tr, e),
                },
                Job::Detail(p) => {
                    let d = take!(p, Job::Detail(p));
                    if let Err(e) = &d {
                        if matches!(e, mt_store::StoreError::Forbidden { .. }) {
                            self.refused(tr, e);
                        }
                    }
                    if let Ok(d) = d {
                        let ids = d.bookmark_ids.clone();
                        self.snapshots.clear();
                        self.snapshot_pngs = None;
                        let op = self.operator_id();
                        self.submit(|s| {
                            s.run(move |db| {
                                let view = db.as_officer(&op)?;
                                let mut v = Vec::new();
                                for id in ids {
                                    if let Some(png) = view.bookmark_snapshot(id)? {
                                        v.push((id, png));
                                    }
                                }
                                Ok(v)
                            })
                            .map(Job::Snapshots)
                        });
                        self.detail = Some(d);
                    }
                }
                Job::Snapshots(p) => {
                    if let Ok(v) = take!(p, Job::Snapshots(p)) {
                        self.snapshot_pngs = decode_stills(v);
                    }
                }
                Job::Saved(p, what) => match take!(p, Job::Saved(p, what)) {
                    Ok(id) => {
                        let msg = match &what {
                            Unsaved::Bookmark(_) => {
                                tr.t_args("bookmark-saved", &[("id", id.into())])
                            }
                            Unsaved::Incident(_) => {
                                self.selected_bookmarks.clear();
                                tr.t_args("incident-created", &[("id", id.into())])
                            }
                            Unsaved::Note(inc, _) => {
                                let inc = *inc;
                                self.load_detail(inc);
                                String::new()
                            }
                        };
                        if !msg.is_empty() {
                            self.toast = Some((msg, Instant::now()));
                        }
                        refresh = true;
                    }
                    Err(e) => {
                        if matches!(e, mt_store::StoreError::Busy { .. }) {
                            self.retry_at = Some(Instant::now() + BUSY_RETRY);
                        }
                        self.banner =
                            Some(tr.t_args("write-failed", &[("error", e.to_string().into())]));
                        self.unsaved.push(what);
                    }
                },
                Job::Exported(p, path) => match take!(p, Job::Exported(p, path)) {
                    Ok(n) => {
                        self.toast = Some((
                            tr.t_args(
                                "exported",
                                &[
                                    ("count", n.into()),
                                    ("file", path.display().to_string().into()),
                                ],
                            ),
                            Instant::now(),
                        ))
                    }
                    Err(e) => self.banner = Some(e.to_string()),
                },
                Job::Done(p) => match take!(p, Job::Done(p)) {
                    Ok(()) => refresh = true,
                    Err(e) => {
                        self.banner =
                            Some(tr.t_args("write-failed", &[("error", e.to_string().into())]))
                    }
                },
            }
        }
        if refresh {
            self.refresh();
        }
    }

    /// The store refused the signed-in officer something their row no longer allows: back
    /// to the sign-in screen, saying why (a new sign-in reads the officer's rights again),
    /// and nothing of what the last officer read stays on screen.
    pub fn refused(&mut self, tr: &Tr, e: &mt_store::StoreError) {
        tracing::warn!("{e}");
        self.operator = None;
        self.forget_reads();
        self.signin_error = Some(crate::session::error_text(tr, e));
    }

    /// A read of the log that failed: refused (see [`LogUi::refused`]), or said in the banner.
    pub(super) fn read_failed(&mut self, tr: &Tr, e: mt_store::StoreError) {
        if matches!(e, mt_store::StoreError::Forbidden { .. }) {
            self.refused(tr, &e);
        } else {
            self.banner = Some(e.to_string());
        }
    }

    /// Drops what was read for the officer signed in until now (after a sign-out, a refusal).
    pub(super) fn forget_reads(&mut self) {
        self.bookmarks.clear();
        self.incidents.clear();
        self.stats = None;
        self.detail = None;
        self.snapshots.clear();
        self.snapshot_pngs = None;
        self.selected_bookmarks.clear();
    }

    pub(super) fn save(&mut self, what: Unsaved) {
        let op = self.operator_id();
        let w = what.clone();
        let r = match what {
            Unsaved::Bookmark(d) => self.store.run(move |db| {
                let png = d.frame.as_deref().map(snapshot_png);
                db.add_bookmark(
                    &op,
                    &NewBookmark {
                        camera_id: d.camera_id,
                        frame_time_ms: d.frame_time_ms,
                        pre_ms: d.pre_s * 1000,
                        post_ms: d.post_s * 1000,
                        note: d.note,
                        snapshot_png: png,
                        source: d.source.into(),
                    },
                )
            }),
            Unsaved::Incident(d) => self.store.run(move |db| db.add_incident(&op, &d)),
            Unsaved::Note(inc, body) => self.store.run(move |db| db.add_note(&op, inc, &body)),
        };
        match r {
            Ok(p) => self.jobs.push(Job::Saved(p, w)),
            Err(e) => {
                self.banner = Some(e.to_string());
                self.unsaved.push(w);
            }
        }
    }
}
