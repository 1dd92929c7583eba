//! Bookmarks: B on a tile starts one (the picture kept as a still), its note, and what is
//! drawn over the wall (banner, toast, the bookmark prompt).

use super::*;

impl LogUi {
    /// B pressed on a tile showing `frame` of `camera` (`source`: "live", "playback",
    /// "replay"). The bookmark's time is the picture's own time, not the moment of the key
    /// press; without a picture (a gap in playback), `at_ms`: the time the tile is at.
    pub fn start_bookmark(
        &mut self,
        camera_id: &str,
        camera_name: &str,
        frame: Option<Arc<DecodedFrame>>,
        source: &'static str,
        at_ms: i64,
    ) {
        let frame_time_ms = frame
            .as_ref()
            .map(|f| f.time_ms)
            .filter(|t| *t > 0)
            .unwrap_or(at_ms);
        self.bookmark_prompt = Some(BookmarkDraft {
            camera_id: camera_id.into(),
            camera_name: camera_name.into(),
            frame_time_ms,
            source,
            frame,
            note: String::new(),
            pre_s: 30,
            post_s: 30,
        });
        self.focus_note = true;
    }

    /// Prefills the note of the bookmark being made (a search hit says what was found).
    pub fn set_bookmark_note(&mut self, note: String) {
        if let Some(d) = self.bookmark_prompt.as_mut() {
            d.note = note;
        }
    }

    /// Banner, toast and the bookmark prompt: drawn over the wall.
    pub fn overlay_ui(&mut self, ctx: &egui::Context, tr: &Tr) {
        if let Some(b) = self.banner.clone() {
            egui::Area::new(egui::Id::unique("log-banner"))
                .anchor(egui::Align2::CENTER_TOP, [0.0, 40.0])
                .show(ctx, |ui| {
                    egui::Frame::new()
                        .fill(Color32::from_rgb(150, 20, 20))
                        .inner_margin(8.0)
                        .show(ui, |ui| {
                            ui.horizontal(|ui| {
                                ui.colored_label(Color32::WHITE, b);
                                if !self.unsaved.is_empty() && ui.button(tr.t("retry")).clicked() {
                                    self.banner = None;
                                    for u in std::mem::take(&mut self.unsaved) {
                                        self.save(u);
                                    }
                                }
                                if ui.button(tr.t("close")).clicked() && self.unsaved.is_empty() {
                                    self.banner = None;
                                }
                            });
                        });
                });
        }
        if let Some((msg, at)) = &self.toast {
            if at.elapsed() < Duration::from_secs(4) {
                egui::Area::new(egui::Id::unique("log-toast"))
                    .anchor(egui::Align2::RIGHT_BOTTOM, [-16.0, -16.0])
                    .show(ctx, |ui| {
                        egui::Frame::new()
                            .fill(Color32::from_rgb(30, 110, 60))
                            .inner_margin(8.0)
                            .show(ui, |ui| ui.colored_label(Color32::WHITE, msg));
                    });
                ctx.request_repaint_after(Duration::from_millis(250));
            } else {
                self.toast = None;
            }
        }
        let mut save = false;
        let mut cancel = false;
        if let Some(d) = &mut self.bookmark_prompt {
            let title = tr.t_args(
                "bookmark-prompt",
                &[
                    ("camera", d.camera_name.clone().into()),
                    ("time", fmt_time(d.frame_time_ms).into()),
                ],
            );
            egui::Window::new(tr.t("tab-bookmarks"))
                .id(egui::Id::unique("bookmark-prompt"))
                .collapsible(false)
                .resizable(false)
                .anchor(egui::Align2::CENTER_BOTTOM, [0.0, -40.0])
                .show(ctx, |ui| {
                    ui.strong(&title);
                    let l = ui.label(tr.t("bookmark-note"));
                    let r = ui
                        .add(egui::TextEdit::singleline(&mut d.note).desired_width(420.0))
                        .labelled_by(l.id);
                    if self.focus_note {
                        r.request_focus();
                        self.focus_note = false;
                    }
                    ui.horizontal(|ui| {
                        ui.label(tr.t("bookmark-window"));
                        ui.add(
                            egui::DragValue::new(&mut d.pre_s)
                                .range(0..=600)
                                .prefix("−"),
                        );
                        ui.add(
                            egui::DragValue::new(&mut d.post_s)
                                .range(0..=600)
                                .prefix("+"),
                        );
                        if ui.button(tr.t("save")).clicked() {
                            save = true;
                        }
                    });
                    if ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        save = true;
                    }
                    if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                        d.note.clear();
                        save = true;
                    }
                });
        }
        if cancel {
            self.bookmark_prompt = None;
        }
        if save {
            if let Some(d) = self.bookmark_prompt.take() {
                self.save(Unsaved::Bookmark(d));
            }
        }
        cancel = false;
        let mut create = false;
        let types = self.types.clone();
        if let Some(f) = &mut self.incident_form {
            egui::Window::new(tr.t("new-incident"))
                .id(egui::Id::unique("incident-form"))
                .collapsible(false)
                .show(ctx, |ui| {
                    egui::Grid::new("incident-form-grid")
                        .num_columns(2)
                        .show(ui, |ui| {
                            ui.label(tr.t("incident-title"));
                            ui.add(egui::TextEdit::singleline(&mut f.title).desired_width(360.0));
                            ui.end_row();
                            ui.label(tr.t("incident-type"));
                            type_combo_ui(ui, "incident-type", &types, &mut f.type_code, tr.lang());
                            ui.end_row();
                            if let Some(t) = time_field_ui(ui, tr, &mut self.form_time) {
                                f.occurred_ms = t;
                            }
                            ui.end_row();
                            ui.label(tr.t("incident-ward"));
                            ui.add(egui::TextEdit::singleline(&mut f.ward));
                            ui.end_row();
                            ui.label(tr.t("incident-cameras"));
                            ui.label(f.camera_ids.join(", "));
                            ui.end_row();
                            ui.label(tr.t("incident-bookmarks"));
                            ui.label(
                                f.bookmark_ids
                                    .iter()
                                    .map(|b| format!("#{b}"))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            );
                            ui.end_row();
                        });
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(
                                !f.title.trim().is_empty()
                                    && parse_input_time(&self.form_time).is_some(),
                                egui::Button::new(tr.t("save")),
                            )
                            .clicked()
                        {
                            create = true;
                        }
                        if ui.button(tr.t("cancel")).clicked() {
                            cancel = true;
                        }
                    });
                });
        }
        if cancel {
            self.incident_form = None;
        }
        if create {
            if let Some(f) = self.incident_form.take() {
                self.save(Unsaved::Incident(f));
            }
        }
    }
}
