//! The supervisors' camera window: the cameras of the camera file, and the form that adds or
//! edits one — every field of the file, brand templates that build the stream URLs (shown
//! with the password masked, and editable), "Kiểm tra kết nối" (both streams probed on the
//! capture runtime: codec, size, fps, audio, a still, or the reason), save and remove.
//!
//! Drawing only: a probe runs as a task on the capture runtime and answers through a
//! channel; a save or removal is one store-thread job (right, file, audit —
//! `mt_store::cameras`). When it is done the window hands the change to the app, which
//! starts or stops the camera's streams, its recording and its place on the map
//! (`MatThanApp::camera_changed`).

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use egui::Color32;
use mt_capture::probe::{probe, ProbeError, ProbeLimits, ProbeReport};
use mt_capture::{CameraHandle, Capture};
use mt_core::camedit::{check_url, shown_url, CameraDraft, FieldProblem, Template};
use mt_core::{CameraId, Secret, Transport};
use mt_onvif::{Device, Found, OnvifService, Pending as OnvifPending, Wake};
use mt_store::cameras::{CameraChange, CameraChanged};
use mt_store::survey::{Outcome as Row, SurveyReport};
use mt_store::thread::{Pending, StoreThread};

use crate::i18n::Tr;

/// What the app needs to change cameras at run time: the capture runtime that receives them
/// and the camera file they live in. The window is open when `window` is set.
pub struct CameraAdmin {
    pub capture: Arc<Capture>,
    pub file: PathBuf,
    /// The camera file as the running cameras came from it (None: not known, e.g. no file
    /// yet). A save refuses a file that differs: it was edited by hand since.
    pub known_text: Option<String>,
    pub window: Option<CamerasWindow>,
}

impl CameraAdmin {
    pub fn new(capture: Arc<Capture>, file: PathBuf) -> Self {
        CameraAdmin {
            capture,
            file,
            known_text: None,
            window: None,
        }
    }
}

#[derive(Default)]
pub struct CamerasWindow {
    /// The survey sheet's path as typed, the import on its way, and the last report.
    survey_path: String,
    survey: Option<Pending<(SurveyReport, Vec<mt_core::CameraSite>)>>,
    survey_report: Option<(String, Result<SurveyReport, String>)>,
    form: Option<Form>,
    /// Id of the camera waiting for "remove" to be confirmed.
    confirm_remove: Option<String>,
    /// The outcome of the last save or removal: (ok, message).
    message: Option<(bool, String)>,
    pending: Option<(CameraChange, Pending<CameraChanged>)>,
}

/// The form of one camera being added or edited.
struct Form {
    /// Editing this camera (its id does not change); None: a new camera.
    editing: Option<String>,
    draft: CameraDraft,
    /// The password as typed (kept apart so the draft's `Secret` is made once, on use).
    password: String,
    template: Option<Template>,
    host: String,
    port: String,
    channel: String,
    relay_path: String,
    problems: Vec<FieldProblem>,
    test: Option<TestRun>,
    onvif: OnvifAsk,
}

/// The form's ONVIF questions: "what is this device" and "who answers on the network".
#[derive(Default)]
struct OnvifAsk {
    inspect: Option<OnvifPending<Device>>,
    /// What was asked (address, port, user): an answer for other values is not filled in.
    asked: (String, String, String),
    device: Option<Result<Device, mt_onvif::Error>>,
    discover: Option<OnvifPending<Vec<Found>>>,
    found: Option<Result<Vec<Found>, mt_onvif::Error>>,
}

impl OnvifAsk {
    fn busy(&self) -> bool {
        self.inspect.is_some() || self.discover.is_some()
    }

    /// Takes the answers; a device's stream URIs, address and PTZ go into the draft (only if
    /// the form still names what was asked: `now`).
    fn poll(&mut self, draft: &mut CameraDraft, now: (String, String, String)) {
        if let Some(r) = self.inspect.as_ref().and_then(|p| p.try_take()) {
            self.inspect = None;
            if now != self.asked {
                // The officer typed another address or user meanwhile.
                return;
            }
            if let Ok(d) = &r {
                let (main, sub) = d.stream_uris();
                // The form keeps credentials in their own fields: none in a URL.
                let bare = |u: String| match url::Url::parse(&u) {
                    Ok(mut p) => {
                        let _ = p.set_username("");
                        let _ = p.set_password(None);
                        p.to_string()
                    }
                    Err(_) => u,
                };
                if let Some(m) = main {
                    draft.main_url = bare(m);
                }
                draft.sub_url = sub.map(bare).unwrap_or_default();
                draft.onvif = d.url.to_string();
                draft.ptz = d.ptz;
            }
            self.device = Some(r);
        }
        if let Some(r) = self.discover.as_ref().and_then(|p| p.try_take()) {
            self.discover = None;
            self.found = Some(r);
        }
    }
}

/// One "Kiểm tra kết nối": the main and (if set) sub stream probed at once.
struct TestRun {
    rx: Receiver<(bool, Outcome)>,
    main: Option<Outcome>,
    sub: Option<Outcome>,
    expect_sub: bool,
    /// The URLs tested (a result shown for other URLs would mislead).
    urls: (String, String),
}

