//! The camera list: search (diacritics ignored), filters, drag onto a tile.

use super::*;

impl MatThanApp {
    pub(super) fn camera_list_ui(&mut self, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        ui.heading(self.tr.t("cameras"));
        ui.horizontal(|ui| {
            let l = ui.label(self.tr.t("search-camera-label"));
            ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text(self.tr.t("search-hint"))
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(l.id);
        });
        if self.list_keys.len() != self.cameras.len() {
            self.list_keys = self.cameras.iter().map(list_key).collect();
        }
        // The query folded once; each camera's words were folded when it was added.
        let words: Vec<String> = text::fold(self.search.trim())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        // The map's registry filter (owner, sharing, consent) applies to the list too: the
        // registry by id, once per frame (not a search of it per camera).
        let registry: Option<(HashMap<&str, &mt_core::CameraSite>, &crate::map::SiteFilter)> =
            self.map.as_ref().map(|m| {
                (
                    m.sites.iter().map(|s| (s.id.as_str(), s)).collect(),
                    &m.filter,
                )
            });
        let mut by_ward: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut hidden = 0usize;
        for (i, c) in self.cameras.iter().enumerate() {
            let cfg = &c.config;
            let registry_ok = registry
                .as_ref()
                .is_none_or(|(by, f)| by.get(cfg.id.0.as_str()).is_none_or(|site| f.accepts(site)));
            if !registry_ok {
                hidden += 1;
                continue;
            }
            if words.iter().all(|w| self.list_keys[i].contains(w.as_str())) {
                let ward = if cfg.ward.is_empty() {
                    self.tr.t("no-ward")
                } else {
                    cfg.ward.clone()
                };
                by_ward.entry(ward).or_default().push(i);
            }
        }
        let tr = &self.tr;
        ui.small(tr.t_args(
            "camera-count",
            &[(
                "count",
                by_ward.values().map(Vec::len).sum::<usize>().into(),
            )],
        ));
        if hidden > 0 {
            ui.small(tr.t_args("camera-filtered", &[("count", hidden.into())]));
        }
        if self.cameras.is_empty() {
            // A fresh workstation: say where cameras come from.
            ui.add(egui::Label::new(egui::RichText::new(tr.t("camera-none")).weak()).wrap());
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (ward, idxs) in &by_ward {
                egui::CollapsingHeader::new(format!("{ward} ({})", idxs.len()))
                    .default_open(true)
                    .show(ui, |ui| {
                        for &i in idxs {
                            let cam = &self.cameras[i];
                            let st = cam.health_stream().state();
                            // One widget that is both clickable (assign to the selected tile) and
                            // draggable (drop on any tile).
                            let resp = ui
                                .horizontal(|ui| {
                                    let (dot, _) = ui.allocate_exact_size(
                                        egui::vec2(10.0, 10.0),
                                        Sense::hover(),
                                    );
                                    ui.painter()
                                        .circle_filled(dot.center(), 4.0, state_color(&st));
                                    ui.selectable_label(false, &cam.config.name)
                                        .interact(Sense::click_and_drag())
                                })
                                .inner;
                            if resp.drag_started() {
                                resp.dnd_set_drag_payload(i);
                            }
                            if resp.dragged() {
                                ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
                            }
                            if resp.clicked() {
                                cmds.push(Command::Assign {
                                    tile: self.selected,
                                    camera: i,
                                });
                            }
                            if self.state.second.as_ref().is_some_and(|w| w.open) {
                                resp.context_menu(|ui| {
                                    if ui.button(self.tr.t("second-send")).clicked() {
                                        cmds.push(Command::SendToSecond(cam.config.id.0.clone()));
                                        ui.close();
                                    }
                                });
                            }
                            resp.on_hover_text(format!(
                                "{}\n{}\n{}",
                                cam.config.id,
                                cam.config.address,
                                cam.config.display_url()
                            ));
                        }
                    });
            }
        });
    }
}

/// The words the camera list's search finds a camera by, folded: name, ward (and its former
/// names, before July 2025), address, owner, id.
pub(super) fn list_key(c: &CameraHandle) -> String {
    let cfg = &c.config;
    text::fold(&format!(
        "{} {} {} {} {} {}",
        cfg.name,
        cfg.ward,
        cfg.address,
        cfg.owner,
        cfg.id,
        mt_core::wards::former_names(&cfg.ward).join(" ")
    ))
}
