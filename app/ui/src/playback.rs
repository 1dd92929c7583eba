//! Playback of the recordings on the wall: every tile shows its camera's recorded picture at
//! the same wall-clock time; a timeline under the wall shows what is recorded, the bookmarks
//! and the incidents. P switches between live and playback.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Align2, Color32, FontId, Rect, Stroke};
use mt_record::player::{PlayerThread, RecordingPlayer};
use mt_record::Index;
use parking_lot::Mutex;

use crate::i18n::Tr;

pub struct Playback {
    pub clock_ms: i64,
    pub playing: bool,
    pub rate: f64,
    /// Width of the timeline, ms.
    pub window_ms: i64,
    last_tick: Option<Instant>,
    players: HashMap<String, PlayerThread>,
    index: Arc<Mutex<Index>>,
    rec_dir: PathBuf,
    ranges: HashMap<String, Vec<(i64, i64)>>,
    /// Per camera: the gaps in view (time without footage, and why).
    gaps: HashMap<String, Vec<mt_record::index::Gap>>,
    /// A backward frame step is under way: once the players answer, the clock goes to the
    /// newest picture shown.
    snap_back: bool,
    /// The timeline's data being read on a thread.
    refreshing: Option<std::sync::mpsc::Receiver<TimelineData>>,
    /// Per camera: (time, share of the picture that changed), the motion trace.
    activity: HashMap<String, Vec<(i64, f32)>>,
    ranges_at: Option<Instant>,
}

/// Per camera: its runs (start, end), gaps and activity in the timeline's window.
type TimelineData = Vec<(
    String,
    Vec<(i64, i64)>,
    Vec<mt_record::index::Gap>,
    Vec<(i64, f32)>,
)>;

/// What the timeline marks besides recordings: bookmark and incident times.
pub struct Marks<'a> {
    pub bookmarks: &'a [i64],
    pub incidents: &'a [i64],
    /// Region search hits: (camera, start, end).
    pub hits: &'a [crate::search::HitRow],
    /// The region search panel is open (its button shows it).
    pub search_open: bool,
    /// Whether the officer may search footage (the button is hidden otherwise).
    pub can_search: bool,
}

impl Playback {
    pub fn new(index: Arc<Mutex<Index>>, rec_dir: PathBuf, start_ms: i64) -> Self {
        Playback {
            clock_ms: start_ms,
            playing: false,
            rate: 1.0,
            window_ms: 3_600_000,
            last_tick: None,
            players: HashMap::new(),
            index,
            rec_dir,
            ranges: HashMap::new(),
            gaps: HashMap::new(),
            snap_back: false,
            refreshing: None,
            activity: HashMap::new(),
            ranges_at: None,
        }
    }

    /// Starts a player for `camera` if it has none (a thread "replay <id>").
    pub fn ensure(&mut self, camera: &str) {
        if self.players.contains_key(camera) {
            return;
        }
        let p = RecordingPlayer::new(camera, &self.rec_dir, self.index.clone());
        match PlayerThread::spawn(p, camera) {
            Ok(t) => {
                t.set_time(self.clock_ms);
                self.players.insert(camera.to_owned(), t);
            }
            Err(e) => tracing::warn!("playback of {camera}: {e}"),
        }
    }

    pub fn player(&self, camera: &str) -> Option<&PlayerThread> {
        self.players.get(camera)
    }

    pub fn seek(&mut self, t: i64) {
        self.clock_ms = t.min(mt_record::now_ms());
        for p in self.players.values() {
            p.set_time(self.clock_ms);
        }
    }

