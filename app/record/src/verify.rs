//! Checking an evidence archive: the manifest's signature and whose key made it (against the
//! workstation's trust store), then every file's SHA-256 (streamed: clips can be gigabytes);
//! files missing from the archive, not in the manifest, or named twice are named. Read-only.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::export::{Manifest, MANIFEST, SCHEMA, SCHEMA_V1, SIGNATURE};
use crate::keys::{KeyTrust, TrustStore};

/// The outcome of a check, as the officer must see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The signature is valid, made by this workstation's key or a trusted one, and every
    /// file is as exported.
    Verified,
    /// Everything is as signed, but by a key nobody here trusts: it may have been re-signed.
    Untrusted,
    /// Anything else: altered, missing, extra or duplicate files, a bad signature, unreadable.
    Failed,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    /// What was checked and found good, one line each.
    pub checked: Vec<String>,
    /// Each problem names the file (or the archive) and what is wrong. An untrusted key is
    /// not a problem here (see [`Report::status`]).
    pub problems: Vec<String>,
    pub manifest: Option<Manifest>,
    /// Fingerprint of the signing key, to compare with the exporting workstation's.
    pub key_fingerprint: Option<String>,
    /// The signing key (from the manifest), if it is an Ed25519 key.
    pub public_key: Option<[u8; 32]>,
    /// Whether `manifest.sig` is a valid signature of `manifest.json` by `public_key`.
    pub signature_valid: bool,
    /// What the trust store says of the signing key (when the signature is valid).
    pub signer: Option<KeyTrust>,
}

impl Report {
    pub fn status(&self) -> Status {
        if !self.problems.is_empty() || self.manifest.is_none() || !self.signature_valid {
            return Status::Failed;
        }
        match &self.signer {
            Some(KeyTrust::Own) | Some(KeyTrust::Trusted { .. }) => Status::Verified,
            _ => Status::Untrusted,
        }
    }

    /// Verified: valid signature by a trusted key, every file as exported.
    pub fn ok(&self) -> bool {
        self.status() == Status::Verified
    }
}

/// An entry's bytes (for the small manifest and signature only).
fn read_small<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Option<Vec<u8>>, String> {
    const LIMIT: u64 = 16 << 20;
    match zip.by_name(name) {
        Ok(f) => {
            if f.size() > LIMIT {
                return Err(format!("{} bytes, too large", f.size()));
            }
            let mut v = Vec::new();
            f.take(LIMIT)
                .read_to_end(&mut v)
                .map_err(|e| e.to_string())?;
            Ok(Some(v))
        }
        Err(zip::result::ZipError::FileNotFound) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The names in the central directory, read from the file itself: the zip crate keeps one
/// entry per name, so a second `manifest.json` added by a forger would be hidden.
fn central_directory_names(file: &mut std::fs::File, starts: &[u64]) -> Option<Vec<Vec<u8>>> {
    'start: for &start in starts {
        file.seek(SeekFrom::Start(start)).ok()?;
        let mut r = std::io::BufReader::new(&mut *file);
        let mut names = Vec::new();
        loop {
            let mut head = [0u8; 46];
            match r.read_exact(&mut head[..4]) {
                Ok(()) => {}
                Err(_) if !names.is_empty() => return Some(names),
                Err(_) => continue 'start,
            }
            if head[..4] != [0x50, 0x4b, 0x01, 0x02] {
                if names.is_empty() {
                    continue 'start;
                }
                return Some(names);
            }
            r.read_exact(&mut head[4..]).ok()?;
            let le = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]) as usize;
            let (n, extra, comment) = (le(28), le(30), le(32));
            let mut name = vec![0u8; n];
            r.read_exact(&mut name).ok()?;
            let mut skip = vec![0u8; extra + comment];
            r.read_exact(&mut skip).ok()?;
            names.push(name);
        }
    }
    None
}

