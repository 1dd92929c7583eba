//! Translations with Fluent. Every user-visible string comes from `assets/i18n/*.ftl`;
//! Vietnamese is the default, English can be chosen at run time.

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource, FluentValue};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Vi, Lang::En];
    fn source(self) -> &'static str {
        match self {
            Lang::Vi => include_str!("../../../assets/i18n/vi.ftl"),
            Lang::En => include_str!("../../../assets/i18n/en.ftl"),
        }
    }
    fn tag(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
    /// The key of the language's own name (`lang-vi`, `lang-en`).
    pub fn name_key(self) -> &'static str {
        match self {
            Lang::Vi => "lang-vi",
            Lang::En => "lang-en",
        }
    }
}

pub struct Tr {
    lang: Lang,
    bundle: FluentBundle<FluentResource>,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        let res = match FluentResource::try_new(lang.source().to_owned()) {
            Ok(r) => r,
            Err((r, errs)) => {
                tracing::error!("translation file {}.ftl has errors: {errs:?}", lang.tag());
                r
            }
        };
        let langid: unic_langid::LanguageIdentifier =
            lang.tag().parse().expect("static language tag");
        let mut bundle = FluentBundle::new(vec![langid]);
        // No Unicode isolation marks around arguments: egui would draw them as boxes.
        bundle.set_use_isolating(false);
        if let Err(errs) = bundle.add_resource(res) {
            tracing::error!("translation bundle {}: {errs:?}", lang.tag());
        }
        Tr { lang, bundle }
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The message for `key`; the key itself if it is missing (visible, never a panic).
    pub fn t(&self, key: &str) -> String {
        self.format(key, None)
    }

    pub fn t_args(&self, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, v.clone());
        }
        self.format(key, Some(&fa))
    }

    fn format(&self, key: &str, args: Option<&FluentArgs>) -> String {
        let Some(pattern) = self.bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_owned();
        };
        let mut errs = Vec::new();
        self.bundle
            .format_pattern(pattern, args, &mut errs)
            .into_owned()
    }

    /// Every message key in the bundle's source (for the completeness test).
    pub fn keys(lang: Lang) -> Vec<String> {
        lang.source()
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_owned()))
            .filter(|k| !k.starts_with('#') && !k.is_empty())
            .collect()
    }
}

/// Installs the bundled Noto Sans as the first font of every family.
pub fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        "noto-sans".into(),
        std::sync::Arc::new(egui::FontData::from_static(include_bytes!(
            "../../../assets/fonts/NotoSans-Regular.ttf"
        ))),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .insert(0, "noto-sans".into());
    }
    ctx.set_fonts(fonts);
}
