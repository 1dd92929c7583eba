//! The incidents tab: the list (search, filters, sort), a new incident, the type catalogue.

use super::*;

impl LogUi {
    /// B pressed on a tile showing `camera`.
    /// Opens an incident's window (from a pin on the map).
    pub fn open_incident(&mut self, id: i64) {
        self.load_detail(id);
    }

    /// Starts a new incident at a place chosen on the map.
    pub fn new_incident_at(&mut self, lat: f64, lon: f64, ward: String, cameras: Vec<String>) {
        let now = mt_store::now_ms();
        self.form_time = fmt_input_time(now);
        self.incident_form = Some(IncidentDraft {
            title: String::new(),
            type_code: "other".into(),
            occurred_ms: now,
            ward,
            lat_deg: Some(lat),
            lon_deg: Some(lon),
            camera_ids: cameras,
            bookmark_ids: Vec::new(),
        });
    }

    pub(super) fn sort_incidents(&mut self) {
        let (col, desc) = self.sort;
        self.incidents.sort_by(|a, b| {
            let o = match col {
                0 => a.id.cmp(&b.id),
                1 => a.title.cmp(&b.title),
                2 => a.type_code.cmp(&b.type_code),
                3 => a.status.as_str().cmp(b.status.as_str()),
                5 => a.created_by.cmp(&b.created_by),
                _ => a.occurred_ms.cmp(&b.occurred_ms),
            };
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }

    pub(super) fn incidents_ui(&mut self, ui: &mut egui::Ui, tr: &Tr, cameras: &[CameraInfo]) {
        let mut changed = false;
        ui.horizontal(|ui| {
            let l = ui.label(tr.t("search-incident-label"));
            changed |= ui
                .add(
                    egui::TextEdit::singleline(&mut self.query.text)
                        .hint_text(tr.t("search-incidents"))
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(l.id)
                .changed();
        });
        ui.horizontal(|ui| {
            let types = self.types.clone();
            let cur = self
                .query
                .type_code
                .as_deref()
                .map(|c| self.type_name(c, tr.lang()))
                .unwrap_or_else(|| tr.t("any"));
            egui::ComboBox::from_id_salt("q-type")
                .selected_text(cur)
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut self.query.type_code, None, tr.t("any"))
                        .changed();
                    for t in &types {
                        let name = if tr.lang() == Lang::Vi {
                            &t.name_vi
                        } else {
                            &t.name_en
                        };
                        changed |= ui
                            .selectable_value(&mut self.query.type_code, Some(t.code.clone()), name)
                            .changed();
                    }
                });
            let cur = self
                .query
                .status
                .map(|s| tr.t(&format!("status-{}", s.as_str())))
                .unwrap_or_else(|| tr.t("any"));
            egui::ComboBox::from_id_salt("q-status")
                .selected_text(cur)
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut self.query.status, None, tr.t("any"))
                        .changed();
                    for s in STATUSES {
                        changed |= ui
                            .selectable_value(
                                &mut self.query.status,
                                Some(s),
                                tr.t(&format!("status-{}", s.as_str())),
                            )
                            .changed();
                    }
                });
            let mut wards: Vec<&String> = cameras
                .iter()
                .map(|c| &c.2)
                .filter(|w| !w.is_empty())
                .collect();
            wards.sort();
            wards.dedup();
            let cur = self.query.ward.clone().unwrap_or_else(|| tr.t("any"));
            egui::ComboBox::from_id_salt("q-ward")
                .selected_text(format!("{}: {cur}", tr.t("incident-ward")))
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut self.query.ward, None, tr.t("any"))
                        .changed();
                    for w in wards {
                        changed |= ui
                            .selectable_value(&mut self.query.ward, Some(w.clone()), w.as_str())
                            .changed();
                    }
                });
        });
        ui.horizontal(|ui| {
            let cur = self
                .query
                .camera_id
                .as_deref()
                .and_then(|c| cameras.iter().find(|x| x.0 == c))
                .map(|x| x.1.clone())
                .unwrap_or_else(|| tr.t("any"));
            egui::ComboBox::from_id_salt("q-camera")
                .selected_text(format!("{}: {cur}", tr.t("col-camera")))
                .width(180.0)
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut self.query.camera_id, None, tr.t("any"))
                        .changed();
                    for c in cameras {
                        changed |= ui
                            .selectable_value(
                                &mut self.query.camera_id,
                                Some(c.0.clone()),
                                c.1.as_str(),
                            )
                            .changed();
                    }
                });
            let l = ui.label(tr.t("col-by"));
            let mut op = self.query.operator_id.clone().unwrap_or_default();
            if ui
                .add(egui::TextEdit::singleline(&mut op).desired_width(70.0))
                .labelled_by(l.id)
                .changed()
            {
                self.query.operator_id = Some(op.trim().to_owned()).filter(|o| !o.is_empty());
                changed = true;
            }
            for (days, key) in [
                (None, "period-all"),
                (Some(30i64), "period-30d"),
                (Some(365), "period-12m"),
            ] {
                let from = days.map(|d| mt_store::now_ms() - d * 86_400_000);
                let on = match (self.query.from_ms, from) {
                    (None, None) => true,
                    (Some(a), Some(b)) => (a - b).abs() < 86_400_000,
                    _ => false,
                };
                if ui.selectable_label(on, tr.t(key)).clicked() {
                    self.query.from_ms = from;
                    changed = true;
                }
            }
            if self.may(Right::Export) && ui.button(tr.t("export-csv")).clicked() {
                let name = format!(
                    "vu-viec-{}.csv",
                    mt_core::time::file_stamp(mt_core::time::now_ms())
                );
                let path = self.export_dir.join(name);
                let (q, op, p2) = (self.query.clone(), self.operator_id(), path.clone());
                let dir = self.export_dir.clone();
                self.submit(|s| {
                    s.run(move |db| {
                        std::fs::create_dir_all(&dir).map_err(|e| {
                            mt_store::StoreError::Invalid(format!("{}: {e}", dir.display()))
                        })?;
                        db.export_csv(&op, &q, &p2)
                    })
                    .map(|p| Job::Exported(p, path))
                });
            }
        });
        if changed {
            self.refresh();
        }
        let mut more = false;
        ui.horizontal(|ui| {
            ui.small(tr.t_args("results", &[("count", self.incidents.len().into())]));
            // A full page: there may be more, older ones.
            let page = if self.query.limit == 0 {
                mt_store::PAGE
            } else {
                self.query.limit
            };
            if self.incidents.len() >= page && ui.small_button(tr.t("more-results")).clicked() {
                self.query.limit = page + mt_store::PAGE;
                more = true;
            }
        });
        if more {
            self.refresh();
        }
        let mut open = None;
        egui::ScrollArea::both()
            .id_salt("incidents")
            .show(ui, |ui| {
                egui::Grid::new("incident-table")
                    .striped(true)
                    .num_columns(6)
                    .show(ui, |ui| {
                        for (i, key) in [
                            "col-id",
                            "col-title",
                            "col-type",
                            "col-status",
                            "col-time",
                            "col-by",
                        ]
                        .iter()
                        .enumerate()
                        {
                            let arrow = if self.sort.0 == i {
                                if self.sort.1 {
                                    " v"
                                } else {
                                    " ^"
                                }
                            } else {
                                ""
                            };
                            if ui.button(format!("{}{arrow}", tr.t(key))).clicked() {
                                self.sort = (i, if self.sort.0 == i { !self.sort.1 } else { true });
                                self.sort_incidents();
                            }
                        }
                        ui.end_row();
                        for inc in &self.incidents {
                            ui.label(inc.id.to_string());
                            if ui.link(&inc.title).clicked() {
                                open = Some(inc.id);
                            }
                            ui.label(self.type_name(&inc.type_code, tr.lang()));
                            ui.label(tr.t(&format!("status-{}", inc.status.as_str())));
                            ui.label(fmt_time(inc.occurred_ms));
                            ui.label(&inc.created_by);
                            ui.end_row();
                        }
                    });
            });
        if let Some(id) = open {
            self.load_detail(id);
        }
    }

    /// The incident-type catalogue, editable by a supervisor (every change audited).
    pub(super) fn catalogue_ui(&mut self, ui: &mut egui::Ui, tr: &Tr) {
        egui::CollapsingHeader::new(tr.t("catalogue"))
            .default_open(false)
            .show(ui, |ui| {
                let mut changed: Option<IncidentType> = None;
                for t in &self.types {
                    let mut active = t.active;
                    if ui
                        .checkbox(&mut active, format!("{} / {}", t.name_vi, t.name_en))
                        .changed()
                    {
                        changed = Some(IncidentType {
                            active,
                            ..t.clone()
                        });
                    }
                }
                ui.horizontal(|ui| {
                    let l = ui.label(tr.t("catalogue-new"));
                    ui.add(egui::TextEdit::singleline(&mut self.new_type).desired_width(160.0))
                        .labelled_by(l.id);
                    if ui.button(tr.t("save")).clicked() && !self.new_type.trim().is_empty() {
                        let name = self.new_type.trim().to_owned();
                        let code = mt_core::fold(&name)
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join("_");
                        changed = Some(IncidentType {
                            code,
                            name_vi: name.clone(),
                            name_en: name,
                            active: true,
                        });
                        self.new_type.clear();
                    }
                });
                if let (Some(t), Some(op)) = (changed, self.operator.clone()) {
                    self.submit(|s| {
                        s.run(move |db| db.set_incident_type(&op, &t))
                            .map(Job::Done)
                    });
                    self.submit(|s| s.run(|db| db.incident_types()).map(Job::Types));
                }
            });
    }
}

/// A combo box of the active incident types, in the UI's language.
pub(super) fn type_combo_ui(
    ui: &mut egui::Ui,
    id_salt: &str,
    types: &[IncidentType],
    code: &mut String,
    lang: Lang,
) {
    let name = |t: &IncidentType| {
        if lang == Lang::Vi {
            t.name_vi.clone()
        } else {
            t.name_en.clone()
        }
    };
    let cur = types
        .iter()
        .find(|t| &t.code == code)
        .map(name)
        .unwrap_or_default();
    egui::ComboBox::from_id_salt(id_salt)
        .selected_text(cur)
        .show_ui(ui, |ui| {
            for t in types.iter().filter(|t| t.active) {
                ui.selectable_value(code, t.code.clone(), name(t));
            }
        });
}
