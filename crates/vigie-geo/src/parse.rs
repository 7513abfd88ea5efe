//! Row parsers for the text formats, free of I/O. Each returns a [`Row`]
//! saying whether the row is to be ignored (header, comment), skipped (valid
//! but carries nothing for vigie), loaded, or malformed (with the reason).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv6Net};
use vigie_model::CountryCode;

use crate::registry_country;

/// What one input row amounts to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Row<T> {
    /// Not a data row: a header, a comment, a summary, a blank line.
    Ignore,
    /// A valid row that carries nothing to load (no country, other type...).
    Skip,
    /// A row to load.
    Load(T),
    /// A row that is wrong, and why.
    Bad(String),
}

/// An inclusive address range with a value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AddrRange<T> {
    pub start: IpAddr,
    pub end: IpAddr,
    pub value: T,
}

/// A country field: `Ok(None)` when the row has no country (empty, `ZZ`, `-`).
fn country_field(text: &str) -> Result<Option<CountryCode>, String> {
    let text = text.trim();
    if text.is_empty() || text == "-" || text.eq_ignore_ascii_case("ZZ") {
        return Ok(None);
    }
    registry_country(text)
        .map(Some)
        .ok_or_else(|| format!("'{text}' is not a two-letter country code"))
}

/// Parses an AS number written `9198` or `AS9198`.
pub(crate) fn asn_field(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let digits = text
        .strip_prefix("AS")
        .or_else(|| text.strip_prefix("as"))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{text}' is not an AS number"));
    }
    digits
        .parse::<u32>()
        .map_err(|_| format!("AS number '{text}' is larger than 4294967295"))
}

/// One line of an RIR delegated(-extended) statistics file:
/// `registry|cc|type|start|value|date|status[|extensions]`.
pub(crate) fn rir_line(line: &str) -> Row<AddrRange<CountryCode>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Row::Ignore;
    }
    let mut fields = [""; 7];
    let mut count = 0;
    for field in line.split('|') {
        if let Some(slot) = fields.get_mut(count) {
            *slot = field.trim();
        }
        count += 1;
    }
    let [_registry, cc, kind, start, value, _date, status] = fields;
    // The version line starts with the format version: `2|ripencc|...`, `2.3|arin|...`.
    if fields[0].bytes().all(|b| b.is_ascii_digit() || b == b'.') && !fields[0].is_empty() {
        return Row::Ignore;
    }
    // Summary lines: `ripencc|*|ipv4|*|72789|summary`.
    if count >= 6 && fields[5] == "summary" {
        return Row::Ignore;
    }
    if count < 7 {
        return Row::Bad(format!(
            "expected registry|cc|type|start|value|date|status, found {count} field(s)"
        ));
    }
    let family_v4 = match kind {
        "ipv4" => true,
        "ipv6" => false,
        "asn" => return Row::Skip,
        other => {
            return Row::Bad(format!(
                "unknown resource type '{other}' (expected ipv4, ipv6 or asn)"
            ))
        }
    };
    if !(status.eq_ignore_ascii_case("allocated") || status.eq_ignore_ascii_case("assigned")) {
        return Row::Skip;
    }
    let country = match country_field(cc) {
        Ok(Some(country)) => country,
        Ok(None) => return Row::Skip,
        Err(why) => return Row::Bad(why),
    };
    if family_v4 {
        let Ok(first) = Ipv4Addr::from_str(start) else {
            return Row::Bad(format!("'{start}' is not an IPv4 address"));
        };
        let count = match value.parse::<u64>() {
            Ok(count) if count > 0 => count,
            _ => return Row::Bad(format!("'{value}' is not a positive IPv4 address count")),
        };
        let last = u64::from(u32::from(first)).checked_add(count - 1);
        let Some(Ok(last)) = last.map(u32::try_from) else {
            return Row::Bad(format!(
                "{start} + {count} addresses runs past 255.255.255.255"
            ));
        };
        Row::Load(AddrRange {
            start: IpAddr::V4(first),
            end: IpAddr::V4(Ipv4Addr::from(last)),
            value: country,
        })
    } else {
        let Ok(first) = Ipv6Addr::from_str(start) else {
            return Row::Bad(format!("'{start}' is not an IPv6 address"));
        };
        let Some(net) = value
            .parse::<u8>()
            .ok()
            .and_then(|len| Ipv6Net::new(first, len).ok())
        else {
            return Row::Bad(format!("'{value}' is not an IPv6 prefix length (0-128)"));
        };
        let net = net.trunc();
        Row::Load(AddrRange {
            start: IpAddr::V6(net.network()),
            end: IpAddr::V6(net.broadcast()),
            value: country,
        })
    }
}

