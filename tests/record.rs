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
            let secs = ((s.end_ms - s.start_ms) / 1000 + 1) as usize;
            assert_eq!(per_s.len(), secs, "{}: one value per second", s.file);
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
    .unwrap();
    let p = progress.lock().clone();
    assert_eq!(p.first(), Some(&0.0));
    assert_eq!(p.last(), Some(&1.0));
    assert!(
        p.windows(2).all(|w| w[0] <= w[1]),
        "progress only goes up: {p:?}"
    );
    assert!(!out.with_extension("partial").exists());
    let rep = mt_record::verify::verify(&out, &[*key.verifying_key().as_bytes()]);
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
    let r = mt_record::verify::verify(p, trusted);
    assert!(!r.ok());
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
    assert!(mt_record::verify::verify(&good, &trusted).ok());
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
    // Re-signed end to end with another key (manifest's key replaced too): only a trust list
    // tells; the fingerprint is always shown.
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
    let probs = problems(&p, &trusted);
    assert!(
        probs
            .iter()
            .any(|x| x.contains("not a trusted workstation key")),
        "{probs:?}"
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
        let mut d = mt_store::Db::open(&db).unwrap();
        d.add_operator(
            None,
            "gs01",
            "Trần Văn Giám",
            mt_store::Role::Supervisor,
            "1357",
        )
        .unwrap();
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
    crate::ui::sign_in(&mut h, "gs01", "1357");
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
    let rep = mt_record::verify::verify(&path, &[*key.verifying_key().as_bytes()]);
    assert!(rep.ok(), "{:?}", rep.problems);
    let m = rep.manifest.unwrap();
    assert_eq!(m.operator, "gs01");
    assert_eq!(m.incident_id, Some(incident));
    assert!(m.clips.iter().all(|c| c.frames > 30), "{:?}", m.clips);
    let inc_json: serde_json::Value =
        serde_json::from_slice(&unzip(&path, "incident.json")).unwrap();
    assert_eq!(inc_json["title"], "Cướp giật điện thoại");

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

    let mut r = mt_ui::replay::Replay::open(&out, mt_ui::Lang::Vi).unwrap();
    assert!(r.verified(), "{:?}", r.report.problems);
    assert_eq!(r.clips.len(), 3);
    assert_eq!(r.bookmarks.len(), 1);
    // The first frame of every clip decodes.
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
    let r = mt_ui::replay::Replay::open(&bad, mt_ui::Lang::Vi).unwrap();
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
        eprintln!("SKIPPED: cannot mount a small tmpfs here (not root, or no mount rights)");
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
