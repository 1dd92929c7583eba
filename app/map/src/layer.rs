//! Vector layers from GeoJSON files, and the map file (`map.toml`) that names them.
//!
//! ```toml
//! attribution = "Bản đồ: Mắt Thần"      # shown in the map's corner (optional)
//! center = [105.787, 21.071]            # lon, lat of the first view (optional)
//! basemap = "xuan-dinh.mbtiles"         # optional raster basemap (MBTiles)
//!
//! [[layer]]
//! file = "wards.geojson"                # relative to this file
//! kind = "area"                         # area (wards, district) | road | poi
//! name = "Ranh giới phường"
//! ```
//!
//! A layer that cannot be read, and each bad feature in a layer, gives one [`MapError`]
//! naming the file (and the feature); the rest of the map still loads.

use std::path::{Path, PathBuf};

use geo::{BoundingRect, Coord, Geometry, LineString, MapCoords, MultiPolygon, Polygon, Rect};
use serde::Deserialize;

use crate::mbtiles::MbTiles;
use crate::proj::lonlat_to_merc;
use crate::MapError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Polygons: the district, wards. Area features named after a ward count for coverage.
    Area,
    /// Lines: streets. Their length is what coverage measures.
    Road,
    /// Points of interest: schools, markets, bus stops.
    Poi,
}

/// One feature, its geometry in Mercator metres.
#[derive(Clone, Debug)]
pub struct Feature {
    pub id: String,
    pub name: String,
    /// `category` property (POIs), or `highway` (roads), or empty.
    pub category: String,
    /// OSM `admin_level` (6 = district, 8 = ward), if the feature has one.
    pub admin_level: Option<u8>,
    pub geom: Geometry,
    pub bbox: Option<Rect>,
}

