//! Times as officers read and type them, in the workstation's zone.

use super::*;

/// A time as shown in the log: `29/11/2026 14:05:09`, local time.
pub fn format_time(ms: i64) -> String {
    fmt_time(ms)
}

pub(super) fn fmt_time(ms: i64) -> String {
    mt_core::time::show(ms)
}

/// A time as the officer types it: `29/11/2026 14:05`, in the workstation's zone.
pub(crate) fn fmt_input_time(ms: i64) -> String {
    mt_core::time::format(ms, "%d/%m/%Y %H:%M")
}

pub(crate) fn parse_input_time(s: &str) -> Option<i64> {
    mt_core::time::parse_local(s)
}

/// A labelled time field; returns the time it holds, or None (and says so) when it does not
/// parse.
pub(super) fn time_field_ui(ui: &mut egui::Ui, tr: &Tr, text: &mut String) -> Option<i64> {
    let l = ui.label(tr.t("incident-time"));
    let parsed = parse_input_time(text);
    ui.horizontal(|ui| {
        ui.add(egui::TextEdit::singleline(text).desired_width(140.0))
            .labelled_by(l.id);
        if parsed.is_none() {
            ui.colored_label(Color32::from_rgb(240, 90, 90), tr.t("time-format"));
        }
    });
    parsed
}
