//! The working-day calendar: Monday to Friday, minus public holidays, plus make-up working
//! days (调休上班) on weekends. Deadlines of conditional requests (and of problem tickets)
//! count in these days. The State Council's schedules for 2025 and 2026 ship in
//! `data/holidays.csv`; the hub operator adds or corrects days, kept in the control plane.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// The shipped schedule: `day,kind,note` lines, `#` comments.
pub const SHIPPED: &str = include_str!("../data/holidays.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    Holiday,
    /// A weekend day that is worked (调休上班).
    Workday,
}

#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    days: BTreeMap<NaiveDate, (DayKind, String)>,
}

impl WorkCalendar {
    /// The shipped schedule, then `overrides` (day, kind, note) on top.
    pub fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Self {
        let mut c = WorkCalendar::default();
        let shipped = SHIPPED
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("day,"))
            .filter_map(|l| {
                let mut p = l.splitn(3, ',');
                Some((p.next()?, p.next()?, p.next().unwrap_or("")))
            });
        for (day, kind, note) in shipped.chain(overrides) {
            c.set(day, kind, note);
        }
        c
    }

    /// Sets one day: `holiday`, `workday`, or `normal` (back to the weekday rule).
    pub fn set(&mut self, day: &str, kind: &str, note: &str) -> bool {
        let Ok(d) = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d") else {
            return false;
        };
        match kind.trim() {
            "holiday" => {
                self.days.insert(d, (DayKind::Holiday, note.to_string()));
            }
            "workday" => {
                self.days.insert(d, (DayKind::Workday, note.to_string()));
            }
            "normal" => {
                self.days.remove(&d);
            }
            _ => return false,
        }
        true
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.days.get(&d) {
            Some((DayKind::Holiday, _)) => false,
            Some((DayKind::Workday, _)) => true,
            None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The end of the `n`th working day after `start`'s day, Beijing time: a request filed
    /// on Friday afternoon with 5 working days is due at the end of the next Friday (or later
    /// when holidays intervene). Returned in UTC.
    pub fn deadline(&self, start: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!());
        let mut day = start.with_timezone(&beijing).date_naive();
        let mut left = n;
        while left > 0 {
            day += Duration::days(1);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        let end = day
            .and_hms_opt(23, 59, 59)
            .unwrap_or_else(|| unreachable!("23:59:59 exists"));
        beijing
            .from_local_datetime(&end)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(start)
    }

    /// The special days between two dates, for the console.
    pub fn special_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<(NaiveDate, DayKind, String)> {
        self.days
            .range(from..=to)
            .map(|(d, (k, n))| (*d, *k, n.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn shipped_schedule_knows_2026() {
        let c = WorkCalendar::with_overrides([]);
        assert!(!c.is_working_day(d("2026-02-16")), "春节");
        assert!(c.is_working_day(d("2026-02-14")), "Saturday make-up day");
        assert!(c.is_working_day(d("2026-01-04")), "Sunday make-up day");
        assert!(!c.is_working_day(d("2026-10-07")));
        assert!(c.is_working_day(d("2026-10-10")));
        assert!(!c.is_working_day(d("2026-11-21")), "an ordinary Saturday");
        assert!(c.is_working_day(d("2026-11-23")));
    }

    #[test]
    fn deadlines_skip_holidays_and_count_make_up_days() {
        let c = WorkCalendar::with_overrides([]);
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&Utc)
        };
        // Filed Thursday 2026-09-24: 25–27 中秋, 28–30 work, 10-1..7 国庆, 10-10 Saturday worked.
        let due = c.deadline(at("2026-09-24T10:00:00+08:00"), 5);
        assert_eq!(due, at("2026-10-09T23:59:59+08:00"));
        let due = c.deadline(at("2026-09-24T10:00:00+08:00"), 6);
        assert_eq!(
            due,
            at("2026-10-10T23:59:59+08:00"),
            "the make-up Saturday counts"
        );
        // An ordinary week: Friday + 5 working days = next Friday.
        let due = c.deadline(at("2026-11-20T15:00:00+08:00"), 5);
        assert_eq!(due, at("2026-11-27T23:59:59+08:00"));
        // Overrides win over the shipped schedule.
        let c = WorkCalendar::with_overrides([("2026-11-23", "holiday", "test")]);
        assert_eq!(
            c.deadline(at("2026-11-20T15:00:00+08:00"), 5),
            at("2026-11-30T23:59:59+08:00")
        );
    }
}
