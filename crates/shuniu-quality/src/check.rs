//! Runs compiled rules over Arrow record batches as they stream past — during a load, or
//! over a stored version — keeping per rule how many values were checked, how many failed,
//! and a few failing rows (key, value, reason) for the people who must fix them.
//!
//! Memory is bounded by the rules, not by the data, except for `unique`, which keeps one
//! 64-bit hash and a count per distinct value (≈ 32 bytes a value; 10 M keys ≈ 320 MB). Two
//! distinct values sharing a 64-bit hash would be counted as a duplicate: at 10 M values the
//! chance of any such collision is about 3 in a million.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Float64Type};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use shuniu_types::{CreditCode, IdNumber, OrgCode, RegistrationNumber, Sex};

use crate::rules::{Check, CompiledRule, Dimension};

/// Failing rows kept per rule.
pub const SAMPLES: usize = 10;

/// One failing row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Position of the row in the checked data (1-based), when known.
    #[serde(default)]
    pub row: Option<u64>,
    /// The row's key (the resource's key items, joined with `|`).
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    /// Why, when the rule can say more than its name (e.g. the expected check character).
    #[serde(default)]
    pub reason: Option<String>,
}

/// What one rule found. `rule`, `column`, `checked` and `failed` are part of the stable
/// `shuniu quality report --json` interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    pub rule: String,
    pub column: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub dimension: Dimension,
    pub origin: String,
    pub description_zh: String,
    pub description_en: String,
    pub checked: u64,
    pub failed: u64,
    /// For `unique`: how many distinct values occur more than once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_values: Option<u64>,
    pub samples: Vec<Sample>,
}

impl RuleResult {
    pub fn new(rule: &CompiledRule) -> RuleResult {
        let (zh, en) = rule.spec.kind.describe();
        RuleResult {
            rule: rule.spec.id.clone(),
            column: rule.column.clone(),
            kind: rule.spec.kind.code().to_string(),
            dimension: rule.spec.kind.dimension(),
            origin: rule.spec.origin.clone(),
            description_zh: zh,
            description_en: en,
            checked: 0,
            failed: 0,
            duplicate_values: None,
            samples: Vec::new(),
        }
    }

    /// Share of checked values that passed, 1.0 when nothing was checked.
    pub fn pass_rate(&self) -> f64 {
        if self.checked == 0 {
            1.0
        } else {
            1.0 - self.failed as f64 / self.checked as f64
        }
    }
}

struct State {
    result: RuleResult,
    /// `unique`: hash of the value → occurrences.
    seen: Option<HashMap<u64, u32, ahash::RandomState>>,
}

/// Checks batches against a resource's rules.
pub struct Checker {
    rules: Vec<CompiledRule>,
    states: Vec<State>,
    keys: Vec<String>,
    hasher: ahash::RandomState,
    rows: u64,
}

/// A batch column as text, cast once per batch.
fn text(batch: &RecordBatch, column: &str) -> Option<StringArray> {
    let a = batch.column_by_name(column)?;
    match a.data_type() {
        DataType::Utf8 => Some(a.as_string::<i32>().clone()),
        _ => cast(a, &DataType::Utf8)
            .ok()
            .map(|c| c.as_string::<i32>().clone()),
    }
}

fn cast_to(batch: &RecordBatch, column: &str, to: &DataType) -> Option<ArrayRef> {
    let a = batch.column_by_name(column)?;
    if a.data_type() == to {
        Some(a.clone())
    } else {
        cast(a, to).ok()
    }
}

fn present(a: &StringArray, i: usize) -> Option<&str> {
    if a.is_null(i) {
        return None;
    }
    let v = a.value(i);
    (!v.trim().is_empty()).then_some(v)
}

