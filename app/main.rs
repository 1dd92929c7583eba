//! `matthan`: the Mắt Thần workstation.
//!
//! ```text
//! matthan [--cameras FILE]               open the workstation
//! matthan demo [--streams N]             simulated cameras around Xuân Đỉnh + the workstation
//! matthan snapshot --layout 4x4 --after 5s --out wall.png [--cameras FILE | --demo]
//! ```
//!
//! `--map FILE` names the map file (map.toml); default: map.toml in the config directory,
//! else the demo map in assets/map.

mod demo;
mod evidence;
mod officers;
mod probe_cli;
mod search_cli;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use mt_capture::{CameraHandle, Capture, Timeouts};
use mt_core::{load_cameras, CameraFile};
use mt_ui::{MatThanApp, WallLayout, WallState};

#[derive(Parser)]
#[command(
    name = "matthan",
    version,
    about = "Mắt Thần — video wall and log for ward police control rooms"
)]
struct Cli {
    /// Camera file (TOML). Default: cameras.toml in the user's config directory.
    #[arg(long, global = true)]
    cameras: Option<PathBuf>,
    /// Map file (TOML naming GeoJSON layers). Default: map.toml in the user's config
    /// directory, else the demo map of Xuân Đỉnh in assets/map.
    #[arg(long, global = true)]
    map: Option<PathBuf>,
    /// Do not record (the window and the demo record every camera by default).
    #[arg(long, global = true)]
    no_record: bool,
    /// Recording quota in GB (oldest footage not locked by an incident goes first).
    #[arg(long, global = true, default_value_t = 50.0)]
    rec_quota_gb: f64,
    /// Recordings older than this many days are deleted (unless an incident locked them).
    #[arg(long, global = true, default_value_t = 30)]
    rec_max_age_days: u64,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start simulated cameras (GStreamer RTSP server on 127.0.0.1) and open the workstation.
    Demo {
        /// Number of simulated cameras.
        #[arg(long, default_value_t = 16)]
        streams: usize,
    },
    /// Render the wall offscreen (no display needed) after a while and write a PNG.
    Snapshot {
        #[arg(long, default_value = "4x4")]
        layout: String,
        /// How long to receive before drawing, e.g. 5s or 1500ms.
        #[arg(long, default_value = "5s")]
        after: String,
        #[arg(long, default_value = "wall.png")]
        out: PathBuf,
        /// Picture size in pixels, e.g. 1600x900.
        #[arg(long, default_value = "1600x900")]
        size: String,
        /// Use the simulated demo cameras instead of a camera file.
        #[arg(long)]
        demo: bool,
        /// UI language: vi or en.
        #[arg(long, default_value = "vi")]
        lang: String,
        /// What the centre shows: wall, map or split.
        #[arg(long, default_value = "wall")]
        view: String,
        /// Map mode when the map is shown: watch, edit or plan.
        #[arg(long, default_value = "watch")]
        map_mode: String,
    },
    /// Record the camera file's cameras (main streams, no re-encoding) into MP4 segments
    /// until stopped.
    Record {
        /// Recording directory (default: recordings/ beside the log).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 60.0)]
        segment_secs: f64,
        /// Stop after this many seconds (default: run until killed).
        #[arg(long)]
        secs: Option<u64>,
    },
    /// Search recorded footage for changes in a region of the picture: one JSON line per hit
    /// (camera, start, end as ISO 8601 with offset, score) and per gap in the recording.
    /// Exit 0 when the search ran, whatever it found.
    Search {
        /// Camera id (repeat, or separate with commas, for several).
        #[arg(long, required = true, value_delimiter = ',')]
        camera: Vec<String>,
        /// X,Y,W,H in fractions of the picture (0–1), e.g. 0.5,0.2,0.3,0.4.
        #[arg(long)]
        region: String,
        /// 2026-12-01T18:00:00+07:00, "2026-12-01 18:00" (Vietnam time), now-2h, Unix ms.
        #[arg(long)]
        from: String,
        #[arg(long, default_value = "now")]
        to: String,
        /// Decode the keyframes even where the motion index has the footage.
        #[arg(long)]
        deep: bool,
        /// 0 (only large changes) – 1 (small ones).
        #[arg(long, default_value_t = 0.5)]
        sensitivity: f32,
        /// Recording directory (default: recordings/ beside the log).
        #[arg(long)]
        rec_dir: Option<PathBuf>,
    },
    /// Export evidence: one signed archive with the cameras' clips (and the incident).
    Export {
        /// Incident number in the log: its cameras, time range, notes, bookmarks, stills.
        #[arg(long)]
        incident: Option<i64>,
        /// Comma-separated camera ids (instead of, or in addition to, the incident's).
        #[arg(long)]
        cameras_ids: Option<String>,
        /// Range start/end, Unix milliseconds.
        #[arg(long)]
        from_ms: Option<i64>,
        #[arg(long)]
        to_ms: Option<i64>,
        /// The officer making the export (their role must carry exports); audited.
        #[arg(long)]
        operator: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        rec_dir: Option<PathBuf>,
    },
    /// Replay an evidence archive offline: verified first, then the cameras in step with the
    /// incident's bookmarks. Never writes into the archive.
    Replay {
        archive: PathBuf,
        /// UI language: vi or en.
        #[arg(long, default_value = "vi")]
        lang: String,
    },
    /// Verify an evidence archive: the signature, whose key made it, and every file's SHA-256.
    /// Exit 0 verified (signed by this workstation or a trusted one), 2 valid signature by an
    /// untrusted key, 1 any other problem.
    Verify {
        archive: PathBuf,
        /// Trusted keys file (default: trusted_keys.toml beside the log).
        #[arg(long)]
        trust_file: Option<PathBuf>,
        /// Also trust this workstation public key (hex), for this run only.
        #[arg(long)]
        trust: Vec<String>,
        /// Exit 0 for a valid signature by an untrusted key (still reported as untrusted).
        #[arg(long)]
        accept_untrusted: bool,
    },
    /// This workstation's public key and the trusted keys of the district's workstations
    /// (trusted_keys.toml beside the log).
    Keys {
        /// Trusted keys file (default: trusted_keys.toml beside the log).
        #[arg(long, global = true)]
        trust_file: Option<PathBuf>,
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// The incident log's audit trail.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Look at RTSP streams before they become cameras: codec, size, frame rate, audio
    /// tracks, whether the picture decodes, or the reason it failed (unreachable, refused,
    /// unauthorized, not found, unsupported codec). Exit non-zero when any failed.
    /// With --onvif: the ONVIF device (maker, model, firmware, PTZ) and its profiles'
    /// stream URIs; with --discover: the ONVIF devices that answer WS-Discovery.
    Probe {
        /// rtsp:// URLs (user-info in them is used and never printed).
        #[arg(required_unless_present_any = ["onvif", "discover"])]
        urls: Vec<String>,
        /// An ONVIF device: HOST, HOST:PORT or its device-service http:// URL.
        #[arg(long, value_name = "HOST[:PORT]")]
        onvif: Option<String>,
        /// List the ONVIF devices that answer WS-Discovery (multicast on every interface).
        #[arg(long)]
        discover: bool,
        /// With --discover: also ask this address directly (unicast), e.g. a camera on
        /// another subnet.
        #[arg(long, value_name = "IP")]
        discover_at: Vec<std::net::IpAddr>,
        #[arg(long)]
        user: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// RTP over UDP instead of interleaved TCP.
        #[arg(long)]
        udp: bool,
    },
    /// Import the ward's camera survey (CSV, or the first sheet of an XLSX) into the camera
    /// registry: planned sites, installed or shared cameras. Prints one line per row
    /// (imported, merged, rejected and why). Audited as the officer.
    Survey {
        file: PathBuf,
        /// The officer importing (needs the registry right: a supervisor).
        #[arg(long)]
        operator: String,
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// The officers of the log: add, disable, enable, reset a PIN, list. Audited as the
    /// shell user.
    Operator {
        #[arg(long, global = true)]
        db: Option<PathBuf>,
        #[command(subcommand)]
        cmd: OperatorCmd,
    },
    /// Workstation settings kept in the log (idle lock, time zone). Audited.
    Settings {
        #[arg(long, global = true)]
        db: Option<PathBuf>,
        #[command(subcommand)]
        cmd: SettingsCmd,
    },
    /// The incident log database.
    Db {
        #[command(subcommand)]
        cmd: DbCmd,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Print this workstation's public key and fingerprint (to send to other stations);
    /// creates the signing key if there is none yet.
    Show,
    /// List the trusted keys.
    List,
    /// Trust another workstation's public key.
    Trust {
        /// The public key, 64 hex digits.
        public_key: String,
        /// Whose workstation, e.g. "Công an phường Xuân Đỉnh – máy trạm 2".
        #[arg(long)]
        name: String,
        /// The operator adding it (default: the login name).
        #[arg(long)]
        by: Option<String>,
    },
    /// Stop trusting a key (by fingerprint, or the full hex).
    Remove { fingerprint: String },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Recompute the audit chain and every audited record, and check them against the signed
    /// checkpoints (the file beside the log, or the ones named); exit 1 and name the first
    /// broken link if anything was edited or deleted behind the app's back.
    Verify {
        /// Database file (default: matthan.db in the user's data directory).
        #[arg(long)]
        db: Option<PathBuf>,
        /// A checkpoint file (e.g. a copy taken earlier); default: the one beside the log.
        #[arg(long)]
        checkpoint: Vec<PathBuf>,
        /// An evidence archive exported earlier: its signed manifest carries the chain's head.
        #[arg(long)]
        archive: Vec<PathBuf>,
        /// Recording directory (its index.db is checked against the checkpoints' segments);
        /// default: recordings/ beside the log.
        #[arg(long)]
        rec_dir: Option<PathBuf>,
    },
    /// Sign a checkpoint of the audit chain and the recordings' index now (the workstation
    /// does it every 15 minutes and at every export).
    Checkpoint {
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        rec_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OperatorCmd {
    /// Add an officer; the PIN (6+ digits, or a passphrase of 10+ characters) is read from
    /// standard input.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        /// viewer, operator, investigator or supervisor.
        #[arg(long)]
        role: String,
        /// Rank and unit, e.g. "Thượng úy – CA phường Xuân Đỉnh".
        #[arg(long, default_value = "")]
        unit: String,
    },
    /// Disable an officer (they can no longer sign in; their records stay).
    Disable { id: String },
    /// Enable a disabled officer again.
    Enable { id: String },
    /// Give an officer a temporary PIN (read from standard input) they must change at their
    /// next sign-in.
    ResetPin { id: String },
    /// Change an officer's role.
    SetRole { id: String, role: String },
    /// One line per officer: ID, name, role, state.
    List,
}

#[derive(Subcommand)]
enum SettingsCmd {
    /// Print the workstation settings.
    Show,
    /// Minutes without input before the screen locks (0: never).
    IdleLock { minutes: u32 },
    /// The workstation's time zone (IANA name; default Asia/Ho_Chi_Minh).
    TimeZone { zone: String },
}

#[derive(Subcommand)]
enum DbCmd {
    /// Take a consistent online backup into FILE (a new file).
    Backup {
        file: PathBuf,
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Run SQLite's integrity check.
    Check {
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Test helper: insert bookmarks forever, printing "ok ID" after each durable commit.
    #[command(hide = true)]
    StressBookmarks {
        #[arg(long)]
        db: PathBuf,
    },
}

/// The incident log: MATTHAN_DATA_DIR or the user's data directory.
pub fn default_db() -> PathBuf {
    let dir = std::env::var_os("MATTHAN_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            directories::ProjectDirs::from("vn", "MatThan", "matthan")
                .map(|p| p.data_dir().to_owned())
                .unwrap_or_else(|| PathBuf::from(".matthan"))
        });
    dir.join("matthan.db")
}

/// Opens the log for a shell command, and takes the workstation's zone from its settings so
/// every time the command prints is in it.
fn open_db(path: Option<PathBuf>) -> anyhow::Result<mt_store::Db> {
    let path = path.unwrap_or_else(default_db);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let db = mt_store::Db::open(&path)?;
    // A log whose settings cannot be read must still open (`db check` is for those).
    match db.settings() {
        Ok(s) => apply_zone(&s.time_zone),
        Err(e) => tracing::warn!("settings of {}: {e}", path.display()),
    }
    Ok(db)
}

fn apply_zone(name: &str) {
    match mt_core::time::parse_zone(name) {
        Ok(z) => mt_core::time::set_zone(z),
        Err(e) => tracing::warn!("time zone setting: {e}"),
    }
}

/// Takes the workstation's zone from the log at `db`, read-only and best effort (a missing
/// log or one from before the setting leaves Asia/Ho_Chi_Minh), for every command.
fn zone_from_log(db: &Path) {
    let Ok(c) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return;
    };
    if let Ok(z) = c.query_row(
        "SELECT value FROM setting WHERE key = 'time_zone'",
        [],
        |r| r.get::<_, String>(0),
    ) {
        apply_zone(&z);
    }
}

/// Where the user's files live (overridable with MATTHAN_CONFIG_DIR for tests and kiosks).
pub fn config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MATTHAN_CONFIG_DIR") {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("vn", "MatThan", "matthan")
        .map(|p| p.config_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from(".matthan"))
}

/// Where the run-time assets are (simulated cameras, clips, demo sites and map):
/// `$MATTHAN_ASSETS`; else `../share/matthan` beside the binary when installed (the .deb puts
/// the binary in /usr/bin and the assets in /usr/share/matthan); else the source tree's
/// `assets/` (a binary run from `target/`): [`mt_core::assets_dir`]. Told once in the log.
pub fn assets_dir() -> PathBuf {
    static LOGGED: std::sync::Once = std::sync::Once::new();
    let dir = mt_core::assets_dir();
    LOGGED.call_once(|| tracing::info!("assets: {}", dir.display()));
    dir
}

fn main() -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        "info,retina=warn,wgpu=warn,naga=warn,eframe=warn,egui_wgpu=warn".into()
    });
    // oxvif logs whole SOAP envelopes at trace level, the WS-Security token (digest, nonce,
    // time) included: enough to guess the password offline. Never, whatever RUST_LOG says
    // (a directive for one of its modules included).
    let no_soap = tracing_subscriber::filter::filter_fn(|m| {
        !(*m.level() == tracing::Level::TRACE && m.target().starts_with("oxvif"))
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(no_soap)
                // Outermost, so its level hints still reach `log` and the callsites.
                .with_filter(filter),
        )
        .init();
    let cli = Cli::parse();
    if default_db().exists() {
        zone_from_log(&default_db());
    }
    match cli.cmd {
        None => {
            let path = cli
                .cameras
                .unwrap_or_else(|| config_dir().join("cameras.toml"));
            // No camera file yet (a fresh install, started from the desktop entry): the
            // workstation starts without cameras; a supervisor adds them in the app, which
            // writes the file.
            let file = if path.exists() {
                load_camera_file(&path)?
            } else {
                tracing::info!(
                    "no camera file at {} yet: a supervisor adds cameras in the app (Quản lý camera); see README \"Adding cameras\", or try `matthan demo`",
                    path.display()
                );
                CameraFile {
                    path: path.clone(),
                    ..Default::default()
                }
            };
            let rec = (!cli.no_record).then_some((cli.rec_quota_gb, cli.rec_max_age_days));
            run_window(
                file,
                config_dir().join("wall.json"),
                default_db(),
                cli.map,
                rec,
            )
        }
        Some(Cmd::Demo { streams }) => {
            let sim = demo::start_sim(streams)?;
            let path = demo::write_demo_cameras(&sim, streams)?;
            tracing::info!("demo cameras written to {}", path.display());
            let file = load_camera_file(&path)?;
            let db = default_db().with_file_name("demo.db");
            demo::ensure_demo_operator(&db)?;
            let rec = (!cli.no_record).then_some((cli.rec_quota_gb, cli.rec_max_age_days));
            let r = run_window(file, config_dir().join("demo-wall.json"), db, cli.map, rec);
            drop(sim);
            r
        }
        Some(Cmd::Snapshot {
            layout,
            after,
            out,
            size,
            demo,
            lang,
            view,
            map_mode,
        }) => {
            let view = match view.as_str() {
                "wall" => mt_ui::app::CentralView::Wall,
                "map" => mt_ui::app::CentralView::Map,
                "split" => mt_ui::app::CentralView::Split,
                other => bail!("--view {other}: expected wall, map or split"),
            };
            let map_mode = match map_mode.as_str() {
                "watch" => mt_ui::map::MapMode::Watch,
                "edit" => mt_ui::map::MapMode::Edit,
                "plan" => mt_ui::map::MapMode::Plan,
                other => bail!("--map-mode {other}: expected watch, edit or plan"),
            };
            let layout = WallLayout::parse(&layout).with_context(|| {
                format!("--layout {layout}: expected one of 1x1 2x2 3x3 4x4 5x5 6x6 8x8 1+5 1+7")
            })?;
            let after = parse_duration(&after)
                .with_context(|| format!("--after {after}: expected e.g. 5s or 1500ms"))?;
            let size = parse_size(&size)
                .with_context(|| format!("--size {size}: expected e.g. 1600x900"))?;
            let lang = match lang.as_str() {
                "vi" => mt_ui::Lang::Vi,
                "en" => mt_ui::Lang::En,
                other => bail!("--lang {other}: expected vi or en"),
            };
            let (_sim, file) = if demo {
                let streams = layout.tile_count().min(16).max(4);
                let sim = demo::start_sim(streams)?;
                let path = demo::write_demo_cameras(&sim, streams)?;
                (Some(sim), load_camera_file(&path)?)
            } else {
                let path = cli
                    .cameras
                    .unwrap_or_else(|| config_dir().join("cameras.toml"));
                (None, load_camera_file(&path)?)
            };
            snapshot(
                file,
                Shot {
                    layout,
                    lang,
                    after,
                    size,
                    view,
                    map_mode,
                    map: cli.map,
                },
                &out,
            )
        }
        Some(Cmd::Audit {
            cmd:
                AuditCmd::Verify {
                    db,
                    checkpoint,
                    archive,
                    rec_dir,
                },
        }) => {
            let db = open_db(db)?;
            let code = officers::audit_verify(&db, &checkpoint, &archive, rec_dir)?;
            std::process::exit(code);
        }
        Some(Cmd::Audit {
            cmd: AuditCmd::Checkpoint { db, rec_dir },
        }) => {
            let mut db = open_db(db)?;
            officers::checkpoint_now(&mut db, rec_dir)
        }
        Some(Cmd::Probe {
            urls,
            onvif,
            discover,
            discover_at,
            user,
            password_stdin,
            udp,
        }) => probe_cli::run(probe_cli::Args {
            urls,
            onvif,
            discover,
            discover_at,
            user,
            password_stdin,
            udp,
        }),
        Some(Cmd::Survey { file, operator, db }) => {
            let mut db = open_db(db)?;
            // A row with an address only goes on the street of that name on the
            // workstation's map (--map, as for the window).
            let map = map_path(cli.map.clone());
            let streets = match mt_map::MapData::load(&map) {
                Ok((m, _)) => {
                    let wards: Vec<String> = m.wards().into_iter().map(|(n, _)| n).collect();
                    Some(mt_map::gazetteer::Gazetteer::new(&m.roads(), &wards))
                }
                Err(e) => {
                    tracing::warn!("no map for address-only rows: {e}");
                    None
                }
            };
            let locate = |a: &str| {
                let l = streets.as_ref()?.locate(a)?;
                Some((l.lat, l.lon, l.street))
            };
            let rep = mt_store::survey::import_file(
                &mut db,
                &operator,
                &file,
                streets
                    .is_some()
                    .then_some(&locate as mt_store::survey::Locate),
            )?;
            for l in rep.lines_text(&file.display().to_string()) {
                println!("{l}");
            }
            println!(
                "{} imported, {} merged, {} rejected",
                rep.imported(),
                rep.merged(),
                rep.rejected()
            );
            Ok(())
        }
        Some(Cmd::Operator { db, cmd }) => {
            let mut db = open_db(db)?;
            officers::operator(&mut db, cmd)
        }
        Some(Cmd::Settings { db, cmd }) => {
            let mut db = open_db(db)?;
            officers::settings(&mut db, cmd)
        }
        Some(Cmd::Db {
            cmd: DbCmd::Backup { file, db },
        }) => {
            let db = open_db(db)?;
            db.backup(&file)?;
            println!(
                "backup of {} written to {}",
                db.path().display(),
                file.display()
            );
            Ok(())
        }
        Some(Cmd::Db {
            cmd: DbCmd::Check { db },
        }) => {
            let db = open_db(db)?;
            let r = db.integrity_check()?;
            println!("{}: {r}", db.path().display());
            if r != "ok" {
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Cmd::Db {
            cmd: DbCmd::StressBookmarks { db },
        }) => stress_bookmarks(&db),
        Some(Cmd::Record {
            dir,
            segment_secs,
            secs,
        }) => {
            let path = cli
                .cameras
                .unwrap_or_else(|| config_dir().join("cameras.toml"));
            let file = load_camera_file(&path)?;
            let dir = dir.unwrap_or_else(|| evidence::rec_dir(&default_db()));
            evidence::record_cmd(&file, &dir, segment_secs, secs)
        }
        Some(Cmd::Search {
            camera,
            region,
            from,
            to,
            deep,
            sensitivity,
            rec_dir,
        }) => {
            let rec = rec_dir.unwrap_or_else(|| evidence::rec_dir(&default_db()));
            search_cli::run(search_cli::Args {
                rec_dir: &rec,
                cameras: camera,
                region: &region,
                from: &from,
                to: &to,
                deep,
                sensitivity,
            })
        }
        Some(Cmd::Export {
            incident,
            cameras_ids,
            from_ms,
            to_ms,
            operator,
            out,
            db,
            rec_dir,
        }) => {
            let db = db.unwrap_or_else(default_db);
            let rec = rec_dir.unwrap_or_else(|| evidence::rec_dir(&db));
            evidence::export_cmd(
                &db,
                &rec,
                incident,
                cameras_ids,
                from_ms,
                to_ms,
                &operator,
                &out,
            )
        }
        Some(Cmd::Replay { archive, lang }) => {
            let lang = if lang == "en" {
                mt_ui::Lang::En
            } else {
                mt_ui::Lang::Vi
            };
            let trust = evidence::trust_store(&default_db(), None)?;
            let loader = mt_ui::replay::ReplayLoader::start(&archive, trust, None)
                .map_err(|e| anyhow::anyhow!(e))?;
            let replay = loop {
                if let Some(r) = loader.poll(lang) {
                    eprintln!();
                    break r
                        .map_err(|e| anyhow::anyhow!(e))?
                        .context("opening the archive was cancelled")?;
                }
                eprint!(
                    "\rverifying and opening {:>3.0} %",
                    loader.progress() * 100.0
                );
                std::thread::sleep(Duration::from_millis(200));
            };
            match replay.status() {
                mt_record::verify::Status::Verified => {}
                mt_record::verify::Status::Untrusted => tracing::warn!(
                    "{}: valid signature, untrusted key {}",
                    archive.display(),
                    replay.report.key_fingerprint.as_deref().unwrap_or("-")
                ),
                mt_record::verify::Status::Failed => {}
            }
            for p in &replay.report.problems {
                tracing::error!("{}: {p}", archive.display());
            }
            let options = eframe::NativeOptions {
                viewport: egui::ViewportBuilder::default()
                    .with_title(format!("Mắt Thần — {}", archive.display()))
                    .with_inner_size([1400.0, 900.0]),
                renderer: eframe::Renderer::Wgpu,
                ..Default::default()
            };
            eframe::run_native(
                "Mắt Thần replay",
                options,
                Box::new(move |cc| {
                    if let Some(rs) = cc.wgpu_render_state.as_ref() {
                        let ctx = cc.egui_ctx.clone();
                        mt_render::install(
                            rs,
                            Some(std::sync::Arc::new(move || {
                                ctx.request_repaint_after(Duration::from_millis(16))
                            })),
                        );
                    }
                    mt_ui::install_fonts(&cc.egui_ctx);
                    Ok(Box::new(mt_ui::replay::ReplayApp(replay)))
                }),
            )
            .map_err(|e| anyhow::anyhow!("window: {e}"))
        }
        Some(Cmd::Verify {
            archive,
            trust_file,
            trust,
            accept_untrusted,
        }) => {
            let code = evidence::verify_cmd(
                &default_db(),
                &archive,
                trust_file.as_deref(),
                &trust,
                accept_untrusted,
            )?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Some(Cmd::Keys { trust_file, cmd }) => {
            let action = match cmd {
                KeysCmd::Show => evidence::KeysAction::Show,
                KeysCmd::List => evidence::KeysAction::List,
                KeysCmd::Trust {
                    public_key,
                    name,
                    by,
                } => evidence::KeysAction::Trust {
                    hex: public_key,
                    name,
                    by: by
                        .or_else(|| std::env::var("USER").ok())
                        .unwrap_or_else(|| "cli".into()),
                },
                KeysCmd::Remove { fingerprint } => evidence::KeysAction::Remove { fingerprint },
            };
            evidence::keys_cmd(&default_db(), trust_file.as_deref(), action)
        }
    }
}

fn stress_bookmarks(path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let mut db = mt_store::Db::open(path)?;
    if db.operator_count()? == 0 {
        db.add_operator(
            None,
            "gs01",
            "Giám sát 01",
            mt_store::Role::Supervisor,
            "246802",
        )?;
    }
    let mut out = std::io::stdout().lock();
    for k in 0.. {
        let b = mt_store::NewBookmark {
            camera_id: format!("xd-{:03}", k % 16 + 1),
            frame_time_ms: mt_store::now_ms(),
            pre_ms: 30_000,
            post_ms: 30_000,
            note: format!("Đánh dấu số {k}: người đi xe máy khả nghi"),
            snapshot_png: Some(vec![k as u8; 2048]),
            source: "live".into(),
        };
        let id = db.add_bookmark("gs01", &b)?;
        writeln!(out, "ok {id}")?;
        out.flush()?;
    }
    Ok(())
}

fn parse_duration(s: &str) -> Option<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.trim().parse().ok().map(Duration::from_millis);
    }
    s.strip_suffix('s')
        .unwrap_or(s)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0)
        .map(Duration::from_secs_f64)
}

