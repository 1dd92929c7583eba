//! What the map draws: the base layers tessellated once per scale, basemap tiles, cameras
//! and their fields of view, live pictures, incident pins and heat, labels, legend and scale.

use super::*;

impl MapUi {
    /// The base layers for this view: tessellated once per scale, moved (one copy) when the
    /// view moves.
    pub(super) fn base_mesh(
        &mut self,
        ctx: &egui::Context,
        view: &View,
        center: Pos2,
    ) -> Arc<Mesh> {
        let stale = self
            .base
            .as_ref()
            .is_none_or(|b| (b.mpp - view.mpp).abs() > view.mpp * 1e-9);
        if stale {
            let mesh = build_base(&self.data, &self.fills, view, ctx.pixels_per_point());
            self.base = Some(BaseCache {
                mpp: view.mpp,
                origin: view.center,
                mesh: Arc::new(mesh),
                placed: None,
            });
        }
        let b = self.base.as_mut().expect("built above");
        if let Some((c, sc, m)) = &b.placed {
            if *c == view.center && *sc == center {
                return m.clone();
            }
        }
        let o = view.to_screen(b.origin, [center.x, center.y]);
        let mut m = (*b.mesh).clone();
        m.translate(egui::vec2(o[0], o[1]));
        let m = Arc::new(m);
        b.placed = Some((view.center, center, m.clone()));
        m
    }

    /// Draws the fields of view and icons of the cameras in view; returns their indices.
    pub(super) fn draw_sites(
        &self,
        painter: &egui::Painter,
        rect: Rect,
        view: &View,
        live: &LiveCameras<'_>,
        hovered: Option<usize>,
    ) -> Vec<usize> {
        let sc = [rect.center().x, rect.center().y];
        // Cones reach up to 500 m beyond the camera: widen the query so they are not cut off.
        let (mut lo, mut hi) = view.world_bounds([rect.width(), rect.height()]);
        let pad = 520.0 / ground_scale(view.center.y);
        lo.x -= pad;
        lo.y -= pad;
        hi.x += pad;
        hi.y += pad;
        let visible: Vec<usize> = self.index.in_rect(lo, hi).collect();
        let mut cones = Mesh::default();
        cones.reserve_triangles(visible.len() * 8);
        cones.reserve_vertices(visible.len() * 10);
        let mut outlines = Vec::new();
        // Icons go into one mesh of small polygons: thousands of egui circles with strokes
        // cost several milliseconds of tessellation a frame (matthan-bench map).
        let mut icons = Mesh::default();
        icons.reserve_triangles(visible.len() * 20);
        icons.reserve_vertices(visible.len() * 22);
        let mut rings = Vec::new();
        for &i in &visible {
            let s = &self.sites[i];
            let state = self.state_of(s, live);
            let c = self.merc[i];
            let p = view.to_screen(c, sc);
            let p = egui::pos2(p[0], p[1]);
            let r_px = (range_merc(s, c) / view.mpp) as f32;
            let color = state.color();
            if r_px >= 5.0 {
                // Level of detail: a small cone needs few arc points.
                let per_step = if r_px < 12.0 {
                    30.0
                } else if r_px < 40.0 {
                    15.0
                } else {
                    6.0
                };
                let steps = ((s.fov_deg / per_step).ceil() as usize).clamp(2, 36);
                let fill = color.gamma_multiply(if state == SiteState::Planned {
                    0.30
                } else {
                    0.40
                });
                let base = cones.vertices.len() as u32;
                cones.colored_vertex(p, fill);
                let start = live.heading(s) - s.fov_deg / 2.0;
                for k in 0..=steps {
                    let d = bearing_vector(start + s.fov_deg * k as f64 / steps as f64);
                    cones.colored_vertex(
                        p + egui::vec2(d.x as f32 * r_px, -d.y as f32 * r_px),
                        fill,
                    );
                    if k > 0 {
                        cones.add_triangle(base, base + k as u32, base + k as u32 + 1);
                    }
                }
                // Outlines only where a cone is big enough to read; far out the fill says it.
                if r_px >= 30.0 || (r_px >= 10.0 && visible.len() < 400) {
                    let mut arc: Vec<Pos2> = cones.vertices[base as usize..]
                        .iter()
                        .map(|v| v.pos)
                        .collect();
                    if s.fov_deg < 359.9 {
                        arc.push(p);
                    }
                    outlines.push(Shape::line(
                        arc,
                        Stroke::new(1.0, color.gamma_multiply(0.8)),
                    ));
                }
            }
            let big = Some(i) == hovered || Some(i) == self.selected;
            let radius = if big {
                6.5
            } else if view.mpp > 8.0 {
                2.5
            } else {
                4.5
            };
            if state == SiteState::Planned {
                rings.push(Shape::Circle(CircleShape::stroke(
                    p,
                    radius,
                    Stroke::new(2.0, color),
                )));
            } else {
                let n = if radius < 3.0 { 6 } else { 10 };
                if view.mpp <= 8.0 {
                    disc(&mut icons, p, radius + 1.0, Color32::BLACK, n);
                }
                disc(&mut icons, p, radius, color, n);
            }
            if live.is_ptz(&s.id) {
                // A PTZ camera: a white ring with a tick where it points now.
                let r = radius + 2.5;
                rings.push(Shape::circle_stroke(p, r, Stroke::new(1.5, Color32::WHITE)));
                let d = bearing_vector(live.heading(s));
                let dir = egui::vec2(d.x as f32, -d.y as f32);
                rings.push(Shape::line_segment(
                    [p + dir * r, p + dir * (r + 5.0)],
                    Stroke::new(2.0, Color32::WHITE),
                ));
            }
            if Some(i) == self.selected {
                rings.push(Shape::circle_stroke(
                    p,
                    radius + 3.0,
                    Stroke::new(2.0, Color32::YELLOW),
                ));
            }
        }
        painter.add(Shape::mesh(cones));
        painter.extend(outlines);
        painter.add(Shape::mesh(icons));
        painter.extend(rings);
        visible
    }

