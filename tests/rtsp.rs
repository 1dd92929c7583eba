//! Receive and decode against GStreamer's RTSP server (started here on 127.0.0.1), and the
//! faults a real deployment meets. Each test starts its own server on its own port.

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mt_capture::sim::SimServer;
use mt_capture::{Capture, StreamShared, Timeouts};
use mt_core::{LossReason, StreamState};

use crate::util::{assets, camera, wait_for};

fn lost_reason(s: &StreamShared) -> Option<LossReason> {
    match s.state() {
        StreamState::Lost { reason, .. } => Some(reason),
        _ => None,
    }
}

/// Frames received by `s` over `window`, as a ratio of the 15 fps the server sends.
fn rate_ratio(streams: &[&Arc<StreamShared>], window: Duration) -> Vec<f64> {
    let before: Vec<u64> = streams.iter().map(|s| s.stats().frames_received).collect();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let secs = t0.elapsed().as_secs_f64();
    streams
        .iter()
        .zip(before)
        .map(|(s, b)| (s.stats().frames_received - b) as f64 / (15.0 * secs))
        .collect()
}

#[test]
fn sixteen_streams_are_received_and_decoded_at_the_sent_rate() {
    let sim = SimServer::start(&assets(), 0, 16).expect("GStreamer RTSP server");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let cams: Vec<_> = (1..=16)
        .map(|k| {
            cap.start_camera(camera(
                &format!("c{k}"),
                &sim.url(&format!("cam{k}/main")),
                "",
            ))
            .unwrap()
        })
        .collect();
    for c in &cams {
        c.main.set_wanted(true);
    }
    let all_live = wait_for(Duration::from_secs(15), || {
        cams.iter().all(|c| c.main.latest().is_some()).then_some(())
    });
    assert!(
        all_live.is_some(),
        "not all 16 decoded a frame: {:?}",
        cams.iter().map(|c| c.main.state()).collect::<Vec<_>>()
    );

    let dec_before: Vec<u64> = cams.iter().map(|c| c.main.stats().frames_decoded).collect();
    let t0 = Instant::now();
    let streams: Vec<_> = cams.iter().map(|c| &c.main).collect();
    let ratios = rate_ratio(&streams, Duration::from_secs(8));
    let secs = t0.elapsed().as_secs_f64();
    for (i, r) in ratios.iter().enumerate() {
        assert!(
            (r - 1.0).abs() <= 0.05,
            "camera {} received {:.3}× the sent rate",
            i + 1,
            r
        );
        let decoded = cams[i].main.stats().frames_decoded - dec_before[i];
        let dr = decoded as f64 / (15.0 * secs);
        assert!(
            (dr - 1.0).abs() <= 0.05,
            "camera {} decoded {:.3}× the sent rate",
            i + 1,
            dr
        );
        assert_eq!(
            cams[i].main.stats().frames_dropped,
            0,
            "camera {} dropped frames",
            i + 1
        );
    }
    let f = cams[0].main.latest().unwrap();
    assert_eq!((f.width, f.height, f.codec), (640, 360, "H.264"));
}

/// The clips carry a 48×48 box of #3050C0 at (8, 8). Decode it from the live stream, convert
/// it with the GPU shader, and compare.
#[test]
fn decoded_pixel_of_a_live_stream_matches_the_clip_colour_after_gpu_conversion() {
    let sim = SimServer::start(&assets(), 0, 1).expect("GStreamer RTSP server");
    let cap = Capture::new(Timeouts::default()).unwrap();
    for url in [sim.url("cam1/main"), sim.url("h265/main")] {
        let cam = cap.start_camera(camera("px", &url, "")).unwrap();
        cam.main.set_wanted(true);
        let (frame, _) =
            wait_for(Duration::from_secs(10), || cam.main.latest()).expect("a decoded frame");
        let off = mt_render::offscreen::Offscreen::new().expect("wgpu adapter (lavapipe)");
        let rgba = mt_render::offscreen::render_frame(
            &off.state.device,
            &off.state.queue,
            &frame,
            frame.width,
            frame.height,
        )
        .unwrap();
        let px = |x: u32, y: u32| {
            let i = ((y * frame.width + x) * 4) as usize;
            [rgba[i], rgba[i + 1], rgba[i + 2]]
        };
        let got = px(32, 32);
        let want = [0x30, 0x50, 0xC0];
        for c in 0..3 {
            assert!(
                (got[c] as i32 - want[c] as i32).abs() <= 10,
                "{url}: pixel {got:?}, clip colour {want:?}"
            );
        }
        assert_eq!(
            frame.codec,
            if url.contains("h265") {
                "H.265"
            } else {
                "H.264"
            }
        );
    }
}

