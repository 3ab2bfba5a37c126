//! City events (一网统管): the category tree, dispatch rules, events and their steps, Open311
//! clients. `shuniu-events` decides what happens to an event; this module only stores and
//! loads.

use sqlx::AssertSqlSafe;

use crate::{Result, Store, Tx, get};

/// A category of the city's event tree (市容环境 › 暴露垃圾 …); a leaf is an Open311 service.
#[derive(Debug, Clone, PartialEq)]
pub struct EventCategoryRow {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
    pub normal_hours: i64,
    pub urgent_hours: i64,
    pub emergency_hours: i64,
    pub keywords: Vec<String>,
    /// Open311 attribute definitions.
    pub attributes: serde_json::Value,
    pub description: String,
}

/// Category (or branch) × district → the department responsible, and those assisting.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRuleRow {
    pub id: String,
    pub category: String,
    pub district: String,
    pub department: String,
    pub assisting: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: String,
    pub token: String,
    pub parent_id: Option<String>,
    pub channel: String,
    pub external_id: Option<String>,
    pub category: String,
    pub confidence: Option<f64>,
    pub description: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub district: String,
    pub street: String,
    /// The reporter's name and phone, sealed with the master key (JSON when opened).
    pub reporter_sealed: String,
    pub reporter_subject: Option<String>,
    pub state: String,
    pub urgency: String,
    pub department: Option<String>,
    pub assisting: Vec<String>,
    pub reported_at: String,
    pub dispatched_at: Option<String>,
    pub handled_at: Option<String>,
    pub closed_at: Option<String>,
    pub due_at: Option<String>,
    /// 0: not escalated; n: raised n levels.
    pub escalation: i64,
    pub reminded: bool,
    pub satisfaction: Option<i64>,
    pub attributes: serde_json::Value,
    pub media_url: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventStepRow {
    pub event_id: String,
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub department: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: String,
    pub photos: Vec<String>,
}

/// Which events to list; times are RFC 3339 text, compared as such (all stored in UTC).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub ids: Vec<String>,
    pub states: Vec<String>,
    pub categories: Vec<String>,
    pub department: Option<String>,
    pub district: Option<String>,
    pub reported_from: Option<String>,
    pub reported_to: Option<String>,
    pub updated_after: Option<String>,
    /// Open events whose deadline is before this moment.
    pub due_before: Option<String>,
    /// Within this box of micro-degrees: (south, north, west, east).
    pub within: Option<(i64, i64, i64, i64)>,
    /// Reported at exactly this address.
    pub address: Option<String>,
    pub limit: i64,
    pub offset: i64,
    /// Newest first (by report time) unless true: by last update, oldest first.
    pub by_update: bool,
    /// In no particular order: lets the database pick the index that narrows most (the
    /// duplicate check) instead of one that yields the order.
    pub unordered: bool,
}

const EVENT_COLUMNS: &str = "id, token, parent_id, channel, external_id, category, confidence,
    description, address, lat, lon, district, street, reporter_sealed, reporter_subject, state,
    urgency, department, assisting, reported_at, dispatched_at, handled_at, closed_at, due_at,
    escalation, reminded, satisfaction, attributes, media_url, updated_at";

fn list(r: &sqlx::any::AnyRow, col: &str) -> Result<Vec<String>> {
    Ok(serde_json::from_value(crate::quality::json(r, col)?).unwrap_or_default())
}

fn category_row(r: &sqlx::any::AnyRow) -> Result<EventCategoryRow> {
    Ok(EventCategoryRow {
        code: get(r, "code")?,
        name: get(r, "name")?,
        parent: get(r, "parent")?,
        normal_hours: get(r, "normal_hours")?,
        urgent_hours: get(r, "urgent_hours")?,
        emergency_hours: get(r, "emergency_hours")?,
        keywords: list(r, "keywords")?,
        attributes: crate::quality::json(r, "attributes")?,
        description: get(r, "description")?,
    })
}