    pub(super) fn draw_heat(&self, painter: &egui::Painter, rect: Rect, view: &View) {
        const CELL: f32 = 24.0;
        let cols = (rect.width() / CELL).ceil() as usize + 1;
        let rows = (rect.height() / CELL).ceil() as usize + 1;
        let mut grid = vec![0.0f32; cols * rows];
        let sc = [rect.center().x, rect.center().y];
        for c in &self.incident_merc {
            let s = view.to_screen(*c, sc);
            let cx = ((s[0] - rect.left()) / CELL).floor() as i64;
            let cy = ((s[1] - rect.top()) / CELL).floor() as i64;
            // A 5×5 kernel so single incidents read as a soft spot.
            for dy in -2i64..=2 {
                for dx in -2i64..=2 {
                    let (x, y) = (cx + dx, cy + dy);
                    if x >= 0 && y >= 0 && (x as usize) < cols && (y as usize) < rows {
                        let w = 1.0 / (1.0 + (dx * dx + dy * dy) as f32);
                        grid[y as usize * cols + x as usize] += w;
                    }
                }
            }
        }
        let max = grid.iter().cloned().fold(0.0f32, f32::max);
        if max <= 0.0 {
            return;
        }
        let mut mesh = Mesh::default();
        for y in 0..rows {
            for x in 0..cols {
                let v = grid[y * cols + x] / max;
                if v < 0.05 {
                    continue;
                }
                let r = Rect::from_min_size(
                    rect.min + egui::vec2(x as f32 * CELL, y as f32 * CELL),
                    egui::vec2(CELL, CELL),
                );
                let c = heat_color(v);
                mesh.add_colored_rect(r, c);
            }
        }
        painter.add(Shape::mesh(mesh));
    }

