//! Scheduled pulls from department databases (PostgreSQL, MySQL): full, or incremental by
//! an updated-at column, on a cron schedule. Each run is an ordinary load.

use std::str::FromStr;

use chrono::{FixedOffset, Utc};
use futures::TryStreamExt;
use serde::Deserialize;
use shuniu_ingest::source::OwnedFields;
use shuniu_lake::WriteMode;
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{Connector, LoadRecord};
use shuniu_types::{Actor, Role};
use sqlx::{Column, Connection, Executor, Row};
use tokio::sync::mpsc;

use crate::{AggregateError, Aggregation, LoadRequest, Result, rows_producer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    Postgres,
    Mysql,
}

impl ConnectorKind {
    fn parse(s: &str) -> Option<ConnectorKind> {
        match s {
            "postgres" | "postgresql" => Some(ConnectorKind::Postgres),
            "mysql" | "mariadb" => Some(ConnectorKind::Mysql),
            _ => None,
        }
    }
}

/// A connector as the data officer defines it.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectorInput {
    /// postgres or mysql.
    pub kind: String,
    /// e.g. `postgres://reader:${GA_DB_PASSWORD}@10.1.2.3/population`
    pub url: String,
    /// `table` or `schema.table`.
    pub table: String,
    /// replace (full pull) or upsert (incremental by `updated_column`).
    pub mode: String,
    pub updated_column: Option<String>,
    /// Cron: `min hour day month weekday` (Beijing time), or with seconds in front.
    pub schedule: String,
}

fn bad(code: &'static str, zh: String, en: String) -> AggregateError {
    AggregateError::invalid(code, zh, en)
}

fn identifier_ok(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
}

/// An identifier quoted for the source database, whatever it holds: the column names come from
/// the source's own description and may contain the quote character itself (`a"b` in
/// PostgreSQL becomes `"a""b"`, ``a`b`` in MySQL becomes ``a``b``), which would otherwise end the
/// identifier and let the rest of the name run as SQL.
pub(crate) fn quote_identifier(kind: ConnectorKind, id: &str) -> String {
    match kind {
        ConnectorKind::Postgres => format!("\"{}\"", id.replace('"', "\"\"")),
        ConnectorKind::Mysql => format!("`{}`", id.replace('`', "``")),
    }
}

fn table_parts(t: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = t.split('.').collect();
    (parts.len() <= 2 && parts.iter().all(|p| identifier_ok(p))).then_some(parts)
}

/// Parses a cron expression; five fields get a leading seconds field.
fn schedule(expr: &str) -> Result<cron::Schedule> {
    let e = expr.trim();
    let full = if e.split_whitespace().count() == 5 {
        format!("0 {e}")
    } else {
        e.to_string()
    };
    cron::Schedule::from_str(&full).map_err(|err| {
        bad(
            "SCHEDULE_INVALID",
            format!("调度表达式无效（{err}），例如 “0 2 * * *” 表示每天 2 点"),
            format!("invalid schedule ({err}); e.g. \"0 2 * * *\" is 02:00 every day"),
        )
    })
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero"))
}

fn next_run(expr: &str) -> Option<String> {
    let s = schedule(expr).ok()?;
    s.after(&Utc::now().with_timezone(&beijing()))
        .next()
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
}

/// Replaces `${VAR}` with the environment's value, so passwords stay out of the store.
fn expand_env(url: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = url;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            bad(
                "CONNECTOR_URL_INVALID",
                "连接地址中的 ${ 没有闭合".into(),
                "unclosed ${ in the connection URL".into(),
            )
        })?;
        let var = &after[..end];
        let val = std::env::var(var).map_err(|_| {
            bad(
                "CONNECTOR_SECRET_MISSING",
                format!("环境变量 {var} 未设置"),
                format!("environment variable {var} is not set"),
            )
        })?;
        out.push_str(&val);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What a connector's sealed source URL is sealed for.
fn url_label(id: &str) -> String {
    format!("connector-url:{id}")
}

