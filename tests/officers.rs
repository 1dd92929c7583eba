//! Officers, rights and the audit trail that no one rewrites quietly: the store's own refusals,
//! lockout, sign-in timing, officer changes in the chain, signed checkpoints against
//! tampering (through `matthan audit verify`, exit 1), and one clock whatever the OS zone.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use mt_store::{By, Db, NewBookmark, NewIncident, Query, Right, Role, Setting, StoreError};

const SUP: &str = "gs01";
const PIN: &str = "135790";

fn bookmark() -> NewBookmark {
    NewBookmark {
        camera_id: "xd-001".into(),
        frame_time_ms: mt_store::now_ms(),
        pre_ms: 30_000,
        post_ms: 30_000,
        note: "Xe máy không biển số".into(),
        snapshot_png: None,
        source: "live".into(),
    }
}

fn incident() -> NewIncident {
    NewIncident {
        title: "Trộm cắp xe máy".into(),
        type_code: "theft".into(),
        occurred_ms: 1_796_123_264_120,
        ward: "Xuân Đỉnh".into(),
        camera_ids: vec!["xd-001".into()],
        bookmark_ids: vec![],
        lat_deg: None,
        lon_deg: None,
    }
}

/// A log with one officer of each role: gs01 supervisor, dt01 investigator, cb01 operator,
/// xem01 viewer (PINs 135790, 975312, 246802, 864209).
fn staffed(path: &Path) -> Db {
    let mut db = Db::open(path).unwrap();
    db.add_operator(None, SUP, "Trần Văn Giám", Role::Supervisor, PIN)
        .unwrap();
    for (id, role, pin) in [
        ("dt01", Role::Investigator, "975312"),
        ("cb01", Role::Operator, "246802"),
        ("xem01", Role::Viewer, "864209"),
    ] {
        db.add_officer(
            Some(By::Officer(SUP)),
            id,
            id,
            "CA phường Xuân Đỉnh",
            role,
            pin,
            false,
        )
        .unwrap();
    }
    db
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Forbidden { .. }))
}

fn site(id: &str) -> mt_core::CameraSite {
    mt_core::CameraSite {
        id: id.into(),
        name: "Cổng trường".into(),
        ward: "Xuân Đỉnh".into(),
        lat_deg: 21.07,
        lon_deg: 105.79,
        heading_deg: 90.0,
        fov_deg: 60.0,
        range_m: 30.0,
        planned: true,
        ..Default::default()
    }
}

#[test]
fn each_role_is_refused_by_the_store_what_it_may_not_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = staffed(&dir.path().join("log.db"));
    // Viewer: live only; not even reading the log.
    assert!(forbidden(db.as_officer("xem01").map(|_| ())));
    assert!(forbidden(db.add_bookmark("xem01", &bookmark())));
    assert!(forbidden(db.add_incident("xem01", &incident())));
    assert!(forbidden(db.audit_as(
        "xem01",
        Right::Playback,
        "playback",
        "xd-001"
    )));
    // Operator: playback, bookmarks, incidents; no export, no search, no registry.
    db.audit_as("cb01", Right::Playback, "playback", "xd-001")
        .unwrap();
    let b = db.add_bookmark("cb01", &bookmark()).unwrap();
    let inc = db.add_incident("cb01", &incident()).unwrap();
    db.add_note("cb01", inc, "Đã trích xuất hình ảnh").unwrap();
    let view = db.as_officer("cb01").unwrap();
    assert_eq!(view.bookmarks(10).unwrap().len(), 1);
    assert_eq!(view.incident_detail(inc).unwrap().notes.len(), 1);
    assert!(forbidden(db.export_csv(
        "cb01",
        &Query::default(),
        &dir.path().join("a.csv")
    )));
    assert!(forbidden(db.audit_evidence_export(
        "cb01",
        Some(inc),
        "x.zip",
        "00"
    )));
    assert!(forbidden(db.audit_as("cb01", Right::Search, "search", "")));
    assert!(
        !dir.path().join("a.csv").exists(),
        "a refused export wrote nothing"
    );
    // Investigator: + export and search; no officers, registry, catalogue, settings.
    db.export_csv("dt01", &Query::default(), &dir.path().join("b.csv"))
        .unwrap();
    db.audit_evidence_export("dt01", Some(inc), "x.zip", "00")
        .unwrap();
    assert!(forbidden(db.save_site("dt01", &site("plan-1"))));
    assert!(forbidden(db.add_officer(
        Some(By::Officer("dt01")),
        "cb09",
        "X",
        "",
        Role::Operator,
        "246813",
        false
    )));
    assert!(forbidden(
        db.set_setting(By::Officer("dt01"), &Setting::IdleLockMinutes(5))
    ));
    let dt = db.operator("dt01").unwrap().unwrap();
    let t = db.incident_types().unwrap()[0].clone();
    assert!(forbidden(db.set_incident_type(&dt, &t)));
    // Supervisor: everything.
    db.save_site(SUP, &site("plan-1")).unwrap();
    db.set_setting(By::Officer(SUP), &Setting::IdleLockMinutes(5))
        .unwrap();
    let sup = db.operator(SUP).unwrap().unwrap();
    db.set_incident_type(&sup, &t).unwrap();
    // A disabled officer and one who must change the PIN are refused everything.
    db.set_disabled(By::Officer(SUP), "cb01", true).unwrap();
    assert!(forbidden(db.add_bookmark("cb01", &bookmark())));
    db.set_disabled(By::Officer(SUP), "cb01", false).unwrap();
    db.reset_pin(By::Officer(SUP), "cb01", "510723").unwrap();
    assert!(forbidden(db.add_bookmark("cb01", &bookmark())));
    // Unknown IDs are refused too.
    assert!(forbidden(db.add_bookmark("nobody", &bookmark())));
    // What was refused left no rows.
    assert_eq!(db.bookmarks(100).unwrap().len(), 1);
    assert_eq!(db.bookmarks(100).unwrap()[0].id, b);
    assert!(db.verify_audit().unwrap().ok());
}

