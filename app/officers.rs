//! `matthan operator | settings | audit`: officers, workstation settings and the audit trail
//! from a shell. Whoever runs these can already write the log file, so the changes are made
//! as the shell user (audited as `shell:<user>`), not as a signed-in officer.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use mt_store::{By, Db, Role, Setting};

use crate::{OperatorCmd, SettingsCmd};

/// The OS user running the command, from the password database by the process's real uid
/// (not `$USER`, which anyone can set); `uid<N>` when the uid has no entry.
pub(crate) fn shell_user() -> String {
    let uid = unsafe { libc::getuid() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes only into `pwd` and `buf`, whose sizes it is given.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc == 0 && !out.is_null() && !pwd.pw_name.is_null() {
        // SAFETY: on success pw_name points at a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        if let Ok(n) = name.to_str() {
            if !n.is_empty() {
                return n.to_owned();
            }
        }
    }
    format!("uid{uid}")
}

fn read_pin(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from standard input"))?;
    let pin = line.trim_end_matches(['\r', '\n']).to_owned();
    if pin.is_empty() {
        bail!("no {what} on standard input (e.g. `printf '%s\\n' \"$PIN\" | matthan operator …`)");
    }
    Ok(pin)
}

fn role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s).with_context(|| {
        format!("--role {s:?}: expected viewer, operator, investigator or supervisor")
    })
}

pub fn operator(db: &mut Db, cmd: OperatorCmd) -> anyhow::Result<()> {
    let user = shell_user();
    let by = By::Shell(&user);
    match cmd {
        OperatorCmd::Add {
            id,
            name,
            role: r,
            unit,
        } => {
            let r = role(&r)?;
            let pin = read_pin("PIN")?;
            // The very first officer of an empty log is the first supervisor.
            let first = db.operator_count()? == 0;
            // Everyone after them chooses their own PIN at the first sign-in.
            let op = db.add_officer((!first).then_some(by), &id, &name, &unit, r, &pin, !first)?;
            println!("added {} ({}, {})", op.id, op.name, op.role.as_str());
        }
        OperatorCmd::Disable { id } => {
            db.set_disabled(by, &id, true)?;
            println!("{id} disabled");
        }
        OperatorCmd::Enable { id } => {
            db.set_disabled(by, &id, false)?;
            println!("{id} enabled");
        }
        OperatorCmd::ResetPin { id } => {
            let pin = read_pin("temporary PIN")?;
            db.reset_pin(by, &id, &pin)?;
            println!("{id}: temporary PIN set; it must be changed at the next sign-in");
        }
        OperatorCmd::SetRole { id, role: r } => {
            let r = role(&r)?;
            let cur = db
                .operator(&id)?
                .with_context(|| format!("no officer with the ID {id:?}"))?;
            db.update_officer(by, &id, &cur.name, &cur.unit, r)?;
            println!("{id} is now {}", r.as_str());
        }
        OperatorCmd::List => {
            for o in db.operators()? {
                let state = if o.disabled {
                    "disabled"
                } else if o.must_change_pin {
                    "must-change-pin"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}{}",
                    o.id,
                    o.name,
                    o.role.as_str(),
                    state,
                    if o.unit.is_empty() {
                        String::new()
                    } else {
                        format!("\t{}", o.unit)
                    }
                );
            }
        }
    }
    Ok(())
}

pub fn settings(db: &mut Db, cmd: SettingsCmd) -> anyhow::Result<()> {
    let user = shell_user();
    match cmd {
        SettingsCmd::Show => {}
        SettingsCmd::IdleLock { minutes } => {
            db.set_setting(By::Shell(&user), &Setting::IdleLockMinutes(minutes))?
        }
        SettingsCmd::TimeZone { zone } => {
            db.set_setting(By::Shell(&user), &Setting::TimeZone(zone))?
        }
    }
    let s = db.settings()?;
    println!("idle_lock_minutes\t{}", s.idle_lock_minutes);
    println!("time_zone\t{}", s.time_zone);
    Ok(())
}

fn index_path(db: &Path, rec_dir: Option<PathBuf>) -> PathBuf {
    rec_dir
        .unwrap_or_else(|| crate::evidence::rec_dir(db))
        .join("index.db")
}

