//! The incident and bookmark log in the UI: sign-in, B to bookmark, incidents, search,
//! statistics, CSV export. Every database call goes to the store thread and comes back as a
//! [`Pending`] polled once per frame: the wall never waits for SQLite. A write that fails keeps
//! its draft in memory and shows a banner with "Retry"; nothing typed is lost.
//!
//! Here: the state (`LogUi`) and the side panel with its tabs. The parts: [`jobs`] (what goes
//! to the store thread and what comes back), [`signin`], [`bookmarks`] (and what is drawn
//! over the wall), [`incidents`] (list, new, catalogue), [`detail`] (one incident),
//! [`statistics`], [`stills`] (YUV→PNG, the "stills" thread), [`time`] (times typed and shown).

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

mod bookmarks;
mod detail;
mod incidents;
mod jobs;
mod signin;
mod statistics;
mod stills;
mod time;

use incidents::*;
use stills::*;
pub use stills::{rgb_image, snapshot_png};
pub use time::format_time;
use time::*;
pub(crate) use time::{fmt_input_time, parse_input_time};

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
    /// When the unsaved entries are tried again by themselves: set when the log was locked
    /// by another program (a lock passes; a full disk or a damaged file needs the officer).
    retry_at: Option<Instant>,
    export_dir: PathBuf,
    /// The bookmark note field wants focus on its first frame.
    focus_note: bool,
    /// Evidence export, when recordings are attached.
    pub evidence: Option<crate::evidence::EvidenceUi>,
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
            retry_at: None,
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

    /// Entries the log refused (locked, full, damaged), kept for the banner's retry.
    pub fn unsaved_count(&self) -> usize {
        self.unsaved.len()
    }

    pub fn store(&self) -> &StoreThread {
        &self.store
    }

    /// Whether store work is still under way (tests wait for it).
    pub fn busy(&self) -> bool {
        !self.jobs.is_empty() || self.session.busy() || self.officers.busy()
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

    /// The incident type's name in `lang` (its code if unknown).
    pub fn type_label(&self, code: &str, lang: Lang) -> String {
        self.type_name(code, lang)
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
}
