//! The district map: vector layers, cameras with their fields of view (coloured by state),
//! live pictures, incident pins and heat map, editing cameras in place, and coverage planning.
//!
//! Drawing is split so the expensive part is not redone every frame: the base layers (areas,
//! streets, points) are tessellated into one mesh per scale ([`BaseCache`]) and panning only
//! translates it. Cameras are drawn per frame, but only those the R*-tree says are in view.
//!
//! Here: the state (`MapUi`), the side panel and toolbar. The parts: [`canvas`] (input: where
//! a click or a drag on the map goes), [`drawing`] (what is drawn, and the cached base mesh),
//! [`registry`] (a site's form and its saving), [`plan`] (coverage from the "coverage"
//! thread, the plan panel and its exports), [`export`] (the plan as a PNG, off screen).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::epaint::{CircleShape, PathShape, PathStroke, Tessellator};
use egui::{
    Align2, Color32, FontId, Mesh, Pos2, Rect, Sense, Shape, Stroke, StrokeKind, UiBuilder, Vec2,
};
use geo::{Centroid, Contains, Coord, Geometry, LineString, Point, TriangulateEarcut};
use mt_capture::CameraHandle;
use mt_core::{CameraSite, OwnerKind, Sharing, StreamState};
use mt_map::coverage::{self, Coverage};
use mt_map::proj::{bearing, bearing_vector, ground_distance, ground_scale, merc_to_lonlat};
use mt_map::sites::{range_merc, site_merc};
use mt_map::{lonlat_to_merc, Kind, MapData, SiteIndex, View};
use mt_render::VideoCallback;
use mt_store::thread::{Pending, StoreThread};
use mt_store::IncidentPlace;

use crate::i18n::Tr;
use crate::layout::fit_aspect;

mod canvas;
mod drawing;
mod export;
mod plan;
mod registry;

pub use canvas::{handle_positions, site_position};
use drawing::*;
pub use export::PlanImage;
use export::*;
use plan::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MapMode {
    /// Look: click a camera to put it on the wall, a pin to open the incident.
    #[default]
    Watch,
    /// Move and aim cameras, edit the registry.
    Edit,
    /// Coverage of the streets, uncovered stretches, planned sites.
    Plan,
}

/// What a camera on the map is, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteState {
    Live,
    Lost,
    Offline,
    Planned,
}

impl SiteState {
    pub fn color(self) -> Color32 {
        match self {
            SiteState::Live => Color32::from_rgb(60, 200, 90),
            SiteState::Lost => Color32::from_rgb(230, 60, 60),
            SiteState::Offline => Color32::from_rgb(150, 150, 150),
            SiteState::Planned => Color32::from_rgb(80, 150, 250),
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            SiteState::Live => "site-live",
            SiteState::Lost => "site-lost",
            SiteState::Offline => "site-offline",
            SiteState::Planned => "site-planned",
        }
    }
}

/// Registry filter for the map and the camera list; `None` means any.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteFilter {
    pub owner_kind: Option<OwnerKind>,
    pub sharing: Option<Sharing>,
    pub consent_only: bool,
    pub show_planned: bool,
}

impl Default for SiteFilter {
    fn default() -> Self {
        SiteFilter {
            owner_kind: None,
            sharing: None,
            consent_only: false,
            show_planned: true,
        }
    }
}

impl SiteFilter {
    pub fn accepts(&self, s: &CameraSite) -> bool {
        (self.show_planned || !s.planned)
            && self.owner_kind.is_none_or(|k| k == s.owner_kind)
            && self.sharing.is_none_or(|k| k == s.sharing)
            && (!self.consent_only || s.consent)
    }
}

