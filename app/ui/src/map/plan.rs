//! Coverage planning: the coverage thread's questions and answers, the plan panel, the plan's
//! GeoJSON and PNG exports, the gaps drawn on the map.

use super::*;

impl MapUi {
    pub(super) fn coverage_job(&self) -> crate::coverage_worker::Job {
        crate::coverage_worker::Job {
            roads: self.roads.clone(),
            wards: self.wards.clone(),
            sites: self.sites.clone(),
            filter: self.filter.clone(),
            // Dragging a planned site changes only the coverage with the plan: the one
            // without it is kept (half the work per frame of a drag).
            before: self
                .coverage
                .as_ref()
                .filter(|_| !self.coverage_before_dirty)
                .map(|c| c.0.clone()),
        }
    }

    pub(super) fn take_coverage(&mut self, a: crate::coverage_worker::Answer) {
        self.coverage_ms = a.ms;
        self.coverage = Some((a.before, a.after));
        if self
            .highlight_gap
            .is_some_and(|g| g >= self.coverage.as_ref().map_or(0, |c| c.1.gaps.len()))
        {
            self.highlight_gap = None;
        }
    }

    /// Takes the coverage thread's answer if it is there, and asks again if a site changed
    /// since the question (one question at a time: changes during a drag are asked as one).
    /// Until the answer comes, the last coverage is shown.
    pub fn ensure_coverage(&mut self, ctx: &egui::Context) {
        self.poll_coverage();
        if !self.coverage_dirty && self.coverage.is_some() {
            return;
        }
        if self.coverage_worker.as_ref().is_some_and(|w| w.busy()) {
            return;
        }
        let job = self.coverage_job();
        self.coverage_dirty = false;
        self.coverage_before_dirty = false;
        let Some(w) = self.coverage_worker.as_mut() else {
            let a = crate::coverage_worker::compute(job);
            self.take_coverage(a);
            return;
        };
        if !w.ask(job, ctx) {
            // The thread is gone: computed here from now on.
            self.coverage_worker = None;
            let a = crate::coverage_worker::compute(self.coverage_job_full());
            self.take_coverage(a);
        }
    }

    /// Takes an answer if one is there. A thread that died with a question outstanding loses
    /// nothing: the coverage is marked stale and computed in place from then on.
    fn poll_coverage(&mut self) {
        let Some(w) = self.coverage_worker.as_mut() else {
            return;
        };
        if let Some(a) = w.poll() {
            self.take_coverage(a);
        } else if w.gone {
            tracing::warn!("the coverage thread ended; coverage is computed on the UI thread");
            self.coverage_worker = None;
            self.coverage_dirty = true;
            self.coverage_before_dirty = true;
        }
    }

    pub(super) fn coverage_job_full(&self) -> crate::coverage_worker::Job {
        crate::coverage_worker::Job {
            before: None,
            ..self.coverage_job()
        }
    }

    /// The coverage of the sites as they are now, for an export the officer clicked: the
    /// thread's last answer when nothing changed since, else computed here (once, on a
    /// click, not per frame).
    pub fn coverage_now(&mut self) -> (Coverage, Coverage) {
        match self.coverage_if_current() {
            Ok(c) => c,
            Err(job) => {
                let a = crate::coverage_worker::compute(job);
                (a.before, a.after)
            }
        }
    }

    /// The last coverage if nothing changed since it was computed, else the question to
    /// compute it (for a worker thread to answer).
    fn coverage_if_current(&mut self) -> Result<(Coverage, Coverage), crate::coverage_worker::Job> {
        self.poll_coverage();
        let current =
            !self.coverage_dirty && !self.coverage_worker.as_ref().is_some_and(|w| w.busy());
        match (current, &self.coverage) {
            (true, Some(c)) => Ok(c.clone()),
            _ => Err(self.coverage_job_full()),
        }
    }

