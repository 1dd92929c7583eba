//! The incident and bookmark log in the UI: sign-in, B to bookmark, incidents, search,
//! statistics, CSV export. Every database call goes to the store thread and comes back as a
//! [`Pending`] polled once per frame: the wall never waits for SQLite. A write that fails keeps
//! its draft in memory and shows a banner with "Retry"; nothing typed is lost.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Color32, RichText};
use mt_capture::DecodedFrame;
use mt_store::thread::{Pending, StoreThread};
use mt_store::{
    Bookmark, Incident, IncidentDetail, IncidentType, NewBookmark, NewIncident, Operator, Query,
    Right, Role, Stats, Status,
};

use crate::i18n::{Lang, Tr};

pub const STATUSES: [Status; 4] = [
    Status::New,
    Status::InProgress,
    Status::Transferred,
    Status::Closed,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Bookmarks,
    Incidents,
    Stats,
    /// Supervisors: officers and workstation settings.
    Officers,
}

/// A bookmark being written: the picture the tile showed when B was pressed, and that
/// picture's own time (its capture time live, its recorded time in playback or replay).
#[derive(Clone)]
pub struct BookmarkDraft {
    pub camera_id: String,
    pub camera_name: String,
    pub frame_time_ms: i64,
    /// "live", "playback" or "replay".
    pub source: &'static str,
    pub frame: Option<Arc<DecodedFrame>>,
    pub note: String,
    pub pre_s: i64,
    pub post_s: i64,
}

/// An incident being written is the store's own `NewIncident`.
pub type IncidentDraft = NewIncident;

/// A write that failed, kept until it can be written.
#[derive(Clone)]
enum Unsaved {
    Bookmark(BookmarkDraft),
    Incident(IncidentDraft),
    Note(i64, String),
}

enum Job {
    Count(Pending<i64>),
    SignIn(Pending<Operator>),
    Types(Pending<Vec<IncidentType>>),
    Bookmarks(Pending<Vec<Bookmark>>),
    Incidents(Pending<Vec<Incident>>),
    Stats(Pending<Stats>),
    Detail(Pending<IncidentDetail>),
    Snapshots(Pending<Vec<(i64, Vec<u8>)>>),
    Saved(Pending<i64>, Unsaved),
    Exported(Pending<usize>, PathBuf),
    Done(Pending<()>),
}

/// What the log knows of a camera: id, name, ward, latitude, longitude.
pub type CameraInfo = (String, String, String, f64, f64);

/// What the log asks the wall to do.
pub enum LogCommand {
    ShowCamera(String),
}

pub struct LogUi {
    store: StoreThread,
    jobs: Vec<Job>,
    pub operator: Option<Operator>,
    /// Idle lock, shift change, the PIN to choose after a reset.
    pub session: crate::session::Session,
    officers: crate::officers::OfficersUi,
    first_run: Option<bool>,
    signin_id: String,
    signin_name: String,
    signin_pin: String,
    signin_error: Option<String>,
    pub tab: Tab,
    pub bookmarks: Vec<Bookmark>,
    pub incidents: Vec<Incident>,
    types: Vec<IncidentType>,
    pub selected_bookmarks: BTreeSet<i64>,
    pub bookmark_prompt: Option<BookmarkDraft>,
    pub incident_form: Option<IncidentDraft>,
    pub detail: Option<IncidentDetail>,
    new_note: String,
    new_type: String,
    /// Stills of the open incident's bookmarks, decoded on a "stills" thread (a 640×360 PNG
    /// takes a few ms: not on the UI thread), then textures.
    snapshot_pngs: Option<std::sync::mpsc::Receiver<Vec<(i64, egui::ColorImage)>>>,
    snapshots: Vec<(i64, egui::TextureHandle)>,
    /// The new-incident form's time field, as typed.
    form_time: String,
    /// Title, type and ward being edited in the open incident (id, title, type, ward).
    edit: Option<(i64, String, String, String, String)>,
    pub query: Query,
    sort: (usize, bool),
    stats: Option<Stats>,
    period_days: Option<i64>,
    toast: Option<(String, Instant)>,
    pub banner: Option<String>,
    unsaved: Vec<Unsaved>,
    export_dir: PathBuf,
    /// The bookmark note field wants focus on its first frame.
    focus_note: bool,
    /// Evidence export, when recordings are attached.
    pub evidence: Option<crate::evidence::EvidenceUi>,
}

/// A time as shown in the log: `29/11/2026 14:05:09`, local time.
pub fn format_time(ms: i64) -> String {
    fmt_time(ms)
}

fn fmt_time(ms: i64) -> String {
    mt_core::time::show(ms)
}

/// A time as the officer types it: `29/11/2026 14:05`, in the workstation's zone.
pub(crate) fn fmt_input_time(ms: i64) -> String {
    mt_core::time::format(ms, "%d/%m/%Y %H:%M")
}

pub(crate) fn parse_input_time(s: &str) -> Option<i64> {
    mt_core::time::parse_local(s)
}

/// A labelled time field; returns the time it holds, or None (and says so) when it does not
/// parse.
fn time_field_ui(ui: &mut egui::Ui, tr: &Tr, text: &mut String) -> Option<i64> {
    let l = ui.label(tr.t("incident-time"));
    let parsed = parse_input_time(text);
    ui.horizontal(|ui| {
        ui.add(egui::TextEdit::singleline(text).desired_width(140.0))
            .labelled_by(l.id);
        if parsed.is_none() {
            ui.colored_label(Color32::from_rgb(240, 90, 90), tr.t("time-format"));
        }
    });
    parsed
}