/// What the map asks the rest of the workstation to do.
#[derive(Clone, Debug, PartialEq)]
pub enum MapCommand {
    ShowCamera(String),
    /// Put the camera on the second screen's selected tile.
    SendToSecond(String),
    OpenIncident(i64),
    NewIncidentAt {
        lat: f64,
        lon: f64,
        ward: String,
        cameras: Vec<String>,
    },
    /// Open the traced cameras in synced playback.
    Trace(crate::trace::TraceOpen),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Grab {
    Move,
    Heading,
    Angle,
}

struct SiteDrag {
    site: usize,
    grab: Grab,
}

/// The base layers tessellated at one scale, positioned relative to `origin`.
struct BaseCache {
    mpp: f64,
    origin: Coord,
    mesh: Arc<Mesh>,
    /// The mesh moved to where the last view put it (view centre, screen centre): reused
    /// while the map does not move, so a still map copies nothing per frame.
    placed: Option<(Coord, Pos2, Arc<Mesh>)>,
}

/// Area triangles in Mercator metres, computed once at load.
struct AreaFill {
    verts: Vec<Coord>,
    indices: Vec<u32>,
    color: Color32,
}

struct Label {
    at: Coord,
    text: String,
    kind: Kind,
}

/// The map's street names, for placing an address (the survey's address-only rows): gathered
/// the first time they are needed, on the thread that needs them, then kept.
pub struct Streets {
    data: Arc<MapData>,
    gazetteer: std::sync::OnceLock<mt_map::gazetteer::Gazetteer>,
}

impl Streets {
    pub fn new(data: Arc<MapData>) -> Self {
        Streets {
            data,
            gazetteer: std::sync::OnceLock::new(),
        }
    }

    pub fn gazetteer(&self) -> &mt_map::gazetteer::Gazetteer {
        self.gazetteer.get_or_init(|| {
            let wards: Vec<String> = self.data.wards().into_iter().map(|(n, _)| n).collect();
            mt_map::gazetteer::Gazetteer::new(&self.data.roads(), &wards)
        })
    }
}

/// What the view needs from the live cameras.
pub struct LiveCameras<'a> {
    pub cameras: &'a [CameraHandle],
    pub by_id: &'a HashMap<String, usize>,
    /// Where PTZ cameras point now, as they last reported it (ONVIF's generic pan −1…1).
    pub ptz_pan: &'a HashMap<String, f32>,
    /// The second screen is open (a camera can be sent to it from the map).
    pub second_open: bool,
}

impl LiveCameras<'_> {
    fn handle(&self, id: &str) -> Option<&CameraHandle> {
        self.by_id.get(id).map(|&i| &self.cameras[i])
    }

    /// The heading to draw: the registry's, turned by a PTZ camera's reported pan.
    fn heading(&self, s: &CameraSite) -> f64 {
        match self.ptz_pan.get(&s.id) {
            Some(&pan) => mt_onvif::heading_for(s.heading_deg, pan),
            None => s.heading_deg,
        }
    }

    fn is_ptz(&self, id: &str) -> bool {
        self.handle(id).is_some_and(|h| h.config.ptz)
    }
}

/// Incident-pin period choices (days; `None` = all).
const PERIODS: [Option<i64>; 5] = [Some(7), Some(30), Some(90), Some(365), None];

