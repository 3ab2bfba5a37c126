//! Comparisons: how similar two records' values of one data item are, as a level from
//! "the same" down to "different". Each kind has levels that fit its data; a value is prepared
//! once per record (folded, its pinyin, its parsed date or address) so that comparing a pair
//! is cheap.

use chrono::{Datelike, NaiveDate};
use rapidfuzz::distance::{jaro_winkler, osa};
use serde::{Deserialize, Serialize};
use shuniu_types::{DivisionCode, IdNumber, address};

use crate::text::{digits, fold, fold_name, is_cjk, lookalike_key, pinyin_key};

/// The kind of a compared data item, which decides its levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The same or not (sex, a code, a state).
    Exact,
    /// Free text or a code keyed by hand: exact, one or two edits, Jaro-Winkler ≥ 0.9.
    String,
    /// A person's name, in characters or pinyin: exact, homophone or look-alike characters,
    /// one edit, Jaro-Winkler ≥ 0.9 and ≥ 0.8.
    Name,
    /// A date in any usual spelling: exact, one digit off or day and month swapped, within a
    /// year, within ten years.
    Date,
    /// A citizen ID number; 15-digit numbers are upgraded first: exact, one or two edits.
    IdNumber,
    /// A phone number with or without +86 and separators: exact, last eight digits or one edit.
    Phone,
    /// An address, compared by its parsed parts: exact, same building, same door, same road or
    /// community, similar text.
    Address,
}

impl Kind {
    /// The levels' codes, most similar first; the last is "different". Level 0 (not listed) is
    /// "a value is missing" and weighs nothing.
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Kind::Exact => &["exact", "else"],
            Kind::String => &["exact", "edit1", "edit2", "jw0.9", "else"],
            Kind::Name => &["exact", "homophone", "edit1", "jw0.9", "jw0.8", "else"],
            Kind::Date => &[
                "exact",
                "edit1_or_swapped",
                "within_1y",
                "within_10y",
                "else",
            ],
            Kind::IdNumber => &["exact", "edit1", "edit2", "else"],
            Kind::Phone => &["exact", "last8_or_edit1", "else"],
            Kind::Address => &[
                "exact",
                "same_building",
                "same_door",
                "same_road",
                "similar_text",
                "else",
            ],
        }
    }

    /// The level's meaning in Chinese, for explanations in the console.
    pub fn level_zh(self, code: &str) -> &'static str {
        match code {
            "null" => "缺失",
            "exact" => "完全一致",
            "edit1" => "差一个字符",
            "edit2" => "差两个字符",
            "jw0.9" => "高度相似",
            "jw0.8" => "相似",
            "homophone" => "同音或形近",
            "edit1_or_swapped" => "差一位或日月颠倒",
            "within_1y" => "相差一年内",
            "within_10y" => "相差十年内",
            "last8_or_edit1" => "后八位一致或差一位",
            "same_building" => "同楼栋",
            "same_door" => "同门牌或小区",
            "same_road" => "同道路或社区",
            "similar_text" => "文字相似",
            _ => "不一致",
        }
    }
}

/// A value prepared for comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Feature {
    Null,
    Text(Box<str>),
    Name {
        text: Box<str>,
        pinyin: Box<str>,
        /// The pinyin with the first character's other readings (surnames read two ways).
        pinyin_alt: Box<[Box<str>]>,
        lookalike: Option<Box<str>>,
    },
    Date {
        day: i32,
        digits: [u8; 8],
    },
    Address {
        text: Box<str>,
        parts: Option<Box<AddressParts>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AddressParts {
    district: Option<DivisionCode>,
    community: Option<Box<str>>,
    road: Option<Box<str>>,
    number: Option<Box<str>>,
    estate: Option<Box<str>>,
    building: Option<Box<str>>,
    unit: Option<Box<str>>,
    room: Option<Box<str>>,
}

impl Feature {
    /// The text that term frequencies and exact blocking count.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Feature::Null => None,
            Feature::Text(t) | Feature::Name { text: t, .. } | Feature::Address { text: t, .. } => {
                Some(t)
            }
            Feature::Date { digits, .. } => std::str::from_utf8(digits).ok(),
        }
    }
}

