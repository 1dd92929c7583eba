//! Offline replay of an evidence archive (`matthan replay ARCHIVE`): verified first, then the
//! cameras played in step on one timeline with the incident's bookmarks, and the incident
//! beside them. A failed check is a red banner naming each problem; the footage can still be
//! watched, marked as unverified. The archive is only read: clips are copied out to a
//! temporary folder that is removed afterwards.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use egui::{Align2, Color32, FontId, Rect, Sense, Stroke};
use mt_record::export::Manifest;
use mt_record::player::{ClipPlayer, PlayerThread};
use mt_record::verify::Report;

use crate::i18n::{Lang, Tr};
use crate::layout::fit_aspect;

pub const SPEEDS: [f64; 6] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0];
/// Frame step (the cameras send 15 fps; a step shows the next picture of each).
const STEP_MS: i64 = 67;

pub struct ReplayClip {
    pub camera: String,
    pub player: PlayerThread,
}

pub struct Replay {
    pub archive: PathBuf,
    pub report: Report,
    pub clips: Vec<ReplayClip>,
    pub incident: Option<serde_json::Value>,
    /// (time, camera, note) of each bookmark.
    pub bookmarks: Vec<(i64, String, String)>,
    pub range: (i64, i64),
    pub clock_ms: i64,
    pub playing: bool,
    pub rate: f64,
    /// Taken out while drawing (the sub-views borrow `self` mutably); always `Some` between
    /// frames. Built once: a Fluent bundle is too costly to build per frame.
    tr: Option<Tr>,
    last_tick: Option<Instant>,
    tmp: PathBuf,
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.clips.clear();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// An entry's bytes. An altered entry fails its CRC check only after all of it was read:
/// its bytes are still returned, so the officer can look at it (marked unverified).
fn read_entry(zip: &mut zip::ZipArchive<std::fs::File>, name: &str) -> Option<Vec<u8>> {
    let mut f = zip.by_name(name).ok()?;
    let mut v = Vec::new();
    let r = f.read_to_end(&mut v);
    (r.is_ok() || !v.is_empty()).then_some(v)
}

impl Replay {
    /// Verifies and opens `archive`. Fails only when there is nothing to show at all.
    pub fn open(archive: &Path, lang: Lang) -> Result<Self, String> {
        let report = mt_record::verify::verify(archive, &[]);
        let file =
            std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| format!("{}: not a readable archive: {e}", archive.display()))?;
        // The manifest as written, even when its signature fails (the officer may still look).
        let manifest: Option<Manifest> = report.manifest.clone().or_else(|| {
            read_entry(&mut zip, mt_record::export::MANIFEST)
                .and_then(|b| serde_json::from_slice(&b).ok())
        });
        let tmp = std::env::temp_dir().join(format!(
            "matthan-replay-{}-{}",
            std::process::id(),
            mt_record::now_ms()
        ));
        std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let mut clips = Vec::new();
        let entries: Vec<(String, i64)> = match &manifest {
            Some(m) => m
                .clips
                .iter()
                .map(|c| (c.file.clone(), c.start_ms))
                .collect(),
            None => (0..zip.len())
                .filter_map(|i| {
                    zip.by_index(i)
                        .ok()
                        .and_then(|f| f.name().ok().map(|n| n.into_owned()))
                })
                .filter(|n| n.starts_with("clips/") && n.ends_with(".mp4"))
                .map(|n| (n, 0))
                .collect(),
        };
        for (k, (name, start)) in entries.iter().enumerate() {
            let Some(bytes) = read_entry(&mut zip, name) else {
                continue;
            };
            let path = tmp.join(format!("{k}.mp4"));
            if std::fs::write(&path, bytes).is_err() {
                continue;
            }
            let camera = name
                .trim_start_matches("clips/")
                .trim_end_matches(".mp4")
                .to_owned();
            match ClipPlayer::open(&path, *start, &camera)
                .map_err(|e| e.to_string())
                .and_then(|p| PlayerThread::spawn(p, &camera).map_err(|e| e.to_string()))
            {
                Ok(player) => clips.push(ReplayClip { camera, player }),
                Err(e) => tracing::warn!("{name}: {e}"),
            }
        }
        let incident: Option<serde_json::Value> =
            read_entry(&mut zip, "incident.json").and_then(|b| serde_json::from_slice(&b).ok());
        let mut bookmarks: Vec<(i64, String, String)> = incident
            .as_ref()
            .and_then(|i| i["bookmarks"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|b| {
                Some((
                    b["frame_time_ms"].as_i64()?,
                    b["camera_id"].as_str().unwrap_or("").to_owned(),
                    b["note"].as_str().unwrap_or("").to_owned(),
                ))
            })
            .collect();
        bookmarks.sort_by_key(|b| b.0);
        let range = match &manifest {
            Some(m) => (
                clips
                    .iter()
                    .map(|c| c.player.start_ms)
                    .min()
                    .unwrap_or(m.from_ms)
                    .min(m.from_ms),
                m.to_ms,
            ),
            None => (0, 60_000),
        };
        let mut r = Replay {
            archive: archive.to_owned(),
            report,
            clips,
            incident,
            bookmarks,
            range,
            clock_ms: range.0,
            playing: false,
            rate: 1.0,
            tr: Some(Tr::new(lang)),
            last_tick: None,
            tmp,
        };
        r.seek(range.0);
        Ok(r)
    }

