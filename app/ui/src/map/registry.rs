//! The camera registry on the map: a selected site's form (owner, sharing, consent, aim),
//! saving it through the store thread, adding a planned site.

use super::*;

impl MapUi {
    /// Saves a site on the store thread (audited by `operator`).
    pub fn save_site(&mut self, store: Option<&StoreThread>, operator: Option<&str>, i: usize) {
        let site = self.sites[i].clone();
        self.sites_changed();
        let (Some(store), Some(op)) = (store, operator) else {
            return;
        };
        let op = op.to_owned();
        let name = if site.name.is_empty() {
            site.id.clone()
        } else {
            site.name.clone()
        };
        match store.run(move |db| db.save_site(&op, &site)) {
            Ok(p) => self.pending_saves.push((p, name)),
            Err(e) => self.set_status(e.to_string(), false),
        }
    }

    /// Adds a planned site at `c` (saved at once).
    pub(super) fn add_planned(
        &mut self,
        c: Coord,
        tr: &Tr,
        store: Option<&StoreThread>,
        operator: Option<&str>,
    ) {
        let (lon, lat) = merc_to_lonlat(c);
        let n = (1..)
            .find(|n| {
                !self
                    .sites
                    .iter()
                    .any(|s| s.id == format!("ke-hoach-{n:03}"))
            })
            .unwrap_or(1);
        let ward = self.ward_at(c).unwrap_or_default();
        self.sites.push(CameraSite {
            id: format!("ke-hoach-{n:03}"),
            name: tr.t_args("planned-name", &[("n", n.into())]),
            ward,
            lat_deg: lat,
            lon_deg: lon,
            heading_deg: 0.0,
            fov_deg: 90.0,
            range_m: 30.0,
            planned: true,
            consent: false,
            sharing: Sharing::OnRequest,
            ..Default::default()
        });
        let i = self.sites.len() - 1;
        self.selected = Some(i);
        self.save_site(store, operator, i);
    }

    pub(super) fn registry_ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        live: &LiveCameras<'_>,
        store: Option<&StoreThread>,
        operator: Option<&str>,
    ) {
        let Some(i) = self.selected.filter(|&i| i < self.sites.len()) else {
            return;
        };
        let mut changed = false;
        let mut delete = false;
        {
            let s = &mut self.sites[i];
            ui.heading(if s.name.is_empty() { &s.id } else { &s.name });
            ui.small(&s.id);
            let state = if s.planned {
                SiteState::Planned
            } else {
                match live.handle(&s.id).map(|h| h.health_stream().state()) {
                    Some(StreamState::Live) => SiteState::Live,
                    Some(StreamState::Lost { .. }) => SiteState::Lost,
                    _ => SiteState::Offline,
                }
            };
            ui.colored_label(state.color(), tr.t(state.key()));
            egui::Grid::new("registry").num_columns(2).show(ui, |ui| {
                let text = |ui: &mut egui::Ui, key: &str, v: &mut String| -> bool {
                    let l = ui.label(tr.t(key));
                    let lost = ui
                        .add(egui::TextEdit::singleline(v).desired_width(170.0))
                        .labelled_by(l.id)
                        .lost_focus();
                    ui.end_row();
                    lost
                };
                changed |= text(ui, "reg-name", &mut s.name);
                changed |= text(ui, "reg-ward", &mut s.ward);
                let l = ui.label(tr.t("reg-owner-kind"));
                let options = OwnerKind::ALL.map(|k| (k, tr.t(k.key())));
                changed |= choice_combo(ui, "reg-owner-kind", l.id, &mut s.owner_kind, &options);
                ui.end_row();
                changed |= text(ui, "reg-owner", &mut s.owner);
                changed |= text(ui, "reg-address", &mut s.address);
                changed |= text(ui, "reg-phone", &mut s.phone);
                let l = ui.label(tr.t("reg-consent"));
                changed |= ui.checkbox(&mut s.consent, "").labelled_by(l.id).changed();
                ui.end_row();
                let l = ui.label(tr.t("reg-sharing"));
                let options = Sharing::ALL.map(|k| (k, tr.t(k.key())));
                changed |= choice_combo(ui, "reg-sharing", l.id, &mut s.sharing, &options);
                ui.end_row();
                changed |= text(ui, "reg-installed-on", &mut s.installed_on);
                changed |= text(ui, "reg-installed-by", &mut s.installed_by);
                changed |= aim_fields(ui, tr, s, true);
                ui.label(tr.t("reg-position"));
                ui.label(format!("{:.6}, {:.6}", s.lat_deg, s.lon_deg));
                ui.end_row();
            });
            if let Err(e) = s.validate() {
                ui.colored_label(Color32::from_rgb(240, 90, 90), e);
                changed = false;
            }
            if s.planned && ui.button(tr.t("site-delete")).clicked() {
                delete = true;
            }
        }
        if delete {
            let id = self.sites[i].id.clone();
            self.sites.remove(i);
            self.selected = None;
            self.sites_changed();
            if let (Some(store), Some(op)) = (store, operator) {
                let op = op.to_owned();
                match store.run(move |db| db.delete_planned_site(&op, &id)) {
                    Ok(p) => self.pending_saves.push((p, String::new())),
                    Err(e) => self.set_status(e.to_string(), false),
                }
            }
        } else if changed {
            self.save_site(store, operator, i);
        }
        if store.is_none() || operator.is_none() {
            ui.colored_label(Color32::from_rgb(230, 160, 40), tr.t("site-not-saved"));
        }
    }
}
