//! The Fellegi–Sunter model: for each comparison level, m (the chance that two records of
//! one person agree at that level) and u (the chance that two records of different persons
//! do), and the prior chance that a compared pair is a match. A pair's match weight is the
//! prior's log-odds plus log2(m/u) of each comparison's level, in bits.

use serde::{Deserialize, Serialize};

use crate::compare::Kind;
use crate::settings::ComparisonSpec;

/// One level's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelModel {
    pub level: String,
    pub m: f64,
    pub u: f64,
}

/// One comparison's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonModel {
    pub column: String,
    pub kind: Kind,
    pub tf: bool,
    /// Levels in the order of [`Kind::levels`] (level 1 first).
    pub levels: Vec<LevelModel>,
}

impl ComparisonModel {
    /// log2(m/u) of a level (1-based); 0 for a missing value.
    pub fn weight(&self, level: u8) -> f64 {
        match level
            .checked_sub(1)
            .and_then(|l| self.levels.get(l as usize))
        {
            Some(l) => (l.m / l.u).log2(),
            None => 0.0,
        }
    }
}

/// A trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The chance that two records drawn at random are a match.
    pub prior: f64,
    pub comparisons: Vec<ComparisonModel>,
    /// Iterations expectation maximisation ran (over all sessions), and whether every session
    /// converged.
    pub em_iterations: usize,
    pub converged: bool,
    /// Pairs the blocking rules compared in training.
    pub pairs: u64,
}

impl Model {
    pub fn prior_weight(&self) -> f64 {
        (self.prior / (1.0 - self.prior)).log2()
    }
}

/// The smallest probability a parameter takes: a level never seen among matches (or
/// non-matches) in training is unlikely, not impossible.
const FLOOR: f64 = 1e-6;

/// Starting m values: most matches agree exactly, fewer at each level further down.
fn initial_m(levels: usize) -> Vec<f64> {
    let mut m: Vec<f64> = (0..levels)
        .map(|i| {
            if i == 0 {
                0.9
            } else {
                0.1 / 2f64.powi(i as i32)
            }
        })
        .collect();
    let sum: f64 = m.iter().sum();
    m.iter_mut().for_each(|v| *v /= sum);
    m
}

/// Estimates u from the levels of randomly drawn pairs, which are almost all non-matches.
/// `counts[k][l]` counts level l (0 = missing) of comparison k.
pub(crate) fn u_from_counts(specs: &[ComparisonSpec], counts: &[Vec<f64>]) -> Vec<Vec<f64>> {
    specs
        .iter()
        .zip(counts)
        .map(|(spec, c)| {
            let n = spec.kind.levels().len();
            // Half a pair for each level, so a level no random pair reached keeps a small u.
            let total: f64 = c.iter().skip(1).sum::<f64>() + 0.5 * n as f64;
            (1..=n)
                .map(|l| ((c.get(l).copied().unwrap_or(0.0) + 0.5) / total).max(FLOOR))
                .collect()
        })
        .collect()
}

/// Decodes level k from a packed pattern (4 bits per comparison).
pub(crate) fn level_of(pattern: u64, k: usize) -> u8 {
    ((pattern >> (4 * k)) & 0xF) as u8
}

/// One session of expectation maximisation: its estimate of the prior among the pairs it saw,
/// and of m for the comparisons it did not leave out.
pub(crate) struct Session {
    pub prior: f64,
    pub m: Vec<Option<Vec<f64>>>,
    pub iterations: usize,
    pub converged: bool,
}