struct Outcome {
    result: Result<ProbeReport, ProbeError>,
    /// The still as RGBA, made on the probe's task; uploaded once when first drawn.
    image: Option<egui::ColorImage>,
    texture: Option<egui::TextureHandle>,
}

impl Form {
    fn new() -> Self {
        Form {
            editing: None,
            draft: CameraDraft::new(),
            password: String::new(),
            template: Some(Template::Hikvision),
            host: String::new(),
            port: Template::Hikvision.default_port().to_string(),
            channel: "1".into(),
            relay_path: String::new(),
            problems: Vec::new(),
            test: None,
            onvif: OnvifAsk::default(),
        }
    }

    fn edit(h: &CameraHandle) -> Self {
        let draft = CameraDraft::from_config(&h.config);
        Form {
            editing: Some(h.config.id.0.clone()),
            password: draft.password.expose().to_owned(),
            draft,
            template: None,
            host: h.config.main_url.host_str().unwrap_or_default().to_owned(),
            port: h
                .config
                .main_url
                .port_or_known_default()
                .unwrap_or(554)
                .to_string(),
            channel: "1".into(),
            relay_path: String::new(),
            problems: Vec::new(),
            test: None,
            onvif: OnvifAsk::default(),
        }
    }

    fn draft(&self) -> CameraDraft {
        CameraDraft {
            password: Secret::new(self.password.clone()),
            ..self.draft.clone()
        }
    }

    /// Fills the URL fields from the template (when one is chosen and it builds URLs).
    /// Fills the URL fields from the template, when the address, port and channel are good;
    /// else marks the bad ones (the URLs stay as they were).
    fn apply_template(&mut self) {
        self.problems.retain(|p| !p.field.starts_with("tpl_"));
        let Some(t) = self.template else { return };
        let mut bad = |field: &'static str, key: &'static str, detail: String| {
            self.problems.push(FieldProblem { field, key, detail })
        };
        let host = self.host.trim().to_owned();
        let host_ok = !host.is_empty()
            && !host.contains(char::is_whitespace)
            && !host.contains(['/', '@', '?', '#'])
            && (!host.contains(':') || host.parse::<std::net::Ipv6Addr>().is_ok());
        if !host_ok && !host.is_empty() {
            bad("tpl_host", "cam-err-host-field", host.clone());
        }
        let port = self.port.trim().parse::<u16>().ok().filter(|p| *p > 0);
        if port.is_none() {
            bad("tpl_port", "cam-err-port", self.port.trim().to_owned());
        }
        let ch = self
            .channel
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|c| (1..=999).contains(c));
        if ch.is_none() && t != Template::Relay && t != Template::Onvif {
            bad(
                "tpl_channel",
                "cam-err-number",
                self.channel.trim().to_owned(),
            );
        }
        if let (true, Some(port)) = (host_ok, port) {
            if let Some((m, s)) = t.urls(&host, port, ch.unwrap_or(1), &self.relay_path) {
                self.draft.main_url = m;
                self.draft.sub_url = s;
            }
        }
    }

    fn problem(&self, field: &str) -> Option<&FieldProblem> {
        self.problems.iter().find(|p| p.field == field)
    }
}

/// The translated text of a field problem.
pub fn problem_text(tr: &Tr, p: &FieldProblem) -> String {
    tr.t_args(p.key, &[("detail", p.detail.clone().into())])
}

/// What the window finished, for the app to apply.
pub enum Done {
    Camera(Box<(CameraChange, CameraChanged)>),
    /// The registry after a survey import (for the map).
    Sites(Vec<mt_core::CameraSite>),
}

impl CamerasWindow {
    pub fn busy(&self) -> bool {
        self.pending.is_some()
            || self.survey.is_some()
            || self.form.as_ref().is_some_and(|f| {
                f.test
                    .as_ref()
                    .is_some_and(|t| t.main.is_none() || (t.expect_sub && t.sub.is_none()))
            })
    }

    /// Takes the answers of the store jobs (a save, a removal, a survey import): called every
    /// frame while the window exists, drawn or not, so a job that finishes after the window
    /// was closed or the officer signed out still takes effect.
    pub fn poll(&mut self, tr: &Tr) -> Vec<Done> {
        let mut done = Vec::new();
        if let Some(res) = self.survey.as_ref().and_then(|p| p.try_take()) {
            self.survey = None;
            let file = self.survey_path.trim().to_owned();
            match res {
                Ok((report, sites)) => {
                    self.survey_report = Some((file, Ok(report)));
                    done.push(Done::Sites(sites));
                }
                Err(e) => self.survey_report = Some((file, Err(e.to_string()))),
            }
        }
        if let Some(res) = self.pending.as_ref().and_then(|(_, p)| p.try_take()) {
            let (change, _) = self.pending.take().expect("pending is set");
            match res {
                Ok(changed) => {
                    let id = change.id().to_owned();
                    let key = match &change {
                        CameraChange::Add(_) => "cam-added",
                        CameraChange::Edit(_) => "cam-saved",
                        CameraChange::Remove(_) => "cam-removed",
                    };
                    self.message = Some(match &changed.audit_error {
                        None => (true, tr.t_args(key, &[("id", id.into())])),
                        Some(e) => (
                            false,
                            tr.t_args("cam-audit-failed", &[("error", e.clone().into())]),
                        ),
                    });
                    if !matches!(change, CameraChange::Remove(_)) {
                        self.form = None;
                    }
                    done.push(Done::Camera(Box::new((change, changed))));
                }
                Err(mt_store::StoreError::CameraFile(
                    mt_core::camedit::EditError::ChangedOnDisk { file },
                )) => {
                    self.message = Some((
                        false,
                        tr.t_args("cam-changed-on-disk", &[("file", file.into())]),
                    ))
                }
                Err(e) => {
                    self.message = Some((
                        false,
                        tr.t_args("cam-save-failed", &[("error", e.to_string().into())]),
                    ))
                }
            }
        }
        done
    }

