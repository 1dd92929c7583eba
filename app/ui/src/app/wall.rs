//! The wall: each tile's stream (sub or main), its picture, overlay (name, state, time,
//! recording), tooltip, and the region drawn for a search; where a frame meets a tile.

use super::*;

impl MatThanApp {
    /// Which stream a tile shows, and which streams it needs decoded. A maximised tile wants
    /// the main stream but keeps showing (and decoding) the sub stream until the main
    /// stream's first picture is there: no black flash.
    pub(super) fn tile_streams<'a>(
        &self,
        cam: &'a CameraHandle,
        big: bool,
    ) -> (&'a Arc<StreamShared>, Vec<&'a Arc<StreamShared>>) {
        match (&cam.sub, big) {
            (Some(sub), true) => {
                // The main stream's picture once it decodes continuously (a keyframe decoded
                // seconds ago only to check the stream is not what the tile should show).
                if cam
                    .main
                    .latest_fresh(Duration::from_millis(1_500))
                    .is_some()
                {
                    (&cam.main, vec![&cam.main])
                } else {
                    (sub, vec![&cam.main, sub])
                }
            }
            (Some(sub), false) => (sub, vec![sub]),
            (None, _) => (&cam.main, vec![&cam.main]),
        }
    }

    pub(super) fn wall_ui(
        &self,
        ui: &mut egui::Ui,
        cmds: &mut Vec<Command>,
        wanted: &mut HashSet<mt_capture::StreamId>,
    ) {
        let area = ui.available_rect_before_wrap();
        ui.allocate_rect(area, Sense::hover());
        let layout = self.state.layout;
        let rects: Vec<(usize, Rect)> = match self.maximised {
            Some(t) => vec![(t, area)],
            None => layout.tiles(area, 2.0).into_iter().enumerate().collect(),
        };
        let big_tile = |r: &Rect| self.maximised.is_some() || r.width() >= area.width() * 0.6;
        let clock = mt_core::time::format(mt_core::time::now_ms(), "%H:%M:%S %d/%m/%Y");
        for (tile, rect) in rects {
            let cam_idx = self.tile_camera(tile);
            let resp = ui.interact(
                rect,
                ui.scope_id().with(("tile", tile)),
                Sense::click_and_drag(),
            );
            resp.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::Button, true, self.tile_label(tile))
            });
            let zoom = self.zoom.get(&tile).copied();
            if resp.clicked() {
                cmds.push(Command::Select(tile));
            }
            if resp.double_clicked() {
                // Zoomed: back to the whole picture first; else maximise as always.
                cmds.push(match zoom {
                    Some(_) => Command::Zoom { tile, zoom: None },
                    None => Command::ToggleMaximise(tile),
                });
            }
            if let Some(cam) = resp.dnd_release_payload::<usize>() {
                cmds.push(Command::Assign { tile, camera: *cam });
            }
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, 0.0, Color32::BLACK);
            match cam_idx {
                None => {
                    painter.text(
                        rect.center(),
                        Align2::CENTER_BOTTOM,
                        self.tr.t("tile-empty"),
                        FontId::proportional(14.0),
                        Color32::GRAY,
                    );
                    painter.text(
                        rect.center(),
                        Align2::CENTER_TOP,
                        self.tr.t("tile-empty-hint"),
                        FontId::proportional(11.0),
                        Color32::DARK_GRAY,
                    );
                }
                Some(ci) if self.playback.is_some() => {
                    let cam = &self.cameras[ci];
                    let pb = self.playback.as_ref().expect("checked");
                    let player = pb.player(&cam.config.id.0);
                    let recorded = player
                        .and_then(|p| p.shown_ms())
                        .filter(|s| (pb.clock_ms - s).abs() < 2_000);
                    match (player, recorded) {
                        (Some(pl), Some(_)) => {
                            if let Some(frame) = pl.shared.latest() {
                                let pic = fit_aspect(rect, frame.width, frame.height);
                                // While the search panel is open a drag draws the search
                                // region over the whole picture: no zoom then.
                                let drawing = self.region_search.open;
                                let zoom = zoom.filter(|_| !drawing);
                                if !drawing {
                                    if let Some(z) = crate::zoom::input(ui, &resp, pic, zoom, true)
                                    {
                                        cmds.push(Command::Zoom { tile, zoom: z });
                                    }
                                }
                                painter.add(egui_wgpu::Callback::new_paint_callback(
                                    pic,
                                    VideoCallback {
                                        source: pl.shared.slot.clone(),
                                        crop: zoom
                                            .map(|z| (crate::zoom::tile_view(tile), z.crop())),
                                    },
                                ));
                                crate::zoom::badge(&painter, rect, zoom);
                                self.region_ui(ui, &painter, pic, &cam.config.id.0, cmds);
                            }
                        }
                        _ => {
                            // A gap: say so and why, instead of a stale picture.
                            let undecodable = player.and_then(|p| p.error.lock().clone());
                            let text = match pb.gap_at(&cam.config.id.0, pb.clock_ms) {
                                _ if undecodable.is_some() => format!(
                                    "{} · {}",
                                    self.tr.t("tile-undecodable"),
                                    self.tr.t_args(
                                        "undecodable-format",
                                        &[("detail", undecodable.unwrap_or_default().into())],
                                    )
                                ),
                                Some(g) => self.tr.t_args(
                                    "playback-gap",
                                    &[(
                                        "reason",
                                        self.tr.t(&format!("gap-{}", g.reason.key())).into(),
                                    )],
                                ),
                                None => self.tr.t("playback-no-recording"),
                            };
                            // Wrapped to the tile, so a small tile still shows all of it.
                            let mut job = egui::text::LayoutJob::simple(
                                text,
                                FontId::proportional(if rect.height() > 200.0 {
                                    14.0
                                } else {
                                    11.0
                                }),
                                Color32::from_rgb(240, 150, 150),
                                (rect.width() - 12.0).max(20.0),
                            );
                            job.halign = egui::Align::Center;
                            let g = painter.layout_job(job);
                            let h = g.size().y;
                            painter.galley(
                                egui::pos2(rect.center().x, rect.center().y - h / 2.0),
                                g,
                                Color32::WHITE,
                            );
                        }
                    }
                    let when = recorded.map(crate::log::format_time).unwrap_or_default();
                    let label = self.tr.t_args("playback-tile", &[("time", when.into())]);
                    self.tile_overlay_ui(&painter, rect, cam, &cam.main, &label, false);
                }
                Some(ci) => {
                    let cam = &self.cameras[ci];
                    // A zoomed tile wants the main stream, so the enlarged picture is sharp.
                    let (shown, want) = self.tile_streams(cam, big_tile(&rect) || zoom.is_some());
                    wanted.extend(want.iter().map(|s| s.id));
                    if let Some(frame) = shown.latest() {
                        let pic = fit_aspect(rect, frame.width, frame.height);
                        if let Some(z) = crate::zoom::input(ui, &resp, pic, zoom, true) {
                            cmds.push(Command::Zoom { tile, zoom: z });
                        }
                        painter.add(egui_wgpu::Callback::new_paint_callback(
                            pic,
                            VideoCallback {
                                source: shown.slot.clone(),
                                crop: zoom.map(|z| (crate::zoom::tile_view(tile), z.crop())),
                            },
                        ));
                        crate::zoom::badge(&painter, rect, zoom);
                    }
                    self.tile_overlay_ui(&painter, rect, cam, shown, &clock, true);
                    if resp.hovered() {
                        resp.clone()
                            .on_hover_ui(|ui| self.tile_tooltip_ui(ui, shown));
                    }
                    resp.context_menu(|ui| {
                        if ui.button(self.tr.t("unassign")).clicked() {
                            cmds.push(Command::Unassign(tile));
                            ui.close();
                        }
                    });
                }
            }
            let hover_drop = resp.dnd_hover_payload::<usize>().is_some();
            let stroke = if hover_drop {
                Stroke::new(3.0, Color32::from_rgb(80, 200, 120))
            } else if tile == self.selected {
                Stroke::new(2.0, Color32::from_rgb(250, 200, 40))
            } else {
                Stroke::new(1.0, Color32::from_gray(40))
            };
            ui.painter()
                .rect_stroke(rect, 0.0, stroke, StrokeKind::Inside);
        }
    }

    /// Region search on a playback tile: with the search panel open, a drag over the picture
    /// draws the region (its start is kept in egui's memory: the wall only reads the app);
    /// the region is drawn over the tiles it applies to.
    pub(super) fn region_ui(
        &self,
        ui: &mut egui::Ui,
        painter: &egui::Painter,
        pic: Rect,
        camera: &str,
        cmds: &mut Vec<Command>,
    ) {
        let mut now = None;
        if self.region_search.open {
            let id = ui.scope_id().with(("region", camera));
            let r = ui.interact(pic, id, Sense::drag());
            r.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::Canvas, true, format!("region {camera}"))
            });
            let key = egui::Id::unique("region-drag");
            if r.drag_started() {
                if let Some(p) = ui.input(|i| i.pointer.press_origin()) {
                    let f = crate::search::to_frac(pic, p);
                    ui.ctx()
                        .data_mut(|d| d.insert_temp(key, (camera.to_owned(), f)));
                }
            }
            let start: Option<(String, egui::Pos2)> = ui.ctx().data(|d| d.get_temp(key));
            if let (Some((c, a)), Some(p)) = (&start, r.interact_pointer_pos()) {
                if c == camera {
                    now = Some(crate::search::to_frac(pic, p));
                    if r.drag_stopped() {
                        let b = now.unwrap_or(*a);
                        cmds.push(Command::RegionDrawn {
                            camera: camera.to_owned(),
                            a: [a.x, a.y],
                            b: [b.x, b.y],
                        });
                        ui.ctx().data_mut(|d| d.remove::<(String, egui::Pos2)>(key));
                    }
                }
            }
            if r.hovered() {
                ui.ctx().set_cursor_icon(egui::CursorIcon::Crosshair);
            }
            let drag = start.zip(now).map(|((_, a), b)| (a, b));
            self.region_search.paint_region(painter, pic, camera, drag);
        } else {
            self.region_search.paint_region(painter, pic, camera, None);
        }
    }

    /// "Ô 7" / "Tile 7", formatted once per language (the wall asks for it every frame).
    pub(super) fn tile_label(&self, tile: usize) -> String {
        let mut cache = self.tile_labels.borrow_mut();
        if cache.0 != Some(self.tr.lang()) {
            *cache = (
                Some(self.tr.lang()),
                (1..=64)
                    .map(|n| self.tr.t_args("tile-label", &[("n", n.into())]))
                    .collect(),
            );
        }
        cache.1.get(tile).cloned().unwrap_or_default()
    }

    pub(super) fn tile_overlay_ui(
        &self,
        painter: &egui::Painter,
        rect: Rect,
        cam: &CameraHandle,
        shown: &Arc<StreamShared>,
        clock: &str,
        live: bool,
    ) {
        let font = FontId::proportional(if rect.height() > 200.0 { 14.0 } else { 11.0 });
        let bar = Rect::from_min_size(rect.min, egui::vec2(rect.width(), font.size + 6.0));
        painter.rect_filled(bar, 0.0, Color32::from_black_alpha(150));
        let clock_rect = painter.text(
            bar.right_center() - egui::vec2(4.0, 0.0),
            Align2::RIGHT_CENTER,
            clock,
            font.clone(),
            Color32::from_gray(220),
        );
        // The name gets what the clock leaves, cut with "…" rather than running under it.
        let name_width = (clock_rect.left() - bar.left() - 12.0).max(10.0);
        let mut job = egui::text::LayoutJob::simple_singleline(
            cam.config.name.clone(),
            font.clone(),
            Color32::WHITE,
        );
        job.wrap = egui::text::TextWrapping::truncate_at_width(name_width);
        let galley = painter.layout_job(job);
        painter.galley(
            egui::pos2(bar.left() + 4.0, bar.center().y - galley.size().y / 2.0),
            galley,
            Color32::WHITE,
        );
        if !live {
            // Playback: the amber clock says so; live states do not apply.
            painter.rect_stroke(
                rect.shrink(1.0),
                0.0,
                Stroke::new(2.0, Color32::from_rgb(240, 170, 40)),
                StrokeKind::Inside,
            );
            return;
        }
        let st = cam.health_stream().state();
        let st = if shown.state().is_live() {
            StreamState::Live
        } else {
            st
        };
        match st {
            StreamState::Lost { reason, .. } => {
                painter.rect_filled(
                    rect.shrink(1.0),
                    0.0,
                    Color32::from_rgba_unmultiplied(120, 0, 0, 110),
                );
                painter.text(
                    rect.center(),
                    Align2::CENTER_BOTTOM,
                    self.tr.t("signal-lost"),
                    FontId::proportional(font.size + 6.0),
                    Color32::WHITE,
                );
                let reconnects = cam.health_stream().stats().reconnects;
                painter.text(
                    rect.center() + egui::vec2(0.0, 2.0),
                    Align2::CENTER_TOP,
                    format!(
                        "{} · {}",
                        self.tr.t(reason.key()),
                        self.tr
                            .t_args("reconnects", &[("count", reconnects.into())])
                    ),
                    font.clone(),
                    Color32::from_rgb(255, 210, 210),
                );
            }
            StreamState::Connecting => {
                painter.text(
                    rect.center(),
                    Align2::CENTER_CENTER,
                    self.tr.t("connecting"),
                    font.clone(),
                    Color32::LIGHT_GRAY,
                );
            }
            StreamState::Undecodable { reason, detail } => {
                let detail = self.tr.t_args(reason.key(), &[("detail", detail.into())]);
                // No frozen picture passed off as live: the tile is dimmed and says why.
                painter.rect_filled(
                    rect.shrink(1.0),
                    0.0,
                    Color32::from_rgba_unmultiplied(60, 30, 0, 200),
                );
                painter.text(
                    rect.center(),
                    Align2::CENTER_BOTTOM,
                    self.tr.t("tile-undecodable"),
                    FontId::proportional(font.size + 4.0),
                    Color32::from_rgb(255, 200, 120),
                );
                let mut job = egui::text::LayoutJob::simple(
                    detail,
                    font.clone(),
                    Color32::from_rgb(255, 225, 190),
                    rect.width() - 16.0,
                );
                job.halign = egui::Align::Center;
                let g = painter.layout_job(job);
                painter.galley(
                    egui::pos2(rect.center().x, rect.center().y + 2.0),
                    g,
                    Color32::WHITE,
                );
            }
            StreamState::Live | StreamState::Idle => {}
        }
        // The main stream is what is recorded: say when it is not, whatever the tile shows.
        if let Some((reason, _)) = self.rec_problem(&cam.config.id.0) {
            let bar = Rect::from_min_max(
                egui::pos2(rect.left(), rect.bottom() - font.size - 6.0),
                rect.max,
            );
            painter.rect_filled(bar, 0.0, Color32::from_rgba_unmultiplied(150, 0, 0, 200));
            painter.text(
                bar.left_center() + egui::vec2(4.0, 0.0),
                Align2::LEFT_CENTER,
                self.tr
                    .t_args("tile-not-recording", &[("reason", reason.into())]),
                font,
                Color32::WHITE,
            );
        }
    }

    /// Why `camera` is not being recorded now (translated reason, detail), if it is not.
    pub(super) fn rec_problem(&self, camera: &str) -> Option<(String, String)> {
        let st = self.rec_status.as_ref()?;
        let c = st.cameras.get(camera)?;
        if c.recording {
            return None;
        }
        let (r, d, _) = c.problem.as_ref()?;
        Some((self.tr.t(&format!("gap-{}", r.key())), d.clone()))
    }

    pub(super) fn tile_tooltip_ui(&self, ui: &mut egui::Ui, s: &Arc<StreamShared>) {
        let tr = &self.tr;
        let st = s.stats();
        ui.label(RichText::new(tr.t_args(
            "hover-fps",
            &[("fps", FluentValue::from(format!("{:.1}", st.fps)))],
        )));
        ui.label(tr.t_args(
            "hover-bitrate",
            &[("kbps", FluentValue::from(format!("{:.0}", st.kbps)))],
        ));
        ui.label(tr.t_args(
            "hover-resolution",
            &[("w", st.width.into()), ("h", st.height.into())],
        ));
        ui.label(tr.t_args("hover-codec", &[("codec", st.codec.into())]));
        let kind = match s.kind {
            mt_capture::StreamKind::Main => tr.t("stream-main"),
            mt_capture::StreamKind::Sub => tr.t("stream-sub"),
        };
        ui.label(tr.t_args("hover-stream", &[("stream", kind.into())]));
        // Where the picture times come from: the camera's own clock (its RTCP reports agree
        // with the workstation's) or arrival, and how far the camera's clock is off.
        if let Some(off) = st.camera_clock_offset_ms {
            let key = if st.camera_clock_used {
                "hover-clock-camera"
            } else {
                "hover-clock-arrival"
            };
            ui.label(tr.t_args(key, &[("ms", off.into())]));
        }
    }
}
