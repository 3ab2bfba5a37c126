//! Chinese addresses (地址) as departments key them, parsed once into their parts: province,
//! city and district (as GB/T 2260 codes), street or town, community or village, road,
//! number, estate, building, unit and room.
//!
//! The spellings that differ between systems are folded before parsing: full-width digits,
//! Chinese numerals before 号/栋/单元/室 (三号楼 → 3号楼), 栋/幢/号楼/座 for a building, the
//! compact `5-2-501` for building-unit-room, a missing province or city (filled from the
//! district, or from the hub's own city when the address starts below it), and old district
//! names (四方区 is 市北区 since 2012: the district is the current one, and the name as written
//! is kept).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::DivisionCode;
use crate::division;

/// An address split into its parts. Parts that the text does not have are `None`; what the
/// parser could not place stays in `rest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Address {
    pub province: Option<DivisionCode>,
    pub city: Option<DivisionCode>,
    /// The district or county in force today.
    pub district: Option<DivisionCode>,
    /// The district as written, when the text used a name withdrawn since (四方区 370205).
    pub district_as_written: Option<DivisionCode>,
    /// 街道, 镇 or 乡.
    pub street: Option<String>,
    /// 社区 or 村.
    pub community: Option<String>,
    /// 路, 街, 大道, 巷, 胡同 or 弄.
    pub road: Option<String>,
    /// The door number on the road (号).
    pub number: Option<String>,
    /// The estate or building complex (小区, 花园, 大厦 …).
    pub estate: Option<String>,
    pub building: Option<String>,
    pub unit: Option<String>,
    pub room: Option<String>,
    /// Text the parser could not place.
    pub rest: String,
}

impl Address {
    /// The standard form: the parts in order, each with its standard suffix, the divisions by
    /// their current names. Two spellings of one address give one standard form.
    pub fn standard(&self) -> String {
        let mut out = String::new();
        for code in [self.province, self.city, self.district]
            .into_iter()
            .flatten()
        {
            if let Some(e) = division::lookup(code)
                && e.name != "市辖区"
                && !out.ends_with(e.name)
            {
                out.push_str(e.name);
            }
        }
        for part in [&self.street, &self.community, &self.road]
            .into_iter()
            .flatten()
        {
            out.push_str(part);
        }
        if let Some(n) = &self.number {
            out.push_str(n);
            out.push('号');
        }
        if let Some(e) = &self.estate {
            out.push_str(e);
        }
        if let Some(b) = &self.building {
            out.push_str(b);
            out.push_str("号楼");
        }
        if let Some(u) = &self.unit {
            out.push_str(u);
            out.push_str("单元");
        }
        if let Some(r) = &self.room {
            out.push_str(r);
            out.push('室');
        }
        out.push_str(&self.rest);
        out
    }

    /// Whether anything below the district was recognised.
    pub fn has_detail(&self) -> bool {
        self.road.is_some() || self.estate.is_some() || self.community.is_some()
    }
}

/// Districts withdrawn and the district that holds their area today (GB/T 2260 editions).
/// The table lists when a code was withdrawn, not what replaced it; successors are kept here
/// for the cities the hub serves.
const SUCCESSORS: &[(u32, u32)] = &[
    (370204, 370203), // 台东区 → 市北区 (1994)
    (370206, 370213), // 沧口区 → 李沧区 (1994)
    (370205, 370203), // 四方区 → 市北区 (2012)
    (370284, 370211), // 胶南市 → 黄岛区 (2012)
    (370282, 370215), // 即墨市 → 即墨区 (2017)
    (370221, 370212), // 崂山县 → 崂山区 (1988)
    (370222, 370215), // 即墨县 → 即墨区
    (370223, 370211), // 胶南县 → 黄岛区
    (370224, 370281), // 胶县 → 胶州市
    (370225, 370285), // 莱西县 → 莱西市
    (370226, 370283), // 平度县 → 平度市
];

