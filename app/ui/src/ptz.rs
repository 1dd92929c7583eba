//! The PTZ panel of a maximised PTZ camera: hold an arrow to turn it, hold + / − to zoom,
//! home, presets (go to, save under a name). Each command goes to the ONVIF thread
//! ([`mt_onvif::OnvifService`]), which answers with what the camera then says of itself: its
//! presets and its position. The panel shows that answer, not what it asked for; the map
//! turns the camera's field of view by the position it reported.
//!
//! A held arrow is a ContinuousMove when pressed, sent again every second while held (the
//! panel's "still held": an ONVIF camera stops by its own PTZ timeout when that ends, so a
//! workstation that hangs does not leave it turning), and a Stop when let go — also when
//! the pointer leaves the button, the window loses focus, the tile is restored or the panel
//! goes away while held. A Stop is never refused by the ONVIF thread's queue.

use std::time::{Duration, Instant};

use egui::{Color32, Pos2, Rect, Sense, Stroke};
use mt_capture::CameraHandle;
use mt_onvif::{OnvifService, Pending, PtzCommand, PtzView, Wake};

use crate::i18n::Tr;

/// Turning speed of a held arrow (ONVIF's generic velocity, −1…1).
const SPEED: f32 = 0.5;
/// How often an open panel asks where the camera points.
const REFRESH: Duration = Duration::from_secs(2);
/// How often a held move is sent again.
const RENEW: Duration = Duration::from_secs(1);

pub struct PtzPanel {
    pub camera: String,
    service: OnvifService,
    /// Answers in flight, oldest first.
    pending: Vec<Pending<PtzView>>,
    /// When the held move was last sent.
    held_sent: Option<Instant>,
    pub view: Option<PtzView>,
    pub error: Option<mt_onvif::Error>,
    /// The velocity being held (pan, tilt, zoom), if any.
    held: Option<(i8, i8, i8)>,
    /// The preset picked in the list (its token).
    chosen: Option<String>,
    /// A name for "save preset".
    pub name: String,
    asked: Option<Instant>,
}

impl PtzPanel {
    pub fn new(camera: &CameraHandle, service: OnvifService) -> Self {
        PtzPanel {
            camera: camera.config.id.0.clone(),
            service,
            pending: Vec::new(),
            held_sent: None,
            view: None,
            error: None,
            held: None,
            chosen: None,
            name: String::new(),
            asked: None,
        }
    }

    fn send(&mut self, ctx: &egui::Context, cam: &CameraHandle, cmd: PtzCommand) {
        let Some(url) = cam.config.onvif.as_ref() else {
            return;
        };
        let c = ctx.clone();
        let wake: Wake = std::sync::Arc::new(move || c.request_repaint());
        self.pending.push(self.service.ptz(
            &cam.config.id,
            url,
            cam.config.credentials.clone(),
            cmd,
            wake,
        ));
        self.asked = Some(Instant::now());
    }

    /// Takes the answers that are there; true when the camera reported a new position.
    pub fn poll(&mut self) -> bool {
        let mut moved = false;
        while let Some(r) = self.pending.first().and_then(|p| p.try_take()) {
            self.pending.remove(0);
            match r {
                Ok(v) => {
                    moved |= v.position.is_some()
                        && v.position != self.view.as_ref().and_then(|o| o.position);
                    if let Some(t) = &v.saved {
                        self.chosen = Some(t.clone());
                    }
                    self.view = Some(v);
                    self.error = None;
                }
                // A move or stop replaced by a newer one: nothing went wrong.
                Err(e) if e.kind == mt_onvif::Kind::Superseded => {}
                Err(e) => self.error = Some(e),
            }
        }
        moved
    }

    /// Stops a held move (the panel is going away, or the tile was restored).
    pub fn release(&mut self, ctx: &egui::Context, cam: &CameraHandle) {
        if self.held.take().is_some() {
            self.send(ctx, cam, PtzCommand::Stop);
        }
    }

