//! Recording from the real RTSP server, evidence export and verification, tampering, a kill
//! during recording, retention.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use mt_capture::sim::SimServer;
use mt_capture::{Capture, Timeouts};
use mt_record::export::{export, ExportRequest};
use mt_record::{Index, RecConfig, Recorder, Segment};
use parking_lot::Mutex;

use crate::util::{assets, camera, wait_for};

/// `n` simulated cameras `cam-1`… (with sub streams when `sub`) whose main streams are being
/// recorded into `dir`. Fields drop in order: recorder, cameras, capture, then the server.
struct Rig {
    rec: Recorder,
    handles: Vec<mt_capture::CameraHandle>,
    cap: Capture,
    _sim: SimServer,
}

fn start_recording(dir: &Path, n: usize, segment_secs: f64, sub: bool) -> Rig {
    let sim = SimServer::start(&assets(), 0, n).expect("RTSP server");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let mut cfg = RecConfig::new(dir.to_owned());
    cfg.segment_secs = segment_secs;
    let (mut rec, rep) = Recorder::start(cfg).unwrap();
    assert!(rep.is_empty(), "{rep:?}");
    let mut handles = Vec::new();
    for k in 1..=n {
        let mut c = camera(&format!("cam-{k}"), &sim.url(&format!("cam{k}/main")), "");
        if sub {
            c.sub_url = Some(sim.url(&format!("cam{k}/sub")).parse().unwrap());
        }
        let h = cap.start_camera(c).unwrap();
        rec.add(&h.config.id.0, &h.main).unwrap();
        handles.push(h);
    }
    Rig {
        rec,
        handles,
        cap,
        _sim: sim,
    }
}

/// Records `n` simulated cameras (main streams) for `secs` into `dir`; returns the camera ids.
fn record(dir: &Path, n: usize, secs: u64, segment_secs: f64) -> Vec<String> {
    let rig = start_recording(dir, n, segment_secs, false);
    // The `secs` count from when every camera sends (connecting is slower on a loaded machine).
    let sending = wait_for(Duration::from_secs(20), || {
        rig.handles
            .iter()
            .all(|h| h.main.stats().frames_received > 0)
            .then_some(())
    });
    assert!(sending.is_some(), "every simulated camera sends");
    std::thread::sleep(Duration::from_secs(secs));
    let ids = rig.handles.iter().map(|h| h.config.id.0.clone()).collect();
    rig.rec.stop();
    drop(rig.cap);
    ids
}

fn ffprobe_frames(path: &Path) -> (i64, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames:format=duration"])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} in ffprobe output: {text}"))
            .to_owned()
    };
    (
        get("nb_read_frames").parse().unwrap(),
        get("duration").parse().unwrap(),
    )
}

fn unzip(archive: &Path, name: &str) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(archive).unwrap()).unwrap();
    let mut f = z.by_name(name).unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn four_cameras_recorded_20_s_export_to_a_verified_archive_whose_clips_play_with_the_expected_frames(
) {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let ids = record(&rec, 4, 20, 8.0);
    let index = Index::open(&rec.join("index.db")).unwrap();
    let all = index.all().unwrap();
    for id in &ids {
        let segs: Vec<&Segment> = all.iter().filter(|s| &s.camera_id == id).collect();
        assert!(
            segs.len() >= 2,
            "{id}: segments rotate about every 8 s: {segs:?}"
        );
        let frames: i64 = segs.iter().map(|s| s.frames).sum();
        // 15 fps; the first keyframe comes within a second of connecting.
        assert!(
            (250..=310).contains(&frames),
            "{id}: {frames} frames in 20 s"
        );
        for s in &segs {
            let file = rec.join(&s.file);
            assert_eq!(
                mt_record::recorder::sha256_file(&file).unwrap(),
                s.sha256,
                "index hash of {}",
                s.file
            );
            let (f, _) = ffprobe_frames(&file);
            assert_eq!(f, s.frames, "{}: ffprobe frames = indexed frames", s.file);
        }
        // The activity trace: bytes in every second of every segment, none empty while the
        // camera sends, together about the size of the files.
        let act = index.activity(id, 0, i64::MAX).unwrap();
        assert_eq!(act.len(), segs.len());
        for ((start, per_s), s) in act.iter().zip(&segs) {
            assert_eq!(*start, s.start_ms);
            // One value per second from the first picture to the last ([start, end) ends one
            // frame after the last picture).
            let secs = (s.end_ms - s.start_ms + 999) / 1000;
            assert!(
                (secs - 1..=secs).contains(&(per_s.len() as i64)),
                "{}: {} values for {} ms",
                s.file,
                per_s.len(),
                s.end_ms - s.start_ms
            );
            assert!(per_s.iter().all(|b| *b > 1_000), "{}: {per_s:?}", s.file);
            let total: u64 = per_s.iter().map(|b| *b as u64).sum();
            assert!(
                total as f64 > s.bytes as f64 * 0.8 && total <= s.bytes as u64,
                "{}: {total} of {}",
                s.file,
                s.bytes
            );
        }
    }
    // Export 12 s from the middle of all four.
    let start = ids
        .iter()
        .map(|id| {
            all.iter()
                .filter(|s| &s.camera_id == id)
                .map(|s| s.start_ms)
                .min()
                .unwrap()
        })
        .max()
        .unwrap();
    let (from, to) = (start + 4_000, start + 16_000);
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let out = dir.path().join("vu-viec-1.zip");
    let progress = Mutex::new(Vec::new());
    let req = ExportRequest {
        cameras: ids.clone(),
        from_ms: from,
        to_ms: to,
        incident_id: Some(1),
        incident: Some(serde_json::json!({"id": 1, "title": "Trộm xe máy"})),
        attachments: vec![(
            "snapshots/bookmark-1.png".into(),
            vec![0x89, b'P', b'N', b'G'],
        )],
        operator: "gs01".into(),
        workstation: "may-tram-1".into(),
        audit_head: None,
    };
    let index = Mutex::new(index);
    let m = export(
        &index,
        &rec,
        &req,
        &key,
        &out,
        &|p| progress.lock().push(p),
        &AtomicBool::new(false),
    )
    .unwrap()
    .manifest;
    let p = progress.lock().clone();
    assert_eq!(p.first(), Some(&0.0));
    assert_eq!(p.last(), Some(&1.0));
    assert!(
        p.windows(2).all(|w| w[0] <= w[1]),
        "progress only goes up: {p:?}"
    );
    assert!(!out.with_extension("partial").exists());
    let rep = mt_record::verify::verify_trusting(&out, &[*key.verifying_key().as_bytes()]);
    assert!(rep.ok(), "{:?}", rep.problems);
    assert_eq!(m.clips.len(), 4);
    assert_eq!(m.files.len(), 6, "4 clips, incident.json, one still");
    for c in &m.clips {
        let tmp = dir.path().join(format!("{}.mp4", c.camera));
        std::fs::write(&tmp, unzip(&out, &c.file)).unwrap();
        let (frames, duration) = ffprobe_frames(&tmp);
        assert_eq!(
            frames, c.frames,
            "{}: ffprobe frames = manifest frames",
            c.camera
        );
        // 12 s at 15 fps, from the keyframe before `from` to the keyframe after `to`
        // (keyframes every second).
        assert!(
            (180..=212).contains(&frames),
            "{}: {frames} frames",
            c.camera
        );
        assert!(
            (duration - frames as f64 / 15.0).abs() < 0.6,
            "{}: {duration} s for {frames} frames",
            c.camera
        );
        assert!(
            c.start_ms <= from && c.start_ms > from - 1_200,
            "clip starts at the keyframe before the range"
        );
    }
    // The exported footage is locked against retention.
    let idx = index.lock();
    let locked = idx
        .all()
        .unwrap()
        .into_iter()
        .filter(|s| idx.is_locked(s).unwrap())
        .count();
    assert!(locked >= 4, "{locked} segments locked");
    // The command line says the same.
    let st = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .arg("verify")
        .arg(&out)
        .arg("--trust")
        .arg(hex::encode(key.verifying_key().as_bytes()))
        .env("MATTHAN_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(st.status.success(), "{text}");
    assert!(
        text.contains("VERIFIED") && text.contains("clips/cam-1.mp4: SHA-256 ok"),
        "{text}"
    );
}

/// Rewrites `src` into `dst` with `edit` deciding, per entry, what to write (None: drop it).
fn rewrite(
    src: &Path,
    dst: &Path,
    edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: Option<(&str, &[u8])>,
) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::fs::File::create(dst).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        if let Some(v) = edit(&name, v) {
            w.start_file(name, opts).unwrap();
            w.write_all(&v).unwrap();
        }
    }
    if let Some((n, b)) = extra {
        w.start_file(n, opts).unwrap();
        w.write_all(b).unwrap();
    }
    w.finish().unwrap();
}

