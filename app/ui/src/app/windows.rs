//! The windows over the wall: opening an archive, session (lock, shift), the camera window,
//! the PTZ panel.

use super::*;

impl MatThanApp {
    /// The open dialog: the path, then (while the archive is opened off the UI thread) its
    /// name, a progress bar and cancel.
    pub(super) fn open_archive_ui(&mut self, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        let Some((path, err)) = self.open_archive.as_mut() else {
            return;
        };
        let tr = &self.tr;
        let mut open = true;
        let loading = self.loading.as_ref();
        egui::Window::new(tr.t("archive-open"))
            .open(&mut open)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                if let Some(l) = loading {
                    let name = l
                        .archive
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| l.archive.display().to_string());
                    ui.label(tr.t_args("archive-opening", &[("file", name.into())]));
                    let p = l.progress();
                    ui.add(
                        egui::ProgressBar::new(p)
                            .desired_width(420.0)
                            .text(tr.t_args(
                                "archive-opening-progress",
                                &[("pct", format!("{:.0}", p * 100.0).into())],
                            )),
                    );
                    if ui.button(tr.t("archive-opening-cancel")).clicked() {
                        cmds.push(Command::CancelOpenArchive);
                    }
                    return;
                }
                let l = ui.label(tr.t("archive-path"));
                let r = ui
                    .add(egui::TextEdit::singleline(path).desired_width(420.0))
                    .labelled_by(l.id);
                let enter = r.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                if ui.button(tr.t("archive-open-button")).clicked() || enter {
                    cmds.push(Command::OpenArchive(path.clone()));
                }
                if let Some(e) = err {
                    ui.colored_label(Color32::from_rgb(240, 90, 90), e.as_str());
                }
            });
        if !open {
            self.open_archive = None;
            if self.loading.is_some() {
                cmds.push(Command::CancelOpenArchive);
            }
        }
    }

    /// The lock screen (when `locked`) or the shift-change window (when asked for).
    pub(super) fn session_windows_ui(&mut self, ctx: &egui::Context, locked: bool) {
        let tr = &self.tr;
        let Some(log) = self.log.as_mut() else {
            return;
        };
        if !locked && !log.session.shift_open {
            return;
        }
        let Some(op) = log.operator.clone() else {
            return;
        };
        let store = log.store().clone();
        if locked {
            log.session.lock_ui(ctx, tr, &store, &op);
        } else {
            log.session.shift_ui(ctx, tr, &store, &op);
        }
    }

    /// Applies what the camera window's store jobs finished (a save, a removal, an import).
    pub(super) fn poll_camera_jobs(&mut self, ctx: &egui::Context) {
        let Some(w) = self.admin.as_mut().and_then(|a| a.window.as_mut()) else {
            return;
        };
        let done = w.poll(&self.tr);
        if w.busy() {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
        for d in done {
            match d {
                crate::cameras::Done::Camera(c) => {
                    let (change, changed) = *c;
                    self.camera_changed(ctx, change, changed)
                }
                crate::cameras::Done::Sites(sites) => {
                    if let Some(map) = self.map.as_mut() {
                        map.sites = sites;
                        map.sites_changed();
                    }
                }
            }
        }
    }

    /// The camera window, for an officer who may manage cameras (closed for anyone else,
    /// once the store jobs it started have answered: those take effect whatever happens).
    pub(super) fn cameras_window_ui(&mut self, ctx: &egui::Context) {
        let allowed = self.log.is_some() && self.may(mt_store::Right::ManageCameras);
        let map = self.map.as_ref().map(|m| m.streets_by_name.clone());
        let Some(admin) = self.admin.as_mut() else {
            return;
        };
        let Some(w) = admin.window.as_mut() else {
            return;
        };
        let op = self
            .log
            .as_ref()
            .and_then(|l| l.operator.as_ref())
            .map(|o| o.id.clone())
            .unwrap_or_default();
        let open = !allowed
            || w.ui(
                ctx,
                &self.tr,
                &admin.capture,
                self.onvif.as_ref(),
                &admin.file,
                admin.known_text.as_deref(),
                &self.cameras,
                self.log.as_ref().map(|l| l.store()),
                &op,
                map.as_ref(),
            );
        if (!open || !allowed) && !w.busy() {
            admin.window = None;
        }
    }

    /// The camera whose PTZ panel is shown: the maximised live tile's, when it turns, the
    /// officer may turn it and the ONVIF thread runs.
    pub(super) fn ptz_camera(&self) -> Option<usize> {
        let ci = self.tile_camera(self.maximised?)?;
        (self.cameras[ci].config.ptz
            && self.cameras[ci].config.onvif.is_some()
            && self.playback.is_none()
            && self.replay.is_none()
            && self.onvif.is_some()
            && self.may(mt_store::Right::Ptz))
        .then_some(ci)
    }

    /// Draws the PTZ panel over the wall `rect` (None: the wall is not shown), opening it
    /// for a newly maximised PTZ camera and closing it (a held move stopped) otherwise.
    pub(super) fn ptz_ui(&mut self, ctx: &egui::Context, rect: Option<Rect>) {
        let ci = rect.and(self.ptz_camera());
        let mut panel = self.ptz.take();
        if let Some(p) = panel.as_mut() {
            if ci.is_none_or(|i| self.cameras[i].config.id.0 != p.camera) {
                if let Some(&old) = self.by_id.get(&p.camera) {
                    p.release(ctx, &self.cameras[old]);
                }
                panel = None;
            }
        }
        let (Some(ci), Some(rect), Some(service)) = (ci, rect, self.onvif.as_ref()) else {
            return;
        };
        let cam = &self.cameras[ci];
        let p = panel.get_or_insert_with(|| crate::ptz::PtzPanel::new(cam, service.clone()));
        let given = p.ui(ctx, &self.tr, cam, rect);
        if p.poll() {
            if let Some(pos) = p.view.as_ref().and_then(|v| v.position) {
                self.ptz_pan.insert(cam.config.id.0.clone(), pos.pan);
            }
        }
        // What the camera was told besides turning is on the officer's record.
        let id = cam.config.id.0.clone();
        let rows: Vec<(&'static str, String)> = given
            .iter()
            .filter_map(|c| match c {
                mt_onvif::PtzCommand::Home => Some(("ptz-home", format!("camera={id}"))),
                mt_onvif::PtzCommand::GotoPreset(t) => Some((
                    "ptz-goto-preset",
                    format!("camera={id} preset={:?}", p.preset_name(t).unwrap_or(t)),
                )),
                mt_onvif::PtzCommand::SavePreset(name) => {
                    Some(("ptz-save-preset", format!("camera={id} preset={name:?}")))
                }
                _ => None,
            })
            .collect();
        self.ptz = panel;
        for (action, subject) in rows {
            self.audit(mt_store::Right::Ptz, action, subject);
        }
    }
}