/// Converts a decoded picture to PNG (BT.601/709, limited/full range) on the store thread.
pub fn snapshot_png(f: &DecodedFrame) -> Vec<u8> {
    let img = rgb_image(f);
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

/// A decoded picture as RGB (BT.601/709, limited/full range), on the CPU.
pub fn rgb_image(f: &DecodedFrame) -> image::RgbImage {
    let (kr, kb) = match f.matrix {
        mt_capture::ColorMatrix::Bt601 => (0.299f32, 0.114f32),
        mt_capture::ColorMatrix::Bt709 => (0.2126, 0.0722),
    };
    let kg = 1.0 - kr - kb;
    let (ys, yo, cs) = if f.full_range {
        (1.0, 0.0, 1.0)
    } else {
        (255.0 / 219.0, 16.0, 255.0 / 224.0)
    };
    let cw = f.width.div_ceil(2) as usize;
    let mut img = image::RgbImage::new(f.width, f.height);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let yy = (f.y[(y * f.width + x) as usize] as f32 - yo) * ys;
        let ci = (y as usize / 2) * cw + x as usize / 2;
        let u = (f.u[ci] as f32 - 128.0) * cs;
        let v = (f.v[ci] as f32 - 128.0) * cs;
        let r = yy + 2.0 * (1.0 - kr) * v;
        let b = yy + 2.0 * (1.0 - kb) * u;
        let g = (yy - kr * r - kb * b) / kg;
        *px = image::Rgb([
            r.clamp(0.0, 255.0) as u8,
            g.clamp(0.0, 255.0) as u8,
            b.clamp(0.0, 255.0) as u8,
        ]);
    }
    img
}

/// A combo box of the active incident types, in the UI's language.
fn type_combo_ui(
    ui: &mut egui::Ui,
    id_salt: &str,
    types: &[IncidentType],
    code: &mut String,
    lang: Lang,
) {
    let name = |t: &IncidentType| {
        if lang == Lang::Vi {
            t.name_vi.clone()
        } else {
            t.name_en.clone()
        }
    };
    let cur = types
        .iter()
        .find(|t| &t.code == code)
        .map(name)
        .unwrap_or_default();
    egui::ComboBox::from_id_salt(id_salt)
        .selected_text(cur)
        .show_ui(ui, |ui| {
            for t in types.iter().filter(|t| t.active) {
                ui.selectable_value(code, t.code.clone(), name(t));
            }
        });
}

impl LogUi {
    pub fn new(store: StoreThread, export_dir: PathBuf) -> Self {
        let mut l = LogUi {
            store,
            jobs: Vec::new(),
            operator: None,
            first_run: None,
            signin_id: String::new(),
            signin_name: String::new(),
            signin_pin: String::new(),
            signin_error: None,
            tab: Tab::Bookmarks,
            bookmarks: Vec::new(),
            incidents: Vec::new(),
            types: Vec::new(),
            selected_bookmarks: BTreeSet::new(),
            bookmark_prompt: None,
            incident_form: None,
            detail: None,
            new_note: String::new(),
            new_type: String::new(),
            form_time: String::new(),
            snapshot_pngs: None,
            snapshots: Vec::new(),
            edit: None,
            query: Query::default(),
            sort: (4, true),
            stats: None,
            period_days: None,
            toast: None,
            banner: None,
            unsaved: Vec::new(),
            export_dir,
            focus_note: false,
            evidence: None,
            session: Default::default(),
            officers: Default::default(),
        };
        l.submit(|s| s.run(|db| db.operator_count()).map(Job::Count));
        l.submit(|s| s.run(|db| db.incident_types()).map(Job::Types));
        l
    }

    /// The store thread (for tests and tools that need to reach the database directly).
    /// Where exports (CSV, coverage plans) are written.
    pub fn export_dir(&self) -> &std::path::Path {
        &self.export_dir
    }

    pub fn store(&self) -> &StoreThread {
        &self.store
    }

    /// Whether store work is still under way (tests wait for it).
    pub fn busy(&self) -> bool {
        !self.jobs.is_empty() || self.session.busy() || self.officers.busy()
    }

    fn submit(&mut self, f: impl FnOnce(&StoreThread) -> mt_store::Result<Job>) {
        match f(&self.store) {
            Ok(j) => self.jobs.push(j),
            Err(e) => self.banner = Some(e.to_string()),
        }
    }

