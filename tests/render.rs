//! The YUV→RGB shader on a real wgpu device (lavapipe without a GPU), naga validation of every
//! WGSL file, and the offscreen `matthan snapshot` command.

use mt_capture::{ColorMatrix, DecodedFrame};

/// Reference YUV for an 8-bit RGB colour (float maths, rounded), per ITU-R BT.601/709.
fn yuv_of(rgb: [u8; 3], matrix: ColorMatrix, full: bool) -> [u8; 3] {
    let (kr, kb) = match matrix {
        ColorMatrix::Bt601 => (0.299, 0.114),
        ColorMatrix::Bt709 => (0.2126, 0.0722),
    };
    let [r, g, b] = rgb.map(|c| c as f64 / 255.0);
    let y = kr * r + (1.0 - kr - kb) * g + kb * b;
    let pb = (b - y) / (2.0 * (1.0 - kb));
    let pr = (r - y) / (2.0 * (1.0 - kr));
    let (ys, yo, cs) = if full {
        (255.0, 0.0, 255.0)
    } else {
        (219.0, 16.0, 224.0)
    };
    [
        (yo + ys * y).round() as u8,
        (128.0 + cs * pb).round() as u8,
        (128.0 + cs * pr).round() as u8,
    ]
}

const BARS: [[u8; 3]; 8] = [
    [235, 235, 235],
    [235, 235, 16],
    [16, 235, 235],
    [16, 235, 16],
    [235, 16, 235],
    [235, 16, 16],
    [16, 16, 235],
    [16, 16, 16],
];

#[test]
fn colour_bars_convert_within_two_levels_for_bt601_bt709_limited_and_full() {
    let off = mt_render::offscreen::Offscreen::new().expect("wgpu adapter (lavapipe)");
    let (dev, q) = (&off.state.device, &off.state.queue);
    // One bar per 16-pixel column: 128×16 frame, bars are 16 wide (chroma 8 wide).
    for matrix in [ColorMatrix::Bt601, ColorMatrix::Bt709] {
        for full in [false, true] {
            let mut f = DecodedFrame::solid(128, 16, 0, 0, 0);
            f.matrix = matrix;
            f.full_range = full;
            for (i, bar) in BARS.iter().enumerate() {
                let [y, u, v] = yuv_of(*bar, matrix, full);
                for row in 0..16 {
                    for x in i * 16..(i + 1) * 16 {
                        f.y[row * 128 + x] = y;
                    }
                }
                for row in 0..8 {
                    for x in i * 8..(i + 1) * 8 {
                        f.u[row * 64 + x] = u;
                        f.v[row * 64 + x] = v;
                    }
                }
            }
            let rgba = mt_render::offscreen::render_frame(dev, q, &f, 128, 16).unwrap();
            for (i, bar) in BARS.iter().enumerate() {
                let x = i * 16 + 8; // bar centre, away from filtered edges
                let p = &rgba[(8 * 128 + x) * 4..][..3];
                for c in 0..3 {
                    let d = (p[c] as i32 - bar[c] as i32).abs();
                    assert!(
                        d <= 2,
                        "{matrix:?} full={full} bar {i}: got {:?}, want {:?}",
                        &p[..3],
                        bar
                    );
                }
            }
        }
    }
}

#[test]
fn wrong_matrix_would_be_caught_by_the_colour_check() {
    // Guard for the test above: decoding BT.709 data with BT.601 maths is off by far more
    // than two levels on saturated colours, so the check can fail.
    let off = mt_render::offscreen::Offscreen::new().expect("wgpu adapter (lavapipe)");
    let [y, u, v] = yuv_of([16, 235, 16], ColorMatrix::Bt709, false);
    let mut f = DecodedFrame::solid(16, 16, y, u, v);
    f.matrix = ColorMatrix::Bt601;
    let rgba = mt_render::offscreen::render_frame(&off.state.device, &off.state.queue, &f, 16, 16)
        .unwrap();
    let worst = (0..3)
        .map(|c| (rgba[8 * 64 + 32 + c] as i32 - [16, 235, 16][c]).abs())
        .max()
        .unwrap();
    assert!(worst > 10, "matrix mix-up not visible: off by {worst}");
}

