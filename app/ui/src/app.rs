//! The workstation window: top bar, camera list (left), wall (centre), health panel (bottom).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Align2, Color32, FontId, Key, Rect, RichText, Sense, Stroke, StrokeKind};
use fluent_bundle::FluentValue;
use mt_capture::{CameraHandle, StreamShared};
use mt_core::{text, StreamState};
use mt_render::VideoCallback;
use serde::{Deserialize, Serialize};

use crate::i18n::{Lang, Tr};
use crate::layout::{fit_aspect, WallLayout};

/// What survives a restart: layout, which camera is on which tile, language, panels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WallState {
    pub layout: WallLayout,
    /// Camera id per tile (index = tile number − 1). Longer than the layout's tile count is
    /// fine: switching to a smaller layout and back keeps the assignments.
    pub tiles: Vec<Option<String>>,
    pub lang: Lang,
    pub show_health: bool,
    /// What the centre of the window shows: the wall, the map, or both side by side.
    pub view: CentralView,
    /// Named layouts with their cameras.
    pub views: Vec<crate::views::SavedView>,
    /// The camera tour running on a tile, if any (it goes on after a restart).
    pub tour: Option<crate::views::Tour>,
    /// The second monitor's wall, when it is open (reopened after a restart).
    pub second: Option<SecondWall>,
}

/// What the second monitor's window shows: its own layout and tiles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecondWall {
    /// Closing the window keeps its layout and tiles for the next time it is opened.
    pub open: bool,
    pub layout: WallLayout,
    pub tiles: Vec<Option<String>>,
    /// Where its window's outer top-left corner was last (points), to reopen it there.
    pub pos: Option<[f32; 2]>,
}

