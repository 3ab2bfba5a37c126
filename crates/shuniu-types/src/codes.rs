//! National standard identifiers: GB 11643 citizen ID numbers, GB 32100 unified social
//! credit codes (with their inner GB 11714 organization code), GB/T 2260 division codes and
//! mainland mobile numbers. Each is parsed once, at the edge; a value of these types is valid.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::FieldError;

fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> FieldError {
    FieldError::new("", code, zh, en)
}

/// A GB/T 2260 administrative division code (行政区划代码): six digits, province / city /
/// county. Structural validity only: whether a code exists in the current (or a historical)
/// edition of the table is a quality rule with its own data file, not a parse concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DivisionCode(u32);

/// Province-level prefixes of GB/T 2260 (the first two digits).
const PROVINCES: [u32; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

impl DivisionCode {
    pub fn province(self) -> u32 {
        self.0 / 10_000
    }
    /// The code of the prefecture-level city this code belongs to (e.g. 370212 → 370200).
    pub fn city(self) -> DivisionCode {
        DivisionCode(self.0 / 100 * 100)
    }
    pub fn is_city_level(self) -> bool {
        self.0.is_multiple_of(100) && !self.0.is_multiple_of(10_000)
    }
    pub fn as_u32(self) -> u32 {
        self.0
    }
}

impl FromStr for DivisionCode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                "DIVISION_CODE_FORMAT",
                "行政区划代码应为 6 位数字",
                "a division code is six digits",
            ));
        }
        let n: u32 = s.parse().map_err(|_| {
            invalid(
                "DIVISION_CODE_FORMAT",
                "行政区划代码应为 6 位数字",
                "a division code is six digits",
            )
        })?;
        if !PROVINCES.contains(&(n / 10_000)) {
            return Err(invalid(
                "DIVISION_CODE_PROVINCE",
                format!("省级代码 {} 不存在", n / 10_000),
                format!("no province has the code {}", n / 10_000),
            ));
        }
        Ok(DivisionCode(n))
    }
}

impl TryFrom<String> for DivisionCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}
impl From<DivisionCode> for String {
    fn from(c: DivisionCode) -> String {
        c.to_string()
    }
}
impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

/// An 18-character GB 11643-1999 citizen identity number (公民身份号码): address code,
/// birth date, sequence code (odd for men) and an ISO 7064 MOD 11-2 check character.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber([u8; 18]);

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

impl IdNumber {
    /// The check character for the first 17 digits.
    pub fn check_char(first17: &[u8]) -> u8 {
        let sum: u32 = first17
            .iter()
            .zip(ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        b"10X98765432"[(sum % 11) as usize]
    }

    /// Builds a valid number from its parts (used by the demo city's generator).
    pub fn compose(division: DivisionCode, birth: NaiveDate, sequence: u16) -> Option<IdNumber> {
        let body = format!("{division}{}{:03}", birth.format("%Y%m%d"), sequence % 1000);
        let mut out = [0u8; 18];
        out[..17].copy_from_slice(body.as_bytes().get(..17)?);
        out[17] = Self::check_char(&out[..17]);
        Some(IdNumber(out))
    }

    /// Upgrades a 15-digit number of GB 11643-1989 (division, YYMMDD, sequence) to its
    /// 18-digit form: the century `19` goes before the year, and the check character is
    /// computed. Numbers of that standard were issued to people born in the 1900s.
    pub fn upgrade_legacy(s: &str) -> Result<IdNumber, FieldError> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() != 15 || !b.iter().all(u8::is_ascii_digit) {
            return Err(invalid(
                "ID_NUMBER_LEGACY_FORMAT",
                "15 位身份证号应为 15 位数字",
                "a 15-digit ID number is 15 digits",
            ));
        }
        let mut out = [0u8; 18];
        out[..6].copy_from_slice(&b[..6]);
        out[6..8].copy_from_slice(b"19");
        out[8..17].copy_from_slice(&b[6..15]);
        out[17] = Self::check_char(&out[..17]);
        std::str::from_utf8(&out).unwrap_or_default().parse()
    }

