//! Saved views (a named layout with the camera on each tile) and camera tours (one tile
//! cycling through chosen cameras every N seconds), as control rooms use them: "Ca đêm —
//! cổng trường", a tour of the market's six cameras on the big tile. Both are part of the
//! persisted [`crate::WallState`]; this module is the window that manages them. It returns
//! [`Command`]s; the app applies them. Either wall can be the one a view is opened on or a
//! tour runs on: the main window's or the second screen's.

use serde::{Deserialize, Serialize};

use crate::app::Command;
use crate::i18n::Tr;
use crate::layout::WallLayout;

/// A named layout and what each tile shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SavedView {
    pub name: String,
    pub layout: WallLayout,
    pub tiles: Vec<Option<String>>,
}

/// Which monitor's wall: the main window's or the second screen's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Screen {
    #[default]
    Main,
    Second,
}

/// One tile showing each of `cameras` in turn, `every_secs` seconds each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Tour {
    pub tile: usize,
    pub cameras: Vec<String>,
    pub every_secs: u32,
    /// The wall the tile is on.
    pub screen: Screen,
}

/// Shortest dwell time of a tour: a camera needs a moment to be recognised.
pub const MIN_TOUR_SECS: u32 = 2;

/// The window's own state (what is being typed and ticked).
#[derive(Default)]
pub struct ViewsWindow {
    name: String,
    /// Camera ids ticked for a new tour.
    picked: Vec<String>,
    every: String,
    problem: Option<String>,
    /// The wall a view is opened on and a tour runs on.
    screen: Screen,
}

impl ViewsWindow {
    pub fn new() -> Self {
        ViewsWindow {
            every: "10".into(),
            ..Default::default()
        }
    }

    /// Draws the window; `false` once closed. `cameras` are (id, name) in list order;
    /// `second`: the second screen's selected tile, when it is open.
    #[allow(clippy::too_many_arguments)]
    pub fn ui(
        &mut self,
        ctx: &egui::Context,
        tr: &Tr,
        views: &[SavedView],
        tour: Option<&Tour>,
        selected_tile: usize,
        second: Option<usize>,
        cameras: &[(String, String)],
        cmds: &mut Vec<Command>,
    ) -> bool {
        let mut open = true;
        if second.is_none() {
            self.screen = Screen::Main;
        }
        let tile = match self.screen {
            Screen::Main => selected_tile,
            Screen::Second => second.unwrap_or(0),
        };
        egui::Window::new(tr.t("views-title"))
            .open(&mut open)
            .collapsible(false)
            .default_width(460.0)
            .default_pos([240.0, 64.0])
            .show(ctx, |ui| {
                if second.is_some() {
                    ui.horizontal(|ui| {
                        ui.label(tr.t("views-on"));
                        ui.selectable_value(&mut self.screen, Screen::Main, tr.t("views-on-main"));
                        ui.selectable_value(
                            &mut self.screen,
                            Screen::Second,
                            tr.t("views-on-second"),
                        );
                    });
                }
                ui.strong(tr.t("views-saved"));
                if views.is_empty() {
                    ui.weak(tr.t("views-none"));
                }
                for (i, v) in views.iter().enumerate() {
                    ui.horizontal(|ui| {
                        if ui
                            .button(tr.t_args("views-apply", &[("name", v.name.clone().into())]))
                            .on_hover_text(v.layout.label())
                            .clicked()
                        {
                            cmds.push(Command::ApplyView(i, self.screen));
                        }
                        if ui
                            .small_button(
                                tr.t_args("views-delete", &[("name", v.name.clone().into())]),
                            )
                            .clicked()
                        {
                            cmds.push(Command::DeleteView(i));
                        }
                    });
                }
                ui.horizontal(|ui| {
                    let l = ui.label(tr.t("views-name"));
                    ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(200.0))
                        .labelled_by(l.id);
                    if ui
                        .add_enabled(
                            !self.name.trim().is_empty(),
                            egui::Button::new(tr.t("views-save")),
                        )
                        .clicked()
                    {
                        cmds.push(Command::SaveView(self.name.trim().to_owned()));
                        self.name.clear();
                    }
                });
                ui.separator();
                ui.strong(tr.t("tour-title"));
                match tour {
                    Some(t) => {
                        ui.label(tr.t_args(
                            match t.screen {
                                Screen::Main => "tour-running",
                                Screen::Second => "tour-running-second",
                            },
                            &[
                                ("tile", t.tile.saturating_add(1).into()),
                                ("count", t.cameras.len().into()),
                                ("secs", t.every_secs.into()),
                            ],
                        ));
                        if ui.button(tr.t("tour-stop")).clicked() {
                            cmds.push(Command::StopTour);
                        }
                    }
                    None => {
                        ui.weak(tr.t_args(
                            match self.screen {
                                Screen::Main => "tour-explain",
                                Screen::Second => "tour-explain-second",
                            },
                            &[("tile", (tile + 1).into())],
                        ));
                        egui::ScrollArea::vertical()
                            .id_salt("tour-cameras")
                            .max_height(200.0)
                            .show(ui, |ui| {
                                for (id, name) in cameras {
                                    let mut on = self.picked.contains(id);
                                    if ui.checkbox(&mut on, name).changed() {
                                        if on {
                                            self.picked.push(id.clone());
                                        } else {
                                            self.picked.retain(|p| p != id);
                                        }
                                    }
                                }
                            });
                        ui.horizontal(|ui| {
                            let l = ui.label(tr.t("tour-every"));
                            ui.add(egui::TextEdit::singleline(&mut self.every).desired_width(50.0))
                                .labelled_by(l.id);
                            // Only cameras that still exist count.
                            self.picked
                                .retain(|p| cameras.iter().any(|(id, _)| id == p));
                            if ui
                                .add_enabled(
                                    self.picked.len() >= 2,
                                    egui::Button::new(tr.t("tour-start")),
                                )
                                .clicked()
                            {
                                match self.every.trim().parse::<u32>() {
                                    Ok(s) if s >= MIN_TOUR_SECS => {
                                        self.problem = None;
                                        // In list order, whatever order they were ticked in.
                                        let cams = cameras
                                            .iter()
                                            .filter(|(id, _)| self.picked.contains(id))
                                            .map(|(id, _)| id.clone())
                                            .collect();
                                        cmds.push(Command::StartTour(Tour {
                                            tile,
                                            cameras: cams,
                                            every_secs: s,
                                            screen: self.screen,
                                        }));
                                    }
                                    _ => {
                                        self.problem = Some(tr.t_args(
                                            "tour-bad-secs",
                                            &[("min", MIN_TOUR_SECS.into())],
                                        ))
                                    }
                                }
                            }
                        });
                        if let Some(p) = &self.problem {
                            ui.colored_label(egui::Color32::from_rgb(240, 90, 90), p);
                        }
                    }
                }
            });
        open
    }
}
