//! The health panel: every stream's state, rates, losses and latency.

use super::*;

impl MatThanApp {
    pub(super) fn health_ui(&self, ui: &mut egui::Ui) {
        let tr = &self.tr;
        ui.strong(tr.t("health-title"));
        egui::ScrollArea::both().show(ui, |ui| {
            egui::Grid::new("health-grid")
                .striped(true)
                .num_columns(11)
                .show(ui, |ui| {
                    for h in [
                        "col-camera",
                        "col-ward",
                        "col-state",
                        "col-reason",
                        "col-fps",
                        "col-kbps",
                        "col-age",
                        "col-reconnects",
                        "col-dropped",
                        "col-lost-packets",
                        "col-recording",
                    ] {
                        ui.strong(tr.t(h));
                    }
                    ui.end_row();
                    for cam in &self.cameras {
                        let s = cam.health_stream();
                        let st = s.state();
                        let stats = s.stats();
                        ui.label(&cam.config.name);
                        ui.label(&cam.config.ward);
                        ui.colored_label(state_color(&st), tr.t(st.key()));
                        match &st {
                            StreamState::Lost { reason, detail } => {
                                ui.label(tr.t(reason.key())).on_hover_text(detail)
                            }
                            StreamState::Undecodable { reason, detail } => ui.label(
                                tr.t_args(reason.key(), &[("detail", detail.clone().into())]),
                            ),
                            _ => ui.label(""),
                        };
                        ui.label(format!("{:.1}", stats.fps));
                        ui.label(format!("{:.0}", stats.kbps));
                        ui.label(match stats.last_frame_at {
                            Some(t) => tr.t_args(
                                "age-seconds",
                                &[(
                                    "s",
                                    FluentValue::from(format!("{:.1}", t.elapsed().as_secs_f32())),
                                )],
                            ),
                            None => tr.t("age-never"),
                        });
                        ui.label(stats.reconnects.to_string());
                        ui.label(stats.frames_dropped.to_string());
                        let main = cam.main.stats();
                        ui.label(
                            (stats.packets_lost
                                + if cam.sub.is_some() {
                                    main.packets_lost
                                } else {
                                    0
                                })
                            .to_string(),
                        )
                        .on_hover_text(
                            tr.t_args("hover-loss", &[("damaged", stats.frames_damaged.into())]),
                        );
                        match (&self.rec_status, self.rec_problem(&cam.config.id.0)) {
                            (None, _) => ui.label(""),
                            (Some(_), Some((reason, detail))) => ui
                                .colored_label(
                                    Color32::from_rgb(240, 80, 80),
                                    tr.t_args("rec-not-recording", &[("reason", reason.into())]),
                                )
                                .on_hover_text(detail),
                            (Some(st), None) => {
                                let on = st
                                    .cameras
                                    .get(&cam.config.id.0)
                                    .is_some_and(|c| c.recording);
                                ui.label(tr.t(if on { "rec-on" } else { "rec-waiting" }))
                            }
                        };
                        ui.end_row();
                    }
                });
        });
    }
}

pub(super) fn state_color(s: &StreamState) -> Color32 {
    match s {
        StreamState::Live => Color32::from_rgb(60, 200, 90),
        StreamState::Connecting => Color32::from_rgb(230, 190, 60),
        StreamState::Lost { .. } => Color32::from_rgb(230, 60, 60),
        StreamState::Idle => Color32::GRAY,
        StreamState::Undecodable { .. } => Color32::from_rgb(230, 130, 40),
    }
}
