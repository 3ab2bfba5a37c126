//! `Events`: intake, classification, dispatch, the handling steps, deadlines and escalation.
//!
//! Every change is one transaction (the event's row and its new step) followed by an audit
//! entry; what may be done is decided by the policy module (`ManageEvents` for the command
//! centre, `HandleEvents` for the department an event is dispatched to).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_keys::MasterKey;
use shuniu_policy::{Action, Target, decide};
use shuniu_sharing::Sharing;
use shuniu_store::{EventCategoryRow, EventFilter, EventRow, EventRuleRow, EventStepRow, Store};
use shuniu_types::{Actor, IdNumber, MaskingRule};

use crate::Result;
use crate::classify::{Classifier, Seed};
use crate::error::EventError;
use crate::intake::Photo;
use crate::model::{self, Channel, EventAction, EventState, Point, Urgency};

/// A suggestion this sure is dispatched without waiting for the dispatcher.
pub const AUTO_DISPATCH_CONFIDENCE: f64 = 0.6;
/// Reports of the same category within this distance and window are one event.
pub const DUPLICATE_METRES: f64 = 100.0;
pub const DUPLICATE_HOURS: i64 = 24;

/// A report as it arrives from any channel, checked at the edge.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub channel: Option<Channel>,
    /// The category (an Open311 service code); suggested from the text when absent.
    pub category: Option<String>,
    pub description: String,
    pub address: Option<String>,
    pub point: Option<Point>,
    pub urgency: Option<Urgency>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub reporter_email: Option<String>,
    /// A citizen reporter's ID number (the hotline knows it): the event then appears on their
    /// own record.
    pub reporter_id: Option<IdNumber>,
    /// The sending system's own number (the hotline's work order number, a camera alert id).
    pub external_id: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub media_url: Option<String>,
    /// Photos taken with the report (an inspector's, a camera's frame).
    pub photos: Vec<Photo>,
    /// When it was reported, for imports of past work orders (now by default).
    pub reported_at: Option<DateTime<Utc>>,
    /// The district (GB/T 2260), when the sender knows it without a place: an indicator's
    /// breakdown, or the city's code for the whole city.
    pub district: Option<String>,
    /// The department responsible, when the sender knows it (an indicator's owner): the event
    /// is dispatched to it without the rules.
    pub department: Option<String>,
}

/// An event as a user sees it: the reporter shown only to those who may see them.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    #[serde(flatten)]
    pub event: EventJson,
    pub steps: Vec<StepJson>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventJson {
    pub id: String,
    pub parent_id: Option<String>,
    pub channel: String,
    pub external_id: Option<String>,
    pub category: String,
    pub category_name: String,
    pub confidence: Option<f64>,
    pub description: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub district: String,
    pub state: String,
    pub state_name: String,
    pub urgency: String,
    pub department: Option<String>,
    pub assisting: Vec<String>,
    pub reported_at: String,
    pub due_at: Option<String>,
    pub closed_at: Option<String>,
    pub overdue: bool,
    pub escalation: i64,
    pub satisfaction: Option<i64>,
    pub attributes: serde_json::Value,
    pub media_url: String,
    pub updated_at: String,
    /// `{name, phone, email}` for the command centre; masked (`张*`, `138****5678`) for others.
    pub reporter: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepJson {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub department: String,
    pub action: String,
    pub action_name: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: String,
    pub photos: Vec<String>,
}

/// What an action carries besides itself.
#[derive(Debug, Clone, Default)]
pub struct ActInput {
    pub note: String,
    /// Dispatch and transfer: the department; when absent, the rules decide.
    pub department: Option<String>,
    pub assisting: Vec<String>,
    pub photos: Vec<String>,
    /// Photos uploaded with this step (kept in the control plane, referenced as `media:…`).
    pub uploads: Vec<Photo>,
    /// Verification: the reporter's satisfaction, 1–5 (回访).
    pub satisfaction: Option<i64>,
    /// Dispatch: the category the dispatcher confirms or corrects.
    pub category: Option<String>,
    /// For imports of past work orders and for the scheduler (now by default).
    pub at: Option<DateTime<Utc>>,
}

/// A category and rule input.
#[derive(Debug, Clone)]
pub struct CategoryInput {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
    pub hours: [i64; 3],
    pub keywords: Vec<String>,
    pub attributes: serde_json::Value,
    pub description: String,
}

/// What one pass of the deadline watcher did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub reminded: u64,
    pub escalated: u64,
}

/// Per department (or district): the city's assessment figures (考核).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub key: String,
    pub events: i64,
    pub closed: i64,
    pub closed_on_time: i64,
    pub open_overdue: i64,
    pub escalated: i64,
    pub satisfaction: Option<f64>,
    /// Closed on time among those due so far.
    pub on_time_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Statistics {
    pub from: String,
    pub to: String,
    pub total: Tally,
    pub by_department: Vec<Tally>,
    pub by_district: Vec<Tally>,
    /// Reports merged into an earlier event nearby (重复事件).
    pub repeats: i64,
    /// The places reported most: (district, street, category, events).
    pub hot_spots: Vec<HotSpot>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HotSpot {
    pub district: String,
    pub street: String,
    pub category: String,
    pub events: i64,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) audit: AuditLog,
    pub(crate) sharing: Sharing,
    pub(crate) keys: Arc<MasterKey>,
    classifier: RwLock<Classifier>,
    /// The tree and the rules, read on every report: kept for a while. Changes made here
    /// clear it; another hub instance's changes (PostgreSQL, several servers) are seen
    /// within `TREE_TTL`.
    tree: RwLock<Option<(std::time::Instant, Arc<Tree>)>>,
}

