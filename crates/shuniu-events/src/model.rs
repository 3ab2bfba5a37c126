//! The life of a city event (一网统管): its states, what moves it from one to the next, its
//! urgency and where it came from. Pure rules, no storage: the engine asks these functions
//! before it writes anything, so an event can only move along the paths drawn here.
//!
//! ```text
//! reported ──dispatch──▶ dispatched ──accept──▶ handling ──handle──▶ handled ──verify──▶ closed
//!    ▲  ▲                   │   │                  │                    │                 │
//!    │  └──────return───────┘   └──transfer──▶ dispatched (another)    └─reject─▶ handling│
//!    │                                                                                    │
//!    └──────────────────────────────────reopen────────────────────────────────────────────┘
//! merged: a duplicate folded into its parent (terminal)
//! ```

use serde::{Deserialize, Serialize};
pub use shuniu_types::event::{Channel, EventAction, EventState, Urgency};

/// Where `action` takes an event in `state`, or `None` when it does not apply. Notes,
/// reminders and escalations leave the state as it is (on an open event).
pub fn next(state: EventState, action: EventAction) -> Option<EventState> {
    use EventAction as A;
    use EventState as S;
    match (state, action) {
        (S::Reported, A::Dispatch) => Some(S::Dispatched),
        (S::Dispatched, A::Accept) => Some(S::Handling),
        (S::Dispatched | S::Handling, A::Return) => Some(S::Reported),
        (S::Dispatched | S::Handling, A::Transfer) => Some(S::Dispatched),
        (S::Handling, A::Handle) => Some(S::Handled),
        (S::Handled, A::Verify) => Some(S::Closed),
        (S::Handled, A::Reject) => Some(S::Handling),
        (S::Closed, A::Reopen) => Some(S::Reported),
        (s, A::Note | A::Remind | A::Escalate) if s.is_open() => Some(s),
        (S::Reported | S::Dispatched, A::Merge) => Some(S::Merged),
        _ => None,
    }
}

/// FixMyStreet's update statuses (servicerequestupdates), any case: what a civic app may say
/// about a request, as the action it means here.
pub fn fixmystreet_status(status: &str) -> Option<EventAction> {
    match status
        .trim()
        .to_ascii_lowercase()
        .replace(' ', "_")
        .as_str()
    {
        "fixed" | "closed" | "fixed_-_council" | "fixed_-_user" => Some(EventAction::Verify),
        "action_scheduled" | "in_progress" | "investigating" => Some(EventAction::Note),
        "open" | "confirmed" => Some(EventAction::Reopen),
        _ => None,
    }
}

/// A point on the map (WGS-84 as Open311 clients send it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

impl Point {
    /// Great-circle distance in metres (haversine; the city is small enough for a sphere).
    pub fn metres_to(self, other: Point) -> f64 {
        let r = 6_371_008.8_f64;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = (other.lat - self.lat).to_radians();
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * r * a.sqrt().asin()
    }

    /// The box of micro-degrees (south, north, west, east) that holds every point within
    /// `metres` of this one (a little more: the box's corners).
    pub fn box_around(self, metres: f64) -> (i64, i64, i64, i64) {
        let dlat = metres / 111_000.0;
        let dlon = metres / (111_000.0 * self.lat.to_radians().cos().abs().max(0.01));
        let micro = |v: f64| (v * 1e6).round() as i64;
        (
            micro(self.lat - dlat) - 1,
            micro(self.lat + dlat) + 1,
            micro(self.lon - dlon) - 1,
            micro(self.lon + dlon) + 1,
        )
    }

    pub fn valid(self) -> bool {
        (-90.0..=90.0).contains(&self.lat) && (-180.0..=180.0).contains(&self.lon)
    }
}

/// The districts of the demo city (青岛市, GB/T 2260) with a point near each one's centre:
/// an event reported by coordinates is placed in the district whose centre is nearest. A
/// city with boundary polygons would test containment; the centres are public knowledge and
/// good enough to route a report.
pub const DISTRICTS: [(&str, &str, f64, f64); 10] = [
    ("370202", "市南区", 36.0671, 120.3826),
    ("370203", "市北区", 36.0876, 120.3748),
    ("370211", "黄岛区", 35.9606, 120.1979),
    ("370212", "崂山区", 36.1072, 120.4688),
    ("370213", "李沧区", 36.1451, 120.4327),
    ("370214", "城阳区", 36.3074, 120.3963),
    ("370215", "即墨区", 36.3894, 120.4473),
    ("370281", "胶州市", 36.2645, 120.0335),
    ("370283", "平度市", 36.7769, 119.9598),
    ("370285", "莱西市", 36.8888, 120.5178),
];