    pub(super) fn draw_legend(&self, painter: &egui::Painter, rect: Rect, tr: &Tr) {
        let mut y = rect.bottom() - 40.0;
        for st in [
            SiteState::Planned,
            SiteState::Offline,
            SiteState::Lost,
            SiteState::Live,
        ] {
            let p = egui::pos2(rect.left() + 14.0, y);
            painter.circle(p, 5.0, st.color(), Stroke::new(1.0, Color32::BLACK));
            painter.text(
                p + egui::vec2(10.0, 0.0),
                Align2::LEFT_CENTER,
                tr.t(st.key()),
                FontId::proportional(12.0),
                Color32::from_gray(230),
            );
            y -= 18.0;
        }
    }

    /// Raster basemap tiles under the vector layers (MBTiles), decoded on first use.
    pub(super) fn draw_basemap(
        &mut self,
        ctx: &egui::Context,
        painter: &egui::Painter,
        rect: Rect,
        view: &View,
    ) {
        let (Some(mb), Some(bm)) = (&self.data.basemap, self.basemap.as_mut()) else {
            return;
        };
        let z = view.tile_zoom().clamp(mb.min_zoom, mb.max_zoom);
        let (lo, hi) = view.world_bounds([rect.width(), rect.height()]);
        let (x0, y0) = mt_map::proj::tile_of(Coord { x: lo.x, y: hi.y }, z);
        let (x1, y1) = mt_map::proj::tile_of(Coord { x: hi.x, y: lo.y }, z);
        let sc = [rect.center().x, rect.center().y];
        for y in y0..=y1.min(y0 + 16) {
            for x in x0..=x1.min(x0 + 16) {
                // Read and decoded on the "map-tiles" thread; drawn once it has arrived.
                if let Some(t) = bm.tile(ctx, (z, x, y)) {
                    let (tmin, tmax) = mt_map::proj::tile_bounds(z, x, y);
                    let a = view.to_screen(
                        Coord {
                            x: tmin.x,
                            y: tmax.y,
                        },
                        sc,
                    );
                    let b = view.to_screen(
                        Coord {
                            x: tmax.x,
                            y: tmin.y,
                        },
                        sc,
                    );
                    painter.image(
                        t.id(),
                        Rect::from_min_max(egui::pos2(a[0], a[1]), egui::pos2(b[0], b[1])),
                        Rect::from_min_max(Pos2::ZERO, egui::pos2(1.0, 1.0)),
                        Color32::from_white_alpha(200),
                    );
                }
            }
        }
    }
}

/// A filled n-gon: reads as a dot at icon sizes.
pub(super) fn disc(mesh: &mut Mesh, c: Pos2, r: f32, color: Color32, n: u32) {
    let base = mesh.vertices.len() as u32;
    mesh.colored_vertex(c, color);
    for k in 0..n {
        let a = k as f32 * std::f32::consts::TAU / n as f32;
        mesh.colored_vertex(c + egui::vec2(a.cos() * r, a.sin() * r), color);
        mesh.add_triangle(base, base + 1 + k, base + 1 + (k + 1) % n);
    }
}

pub(super) fn heat_color(v: f32) -> Color32 {
    let v = v.clamp(0.0, 1.0);
    let r = 255;
    let g = (220.0 * (1.0 - v)) as u8;
    let a = (60.0 + 120.0 * v) as u8;
    Color32::from_rgba_unmultiplied(r, g, 40, a)
}

