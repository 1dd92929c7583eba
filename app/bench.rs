//! `matthan bench`: N simulated cameras (640×360, 15 fps H.264) from GStreamer's RTSP server
//! through receive + decode + upload, for each N; ratios against the FFmpeg CLI decoding the
//! same clip, measured in the same run (the machines are shared and noisy).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use mt_capture::sim::SimServer;
use mt_capture::{Capture, Timeouts};
use mt_ui::{MatThanApp, WallLayout, WallState};

/// `ffmpeg -threads N -i clip -f null -`, `runs` times: the children's CPU ms per frame of
/// each run (the baseline the decode benchmarks compare with, measured in the same run).
pub(crate) fn ffmpeg_cpu_ms_per_frame(
    clip: &std::path::Path,
    threads: u32,
    runs: usize,
    frames: u64,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::new();
    for _ in 0..runs {
        let c0 = cpu_secs(libc::RUSAGE_CHILDREN);
        let st = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-threads"])
            .arg(threads.to_string())
            .arg("-i")
            .arg(clip)
            .args(["-f", "null", "-"])
            .status()
            .context("running ffmpeg")?;
        if !st.success() {
            bail!("ffmpeg failed on {}", clip.display());
        }
        out.push((cpu_secs(libc::RUSAGE_CHILDREN) - c0) * 1000.0 / frames.max(1) as f64);
    }
    Ok(out)
}

pub(crate) fn cpu_secs(who: i32) -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

pub(crate) fn thread_cpu_secs() -> f64 {
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// CPU seconds (user + system) of another process, from /proc.
pub(crate) fn proc_cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0))
        / tick
}

fn rss_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn percentile(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

/// Splits an Annex B clip encoded with access-unit delimiters into access units.
fn access_units(data: &[u8]) -> Vec<&[u8]> {
    let marker = [0u8, 0, 0, 1, 9];
    let starts: Vec<usize> = data
        .windows(5)
        .enumerate()
        .filter(|(_, w)| *w == marker)
        .map(|(i, _)| i)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| &data[s..*starts.get(k + 1).unwrap_or(&data.len())])
        .collect()
}

struct Baseline {
    cli_ms_per_frame: f64,
    inproc_ms_per_frame: f64,
    frames: usize,
}

fn baseline(clip: &std::path::Path) -> anyhow::Result<Baseline> {
    let data = std::fs::read(clip).with_context(|| clip.display().to_string())?;
    let aus = access_units(&data);
    let frames = aus.len();
    // FFmpeg CLI, single-threaded decode, 5 runs; CPU time of the children.
    let mut cli = ffmpeg_cpu_ms_per_frame(clip, 1, 5, frames as u64)?;
    cli.sort_by(f64::total_cmp);
    // In-process libavcodec on the same access units (no network).
    let mut inproc = Vec::new();
    for _ in 0..5 {
        let mut dec = mt_capture::decode::Decoder::new(mt_capture::decode::Codec::H264)?;
        let t0 = thread_cpu_secs();
        let mut n = 0;
        for au in &aus {
            dec.decode(au, 0, Instant::now(), |_| n += 1)?;
        }
        inproc.push((thread_cpu_secs() - t0) * 1000.0 / n.max(1) as f64);
    }
    inproc.sort_by(f64::total_cmp);
    Ok(Baseline {
        cli_ms_per_frame: cli[2],
        inproc_ms_per_frame: inproc[2],
        frames,
    })
}