fn event_row(r: &sqlx::any::AnyRow) -> Result<EventRow> {
    Ok(EventRow {
        id: get(r, "id")?,
        token: get(r, "token")?,
        parent_id: get(r, "parent_id")?,
        channel: get(r, "channel")?,
        external_id: get(r, "external_id")?,
        category: get(r, "category")?,
        confidence: get::<Option<i64>>(r, "confidence")?.map(|c| c as f64 / 1_000.0),
        description: get(r, "description")?,
        address: get(r, "address")?,
        lat: get::<Option<i64>>(r, "lat")?.map(|v| v as f64 / 1e6),
        lon: get::<Option<i64>>(r, "lon")?.map(|v| v as f64 / 1e6),
        district: get(r, "district")?,
        street: get(r, "street")?,
        reporter_sealed: get(r, "reporter_sealed")?,
        reporter_subject: get(r, "reporter_subject")?,
        state: get(r, "state")?,
        urgency: get(r, "urgency")?,
        department: get(r, "department")?,
        assisting: list(r, "assisting")?,
        reported_at: get(r, "reported_at")?,
        dispatched_at: get(r, "dispatched_at")?,
        handled_at: get(r, "handled_at")?,
        closed_at: get(r, "closed_at")?,
        due_at: get(r, "due_at")?,
        escalation: get(r, "escalation")?,
        reminded: get::<i64>(r, "reminded")? != 0,
        satisfaction: get(r, "satisfaction")?,
        attributes: crate::quality::json(r, "attributes")?,
        media_url: get(r, "media_url")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn step_row(r: &sqlx::any::AnyRow) -> Result<EventStepRow> {
    Ok(EventStepRow {
        event_id: get(r, "event_id")?,
        seq: get(r, "seq")?,
        at: get(r, "at")?,
        actor: get(r, "actor")?,
        department: get(r, "department")?,
        action: get(r, "action")?,
        from_state: get(r, "from_state")?,
        to_state: get(r, "to_state")?,
        note: get(r, "note")?,
        photos: list(r, "photos")?,
    })
}

impl Store {
    pub async fn event_categories(&self) -> Result<Vec<EventCategoryRow>> {
        let rows = sqlx::query("SELECT * FROM event_categories ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(category_row).collect()
    }

    pub async fn event_rules(&self) -> Result<Vec<EventRuleRow>> {
        let rows = sqlx::query("SELECT * FROM event_rules ORDER BY category, district, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(EventRuleRow {
                    id: get(r, "id")?,
                    category: get(r, "category")?,
                    district: get(r, "district")?,
                    department: get(r, "department")?,
                    assisting: list(r, "assisting")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    pub async fn event(&self, id: &str) -> Result<Option<EventRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_row).transpose()
    }

    pub async fn event_by_token(&self, token: &str) -> Result<Option<EventRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE token = $1"
        )))
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_row).transpose()
    }

    pub async fn events(&self, f: &EventFilter) -> Result<Vec<EventRow>> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let any_of = |col: &str, values: &[String], sql: &mut String, binds: &mut Vec<String>| {
            if values.is_empty() {
                return;
            }
            let marks: Vec<String> = values
                .iter()
                .map(|v| {
                    binds.push(v.clone());
                    format!("${}", binds.len())
                })
                .collect();
            sql.push_str(&format!(" AND {col} IN ({})", marks.join(", ")));
        };
        any_of("id", &f.ids, &mut sql, &mut binds);
        any_of("state", &f.states, &mut sql, &mut binds);
        any_of("category", &f.categories, &mut sql, &mut binds);
        for (cond, v) in [
            ("department = ", &f.department),
            ("district = ", &f.district),
            ("reported_at >= ", &f.reported_from),
            ("reported_at < ", &f.reported_to),
            ("updated_at > ", &f.updated_after),
            ("address = ", &f.address),
        ] {
            if let Some(v) = v {
                binds.push(v.clone());
                sql.push_str(&format!(" AND {cond}${}", binds.len()));
            }
        }
        if let Some((south, north, west, east)) = f.within {
            // Integers the caller computed, not text from outside: written into the query.
            sql.push_str(&format!(
                " AND lat BETWEEN {south} AND {north} AND lon BETWEEN {west} AND {east}"
            ));
        }
        if let Some(v) = &f.due_before {
            binds.push(v.clone());
            sql.push_str(&format!(
                " AND state IN ('reported', 'dispatched', 'handling', 'handled') AND due_at < ${}",
                binds.len()
            ));
        }
        sql.push_str(if f.unordered {
            ""
        } else if f.by_update {
            " ORDER BY updated_at, id"
        } else {
            " ORDER BY reported_at DESC, id"
        });
        sql.push_str(&format!(
            " LIMIT {} OFFSET {}",
            f.limit.clamp(1, 10_000),
            f.offset.max(0)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(event_row).collect()
    }

    pub async fn event_steps(&self, id: &str) -> Result<Vec<EventStepRow>> {
        let rows = sqlx::query(
            "SELECT event_id, seq, at, actor, department, action, from_state, to_state, note,
                    photos FROM event_steps WHERE event_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(step_row).collect()
    }

    /// Steps recorded in `[from, to)`, oldest first (Open311 clients poll for updates).
    pub async fn event_steps_between(
        &self,
        from: &str,
        to: &str,
        limit: i64,
    ) -> Result<Vec<EventStepRow>> {
        let rows = sqlx::query(
            "SELECT event_id, seq, at, actor, department, action, from_state, to_state, note,
                    photos FROM event_steps WHERE at >= $1 AND at < $2
             ORDER BY at, event_id, seq LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(step_row).collect()
    }

    /// (category, description) of the latest classified events, to learn from.
    pub async fn classified_events(&self, limit: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT category, description FROM events WHERE state <> 'merged'
             ORDER BY reported_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "category")?, get(r, "description")?)))
            .collect()
    }

    /// Counts per (department, district, state, on time) of events reported in a period, for
    /// the statistics: `on_time` is 1 when closed by the deadline (or open and not yet due).
    pub async fn event_counts(&self, from: &str, to: &str, now: &str) -> Result<Vec<EventCount>> {
        let rows = sqlx::query(
            "SELECT COALESCE(department, '') AS department, district, state,
                    CAST(CASE WHEN due_at IS NULL THEN 1
                         WHEN closed_at IS NOT NULL AND closed_at <= due_at THEN 1
                         WHEN closed_at IS NULL AND due_at >= $3 THEN 1
                         ELSE 0 END AS BIGINT) AS on_time,
                    COUNT(*) AS n,
                    CAST(COALESCE(SUM(satisfaction), 0) AS BIGINT) AS satisfaction_sum,
                    COUNT(satisfaction) AS rated,
                    CAST(SUM(CASE WHEN escalation > 0 THEN 1 ELSE 0 END) AS BIGINT) AS escalated
             FROM events WHERE reported_at >= $1 AND reported_at < $2 AND state <> 'merged'
             GROUP BY COALESCE(department, ''), district, state, on_time",
        )
        .bind(from)
        .bind(to)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EventCount {
                    department: get(r, "department")?,
                    district: get(r, "district")?,
                    state: get(r, "state")?,
                    on_time: get::<i64>(r, "on_time")? == 1,
                    events: get(r, "n")?,
                    satisfaction_sum: get(r, "satisfaction_sum")?,
                    rated: get(r, "rated")?,
                    escalated: get(r, "escalated")?,
                })
            })
            .collect()
    }

    /// The client an Open311 key belongs to (by the key's digest).
    pub async fn open311_client(&self, key_digest: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT name FROM open311_clients WHERE key_digest = $1")
            .bind(key_digest)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| get(r, "name")).transpose()
    }
}