/// How long the tree and rules are kept before being read again.
const TREE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

struct Tree {
    categories: Vec<EventCategoryRow>,
    rules: Vec<EventRuleRow>,
}

/// The event engine. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) fn internal(e: impl std::fmt::Display) -> EventError {
    EventError::Internal(e.to_string())
}

pub(crate) fn random_hex(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(internal)?;
    Ok(hex::encode(b))
}

fn reporter_label(id: &str) -> String {
    format!("event-reporter:{id}")
}

/// Categories without children: what can be reported (Open311's services).
pub fn leaves(cats: &[EventCategoryRow]) -> Vec<&EventCategoryRow> {
    cats.iter()
        .filter(|c| !cats.iter().any(|o| o.parent.as_deref() == Some(&c.code)))
        .collect()
}

impl Events {
    pub async fn open(
        store: Store,
        audit: AuditLog,
        sharing: Sharing,
        keys: Arc<MasterKey>,
    ) -> Result<Events> {
        let me = Events {
            inner: Arc::new(Inner {
                store,
                audit,
                sharing,
                keys,
                classifier: RwLock::new(Classifier::default()),
                tree: RwLock::new(None),
            }),
        };
        me.retrain().await?;
        Ok(me)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Learns the categories anew: their names and keywords, then the latest 20,000
    /// classified events.
    pub async fn retrain(&self) -> Result<usize> {
        let cats = self.store().event_categories().await.map_err(internal)?;
        let leaves = leaves(&cats);
        let seeds: Vec<Seed> = leaves
            .iter()
            .map(|c| Seed {
                code: &c.code,
                name: &c.name,
                keywords: &c.keywords,
            })
            .collect();
        let mut clf = Classifier::seeded(&seeds);
        let past = self
            .store()
            .classified_events(20_000)
            .await
            .map_err(internal)?;
        for (code, text) in &past {
            if leaves.iter().any(|c| &c.code == code) {
                clf.learn(code, text);
            }
        }
        let n = past.len();
        *self
            .inner
            .classifier
            .write()
            .map_err(|_| internal("classifier lock"))? = clf;
        Ok(n)
    }

    /// The category suggested for a text, with its confidence.
    pub fn suggest(&self, text: &str) -> Option<(String, f64)> {
        self.inner.classifier.read().ok()?.suggest(text)
    }

    async fn tree(&self) -> Result<Arc<Tree>> {
        if let Ok(t) = self.inner.tree.read()
            && let Some((at, tree)) = t.as_ref()
            && at.elapsed() < TREE_TTL
        {
            return Ok(tree.clone());
        }
        let tree = Arc::new(Tree {
            categories: self.store().event_categories().await.map_err(internal)?,
            rules: self.store().event_rules().await.map_err(internal)?,
        });
        if let Ok(mut t) = self.inner.tree.write() {
            *t = Some((std::time::Instant::now(), tree.clone()));
        }
        Ok(tree)
    }

    fn forget_tree(&self) {
        if let Ok(mut t) = self.inner.tree.write() {
            *t = None;
        }
    }

    pub async fn categories(&self) -> Result<Vec<EventCategoryRow>> {
        Ok(self.tree().await?.categories.clone())
    }

    /// The leaves of the tree: what can be reported (Open311's services).
    pub async fn services(&self) -> Result<Vec<EventCategoryRow>> {
        Ok(leaves(&self.categories().await?)
            .into_iter()
            .cloned()
            .collect())
    }

    pub async fn put_category(&self, actor: &Actor, c: &CategoryInput) -> Result<()> {
        decide(actor, Action::ManageEvents, Target::Hub).map_err(EventError::Denied)?;
        let code = c.code.trim();
        if code.is_empty()
            || code.len() > 20
            || !code
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        {
            return Err(EventError::invalid(
                "EVENT_CATEGORY_CODE",
                "分类代码须为 1–20 位字母、数字或连字符",
                "a category code is 1–20 letters, digits or hyphens",
            ));
        }
        if c.name.trim().is_empty() || c.hours.iter().any(|h| *h <= 0 || *h > 24 * 60) {
            return Err(EventError::invalid(
                "EVENT_CATEGORY_INVALID",
                "分类须有名称，各紧急程度的处置时限须为 1–1440 个工作小时",
                "a category needs a name and deadlines of 1–1440 working hours per urgency",
            ));
        }
        let mut tx = self.store().begin().await.map_err(internal)?;
        tx.put_event_category(&EventCategoryRow {
            code: code.to_string(),
            name: c.name.trim().to_string(),
            parent: c.parent.clone().filter(|p| !p.trim().is_empty()),
            normal_hours: c.hours[0],
            urgent_hours: c.hours[1],
            emergency_hours: c.hours[2],
            keywords: c.keywords.clone(),
            attributes: c.attributes.clone(),
            description: c.description.clone(),
        })
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.forget_tree();
        self.admin(actor, "event.category", code, &c.name).await?;
        Ok(())
    }

    pub async fn rules(&self) -> Result<Vec<EventRuleRow>> {
        Ok(self.tree().await?.rules.clone())
    }

    /// Category (or branch; empty for any) × district (empty for any) → department.
    pub async fn put_rule(
        &self,
        actor: &Actor,
        category: &str,
        district: &str,
        department: &str,
        assisting: &[String],
    ) -> Result<EventRuleRow> {
        decide(actor, Action::ManageEvents, Target::Hub).map_err(EventError::Denied)?;
        if self
            .store()
            .department(department)
            .await
            .map_err(internal)?
            .is_none()
        {
            return Err(EventError::invalid(
                "EVENT_DEPARTMENT_UNKNOWN",
                format!("部门 {department} 不存在"),
                format!("no department {department}"),
            ));
        }
        let rule = EventRuleRow {
            id: format!("R{}", random_hex(6)?),
            category: category.trim().to_string(),
            district: district.trim().to_string(),
            department: department.to_string(),
            assisting: assisting.to_vec(),
            created_at: shuniu_store::now(),
        };
        let mut tx = self.store().begin().await.map_err(internal)?;
        tx.put_event_rule(&rule).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.forget_tree();
        self.admin(
            actor,
            "event.rule",
            &rule.id,
            &format!("{} × {} → {department}", rule.category, rule.district),
        )
        .await?;
        Ok(rule)
    }

    pub(crate) async fn admin(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()> {
        self.inner
            .audit
            .record(
                Entry::by(Kind::Admin, action, &actor.principal, &actor.department)
                    .target(target.to_string())
                    .detail(detail.to_string()),
            )
            .await
            .map_err(internal)?;
        Ok(())
    }

    /// The department responsible for a category in a district: the most specific rule (the
    /// longest category prefix, then a district rule over a city-wide one).
    fn route<'r>(
        rules: &'r [EventRuleRow],
        cats: &[EventCategoryRow],
        category: &str,
        district: &str,
    ) -> Option<&'r EventRuleRow> {
        // The category's branch, leaf first.
        let mut branch = vec![category.to_string()];
        let mut at = category.to_string();
        for _ in 0..8 {
            match cats
                .iter()
                .find(|c| c.code == at)
                .and_then(|c| c.parent.clone())
            {
                Some(p) => {
                    branch.push(p.clone());
                    at = p;
                }
                None => break,
            }
        }
        branch.push(String::new());
        for c in &branch {
            for d in [district, ""] {
                if let Some(r) = rules.iter().find(|r| &r.category == c && r.district == d) {
                    return Some(r);
                }
            }
        }
        None
    }