pub fn run(counts: &[usize], window: Duration) -> anyhow::Result<()> {
    let assets = crate::assets_dir();
    let clip = assets.join("clips/scene1-main.h264");
    let b = baseline(&clip)?;
    println!(
        "Baseline on {} ({} frames, 640×360 H.264 High, GOP 15):",
        clip.display(),
        b.frames
    );
    println!(
        "  ffmpeg -threads 1 -i clip -f null -   : {:.3} CPU ms/frame (median of 5)",
        b.cli_ms_per_frame
    );
    println!(
        "  in-process libavcodec, same frames   : {:.3} CPU ms/frame (median of 5)\n",
        b.inproc_ms_per_frame
    );

    let off = mt_render::offscreen::Offscreen::new()?;
    println!(
        "GPU adapter: {}; window {} s per N\n",
        off.adapter_name(),
        window.as_secs()
    );
    println!("| N | CPU ms/frame | ratio to CLI | fps/feed | received | decoded | dropped | arrival→upload p50 / p99 ms | RSS MB (Δ per feed) | UI CPU ms/wall frame (p50 / p99) | server CPU % |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in counts {
        let rss0 = rss_mb("VmRSS:");
        let sim = SimServer::start(&assets, 0, n)?;
        let cap = Capture::new(Timeouts::default())?;
        let mut handles = Vec::new();
        for k in 1..=n {
            let text = format!("[[camera]]\nid = \"b{k}\"\nname = \"Bench {k}\"\nlat = 21.07\nlon = 105.79\nmain_url = \"{}\"\n", sim.url(&format!("cam{k}/main")));
            let f = mt_core::parse_cameras("bench", &text)?;
            handles.push(cap.start_camera(f.cameras.into_iter().next().context("bench camera")?)?);
        }
        let ctx = egui::Context::default();
        let tiles = (0..64)
            .map(|k| (k < n).then(|| format!("b{}", k + 1)))
            .collect();
        let state = WallState {
            layout: WallLayout::G8,
            tiles,
            show_health: false,
            ..Default::default()
        };
        let mut app = MatThanApp::new(&ctx, handles, state, None, vec![]);
        let size = [1920, 1080];
        let tick = Duration::from_millis(33);
        // Warm up until every feed shows a picture (at most 30 s), then measure.
        let t_warm = Instant::now();
        while t_warm.elapsed() < Duration::from_secs(30)
            && !app.cameras.iter().all(|c| c.main.latest().is_some())
        {
            off.prepare_frame(&ctx, size, |ui| app.show(ui));
            std::thread::sleep(tick);
        }
        std::thread::sleep(Duration::from_secs(2));
        for c in &app.cameras {
            c.main.drain_latency_us();
        }
        let stats0: Vec<_> = app.cameras.iter().map(|c| c.main.stats()).collect();
        let cpu0 = cpu_secs(libc::RUSAGE_SELF);
        let srv0 = proc_cpu_secs(sim.pid());
        let t0 = Instant::now();
        let mut ui_ms = Vec::new();
        let mut next = Instant::now();
        while t0.elapsed() < window {
            let u0 = thread_cpu_secs();
            off.prepare_frame(&ctx, size, |ui| app.show(ui));
            ui_ms.push(((thread_cpu_secs() - u0) * 1e6) as u32);
            next += tick;
            if let Some(d) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = cpu_secs(libc::RUSAGE_SELF) - cpu0;
        let srv = proc_cpu_secs(sim.pid()) - srv0;
        let (mut recv, mut dec, mut dropped) = (0u64, 0u64, 0u64);
        let mut lat = Vec::new();
        for (c, s0) in app.cameras.iter().zip(&stats0) {
            let s = c.main.stats();
            recv += s.frames_received - s0.frames_received;
            dec += s.frames_decoded - s0.frames_decoded;
            dropped += s.frames_dropped - s0.frames_dropped;
            lat.extend(c.main.drain_latency_us());
        }
        let rss = rss_mb("VmRSS:");
        let ms_per_frame = cpu * 1000.0 / dec.max(1) as f64;
        println!(
            "| {n} | {:.3} | {:.2} | {:.2} | {recv} | {dec} | {dropped} | {:.1} / {:.1} | {:.0} ({:.1}) | {:.2} / {:.2} | {:.0} |",
            ms_per_frame,
            ms_per_frame / b.cli_ms_per_frame,
            dec as f64 / n as f64 / secs,
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99),
            rss,
            (rss - rss0) / n as f64,
            percentile(&mut ui_ms, 0.5),
            percentile(&mut ui_ms, 0.99),
            srv * 100.0 / secs,
        );
        drop(app);
        drop(cap);
        drop(sim);
        std::thread::sleep(Duration::from_secs(1));
    }
    println!("\nPeak RSS of the whole run: {:.0} MB", rss_mb("VmHWM:"));
    Ok(())
}