/// An address as ip-location-db writes it: dotted/colon text, or a decimal
/// number (the `-num` files). Numbers are returned as `u128` for the caller
/// to place in a family.
enum AddrField {
    Ip(IpAddr),
    Number(u128),
}

fn addr_field(text: &str) -> Result<AddrField, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u128>()
            .map(AddrField::Number)
            .map_err(|_| format!("'{text}' is too large for an address"));
    }
    IpAddr::from_str(text)
        .map(AddrField::Ip)
        .map_err(|_| format!("'{text}' is not an IP address"))
}

/// The start and end of an ip-location-db range, checked.
fn csv_range(start: &str, end: &str) -> Result<(IpAddr, IpAddr), String> {
    let (start_ip, end_ip) = match (addr_field(start)?, addr_field(end)?) {
        (AddrField::Ip(s), AddrField::Ip(e)) => (s.to_canonical(), e.to_canonical()),
        (AddrField::Number(s), AddrField::Number(e)) => {
            // Numeric files are per family; IPv6 numbers below 2^32 would be
            // ::/96, which holds no public space, so those read as IPv4.
            match (u32::try_from(s), u32::try_from(e)) {
                (Ok(s), Ok(e)) => (IpAddr::V4(s.into()), IpAddr::V4(e.into())),
                _ => (IpAddr::V6(s.into()), IpAddr::V6(e.into())),
            }
        }
        _ => return Err("range mixes a numeric and a textual address".to_string()),
    };
    match (start_ip, end_ip) {
        (IpAddr::V4(s), IpAddr::V4(e)) if s <= e => Ok((start_ip, end_ip)),
        (IpAddr::V6(s), IpAddr::V6(e)) if s <= e => Ok((start_ip, end_ip)),
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => Err(format!(
            "range start {} is after its end {}",
            start.trim(),
            end.trim()
        )),
        _ => Err(format!(
            "range mixes IPv4 and IPv6: {} - {}",
            start.trim(),
            end.trim()
        )),
    }
}

/// True for an ip-location-db header row such as `ip_range_start,...`.
fn is_csv_header(fields: &[&str]) -> bool {
    fields
        .first()
        .is_some_and(|first| first.trim().eq_ignore_ascii_case("ip_range_start"))
}

/// A row of ip-location-db country CSV: `ip_range_start,ip_range_end,country_code`.
pub(crate) fn country_csv_row(fields: &[&str]) -> Row<AddrRange<CountryCode>> {
    if is_csv_header(fields) || fields.iter().all(|f| f.trim().is_empty()) {
        return Row::Ignore;
    }
    let [start, end, cc, ..] = fields else {
        return Row::Bad(format!(
            "expected ip_range_start,ip_range_end,country_code, found {} field(s)",
            fields.len()
        ));
    };
    let (start, end) = match csv_range(start, end) {
        Ok(range) => range,
        Err(why) => return Row::Bad(why),
    };
    match country_field(cc) {
        Ok(Some(value)) => Row::Load(AddrRange { start, end, value }),
        Ok(None) => Row::Skip,
        Err(why) => Row::Bad(why),
    }
}

/// An origin AS with its organisation name, when the row gives one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AsnWithName<'a> {
    pub asn: u32,
    pub name: Option<&'a str>,
}