    /// Frame step: forward to the next picture of whichever tile has the earliest one, back
    /// to the picture before the newest one on screen, so no camera's picture is skipped at
    /// any frame rate (a 12 fps and a 30 fps camera side by side).
    pub fn step(&mut self, frames: i64) {
        self.playing = false;
        let players: Vec<&PlayerThread> = self.players.values().collect();
        if frames > 0 {
            if let Some(next) = players
                .iter()
                .filter_map(|p| p.next_ms())
                .filter(|t| *t > self.clock_ms)
                .min()
            {
                self.seek(next);
            }
        } else if frames < 0 {
            let newest = players
                .iter()
                .filter_map(|p| p.shown_ms())
                .max()
                .unwrap_or(self.clock_ms);
            self.seek(newest - 1);
            self.snap_back = true;
        }
    }

    /// The gap `camera` is in at `t`, if any (for "no recording" and its reason on the tile).
    pub fn gap_at(&self, camera: &str, t: i64) -> Option<&mt_record::index::Gap> {
        self.gaps
            .get(camera)?
            .iter()
            .find(|g| g.from_ms <= t && t < g.to_ms)
    }

    /// Advances the clock when playing (stops at "now").
    pub fn tick(&mut self) {
        let now = Instant::now();
        if self.snap_back && self.players.values().all(|p| p.settled()) {
            self.snap_back = false;
            if let Some(t) = self.players.values().filter_map(|p| p.shown_ms()).max() {
                self.clock_ms = t;
                for p in self.players.values() {
                    p.set_time(t);
                }
            }
        }
        if self.playing {
            if let Some(last) = self.last_tick {
                let dt = (now.duration_since(last).as_secs_f64() * 1000.0 * self.rate) as i64;
                let t = self.clock_ms + dt;
                if t >= mt_record::now_ms() {
                    self.playing = false;
                }
                self.seek(t);
            }
        }
        self.last_tick = Some(now);
    }

