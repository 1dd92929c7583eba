//! Exporting an incident as a signed evidence archive, from the incident window: progress,
//! cancel, and the archive verified again before the officer is told it is done.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use egui::Color32;
use mt_record::Index;
use mt_store::thread::{Pending, StoreThread};
use parking_lot::Mutex;

use crate::i18n::Tr;

/// Where recordings are and how exports are signed.
#[derive(Clone)]
pub struct EvidenceCtx {
    pub rec_dir: PathBuf,
    pub index: Arc<Mutex<Index>>,
    pub key: Arc<ed25519_dalek::SigningKey>,
    pub export_dir: PathBuf,
    pub workstation: String,
}

/// How an export ended: the archive and the number of files verified, or what went wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum ExportOutcome {
    Verified { path: PathBuf, files: usize },
    Failed(String),
    Cancelled,
}

struct Running {
    incident: i64,
    /// To write the export's audit row (who, when, which incident, the archive's SHA-256).
    store: StoreThread,
    operator: String,
    progress: Arc<AtomicU32>,
    cancel: Arc<AtomicBool>,
    request: Option<Pending<mt_record::export::ExportRequest>>,
    done: Option<Receiver<ExportOutcome>>,
}

pub struct EvidenceUi {
    pub ctx: EvidenceCtx,
    running: Option<Running>,
    pub last: Option<(i64, ExportOutcome)>,
}

impl EvidenceUi {
    pub fn new(ctx: EvidenceCtx) -> Self {
        EvidenceUi {
            ctx,
            running: None,
            last: None,
        }
    }

    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// Progress 0–1 of the running export.
    pub fn progress(&self) -> Option<f32> {
        self.running
            .as_ref()
            .map(|r| r.progress.load(Ordering::Relaxed) as f32 / 1000.0)
    }

    /// Starts exporting `incident`: the request is built on the store thread, the archive on
    /// a worker thread ("export").
    pub fn start(&mut self, store: &StoreThread, incident: i64, operator: &str) {
        if self.running.is_some() {
            return;
        }
        let op = operator.to_owned();
        let ws = self.ctx.workstation.clone();
        match store.run(move |db| {
            // Refused before any work, whatever the UI showed.
            db.require(&op, mt_store::Right::Export)?;
            crate::incident_export::request(db, incident, &op, &ws)
        }) {
            Ok(p) => {
                self.last = None;
                self.running = Some(Running {
                    incident,
                    store: store.clone(),
                    operator: operator.to_owned(),
                    progress: Default::default(),
                    cancel: Default::default(),
                    request: Some(p),
                    done: None,
                })
            }
            Err(e) => self.last = Some((incident, ExportOutcome::Failed(e.to_string()))),
        }
    }

    pub fn cancel(&self) {
        if let Some(r) = &self.running {
            r.cancel.store(true, Ordering::Relaxed);
        }
    }