fn parse_size(s: &str) -> Option<[u32; 2]> {
    let (w, h) = s.split_once(['x', '×'])?;
    Some([
        w.trim().parse().ok().filter(|v| *v > 0)?,
        h.trim().parse().ok().filter(|v| *v > 0)?,
    ])
}

/// Loads the camera file; bad entries are logged (file, line, field) and skipped.
fn load_camera_file(path: &Path) -> anyhow::Result<CameraFile> {
    let file = load_cameras(path)?;
    for e in &file.errors {
        tracing::error!("{e}");
    }
    if file.cameras.is_empty() {
        bail!(
            "{}: no usable camera ({} errors above)",
            path.display(),
            file.errors.len()
        );
    }
    Ok(file)
}

fn start_all(file: &CameraFile) -> anyhow::Result<(Capture, Vec<CameraHandle>)> {
    let capture = Capture::new(Timeouts::default()).context("starting the capture runtime")?;
    let mut handles = Vec::new();
    for c in &file.cameras {
        handles.push(
            capture
                .start_camera(c.clone())
                .with_context(|| format!("camera {}", c.id))?,
        );
    }
    Ok((capture, handles))
}

/// The map file to use: `--map`, else map.toml in the config directory, else the demo map.
fn map_path(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| {
        let user = config_dir().join("map.toml");
        if user.exists() {
            user
        } else {
            assets_dir().join("map/map.toml")
        }
    })
}

