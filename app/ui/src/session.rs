//! The officer's session beyond signing in: the idle lock (the screen asks for the PIN again
//! after N minutes without input; the wall's streams and the recorder go on behind it), the
//! shift change (one officer signs out, another in, both in the audit log), and the PIN an
//! officer must choose after a reset. Every store call goes to the store thread; the UI
//! only polls the answer.

use std::time::{Duration, Instant};

use egui::{Color32, RichText};
use mt_store::thread::{Pending, StoreThread};
use mt_store::{Operator, StoreError};

use crate::i18n::Tr;

enum Kind {
    Unlock,
    Shift,
    ChangePin,
}

pub struct Session {
    /// Minutes without input before the screen locks; None: never.
    pub idle_lock: Option<Duration>,
    last_input: Instant,
    /// The screen is locked: only the PIN (or a shift change) opens it.
    pub locked: bool,
    pin: String,
    /// The shift-change window, when open.
    pub shift_open: bool,
    shift_id: String,
    shift_pin: String,
    cur_pin: String,
    new_pin: String,
    new_pin2: String,
    pub error: Option<String>,
    job: Option<(Pending<Operator>, Kind)>,
    settings: Option<Pending<mt_store::Settings>>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            idle_lock: Some(Duration::from_secs(600)),
            last_input: Instant::now(),
            locked: false,
            pin: String::new(),
            shift_open: false,
            shift_id: String::new(),
            shift_pin: String::new(),
            cur_pin: String::new(),
            new_pin: String::new(),
            new_pin2: String::new(),
            error: None,
            job: None,
            settings: None,
        }
    }
}

/// What a store error means to the officer, in their language.
pub fn error_text(tr: &Tr, e: &StoreError) -> String {
    match e {
        StoreError::BadCredentials => tr.t("signin-wrong"),
        StoreError::Locked { seconds } => {
            tr.t_args("signin-locked", &[("seconds", (*seconds).into())])
        }
        StoreError::Disabled => tr.t("signin-disabled"),
        StoreError::Forbidden { .. } => tr.t("not-allowed"),
        other => other.to_string(),
    }
}

impl Session {
    /// Reads the workstation settings after a sign-in (idle lock, time zone).
    pub fn load_settings(&mut self, store: &StoreThread) {
        match store.run(|db| db.settings()) {
            Ok(p) => self.settings = Some(p),
            Err(e) => tracing::warn!("settings: {e}"),
        }
    }

    /// Applies the settings a supervisor just saved.
    pub fn apply_settings(&mut self, s: &mt_store::Settings) {
        self.idle_lock =
            (s.idle_lock_minutes > 0).then(|| Duration::from_secs(60 * s.idle_lock_minutes as u64));
        match mt_core::time::parse_zone(&s.time_zone) {
            Ok(z) => mt_core::time::set_zone(z),
            Err(e) => tracing::warn!("time zone setting: {e}"),
        }
    }

    /// Called every frame while someone is signed in: notes input, locks the screen when
    /// idle for too long. Returns true the frame it locks (the caller audits it).
    pub fn tick(&mut self, ctx: &egui::Context) -> bool {
        let input = ctx.input(|i| {
            i.events.iter().any(|e| {
                matches!(
                    e,
                    egui::Event::Key { .. }
                        | egui::Event::Text(_)
                        | egui::Event::PointerButton { .. }
                        | egui::Event::PointerMoved(_)
                        | egui::Event::MouseWheel { .. }
                )
            })
        });
        if input {
            self.last_input = Instant::now();
        }
        if self.locked {
            return false;
        }
        if let Some(limit) = self.idle_lock {
            let idle = self.last_input.elapsed();
            if idle >= limit {
                self.locked = true;
                self.pin.clear();
                self.error = None;
                return true;
            }
            ctx.request_repaint_after(limit - idle);
        }
        false
    }

    /// Locks the screen now (the lock button).
    pub fn lock_now(&mut self) {
        self.locked = true;
        self.pin.clear();
        self.error = None;
    }