fn problems(p: &Path, trusted: &[[u8; 32]]) -> Vec<String> {
    let r = mt_record::verify::verify_trusting(p, trusted);
    assert_eq!(r.status(), mt_record::verify::Status::Failed);
    r.problems
}

#[test]
fn every_kind_of_tampering_with_an_archive_is_detected_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let ids = record(&rec, 1, 5, 60.0);
    let index = Mutex::new(Index::open(&rec.join("index.db")).unwrap());
    let seg = index.lock().all().unwrap()[0].clone();
    let key = SigningKey::from_bytes(&[9u8; 32]);
    let trusted = [*key.verifying_key().as_bytes()];
    let good = dir.path().join("good.zip");
    let req = ExportRequest {
        cameras: ids,
        from_ms: seg.start_ms,
        to_ms: seg.end_ms,
        incident: Some(serde_json::json!({"id": 2, "title": "Cướp giật"})),
        attachments: vec![("snapshots/bookmark-3.png".into(), b"still".to_vec())],
        operator: "cb01".into(),
        workstation: "may-tram-2".into(),
        ..Default::default()
    };
    export(
        &index,
        &rec,
        &req,
        &key,
        &good,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert!(mt_record::verify::verify_trusting(&good, &trusted).ok());
    let bytes = std::fs::read(&good).unwrap();

    // One byte flipped inside each file in turn.
    let mut z = zip::ZipArchive::new(std::fs::File::open(&good).unwrap()).unwrap();
    let entries: Vec<(String, u64, u64)> = (0..z.len())
        .map(|i| {
            let f = z.by_index(i).unwrap();
            (
                f.name().unwrap().into_owned(),
                f.data_start().unwrap(),
                f.size(),
            )
        })
        .collect();
    assert_eq!(entries.len(), 5);
    for (name, start, size) in &entries {
        let mut b = bytes.clone();
        b[(*start + size / 2) as usize] ^= 0x01;
        let p = dir.path().join("flip.zip");
        std::fs::write(&p, &b).unwrap();
        let probs = problems(&p, &trusted);
        let expect = if name == "manifest.sig" {
            "manifest.sig"
        } else {
            name.as_str()
        };
        assert!(
            probs.iter().any(|x| x.starts_with(expect)),
            "flipping a byte of {name}: {probs:?}"
        );
    }
    // Truncated archive.
    let p = dir.path().join("cut.zip");
    std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let probs = problems(&p, &trusted);
    assert!(probs[0].contains("not a readable archive"), "{probs:?}");
    // A file removed.
    let p = dir.path().join("removed.zip");
    rewrite(&good, &p, |n, v| (n != "incident.json").then_some(v), None);
    assert_eq!(problems(&p, &trusted), ["incident.json: missing"]);
    // A file added.
    let p = dir.path().join("added.zip");
    rewrite(&good, &p, |_, v| Some(v), Some(("clips/them.mp4", b"fake")));
    assert_eq!(
        problems(&p, &trusted),
        ["clips/them.mp4: extra file, not in the manifest"]
    );
    // The manifest edited (another operator).
    let p = dir.path().join("manifest.zip");
    rewrite(
        &good,
        &p,
        |n, v| {
            Some(if n == "manifest.json" {
                String::from_utf8(v)
                    .unwrap()
                    .replace("cb01", "gs01")
                    .into_bytes()
            } else {
                v
            })
        },
        None,
    );
    let probs = problems(&p, &trusted);
    assert!(
        probs
            .iter()
            .any(|x| x.starts_with("manifest.sig: does not match manifest.json")),
        "{probs:?}"
    );
    // The signature replaced by one from another key.
    let p = dir.path().join("sig.zip");
    let other = SigningKey::from_bytes(&[3u8; 32]);
    rewrite(
        &good,
        &p,
        |n, v| {
            use ed25519_dalek::Signer;
            Some(if n == "manifest.sig" {
                hex::encode(other.sign(&unzip(&good, "manifest.json")).to_bytes()).into_bytes()
            } else {
                v
            })
        },
        None,
    );
    let probs = problems(&p, &trusted);
    assert!(
        probs
            .iter()
            .any(|x| x.starts_with("manifest.sig: does not match")),
        "{probs:?}"
    );
    // Re-signed end to end with another key (manifest's key replaced too): only the trust
    // store tells (untrusted, never verified); the fingerprint is always shown.
    let p = dir.path().join("resigned.zip");
    let forged = {
        let m = String::from_utf8(unzip(&good, "manifest.json"))
            .unwrap()
            .replace(
                &hex::encode(key.verifying_key().as_bytes()),
                &hex::encode(other.verifying_key().as_bytes()),
            );
        m.into_bytes()
    };
    rewrite(
        &good,
        &p,
        |n, v| {
            use ed25519_dalek::Signer;
            Some(match n {
                "manifest.json" => forged.clone(),
                "manifest.sig" => hex::encode(other.sign(&forged).to_bytes()).into_bytes(),
                _ => v,
            })
        },
        None,
    );
    let r = mt_record::verify::verify_trusting(&p, &trusted);
    assert_eq!(
        r.status(),
        mt_record::verify::Status::Untrusted,
        "{:?}",
        r.problems
    );
    assert_eq!(
        r.key_fingerprint,
        Some(mt_record::keys::fingerprint(
            other.verifying_key().as_bytes()
        ))
    );
    // The command line exits 1 and names the problem.
    let p = dir.path().join("removed.zip");
    let st = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .arg("verify")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&st.stdout).contains("PROBLEM: incident.json: missing"));
}

