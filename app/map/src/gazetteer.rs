//! Where an address is, roughly, from the street names of the map's road layers: a survey
//! row with "Số 12 ngõ 58 Nguyễn Khánh Toàn" but no coordinates is placed on that street.
//!
//! Hand-written because the workstation is offline (no geocoding service) and the only
//! gazetteer it has is the map it draws: a street name matched against the address
//! (diacritics, case and the words "đường"/"phố" ignored; the longest name wins, so
//! "ngõ 58 Nguyễn Khánh Toàn" beats "Nguyễn Khánh Toàn"), placed at the street's middle.
//! House numbers are not interpolated: the position is the street's, and says so.

use std::collections::HashMap;

use geo::Coord;

use crate::coverage::Road;
use crate::proj::merc_to_lonlat;

/// A street found in an address.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub lat: f64,
    pub lon: f64,
    /// The street's name as the map has it.
    pub street: String,
}

pub struct Gazetteer {
    /// Folded key ("ngo 58 nguyen khanh toan") → (name as written, its vertices). A name
    /// whose roads form two groups apart (two streets of one name in two districts) is left
    /// out: which one an address means cannot be told.
    streets: HashMap<String, (String, Vec<Coord>)>,
    /// Keys of the map's area names (wards): a part of an address that is one is no street.
    areas: Vec<String>,
}

/// Words that say what kind of street it is, often left out of an address: dropped at the
/// start of a name or after a number ("Ngõ 58 Đường X"), never elsewhere ("Thành phố").
const KIND_WORDS: &[&str] = &["duong", "pho"];

/// Pieces of a name's roads closer than this (Mercator metres) are one street.
const SAME_STREET_GAP_M: f64 = 300.0;

/// An address part or a street name as words to compare: folded, punctuation as spaces,
/// kind words dropped where they name the kind.
fn key(s: &str) -> String {
    let folded = mt_core::text::fold(s);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let after_number = i > 0 && words[i - 1].chars().all(|c| c.is_ascii_digit());
        if KIND_WORDS.contains(w) && (i == 0 || after_number) {
            continue;
        }
        out.push(w);
    }
    out.join(" ")
}

/// A part of an address that names an area, not a street.
fn is_area(part: &str) -> bool {
    const LEADS: &[&str] = &[
        "phuong ",
        "p ",
        "quan ",
        "q ",
        "huyen ",
        "tp ",
        "thanh pho ",
        "xa ",
        "thi xa ",
    ];
    LEADS.iter().any(|l| part.starts_with(l))
        || matches!(part, "ha noi" | "hn" | "bac tu liem" | "viet nam")
}