    /// Draws the window; `false` once the officer closed it. What went through comes out of
    /// [`poll`](Self::poll).
    #[allow(clippy::too_many_arguments)]
    pub fn ui(
        &mut self,
        ctx: &egui::Context,
        tr: &Tr,
        admin_capture: &Arc<Capture>,
        onvif: Option<&OnvifService>,
        file: &std::path::Path,
        known: Option<&str>,
        cameras: &[CameraHandle],
        store: Option<&StoreThread>,
        operator: &str,
        map: Option<&Arc<crate::map::Streets>>,
    ) -> bool {
        let mut open = true;
        if self.busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
        }
        egui::Window::new(tr.t("cam-title"))
            .open(&mut open)
            .collapsible(false)
            .default_width(1180.0)
            // Below the top bar, whose button closes it again.
            .default_pos([12.0, 64.0])
            .default_height(800.0)
            .default_height(640.0)
            .show(ctx, |ui| {
                egui::ScrollArea::vertical()
                    .min_scrolled_height(620.0)
                    .show(ui, |ui| {
                        self.body(
                            ui,
                            tr,
                            admin_capture,
                            onvif,
                            file,
                            known,
                            cameras,
                            store,
                            operator,
                            map,
                        )
                    })
            });
        open
    }

    #[allow(clippy::too_many_arguments)]
    fn body(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        capture: &Arc<Capture>,
        onvif: Option<&OnvifService>,
        file: &std::path::Path,
        known: Option<&str>,
        cameras: &[CameraHandle],
        store: Option<&StoreThread>,
        operator: &str,
        map: Option<&Arc<crate::map::Streets>>,
    ) {
        let red = Color32::from_rgb(240, 90, 90);
        let green = Color32::from_rgb(90, 200, 120);
        ui.weak(tr.t_args("cam-file", &[("file", file.display().to_string().into())]));
        if let Some((ok, m)) = &self.message {
            ui.colored_label(if *ok { green } else { red }, m);
        }
        if store.is_none() {
            ui.colored_label(red, tr.t("cam-no-log"));
        }
        let busy = self.pending.is_some();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    !busy && self.form.is_none(),
                    egui::Button::new(tr.t("cam-add")),
                )
                .clicked()
            {
                self.form = Some(Form::new());
                self.confirm_remove = None;
            }
        });
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("cam-list-scroll")
            .max_height(if self.form.is_some() {
                110.0
            } else if self.survey_report.is_some() {
                200.0
            } else {
                420.0
            })
            .show(ui, |ui| {
                egui::Grid::new("cam-list")
                    .striped(true)
                    .num_columns(5)
                    .show(ui, |ui| {
                        ui.strong(tr.t("cam-f-id"));
                        ui.strong(tr.t("cam-f-name"));
                        ui.strong(tr.t("cam-f-main-url"));
                        ui.strong(tr.t("cam-state"));
                        ui.label("");
                        ui.end_row();
                        for c in cameras {
                            let id = &c.config.id.0;
                            ui.monospace(id);
                            ui.label(&c.config.name);
                            ui.monospace(c.config.display_url());
                            let st = c.health_stream().state();
                            ui.label(tr.t(match &st {
                                mt_core::StreamState::Live => "state-live",
                                mt_core::StreamState::Lost { .. } => "state-lost",
                                mt_core::StreamState::Connecting => "state-connecting",
                                _ => "state-idle",
                            }));
                            ui.horizontal(|ui| {
                                let free = !busy && self.form.is_none();
                                if ui
                                    .add_enabled(
                                        free,
                                        egui::Button::new(
                                            tr.t_args("cam-edit", &[("id", id.clone().into())]),
                                        ),
                                    )
                                    .clicked()
                                {
                                    self.form = Some(Form::edit(c));
                                    self.confirm_remove = None;
                                }
                                if self.confirm_remove.as_deref() == Some(id.as_str()) {
                                    if ui
                                        .add_enabled(
                                            !busy,
                                            egui::Button::new(tr.t_args(
                                                "cam-remove-confirm",
                                                &[("id", id.clone().into())],
                                            ))
                                            .fill(Color32::from_rgb(140, 40, 40)),
                                        )
                                        .clicked()
                                    {
                                        self.confirm_remove = None;
                                        self.submit(
                                            tr,
                                            store,
                                            file,
                                            known,
                                            operator,
                                            CameraChange::Remove(id.clone()),
                                        );
                                    }
                                    if ui.button(tr.t("cancel")).clicked() {
                                        self.confirm_remove = None;
                                    }
                                } else if ui
                                    .add_enabled(
                                        free,
                                        egui::Button::new(
                                            tr.t_args("cam-remove", &[("id", id.clone().into())]),
                                        ),
                                    )
                                    .clicked()
                                {
                                    self.confirm_remove = Some(id.clone());
                                }
                            });
                            ui.end_row();
                        }
                    })
            });
        if self.confirm_remove.is_some() {
            ui.weak(tr.t("cam-remove-explain"));
        }
        if self.form.is_none() {
            self.survey_ui(ui, tr, store, operator, map);
        }
        let others: Vec<CameraId> = cameras
            .iter()
            .map(|c| c.config.id.clone())
            .filter(|id| {
                self.form.as_ref().and_then(|f| f.editing.as_deref()) != Some(id.0.as_str())
            })
            .collect();
        let mut save = None;
        let mut close = false;
        if let Some(form) = self.form.as_mut() {
            ui.separator();
            // The form's buttons above it, where they are seen without scrolling.
            ui.horizontal(|ui| {
                ui.heading(match &form.editing {
                    Some(id) => tr.t_args("cam-form-edit", &[("id", id.clone().into())]),
                    None => tr.t("cam-form-add"),
                });
                ui.add_space(24.0);
                if ui
                    .add_enabled(!busy, egui::Button::new(tr.t("cam-save")))
                    .clicked()
                {
                    let d = form.draft();
                    let tpl: Vec<FieldProblem> = form
                        .problems
                        .iter()
                        .filter(|p| p.field.starts_with("tpl_"))
                        .cloned()
                        .collect();
                    match d.validate(&others) {
                        Err(mut p) => {
                            p.extend(tpl);
                            form.problems = p;
                        }
                        Ok(_) if !tpl.is_empty() => form.problems = tpl,
                        Ok(cfg) => {
                            form.problems.clear();
                            save = Some(match &form.editing {
                                Some(_) => CameraChange::Edit(cfg),
                                None => CameraChange::Add(cfg),
                            });
                        }
                    }
                }
                if ui.button(tr.t("cancel")).clicked() {
                    close = true;
                }
                if busy {
                    ui.spinner();
                }
            });
            if !form.problems.is_empty() {
                ui.colored_label(red, tr.t("cam-fix-fields"));
            }
            form_ui(ui, tr, form, capture, onvif);
        }
        if close {
            self.form = None;
        }
        if let Some(change) = save {
            self.submit(tr, store, file, known, operator, change);
        }
    }

    /// "Nhập khảo sát": a CSV/XLSX sheet of surveyed positions into the registry, with the
    /// report of every line.
    fn survey_ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        store: Option<&StoreThread>,
        operator: &str,
        map: Option<&Arc<crate::map::Streets>>,
    ) {
        ui.separator();
        ui.strong(tr.t("survey-title"));
        ui.weak(tr.t("survey-explain"));
        ui.horizontal(|ui| {
            let l = ui.label(tr.t("survey-file"));
            ui.add_sized(
                [420.0, 20.0],
                egui::TextEdit::singleline(&mut self.survey_path)
                    .hint_text("/media/usb/khao-sat-xuan-dinh.xlsx"),
            )
            .labelled_by(l.id);
            let can =
                store.is_some() && self.survey.is_none() && !self.survey_path.trim().is_empty();
            if ui
                .add_enabled(can, egui::Button::new(tr.t("survey-import")))
                .clicked()
            {
                let (op, path) = (operator.to_owned(), PathBuf::from(self.survey_path.trim()));
                let map = map.cloned();
                let job = store.expect("checked").run(move |db| {
                    // Address-only rows go on the map's streets: the street names are
                    // gathered once (on the store thread, the first import), then kept.
                    let streets = map.as_ref().map(|m| m.gazetteer());
                    let locate = |a: &str| {
                        let l = streets?.locate(a)?;
                        Some((l.lat, l.lon, l.street))
                    };
                    let report = mt_store::survey::import_file(
                        db,
                        &op,
                        &path,
                        streets
                            .is_some()
                            .then_some(&locate as mt_store::survey::Locate),
                    )?;
                    Ok((report, db.sites()?))
                });
                match job {
                    Ok(p) => {
                        self.survey = Some(p);
                        self.survey_report = None;
                    }
                    Err(_) => {
                        self.survey_report =
                            Some((self.survey_path.clone(), Err(tr.t("trust-busy"))))
                    }
                }
            }
            if self.survey.is_some() {
                ui.spinner();
            }
        });
        let Some((file, r)) = &self.survey_report else {
            return;
        };
        match r {
            Err(e) => {
                ui.colored_label(
                    Color32::from_rgb(240, 90, 90),
                    tr.t_args("survey-failed", &[("error", e.clone().into())]),
                );
            }
            Ok(rep) => {
                ui.label(tr.t_args(
                    "survey-summary",
                    &[
                        ("file", file.clone().into()),
                        ("imported", rep.imported().into()),
                        ("merged", rep.merged().into()),
                        ("rejected", rep.rejected().into()),
                    ],
                ));
                egui::ScrollArea::vertical()
                    .id_salt("survey-report")
                    .max_height(180.0)
                    .show(ui, |ui| {
                        for (n, o) in &rep.lines {
                            let (color, text) = match o {
                                Row::Imported {
                                    id,
                                    located: Some(street),
                                    ..
                                } => (
                                    Color32::from_rgb(240, 200, 90),
                                    tr.t_args(
                                        "survey-line-located",
                                        &[
                                            ("line", (*n).into()),
                                            ("id", id.clone().into()),
                                            ("street", street.clone().into()),
                                        ],
                                    ),
                                ),
                                Row::Imported { id, planned, .. } => (
                                    Color32::from_rgb(90, 200, 120),
                                    tr.t_args(
                                        if *planned {
                                            "survey-line-planned"
                                        } else {
                                            "survey-line-camera"
                                        },
                                        &[("line", (*n).into()), ("id", id.clone().into())],
                                    ),
                                ),
                                Row::Merged { id } => (
                                    Color32::from_rgb(120, 170, 240),
                                    tr.t_args(
                                        "survey-line-merged",
                                        &[("line", (*n).into()), ("id", id.clone().into())],
                                    ),
                                ),
                                Row::Rejected(r) => {
                                    let args: Vec<(&str, fluent_bundle::FluentValue)> = r
                                        .args
                                        .iter()
                                        .map(|(k, v)| (*k, v.clone().into()))
                                        .collect();
                                    let reason = tr.t_args(r.key, &args);
                                    (
                                        Color32::from_rgb(240, 90, 90),
                                        tr.t_args(
                                            "survey-line-rejected",
                                            &[("line", (*n).into()), ("reason", reason.into())],
                                        ),
                                    )
                                }
                            };
                            ui.colored_label(color, text);
                        }
                    });
            }
        }
    }

    fn submit(
        &mut self,
        tr: &Tr,
        store: Option<&StoreThread>,
        file: &std::path::Path,
        known: Option<&str>,
        operator: &str,
        change: CameraChange,
    ) {
        let Some(store) = store else {
            self.message = Some((false, tr.t("cam-no-log")));
            return;
        };
        let (op, path, job) = (operator.to_owned(), file.to_owned(), change.clone());
        let known = known.map(str::to_owned);
        match store.run(move |db| db.change_camera(&op, &path, known.as_deref(), &job)) {
            Ok(p) => {
                self.message = None;
                self.pending = Some((change, p));
            }
            Err(_) => self.message = Some((false, tr.t("trust-busy"))),
        }
    }
}

