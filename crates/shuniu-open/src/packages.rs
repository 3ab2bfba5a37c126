//! The portal's catalog: one [`Package`] per published open dataset, the organizations
//! (providing departments) and groups (themes) they belong to, and package search over them.
//!
//! The whole open catalog is an immutable [`Snapshot`] in memory, rebuilt when a publication
//! changes: a city has thousands to tens of thousands of open datasets, a few kilobytes each,
//! and searching them in memory keeps `package_search` within a few milliseconds.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value as Json, json};
use shuniu_policy::open::OpenAccess;
use shuniu_types::{DataType, UpdateCycle};

use crate::query::{Expr, QueryError, Value, parse_instant, wildcard};

/// A stable UUID (RFC 9562 version 8, SM3-derived) for a CKAN object named `name` of `kind`:
/// CKAN clients expect UUID ids and the same object must keep its id across restarts.
pub fn stable_id(kind: &str, name: &str) -> String {
    use sm3::Digest;
    let d = sm3::Sm3::digest(format!("shuniu:{kind}:{name}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Uuid::new_v8(b).hyphenated().to_string()
}

/// CKAN's timestamp format: ISO 8601 without a zone, microseconds, UTC.
pub fn ckan_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// A published column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    pub label: String,
    pub description: String,
    /// The datastore type CKAN clients read: text, int, numeric, date, timestamp, bool.
    pub ckan_type: &'static str,
    #[serde(skip)]
    pub data_type: DataType,
    /// The masking applied (`none` when published as is).
    pub masking: String,
}

pub fn ckan_type(t: DataType) -> &'static str {
    match t {
        DataType::Integer => "int",
        DataType::Numeric | DataType::Currency => "numeric",
        DataType::Date => "date",
        DataType::DateTime => "timestamp",
        DataType::Boolean => "bool",
        _ => "text",
    }
}

/// The download formats of every open dataset, as CKAN resources.
pub const FORMATS: [(&str, &str, &str); 4] = [
    ("csv", "CSV", "text/csv"),
    (
        "xlsx",
        "XLSX",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("json", "JSON", "application/json"),
    ("parquet", "Parquet", "application/vnd.apache.parquet"),
];

/// One open dataset as the portal and its APIs show it.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    /// The catalog code (目录编码).
    pub code: String,
    /// CKAN name: the code in lower case.
    pub name: String,
    pub id: String,
    pub title: String,
    pub notes: String,
    pub access: OpenAccess,
    pub provider: String,
    pub provider_name: String,
    pub org_name: String,
    /// Theme (group) slug and title.
    pub group: (String, String),
    pub tags: Vec<String>,
    pub update_cycle: UpdateCycle,
    pub level: String,
    pub open_conditions: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub source_version: Option<i64>,
    pub rows: i64,
    pub columns: Vec<Column>,
    pub views: i64,
    pub downloads: i64,
    pub api_calls: i64,
    /// Lower-cased texts that free-text terms are matched against, with their weights.
    #[serde(skip)]
    pub haystack: [(String, u32); 3],
}

impl Package {
    pub fn resource_id(&self, format: &str) -> String {
        stable_id("resource", &format!("{}/{format}", self.code))
    }

    pub fn has_data(&self) -> bool {
        self.source_version.is_some()
    }

    pub fn url(&self, base: &str) -> String {
        format!("{base}/open/dataset/{}", self.name)
    }

    pub fn download_url(&self, base: &str, format: &str) -> String {
        format!("{base}/open/dataset/{}/download.{format}", self.name)
    }

    fn resources_json(&self, base: &str) -> Vec<Json> {
        if !self.has_data() {
            return Vec::new();
        }
        FORMATS
            .iter()
            .enumerate()
            .map(|(i, (ext, fmt, mime))| {
                json!({
                    "id": self.resource_id(ext),
                    "package_id": self.id,
                    "name": format!("{} ({fmt})", self.title),
                    "description": format!("{}，{fmt} 格式下载", self.title),
                    "format": fmt,
                    "mimetype": mime,
                    "url": self.download_url(base, ext),
                    "url_type": Json::Null,
                    "state": "active",
                    "position": i,
                    "created": ckan_time(&self.created),
                    "last_modified": ckan_time(&self.modified),
                    "metadata_modified": ckan_time(&self.modified),
                    "datastore_active": *ext == "csv",
                    "size": Json::Null,
                    "hash": "",
                    "resource_type": Json::Null,
                    "cache_url": Json::Null,
                    "mimetype_inner": Json::Null,
                })
            })
            .collect()
    }

