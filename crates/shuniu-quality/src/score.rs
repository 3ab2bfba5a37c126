//! Scores: each dimension is the share of checked values that passed its rules (a ratio of
//! sums, so a rule over a million values weighs more than one over ten); the score is the
//! weighted mean of the dimensions that have rules, × 100, with the weights of
//! [`Dimension::weight`] renormalized over the dimensions present.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check::RuleResult;
use crate::rules::Dimension;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionScore {
    pub score: f64,
    pub weight: f64,
    pub checked: u64,
    pub failed: u64,
    pub rules: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// 0–100.
    pub score: f64,
    pub dimensions: BTreeMap<Dimension, DimensionScore>,
}

pub fn score(results: &[RuleResult]) -> Score {
    let mut dims: BTreeMap<Dimension, DimensionScore> = BTreeMap::new();
    for r in results {
        let d = dims.entry(r.dimension).or_insert(DimensionScore {
            score: 100.0,
            weight: r.dimension.weight(),
            checked: 0,
            failed: 0,
            rules: 0,
        });
        d.checked += r.checked;
        d.failed += r.failed.min(r.checked);
        d.rules += 1;
    }
    let mut total = 0.0;
    let mut weights = 0.0;
    for d in dims.values_mut() {
        d.score = if d.checked == 0 {
            100.0
        } else {
            100.0 * (1.0 - d.failed as f64 / d.checked as f64)
        };
        if d.checked > 0 {
            total += d.score * d.weight;
            weights += d.weight;
        }
    }
    let score = if weights > 0.0 {
        total / weights
    } else {
        100.0
    };
    Score {
        score: (score * 10.0).round() / 10.0,
        dimensions: dims,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(dim: Dimension, checked: u64, failed: u64) -> RuleResult {
        RuleResult {
            rule: "r".into(),
            column: None,
            kind: "k".into(),
            dimension: dim,
            origin: "auto".into(),
            description_zh: String::new(),
            description_en: String::new(),
            checked,
            failed,
            duplicate_values: None,
            samples: vec![],
        }
    }

    #[test]
    fn weights_sum_to_one_and_renormalize() {
        let total: f64 = Dimension::ALL.iter().map(|d| d.weight()).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert_eq!(score(&[]).score, 100.0);
        // Completeness 90 %, validity 100 %: (0.25·90 + 0.30·100) / 0.55 = 95.45…
        let s = score(&[
            r(Dimension::Completeness, 100, 10),
            r(Dimension::Validity, 50, 0),
        ]);
        assert_eq!(s.score, 95.5);
        assert_eq!(s.dimensions[&Dimension::Completeness].score, 90.0);
        // All failing: 0.
        assert_eq!(score(&[r(Dimension::Uniqueness, 4, 4)]).score, 0.0);
        // A rule that checked nothing does not move the score.
        assert_eq!(
            score(&[r(Dimension::Validity, 0, 0), r(Dimension::Timeliness, 1, 1)]).score,
            0.0
        );
    }
}