    /// An 18-digit number, or a 15-digit one upgraded.
    pub fn parse_any(s: &str) -> Result<IdNumber, FieldError> {
        if s.trim().len() == 15 {
            Self::upgrade_legacy(s)
        } else {
            s.parse()
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and 'X' are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
    pub fn division(&self) -> DivisionCode {
        // Parsed at construction; the prefix is six digits.
        DivisionCode(self.as_str()[..6].parse().unwrap_or_default())
    }
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.as_str()[6..14], "%Y%m%d").unwrap_or_default()
    }
    pub fn sex(&self) -> Sex {
        if (self.0[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

impl FromStr for IdNumber {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() != 18
            || !b[..17].iter().all(u8::is_ascii_digit)
            || !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
        {
            return Err(invalid(
                "ID_NUMBER_FORMAT",
                "身份证号应为 17 位数字加 1 位校验码（数字或 X）",
                "an ID number is 17 digits and a check character (a digit or X)",
            ));
        }
        let mut out = [0u8; 18];
        out.copy_from_slice(b);
        out[17] = out[17].to_ascii_uppercase();
        let expected = Self::check_char(&out[..17]);
        if out[17] != expected {
            return Err(invalid(
                "ID_NUMBER_CHECK",
                format!("校验码应为 {}，实为 {}", expected as char, out[17] as char),
                format!(
                    "the check character should be {}, not {}",
                    expected as char, out[17] as char
                ),
            ));
        }
        let division: DivisionCode = s[..6].parse()?;
        let birth = NaiveDate::parse_from_str(&s[6..14], "%Y%m%d").map_err(|_| {
            invalid(
                "ID_NUMBER_BIRTH_DATE",
                "出生日期不存在",
                "the birth date does not exist",
            )
        })?;
        if birth < NaiveDate::from_ymd_opt(1850, 1, 1).unwrap_or_default() {
            return Err(invalid(
                "ID_NUMBER_BIRTH_DATE",
                "出生日期过早",
                "the birth date is too early",
            ));
        }
        let _ = division;
        Ok(IdNumber(out))
    }
}

impl TryFrom<String> for IdNumber {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}
impl From<IdNumber> for String {
    fn from(c: IdNumber) -> String {
        c.as_str().to_string()
    }
}
impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Debug for IdNumber {
    // A person's number must not leak into logs through a Debug print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IdNumber({}********{})",
            &self.as_str()[..6],
            &self.as_str()[14..]
        )
    }
}

/// An 18-character GB 32100-2015 unified social credit code (统一社会信用代码).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

/// GB 32100's 31-character alphabet (no I, O, Z, S, V).
const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

impl CreditCode {
    fn value(c: u8) -> Option<u32> {
        CREDIT_ALPHABET
            .iter()
            .position(|&a| a == c)
            .map(|p| p as u32)
    }

    /// GB 32100 check character for the first 17 characters.
    pub fn check_char(first17: &[u8]) -> Option<u8> {
        let mut sum = 0;
        for (c, w) in first17.iter().zip(CREDIT_WEIGHTS) {
            sum += Self::value(*c)? * w;
        }
        Some(CREDIT_ALPHABET[((31 - sum % 31) % 31) as usize])
    }

    /// GB 11714 check character of an organization code body (8 characters).
    pub fn org_check_char(body8: &[u8]) -> Option<u8> {
        let mut sum = 0;
        for (c, w) in body8.iter().zip(ORG_WEIGHTS) {
            let v = match c {
                b'0'..=b'9' => u32::from(c - b'0'),
                b'A'..=b'Z' => u32::from(c - b'A') + 10,
                _ => return None,
            };
            sum += v * w;
        }
        Some(match 11 - sum % 11 {
            10 => b'X',
            11 => b'0',
            d => b'0' + d as u8,
        })
    }