    /// Answers from the store: the unlocked, changed or new officer.
    pub fn poll(&mut self, tr: &Tr, operator: &mut Option<Operator>) {
        if let Some(p) = self.settings.as_ref().and_then(|p| p.try_take()) {
            self.settings = None;
            match p {
                Ok(s) => self.apply_settings(&s),
                Err(e) => tracing::warn!("settings: {e}"),
            }
        }
        let Some(res) = self.job.as_ref().and_then(|(p, _)| p.try_take()) else {
            return;
        };
        let (_, kind) = self.job.take().expect("a job was pending");
        match res {
            Ok(op) => {
                self.error = None;
                self.pin.clear();
                self.shift_pin.clear();
                self.cur_pin.clear();
                self.new_pin.clear();
                self.new_pin2.clear();
                match kind {
                    Kind::Unlock | Kind::Shift => {
                        self.locked = false;
                        self.shift_open = false;
                        self.last_input = Instant::now();
                    }
                    Kind::ChangePin => {}
                }
                *operator = Some(op);
            }
            Err(e) => {
                self.pin.clear();
                self.shift_pin.clear();
                self.error = Some(error_text(tr, &e));
            }
        }
    }

    pub fn busy(&self) -> bool {
        self.job.is_some() || self.settings.is_some()
    }

    fn pin_field(ui: &mut egui::Ui, label: &str, value: &mut String) -> egui::Response {
        let l = ui.label(label);
        let r = ui
            .add(
                egui::TextEdit::singleline(value)
                    .password(true)
                    .desired_width(200.0),
            )
            .labelled_by(l.id);
        ui.end_row();
        r
    }

    /// The lock screen: covers the whole window (nothing of the wall shows), asks for the
    /// signed-in officer's PIN, or lets the next officer take over (shift change).
    pub fn lock_ui(&mut self, ctx: &egui::Context, tr: &Tr, store: &StoreThread, op: &Operator) {
        let screen = ctx.content_rect();
        egui::Area::new(egui::Id::unique("screen-lock"))
            .order(egui::Order::Foreground)
            .fixed_pos(screen.min)
            .show(ctx, |ui| {
                ui.set_min_size(screen.size());
                ui.painter()
                    .rect_filled(screen, 0.0, Color32::from_rgb(18, 22, 30));
                // Swallow clicks meant for the wall underneath.
                ui.interact(
                    screen,
                    egui::Id::unique("screen-lock-bg"),
                    egui::Sense::click_and_drag(),
                );
                ui.vertical_centered(|ui| {
                    ui.add_space(screen.height() * 0.25);
                    ui.heading(tr.t("lock-title"));
                    ui.label(tr.t_args(
                        "lock-who",
                        &[
                            ("name", op.name.clone().into()),
                            ("id", op.id.clone().into()),
                        ],
                    ));
                    ui.add_space(8.0);
                    let mut submit = false;
                    let mut shift = false;
                    ui.horizontal(|ui| {
                        ui.add_space(((ui.available_width() - 320.0) / 2.0).max(0.0));
                        egui::Grid::new("unlock").num_columns(2).show(ui, |ui| {
                            let r = Self::pin_field(ui, &tr.t("signin-pin"), &mut self.pin);
                            if !self.busy()
                                && !r.has_focus()
                                && self.pin.is_empty()
                                && !self.shift_open
                            {
                                r.request_focus();
                            }
                            submit =
                                r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                            ui.label("");
                            ui.horizontal(|ui| {
                                submit |= ui.button(tr.t("lock-unlock")).clicked();
                                shift = ui.button(tr.t("shift-change")).clicked();
                            });
                            ui.end_row();
                        });
                    });
                    if submit && !self.busy() {
                        let (id, pin) = (op.id.clone(), std::mem::take(&mut self.pin));
                        match store.run(move |db| {
                            let op = db.sign_in(&id, &pin)?;
                            db.audit(&id, "screen_unlock", "")?;
                            Ok(op)
                        }) {
                            Ok(p) => self.job = Some((p, Kind::Unlock)),
                            Err(e) => self.error = Some(e.to_string()),
                        }
                    }
                    if shift {
                        self.shift_open = true;
                    }
                    if let Some(e) = &self.error {
                        ui.colored_label(Color32::from_rgb(240, 90, 90), e);
                    }
                    ui.small(tr.t("lock-streams-go-on"));
                });
            });
        if self.shift_open {
            self.shift_ui(ctx, tr, store, op);
        }
    }