/// Loads the map (errors are logged and shown on the map; a map file that cannot be read at
/// all gives an empty map) and the camera registry, seeded from the camera file.
fn load_map(
    arg: Option<PathBuf>,
    file: &CameraFile,
    store: Option<&mt_store::thread::StoreThread>,
) -> mt_ui::map::MapUi {
    let path = map_path(arg);
    let (data, errors) = match mt_map::MapData::load(&path) {
        Ok((d, e)) => (d, e.into_iter().map(|e| e.to_string()).collect()),
        Err(e) => (mt_map::MapData::default(), vec![e.to_string()]),
    };
    for e in &errors {
        tracing::error!("map: {e}");
    }
    let seed: Vec<mt_core::CameraSite> = file
        .cameras
        .iter()
        .map(mt_core::CameraSite::from_config)
        .collect();
    let sites = match store.map(|s| {
        let seed = seed.clone();
        s.run(move |db| db.sync_sites("system", &seed))
            .and_then(|p| p.wait())
    }) {
        Some(Ok(sites)) => sites,
        Some(Err(e)) => {
            tracing::error!("camera registry: {e}");
            seed
        }
        None => seed,
    };
    mt_ui::map::MapUi::new(std::sync::Arc::new(data), errors, sites)
}

fn run_window(
    file: CameraFile,
    state_path: PathBuf,
    db_path: PathBuf,
    map_arg: Option<PathBuf>,
    recording: Option<(f64, u64)>,
) -> anyhow::Result<()> {
    let (capture, handles) = start_all(&file)?;
    // The app owns the capture runtime from here: cameras added in the app start on it.
    let capture = std::sync::Arc::new(capture);
    let camera_file = file.path.clone();
    let camera_text = file.text.clone();
    let mut errors: Vec<String> = file.errors.iter().map(ToString::to_string).collect();
    if let Some(d) = db_path.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    // A log that cannot be opened (damaged, newer version, read-only) is reported; the wall
    // still runs.
    // Recording: every camera's main stream, into recordings/ beside the log.
    let recorder = match recording {
        None => None,
        Some((gb, days)) => {
            let mut cfg = mt_record::RecConfig::new(evidence::rec_dir(&db_path));
            cfg.quota_bytes = (gb * (1u64 << 30) as f64) as u64;
            cfg.max_age = Some(Duration::from_secs(days.max(1) * 86_400));
            match mt_record::Recorder::start(cfg) {
                Ok((mut r, _reconciled)) => {
                    // What was reconciled is logged (recorder.rs); it is not a camera-file error.
                    for h in &handles {
                        if let Err(e) = r.add(&h.config.id.0, &h.main) {
                            errors.push(e.to_string());
                        }
                    }
                    Some(r)
                }
                Err(e) => {
                    tracing::error!("{e}");
                    errors.push(e.to_string());
                    None
                }
            }
        }
    };
    let evidence = match (
        &recorder,
        mt_record::keys::load_or_create(&evidence::key_path(&db_path)),
    ) {
        (Some(r), Ok(key)) => Some(mt_ui::evidence::EvidenceCtx {
            rec_dir: r.dir().to_owned(),
            index: r.index(),
            key: std::sync::Arc::new(key),
            export_dir: db_path.with_file_name("exports"),
            workstation: evidence::workstation_name(),
        }),
        (_, Err(e)) => {
            errors.push(e.to_string());
            None
        }
        _ => None,
    };
    let log = match mt_store::thread::StoreThread::start(&db_path) {
        Ok(st) => {
            // The workstation's zone before anything is shown (once, at start-up).
            match st.run(|db| db.settings()).and_then(|p| p.wait()) {
                Ok(s) => apply_zone(&s.time_zone),
                Err(e) => tracing::warn!("settings: {e}"),
            }
            let mut l = mt_ui::log::LogUi::new(st, db_path.with_file_name("exports"));
            l.evidence = evidence.map(mt_ui::evidence::EvidenceUi::new);
            Some(l)
        }
        Err(e) => {
            tracing::error!("{e}");
            errors.push(e.to_string());
            None
        }
    };
    let map = load_map(map_arg, &file, log.as_ref().map(|l| l.store()));
    let state = WallState::load(&state_path).unwrap_or_default();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Mắt Thần")
            .with_inner_size([1600.0, 960.0]),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    let r = eframe::run_native(
        "Mắt Thần",
        options,
        Box::new(move |cc| {
            if let Some(rs) = cc.wgpu_render_state.as_ref() {
                let ctx = cc.egui_ctx.clone();
                mt_render::install(
                    rs,
                    Some(std::sync::Arc::new(move || {
                        ctx.request_repaint_after(Duration::from_millis(16))
                    })),
                );
                tracing::info!(
                    "rendering on {:?} ({:?})",
                    rs.adapter.get_info().name,
                    rs.target_format
                );
            }
            let app = MatThanApp::new(&cc.egui_ctx, handles, state, Some(state_path), errors);
            let app = match log {
                Some(l) => app.with_log(l),
                None => app,
            };
            let mut app =
                app.with_map(map)
                    .with_camera_admin(capture, camera_file, Some(camera_text));
            app.recorder = recorder;
            Ok(Box::new(app))
        }),
    );
    r.map_err(|e| anyhow::anyhow!("window: {e}"))
}

