//! The sign-in window: officer id and PIN, lockout, the forced PIN change.

use super::*;

impl LogUi {
    /// The sign-in screen (shown instead of the wall until someone signs in).
    pub fn signin_ui(&mut self, ui: &mut egui::Ui, tr: &Tr) {
        if let Some(op) = self.operator.clone().filter(|o| o.must_change_pin) {
            self.session.change_pin_ui(ui, tr, &self.store, &op);
            return;
        }
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.2);
            ui.heading(tr.t("app-title"));
            ui.add_space(12.0);
            let first = self.first_run == Some(true);
            ui.label(
                RichText::new(if first {
                    tr.t("signin-first")
                } else {
                    tr.t("signin-title")
                })
                .strong(),
            );
            // Centre the form: a Grid does not centre itself.
            ui.horizontal(|ui| {
                ui.add_space(((ui.available_width() - 300.0) / 2.0).max(0.0));
                ui.vertical(|ui| {
                    egui::Grid::new("signin").num_columns(2).show(ui, |ui| {
                        let l = ui.label(tr.t("signin-id"));
                        ui.add(
                            egui::TextEdit::singleline(&mut self.signin_id).desired_width(200.0),
                        )
                        .labelled_by(l.id);
                        ui.end_row();
                        if first {
                            let l = ui.label(tr.t("signin-name"));
                            ui.add(
                                egui::TextEdit::singleline(&mut self.signin_name)
                                    .desired_width(200.0),
                            )
                            .labelled_by(l.id);
                            ui.end_row();
                        }
                        let l = ui.label(tr.t("signin-pin"));
                        let pin = ui
                            .add(
                                egui::TextEdit::singleline(&mut self.signin_pin)
                                    .password(true)
                                    .desired_width(200.0),
                            )
                            .labelled_by(l.id);
                        ui.end_row();
                        let enter =
                            pin.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        ui.label("");
                        let label = if first {
                            tr.t("signin-create")
                        } else {
                            tr.t("signin-button")
                        };
                        if ui.button(label).clicked() || enter {
                            let (id, pin, name) = (
                                self.signin_id.trim().to_owned(),
                                self.signin_pin.clone(),
                                self.signin_name.clone(),
                            );
                            if first && mt_store::pin_problem(&pin).is_some() {
                                self.signin_pin.clear();
                                self.signin_error = Some(tr.t("pin-policy"));
                            } else if first {
                                self.submit(|s| {
                                    s.run(move |db| {
                                        db.add_operator(
                                            None,
                                            &id,
                                            if name.is_empty() { &id } else { &name },
                                            Role::Supervisor,
                                            &pin,
                                        )?;
                                        db.sign_in(&id, &pin)
                                    })
                                    .map(Job::SignIn)
                                });
                            } else {
                                self.submit(|s| {
                                    s.run(move |db| db.sign_in(&id, &pin)).map(Job::SignIn)
                                });
                            }
                        }
                        ui.end_row();
                    });
                });
            });
            if let Some(e) = &self.signin_error {
                ui.colored_label(Color32::from_rgb(240, 90, 90), e);
            }
        });
    }
}
