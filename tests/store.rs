//! The incident log on real SQLite files: crash safety under SIGKILL, tamper detection,
//! migrations, and the bad inputs an officer's machine can produce.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mt_store::{Db, NewBookmark, NewIncident, Query, Role, Status, StoreError};

fn bookmark(camera: &str, note: &str) -> NewBookmark {
    NewBookmark {
        camera_id: camera.into(),
        frame_time_ms: mt_store::now_ms(),
        pre_ms: 30_000,
        post_ms: 30_000,
        note: note.into(),
        snapshot_png: Some(vec![7; 300]),
        source: "live".into(),
    }
}

/// A log with two operators, three bookmarks, two incidents (one from a bookmark) and notes.
fn sample(path: &Path) -> Db {
    let mut db = Db::open(path).unwrap();
    db.add_operator(None, "gs01", "Trần Văn Giám", Role::Supervisor, "135790")
        .unwrap();
    db.add_operator(
        Some(mt_store::By::Officer("gs01")),
        "cb02",
        "Lê Thị Cán",
        Role::Operator,
        "246802",
    )
    .unwrap();
    db.sign_in("cb02", "246802").unwrap();
    let b1 = db
        .add_bookmark(
            "cb02",
            &bookmark("xd-001", "Thanh niên áo đỏ giật túi xách"),
        )
        .unwrap();
    db.add_bookmark("cb02", &bookmark("xd-002", "Xe máy không biển số"))
        .unwrap();
    db.add_bookmark("cb02", &bookmark("xd-003", "Nhóm người tụ tập"))
        .unwrap();
    let i1 = db
        .add_incident(
            "cb02",
            &NewIncident {
                title: "Cướp giật túi xách tại ngã tư Xuân Đỉnh".into(),
                type_code: "snatching".into(),
                occurred_ms: 1_760_000_000_000,
                ward: "Xuân Đỉnh".into(),
                lat_deg: Some(21.0712),
                lon_deg: Some(105.7862),
                camera_ids: vec!["xd-001".into()],
                bookmark_ids: vec![b1],
            },
        )
        .unwrap();
    db.add_note("cb02", i1, "Đã trích xuất hình ảnh, chuyển tổ điều tra")
        .unwrap();
    db.set_status("gs01", i1, Status::InProgress).unwrap();
    let i2 = db
        .add_incident(
            "gs01",
            &NewIncident {
                title: "Trộm cắp tài sản tại chợ Cổ Nhuế".into(),
                type_code: "theft".into(),
                occurred_ms: 1_761_000_000_000,
                ward: "Cổ Nhuế 1".into(),
                lat_deg: None,
                lon_deg: None,
                camera_ids: vec!["xd-015".into()],
                bookmark_ids: vec![],
            },
        )
        .unwrap();
    db.add_note("gs01", i2, "Nạn nhân trình báo mất điện thoại")
        .unwrap();
    db
}

#[test]
fn bookmarks_that_returned_success_survive_50_sigkills_and_integrity_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    // The officer first: hashing a PIN takes longer than the earliest kills below.
    Db::open(&path)
        .unwrap()
        .add_operator(None, "gs01", "G", Role::Supervisor, "246802")
        .unwrap();
    let mut confirmed: Vec<i64> = Vec::new();
    for round in 0..50u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_matthan"))
            .args(["db", "stress-bookmarks", "--db"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("ok ").and_then(|n| n.parse::<i64>().ok()))
                .collect::<Vec<_>>()
        });
        // Kill at a pseudo-random point: 20–220 ms in (during open, mid-insert, mid-commit).
        let wait = 20 + (round.wrapping_mul(2654435761) % 200);
        std::thread::sleep(Duration::from_millis(wait));
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        confirmed.extend(reader.join().unwrap());
    }
    assert!(
        confirmed.len() > 50,
        "too few inserts to prove anything: {}",
        confirmed.len()
    );
    let db = Db::open(&path).unwrap();
    assert_eq!(db.integrity_check().unwrap(), "ok");
    for id in &confirmed {
        assert!(
            db.bookmark_exists(*id).unwrap(),
            "bookmark {id} was confirmed but is gone"
        );
    }
    let rep = db.verify_audit().unwrap();
    assert!(rep.ok(), "audit after crashes: {:?}", rep.problems);
}

