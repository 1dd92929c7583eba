//! Region search over footage recorded by the real recorder from a simulated camera playing a
//! clip with known events (made here, frame by frame): an object moving through the region,
//! one outside it, a brightness ramp, a headlight sweep, sensor and compression noise. The
//! true times come from the RTSP server's send log (the wall time each frame's PTS stands
//! for), not from the app.

use std::io::Write;

use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use mt_record::motion::Region;
use mt_record::search::{search, Event, Hit, Query, Source};
use mt_record::Index;
use parking_lot::Mutex;
use serde_json::json;

use crate::timeline::rig;
use crate::util::cannot_run;

const W: usize = 640;
const H: usize = 360;
const FPS: usize = 25;
/// Clip frames (28 s).
const LEN: u64 = 700;
/// The event in the region: an object moves through it in these frames.
const EVENT: (u64, u64) = (150, 250);
/// Things that must not be found in the region: an object elsewhere, a brightness ramp,
/// a headlight sweep (clip frames).
const DECOYS: [(u64, u64); 3] = [(300, 350), (375, 450), (475, 550)];
pub const REGION: &str = "0.5,0.2,0.45,0.4";

/// Luma of clip frame `n`: a blocky texture, noise, and the events.
fn frame(n: u64, bg: &[u8], rng: &mut u32) -> Vec<u8> {
    let t = n as f32 / FPS as f32;
    // Auto exposure: gain and offset ramp up and back down over 15–18 s.
    let ramp = if (375..450).contains(&n) {
        let k = (n - 375) as f32 / 75.0;
        1.0 - (2.0 * k - 1.0).abs()
    } else {
        0.0
    };
    let (gain, offset) = (1.0 + 0.3 * ramp, 10.0 * ramp);
    // A headlight sweep (19–22 s): a soft additive blob crossing the picture.
    let light = (475..550)
        .contains(&n)
        .then(|| -100.0 + 840.0 * (n - 475) as f32 / 75.0);
    let mut y = vec![0u8; W * H];
    for j in 0..H {
        for i in 0..W {
            *rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((*rng >> 24) as f32 / 255.0 - 0.5) * 8.0;
            let mut v = bg[j * W + i] as f32 * gain + offset + noise;
            if let Some(cx) = light {
                let (dx, dy) = (i as f32 - cx, j as f32 - 180.0);
                v += 70.0 * (-(dx * dx + dy * dy) / (2.0 * 120.0 * 120.0)).exp();
            }
            y[j * W + i] = v.clamp(0.0, 255.0) as u8;
        }
    }
    // An object with a texture of its own (6-pixel blocks, dark to bright).
    let mut object = |x0: usize, y0: usize| {
        for j in y0..y0 + 48 {
            for i in x0..x0 + 48 {
                let b = (((i - x0) / 6) * 31 + ((j - y0) / 6) * 17) as u32;
                let h = b.wrapping_mul(2_654_435_761) >> 24;
                y[j * W + i] = 20 + (h % 216) as u8;
            }
        }
    };
    if (EVENT.0..EVENT.1).contains(&n) {
        // Through the region (x 320–608, y 72–216) from left to right.
        let k = (n - EVENT.0) as f32 / (EVENT.1 - EVENT.0) as f32;
        object(335 + (220.0 * k) as usize, 110);
    }
    if (DECOYS[0].0..DECOYS[0].1).contains(&n) {
        let k = (n - DECOYS[0].0) as f32 / 50.0;
        object(40 + (150.0 * k) as usize, 250);
    }
    let _ = t;
    y
}