/// Parses dates as departments write them: 19800101, 1980-01-01, 1980/1/1, 1980.1.1,
/// 1980年1月1日, with a time after them ignored.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = fold(s);
    let s = s.split([' ', 't']).next().unwrap_or("");
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(s, "%Y%m%d").ok();
    }
    let parts: Vec<&str> = s
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 {
        return None;
    }
    let y: i32 = parts[0].parse().ok()?;
    let m: u32 = parts[1].parse().ok()?;
    let d: u32 = parts[2].parse().ok()?;
    if parts[0].len() != 4 {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

fn id_text(s: &str) -> String {
    let f = fold(s).to_ascii_uppercase();
    match IdNumber::parse_any(&f) {
        Ok(id) => id.as_str().to_string(),
        Err(_) => f,
    }
}

fn phone_text(s: &str) -> String {
    let d = digits(s);
    let d = d.strip_prefix("0086").unwrap_or(&d);
    let d = if d.len() == 13 {
        d.strip_prefix("86").unwrap_or(d)
    } else {
        d
    };
    d.to_string()
}

fn boxed(s: Option<String>) -> Option<Box<str>> {
    s.filter(|s| !s.is_empty()).map(String::into_boxed_str)
}

/// Prepares one value for comparison.
pub(crate) fn prepare(kind: Kind, raw: Option<&str>, home: Option<DivisionCode>) -> Feature {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Feature::Null;
    };
    match kind {
        Kind::Exact | Kind::String => Feature::Text(fold(raw).into()),
        Kind::IdNumber => Feature::Text(id_text(raw).into()),
        Kind::Phone => match phone_text(raw) {
            d if d.is_empty() => Feature::Null,
            d => Feature::Text(d.into()),
        },
        Kind::Name => {
            let text = fold_name(raw);
            if text.is_empty() {
                return Feature::Null;
            }
            let (pinyin, alt) = pinyin_key(&text);
            let lookalike = text
                .chars()
                .any(is_cjk)
                .then(|| lookalike_key(&text).into_boxed_str());
            Feature::Name {
                text: text.into(),
                pinyin: pinyin.into(),
                pinyin_alt: alt.into_iter().map(String::into_boxed_str).collect(),
                lookalike,
            }
        }
        Kind::Date => match parse_date(raw) {
            Some(d) => {
                let mut digits = [b'0'; 8];
                let s = d.format("%Y%m%d").to_string();
                digits.copy_from_slice(&s.as_bytes()[..8]);
                Feature::Date {
                    day: d.num_days_from_ce(),
                    digits,
                }
            }
            None => Feature::Null,
        },
        Kind::Address => {
            let has_han = raw.chars().any(is_cjk);
            if !has_han {
                return Feature::Address {
                    text: fold(raw).into(),
                    parts: None,
                };
            }
            let a = address::parse(raw, home);
            let parts = (a.has_detail() || a.district.is_some()).then(|| {
                Box::new(AddressParts {
                    district: a.district,
                    community: boxed(a.community.clone()),
                    road: boxed(a.road.clone()),
                    number: boxed(a.number.clone()),
                    estate: boxed(a.estate.clone()),
                    building: boxed(a.building.clone()),
                    unit: boxed(a.unit.clone()),
                    room: boxed(a.room.clone()),
                })
            });
            Feature::Address {
                text: a.standard().into(),
                parts,
            }
        }
    }
}

/// The edit distance (insertions, deletions, substitutions and swaps of neighbours) when it is
/// at most `limit`, else `None`. Bit-parallel, and it stops as soon as the limit is passed: a u
/// estimate compares a million random pairs, nearly all of them far apart. ASCII text is
/// compared by bytes, which skips decoding.
fn edits_within(a: &str, b: &str, limit: usize) -> Option<usize> {
    let args = osa::Args::default().score_cutoff(limit);
    if a.is_ascii() && b.is_ascii() {
        osa::distance_with_args(a.bytes(), b.bytes(), &args)
    } else {
        osa::distance_with_args(a.chars(), b.chars(), &args)
    }
}

/// The Jaro-Winkler similarity when it reaches `at_least`, else `None`.
fn jw_at_least(a: &str, b: &str, at_least: f64) -> Option<f64> {
    let args = jaro_winkler::Args::default().score_cutoff(at_least);
    if a.is_ascii() && b.is_ascii() {
        jaro_winkler::similarity_with_args(a.bytes(), b.bytes(), &args)
    } else {
        jaro_winkler::similarity_with_args(a.chars(), b.chars(), &args)
    }
}

