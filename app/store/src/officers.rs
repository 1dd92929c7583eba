//! Officers and what each may do: four roles, the rights they carry, sign-in with lockout,
//! PIN policy, and the workstation settings a supervisor keeps. Every change is audited
//! (`operator:<id>`, `setting:<key>`), every failed sign-in too; the store refuses an action
//! the officer's role does not carry, whatever the UI shows.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{params, OptionalExtension};

use crate::{audit, classify, now_ms, Db, Result, StoreError};

/// What an officer is for. Each role carries the rights of the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Live pictures only.
    Viewer,
    /// + playback, bookmarks, incidents.
    Operator,
    /// + evidence export, motion search and trace, CSV export.
    Investigator,
    /// + officers, cameras, registry, trusted keys, catalogue, settings.
    Supervisor,
}

pub const ROLES: [Role; 4] = [
    Role::Viewer,
    Role::Operator,
    Role::Investigator,
    Role::Supervisor,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Investigator => "investigator",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        ROLES.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// Whether this role carries `right`.
    pub fn may(self, right: Right) -> bool {
        self >= right.least_role()
    }
}

/// Something an officer may be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right {
    Live,
    Playback,
    Bookmark,
    Incident,
    /// Evidence archives and CSV exports.
    Export,
    /// Motion search and trace across cameras.
    Search,
    /// Turning and zooming PTZ cameras (what every other officer then sees and records).
    Ptz,
    ManageOfficers,
    ManageCameras,
    Registry,
    TrustKeys,
    Catalogue,
    Settings,
}

impl Right {
    /// The least role that carries this right.
    pub fn least_role(self) -> Role {
        match self {
            Right::Live => Role::Viewer,
            Right::Playback | Right::Bookmark | Right::Incident | Right::Ptz => Role::Operator,
            Right::Export | Right::Search => Role::Investigator,
            Right::ManageOfficers
            | Right::ManageCameras
            | Right::Registry
            | Right::TrustKeys
            | Right::Catalogue
            | Right::Settings => Role::Supervisor,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Right::Live => "live",
            Right::Playback => "playback",
            Right::Bookmark => "bookmarks",
            Right::Incident => "incidents",
            Right::Export => "export",
            Right::Search => "search",
            Right::Ptz => "ptz",
            Right::ManageOfficers => "officers",
            Right::ManageCameras => "cameras",
            Right::Registry => "registry",
            Right::TrustKeys => "trusted keys",
            Right::Catalogue => "catalogue",
            Right::Settings => "settings",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// Rank and unit, free text.
    pub unit: String,
    pub disabled: bool,
    /// Set by a PIN reset or a PIN below today's policy: the officer must choose a new PIN
    /// before anything else.
    pub must_change_pin: bool,
}

impl Operator {
    pub fn may(&self, right: Right) -> bool {
        !self.disabled && !self.must_change_pin && self.role.may(right)
    }
}

/// Who makes a change to officers or settings.
#[derive(Clone, Copy, Debug)]
pub enum By<'a> {
    /// A signed-in officer: their role is checked.
    Officer(&'a str),
    /// Someone at the workstation's shell (`matthan operator …`), named by their OS user:
    /// whoever can run it can already write the database file; audited as `shell:<user>`.
    Shell(&'a str),
}

impl By<'_> {
    fn audit_name(&self) -> String {
        match self {
            By::Officer(id) => (*id).to_owned(),
            By::Shell(user) => format!("shell:{user}"),
        }
    }
}

/// Consecutive failures before an ID is locked; the lock then doubles with every further
/// failure, from [`LOCK_BASE_S`] up to [`LOCK_MAX_S`].
pub const LOCK_AFTER: i64 = 5;
pub const LOCK_BASE_S: i64 = 30;
pub const LOCK_MAX_S: i64 = 3600;

/// Argon2id with 64 MiB and 3 passes (above OWASP's minimum): about a tenth of a second per
/// guess on a workstation core, so an offline guesser needs about a core-day for every
/// million PINs (see the README's threat model: a 6-digit PIN alone does not stop a
/// determined thief of the file; a passphrase does).
fn hasher() -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(64 * 1024, 3, 1, None).expect("valid argon2 parameters"),
    )
}

/// How today's hashes begin ([`hasher`]'s parameters); an older one is made again at the
/// next good sign-in.
fn current_phc_prefix() -> String {
    let p = hasher().params().clone();
    format!(
        "$argon2id$v=19$m={},t={},p={}$",
        p.m_cost(),
        p.t_cost(),
        p.p_cost()
    )
}

