//! The installable build: `.ci/package-deb` packages the test profile's binary (no second
//! build); the package is unpacked into a scratch root with `dpkg-deb -x`, and the binary run
//! from there finds its assets under the root's /usr/share/matthan, prints its version and
//! draws the demo wall offscreen (real tiles: coloured pixels in the PNG).

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("the command runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_deb_installs_into_a_scratch_root_and_runs_from_there() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    // In a Vietnamese locale, as an IT officer's machine may be (tools' messages translated).
    let (ok, out) = run(Command::new(repo.join(".ci/package-deb"))
        .arg(env!("CARGO_BIN_EXE_matthan"))
        .arg(dir.path())
        .arg("gzip")
        .env("LANG", "vi_VN.UTF-8")
        .env("LANGUAGE", "vi"));
    assert!(ok, "package-deb: {out}");
    let deb = out.lines().last().unwrap().trim().to_owned();
    assert!(deb.ends_with(".deb") && Path::new(&deb).exists(), "{out}");

    let (ok, info) = run(Command::new("dpkg-deb").args(["-I", &deb]));
    assert!(ok, "{info}");
    for want in [
        "Package: matthan",
        "libavcodec",
        "libavformat",
        "libvulkan1",
        "Recommends:",
    ] {
        assert!(info.contains(want), "{want} in the control file:\n{info}");
    }
    let (ok, list) = run(Command::new("dpkg-deb").args(["-c", &deb]));
    assert!(ok, "{list}");
    for want in [
        "./usr/bin/matthan",
        "./usr/share/applications/matthan.desktop",
        "./usr/share/icons/hicolor/scalable/apps/matthan.svg",
        "./usr/share/matthan/sim/rtsp_server.py",
        "./usr/share/matthan/clips/scene1-main.h264",
        "./usr/share/matthan/map/map.toml",
    ] {
        assert!(list.contains(want), "{want} in the package:\n{list}");
    }

    let root = dir.path().join("root");
    let (ok, out) = run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    assert!(ok, "{out}");
    let bin = root.join("usr/bin/matthan");
    let (ok, out) = run(Command::new(&bin).arg("--version"));
    assert!(ok, "{out}");
    assert_eq!(out.trim(), format!("matthan {}", env!("CARGO_PKG_VERSION")));

    let png = dir.path().join("wall.png");
    let (ok, out) = run(Command::new(&bin)
        .args([
            "snapshot", "--demo", "--layout", "2x2", "--after", "4s", "--size", "800x450",
        ])
        .arg("--out")
        .arg(&png)
        .env("RUST_LOG", "info")
        .env_remove("MATTHAN_ASSETS")
        .current_dir(dir.path()));
    assert!(ok, "snapshot from the unpacked root: {out}");
    let share = root.join("usr/share/matthan").canonicalize().unwrap();
    assert!(
        out.contains(&format!("assets: {}", share.display())),
        "the installed assets are used, not the source tree's:\n{out}"
    );
    let img = image::open(&png).unwrap().to_rgb8();
    let coloured = img
        .pixels()
        .filter(|p| {
            let (mx, mn) = (p.0.iter().max().unwrap(), p.0.iter().min().unwrap());
            mx - mn > 120
        })
        .count();
    assert!(
        coloured > 20_000,
        "the demo's tiles show pictures ({coloured} saturated pixels)"
    );
}
