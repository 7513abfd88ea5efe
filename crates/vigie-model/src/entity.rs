use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// An ISO 3166-1 alpha-2 country code, always upper case (`KZ`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses two ASCII letters, in any case.
    pub fn new(text: &str) -> Result<Self, ModelError> {
        let bytes = text.as_bytes();
        if bytes.len() == 2 && bytes.iter().all(u8::is_ascii_alphabetic) {
            Ok(CountryCode([
                bytes[0].to_ascii_uppercase(),
                bytes[1].to_ascii_uppercase(),
            ]))
        } else {
            Err(ModelError::BadEntity(text.to_string()))
        }
    }

    /// The code as text, such as `"KZ"`.
    pub fn as_str(&self) -> &str {
        // Always two ASCII upper-case letters, checked in `new`.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The country of an ISO 3166-1 alpha-3 code (`UKR` → `UA`), in any case;
    /// `None` for codes ISO does not assign.
    pub fn from_alpha3(code: &str) -> Option<Self> {
        let code = code.trim();
        if code.len() != 3 {
            return None;
        }
        isocountry::CountryCode::for_alpha3_caseless(code)
            .ok()
            .and_then(|c| CountryCode::new(c.alpha2()).ok())
    }

    /// The country's English short name as ISO 3166-1 gives it
    /// (`Kazakhstan`), or `None` for codes that name no country (such as the
    /// registries' `EU` and `AP`).
    pub fn name(&self) -> Option<&'static str> {
        isocountry::CountryCode::for_alpha2(self.as_str())
            .ok()
            .map(|c| c.name())
    }

    /// The two code bytes packed into a `u16`, a dense key for tables.
    pub fn to_u16(self) -> u16 {
        u16::from_be_bytes(self.0)
    }

    /// The inverse of [`CountryCode::to_u16`]; `None` when the bytes are not letters.
    pub fn from_u16(packed: u16) -> Option<Self> {
        let bytes = packed.to_be_bytes();
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(CountryCode(bytes))
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CountryCode {
    type Error = ModelError;
    fn try_from(text: String) -> Result<Self, ModelError> {
        CountryCode::new(&text)
    }
}

impl From<CountryCode> for String {
    fn from(code: CountryCode) -> String {
        code.as_str().to_string()
    }
}

/// A region: a named subdivision of a country, written `KZ/Almaty`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct RegionId {
    /// The country the region belongs to.
    pub country: CountryCode,
    /// The subdivision's name as the geo table spells it.
    pub name: String,
}

/// What kind of thing an [`Entity`] is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// A country.
    Country,
    /// An autonomous system.
    Asn,
    /// A subdivision of a country.
    Region,
}

impl EntityKind {
    /// The name used in the store, the API and IODA's API: `country`, `asn`, `region`.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Country => "country",
            EntityKind::Asn => "asn",
            EntityKind::Region => "region",
        }
    }
}

impl FromStr for EntityKind {
    type Err = ModelError;
    fn from_str(text: &str) -> Result<Self, ModelError> {
        match text.to_ascii_lowercase().as_str() {
            "country" => Ok(EntityKind::Country),
            "asn" | "as" => Ok(EntityKind::Asn),
            "region" => Ok(EntityKind::Region),
            _ => Err(ModelError::BadEntity(text.to_string())),
        }
    }
}

/// What an outage happens to: a country, an autonomous system or a region.
///
/// Written `KZ`, `AS9198` and `KZ/Almaty`; IODA's `country/KZ` and `asn/9198`
/// are accepted too.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Entity {
    /// A country.
    Country(CountryCode),
    /// An autonomous system, by number.
    Asn(u32),
    /// A subdivision of a country.
    Region(RegionId),
}

impl Entity {
    /// The entity's kind.
    pub fn kind(&self) -> EntityKind {
        match self {
            Entity::Country(_) => EntityKind::Country,
            Entity::Asn(_) => EntityKind::Asn,
            Entity::Region(_) => EntityKind::Region,
        }
    }

    /// The code within its kind: `KZ`, `9198`, `KZ/Almaty` (IODA's entityCode).
    pub fn code(&self) -> String {
        match self {
            Entity::Country(cc) => cc.to_string(),
            Entity::Asn(asn) => asn.to_string(),
            Entity::Region(region) => format!("{}/{}", region.country, region.name),
        }
    }

    /// Builds an entity from a kind and a code, as stored or as IODA writes them.
    pub fn from_kind_code(kind: EntityKind, code: &str) -> Result<Self, ModelError> {
        match kind {
            EntityKind::Country => CountryCode::new(code).map(Entity::Country),
            EntityKind::Asn => parse_asn(code).map(Entity::Asn),
            EntityKind::Region => parse_region(code),
        }
    }
}