/// A camera or sensor registered to post alerts (感知设备).
#[derive(Debug, Clone, PartialEq)]
pub struct EventDeviceRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub lat: f64,
    pub lon: f64,
    pub district: String,
    pub address: String,
    pub department: String,
    pub category: String,
    pub secret_sealed: String,
    pub active: bool,
    pub created_at: String,
    pub last_seen_at: Option<String>,
}

/// A photo attached to an event or one of its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMediaRow {
    pub digest: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

fn device_row(r: &sqlx::any::AnyRow) -> Result<EventDeviceRow> {
    Ok(EventDeviceRow {
        id: get(r, "id")?,
        name: get(r, "name")?,
        kind: get(r, "kind")?,
        lat: get::<i64>(r, "lat")? as f64 / 1e6,
        lon: get::<i64>(r, "lon")? as f64 / 1e6,
        district: get(r, "district")?,
        address: get(r, "address")?,
        department: get(r, "department")?,
        category: get(r, "category")?,
        secret_sealed: get(r, "secret_sealed")?,
        active: get::<i64>(r, "active")? != 0,
        created_at: get(r, "created_at")?,
        last_seen_at: get(r, "last_seen_at")?,
    })
}

impl Store {
    /// The event a sending system already gave its own number to.
    pub async fn event_by_external(
        &self,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<EventRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE channel = $1 AND external_id = $2"
        )))
        .bind(channel)
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_row).transpose()
    }

    /// Which of these numbers a sending system has already used (a batch import's re-run).
    pub async fn known_external_ids(&self, channel: &str, ids: &[String]) -> Result<Vec<String>> {
        let mut known = Vec::new();
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT external_id FROM events WHERE channel = $1 AND external_id IN ({})",
                marks.join(", ")
            )))
            .bind(channel);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                known.push(get(&r, "external_id")?);
            }
        }
        Ok(known)
    }

    pub async fn event_devices(&self) -> Result<Vec<EventDeviceRow>> {
        let rows = sqlx::query("SELECT * FROM event_devices ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(device_row).collect()
    }

    pub async fn event_device(&self, id: &str) -> Result<Option<EventDeviceRow>> {
        let row = sqlx::query("SELECT * FROM event_devices WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device_row).transpose()
    }

    pub async fn event_media(&self, digest: &str) -> Result<Option<EventMediaRow>> {
        let row =
            sqlx::query("SELECT digest, content_type, bytes FROM event_media WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref()
            .map(|r| {
                Ok(EventMediaRow {
                    digest: get(r, "digest")?,
                    content_type: get(r, "content_type")?,
                    bytes: get(r, "bytes")?,
                })
            })
            .transpose()
    }

    /// Repeat events (reports merged into another) and the places reported most, in a
    /// period: (district, street, category, events).
    pub async fn event_hot_spots(
        &self,
        from: &str,
        to: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT district, street, category, COUNT(*) AS n FROM events
             WHERE reported_at >= $1 AND reported_at < $2 AND street <> ''
             GROUP BY district, street, category ORDER BY n DESC, district, street LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "district")?,
                    get(r, "street")?,
                    get(r, "category")?,
                    get(r, "n")?,
                ))
            })
            .collect()
    }

    /// Open events per state (of one department, or all), and how many are past `now`.
    pub async fn event_open_counts(
        &self,
        department: Option<&str>,
        now: &str,
    ) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n,
                    CAST(SUM(CASE WHEN due_at < $1 THEN 1 ELSE 0 END) AS BIGINT) AS overdue
             FROM events WHERE state IN ('reported', 'dispatched', 'handling', 'handled')
               AND ($2 = '' OR department = $2)
             GROUP BY state",
        )
        .bind(now)
        .bind(department.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "state")?,
                    get(r, "n")?,
                    get::<Option<i64>>(r, "overdue")?.unwrap_or(0),
                ))
            })
            .collect()
    }

    /// How many reports in a period were merged into an earlier event (重复事件).
    pub async fn event_repeats(&self, from: &str, to: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM events
             WHERE reported_at >= $1 AND reported_at < $2 AND state = 'merged'",
        )
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?;
        get(&row, "n")
    }
}