    pub fn verified(&self) -> bool {
        self.report.ok()
    }

    /// Every clip to the picture at `t` (clamped to the archive's range).
    pub fn seek(&mut self, t: i64) {
        self.clock_ms = t.clamp(self.range.0, self.range.1);
        for c in &self.clips {
            c.player.set_time(self.clock_ms);
        }
    }

    pub fn step(&mut self, frames: i64) {
        self.playing = false;
        self.seek(self.clock_ms + frames * STEP_MS);
    }

    fn tick(&mut self) {
        let now = Instant::now();
        if self.playing {
            if let Some(last) = self.last_tick {
                let dt = now.duration_since(last).as_secs_f64() * 1000.0 * self.rate;
                let t = self.clock_ms + dt.round() as i64;
                if t >= self.range.1 {
                    self.playing = false;
                }
                self.seek(t);
            }
        }
        self.last_tick = Some(now);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.tick();
        let tr = self.tr.take().unwrap_or_else(|| Tr::new(Lang::Vi));
        // Keys: space play/pause, arrows frame step.
        if !ui.ctx().egui_wants_keyboard_input() {
            let (space, left, right) = ui.input(|i| {
                (
                    i.key_pressed(egui::Key::Space),
                    i.key_pressed(egui::Key::ArrowLeft),
                    i.key_pressed(egui::Key::ArrowRight),
                )
            });
            if space {
                self.playing = !self.playing;
            }
            if left {
                self.step(-1);
            }
            if right {
                self.step(1);
            }
        }
        egui::Panel::top("replay-banner").show(ui, |ui| self.banner_ui(ui, &tr));
        egui::Panel::right("replay-incident")
            .default_size(320.0)
            .show(ui, |ui| self.incident_ui(ui, &tr));
        egui::Panel::bottom("replay-timeline")
            .default_size(120.0)
            .show(ui, |ui| self.timeline_ui(ui, &tr));
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE.fill(Color32::from_gray(12)))
            .show(ui, |ui| self.tiles_ui(ui, &tr));
        self.tr = Some(tr);
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(if self.playing {
                16
            } else {
                100
            }));
    }

    fn banner_ui(&self, ui: &mut egui::Ui, tr: &Tr) {
        let (fill, title) = if self.verified() {
            (
                Color32::from_rgb(30, 110, 50),
                tr.t_args(
                    "replay-verified",
                    &[
                        (
                            "count",
                            self.report
                                .manifest
                                .as_ref()
                                .map_or(0, |m| m.files.len())
                                .into(),
                        ),
                        (
                            "key",
                            self.report
                                .key_fingerprint
                                .clone()
                                .unwrap_or_default()
                                .into(),
                        ),
                    ],
                ),
            )
        } else {
            (
                Color32::from_rgb(170, 20, 20),
                tr.t_args(
                    "replay-unverified",
                    &[("count", self.report.problems.len().into())],
                ),
            )
        };
        egui::Frame::NONE
            .fill(fill)
            .inner_margin(6.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(egui::RichText::new(title).color(Color32::WHITE).strong());
                for p in &self.report.problems {
                    ui.label(egui::RichText::new(p).color(Color32::WHITE));
                }
                ui.small(
                    egui::RichText::new(self.archive.display().to_string())
                        .color(Color32::from_gray(220)),
                );
            });
    }

    fn incident_ui(&mut self, ui: &mut egui::Ui, tr: &Tr) {
        let Some(inc) = self.incident.clone() else {
            ui.weak(tr.t("replay-no-incident"));
            return;
        };
        ui.heading(format!(
            "#{} {}",
            inc["id"].as_i64().unwrap_or(0),
            inc["title"].as_str().unwrap_or("")
        ));
        egui::Grid::new("replay-inc").num_columns(2).show(ui, |ui| {
            ui.label(tr.t("incident-type"));
            ui.label(inc["type_code"].as_str().unwrap_or(""));
            ui.end_row();
            ui.label(tr.t("incident-time"));
            ui.label(crate::log::format_time(
                inc["occurred_ms"].as_i64().unwrap_or(0),
            ));
            ui.end_row();
            ui.label(tr.t("incident-ward"));
            ui.label(inc["ward"].as_str().unwrap_or(""));
            ui.end_row();
        });
        ui.separator();
        ui.strong(tr.t("incident-bookmarks"));
        let mut go = None;
        for (t, cam, note) in &self.bookmarks {
            ui.horizontal(|ui| {
                if ui.button(tr.t("replay-go")).clicked() {
                    go = Some(*t);
                }
                ui.label(format!("{} · {cam} · {note}", crate::log::format_time(*t)));
            });
        }
        if let Some(t) = go {
            self.playing = false;
            self.seek(t);
        }
        ui.separator();
        ui.strong(tr.t("incident-notes"));
        for n in inc["notes"].as_array().cloned().unwrap_or_default() {
            ui.small(format!(
                "{} · {}",
                crate::log::format_time(n["created_ms"].as_i64().unwrap_or(0)),
                n["author_id"].as_str().unwrap_or("")
            ));
            ui.label(n["body"].as_str().unwrap_or(""));
        }
    }

    fn timeline_ui(&mut self, ui: &mut egui::Ui, tr: &Tr) {
        ui.horizontal(|ui| {
            let step = transport_ui(ui, tr, &mut self.playing, &mut self.rate);
            if step != 0 {
                self.step(step);
            }
            ui.separator();
            ui.monospace(crate::log::format_time(self.clock_ms));
        });
        let strip = TimeStrip::new(
            ui,
            tr,
            (self.clips.len() as f32 * 14.0 + 24.0).max(40.0),
            self.range,
        );
        let (rect, p) = (strip.rect, &strip.painter);
        for (k, c) in self.clips.iter().enumerate() {
            let y = rect.top() + 8.0 + k as f32 * 14.0;
            let r = Rect::from_min_max(
                egui::pos2(strip.x(c.player.start_ms.max(self.range.0)), y),
                egui::pos2(rect.right(), y + 10.0),
            );
            p.rect_filled(r, 2.0, Color32::from_rgb(60, 120, 200));
            p.text(
                r.left_center() + egui::vec2(4.0, 0.0),
                Align2::LEFT_CENTER,
                &c.camera,
                FontId::proportional(10.0),
                Color32::WHITE,
            );
        }
        for (t, _, _) in &self.bookmarks {
            strip.mark(*t, Stroke::new(2.0, Color32::from_rgb(250, 200, 40)), None);
        }
        if let Some(t) = strip.finish(self.clock_ms) {
            self.seek(t);
        }
    }

    fn tiles_ui(&self, ui: &mut egui::Ui, tr: &Tr) {
        let area = ui.available_rect_before_wrap();
        ui.allocate_rect(area, Sense::hover());
        let n = self.clips.len().max(1);
        let cols = (n as f32).sqrt().ceil() as usize;
        let rows = n.div_ceil(cols);
        let w = area.width() / cols as f32;
        let h = area.height() / rows as f32;
        for (k, c) in self.clips.iter().enumerate() {
            let r = Rect::from_min_size(
                area.min + egui::vec2((k % cols) as f32 * w, (k / cols) as f32 * h),
                egui::vec2(w, h),
            )
            .shrink(2.0);
            let p = ui.painter_at(r);
            p.rect_filled(r, 0.0, Color32::BLACK);
            if let Some(frame) = c.player.shared.latest() {
                p.add(egui_wgpu::Callback::new_paint_callback(
                    fit_aspect(r, frame.width, frame.height),
                    mt_render::VideoCallback {
                        stream: c.player.shared.clone(),
                        frame,
                    },
                ));
            }
            let shown = c
                .player
                .shown_ms()
                .map(crate::log::format_time)
                .unwrap_or_default();
            p.rect_filled(
                Rect::from_min_size(r.min, egui::vec2(r.width(), 20.0)),
                0.0,
                Color32::from_black_alpha(160),
            );
            p.text(
                r.min + egui::vec2(4.0, 10.0),
                Align2::LEFT_CENTER,
                &c.camera,
                FontId::proportional(13.0),
                Color32::WHITE,
            );
            p.text(
                r.right_top() + egui::vec2(-4.0, 10.0),
                Align2::RIGHT_CENTER,
                shown,
                FontId::proportional(13.0),
                Color32::WHITE,
            );
            if !self.verified() {
                p.text(
                    r.center(),
                    Align2::CENTER_CENTER,
                    tr.t("replay-unverified-mark"),
                    FontId::proportional(28.0),
                    Color32::from_rgba_unmultiplied(255, 60, 60, 200),
                );
            }
        }
    }
}