fn tampered(sql: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let db = sample(&path);
    assert!(
        db.verify_audit().unwrap().ok(),
        "clean log must verify: {:?}",
        db.verify_audit().unwrap().problems
    );
    drop(db);
    // Behind the app's back: plain SQL on the file, triggers dropped as an attacker would.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(sql).unwrap();
    drop(c);
    Db::open(&path).unwrap().verify_audit().unwrap().problems
}

#[test]
fn editing_or_deleting_any_row_behind_the_apps_back_is_detected_and_named() {
    let cases = [
        ("UPDATE bookmark SET note = 'không có gì' WHERE id = 2", "bookmark:2 was edited"),
        ("DELETE FROM bookmark WHERE id = 3", "bookmark:3 was deleted"),
        ("UPDATE incident SET status = 'closed' WHERE id = 1", "incident:1 was edited"),
        ("INSERT INTO incident_camera VALUES (2, 'xd-009')", "incident:2 was edited"),
        ("DROP TRIGGER incident_note_append_only_u; UPDATE incident_note SET body = 'sửa' WHERE id = 1", "note:1 was edited"),
        ("DROP TRIGGER incident_note_append_only_d; DELETE FROM incident_note WHERE id = 2", "note:2 was deleted"),
        ("UPDATE operator SET role = 'supervisor' WHERE id = 'cb02'", "operator:cb02 was edited"),
        ("INSERT INTO bookmark (camera_id, operator_id, frame_time_ms, note, created_ms) VALUES ('xd-001', 'cb02', 1, 'giả', 1)", "bookmark:4 has no audit record"),
        ("DROP TRIGGER audit_log_append_only_u; UPDATE audit_log SET operator_id = 'gs01' WHERE id = 4", "audit_log row 4"),
        ("DROP TRIGGER audit_log_append_only_d; DELETE FROM audit_log WHERE id = 5", "audit_log rows 5..5 are missing"),
    ];
    for (sql, want) in cases {
        let problems = tampered(sql);
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{sql}\n  expected a problem naming '{want}', got {problems:?}"
        );
    }
}

#[test]
fn audit_log_and_notes_refuse_updates_through_sql() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(&dir.path().join("log.db"));
    let e = db
        .conn()
        .execute("UPDATE audit_log SET action = 'x' WHERE id = 1", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = db
        .conn()
        .execute("DELETE FROM incident_note WHERE id = 1", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
}

#[test]
fn audit_verify_command_exits_nonzero_and_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    drop(sample(&path));
    let run = |p: &PathBuf| {
        Command::new(env!("CARGO_BIN_EXE_matthan"))
            .args(["audit", "verify", "--db"])
            .arg(p)
            .output()
            .unwrap()
    };
    let ok = run(&path);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE bookmark SET camera_id = 'xd-099' WHERE id = 1", [])
        .unwrap();
    let bad = run(&path);
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FIRST BROKEN LINK: bookmark:1 was edited"),
        "{out}"
    );
}

#[test]
fn half_typed_last_word_matches_as_a_prefix_and_whole_words_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(&dir.path().join("log.db"));
    let n = |t: &str| {
        db.search(&Query {
            text: t.into(),
            ..Default::default()
        })
        .unwrap()
        .len()
    };
    assert_eq!(n("giat tu"), 1, "'tu' is the start of 'túi'");
    assert_eq!(
        n("dien tho"),
        1,
        "'tho' is the start of 'thoại' (in a note)"
    );
    assert_eq!(n("giat"), 1);
    assert_eq!(
        n("xa giat"),
        0,
        "only the last word is a prefix (\"xa\" is not a word here)"
    );
    assert_eq!(
        n("giat xa"),
        1,
        "\"xa\" as the last word is the start of \"xách\""
    );
}