/// Writes the clip (H.264 Annex B with AUDs, GOP 1 s, B-frames) into `dir`.
pub fn event_clip(dir: &Path) -> Option<PathBuf> {
    let out = dir.join("events.h264");
    let mut child = match Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p"])
        .args(["-s", &format!("{W}x{H}"), "-r", &FPS.to_string(), "-i", "-"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "2",
        ])
        .args(["-b:v", "900k", "-x264-params", "aud=1:scenecut=0"])
        .arg(&out)
        .stdin(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            cannot_run(&format!("ffmpeg: {e}"));
            return None;
        }
    };
    let mut seed = 99u32;
    let bg: Vec<u8> = {
        let blocks: Vec<u8> = (0..(W / 16) * (H / 16 + 1))
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                40 + ((seed >> 16) % 130) as u8
            })
            .collect();
        (0..W * H)
            .map(|p| blocks[(p / W / 16) * (W / 16) + (p % W) / 16])
            .collect()
    };
    let chroma = vec![128u8; W * H / 2];
    let mut stdin = child.stdin.take().unwrap();
    let mut rng = 5u32;
    for n in 0..LEN {
        stdin.write_all(&frame(n, &bg, &mut rng)).unwrap();
        stdin.write_all(&chroma).unwrap();
    }
    drop(stdin);
    assert!(
        child.wait().unwrap().success(),
        "ffmpeg encodes the event clip"
    );
    Some(out)
}

/// Wall-clock spans (ms) of clip frames [a, b) in every loop the server sent.
fn spans(sent: &[mt_capture::sim::SentFrame], (a, b): (u64, u64)) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let loops = sent.iter().map(|f| f.n / LEN).max().unwrap_or(0);
    for l in 0..=loops {
        let at = |i: u64| {
            sent.iter()
                .find(|f| f.n == l * LEN + i)
                .map(|f| f.cap_us / 1000)
        };
        // An event still going on when the log was read lasts (at least) to its last frame.
        let last = sent
            .iter()
            .filter(|f| f.n / LEN == l)
            .map(|f| f.cap_us / 1000)
            .max();
        match (at(a), at(b - 1), last) {
            (Some(s), Some(e), _) => out.push((s, e + 40)),
            (Some(s), None, Some(e)) => out.push((s, e + 40)),
            _ => {}
        }
    }
    out
}

fn run(q: &Query, index: &Mutex<Index>, dir: &Path) -> (Vec<Hit>, Vec<Event>) {
    let mut hits = Vec::new();
    let mut other = Vec::new();
    search(
        q,
        &Source::Recording { index, dir },
        &AtomicBool::new(false),
        &mut |e| match e {
            Event::Hit(h) => hits.push(h),
            Event::Progress { .. } => {}
            e => other.push(e),
        },
    )
    .expect("the search runs");
    (hits, other)
}

