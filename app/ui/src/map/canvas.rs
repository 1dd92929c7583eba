//! The map canvas: pan and zoom, clicks and drags on cameras (move, aim, widen), placing a
//! planned site, the context menu; where a click on the map goes.

use super::*;

impl MapUi {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn canvas_ui(
        &mut self,
        ui: &mut egui::Ui,
        rect: Rect,
        tr: &Tr,
        live: &LiveCameras<'_>,
        store: Option<&StoreThread>,
        operator: Option<&str>,
        type_name: &dyn Fn(&str) -> String,
        wanted: &mut HashSet<mt_capture::StreamId>,
        cmds: &mut Vec<MapCommand>,
    ) {
        self.canvas = rect;
        let sc = [rect.center().x, rect.center().y];
        if self.view.is_none() {
            self.view = Some(initial_view(
                &self.data,
                &self.sites,
                [rect.width(), rect.height()],
            ));
        }
        let resp = ui.interact(
            rect,
            ui.scope_id().with("map-canvas"),
            Sense::click_and_drag(),
        );
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, tr.t("map-title")));
        let mut view = self.view.expect("set above");

        // Zoom with the wheel (or pinch) around the pointer.
        if resp.hovered() {
            let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            let factor = (scroll as f64 / 400.0).exp() * zoom as f64;
            if (factor - 1.0).abs() > 1e-4 {
                if let Some(p) = resp.hover_pos() {
                    view.zoom_at(factor, [p.x, p.y], sc);
                }
            }
        }
        let tol = 9.0 * view.mpp;
        let hover_world = resp.hover_pos().map(|p| view.to_world([p.x, p.y], sc));
        let hovered_site = hover_world.and_then(|w| self.index.hit(w, tol));
        let editing = matches!(self.mode, MapMode::Edit | MapMode::Plan);

        // Drags: a handle of the selected camera, the camera itself, or the map.
        if resp.drag_started() {
            let origin = ui
                .input(|i| i.pointer.press_origin())
                .unwrap_or_else(|| resp.interact_pointer_pos().unwrap_or(rect.center()));
            self.drag = None;
            if editing {
                if let Some(sel) = self.selected.filter(|&i| self.editable(i)) {
                    let s = &self.sites[sel];
                    let (apex, head, angle) = handles(s, &view, sc);
                    let near = |p: Pos2| p.distance(origin) <= 10.0;
                    let grab = if near(head) {
                        Some(Grab::Heading)
                    } else if near(angle) {
                        Some(Grab::Angle)
                    } else if near(apex) {
                        Some(Grab::Move)
                    } else {
                        None
                    };
                    self.drag = grab.map(|grab| SiteDrag { site: sel, grab });
                }
            }
        }
        if resp.dragged() {
            match (&self.drag, resp.interact_pointer_pos()) {
                (Some(d), Some(p)) => {
                    let w = view.to_world([p.x, p.y], sc);
                    let s = &mut self.sites[d.site];
                    let apex = site_merc(s);
                    match d.grab {
                        Grab::Move => {
                            self.merc[d.site] = w;
                            let (lon, lat) = merc_to_lonlat(w);
                            s.lat_deg = lat;
                            s.lon_deg = lon;
                        }
                        Grab::Heading => {
                            s.heading_deg = bearing(apex, w).round();
                            s.range_m = ground_distance(apex, w).clamp(2.0, 500.0).round();
                        }
                        Grab::Angle => {
                            let diff = (bearing(apex, w) - s.heading_deg + 540.0).rem_euclid(360.0)
                                - 180.0;
                            s.fov_deg = (diff.abs() * 2.0).clamp(5.0, 360.0).round();
                        }
                    }
                    self.coverage_dirty = true;
                    if !s.planned {
                        self.coverage_before_dirty = true;
                    }
                }
                (None, _) => {
                    let d = resp.drag_delta();
                    view.pan(d.x, d.y);
                }
                _ => {}
            }
        }
        if resp.drag_stopped() {
            if let Some(d) = self.drag.take() {
                if d.grab == Grab::Move {
                    let c = site_merc(&self.sites[d.site]);
                    if let Some(w) = self.ward_at(c) {
                        self.sites[d.site].ward = w;
                    }
                }
                self.save_site(store, operator, d.site);
            }
        }

        // Clicks.
        let pin_hit = |me: &Self, w: Coord| -> Option<i64> {
            if !me.show_pins {
                return None;
            }
            me.incidents
                .iter()
                .zip(&me.incident_merc)
                .map(|(p, c)| (p.id, (c.x - w.x).hypot(c.y - w.y)))
                .filter(|(_, d)| *d <= tol)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(id, _)| id)
        };
        if resp.clicked() {
            if let Some(w) = resp
                .interact_pointer_pos()
                .map(|p| view.to_world([p.x, p.y], sc))
            {
                if self.placing {
                    self.placing = false;
                    self.add_planned(w, tr, store, operator);
                } else if let Some(i) = self.index.hit(w, tol) {
                    self.selected = Some(i);
                    let s = &self.sites[i];
                    if self.mode == MapMode::Watch && live.handle(&s.id).is_some() {
                        cmds.push(MapCommand::ShowCamera(s.id.clone()));
                    }
                } else if let Some(id) = pin_hit(self, w) {
                    cmds.push(MapCommand::OpenIncident(id));
                } else {
                    self.selected = None;
                }
            }
        }
        let menu_at = ui.scope_id().with("map-menu-at");
        if resp.secondary_clicked() {
            if let Some(p) = resp.interact_pointer_pos() {
                ui.data_mut(|d| d.insert_temp(menu_at, view.to_world([p.x, p.y], sc)));
            }
        }
        resp.context_menu(|ui| {
            let Some(w) = ui.data(|d| d.get_temp::<Coord>(menu_at)) else {
                return;
            };
            // A live camera under the pointer: to the second screen.
            if let Some(s) = self
                .index
                .hit(w, tol)
                .map(|i| &self.sites[i])
                .filter(|s| live.second_open && live.handle(&s.id).is_some())
            {
                if ui
                    .button(tr.t_args("map-send-second", &[("camera", s.name.clone().into())]))
                    .clicked()
                {
                    cmds.push(MapCommand::SendToSecond(s.id.clone()));
                    ui.close();
                }
            }
            if self.may(mt_store::Right::Incident) && ui.button(tr.t("map-new-incident")).clicked()
            {
                let (lon, lat) = merc_to_lonlat(w);
                let near: Vec<String> = self
                    .index
                    .in_rect(
                        Coord {
                            x: w.x - 60.0,
                            y: w.y - 60.0,
                        },
                        Coord {
                            x: w.x + 60.0,
                            y: w.y + 60.0,
                        },
                    )
                    .map(|i| &self.sites[i])
                    .filter(|s| !s.planned)
                    .map(|s| s.id.clone())
                    .collect();
                cmds.push(MapCommand::NewIncidentAt {
                    lat,
                    lon,
                    ward: self.ward_at(w).unwrap_or_default(),
                    cameras: near,
                });
                ui.close();
            }
            if self.may(mt_store::Right::Search) && ui.button(tr.t("trace-here")).clicked() {
                // From an incident pin under the pointer: its place and time; else the point, now.
                let pin = pin_hit(self, w).and_then(|id| {
                    let k = self.incidents.iter().position(|p| p.id == id)?;
                    Some((id, self.incident_merc[k], self.incidents[k].occurred_ms))
                });
                self.trace = Some(match pin {
                    Some((id, at, t)) => crate::trace::TracePanel::new(at, t, Some(id)),
                    None => {
                        crate::trace::TracePanel::new(w, mt_record::now_ms() - 5 * 60_000, None)
                    }
                });
                ui.close();
            }
            if ui.button(tr.t("plan-place-here")).clicked() {
                self.add_planned(w, tr, store, operator);
                self.mode = MapMode::Plan;
                ui.close();
            }
        });

        self.view = Some(view);
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, MAP_BG);
        self.draw_basemap(ui.ctx(), &painter, rect, &view);
        let mesh = self.base_mesh(ui.ctx(), &view, rect.center());
        painter.add(Shape::Mesh(mesh));
        if self.mode == MapMode::Plan {
            self.ensure_coverage(ui.ctx());
            if let Some((_, after)) = &self.coverage {
                draw_gaps(&painter, &view, sc, after, self.highlight_gap);
            }
        }
        if self.show_heat {
            self.draw_heat(&painter, rect, &view);
        }
        let visible = self.draw_sites(&painter, rect, &view, live, hovered_site);
        draw_labels(&painter, &self.labels, &view, sc, rect);
        if self.show_pins {
            draw_pins(
                &painter,
                &self.incidents,
                &self.incident_merc,
                &view,
                sc,
                rect,
            );
        }
        // Live pictures at the cameras' places when zoomed in enough to fit them.
        if view.mpp < 0.8 {
            let mut shown = 0;
            for &i in &visible {
                let s = &self.sites[i];
                let Some(h) = live.handle(&s.id) else {
                    continue;
                };
                let stream = h.health_stream();
                wanted.insert(stream.id);
                if let Some(frame) = stream.latest() {
                    let p = view.to_screen(site_merc(s), sc);
                    let r = Rect::from_center_size(
                        egui::pos2(p[0], p[1] - 52.0),
                        egui::vec2(128.0, 72.0),
                    );
                    if rect.contains_rect(r) {
                        painter.rect_filled(r.expand(2.0), 2.0, Color32::BLACK);
                        painter.add(egui_wgpu::Callback::new_paint_callback(
                            fit_aspect(r, frame.width, frame.height),
                            VideoCallback {
                                source: stream.slot.clone(),
                                crop: None,
                            },
                        ));
                    }
                }
                shown += 1;
                if shown >= 12 {
                    break;
                }
            }
        }
        if editing {
            if let Some(sel) = self.selected.filter(|&i| self.editable(i)) {
                let (apex, head, angle) = handles(&self.sites[sel], &view, sc);
                let st = Stroke::new(2.0, Color32::BLACK);
                painter.line_segment([apex, head], Stroke::new(1.5, Color32::WHITE));
                painter.circle(head, 6.0, Color32::from_rgb(250, 200, 40), st);
                painter.circle(angle, 5.0, Color32::from_rgb(120, 220, 250), st);
                painter.circle_stroke(apex, 9.0, Stroke::new(2.0, Color32::WHITE));
            }
        }
        draw_scale_and_attribution(&painter, rect, &view, &self.data.attribution, tr);
        self.draw_legend(&painter, rect, tr);
        if let Some((msg, ok, at)) = &self.status {
            if at.elapsed() < Duration::from_secs(6) {
                let c = if *ok {
                    Color32::from_rgb(120, 220, 140)
                } else {
                    Color32::from_rgb(250, 120, 120)
                };
                let r = painter.text(
                    rect.center_top() + egui::vec2(0.0, 8.0),
                    Align2::CENTER_TOP,
                    msg,
                    FontId::proportional(13.0),
                    c,
                );
                painter.rect_filled(r.expand(4.0), 3.0, Color32::from_black_alpha(200));
                painter.text(r.min, Align2::LEFT_TOP, msg, FontId::proportional(13.0), c);
            }
        }
        if !self.load_errors.is_empty() {
            painter.text(
                rect.left_top() + egui::vec2(8.0, 8.0),
                Align2::LEFT_TOP,
                tr.t_args("map-errors", &[("count", self.load_errors.len().into())]),
                FontId::proportional(12.0),
                Color32::from_rgb(230, 160, 40),
            );
        }

        // Hover: the camera's name, state and live picture; or the incident.
        if let Some(i) = hovered_site.filter(|_| self.drag.is_none()) {
            let s = &self.sites[i];
            let state = self.state_of(s, live);
            let stream = live.handle(&s.id).map(|h| h.health_stream().clone());
            if let Some(st) = &stream {
                wanted.insert(st.id);
            }
            resp.clone().on_hover_ui_at_pointer(|ui| {
                ui.strong(&s.name);
                ui.colored_label(state.color(), tr.t(state.key()));
                ui.small(format!(
                    "{} · {} · {}",
                    tr.t(s.owner_kind.key()),
                    tr.t(s.sharing.key()),
                    s.address
                ));
                if let Some(frame) = stream.as_ref().and_then(|st| st.latest()) {
                    let (r, _) = ui.allocate_exact_size(egui::vec2(256.0, 144.0), Sense::hover());
                    ui.painter().rect_filled(r, 0.0, Color32::BLACK);
                    ui.painter().add(egui_wgpu::Callback::new_paint_callback(
                        fit_aspect(r, frame.width, frame.height),
                        VideoCallback {
                            source: stream.as_ref().expect("has a frame").slot.clone(),
                            crop: None,
                        },
                    ));
                }
                if self.mode == MapMode::Watch && stream.is_some() {
                    ui.weak(tr.t("map-click-to-wall"));
                }
            });
        } else if let Some(id) = hover_world.and_then(|w| pin_hit(self, w)) {
            if let Some(p) = self.incidents.iter().find(|p| p.id == id) {
                resp.clone().on_hover_ui_at_pointer(|ui| {
                    ui.strong(format!("#{} {}", p.id, p.title));
                    ui.label(type_name(&p.type_code));
                    ui.small(crate::log::format_time(p.occurred_ms));
                });
            }
        }
        if resp.hovered() && (self.placing || hovered_site.is_some()) {
            ui.ctx().set_cursor_icon(if self.placing {
                egui::CursorIcon::Crosshair
            } else {
                egui::CursorIcon::PointingHand
            });
        }
    }

    pub(super) fn editable(&self, i: usize) -> bool {
        match self.mode {
            MapMode::Edit => i < self.sites.len(),
            MapMode::Plan => self.sites.get(i).is_some_and(|s| s.planned),
            MapMode::Watch => false,
        }
    }
}

