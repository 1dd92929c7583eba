//! Offline replay of an evidence archive (`matthan replay ARCHIVE`): verified first (against
//! the workstation's trust store), then the cameras played in step on one timeline with the
//! incident's bookmarks, and the incident beside them. Green only when the signature is by
//! this workstation's or a trusted key and every file is intact; amber for a valid signature
//! by an untrusted key; red for a failed check, naming each problem. The footage can still be
//! watched, marked as unverified. The archive is only read: clips are copied out (on the
//! "open-archive" thread, with progress) into a private temporary folder removed afterwards.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

use egui::{Align2, Color32, FontId, Rect, Sense, Stroke};
use mt_record::export::{ClipInfo, Manifest};
use mt_record::keys::{KeyTrust, TrustStore};
use mt_record::player::{Piece, PlayerThread, RecordingPlayer};
use mt_record::verify::{Report, Status};

use crate::i18n::{Lang, Tr};
use crate::layout::fit_aspect;

pub const SPEEDS: [f64; 6] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0];

/// One camera of an archive: its clips (one per run of footage) played as one track, so
/// time between runs is a gap with nothing shown.
pub struct ReplayClip {
    pub camera: String,
    pub player: PlayerThread,
    /// The camera's first clip as the manifest lists it (camera, run start/end, codec).
    pub info: Option<ClipInfo>,
    /// Every run of this camera, as the manifest lists them.
    pub runs: Vec<ClipInfo>,
}

pub struct Replay {
    pub archive: PathBuf,
    pub report: Report,
    pub clips: Vec<ReplayClip>,
    pub incident: Option<serde_json::Value>,
    /// (time, camera, note) of each bookmark.
    pub bookmarks: Vec<(i64, String, String)>,
    pub range: (i64, i64),
    /// Time without footage, per the manifest (camera, from, to, reason).
    pub gaps: Vec<mt_record::export::GapInfo>,
    /// Footage damaged by packet loss, per the manifest.
    pub damaged: Vec<mt_record::export::DamageInfo>,
    pub clock_ms: i64,
    pub playing: bool,
    pub rate: f64,
    /// A backward frame step waits for the players, then goes to the newest picture shown.
    snap_back: bool,
    /// The tile B bookmarks (click a tile to select it).
    pub selected: usize,
    /// Tiles zoomed in (digital zoom, as on the wall: wheel, drag, double-click to reset).
    pub zoom: std::collections::HashMap<usize, crate::zoom::Zoom>,
    /// B was pressed: the workstation bookmarks the selected tile's picture.
    pub bookmark_requested: bool,
    /// Taken out while drawing (the sub-views borrow `self` mutably); always `Some` between
    /// frames. Built once: a Fluent bundle is too costly to build per frame.
    tr: Option<Tr>,
    last_tick: Option<Instant>,
    /// The private folder (0700, random name) the clips were copied into; removed on drop.
    tmp: Option<tempfile::TempDir>,
}

impl Drop for Replay {
    fn drop(&mut self) {
        // Players first: they hold the clip files open.
        self.clips.clear();
        if let Some(t) = self.tmp.take() {
            let _ = t.close();
        }
    }
}

/// A small entry's bytes (incident.json, a manifest). An altered entry fails its CRC check
/// only after all of it was read: its bytes are still returned, so the officer can look at it
/// (marked unverified).
fn read_entry(zip: &mut zip::ZipArchive<std::fs::File>, name: &str) -> Option<Vec<u8>> {
    const LIMIT: u64 = 16 << 20;
    let f = zip.by_name(name).ok()?;
    let mut v = Vec::new();
    let r = f.take(LIMIT).read_to_end(&mut v);
    (r.is_ok() || !v.is_empty()).then_some(v)
}

/// Copies entry `name` into a new file `path` (never through an existing file or a planted
/// link: created with `create_new`, owner-only), streamed. An altered entry's bytes are kept
/// (its CRC fails only at the end). `Err(None)`: cancelled.
fn extract_entry(
    zip: &mut zip::ZipArchive<std::fs::File>,
    name: &str,
    path: &Path,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<String, Option<String>> {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    let mut f = zip.by_name(name).map_err(|e| Some(e.to_string()))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut out = opts
        .open(path)
        .map_err(|e| Some(format!("{}: {e}", path.display())))?;
    let mut buf = vec![0u8; 1 << 18];
    let mut wrote = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(None);
        }
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                out.write_all(&buf[..k])
                    .map_err(|e| Some(format!("{}: {e}", path.display())))?;
                hash.update(&buf[..k]);
                wrote += k as u64;
                progress(k as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if wrote > 0 => {
                tracing::warn!("{name}: {e} (kept for viewing, marked unverified)");
                break;
            }
            Err(e) => return Err(Some(e.to_string())),
        }
    }
    // The bytes played are hashed as they are copied out: what is shown is what was checked
    // (an archive swapped after verification would not match).
    Ok(hex::encode(hash.finalize()))
}