#[test]
fn killed_server_shows_lost_within_3s_and_live_within_5s_after_restart() {
    let mut sim = SimServer::start(&assets(), 0, 2).expect("GStreamer RTSP server");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let cam = cap
        .start_camera(camera("k", &sim.url("cam1/main"), ""))
        .unwrap();
    cam.main.set_wanted(true);
    wait_for(Duration::from_secs(10), || {
        cam.main.state().is_live().then_some(())
    })
    .expect("live first");

    sim.kill();
    let (_, lost_after) =
        wait_for(Duration::from_secs(5), || lost_reason(&cam.main)).expect("lost state");
    assert!(
        lost_after <= Duration::from_secs(3),
        "lost shown after {lost_after:?}"
    );

    std::thread::sleep(Duration::from_secs(2)); // let the backoff grow a little
    let seq_before = cam.main.latest().map(|f| f.seq).unwrap_or(0);
    sim.restart().expect("restart on the same port");
    let (_, live_after) = wait_for(Duration::from_secs(8), || {
        (cam.main.state().is_live() && cam.main.latest().is_some_and(|f| f.seq > seq_before))
            .then_some(())
    })
    .expect("live again");
    assert!(
        live_after <= Duration::from_secs(5),
        "live again after {live_after:?}"
    );
    assert!(cam.main.stats().reconnects >= 1);
}

#[test]
fn frozen_server_is_detected_as_stalled_and_recovers() {
    let sim = SimServer::start(&assets(), 0, 1).expect("GStreamer RTSP server");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let cam = cap
        .start_camera(camera("s", &sim.url("cam1/main"), ""))
        .unwrap();
    wait_for(Duration::from_secs(10), || {
        cam.main.state().is_live().then_some(())
    })
    .expect("live first");
    // SIGSTOP: the socket stays open but nothing is sent — what a hung camera does.
    unsafe { libc::kill(sim.pid() as i32, libc::SIGSTOP) };
    let r = wait_for(Duration::from_secs(5), || lost_reason(&cam.main));
    unsafe { libc::kill(sim.pid() as i32, libc::SIGCONT) };
    let (reason, after) = r.expect("stall noticed");
    assert_eq!(reason, LossReason::Stalled);
    assert!(
        after <= Duration::from_secs(3),
        "stall noticed after {after:?}"
    );
    wait_for(Duration::from_secs(8), || {
        cam.main.state().is_live().then_some(())
    })
    .expect("live after the server resumes");
}