    /// Draws the panel at the bottom right of the tile `rect`; the commands the officer gave
    /// besides turning (home, go to or save a preset), for the audit.
    pub fn ui(
        &mut self,
        ctx: &egui::Context,
        tr: &Tr,
        cam: &CameraHandle,
        rect: Rect,
    ) -> Vec<PtzCommand> {
        let due = self.asked.is_none_or(|t| t.elapsed() >= REFRESH);
        if due && self.pending.is_empty() && self.held.is_none() {
            self.send(ctx, cam, PtzCommand::Refresh);
        }
        ctx.request_repaint_after(REFRESH);
        let mut want: Option<(i8, i8, i8)> = None;
        let mut cmds = Vec::new();
        egui::Area::new(egui::Id::unique("ptz-panel"))
            .order(egui::Order::Foreground)
            .fixed_pos(Pos2::new(rect.max.x - 236.0, rect.max.y - 300.0).max(rect.min))
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style())
                    .fill(Color32::from_black_alpha(200))
                    .show(ui, |ui| {
                        ui.set_width(210.0);
                        ui.strong(
                            tr.t_args("ptz-title", &[("camera", cam.config.name.clone().into())]),
                        );
                        egui::Grid::new(("ptz-pad", &self.camera))
                            .spacing([4.0, 4.0])
                            .show(ui, |ui| {
                                let mut pad =
                                    |ui: &mut egui::Ui, key: &str, v: (i8, i8, i8), dir: Glyph| {
                                        if arrow(ui, &tr.t(key), dir) {
                                            want = Some(v);
                                        }
                                    };
                                ui.label("");
                                pad(ui, "ptz-up", (0, 1, 0), Glyph::Arrow(90.0));
                                ui.label("");
                                ui.end_row();
                                pad(ui, "ptz-left", (-1, 0, 0), Glyph::Arrow(180.0));
                                if ui
                                    .add_sized(
                                        [36.0, 36.0],
                                        egui::Button::new(tr.t("ptz-home-short")),
                                    )
                                    .on_hover_text(tr.t("ptz-home"))
                                    .clicked()
                                {
                                    cmds.push(PtzCommand::Home);
                                }
                                pad(ui, "ptz-right", (1, 0, 0), Glyph::Arrow(0.0));
                                ui.end_row();
                                ui.label("");
                                pad(ui, "ptz-down", (0, -1, 0), Glyph::Arrow(270.0));
                                ui.label("");
                                ui.end_row();
                                pad(ui, "ptz-zoom-out", (0, 0, -1), Glyph::Minus);
                                ui.label(tr.t("ptz-zoom"));
                                pad(ui, "ptz-zoom-in", (0, 0, 1), Glyph::Plus);
                                ui.end_row();
                            });
                        ui.separator();
                        let presets = self
                            .view
                            .as_ref()
                            .map(|v| v.presets.clone())
                            .unwrap_or_default();
                        let chosen_name = self
                            .chosen
                            .as_ref()
                            .and_then(|t| presets.iter().find(|p| &p.token == t))
                            .map(|p| p.name.clone())
                            .unwrap_or_else(|| tr.t("ptz-preset-pick"));
                        egui::ComboBox::new(("ptz-presets", &self.camera), tr.t("ptz-presets"))
                            .selected_text(chosen_name)
                            .width(110.0)
                            .show_ui(ui, |ui| {
                                for p in &presets {
                                    let label = if p.name.is_empty() { &p.token } else { &p.name };
                                    ui.selectable_value(
                                        &mut self.chosen,
                                        Some(p.token.clone()),
                                        label,
                                    );
                                }
                            });
                        ui.horizontal(|ui| {
                            if ui
                                .add_enabled(
                                    self.chosen.is_some(),
                                    egui::Button::new(tr.t("ptz-goto")),
                                )
                                .clicked()
                            {
                                if let Some(t) = &self.chosen {
                                    cmds.push(PtzCommand::GotoPreset(t.clone()));
                                }
                            }
                        });
                        ui.horizontal(|ui| {
                            let l = ui.label(tr.t("ptz-name"));
                            ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(80.0))
                                .labelled_by(l.id);
                            if ui
                                .add_enabled(
                                    !self.name.trim().is_empty(),
                                    egui::Button::new(tr.t("ptz-save")),
                                )
                                .clicked()
                            {
                                cmds.push(PtzCommand::SavePreset(self.name.trim().to_owned()));
                                self.name.clear();
                            }
                        });
                        match (&self.error, self.view.as_ref().and_then(|v| v.position)) {
                            (Some(e), _) => {
                                crate::cameras::failure_label(
                                    ui,
                                    tr,
                                    "ptz-failed",
                                    e.kind.key(),
                                    &e.detail,
                                );
                            }
                            (None, Some(p)) => {
                                ui.weak(tr.t_args(
                                    "ptz-position",
                                    &[
                                        ("pan", format!("{:+.2}", p.pan).into()),
                                        ("tilt", format!("{:+.2}", p.tilt).into()),
                                        ("zoom", format!("{:.2}", p.zoom).into()),
                                    ],
                                ));
                            }
                            (None, None) if self.view.is_some() => {
                                ui.weak(tr.t("ptz-position-unknown"));
                            }
                            _ => {
                                ui.horizontal(|ui| {
                                    ui.spinner();
                                    ui.weak(tr.t("ptz-asking"));
                                });
                            }
                        }
                    });
            });
        // A window that lost focus may never see the button's release: not held then.
        if !ctx.input(|i| i.focused) {
            want = None;
        }
        let renew = want.is_some()
            && want == self.held
            && self.held_sent.is_some_and(|t| t.elapsed() >= RENEW);
        if want != self.held || renew {
            self.held_sent = want.map(|_| Instant::now());
            match want {
                Some((p, t, z)) => self.send(
                    ctx,
                    cam,
                    PtzCommand::Move {
                        pan: p as f32 * SPEED,
                        tilt: t as f32 * SPEED,
                        zoom: z as f32 * SPEED,
                    },
                ),
                None => self.send(ctx, cam, PtzCommand::Stop),
            }
            self.held = want;
        }
        // While held, a frame when the move is due again (an answer's repaint does not
        // keep a later one).
        if let Some(t) = self.held_sent.filter(|_| self.held.is_some()) {
            ctx.request_repaint_after(RENEW.saturating_sub(t.elapsed()));
        }
        for c in &cmds {
            self.send(ctx, cam, c.clone());
        }
        cmds
    }

    /// The name of the preset with this token, as the camera last listed it.
    pub fn preset_name(&self, token: &str) -> Option<&str> {
        self.view
            .as_ref()?
            .presets
            .iter()
            .find(|p| p.token == token)
            .map(|p| p.name.as_str())
    }
}

