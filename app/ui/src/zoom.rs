//! Digital zoom of a picture on a tile (the wall's, a replay's): the state, the input that
//! changes it (wheel around the pointer, drag to pan), and the badge. The drawing is the
//! renderer's: the crop uniform of `mt-render`, keyed per view.

use egui::{Align2, Color32, FontId, Rect};

/// A tile's digital zoom: how much, and which point of the picture is in the middle. Done in
/// the shader on the picture the tile already has (the crop uniform of `mt-render`); a zoomed
/// tile asks for the camera's main stream so the enlarged picture is sharp.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Zoom {
    /// 1 = the whole picture; at most [`Zoom::MAX`].
    pub scale: f32,
    /// The picture point (fractions of its width and height) in the middle of the tile.
    pub center: [f32; 2],
}

impl Zoom {
    pub const MAX: f32 = 8.0;

    fn clamped(self) -> Self {
        let scale = self.scale.clamp(1.0, Self::MAX);
        let half = 0.5 / scale;
        Zoom {
            scale,
            center: [
                self.center[0].clamp(half, 1.0 - half),
                self.center[1].clamp(half, 1.0 - half),
            ],
        }
    }

    /// `[x, y, w, h]` of the picture shown, in fractions of it.
    pub fn crop(&self) -> [f32; 4] {
        let w = 1.0 / self.scale;
        [self.center[0] - w / 2.0, self.center[1] - w / 2.0, w, w]
    }

    /// Zooms by `factor` keeping the picture point under `at` (fractions of the tile's
    /// picture rectangle) where it is. None when that leaves the whole picture.
    pub fn around(zoom: Option<Zoom>, at: [f32; 2], factor: f32) -> Option<Zoom> {
        let z = zoom.unwrap_or(Zoom {
            scale: 1.0,
            center: [0.5, 0.5],
        });
        let c = z.crop();
        let p = [c[0] + at[0] * c[2], c[1] + at[1] * c[3]];
        let scale = (z.scale * factor).clamp(1.0, Self::MAX);
        if scale <= 1.001 {
            return None;
        }
        let w = 1.0 / scale;
        let origin = [p[0] - at[0] * w, p[1] - at[1] * w];
        Some(
            Zoom {
                scale,
                center: [origin[0] + w / 2.0, origin[1] + w / 2.0],
            }
            .clamped(),
        )
    }

    /// Moves the view by `d` (fractions of the tile's picture rectangle; a drag to the right
    /// shows what is further left).
    pub fn pan(self, d: [f32; 2]) -> Self {
        let w = 1.0 / self.scale;
        Zoom {
            center: [self.center[0] - d[0] * w, self.center[1] - d[1] * w],
            ..self
        }
        .clamped()
    }
}

/// The crop uniform's key of a wall tile (one per tile, whatever it shows).
pub fn tile_view(tile: usize) -> u64 {
    0x5741_4c4c_0000_0000 | tile as u64
}

/// The crop uniform's key of a second-screen tile.
pub fn second_view(tile: usize) -> u64 {
    0x5345_434f_0000_0000 | tile as u64
}

/// The crop uniform's key of a replay tile.
pub fn replay_view(tile: usize) -> u64 {
    0x5245_504c_0000_0000 | tile as u64
}

/// Wheel over a tile's picture zooms around the pointer; a drag pans a zoomed picture
/// (`may_pan`: the drag is not drawing a search region). Gives the tile's new zoom (None
/// inside: the whole picture again) when the input changed it.
pub fn input(
    ui: &egui::Ui,
    resp: &egui::Response,
    pic: Rect,
    zoom: Option<Zoom>,
    may_pan: bool,
) -> Option<Option<Zoom>> {
    if pic.width() < 1.0 || pic.height() < 1.0 {
        return None;
    }
    let at = |p: egui::Pos2| {
        [
            ((p.x - pic.min.x) / pic.width()).clamp(0.0, 1.0),
            ((p.y - pic.min.y) / pic.height()).clamp(0.0, 1.0),
        ]
    };
    if resp.hovered() {
        // The wheel events themselves, not egui's smoothed scroll: one notch, one step.
        let (wheel, pointer) = ui.input(|i| {
            let wheel: f32 = i
                .events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::MouseWheel { unit, delta, .. } => Some(match unit {
                        egui::MouseWheelUnit::Point => delta.y,
                        egui::MouseWheelUnit::Line => delta.y * 50.0,
                        egui::MouseWheelUnit::Page => delta.y * pic.height(),
                    }),
                    _ => None,
                })
                .sum();
            (wheel, i.pointer.hover_pos())
        });
        if let Some(p) = pointer.filter(|p| pic.contains(*p) && wheel != 0.0) {
            // One wheel notch (≈ 50 points) zooms by about 1.25.
            let factor = (wheel * 0.0045).exp();
            return Some(Zoom::around(zoom, at(p), factor));
        }
    }
    // A pan follows the pointer from where the press began (the view at that moment), so
    // the few points egui waits before it calls a press a drag are not lost.
    let start_id = resp.id.with("zoom-drag-start");
    if let (Some(z), true) = (zoom, may_pan && resp.drag_started()) {
        ui.data_mut(|d| d.insert_temp(start_id, z));
    }
    if may_pan && resp.dragged() {
        let start = ui.data(|d| d.get_temp::<Zoom>(start_id));
        let (origin, now) = ui.input(|i| (i.pointer.press_origin(), i.pointer.interact_pos()));
        if let (Some(z), Some(o), Some(p)) = (start, origin, now) {
            let d = p - o;
            return Some(Some(z.pan([d.x / pic.width(), d.y / pic.height()])));
        }
    }
    None
}

/// "×2.5" in the top-right corner of a zoomed tile, below its title.
pub fn badge(painter: &egui::Painter, rect: Rect, zoom: Option<Zoom>) {
    if let Some(z) = zoom {
        painter.text(
            rect.right_top() + egui::vec2(-6.0, 24.0),
            Align2::RIGHT_TOP,
            format!("×{:.1}", z.scale),
            FontId::proportional(13.0),
            Color32::from_rgb(250, 200, 40),
        );
    }
}
