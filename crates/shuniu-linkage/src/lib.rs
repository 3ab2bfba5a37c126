//! Record linkage (记录关联) for sources without a clean key: a hospital's name, birth date and
//! address, the 12345 hotline's name and phone, a legacy system's records.
//!
//! ```text
//! Records ─prepare─▶ features per comparison, keys per blocking rule
//!   blocking rules ─▶ candidate pairs (each pair once, by the first rule that finds it)
//!   random pairs ───▶ u per level            ┐
//!   candidate pairs ▶ level patterns ─ EM ──▶ m per level, prior   ├─▶ Model
//!   candidate pairs ▶ match weight = prior + Σ log2(m/u) (term-frequency adjusted) ─▶ pairs
//!   pairs ≥ threshold ─▶ clusters (connected components)
//! ```
//!
//! The model is Fellegi–Sunter's, with u estimated from random pairs and m and the prior by
//! expectation maximisation over the candidate pairs' level patterns, as Splink does; every
//! scored pair can be explained as the weight of each comparison.
//!
//! Invariants:
//! - Nothing here reads files, the store or the lake: callers hand in [`Records`]; this crate
//!   decides which records are the same entity, not who may see them.
//! - A pair is compared at most once, whatever the number of rules that find it.
//! - The same input and settings give the same model and pairs (random sampling is seeded).

mod cluster;
mod compare;
mod error;
mod model;
mod records;
mod settings;
mod text;

use ahash::AHashMap;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;
use shuniu_types::DivisionCode;

pub use cluster::clusters;
pub use compare::{Kind, parse_date};
pub use error::LinkError;
pub use model::{ComparisonModel, LevelModel, Model};
pub use records::Records;
pub use settings::{ComparisonSpec, KeyTerm, Settings, Transform, guess_kind};
pub use text::{fold, fold_name, pinyin_key};

use compare::{Feature, level, prepare};

/// One comparison's share of a pair's match weight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    pub column: String,
    /// The level's code (`exact`, `homophone`, … or `null`).
    pub level: &'static str,
    /// The level in Chinese.
    pub level_zh: &'static str,
    /// Bits for (positive) or against (negative) a match.
    pub weight: f64,
}

/// A scored pair: rows into the left and right records (the same records when deduplicating).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPair {
    pub left: u32,
    pub right: u32,
    pub match_weight: f64,
    pub match_probability: f64,
}

/// The term frequencies of one compared column, over both sources.
struct TermFrequencies {
    share: AHashMap<Box<str>, f64>,
    floor: f64,
}

impl TermFrequencies {
    fn of(&self, v: &str) -> f64 {
        self.share
            .get(v)
            .copied()
            .unwrap_or(self.floor)
            .max(self.floor)
    }
}

/// One source made ready: features per comparison, keys per blocking rule.
struct Prepared {
    features: Vec<Vec<Feature>>,
    keys: Vec<Vec<Option<u64>>>,
}

/// A linkage of two sources (or the deduplication of one) under one set of settings.
pub struct Linker {
    settings: Settings,
    rules: Vec<Vec<(usize, Transform)>>,
    left_columns: Vec<String>,
    left: Prepared,
    right: Option<Prepared>,
    n_left: usize,
    n_right: usize,
    tf: Vec<Option<TermFrequencies>>,
    /// Pairs each blocking rule finds: counted once, used by every training session and the
    /// prediction.
    per_rule: std::sync::OnceLock<Vec<u64>>,
}

fn key_part(t: Transform, raw: &str) -> Option<String> {
    let v = fold(raw);
    let out = match t {
        Transform::Exact => v,
        Transform::Pinyin => pinyin_key(&fold_name(raw)).0,
        Transform::Year => parse_date(raw)
            .map(|d| chrono::Datelike::year(&d).to_string())
            .unwrap_or_default(),
        Transform::First(n) => v.chars().take(n).collect(),
        Transform::Digits => match shuniu_types::IdNumber::parse_any(&v.to_ascii_uppercase()) {
            Ok(id) => id.as_str().to_string(),
            Err(_) => v.chars().filter(|c| c.is_ascii_alphanumeric()).collect(),
        },
    };
    (!out.is_empty()).then_some(out)
}

