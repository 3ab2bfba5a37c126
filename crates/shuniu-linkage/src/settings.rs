//! What to compare and which pairs to look at: written by hand as JSON, or chosen from the
//! columns and their values when none is given.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::LinkError;
use crate::compare::{Kind, parse_date};
use crate::records::Records;

/// One compared data item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonSpec {
    pub column: String,
    pub kind: Kind,
    /// Term-frequency adjustment of the exact level: agreeing on a rare value (欧阳) says more
    /// than agreeing on a common one (王).
    #[serde(default)]
    pub tf: bool,
}

/// How a blocking key is derived from a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// The value folded (full-width, case, spaces).
    Exact,
    /// The pinyin of a name, so homophones and romanised names share a block.
    Pinyin,
    /// The year of a date.
    Year,
    /// The first n characters.
    First(usize),
    /// The digits only, 15-digit ID numbers upgraded.
    Digits,
}

/// One term of a blocking rule: `column` or `column:transform`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTerm {
    pub column: String,
    pub transform: Transform,
}

impl KeyTerm {
    pub fn parse(s: &str) -> Result<KeyTerm, LinkError> {
        let (column, t) = match s.rsplit_once(':') {
            Some((c, t)) => (c.trim(), t.trim()),
            None => (s.trim(), "exact"),
        };
        let transform = match t {
            "exact" => Transform::Exact,
            "pinyin" => Transform::Pinyin,
            "year" => Transform::Year,
            "digits" => Transform::Digits,
            t => match t.strip_prefix("first").and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => Transform::First(n),
                _ => {
                    return Err(LinkError::Settings {
                        zh: format!(
                            "分块键 {s:?} 的变换未知：可用 exact、pinyin、year、digits、firstN"
                        ),
                        en: format!(
                            "blocking key {s:?}: unknown transform; use exact, pinyin, year, digits or firstN"
                        ),
                    });
                }
            },
        };
        Ok(KeyTerm {
            column: column.to_string(),
            transform,
        })
    }
}

/// The settings of a linkage, as the `--settings` JSON file holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub comparisons: Vec<ComparisonSpec>,
    /// Each rule is a list of key terms that must all be equal for a pair to be compared; a
    /// pair is compared when any rule holds.
    pub blocking: Vec<Vec<String>>,
    /// Random pairs drawn to estimate u, the chance that two different records agree.
    #[serde(default = "default_u_pairs")]
    pub u_sample_pairs: usize,
    #[serde(default = "default_em_iterations")]
    pub max_em_iterations: usize,
    /// A pair limit: blocking rules that would compare more pairs are refused.
    #[serde(default = "default_max_pairs")]
    pub max_pairs: u64,
}

fn default_u_pairs() -> usize {
    1_000_000
}
fn default_em_iterations() -> usize {
    25
}
fn default_max_pairs() -> u64 {
    500_000_000
}

impl Settings {
    pub fn from_json(text: &str) -> Result<Settings, LinkError> {
        let s: Settings = serde_json::from_str(text).map_err(|e| LinkError::Settings {
            zh: format!("设置文件无效：{e}"),
            en: format!("the settings file is invalid: {e}"),
        })?;
        s.check()?;
        Ok(s)
    }

    pub(crate) fn check(&self) -> Result<(), LinkError> {
        if self.comparisons.is_empty() {
            return Err(LinkError::Settings {
                zh: "至少需要一个比较项".into(),
                en: "at least one comparison is needed".into(),
            });
        }
        if self.comparisons.len() > 16 {
            return Err(LinkError::Settings {
                zh: "比较项最多 16 个".into(),
                en: "at most 16 comparisons".into(),
            });
        }
        if self.blocking.is_empty() || self.blocking.iter().any(Vec::is_empty) {
            return Err(LinkError::Settings {
                zh: "至少需要一条非空的分块规则".into(),
                en: "at least one non-empty blocking rule is needed".into(),
            });
        }
        for rule in &self.blocking {
            for t in rule {
                KeyTerm::parse(t)?;
            }
        }
        Ok(())
    }