#[test]
fn a_cancelled_export_leaves_no_archive_under_the_final_name() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let ids = record(&rec, 1, 4, 60.0);
    let index = Mutex::new(Index::open(&rec.join("index.db")).unwrap());
    let seg = index.lock().all().unwrap()[0].clone();
    let out = dir.path().join("huy.zip");
    let cancel = AtomicBool::new(false);
    let req = ExportRequest {
        cameras: ids,
        from_ms: seg.start_ms,
        to_ms: seg.end_ms,
        ..Default::default()
    };
    let r = export(
        &index,
        &rec,
        &req,
        &SigningKey::from_bytes(&[1; 32]),
        &out,
        &|p| {
            if p > 0.0 {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert!(matches!(r, Err(mt_record::RecError::Cancelled)), "{r:?}");
    assert!(!out.exists());
    let left: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        left.iter().all(|p| p.file_name().unwrap() == "rec"),
        "nothing half-written: {left:?}"
    );
}

#[test]
fn sigkill_during_recording_loses_at_most_2_s_and_the_next_start_reconciles_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let sim = SimServer::start(&assets(), 0, 2).expect("RTSP server");
    let cams = dir.path().join("cameras.toml");
    std::fs::write(
        &cams,
        format!(
            "[[camera]]\nid = \"k1\"\nname = \"K1\"\nlat = 21.07\nlon = 105.78\nmain_url = \"{}\"\n\n[[camera]]\nid = \"k2\"\nname = \"K2\"\nlat = 21.07\nlon = 105.78\nmain_url = \"{}\"\n",
            sim.url("cam1/main"),
            sim.url("cam2/main")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .arg("--cameras")
        .arg(&cams)
        .args(["record", "--segment-secs", "60", "--dir"])
        .arg(&rec)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until both cameras' segments have data, then 6 s more.
    let partials = || {
        ["k1", "k2"]
            .iter()
            .filter(|c| {
                std::fs::read_dir(rec.join(c)).is_ok_and(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().ends_with(".partial"))
                })
            })
            .count()
    };
    assert!(wait_for(Duration::from_secs(15), || (partials() == 2).then_some(())).is_some());
    std::thread::sleep(Duration::from_secs(6));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let killed_ms = mt_record::now_ms();
    let _ = child.wait();
    // Also: a row whose file is gone, and a finished file the index does not know.
    {
        let idx = Index::open(&rec.join("index.db")).unwrap();
        idx.insert(&Segment {
            id: 0,
            camera_id: "k1".into(),
            start_ms: 1,
            end_ms: 2,
            frames: 1,
            bytes: 1,
            file: "k1/mat.mp4".into(),
            sha256: String::new(),
            ..Default::default()
        })
        .unwrap();
    }
    let (_rec, rep) = Recorder::start(RecConfig::new(rec.clone())).unwrap();
    assert_eq!(rep.recovered.len(), 2, "{rep:?}");
    assert_eq!(rep.rows_removed.len(), 1, "{rep:?}");
    assert!(rep.rows_removed[0].contains("k1/mat.mp4"));
    let idx = Index::open(&rec.join("index.db")).unwrap();
    let segs = idx.all().unwrap();
    assert_eq!(segs.len(), 2);
    for s in &segs {
        let lost = killed_ms - s.end_ms;
        assert!(lost <= 2_000, "{}: {lost} ms lost", s.camera_id);
        assert!(
            s.frames >= 5 * 15,
            "{}: {} frames kept",
            s.camera_id,
            s.frames
        );
        let (f, _) = ffprobe_frames(&rec.join(&s.file));
        assert_eq!(f, s.frames, "the recovered file plays");
    }
    // A second start finds nothing to fix.
    drop(_rec);
    let (_r2, rep2) = Recorder::start(RecConfig::new(rec.clone())).unwrap();
    assert!(rep2.is_empty(), "{rep2:?}");
}

#[test]
fn retention_deletes_oldest_first_by_quota_and_age_but_never_footage_an_incident_locked() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir_all(rec.join("c")).unwrap();
    let now = mt_record::now_ms();
    {
        let idx = Index::open(&rec.join("index.db")).unwrap();
        for k in 0..6i64 {
            let file = format!("c/{k}.mp4");
            std::fs::write(rec.join(&file), vec![0u8; 1000]).unwrap();
            idx.insert(&Segment {
                id: 0,
                camera_id: "c".into(),
                start_ms: now - (10 - k) * 60_000,
                end_ms: now - (10 - k) * 60_000 + 59_000,
                frames: 900,
                bytes: 1000,
                file,
                sha256: String::new(),
                ..Default::default()
            })
            .unwrap();
        }
        // Segment 0 (the oldest) belongs to incident 5.
        idx.lock(5, "c", now - 10 * 60_000 + 1_000, now - 10 * 60_000 + 2_000)
            .unwrap();
    }
    let mut cfg = RecConfig::new(rec.clone());
    cfg.quota_bytes = 3_500;
    cfg.max_age = None;
    let (r, _) = Recorder::start(cfg).unwrap();
    assert_eq!(
        r.retention().unwrap(),
        3,
        "6 kB over a 3.5 kB quota: three go"
    );
    let left: Vec<String> = Index::open(&rec.join("index.db"))
        .unwrap()
        .all()
        .unwrap()
        .into_iter()
        .map(|s| s.file)
        .collect();
    assert_eq!(
        left,
        ["c/0.mp4", "c/4.mp4", "c/5.mp4"],
        "oldest unlocked first; the locked one stays"
    );
    assert!(!rec.join("c/1.mp4").exists() && rec.join("c/0.mp4").exists());
    drop(r);
    // By age: what ended more than 250 s ago goes, except the locked one.
    let mut cfg = RecConfig::new(rec.clone());
    cfg.max_age = Some(Duration::from_secs(250));
    let (r, _) = Recorder::start(cfg).unwrap();
    assert_eq!(r.retention().unwrap(), 1);
    let left: Vec<String> = Index::open(&rec.join("index.db"))
        .unwrap()
        .all()
        .unwrap()
        .into_iter()
        .map(|s| s.file)
        .collect();
    assert_eq!(left, ["c/0.mp4", "c/5.mp4"]);
}

// ---- export from the incident window (egui_kittest, real wgpu) ----------------------------

use egui_kittest::kittest::Queryable;