#[test]
fn every_wgsl_shader_parses_and_validates_with_naga() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders"));
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "wgsl") {
            let src = std::fs::read_to_string(&p).unwrap();
            let module = naga::front::wgsl::parse_str(&src)
                .unwrap_or_else(|e| panic!("{}: {}", p.display(), e.emit_to_string(&src)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::all(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {e:?}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 1, "no shaders found in {}", dir.display());
}

#[test]
fn snapshot_command_renders_live_tiles_offscreen_to_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("wall.png");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_matthan"))
        .args([
            "snapshot", "--demo", "--layout", "2x2", "--after", "4s", "--size", "800x450", "--out",
        ])
        .arg(&out)
        .env("MATTHAN_CONFIG_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "snapshot failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let img = image::open(&out).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (800, 450));
    // The clips' blue box (#3050C0) must be on screen: video was decoded and drawn.
    let blue = img
        .pixels()
        .filter(|p| {
            (p[0] as i32 - 0x30).abs() < 14
                && (p[1] as i32 - 0x50).abs() < 14
                && (p[2] as i32 - 0xC0).abs() < 14
        })
        .count();
    assert!(
        blue > 500,
        "only {blue} pixels of the clips' blue box: no video drawn?"
    );
}

/// One full-screen video view of `slot`, as a wall tile adds it.
fn full_screen_view(ui: &mut egui::Ui, slot: &std::sync::Arc<mt_media::FrameSlot>) {
    let r = ui.max_rect();
    ui.painter().add(egui_wgpu::Callback::new_paint_callback(
        r,
        mt_render::VideoCallback {
            source: slot.clone(),
            crop: None,
        },
    ));
}

fn with_renderer<R>(
    off: &mt_render::offscreen::Offscreen,
    f: impl FnOnce(&mt_render::VideoRenderer) -> R,
) -> R {
    let r = off.state.renderer.read();
    f(r.callback_resources
        .get::<mt_render::VideoRenderer>()
        .expect("renderer installed"))
}

#[test]
fn the_upload_thread_fills_a_shown_streams_textures_and_the_ui_frame_copies_nothing() {
    use std::sync::Arc;
    use std::time::Duration;
    let off = mt_render::offscreen::Offscreen::new().expect("wgpu adapter (lavapipe)");
    let ctx = egui::Context::default();
    let slot = mt_media::FrameSlot::new();
    let solid = |rgb, seq| {
        let [y, u, v] = yuv_of(rgb, ColorMatrix::Bt601, false);
        // 1,000 px wide: rows padded to 1,024 bytes in the staging copy.
        let mut f = DecodedFrame::solid(1000, 40, y, u, v);
        f.seq = seq;
        Arc::new(f)
    };
    slot.publish(solid([235, 16, 16], 1));
    // What the window's UI thread does each frame (layout, tessellation, `prepare`): the view
    // marks its stream shown; it copies no picture.
    off.prepare_frame(&ctx, [200, 40], |ui| full_screen_view(ui, &slot));
    let up = |n| {
        crate::util::wait_for(Duration::from_secs(5), || {
            (with_renderer(&off, |r| r.uploads()) >= n).then_some(())
        })
    };
    assert!(up(1).is_some(), "the upload thread put the red picture in");
    // A new picture rings the thread by itself (no UI frame in between).
    slot.publish(solid([16, 235, 16], 2));
    assert!(
        up(2).is_some(),
        "the upload thread put the green picture in"
    );
    assert_eq!(
        with_renderer(&off, |r| r.flush()),
        0,
        "nothing was left for the drawing thread to copy"
    );
    let px = off
        .render(&ctx, [200, 40], |ui| full_screen_view(ui, &slot))
        .unwrap();
    let c = &px[(20 * 200 + 100) * 4..][..3];
    assert!(
        c[1] > 200 && c[0] < 60 && c[2] < 60,
        "the tile is green: {c:?}"
    );
}

#[test]
fn fifty_switches_of_streams_leave_one_live_streams_textures_and_nothing_else() {
    use std::sync::Arc;
    use std::time::Duration;
    let off = mt_render::offscreen::Offscreen::new().expect("wgpu adapter (lavapipe)");
    off.state
        .renderer
        .write()
        .callback_resources
        .get_mut::<mt_render::VideoRenderer>()
        .unwrap()
        .set_idle_free(Duration::from_secs(3));
    let ctx = egui::Context::default();
    let live = mt_media::FrameSlot::new();
    live.publish(Arc::new(DecodedFrame::solid(640, 360, 80, 128, 128)));
    // Another camera, shown once and then not (a tile switched to another camera): it stays
    // alive, so only the idle time frees its textures.
    let other = mt_media::FrameSlot::new();
    other.publish(Arc::new(DecodedFrame::solid(320, 180, 80, 128, 128)));
    off.render(&ctx, [320, 180], |ui| full_screen_view(ui, &other))
        .unwrap();
    for i in 0..50u64 {
        // A playback or a replay: a new player, a new stream, shown for a few frames.
        let played = mt_media::FrameSlot::new();
        let mut f = DecodedFrame::solid(1280, 720, 120, 128, 128);
        f.seq = i;
        played.publish(Arc::new(f));
        for _ in 0..2 {
            off.render(&ctx, [320, 180], |ui| {
                full_screen_view(ui, &live);
                full_screen_view(ui, &played);
            })
            .unwrap();
        }
        drop(played);
    }
    let one_live = 640 * 360 + 2 * 320 * 180;
    let settled = crate::util::wait_for(Duration::from_secs(8), || {
        // The live camera stays on screen.
        off.render(&ctx, [320, 180], |ui| full_screen_view(ui, &live))
            .unwrap();
        let held = with_renderer(&off, |r| (r.picture_count(), r.texture_bytes()));
        (held == (1, one_live)).then_some(held)
    });
    drop(other);
    assert!(
        settled.is_some(),
        "the closed streams' textures freed, the live one's kept: {:?}",
        with_renderer(&off, |r| (r.picture_count(), r.texture_bytes()))
    );
}

#[test]
fn a_picture_the_gpu_cannot_take_costs_its_own_stream_only() {
    use std::sync::Arc;
    use std::time::Duration;
    let off = mt_render::offscreen::Offscreen::new().expect("wgpu adapter (lavapipe)");
    let ctx = egui::Context::default();
    let max = off.state.device.limits().max_texture_dimension_2d;
    // Wider than any texture this device can hold (a broken or hostile camera's size).
    let bad = mt_media::FrameSlot::new();
    bad.publish(Arc::new(DecodedFrame::solid(max + 8, 2, 120, 128, 128)));
    let good = mt_media::FrameSlot::new();
    let [y, u, v] = yuv_of([16, 235, 16], ColorMatrix::Bt601, false);
    good.publish(Arc::new(DecodedFrame::solid(64, 36, y, u, v)));
    let view = |ui: &mut egui::Ui| {
        let r = ui.max_rect();
        for (s, half) in [
            (&bad, r.split_left_right_at_fraction(0.5).0),
            (&good, r.split_left_right_at_fraction(0.5).1),
        ] {
            ui.painter().add(egui_wgpu::Callback::new_paint_callback(
                half,
                mt_render::VideoCallback {
                    source: s.clone(),
                    crop: None,
                },
            ));
        }
    };
    // Through the upload thread (no flush): the good stream's picture goes in.
    off.prepare_frame(&ctx, [200, 40], view);
    let up = crate::util::wait_for(Duration::from_secs(5), || {
        (with_renderer(&off, |r| r.uploads()) >= 1).then_some(())
    });
    assert!(up.is_some(), "the good stream's picture was uploaded");
    let px = off.render(&ctx, [200, 40], view).unwrap();
    let c = &px[(20 * 200 + 150) * 4..][..3];
    assert!(c[1] > 200 && c[0] < 60, "the good tile is green: {c:?}");
    assert_eq!(
        with_renderer(&off, |r| r.picture_count()),
        1,
        "only the good stream has textures"
    );
    // The thread lives on: a new good picture still arrives without a UI frame.
    let n = with_renderer(&off, |r| r.uploads());
    good.publish(Arc::new(DecodedFrame::solid(64, 36, y, u, v)));
    assert!(
        crate::util::wait_for(Duration::from_secs(5), || {
            (with_renderer(&off, |r| r.uploads()) > n).then_some(())
        })
        .is_some(),
        "the upload thread still works"
    );
}
