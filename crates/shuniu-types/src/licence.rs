//! Electronic licence identifiers (电子证照标识, GB/T 36904) and licence type codes (证照类型代码,
//! GB/T 36902). Parsed once at the edge, like ID numbers: a value of these types is valid.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::FieldError;

fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> FieldError {
    FieldError::new("", code, zh, en)
}

/// The object identifier arc every licence identifier starts with (GB/T 36904: China's arc,
/// the e-licence registry, licences).
pub const LICENCE_OID_ARC: &str = "1.2.156.3005.2";

const ALNUM36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn value36(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

/// ISO 7064 MOD 37,36 (the hybrid system for digits and capital letters): the check character
/// GB/T 36904 appends over the type code, issuer code, serial and version joined without dots.
pub fn mod37_36_check(text: &str) -> Option<char> {
    let mut p = 36u32;
    for c in text.bytes() {
        let s = (p + value36(c)?) % 36;
        p = (if s == 0 { 36 } else { s }) * 2 % 37;
    }
    Some(ALNUM36[((37 - p) % 36) as usize] as char)
}

/// A licence type code (证照类型代码, GB/T 36902): the unified social credit code of the body
/// that defines the licence type, then three digits numbering its types.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LicenceTypeCode(String);

impl LicenceTypeCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The defining body's credit code (its first 18 characters).
    pub fn definer(&self) -> &str {
        &self.0[..18]
    }
    pub fn compose(definer: &crate::CreditCode, number: u16) -> Option<LicenceTypeCode> {
        (number < 1000).then(|| LicenceTypeCode(format!("{definer}{number:03}")))
    }
}

impl FromStr for LicenceTypeCode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_ascii_uppercase();
        let shape = s.len() == 21
            && s.is_ascii()
            && s[18..].bytes().all(|b| b.is_ascii_digit())
            && s[..18].bytes().all(|b| value36(b).is_some());
        if !shape {
            return Err(invalid(
                "LICENCE_TYPE_CODE_FORMAT",
                "证照类型代码应为定义机构的统一社会信用代码加 3 位数字（共 21 位）",
                "a licence type code is the defining body's credit code and three digits (21 characters)",
            ));
        }
        // The defining bodies are state organs whose credit codes are checked like any other.
        s[..18].parse::<crate::CreditCode>().map_err(|e| {
            invalid(
                "LICENCE_TYPE_CODE_DEFINER",
                format!("证照类型代码中的定义机构代码无效：{}", e.message_zh),
                format!(
                    "the defining body's code in the type code is invalid: {}",
                    e.message_en
                ),
            )
        })?;
        Ok(LicenceTypeCode(s))
    }
}

/// A licence identifier (电子证照标识, GB/T 36904):
/// `1.2.156.3005.2.{type code}.{issuer code}.{serial}.{version}.{check}`. The issuer is the
/// issuing authority's credit code, or in some systems its six-digit division code; the
/// serial is the issuer's own number for the licence; the version counts re-issues (`001`
/// first); the check character is ISO 7064 MOD 37,36 over the four middle segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LicenceId {
    text: String,
}

/// The parts of a [`LicenceId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceIdParts<'a> {
    pub type_code: &'a str,
    pub issuer: &'a str,
    pub serial: &'a str,
    pub version: u16,
}

impl LicenceId {
    /// Builds an identifier, computing its check character. `None` when a segment is not made
    /// of digits and capital letters, or the version is not 1–999.
    pub fn compose(
        type_code: &LicenceTypeCode,
        issuer: &str,
        serial: &str,
        version: u16,
    ) -> Option<LicenceId> {
        if !(1..=999).contains(&version) || !segment_ok(issuer, 6, 18) || !segment_ok(serial, 1, 40)
        {
            return None;
        }
        let version = format!("{version:03}");
        let check = mod37_36_check(&format!("{type_code}{issuer}{serial}{version}"))?;
        Some(LicenceId {
            text: format!("{LICENCE_OID_ARC}.{type_code}.{issuer}.{serial}.{version}.{check}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn parts(&self) -> LicenceIdParts<'_> {
        let rest = &self.text[LICENCE_OID_ARC.len() + 1..];
        let mut it = rest.split('.');
        let type_code = it.next().unwrap_or_default();
        let issuer = it.next().unwrap_or_default();
        let serial = it.next().unwrap_or_default();
        let version = it.next().and_then(|v| v.parse().ok()).unwrap_or(1);
        LicenceIdParts {
            type_code,
            issuer,
            serial,
            version,
        }
    }

    /// The same licence's identifier at another version (a re-issue).
    pub fn with_version(&self, version: u16) -> Option<LicenceId> {
        let p = self.parts();
        let t: LicenceTypeCode = p.type_code.parse().ok()?;
        LicenceId::compose(&t, p.issuer, p.serial, version)
    }
}

fn segment_ok(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| value36(b).is_some())
}

impl FromStr for LicenceId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_ascii_uppercase();
        let format = || {
            invalid(
                "LICENCE_ID_FORMAT",
                "电子证照标识应为 1.2.156.3005.2.证照类型代码.颁发机构代码.顺序号.版本号.校验位",
                "a licence identifier is 1.2.156.3005.2.type.issuer.serial.version.check",
            )
        };
        let rest = s
            .strip_prefix(LICENCE_OID_ARC)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(format)?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [type_code, issuer, serial, version, check] = parts[..] else {
            return Err(format());
        };
        let type_code: LicenceTypeCode = type_code.parse()?;
        let version_ok = version.len() == 3 && version.bytes().all(|b| b.is_ascii_digit());
        if !segment_ok(issuer, 6, 18)
            || !segment_ok(serial, 1, 40)
            || !version_ok
            || version == "000"
            || check.len() != 1
        {
            return Err(format());
        }
        let expected =
            mod37_36_check(&format!("{type_code}{issuer}{serial}{version}")).ok_or_else(format)?;
        if !check.starts_with(expected) {
            return Err(invalid(
                "LICENCE_ID_CHECK",
                format!("电子证照标识校验位应为 {expected}，实为 {check}"),
                format!("the check character should be {expected}, not {check}"),
            ));
        }
        Ok(LicenceId { text: s })
    }
}