#[test]
fn search_ignores_diacritics_and_combines_filters() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(&dir.path().join("log.db"));
    let titles = |q: Query| {
        db.search(&q)
            .unwrap()
            .into_iter()
            .map(|i| i.title)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        titles(Query {
            text: "trom cap".into(),
            ..Default::default()
        }),
        vec!["Trộm cắp tài sản tại chợ Cổ Nhuế"]
    );
    // A word only in a note, and one only in a linked bookmark's note.
    assert_eq!(
        titles(Query {
            text: "dien thoai".into(),
            ..Default::default()
        })
        .len(),
        1
    );
    assert_eq!(
        titles(Query {
            text: "ao do".into(),
            ..Default::default()
        }),
        vec!["Cướp giật túi xách tại ngã tư Xuân Đỉnh"]
    );
    assert_eq!(
        titles(Query {
            text: "xuan".into(),
            status: Some(Status::InProgress),
            ..Default::default()
        })
        .len(),
        1
    );
    assert!(titles(Query {
        text: "xuan".into(),
        status: Some(Status::Closed),
        ..Default::default()
    })
    .is_empty());
    assert_eq!(
        titles(Query {
            camera_id: Some("xd-015".into()),
            ..Default::default()
        })
        .len(),
        1
    );
    assert_eq!(
        titles(Query {
            operator_id: Some("gs01".into()),
            ..Default::default()
        })
        .len(),
        1
    );
    assert_eq!(
        titles(Query {
            from_ms: Some(1_760_500_000_000),
            ..Default::default()
        })
        .len(),
        1
    );
    assert_eq!(
        titles(Query {
            ward: Some("Xuân Đỉnh".into()),
            type_code: Some("snatching".into()),
            ..Default::default()
        })
        .len(),
        1
    );
}