#[derive(Clone, Debug)]
pub struct Layer {
    pub name: String,
    pub kind: Kind,
    pub file: PathBuf,
    pub features: Vec<Feature>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    #[serde(default)]
    attribution: Option<String>,
    #[serde(default)]
    center: Option<[f64; 2]>,
    #[serde(default)]
    basemap: Option<PathBuf>,
    #[serde(default)]
    layer: Vec<LayerEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerEntry {
    file: PathBuf,
    kind: Kind,
    #[serde(default)]
    name: Option<String>,
}

/// Everything the map draws, loaded once.
#[derive(Default)]
pub struct MapData {
    pub layers: Vec<Layer>,
    pub basemap: Option<MbTiles>,
    /// Attribution lines to show whenever the map is drawn.
    pub attribution: Vec<String>,
    /// First view centre (lon, lat), if the map file names one.
    pub center: Option<[f64; 2]>,
}

impl MapData {
    /// Loads the map file and every layer it names. `Err` only when the map file itself
    /// cannot be read or parsed; a bad layer or feature is reported in the error list.
    pub fn load(path: &Path) -> Result<(MapData, Vec<MapError>), MapError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| MapError::Io {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let mf: MapFile = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            MapError::Config {
                file: format!("{file}:{line}"),
                message: e.message().trim().to_owned(),
            }
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut data = MapData {
            center: mf.center,
            ..Default::default()
        };
        let mut errors = Vec::new();
        if let Some(a) = mf.attribution {
            data.attribution.push(a);
        }
        for entry in mf.layer {
            let p = dir.join(&entry.file);
            let name = entry.name.unwrap_or_else(|| {
                entry
                    .file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            match load_layer(&p, entry.kind, &name) {
                Ok((layer, errs, attribution)) => {
                    for a in attribution {
                        if !data.attribution.contains(&a) {
                            data.attribution.push(a);
                        }
                    }
                    data.layers.push(layer);
                    errors.extend(errs);
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(b) = mf.basemap {
            match MbTiles::open(&dir.join(b)) {
                Ok(m) => {
                    if let Some(a) = m.attribution.clone() {
                        data.attribution.push(a);
                    }
                    data.basemap = Some(m);
                }
                Err(e) => errors.push(e),
            }
        }
        Ok((data, errors))
    }

    pub fn features(&self, kind: Kind) -> impl Iterator<Item = &Feature> {
        self.layers
            .iter()
            .filter(move |l| l.kind == kind)
            .flat_map(|l| &l.features)
    }

    /// Streets for coverage: every line of every road layer.
    pub fn roads(&self) -> Vec<crate::coverage::Road> {
        let mut out = Vec::new();
        for f in self.features(Kind::Road) {
            let mut push = |ls: &LineString| {
                if ls.0.len() >= 2 {
                    out.push(crate::coverage::Road {
                        name: f.name.clone(),
                        coords: ls.0.clone(),
                    });
                }
            };
            match &f.geom {
                Geometry::LineString(ls) => push(ls),
                Geometry::MultiLineString(m) => m.0.iter().for_each(push),
                _ => {}
            }
        }
        out
    }

    /// Named areas for per-ward coverage: area features with a name, except those whose
    /// OSM `admin_level` says they are a district or larger (6 or less).
    pub fn wards(&self) -> Vec<(String, MultiPolygon)> {
        self.features(Kind::Area)
            .filter(|f| !f.name.is_empty() && f.admin_level.is_none_or(|l| l > 6))
            .filter_map(|f| {
                let mp = match &f.geom {
                    Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
                    Geometry::MultiPolygon(m) => m.clone(),
                    _ => return None,
                };
                Some((f.name.clone(), mp))
            })
            .collect()
    }

    /// Mercator bounds of every feature.
    pub fn bounds(&self) -> Option<(Coord, Coord)> {
        let mut it = self
            .layers
            .iter()
            .flat_map(|l| &l.features)
            .filter_map(|f| f.bbox);
        let first = it.next()?;
        let (mut min, mut max) = (first.min(), first.max());
        for b in it {
            min.x = min.x.min(b.min().x);
            min.y = min.y.min(b.min().y);
            max.x = max.x.max(b.max().x);
            max.y = max.y.max(b.max().y);
        }
        Some((min, max))
    }
}

fn text_prop(f: &geojson::Feature, keys: &[&str]) -> String {
    keys.iter()
        .find_map(|k| f.property(k).and_then(|v| v.as_str()))
        .unwrap_or("")
        .to_owned()
}

/// Reads one GeoJSON layer. Returns the layer, one error per skipped feature, and the
/// attribution strings the features carry.
pub fn load_layer(
    path: &Path,
    kind: Kind,
    name: &str,
) -> Result<(Layer, Vec<MapError>, Vec<String>), MapError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| MapError::Io {
        file: file.clone(),
        message: e.to_string(),
    })?;
    // Parsed as plain JSON first, so one bad feature does not lose the others.
    let root: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| MapError::Json {
        file: file.clone(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let features = match root.get("type").and_then(|t| t.as_str()) {
        Some("FeatureCollection") => match root.get("features") {
            Some(serde_json::Value::Array(a)) => a.clone(),
            _ => {
                return Err(MapError::Format {
                    file,
                    message: "FeatureCollection without a `features` array".into(),
                })
            }
        },
        Some("Feature") => vec![root],
        other => {
            return Err(MapError::Format {
                file,
                message: format!(
                    "expected a GeoJSON FeatureCollection, found type {:?}",
                    other.unwrap_or("(none)")
                ),
            })
        }
    };
    let mut layer = Layer {
        name: name.to_owned(),
        kind,
        file: path.to_owned(),
        features: Vec::with_capacity(features.len()),
    };
    let mut errors = Vec::new();
    let mut attribution = Vec::new();
    for (i, v) in features.into_iter().enumerate() {
        let raw_id = v
            .get("id")
            .map(|id| match id {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        let err = |message: String| MapError::Feature {
            file: file.clone(),
            index: i + 1,
            id: if raw_id.is_empty() {
                String::new()
            } else {
                format!(" (id {raw_id:?})")
            },
            message,
        };
        let f: geojson::Feature = match serde_json::from_value(v) {
            Ok(f) => f,
            Err(e) => {
                errors.push(err(e.to_string()));
                continue;
            }
        };
        let Some(g) = &f.geometry else {
            errors.push(err("no geometry".into()));
            continue;
        };
        let geom: Geometry = match Geometry::try_from(&g.value) {
            Ok(g) => g,
            Err(e) => {
                errors.push(err(e.to_string()));
                continue;
            }
        };
        if let Err(m) = check_lonlat(&geom) {
            errors.push(err(m));
            continue;
        }
        let expected = match (&geom, kind) {
            (Geometry::Polygon(_) | Geometry::MultiPolygon(_), Kind::Area) => true,
            (Geometry::LineString(_) | Geometry::MultiLineString(_), Kind::Road) => true,
            (Geometry::Point(_) | Geometry::MultiPoint(_), Kind::Poi) => true,
            _ => false,
        };
        if !expected {
            errors.push(err(format!(
                "a {} in a layer of kind {kind:?}",
                g.value.type_name()
            )));
            continue;
        }
        let a = text_prop(&f, &["attribution"]);
        if !a.is_empty() && !attribution.contains(&a) {
            attribution.push(a);
        }
        let merc = geom.map_coords(|c| lonlat_to_merc(c.x, c.y));
        layer.features.push(Feature {
            id: raw_id,
            name: text_prop(&f, &["name", "name:vi", "ten"]),
            category: text_prop(&f, &["category", "highway", "amenity"]),
            admin_level: f.property("admin_level").and_then(|v| match v {
                serde_json::Value::String(s) => s.parse().ok(),
                serde_json::Value::Number(n) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
                _ => None,
            }),
            bbox: merc.bounding_rect(),
            geom: merc,
        });
    }
    Ok((layer, errors, attribution))
}

fn check_lonlat(g: &Geometry) -> Result<(), String> {
    use geo::CoordsIter;
    for c in g.coords_iter() {
        if !c.x.is_finite() || !c.y.is_finite() {
            return Err("a coordinate is not a number".into());
        }
        if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
            return Err(format!(
                "coordinate [{}, {}] is not [longitude, latitude] in degrees",
                c.x, c.y
            ));
        }
    }
    Ok(())
}

/// A polygon's outer ring and holes, for drawing.
pub fn polygon_rings(p: &Polygon) -> impl Iterator<Item = &LineString> {
    std::iter::once(p.exterior()).chain(p.interiors())
}

/// Attribution required wherever the OpenStreetMap extract is drawn.
pub const OSM_ATTRIBUTION: &str =
    "Map data © OpenStreetMap contributors, ODbL 1.0 — openstreetmap.org/copyright";

/// Writes a map file at `out` for the shared OpenStreetMap extract of Bắc Từ Liêm in `dir`
/// (district outline, Ring Road 3, points of interest). Used by tests and the benchmark.
pub fn write_osm_map_file(dir: &Path, out: &Path) -> std::io::Result<()> {
    let abs = std::fs::canonicalize(dir)?;
    let q = |name: &str| toml::Value::String(abs.join(name).display().to_string()).to_string();
    let text = format!(
        "attribution = {}\n\n[[layer]]\nfile = {}\nkind = \"area\"\nname = \"Quận\"\n\n\
         [[layer]]\nfile = {}\nkind = \"road\"\nname = \"Đường chính\"\n\n\
         [[layer]]\nfile = {}\nkind = \"poi\"\nname = \"Địa điểm\"\n",
        toml::Value::String(OSM_ATTRIBUTION.into()),
        q("bac_tu_liem_district_osm.geojson"),
        q("bac_tu_liem_roads_main_osm.geojson"),
        q("bac_tu_liem_pois_osm.geojson"),
    );
    std::fs::write(out, text)
}
