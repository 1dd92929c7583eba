//! The community camera registry: where a camera stands, what it looks at, who owns it and on
//! what terms it is shared. Cameras of the camera file are seeded into the registry; "planned"
//! sites exist only in the registry (the ward's survey before asking residents to install).

use crate::config::CameraConfig;

/// Who owns a camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OwnerKind {
    #[default]
    Household,
    Shop,
    School,
    Agency,
}

impl OwnerKind {
    pub const ALL: [OwnerKind; 4] = [
        OwnerKind::Household,
        OwnerKind::Shop,
        OwnerKind::School,
        OwnerKind::Agency,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Household => "household",
            OwnerKind::Shop => "shop",
            OwnerKind::School => "school",
            OwnerKind::Agency => "agency",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Translation key of the name.
    pub fn key(self) -> &'static str {
        match self {
            OwnerKind::Household => "owner-household",
            OwnerKind::Shop => "owner-shop",
            OwnerKind::School => "owner-school",
            OwnerKind::Agency => "owner-agency",
        }
    }
}

/// On what terms the owner shares the picture with the ward police.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Sharing {
    #[default]
    Live,
    OnRequest,
    Withdrawn,
}

impl Sharing {
    pub const ALL: [Sharing; 3] = [Sharing::Live, Sharing::OnRequest, Sharing::Withdrawn];
    pub fn as_str(self) -> &'static str {
        match self {
            Sharing::Live => "live",
            Sharing::OnRequest => "on_request",
            Sharing::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn key(self) -> &'static str {
        match self {
            Sharing::Live => "sharing-live",
            Sharing::OnRequest => "sharing-on-request",
            Sharing::Withdrawn => "sharing-withdrawn",
        }
    }
}

/// One camera (or planned camera site) in the registry.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CameraSite {
    pub id: String,
    pub name: String,
    pub ward: String,
    pub lat_deg: f64,
    pub lon_deg: f64,
    /// Compass bearing of the view's centre line, degrees clockwise from north.
    pub heading_deg: f64,
    /// Horizontal angle of view, degrees (0 < fov ≤ 360).
    pub fov_deg: f64,
    /// How far the camera usefully sees, metres.
    pub range_m: f64,
    /// A site the ward plans to ask for, not (yet) a camera.
    pub planned: bool,
    pub owner_kind: OwnerKind,
    pub owner: String,
    pub address: String,
    pub phone: String,
    /// The owner signed the consent to share.
    pub consent: bool,
    pub sharing: Sharing,
    /// `YYYY-MM-DD`, or empty.
    pub installed_on: String,
    pub installed_by: String,
}

impl CameraSite {
    /// A registry entry seeded from the camera file (registry-only fields left empty).
    pub fn from_config(c: &CameraConfig) -> Self {
        CameraSite {
            id: c.id.0.clone(),
            name: c.name.clone(),
            ward: c.ward.clone(),
            lat_deg: c.lat_deg,
            lon_deg: c.lon_deg,
            heading_deg: c.heading_deg,
            fov_deg: c.fov_deg,
            range_m: c.range_m,
            owner: c.owner.clone(),
            address: c.address.clone(),
            consent: true,
            ..Default::default()
        }
    }

    /// Checks the numbers; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("id: must not be empty".into());
        }
        if !(-90.0..=90.0).contains(&self.lat_deg) {
            return Err(format!("lat: {} is not a latitude", self.lat_deg));
        }
        if !(-180.0..=180.0).contains(&self.lon_deg) {
            return Err(format!("lon: {} is not a longitude", self.lon_deg));
        }
        if !self.heading_deg.is_finite() {
            return Err("heading_deg: not a number".into());
        }
        if !(self.fov_deg > 0.0 && self.fov_deg <= 360.0) {
            return Err(format!("fov_deg: {} is not in 0–360", self.fov_deg));
        }
        if !(self.range_m > 0.0 && self.range_m <= 2000.0) {
            return Err(format!("range_m: {} is not in 0–2000 m", self.range_m));
        }
        if !self.installed_on.is_empty() && !is_date(&self.installed_on) {
            return Err(format!(
                "installed_on: {:?} is not a date (YYYY-MM-DD)",
                self.installed_on
            ));
        }
        Ok(())
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u32>().unwrap_or(0))
}

/// Normalises a heading to [0, 360).
pub fn wrap_heading(h: f64) -> f64 {
    h.rem_euclid(360.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_bad_field() {
        let mut s = CameraSite {
            id: "x".into(),
            lat_deg: 21.0,
            lon_deg: 105.0,
            fov_deg: 90.0,
            range_m: 30.0,
            ..Default::default()
        };
        assert!(s.validate().is_ok());
        s.fov_deg = 0.0;
        assert!(s.validate().unwrap_err().starts_with("fov_deg"));
        s.fov_deg = 90.0;
        s.installed_on = "2026-13-01".into();
        assert!(s.validate().unwrap_err().starts_with("installed_on"));
        assert_eq!(wrap_heading(-90.0), 270.0);
    }
}