/// `matthan bench-log`: bookmark insert latency with durable commits, and search latency over
/// a generated log. Generated rows bypass the audit chain (bulk load); the measured inserts go
/// through the real `add_bookmark` (row + FTS + audit row, one fsync'd WAL commit).
pub fn log(incidents: usize, notes: usize, dir: std::path::PathBuf) -> anyhow::Result<()> {
    const PLACES: &[&str] = &[
        "Xuân Đỉnh",
        "Tân Xuân",
        "Xuân Tảo",
        "Cổ Nhuế",
        "Phú Diễn",
        "Phạm Văn Đồng",
        "Võ Chí Công",
        "Hoàng Quốc Việt",
        "Đông Ngạc",
        "Thụy Phương",
        "Minh Khai",
        "Liên Mạc",
        "Thượng Cát",
        "Tây Tựu",
        "Đức Thắng",
        "Phúc Diễn",
        "Cầu Diễn",
        "Kẻ Vẽ",
        "Chèm",
        "Văn Trì",
    ];
    const WHAT: &[&str] = &[
        "Trộm cắp xe máy",
        "Cướp giật điện thoại",
        "Cướp tài sản",
        "Gây rối trật tự",
        "Đánh nhau",
        "Đua xe trái phép",
        "Va chạm giao thông",
        "Lừa đảo chuyển khoản",
        "Vứt rác bừa bãi",
        "Trộm cắp tài sản",
    ];
    const NAMES: &[&str] = &[
        "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
        "Hồ", "Ngô", "Dương", "Lý",
    ];
    const GIVEN: &[&str] = &[
        "An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hùng", "Khánh", "Lan", "Linh",
        "Minh", "Nam", "Ngọc", "Phương", "Quân", "Sơn", "Thảo", "Trang", "Tuấn",
    ];
    const NOTE: &[&str] = &[
        "Đã trích xuất hình ảnh camera",
        "Nạn nhân trình báo tại trụ sở",
        "Chuyển tổ điều tra xác minh",
        "Đối tượng mặc áo khoác đen",
        "Xe máy không biển số bỏ chạy",
        "Nhân chứng cung cấp thông tin",
        "Đã liên hệ chủ camera",
        "Thu giữ tang vật",
    ];
    let types = [
        "theft",
        "snatching",
        "robbery",
        "disorder",
        "fight",
        "racing",
        "traffic",
        "fraud",
        "littering",
        "other",
    ];
    let mut rng = fastrand::Rng::with_seed(42);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("matthan-bench-{incidents}-{notes}.db"));
    let fresh = !path.exists();
    let mut db = mt_store::Db::open(&path)?;
    if db.operator_count()? == 0 {
        db.add_operator(None, "gs01", "Bench", mt_store::Role::Supervisor, "246802")?;
    }
    if fresh {
        let t0 = Instant::now();
        let c = db.conn();
        c.execute_batch("BEGIN")?;
        {
            let mut ins = c.prepare("INSERT INTO incident (id, title, type_code, status, occurred_ms, ward, created_by, created_ms, updated_ms) VALUES (?1, ?2, ?3, 'new', ?4, ?5, 'gs01', ?4, ?4)")?;
            let mut cam =
                c.prepare("INSERT INTO incident_camera (incident_id, camera_id) VALUES (?1, ?2)")?;
            let mut fts = c.prepare("INSERT OR REPLACE INTO search_fts (rowid, kind, ref_id, incident_id, body) VALUES (?5, ?1, ?2, ?3, ?4)")?;
            let mut when = vec![0i64; incidents + 1];
            let mut note = c.prepare("INSERT INTO incident_note (id, incident_id, author_id, created_ms, body) VALUES (?1, ?2, 'gs01', ?3, ?4)")?;
            let t_start = 1_577_836_800_000i64; // 2020-01-01
            for id in 1..=incidents as i64 {
                let t = t_start + rng.i64(0..6 * 365 * 86_400_000);
                let place = PLACES[rng.usize(..PLACES.len())];
                let title = format!(
                    "{} tại ngõ {} {}, {} {} trình báo",
                    WHAT[rng.usize(..WHAT.len())],
                    rng.u32(1..500),
                    place,
                    NAMES[rng.usize(..NAMES.len())],
                    GIVEN[rng.usize(..GIVEN.len())]
                );
                ins.execute(rusqlite_params(&[
                    &id,
                    &title,
                    &types[rng.usize(..types.len())],
                    &t,
                    &place,
                ]))?;
                cam.execute(rusqlite_params(&[
                    &id,
                    &format!("xd-{:04}", rng.u32(1..3000)),
                ]))?;
                fts.execute(rusqlite_params(&[
                    &"incident",
                    &id,
                    &id,
                    &mt_core::fold(&title),
                    &mt_store::fts_rowid(t, "incident", id),
                ]))?;
                when[id as usize] = t;
            }
            for nid in 1..=notes as i64 {
                let inc = rng.i64(1..=incidents as i64);
                let body = format!(
                    "{}; {} {} {}",
                    NOTE[rng.usize(..NOTE.len())],
                    NAMES[rng.usize(..NAMES.len())],
                    GIVEN[rng.usize(..GIVEN.len())],
                    rng.u32(1000..9999)
                );
                note.execute(rusqlite_params(&[&nid, &inc, &0i64, &body]))?;
                fts.execute(rusqlite_params(&[
                    &"note",
                    &nid,
                    &inc,
                    &mt_core::fold(&body),
                    &mt_store::fts_rowid(when[inc as usize], "note", nid),
                ]))?;
            }
        }
        c.execute_batch("COMMIT")?;
        db.checkpoint()?;
        println!(
            "generated {incidents} incidents and {notes} notes in {:.0} s ({})",
            t0.elapsed().as_secs_f64(),
            path.display()
        );
    }
    let size_mb = std::fs::metadata(&path)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0);

    // Baseline in the same run: the cheapest durable commit on the same disk (one tiny row).
    db.conn()
        .execute_batch("CREATE TABLE IF NOT EXISTS bench_baseline (x INTEGER)")?;
    let mut base = Vec::new();
    for i in 0..500 {
        let t = Instant::now();
        db.conn()
            .execute("INSERT INTO bench_baseline VALUES (?1)", [i])?;
        base.push(t.elapsed().as_micros() as u32);
    }
    let bm = |k: usize| mt_store::NewBookmark {
        camera_id: format!("xd-{:04}", k % 3000),
        frame_time_ms: mt_store::now_ms(),
        pre_ms: 30_000,
        post_ms: 30_000,
        note: format!("Đánh dấu {k}: người đi xe máy khả nghi"),
        snapshot_png: Some(vec![(k % 251) as u8; 60_000]),
        source: "live".into(),
    };
    // Back to back on the database (worst case: no idle moment for checkpoints).
    let mut burst = Vec::new();
    for k in 0..500 {
        let t = Instant::now();
        db.add_bookmark("gs01", &bm(k))?;
        burst.push(t.elapsed().as_micros() as u32);
    }
    db.checkpoint()?;
    drop(db);
    // As the app does it: through the store thread, an officer's B every 50 ms at most.
    let st = mt_store::thread::StoreThread::start(&path)?;
    let mut ins = Vec::new();
    for k in 0..500 {
        let b = bm(k);
        let t = Instant::now();
        st.run(move |db| db.add_bookmark("gs01", &b))?.wait()?;
        ins.push(t.elapsed().as_micros() as u32);
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(st);
    let db = mt_store::Db::open(&path)?;
    // Searches: half specific (a name and a place), half broad (one word), every fifth with a
    // status filter; diacritics dropped as an officer types them.
    // The same 400 queries with a page of 200 (what the table shows first) and of 500.
    let queries: Vec<mt_store::Query> = (0..400)
        .map(|k| {
            let text = if k % 2 == 0 {
                format!(
                    "{} {}",
                    mt_core::fold(GIVEN[rng.usize(..GIVEN.len())]),
                    mt_core::fold(PLACES[rng.usize(..PLACES.len())])
                )
            } else {
                mt_core::fold(
                    ["trom", "giat", "dua xe", "lua dao", "camera", "nhan chung"][rng.usize(..6)],
                )
            };
            mt_store::Query {
                text,
                status: (k % 5 == 0).then_some(mt_store::Status::New),
                ..Default::default()
            }
        })
        .collect();
    let run = |limit: usize| -> anyhow::Result<(f64, f64, usize)> {
        let mut lat = Vec::new();
        let mut hits = 0;
        let mut slow: Vec<(u32, String)> = Vec::new();
        for q in &queries {
            let q = mt_store::Query { limit, ..q.clone() };
            let t = Instant::now();
            hits += db.search(&q)?.len();
            let us = t.elapsed().as_micros() as u32;
            lat.push(us);
            slow.push((
                us,
                format!(
                    "{:?}{}",
                    q.text,
                    if q.status.is_some() { " +status" } else { "" }
                ),
            ));
        }
        slow.sort_by(|a, b| b.0.cmp(&a.0));
        let names: Vec<String> = slow
            .iter()
            .take(5)
            .map(|(us, q)| format!("{q} {:.1} ms", *us as f64 / 1000.0))
            .collect();
        println!("slowest with page {limit}: {}", names.join(", "));
        Ok((
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99),
            hits / queries.len(),
        ))
    };
    let (s50, s99, hits) = run(mt_store::PAGE)?;
    let (t50, t99, hits500) = run(500)?;
    let (b50, b99) = (percentile(&mut base, 0.5), percentile(&mut base, 0.99));
    let (i50, i99) = (percentile(&mut ins, 0.5), percentile(&mut ins, 0.99));
    let (r50, r99) = (percentile(&mut burst, 0.5), percentile(&mut burst, 0.99));
    println!(
        "log: {incidents} incidents, {notes} notes, {size_mb:.0} MB, WAL + synchronous=FULL\n"
    );
    println!("| operation | p50 ms | p99 ms | ratio p50 / p99 to baseline |");
    println!("|---|---|---|---|");
    println!("| baseline: durable commit of one tiny row | {b50:.2} | {b99:.2} | 1 / 1 |");
    println!("| bookmark insert via the store thread, one every 50 ms (row + 60 kB snapshot + FTS + audit, one commit) | {i50:.2} | {i99:.2} | {:.2} / {:.2} |", i50 / b50, i99 / b99);
    println!("| bookmark insert, 500 back to back on the database | {r50:.2} | {r99:.2} | {:.2} / {:.2} |", r50 / b50, r99 / b99);
    println!("| search, first page (400 queries, up to {} results, {hits} on average) | {s50:.2} | {s99:.2} | — |", mt_store::PAGE);
    println!(
        "| search, 500 results (same queries, {hits500} on average) | {t50:.2} | {t99:.2} | — |"
    );
    Ok(())
}

