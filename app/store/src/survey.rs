//! The ward survey: a CSV or XLSX sheet of surveyed camera positions becomes registry entries
//! (planned sites, or cameras already installed or shared), with a report line for every
//! row: imported, merged into an existing entry, or rejected and why.
//!
//! Columns are found by their header, in Vietnamese or English, case and diacritics ignored
//! (`Địa chỉ`/`dia chi`/`address`, `Vĩ độ`/`lat`, `Kinh độ`/`lon`, `Hướng`/`heading`,
//! `Trạng thái`/`status`, optional `Mã`/`id`, `Tên`/`name`, `Phường`/`ward`,
//! `Chủ`/`owner`, `Điện thoại`/`phone`). Status: `dự kiến`/`planned`, `đã lắp`/`installed`
//! (not yet shared: on request), `đã chia sẻ`/`shared` (live). A row without an id gets a
//! stable one from its address and position (`ks-` + 8 hex digits), so importing the same
//! sheet again merges instead of adding twice. Parsing uses the `csv` and `calamine` crates.

use std::collections::HashMap;
use std::path::Path;

use mt_core::camedit::{VIETNAM_LAT, VIETNAM_LON};
use mt_core::{fold, CameraSite, Sharing};
use sha2::Digest;

use crate::{audit, classify, now_ms, Db, Result, Right, StoreError};

/// One surveyed position, as read from a row.
#[derive(Clone, Debug, PartialEq)]
pub struct SurveyRow {
    /// 1-based line (CSV) or row (XLSX) number, the header being line 1.
    pub line: usize,
    pub site: CameraSite,
    /// The id came from the sheet (else it was derived).
    pub id_given: bool,
    /// The row said planned / installed / shared (else the registry's status is kept).
    pub status_given: bool,
    /// The row had only an address: placed on this street of the map (its middle).
    pub located: Option<String>,
    /// The row gave a heading (else the registry's is kept when merging).
    pub heading_given: bool,
    /// A row with a position and no id: the id it had when an earlier sheet placed it by its
    /// street, so the entry moves to the position instead of being doubled (once per import:
    /// a second camera at that address is a new entry).
    pub street_id: Option<String>,
    /// The id earlier versions derived for this row (before runs of spaces were ignored),
    /// when it differs: an entry under it is merged into, not doubled.
    pub old_id: Option<String>,
}

/// Where an address is when a row has no coordinates: (lat, lon, the street's name), from the
/// map's street names (`mt_map::gazetteer`); the store itself knows no map.
pub type Locate<'a> = &'a dyn Fn(&str) -> Option<(f64, f64, String)>;

/// What happened to one row.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Imported {
        id: String,
        planned: bool,
        /// Placed on this street from the address alone (to be moved on the map).
        located: Option<String>,
    },
    Merged {
        id: String,
    },
    /// Why, as a translation key (`survey-err-…`) and its arguments.
    Rejected(Reason),
}

/// Why a row was rejected: a translation key and its arguments (facts: numbers, names).
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Reason {
    fn new(key: &'static str, args: &[(&'static str, String)]) -> Self {
        Reason {
            key,
            args: args.to_vec(),
        }
    }

    fn arg(&self, name: &str) -> &str {
        self.args
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The reason in English (the shell's report).
    pub fn english(&self) -> String {
        let a = |n| self.arg(n);
        match self.key {
            "survey-err-short" => format!(
                "{} of {} columns; missing `{}`",
                a("have"),
                a("width"),
                a("missing")
            ),
            "survey-err-no-address" => "no address".into(),
            "survey-err-number" => format!("{} {:?} is not a number", a("field"), a("value")),
            "survey-err-no-position" => {
                "no position (address only): add lat/lon, or place it on the map".into()
            }
            "survey-err-no-street" => {
                "no position, and no street of the map in the address: add lat/lon, or place it on the map".into()
            }
            "survey-err-one-coordinate" => "only one of lat and lon".into(),
            "survey-err-outside" => format!(
                "position {}, {} is outside Vietnam (lat and lon swapped?)",
                a("lat"),
                a("lon")
            ),
            "survey-err-heading" => format!("heading {} is not in 0–360", a("value")),
            "survey-err-status" => format!(
                "status {:?}: expected planned / installed / shared (dự kiến / đã lắp / đã chia sẻ)",
                a("value")
            ),
            "survey-err-id" => format!(
                "id {:?}: only letters without diacritics, digits, - _ .",
                a("value")
            ),
            "survey-err-duplicate" => {
                format!("the same position as line {} ({})", a("line"), a("id"))
            }
            _ => a("detail").to_owned(),
        }
    }
}

/// The report: one entry per data row, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SurveyReport {
    pub lines: Vec<(usize, Outcome)>,
}