/// Expectation maximisation over the level patterns (pattern, count) of the pairs one blocking
/// rule finds, with u held at its random-sampling estimate: the prior among those pairs and m
/// are estimated. Comparisons in `masked` (those of the rule's own columns, which agree in
/// every pair the rule finds) take no part.
pub(crate) fn em_session(
    specs: &[ComparisonSpec],
    patterns: &[(u64, f64)],
    u: &[Vec<f64>],
    masked: &[bool],
    max_iterations: usize,
) -> Session {
    let mut m: Vec<Vec<f64>> = specs
        .iter()
        .map(|s| initial_m(s.kind.levels().len()))
        .collect();
    let total: f64 = patterns.iter().map(|(_, c)| c).sum();
    let mut prior: f64 = 0.1;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iterations {
        iterations += 1;
        let mut m_acc: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut matches = 0.0;
        let log_prior = (prior / (1.0 - prior)).log2();
        for &(p, count) in patterns {
            let mut w = log_prior;
            for k in 0..specs.len() {
                let l = level_of(p, k);
                if l > 0 && !masked[k] {
                    w += (m[k][l as usize - 1] / u[k][l as usize - 1]).log2();
                }
            }
            let r = 1.0 / (1.0 + (-w).exp2());
            let rc = r * count;
            matches += rc;
            for (k, acc) in m_acc.iter_mut().enumerate() {
                let l = level_of(p, k);
                if l > 0 {
                    acc[l as usize - 1] += rc;
                }
            }
        }
        let new_prior = (matches / total.max(1.0)).clamp(FLOOR, 1.0 - FLOOR);
        let mut change = (new_prior - prior).abs();
        for (k, acc) in m_acc.iter().enumerate() {
            let sum: f64 = acc.iter().sum();
            if sum <= 0.0 || masked[k] {
                continue;
            }
            for (l, v) in acc.iter().enumerate() {
                let new = (v / sum).max(FLOOR);
                change = change.max((new - m[k][l]).abs());
                m[k][l] = new;
            }
        }
        prior = new_prior;
        if change < 1e-5 {
            converged = true;
            break;
        }
    }
    Session {
        prior,
        m: m.into_iter()
            .zip(masked)
            .map(|(m, masked)| (!masked).then_some(m))
            .collect(),
        iterations,
        converged,
    }
}

/// The model from u, the m of each session (averaged over the sessions that estimated it) and
/// the prior.
pub(crate) fn assemble(
    specs: &[ComparisonSpec],
    u: Vec<Vec<f64>>,
    sessions: &[Session],
    prior: f64,
    pairs: u64,
) -> Model {
    let m: Vec<Vec<f64>> = specs
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let estimates: Vec<&Vec<f64>> =
                sessions.iter().filter_map(|x| x.m[k].as_ref()).collect();
            if estimates.is_empty() {
                return initial_m(s.kind.levels().len());
            }
            let n = estimates.len() as f64;
            (0..s.kind.levels().len())
                .map(|l| estimates.iter().map(|e| e[l]).sum::<f64>() / n)
                .collect()
        })
        .collect();
    let comparisons = specs
        .iter()
        .enumerate()
        .map(|(k, spec)| ComparisonModel {
            column: spec.column.clone(),
            kind: spec.kind,
            tf: spec.tf,
            levels: spec
                .kind
                .levels()
                .iter()
                .enumerate()
                .map(|(l, name)| LevelModel {
                    level: name.to_string(),
                    m: m[k][l],
                    u: u[k][l],
                })
                .collect(),
        })
        .collect();
    Model {
        prior: prior.clamp(FLOOR * FLOOR, 1.0 - FLOOR),
        comparisons,
        em_iterations: sessions.iter().map(|s| s.iterations).sum(),
        converged: sessions.iter().all(|s| s.converged),
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn em_recovers_a_planted_model() {
        // Three comparisons of kind Exact (levels exact/else). Matches agree on each 90% of
        // the time; non-matches 5%. 1,000 matches among 100,000 pairs.
        let specs: Vec<ComparisonSpec> = ["a", "b", "c"]
            .iter()
            .map(|c| ComparisonSpec {
                column: c.to_string(),
                kind: Kind::Exact,
                tf: false,
            })
            .collect();
        let (nm, nu) = (1_000.0, 99_000.0);
        let (pm, pu) = (0.9f64, 0.05f64);
        let mut patterns = Vec::new();
        for bits in 0..8u64 {
            let agree = |k: u64| bits >> k & 1 == 1;
            let mut p = 0u64;
            let (mut fm, mut fu) = (nm, nu);
            for k in 0..3 {
                p |= (if agree(k) { 1 } else { 2 }) << (4 * k);
                fm *= if agree(k) { pm } else { 1.0 - pm };
                fu *= if agree(k) { pu } else { 1.0 - pu };
            }
            patterns.push((p, fm + fu));
        }
        let u = vec![vec![pu, 1.0 - pu]; 3];
        let session = em_session(&specs, &patterns, &u, &[false; 3], 500);
        assert!((session.prior - 0.01).abs() < 0.001, "{}", session.prior);
        let model = assemble(&specs, u, &[session], 0.01, 100_000);
        assert!(model.converged, "{model:?}");
        for c in &model.comparisons {
            assert!((c.levels[0].m - pm).abs() < 0.01, "{model:?}");
        }
        assert!(model.comparisons[0].weight(1) > 3.0);
        assert!(model.comparisons[0].weight(2) < -3.0);
        assert_eq!(model.comparisons[0].weight(0), 0.0);
    }
}
