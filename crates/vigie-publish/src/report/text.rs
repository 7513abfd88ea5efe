//! The words of reports in English and French.

use vigie_detect::{Mechanism, Scope};

/// A report's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// French.
    Fr,
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Ok(Lang::En),
            "fr" | "french" | "français" => Ok(Lang::Fr),
            other => Err(format!("'{other}' is not a report language: use en or fr")),
        }
    }
}

impl Lang {
    /// `en` or `fr`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// Picks the English or the French text.
    pub fn pick<'a>(self, en: &'a str, fr: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Fr => fr,
        }
    }

    /// How the outage was made, in words.
    pub fn mechanism(self, mechanism: Mechanism) -> &'static str {
        match (self, mechanism) {
            (Lang::En, Mechanism::RoutesWithdrawn) => "routes withdrawn from BGP",
            (Lang::Fr, Mechanism::RoutesWithdrawn) => "retrait des routes BGP",
            (Lang::En, Mechanism::DataPlaneBlocking) => {
                "data-plane blocking (routes stayed announced, traffic stopped)"
            }
            (Lang::Fr, Mechanism::DataPlaneBlocking) => {
                "blocage du plan de données (routes toujours annoncées, trafic interrompu)"
            }
            (Lang::En, Mechanism::Throttling) => "throttling (traffic reduced, network reachable)",
            (Lang::Fr, Mechanism::Throttling) => "bridage (trafic réduit, réseau joignable)",
            (Lang::En, Mechanism::Unknown) => "undetermined",
            (Lang::Fr, Mechanism::Unknown) => "indéterminé",
        }
    }

    /// How wide the outage was, in words.
    pub fn scope(self, scope: Scope) -> &'static str {
        match (self, scope) {
            (Lang::En, Scope::Nationwide) => "nationwide",
            (Lang::Fr, Scope::Nationwide) => "nationale",
            (Lang::En, Scope::Regional) => "regional",
            (Lang::Fr, Scope::Regional) => "régionale",
            (Lang::En, Scope::SingleNetwork) => "a single network",
            (Lang::Fr, Scope::SingleNetwork) => "un seul réseau",
            (Lang::En, Scope::MultipleNetworks) => "several networks",
            (Lang::Fr, Scope::MultipleNetworks) => "plusieurs réseaux",
            (Lang::En, Scope::Unknown) => "undetermined",
            (Lang::Fr, Scope::Unknown) => "indéterminée",
        }
    }

    /// "3 h 25 min", "2 d 4 h" / "2 j 4 h".
    pub fn duration(self, secs: i64) -> String {
        let minutes = secs.max(0) / 60;
        let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
        let d = self.pick("d", "j");
        match (days, hours, mins) {
            (0, 0, m) => format!("{m} min"),
            (0, h, 0) => format!("{h} h"),
            (0, h, m) => format!("{h} h {m} min"),
            (n, 0, _) => format!("{n} {d}"),
            (n, h, _) => format!("{n} {d} {h} h"),
        }
    }

    /// A percentage with the language's spacing: `82%` / `82 %`.
    pub fn percent(self, fraction: f64) -> String {
        if !fraction.is_finite() {
            return "–".into();
        }
        let value = (fraction * 100.0).round();
        match self {
            Lang::En => format!("{value:.0}%"),
            Lang::Fr => format!("{value:.0} %"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_their_words() {
        assert_eq!("FR".parse::<Lang>(), Ok(Lang::Fr));
        assert!("de".parse::<Lang>().is_err());
        assert_eq!(Lang::Fr.duration(2 * 86_400 + 4 * 3600), "2 j 4 h");
        assert_eq!(Lang::En.duration(3 * 3600 + 25 * 60), "3 h 25 min");
        assert_eq!(Lang::Fr.percent(0.816), "82 %");
        assert_eq!(
            Lang::En.mechanism(Mechanism::RoutesWithdrawn),
            "routes withdrawn from BGP"
        );
        assert_eq!(Lang::Fr.scope(Scope::Nationwide), "nationale");
    }
}
