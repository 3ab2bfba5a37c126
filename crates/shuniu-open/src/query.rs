//! The Solr query syntax CKAN clients put in `q` and `fq`: `field:value`, `field:"a phrase"`,
//! `field:[a TO b]` / `{a TO b}` ranges with `*` and `NOW-1DAY` date maths, `field:(a OR b)`,
//! `-field:value` / `NOT` negation, `+` / `AND` / `OR` / `&&` / `||`, parentheses and
//! backslash escapes. Bare words (no field) are full-text terms. Clauses without an operator
//! between them are all required (CKAN's default `q.op` is AND).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

/// A parse or evaluation failure, reported to CKAN clients as a "Search Query Error".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value to match.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A term, possibly with `*` / `?` wildcards.
    Term(String),
    Phrase(String),
    Range {
        lo: Option<String>,
        hi: Option<String>,
        lo_inclusive: bool,
        hi_inclusive: bool,
    },
    /// `*`: the field has any value.
    Any,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `None` field: full text.
    Match(Option<String>, Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Plus,
    Minus,
    /// `field:` (the colon consumed).
    Field(String),
    Word(String),
    Phrase(String),
    Range(Value),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, QueryError> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let special = |c: char| c.is_whitespace() || c == '(' || c == ')' || c == '"';
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(QueryError("unterminated phrase: missing '\"'".into())),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                text.push(*n);
                            }
                            i += 2;
                        }
                        Some(ch) => {
                            text.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Phrase(text));
            }
            '[' | '{' => {
                let lo_inclusive = c == '[';
                let end = chars[i..]
                    .iter()
                    .position(|ch| *ch == ']' || *ch == '}')
                    .map(|p| p + i)
                    .ok_or_else(|| QueryError("unterminated range: missing ']' or '}'".into()))?;
                let hi_inclusive = chars[end] == ']';
                let body: String = chars[i + 1..end].iter().collect();
                let parts: Vec<&str> = body.split_whitespace().collect();
                if parts.len() != 3 || parts[1] != "TO" {
                    return Err(QueryError(format!(
                        "a range is written [from TO to], not '{}'",
                        body.trim()
                    )));
                }
                let bound = |b: &str| {
                    let b = b.trim_matches('"');
                    (b != "*").then(|| b.to_string())
                };
                out.push(Tok::Range(Value::Range {
                    lo: bound(parts[0]),
                    hi: bound(parts[2]),
                    lo_inclusive,
                    hi_inclusive,
                }));
                i = end + 1;
            }
            '+' if out_is_operator_position(&chars, i) => {
                out.push(Tok::Plus);
                i += 1;
            }
            '-' | '!' if out_is_operator_position(&chars, i) => {
                out.push(Tok::Minus);
                i += 1;
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                out.push(Tok::And);
                i += 2;
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                out.push(Tok::Or);
                i += 2;
            }
            _ => {
                let mut word = String::new();
                let mut field = None;
                while i < chars.len() && !special(chars[i]) {
                    match chars[i] {
                        '\\' => {
                            if let Some(n) = chars.get(i + 1) {
                                word.push(*n);
                            }
                            i += 2;
                        }
                        ':' if field.is_none() && !word.is_empty() => {
                            field = Some(std::mem::take(&mut word));
                            i += 1;
                            break;
                        }
                        ch => {
                            word.push(ch);
                            i += 1;
                        }
                    }
                }
                match field {
                    Some(f) => out.push(Tok::Field(f)),
                    None => out.push(match word.as_str() {
                        "AND" => Tok::And,
                        "OR" => Tok::Or,
                        "NOT" => Tok::Not,
                        _ => Tok::Word(word),
                    }),
                }
            }
        }
    }
    Ok(out)
}