    /// The shift change: the next officer's ID and PIN; the one signed in is signed out
    /// only when the next one's sign-in succeeds.
    pub fn shift_ui(&mut self, ctx: &egui::Context, tr: &Tr, store: &StoreThread, op: &Operator) {
        let mut open = true;
        egui::Window::new(tr.t("shift-change"))
            .collapsible(false)
            .resizable(false)
            .order(egui::Order::Tooltip)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 120.0])
            .open(&mut open)
            .show(ctx, |ui| {
                ui.label(tr.t_args("shift-from", &[("name", op.name.clone().into())]));
                let mut submit = false;
                egui::Grid::new("shift").num_columns(2).show(ui, |ui| {
                    let l = ui.label(tr.t("shift-next-id"));
                    ui.add(egui::TextEdit::singleline(&mut self.shift_id).desired_width(200.0))
                        .labelled_by(l.id);
                    ui.end_row();
                    let r = Self::pin_field(ui, &tr.t("signin-pin"), &mut self.shift_pin);
                    submit = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    ui.label("");
                    submit |= ui.button(tr.t("shift-take-over")).clicked();
                    ui.end_row();
                });
                if submit && !self.busy() {
                    let (from, to, pin) = (
                        op.id.clone(),
                        self.shift_id.trim().to_owned(),
                        std::mem::take(&mut self.shift_pin),
                    );
                    match store.run(move |db| db.shift_change(&from, &to, &pin)) {
                        Ok(p) => self.job = Some((p, Kind::Shift)),
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
                if let Some(e) = &self.error {
                    ui.colored_label(Color32::from_rgb(240, 90, 90), e);
                }
            });
        if !open {
            self.shift_open = false;
            self.error = None;
        }
    }

    /// After a PIN reset (or a PIN below today's policy): the officer chooses a new PIN
    /// before anything else is shown.
    pub fn change_pin_ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        store: &StoreThread,
        op: &Operator,
    ) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.2);
            ui.heading(tr.t("pin-change-title"));
            ui.label(
                RichText::new(tr.t_args("pin-change-why", &[("name", op.name.clone().into())]))
                    .strong(),
            );
            ui.small(tr.t("pin-policy"));
            ui.add_space(8.0);
            let mut submit = false;
            ui.horizontal(|ui| {
                ui.add_space(((ui.available_width() - 340.0) / 2.0).max(0.0));
                egui::Grid::new("pin-change").num_columns(2).show(ui, |ui| {
                    Self::pin_field(ui, &tr.t("pin-current"), &mut self.cur_pin);
                    Self::pin_field(ui, &tr.t("pin-new"), &mut self.new_pin);
                    let r = Self::pin_field(ui, &tr.t("pin-repeat"), &mut self.new_pin2);
                    submit = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    ui.label("");
                    submit |= ui.button(tr.t("pin-change-button")).clicked();
                    ui.end_row();
                });
            });
            if submit && !self.busy() {
                if self.new_pin != self.new_pin2 {
                    self.error = Some(tr.t("pin-mismatch"));
                } else if mt_store::pin_problem(&self.new_pin).is_some() {
                    self.error = Some(tr.t("pin-policy"));
                } else {
                    let (id, cur, new) =
                        (op.id.clone(), self.cur_pin.clone(), self.new_pin.clone());
                    match store.run(move |db| db.change_pin(&id, &cur, &new)) {
                        Ok(p) => self.job = Some((p, Kind::ChangePin)),
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
            }
            if let Some(e) = &self.error {
                ui.colored_label(Color32::from_rgb(240, 90, 90), e);
            }
        });
    }
}

/// How often the workstation signs a checkpoint of the audit chain and the recordings'
/// index (also after every evidence export).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(15 * 60);

/// Signs a checkpoint on a thread of its own ("checkpoint", with its own read-only
/// connection to the log and the index): hashing new segments and fsyncing never hold up
/// the store thread, which only appends the checkpoint's audit row.
pub fn checkpoint(store: &StoreThread, rec_dir: Option<std::path::PathBuf>) {
    let (store, path) = (store.clone(), store.path().to_owned());
    let spawned = std::thread::Builder::new()
        .name("checkpoint".into())
        .spawn(move || {
            mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
            let res = (|| -> Result<(), String> {
                let key = mt_record::keys::load_or_create(&mt_record::keys::key_path(&path))
                    .map_err(|e| e.to_string())?;
                let log = mt_record::checkpoint::open_log(&path).map_err(|e| e.to_string())?;
                let index = rec_dir.map(|d| d.join("index.db"));
                let file = mt_record::checkpoint::path_for(&path);
                if let Some(c) =
                    mt_record::checkpoint::sign_and_append(&log, index.as_deref(), &key, &file)
                        .map_err(|e| e.to_string())?
                {
                    let subject = c.audit_subject();
                    store
                        .run(move |db| db.audit("system", "audit_checkpoint", &subject))
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            })();
            if let Err(e) = res {
                tracing::warn!("checkpoint: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("checkpoint thread: {e}");
    }
}
