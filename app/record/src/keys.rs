//! The workstation's Ed25519 signing key (32 random bytes in a file only its owner can read,
//! created on first use) and the trust store: which public keys' signatures are accepted as
//! coming from the district's workstations.
//!
//! The workstation's own key is always trusted. Others are listed in `trusted_keys.toml`
//! beside the log, one `[[key]]` table each:
//!
//! ```toml
//! [[key]]
//! public_key = "5ad0…"          # 64 hex digits
//! name = "Công an phường Xuân Đỉnh – máy trạm 2"
//! added_ms = 1764579600000
//! added_by = "gs01"
//! ```
//!
//! The file is rewritten atomically (temporary file, fsync, rename).

use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::{RecError, Result};

/// The file name of the trust store, beside the log.
pub const TRUST_FILE: &str = "trusted_keys.toml";

/// The workstation's signing key, beside the log (`matthan.db` → `workstation.key`).
pub fn key_path(db: &Path) -> PathBuf {
    db.with_file_name("workstation.key")
}

pub fn load_or_create(path: &Path) -> Result<SigningKey> {
    match load(path)? {
        Some(k) => Ok(k),
        None => {
            let mut seed = [0u8; 32];
            OsRng.fill_bytes(&mut seed);
            mt_core::atomic::write(path, &seed, Some(0o600)).map_err(|e| RecError::io(path, e))?;
            Ok(SigningKey::from_bytes(&seed))
        }
    }
}

/// The signing key at `path`, or `None` when there is no such file (nothing is created).
pub fn load(path: &Path) -> Result<Option<SigningKey>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            // Readable by the app's user only: a key others could read signs for anyone.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(m) = std::fs::metadata(path) {
                    if m.permissions().mode() & 0o077 != 0 {
                        tracing::warn!(
                            "{}: the signing key was readable by other users; made it owner-only (0600)",
                            path.display()
                        );
                        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                            .map_err(|e| RecError::io(path, e))?;
                    }
                }
            }
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                RecError::Invalid(format!(
                    "{}: not a signing key (expected 32 bytes, found {})",
                    path.display(),
                    bytes.len()
                ))
            })?;
            Ok(Some(SigningKey::from_bytes(&seed)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RecError::io(path, e)),
    }
}

/// Short fingerprint of a public key for people to compare (first 16 hex digits of SHA-256).
pub fn fingerprint(public: &[u8; 32]) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(public);
    hex::encode(&h[..8])
}

/// A public key typed or pasted by a person: 64 hex digits (spaces and a `0x` prefix are
/// ignored) that are a valid Ed25519 point. The error says what is wrong, in English; the UI
/// has its own words.
pub fn parse_public_key(text: &str) -> std::result::Result<[u8; 32], String> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(&t);
    if t.is_empty() {
        return Err("empty: expected a 64-hex-digit Ed25519 public key".into());
    }
    if let Some(c) = t.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "{c:?} is not a hex digit: expected a 64-hex-digit Ed25519 public key"
        ));
    }
    if t.len() != 64 {
        return Err(format!(
            "{} hex digits: expected 64 (an Ed25519 public key is 32 bytes)",
            t.len()
        ));
    }
    let b: [u8; 32] = hex::decode(t)
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|_| "expected 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&b).map_err(|_| "not a valid Ed25519 public key".to_string())?;
    Ok(b)
}

/// What the trust store says of a signing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyTrust {
    /// This workstation's own key.
    Own,
    /// A key in the trust store (or given for one run), with the name it was trusted under.
    Trusted { name: String },
    /// Neither: the signature may be valid, but nobody here vouched for the key.
    Unknown,
}

/// One trusted workstation key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    pub public_key: [u8; 32],
    /// Whose station it is, e.g. "Công an phường Xuân Đỉnh – máy trạm 2".
    pub name: String,
    pub added_ms: i64,
    /// The operator who added it.
    pub added_by: String,
}

impl TrustedKey {
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public_key)
    }
    pub fn hex(&self) -> String {
        hex::encode(self.public_key)
    }
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    key: Vec<RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    public_key: toml::Spanned<String>,
    name: String,
    #[serde(default)]
    added_ms: i64,
    #[serde(default)]
    added_by: String,
}

#[derive(Serialize)]
struct OutFile<'a> {
    key: Vec<OutKey<'a>>,
}

#[derive(Serialize)]
struct OutKey<'a> {
    public_key: String,
    name: &'a str,
    added_ms: i64,
    added_by: &'a str,
}

/// The keys whose signatures this workstation accepts.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    /// Where the list is kept; `None` for a store only in memory.
    path: Option<PathBuf>,
    own: Option<[u8; 32]>,
    keys: Vec<TrustedKey>,
    /// Keys trusted for this run only (`matthan verify --trust`), never written.
    extra: Vec<[u8; 32]>,
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