/// Everything of a replay but its translations, built off the UI thread.
pub struct Loaded {
    archive: PathBuf,
    report: Report,
    /// Per camera: its player (started on the thread that takes the replay: a thread
    /// inherits its starter's CPU priority, and the open-archive thread runs lower than a
    /// player should), its first clip and its runs.
    players: Vec<(String, RecordingPlayer, Option<ClipInfo>, Vec<ClipInfo>)>,
    incident: Option<serde_json::Value>,
    bookmarks: Vec<(i64, String, String)>,
    range: (i64, i64),
    gaps: Vec<mt_record::export::GapInfo>,
    damaged: Vec<mt_record::export::DamageInfo>,
    tmp: tempfile::TempDir,
}

/// Verifies `archive` against `trust` and copies its clips out into a private temporary
/// folder, starting a player for each. `progress` gets 0–1 (verifying is the first half);
/// `None` when cancelled. Fails only when there is nothing to show at all.
pub fn load(
    archive: &Path,
    trust: &TrustStore,
    progress: &dyn Fn(f32),
    cancel: &AtomicBool,
) -> Result<Option<Loaded>, String> {
    let Some(mut report) =
        mt_record::verify::verify_cancellable(archive, trust, &|p| progress(p * 0.5), cancel)
    else {
        return Ok(None);
    };
    let file = std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("{}: not a readable archive: {e}", archive.display()))?;
    // The manifest as written, even when its signature fails (the officer may still look).
    let manifest: Option<Manifest> = report.manifest.clone().or_else(|| {
        read_entry(&mut zip, mt_record::export::MANIFEST)
            .and_then(|b| serde_json::from_slice(&b).ok())
    });
    // Private: random name, owner only (0700), so nobody else can read or plant files.
    let mut b = tempfile::Builder::new();
    b.prefix("matthan-replay-");
    #[cfg(unix)]
    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let tmp = b
        .tempdir()
        .map_err(|e| format!("{}: {e}", std::env::temp_dir().display()))?;
    let entries: Vec<(String, i64, Option<ClipInfo>)> = match &manifest {
        Some(m) => m
            .clips
            .iter()
            .map(|c| (c.file.clone(), c.start_ms, Some(c.clone())))
            .collect(),
        None => zip
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.into_owned()))
            .filter(|n| n.starts_with("clips/") && n.ends_with(".mp4"))
            .map(|n| (n, 0, None))
            .collect(),
    };
    let total: u64 = entries
        .iter()
        .filter_map(|(n, _, _)| {
            let i = zip.index_for_name(n)?;
            zip.by_index_raw(i).ok().map(|e| e.size())
        })
        .sum::<u64>()
        .max(1);
    let mut copied = 0u64;
    let mut last = 0u64;
    let mut clips = Vec::new();
    let mut extracted: Vec<(String, PathBuf, i64, Option<ClipInfo>)> = Vec::new();
    for (k, (name, start, info)) in entries.into_iter().enumerate() {
        let path = tmp.path().join(format!("{k}.mp4"));
        let mut on_bytes = |n: u64| {
            copied += n;
            if copied - last >= 4 << 20 {
                last = copied;
                progress(0.5 + 0.5 * (copied as f64 / total as f64).min(1.0) as f32);
            }
        };
        match extract_entry(&mut zip, &name, &path, &mut on_bytes, cancel) {
            Ok(sha) => {
                let listed = manifest
                    .as_ref()
                    .and_then(|m| m.files.iter().find(|f| f.name == name))
                    .map(|f| f.sha256.clone());
                if listed.is_some_and(|l| l != sha) {
                    report.problems.push(format!(
                        "{name}: the copy played differs from the archive as verified (SHA-256)"
                    ));
                }
            }
            Err(None) => return Ok(None),
            Err(Some(e)) => {
                report
                    .problems
                    .push(format!("{name}: cannot be copied out to play: {e}"));
                continue;
            }
        }
        let camera = info.as_ref().map_or_else(
            || {
                name.trim_start_matches("clips/")
                    .trim_end_matches(".mp4")
                    .to_owned()
            },
            |c| c.camera.clone(),
        );
        extracted.push((camera, path, start, info));
    }
    // One track per camera: its runs in time order, nothing between them.
    let mut cameras: Vec<String> = Vec::new();
    for (c, _, _, _) in &extracted {
        if !cameras.contains(c) {
            cameras.push(c.clone());
        }
    }
    for camera in cameras {
        let mine: Vec<&(String, PathBuf, i64, Option<ClipInfo>)> =
            extracted.iter().filter(|e| e.0 == camera).collect();
        let pieces: Vec<Piece> = mine
            .iter()
            .map(|(_, path, start, info)| Piece {
                path: path.clone(),
                start_ms: *start,
                // Version-1 archives do not say where a clip ends.
                end_ms: info
                    .as_ref()
                    .map(|i| i.end_ms)
                    .filter(|e| *e > *start)
                    .unwrap_or(i64::MAX),
                continued: false,
            })
            .collect();
        let runs: Vec<ClipInfo> = mine.iter().filter_map(|e| e.3.clone()).collect();
        let player = RecordingPlayer::from_clips(&camera, pieces);
        let first = runs.first().cloned();
        clips.push((camera, player, first, runs));
    }
    if cancel.load(Ordering::Relaxed) {
        return Ok(None);
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
                .map(|c| mt_record::player::TimedSource::first_ms(&c.1))
                .min()
                .unwrap_or(m.from_ms)
                .min(m.from_ms),
            m.to_ms,
        ),
        None => (0, 60_000),
    };
    progress(1.0);
    Ok(Some(Loaded {
        archive: archive.to_owned(),
        report,
        players: clips,
        incident,
        bookmarks,
        range,
        gaps: manifest
            .as_ref()
            .map(|m| m.gaps.clone())
            .unwrap_or_default(),
        damaged: manifest
            .as_ref()
            .map(|m| m.damaged.clone())
            .unwrap_or_default(),
        tmp,
    }))
}