fn parse_asn(text: &str) -> Result<u32, ModelError> {
    let digits = text
        .strip_prefix("AS")
        .or_else(|| text.strip_prefix("as"))
        .or_else(|| text.strip_prefix("As"))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ModelError::BadEntity(text.to_string()));
    }
    digits
        .parse::<u32>()
        .map_err(|_| ModelError::BadEntity(text.to_string()))
}

fn parse_region(text: &str) -> Result<Entity, ModelError> {
    let (country, name) = text
        .split_once('/')
        .ok_or_else(|| ModelError::BadEntity(text.to_string()))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ModelError::BadEntity(text.to_string()));
    }
    Ok(Entity::Region(RegionId {
        country: CountryCode::new(country).map_err(|_| ModelError::BadEntity(text.to_string()))?,
        name: name.to_string(),
    }))
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::Country(cc) => write!(f, "{cc}"),
            Entity::Asn(asn) => write!(f, "AS{asn}"),
            Entity::Region(region) => write!(f, "{}/{}", region.country, region.name),
        }
    }
}

impl FromStr for Entity {
    type Err = ModelError;

    fn from_str(text: &str) -> Result<Self, ModelError> {
        let text = text.trim();
        let bad = || ModelError::BadEntity(text.to_string());
        if let Some((kind, code)) = text.split_once('/') {
            if let Ok(kind) = kind.parse::<EntityKind>() {
                return Entity::from_kind_code(kind, code).map_err(|_| bad());
            }
            return parse_region(text);
        }
        if text.len() > 2 && text.as_bytes()[..2].eq_ignore_ascii_case(b"AS") {
            return parse_asn(text).map(Entity::Asn);
        }
        CountryCode::new(text)
            .map(Entity::Country)
            .map_err(|_| bad())
    }
}

impl TryFrom<String> for Entity {
    type Error = ModelError;
    fn try_from(text: String) -> Result<Self, ModelError> {
        text.parse()
    }
}

impl From<Entity> for String {
    fn from(entity: Entity) -> String {
        entity.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        assert_eq!(
            "KZ".parse::<Entity>(),
            Ok(Entity::Country(CountryCode::new("KZ").unwrap()))
        );
        assert_eq!("kz".parse::<Entity>().unwrap().to_string(), "KZ");
        assert_eq!("AS9198".parse::<Entity>(), Ok(Entity::Asn(9198)));
        assert_eq!("as9198".parse::<Entity>(), Ok(Entity::Asn(9198)));
        assert_eq!("asn/9198".parse::<Entity>(), Ok(Entity::Asn(9198)));
        assert_eq!("country/iq".parse::<Entity>().unwrap().to_string(), "IQ");
        let region: Entity = "KZ/East Kazakhstan".parse().unwrap();
        assert_eq!(region.to_string(), "KZ/East Kazakhstan");
        assert_eq!(region.kind(), EntityKind::Region);
        assert_eq!(
            "region/KZ/Almaty".parse::<Entity>().unwrap().code(),
            "KZ/Almaty"
        );
    }

    #[test]
    fn rejects_nonsense_without_panicking() {
        for bad in [
            "",
            "K",
            "KZZ",
            "aé",
            "AS-1",
            "AS99999999999",
            "1Z",
            "KZ/",
            "/x",
            "ASé",
        ] {
            // "AS" alone is American Samoa, a country.
            assert!(bad.parse::<Entity>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn countries_have_names() {
        assert_eq!(CountryCode::new("kz").unwrap().name(), Some("Kazakhstan"));
        assert_eq!(CountryCode::new("IQ").unwrap().name(), Some("Iraq"));
        assert_eq!(CountryCode::new("EU").unwrap().name(), None);
    }

    #[test]
    fn alpha3_codes_map_to_alpha2() {
        assert_eq!(CountryCode::from_alpha3("UKR"), CountryCode::new("UA").ok());
        assert_eq!(CountryCode::from_alpha3("ven"), CountryCode::new("VE").ok());
        assert_eq!(CountryCode::from_alpha3("MMR"), CountryCode::new("MM").ok());
        assert_eq!(CountryCode::from_alpha3("XYZ"), None);
        assert_eq!(CountryCode::from_alpha3("UKRR"), None);
        assert_eq!(CountryCode::from_alpha3("é"), None);
    }

    #[test]
    fn country_code_packs_round_trip() {
        let kz = CountryCode::new("kz").unwrap();
        assert_eq!(CountryCode::from_u16(kz.to_u16()), Some(kz));
        assert_eq!(CountryCode::from_u16(0), None);
    }
}