fn hash_pin(pin: &str) -> Result<String> {
    use rand_core::OsRng;
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("cannot hash the PIN: {e}")))
}

/// A hash no PIN matches, checked for an unknown ID so that it costs what a known one does.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_pin("không có cán bộ này / no such officer").unwrap_or_else(|_| String::new())
    })
}

fn verify_pin(pin: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            // Verify with the parameters in the stored string (older rows used argon2's
            // defaults), so an old PIN still works until it is changed.
            argon2::Argon2::default()
                .verify_password(pin.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Today's PIN policy: at least 6 digits, not one digit repeated nor a run (123456,
/// 987654); or a passphrase of at least 10 characters. None if `pin` is acceptable.
pub fn pin_problem(pin: &str) -> Option<&'static str> {
    let n = pin.chars().count();
    if n > 128 {
        return Some("the PIN or passphrase is longer than 128 characters");
    }
    if pin.chars().all(|c| c.is_ascii_digit()) {
        if n < 6 {
            return Some("the PIN must have at least 6 digits (or use a passphrase of 10 characters or more)");
        }
        let d: Vec<i32> = pin.bytes().map(|b| (b - b'0') as i32).collect();
        let steps: Vec<i32> = d.windows(2).map(|w| (w[1] - w[0]).rem_euclid(10)).collect();
        if steps.iter().all(|&s| s == 0) {
            return Some("the PIN must not be one digit repeated");
        }
        if steps.iter().all(|&s| s == 1) || steps.iter().all(|&s| s == 9) {
            return Some("the PIN must not be a run of digits such as 123456");
        }
        None
    } else if n < 10 {
        Some("a passphrase must have at least 10 characters (or use a PIN of 6 digits or more)")
    } else {
        None
    }
}

fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() || id.len() > 32 {
        return Some("the officer ID must have 1 to 32 characters".into());
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "the officer ID may hold only letters a–z, digits, '.', '_' and '-', not {c:?}"
        ));
    }
    None
}

/// The audit log's name for an ID no officer has: whatever was typed may be a PIN typed
/// into the wrong field (even all digits), which must never reach the append-only log; only
/// its length is written. Not a valid officer ID, so no officer can be counted under it.
pub const UNKNOWN_ID: &str = "(unknown ID)";

/// The lockout key of an ID no officer has: a SHA-256 of it under a secret of this process
/// (so the guard table holds no PIN either, and repeated tries of one unknown ID still lock
/// like a known one's). Starts with '?', which no officer ID can.
fn unknown_key(typed: &str) -> String {
    use sha2::{Digest, Sha256};
    static SALT: OnceLock<[u8; 32]> = OnceLock::new();
    let salt = SALT.get_or_init(|| {
        let mut b = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        b
    });
    let mut h = Sha256::new();
    h.update(salt);
    h.update(typed.as_bytes());
    format!("?{}", hex::encode(&h.finalize()[..12]))
}

/// The log's readers for an officer who may read it (see [`Db::as_officer`]).
pub struct OfficerView<'a> {
    db: &'a Db,
}

impl OfficerView<'_> {
    pub fn bookmarks(&self, limit: usize) -> Result<Vec<crate::Bookmark>> {
        self.db.bookmarks(limit)
    }
    pub fn bookmark_snapshot(&self, id: i64) -> Result<Option<Vec<u8>>> {
        self.db.bookmark_snapshot(id)
    }
    pub fn search(&self, q: &crate::Query) -> Result<Vec<crate::Incident>> {
        self.db.search(q)
    }
    pub fn incident_detail(&self, id: i64) -> Result<crate::IncidentDetail> {
        self.db.incident_detail(id)
    }
    pub fn stats(&self, q: &crate::Query) -> Result<crate::Stats> {
        self.db.stats(q)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Setting {
    /// Minutes without input before the screen locks (0: never).
    IdleLockMinutes(u32),
    /// The workstation's zone (IANA name).
    TimeZone(String),
}

impl Setting {
    pub fn key(&self) -> &'static str {
        match self {
            Setting::IdleLockMinutes(_) => "idle_lock_minutes",
            Setting::TimeZone(_) => "time_zone",
        }
    }
    fn value(&self) -> String {
        match self {
            Setting::IdleLockMinutes(m) => m.to_string(),
            Setting::TimeZone(z) => z.clone(),
        }
    }
}