#[test]
fn the_last_active_supervisor_cannot_be_disabled_or_demoted() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = staffed(&dir.path().join("log.db"));
    let e = db.set_disabled(By::Officer(SUP), SUP, true).unwrap_err();
    assert!(e.to_string().contains("last active supervisor"), "{e}");
    let e = db
        .update_officer(By::Shell("root"), SUP, "G", "", Role::Operator)
        .unwrap_err();
    assert!(e.to_string().contains("last active supervisor"), "{e}");
    // With a second supervisor, the first may go.
    db.update_officer(By::Officer(SUP), "dt01", "dt01", "", Role::Supervisor)
        .unwrap();
    db.set_disabled(By::Officer("dt01"), SUP, true).unwrap();
    assert!(matches!(db.sign_in(SUP, PIN), Err(StoreError::Disabled)));
    let e = db
        .set_disabled(By::Shell("root"), "dt01", true)
        .unwrap_err();
    assert!(e.to_string().contains("last active supervisor"), "{e}");
    assert_eq!(
        db.operators()
            .unwrap()
            .iter()
            .filter(|o| o.role == Role::Supervisor && !o.disabled)
            .count(),
        1
    );
}

fn audit_actions(db: &Db) -> Vec<(String, String, String)> {
    let mut s = db
        .conn()
        .prepare("SELECT operator_id, action, subject FROM audit_log ORDER BY id")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn five_wrong_pins_lock_the_id_for_a_growing_time_and_every_failure_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = staffed(&dir.path().join("log.db"));
    for _ in 0..4 {
        assert!(matches!(
            db.sign_in("cb01", "000001"),
            Err(StoreError::BadCredentials)
        ));
    }
    assert!(matches!(
        db.sign_in("cb01", "000001"),
        Err(StoreError::Locked { seconds: 30 })
    ));
    // Locked: even the right PIN is refused, and the time left is said.
    match db.sign_in("cb01", "246802") {
        Err(StoreError::Locked { seconds }) => assert!((28..=30).contains(&seconds), "{seconds}"),
        other => panic!("expected locked, got {other:?}"),
    }
    // The lock holds across a restart of the app (it is in the file).
    drop(db);
    let mut db = Db::open(&dir.path().join("log.db")).unwrap();
    assert!(matches!(
        db.sign_in("cb01", "246802"),
        Err(StoreError::Locked { .. })
    ));
    // When it ends, the next failure locks for twice as long.
    db.conn()
        .execute("UPDATE sign_in_guard SET locked_until_ms = 0", [])
        .unwrap();
    assert!(matches!(
        db.sign_in("cb01", "000002"),
        Err(StoreError::Locked { seconds: 60 })
    ));
    db.conn()
        .execute("UPDATE sign_in_guard SET locked_until_ms = 0", [])
        .unwrap();
    assert_eq!(db.sign_in("cb01", "246802").unwrap().id, "cb01");
    // A good sign-in starts the count again.
    assert!(matches!(
        db.sign_in("cb01", "000001"),
        Err(StoreError::BadCredentials)
    ));
    // An unknown ID locks the same way (the answer does not tell which IDs exist).
    for _ in 0..4 {
        assert!(matches!(
            db.sign_in("ghost", "000001"),
            Err(StoreError::BadCredentials)
        ));
    }
    assert!(matches!(
        db.sign_in("ghost", "000001"),
        Err(StoreError::Locked { seconds: 30 })
    ));
    let rows = audit_actions(&db);
    let failed = |id: &str| {
        rows.iter()
            .filter(|r| r.0 == id && r.1 == "sign_in_failed")
            .count()
    };
    assert_eq!(failed("cb01"), 7);
    assert_eq!(failed(mt_store::officers::UNKNOWN_ID), 5);
    assert_eq!(
        rows.iter()
            .filter(|r| r.0 == "cb01" && r.1 == "sign_in_refused_locked")
            .count(),
        2
    );
    assert!(rows
        .iter()
        .any(|r| r.0 == "cb01" && r.2 == "failures=6;locked_s=60"));
    assert!(db.verify_audit().unwrap().ok());
}