    pub fn organization_json(&self, base: &str) -> Json {
        json!({
            "id": stable_id("organization", &self.provider),
            "name": self.org_name,
            "title": self.provider_name,
            "type": "organization",
            "description": "",
            "image_url": "",
            "created": ckan_time(&self.created),
            "is_organization": true,
            "approval_status": "approved",
            "state": "active",
            "url": format!("{base}/open/org/{}", self.org_name),
        })
    }

    /// The package dict CKAN clients read (package_show, package_search results).
    pub fn to_ckan(&self, base: &str) -> Json {
        let tags: Vec<Json> = self
            .tags
            .iter()
            .map(|t| {
                json!({"id": stable_id("tag", t), "name": t, "display_name": t,
                       "state": "active", "vocabulary_id": Json::Null})
            })
            .collect();
        let resources = self.resources_json(base);
        json!({
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "notes": self.notes,
            "type": "dataset",
            "state": "active",
            "private": false,
            "isopen": self.access == OpenAccess::Public,
            "license_id": self.license_id(),
            "license_title": self.license_title(),
            "license_url": Json::Null,
            "url": self.url(base),
            "version": self.source_version.map(|v| v.to_string()),
            "author": self.provider_name,
            "author_email": Json::Null,
            "maintainer": self.provider_name,
            "maintainer_email": Json::Null,
            "owner_org": stable_id("organization", &self.provider),
            "organization": self.organization_json(base),
            "groups": [{
                "id": stable_id("group", &self.group.0),
                "name": self.group.0,
                "title": self.group.1,
                "display_name": self.group.1,
                "description": "",
                "image_display_url": "",
            }],
            "tags": tags,
            "num_tags": self.tags.len(),
            "resources": resources,
            "num_resources": resources.len(),
            "metadata_created": ckan_time(&self.created),
            "metadata_modified": ckan_time(&self.modified),
            "creator_user_id": Json::Null,
            "relationships_as_object": [],
            "relationships_as_subject": [],
            "extras": [
                {"key": "catalog_code", "value": self.code},
                {"key": "open_access", "value": self.access.code()},
                {"key": "open_conditions", "value": self.open_conditions},
                {"key": "update_cycle", "value": self.update_cycle.code()},
                {"key": "security_level", "value": self.level},
                {"key": "rows", "value": self.rows.to_string()},
            ],
            "tracking_summary": {"total": self.views, "recent": self.views},
            "num_downloads": self.downloads,
            "num_api_calls": self.api_calls,
        })
    }

