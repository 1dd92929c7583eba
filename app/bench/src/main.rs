//! `matthan-bench`: the workstation's benchmarks, outside the product binary. Each prints a
//! Markdown table with ratios against a baseline measured in the same run (the machines are
//! shared and noisy); the README keeps the latest tables.
//!
//! ```text
//! matthan-bench wall [--counts 16,32,64] [--secs 30]     receive + decode + upload, UI CPU per frame
//! matthan-bench live [--counts 16,64] [--secs 20]        glass latency from the QR in the picture, 4K
//! matthan-bench map [--cameras-n 3000]                    map frame, hit-testing, coverage
//! matthan-bench log                                       durable inserts and search of the log
//! matthan-bench evidence [--minutes 120]                  export and seeks
//! matthan-bench search                                    region search: index, recording cost, deep scan
//! matthan-bench textures [--switches 50]                 texture memory across live/playback/replay
//! matthan-bench stress [--minutes 20] [--secs 10]        UI frames while an archive opens, tiles
//!                                                         decode, the log is locked, seeks storm
//! ```

mod evidence;
mod live;
mod log;
mod map;
mod measure;
mod search;
mod stress;
mod wall;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "matthan-bench",
    version,
    about = "Benchmarks of the Mắt Thần workstation"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Receive + decode + upload benchmark against the simulated cameras.
    Wall {
        #[arg(long, default_value = "8,16,32,48,64")]
        counts: String,
        #[arg(long, default_value_t = 30)]
        secs: u64,
    },
    /// Live-wall benchmark: glass latency read from the QR code in the picture (16 live
    /// cameras at 16 and 64 tiles), and a 4K H.265 main stream on 1+7 and 1×1 walls.
    Live {
        #[arg(long, default_value = "16,64")]
        counts: String,
        #[arg(long, default_value_t = 20)]
        secs: u64,
        /// Run only one part: `live` or `4k`.
        #[arg(long)]
        only: Option<String>,
        /// Frame rate of the 16 live QR cameras.
        #[arg(long, default_value_t = 15)]
        qr_fps: u32,
    },
    /// Map benchmark: frame preparation, hit-testing and coverage with N generated cameras
    /// over the district data.
    Map {
        #[arg(long, default_value_t = 3000)]
        cameras_n: usize,
        /// Folder with bac_tu_liem_*.geojson (the shared OpenStreetMap extract).
        #[arg(long, default_value = "../shared/data/map")]
        map_dir: PathBuf,
    },
    /// Incident-log benchmark: durable bookmark inserts and search over a generated log.
    Log {
        #[arg(long, default_value_t = 1_000_000)]
        incidents: usize,
        #[arg(long, default_value_t = 3_000_000)]
        notes: usize,
        /// Where to build the generated database (it is large: ~1 GB at the defaults).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Evidence benchmark: export of 4 cameras × N minutes against cp + sha256sum, and seeks
    /// in a one-hour recording.
    Evidence {
        #[arg(long, default_value_t = 120)]
        minutes: u64,
        #[arg(long, default_value_t = 200)]
        seeks: usize,
    },
    /// Region search benchmark: index search over a generated 16 cameras × 7 days index, the
    /// index's cost while recording 16 cameras, deep scan of an hour of 1080p.
    Search {
        #[arg(long, default_value_t = 16)]
        camera_count: usize,
        #[arg(long, default_value_t = 7)]
        days: i64,
        #[arg(long, default_value_t = 40)]
        queries: usize,
        /// Seconds of recording per phase (with and without the index, twice each).
        #[arg(long, default_value_t = 20)]
        record_secs: u64,
        /// Minutes of 1080p footage for the deep scan.
        #[arg(long, default_value_t = 60)]
        minutes: i64,
        /// Where to put the generated footage and index (default: a temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Run one part only: index, record or deep.
        #[arg(long)]
        only: Option<String>,
    },
    /// The UI frames of a 16-tile live wall while a 1 GB archive opens, 200 basemap tiles
    /// decode, another process holds the log write-locked for 10 s and seeks storm, against
    /// the same wall's quiet frames.
    Stress {
        /// Minutes of recording per camera (16 cameras; the archive is all of it: ~1.2 GB at 20).
        #[arg(long, default_value_t = 20)]
        minutes: u64,
        /// Seconds of the quiet and the seek-storm phases.
        #[arg(long, default_value_t = 10)]
        secs: u64,
        /// Basemap tiles to decode in the second phase.
        #[arg(long, default_value_t = 200)]
        tiles: u64,
    },
    /// (Used by `stress`.) Holds an SQLite file write-locked for a while, from this process.
    #[command(hide = true)]
    HoldLock {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        secs: u64,
    },
    /// GPU texture memory after switches between live, playback and replay (new streams).
    Textures {
        #[arg(long, default_value_t = 50)]
        switches: usize,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().cmd {
        Cmd::Textures { switches } => wall::textures(switches),
        Cmd::Stress {
            minutes,
            secs,
            tiles,
        } => stress::run(minutes, secs, tiles),
        Cmd::HoldLock { db, secs } => stress::hold_lock(&db, secs),
        Cmd::Wall { counts, secs } => {
            let counts: Vec<usize> = counts
                .split(',')
                .map(|c| c.trim().parse())
                .collect::<Result<_, _>>()
                .context("--counts: expected e.g. 8,16,32")?;
            wall::run(&counts, Duration::from_secs(secs))
        }
        Cmd::Live {
            counts,
            secs,
            only,
            qr_fps,
        } => {
            let counts: Vec<usize> = counts
                .split(',')
                .map(|c| c.trim().parse())
                .collect::<Result<_, _>>()
                .context("--counts: expected e.g. 16,64")?;
            let (live, uhd) = match only.as_deref() {
                None => (true, true),
                Some("live") => (true, false),
                Some("4k") => (false, true),
                Some(o) => anyhow::bail!("--only: expected live or 4k, not {o:?}"),
            };
            live::run(&counts, Duration::from_secs(secs), live, uhd, qr_fps)
        }
        Cmd::Log {
            incidents,
            notes,
            dir,
        } => log::log(incidents, notes, dir.unwrap_or_else(std::env::temp_dir)),
        Cmd::Map { cameras_n, map_dir } => map::map(cameras_n, &map_dir),
        Cmd::Evidence { minutes, seeks } => evidence::evidence(minutes, seeks),
        Cmd::Search {
            camera_count,
            days,
            queries,
            record_secs,
            minutes,
            dir,
            only,
        } => search::run(camera_count, days, queries, record_secs, minutes, dir, only),
    }
}
