//! Package search by index instead of by scan.
//!
//! A query is evaluated once per node of its expression tree, over sets of packages
//! (bitsets in name order), never once per package: a fielded term is a dictionary lookup
//! giving a posting list, a range or wildcard walks the field's distinct values (a few dozen
//! departments, themes or tags, not ten thousand packages), `AND`/`OR`/`NOT` are bitset
//! operations, and facets count value ids through a per-package table. Free text looks only
//! at the packages whose texts hold every adjacent character pair of its words, through a
//! precompiled SIMD substring searcher; substring fields (`title`, `notes`) walk their
//! distinct values. What matches is exactly what the plain per-package reading of
//! the query matches; the property test at the bottom holds the two together.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use fixedbitset::FixedBitSet;
use memchr::memmem;

use crate::packages::{FORMATS, Package, stable_id};
use crate::query::{Expr, QueryError, Value, parse_instant, wildcard};

/// A field that `q`, `fq`, facets and the index know. Parsed once per query node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Id,
    Title,
    TitleString,
    Notes,
    Organization,
    OwnerOrg,
    Groups,
    Tags,
    ResFormat,
    LicenseId,
    UpdateCycle,
    OpenAccess,
    SecurityLevel,
    CatalogCode,
    State,
    Type,
    Capacity,
    Private,
    NumResources,
    NumTags,
    Modified,
    Created,
}

/// How many value dictionaries a snapshot can hold (one per [`Field::slot`]).
const SLOTS: usize = 21;

impl Field {
    pub(crate) fn parse(name: &str) -> Result<Field, QueryError> {
        Ok(match name {
            "name" => Field::Name,
            "id" => Field::Id,
            "title" => Field::Title,
            "title_string" => Field::TitleString,
            "notes" => Field::Notes,
            "organization" => Field::Organization,
            "owner_org" => Field::OwnerOrg,
            "groups" => Field::Groups,
            "tags" => Field::Tags,
            "res_format" => Field::ResFormat,
            "license_id" => Field::LicenseId,
            "update_cycle" => Field::UpdateCycle,
            "open_access" => Field::OpenAccess,
            "security_level" => Field::SecurityLevel,
            "catalog_code" => Field::CatalogCode,
            "state" => Field::State,
            "type" | "dataset_type" => Field::Type,
            "capacity" => Field::Capacity,
            "private" => Field::Private,
            "num_resources" => Field::NumResources,
            "num_tags" => Field::NumTags,
            "metadata_modified" => Field::Modified,
            "metadata_created" => Field::Created,
            other => return Err(QueryError(format!("undefined field {other}"))),
        })
    }

    /// The dictionary slot (`title` and `title_string` share their values); `None` for the
    /// date fields, which are compared, not looked up.
    fn slot(self) -> Option<usize> {
        Some(match self {
            Field::Name => 0,
            Field::Id => 1,
            Field::Title | Field::TitleString => 2,
            Field::Notes => 3,
            Field::Organization => 4,
            Field::OwnerOrg => 5,
            Field::Groups => 6,
            Field::Tags => 7,
            Field::ResFormat => 8,
            Field::LicenseId => 9,
            Field::UpdateCycle => 10,
            Field::OpenAccess => 11,
            Field::SecurityLevel => 12,
            Field::CatalogCode => 13,
            Field::State => 14,
            Field::Type => 15,
            Field::Capacity => 16,
            Field::Private => 17,
            Field::NumResources => 18,
            Field::NumTags => 19,
            Field::Modified | Field::Created => return None,
        })
    }

    /// Fields whose terms match inside the text (case-insensitively), not the whole value.
    fn is_substring(self) -> bool {
        matches!(self, Field::Title | Field::Notes)
    }