/// Triangulated area fills (once, at load) and the labels of areas, streets and places.
pub(super) fn area_fills_and_labels(data: &MapData) -> (Vec<AreaFill>, Vec<Label>) {
    let mut fills = Vec::new();
    let mut labels = Vec::new();
    let mut area_no = 0;
    for layer in &data.layers {
        for f in &layer.features {
            match (&f.geom, layer.kind) {
                (Geometry::Polygon(_) | Geometry::MultiPolygon(_), Kind::Area) => {
                    let polys: Vec<&geo::Polygon> = match &f.geom {
                        Geometry::Polygon(p) => vec![p],
                        Geometry::MultiPolygon(m) => m.0.iter().collect(),
                        _ => vec![],
                    };
                    let color = WARD_FILLS[area_no % WARD_FILLS.len()];
                    area_no += 1;
                    for p in polys {
                        let raw = p.earcut_triangles_raw();
                        fills.push(AreaFill {
                            verts: raw
                                .vertices
                                .iter()
                                .map(|c| Coord { x: c[0], y: c[1] })
                                .collect(),
                            indices: raw.triangle_indices.iter().map(|&i| i as u32).collect(),
                            color,
                        });
                    }
                    if let (Some(c), false) = (f.geom.centroid(), f.name.is_empty()) {
                        labels.push(Label {
                            at: c.0,
                            text: f.name.clone(),
                            kind: Kind::Area,
                        });
                    }
                }
                (Geometry::LineString(ls), Kind::Road) if !f.name.is_empty() => {
                    if !labels
                        .iter()
                        .any(|l| l.kind == Kind::Road && l.text == f.name)
                    {
                        labels.push(Label {
                            at: ls.0[ls.0.len() / 2],
                            text: f.name.clone(),
                            kind: Kind::Road,
                        });
                    }
                }
                (Geometry::Point(p), Kind::Poi) if !f.name.is_empty() => labels.push(Label {
                    at: p.0,
                    text: f.name.clone(),
                    kind: Kind::Poi,
                }),
                _ => {}
            }
        }
    }
    (fills, labels)
}

/// Tessellates the vector layers at the view's scale, relative to its centre (screen 0,0).
pub(super) fn build_base(data: &MapData, fills: &[AreaFill], view: &View, ppp: f32) -> Mesh {
    let sc = [0.0f32, 0.0];
    let to = |c: Coord| {
        let p = view.to_screen(c, sc);
        egui::pos2(p[0], p[1])
    };
    let mut mesh = Mesh::default();
    for f in fills {
        let base = mesh.vertices.len() as u32;
        for v in &f.verts {
            mesh.colored_vertex(to(*v), f.color);
        }
        for t in f.indices.chunks_exact(3) {
            mesh.add_triangle(base + t[0], base + t[1], base + t[2]);
        }
    }
    let mut tess = Tessellator::new(ppp, Default::default(), [1, 1], Vec::new());
    let ground_px = 1.0 / (view.mpp / ground_scale(view.center.y));
    for layer in &data.layers {
        for f in &layer.features {
            match (&f.geom, layer.kind) {
                (Geometry::Polygon(_) | Geometry::MultiPolygon(_), _) => {
                    let polys: Vec<&geo::Polygon> = match &f.geom {
                        Geometry::Polygon(p) => vec![p],
                        Geometry::MultiPolygon(m) => m.0.iter().collect(),
                        _ => vec![],
                    };
                    for p in polys {
                        for ring in mt_map::layer::polygon_rings(p) {
                            let pts: Vec<Pos2> = ring.0.iter().map(|c| to(*c)).collect();
                            tess.tessellate_path(
                                &PathShape::closed_line(
                                    pts,
                                    PathStroke::new(1.5, Color32::from_rgb(150, 160, 180)),
                                ),
                                &mut mesh,
                            );
                        }
                    }
                }
                (Geometry::LineString(_) | Geometry::MultiLineString(_), _) => {
                    let lines: Vec<&LineString> = match &f.geom {
                        Geometry::LineString(l) => vec![l],
                        Geometry::MultiLineString(m) => m.0.iter().collect(),
                        _ => vec![],
                    };
                    let major = matches!(
                        f.category.as_str(),
                        "motorway" | "trunk" | "primary" | "secondary"
                    );
                    let ground_w = if major { 24.0 } else { 8.0 };
                    let w =
                        (ground_w * ground_px as f32).clamp(if major { 2.5 } else { 1.2 }, 28.0);
                    let (casing, fill) = if major {
                        (
                            Color32::from_rgb(90, 70, 30),
                            Color32::from_rgb(230, 180, 80),
                        )
                    } else {
                        (
                            Color32::from_rgb(60, 64, 72),
                            Color32::from_rgb(200, 200, 205),
                        )
                    };
                    for l in lines {
                        let pts: Vec<Pos2> = l.0.iter().map(|c| to(*c)).collect();
                        tess.tessellate_path(
                            &PathShape::line(pts.clone(), PathStroke::new(w + 2.0, casing)),
                            &mut mesh,
                        );
                        tess.tessellate_path(
                            &PathShape::line(pts, PathStroke::new(w, fill)),
                            &mut mesh,
                        );
                    }
                }
                (Geometry::Point(p), _) => {
                    tess.tessellate_circle(
                        CircleShape {
                            center: to(p.0),
                            radius: 3.0,
                            fill: poi_color(&f.category),
                            stroke: Stroke::new(1.0, Color32::from_gray(20)),
                        },
                        &mut mesh,
                    );
                }
                (Geometry::MultiPoint(m), _) => {
                    for p in &m.0 {
                        tess.tessellate_circle(
                            CircleShape::filled(to(p.0), 3.0, poi_color(&f.category)),
                            &mut mesh,
                        );
                    }
                }
                _ => {}
            }
        }
    }
    mesh
}

