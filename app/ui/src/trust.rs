//! Which workstations' evidence archives this one trusts: the trust store (its own key and
//! `trusted_keys.toml` beside the log), and the supervisors' window to manage it — the list
//! of trusted keys, this workstation's own public key to send to other stations, adding a
//! pasted key under a name, removing one after confirming. The small file is read once when
//! the window opens; each change runs on the store thread: the store checks the officer's
//! right first, then the file is written atomically and the audit row appended, and the
//! window takes the changed list back.

use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use egui::Color32;
use mt_record::keys::{fingerprint, parse_public_key, TrustStore, TRUST_FILE};

use crate::i18n::Tr;
use crate::log::LogUi;

/// The trust file and signing key beside the log, from the log's export folder (also beside
/// the log).
fn beside_log(log: &LogUi) -> (PathBuf, PathBuf) {
    let e = log.export_dir();
    (e.with_file_name(TRUST_FILE), mt_record::keys::key_path(e))
}

/// This workstation's public key: the evidence signing key if exports are set up, else the
/// key file beside the log if there is one (never created here).
fn own_key(log: &LogUi, key_file: &Path) -> Result<Option<VerifyingKey>, String> {
    if let Some(ev) = &log.evidence {
        return Ok(Some(ev.ctx.key.verifying_key()));
    }
    mt_record::keys::load(key_file)
        .map(|k| k.map(|k| k.verifying_key()))
        .map_err(|e| e.to_string())
}

/// The workstation's trust store, for opening archives. Without a log, nothing is trusted
/// (every signature shows as untrusted).
pub fn workstation_trust(log: Option<&LogUi>) -> Result<TrustStore, String> {
    let Some(log) = log else {
        return Ok(TrustStore::in_memory(None, &[]));
    };
    let (file, key) = beside_log(log);
    let own = own_key(log, &key)?;
    TrustStore::load(&file, own).map_err(|e| e.to_string())
}

/// The supervisors' trust window.
pub struct TrustWindow {
    store: Option<TrustStore>,
    own_hex: String,
    load_error: Option<String>,
    add_hex: String,
    add_name: String,
    /// The outcome of the last add or remove: (ok, message).
    message: Option<(bool, String)>,
    /// Fingerprint of the key waiting for "remove" to be confirmed.
    confirm_remove: Option<String>,
    /// Every change of trust is an audit row in the log (who, which key, its name).
    log_store: mt_store::thread::StoreThread,
    /// The change on its way: the list as it will be, and what to tell the officer.
    pending: Option<mt_store::thread::Pending<(TrustStore, Change)>>,
}

/// A change the officer asked for, started once the window is drawn.
enum Todo {
    Add([u8; 32], String),
    Remove(String),
}

/// A change of trust that went through.
enum Change {
    Added { name: String, fp: String },
    Removed { name: String, fp: String },
}

impl TrustWindow {
    /// Reads the store once.
    pub fn open(log: &LogUi) -> Self {
        let (file, key) = beside_log(log);
        let (store, load_error, own_hex) = match own_key(log, &key) {
            Err(e) => (None, Some(e), String::new()),
            Ok(own) => {
                let own_hex = own
                    .map(|k| k.as_bytes().iter().map(|b| format!("{b:02x}")).collect())
                    .unwrap_or_default();
                match TrustStore::load(&file, own) {
                    Ok(s) => (Some(s), None, own_hex),
                    Err(e) => (None, Some(e.to_string()), own_hex),
                }
            }
        };
        TrustWindow {
            store,
            own_hex,
            load_error,
            add_hex: String::new(),
            add_name: String::new(),
            message: None,
            confirm_remove: None,
            log_store: log.store().clone(),
            pending: None,
        }
    }

