//! Periods at an indicator's time grain: `2026` (year), `2026-Q3` (quarter), `2026-11`
//! (month), `2026-11-05` (day). A period is parsed once from whatever the query returned
//! (a date, a timestamp's text, or the period's own text) and then compared, shifted back
//! one period (环比) or one year (同比) as a value.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// The time grain an indicator is reported at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Day,
    Month,
    Quarter,
    Year,
}

impl Grain {
    pub const ALL: [Grain; 4] = [Grain::Day, Grain::Month, Grain::Quarter, Grain::Year];

    pub fn code(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<Grain> {
        Grain::ALL.into_iter().find(|g| g.code() == s.trim())
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Grain::Day => "日",
            Grain::Month => "月",
            Grain::Quarter => "季度",
            Grain::Year => "年",
        }
    }
}

/// One period at one grain, identified by the first day it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    grain: Grain,
    start: NaiveDate,
}

impl Period {
    /// The period of `grain` that contains `day`.
    pub fn containing(grain: Grain, day: NaiveDate) -> Period {
        let (y, m) = (day.year(), day.month());
        let start = match grain {
            Grain::Day => day,
            Grain::Month => NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(day),
            Grain::Quarter => NaiveDate::from_ymd_opt(y, (m - 1) / 3 * 3 + 1, 1).unwrap_or(day),
            Grain::Year => NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(day),
        };
        Period { grain, start }
    }

    /// Reads a period from a query's cell: the period's own text at this grain, or any date
    /// (`2026-11-05`, `2026-11-05T08:00:00Z`, `2026/11/05`, `20261105`) inside it.
    pub fn parse(grain: Grain, text: &str) -> Option<Period> {
        let t = text.trim();
        if let Some((y, q)) = t.split_once(['Q', 'q'])
            && grain == Grain::Quarter
        {
            let y: i32 = y.trim_end_matches('-').parse().ok()?;
            let q: u32 = q.parse().ok()?;
            if !(1..=4).contains(&q) {
                return None;
            }
            return NaiveDate::from_ymd_opt(y, (q - 1) * 3 + 1, 1)
                .map(|d| Period::containing(grain, d));
        }
        let digits: String = t.chars().take_while(|c| !matches!(c, 'T' | ' ')).collect();
        let parts: Vec<&str> = digits.split(['-', '/', '.']).collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let day = match parts.as_slice() {
            [y] if y.len() == 4 => NaiveDate::from_ymd_opt(y.parse().ok()?, 1, 1),
            [y] if y.len() == 6 => {
                NaiveDate::from_ymd_opt(y[..4].parse().ok()?, y[4..].parse().ok()?, 1)
            }
            [y] if y.len() == 8 => NaiveDate::from_ymd_opt(
                y[..4].parse().ok()?,
                y[4..6].parse().ok()?,
                y[6..].parse().ok()?,
            ),
            [y, m] => NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1),
            [y, m, d] => NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
            _ => None,
        }?;
        Some(Period::containing(grain, day))
    }

    pub fn grain(self) -> Grain {
        self.grain
    }

    pub fn start(self) -> NaiveDate {
        self.start
    }

    /// The first day after the period.
    pub fn end(self) -> NaiveDate {
        self.next().start
    }

    pub fn next(self) -> Period {
        self.shift(1)
    }

    /// The period before (环比's comparison).
    pub fn previous(self) -> Period {
        self.shift(-1)
    }

    /// The same period a year before (同比's comparison).
    pub fn year_before(self) -> Period {
        match self.grain {
            Grain::Day => {
                let s = self.start;
                let d = NaiveDate::from_ymd_opt(s.year() - 1, s.month(), s.day())
                    // 29 February has no twin: compare with the 28th.
                    .or_else(|| NaiveDate::from_ymd_opt(s.year() - 1, s.month(), s.day() - 1))
                    .unwrap_or(s);
                Period::containing(Grain::Day, d)
            }
            Grain::Month => self.shift(-12),
            Grain::Quarter => self.shift(-4),
            Grain::Year => self.shift(-1),
        }
    }

    fn shift(self, n: i32) -> Period {
        let s = self.start;
        let months = |k: i32| {
            let total = s.year() * 12 + s.month0() as i32 + k;
            NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
                .unwrap_or(s)
        };
        let start = match self.grain {
            Grain::Day => s + chrono::Duration::days(i64::from(n)),
            Grain::Month => months(n),
            Grain::Quarter => months(3 * n),
            Grain::Year => months(12 * n),
        };
        Period {
            grain: self.grain,
            start,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.start;
        match self.grain {
            Grain::Day => write!(f, "{}", s.format("%Y-%m-%d")),
            Grain::Month => write!(f, "{}", s.format("%Y-%m")),
            Grain::Quarter => write!(f, "{}-Q{}", s.year(), s.month0() / 3 + 1),
            Grain::Year => write!(f, "{}", s.year()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn periods_read_from_dates_and_their_own_text() {
        let p = Period::parse(Grain::Month, "2026-11-05").expect("month");
        assert_eq!(p.to_string(), "2026-11");
        assert_eq!(Period::parse(Grain::Month, "2026-11"), Some(p));
        assert_eq!(Period::parse(Grain::Month, "202611"), Some(p));
        assert_eq!(Period::parse(Grain::Month, "2026/11/30 23:59:59"), Some(p));
        assert_eq!(Period::parse(Grain::Month, "2026-11-05T08:00:00Z"), Some(p));
        let q = Period::parse(Grain::Quarter, "2026-Q3").expect("quarter");
        assert_eq!(q.start(), d(2026, 7, 1));
        assert_eq!(Period::parse(Grain::Quarter, "2026-08-31"), Some(q));
        assert_eq!(
            Period::parse(Grain::Year, "2026").map(|p| p.to_string()),
            Some("2026".into())
        );
        assert_eq!(Period::parse(Grain::Quarter, "2026-Q5"), None);
        assert_eq!(Period::parse(Grain::Month, "2026-13"), None);
        assert_eq!(Period::parse(Grain::Day, "明天"), None);
    }

    #[test]
    fn previous_period_and_the_same_period_last_year() {
        let jan = Period::parse(Grain::Month, "2026-01").expect("month");
        assert_eq!(jan.previous().to_string(), "2025-12");
        assert_eq!(jan.year_before().to_string(), "2025-01");
        let q1 = Period::parse(Grain::Quarter, "2026-Q1").expect("quarter");
        assert_eq!(q1.previous().to_string(), "2025-Q4");
        assert_eq!(q1.year_before().to_string(), "2025-Q1");
        let leap = Period::parse(Grain::Day, "2024-02-29").expect("day");
        assert_eq!(leap.year_before().to_string(), "2023-02-28");
        assert_eq!(leap.previous().to_string(), "2024-02-28");
        assert_eq!(jan.end(), d(2026, 2, 1));
    }

    proptest! {
        #[test]
        fn a_period_reads_back_from_its_text(y in 1990i32..2100, m in 1u32..=12, day in 1u32..=28, g in 0usize..4) {
            let grain = Grain::ALL[g];
            let p = Period::containing(grain, d(y, m, day));
            prop_assert_eq!(Period::parse(grain, &p.to_string()), Some(p));
            prop_assert!(p.start() <= d(y, m, day) && d(y, m, day) < p.end());
            prop_assert_eq!(p.previous().next(), p);
        }
    }
}