fn successor(code: u32) -> u32 {
    let mut code = code;
    // Follow chains (即墨县 → 即墨市 → 即墨区), bounded in case the list ever loops.
    for _ in 0..4 {
        match SUCCESSORS.iter().find(|(old, _)| *old == code) {
            Some((_, new)) => code = *new,
            None => break,
        }
    }
    code
}

struct Names {
    /// Province names, full and short (山东省, 山东), longest first.
    provinces: Vec<(String, u32)>,
    /// Prefecture-level city names, full and short (青岛市, 青岛).
    cities: Vec<(String, u32)>,
    /// County-level names (full only: short district names are too often ordinary words).
    districts: HashMap<String, Vec<u32>>,
    max_district_chars: usize,
}

fn short_name(name: &str) -> Option<&str> {
    for suffix in [
        "维吾尔自治区",
        "壮族自治区",
        "回族自治区",
        "特别行政区",
        "自治区",
        "省",
        "市",
    ] {
        if let Some(s) = name.strip_suffix(suffix)
            && s.chars().count() >= 2
        {
            return Some(s);
        }
    }
    None
}

static NAMES: LazyLock<Names> = LazyLock::new(|| {
    let mut provinces = Vec::new();
    let mut cities = Vec::new();
    let mut districts: HashMap<String, Vec<u32>> = HashMap::new();
    for (code, entry) in division::all() {
        let name = entry.name;
        // Placeholders of some editions (市辖区, 县, 市) are not places.
        if name.chars().count() < 2
            || matches!(
                name,
                "市辖区" | "省直辖县级行政区划" | "自治区直辖县级行政区划"
            )
        {
            continue;
        }
        if code % 10000 == 0 {
            provinces.push((name.to_string(), code));
            if let Some(s) = short_name(name) {
                provinces.push((s.to_string(), code));
            }
        } else if code % 100 == 0 {
            cities.push((name.to_string(), code));
            if let Some(s) = short_name(name) {
                cities.push((s.to_string(), code));
            }
        } else {
            districts.entry(name.to_string()).or_default().push(code);
        }
    }
    let by_len = |a: &(String, u32), b: &(String, u32)| {
        b.0.chars()
            .count()
            .cmp(&a.0.chars().count())
            .then(a.1.cmp(&b.1))
    };
    provinces.sort_by(by_len);
    cities.sort_by(by_len);
    let max_district_chars = districts
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0);
    Names {
        provinces,
        cities,
        districts,
        max_district_chars,
    }
});

fn code(c: u32) -> Option<DivisionCode> {
    c.to_string().parse().ok()
}

/// Chinese numerals (一 … 九十九, 两, 〇) before a building, unit, room or door suffix become
/// digits.
fn numerals_to_digits(s: &str) -> String {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new("([零〇一二两三四五六七八九十百]+)(号楼|号|栋|幢|单元|室|层|楼|座|排|户)")
            .unwrap_or_else(|e| panic!("address numeral pattern: {e}"))
    });
    RE.replace_all(s, |c: &regex::Captures| match cn_number(&c[1]) {
        Some(n) => format!("{n}{}", &c[2]),
        None => c[0].to_string(),
    })
    .into_owned()
}

fn cn_number(s: &str) -> Option<u32> {
    let digit = |c: char| "零一二三四五六七八九".find(c).map(|i| (i / 3) as u32);
    let chars: Vec<char> = s
        .chars()
        .map(|c| match c {
            '〇' => '零',
            '两' => '二',
            c => c,
        })
        .collect();
    if !chars.iter().any(|c| matches!(c, '十' | '百')) {
        // 一〇一 → 101
        let mut n = 0u32;
        for c in chars {
            n = n.checked_mul(10)? + digit(c)?;
        }
        return Some(n);
    }
    let mut total = 0u32;
    let mut current = 0u32;
    for c in chars {
        match c {
            '百' => {
                total += current.max(1) * 100;
                current = 0;
            }
            '十' => {
                total += current.max(1) * 10;
                current = 0;
            }
            c => current = digit(c)?,
        }
    }
    Some(total + current)
}

