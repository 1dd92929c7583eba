//! Road coverage: how much street length at least one camera's field of view covers, per ward
//! and for the district, and the uncovered stretches, longest first.
//!
//! Each road segment is clipped exactly against each nearby field of view (a disc sector:
//! one quadratic for the range, two half-planes per wedge of ≤ 180° for the angle), giving
//! covered parameter intervals that are then merged. Candidate cameras come from an R*-tree
//! over the sectors' bounding boxes. Segments are split where they cross ward boundaries, so
//! per-ward lengths are exact too. Lengths are ground metres (Mercator length × local scale).

use std::collections::HashMap;

use geo::{Contains, Coord, MultiPolygon, Point};
use mt_core::CameraSite;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::proj::bearing_vector;
use crate::sites::{range_merc, sector_bounds, site_merc};

/// A street polyline in Mercator metres.
#[derive(Clone, Debug)]
pub struct Road {
    pub name: String,
    pub coords: Vec<Coord>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WardCoverage {
    /// Ward name; empty for road length outside every ward.
    pub name: String,
    pub total_m: f64,
    pub covered_m: f64,
}

impl WardCoverage {
    pub fn share(&self) -> f64 {
        if self.total_m > 0.0 {
            self.covered_m / self.total_m
        } else {
            0.0
        }
    }
}

/// A stretch of road no camera sees.
#[derive(Clone, Debug, PartialEq)]
pub struct Gap {
    pub road: String,
    pub ward: String,
    pub length_m: f64,
    pub coords: Vec<Coord>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    pub total_m: f64,
    pub covered_m: f64,
    /// Per ward, in ward-list order (then "outside every ward" if any road is).
    pub wards: Vec<WardCoverage>,
    /// Uncovered stretches of at least [`MIN_GAP_M`], longest first.
    pub gaps: Vec<Gap>,
    /// How many fields of view took part.
    pub cameras: usize,
}

impl Coverage {
    pub fn share(&self) -> f64 {
        if self.total_m > 0.0 {
            self.covered_m / self.total_m
        } else {
            0.0
        }
    }
}

/// Gaps shorter than this are not listed (a metre between two cones is not a gap to plan for).
pub const MIN_GAP_M: f64 = 2.0;

/// A field of view prepared for clipping.
struct Sector {
    c: Coord,
    r: f64,
    /// (left, right) boundary directions of each wedge of ≤ 180°; empty for a full circle.
    wedges: Vec<(Coord, Coord)>,
}

impl Sector {
    fn new(s: &CameraSite) -> Self {
        let c = site_merc(s);
        let fov = s.fov_deg.clamp(0.0, 360.0);
        let wedges = if fov >= 359.999 {
            Vec::new()
        } else {
            let n = (fov / 180.0).ceil().max(1.0) as usize;
            let w = fov / n as f64;
            let start = s.heading_deg - fov / 2.0;
            (0..n)
                .map(|i| {
                    let a = start + w * i as f64;
                    (bearing_vector(a), bearing_vector(a + w))
                })
                .collect()
        };
        Sector {
            c,
            r: range_merc(s, c),
            wedges,
        }
    }