    /// Runs a change on the store thread: the right checked, the audit row appended, then
    /// the file written; if the file cannot be written (it is replaced atomically, so it
    /// still holds the old list) a second row says so and the window keeps the old list.
    fn start(&mut self, todo: Todo, operator: &str, tr: &Tr) {
        let Some(mut s) = self.store.clone() else {
            return;
        };
        let op = operator.to_owned();
        self.confirm_remove = None;
        self.submit(tr, move |db| {
            db.require(&op, mt_store::Right::TrustKeys)?;
            let (action, fp, name) = match &todo {
                Todo::Add(k, name) => ("trust_key", fingerprint(k), name.clone()),
                Todo::Remove(fp) => {
                    let name = s
                        .keys()
                        .iter()
                        .find(|k| &k.fingerprint() == fp)
                        .map(|k| k.name.clone())
                        .unwrap_or_default();
                    ("untrust_key", fp.clone(), name)
                }
            };
            let subject = format!("key={fp};name={}", name.replace(';', ","));
            db.audit(&op, action, &subject)?;
            let written = match &todo {
                Todo::Add(k, name) => s.trust(*k, name, &op),
                Todo::Remove(fp) => s.remove(fp).map(|_| ()),
            };
            if let Err(e) = written {
                db.audit(&op, &format!("{action}_not_written"), &subject)?;
                return Err(mt_store::StoreError::Invalid(e.to_string()));
            }
            Ok((
                s,
                match todo {
                    Todo::Add(..) => Change::Added { name, fp },
                    Todo::Remove(_) => Change::Removed { name, fp },
                },
            ))
        });
    }

    fn submit(
        &mut self,
        tr: &Tr,
        job: impl FnOnce(&mut mt_store::Db) -> mt_store::Result<(TrustStore, Change)> + Send + 'static,
    ) {
        match self.log_store.run(job) {
            Ok(p) => self.pending = Some(p),
            // Nothing was changed: the officer tries again.
            Err(_) => self.message = Some((false, tr.t("trust-busy"))),
        }
    }

    /// Whether a change is on its way to the store thread.
    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// The store as the window has it (`None` when the file could not be read).
    pub fn store(&self) -> Option<&TrustStore> {
        self.store.as_ref()
    }

    /// Draws the window; `false` once the officer closed it.
    pub fn ui(&mut self, ctx: &egui::Context, tr: &Tr, operator: &str) -> bool {
        let mut open = true;
        egui::Window::new(tr.t("trust-title"))
            .open(&mut open)
            .collapsible(false)
            .default_width(560.0)
            .show(ctx, |ui| self.body(ui, tr, operator));
        open
    }