    /// A package's values of this field, as strings (for matching and facets).
    pub(crate) fn values(self, p: &Package) -> Vec<String> {
        match self {
            Field::Name => vec![p.name.clone()],
            Field::Id => vec![p.id.clone()],
            Field::Title | Field::TitleString => vec![p.title.clone()],
            Field::Notes => vec![p.notes.clone()],
            Field::Organization => vec![p.org_name.clone()],
            Field::OwnerOrg => vec![stable_id("organization", &p.provider)],
            Field::Groups => vec![p.group.0.clone()],
            Field::Tags => p.tags.clone(),
            Field::ResFormat => {
                if p.has_data() {
                    FORMATS.iter().map(|f| f.1.to_string()).collect()
                } else {
                    vec![]
                }
            }
            Field::LicenseId => vec![p.license_id().into()],
            Field::UpdateCycle => vec![p.update_cycle.code().into()],
            Field::OpenAccess => vec![p.access.code().into()],
            Field::SecurityLevel => vec![p.level.clone()],
            Field::CatalogCode => vec![p.code.clone()],
            Field::State => vec!["active".into()],
            Field::Type => vec!["dataset".into()],
            Field::Capacity => vec!["public".into()],
            Field::Private => vec!["false".into()],
            Field::NumResources => vec![p.resources_count().to_string()],
            Field::NumTags => vec![p.tags.len().to_string()],
            Field::Modified | Field::Created => vec![],
        }
    }

    pub(crate) fn instant(self, p: &Package) -> Option<DateTime<Utc>> {
        match self {
            Field::Modified => Some(p.modified),
            Field::Created => Some(p.created),
            _ => None,
        }
    }
}

/// Whether `x` lies in a Solr range, numerically when both sides read as numbers.
pub(crate) fn in_range(
    x: &str,
    lo: Option<&str>,
    hi: Option<&str>,
    lo_inc: bool,
    hi_inc: bool,
) -> bool {
    let cmp = |a: &str, b: &str| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    };
    lo.is_none_or(|l| {
        let c = cmp(x, l);
        c.is_gt() || (lo_inc && c.is_eq())
    }) && hi.is_none_or(|h| {
        let c = cmp(x, h);
        c.is_lt() || (hi_inc && c.is_eq())
    })
}

/// The words a free-text term is matched by: jieba's cut, or the lower-cased term itself
/// when jieba finds no word in it (punctuation, a lone letter).
pub(crate) fn term_words(t: &str) -> Vec<String> {
    let words = shuniu_search::query_words(t);
    if words.is_empty() {
        vec![t.to_lowercase()]
    } else {
        words
    }
}

/// Which packages match a query node, and the free-text score of each member.
pub(crate) struct Hits {
    pub set: FixedBitSet,
    score: Score,
}

enum Score {
    /// Every member scores the same.
    Const(u32),
    /// Score per package position (meaningful for members only).
    Dense(Vec<u32>),
}

impl Hits {
    fn all(n: usize, score: u32) -> Hits {
        let mut set = FixedBitSet::with_capacity(n);
        set.insert_range(..);
        Hits {
            set,
            score: Score::Const(score),
        }
    }

    fn none(n: usize) -> Hits {
        Hits {
            set: FixedBitSet::with_capacity(n),
            score: Score::Const(0),
        }
    }

    fn of(set: FixedBitSet) -> Hits {
        Hits {
            set,
            score: Score::Const(1),
        }
    }

    pub fn score(&self, i: usize) -> u32 {
        match &self.score {
            Score::Const(s) => *s,
            Score::Dense(v) => v[i],
        }
    }

    /// Both must match; scores add up.
    fn and(&mut self, other: Hits) {
        self.set.intersect_with(&other.set);
        self.score = match (
            std::mem::replace(&mut self.score, Score::Const(0)),
            other.score,
        ) {
            (Score::Const(a), Score::Const(b)) => Score::Const(a + b),
            (Score::Dense(mut v), Score::Const(c)) | (Score::Const(c), Score::Dense(mut v)) => {
                v.iter_mut().for_each(|x| *x += c);
                Score::Dense(v)
            }
            (Score::Dense(mut v), Score::Dense(w)) => {
                v.iter_mut().zip(w).for_each(|(x, y)| *x += y);
                Score::Dense(v)
            }
        };
    }

    /// Either matches; a member scores the sum of the parts it matches.
    fn or(parts: Vec<Hits>, n: usize) -> Hits {
        let mut set = FixedBitSet::with_capacity(n);
        let mut score = vec![0u32; n];
        for part in &parts {
            set.union_with(&part.set);
            for i in part.set.ones() {
                score[i] += part.score(i);
            }
        }
        Hits {
            set,
            score: Score::Dense(score),
        }
    }

