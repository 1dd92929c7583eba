//! Checking an evidence archive: the manifest's signature, then every file's SHA-256; files
//! missing from the archive or not in the manifest are named. Read-only.

use std::io::Read;
use std::path::Path;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::export::{Manifest, MANIFEST, SCHEMA, SIGNATURE};

#[derive(Clone, Debug, Default)]
pub struct Report {
    /// What was checked and found good, one line each.
    pub checked: Vec<String>,
    /// Each problem names the file (or the archive) and what is wrong.
    pub problems: Vec<String>,
    pub manifest: Option<Manifest>,
    /// Fingerprint of the signing key, to compare with the exporting workstation's.
    pub key_fingerprint: Option<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.manifest.is_some()
    }
}

fn read_entry<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Option<Vec<u8>>, String> {
    match zip.by_name(name) {
        Ok(mut f) => {
            let mut v = Vec::new();
            f.read_to_end(&mut v).map_err(|e| e.to_string())?;
            Ok(Some(v))
        }
        Err(zip::result::ZipError::FileNotFound) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Verifies the archive at `path`. `trusted`: public keys of workstations whose signatures are
/// accepted; empty means any key (the fingerprint is reported for the officer to compare).
pub fn verify(path: &Path, trusted: &[[u8; 32]]) -> Report {
    let mut rep = Report::default();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            rep.problems
                .push(format!("{}: cannot open: {e}", path.display()));
            return rep;
        }
    };
    let mut zip = match zip::ZipArchive::new(file) {
        Ok(z) => z,
        Err(e) => {
            rep.problems.push(format!(
                "{}: not a readable archive (truncated or damaged): {e}",
                path.display()
            ));
            return rep;
        }
    };
    let mbytes = match read_entry(&mut zip, MANIFEST) {
        Ok(Some(b)) => b,
        Ok(None) => {
            rep.problems.push(format!("{MANIFEST}: missing"));
            return rep;
        }
        Err(e) => {
            rep.problems.push(format!("{MANIFEST}: unreadable: {e}"));
            return rep;
        }
    };
    let manifest: Manifest = match serde_json::from_slice(&mbytes) {
        Ok(m) => m,
        Err(e) => {
            rep.problems
                .push(format!("{MANIFEST}: not a valid manifest: {e}"));
            return rep;
        }
    };
    if manifest.schema != SCHEMA {
        rep.problems.push(format!(
            "{MANIFEST}: schema {:?} is not {SCHEMA:?}",
            manifest.schema
        ));
    }
    // Signature.
    let key = hex::decode(&manifest.public_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
    match (&key, read_entry(&mut zip, SIGNATURE)) {
        (None, _) => rep
            .problems
            .push(format!("{MANIFEST}: public_key is not an Ed25519 key")),
        (_, Ok(None)) => rep.problems.push(format!("{SIGNATURE}: missing")),
        (_, Err(e)) => rep.problems.push(format!("{SIGNATURE}: unreadable: {e}")),
        (Some(k), Ok(Some(sig))) => {
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
                    Ok(()) => rep.checked.push(format!(
                        "{MANIFEST}: signature valid (key {})",
                        crate::keys::fingerprint(k.as_bytes())
                    )),
                    Err(_) => rep.problems.push(format!(
                        "{SIGNATURE}: does not match {MANIFEST} (the manifest was edited or the signature replaced)"
                    )),
                },
            }
            rep.key_fingerprint = Some(crate::keys::fingerprint(k.as_bytes()));
            if !trusted.is_empty() && !trusted.iter().any(|t| t == k.as_bytes()) {
                rep.problems.push(format!(
                    "{SIGNATURE}: signed by key {}, which is not a trusted workstation key",
                    crate::keys::fingerprint(k.as_bytes())
                ));
            }
        }
    }
    // Files.
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
    for f in &manifest.files {
        match read_entry(&mut zip, &f.name) {
            Ok(None) => rep.problems.push(format!("{}: missing", f.name)),
            Err(e) => rep
                .problems
                .push(format!("{}: altered (unreadable: {e})", f.name)),
            Ok(Some(bytes)) => {
                let h = hex::encode(Sha256::digest(&bytes));
                if h != f.sha256 || bytes.len() as u64 != f.bytes {
                    rep.problems
                        .push(format!("{}: altered (SHA-256 differs)", f.name));
                } else {
                    rep.checked
                        .push(format!("{}: SHA-256 ok ({} bytes)", f.name, f.bytes));
                }
            }
        }
    }
    for n in names {
        if n != MANIFEST && n != SIGNATURE && !manifest.files.iter().any(|f| f.name == n) {
            rep.problems
                .push(format!("{n}: extra file, not in the manifest"));
        }
    }
    rep.manifest = Some(manifest);
    rep
}