/// Screen positions of the selected camera's apex, heading handle (cone tip) and angle
/// handle (on the cone's right edge).
pub(super) fn handles(s: &CameraSite, view: &View, sc: [f32; 2]) -> (Pos2, Pos2, Pos2) {
    let c = site_merc(s);
    let r = range_merc(s, c);
    let at = |deg: f64, k: f64| {
        let d = bearing_vector(deg);
        let p = view.to_screen(
            Coord {
                x: c.x + d.x * r * k,
                y: c.y + d.y * r * k,
            },
            sc,
        );
        egui::pos2(p[0], p[1])
    };
    let apex = view.to_screen(c, sc);
    (
        egui::pos2(apex[0], apex[1]),
        at(s.heading_deg, 1.0),
        at(s.heading_deg + s.fov_deg / 2.0, 0.7),
    )
}

/// Screen position of the selected camera's handles, for tests: (apex, heading, angle).
pub fn handle_positions(map: &MapUi, i: usize) -> Option<(Pos2, Pos2, Pos2)> {
    let view = map.view?;
    let sc = [map.canvas.center().x, map.canvas.center().y];
    Some(handles(map.sites.get(i)?, &view, sc))
}

/// Screen position of a site on the last frame's canvas.
pub fn site_position(map: &MapUi, i: usize) -> Option<Pos2> {
    let view = map.view?;
    let p = view.to_screen(
        site_merc(map.sites.get(i)?),
        [map.canvas.center().x, map.canvas.center().y],
    );
    Some(egui::pos2(p[0], p[1]))
}
