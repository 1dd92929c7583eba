//! A raster basemap from an MBTiles file (a SQLite database of PNG/JPEG tiles, rows in TMS
//! order). Read-only; nothing on the network.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::MapError;

pub struct MbTiles {
    pub path: PathBuf,
    conn: Mutex<Connection>,
    pub name: String,
    /// `png`, `jpg` or `webp` (metadata `format`).
    pub format: String,
    pub min_zoom: u8,
    pub max_zoom: u8,
    pub attribution: Option<String>,
}

impl std::fmt::Debug for MbTiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MbTiles")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish()
    }
}

impl MbTiles {
    /// Opens and checks an MBTiles file: SQLite, with a `tiles` table and `metadata`.
    pub fn open(path: &Path) -> Result<Self, MapError> {
        let file = path.display().to_string();
        let err = |message: String| MapError::MbTiles {
            file: file.clone(),
            message,
        };
        if !path.is_file() {
            return Err(err("no such file".into()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| err(e.to_string()))?;
        // Any query fails on a file that is not SQLite ("file is not a database").
        let has_tiles: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'tiles'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| err(format!("not a SQLite database ({e})")))?;
        if !has_tiles {
            return Err(err("no `tiles` table; not an MBTiles file".into()));
        }
        let meta = |key: &str| -> Option<String> {
            conn.query_row("SELECT value FROM metadata WHERE name = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .ok()
            .flatten()
        };
        let format = meta("format").unwrap_or_else(|| "png".into());
        if !matches!(format.as_str(), "png" | "jpg" | "jpeg") {
            return Err(err(format!(
                "tile format {format:?} is not supported (png or jpg)"
            )));
        }
        let (min_zoom, max_zoom): (i64, i64) = conn
            .query_row(
                "SELECT ifnull(min(zoom_level), 0), ifnull(max(zoom_level), 0) FROM tiles",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| err(format!("reading `tiles`: {e}")))?;
        Ok(MbTiles {
            path: path.to_owned(),
            name: meta("name").unwrap_or_default(),
            attribution: meta("attribution"),
            format,
            min_zoom: min_zoom.clamp(0, 22) as u8,
            max_zoom: max_zoom.clamp(0, 22) as u8,
            conn: Mutex::new(conn),
        })
    }

    /// The encoded image of XYZ tile (x, y) at zoom `z`, if the file has it.
    pub fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, MapError> {
        let tms_row = (1u64 << z) - 1 - y as u64;
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached(
            "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
        )
        .and_then(|mut s| {
            s.query_row(rusqlite::params![z, x, tms_row as i64], |r| r.get(0))
                .optional()
        })
        .map_err(|e| MapError::MbTiles {
            file: self.path.display().to_string(),
            message: format!("tile {z}/{x}/{y}: {e}"),
        })
    }
}
