//! "Truy vết": from a point on the map (or an incident) and a time, the cameras whose field of
//! view covers the point, then those that see the streets within N m of it, nearest first
//! ([`mt_map::streets::trace`]); one button opens them together in synced playback at that
//! time, with a motion search near the point running in all of them.

use egui::Color32;
use geo::Coord;
use mt_core::CameraSite;
use mt_map::streets::{StreetGraph, Traced};

use crate::i18n::Tr;

pub struct TracePanel {
    pub at: Coord,
    /// The incident traced from, if any.
    pub incident: Option<i64>,
    pub time_text: String,
    pub street_m: f64,
    pub found: Vec<Traced>,
    pub error: Option<String>,
    computed_for: Option<(f64, usize)>,
}

/// What the trace asks of the workstation: these cameras (with where the point is in each
/// picture), in playback at `time_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceOpen {
    pub cameras: Vec<(String, Option<f32>)>,
    pub time_ms: i64,
}

impl TracePanel {
    pub fn new(at: Coord, time_ms: i64, incident: Option<i64>) -> Self {
        TracePanel {
            at,
            incident,
            time_text: crate::log::format_time(time_ms),
            street_m: 50.0,
            found: Vec::new(),
            error: None,
            computed_for: None,
        }
    }

    /// Recomputes the list when the distance or the cameras changed (a few µs per camera).
    fn refresh(&mut self, sites: &[CameraSite], graph: Option<&StreetGraph>) {
        let key = (self.street_m, sites.len());
        if self.computed_for != Some(key) {
            self.found = mt_map::streets::trace(sites, graph, self.at, self.street_m);
            self.computed_for = Some(key);
        }
    }

    /// The window. Returns what to open, when the officer asks; false in `.1` closes it.
    pub fn ui(
        &mut self,
        ctx: &egui::Context,
        tr: &Tr,
        sites: &[CameraSite],
        graph: Option<&StreetGraph>,
    ) -> (Option<TraceOpen>, bool) {
        self.refresh(sites, graph);
        let mut open = true;
        let mut out = None;
        egui::Window::new(tr.t("trace-title"))
            .id(egui::Id::unique("trace-window"))
            .open(&mut open)
            .default_width(340.0)
            .show(ctx, |ui| {
                let (lon, lat) = mt_map::merc_to_lonlat(self.at);
                ui.label(match self.incident {
                    Some(id) => tr.t_args("trace-from-incident", &[("id", id.into())]),
                    None => tr.t_args(
                        "trace-from-point",
                        &[
                            ("lat", format!("{lat:.5}").into()),
                            ("lon", format!("{lon:.5}").into()),
                        ],
                    ),
                });
                ui.horizontal(|ui| {
                    ui.label(tr.t("trace-time"));
                    ui.add(egui::TextEdit::singleline(&mut self.time_text).desired_width(130.0));
                });
                ui.add(
                    egui::Slider::new(&mut self.street_m, 0.0..=300.0)
                        .step_by(10.0)
                        .suffix(" m")
                        .text(tr.t("trace-streets")),
                );
                if graph.is_none() {
                    ui.small(tr.t("trace-no-streets"));
                }
                ui.separator();
                if self.found.is_empty() {
                    ui.label(tr.t("trace-none"));
                }
                for t in &self.found {
                    let s = &sites[t.site];
                    let how = if t.sees_point {
                        tr.t_args(
                            "trace-sees-point",
                            &[("m", format!("{:.0}", t.distance_m).into())],
                        )
                    } else {
                        tr.t_args(
                            "trace-sees-street",
                            &[("m", format!("{:.0}", t.distance_m).into())],
                        )
                    };
                    ui.horizontal(|ui| {
                        ui.strong(&s.name);
                        ui.label(egui::RichText::new(how).small().color(if t.sees_point {
                            Color32::from_rgb(120, 220, 140)
                        } else {
                            Color32::from_gray(180)
                        }));
                    });
                }
                if let Some(e) = &self.error {
                    ui.colored_label(Color32::from_rgb(240, 120, 120), e);
                }
                ui.separator();
                if ui
                    .add_enabled(
                        !self.found.is_empty(),
                        egui::Button::new(tr.t("trace-open")),
                    )
                    .clicked()
                {
                    match crate::log::parse_input_time(&self.time_text) {
                        Some(t) => {
                            self.error = None;
                            out = Some(TraceOpen {
                                cameras: self
                                    .found
                                    .iter()
                                    .take(16)
                                    .map(|t| (sites[t.site].id.clone(), t.picture_x))
                                    .collect(),
                                time_ms: t,
                            });
                        }
                        None => self.error = Some(tr.t("motion-period-error")),
                    }
                }
            });
        (out, open)
    }
}

/// The region to search in a traced camera's picture: a band around where the point lies
/// (left to right), over the lower three quarters (the ground); the whole lower picture when
/// unknown.
pub fn region_near(picture_x: Option<f32>) -> mt_record::motion::Region {
    let (x, w) = match picture_x {
        Some(px) => (((px - 0.2).clamp(0.0, 0.6)), 0.4),
        None => (0.0, 1.0),
    };
    match mt_record::motion::Region::rect(x, 0.25, w, 0.75) {
        Ok(r) => r,
        // Not reached (the band is clamped inside the picture); the whole picture otherwise.
        Err(_) => {
            mt_record::motion::Region::rect(0.0, 0.0, 1.0, 1.0).unwrap_or_else(|_| unreachable!())
        }
    }
}
