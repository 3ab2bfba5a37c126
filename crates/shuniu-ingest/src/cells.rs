//! Cell parsers: the spellings of dates, numbers and booleans that Chinese government
//! spreadsheets and database exports actually contain.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// Why a cell could not be read as its item's type. The message names the value's problem,
/// not the value (it may be personal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellError {
    NotANumber,
    NotAnInteger,
    OutOfRange,
    NotADate,
    ImpossibleDate,
    NotADateTime,
    NotABoolean,
    NotHex,
}

impl CellError {
    pub fn code(self) -> &'static str {
        match self {
            CellError::NotANumber => "NOT_A_NUMBER",
            CellError::NotAnInteger => "NOT_AN_INTEGER",
            CellError::OutOfRange => "OUT_OF_RANGE",
            CellError::NotADate => "NOT_A_DATE",
            CellError::ImpossibleDate => "IMPOSSIBLE_DATE",
            CellError::NotADateTime => "NOT_A_DATETIME",
            CellError::NotABoolean => "NOT_A_BOOLEAN",
            CellError::NotHex => "NOT_HEX",
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            CellError::NotANumber => "不是数值",
            CellError::NotAnInteger => "不是整数",
            CellError::OutOfRange => "数值超出范围",
            CellError::NotADate => "不是日期（应为 YYYY-MM-DD 等格式）",
            CellError::ImpossibleDate => "日期不存在（如 2 月 30 日）",
            CellError::NotADateTime => "不是日期时间（应为 YYYY-MM-DD HH:MM:SS）",
            CellError::NotABoolean => "不是逻辑值（是/否、true/false、1/0）",
            CellError::NotHex => "不是十六进制编码的二进制值",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            CellError::NotANumber => "not a number",
            CellError::NotAnInteger => "not an integer",
            CellError::OutOfRange => "number out of range",
            CellError::NotADate => "not a date (expected YYYY-MM-DD or similar)",
            CellError::ImpossibleDate => "a date that does not exist (such as 30 February)",
            CellError::NotADateTime => "not a date and time (expected YYYY-MM-DD HH:MM:SS)",
            CellError::NotABoolean => "not a boolean (是/否, true/false, 1/0)",
            CellError::NotHex => "not a hex-encoded binary value",
        }
    }
}

/// China Standard Time: naive times in department data are Beijing time (no DST).
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero"))
}

/// Removes thousands separators, currency signs and surrounding spaces.
fn clean_number(s: &str) -> std::borrow::Cow<'_, str> {
    let t = s.trim();
    let t = t
        .strip_prefix('¥')
        .or_else(|| t.strip_prefix('￥'))
        .unwrap_or(t)
        .trim();
    if t.contains([',', '，', ' ']) {
        std::borrow::Cow::Owned(
            t.chars()
                .filter(|c| !matches!(c, ',' | '，' | ' '))
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(t)
    }
}

pub fn parse_float(s: &str) -> Result<f64, CellError> {
    let t = clean_number(s);
    let v: f64 = t.parse().map_err(|_| CellError::NotANumber)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(CellError::NotANumber)
    }
}

pub fn parse_int(s: &str) -> Result<i64, CellError> {
    let t = clean_number(s);
    if let Ok(v) = t.parse::<i64>() {
        return Ok(v);
    }
    // Spreadsheets write integers as 12.0.
    match t.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        Ok(f) if f.is_finite() && f.fract() == 0.0 => Err(CellError::OutOfRange),
        Ok(_) => Err(CellError::NotAnInteger),
        Err(_) => Err(CellError::NotAnInteger),
    }
}

/// A decimal with `scale` digits after the point, as the unscaled integer; rounds half away
/// from zero beyond the scale.
pub fn parse_decimal(s: &str, scale: u32, precision: u32) -> Result<i128, CellError> {
    let t = clean_number(s);
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    if t.contains(['e', 'E']) {
        let f: f64 = t.parse().map_err(|_| CellError::NotANumber)?;
        let scaled = (f * 10f64.powi(scale as i32)).round();
        if !scaled.is_finite() || scaled.abs() >= 10f64.powi(precision as i32) {
            return Err(CellError::OutOfRange);
        }
        return Ok(if neg {
            -(scaled as i128)
        } else {
            scaled as i128
        });
    }
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(CellError::NotANumber);
    }
    let mut v: i128 = 0;
    for b in int.bytes() {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as i128))
            .ok_or(CellError::OutOfRange)?;
    }
    let fb = frac.as_bytes();
    for i in 0..scale as usize {
        let d = fb.get(i).map(|b| (b - b'0') as i128).unwrap_or(0);
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(d))
            .ok_or(CellError::OutOfRange)?;
    }
    if fb.get(scale as usize).is_some_and(|b| *b >= b'5') {
        v += 1;
    }
    if v >= 10i128.pow(precision) {
        return Err(CellError::OutOfRange);
    }
    Ok(if neg { -v } else { v })
}