    fn refresh(&mut self) {
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
    fn load_detail(&mut self, id: i64) {
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
    fn read_failed(&mut self, tr: &Tr, e: mt_store::StoreError) {
        if matches!(e, mt_store::StoreError::Forbidden { .. }) {
            self.refused(tr, &e);
        } else {
            self.banner = Some(e.to_string());
        }
    }

    /// Drops what was read for the officer signed in until now (after a sign-out, a refusal).
    fn forget_reads(&mut self) {
        self.bookmarks.clear();
        self.incidents.clear();
        self.stats = None;
        self.detail = None;
        self.snapshots.clear();
        self.snapshot_pngs = None;
        self.selected_bookmarks.clear();
    }

    /// Whether the signed-in officer may do `r` now (the store checks again).
    pub fn may(&self, r: Right) -> bool {
        self.operator.as_ref().is_some_and(|o| o.may(r))
    }

    fn operator_id(&self) -> String {
        self.operator
            .as_ref()
            .map(|o| o.id.clone())
            .unwrap_or_default()
    }

    fn save(&mut self, what: Unsaved) {
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

    /// B pressed on a tile showing `camera`.
    /// Opens an incident's window (from a pin on the map).
    pub fn open_incident(&mut self, id: i64) {
        self.load_detail(id);
    }

    /// Starts a new incident at a place chosen on the map.
    pub fn new_incident_at(&mut self, lat: f64, lon: f64, ward: String, cameras: Vec<String>) {
        let now = mt_store::now_ms();
        self.form_time = fmt_input_time(now);
        self.incident_form = Some(IncidentDraft {
            title: String::new(),
            type_code: "other".into(),
            occurred_ms: now,
            ward,
            lat_deg: Some(lat),
            lon_deg: Some(lon),
            camera_ids: cameras,
            bookmark_ids: Vec::new(),
        });
    }

    /// The incident type's name in `lang` (its code if unknown).
    pub fn type_label(&self, code: &str, lang: Lang) -> String {
        self.type_name(code, lang)
    }

    /// B pressed on a tile showing `frame` of `camera` (`source`: "live", "playback",
    /// "replay"). The bookmark's time is the picture's own time, not the moment of the key
    /// press; without a picture (a gap in playback), `at_ms`: the time the tile is at.
    pub fn start_bookmark(
        &mut self,
        camera_id: &str,
        camera_name: &str,
        frame: Option<Arc<DecodedFrame>>,
        source: &'static str,
        at_ms: i64,
    ) {
        let frame_time_ms = frame
            .as_ref()
            .map(|f| f.time_ms)
            .filter(|t| *t > 0)
            .unwrap_or(at_ms);
        self.bookmark_prompt = Some(BookmarkDraft {
            camera_id: camera_id.into(),
            camera_name: camera_name.into(),
            frame_time_ms,
            source,
            frame,
            note: String::new(),
            pre_s: 30,
            post_s: 30,
        });
        self.focus_note = true;
    }

    /// Prefills the note of the bookmark being made (a search hit says what was found).
    pub fn set_bookmark_note(&mut self, note: String) {
        if let Some(d) = self.bookmark_prompt.as_mut() {
            d.note = note;
        }
    }

    fn sort_incidents(&mut self) {
        let (col, desc) = self.sort;
        self.incidents.sort_by(|a, b| {
            let o = match col {
                0 => a.id.cmp(&b.id),
                1 => a.title.cmp(&b.title),
                2 => a.type_code.cmp(&b.type_code),
                3 => a.status.as_str().cmp(b.status.as_str()),
                5 => a.created_by.cmp(&b.created_by),
                _ => a.occurred_ms.cmp(&b.occurred_ms),
            };
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }

    fn type_name(&self, code: &str, lang: Lang) -> String {
        self.types
            .iter()
            .find(|t| t.code == code)
            .map(|t| {
                if lang == Lang::Vi {
                    t.name_vi.clone()
                } else {
                    t.name_en.clone()
                }
            })
            .unwrap_or_else(|| code.to_owned())
    }

    /// The sign-in screen (shown instead of the wall until someone signs in).
    pub fn signin_ui(&mut self, ui: &mut egui::Ui, tr: &Tr) {
        if let Some(op) = self.operator.clone().filter(|o| o.must_change_pin) {
            self.session.change_pin_ui(ui, tr, &self.store, &op);
            return;
        }
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.2);
            ui.heading(tr.t("app-title"));
            ui.add_space(12.0);
            let first = self.first_run == Some(true);
            ui.label(
                RichText::new(if first {
                    tr.t("signin-first")
                } else {
                    tr.t("signin-title")
                })
                .strong(),
            );
            // Centre the form: a Grid does not centre itself.
            ui.horizontal(|ui| {
                ui.add_space(((ui.available_width() - 300.0) / 2.0).max(0.0));
                ui.vertical(|ui| {
                    egui::Grid::new("signin").num_columns(2).show(ui, |ui| {
                        let l = ui.label(tr.t("signin-id"));
                        ui.add(
                            egui::TextEdit::singleline(&mut self.signin_id).desired_width(200.0),
                        )
                        .labelled_by(l.id);
                        ui.end_row();
                        if first {
                            let l = ui.label(tr.t("signin-name"));
                            ui.add(
                                egui::TextEdit::singleline(&mut self.signin_name)
                                    .desired_width(200.0),
                            )
                            .labelled_by(l.id);
                            ui.end_row();
                        }
                        let l = ui.label(tr.t("signin-pin"));
                        let pin = ui
                            .add(
                                egui::TextEdit::singleline(&mut self.signin_pin)
                                    .password(true)
                                    .desired_width(200.0),
                            )
                            .labelled_by(l.id);
                        ui.end_row();
                        let enter =
                            pin.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        ui.label("");
                        let label = if first {
                            tr.t("signin-create")
                        } else {
                            tr.t("signin-button")
                        };
                        if ui.button(label).clicked() || enter {
                            let (id, pin, name) = (
                                self.signin_id.trim().to_owned(),
                                self.signin_pin.clone(),
                                self.signin_name.clone(),
                            );
                            if first && mt_store::pin_problem(&pin).is_some() {
                                self.signin_pin.clear();
                                self.signin_error = Some(tr.t("pin-policy"));
                            } else if first {
                                self.submit(|s| {
                                    s.run(move |db| {
                                        db.add_operator(
                                            None,
                                            &id,
                                            if name.is_empty() { &id } else { &name },
                                            Role::Supervisor,
                                            &pin,
                                        )?;
                                        db.sign_in(&id, &pin)
                                    })
                                    .map(Job::SignIn)
                                });
                            } else {
                                self.submit(|s| {
                                    s.run(move |db| db.sign_in(&id, &pin)).map(Job::SignIn)
                                });
                            }
                        }
                        ui.end_row();
                    });
                });
            });
            if let Some(e) = &self.signin_error {
                ui.colored_label(Color32::from_rgb(240, 90, 90), e);
            }
        });
    }

    /// Banner, toast and the bookmark prompt: drawn over the wall.
    pub fn overlay_ui(&mut self, ctx: &egui::Context, tr: &Tr) {
        if let Some(b) = self.banner.clone() {
            egui::Area::new(egui::Id::unique("log-banner"))
                .anchor(egui::Align2::CENTER_TOP, [0.0, 40.0])
                .show(ctx, |ui| {
                    egui::Frame::new()
                        .fill(Color32::from_rgb(150, 20, 20))
                        .inner_margin(8.0)
                        .show(ui, |ui| {
                            ui.horizontal(|ui| {
                                ui.colored_label(Color32::WHITE, b);
                                if !self.unsaved.is_empty() && ui.button(tr.t("retry")).clicked() {
                                    self.banner = None;
                                    for u in std::mem::take(&mut self.unsaved) {
                                        self.save(u);
                                    }
                                }
                                if ui.button(tr.t("close")).clicked() && self.unsaved.is_empty() {
                                    self.banner = None;
                                }
                            });
                        });
                });
        }
        if let Some((msg, at)) = &self.toast {
            if at.elapsed() < Duration::from_secs(4) {
                egui::Area::new(egui::Id::unique("log-toast"))
                    .anchor(egui::Align2::RIGHT_BOTTOM, [-16.0, -16.0])
                    .show(ctx, |ui| {
                        egui::Frame::new()
                            .fill(Color32::from_rgb(30, 110, 60))
                            .inner_margin(8.0)
                            .show(ui, |ui| ui.colored_label(Color32::WHITE, msg));
                    });
                ctx.request_repaint_after(Duration::from_millis(250));
            } else {
                self.toast = None;
            }
        }
        let mut save = false;
        let mut cancel = false;
        if let Some(d) = &mut self.bookmark_prompt {
            let title = tr.t_args(
                "bookmark-prompt",
                &[
                    ("camera", d.camera_name.clone().into()),
                    ("time", fmt_time(d.frame_time_ms).into()),
                ],
            );
            egui::Window::new(tr.t("tab-bookmarks"))
                .id(egui::Id::unique("bookmark-prompt"))
                .collapsible(false)
                .resizable(false)
                .anchor(egui::Align2::CENTER_BOTTOM, [0.0, -40.0])
                .show(ctx, |ui| {
                    ui.strong(&title);
                    let l = ui.label(tr.t("bookmark-note"));
                    let r = ui
                        .add(egui::TextEdit::singleline(&mut d.note).desired_width(420.0))
                        .labelled_by(l.id);
                    if self.focus_note {
                        r.request_focus();
                        self.focus_note = false;
                    }
                    ui.horizontal(|ui| {
                        ui.label(tr.t("bookmark-window"));
                        ui.add(
                            egui::DragValue::new(&mut d.pre_s)
                                .range(0..=600)
                                .prefix("−"),
                        );
                        ui.add(
                            egui::DragValue::new(&mut d.post_s)
                                .range(0..=600)
                                .prefix("+"),
                        );
                        if ui.button(tr.t("save")).clicked() {
                            save = true;
                        }
                    });
                    if ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        save = true;
                    }
                    if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                        d.note.clear();
                        save = true;
                    }
                });
        }
        if cancel {
            self.bookmark_prompt = None;
        }
        if save {
            if let Some(d) = self.bookmark_prompt.take() {
                self.save(Unsaved::Bookmark(d));
            }
        }
        cancel = false;
        let mut create = false;
        let types = self.types.clone();
        if let Some(f) = &mut self.incident_form {
            egui::Window::new(tr.t("new-incident"))
                .id(egui::Id::unique("incident-form"))
                .collapsible(false)
                .show(ctx, |ui| {
                    egui::Grid::new("incident-form-grid")
                        .num_columns(2)
                        .show(ui, |ui| {
                            ui.label(tr.t("incident-title"));
                            ui.add(egui::TextEdit::singleline(&mut f.title).desired_width(360.0));
                            ui.end_row();
                            ui.label(tr.t("incident-type"));
                            type_combo_ui(ui, "incident-type", &types, &mut f.type_code, tr.lang());
                            ui.end_row();
                            if let Some(t) = time_field_ui(ui, tr, &mut self.form_time) {
                                f.occurred_ms = t;
                            }
                            ui.end_row();
                            ui.label(tr.t("incident-ward"));
                            ui.add(egui::TextEdit::singleline(&mut f.ward));
                            ui.end_row();
                            ui.label(tr.t("incident-cameras"));
                            ui.label(f.camera_ids.join(", "));
                            ui.end_row();
                            ui.label(tr.t("incident-bookmarks"));
                            ui.label(
                                f.bookmark_ids
                                    .iter()
                                    .map(|b| format!("#{b}"))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            );
                            ui.end_row();
                        });
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(
                                !f.title.trim().is_empty()
                                    && parse_input_time(&self.form_time).is_some(),
                                egui::Button::new(tr.t("save")),
                            )
                            .clicked()
                        {
                            create = true;
                        }
                        if ui.button(tr.t("cancel")).clicked() {
                            cancel = true;
                        }
                    });
                });
        }
        if cancel {
            self.incident_form = None;
        }
        if create {
            if let Some(f) = self.incident_form.take() {
                self.save(Unsaved::Incident(f));
            }
        }
    }

    /// The log panel: bookmarks, incidents, statistics.
    pub fn panel_ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        cameras: &[CameraInfo],
        out: &mut Vec<LogCommand>,
    ) {
        ui.horizontal(|ui| {
            ui.heading(tr.t("log-title"));
            if let Some(op) = self.operator.clone() {
                let role = crate::officers::role_name(tr, op.role);
                ui.label(tr.t_args(
                    "signed-in-as",
                    &[("name", op.name.clone().into()), ("role", role.into())],
                ));
                if ui.small_button(tr.t("shift-change")).clicked() {
                    self.session.shift_open = true;
                    self.session.error = None;
                }
                if ui.small_button(tr.t("lock-now")).clicked() {
                    let id = op.id.clone();
                    self.submit(|s| {
                        s.run(move |db| db.audit(&id, "screen_lock", "by hand"))
                            .map(Job::Done)
                    });
                    self.session.lock_now();
                }
                if ui.small_button(tr.t("sign-out")).clicked() {
                    let id = op.id.clone();
                    self.submit(|s| s.run(move |db| db.sign_out(&id)).map(Job::Done));
                    self.operator = None;
                    self.forget_reads();
                }
            }
        });
        if !self.may(Right::Bookmark) {
            // A viewer watches live pictures only.
            ui.label(tr.t("viewer-only-live"));
            return;
        }
        ui.horizontal(|ui| {
            for (t, key) in [
                (Tab::Bookmarks, "tab-bookmarks"),
                (Tab::Incidents, "tab-incidents"),
                (Tab::Stats, "tab-stats"),
                (Tab::Officers, "tab-officers"),
            ] {
                if t == Tab::Officers && !self.may(Right::ManageOfficers) {
                    continue;
                }
                if ui.selectable_label(self.tab == t, tr.t(key)).clicked() {
                    self.tab = t;
                }
            }
        });
        ui.separator();
        let name_of = |id: &str| {
            cameras
                .iter()
                .find(|c| c.0 == id)
                .map(|c| c.1.clone())
                .unwrap_or_else(|| id.to_owned())
        };
        match self.tab {
            Tab::Bookmarks => {
                let n = self.selected_bookmarks.len();
                let label = if n == 0 {
                    tr.t("new-incident")
                } else {
                    tr.t_args("new-incident-from", &[("count", n.into())])
                };
                if self.may(Right::Incident) && ui.button(label).clicked() {
                    let chosen: Vec<&Bookmark> = self
                        .bookmarks
                        .iter()
                        .filter(|b| self.selected_bookmarks.contains(&b.id))
                        .collect();
                    let mut cams: Vec<String> =
                        chosen.iter().map(|b| b.camera_id.clone()).collect();
                    cams.dedup();
                    let first_cam = cams
                        .first()
                        .and_then(|c| cameras.iter().find(|x| &x.0 == c));
                    let ward = first_cam.map(|x| x.2.clone()).unwrap_or_default();
                    let title = chosen
                        .iter()
                        .map(|b| b.note.as_str())
                        .find(|n| !n.is_empty())
                        .unwrap_or("")
                        .to_owned();
                    let occurred_ms = chosen
                        .iter()
                        .map(|b| b.frame_time_ms)
                        .min()
                        .unwrap_or_else(mt_store::now_ms);
                    self.form_time = fmt_input_time(occurred_ms);
                    self.incident_form = Some(IncidentDraft {
                        title,
                        type_code: "other".into(),
                        occurred_ms: chosen
                            .iter()
                            .map(|b| b.frame_time_ms)
                            .min()
                            .unwrap_or_else(mt_store::now_ms),
                        ward,
                        // Where the (first) camera stands, until the map lets the officer pick a place.
                        lat_deg: first_cam.map(|c| c.3),
                        lon_deg: first_cam.map(|c| c.4),
                        camera_ids: cams,
                        bookmark_ids: chosen.iter().map(|b| b.id).collect(),
                    });
                }
                if self.bookmarks.is_empty() {
                    ui.weak(tr.t("bookmark-none"));
                }
                egui::ScrollArea::vertical()
                    .id_salt("bookmarks")
                    .show(ui, |ui| {
                        for b in &self.bookmarks {
                            let mut on = self.selected_bookmarks.contains(&b.id);
                            ui.horizontal(|ui| {
                                if ui.checkbox(&mut on, format!("#{}", b.id)).changed() {
                                    if on {
                                        self.selected_bookmarks.insert(b.id);
                                    } else {
                                        self.selected_bookmarks.remove(&b.id);
                                    }
                                }
                                ui.vertical(|ui| {
                                    ui.label(RichText::new(name_of(&b.camera_id)).strong());
                                    ui.small(format!(
                                        "{} · {}",
                                        fmt_time(b.frame_time_ms),
                                        b.operator_id
                                    ));
                                    if !b.note.is_empty() {
                                        ui.label(&b.note);
                                    }
                                });
                            });
                            ui.separator();
                        }
                    });
            }
            Tab::Incidents => self.incidents_ui(ui, tr, cameras),
            Tab::Stats => self.stats_ui(ui, tr),
            Tab::Officers => {
                if let Some(me) = self
                    .operator
                    .clone()
                    .filter(|o| o.may(Right::ManageOfficers))
                {
                    self.officers.ui(ui, tr, &self.store, &me);
                }
            }
        }
        self.detail_ui(ui.ctx(), tr, &name_of, out);
    }

    fn incidents_ui(&mut self, ui: &mut egui::Ui, tr: &Tr, cameras: &[CameraInfo]) {
        let mut changed = false;
        ui.horizontal(|ui| {
            let l = ui.label(tr.t("search-incident-label"));
            changed |= ui
                .add(
                    egui::TextEdit::singleline(&mut self.query.text)
                        .hint_text(tr.t("search-incidents"))
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(l.id)
                .changed();
        });
        ui.horizontal(|ui| {
            let types = self.types.clone();
            let cur = self
                .query
                .type_code
                .as_deref()
                .map(|c| self.type_name(c, tr.lang()))
                .unwrap_or_else(|| tr.t("any"));
            egui::ComboBox::from_id_salt("q-type")
                .selected_text(cur)
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut self.query.type_code, None, tr.t("any"))
                        .changed();
                    for t in &types {
                        let name = if tr.lang() == Lang::Vi {
                            &t.name_vi
                        } else {
                            &t.name_en
                        };
                        changed |= ui
                            .selectable_value(&mut self.query.type_code, Some(t.code.clone()), name)
                            .changed();
                    }
                });
            let cur = self
                .query
                .status
                .map(|s| tr.t(&format!("status-{}", s.as_str())))
                .unwrap_or_else(|| tr.t("any"));
            egui::ComboBox::from_id_salt("q-status")
                .selected_text(cur)
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut self.query.status, None, tr.t("any"))
                        .changed();
                    for s in STATUSES {
                        changed |= ui
                            .selectable_value(
                                &mut self.query.status,
                                Some(s),
                                tr.t(&format!("status-{}", s.as_str())),
                            )
                            .changed();
                    }
                });
            let mut wards: Vec<&String> = cameras
                .iter()
                .map(|c| &c.2)
                .filter(|w| !w.is_empty())
                .collect();
            wards.sort();
            wards.dedup();
            let cur = self.query.ward.clone().unwrap_or_else(|| tr.t("any"));
            egui::ComboBox::from_id_salt("q-ward")
                .selected_text(format!("{}: {cur}", tr.t("incident-ward")))
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut self.query.ward, None, tr.t("any"))
                        .changed();
                    for w in wards {
                        changed |= ui
                            .selectable_value(&mut self.query.ward, Some(w.clone()), w.as_str())
                            .changed();
                    }
                });
        });
        ui.horizontal(|ui| {
            let cur = self
                .query
                .camera_id
                .as_deref()
                .and_then(|c| cameras.iter().find(|x| x.0 == c))
                .map(|x| x.1.clone())
                .unwrap_or_else(|| tr.t("any"));
            egui::ComboBox::from_id_salt("q-camera")
                .selected_text(format!("{}: {cur}", tr.t("col-camera")))
                .width(180.0)
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut self.query.camera_id, None, tr.t("any"))
                        .changed();
                    for c in cameras {
                        changed |= ui
                            .selectable_value(
                                &mut self.query.camera_id,
                                Some(c.0.clone()),
                                c.1.as_str(),
                            )
                            .changed();
                    }
                });
            let l = ui.label(tr.t("col-by"));
            let mut op = self.query.operator_id.clone().unwrap_or_default();
            if ui
                .add(egui::TextEdit::singleline(&mut op).desired_width(70.0))
                .labelled_by(l.id)
                .changed()
            {
                self.query.operator_id = Some(op.trim().to_owned()).filter(|o| !o.is_empty());
                changed = true;
            }
            for (days, key) in [
                (None, "period-all"),
                (Some(30i64), "period-30d"),
                (Some(365), "period-12m"),
            ] {
                let from = days.map(|d| mt_store::now_ms() - d * 86_400_000);
                let on = match (self.query.from_ms, from) {
                    (None, None) => true,
                    (Some(a), Some(b)) => (a - b).abs() < 86_400_000,
                    _ => false,
                };
                if ui.selectable_label(on, tr.t(key)).clicked() {
                    self.query.from_ms = from;
                    changed = true;
                }
            }
            if self.may(Right::Export) && ui.button(tr.t("export-csv")).clicked() {
                let name = format!(
                    "vu-viec-{}.csv",
                    mt_core::time::file_stamp(mt_core::time::now_ms())
                );
                let path = self.export_dir.join(name);
                let (q, op, p2) = (self.query.clone(), self.operator_id(), path.clone());
                let dir = self.export_dir.clone();
                self.submit(|s| {
                    s.run(move |db| {
                        std::fs::create_dir_all(&dir).map_err(|e| {
                            mt_store::StoreError::Invalid(format!("{}: {e}", dir.display()))
                        })?;
                        db.export_csv(&op, &q, &p2)
                    })
                    .map(|p| Job::Exported(p, path))
                });
            }
        });
        if changed {
            self.refresh();
        }
        let mut more = false;
        ui.horizontal(|ui| {
            ui.small(tr.t_args("results", &[("count", self.incidents.len().into())]));
            // A full page: there may be more, older ones.
            let page = if self.query.limit == 0 {
                mt_store::PAGE
            } else {
                self.query.limit
            };
            if self.incidents.len() >= page && ui.small_button(tr.t("more-results")).clicked() {
                self.query.limit = page + mt_store::PAGE;
                more = true;
            }
        });
        if more {
            self.refresh();
        }
        let mut open = None;
        egui::ScrollArea::both()
            .id_salt("incidents")
            .show(ui, |ui| {
                egui::Grid::new("incident-table")
                    .striped(true)
                    .num_columns(6)
                    .show(ui, |ui| {
                        for (i, key) in [
                            "col-id",
                            "col-title",
                            "col-type",
                            "col-status",
                            "col-time",
                            "col-by",
                        ]
                        .iter()
                        .enumerate()
                        {
                            let arrow = if self.sort.0 == i {
                                if self.sort.1 {
                                    " v"
                                } else {
                                    " ^"
                                }
                            } else {
                                ""
                            };
                            if ui.button(format!("{}{arrow}", tr.t(key))).clicked() {
                                self.sort = (i, if self.sort.0 == i { !self.sort.1 } else { true });
                                self.sort_incidents();
                            }
                        }
                        ui.end_row();
                        for inc in &self.incidents {
                            ui.label(inc.id.to_string());
                            if ui.link(&inc.title).clicked() {
                                open = Some(inc.id);
                            }
                            ui.label(self.type_name(&inc.type_code, tr.lang()));
                            ui.label(tr.t(&format!("status-{}", inc.status.as_str())));
                            ui.label(fmt_time(inc.occurred_ms));
                            ui.label(&inc.created_by);
                            ui.end_row();
                        }
                    });
            });
        if let Some(id) = open {
            self.load_detail(id);
        }
    }

    fn detail_ui(
        &mut self,
        ctx: &egui::Context,
        tr: &Tr,
        name_of: &dyn Fn(&str) -> String,
        out: &mut Vec<LogCommand>,
    ) {
        let Some(d) = self.detail.clone() else { return };
        // The stills decoded on the "stills" thread become textures once.
        if self.snapshot_pngs.is_some() {
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
        }
        let got = match self.snapshot_pngs.as_ref().map(|rx| rx.try_recv()) {
            Some(Ok(v)) => Some(v),
            // The thread ended without an answer: nothing more will come.
            Some(Err(std::sync::mpsc::TryRecvError::Disconnected)) => Some(Vec::new()),
            _ => None,
        };
        if let Some(v) = got {
            self.snapshot_pngs = None;
            for (id, ci) in v {
                self.snapshots.push((
                    id,
                    ctx.load_texture(format!("bookmark-{id}"), ci, Default::default()),
                ));
            }
        }
        let stills = self.snapshots.clone();
        let mut close = false;
        let mut add_note = None;
        let mut new_status = None;
        let mut edit = self.edit.take().filter(|e| e.0 == d.incident.id);
        let mut save_edit = None;
        let types = self.types.clone();
        egui::Window::new(format!("#{} {}", d.incident.id, d.incident.title))
            .id(egui::Id::unique("incident-detail"))
            .show(ctx, |ui| {
                // Title, type and ward can be corrected; every change is audited.
                match &mut edit {
                    None => {
                        if ui.button(tr.t("incident-edit")).clicked() {
                            edit = Some((
                                d.incident.id,
                                d.incident.title.clone(),
                                d.incident.type_code.clone(),
                                d.incident.ward.clone(),
                                fmt_input_time(d.incident.occurred_ms),
                            ));
                        }
                    }
                    Some((_, title, type_code, ward, time_text)) => {
                        let mut cancel = false;
                        let mut when = None;
                        egui::Grid::new("edit-grid").num_columns(2).show(ui, |ui| {
                            let l = ui.label(tr.t("incident-title"));
                            ui.add(egui::TextEdit::singleline(title).desired_width(320.0))
                                .labelled_by(l.id);
                            ui.end_row();
                            ui.label(tr.t("incident-type"));
                            type_combo_ui(ui, "edit-type", &types, type_code, tr.lang());
                            ui.end_row();
                            let l = ui.label(tr.t("incident-ward"));
                            ui.add(egui::TextEdit::singleline(ward)).labelled_by(l.id);
                            ui.end_row();
                            when = time_field_ui(ui, tr, time_text);
                            ui.end_row();
                        });
                        ui.horizontal(|ui| {
                            if ui
                                .add_enabled(
                                    !title.trim().is_empty() && when.is_some(),
                                    egui::Button::new(tr.t("save")),
                                )
                                .clicked()
                            {
                                if let Some(t) = when {
                                    save_edit =
                                        Some((title.clone(), type_code.clone(), ward.clone(), t));
                                }
                            }
                            if ui.button(tr.t("cancel")).clicked() {
                                cancel = true;
                            }
                        });
                        ui.separator();
                        if cancel {
                            edit = None;
                        }
                    }
                }
                egui::Grid::new("detail-grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        ui.label(tr.t("incident-type"));
                        ui.label(self.type_name(&d.incident.type_code, tr.lang()));
                        ui.end_row();
                        ui.label(tr.t("incident-status"));
                        let mut st = d.incident.status;
                        egui::ComboBox::from_id_salt("detail-status")
                            .selected_text(tr.t(&format!("status-{}", st.as_str())))
                            .show_ui(ui, |ui| {
                                for s in STATUSES {
                                    if ui
                                        .selectable_value(
                                            &mut st,
                                            s,
                                            tr.t(&format!("status-{}", s.as_str())),
                                        )
                                        .changed()
                                    {
                                        new_status = Some(s);
                                    }
                                }
                            });
                        ui.end_row();
                        ui.label(tr.t("incident-time"));
                        ui.label(fmt_time(d.incident.occurred_ms));
                        ui.end_row();
                        ui.label(tr.t("incident-ward"));
                        ui.label(&d.incident.ward);
                        ui.end_row();
                        ui.label(tr.t("incident-cameras"));
                        ui.horizontal_wrapped(|ui| {
                            for c in &d.cameras {
                                if ui
                                    .button(format!(
                                        "{} · {}",
                                        name_of(c),
                                        tr.t("incident-open-camera")
                                    ))
                                    .clicked()
                                {
                                    out.push(LogCommand::ShowCamera(c.clone()));
                                }
                            }
                        });
                        ui.end_row();
                        ui.label(tr.t("incident-bookmarks"));
                        ui.label(
                            d.bookmark_ids
                                .iter()
                                .map(|b| format!("#{b}"))
                                .collect::<Vec<_>>()
                                .join(", "),
                        );
                        ui.end_row();
                    });
                ui.separator();
                if !stills.is_empty() {
                    ui.horizontal_wrapped(|ui| {
                        for (id, tex) in &stills {
                            ui.vertical(|ui| {
                                let h = 90.0;
                                let w = h * tex.aspect_ratio();
                                ui.image((tex.id(), egui::vec2(w, h)));
                                ui.small(format!("#{id}"));
                            });
                        }
                    });
                    ui.separator();
                }
                ui.strong(tr.t("incident-notes"));
                for n in &d.notes {
                    ui.small(format!("{} · {}", fmt_time(n.created_ms), n.author_id));
                    ui.label(&n.body);
                }
                ui.horizontal(|ui| {
                    ui.add(egui::TextEdit::singleline(&mut self.new_note).desired_width(320.0));
                    if ui.button(tr.t("incident-add-note")).clicked()
                        && !self.new_note.trim().is_empty()
                    {
                        add_note = Some(std::mem::take(&mut self.new_note));
                    }
                });
                let may_export = self.may(Right::Export);
                if let Some(ev) = self.evidence.as_mut().filter(|_| may_export) {
                    ui.separator();
                    let op = self
                        .operator
                        .as_ref()
                        .map(|o| o.id.clone())
                        .unwrap_or_default();
                    ev.ui(ui, tr, &self.store, d.incident.id, &op);
                }
                if ui.button(tr.t("close")).clicked() {
                    close = true;
                }
            });
        let id = d.incident.id;
        if let Some((title, type_code, ward, occurred)) = save_edit {
            let op = self.operator_id();
            self.submit(|st| {
                st.run(move |db| db.update_incident(&op, id, &title, &type_code, &ward, occurred))
                    .map(Job::Done)
            });
            self.load_detail(id);
            edit = None;
        }
        self.edit = edit;
        if let Some(s) = new_status {
            let op = self.operator_id();
            self.submit(|st| st.run(move |db| db.set_status(&op, id, s)).map(Job::Done));
            self.load_detail(id);
        }
        if let Some(body) = add_note {
            self.save(Unsaved::Note(id, body));
        }
        if close {
            self.detail = None;
        }
    }

    /// The incident-type catalogue, editable by a supervisor (every change audited).
    fn catalogue_ui(&mut self, ui: &mut egui::Ui, tr: &Tr) {
        egui::CollapsingHeader::new(tr.t("catalogue"))
            .default_open(false)
            .show(ui, |ui| {
                let mut changed: Option<IncidentType> = None;
                for t in &self.types {
                    let mut active = t.active;
                    if ui
                        .checkbox(&mut active, format!("{} / {}", t.name_vi, t.name_en))
                        .changed()
                    {
                        changed = Some(IncidentType {
                            active,
                            ..t.clone()
                        });
                    }
                }
                ui.horizontal(|ui| {
                    let l = ui.label(tr.t("catalogue-new"));
                    ui.add(egui::TextEdit::singleline(&mut self.new_type).desired_width(160.0))
                        .labelled_by(l.id);
                    if ui.button(tr.t("save")).clicked() && !self.new_type.trim().is_empty() {
                        let name = self.new_type.trim().to_owned();
                        let code = mt_core::fold(&name)
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join("_");
                        changed = Some(IncidentType {
                            code,
                            name_vi: name.clone(),
                            name_en: name,
                            active: true,
                        });
                        self.new_type.clear();
                    }
                });
                if let (Some(t), Some(op)) = (changed, self.operator.clone()) {
                    self.submit(|s| {
                        s.run(move |db| db.set_incident_type(&op, &t))
                            .map(Job::Done)
                    });
                    self.submit(|s| s.run(|db| db.incident_types()).map(Job::Types));
                }
            });
    }

    fn stats_ui(&mut self, ui: &mut egui::Ui, tr: &Tr) {
        ui.horizontal(|ui| {
            ui.label(tr.t("stats-period"));
            let mut changed = false;
            for (days, key) in [
                (None, "period-all"),
                (Some(30), "period-30d"),
                (Some(365), "period-12m"),
            ] {
                if ui
                    .selectable_label(self.period_days == days, tr.t(key))
                    .clicked()
                {
                    self.period_days = days;
                    changed = true;
                }
            }
            if changed {
                self.refresh();
            }
        });
        if self.may(Right::Catalogue) {
            self.catalogue_ui(ui, tr);
        }
        let Some(st) = self.stats.clone() else { return };
        egui::ScrollArea::vertical()
            .id_salt("stats")
            .show(ui, |ui| {
                let named: Vec<(String, i64)> = st
                    .by_type
                    .iter()
                    .map(|(c, n)| (self.type_name(c, tr.lang()), *n))
                    .collect();
                for (title, rows, id) in [
                    (tr.t("stats-by-type"), named, "by-type"),
                    (tr.t("stats-by-ward"), st.by_ward.clone(), "by-ward"),
                    (tr.t("stats-by-month"), st.by_month.clone(), "by-month"),
                ] {
                    ui.strong(&title);
                    let bars: Vec<egui_plot::Bar> = rows
                        .iter()
                        .enumerate()
                        .map(|(i, (name, n))| {
                            egui_plot::Bar::new(i as f64, *n as f64)
                                .name(name)
                                .width(0.7)
                        })
                        .collect();
                    egui_plot::Plot::new(id)
                        .height(110.0)
                        .allow_zoom(false)
                        .allow_drag(false)
                        .allow_scroll(false)
                        .include_y(0.0)
                        .include_x(-0.6)
                        .include_x(rows.len() as f64 - 0.4)
                        .show_axes([false, true])
                        .show(ui, |p| {
                            p.bar_chart(egui_plot::BarChart::new(title.clone(), bars))
                        });
                    egui::Grid::new(format!("{id}-legend"))
                        .num_columns(2)
                        .show(ui, |ui| {
                            for (name, n) in &rows {
                                ui.label(name);
                                ui.label(n.to_string());
                                ui.end_row();
                            }
                        });
                    ui.add_space(6.0);
                }
            });
    }
}

/// Decodes bookmark stills (PNG) on a thread named "stills"; the receiver gets them all at
/// once. None when the thread cannot be started (the stills are then not shown; logged).
fn decode_stills(
    pngs: Vec<(i64, Vec<u8>)>,
) -> Option<std::sync::mpsc::Receiver<Vec<(i64, egui::ColorImage)>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let started = std::thread::Builder::new()
        .name("stills".into())
        .spawn(move || {
            let mut out = Vec::with_capacity(pngs.len());
            for (id, png) in pngs {
                match image::load_from_memory(&png) {
                    Ok(img) => {
                        let rgba = img.to_rgba8();
                        let size = [rgba.width() as usize, rgba.height() as usize];
                        out.push((
                            id,
                            egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw()),
                        ));
                    }
                    Err(e) => {
                        tracing::warn!("bookmark {id}: snapshot is not a readable PNG: {e}")
                    }
                }
            }
            let _ = tx.send(out);
        });
    match started {
        Ok(_) => Some(rx),
        Err(e) => {
            tracing::warn!("stills thread not started: {e}");
            None
        }
    }
}