impl Default for SecondWall {
    fn default() -> Self {
        SecondWall {
            open: true,
            layout: WallLayout::G2,
            tiles: Vec::new(),
            pos: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CentralView {
    #[default]
    Wall,
    Map,
    Split,
}

impl CentralView {
    pub const ALL: [CentralView; 3] = [CentralView::Wall, CentralView::Map, CentralView::Split];
    pub fn key(self) -> &'static str {
        match self {
            CentralView::Wall => "view-wall",
            CentralView::Map => "view-map",
            CentralView::Split => "view-split",
        }
    }
    fn next(self) -> Self {
        match self {
            CentralView::Wall => CentralView::Map,
            CentralView::Map => CentralView::Split,
            CentralView::Split => CentralView::Wall,
        }
    }
}

impl Default for WallState {
    fn default() -> Self {
        WallState {
            layout: WallLayout::G4,
            tiles: Vec::new(),
            lang: Lang::Vi,
            show_health: true,
            view: CentralView::Wall,
            views: Vec::new(),
            tour: None,
            second: None,
        }
    }
}

impl WallState {
    /// Loads the saved state; a missing or unreadable file gives the default (logged).
    pub fn load(path: &std::path::Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str::<WallState>(&text) {
            Ok(mut s) => {
                // A hand-edited file: a tour on no tile is dropped rather than trusted.
                if s.tour.as_ref().is_some_and(|t| t.tile >= 64) {
                    s.tour = None;
                }
                Some(s)
            }
            Err(e) => {
                // Kept beside, not overwritten by the next save: saved views live in it.
                let bad = path.with_extension(format!("json.bad-{}", mt_core::time::now_ms()));
                let kept = std::fs::rename(path, &bad).is_ok();
                tracing::warn!(
                    "{}: unreadable wall state ({e}); {}",
                    path.display(),
                    if kept {
                        format!("kept as {}", bad.display())
                    } else {
                        "ignored".to_owned()
                    }
                );
                None
            }
        }
    }

    /// Writes atomically (`mt_core::atomic`).
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        mt_core::atomic::write(path, &bytes, Some(0o644)).map(|_| ())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    SetLayout(WallLayout),
    Assign {
        tile: usize,
        camera: usize,
    },
    Unassign(usize),
    Select(usize),
    ToggleMaximise(usize),
    Restore,
    SetLang(Lang),
    ToggleFullscreen,
    ToggleHealth,
    /// B: bookmark what the selected (or maximised) tile shows.
    Bookmark,
    /// Put a camera on the selected tile and maximise it (from an incident or the map).
    ShowCamera(String),
    SetView(CentralView),
    /// P: live ↔ playback of the recordings.
    TogglePlayback,
    /// Space in playback.
    PlayPause,
    /// File → Open evidence archive: ask for the path.
    OpenArchivePrompt,
    /// Start opening (verifying, copying the clips out) off the UI thread.
    OpenArchive(String),
    /// Stop opening the archive being opened.
    CancelOpenArchive,
    CloseArchive,
    /// Supervisors: the window of trusted workstation keys.
    ToggleTrust,
    /// Supervisors: the camera window (add, edit, test, remove cameras).
    ToggleCameras,
    /// Digital zoom of a tile (None: the whole picture again).
    Zoom {
        tile: usize,
        zoom: Option<crate::zoom::Zoom>,
    },
    /// The window of saved views and tours.
    ToggleViews,
    /// Save the layout and its cameras under a name (replacing a view of that name).
    SaveView(String),
    /// Open saved view `0` on the main wall or the second screen.
    ApplyView(usize, crate::views::Screen),
    DeleteView(usize),
    StartTour(crate::views::Tour),
    StopTour,
    /// "Mở màn hình phụ": the second monitor's wall window, open or closed.
    ToggleSecondScreen,
    /// Put a camera (by id) on the second monitor's selected tile.
    SendToSecond(String),
    SecondLayout(WallLayout),
    SecondSelect(usize),
    /// The second screen's window was moved (its outer top-left corner, in points).
    SecondPlaced([f32; 2]),
    /// Digital zoom of a second-screen tile (None: the whole picture again).
    SecondZoom {
        tile: usize,
        zoom: Option<crate::zoom::Zoom>,
    },
    /// M: wall → map → both → wall.
    CycleView,
    /// Playback: open / close the region search panel.
    ToggleSearch,
    /// A region was dragged over a tile's picture (corners in fractions of the picture).
    RegionDrawn {
        camera: String,
        a: [f32; 2],
        b: [f32; 2],
    },
    /// N / Shift+N: the next / previous search hit.
    StepHit(i32),
    /// "Next camera": put this camera on the tile after the selected one and select it.
    FollowCamera(String),
}

impl Command {
    /// The right an officer needs for this command; the one place every command passes.
    pub fn needs(&self) -> Option<mt_store::Right> {
        use mt_store::Right;
        Some(match self {
            Command::Bookmark => Right::Bookmark,
            Command::TogglePlayback
            | Command::PlayPause
            | Command::OpenArchivePrompt
            | Command::OpenArchive(_) => Right::Playback,
            Command::ToggleTrust => Right::TrustKeys,
            Command::ToggleCameras => Right::ManageCameras,
            Command::ToggleSearch
            | Command::RegionDrawn { .. }
            | Command::StepHit(_)
            | Command::FollowCamera(_) => Right::Search,
            _ => return None,
        })
    }
}

pub struct MatThanApp {
    /// Audit rows of looks at footage (playback, search, archives) the store has not yet
    /// answered: a refusal closes what was opened and signs the officer out.
    audits: Vec<mt_store::thread::Pending<()>>,
    /// When the last signed checkpoint of the log was asked for.
    last_checkpoint: Option<Instant>,
    pub cameras: Vec<CameraHandle>,
    pub state: WallState,
    state_path: Option<PathBuf>,
    tr: Tr,
    pub selected: usize,
    pub maximised: Option<usize>,
    search: String,
    fullscreen: bool,
    config_errors: Vec<String>,
    tile_labels: std::cell::RefCell<(Option<Lang>, Vec<String>)>,
    /// The incident log, when a database is attached.
    pub log: Option<crate::log::LogUi>,
    /// The district map, when map data is attached.
    pub map: Option<crate::map::MapUi>,
    /// Camera id → index in `cameras`.
    by_id: std::collections::HashMap<String, usize>,
    /// What the camera list's search looks in, per camera, folded once (not every frame).
    list_keys: Vec<String>,
    /// Recording of every camera (stopped, segments finished, when the app is dropped).
    pub recorder: Option<mt_record::Recorder>,
    /// Playback of the recordings on the wall (P), when on.
    pub playback: Option<crate::playback::Playback>,
    /// Region search in playback (its panel, region and hits).
    pub region_search: crate::search::SearchUi,
    /// An evidence archive opened with "Open evidence archive" (shown instead of the wall).
    pub replay: Option<crate::replay::Replay>,
    /// The recorder's state, read once per frame (tiles, health panel, top bar).
    rec_status: Option<mt_record::recorder::RecStatus>,
    /// The archive path being typed, while the open dialog is up; and the last error.
    pub open_archive: Option<(String, Option<String>)>,
    /// The archive being opened (verified, clips copied out) on the "open-archive" thread.
    pub loading: Option<crate::replay::ReplayLoader>,
    /// The supervisors' window of trusted workstation keys, when open.
    pub trust: Option<crate::trust::TrustWindow>,
    /// Cameras changed at run time (capture runtime and camera file), when the app owns them.
    pub admin: Option<crate::cameras::CameraAdmin>,
    /// Tiles zoomed in (digital zoom: wheel, drag, double-click to reset).
    pub zoom: std::collections::HashMap<usize, crate::zoom::Zoom>,
    /// The second screen's tiles zoomed in.
    pub second_zoom: std::collections::HashMap<usize, crate::zoom::Zoom>,
    /// The window of saved views and tours, when open.
    pub views_window: Option<crate::views::ViewsWindow>,
    /// When the running tour last moved on, and to which of its cameras.
    tour_at: Option<(Instant, usize)>,
    /// The second monitor's selected tile.
    pub second_selected: usize,
    /// Where the second screen's window opens (its position when it was opened: the window
    /// builder keeps it, so a live position is never fed back while it is dragged).
    second_open_pos: Option<[f32; 2]>,
    /// The second screen's window moved at this time, and its position is not saved yet.
    second_moved: Option<Instant>,
    /// The ONVIF thread (camera form, PTZ), if it could be started.
    pub onvif: Option<mt_onvif::OnvifService>,
    /// The PTZ panel of the maximised camera, while it is one that turns.
    pub ptz: Option<crate::ptz::PtzPanel>,
    /// Where PTZ cameras point, as they last reported it (ONVIF's generic pan −1…1, by id).
    pub ptz_pan: std::collections::HashMap<String, f32>,
    /// A UI frame longer than this is logged in debug builds (16 ms: one frame at 60 Hz).
    pub slow_frame: Duration,
    laps: Vec<(&'static str, Instant)>,
    last_slow_log: Option<Instant>,
}

impl MatThanApp {
    /// `state` is the saved state (or default); tiles without a saved camera get the
    /// cameras in file order.
    pub fn new(
        ctx: &egui::Context,
        cameras: Vec<CameraHandle>,
        mut state: WallState,
        state_path: Option<PathBuf>,
        config_errors: Vec<String>,
    ) -> Self {
        crate::i18n::install_fonts(ctx);
        if state.tiles.iter().all(Option::is_none) {
            state.tiles = cameras
                .iter()
                .map(|c| Some(c.config.id.0.clone()))
                .collect();
        }
        for cam in &cameras {
            wake_on_pictures(ctx, cam);
        }
        let tr = Tr::new(state.lang);
        let second_open_pos = state.second.as_ref().and_then(|w| w.pos);
        MatThanApp {
            audits: Vec::new(),
            last_checkpoint: None,
            cameras,
            state,
            state_path,
            tr,
            selected: 0,
            maximised: None,
            search: String::new(),
            fullscreen: false,
            config_errors,
            tile_labels: Default::default(),
            log: None,
            map: None,
            by_id: Default::default(),
            list_keys: Vec::new(),
            recorder: None,
            rec_status: None,
            playback: None,
            region_search: Default::default(),
            replay: None,
            open_archive: None,
            loading: None,
            trust: None,
            admin: None,
            zoom: Default::default(),
            second_zoom: Default::default(),
            views_window: None,
            tour_at: None,
            second_selected: 0,
            second_open_pos,
            second_moved: None,
            onvif: match mt_onvif::OnvifService::start() {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("ONVIF thread not started: {e}");
                    None
                }
            },
            ptz: None,
            ptz_pan: Default::default(),
            slow_frame: Duration::from_millis(16),
            laps: Vec::new(),
            last_slow_log: None,
        }
        .index_cameras()
    }

    fn index_cameras(mut self) -> Self {
        self.reindex();
        self
    }

    fn reindex(&mut self) {
        self.by_id = self
            .cameras
            .iter()
            .enumerate()
            .map(|(i, c)| (c.config.id.0.clone(), i))
            .collect();
        self.list_keys = self.cameras.iter().map(list_key).collect();
    }

    /// Lets the app change cameras at run time: it receives them on `capture` and keeps them
    /// in the camera file `file`. `text`: the camera file as the cameras were loaded from it (a save refuses a file that
    /// differs: it was edited by hand since).
    pub fn with_camera_admin(
        mut self,
        capture: Arc<mt_capture::Capture>,
        file: PathBuf,
        text: Option<String>,
    ) -> Self {
        let mut a = crate::cameras::CameraAdmin::new(capture, file);
        a.known_text = text;
        self.admin = Some(a);
        self
    }

    /// The one place a camera change takes effect (after the store wrote the file and the
    /// audit): the old streams stop, the new ones start, the recorder follows, the wall's
    /// tiles and the map's registry are updated. The other cameras are not touched.
    pub fn camera_changed(
        &mut self,
        ctx: &egui::Context,
        change: mt_store::cameras::CameraChange,
        changed: mt_store::cameras::CameraChanged,
    ) {
        use mt_store::cameras::CameraChange;
        let Some(capture) = self.admin.as_ref().map(|a| a.capture.clone()) else {
            return;
        };
        let id = change.id().to_owned();
        let at = self.camera_index(&id);
        // A tile whose camera changes starts at the whole picture, on either screen.
        for (t, cam) in self.state.tiles.iter().enumerate() {
            if cam.as_deref() == Some(id.as_str()) {
                self.zoom.remove(&t);
            }
        }
        if let Some(w) = self.state.second.as_ref() {
            for (t, cam) in w.tiles.iter().enumerate() {
                if cam.as_deref() == Some(id.as_str()) {
                    self.second_zoom.remove(&t);
                }
            }
        }
        if let Some(i) = at {
            let old = self.cameras.remove(i);
            old.stop();
            // Its PTZ panel stops a held move and goes; the ONVIF session is opened anew.
            if let Some(p) = self.ptz.as_mut().filter(|p| p.camera == id) {
                p.release(ctx, &old);
                self.ptz = None;
            }
            if let Some(o) = &self.onvif {
                o.forget(&old.config.id);
            }
            self.ptz_pan.remove(&id);
            for s in std::iter::once(&old.main).chain(old.sub.as_ref()) {
                s.set_wanted(false);
            }
        }
        if let Some(r) = self.recorder.as_mut() {
            r.remove(&id);
        }
        match &change {
            CameraChange::Remove(_) => {
                for t in self.state.tiles.iter_mut() {
                    if t.as_deref() == Some(id.as_str()) {
                        *t = None;
                    }
                }
                // Nor on the second screen, nor in the tour (saved views keep it: a view is
                // the officer's to change).
                if let Some(w) = self.state.second.as_mut() {
                    for (k, t) in w.tiles.iter_mut().enumerate() {
                        if t.as_deref() == Some(id.as_str()) {
                            *t = None;
                            self.second_zoom.remove(&k);
                        }
                    }
                }
                if let Some(t) = self.state.tour.as_mut() {
                    t.cameras.retain(|c| c != &id);
                    if t.cameras.len() < 2 {
                        self.state.tour = None;
                        self.tour_at = None;
                    }
                }
                self.maximised = None;
            }
            CameraChange::Add(c) | CameraChange::Edit(c) => {
                // The camera as the file now holds it (what a restart would load).
                let cfg = changed
                    .cameras
                    .iter()
                    .find(|x| x.id == c.id)
                    .cloned()
                    .unwrap_or_else(|| c.clone());
                match capture.start_camera(cfg) {
                    Ok(h) => {
                        wake_on_pictures(ctx, &h);
                        if let Some(r) = self.recorder.as_mut() {
                            if let Err(e) = r.add(&id, &h.main) {
                                self.config_errors.push(format!("{id}: {e}"));
                            }
                        }
                        let i = at.unwrap_or(self.cameras.len()).min(self.cameras.len());
                        self.cameras.insert(i, h);
                        if matches!(change, CameraChange::Add(_)) {
                            // A new camera goes on the first free tile, where the officer sees it.
                            let n = self.state.layout.tile_count();
                            if self.state.tiles.len() < n {
                                self.state.tiles.resize(n, None);
                            }
                            if let Some(t) = self.state.tiles[..n].iter().position(|t| t.is_none())
                            {
                                self.state.tiles[t] = Some(id.clone());
                                self.zoom.remove(&t);
                            }
                        }
                    }
                    Err(e) => self.config_errors.push(format!("{id}: {e}")),
                }
            }
        }
        self.reindex();
        if let (Some(map), Some(sites)) = (self.map.as_mut(), changed.sites) {
            map.sites = sites;
            map.sites_changed();
        }
        if let Some(a) = self.admin.as_mut() {
            // What the next change must find on disk.
            a.known_text = Some(changed.file_text);
        }
        self.save_state();
    }

    /// Attaches the district map.
    pub fn with_map(mut self, mut map: crate::map::MapUi) -> Self {
        if let Some(log) = &self.log {
            map.export_dir = log.export_dir().to_owned();
        }
        self.map = Some(map);
        self
    }

    /// Attaches the incident log: the officer signs in before the wall is shown.
    pub fn with_log(mut self, log: crate::log::LogUi) -> Self {
        self.log = Some(log);
        self
    }

    pub fn tr(&self) -> &Tr {
        &self.tr
    }

    fn camera_index(&self, id: &str) -> Option<usize> {
        self.cameras.iter().position(|c| c.config.id.0 == id)
    }

    /// Camera index on `tile`, if any.
    pub fn tile_camera(&self, tile: usize) -> Option<usize> {
        self.state
            .tiles
            .get(tile)
            .and_then(|t| t.as_deref())
            .and_then(|id| self.camera_index(id))
    }

    pub fn apply(&mut self, ctx: &egui::Context, cmd: Command) {
        if let Some(r) = cmd.needs().filter(|r| !self.may(*r)) {
            // Hidden from this role already; a key press still lands here.
            tracing::info!("refused {:?}: the officer's role does not carry it", r);
            return;
        }
        let n = self.state.layout.tile_count();
        let mut persist = true;
        match cmd {
            Command::SetLayout(l) => {
                self.state.layout = l;
                self.maximised = None;
                self.selected = self.selected.min(l.tile_count() - 1);
            }
            Command::Assign { tile, camera } => {
                self.zoom.remove(&tile);
                self.stop_tour_on(tile);
                if tile < n && camera < self.cameras.len() {
                    if self.state.tiles.len() <= tile {
                        self.state.tiles.resize(tile + 1, None);
                    }
                    self.state.tiles[tile] = Some(self.cameras[camera].config.id.0.clone());
                    self.selected = tile;
                }
            }
            Command::Unassign(tile) => {
                self.zoom.remove(&tile);
                self.stop_tour_on(tile);
                if let Some(t) = self.state.tiles.get_mut(tile) {
                    *t = None;
                }
            }
            Command::Select(t) => {
                self.selected = t.min(n - 1);
                persist = false;
            }
            Command::ToggleMaximise(t) => {
                self.maximised = if self.maximised.is_some() {
                    None
                } else {
                    Some(t.min(n - 1))
                };
                self.selected = t.min(n - 1);
                persist = false;
            }
            Command::Restore => {
                if self.maximised.take().is_none() && self.fullscreen {
                    self.fullscreen = false;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(false));
                }
                persist = false;
            }
            Command::SetLang(l) => {
                self.state.lang = l;
                self.tr = Tr::new(l);
            }
            Command::ToggleFullscreen => {
                self.fullscreen = !self.fullscreen;
                ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(self.fullscreen));
                persist = false;
            }
            Command::ToggleHealth => self.state.show_health = !self.state.show_health,
            Command::Bookmark
                if self
                    .playback
                    .as_ref()
                    .is_some_and(|pb| self.region_search.hit_at(pb.clock_ms).is_some()) =>
            {
                // B on a search hit: the hit's camera at the picture shown, the region drawn
                // on the still, the hit in the note.
                persist = false;
                let pb = self.playback.as_ref().expect("checked");
                let hit = self
                    .region_search
                    .hit_at(pb.clock_ms)
                    .expect("checked")
                    .clone();
                let frame = pb
                    .player(&hit.camera)
                    .filter(|p| p.shown_ms().is_some())
                    .and_then(|p| p.shared.latest())
                    .map(|f| match self.region_search.outline_for(&hit.camera) {
                        Some(o) => Arc::new(crate::search::with_outline(&f, o)),
                        None => f,
                    });
                let name = self
                    .by_id
                    .get(&hit.camera)
                    .map(|&i| self.cameras[i].config.name.clone())
                    .unwrap_or_else(|| hit.camera.clone());
                let note = self.tr.t_args(
                    "motion-bookmark-note",
                    &[
                        ("from", crate::log::format_time(hit.start_ms).into()),
                        ("to", crate::log::format_time(hit.end_ms).into()),
                    ],
                );
                if let Some(log) = self.log.as_mut() {
                    log.start_bookmark(&hit.camera, &name, frame, "playback", pb.clock_ms);
                    log.set_bookmark_note(note);
                }
            }
            Command::ToggleSearch => {
                persist = false;
                self.region_search.open = !self.region_search.open;
                if !self.region_search.open {
                    self.region_search.cancel();
                }
            }
            Command::RegionDrawn { camera, a, b } => {
                persist = false;
                self.region_search.set_rect(
                    &self.tr,
                    &camera,
                    egui::pos2(a[0], a[1]),
                    egui::pos2(b[0], b[1]),
                );
            }
            Command::FollowCamera(id) => {
                persist = false;
                let n = self.state.layout.tile_count();
                let at = self
                    .state
                    .tiles
                    .iter()
                    .position(|t| t.as_deref() == Some(id.as_str()))
                    .unwrap_or((self.selected + 1) % n.max(1));
                if self.state.tiles.len() < n {
                    self.state.tiles.resize(n, None);
                }
                if self.state.tiles[at].as_deref() != Some(id.as_str()) {
                    self.zoom.remove(&at);
                }
                self.state.tiles[at] = Some(id);
                self.selected = at;
                self.stop_tour_on(at);
            }
            Command::StepHit(dir) => {
                persist = false;
                if let Some(pb) = self.playback.as_mut() {
                    if let Some(t) = self.region_search.step(pb.clock_ms, dir) {
                        pb.seek(t);
                        pb.playing = true;
                    }
                }
            }
            Command::Bookmark => {
                persist = false;
                let tile = self.maximised.unwrap_or(self.selected);
                if let Some(ci) = self.tile_camera(tile) {
                    let cam = &self.cameras[ci];
                    // The picture the tile shows, with its own time: the recorded picture in
                    // playback (none in a gap), else the live stream the tile draws.
                    let (frame, source, at) = match &self.playback {
                        Some(pb) => (
                            pb.player(&cam.config.id.0)
                                .filter(|p| p.shown_ms().is_some())
                                .and_then(|p| p.shared.latest()),
                            "playback",
                            pb.clock_ms,
                        ),
                        None => {
                            let big = self.maximised.is_some()
                                || self.state.layout.big_tile() == Some(tile);
                            let (shown, _) = self.tile_streams(cam, big);
                            (shown.latest(), "live", mt_record::now_ms())
                        }
                    };
                    let (id, name) = (cam.config.id.0.clone(), cam.config.name.clone());
                    if let Some(log) = self.log.as_mut() {
                        log.start_bookmark(&id, &name, frame, source, at);
                    }
                }
            }
            Command::SetView(v) => self.state.view = v,
            Command::OpenArchivePrompt => {
                persist = false;
                let dir = self
                    .log
                    .as_ref()
                    .map(|l| l.export_dir().display().to_string() + "/")
                    .unwrap_or_default();
                self.open_archive = Some((dir, None));
            }
            Command::OpenArchive(path) => {
                persist = false;
                let started = crate::trust::workstation_trust(self.log.as_ref())
                    .map_err(|e| {
                        self.tr
                            .t_args("archive-trust-error", &[("error", e.into())])
                    })
                    .and_then(|trust| {
                        crate::replay::ReplayLoader::start(
                            std::path::Path::new(path.trim()),
                            trust,
                            Some(ctx.clone()),
                        )
                    });
                match started {
                    Ok(l) => {
                        self.loading = Some(l);
                        self.open_archive = Some((path, None));
                    }
                    Err(e) => self.open_archive = Some((path, Some(e))),
                }
            }
            Command::CancelOpenArchive => {
                persist = false;
                // Dropping the loader cancels it; its thread cleans up after itself.
                self.loading = None;
            }
            Command::CloseArchive => {
                persist = false;
                // Joining its players and deleting the copied clips (gigabytes for hours of
                // footage) happens off the UI thread.
                if let Some(mut r) = self.replay.take() {
                    let heavy = r.take_players_and_files();
                    drop(r);
                    let spawned = std::thread::Builder::new()
                        .name("close-archive".into())
                        .spawn(move || drop(heavy));
                    if let Err(e) = spawned {
                        tracing::warn!("closing the archive: {e}");
                    }
                }
            }
            Command::ToggleViews => {
                persist = false;
                self.views_window = match self.views_window.take() {
                    Some(_) => None,
                    None => Some(crate::views::ViewsWindow::new()),
                };
            }
            Command::SaveView(name) => {
                let n = self.state.layout.tile_count();
                let mut tiles = self.state.tiles.clone();
                tiles.resize(n.max(tiles.len()), None);
                tiles.truncate(n);
                let v = crate::views::SavedView {
                    name,
                    layout: self.state.layout,
                    tiles,
                };
                match self.state.views.iter_mut().find(|x| x.name == v.name) {
                    Some(old) => *old = v,
                    None => self.state.views.push(v),
                }
            }
            Command::ApplyView(i, crate::views::Screen::Second) => {
                if let (Some(v), Some(w)) = (
                    self.state.views.get(i).cloned(),
                    self.state.second.as_mut().filter(|w| w.open),
                ) {
                    if self.state.tour.as_ref().is_some_and(|t| {
                        t.screen == crate::views::Screen::Second && t.tile < v.layout.tile_count()
                    }) {
                        self.state.tour = None;
                        self.tour_at = None;
                    }
                    w.layout = v.layout;
                    w.tiles = v.tiles;
                    self.second_zoom.clear();
                    self.second_selected = self.second_selected.min(v.layout.tile_count() - 1);
                }
            }
            Command::ApplyView(i, crate::views::Screen::Main) => {
                if let Some(v) = self.state.views.get(i).cloned() {
                    // The view says what every tile shows: a tour on one of them ends.
                    if self.state.tour.as_ref().is_some_and(|t| {
                        t.screen == crate::views::Screen::Main && t.tile < v.layout.tile_count()
                    }) {
                        self.state.tour = None;
                        self.tour_at = None;
                    }
                    self.state.layout = v.layout;
                    self.state.tiles = v.tiles;
                    self.maximised = None;
                    self.zoom.clear();
                    self.selected = self.selected.min(v.layout.tile_count() - 1);
                }
            }
            Command::DeleteView(i) => {
                if i < self.state.views.len() {
                    self.state.views.remove(i);
                }
            }
            Command::ToggleSecondScreen => {
                match self.state.second.as_mut() {
                    Some(w) => w.open = !w.open,
                    None => self.state.second = Some(SecondWall::default()),
                }
                self.second_selected = 0;
                self.second_zoom.clear();
                // Opened where it was last; a tour on it ends when it closes.
                self.second_open_pos = self.state.second.as_ref().and_then(|w| w.pos);
                if self.state.second.as_ref().is_some_and(|w| !w.open)
                    && self
                        .state
                        .tour
                        .as_ref()
                        .is_some_and(|t| t.screen == crate::views::Screen::Second)
                {
                    self.state.tour = None;
                    self.tour_at = None;
                }
            }
            Command::SendToSecond(id) => {
                let sel = self.second_selected;
                let open = self.state.second.as_ref().is_some_and(|w| w.open);
                if open
                    && self
                        .state
                        .tour
                        .as_ref()
                        .is_some_and(|t| t.screen == crate::views::Screen::Second && t.tile == sel)
                {
                    self.state.tour = None;
                    self.tour_at = None;
                }
                if let Some(w) = self.state.second.as_mut().filter(|w| w.open) {
                    let n = w.layout.tile_count();
                    if w.tiles.len() < n {
                        w.tiles.resize(n, None);
                    }
                    self.second_zoom.remove(&sel.min(n - 1));
                    w.tiles[sel.min(n - 1)] = Some(id);
                    // The next camera sent goes on the next tile, as on the main wall's list.
                    self.second_selected = (sel + 1) % n;
                }
            }
            Command::SecondLayout(l) => {
                if let Some(w) = self.state.second.as_mut() {
                    w.layout = l;
                    self.second_selected = self.second_selected.min(l.tile_count() - 1);
                }
            }
            Command::SecondSelect(t) => {
                persist = false;
                self.second_selected = t;
            }
            Command::SecondZoom { tile, zoom } => {
                persist = false;
                match zoom {
                    Some(z) => self.second_zoom.insert(tile, z),
                    None => self.second_zoom.remove(&tile),
                };
            }
            Command::SecondPlaced(pos) => {
                // Kept in memory now, written once the window has been still for a second
                // (not every frame of a drag).
                persist = false;
                if let Some(w) = self.state.second.as_mut() {
                    w.pos = Some(pos);
                    self.second_moved = Some(Instant::now());
                }
            }
            Command::StartTour(t) => {
                self.tour_at = None;
                self.state.tour = Some(t);
            }
            Command::StopTour => {
                self.state.tour = None;
                self.tour_at = None;
            }
            Command::Zoom { tile, zoom } => {
                persist = false;
                match zoom {
                    Some(z) => self.zoom.insert(tile, z),
                    None => self.zoom.remove(&tile),
                };
            }
            Command::ToggleCameras => {
                persist = false;
                if let Some(a) = self.admin.as_mut() {
                    a.window = match a.window.take() {
                        // A save on its way keeps the window until it has answered.
                        Some(w) if w.busy() => Some(w),
                        Some(_) => None,
                        None => Some(Default::default()),
                    };
                }
            }
            Command::ToggleTrust => {
                persist = false;
                self.trust = match (self.trust.take(), self.log.as_ref()) {
                    (Some(_), _) | (None, None) => None,
                    (None, Some(l)) => Some(crate::trust::TrustWindow::open(l)),
                };
            }
            Command::PlayPause => {
                persist = false;
                if let Some(pb) = self.playback.as_mut() {
                    pb.playing = !pb.playing;
                }
            }
            Command::TogglePlayback => {
                persist = false;
                if self.playback.is_none() && self.recorder.is_some() {
                    let subject = self.playback_subject(mt_record::now_ms() - 10_000);
                    self.audit(mt_store::Right::Playback, "playback", subject);
                }
                if self.playback.is_some() {
                    // Its results are read in playback only: stop it rather than let it wait.
                    self.region_search.cancel();
                }
                self.playback = match (self.playback.take(), &self.recorder) {
                    (Some(_), _) => None,
                    (None, Some(r)) => Some(crate::playback::Playback::new(
                        r.index(),
                        r.dir().to_owned(),
                        mt_record::now_ms() - 10_000,
                    )),
                    (None, None) => None,
                };
            }
            Command::CycleView => {
                self.state.view = if self.map.is_some() {
                    self.state.view.next()
                } else {
                    CentralView::Wall
                }
            }
            Command::ShowCamera(id) => {
                if self.state.view == CentralView::Map {
                    // The officer asked to see it: make the wall visible beside the map.
                    self.state.view = CentralView::Split;
                }
                if let Some(ci) = self.camera_index(&id) {
                    let tile = self.selected;
                    if self.state.tiles.len() <= tile {
                        self.state.tiles.resize(tile + 1, None);
                    }
                    let id = self.cameras[ci].config.id.0.clone();
                    if self.state.tiles[tile].as_deref() != Some(id.as_str()) {
                        self.zoom.remove(&tile);
                    }
                    self.state.tiles[tile] = Some(id);
                    self.maximised = Some(tile);
                    self.stop_tour_on(tile);
                }
            }
        }
        if persist {
            self.save_state();
        }
    }

