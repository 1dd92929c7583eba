//! Writing a small file so that a reader sees the old file or the new one, never a part: a
//! temporary file in the same directory, fsync, rename, fsync of the directory. One function
//! for every such file of the workstation (camera file, signing key, trusted keys, wall state).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `bytes` to `path` atomically. `mode`: the new file's permissions; None keeps the old
/// file's (a camera file with passwords is often 0600), else 0600. `Ok(Some(e))`: written, but
/// the directory could not be fsynced (a weaker guarantee after a power cut, not a failure).
pub fn write(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
) -> std::io::Result<Option<std::io::Error>> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mode = mode.unwrap_or_else(|| {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o600)
    });
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    let r = f.write_all(bytes).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = r.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(std::fs::File::open(dir).and_then(|d| d.sync_all()).err())
}