fn hash_key(parts: &[String]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // Fixed seeds: a key hashes the same in every run, so pairs come out the same.
    let mut h = ahash::RandomState::with_seeds(7, 11, 13, 17).build_hasher();
    for p in parts {
        h.write(p.as_bytes());
        h.write_u8(0x1f);
    }
    h.finish()
}

impl Linker {
    /// Prepares the sources. `right` is `None` to deduplicate `left`. `home` is the hub's
    /// city, for addresses written without it.
    pub fn new(
        settings: Settings,
        left: &Records,
        right: Option<&Records>,
        home: Option<DivisionCode>,
    ) -> Result<Linker, LinkError> {
        settings.check()?;
        let column_of = |records: &Records, name: &str| {
            records
                .column_index(name)
                .ok_or_else(|| LinkError::Settings {
                    zh: format!("数据中没有列 {name:?}"),
                    en: format!("the data has no column {name:?}"),
                })
        };
        for r in [Some(left), right].into_iter().flatten() {
            for c in &settings.comparisons {
                column_of(r, &c.column)?;
            }
        }
        let mut rules = Vec::new();
        for rule in &settings.blocking {
            let mut terms = Vec::new();
            for t in rule {
                let term = KeyTerm::parse(t)?;
                for r in [Some(left), right].into_iter().flatten() {
                    column_of(r, &term.column)?;
                }
                terms.push((term.column, term.transform));
            }
            rules.push(terms);
        }
        let prepare_source = |records: &Records| -> Prepared {
            let features = settings
                .comparisons
                .par_iter()
                .map(|c| {
                    let ci = records.column_index(&c.column).unwrap_or(0);
                    (0..records.len())
                        .into_par_iter()
                        .map(|row| prepare(c.kind, records.value(ci, row), home))
                        .collect()
                })
                .collect();
            let keys = rules
                .par_iter()
                .map(|terms| {
                    let cols: Vec<(usize, Transform)> = terms
                        .iter()
                        .map(|(c, t)| (records.column_index(c).unwrap_or(0), *t))
                        .collect();
                    (0..records.len())
                        .into_par_iter()
                        .map(|row| {
                            let parts: Option<Vec<String>> = cols
                                .iter()
                                .map(|(ci, t)| {
                                    records.value(*ci, row).and_then(|v| key_part(*t, v))
                                })
                                .collect();
                            parts.map(|p| hash_key(&p))
                        })
                        .collect()
                })
                .collect();
            Prepared { features, keys }
        };
        let left_p = prepare_source(left);
        let right_p = right.map(prepare_source);
        let tf = settings
            .comparisons
            .iter()
            .enumerate()
            .map(|(k, c)| {
                c.tf.then(|| {
                    let mut counts: AHashMap<Box<str>, f64> = AHashMap::new();
                    let mut total = 0.0f64;
                    for p in [Some(&left_p), right_p.as_ref()].into_iter().flatten() {
                        for f in &p.features[k] {
                            if let Some(t) = f.text() {
                                *counts.entry(t.into()).or_default() += 1.0;
                                total += 1.0;
                            }
                        }
                    }
                    counts.values_mut().for_each(|v| *v /= total.max(1.0));
                    TermFrequencies {
                        share: counts,
                        floor: 1.0 / total.max(1.0),
                    }
                })
            })
            .collect();
        let rules = rules
            .into_iter()
            .map(|terms| {
                terms
                    .into_iter()
                    .map(|(c, t)| (left.column_index(&c).unwrap_or(0), t))
                    .collect()
            })
            .collect();
        Ok(Linker {
            settings,
            rules,
            left_columns: left.columns().to_vec(),
            n_left: left.len(),
            n_right: right.map_or(left.len(), Records::len),
            left: left_p,
            right: right_p,
            tf,
            per_rule: std::sync::OnceLock::new(),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn right(&self) -> &Prepared {
        self.right.as_ref().unwrap_or(&self.left)
    }

    fn dedupe(&self) -> bool {
        self.right.is_none()
    }

    /// How many pairs each blocking rule finds (before removing pairs an earlier rule found).
    pub fn pairs_per_rule(&self) -> Vec<u64> {
        self.per_rule.get_or_init(|| self.count_pairs()).clone()
    }

    fn count_pairs(&self) -> Vec<u64> {
        (0..self.rules.len())
            .map(|r| {
                let mut counts: AHashMap<u64, (u64, u64)> = AHashMap::new();
                for k in self.left.keys[r].iter().flatten() {
                    counts.entry(*k).or_default().0 += 1;
                }
                if self.dedupe() {
                    return counts
                        .values()
                        .map(|(a, _)| a * a.saturating_sub(1) / 2)
                        .sum();
                }
                for k in self.right().keys[r].iter().flatten() {
                    counts.entry(*k).or_default().1 += 1;
                }
                counts.values().map(|(a, b)| a * b).sum()
            })
            .collect()
    }

    /// Runs `f` over every candidate pair once, in parallel, folding into `T`; with `only`,
    /// over the pairs that one rule finds (whether or not an earlier rule finds them too).
    fn fold_pairs<T, Id, F, R>(
        &self,
        only: Option<usize>,
        identity: Id,
        f: F,
        reduce: R,
    ) -> Result<T, LinkError>
    where
        T: Send,
        Id: Fn() -> T + Sync + Send,
        F: Fn(&mut T, usize, usize) + Sync + Send,
        R: Fn(T, T) -> T + Sync + Send,
    {
        let per_rule = self.pairs_per_rule();
        let total: u64 = per_rule.iter().sum();
        if total > self.settings.max_pairs {
            return Err(LinkError::TooManyPairs {
                pairs: total,
                limit: self.settings.max_pairs,
                per_rule,
            });
        }
        let right = self.right();
        let mut acc = identity();
        for r in 0..self.rules.len() {
            if only.is_some_and(|o| o != r) {
                continue;
            }
            let mut index: AHashMap<u64, Vec<u32>> = AHashMap::new();
            for (row, k) in right.keys[r].iter().enumerate() {
                if let Some(k) = k {
                    index.entry(*k).or_default().push(row as u32);
                }
            }
            let part = (0..self.n_left)
                .into_par_iter()
                .fold(&identity, |mut acc, i| {
                    let Some(k) = self.left.keys[r][i] else {
                        return acc;
                    };
                    let Some(block) = index.get(&k) else {
                        return acc;
                    };
                    for &j in block {
                        let j = j as usize;
                        if self.dedupe() && j <= i {
                            continue;
                        }
                        // Found by an earlier rule already.
                        let earlier = only.is_none() && (0..r).any(|q| {
                            matches!((self.left.keys[q][i], right.keys[q][j]), (Some(a), Some(b)) if a == b)
                        });
                        if !earlier {
                            f(&mut acc, i, j);
                        }
                    }
                    acc
                })
                .reduce(&identity, &reduce);
            acc = reduce(acc, part);
        }
        Ok(acc)
    }

    fn pattern(&self, i: usize, j: usize) -> u64 {
        let right = self.right();
        let mut p = 0u64;
        for (k, c) in self.settings.comparisons.iter().enumerate() {
            let l = level(c.kind, &self.left.features[k][i], &right.features[k][j]);
            p |= u64::from(l) << (4 * k);
        }
        p
    }

    /// Estimates the model: u from random pairs, then m and the prior by expectation
    /// maximisation over the candidate pairs.
    pub fn train(&self) -> Result<Model, LinkError> {
        let specs = &self.settings.comparisons;
        let n_levels: Vec<usize> = specs.iter().map(|c| c.kind.levels().len() + 1).collect();
        // u: random pairs, drawn with a fixed seed so that a run can be repeated.
        let samples = self.settings.u_sample_pairs.max(1);
        let chunks = 64usize;
        let per_chunk = samples.div_ceil(chunks);
        let (n_left, n_right) = (self.n_left, self.n_right);
        let u_counts = (0..chunks)
            .into_par_iter()
            .map(|chunk| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed + chunk as u64);
                let mut counts: Vec<Vec<f64>> = n_levels.iter().map(|n| vec![0.0; *n]).collect();
                if n_left == 0 || n_right == 0 || (self.dedupe() && n_left < 2) {
                    return counts;
                }
                for _ in 0..per_chunk {
                    let i = rng.gen_range(0..n_left);
                    let mut j = rng.gen_range(0..n_right);
                    if self.dedupe() && i == j {
                        j = (j + 1) % n_right;
                    }
                    let p = self.pattern(i, j);
                    for (k, c) in counts.iter_mut().enumerate() {
                        c[model::level_of(p, k) as usize] += 1.0;
                    }
                }
                counts
            })
            .reduce(
                || n_levels.iter().map(|n| vec![0.0; *n]).collect(),
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.iter_mut().zip(y).for_each(|(p, q)| *p += q);
                    }
                    a
                },
            );
        let u = model::u_from_counts(specs, &u_counts);