/// What a held button shows: drawn, not a font glyph (the bundled font has no arrows).
#[derive(Clone, Copy)]
enum Glyph {
    /// An arrow pointing this many degrees counter-clockwise from the right.
    Arrow(f32),
    Plus,
    Minus,
}

/// A square button held down to turn or zoom; true while the primary button is down on it.
fn arrow(ui: &mut egui::Ui, label: &str, glyph: Glyph) -> bool {
    let (rect, resp) = ui.allocate_exact_size(egui::vec2(36.0, 36.0), Sense::click_and_drag());
    let label_owned = label.to_owned();
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label_owned));
    let held = resp.is_pointer_button_down_on() && resp.contains_pointer();
    let v = ui.visuals();
    let fill = if held {
        v.widgets.active.bg_fill
    } else if resp.hovered() {
        v.widgets.hovered.bg_fill
    } else {
        v.widgets.inactive.bg_fill
    };
    let p = ui.painter();
    p.rect_filled(rect, 4.0, fill);
    let c = rect.center();
    let ink = Color32::from_gray(230);
    match glyph {
        Glyph::Arrow(deg) => {
            let a = deg.to_radians();
            let (d, n) = (egui::vec2(a.cos(), -a.sin()), egui::vec2(a.sin(), a.cos()));
            let tip = c + d * 10.0;
            let back = c - d * 6.0;
            p.add(egui::Shape::convex_polygon(
                vec![tip, back + n * 9.0, back - n * 9.0],
                ink,
                Stroke::NONE,
            ));
        }
        Glyph::Plus | Glyph::Minus => {
            p.line_segment(
                [c - egui::vec2(9.0, 0.0), c + egui::vec2(9.0, 0.0)],
                Stroke::new(3.0, ink),
            );
            if matches!(glyph, Glyph::Plus) {
                p.line_segment(
                    [c - egui::vec2(0.0, 9.0), c + egui::vec2(0.0, 9.0)],
                    Stroke::new(3.0, ink),
                );
            }
        }
    }
    resp.on_hover_text(label);
    held
}
