//! Following someone: the trace window opened from the map, the next camera suggested.

use super::*;

impl MatThanApp {
    /// "Next camera" for search hit `i`: the cameras along the streets leaving its camera's
    /// view in the direction the change moved (the map's street graph, 300 m).
    pub(super) fn suggest_next(&mut self, i: usize) {
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
}