impl SurveyReport {
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.lines.iter().filter(|(_, o)| f(o)).count()
    }
    pub fn imported(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Imported { .. }))
    }
    pub fn merged(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Merged { .. }))
    }
    pub fn rejected(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Rejected { .. }))
    }
    /// The report as text, one line per row (what `matthan survey` prints).
    pub fn lines_text(&self, file: &str) -> Vec<String> {
        self.lines
            .iter()
            .map(|(n, o)| match o {
                Outcome::Imported {
                    id,
                    planned,
                    located,
                } => format!(
                    "{file}:{n}: imported {id} ({}){}",
                    if *planned { "planned" } else { "camera" },
                    match located {
                        Some(street) => format!(
                            ", placed on {street:?} from its address alone: move it on the map"
                        ),
                        None => String::new(),
                    }
                ),
                Outcome::Merged { id } => format!("{file}:{n}: merged into {id}"),
                Outcome::Rejected(r) => format!("{file}:{n}: rejected: {}", r.english()),
            })
            .collect()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Col {
    Id,
    Name,
    Address,
    Ward,
    Owner,
    Phone,
    Lat,
    Lon,
    Heading,
    Status,
}

/// Header words (folded: no case, no diacritics) for each column.
const HEADERS: &[(Col, &[&str])] = &[
    (Col::Id, &["id", "ma", "ma camera", "ma vi tri"]),
    (Col::Name, &["name", "ten", "ten camera", "ten vi tri"]),
    (Col::Address, &["address", "dia chi"]),
    (Col::Ward, &["ward", "phuong"]),
    (Col::Owner, &["owner", "chu", "chu camera", "chu so huu"]),
    (Col::Phone, &["phone", "dien thoai", "sdt", "so dien thoai"]),
    (Col::Lat, &["lat", "latitude", "vi do"]),
    (Col::Lon, &["lon", "lng", "longitude", "kinh do"]),
    (
        Col::Heading,
        &["heading", "heading_deg", "huong", "huong nhin"],
    ),
    (Col::Status, &["status", "trang thai"]),
];

fn column_of(header: &str) -> Option<Col> {
    let h = fold(header.trim());
    HEADERS
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(c, _)| *c)
}