impl TryFrom<String> for LicenceTypeCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}
impl From<LicenceTypeCode> for String {
    fn from(c: LicenceTypeCode) -> String {
        c.0
    }
}
impl fmt::Display for LicenceTypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for LicenceId {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}
impl From<LicenceId> for String {
    fn from(c: LicenceId) -> String {
        c.text
    }
}
impl fmt::Display for LicenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Identifiers seen in public licence systems.
    const REAL: [&str; 2] = [
        "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    ];

    #[test]
    fn real_identifiers_parse_and_their_parts_are_read() {
        for r in REAL {
            let id: LicenceId = r.parse().unwrap_or_else(|e| panic!("{r}: {e}"));
            assert_eq!(id.as_str(), r);
        }
        let id: LicenceId = REAL[0].parse().unwrap();
        let p = id.parts();
        assert_eq!(p.type_code, "11100000000013338W032");
        assert_eq!(p.issuer, "11220000013544541J");
        assert_eq!(p.serial, "2430599");
        assert_eq!(p.version, 1);
        let t: LicenceTypeCode = p.type_code.parse().unwrap();
        assert_eq!(t.definer(), "11100000000013338W");
        // Recomposed from its parts, the identifier is the same.
        assert_eq!(LicenceId::compose(&t, p.issuer, p.serial, 1), Some(id));
    }

    #[test]
    fn iso7064_mod37_36() {
        assert_eq!(
            mod37_36_check("11100000000013338W03211220000013544541J2430599001"),
            Some('F')
        );
        assert_eq!(
            mod37_36_check("abc"),
            None,
            "lower case is not in the alphabet"
        );
    }

    #[test]
    fn failures_are_named() {
        let code = |s: &str| s.parse::<LicenceId>().unwrap_err().code;
        assert_eq!(
            code("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.G"),
            "LICENCE_ID_CHECK"
        );
        assert_eq!(
            code("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.F"),
            "LICENCE_ID_FORMAT"
        );
        assert_eq!(
            code("1.2.156.3005.1.11100000000013338W032.11220000013544541J.2430599.001.F"),
            "LICENCE_ID_FORMAT"
        );
        assert_eq!(
            code("1.2.156.3005.2.11100000000013338W03.11220000013544541J.2430599.001.F"),
            "LICENCE_TYPE_CODE_FORMAT"
        );
        assert_eq!(
            code("1.2.156.3005.2.11100000000013338X032.11220000013544541J.2430599.001.F"),
            "LICENCE_TYPE_CODE_DEFINER"
        );
        // A six-digit issuer (an area code) is accepted, with its own check character.
        let t: LicenceTypeCode = "11100000000013338W032".parse().unwrap();
        let id = LicenceId::compose(&t, "370200", "QD2026000001", 1).unwrap();
        assert!(id.as_str().parse::<LicenceId>().is_ok());
        assert_eq!(id.with_version(2).unwrap().parts().version, 2);
        assert!(LicenceId::compose(&t, "370200", "QD-1", 1).is_none());
        assert!(LicenceId::compose(&t, "370200", "1", 0).is_none());
    }

    proptest! {
        #[test]
        fn composed_identifiers_round_trip_and_catch_one_changed_character(
            serial in "[0-9A-Z]{1,20}", version in 1u16..1000, pos in 0usize..20, by in 1u32..36
        ) {
            let t: LicenceTypeCode = "11100000000013338W032".parse().unwrap();
            let id = LicenceId::compose(&t, "11220000013544541J", &serial, version).unwrap();
            let parsed: LicenceId = id.as_str().parse().unwrap();
            prop_assert_eq!(&parsed, &id);
            // Change one character of the serial: the check character catches it.
            let pos = pos % serial.len();
            let mut s = serial.clone().into_bytes();
            let v = value36(s[pos]).unwrap();
            s[pos] = ALNUM36[((v + by) % 36) as usize];
            let changed = format!(
                "{LICENCE_OID_ARC}.{t}.11220000013544541J.{}.{version:03}.{}",
                String::from_utf8(s).unwrap(),
                id.as_str().chars().last().unwrap()
            );
            prop_assert!(changed.parse::<LicenceId>().is_err());
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,90}") {
            let _ = s.parse::<LicenceId>();
            let _ = s.parse::<LicenceTypeCode>();
        }
    }
}