fn strip_zeros(s: &str) -> String {
    let t = s.trim_start_matches('0');
    if t.is_empty() { "0".into() } else { t.into() }
}

struct Tail {
    street: Regex,
    community: Regex,
    road: Regex,
    number: Regex,
    compact: Regex,
    /// `4-2301` closing an address after the door number: unit 4, room 2301.
    pair: Regex,
    estate: Regex,
    building: Regex,
    unit: Regex,
    floor: Regex,
    room: Regex,
}

static TAIL: LazyLock<Tail> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("address pattern {p}: {e}"));
    Tail {
        street: re(r"^(\p{Han}{1,10}?(?:街道|镇|乡))(?:办事处)?"),
        community: re(r"^(\p{Han}{1,10}?(?:社区|村))(?:居委会|村委会|居民委员会|委员会)?"),
        road: re(r"^([\p{Han}\da-z]{1,12}?(?:大道|路|大街|街|巷|胡同|弄))"),
        number: re(r"^(\d+(?:-\d+)?)号(?:院)?"),
        compact: re(r"^(\d+)-(\d+)-(\d+)(?:室|户)?"),
        pair: re(r"^(\d+)-(\d+)(?:室|户)?$"),
        estate: re(
            r"^([\p{Han}a-z\d]{1,14}?(?:小区|花园|家园|公寓|大厦|广场|新村|山庄|苑|庭|园|城|府|湾|里|坊))",
        ),
        building: re(r"^([\da-z]+)(?:号楼|栋|幢|座|号院|楼)"),
        unit: re(r"^(\d+)(?:单元)"),
        floor: re(r"^(\d+)(?:层|楼)"),
        room: re(r"^(\d+)(?:室|户|房)?$"),
    }
});

/// Folds the spellings that differ between systems: full-width forms, spaces, upper case.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '—' | '–' => '-',
            '#' => '号',
            c => c,
        };
        if c.is_whitespace() || matches!(c, ',' | '，' | '、' | '(' | ')' | '（' | '）') {
            continue;
        }
        out.extend(c.to_lowercase());
    }
    numerals_to_digits(&out)
}

/// The longest county-level name at the start of `rest` within `scope` (a code prefix and its
/// divisor): its byte length and code.
fn find_district(rest: &str, scope: Option<(u32, u32)>) -> Option<(usize, u32)> {
    let names = &*NAMES;
    let ends: Vec<usize> = rest
        .char_indices()
        .map(|(i, _)| i)
        .skip(1)
        .chain([rest.len()])
        .collect();
    for len in (2..=names.max_district_chars.min(ends.len())).rev() {
        let end = ends[len - 1];
        let Some(codes) = names.districts.get(&rest[..end]) else {
            continue;
        };
        let pick = codes
            .iter()
            .copied()
            .filter(|c| scope.is_none_or(|(p, div)| c / div == p))
            // Prefer the code in force over a withdrawn one of the same name.
            .max_by_key(|c| division::lookup_str(&c.to_string()).is_some_and(|e| e.is_current()));
        if let Some(c) = pick {
            return Some((end, c));
        }
    }
    None
}

