//! Camera passwords. A [`Secret`] never prints: its `Debug` and `Display` show `***`, so a
//! password cannot reach a log line, an error or the UI by accident.

use std::fmt;

/// The empty password (`Default`) is "none given".
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The only way to read the password: named so that every use is easy to find.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// Removes the user-info part of a URL (`rtsp://user:pass@host/` → `rtsp://***@host/`) and any
/// `password=`/`pwd=` query value. Used wherever a URL might be shown or logged.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let had_userinfo = !u.username().is_empty() || u.password().is_some();
            if had_userinfo {
                let _ = u.set_password(None);
                let _ = u.set_username("***");
            }
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let lk = k.to_ascii_lowercase();
                    if lk == "password" || lk == "pwd" || lk == "pass" {
                        (k.into_owned(), "***".to_owned())
                    } else {
                        (k.into_owned(), v.into_owned())
                    }
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        // Not a URL: do not echo anything that might hold a password.
        Err(_) => "<invalid URL>".to_owned(),
    }
}

/// Replaces every occurrence of the password in `text` with `***` (belt and braces for error
/// messages produced by libraries we do not control).
pub fn scrub(text: &str, secret: Option<&Secret>) -> String {
    match secret {
        Some(s) if !s.0.is_empty() => text.replace(&s.0, "***"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_userinfo_and_password_query() {
        let r = redact_url("rtsp://admin:hunter2@10.0.0.5:554/live?channel=1&password=hunter2");
        assert!(!r.contains("hunter2"), "{r}");
        assert!(r.contains("10.0.0.5"), "{r}");
        assert!(r.contains("channel=1"), "{r}");
    }

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(scrub("bad hunter2 here", Some(&s)), "bad *** here");
    }
}