fn rusqlite_params<'a>(p: &'a [&'a dyn rusqlite::ToSql]) -> &'a [&'a dyn rusqlite::ToSql] {
    p
}

/// `matthan bench-map`: the district data with `n` generated cameras. Frame preparation
/// (egui layout + our shapes + tessellation) against an empty frame, R*-tree hit-testing
/// against a linear scan, coverage with the index against brute force; all in this process.
pub fn map(n: usize, map_dir: &std::path::Path) -> anyhow::Result<()> {
    use geo::Contains;
    use mt_map::{coverage, MapData, SiteIndex};
    let tmp = std::env::temp_dir().join(format!("matthan-bench-map-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let toml = tmp.join("map.toml");
    mt_map::layer::write_osm_map_file(map_dir, &toml)
        .with_context(|| format!("{}: the shared map data", map_dir.display()))?;
    let t = Instant::now();
    let (data, errors) = MapData::load(&toml)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    if !errors.is_empty() {
        bail!("map data errors: {errors:?}");
    }
    let district = data
        .features(mt_map::Kind::Area)
        .find_map(|f| match &f.geom {
            geo::Geometry::Polygon(p) => Some(p.clone()),
            _ => None,
        })
        .context("no district polygon")?;
    let (lo, hi) = data.bounds().context("empty map")?;
    let mut rng = fastrand::Rng::with_seed(7);
    let mut sites = Vec::with_capacity(n);
    while sites.len() < n {
        let c = geo::Coord {
            x: lo.x + rng.f64() * (hi.x - lo.x),
            y: lo.y + rng.f64() * (hi.y - lo.y),
        };
        if !district.contains(&geo::Point(c)) {
            continue;
        }
        let (lon, lat) = mt_map::merc_to_lonlat(c);
        sites.push(mt_core::CameraSite {
            id: format!("cam-{:04}", sites.len()),
            name: format!("Camera {}", sites.len()),
            lat_deg: lat,
            lon_deg: lon,
            heading_deg: rng.f64() * 360.0,
            fov_deg: 60.0 + rng.f64() * 60.0,
            range_m: 20.0 + rng.f64() * 40.0,
            ..Default::default()
        });
    }
    // A generated street grid (every 150 m) inside the district: the real extract has only
    // Ring Road 3, too little to load the coverage computation.
    let mut grid = Vec::new();
    let step = 150.0 / mt_map::proj::ground_scale((lo.y + hi.y) / 2.0);
    let mut push_line = |a: geo::Coord, b: geo::Coord, name: String| {
        let k = ((b.x - a.x).abs().max((b.y - a.y).abs()) / (step / 3.0)).ceil() as usize;
        let mut run = Vec::new();
        for i in 0..=k {
            let c = geo::Coord {
                x: a.x + (b.x - a.x) * i as f64 / k as f64,
                y: a.y + (b.y - a.y) * i as f64 / k as f64,
            };
            if district.contains(&geo::Point(c)) {
                run.push(c);
            } else if run.len() > 1 {
                grid.push(coverage::Road {
                    name: name.clone(),
                    coords: std::mem::take(&mut run),
                });
            } else {
                run.clear();
            }
        }
        if run.len() > 1 {
            grid.push(coverage::Road { name, coords: run });
        }
    };
    let mut y = lo.y;
    while y < hi.y {
        push_line(
            geo::Coord { x: lo.x, y },
            geo::Coord { x: hi.x, y },
            format!("y{y:.0}"),
        );
        y += step;
    }
    let mut x = lo.x;
    while x < hi.x {
        push_line(
            geo::Coord { x, y: lo.y },
            geo::Coord { x, y: hi.y },
            format!("x{x:.0}"),
        );
        x += step;
    }
    let grid_km: f64 = grid
        .iter()
        .map(|r| coverage::length_m(&r.coords))
        .sum::<f64>()
        / 1000.0;

    // Hit-testing: 20,000 clicks near random cameras.
    let index = SiteIndex::build(&sites);
    let clicks: Vec<geo::Coord> = (0..20_000)
        .map(|_| {
            let s = &sites[rng.usize(..sites.len())];
            let c = mt_map::lonlat_to_merc(s.lon_deg, s.lat_deg);
            geo::Coord {
                x: c.x + (rng.f64() - 0.5) * 10.0,
                y: c.y + (rng.f64() - 0.5) * 10.0,
            }
        })
        .collect();
    let time_each = |f: &mut dyn FnMut(geo::Coord) -> Option<usize>| -> (f64, usize) {
        let t = Instant::now();
        let mut found = 0;
        for c in &clicks {
            found += f(*c).is_some() as usize;
        }
        (t.elapsed().as_secs_f64() * 1e6 / clicks.len() as f64, found)
    };
    let (rstar_us, found_a) = time_each(&mut |c| index.hit(c, 12.0));
    let (linear_us, found_b) = time_each(&mut |c| mt_map::sites::hit_linear(&sites, c, 12.0));
    if found_a != found_b {
        bail!("hit-test disagreement: R*-tree {found_a}, linear {found_b}");
    }

    // Coverage.
    let roads = data.roads();
    let wards = data.wards();
    let timed = |f: &dyn Fn() -> coverage::Coverage| {
        let mut best = f64::MAX;
        let mut out = None;
        for _ in 0..3 {
            let t = Instant::now();
            out = Some(f());
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        (best, out.expect("ran"))
    };
    let (ring_ms, ring) = timed(&|| coverage::compute(&roads, &sites, &wards, |_| true));
    let (grid_ms, gridc) = timed(&|| coverage::compute(&grid, &sites, &wards, |_| true));
    let (grid_bf_ms, grid_bf) = timed(&|| coverage::compute_brute_force(&grid, &sites, &wards));
    if (gridc.covered_m - grid_bf.covered_m).abs() > 1e-6 * gridc.total_m.max(1.0) {
        bail!(
            "coverage disagreement: indexed {} m, brute force {} m",
            gridc.covered_m,
            grid_bf.covered_m
        );
    }

    // Frame preparation.
    let ctx = egui::Context::default();
    mt_ui::install_fonts(&ctx);
    let tr = mt_ui::Tr::new(mt_ui::Lang::Vi);
    let data = std::sync::Arc::new(data);
    let mut map_ui = mt_ui::map::MapUi::new(data.clone(), Vec::new(), sites.clone());
    let size = egui::vec2(1600.0, 1000.0);
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
        ..Default::default()
    };
    let by_id = std::collections::HashMap::new();
    let frame = |ctx: &egui::Context, map_ui: &mut mt_ui::map::MapUi, draw_map: bool| -> f64 {
        let t = thread_cpu_secs();
        let out = ctx.run_ui(input(), |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                if draw_map {
                    let live = mt_ui::map::LiveCameras {
                        cameras: &[],
                        by_id: &by_id,
                        ptz_pan: &Default::default(),
                        second_open: false,
                    };
                    let mut wanted = std::collections::HashSet::new();
                    let mut cmds = Vec::new();
                    map_ui.ui(
                        ui,
                        &tr,
                        &live,
                        None,
                        None,
                        &|c: &str| c.to_owned(),
                        &mut wanted,
                        &mut cmds,
                    );
                } else {
                    ui.label("Mắt Thần");
                }
            });
        });
        let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
        let mut deltas = out.textures_delta;
        deltas.clear();
        (thread_cpu_secs() - t) * 1e3
    };
    for _ in 0..3 {
        frame(&ctx, &mut map_ui, true);
        frame(&ctx, &mut map_ui, false);
    }
    let fit = map_ui.view.expect("first frame sets the view");
    let mut rows = Vec::new();
    for (label, mpp) in [
        ("whole district", fit.mpp),
        ("ward (3 m/pt)", 3.0),
        ("street (0.5 m/pt)", 0.5),
    ] {
        map_ui.view = Some(mt_map::View {
            center: fit.center,
            mpp,
        });
        let first = frame(&ctx, &mut map_ui, true);
        let mut empty = Vec::new();
        let mut full = Vec::new();
        for i in 0..200 {
            if let Some(v) = map_ui.view.as_mut() {
                // Pan a little each frame: the cached base mesh is translated, not rebuilt.
                v.pan(if i % 2 == 0 { 1.0 } else { -1.0 }, 0.0);
            }
            full.push(frame(&ctx, &mut map_ui, true));
            empty.push(frame(&ctx, &mut map_ui, false));
        }
        full.sort_by(f64::total_cmp);
        empty.sort_by(f64::total_cmp);
        let p = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        rows.push((label, first, p(&full, 0.5), p(&full, 0.99), p(&empty, 0.5)));
    }
    println!(
        "map data: {} layers loaded in {load_ms:.1} ms; {n} generated cameras inside the district",
        data.layers.len()
    );
    println!();
    println!("| map frame (1600×1000, {n} cameras) | first frame (builds cache) ms | p50 ms | p99 ms | empty frame p50 ms | ratio p50 |");
    println!("|---|---|---|---|---|---|");
    for (label, first, p50, p99, e50) in &rows {
        println!(
            "| {label} | {first:.2} | {p50:.2} | {p99:.2} | {e50:.2} | {:.1} |",
            p50 / e50.max(1e-6)
        );
    }
    println!();
    println!("| hit-test ({n} cameras, 20,000 clicks) | µs per click | ratio to linear scan |");
    println!("|---|---|---|");
    println!("| R*-tree | {rstar_us:.2} | {:.3} |", rstar_us / linear_us);
    println!("| linear scan (baseline) | {linear_us:.2} | 1 |");
    println!();
    println!(
        "| coverage ({n} cameras) | road km | covered | ms (best of 3) | ratio to brute force |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| Ring Road 3 (OSM) | {:.2} | {:.1} % | {ring_ms:.2} | |",
        ring.total_m / 1000.0,
        ring.share() * 100.0
    );
    println!(
        "| 150 m street grid, indexed | {grid_km:.0} | {:.1} % | {grid_ms:.1} | {:.3} |",
        gridc.share() * 100.0,
        grid_ms / grid_bf_ms
    );
    println!("| 150 m street grid, brute force (baseline) | {grid_km:.0} | {:.1} % | {grid_bf_ms:.1} | 1 |", grid_bf.share() * 100.0);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// The clip's access units, each with whether it is a keyframe (holds an IDR slice).
fn keyed_access_units(b: &[u8]) -> Vec<(Vec<u8>, bool)> {
    access_units(b)
        .into_iter()
        .map(|au| {
            let key = au
                .windows(4)
                .any(|x| x[0] == 0 && x[1] == 0 && x[2] == 1 && (x[3] & 0x1f) == 5);
            (au.to_vec(), key)
        })
        .collect()
}

/// Writes `secs` of a camera's recording (15 fps, one-minute segments) as the recorder would,
/// faster than real time, and indexes it.
fn synth_recording(
    dir: &std::path::Path,
    index: &mt_record::Index,
    camera: &str,
    start_ms: i64,
    secs: u64,
    aus: &[(Vec<u8>, bool)],
) -> anyhow::Result<()> {
    let cam_dir = dir.join(camera);
    std::fs::create_dir_all(&cam_dir)?;
    let frames = secs * 15;
    let mut w: Option<mt_record::mp4::SegmentWriter> = None;
    let finish = |w: mt_record::mp4::SegmentWriter| -> anyhow::Result<()> {
        let partial = w.path.clone();
        let w = w.finish()?;
        let done = partial.with_extension("");
        std::fs::rename(&partial, &done)?;
        let bytes = std::fs::metadata(&done)?.len();
        index.insert(&mt_record::Segment {
            id: 0,
            camera_id: camera.to_owned(),
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            frames: w.frames,
            bytes: bytes as i64,
            file: done.strip_prefix(dir)?.display().to_string(),
            sha256: mt_record::recorder::sha256_file(&done)?,
            run_start_ms: start_ms,
            codec: "H.264".into(),
            width: 640,
            height: 360,
            ..Default::default()
        })?;
        Ok(())
    };
    for i in 0..frames {
        let (au, key) = &aus[(i as usize) % aus.len()];
        let p = mt_capture::RecPacket {
            data: au.clone(),
            keyframe: *key,
            codec: mt_capture::decode::Codec::H264,
            pts_90k: i as i64 * 6000,
            wall_us: (start_ms + i as i64 * 1000 / 15) * 1000,
            session: 1,
            width: 640,
            height: 360,
            new_parameters: false,
            loss: 0,
            jumped: false,
            clock_step_us: None,
        };
        if *key && w.as_ref().is_some_and(|w| w.elapsed_s() >= 60.0) {
            finish(w.take().expect("checked"))?;
        }
        match w.as_mut() {
            Some(w) => w.push(p)?,
            None => {
                let path = cam_dir.join(format!("{}.mp4.partial", p.wall_us / 1000));
                w = Some(mt_record::mp4::SegmentWriter::create(
                    &path,
                    p,
                    Some(start_ms),
                )?);
            }
        }
    }
    if let Some(w) = w {
        finish(w)?;
    }
    Ok(())
}

/// `matthan bench-evidence`: export of 4 cameras × N minutes against `cp` + `sha256sum` of the
/// same bytes, and seeking in a one-hour recording, both in this run.
pub fn evidence(minutes: u64, seeks: usize) -> anyhow::Result<()> {
    let root = std::env::temp_dir().join(format!("matthan-bench-evidence-{}", std::process::id()));
    let rec = root.join("rec");
    std::fs::create_dir_all(&rec)?;
    let clip = crate::assets_dir().join("clips/scene1-main.h264");
    let aus =
        keyed_access_units(&std::fs::read(&clip).with_context(|| clip.display().to_string())?);
    let index = mt_record::Index::open(&rec.join("index.db"))?;
    let t0 = mt_record::now_ms() - 2 * 3_600_000;
    let t = Instant::now();
    let cams: Vec<String> = (1..=4).map(|k| format!("cam-{k}")).collect();
    for c in &cams {
        synth_recording(&rec, &index, c, t0, minutes * 60, &aus)?;
    }
    synth_recording(&rec, &index, "hour", t0, 3600, &aus)?;
    let synth_s = t.elapsed().as_secs_f64();
    let segs: Vec<mt_record::Segment> = index
        .all()?
        .into_iter()
        .filter(|s| s.camera_id != "hour")
        .collect();
    let bytes: i64 = segs.iter().map(|s| s.bytes).sum();
    let index = std::sync::Arc::new(parking_lot::Mutex::new(index));
    let key = ed25519_dalek_key();
    let req = mt_record::export::ExportRequest {
        cameras: cams.clone(),
        from_ms: t0,
        to_ms: t0 + minutes as i64 * 60_000,
        operator: "bench".into(),
        workstation: "bench".into(),
        ..Default::default()
    };
    let _ = (&req, &key);
    // The export runs as `matthan export` in a child process, so its peak resident memory is
    // the exporting process's own (wait4's ru_maxrss), as an officer's shell would run it.
    let db = root.join("log.db");
    let mut log = mt_store::Db::open(&db)?;
    if log.operator_count()? == 0 {
        log.add_operator(None, "bench", "Bench", mt_store::Role::Supervisor, "246802")?;
    }
    drop(log);
    let exe = std::env::current_exe()?;
    let mut export_s = Vec::new();
    let mut export_rss_mb = Vec::new();
    let mut base_s = Vec::new();
    for run in 0..3 {
        let out = root.join(format!("export-{run}.zip"));
        let t = Instant::now();
        let child = Command::new(&exe)
            .arg("export")
            .arg("--cameras-ids")
            .arg(cams.join(","))
            .arg("--from-ms")
            .arg(t0.to_string())
            .arg("--to-ms")
            .arg((t0 + minutes as i64 * 60_000).to_string())
            .args(["--operator", "bench", "--out"])
            .arg(&out)
            .arg("--db")
            .arg(&db)
            .arg("--rec-dir")
            .arg(&rec)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let (ok, maxrss_kb) = wait_with_rusage(child.id())?;
        export_s.push(t.elapsed().as_secs_f64());
        export_rss_mb.push(maxrss_kb as f64 / 1024.0);
        if !ok {
            bail!("matthan export failed");
        }
        let own = mt_record::keys::load(&mt_record::keys::key_path(&db))?
            .context("the export made the workstation key")?;
        let rep = mt_record::verify::verify_trusting(&out, &[*own.verifying_key().as_bytes()]);
        if !rep.ok() {
            bail!("export did not verify: {:?}", rep.problems);
        }
        std::fs::remove_file(&out)?;
        // Baseline: copy the same segment files and hash the copies.
        let copy = root.join(format!("copy-{run}"));
        std::fs::create_dir_all(&copy)?;
        let dirs: Vec<std::path::PathBuf> = cams.iter().map(|c| rec.join(c)).collect();
        let t = Instant::now();
        let st = Command::new("cp")
            .arg("-r")
            .args(&dirs)
            .arg(&copy)
            .status()?;
        let copies: Vec<std::path::PathBuf> = std::fs::read_dir(&copy)?
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .map(|e| e.path())
            .collect();
        let st2 = Command::new("sha256sum")
            .args(&copies)
            .stdout(std::process::Stdio::null())
            .status()?;
        base_s.push(t.elapsed().as_secs_f64());
        if !st.success() || !st2.success() {
            bail!("cp / sha256sum failed");
        }
        std::fs::remove_dir_all(&copy)?;
    }
    export_s.sort_by(f64::total_cmp);
    base_s.sort_by(f64::total_cmp);
    export_rss_mb.sort_by(f64::total_cmp);
    // Seeks in the one-hour recording.
    let mut player = mt_record::player::RecordingPlayer::new("hour", &rec, index.clone());
    let mut rng = fastrand::Rng::with_seed(11);
    let mut lat = Vec::with_capacity(seeks);
    for _ in 0..seeks {
        let target = t0 + rng.i64(0..3_600_000);
        let t = Instant::now();
        let Some(shown) = player.show(target)? else {
            let segs = index.lock().segments("hour", target - 1_000, target)?;
            bail!(
                "no frame at {target} (t0 {t0}, +{} ms): segments {segs:?}",
                target - t0
            );
        };
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        let _ = shown;
    }
    lat.sort_by(f64::total_cmp);
    let p = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!("synthetic recordings written in {synth_s:.1} s (4 × {minutes} min + 1 h, 15 fps 640×360 H.264)");
    println!();
    println!(
        "| export 4 cameras × {minutes} min ({:.0} MB) | median s | ratio |",
        bytes as f64 / 1e6
    );
    println!("|---|---|---|");
    println!(
        "| `cp` + `sha256sum` of the same segment files (baseline) | {:.2} | 1 |",
        base_s[1]
    );
    println!(
        "| `matthan export`: signed archive (cut, stream, hash, zip, sign, fsync, audit) | {:.2} | {:.2} |",
        export_s[1],
        export_s[1] / base_s[1]
    );
    println!();
    println!(
        "peak RSS of the exporting process (median of 3, max): {:.0} MB, {:.0} MB",
        export_rss_mb[1], export_rss_mb[2]
    );
    println!();
    println!(
        "| seek in a one-hour recording ({seeks} random targets) | p50 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|");
    println!(
        "| open segment + seek + decode to the target frame | {:.1} | {:.1} | {:.1} |",
        p(&lat, 0.5),
        p(&lat, 0.99),
        lat[lat.len() - 1]
    );
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// Waits for child `pid`; returns whether it exited 0 and its peak resident set (KiB).
fn wait_with_rusage(pid: u32) -> anyhow::Result<(bool, i64)> {
    let mut status = 0;
    // SAFETY: rusage is plain data filled by wait4 for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut ru) };
    if r < 0 {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    Ok((
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        ru.ru_maxrss,
    ))
}

fn ed25519_dalek_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[42u8; 32])
}