pub struct MapUi {
    /// The signed-in officer's role (set by the app each frame): editing and planning need
    /// the registry right, a new incident the incident right, a trace the search right.
    pub role: Option<mt_store::Role>,
    /// The street graph of the map's road layers (for tracing), built once at load.
    pub streets: Option<mt_map::streets::StreetGraph>,
    /// The trace window, when open.
    pub trace: Option<crate::trace::TracePanel>,
    pub data: Arc<MapData>,
    pub sites: Vec<CameraSite>,
    /// Mercator position of each site (projecting 3,000 sites every frame costs ~1 ms).
    merc: Vec<Coord>,
    index: SiteIndex,
    /// `None` until the first frame fits the map to its rectangle.
    pub view: Option<View>,
    pub mode: MapMode,
    pub selected: Option<usize>,
    drag: Option<SiteDrag>,
    pub filter: SiteFilter,
    pub incidents: Vec<IncidentPlace>,
    /// Mercator position of each incident (projected when loaded, not per frame).
    incident_merc: Vec<Coord>,
    pub show_pins: bool,
    pub show_heat: bool,
    pub period_days: Option<i64>,
    incidents_at: Option<Instant>,
    pending_incidents: Option<Pending<Vec<IncidentPlace>>>,
    pending_saves: Vec<(Pending<()>, String)>,
    /// Coverage before and after the planned sites, recomputed when a site changes.
    pub coverage: Option<(Coverage, Coverage)>,
    pub coverage_ms: f64,
    coverage_dirty: bool,
    /// The coverage without planned sites is stale too (not when only a planned site moved).
    coverage_before_dirty: bool,
    pub highlight_gap: Option<usize>,
    /// Next click on the map places a planned site.
    pub placing: bool,
    base: Option<BaseCache>,
    fills: Vec<AreaFill>,
    labels: Vec<Label>,
    wards: Arc<Vec<(String, geo::MultiPolygon)>>,
    roads: Arc<Vec<coverage::Road>>,
    /// Computes coverage off the UI thread (None: could not start; computed in place).
    coverage_worker: Option<crate::coverage_worker::CoverageWorker>,
    /// The basemap's tiles, read and decoded on their own thread (None: no basemap).
    pub basemap: Option<crate::basemap::Basemap>,
    /// Its street names, for addresses.
    pub streets_by_name: Arc<Streets>,
    pub load_errors: Vec<String>,
    pub status: Option<(String, bool, Instant)>,
    /// The map canvas of the last frame (tests aim clicks with it).
    pub canvas: Rect,
    pub export_dir: PathBuf,
    export_job: Option<std::sync::mpsc::Receiver<Result<PathBuf, String>>>,
}

const WARD_FILLS: [Color32; 6] = [
    Color32::from_rgb(54, 66, 82),
    Color32::from_rgb(60, 78, 64),
    Color32::from_rgb(82, 70, 56),
    Color32::from_rgb(72, 60, 84),
    Color32::from_rgb(56, 78, 84),
    Color32::from_rgb(84, 62, 66),
];

impl MapUi {
    pub fn new(data: Arc<MapData>, load_errors: Vec<String>, sites: Vec<CameraSite>) -> Self {
        let basemap = crate::basemap::Basemap::start(&data);
        let streets_by_name = Arc::new(Streets::new(data.clone()));
        let (fills, labels) = area_fills_and_labels(&data);
        let wards = Arc::new(data.wards());
        let roads = Arc::new(data.roads());
        let streets = (!roads.is_empty()).then(|| mt_map::streets::StreetGraph::build(&roads));
        let filter = SiteFilter::default();
        let index = SiteIndex::build_filtered(&sites, |s| filter.accepts(s));
        MapUi {
            role: None,
            streets,
            trace: None,
            data,
            index,
            merc: sites.iter().map(site_merc).collect(),
            sites,
            view: None,
            mode: MapMode::Watch,
            selected: None,
            drag: None,
            filter,
            incidents: Vec::new(),
            incident_merc: Vec::new(),
            show_pins: true,
            show_heat: false,
            period_days: Some(30),
            incidents_at: None,
            pending_incidents: None,
            pending_saves: Vec::new(),
            coverage: None,
            coverage_ms: 0.0,
            coverage_dirty: true,
            coverage_before_dirty: true,
            highlight_gap: None,
            placing: false,
            base: None,
            fills,
            labels,
            wards,
            roads,
            coverage_worker: crate::coverage_worker::CoverageWorker::start(),
            basemap,
            streets_by_name,
            load_errors,
            status: None,
            canvas: Rect::NOTHING,
            export_dir: std::env::temp_dir(),
            export_job: None,
        }
    }

    pub fn site_index(&self, id: &str) -> Option<usize> {
        self.sites.iter().position(|s| s.id == id)
    }

    pub fn site(&self, id: &str) -> Option<&CameraSite> {
        self.sites.iter().find(|s| s.id == id)
    }