/// `^1[3-9]\d{9}$` without a regex.
pub fn is_mobile(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

const EPOCH_DAYS_CE: i32 = 719_163;

impl Checker {
    /// `rules` are the enabled row rules (dataset-level ones are skipped); `keys` the key
    /// items that identify a row in samples.
    pub fn new(rules: Vec<CompiledRule>, keys: Vec<String>) -> Checker {
        let rules: Vec<CompiledRule> = rules
            .into_iter()
            .filter(|r| r.spec.enabled && !matches!(r.check, Check::Freshness))
            .collect();
        let hasher = ahash::RandomState::with_seeds(
            0x5348_554e_4955_0001,
            0x7175_616c_6974_7921,
            0x9e37_79b9_7f4a_7c15,
            0x0123_4567_89ab_cdef,
        );
        let states = rules
            .iter()
            .map(|r| State {
                result: RuleResult::new(r),
                seen: matches!(r.check, Check::Unique)
                    .then(|| HashMap::with_hasher(hasher.clone())),
            })
            .collect();
        Checker {
            rules,
            states,
            keys,
            hasher,
            rows: 0,
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Checks one batch.
    pub fn check(&mut self, batch: &RecordBatch) {
        let base = self.rows;
        let n = batch.num_rows();
        let keys: Vec<StringArray> = self.keys.iter().filter_map(|k| text(batch, k)).collect();
        let key_of = |i: usize| -> Option<String> {
            if keys.is_empty() {
                return None;
            }
            Some(
                keys.iter()
                    .map(|k| if k.is_null(i) { "" } else { k.value(i) })
                    .collect::<Vec<_>>()
                    .join("|"),
            )
        };
        for (rule, state) in self.rules.iter().zip(self.states.iter_mut()) {
            let Some(column) = rule.column.as_deref() else {
                continue;
            };
            let res = &mut state.result;
            let mut fail =
                |res: &mut RuleResult, i: usize, value: Option<String>, reason: Option<String>| {
                    res.failed += 1;
                    if res.samples.len() < SAMPLES {
                        res.samples.push(Sample {
                            row: Some(base + i as u64 + 1),
                            key: key_of(i),
                            value,
                            reason,
                        });
                    }
                };
            match &rule.check {
                Check::Required => {
                    let Some(a) = text(batch, column) else {
                        continue;
                    };
                    res.checked += n as u64;
                    for i in 0..n {
                        if present(&a, i).is_none() {
                            fail(res, i, None, None);
                        }
                    }
                }
                Check::Unique => {
                    let Some(a) = text(batch, column) else {
                        continue;
                    };
                    let Some(seen) = state.seen.as_mut() else {
                        continue;
                    };
                    for i in 0..n {
                        let Some(v) = present(&a, i) else { continue };
                        res.checked += 1;
                        let c = seen.entry(self.hasher.hash_one(v.as_bytes())).or_insert(0);
                        *c = c.saturating_add(1);
                        // Failures are counted at the end (every occurrence of a duplicated
                        // value); the sample is the second occurrence.
                        if *c == 2 && res.samples.len() < SAMPLES {
                            res.samples.push(Sample {
                                row: Some(base + i as u64 + 1),
                                key: key_of(i),
                                value: Some(v.to_string()),
                                reason: None,
                            });
                        }
                    }
                }
                Check::Pattern(re) => self::each_text(
                    batch,
                    column,
                    res,
                    |v| (!re.is_match(v)).then_some(None),
                    &mut fail,
                ),
                Check::Length { min, max } => each_text(
                    batch,
                    column,
                    res,
                    |v| {
                        let len = v.chars().count() as u32;
                        (min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m))
                            .then(|| Some(format!("{len}")))
                    },
                    &mut fail,
                ),
                Check::InSet(set) => each_text(
                    batch,
                    column,
                    res,
                    |v| (!set.contains(v.trim())).then_some(None),
                    &mut fail,
                ),
                Check::Reference(set) => each_text(
                    batch,
                    column,
                    res,
                    |v| (!set.contains(v.trim())).then_some(None),
                    &mut fail,
                ),
                Check::Mobile => each_text(
                    batch,
                    column,
                    res,
                    |v| (!is_mobile(v.trim())).then_some(None),
                    &mut fail,
                ),
                Check::Email(re) => each_text(
                    batch,
                    column,
                    res,
                    |v| (!re.is_match(v.trim())).then_some(None),
                    &mut fail,
                ),
                Check::IdNumber => each_text(
                    batch,
                    column,
                    res,
                    |v| match v.parse::<IdNumber>() {
                        Err(e) => Some(Some(format!("{}: {}", e.code, e.message_zh))),
                        Ok(id) => shuniu_types::division::lookup(id.division())
                            .is_none()
                            .then(|| {
                                Some(format!(
                                    "DIVISION_UNKNOWN: 行政区划代码 {} 不在 GB/T 2260 中",
                                    id.division()
                                ))
                            }),
                    },
                    &mut fail,
                ),
                Check::CreditCode => each_text(
                    batch,
                    column,
                    res,
                    |v| match v.parse::<CreditCode>() {
                        Err(e) => Some(Some(format!("{}: {}", e.code, e.message_zh))),
                        Ok(_) => None,
                    },
                    &mut fail,
                ),
                Check::OrgCode => each_text(
                    batch,
                    column,
                    res,
                    |v| match v.parse::<OrgCode>() {
                        Err(e) => Some(Some(format!("{}: {}", e.code, e.message_zh))),
                        Ok(_) => None,
                    },
                    &mut fail,
                ),
                Check::RegistrationNumber => each_text(
                    batch,
                    column,
                    res,
                    |v| match v.parse::<RegistrationNumber>() {
                        Err(e) => Some(Some(format!("{}: {}", e.code, e.message_zh))),
                        Ok(_) => None,
                    },
                    &mut fail,
                ),
                Check::Range { min, max } => {
                    let Some(a) = cast_to(batch, column, &DataType::Float64) else {
                        continue;
                    };
                    let a = a.as_primitive::<Float64Type>();
                    for i in 0..n {
                        if a.is_null(i) {
                            continue;
                        }
                        res.checked += 1;
                        let v = a.value(i);
                        if min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m) {
                            fail(res, i, Some(v.to_string()), None);
                        }
                    }
                }
                Check::DateRange { min, max } => {
                    let Some(a) = cast_to(batch, column, &DataType::Date32) else {
                        continue;
                    };
                    let a = a.as_primitive::<Date32Type>();
                    for i in 0..n {
                        if a.is_null(i) {
                            continue;
                        }
                        res.checked += 1;
                        let v = a.value(i);
                        if min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m) {
                            let shown =
                                chrono::NaiveDate::from_num_days_from_ce_opt(v + EPOCH_DAYS_CE)
                                    .map(|d| d.to_string());
                            fail(res, i, shown, None);
                        }
                    }
                }
                Check::IdConsistency { birth, sex } => {
                    let Some(ids) = text(batch, column) else {
                        continue;
                    };
                    let births = birth
                        .as_deref()
                        .and_then(|b| cast_to(batch, b, &DataType::Date32));
                    let births = births.as_ref().map(|b| b.as_primitive::<Date32Type>());
                    let sexes = sex.as_deref().and_then(|s| text(batch, s));
                    for i in 0..n {
                        let Some(Ok(id)) = present(&ids, i).map(str::parse::<IdNumber>) else {
                            continue;
                        };
                        let mut compared = false;
                        let mut wrong = Vec::new();
                        if let Some(b) = births
                            && !b.is_null(i)
                        {
                            compared = true;
                            let d = chrono::NaiveDate::from_num_days_from_ce_opt(
                                b.value(i) + EPOCH_DAYS_CE,
                            );
                            if d != Some(id.birth_date()) {
                                wrong.push(format!(
                                    "出生日期 {} ≠ 身份证号中的 {}",
                                    d.map(|d| d.to_string()).unwrap_or_default(),
                                    id.birth_date()
                                ));
                            }
                        }
                        if let Some(s) = &sexes
                            && let Some(v) = present(s, i)
                        {
                            compared = true;
                            let want = match id.sex() {
                                Sex::Male => "1",
                                Sex::Female => "2",
                            };
                            if v.trim() != want {
                                wrong.push(format!("性别 {v} ≠ 身份证号中的 {want}"));
                            }
                        }
                        if compared {
                            res.checked += 1;
                            if !wrong.is_empty() {
                                fail(res, i, Some(id.to_string()), Some(wrong.join("；")));
                            }
                        }
                    }
                }
                Check::Compare { op, other } => {
                    let (Some(a), Some(_)) =
                        (batch.column_by_name(column), batch.column_by_name(other))
                    else {
                        continue;
                    };
                    let to = match a.data_type() {
                        DataType::Utf8 => DataType::Utf8,
                        DataType::Date32 | DataType::Timestamp(..) => DataType::Date32,
                        _ => DataType::Float64,
                    };
                    let (Some(a), Some(b)) =
                        (cast_to(batch, column, &to), cast_to(batch, other, &to))
                    else {
                        continue;
                    };
                    for i in 0..n {
                        if a.is_null(i) || b.is_null(i) {
                            continue;
                        }
                        let ord = match to {
                            DataType::Utf8 => a
                                .as_string::<i32>()
                                .value(i)
                                .cmp(b.as_string::<i32>().value(i)),
                            DataType::Date32 => a
                                .as_primitive::<Date32Type>()
                                .value(i)
                                .cmp(&b.as_primitive::<Date32Type>().value(i)),
                            _ => a
                                .as_primitive::<Float64Type>()
                                .value(i)
                                .total_cmp(&b.as_primitive::<Float64Type>().value(i)),
                        };
                        res.checked += 1;
                        if !op.holds(ord) {
                            fail(res, i, None, None);
                        }
                    }
                }
                Check::Freshness => {}
            }
        }
        self.rows += n as u64;
    }

    /// The results, in rule order.
    pub fn finish(self) -> Vec<RuleResult> {
        self.states
            .into_iter()
            .map(|mut s| {
                if let Some(seen) = s.seen {
                    let mut dup_values = 0u64;
                    let mut dup_rows = 0u64;
                    for c in seen.values() {
                        if *c > 1 {
                            dup_values += 1;
                            dup_rows += u64::from(*c);
                        }
                    }
                    s.result.failed = dup_rows;
                    s.result.duplicate_values = Some(dup_values);
                }
                s.result
            })
            .collect()
    }
}