fn both_eq<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    matches!((a, b), (Some(x), Some(y)) if x == y)
}

/// The level (1-based into [`Kind::levels`]; 0 when a value is missing) of a pair of values.
pub(crate) fn level(kind: Kind, a: &Feature, b: &Feature) -> u8 {
    use Feature::*;
    match (kind, a, b) {
        (_, Null, _) | (_, _, Null) => 0,
        (Kind::Exact, x, y) => {
            if x.text() == y.text() {
                1
            } else {
                2
            }
        }
        (Kind::String, Text(x), Text(y)) => {
            if x == y {
                1
            } else {
                match edits_within(x, y, 2) {
                    Some(1) => 2,
                    Some(2) => 3,
                    _ if jw_at_least(x, y, 0.9).is_some() => 4,
                    _ => 5,
                }
            }
        }
        (Kind::IdNumber, Text(x), Text(y)) => {
            if x == y {
                1
            } else {
                match edits_within(x, y, 2) {
                    Some(1) => 2,
                    Some(2) => 3,
                    _ => 4,
                }
            }
        }
        (Kind::Phone, Text(x), Text(y)) => {
            if x == y {
                1
            } else if (x.len() >= 8 && y.len() >= 8 && x[x.len() - 8..] == y[y.len() - 8..])
                || edits_within(x, y, 1).is_some()
            {
                2
            } else {
                3
            }
        }
        (
            Kind::Name,
            Name {
                text: x,
                pinyin: px,
                pinyin_alt: ax,
                lookalike: lx,
            },
            Name {
                text: y,
                pinyin: py,
                pinyin_alt: ay,
                lookalike: ly,
            },
        ) => {
            if x == y {
                return 1;
            }
            let homophone = (!px.is_empty()
                && (px == py
                    || ax.contains(py)
                    || ay.contains(px)
                    || ax.iter().any(|a| ay.contains(a))))
                || both_eq(lx, ly);
            if homophone {
                2
            } else if edits_within(x, y, 1).is_some() {
                3
            } else {
                // A latin name is its own pinyin: one comparison does for both.
                let text = jw_at_least(x, y, 0.8);
                let sound = if px == x && py == y {
                    None
                } else {
                    jw_at_least(px, py, 0.8)
                };
                let best = match (text, sound) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                match best {
                    Some(jw) if jw >= 0.9 => 4,
                    Some(_) => 5,
                    None => 6,
                }
            }
        }
        (Kind::Date, Date { day: x, digits: dx }, Date { day: y, digits: dy }) => {
            if x == y {
                return 1;
            }
            let swapped = dx[..4] == dy[..4] && dx[4..6] == dy[6..8] && dx[6..8] == dy[4..6];
            let one_digit = dx.iter().zip(dy).filter(|(a, b)| a != b).count() == 1;
            let transposed = {
                let diff: Vec<usize> = (0..8).filter(|&i| dx[i] != dy[i]).collect();
                diff.len() == 2
                    && diff[1] == diff[0] + 1
                    && dx[diff[0]] == dy[diff[1]]
                    && dx[diff[1]] == dy[diff[0]]
            };
            let days = (x - y).abs();
            if swapped || one_digit || transposed {
                2
            } else if days <= 366 {
                3
            } else if days <= 3653 {
                4
            } else {
                5
            }
        }
        (Kind::Address, Address { text: x, parts: pa }, Address { text: y, parts: pb }) => {
            if x == y {
                return 1;
            }
            if let (Some(a), Some(b)) = (pa, pb) {
                let district_ok = match (a.district, b.district) {
                    (Some(p), Some(q)) => p == q,
                    _ => true,
                };
                if !district_ok {
                    return 6;
                }
                let door = district_ok
                    && ((both_eq(&a.road, &b.road) && both_eq(&a.number, &b.number))
                        || both_eq(&a.estate, &b.estate));
                if door && both_eq(&a.building, &b.building) {
                    return 2;
                }
                if door {
                    return 3;
                }
                if district_ok && (both_eq(&a.road, &b.road) || both_eq(&a.community, &b.community))
                {
                    return 4;
                }
            }
            if jw_at_least(x, y, 0.88).is_some() {
                5
            } else {
                6
            }
        }
        // Features are prepared by kind, so another pairing cannot happen; were it to, the
        // values are taken as different.
        _ => kind.levels().len() as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(kind: Kind, a: &str, b: &str) -> &'static str {
        let home = "370200".parse().ok();
        let l = level(
            kind,
            &prepare(kind, Some(a), home),
            &prepare(kind, Some(b), home),
        );
        if l == 0 {
            "null"
        } else {
            kind.levels()[l as usize - 1]
        }
    }

    #[test]
    fn names() {
        assert_eq!(lv(Kind::Name, "张伟", "张伟 "), "exact");
        assert_eq!(lv(Kind::Name, "张伟", "章伟"), "homophone");
        assert_eq!(lv(Kind::Name, "张伟", "ZHANG WEI"), "homophone");
        assert_eq!(lv(Kind::Name, "王晴", "玉睛"), "homophone");
        assert_eq!(lv(Kind::Name, "张伟", "张大伟"), "edit1");
        assert_eq!(lv(Kind::Name, "张伟", "李娜"), "else");
        assert_eq!(lv(Kind::Name, "", "李娜"), "null");
        assert_eq!(lv(Kind::Name, "jonathan", "jonathon"), "edit1");
        assert_eq!(lv(Kind::Name, "christopher", "christofer"), "jw0.9");
    }

    #[test]
    fn dates() {
        assert_eq!(lv(Kind::Date, "1980-03-05", "19800305"), "exact");
        assert_eq!(lv(Kind::Date, "1980年3月5日", "1980/3/5"), "exact");
        assert_eq!(
            lv(Kind::Date, "1980-03-05", "1980-05-03"),
            "edit1_or_swapped"
        );
        assert_eq!(
            lv(Kind::Date, "1980-03-05", "1980-03-06"),
            "edit1_or_swapped"
        );
        assert_eq!(lv(Kind::Date, "1980-03-15", "1980-03-51"), "null");
        assert_eq!(lv(Kind::Date, "1980-12-15", "1981-10-25"), "within_1y");
        assert_eq!(lv(Kind::Date, "1980-12-15", "1987-10-25"), "within_10y");
        assert_eq!(lv(Kind::Date, "1980-12-15", "2001-10-25"), "else");
        assert_eq!(lv(Kind::Date, "not a date", "2001-10-25"), "null");
    }

    #[test]
    fn id_numbers_upgrade_before_comparing() {
        assert_eq!(
            lv(Kind::IdNumber, "110105491231002", "11010519491231002x"),
            "exact"
        );
        assert_eq!(
            lv(Kind::IdNumber, "11010519491231002X", "11010519491231003X"),
            "edit1"
        );
    }

    #[test]
    fn phones() {
        assert_eq!(lv(Kind::Phone, "+86 138-0000-1234", "13800001234"), "exact");
        assert_eq!(
            lv(Kind::Phone, "13800001234", "13900001234"),
            "last8_or_edit1"
        );
        assert_eq!(lv(Kind::Phone, "13800001234", "13912345678"), "else");
    }

    #[test]
    fn addresses_by_parts() {
        assert_eq!(
            lv(
                Kind::Address,
                "市北区辽宁路12号3-2-501",
                "青岛市四方区辽宁路１２号三号楼二单元501室"
            ),
            "exact"
        );
        assert_eq!(
            lv(
                Kind::Address,
                "市北区辽宁路12号3-2-501",
                "市北区辽宁路12号3号楼1单元101"
            ),
            "same_building"
        );
        assert_eq!(
            lv(
                Kind::Address,
                "市北区辽宁路12号3-2-501",
                "市北区辽宁路12号5号楼"
            ),
            "same_door"
        );
        assert_eq!(
            lv(Kind::Address, "市北区辽宁路12号", "市北区辽宁路88号"),
            "same_road"
        );
        assert_eq!(
            lv(Kind::Address, "市北区辽宁路12号", "崂山区辽宁路12号"),
            "else"
        );
        assert_eq!(
            lv(Kind::Address, "wylly place", "wylly plaec"),
            "similar_text"
        );
    }
}