#[test]
fn exporting_from_an_incident_shows_progress_and_ends_with_a_verified_archive() {
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = dir.path().join("rec");
    // Two cameras recorded for 5 s (segments of 2 s, all finished when recording stops).
    let Rig {
        rec,
        handles,
        cap: _cap,
        _sim,
    } = start_recording(&rec_dir, 2, 2.0, false);
    std::thread::sleep(Duration::from_secs(5));
    let index = rec.index();
    rec.stop();
    // The log: an officer and an incident on both cameras, now.
    let db = dir.path().join("log.db");
    let incident = {
        let mut d = crate::util::log_with_supervisor(&db);
        d.add_incident(
            "gs01",
            &mt_store::NewIncident {
                title: "Cướp giật điện thoại".into(),
                type_code: "other".into(),
                occurred_ms: mt_record::now_ms() - 3_000,
                ward: "Xuân Đỉnh".into(),
                lat_deg: None,
                lon_deg: None,
                camera_ids: vec!["cam-1".into(), "cam-2".into()],
                bookmark_ids: vec![],
            },
        )
        .unwrap()
    };
    let key = SigningKey::from_bytes(&[5u8; 32]);
    let mut log = mt_ui::log::LogUi::new(
        mt_store::thread::StoreThread::start(&db).unwrap(),
        dir.path().join("exports"),
    );
    log.evidence = Some(mt_ui::evidence::EvidenceUi::new(
        mt_ui::evidence::EvidenceCtx {
            rec_dir: rec_dir.clone(),
            index,
            key: std::sync::Arc::new(key.clone()),
            export_dir: dir.path().join("exports"),
            workstation: "may-tram-1".into(),
        },
    ));
    let app = mt_ui::MatThanApp::new(
        &egui::Context::default(),
        handles,
        mt_ui::WallState {
            show_health: false,
            ..Default::default()
        },
        None,
        vec![],
    )
    .with_log(log);
    let mut h = crate::ui::harness(app);
    crate::ui::settle(&mut h);
    crate::ui::sign_in(&mut h, "gs01", "135790");
    h.state_mut().log.as_mut().unwrap().open_incident(incident);
    crate::ui::settle(&mut h);
    h.get_by_label("Xuất chứng cứ").click();
    let mut saw_progress = false;
    let done = wait_for(Duration::from_secs(60), || {
        h.run_steps(1);
        let ev = h.state().log.as_ref().unwrap().evidence.as_ref().unwrap();
        saw_progress |= ev.progress().is_some();
        ev.last.clone()
    });
    assert!(saw_progress, "a progress bar was shown while exporting");
    let (inc, outcome) = done.expect("the export ended").0;
    assert_eq!(inc, incident);
    let mt_ui::evidence::ExportOutcome::Verified { path, files } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(files, 3, "two clips and incident.json");
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Đã xuất và kiểm tra chữ ký")
            .is_some(),
        "the officer is told it is verified"
    );
    let rep = mt_record::verify::verify_trusting(&path, &[*key.verifying_key().as_bytes()]);
    assert!(rep.ok(), "{:?}", rep.problems);
    let m = rep.manifest.unwrap();
    assert_eq!(m.operator, "gs01");
    assert_eq!(m.incident_id, Some(incident));
    assert!(m.clips.iter().all(|c| c.frames > 30), "{:?}", m.clips);
    let inc_json: serde_json::Value =
        serde_json::from_slice(&unzip(&path, "incident.json")).unwrap();
    assert_eq!(inc_json["title"], "Cướp giật điện thoại");
    // Its time for people: ISO 8601 at +07:00, the same instant as its milliseconds.
    let occurred = inc_json["occurred"].as_str().unwrap();
    assert!(occurred.ends_with("+07:00"), "{occurred}");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(occurred)
            .unwrap()
            .timestamp_millis(),
        inc_json["occurred_ms"].as_i64().unwrap()
    );

    // File → Open evidence archive, in the same window: verified, then shown.
    h.state_mut().log.as_mut().unwrap().detail = None;
    h.run_steps(2);
    h.get_by_label("Mở tệp chứng cứ").click();
    // A window fades in over a few frames before its widgets are reported.
    h.run_steps(6);
    h.get_by_role_and_label(egui::Role::TextInput, "Đường dẫn tệp .zip")
        .click();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::TextInput, "Đường dẫn tệp .zip")
        .type_text(&path.display().to_string());
    h.run_steps(1);
    h.get_by_label("Mở và kiểm tra").click();
    // Opened off the UI thread ("open-archive"): verified, clips copied out, then shown.
    let opened = wait_for(Duration::from_secs(30), || {
        h.run_steps(1);
        h.state().replay.is_some().then_some(())
    });
    assert!(opened.is_some(), "the archive opens");
    h.run_steps(3);
    let r = h.state().replay.as_ref().expect("the archive is open");
    assert!(r.verified(), "{:?}", r.report.problems);
    assert_eq!(r.clips.len(), 2);
    assert!(h.query_by_label_contains("ĐÃ XÁC MINH").is_some());
}

#[test]
fn replay_decodes_every_clip_keeps_tiles_within_one_frame_after_seeks_and_never_writes_the_archive()
{
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let ids = record(&rec, 3, 10, 60.0);
    let index = Mutex::new(Index::open(&rec.join("index.db")).unwrap());
    let segs = index.lock().all().unwrap();
    let from = segs.iter().map(|s| s.start_ms).max().unwrap() + 500;
    let to = segs.iter().map(|s| s.end_ms).min().unwrap() - 500;
    let key = SigningKey::from_bytes(&[4u8; 32]);
    let out = dir.path().join("ev.zip");
    let req = ExportRequest {
        cameras: ids,
        from_ms: from,
        to_ms: to,
        incident: Some(
            serde_json::json!({"id": 9, "title": "Đua xe trái phép", "bookmarks": [
                {"frame_time_ms": from + 2_000, "camera_id": "cam-1", "note": "xe thứ hai"}
            ]}),
        ),
        operator: "gs01".into(),
        workstation: "may-tram-1".into(),
        ..Default::default()
    };
    export(
        &index,
        &rec,
        &req,
        &key,
        &out,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let before = std::fs::read(&out).unwrap();
    let mtime = std::fs::metadata(&out).unwrap().modified().unwrap();

    let trust = mt_record::keys::TrustStore::in_memory(Some(key.verifying_key()), &[]);
    let mut r = mt_ui::replay::Replay::open(&out, &trust, mt_ui::Lang::Vi).unwrap();
    assert!(r.verified(), "{:?}", r.report.problems);
    assert_eq!(r.clips.len(), 3);
    assert_eq!(r.bookmarks.len(), 1);
    // The first frame of every clip decodes (at the latest clip start: before its first
    // picture a camera shows nothing, not a picture from after it).
    let latest_start = r.clips.iter().map(|c| c.player.start_ms).max().unwrap();
    r.seek(latest_start);
    let first = wait_for(Duration::from_secs(5), || {
        r.clips
            .iter()
            .all(|c| c.player.shared.latest().is_some())
            .then_some(())
    });
    assert!(first.is_some(), "every clip shows its first frame");
    for c in &r.clips {
        let f = c.player.shared.latest().unwrap();
        assert_eq!((f.width, f.height), (640, 360));
    }
    // Seeks forward, back, to the bookmark: every tile shows the frame at or just before the
    // time, so any two tiles are within one frame (67 ms at 15 fps) of each other.
    let span = to - from;
    assert!(span > 4_000, "at least 4 s in common: {span} ms");
    for t in [
        from + span / 2,
        from + 1_000,
        from + span / 2 + 1_000,
        to - 300,
        from + 150,
    ] {
        r.seek(t);
        let settled = wait_for(Duration::from_secs(5), || {
            let shown: Vec<i64> = r.clips.iter().filter_map(|c| c.player.shown_ms()).collect();
            (shown.len() == 3 && shown.iter().all(|s| *s <= t && t - *s < 67)).then_some(shown)
        });
        let (shown, _) = settled.unwrap_or_else(|| {
            panic!(
                "tiles did not settle at {t} (from + {} ms, to - {} ms): {:?}",
                t - from,
                to - t,
                r.clips
                    .iter()
                    .map(|c| c.player.shown_ms())
                    .collect::<Vec<_>>()
            )
        });
        let (lo, hi) = (shown.iter().min().unwrap(), shown.iter().max().unwrap());
        assert!(hi - lo < 67, "tiles {shown:?} within one frame at {t}");
    }
    drop(r);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "replay never writes into the archive"
    );
    assert_eq!(std::fs::metadata(&out).unwrap().modified().unwrap(), mtime);

    // A tampered archive opens, red-bannered and marked unverified, and still plays.
    let bad = dir.path().join("bad.zip");
    rewrite(
        &out,
        &bad,
        |n, v| (n != "incident.json").then_some(v),
        Some(("ghi-chu.txt", b"x")),
    );
    let mut r = mt_ui::replay::Replay::open(&bad, &trust, mt_ui::Lang::Vi).unwrap();
    assert!(!r.verified());
    assert!(
        r.report
            .problems
            .iter()
            .any(|p| p == "incident.json: missing"),
        "{:?}",
        r.report.problems
    );
    assert!(r
        .report
        .problems
        .iter()
        .any(|p| p.starts_with("ghi-chu.txt: extra")));
    r.seek(latest_start);
    assert!(wait_for(Duration::from_secs(5), || r
        .clips
        .iter()
        .all(|c| c.player.shared.latest().is_some())
        .then_some(()))
    .is_some());
}

