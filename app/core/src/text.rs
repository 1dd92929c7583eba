//! Diacritic folding for search: "Xuân Đỉnh" and "xuan dinh" fold to the same key.

use unicode_normalization::UnicodeNormalization;

/// Lower-cases and strips Vietnamese (and other Latin) diacritics. `đ`/`Đ` is a letter of its
/// own, not a decomposable d + mark, so it is mapped by hand.
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !('\u{0300}'..='\u{036F}').contains(c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether every whitespace-separated word of `query` occurs in `text`, ignoring case and
/// diacritics.
pub fn matches(text: &str, query: &str) -> bool {
    let t = fold(text);
    fold(query).split_whitespace().all(|w| t.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_strips_vietnamese_diacritics_and_d_stroke() {
        assert_eq!(fold("Xuân Đỉnh"), "xuan dinh");
        assert_eq!(fold("Trộm cắp TÀI SẢN ờ ỉ ắ ầ"), "trom cap tai san o i a a");
        assert!(matches(
            "Ngã tư Xuân Đỉnh – Phạm Văn Đồng",
            "xuan dinh pham"
        ));
        assert!(!matches("Cổ Nhuế", "xuan"));
    }
}