/// "… failed: <reason> (<detail>)" in red: `key` takes the translated `reason_key` and the
/// device's or network's own words.
pub fn failure_label(ui: &mut egui::Ui, tr: &Tr, key: &str, reason_key: &str, detail: &str) {
    ui.colored_label(
        Color32::from_rgb(240, 90, 90),
        tr.t_args(
            key,
            &[
                ("reason", tr.t(reason_key).into()),
                ("detail", detail.to_owned().into()),
            ],
        ),
    );
}

/// A decoded still as an egui image (RGB on the CPU).
fn still_image(f: &mt_capture::DecodedFrame) -> egui::ColorImage {
    let rgb = crate::log::rgb_image(f);
    egui::ColorImage::from_rgb([rgb.width() as usize, rgb.height() as usize], rgb.as_raw())
}

/// A labelled single-line field with its problem, if any, beside it.
fn field(
    ui: &mut egui::Ui,
    tr: &Tr,
    label: &str,
    text: &mut String,
    problem: Option<&FieldProblem>,
) -> egui::Response {
    let l = ui.label(tr.t(label));
    // Sized explicitly: a grid cell offers a text field only last frame's column width.
    let r = ui
        .add_sized([260.0, 20.0], egui::TextEdit::singleline(text))
        .labelled_by(l.id);
    match problem {
        Some(p) => {
            ui.colored_label(Color32::from_rgb(240, 90, 90), problem_text(tr, p));
        }
        None => {
            ui.label("");
        }
    }
    ui.end_row();
    r
}

