//! Turning a camera: one command, then what the camera says of itself afterwards (its
//! presets and its position), so the panel and the map show the camera's word, not ours.

use mt_core::Credentials;
use oxvif::OnvifSession;

use crate::device::bounded;
use crate::error::{Error, Kind};

#[derive(Clone, Debug, PartialEq)]
pub enum PtzCommand {
    /// Only ask for presets and position.
    Refresh,
    /// Start turning at these speeds (−1…1; zoom −1 out … 1 in) until `Stop`.
    Move {
        pan: f32,
        tilt: f32,
        zoom: f32,
    },
    Stop,
    GotoPreset(String),
    /// Save the current position as a preset of this name (a new one, or over the preset of
    /// that name if there is one).
    SavePreset(String),
    Home,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub token: String,
    pub name: String,
}

/// Where the camera points, in ONVIF's generic spaces: pan and tilt −1…1, zoom 0…1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    pub pan: f32,
    pub tilt: f32,
    pub zoom: f32,
}

/// The camera after a command.
#[derive(Clone, Debug, PartialEq)]
pub struct PtzView {
    /// The profile turned through.
    pub profile: String,
    pub presets: Vec<Preset>,
    /// None when the camera does not report its position.
    pub position: Option<Position>,
    /// The token of a preset just saved.
    pub saved: Option<String>,
}

/// The map heading of a camera whose pan is `pan` (ONVIF's generic pan space: −1…1 is
/// the whole turn, −180°…180° from where it points at pan 0, which the camera file's
/// `heading_deg` gives).
pub fn heading_for(base_heading_deg: f64, pan: f32) -> f64 {
    (base_heading_deg + pan as f64 * 180.0).rem_euclid(360.0)
}

/// The profile to turn through: the first with a PTZ configuration.
pub(crate) async fn ptz_profile(
    s: &OnvifSession,
    creds: Option<&Credentials>,
) -> Result<String, Error> {
    if s.capabilities().ptz.url.is_none() {
        return Err(Error::new(Kind::NoPtz, "the device has no PTZ service"));
    }
    let profiles = bounded(s.get_profiles(), creds).await?;
    profiles
        .into_iter()
        .find(|p| p.ptz_config_token.is_some())
        .map(|p| p.token)
        .ok_or_else(|| Error::new(Kind::NoPtz, "no profile has a PTZ configuration"))
}

/// Does `cmd` (nothing for `Refresh`); the token of a preset just saved.
pub(crate) async fn act(
    s: &OnvifSession,
    profile: &str,
    cmd: &PtzCommand,
    creds: Option<&Credentials>,
) -> Result<Option<String>, Error> {
    match cmd {
        PtzCommand::Refresh => {}
        PtzCommand::Move { pan, tilt, zoom } => {
            let c = |v: f32| v.clamp(-1.0, 1.0);
            bounded(
                s.ptz_continuous_move(profile, c(*pan), c(*tilt), c(*zoom)),
                creds,
            )
            .await?
        }
        PtzCommand::Stop => bounded(s.ptz_stop(profile), creds).await?,
        PtzCommand::GotoPreset(token) => bounded(s.ptz_goto_preset(profile, token), creds).await?,
        PtzCommand::Home => bounded(s.ptz_goto_home_position(profile, None), creds).await?,
        PtzCommand::SavePreset(name) => {
            let name = name.trim();
            if name.is_empty() {
                return Err(Error::new(Kind::Fault, "a preset needs a name"));
            }
            let existing = bounded(s.ptz_get_presets(profile), creds).await?;
            let over = existing
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.token.clone());
            let token = bounded(
                s.ptz_set_preset(profile, Some(name), over.as_deref()),
                creds,
            )
            .await?;
            return Ok(Some(token));
        }
    }
    Ok(None)
}

/// What the camera says of itself: its presets and where it points.
pub(crate) async fn view(
    s: &OnvifSession,
    profile: &str,
    creds: Option<&Credentials>,
    saved: Option<String>,
) -> Result<PtzView, Error> {
    let presets = bounded(s.ptz_get_presets(profile), creds)
        .await?
        .into_iter()
        .map(|p| Preset {
            token: p.token,
            name: p.name,
        })
        .collect();
    // A camera that cannot tell its position still turns: the view says "unknown".
    let position = bounded(s.ptz_get_status(profile), creds)
        .await
        .ok()
        .and_then(|st| {
            Some(Position {
                pan: st.pan?,
                tilt: st.tilt.unwrap_or(0.0),
                zoom: st.zoom.unwrap_or(0.0),
            })
        });
    Ok(PtzView {
        profile: profile.to_owned(),
        presets,
        position,
        saved,
    })
}

#[cfg(test)]
mod tests {
    use super::heading_for;

    #[test]
    fn pan_turns_the_heading() {
        assert_eq!(heading_for(90.0, 0.0), 90.0);
        assert_eq!(heading_for(90.0, 0.5), 180.0);
        assert_eq!(heading_for(90.0, -1.0), 270.0);
        assert_eq!(heading_for(350.0, 0.25), 35.0);
    }
}
