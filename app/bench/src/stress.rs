//! `matthan-bench stress`: the UI thread's frames while everything heavy an officer can start
//! goes on beside a 16-tile live wall, against the same wall's quiet frames in the same run.
//!
//! Phases, one after the other, each measured frame by frame (wall time of the whole UI
//! frame: `MatThanApp::show`, tessellation, buffer updates, submit):
//! 1. **quiet**: 16 live tiles and the map (split view), nothing else — the baseline;
//! 2. **all at once on the live wall**: the SQLite log held write-locked (`BEGIN EXCLUSIVE`)
//!    by another process for 10 s while the officer bookmarks a tile every second; the map
//!    panned across a generated MBTiles basemap until 200 tiles are decoded, and then (inside
//!    the lock's 10 s) a 1 GB signed evidence archive opened (verified and copied out on its
//!    thread; once open it takes the whole window, and the pan and the bookmarks stop).
//!
//! The app is `MatThanApp` drawn through the offscreen renderer (no window, no event loop).
//! 3. **replay seek storm**: the opened archive (16 cameras) sought to a random time every
//!    frame;
//! 4. **playback seek storm**: the wall in playback of the 16 cameras' recordings, sought
//!    every frame, while the recorder records the live streams into the same index and its
//!    retention deletes old segments under the index lock.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use mt_capture::sim::SimServer;
use mt_capture::{Capture, Timeouts};
use mt_map::proj::View;
use mt_ui::app::CentralView;
use mt_ui::Command;
use mt_ui::{MatThanApp, WallLayout, WallState};

use crate::measure::*;

const CAMERAS: usize = 16;
const SIZE: [u32; 2] = [1920, 1080];
const TICK: Duration = Duration::from_millis(33);
/// Metres per pixel at which the map asks for zoom-17 tiles.
const MPP_Z17: f64 = 2.0 * 20_037_508.342_789_244 / (256.0 * 131_072.0);
const ZOOM: u8 = 17;
/// The generated basemap: GRID × GRID tiles of zoom 17 around the map's centre.
const GRID: u32 = 24;

/// The UI frames of one phase.
#[derive(Default)]
struct Frames {
    wall_us: Vec<u32>,
    cpu_us: Vec<u32>,
    /// Per frame: times the UI thread gave up the CPU itself (waited: a lock, I/O, a sleep
    /// inside a call) and times it was preempted.
    waits: Vec<(u32, u32)>,
    /// The slowest frames' parts (wall ms), for stderr.
    slowest: Vec<(u32, String)>,
}

impl Frames {
    fn frame(
        &mut self,
        off: &mt_render::offscreen::Offscreen,
        ctx: &egui::Context,
        app: &mut MatThanApp,
        events: Vec<egui::Event>,
    ) {
        let (c0, s0, t0) = (thread_cpu_secs(), switches(), Instant::now());
        let times = off.prepare_frame_with(ctx, SIZE, events, |ui| app.show(ui));
        let wall = t0.elapsed().as_micros() as u32;
        let s1 = switches();
        self.wall_us.push(wall);
        self.cpu_us.push(((thread_cpu_secs() - c0) * 1e6) as u32);
        self.waits
            .push(((s1.0 - s0.0) as u32, (s1.1 - s0.1) as u32));
        if wall > 33_000 {
            let parts: Vec<String> = app
                .frame_parts()
                .iter()
                .chain(times.parts.iter().skip(1))
                .map(|(n, d)| format!("{n} {:.1}", d.as_secs_f64() * 1e3))
                .collect();
            self.slowest.push((wall, parts.join(", ")));
        }
    }

    fn row(&self, name: &str, beside: &str) -> String {
        let mut w = self.wall_us.clone();
        let over = |ms: u32| self.wall_us.iter().filter(|u| **u > ms * 1000).count();
        let (worst, _) = self
            .wall_us
            .iter()
            .enumerate()
            .max_by_key(|(_, u)| **u)
            .unwrap_or((0, &0));
        let (vol, invol) = self.waits.get(worst).copied().unwrap_or_default();
        format!(
            "| {name} | {beside} | {} | {:.1} / {:.1} / {:.1} | {} | {} | {:.1} ms CPU, {vol} waits, {invol} preemptions |",
            self.wall_us.len(),
            percentile(&mut w, 0.5),
            percentile(&mut w, 0.99),
            self.wall_us.iter().max().copied().unwrap_or(0) as f64 / 1e3,
            over(33),
            over(50),
            self.cpu_us.get(worst).copied().unwrap_or(0) as f64 / 1e3,
        )
    }