/// Who and where: id, name, owner, address, position and view.
fn place_ui(ui: &mut egui::Ui, tr: &Tr, f: &mut Form) {
    let editing = f.editing.is_some();
    egui::Grid::new("cam-form")
        .num_columns(3)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            if editing {
                ui.label(tr.t("cam-f-id"));
                ui.monospace(&f.draft.id);
                ui.weak(tr.t("cam-id-fixed"));
                ui.end_row();
            } else {
                let p = f.problem("id").cloned();
                field(ui, tr, "cam-f-id", &mut f.draft.id, p.as_ref());
            }
            for (key, name) in [
                ("cam-f-name", "name"),
                ("cam-f-ward", "ward"),
                ("cam-f-owner", "owner"),
                ("cam-f-address", "address"),
                ("cam-f-lat", "lat"),
                ("cam-f-lon", "lon"),
                ("cam-f-heading", "heading_deg"),
                ("cam-f-fov", "fov_deg"),
                ("cam-f-range", "range_m"),
            ] {
                let p = f.problem(name).cloned();
                let d = &mut f.draft;
                let text = match name {
                    "name" => &mut d.name,
                    "ward" => &mut d.ward,
                    "owner" => &mut d.owner,
                    "address" => &mut d.address,
                    "lat" => &mut d.lat,
                    "lon" => &mut d.lon,
                    "heading_deg" => &mut d.heading_deg,
                    "fov_deg" => &mut d.fov_deg,
                    _ => &mut d.range_m,
                };
                field(ui, tr, key, text, p.as_ref());
            }
        });
}