    fn not(self) -> Hits {
        let mut set = self.set;
        set.toggle_range(..);
        Hits {
            set,
            score: Score::Const(0),
        }
    }
}

/// One field's distinct values and which packages hold them.
pub(crate) struct FieldIndex {
    values: Vec<String>,
    /// `values`, lower-cased (substring matching on title and notes).
    lower: Vec<String>,
    /// Package positions per value id, ascending.
    postings: Vec<Vec<u32>>,
    /// ASCII-lower-cased value → value ids (exact terms match case-insensitively).
    by_key: HashMap<String, Vec<u32>>,
    /// Value ids of package `i`: `ids[offsets[i]..offsets[i + 1]]`, each once.
    offsets: Vec<u32>,
    ids: Vec<u32>,
}

impl FieldIndex {
    fn build(packages: &[Arc<Package>], field: Field) -> FieldIndex {
        let mut dict: HashMap<String, u32> = HashMap::new();
        let mut values: Vec<String> = Vec::new();
        let mut postings: Vec<Vec<u32>> = Vec::new();
        let mut offsets = Vec::with_capacity(packages.len() + 1);
        let mut ids = Vec::with_capacity(packages.len());
        offsets.push(0u32);
        for (i, p) in packages.iter().enumerate() {
            let mut vals = field.values(p);
            vals.sort();
            vals.dedup();
            for v in vals {
                let id = match dict.get(&v) {
                    Some(id) => *id,
                    None => {
                        let id = values.len() as u32;
                        dict.insert(v.clone(), id);
                        values.push(v);
                        postings.push(Vec::new());
                        id
                    }
                };
                postings[id as usize].push(i as u32);
                ids.push(id);
            }
            offsets.push(ids.len() as u32);
        }
        let mut by_key: HashMap<String, Vec<u32>> = HashMap::new();
        for (id, v) in values.iter().enumerate() {
            by_key
                .entry(v.to_ascii_lowercase())
                .or_default()
                .push(id as u32);
        }
        FieldIndex {
            lower: values.iter().map(|v| v.to_lowercase()).collect(),
            values,
            postings,
            by_key,
            offsets,
            ids,
        }
    }