    /// Chooses comparisons and blocking rules from the columns' names and values: names,
    /// dates, ID numbers, phones and addresses by what their values look like (or their
    /// header says), other columns as text; each column that is selective enough becomes a
    /// blocking rule on its own.
    pub fn choose(left: &Records, right: Option<&Records>) -> Result<Settings, LinkError> {
        let mut comparisons = Vec::new();
        let mut blocking: Vec<Vec<String>> = Vec::new();
        let n_left = left.len() as f64;
        let n_right = right.map_or(n_left, |r| r.len() as f64);
        let pairs_all = if right.is_some() {
            n_left * n_right
        } else {
            n_left * (n_left - 1.0) / 2.0
        };
        let budget = (20.0 * (n_left + n_right)).max(1e6);
        for (ci, name) in left.columns().iter().enumerate() {
            let rci = match right {
                Some(r) => match r.column_index(name) {
                    Some(i) => Some(i),
                    None => continue,
                },
                None => None,
            };
            let sample: Vec<&str> = left
                .column(ci)
                .filter_map(|v| v.map(str::trim).filter(|v| !v.is_empty()))
                .take(2000)
                .collect();
            if sample.is_empty() {
                continue;
            }
            let kind = guess_kind(name, &sample);
            let distinct: HashSet<&str> = left.column(ci).flatten().collect();
            let distinct = distinct.len() as f64;
            if distinct < 2.0 {
                continue;
            }
            // Columns with a handful of values carry little and would make huge blocks.
            let kind = if distinct <= 12.0 && kind == Kind::String {
                Kind::Exact
            } else {
                kind
            };
            comparisons.push(ComparisonSpec {
                column: name.clone(),
                kind,
                tf: matches!(kind, Kind::Name | Kind::String | Kind::Exact) && distinct > 12.0,
            });
            // Estimated pairs a rule on this column alone compares, from value counts.
            let est = estimate_pairs(left, ci, right, rci);
            if est <= budget && est < pairs_all {
                let term = match kind {
                    Kind::Name => format!("{name}:pinyin"),
                    Kind::IdNumber | Kind::Phone => format!("{name}:digits"),
                    _ => name.clone(),
                };
                blocking.push(vec![term]);
            }
        }
        comparisons.truncate(16);
        if blocking.is_empty() {
            // No column is selective on its own: pairs of the two most selective columns.
            let names: Vec<String> = comparisons.iter().map(|c| c.column.clone()).collect();
            for (i, a) in names.iter().enumerate() {
                for b in names.iter().skip(i + 1) {
                    blocking.push(vec![a.clone(), b.clone()]);
                }
            }
            blocking.truncate(6);
        }
        let s = Settings {
            comparisons,
            blocking,
            u_sample_pairs: default_u_pairs(),
            max_em_iterations: default_em_iterations(),
            max_pairs: default_max_pairs(),
        };
        s.check()?;
        Ok(s)
    }
}

fn estimate_pairs(left: &Records, ci: usize, right: Option<&Records>, rci: Option<usize>) -> f64 {
    let mut counts: ahash::AHashMap<String, (f64, f64)> = ahash::AHashMap::new();
    for v in left.column(ci).flatten() {
        counts.entry(crate::text::fold(v)).or_default().0 += 1.0;
    }
    match (right, rci) {
        (Some(r), Some(rci)) => {
            for v in r.column(rci).flatten() {
                counts.entry(crate::text::fold(v)).or_default().1 += 1.0;
            }
            counts.values().map(|(a, b)| a * b).sum()
        }
        _ => counts.values().map(|(a, _)| a * (a - 1.0) / 2.0).sum(),
    }
}

/// The kind of a column, from its header and a sample of its values.
pub fn guess_kind(header: &str, sample: &[&str]) -> Kind {
    let h = header.to_lowercase();
    let share = |f: &dyn Fn(&str) -> bool| {
        sample.iter().filter(|v| f(v)).count() as f64 / sample.len().max(1) as f64
    };
    let id_like = |v: &str| shuniu_types::IdNumber::parse_any(v).is_ok();
    let phone_like = |v: &str| {
        let d = crate::text::digits(v);
        (d.len() == 11 && d.starts_with('1')) || (d.len() == 13 && d.starts_with("861"))
    };
    let date_like = |v: &str| parse_date(v).is_some();
    let has = |words: &[&str]| words.iter().any(|w| h.contains(w));
    if share(&id_like) >= 0.6 || has(&["身份证", "id_number", "idcard", "证件号"]) {
        return Kind::IdNumber;
    }
    if share(&phone_like) >= 0.6 || has(&["电话", "手机", "phone", "mobile"]) {
        return Kind::Phone;
    }
    if share(&date_like) >= 0.6 || has(&["日期", "生日", "birth", "date", "dob"]) {
        return Kind::Date;
    }
    if has(&["地址", "住址", "address", "addr"]) {
        return Kind::Address;
    }
    if has(&["姓名", "名字", "name", "surname", "姓"]) {
        return Kind::Name;
    }
    Kind::String
}
