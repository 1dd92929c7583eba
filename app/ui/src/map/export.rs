//! The plan as a picture: plain data drawn by the same painter code, rendered off screen on a
//! worker thread into a PNG; atomic file writes for the exports.

use super::*;

/// An export file written whole or not at all, through the workstation's one atomic write
/// (fsync of the file and its folder). Readable by others (0644): it is meant to be handed on.
pub(super) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    match mt_core::atomic::write(path, bytes, Some(0o644))? {
        None => Ok(()),
        Some(e) => {
            tracing::warn!(
                "{}: written, but its folder was not synced: {e}",
                path.display()
            );
            Ok(())
        }
    }
}

/// What the PNG export draws: the plan at the current view (or the whole map), with a title
/// and legend. Plain data, so it can be rendered on a worker thread.
pub struct PlanImage {
    pub data: Arc<MapData>,
    pub sites: Vec<CameraSite>,
    pub after: Coverage,
    pub title: String,
    pub legend: Vec<(Color32, String)>,
    pub view: Option<View>,
}

impl PlanImage {
    /// Draws the plan into a painter covering `rect`.
    pub fn paint(&self, painter: &egui::Painter, rect: Rect) {
        let size = [rect.width(), rect.height()];
        let view = self
            .view
            .map(|v| View {
                // Same centre; the scale that shows what the officer saw across the image.
                center: v.center,
                mpp: v.mpp,
            })
            .unwrap_or_else(|| initial_view(&self.data, &self.sites, size));
        let sc = [rect.center().x, rect.center().y];
        painter.rect_filled(rect, 0.0, MAP_BG);
        let (fills, _) = area_fills_and_labels(&self.data);
        let mut mesh = build_base(&self.data, &fills, &view, 1.0);
        mesh.translate(rect.center().to_vec2());
        painter.add(Shape::mesh(mesh));
        draw_gaps(painter, &view, sc, &self.after, None);
        for s in &self.sites {
            let c = site_merc(s);
            let p = view.to_screen(c, sc);
            let p = egui::pos2(p[0], p[1]);
            let color = if s.planned {
                SiteState::Planned.color()
            } else {
                SiteState::Live.color()
            };
            let r_px = (range_merc(s, c) / view.mpp) as f32;
            if r_px >= 3.0 {
                let start = s.heading_deg - s.fov_deg / 2.0;
                let mut pts = vec![p];
                for k in 0..=12 {
                    let d = bearing_vector(start + s.fov_deg * k as f64 / 12.0);
                    pts.push(p + egui::vec2(d.x as f32 * r_px, -d.y as f32 * r_px));
                }
                let mut m = Mesh::default();
                for q in &pts {
                    m.colored_vertex(*q, color.gamma_multiply(0.3));
                }
                for k in 1..pts.len() as u32 - 1 {
                    m.add_triangle(0, k, k + 1);
                }
                painter.add(Shape::mesh(m));
            }
            painter.circle(p, 4.0, color, Stroke::new(1.0, Color32::BLACK));
        }
        let title_r = Rect::from_min_size(rect.min, egui::vec2(rect.width(), 34.0));
        painter.rect_filled(title_r, 0.0, Color32::from_black_alpha(200));
        painter.text(
            title_r.left_center() + egui::vec2(10.0, 0.0),
            Align2::LEFT_CENTER,
            &self.title,
            FontId::proportional(18.0),
            Color32::WHITE,
        );
        let mut y = rect.bottom() - 40.0;
        for (c, label) in &self.legend {
            let p = egui::pos2(rect.left() + 16.0, y);
            painter.circle_filled(p, 6.0, *c);
            painter.text(
                p + egui::vec2(12.0, 0.0),
                Align2::LEFT_CENTER,
                label,
                FontId::proportional(14.0),
                Color32::WHITE,
            );
            y -= 22.0;
        }
        let attribution = self.data.attribution.join(" · ");
        painter.text(
            rect.right_bottom() - egui::vec2(8.0, 6.0),
            Align2::RIGHT_BOTTOM,
            attribution,
            FontId::proportional(12.0),
            Color32::from_gray(230),
        );
    }

    /// Renders the plan off screen to PNG bytes.
    pub fn render_png(&self, size: [u32; 2]) -> Result<Vec<u8>, String> {
        let off = mt_render::offscreen::Offscreen::new().map_err(|e| e.to_string())?;
        let ctx = egui::Context::default();
        crate::i18n::install_fonts(&ctx);
        let mut px = Vec::new();
        // Two frames: the first loads the fonts.
        for _ in 0..2 {
            px = off
                .render(&ctx, size, |ui| {
                    let rect = ui.max_rect();
                    self.paint(ui.painter(), rect);
                })
                .map_err(|e| e.to_string())?;
        }
        let img = image::RgbaImage::from_raw(size[0], size[1], px)
            .ok_or_else(|| "pixel buffer size".to_string())?;
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        Ok(out.into_inner())
    }
}