    /// Parameter intervals of segment a→b inside this sector (0 ≤ t ≤ 1).
    fn clip(&self, a: Coord, b: Coord, out: &mut Vec<(f64, f64)>) {
        let d = Coord {
            x: b.x - a.x,
            y: b.y - a.y,
        };
        let f = Coord {
            x: a.x - self.c.x,
            y: a.y - self.c.y,
        };
        let qa = d.x * d.x + d.y * d.y;
        if qa <= 0.0 {
            return;
        }
        let qb = 2.0 * (f.x * d.x + f.y * d.y);
        let qc = f.x * f.x + f.y * f.y - self.r * self.r;
        let disc = qb * qb - 4.0 * qa * qc;
        if disc < 0.0 {
            return;
        }
        let sq = disc.sqrt();
        let lo = ((-qb - sq) / (2.0 * qa)).max(0.0);
        let hi = ((-qb + sq) / (2.0 * qa)).min(1.0);
        if lo >= hi {
            return;
        }
        if self.wedges.is_empty() {
            out.push((lo, hi));
            return;
        }
        let cross = |u: Coord, w: Coord| u.x * w.y - u.y * w.x;
        for &(l, r) in &self.wedges {
            let (mut wlo, mut whi) = (lo, hi);
            // Inside: cross(l, p) ≤ 0 (clockwise of the left edge) and
            // cross(r, p) ≥ 0 (anticlockwise of the right edge), p = f + t·d.
            for (g0, k) in [(cross(l, f), cross(l, d)), (-cross(r, f), -cross(r, d))] {
                // g0 + t·k ≤ 0
                if k.abs() < 1e-12 {
                    if g0 > 1e-9 {
                        whi = -1.0;
                    }
                } else if k > 0.0 {
                    whi = whi.min(-g0 / k);
                } else {
                    wlo = wlo.max(-g0 / k);
                }
            }
            if wlo < whi {
                out.push((wlo, whi));
            }
        }
    }
}

/// Sorts and merges intervals in place.
fn merge(iv: &mut Vec<(f64, f64)>) {
    iv.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(iv.len());
    for &(s, e) in iv.iter() {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    *iv = out;
}

fn measure_within(iv: &[(f64, f64)], lo: f64, hi: f64) -> f64 {
    iv.iter()
        .map(|&(s, e)| (e.min(hi) - s.max(lo)).max(0.0))
        .sum()
}

fn lerp(a: Coord, b: Coord, t: f64) -> Coord {
    Coord {
        x: a.x + (b.x - a.x) * t,
        y: a.y + (b.y - a.y) * t,
    }
}

/// Parameters t in (0,1) where segment a→b crosses segment p→q.
fn crossing(a: Coord, b: Coord, p: Coord, q: Coord) -> Option<f64> {
    let r = Coord {
        x: b.x - a.x,
        y: b.y - a.y,
    };
    let s = Coord {
        x: q.x - p.x,
        y: q.y - p.y,
    };
    let den = r.x * s.y - r.y * s.x;
    if den.abs() < 1e-12 {
        return None;
    }
    let w = Coord {
        x: p.x - a.x,
        y: p.y - a.y,
    };
    let t = (w.x * s.y - w.y * s.x) / den;
    let u = (w.x * r.y - w.y * r.x) / den;
    (t > 0.0 && t < 1.0 && (0.0..=1.0).contains(&u)).then_some(t)
}

struct Wards<'a> {
    list: &'a [(String, MultiPolygon)],
    bbox: Vec<(Coord, Coord)>,
}

impl<'a> Wards<'a> {
    fn new(list: &'a [(String, MultiPolygon)]) -> Self {
        use geo::BoundingRect;
        let bbox = list
            .iter()
            .map(|(_, m)| {
                m.bounding_rect()
                    .map(|r| (r.min(), r.max()))
                    .unwrap_or((Coord { x: 0.0, y: 0.0 }, Coord { x: -1.0, y: -1.0 }))
            })
            .collect();
        Wards { list, bbox }
    }

    /// Index of the ward containing `p`, or `list.len()` for none.
    fn at(&self, p: Coord) -> usize {
        let pt = Point(p);
        self.list
            .iter()
            .enumerate()
            .find(|(i, (_, m))| {
                let (lo, hi) = self.bbox[*i];
                p.x >= lo.x && p.x <= hi.x && p.y >= lo.y && p.y <= hi.y && m.contains(&pt)
            })
            .map(|(i, _)| i)
            .unwrap_or(self.list.len())
    }