pub(super) fn poi_color(category: &str) -> Color32 {
    match category {
        "bus_stops" | "bus_stop" => Color32::from_rgb(70, 200, 200),
        "universities" | "high_schools" | "school" => Color32::from_rgb(250, 210, 90),
        "metro" => Color32::from_rgb(220, 90, 220),
        "hospitals" | "hospital" | "clinic" => Color32::from_rgb(250, 100, 100),
        "market" => Color32::from_rgb(120, 220, 120),
        "police" => Color32::from_rgb(200, 160, 255),
        _ => Color32::from_rgb(200, 200, 200),
    }
}

pub(super) fn draw_labels(
    painter: &egui::Painter,
    labels: &[Label],
    view: &View,
    sc: [f32; 2],
    rect: Rect,
) {
    for l in labels {
        let show = match l.kind {
            Kind::Area => true,
            Kind::Road => view.mpp < 6.0,
            Kind::Poi => view.mpp < 1.5,
        };
        if !show {
            continue;
        }
        let p = view.to_screen(l.at, sc);
        let p = egui::pos2(p[0], p[1]);
        if !rect.contains(p) {
            continue;
        }
        let (size, color, align, off) = match l.kind {
            Kind::Area => (
                15.0,
                Color32::from_rgba_unmultiplied(235, 235, 245, 200),
                Align2::CENTER_CENTER,
                Vec2::ZERO,
            ),
            Kind::Road => (
                11.0,
                Color32::from_rgb(250, 235, 200),
                Align2::CENTER_BOTTOM,
                egui::vec2(0.0, -4.0),
            ),
            Kind::Poi => (
                11.0,
                Color32::from_gray(220),
                Align2::LEFT_CENTER,
                egui::vec2(6.0, 0.0),
            ),
        };
        // A dark halo keeps labels readable over cones and roads.
        let font = FontId::proportional(size);
        for d in [egui::vec2(1.0, 1.0), egui::vec2(-1.0, -1.0)] {
            painter.text(
                p + off + d,
                align,
                &l.text,
                font.clone(),
                Color32::from_black_alpha(200),
            );
        }
        painter.text(p + off, align, &l.text, font, color);
    }
}