/// One group of the statistics query.
#[derive(Debug, Clone, PartialEq)]
pub struct EventCount {
    pub department: String,
    pub district: String,
    pub state: String,
    pub on_time: bool,
    pub events: i64,
    pub satisfaction_sum: i64,
    pub rated: i64,
    pub escalated: i64,
}

impl Tx {
    pub async fn put_event_category(&mut self, c: &EventCategoryRow) -> Result<()> {
        sqlx::query("DELETE FROM event_categories WHERE code = $1")
            .bind(&c.code)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO event_categories (code, name, parent, normal_hours, urgent_hours,
                 emergency_hours, keywords, attributes, description)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.code)
        .bind(&c.name)
        .bind(&c.parent)
        .bind(c.normal_hours)
        .bind(c.urgent_hours)
        .bind(c.emergency_hours)
        .bind(serde_json::json!(c.keywords).to_string())
        .bind(c.attributes.to_string())
        .bind(&c.description)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn put_event_rule(&mut self, r: &EventRuleRow) -> Result<()> {
        sqlx::query("DELETE FROM event_rules WHERE category = $1 AND district = $2")
            .bind(&r.category)
            .bind(&r.district)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO event_rules (id, category, district, department, assisting, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.id)
        .bind(&r.category)
        .bind(&r.district)
        .bind(&r.department)
        .bind(serde_json::json!(r.assisting).to_string())
        .bind(&r.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Writes an event (new or changed) as a whole row.
    pub async fn put_event(&mut self, e: &EventRow) -> Result<()> {
        sqlx::query("DELETE FROM events WHERE id = $1")
            .bind(&e.id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                 $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25,
                 $26, $27, $28, $29, $30)"
        )))
        .bind(&e.id)
        .bind(&e.token)
        .bind(&e.parent_id)
        .bind(&e.channel)
        .bind(&e.external_id)
        .bind(&e.category)
        .bind(e.confidence.map(|c| (c * 1_000.0).round() as i64))
        .bind(&e.description)
        .bind(&e.address)
        .bind(e.lat.map(|v| (v * 1e6).round() as i64))
        .bind(e.lon.map(|v| (v * 1e6).round() as i64))
        .bind(&e.district)
        .bind(&e.street)
        .bind(&e.reporter_sealed)
        .bind(&e.reporter_subject)
        .bind(&e.state)
        .bind(&e.urgency)
        .bind(&e.department)
        .bind(serde_json::json!(e.assisting).to_string())
        .bind(&e.reported_at)
        .bind(&e.dispatched_at)
        .bind(&e.handled_at)
        .bind(&e.closed_at)
        .bind(&e.due_at)
        .bind(e.escalation)
        .bind(i64::from(e.reminded))
        .bind(e.satisfaction)
        .bind(e.attributes.to_string())
        .bind(&e.media_url)
        .bind(&e.updated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Appends a step to an event's history; returns its sequence number.
    pub async fn add_event_step(&mut self, s: &EventStepRow) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM event_steps WHERE event_id = $1",
        )
        .bind(&s.event_id)
        .fetch_one(&mut *self.tx)
        .await?;
        let seq: i64 = get(&row, "n")?;
        sqlx::query(
            "INSERT INTO event_steps (event_id, seq, at, actor, department, action, from_state,
                 to_state, note, photos) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&s.event_id)
        .bind(seq)
        .bind(&s.at)
        .bind(&s.actor)
        .bind(&s.department)
        .bind(&s.action)
        .bind(&s.from_state)
        .bind(&s.to_state)
        .bind(&s.note)
        .bind(serde_json::json!(s.photos).to_string())
        .execute(&mut *self.tx)
        .await?;
        Ok(seq)
    }

    pub async fn put_event_device(&mut self, d: &EventDeviceRow) -> Result<()> {
        sqlx::query("DELETE FROM event_devices WHERE id = $1")
            .bind(&d.id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO event_devices (id, name, kind, lat, lon, district, address, department,
                 category, secret_sealed, active, created_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&d.id)
        .bind(&d.name)
        .bind(&d.kind)
        .bind((d.lat * 1e6).round() as i64)
        .bind((d.lon * 1e6).round() as i64)
        .bind(&d.district)
        .bind(&d.address)
        .bind(&d.department)
        .bind(&d.category)
        .bind(&d.secret_sealed)
        .bind(i64::from(d.active))
        .bind(&d.created_at)
        .bind(&d.last_seen_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn touch_event_device(&mut self, id: &str, at: &str) -> Result<()> {
        sqlx::query("UPDATE event_devices SET last_seen_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Keeps a photo (once per content).
    pub async fn put_event_media(&mut self, m: &EventMediaRow, by: &str, at: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO event_media (digest, content_type, bytes, size, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&m.digest)
        .bind(&m.content_type)
        .bind(&m.bytes)
        .bind(m.bytes.len() as i64)
        .bind(by)
        .bind(at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn put_open311_client(
        &mut self,
        key_digest: &str,
        name: &str,
        by: &str,
        at: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO open311_clients (key_digest, name, created_by, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(key_digest)
        .bind(name)
        .bind(by)
        .bind(at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