/// A row of ip-location-db ASN CSV:
/// `ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization`.
pub(crate) fn asn_csv_row<'a>(fields: &[&'a str]) -> Row<AddrRange<AsnWithName<'a>>> {
    if is_csv_header(fields) || fields.iter().all(|f| f.trim().is_empty()) {
        return Row::Ignore;
    }
    let [start, end, asn, rest @ ..] = fields else {
        return Row::Bad(format!(
            "expected ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization, found {} field(s)",
            fields.len()
        ));
    };
    let (start, end) = match csv_range(start, end) {
        Ok(range) => range,
        Err(why) => return Row::Bad(why),
    };
    let asn = match asn_field(asn) {
        Ok(0) => return Row::Skip, // AS0: explicitly not routed
        Ok(asn) => asn,
        Err(why) => return Row::Bad(why),
    };
    let name = rest
        .first()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty());
    Row::Load(AddrRange {
        start,
        end,
        value: AsnWithName { asn, name },
    })
}

/// A row of ip-location-db dbip-city CSV: `ip_range_start,ip_range_end,
/// country_code,state1,state2,city,postcode,latitude,longitude,timezone`.
/// The region is `(country_code, state1)`.
pub(crate) fn dbip_city_row<'a>(fields: &[&'a str]) -> Row<AddrRange<(CountryCode, &'a str)>> {
    if is_csv_header(fields) || fields.iter().all(|f| f.trim().is_empty()) {
        return Row::Ignore;
    }
    let [start, end, cc, state1, ..] = fields else {
        return Row::Bad(format!(
            "expected ip_range_start,ip_range_end,country_code,state1,state2,city,..., found {} field(s)",
            fields.len()
        ));
    };
    let (start, end) = match csv_range(start, end) {
        Ok(range) => range,
        Err(why) => return Row::Bad(why),
    };
    let country = match country_field(cc) {
        Ok(Some(country)) => country,
        Ok(None) => return Row::Skip,
        Err(why) => return Row::Bad(why),
    };
    let state = state1.trim();
    if state.is_empty() {
        return Row::Skip;
    }
    if state.chars().any(char::is_control) {
        return Row::Bad(format!("region name {state:?} holds control characters"));
    }
    Row::Load(AddrRange {
        start,
        end,
        value: (country, state),
    })
}

/// One line of a prefix-to-AS table: pyasn `prefix/len<TAB>asn` or CAIDA
/// RouteViews pfx2as `addr<TAB>len<TAB>asn`. A multi-origin AS (`a_b`) or an
/// AS set (`a,b`, `{a,b}`) gives its first AS. `;` and `#` start comments.
pub(crate) fn prefix2as_line(line: &str) -> Row<(IpNet, u32)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
        return Row::Ignore;
    }
    let mut fields = line.split_whitespace();
    let (first, second, third, extra) =
        (fields.next(), fields.next(), fields.next(), fields.next());
    let (net, asn_text) = match (first, second, third, extra) {
        (Some(prefix), Some(asn), None, None) if prefix.contains('/') => {
            match IpNet::from_str(prefix) {
                Ok(net) => (net, asn),
                Err(_) => return Row::Bad(format!("'{prefix}' is not a prefix")),
            }
        }
        (Some(addr), Some(len), Some(asn), None) => {
            let Ok(addr) = IpAddr::from_str(addr) else {
                return Row::Bad(format!("'{addr}' is not an IP address"));
            };
            match len
                .parse::<u8>()
                .ok()
                .and_then(|len| IpNet::new(addr, len).ok())
            {
                Some(net) => (net, asn),
                None => return Row::Bad(format!("'{len}' is not a prefix length for {addr}")),
            }
        }
        _ => {
            return Row::Bad(
                "expected 'prefix/len<TAB>asn' (pyasn) or 'addr<TAB>len<TAB>asn' (pfx2as)"
                    .to_string(),
            )
        }
    };
    let first_asn = asn_text
        .trim_start_matches('{')
        .split(['_', ',', '}'])
        .next()
        .unwrap_or("");
    match asn_field(first_asn) {
        Ok(asn) => Row::Load((net.trunc(), asn)),
        Err(why) => Row::Bad(why),
    }
}