/// Opening an archive on a thread ("open-archive"): verifying with progress, copying the
/// clips out; the UI polls it and can cancel.
pub struct ReplayLoader {
    pub archive: PathBuf,
    progress: Arc<AtomicU32>,
    cancel: Arc<AtomicBool>,
    rx: Receiver<Result<Option<Loaded>, String>>,
}

impl ReplayLoader {
    /// Starts opening `archive`; `repaint` is asked to redraw as it progresses.
    pub fn start(
        archive: &Path,
        trust: TrustStore,
        repaint: Option<egui::Context>,
    ) -> Result<Self, String> {
        let progress = Arc::new(AtomicU32::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = sync_channel(1);
        let (p, c, a) = (progress.clone(), cancel.clone(), archive.to_owned());
        std::thread::Builder::new()
            .name("open-archive".into())
            .spawn(move || {
                mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
                let r = load(
                    &a,
                    &trust,
                    &|f| {
                        p.store((f * 1000.0) as u32, Ordering::Relaxed);
                        if let Some(ctx) = &repaint {
                            ctx.request_repaint_after(std::time::Duration::from_millis(50));
                        }
                    },
                    &c,
                );
                // Dropped here (players stopped, folder removed) if nobody waits any more.
                let _ = tx.send(r);
                if let Some(ctx) = &repaint {
                    ctx.request_repaint();
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(ReplayLoader {
            archive: archive.to_owned(),
            progress,
            cancel,
            rx,
        })
    }

    /// 0–1.
    pub fn progress(&self) -> f32 {
        self.progress.load(Ordering::Relaxed) as f32 / 1000.0
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The replay once it is ready (`Ok(None)`: cancelled), `None` while still working.
    pub fn poll(&self, lang: Lang) -> Option<Result<Option<Replay>, String>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r.map(|l| l.map(|l| Replay::from_loaded(l, lang)))),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                Some(Err(format!("{}: opening stopped", self.archive.display())))
            }
        }
    }
}

impl Drop for ReplayLoader {
    fn drop(&mut self) {
        // Not waited for: the thread sees this, stops and cleans up after itself.
        self.cancel();
    }
}

impl Replay {
    /// Verifies `archive` against `trust` and opens it, blocking (see [`ReplayLoader`] for
    /// the UI). Fails only when there is nothing to show at all.
    pub fn open(archive: &Path, trust: &TrustStore, lang: Lang) -> Result<Self, String> {
        load(archive, trust, &|_| {}, &AtomicBool::new(false))?
            .map(|l| Replay::from_loaded(l, lang))
            .ok_or_else(|| "cancelled".to_owned())
    }