fn schema_of(db: &Db) -> Vec<(String, String)> {
    let mut s = db.conn().prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY name").unwrap();
    s.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn first_schema_version_upgrades_to_the_current_one_and_matches_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("v1.db");
    {
        let mut v1 = Db::open_at_version(&old, 1).unwrap();
        assert_eq!(v1.schema_version().unwrap(), 1);
        v1.conn()
            .execute(
                "INSERT INTO operator VALUES ('gs01', 'G', 'supervisor', 'x', 1)",
                [],
            )
            .unwrap();
        v1.conn()
            .execute("INSERT INTO incident (title, type_code, status, occurred_ms, created_by, created_ms, updated_ms) VALUES ('Đua xe trái phép trên đường Phạm Văn Đồng', 'racing', 'new', 5, 'gs01', 5, 5)", [])
            .unwrap();
        let _ = &mut v1;
    }
    let upgraded = Db::open(&old).unwrap();
    let fresh = Db::open(&dir.path().join("fresh.db")).unwrap();
    assert_eq!(upgraded.schema_version().unwrap(), mt_store::SCHEMA_VERSION);
    assert_eq!(schema_of(&upgraded), schema_of(&fresh));
    // Rows written under version 1 are searchable after the upgrade.
    assert_eq!(
        upgraded
            .search(&Query {
                text: "dua xe".into(),
                ..Default::default()
            })
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn newer_schema_garbage_file_and_read_only_file_each_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("newer.db");
    drop(Db::open(&newer).unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let e = Db::open(&newer).err().expect("newer schema refused");
    assert!(
        matches!(e, StoreError::NewerSchema { found: 99, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("newer.db") && e.to_string().contains("newer Mắt Thần"),
        "{e}"
    );

    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"this is not a database, it is a note about a stolen motorbike ".repeat(200),
    )
    .unwrap();
    let e = Db::open(&garbage).err().expect("garbage refused");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("garbage.db"), "{e}");

    // Read-only: a read-only tmpfs when root (root ignores file modes), else chmod 444.
    let ro_dir = dir.path().join("ro");
    std::fs::create_dir(&ro_dir).unwrap();
    let ro = ro_dir.join("log.db");
    let mounted = unsafe { libc::geteuid() } == 0
        && Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(&ro_dir)
            .status()
            .is_ok_and(|s| s.success());
    drop(sample(&ro));
    if mounted {
        assert!(Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&ro_dir)
            .status()
            .unwrap()
            .success());
    } else if unsafe { libc::geteuid() } == 0 {
        // Root ignores file modes, and this machine does not let root mount a tmpfs: there is
        // no way to make a file read-only for this process here.
        crate::util::cannot_run(
            "the read-only part: running as root without permission to mount a tmpfs",
        );
        return;
    } else {
        std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
        std::fs::set_permissions(&ro_dir, std::os::unix::fs::PermissionsExt::from_mode(0o555))
            .unwrap();
    }
    let r = Db::open(&ro)
        .and_then(|mut db| db.add_bookmark("cb02", &bookmark("xd-001", "không ghi được")));
    if mounted {
        let _ = Command::new("umount").arg(&ro_dir).status();
    }
    let e = r.err().expect("write to a read-only log must fail");
    assert!(matches!(e, StoreError::ReadOnly { .. }), "{e:?}");
    assert!(e.to_string().contains("read-only"), "{e}");
}

#[test]
fn full_disk_is_reported_and_committed_bookmarks_stay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let mut db = sample(&path);
    // A size-limited database file: SQLite answers SQLITE_FULL exactly as on a full disk.
    let pages: i64 = db
        .conn()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    db.conn()
        .query_row(
            &format!("PRAGMA max_page_count = {}", pages + 2),
            [],
            |_| Ok(()),
        )
        .unwrap();
    let mut last_ok = 0;
    let mut err = None;
    for k in 0..200 {
        let mut b = bookmark("xd-001", &format!("đánh dấu {k}"));
        b.snapshot_png = Some(vec![1; 8192]);
        match db.add_bookmark("cb02", &b) {
            Ok(id) => last_ok = id,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let e = err.expect("the size limit was reached");
    assert!(matches!(e, StoreError::DiskFull { .. }), "{e:?}");
    assert!(e.to_string().contains("disk is full"), "{e}");
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_eq!(db.integrity_check().unwrap(), "ok");
    if last_ok > 0 {
        assert!(db.bookmark_exists(last_ok).unwrap());
    }
    assert!(
        db.verify_audit().unwrap().ok(),
        "{:?}",
        db.verify_audit().unwrap().problems
    );
}

#[test]
fn store_thread_answers_without_blocking_the_caller_and_backup_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    drop(sample(&path));
    let st = mt_store::thread::StoreThread::start(&path).unwrap();
    let p = st
        .run(|db| db.add_bookmark("cb02", &bookmark("xd-004", "từ luồng giao diện")))
        .unwrap();
    let id = loop {
        // The UI would draw a frame here; try_take never blocks.
        if let Some(r) = p.try_take() {
            break r.unwrap();
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let backup = dir.path().join("backup.db");
    let b2 = backup.clone();
    st.run(move |db| db.backup(&b2)).unwrap().wait().unwrap();
    let copy = Db::open(&backup).unwrap();
    assert!(copy.bookmark_exists(id).unwrap());
    assert_eq!(copy.integrity_check().unwrap(), "ok");
    assert!(copy.verify_audit().unwrap().ok());
    // A backup never overwrites an existing file.
    let b3 = backup.clone();
    assert!(st.run(move |db| db.backup(&b3)).unwrap().wait().is_err());
}

#[test]
fn bookmark_snapshot_is_stored_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = sample(&dir.path().join("log.db"));
    let frame = mt_capture::DecodedFrame::solid(64, 36, 88, 182, 106);
    let png = mt_ui::log::snapshot_png(&frame);
    let mut b = bookmark("xd-007", "ảnh chụp");
    b.snapshot_png = Some(png.clone());
    let id = db.add_bookmark("cb02", &b).unwrap();
    assert_eq!(db.bookmark_snapshot(id).unwrap(), Some(png));
    let mut b = bookmark("xd-007", "không có ảnh");
    b.snapshot_png = None;
    let id = db.add_bookmark("cb02", &b).unwrap();
    assert_eq!(db.bookmark_snapshot(id).unwrap(), None);
}

#[test]
fn wrong_pin_is_refused_and_the_pin_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let mut db = Db::open(&path).unwrap();
    assert!(
        db.add_operator(None, "cb01", "X", Role::Operator, "1234")
            .is_err(),
        "the first operator must be a supervisor"
    );
    db.add_operator(None, "gs01", "G", Role::Supervisor, "975310")
        .unwrap();
    assert!(matches!(
        db.sign_in("gs01", "000001"),
        Err(StoreError::BadCredentials)
    ));
    assert!(matches!(
        db.sign_in("nobody", "975310"),
        Err(StoreError::BadCredentials)
    ));
    assert_eq!(db.sign_in("gs01", "975310").unwrap().role, Role::Supervisor);
    let stored: String = db
        .conn()
        .query_row("SELECT pin_argon2 FROM operator", [], |r| r.get(0))
        .unwrap();
    assert!(stored.starts_with("$argon2") && !stored.contains("975310"));
}

#[test]
fn editing_an_incident_is_audited_and_reindexed_for_search() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = sample(&dir.path().join("log.db"));
    db.update_incident(
        "gs01",
        2,
        "Trộm cắp xe đạp tại chợ Cổ Nhuế",
        "theft",
        "Cổ Nhuế 1",
        1_761_000_000_000,
    )
    .unwrap();
    assert!(
        db.search(&Query {
            text: "xe dap".into(),
            ..Default::default()
        })
        .unwrap()
        .len()
            == 1
    );
    assert!(
        db.search(&Query {
            text: "tai san".into(),
            ..Default::default()
        })
        .unwrap()
        .is_empty(),
        "old title still indexed"
    );
    let rep = db.verify_audit().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    let n: i64 = db.conn().query_row("SELECT count(*) FROM audit_log WHERE action = 'incident_edit' AND subject = 'incident:2'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
    assert!(
        db.update_incident("gs01", 2, "  ", "theft", "", 0).is_err(),
        "empty title refused"
    );
}

#[test]
fn csv_export_keeps_vietnamese_text_quotes_fields_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = sample(&dir.path().join("log.db"));
    db.update_incident(
        "gs01",
        2,
        "Trộm \"xe đạp\", chợ Cổ Nhuế",
        "theft",
        "Cổ Nhuế 1",
        1_761_000_000_000,
    )
    .unwrap();
    let out = dir.path().join("vu-viec.csv");
    let n = db.export_csv("gs01", &Query::default(), &out).unwrap();
    assert_eq!(n, 2);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        &bytes[..3],
        b"\xEF\xBB\xBF",
        "UTF-8 byte-order mark for spreadsheet programs"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("id,tiêu đề,loại"), "{}", lines[0]);
    assert!(
        text.contains("\"Trộm \"\"xe đạp\"\", chợ Cổ Nhuế\""),
        "quotes doubled, comma kept inside: {text}"
    );
    assert!(
        text.contains("\"Cướp giật\"") && text.contains("\"Xuân Đỉnh\""),
        "{text}"
    );
    assert!(!dir.path().join("vu-viec.csv.partial").exists());
    let n: i64 = db
        .conn()
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action = 'export_csv:vu-viec.csv'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert!(db.verify_audit().unwrap().ok());
}
