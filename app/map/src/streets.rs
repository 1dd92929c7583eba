//! The street graph and tracing ("truy vết"): which cameras see a point, which see the streets
//! within N metres of it (along the streets, not as the crow flies), and which cameras a person
//! leaving a camera's view in some direction can reach next.
//!
//! The graph is built from the road layers' polylines: a node at every vertex, vertices of
//! different lines within [`SNAP_M`] merged (OSM ways meet at shared nodes, but the 2017
//! extract's single-part lines only touch), an edge per segment with its ground length.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use geo::Coord;
use mt_core::CameraSite;
use rstar::primitives::{GeomWithData, Line};
use rstar::{PointDistance, RTree, AABB};

use crate::coverage::Road;
use crate::proj::{bearing, ground_distance, ground_scale};
use crate::sites::{range_merc, sector_bounds, site_merc};

/// Line ends closer than this (ground metres) are the same junction.
pub const SNAP_M: f64 = 3.0;
/// Streets are walked in steps of at most this long when testing fields of view.
const STEP_M: f64 = 5.0;

type EdgeEntry = GeomWithData<Line<[f64; 2]>, (usize, usize)>;

pub struct StreetGraph {
    /// Junctions and vertices, Mercator metres.
    pub nodes: Vec<Coord>,
    /// Per node: (neighbour, ground metres, road index).
    pub adj: Vec<Vec<(usize, f64, usize)>>,
    pub names: Vec<String>,
    edges: RTree<EdgeEntry>,
}

/// Where a point meets the street graph.
#[derive(Clone, Copy, Debug)]
pub struct OnStreet {
    pub a: usize,
    pub b: usize,
    /// 0 at `a`, 1 at `b`.
    pub t: f64,
    pub point: Coord,
    /// Ground metres from the point asked about.
    pub off_m: f64,
}

impl StreetGraph {
    pub fn build(roads: &[Road]) -> Self {
        let mut nodes: Vec<Coord> = Vec::new();
        let mut adj: Vec<Vec<(usize, f64, usize)>> = Vec::new();
        // Vertices snapped on a grid of SNAP_M Mercator-scaled cells (neighbours checked too).
        let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        let mut node_of =
            |c: Coord, nodes: &mut Vec<Coord>, adj: &mut Vec<Vec<(usize, f64, usize)>>| -> usize {
                let cell = SNAP_M / ground_scale(c.y);
                let (gx, gy) = ((c.x / cell).floor() as i64, (c.y / cell).floor() as i64);
                for dx in -1..=1 {
                    for dy in -1..=1 {
                        if let Some(v) = grid.get(&(gx + dx, gy + dy)) {
                            for &n in v {
                                if ground_distance(nodes[n], c) <= SNAP_M {
                                    return n;
                                }
                            }
                        }
                    }
                }
                nodes.push(c);
                adj.push(Vec::new());
                grid.entry((gx, gy)).or_default().push(nodes.len() - 1);
                nodes.len() - 1
            };
        let mut lines = Vec::new();
        let mut names = Vec::new();
        for (ri, r) in roads.iter().enumerate() {
            names.push(r.name.clone());
            let mut prev: Option<usize> = None;
            for &c in &r.coords {
                let n = node_of(c, &mut nodes, &mut adj);
                if let Some(p) = prev {
                    if p != n {
                        let d = ground_distance(nodes[p], nodes[n]);
                        adj[p].push((n, d, ri));
                        adj[n].push((p, d, ri));
                        lines.push(EdgeEntry::new(
                            Line::new([nodes[p].x, nodes[p].y], [nodes[n].x, nodes[n].y]),
                            (p, n),
                        ));
                    }
                }
                prev = Some(n);
            }
        }
        StreetGraph {
            nodes,
            adj,
            names,
            edges: RTree::bulk_load(lines),
        }
    }

    pub fn edge_count(&self) -> usize {
        self.edges.size()
    }

