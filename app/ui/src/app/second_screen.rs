//! The second monitor's wall: its own layout and tiles in an egui viewport.

use super::*;

impl MatThanApp {
    /// The second monitor: another OS window (an egui viewport; embedded as a window where
    /// the backend has only one) with its own layout and tiles, live pictures only. Its
    /// tiles' streams are marked wanted like the main wall's.
    pub(super) fn second_screen_ui(
        &self,
        ctx: &egui::Context,
        cmds: &mut Vec<Command>,
        wanted: &mut HashSet<mt_capture::StreamId>,
        locked: bool,
    ) {
        let Some(w) = self.state.second.as_ref() else {
            return;
        };
        let tr = &self.tr;
        let body = |ui: &mut egui::Ui, class: egui::ViewportClass| {
            if ui.ctx().input(|i| i.viewport().close_requested())
                && class != egui::ViewportClass::EmbeddedWindow
            {
                cmds.push(Command::ToggleSecondScreen);
            }
            // Where the window is now, kept for the next start (only when it moved).
            if class != egui::ViewportClass::EmbeddedWindow {
                let (outer, minimized) = ui
                    .ctx()
                    .input(|i| (i.viewport().outer_rect, i.viewport().minimized));
                // Not while minimised (Windows reports -32000), nor a corner far off any
                // screen.
                let sane = |r: &egui::Rect| {
                    (-4000.0..=16000.0).contains(&r.min.x) && (-4000.0..=16000.0).contains(&r.min.y)
                };
                if let Some(r) = outer.filter(|r| sane(r) && minimized != Some(true)) {
                    let moved = w.pos.is_none_or(|p| {
                        (p[0] - r.min.x).abs() >= 1.0 || (p[1] - r.min.y).abs() >= 1.0
                    });
                    if moved {
                        cmds.push(Command::SecondPlaced([r.min.x, r.min.y]));
                    }
                }
            }
            ui.horizontal_wrapped(|ui| {
                for l in [
                    WallLayout::G1,
                    WallLayout::G2,
                    WallLayout::G3,
                    WallLayout::G4,
                ] {
                    if ui
                        .selectable_label(
                            w.layout == l,
                            tr.t_args("second-layout", &[("layout", l.label().into())]),
                        )
                        .clicked()
                    {
                        cmds.push(Command::SecondLayout(l));
                    }
                }
                ui.weak(tr.t("second-explain"));
            });
            let area = ui.available_rect_before_wrap();
            let area = if area.height() < 100.0 {
                // Embedded and not yet sized: a wall of a usable size.
                egui::Rect::from_min_size(area.min, egui::vec2(520.0, 292.0))
            } else {
                area
            };
            ui.allocate_rect(area, Sense::hover());
            if locked {
                ui.painter()
                    .rect_filled(area, 0.0, Color32::from_rgb(12, 12, 16));
                ui.painter().text(
                    area.center(),
                    Align2::CENTER_CENTER,
                    tr.t("second-locked"),
                    FontId::proportional(18.0),
                    Color32::GRAY,
                );
                return;
            }
            let clock = mt_core::time::format(mt_core::time::now_ms(), "%H:%M:%S %d/%m/%Y");
            for (tile, rect) in w.layout.tiles(area, 2.0).into_iter().enumerate() {
                let resp = ui.interact(
                    rect,
                    ui.scope_id().with(("second-tile", tile)),
                    Sense::click_and_drag(),
                );
                let zoom = self.second_zoom.get(&tile).copied();
                if resp.double_clicked() && zoom.is_some() {
                    cmds.push(Command::SecondZoom { tile, zoom: None });
                }
                resp.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Button,
                        true,
                        tr.t_args("second-tile", &[("n", (tile + 1).into())]),
                    )
                });
                if resp.clicked() {
                    cmds.push(Command::SecondSelect(tile));
                }
                let painter = ui.painter_at(rect);
                painter.rect_filled(rect, 0.0, Color32::BLACK);
                let cam = w
                    .tiles
                    .get(tile)
                    .and_then(|t| t.as_deref())
                    .and_then(|id| self.by_id.get(id))
                    .map(|&i| &self.cameras[i]);
                match cam {
                    None => {
                        painter.text(
                            rect.center(),
                            Align2::CENTER_CENTER,
                            tr.t("second-empty"),
                            FontId::proportional(12.0),
                            Color32::GRAY,
                        );
                    }
                    Some(cam) => {
                        // A zoomed tile wants the main stream, as on the main wall.
                        let (shown, want) =
                            self.tile_streams(cam, w.layout == WallLayout::G1 || zoom.is_some());
                        wanted.extend(want.iter().map(|s| s.id));
                        if let Some(frame) = shown.latest() {
                            let pic = fit_aspect(rect, frame.width, frame.height);
                            if let Some(z) = crate::zoom::input(ui, &resp, pic, zoom, true) {
                                cmds.push(Command::SecondZoom { tile, zoom: z });
                            }
                            painter.add(egui_wgpu::Callback::new_paint_callback(
                                pic,
                                VideoCallback {
                                    source: shown.slot.clone(),
                                    crop: zoom.map(|z| (crate::zoom::second_view(tile), z.crop())),
                                },
                            ));
                            crate::zoom::badge(&painter, rect, zoom);
                        }
                        self.tile_overlay_ui(&painter, rect, cam, shown, &clock, true);
                    }
                }
                let stroke = if tile == self.second_selected {
                    Stroke::new(2.0, Color32::from_rgb(250, 200, 40))
                } else {
                    Stroke::new(1.0, Color32::from_gray(40))
                };
                ui.painter()
                    .rect_stroke(rect, 0.0, stroke, StrokeKind::Inside);
            }
        };
        let mut body = body;
        if ctx.embed_viewports() {
            // One window only (tests, some backends): an egui window over the lower right of
            // the main one, leaving the camera list reachable.
            egui::Window::new(tr.t("second-title"))
                .default_pos([620.0, 200.0])
                .default_size([760.0, 620.0])
                .collapsible(false)
                .show(ctx, |ui| body(ui, egui::ViewportClass::EmbeddedWindow));
        } else {
            // Its own OS window, to put on the second monitor: where the officer left it.
            let mut vb = egui::ViewportBuilder::default()
                .with_title(tr.t("second-title"))
                .with_inner_size([1280.0, 760.0]);
            if let Some(p) = self.second_open_pos {
                vb = vb.with_position(p);
            }
            ctx.show_viewport_immediate(
                egui::ViewportId::from_hash_of("matthan-second-wall"),
                vb,
                |ui, class| body(ui, class),
            );
        }
    }
}
