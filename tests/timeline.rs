//! The recording timeline against simulated cameras that behave like real ones (B-frames,
//! outages, variable frame rate, a resolution change, packet loss, 10-bit HEVC, video that
//! stops while RTCP goes on). Every assertion about time reads the QR code the simulated
//! camera burned into the picture (its capture time on the server's clock), never only what
//! the app says about itself.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use mt_capture::sim::{SimOptions, SimServer};
use mt_capture::{CameraHandle, Capture, DecodedFrame, Timeouts};
use mt_core::{LossReason, StreamState};
use mt_record::export::{export, ExportRequest, Manifest};
use mt_record::player::{ClipPlayer, Piece, RecordingPlayer};
use mt_record::{Index, RecConfig, Recorder};
use parking_lot::Mutex;
use serde_json::json;

use crate::util::{assets, camera, read_stamp, read_stamp_png, wait_for, Stamp};

/// Simulated cameras from mount specs, received (and recorded into `dir`, if given).
pub(crate) struct Rig {
    pub rec: Option<Recorder>,
    pub cams: Vec<CameraHandle>,
    _cap: Capture,
    pub sim: SimServer,
}

pub(crate) fn rig(
    dir: Option<&Path>,
    segment_secs: f64,
    mounts: &[(&str, serde_json::Value)],
    extra: &str,
) -> Rig {
    let opts = SimOptions {
        mounts: mounts
            .iter()
            .map(|(p, v)| (p.to_string(), v.clone()))
            .collect(),
        large: false,
        send_log: true,
    };
    let sim = SimServer::start_with(&assets(), 0, 1, &opts).expect("RTSP server with live mounts");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut rec = dir.map(|d| {
        let mut cfg = RecConfig::new(d.to_owned());
        cfg.segment_secs = segment_secs;
        Recorder::start(cfg).unwrap().0
    });
    let mut cams = Vec::new();
    for (k, (path, _)) in mounts.iter().enumerate() {
        let h = cap
            .start_camera(camera(&format!("c{}", k + 1), &sim.url(path), extra))
            .unwrap();
        if let Some(r) = rec.as_mut() {
            r.add(&h.config.id.0, &h.main).unwrap();
        }
        cams.push(h);
    }
    Rig {
        rec,
        cams,
        _cap: cap,
        sim,
    }
}

pub(crate) fn live(fps: u32, extra: serde_json::Value) -> serde_json::Value {
    let mut v = json!({"source": "live", "width": 640, "height": 360, "fps": fps, "bframes": 2, "gop": fps});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    v
}