    /// Connected pieces of the network (a well-joined network has few).
    pub fn components(&self) -> usize {
        let mut seen = vec![false; self.nodes.len()];
        let mut n = 0;
        for s in 0..self.nodes.len() {
            if seen[s] || self.adj[s].is_empty() {
                continue;
            }
            n += 1;
            let mut stack = vec![s];
            seen[s] = true;
            while let Some(v) = stack.pop() {
                for &(w, _, _) in &self.adj[v] {
                    if !seen[w] {
                        seen[w] = true;
                        stack.push(w);
                    }
                }
            }
        }
        n
    }

    /// The nearest street to `p`.
    pub fn nearest(&self, p: Coord) -> Option<OnStreet> {
        let e = self.edges.nearest_neighbor(&[p.x, p.y])?;
        let (a, b) = e.data;
        let (pa, pb) = (self.nodes[a], self.nodes[b]);
        let (dx, dy) = (pb.x - pa.x, pb.y - pa.y);
        let len2 = (dx * dx + dy * dy).max(1e-9);
        let t = (((p.x - pa.x) * dx + (p.y - pa.y) * dy) / len2).clamp(0.0, 1.0);
        let point = Coord {
            x: pa.x + dx * t,
            y: pa.y + dy * t,
        };
        let _ = e.distance_2(&[p.x, p.y]);
        Some(OnStreet {
            a,
            b,
            t,
            point,
            off_m: ground_distance(point, p),
        })
    }

    /// Street distance (ground metres) from `start` to every node within `max_m`, walking
    /// only where `allow(from, to)` says (Dijkstra).
    pub fn reach(
        &self,
        start: &OnStreet,
        max_m: f64,
        allow: &dyn Fn(usize, usize) -> bool,
    ) -> HashMap<usize, f64> {
        let mut dist: HashMap<usize, f64> = HashMap::new();
        let mut heap = BinaryHeap::new();
        let len = ground_distance(self.nodes[start.a], self.nodes[start.b]);
        // Along the start's street only the ways `allow` permits (from the far end's side).
        for (n, other, d) in [
            (start.a, start.b, len * start.t),
            (start.b, start.a, len * (1.0 - start.t)),
        ] {
            if d <= max_m && allow(other, n) {
                heap.push(Reverse(((d * 1000.0) as i64, n)));
            }
        }
        while let Some(Reverse((dm, v))) = heap.pop() {
            let d = dm as f64 / 1000.0;
            if dist.contains_key(&v) {
                continue;
            }
            dist.insert(v, d);
            for &(w, l, _) in &self.adj[v] {
                let nd = d + l;
                if nd <= max_m && !dist.contains_key(&w) && allow(v, w) {
                    heap.push(Reverse(((nd * 1000.0) as i64, w)));
                }
            }
        }
        dist
    }

    /// Points along the streets reached from `start` (within `max_m`), every [`STEP_M`] at
    /// most, each with its street distance: what a field of view is tested against.
    pub fn walk_points(
        &self,
        start: &OnStreet,
        max_m: f64,
        allow: &dyn Fn(usize, usize) -> bool,
    ) -> Vec<(Coord, f64)> {
        let dist = self.reach(start, max_m, allow);
        let mut out = vec![(start.point, 0.0)];
        // Along the street the point is on, both ways from it.
        for end in [start.a, start.b] {
            if !allow(if end == start.a { start.b } else { start.a }, end) {
                continue;
            }
            let e = self.nodes[end];
            let l = ground_distance(start.point, e);
            let budget = max_m.min(l);
            let steps = (budget / STEP_M).ceil().max(1.0) as usize;
            for k in 1..=steps {
                let s = budget * k as f64 / steps as f64;
                let f = s / l.max(1e-9);
                let p = start.point;
                out.push((
                    Coord {
                        x: p.x + (e.x - p.x) * f,
                        y: p.y + (e.y - p.y) * f,
                    },
                    s,
                ));
            }
        }
        for (&v, &dv) in &dist {
            for &(w, l, _) in &self.adj[v] {
                // Each edge once from its nearer end (or both ends, partly, when neither
                // reaches the other).
                if !allow(v, w) {
                    continue;
                }
                let dw = dist.get(&w).copied();
                if allow(w, v) && dw.is_some_and(|dw| dw < dv || (dw == dv && w < v)) {
                    continue;
                }
                let budget = (max_m - dv).min(l);
                let steps = (budget / STEP_M).ceil().max(1.0) as usize;
                for k in 0..=steps {
                    let s = budget * k as f64 / steps as f64;
                    let f = s / l.max(1e-9);
                    let (a, b) = (self.nodes[v], self.nodes[w]);
                    out.push((
                        Coord {
                            x: a.x + (b.x - a.x) * f,
                            y: a.y + (b.y - a.y) * f,
                        },
                        dv + s,
                    ));
                }
            }
        }
        out
    }
}

