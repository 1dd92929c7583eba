//! The supervisors' officers tab: who may use the workstation, in which role; add, disable
//! and re-enable, reset a PIN, change a role; and the workstation settings (idle lock, time
//! zone). The store checks the supervisor's right again and audits every change.

use egui::{Color32, RichText};
use mt_store::thread::{Pending, StoreThread};
use mt_store::{By, Operator, Role, Setting, Settings, ROLES};

use crate::i18n::Tr;

pub fn role_name(tr: &Tr, r: Role) -> String {
    tr.t(match r {
        Role::Viewer => "role-viewer",
        Role::Operator => "role-operator",
        Role::Investigator => "role-investigator",
        Role::Supervisor => "role-supervisor",
    })
}

#[derive(Default)]
pub struct OfficersUi {
    list: Vec<Operator>,
    settings: Option<Settings>,
    loading: Option<Pending<(Vec<Operator>, Settings)>>,
    change: Option<Pending<()>>,
    pub message: Option<(bool, String)>,
    new_id: String,
    new_name: String,
    new_unit: String,
    new_role: Option<Role>,
    new_pin: String,
    /// The officer whose PIN is being reset, and the temporary PIN typed for them.
    reset_for: Option<(String, String)>,
    idle_minutes: String,
    zone: String,
    loaded: bool,
    /// Settings being saved, and once the store said yes: applied to the session by the
    /// caller.
    pending_settings: Option<Settings>,
    pub saved_settings: Option<Settings>,
}

impl OfficersUi {
    pub fn busy(&self) -> bool {
        self.loading.is_some() || self.change.is_some()
    }

    pub fn refresh(&mut self, store: &StoreThread) {
        match store.run(|db| Ok((db.operators()?, db.settings()?))) {
            Ok(p) => self.loading = Some(p),
            Err(e) => self.message = Some((false, e.to_string())),
        }
    }

    fn poll(&mut self, tr: &Tr, store: &StoreThread) {
        if let Some(r) = self.loading.as_ref().and_then(|p| p.try_take()) {
            self.loading = None;
            match r {
                Ok((list, s)) => {
                    self.list = list;
                    self.idle_minutes = s.idle_lock_minutes.to_string();
                    self.zone = s.time_zone.clone();
                    self.settings = Some(s);
                }
                Err(e) => self.message = Some((false, crate::session::error_text(tr, &e))),
            }
        }
        if let Some(r) = self.change.as_ref().and_then(|p| p.try_take()) {
            self.change = None;
            match r {
                Ok(()) => {
                    if let Some(s) = self.pending_settings.take() {
                        self.saved_settings = Some(s);
                    }
                    self.message = Some((true, tr.t("officers-saved")));
                    self.refresh(store);
                }
                Err(e) => {
                    self.pending_settings = None;
                    self.message = Some((false, crate::session::error_text(tr, &e)))
                }
            }
        }
    }