/// Decoded pictures of `s` for `secs` (each once, by sequence number).
fn collect_pictures(s: &mt_capture::StreamShared, secs: f64) -> Vec<Arc<DecodedFrame>> {
    let t0 = Instant::now();
    let mut out: Vec<Arc<DecodedFrame>> = Vec::new();
    while t0.elapsed().as_secs_f64() < secs {
        if let Some(f) = s.latest() {
            if out.last().is_none_or(|l| l.seq != f.seq) {
                out.push(f);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    out
}

fn unzip_to(archive: &Path, name: &str, dir: &Path) -> PathBuf {
    let mut z = zip::ZipArchive::new(std::fs::File::open(archive).unwrap()).unwrap();
    let mut f = z.by_name(name).unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    let p = dir.join(name.replace('/', "_"));
    std::fs::write(&p, v).unwrap();
    p
}

/// Exports everything `cams` recorded into `out` and returns the manifest.
fn export_all(rec_dir: &Path, cams: &[String], out: &Path) -> Manifest {
    let index = Mutex::new(Index::open(&rec_dir.join("index.db")).unwrap());
    let all = index.lock().all().unwrap();
    let from = all
        .iter()
        .map(|s| s.start_ms)
        .min()
        .expect("something recorded");
    let to = all.iter().map(|s| s.end_ms).max().unwrap();
    let req = ExportRequest {
        cameras: cams.to_vec(),
        from_ms: from,
        to_ms: to,
        operator: "gs01".into(),
        workstation: "may-tram-1".into(),
        ..Default::default()
    };
    export(
        &index,
        rec_dir,
        &req,
        &SigningKey::from_bytes(&[8u8; 32]),
        out,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap()
    .manifest
}

/// The smallest delay between capture and sending of `mount`'s pictures, from the server's
/// send log, ms: the camera's own encoder delay, which no receiver can take back (the
/// workstation times a picture by when it arrives, or by the camera's clock when it sends
/// one; GStreamer's sender reports are stamped when sent).
fn encoder_delay_ms(sim: &SimServer, mount: &str) -> i64 {
    sim.sent()
        .iter()
        .filter(|s| s.mount == mount)
        .map(|s| (s.sent_us - s.cap_us) / 1000)
        .min()
        .unwrap_or(0)
        .max(0)
}

/// Plays `clip` (an exported file placed at `start_ms`) at times 373 ms apart and checks
/// each picture shown against its burned-in capture time: the picture claimed for time t is
/// the last one captured at or before t, within one frame interval (`frame_ms`) beyond the
/// camera's own encoder delay (`delay_ms`).
fn check_clip_times(
    path: &Path,
    start_ms: i64,
    end_ms: i64,
    frame_ms: i64,
    delay_ms: i64,
) -> usize {
    let mut p = ClipPlayer::open(path, start_ms, "check").unwrap();
    let mut checked = 0;
    let mut t = start_ms + 300;
    while t < end_ms - 300 {
        let shown = p.show(t).unwrap().expect("a picture inside the clip");
        let f = p.shared.latest().unwrap();
        if let Some(s) = read_stamp(&f) {
            // A picture is never placed before it was captured (3 ms for rounding), and at
            // most one frame beyond the camera's own encoder delay after.
            let err = shown - s.t_ms();
            assert!(
                (-3..=frame_ms + delay_ms).contains(&err),
                "{}: the picture shown for {t} claims {shown}, its code says {} ({err} ms off)",
                path.display(),
                s.t_ms()
            );
            assert!(
                t - s.t_ms() >= -3 && t - s.t_ms() <= 2 * frame_ms + delay_ms + 5,
                "the picture shown at {t} was captured at {}",
                s.t_ms()
            );
            checked += 1;
        }
        t += 373;
    }
    checked
}

#[test]
fn a_live_picture_carries_its_capture_time_within_one_frame_even_with_b_frames() {
    let r = rig(None, 60.0, &[("/live/b", live(25, json!({})))], "");
    let cam = &r.cams[0];
    cam.main.set_wanted(true);
    wait_for(Duration::from_secs(15), || {
        cam.main.state().is_live().then_some(())
    })
    .expect("live: pictures decoded");
    // Let the clock learn from the first pictures, then compare.
    std::thread::sleep(Duration::from_millis(800));
    let pics = collect_pictures(&cam.main, 3.0);
    assert!(pics.len() >= 60, "{} pictures in 3 s at 25 fps", pics.len());
    let stamps: Vec<(i64, Stamp)> = pics
        .iter()
        .filter_map(|f| read_stamp(f).map(|s| (f.time_ms, s)))
        .collect();
    assert!(
        stamps.len() * 10 >= pics.len() * 8,
        "the code is readable in most pictures: {} of {}",
        stamps.len(),
        pics.len()
    );
    for (t, s) in &stamps {
        let err = t - s.t_ms();
        assert!(
            (-2..=40).contains(&err),
            "picture {} captured at {} is placed at {t} ({err} ms off, one frame is 40 ms)",
            s.n,
            s.t_ms()
        );
    }
    // Pictures come out in presentation order even though B-frames arrive out of order.
    assert!(
        stamps.windows(2).all(|w| w[1].1.n > w[0].1.n),
        "presentation order"
    );
}

#[test]
fn a_10_bit_stream_is_reported_as_undecodable_and_never_shown_live() {
    let r = rig(
        None,
        60.0,
        &[(
            "/live/tenbit",
            json!({"source": "live", "codec": "h265", "ten_bit": true, "width": 320, "height": 180, "fps": 15, "gop": 15}),
        )],
        "",
    );
    let cam = &r.cams[0];
    cam.main.set_wanted(true);
    let (detail, _) = wait_for(Duration::from_secs(15), || match cam.main.state() {
        StreamState::Undecodable { reason, detail } => {
            assert_eq!(reason, mt_core::UndecodableReason::Format);
            Some(detail)
        }
        StreamState::Live => panic!("a 10-bit stream was shown live"),
        _ => None,
    })
    .expect("the stream is reported as undecodable");
    assert!(detail.contains("10-bit"), "{detail}");
    for _ in 0..20 {
        assert!(!cam.main.state().is_live());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cam.main.latest().is_none(), "no picture was published");
}

#[test]
fn video_that_stops_while_rtcp_goes_on_is_stalled_and_recovers() {
    let mut r = rig(None, 60.0, &[("/live/stop", live(15, json!({})))], "");
    r.cams[0].main.set_wanted(true);
    wait_for(Duration::from_secs(15), || {
        r.cams[0].main.state().is_live().then_some(())
    })
    .expect("live first");
    let ok = r.sim.command("outage /live/stop 7 stop").unwrap();
    assert!(ok.starts_with("OK"), "{ok}");
    let cam = &r.cams[0];
    let (reason, after) = wait_for(Duration::from_secs(6), || match cam.main.state() {
        StreamState::Lost { reason, .. } => Some(reason),
        _ => None,
    })
    .expect("a camera whose video stops is noticed although its session and RTCP go on");
    assert_eq!(reason, LossReason::Stalled);
    assert!(after <= Duration::from_secs(4), "after {after:?}");
    wait_for(Duration::from_secs(15), || {
        cam.main.state().is_live().then_some(())
    })
    .expect("live again when the video resumes");
}

#[test]
fn an_export_across_a_10_s_outage_replays_the_pictures_after_it_at_their_true_times_and_shows_the_gap(
) {
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    let mut r = rig(
        Some(&rec_dir),
        3.0,
        &[("/live/gap", live(25, json!({})))],
        "",
    );
    let cam = r.cams[0].config.id.0.clone();
    wait_for(Duration::from_secs(15), || {
        r.rec.as_ref().unwrap().status().cameras[&cam]
            .recording
            .then_some(())
    })
    .expect("recording");
    std::thread::sleep(Duration::from_secs(4));
    let outage_at = mt_record::now_ms();
    assert!(r
        .sim
        .command("outage /live/gap 10 close")
        .unwrap()
        .starts_with("OK"));
    std::thread::sleep(Duration::from_secs(3));
    let st = r.rec.as_ref().unwrap().status();
    let c = &st.cameras[&cam];
    assert!(
        !c.recording,
        "not recording while the camera is away: {c:?}"
    );
    assert!(c.problem.is_some(), "and the reason is known: {c:?}");
    wait_for(Duration::from_secs(20), || {
        r.rec.as_ref().unwrap().status().cameras[&cam]
            .recording
            .then_some(())
    })
    .expect("recording again after the camera returns");
    std::thread::sleep(Duration::from_secs(5));
    r.rec.take().unwrap().stop();
    let out = dir.path().join("gap.zip");
    let m = export_all(&rec_dir, &[cam.clone()], &out);
    assert!(m.clips.len() >= 2, "one clip per run: {:?}", m.clips);
    let gap = m
        .gaps
        .iter()
        .find(|g| g.from_ms < outage_at + 2_000 && g.to_ms > outage_at + 8_000)
        .unwrap_or_else(|| panic!("the outage is a gap in the manifest: {:?}", m.gaps));
    let len = gap.to_ms - gap.from_ms;
    assert!((9_000..=16_000).contains(&len), "gap of {len} ms");
    assert!(
        ["camera-lost", "stalled"].contains(&gap.reason.as_str()),
        "{}",
        gap.reason
    );
    // Every clip, before and after the gap, replays each picture at its true time.
    let mut pieces = Vec::new();
    for c in &m.clips {
        let path = unzip_to(&out, &c.file, dir.path());
        let n = check_clip_times(
            &path,
            c.start_ms,
            c.end_ms,
            40,
            encoder_delay_ms(&r.sim, "/live/gap"),
        );
        assert!(n >= 5, "{}: {n} pictures checked", c.file);
        pieces.push(Piece {
            path,
            start_ms: c.start_ms,
            end_ms: c.end_ms,
            continued: false,
        });
    }
    let after = m
        .clips
        .iter()
        .find(|c| c.start_ms >= gap.to_ms - 50)
        .expect("a clip after the gap");
    assert!(
        after.start_ms >= outage_at + 9_000,
        "the footage after the outage is placed after it, not joined back to back"
    );
    // A clip cut to end mid-GOP (B-frames) still decodes without a broken reference: the
    // rest of the GOP is kept.
    let index = Mutex::new(Index::open(&rec_dir.join("index.db")).unwrap());
    let part = dir.path().join("part.zip");
    let first = &m.clips[0];
    export(
        &index,
        &rec_dir,
        &ExportRequest {
            cameras: vec![cam.clone()],
            from_ms: first.start_ms + 200,
            to_ms: first.start_ms + 2_500,
            ..Default::default()
        },
        &SigningKey::from_bytes(&[8u8; 32]),
        &part,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let clip = unzip_to(&part, "clips/c1.mp4", dir.path());
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&clip)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "decode errors in a clip ending mid-GOP: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // In the gap, replay shows nothing (not the last picture before it).
    let mut player = RecordingPlayer::from_clips(&cam, pieces);
    assert_eq!(player.show((gap.from_ms + gap.to_ms) / 2).unwrap(), None);
    assert!(player.show(after.start_ms + 1_000).unwrap().is_some());
    let sent = r.sim.sent();
    assert!(
        sent.iter().any(|s| s.cap_us / 1000 > gap.to_ms),
        "the server's send log covers the footage after the gap"
    );
    // The workstation's replay of the archive: one track for the camera, nothing shown in
    // the gap (and the gap is there to say why), the picture back after it.
    let trust = mt_record::keys::TrustStore::in_memory(
        Some(SigningKey::from_bytes(&[8u8; 32]).verifying_key()),
        &[],
    );
    let mut replay = mt_ui::replay::Replay::open(&out, &trust, mt_ui::Lang::Vi).unwrap();
    assert!(replay.verified(), "{:?}", replay.report.problems);
    assert_eq!(replay.clips.len(), 1, "one track per camera");
    let mid = (gap.from_ms + gap.to_ms) / 2;
    replay.seek(mid);
    wait_for(Duration::from_secs(5), || {
        replay.clips[0].player.settled().then_some(())
    })
    .expect("settled");
    assert_eq!(
        replay.clips[0].player.shown_ms(),
        None,
        "no picture in the gap"
    );
    assert!(
        replay.gap_at(&cam, mid).is_some(),
        "the gap and its reason are known"
    );
    let back = after.start_ms + 1_000;
    replay.seek(back);
    let (shown, _) = wait_for(Duration::from_secs(5), || {
        let p = &replay.clips[0].player;
        if p.settled() {
            p.shown_ms()
        } else {
            None
        }
    })
    .expect("a picture after the gap");
    let f = replay.clips[0].player.shared.latest().unwrap();
    let s = read_stamp(&f).expect("readable");
    assert!((shown - s.t_ms()).abs() <= 40 + encoder_delay_ms(&r.sim, "/live/gap"));
}

#[test]
fn a_variable_frame_rate_camera_keeps_its_times_in_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    let mut r = rig(
        Some(&rec_dir),
        60.0,
        &[("/live/vfr", live(25, json!({"vfr": [[3, 25], [3, 12]]})))],
        "",
    );
    std::thread::sleep(Duration::from_secs(10));
    r.rec.take().unwrap().stop();
    let cam = r.cams[0].config.id.0.clone();
    let out = dir.path().join("vfr.zip");
    let m = export_all(&rec_dir, &[cam], &out);
    let mut intervals = Vec::new();
    for c in &m.clips {
        let path = unzip_to(&out, &c.file, dir.path());
        // One frame at 12 fps is 84 ms.
        let n = check_clip_times(
            &path,
            c.start_ms,
            c.end_ms,
            84,
            encoder_delay_ms(&r.sim, "/live/vfr"),
        );
        assert!(n >= 5, "{}: {n} pictures checked", c.file);
        // Decode times in the file: rising, never after the presentation time.
        let o = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "packet=pts,dts",
                "-of",
                "csv=p=0",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let pd: Vec<(i64, i64)> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                let (p, d) = l.trim().split_once(',')?;
                Some((p.parse().ok()?, d.parse().ok()?))
            })
            .collect();
        assert!(pd.len() as i64 >= c.frames - 1, "{} packets", pd.len());
        assert!(pd.iter().all(|(p, d)| d <= p), "dts ≤ pts");
        assert!(pd.windows(2).all(|w| w[1].1 > w[0].1), "dts rising");
        let o = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "packet=pts_time",
                "-of",
                "csv=p=0",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let mut pts: Vec<f64> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        pts.sort_by(f64::total_cmp);
        intervals.extend(
            pts.windows(2)
                .map(|w| ((w[1] - w[0]) * 1000.0).round() as i64),
        );
    }
    assert!(
        intervals.iter().any(|d| (36..=44).contains(d)),
        "25 fps stretches: {intervals:?}"
    );
    assert!(
        intervals.iter().any(|d| (78..=90).contains(d)),
        "12 fps stretches: {intervals:?}"
    );
}

#[test]
fn a_resolution_change_is_recorded_exported_and_plays_in_ffprobe_with_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    let mut r = rig(
        Some(&rec_dir),
        60.0,
        &[("/live/resize", live(15, json!({"resize": [[4, 320, 180]]})))],
        "",
    );
    std::thread::sleep(Duration::from_secs(9));
    r.rec.take().unwrap().stop();
    let cam = r.cams[0].config.id.0.clone();
    let out = dir.path().join("resize.zip");
    let m = export_all(&rec_dir, &[cam], &out);
    let sizes: Vec<(u32, u32)> = m.clips.iter().map(|c| (c.width, c.height)).collect();
    assert!(
        sizes.contains(&(640, 360)) && sizes.contains(&(320, 180)),
        "a clip for each size: {sizes:?}"
    );
    assert!(
        m.gaps.is_empty(),
        "a new resolution is not a gap: {:?}",
        m.gaps
    );
    for c in &m.clips {
        let path = unzip_to(&out, &c.file, dir.path());
        let o = Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args([
                "-show_entries",
                "stream=width,height,nb_read_frames",
                "-of",
                "csv=p=0",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        assert_eq!(
            text,
            format!("{},{},{}", c.width, c.height, c.frames),
            "{}: ffprobe decodes every frame at its size",
            c.file
        );
    }
}

#[test]
fn an_h265_camera_is_recorded_exported_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    let mut r = rig(
        Some(&rec_dir),
        60.0,
        &[(
            "/live/hevc",
            // Household H.265 cameras send no B-frames; x265 with B-frames holds every
            // picture several frames (its lookahead), which no receiver can take back.
            json!({"source": "live", "codec": "h265", "width": 640, "height": 360, "fps": 15, "bframes": 0, "gop": 15}),
        )],
        "",
    );
    std::thread::sleep(Duration::from_secs(7));
    r.rec.take().unwrap().stop();
    let cam = r.cams[0].config.id.0.clone();
    let out = dir.path().join("hevc.zip");
    let m = export_all(&rec_dir, &[cam], &out);
    assert_eq!(m.clips.len(), 1, "{:?}", m.clips);
    let c = &m.clips[0];
    assert_eq!(c.codec, "H.265");
    let path = unzip_to(&out, &c.file, dir.path());
    let delay = encoder_delay_ms(&r.sim, "/live/hevc");
    let n = check_clip_times(&path, c.start_ms, c.end_ms, 67, delay);
    assert!(n >= 5, "{n} pictures checked");
}

#[test]
fn two_percent_packet_loss_over_udp_is_counted_and_the_picture_recovers_at_the_next_keyframe() {
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    let r = rig(
        Some(&rec_dir),
        60.0,
        &[("/live/loss", live(15, json!({"loss": 0.02, "seed": 7})))],
        "transport = \"udp\"",
    );
    let cam = &r.cams[0];
    cam.main.set_wanted(true);
    wait_for(Duration::from_secs(15), || cam.main.latest()).expect("pictures");
    // The wall never freezes: pictures keep coming in every second of 8 (the damage is
    // concealed until the next keyframe makes the picture whole).
    let first = cam.main.stats().frames_decoded;
    let mut last = first;
    for _ in 0..8 {
        std::thread::sleep(Duration::from_secs(1));
        let now = cam.main.stats().frames_decoded;
        assert!(
            now >= last + 2,
            "pictures decoded in every second despite the loss ({last} → {now})"
        );
        last = now;
    }
    assert!(
        last - first >= 8 * 15 * 6 / 10,
        "{} of about 120 pictures in 8 s",
        last - first
    );
    let st = cam.main.stats();
    assert!(st.packets_lost > 0, "loss is counted: {st:?}");
    assert!(st.frames_damaged > 0, "damaged frames are counted: {st:?}");
    // Whole pictures again at each keyframe (one a second): the code reads in at least one
    // picture of every second, though the concealed ones between may be smeared.
    let pics = collect_pictures(&cam.main, 3.0);
    let readable = pics.iter().filter(|f| read_stamp(f).is_some()).count();
    assert!(
        readable >= 3,
        "{readable} of {} pictures readable in 3 s",
        pics.len()
    );
    // The recording keeps the frames and marks where they are damaged, and why.
    let index = r.rec.as_ref().unwrap().index();
    let tl = index
        .lock()
        .timeline(&cam.config.id.0, 0, mt_record::now_ms(), None)
        .unwrap();
    assert!(
        !tl.damaged.is_empty(),
        "packet loss is on the recording timeline"
    );
    assert!(tl
        .damaged
        .iter()
        .all(|d| d.packets_lost > 0 && d.to_ms >= d.from_ms));
    let st = r.rec.as_ref().unwrap().status();
    assert!(st.cameras[&cam.config.id.0].packets_lost > 0);
}

/// The wall's playback: 4 cameras at 25, 15, 12 and 30 fps; every tile shows the picture
/// captured last at or before the playback time (read from the pictures), and frame step
/// moves to the next picture of whichever camera has one next, skipping none.
#[test]
fn four_cameras_in_playback_show_pictures_of_one_time_and_frame_step_skips_no_picture() {
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    let fps = [25u32, 15, 12, 30];
    let mounts: Vec<(String, serde_json::Value)> = fps
        .iter()
        .map(|f| {
            (
                format!("/live/f{f}"),
                live(*f, json!({"width": 320, "height": 180})),
            )
        })
        .collect();
    let refs: Vec<(&str, serde_json::Value)> = mounts
        .iter()
        .map(|(p, v)| (p.as_str(), v.clone()))
        .collect();
    let mut r = rig(Some(&rec_dir), 60.0, &refs, "");
    std::thread::sleep(Duration::from_secs(8));
    let rec = r.rec.take().unwrap();
    let index = rec.index();
    rec.stop();
    let segs = index.lock().all().unwrap();
    let from = segs.iter().map(|s| s.start_ms).max().unwrap();
    let to = segs.iter().map(|s| s.end_ms).min().unwrap();
    assert!(to - from > 3_000, "{segs:?}");
    let ids: Vec<String> = r.cams.iter().map(|c| c.config.id.0.clone()).collect();
    let mut pb = mt_ui::playback::Playback::new(index, rec_dir.clone(), from + 500);
    for id in &ids {
        pb.ensure(id);
    }
    let stamps = |pb: &mt_ui::playback::Playback| -> Option<Vec<Stamp>> {
        ids.iter()
            .map(|id| {
                let p = pb.player(id)?;
                if !p.settled() {
                    return None;
                }
                p.shared.latest().and_then(|f| read_stamp(&f))
            })
            .collect()
    };
    for t in [from + 700, from + 1_900, to - 600, from + 1_200] {
        pb.seek(t);
        let (s, _) = wait_for(Duration::from_secs(5), || stamps(&pb))
            .expect("every tile shows a readable picture");
        for (k, st) in s.iter().enumerate() {
            let frame_ms =
                1000 / fps[k] as i64 + encoder_delay_ms(&r.sim, &format!("/live/f{}", fps[k]));
            let behind = t - st.t_ms();
            assert!(
                (-2..=frame_ms + 5).contains(&behind),
                "camera at {} fps shows a picture captured {behind} ms before the playback time",
                fps[k]
            );
        }
    }
    // Frame step forward 12 times: each step shows the next picture of at least one camera,
    // and no camera's picture number jumps by more than one.
    pb.seek(from + 1_000);
    let mut prev = wait_for(Duration::from_secs(5), || stamps(&pb))
        .expect("settled")
        .0;
    for _ in 0..12 {
        wait_for(Duration::from_secs(5), || {
            ids.iter()
                .all(|id| {
                    pb.player(id)
                        .is_some_and(|p| p.settled() && p.next_ms().is_some())
                })
                .then_some(())
        })
        .expect("players know their next picture");
        pb.step(1);
        let now = wait_for(Duration::from_secs(5), || stamps(&pb))
            .expect("settled")
            .0;
        let moved: Vec<u64> = now.iter().zip(&prev).map(|(a, b)| a.n - b.n).collect();
        assert!(
            moved.iter().any(|m| *m == 1),
            "a step shows a new picture: {moved:?}"
        );
        assert!(
            moved.iter().all(|m| *m <= 1),
            "no picture skipped: {moved:?}"
        );
        prev = now;
    }
    // And back: one step back returns to the picture before the newest one on screen.
    pb.step(-1);
    for _ in 0..50 {
        pb.tick();
        std::thread::sleep(Duration::from_millis(20));
    }
    let back = wait_for(Duration::from_secs(5), || stamps(&pb))
        .expect("settled")
        .0;
    let moved: Vec<i64> = back
        .iter()
        .zip(&prev)
        .map(|(a, b)| a.n as i64 - b.n as i64)
        .collect();
    assert!(
        moved.iter().any(|m| *m == -1) && moved.iter().all(|m| (-1..=0).contains(m)),
        "{moved:?}"
    );
}

/// The workstation with camera c1 on a 1×1 wall, `rec` recording (if any), a supervisor
/// signed in (gs01). Returns the log's path and the harness.
pub(crate) fn signed_in_wall(
    dir: &Path,
    cams: Vec<CameraHandle>,
    rec: Option<Recorder>,
) -> (PathBuf, egui_kittest::Harness<'static, mt_ui::MatThanApp>) {
    let (db, log) = crate::ui::supervisor_log(dir);
    let mut app = mt_ui::MatThanApp::new(
        &egui::Context::default(),
        cams,
        mt_ui::WallState {
            layout: mt_ui::WallLayout::G1,
            tiles: vec![Some("c1".into())],
            show_health: false,
            ..Default::default()
        },
        None,
        vec![],
    )
    .with_log(log);
    app.recorder = rec;
    let mut h = crate::ui::harness(app);
    crate::ui::settle(&mut h);
    crate::ui::sign_in(&mut h, "gs01", "135790");
    (db, h)
}

/// [`signed_in_wall`], in playback (P).
pub(crate) fn playback_harness(
    dir: &Path,
    cams: Vec<CameraHandle>,
    rec: Recorder,
) -> (PathBuf, egui_kittest::Harness<'static, mt_ui::MatThanApp>) {
    let (db, mut h) = signed_in_wall(dir, cams, Some(rec));
    h.key_press(egui::Key::P);
    h.run_steps(2);
    (db, h)
}

/// Runs the UI until `camera`'s playback tile shows its recorded picture at the clock.
pub(crate) fn wait_recorded_picture(
    h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>,
    camera: &str,
    limit: Duration,
) {
    wait_for(limit, || {
        h.run_steps(1);
        let pb = h.state().playback.as_ref().unwrap();
        pb.player(camera)
            .filter(|p| p.settled() && p.shown_ms().is_some())
            .map(|_| ())
    })
    .expect("the recorded picture is on the tile");
}

/// B in playback bookmarks the recorded picture on screen with that picture's own time and
/// its still (all read from the picture's code), not the present moment and the live picture.
#[test]
fn b_in_playback_bookmarks_the_recorded_picture_on_screen_with_its_time_and_still() {
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    let mut r = rig(
        Some(&rec_dir),
        60.0,
        &[("/live/bm", live(25, json!({})))],
        "",
    );
    std::thread::sleep(Duration::from_secs(6));
    let rec = r.rec.take().unwrap();
    let segs = wait_for(Duration::from_secs(5), || {
        let s = rec.index().lock().all().unwrap();
        (!s.is_empty()).then_some(s)
    });
    // The segment being written is played too; its start is the first picture's file name.
    let start = segs
        .map(|(s, _)| s[0].start_ms)
        .or_else(|| mt_record::recorder::open_segment(&rec_dir, "c1").map(|(_, s)| s))
        .expect("recording under way");
    let (db, mut h) = playback_harness(dir.path(), std::mem::take(&mut r.cams), rec);
    let t = start + 2_500;
    h.state_mut().playback.as_mut().unwrap().seek(t);
    wait_recorded_picture(&mut h, "c1", Duration::from_secs(5));
    h.key_press(egui::Key::B);
    h.run_steps(3);
    let draft = h
        .state()
        .log
        .as_ref()
        .unwrap()
        .bookmark_prompt
        .clone()
        .expect("B opens the note prompt");
    assert_eq!(draft.source, "playback");
    let frame = draft
        .frame
        .clone()
        .expect("the still is the picture on screen");
    let stamp = read_stamp(&frame).expect("the still's code reads");
    assert_eq!(
        draft.frame_time_ms, frame.time_ms,
        "the bookmark's time is its picture's"
    );
    let behind = t - stamp.t_ms();
    assert!(
        (-3..=45 + encoder_delay_ms(&r.sim, "/live/bm")).contains(&behind),
        "the recorded picture at the playback time, not the live one: captured {behind} ms before it"
    );
    assert!(
        (draft.frame_time_ms - stamp.t_ms()).abs() <= 40,
        "bookmark time {} vs the picture's capture time {}",
        draft.frame_time_ms,
        stamp.t_ms()
    );
    // What is kept: the PNG still shows the same picture.
    let png = mt_ui::log::snapshot_png(&frame);
    assert_eq!(read_stamp_png(&png).map(|s| s.n), Some(stamp.n));
    h.key_press(egui::Key::Enter);
    crate::ui::settle(&mut h);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (time, source): (i64, String) = conn
        .query_row(
            "SELECT b.frame_time_ms, s.source FROM bookmark b JOIN bookmark_source s ON s.bookmark_id = b.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((time, source.as_str()), (draft.frame_time_ms, "playback"));
    // The same in the workstation's replay of an exported archive: B keeps the archive's
    // picture on the selected tile, with its time, and says "replay".
    h.key_press(egui::Key::P);
    h.run_steps(2);
    let (index, rec_dir2) = {
        let rec = h.state().recorder.as_ref().unwrap();
        (rec.index(), rec.dir().to_owned())
    };
    let key = SigningKey::from_bytes(&[8u8; 32]);
    let out = dir.path().join("bm.zip");
    export(
        &index,
        &rec_dir2,
        &ExportRequest {
            cameras: vec!["c1".into()],
            from_ms: start,
            to_ms: start + 4_000,
            operator: "gs01".into(),
            workstation: "may-tram-1".into(),
            ..Default::default()
        },
        &key,
        &out,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let trust = mt_record::keys::TrustStore::in_memory(Some(key.verifying_key()), &[]);
    let mut replay = mt_ui::replay::Replay::open(&out, &trust, mt_ui::Lang::Vi).unwrap();
    let t2 = start + 1_500;
    replay.seek(t2);
    h.state_mut().replay = Some(replay);
    wait_for(Duration::from_secs(5), || {
        h.run_steps(1);
        let r = h.state().replay.as_ref().unwrap();
        (r.clips[0].player.settled() && r.clips[0].player.shown_ms().is_some()).then_some(())
    })
    .expect("the archive's picture at t2 is shown");
    h.key_press(egui::Key::B);
    h.run_steps(3);
    let draft = h
        .state()
        .log
        .as_ref()
        .unwrap()
        .bookmark_prompt
        .clone()
        .expect("B in replay opens the note prompt");
    assert_eq!(draft.source, "replay");
    let f = draft.frame.clone().expect("the archive's picture");
    let s = read_stamp(&f).expect("readable");
    assert!(
        (-2..=45).contains(&(t2 - s.t_ms())),
        "the picture at the replay time"
    );
    assert_eq!(draft.frame_time_ms, f.time_ms);
    h.key_press(egui::Key::Escape);
    crate::ui::settle(&mut h);
    // Digital zoom on the replay tile, as on the wall: the wheel over the picture enlarges it
    // (the code burnt into the archive's picture, read from the rendered tile, grows). A
    // window that paints its video (the one above does not) with the same archive.
    let mut zoomed = mt_ui::replay::Replay::open(&out, &trust, mt_ui::Lang::Vi).unwrap();
    zoomed.seek(t2);
    let mut app = crate::ui::empty_app();
    app.replay = Some(zoomed);
    let mut h = crate::ui::video_harness(app);
    wait_for(Duration::from_secs(5), || {
        h.run_steps(1);
        let r = h.state().replay.as_ref().unwrap();
        (r.clips[0].player.settled() && r.clips[0].player.shown_ms().is_some()).then_some(())
    })
    .expect("the archive's picture is shown");
    let tile = egui_kittest::kittest::Queryable::get_by_label(&h, "Ô phát lại c1").rect();
    let code = |h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>| {
        crate::util::code_rects_in(h, tile)
            .into_iter()
            .map(|c| c.1)
            .next()
    };
    let width =
        |h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>| code(h).map(|r| r.width());
    let first = wait_for(Duration::from_secs(5), || {
        h.run_steps(1);
        code(&mut h)
    })
    .expect("the replay tile's code is readable")
    .0;
    let before = first.width();
    // At the code's top-left corner, so it grows right and down and stays in view.
    let at = first.min + egui::vec2(3.0, 3.0);
    crate::ui::wheel_at(&mut h, at, 100.0);
    let z = h.state().replay.as_ref().unwrap().zoom.get(&0).copied();
    assert!(z.is_some_and(|z| z.scale > 1.3), "{z:?}");
    let after = wait_for(Duration::from_secs(5), || {
        h.run_steps(1);
        width(&mut h).filter(|w| *w > before * 1.3)
    });
    assert!(
        after.is_some(),
        "the code is wider zoomed ({before:.0} px at 1×, then {:?})",
        width(&mut h)
    );
    let audit = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .args(["audit", "verify", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let playbacks: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action = 'playback' AND operator_id = 'gs01'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(playbacks >= 1, "entering playback is audited");
}

/// Parameter sets only in the SDP, in an a=fmtp line with a trailing `;` that retina's strict
/// parser rejects, never repeated in band: the stream still plays (read leniently).
#[test]
fn an_h265_stream_with_parameter_sets_only_in_a_sloppy_sdp_still_plays() {
    let r = rig(
        None,
        60.0,
        &[(
            "/live/sprop",
            json!({"source": "live", "codec": "h265", "sprop_only": true, "width": 320, "height": 180, "fps": 15, "bframes": 0, "gop": 15}),
        )],
        "",
    );
    let cam = &r.cams[0];
    cam.main.set_wanted(true);
    wait_for(Duration::from_secs(15), || {
        cam.main.state().is_live().then_some(())
    })
    .unwrap_or_else(|| panic!("plays: {:?}", cam.main.state()));
    let f = cam.main.latest().unwrap();
    assert_eq!((f.width, f.height, f.codec), (320, 180, "H.265"));
    let pics = collect_pictures(&cam.main, 1.5);
    assert!(
        pics.iter().any(|f| read_stamp(f).is_some()),
        "the picture is whole"
    );
}

/// BT.709 full-range (JPEG-range) H.264 with a G.711 A-law audio track beside it: the video
/// is found among the streams and its colour description reaches the renderer.
#[test]
fn bt709_full_range_h264_with_an_audio_track_is_decoded_with_its_colour_description() {
    let r = rig(
        None,
        60.0,
        &[(
            "/live/709",
            live(
                15,
                json!({"colorimetry": "bt709", "full_range": true, "audio": "pcma", "bframes": 0}),
            ),
        )],
        "",
    );
    let cam = &r.cams[0];
    cam.main.set_wanted(true);
    let (f, _) = wait_for(Duration::from_secs(15), || cam.main.latest()).expect("pictures");
    assert_eq!(f.matrix, mt_capture::ColorMatrix::Bt709);
    assert!(f.full_range, "full range");
    // The GPU conversion of this picture uses the full-range BT.709 matrix: its light areas
    // (the code's white quiet zone) come out white, not clipped grey.
    let off = mt_render::offscreen::Offscreen::new().expect("wgpu adapter (lavapipe)");
    let rgba = mt_render::offscreen::render_frame(
        &off.state.device,
        &off.state.queue,
        &f,
        f.width,
        f.height,
    )
    .unwrap();
    let px = |x: u32, y: u32| {
        let i = ((y * f.width + x) * 4) as usize;
        [rgba[i], rgba[i + 1], rgba[i + 2]]
    };
    let (mut bx, mut by, mut yv) = (0u32, 0u32, 0u8);
    for y in 0..60u32 {
        for x in 0..60u32 {
            let v = f.y[(y * f.width + x) as usize];
            if v > yv {
                (bx, by, yv) = (x, y, v);
            }
        }
    }
    assert!(
        yv >= 250,
        "full-range luma of the code's white is about 255, not 235: {yv}"
    );
    let white = px(bx, by);
    assert!(
        white.iter().all(|c| *c >= 245),
        "white stays white through the shader: {white:?}"
    );
}

/// `matthan export` from a shell is accountable: an audit row with the archive's SHA-256, and
/// the archive carries the head of the log's audit chain, which `matthan verify` compares
/// with the log: a rewrite of the log's history after the export is found.
#[test]
fn a_command_line_export_is_audited_and_a_later_rewrite_of_the_log_is_found_from_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let rec_dir = data.join("recordings");
    let mut r = rig(
        Some(&rec_dir),
        60.0,
        &[("/live/cli", live(15, json!({"bframes": 0})))],
        "",
    );
    std::thread::sleep(Duration::from_secs(4));
    r.rec.take().unwrap().stop();
    let db = data.join("matthan.db");
    let (head_id, head_hash) = {
        let d = crate::util::log_with_supervisor(&db);
        d.audit_head().unwrap().expect("the log has an audit row")
    };
    let segs = Index::open(&rec_dir.join("index.db"))
        .unwrap()
        .all()
        .unwrap();
    let out = dir.path().join("cli.zip");
    let run = |args: &[&str]| {
        // New York time on this machine: what the commands print is Hanoi's.
        Command::new(env!("CARGO_BIN_EXE_matthan"))
            .env("MATTHAN_DATA_DIR", &data)
            .env("TZ", "America/New_York")
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&[
        "export",
        "--cameras-ids",
        "c1",
        "--from-ms",
        &segs[0].start_ms.to_string(),
        "--to-ms",
        &segs[0].end_ms.to_string(),
        "--operator",
        "gs01",
        "--db",
        db.to_str().unwrap(),
        "--rec-dir",
        rec_dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sha = mt_record::recorder::sha256_file(&out).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let subject: String = conn
        .query_row(
            "SELECT subject FROM audit_log WHERE action = 'export_evidence' AND operator_id = 'gs01'",
            [],
            |r| r.get(0),
        )
        .expect("an audit row for the export");
    assert!(
        subject.contains(&format!("sha256={sha}")),
        "{subject} names the archive's SHA-256"
    );
    let mut z = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut mbytes = Vec::new();
    z.by_name("manifest.json")
        .unwrap()
        .read_to_end(&mut mbytes)
        .unwrap();
    let m: Manifest = serde_json::from_slice(&mbytes).unwrap();
    // The manifest's times for people: ISO 8601 at +07:00 (read here with chrono, not the
    // app's formatter), the same instants as its milliseconds.
    for (iso, ms) in [
        (&m.created, m.created_ms),
        (&m.from, m.from_ms),
        (&m.to, m.to_ms),
    ] {
        assert!(iso.ends_with("+07:00"), "{iso}");
        let t = chrono::DateTime::parse_from_rfc3339(iso).unwrap();
        assert_eq!(t.timestamp_millis(), ms, "{iso}");
    }
    // The export signed a checkpoint beside the log.
    let cps = mt_record::checkpoint::read(&mt_record::checkpoint::path_for(&db)).unwrap();
    assert_eq!(cps.checkpoints.len(), 1, "{:?}", cps.problems);
    let head = m
        .audit_head
        .clone()
        .expect("the audit-chain head is in the manifest");
    assert_eq!(
        (head.id, head.row_sha256.as_str()),
        (head_id, head_hash.as_str())
    );
    // A supervisor sets the workstation's zone (Tokyo here, to tell it from the default).
    let o = run(&[
        "settings",
        "time-zone",
        "Asia/Tokyo",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Verified here (this workstation's key), the log's history as it was.
    let o = run(&["verify", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("is as it was at export time"), "{text}");
    // The export time as a person reads it, in the workstation's zone (formatted here with
    // chrono at +09:00), on a machine set to New York.
    let tokyo = chrono::FixedOffset::east_opt(9 * 3600).unwrap();
    let when = chrono::DateTime::from_timestamp_millis(m.created_ms)
        .unwrap()
        .with_timezone(&tokyo)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string();
    assert!(text.contains(&format!(" at {when} ")), "{text}");
    assert!(!text.contains(&m.created_ms.to_string()), "{text}");
    // Someone rewrites the log behind the app's back (drops the append-only trigger).
    conn.execute_batch(&format!(
        "DROP TRIGGER audit_log_append_only_u; UPDATE audit_log SET operator_id = 'x' , row_sha256 = 'forged' WHERE id = {head_id};"
    ))
    .unwrap();
    drop(conn);
    let o = run(&["verify", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("history was rewritten"), "{text}");
    // `audit verify` against the archive names the rewritten row too.
    let o = run(&[
        "audit",
        "verify",
        "--db",
        db.to_str().unwrap(),
        "--archive",
        out.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("audit_log row {head_id} differs from the archive")),
        "{text}"
    );
}

/// A 3840×2160 H.265 25 fps main stream, maximised (every frame decoded, with libavcodec's
/// frame threads), keeps up: 25 pictures a second and none dropped. (Tests run one at a time,
/// `.cargo/config.toml`, so the machine is this test's.)
#[test]
fn a_4k_h265_main_stream_maximised_keeps_up_at_25_fps_without_dropping() {
    let opts = SimOptions {
        mounts: Vec::new(),
        large: true,
        send_log: false,
    };
    let sim = SimServer::start_with(&assets(), 0, 1, &opts).expect("RTSP server with the 4K clip");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let cam = cap
        .start_camera(camera("uhd", &sim.url("uhd/main"), ""))
        .unwrap();
    cam.main.set_wanted(true);
    let (f, _) = wait_for(Duration::from_secs(20), || cam.main.latest()).expect("4K pictures");
    assert_eq!((f.width, f.height, f.codec), (3840, 2160, "H.265"));
    std::thread::sleep(Duration::from_secs(2));
    let before = cam.main.stats();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(8));
    let after = cam.main.stats();
    let secs = t0.elapsed().as_secs_f64();
    let rate = (after.frames_decoded - before.frames_decoded) as f64 / secs;
    assert!(rate >= 24.0, "{rate:.1} pictures a second decoded");
    assert_eq!(
        after.frames_dropped - before.frames_dropped,
        0,
        "frames dropped because the decoder fell behind"
    );
    assert!(cam.main.state().is_live());
}

/// A step of the workstation's clock while recording (here 3 s back, as an NTP correction of
/// a fast clock would): the run on the old clock ends with the step's size as its reason, the
/// next run is on the new clock, within each run the footage keeps its order, and playback
/// through the 3 s both runs cover shows the run on the corrected clock throughout.
#[test]
fn a_step_of_the_workstation_clock_while_recording_is_recorded_as_such_and_no_run_goes_backwards() {
    const STEP_US: i64 = 3_000_000;
    /// Puts the clock back however the test ends.
    struct Undo(i64);
    impl Drop for Undo {
        fn drop(&mut self) {
            mt_capture::clock::step_clock_for_test(-self.0);
        }
    }
    // Declared before the rig so that it is dropped after it: the clock goes back to true
    // only once the streams have stopped.
    let _undo;
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    let mut r = rig(
        Some(&rec_dir),
        2.0,
        &[("/live/step", live(15, json!({})))],
        "",
    );
    let cam = r.cams[0].config.id.0.clone();
    let index_file = rec_dir.join("index.db");
    wait_for(Duration::from_secs(30), || {
        let n = Index::open(&index_file)
            .ok()?
            .all()
            .ok()?
            .iter()
            .filter(|s| s.camera_id == cam)
            .count();
        (n >= 2).then_some(())
    })
    .expect("two segments recorded before the step");
    // A second into the segment that just began: the run before the step then has a segment
    // that starts inside the times the run after it will cover, so playback that went by
    // start times alone would switch back to the old run there.
    std::thread::sleep(Duration::from_millis(1_200));
    mt_capture::clock::step_clock_for_test(-STEP_US);
    _undo = Undo(-STEP_US);
    std::thread::sleep(Duration::from_secs(6));
    r.rec.take().unwrap().stop();
    // In the order they were recorded (ids), not by time: after a step back the new run's
    // times come before the old run's end.
    let mut segs: Vec<_> = Index::open(&index_file)
        .unwrap()
        .all()
        .unwrap()
        .into_iter()
        .filter(|s| s.camera_id == cam)
        .collect();
    segs.sort_by_key(|s| s.id);
    let k = segs
        .iter()
        .position(|s| s.end_reason.as_deref() == Some("clock-step"))
        .unwrap_or_else(|| panic!("no run ended with the clock step: {segs:#?}"));
    let step: f64 = segs[k]
        .end_detail
        .trim_end_matches(" s")
        .parse()
        .unwrap_or_else(|_| panic!("detail {:?}", segs[k].end_detail));
    assert!((step + 3.0).abs() < 0.2, "the step's size: {step} s");
    let after: Vec<_> = segs[k + 1..].iter().collect();
    assert!(!after.is_empty(), "recording went on after the step");
    // The next run is on the new clock: about 3 s before the old run's end.
    let back = segs[k].end_ms - after[0].start_ms;
    assert!(
        (2_000..3_200).contains(&back),
        "the new run starts {back} ms before the old one ended"
    );
    assert!(after
        .iter()
        .all(|s| s.run_start_ms == after[0].run_start_ms));
    // Within each run, every segment starts after the one before, where it ended (to within
    // a frame: a segment's end and the next start are two pictures' times).
    for run in [&segs[..=k], &segs[k + 1..]] {
        for w in run.windows(2) {
            assert!(
                w[1].start_ms > w[0].start_ms && (w[1].start_ms - w[0].end_ms).abs() < 100,
                "{:?} then {:?}",
                w[0],
                w[1]
            );
        }
        assert!(run.iter().all(|s| s.end_ms >= s.start_ms));
    }
    // Playback through the times both runs cover shows the run recorded after the step (its
    // pictures were captured, by the server's real clock, 3 s after the time they are at).
    // Each time is sought afresh (as a click on the timeline does), so the choice between
    // the two runs' segments is made at every one of them.
    let index = Arc::new(Mutex::new(Index::open(&index_file).unwrap()));
    let (from, to) = (after[0].start_ms + 200, segs[k].end_ms - 200);
    assert!(to - from > 1_000, "an overlap to play: {from}..{to}");
    let mut checked = 0;
    let mut t = from;
    while t < to {
        let mut player = RecordingPlayer::new(&cam, &rec_dir, index.clone());
        assert!(player.show(t).unwrap().is_some(), "a picture at {t}");
        if let Some(st) = player.shared.latest().and_then(|f| read_stamp(&f)) {
            let ahead = st.t_ms() - t;
            assert!(
                (2_000..3_300).contains(&ahead),
                "at {t} the picture captured {ahead} ms later: the run before the step was shown"
            );
            checked += 1;
        }
        t += 250;
    }
    assert!(checked >= 3, "{checked} pictures read in the overlap");
    // One player going on from the run before the step into the overlap (as playback runs):
    // from the overlap on, the run after the step.
    let mut player = RecordingPlayer::new(&cam, &rec_dir, index.clone());
    let (mut before, mut inside) = (0, 0);
    let mut t = from - 1_000;
    while t < to {
        assert!(player.show(t).unwrap().is_some(), "a picture at {t}");
        if let Some(st) = player.shared.latest().and_then(|f| read_stamp(&f)) {
            let ahead = st.t_ms() - t;
            if t < from - 200 {
                assert!(ahead < 500, "at {t}, before the overlap, {ahead} ms");
                before += 1;
            } else if t >= from {
                assert!(
                    (2_000..3_300).contains(&ahead),
                    "at {t} the same player showed the run before the step ({ahead} ms)"
                );
                inside += 1;
            }
        }
        t += 100;
    }
    assert!(
        before >= 3 && inside >= 5,
        "{before} before, {inside} inside"
    );
}

/// Seeks in any order in an exported clip (a whole MP4 with its index: libavformat seeks
/// straight to the keyframe), keyframe previews, and a player thread in a storm of seeks:
/// every picture shown is true to the time it claims (its burned-in capture time), the exact
/// picture is the one at the asked time, and once the storm rests the player shows the exact
/// picture for the last target.
#[test]
fn seeks_in_any_order_previews_and_a_seek_storm_show_true_pictures_of_an_exported_clip() {
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    let mut r = rig(
        Some(&rec_dir),
        60.0,
        &[("/live/seek", live(25, json!({})))],
        "",
    );
    std::thread::sleep(Duration::from_secs(14));
    r.rec.take().unwrap().stop();
    let cam = r.cams[0].config.id.0.clone();
    let out = dir.path().join("seek.zip");
    let m = export_all(&rec_dir, &[cam], &out);
    let c = m
        .clips
        .iter()
        .max_by_key(|c| c.end_ms - c.start_ms)
        .expect("a clip");
    assert!(c.end_ms - c.start_ms > 8_000, "{c:?}");
    let path = unzip_to(&out, &c.file, dir.path());
    let delay = encoder_delay_ms(&r.sim, "/live/seek");
    let frame = 40;
    // The picture claims its own capture time, and is the last one captured at or before t.
    let check = |f: &DecodedFrame, claimed: i64, t: i64, slack: i64| -> bool {
        let Some(s) = read_stamp(f) else {
            return false;
        };
        assert!(
            (-3..=frame + delay).contains(&(claimed - s.t_ms())),
            "claims {claimed}, its code says {}",
            s.t_ms()
        );
        assert!(
            (-3..=slack + delay + 5).contains(&(t - s.t_ms())),
            "the picture shown for {t} was captured at {}",
            s.t_ms()
        );
        true
    };
    let span = c.end_ms - c.start_ms - 1_000;
    let mut rng = fastrand::Rng::with_seed(3);
    let mut p = ClipPlayer::open(&path, c.start_ms, "seek").unwrap();
    let mut exact = 0;
    for _ in 0..30 {
        let t = c.start_ms + 500 + rng.i64(0..span);
        let shown = p.show(t).unwrap().expect("a picture inside the clip");
        exact += check(&p.shared.latest().unwrap(), shown, t, 2 * frame) as usize;
    }
    assert!(exact >= 20, "{exact} of 30 exact seeks read back");
    assert_eq!(
        p.reopens, 0,
        "an exported clip seeks through its index, never reading from the top again"
    );
    // A preview is the keyframe at or before t (one group: 1 s here), then `show` is exact.
    let mut previews = 0;
    for _ in 0..10 {
        let t = c.start_ms + 500 + rng.i64(0..span);
        let shown = p.preview(t).unwrap().expect("a keyframe inside the clip");
        assert!(
            shown <= t && t - shown <= 1_000 + frame,
            "preview {shown} for {t}"
        );
        previews += check(&p.shared.latest().unwrap(), shown, t, 1_000 + frame) as usize;
        let shown = p.show(t).unwrap().expect("a picture");
        check(&p.shared.latest().unwrap(), shown, t, 2 * frame);
    }
    assert!(previews >= 6, "{previews} of 10 previews read back");
    // The player's thread: a new target every 5 ms for a second, then one that rests.
    let pt = mt_record::player::PlayerThread::spawn(
        ClipPlayer::open(&path, c.start_ms, "storm").unwrap(),
        "storm",
    )
    .unwrap();
    for _ in 0..200 {
        pt.set_time(c.start_ms + 500 + rng.i64(0..span));
        std::thread::sleep(Duration::from_millis(5));
    }
    // The storm rests at a target; three times (a code may not read in one picture).
    let mut rested = 0;
    for _ in 0..3 {
        let last = c.start_ms + 500 + rng.i64(0..span);
        pt.set_time(last);
        wait_for(Duration::from_secs(10), || pt.settled().then_some(()))
            .expect("the player answered the resting target");
        let shown = pt.shown_ms().expect("a picture at the resting target");
        rested += check(&pt.shared.latest().unwrap(), shown, last, 2 * frame) as usize;
        for _ in 0..50 {
            pt.set_time(c.start_ms + 500 + rng.i64(0..span));
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(rested >= 2, "{rested} of 3 resting pictures read back");
}