impl Gazetteer {
    /// From the map's roads and the names of its areas (wards).
    pub fn new(roads: &[Road], areas: &[String]) -> Self {
        let mut pieces: HashMap<String, (String, Vec<&[Coord]>)> = HashMap::new();
        for r in roads {
            let k = key(&r.name);
            // A bare "Ngõ" would match every address; "Phố Huế" keeps its one word, but
            // not a number alone ("Đường 32" is no match for "Số 32").
            let named_kind = KIND_WORDS.contains(&key_first(&r.name).as_str());
            let one_word = k.split(' ').count() < 2;
            if k.is_empty()
                || (one_word && !named_kind)
                || k.chars().all(|c| c.is_ascii_digit())
                || r.coords.is_empty()
            {
                continue;
            }
            pieces
                .entry(k)
                .or_insert_with(|| (r.name.trim().to_owned(), Vec::new()))
                .1
                .push(&r.coords);
        }
        let streets = pieces
            .into_iter()
            .filter(|(_, (_, ps))| one_group(ps))
            .map(|(k, (name, ps))| (k, (name, ps.concat())))
            .collect();
        Gazetteer {
            streets,
            areas: areas
                .iter()
                .map(|a| key(a))
                .filter(|k| !k.is_empty())
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.streets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streets.is_empty()
    }

    /// The street named in `address`: the first part of it (between commas) that names one,
    /// and in that part the longest name found on word boundaries; at the street's vertex
    /// nearest its middle. Parts that name a ward, district or city ("phường Xuân Đỉnh",
    /// "Xuân Đỉnh" when that is a ward of the map, "Hà Nội") are not searched.
    pub fn locate(&self, address: &str) -> Option<Located> {
        // A part is cut where an area begins ("… Tân Xuân phường Xuân Đỉnh").
        let parts = address
            .split([',', ';'])
            .map(|p| cut_at_area(&key(p)))
            .filter(|p| !p.is_empty() && !is_area(p) && !self.areas.contains(p));
        let (name, pts) = parts
            .filter_map(|p| {
                let p = format!(" {p} ");
                self.streets
                    .iter()
                    .filter(|(k, _)| p.contains(&format!(" {k} ")))
                    .max_by(|x, y| x.0.len().cmp(&y.0.len()).then_with(|| y.0.cmp(x.0)))
                    .map(|(_, v)| v)
            })
            .next()?;
        let n = pts.len() as f64;
        let mid = Coord {
            x: pts.iter().map(|p| p.x).sum::<f64>() / n,
            y: pts.iter().map(|p| p.y).sum::<f64>() / n,
        };
        // On the street itself, not between its pieces.
        let at = pts.iter().min_by(|p, q| {
            let d = |c: &&Coord| (c.x - mid.x).hypot(c.y - mid.y);
            d(p).total_cmp(&d(q))
        })?;
        let (lon, lat) = merc_to_lonlat(*at);
        Some(Located {
            lat,
            lon,
            street: name.clone(),
        })
    }
}

/// The words of a part before the first that starts an area ("phuong", "quan", …).
fn cut_at_area(part: &str) -> String {
    let words: Vec<&str> = part.split(' ').collect();
    let end = (1..words.len())
        .find(|&i| is_area(&format!("{} ", words[i..].join(" "))))
        .unwrap_or(words.len());
    words[..end].join(" ")
}

/// The pieces of one name's roads are one street: every piece within
/// [`SAME_STREET_GAP_M`] of another, transitively (single linkage).
fn one_group(pieces: &[&[Coord]]) -> bool {
    let near = |a: &[Coord], b: &[Coord]| {
        a.iter().any(|p| {
            b.iter()
                .any(|q| (p.x - q.x).hypot(p.y - q.y) <= SAME_STREET_GAP_M)
        })
    };
    let mut reached = vec![false; pieces.len()];
    let mut todo = vec![0usize];
    reached[0] = true;
    while let Some(i) = todo.pop() {
        for j in 0..pieces.len() {
            if !reached[j] && near(pieces[i], pieces[j]) {
                reached[j] = true;
                todo.push(j);
            }
        }
    }
    reached.iter().all(|r| *r)
}

/// The first word of a name, folded.
fn key_first(s: &str) -> String {
    mt_core::text::fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::lonlat_to_merc;

    fn road(name: &str, pts: &[(f64, f64)]) -> Road {
        Road {
            name: name.into(),
            coords: pts
                .iter()
                .map(|(lon, lat)| lonlat_to_merc(*lon, *lat))
                .collect(),
        }
    }

    #[test]
    fn the_longest_street_name_in_the_address_wins() {
        let g = Gazetteer::new(
            &[
                road(
                    "Đường Nguyễn Khánh Toàn",
                    &[(105.80, 21.04), (105.81, 21.04)],
                ),
                road(
                    "Ngõ 58 Đường Nguyễn Khánh Toàn",
                    &[(105.805, 21.041), (105.805, 21.043)],
                ),
                road("Ngõ", &[(105.0, 21.0), (105.1, 21.0)]),
                road("Phố Huế", &[(105.85, 21.01), (105.85, 21.02)]),
            ],
            &[],
        );
        assert_eq!(g.len(), 3, "a bare \"Ngõ\" is no street");
        let l = g
            .locate("Số 12, ngõ 58 Nguyễn Khánh Toàn, Cầu Giấy")
            .unwrap();
        assert_eq!(l.street, "Ngõ 58 Đường Nguyễn Khánh Toàn");
        assert!((l.lon - 105.805).abs() < 1e-9);
        let l = g.locate("25 NGUYEN KHANH TOAN").unwrap();
        assert_eq!(l.street, "Đường Nguyễn Khánh Toàn");
        assert_eq!(g.locate("10 phố Huế").unwrap().street, "Phố Huế");
        // A long street in many pieces (8 km, touching each other) is one street; a number
        // alone is no street name.
        let pieces: Vec<Road> = (0..8)
            .map(|i| {
                let lon = 105.70 + i as f64 * 0.0097;
                road("Phạm Văn Đồng", &[(lon, 21.05), (lon + 0.0097, 21.05)])
            })
            .chain([road("Đường 32", &[(105.7, 21.0), (105.71, 21.0)])])
            .collect();
        let g2 = Gazetteer::new(&pieces, &[]);
        assert!(g2.locate("Số 1 Phạm Văn Đồng").is_some());
        assert!(g2.locate("Số 32, ngõ 5").is_none());
        // Not a word of a longer one ("ngõ 5" is not in "ngõ 58").
        assert!(g.locate("ngõ 5 Nguyễn Khánh").is_none());
        assert!(g.locate("12 Xuân Đỉnh").is_none());
    }

    #[test]
    fn wards_districts_and_cities_are_not_streets() {
        let g = Gazetteer::new(
            &[
                road("Xuân Đỉnh", &[(105.78, 21.07), (105.79, 21.07)]),
                road("Tân Xuân", &[(105.785, 21.075), (105.786, 21.078)]),
                road("Thanh Hà", &[(105.70, 21.00), (105.70, 21.01)]),
                // Two streets of one name 10 km apart: which one cannot be told.
                road("Trần Phú", &[(105.84, 21.03), (105.841, 21.03)]),
                road("Trần Phú", &[(105.78, 20.97), (105.781, 20.97)]),
            ],
            &["Xuân Đỉnh".to_string()],
        );
        // The first part that names a street; the ward after it is not searched.
        let l = g.locate("Số 8 Tân Xuân, Xuân Đỉnh, Bắc Từ Liêm").unwrap();
        assert_eq!(l.street, "Tân Xuân");
        assert!(g.locate("Nhà 7, phường Xuân Đỉnh, Hà Nội").is_none());
        assert!(g.locate("Nhà 7, Xuân Đỉnh").is_none(), "a ward of the map");
        assert!(g.locate("Nhà 7, Thành phố Hà Nội").is_none());
        assert!(g.locate("15 Trần Phú").is_none(), "ambiguous");
        // Without commas: the ward after "phường" is not searched.
        assert_eq!(
            g.locate("Số 8 Tân Xuân phường Xuân Đỉnh").unwrap().street,
            "Tân Xuân"
        );
        assert_eq!(
            key("Ngõ 58 Đường Nguyễn Khánh Toàn"),
            "ngo 58 nguyen khanh toan"
        );
        assert_eq!(key("Thành phố Hà Nội"), "thanh pho ha noi");
    }
}
