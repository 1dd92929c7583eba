//! Web Mercator (EPSG:3857), the projection of every web map and MBTiles file, and the view
//! (centre and scale) that maps it to the screen.
//!
//! Mercator is conformal: angles (a camera's heading and angle of view) are kept, and a small
//! distance on the ground is the Mercator distance times cos(latitude).

use geo::Coord;

/// WGS84 equatorial radius, the sphere Web Mercator uses.
pub const EARTH_RADIUS: f64 = 6_378_137.0;
/// Latitude where Web Mercator's square world ends.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;
/// Half the width of the Mercator world (metres).
pub const HALF_WORLD: f64 = std::f64::consts::PI * EARTH_RADIUS;

/// Longitude/latitude (degrees) to Mercator metres. Latitudes are clamped to ±[`MAX_LAT`].
pub fn lonlat_to_merc(lon: f64, lat: f64) -> Coord {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    Coord {
        x: EARTH_RADIUS * lon.to_radians(),
        y: EARTH_RADIUS * (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln(),
    }
}

/// Mercator metres to (longitude, latitude) in degrees.
pub fn merc_to_lonlat(c: Coord) -> (f64, f64) {
    let lon = (c.x / EARTH_RADIUS).to_degrees();
    let lat = (2.0 * (c.y / EARTH_RADIUS).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees();
    (lon, lat)
}

/// Metres on the ground per Mercator metre at Mercator northing `y` (= cos latitude).
pub fn ground_scale(y: f64) -> f64 {
    1.0 / (y / EARTH_RADIUS).cosh()
}

/// Ground distance in metres between two nearby Mercator points (local scale at their middle).
pub fn ground_distance(a: Coord, b: Coord) -> f64 {
    ((a.x - b.x).hypot(a.y - b.y)) * ground_scale((a.y + b.y) / 2.0)
}

/// Unit vector of a compass bearing (degrees clockwise from north) in Mercator axes
/// (x east, y north).
pub fn bearing_vector(deg: f64) -> Coord {
    let r = deg.to_radians();
    Coord {
        x: r.sin(),
        y: r.cos(),
    }
}

/// Compass bearing (degrees, 0..360) from `a` to `b`.
pub fn bearing(a: Coord, b: Coord) -> f64 {
    (b.x - a.x).atan2(b.y - a.y).to_degrees().rem_euclid(360.0)
}

/// What part of the world the map shows: the Mercator point at the centre of the view and
/// how many Mercator metres one screen point covers. Screen y grows downwards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub center: Coord,
    pub mpp: f64,
}

impl View {
    pub const MIN_MPP: f64 = 0.05;
    pub const MAX_MPP: f64 = 200.0;

    pub fn new(lon: f64, lat: f64, mpp: f64) -> Self {
        View {
            center: lonlat_to_merc(lon, lat),
            mpp: mpp.clamp(Self::MIN_MPP, Self::MAX_MPP),
        }
    }

    /// World point to screen point; `screen_center` is the middle of the map's rectangle.
    pub fn to_screen(&self, c: Coord, screen_center: [f32; 2]) -> [f32; 2] {
        [
            screen_center[0] + ((c.x - self.center.x) / self.mpp) as f32,
            screen_center[1] - ((c.y - self.center.y) / self.mpp) as f32,
        ]
    }

    pub fn to_world(&self, p: [f32; 2], screen_center: [f32; 2]) -> Coord {
        Coord {
            x: self.center.x + (p[0] - screen_center[0]) as f64 * self.mpp,
            y: self.center.y - (p[1] - screen_center[1]) as f64 * self.mpp,
        }
    }

    /// Moves the view by a screen-space drag.
    pub fn pan(&mut self, dx: f32, dy: f32) {
        self.center.x -= dx as f64 * self.mpp;
        self.center.y += dy as f64 * self.mpp;
    }

    /// Zooms by `factor` (> 1 zooms in) keeping the world point under `anchor` still.
    pub fn zoom_at(&mut self, factor: f64, anchor: [f32; 2], screen_center: [f32; 2]) {
        let before = self.to_world(anchor, screen_center);
        self.mpp = (self.mpp / factor).clamp(Self::MIN_MPP, Self::MAX_MPP);
        let after = self.to_world(anchor, screen_center);
        self.center.x += before.x - after.x;
        self.center.y += before.y - after.y;
    }

    /// Visible world rectangle (min, max) for a screen of `size` points.
    pub fn world_bounds(&self, size: [f32; 2]) -> (Coord, Coord) {
        let hw = size[0] as f64 * self.mpp / 2.0;
        let hh = size[1] as f64 * self.mpp / 2.0;
        (
            Coord {
                x: self.center.x - hw,
                y: self.center.y - hh,
            },
            Coord {
                x: self.center.x + hw,
                y: self.center.y + hh,
            },
        )
    }

    /// The view that shows the world rectangle (min, max) in a screen of `size` points.
    pub fn fit(min: Coord, max: Coord, size: [f32; 2]) -> Self {
        let mpp = ((max.x - min.x) / size[0].max(1.0) as f64)
            .max((max.y - min.y) / size[1].max(1.0) as f64)
            * 1.05;
        View {
            center: Coord {
                x: (min.x + max.x) / 2.0,
                y: (min.y + max.y) / 2.0,
            },
            mpp: mpp.clamp(Self::MIN_MPP, Self::MAX_MPP),
        }
    }

    /// The slippy-map zoom level whose 256-pixel tiles best match this scale.
    pub fn tile_zoom(&self) -> u8 {
        let z = (2.0 * HALF_WORLD / (256.0 * self.mpp)).log2().round();
        z.clamp(0.0, 22.0) as u8
    }
}

/// The XYZ tile (x, y) of zoom `z` containing Mercator point `c`.
pub fn tile_of(c: Coord, z: u8) -> (u32, u32) {
    let n = (1u64 << z) as f64;
    let size = 2.0 * HALF_WORLD / n;
    let x = ((c.x + HALF_WORLD) / size).floor().clamp(0.0, n - 1.0);
    let y = ((HALF_WORLD - c.y) / size).floor().clamp(0.0, n - 1.0);
    (x as u32, y as u32)
}

/// Mercator rectangle (min, max) of XYZ tile (x, y) at zoom `z`.
pub fn tile_bounds(z: u8, x: u32, y: u32) -> (Coord, Coord) {
    let size = 2.0 * HALF_WORLD / (1u64 << z) as f64;
    let min_x = -HALF_WORLD + x as f64 * size;
    let max_y = HALF_WORLD - y as f64 * size;
    (
        Coord {
            x: min_x,
            y: max_y - size,
        },
        Coord {
            x: min_x + size,
            y: max_y,
        },
    )
}