/// The workstation settings as stored (defaults where none was set).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub idle_lock_minutes: u32,
    pub time_zone: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            idle_lock_minutes: 10,
            time_zone: mt_core::time::DEFAULT_ZONE.name().to_owned(),
        }
    }
}

const OPERATOR_COLUMNS: &str = "id, name, role, unit, disabled, must_change_pin";

fn operator_row(r: &rusqlite::Row) -> rusqlite::Result<Operator> {
    let role: String = r.get(2)?;
    Ok(Operator {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        unit: r.get(3)?,
        disabled: r.get::<_, i64>(4)? != 0,
        must_change_pin: r.get::<_, i64>(5)? != 0,
    })
}

impl Db {
    pub fn operator_count(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT count(*) FROM operator", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Every officer, by ID.
    pub fn operators(&self) -> Result<Vec<Operator>> {
        let mut s = self
            .conn
            .prepare(&format!(
                "SELECT {OPERATOR_COLUMNS} FROM operator ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = s
            .query_map([], operator_row)
            .and_then(|it| it.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    pub fn operator(&self, id: &str) -> Result<Option<Operator>> {
        self.conn
            .query_row(
                &format!("SELECT {OPERATOR_COLUMNS} FROM operator WHERE id = ?1"),
                params![id],
                operator_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The officer `who`, if they may do `right` now; the store's own check, made before
    /// every action whatever the UI showed.
    pub fn require(&self, who: &str, right: Right) -> Result<Operator> {
        let forbidden = |why: String| StoreError::Forbidden {
            operator: who.to_owned(),
            action: right.as_str(),
            why,
        };
        let Some(op) = self.operator(who)? else {
            return Err(forbidden("no such officer".into()));
        };
        if op.disabled {
            return Err(forbidden("the officer is disabled".into()));
        }
        if op.must_change_pin {
            return Err(forbidden("the officer must choose a new PIN first".into()));
        }
        if !op.role.may(right) {
            return Err(forbidden(format!(
                "the role {} does not carry it (needs {})",
                op.role.as_str(),
                right.least_role().as_str()
            )));
        }
        Ok(op)
    }

    /// The log as `who` may read it: bookmarks, incidents, statistics and stills need the
    /// operator's rights (a viewer watches live pictures only). The UI reads through this;
    /// the plain readers of [`Db`] are for the workstation's own tools (export, benchmarks).
    pub fn as_officer(&self, who: &str) -> Result<OfficerView<'_>> {
        self.require(who, Right::Bookmark)?;
        Ok(OfficerView { db: self })
    }

    /// The active supervisors other than `except`.
    fn other_active_supervisors(&self, except: &str) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM operator WHERE role = 'supervisor' AND disabled = 0 AND id <> ?1",
                params![except],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// An officer making a change needs `right`; the shell is trusted (it can write the file).
    fn check_by(&self, by: By, right: Right) -> Result<()> {
        if let By::Officer(id) = by {
            self.require(id, right)?;
        }
        Ok(())
    }

    /// Writes one change to an officer's row with its audit row, in one transaction.
    fn change_operator(
        &mut self,
        by: &str,
        id: &str,
        action: &str,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<()> {
        let p = self.path.display().to_string();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        let n = tx.execute(sql, args).map_err(|e| classify(&p, e))?;
        if n == 0 {
            return Err(StoreError::Invalid(format!(
                "no officer with the ID {id:?}"
            )));
        }
        let subject = format!("operator:{id}");
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        audit::append(&tx, now_ms(), by, action, &subject, &content)
            .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(())
    }

    /// Adds an officer. `by` None: the first run, which creates the first supervisor (refused
    /// once anyone exists).
    pub fn add_operator(
        &mut self,
        by: Option<By>,
        id: &str,
        name: &str,
        role: Role,
        pin: &str,
    ) -> Result<Operator> {
        self.add_officer(by, id, name, "", role, pin, false)
    }

    /// Adds an officer with rank/unit; `must_change_pin`: the PIN is a first one the officer
    /// replaces at their first sign-in (set in the same row, one transaction).
    #[allow(clippy::too_many_arguments)]
    pub fn add_officer(
        &mut self,
        by: Option<By>,
        id: &str,
        name: &str,
        unit: &str,
        role: Role,
        pin: &str,
        must_change_pin: bool,
    ) -> Result<Operator> {
        let id = id.trim();
        if let Some(e) = id_problem(id) {
            return Err(StoreError::Invalid(e));
        }
        if let Some(e) = pin_problem(pin) {
            return Err(StoreError::Invalid(e.into()));
        }
        let name = if name.trim().is_empty() {
            id
        } else {
            name.trim()
        };
        match by {
            None if self.operator_count()? > 0 => {
                return Err(StoreError::Invalid(
                    "only a supervisor may add an officer".into(),
                ))
            }
            None if role != Role::Supervisor => {
                return Err(StoreError::Invalid(
                    "the first operator must be a supervisor".into(),
                ))
            }
            Some(b) => self.check_by(b, Right::ManageOfficers)?,
            None => {}
        }
        if self.operator(id)?.is_some() {
            return Err(StoreError::Invalid(format!(
                "an officer with the ID {id:?} already exists"
            )));
        }
        let hash = hash_pin(pin)?;
        let now = now_ms();
        let p = self.path.display().to_string();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        tx.execute(
            "INSERT INTO operator (id, name, role, pin_argon2, created_ms, unit, must_change_pin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, name, role.as_str(), hash, now, unit.trim(), must_change_pin as i64],
        )
        .map_err(|e| classify(&p, e))?;
        let subject = format!("operator:{id}");
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        let who = by.map(|b| b.audit_name()).unwrap_or_else(|| id.to_owned());
        audit::append(&tx, now, &who, "operator_create", &subject, &content)
            .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(Operator {
            id: id.into(),
            name: name.into(),
            role,
            unit: unit.trim().into(),
            disabled: false,
            must_change_pin,
        })
    }

    /// Changes an officer's name, unit and role. The last active supervisor keeps the role.
    pub fn update_officer(
        &mut self,
        by: By,
        id: &str,
        name: &str,
        unit: &str,
        role: Role,
    ) -> Result<()> {
        self.check_by(by, Right::ManageOfficers)?;
        let Some(cur) = self.operator(id)? else {
            return Err(StoreError::Invalid(format!(
                "no officer with the ID {id:?}"
            )));
        };
        if cur.role == Role::Supervisor
            && role != Role::Supervisor
            && !cur.disabled
            && self.other_active_supervisors(id)? == 0
        {
            return Err(StoreError::Invalid(format!(
                "{id} is the last active supervisor: make another officer supervisor first"
            )));
        }
        let name = if name.trim().is_empty() {
            cur.name.as_str()
        } else {
            name.trim()
        };
        let name = name.to_owned();
        self.change_operator(
            &by.audit_name(),
            id,
            "operator_update",
            "UPDATE operator SET name = ?1, unit = ?2, role = ?3 WHERE id = ?4",
            &[&name, &unit.trim(), &role.as_str(), &id],
        )
    }

    /// Disables or re-enables an officer; nobody can disable the last active supervisor.
    pub fn set_disabled(&mut self, by: By, id: &str, disabled: bool) -> Result<()> {
        self.check_by(by, Right::ManageOfficers)?;
        let Some(cur) = self.operator(id)? else {
            return Err(StoreError::Invalid(format!(
                "no officer with the ID {id:?}"
            )));
        };
        if disabled
            && cur.role == Role::Supervisor
            && !cur.disabled
            && self.other_active_supervisors(id)? == 0
        {
            return Err(StoreError::Invalid(format!(
                "{id} is the last active supervisor and cannot be disabled"
            )));
        }
        self.change_operator(
            &by.audit_name(),
            id,
            if disabled {
                "operator_disable"
            } else {
                "operator_enable"
            },
            "UPDATE operator SET disabled = ?1 WHERE id = ?2",
            &[&(disabled as i64), &id],
        )
    }

    /// Gives an officer a temporary PIN they must change at their next sign-in; clears a
    /// lockout of the ID.
    pub fn reset_pin(&mut self, by: By, id: &str, temporary_pin: &str) -> Result<()> {
        self.check_by(by, Right::ManageOfficers)?;
        if let Some(e) = pin_problem(temporary_pin) {
            return Err(StoreError::Invalid(e.into()));
        }
        let hash = hash_pin(temporary_pin)?;
        self.change_operator(
            &by.audit_name(),
            id,
            "operator_reset_pin",
            "UPDATE operator SET pin_argon2 = ?1, must_change_pin = 1 WHERE id = ?2",
            &[&hash, &id],
        )?;
        self.conn
            .execute("DELETE FROM sign_in_guard WHERE id = ?1", params![id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The officer chooses a new PIN (after a reset, or at will): the current one is checked
    /// like a sign-in (counted against the lockout, failures audited).
    pub fn change_pin(&mut self, id: &str, current: &str, new: &str) -> Result<Operator> {
        if let Some(e) = pin_problem(new) {
            return Err(StoreError::Invalid(e.into()));
        }
        if new == current {
            return Err(StoreError::Invalid(
                "the new PIN must differ from the current one".into(),
            ));
        }
        let id = id.trim();
        let op = self.check_pin(id, current, "pin_change", false)?;
        if op.disabled {
            return Err(StoreError::Disabled);
        }
        let hash = hash_pin(new)?;
        self.change_operator(
            id,
            id,
            "operator_pin_change",
            "UPDATE operator SET pin_argon2 = ?1, must_change_pin = 0 WHERE id = ?2",
            &[&hash, &id],
        )?;
        self.operator(id)?
            .ok_or_else(|| StoreError::Invalid(format!("no officer with the ID {id:?}")))
    }

    /// Checks an officer's PIN and records the sign-in. Every failure is audited; after
    /// [`LOCK_AFTER`] consecutive failures the typed ID is locked for a growing time. An
    /// unknown ID goes through the same steps (a hash check, a guard row, an audit row) so
    /// it answers in the same time as a known one with a wrong PIN.
    pub fn sign_in(&mut self, id: &str, pin: &str) -> Result<Operator> {
        let id = id.trim();
        let mut op = self.check_pin(id, pin, "sign_in", true)?;
        if op.disabled {
            self.audit(id, "sign_in_refused_disabled", "")?;
            return Err(StoreError::Disabled);
        }
        if !op.must_change_pin && pin_problem(pin).is_some() {
            // A PIN from before today's policy: it still opens, once, to choose a new one.
            self.change_operator(
                id,
                id,
                "operator_pin_below_policy",
                "UPDATE operator SET must_change_pin = 1 WHERE id = ?1",
                &[&id],
            )?;
            op.must_change_pin = true;
        }
        self.audit(id, "sign_in", "")?;
        Ok(op)
    }

    /// The lockout and the PIN check shared by sign-in and PIN change (`what`: the action
    /// named in the audit rows, `<what>_failed`, `<what>_refused_locked`). An ID no officer
    /// has is counted under [`unknown_key`] and audited as [`UNKNOWN_ID`] with its length:
    /// what was typed in the ID field may be a PIN. `rehash`: make an older hash again with
    /// today's parameters when the PIN is right (not when it is about to be replaced).
    fn check_pin(&mut self, id: &str, pin: &str, what: &str, rehash: bool) -> Result<Operator> {
        let dummy = dummy_hash();
        let now = now_ms();
        let row: Option<(Operator, String)> = self
            .conn
            .query_row(
                &format!("SELECT {OPERATOR_COLUMNS}, pin_argon2 FROM operator WHERE id = ?1"),
                params![id],
                |r| Ok((operator_row(r)?, r.get(6)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let (key, who, typed) = match &row {
            Some(_) => (id.to_owned(), id.to_owned(), String::new()),
            None => (
                unknown_key(id),
                UNKNOWN_ID.to_owned(),
                format!(";typed_chars={}", id.chars().count()),
            ),
        };
        let locked_until: i64 = self
            .conn
            .query_row(
                "SELECT locked_until_ms FROM sign_in_guard WHERE id = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .unwrap_or(0);
        if locked_until > now {
            self.audit(
                &who,
                &format!("{what}_refused_locked"),
                typed.trim_start_matches(';'),
            )?;
            return Err(StoreError::Locked {
                seconds: ((locked_until - now) + 999) / 1000,
            });
        }
        let good = verify_pin(pin, row.as_ref().map_or(dummy, |(_, h)| h.as_str()));
        let Some((op, hash)) = row.filter(|_| good) else {
            // Counted and audited in one transaction, the count incremented in SQL, so two
            // workstation processes guessing at once cannot lose a failure.
            let p = self.path.display().to_string();
            let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
            let failures: i64 = tx
                .query_row(
                    "INSERT INTO sign_in_guard (id, failures, locked_until_ms) VALUES (?1, 1, 0)
                     ON CONFLICT (id) DO UPDATE SET failures = failures + 1 RETURNING failures",
                    params![key],
                    |r| r.get(0),
                )
                .map_err(|e| classify(&p, e))?;
            let lock_s = if failures >= LOCK_AFTER {
                (LOCK_BASE_S << (failures - LOCK_AFTER).min(20)).min(LOCK_MAX_S)
            } else {
                0
            };
            if lock_s > 0 {
                tx.execute(
                    "UPDATE sign_in_guard SET locked_until_ms = ?2 WHERE id = ?1",
                    params![key, now + lock_s * 1000],
                )
                .map_err(|e| classify(&p, e))?;
            }
            let mut subject = format!("failures={failures}");
            if lock_s > 0 {
                subject += &format!(";locked_s={lock_s}");
            }
            subject += &typed;
            audit::append(&tx, now, &who, &format!("{what}_failed"), &subject, "")
                .map_err(|e| classify(&p, e))?;
            tx.commit().map_err(|e| classify(&p, e))?;
            self.note_write();
            return Err(if lock_s > 0 {
                StoreError::Locked { seconds: lock_s }
            } else {
                StoreError::BadCredentials
            });
        };
        // A good PIN clears this ID's count, and the unknown IDs' counts whose locks ended
        // (their keys mean nothing after a restart).
        self.conn
            .execute(
                "DELETE FROM sign_in_guard WHERE id = ?1 OR (substr(id, 1, 1) = '?' AND locked_until_ms < ?2)",
                params![key, now],
            )
            .map_err(|e| self.err(e))?;
        if rehash
            && !op.disabled
            && !hash.starts_with(&current_phc_prefix())
            && pin_problem(pin).is_none()
        {
            // A hash made with weaker parameters (before this version): made again with
            // today's, so this ID's check costs what every other one does.
            let new = hash_pin(pin)?;
            self.change_operator(
                id,
                id,
                "operator_pin_rehash",
                "UPDATE operator SET pin_argon2 = ?1 WHERE id = ?2",
                &[&new, &id],
            )?;
        }
        Ok(op)
    }

    pub fn sign_out(&mut self, id: &str) -> Result<()> {
        self.audit(id, "sign_out", "")
    }

    /// Shift change: `from` signs out and `to` signs in, both in the audit log. `from` stays
    /// signed in if `to`'s sign-in fails.
    pub fn shift_change(&mut self, from: &str, to: &str, pin: &str) -> Result<Operator> {
        let op = self.sign_in(to, pin)?;
        self.audit(from, "sign_out_shift_change", &format!("to={}", op.id))?;
        Ok(op)
    }

    // ---- settings ----------------------------------------------------------------------

    pub fn settings(&self) -> Result<Settings> {
        let mut s = Settings::default();
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM setting")
            .map_err(|e| self.err(e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|it| it.collect())
            .map_err(|e| self.err(e))?;
        for (k, v) in rows {
            match k.as_str() {
                "idle_lock_minutes" => {
                    if let Ok(m) = v.parse() {
                        s.idle_lock_minutes = m
                    }
                }
                "time_zone" => s.time_zone = v,
                _ => {}
            }
        }
        Ok(s)
    }

    /// Changes a workstation setting (supervisors), audited.
    pub fn set_setting(&mut self, by: By, setting: &Setting) -> Result<()> {
        self.check_by(by, Right::Settings)?;
        match setting {
            Setting::IdleLockMinutes(m) if *m > 240 => {
                return Err(StoreError::Invalid(
                    "idle lock: at most 240 minutes (0 turns it off)".into(),
                ))
            }
            Setting::TimeZone(z) => {
                mt_core::time::parse_zone(z).map_err(StoreError::Invalid)?;
            }
            _ => {}
        }
        let p = self.path.display().to_string();
        let now = now_ms();
        let who = by.audit_name();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        tx.execute(
            "INSERT INTO setting (key, value, updated_ms, updated_by) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET value = ?2, updated_ms = ?3, updated_by = ?4",
            params![setting.key(), setting.value(), now, who],
        )
        .map_err(|e| classify(&p, e))?;
        let subject = format!("setting:{}", setting.key());
        let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
        audit::append(&tx, now, &who, "setting_change", &subject, &content)
            .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        Ok(())
    }

    /// Appends an audit row for `who` after checking they may do `right` (playback, search,
    /// opening an archive …).
    pub fn audit_as(&mut self, who: &str, right: Right, action: &str, subject: &str) -> Result<()> {
        self.require(who, right)?;
        self.audit(who, action, subject)
    }
}