/// Reads the sheet at `path` (`.csv`, or `.xlsx`: its first worksheet) into rows, checking each
/// one. A file that cannot be read, or has no address and position columns, fails as a whole;
/// a bad row is a rejected line of the report.
/// `locate` places a row that has an address but no position (None: such a row is rejected).
pub fn read_survey(
    path: &Path,
    locate: Option<Locate>,
) -> std::result::Result<(Vec<SurveyRow>, SurveyReport), String> {
    let file = path.display().to_string();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let table: Vec<(usize, Vec<String>)> = match ext.as_str() {
        "xlsx" | "xlsm" | "xls" | "ods" => read_sheet(path).map_err(|e| format!("{file}: {e}"))?,
        _ => read_csv(path).map_err(|e| format!("{file}: {e}"))?,
    };
    let Some(((_, header), rows)) = table.split_first() else {
        return Err(format!("{file}: empty (no header line)"));
    };
    let cols: HashMap<Col, usize> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| column_of(h).map(|c| (c, i)))
        .collect();
    for (need, name) in [(Col::Address, "address / Địa chỉ")] {
        if !cols.contains_key(&need) {
            return Err(format!("{file}:1: no {name} column in the header"));
        }
    }
    let mut out = Vec::new();
    let mut report = SurveyReport::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, cells) in rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        match parse_row(*line, cells, &cols, header, locate) {
            Err(reason) => report.lines.push((*line, Outcome::Rejected(reason))),
            Ok(row) => {
                if let Some(first) = seen.get(&row.site.id) {
                    report.lines.push((
                        *line,
                        Outcome::Rejected(Reason::new(
                            "survey-err-duplicate",
                            &[("line", first.to_string()), ("id", row.site.id.clone())],
                        )),
                    ));
                } else {
                    seen.insert(row.site.id.clone(), *line);
                    out.push(row);
                }
            }
        }
    }
    Ok((out, report))
}

fn read_csv(path: &Path) -> std::result::Result<Vec<(usize, Vec<String>)>, String> {
    // Sheets saved by Excel in Vietnam often use ';' (the decimal separator is ','): take the
    // one the header line has more of.
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let text =
        String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).into_owned();
    let first = text.lines().next().unwrap_or("");
    let delim = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        out.push((line, rec.iter().map(str::to_owned).collect()));
    }
    Ok(out)
}

fn read_sheet(path: &Path) -> std::result::Result<Vec<(usize, Vec<String>)>, String> {
    use calamine::{open_workbook_auto, Data, Reader};
    let mut wb = open_workbook_auto(path).map_err(|e| e.to_string())?;
    let name = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| "no worksheet".to_string())?;
    let range = wb.worksheet_range(&name).map_err(|e| e.to_string())?;
    let top = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            (
                top + i + 1,
                row.iter()
                    .map(|c| match c {
                        Data::Empty => String::new(),
                        Data::Float(f) => format!("{f}"),
                        Data::Int(i) => i.to_string(),
                        other => other.to_string(),
                    })
                    .collect(),
            )
        })
        .collect())
}