pub(super) fn pin_color(type_code: &str) -> Color32 {
    const PALETTE: [Color32; 8] = [
        Color32::from_rgb(255, 99, 71),
        Color32::from_rgb(255, 165, 0),
        Color32::from_rgb(186, 85, 211),
        Color32::from_rgb(30, 144, 255),
        Color32::from_rgb(50, 205, 50),
        Color32::from_rgb(255, 215, 0),
        Color32::from_rgb(0, 206, 209),
        Color32::from_rgb(240, 128, 128),
    ];
    let h = type_code
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
    PALETTE[h as usize % PALETTE.len()]
}

pub(super) fn draw_pins(
    painter: &egui::Painter,
    pins: &[IncidentPlace],
    merc: &[Coord],
    view: &View,
    sc: [f32; 2],
    rect: Rect,
) {
    for (p, c) in pins.iter().zip(merc) {
        let s = view.to_screen(*c, sc);
        let s = egui::pos2(s[0], s[1]);
        if !rect.contains(s) {
            continue;
        }
        let fill = pin_color(&p.type_code);
        // Status: new = white ring, in progress = yellow, transferred = blue, closed = faded.
        let (fill, ring) = match p.status {
            mt_store::Status::New => (fill, Color32::WHITE),
            mt_store::Status::InProgress => (fill, Color32::from_rgb(250, 210, 60)),
            mt_store::Status::Transferred => (fill, Color32::from_rgb(90, 150, 255)),
            mt_store::Status::Closed => (fill.gamma_multiply(0.35), Color32::from_gray(110)),
        };
        // A diamond, so pins never read as cameras.
        let r = 6.0;
        painter.add(Shape::convex_polygon(
            vec![
                s + egui::vec2(0.0, -r),
                s + egui::vec2(r, 0.0),
                s + egui::vec2(0.0, r),
                s + egui::vec2(-r, 0.0),
            ],
            fill,
            Stroke::new(2.0, ring),
        ));
    }
}

pub(super) fn draw_scale_and_attribution(
    painter: &egui::Painter,
    rect: Rect,
    view: &View,
    attribution: &[String],
    tr: &Tr,
) {
    // Scale bar: the round ground length closest to 120 points.
    let m_per_pt = view.mpp * ground_scale(view.center.y);
    let target = 120.0 * m_per_pt;
    let nice = [1.0, 2.0, 5.0]
        .iter()
        .flat_map(|m| (0..6).map(move |e| m * 10f64.powi(e)))
        .filter(|&v| v <= target)
        .fold(1.0, f64::max);
    let w = (nice / m_per_pt) as f32;
    let y = rect.bottom() - 12.0;
    let x0 = rect.left() + 120.0;
    painter.line_segment(
        [egui::pos2(x0, y), egui::pos2(x0 + w, y)],
        Stroke::new(3.0, Color32::WHITE),
    );
    painter.text(
        egui::pos2(x0 + w / 2.0, y - 4.0),
        Align2::CENTER_BOTTOM,
        if nice >= 1000.0 {
            format!("{} km", nice / 1000.0)
        } else {
            format!("{nice} m")
        },
        FontId::proportional(11.0),
        Color32::WHITE,
    );
    let text = if attribution.is_empty() {
        tr.t("map-attribution-own")
    } else {
        attribution.join(" · ")
    };
    let r = painter.text(
        rect.right_bottom() - egui::vec2(6.0, 4.0),
        Align2::RIGHT_BOTTOM,
        &text,
        FontId::proportional(11.0),
        Color32::from_gray(230),
    );
    painter.rect_filled(r.expand(3.0), 2.0, Color32::from_black_alpha(170));
    painter.text(
        r.min,
        Align2::LEFT_TOP,
        text,
        FontId::proportional(11.0),
        Color32::from_gray(230),
    );
    painter.rect_stroke(
        rect,
        0.0,
        Stroke::new(1.0, Color32::from_gray(50)),
        StrokeKind::Inside,
    );
}
