//! Cameras on the map: the field-of-view sector of each, and an R*-tree over their positions
//! for hit-testing and "what is in view".

use geo::Coord;
use mt_core::CameraSite;
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};

use crate::proj::{bearing_vector, ground_scale, lonlat_to_merc};

/// A site's position in Mercator metres.
pub fn site_merc(s: &CameraSite) -> Coord {
    lonlat_to_merc(s.lon_deg, s.lat_deg)
}

/// The site's range in Mercator metres (ground metres / local scale).
pub fn range_merc(s: &CameraSite, at: Coord) -> f64 {
    s.range_m / ground_scale(at.y)
}

/// The field of view as a closed polygon in Mercator metres: the apex, then `steps + 1`
/// points along the arc. A 360° view is a full circle (no apex).
pub fn sector(s: &CameraSite, steps: usize) -> Vec<Coord> {
    let c = site_merc(s);
    let r = range_merc(s, c);
    let steps = steps.max(2);
    let mut out = Vec::with_capacity(steps + 2);
    let full = s.fov_deg >= 359.999;
    if !full {
        out.push(c);
    }
    let start = s.heading_deg - s.fov_deg / 2.0;
    for i in 0..=steps {
        let d = bearing_vector(start + s.fov_deg * i as f64 / steps as f64);
        out.push(Coord {
            x: c.x + d.x * r,
            y: c.y + d.y * r,
        });
    }
    out
}

/// Bounding box (min, max) of a site's field of view.
pub fn sector_bounds(s: &CameraSite) -> (Coord, Coord) {
    let c = site_merc(s);
    let r = range_merc(s, c);
    (
        Coord {
            x: c.x - r,
            y: c.y - r,
        },
        Coord {
            x: c.x + r,
            y: c.y + r,
        },
    )
}

type Entry = GeomWithData<[f64; 2], usize>;

/// Positions of the sites (indices into the slice it was built from).
pub struct SiteIndex {
    tree: RTree<Entry>,
}

impl SiteIndex {
    pub fn build(sites: &[CameraSite]) -> Self {
        Self::build_filtered(sites, |_| true)
    }

    /// Only the sites `keep` accepts are indexed (a filtered map).
    pub fn build_filtered(sites: &[CameraSite], keep: impl Fn(&CameraSite) -> bool) -> Self {
        let entries = sites
            .iter()
            .enumerate()
            .filter(|(_, s)| keep(s))
            .map(|(i, s)| {
                let c = site_merc(s);
                GeomWithData::new([c.x, c.y], i)
            })
            .collect();
        SiteIndex {
            tree: RTree::bulk_load(entries),
        }
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// The site nearest to `p` no farther than `radius` (Mercator metres).
    pub fn hit(&self, p: Coord, radius: f64) -> Option<usize> {
        self.tree
            .nearest_neighbor(&[p.x, p.y])
            .filter(|e| {
                let [x, y] = *e.geom();
                (x - p.x).hypot(y - p.y) <= radius
            })
            .map(|e| e.data)
    }

    /// Sites whose position lies in the rectangle (min, max).
    pub fn in_rect(&self, min: Coord, max: Coord) -> impl Iterator<Item = usize> + '_ {
        self.tree
            .locate_in_envelope(&AABB::from_corners([min.x, min.y], [max.x, max.y]))
            .map(|e| e.data)
    }
}

/// Linear-scan hit test: the baseline the benchmark compares [`SiteIndex::hit`] against.
pub fn hit_linear(sites: &[CameraSite], p: Coord, radius: f64) -> Option<usize> {
    sites
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let c = site_merc(s);
            (i, (c.x - p.x).hypot(c.y - p.y))
        })
        .filter(|(_, d)| *d <= radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}