/// Whether `site`'s field of view covers `p` (Mercator metres).
pub fn sees(site: &CameraSite, p: Coord) -> bool {
    let c = site_merc(site);
    let r = range_merc(site, c);
    let (dx, dy) = (p.x - c.x, p.y - c.y);
    if dx * dx + dy * dy > r * r {
        return false;
    }
    if site.fov_deg >= 359.999 {
        return true;
    }
    let b = bearing(c, p);
    let diff = (b - site.heading_deg + 540.0).rem_euclid(360.0) - 180.0;
    diff.abs() <= site.fov_deg / 2.0
}

/// Where in `site`'s picture the point `p` lies, left (0) to right (1), from its bearing
/// inside the field of view (None outside it).
pub fn picture_x(site: &CameraSite, p: Coord) -> Option<f32> {
    if !sees(site, p) || site.fov_deg >= 359.999 || site.fov_deg <= 0.0 {
        return None;
    }
    let b = bearing(site_merc(site), p);
    let diff = (b - site.heading_deg + 540.0).rem_euclid(360.0) - 180.0;
    Some(((diff + site.fov_deg / 2.0) / site.fov_deg).clamp(0.0, 1.0) as f32)
}

/// A camera found by a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Traced {
    /// Index into the sites given.
    pub site: usize,
    /// Its field of view covers the point itself.
    pub sees_point: bool,
    /// Ground metres from the camera to the point (sees the point), or along the streets
    /// from the point to the nearest street point it sees.
    pub distance_m: f64,
    /// Where the point (or the street point) lies in its picture, left 0 – right 1.
    pub picture_x: Option<f32>,
}

/// Cameras around `p`: those whose field of view covers it, by distance from it, then those
/// that see a street within `street_m` of it (along the street graph), by street distance.
/// Planned sites are left out.
pub fn trace(
    sites: &[CameraSite],
    graph: Option<&StreetGraph>,
    p: Coord,
    street_m: f64,
) -> Vec<Traced> {
    let mut out: Vec<Traced> = sites
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.planned && sees(s, p))
        .map(|(i, s)| Traced {
            site: i,
            sees_point: true,
            distance_m: ground_distance(site_merc(s), p),
            picture_x: picture_x(s, p),
        })
        .collect();
    out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    if let (Some(g), true) = (graph, street_m > 0.0) {
        // Distances count from the point: to its nearest street, then along the streets.
        if let Some(start) = g.nearest(p).filter(|s| s.off_m <= street_m) {
            let pts: Vec<(Coord, f64)> = g
                .walk_points(&start, street_m - start.off_m, &|_, _| true)
                .into_iter()
                .map(|(c, d)| (c, d + start.off_m))
                .collect();
            out.extend(cameras_seeing(sites, &pts, &out));
        }
    }
    out
}