    /// Rebuilds the spatial index (after an edit or a filter change) and marks coverage stale.
    pub fn sites_changed(&mut self) {
        let f = self.filter.clone();
        self.index = SiteIndex::build_filtered(&self.sites, |s| f.accepts(s));
        self.merc = self.sites.iter().map(site_merc).collect();
        self.coverage_dirty = true;
        self.coverage_before_dirty = true;
    }

    /// The ward a point lies in, by the map's ward areas.
    pub fn ward_at(&self, c: Coord) -> Option<String> {
        let p = Point(c);
        self.wards
            .iter()
            .find(|(_, m)| m.contains(&p))
            .map(|(n, _)| n.clone())
    }

    fn state_of(&self, s: &CameraSite, live: &LiveCameras<'_>) -> SiteState {
        if s.planned {
            return SiteState::Planned;
        }
        match live.handle(&s.id).map(|h| h.health_stream().state()) {
            Some(StreamState::Live) => SiteState::Live,
            Some(StreamState::Lost { .. }) => SiteState::Lost,
            _ => SiteState::Offline,
        }
    }

    fn poll(&mut self, tr: &Tr, store: Option<&StoreThread>) {
        if let Some(p) = &self.pending_incidents {
            if let Some(r) = p.try_take() {
                self.pending_incidents = None;
                match r {
                    // Asked for another officer: a viewer who took over gets no pins.
                    Ok(_) if !self.may(mt_store::Right::Incident) => {}
                    Ok(v) => {
                        self.incident_merc = v
                            .iter()
                            .map(|p| lonlat_to_merc(p.lon_deg, p.lat_deg))
                            .collect();
                        self.incidents = v;
                    }
                    Err(e) => self.set_status(e.to_string(), false),
                }
            }
        }
        let mut done = Vec::new();
        for (i, (p, what)) in self.pending_saves.iter().enumerate() {
            if let Some(r) = p.try_take() {
                done.push(i);
                match r {
                    Ok(()) => {
                        self.status = Some((
                            tr.t_args("site-saved", &[("camera", what.clone().into())]),
                            true,
                            Instant::now(),
                        ))
                    }
                    Err(e) => {
                        self.status = Some((
                            tr.t_args("site-save-failed", &[("error", e.to_string().into())]),
                            false,
                            Instant::now(),
                        ))
                    }
                }
            }
        }
        for i in done.into_iter().rev() {
            self.pending_saves.remove(i);
        }
        if let Some(rx) = &self.export_job {
            if let Ok(r) = rx.try_recv() {
                self.export_job = None;
                match r {
                    Ok(p) => self.set_status(
                        tr.t_args("plan-exported", &[("file", p.display().to_string().into())]),
                        true,
                    ),
                    Err(e) => self.set_status(e, false),
                }
            }
        }
        // Pins refresh every 10 s (new incidents from this or another workstation).
        if let Some(store) = store {
            let due = self
                .incidents_at
                .is_none_or(|t| t.elapsed() > Duration::from_secs(10));
            if due && self.pending_incidents.is_none() {
                self.refresh_incidents(store);
            }
        }
    }

    pub fn refresh_incidents(&mut self, store: &StoreThread) {
        self.incidents_at = Some(Instant::now());
        if !self.may(mt_store::Right::Incident) {
            // A viewer watches live pictures only: no incident pins.
            self.incidents.clear();
            self.incident_merc.clear();
            return;
        }
        let from = self
            .period_days
            .map(|d| mt_store::now_ms() - d * 86_400_000);
        match store.run(move |db| db.incident_places(from, None, 20_000)) {
            Ok(p) => self.pending_incidents = Some(p),
            Err(e) => self.set_status(e.to_string(), false),
        }
    }

    fn set_status(&mut self, s: String, ok: bool) {
        self.status = Some((s, ok, Instant::now()));
    }