#[test]
fn region_search_finds_the_event_not_the_light_and_reports_the_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(clip) = event_clip(tmp.path()) else {
        return;
    };
    let rec = tmp.path().join("rec");
    let mut r = rig(
        Some(&rec),
        10.0,
        &[(
            "/events/main",
            json!({"source": "clip", "file": clip.display().to_string(), "fps": 25}),
        )],
        "",
    );
    // One whole loop and a bit, then the camera sends nothing for 5 s, then 6 s more.
    std::thread::sleep(Duration::from_secs(31));
    let outage_at = mt_record::now_ms();
    r.sim.command("outage /events/main 5 stop").unwrap();
    std::thread::sleep(Duration::from_secs(11));
    let sent = r.sim.sent();
    r.rec.take().unwrap().stop();
    drop(r);

    let index = Mutex::new(Index::open(&rec.join("index.db")).unwrap());
    let segs = index.lock().all().unwrap();
    let (from, to) = (
        segs.iter().map(|s| s.start_ms).min().unwrap(),
        segs.iter().map(|s| s.end_ms).max().unwrap(),
    );
    let rows = index.lock().motion_rows("c1", from, to).unwrap();
    assert_eq!(rows.len(), segs.len(), "every segment has its motion row");
    let tl = index.lock().timeline("c1", from, to, None).unwrap();
    let recorded = |a: i64, b: i64| {
        tl.runs
            .iter()
            .any(|r| r.start_ms <= a - 1_500 && b + 1_500 <= r.end_ms)
    };
    let touched = |a: i64, b: i64| tl.runs.iter().any(|r| r.start_ms < b && a < r.end_ms);

    let events = spans(&sent, EVENT);
    let expected: Vec<_> = events.iter().filter(|e| recorded(e.0, e.1)).collect();
    assert!(
        !expected.is_empty(),
        "a whole event was recorded: {events:?} runs {:?}",
        tl.runs
            .iter()
            .map(|r| (r.start_ms, r.end_ms))
            .collect::<Vec<_>>()
    );
    let decoys: Vec<_> = DECOYS.iter().flat_map(|d| spans(&sent, *d)).collect();

    let q = Query {
        camera: "c1".into(),
        region: Region::parse_rect(REGION).unwrap(),
        from_ms: from,
        to_ms: to,
        sensitivity: 0.5,
        deep: false,
        confirm: true,
    };
    let (hits, other) = run(&q, &index, &rec);
    let show = |h: &[Hit]| {
        h.iter()
            .map(|h| (h.start_ms - from, h.end_ms - from, h.score))
            .collect::<Vec<_>>()
    };
    eprintln!(
        "events {:?} decoys {:?} hits {:?}",
        events
            .iter()
            .map(|e| (e.0 - from, e.1 - from))
            .collect::<Vec<_>>(),
        decoys
            .iter()
            .map(|e| (e.0 - from, e.1 - from))
            .collect::<Vec<_>>(),
        show(&hits)
    );
    for e in &expected {
        let found = hits
            .iter()
            .find(|h| (h.start_ms - e.0).abs() <= 1_000 && (h.end_ms - e.1).abs() <= 1_000);
        assert!(
            found.is_some(),
            "event {:?} found within ±1 s; hits {:?}",
            (e.0 - from, e.1 - from),
            show(&hits)
        );
        assert!(found.unwrap().thumb.is_some(), "a hit has a thumbnail");
        assert_eq!(
            found.unwrap().exit_x(),
            Some(1.0),
            "the object moved to the right: {:?}",
            found.unwrap().path_x
        );
    }
    for h in &hits {
        assert!(
            events
                .iter()
                .any(|e| touched(e.0, e.1) && h.start_ms < e.1 + 1_000 && e.0 - 1_000 < h.end_ms),
            "hit {:?} is the event, not light, noise or the object outside the region",
            (h.start_ms - from, h.end_ms - from)
        );
    }
    // The outage is a gap, with its reason; nothing is reported inside it.
    let gaps: Vec<_> = other
        .iter()
        .filter_map(|e| if let Event::Gap(g) = e { Some(g) } else { None })
        .collect();
    let gap = gaps
        .iter()
        .find(|g| g.from_ms < outage_at + 3_000 && g.to_ms > outage_at + 2_000)
        .unwrap_or_else(|| panic!("the outage is a gap: {gaps:?}"));
    assert!(hits
        .iter()
        .all(|h| h.end_ms < gap.from_ms || h.start_ms > gap.to_ms));
    assert!(
        !other.iter().any(|e| matches!(e, Event::Unindexed { .. })),
        "all footage was indexed"
    );

    // The index alone (no decoding): its candidate windows cover the event and none touches
    // the light changes or the noise — what the recorder stored, not what confirmation fixed.
    let (windows, _) = run(
        &Query {
            confirm: false,
            ..q.clone()
        },
        &index,
        &rec,
    );
    for e in &expected {
        assert!(
            windows
                .iter()
                .any(|w| w.start_ms <= e.0 && e.1 <= w.end_ms + 1_000),
            "index window over {:?}",
            (e.0 - from, e.1 - from)
        );
    }
    for d in decoys.iter().skip(1) {
        assert!(
            !windows
                .iter()
                .any(|w| w.start_ms < d.1 - 500 && d.0 + 500 < w.end_ms),
            "no index window over the light change {:?}: {:?}",
            (d.0 - from, d.1 - from),
            show(&windows)
        );
    }
    // A deep scan of the same footage (keyframes decoded, no index) agrees.
    let (deep, other_deep) = run(
        &Query {
            deep: true,
            ..q.clone()
        },
        &index,
        &rec,
    );
    assert!(other_deep
        .iter()
        .any(|e| matches!(e, Event::Unindexed { .. })));
    assert_eq!(
        deep.len(),
        hits.len(),
        "deep {:?} index {:?}",
        show(&deep),
        show(&hits)
    );
    for (d, h) in deep.iter().zip(&hits) {
        assert!(
            (d.start_ms - h.start_ms).abs() <= 300 && (d.end_ms - h.end_ms).abs() <= 300,
            "deep {:?} index {:?}",
            show(&deep),
            show(&hits)
        );
    }

    // A region where only the other object moved: it is found there, and only there.
    let (left, _) = run(
        &Query {
            region: Region::parse_rect("0.0,0.6,0.45,0.3").unwrap(),
            ..q.clone()
        },
        &index,
        &rec,
    );
    let outside = spans(&sent, DECOYS[0]);
    assert!(
        !left.is_empty(),
        "the object outside the first region is found in its own"
    );
    for h in &left {
        assert!(
            outside
                .iter()
                .any(|e| h.start_ms < e.1 + 1_000 && e.0 - 1_000 < h.end_ms),
            "left hit {:?}",
            (h.start_ms - from, h.end_ms - from)
        );
    }

    // The same from the shell: one JSON line per hit and per gap, exit 0.
    let out = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .args(["search", "--camera", "c1", "--region", REGION, "--rec-dir"])
        .arg(&rec)
        .args(["--from", &from.to_string(), "--to", &to.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cli_hits: Vec<_> = lines.iter().filter(|l| l["type"] == "hit").collect();
    assert_eq!(cli_hits.len(), hits.len(), "{stdout}");
    let parse =
        |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    for (c, h) in cli_hits.iter().zip(&hits) {
        assert_eq!(c["camera"], "c1");
        let s = parse(&c["start"]);
        assert_eq!(s.offset().local_minus_utc(), 7 * 3600, "Vietnam time");
        assert_eq!(s.timestamp_millis(), h.start_ms);
        assert_eq!(parse(&c["end"]).timestamp_millis(), h.end_ms);
    }
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "gap" && parse(&l["start"]).timestamp_millis() == gap.from_ms),
        "{stdout}"
    );
    // A region outside the picture is refused, naming it.
    let bad = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .args([
            "search",
            "--camera",
            "c1",
            "--region",
            "0.8,0.1,0.5,0.2",
            "--rec-dir",
        ])
        .arg(&rec)
        .args(["--from", "now-1h"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("0.8,0.1,0.5,0.2") && err.contains("outside the picture"),
        "{err}"
    );
}

