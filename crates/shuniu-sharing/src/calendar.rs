//! The working-day calendar: Monday to Friday, minus public holidays, plus make-up working
//! days (调休上班) on weekends. Deadlines of conditional requests (and of problem tickets)
//! count in these days. The State Council's schedules for 2025 and 2026 ship in
//! `data/holidays.csv`; the hub operator adds or corrects days, kept in the control plane.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// The shipped schedule: `day,kind,note` lines, `#` comments.
pub const SHIPPED: &str = include_str!("../data/holidays.csv");

/// Office hours on a working day, Beijing time: (open, close) as (hour, minute).
pub const OFFICE_HOURS: [((u32, u32), (u32, u32)); 2] = [((9, 0), (12, 0)), ((13, 0), (18, 0))];

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

    /// The moment `hours` working hours after `start`, Beijing time: office hours are
    /// 09:00–12:00 and 13:00–18:00 on working days (8 hours a day), so an urgent city event
    /// reported at 17:00 on Friday with 4 working hours is due at 12:00 on Monday (or later
    /// when holidays intervene). A start outside office hours counts from the next opening.
    pub fn deadline_hours(&self, start: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
        let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!());
        let local = start.with_timezone(&beijing).naive_local();
        let mut day = local.date();
        let mut left = i64::from(hours) * 60;
        loop {
            if self.is_working_day(day) {
                for (open, close) in OFFICE_HOURS {
                    let (Some(open), Some(close)) = (
                        day.and_hms_opt(open.0, open.1, 0),
                        day.and_hms_opt(close.0, close.1, 0),
                    ) else {
                        continue;
                    };
                    let from = open.max(local);
                    if from >= close {
                        continue;
                    }
                    let available = (close - from).num_minutes();
                    if left <= available {
                        let end = from + Duration::minutes(left);
                        return beijing
                            .from_local_datetime(&end)
                            .single()
                            .map(|t| t.with_timezone(&Utc))
                            .unwrap_or(start);
                    }
                    left -= available;
                }
            }
            day += Duration::days(1);
        }
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
        // Working hours: office hours only, lunch and nights and holidays skipped.
        assert_eq!(
            c.deadline_hours(at("2026-11-20T17:00:00+08:00"), 4),
            at("2026-11-23T12:00:00+08:00"),
            "Friday 17:00 + 4 h: one hour on Friday, three on Monday morning"
        );
        assert_eq!(
            c.deadline_hours(at("2026-11-23T11:00:00+08:00"), 2),
            at("2026-11-23T14:00:00+08:00"),
            "lunch is not counted"
        );
        assert_eq!(
            c.deadline_hours(at("2026-11-23T20:00:00+08:00"), 1),
            at("2026-11-24T10:00:00+08:00"),
            "an evening report counts from the next opening"
        );
        assert_eq!(
            c.deadline_hours(at("2026-09-30T17:30:00+08:00"), 8),
            at("2026-10-08T17:30:00+08:00"),
            "国庆 is skipped: half an hour on 9-30, the rest on 10-08"
        );
        // Overrides win over the shipped schedule.
        let c = WorkCalendar::with_overrides([("2026-11-23", "holiday", "test")]);
        assert_eq!(
            c.deadline(at("2026-11-20T15:00:00+08:00"), 5),
            at("2026-11-30T23:59:59+08:00")
        );
    }
}