#[test]
fn an_unknown_id_costs_the_same_time_as_a_known_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = staffed(&dir.path().join("log.db"));
    let known = ["gs01", "dt01", "cb01", "xem01"];
    let (mut k, mut u) = (Vec::new(), Vec::new());
    // Interleaved, 3 wrong PINs per known ID (below the lockout), fresh unknown IDs.
    for round in 0..3 {
        for (i, id) in known.iter().enumerate() {
            let t = Instant::now();
            assert!(db.sign_in(id, "000001").is_err());
            k.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            assert!(db
                .sign_in(&format!("khong-co-{round}-{i}"), "000001")
                .is_err());
            u.push(t.elapsed().as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mk, mu) = (median(&mut k), median(&mut u));
    let ratio = mu / mk;
    eprintln!(
        "sign-in with a wrong PIN: known ID {:.0} ms, unknown ID {:.0} ms (median of 12)",
        mk * 1e3,
        mu * 1e3
    );
    assert!(
        (0.8..1.25).contains(&ratio),
        "unknown/known sign-in time {ratio:.2} (known {mk:.3} s, unknown {mu:.3} s)"
    );
    // And the PIN check is slow enough to matter against guessing: ≥ 50 ms a try here.
    assert!(mk > 0.05, "a PIN check took only {mk:.3} s");
}

#[test]
fn pin_policy_refuses_short_and_obvious_pins_and_old_pins_must_be_changed() {
    for bad in [
        "1234",
        "12345",
        "123456",
        "987654",
        "111111",
        "mật khẩu",
        "",
    ] {
        assert!(mt_store::pin_problem(bad).is_some(), "{bad:?} was accepted");
    }
    for good in ["246810", "5107234", "một hai ba bốn năm"] {
        assert!(
            mt_store::pin_problem(good).is_none(),
            "{good:?} was refused"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let mut db = staffed(&path);
    let e = db
        .add_officer(
            Some(By::Officer(SUP)),
            "cb07",
            "X",
            "",
            Role::Operator,
            "1234",
            false,
        )
        .unwrap_err();
    assert!(e.to_string().contains("at least 6 digits"), "{e}");
    let e = db
        .add_officer(
            Some(By::Officer(SUP)),
            "cb 07",
            "X",
            "",
            Role::Operator,
            "246813",
            false,
        )
        .unwrap_err();
    assert!(e.to_string().contains("officer ID"), "{e}");
    // A PIN set before the policy (a 4-digit hash in an old log) still opens, once, and the
    // officer must choose a new one before anything else.
    let old = {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        argon2::Argon2::default()
            .hash_password(b"1357", &salt)
            .unwrap()
            .to_string()
    };
    db.conn()
        .execute(
            "UPDATE operator SET pin_argon2 = ?1 WHERE id = 'cb01'",
            [&old],
        )
        .unwrap();
    // The hand edit of the PIN hash is found by verify (it was not audited)...
    let rep = db.verify_audit().unwrap();
    assert!(
        rep.problems.iter().any(|p| p.contains("operator:cb01")),
        "{:?}",
        rep.problems
    );
    let op = db.sign_in("cb01", "1357").unwrap();
    assert!(op.must_change_pin);
    assert!(forbidden(db.add_bookmark("cb01", &bookmark())));
    assert!(matches!(
        db.change_pin("cb01", "0000", "510723"),
        Err(StoreError::BadCredentials)
    ));
    assert!(db.change_pin("cb01", "1357", "1357").is_err());
    let op = db.change_pin("cb01", "1357", "510723").unwrap();
    assert!(!op.must_change_pin);
    db.add_bookmark("cb01", &bookmark()).unwrap();
    assert!(db.sign_in("cb01", "1357").is_err());
    assert!(db.sign_in("cb01", "510723").is_ok());
}

#[test]
fn officer_changes_are_each_in_the_audit_chain_and_a_hand_edit_of_an_officer_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = staffed(&dir.path().join("log.db"));
    db.update_officer(
        By::Officer(SUP),
        "cb01",
        "Lê Văn Cán",
        "Trung úy",
        Role::Investigator,
    )
    .unwrap();
    db.set_disabled(By::Officer(SUP), "cb01", true).unwrap();
    db.set_disabled(By::Officer(SUP), "cb01", false).unwrap();
    db.reset_pin(By::Officer(SUP), "cb01", "510723").unwrap();
    db.change_pin("cb01", "510723", "620834").unwrap();
    db.sign_in("cb01", "620834").unwrap();
    db.shift_change("cb01", "dt01", "975312").unwrap();
    let rows = audit_actions(&db);
    let of = |a: &str| {
        rows.iter()
            .filter(|r| r.1 == a)
            .map(|r| (r.0.as_str(), r.2.as_str()))
            .collect::<Vec<_>>()
    };
    assert_eq!(of("operator_update"), [(SUP, "operator:cb01")]);
    assert_eq!(of("operator_disable"), [(SUP, "operator:cb01")]);
    assert_eq!(of("operator_enable"), [(SUP, "operator:cb01")]);
    assert_eq!(of("operator_reset_pin"), [(SUP, "operator:cb01")]);
    assert_eq!(of("operator_pin_change"), [("cb01", "operator:cb01")]);
    assert_eq!(of("sign_out_shift_change"), [("cb01", "to=dt01")]);
    assert!(of("sign_in").contains(&("dt01", "")));
    assert!(db.verify_audit().unwrap().ok());
    let cb = db.operator("cb01").unwrap().unwrap();
    assert_eq!(
        (cb.name.as_str(), cb.unit.as_str(), cb.role),
        ("Lê Văn Cán", "Trung úy", Role::Investigator)
    );
    // Re-enabling by hand (plain SQL) is found and named.
    db.conn()
        .execute("UPDATE operator SET disabled = 1 WHERE id = 'dt01'", [])
        .unwrap();
    let rep = db.verify_audit().unwrap();
    assert!(
        rep.problems
            .iter()
            .any(|p| p.contains("operator:dt01") && p.contains("edited")),
        "{:?}",
        rep.problems
    );
}

fn matthan(args: &[&str], stdin: &str, tz: &str) -> (i32, String) {
    let (rc, out, err) =
        crate::util::run_matthan(args, stdin, &[("TZ", tz), ("USER", "it-phuong")]);
    (rc, out + &err)
}

#[test]
fn operator_command_adds_disables_resets_and_lists_officers_audited_as_the_shell_user() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let d = db.to_str().unwrap();
    let ok = |args: &[&str], stdin: &str| {
        let (code, out) = matthan(args, stdin, "UTC");
        assert_eq!(code, 0, "{args:?}: {out}");
        out
    };
    ok(
        &[
            "operator",
            "add",
            "gs01",
            "--name",
            "Trần Văn Giám",
            "--role",
            "supervisor",
            "--db",
            d,
        ],
        "135790\n",
    );
    ok(
        &[
            "operator",
            "add",
            "cb01",
            "--name",
            "Lê Thị Cán",
            "--role",
            "operator",
            "--unit",
            "Thượng úy",
            "--db",
            d,
        ],
        "246802\n",
    );
    let (code, out) = matthan(
        &[
            "operator", "add", "cb02", "--name", "X", "--role", "operator", "--db", d,
        ],
        "1234\n",
        "UTC",
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("at least 6 digits"), "{out}");
    assert!(!out.contains("1234"), "the PIN was echoed: {out}");
    let (code, out) = matthan(
        &[
            "operator", "add", "cb02", "--name", "X", "--role", "chief", "--db", d,
        ],
        "246813\n",
        "UTC",
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("expected viewer, operator, investigator or supervisor"),
        "{out}"
    );
    ok(&["operator", "disable", "cb01", "--db", d], "");
    let (code, out) = matthan(&["operator", "disable", "gs01", "--db", d], "", "UTC");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("last active supervisor"), "{out}");
    let list = ok(&["operator", "list", "--db", d], "");
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        [
            "cb01\tLê Thị Cán\toperator\tdisabled\tThượng úy",
            "gs01\tTrần Văn Giám\tsupervisor\tactive"
        ]
    );
    ok(&["operator", "enable", "cb01", "--db", d], "");
    ok(&["operator", "reset-pin", "cb01", "--db", d], "510723\n");
    let list = ok(&["operator", "list", "--db", d], "");
    assert!(
        list.contains("cb01\tLê Thị Cán\toperator\tmust-change-pin"),
        "{list}"
    );
    let mut log = Db::open(&db).unwrap();
    let op = log.sign_in("cb01", "510723").unwrap();
    assert!(op.must_change_pin);
    let rows = audit_actions(&log);
    // Audited as the OS user the command ran as (what `id -un` says), not the $USER it was
    // given (it-phuong), which anyone can set.
    let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let shell = format!("shell:{}", me.trim());
    assert!(!rows.iter().any(|r| r.0.contains("it-phuong")), "{rows:?}");
    assert!(rows.contains(&(
        shell.clone(),
        "operator_disable".into(),
        "operator:cb01".into()
    )));
    assert!(rows.contains(&(shell, "operator_reset_pin".into(), "operator:cb01".into())));
    assert!(log.verify_audit().unwrap().ok());
}