    /// The map: toolbar, canvas, and (in edit and plan modes) the side panel.
    #[allow(clippy::too_many_arguments)]
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        live: &LiveCameras<'_>,
        store: Option<&StoreThread>,
        operator: Option<&str>,
        type_name: &dyn Fn(&str) -> String,
        wanted: &mut HashSet<mt_capture::StreamId>,
        cmds: &mut Vec<MapCommand>,
    ) {
        self.poll(tr, store);
        if let Some(t) = self.trace.as_mut() {
            let (open, keep) = t.ui(ui.ctx(), tr, &self.sites, self.streets.as_ref());
            if let Some(o) = open {
                cmds.push(MapCommand::Trace(o));
            }
            if !keep {
                self.trace = None;
            }
        }
        let area = ui.available_rect_before_wrap();
        ui.allocate_rect(area, Sense::hover());
        let bar = Rect::from_min_size(area.min, egui::vec2(area.width(), 30.0));
        let mut body = Rect::from_min_max(egui::pos2(area.left(), bar.bottom()), area.max);
        ui.scope_builder(
            UiBuilder::new().max_rect(bar.shrink2(Vec2::new(4.0, 2.0))),
            |ui| self.toolbar_ui(ui, tr, store),
        );
        let side =
            self.mode == MapMode::Plan || (self.mode == MapMode::Edit && self.selected.is_some());
        if side && body.width() > 600.0 {
            let panel = Rect::from_min_max(egui::pos2(body.right() - 320.0, body.top()), body.max);
            body.max.x = panel.left();
            ui.painter()
                .rect_filled(panel, 0.0, ui.visuals().panel_fill);
            ui.scope_builder(UiBuilder::new().max_rect(panel.shrink(6.0)), |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("map-side")
                    .show(ui, |ui| {
                        if self.mode == MapMode::Plan {
                            self.plan_ui(ui, tr, store, operator);
                        } else {
                            self.registry_ui(ui, tr, live, store, operator);
                        }
                    });
            });
        }
        self.canvas_ui(ui, body, tr, live, store, operator, type_name, wanted, cmds);
    }

    /// The signed-in officer's role, each frame: pins the new one may not see go at once.
    pub fn set_role(&mut self, role: Option<mt_store::Role>) {
        if role != self.role {
            // Another officer: the pins are asked for again, for them.
            self.incidents_at = None;
            self.pending_incidents = None;
        }
        self.role = role;
        if !self.may(mt_store::Right::Incident) && !self.incidents.is_empty() {
            self.incidents.clear();
            self.incident_merc.clear();
        }
    }

    fn may(&self, r: mt_store::Right) -> bool {
        self.role.is_none_or(|role| role.may(r))
    }

    fn toolbar_ui(&mut self, ui: &mut egui::Ui, tr: &Tr, store: Option<&StoreThread>) {
        ui.horizontal(|ui| {
            let registry = self.may(mt_store::Right::Registry);
            if !registry && self.mode != MapMode::Watch {
                self.mode = MapMode::Watch;
            }
            for (m, key) in [
                (MapMode::Watch, "map-mode-watch"),
                (MapMode::Edit, "map-mode-edit"),
                (MapMode::Plan, "map-mode-plan"),
            ] {
                if m != MapMode::Watch && !registry {
                    continue;
                }
                if ui.selectable_label(self.mode == m, tr.t(key)).clicked() {
                    self.mode = m;
                    self.placing = false;
                    self.drag = None;
                }
            }
            ui.separator();
            let before = self.filter.clone();
            let active = self.filter != SiteFilter::default();
            let label = if active {
                format!("{} •", tr.t("map-filter"))
            } else {
                tr.t("map-filter")
            };
            ui.menu_button(label, |ui| {
                let filter_label = ui.label(tr.t("map-filter"));
                let owners: Vec<_> = std::iter::once((None, tr.t("filter-any-owner")))
                    .chain(OwnerKind::ALL.map(|k| (Some(k), tr.t(k.key()))))
                    .collect();
                choice_combo(
                    ui,
                    "map-owner",
                    filter_label.id,
                    &mut self.filter.owner_kind,
                    &owners,
                );
                let sharing: Vec<_> = std::iter::once((None, tr.t("filter-any-sharing")))
                    .chain(Sharing::ALL.map(|k| (Some(k), tr.t(k.key()))))
                    .collect();
                choice_combo(
                    ui,
                    "map-sharing",
                    filter_label.id,
                    &mut self.filter.sharing,
                    &sharing,
                );
                ui.checkbox(&mut self.filter.consent_only, tr.t("filter-consent"));
                ui.checkbox(&mut self.filter.show_planned, tr.t("filter-planned"));
            });
            if self.filter != before {
                self.sites_changed();
            }
            ui.separator();
            ui.checkbox(&mut self.show_pins, tr.t("map-pins"));
            ui.checkbox(&mut self.show_heat, tr.t("map-heat"));
            let period = self.period_days;
            let period_label_id = ui.label(tr.t("stats-period")).id;
            let periods = PERIODS.map(|p| (p, period_label(tr, p)));
            choice_combo(
                ui,
                "map-period",
                period_label_id,
                &mut self.period_days,
                &periods,
            );
            if period != self.period_days {
                if let Some(s) = store {
                    self.refresh_incidents(s);
                }
            }
        });
    }
}