/// The district (code, name) whose centre is nearest the point.
pub fn district_of(p: Point) -> (&'static str, &'static str) {
    let mut best = (DISTRICTS[0].0, DISTRICTS[0].1, f64::MAX);
    for (code, name, lat, lon) in DISTRICTS {
        let d = p.metres_to(Point { lat, lon });
        if d < best.2 {
            best = (code, name, d);
        }
    }
    (best.0, best.1)
}

/// The centre of a district, for an event located by address only.
/// The city's own GB/T 2260 code: an event that concerns the whole city.
pub const CITY_DIVISION: &str = "370200";

/// A district of the city, or the city itself.
pub fn known_district(code: &str) -> bool {
    code == CITY_DIVISION || DISTRICTS.iter().any(|d| d.0 == code)
}

pub fn centre_of(district: &str) -> Option<Point> {
    DISTRICTS
        .iter()
        .find(|d| d.0 == district)
        .map(|d| Point { lat: d.2, lon: d.3 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_drawn_paths_exist() {
        use EventAction as A;
        use EventState as S;
        let path = [A::Dispatch, A::Accept, A::Handle, A::Verify];
        let mut s = S::Reported;
        for a in path {
            s = next(s, a).unwrap();
        }
        assert_eq!(s, S::Closed);
        assert_eq!(next(S::Reported, A::Handle), None, "not accepted yet");
        assert_eq!(next(S::Closed, A::Handle), None);
        assert_eq!(
            next(S::Closed, A::Note),
            None,
            "a closed event takes no notes"
        );
        assert_eq!(next(S::Handled, A::Reject), Some(S::Handling));
        assert_eq!(next(S::Handling, A::Return), Some(S::Reported));
        assert_eq!(next(S::Closed, A::Reopen), Some(S::Reported));
        assert_eq!(
            next(S::Handling, A::Merge),
            None,
            "work under way is not merged"
        );
        assert_eq!(next(S::Merged, A::Reopen), None);
        for s in S::ALL {
            assert_eq!(next(*s, A::Report), None, "reporting makes a new event");
        }
    }

    #[test]
    fn fixmystreet_statuses_in_any_case() {
        assert_eq!(fixmystreet_status("FIXED"), Some(EventAction::Verify));
        assert_eq!(
            fixmystreet_status("Fixed - Council"),
            Some(EventAction::Verify)
        );
        assert_eq!(fixmystreet_status("in_progress"), Some(EventAction::Note));
        assert_eq!(fixmystreet_status("IN PROGRESS"), Some(EventAction::Note));
        assert_eq!(fixmystreet_status("open"), Some(EventAction::Reopen));
        assert_eq!(fixmystreet_status("duplicate?"), None);
    }

    #[test]
    fn a_point_is_placed_in_the_nearest_district() {
        // 五四广场 (市南区) and 崂山风景区.
        assert_eq!(
            district_of(Point {
                lat: 36.0619,
                lon: 120.3843
            })
            .0,
            "370202"
        );
        assert_eq!(
            district_of(Point {
                lat: 36.1360,
                lon: 120.6200
            })
            .0,
            "370212"
        );
        let a = Point {
            lat: 36.0,
            lon: 120.0,
        };
        let b = Point {
            lat: 36.001,
            lon: 120.0,
        };
        assert!((a.metres_to(b) - 111.2).abs() < 1.0, "{}", a.metres_to(b));
        // Every point 100 m away, in any direction, is inside the box around a point.
        let (s, n, w, e) = a.box_around(100.0);
        for deg in (0..360).step_by(15) {
            let t = f64::from(deg).to_radians();
            let p = Point {
                lat: a.lat + 100.0 * t.cos() / 111_195.0,
                lon: a.lon + 100.0 * t.sin() / (111_195.0 * a.lat.to_radians().cos()),
            };
            assert!((a.metres_to(p) - 100.0).abs() < 0.5);
            let (la, lo) = ((p.lat * 1e6).round() as i64, (p.lon * 1e6).round() as i64);
            assert!(s <= la && la <= n && w <= lo && lo <= e, "{deg}°");
        }
        assert!(
            !Point {
                lat: 91.0,
                lon: 0.0
            }
            .valid()
        );
    }
}