    fn package_values(&self, i: usize) -> &[u32] {
        &self.ids[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The packages holding any of these value ids.
    fn union(&self, n: usize, ids: impl Iterator<Item = usize>) -> FixedBitSet {
        let mut set = FixedBitSet::with_capacity(n);
        for id in ids {
            set.extend(self.postings[id].iter().map(|i| *i as usize));
        }
        set
    }

    fn matches(&self, field: Field, v: &Value, n: usize) -> FixedBitSet {
        match v {
            Value::Any => {
                let mut set = FixedBitSet::with_capacity(n);
                set.extend((0..n).filter(|i| !self.package_values(*i).is_empty()));
                set
            }
            Value::Term(t) if t.contains('*') || t.contains('?') => self.union(
                n,
                (0..self.values.len()).filter(|id| wildcard(t, &self.values[*id])),
            ),
            Value::Term(t) | Value::Phrase(t) if field.is_substring() => {
                let t = t.to_lowercase();
                self.union(
                    n,
                    (0..self.values.len()).filter(|id| self.lower[*id].contains(&t)),
                )
            }
            Value::Term(t) | Value::Phrase(t) => match self.by_key.get(&t.to_ascii_lowercase()) {
                Some(ids) => self.union(n, ids.iter().map(|id| *id as usize)),
                None => FixedBitSet::with_capacity(n),
            },
            Value::Range {
                lo,
                hi,
                lo_inclusive,
                hi_inclusive,
            } => self.union(
                n,
                (0..self.values.len()).filter(|id| {
                    in_range(
                        &self.values[*id],
                        lo.as_deref(),
                        hi.as_deref(),
                        *lo_inclusive,
                        *hi_inclusive,
                    )
                }),
            ),
        }
    }
}

/// Which packages' texts hold each pair of adjacent characters: a free-text word is only
/// searched for in the packages holding all of its pairs (a superset of those holding the
/// word, which the substring search then decides exactly).
#[derive(Default)]
struct Grams(HashMap<u64, Vec<u32>>);

fn pair(a: char, b: char) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

impl Grams {
    fn build(packages: &[Arc<Package>]) -> Grams {
        let mut map: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut keys = Vec::new();
        for (i, p) in packages.iter().enumerate() {
            keys.clear();
            for (text, _) in &p.haystack {
                let mut chars = text.chars();
                if let Some(mut prev) = chars.next() {
                    for c in chars {
                        keys.push(pair(prev, c));
                        prev = c;
                    }
                }
            }
            keys.sort_unstable();
            keys.dedup();
            for k in &keys {
                map.entry(*k).or_default().push(i as u32);
            }
        }
        Grams(map)
    }

    /// The packages that may contain `word`; `None` when any may (a single character).
    fn candidates(&self, word: &str, n: usize) -> Option<FixedBitSet> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() < 2 {
            return None;
        }
        let mut lists: Vec<&[u32]> = Vec::with_capacity(chars.len() - 1);
        for w in chars.windows(2) {
            match self.0.get(&pair(w[0], w[1])) {
                Some(list) => lists.push(list),
                None => return Some(FixedBitSet::with_capacity(n)),
            }
        }
        lists.sort_by_key(|l| l.len());
        let mut set = FixedBitSet::with_capacity(n);
        set.extend(lists[0].iter().map(|i| *i as usize));
        for list in &lists[1..] {
            let mut other = FixedBitSet::with_capacity(n);
            other.extend(list.iter().map(|i| *i as usize));
            set.intersect_with(&other);
        }
        Some(set)
    }
}

/// The search structures of one snapshot's packages (which are in name order).
#[derive(Default)]
pub(crate) struct PackageIndex {
    fields: [OnceLock<FieldIndex>; SLOTS],
    grams: Grams,
    /// Dense ranks (equal values share a rank) for sorting by title and id.
    pub title_rank: Vec<u32>,
    pub id_rank: Vec<u32>,
}

fn dense_rank<T: Ord>(n: usize, key: impl Fn(usize) -> T) -> Vec<u32> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|i| key(*i));
    let mut rank = vec![0u32; n];
    let mut r = 0u32;
    for (k, i) in order.iter().enumerate() {
        if k > 0 && key(order[k - 1]) != key(*i) {
            r += 1;
        }
        rank[*i] = r;
    }
    rank
}

impl PackageIndex {
    pub fn new(packages: &[Arc<Package>]) -> PackageIndex {
        let index = PackageIndex {
            fields: Default::default(),
            grams: Grams::build(packages),
            title_rank: dense_rank(packages.len(), |i| packages[i].title.as_str()),
            id_rank: dense_rank(packages.len(), |i| packages[i].id.as_str()),
        };
        // The portal's facets, built now rather than on the first visitor's request.
        for f in [
            Field::Organization,
            Field::Groups,
            Field::Tags,
            Field::ResFormat,
            Field::UpdateCycle,
            Field::OpenAccess,
        ] {
            index.field(packages, f);
        }
        index
    }

    fn field(&self, packages: &[Arc<Package>], f: Field) -> Option<&FieldIndex> {
        let slot = f.slot()?;
        Some(self.fields[slot].get_or_init(|| FieldIndex::build(packages, f)))
    }

    /// The packages an expression matches, with their scores.
    pub fn matches(
        &self,
        packages: &[Arc<Package>],
        e: &Expr,
        now: DateTime<Utc>,
    ) -> Result<Hits, QueryError> {
        let n = packages.len();
        Ok(match e {
            Expr::All => Hits::all(n, 1),
            Expr::And(parts) => {
                let mut acc = Hits::all(n, 0);
                for p in parts {
                    acc.and(self.matches(packages, p, now)?);
                }
                acc
            }
            Expr::Or(parts) => Hits::or(
                parts
                    .iter()
                    .map(|p| self.matches(packages, p, now))
                    .collect::<Result<_, _>>()?,
                n,
            ),
            Expr::Not(inner) => self.matches(packages, inner, now)?.not(),
            Expr::Match(None, Value::Term(t) | Value::Phrase(t)) => {
                if t.contains('*') || t.contains('?') {
                    let t = t.to_lowercase();
                    let mut set = FixedBitSet::with_capacity(n);
                    set.extend((0..n).filter(|i| {
                        packages[*i]
                            .haystack
                            .iter()
                            .any(|(h, _)| h.split_whitespace().any(|w| wildcard(&t, w)))
                    }));
                    Hits::of(set)
                } else {
                    text_hits(packages, &self.grams, &term_words(t))
                }
            }
            Expr::Match(None, _) => Hits::none(n),
            Expr::Match(Some(name), v) => {
                let field = Field::parse(name)?;
                match self.field(packages, field) {
                    Some(index) => Hits::of(index.matches(field, v, n)),
                    None => Hits::of(instant_matches(packages, field, v, now)?),
                }
            }
        })
    }

