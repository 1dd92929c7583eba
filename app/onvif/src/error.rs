//! What went wrong talking to a camera, in the few kinds an officer can act on, with the
//! device's own words as the detail (the password scrubbed out).

use mt_core::Credentials;
use oxvif::soap::SoapError;
use oxvif::transport::TransportError;
use oxvif::OnvifError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The address is not a usable ONVIF address.
    BadAddress,
    /// Nothing answers at the address (refused, no route, DNS).
    Unreachable,
    /// The device did not answer within the time allowed.
    Timeout,
    /// The device refused the user name or password.
    Unauthorized,
    /// Something answers, but not as an ONVIF device service.
    NotOnvif,
    /// The device answered the request with a SOAP fault.
    Fault,
    /// The camera has no PTZ (no PTZ service, or no profile with a PTZ configuration).
    NoPtz,
    /// The ONVIF thread is gone or too busy to take the request.
    Unavailable,
    /// A newer move or stop for the same camera replaced this one before it went out.
    Superseded,
    /// The camera's stream URI carries the password (in its path): not taken.
    PasswordInUri,
}

impl Kind {
    /// The translation key of the reason.
    pub fn key(self) -> &'static str {
        match self {
            Kind::BadAddress => "onvif-err-address",
            Kind::Unreachable => "onvif-err-unreachable",
            Kind::Timeout => "onvif-err-timeout",
            Kind::Unauthorized => "onvif-err-unauthorized",
            Kind::NotOnvif => "onvif-err-not-onvif",
            Kind::Fault => "onvif-err-fault",
            Kind::NoPtz => "onvif-err-no-ptz",
            Kind::Unavailable => "onvif-err-unavailable",
            Kind::Superseded => "onvif-err-superseded",
            Kind::PasswordInUri => "onvif-err-password-in-uri",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct Error {
    pub kind: Kind,
    /// The device's or the network's words; never contains the password.
    pub detail: String,
}

impl Error {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        Error {
            kind,
            detail: detail.into(),
        }
    }

    /// Sorts an `oxvif` error into a [`Kind`]; `creds` are scrubbed from the detail.
    pub(crate) fn from_onvif(e: &OnvifError, creds: Option<&Credentials>) -> Self {
        let kind = match e {
            OnvifError::Transport(TransportError::Http(h)) => {
                if h.is_timeout() {
                    Kind::Timeout
                } else if h.is_connect() || h.is_request() {
                    Kind::Unreachable
                } else {
                    Kind::NotOnvif
                }
            }
            OnvifError::Transport(TransportError::HttpStatus { status, .. }) => match status {
                401 | 403 => Kind::Unauthorized,
                _ => Kind::NotOnvif,
            },
            OnvifError::Soap(SoapError::Fault {
                code,
                reason,
                subcode,
                ..
            }) => {
                let words = format!("{code} {} {reason}", subcode.as_deref().unwrap_or(""));
                let w = words.to_ascii_lowercase();
                if w.contains("notauthorized")
                    || w.contains("failedauthentication")
                    || w.contains("unauthorized")
                    || w.contains("not authorized")
                {
                    Kind::Unauthorized
                } else {
                    Kind::Fault
                }
            }
            OnvifError::Soap(_) => Kind::NotOnvif,
            // The client refused to build the request (a value the schema does not allow).
            OnvifError::InvalidArgument(_) => Kind::Fault,
        };
        let detail = match e {
            // The body of an HTTP error page can be long and is rarely useful: its status is.
            OnvifError::Transport(TransportError::HttpStatus { status, .. }) => {
                format!("HTTP {status}")
            }
            OnvifError::Transport(TransportError::Http(h)) => {
                // reqwest's own text names the URL (no credentials: they are never put in
                // it) and the lowest cause, which is what tells "refused" from "no route".
                let mut text = h.to_string();
                let mut src = std::error::Error::source(h);
                while let Some(s) = src {
                    text = format!("{text}: {s}");
                    src = s.source();
                }
                text
            }
            other => other.to_string(),
        };
        Error {
            kind,
            detail: scrub(&detail, creds),
        }
    }
}

/// `text` without the password (a device may echo a request back in a fault).
pub(crate) fn scrub(text: &str, creds: Option<&Credentials>) -> String {
    match creds.map(|c| c.password.expose()).filter(|p| !p.is_empty()) {
        Some(p) => text.replace(p, "***"),
        None => text.to_owned(),
    }
}