struct Shot {
    layout: WallLayout,
    lang: mt_ui::Lang,
    after: Duration,
    size: [u32; 2],
    view: mt_ui::app::CentralView,
    map_mode: mt_ui::map::MapMode,
    map: Option<PathBuf>,
}

fn snapshot(file: CameraFile, shot: Shot, out: &Path) -> anyhow::Result<()> {
    let Shot {
        layout,
        lang,
        after,
        size,
        view,
        map_mode,
        map,
    } = shot;
    let (_capture, handles) = start_all(&file)?;
    let errors: Vec<String> = file.errors.iter().map(ToString::to_string).collect();
    let off = mt_render::offscreen::Offscreen::new()?;
    tracing::info!("offscreen rendering on {}", off.adapter_name());
    let ctx = egui::Context::default();
    let state = WallState {
        layout,
        lang,
        show_health: false,
        view,
        ..Default::default()
    };
    let mut map = load_map(map, &file, None);
    map.mode = map_mode;
    let mut app = MatThanApp::new(&ctx, handles, state, None, errors).with_map(map);
    let t0 = Instant::now();
    // Draw a frame now and then while waiting, as the window would: that is what marks the
    // tiles' streams as wanted and so starts their decoding.
    loop {
        let px = off.render(&ctx, size, |ui| app.show(ui))?;
        if t0.elapsed() >= after {
            let img =
                image::RgbaImage::from_raw(size[0], size[1], px).context("pixel buffer size")?;
            img.save(out)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("{}", out.display());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