    /// Facet counts of `field` over the packages at `members`: (value, count), most
    /// frequent first, then by value.
    pub fn facet(
        &self,
        packages: &[Arc<Package>],
        field: Field,
        members: &[u32],
        mincount: usize,
        limit: Option<usize>,
    ) -> Vec<(String, usize)> {
        let Some(index) = self.field(packages, field) else {
            return Vec::new();
        };
        let mut counts = vec![0usize; index.values.len()];
        for i in members {
            for id in index.package_values(*i as usize) {
                counts[*id as usize] += 1;
            }
        }
        let mut items: Vec<(usize, usize)> = counts
            .into_iter()
            .enumerate()
            .filter(|(_, c)| *c > 0 && *c >= mincount)
            .collect();
        items.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| index.values[a.0].cmp(&index.values[b.0]))
        });
        if let Some(limit) = limit {
            items.truncate(limit);
        }
        items
            .into_iter()
            .map(|(id, c)| (index.values[id].clone(), c))
            .collect()
    }
}

/// Free text: title ×3, tags and organization ×2, notes and columns ×1 per word; a package
/// matches only when every word occurs somewhere.
fn text_hits(packages: &[Arc<Package>], grams: &Grams, words: &[String]) -> Hits {
    let n = packages.len();
    let mut candidates: Option<FixedBitSet> = None;
    for w in words {
        if let Some(c) = grams.candidates(w, n) {
            match &mut candidates {
                Some(all) => all.intersect_with(&c),
                None => candidates = Some(c),
            }
        }
    }
    let finders: Vec<memmem::Finder> = words
        .iter()
        .map(|w| memmem::Finder::new(w.as_bytes()))
        .collect();
    let mut set = FixedBitSet::with_capacity(n);
    let mut score = vec![0u32; n];
    let positions: Box<dyn Iterator<Item = usize>> = match &candidates {
        Some(c) => Box::new(c.ones()),
        None => Box::new(0..n),
    };
    'package: for i in positions {
        let p = &packages[i];
        let mut total = 0;
        for f in &finders {
            let s: u32 = p
                .haystack
                .iter()
                .filter(|(text, _)| f.find(text.as_bytes()).is_some())
                .map(|(_, weight)| *weight)
                .sum();
            if s == 0 {
                continue 'package;
            }
            total += s;
        }
        if total > 0 {
            set.insert(i);
            score[i] = total;
        }
    }
    Hits {
        set,
        score: Score::Dense(score),
    }
}

/// A date field against a term or range, the bounds read once.
fn instant_matches(
    packages: &[Arc<Package>],
    field: Field,
    v: &Value,
    now: DateTime<Utc>,
) -> Result<FixedBitSet, QueryError> {
    let n = packages.len();
    let bound = |b: &Option<String>| b.as_deref().map(|s| parse_instant(s, now)).transpose();
    let test: Box<dyn Fn(DateTime<Utc>) -> bool> = match v {
        Value::Any => Box::new(|_| true),
        Value::Term(t) | Value::Phrase(t) => {
            let at = parse_instant(t, now)?;
            Box::new(move |x| x == at)
        }
        Value::Range {
            lo,
            hi,
            lo_inclusive,
            hi_inclusive,
        } => {
            let (lo, hi, li, hi_inc) = (bound(lo)?, bound(hi)?, *lo_inclusive, *hi_inclusive);
            Box::new(move |x| {
                lo.is_none_or(|l| x > l || (li && x == l))
                    && hi.is_none_or(|h| x < h || (hi_inc && x == h))
            })
        }
    };
    let mut set = FixedBitSet::with_capacity(n);
    set.extend((0..n).filter(|i| field.instant(&packages[*i]).is_some_and(&test)));
    Ok(set)
}

