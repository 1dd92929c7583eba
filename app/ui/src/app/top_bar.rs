//! The top bar (layouts, views, windows, language, officer) and the keyboard.

use super::*;

impl MatThanApp {
    pub(super) fn keyboard(&self, ui: &egui::Ui, cmds: &mut Vec<Command>) {
        if ui.ctx().egui_wants_keyboard_input()
            || self
                .log
                .as_ref()
                .is_some_and(|l| l.bookmark_prompt.is_some())
        {
            return;
        }
        let n = self.state.layout.tile_count();
        let cols = self.state.layout.columns();
        ui.input(|i| {
            const DIGITS: [Key; 10] = [
                Key::Num1,
                Key::Num2,
                Key::Num3,
                Key::Num4,
                Key::Num5,
                Key::Num6,
                Key::Num7,
                Key::Num8,
                Key::Num9,
                Key::Num0,
            ];
            for (k, key) in DIGITS.iter().enumerate() {
                if i.key_pressed(*key) && k < n {
                    cmds.push(Command::Select(k));
                }
            }
            let s = self.selected;
            if i.key_pressed(Key::ArrowRight) {
                cmds.push(Command::Select((s + 1).min(n - 1)));
            }
            if i.key_pressed(Key::ArrowLeft) {
                cmds.push(Command::Select(s.saturating_sub(1)));
            }
            if i.key_pressed(Key::ArrowDown) {
                cmds.push(Command::Select((s + cols).min(n - 1)));
            }
            if i.key_pressed(Key::ArrowUp) {
                cmds.push(Command::Select(s.saturating_sub(cols)));
            }
            if i.key_pressed(Key::Enter) {
                cmds.push(Command::ToggleMaximise(s));
            }
            if i.key_pressed(Key::Escape) {
                cmds.push(Command::Restore);
            }
            if i.key_pressed(Key::F) {
                cmds.push(Command::ToggleFullscreen);
            }
            if i.key_pressed(Key::B) {
                cmds.push(Command::Bookmark);
            }
            if i.key_pressed(Key::M) {
                cmds.push(Command::CycleView);
            }
            if i.key_pressed(Key::P) {
                cmds.push(Command::TogglePlayback);
            }
            if self.playback.is_some() && i.key_pressed(Key::Space) {
                cmds.push(Command::PlayPause);
            }
            if self.playback.is_some() && i.key_pressed(Key::N) {
                cmds.push(Command::StepHit(if i.modifiers.shift { -1 } else { 1 }));
            }
        });
    }

    pub(super) fn top_bar_ui(&self, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        let tr = &self.tr;
        // Wrapped: on a narrow window the bar grows a line rather than hiding buttons.
        ui.horizontal_wrapped(|ui| {
            ui.strong(tr.t("app-title"));
            ui.separator();
            let locked = self.log.as_ref().is_some_and(|l| l.operator.is_none());
            if locked {
                // Before sign-in only the language can be chosen.
                for l in Lang::ALL {
                    if ui
                        .selectable_label(tr.lang() == l, tr.t(l.name_key()))
                        .clicked()
                    {
                        cmds.push(Command::SetLang(l));
                    }
                }
                return;
            }
            ui.label(tr.t("menu-layout"));
            for l in WallLayout::ALL {
                if ui
                    .selectable_label(
                        self.state.layout == l && self.maximised.is_none(),
                        l.label(),
                    )
                    .clicked()
                {
                    cmds.push(Command::SetLayout(l));
                }
            }
            if self.map.is_some() {
                ui.separator();
                for v in CentralView::ALL {
                    if ui
                        .selectable_label(self.state.view == v, tr.t(v.key()))
                        .on_hover_text(tr.t("view-key-hint"))
                        .clicked()
                    {
                        cmds.push(Command::SetView(v));
                    }
                }
            }
            ui.separator();
            ui.label(tr.t("menu-language"));
            for l in Lang::ALL {
                if ui
                    .selectable_label(tr.lang() == l, tr.t(l.name_key()))
                    .clicked()
                {
                    cmds.push(Command::SetLang(l));
                }
            }
            ui.separator();
            if ui
                .selectable_label(self.state.show_health, tr.t("health-toggle"))
                .clicked()
            {
                cmds.push(Command::ToggleHealth);
            }
            if ui
                .selectable_label(self.fullscreen, tr.t("fullscreen"))
                .clicked()
            {
                cmds.push(Command::ToggleFullscreen);
            }
            if self.may(mt_store::Right::Playback) && ui.button(tr.t("archive-open")).clicked() {
                cmds.push(Command::OpenArchivePrompt);
            }
            let open = self.state.second.as_ref().is_some_and(|w| w.open);
            let second = if open { "second-close" } else { "second-open" };
            if ui
                .selectable_label(open, tr.t(second))
                .on_hover_text(tr.t("second-hint"))
                .clicked()
            {
                cmds.push(Command::ToggleSecondScreen);
            }
            if ui
                .selectable_label(self.views_window.is_some(), tr.t("views-button"))
                .on_hover_text(tr.t("views-button-hint"))
                .clicked()
            {
                cmds.push(Command::ToggleViews);
            }
            if let Some(a) = self
                .admin
                .as_ref()
                .filter(|_| self.log.is_some() && self.may(mt_store::Right::ManageCameras))
            {
                if ui
                    .selectable_label(a.window.is_some(), tr.t("cam-button"))
                    .on_hover_text(tr.t("cam-button-hint"))
                    .clicked()
                {
                    cmds.push(Command::ToggleCameras);
                }
            }
            if self.supervisor()
                && ui
                    .selectable_label(self.trust.is_some(), tr.t("trust-button"))
                    .on_hover_text(tr.t("trust-button-hint"))
                    .clicked()
            {
                cmds.push(Command::ToggleTrust);
            }
            if self.recorder.is_some()
                && self.may(mt_store::Right::Playback)
                && ui
                    .selectable_label(self.playback.is_some(), tr.t("playback-toggle"))
                    .on_hover_text(tr.t("playback-key-hint"))
                    .clicked()
            {
                cmds.push(Command::TogglePlayback);
            }
            ui.separator();
            let live = self
                .cameras
                .iter()
                .filter(|c| c.health_stream().state().is_live())
                .count();
            ui.label(tr.t_args(
                "summary",
                &[("live", live.into()), ("total", self.cameras.len().into())],
            ));
            let not_recording: Vec<String> = self
                .cameras
                .iter()
                .filter_map(|c| {
                    self.rec_problem(&c.config.id.0)
                        .map(|(r, _)| format!("{} — {r}", c.config.name))
                })
                .collect();
            if !not_recording.is_empty() {
                ui.colored_label(
                    Color32::from_rgb(240, 80, 80),
                    tr.t_args(
                        "rec-cameras-alarm",
                        &[("count", not_recording.len().into())],
                    ),
                )
                .on_hover_text(not_recording.join("\n"));
            }
            if let Some(alarm) = self.rec_status.as_ref().and_then(|r| r.alarm.clone()) {
                ui.colored_label(
                    Color32::from_rgb(240, 80, 80),
                    tr.t_args("rec-alarm", &[("error", alarm.into())]),
                );
            }
            if !self.config_errors.is_empty() {
                ui.colored_label(
                    Color32::from_rgb(230, 160, 40),
                    tr.t_args(
                        "config-errors",
                        &[("count", self.config_errors.len().into())],
                    ),
                )
                .on_hover_text(self.config_errors.join("\n"));
            }
        });
    }
}
