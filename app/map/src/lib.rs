//! The district map, without any UI: what the map view draws and what the coverage planner
//! computes. Coordinates are kept in Web Mercator metres ([`proj`]); lengths and ranges on the
//! ground are converted with the local scale factor.
#![forbid(clippy::print_stdout, clippy::print_stderr)]

pub mod coverage;
pub mod gazetteer;
pub mod layer;
pub mod mbtiles;
pub mod plan;
pub mod proj;
pub mod sites;
pub mod streets;

pub use coverage::{Coverage, Gap, Road, WardCoverage};
pub use layer::{Feature, Kind, Layer, MapData};
pub use proj::{lonlat_to_merc, merc_to_lonlat, View};
pub use sites::SiteIndex;

/// What went wrong reading map data. Every variant names the file; feature errors also name
/// the feature (position in the file and its id).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum MapError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}:{line}:{column}: not valid JSON: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Format { file: String, message: String },
    #[error("{file}: feature #{index}{id}: {message}")]
    Feature {
        file: String,
        /// 1-based position in the file's `features` array.
        index: usize,
        /// ` (id "…")` when the feature has an id, else empty.
        id: String,
        message: String,
    },
    #[error("{file}: {message}")]
    Config { file: String, message: String },
    #[error("{file}: MBTiles: {message}")]
    MbTiles { file: String, message: String },
}