    /// Builds a valid code: registration authority + category, division, organization body.
    pub fn compose(
        authority_category: &str,
        division: DivisionCode,
        org_body8: &str,
    ) -> Option<CreditCode> {
        let org_check = Self::org_check_char(org_body8.as_bytes())? as char;
        let first17 = format!("{authority_category}{division}{org_body8}{org_check}");
        if first17.len() != 17 {
            return None;
        }
        let check = Self::check_char(first17.as_bytes())? as char;
        Some(CreditCode(format!("{first17}{check}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn division(&self) -> Option<DivisionCode> {
        self.0[2..8].parse().ok()
    }
    /// Characters 9–17: the organization code the credit code was built around (GB 32100 §4).
    pub fn org_code(&self) -> OrgCode {
        OrgCode(self.0[8..17].to_string())
    }
}

impl FromStr for CreditCode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 18 || !b.iter().all(|c| Self::value(*c).is_some()) {
            return Err(invalid(
                "CREDIT_CODE_FORMAT",
                "统一社会信用代码应为 18 位，由数字和除 I、O、Z、S、V 以外的大写字母组成",
                "a credit code is 18 digits or capital letters other than I, O, Z, S, V",
            ));
        }
        let expected = Self::check_char(&b[..17]).unwrap_or(b'?');
        if b[17] != expected {
            return Err(invalid(
                "CREDIT_CODE_CHECK",
                format!("校验码应为 {}，实为 {}", expected as char, b[17] as char),
                format!(
                    "the check character should be {}, not {}",
                    expected as char, b[17] as char
                ),
            ));
        }
        let org_expected = Self::org_check_char(&b[8..16]);
        if org_expected != Some(b[16]) {
            return Err(invalid(
                "CREDIT_CODE_ORG_CHECK",
                "主体标识码（组织机构代码）的校验码不正确",
                "the check character of the inner organization code (GB 11714) is wrong",
            ));
        }
        Ok(CreditCode(s))
    }
}
impl TryFrom<String> for CreditCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}
impl From<CreditCode> for String {
    fn from(c: CreditCode) -> String {
        c.0
    }
}
impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A GB 11714 organization code (组织机构代码): eight body characters and a check character,
/// printed `XXXXXXXX-X` on the old certificates. Since 2015 it is characters 9–17 of the
/// organization's credit code, which is how records keyed by it join the legal-entity library.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgCode(String);

impl OrgCode {
    /// The nine characters without the hyphen, as a credit code holds them.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The certificate's spelling, `XXXXXXXX-X`.
    pub fn hyphenated(&self) -> String {
        format!("{}-{}", &self.0[..8], &self.0[8..])
    }
}

impl FromStr for OrgCode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let t = s.trim().to_ascii_uppercase();
        let b = t.as_bytes();
        let joined: Vec<u8> = match b.len() {
            9 => b.to_vec(),
            10 if b[8] == b'-' => b[..8].iter().chain(&b[9..]).copied().collect(),
            _ => Vec::new(),
        };
        let shape = joined.len() == 9
            && joined[..8].iter().all(u8::is_ascii_alphanumeric)
            && (joined[8].is_ascii_digit() || joined[8] == b'X');
        if !shape {
            return Err(invalid(
                "ORG_CODE_FORMAT",
                "组织机构代码应为 8 位数字或大写字母加 1 位校验码（可写作 XXXXXXXX-X）",
                "an organization code is 8 digits or capital letters and a check character (XXXXXXXX-X)",
            ));
        }
        let expected = CreditCode::org_check_char(&joined[..8]).unwrap_or(b'?');
        if joined[8] != expected {
            return Err(invalid(
                "ORG_CODE_CHECK",
                format!(
                    "校验码应为 {}，实为 {}",
                    expected as char, joined[8] as char
                ),
                format!(
                    "the check character should be {}, not {}",
                    expected as char, joined[8] as char
                ),
            ));
        }
        Ok(OrgCode(String::from_utf8_lossy(&joined).into_owned()))
    }
}
impl TryFrom<String> for OrgCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}
impl From<OrgCode> for String {
    fn from(c: OrgCode) -> String {
        c.0
    }
}
impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A market entity's registration number before the credit code (工商注册号, GS 15-2006): the
/// registering authority's six-digit division code, eight digits of sequence and an ISO 7064
/// MOD 11,10 check digit. Nothing in a credit code derives from it: a record keyed by it joins
/// the legal-entity library through a source that holds both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegistrationNumber(String);