    pub fn license_id(&self) -> &'static str {
        match self.access {
            OpenAccess::Public => "cc-by",
            OpenAccess::Conditional => "other-closed",
        }
    }

    pub fn license_title(&self) -> &'static str {
        match self.access {
            OpenAccess::Public => "Creative Commons Attribution 4.0",
            OpenAccess::Conditional => "有条件开放（须经申请） / Conditional (on application)",
        }
    }

    /// The values of a search field, as strings (for matching and facets).
    fn field_values(&self, field: &str) -> Result<Vec<String>, QueryError> {
        Ok(match field {
            "name" => vec![self.name.clone()],
            "id" => vec![self.id.clone()],
            "title" | "title_string" => vec![self.title.clone()],
            "notes" => vec![self.notes.clone()],
            "organization" => vec![self.org_name.clone()],
            "owner_org" => vec![stable_id("organization", &self.provider)],
            "groups" => vec![self.group.0.clone()],
            "tags" => self.tags.clone(),
            "res_format" => {
                if self.has_data() {
                    FORMATS.iter().map(|f| f.1.to_string()).collect()
                } else {
                    vec![]
                }
            }
            "license_id" => vec![self.license_id().into()],
            "update_cycle" => vec![self.update_cycle.code().into()],
            "open_access" => vec![self.access.code().into()],
            "security_level" => vec![self.level.clone()],
            "catalog_code" => vec![self.code.clone()],
            "state" => vec!["active".into()],
            "type" | "dataset_type" => vec!["dataset".into()],
            "capacity" => vec!["public".into()],
            "private" => vec!["false".into()],
            "num_resources" => vec![self.resources_count().to_string()],
            "num_tags" => vec![self.tags.len().to_string()],
            "metadata_modified" | "metadata_created" => vec![],
            other => {
                return Err(QueryError(format!("undefined field {other}")));
            }
        })
    }

    fn resources_count(&self) -> usize {
        if self.has_data() { FORMATS.len() } else { 0 }
    }

    fn instant(&self, field: &str) -> Option<DateTime<Utc>> {
        match field {
            "metadata_modified" => Some(self.modified),
            "metadata_created" => Some(self.created),
            _ => None,
        }
    }

    /// Free-text score of one term (cut into `words`): title ×3, tags and organization ×2,
    /// notes and columns ×1; 0 unless every word occurs.
    fn text_score(&self, words: &[String]) -> u32 {
        let mut total = 0;
        for w in words {
            let s: u32 = self
                .haystack
                .iter()
                .filter(|(text, _)| text.contains(w.as_str()))
                .map(|(_, weight)| *weight)
                .sum();
            if s == 0 {
                return 0;
            }
            total += s;
        }
        total
    }

    /// Evaluates a query: `None` when it does not match, else the free-text score. `words`
    /// holds each free-text term cut into words (see [`term_words`]).
    pub fn eval(
        &self,
        e: &Expr,
        now: DateTime<Utc>,
        prep: &Prepared,
    ) -> Result<Option<u32>, QueryError> {
        Ok(match e {
            Expr::All => Some(1),
            Expr::And(parts) => {
                let mut score = 0;
                for p in parts {
                    match self.eval(p, now, prep)? {
                        Some(s) => score += s,
                        None => return Ok(None),
                    }
                }
                Some(score)
            }
            Expr::Or(parts) => {
                let mut best: Option<u32> = None;
                for p in parts {
                    if let Some(s) = self.eval(p, now, prep)? {
                        best = Some(best.map_or(s, |b| b + s));
                    }
                }
                best
            }
            Expr::Not(inner) => match self.eval(inner, now, prep)? {
                Some(_) => None,
                None => Some(0),
            },
            Expr::Match(None, Value::Term(t) | Value::Phrase(t)) => {
                if t.contains('*') || t.contains('?') {
                    let t = t.to_lowercase();
                    self.haystack
                        .iter()
                        .any(|(h, _)| h.split_whitespace().any(|w| wildcard(&t, w)))
                        .then_some(1)
                } else {
                    let w = prep.words.get(t).map(Vec::as_slice).unwrap_or_default();
                    Some(self.text_score(w)).filter(|s| *s > 0)
                }
            }
            Expr::Match(None, _) => None,
            Expr::Match(Some(f), v) => {
                if let Some(at) = self.instant(f) {
                    return Ok(match_instant(at, v, now, prep)?.then_some(1));
                }
                let values = self.field_values(f)?;
                let hit = match v {
                    Value::Any => !values.is_empty(),
                    Value::Term(t) if t.contains('*') || t.contains('?') => {
                        values.iter().any(|x| wildcard(t, x))
                    }
                    Value::Term(t) | Value::Phrase(t) => {
                        if matches!(f.as_str(), "title" | "notes") {
                            values
                                .iter()
                                .any(|x| x.to_lowercase().contains(&t.to_lowercase()))
                        } else {
                            values.iter().any(|x| x == t || x.eq_ignore_ascii_case(t))
                        }
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
        })
    }
}

/// What a query needs computed once before it is matched against thousands of packages:
/// each free-text term cut into words, each date bound parsed.
#[derive(Default)]
pub struct Prepared {
    words: HashMap<String, Vec<String>>,
    instants: HashMap<String, DateTime<Utc>>,
}

impl Prepared {
    pub fn add(&mut self, e: &Expr, now: DateTime<Utc>) {
        match e {
            Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| self.add(p, now)),
            Expr::Not(inner) => self.add(inner, now),
            Expr::Match(None, Value::Term(t) | Value::Phrase(t)) => {
                let words = shuniu_search::query_words(t);
                let words = if words.is_empty() {
                    vec![t.to_lowercase()]
                } else {
                    words
                };
                self.words.insert(t.clone(), words);
            }
            Expr::Match(Some(_), v) => {
                let bounds: Vec<&String> = match v {
                    Value::Term(t) | Value::Phrase(t) => vec![t],
                    Value::Range { lo, hi, .. } => lo.iter().chain(hi.iter()).collect(),
                    Value::Any => vec![],
                };
                for b in bounds {
                    // Only what parses as a date; other fields never look here.
                    if let Ok(t) = parse_instant(b, now) {
                        self.instants.insert(b.clone(), t);
                    }
                }
            }
            _ => {}
        }
    }
}

fn in_range(x: &str, lo: Option<&str>, hi: Option<&str>, lo_inc: bool, hi_inc: bool) -> bool {
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

fn match_instant(
    at: DateTime<Utc>,
    v: &Value,
    now: DateTime<Utc>,
    prep: &Prepared,
) -> Result<bool, QueryError> {
    let parse = |s: &str| match prep.instants.get(s) {
        Some(t) => Ok(*t),
        None => parse_instant(s, now),
    };
    Ok(match v {
        Value::Any => true,
        Value::Term(t) | Value::Phrase(t) => parse(t)? == at,
        Value::Range {
            lo,
            hi,
            lo_inclusive,
            hi_inclusive,
        } => {
            let lo_ok = match lo {
                None => true,
                Some(l) => {
                    let l = parse(l)?;
                    at > l || (*lo_inclusive && at == l)
                }
            };
            let hi_ok = match hi {
                None => true,
                Some(h) => {
                    let h = parse(h)?;
                    at < h || (*hi_inclusive && at == h)
                }
            };
            lo_ok && hi_ok
        }
    })
}

/// A provider department on the portal (CKAN organization).
#[derive(Debug, Clone, Serialize)]
pub struct Organization {
    pub code: String,
    pub name: String,
    pub title: String,
    pub id: String,
    pub package_count: usize,
}

/// A theme (CKAN group): the catalog classification's 项 under its 类.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub name: String,
    pub title: String,
    pub id: String,
    pub package_count: usize,
}

/// The open catalog at one moment.
#[derive(Default)]
pub struct Snapshot {
    /// Sorted by name.
    pub packages: Vec<Arc<Package>>,
    by_key: HashMap<String, usize>,
    pub organizations: Vec<Organization>,
    pub groups: Vec<Group>,
    pub tags: Vec<(String, usize)>,
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
        let mut prep = Prepared::default();
        prep.add(&q, now);
        fq.iter().for_each(|f| prep.add(f, now));
        let mut hits: Vec<(u32, &Arc<Package>)> = Vec::new();
        for pkg in &self.packages {
            let Some(score) = pkg.eval(&q, now, &prep)? else {
                continue;
            };
            let mut ok = true;
            for f in &fq {
                if pkg.eval(f, now, &prep)?.is_none() {
                    ok = false;
                    break;
                }
            }
            if ok {
                hits.push((score, pkg));
            }
        }
        hits.sort_by(|a, b| {
            for (key, desc) in &sort {
                let o = match key {
                    SortKey::Score => a.0.cmp(&b.0),
                    SortKey::Name => a.1.name.cmp(&b.1.name),
                    SortKey::Title => a.1.title.cmp(&b.1.title),
                    SortKey::Modified => a.1.modified.cmp(&b.1.modified),
                    SortKey::Created => a.1.created.cmp(&b.1.created),
                    SortKey::Id => a.1.id.cmp(&b.1.id),
                    SortKey::Views => a.1.views.cmp(&b.1.views),
                    SortKey::Downloads => a.1.downloads.cmp(&b.1.downloads),
                };
                let o = if *desc { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            a.1.name.cmp(&b.1.name)
        });
        let mut facets = BTreeMap::new();
        for field in &p.facet_fields {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for (_, pkg) in &hits {
                let mut vals = pkg.field_values(field)?;
                vals.sort();
                vals.dedup();
                for v in vals {
                    *counts.entry(v).or_default() += 1;
                }
            }
            let mut items: Vec<(String, usize)> = counts
                .into_iter()
                .filter(|(_, c)| *c >= p.facet_mincount)
                .collect();
            items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            if let Some(limit) = p.facet_limit {
                items.truncate(limit);
            }
            facets.insert(field.clone(), items);
        }
        let count = hits.len();
        let results = hits
            .into_iter()
            .skip(p.start)
            .take(p.rows)
            .map(|(_, pkg)| pkg.clone())
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
