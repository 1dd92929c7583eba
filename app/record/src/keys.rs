//! The workstation's Ed25519 signing key: 32 random bytes in a file only its owner can read,
//! created on first use.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};

use crate::{RecError, Result};

pub fn load_or_create(path: &Path) -> Result<SigningKey> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                RecError::Invalid(format!(
                    "{}: not a signing key (expected 32 bytes, found {})",
                    path.display(),
                    bytes.len()
                ))
            })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            OsRng.fill_bytes(&mut seed);
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d).map_err(|e| RecError::io(d, e))?;
            }
            let tmp = path.with_extension("partial");
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp).map_err(|e| RecError::io(&tmp, e))?;
            f.write_all(&seed).map_err(|e| RecError::io(&tmp, e))?;
            f.sync_all().map_err(|e| RecError::io(&tmp, e))?;
            std::fs::rename(&tmp, path).map_err(|e| RecError::io(path, e))?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) => Err(RecError::io(path, e)),
    }
}

/// Short fingerprint of a public key for people to compare (first 16 hex digits of SHA-256).
pub fn fingerprint(public: &[u8; 32]) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(public);
    hex::encode(&h[..8])
}