/// In the workstation: open the motion search in playback, drag a region over the tile's
/// picture, search, see the hit in the list and on the timeline, N jumps to it, B bookmarks
/// it with the region drawn on the still; the search is audited.
#[test]
fn draw_a_region_on_a_tile_search_jump_to_the_hit_and_bookmark_it() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(clip) = event_clip(tmp.path()) else {
        return;
    };
    let rec_dir = tmp.path().join("rec");
    let mut r = rig(
        Some(&rec_dir),
        4.0,
        &[(
            "/events/main",
            json!({"source": "clip", "file": clip.display().to_string(), "fps": 25}),
        )],
        "",
    );
    std::thread::sleep(Duration::from_secs(14));
    let sent = r.sim.sent();
    let rec = r.rec.take().unwrap();
    let first = rec
        .index()
        .lock()
        .all()
        .unwrap()
        .iter()
        .map(|s| s.start_ms)
        .min()
        .expect("segments");
    let event = spans(&sent, EVENT)
        .into_iter()
        .find(|e| e.0 > first + 1_500)
        .expect("the event was recorded");
    let (db, mut h) =
        crate::timeline::playback_harness(tmp.path(), std::mem::take(&mut r.cams), rec);
    h.state_mut().playback.as_mut().unwrap().seek(first + 2_000);
    crate::timeline::wait_recorded_picture(&mut h, "c1", Duration::from_secs(8));
    h.get_by_label("Tìm chuyển động").click();
    h.run_steps(3);
    // Drag the region (the same fractions as REGION) over the picture.
    let pic = h.get_by_label("region c1").rect();
    let at =
        |fx: f32, fy: f32| egui::pos2(pic.left() + fx * pic.width(), pic.top() + fy * pic.height());
    h.hover_at(at(0.5, 0.2));
    h.run_steps(1);
    h.drag_at(at(0.5, 0.2));
    h.run_steps(1);
    for k in 1..=5 {
        let f = k as f32 / 5.0;
        h.hover_at(at(0.5 + 0.45 * f, 0.2 + 0.4 * f));
        h.run_steps(1);
    }
    h.drop_at(at(0.95, 0.6));
    h.run_steps(3);
    let region = h
        .state()
        .region_search
        .region
        .clone()
        .expect("the drag drew a region");
    let want = Region::parse_rect(REGION).unwrap();
    assert!(
        region
            .outline
            .iter()
            .zip(&want.outline)
            .all(|(a, b)| (a[0] - b[0]).abs() < 0.02 && (a[1] - b[1]).abs() < 0.02),
        "region {:?}",
        region.outline
    );
    let yellow_in_timeline = |h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>| -> usize {
        let img = h.render().expect("render");
        let top = (img.height() as f32 * 0.75) as u32;
        img.enumerate_pixels()
            .filter(|(_, y, p)| *y > top && p[0] > 235 && (185..215).contains(&p[1]) && p[2] < 70)
            .count()
    };
    h.get_by_label("10'").click();
    h.run_steps(3);
    let before = yellow_in_timeline(&mut h);
    h.get_by_label("Như dòng thời gian").click();
    h.run_steps(1);
    h.get_by_label("Tìm").click();
    h.run_steps(2);
    crate::util::wait_for(Duration::from_secs(60), || {
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
        (!h.state().region_search.running()).then_some(())
    })
    .expect("the search finishes");
    h.run_steps(3);
    let hits: Vec<Hit> = h
        .state()
        .region_search
        .hits
        .iter()
        .map(|r| r.hit.clone())
        .collect();
    let hit = hits
        .iter()
        // Recorded in 4 s segments, the 4 s event crosses a segment boundary: still one hit,
        // start and end within a second.
        .find(|x| (x.start_ms - event.0).abs() <= 1_000 && (x.end_ms - event.1).abs() <= 1_000)
        .unwrap_or_else(|| {
            panic!(
                "the event {:?} is in the list: {:?}",
                (event.0 - first, event.1 - first),
                hits.iter()
                    .map(|x| (x.start_ms - first, x.end_ms - first))
                    .collect::<Vec<_>>()
            )
        })
        .clone();
    assert!(
        h.query_by_label_contains("hit ").is_some(),
        "the hit is listed"
    );
    if std::env::var_os("MATTHAN_SHOT").is_some() {
        h.render().unwrap().save("/tmp/search-kittest.png").unwrap();
    }
    assert!(
        yellow_in_timeline(&mut h) > before + 10,
        "the hit is drawn on the timeline"
    );
    // N: to the first hit, a few seconds before it, playing; the tile shows that footage.
    h.state_mut().playback.as_mut().unwrap().seek(first);
    h.run_steps(2);
    h.key_press(egui::Key::N);
    h.run_steps(1);
    let first_hit = hits[0].clone();
    let clock = h.state().playback.as_ref().unwrap().clock_ms;
    assert!(
        (clock - (first_hit.start_ms - 3_000)).abs() < 1_000,
        "N goes to 3 s before the hit: {clock} vs {}",
        first_hit.start_ms
    );
    // Pause inside the hit and bookmark it: B keeps the region on the still.
    let pb = h.state_mut().playback.as_mut().unwrap();
    pb.playing = false;
    h.state_mut().region_search.current = hits.iter().position(|x| x.start_ms == hit.start_ms);
    h.state_mut()
        .playback
        .as_mut()
        .unwrap()
        .seek(hit.start_ms + 500);
    crate::timeline::wait_recorded_picture(&mut h, "c1", Duration::from_secs(8));
    h.key_press(egui::Key::B);
    h.run_steps(3);
    let draft = h
        .state()
        .log
        .as_ref()
        .unwrap()
        .bookmark_prompt
        .clone()
        .expect("B opens the bookmark prompt");
    assert_eq!(draft.camera_id, "c1");
    assert!(
        draft.note.contains("Chuyển động trong vùng"),
        "note {:?}",
        draft.note
    );
    let f = draft.frame.clone().expect("a still");
    // The outline's top edge at y = 0.2: yellow in the still (U low, V high), not elsewhere.
    let (cw, _) = f.chroma_size();
    let row = ((0.2 * (f.height - 1) as f32) as usize) / 2;
    let col = ((0.7 * (f.width - 1) as f32) as usize) / 2;
    assert!(
        f.u[row * cw as usize + col] < 40 && f.v[row * cw as usize + col] > 130,
        "the region is drawn on the still"
    );
    assert!(
        (120..136).contains(&f.u[(row + 20) * cw as usize + col]),
        "only the outline is coloured"
    );
    h.key_press(egui::Key::Enter);
    crate::ui::settle(&mut h);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let note: String = conn
        .query_row("SELECT note FROM bookmark", [], |r| r.get(0))
        .unwrap();
    assert!(note.contains("Chuyển động trong vùng"));
    let audited: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action = 'search' AND operator_id = 'gs01'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 1, "the search is audited");
}