#[test]
fn p_switches_the_wall_to_playback_where_every_tile_shows_its_recording_at_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let Rig {
        rec,
        handles,
        cap: _cap,
        _sim,
    } = start_recording(&dir.path().join("rec"), 2, 2.0, true);
    std::thread::sleep(Duration::from_secs(6));
    let segs = rec.index().lock().all().unwrap();
    let t = segs.iter().map(|s| s.start_ms).max().unwrap() + 700;
    assert!(
        segs.iter()
            .filter(|s| s.start_ms <= t && s.end_ms >= t)
            .count()
            == 2,
        "{segs:?}"
    );
    let mut app = mt_ui::MatThanApp::new(
        &egui::Context::default(),
        handles,
        mt_ui::WallState {
            layout: mt_ui::WallLayout::G2,
            tiles: vec![Some("cam-1".into()), Some("cam-2".into()), None, None],
            show_health: false,
            ..Default::default()
        },
        None,
        vec![],
    );
    app.recorder = Some(rec);
    let mut h = crate::ui::harness(app);
    assert!(h.state().playback.is_none());
    h.key_press(egui::Key::P);
    h.run_steps(2);
    assert!(h.state().playback.is_some(), "P switches to playback");
    assert!(
        h.query_by_label("Dòng thời gian").is_some(),
        "the timeline is shown"
    );
    h.state_mut().playback.as_mut().unwrap().seek(t);
    let synced = wait_for(Duration::from_secs(5), || {
        h.run_steps(1);
        let pb = h.state().playback.as_ref().unwrap();
        let shown: Vec<i64> = ["cam-1", "cam-2"]
            .iter()
            .filter_map(|c| pb.player(c).and_then(|p| p.shown_ms()))
            .collect();
        (shown.len() == 2 && shown.iter().all(|s| *s <= t && t - *s < 67)).then_some(shown)
    });
    assert!(synced.is_some(), "both tiles at the same recorded time");
    for c in ["cam-1", "cam-2"] {
        let pb = h.state().playback.as_ref().unwrap();
        assert!(
            pb.player(c).unwrap().shared.latest().is_some(),
            "{c} shows a recorded picture"
        );
    }
    h.key_press(egui::Key::P);
    h.run_steps(2);
    assert!(h.state().playback.is_none(), "P goes back to live");
}