/// Recomputes the whole audit chain as someone who dropped the triggers would, so that it is
/// self-consistent again after their edit (the attacker's tool, written here on purpose).
fn recompute_chain(conn: &rusqlite::Connection) {
    use sha2::{Digest, Sha256};
    let rows: Vec<(i64, i64, String, String, String)> = conn
        .prepare("SELECT id, at_ms, operator_id, action, subject FROM audit_log ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev = String::new();
    for (id, at, op, action, subject) in rows {
        let old: String = conn
            .query_row(
                "SELECT content_sha256 FROM audit_log WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        let content = if old.is_empty() {
            old
        } else {
            mt_store::audit::content_hash(conn, &subject).unwrap()
        };
        let mut h = Sha256::new();
        for part in [
            id.to_string().as_str(),
            &at.to_string(),
            &op,
            &action,
            &subject,
            &content,
            &prev,
        ] {
            h.update(part.len().to_string());
            h.update(b":");
            h.update(part);
        }
        let hash = hex::encode(h.finalize());
        conn.execute(
            "UPDATE audit_log SET content_sha256 = ?1, prev_sha256 = ?2, row_sha256 = ?3 WHERE id = ?4",
            rusqlite::params![content, prev, hash, id],
        )
        .unwrap();
        prev = hash;
    }
}

/// A log with activity and two signed checkpoints (through the command), then more activity.
fn checkpointed(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("log.db");
    let mut db = staffed(&path);
    for _ in 0..3 {
        db.add_bookmark("cb01", &bookmark()).unwrap();
    }
    drop(db);
    let d = path.to_str().unwrap();
    let (code, out) = matthan(&["audit", "checkpoint", "--db", d], "", "UTC");
    assert_eq!(code, 0, "{out}");
    let mut db = Db::open(&path).unwrap();
    db.add_incident("cb01", &incident()).unwrap();
    db.add_bookmark("cb01", &bookmark()).unwrap();
    drop(db);
    let (code, out) = matthan(&["audit", "checkpoint", "--db", d], "", "UTC");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("checkpoint 2 written"), "{out}");
    let mut db = Db::open(&path).unwrap();
    db.add_bookmark("cb01", &bookmark()).unwrap();
    path
}