    fn save_state(&self) {
        if let Some(p) = &self.state_path {
            if let Err(e) = self.state.save(p) {
                tracing::warn!("cannot save wall state to {}: {e}", p.display());
            }
        }
    }

    /// Draws the whole workstation into `ui` and applies what the officer did. In debug
    /// builds a frame that takes longer than [`Self::slow_frame`] is logged (at most once a
    /// second) with how long each part took: the UI thread only draws, and this says when it
    /// does not.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let t0 = Instant::now();
        self.laps.clear();
        self.show_frame(ui);
        self.lap("apply");
        let total = t0.elapsed();
        if cfg!(debug_assertions)
            && total > self.slow_frame
            && self
                .last_slow_log
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.last_slow_log = Some(Instant::now());
            let mut prev = t0;
            let parts: Vec<String> = self
                .laps
                .iter()
                .map(|(what, at)| {
                    let d = at.duration_since(prev);
                    prev = *at;
                    format!("{what} {:.1} ms", d.as_secs_f64() * 1e3)
                })
                .collect();
            tracing::warn!(
                target: "matthan::frame",
                "UI frame took {:.1} ms (over {} ms): {}; {} tiles, view {:?}, playback {}, replay {}",
                total.as_secs_f64() * 1e3,
                self.slow_frame.as_millis(),
                parts.join(", "),
                self.state.layout.tile_count(),
                self.state.view,
                self.playback.is_some(),
                self.replay.is_some(),
            );
        }
    }

    /// Marks the end of a part of the frame (for the slow-frame log).
    fn lap(&mut self, what: &'static str) {
        self.laps.push((what, Instant::now()));
    }

    fn show_frame(&mut self, ui: &mut egui::Ui) {
        let mut cmds = Vec::new();
        // A copy of a few hundred bytes per camera, under a lock the recorder holds briefly.
        self.rec_status = self.recorder.as_ref().map(|r| r.status());
        let mut screen_locked = false;
        self.poll_audits();
        self.tick_tour(ui.ctx());
        if let Some(t) = self.second_moved {
            // The second screen's window has been still for a second: its place is saved.
            if t.elapsed() >= Duration::from_secs(1) {
                self.second_moved = None;
                self.save_state();
            } else {
                ui.ctx().request_repaint_after(Duration::from_millis(250));
            }
        }
        // Before anything can return early (signed out, locked, an archive open): a camera
        // change the store has written takes effect whatever the screen shows.
        self.poll_camera_jobs(ui.ctx());
        self.lap("polls");
        if let Some(log) = self.log.as_mut() {
            log.poll(&self.tr);
            if log.operator.is_some() && log.session.tick(ui.ctx()) {
                let id = log
                    .operator
                    .as_ref()
                    .map(|o| o.id.clone())
                    .unwrap_or_default();
                let idle = log
                    .session
                    .idle_lock
                    .map(|d| d.as_secs() / 60)
                    .unwrap_or_default();
                if let Err(e) = log
                    .store()
                    .run(move |db| db.audit(&id, "screen_lock", &format!("idle={idle}min")))
                {
                    tracing::warn!("audit screen_lock: {e}");
                }
            }
            screen_locked = log.operator.is_some() && log.session.locked;
            // A signed checkpoint of the log (and the recordings' index) every 15 minutes,
            // the first one a minute after start: on the store thread, never waited for.
            let due = match self.last_checkpoint {
                None => {
                    self.last_checkpoint = Some(
                        Instant::now() - crate::session::CHECKPOINT_EVERY + Duration::from_secs(60),
                    );
                    false
                }
                Some(t) => t.elapsed() >= crate::session::CHECKPOINT_EVERY,
            };
            if due {
                self.last_checkpoint = Some(Instant::now());
                crate::session::checkpoint(
                    log.store(),
                    self.recorder.as_ref().map(|r| r.dir().to_owned()),
                );
            }
            if log.operator.as_ref().is_none_or(|o| o.must_change_pin) {
                // Nothing of the wall is shown before an officer signs in.
                egui::Panel::top("top").show(ui, |ui| self.top_bar_ui(ui, &mut cmds));
                let tr = &self.tr;
                if let Some(log) = self.log.as_mut() {
                    egui::CentralPanel::default().show(ui, |ui| log.signin_ui(ui, tr));
                }
                let ctx = ui.ctx().clone();
                for c in cmds
                    .into_iter()
                    .filter(|c| matches!(c, Command::SetLang(_)))
                {
                    self.apply(&ctx, c);
                }
                for cam in &self.cameras {
                    for s in std::iter::once(&cam.main).chain(cam.sub.as_ref()) {
                        s.set_wanted(false);
                    }
                }
                ctx.request_repaint_after(Duration::from_millis(100));
                return;
            }
        }
        // What the officer now signed in may not see closes (after a shift change or a
        // sign-in by a lower role), not only what they may not open.
        if !self.may(mt_store::Right::Playback) {
            self.playback = None;
            self.replay = None;
        }
        if !self.may(mt_store::Right::Search) {
            self.region_search.open = false;
        }
        if screen_locked && self.replay.is_some() {
            // The lock covers an opened archive too.
            self.session_windows_ui(ui.ctx(), true);
        }
        self.poll_loading();
        if self.replay.is_some() {
            // No wall under the archive: a PTZ panel goes (a held move stopped).
            self.ptz_ui(ui.ctx(), None);
        }
        if let Some(r) = self.replay.as_mut() {
            // An opened archive takes the whole window until it is closed.
            let tr = &self.tr;
            egui::Panel::top("archive-top").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.strong(tr.t("app-title"));
                    ui.separator();
                    if ui.button(tr.t("archive-close")).clicked() {
                        cmds.push(Command::CloseArchive);
                    }
                });
            });
            r.ui(ui);
            if std::mem::take(&mut r.bookmark_requested) {
                // B in replay: the archive's picture on the selected tile, at its own time.
                if let (Some(c), Some(log)) = (r.clips.get(r.selected), self.log.as_mut()) {
                    let frame = c
                        .player
                        .shared
                        .latest()
                        .filter(|_| c.player.shown_ms().is_some());
                    log.start_bookmark(&c.camera, &c.camera, frame, "replay", r.clock_ms);
                }
            }
            if let Some(log) = self.log.as_mut() {
                log.overlay_ui(ui.ctx(), tr);
            }
            for cam in &self.cameras {
                for s in std::iter::once(&cam.main).chain(cam.sub.as_ref()) {
                    s.set_wanted(false);
                }
            }
            let ctx = ui.ctx().clone();
            for c in cmds {
                self.apply(&ctx, c);
            }
            return;
        }
        if !screen_locked {
            self.keyboard(ui, &mut cmds);
        }
        // Locked: the wall goes on drawing (streams and recorder untouched) under the lock
        // screen, and no key reaches it.
        self.session_windows_ui(ui.ctx(), screen_locked);
        if let (Some(map), Some(log)) = (self.map.as_mut(), self.log.as_ref()) {
            map.set_role(log.operator.as_ref().map(|o| o.role));
        }
        egui::Panel::top("top").show(ui, |ui| self.top_bar_ui(ui, &mut cmds));
        self.open_archive_ui(ui, &mut cmds);
        if self.trust.is_some() && !self.supervisor() {
            // Signed out, or someone else signed in: the window is for supervisors only.
            self.trust = None;
        }
        self.cameras_window_ui(ui.ctx());
        if let Some(w) = self.views_window.as_mut() {
            let cams: Vec<(String, String)> = self
                .cameras
                .iter()
                .map(|c| (c.config.id.0.clone(), c.config.name.clone()))
                .collect();
            if !w.ui(
                ui.ctx(),
                &self.tr,
                &self.state.views,
                self.state.tour.as_ref(),
                self.selected,
                self.state
                    .second
                    .as_ref()
                    .filter(|w| w.open)
                    .map(|_| self.second_selected),
                &cams,
                &mut cmds,
            ) {
                self.views_window = None;
            }
        }
        if self.trust.is_some() {
            let op = self
                .log
                .as_ref()
                .and_then(|l| l.operator.as_ref())
                .map(|o| o.id.clone())
                .unwrap_or_default();
            let tr = &self.tr;
            if let Some(w) = self.trust.as_mut() {
                if !w.ui(ui.ctx(), tr, &op) {
                    self.trust = None;
                }
            }
        }
        self.lap("top bar and windows");
        if let Some(log) = self.log.as_mut() {
            let cams: Vec<crate::log::CameraInfo> = self
                .cameras
                .iter()
                .map(|c| {
                    (
                        c.config.id.0.clone(),
                        c.config.name.clone(),
                        c.config.ward.clone(),
                        c.config.lat_deg,
                        c.config.lon_deg,
                    )
                })
                .collect();
            let mut out = Vec::new();
            let tr = &self.tr;
            egui::Panel::right("log")
                .resizable(true)
                .default_size(380.0)
                .show(ui, |ui| log.panel_ui(ui, tr, &cams, &mut out));
            log.overlay_ui(ui.ctx(), tr);
            for o in out {
                match o {
                    crate::log::LogCommand::ShowCamera(id) => cmds.push(Command::ShowCamera(id)),
                }
            }
        }
        let mut search_started = false;
        let mut next_for: Option<usize> = None;
        let may_search = self.may(mt_store::Right::Search);
        if let Some(pb) = self.playback.as_mut() {
            pb.tick();
            let n = self.state.layout.tile_count();
            let tile_cams: Vec<(String, String)> = (0..n)
                .filter_map(|t| {
                    self.state
                        .tiles
                        .get(t)
                        .and_then(|c| c.as_deref())
                        .and_then(|id| self.by_id.get(id))
                        .map(|&i| {
                            let c = &self.cameras[i].config;
                            (c.id.0.clone(), c.name.clone())
                        })
                })
                .collect();
            for (id, _) in &tile_cams {
                pb.ensure(id);
            }
            let (bookmarks, incidents): (Vec<i64>, Vec<i64>) = match &self.log {
                Some(l) => (
                    l.bookmarks.iter().map(|b| b.frame_time_ms).collect(),
                    l.incidents.iter().map(|i| i.occurred_ms).collect(),
                ),
                None => (Vec::new(), Vec::new()),
            };
            let tr = &self.tr;
            let mut live = false;
            let names: HashMap<String, String> = tile_cams.iter().cloned().collect();
            self.region_search.poll(ui.ctx(), &names);
            let mut toggle_search = false;
            egui::Panel::bottom("playback")
                .resizable(false)
                .show(ui, |ui| {
                    live = pb.timeline_ui(
                        ui,
                        tr,
                        &tile_cams,
                        &crate::playback::Marks {
                            bookmarks: &bookmarks,
                            incidents: &incidents,
                            hits: &self.region_search.hits,
                            search_open: self.region_search.open,
                            can_search: may_search,
                        },
                        &mut toggle_search,
                    );
                });
            if toggle_search {
                cmds.push(Command::ToggleSearch);
            }
            if self.region_search.open {
                let mut out = (None, false);
                egui::Panel::right("search")
                    .resizable(true)
                    .default_size(300.0)
                    .show(ui, |ui| {
                        out = self.region_search.panel_ui(ui, tr, &tile_cams)
                    });
                match out.0 {
                    Some(crate::search::SearchAction::Seek(t, play)) => {
                        pb.seek(t);
                        pb.playing = play;
                    }
                    Some(crate::search::SearchAction::NextCamera(i)) => next_for = Some(i),
                    Some(crate::search::SearchAction::OpenCamera(id, t)) => {
                        pb.seek(t);
                        pb.playing = true;
                        cmds.push(Command::FollowCamera(id));
                    }
                    None => {}
                }
                if out.1 {
                    let (index, dir, window) = (pb.index(), pb.rec_dir(), pb.window());
                    self.region_search
                        .start(tr, &tile_cams, window, index, dir, ui.ctx());
                    search_started = self.region_search.running();
                }
            }
            if live {
                cmds.push(Command::TogglePlayback);
            }
            ui.ctx()
                .request_repaint_after(Duration::from_millis(if pb.playing { 16 } else { 100 }));
        }
        if let Some(i) = next_for {
            self.suggest_next(i);
        }
        if search_started {
            // Reviewing footage is accountable to an officer, like playback.
            let subject = format!(
                "cameras={};region={:?};sensitivity={:.2}",
                if self.region_search.all_cameras {
                    "layout".to_owned()
                } else {
                    self.region_search.camera.clone().unwrap_or_default()
                },
                self.region_search
                    .region
                    .as_ref()
                    .map(|r| r.outline.clone())
                    .unwrap_or_default(),
                self.region_search.sensitivity
            );
            self.audit(mt_store::Right::Search, "search", subject);
        }
        if !self.fullscreen {
            egui::Panel::left("cameras")
                .resizable(true)
                .default_size(260.0)
                .show(ui, |ui| self.camera_list_ui(ui, &mut cmds));
            if self.state.show_health && self.playback.is_none() {
                egui::Panel::bottom("health")
                    .resizable(true)
                    .default_size(180.0)
                    .show(ui, |ui| self.health_ui(ui));
            }
        }
        self.lap("log and side panels");
        let mut wanted = HashSet::new();
        let mut map_cmds = Vec::new();
        let view = if self.map.is_some() {
            self.state.view
        } else {
            CentralView::Wall
        };
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE.fill(Color32::from_gray(12)))
            .show(ui, |ui| {
                let area = ui.available_rect_before_wrap();
                let (wall_rect, map_rect) = match view {
                    CentralView::Wall => (Some(area), None),
                    CentralView::Map => (None, Some(area)),
                    CentralView::Split => {
                        let mid = area.center().x;
                        (
                            Some(Rect::from_min_max(
                                area.min,
                                egui::pos2(mid - 2.0, area.max.y),
                            )),
                            Some(Rect::from_min_max(
                                egui::pos2(mid + 2.0, area.min.y),
                                area.max,
                            )),
                        )
                    }
                };
                if let Some(r) = wall_rect {
                    ui.scope_builder(egui::UiBuilder::new().max_rect(r), |ui| {
                        self.wall_ui(ui, &mut cmds, &mut wanted)
                    });
                }
                self.ptz_ui(ui.ctx(), wall_rect.filter(|_| !screen_locked));
                if let (Some(r), Some(map)) = (map_rect, self.map.as_mut()) {
                    let live = crate::map::LiveCameras {
                        cameras: &self.cameras,
                        by_id: &self.by_id,
                        ptz_pan: &self.ptz_pan,
                        second_open: self.state.second.as_ref().is_some_and(|w| w.open),
                    };
                    let (store, op) = match &self.log {
                        Some(l) => (Some(l.store()), l.operator.as_ref().map(|o| o.id.as_str())),
                        None => (None, None),
                    };
                    let lang = self.tr.lang();
                    let log = self.log.as_ref();
                    let type_name = |code: &str| {
                        log.map(|l| l.type_label(code, lang))
                            .unwrap_or_else(|| code.to_owned())
                    };
                    ui.scope_builder(egui::UiBuilder::new().max_rect(r), |ui| {
                        map.ui(
                            ui,
                            &self.tr,
                            &live,
                            store,
                            op,
                            &type_name,
                            &mut wanted,
                            &mut map_cmds,
                        )
                    });
                }
            });
        if self.state.second.as_ref().is_some_and(|w| w.open) {
            // Locked: the window stays where the officer put it, covered.
            self.second_screen_ui(ui.ctx(), &mut cmds, &mut wanted, screen_locked);
        }
        // The tour's next camera is decoded ahead of its turn, so it shows a picture at once
        // rather than after its next keyframe.
        if let Some(next) = self.tour_next() {
            if let Some(&ci) = self.by_id.get(&next) {
                let cam = &self.cameras[ci];
                wanted.insert(cam.sub.as_ref().unwrap_or(&cam.main).id);
            }
        }
        // Decode only what is on screen (wall tiles, map pictures, the hovered camera).
        for cam in &self.cameras {
            for s in std::iter::once(&cam.main).chain(cam.sub.as_ref()) {
                s.set_wanted(wanted.contains(&s.id));
            }
        }
        for c in map_cmds {
            match c {
                crate::map::MapCommand::ShowCamera(id) => cmds.push(Command::ShowCamera(id)),
                crate::map::MapCommand::SendToSecond(id) => cmds.push(Command::SendToSecond(id)),
                crate::map::MapCommand::OpenIncident(id) => {
                    if let Some(l) = self.log.as_mut() {
                        l.open_incident(id);
                    }
                }
                crate::map::MapCommand::NewIncidentAt {
                    lat,
                    lon,
                    ward,
                    cameras,
                } => {
                    if let Some(l) = self.log.as_mut() {
                        l.new_incident_at(lat, lon, ward, cameras);
                    }
                }
                crate::map::MapCommand::Trace(t) => self.open_trace(ui.ctx(), t),
            }
        }
        self.lap("wall and map");
        let ctx = ui.ctx().clone();
        for c in cmds {
            self.apply(&ctx, c);
        }
        // Tile clocks and "last frame" ages tick even when no video arrives.
        ctx.request_repaint_after(Duration::from_millis(500));
    }

    fn keyboard(&self, ui: &egui::Ui, cmds: &mut Vec<Command>) {
        if ui.ctx().egui_wants_keyboard_input()
            || self
                .log
                .as_ref()
                .is_some_and(|l| l.bookmark_prompt.is_some())
        {
            return;
        }
        let n = self.state.layout.tile_count();
        let cols = self.state.layout.columns();
        ui.input(|i| {
            const DIGITS: [Key; 10] = [
                Key::Num1,
                Key::Num2,
                Key::Num3,
                Key::Num4,
                Key::Num5,
                Key::Num6,
                Key::Num7,
                Key::Num8,
                Key::Num9,
                Key::Num0,
            ];
            for (k, key) in DIGITS.iter().enumerate() {
                if i.key_pressed(*key) && k < n {
                    cmds.push(Command::Select(k));
                }
            }
            let s = self.selected;
            if i.key_pressed(Key::ArrowRight) {
                cmds.push(Command::Select((s + 1).min(n - 1)));
            }
            if i.key_pressed(Key::ArrowLeft) {
                cmds.push(Command::Select(s.saturating_sub(1)));
            }
            if i.key_pressed(Key::ArrowDown) {
                cmds.push(Command::Select((s + cols).min(n - 1)));
            }
            if i.key_pressed(Key::ArrowUp) {
                cmds.push(Command::Select(s.saturating_sub(cols)));
            }
            if i.key_pressed(Key::Enter) {
                cmds.push(Command::ToggleMaximise(s));
            }
            if i.key_pressed(Key::Escape) {
                cmds.push(Command::Restore);
            }
            if i.key_pressed(Key::F) {
                cmds.push(Command::ToggleFullscreen);
            }
            if i.key_pressed(Key::B) {
                cmds.push(Command::Bookmark);
            }
            if i.key_pressed(Key::M) {
                cmds.push(Command::CycleView);
            }
            if i.key_pressed(Key::P) {
                cmds.push(Command::TogglePlayback);
            }
            if self.playback.is_some() && i.key_pressed(Key::Space) {
                cmds.push(Command::PlayPause);
            }
            if self.playback.is_some() && i.key_pressed(Key::N) {
                cmds.push(Command::StepHit(if i.modifiers.shift { -1 } else { 1 }));
            }
        });
    }

    /// Appends an audit row for the signed-in officer (playback, search, opening an archive)
    /// after the store checked they may do `right`: sent to the store thread, never waited for.
    fn audit(&mut self, right: mt_store::Right, action: &'static str, subject: String) {
        if let Some(log) = &self.log {
            if let Some(op) = log.operator.as_ref().map(|o| o.id.clone()) {
                match log
                    .store()
                    .run(move |db| db.audit_as(&op, right, action, &subject))
                {
                    Ok(p) => self.audits.push(p),
                    Err(e) => tracing::warn!("audit {action}: {e}"),
                }
            }
        }
    }

    /// The store's answers to the audit rows of looks at footage. One it refused (the
    /// officer was disabled or lost the right since signing in, from another workstation or
    /// the shell) closes playback, replay and search and asks for a sign-in again.
    fn poll_audits(&mut self) {
        let mut refused = None;
        self.audits.retain(|p| match p.try_take() {
            None => true,
            Some(Ok(())) => false,
            Some(Err(e)) => {
                if matches!(e, mt_store::StoreError::Forbidden { .. }) {
                    refused = Some(e);
                } else {
                    tracing::warn!("audit: {e}");
                }
                false
            }
        });
        if let Some(e) = refused {
            self.playback = None;
            self.replay = None;
            self.region_search.open = false;
            if let Some(log) = self.log.as_mut() {
                log.refused(&self.tr, &e);
            }
        }
    }

    /// What a playback starts on: the wall's cameras and the time (for its audit row).
    fn playback_subject(&self, from_ms: i64) -> String {
        let cams: Vec<&str> = self
            .state
            .tiles
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        format!(
            "cameras={};from={}",
            cams.join(","),
            mt_core::time::iso(from_ms)
        )
    }

    /// The archive being opened: shown when ready, its error kept in the open dialog.
    fn poll_loading(&mut self) {
        let Some(res) = self.loading.as_ref().and_then(|l| l.poll(self.tr.lang())) else {
            return;
        };
        self.loading = None;
        match res {
            Ok(Some(r)) => {
                // Every playback of evidence is accountable to an officer.
                self.audit(
                    mt_store::Right::Playback,
                    "open_archive",
                    format!(
                        "{};status={:?}",
                        r.archive
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        r.status()
                    ),
                );
                self.replay = Some(r);
                self.open_archive = None;
                self.playback = None;
            }
            Ok(None) => {}
            Err(e) => {
                if let Some((_, err)) = self.open_archive.as_mut() {
                    *err = Some(e);
                }
            }
        }
    }

    /// The open dialog: the path, then (while the archive is opened off the UI thread) its
    /// name, a progress bar and cancel.
    fn open_archive_ui(&mut self, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        let Some((path, err)) = self.open_archive.as_mut() else {
            return;
        };
        let tr = &self.tr;
        let mut open = true;
        let loading = self.loading.as_ref();
        egui::Window::new(tr.t("archive-open"))
            .open(&mut open)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                if let Some(l) = loading {
                    let name = l
                        .archive
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| l.archive.display().to_string());
                    ui.label(tr.t_args("archive-opening", &[("file", name.into())]));
                    let p = l.progress();
                    ui.add(
                        egui::ProgressBar::new(p)
                            .desired_width(420.0)
                            .text(tr.t_args(
                                "archive-opening-progress",
                                &[("pct", format!("{:.0}", p * 100.0).into())],
                            )),
                    );
                    if ui.button(tr.t("archive-opening-cancel")).clicked() {
                        cmds.push(Command::CancelOpenArchive);
                    }
                    return;
                }
                let l = ui.label(tr.t("archive-path"));
                let r = ui
                    .add(egui::TextEdit::singleline(path).desired_width(420.0))
                    .labelled_by(l.id);
                let enter = r.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                if ui.button(tr.t("archive-open-button")).clicked() || enter {
                    cmds.push(Command::OpenArchive(path.clone()));
                }
                if let Some(e) = err {
                    ui.colored_label(Color32::from_rgb(240, 90, 90), e.as_str());
                }
            });
        if !open {
            self.open_archive = None;
            if self.loading.is_some() {
                cmds.push(Command::CancelOpenArchive);
            }
        }
    }

    /// The lock screen (when `locked`) or the shift-change window (when asked for).
    fn session_windows_ui(&mut self, ctx: &egui::Context, locked: bool) {
        let tr = &self.tr;
        let Some(log) = self.log.as_mut() else {
            return;
        };
        if !locked && !log.session.shift_open {
            return;
        }
        let Some(op) = log.operator.clone() else {
            return;
        };
        let store = log.store().clone();
        if locked {
            log.session.lock_ui(ctx, tr, &store, &op);
        } else {
            log.session.shift_ui(ctx, tr, &store, &op);
        }
    }

    /// Whether the signed-in officer may do `r` (the store checks again). Without a log
    /// (tools, snapshots) nobody signs in and the wall is all there is.
    fn may(&self, r: mt_store::Right) -> bool {
        match &self.log {
            Some(l) => l.may(r),
            None => true,
        }
    }

    /// Whether the signed-in officer may manage trusted keys.
    /// The camera the running tour shows next.
    fn tour_next(&self) -> Option<String> {
        if self.playback.is_some() || self.replay.is_some() {
            return None;
        }
        let t = self
            .state
            .tour
            .as_ref()
            .filter(|t| self.tour_tiles(t).is_some())?;
        let n = self.tour_cameras(t).count();
        let pos = self.tour_at.map(|(_, p)| p).unwrap_or(0);
        self.tour_cameras(t).nth((pos + 1) % n.max(1)).cloned()
    }

    /// The tour's cameras that exist (one removed since is skipped). An iterator: this runs
    /// every frame.
    fn tour_cameras<'a>(&'a self, t: &'a crate::views::Tour) -> impl Iterator<Item = &'a String> {
        t.cameras.iter().filter(|c| self.by_id.contains_key(*c))
    }

    /// How many tiles the tour's wall has now (None: its wall is closed or too small for it).
    fn tour_tiles(&self, t: &crate::views::Tour) -> Option<usize> {
        let n = match t.screen {
            crate::views::Screen::Main => self.state.layout.tile_count(),
            crate::views::Screen::Second => self
                .state
                .second
                .as_ref()
                .filter(|w| w.open)?
                .layout
                .tile_count(),
        };
        (t.tile < n).then_some(n)
    }

    /// The officer put something else on the main wall's tile: a tour there ends.
    fn stop_tour_on(&mut self, tile: usize) {
        if self
            .state
            .tour
            .as_ref()
            .is_some_and(|t| t.screen == crate::views::Screen::Main && t.tile == tile)
        {
            self.state.tour = None;
            self.tour_at = None;
        }
    }

    /// Moves the running tour on to its next camera when its time is up, and asks for a
    /// frame then. A camera of the tour that no longer exists is skipped.
    fn tick_tour(&mut self, ctx: &egui::Context) {
        // Playback and an opened archive show footage of the cameras they were opened (and
        // audited) for: the tour waits for live.
        if self.playback.is_some() || self.replay.is_some() {
            return;
        }
        let Some(t) = self.state.tour.as_ref() else {
            return;
        };
        let n = self.tour_cameras(t).count();
        if n == 0 || self.tour_tiles(t).is_none() {
            return;
        }
        let every = Duration::from_secs(t.every_secs.max(crate::views::MIN_TOUR_SECS) as u64);
        let (since, pos) = match self.tour_at {
            None => (Instant::now(), 0),
            Some((at, pos)) if at.elapsed() >= every => (Instant::now(), (pos + 1) % n),
            Some(x) => {
                ctx.request_repaint_after(every.saturating_sub(x.0.elapsed()));
                return;
            }
        };
        // Only when it moves on: the camera's id and the tile.
        let (tile, screen, id) = (t.tile, t.screen, self.tour_cameras(t).nth(pos).cloned());
        self.tour_at = Some((since, pos));
        let tiles = match screen {
            crate::views::Screen::Main => {
                self.zoom.remove(&tile);
                &mut self.state.tiles
            }
            crate::views::Screen::Second => match self.state.second.as_mut() {
                Some(w) => {
                    self.second_zoom.remove(&tile);
                    &mut w.tiles
                }
                None => return,
            },
        };
        if tiles.len() <= tile {
            tiles.resize(tile + 1, None);
        }
        tiles[tile] = id;
        ctx.request_repaint_after(every);
    }

    /// Applies what the camera window's store jobs finished (a save, a removal, an import).
    fn poll_camera_jobs(&mut self, ctx: &egui::Context) {
        let Some(w) = self.admin.as_mut().and_then(|a| a.window.as_mut()) else {
            return;
        };
        let done = w.poll(&self.tr);
        if w.busy() {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
        for d in done {
            match d {
                crate::cameras::Done::Camera(c) => {
                    let (change, changed) = *c;
                    self.camera_changed(ctx, change, changed)
                }
                crate::cameras::Done::Sites(sites) => {
                    if let Some(map) = self.map.as_mut() {
                        map.sites = sites;
                        map.sites_changed();
                    }
                }
            }
        }
    }

    /// The camera window, for an officer who may manage cameras (closed for anyone else,
    /// once the store jobs it started have answered: those take effect whatever happens).
    fn cameras_window_ui(&mut self, ctx: &egui::Context) {
        let allowed = self.log.is_some() && self.may(mt_store::Right::ManageCameras);
        let map = self.map.as_ref().map(|m| m.streets_by_name.clone());
        let Some(admin) = self.admin.as_mut() else {
            return;
        };
        let Some(w) = admin.window.as_mut() else {
            return;
        };
        let op = self
            .log
            .as_ref()
            .and_then(|l| l.operator.as_ref())
            .map(|o| o.id.clone())
            .unwrap_or_default();
        let open = !allowed
            || w.ui(
                ctx,
                &self.tr,
                &admin.capture,
                self.onvif.as_ref(),
                &admin.file,
                admin.known_text.as_deref(),
                &self.cameras,
                self.log.as_ref().map(|l| l.store()),
                &op,
                map.as_ref(),
            );
        if (!open || !allowed) && !w.busy() {
            admin.window = None;
        }
    }

    /// The camera whose PTZ panel is shown: the maximised live tile's, when it turns, the
    /// officer may turn it and the ONVIF thread runs.
    fn ptz_camera(&self) -> Option<usize> {
        let ci = self.tile_camera(self.maximised?)?;
        (self.cameras[ci].config.ptz
            && self.cameras[ci].config.onvif.is_some()
            && self.playback.is_none()
            && self.replay.is_none()
            && self.onvif.is_some()
            && self.may(mt_store::Right::Ptz))
        .then_some(ci)
    }

    /// Draws the PTZ panel over the wall `rect` (None: the wall is not shown), opening it
    /// for a newly maximised PTZ camera and closing it (a held move stopped) otherwise.
    fn ptz_ui(&mut self, ctx: &egui::Context, rect: Option<Rect>) {
        let ci = rect.and(self.ptz_camera());
        let mut panel = self.ptz.take();
        if let Some(p) = panel.as_mut() {
            if ci.is_none_or(|i| self.cameras[i].config.id.0 != p.camera) {
                if let Some(&old) = self.by_id.get(&p.camera) {
                    p.release(ctx, &self.cameras[old]);
                }
                panel = None;
            }
        }
        let (Some(ci), Some(rect), Some(service)) = (ci, rect, self.onvif.as_ref()) else {
            return;
        };
        let cam = &self.cameras[ci];
        let p = panel.get_or_insert_with(|| crate::ptz::PtzPanel::new(cam, service.clone()));
        let given = p.ui(ctx, &self.tr, cam, rect);
        if p.poll() {
            if let Some(pos) = p.view.as_ref().and_then(|v| v.position) {
                self.ptz_pan.insert(cam.config.id.0.clone(), pos.pan);
            }
        }
        // What the camera was told besides turning is on the officer's record.
        let id = cam.config.id.0.clone();
        let rows: Vec<(&'static str, String)> = given
            .iter()
            .filter_map(|c| match c {
                mt_onvif::PtzCommand::Home => Some(("ptz-home", format!("camera={id}"))),
                mt_onvif::PtzCommand::GotoPreset(t) => Some((
                    "ptz-goto-preset",
                    format!("camera={id} preset={:?}", p.preset_name(t).unwrap_or(t)),
                )),
                mt_onvif::PtzCommand::SavePreset(name) => {
                    Some(("ptz-save-preset", format!("camera={id} preset={name:?}")))
                }
                _ => None,
            })
            .collect();
        self.ptz = panel;
        for (action, subject) in rows {
            self.audit(mt_store::Right::Ptz, action, subject);
        }
    }

    fn supervisor(&self) -> bool {
        self.log.is_some() && self.may(mt_store::Right::TrustKeys)
    }

    fn top_bar_ui(&self, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        let tr = &self.tr;
        // Wrapped: on a narrow window the bar grows a line rather than hiding buttons.
        ui.horizontal_wrapped(|ui| {
            ui.strong(tr.t("app-title"));
            ui.separator();
            let locked = self.log.as_ref().is_some_and(|l| l.operator.is_none());
            if locked {
                // Before sign-in only the language can be chosen.
                for l in Lang::ALL {
                    if ui
                        .selectable_label(tr.lang() == l, tr.t(l.name_key()))
                        .clicked()
                    {
                        cmds.push(Command::SetLang(l));
                    }
                }
                return;
            }
            ui.label(tr.t("menu-layout"));
            for l in WallLayout::ALL {
                if ui
                    .selectable_label(
                        self.state.layout == l && self.maximised.is_none(),
                        l.label(),
                    )
                    .clicked()
                {
                    cmds.push(Command::SetLayout(l));
                }
            }
            if self.map.is_some() {
                ui.separator();
                for v in CentralView::ALL {
                    if ui
                        .selectable_label(self.state.view == v, tr.t(v.key()))
                        .on_hover_text(tr.t("view-key-hint"))
                        .clicked()
                    {
                        cmds.push(Command::SetView(v));
                    }
                }
            }
            ui.separator();
            ui.label(tr.t("menu-language"));
            for l in Lang::ALL {
                if ui
                    .selectable_label(tr.lang() == l, tr.t(l.name_key()))
                    .clicked()
                {
                    cmds.push(Command::SetLang(l));
                }
            }
            ui.separator();
            if ui
                .selectable_label(self.state.show_health, tr.t("health-toggle"))
                .clicked()
            {
                cmds.push(Command::ToggleHealth);
            }
            if ui
                .selectable_label(self.fullscreen, tr.t("fullscreen"))
                .clicked()
            {
                cmds.push(Command::ToggleFullscreen);
            }
            if self.may(mt_store::Right::Playback) && ui.button(tr.t("archive-open")).clicked() {
                cmds.push(Command::OpenArchivePrompt);
            }
            let open = self.state.second.as_ref().is_some_and(|w| w.open);
            let second = if open { "second-close" } else { "second-open" };
            if ui
                .selectable_label(open, tr.t(second))
                .on_hover_text(tr.t("second-hint"))
                .clicked()
            {
                cmds.push(Command::ToggleSecondScreen);
            }
            if ui
                .selectable_label(self.views_window.is_some(), tr.t("views-button"))
                .on_hover_text(tr.t("views-button-hint"))
                .clicked()
            {
                cmds.push(Command::ToggleViews);
            }
            if let Some(a) = self
                .admin
                .as_ref()
                .filter(|_| self.log.is_some() && self.may(mt_store::Right::ManageCameras))
            {
                if ui
                    .selectable_label(a.window.is_some(), tr.t("cam-button"))
                    .on_hover_text(tr.t("cam-button-hint"))
                    .clicked()
                {
                    cmds.push(Command::ToggleCameras);
                }
            }
            if self.supervisor()
                && ui
                    .selectable_label(self.trust.is_some(), tr.t("trust-button"))
                    .on_hover_text(tr.t("trust-button-hint"))
                    .clicked()
            {
                cmds.push(Command::ToggleTrust);
            }
            if self.recorder.is_some()
                && self.may(mt_store::Right::Playback)
                && ui
                    .selectable_label(self.playback.is_some(), tr.t("playback-toggle"))
                    .on_hover_text(tr.t("playback-key-hint"))
                    .clicked()
            {
                cmds.push(Command::TogglePlayback);
            }
            ui.separator();
            let live = self
                .cameras
                .iter()
                .filter(|c| c.health_stream().state().is_live())
                .count();
            ui.label(tr.t_args(
                "summary",
                &[("live", live.into()), ("total", self.cameras.len().into())],
            ));
            let not_recording: Vec<String> = self
                .cameras
                .iter()
                .filter_map(|c| {
                    self.rec_problem(&c.config.id.0)
                        .map(|(r, _)| format!("{} — {r}", c.config.name))
                })
                .collect();
            if !not_recording.is_empty() {
                ui.colored_label(
                    Color32::from_rgb(240, 80, 80),
                    tr.t_args(
                        "rec-cameras-alarm",
                        &[("count", not_recording.len().into())],
                    ),
                )
                .on_hover_text(not_recording.join("\n"));
            }
            if let Some(alarm) = self.rec_status.as_ref().and_then(|r| r.alarm.clone()) {
                ui.colored_label(
                    Color32::from_rgb(240, 80, 80),
                    tr.t_args("rec-alarm", &[("error", alarm.into())]),
                );
            }
            if !self.config_errors.is_empty() {
                ui.colored_label(
                    Color32::from_rgb(230, 160, 40),
                    tr.t_args(
                        "config-errors",
                        &[("count", self.config_errors.len().into())],
                    ),
                )
                .on_hover_text(self.config_errors.join("\n"));
            }
        });
    }

    fn camera_list_ui(&mut self, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        ui.heading(self.tr.t("cameras"));
        ui.horizontal(|ui| {
            let l = ui.label(self.tr.t("search-camera-label"));
            ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text(self.tr.t("search-hint"))
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(l.id);
        });
        if self.list_keys.len() != self.cameras.len() {
            self.list_keys = self.cameras.iter().map(list_key).collect();
        }
        // The query folded once; each camera's words were folded when it was added.
        let words: Vec<String> = text::fold(self.search.trim())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        // The map's registry filter (owner, sharing, consent) applies to the list too: the
        // registry by id, once per frame (not a search of it per camera).
        let registry: Option<(HashMap<&str, &mt_core::CameraSite>, &crate::map::SiteFilter)> =
            self.map.as_ref().map(|m| {
                (
                    m.sites.iter().map(|s| (s.id.as_str(), s)).collect(),
                    &m.filter,
                )
            });
        let mut by_ward: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut hidden = 0usize;
        for (i, c) in self.cameras.iter().enumerate() {
            let cfg = &c.config;
            let registry_ok = registry
                .as_ref()
                .is_none_or(|(by, f)| by.get(cfg.id.0.as_str()).is_none_or(|site| f.accepts(site)));
            if !registry_ok {
                hidden += 1;
                continue;
            }
            if words.iter().all(|w| self.list_keys[i].contains(w.as_str())) {
                let ward = if cfg.ward.is_empty() {
                    self.tr.t("no-ward")
                } else {
                    cfg.ward.clone()
                };
                by_ward.entry(ward).or_default().push(i);
            }
        }
        let tr = &self.tr;
        ui.small(tr.t_args(
            "camera-count",
            &[(
                "count",
                by_ward.values().map(Vec::len).sum::<usize>().into(),
            )],
        ));
        if hidden > 0 {
            ui.small(tr.t_args("camera-filtered", &[("count", hidden.into())]));
        }
        if self.cameras.is_empty() {
            // A fresh workstation: say where cameras come from.
            ui.add(egui::Label::new(egui::RichText::new(tr.t("camera-none")).weak()).wrap());
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (ward, idxs) in &by_ward {
                egui::CollapsingHeader::new(format!("{ward} ({})", idxs.len()))
                    .default_open(true)
                    .show(ui, |ui| {
                        for &i in idxs {
                            let cam = &self.cameras[i];
                            let st = cam.health_stream().state();
                            // One widget that is both clickable (assign to the selected tile) and
                            // draggable (drop on any tile).
                            let resp = ui
                                .horizontal(|ui| {
                                    let (dot, _) = ui.allocate_exact_size(
                                        egui::vec2(10.0, 10.0),
                                        Sense::hover(),
                                    );
                                    ui.painter()
                                        .circle_filled(dot.center(), 4.0, state_color(&st));
                                    ui.selectable_label(false, &cam.config.name)
                                        .interact(Sense::click_and_drag())
                                })
                                .inner;
                            if resp.drag_started() {
                                resp.dnd_set_drag_payload(i);
                            }
                            if resp.dragged() {
                                ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
                            }
                            if resp.clicked() {
                                cmds.push(Command::Assign {
                                    tile: self.selected,
                                    camera: i,
                                });
                            }
                            if self.state.second.as_ref().is_some_and(|w| w.open) {
                                resp.context_menu(|ui| {
                                    if ui.button(self.tr.t("second-send")).clicked() {
                                        cmds.push(Command::SendToSecond(cam.config.id.0.clone()));
                                        ui.close();
                                    }
                                });
                            }
                            resp.on_hover_text(format!(
                                "{}\n{}\n{}",
                                cam.config.id,
                                cam.config.address,
                                cam.config.display_url()
                            ));
                        }
                    });
            }
        });
    }

    fn health_ui(&self, ui: &mut egui::Ui) {
        let tr = &self.tr;
        ui.strong(tr.t("health-title"));
        egui::ScrollArea::both().show(ui, |ui| {
            egui::Grid::new("health-grid")
                .striped(true)
                .num_columns(11)
                .show(ui, |ui| {
                    for h in [
                        "col-camera",
                        "col-ward",
                        "col-state",
                        "col-reason",
                        "col-fps",
                        "col-kbps",
                        "col-age",
                        "col-reconnects",
                        "col-dropped",
                        "col-lost-packets",
                        "col-recording",
                    ] {
                        ui.strong(tr.t(h));
                    }
                    ui.end_row();
                    for cam in &self.cameras {
                        let s = cam.health_stream();
                        let st = s.state();
                        let stats = s.stats();
                        ui.label(&cam.config.name);
                        ui.label(&cam.config.ward);
                        ui.colored_label(state_color(&st), tr.t(st.key()));
                        match &st {
                            StreamState::Lost { reason, detail } => {
                                ui.label(tr.t(reason.key())).on_hover_text(detail)
                            }
                            StreamState::Undecodable { reason, detail } => ui.label(
                                tr.t_args(reason.key(), &[("detail", detail.clone().into())]),
                            ),
                            _ => ui.label(""),
                        };
                        ui.label(format!("{:.1}", stats.fps));
                        ui.label(format!("{:.0}", stats.kbps));
                        ui.label(match stats.last_frame_at {
                            Some(t) => tr.t_args(
                                "age-seconds",
                                &[(
                                    "s",
                                    FluentValue::from(format!("{:.1}", t.elapsed().as_secs_f32())),
                                )],
                            ),
                            None => tr.t("age-never"),
                        });
                        ui.label(stats.reconnects.to_string());
                        ui.label(stats.frames_dropped.to_string());
                        let main = cam.main.stats();
                        ui.label(
                            (stats.packets_lost
                                + if cam.sub.is_some() {
                                    main.packets_lost
                                } else {
                                    0
                                })
                            .to_string(),
                        )
                        .on_hover_text(
                            tr.t_args("hover-loss", &[("damaged", stats.frames_damaged.into())]),
                        );
                        match (&self.rec_status, self.rec_problem(&cam.config.id.0)) {
                            (None, _) => ui.label(""),
                            (Some(_), Some((reason, detail))) => ui
                                .colored_label(
                                    Color32::from_rgb(240, 80, 80),
                                    tr.t_args("rec-not-recording", &[("reason", reason.into())]),
                                )
                                .on_hover_text(detail),
                            (Some(st), None) => {
                                let on = st
                                    .cameras
                                    .get(&cam.config.id.0)
                                    .is_some_and(|c| c.recording);
                                ui.label(tr.t(if on { "rec-on" } else { "rec-waiting" }))
                            }
                        };
                        ui.end_row();
                    }
                });
        });
    }

    /// Which stream a tile shows, and which streams it needs decoded. A maximised tile wants
    /// the main stream but keeps showing (and decoding) the sub stream until the main
    /// stream's first picture is there: no black flash.
    fn tile_streams<'a>(
        &self,
        cam: &'a CameraHandle,
        big: bool,
    ) -> (&'a Arc<StreamShared>, Vec<&'a Arc<StreamShared>>) {
        match (&cam.sub, big) {
            (Some(sub), true) => {
                // The main stream's picture once it decodes continuously (a keyframe decoded
                // seconds ago only to check the stream is not what the tile should show).
                if cam
                    .main
                    .latest_fresh(Duration::from_millis(1_500))
                    .is_some()
                {
                    (&cam.main, vec![&cam.main])
                } else {
                    (sub, vec![&cam.main, sub])
                }
            }
            (Some(sub), false) => (sub, vec![sub]),
            (None, _) => (&cam.main, vec![&cam.main]),
        }
    }

    /// The second monitor: another OS window (an egui viewport; embedded as a window where
    /// the backend has only one) with its own layout and tiles, live pictures only. Its
    /// tiles' streams are marked wanted like the main wall's.
    fn second_screen_ui(
        &self,
        ctx: &egui::Context,
        cmds: &mut Vec<Command>,
        wanted: &mut HashSet<mt_capture::StreamId>,
        locked: bool,
    ) {
        let Some(w) = self.state.second.as_ref() else {
            return;
        };
        let tr = &self.tr;
        let body = |ui: &mut egui::Ui, class: egui::ViewportClass| {
            if ui.ctx().input(|i| i.viewport().close_requested())
                && class != egui::ViewportClass::EmbeddedWindow
            {
                cmds.push(Command::ToggleSecondScreen);
            }
            // Where the window is now, kept for the next start (only when it moved).
            if class != egui::ViewportClass::EmbeddedWindow {
                let (outer, minimized) = ui
                    .ctx()
                    .input(|i| (i.viewport().outer_rect, i.viewport().minimized));
                // Not while minimised (Windows reports -32000), nor a corner far off any
                // screen.
                let sane = |r: &egui::Rect| {
                    (-4000.0..=16000.0).contains(&r.min.x) && (-4000.0..=16000.0).contains(&r.min.y)
                };
                if let Some(r) = outer.filter(|r| sane(r) && minimized != Some(true)) {
                    let moved = w.pos.is_none_or(|p| {
                        (p[0] - r.min.x).abs() >= 1.0 || (p[1] - r.min.y).abs() >= 1.0
                    });
                    if moved {
                        cmds.push(Command::SecondPlaced([r.min.x, r.min.y]));
                    }
                }
            }
            ui.horizontal_wrapped(|ui| {
                for l in [
                    WallLayout::G1,
                    WallLayout::G2,
                    WallLayout::G3,
                    WallLayout::G4,
                ] {
                    if ui
                        .selectable_label(
                            w.layout == l,
                            tr.t_args("second-layout", &[("layout", l.label().into())]),
                        )
                        .clicked()
                    {
                        cmds.push(Command::SecondLayout(l));
                    }
                }
                ui.weak(tr.t("second-explain"));
            });
            let area = ui.available_rect_before_wrap();
            let area = if area.height() < 100.0 {
                // Embedded and not yet sized: a wall of a usable size.
                egui::Rect::from_min_size(area.min, egui::vec2(520.0, 292.0))
            } else {
                area
            };
            ui.allocate_rect(area, Sense::hover());
            if locked {
                ui.painter()
                    .rect_filled(area, 0.0, Color32::from_rgb(12, 12, 16));
                ui.painter().text(
                    area.center(),
                    Align2::CENTER_CENTER,
                    tr.t("second-locked"),
                    FontId::proportional(18.0),
                    Color32::GRAY,
                );
                return;
            }
            let clock = mt_core::time::format(mt_core::time::now_ms(), "%H:%M:%S %d/%m/%Y");
            for (tile, rect) in w.layout.tiles(area, 2.0).into_iter().enumerate() {
                let resp = ui.interact(
                    rect,
                    ui.scope_id().with(("second-tile", tile)),
                    Sense::click_and_drag(),
                );
                let zoom = self.second_zoom.get(&tile).copied();
                if resp.double_clicked() && zoom.is_some() {
                    cmds.push(Command::SecondZoom { tile, zoom: None });
                }
                resp.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Button,
                        true,
                        tr.t_args("second-tile", &[("n", (tile + 1).into())]),
                    )
                });
                if resp.clicked() {
                    cmds.push(Command::SecondSelect(tile));
                }
                let painter = ui.painter_at(rect);
                painter.rect_filled(rect, 0.0, Color32::BLACK);
                let cam = w
                    .tiles
                    .get(tile)
                    .and_then(|t| t.as_deref())
                    .and_then(|id| self.by_id.get(id))
                    .map(|&i| &self.cameras[i]);
                match cam {
                    None => {
                        painter.text(
                            rect.center(),
                            Align2::CENTER_CENTER,
                            tr.t("second-empty"),
                            FontId::proportional(12.0),
                            Color32::GRAY,
                        );
                    }
                    Some(cam) => {
                        // A zoomed tile wants the main stream, as on the main wall.
                        let (shown, want) =
                            self.tile_streams(cam, w.layout == WallLayout::G1 || zoom.is_some());
                        wanted.extend(want.iter().map(|s| s.id));
                        if let Some(frame) = shown.latest() {
                            let pic = fit_aspect(rect, frame.width, frame.height);
                            if let Some(z) = crate::zoom::input(ui, &resp, pic, zoom, true) {
                                cmds.push(Command::SecondZoom { tile, zoom: z });
                            }
                            painter.add(egui_wgpu::Callback::new_paint_callback(
                                pic,
                                VideoCallback {
                                    source: shown.slot.clone(),
                                    crop: zoom.map(|z| (crate::zoom::second_view(tile), z.crop())),
                                },
                            ));
                            crate::zoom::badge(&painter, rect, zoom);
                        }
                        self.tile_overlay_ui(&painter, rect, cam, shown, &clock, true);
                    }
                }
                let stroke = if tile == self.second_selected {
                    Stroke::new(2.0, Color32::from_rgb(250, 200, 40))
                } else {
                    Stroke::new(1.0, Color32::from_gray(40))
                };
                ui.painter()
                    .rect_stroke(rect, 0.0, stroke, StrokeKind::Inside);
            }
        };
        let mut body = body;
        if ctx.embed_viewports() {
            // One window only (tests, some backends): an egui window over the lower right of
            // the main one, leaving the camera list reachable.
            egui::Window::new(tr.t("second-title"))
                .default_pos([620.0, 200.0])
                .default_size([760.0, 620.0])
                .collapsible(false)
                .show(ctx, |ui| body(ui, egui::ViewportClass::EmbeddedWindow));
        } else {
            // Its own OS window, to put on the second monitor: where the officer left it.
            let mut vb = egui::ViewportBuilder::default()
                .with_title(tr.t("second-title"))
                .with_inner_size([1280.0, 760.0]);
            if let Some(p) = self.second_open_pos {
                vb = vb.with_position(p);
            }
            ctx.show_viewport_immediate(
                egui::ViewportId::from_hash_of("matthan-second-wall"),
                vb,
                |ui, class| body(ui, class),
            );
        }
    }

    fn wall_ui(
        &self,
        ui: &mut egui::Ui,
        cmds: &mut Vec<Command>,
        wanted: &mut HashSet<mt_capture::StreamId>,
    ) {
        let area = ui.available_rect_before_wrap();
        ui.allocate_rect(area, Sense::hover());
        let layout = self.state.layout;
        let rects: Vec<(usize, Rect)> = match self.maximised {
            Some(t) => vec![(t, area)],
            None => layout.tiles(area, 2.0).into_iter().enumerate().collect(),
        };
        let big_tile = |r: &Rect| self.maximised.is_some() || r.width() >= area.width() * 0.6;
        let clock = mt_core::time::format(mt_core::time::now_ms(), "%H:%M:%S %d/%m/%Y");
        for (tile, rect) in rects {
            let cam_idx = self.tile_camera(tile);
            let resp = ui.interact(
                rect,
                ui.scope_id().with(("tile", tile)),
                Sense::click_and_drag(),
            );
            resp.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::Button, true, self.tile_label(tile))
            });
            let zoom = self.zoom.get(&tile).copied();
            if resp.clicked() {
                cmds.push(Command::Select(tile));
            }
            if resp.double_clicked() {
                // Zoomed: back to the whole picture first; else maximise as always.
                cmds.push(match zoom {
                    Some(_) => Command::Zoom { tile, zoom: None },
                    None => Command::ToggleMaximise(tile),
                });
            }
            if let Some(cam) = resp.dnd_release_payload::<usize>() {
                cmds.push(Command::Assign { tile, camera: *cam });
            }
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, 0.0, Color32::BLACK);
            match cam_idx {
                None => {
                    painter.text(
                        rect.center(),
                        Align2::CENTER_BOTTOM,
                        self.tr.t("tile-empty"),
                        FontId::proportional(14.0),
                        Color32::GRAY,
                    );
                    painter.text(
                        rect.center(),
                        Align2::CENTER_TOP,
                        self.tr.t("tile-empty-hint"),
                        FontId::proportional(11.0),
                        Color32::DARK_GRAY,
                    );
                }
                Some(ci) if self.playback.is_some() => {
                    let cam = &self.cameras[ci];
                    let pb = self.playback.as_ref().expect("checked");
                    let player = pb.player(&cam.config.id.0);
                    let recorded = player
                        .and_then(|p| p.shown_ms())
                        .filter(|s| (pb.clock_ms - s).abs() < 2_000);
                    match (player, recorded) {
                        (Some(pl), Some(_)) => {
                            if let Some(frame) = pl.shared.latest() {
                                let pic = fit_aspect(rect, frame.width, frame.height);
                                // While the search panel is open a drag draws the search
                                // region over the whole picture: no zoom then.
                                let drawing = self.region_search.open;
                                let zoom = zoom.filter(|_| !drawing);
                                if !drawing {
                                    if let Some(z) = crate::zoom::input(ui, &resp, pic, zoom, true)
                                    {
                                        cmds.push(Command::Zoom { tile, zoom: z });
                                    }
                                }
                                painter.add(egui_wgpu::Callback::new_paint_callback(
                                    pic,
                                    VideoCallback {
                                        source: pl.shared.slot.clone(),
                                        crop: zoom
                                            .map(|z| (crate::zoom::tile_view(tile), z.crop())),
                                    },
                                ));
                                crate::zoom::badge(&painter, rect, zoom);
                                self.region_ui(ui, &painter, pic, &cam.config.id.0, cmds);
                            }
                        }
                        _ => {
                            // A gap: say so and why, instead of a stale picture.
                            let undecodable = player.and_then(|p| p.error.lock().clone());
                            let text = match pb.gap_at(&cam.config.id.0, pb.clock_ms) {
                                _ if undecodable.is_some() => format!(
                                    "{} · {}",
                                    self.tr.t("tile-undecodable"),
                                    self.tr.t_args(
                                        "undecodable-format",
                                        &[("detail", undecodable.unwrap_or_default().into())],
                                    )
                                ),
                                Some(g) => self.tr.t_args(
                                    "playback-gap",
                                    &[(
                                        "reason",
                                        self.tr.t(&format!("gap-{}", g.reason.key())).into(),
                                    )],
                                ),
                                None => self.tr.t("playback-no-recording"),
                            };
                            // Wrapped to the tile, so a small tile still shows all of it.
                            let mut job = egui::text::LayoutJob::simple(
                                text,
                                FontId::proportional(if rect.height() > 200.0 {
                                    14.0
                                } else {
                                    11.0
                                }),
                                Color32::from_rgb(240, 150, 150),
                                (rect.width() - 12.0).max(20.0),
                            );
                            job.halign = egui::Align::Center;
                            let g = painter.layout_job(job);
                            let h = g.size().y;
                            painter.galley(
                                egui::pos2(rect.center().x, rect.center().y - h / 2.0),
                                g,
                                Color32::WHITE,
                            );
                        }
                    }
                    let when = recorded.map(crate::log::format_time).unwrap_or_default();
                    let label = self.tr.t_args("playback-tile", &[("time", when.into())]);
                    self.tile_overlay_ui(&painter, rect, cam, &cam.main, &label, false);
                }
                Some(ci) => {
                    let cam = &self.cameras[ci];
                    // A zoomed tile wants the main stream, so the enlarged picture is sharp.
                    let (shown, want) = self.tile_streams(cam, big_tile(&rect) || zoom.is_some());
                    wanted.extend(want.iter().map(|s| s.id));
                    if let Some(frame) = shown.latest() {
                        let pic = fit_aspect(rect, frame.width, frame.height);
                        if let Some(z) = crate::zoom::input(ui, &resp, pic, zoom, true) {
                            cmds.push(Command::Zoom { tile, zoom: z });
                        }
                        painter.add(egui_wgpu::Callback::new_paint_callback(
                            pic,
                            VideoCallback {
                                source: shown.slot.clone(),
                                crop: zoom.map(|z| (crate::zoom::tile_view(tile), z.crop())),
                            },
                        ));
                        crate::zoom::badge(&painter, rect, zoom);
                    }
                    self.tile_overlay_ui(&painter, rect, cam, shown, &clock, true);
                    if resp.hovered() {
                        resp.clone()
                            .on_hover_ui(|ui| self.tile_tooltip_ui(ui, shown));
                    }
                    resp.context_menu(|ui| {
                        if ui.button(self.tr.t("unassign")).clicked() {
                            cmds.push(Command::Unassign(tile));
                            ui.close();
                        }
                    });
                }
            }
            let hover_drop = resp.dnd_hover_payload::<usize>().is_some();
            let stroke = if hover_drop {
                Stroke::new(3.0, Color32::from_rgb(80, 200, 120))
            } else if tile == self.selected {
                Stroke::new(2.0, Color32::from_rgb(250, 200, 40))
            } else {
                Stroke::new(1.0, Color32::from_gray(40))
            };
            ui.painter()
                .rect_stroke(rect, 0.0, stroke, StrokeKind::Inside);
        }
    }

    /// "Next camera" for search hit `i`: the cameras along the streets leaving its camera's
    /// view in the direction the change moved (the map's street graph, 300 m).
    fn suggest_next(&mut self, i: usize) {
        let Some(row) = self.region_search.hits.get(i) else {
            return;
        };
        let list = match self.map.as_ref() {
            Some(m) => match (
                m.sites.iter().position(|s| s.id == row.hit.camera),
                m.streets.as_ref(),
            ) {
                (Some(from), Some(g)) => mt_map::streets::next_cameras(
                    &m.sites,
                    g,
                    from,
                    row.hit.exit_x().unwrap_or(0.5),
                    300.0,
                )
                .into_iter()
                .filter(|t| self.by_id.contains_key(&m.sites[t.site].id))
                .take(5)
                .map(|t| {
                    (
                        m.sites[t.site].id.clone(),
                        m.sites[t.site].name.clone(),
                        t.distance_m,
                    )
                })
                .collect(),
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        self.region_search.next = Some((i, list));
    }

    /// Opens a trace's cameras together: a layout that holds them, the wall beside the map,
    /// playback at the trace's time, and a motion search near the point in every one (ten
    /// minutes either side).
    pub fn open_trace(&mut self, ctx: &egui::Context, t: crate::trace::TraceOpen) {
        let cams: Vec<(String, Option<f32>)> = t
            .cameras
            .into_iter()
            .filter(|c| self.by_id.contains_key(&c.0))
            .collect();
        if cams.is_empty() {
            return;
        }
        let layout = match cams.len() {
            1 => WallLayout::G1,
            2..=4 => WallLayout::G2,
            5..=9 => WallLayout::G3,
            _ => WallLayout::G4,
        };
        self.state.layout = layout;
        self.state.tiles = (0..layout.tile_count())
            .map(|k| cams.get(k).map(|c| c.0.clone()))
            .collect();
        self.maximised = None;
        self.selected = 0;
        if self.state.view == CentralView::Map {
            self.state.view = CentralView::Split;
        }
        let Some((index, dir)) = self
            .recorder
            .as_ref()
            .map(|r| (r.index(), r.dir().to_owned()))
        else {
            return;
        };
        if self.playback.is_none() {
            let subject = self.playback_subject(t.time_ms);
            self.audit(mt_store::Right::Playback, "playback", subject);
            self.playback = Some(crate::playback::Playback::new(
                index.clone(),
                dir.clone(),
                t.time_ms,
            ));
        }
        if let Some(pb) = self.playback.as_mut() {
            pb.window_ms = 1_800_000;
            pb.playing = false;
            pb.seek(t.time_ms);
        }
        let regions: Vec<(String, mt_record::motion::Region)> = cams
            .iter()
            .map(|(id, x)| (id.clone(), crate::trace::region_near(*x)))
            .collect();
        self.region_search.open = true;
        self.region_search.start_regions(
            &self.tr,
            regions,
            (t.time_ms - 600_000, t.time_ms + 600_000),
            index,
            dir,
            ctx,
        );
        self.audit(
            mt_store::Right::Search,
            "trace",
            format!(
                "time={};cameras={}",
                t.time_ms,
                cams.iter()
                    .map(|c| c.0.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        );
    }

    /// Region search on a playback tile: with the search panel open, a drag over the picture
    /// draws the region (its start is kept in egui's memory: the wall only reads the app);
    /// the region is drawn over the tiles it applies to.
    fn region_ui(
        &self,
        ui: &mut egui::Ui,
        painter: &egui::Painter,
        pic: Rect,
        camera: &str,
        cmds: &mut Vec<Command>,
    ) {
        let mut now = None;
        if self.region_search.open {
            let id = ui.scope_id().with(("region", camera));
            let r = ui.interact(pic, id, Sense::drag());
            r.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::Canvas, true, format!("region {camera}"))
            });
            let key = egui::Id::unique("region-drag");
            if r.drag_started() {
                if let Some(p) = ui.input(|i| i.pointer.press_origin()) {
                    let f = crate::search::to_frac(pic, p);
                    ui.ctx()
                        .data_mut(|d| d.insert_temp(key, (camera.to_owned(), f)));
                }
            }
            let start: Option<(String, egui::Pos2)> = ui.ctx().data(|d| d.get_temp(key));
            if let (Some((c, a)), Some(p)) = (&start, r.interact_pointer_pos()) {
                if c == camera {
                    now = Some(crate::search::to_frac(pic, p));
                    if r.drag_stopped() {
                        let b = now.unwrap_or(*a);
                        cmds.push(Command::RegionDrawn {
                            camera: camera.to_owned(),
                            a: [a.x, a.y],
                            b: [b.x, b.y],
                        });
                        ui.ctx().data_mut(|d| d.remove::<(String, egui::Pos2)>(key));
                    }
                }
            }
            if r.hovered() {
                ui.ctx().set_cursor_icon(egui::CursorIcon::Crosshair);
            }
            let drag = start.zip(now).map(|((_, a), b)| (a, b));
            self.region_search.paint_region(painter, pic, camera, drag);
        } else {
            self.region_search.paint_region(painter, pic, camera, None);
        }
    }

    /// "Ô 7" / "Tile 7", formatted once per language (the wall asks for it every frame).
    fn tile_label(&self, tile: usize) -> String {
        let mut cache = self.tile_labels.borrow_mut();
        if cache.0 != Some(self.tr.lang()) {
            *cache = (
                Some(self.tr.lang()),
                (1..=64)
                    .map(|n| self.tr.t_args("tile-label", &[("n", n.into())]))
                    .collect(),
            );
        }
        cache.1.get(tile).cloned().unwrap_or_default()
    }

    fn tile_overlay_ui(
        &self,
        painter: &egui::Painter,
        rect: Rect,
        cam: &CameraHandle,
        shown: &Arc<StreamShared>,
        clock: &str,
        live: bool,
    ) {
        let font = FontId::proportional(if rect.height() > 200.0 { 14.0 } else { 11.0 });
        let bar = Rect::from_min_size(rect.min, egui::vec2(rect.width(), font.size + 6.0));
        painter.rect_filled(bar, 0.0, Color32::from_black_alpha(150));
        let clock_rect = painter.text(
            bar.right_center() - egui::vec2(4.0, 0.0),
            Align2::RIGHT_CENTER,
            clock,
            font.clone(),
            Color32::from_gray(220),
        );
        // The name gets what the clock leaves, cut with "…" rather than running under it.
        let name_width = (clock_rect.left() - bar.left() - 12.0).max(10.0);
        let mut job = egui::text::LayoutJob::simple_singleline(
            cam.config.name.clone(),
            font.clone(),
            Color32::WHITE,
        );
        job.wrap = egui::text::TextWrapping::truncate_at_width(name_width);
        let galley = painter.layout_job(job);
        painter.galley(
            egui::pos2(bar.left() + 4.0, bar.center().y - galley.size().y / 2.0),
            galley,
            Color32::WHITE,
        );
        if !live {
            // Playback: the amber clock says so; live states do not apply.
            painter.rect_stroke(
                rect.shrink(1.0),
                0.0,
                Stroke::new(2.0, Color32::from_rgb(240, 170, 40)),
                StrokeKind::Inside,
            );
            return;
        }
        let st = cam.health_stream().state();
        let st = if shown.state().is_live() {
            StreamState::Live
        } else {
            st
        };
        match st {
            StreamState::Lost { reason, .. } => {
                painter.rect_filled(
                    rect.shrink(1.0),
                    0.0,
                    Color32::from_rgba_unmultiplied(120, 0, 0, 110),
                );
                painter.text(
                    rect.center(),
                    Align2::CENTER_BOTTOM,
                    self.tr.t("signal-lost"),
                    FontId::proportional(font.size + 6.0),
                    Color32::WHITE,
                );
                let reconnects = cam.health_stream().stats().reconnects;
                painter.text(
                    rect.center() + egui::vec2(0.0, 2.0),
                    Align2::CENTER_TOP,
                    format!(
                        "{} · {}",
                        self.tr.t(reason.key()),
                        self.tr
                            .t_args("reconnects", &[("count", reconnects.into())])
                    ),
                    font.clone(),
                    Color32::from_rgb(255, 210, 210),
                );
            }
            StreamState::Connecting => {
                painter.text(
                    rect.center(),
                    Align2::CENTER_CENTER,
                    self.tr.t("connecting"),
                    font.clone(),
                    Color32::LIGHT_GRAY,
                );
            }
            StreamState::Undecodable { reason, detail } => {
                let detail = self.tr.t_args(reason.key(), &[("detail", detail.into())]);
                // No frozen picture passed off as live: the tile is dimmed and says why.
                painter.rect_filled(
                    rect.shrink(1.0),
                    0.0,
                    Color32::from_rgba_unmultiplied(60, 30, 0, 200),
                );
                painter.text(
                    rect.center(),
                    Align2::CENTER_BOTTOM,
                    self.tr.t("tile-undecodable"),
                    FontId::proportional(font.size + 4.0),
                    Color32::from_rgb(255, 200, 120),
                );
                let mut job = egui::text::LayoutJob::simple(
                    detail,
                    font.clone(),
                    Color32::from_rgb(255, 225, 190),
                    rect.width() - 16.0,
                );
                job.halign = egui::Align::Center;
                let g = painter.layout_job(job);
                painter.galley(
                    egui::pos2(rect.center().x, rect.center().y + 2.0),
                    g,
                    Color32::WHITE,
                );
            }
            StreamState::Live | StreamState::Idle => {}
        }
        // The main stream is what is recorded: say when it is not, whatever the tile shows.
        if let Some((reason, _)) = self.rec_problem(&cam.config.id.0) {
            let bar = Rect::from_min_max(
                egui::pos2(rect.left(), rect.bottom() - font.size - 6.0),
                rect.max,
            );
            painter.rect_filled(bar, 0.0, Color32::from_rgba_unmultiplied(150, 0, 0, 200));
            painter.text(
                bar.left_center() + egui::vec2(4.0, 0.0),
                Align2::LEFT_CENTER,
                self.tr
                    .t_args("tile-not-recording", &[("reason", reason.into())]),
                font,
                Color32::WHITE,
            );
        }
    }

    /// Why `camera` is not being recorded now (translated reason, detail), if it is not.
    fn rec_problem(&self, camera: &str) -> Option<(String, String)> {
        let st = self.rec_status.as_ref()?;
        let c = st.cameras.get(camera)?;
        if c.recording {
            return None;
        }
        let (r, d, _) = c.problem.as_ref()?;
        Some((self.tr.t(&format!("gap-{}", r.key())), d.clone()))
    }

    fn tile_tooltip_ui(&self, ui: &mut egui::Ui, s: &Arc<StreamShared>) {
        let tr = &self.tr;
        let st = s.stats();
        ui.label(RichText::new(tr.t_args(
            "hover-fps",
            &[("fps", FluentValue::from(format!("{:.1}", st.fps)))],
        )));
        ui.label(tr.t_args(
            "hover-bitrate",
            &[("kbps", FluentValue::from(format!("{:.0}", st.kbps)))],
        ));
        ui.label(tr.t_args(
            "hover-resolution",
            &[("w", st.width.into()), ("h", st.height.into())],
        ));
        ui.label(tr.t_args("hover-codec", &[("codec", st.codec.into())]));
        let kind = match s.kind {
            mt_capture::StreamKind::Main => tr.t("stream-main"),
            mt_capture::StreamKind::Sub => tr.t("stream-sub"),
        };
        ui.label(tr.t_args("hover-stream", &[("stream", kind.into())]));
        // Where the picture times come from: the camera's own clock (its RTCP reports agree
        // with the workstation's) or arrival, and how far the camera's clock is off.
        if let Some(off) = st.camera_clock_offset_ms {
            let key = if st.camera_clock_used {
                "hover-clock-camera"
            } else {
                "hover-clock-arrival"
            };
            ui.label(tr.t_args(key, &[("ms", off.into())]));
        }
    }
}