#[test]
fn a_full_disk_raises_the_recording_alarm_and_leaves_the_index_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    // A real full filesystem: a 384 kB tmpfs (needs root with mount rights, as CI has).
    let mounted = unsafe { libc::geteuid() } == 0
        && Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=384k", "tmpfs"])
            .arg(&rec)
            .status()
            .is_ok_and(|s| s.success());
    if !mounted {
        crate::util::cannot_run("cannot mount a small tmpfs here (not root, or no mount rights)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Unmount(rec.clone());
    let Rig {
        rec: r,
        handles: _handles,
        cap,
        _sim,
    } = start_recording(&rec, 2, 1.0, false);
    let alarm = wait_for(Duration::from_secs(40), || r.status().alarm);
    let (alarm, _) = alarm.expect("the alarm is raised when the disk fills");
    assert!(alarm.contains("disk is full"), "{alarm}");
    let index = r.index();
    r.stop();
    drop(cap);
    // Every indexed segment is a whole file with the indexed hash; SQLite is intact.
    let idx = index.lock();
    let segs = idx.all().unwrap();
    assert!(
        !segs.is_empty(),
        "something was recorded before the disk filled"
    );
    for s in &segs {
        let f = rec.join(&s.file);
        assert_eq!(
            mt_record::recorder::sha256_file(&f).unwrap(),
            s.sha256,
            "{}",
            s.file
        );
        let (frames, _) = ffprobe_frames(&f);
        assert_eq!(frames, s.frames, "{}", s.file);
    }
    drop(idx);
    let conn = rusqlite::Connection::open_with_flags(
        rec.join("index.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

// ---- trust and verification ------------------------------------------------------------

/// An archive with no clips (incident.json and a still), exported and signed with `key` into
/// `dir/name`: quick, no cameras needed.
fn small_archive(dir: &Path, name: &str, key: &SigningKey) -> PathBuf {
    let rec = dir.join("rec-empty");
    std::fs::create_dir_all(&rec).unwrap();
    let index = Mutex::new(Index::open(&rec.join("index.db")).unwrap());
    let out = dir.join(name);
    let req = ExportRequest {
        cameras: vec![],
        from_ms: 1_764_000_000_000,
        to_ms: 1_764_000_060_000,
        incident: Some(serde_json::json!({"id": 7, "title": "Trộm xe máy", "bookmarks": []})),
        attachments: vec![("snapshots/bookmark-1.png".into(), b"still".to_vec())],
        operator: "gs01".into(),
        workstation: "may-tram-1".into(),
        ..Default::default()
    };
    export(
        &index,
        &rec,
        &req,
        key,
        &out,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    out
}

/// `src` re-signed end to end with `other` (the manifest's public key replaced too).
fn resign(src: &Path, dst: &Path, key: &SigningKey, other: &SigningKey) {
    let forged = String::from_utf8(unzip(src, "manifest.json"))
        .unwrap()
        .replace(
            &hex::encode(key.verifying_key().as_bytes()),
            &hex::encode(other.verifying_key().as_bytes()),
        )
        .into_bytes();
    rewrite(
        src,
        dst,
        |n, v| {
            use ed25519_dalek::Signer;
            Some(match n {
                "manifest.json" => forged.clone(),
                "manifest.sig" => hex::encode(other.sign(&forged).to_bytes()).into_bytes(),
                _ => v,
            })
        },
        None,
    );
}

fn matthan(data: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .args(args)
        .env("MATTHAN_DATA_DIR", data)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn a_resigned_archive_is_untrusted_never_green_exits_2_and_verifies_once_its_key_is_trusted() {
    use mt_record::keys::{KeyTrust, TrustStore};
    use mt_record::verify::Status;
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[11u8; 32]);
    let other = SigningKey::from_bytes(&[12u8; 32]);
    let other_hex = hex::encode(other.verifying_key().as_bytes());
    let other_fp = mt_record::keys::fingerprint(other.verifying_key().as_bytes());
    let good = small_archive(dir.path(), "good.zip", &key);
    let forged = dir.path().join("resigned.zip");
    resign(&good, &forged, &key, &other);

    // The library: own key verified; someone else's valid signature untrusted, not a problem.
    let own = TrustStore::in_memory(Some(key.verifying_key()), &[]);
    let progress = Mutex::new(Vec::new());
    let r = mt_record::verify::verify(&good, &own, &|p| progress.lock().push(p));
    assert_eq!(r.status(), Status::Verified, "{:?}", r.problems);
    assert_eq!(r.signer, Some(KeyTrust::Own));
    let p = progress.lock().clone();
    assert_eq!((p.first(), p.last()), (Some(&0.0), Some(&1.0)), "{p:?}");
    let r = mt_record::verify::verify(&forged, &own, &|_| {});
    assert_eq!(r.status(), Status::Untrusted, "{:?}", r.problems);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(r.signature_valid && !r.ok());
    assert_eq!(r.signer, Some(KeyTrust::Unknown));
    assert_eq!(r.key_fingerprint.as_deref(), Some(other_fp.as_str()));

    // The command line, with this workstation's key in a data directory of its own.
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("workstation.key"), [11u8; 32]).unwrap();
    let g = good.to_str().unwrap();
    let f = forged.to_str().unwrap();
    let (code, text) = matthan(&data, &["verify", g]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("this workstation's own key"), "{text}");
    let (code, text) = matthan(&data, &["verify", f]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("CHỮ KÝ HỢP LỆ, KHOÁ KHÔNG TIN CẬY") && text.contains(&other_fp),
        "{text}"
    );
    assert!(!text.contains("\nVERIFIED"), "{text}");
    let (code, text) = matthan(&data, &["verify", f, "--accept-untrusted"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("untrusted key"), "{text}");
    // A station's key, trusted by name.
    let name = "Công an phường Xuân Đỉnh – máy trạm 2";
    let (code, text) = matthan(
        &data,
        &["keys", "trust", &other_hex, "--name", name, "--by", "gs01"],
    );
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = matthan(&data, &["verify", f]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("VERIFIED") && text.contains(name), "{text}");
    let (code, text) = matthan(&data, &["keys", "list"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(name) && text.contains(&other_fp), "{text}");
    let (code, text) = matthan(&data, &["keys", "show"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&hex::encode(key.verifying_key().as_bytes())),
        "{text}"
    );
    let store =
        TrustStore::load(&data.join("trusted_keys.toml"), Some(key.verifying_key())).unwrap();
    assert_eq!(
        store.lookup(other.verifying_key().as_bytes()),
        KeyTrust::Trusted { name: name.into() }
    );
    assert_eq!(store.keys()[0].added_by, "gs01");
    // A bad key is refused with a clear message; removing the key makes it untrusted again.
    let (code, text) = matthan(&data, &["keys", "trust", "abc123", "--name", "x"]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("hex digits"), "{text}");
    let (code, text) = matthan(&data, &["keys", "remove", &other_fp]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(matthan(&data, &["verify", f]).0, Some(2));
    // Failed stays 1, and no key was created by verifying in an empty data directory.
    let empty = dir.path().join("empty");
    let (code, text) = matthan(&empty, &["verify", f]);
    assert_eq!(code, Some(2), "{text}");
    assert!(!empty.join("workstation.key").exists());
    let cut = dir.path().join("cut.zip");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(
        matthan(&data, &["verify", cut.to_str().unwrap()]).0,
        Some(1)
    );
}

#[test]
fn a_second_manifest_entry_in_an_archive_fails_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[13u8; 32]);
    let good = small_archive(dir.path(), "good.zip", &key);
    // A forged manifest added under a second `manifest.json` (written under a same-length
    // name, then renamed in the local and central headers: the zip writer refuses duplicates).
    let forged = String::from_utf8(unzip(&good, "manifest.json"))
        .unwrap()
        .replace("gs01", "xx99")
        .into_bytes();
    let tmp = dir.path().join("tmp.zip");
    rewrite(
        &good,
        &tmp,
        |_, v| Some(v),
        Some(("manifest.jsoX", forged.as_slice())),
    );
    let mut bytes = std::fs::read(&tmp).unwrap();
    let (from, to) = (b"manifest.jsoX", b"manifest.json");
    let mut n = 0;
    for i in 0..bytes.len() - from.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + to.len()].copy_from_slice(to);
            n += 1;
        }
    }
    assert_eq!(n, 2, "local and central header");
    let dup = dir.path().join("dup.zip");
    std::fs::write(&dup, &bytes).unwrap();
    let trust = mt_record::keys::TrustStore::in_memory(Some(key.verifying_key()), &[]);
    let r = mt_record::verify::verify(&dup, &trust, &|_| {});
    assert_eq!(r.status(), mt_record::verify::Status::Failed);
    assert!(
        r.problems
            .iter()
            .any(|p| p.starts_with("manifest.json: duplicate entry")),
        "{:?}",
        r.problems
    );
    let data = dir.path().join("data");
    let (code, text) = matthan(&data, &["verify", dup.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("PROBLEM: manifest.json: duplicate entry"),
        "{text}"
    );
}

#[test]
fn a_bad_line_in_the_trusted_keys_file_is_named_by_file_line_and_field() {
    use mt_record::keys::TrustStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trusted_keys.toml");
    let k2 = hex::encode(
        SigningKey::from_bytes(&[21u8; 32])
            .verifying_key()
            .as_bytes(),
    );
    let load_err = |text: &str| {
        std::fs::write(&path, text).unwrap();
        TrustStore::load(&path, None).unwrap_err().to_string()
    };
    let e = load_err(&format!(
        "[[key]]\npublic_key = \"{k2}\"\nname = \"Máy trạm 2\"\nadded_ms = 1\nadded_by = \"gs01\"\n\n[[key]]\npublic_key = \"abc123\"\nname = \"Máy trạm 3\"\n"
    ));
    let file = path.display().to_string();
    assert!(
        e.contains(&file) && e.contains("line 8") && e.contains("public_key"),
        "{e}"
    );
    assert!(e.contains("hex digits"), "{e}");
    let e = load_err(&format!("[[key]]\npublic_key = \"{k2}\"\nname = 5\n"));
    assert!(
        e.contains(&file) && e.contains("line 3") && e.contains("`name`"),
        "{e}"
    );
    let e = load_err(&format!(
        "[[key]]\npublic_key = \"{}\"\nname = \"x\"\n",
        "zz".repeat(32)
    ));
    assert!(e.contains("line 2") && e.contains("public_key"), "{e}");
    let e = load_err(&format!("[[key]]\npublic_key = \"{k2}\"\n"));
    assert!(
        e.contains("line 1") && e.contains("missing field `name`"),
        "{e}"
    );
    // Written atomically and read back the same; a missing file is an empty store.
    std::fs::remove_file(&path).unwrap();
    let own = SigningKey::from_bytes(&[20u8; 32]).verifying_key();
    let mut s = TrustStore::load(&path, Some(own)).unwrap();
    assert!(s.keys().is_empty());
    let k2b = mt_record::keys::parse_public_key(&k2).unwrap();
    s.trust(k2b, "Công an phường Xuân Đỉnh – máy trạm 2", "gs01")
        .unwrap();
    assert!(s.trust(*own.as_bytes(), "mine", "gs01").is_err());
    let back = TrustStore::load(&path, Some(own)).unwrap();
    assert_eq!(back.keys(), s.keys());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["trusted_keys.toml"], "no temporary file left");
}

#[test]
fn supervisor_sees_a_resigned_archive_amber_trusts_its_key_in_the_app_and_it_turns_green() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[14u8; 32]);
    let other = SigningKey::from_bytes(&[15u8; 32]);
    let good = small_archive(dir.path(), "good.zip", &key);
    let forged = dir.path().join("resigned.zip");
    resign(&good, &forged, &key, &other);
    // The log beside this workstation's key (no recorder: the key file is read, not made).
    std::fs::write(dir.path().join("workstation.key"), [14u8; 32]).unwrap();
    let (_db, log) = crate::ui::supervisor_log(dir.path());
    let app = mt_ui::MatThanApp::new(
        &egui::Context::default(),
        vec![],
        mt_ui::WallState {
            show_health: false,
            ..Default::default()
        },
        None,
        vec![],
    )
    .with_log(log);
    let mut h = crate::ui::harness(app);
    crate::ui::settle(&mut h);
    crate::ui::sign_in(&mut h, "gs01", "135790");
    let open = |h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>, p: &Path| {
        let ctx = h.ctx.clone();
        h.state_mut()
            .apply(&ctx, mt_ui::Command::OpenArchive(p.display().to_string()));
        let opened = wait_for(Duration::from_secs(30), || {
            h.run_steps(1);
            h.state().replay.is_some().then_some(())
        });
        assert!(opened.is_some(), "{} opens", p.display());
        h.run_steps(3);
    };
    open(&mut h, &forged);
    {
        let r = h.state().replay.as_ref().unwrap();
        assert_eq!(r.status(), mt_record::verify::Status::Untrusted);
        assert!(!r.verified());
        assert!(r.mark(&mt_ui::Tr::new(mt_ui::Lang::Vi)).is_some());
        let tmp = r.temp_dir().unwrap().to_owned();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&tmp).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "the replay's folder is private");
        }
    }
    assert!(h
        .query_by_label_contains("Chữ ký hợp lệ, khoá không tin cậy")
        .is_some());
    assert!(
        h.query_by_label_contains("ĐÃ XÁC MINH").is_none(),
        "never green"
    );
    let tmp = h
        .state()
        .replay
        .as_ref()
        .unwrap()
        .temp_dir()
        .unwrap()
        .to_owned();
    h.get_by_label("Đóng tệp chứng cứ, về lưới camera").click();
    h.run_steps(2);
    assert!(h.state().replay.is_none());
    // Removed on a thread ("close-archive"), so the window never waits for it.
    assert!(
        wait_for(Duration::from_secs(10), || (!tmp.exists()).then_some(())).is_some(),
        "the replay's folder is removed when it closes"
    );

    // The supervisor trusts the other station's key in the app.
    h.get_by_label("Khoá tin cậy").click();
    h.run_steps(6);
    let own_hex = hex::encode(key.verifying_key().as_bytes());
    assert!(
        h.query_by_label_contains(&mt_record::keys::fingerprint(
            key.verifying_key().as_bytes()
        ))
        .is_some(),
        "this workstation's fingerprint is shown"
    );
    assert!(
        h.query_all_by_value(&own_hex).next().is_some(),
        "this workstation's public key is shown, to copy"
    );
    let field =
        |h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>, label: &str, text: &str| {
            h.get_by_role_and_label(egui::Role::TextInput, label)
                .click();
            h.run_steps(1);
            h.get_by_role_and_label(egui::Role::TextInput, label)
                .type_text(text);
            h.run_steps(1);
        };
    field(&mut h, "Khoá công khai (64 chữ số hex)", "abc123");
    field(
        &mut h,
        "Tên máy trạm",
        "Công an phường Xuân Đỉnh – máy trạm 2",
    );
    h.get_by_label("Thêm vào danh sách tin cậy").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Khoá không hợp lệ").is_some());
    h.get_by_role_and_label(egui::Role::TextInput, "Khoá công khai (64 chữ số hex)")
        .click();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::TextInput, "Khoá công khai (64 chữ số hex)")
        .type_text(&hex::encode(other.verifying_key().as_bytes()));
    h.run_steps(1);
    h.get_by_label("Thêm vào danh sách tin cậy").click();
    trust_settled(&mut h);
    assert!(h.query_by_label_contains("Đã thêm khoá").is_some());
    let file = std::fs::read_to_string(dir.path().join("trusted_keys.toml")).unwrap();
    assert!(
        file.contains("máy trạm 2") && file.contains("gs01"),
        "{file}"
    );

    open(&mut h, &forged);
    let r = h.state().replay.as_ref().unwrap();
    assert!(r.verified(), "{:?}", r.report.problems);
    assert!(h.query_by_label_contains("ĐÃ XÁC MINH").is_some());
    assert!(h
        .query_by_label_contains("Ký bằng khoá tin cậy: Công an phường Xuân Đỉnh – máy trạm 2")
        .is_some());

    // Removing asks first; once removed, the archive is amber again.
    h.get_by_label("Đóng tệp chứng cứ, về lưới camera").click();
    h.run_steps(4);
    h.get_by_label("Xoá").click();
    h.run_steps(2);
    assert!(
        std::fs::read_to_string(dir.path().join("trusted_keys.toml"))
            .unwrap()
            .contains("máy trạm 2"),
        "not removed before confirming"
    );
    assert!(h
        .query_by_label_contains("khỏi danh sách tin cậy?")
        .is_some());
    h.get_by_label("Xoá thật").click();
    trust_settled(&mut h);
    assert!(h.query_by_label_contains("Đã xoá khoá").is_some());
    let file = std::fs::read_to_string(dir.path().join("trusted_keys.toml")).unwrap();
    assert!(!file.contains("máy trạm 2"), "{file}");
    open(&mut h, &forged);
    assert_eq!(
        h.state().replay.as_ref().unwrap().status(),
        mt_record::verify::Status::Untrusted
    );
}