    fn from_loaded(l: Loaded, lang: Lang) -> Self {
        let mut r = Replay {
            archive: l.archive,
            report: l.report,
            clips: l
                .players
                .into_iter()
                .filter_map(|(camera, player, info, runs)| {
                    match PlayerThread::spawn(player, &camera) {
                        Ok(player) => Some(ReplayClip {
                            camera,
                            player,
                            info,
                            runs,
                        }),
                        Err(e) => {
                            tracing::warn!("{camera}: {e}");
                            None
                        }
                    }
                })
                .collect(),
            incident: l.incident,
            bookmarks: l.bookmarks,
            range: l.range,
            gaps: l.gaps,
            damaged: l.damaged,
            clock_ms: l.range.0,
            playing: false,
            rate: 1.0,
            snap_back: false,
            selected: 0,
            zoom: Default::default(),
            bookmark_requested: false,
            tr: Some(Tr::new(lang)),
            last_tick: None,
            tmp: Some(l.tmp),
        };
        r.seek(r.range.0);
        r
    }

    /// Where the clips were copied to (a private folder, removed when the replay closes).
    pub fn temp_dir(&self) -> Option<&Path> {
        self.tmp.as_ref().map(|t| t.path())
    }

    pub fn status(&self) -> Status {
        self.report.status()
    }

    /// Verified: a valid signature by this workstation's or a trusted key, every file intact.
    /// The players (whose threads are joined when dropped) and the private folder of copied
    /// clips (deleted when dropped), to be dropped off the UI thread; the replay shows nothing
    /// after this.
    pub fn take_players_and_files(&mut self) -> (Vec<ReplayClip>, Option<tempfile::TempDir>) {
        (std::mem::take(&mut self.clips), self.tmp.take())
    }

    pub fn verified(&self) -> bool {
        self.status() == Status::Verified
    }

    /// The mark every tile carries when the archive is not verified (text, colour): red for a
    /// failed check, amber for a valid signature by an untrusted key; `None` when verified.
    pub fn mark(&self, tr: &Tr) -> Option<(String, Color32)> {
        match self.status() {
            Status::Verified => None,
            Status::Untrusted => Some((
                tr.t("replay-unverified-mark"),
                Color32::from_rgba_unmultiplied(255, 180, 40, 210),
            )),
            Status::Failed => Some((
                tr.t("replay-unverified-mark"),
                Color32::from_rgba_unmultiplied(255, 60, 60, 200),
            )),
        }
    }

    /// Every clip to the picture at `t` (clamped to the archive's range).
    pub fn seek(&mut self, t: i64) {
        self.clock_ms = t.clamp(self.range.0, self.range.1);
        for c in &self.clips {
            c.player.set_time(self.clock_ms);
        }
    }

    /// Frame step: forward to the next picture of whichever camera has the earliest one,
    /// back to the picture before the newest one on screen; no camera's picture is skipped,
    /// whatever the frame rates.
    pub fn step(&mut self, frames: i64) {
        self.playing = false;
        if frames > 0 {
            if let Some(next) = self
                .clips
                .iter()
                .filter_map(|c| c.player.next_ms())
                .filter(|t| *t > self.clock_ms)
                .min()
            {
                self.seek(next);
            }
        } else if frames < 0 {
            let newest = self
                .clips
                .iter()
                .filter_map(|c| c.player.shown_ms())
                .max()
                .unwrap_or(self.clock_ms);
            self.seek(newest - 1);
            self.snap_back = true;
        }
    }

    /// The gap `camera` is in at `t`, per the manifest.
    pub fn gap_at(&self, camera: &str, t: i64) -> Option<&mt_record::export::GapInfo> {
        self.gaps
            .iter()
            .find(|g| g.camera == camera && g.from_ms <= t && t < g.to_ms)
    }

    fn tick(&mut self) {
        let now = Instant::now();
        if self.snap_back && self.clips.iter().all(|c| c.player.settled()) {
            self.snap_back = false;
            if let Some(t) = self.clips.iter().filter_map(|c| c.player.shown_ms()).max() {
                self.clock_ms = t;
                for c in &self.clips {
                    c.player.set_time(t);
                }
            }
        }
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
            let (space, left, right, b) = ui.input(|i| {
                (
                    i.key_pressed(egui::Key::Space),
                    i.key_pressed(egui::Key::ArrowLeft),
                    i.key_pressed(egui::Key::ArrowRight),
                    i.key_pressed(egui::Key::B),
                )
            });
            if b {
                self.bookmark_requested = true;
            }
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
            .show(ui, |ui| {
                let (clicked, zoomed) = self.tiles_ui(ui, &tr);
                if let Some(k) = clicked {
                    self.selected = k;
                }
                for (k, z) in zoomed {
                    match z {
                        Some(z) => self.zoom.insert(k, z),
                        None => self.zoom.remove(&k),
                    };
                }
            });
        self.tr = Some(tr);
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(if self.playing {
                16
            } else {
                100
            }));
    }