pub fn checkpoint_now(db: &mut Db, rec_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let path = db.path().to_owned();
    let key = mt_record::keys::load_or_create(&crate::evidence::key_path(&path))?;
    let file = mt_record::checkpoint::path_for(&path);
    let index = index_path(&path, rec_dir);
    match crate::evidence::checkpoint(db, Some(&index), &key, &file)? {
        Some(c) => println!(
            "checkpoint {} written to {}: audit_log row {}, segments up to {}, {}",
            c.seq,
            file.display(),
            c.audit_id,
            c.segments_to,
            mt_core::time::show(c.at_ms)
        ),
        None => println!(
            "nothing new since the last checkpoint in {}",
            file.display()
        ),
    }
    Ok(())
}

/// `matthan audit verify`: the chain and records, then every checkpoint file and archive.
/// Returns the exit code (0 all good, 1 anything wrong).
pub fn audit_verify(
    db: &Db,
    checkpoints: &[PathBuf],
    archives: &[PathBuf],
    rec_dir: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let path = db.path().to_owned();
    let rep = db.verify_audit()?;
    println!(
        "{}: {} audit rows and {} records checked",
        path.display(),
        rep.rows_checked,
        rep.records_checked
    );
    let mut problems = rep.problems.clone();
    let trust = crate::evidence::trust_store(&path, None)?;
    let index = index_path(&path, rec_dir);
    let default_file = mt_record::checkpoint::path_for(&path);
    let files: Vec<PathBuf> = if checkpoints.is_empty() {
        vec![default_file]
    } else {
        checkpoints.to_vec()
    };
    for f in &files {
        let contents = mt_record::checkpoint::read(f)?;
        problems.extend(contents.problems.iter().cloned());
        let label = f.display().to_string();
        let check = mt_record::checkpoint::check(
            db.conn(),
            Some(&index),
            &contents.checkpoints,
            &trust,
            &label,
            checkpoints.is_empty(),
        )?;
        match &check.latest_ok {
            Some(c) => println!(
                "{label}: {} checkpoint(s); the newest that holds: {} of {} (audit_log row {})",
                check.checkpoints,
                c.seq,
                mt_core::time::show(c.at_ms),
                c.audit_id
            ),
            None => println!("{label}: {} checkpoint(s), none holds", check.checkpoints),
        }
        problems.extend(check.problems);
    }
    for a in archives {
        let rep = mt_record::verify::verify(a, &trust, &|_| {});
        if rep.status() == mt_record::verify::Status::Failed {
            problems.push(format!(
                "{}: the archive does not verify, so its record of the chain cannot be used: {}",
                a.display(),
                rep.problems.first().cloned().unwrap_or_default()
            ));
            continue;
        }
        if rep.signer == Some(mt_record::keys::KeyTrust::Unknown) {
            problems.push(format!(
                "{}: signed by a key this workstation does not trust",
                a.display()
            ));
            continue;
        }
        let Some(m) = rep.manifest.as_ref() else {
            continue;
        };
        let Some(head) = m.audit_head.as_ref() else {
            println!("{}: carries no audit chain head", a.display());
            continue;
        };
        let when = mt_core::time::show(m.created_ms);
        use mt_record::checkpoint::RowNow;
        match mt_record::checkpoint::audit_row_now(db.conn(), head.id, &head.row_sha256)? {
            RowNow::Same => println!(
                "{}: audit_log row {} is as the archive of {when} recorded it",
                a.display(),
                head.id
            ),
            RowNow::Differs => problems.push(format!(
                "audit_log row {} differs from the archive {} of {when}: the chain up to it was rewritten",
                head.id,
                a.display()
            )),
            RowNow::Gone => problems.push(format!(
                "audit_log row {} is gone, but the archive {} of {when} recorded it: the newest rows were deleted",
                head.id,
                a.display()
            )),
        }
    }
    if problems.is_empty() {
        println!("OK: the chain is unbroken, every record is as audited, every checkpoint holds");
        Ok(0)
    } else {
        println!("FIRST BROKEN LINK: {}", problems[0]);
        for p in &problems[1..] {
            println!("also: {p}");
        }
        Ok(1)
    }
}