#[test]
fn only_a_supervisor_sees_the_trusted_keys_button() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    crate::util::supervisor_and_operator(&db, "cb02", "246802");
    let log = mt_ui::log::LogUi::new(
        mt_store::thread::StoreThread::start(&db).unwrap(),
        dir.path().join("exports"),
    );
    let app = mt_ui::MatThanApp::new(
        &egui::Context::default(),
        vec![],
        mt_ui::WallState {
            show_health: false,
            ..Default::default()
        },
        None,
        vec![],
    )
    .with_log(log);
    let mut h = crate::ui::harness(app);
    crate::ui::settle(&mut h);
    crate::ui::sign_in(&mut h, "cb02", "246802");
    assert!(h.query_by_label("Mở tệp chứng cứ").is_some(), "signed in");
    assert!(h.query_by_label("Khoá tin cậy").is_none());
}

/// A signed schema-2 archive with one real H.264 clip (made by ffmpeg, no cameras needed).
fn archive_with_a_clip(dir: &Path, key: &SigningKey) -> Option<(PathBuf, i64)> {
    let clip = dir.join("clip.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc=size=640x360:rate=15")
        .args([
            "-t", "3", "-c:v", "libx264", "-g", "15", "-pix_fmt", "yuv420p",
        ])
        .args(["-movflags", "+frag_keyframe+empty_moov", "-y"])
        .arg(&clip)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    let start = 1_764_000_000_000i64;
    let clip_bytes = std::fs::read(&clip).unwrap();
    let incident =
        serde_json::to_vec_pretty(&serde_json::json!({"id": 3, "title": "Va chạm giao thông"}))
            .unwrap();
    let inc_path = dir.join("incident.json");
    std::fs::write(&inc_path, &incident).unwrap();
    let entry = |name: &str, p: &Path, len: usize| serde_json::json!({"name": name, "bytes": len, "sha256": mt_record::recorder::sha256_file(p).unwrap()});
    let manifest = serde_json::to_vec_pretty(&serde_json::json!({
        "schema": "matthan-evidence/2", "app_version": "test", "created_ms": start + 10_000,
        "operator": "gs01", "workstation": "may-tram-1", "incident_id": 3,
        "from_ms": start, "to_ms": start + 3_000,
        "clips": [{"camera": "cam-1", "file": "clips/cam-1.mp4", "frames": 45,
                   "start_ms": start, "end_ms": start + 3_000, "codec": "H.264",
                   "width": 640, "height": 360}],
        "gaps": [], "audit_head": null,
        "public_key": hex::encode(key.verifying_key().as_bytes()),
        "files": [entry("clips/cam-1.mp4", &clip, clip_bytes.len()),
                  entry("incident.json", &inc_path, incident.len())],
    }))
    .unwrap();
    use ed25519_dalek::Signer;
    let sig = hex::encode(key.sign(&manifest).to_bytes());
    let out = dir.join("clip.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&out).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (n, b) in [
        ("clips/cam-1.mp4", clip_bytes.as_slice()),
        ("incident.json", incident.as_slice()),
        ("manifest.json", manifest.as_slice()),
        ("manifest.sig", sig.as_bytes()),
    ] {
        w.start_file(n, opts).unwrap();
        w.write_all(b).unwrap();
    }
    w.finish().unwrap();
    Some((out, start))
}

