//! Command-line recording, evidence export, verification and the trust store (`matthan
//! record | export | verify | keys`), and building an export request from an incident in
//! the log.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::bail;
use mt_record::export::ExportRequest;

/// The recording directory: beside the log, `recordings/`.
pub fn rec_dir(db: &Path) -> PathBuf {
    db.with_file_name("recordings")
}

/// The workstation's signing key, beside the log.
pub fn key_path(db: &Path) -> PathBuf {
    mt_record::keys::key_path(db)
}

pub fn workstation_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "workstation".into())
}

/// The trust store (public keys of the district's workstations), beside the log.
pub fn trust_path(db: &Path) -> PathBuf {
    db.with_file_name(mt_record::keys::TRUST_FILE)
}

/// The workstation's trust store: `trust_file` (default: beside the log) and the public key
/// of `workstation.key` beside the log, if there is one (none is created).
pub fn trust_store(
    db: &Path,
    trust_file: Option<&Path>,
) -> anyhow::Result<mt_record::keys::TrustStore> {
    let own = mt_record::keys::load(&key_path(db))?.map(|k| k.verifying_key());
    let file = trust_file.map_or_else(|| trust_path(db), Path::to_owned);
    Ok(mt_record::keys::TrustStore::load(&file, own)?)
}

fn signer_words(rep: &mt_record::verify::Report) -> String {
    use mt_record::keys::KeyTrust;
    match &rep.signer {
        Some(KeyTrust::Own) => "this workstation's own key".into(),
        Some(KeyTrust::Trusted { name }) => format!("trusted key of {name}"),
        Some(KeyTrust::Unknown) => {
            "UNTRUSTED key (not this workstation's, not in the trust store)".into()
        }
        None => "-".into(),
    }
}