/// Parses an address. `home_city` is the hub's city: an address that starts below the city
/// level (市北区…, or a road) is taken to be in it.
pub fn parse(text: &str, home_city: Option<DivisionCode>) -> Address {
    let s = fold(text);
    let names = &*NAMES;
    let mut a = Address::default();
    let mut rest: &str = &s;

    if let Some((name, c)) = names
        .provinces
        .iter()
        .find(|(n, _)| rest.starts_with(n.as_str()))
    {
        a.province = code(*c);
        rest = &rest[name.len()..];
    }
    let province_prefix = a.province.map(|p| p.as_u32() / 10000);
    // A city's full name can swallow the first character of a district (青岛市北区 is 青岛 +
    // 市北区): among the city names that fit, take one after which a district follows.
    let mut city: Option<(usize, u32)> = None;
    for (name, c) in names.cities.iter().filter(|(n, c)| {
        rest.starts_with(n.as_str()) && province_prefix.is_none_or(|p| c / 10000 == p)
    }) {
        let fits = find_district(&rest[name.len()..], Some((c / 100, 100))).is_some();
        if city.is_none() || fits {
            city = Some((name.len(), *c));
        }
        if fits {
            break;
        }
    }
    if let Some((len, c)) = city {
        a.city = code(c);
        a.province = code(c / 10000 * 10000);
        rest = &rest[len..];
    }

    // The district: the longest county-level name at this point that lies in the city (or
    // province) found so far, else in the hub's city.
    let scope: Option<(u32, u32)> = match (a.city, a.province) {
        (Some(c), _) => Some((c.as_u32() / 100, 100)),
        (None, Some(p)) => Some((p.as_u32() / 10000, 10000)),
        (None, None) => home_city.map(|c| (c.as_u32() / 100, 100)),
    };
    if let Some((end, c)) = find_district(rest, scope) {
        let now = successor(c);
        a.district = code(now);
        if now != c {
            a.district_as_written = code(c);
        }
        a.city = code(now / 100 * 100)
            .filter(|c| division::lookup(*c).is_some_and(|e| e.name != "市辖区" && e.is_current()));
        a.province = code(now / 10000 * 10000);
        rest = &rest[end..];
    } else if a.city.is_none()
        && a.province.is_none()
        && let Some(home) = home_city
    {
        a.city = Some(home);
        a.province = code(home.as_u32() / 10000 * 10000);
    }

    let t = &*TAIL;
    let take = |re: &Regex, rest: &mut &str| -> Option<Vec<String>> {
        let c = re.captures(rest)?;
        let whole = c.get(0)?.end();
        let groups = (1..c.len())
            .filter_map(|i| c.get(i).map(|m| m.as_str().to_string()))
            .collect();
        *rest = &rest[whole..];
        Some(groups)
    };
    if let Some(g) = take(&t.street, &mut rest) {
        a.street = g.into_iter().next();
    }
    {
        // A road named after a village (李村路, 沙子口村路) is a road: the community is only taken
        // when what follows is not a road's suffix.
        let mut after = rest;
        if let Some(g) = take(&t.community, &mut after)
            && !["路", "街", "大道", "巷", "胡同", "弄"]
                .iter()
                .any(|suffix| after.starts_with(suffix))
        {
            a.community = g.into_iter().next();
            rest = after;
        }
    }
    if let Some(g) = take(&t.road, &mut rest) {
        a.road = g.into_iter().next();
        if let Some(g) = take(&t.number, &mut rest) {
            a.number = g.into_iter().next().map(|n| strip_zeros(&n));
        }
    }
    if let Some(g) = take(&t.estate, &mut rest) {
        a.estate = g.into_iter().next();
    }
    if let Some(g) = take(&t.compact, &mut rest) {
        a.building = g.first().map(|v| strip_zeros(v));
        a.unit = g.get(1).map(|v| strip_zeros(v));
        a.room = g.get(2).map(|v| strip_zeros(v));
    } else if let Some(g) = take(&t.pair, &mut rest) {
        a.unit = g.first().map(|v| strip_zeros(v));
        a.room = g.get(1).map(|v| strip_zeros(v));
    } else {
        if let Some(g) = take(&t.building, &mut rest) {
            a.building = g.into_iter().next().map(|v| strip_zeros(&v));
        }
        rest = rest.trim_start_matches('-');
        if let Some(g) = take(&t.unit, &mut rest) {
            a.unit = g.into_iter().next().map(|v| strip_zeros(&v));
        }
        rest = rest.trim_start_matches('-');
        let _ = take(&t.floor, &mut rest);
        if let Some(g) = take(&t.room, &mut rest) {
            a.room = g.into_iter().next().map(|v| strip_zeros(&v));
        }
    }
    a.rest = rest.to_string();
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qd() -> Option<DivisionCode> {
        "370200".parse().ok()
    }

    #[test]
    fn a_closing_pair_is_unit_and_room() {
        let a = parse("青岛市城阳区李村路１４３号４-２３０１", None);
        assert_eq!(a.unit.as_deref(), Some("4"));
        assert_eq!(a.room.as_deref(), Some("2301"));
        assert_eq!(
            a.standard(),
            parse("城阳区李村路143号4单元2301室", None).standard()
        );
        assert_eq!(a.road.as_deref(), Some("李村路"));
        assert_eq!(a.community, None);
        // Not at the end: not taken as unit and room.
        assert_eq!(parse("城阳区李村路143号4-2301旁", None).unit, None);
    }

    #[test]
    fn parses_every_part() {
        let a = parse(
            "山东省青岛市市南区八大关街道太平角社区香港西路10号海信花园3号楼2单元501室",
            None,
        );
        assert_eq!(a.province.map(|c| c.to_string()).as_deref(), Some("370000"));
        assert_eq!(a.city.map(|c| c.to_string()).as_deref(), Some("370200"));
        assert_eq!(a.district.map(|c| c.to_string()).as_deref(), Some("370202"));
        assert_eq!(a.street.as_deref(), Some("八大关街道"));
        assert_eq!(a.community.as_deref(), Some("太平角社区"));
        assert_eq!(a.road.as_deref(), Some("香港西路"));
        assert_eq!(a.number.as_deref(), Some("10"));
        assert_eq!(a.estate.as_deref(), Some("海信花园"));
        assert_eq!(a.building.as_deref(), Some("3"));
        assert_eq!(a.unit.as_deref(), Some("2"));
        assert_eq!(a.room.as_deref(), Some("501"));
        assert_eq!(a.rest, "");
    }

    #[test]
    fn spellings_of_one_address_have_one_standard_form() {
        let forms = [
            "山东省青岛市市北区辽宁路１２号三号楼二单元５０１室",
            "青岛市市北区辽宁路12号3栋2单元501",
            "市北区辽宁路12号3-2-501",
            "青岛 市北区 辽宁路12号 3幢 2单元 501户",
            // The old district name: 四方区 was merged into 市北区 in 2012.
            "青岛市四方区辽宁路12号3号楼2单元501室",
        ];
        let standard: Vec<String> = forms.iter().map(|f| parse(f, qd()).standard()).collect();
        for s in &standard {
            assert_eq!(
                s, "山东省青岛市市北区辽宁路12号3号楼2单元501室",
                "{standard:?}"
            );
        }
        let old = parse(forms[4], qd());
        assert_eq!(
            old.district_as_written.map(|c| c.to_string()).as_deref(),
            Some("370205")
        );
    }

    #[test]
    fn a_district_elsewhere_is_not_taken_for_one_here() {
        // 市北区 exists only in Qingdao; 鼓楼区 in several cities: the province decides.
        let a = parse("江苏省南京市鼓楼区中山路1号", None);
        assert_eq!(a.district.map(|c| c.to_string()).as_deref(), Some("320106"));
        let b = parse("福建省福州市鼓楼区五四路1号", None);
        assert_eq!(b.district.map(|c| c.to_string()).as_deref(), Some("350102"));
    }

    #[test]
    fn unparsed_text_is_kept() {
        let a = parse("青岛市崂山区某某工地旁边", None);
        assert_eq!(a.district.map(|c| c.to_string()).as_deref(), Some("370212"));
        assert!(!a.rest.is_empty());
        assert!(a.standard().ends_with(&a.rest));
    }

    #[test]
    fn numerals() {
        assert_eq!(cn_number("十二"), Some(12));
        assert_eq!(cn_number("二十"), Some(20));
        assert_eq!(cn_number("一〇一"), Some(101));
        assert_eq!(cn_number("三百零五"), Some(305));
    }
}