fn parse_row(
    line: usize,
    cells: &[String],
    cols: &HashMap<Col, usize>,
    header: &[String],
    locate: Option<Locate>,
) -> std::result::Result<SurveyRow, Reason> {
    let width = header.len();
    if cells.len() < width {
        // A short row: name the columns it lacks, as the sheet's header names them.
        return Err(Reason::new(
            "survey-err-short",
            &[
                ("have", cells.len().to_string()),
                ("width", width.to_string()),
                ("missing", header[cells.len()..].join(", ")),
            ],
        ));
    }
    let get = |c: Col| cols.get(&c).map(|i| cells[*i].trim()).unwrap_or("");
    let address = get(Col::Address);
    if address.is_empty() {
        return Err(Reason::new("survey-err-no-address", &[]));
    }
    let number = |c: Col, what: &str| -> std::result::Result<Option<f64>, Reason> {
        let t = get(c).replace(',', ".");
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| {
                Reason::new(
                    "survey-err-number",
                    &[("field", what.to_owned()), ("value", get(c).to_owned())],
                )
            })
    };
    let (lat, lon, located) = match (number(Col::Lat, "lat")?, number(Col::Lon, "lon")?) {
        (Some(a), Some(o)) => (a, o, None),
        (None, None) => match locate {
            None => return Err(Reason::new("survey-err-no-position", &[])),
            Some(f) => match f(address) {
                Some((a, o, street)) => (a, o, Some(street)),
                None => return Err(Reason::new("survey-err-no-street", &[])),
            },
        },
        _ => return Err(Reason::new("survey-err-one-coordinate", &[])),
    };
    if !(VIETNAM_LAT.0..=VIETNAM_LAT.1).contains(&lat)
        || !(VIETNAM_LON.0..=VIETNAM_LON.1).contains(&lon)
    {
        return Err(Reason::new(
            "survey-err-outside",
            &[("lat", lat.to_string()), ("lon", lon.to_string())],
        ));
    }
    let heading_given = !get(Col::Heading).is_empty();
    let heading = number(Col::Heading, "heading")?.unwrap_or(0.0);
    if !(0.0..=360.0).contains(&heading) {
        return Err(Reason::new(
            "survey-err-heading",
            &[("value", heading.to_string())],
        ));
    }
    let (planned, sharing) = match fold(get(Col::Status)).as_str() {
        "" | "planned" | "du kien" | "ke hoach" | "khao sat" => (true, Sharing::OnRequest),
        "installed" | "da lap" | "da lap dat" => (false, Sharing::OnRequest),
        "shared" | "da chia se" | "chia se" => (false, Sharing::Live),
        _ => {
            return Err(Reason::new(
                "survey-err-status",
                &[("value", get(Col::Status).to_owned())],
            ))
        }
    };
    let given = get(Col::Id);
    // The address as words (case, diacritics and runs of spaces do not make another id).
    let addr_key = fold(address)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let derived = |key: String| {
        let h = sha2::Sha256::digest(key.as_bytes());
        format!("ks-{}", hex::encode(&h[..4]))
    };
    // A row placed by its street keys on its address alone (the street's middle could move
    // when the map does).
    let street_id = derived(format!("{addr_key}|street"));

    let id = if given.is_empty() {
        match &located {
            Some(_) => street_id.clone(),
            None => derived(format!("{addr_key}|{lat:.5}|{lon:.5}")),
        }
    } else if given
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        given.to_owned()
    } else {
        return Err(Reason::new("survey-err-id", &[("value", given.to_owned())]));
    };
    let old_id = (given.is_empty() && located.is_none())
        .then(|| derived(format!("{}|{lat:.5}|{lon:.5}", fold(address))))
        .filter(|o| *o != id);
    let name = match get(Col::Name) {
        "" => address.to_owned(),
        n => n.to_owned(),
    };
    let site = CameraSite {
        id,
        name,
        ward: get(Col::Ward).to_owned(),
        lat_deg: lat,
        lon_deg: lon,
        heading_deg: heading,
        fov_deg: 60.0,
        range_m: 30.0,
        planned,
        owner: get(Col::Owner).to_owned(),
        address: address.to_owned(),
        phone: get(Col::Phone).to_owned(),
        sharing,
        ..Default::default()
    };
    site.validate()
        .map_err(|e| Reason::new("survey-err-invalid", &[("detail", e)]))?;
    Ok(SurveyRow {
        line,
        site,
        id_given: !given.is_empty(),
        status_given: !get(Col::Status).is_empty(),
        street_id: (given.is_empty() && located.is_none()).then_some(street_id),
        old_id,
        located,
        heading_given,
    })
}

