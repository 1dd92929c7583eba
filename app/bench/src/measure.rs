//! What the benchmarks measure with: CPU time of the process, a thread, a child or another
//! process, resident memory, percentiles, the FFmpeg CLI baseline, access units of a clip.

use std::process::Command;

use anyhow::{bail, Context as _};

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

pub(crate) fn rss_mb(field: &str) -> f64 {
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

pub(crate) fn percentile(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

/// Splits an Annex B clip encoded with access-unit delimiters into access units.
pub(crate) fn access_units(data: &[u8]) -> Vec<&[u8]> {
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

/// The clip's access units, each with whether it is a keyframe (holds an IDR slice).
pub(crate) fn keyed_access_units(b: &[u8]) -> Vec<(Vec<u8>, bool)> {
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

/// A camera of the simulated server, as the camera file would give it (parsed by the same
/// code, so a bench camera is a real one).
pub(crate) fn camera(id: &str, url: &str) -> anyhow::Result<mt_core::CameraConfig> {
    let text = format!("[[camera]]\nid = \"{id}\"\nname = \"Bench {id}\"\nlat = 21.07\nlon = 105.79\nmain_url = \"{url}\"\n");
    let f = mt_core::parse_cameras("bench", &text)?;
    f.cameras.into_iter().next().context("bench camera")
}