fn audit_verify(db: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["audit", "verify", "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    matthan(&args, "", "UTC")
}

#[test]
fn deleting_the_newest_audit_rows_with_their_records_is_found_against_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = checkpointed(dir.path());
    let (code, out) = audit_verify(&path, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("checkpoint(s); the newest that holds: 2"),
        "{out}"
    );
    // Cut the newest rows and the records they audit; the chain left is self-consistent, so
    // without the checkpoint nothing would show.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let head: i64 = conn
        .query_row("SELECT max(id) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    let cut = head - 4;
    conn.execute_batch(&format!(
        "DROP TRIGGER audit_log_append_only_d;
         DELETE FROM search_fts WHERE rowid IN (SELECT rowid FROM search_fts);
         DELETE FROM bookmark WHERE id IN (SELECT CAST(substr(subject, 10) AS INTEGER) FROM audit_log WHERE id > {cut} AND subject LIKE 'bookmark:%');
         DELETE FROM incident_camera; DELETE FROM incident;
         DELETE FROM audit_log WHERE id > {cut};"
    ))
    .unwrap();
    drop(conn);
    assert!(
        Db::open(&path).unwrap().verify_audit().unwrap().ok(),
        "the cut is invisible to the chain alone"
    );
    let (code, out) = audit_verify(&path, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is gone, but checkpoint 2"), "{out}");
    assert!(out.contains("the newest rows were deleted"), "{out}");
}

#[test]
fn an_edit_with_the_triggers_dropped_and_the_whole_chain_recomputed_is_found_against_a_copy_of_the_checkpoints(
) {
    let dir = tempfile::tempdir().unwrap();
    let path = checkpointed(dir.path());
    // An earlier copy of the checkpoint file, as anyone may keep (it holds no secret).
    let copy = dir.path().join("copy.checkpoints");
    std::fs::copy(mt_record::checkpoint::path_for(&path), &copy).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_log_append_only_u;
         UPDATE bookmark SET note = 'Không có gì' WHERE id = 1;",
    )
    .unwrap();
    recompute_chain(&conn);
    drop(conn);
    assert!(
        Db::open(&path).unwrap().verify_audit().unwrap().ok(),
        "the recomputed chain is self-consistent"
    );
    let (code, out) = audit_verify(&path, &["--checkpoint", copy.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("differs from checkpoint 1"), "{out}");
    assert!(out.contains("rewritten"), "{out}");
}

#[test]
fn a_checkpoint_file_cut_short_or_edited_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = checkpointed(dir.path());
    let file = mt_record::checkpoint::path_for(&path);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    // Every line carries ISO times with the offset, whatever TZ the command ran under.
    assert!(lines[0].contains("+07:00\""), "{}", lines[0]);
    std::fs::write(&file, format!("{}\n", lines[0])).unwrap();
    let (code, out) = audit_verify(&path, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the file was cut short or replaced"), "{out}");
    assert!(out.contains("2 (audit_log row"), "{out}");
    // Half a line, as a crash or a careless cut leaves it.
    std::fs::write(&file, format!("{}\n{}", lines[0], &lines[1][..40])).unwrap();
    let (code, out) = audit_verify(&path, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("line 2: not a checkpoint"), "{out}");
    // An edited line no longer matches its signature.
    let forged = lines[1].replacen("\"audit_id\":", "\"audit_id\":1", 1);
    std::fs::write(&file, format!("{}\n{forged}\n", lines[0])).unwrap();
    let (code, out) = audit_verify(&path, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the signature does not match"), "{out}");
}

fn segment(id_hint: i64) -> mt_record::index::Segment {
    mt_record::index::Segment {
        id: 0,
        camera_id: "xd-001".into(),
        start_ms: 1_796_123_264_120 + id_hint * 60_000,
        end_ms: 1_796_123_264_120 + id_hint * 60_000 + 59_900,
        frames: 1500,
        bytes: 1 << 20,
        file: format!("xd-001/{id_hint}.mp4"),
        sha256: format!("{id_hint:064}"),
        run_start_ms: 1_796_123_264_120,
        end_reason: None,
        end_detail: String::new(),
        codec: "h264".into(),
        width: 1920,
        height: 1080,
    }
}

#[test]
fn a_segment_removed_from_the_recordings_index_behind_retention_is_found_and_retention_is_not_flagged(
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    drop(staffed(&path));
    let rec = dir.path().join("recordings");
    std::fs::create_dir_all(&rec).unwrap();
    let index = mt_record::index::Index::open(&rec.join("index.db")).unwrap();
    let ids: Vec<i64> = (0..6).map(|k| index.insert(&segment(k)).unwrap()).collect();
    let d = path.to_str().unwrap();
    let (code, out) = matthan(&["audit", "checkpoint", "--db", d], "", "UTC");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("segments up to 6"), "{out}");
    // Retention removes the oldest: the checkpoint still holds.
    index.delete(ids[0]).unwrap();
    // A new segment after a removal of the newest gets a new id, never the removed one's.
    index.delete(ids[5]).unwrap();
    assert_eq!(index.insert(&segment(9)).unwrap(), 7);
    let (code, out) = audit_verify(&path, &[]);
    assert_eq!(code, 0, "{out}");
    // A segment deleted by hand (no retention record) is found.
    index
        .connection()
        .execute("DELETE FROM segment WHERE id = ?1", [ids[2]])
        .unwrap();
    let (code, out) = audit_verify(&path, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("segments 1..6 differ from checkpoint 1"),
        "{out}"
    );
}

#[test]
fn times_written_for_people_are_hanoi_times_with_the_offset_whatever_the_os_zone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let mut db = staffed(&path);
    let inc = db.add_incident("cb01", &incident()).unwrap();
    let _ = inc;
    // A title a spreadsheet would run as a formula is neutralised.
    let mut evil = incident();
    evil.title = "=HYPERLINK(\"http://x\",\"bấm\")".into();
    db.add_incident("cb01", &evil).unwrap();
    let csv = dir.path().join("out.csv");
    db.export_csv("dt01", &Query::default(), &csv).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.contains(",2026-12-01T18:07:44.120+07:00,"), "{text}");
    assert!(text.contains("\"'=HYPERLINK("), "{text}");
    drop(db);
    // The same checkpoint time under three OS zones: the file says +07:00, the command
    // prints the Hanoi wall-clock time.
    let d = path.to_str().unwrap();
    let mut shown = Vec::new();
    for tz in ["UTC", "America/New_York", "Asia/Ho_Chi_Minh"] {
        let (code, out) = matthan(&["audit", "checkpoint", "--db", d], "", tz);
        assert_eq!(code, 0, "{out}");
        let mut db = Db::open(&path).unwrap();
        db.add_bookmark("cb01", &bookmark()).unwrap();
        shown.push(out);
    }
    let file = std::fs::read_to_string(mt_record::checkpoint::path_for(&path)).unwrap();
    for (line, out) in file.lines().zip(&shown) {
        let c: mt_record::checkpoint::Checkpoint = serde_json::from_str(line).unwrap();
        assert!(c.at.ends_with("+07:00"), "{}", c.at);
        // Read back with chrono at a fixed +07:00, not with the app's own formatter.
        let t = chrono::DateTime::parse_from_rfc3339(&c.at).unwrap();
        assert_eq!(t.timestamp_millis(), c.at_ms, "{}", c.at);
        let hanoi = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
        let wall = chrono::DateTime::from_timestamp_millis(c.at_ms)
            .unwrap()
            .with_timezone(&hanoi)
            .format("%d/%m/%Y %H:%M:%S")
            .to_string();
        assert!(out.contains(&wall), "{out} should say {wall}");
    }
}

fn click(h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>, role: egui::Role, label: &str) {
    use egui_kittest::kittest::Queryable;
    h.get_by_role_and_label(role, label).click();
    crate::ui::settle(h);
}