    /// Green only for [`Status::Verified`] (and whose key), amber for a valid signature by an
    /// untrusted key (its fingerprint and what that means), red for a failed check listing
    /// each problem.
    fn banner_ui(&self, ui: &mut egui::Ui, tr: &Tr) {
        let files = self.report.manifest.as_ref().map_or(0, |m| m.files.len());
        let key = self.report.key_fingerprint.clone().unwrap_or_default();
        let (fill, text, title, lines): (Color32, Color32, String, Vec<String>) =
            match self.status() {
                Status::Verified => {
                    let whose = match &self.report.signer {
                        Some(KeyTrust::Trusted { name }) => {
                            tr.t_args("replay-signer-trusted", &[("name", name.clone().into())])
                        }
                        _ => tr.t("replay-signer-own"),
                    };
                    (
                        Color32::from_rgb(30, 110, 50),
                        Color32::WHITE,
                        tr.t_args(
                            "replay-verified",
                            &[("count", files.into()), ("key", key.clone().into())],
                        ),
                        vec![whose],
                    )
                }
                Status::Untrusted => (
                    Color32::from_rgb(235, 165, 35),
                    Color32::BLACK,
                    tr.t_args("replay-untrusted", &[("key", key.clone().into())]),
                    vec![
                        tr.t_args("replay-untrusted-what", &[("count", files.into())]),
                        tr.t("replay-untrusted-todo"),
                    ],
                ),
                Status::Failed => (
                    Color32::from_rgb(170, 20, 20),
                    Color32::WHITE,
                    tr.t_args(
                        "replay-unverified",
                        &[("count", self.report.problems.len().max(1).into())],
                    ),
                    self.report.problems.clone(),
                ),
            };
        egui::Frame::NONE
            .fill(fill)
            .inner_margin(6.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(egui::RichText::new(title).color(text).strong());
                for p in &lines {
                    ui.label(egui::RichText::new(p).color(text));
                }
                ui.small(egui::RichText::new(self.archive.display().to_string()).color(text));
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
        let mut hover: Option<String> = None;
        for (k, c) in self.clips.iter().enumerate() {
            let y = rect.top() + 8.0 + k as f32 * 14.0;
            let lane = |a: i64, b: i64| {
                Rect::from_min_max(
                    egui::pos2(strip.x(a.max(self.range.0)), y),
                    egui::pos2(strip.x(b.min(self.range.1)).max(strip.x(a) + 1.0), y + 10.0),
                )
            };
            // Runs of footage (blue); a version-1 archive only knows where each clip starts.
            if c.runs.is_empty() {
                p.rect_filled(
                    lane(c.player.start_ms, self.range.1),
                    2.0,
                    Color32::from_rgb(60, 120, 200),
                );
            }
            for run in &c.runs {
                let end = if run.end_ms > run.start_ms {
                    run.end_ms
                } else {
                    self.range.1
                };
                p.rect_filled(
                    lane(run.start_ms, end),
                    2.0,
                    Color32::from_rgb(60, 120, 200),
                );
            }
            // Damaged by packet loss (orange), gaps (red), with the reason under the pointer.
            for d in self.damaged.iter().filter(|d| d.camera == c.camera) {
                let r = lane(d.from_ms, d.to_ms.max(d.from_ms + 1));
                p.rect_filled(
                    r.shrink2(egui::vec2(0.0, 3.0)),
                    0.0,
                    Color32::from_rgb(240, 150, 40),
                );
            }
            for g in self.gaps.iter().filter(|g| g.camera == c.camera) {
                let r = lane(g.from_ms, g.to_ms);
                p.rect_filled(
                    r.shrink2(egui::vec2(0.0, 2.0)),
                    0.0,
                    Color32::from_rgb(200, 50, 50),
                );
                if strip.hover_pos().is_some_and(|h| r.contains(h)) {
                    let reason = tr.t(&format!("gap-{}", g.reason));
                    hover = Some(tr.t_args(
                        "timeline-gap",
                        &[
                            ("from", crate::log::format_time(g.from_ms).into()),
                            ("to", crate::log::format_time(g.to_ms).into()),
                            ("reason", reason.into()),
                        ],
                    ));
                }
            }
            p.text(
                egui::pos2(rect.left() + 4.0, y + 5.0),
                Align2::LEFT_CENTER,
                &c.camera,
                FontId::proportional(10.0),
                Color32::WHITE,
            );
        }
        if let Some(h) = hover {
            strip.tooltip(h);
        }
        for (t, _, _) in &self.bookmarks {
            strip.mark(*t, Stroke::new(2.0, Color32::from_rgb(250, 200, 40)), None);
        }
        if let Some(t) = strip.finish(self.clock_ms) {
            self.seek(t);
        }
    }

    /// The tiles; returns the one clicked, if any, and the tiles whose zoom changed.
    fn tiles_ui(
        &self,
        ui: &mut egui::Ui,
        tr: &Tr,
    ) -> (Option<usize>, Vec<(usize, Option<crate::zoom::Zoom>)>) {
        let mut clicked = None;
        let mut zoomed = Vec::new();
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
            let resp = ui.interact(
                r,
                ui.scope_id().with(("replay-tile", k)),
                Sense::click_and_drag(),
            );
            resp.widget_info(|| {
                egui::WidgetInfo::labeled(
                    egui::Role::Button,
                    true,
                    tr.t_args("replay-tile", &[("camera", c.camera.clone().into())]),
                )
            });
            if resp.clicked() {
                clicked = Some(k);
            }
            let zoom = self.zoom.get(&k).copied();
            if resp.double_clicked() && zoom.is_some() {
                zoomed.push((k, None));
            }
            let p = ui.painter_at(r);
            p.rect_filled(r, 0.0, Color32::BLACK);
            let shows = c.player.shown_ms().is_some();
            if !shows {
                // No footage at this time: say so (and why), never a stale picture.
                let undecodable = c.player.error.lock().clone();
                let text = match self.gap_at(&c.camera, self.clock_ms) {
                    _ if undecodable.is_some() => format!(
                        "{} · {}",
                        tr.t("tile-undecodable"),
                        tr.t_args(
                            "undecodable-format",
                            &[("detail", undecodable.unwrap_or_default().into())],
                        )
                    ),
                    Some(g) => tr.t_args(
                        "playback-gap",
                        &[("reason", tr.t(&format!("gap-{}", g.reason)).into())],
                    ),
                    None => tr.t("playback-no-recording"),
                };
                p.text(
                    r.center(),
                    Align2::CENTER_CENTER,
                    text,
                    FontId::proportional(15.0),
                    Color32::from_rgb(240, 150, 150),
                );
            }
            if let Some(frame) = c.player.shared.latest().filter(|_| shows) {
                let pic = fit_aspect(r, frame.width, frame.height);
                if let Some(z) = crate::zoom::input(ui, &resp, pic, zoom, true) {
                    zoomed.push((k, z));
                }
                p.add(egui_wgpu::Callback::new_paint_callback(
                    pic,
                    mt_render::VideoCallback {
                        source: c.player.shared.slot.clone(),
                        crop: zoom.map(|z| (crate::zoom::replay_view(k), z.crop())),
                    },
                ));
                crate::zoom::badge(&p, r, zoom);
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
            if let Some((mark, colour)) = self.mark(tr) {
                p.text(
                    r.center(),
                    Align2::CENTER_CENTER,
                    mark,
                    FontId::proportional(28.0),
                    colour,
                );
            }
        }
        // The selected tile (what B bookmarks).
        if let Some(k) = (self.selected < self.clips.len()).then_some(self.selected) {
            let r = Rect::from_min_size(
                area.min + egui::vec2((k % cols) as f32 * w, (k / cols) as f32 * h),
                egui::vec2(w, h),
            )
            .shrink(2.0);
            ui.painter().rect_stroke(
                r,
                0.0,
                Stroke::new(2.0, Color32::from_rgb(250, 200, 40)),
                egui::StrokeKind::Inside,
            );
        }
        (clicked, zoomed)
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

    /// Where the pointer is over the strip, if it is.
    pub fn hover_pos(&self) -> Option<egui::Pos2> {
        self.resp.hover_pos()
    }

    /// A tooltip at the pointer (e.g. a gap's reason).
    pub fn tooltip(&self, text: String) {
        self.resp.clone().on_hover_text_at_pointer(text);
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
