//! The open catalog at one moment: an immutable [`Snapshot`] of every [`Package`] with its
//! organizations, groups and tags, rebuilt when a publication changes, and package search
//! over it through the snapshot's [`crate::index`], never through the packages one by one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::index::{Field, PackageIndex};
use chrono::{DateTime, Utc};
use shuniu_types::UpdateCycle;

use crate::packages::{FORMATS, Group, Organization, Package, stable_id};
use crate::query::{Expr, QueryError};

/// The open catalog at one moment.
#[derive(Default)]
pub struct Snapshot {
    /// Sorted by name.
    pub packages: Vec<Arc<Package>>,
    by_key: HashMap<String, usize>,
    pub organizations: Vec<Organization>,
    pub groups: Vec<Group>,
    pub tags: Vec<(String, usize)>,
    index: PackageIndex,
}

impl Snapshot {
    pub fn new(mut packages: Vec<Package>) -> Snapshot {
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        let packages: Vec<Arc<Package>> = packages.into_iter().map(Arc::new).collect();
        let mut by_key = HashMap::new();
        let mut orgs: BTreeMap<String, Organization> = BTreeMap::new();
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        let mut tags: BTreeMap<String, usize> = BTreeMap::new();
        for (i, p) in packages.iter().enumerate() {
            by_key.insert(p.name.clone(), i);
            by_key.insert(p.id.clone(), i);
            by_key.insert(p.code.clone(), i);
            for (ext, _, _) in FORMATS {
                by_key.insert(p.resource_id(ext), i);
            }
            orgs.entry(p.org_name.clone())
                .or_insert_with(|| Organization {
                    code: p.provider.clone(),
                    name: p.org_name.clone(),
                    title: p.provider_name.clone(),
                    id: stable_id("organization", &p.provider),
                    package_count: 0,
                })
                .package_count += 1;
            groups
                .entry(p.group.0.clone())
                .or_insert_with(|| Group {
                    name: p.group.0.clone(),
                    title: p.group.1.clone(),
                    id: stable_id("group", &p.group.0),
                    package_count: 0,
                })
                .package_count += 1;
            for t in &p.tags {
                *tags.entry(t.clone()).or_default() += 1;
            }
        }
        Snapshot {
            index: PackageIndex::new(&packages),
            packages,
            by_key,
            organizations: orgs.into_values().collect(),
            groups: groups.into_values().collect(),
            tags: tags.into_iter().collect(),
        }
    }

    /// A package by name, id, catalog code or any of its resources' ids.
    pub fn package(&self, key: &str) -> Option<&Arc<Package>> {
        self.by_key
            .get(key)
            .or_else(|| self.by_key.get(&key.to_lowercase()))
            .and_then(|i| self.packages.get(*i))
    }

    pub fn organization(&self, key: &str) -> Option<&Organization> {
        let k = key.to_lowercase();
        self.organizations
            .iter()
            .find(|o| o.name == k || o.id == key || o.code == key)
    }