    fn print_slowest(&mut self, name: &str) {
        self.slowest.sort_by_key(|(w, _)| std::cmp::Reverse(*w));
        for (w, parts) in self.slowest.iter().take(5) {
            eprintln!("{name}: frame of {:.1} ms: {parts}", *w as f64 / 1e3);
        }
    }
}

/// This thread's (voluntary, involuntary) context switches so far.
fn switches() -> (i64, i64) {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    (ru.ru_nvcsw, ru.ru_nivcsw)
}

/// Says on stderr when a phase starts, in CLOCK_MONOTONIC seconds (to find it in a
/// `perf record -k CLOCK_MONOTONIC` of the run).
fn mark(phase: &str) {
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    eprintln!(
        "phase {phase:?} starts at {}.{:06} (CLOCK_MONOTONIC)",
        ts.tv_sec,
        ts.tv_nsec / 1000
    );
}

/// Sleeps until the next frame is due (30 fps); no sleep when behind.
fn pace(next: &mut Instant) {
    *next += TICK;
    match next.checked_duration_since(Instant::now()) {
        Some(d) => std::thread::sleep(d),
        None => *next = Instant::now(),
    }
}

fn key_press(k: egui::Key) -> Vec<egui::Event> {
    vec![egui::Event::Key {
        key: k,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: egui::Modifiers::NONE,
    }]
}

/// Removes the scratch folder however the run ends.
struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `matthan-bench hold-lock`: another process holding the log write-locked for `secs`
/// (says "locked" on stdout once it holds it).
pub fn hold_lock(db: &Path, secs: u64) -> anyhow::Result<()> {
    let c = rusqlite::Connection::open(db).with_context(|| db.display().to_string())?;
    c.execute_batch("BEGIN EXCLUSIVE")
        .with_context(|| format!("{}: BEGIN EXCLUSIVE", db.display()))?;
    println!("locked");
    std::thread::sleep(Duration::from_secs(secs));
    c.execute_batch("COMMIT")?;
    Ok(())
}

