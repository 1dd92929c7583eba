//! The statistics tab: incidents by type, ward and status over a period.

use super::*;

impl LogUi {
    pub(super) fn stats_ui(&mut self, ui: &mut egui::Ui, tr: &Tr) {
        ui.horizontal(|ui| {
            ui.label(tr.t("stats-period"));
            let mut changed = false;
            for (days, key) in [
                (None, "period-all"),
                (Some(30), "period-30d"),
                (Some(365), "period-12m"),
            ] {
                if ui
                    .selectable_label(self.period_days == days, tr.t(key))
                    .clicked()
                {
                    self.period_days = days;
                    changed = true;
                }
            }
            if changed {
                self.refresh();
            }
        });
        if self.may(Right::Catalogue) {
            self.catalogue_ui(ui, tr);
        }
        let Some(st) = self.stats.clone() else { return };
        egui::ScrollArea::vertical()
            .id_salt("stats")
            .show(ui, |ui| {
                let named: Vec<(String, i64)> = st
                    .by_type
                    .iter()
                    .map(|(c, n)| (self.type_name(c, tr.lang()), *n))
                    .collect();
                for (title, rows, id) in [
                    (tr.t("stats-by-type"), named, "by-type"),
                    (tr.t("stats-by-ward"), st.by_ward.clone(), "by-ward"),
                    (tr.t("stats-by-month"), st.by_month.clone(), "by-month"),
                ] {
                    ui.strong(&title);
                    let bars: Vec<egui_plot::Bar> = rows
                        .iter()
                        .enumerate()
                        .map(|(i, (name, n))| {
                            egui_plot::Bar::new(i as f64, *n as f64)
                                .name(name)
                                .width(0.7)
                        })
                        .collect();
                    egui_plot::Plot::new(id)
                        .height(110.0)
                        .allow_zoom(false)
                        .allow_drag(false)
                        .allow_scroll(false)
                        .include_y(0.0)
                        .include_x(-0.6)
                        .include_x(rows.len() as f64 - 0.4)
                        .show_axes([false, true])
                        .show(ui, |p| {
                            p.bar_chart(egui_plot::BarChart::new(title.clone(), bars))
                        });
                    egui::Grid::new(format!("{id}-legend"))
                        .num_columns(2)
                        .show(ui, |ui| {
                            for (name, n) in &rows {
                                ui.label(name);
                                ui.label(n.to_string());
                                ui.end_row();
                            }
                        });
                    ui.add_space(6.0);
                }
            });
    }
}