    fn submit(
        &mut self,
        store: &StoreThread,
        job: impl FnOnce(&mut mt_store::Db) -> mt_store::Result<()> + Send + 'static,
    ) {
        match store.run(job) {
            Ok(p) => self.change = Some(p),
            Err(e) => self.message = Some((false, e.to_string())),
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, tr: &Tr, store: &StoreThread, me: &Operator) {
        if !self.loaded {
            self.loaded = true;
            self.refresh(store);
        }
        self.poll(tr, store);
        if let Some((ok, m)) = &self.message {
            let c = if *ok {
                Color32::from_rgb(90, 200, 120)
            } else {
                Color32::from_rgb(240, 90, 90)
            };
            ui.colored_label(c, m);
        }
        egui::ScrollArea::both().id_salt("officers").show(ui, |ui| {
            egui::Grid::new("officer-list")
                .num_columns(4)
                .striped(true)
                .show(ui, |ui| {
                    for h in [
                        "officer-id",
                        "officer-name",
                        "officer-role",
                        "officer-state",
                    ] {
                        ui.label(RichText::new(tr.t(h)).strong());
                    }
                    ui.end_row();
                    for o in self.list.clone() {
                        ui.label(&o.id);
                        // Names on one line: a narrow panel scrolls sideways rather than
                        // breaking "Nguyễn Văn Năm" into a word a line.
                        ui.vertical(|ui| {
                            ui.add(egui::Label::new(&o.name).extend());
                            if !o.unit.is_empty() {
                                ui.add(egui::Label::new(RichText::new(&o.unit).small()).extend());
                            }
                        });
                        let mut role = o.role;
                        egui::ComboBox::from_id_salt(("role", &o.id))
                            .selected_text(role_name(tr, role))
                            .show_ui(ui, |ui| {
                                for r in ROLES {
                                    ui.selectable_value(&mut role, r, role_name(tr, r));
                                }
                            });
                        if role != o.role {
                            let (by, id, name, unit) =
                                (me.id.clone(), o.id.clone(), o.name.clone(), o.unit.clone());
                            self.submit(store, move |db| {
                                db.update_officer(By::Officer(&by), &id, &name, &unit, role)
                            });
                        }
                        ui.horizontal(|ui| {
                            ui.label(if o.disabled {
                                tr.t("officer-disabled")
                            } else if o.must_change_pin {
                                tr.t("officer-must-change")
                            } else {
                                tr.t("officer-active")
                            });
                            let (label, disable) = if o.disabled {
                                (tr.t("officer-enable"), false)
                            } else {
                                (tr.t("officer-disable"), true)
                            };
                            if o.id != me.id && ui.small_button(label).clicked() {
                                let (by, id) = (me.id.clone(), o.id.clone());
                                self.submit(store, move |db| {
                                    db.set_disabled(By::Officer(&by), &id, disable)
                                });
                            }
                            if ui.small_button(tr.t("officer-reset-pin")).clicked() {
                                self.reset_for = Some((o.id.clone(), String::new()));
                            }
                        });
                        ui.end_row();
                    }
                });
            if let Some((id, pin)) = self.reset_for.as_mut() {
                ui.separator();
                ui.label(tr.t_args("officer-reset-for", &[("id", id.clone().into())]));
                let mut go = false;
                let mut cancel = false;
                ui.horizontal(|ui| {
                    let l = ui.label(tr.t("officer-temp-pin"));
                    ui.add(
                        egui::TextEdit::singleline(pin)
                            .password(true)
                            .desired_width(120.0),
                    )
                    .labelled_by(l.id);
                    go = ui.button(tr.t("officer-reset-pin")).clicked();
                    cancel = ui.button(tr.t("cancel")).clicked();
                });
                if go {
                    if mt_store::pin_problem(pin).is_some() {
                        self.message = Some((false, tr.t("pin-policy")));
                    } else {
                        let (by, id, pin) = (me.id.clone(), id.clone(), std::mem::take(pin));
                        self.reset_for = None;
                        self.submit(store, move |db| db.reset_pin(By::Officer(&by), &id, &pin));
                    }
                } else if cancel {
                    self.reset_for = None;
                }
            }
            ui.separator();
            ui.strong(tr.t("officer-add"));
            egui::Grid::new("officer-add")
                .num_columns(2)
                .show(ui, |ui| {
                    for (key, value, secret) in [
                        ("officer-id", &mut self.new_id, false),
                        ("officer-name", &mut self.new_name, false),
                        ("officer-unit", &mut self.new_unit, false),
                        ("officer-first-pin", &mut self.new_pin, true),
                    ] {
                        let l = ui.label(tr.t(key));
                        ui.add(
                            egui::TextEdit::singleline(value)
                                .password(secret)
                                .desired_width(200.0),
                        )
                        .labelled_by(l.id);
                        ui.end_row();
                    }
                    ui.label(tr.t("officer-role"));
                    let role = self.new_role.get_or_insert(Role::Operator);
                    egui::ComboBox::from_id_salt("new-role")
                        .selected_text(role_name(tr, *role))
                        .show_ui(ui, |ui| {
                            for r in ROLES {
                                ui.selectable_value(role, r, role_name(tr, r));
                            }
                        });
                    ui.end_row();
                });
            if ui.button(tr.t("officer-add-button")).clicked() {
                if mt_store::pin_problem(&self.new_pin).is_some() {
                    self.message = Some((false, tr.t("pin-policy")));
                } else {
                    let by = me.id.clone();
                    let (id, name, unit, pin) = (
                        std::mem::take(&mut self.new_id),
                        std::mem::take(&mut self.new_name),
                        std::mem::take(&mut self.new_unit),
                        std::mem::take(&mut self.new_pin),
                    );
                    let role = self.new_role.unwrap_or(Role::Operator);
                    self.submit(store, move |db| {
                        // The first PIN is the supervisor's choice: the officer changes
                        // it at their first sign-in.
                        db.add_officer(Some(By::Officer(&by)), &id, &name, &unit, role, &pin, true)
                            .map(|_| ())
                    });
                }
            }
            ui.separator();
            ui.strong(tr.t("settings-title"));
            egui::Grid::new("settings").num_columns(2).show(ui, |ui| {
                let l = ui.label(tr.t("settings-idle-lock"));
                ui.add(egui::TextEdit::singleline(&mut self.idle_minutes).desired_width(60.0))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label(tr.t("settings-zone"));
                ui.add(egui::TextEdit::singleline(&mut self.zone).desired_width(200.0))
                    .labelled_by(l.id);
                ui.end_row();
            });
            if ui.button(tr.t("settings-save")).clicked() {
                match (
                    self.idle_minutes.trim().parse::<u32>(),
                    mt_core::time::parse_zone(&self.zone),
                ) {
                    (Ok(m), Ok(_)) => {
                        let (by, zone) = (me.id.clone(), self.zone.trim().to_owned());
                        self.pending_settings = Some(Settings {
                            idle_lock_minutes: m,
                            time_zone: zone.clone(),
                        });
                        self.submit(store, move |db| {
                            db.set_setting(By::Officer(&by), &Setting::IdleLockMinutes(m))?;
                            db.set_setting(By::Officer(&by), &Setting::TimeZone(zone))
                        });
                    }
                    (Err(_), _) => self.message = Some((false, tr.t("settings-bad-minutes"))),
                    (_, Err(_)) => self.message = Some((false, tr.t("settings-bad-zone"))),
                }
            }
        });
    }
}
