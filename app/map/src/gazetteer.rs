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
    /// Folded key ("ngo 58 nguyen khanh toan") → (name as written, its vertices).
    streets: HashMap<String, (String, Vec<Coord>)>,
}

/// Words that say what kind of street it is, and are often left out of an address.
const KIND_WORDS: &[&str] = &["duong", "pho"];

/// An address or a street name as words to compare: folded, punctuation as spaces, the
/// kind words dropped.
fn key(s: &str) -> String {
    let folded = mt_core::text::fold(s);
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !KIND_WORDS.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
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
    ];
    LEADS.iter().any(|l| part.starts_with(l))
        || matches!(part, "ha noi" | "hn" | "bac tu liem" | "viet nam")
}

impl Gazetteer {
    pub fn new(roads: &[Road]) -> Self {
        let mut streets: HashMap<String, (String, Vec<Coord>)> = HashMap::new();
        for r in roads {
            let k = key(&r.name);
            // A name of one word ("Ngõ") would match every address.
            if k.split(' ').count() < 2 {
                continue;
            }
            let e = streets
                .entry(k)
                .or_insert_with(|| (r.name.trim().to_owned(), Vec::new()));
            e.1.extend_from_slice(&r.coords);
        }
        Gazetteer { streets }
    }

    pub fn len(&self) -> usize {
        self.streets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streets.is_empty()
    }

    /// The street named in `address` (the longest name found, on word boundaries), at the
    /// vertex nearest its middle. The parts of the address that name a ward, district or
    /// city ("phường Xuân Đỉnh", "Hà Nội") are not searched: a ward is no street.
    pub fn locate(&self, address: &str) -> Option<Located> {
        let parts: Vec<String> = address
            .split([',', ';'])
            .map(key)
            .filter(|p| !p.is_empty() && !is_area(p))
            .map(|p| format!(" {p} "))
            .collect();
        let (_, (name, pts)) = self
            .streets
            .iter()
            .filter(|(k, _)| {
                let k = format!(" {k} ");
                parts.iter().any(|p| p.contains(&k))
            })
            .max_by(|x, y| x.0.len().cmp(&y.0.len()).then_with(|| y.0.cmp(x.0)))?;
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
        let g = Gazetteer::new(&[
            road(
                "Đường Nguyễn Khánh Toàn",
                &[(105.80, 21.04), (105.81, 21.04)],
            ),
            road(
                "Ngõ 58 Đường Nguyễn Khánh Toàn",
                &[(105.805, 21.041), (105.805, 21.043)],
            ),
            road("Ngõ", &[(105.0, 21.0), (105.1, 21.0)]),
        ]);
        assert_eq!(g.len(), 2, "a one-word name is no street");
        let l = g
            .locate("Số 12, ngõ 58 Nguyễn Khánh Toàn, Cầu Giấy")
            .unwrap();
        assert_eq!(l.street, "Ngõ 58 Đường Nguyễn Khánh Toàn");
        assert!((l.lon - 105.805).abs() < 1e-9);
        let l = g.locate("25 NGUYEN KHANH TOAN").unwrap();
        assert_eq!(l.street, "Đường Nguyễn Khánh Toàn");
        // Not a word of a longer one ("ngõ 5" is not in "ngõ 58").
        assert!(g.locate("ngõ 5 Nguyễn Khánh").is_none());
        assert!(g.locate("12 Xuân Đỉnh").is_none());
        // A ward of the same name as a street is not that street.
        let g = Gazetteer::new(&[road("Xuân Đỉnh", &[(105.78, 21.07), (105.79, 21.07)])]);
        assert!(g.locate("12 Xuân Đỉnh, Bắc Từ Liêm").is_some());
        assert!(g.locate("Nhà 7, phường Xuân Đỉnh, Hà Nội").is_none());
    }
}
