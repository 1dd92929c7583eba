//! `matthan-bench log`: bookmark insert latency with durable commits, and search latency over
//! a generated log.

use std::time::{Duration, Instant};

use crate::measure::*;

/// `matthan-bench log`: bookmark insert latency with durable commits, and search latency over
/// a generated log. Generated rows bypass the audit chain (bulk load); the measured inserts go
/// through the real `add_bookmark` (row + FTS + audit row, one fsync'd WAL commit).
pub fn log(incidents: usize, notes: usize, dir: std::path::PathBuf) -> anyhow::Result<()> {
    const PLACES: &[&str] = &[
        "Xuân Đỉnh",
        "Tân Xuân",
        "Xuân Tảo",
        "Cổ Nhuế",
        "Phú Diễn",
        "Phạm Văn Đồng",
        "Võ Chí Công",
        "Hoàng Quốc Việt",
        "Đông Ngạc",
        "Thụy Phương",
        "Minh Khai",
        "Liên Mạc",
        "Thượng Cát",
        "Tây Tựu",
        "Đức Thắng",
        "Phúc Diễn",
        "Cầu Diễn",
        "Kẻ Vẽ",
        "Chèm",
        "Văn Trì",
    ];
    const WHAT: &[&str] = &[
        "Trộm cắp xe máy",
        "Cướp giật điện thoại",
        "Cướp tài sản",
        "Gây rối trật tự",
        "Đánh nhau",
        "Đua xe trái phép",
        "Va chạm giao thông",
        "Lừa đảo chuyển khoản",
        "Vứt rác bừa bãi",
        "Trộm cắp tài sản",
    ];
    const NAMES: &[&str] = &[
        "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
        "Hồ", "Ngô", "Dương", "Lý",
    ];
    const GIVEN: &[&str] = &[
        "An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hùng", "Khánh", "Lan", "Linh",
        "Minh", "Nam", "Ngọc", "Phương", "Quân", "Sơn", "Thảo", "Trang", "Tuấn",
    ];
    const NOTE: &[&str] = &[
        "Đã trích xuất hình ảnh camera",
        "Nạn nhân trình báo tại trụ sở",
        "Chuyển tổ điều tra xác minh",
        "Đối tượng mặc áo khoác đen",
        "Xe máy không biển số bỏ chạy",
        "Nhân chứng cung cấp thông tin",
        "Đã liên hệ chủ camera",
        "Thu giữ tang vật",
    ];
    let types = [
        "theft",
        "snatching",
        "robbery",
        "disorder",
        "fight",
        "racing",
        "traffic",
        "fraud",
        "littering",
        "other",
    ];
    let mut rng = fastrand::Rng::with_seed(42);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("matthan-bench-{incidents}-{notes}.db"));
    let fresh = !path.exists();
    let mut db = mt_store::Db::open(&path)?;
    if db.operator_count()? == 0 {
        db.add_operator(None, "gs01", "Bench", mt_store::Role::Supervisor, "246802")?;
    }
    if fresh {
        let t0 = Instant::now();
        let c = db.conn();
        c.execute_batch("BEGIN")?;
        {
            let mut ins = c.prepare("INSERT INTO incident (id, title, type_code, status, occurred_ms, ward, created_by, created_ms, updated_ms) VALUES (?1, ?2, ?3, 'new', ?4, ?5, 'gs01', ?4, ?4)")?;
            let mut cam =
                c.prepare("INSERT INTO incident_camera (incident_id, camera_id) VALUES (?1, ?2)")?;
            let mut fts = c.prepare("INSERT OR REPLACE INTO search_fts (rowid, kind, ref_id, incident_id, body) VALUES (?5, ?1, ?2, ?3, ?4)")?;
            let mut when = vec![0i64; incidents + 1];
            let mut note = c.prepare("INSERT INTO incident_note (id, incident_id, author_id, created_ms, body) VALUES (?1, ?2, 'gs01', ?3, ?4)")?;
            let t_start = 1_577_836_800_000i64; // 2020-01-01
            for id in 1..=incidents as i64 {
                let t = t_start + rng.i64(0..6 * 365 * 86_400_000);
                let place = PLACES[rng.usize(..PLACES.len())];
                let title = format!(
                    "{} tại ngõ {} {}, {} {} trình báo",
                    WHAT[rng.usize(..WHAT.len())],
                    rng.u32(1..500),
                    place,
                    NAMES[rng.usize(..NAMES.len())],
                    GIVEN[rng.usize(..GIVEN.len())]
                );
                ins.execute(rusqlite_params(&[
                    &id,
                    &title,
                    &types[rng.usize(..types.len())],
                    &t,
                    &place,
                ]))?;
                cam.execute(rusqlite_params(&[
                    &id,
                    &format!("xd-{:04}", rng.u32(1..3000)),
                ]))?;
                fts.execute(rusqlite_params(&[
                    &"incident",
                    &id,
                    &id,
                    &mt_core::fold(&title),
                    &mt_store::fts_rowid(t, "incident", id),
                ]))?;
                when[id as usize] = t;
            }
            for nid in 1..=notes as i64 {
                let inc = rng.i64(1..=incidents as i64);
                let body = format!(
                    "{}; {} {} {}",
                    NOTE[rng.usize(..NOTE.len())],
                    NAMES[rng.usize(..NAMES.len())],
                    GIVEN[rng.usize(..GIVEN.len())],
                    rng.u32(1000..9999)
                );
                note.execute(rusqlite_params(&[&nid, &inc, &0i64, &body]))?;
                fts.execute(rusqlite_params(&[
                    &"note",
                    &nid,
                    &inc,
                    &mt_core::fold(&body),
                    &mt_store::fts_rowid(when[inc as usize], "note", nid),
                ]))?;
            }
        }
        c.execute_batch("COMMIT")?;
        db.checkpoint()?;
        println!(
            "generated {incidents} incidents and {notes} notes in {:.0} s ({})",
            t0.elapsed().as_secs_f64(),
            path.display()
        );
    }
    let size_mb = std::fs::metadata(&path)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0);

    // Baseline in the same run: the cheapest durable commit on the same disk (one tiny row).
    db.conn()
        .execute_batch("CREATE TABLE IF NOT EXISTS bench_baseline (x INTEGER)")?;
    let mut base = Vec::new();
    for i in 0..500 {
        let t = Instant::now();
        db.conn()
            .execute("INSERT INTO bench_baseline VALUES (?1)", [i])?;
        base.push(t.elapsed().as_micros() as u32);
    }
    let bm = |k: usize| mt_store::NewBookmark {
        camera_id: format!("xd-{:04}", k % 3000),
        frame_time_ms: mt_store::now_ms(),
        pre_ms: 30_000,
        post_ms: 30_000,
        note: format!("Đánh dấu {k}: người đi xe máy khả nghi"),
        snapshot_png: Some(vec![(k % 251) as u8; 60_000]),
        source: "live".into(),
    };
    // Back to back on the database (worst case: no idle moment for checkpoints).
    let mut burst = Vec::new();
    for k in 0..500 {
        let t = Instant::now();
        db.add_bookmark("gs01", &bm(k))?;
        burst.push(t.elapsed().as_micros() as u32);
    }
    db.checkpoint()?;
    drop(db);
    // As the app does it: through the store thread, an officer's B every 50 ms at most.
    let st = mt_store::thread::StoreThread::start(&path)?;
    let mut ins = Vec::new();
    for k in 0..500 {
        let b = bm(k);
        let t = Instant::now();
        st.run(move |db| db.add_bookmark("gs01", &b))?.wait()?;
        ins.push(t.elapsed().as_micros() as u32);
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(st);
    let db = mt_store::Db::open(&path)?;
    // Searches: half specific (a name and a place), half broad (one word), every fifth with a
    // status filter; diacritics dropped as an officer types them.
    // The same 400 queries with a page of 200 (what the table shows first) and of 500.
    let queries: Vec<mt_store::Query> = (0..400)
        .map(|k| {
            let text = if k % 2 == 0 {
                format!(
                    "{} {}",
                    mt_core::fold(GIVEN[rng.usize(..GIVEN.len())]),
                    mt_core::fold(PLACES[rng.usize(..PLACES.len())])
                )
            } else {
                mt_core::fold(
                    ["trom", "giat", "dua xe", "lua dao", "camera", "nhan chung"][rng.usize(..6)],
                )
            };
            mt_store::Query {
                text,
                status: (k % 5 == 0).then_some(mt_store::Status::New),
                ..Default::default()
            }
        })
        .collect();
    let run = |limit: usize| -> anyhow::Result<(f64, f64, usize)> {
        let mut lat = Vec::new();
        let mut hits = 0;
        let mut slow: Vec<(u32, String)> = Vec::new();
        for q in &queries {
            let q = mt_store::Query { limit, ..q.clone() };
            let t = Instant::now();
            hits += db.search(&q)?.len();
            let us = t.elapsed().as_micros() as u32;
            lat.push(us);
            slow.push((
                us,
                format!(
                    "{:?}{}",
                    q.text,
                    if q.status.is_some() { " +status" } else { "" }
                ),
            ));
        }
        slow.sort_by(|a, b| b.0.cmp(&a.0));
        let names: Vec<String> = slow
            .iter()
            .take(5)
            .map(|(us, q)| format!("{q} {:.1} ms", *us as f64 / 1000.0))
            .collect();
        println!("slowest with page {limit}: {}", names.join(", "));
        Ok((
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99),
            hits / queries.len(),
        ))
    };
    let (s50, s99, hits) = run(mt_store::PAGE)?;
    let (t50, t99, hits500) = run(500)?;
    let (b50, b99) = (percentile(&mut base, 0.5), percentile(&mut base, 0.99));
    let (i50, i99) = (percentile(&mut ins, 0.5), percentile(&mut ins, 0.99));
    let (r50, r99) = (percentile(&mut burst, 0.5), percentile(&mut burst, 0.99));
    println!(
        "log: {incidents} incidents, {notes} notes, {size_mb:.0} MB, WAL + synchronous=FULL\n"
    );
    println!("| operation | p50 ms | p99 ms | ratio p50 / p99 to baseline |");
    println!("|---|---|---|---|");
    println!("| baseline: durable commit of one tiny row | {b50:.2} | {b99:.2} | 1 / 1 |");
    println!("| bookmark insert via the store thread, one every 50 ms (row + 60 kB snapshot + FTS + audit, one commit) | {i50:.2} | {i99:.2} | {:.2} / {:.2} |", i50 / b50, i99 / b99);
    println!("| bookmark insert, 500 back to back on the database | {r50:.2} | {r99:.2} | {:.2} / {:.2} |", r50 / b50, r99 / b99);
    println!("| search, first page (400 queries, up to {} results, {hits} on average) | {s50:.2} | {s99:.2} | — |", mt_store::PAGE);
    println!(
        "| search, 500 results (same queries, {hits500} on average) | {t50:.2} | {t99:.2} | — |"
    );
    Ok(())
}

fn rusqlite_params<'a>(p: &'a [&'a dyn rusqlite::ToSql]) -> &'a [&'a dyn rusqlite::ToSql] {
    p
}