/// The streams: template, address, credentials, URLs, transport.
fn streams_ui(ui: &mut egui::Ui, tr: &Tr, f: &mut Form) {
    ui.strong(tr.t("cam-streams"));
    ui.horizontal_wrapped(|ui| {
        ui.label(tr.t("cam-template"));
        let mut changed = false;
        for t in Template::ALL {
            if ui
                .selectable_label(f.template == Some(t), tr.t(t.key()))
                .clicked()
            {
                if f.template != Some(t) {
                    f.port = t.default_port().to_string();
                }
                f.template = Some(t);
                changed = true;
            }
        }
        if ui
            .selectable_label(f.template.is_none(), tr.t("cam-tpl-manual"))
            .clicked()
        {
            f.template = None;
        }
        if changed {
            f.apply_template();
        }
    });
    let mut tpl_changed = false;
    egui::Grid::new("cam-form-streams")
        .num_columns(3)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            if let Some(t) = f.template {
                let p = f.problem("tpl_host").cloned();
                tpl_changed |= field(ui, tr, "cam-f-host", &mut f.host, p.as_ref()).changed();
                let p = f.problem("tpl_port").cloned();
                let port_key = if t == Template::Onvif {
                    "cam-f-onvif-port"
                } else {
                    "cam-f-port"
                };
                tpl_changed |= field(ui, tr, port_key, &mut f.port, p.as_ref()).changed();
                match t {
                    Template::Relay => {
                        tpl_changed |=
                            field(ui, tr, "cam-f-relay-path", &mut f.relay_path, None).changed();
                    }
                    Template::Onvif => {}
                    _ => {
                        tpl_changed |= {
                            let p = f.problem("tpl_channel").cloned();
                            field(ui, tr, "cam-f-channel", &mut f.channel, p.as_ref()).changed()
                        };
                    }
                }
            }
            let (pu, pp) = (f.problem("username").cloned(), None::<FieldProblem>);
            field(ui, tr, "cam-f-username", &mut f.draft.username, pu.as_ref());
            let l = ui.label(tr.t("cam-f-password"));
            ui.add_sized(
                [260.0, 20.0],
                egui::TextEdit::singleline(&mut f.password).password(true),
            )
            .labelled_by(l.id);
            ui.label(pp.map(|p| problem_text(tr, &p)).unwrap_or_default());
            ui.end_row();
            let pm = f.problem("main_url").cloned();
            field(ui, tr, "cam-f-main-url", &mut f.draft.main_url, pm.as_ref());
            let ps = f.problem("sub_url").cloned();
            field(ui, tr, "cam-f-sub-url", &mut f.draft.sub_url, ps.as_ref());
            ui.label(tr.t("cam-f-transport"));
            ui.horizontal(|ui| {
                ui.selectable_value(&mut f.draft.transport, Transport::Tcp, "TCP");
                ui.selectable_value(&mut f.draft.transport, Transport::Udp, "UDP");
            });
            ui.label("");
            ui.end_row();
            let po = f.problem("onvif").cloned();
            field(ui, tr, "cam-f-onvif", &mut f.draft.onvif, po.as_ref());
            ui.label("");
            ui.checkbox(&mut f.draft.ptz, tr.t("cam-f-ptz"));
            ui.label("");
            ui.end_row();
        });
    if tpl_changed {
        f.apply_template();
    }
    // What the camera will be asked with: the URLs with the user name, the password masked.
    let creds = f.draft().credentials();
    for (key, url) in [
        ("cam-shown-main", &f.draft.main_url),
        ("cam-shown-sub", &f.draft.sub_url),
    ] {
        if !url.trim().is_empty() {
            ui.monospace(tr.t_args(key, &[("url", shown_url(url, creds.as_ref()).into())]));
        }
    }
}