    /// Where segment a→b crosses a ward boundary (sorted t values, with 0 and 1).
    fn cuts(&self, a: Coord, b: Coord, out: &mut Vec<f64>) {
        out.clear();
        out.push(0.0);
        let (sx0, sx1) = (a.x.min(b.x), a.x.max(b.x));
        let (sy0, sy1) = (a.y.min(b.y), a.y.max(b.y));
        for (i, (_, m)) in self.list.iter().enumerate() {
            let (lo, hi) = self.bbox[i];
            if sx1 < lo.x || sx0 > hi.x || sy1 < lo.y || sy0 > hi.y {
                continue;
            }
            for poly in &m.0 {
                for ring in crate::layer::polygon_rings(poly) {
                    for w in ring.0.windows(2) {
                        if let Some(t) = crossing(a, b, w[0], w[1]) {
                            out.push(t);
                        }
                    }
                }
            }
        }
        out.push(1.0);
        out.sort_by(f64::total_cmp);
    }
}

type SectorEntry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Coverage of `roads` by the fields of view of the sites `keep` accepts.
pub fn compute(
    roads: &[Road],
    sites: &[CameraSite],
    wards: &[(String, MultiPolygon)],
    keep: impl Fn(&CameraSite) -> bool,
) -> Coverage {
    compute_impl(roads, sites, wards, keep, true)
}

/// The same, testing every segment against every camera: the benchmark's baseline.
pub fn compute_brute_force(
    roads: &[Road],
    sites: &[CameraSite],
    wards: &[(String, MultiPolygon)],
) -> Coverage {
    compute_impl(roads, sites, wards, |_| true, false)
}

fn compute_impl(
    roads: &[Road],
    sites: &[CameraSite],
    ward_list: &[(String, MultiPolygon)],
    keep: impl Fn(&CameraSite) -> bool,
    indexed: bool,
) -> Coverage {
    let sectors: Vec<Sector> = sites
        .iter()
        .filter(|s| keep(s) && s.range_m > 0.0 && s.fov_deg > 0.0)
        .map(Sector::new)
        .collect();
    let entries: Vec<SectorEntry> = sites
        .iter()
        .filter(|s| keep(s) && s.range_m > 0.0 && s.fov_deg > 0.0)
        .enumerate()
        .map(|(i, s)| {
            let (lo, hi) = sector_bounds(s);
            GeomWithData::new(Rectangle::from_corners([lo.x, lo.y], [hi.x, hi.y]), i)
        })
        .collect();
    let tree = RTree::bulk_load(entries);
    let wards = Wards::new(ward_list);
    let mut per_ward = vec![(0.0f64, 0.0f64); ward_list.len() + 1];
    let mut gaps: Vec<Gap> = Vec::new();
    let mut iv = Vec::new();
    let mut cuts = Vec::new();
    for road in roads {
        // The gap being followed along this road: coords, length, metres per ward.
        let mut open: Option<(Vec<Coord>, f64, HashMap<usize, f64>)> = None;
        let close = |open: &mut Option<(Vec<Coord>, f64, HashMap<usize, f64>)>,
                     gaps: &mut Vec<Gap>| {
            if let Some((coords, len, by_ward)) = open.take() {
                if len >= MIN_GAP_M {
                    let w = by_ward
                        .into_iter()
                        .max_by(|a, b| a.1.total_cmp(&b.1))
                        .map(|(w, _)| w)
                        .unwrap_or(ward_list.len());
                    gaps.push(Gap {
                        road: road.name.clone(),
                        ward: ward_list.get(w).map(|x| x.0.clone()).unwrap_or_default(),
                        length_m: len,
                        coords,
                    });
                }
            }
        };
        for seg in road.coords.windows(2) {
            let (a, b) = (seg[0], seg[1]);
            let seg_m = crate::proj::ground_distance(a, b);
            if seg_m <= 0.0 {
                continue;
            }
            iv.clear();
            if indexed {
                let env =
                    AABB::from_corners([a.x.min(b.x), a.y.min(b.y)], [a.x.max(b.x), a.y.max(b.y)]);
                for e in tree.locate_in_envelope_intersecting(&env) {
                    sectors[e.data].clip(a, b, &mut iv);
                }
            } else {
                for s in &sectors {
                    s.clip(a, b, &mut iv);
                }
            }
            merge(&mut iv);
            wards.cuts(a, b, &mut cuts);
            for w in cuts.windows(2) {
                let (p0, p1) = (w[0], w[1]);
                if p1 <= p0 {
                    continue;
                }
                let ward = wards.at(lerp(a, b, (p0 + p1) / 2.0));
                let slot = &mut per_ward[ward];
                slot.0 += (p1 - p0) * seg_m;
                slot.1 += measure_within(&iv, p0, p1) * seg_m;
            }
            // Uncovered intervals of this segment, continuing the open gap when they touch.
            let mut t = 0.0;
            let mut uncovered = Vec::new();
            for &(s, e) in &iv {
                if s > t {
                    uncovered.push((t, s));
                }
                t = t.max(e);
            }
            if t < 1.0 {
                uncovered.push((t, 1.0));
            }
            if uncovered.first().is_none_or(|u| u.0 > 1e-9) {
                close(&mut open, &mut gaps);
            }
            let n = uncovered.len();
            for (k, (s, e)) in uncovered.into_iter().enumerate() {
                if k > 0 {
                    close(&mut open, &mut gaps);
                }
                let g = open.get_or_insert_with(|| (vec![lerp(a, b, s)], 0.0, HashMap::new()));
                g.0.push(lerp(a, b, e));
                g.1 += (e - s) * seg_m;
                let ward = wards.at(lerp(a, b, (s + e) / 2.0));
                *g.2.entry(ward).or_default() += (e - s) * seg_m;
                if k + 1 == n && e < 1.0 - 1e-9 {
                    close(&mut open, &mut gaps);
                }
            }
        }
        close(&mut open, &mut gaps);
    }
    gaps.sort_by(|a, b| b.length_m.total_cmp(&a.length_m));
    let mut out = Coverage {
        cameras: sectors.len(),
        gaps,
        ..Default::default()
    };
    for (i, (total, covered)) in per_ward.into_iter().enumerate() {
        out.total_m += total;
        out.covered_m += covered;
        if i < ward_list.len() || total > 0.0 {
            out.wards.push(WardCoverage {
                name: ward_list.get(i).map(|w| w.0.clone()).unwrap_or_default(),
                total_m: total,
                covered_m: covered,
            });
        }
    }
    out
}

/// Ground length of a polyline in metres.
pub fn length_m(coords: &[Coord]) -> f64 {
    coords
        .windows(2)
        .map(|w| crate::proj::ground_distance(w[0], w[1]))
        .sum()
}