/// A PNG tile that looks like a town from above: blocks of buildings, two streets.
fn tile_png(rng: &mut fastrand::Rng) -> anyhow::Result<Vec<u8>> {
    let mut img = image::RgbaImage::from_pixel(256, 256, image::Rgba([236, 232, 222, 255]));
    for _ in 0..40 {
        let (x, y) = (rng.u32(0..240), rng.u32(0..240));
        let (w, h) = (rng.u32(6..40), rng.u32(6..40));
        let g = rng.u8(170..215);
        for yy in y..(y + h).min(256) {
            for xx in x..(x + w).min(256) {
                img.put_pixel(xx, yy, image::Rgba([g, g - 8, g - 20, 255]));
            }
        }
    }
    let (sx, sy) = (rng.u32(20..230), rng.u32(20..230));
    for k in 0..256 {
        for d in 0..7 {
            img.put_pixel((sx + d).min(255), k, image::Rgba([255, 255, 255, 255]));
            img.put_pixel(k, (sy + d).min(255), image::Rgba([255, 250, 220, 255]));
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// The demo map's layers with a generated MBTiles basemap of GRID × GRID zoom-17 tiles whose
/// top-left tile is `first`; returns the map file and the bytes of the tiles.
fn make_map(dir: &Path, first: (u32, u32)) -> anyhow::Result<(PathBuf, u64)> {
    std::fs::create_dir_all(dir)?;
    let demo = mt_core::assets_dir().join("map");
    for e in std::fs::read_dir(&demo).with_context(|| demo.display().to_string())? {
        let e = e?;
        std::fs::copy(e.path(), dir.join(e.file_name()))?;
    }
    let toml = dir.join("map.toml");
    let text = std::fs::read_to_string(&toml)?;
    std::fs::write(&toml, format!("basemap = \"nen.mbtiles\"\n{text}"))?;
    let mut conn = rusqlite::Connection::open(dir.join("nen.mbtiles"))?;
    conn.execute_batch(
        "CREATE TABLE metadata (name TEXT, value TEXT);
         CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
         CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);
         INSERT INTO metadata VALUES ('name', 'stress'), ('format', 'png'), ('attribution', 'bench');",
    )?;
    let tx = conn.transaction()?;
    let mut rng = fastrand::Rng::with_seed(17);
    let mut bytes = 0;
    for y in first.1..first.1 + GRID {
        for x in first.0..first.0 + GRID {
            let png = tile_png(&mut rng)?;
            bytes += png.len() as u64;
            let tms = (1u32 << ZOOM) - 1 - y;
            tx.execute(
                "INSERT INTO tiles VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![ZOOM, x, tms, png],
            )?;
        }
    }
    tx.commit()?;
    Ok((toml, bytes))
}

/// The map's centre for frame `k` of the pan: left to right along a row of the basemap, then
/// the next row band (the view sees about 4 × 4 tiles), so new tiles come into view all the
/// time.
fn pan_center(k: u64, first: (u32, u32)) -> geo::Coord {
    let (lo, _) = mt_map::proj::tile_bounds(ZOOM, first.0, first.1);
    let tile_m = 256.0 * MPP_Z17;
    // 120 m per frame (a quick drag): a new column of tiles every ~2.5 frames.
    let along = k as f64 * 120.0;
    let width = (GRID as f64 - 4.0) * tile_m;
    let band = (along / width).floor();
    let x = lo.x + 2.0 * tile_m + along % width;
    let y = lo.y - 2.0 * tile_m - (band * 4.0 * tile_m) % ((GRID as f64 - 4.0) * tile_m);
    geo::Coord { x, y }
}

pub fn run(minutes: u64, phase_secs: u64, tiles_wanted: u64) -> anyhow::Result<()> {
    let root = std::env::temp_dir().join(format!("matthan-bench-stress-{}", std::process::id()));
    let _scratch = Scratch(root.clone());
    let assets = mt_core::assets_dir();
    let ids: Vec<String> = (1..=CAMERAS).map(|k| format!("b{k}")).collect();

    // Footage: the 16 cameras' recordings, written as the recorder writes them.
    let t = Instant::now();
    let rec = root.join("recordings");
    std::fs::create_dir_all(&rec)?;
    let clip = assets.join("clips/scene1-main.h264");
    let aus =
        keyed_access_units(&std::fs::read(&clip).with_context(|| clip.display().to_string())?);
    let index = mt_record::Index::open(&rec.join("index.db"))?;
    let end = mt_record::now_ms() - 120_000;
    let t0 = end - minutes as i64 * 60_000;
    for id in &ids {
        crate::evidence::synth_recording(&rec, &index, id, t0, minutes * 60, &aus)?;
    }
    let recorded = index.total_bytes()? as u64;
    // The archive: all of it, signed with the workstation's key (beside the log), so the
    // workstation trusts it.
    let db = root.join("log.db");
    let exports = root.join("exports");
    std::fs::create_dir_all(&exports)?;
    let key = mt_record::keys::load_or_create(&mt_record::keys::key_path(&db))?;
    let archive = exports.join("stress.zip");
    let index = parking_lot::Mutex::new(index);
    mt_record::export::export(
        &index,
        &rec,
        &mt_record::export::ExportRequest {
            cameras: ids.clone(),
            from_ms: t0,
            to_ms: end,
            operator: "bench".into(),
            workstation: "bench".into(),
            ..Default::default()
        },
        &key,
        &archive,
        &|_| {},
        &AtomicBool::new(false),
    )?;
    drop(index);
    let archive_bytes = std::fs::metadata(&archive)?.len();
    // The basemap around the demo map's centre.
    let centre = mt_map::proj::lonlat_to_merc(105.787, 21.069);
    let c = mt_map::proj::tile_of(centre, ZOOM);
    let first = (c.0 - GRID / 2, c.1 - GRID / 2);
    let (map_toml, tile_bytes) = make_map(&root.join("map"), first)?;
    // The log, with an officer signed in.
    {
        let mut log = mt_store::Db::open(&db)?;
        log.add_operator(None, "bench", "Bench", mt_store::Role::Supervisor, "246802")?;
    }
    let store = mt_store::thread::StoreThread::start(&db)?;
    let op = store
        .run(|db| db.sign_in("bench", "246802"))
        .and_then(|p| p.wait())?;
    let mut log = mt_ui::log::LogUi::new(store, exports.clone());
    log.operator = Some(op);
    eprintln!(
        "set-up: {:.0} MB of recordings, a {:.0} MB archive, {} tiles ({:.1} MB) in {:.0} s",
        recorded as f64 / 1e6,
        archive_bytes as f64 / 1e6,
        GRID * GRID,
        tile_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // The live wall: 16 simulated cameras, 4×4, with the map beside it.
    let off = mt_render::offscreen::Offscreen::new()?;
    let sim = SimServer::start(&assets, 0, CAMERAS)?;
    let cap = Capture::new(Timeouts::default())?;
    let mut handles = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        handles.push(cap.start_camera(camera(id, &sim.url(&format!("cam{}/main", k + 1)))?)?);
    }
    let sites: Vec<mt_core::CameraSite> = handles
        .iter()
        .map(|h| mt_core::CameraSite::from_config(&h.config))
        .collect();
    let (data, errors) = mt_map::MapData::load(&map_toml)?;
    if !errors.is_empty() {
        bail!("{}: {errors:?}", map_toml.display());
    }
    let mut map = mt_ui::map::MapUi::new(Arc::new(data), vec![], sites);
    map.view = Some(View {
        center: pan_center(0, first),
        mpp: MPP_Z17,
    });
    let ctx = egui::Context::default();
    let state = WallState {
        layout: WallLayout::G4,
        tiles: ids.iter().cloned().map(Some).collect(),
        view: CentralView::Split,
        show_health: false,
        ..Default::default()
    };
    let mut app = MatThanApp::new(&ctx, handles, state, None, vec![])
        .with_log(log)
        .with_map(map);
    let t_warm = Instant::now();
    while t_warm.elapsed() < Duration::from_secs(30)
        && !app.cameras.iter().all(|c| c.main.latest().is_some())
    {
        off.prepare_frame(&ctx, SIZE, |ui| app.show(ui));
        std::thread::sleep(TICK);
    }
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(2) {
        off.prepare_frame(&ctx, SIZE, |ui| app.show(ui));
        std::thread::sleep(TICK);
    }
    let window = Duration::from_secs(phase_secs);
    let mut rng = fastrand::Rng::with_seed(5);

    // 1. Quiet.
    mark("quiet");
    let (mut quiet, _) = storm(&off, &ctx, &mut app, window, |_| None);

    // 2. All at once.
    let mut locker = std::process::Command::new(std::env::current_exe()?)
        .args(["hold-lock", "--secs", "10", "--db"])
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting the process that locks the log")?;
    let mut said = String::new();
    std::io::BufReader::new(locker.stdout.take().context("its stdout")?).read_line(&mut said)?;
    if said.trim() != "locked" {
        bail!("the locking process said {said:?}");
    }
    let locked_at = Instant::now();
    mark("all at once");
    let mut lock_s = None;
    let mut all = Frames::default();
    let base_tiles = answered(&app);
    let (t, mut next) = (Instant::now(), Instant::now());
    let (mut k, mut bookmarks, mut opened_s, mut tiles) = (0u64, 0u32, None, 0);
    let mut enter = false;
    // The archive is opened once the pan has decoded the tiles asked for (a few seconds in,
    // inside the lock's 10 s): an opened archive takes the whole window, so the map and the
    // bookmarks stop when it is in.
    let mut open_at: Option<Instant> = None;
    while t.elapsed() < Duration::from_secs(180) {
        let mut events = vec![];
        if app.replay.is_none() {
            if let Some(m) = app.map.as_mut() {
                if let Some(v) = m.view.as_mut() {
                    v.center = pan_center(k, first);
                }
            }
            if enter {
                // The bookmark prompt's Enter: saved through the store thread.
                events = key_press(egui::Key::Enter);
                enter = false;
            } else if k % 30 == 0 {
                app.apply(&ctx, Command::Select(bookmarks as usize % CAMERAS));
                app.apply(&ctx, Command::Bookmark);
                bookmarks += 1;
                enter = true;
            }
        }
        all.frame(&off, &ctx, &mut app, events);
        k += 1;
        tiles = answered(&app).saturating_sub(base_tiles).max(tiles);
        if open_at.is_none() && (tiles >= tiles_wanted || t.elapsed() >= Duration::from_secs(8)) {
            app.apply(&ctx, Command::OpenArchive(archive.display().to_string()));
            open_at = Some(Instant::now());
        }
        if let (None, Some(at)) = (opened_s, open_at) {
            if app.replay.is_some() || app.loading.is_none() {
                opened_s = Some(at.elapsed().as_secs_f64());
            }
        }
        if lock_s.is_none() && locker.try_wait()?.is_some() {
            lock_s = Some(locked_at.elapsed().as_secs_f64());
        }
        if opened_s.is_some() && lock_s.is_some() {
            break;
        }
        pace(&mut next);
    }
    let _ = locker.wait();
    let Some(replay) = app.replay.as_ref() else {
        bail!(
            "the archive did not open: {:?}",
            app.open_archive.as_ref().and_then(|(_, e)| e.clone())
        );
    };
    let verified = replay.verified();
    let range = replay.range;
    let clips = replay.clips.len();
    let unsaved = app.log.as_ref().map_or(0, |l| l.unsaved_count());

    // 3. Replay seek storm.
    mark("replay seek storm");
    let (mut replay_storm, seeks) = storm(&off, &ctx, &mut app, window, |app| {
        let r = app.replay.as_mut()?;
        r.seek(rng.i64(range.0..range.1.max(range.0 + 1)));
        Some(())
    });
    app.apply(&ctx, Command::CloseArchive);

    // 4. Playback seek storm, recording and retention beside it.
    let mut cfg = mt_record::RecConfig::new(rec.clone());
    cfg.segment_secs = 2.0;
    cfg.quota_bytes = recorded.saturating_sub(200 << 20);
    let (mut recorder, _) = mt_record::Recorder::start(cfg)?;
    for c in &app.cameras {
        recorder.add(&c.config.id.0, &c.main)?;
    }
    app.recorder = Some(recorder);
    app.apply(&ctx, Command::TogglePlayback);
    if app.playback.is_none() {
        bail!("playback did not start");
    }
    mark("playback seek storm");
    let (mut playback_storm, pb_seeks) = storm(&off, &ctx, &mut app, window, |app| {
        app.playback.as_mut()?.seek(rng.i64(t0..end));
        Some(())
    });
    let deleted = app
        .recorder
        .as_ref()
        .map_or(0, |r| r.status().deleted_by_retention);
    let saved: i64 =
        rusqlite::Connection::open(&db)?
            .query_row("SELECT count(*) FROM bookmark", [], |r| r.get(0))?;

    println!(
        "GPU adapter: {}; 16 live simulated cameras (640×360 H.264, 15 fps) on a 4×4 wall beside the map (split view), 1920×1080, 30 UI frames/s\n",
        off.adapter_name()
    );
    println!("| phase | beside the 16-tile wall | frames | UI frame wall ms p50 / p99 / longest | over 33 ms | over 50 ms | the longest frame |");
    println!("|---|---|---|---|---|---|---|");
    println!("{}", quiet.row("1. quiet (baseline)", "nothing"));
    println!(
        "{}",
        all.row(
            "2. all at once",
            &format!(
                "the log write-locked by another process for {:.1} s; the map panned, {tiles} basemap tiles decoded, then a {:.2} GB archive opened (verified and copied out in {:.1} s, {}); {bookmarks} bookmarks made while the wall showed",
                lock_s.unwrap_or(f64::NAN),
                archive_bytes as f64 / 1e9,
                opened_s.unwrap_or(f64::NAN),
                if verified { "verified" } else { "NOT verified" },
            )
        )
    );
    println!(
        "{}",
        replay_storm.row(
            "3. replay seek storm",
            &format!("the archive's {clips} cameras, {seeks} seeks (one per frame)")
        )
    );
    println!(
        "{}",
        playback_storm.row(
            "4. playback seek storm",
            &format!("16 cameras' recordings, {pb_seeks} seeks; the recorder recording 16 streams, retention deleted {deleted} segments under the index lock")
        )
    );
    println!(
        "\nBookmarks: {bookmarks} made, {saved} in the log file afterwards, {unsaved} refused while it was locked."
    );
    quiet.print_slowest("quiet");
    all.print_slowest("all at once");
    replay_storm.print_slowest("replay seek storm");
    playback_storm.print_slowest("playback seek storm");
    drop(app);
    drop(cap);
    drop(sim);
    Ok(())
}

/// UI frames for `window`, calling `seek` before each (it returns None when it had nothing
/// to seek); the frames and the number of seeks.
fn storm(
    off: &mt_render::offscreen::Offscreen,
    ctx: &egui::Context,
    app: &mut MatThanApp,
    window: Duration,
    mut seek: impl FnMut(&mut MatThanApp) -> Option<()>,
) -> (Frames, u32) {
    let mut frames = Frames::default();
    let (t, mut next) = (Instant::now(), Instant::now());
    let mut seeks = 0;
    while t.elapsed() < window {
        seeks += seek(app).is_some() as u32;
        frames.frame(off, ctx, app, vec![]);
        pace(&mut next);
    }
    (frames, seeks)
}

fn answered(app: &MatThanApp) -> u64 {
    app.map
        .as_ref()
        .and_then(|m| m.basemap.as_ref())
        .map_or(0, |b| b.answered())
}