#[test]
fn kittest_a_supervisor_adds_an_officer_who_must_change_the_pin_sees_no_export_locks_when_idle_and_hands_over_the_shift(
) {
    use egui::Role as R;
    use egui_kittest::kittest::Queryable;
    let cap = mt_capture::Capture::new(mt_capture::Timeouts::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = crate::ui::supervisor_log(dir.path());
    let mut h = crate::ui::harness(crate::ui::app(&cap, None).with_log(log));
    crate::ui::settle(&mut h);
    crate::ui::sign_in(&mut h, SUP, PIN);
    // The supervisor sees the CSV export and the officers tab.
    click(&mut h, R::Button, "Vụ việc");
    assert!(h.query_by_label("Xuất CSV").is_some());
    click(&mut h, R::Button, "Cán bộ");
    crate::ui::type_into(&mut h, R::TextInput, "Mã cán bộ", "cb05");
    crate::ui::type_into(&mut h, R::TextInput, "Họ tên", "Nguyễn Văn Năm");
    crate::ui::type_into(
        &mut h,
        R::TextInput,
        "Cấp bậc, đơn vị",
        "Hạ sĩ – CA phường Xuân Đỉnh",
    );
    crate::ui::type_into(&mut h, R::PasswordInput, "PIN ban đầu", "510723");
    click(&mut h, R::Button, "Thêm cán bộ");
    crate::ui::settle(&mut h);
    // In the file: an operator who must change the first PIN, created by gs01.
    {
        let d = Db::open(&db).unwrap();
        let o = d.operator("cb05").unwrap().expect("cb05 was saved");
        assert_eq!(
            (o.role, o.must_change_pin, o.unit.as_str()),
            (Role::Operator, true, "Hạ sĩ – CA phường Xuân Đỉnh")
        );
        let rows = audit_actions(&d);
        assert!(rows.contains(&(SUP.into(), "operator_create".into(), "operator:cb05".into())));
    }
    assert!(
        h.query_by_label("phải đổi PIN").is_some(),
        "the list shows the new officer's state"
    );
    click(&mut h, R::Button, "Đăng xuất");
    crate::ui::sign_in(&mut h, "cb05", "510723");
    // First sign-in: the new PIN before anything else; the wall stays hidden.
    assert!(h.query_by_label("Ô 1").is_none());
    let op = h.state().log.as_ref().unwrap().operator.clone();
    assert!(op.as_ref().is_some_and(|o| o.must_change_pin), "{op:?}");
    assert!(h.query_by_role_and_label(R::Button, "Đổi mã PIN").is_some());
    crate::ui::type_into(&mut h, R::PasswordInput, "Mã PIN hiện tại", "510723");
    crate::ui::type_into(&mut h, R::PasswordInput, "Mã PIN mới", "624801");
    crate::ui::type_into(&mut h, R::PasswordInput, "Nhập lại mã PIN mới", "624801");
    click(&mut h, R::Button, "Đổi mã PIN");
    crate::ui::settle(&mut h);
    assert!(
        h.query_by_label("Ô 1").is_some(),
        "the wall after the PIN change"
    );
    assert!(Db::open(&db)
        .unwrap()
        .operator("cb05")
        .unwrap()
        .is_some_and(|o| !o.must_change_pin));
    // As an operator: incidents yes, CSV export no, officers tab no.
    click(&mut h, R::Button, "Vụ việc");
    assert!(
        h.query_by_label("Xuất CSV").is_none(),
        "an operator sees no export"
    );
    assert!(h.query_by_label("Cán bộ").is_none(), "nor the officers tab");
    // Idle: the screen locks (a short limit stands in for the supervisor's minutes).
    h.state_mut().log.as_mut().unwrap().session.idle_lock =
        Some(std::time::Duration::from_millis(300));
    std::thread::sleep(std::time::Duration::from_millis(400));
    h.run_steps(2);
    assert!(h.query_by_label("Màn hình đã khoá").is_some());
    crate::ui::settle(&mut h);
    crate::ui::type_into(&mut h, R::PasswordInput, "Mã PIN", "000001");
    click(&mut h, R::Button, "Mở khoá");
    crate::ui::settle(&mut h);
    assert!(h.query_by_label("Sai mã cán bộ hoặc mã PIN").is_some());
    h.state_mut().log.as_mut().unwrap().session.idle_lock = None;
    crate::ui::type_into(&mut h, R::PasswordInput, "Mã PIN", "624801");
    click(&mut h, R::Button, "Mở khoá");
    crate::ui::settle(&mut h);
    assert!(h.query_by_label("Màn hình đã khoá").is_none(), "unlocked");
    assert_eq!(
        h.state()
            .log
            .as_ref()
            .unwrap()
            .operator
            .as_ref()
            .unwrap()
            .id,
        "cb05"
    );
    // Shift change: gs01 takes over from cb05.
    click(&mut h, R::Button, "Đổi ca");
    h.run_steps(2);
    assert!(
        h.state().log.as_ref().unwrap().session.shift_open,
        "the shift window is open"
    );
    crate::ui::type_into(&mut h, R::TextInput, "Mã cán bộ nhận ca", SUP);
    crate::ui::type_into(&mut h, R::PasswordInput, "Mã PIN", PIN);
    click(&mut h, R::Button, "Nhận ca");
    crate::ui::settle(&mut h);
    assert_eq!(
        h.state()
            .log
            .as_ref()
            .unwrap()
            .operator
            .as_ref()
            .unwrap()
            .id,
        SUP
    );
    let rows = audit_actions(&Db::open(&db).unwrap());
    let has = |who: &str, what: &str| rows.iter().any(|r| r.0 == who && r.1 == what);
    assert!(has("cb05", "screen_lock"));
    assert!(has("cb05", "sign_in_failed"));
    assert!(has("cb05", "screen_unlock"));
    assert!(rows.contains(&(
        "cb05".into(),
        "sign_out_shift_change".into(),
        "to=gs01".into()
    )));
    assert!(has(SUP, "sign_in"));
}

#[test]
fn officers_of_a_version_5_log_keep_their_pins_roles_and_audit_through_the_officers_migration() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let dir = tempfile::tempdir().unwrap();
    // A PIN hash as version 5 made them (argon2's default parameters).
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    let old_hash = argon2::Argon2::default()
        .hash_password(b"246802", &salt)
        .unwrap()
        .to_string();
    let insert = "INSERT INTO operator (id, name, role, pin_argon2, created_ms) VALUES ('cb01', 'Lê Thị Cán', 'operator', ?1, 5)";
    // The record's hash as the audit saw it (computed on a scratch copy of the same row).
    let scratch = Db::open(&dir.path().join("scratch.db")).unwrap();
    scratch.conn().execute(insert, [&old_hash]).unwrap();
    let content = mt_store::audit::content_hash(scratch.conn(), "operator:cb01").unwrap();
    let path = dir.path().join("v5.db");
    {
        let v5 = Db::open_at_version(&path, 5).unwrap();
        v5.conn().execute(insert, [&old_hash]).unwrap();
        mt_store::audit::append(
            v5.conn(),
            5,
            "cb01",
            "operator_create",
            "operator:cb01",
            &content,
        )
        .unwrap();
        v5.conn()
            .execute(
                "INSERT INTO incident (title, type_code, status, occurred_ms, created_by, created_ms, updated_ms) VALUES ('Cướp giật', 'snatching', 'new', 5, 'cb01', 5, 5)",
                [],
            )
            .unwrap();
    }
    let mut db = Db::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), mt_store::SCHEMA_VERSION);
    let fk: Vec<String> = db
        .conn()
        .prepare("PRAGMA foreign_key_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(fk.is_empty(), "{fk:?}");
    let o = db.operator("cb01").unwrap().unwrap();
    assert_eq!(
        (o.role, o.disabled, o.must_change_pin),
        (Role::Operator, false, false)
    );
    // The audit written under version 5 still checks: the new columns fold in only when set.
    let rep = db.verify_audit().unwrap();
    assert!(
        rep.problems.iter().all(|p| p.starts_with("incident:")),
        "{:?}",
        rep.problems
    );
    // The old PIN opens, and its hash is made again with today's parameters (audited).
    db.sign_in("cb01", "246802").unwrap();
    let now: String = db
        .conn()
        .query_row(
            "SELECT pin_argon2 FROM operator WHERE id = 'cb01'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(now.starts_with("$argon2id$v=19$m=65536,t=3,p=1$"), "{now}");
    assert!(audit_actions(&db)
        .iter()
        .any(|r| r.1 == "operator_pin_rehash"));
    db.sign_in("cb01", "246802").unwrap();
    // The foreign keys hold after the rebuild: an incident by cb01 is still cb01's, and a
    // bookmark by an officer who does not exist is refused.
    assert!(db
        .conn()
        .execute(
            "INSERT INTO bookmark (camera_id, operator_id, frame_time_ms, created_ms) VALUES ('x', 'ghost', 1, 1)",
            []
        )
        .is_err());
}

#[test]
fn a_pin_typed_into_the_id_field_never_reaches_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = staffed(&dir.path().join("log.db"));
    assert!(db.sign_in("cb01 246802", "").is_err());
    assert!(db.sign_in("246802!", "246802").is_err());
    // All digits is a well-formed ID: still not written, since no officer has it.
    assert!(db.sign_in("246802", "").is_err());
    assert!(db.sign_in("246802", "246802").is_err());
    let rows = audit_actions(&db);
    assert!(
        !rows
            .iter()
            .any(|r| r.0.contains("246802") || r.2.contains("246802")),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r.0 == mt_store::officers::UNKNOWN_ID
        && r.1 == "sign_in_failed"
        && r.2.contains("typed_chars=11")));
    // Nor does it reach the guard table.
    let keys: Vec<String> = db
        .conn()
        .prepare("SELECT id FROM sign_in_guard")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!keys.iter().any(|k| k.contains("246802")), "{keys:?}");
    // A wrong current PIN when changing it counts against the lockout and is audited.
    for _ in 0..4 {
        assert!(matches!(
            db.change_pin("cb01", "000001", "510723"),
            Err(StoreError::BadCredentials)
        ));
    }
    assert!(matches!(
        db.change_pin("cb01", "000001", "510723"),
        Err(StoreError::Locked { seconds: 30 })
    ));
    assert!(matches!(
        db.sign_in("cb01", "246802"),
        Err(StoreError::Locked { .. })
    ));
    assert_eq!(
        audit_actions(&db)
            .iter()
            .filter(|r| r.0 == "cb01" && r.1 == "pin_change_failed")
            .count(),
        5
    );
}

