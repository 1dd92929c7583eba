//! Footage reviews accountable to an officer: audit rows of playback and search, and a
//! refused one signing the officer out.

use super::*;

impl MatThanApp {
    /// Appends an audit row for the signed-in officer (playback, search, opening an archive)
    /// after the store checked they may do `right`: sent to the store thread, never waited for.
    pub(super) fn audit(&mut self, right: mt_store::Right, action: &'static str, subject: String) {
        if let Some(log) = &self.log {
            if let Some(op) = log.operator.as_ref().map(|o| o.id.clone()) {
                match log
                    .store()
                    .run(move |db| db.audit_as(&op, right, action, &subject))
                {
                    Ok(p) => self.audits.push(p),
                    Err(e) => tracing::warn!("audit {action}: {e}"),
                }
            }
        }
    }

    /// The store's answers to the audit rows of looks at footage. One it refused (the
    /// officer was disabled or lost the right since signing in, from another workstation or
    /// the shell) closes playback, replay and search and asks for a sign-in again.
    pub(super) fn poll_audits(&mut self) {
        let mut refused = None;
        self.audits.retain(|p| match p.try_take() {
            None => true,
            Some(Ok(())) => false,
            Some(Err(e)) => {
                if matches!(e, mt_store::StoreError::Forbidden { .. }) {
                    refused = Some(e);
                } else {
                    tracing::warn!("audit: {e}");
                }
                false
            }
        });
        if let Some(e) = refused {
            self.playback = None;
            self.replay = None;
            self.region_search.open = false;
            if let Some(log) = self.log.as_mut() {
                log.refused(&self.tr, &e);
            }
        }
    }

    /// What a playback starts on: the wall's cameras and the time (for its audit row).
    pub(super) fn playback_subject(&self, from_ms: i64) -> String {
        let cams: Vec<&str> = self
            .state
            .tiles
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        format!(
            "cameras={};from={}",
            cams.join(","),
            mt_core::time::iso(from_ms)
        )
    }
}