/// The cameras (not already in `have`) whose fields of view cover any of `pts` (point,
/// street distance), each at its smallest distance, nearest first.
fn cameras_seeing(sites: &[CameraSite], pts: &[(Coord, f64)], have: &[Traced]) -> Vec<Traced> {
    let boxes: RTree<GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>> =
        RTree::bulk_load(
            sites
                .iter()
                .enumerate()
                .filter(|(i, s)| !s.planned && !have.iter().any(|h| h.site == *i))
                .map(|(i, s)| {
                    let (a, b) = sector_bounds(s);
                    GeomWithData::new(
                        rstar::primitives::Rectangle::from_corners([a.x, a.y], [b.x, b.y]),
                        i,
                    )
                })
                .collect(),
        );
    let mut best: HashMap<usize, (f64, Option<f32>)> = HashMap::new();
    for &(c, d) in pts {
        for e in boxes.locate_in_envelope_intersecting(&AABB::from_point([c.x, c.y])) {
            let s = &sites[e.data];
            if sees(s, c) && best.get(&e.data).is_none_or(|b| d < b.0) {
                best.insert(e.data, (d, picture_x(s, c)));
            }
        }
    }
    let mut v: Vec<Traced> = best
        .into_iter()
        .map(|(site, (d, x))| Traced {
            site,
            sees_point: false,
            distance_m: d,
            picture_x: x,
        })
        .collect();
    v.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.site.cmp(&b.site))
    });
    v
}

/// "Next camera": someone left `from`'s picture at `exit_x` (0 left edge – 1 right edge).
/// The street nearest the point where that edge of the view meets the streets is followed
/// away from the camera's view, in the direction of the movement (streets turning back by
/// more than 100° from it are not taken), up to `max_m`; the cameras that see those streets,
/// nearest first.
pub fn next_cameras(
    sites: &[CameraSite],
    graph: &StreetGraph,
    from: usize,
    exit_x: f32,
    max_m: f64,
) -> Vec<Traced> {
    let s = &sites[from];
    let c = site_merc(s);
    let b = s.heading_deg - s.fov_deg / 2.0 + s.fov_deg * exit_x.clamp(0.0, 1.0) as f64;
    let r = range_merc(s, c) * 0.8;
    let d = crate::proj::bearing_vector(b);
    let exit = Coord {
        x: c.x + d.x * r,
        y: c.y + d.y * r,
    };
    let Some(start) = graph.nearest(exit) else {
        return Vec::new();
    };
    // The direction of travel: along the edge of the view, away from the camera's centre line
    // (leaving at the left edge means going to the left of the picture).
    let side = if exit_x < 0.5 { -90.0 } else { 90.0 };
    let travel = if (exit_x - 0.5).abs() < 0.15 {
        b
    } else {
        b + side * 0.5
    };
    let nodes = &graph.nodes;
    let allow = move |v: usize, w: usize| {
        let bw = bearing(nodes[v], nodes[w]);
        let diff = (bw - travel + 540.0).rem_euclid(360.0) - 180.0;
        diff.abs() <= 100.0 || ground_distance(nodes[v], nodes[w]) < 2.0
    };
    let pts = graph.walk_points(&start, max_m, &allow);
    let skip = [Traced {
        site: from,
        sees_point: true,
        distance_m: 0.0,
        picture_x: None,
    }];
    cameras_seeing(sites, &pts, &skip)
}

/// Share of the network's length (ground metres) that some camera's field of view covers,
/// sampled every [`STEP_M`]: (covered m, total m).
pub fn network_coverage(sites: &[CameraSite], roads: &[Road]) -> (f64, f64) {
    let boxes: RTree<GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>> =
        RTree::bulk_load(
            sites
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.planned)
                .map(|(i, s)| {
                    let (a, b) = sector_bounds(s);
                    GeomWithData::new(
                        rstar::primitives::Rectangle::from_corners([a.x, a.y], [b.x, b.y]),
                        i,
                    )
                })
                .collect(),
        );
    let (mut covered, mut total) = (0.0, 0.0);
    for r in roads {
        for w in r.coords.windows(2) {
            let l = ground_distance(w[0], w[1]);
            let n = (l / STEP_M).ceil().max(1.0) as usize;
            for k in 0..n {
                let f = (k as f64 + 0.5) / n as f64;
                let p = Coord {
                    x: w[0].x + (w[1].x - w[0].x) * f,
                    y: w[0].y + (w[1].y - w[0].y) * f,
                };
                total += l / n as f64;
                if boxes
                    .locate_in_envelope_intersecting(&AABB::from_point([p.x, p.y]))
                    .any(|e| sees(&sites[e.data], p))
                {
                    covered += l / n as f64;
                }
            }
        }
    }
    (covered, total)
}