#[test]
fn kittest_a_playback_the_store_refuses_closes_and_asks_for_a_sign_in_again() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = crate::ui::supervisor_log(dir.path());
    Db::open(&db)
        .unwrap()
        .add_officer(
            Some(By::Officer(SUP)),
            "gs02",
            "G2",
            "",
            Role::Supervisor,
            "975312",
            false,
        )
        .unwrap();
    let rec = mt_record::Recorder::start(mt_record::RecConfig::new(dir.path().join("rec")))
        .unwrap()
        .0;
    let mut app = crate::ui::empty_app().with_log(log);
    app.recorder = Some(rec);
    let mut h = crate::ui::harness(app);
    crate::ui::settle(&mut h);
    crate::ui::sign_in(&mut h, SUP, PIN);
    assert!(h.state().log.as_ref().unwrap().operator.is_some());
    // Disabled from the shell (or another workstation) while signed in here.
    Db::open(&db)
        .unwrap()
        .set_disabled(By::Shell("root"), SUP, true)
        .unwrap();
    h.key_press(egui::Key::P);
    let back = crate::util::wait_for(std::time::Duration::from_secs(10), || {
        h.run_steps(1);
        h.state()
            .log
            .as_ref()
            .unwrap()
            .operator
            .is_none()
            .then_some(())
    });
    assert!(back.is_some(), "the officer was not signed out");
    assert!(h.state().playback.is_none(), "the playback was closed");
    {
        use egui_kittest::kittest::Queryable;
        h.run_steps(2);
        assert!(h
            .query_by_label("Vai trò của đồng chí không có quyền này")
            .is_some());
    }
    let rows = audit_actions(&Db::open(&db).unwrap());
    assert!(
        !rows.iter().any(|r| r.0 == SUP && r.1 == "playback"),
        "{rows:?}"
    );
}

