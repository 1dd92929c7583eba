//! Camera tours: which camera comes next on which tile, and when.

use super::*;

impl MatThanApp {
    /// Whether the signed-in officer may manage trusted keys.
    /// The camera the running tour shows next.
    pub(super) fn tour_next(&self) -> Option<String> {
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
    pub(super) fn tour_cameras<'a>(
        &'a self,
        t: &'a crate::views::Tour,
    ) -> impl Iterator<Item = &'a String> {
        t.cameras.iter().filter(|c| self.by_id.contains_key(*c))
    }

    /// How many tiles the tour's wall has now (None: its wall is closed or too small for it).
    pub(super) fn tour_tiles(&self, t: &crate::views::Tour) -> Option<usize> {
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
    pub(super) fn stop_tour_on(&mut self, tile: usize) {
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
    pub(super) fn tick_tour(&mut self, ctx: &egui::Context) {
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
}