/// A clickable strip showing a time range, under both the replay and the wall playback: the
/// lanes are drawn by the caller; the strip draws marks and the playhead and reads the clicks.
pub struct TimeStrip {
    pub rect: Rect,
    pub painter: egui::Painter,
    range: (i64, i64),
    resp: egui::Response,
}

impl TimeStrip {
    pub fn new(ui: &mut egui::Ui, tr: &Tr, height: f32, range: (i64, i64)) -> Self {
        let (rect, resp) = ui.allocate_exact_size(
            egui::vec2(ui.available_width(), height),
            Sense::click_and_drag(),
        );
        resp.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Slider, true, tr.t("replay-timeline"))
        });
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 2.0, Color32::from_gray(28));
        TimeStrip {
            rect,
            painter,
            range,
            resp,
        }
    }

    /// Screen x of time `t`.
    pub fn x(&self, t: i64) -> f32 {
        let (a, b) = self.range;
        self.rect.left() + (t - a) as f32 / (b - a).max(1) as f32 * self.rect.width()
    }

    /// A vertical line at `t` (full height, or `height` from the top), if `t` is in range.
    pub fn mark(&self, t: i64, stroke: Stroke, height: Option<f32>) {
        if !(self.range.0..=self.range.1).contains(&t) {
            return;
        }
        let x = self.x(t);
        let bottom = height.map_or(self.rect.bottom(), |h| self.rect.top() + h);
        self.painter.line_segment(
            [egui::pos2(x, self.rect.top()), egui::pos2(x, bottom)],
            stroke,
        );
    }

    /// Draws the playhead at `clock`; returns the time clicked or dragged to, if any.
    pub fn finish(self, clock: i64) -> Option<i64> {
        self.mark(clock, Stroke::new(2.0, Color32::WHITE), None);
        let pos = self.resp.interact_pointer_pos()?;
        (self.resp.clicked() || self.resp.dragged()).then(|| {
            let (a, b) = self.range;
            a + ((pos.x - self.rect.left()) / self.rect.width() * (b - a).max(1) as f32) as i64
        })
    }
}

/// Play/pause, frame step and speed buttons, shared by replay and wall playback. Returns the
/// frame step asked for (−1, 0, 1).
pub fn transport_ui(ui: &mut egui::Ui, tr: &Tr, playing: &mut bool, rate: &mut f64) -> i64 {
    let label = if *playing {
        tr.t("replay-pause")
    } else {
        tr.t("replay-play")
    };
    if ui.button(label).clicked() {
        *playing = !*playing;
    }
    let mut step = 0;
    if ui.button(tr.t("replay-prev-frame")).clicked() {
        step = -1;
    }
    if ui.button(tr.t("replay-next-frame")).clicked() {
        step = 1;
    }
    ui.label(tr.t("replay-speed"));
    for s in SPEEDS {
        let text = if s < 1.0 {
            format!("{s}×")
        } else {
            format!("{s:.0}×")
        };
        if ui.selectable_label(*rate == s, text).clicked() {
            *rate = s;
        }
    }
    step
}

/// The replay window's app.
pub struct ReplayApp(pub Replay);

impl eframe::App for ReplayApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.0.ui(ui);
    }
}