        // m: one session of expectation maximisation per blocking rule, over the pairs that
        // rule finds, leaving out the comparisons of the rule's own columns.
        let per_rule = self.pairs_per_rule();
        let mut sessions = Vec::new();
        let mut match_totals = Vec::new();
        for (r, terms) in self.rules.iter().enumerate() {
            // The rule's own columns agree in every pair it finds: they take no part.
            let masked: Vec<bool> = specs
                .iter()
                .map(|s| terms.iter().any(|(c, _)| self.left_columns[*c] == s.column))
                .collect();
            if masked.iter().all(|m| *m) || per_rule[r] == 0 {
                continue;
            }
            let patterns = self.fold_pairs(
                Some(r),
                AHashMap::<u64, f64>::new,
                |acc, i, j| *acc.entry(self.pattern(i, j)).or_default() += 1.0,
                |mut a, b| {
                    for (k, v) in b {
                        *a.entry(k).or_default() += v;
                    }
                    a
                },
            )?;
            let mut patterns: Vec<(u64, f64)> = patterns.into_iter().collect();
            patterns.sort_unstable_by_key(|(p, _)| *p);
            let session = model::em_session(
                specs,
                &patterns,
                &u,
                &masked,
                self.settings.max_em_iterations,
            );
            // The matches this rule found, and the share of all matches it can find: the
            // chance that a match agrees on every key of the rule.
            let found = session.prior * per_rule[r] as f64;
            match_totals.push((r, found, terms.clone()));
            sessions.push(session);
        }
        if sessions.is_empty() {
            return Err(LinkError::Settings {
                zh: "每条分块规则都用到了全部比较项，无法估计参数：请增加比较项或收窄分块规则".into(),
                en: "every blocking rule uses every compared column, so nothing can be estimated: add comparisons or narrow the rules".into(),
            });
        }
        let partial = model::assemble(specs, u.clone(), &sessions, 0.5, 0);
        let mut totals: Vec<f64> = match_totals
            .iter()
            .filter_map(|(_, found, terms)| {
                let mut recall = 1.0;
                for (col, t) in terms {
                    let name = self.left_columns.get(*col)?;
                    let k = specs.iter().position(|s| &s.column == name)?;
                    let levels = &partial.comparisons[k].levels;
                    // Levels at which the key is (mostly) equal.
                    let agreeing = match t {
                        Transform::Pinyin => 2,
                        _ => 1,
                    };
                    recall *= levels.iter().take(agreeing).map(|l| l.m).sum::<f64>();
                }
                (recall > 0.05).then(|| found / recall)
            })
            .collect();
        totals.sort_by(f64::total_cmp);
        let all_pairs = if self.dedupe() {
            self.n_left as f64 * (self.n_left as f64 - 1.0) / 2.0
        } else {
            self.n_left as f64 * self.n_right as f64
        };
        let matches = match totals.len() {
            0 => match_totals.iter().map(|(_, f, _)| *f).fold(0.0, f64::max),
            n => totals[n / 2],
        };
        let prior = (matches / all_pairs.max(1.0)).clamp(1e-12, 0.5);
        Ok(model::assemble(
            specs,
            u,
            &sessions,
            prior,
            per_rule.iter().sum(),
        ))
    }

    /// The weight of comparison k at level l for this pair, with the term-frequency
    /// adjustment of an exact agreement.
    fn weight(&self, model: &Model, k: usize, l: u8, i: usize) -> f64 {
        let cm = &model.comparisons[k];
        if l == 1
            && let Some(tf) = &self.tf[k]
            && let Some(v) = self.left.features[k][i].text()
        {
            let m = cm.levels[0].m;
            return (m / tf.of(v)).log2();
        }
        cm.weight(l)
    }

    fn score(&self, model: &Model, i: usize, j: usize) -> f64 {
        let right = self.right();
        let mut w = model.prior_weight();
        for (k, c) in self.settings.comparisons.iter().enumerate() {
            let l = level(c.kind, &self.left.features[k][i], &right.features[k][j]);
            w += self.weight(model, k, l, i);
        }
        w
    }

    /// Every candidate pair whose match probability is at least `threshold`, best first.
    pub fn predict(&self, model: &Model, threshold: f64) -> Result<Vec<ScoredPair>, LinkError> {
        let mut pairs = self.fold_pairs(
            None,
            Vec::new,
            |acc, i, j| {
                let w = self.score(model, i, j);
                let p = 1.0 / (1.0 + (-w).exp2());
                if p >= threshold {
                    acc.push(ScoredPair {
                        left: i as u32,
                        right: j as u32,
                        match_weight: w,
                        match_probability: p,
                    });
                }
            },
            |mut a, mut b| {
                a.append(&mut b);
                a
            },
        )?;
        pairs.sort_by(|a, b| {
            b.match_weight
                .total_cmp(&a.match_weight)
                .then(a.left.cmp(&b.left))
                .then(a.right.cmp(&b.right))
        });
        Ok(pairs)
    }

    /// Why a pair scored as it did: the prior and each comparison's level and weight.
    pub fn explain(&self, model: &Model, left: usize, right: usize) -> (f64, Vec<Contribution>) {
        let r = self.right();
        let parts = self
            .settings
            .comparisons
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let l = level(c.kind, &self.left.features[k][left], &r.features[k][right]);
                let code = if l == 0 {
                    "null"
                } else {
                    c.kind.levels()[l as usize - 1]
                };
                Contribution {
                    column: c.column.clone(),
                    level: code,
                    level_zh: c.kind.level_zh(code),
                    weight: self.weight(model, k, l, left),
                }
            })
            .collect();
        (model.prior_weight(), parts)
    }

    /// Keeps, for each record, only its best pair (when each source holds each entity once):
    /// pairs in order of weight, each taken when neither record is taken yet.
    pub fn one_to_one(&self, pairs: Vec<ScoredPair>) -> Vec<ScoredPair> {
        let mut left_taken = vec![false; self.n_left];
        let mut right_taken = vec![false; self.n_right];
        pairs
            .into_iter()
            .filter(|p| {
                let (l, r) = (p.left as usize, p.right as usize);
                if left_taken[l] || right_taken[r] {
                    return false;
                }
                left_taken[l] = true;
                right_taken[r] = true;
                true
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