fn state_color(s: &StreamState) -> Color32 {
    match s {
        StreamState::Live => Color32::from_rgb(60, 200, 90),
        StreamState::Connecting => Color32::from_rgb(230, 190, 60),
        StreamState::Lost { .. } => Color32::from_rgb(230, 60, 60),
        StreamState::Idle => Color32::GRAY,
        StreamState::Undecodable { .. } => Color32::from_rgb(230, 130, 40),
    }
}

impl eframe::App for MatThanApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// The words the camera list's search finds a camera by, folded: name, ward (and its former
/// names, before July 2025), address, owner, id.
fn list_key(c: &CameraHandle) -> String {
    let cfg = &c.config;
    text::fold(&format!(
        "{} {} {} {} {} {}",
        cfg.name,
        cfg.ward,
        cfg.address,
        cfg.owner,
        cfg.id,
        mt_core::wards::former_names(&cfg.ward).join(" ")
    ))
}

/// Wakes the UI when a camera's stream has a new picture, coalescing wake-ups from dozens of
/// streams to at most ~60 repaints a second.
fn wake_on_pictures(ctx: &egui::Context, cam: &CameraHandle) {
    for s in std::iter::once(&cam.main).chain(cam.sub.as_ref()) {
        let c = ctx.clone();
        s.set_waker(Some(Arc::new(move || {
            c.request_repaint_after(Duration::from_millis(16))
        })));
    }
}