fn form_ui(
    ui: &mut egui::Ui,
    tr: &Tr,
    f: &mut Form,
    capture: &Arc<Capture>,
    onvif: Option<&OnvifService>,
) {
    let now = (
        f.host.trim().trim_matches(['[', ']']).to_owned(),
        f.port.trim().to_owned(),
        f.draft.username.trim().to_owned(),
    );
    f.onvif.poll(&mut f.draft, now);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| place_ui(ui, tr, f));
        ui.add_space(24.0);
        ui.vertical(|ui| {
            streams_ui(ui, tr, f);
            onvif_ui(ui, tr, f, onvif);
        });
    });
    ui.separator();
    let testing = f
        .test
        .as_ref()
        .is_some_and(|t| t.main.is_none() || (t.expect_sub && t.sub.is_none()));
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!testing, egui::Button::new(tr.t("cam-test")))
            .on_hover_text(tr.t("cam-test-hint"))
            .clicked()
        {
            start_test(ui.ctx(), f, capture);
        }
        if testing {
            ui.spinner();
            ui.label(tr.t("cam-testing"));
        }
    });
    test_ui(ui, tr, f);
}

fn start_test(ctx: &egui::Context, f: &mut Form, capture: &Arc<Capture>) {
    let d = f.draft();
    let main = match check_url(&d.main_url) {
        Ok(u) => u,
        Err((key, detail)) => {
            f.problems.retain(|p| p.field != "main_url");
            f.problems.push(FieldProblem {
                field: "main_url",
                key,
                detail,
            });
            return;
        }
    };
    let sub = if d.sub_url.trim().is_empty() {
        None
    } else {
        match check_url(&d.sub_url) {
            Ok(u) => Some(u),
            Err((key, detail)) => {
                f.problems.retain(|p| p.field != "sub_url");
                f.problems.push(FieldProblem {
                    field: "sub_url",
                    key,
                    detail,
                });
                return;
            }
        }
    };
    f.problems
        .retain(|p| p.field != "main_url" && p.field != "sub_url");
    let (tx, rx) = sync_channel(2);
    let expect_sub = sub.is_some();
    for (is_main, url) in std::iter::once((true, main)).chain(sub.map(|u| (false, u))) {
        let (tx, ctx, creds, transport) = (tx.clone(), ctx.clone(), d.credentials(), d.transport);
        capture.runtime().spawn(async move {
            let result = probe(url, creds, transport, ProbeLimits::default()).await;
            // The still is converted on a blocking thread: not on the UI thread, and not on
            // the runtime every camera's network reading shares.
            let still = result.as_ref().ok().and_then(|r| r.still.clone());
            let image = tokio::task::spawn_blocking(move || still.map(|s| still_image(&s)))
                .await
                .ok()
                .flatten();
            let _ = tx.send((
                is_main,
                Outcome {
                    result,
                    image,
                    texture: None,
                },
            ));
            ctx.request_repaint();
        });
    }
    f.test = Some(TestRun {
        rx,
        main: None,
        sub: None,
        expect_sub,
        urls: (d.main_url.clone(), d.sub_url.clone()),
    });
}

fn test_ui(ui: &mut egui::Ui, tr: &Tr, f: &mut Form) {
    let urls = (f.draft.main_url.clone(), f.draft.sub_url.clone());
    let Some(t) = f.test.as_mut() else { return };
    while let Ok((is_main, o)) = t.rx.try_recv() {
        if is_main {
            t.main = Some(o);
        } else {
            t.sub = Some(o);
        }
    }
    if t.urls != urls {
        ui.weak(tr.t("cam-test-stale"));
    }
    // Main and sub side by side, each with its still at up to 480 px wide.
    ui.horizontal_top(|ui| {
        for (key, o) in [
            ("cam-stream-main", &mut t.main),
            ("cam-stream-sub", &mut t.sub),
        ] {
            let Some(o) = o else { continue };
            ui.vertical(|ui| {
                ui.set_max_width(480.0);
                ui.horizontal_wrapped(|ui| {
                    ui.strong(tr.t(key));
                    match &o.result {
                        Ok(r) => {
                            let fps = r
                                .fps
                                .map(|f| format!("{f:.1}"))
                                .unwrap_or_else(|| "?".into());
                            let audio = r.audio();
                            ui.colored_label(
                                Color32::from_rgb(90, 200, 120),
                                tr.t_args(
                                    "cam-test-ok",
                                    &[
                                        ("codec", r.codec.label().into()),
                                        ("width", r.width.into()),
                                        ("height", r.height.into()),
                                        ("fps", fps.into()),
                                        (
                                            "audio",
                                            if audio.is_empty() {
                                                tr.t("cam-no-audio")
                                            } else {
                                                audio.join(", ")
                                            }
                                            .into(),
                                        ),
                                    ],
                                ),
                            );
                            if let Some(e) = &r.still_error {
                                ui.colored_label(
                                    Color32::from_rgb(240, 170, 60),
                                    tr.t_args("cam-test-no-still", &[("error", e.clone().into())]),
                                );
                            }
                        }
                        Err(e) => {
                            failure_label(ui, tr, "cam-test-failed", e.reason.key(), &e.detail);
                        }
                    }
                });
                if let Some(img) = o.image.take() {
                    o.texture = Some(ui.ctx().load_texture(
                        format!("cam-test-{key}"),
                        img,
                        Default::default(),
                    ));
                }
                if let Some(tex) = &o.texture {
                    let s = tex.size_vec2();
                    let scale = (480.0 / s.x).min(1.0);
                    ui.add(egui::Image::new(tex).fit_to_exact_size(s * scale))
                        .on_hover_text(tr.t("cam-test-still"));
                }
            });
        }
    });
}