/// `matthan verify`: prints what was checked; returns the exit code: 0 verified (or untrusted
/// with `accept_untrusted`), 2 valid signature by an untrusted key, 1 any other problem.
pub fn verify_cmd(
    db: &Path,
    archive: &Path,
    trust_file: Option<&Path>,
    trust: &[String],
    accept_untrusted: bool,
) -> anyhow::Result<i32> {
    use mt_record::verify::Status;
    let mut store = trust_store(db, trust_file)?;
    for t in trust {
        let k = mt_record::keys::parse_public_key(t)
            .map_err(|e| anyhow::anyhow!("--trust {t}: {e}"))?;
        store.trust_for_run(k);
    }
    let mut rep = mt_record::verify::verify(archive, &store, &|_| {});
    // The head of this log's audit chain at export time, when the archive was exported here:
    // a rewrite of the log's history since then changes that row's hash.
    let audit_line = audit_head_check(db, &rep);
    if let Some((ok, line)) = &audit_line {
        if !ok {
            rep.problems.push(line.clone());
        }
    }
    println!("{}", archive.display());
    if let Some(m) = &rep.manifest {
        println!(
            "  exported by {} on {} at {} (Mắt Thần {}), incident {}",
            m.operator,
            m.workstation,
            mt_core::time::show(m.created_ms),
            m.app_version,
            m.incident_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
    if let Some(k) = &rep.public_key {
        println!("  signing key: {}", hex::encode(k));
    }
    if let Some(f) = &rep.key_fingerprint {
        println!("  signing key fingerprint: {f}");
    }
    if rep.signature_valid {
        println!("  signer: {}", signer_words(&rep));
    }
    if let Some(p) = store.path() {
        println!(
            "  trust store: {} ({} key(s){})",
            p.display(),
            store.keys().len(),
            if store.own().is_some() {
                " and this workstation's own"
            } else {
                "; this workstation has no key yet"
            }
        );
    }
    for c in &rep.checked {
        println!("  ok: {c}");
    }
    if let Some((true, line)) = &audit_line {
        println!("  ok: {line}");
    }
    for p in &rep.problems {
        println!("  PROBLEM: {p}");
    }
    let files = rep.manifest.as_ref().map_or(0, |m| m.files.len());
    let fp = rep.key_fingerprint.clone().unwrap_or_default();
    Ok(match rep.status() {
        Status::Verified => {
            println!(
                "VERIFIED: signature and all {files} files are as exported; signed by {}",
                signer_words(&rep)
            );
            0
        }
        Status::Untrusted => {
            println!("CHỮ KÝ HỢP LỆ, KHOÁ KHÔNG TIN CẬY / valid signature, untrusted key {fp}");
            println!(
                "  all {files} files are as signed, but by a key this workstation does not trust: \
                 anyone can sign an archive. Compare the fingerprint with the exporting \
                 workstation's (`matthan keys show` there), then `matthan keys trust HEX --name ...`."
            );
            if accept_untrusted {
                println!("  accepted as asked (--accept-untrusted): NOT VERIFIED as coming from a trusted workstation");
                0
            } else {
                2
            }
        }
        Status::Failed => {
            println!("NOT VERIFIED: {} problem(s)", rep.problems.len().max(1));
            1
        }
    })
}

/// Compares the archive's audit-chain head with this workstation's log, when the archive was
/// exported by this workstation and the log is here: (unchanged?, what was found).
fn audit_head_check(db: &Path, rep: &mt_record::verify::Report) -> Option<(bool, String)> {
    let m = rep.manifest.as_ref()?;
    let head = m.audit_head.as_ref()?;
    if m.workstation != workstation_name() || !db.exists() {
        return None;
    }
    use mt_record::checkpoint::RowNow;
    let conn = mt_record::checkpoint::open_log(db).ok()?;
    Some(
        match mt_record::checkpoint::audit_row_now(&conn, head.id, &head.row_sha256).ok()? {
            RowNow::Same => (
                true,
                format!("audit chain: row {} of {} is as it was at export time", head.id, db.display()),
            ),
            RowNow::Differs => (
                false,
                format!(
                    "audit chain: row {} of {} differs from the archive's record of it: the log's history was rewritten after this export",
                    head.id,
                    db.display()
                ),
            ),
            RowNow::Gone => (
                false,
                format!(
                    "audit chain: row {} of {} is gone: the log's history was cut after this export",
                    head.id,
                    db.display()
                ),
            ),
        },
    )
}

/// What `matthan keys` does.
pub enum KeysAction {
    Show,
    List,
    Trust {
        hex: String,
        name: String,
        by: String,
    },
    Remove {
        fingerprint: String,
    },
}

/// `matthan keys`: this workstation's public key, and the trust store beside the log.
pub fn keys_cmd(db: &Path, trust_file: Option<&Path>, action: KeysAction) -> anyhow::Result<()> {
    let file = trust_file.map_or_else(|| trust_path(db), Path::to_owned);
    match action {
        KeysAction::Show => {
            let path = key_path(db);
            let existed = path.exists();
            let key = mt_record::keys::load_or_create(&path)?;
            let public = key.verifying_key();
            if !existed {
                println!("created a new signing key: {}", path.display());
            }
            println!("this workstation's public key (send it to the other stations):");
            println!("  {}", hex::encode(public.as_bytes()));
            println!(
                "  fingerprint: {}",
                mt_record::keys::fingerprint(public.as_bytes())
            );
            println!("  workstation: {}", workstation_name());
        }
        KeysAction::List => {
            let store = trust_store(db, Some(&file))?;
            match store.own() {
                Some(k) => println!(
                    "own  {}  this workstation ({})",
                    mt_record::keys::fingerprint(&k),
                    hex::encode(k)
                ),
                None => println!("own  -  this workstation has no signing key yet"),
            }
            for k in store.keys() {
                println!(
                    "     {}  {}  (added by {} at {}; {})",
                    k.fingerprint(),
                    k.name,
                    if k.added_by.is_empty() {
                        "-"
                    } else {
                        k.added_by.as_str()
                    },
                    k.added_ms,
                    k.hex()
                );
            }
            println!("{}: {} trusted key(s)", file.display(), store.keys().len());
        }
        KeysAction::Trust { hex: h, name, by } => {
            let key =
                mt_record::keys::parse_public_key(&h).map_err(|e| anyhow::anyhow!("{h}: {e}"))?;
            let mut store = trust_store(db, Some(&file))?;
            store.trust(key, &name, &by)?;
            // A change of trust is accountable: an audit row in the log.
            mt_store::Db::open(db)?.audit(
                &format!("shell:{}", crate::officers::shell_user()),
                "trust_key",
                &format!(
                    "key={};name={};by={}",
                    mt_record::keys::fingerprint(&key),
                    name.trim().replace(';', ","),
                    by.replace(';', ",")
                ),
            )?;
            println!(
                "trusted {} as {:?} in {}",
                mt_record::keys::fingerprint(&key),
                name.trim(),
                file.display()
            );
        }
        KeysAction::Remove { fingerprint } => {
            let mut store = trust_store(db, Some(&file))?;
            let gone = store.remove(&fingerprint)?;
            mt_store::Db::open(db)?.audit(
                &format!("shell:{}", crate::officers::shell_user()),
                "untrust_key",
                &format!("key={};name={}", gone.fingerprint(), gone.name),
            )?;
            println!(
                "removed {} ({}) from {}",
                gone.fingerprint(),
                gone.name,
                file.display()
            );
        }
    }
    Ok(())
}

/// `matthan record`: records the camera file's cameras into `dir` until killed (or `secs`).
pub fn record_cmd(
    file: &mt_core::CameraFile,
    dir: &Path,
    segment_secs: f64,
    secs: Option<u64>,
) -> anyhow::Result<()> {
    let capture = mt_capture::Capture::new(mt_capture::Timeouts::default())?;
    let mut cfg = mt_record::RecConfig::new(dir.to_owned());
    cfg.segment_secs = segment_secs;
    let (mut rec, rep) = mt_record::Recorder::start(cfg)?;
    if !rep.is_empty() {
        println!("reconciled: {rep:?}");
    }
    let mut handles = Vec::new();
    for c in &file.cameras {
        let h = capture.start_camera(c.clone())?;
        rec.add(&c.id.0, &h.main)?;
        handles.push(h);
    }
    println!("recording {} cameras into {}", handles.len(), dir.display());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    match secs {
        Some(s) => std::thread::sleep(Duration::from_secs(s)),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
    rec.stop();
    drop(capture);
    Ok(())
}

/// `matthan export`: one archive from the recordings (and the log, for `--incident`).
#[allow(clippy::too_many_arguments)]
pub fn export_cmd(
    db_path: &Path,
    rec: &Path,
    incident: Option<i64>,
    cameras: Option<String>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    operator: &str,
    out: &Path,
) -> anyhow::Result<()> {
    // Every export is accountable: the log gets an audit row naming the archive's SHA-256,
    // and the archive carries the head of the log's audit chain.
    let mut db = mt_store::Db::open(db_path)?;
    crate::zone_from_log(db_path);
    // Refused before any work: only an officer whose role carries exports may export.
    db.require(operator, mt_store::Right::Export)?;
    let mut req = match incident {
        Some(id) => mt_ui::incident_export::request(&db, id, operator, &workstation_name())?,
        None => ExportRequest {
            operator: operator.to_owned(),
            workstation: workstation_name(),
            audit_head: db
                .audit_head()?
                .map(|(id, row_sha256)| mt_record::export::AuditHead { id, row_sha256 }),
            ..Default::default()
        },
    };
    if let Some(c) = cameras {
        req.cameras = c.split(',').map(|s| s.trim().to_owned()).collect();
    }
    if let Some(f) = from_ms {
        req.from_ms = f;
    }
    if let Some(t) = to_ms {
        req.to_ms = t;
    }
    if req.cameras.is_empty() {
        bail!("nothing to export: name --incident or --cameras");
    }
    let index = mt_record::Index::open(&rec.join("index.db"))?;
    let index = parking_lot::Mutex::new(index);
    let key = mt_record::keys::load_or_create(&key_path(db_path))?;
    let cancel = AtomicBool::new(false);
    let m = mt_record::export::export(
        &index,
        rec,
        &req,
        &key,
        out,
        &|p| {
            eprint!("\rexport {:>3.0} %", p * 100.0);
        },
        &cancel,
    )?;
    eprintln!();
    db.audit_evidence_export(
        operator,
        req.incident_id,
        &out.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        &m.archive_sha256,
    )?;
    // Every export is a signed checkpoint of the log and the recordings' index.
    if let Some(c) = checkpoint(
        &mut db,
        Some(&rec.join("index.db")),
        &key,
        &mt_record::checkpoint::path_for(db_path),
    )? {
        println!("checkpoint {} signed (audit_log row {})", c.seq, c.audit_id);
    }
    println!(
        "{}: {} files, {} clips, {} gaps, archive SHA-256 {}, signed by key {}",
        out.display(),
        m.manifest.files.len(),
        m.manifest.clips.len(),
        m.manifest.gaps.len(),
        m.archive_sha256,
        mt_record::keys::fingerprint(key.verifying_key().as_bytes())
    );
    Ok(())
}

/// Writes a checkpoint of `db`'s audit chain (and of the index at `index`, if any) to
/// `file` and enters it in the chain (an `audit_checkpoint` row). None when nothing changed
/// since the last one.
pub fn checkpoint(
    db: &mut mt_store::Db,
    index: Option<&Path>,
    key: &ed25519_dalek::SigningKey,
    file: &Path,
) -> anyhow::Result<Option<mt_record::checkpoint::Checkpoint>> {
    let Some(c) = mt_record::checkpoint::sign_and_append(db.conn(), index, key, file)? else {
        return Ok(None);
    };
    db.audit("system", "audit_checkpoint", &c.audit_subject())?;
    Ok(Some(c))
}