    pub fn group(&self, key: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == key || g.id == key)
    }

    pub fn search(
        &self,
        p: &SearchParams,
        now: DateTime<Utc>,
    ) -> Result<SearchOutcome, QueryError> {
        let q = crate::query::parse(p.q.trim())?;
        let fq: Vec<Expr> =
            p.fq.iter()
                .map(|f| crate::query::parse(f))
                .collect::<Result<_, _>>()?;
        let sort = parse_sort(&p.sort)?;
        let facet_fields: Vec<Field> = p
            .facet_fields
            .iter()
            .map(|f| Field::parse(f))
            .collect::<Result<_, _>>()?;
        let mut hits = self.index.matches(&self.packages, &q, now)?;
        for f in &fq {
            let filter = self.index.matches(&self.packages, f, now)?;
            hits.set.intersect_with(&filter.set);
        }
        let mut members: Vec<(u32, u32)> =
            hits.set.ones().map(|i| (hits.score(i), i as u32)).collect();
        let mut facets = BTreeMap::new();
        if !facet_fields.is_empty() {
            let positions: Vec<u32> = members.iter().map(|m| m.1).collect();
            for (name, field) in p.facet_fields.iter().zip(facet_fields) {
                let items = self.index.facet(
                    &self.packages,
                    field,
                    &positions,
                    p.facet_mincount,
                    p.facet_limit,
                );
                facets.insert(name.clone(), items);
            }
        }
        let count = members.len();
        let order = |a: &(u32, u32), b: &(u32, u32)| {
            let (pa, pb) = (&self.packages[a.1 as usize], &self.packages[b.1 as usize]);
            let (ia, ib) = (a.1 as usize, b.1 as usize);
            for (key, desc) in &sort {
                let o = match key {
                    SortKey::Score => a.0.cmp(&b.0),
                    // Packages are in name order: their position is their name's rank.
                    SortKey::Name => ia.cmp(&ib),
                    SortKey::Title => self.index.title_rank[ia].cmp(&self.index.title_rank[ib]),
                    SortKey::Modified => pa.modified.cmp(&pb.modified),
                    SortKey::Created => pa.created.cmp(&pb.created),
                    SortKey::Id => self.index.id_rank[ia].cmp(&self.index.id_rank[ib]),
                    SortKey::Views => pa.views.cmp(&pb.views),
                    SortKey::Downloads => pa.downloads.cmp(&pb.downloads),
                };
                let o = if *desc { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            ia.cmp(&ib)
        };
        // Only the requested page needs to be in order: select it, then sort it.
        let end = p.start.saturating_add(p.rows).min(count);
        if end < count {
            members.select_nth_unstable_by(end, order);
            members.truncate(end);
        }
        members.sort_unstable_by(order);
        let results = members
            .iter()
            .skip(p.start)
            .map(|(_, i)| self.packages[*i as usize].clone())
            .collect();
        Ok(SearchOutcome {
            count,
            results,
            facets,
            sort: p.sort.clone(),
        })
    }

    /// The display name of a facet value (organization and group titles).
    pub fn display_name(&self, field: &str, value: &str) -> String {
        match field {
            "organization" => self
                .organization(value)
                .map(|o| o.title.clone())
                .unwrap_or_else(|| value.into()),
            "groups" => self
                .group(value)
                .map(|g| g.title.clone())
                .unwrap_or_else(|| value.into()),
            "update_cycle" => UpdateCycle::parse_term(value)
                .map(|c| c.zh().to_string())
                .unwrap_or_else(|| value.into()),
            _ => value.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Score,
    Name,
    Title,
    Modified,
    Created,
    Id,
    Views,
    Downloads,
}

fn parse_sort(s: &str) -> Result<Vec<(SortKey, bool)>, QueryError> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let mut words = part.split_whitespace();
        let field = words.next().unwrap_or_default();
        let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(QueryError(format!(
                    "sort direction must be asc or desc, not '{other}'"
                )));
            }
        };
        let key = match field {
            "score" => SortKey::Score,
            "name" => SortKey::Name,
            "title_string" | "title" => SortKey::Title,
            "metadata_modified" => SortKey::Modified,
            "metadata_created" => SortKey::Created,
            "id" => SortKey::Id,
            "views_total" | "views_recent" => SortKey::Views,
            "downloads" => SortKey::Downloads,
            other => return Err(QueryError(format!("can not sort on field: {other}"))),
        };
        out.push((key, desc));
    }
    Ok(out)
}

/// What package_search was asked.
#[derive(Debug, Clone)]
pub struct SearchParams {
    pub q: String,
    pub fq: Vec<String>,
    pub sort: String,
    pub rows: usize,
    pub start: usize,
    pub facet_fields: Vec<String>,
    pub facet_limit: Option<usize>,
    pub facet_mincount: usize,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            q: String::new(),
            fq: Vec::new(),
            sort: "score desc, metadata_modified desc".into(),
            rows: 10,
            start: 0,
            facet_fields: Vec::new(),
            facet_limit: Some(50),
            facet_mincount: 1,
        }
    }
}

pub struct SearchOutcome {
    pub count: usize,
    pub results: Vec<Arc<Package>>,
    /// field → (value, count), most frequent first.
    pub facets: BTreeMap<String, Vec<(String, usize)>>,
    pub sort: String,
}