#[cfg(test)]
mod tests {
    //! The index against the plain reading of a query: one package at a time, every field
    //! compared as written in the query language's documentation.

    use super::*;
    use crate::packages::Column;
    use crate::snapshot::{SearchParams, Snapshot};
    use chrono::TimeZone;
    use proptest::prelude::*;
    use shuniu_policy::open::OpenAccess;
    use shuniu_types::UpdateCycle;

    /// `None` when the package does not match, else its score.
    fn plain(p: &Package, e: &Expr, now: DateTime<Utc>) -> Option<u32> {
        match e {
            Expr::All => Some(1),
            Expr::And(parts) => parts
                .iter()
                .try_fold(0, |acc, x| plain(p, x, now).map(|s| acc + s)),
            Expr::Or(parts) => parts
                .iter()
                .filter_map(|x| plain(p, x, now))
                .reduce(|a, b| a + b),
            Expr::Not(inner) => match plain(p, inner, now) {
                Some(_) => None,
                None => Some(0),
            },
            Expr::Match(None, Value::Term(t) | Value::Phrase(t)) => {
                if t.contains('*') || t.contains('?') {
                    let t = t.to_lowercase();
                    p.haystack
                        .iter()
                        .any(|(h, _)| h.split_whitespace().any(|w| wildcard(&t, w)))
                        .then_some(1)
                } else {
                    let mut total = 0;
                    for w in term_words(t) {
                        let s: u32 = p
                            .haystack
                            .iter()
                            .filter(|(h, _)| h.contains(w.as_str()))
                            .map(|(_, weight)| weight)
                            .sum();
                        if s == 0 {
                            return None;
                        }
                        total += s;
                    }
                    Some(total).filter(|s| *s > 0)
                }
            }
            Expr::Match(None, _) => None,
            Expr::Match(Some(f), v) => {
                let field = Field::parse(f).expect("generated fields are known");
                if let Some(at) = field.instant(p) {
                    let parse = |s: &str| parse_instant(s, now).expect("generated dates parse");
                    let hit = match v {
                        Value::Any => true,
                        Value::Term(t) | Value::Phrase(t) => parse(t) == at,
                        Value::Range {
                            lo,
                            hi,
                            lo_inclusive,
                            hi_inclusive,
                        } => {
                            lo.as_deref().is_none_or(|l| {
                                let l = parse(l);
                                at > l || (*lo_inclusive && at == l)
                            }) && hi.as_deref().is_none_or(|h| {
                                let h = parse(h);
                                at < h || (*hi_inclusive && at == h)
                            })
                        }
                    };
                    return hit.then_some(1);
                }
                let values = field.values(p);
                let hit = match v {
                    Value::Any => !values.is_empty(),
                    Value::Term(t) if t.contains('*') || t.contains('?') => {
                        values.iter().any(|x| wildcard(t, x))
                    }
                    Value::Term(t) | Value::Phrase(t) if field.is_substring() => values
                        .iter()
                        .any(|x| x.to_lowercase().contains(&t.to_lowercase())),
                    Value::Term(t) | Value::Phrase(t) => {
                        values.iter().any(|x| x.eq_ignore_ascii_case(t))
                    }
                    Value::Range {
                        lo,
                        hi,
                        lo_inclusive,
                        hi_inclusive,
                    } => values.iter().any(|x| {
                        in_range(
                            x,
                            lo.as_deref(),
                            hi.as_deref(),
                            *lo_inclusive,
                            *hi_inclusive,
                        )
                    }),
                };
                hit.then_some(1)
            }
        }
    }

    const ORGS: [&str; 3] = ["gaj", "mzj", "wjw"];
    const TITLES: [&str; 5] = [
        "户籍人口基本信息",
        "企业登记信息",
        "养老机构名录",
        "公交线路 Bus lines",
        "学校名录",
    ];
    const TAGS: [&str; 5] = ["人口", "企业", "养老", "bus", "教育"];

