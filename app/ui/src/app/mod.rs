//! The workstation window: top bar, camera list (left), wall (centre), health panel (bottom).
//!
//! Here: the state (`MatThanApp`, `WallState`, `Command`) and the frame (`show`: polls, then
//! the panels, then the commands the panels returned, applied in one place). The parts:
//! [`commands`] (every command applied, rights checked), [`wall`] (tiles: stream, picture,
//! overlay — where a frame meets a tile), [`health`], [`camera_list`], [`top_bar`] (and the
//! keyboard), [`second_screen`], [`tours`], [`follow`] (trace and next camera), [`windows`]
//! (archive, session, camera window, PTZ), [`audit`] (footage reviews accountable to an
//! officer).

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

mod audit;
mod camera_list;
mod commands;
mod follow;
mod health;
mod second_screen;
mod top_bar;
mod tours;
mod wall;
mod windows;

use camera_list::*;
use health::*;

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
    /// When the current (or last) frame began.
    frame_start: Instant,
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
            frame_start: Instant::now(),
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

    /// Draws the whole workstation into `ui` and applies what the officer did. In debug
    /// builds a frame that takes longer than [`Self::slow_frame`] is logged (at most once a
    /// second) with how long each part took: the UI thread only draws, and this says when it
    /// does not.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let t0 = Instant::now();
        self.frame_start = t0;
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
            let parts: Vec<String> = self
                .frame_parts()
                .into_iter()
                .map(|(what, d)| format!("{what} {:.1} ms", d.as_secs_f64() * 1e3))
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

    /// How long each part of the last frame took (wall time): polls, top bar and windows, log
    /// and side panels, wall and map, applying commands. For the slow-frame log and the
    /// benchmark.
    pub fn frame_parts(&self) -> Vec<(&'static str, Duration)> {
        let mut prev = self.frame_start;
        self.laps
            .iter()
            .map(|(what, at)| {
                let d = at.saturating_duration_since(prev);
                prev = *at;
                (*what, d)
            })
            .collect()
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

    /// Whether the signed-in officer may do `r` (the store checks again). Without a log
    /// (tools, snapshots) nobody signs in and the wall is all there is.
    fn may(&self, r: mt_store::Right) -> bool {
        match &self.log {
            Some(l) => l.may(r),
            None => true,
        }
    }

    fn supervisor(&self) -> bool {
        self.log.is_some() && self.may(mt_store::Right::TrustKeys)
    }
}

impl eframe::App for MatThanApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
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