/// A listener that accepts and answers every connection with junk.
fn garbage_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::Builder::new()
        .name("garbage-server".into())
        .spawn(move || {
            for mut s in l.incoming().flatten() {
                let junk: Vec<u8> = (0..4096u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                    .collect();
                let _ = s.write_all(&junk);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .unwrap();
    port
}

/// A listener that accepts and then says nothing (a hung device).
fn silent_server() -> (u16, TcpListener) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    (l.local_addr().unwrap().port(), l)
}

#[test]
fn each_fault_gets_its_own_state_and_the_healthy_feed_keeps_its_rate() {
    let sim = SimServer::start(&assets(), 0, 2).expect("GStreamer RTSP server");
    let t = Timeouts {
        request: Duration::from_secs(2),
        ..Timeouts::default()
    };
    let cap = Capture::new(t).unwrap();
    let healthy = cap
        .start_camera(camera("ok", &sim.url("cam1/main"), ""))
        .unwrap();
    healthy.main.set_wanted(true);
    wait_for(Duration::from_secs(10), || {
        healthy.main.state().is_live().then_some(())
    })
    .expect("healthy live");

    let closed_port = mt_capture::sim::free_port();
    let (silent_port, _silent) = silent_server();
    let garbage_port = garbage_server();
    let faults = [
        (
            "refused",
            format!("rtsp://127.0.0.1:{closed_port}/cam"),
            "",
            LossReason::Refused,
        ),
        (
            "silent",
            format!("rtsp://127.0.0.1:{silent_port}/cam"),
            "",
            LossReason::Unreachable,
        ),
        (
            "garbage",
            format!("rtsp://127.0.0.1:{garbage_port}/cam"),
            "",
            LossReason::Protocol,
        ),
        ("404", sim.url("no/such/stream"), "", LossReason::NotFound),
        (
            "401",
            sim.url("secure/main"),
            "username = \"admin\"\npassword = \"hunter2-wrong\"",
            LossReason::Unauthorized,
        ),
        ("mjpeg", sim.url("mjpeg"), "", LossReason::UnsupportedCodec),
    ];
    let handles: Vec<_> = faults
        .iter()
        .map(|(id, url, extra, _)| {
            let h = cap.start_camera(camera(id, url, extra)).unwrap();
            h.main.set_wanted(true);
            h
        })
        .collect();
    let ratio = rate_ratio(&[&healthy.main], Duration::from_secs(6))[0];
    for ((id, _, _, want), h) in faults.iter().zip(&handles) {
        // The simulated server is single-threaded and busy rebuilding the MJPEG pipeline for
        // each retry, so a request can time out now and then; the state must settle on the
        // fault's own reason.
        let got = wait_for(Duration::from_secs(8), || {
            (lost_reason(&h.main) == Some(*want)).then_some(())
        });
        assert!(
            got.is_some(),
            "{id}: expected {want:?}, state {:?}",
            h.main.state()
        );
        if let StreamState::Lost { detail, .. } = h.main.state() {
            assert!(
                !detail.contains("hunter2"),
                "{id}: password in detail: {detail}"
            );
            assert!(!detail.is_empty(), "{id}: no detail");
        }
    }
    assert!(
        (ratio - 1.0).abs() <= 0.05,
        "healthy feed ran at {ratio:.3}× while the others failed"
    );
    assert!(healthy.main.state().is_live());
}

#[test]
fn unwanted_stream_is_received_and_only_a_keyframe_now_and_then_decoded_to_keep_its_state_true() {
    let sim = SimServer::start(&assets(), 0, 1).expect("GStreamer RTSP server");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let cam = cap
        .start_camera(camera("u", &sim.url("cam1/main"), ""))
        .unwrap();
    // Not on screen: received, and a keyframe decoded every 4 s, so "live" still means a
    // picture decoded (and the map's hover has a recent one).
    wait_for(Duration::from_secs(10), || {
        cam.main.state().is_live().then_some(())
    })
    .expect("live: a probe picture decoded");
    let before = cam.main.stats();
    std::thread::sleep(Duration::from_secs(6));
    let after = cam.main.stats();
    let received = after.frames_received - before.frames_received;
    let decoded = after.frames_decoded - before.frames_decoded;
    assert!(received >= 80, "received {received} frames in 6 s");
    assert!(
        (1..=3).contains(&decoded),
        "{decoded} of {received} frames decoded for a stream no view shows"
    );
    assert!(cam.main.state().is_live(), "still live between probes");
    cam.main.set_wanted(true);
    let seq = cam.main.latest().map(|f| f.seq).unwrap_or(0);
    wait_for(Duration::from_secs(5), || {
        cam.main.latest().filter(|f| f.seq > seq + 10).map(|_| ())
    })
    .expect("decodes every frame once wanted");
}

#[test]
fn maximised_main_stream_connects_on_demand_while_the_sub_stream_keeps_the_picture() {
    let sim = SimServer::start(&assets(), 0, 1).expect("GStreamer RTSP server");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let cfg = camera(
        "m",
        &sim.url("cam1/main"),
        &format!("sub_url = \"{}\"", sim.url("cam1/sub")),
    );
    let cam = cap.start_camera(cfg).unwrap();
    let sub = cam.sub.clone().unwrap();
    sub.set_wanted(true);
    let (f, _) = wait_for(Duration::from_secs(10), || sub.latest()).expect("sub picture");
    assert_eq!((f.width, f.height), (320, 180));
    assert_eq!(
        cam.main.state(),
        StreamState::Idle,
        "main connects only on demand"
    );
    cam.main.set_wanted(true);
    let (f, _) = wait_for(Duration::from_secs(5), || cam.main.latest()).expect("main picture");
    assert_eq!((f.width, f.height), (640, 360));
    assert!(
        sub.latest().is_some(),
        "the sub picture stays until replaced"
    );
}

#[test]
fn udp_transport_receives_and_decodes_too() {
    let sim = SimServer::start(&assets(), 0, 1).expect("GStreamer RTSP server");
    let cap = Capture::new(Timeouts::default()).unwrap();
    let cam = cap
        .start_camera(camera("udp", &sim.url("cam1/main"), "transport = \"udp\""))
        .unwrap();
    cam.main.set_wanted(true);
    let (f, _) = wait_for(Duration::from_secs(10), || cam.main.latest()).expect("a frame over UDP");
    assert_eq!((f.width, f.height), (640, 360));
}