impl TrustStore {
    /// Reads the trust store at `path` (a missing file is an empty list). `own`: this
    /// workstation's public key, always trusted (`None` when it has none yet). Errors name the
    /// file, the line and the field.
    pub fn load(path: &Path, own: Option<VerifyingKey>) -> Result<TrustStore> {
        let mut s = TrustStore {
            path: Some(path.to_owned()),
            own: own.map(|k| *k.as_bytes()),
            ..Default::default()
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(s),
            Err(e) => return Err(RecError::io(path, e)),
        };
        let at = |line: usize, field: &str, msg: &str| {
            RecError::Invalid(format!(
                "{}: line {line}: field `{field}`: {msg}",
                path.display()
            ))
        };
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            let msg = e.message().trim().to_owned();
            let line = e.span().map_or(1, |r| line_of(&text, r.start));
            // The field: named by the message ("missing field `name`"), else the key on the
            // line the error points at.
            let field = msg
                .split_once("field `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(f, _)| f.to_owned())
                .or_else(|| {
                    let l = text.lines().nth(line - 1)?;
                    let (k, _) = l.split_once('=')?;
                    Some(k.trim().trim_matches('"').to_owned())
                });
            match field {
                Some(f) => at(line, &f, &msg),
                None => RecError::Invalid(format!("{}: line {line}: {msg}", path.display())),
            }
        })?;
        for k in raw.key {
            let line = line_of(&text, k.public_key.span().start);
            let pk =
                parse_public_key(k.public_key.get_ref()).map_err(|m| at(line, "public_key", &m))?;
            if k.name.trim().is_empty() {
                return Err(at(line, "name", "empty: say whose workstation this key is"));
            }
            if s.keys.iter().any(|t| t.public_key == pk) {
                return Err(at(line, "public_key", "listed twice"));
            }
            s.keys.push(TrustedKey {
                public_key: pk,
                name: k.name,
                added_ms: k.added_ms,
                added_by: k.added_by,
            });
        }
        Ok(s)
    }

    /// A store only in memory (nothing is read or written): `own` and `keys` trusted.
    pub fn in_memory(own: Option<VerifyingKey>, keys: &[[u8; 32]]) -> TrustStore {
        let mut s = TrustStore {
            own: own.map(|k| *k.as_bytes()),
            ..Default::default()
        };
        s.extra = keys.to_vec();
        s
    }

    /// The file the store is kept in, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// This workstation's public key, if it has one.
    pub fn own(&self) -> Option<[u8; 32]> {
        self.own
    }

    /// The keys listed in the file, in the order added.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// Trusts `key` for this run only (not written).
    pub fn trust_for_run(&mut self, key: [u8; 32]) {
        self.extra.push(key);
    }

    pub fn lookup(&self, key: &[u8; 32]) -> KeyTrust {
        if self.own.as_ref() == Some(key) {
            KeyTrust::Own
        } else if let Some(t) = self.keys.iter().find(|t| &t.public_key == key) {
            KeyTrust::Trusted {
                name: t.name.clone(),
            }
        } else if self.extra.contains(key) {
            KeyTrust::Trusted {
                name: format!("{} (given for this check)", fingerprint(key)),
            }
        } else {
            KeyTrust::Unknown
        }
    }

    /// Adds `key` under `name` (added by operator `by`, now) and writes the file.
    pub fn trust(&mut self, key: [u8; 32], name: &str, by: &str) -> Result<()> {
        VerifyingKey::from_bytes(&key)
            .map_err(|_| RecError::Invalid("not a valid Ed25519 public key".into()))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(RecError::Invalid(
                "a trusted key needs a name: whose workstation is it?".into(),
            ));
        }
        if self.own == Some(key) {
            return Err(RecError::Invalid(format!(
                "{} is this workstation's own key, always trusted",
                fingerprint(&key)
            )));
        }
        if let Some(t) = self.keys.iter().find(|t| t.public_key == key) {
            return Err(RecError::Invalid(format!(
                "{} is already trusted as {:?}",
                fingerprint(&key),
                t.name
            )));
        }
        let mut next = self.keys.clone();
        next.push(TrustedKey {
            public_key: key,
            name: name.to_owned(),
            added_ms: crate::now_ms(),
            added_by: by.trim().to_owned(),
        });
        self.write(&next)?;
        self.keys = next;
        Ok(())
    }

    /// Removes the key with `fingerprint` (or full hex) and writes the file; returns it.
    pub fn remove(&mut self, fingerprint_or_hex: &str) -> Result<TrustedKey> {
        let f = fingerprint_or_hex.trim().to_ascii_lowercase();
        let Some(i) = self
            .keys
            .iter()
            .position(|t| t.fingerprint() == f || t.hex() == f)
        else {
            return Err(RecError::Invalid(format!(
                "no trusted key has fingerprint {f}"
            )));
        };
        let mut next = self.keys.clone();
        let gone = next.remove(i);
        self.write(&next)?;
        self.keys = next;
        Ok(gone)
    }

    /// Writes `keys` to the file: a temporary file beside it, fsynced, renamed over it.
    fn write(&self, keys: &[TrustedKey]) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let out = OutFile {
            key: keys
                .iter()
                .map(|k| OutKey {
                    public_key: k.hex(),
                    name: &k.name,
                    added_ms: k.added_ms,
                    added_by: &k.added_by,
                })
                .collect(),
        };
        let body = toml::to_string(&out).map_err(|e| RecError::Invalid(e.to_string()))?;
        let text = format!(
            "# Public keys of the district's workstations whose evidence archives this\n\
             # workstation accepts (its own key is always accepted). Managed with\n\
             # `matthan keys` or in the app (supervisors).\n\n{body}"
        );
        mt_core::atomic::write(path, text.as_bytes(), Some(0o644))
            .map_err(|e| RecError::io(path, e))?;
        if let Some(d) = path.parent() {
            let _ = crate::sync_dir(d);
        }
        Ok(())
    }
}
