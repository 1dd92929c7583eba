//! "Tìm chuyển động trong vùng": the region search panel of playback. The officer draws a
//! rectangle over a tile's picture, picks a period and a sensitivity, and the search runs on
//! its own thread ([`mt_record::search::spawn`]); hits stream into the list (thumbnail,
//! camera, start–end) and onto the timeline as they are found. N / Shift+N go to the next /
//! previous hit, a click plays from a few seconds before it, B bookmarks it with the region
//! drawn on the still.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

use egui::{Color32, Rect, Stroke, StrokeKind};
use mt_capture::DecodedFrame;
use mt_record::index::Gap;
use mt_record::motion::Region;
use mt_record::search::{Event, Hit, Problem, Query, Stats};
use mt_record::Index;
use parking_lot::Mutex;

use crate::i18n::Tr;

/// Playback starts this long before a hit.
pub const LEAD_MS: i64 = 3_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    LastHour,
    Day,
    Week,
    /// What the timeline shows.
    Timeline,
    Custom,
}

pub struct HitRow {
    pub hit: Hit,
    pub name: String,
    tex: Option<egui::TextureHandle>,
}

struct Running {
    rx: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    cameras: Vec<String>,
    progress: HashMap<String, f32>,
    finished: usize,
    started: Instant,
}

/// What the panel asks of playback.
pub enum SearchAction {
    /// Go to this time (and play when true).
    Seek(i64, bool),
    /// Suggest the cameras someone leaving this hit's picture can reach next.
    NextCamera(usize),
    /// Put this camera on the wall beside the hit's, at this time.
    OpenCamera(String, i64),
}

pub struct SearchUi {
    /// The panel is open and dragging on a tile draws the region.
    pub open: bool,
    /// The camera the region was drawn on, and the region.
    pub camera: Option<String>,
    pub region: Option<Region>,
    /// A region per camera (a trace: near the point, in each picture); drawn and searched
    /// instead of `region` for those cameras.
    pub regions: HashMap<String, Region>,
    pub error: Option<String>,
    pub period: Period,
    pub from_text: String,
    pub to_text: String,
    pub sensitivity: f32,
    /// Search every camera of the layout, not just the one drawn on.
    pub all_cameras: bool,
    running: Option<Running>,
    pub hits: Vec<HitRow>,
    pub gaps: Vec<Gap>,
    pub problems: Vec<(String, Problem)>,
    pub unindexed: usize,
    /// The hit the officer is on (N / Shift+N, a click).
    pub current: Option<usize>,
    /// "Next camera" for a hit: its index and the suggestions (id, name, metres along the
    /// streets).
    pub next: Option<(usize, Vec<(String, String, f64)>)>,
    pub stats: Vec<(String, Stats)>,
}

impl Default for SearchUi {
    fn default() -> Self {
        SearchUi {
            open: false,
            camera: None,
            region: None,
            regions: HashMap::new(),
            error: None,
            period: Period::Day,
            from_text: String::new(),
            to_text: String::new(),
            sensitivity: 0.5,
            all_cameras: false,
            running: None,
            hits: Vec::new(),
            gaps: Vec::new(),
            problems: Vec::new(),
            unindexed: 0,
            current: None,
            next: None,
            stats: Vec::new(),
        }
    }
}

/// Fractions of `pic` at screen position `p`, clamped to the picture.
pub fn to_frac(pic: Rect, p: egui::Pos2) -> egui::Pos2 {
    egui::pos2(
        ((p.x - pic.left()) / pic.width().max(1.0)).clamp(0.0, 1.0),
        ((p.y - pic.top()) / pic.height().max(1.0)).clamp(0.0, 1.0),
    )
}

fn from_frac(pic: Rect, f: [f32; 2]) -> egui::Pos2 {
    egui::pos2(
        pic.left() + f[0] * pic.width(),
        pic.top() + f[1] * pic.height(),
    )
}

impl SearchUi {
    pub fn running(&self) -> bool {
        self.running.is_some()
    }

    /// The region, if any, to draw on `camera`'s tile (all tiles when searching them all).
    pub fn outline_for(&self, camera: &str) -> Option<&[[f32; 2]]> {
        if let Some(r) = self.regions.get(camera) {
            return Some(&r.outline[..]);
        }
        let r = self.region.as_ref()?;
        (self.all_cameras || self.camera.as_deref() == Some(camera)).then_some(&r.outline[..])
    }