/// Trace from the map: of three recorded cameras around a point, the two whose fields of view
/// cover it open on the wall, nearest first, in playback at the trace's time — both tiles show
/// pictures captured at that time (read from the QR code in them) — and a motion search near
/// the point runs in both.
#[test]
fn trace_opens_the_cameras_that_see_the_point_in_synced_playback_and_searches_near_it() {
    use mt_map::{lonlat_to_merc, merc_to_lonlat};
    let tmp = tempfile::tempdir().unwrap();
    let rec_dir = tmp.path().join("rec");
    let live =
        |fps: u32| json!({"source": "live", "width": 640, "height": 360, "fps": fps, "gop": fps});
    let mut r = rig(
        Some(&rec_dir),
        60.0,
        &[("/t/a", live(25)), ("/t/b", live(15)), ("/t/c", live(25))],
        "",
    );
    std::thread::sleep(Duration::from_secs(8));
    // The point, and the cameras around it (metres east, north; heading; angle; range).
    let p = lonlat_to_merc(105.7875, 21.0712);
    let k = mt_map::proj::ground_scale(p.y);
    let place = [
        (-30.0, 10.0, 90.0, 90.0, 60.0),
        (20.0, -20.0, 315.0, 60.0, 50.0),
        (0.0, 40.0, 0.0, 60.0, 50.0),
    ];
    let mut cams = std::mem::take(&mut r.cams);
    for (h, (x, y, heading, fov, range)) in cams.iter_mut().zip(place) {
        let (lon, lat) = merc_to_lonlat(geo::Coord {
            x: p.x + x / k,
            y: p.y + y / k,
        });
        let c = std::sync::Arc::make_mut(&mut h.config);
        c.lat_deg = lat;
        c.lon_deg = lon;
        c.heading_deg = heading;
        c.fov_deg = fov;
        c.range_m = range;
    }
    let sites: Vec<mt_core::CameraSite> = cams
        .iter()
        .map(|h| mt_core::CameraSite::from_config(&h.config))
        .collect();
    let rec = r.rec.take().unwrap();
    let start = mt_record::recorder::open_segment(&rec_dir, "c1")
        .map(|o| o.1)
        .expect("recording under way");
    let (data, errors) =
        mt_map::MapData::load(&crate::util::assets().join("map/map.toml")).unwrap();
    assert!(errors.is_empty());
    let map = mt_ui::map::MapUi::new(std::sync::Arc::new(data), vec![], sites);
    let (db, log) = crate::ui::supervisor_log(tmp.path());
    let mut app = mt_ui::MatThanApp::new(
        &egui::Context::default(),
        cams,
        mt_ui::WallState {
            layout: mt_ui::WallLayout::G1,
            tiles: vec![None],
            show_health: false,
            view: mt_ui::app::CentralView::Map,
            ..Default::default()
        },
        None,
        vec![],
    )
    .with_log(log)
    .with_map(map);
    app.recorder = Some(rec);
    let mut h = crate::ui::harness(app);
    crate::ui::settle(&mut h);
    crate::ui::sign_in(&mut h, "gs01", "135790");
    // The trace window, as "Truy vết từ đây" on the map opens it, at a time 4 s into the recording.
    let t = start + 4_000;
    h.state_mut().map.as_mut().unwrap().trace = Some(mt_ui::trace::TracePanel::new(p, t, None));
    h.run_steps(3);
    assert_eq!(
        h.query_all_by_label_contains("thấy điểm").count(),
        2,
        "the two cameras that see the point are listed"
    );
    h.get_by_label("Mở phát lại đồng bộ và tìm chuyển động")
        .click();
    h.run_steps(3);
    let st = &h.state().state;
    assert_eq!(st.layout, mt_ui::WallLayout::G2);
    assert_eq!(
        &st.tiles[..3],
        &[Some("c2".to_string()), Some("c1".to_string()), None],
        "nearest first; c3 faces away"
    );
    let pb_t = h
        .state()
        .playback
        .as_ref()
        .expect("playback opened")
        .clock_ms;
    assert!(
        (pb_t - t).abs() < 1_000,
        "playback at the trace's time: {pb_t} vs {t}"
    );
    // Both tiles show the pictures captured at that time.
    let stamps = crate::util::wait_for(Duration::from_secs(10), || {
        h.run_steps(1);
        let pb = h.state().playback.as_ref().unwrap();
        let s: Option<Vec<_>> = ["c2", "c1"]
            .iter()
            .map(|c| {
                pb.player(c)
                    .filter(|p| p.settled() && p.shown_ms().is_some())
                    .and_then(|p| p.shared.latest())
                    .and_then(|f| crate::util::read_stamp(&f))
            })
            .collect();
        s
    })
    .expect("both tiles show a recorded picture")
    .0;
    for s in &stamps {
        let behind = pb_t - s.t_ms();
        assert!(
            (-5..=120).contains(&behind),
            "a tile shows a picture captured {behind} ms before the playback time"
        );
    }
    assert!(h.state().region_search.open && h.state().region_search.regions.len() == 2);
    crate::util::wait_for(Duration::from_secs(60), || {
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
        (!h.state().region_search.running()).then_some(())
    })
    .expect("the trace's searches finish");
    h.run_steps(2);
    let mut searched: Vec<String> = h
        .state()
        .region_search
        .stats
        .iter()
        .map(|s| s.0.clone())
        .collect();
    searched.sort();
    assert_eq!(
        searched,
        vec!["c1".to_string(), "c2".to_string()],
        "a motion search near the point ran in both"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let traced: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action = 'trace'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(traced, 1, "the trace is audited");
}
