//! The wards formed on 1 July 2025 and the former wards they took in
//! (`assets/map/ward_aliases.toml`): old names stay searchable as aliases of the new wards.

use std::collections::BTreeMap;
use std::sync::LazyLock;

#[derive(serde::Deserialize)]
struct Aliases {
    new: BTreeMap<String, Vec<String>>,
}

static ALIASES: LazyLock<BTreeMap<String, Vec<String>>> = LazyLock::new(|| {
    toml::from_str::<Aliases>(include_str!("../../../assets/map/ward_aliases.toml"))
        .map(|a| a.new)
        .unwrap_or_default()
});

/// The former wards (before 1 July 2025) whose area went (all or in part) into `ward`.
pub fn former_names(ward: &str) -> &'static [String] {
    let w = ward.trim_start_matches("Phường ").trim_start_matches("Xã ");
    ALIASES.get(w).map(Vec::as_slice).unwrap_or(&[])
}

/// The new wards that took (part of) the former ward `old`.
pub fn successors(old: &str) -> Vec<&'static str> {
    let f = crate::text::fold(old);
    ALIASES
        .iter()
        .filter(|(_, olds)| olds.iter().any(|o| crate::text::fold(o) == f))
        .map(|(n, _)| n.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn old_wards_are_aliases_of_the_new_ones() {
        assert!(super::former_names("Phường Xuân Đỉnh")
            .iter()
            .any(|o| o == "Xuân Tảo"));
        let s = super::successors("xuan tao");
        assert!(s.contains(&"Xuân Đỉnh") && s.contains(&"Nghĩa Đô"), "{s:?}");
        assert!(super::former_names("Nowhere").is_empty());
    }
}
