//! Every wall command passes here (`MatThanApp::apply`): rights checked once, then the
//! state changed; the wall state saved.

use super::*;

impl MatThanApp {
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
                        .spawn(move || {
                            mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
                            drop(heavy)
                        });
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

    pub(super) fn save_state(&self) {
        if let Some(p) = &self.state_path {
            if let Err(e) = self.state.save(p) {
                tracing::warn!("cannot save wall state to {}: {e}", p.display());
            }
        }
    }
}