impl RegistrationNumber {
    /// ISO 7064 MOD 11,10 check digit over the first 14 digits.
    pub fn check_digit(first14: &[u8]) -> u8 {
        let mut p = 10u32;
        for d in first14 {
            let s = (p + u32::from(d.saturating_sub(b'0'))) % 10;
            p = (if s == 0 { 10 } else { s }) * 2 % 11;
        }
        b'0' + ((11 - p) % 10) as u8
    }
    pub fn compose(authority: DivisionCode, sequence: u32) -> Option<RegistrationNumber> {
        if sequence >= 100_000_000 {
            return None;
        }
        let first14 = format!("{authority}{sequence:08}");
        let check = Self::check_digit(first14.as_bytes()) as char;
        Some(RegistrationNumber(format!("{first14}{check}")))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RegistrationNumber {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() != 15 || !b.iter().all(u8::is_ascii_digit) {
            return Err(invalid(
                "REGISTRATION_NUMBER_FORMAT",
                "注册号应为 15 位数字",
                "a registration number is 15 digits",
            ));
        }
        let expected = Self::check_digit(&b[..14]);
        if b[14] != expected {
            return Err(invalid(
                "REGISTRATION_NUMBER_CHECK",
                format!("校验码应为 {}，实为 {}", expected as char, b[14] as char),
                format!(
                    "the check digit should be {}, not {}",
                    expected as char, b[14] as char
                ),
            ));
        }
        Ok(RegistrationNumber(s.to_string()))
    }
}
impl TryFrom<String> for RegistrationNumber {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}
impl From<RegistrationNumber> for String {
    fn from(c: RegistrationNumber) -> String {
        c.0
    }
}
impl fmt::Display for RegistrationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mainland China mobile number: 11 digits, `1[3-9]` then nine digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MobileNumber(String);

impl FromStr for MobileNumber {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let b = s.as_bytes();
        let ok = b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1]);
        if !ok {
            return Err(invalid(
                "MOBILE_FORMAT",
                "手机号应为 1 开头、第二位为 3–9 的 11 位数字",
                "a mobile number is 11 digits starting with 1 and then 3–9",
            ));
        }
        Ok(MobileNumber(s.to_string()))
    }
}
impl TryFrom<String> for MobileNumber {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}
impl From<MobileNumber> for String {
    fn from(c: MobileNumber) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn legacy_numbers_upgrade_to_eighteen_digits() {
        // GB 11643-1999's own example 11010519491231002X, as its 15-digit predecessor.
        let id = IdNumber::upgrade_legacy("110105491231002").expect("valid legacy number");
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(
            IdNumber::parse_any(" 110105491231002 ")
                .map(|i| i.to_string())
                .ok(),
            Some("11010519491231002X".to_string())
        );
        assert!(IdNumber::upgrade_legacy("11010549123100").is_err());
        assert!(
            IdNumber::upgrade_legacy("110105491331002").is_err(),
            "month 13"
        );
        assert!(IdNumber::parse_any("11010519491231002X").is_ok());
    }
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gb11643_published_examples() {
        // The two examples printed in GB 11643-1999, appendix.
        let a: IdNumber = "11010519491231002X".parse().unwrap();
        assert_eq!(
            a.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(a.sex(), Sex::Female);
        assert_eq!(a.division().to_string(), "110105");
        let b: IdNumber = "440524188001010014".parse().unwrap();
        assert_eq!(b.sex(), Sex::Male);
        assert_eq!(b.birth_date(), NaiveDate::from_ymd_opt(1880, 1, 1).unwrap());
        assert!(
            "11010519491231002x".parse::<IdNumber>().is_ok(),
            "lower-case x is accepted"
        );
    }

    #[test]
    fn gb11643_failures_are_named() {
        let code = |s: &str| s.parse::<IdNumber>().unwrap_err().code;
        assert_eq!(code("110105194912310021"), "ID_NUMBER_CHECK");
        assert_eq!(code("11010519491231002"), "ID_NUMBER_FORMAT");
        assert_eq!(code("1101051949123100AX"), "ID_NUMBER_FORMAT");
        // 1949-02-30 does not exist; fix the check digit so only the date is wrong.
        let mut body = *b"11010519490230002?";
        body[17] = IdNumber::check_char(&body[..17]);
        assert_eq!(
            code(std::str::from_utf8(&body).unwrap()),
            "ID_NUMBER_BIRTH_DATE"
        );
    }

    #[test]
    fn debug_does_not_leak_the_number() {
        let a: IdNumber = "11010519491231002X".parse().unwrap();
        assert_eq!(format!("{a:?}"), "IdNumber(110105********002X)");
    }

    #[test]
    fn gb32100_real_codes() {
        // Codes printed on public business licences.
        for c in [
            "91350100M000100Y43",
            "914403001922038216",
            "91330100716105852F",
            "91440300708461136T",
        ] {
            let parsed: CreditCode = c.parse().unwrap_or_else(|e| panic!("{c}: {e}"));
            assert_eq!(parsed.as_str(), c);
        }
        assert_eq!(
            "914403001922038217".parse::<CreditCode>().unwrap_err().code,
            "CREDIT_CODE_CHECK"
        );
        assert_eq!(
            "91440300192203821I".parse::<CreditCode>().unwrap_err().code,
            "CREDIT_CODE_FORMAT"
        );
    }

    #[test]
    fn gb11714_inner_check_is_verified() {
        // Valid outer check but a wrong organization-code check character.
        let first17 = *b"91440300192203820";
        let outer = CreditCode::check_char(&first17).unwrap();
        let s = format!(
            "{}{}",
            std::str::from_utf8(&first17).unwrap(),
            outer as char
        );
        assert_eq!(
            s.parse::<CreditCode>().unwrap_err().code,
            "CREDIT_CODE_ORG_CHECK"
        );
        assert!(CreditCode::compose("91", "440300".parse().unwrap(), "19220382").is_some());
    }

    #[test]
    fn gb11714_organization_codes() {
        // GB 11714's own example, and the code inside GB 32100's example credit code.
        let d: OrgCode = "D2143569-X".parse().expect("the standard's example");
        assert_eq!(d.as_str(), "D2143569X");
        assert_eq!(d.hyphenated(), "D2143569-X");
        assert_eq!("d2143569x".parse::<OrgCode>().ok(), Some(d));
        let credit: CreditCode = "91350100M000100Y43".parse().unwrap();
        assert_eq!(credit.org_code().as_str(), "M000100Y4");
        assert!("M000100Y-4".parse::<OrgCode>().is_ok());
        assert_eq!(
            "D2143569-1".parse::<OrgCode>().unwrap_err().code,
            "ORG_CODE_CHECK"
        );
        assert_eq!(
            "D2143569+X".parse::<OrgCode>().unwrap_err().code,
            "ORG_CODE_FORMAT"
        );
        assert_eq!(
            "D214356X".parse::<OrgCode>().unwrap_err().code,
            "ORG_CODE_FORMAT"
        );
    }

    #[test]
    fn gs15_registration_numbers() {
        // ISO 7064's MOD 11,10 examples: 0794 → 5, 79462 → 3.
        assert_eq!(RegistrationNumber::check_digit(b"0794"), b'5');
        assert_eq!(RegistrationNumber::check_digit(b"79462"), b'3');
        let r = RegistrationNumber::compose("370202".parse().unwrap(), 1234).unwrap();
        assert_eq!(&r.as_str()[..14], "37020200001234");
        assert_eq!(
            r.as_str().parse::<RegistrationNumber>().ok(),
            Some(r.clone())
        );
        let mut wrong = r.as_str().as_bytes().to_vec();
        wrong[14] = b'0' + (wrong[14] - b'0' + 1) % 10;
        assert_eq!(
            std::str::from_utf8(&wrong)
                .unwrap()
                .parse::<RegistrationNumber>()
                .unwrap_err()
                .code,
            "REGISTRATION_NUMBER_CHECK"
        );
        assert_eq!(
            "37020200001234"
                .parse::<RegistrationNumber>()
                .unwrap_err()
                .code,
            "REGISTRATION_NUMBER_FORMAT"
        );
    }

    #[test]
    fn division_codes() {
        let d: DivisionCode = "370212".parse().unwrap();
        assert_eq!(d.city().to_string(), "370200");
        assert!(d.city().is_city_level());
        assert_eq!(
            "990000".parse::<DivisionCode>().unwrap_err().code,
            "DIVISION_CODE_PROVINCE"
        );
        assert_eq!(
            "37021".parse::<DivisionCode>().unwrap_err().code,
            "DIVISION_CODE_FORMAT"
        );
    }

    #[test]
    fn mobile_numbers() {
        assert!("13912345678".parse::<MobileNumber>().is_ok());
        assert!("12912345678".parse::<MobileNumber>().is_err());
        assert!("1391234567".parse::<MobileNumber>().is_err());
    }

    proptest! {
        #[test]
        fn composed_id_numbers_round_trip(days in 0i64..60_000, seq in 0u16..1000) {
            let birth = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(days as u64);
            let id = IdNumber::compose("370212".parse().unwrap(), birth, seq).unwrap();
            let parsed: IdNumber = id.as_str().parse().unwrap();
            prop_assert_eq!(parsed.birth_date(), birth);
            prop_assert_eq!(parsed.sex() == Sex::Male, seq % 2 == 1);
        }

        #[test]
        fn any_single_digit_change_is_caught(days in 0i64..40_000, seq in 0u16..1000, pos in 0usize..17, delta in 1u8..10) {
            let birth = NaiveDate::from_ymd_opt(1930, 1, 1).unwrap() + chrono::Days::new(days as u64);
            let id = IdNumber::compose("370202".parse().unwrap(), birth, seq).unwrap();
            let mut b = id.as_str().as_bytes().to_vec();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            prop_assert!(std::str::from_utf8(&b).unwrap().parse::<IdNumber>().is_err());
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = s.parse::<IdNumber>();
            let _ = s.parse::<CreditCode>();
            let _ = s.parse::<DivisionCode>();
            let _ = s.parse::<MobileNumber>();
            let _ = s.parse::<OrgCode>();
            let _ = s.parse::<RegistrationNumber>();
        }

        #[test]
        fn any_single_digit_change_of_a_registration_number_is_caught(seq in 0u32..100_000_000, pos in 0usize..15, delta in 1u8..10) {
            let r = RegistrationNumber::compose("370212".parse().unwrap(), seq).unwrap();
            let mut b = r.as_str().as_bytes().to_vec();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            prop_assert!(std::str::from_utf8(&b).unwrap().parse::<RegistrationNumber>().is_err());
        }

        #[test]
        fn credit_codes_hold_valid_organization_codes(body in "[0-9A-HJ-NP-RTUW-Y]{8}") {
            if let Some(c) = CreditCode::compose("91", "370212".parse().unwrap(), &body) {
                prop_assert!(c.org_code().as_str().parse::<OrgCode>().is_ok());
            }
        }

        #[test]
        fn composed_credit_codes_parse(body in "[0-9A-HJ-NP-RTUW-Y]{8}") {
            let c = CreditCode::compose("91", "370212".parse().unwrap(), &body);
            if let Some(c) = c {
                prop_assert!(c.as_str().parse::<CreditCode>().is_ok());
            }
        }
    }
}