/// `+`/`-` are operators at the start of a clause, not inside a word (`2024-01-01`).
fn out_is_operator_position(chars: &[char], i: usize) -> bool {
    i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '('
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// or := and (OR and)*
    fn or(&mut self, field: Option<&str>) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and(field)?];
        while self.peek() == Some(&Tok::Or) {
            self.next();
            parts.push(self.and(field)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    /// and := clause ((AND)? clause)*
    fn and(&mut self, field: Option<&str>) -> Result<Expr, QueryError> {
        let mut parts = vec![self.clause(field)?];
        loop {
            match self.peek() {
                None | Some(Tok::RParen) | Some(Tok::Or) => break,
                Some(Tok::And) => {
                    self.next();
                    parts.push(self.clause(field)?);
                }
                _ => parts.push(self.clause(field)?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn clause(&mut self, field: Option<&str>) -> Result<Expr, QueryError> {
        match self.next() {
            Some(Tok::Plus) => self.clause(field),
            Some(Tok::Minus) | Some(Tok::Not) => Ok(Expr::Not(Box::new(self.clause(field)?))),
            Some(Tok::LParen) => {
                let e = self.or(field)?;
                match self.next() {
                    Some(Tok::RParen) => Ok(e),
                    _ => Err(QueryError("missing ')'".into())),
                }
            }
            Some(Tok::Field(f)) => {
                if field.is_some() {
                    return Err(QueryError(format!("field '{f}:' inside a field group")));
                }
                match self.peek() {
                    Some(Tok::LParen) => {
                        self.next();
                        let e = self.or(Some(&f))?;
                        match self.next() {
                            Some(Tok::RParen) => Ok(e),
                            _ => Err(QueryError("missing ')'".into())),
                        }
                    }
                    _ => self.value(Some(f)),
                }
            }
            Some(t @ (Tok::Word(_) | Tok::Phrase(_) | Tok::Range(_))) => {
                self.pos -= 1;
                let _ = t;
                self.value(field.map(str::to_string))
            }
            Some(Tok::RParen) => Err(QueryError("unexpected ')'".into())),
            Some(Tok::And) | Some(Tok::Or) => Err(QueryError(
                "an operator needs a clause on both sides".into(),
            )),
            None => Err(QueryError(
                "the query ends where a clause was expected".into(),
            )),
        }
    }

    fn value(&mut self, field: Option<String>) -> Result<Expr, QueryError> {
        match self.next() {
            Some(Tok::Word(w)) if w == "*" => Ok(match field.as_deref() {
                None | Some("*") => Expr::All,
                Some(_) => Expr::Match(field, Value::Any),
            }),
            Some(Tok::Word(w)) if field.as_deref() == Some("*") && w == "*" => Ok(Expr::All),
            Some(Tok::Word(w)) => Ok(Expr::Match(field, Value::Term(w))),
            Some(Tok::Phrase(p)) => Ok(Expr::Match(field, Value::Phrase(p))),
            Some(Tok::Range(r)) if field.is_some() => Ok(Expr::Match(field, r)),
            Some(Tok::Range(_)) => Err(QueryError("a range needs a field: field:[a TO b]".into())),
            _ => Err(QueryError(format!(
                "'{}:' has no value",
                field.unwrap_or_default()
            ))),
        }
    }
}

/// Parses a `q` or `fq` string. Blank means every dataset.
pub fn parse(s: &str) -> Result<Expr, QueryError> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return Ok(Expr::All);
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.or(None)?;
    if p.pos < p.toks.len() {
        return Err(QueryError("unexpected ')'".into()));
    }
    Ok(e)
}

/// A point in time from Solr's date syntax: an ISO date-time (with or without `Z`,
/// fractions), a bare date, or `NOW` with `±N(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND)S?` and
/// `/DAY` rounding.
pub fn parse_instant(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, QueryError> {
    let bad = || {
        QueryError(format!(
            "cannot read '{s}' as a date (use 2024-01-31T00:00:00Z or NOW-1DAY)"
        ))
    };
    if let Some(rest) = s.strip_prefix("NOW") {
        let mut t = now;
        let mut rest = rest;
        while !rest.is_empty() {
            if let Some(unit) = rest.strip_prefix('/') {
                let (u, r) = split_unit(unit);
                t = match u {
                    "DAY" | "DAYS" => t
                        .date_naive()
                        .and_hms_opt(0, 0, 0)
                        .map(|d| d.and_utc())
                        .ok_or_else(bad)?,
                    "HOUR" | "HOURS" => t
                        .date_naive()
                        .and_hms_opt(chrono::Timelike::hour(&t), 0, 0)
                        .map(|d| d.and_utc())
                        .ok_or_else(bad)?,
                    _ => return Err(bad()),
                };
                rest = r;
                continue;
            }
            let sign = match rest.chars().next() {
                Some('+') => 1,
                Some('-') => -1,
                _ => return Err(bad()),
            };
            let digits: String = rest[1..].chars().take_while(char::is_ascii_digit).collect();
            let n: i64 = digits.parse().map_err(|_| bad())?;
            let (u, r) = split_unit(&rest[1 + digits.len()..]);
            let d = match u.trim_end_matches('S') {
                "YEAR" => Duration::days(365 * n),
                "MONTH" => Duration::days(30 * n),
                "DAY" => Duration::days(n),
                "HOUR" => Duration::hours(n),
                "MINUTE" => Duration::minutes(n),
                "SECOND" => Duration::seconds(n),
                _ => return Err(bad()),
            };
            t = if sign > 0 { t + d } else { t - d };
            rest = r;
        }
        return Ok(t);
    }
    let trimmed = s.trim_end_matches('Z');
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(trimmed, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|d| d.and_utc()).ok_or_else(bad);
    }
    Err(bad())
}

fn split_unit(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_uppercase()).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Whether `value` matches a wildcard pattern (`*` any run, `?` one character).
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(f: &str, v: &str) -> Expr {
        Expr::Match(Some(f.into()), Value::Term(v.into()))
    }

    #[test]
    fn ckan_filter_queries() {
        assert_eq!(parse("").unwrap(), Expr::All);
        assert_eq!(parse("*:*").unwrap(), Expr::All);
        assert_eq!(
            parse("organization:370200ga").unwrap(),
            m("organization", "370200ga")
        );
        assert_eq!(
            parse("organization:a tags:\"人口 数据\"").unwrap(),
            Expr::And(vec![
                m("organization", "a"),
                Expr::Match(Some("tags".into()), Value::Phrase("人口 数据".into()))
            ])
        );
        assert_eq!(
            parse("-groups:theme-101 +res_format:CSV").unwrap(),
            Expr::And(vec![
                Expr::Not(Box::new(m("groups", "theme-101"))),
                m("res_format", "CSV")
            ])
        );
        assert_eq!(
            parse("metadata_modified:[2026-11-22T10:00:00.123456Z TO *]").unwrap(),
            Expr::Match(
                Some("metadata_modified".into()),
                Value::Range {
                    lo: Some("2026-11-22T10:00:00.123456Z".into()),
                    hi: None,
                    lo_inclusive: true,
                    hi_inclusive: true
                }
            )
        );
        assert_eq!(
            parse("tags:(a OR b) AND NOT name:x").unwrap(),
            Expr::And(vec![
                Expr::Or(vec![m("tags", "a"), m("tags", "b")]),
                Expr::Not(Box::new(m("name", "x")))
            ])
        );
        assert_eq!(parse("name:a\\-b").unwrap(), m("name", "a-b"));
        assert_eq!(
            parse("人口 OR 法人").unwrap(),
            Expr::Or(vec![
                Expr::Match(None, Value::Term("人口".into())),
                Expr::Match(None, Value::Term("法人".into()))
            ])
        );
    }

    #[test]
    fn malformed_queries_are_errors() {
        for q in [
            "name:",
            "(a",
            "a)",
            "metadata_modified:[2020 TO",
            "x:[a b]",
            "\"open",
            "AND a",
            "[a TO b]",
        ] {
            assert!(parse(q).is_err(), "{q} should not parse");
        }
    }

    #[test]
    fn dates() {
        let now = "2026-11-23T10:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            parse_instant("NOW-1DAY", now).unwrap(),
            "2026-11-22T10:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_instant("NOW/DAY", now).unwrap(),
            "2026-11-23T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_instant("2026-11-22T10:00:00.123456Z", now).unwrap(),
            "2026-11-22T10:00:00.123456Z"
                .parse::<DateTime<Utc>>()
                .unwrap()
        );
        assert!(parse_instant("2026-11-22", now).is_ok());
        assert!(parse_instant("yesterday", now).is_err());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("37*", "370200ga"));
        assert!(wildcard("*ga", "370200ga"));
        assert!(wildcard("3?02*", "370200ga"));
        assert!(!wildcard("38*", "370200ga"));
        assert!(wildcard("*", ""));
    }

    proptest! {
        /// Parsing never panics, whatever a client sends.
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }

        #[test]
        fn quoted_terms_round_trip(s in "[a-z0-9\u{4e00}-\u{4e20} ]{1,12}") {
            let q = format!("tags:\"{s}\"");
            prop_assert_eq!(parse(&q).unwrap(), Expr::Match(Some("tags".into()), Value::Phrase(s)));
        }
    }
}