    pub(super) fn plan_ui(
        &mut self,
        ui: &mut egui::Ui,
        tr: &Tr,
        store: Option<&StoreThread>,
        operator: Option<&str>,
    ) {
        self.ensure_coverage(ui.ctx());
        ui.heading(tr.t("plan-title"));
        if ui
            .selectable_label(self.placing, tr.t("plan-place"))
            .on_hover_text(tr.t("plan-place-hint"))
            .clicked()
        {
            self.placing = !self.placing;
        }
        if let Some(i) = self
            .selected
            .filter(|&i| self.sites.get(i).is_some_and(|s| s.planned))
        {
            let mut changed = false;
            let s = &mut self.sites[i];
            ui.group(|ui| {
                ui.strong(&s.name);
                changed |= aim_fields(ui, tr, s, false);
            });
            if changed {
                self.save_site(store, operator, i);
                self.ensure_coverage(ui.ctx());
            }
        }
        let Some((before, after)) = &self.coverage else {
            // The first answer of the coverage thread is on its way.
            ui.spinner();
            return;
        };
        if before.total_m <= 0.0 {
            ui.weak(tr.t("plan-no-roads"));
            return;
        }
        let pct = |x: f64| format!("{:.1} %", x * 100.0);
        let km = |m: f64| format!("{:.2}", m / 1000.0);
        ui.label(tr.t_args(
            "plan-district",
            &[
                ("before", pct(before.share()).into()),
                ("after", pct(after.share()).into()),
                ("km", km(before.total_m).into()),
            ],
        ));
        ui.small(tr.t_args(
            "plan-computed",
            &[("ms", format!("{:.1}", self.coverage_ms).into())],
        ));
        egui::Grid::new("plan-wards")
            .striped(true)
            .num_columns(4)
            .show(ui, |ui| {
                for h in ["col-ward", "plan-road-km", "plan-before", "plan-after"] {
                    ui.strong(tr.t(h));
                }
                ui.end_row();
                for (b, a) in before.wards.iter().zip(&after.wards) {
                    ui.label(if b.name.is_empty() {
                        tr.t("plan-outside-wards")
                    } else {
                        b.name.clone()
                    });
                    ui.label(km(b.total_m));
                    ui.label(pct(b.share()));
                    ui.label(pct(a.share()));
                    ui.end_row();
                }
            });
        ui.separator();
        ui.strong(tr.t_args("plan-gaps", &[("count", after.gaps.len().into())]));
        let mut go = None;
        for (k, g) in after.gaps.iter().take(50).enumerate() {
            let text = format!(
                "{}. {} — {:.0} m{}",
                k + 1,
                if g.road.is_empty() { "?" } else { &g.road },
                g.length_m,
                if g.ward.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", g.ward)
                }
            );
            if ui
                .selectable_label(self.highlight_gap == Some(k), text)
                .clicked()
            {
                go = Some(k);
            }
        }
        if let Some(k) = go {
            self.highlight_gap = Some(k);
            let g = &after.gaps[k];
            if let (Some(v), Some(mid)) = (self.view.as_mut(), g.coords.get(g.coords.len() / 2)) {
                v.center = *mid;
            }
        }
        ui.separator();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    self.export_job.is_none(),
                    egui::Button::new(tr.t("plan-export-geojson")),
                )
                .clicked()
            {
                self.start_geojson_export();
            }
            if ui
                .add_enabled(
                    self.export_job.is_none(),
                    egui::Button::new(tr.t("plan-export-png")),
                )
                .clicked()
            {
                self.start_png_export(tr);
            }
        });
    }

    /// Writes the plan as GeoJSON into the export folder on a worker thread ("plan-geojson");
    /// the coverage too when it is not current. The map polls the answer (`export_job`).
    pub(super) fn start_geojson_export(&mut self) {
        let coverage = self.coverage_if_current();
        let sites = self.sites.clone();
        let path = self.export_dir.join(format!(
            "ke-hoach-phu-song-{}.geojson",
            mt_core::time::file_stamp(mt_core::time::now_ms())
        ));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.export_job = Some(rx);
        let spawned = std::thread::Builder::new()
            .name("plan-geojson".into())
            .spawn(move || {
                mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
                let (before, after) = coverage.unwrap_or_else(|job| {
                    let a = crate::coverage_worker::compute(job);
                    (a.before, a.after)
                });
                let v =
                    mt_map::plan::plan_geojson(&sites, &before, &after, env!("CARGO_PKG_VERSION"));
                let r = serde_json::to_vec_pretty(&v)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| {
                        write_atomic(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
                    })
                    .map(|()| path);
                let _ = tx.send(r);
            });
        if let Err(e) = spawned {
            self.export_job = None;
            self.set_status(e.to_string(), false);
        }
    }

    /// Renders the plan off screen (its own wgpu device, on a worker thread) into a PNG.
    pub(super) fn start_png_export(&mut self, tr: &Tr) {
        let (before, after) = self.coverage_now();
        let after_share = after.share();
        let job = PlanImage {
            data: self.data.clone(),
            sites: self
                .sites
                .iter()
                .filter(|s| self.filter.accepts(s))
                .cloned()
                .collect(),
            after,
            title: tr.t_args(
                "plan-image-title",
                &[
                    ("before", format!("{:.1} %", before.share() * 100.0).into()),
                    ("after", format!("{:.1} %", after_share * 100.0).into()),
                    (
                        "date",
                        mt_core::time::format(mt_core::time::now_ms(), "%d/%m/%Y").into(),
                    ),
                ],
            ),
            legend: vec![
                (SiteState::Live.color(), tr.t("legend-camera")),
                (SiteState::Planned.color(), tr.t("site-planned")),
                (GAP_COLOR, tr.t("legend-gap")),
            ],
            view: self.view,
        };
        let path = self.export_dir.join(format!(
            "ke-hoach-phu-song-{}.png",
            mt_core::time::file_stamp(mt_core::time::now_ms())
        ));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.export_job = Some(rx);
        let spawned = std::thread::Builder::new()
            .name("plan-png".into())
            .spawn(move || {
                mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
                let r = job.render_png([1600, 1200]).and_then(|png| {
                    write_atomic(&path, &png).map_err(|e| format!("{}: {e}", path.display()))?;
                    Ok(path)
                });
                let _ = tx.send(r);
            });
        if let Err(e) = spawned {
            self.export_job = None;
            self.set_status(e.to_string(), false);
        }
    }
}

pub(super) fn draw_gaps(
    painter: &egui::Painter,
    view: &View,
    sc: [f32; 2],
    cov: &Coverage,
    highlight: Option<usize>,
) {
    for (k, g) in cov.gaps.iter().enumerate() {
        let pts: Vec<Pos2> = g
            .coords
            .iter()
            .map(|c| {
                let p = view.to_screen(*c, sc);
                egui::pos2(p[0], p[1])
            })
            .collect();
        let w = if highlight == Some(k) { 7.0 } else { 3.5 };
        if highlight == Some(k) {
            painter.add(Shape::line(
                pts.clone(),
                Stroke::new(w + 4.0, Color32::WHITE),
            ));
        }
        painter.add(Shape::line(pts, Stroke::new(w, GAP_COLOR)));
    }
}