#[test]
fn kittest_under_the_lock_screen_the_wall_keeps_decoding_its_live_camera() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = crate::timeline::rig(
        None,
        60.0,
        &[(
            "/live/lock",
            crate::timeline::live(15, serde_json::json!({})),
        )],
        "",
    );
    let (_db, mut h) =
        crate::timeline::signed_in_wall(dir.path(), std::mem::take(&mut r.cams), None);
    let decoded = |h: &egui_kittest::Harness<'static, mt_ui::MatThanApp>| {
        h.state().cameras[0].main.stats().frames_decoded
    };
    crate::util::wait_for(std::time::Duration::from_secs(20), || {
        h.run_steps(1);
        (decoded(&h) > 10).then_some(())
    })
    .expect("the live camera is decoded on the wall");
    h.state_mut().log.as_mut().unwrap().session.lock_now();
    h.run_steps(2);
    {
        use egui_kittest::kittest::Queryable;
        assert!(h.query_by_label("Màn hình đã khoá").is_some());
    }
    let before = decoded(&h);
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(2) {
        h.run_steps(1);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let during = decoded(&h) - before;
    // 15 fps for 2 s: most of 30 pictures, not a stream stopped for the lock.
    assert!(
        during >= 20,
        "{during} pictures decoded in 2 s under the lock"
    );
    assert!(h.state().cameras[0].main.is_wanted());
}

#[test]
fn kittest_the_first_run_makes_the_first_supervisor_only_with_a_pin_the_policy_accepts() {
    use egui::Role as R;
    use egui_kittest::kittest::Queryable;
    let cap = mt_capture::Capture::new(mt_capture::Timeouts::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let log = mt_ui::log::LogUi::new(
        mt_store::thread::StoreThread::start(&db).unwrap(),
        dir.path().join("exports"),
    );
    let mut h = crate::ui::harness(crate::ui::app(&cap, None).with_log(log));
    crate::ui::settle(&mut h);
    assert!(h
        .query_by_label("Lần chạy đầu: tạo giám sát viên đầu tiên")
        .is_some());
    crate::ui::type_into(&mut h, R::TextInput, "Mã cán bộ", "gs01");
    crate::ui::type_into(&mut h, R::TextInput, "Họ tên", "Trần Văn Giám");
    crate::ui::type_into(&mut h, R::PasswordInput, "Mã PIN", "1234");
    click(&mut h, R::Button, "Tạo và đăng nhập");
    h.run_steps(2);
    assert!(h
        .query_by_label_contains("Mã PIN ít nhất 6 chữ số")
        .is_some());
    assert_eq!(
        Db::open(&db).unwrap().operator_count().unwrap(),
        0,
        "nothing saved"
    );
    crate::ui::type_into(&mut h, R::PasswordInput, "Mã PIN", "246810");
    click(&mut h, R::Button, "Tạo và đăng nhập");
    crate::ui::settle(&mut h);
    let op = h
        .state()
        .log
        .as_ref()
        .unwrap()
        .operator
        .clone()
        .expect("signed in");
    assert_eq!((op.id.as_str(), op.role), ("gs01", Role::Supervisor));
    assert_eq!(
        Db::open(&db)
            .unwrap()
            .operator("gs01")
            .unwrap()
            .map(|o| o.name),
        Some("Trần Văn Giám".to_owned())
    );
}

#[test]
fn kittest_trusting_a_key_is_refused_by_the_store_once_the_supervisor_was_disabled() {
    use egui::Role as R;
    use egui_kittest::kittest::Queryable;
    let cap = mt_capture::Capture::new(mt_capture::Timeouts::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = crate::ui::supervisor_log(dir.path());
    Db::open(&db)
        .unwrap()
        .add_officer(
            Some(By::Officer(SUP)),
            "gs02",
            "G2",
            "",
            Role::Supervisor,
            "975312",
            false,
        )
        .unwrap();
    let mut h = crate::ui::harness(crate::ui::app(&cap, None).with_log(log));
    crate::ui::settle(&mut h);
    crate::ui::sign_in(&mut h, SUP, PIN);
    h.get_by_label("Khoá tin cậy").click();
    h.run_steps(4);
    // Disabled from the shell while the window is open.
    Db::open(&db)
        .unwrap()
        .set_disabled(By::Shell("root"), SUP, true)
        .unwrap();
    let other = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    crate::ui::type_into(
        &mut h,
        R::TextInput,
        "Khoá công khai (64 chữ số hex)",
        &hex::encode(other.verifying_key().as_bytes()),
    );
    crate::ui::type_into(&mut h, R::TextInput, "Tên máy trạm", "Máy trạm lạ");
    h.get_by_label("Thêm vào danh sách tin cậy").click();
    crate::util::wait_for(std::time::Duration::from_secs(5), || {
        h.run_steps(1);
        (!h.state().trust.as_ref().is_some_and(|t| t.busy())).then_some(())
    })
    .expect("answered");
    h.run_steps(2);
    assert!(h
        .query_by_label("Vai trò của đồng chí không có quyền này")
        .is_some());
    let file = dir.path().join("trusted_keys.toml");
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap_or_default()
            .contains("Máy trạm lạ"),
        "the refused key was written"
    );
    assert!(!audit_actions(&Db::open(&db).unwrap())
        .iter()
        .any(|r| r.1 == "trust_key"));
}