/// One line of a plain-text AS-name list: `9198 KAZTELECOM-AS, KZ` (the
/// number, whitespace or a comma, then the name).
pub(crate) fn as_name_line(line: &str) -> Row<(u32, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
        return Row::Ignore;
    }
    let split_at = line
        .find(|c: char| c.is_whitespace() || c == ',')
        .unwrap_or(line.len());
    let (number, name) = line.split_at(split_at);
    let name = name
        .trim_start_matches(|c: char| c.is_whitespace() || c == ',')
        .trim();
    match asn_field(number) {
        Ok(asn) if !name.is_empty() => Row::Load((asn, name)),
        Ok(_) => Row::Bad(format!("AS{number} has no name")),
        Err(why) => Row::Bad(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(text: &str) -> CountryCode {
        CountryCode::new(text).unwrap()
    }

    #[test]
    fn rir_rows() {
        assert_eq!(
            rir_line("2|ripencc|1539467999|189189|19830705|20181013|+0200"),
            Row::Ignore
        );
        assert_eq!(
            rir_line("2.3|arin|1539406814230|142799|19700101|20181013|-0400"),
            Row::Ignore
        );
        assert_eq!(rir_line("ripencc|*|ipv4|*|72789|summary"), Row::Ignore);
        assert_eq!(rir_line("# CONDITIONS OF USE"), Row::Ignore);
        assert_eq!(
            rir_line("arin|US|asn|1|1|20010920|assigned|e5e3"),
            Row::Skip
        );
        assert_eq!(
            rir_line("lacnic||ipv4|24.152.0.0|32768||reserved|"),
            Row::Skip
        );
        assert_eq!(
            rir_line("afrinic|ZZ|ipv4|41.0.0.0|256|20181013|allocated"),
            Row::Skip
        );
        assert_eq!(
            rir_line("ripencc|KZ|ipv4|2.132.0.0|262144|20101223|allocated|38ea"),
            Row::Load(AddrRange {
                start: "2.132.0.0".parse().unwrap(),
                end: "2.135.255.255".parse().unwrap(),
                value: cc("KZ"),
            })
        );
        // Counts that are not powers of two are kept as they are.
        assert_eq!(
            rir_line("arin|US|ipv4|23.128.0.0|768|20181001|allocated"),
            Row::Load(AddrRange {
                start: "23.128.0.0".parse().unwrap(),
                end: "23.128.2.255".parse().unwrap(),
                value: cc("US"),
            })
        );
        assert_eq!(
            rir_line("ripencc|KZ|ipv6|2a00:12f8::|32|20090902|allocated|38ea"),
            Row::Load(AddrRange {
                start: "2a00:12f8::".parse().unwrap(),
                end: "2a00:12f8:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
                value: cc("KZ"),
            })
        );
        for bad in [
            "ripencc|KZ|ipv4|2.132.0|256|20101223|allocated",
            "ripencc|KZ|ipv4|2.132.0.0|0|20101223|allocated",
            "ripencc|KZ|ipv4|255.255.255.0|512|20101223|allocated",
            "ripencc|KZ|ipv4|1.0.0.0|18446744073709551615|20101223|allocated",
            "ripencc|KZ|ipv6|2a00::|129|20101223|allocated",
            "ripencc|K1|ipv4|2.132.0.0|256|20101223|allocated",
            "ripencc|KZ|ipv5|2.132.0.0|256|20101223|allocated",
            "ripencc|KZ|ipv4",
        ] {
            assert!(matches!(rir_line(bad), Row::Bad(_)), "{bad}");
        }
    }

    #[test]
    fn csv_rows() {
        assert_eq!(
            country_csv_row(&["2.132.0.0", "2.135.255.255", "KZ"]),
            Row::Load(AddrRange {
                start: "2.132.0.0".parse().unwrap(),
                end: "2.135.255.255".parse().unwrap(),
                value: cc("KZ"),
            })
        );
        assert_eq!(
            country_csv_row(&["16777216", "16777471", "AU"]),
            Row::Load(AddrRange {
                start: "1.0.0.0".parse().unwrap(),
                end: "1.0.0.255".parse().unwrap(),
                value: cc("AU"),
            })
        );
        assert_eq!(
            country_csv_row(&["ip_range_start", "ip_range_end", "country_code"]),
            Row::Ignore
        );
        assert_eq!(country_csv_row(&["1.0.0.0", "1.0.0.255", ""]), Row::Skip);
        assert!(matches!(
            country_csv_row(&["1.0.0.0", "1.0.0.255"]),
            Row::Bad(_)
        ));
        assert!(matches!(
            country_csv_row(&["1.0.1.0", "1.0.0.255", "AU"]),
            Row::Bad(_)
        ));
        assert!(matches!(
            country_csv_row(&["1.0.0.0", "::1", "AU"]),
            Row::Bad(_)
        ));
        assert!(matches!(
            country_csv_row(&["1.0.0.0", "1.0.0.255", "Australia"]),
            Row::Bad(_)
        ));
        assert_eq!(
            asn_csv_row(&["2.132.0.0", "2.135.255.255", "9198", "JSC Kazakhtelecom"]),
            Row::Load(AddrRange {
                start: "2.132.0.0".parse().unwrap(),
                end: "2.135.255.255".parse().unwrap(),
                value: AsnWithName {
                    asn: 9198,
                    name: Some("JSC Kazakhtelecom")
                },
            })
        );
        assert_eq!(asn_csv_row(&["1.0.0.0", "1.0.0.255", "0", ""]), Row::Skip);
        assert!(matches!(
            asn_csv_row(&["1.0.0.0", "1.0.0.255", "x", ""]),
            Row::Bad(_)
        ));
        assert_eq!(
            dbip_city_row(&["2.132.0.0", "2.132.127.255", "KZ", "Almaty", "", "Almaty"]),
            Row::Load(AddrRange {
                start: "2.132.0.0".parse().unwrap(),
                end: "2.132.127.255".parse().unwrap(),
                value: (cc("KZ"), "Almaty"),
            })
        );
        assert_eq!(
            dbip_city_row(&["2.132.0.0", "2.132.127.255", "KZ", ""]),
            Row::Skip
        );
    }

    #[test]
    fn prefix2as_rows() {
        assert_eq!(
            prefix2as_line("2.132.88.0/22\t9198"),
            Row::Load(("2.132.88.0/22".parse().unwrap(), 9198))
        );
        assert_eq!(
            prefix2as_line("2001:4:112::/48\t112"),
            Row::Load(("2001:4:112::/48".parse().unwrap(), 112))
        );
        assert_eq!(
            prefix2as_line("1.0.4.0\t22\t56203"),
            Row::Load(("1.0.4.0/22".parse().unwrap(), 56203))
        );
        assert_eq!(
            prefix2as_line("1.0.128.0\t17\t9737_23969"),
            Row::Load(("1.0.128.0/17".parse().unwrap(), 9737))
        );
        assert_eq!(
            prefix2as_line("1.2.3.0\t24\t4,5"),
            Row::Load(("1.2.3.0/24".parse().unwrap(), 4))
        );
        assert_eq!(
            prefix2as_line("1.2.3.0\t24\t{4,5}"),
            Row::Load(("1.2.3.0/24".parse().unwrap(), 4))
        );
        assert_eq!(prefix2as_line("; IP-ASN32-DAT file"), Row::Ignore);
        assert!(matches!(prefix2as_line("1.2.3.0/33\t4"), Row::Bad(_)));
        assert!(matches!(prefix2as_line("1.2.3.0\t24"), Row::Bad(_)));
        assert!(matches!(prefix2as_line("1.2.3.0/24\tAS"), Row::Bad(_)));
        assert!(matches!(
            prefix2as_line("1.2.3.0/24\t99999999999"),
            Row::Bad(_)
        ));
    }

    #[test]
    fn as_name_rows() {
        assert_eq!(
            as_name_line("9198 KAZTELECOM-AS, KZ"),
            Row::Load((9198, "KAZTELECOM-AS, KZ"))
        );
        assert_eq!(
            as_name_line("AS29355\tKCELL-AS"),
            Row::Load((29355, "KCELL-AS"))
        );
        assert!(matches!(as_name_line("9198"), Row::Bad(_)));
        assert!(matches!(as_name_line("x y"), Row::Bad(_)));
    }
}