#[test]
fn an_archive_opens_off_the_ui_thread_into_a_private_folder_removed_on_close_and_can_be_cancelled()
{
    use mt_record::keys::TrustStore;
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[16u8; 32]);
    let Some((archive, start)) = archive_with_a_clip(dir.path(), &key) else {
        crate::util::cannot_run("ffmpeg with libx264 is not available");
        return;
    };
    let trust = TrustStore::in_memory(Some(key.verifying_key()), &[]);
    let loader = mt_ui::replay::ReplayLoader::start(&archive, trust.clone(), None).unwrap();
    let (r, _) = wait_for(Duration::from_secs(30), || loader.poll(mt_ui::Lang::Vi))
        .expect("the archive opens");
    assert_eq!(loader.progress(), 1.0);
    let r = r.unwrap().expect("not cancelled");
    assert!(r.verified(), "{:?}", r.report.problems);
    assert!(r.mark(&mt_ui::Tr::new(mt_ui::Lang::Vi)).is_none());
    assert_eq!(r.clips.len(), 1);
    assert_eq!(r.clips[0].camera, "cam-1");
    assert_eq!(r.clips[0].info.as_ref().unwrap().end_ms, start + 3_000);
    let tmp = r.temp_dir().unwrap().to_owned();
    assert!(tmp
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("matthan-replay-"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&tmp).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for f in std::fs::read_dir(&tmp).unwrap() {
            let m = f.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(m & 0o777, 0o600, "clips are readable by their owner only");
        }
    }
    assert!(
        wait_for(Duration::from_secs(10), || r.clips[0]
            .player
            .shared
            .latest()
            .map(|f| (f.width, f.height)))
        .is_some_and(|(s, _)| s == (640, 360)),
        "the copied clip plays"
    );
    drop(r);
    assert!(
        !tmp.exists(),
        "the folder is removed when the replay closes"
    );
    // Cancelled: nothing comes back.
    let cancelled = mt_ui::replay::load(&archive, &trust, &|_| {}, &AtomicBool::new(true)).unwrap();
    assert!(cancelled.is_none());
    // Opened against a store that does not know the key: amber, tiles marked.
    let r =
        mt_ui::replay::Replay::open(&archive, &TrustStore::in_memory(None, &[]), mt_ui::Lang::Vi)
            .unwrap();
    assert_eq!(r.status(), mt_record::verify::Status::Untrusted);
    assert!(r.mark(&mt_ui::Tr::new(mt_ui::Lang::Vi)).is_some());
}

/// Runs frames until the trust window's change has come back from the store thread.
fn trust_settled(h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>) {
    h.run_steps(1);
    wait_for(Duration::from_secs(5), || {
        h.run_steps(1);
        (!h.state().trust.as_ref().is_some_and(|t| t.busy())).then_some(())
    })
    .expect("the trust change was answered");
    h.run_steps(2);
}