    fn package(k: usize, seed: (usize, usize, u8, u32, bool)) -> Package {
        let (org, title, tag_bits, day, data) = seed;
        let code = format!("370200-{k:04}");
        let tags: Vec<String> = TAGS
            .iter()
            .enumerate()
            .filter(|(i, _)| tag_bits & (1 << i) != 0)
            .map(|(_, t)| t.to_string())
            .collect();
        let group = (format!("theme-{}", title % 3), "主题".to_string());
        let title = TITLES[title].to_string();
        let notes = format!("{title}，由{}提供", ORGS[org]);
        let modified = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("date")
            + chrono::Duration::days(i64::from(day));
        Package {
            name: code.to_lowercase(),
            id: stable_id("package", &code),
            haystack: [
                (format!("{title} {code}").to_lowercase(), 3),
                (
                    format!("{} {}", tags.join(" "), ORGS[org]).to_lowercase(),
                    2,
                ),
                (notes.to_lowercase(), 1),
            ],
            code,
            title,
            notes,
            access: if org == 0 {
                OpenAccess::Conditional
            } else {
                OpenAccess::Public
            },
            provider: ORGS[org].to_uppercase(),
            provider_name: ORGS[org].into(),
            org_name: ORGS[org].into(),
            group,
            tags,
            update_cycle: UpdateCycle::Monthly,
            level: "1".into(),
            open_conditions: String::new(),
            created: modified - chrono::Duration::days(30),
            modified,
            source_version: data.then_some(1),
            rows: 10,
            columns: Vec::<Column>::new(),
            views: i64::from(day % 7),
            downloads: 0,
            api_calls: 0,
            rendered: OnceLock::new(),
        }
    }