    /// Once a second, the timeline's runs, gaps and activity are read on a thread
    /// ("playback-index": SQL under the index lock the recorders share, a directory scan for
    /// the segments being written); the UI takes the answer when it is there.
    fn refresh_ranges(&mut self, cameras: &[(String, String)]) {
        if let Some(rx) = &self.refreshing {
            match rx.try_recv() {
                Ok(t) => {
                    self.refreshing = None;
                    for (id, ranges, gaps, activity) in t {
                        self.ranges.insert(id.clone(), ranges);
                        self.gaps.insert(id.clone(), gaps);
                        self.activity.insert(id, activity);
                    }
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => return,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => self.refreshing = None,
            }
        }
        if self
            .ranges_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.ranges_at = Some(Instant::now());
        let (a, b) = self.window();
        let ids: Vec<String> = cameras.iter().map(|(id, _)| id.clone()).collect();
        let (index, rec_dir) = (self.index.clone(), self.rec_dir.clone());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("playback-index".into())
            .spawn(move || {
                mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
                let now = mt_record::now_ms();
                let mut out = Vec::new();
                for id in ids {
                    // The segment being written counts as recorded up to now.
                    let open = mt_record::recorder::open_segment(&rec_dir, &id).map(|(_, s)| s);
                    let idx = index.lock();
                    let (mut r, gaps) = match idx.timeline(&id, a, b, open) {
                        Ok(tl) => (
                            tl.runs
                                .iter()
                                .map(|r| (r.start_ms, r.end_ms))
                                .collect::<Vec<_>>(),
                            tl.gaps,
                        ),
                        Err(e) => {
                            tracing::warn!("playback timeline of {id}: {e}");
                            (Vec::new(), Vec::new())
                        }
                    };
                    if let Some(start) = open {
                        r.push((start, now));
                    }
                    let act = idx.motion_trace(&id, a, b).unwrap_or_default();
                    drop(idx);
                    out.push((id, r, gaps, act));
                }
                let _ = tx.send(out);
            });
        match spawned {
            Ok(_) => self.refreshing = Some(rx),
            Err(e) => tracing::warn!("playback timeline: {e}"),
        }
    }

    pub fn index(&self) -> Arc<Mutex<Index>> {
        self.index.clone()
    }

    pub fn rec_dir(&self) -> PathBuf {
        self.rec_dir.clone()
    }

    /// The period the timeline shows.
    pub fn window(&self) -> (i64, i64) {
        let end = (self.clock_ms + self.window_ms / 2).min(mt_record::now_ms());
        (end - self.window_ms, end)
    }

    /// The timeline panel. Returns true when the officer asks to go back to live.
    pub fn timeline_ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        cameras: &[(String, String)],
        marks: &Marks<'_>,
        toggle_search: &mut bool,
    ) -> bool {
        self.refresh_ranges(cameras);
        let mut live = false;
        // Wrapped: a row wider than the panel would widen the timeline under the side panels.
        ui.horizontal_wrapped(|ui| {
            if ui.button(tr.t("playback-live")).clicked() {
                live = true;
            }
            if marks.can_search
                && ui
                    .selectable_label(marks.search_open, tr.t("motion-toggle"))
                    .on_hover_text(tr.t("motion-key-hint"))
                    .clicked()
            {
                *toggle_search = true;
            }
            ui.separator();
            let step = crate::replay::transport_ui(ui, tr, &mut self.playing, &mut self.rate);
            if step != 0 {
                self.step(step);
            }
            ui.separator();
            let prev = marks
                .bookmarks
                .iter()
                .copied()
                .filter(|t| *t < self.clock_ms - 500)
                .max();
            let next = marks
                .bookmarks
                .iter()
                .copied()
                .filter(|t| *t > self.clock_ms + 500)
                .min();
            if ui
                .add_enabled(
                    prev.is_some(),
                    egui::Button::new(tr.t("playback-prev-bookmark")),
                )
                .clicked()
            {
                self.playing = false;
                self.seek(prev.unwrap_or(self.clock_ms));
            }
            if ui
                .add_enabled(
                    next.is_some(),
                    egui::Button::new(tr.t("playback-next-bookmark")),
                )
                .clicked()
            {
                self.playing = false;
                self.seek(next.unwrap_or(self.clock_ms));
            }
            ui.separator();
            for (label, w) in [
                ("10'", 600_000),
                ("1h", 3_600_000),
                ("6h", 21_600_000),
                ("24h", 86_400_000),
            ] {
                if ui.selectable_label(self.window_ms == w, label).clicked() {
                    self.window_ms = w;
                    self.ranges_at = None;
                }
            }
            ui.separator();
            ui.monospace(crate::log::format_time(self.clock_ms));
        });
        let rows = cameras.len().max(1) as f32;
        let (a, b) = self.window();
        let strip = crate::replay::TimeStrip::new(ui, tr, rows * 13.0 + 26.0, (a, b));
        let mut hover_gap: Option<String> = None;
        let (rect, p) = (strip.rect, &strip.painter);
        let x_of = |t: i64| strip.x(t);
        for (k, (id, name)) in cameras.iter().enumerate() {
            let y = rect.top() + 14.0 + k as f32 * 13.0;
            for (s, e) in self.ranges.get(id).map(Vec::as_slice).unwrap_or(&[]) {
                let r = Rect::from_min_max(
                    egui::pos2(x_of(*s).max(rect.left()), y),
                    egui::pos2(x_of(*e).min(rect.right()).max(x_of(*s) + 1.0), y + 9.0),
                );
                p.rect_filled(r, 1.0, Color32::from_rgb(60, 120, 200));
            }
            // Gaps: red, with the reason under the pointer.
            for g in self.gaps.get(id).map(Vec::as_slice).unwrap_or(&[]) {
                let r = Rect::from_min_max(
                    egui::pos2(x_of(g.from_ms).max(rect.left()), y + 2.0),
                    egui::pos2(
                        x_of(g.to_ms).min(rect.right()).max(x_of(g.from_ms) + 1.0),
                        y + 7.0,
                    ),
                );
                p.rect_filled(r, 0.0, Color32::from_rgb(200, 50, 50));
                if strip
                    .hover_pos()
                    .is_some_and(|h| r.expand2(egui::vec2(0.0, 3.0)).contains(h))
                {
                    hover_gap = Some(
                        tr.t_args(
                            "timeline-gap",
                            &[
                                ("from", crate::log::format_time(g.from_ms).into()),
                                ("to", crate::log::format_time(g.to_ms).into()),
                                (
                                    "reason",
                                    format!(
                                        "{}{}",
                                        tr.t(&format!("gap-{}", g.reason.key())),
                                        if g.detail.is_empty() {
                                            String::new()
                                        } else {
                                            format!(" ({})", g.detail)
                                        }
                                    )
                                    .into(),
                                ),
                            ],
                        ),
                    );
                }
            }
            // Motion: the share of the picture that changed, per sample of the motion
            // index (a bar of full height: a quarter of the picture or more), the strongest
            // sample of each pixel column.
            let trace = self.activity.get(id).map(Vec::as_slice).unwrap_or(&[]);
            let mut bars = egui::Mesh::default();
            let mut col: Option<(i32, f32)> = None;
            let flush = |c: Option<(i32, f32)>, bars: &mut egui::Mesh| {
                if let Some((x, v)) = c {
                    let v = (v * 4.0).min(1.0);
                    if v > 0.0 {
                        let bar = Rect::from_min_max(
                            egui::pos2(x as f32, y + 9.0 - 9.0 * v.max(0.12)),
                            egui::pos2(x as f32 + 1.0, y + 9.0),
                        );
                        bars.add_colored_rect(bar, Color32::from_rgb(255, 170, 60));
                    }
                }
            };
            for (t, share) in trace {
                if *t < a || *t > b {
                    continue;
                }
                let x = x_of(*t).floor() as i32;
                match col {
                    Some((cx, v)) if cx == x => col = Some((cx, v.max(*share))),
                    _ => {
                        flush(col, &mut bars);
                        col = Some((x, *share));
                    }
                }
            }
            flush(col, &mut bars);
            // Search hits on this camera's row.
            for h in marks
                .hits
                .iter()
                .map(|r| &r.hit)
                .filter(|h| &h.camera == id)
            {
                let (s, e) = (&h.start_ms, &h.end_ms);
                let r = Rect::from_min_max(
                    egui::pos2(x_of(*s).max(rect.left()), y - 1.0),
                    egui::pos2(x_of(*e).min(rect.right()).max(x_of(*s) + 2.0), y + 10.0),
                );
                p.rect_filled(r, 1.0, Color32::from_rgb(250, 200, 40));
            }
            p.add(egui::Shape::mesh(bars));
            p.text(
                egui::pos2(rect.left() + 3.0, y + 4.5),
                Align2::LEFT_CENTER,
                name,
                FontId::proportional(9.5),
                Color32::from_gray(230),
            );
        }
        for t in marks.incidents {
            strip.mark(*t, Stroke::new(2.0, Color32::from_rgb(240, 80, 80)), None);
        }
        for t in marks.bookmarks {
            strip.mark(
                *t,
                Stroke::new(3.0, Color32::from_rgb(250, 200, 40)),
                Some(10.0),
            );
        }
        // Hour ticks.
        let step = if self.window_ms <= 3_600_000 {
            600_000
        } else {
            3_600_000
        };
        let mut t = a - a.rem_euclid(step) + step;
        while t < b {
            let x = x_of(t);
            p.line_segment(
                [
                    egui::pos2(x, rect.bottom() - 6.0),
                    egui::pos2(x, rect.bottom()),
                ],
                Stroke::new(1.0, Color32::GRAY),
            );
            let label = mt_core::time::format(t, "%H:%M");
            p.text(
                egui::pos2(x, rect.bottom() - 7.0),
                Align2::CENTER_BOTTOM,
                label,
                FontId::proportional(9.0),
                Color32::GRAY,
            );
            t += step;
        }
        if let Some(text) = hover_gap {
            strip.tooltip(text);
        }
        if let Some(t) = strip.finish(self.clock_ms) {
            self.seek(t);
        }
        live
    }
}