    /// Draws the region over a tile's picture `pic`, or the rectangle being dragged on it
    /// (`drag`: from, to, in fractions).
    pub fn paint_region(
        &self,
        painter: &egui::Painter,
        pic: Rect,
        camera: &str,
        drag: Option<(egui::Pos2, egui::Pos2)>,
    ) {
        let yellow = Color32::from_rgb(250, 200, 40);
        if let Some((a, b)) = drag {
            let r = Rect::from_two_pos(from_frac(pic, [a.x, a.y]), from_frac(pic, [b.x, b.y]));
            painter.rect(
                r,
                0.0,
                Color32::from_rgba_unmultiplied(250, 200, 40, 40),
                Stroke::new(2.0, yellow),
                StrokeKind::Inside,
            );
            return;
        }
        if let Some(o) = self.outline_for(camera) {
            let pts: Vec<egui::Pos2> = o.iter().map(|p| from_frac(pic, *p)).collect();
            painter.add(egui::Shape::convex_polygon(
                pts.clone(),
                Color32::from_rgba_unmultiplied(250, 200, 40, 30),
                Stroke::NONE,
            ));
            painter.add(egui::Shape::closed_line(pts, Stroke::new(2.0, yellow)));
        }
    }

    /// A drag over `camera`'s picture ended at fractions `a`–`b`: that is the region.
    pub fn set_rect(&mut self, tr: &Tr, camera: &str, a: egui::Pos2, b: egui::Pos2) {
        let (x0, y0) = (a.x.min(b.x), a.y.min(b.y));
        let (w, h) = ((a.x - b.x).abs(), (a.y - b.y).abs());
        match Region::rect(x0, y0, w, h) {
            Ok(r) => {
                self.region = Some(r);
                self.camera = Some(camera.to_owned());
                self.regions.clear();
                self.error = None;
            }
            Err(e) => {
                self.error = Some(tr.t(match e {
                    mt_record::motion::RegionError::TooSmall(_) => "motion-region-small",
                    _ => "motion-region-outside",
                }))
            }
        }
    }

    /// The period to search, from the choice (None, with the reason shown, if the typed
    /// times cannot be read).
    fn period_ms(&mut self, tr: &Tr, window: (i64, i64)) -> Option<(i64, i64)> {
        let now = mt_record::now_ms();
        Some(match self.period {
            Period::LastHour => (now - 3_600_000, now),
            Period::Day => (now - 86_400_000, now),
            Period::Week => (now - 7 * 86_400_000, now),
            Period::Timeline => window,
            Period::Custom => {
                let a = crate::log::parse_input_time(&self.from_text);
                let b = crate::log::parse_input_time(&self.to_text);
                match (a, b) {
                    (Some(a), Some(b)) if b > a => (a, b),
                    _ => {
                        self.error = Some(tr.t("motion-period-error"));
                        return None;
                    }
                }
            }
        })
    }

    pub fn start(
        &mut self,
        tr: &Tr,
        cameras: &[(String, String)],
        window: (i64, i64),
        index: Arc<Mutex<Index>>,
        rec_dir: PathBuf,
        ctx: &egui::Context,
    ) {
        self.cancel();
        let Some(region) = self.region.clone() else {
            self.error = Some(tr.t("motion-no-region"));
            return;
        };
        let Some((from, to)) = self.period_ms(tr, window) else {
            return;
        };
        let ids: Vec<String> = if self.all_cameras {
            cameras.iter().map(|c| c.0.clone()).collect()
        } else {
            self.camera.iter().cloned().collect()
        };
        self.regions.clear();
        let queries: Vec<Query> = ids
            .iter()
            .map(|c| Query {
                camera: c.clone(),
                region: region.clone(),
                from_ms: from,
                to_ms: to,
                sensitivity: self.sensitivity,
                deep: false,
                confirm: true,
            })
            .collect();
        self.launch(tr, queries, ids, index, rec_dir, ctx);
    }

    /// A search with a region per camera over `period` (a trace).
    pub fn start_regions(
        &mut self,
        tr: &Tr,
        regions: Vec<(String, Region)>,
        period: (i64, i64),
        index: Arc<Mutex<Index>>,
        rec_dir: PathBuf,
        ctx: &egui::Context,
    ) {
        self.cancel();
        self.period = Period::Custom;
        self.from_text = crate::log::fmt_input_time(period.0);
        self.to_text = crate::log::fmt_input_time(period.1);
        let queries: Vec<Query> = regions
            .iter()
            .map(|(c, r)| Query {
                camera: c.clone(),
                region: r.clone(),
                from_ms: period.0,
                to_ms: period.1,
                sensitivity: self.sensitivity,
                deep: false,
                confirm: true,
            })
            .collect();
        let ids = regions.iter().map(|r| r.0.clone()).collect();
        self.regions = regions.into_iter().collect();
        self.region = None;
        self.camera = None;
        self.launch(tr, queries, ids, index, rec_dir, ctx);
    }