type FailFn<'a> = dyn FnMut(&mut RuleResult, usize, Option<String>, Option<String>) + 'a;

/// Applies `bad` to every present text value; `bad` returns `Some(reason)` for a failure.
fn each_text(
    batch: &RecordBatch,
    column: &str,
    res: &mut RuleResult,
    bad: impl Fn(&str) -> Option<Option<String>>,
    fail: &mut FailFn<'_>,
) {
    let Some(a) = text(batch, column) else { return };
    for i in 0..batch.num_rows() {
        let Some(v) = present(&a, i) else { continue };
        res.checked += 1;
        if let Some(reason) = bad(v) {
            fail(res, i, Some(v.to_string()), reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Decimal128Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use proptest::prelude::*;
    use shuniu_types::{DataType as T, SemanticType as S};

    use super::*;
    use crate::rules::{CompileContext, RuleKind, RuleSpec, compile, derive_rules, tests::item};

    fn items() -> Vec<shuniu_types::DataItem> {
        vec![
            item("id_number", T::Text, S::IdNumber, true),
            shuniu_types::DataItem {
                required: true,
                ..item("name", T::Text, S::PersonName, false)
            },
            item("phone", T::Text, S::Mobile, false),
            item("birth_date", T::Date, S::None, false),
            item("sex", T::Text, S::Sex, false),
            item("district", T::Text, S::DivisionCode, false),
            item("amount", T::Currency, S::Amount, false),
        ]
    }

    fn day(s: &str) -> i32 {
        (chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
            - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
        .num_days() as i32
    }

    fn batch(rows: &[[&str; 7]]) -> RecordBatch {
        let s = |k: usize| -> ArrayRef {
            Arc::new(StringArray::from(
                rows.iter()
                    .map(|r| (!r[k].is_empty()).then_some(r[k]))
                    .collect::<Vec<_>>(),
            ))
        };
        let birth: ArrayRef = Arc::new(Date32Array::from(
            rows.iter()
                .map(|r| (!r[3].is_empty()).then(|| day(r[3])))
                .collect::<Vec<_>>(),
        ));
        let amount: ArrayRef = Arc::new(
            Decimal128Array::from(
                rows.iter()
                    .map(|r| {
                        r[6].parse::<f64>()
                            .ok()
                            .map(|v| (v * 100.0).round() as i128)
                    })
                    .collect::<Vec<_>>(),
            )
            .with_precision_and_scale(18, 2)
            .expect("decimal"),
        );
        let schema = Schema::new(vec![
            Field::new("id_number", DataType::Utf8, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("phone", DataType::Utf8, true),
            Field::new("birth_date", DataType::Date32, true),
            Field::new("sex", DataType::Utf8, true),
            Field::new("district", DataType::Utf8, true),
            Field::new("amount", DataType::Decimal128(18, 2), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![s(0), s(1), s(2), birth, s(4), s(5), amount],
        )
        .expect("batch")
    }

    fn run(rules: Vec<RuleSpec>, batches: &[RecordBatch]) -> Vec<RuleResult> {
        let ctx = CompileContext::default();
        let compiled = rules
            .iter()
            .map(|r| compile(r, &items(), &ctx).expect("compiles"))
            .collect();
        let mut c = Checker::new(compiled, vec!["id_number".into()]);
        for b in batches {
            c.check(b);
        }
        c.finish()
    }

    fn by<'a>(results: &'a [RuleResult], id: &str) -> &'a RuleResult {
        results.iter().find(|r| r.rule == id).expect(id)
    }

    #[test]
    fn derived_rules_find_each_injected_defect() {
        // 110101199003074514: valid, male, born 1990-03-07.
        let rows = [
            [
                "110101199003074514",
                "王伟",
                "13812345678",
                "1990-03-07",
                "1",
                "370202",
                "10.00",
            ],
            // Wrong check character, short phone, unknown division, negative amount.
            [
                "110101199003074515",
                "李娜",
                "1381234567",
                "1990-03-07",
                "1",
                "379999",
                "-1.00",
            ],
            // Valid number, but the row says female and another birth date; name missing.
            [
                "110101199003074514",
                "",
                "13812345678",
                "1991-01-01",
                "2",
                "370205",
                "0",
            ],
            // Withdrawn division code inside the ID is fine (370205 四方区).
            [
                "37020519800101001X",
                "张三",
                "",
                "1980-01-01",
                "1",
                "370203",
                "",
            ],
        ];
        let b = batch(&rows);
        let r = run(derive_rules(&items(), false), &[b]);
        assert_eq!(by(&r, "id_number.id_number").failed, 1);
        assert_eq!(by(&r, "id_number.id_number").checked, 4);
        let s = &by(&r, "id_number.id_number").samples[0];
        assert_eq!(s.row, Some(2));
        assert!(
            s.reason
                .as_deref()
                .unwrap_or("")
                .starts_with("ID_NUMBER_CHECK"),
            "{s:?}"
        );
        let u = by(&r, "id_number.unique");
        assert_eq!(
            (u.failed, u.duplicate_values),
            (2, Some(1)),
            "both occurrences count"
        );
        assert_eq!(by(&r, "phone.mobile").failed, 1);
        assert_eq!(
            by(&r, "phone.mobile").checked,
            3,
            "empty values are not checked"
        );
        assert_eq!(
            by(&r, "district.code_table").failed,
            2,
            "379999 unknown, 370205 withdrawn"
        );
        assert_eq!(by(&r, "amount.range").failed, 1);
        let c = by(&r, "id_number.id_consistency");
        assert_eq!((c.checked, c.failed), (3, 1), "{c:?}");
        assert!(
            c.samples[0]
                .reason
                .as_deref()
                .unwrap_or("")
                .contains("性别")
        );
        assert_eq!(by(&r, "birth_date.date_range").failed, 0);
    }

    #[test]
    fn results_do_not_depend_on_how_the_data_is_batched() {
        let rows: Vec<[&str; 7]> = (0..50)
            .map(|i| {
                if i % 7 == 0 {
                    [
                        "110101199003074515",
                        "",
                        "123",
                        "1990-03-07",
                        "1",
                        "379999",
                        "-5",
                    ]
                } else {
                    [
                        "110101199003074514",
                        "王伟",
                        "13812345678",
                        "1990-03-07",
                        "1",
                        "370202",
                        "1",
                    ]
                }
            })
            .collect();
        let whole = run(derive_rules(&items(), false), &[batch(&rows)]);
        let parts: Vec<RecordBatch> = rows.chunks(8).map(batch).collect();
        let split = run(derive_rules(&items(), false), &parts);
        for (a, b) in whole.iter().zip(&split) {
            assert_eq!((a.checked, a.failed), (b.checked, b.failed), "{}", a.rule);
        }
        assert_eq!(by(&whole, "name.required").failed, 8);
    }

    #[test]
    fn officer_rules_pattern_compare_values() {
        let spec = |id: &str, column: &str, kind: RuleKind| RuleSpec {
            id: id.into(),
            column: Some(column.into()),
            kind,
            enabled: true,
            origin: "officer".into(),
        };
        let rows = [
            [
                "110101199003074514",
                "王伟",
                "13812345678",
                "1990-03-07",
                "1",
                "370202",
                "10",
            ],
            [
                "110101199003074514",
                "李",
                "13812345678",
                "1990-03-07",
                "3",
                "370202",
                "10",
            ],
        ];
        let r = run(
            vec![
                spec(
                    "name.len",
                    "name",
                    RuleKind::Length {
                        min: Some(2),
                        max: None,
                    },
                ),
                spec(
                    "phone.p",
                    "phone",
                    RuleKind::Pattern {
                        pattern: "139".into(),
                    },
                ),
                spec(
                    "sex.v",
                    "sex",
                    RuleKind::Values {
                        values: vec!["1".into(), "2".into()],
                    },
                ),
            ],
            &[batch(&rows)],
        );
        assert_eq!(by(&r, "name.len").failed, 1);
        assert_eq!(
            by(&r, "phone.p").failed,
            2,
            "a pattern must match the whole value"
        );
        assert_eq!(by(&r, "sex.v").failed, 1);
    }

    proptest! {
        #[test]
        fn mobile_check_equals_the_regex(s in "[0-9a]{0,13}") {
            let re = regex::Regex::new(crate::rules::MOBILE_PATTERN).expect("regex");
            prop_assert_eq!(is_mobile(&s), re.is_match(&s));
        }
    }
}
