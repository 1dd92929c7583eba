//! One incident: its fields, status, notes, bookmarks with their stills, cameras, export.

use super::*;

impl LogUi {
    pub(super) fn detail_ui(
        &mut self,
        ctx: &egui::Context,
        tr: &Tr,
        name_of: &dyn Fn(&str) -> String,
        out: &mut Vec<LogCommand>,
    ) {
        let Some(d) = self.detail.clone() else { return };
        // The stills decoded on the "stills" thread become textures once.
        if self.snapshot_pngs.is_some() {
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
        }
        let got = match self.snapshot_pngs.as_ref().map(|rx| rx.try_recv()) {
            Some(Ok(v)) => Some(v),
            // The thread ended without an answer: nothing more will come.
            Some(Err(std::sync::mpsc::TryRecvError::Disconnected)) => Some(Vec::new()),
            _ => None,
        };
        if let Some(v) = got {
            self.snapshot_pngs = None;
            for (id, ci) in v {
                self.snapshots.push((
                    id,
                    ctx.load_texture(format!("bookmark-{id}"), ci, Default::default()),
                ));
            }
        }
        let stills = self.snapshots.clone();
        let mut close = false;
        let mut add_note = None;
        let mut new_status = None;
        let mut edit = self.edit.take().filter(|e| e.0 == d.incident.id);
        let mut save_edit = None;
        let types = self.types.clone();
        egui::Window::new(format!("#{} {}", d.incident.id, d.incident.title))
            .id(egui::Id::unique("incident-detail"))
            .show(ctx, |ui| {
                // Title, type and ward can be corrected; every change is audited.
                match &mut edit {
                    None => {
                        if ui.button(tr.t("incident-edit")).clicked() {
                            edit = Some((
                                d.incident.id,
                                d.incident.title.clone(),
                                d.incident.type_code.clone(),
                                d.incident.ward.clone(),
                                fmt_input_time(d.incident.occurred_ms),
                            ));
                        }
                    }
                    Some((_, title, type_code, ward, time_text)) => {
                        let mut cancel = false;
                        let mut when = None;
                        egui::Grid::new("edit-grid").num_columns(2).show(ui, |ui| {
                            let l = ui.label(tr.t("incident-title"));
                            ui.add(egui::TextEdit::singleline(title).desired_width(320.0))
                                .labelled_by(l.id);
                            ui.end_row();
                            ui.label(tr.t("incident-type"));
                            type_combo_ui(ui, "edit-type", &types, type_code, tr.lang());
                            ui.end_row();
                            let l = ui.label(tr.t("incident-ward"));
                            ui.add(egui::TextEdit::singleline(ward)).labelled_by(l.id);
                            ui.end_row();
                            when = time_field_ui(ui, tr, time_text);
                            ui.end_row();
                        });
                        ui.horizontal(|ui| {
                            if ui
                                .add_enabled(
                                    !title.trim().is_empty() && when.is_some(),
                                    egui::Button::new(tr.t("save")),
                                )
                                .clicked()
                            {
                                if let Some(t) = when {
                                    save_edit =
                                        Some((title.clone(), type_code.clone(), ward.clone(), t));
                                }
                            }
                            if ui.button(tr.t("cancel")).clicked() {
                                cancel = true;
                            }
                        });
                        ui.separator();
                        if cancel {
                            edit = None;
                        }
                    }
                }
                egui::Grid::new("detail-grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        ui.label(tr.t("incident-type"));
                        ui.label(self.type_name(&d.incident.type_code, tr.lang()));
                        ui.end_row();
                        ui.label(tr.t("incident-status"));
                        let mut st = d.incident.status;
                        egui::ComboBox::from_id_salt("detail-status")
                            .selected_text(tr.t(&format!("status-{}", st.as_str())))
                            .show_ui(ui, |ui| {
                                for s in STATUSES {
                                    if ui
                                        .selectable_value(
                                            &mut st,
                                            s,
                                            tr.t(&format!("status-{}", s.as_str())),
                                        )
                                        .changed()
                                    {
                                        new_status = Some(s);
                                    }
                                }
                            });
                        ui.end_row();
                        ui.label(tr.t("incident-time"));
                        ui.label(fmt_time(d.incident.occurred_ms));
                        ui.end_row();
                        ui.label(tr.t("incident-ward"));
                        ui.label(&d.incident.ward);
                        ui.end_row();
                        ui.label(tr.t("incident-cameras"));
                        ui.horizontal_wrapped(|ui| {
                            for c in &d.cameras {
                                if ui
                                    .button(format!(
                                        "{} · {}",
                                        name_of(c),
                                        tr.t("incident-open-camera")
                                    ))
                                    .clicked()
                                {
                                    out.push(LogCommand::ShowCamera(c.clone()));
                                }
                            }
                        });
                        ui.end_row();
                        ui.label(tr.t("incident-bookmarks"));
                        ui.label(
                            d.bookmark_ids
                                .iter()
                                .map(|b| format!("#{b}"))
                                .collect::<Vec<_>>()
                                .join(", "),
                        );
                        ui.end_row();
                    });
                ui.separator();
                if !stills.is_empty() {
                    ui.horizontal_wrapped(|ui| {
                        for (id, tex) in &stills {
                            ui.vertical(|ui| {
                                let h = 90.0;
                                let w = h * tex.aspect_ratio();
                                ui.image((tex.id(), egui::vec2(w, h)));
                                ui.small(format!("#{id}"));
                            });
                        }
                    });
                    ui.separator();
                }
                ui.strong(tr.t("incident-notes"));
                for n in &d.notes {
                    ui.small(format!("{} · {}", fmt_time(n.created_ms), n.author_id));
                    ui.label(&n.body);
                }
                ui.horizontal(|ui| {
                    ui.add(egui::TextEdit::singleline(&mut self.new_note).desired_width(320.0));
                    if ui.button(tr.t("incident-add-note")).clicked()
                        && !self.new_note.trim().is_empty()
                    {
                        add_note = Some(std::mem::take(&mut self.new_note));
                    }
                });
                let may_export = self.may(Right::Export);
                if let Some(ev) = self.evidence.as_mut().filter(|_| may_export) {
                    ui.separator();
                    let op = self
                        .operator
                        .as_ref()
                        .map(|o| o.id.clone())
                        .unwrap_or_default();
                    ev.ui(ui, tr, &self.store, d.incident.id, &op);
                }
                if ui.button(tr.t("close")).clicked() {
                    close = true;
                }
            });
        let id = d.incident.id;
        if let Some((title, type_code, ward, occurred)) = save_edit {
            let op = self.operator_id();
            self.submit(|st| {
                st.run(move |db| db.update_incident(&op, id, &title, &type_code, &ward, occurred))
                    .map(Job::Done)
            });
            self.load_detail(id);
            edit = None;
        }
        self.edit = edit;
        if let Some(s) = new_status {
            let op = self.operator_id();
            self.submit(|st| st.run(move |db| db.set_status(&op, id, s)).map(Job::Done));
            self.load_detail(id);
        }
        if let Some(body) = add_note {
            self.save(Unsaved::Note(id, body));
        }
        if close {
            self.detail = None;
        }
    }
}