impl Db {
    /// Imports checked survey rows into the registry in one transaction (audited per entry,
    /// and once for the import): a new id is a new entry; an existing one is merged — the
    /// sheet's position, heading and address win, its owner, phone, ward and status only when
    /// given; a camera already installed is never turned back into a planned site, and a
    /// shared one never back to "on request". `report` holds the rows rejected
    /// while reading; the result has every row in line order.
    pub fn import_survey(
        &mut self,
        who: &str,
        file: &str,
        rows: &[SurveyRow],
        mut report: SurveyReport,
    ) -> Result<SurveyReport> {
        self.require(who, Right::Registry)?;
        let p = self.path.display().to_string();
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| classify(&p, e))?;
        let mut moved_here: std::collections::HashSet<String> = Default::default();
        for r in rows {
            let exists = |id: &str| {
                tx.query_row(
                    "SELECT planned FROM camera_site WHERE id = ?1",
                    [id],
                    |row| row.get::<_, bool>(0),
                )
                .ok()
            };
            // Not under its own id: under the id an earlier version gave it, or the entry an
            // earlier sheet placed by its street (moved to the position, once per import).
            let fresh = exists(&r.site.id).is_none();
            let other = r
                .old_id
                .as_ref()
                .filter(|o| fresh && exists(o).is_some())
                .or_else(|| {
                    r.street_id
                        .as_ref()
                        .filter(|sid| fresh && !moved_here.contains(*sid) && exists(sid).is_some())
                })
                .cloned();
            if let Some(o) = &other {
                moved_here.insert(o.clone());
            }
            let moved = other.map(|id| CameraSite {
                id,
                ..r.site.clone()
            });
            let s = moved.as_ref().unwrap_or(&r.site);
            let was: Option<bool> = exists(&s.id);
            let (action, outcome) = match was {
                None => {
                    tx.execute(
                        &format!("INSERT INTO camera_site ({}, updated_ms, updated_by)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)", crate::sites::SITE_COLUMNS),
                        rusqlite::params_from_iter(crate::sites::site_params(s, now, who)),
                    )
                    .map_err(|e| classify(&p, e))?;
                    (
                        "camera_site_create",
                        Outcome::Imported {
                            id: s.id.clone(),
                            planned: s.planned,
                            located: r.located.clone(),
                        },
                    )
                }
                Some(_) => {
                    // A position guessed from the street never replaces the registry's.
                    tx.execute(
                        "UPDATE camera_site SET lat_deg = CASE WHEN ?14 THEN lat_deg ELSE ?2 END,
                            lon_deg = CASE WHEN ?14 THEN lon_deg ELSE ?3 END,
                            heading_deg = CASE WHEN ?15 THEN ?4 ELSE heading_deg END, address = ?5,
                            owner = CASE WHEN ?6 = '' THEN owner ELSE ?6 END,
                            phone = CASE WHEN ?7 = '' THEN phone ELSE ?7 END,
                            ward = CASE WHEN ?8 = '' THEN ward ELSE ?8 END,
                            planned = CASE WHEN ?13 THEN planned AND ?9 ELSE planned END,
                            sharing = CASE WHEN ?13 AND NOT (sharing = 'live' AND ?10 = 'on_request')
                                           THEN ?10 ELSE sharing END,
                            updated_ms = ?11, updated_by = ?12
                         WHERE id = ?1",
                        rusqlite::params![
                            s.id,
                            s.lat_deg,
                            s.lon_deg,
                            mt_core::site::wrap_heading(s.heading_deg),
                            s.address,
                            s.owner,
                            s.phone,
                            s.ward,
                            s.planned,
                            s.sharing.as_str(),
                            now,
                            who,
                            r.status_given,
                            r.located.is_some(),
                            r.heading_given
                        ],
                    )
                    .map_err(|e| classify(&p, e))?;
                    ("camera_site_edit", Outcome::Merged { id: s.id.clone() })
                }
            };
            let subject = format!("camera_site:{}", s.id);
            let content = audit::content_hash(&tx, &subject).map_err(|e| classify(&p, e))?;
            audit::append(&tx, now, who, action, &subject, &content)
                .map_err(|e| classify(&p, e))?;
            report.lines.push((r.line, outcome));
        }
        audit::append(
            &tx,
            now,
            who,
            "survey_import",
            &format!("survey={file}"),
            "",
        )
        .map_err(|e| classify(&p, e))?;
        tx.commit().map_err(|e| classify(&p, e))?;
        self.note_write();
        report.lines.sort_by_key(|(n, _)| *n);
        Ok(report)
    }
}

/// Reads and imports a sheet (what the camera window and `matthan survey` do); `locate`
/// places address-only rows (see [`read_survey`]).
pub fn import_file(
    db: &mut Db,
    who: &str,
    path: &Path,
    locate: Option<Locate>,
) -> Result<SurveyReport> {
    db.require(who, Right::Registry)?;
    let (rows, report) = read_survey(path, locate).map_err(StoreError::Invalid)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    db.import_survey(who, &name, &rows, report)
}