const MAP_BG: Color32 = Color32::from_rgb(28, 32, 38);
const GAP_COLOR: Color32 = Color32::from_rgb(255, 70, 70);

fn period_label(tr: &Tr, p: Option<i64>) -> String {
    match p {
        Some(d) => tr.t_args("period-days", &[("days", d.into())]),
        None => tr.t("period-all"),
    }
}

/// A combo box choosing one of `options` (value, shown text), named by the label `label`.
/// Returns whether the value changed.
fn choice_combo<T: Clone + PartialEq>(
    ui: &mut egui::Ui,
    id_salt: &str,
    label: egui::Id,
    value: &mut T,
    options: &[(T, String)],
) -> bool {
    let mut changed = false;
    let current = options
        .iter()
        .find(|(v, _)| v == value)
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    egui::ComboBox::from_id_salt(id_salt)
        .selected_text(current)
        .show_ui(ui, |ui| {
            for (v, text) in options {
                changed |= ui.selectable_value(value, v.clone(), text).clicked();
            }
        })
        .response
        .labelled_by(label);
    changed
}

/// Heading, angle of view and range of a camera as number fields (rows of a grid when
/// `grid`). Returns whether an edit finished (drag released or focus left).
fn aim_fields(ui: &mut egui::Ui, tr: &Tr, s: &mut CameraSite, grid: bool) -> bool {
    let mut changed = false;
    for (key, v, range, suffix) in [
        ("reg-heading", &mut s.heading_deg, 0.0..=359.9, "°"),
        ("reg-fov", &mut s.fov_deg, 5.0..=360.0, "°"),
        ("reg-range", &mut s.range_m, 2.0..=500.0, " m"),
    ] {
        let field = |ui: &mut egui::Ui| {
            let l = ui.label(tr.t(key));
            let r = ui
                .add(egui::DragValue::new(v).range(range).suffix(suffix))
                .labelled_by(l.id);
            changed |= r.drag_stopped() || r.lost_focus();
        };
        if grid {
            field(ui);
            ui.end_row();
        } else {
            ui.horizontal(field);
        }
    }
    changed
}

fn initial_view(data: &MapData, sites: &[CameraSite], size: [f32; 2]) -> View {
    if let Some((min, max)) = data.bounds() {
        return View::fit(min, max, size);
    }
    let pts: Vec<Coord> = sites.iter().map(site_merc).collect();
    if let Some(first) = pts.first() {
        let mut min = *first;
        let mut max = *first;
        for p in &pts {
            min.x = min.x.min(p.x);
            min.y = min.y.min(p.y);
            max.x = max.x.max(p.x);
            max.y = max.y.max(p.y);
        }
        min.x -= 200.0;
        min.y -= 200.0;
        max.x += 200.0;
        max.y += 200.0;
        return View::fit(min, max, size);
    }
    let c = data.center.unwrap_or([105.787, 21.071]);
    View::new(c[0], c[1], 2.0)
}