/// The ONVIF part of the form: ask the device at the address (user and password of the
/// form) for what it is and its streams, or look for devices on the network.
fn onvif_ui(ui: &mut egui::Ui, tr: &Tr, f: &mut Form, onvif: Option<&OnvifService>) {
    if f.template != Some(Template::Onvif) {
        return;
    }
    let Some(service) = onvif else {
        ui.weak(tr.t("onvif-err-unavailable"));
        return;
    };
    let c = ui.ctx().clone();
    let wake: Wake = Arc::new(move || c.request_repaint());
    ui.horizontal(|ui| {
        let asking = f.onvif.inspect.is_some();
        if ui
            .add_enabled(!asking, egui::Button::new(tr.t("cam-onvif-fetch")))
            .on_hover_text(tr.t("cam-onvif-fetch-hint"))
            .clicked()
        {
            let host = f.host.trim().trim_matches(['[', ']']).to_owned();
            let port = f.port.trim().to_owned();
            // The device's own address when it is this host and port (a discovered one
            // keeps its path and https); else the usual one.
            let known = url::Url::parse(f.draft.onvif.trim()).ok().filter(|u| {
                u.host_str().map(|h| h.trim_matches(['[', ']'])) == Some(host.as_str())
                    && u.port_or_known_default().map(|p| p.to_string()) == Some(port.clone())
            });
            let addr = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            // The typed or discovered address passes the same checks as a typed host.
            let url = match known {
                Some(u) => mt_onvif::device_url(u.as_str()),
                None => mt_onvif::device_url(&addr),
            };
            match url {
                Ok(url) => {
                    f.onvif.device = None;
                    f.onvif.asked = (host, port, f.draft.username.trim().to_owned());
                    f.onvif.inspect =
                        Some(service.inspect(url, f.draft().credentials(), wake.clone()));
                }
                Err(e) => f.onvif.device = Some(Err(e)),
            }
        }
        let looking = f.onvif.discover.is_some();
        if ui
            .add_enabled(!looking, egui::Button::new(tr.t("cam-onvif-discover")))
            .on_hover_text(tr.t("cam-onvif-discover-hint"))
            .clicked()
        {
            // The typed address is asked directly too: a camera on another subnet, which
            // multicast does not reach.
            let also: Vec<std::net::IpAddr> = f
                .host
                .trim()
                .trim_matches(['[', ']'])
                .parse()
                .into_iter()
                .collect();
            f.onvif.found = None;
            f.onvif.discover =
                Some(service.discover(std::time::Duration::from_secs(3), also, wake.clone()));
        }
        if f.onvif.busy() {
            ui.spinner();
        }
    });
    let creds = f.draft().credentials();
    match &f.onvif.device {
        Some(Ok(d)) => {
            ui.colored_label(
                Color32::from_rgb(90, 200, 120),
                tr.t_args(
                    "cam-onvif-device",
                    &[
                        ("maker", d.manufacturer.clone().into()),
                        ("model", d.model.clone().into()),
                        ("firmware", d.firmware.clone().into()),
                        ("count", d.profiles.len().into()),
                        (
                            "ptz",
                            tr.t(if d.ptz {
                                "cam-onvif-ptz-yes"
                            } else {
                                "cam-onvif-ptz-no"
                            })
                            .into(),
                        ),
                    ],
                ),
            );
            for p in &d.profiles {
                let size = p
                    .size
                    .map(|(w, h)| format!("{w}×{h}"))
                    .unwrap_or_else(|| "?".into());
                let uri = match &p.uri {
                    Ok(u) => shown_url(u, creds.as_ref()),
                    Err(e) => tr.t(e.kind.key()),
                };
                ui.monospace(format!(
                    "{} · {} {size} · {uri}",
                    if p.name.is_empty() { &p.token } else { &p.name },
                    p.encoding.as_deref().unwrap_or("?"),
                ));
            }
        }
        Some(Err(e)) => {
            failure_label(ui, tr, "cam-onvif-failed", e.kind.key(), &e.detail);
        }
        None => {}
    }
    if let Some(Err(e)) = &f.onvif.found {
        failure_label(ui, tr, "cam-onvif-failed", e.kind.key(), &e.detail);
    }
    if let Some(Ok(found)) = &f.onvif.found {
        if found.is_empty() {
            ui.weak(tr.t("cam-onvif-none-found"));
        }
        let mut pick = None;
        for d in found {
            ui.horizontal(|ui| {
                if ui.button(tr.t("cam-onvif-use")).clicked() {
                    pick = Some(d.url.clone());
                }
                ui.label(format!("{} {} · {}", d.name, d.hardware, d.url));
            });
        }
        if let Some(u) = pick.and_then(|u| url::Url::parse(&u).ok()) {
            // Its host (an IPv6 one without brackets, as the form takes it), port, and the
            // whole address for "Lấy thông tin ONVIF".
            f.host = u
                .host_str()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_owned();
            f.port = u.port_or_known_default().unwrap_or(80).to_string();
            f.draft.onvif = u.to_string();
        }
    }
}
