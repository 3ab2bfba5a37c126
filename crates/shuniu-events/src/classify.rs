//! Suggesting an event's category from its text: a multinomial naive Bayes classifier over the
//! text's character bigrams (Chinese needs no word segmentation for this), learned from the
//! events the dispatchers have already classified and seeded with each category's name and
//! keywords, so that it suggests something on the first day. The dispatcher confirms; the
//! confidence says how much to trust the suggestion (auto-dispatch only above a threshold).

use std::collections::HashMap;

/// A category as the classifier knows it: its code and the texts that describe it.
#[derive(Debug, Clone)]
pub struct Seed<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub keywords: &'a [String],
}

#[derive(Debug, Clone, Default)]
pub struct Classifier {
    codes: Vec<String>,
    /// bigram → count per category.
    counts: HashMap<[char; 2], Vec<u32>>,
    /// Bigrams per category.
    totals: Vec<u64>,
    /// Documents per category (the prior).
    docs: Vec<u64>,
}

/// The bigrams of a text's letters and digits (punctuation and spaces split runs).
fn bigrams(text: &str) -> Vec<[char; 2]> {
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if c.is_alphanumeric() {
            let c = c.to_lowercase().next().unwrap_or(c);
            if let Some(p) = prev {
                out.push([p, c]);
            }
            prev = Some(c);
        } else {
            prev = None;
        }
    }
    out
}

impl Classifier {
    /// A classifier knowing the categories by name and keywords only.
    pub fn seeded(seeds: &[Seed<'_>]) -> Classifier {
        let mut c = Classifier::default();
        for s in seeds {
            c.learn(s.code, s.name);
            for k in s.keywords {
                c.learn(s.code, k);
            }
        }
        c
    }

    fn index(&mut self, code: &str) -> usize {
        if let Some(i) = self.codes.iter().position(|c| c == code) {
            return i;
        }
        self.codes.push(code.to_string());
        self.totals.push(0);
        self.docs.push(0);
        for v in self.counts.values_mut() {
            v.push(0);
        }
        self.codes.len() - 1
    }

    /// Learns one classified text.
    pub fn learn(&mut self, code: &str, text: &str) {
        let i = self.index(code);
        let n = self.codes.len();
        self.docs[i] += 1;
        for b in bigrams(text) {
            let v = self.counts.entry(b).or_insert_with(|| vec![0; n]);
            v[i] += 1;
            self.totals[i] += 1;
        }
    }

    /// The most likely category and its probability among all (0–1), if the text has any
    /// bigram the classifier has seen.
    pub fn suggest(&self, text: &str) -> Option<(String, f64)> {
        let grams: Vec<&Vec<u32>> = bigrams(text)
            .iter()
            .filter_map(|b| self.counts.get(b))
            .collect();
        if grams.is_empty() || self.codes.is_empty() {
            return None;
        }
        let vocabulary = self.counts.len() as f64;
        let all_docs: u64 = self.docs.iter().sum();
        let scores: Vec<f64> = (0..self.codes.len())
            .map(|i| {
                let prior =
                    ((self.docs[i] + 1) as f64 / (all_docs + self.codes.len() as u64) as f64).ln();
                let denominator = self.totals[i] as f64 + vocabulary;
                prior
                    + grams
                        .iter()
                        .map(|v| ((v[i] as f64 + 1.0) / denominator).ln())
                        .sum::<f64>()
            })
            .collect();
        let (best, top) = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        let sum: f64 = scores.iter().map(|s| (s - top).exp()).sum();
        Some((self.codes[best].clone(), 1.0 / sum))
    }

    pub fn categories(&self) -> usize {
        self.codes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn suggests_from_keywords_then_learns_from_dispatchers() {
        let (a, b, c) = (
            kw(&["井盖", "窨井盖缺失", "井盖破损"]),
            kw(&["占道经营", "流动摊贩", "马路市场"]),
            kw(&["垃圾", "垃圾满溢", "暴露垃圾"]),
        );
        let seeds = [
            Seed {
                code: "0301",
                name: "井盖问题",
                keywords: &a,
            },
            Seed {
                code: "0201",
                name: "占道经营",
                keywords: &b,
            },
            Seed {
                code: "0101",
                name: "暴露垃圾",
                keywords: &c,
            },
        ];
        let mut clf = Classifier::seeded(&seeds);
        let (code, p) = clf
            .suggest("香港中路12号门口井盖破损，行人容易踩空")
            .unwrap();
        assert_eq!(code, "0301");
        assert!(p > 0.5, "{p}");
        assert_eq!(clf.suggest("小区门口有流动摊贩占道经营").unwrap().0, "0201");
        assert_eq!(clf.suggest("!!!"), None, "nothing to go on");
        // A word the seeds lack is learned from classified events.
        assert_ne!(
            clf.suggest("路边有人乱扔建筑渣土").map(|s| s.0),
            Some("0101".into())
        );
        for _ in 0..5 {
            clf.learn("0101", "路边乱扔建筑渣土无人清理");
        }
        assert_eq!(clf.suggest("路边有人乱扔建筑渣土").unwrap().0, "0101");
    }
}