    fn launch(
        &mut self,
        tr: &Tr,
        queries: Vec<Query>,
        ids: Vec<String>,
        index: Arc<Mutex<Index>>,
        rec_dir: PathBuf,
        ctx: &egui::Context,
    ) {
        self.hits.clear();
        self.next = None;
        self.gaps.clear();
        self.problems.clear();
        self.stats.clear();
        self.unindexed = 0;
        self.current = None;
        self.error = None;
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::sync_channel(256);
        match mt_record::search::spawn(
            queries,
            Some(index),
            Some(rec_dir),
            HashMap::new(),
            cancel.clone(),
            tx,
        ) {
            Ok(_) => {
                self.running = Some(Running {
                    rx,
                    cancel,
                    cameras: ids,
                    progress: HashMap::new(),
                    finished: 0,
                    started: Instant::now(),
                });
                ctx.request_repaint();
            }
            Err(e) => {
                self.error =
                    Some(tr.t_args("motion-footage-error", &[("detail", e.to_string().into())]))
            }
        }
    }

    pub fn cancel(&mut self) {
        if let Some(r) = self.running.take() {
            r.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Takes what the search thread found since the last frame (at most 64 events a frame).
    pub fn poll(&mut self, ctx: &egui::Context, names: &HashMap<String, String>) {
        let Some(run) = self.running.as_mut() else {
            return;
        };
        for _ in 0..64 {
            match run.rx.try_recv() {
                Ok(Event::Hit(h)) => {
                    let tex = h.thumb.as_ref().map(|t| {
                        ctx.load_texture(
                            format!("hit-{}-{}", h.camera, h.start_ms),
                            egui::ColorImage::from_rgb(
                                [t.width as usize, t.height as usize],
                                &t.rgb,
                            ),
                            egui::TextureOptions::LINEAR,
                        )
                    });
                    let name = names
                        .get(&h.camera)
                        .cloned()
                        .unwrap_or_else(|| h.camera.clone());
                    let pos = self.hits.partition_point(|r| r.hit.start_ms <= h.start_ms);
                    self.hits.insert(pos, HitRow { hit: h, name, tex });
                    if let Some(c) = self.current.as_mut() {
                        if *c >= pos {
                            *c += 1;
                        }
                    }
                    if let Some((c, _)) = self.next.as_mut() {
                        if *c >= pos {
                            *c += 1;
                        }
                    }
                }
                Ok(Event::Gap(g)) => self.gaps.push(g),
                Ok(Event::Unindexed { .. }) => self.unindexed += 1,
                Ok(Event::Problem { camera, problem }) => self.problems.push((camera, problem)),
                Ok(Event::Progress { camera, done }) => {
                    run.progress.insert(camera, done);
                }
                Ok(Event::Finished { camera, stats }) => {
                    run.progress.insert(camera.clone(), 1.0);
                    run.finished += 1;
                    self.stats.push((camera, stats));
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.running = None;
                    return;
                }
            }
        }
        ctx.request_repaint_after(std::time::Duration::from_millis(50));
    }

    /// The hit after (or before, `dir` < 0) time `t`.
    pub fn step(&mut self, t: i64, dir: i32) -> Option<i64> {
        let i = if dir > 0 {
            self.hits
                .iter()
                .position(|h| h.hit.start_ms - LEAD_MS > t + 500)
        } else {
            self.hits
                .iter()
                .rposition(|h| h.hit.start_ms - LEAD_MS < t - 500)
        }?;
        self.current = Some(i);
        Some(self.hits[i].hit.start_ms - LEAD_MS)
    }

    /// The hit the officer is on, if the playback clock is inside it (from the lead-in to
    /// its end): B bookmarks that one.
    pub fn hit_at(&self, t: i64) -> Option<&Hit> {
        let h = &self.hits.get(self.current?)?.hit;
        (h.start_ms - LEAD_MS - 500 <= t && t <= h.end_ms + 2_000).then_some(h)
    }

    pub fn panel_ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        cams: &[(String, String)],
    ) -> (Option<SearchAction>, bool) {
        let mut action = None;
        let mut start = false;
        ui.heading(tr.t("motion-title"));
        ui.label(egui::RichText::new(tr.t("motion-hint")).small());
        ui.separator();
        match (&self.camera, &self.region) {
            _ if !self.regions.is_empty() => {
                ui.label(tr.t_args("motion-trace-regions", &[("n", self.regions.len().into())]));
            }
            (Some(c), Some(r)) => {
                let name = cams
                    .iter()
                    .find(|x| &x.0 == c)
                    .map(|x| x.1.as_str())
                    .unwrap_or(c);
                ui.label(tr.t_args(
                    "motion-region",
                    &[
                        ("camera", name.to_owned().into()),
                        ("cells", r.cells.len().into()),
                    ],
                ));
            }
            _ => {
                ui.colored_label(Color32::from_rgb(250, 200, 40), tr.t("motion-draw"));
            }
        }
        ui.horizontal_wrapped(|ui| {
            for (p, key) in [
                (Period::LastHour, "motion-last-hour"),
                (Period::Day, "motion-last-day"),
                (Period::Week, "motion-last-week"),
                (Period::Timeline, "motion-timeline"),
                (Period::Custom, "motion-custom"),
            ] {
                ui.selectable_value(&mut self.period, p, tr.t(key));
            }
        });
        if self.period == Period::Custom {
            ui.horizontal(|ui| {
                ui.label(tr.t("motion-from"));
                ui.add(
                    egui::TextEdit::singleline(&mut self.from_text)
                        .hint_text("01/12/2026 18:00")
                        .desired_width(120.0),
                );
            });
            ui.horizontal(|ui| {
                ui.label(tr.t("motion-to"));
                ui.add(
                    egui::TextEdit::singleline(&mut self.to_text)
                        .hint_text("01/12/2026 19:00")
                        .desired_width(120.0),
                );
            });
        }
        ui.add(
            egui::Slider::new(&mut self.sensitivity, 0.0..=1.0).text(tr.t("motion-sensitivity")),
        );
        ui.checkbox(&mut self.all_cameras, tr.t("motion-all-cameras"));
        ui.horizontal(|ui| {
            if self.running.is_some() {
                if ui.button(tr.t("motion-cancel")).clicked() {
                    self.cancel();
                }
            } else if ui
                .add_enabled(self.region.is_some(), egui::Button::new(tr.t("motion-run")))
                .clicked()
            {
                start = true;
            }
            if self.region.is_some() && ui.button(tr.t("motion-clear")).clicked() {
                self.region = None;
                self.camera = None;
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(Color32::from_rgb(240, 120, 120), e);
        }
        if let Some(run) = &self.running {
            let n = run.cameras.len().max(1) as f32;
            let done: f32 = run.progress.values().sum::<f32>() / n;
            ui.add(
                egui::ProgressBar::new(done)
                    .show_percentage()
                    .text(tr.t_args(
                        "motion-progress",
                        &[
                            ("done", run.finished.into()),
                            ("total", run.cameras.len().into()),
                            (
                                "secs",
                                format!("{:.1}", run.started.elapsed().as_secs_f32()).into(),
                            ),
                        ],
                    )),
            );
        } else if !self.stats.is_empty() {
            let ms: f64 = self.stats.iter().map(|s| s.1.total_ms).sum();
            ui.label(tr.t_args(
                "motion-done",
                &[
                    ("hits", self.hits.len().into()),
                    ("secs", format!("{:.1}", ms / 1e3).into()),
                ],
            ));
        }
        if self.unindexed > 0 {
            ui.label(
                egui::RichText::new(tr.t_args("motion-unindexed", &[("n", self.unindexed.into())]))
                    .small(),
            );
        }
        for (c, m) in &self.problems {
            let name = cams
                .iter()
                .find(|x| &x.0 == c)
                .map(|x| x.1.as_str())
                .unwrap_or(c);
            let text = match m {
                Problem::NoRecording => tr.t("motion-no-recording"),
                Problem::Footage(d) => {
                    tr.t_args("motion-footage-error", &[("detail", d.clone().into())])
                }
            };
            ui.colored_label(Color32::from_rgb(240, 150, 90), format!("{name}: {text}"));
        }
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("motion-hits")
            .show(ui, |ui| {
                for (i, row) in self.hits.iter().enumerate() {
                    let selected = self.current == Some(i);
                    let r = ui
                        .horizontal(|ui| {
                            if let Some(t) = &row.tex {
                                ui.add(
                                    egui::Image::new(t).fit_to_exact_size(egui::vec2(96.0, 54.0)),
                                );
                            }
                            ui.vertical(|ui| {
                                ui.strong(&row.name);
                                ui.label(format!(
                                    "{} – {}",
                                    crate::log::format_time(row.hit.start_ms),
                                    crate::log::format_time(row.hit.end_ms)
                                        .split(' ')
                                        .nth(1)
                                        .unwrap_or_default()
                                ));
                                ui.label(
                                    egui::RichText::new(tr.t_args(
                                        "motion-score",
                                        &[(
                                            "score",
                                            format!("{:.0}", row.hit.score as f32 / 2.55).into(),
                                        )],
                                    ))
                                    .small(),
                                );
                            });
                        })
                        .response;
                    let r =
                        ui.interact(r.rect, ui.scope_id().with(("hit", i)), egui::Sense::click());
                    if selected {
                        ui.painter().rect_stroke(
                            r.rect.expand(2.0),
                            2.0,
                            Stroke::new(2.0, Color32::from_rgb(250, 200, 40)),
                            StrokeKind::Outside,
                        );
                    }
                    if r.clicked() {
                        self.current = Some(i);
                        action = Some(SearchAction::Seek(row.hit.start_ms - LEAD_MS, true));
                    }
                    r.widget_info(|| {
                        egui::WidgetInfo::labeled(
                            egui::Role::Button,
                            true,
                            format!(
                                "hit {} {}",
                                row.name,
                                crate::log::format_time(row.hit.start_ms)
                            ),
                        )
                    });
                    ui.horizontal(|ui| {
                        ui.add_space(100.0);
                        if ui
                            .small_button(tr.t("motion-next-camera"))
                            .on_hover_text(tr.t("motion-next-camera-hint"))
                            .clicked()
                        {
                            action = Some(SearchAction::NextCamera(i));
                        }
                    });
                    if let Some((_, list)) = self.next.as_ref().filter(|n| n.0 == i) {
                        if list.is_empty() {
                            ui.small(tr.t("motion-next-none"));
                        }
                        for (id, name, m) in list {
                            if ui
                                .button(tr.t_args(
                                    "motion-next-open",
                                    &[
                                        ("camera", name.clone().into()),
                                        ("m", format!("{m:.0}").into()),
                                    ],
                                ))
                                .clicked()
                            {
                                action = Some(SearchAction::OpenCamera(
                                    id.clone(),
                                    row.hit.end_ms - 1_000,
                                ));
                            }
                        }
                    }
                }
                if !self.gaps.is_empty() {
                    ui.separator();
                    for g in &self.gaps {
                        let name = cams
                            .iter()
                            .find(|x| x.0 == g.camera_id)
                            .map(|x| x.1.as_str())
                            .unwrap_or(&g.camera_id);
                        ui.colored_label(
                            Color32::from_rgb(230, 110, 110),
                            tr.t_args(
                                "motion-gap",
                                &[
                                    ("camera", name.to_owned().into()),
                                    ("from", crate::log::format_time(g.from_ms).into()),
                                    ("to", crate::log::format_time(g.to_ms).into()),
                                    ("reason", tr.t(&format!("gap-{}", g.reason.key())).into()),
                                ],
                            ),
                        );
                    }
                }
            });
        (action, start)
    }
}

/// A copy of `f` with the region's outline burned in (yellow, two pixels): the still a hit's
/// bookmark keeps shows where the officer searched.
pub fn with_outline(f: &DecodedFrame, outline: &[[f32; 2]]) -> DecodedFrame {
    let mut out = f.clone();
    let (w, h) = (f.width as i64, f.height as i64);
    let (cw, _) = f.chroma_size();
    let mut put = |x: i64, y: i64| {
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let (x, y) = (x + dx, y + dy);
            if x >= 0 && y >= 0 && x < w && y < h {
                out.y[(y * w + x) as usize] = if f.full_range { 226 } else { 210 };
                let ci = ((y / 2) * cw as i64 + x / 2) as usize;
                if ci < out.u.len() {
                    out.u[ci] = 16;
                    out.v[ci] = 146;
                }
            }
        }
    };
    for k in 0..outline.len() {
        let (a, b) = (outline[k], outline[(k + 1) % outline.len()]);
        let (ax, ay) = (a[0] as f64 * (w - 1) as f64, a[1] as f64 * (h - 1) as f64);
        let (bx, by) = (b[0] as f64 * (w - 1) as f64, b[1] as f64 * (h - 1) as f64);
        let n = ((bx - ax).abs().max((by - ay).abs()).ceil() as i64).max(1);
        for i in 0..=n {
            let t = i as f64 / n as f64;
            put(
                (ax + (bx - ax) * t).round() as i64 - 1,
                (ay + (by - ay) * t).round() as i64 - 1,
            );
        }
    }
    out
}