/// Verifies the archive at `path` against `trust`. `progress` gets 0.0–1.0 by bytes hashed.
pub fn verify(path: &Path, trust: &TrustStore, progress: &dyn Fn(f32)) -> Report {
    verify_cancellable(path, trust, progress, &AtomicBool::new(false)).expect("never cancelled")
}

/// [`verify`], stopped (`None`) as soon as `cancel` is set.
pub fn verify_cancellable(
    path: &Path,
    trust: &TrustStore,
    progress: &dyn Fn(f32),
    cancel: &AtomicBool,
) -> Option<Report> {
    let mut rep = Report::default();
    progress(0.0);
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            rep.problems
                .push(format!("{}: cannot open: {e}", path.display()));
            return Some(rep);
        }
    };
    let raw_names = match file.try_clone() {
        Ok(f) => Some(f),
        Err(_) => None,
    };
    let mut zip = match zip::ZipArchive::new(file) {
        Ok(z) => z,
        Err(e) => {
            rep.problems.push(format!(
                "{}: not a readable archive (truncated or damaged): {e}",
                path.display()
            ));
            return Some(rep);
        }
    };
    // Duplicate names in the central directory.
    let dir_start = zip.central_directory_start();
    let starts = [dir_start, dir_start + zip.offset()];
    match raw_names.and_then(|mut f| central_directory_names(&mut f, &starts)) {
        Some(names) => {
            let mut seen: Vec<&[u8]> = Vec::new();
            let mut dups: Vec<&[u8]> = Vec::new();
            for n in &names {
                if seen.contains(&n.as_slice()) {
                    if !dups.contains(&n.as_slice()) {
                        dups.push(n);
                    }
                } else {
                    seen.push(n);
                }
            }
            for d in dups {
                let count = names.iter().filter(|n| n.as_slice() == d).count();
                rep.problems.push(format!(
                    "{}: duplicate entry, {count} files of this name in the archive (one may be a forgery)",
                    String::from_utf8_lossy(d)
                ));
            }
        }
        None if zip.has_duplicate_names() => rep.problems.push(format!(
            "{}: duplicate entries in the archive (one may be a forgery)",
            path.display()
        )),
        None => {}
    }
    let mbytes = match read_small(&mut zip, MANIFEST) {
        Ok(Some(b)) => b,
        Ok(None) => {
            rep.problems.push(format!("{MANIFEST}: missing"));
            return Some(rep);
        }
        Err(e) => {
            rep.problems.push(format!("{MANIFEST}: unreadable: {e}"));
            return Some(rep);
        }
    };
    let manifest: Manifest = match serde_json::from_slice(&mbytes) {
        Ok(m) => m,
        Err(e) => {
            rep.problems
                .push(format!("{MANIFEST}: not a valid manifest: {e}"));
            return Some(rep);
        }
    };
    if manifest.schema != SCHEMA && manifest.schema != SCHEMA_V1 {
        rep.problems.push(format!(
            "{MANIFEST}: schema {:?} is neither {SCHEMA:?} nor {SCHEMA_V1:?}",
            manifest.schema
        ));
    }
    // Signature, and whose key.
    let key_bytes = hex::decode(&manifest.public_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok());
    let key = key_bytes.and_then(|b| VerifyingKey::from_bytes(&b).ok());
    match (&key, read_small(&mut zip, SIGNATURE)) {
        (None, _) => rep
            .problems
            .push(format!("{MANIFEST}: public_key is not an Ed25519 key")),
        (_, Ok(None)) => rep.problems.push(format!("{SIGNATURE}: missing")),
        (_, Err(e)) => rep.problems.push(format!("{SIGNATURE}: unreadable: {e}")),
        (Some(k), Ok(Some(sig))) => {
            let fp = crate::keys::fingerprint(k.as_bytes());
            let parsed = std::str::from_utf8(&sig)
                .ok()
                .and_then(|s| hex::decode(s.trim()).ok())
                .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
                .map(|b| Signature::from_bytes(&b));
            match parsed {
                None => rep
                    .problems
                    .push(format!("{SIGNATURE}: not an Ed25519 signature")),
                Some(s) => match k.verify(&mbytes, &s) {
                    Ok(()) => {
                        rep.signature_valid = true;
                        let signer = trust.lookup(k.as_bytes());
                        rep.checked.push(match &signer {
                            KeyTrust::Own => format!(
                                "{MANIFEST}: signature valid (key {fp}, this workstation's own)"
                            ),
                            KeyTrust::Trusted { name } => format!(
                                "{MANIFEST}: signature valid (key {fp}, trusted: {name})"
                            ),
                            KeyTrust::Unknown => format!(
                                "{MANIFEST}: signature valid (key {fp}, NOT a trusted workstation key)"
                            ),
                        });
                        rep.signer = Some(signer);
                    }
                    Err(_) => rep.problems.push(format!(
                        "{SIGNATURE}: does not match {MANIFEST} (the manifest was edited or the signature replaced)"
                    )),
                },
            }
            rep.key_fingerprint = Some(fp);
            rep.public_key = Some(*k.as_bytes());
        }
    }
    // Files, streamed through the hasher.
    let mut names: Vec<String> = Vec::new();
    for n in zip.file_names() {
        match n {
            Ok(n) => names.push(n.into_owned()),
            Err(e) => rep.problems.push(format!(
                "{}: a file name in the archive is unreadable: {e}",
                path.display()
            )),
        }
    }
    let total: u64 = manifest
        .files
        .iter()
        .map(|f| {
            zip.index_for_name(&f.name)
                .and_then(|i| zip.by_index_raw(i).ok().map(|e| e.size()))
                .unwrap_or(0)
        })
        .sum::<u64>()
        .max(1);
    let mut done = 0u64;
    let mut buf = vec![0u8; 1 << 18];
    for f in &manifest.files {
        let mut entry = match zip.by_name(&f.name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => {
                rep.problems.push(format!("{}: missing", f.name));
                continue;
            }
            Err(e) => {
                rep.problems
                    .push(format!("{}: altered (unreadable: {e})", f.name));
                continue;
            }
        };
        let mut h = Sha256::new();
        let mut n = 0u64;
        let mut last_report = 0u64;
        let read = loop {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            match entry.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(k) => {
                    h.update(&buf[..k]);
                    n += k as u64;
                    if n - last_report >= 4 << 20 {
                        last_report = n;
                        progress(((done + n) as f64 / total as f64).min(1.0) as f32);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        done += n;
        progress((done as f64 / total as f64).min(1.0) as f32);
        match read {
            Err(e) => rep
                .problems
                .push(format!("{}: altered (unreadable: {e})", f.name)),
            Ok(()) => {
                if hex::encode(h.finalize()) != f.sha256 || n != f.bytes {
                    rep.problems
                        .push(format!("{}: altered (SHA-256 differs)", f.name));
                } else {
                    rep.checked
                        .push(format!("{}: SHA-256 ok ({} bytes)", f.name, f.bytes));
                }
            }
        }
    }
    for c in &manifest.clips {
        if !manifest.files.iter().any(|f| f.name == c.file) {
            rep.problems.push(format!(
                "{}: listed as a clip of {} but has no SHA-256 in the manifest",
                c.file, c.camera
            ));
        }
    }
    for n in names {
        if n != MANIFEST && n != SIGNATURE && !manifest.files.iter().any(|f| f.name == n) {
            rep.problems
                .push(format!("{n}: extra file, not in the manifest"));
        }
    }
    rep.manifest = Some(manifest);
    progress(1.0);
    Some(rep)
}

/// Convenience (tests, tools): verifies trusting exactly `keys` (no file, no own key).
pub fn verify_trusting(path: &Path, keys: &[[u8; 32]]) -> Report {
    verify(path, &TrustStore::in_memory(None, keys), &|_| {})
}