    pub fn poll(&mut self, egui_ctx: &egui::Context) {
        let Some(r) = self.running.as_mut() else {
            return;
        };
        if let Some(p) = &r.request {
            if let Some(res) = p.try_take() {
                r.request = None;
                match res {
                    Err(e) => {
                        let inc = r.incident;
                        self.running = None;
                        self.last = Some((inc, ExportOutcome::Failed(e.to_string())));
                        return;
                    }
                    Ok(req) => {
                        let (tx, rx) = sync_channel(1);
                        r.done = Some(rx);
                        let c = self.ctx.clone();
                        let progress = r.progress.clone();
                        let cancel = r.cancel.clone();
                        let repaint = egui_ctx.clone();
                        let (store, operator, incident) =
                            (r.store.clone(), r.operator.clone(), r.incident);
                        let dest = c.export_dir.join(format!(
                            "chung-cu-vu-viec-{}-{}.zip",
                            r.incident,
                            mt_core::time::format(mt_core::time::now_ms(), "%Y%m%d-%H%M%S-%3f")
                        ));
                        let spawned =
                            std::thread::Builder::new()
                                .name("export".into())
                                .spawn(move || {
                                    mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
                                    let _ = std::fs::create_dir_all(&c.export_dir);
                                    let out = match mt_record::export::export(
                                        &c.index,
                                        &c.rec_dir,
                                        &req,
                                        &c.key,
                                        &dest,
                                        &|p| {
                                            progress.store((p * 1000.0) as u32, Ordering::Relaxed);
                                            repaint.request_repaint();
                                        },
                                        &cancel,
                                    ) {
                                        Ok(exported) => {
                                            // Read back and check before saying it is done:
                                            // signed by this workstation's own key, intact.
                                            let trust = mt_record::keys::TrustStore::in_memory(
                                                Some(c.key.verifying_key()),
                                                &[],
                                            );
                                            let rep =
                                                mt_record::verify::verify(&dest, &trust, &|_| {});
                                            // Every export is accountable: the audit row
                                            // (officer, incident, archive SHA-256) is written
                                            // before the officer is told it is done; an
                                            // archive the log cannot account for is removed.
                                            let name = dest
                                                .file_name()
                                                .map(|f| f.to_string_lossy().into_owned())
                                                .unwrap_or_default();
                                            let sha = exported.archive_sha256.clone();
                                            let verified = rep.status()
                                                == mt_record::verify::Status::Verified;
                                            let audited = if verified {
                                                store
                                                    .run(move |db| {
                                                        db.audit_evidence_export(
                                                            &operator,
                                                            Some(incident),
                                                            &name,
                                                            &sha,
                                                        )
                                                    })
                                                    .and_then(|p| p.wait())
                                            } else {
                                                Ok(())
                                            };
                                            if audited.is_ok() {
                                                // Every export is a checkpoint too.
                                                crate::session::checkpoint(&store, Some(c.rec_dir.clone()));
                                            }
                                            if let Err(e) = audited {
                                                let _ = std::fs::remove_file(&dest);
                                                ExportOutcome::Failed(format!(
                                                    "the export could not be entered in the log ({e}); the archive was removed"
                                                ))
                                            } else if verified {
                                                ExportOutcome::Verified {
                                                    files: rep
                                                        .manifest
                                                        .map_or(0, |m| m.files.len()),
                                                    path: dest,
                                                }
                                            } else {
                                                // Not what was written: not evidence. The
                                                // footage itself stays in the recordings.
                                                let _ = std::fs::remove_file(&dest);
                                                ExportOutcome::Failed(format!(
                                                    "{} (the archive was removed)",
                                                    rep.problems.join("; ")
                                                ))
                                            }
                                        }
                                        Err(mt_record::RecError::Cancelled) => {
                                            ExportOutcome::Cancelled
                                        }
                                        Err(e) => ExportOutcome::Failed(e.to_string()),
                                    };
                                    let _ = tx.send(out);
                                    repaint.request_repaint();
                                });
                        if let Err(e) = spawned {
                            let inc = r.incident;
                            self.running = None;
                            self.last = Some((inc, ExportOutcome::Failed(e.to_string())));
                            return;
                        }
                    }
                }
            }
        }
        if let Some(rx) = &r.done {
            if let Ok(out) = rx.try_recv() {
                let inc = r.incident;
                self.running = None;
                self.last = Some((inc, out));
            }
        }
    }

    /// The export section of incident `incident`'s window.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        store: &StoreThread,
        incident: i64,
        operator: &str,
    ) {
        self.poll(ui.ctx());
        ui.horizontal(
            |ui| match self.running.as_ref().filter(|r| r.incident == incident) {
                Some(r) => {
                    let p = r.progress.load(Ordering::Relaxed) as f32 / 1000.0;
                    ui.add(
                        egui::ProgressBar::new(p)
                            .desired_width(200.0)
                            .text(tr.t_args(
                                "export-progress",
                                &[("pct", format!("{:.0}", p * 100.0).into())],
                            )),
                    );
                    if ui.button(tr.t("export-cancel")).clicked() {
                        self.cancel();
                    }
                    ui.ctx()
                        .request_repaint_after(std::time::Duration::from_millis(100));
                }
                None => {
                    if ui
                        .add_enabled(
                            self.running.is_none(),
                            egui::Button::new(tr.t("export-evidence")),
                        )
                        .on_hover_text(tr.t("export-evidence-hint"))
                        .clicked()
                    {
                        self.start(store, incident, operator);
                    }
                }
            },
        );
        if let Some((inc, out)) = &self.last {
            if *inc == incident {
                match out {
                    ExportOutcome::Verified { path, files } => ui.colored_label(
                        Color32::from_rgb(120, 220, 140),
                        tr.t_args(
                            "export-verified",
                            &[
                                ("file", path.display().to_string().into()),
                                ("count", (*files).into()),
                            ],
                        ),
                    ),
                    ExportOutcome::Failed(e) => ui.colored_label(
                        Color32::from_rgb(250, 120, 120),
                        tr.t_args("export-failed", &[("error", e.clone().into())]),
                    ),
                    ExportOutcome::Cancelled => ui.label(tr.t("export-cancelled")),
                };
            }
        }
    }
}