    fn body(&mut self, ui: &mut egui::Ui, tr: &Tr, operator: &str) {
        let red = Color32::from_rgb(240, 90, 90);
        ui.label(tr.t("trust-explain"));
        ui.separator();
        ui.strong(tr.t("trust-own-key"));
        if self.own_hex.is_empty() {
            ui.weak(tr.t("trust-own-none"));
        } else {
            let mut hex_text = self.own_hex.clone();
            let l = ui.label(tr.t("trust-own-hint"));
            ui.add(
                egui::TextEdit::singleline(&mut hex_text)
                    .font(egui::TextStyle::Monospace)
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(l.id);
            ui.horizontal(|ui| {
                if let Ok(b) = parse_public_key(&self.own_hex) {
                    ui.monospace(
                        tr.t_args("trust-fingerprint", &[("key", fingerprint(&b).into())]),
                    );
                }
                if ui.button(tr.t("trust-copy")).clicked() {
                    ui.ctx().copy_text(self.own_hex.clone());
                }
            });
        }
        ui.separator();
        if let Some(e) = &self.load_error {
            ui.colored_label(
                red,
                tr.t_args("trust-load-error", &[("error", e.clone().into())]),
            );
            return;
        }
        if let Some(res) = self.pending.as_ref().and_then(|p| p.try_take()) {
            self.pending = None;
            self.message = Some(match res {
                Ok((s, change)) => {
                    self.store = Some(s);
                    match change {
                        Change::Added { name, fp } => {
                            self.add_hex.clear();
                            self.add_name.clear();
                            (
                                true,
                                tr.t_args(
                                    "trust-added-ok",
                                    &[("name", name.into()), ("key", fp.into())],
                                ),
                            )
                        }
                        Change::Removed { name, fp } => (
                            true,
                            tr.t_args(
                                "trust-removed",
                                &[("name", name.into()), ("key", fp.into())],
                            ),
                        ),
                    }
                }
                Err(e @ mt_store::StoreError::Forbidden { .. }) => {
                    (false, crate::session::error_text(tr, &e))
                }
                Err(e) => (
                    false,
                    tr.t_args("trust-save-error", &[("error", e.to_string().into())]),
                ),
            });
        }
        if self.pending.is_some() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(30));
        }
        let Some(store) = self.store.as_ref() else {
            return;
        };
        ui.strong(tr.t_args("trust-list", &[("count", store.keys().len().into())]));
        if store.keys().is_empty() {
            ui.weak(tr.t("trust-list-empty"));
        }
        let mut remove = None;
        egui::Grid::new("trust-keys")
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for k in store.keys() {
                    let fp = k.fingerprint();
                    ui.label(&k.name);
                    ui.monospace(&fp);
                    ui.small(
                        tr.t_args(
                            "trust-added",
                            &[
                                (
                                    "by",
                                    if k.added_by.is_empty() {
                                        "-".to_owned()
                                    } else {
                                        k.added_by.clone()
                                    }
                                    .into(),
                                ),
                                ("time", crate::log::format_time(k.added_ms).into()),
                            ],
                        ),
                    );
                    if ui
                        .add_enabled(
                            self.confirm_remove.is_none(),
                            egui::Button::new(tr.t("trust-remove")),
                        )
                        .clicked()
                    {
                        self.confirm_remove = Some(fp.clone());
                    }
                    ui.end_row();
                }
            });
        // Removing asks first, naming the key.
        if let Some(fp) = self.confirm_remove.clone() {
            match store.keys().iter().find(|k| k.fingerprint() == fp) {
                None => self.confirm_remove = None,
                Some(k) => {
                    ui.colored_label(
                        red,
                        tr.t_args(
                            "trust-remove-ask",
                            &[("name", k.name.clone().into()), ("key", fp.clone().into())],
                        ),
                    );
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(
                                self.pending.is_none(),
                                egui::Button::new(
                                    egui::RichText::new(tr.t("trust-remove-confirm")).color(red),
                                ),
                            )
                            .clicked()
                        {
                            remove = Some(fp.clone());
                        }
                        if ui.button(tr.t("trust-remove-cancel")).clicked() {
                            self.confirm_remove = None;
                        }
                    });
                }
            }
        }
        let mut todo = remove.map(Todo::Remove);
        ui.separator();
        ui.strong(tr.t("trust-add"));
        egui::Grid::new("trust-add").num_columns(2).show(ui, |ui| {
            let l = ui.label(tr.t("trust-add-key"));
            ui.add(
                egui::TextEdit::singleline(&mut self.add_hex)
                    .font(egui::TextStyle::Monospace)
                    .desired_width(420.0),
            )
            .labelled_by(l.id);
            ui.end_row();
            let l = ui.label(tr.t("trust-add-name"));
            ui.add(
                egui::TextEdit::singleline(&mut self.add_name)
                    .hint_text(tr.t("trust-add-name-hint"))
                    .desired_width(420.0),
            )
            .labelled_by(l.id);
            ui.end_row();
        });
        let busy = self.pending.is_some();
        if ui
            .add_enabled(!busy, egui::Button::new(tr.t("trust-add-button")))
            .clicked()
        {
            match parse_public_key(&self.add_hex) {
                Err(e) => {
                    self.message = Some((false, tr.t_args("trust-bad-key", &[("error", e.into())])))
                }
                Ok(_) if self.add_name.trim().is_empty() => {
                    self.message = Some((false, tr.t("trust-need-name")))
                }
                Ok(k) if store.own() == Some(k) => {
                    self.message = Some((false, tr.t("trust-is-own")))
                }
                Ok(k) if store.keys().iter().any(|t| t.public_key == k) => {
                    self.message = Some((false, tr.t("trust-already")))
                }
                Ok(k) => todo = Some(Todo::Add(k, self.add_name.trim().to_owned())),
            }
        }
        if let Some((ok, m)) = &self.message {
            let c = if *ok {
                Color32::from_rgb(120, 220, 140)
            } else {
                red
            };
            ui.colored_label(c, m.as_str());
        }
        if let Some(p) = store.path() {
            ui.small(p.display().to_string());
        }
        if let Some(t) = todo {
            self.start(t, operator, tr);
            ui.ctx().request_repaint();
        }
    }
}
