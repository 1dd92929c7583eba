//! The district map: vector layers, cameras with their fields of view (coloured by state),
//! live pictures, incident pins and heat map, editing cameras in place, and coverage planning.
//!
//! Drawing is split so the expensive part is not redone every frame: the base layers (areas,
//! streets, points) are tessellated into one mesh per scale ([`BaseCache`]) and panning only
//! translates it. Cameras are drawn per frame, but only those the R*-tree says are in view.

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
    wards: Vec<(String, geo::MultiPolygon)>,
    roads: Vec<coverage::Road>,
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
        let wards = data.wards();
        let roads = data.roads();
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

    /// Recomputes coverage if a site changed since the last time.
    pub fn ensure_coverage(&mut self) {
        if !self.coverage_dirty && self.coverage.is_some() {
            return;
        }
        let t = Instant::now();
        let f = self.filter.clone();
        // Dragging a planned site changes only the coverage with the plan: the one without it
        // is kept (half the work per frame of a drag).
        let before = match self.coverage.take() {
            Some((before, _)) if !self.coverage_before_dirty => before,
            _ => {
                let keep_before = |s: &CameraSite| !s.planned && f.accepts(s);
                coverage::compute(&self.roads, &self.sites, &self.wards, keep_before)
            }
        };
        self.coverage_before_dirty = false;
        let after = coverage::compute(&self.roads, &self.sites, &self.wards, |s| f.accepts(s));
        self.coverage_ms = t.elapsed().as_secs_f64() * 1e3;
        self.coverage = Some((before, after));
        self.coverage_dirty = false;
        if self
            .highlight_gap
            .is_some_and(|g| g >= self.coverage.as_ref().map_or(0, |c| c.1.gaps.len()))
        {
            self.highlight_gap = None;
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

    /// Saves a site on the store thread (audited by `operator`).
    pub fn save_site(&mut self, store: Option<&StoreThread>, operator: Option<&str>, i: usize) {
        let site = self.sites[i].clone();
        self.sites_changed();
        let (Some(store), Some(op)) = (store, operator) else {
            return;
        };
        let op = op.to_owned();
        let name = if site.name.is_empty() {
            site.id.clone()
        } else {
            site.name.clone()
        };
        match store.run(move |db| db.save_site(&op, &site)) {
            Ok(p) => self.pending_saves.push((p, name)),
            Err(e) => self.set_status(e.to_string(), false),
        }
    }

    /// Adds a planned site at `c` (saved at once).
    fn add_planned(
        &mut self,
        c: Coord,
        tr: &Tr,
        store: Option<&StoreThread>,
        operator: Option<&str>,
    ) {
        let (lon, lat) = merc_to_lonlat(c);
        let n = (1..)
            .find(|n| {
                !self
                    .sites
                    .iter()
                    .any(|s| s.id == format!("ke-hoach-{n:03}"))
            })
            .unwrap_or(1);
        let ward = self.ward_at(c).unwrap_or_default();
        self.sites.push(CameraSite {
            id: format!("ke-hoach-{n:03}"),
            name: tr.t_args("planned-name", &[("n", n.into())]),
            ward,
            lat_deg: lat,
            lon_deg: lon,
            heading_deg: 0.0,
            fov_deg: 90.0,
            range_m: 30.0,
            planned: true,
            consent: false,
            sharing: Sharing::OnRequest,
            ..Default::default()
        });
        let i = self.sites.len() - 1;
        self.selected = Some(i);
        self.save_site(store, operator, i);
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

    fn registry_ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        live: &LiveCameras<'_>,
        store: Option<&StoreThread>,
        operator: Option<&str>,
    ) {
        let Some(i) = self.selected.filter(|&i| i < self.sites.len()) else {
            return;
        };
        let mut changed = false;
        let mut delete = false;
        {
            let s = &mut self.sites[i];
            ui.heading(if s.name.is_empty() { &s.id } else { &s.name });
            ui.small(&s.id);
            let state = if s.planned {
                SiteState::Planned
            } else {
                match live.handle(&s.id).map(|h| h.health_stream().state()) {
                    Some(StreamState::Live) => SiteState::Live,
                    Some(StreamState::Lost { .. }) => SiteState::Lost,
                    _ => SiteState::Offline,
                }
            };
            ui.colored_label(state.color(), tr.t(state.key()));
            egui::Grid::new("registry").num_columns(2).show(ui, |ui| {
                let text = |ui: &mut egui::Ui, key: &str, v: &mut String| -> bool {
                    let l = ui.label(tr.t(key));
                    let lost = ui
                        .add(egui::TextEdit::singleline(v).desired_width(170.0))
                        .labelled_by(l.id)
                        .lost_focus();
                    ui.end_row();
                    lost
                };
                changed |= text(ui, "reg-name", &mut s.name);
                changed |= text(ui, "reg-ward", &mut s.ward);
                let l = ui.label(tr.t("reg-owner-kind"));
                let options = OwnerKind::ALL.map(|k| (k, tr.t(k.key())));
                changed |= choice_combo(ui, "reg-owner-kind", l.id, &mut s.owner_kind, &options);
                ui.end_row();
                changed |= text(ui, "reg-owner", &mut s.owner);
                changed |= text(ui, "reg-address", &mut s.address);
                changed |= text(ui, "reg-phone", &mut s.phone);
                let l = ui.label(tr.t("reg-consent"));
                changed |= ui.checkbox(&mut s.consent, "").labelled_by(l.id).changed();
                ui.end_row();
                let l = ui.label(tr.t("reg-sharing"));
                let options = Sharing::ALL.map(|k| (k, tr.t(k.key())));
                changed |= choice_combo(ui, "reg-sharing", l.id, &mut s.sharing, &options);
                ui.end_row();
                changed |= text(ui, "reg-installed-on", &mut s.installed_on);
                changed |= text(ui, "reg-installed-by", &mut s.installed_by);
                changed |= aim_fields(ui, tr, s, true);
                ui.label(tr.t("reg-position"));
                ui.label(format!("{:.6}, {:.6}", s.lat_deg, s.lon_deg));
                ui.end_row();
            });
            if let Err(e) = s.validate() {
                ui.colored_label(Color32::from_rgb(240, 90, 90), e);
                changed = false;
            }
            if s.planned && ui.button(tr.t("site-delete")).clicked() {
                delete = true;
            }
        }
        if delete {
            let id = self.sites[i].id.clone();
            self.sites.remove(i);
            self.selected = None;
            self.sites_changed();
            if let (Some(store), Some(op)) = (store, operator) {
                let op = op.to_owned();
                match store.run(move |db| db.delete_planned_site(&op, &id)) {
                    Ok(p) => self.pending_saves.push((p, String::new())),
                    Err(e) => self.set_status(e.to_string(), false),
                }
            }
        } else if changed {
            self.save_site(store, operator, i);
        }
        if store.is_none() || operator.is_none() {
            ui.colored_label(Color32::from_rgb(230, 160, 40), tr.t("site-not-saved"));
        }
    }

    fn plan_ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        store: Option<&StoreThread>,
        operator: Option<&str>,
    ) {
        self.ensure_coverage();
        ui.heading(tr.t("plan-title"));
        if ui
            .selectable_label(self.placing, tr.t("plan-place"))
            .on_hover_text(tr.t("plan-place-hint"))
            .clicked()
        {
            self.placing = !self.placing;
        }
        if let Some(i) = self
            .selected
            .filter(|&i| self.sites.get(i).is_some_and(|s| s.planned))
        {
            let mut changed = false;
            let s = &mut self.sites[i];
            ui.group(|ui| {
                ui.strong(&s.name);
                changed |= aim_fields(ui, tr, s, false);
            });
            if changed {
                self.save_site(store, operator, i);
                self.ensure_coverage();
            }
        }
        let Some((before, after)) = &self.coverage else {
            return;
        };
        if before.total_m <= 0.0 {
            ui.weak(tr.t("plan-no-roads"));
            return;
        }
        let pct = |x: f64| format!("{:.1} %", x * 100.0);
        let km = |m: f64| format!("{:.2}", m / 1000.0);
        ui.label(tr.t_args(
            "plan-district",
            &[
                ("before", pct(before.share()).into()),
                ("after", pct(after.share()).into()),
                ("km", km(before.total_m).into()),
            ],
        ));
        ui.small(tr.t_args(
            "plan-computed",
            &[("ms", format!("{:.1}", self.coverage_ms).into())],
        ));
        egui::Grid::new("plan-wards")
            .striped(true)
            .num_columns(4)
            .show(ui, |ui| {
                for h in ["col-ward", "plan-road-km", "plan-before", "plan-after"] {
                    ui.strong(tr.t(h));
                }
                ui.end_row();
                for (b, a) in before.wards.iter().zip(&after.wards) {
                    ui.label(if b.name.is_empty() {
                        tr.t("plan-outside-wards")
                    } else {
                        b.name.clone()
                    });
                    ui.label(km(b.total_m));
                    ui.label(pct(b.share()));
                    ui.label(pct(a.share()));
                    ui.end_row();
                }
            });
        ui.separator();
        ui.strong(tr.t_args("plan-gaps", &[("count", after.gaps.len().into())]));
        let mut go = None;
        for (k, g) in after.gaps.iter().take(50).enumerate() {
            let text = format!(
                "{}. {} — {:.0} m{}",
                k + 1,
                if g.road.is_empty() { "?" } else { &g.road },
                g.length_m,
                if g.ward.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", g.ward)
                }
            );
            if ui
                .selectable_label(self.highlight_gap == Some(k), text)
                .clicked()
            {
                go = Some(k);
            }
        }
        if let Some(k) = go {
            self.highlight_gap = Some(k);
            let g = &after.gaps[k];
            if let (Some(v), Some(mid)) = (self.view.as_mut(), g.coords.get(g.coords.len() / 2)) {
                v.center = *mid;
            }
        }
        ui.separator();
        ui.horizontal(|ui| {
            if ui.button(tr.t("plan-export-geojson")).clicked() {
                let r = self.export_geojson();
                match r {
                    Ok(p) => self.set_status(
                        tr.t_args("plan-exported", &[("file", p.display().to_string().into())]),
                        true,
                    ),
                    Err(e) => self.set_status(e, false),
                }
            }
            if ui
                .add_enabled(
                    self.export_job.is_none(),
                    egui::Button::new(tr.t("plan-export-png")),
                )
                .clicked()
            {
                self.start_png_export(tr);
            }
        });
    }

    /// Writes the plan as GeoJSON into the export folder; returns the file.
    pub fn export_geojson(&mut self) -> Result<PathBuf, String> {
        self.ensure_coverage();
        let (before, after) = self.coverage.as_ref().expect("computed above");
        let v = mt_map::plan::plan_geojson(&self.sites, before, after, env!("CARGO_PKG_VERSION"));
        let path = self.export_dir.join(format!(
            "ke-hoach-phu-song-{}.geojson",
            mt_core::time::file_stamp(mt_core::time::now_ms())
        ));
        write_atomic(
            &path,
            serde_json::to_vec_pretty(&v)
                .map_err(|e| e.to_string())?
                .as_slice(),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// Renders the plan off screen (its own wgpu device, on a worker thread) into a PNG.
    fn start_png_export(&mut self, tr: &Tr) {
        self.ensure_coverage();
        let Some((before, after)) = self.coverage.clone() else {
            return;
        };
        let job = PlanImage {
            data: self.data.clone(),
            sites: self
                .sites
                .iter()
                .filter(|s| self.filter.accepts(s))
                .cloned()
                .collect(),
            after,
            title: tr.t_args(
                "plan-image-title",
                &[
                    ("before", format!("{:.1} %", before.share() * 100.0).into()),
                    (
                        "after",
                        format!(
                            "{:.1} %",
                            self.coverage.as_ref().map_or(0.0, |c| c.1.share()) * 100.0
                        )
                        .into(),
                    ),
                    (
                        "date",
                        mt_core::time::format(mt_core::time::now_ms(), "%d/%m/%Y").into(),
                    ),
                ],
            ),
            legend: vec![
                (SiteState::Live.color(), tr.t("legend-camera")),
                (SiteState::Planned.color(), tr.t("site-planned")),
                (GAP_COLOR, tr.t("legend-gap")),
            ],
            view: self.view,
        };
        let path = self.export_dir.join(format!(
            "ke-hoach-phu-song-{}.png",
            mt_core::time::file_stamp(mt_core::time::now_ms())
        ));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.export_job = Some(rx);
        let spawned = std::thread::Builder::new()
            .name("plan-png".into())
            .spawn(move || {
                let r = job.render_png([1600, 1200]).and_then(|png| {
                    write_atomic(&path, &png).map_err(|e| format!("{}: {e}", path.display()))?;
                    Ok(path)
                });
                let _ = tx.send(r);
            });
        if let Err(e) = spawned {
            self.export_job = None;
            self.set_status(e.to_string(), false);
        }
    }

    /// The base layers for this view: tessellated once per scale, moved (one copy) when the
    /// view moves.
    fn base_mesh(&mut self, ctx: &egui::Context, view: &View, center: Pos2) -> Arc<Mesh> {
        let stale = self
            .base
            .as_ref()
            .is_none_or(|b| (b.mpp - view.mpp).abs() > view.mpp * 1e-9);
        if stale {
            let mesh = build_base(&self.data, &self.fills, view, ctx.pixels_per_point());
            self.base = Some(BaseCache {
                mpp: view.mpp,
                origin: view.center,
                mesh: Arc::new(mesh),
                placed: None,
            });
        }
        let b = self.base.as_mut().expect("built above");
        if let Some((c, sc, m)) = &b.placed {
            if *c == view.center && *sc == center {
                return m.clone();
            }
        }
        let o = view.to_screen(b.origin, [center.x, center.y]);
        let mut m = (*b.mesh).clone();
        m.translate(egui::vec2(o[0], o[1]));
        let m = Arc::new(m);
        b.placed = Some((view.center, center, m.clone()));
        m
    }

    #[allow(clippy::too_many_arguments)]
    fn canvas_ui(
        &mut self,
        ui: &mut egui::Ui,
        rect: Rect,
        tr: &Tr,
        live: &LiveCameras<'_>,
        store: Option<&StoreThread>,
        operator: Option<&str>,
        type_name: &dyn Fn(&str) -> String,
        wanted: &mut HashSet<mt_capture::StreamId>,
        cmds: &mut Vec<MapCommand>,
    ) {
        self.canvas = rect;
        let sc = [rect.center().x, rect.center().y];
        if self.view.is_none() {
            self.view = Some(initial_view(
                &self.data,
                &self.sites,
                [rect.width(), rect.height()],
            ));
        }
        let resp = ui.interact(
            rect,
            ui.scope_id().with("map-canvas"),
            Sense::click_and_drag(),
        );
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, tr.t("map-title")));
        let mut view = self.view.expect("set above");

        // Zoom with the wheel (or pinch) around the pointer.
        if resp.hovered() {
            let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            let factor = (scroll as f64 / 400.0).exp() * zoom as f64;
            if (factor - 1.0).abs() > 1e-4 {
                if let Some(p) = resp.hover_pos() {
                    view.zoom_at(factor, [p.x, p.y], sc);
                }
            }
        }
        let tol = 9.0 * view.mpp;
        let hover_world = resp.hover_pos().map(|p| view.to_world([p.x, p.y], sc));
        let hovered_site = hover_world.and_then(|w| self.index.hit(w, tol));
        let editing = matches!(self.mode, MapMode::Edit | MapMode::Plan);

        // Drags: a handle of the selected camera, the camera itself, or the map.
        if resp.drag_started() {
            let origin = ui
                .input(|i| i.pointer.press_origin())
                .unwrap_or_else(|| resp.interact_pointer_pos().unwrap_or(rect.center()));
            self.drag = None;
            if editing {
                if let Some(sel) = self.selected.filter(|&i| self.editable(i)) {
                    let s = &self.sites[sel];
                    let (apex, head, angle) = handles(s, &view, sc);
                    let near = |p: Pos2| p.distance(origin) <= 10.0;
                    let grab = if near(head) {
                        Some(Grab::Heading)
                    } else if near(angle) {
                        Some(Grab::Angle)
                    } else if near(apex) {
                        Some(Grab::Move)
                    } else {
                        None
                    };
                    self.drag = grab.map(|grab| SiteDrag { site: sel, grab });
                }
            }
        }
        if resp.dragged() {
            match (&self.drag, resp.interact_pointer_pos()) {
                (Some(d), Some(p)) => {
                    let w = view.to_world([p.x, p.y], sc);
                    let s = &mut self.sites[d.site];
                    let apex = site_merc(s);
                    match d.grab {
                        Grab::Move => {
                            self.merc[d.site] = w;
                            let (lon, lat) = merc_to_lonlat(w);
                            s.lat_deg = lat;
                            s.lon_deg = lon;
                        }
                        Grab::Heading => {
                            s.heading_deg = bearing(apex, w).round();
                            s.range_m = ground_distance(apex, w).clamp(2.0, 500.0).round();
                        }
                        Grab::Angle => {
                            let diff = (bearing(apex, w) - s.heading_deg + 540.0).rem_euclid(360.0)
                                - 180.0;
                            s.fov_deg = (diff.abs() * 2.0).clamp(5.0, 360.0).round();
                        }
                    }
                    self.coverage_dirty = true;
                    if !s.planned {
                        self.coverage_before_dirty = true;
                    }
                }
                (None, _) => {
                    let d = resp.drag_delta();
                    view.pan(d.x, d.y);
                }
                _ => {}
            }
        }
        if resp.drag_stopped() {
            if let Some(d) = self.drag.take() {
                if d.grab == Grab::Move {
                    let c = site_merc(&self.sites[d.site]);
                    if let Some(w) = self.ward_at(c) {
                        self.sites[d.site].ward = w;
                    }
                }
                self.save_site(store, operator, d.site);
            }
        }

        // Clicks.
        let pin_hit = |me: &Self, w: Coord| -> Option<i64> {
            if !me.show_pins {
                return None;
            }
            me.incidents
                .iter()
                .zip(&me.incident_merc)
                .map(|(p, c)| (p.id, (c.x - w.x).hypot(c.y - w.y)))
                .filter(|(_, d)| *d <= tol)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(id, _)| id)
        };
        if resp.clicked() {
            if let Some(w) = resp
                .interact_pointer_pos()
                .map(|p| view.to_world([p.x, p.y], sc))
            {
                if self.placing {
                    self.placing = false;
                    self.add_planned(w, tr, store, operator);
                } else if let Some(i) = self.index.hit(w, tol) {
                    self.selected = Some(i);
                    let s = &self.sites[i];
                    if self.mode == MapMode::Watch && live.handle(&s.id).is_some() {
                        cmds.push(MapCommand::ShowCamera(s.id.clone()));
                    }
                } else if let Some(id) = pin_hit(self, w) {
                    cmds.push(MapCommand::OpenIncident(id));
                } else {
                    self.selected = None;
                }
            }
        }
        let menu_at = ui.scope_id().with("map-menu-at");
        if resp.secondary_clicked() {
            if let Some(p) = resp.interact_pointer_pos() {
                ui.data_mut(|d| d.insert_temp(menu_at, view.to_world([p.x, p.y], sc)));
            }
        }
        resp.context_menu(|ui| {
            let Some(w) = ui.data(|d| d.get_temp::<Coord>(menu_at)) else {
                return;
            };
            // A live camera under the pointer: to the second screen.
            if let Some(s) = self
                .index
                .hit(w, tol)
                .map(|i| &self.sites[i])
                .filter(|s| live.second_open && live.handle(&s.id).is_some())
            {
                if ui
                    .button(tr.t_args("map-send-second", &[("camera", s.name.clone().into())]))
                    .clicked()
                {
                    cmds.push(MapCommand::SendToSecond(s.id.clone()));
                    ui.close();
                }
            }
            if self.may(mt_store::Right::Incident) && ui.button(tr.t("map-new-incident")).clicked()
            {
                let (lon, lat) = merc_to_lonlat(w);
                let near: Vec<String> = self
                    .index
                    .in_rect(
                        Coord {
                            x: w.x - 60.0,
                            y: w.y - 60.0,
                        },
                        Coord {
                            x: w.x + 60.0,
                            y: w.y + 60.0,
                        },
                    )
                    .map(|i| &self.sites[i])
                    .filter(|s| !s.planned)
                    .map(|s| s.id.clone())
                    .collect();
                cmds.push(MapCommand::NewIncidentAt {
                    lat,
                    lon,
                    ward: self.ward_at(w).unwrap_or_default(),
                    cameras: near,
                });
                ui.close();
            }
            if self.may(mt_store::Right::Search) && ui.button(tr.t("trace-here")).clicked() {
                // From an incident pin under the pointer: its place and time; else the point, now.
                let pin = pin_hit(self, w).and_then(|id| {
                    let k = self.incidents.iter().position(|p| p.id == id)?;
                    Some((id, self.incident_merc[k], self.incidents[k].occurred_ms))
                });
                self.trace = Some(match pin {
                    Some((id, at, t)) => crate::trace::TracePanel::new(at, t, Some(id)),
                    None => {
                        crate::trace::TracePanel::new(w, mt_record::now_ms() - 5 * 60_000, None)
                    }
                });
                ui.close();
            }
            if ui.button(tr.t("plan-place-here")).clicked() {
                self.add_planned(w, tr, store, operator);
                self.mode = MapMode::Plan;
                ui.close();
            }
        });

        self.view = Some(view);
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, MAP_BG);
        self.draw_basemap(ui.ctx(), &painter, rect, &view);
        let mesh = self.base_mesh(ui.ctx(), &view, rect.center());
        painter.add(Shape::Mesh(mesh));
        if self.mode == MapMode::Plan {
            self.ensure_coverage();
            if let Some((_, after)) = &self.coverage {
                draw_gaps(&painter, &view, sc, after, self.highlight_gap);
            }
        }
        if self.show_heat {
            self.draw_heat(&painter, rect, &view);
        }
        let visible = self.draw_sites(&painter, rect, &view, live, hovered_site);
        draw_labels(&painter, &self.labels, &view, sc, rect);
        if self.show_pins {
            draw_pins(
                &painter,
                &self.incidents,
                &self.incident_merc,
                &view,
                sc,
                rect,
            );
        }
        // Live pictures at the cameras' places when zoomed in enough to fit them.
        if view.mpp < 0.8 {
            let mut shown = 0;
            for &i in &visible {
                let s = &self.sites[i];
                let Some(h) = live.handle(&s.id) else {
                    continue;
                };
                let stream = h.health_stream();
                wanted.insert(stream.id);
                if let Some(frame) = stream.latest() {
                    let p = view.to_screen(site_merc(s), sc);
                    let r = Rect::from_center_size(
                        egui::pos2(p[0], p[1] - 52.0),
                        egui::vec2(128.0, 72.0),
                    );
                    if rect.contains_rect(r) {
                        painter.rect_filled(r.expand(2.0), 2.0, Color32::BLACK);
                        painter.add(egui_wgpu::Callback::new_paint_callback(
                            fit_aspect(r, frame.width, frame.height),
                            VideoCallback {
                                source: stream.slot.clone(),
                                crop: None,
                            },
                        ));
                    }
                }
                shown += 1;
                if shown >= 12 {
                    break;
                }
            }
        }
        if editing {
            if let Some(sel) = self.selected.filter(|&i| self.editable(i)) {
                let (apex, head, angle) = handles(&self.sites[sel], &view, sc);
                let st = Stroke::new(2.0, Color32::BLACK);
                painter.line_segment([apex, head], Stroke::new(1.5, Color32::WHITE));
                painter.circle(head, 6.0, Color32::from_rgb(250, 200, 40), st);
                painter.circle(angle, 5.0, Color32::from_rgb(120, 220, 250), st);
                painter.circle_stroke(apex, 9.0, Stroke::new(2.0, Color32::WHITE));
            }
        }
        draw_scale_and_attribution(&painter, rect, &view, &self.data.attribution, tr);
        self.draw_legend(&painter, rect, tr);
        if let Some((msg, ok, at)) = &self.status {
            if at.elapsed() < Duration::from_secs(6) {
                let c = if *ok {
                    Color32::from_rgb(120, 220, 140)
                } else {
                    Color32::from_rgb(250, 120, 120)
                };
                let r = painter.text(
                    rect.center_top() + egui::vec2(0.0, 8.0),
                    Align2::CENTER_TOP,
                    msg,
                    FontId::proportional(13.0),
                    c,
                );
                painter.rect_filled(r.expand(4.0), 3.0, Color32::from_black_alpha(200));
                painter.text(r.min, Align2::LEFT_TOP, msg, FontId::proportional(13.0), c);
            }
        }
        if !self.load_errors.is_empty() {
            painter.text(
                rect.left_top() + egui::vec2(8.0, 8.0),
                Align2::LEFT_TOP,
                tr.t_args("map-errors", &[("count", self.load_errors.len().into())]),
                FontId::proportional(12.0),
                Color32::from_rgb(230, 160, 40),
            );
        }

        // Hover: the camera's name, state and live picture; or the incident.
        if let Some(i) = hovered_site.filter(|_| self.drag.is_none()) {
            let s = &self.sites[i];
            let state = self.state_of(s, live);
            let stream = live.handle(&s.id).map(|h| h.health_stream().clone());
            if let Some(st) = &stream {
                wanted.insert(st.id);
            }
            resp.clone().on_hover_ui_at_pointer(|ui| {
                ui.strong(&s.name);
                ui.colored_label(state.color(), tr.t(state.key()));
                ui.small(format!(
                    "{} · {} · {}",
                    tr.t(s.owner_kind.key()),
                    tr.t(s.sharing.key()),
                    s.address
                ));
                if let Some(frame) = stream.as_ref().and_then(|st| st.latest()) {
                    let (r, _) = ui.allocate_exact_size(egui::vec2(256.0, 144.0), Sense::hover());
                    ui.painter().rect_filled(r, 0.0, Color32::BLACK);
                    ui.painter().add(egui_wgpu::Callback::new_paint_callback(
                        fit_aspect(r, frame.width, frame.height),
                        VideoCallback {
                            source: stream.as_ref().expect("has a frame").slot.clone(),
                            crop: None,
                        },
                    ));
                }
                if self.mode == MapMode::Watch && stream.is_some() {
                    ui.weak(tr.t("map-click-to-wall"));
                }
            });
        } else if let Some(id) = hover_world.and_then(|w| pin_hit(self, w)) {
            if let Some(p) = self.incidents.iter().find(|p| p.id == id) {
                resp.clone().on_hover_ui_at_pointer(|ui| {
                    ui.strong(format!("#{} {}", p.id, p.title));
                    ui.label(type_name(&p.type_code));
                    ui.small(crate::log::format_time(p.occurred_ms));
                });
            }
        }
        if resp.hovered() && (self.placing || hovered_site.is_some()) {
            ui.ctx().set_cursor_icon(if self.placing {
                egui::CursorIcon::Crosshair
            } else {
                egui::CursorIcon::PointingHand
            });
        }
    }

    fn editable(&self, i: usize) -> bool {
        match self.mode {
            MapMode::Edit => i < self.sites.len(),
            MapMode::Plan => self.sites.get(i).is_some_and(|s| s.planned),
            MapMode::Watch => false,
        }
    }

    /// Draws the fields of view and icons of the cameras in view; returns their indices.
    fn draw_sites(
        &self,
        painter: &egui::Painter,
        rect: Rect,
        view: &View,
        live: &LiveCameras<'_>,
        hovered: Option<usize>,
    ) -> Vec<usize> {
        let sc = [rect.center().x, rect.center().y];
        // Cones reach up to 500 m beyond the camera: widen the query so they are not cut off.
        let (mut lo, mut hi) = view.world_bounds([rect.width(), rect.height()]);
        let pad = 520.0 / ground_scale(view.center.y);
        lo.x -= pad;
        lo.y -= pad;
        hi.x += pad;
        hi.y += pad;
        let visible: Vec<usize> = self.index.in_rect(lo, hi).collect();
        let mut cones = Mesh::default();
        cones.reserve_triangles(visible.len() * 8);
        cones.reserve_vertices(visible.len() * 10);
        let mut outlines = Vec::new();
        // Icons go into one mesh of small polygons: thousands of egui circles with strokes
        // cost several milliseconds of tessellation a frame (matthan-bench map).
        let mut icons = Mesh::default();
        icons.reserve_triangles(visible.len() * 20);
        icons.reserve_vertices(visible.len() * 22);
        let mut rings = Vec::new();
        for &i in &visible {
            let s = &self.sites[i];
            let state = self.state_of(s, live);
            let c = self.merc[i];
            let p = view.to_screen(c, sc);
            let p = egui::pos2(p[0], p[1]);
            let r_px = (range_merc(s, c) / view.mpp) as f32;
            let color = state.color();
            if r_px >= 5.0 {
                // Level of detail: a small cone needs few arc points.
                let per_step = if r_px < 12.0 {
                    30.0
                } else if r_px < 40.0 {
                    15.0
                } else {
                    6.0
                };
                let steps = ((s.fov_deg / per_step).ceil() as usize).clamp(2, 36);
                let fill = color.gamma_multiply(if state == SiteState::Planned {
                    0.30
                } else {
                    0.40
                });
                let base = cones.vertices.len() as u32;
                cones.colored_vertex(p, fill);
                let start = live.heading(s) - s.fov_deg / 2.0;
                for k in 0..=steps {
                    let d = bearing_vector(start + s.fov_deg * k as f64 / steps as f64);
                    cones.colored_vertex(
                        p + egui::vec2(d.x as f32 * r_px, -d.y as f32 * r_px),
                        fill,
                    );
                    if k > 0 {
                        cones.add_triangle(base, base + k as u32, base + k as u32 + 1);
                    }
                }
                // Outlines only where a cone is big enough to read; far out the fill says it.
                if r_px >= 30.0 || (r_px >= 10.0 && visible.len() < 400) {
                    let mut arc: Vec<Pos2> = cones.vertices[base as usize..]
                        .iter()
                        .map(|v| v.pos)
                        .collect();
                    if s.fov_deg < 359.9 {
                        arc.push(p);
                    }
                    outlines.push(Shape::line(
                        arc,
                        Stroke::new(1.0, color.gamma_multiply(0.8)),
                    ));
                }
            }
            let big = Some(i) == hovered || Some(i) == self.selected;
            let radius = if big {
                6.5
            } else if view.mpp > 8.0 {
                2.5
            } else {
                4.5
            };
            if state == SiteState::Planned {
                rings.push(Shape::Circle(CircleShape::stroke(
                    p,
                    radius,
                    Stroke::new(2.0, color),
                )));
            } else {
                let n = if radius < 3.0 { 6 } else { 10 };
                if view.mpp <= 8.0 {
                    disc(&mut icons, p, radius + 1.0, Color32::BLACK, n);
                }
                disc(&mut icons, p, radius, color, n);
            }
            if live.is_ptz(&s.id) {
                // A PTZ camera: a white ring with a tick where it points now.
                let r = radius + 2.5;
                rings.push(Shape::circle_stroke(p, r, Stroke::new(1.5, Color32::WHITE)));
                let d = bearing_vector(live.heading(s));
                let dir = egui::vec2(d.x as f32, -d.y as f32);
                rings.push(Shape::line_segment(
                    [p + dir * r, p + dir * (r + 5.0)],
                    Stroke::new(2.0, Color32::WHITE),
                ));
            }
            if Some(i) == self.selected {
                rings.push(Shape::circle_stroke(
                    p,
                    radius + 3.0,
                    Stroke::new(2.0, Color32::YELLOW),
                ));
            }
        }
        painter.add(Shape::mesh(cones));
        painter.extend(outlines);
        painter.add(Shape::mesh(icons));
        painter.extend(rings);
        visible
    }

    fn draw_heat(&self, painter: &egui::Painter, rect: Rect, view: &View) {
        const CELL: f32 = 24.0;
        let cols = (rect.width() / CELL).ceil() as usize + 1;
        let rows = (rect.height() / CELL).ceil() as usize + 1;
        let mut grid = vec![0.0f32; cols * rows];
        let sc = [rect.center().x, rect.center().y];
        for c in &self.incident_merc {
            let s = view.to_screen(*c, sc);
            let cx = ((s[0] - rect.left()) / CELL).floor() as i64;
            let cy = ((s[1] - rect.top()) / CELL).floor() as i64;
            // A 5×5 kernel so single incidents read as a soft spot.
            for dy in -2i64..=2 {
                for dx in -2i64..=2 {
                    let (x, y) = (cx + dx, cy + dy);
                    if x >= 0 && y >= 0 && (x as usize) < cols && (y as usize) < rows {
                        let w = 1.0 / (1.0 + (dx * dx + dy * dy) as f32);
                        grid[y as usize * cols + x as usize] += w;
                    }
                }
            }
        }
        let max = grid.iter().cloned().fold(0.0f32, f32::max);
        if max <= 0.0 {
            return;
        }
        let mut mesh = Mesh::default();
        for y in 0..rows {
            for x in 0..cols {
                let v = grid[y * cols + x] / max;
                if v < 0.05 {
                    continue;
                }
                let r = Rect::from_min_size(
                    rect.min + egui::vec2(x as f32 * CELL, y as f32 * CELL),
                    egui::vec2(CELL, CELL),
                );
                let c = heat_color(v);
                mesh.add_colored_rect(r, c);
            }
        }
        painter.add(Shape::mesh(mesh));
    }

    fn draw_legend(&self, painter: &egui::Painter, rect: Rect, tr: &Tr) {
        let mut y = rect.bottom() - 40.0;
        for st in [
            SiteState::Planned,
            SiteState::Offline,
            SiteState::Lost,
            SiteState::Live,
        ] {
            let p = egui::pos2(rect.left() + 14.0, y);
            painter.circle(p, 5.0, st.color(), Stroke::new(1.0, Color32::BLACK));
            painter.text(
                p + egui::vec2(10.0, 0.0),
                Align2::LEFT_CENTER,
                tr.t(st.key()),
                FontId::proportional(12.0),
                Color32::from_gray(230),
            );
            y -= 18.0;
        }
    }

    /// Raster basemap tiles under the vector layers (MBTiles), decoded on first use.
    fn draw_basemap(
        &mut self,
        ctx: &egui::Context,
        painter: &egui::Painter,
        rect: Rect,
        view: &View,
    ) {
        let (Some(mb), Some(bm)) = (&self.data.basemap, self.basemap.as_mut()) else {
            return;
        };
        let z = view.tile_zoom().clamp(mb.min_zoom, mb.max_zoom);
        let (lo, hi) = view.world_bounds([rect.width(), rect.height()]);
        let (x0, y0) = mt_map::proj::tile_of(Coord { x: lo.x, y: hi.y }, z);
        let (x1, y1) = mt_map::proj::tile_of(Coord { x: hi.x, y: lo.y }, z);
        let sc = [rect.center().x, rect.center().y];
        for y in y0..=y1.min(y0 + 16) {
            for x in x0..=x1.min(x0 + 16) {
                // Read and decoded on the "map-tiles" thread; drawn once it has arrived.
                if let Some(t) = bm.tile(ctx, (z, x, y)) {
                    let (tmin, tmax) = mt_map::proj::tile_bounds(z, x, y);
                    let a = view.to_screen(
                        Coord {
                            x: tmin.x,
                            y: tmax.y,
                        },
                        sc,
                    );
                    let b = view.to_screen(
                        Coord {
                            x: tmax.x,
                            y: tmin.y,
                        },
                        sc,
                    );
                    painter.image(
                        t.id(),
                        Rect::from_min_max(egui::pos2(a[0], a[1]), egui::pos2(b[0], b[1])),
                        Rect::from_min_max(Pos2::ZERO, egui::pos2(1.0, 1.0)),
                        Color32::from_white_alpha(200),
                    );
                }
            }
        }
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

/// A filled n-gon: reads as a dot at icon sizes.
fn disc(mesh: &mut Mesh, c: Pos2, r: f32, color: Color32, n: u32) {
    let base = mesh.vertices.len() as u32;
    mesh.colored_vertex(c, color);
    for k in 0..n {
        let a = k as f32 * std::f32::consts::TAU / n as f32;
        mesh.colored_vertex(c + egui::vec2(a.cos() * r, a.sin() * r), color);
        mesh.add_triangle(base, base + 1 + k, base + 1 + (k + 1) % n);
    }
}

fn heat_color(v: f32) -> Color32 {
    let v = v.clamp(0.0, 1.0);
    let r = 255;
    let g = (220.0 * (1.0 - v)) as u8;
    let a = (60.0 + 120.0 * v) as u8;
    Color32::from_rgba_unmultiplied(r, g, 40, a)
}

/// Screen positions of the selected camera's apex, heading handle (cone tip) and angle
/// handle (on the cone's right edge).
fn handles(s: &CameraSite, view: &View, sc: [f32; 2]) -> (Pos2, Pos2, Pos2) {
    let c = site_merc(s);
    let r = range_merc(s, c);
    let at = |deg: f64, k: f64| {
        let d = bearing_vector(deg);
        let p = view.to_screen(
            Coord {
                x: c.x + d.x * r * k,
                y: c.y + d.y * r * k,
            },
            sc,
        );
        egui::pos2(p[0], p[1])
    };
    let apex = view.to_screen(c, sc);
    (
        egui::pos2(apex[0], apex[1]),
        at(s.heading_deg, 1.0),
        at(s.heading_deg + s.fov_deg / 2.0, 0.7),
    )
}

/// Screen position of the selected camera's handles, for tests: (apex, heading, angle).
pub fn handle_positions(map: &MapUi, i: usize) -> Option<(Pos2, Pos2, Pos2)> {
    let view = map.view?;
    let sc = [map.canvas.center().x, map.canvas.center().y];
    Some(handles(map.sites.get(i)?, &view, sc))
}

/// Screen position of a site on the last frame's canvas.
pub fn site_position(map: &MapUi, i: usize) -> Option<Pos2> {
    let view = map.view?;
    let p = view.to_screen(
        site_merc(map.sites.get(i)?),
        [map.canvas.center().x, map.canvas.center().y],
    );
    Some(egui::pos2(p[0], p[1]))
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

/// Triangulated area fills (once, at load) and the labels of areas, streets and places.
fn area_fills_and_labels(data: &MapData) -> (Vec<AreaFill>, Vec<Label>) {
    let mut fills = Vec::new();
    let mut labels = Vec::new();
    let mut area_no = 0;
    for layer in &data.layers {
        for f in &layer.features {
            match (&f.geom, layer.kind) {
                (Geometry::Polygon(_) | Geometry::MultiPolygon(_), Kind::Area) => {
                    let polys: Vec<&geo::Polygon> = match &f.geom {
                        Geometry::Polygon(p) => vec![p],
                        Geometry::MultiPolygon(m) => m.0.iter().collect(),
                        _ => vec![],
                    };
                    let color = WARD_FILLS[area_no % WARD_FILLS.len()];
                    area_no += 1;
                    for p in polys {
                        let raw = p.earcut_triangles_raw();
                        fills.push(AreaFill {
                            verts: raw
                                .vertices
                                .iter()
                                .map(|c| Coord { x: c[0], y: c[1] })
                                .collect(),
                            indices: raw.triangle_indices.iter().map(|&i| i as u32).collect(),
                            color,
                        });
                    }
                    if let (Some(c), false) = (f.geom.centroid(), f.name.is_empty()) {
                        labels.push(Label {
                            at: c.0,
                            text: f.name.clone(),
                            kind: Kind::Area,
                        });
                    }
                }
                (Geometry::LineString(ls), Kind::Road) if !f.name.is_empty() => {
                    if !labels
                        .iter()
                        .any(|l| l.kind == Kind::Road && l.text == f.name)
                    {
                        labels.push(Label {
                            at: ls.0[ls.0.len() / 2],
                            text: f.name.clone(),
                            kind: Kind::Road,
                        });
                    }
                }
                (Geometry::Point(p), Kind::Poi) if !f.name.is_empty() => labels.push(Label {
                    at: p.0,
                    text: f.name.clone(),
                    kind: Kind::Poi,
                }),
                _ => {}
            }
        }
    }
    (fills, labels)
}

/// Tessellates the vector layers at the view's scale, relative to its centre (screen 0,0).
fn build_base(data: &MapData, fills: &[AreaFill], view: &View, ppp: f32) -> Mesh {
    let sc = [0.0f32, 0.0];
    let to = |c: Coord| {
        let p = view.to_screen(c, sc);
        egui::pos2(p[0], p[1])
    };
    let mut mesh = Mesh::default();
    for f in fills {
        let base = mesh.vertices.len() as u32;
        for v in &f.verts {
            mesh.colored_vertex(to(*v), f.color);
        }
        for t in f.indices.chunks_exact(3) {
            mesh.add_triangle(base + t[0], base + t[1], base + t[2]);
        }
    }
    let mut tess = Tessellator::new(ppp, Default::default(), [1, 1], Vec::new());
    let ground_px = 1.0 / (view.mpp / ground_scale(view.center.y));
    for layer in &data.layers {
        for f in &layer.features {
            match (&f.geom, layer.kind) {
                (Geometry::Polygon(_) | Geometry::MultiPolygon(_), _) => {
                    let polys: Vec<&geo::Polygon> = match &f.geom {
                        Geometry::Polygon(p) => vec![p],
                        Geometry::MultiPolygon(m) => m.0.iter().collect(),
                        _ => vec![],
                    };
                    for p in polys {
                        for ring in mt_map::layer::polygon_rings(p) {
                            let pts: Vec<Pos2> = ring.0.iter().map(|c| to(*c)).collect();
                            tess.tessellate_path(
                                &PathShape::closed_line(
                                    pts,
                                    PathStroke::new(1.5, Color32::from_rgb(150, 160, 180)),
                                ),
                                &mut mesh,
                            );
                        }
                    }
                }
                (Geometry::LineString(_) | Geometry::MultiLineString(_), _) => {
                    let lines: Vec<&LineString> = match &f.geom {
                        Geometry::LineString(l) => vec![l],
                        Geometry::MultiLineString(m) => m.0.iter().collect(),
                        _ => vec![],
                    };
                    let major = matches!(
                        f.category.as_str(),
                        "motorway" | "trunk" | "primary" | "secondary"
                    );
                    let ground_w = if major { 24.0 } else { 8.0 };
                    let w =
                        (ground_w * ground_px as f32).clamp(if major { 2.5 } else { 1.2 }, 28.0);
                    let (casing, fill) = if major {
                        (
                            Color32::from_rgb(90, 70, 30),
                            Color32::from_rgb(230, 180, 80),
                        )
                    } else {
                        (
                            Color32::from_rgb(60, 64, 72),
                            Color32::from_rgb(200, 200, 205),
                        )
                    };
                    for l in lines {
                        let pts: Vec<Pos2> = l.0.iter().map(|c| to(*c)).collect();
                        tess.tessellate_path(
                            &PathShape::line(pts.clone(), PathStroke::new(w + 2.0, casing)),
                            &mut mesh,
                        );
                        tess.tessellate_path(
                            &PathShape::line(pts, PathStroke::new(w, fill)),
                            &mut mesh,
                        );
                    }
                }
                (Geometry::Point(p), _) => {
                    tess.tessellate_circle(
                        CircleShape {
                            center: to(p.0),
                            radius: 3.0,
                            fill: poi_color(&f.category),
                            stroke: Stroke::new(1.0, Color32::from_gray(20)),
                        },
                        &mut mesh,
                    );
                }
                (Geometry::MultiPoint(m), _) => {
                    for p in &m.0 {
                        tess.tessellate_circle(
                            CircleShape::filled(to(p.0), 3.0, poi_color(&f.category)),
                            &mut mesh,
                        );
                    }
                }
                _ => {}
            }
        }
    }
    mesh
}

fn poi_color(category: &str) -> Color32 {
    match category {
        "bus_stops" | "bus_stop" => Color32::from_rgb(70, 200, 200),
        "universities" | "high_schools" | "school" => Color32::from_rgb(250, 210, 90),
        "metro" => Color32::from_rgb(220, 90, 220),
        "hospitals" | "hospital" | "clinic" => Color32::from_rgb(250, 100, 100),
        "market" => Color32::from_rgb(120, 220, 120),
        "police" => Color32::from_rgb(200, 160, 255),
        _ => Color32::from_rgb(200, 200, 200),
    }
}

fn draw_gaps(
    painter: &egui::Painter,
    view: &View,
    sc: [f32; 2],
    cov: &Coverage,
    highlight: Option<usize>,
) {
    for (k, g) in cov.gaps.iter().enumerate() {
        let pts: Vec<Pos2> = g
            .coords
            .iter()
            .map(|c| {
                let p = view.to_screen(*c, sc);
                egui::pos2(p[0], p[1])
            })
            .collect();
        let w = if highlight == Some(k) { 7.0 } else { 3.5 };
        if highlight == Some(k) {
            painter.add(Shape::line(
                pts.clone(),
                Stroke::new(w + 4.0, Color32::WHITE),
            ));
        }
        painter.add(Shape::line(pts, Stroke::new(w, GAP_COLOR)));
    }
}

fn draw_labels(painter: &egui::Painter, labels: &[Label], view: &View, sc: [f32; 2], rect: Rect) {
    for l in labels {
        let show = match l.kind {
            Kind::Area => true,
            Kind::Road => view.mpp < 6.0,
            Kind::Poi => view.mpp < 1.5,
        };
        if !show {
            continue;
        }
        let p = view.to_screen(l.at, sc);
        let p = egui::pos2(p[0], p[1]);
        if !rect.contains(p) {
            continue;
        }
        let (size, color, align, off) = match l.kind {
            Kind::Area => (
                15.0,
                Color32::from_rgba_unmultiplied(235, 235, 245, 200),
                Align2::CENTER_CENTER,
                Vec2::ZERO,
            ),
            Kind::Road => (
                11.0,
                Color32::from_rgb(250, 235, 200),
                Align2::CENTER_BOTTOM,
                egui::vec2(0.0, -4.0),
            ),
            Kind::Poi => (
                11.0,
                Color32::from_gray(220),
                Align2::LEFT_CENTER,
                egui::vec2(6.0, 0.0),
            ),
        };
        // A dark halo keeps labels readable over cones and roads.
        let font = FontId::proportional(size);
        for d in [egui::vec2(1.0, 1.0), egui::vec2(-1.0, -1.0)] {
            painter.text(
                p + off + d,
                align,
                &l.text,
                font.clone(),
                Color32::from_black_alpha(200),
            );
        }
        painter.text(p + off, align, &l.text, font, color);
    }
}

fn pin_color(type_code: &str) -> Color32 {
    const PALETTE: [Color32; 8] = [
        Color32::from_rgb(255, 99, 71),
        Color32::from_rgb(255, 165, 0),
        Color32::from_rgb(186, 85, 211),
        Color32::from_rgb(30, 144, 255),
        Color32::from_rgb(50, 205, 50),
        Color32::from_rgb(255, 215, 0),
        Color32::from_rgb(0, 206, 209),
        Color32::from_rgb(240, 128, 128),
    ];
    let h = type_code
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
    PALETTE[h as usize % PALETTE.len()]
}

fn draw_pins(
    painter: &egui::Painter,
    pins: &[IncidentPlace],
    merc: &[Coord],
    view: &View,
    sc: [f32; 2],
    rect: Rect,
) {
    for (p, c) in pins.iter().zip(merc) {
        let s = view.to_screen(*c, sc);
        let s = egui::pos2(s[0], s[1]);
        if !rect.contains(s) {
            continue;
        }
        let fill = pin_color(&p.type_code);
        // Status: new = white ring, in progress = yellow, transferred = blue, closed = faded.
        let (fill, ring) = match p.status {
            mt_store::Status::New => (fill, Color32::WHITE),
            mt_store::Status::InProgress => (fill, Color32::from_rgb(250, 210, 60)),
            mt_store::Status::Transferred => (fill, Color32::from_rgb(90, 150, 255)),
            mt_store::Status::Closed => (fill.gamma_multiply(0.35), Color32::from_gray(110)),
        };
        // A diamond, so pins never read as cameras.
        let r = 6.0;
        painter.add(Shape::convex_polygon(
            vec![
                s + egui::vec2(0.0, -r),
                s + egui::vec2(r, 0.0),
                s + egui::vec2(0.0, r),
                s + egui::vec2(-r, 0.0),
            ],
            fill,
            Stroke::new(2.0, ring),
        ));
    }
}

fn draw_scale_and_attribution(
    painter: &egui::Painter,
    rect: Rect,
    view: &View,
    attribution: &[String],
    tr: &Tr,
) {
    // Scale bar: the round ground length closest to 120 points.
    let m_per_pt = view.mpp * ground_scale(view.center.y);
    let target = 120.0 * m_per_pt;
    let nice = [1.0, 2.0, 5.0]
        .iter()
        .flat_map(|m| (0..6).map(move |e| m * 10f64.powi(e)))
        .filter(|&v| v <= target)
        .fold(1.0, f64::max);
    let w = (nice / m_per_pt) as f32;
    let y = rect.bottom() - 12.0;
    let x0 = rect.left() + 120.0;
    painter.line_segment(
        [egui::pos2(x0, y), egui::pos2(x0 + w, y)],
        Stroke::new(3.0, Color32::WHITE),
    );
    painter.text(
        egui::pos2(x0 + w / 2.0, y - 4.0),
        Align2::CENTER_BOTTOM,
        if nice >= 1000.0 {
            format!("{} km", nice / 1000.0)
        } else {
            format!("{nice} m")
        },
        FontId::proportional(11.0),
        Color32::WHITE,
    );
    let text = if attribution.is_empty() {
        tr.t("map-attribution-own")
    } else {
        attribution.join(" · ")
    };
    let r = painter.text(
        rect.right_bottom() - egui::vec2(6.0, 4.0),
        Align2::RIGHT_BOTTOM,
        &text,
        FontId::proportional(11.0),
        Color32::from_gray(230),
    );
    painter.rect_filled(r.expand(3.0), 2.0, Color32::from_black_alpha(170));
    painter.text(
        r.min,
        Align2::LEFT_TOP,
        text,
        FontId::proportional(11.0),
        Color32::from_gray(230),
    );
    painter.rect_stroke(
        rect,
        0.0,
        Stroke::new(1.0, Color32::from_gray(50)),
        StrokeKind::Inside,
    );
}

fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// What the PNG export draws: the plan at the current view (or the whole map), with a title
/// and legend. Plain data, so it can be rendered on a worker thread.
pub struct PlanImage {
    pub data: Arc<MapData>,
    pub sites: Vec<CameraSite>,
    pub after: Coverage,
    pub title: String,
    pub legend: Vec<(Color32, String)>,
    pub view: Option<View>,
}

impl PlanImage {
    /// Draws the plan into a painter covering `rect`.
    pub fn paint(&self, painter: &egui::Painter, rect: Rect) {
        let size = [rect.width(), rect.height()];
        let view = self
            .view
            .map(|v| View {
                // Same centre; the scale that shows what the officer saw across the image.
                center: v.center,
                mpp: v.mpp,
            })
            .unwrap_or_else(|| initial_view(&self.data, &self.sites, size));
        let sc = [rect.center().x, rect.center().y];
        painter.rect_filled(rect, 0.0, MAP_BG);
        let (fills, _) = area_fills_and_labels(&self.data);
        let mut mesh = build_base(&self.data, &fills, &view, 1.0);
        mesh.translate(rect.center().to_vec2());
        painter.add(Shape::mesh(mesh));
        draw_gaps(painter, &view, sc, &self.after, None);
        for s in &self.sites {
            let c = site_merc(s);
            let p = view.to_screen(c, sc);
            let p = egui::pos2(p[0], p[1]);
            let color = if s.planned {
                SiteState::Planned.color()
            } else {
                SiteState::Live.color()
            };
            let r_px = (range_merc(s, c) / view.mpp) as f32;
            if r_px >= 3.0 {
                let start = s.heading_deg - s.fov_deg / 2.0;
                let mut pts = vec![p];
                for k in 0..=12 {
                    let d = bearing_vector(start + s.fov_deg * k as f64 / 12.0);
                    pts.push(p + egui::vec2(d.x as f32 * r_px, -d.y as f32 * r_px));
                }
                let mut m = Mesh::default();
                for q in &pts {
                    m.colored_vertex(*q, color.gamma_multiply(0.3));
                }
                for k in 1..pts.len() as u32 - 1 {
                    m.add_triangle(0, k, k + 1);
                }
                painter.add(Shape::mesh(m));
            }
            painter.circle(p, 4.0, color, Stroke::new(1.0, Color32::BLACK));
        }
        let title_r = Rect::from_min_size(rect.min, egui::vec2(rect.width(), 34.0));
        painter.rect_filled(title_r, 0.0, Color32::from_black_alpha(200));
        painter.text(
            title_r.left_center() + egui::vec2(10.0, 0.0),
            Align2::LEFT_CENTER,
            &self.title,
            FontId::proportional(18.0),
            Color32::WHITE,
        );
        let mut y = rect.bottom() - 40.0;
        for (c, label) in &self.legend {
            let p = egui::pos2(rect.left() + 16.0, y);
            painter.circle_filled(p, 6.0, *c);
            painter.text(
                p + egui::vec2(12.0, 0.0),
                Align2::LEFT_CENTER,
                label,
                FontId::proportional(14.0),
                Color32::WHITE,
            );
            y -= 22.0;
        }
        let attribution = self.data.attribution.join(" · ");
        painter.text(
            rect.right_bottom() - egui::vec2(8.0, 6.0),
            Align2::RIGHT_BOTTOM,
            attribution,
            FontId::proportional(12.0),
            Color32::from_gray(230),
        );
    }

    /// Renders the plan off screen to PNG bytes.
    pub fn render_png(&self, size: [u32; 2]) -> Result<Vec<u8>, String> {
        let off = mt_render::offscreen::Offscreen::new().map_err(|e| e.to_string())?;
        let ctx = egui::Context::default();
        crate::i18n::install_fonts(&ctx);
        let mut px = Vec::new();
        // Two frames: the first loads the fonts.
        for _ in 0..2 {
            px = off
                .render(&ctx, size, |ui| {
                    let rect = ui.max_rect();
                    self.paint(ui.painter(), rect);
                })
                .map_err(|e| e.to_string())?;
        }
        let img = image::RgbaImage::from_raw(size[0], size[1], px)
            .ok_or_else(|| "pixel buffer size".to_string())?;
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        Ok(out.into_inner())
    }
}