    fn atom() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(ORGS.to_vec()).prop_map(|o| format!("organization:{o}")),
            prop::sample::select(ORGS.to_vec())
                .prop_map(|o| format!("organization:{}", o.to_uppercase())),
            prop::sample::select(TAGS.to_vec()).prop_map(|t| format!("tags:{t}")),
            prop::sample::select(TAGS.to_vec()).prop_map(|t| t.to_string()),
            Just("tags:*".to_string()),
            Just("tags:b*".to_string()),
            Just("res_format:CSV".to_string()),
            Just("res_format:csv".to_string()),
            Just("num_tags:[2 TO *]".to_string()),
            Just("num_tags:{0 TO 2}".to_string()),
            Just("title:名录".to_string()),
            Just("title:BUS".to_string()),
            Just("title_string:学校名录".to_string()),
            Just("notes:gaj".to_string()),
            Just("open_access:public".to_string()),
            Just("groups:theme-1".to_string()),
            Just("企业登记".to_string()),
            Just("养".to_string()),
            Just("登记信息 名录".to_string()),
            Just("xyz".to_string()),
            Just("\"养老机构\"".to_string()),
            Just("bus*".to_string()),
            (0u32..60).prop_map(|d| format!(
                "metadata_modified:[2026-01-{:02}T00:00:00Z TO *]",
                1 + d % 28
            )),
            (0u32..60).prop_map(|d| format!(
                "metadata_created:{{* TO 2026-01-{:02}T00:00:00Z}}",
                1 + d % 28
            )),
            (0u32..28, 0u32..28).prop_map(|(a, b)| format!(
                "metadata_modified:{{2026-01-{:02}T00:00:00Z TO 2026-02-{:02}T00:00:00Z}}",
                1 + a,
                1 + b
            )),
            Just("metadata_modified:[NOW-1DAY TO NOW]".to_string()),
            Just("num_tags:{1 TO *]".to_string()),
        ]
    }

    fn query() -> impl Strategy<Value = String> {
        atom().prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} {b})")),
                // `--x` reads as a field named `-x`, in Solr as here: negate once.
                inner.clone().prop_map(|a| if a.starts_with('-') {
                    format!("-({a})")
                } else {
                    format!("-{a}")
                }),
                inner.prop_map(|a| format!("(NOT {a})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(160))]

        #[test]
        fn index_matches_the_plain_reading(
            seeds in prop::collection::vec((0usize..3, 0usize..5, 0u8..32, 0u32..60, any::<bool>()), 0..40),
            q in query(),
            fq in prop::option::of(query()),
            sort in prop::sample::select(vec![
                "score desc, metadata_modified desc", "id asc", "title asc, views_total desc",
                "metadata_created desc", "name desc",
            ]),
            start in 0usize..10,
            rows in 0usize..12,
        ) {
            let now = Utc.with_ymd_and_hms(2026, 2, 15, 0, 0, 0).single().expect("date");
            let packages: Vec<Package> =
                seeds.iter().enumerate().map(|(k, s)| package(k, *s)).collect();
            let snap = Snapshot::new(packages);
            let expr = crate::query::parse(&q).expect("generated queries parse");
            let fq_expr = fq.as_deref().map(|f| crate::query::parse(f).expect("parses"));
            let index = PackageIndex::new(&snap.packages);
            let hits = index.matches(&snap.packages, &expr, now).expect("evaluates");
            for (i, p) in snap.packages.iter().enumerate() {
                let expected = plain(p, &expr, now);
                prop_assert_eq!(hits.set.contains(i), expected.is_some(), "{} on {}", q, p.name);
                if let Some(s) = expected {
                    prop_assert_eq!(hits.score(i), s, "score of {} on {}", q, p.name);
                }
            }

            // The whole search: count, order, page and facets.
            let params = SearchParams {
                q: q.clone(),
                fq: fq.iter().cloned().collect(),
                sort: sort.to_string(),
                rows,
                start,
                facet_fields: vec!["organization".into(), "tags".into(), "res_format".into()],
                facet_limit: Some(3),
                facet_mincount: 1,
            };
            let out = snap.search(&params, now).expect("searches");
            let mut expected: Vec<(u32, &Arc<Package>)> = snap
                .packages
                .iter()
                .filter_map(|p| {
                    let s = plain(p, &expr, now)?;
                    match &fq_expr {
                        Some(f) => plain(p, f, now).map(|_| (s, p)),
                        None => Some((s, p)),
                    }
                })
                .collect();
            prop_assert_eq!(out.count, expected.len());
            expected.sort_by(|a, b| {
                let by = |key: &str, desc: bool| {
                    let o = match key {
                        "score" => a.0.cmp(&b.0),
                        "id" => a.1.id.cmp(&b.1.id),
                        "title" => a.1.title.cmp(&b.1.title),
                        "views_total" => a.1.views.cmp(&b.1.views),
                        "metadata_modified" => a.1.modified.cmp(&b.1.modified),
                        "metadata_created" => a.1.created.cmp(&b.1.created),
                        _ => a.1.name.cmp(&b.1.name),
                    };
                    if desc { o.reverse() } else { o }
                };
                sort.split(',')
                    .map(|part| {
                        let mut w = part.split_whitespace();
                        let key = w.next().unwrap_or_default();
                        by(key, w.next() == Some("desc"))
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or_else(|| a.1.name.cmp(&b.1.name))
            });
            let names: Vec<&str> = out.results.iter().map(|p| p.name.as_str()).collect();
            let want: Vec<&str> = expected
                .iter()
                .skip(start)
                .take(rows)
                .map(|(_, p)| p.name.as_str())
                .collect();
            prop_assert_eq!(names, want, "{} sorted by {}", q, sort);

            let mut orgs: HashMap<String, usize> = HashMap::new();
            for (_, p) in &expected {
                *orgs.entry(p.org_name.clone()).or_default() += 1;
            }
            let mut orgs: Vec<(String, usize)> = orgs.into_iter().collect();
            orgs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            orgs.truncate(3);
            prop_assert_eq!(&out.facets["organization"], &orgs);
        }
    }

    #[test]
    fn unknown_fields_and_bad_dates_are_query_errors_even_without_packages() {
        let snap = Snapshot::new(Vec::new());
        let now = Utc::now();
        let search = |q: &str, facet: &str| {
            snap.search(
                &SearchParams {
                    q: q.into(),
                    facet_fields: vec![facet.into()],
                    ..SearchParams::default()
                },
                now,
            )
        };
        assert!(search("nosuchfield:x", "tags").is_err());
        assert!(search("metadata_modified:[yesterday TO *]", "tags").is_err());
        assert!(search("*:*", "nosuchfield").is_err());
        assert_eq!(search("*:*", "tags").map(|o| o.count).ok(), Some(0));
    }
}