/// Accepts 2024-03-01, 2024/3/1, 2024.03.01, 20240301, 2024年3月1日 and an ISO date-time
/// whose time part is ignored. A well-formed date that does not exist is its own error.
pub fn parse_date(s: &str) -> Result<NaiveDate, CellError> {
    let t = s.trim();
    let t = t.split(['T', ' ']).next().unwrap_or(t);
    let (y, m, d) = if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        (&t[0..4], &t[4..6], &t[6..8])
    } else {
        let t = t.trim_end_matches('日');
        let mut parts = t.split(['-', '/', '.', '年', '月']);
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(y), Some(m), Some(d), None) => (y, m, d),
            _ => return Err(CellError::NotADate),
        }
    };
    let num = |p: &str, max_len: usize| -> Result<u32, CellError> {
        if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
            Err(CellError::NotADate)
        } else {
            p.parse().map_err(|_| CellError::NotADate)
        }
    };
    let (y, m, d) = (num(y, 4)?, num(m, 2)?, num(d, 2)?);
    if y < 1000 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(CellError::ImpossibleDate);
    }
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or(CellError::ImpossibleDate)
}

/// Microseconds since the Unix epoch. Accepts RFC 3339 with an offset, or a naive
/// `date time` read as Beijing time; a bare date is midnight.
pub fn parse_datetime(s: &str) -> Result<i64, CellError> {
    let t = s.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_micros());
    }
    let t2 = t.replace('T', " ").replace('/', "-");
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y%m%d%H%M%S",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&t2, fmt) {
            return beijing()
                .from_local_datetime(&naive)
                .single()
                .map(|d| d.timestamp_micros())
                .ok_or(CellError::NotADateTime);
        }
    }
    match parse_date(t) {
        Ok(d) => beijing()
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .single()
            .map(|d| d.timestamp_micros())
            .ok_or(CellError::NotADateTime),
        Err(CellError::ImpossibleDate) => Err(CellError::ImpossibleDate),
        Err(_) => Err(CellError::NotADateTime),
    }
}

pub fn parse_bool(s: &str) -> Result<bool, CellError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "y" | "yes" | "是" | "真" => Ok(true),
        "0" | "false" | "f" | "n" | "no" | "否" | "假" => Ok(false),
        _ => Err(CellError::NotABoolean),
    }
}

pub fn parse_hex(s: &str) -> Result<Vec<u8>, CellError> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    hex::decode(t).map_err(|_| CellError::NotHex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dates_in_the_spellings_departments_use() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        for s in [
            "2024-03-01",
            "2024/3/1",
            "2024.03.01",
            "20240301",
            "2024年3月1日",
            "2024-03-01 08:00:00",
            " 2024-03-01T00:00:00 ",
        ] {
            assert_eq!(parse_date(s), Ok(d), "{s}");
        }
        assert_eq!(parse_date("2023-02-29"), Err(CellError::ImpossibleDate));
        assert_eq!(parse_date("2024-13-01"), Err(CellError::ImpossibleDate));
        assert_eq!(parse_date("2024-02-30"), Err(CellError::ImpossibleDate));
        assert_eq!(parse_date("三月一日"), Err(CellError::NotADate));
        assert_eq!(parse_date("2024-03"), Err(CellError::NotADate));
    }

    #[test]
    fn naive_times_are_beijing_time() {
        let utc_midnight = parse_datetime("2024-03-01T00:00:00Z").unwrap();
        assert_eq!(parse_datetime("2024-03-01 08:00:00").unwrap(), utc_midnight);
        assert_eq!(
            parse_datetime("2024-03-01").unwrap(),
            utc_midnight - 8 * 3_600_000_000
        );
        assert_eq!(
            parse_datetime("2024-02-30 10:00"),
            Err(CellError::ImpossibleDate)
        );
    }

    #[test]
    fn money_keeps_its_cents() {
        assert_eq!(parse_decimal("1,234.5", 2, 20), Ok(123_450));
        assert_eq!(parse_decimal("￥0.005", 2, 20), Ok(1));
        assert_eq!(parse_decimal("-12", 2, 20), Ok(-1200));
        assert_eq!(parse_decimal("1e3", 2, 20), Ok(100_000));
        assert_eq!(parse_decimal("12a", 2, 20), Err(CellError::NotANumber));
        assert_eq!(parse_decimal(".", 2, 20), Err(CellError::NotANumber));
        assert_eq!(
            parse_decimal("999999999999999999999", 2, 20),
            Err(CellError::OutOfRange)
        );
        assert_eq!(parse_int("12.0"), Ok(12));
        assert_eq!(parse_int("12.5"), Err(CellError::NotAnInteger));
        assert_eq!(parse_bool("是"), Ok(true));
        assert_eq!(parse_bool("maybe"), Err(CellError::NotABoolean));
    }

    proptest! {
        #[test]
        fn every_real_date_round_trips(days in 0i64..200_000) {
            let d = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
            prop_assert_eq!(parse_date(&d.format("%Y-%m-%d").to_string()), Ok(d));
            prop_assert_eq!(parse_date(&d.format("%Y%m%d").to_string()), Ok(d));
            prop_assert_eq!(parse_date(&d.format("%Y年%-m月%-d日").to_string()), Ok(d));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = parse_date(&s);
            let _ = parse_datetime(&s);
            let _ = parse_decimal(&s, 2, 20);
            let _ = parse_float(&s);
            let _ = parse_int(&s);
            let _ = parse_bool(&s);
        }

        #[test]
        fn decimals_match_integer_cents(cents in -1_000_000_000_000i64..1_000_000_000_000) {
            let s = format!("{}{}.{:02}", if cents < 0 { "-" } else { "" }, cents.abs() / 100, cents.abs() % 100);
            prop_assert_eq!(parse_decimal(&s, 2, 20), Ok(cents as i128));
        }
    }
}
