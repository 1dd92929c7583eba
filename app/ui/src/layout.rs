//! Wall layouts: square grids and "one large + small" arrangements.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum WallLayout {
    G1,
    G2,
    G3,
    #[default]
    G4,
    G5,
    G6,
    G8,
    /// One large tile (2×2 cells of a 3×3 grid) and five small.
    P1_5,
    /// One large tile (3×3 cells of a 4×4 grid) and seven small.
    P1_7,
}

impl WallLayout {
    pub const ALL: [WallLayout; 9] = [
        WallLayout::G1,
        WallLayout::G2,
        WallLayout::G3,
        WallLayout::G4,
        WallLayout::G5,
        WallLayout::G6,
        WallLayout::G8,
        WallLayout::P1_5,
        WallLayout::P1_7,
    ];

    pub fn label(self) -> &'static str {
        match self {
            WallLayout::G1 => "1×1",
            WallLayout::G2 => "2×2",
            WallLayout::G3 => "3×3",
            WallLayout::G4 => "4×4",
            WallLayout::G5 => "5×5",
            WallLayout::G6 => "6×6",
            WallLayout::G8 => "8×8",
            WallLayout::P1_5 => "1+5",
            WallLayout::P1_7 => "1+7",
        }
    }

    /// Parses "4x4", "4×4", "1+5" …
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.replace('x', "×").replace('X', "×");
        Self::ALL.into_iter().find(|l| l.label() == s)
    }

    pub fn tile_count(self) -> usize {
        match self {
            WallLayout::G1 => 1,
            WallLayout::G2 => 4,
            WallLayout::G3 => 9,
            WallLayout::G4 => 16,
            WallLayout::G5 => 25,
            WallLayout::G6 => 36,
            WallLayout::G8 => 64,
            WallLayout::P1_5 => 6,
            WallLayout::P1_7 => 8,
        }
    }

    /// Grid side of the cells, and how many cells the first (large) tile spans.
    fn grid(self) -> (usize, usize) {
        match self {
            WallLayout::G1 => (1, 1),
            WallLayout::G2 => (2, 1),
            WallLayout::G3 => (3, 1),
            WallLayout::G4 => (4, 1),
            WallLayout::G5 => (5, 1),
            WallLayout::G6 => (6, 1),
            WallLayout::G8 => (8, 1),
            WallLayout::P1_5 => (3, 2),
            WallLayout::P1_7 => (4, 3),
        }
    }

    /// Tile rectangles in reading order, filling `area` (with `gap` points between tiles).
    pub fn tiles(self, area: egui::Rect, gap: f32) -> Vec<egui::Rect> {
        let (n, big) = self.grid();
        let cw = (area.width() - gap * (n as f32 - 1.0)) / n as f32;
        let ch = (area.height() - gap * (n as f32 - 1.0)) / n as f32;
        let cell = |c: usize, r: usize, span: usize| {
            let min = area.min + egui::vec2(c as f32 * (cw + gap), r as f32 * (ch + gap));
            egui::Rect::from_min_size(
                min,
                egui::vec2(
                    cw * span as f32 + gap * (span as f32 - 1.0),
                    ch * span as f32 + gap * (span as f32 - 1.0),
                ),
            )
        };
        let mut out = Vec::with_capacity(self.tile_count());
        if big > 1 {
            out.push(cell(0, 0, big));
        }
        for r in 0..n {
            for c in 0..n {
                if big > 1 && r < big && c < big {
                    continue;
                }
                out.push(cell(c, r, 1));
            }
        }
        out
    }

    /// The large tile of a "1 + n" layout (it shows the main stream), if any.
    pub fn big_tile(self) -> Option<usize> {
        (self.grid().1 > 1).then_some(0)
    }

    /// Tile grid geometry for arrow-key navigation: (columns, rows) of the cell grid.
    pub fn columns(self) -> usize {
        self.grid().0
    }
}

/// The largest rectangle of aspect `w:h` centred in `area` (letterboxing).
pub fn fit_aspect(area: egui::Rect, w: u32, h: u32) -> egui::Rect {
    if w == 0 || h == 0 {
        return area;
    }
    let aspect = w as f32 / h as f32;
    let (aw, ah) = (area.width(), area.height());
    let size = if aw / ah > aspect {
        egui::vec2(ah * aspect, ah)
    } else {
        egui::vec2(aw, aw / aspect)
    };
    egui::Rect::from_center_size(area.center(), size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_yields_its_tile_count_inside_the_area() {
        let area = egui::Rect::from_min_size(egui::pos2(10.0, 20.0), egui::vec2(1600.0, 900.0));
        for l in WallLayout::ALL {
            let t = l.tiles(area, 2.0);
            assert_eq!(t.len(), l.tile_count(), "{l:?}");
            for r in &t {
                assert!(area.expand(0.01).contains_rect(*r), "{l:?} {r:?}");
            }
        }
        let big = WallLayout::P1_7.tiles(area, 0.0)[0];
        assert!((big.width() - 1200.0).abs() < 0.1);
    }

    #[test]
    fn fit_aspect_letterboxes_wide_and_tall() {
        let area = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(400.0, 400.0));
        let r = fit_aspect(area, 640, 360);
        assert_eq!(r.width(), 400.0);
        assert_eq!(r.height(), 225.0);
        assert_eq!(r.center(), area.center());
    }
}