    /// Takes in a report from any channel: located, classified (or its category checked),
    /// merged into an open event of the same category nearby (its `parent_id`), or dispatched
    /// by the rules when sure enough.
    pub async fn report(&self, by: &Actor, r: Report) -> Result<EventRow> {
        let channel = r.channel.unwrap_or(Channel::Console);
        // A sending system's number is one event: a work order pushed again (a retry, an
        // import run twice) gets the event it already made.
        if let Some(x) = r
            .external_id
            .as_deref()
            .map(str::trim)
            .filter(|x| !x.is_empty())
            && let Some(known) = self
                .store()
                .event_by_external(channel.code(), x)
                .await
                .map_err(internal)?
        {
            return Ok(known);
        }
        let description = r.description.trim();
        if description.is_empty() || description.chars().count() > 4_000 {
            return Err(EventError::invalid(
                "EVENT_DESCRIPTION",
                "请描述问题（不超过 4000 字）",
                "describe the problem (at most 4,000 characters)",
            ));
        }
        if let Some(p) = r.point
            && !p.valid()
        {
            return Err(EventError::invalid(
                "EVENT_LOCATION",
                "经纬度无效",
                "the latitude or longitude is not valid",
            ));
        }
        let address = r.address.clone().unwrap_or_default();
        // Where: the coordinates' district, else the address's.
        let parsed = shuniu_types::address::parse(&address, None);
        let given = r
            .district
            .as_deref()
            .map(str::trim)
            .filter(|d| model::known_district(d));
        let district = match (r.point, parsed.district, given) {
            (Some(p), _, _) => model::district_of(p).0.to_string(),
            (None, Some(d), _) => d.to_string(),
            (None, None, Some(d)) => d.to_string(),
            (None, None, None) => {
                return Err(EventError::invalid(
                    "EVENT_LOCATION",
                    "请提供经纬度或可识别到区（市）的地址",
                    "give a latitude and longitude, or an address that names the district",
                ));
            }
        };
        let point = r.point.or_else(|| model::centre_of(&district));
        let street = parsed
            .street
            .clone()
            .or(parsed.road.clone())
            .unwrap_or_default();
        // What: the category given, else the suggestion.
        // The tree, read once: its leaves are what can be reported.
        let cats = self.categories().await?;
        let services = leaves(&cats);
        let (category, confidence) = match r.category.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => {
                if !services.iter().any(|c| c.code == code) {
                    return Err(EventError::NotFound(format!("service {code}")));
                }
                (code.to_string(), None)
            }
            _ => match self.suggest(description) {
                Some((code, p)) => (code, Some(p)),
                None => {
                    return Err(EventError::invalid(
                        "EVENT_CATEGORY_REQUIRED",
                        "无法从描述判断事件分类，请选择分类",
                        "the category cannot be told from the description: choose one",
                    ));
                }
            },
        };
        let cat = services
            .iter()
            .find(|c| c.code == category)
            .ok_or_else(|| EventError::NotFound(format!("service {category}")))?;
        let now = r.reported_at.unwrap_or_else(Utc::now);
        let urgency = r.urgency.unwrap_or(Urgency::Normal);
        let hours = match urgency {
            Urgency::Normal => cat.normal_hours,
            Urgency::Urgent => cat.urgent_hours,
            Urgency::Emergency => cat.emergency_hours,
        };
        let id = format!("E{}-{}", now.format("%Y%m%d"), random_hex(5)?);
        let reporter = serde_json::json!({
            "name": r.reporter_name.clone().unwrap_or_default(),
            "phone": r.reporter_phone.clone().unwrap_or_default(),
            "email": r.reporter_email.clone().unwrap_or_default(),
        });
        let mut e = EventRow {
            id: id.clone(),
            token: random_hex(12)?,
            parent_id: None,
            channel: channel.code().into(),
            external_id: r
                .external_id
                .as_deref()
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string),
            category: category.clone(),
            confidence,
            description: description.to_string(),
            address,
            lat: point.map(|p| p.lat),
            lon: point.map(|p| p.lon),
            district: district.clone(),
            street,
            reporter_sealed: self
                .inner
                .keys
                .seal_text(&reporter_label(&id), &reporter.to_string())
                .map_err(internal)?,
            reporter_subject: r
                .reporter_id
                .as_ref()
                .map(|i| self.inner.audit.subject(i.as_str())),
            state: EventState::Reported.code().into(),
            urgency: urgency.code().into(),
            department: None,
            assisting: Vec::new(),
            reported_at: now.to_rfc3339(),
            dispatched_at: None,
            handled_at: None,
            closed_at: None,
            due_at: Some(
                self.inner
                    .sharing
                    .deadline_in_working_hours(now, hours.max(1) as u32)
                    .to_rfc3339(),
            ),
            escalation: 0,
            reminded: false,
            satisfaction: None,
            attributes: serde_json::json!(r.attributes),
            media_url: r.media_url.clone().unwrap_or_default(),
            updated_at: now.to_rfc3339(),
        };
        // The same problem reported again nearby: folded into the open event. Nearby is
        // within 100 m of the coordinates given, or, for a report placed by its address
        // only (at its district's centre), the same address.
        let comparable = r.point.is_some() || !e.address.trim().is_empty();
        let parent = match point.filter(|_| comparable) {
            Some(p) => self
                .store()
                .events(&EventFilter {
                    categories: vec![category.clone()],
                    district: Some(district.clone()),
                    states: vec!["reported".into(), "dispatched".into(), "handling".into()],
                    reported_from: Some((now - Duration::hours(DUPLICATE_HOURS)).to_rfc3339()),
                    // Only the candidates: those in the box around the point (or at the
                    // same address), not every open event of the kind in the district.
                    within: r.point.map(|_| p.box_around(DUPLICATE_METRES)),
                    address: r
                        .point
                        .is_none()
                        .then(|| e.address.trim().to_string())
                        .filter(|a| !a.is_empty()),
                    limit: 200,
                    unordered: true,
                    ..Default::default()
                })
                .await
                .map_err(internal)?
                .into_iter()
                .filter(|o| {
                    if r.point.is_none() {
                        return !e.address.trim().is_empty()
                            && o.address.trim() == e.address.trim();
                    }
                    match (o.lat, o.lon) {
                        (Some(lat), Some(lon)) => {
                            p.metres_to(Point { lat, lon }) <= DUPLICATE_METRES
                        }
                        _ => false,
                    }
                })
                // The nearest, the earliest among equals.
                .min_by(|a, b| {
                    let d = |o: &EventRow| {
                        o.lat
                            .zip(o.lon)
                            .map_or(f64::MAX, |(lat, lon)| p.metres_to(Point { lat, lon }))
                    };
                    d(a).total_cmp(&d(b))
                        .then_with(|| a.reported_at.cmp(&b.reported_at))
                }),
            None => None,
        };
        let mut steps = vec![(
            EventAction::Report,
            None,
            EventState::Reported,
            String::new(),
        )];
        if let Some(parent) = &parent {
            e.parent_id = Some(parent.id.clone());
            e.state = EventState::Merged.code().into();
            e.due_at = None;
            steps.push((
                EventAction::Merge,
                Some(EventState::Reported),
                EventState::Merged,
                format!(
                    "同一位置同类事件，并入 {} / merged into {}",
                    parent.id, parent.id
                ),
            ));
        } else if let Some(dept) = r
            .department
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            e.department = Some(dept.to_string());
            e.dispatched_at = Some(now.to_rfc3339());
            e.state = EventState::Dispatched.code().into();
            steps.push((
                EventAction::Dispatch,
                Some(EventState::Reported),
                EventState::Dispatched,
                "派给报送方指定的责任部门 / dispatched to the department the sender named".into(),
            ));
        } else if confidence.is_none_or(|p| p >= AUTO_DISPATCH_CONFIDENCE) {
            let rules = self.rules().await?;
            if let Some(rule) = Self::route(&rules, &cats, &category, &district) {
                e.department = Some(rule.department.clone());
                e.assisting = rule.assisting.clone();
                e.dispatched_at = Some(now.to_rfc3339());
                e.state = EventState::Dispatched.code().into();
                steps.push((
                    EventAction::Dispatch,
                    Some(EventState::Reported),
                    EventState::Dispatched,
                    format!("按派遣规则自动派遣 / dispatched by rule {}", rule.id),
                ));
            }
        }
        let mut photos: Vec<String> = r.media_url.iter().cloned().collect();
        let mut tx = self.store().begin().await.map_err(internal)?;
        for p in &r.photos {
            photos.push(p.keep(&mut tx, &by.principal).await?);
        }
        tx.put_event(&e).await.map_err(internal)?;
        for (action, from, to, note) in &steps {
            tx.add_event_step(&EventStepRow {
                event_id: e.id.clone(),
                seq: 0,
                at: now.to_rfc3339(),
                actor: by.principal.clone(),
                department: by.department.clone(),
                action: action.code().into(),
                from_state: from.map(|s| s.code().to_string()),
                to_state: to.code().into(),
                note: note.clone(),
                photos: if *action == EventAction::Report {
                    photos.clone()
                } else {
                    Vec::new()
                },
            })
            .await
            .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        // A category a person chose teaches the classifier (a suggestion would only echo it).
        if confidence.is_none()
            && let Ok(mut clf) = self.inner.classifier.write()
        {
            clf.learn(&category, description);
        }
        for (action, _, _, note) in &steps {
            self.step_audit(by, &e, *action, note).await?;
        }
        Ok(e)
    }

    async fn step_audit(
        &self,
        by: &Actor,
        e: &EventRow,
        action: EventAction,
        note: &str,
    ) -> Result<()> {
        let mut entry = Entry::by(
            Kind::Admin,
            &format!("event.{}", action.code()),
            &by.principal,
            &by.department,
        )
        .target(e.id.clone())
        .detail(if note.is_empty() {
            format!("{} {}", e.category, e.district)
        } else {
            note.chars().take(500).collect()
        });
        if let Some(s) = &e.reporter_subject {
            entry = entry.subjects(vec![s.clone()]);
        }
        self.inner.audit.record(entry).await.map_err(internal)?;
        Ok(())
    }

    /// Whether the actor may see this event: the command centre, or the department it is
    /// dispatched to (or assisting).
    fn may_see(actor: &Actor, e: &EventRow) -> bool {
        decide(actor, Action::ManageEvents, Target::Hub).is_ok()
            || e.department.iter().chain(e.assisting.iter()).any(|d| {
                decide(
                    actor,
                    Action::HandleEvents,
                    Target::SharingOf { department: d },
                )
                .is_ok()
            })
    }

    pub(crate) async fn load(&self, actor: &Actor, id: &str) -> Result<EventRow> {
        let e = self
            .store()
            .event(id.trim())
            .await
            .map_err(internal)?
            .ok_or_else(|| EventError::NotFound(format!("event {}", id.trim())))?;
        if Self::may_see(actor, &e) {
            Ok(e)
        } else {
            Err(EventError::NotFound(format!("event {}", id.trim())))
        }
    }

    /// Does `action` to an event, if the actor may and the event's state allows it.
    pub async fn act(
        &self,
        actor: &Actor,
        id: &str,
        action: EventAction,
        input: &ActInput,
    ) -> Result<EventRow> {
        let mut e = self.load(actor, id).await?;
        let state = EventState::parse_term(&e.state)
            .ok_or_else(|| internal(format!("unknown state {}", e.state)))?;
        if Self::is_hub_action(action) {
            decide(actor, Action::ManageEvents, Target::Hub).map_err(EventError::Denied)?;
        } else {
            let dept = e.department.clone().unwrap_or_default();
            decide(
                actor,
                Action::HandleEvents,
                Target::SharingOf { department: &dept },
            )
            .map_err(EventError::Denied)?;
        }
        let to = model::next(state, action).ok_or_else(|| {
            EventError::invalid(
                "EVENT_STATE",
                format!("事件当前为“{}”，不能{}", state.zh(), action.zh()),
                format!("the event is {}: it cannot be {}", state.en(), action.en()),
            )
        })?;
        if matches!(action, EventAction::Return | EventAction::Reject)
            && input.note.trim().is_empty()
        {
            return Err(EventError::invalid(
                "EVENT_REASON_REQUIRED",
                "退单或核查不通过须说明理由",
                "a return or a failed check needs a reason",
            ));
        }
        let now = input.at.unwrap_or_else(Utc::now);
        let mut note = input.note.trim().to_string();
        match action {
            EventAction::Dispatch | EventAction::Transfer => {
                if let Some(c) = input.category.as_deref().filter(|c| !c.trim().is_empty()) {
                    if !self.services().await?.iter().any(|s| s.code == c) {
                        return Err(EventError::NotFound(format!("service {c}")));
                    }
                    if c != e.category {
                        if let Ok(mut clf) = self.inner.classifier.write() {
                            clf.learn(c, &e.description);
                        }
                        e.category = c.to_string();
                        e.confidence = None;
                    }
                }
                let (department, assisting) = match &input.department {
                    Some(d) if !d.trim().is_empty() => {
                        (d.trim().to_string(), input.assisting.clone())
                    }
                    _ => {
                        let cats = self.categories().await?;
                        let rules = self.rules().await?;
                        let rule = Self::route(&rules, &cats, &e.category, &e.district)
                            .ok_or_else(|| {
                                EventError::invalid(
                                    "EVENT_NO_RULE",
                                    "没有适用的派遣规则，请指定处置部门",
                                    "no dispatch rule applies: name the department",
                                )
                            })?;
                        (rule.department.clone(), rule.assisting.clone())
                    }
                };
                if self
                    .store()
                    .department(&department)
                    .await
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(EventError::invalid(
                        "EVENT_DEPARTMENT_UNKNOWN",
                        format!("部门 {department} 不存在"),
                        format!("no department {department}"),
                    ));
                }
                if note.is_empty() {
                    note = format!("派遣至 {department} / dispatched to {department}");
                }
                e.department = Some(department);
                e.assisting = assisting;
                e.dispatched_at = Some(now.to_rfc3339());
            }
            EventAction::Handle => e.handled_at = Some(now.to_rfc3339()),
            EventAction::Verify => {
                if let Some(s) = input.satisfaction {
                    if !(1..=5).contains(&s) {
                        return Err(EventError::invalid(
                            "EVENT_SATISFACTION",
                            "满意度为 1–5",
                            "satisfaction is 1 to 5",
                        ));
                    }
                    e.satisfaction = Some(s);
                }
                e.closed_at = Some(now.to_rfc3339());
            }
            EventAction::Reopen => {
                e.closed_at = None;
                e.handled_at = None;
                e.department = None;
                e.escalation = 0;
                e.reminded = false;
                let cats = self.categories().await?;
                let hours = cats
                    .iter()
                    .find(|c| c.code == e.category)
                    .map_or(24, |c| c.normal_hours);
                e.due_at = Some(
                    self.inner
                        .sharing
                        .deadline_in_working_hours(now, hours.max(1) as u32)
                        .to_rfc3339(),
                );
            }
            EventAction::Return => {
                e.department = None;
                e.assisting.clear();
            }
            EventAction::Escalate => e.escalation += 1,
            EventAction::Remind => e.reminded = true,
            _ => {}
        }
        e.state = to.code().into();
        e.updated_at = now.to_rfc3339();
        let mut photos = input.photos.clone();
        let mut tx = self.store().begin().await.map_err(internal)?;
        for p in &input.uploads {
            photos.push(p.keep(&mut tx, &actor.principal).await?);
        }
        tx.put_event(&e).await.map_err(internal)?;
        tx.add_event_step(&EventStepRow {
            event_id: e.id.clone(),
            seq: 0,
            at: now.to_rfc3339(),
            actor: actor.principal.clone(),
            department: actor.department.clone(),
            action: action.code().into(),
            from_state: Some(state.code().into()),
            to_state: to.code().into(),
            note: note.clone(),
            photos,
        })
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.step_audit(actor, &e, action, &note).await?;
        Ok(e)
    }

    /// The command centre dispatches, transfers, verifies, reopens and merges; the department
    /// the event is dispatched to accepts, returns, notes and marks it handled.
    fn is_hub_action(action: EventAction) -> bool {
        matches!(
            action,
            EventAction::Dispatch
                | EventAction::Transfer
                | EventAction::Verify
                | EventAction::Reject
                | EventAction::Reopen
                | EventAction::Merge
                | EventAction::Escalate
                | EventAction::Remind
        )
    }

    /// What this actor may do to the event now (people's actions only: reminders,
    /// escalation and merging are the engine's own).
    pub fn allowed_actions(actor: &Actor, e: &EventRow) -> Vec<EventAction> {
        let Some(state) = EventState::parse_term(&e.state) else {
            return Vec::new();
        };
        let hub = decide(actor, Action::ManageEvents, Target::Hub).is_ok();
        let handler = e.department.as_deref().is_some_and(|d| {
            decide(
                actor,
                Action::HandleEvents,
                Target::SharingOf { department: d },
            )
            .is_ok()
        });
        EventAction::ALL
            .iter()
            .copied()
            .filter(|a| {
                !matches!(
                    a,
                    EventAction::Report
                        | EventAction::Remind
                        | EventAction::Escalate
                        | EventAction::Merge
                )
            })
            .filter(|a| model::next(state, *a).is_some())
            .filter(|a| {
                if Self::is_hub_action(*a) {
                    hub
                } else {
                    handler
                }
            })
            .collect()
    }

    /// Open events the actor may see, per state, and how many of them are past their
    /// deadline: the event centre's cards.
    pub async fn open_counts(&self, actor: &Actor) -> Result<Vec<(String, i64, i64)>> {
        let department = if decide(actor, Action::ManageEvents, Target::Hub).is_ok() {
            None
        } else {
            decide(
                actor,
                Action::HandleEvents,
                Target::SharingOf {
                    department: &actor.department,
                },
            )
            .map_err(EventError::Denied)?;
            Some(actor.department.as_str())
        };
        self.store()
            .event_open_counts(department, &Utc::now().to_rfc3339())
            .await
            .map_err(internal)
    }

    /// Reminds the departments of events due within two hours and escalates those past their
    /// deadline (one level per deadline's length overdue, to the supervising level). Run by
    /// the server every minute; `now` is a parameter so that history can be replayed.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport> {
        let system = Actor {
            principal: "system:events".into(),
            display_name: "事件时限 / event deadlines".into(),
            role: shuniu_types::Role::HubOperator,
            department: String::new(),
        };
        let mut report = SweepReport::default();
        let soon = self
            .store()
            .events(&EventFilter {
                due_before: Some((now + Duration::hours(2)).to_rfc3339()),
                states: vec!["dispatched".into(), "handling".into(), "reported".into()],
                limit: 10_000,
                by_update: true,
                ..Default::default()
            })
            .await
            .map_err(internal)?;
        for e in soon {
            let Some(due) = e
                .due_at
                .as_deref()
                .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
                .map(|d| d.with_timezone(&Utc))
            else {
                continue;
            };
            let input = ActInput {
                at: Some(now),
                ..Default::default()
            };
            if due < now && e.escalation == 0 {
                let note = format!(
                    "超过处置时限（{}），提级督办 / overdue since {}",
                    due.to_rfc3339(),
                    due.to_rfc3339()
                );
                self.act(
                    &system,
                    &e.id,
                    EventAction::Escalate,
                    &ActInput { note, ..input },
                )
                .await?;
                report.escalated += 1;
            } else if due >= now && !e.reminded {
                let note = format!("即将到期（{}）/ due soon", due.to_rfc3339());
                self.act(
                    &system,
                    &e.id,
                    EventAction::Remind,
                    &ActInput { note, ..input },
                )
                .await?;
                report.reminded += 1;
            }
        }
        Ok(report)
    }

    /// An event with its history, as the actor may see it.
    pub async fn view(&self, actor: &Actor, id: &str) -> Result<EventView> {
        let e = self.load(actor, id).await?;
        let steps = self.store().event_steps(&e.id).await.map_err(internal)?;
        let cats = self.categories().await?;
        let full = decide(actor, Action::ManageEvents, Target::Hub).is_ok();
        Ok(EventView {
            event: self.json(&e, &cats, Some(full))?,
            steps: steps
                .into_iter()
                .map(|s| StepJson {
                    action_name: EventAction::parse_term(&s.action)
                        .map_or(s.action.clone(), |a| a.zh().to_string()),
                    seq: s.seq,
                    at: s.at,
                    actor: s.actor,
                    department: s.department,
                    action: s.action,
                    from_state: s.from_state,
                    to_state: s.to_state,
                    note: s.note,
                    photos: s.photos,
                })
                .collect(),
        })
    }

    /// The event's public form: no reporter at all (Open311, the public status page).
    pub fn public(&self, e: &EventRow, cats: &[EventCategoryRow]) -> Result<EventJson> {
        // The reporter is not even opened: the public form never holds it.
        let mut j = self.json(e, cats, None)?;
        j.department = None;
        j.assisting.clear();
        Ok(j)
    }

    /// `reporter`: `Some(true)` in full, `Some(false)` masked, `None` left out.
    fn json(
        &self,
        e: &EventRow,
        cats: &[EventCategoryRow],
        reporter: Option<bool>,
    ) -> Result<EventJson> {
        let Some(full) = reporter else {
            return self.json_with(e, cats, serde_json::Value::Null);
        };
        let reporter: serde_json::Value = self
            .inner
            .keys
            .open_text(&reporter_label(&e.id), &e.reporter_sealed)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null);
        let reporter = if full {
            reporter
        } else {
            // The masking every egress path uses (shuniu-policy), the handler's view included.
            let masked = |k: &str, rule: MaskingRule| {
                let v = reporter.get(k).and_then(|v| v.as_str()).unwrap_or("");
                if v.is_empty() {
                    String::new()
                } else {
                    shuniu_policy::mask::apply(rule, v, &[]).unwrap_or_default()
                }
            };
            serde_json::json!({
                "name": masked("name", MaskingRule::Name),
                "phone": masked("phone", MaskingRule::Mobile),
                "email": masked("email", MaskingRule::Email),
            })
        };
        self.json_with(e, cats, reporter)
    }

    fn json_with(
        &self,
        e: &EventRow,
        cats: &[EventCategoryRow],
        reporter: serde_json::Value,
    ) -> Result<EventJson> {
        let state = EventState::parse_term(&e.state);
        let overdue = state.is_some_and(EventState::is_open)
            && e.due_at
                .as_deref()
                .is_some_and(|d| d < Utc::now().to_rfc3339().as_str());
        Ok(EventJson {
            id: e.id.clone(),
            parent_id: e.parent_id.clone(),
            channel: e.channel.clone(),
            external_id: e.external_id.clone(),
            category: e.category.clone(),
            category_name: cats
                .iter()
                .find(|c| c.code == e.category)
                .map_or(String::new(), |c| c.name.clone()),
            confidence: e.confidence,
            description: e.description.clone(),
            address: e.address.clone(),
            lat: e.lat,
            lon: e.lon,
            district: e.district.clone(),
            state: e.state.clone(),
            state_name: state.map_or(e.state.clone(), |s| s.zh().to_string()),
            urgency: e.urgency.clone(),
            department: e.department.clone(),
            assisting: e.assisting.clone(),
            reported_at: e.reported_at.clone(),
            due_at: e.due_at.clone(),
            closed_at: e.closed_at.clone(),
            overdue,
            escalation: e.escalation,
            satisfaction: e.satisfaction,
            attributes: e.attributes.clone(),
            media_url: e.media_url.clone(),
            updated_at: e.updated_at.clone(),
            reporter,
        })
    }

    /// Events the actor may see: the whole city for the command centre, else those of the
    /// actor's department.
    pub async fn list(&self, actor: &Actor, filter: &EventFilter) -> Result<Vec<EventRow>> {
        let mut f = filter.clone();
        if decide(actor, Action::ManageEvents, Target::Hub).is_err() {
            decide(
                actor,
                Action::HandleEvents,
                Target::SharingOf {
                    department: &actor.department,
                },
            )
            .map_err(EventError::Denied)?;
            f.department = Some(actor.department.clone());
        }
        self.store().events(&f).await.map_err(internal)
    }

    /// Events for the public (Open311): no reporter, no handler.
    pub async fn list_public(&self, filter: &EventFilter) -> Result<Vec<EventRow>> {
        self.store().events(filter).await.map_err(internal)
    }

    /// The steps the public sees: the report and each change of state, without who or notes.
    pub async fn public_steps(&self, id: &str) -> Result<Vec<EventStepRow>> {
        Ok(self
            .store()
            .event_steps(id.trim())
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|s| s.from_state.is_none() || s.from_state.as_deref() != Some(&s.to_state))
            .map(|s| EventStepRow {
                actor: String::new(),
                department: String::new(),
                note: String::new(),
                photos: Vec::new(),
                ..s
            })
            .collect())
    }

    pub async fn by_id(&self, id: &str) -> Result<Option<EventRow>> {
        self.store().event(id.trim()).await.map_err(internal)
    }

    pub async fn by_token(&self, token: &str) -> Result<Option<EventRow>> {
        self.store()
            .event_by_token(token.trim())
            .await
            .map_err(internal)
    }

    /// Steps recorded in `[from, to)` (Open311 update polling), at most `limit`.
    pub async fn updates(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<EventStepRow>> {
        self.store()
            .event_steps_between(&from.to_rfc3339(), &to.to_rfc3339(), limit)
            .await
            .map_err(internal)
    }

    /// A civic app's update on a request it knows (FixMyStreet's servicerequestupdates): a
    /// note on the event's history with the status the app reports; it does not move the
    /// event (only the command centre closes or reopens).
    pub async fn client_update(
        &self,
        client: &Actor,
        id: &str,
        status: &str,
        description: &str,
        media_url: Option<&str>,
    ) -> Result<EventStepRow> {
        let e = self
            .by_id(id)
            .await?
            .ok_or_else(|| EventError::NotFound(format!("service request {}", id.trim())))?;
        if model::fixmystreet_status(status).is_none() {
            return Err(EventError::invalid(
                "EVENT_UPDATE_STATUS",
                format!("无法识别的状态“{status}”"),
                format!("unknown status {status:?}"),
            ));
        }
        let state = EventState::parse_term(&e.state)
            .ok_or_else(|| internal(format!("unknown state {}", e.state)))?;
        let now = Utc::now();
        let step = EventStepRow {
            event_id: e.id.clone(),
            seq: 0,
            at: now.to_rfc3339(),
            actor: client.principal.clone(),
            department: String::new(),
            action: EventAction::Note.code().into(),
            from_state: Some(state.code().into()),
            to_state: state.code().into(),
            note: format!(
                "[{}] {}",
                status.trim().to_ascii_uppercase(),
                description.trim()
            )
            .chars()
            .take(2_000)
            .collect(),
            photos: media_url.map(str::to_string).into_iter().collect(),
        };
        let mut tx = self.store().begin().await.map_err(internal)?;
        let seq = tx.add_event_step(&step).await.map_err(internal)?;
        let mut touched = e.clone();
        touched.updated_at = now.to_rfc3339();
        tx.put_event(&touched).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.step_audit(client, &e, EventAction::Note, &step.note)
            .await?;
        Ok(EventStepRow { seq, ..step })
    }

    /// Issues an Open311 API key to a civic app; only its digest is kept.
    pub async fn issue_open311_key(&self, actor: &Actor, name: &str) -> Result<String> {
        decide(actor, Action::ManageEvents, Target::Hub).map_err(EventError::Denied)?;
        let key = format!("o311_{}", random_hex(20)?);
        let mut tx = self.store().begin().await.map_err(internal)?;
        tx.put_open311_client(
            &shuniu_auth::token_digest(&key),
            name.trim(),
            &actor.principal,
            &shuniu_store::now(),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.admin(actor, "event.open311_key", name, "issued")
            .await?;
        Ok(key)
    }

    /// The civic app an Open311 key belongs to, as the actor its reports are made by.
    pub async fn open311_client(&self, key: &str) -> Result<Option<Actor>> {
        Ok(self
            .store()
            .open311_client(&shuniu_auth::token_digest(key.trim()))
            .await
            .map_err(internal)?
            .map(|name| Actor {
                principal: format!("open311:{name}"),
                display_name: name,
                role: shuniu_types::Role::Viewer,
                department: String::new(),
            }))
    }

    /// The assessment figures (考核) of events reported in `[from, to)`.
    pub async fn statistics(
        &self,
        actor: &Actor,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Statistics> {
        decide(actor, Action::ManageEvents, Target::Hub).map_err(EventError::Denied)?;
        let rows = self
            .store()
            .event_counts(
                &from.to_rfc3339(),
                &to.to_rfc3339(),
                &Utc::now().to_rfc3339(),
            )
            .await
            .map_err(internal)?;
        let mut total = Tally::default();
        let mut by_dept: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_district: BTreeMap<String, Tally> = BTreeMap::new();
        let mut sat: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for r in &rows {
            for (key, t) in [
                (String::new(), &mut total),
                (
                    r.department.clone(),
                    by_dept.entry(r.department.clone()).or_default(),
                ),
                (
                    format!("d:{}", r.district),
                    by_district.entry(r.district.clone()).or_default(),
                ),
            ] {
                t.events += r.events;
                t.escalated += r.escalated;
                if r.state == "closed" {
                    t.closed += r.events;
                    if r.on_time {
                        t.closed_on_time += r.events;
                    }
                } else if !r.on_time {
                    t.open_overdue += r.events;
                }
                let s = sat.entry(key).or_default();
                s.0 += r.satisfaction_sum;
                s.1 += r.rated;
            }
        }
        let finish = |key: &str, t: &mut Tally| {
            if let Some((sum, n)) = sat.get(key).filter(|s| s.1 > 0) {
                t.satisfaction = Some(*sum as f64 / *n as f64);
            }
            let due = t.closed + t.open_overdue;
            if due > 0 {
                t.on_time_rate = Some(t.closed_on_time as f64 / due as f64);
            }
        };
        finish("", &mut total);
        let mut by_department = Vec::new();
        for (k, mut t) in by_dept {
            finish(&k, &mut t);
            t.key = k;
            by_department.push(t);
        }
        let mut districts = Vec::new();
        for (k, mut t) in by_district {
            finish(&format!("d:{k}"), &mut t);
            t.key = k;
            districts.push(t);
        }
        by_department.sort_by(|a, b| {
            b.on_time_rate
                .unwrap_or(0.0)
                .total_cmp(&a.on_time_rate.unwrap_or(0.0))
        });
        let (f, t) = (from.to_rfc3339(), to.to_rfc3339());
        let repeats = self.store().event_repeats(&f, &t).await.map_err(internal)?;
        let hot_spots = self
            .store()
            .event_hot_spots(&f, &t, 10)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|(district, street, category, events)| HotSpot {
                district,
                street,
                category,
                events,
            })
            .collect();
        Ok(Statistics {
            from: f,
            to: t,
            total,
            by_department,
            by_district: districts,
            repeats,
            hot_spots,
        })
    }
}