/// The URL with any literal password replaced, for display.
pub fn masked_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        if let Some(at) = rest.find('@') {
            let cred = &rest[..at];
            if let Some(colon) = cred.find(':') {
                let pass = &cred[colon + 1..];
                if !pass.starts_with("${") {
                    return format!(
                        "{}://{}:***@{}",
                        &url[..scheme_end],
                        &cred[..colon],
                        &rest[at + 1..]
                    );
                }
            }
        }
    }
    url.to_string()
}

impl Aggregation {
    pub async fn add_connector(
        &self,
        actor: &Actor,
        code: &str,
        input: &ConnectorInput,
    ) -> Result<Connector> {
        let rec = self.authorize(actor, code, Action::LoadData).await?;
        let kind = ConnectorKind::parse(&input.kind).ok_or_else(|| {
            bad(
                "CONNECTOR_KIND_INVALID",
                format!("不支持的数据库类型 {}，可选 postgres、mysql", input.kind),
                format!(
                    "unsupported database {:?}: use postgres or mysql",
                    input.kind
                ),
            )
        })?;
        let prefix_ok = match kind {
            ConnectorKind::Postgres => {
                input.url.starts_with("postgres://") || input.url.starts_with("postgresql://")
            }
            ConnectorKind::Mysql => input.url.starts_with("mysql://"),
        };
        if !prefix_ok {
            return Err(bad(
                "CONNECTOR_URL_INVALID",
                "连接地址与数据库类型不符".into(),
                "the connection URL does not match the database kind".into(),
            ));
        }
        if table_parts(&input.table).is_none() {
            return Err(bad(
                "CONNECTOR_TABLE_INVALID",
                format!(
                    "源表名 {} 无效（字母、数字、下划线，可带模式名）",
                    input.table
                ),
                format!(
                    "invalid source table {:?} (letters, digits, underscores, optionally schema.table)",
                    input.table
                ),
            ));
        }
        let mode: WriteMode = input
            .mode
            .parse()
            .map_err(|e: String| bad("CONNECTOR_MODE_INVALID", format!("同步方式无效：{e}"), e))?;
        if !matches!(mode, WriteMode::Replace | WriteMode::Upsert) {
            return Err(bad(
                "CONNECTOR_MODE_INVALID",
                "同步方式只能是 replace（全量）或 upsert（增量）".into(),
                "the mode must be replace (full) or upsert (incremental)".into(),
            ));
        }
        let updated = input
            .updated_column
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if mode == WriteMode::Upsert {
            match updated {
                Some(c) if identifier_ok(c) => {}
                _ => {
                    return Err(bad(
                        "CONNECTOR_UPDATED_COLUMN",
                        "增量同步需要有效的更新时间列".into(),
                        "incremental pulls need a valid updated-at column".into(),
                    ));
                }
            }
            if !rec.spec.data_items.iter().any(|i| i.is_key) {
                return Err(bad(
                    "CONNECTOR_NO_KEY",
                    "资源没有主键信息项，无法增量更新".into(),
                    "the resource has no key item, so incremental pulls cannot match rows".into(),
                ));
            }
        }
        schedule(&input.schedule)?;
        let mut b = [0u8; 3];
        let _ = getrandom::fill(&mut b);
        let id = format!("C{}-{}", code, hex::encode(b));
        let sealed = self
            .keys
            .seal_text(&url_label(&id), &input.url)
            .map_err(|e| AggregateError::Internal(e.to_string()))?;
        let c = Connector {
            id,
            resource_code: code.into(),
            kind: match kind {
                ConnectorKind::Postgres => "postgres".into(),
                ConnectorKind::Mysql => "mysql".into(),
            },
            url: sealed,
            source_table: input.table.clone(),
            mode: mode.name().into(),
            updated_column: updated.map(str::to_string),
            schedule: input.schedule.trim().into(),
            watermark: None,
            enabled: true,
            created_by: actor.principal.clone(),
            created_at: shuniu_store::now(),
            next_run_at: next_run(&input.schedule),
            last_run_at: None,
            last_load_id: None,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_connector(&c).await?;
        tx.commit().await?;
        Ok(Connector {
            url: masked_url(&input.url),
            ..c
        })
    }

    /// A connector's source URL, unsealed (stored sealed under the master key).
    fn source_url(&self, c: &Connector) -> Result<String> {
        self.keys
            .open_text(&url_label(&c.id), &c.url)
            .map_err(|e| AggregateError::Internal(e.to_string()))
    }

    /// Seals every connector URL stored in clear (before sealing existed) or under an earlier
    /// master key (rotation). Returns how many were written.
    pub async fn seal_connector_urls(&self) -> Result<usize> {
        let mut n = 0;
        for c in self.store.connectors().await? {
            if shuniu_keys::is_sealed(&c.url) && self.keys.is_current(&c.url) {
                continue;
            }
            let sealed = self
                .keys
                .seal_text(&url_label(&c.id), &self.source_url(&c)?)
                .map_err(|e| AggregateError::Internal(e.to_string()))?;
            let mut tx = self.store.begin().await?;
            tx.set_connector_url(&c.id, &sealed).await?;
            tx.commit().await?;
            n += 1;
        }
        Ok(n)
    }

    /// Connectors the actor may see (passwords masked).
    pub async fn connectors(&self, actor: &Actor) -> Result<Vec<Connector>> {
        let all = self.store.connectors().await?;
        let mut out = Vec::new();
        for c in all {
            if self
                .authorize(actor, &c.resource_code, Action::ReadData)
                .await
                .is_ok()
            {
                out.push(Connector {
                    url: masked_url(&self.source_url(&c)?),
                    ..c
                });
            }
        }
        Ok(out)
    }

    /// Runs a connector now, on behalf of `actor`.
    pub async fn run_connector(&self, actor: &Actor, id: &str) -> Result<LoadRecord> {
        let c = self
            .store
            .connector(id)
            .await?
            .ok_or_else(|| AggregateError::NotFound(format!("connector {id}")))?;
        self.authorize(actor, &c.resource_code, Action::LoadData)
            .await?;
        self.pull(&c, actor).await
    }

    /// Runs every enabled connector whose time has come; the scheduler calls this.
    pub async fn run_due_connectors(&self) -> Result<Vec<LoadRecord>> {
        let now = shuniu_store::now();
        let mut out = Vec::new();
        for c in self.store.connectors().await? {
            if !c.enabled || c.next_run_at.as_deref().is_none_or(|t| t > now.as_str()) {
                continue;
            }
            let Some(rec) = self.store.resource(&c.resource_code).await? else {
                continue;
            };
            // The connector loads as its resource's department.
            let actor = Actor {
                principal: format!("connector:{}", c.id),
                display_name: format!("定时汇聚 {}", c.id),
                role: Role::DataOfficer,
                department: rec.spec.provider.clone(),
            };
            if decide(
                &actor,
                Action::LoadData,
                Target::Resource {
                    provider: &rec.spec.provider,
                    status: rec.status,
                },
            )
            .is_err()
            {
                let mut tx = self.store.begin().await?;
                tx.record_connector_run(&c.id, None, next_run(&c.schedule).as_deref(), None)
                    .await?;
                tx.commit().await?;
                continue;
            }
            match self.pull(&c, &actor).await {
                Ok(l) => out.push(l),
                Err(e) => {
                    tracing::warn!(connector = %c.id, error = %e, "scheduled pull failed");
                    let mut tx = self.store.begin().await?;
                    tx.record_connector_run(&c.id, None, next_run(&c.schedule).as_deref(), None)
                        .await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(out)
    }

    async fn pull(&self, c: &Connector, actor: &Actor) -> Result<LoadRecord> {
        let rec = self
            .authorize(actor, &c.resource_code, Action::LoadData)
            .await?;
        let kind = ConnectorKind::parse(&c.kind)
            .ok_or_else(|| AggregateError::Internal(format!("connector kind {}", c.kind)))?;
        let url = expand_env(&self.source_url(c)?)?;
        let mode: WriteMode = c.mode.parse().unwrap_or(WriteMode::Replace);
        let parts = table_parts(&c.source_table).ok_or_else(|| {
            AggregateError::Internal(format!("stored table name {}", c.source_table))
        })?;
        let q = |id: &str| quote_identifier(kind, id);
        let table: String = parts.iter().map(|p| q(p)).collect::<Vec<_>>().join(".");
        let source_failed = |e: sqlx::Error| {
            bad(
                "SOURCE_DATABASE_FAILED",
                format!("连接或读取源数据库失败：{e}"),
                format!("connecting to or reading the source database failed: {e}"),
            )
        };
        let (tx_rows, rx_rows) = mpsc::channel(1024);
        let req = LoadRequest {
            mode,
            source_name: format!("{}:{}", c.kind, c.source_table),
            ignore_unknown_columns: true,
            ..Default::default()
        };
        let updated = c
            .updated_column
            .clone()
            .filter(|_| mode == WriteMode::Upsert);
        let watermark = c.watermark.clone();

        // The source table's column names, from the database's own description of a query.
        macro_rules! describe {
            ($conn:expr) => {
                (&mut $conn)
                    .describe(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
                        format!("SELECT * FROM {table}"),
                    )))
                    .await
                    .map_err(source_failed)?
                    .columns()
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect::<Vec<String>>()
            };
        }
        // Discover the source's columns, then plan.
        let (headers, wm_type) = match kind {
            ConnectorKind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&url)
                    .await
                    .map_err(source_failed)?;
                let headers = describe!(conn);
                let wm_type = match &updated {
                    Some(u) => {
                        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT pg_typeof({})::text AS t FROM {table} LIMIT 1",
                            q(u)
                        )))
                        .fetch_optional(&mut conn)
                        .await
                        .map_err(source_failed)?;
                        let t: String = row
                            .map(|r| r.try_get::<String, _>("t"))
                            .transpose()
                            .map_err(source_failed)?
                            .unwrap_or_else(|| "text".into());
                        if !t
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || " _()".contains(ch))
                        {
                            return Err(AggregateError::Internal(format!("column type {t}")));
                        }
                        Some(t)
                    }
                    None => None,
                };
                let _ = conn.close().await;
                (headers, wm_type)
            }
            ConnectorKind::Mysql => {
                let mut conn = sqlx::MySqlConnection::connect(&url)
                    .await
                    .map_err(source_failed)?;
                let headers = describe!(conn);
                let _ = conn.close().await;
                (headers, None)
            }
        };
        let plan = self.plan(&rec, &req, &headers).await?;
        // Only the mapped columns are read, each as text; the watermark column rides along.
        let mut cols: Vec<String> = Vec::new();
        for h in &headers {
            if let Some(u) = &updated
                && h == u
            {
                continue;
            }
            if !plan.ignored.contains(h) {
                cols.push(h.clone());
            }
        }
        if cols.is_empty() {
            return Err(bad(
                "CONNECTOR_NO_COLUMNS",
                "源表中没有能对应到信息项的列".into(),
                "no source column maps to a data item".into(),
            ));
        }
        // The rows carry only the selected columns: plan again on exactly those.
        let plan = self.plan(&rec, &req, &cols).await?;
        let cast = |c: &str| match kind {
            ConnectorKind::Postgres => format!("{}::text AS {}", q(c), q(c)),
            ConnectorKind::Mysql => format!("CAST({} AS CHAR) AS {}", q(c), q(c)),
        };
        let mut select_list: Vec<String> = cols.iter().map(|c| cast(c)).collect();
        let mut sql_where = String::new();
        if let Some(u) = &updated {
            select_list.push(match kind {
                ConnectorKind::Postgres => format!("{}::text AS \"__shuniu_wm\"", q(u)),
                ConnectorKind::Mysql => format!("CAST({} AS CHAR) AS `__shuniu_wm`", q(u)),
            });
            if watermark.is_some() {
                // >= and an upsert: rows sharing the last timestamp are read again, harmlessly.
                sql_where = match kind {
                    ConnectorKind::Postgres => format!(
                        "WHERE {} >= $1::text::{}",
                        q(u),
                        wm_type.clone().unwrap_or_else(|| "text".into())
                    ),
                    ConnectorKind::Mysql => format!("WHERE {} >= ?", q(u)),
                };
            }
        }
        let order = updated
            .as_ref()
            .map(|u| format!("ORDER BY {}", q(u)))
            .unwrap_or_default();
        let sql = format!(
            "SELECT {} FROM {table} {sql_where} {order}",
            select_list.join(", ")
        );
        let ncols = cols.len();
        let wm_shared = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let wm_out = wm_shared.clone();
        let url2 = url.clone();
        let wm_in = watermark.clone();
        let fetch = tokio::spawn(async move {
            let send_err = |e: String| {
                let tx = tx_rows.clone();
                async move {
                    let _ = tx.send(Err(e)).await;
                }
            };
            macro_rules! pump {
                ($conn:expr) => {{
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                    if let Some(w) = &wm_in {
                        query = query.bind(w.clone());
                    }
                    let mut rows = query.fetch(&mut $conn);
                    let mut line = 0u64;
                    loop {
                        match rows.try_next().await {
                            Ok(Some(row)) => {
                                line += 1;
                                let mut f = Vec::with_capacity(ncols);
                                for i in 0..ncols {
                                    f.push(row.try_get::<Option<String>, _>(i).ok().flatten());
                                }
                                if ncols < row.len() {
                                    if let Ok(Some(w)) = row.try_get::<Option<String>, _>(ncols) {
                                        if let Ok(mut g) = wm_out.lock() {
                                            *g = Some(w);
                                        }
                                    }
                                }
                                if tx_rows.send(Ok((line, OwnedFields(f)))).await.is_err() {
                                    break;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                send_err(e.to_string()).await;
                                break;
                            }
                        }
                    }
                }};
            }
            match kind {
                ConnectorKind::Postgres => match sqlx::PgConnection::connect(&url2).await {
                    Ok(mut conn) => pump!(conn),
                    Err(e) => send_err(e.to_string()).await,
                },
                ConnectorKind::Mysql => match sqlx::MySqlConnection::connect(&url2).await {
                    Ok(mut conn) => pump!(conn),
                    Err(e) => send_err(e.to_string()).await,
                },
            }
        });
        let load = self.new_load(
            actor,
            &rec,
            &req,
            &req.source_name,
            c.kind.as_str(),
            0,
            Some(&c.id),
        );
        let result = self
            .run(
                &rec,
                load,
                plan,
                mode,
                req.max_reject_ratio,
                std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
                rows_producer(rx_rows),
                None,
            )
            .await;
        let _ = fetch.await;
        let new_wm = wm_shared.lock().ok().and_then(|g| g.clone());
        let mut tx = self.store.begin().await?;
        match &result {
            Ok(l) => {
                let committed = l.status.committed();
                tx.record_connector_run(
                    &c.id,
                    if committed { new_wm.as_deref() } else { None },
                    next_run(&c.schedule).as_deref(),
                    Some(&l.id),
                )
                .await?;
            }
            Err(_) => {
                tx.record_connector_run(&c.id, None, next_run(&c.schedule).as_deref(), None)
                    .await?;
            }
        }
        tx.commit().await?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_schedules_and_names() {
        assert_eq!(
            masked_url("postgres://reader:s3cret@db/pop"),
            "postgres://reader:***@db/pop"
        );
        assert_eq!(
            masked_url("postgres://reader:${PW}@db/pop"),
            "postgres://reader:${PW}@db/pop"
        );
        assert!(schedule("0 2 * * *").is_ok());
        assert!(schedule("*/10 * * * * *").is_ok());
        assert_eq!(
            schedule("every day").unwrap_err().code(),
            "SCHEDULE_INVALID"
        );
        assert!(next_run("0 2 * * *").is_some());
        assert!(table_parts("public.persons").is_some());
        assert!(table_parts("persons; DROP TABLE x").is_none());
        assert!(table_parts("a.b.c").is_none());
        // A hostile column name stays one identifier.
        assert_eq!(
            quote_identifier(ConnectorKind::Postgres, r#"x" FROM t; DROP TABLE t; --"#),
            r#""x"" FROM t; DROP TABLE t; --""#
        );
        assert_eq!(
            quote_identifier(ConnectorKind::Mysql, "x` FROM t; --"),
            "`x`` FROM t; --`"
        );
        unsafe { std::env::set_var("SHUNIU_TEST_PW", "pw") };
        assert_eq!(expand_env("x:${SHUNIU_TEST_PW}@").unwrap(), "x:pw@");
        assert_eq!(
            expand_env("x:${SHUNIU_NOPE_NOT_SET}@").unwrap_err().code(),
            "CONNECTOR_SECRET_MISSING"
        );
    }
}
