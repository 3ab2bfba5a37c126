//! The unified data service: what a consuming system calls with its API key.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use shuniu_audit::{Entry, Kind};
use shuniu_policy::grant::Service;
use shuniu_policy::grant::{CompiledGrant, ServiceFacts, decide_service, decide_verify_field};
use shuniu_store::{ComparisonJobRow, ResourceRecord};
use shuniu_types::{IdNumber, SemanticType};

use crate::error::{Result, SharingError};
use crate::serving::{ChangeOp, Cursor, Row};
use crate::{Caller, Sharing};
use shuniu_types::states::JobState;

/// One granted field as the answer describes it.
#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub name: String,
    pub label: String,
    /// The masking applied (`none` when in the clear).
    pub masking: String,
}

/// A lookup's answer: the granted fields of every record with this key, masked.
#[derive(Debug, Clone, Serialize)]
pub struct LookupAnswer {
    pub resource: String,
    /// The dataset version the answer comes from.
    pub version: u64,
    pub grant: String,
    pub fields: Vec<FieldView>,
    pub records: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// A verification's answer: per claimed field, whether it matches. Never the values.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyAnswer {
    pub resource: String,
    pub version: u64,
    /// Whether a record with this key exists within the grant.
    pub found: bool,
    /// `match` or `no_match` per claimed field (`no_match` too when not found).
    pub results: BTreeMap<String, &'static str>,
    /// True when every claimed field matches.
    pub all_match: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeedChange {
    pub cursor: String,
    pub version: u64,
    pub op: ChangeOp,
    /// The key as granted (masked when the grant masks it; null when the key field is not
    /// granted).
    pub key: Option<String>,
    pub record: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeedPage {
    pub resource: String,
    pub changes: Vec<FeedChange>,
    /// Pass as `cursor` to continue; equal to the request's cursor when nothing is new.
    pub next_cursor: String,
    pub has_more: bool,
}

/// How an extract or a comparison result is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractFormat {
    Csv,
    Parquet,
}

/// How comparison keys arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// One key per line, first column; a header line naming the key column is skipped.
    Csv,
    /// One JSON value per line: a string, or an object with a `key` member.
    Ndjson,
}

/// The granted fields as an answer describes them.
pub(crate) fn field_views(g: &CompiledGrant) -> Vec<FieldView> {
    g.fields
        .iter()
        .map(|f| FieldView {
            name: f.name.clone(),
            label: f.label.clone(),
            masking: f.masking.code().to_string(),
        })
        .collect()
}

pub(crate) fn record_of(
    g: &CompiledGrant,
    shaped: Vec<Option<String>>,
) -> serde_json::Map<String, serde_json::Value> {
    g.fields
        .iter()
        .zip(shaped)
        .map(|(f, v)| {
            (
                f.name.clone(),
                v.map(serde_json::Value::String)
                    .unwrap_or(serde_json::Value::Null),
            )
        })
        .collect()
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sm3_hex(bytes: &[u8]) -> String {
    use sm3::Digest;
    hex::encode(sm3::Sm3::digest(bytes))
}

/// Keys are compared as the lake holds them; ID numbers with a lower-case x are normalized.
fn normalize_key(key: &str) -> String {
    let k = key.trim();
    if k.len() == 18 && k.ends_with('x') {
        k.to_ascii_uppercase()
    } else {
        k.to_string()
    }
}

/// A resource a department may join to its subjects (see [`Sharing::joinable_resources`]).
#[derive(Debug, Clone)]
pub struct JoinableResource {
    pub resource: Arc<ResourceRecord>,
    /// Which items (and how masked) and which rows the department reaches.
    pub grant: Arc<CompiledGrant>,
    /// The item holding the subject's key: one row per subject.
    pub key: String,
}

/// A licence type's resource the unified service lets a caller read licences of (免证办).
#[derive(Debug, Clone)]
pub struct LicenceUseGrant {
    pub resource: String,
    pub provider: String,
    pub grant: String,
    pub purpose: String,
}

impl Sharing {
    /// Of the resources licence types are issued from, those whose licences `caller` may read
    /// through the unified service: decided exactly as a lookup on the resource (its grant,
    /// negative list, level, expiry), then admitted against the grant's rate limit. Resources
    /// refused are left out without an audit entry (the licence engine audits the read); a
    /// grant past its limit fails the call.
    pub async fn licence_use_grants(
        &self,
        caller: &Caller,
        resources: &[String],
    ) -> Result<Vec<LicenceUseGrant>> {
        let mut out = Vec::new();
        for code in resources {
            let rec = match self.inner.directory.resource(code).await {
                Ok(r) => r,
                Err(SharingError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let (Some(grant), Ok(())) = self.decide_call(caller, &rec, Service::Lookup)? else {
                continue;
            };
            self.inner.directory.admit(&grant, 0)?;
            out.push(LicenceUseGrant {
                resource: rec.code.clone(),
                provider: rec.spec.provider.clone(),
                grant: grant.id.clone(),
                purpose: grant.purpose.clone(),
            });
        }
        Ok(out)
    }

    /// The resources a department may join, row by row, to subjects it holds by key (a
    /// benefit policy's conditions over another department's records): its own published
    /// resources and those one of its applications holds a grant for, keyed one row per
    /// subject by an item of `subject`'s type (ID number, credit code). Decided in
    /// shuniu-policy as a comparison (比对: many keys in, the granted fields out) by the
    /// department's data officer; each comes with the grant that decides which items and
    /// rows it reaches.
    pub async fn joinable_resources(
        &self,
        department: &str,
        subject: SemanticType,
    ) -> Result<Vec<JoinableResource>> {
        self.inner.directory.refresh_if_changed().await?;
        let mut candidates: Vec<(Option<String>, String)> = Vec::new();
        let own = shuniu_store::ResourceFilter {
            statuses: vec![shuniu_types::ResourceStatus::Published],
            provider: Some(department.to_string()),
            ..Default::default()
        };
        let mut offset = 0;
        loop {
            let (total, page) = self.inner.store.resources(&own, offset, 500).await?;
            offset += page.len() as i64;
            candidates.extend(page.into_iter().map(|r| (None, r.code)));
            if offset >= total || offset == 0 {
                break;
            }
        }
        for (application, code) in self.inner.directory.active_grants_of_department(department) {
            candidates.push((Some(application), code));
        }
        let mut out: Vec<JoinableResource> = Vec::new();
        for (application, code) in candidates {
            if out.iter().any(|j| j.resource.code == code) {
                continue;
            }
            let rec = match self.inner.directory.resource(&code).await {
                Ok(r) => r,
                Err(SharingError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let Some(key) = rec
                .spec
                .data_items
                .iter()
                .find(|i| i.is_key && i.semantic_type == subject)
            else {
                continue;
            };
            let app = application.clone().unwrap_or_default();
            let grant = match CompiledGrant::own_for(
                department,
                &rec.code,
                &rec.spec.provider,
                &app,
                &rec.spec.data_items,
            ) {
                Some(own) => Some(Arc::new(own)),
                None => match self.inner.directory.grant(&app, &rec) {
                    Ok(g) => g,
                    // A grant whose items were renamed since approval no longer applies.
                    Err(SharingError::Denied(_)) => None,
                    Err(e) => return Err(e),
                },
            };
            let decision = decide_service(&ServiceFacts {
                department,
                role: shuniu_types::Role::DataOfficer,
                provider: &rec.spec.provider,
                status: rec.status,
                share_type: rec.spec.share_type,
                level: rec.spec.level,
                grant: grant.as_deref(),
                service: Service::Compare,
                now: unix_now(),
            });
            if let (Some(grant), Ok(())) = (grant, decision) {
                out.push(JoinableResource {
                    key: key.name.clone(),
                    resource: rec,
                    grant,
                });
            }
        }
        out.sort_by(|a, b| a.resource.code.cmp(&b.resource.code));
        Ok(out)
    }

    /// The providing department of a published resource, if there is one.
    pub async fn resource_provider(&self, code: &str) -> Option<String> {
        self.inner
            .directory
            .resource(code)
            .await
            .ok()
            .map(|r| r.spec.provider.clone())
    }

    /// The calling system behind an API key, or `None`.
    pub async fn authenticate(&self, api_key: &str) -> Result<Option<Caller>> {
        self.inner.directory.caller(api_key).await
    }

    /// The grant that governs the caller's calls on a resource (its own data: every field,
    /// in the clear) and the policy's decision on this service. Shared by every call and by
    /// webhook deliveries, which are decided again when they are sent.
    pub(crate) fn decide_call(
        &self,
        caller: &Caller,
        rec: &ResourceRecord,
        service: Service,
    ) -> Result<(Option<Arc<CompiledGrant>>, shuniu_policy::Decision)> {
        let grant = match CompiledGrant::own_for(
            &caller.department,
            &rec.code,
            &rec.spec.provider,
            &caller.application,
            &rec.spec.data_items,
        ) {
            Some(own) => Some(Arc::new(own)),
            None => self.inner.directory.grant(&caller.application, rec)?,
        };
        let decision = decide_service(&ServiceFacts {
            department: &caller.department,
            role: caller.role,
            provider: &rec.spec.provider,
            status: rec.status,
            share_type: rec.spec.share_type,
            level: rec.spec.level,
            grant: grant.as_deref(),
            service,
            now: unix_now(),
        });
        Ok((grant, decision))
    }

    /// Decides a call: the resource, the grant that governs it, or the refusal (audited).
    pub(crate) async fn authorize(
        &self,
        caller: &Caller,
        code: &str,
        service: Service,
    ) -> Result<(Arc<ResourceRecord>, Arc<CompiledGrant>)> {
        let rec = match self.inner.directory.resource(code).await {
            Ok(r) => r,
            Err(SharingError::NotFound(_)) => {
                return Err(SharingError::NotFound(format!("resource {code}")));
            }
            Err(e) => return Err(e),
        };
        let (grant, decision) = self.decide_call(caller, &rec, service)?;
        if let Err(d) = decision {
            if let Some(g) = &grant {
                self.inner.directory.count_refusal(&g.id);
            }
            self.audit_call(
                caller,
                &rec,
                grant.as_deref(),
                service,
                0,
                Vec::new(),
                d.code,
                None,
            )
            .await?;
            return Err(SharingError::Denied(d));
        }
        let grant = grant.ok_or_else(|| SharingError::Index("allowed without a grant".into()))?;
        if let Err(e) = self.inner.directory.admit(&grant, 0) {
            self.audit_call(
                caller,
                &rec,
                Some(&grant),
                service,
                0,
                Vec::new(),
                e.code(),
                None,
            )
            .await?;
            return Err(e);
        }
        Ok((rec, grant))
    }

    /// Admits a call (refusals audited by [`Self::authorize`]) and hands back the [`Call`]
    /// that owes its one audit entry.
    pub(crate) async fn admit(
        &self,
        caller: &Caller,
        code: &str,
        service: Service,
    ) -> Result<Call> {
        let (rec, grant) = self.authorize(caller, code, service).await?;
        Ok(Call {
            sharing: self.clone(),
            caller: caller.clone(),
            rec,
            grant,
            service,
            recorded: false,
        })
    }

    /// One audit entry per call, durable before the answer leaves.
    #[allow(clippy::too_many_arguments)]
    async fn audit_call(
        &self,
        caller: &Caller,
        rec: &ResourceRecord,
        grant: Option<&CompiledGrant>,
        service: Service,
        rows: u64,
        subjects: Vec<String>,
        result: &str,
        digest: Option<String>,
    ) -> Result<()> {
        let mut e = Entry::by(
            Kind::Access,
            &format!("service.{}", service.code()),
            &caller.principal(),
            &caller.department,
        )
        .channel("service")
        .resource(&rec.code, &rec.spec.provider)
        .rows(rows)
        .subjects(subjects)
        .result(result)
        .digest(digest);
        if let Some(g) = grant {
            e = e
                .fields(g.fields.iter().map(|f| f.name.clone()).collect())
                .purpose(Some(g.purpose.clone()))
                .grant(Some(g.id.clone()));
        }
        self.inner.audit.record(e).await?;
        Ok(())
    }

    /// The keyed subject digests of the ID numbers in these rows (for the citizen's record).
    fn subjects(&self, rec: &ResourceRecord, rows: &[Row]) -> Vec<String> {
        let cols: Vec<usize> = rec
            .spec
            .data_items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.semantic_type == SemanticType::IdNumber)
            .map(|(i, _)| i)
            .collect();
        let mut out = Vec::new();
        for r in rows {
            for &c in &cols {
                if let Some(Some(v)) = r.get(c)
                    && let Ok(id) = v.parse::<IdNumber>()
                {
                    let s = self.inner.audit.subject(id.as_str());
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
            }
        }
        out
    }

    /// The resource's serving index as it stands: its version and how its rows map onto
    /// the resource's current items, read once per call.
    pub(crate) fn served(&self, rec: &ResourceRecord) -> Result<Served> {
        let idx = self.index(&rec.code)?;
        let (Some(version), Some(layout)) = idx.current()? else {
            return Err(SharingError::NotFound(format!(
                "data of {} (no version is served yet)",
                rec.code
            )));
        };
        let items = &rec.spec.data_items;
        // An index built before the items changed is read by name.
        let map = (layout.columns.len() != items.len()
            || layout.columns.iter().zip(items).any(|(c, i)| c != &i.name))
        .then(|| {
            items
                .iter()
                .map(|i| layout.columns.iter().position(|c| c == &i.name))
                .collect()
        });
        Ok(Served {
            idx,
            version,
            layout,
            map,
        })
    }

    /// 查询: the granted fields of the records with this key, masked.
    pub async fn lookup(&self, caller: &Caller, code: &str, key: &str) -> Result<LookupAnswer> {
        let call = self.admit(caller, code, Service::Lookup).await?;
        let outcome = self.lookup_in(&call, key);
        call.answer(outcome).await
    }

    fn lookup_in(&self, call: &Call, key: &str) -> Result<Answered<LookupAnswer>> {
        let (rec, grant) = (&call.rec, &call.grant);
        let key = normalize_key(key);
        let served = self.served(rec)?;
        let visible: Vec<Row> = served
            .lookup(&key)?
            .into_iter()
            .filter(|r| grant.in_scope(r))
            .collect();
        if visible.is_empty() {
            // Outside the row scope is answered exactly as absent.
            return Err(SharingError::NotFound(format!("record {key}")));
        }
        let rows = visible.len() as u64;
        self.inner.directory.admit_rows(grant, rows)?;
        let subjects = self.subjects(rec, &visible);
        let records: Vec<_> = visible
            .iter()
            .filter_map(|r| grant.project(r, &self.inner.masking_key))
            .map(|shaped| record_of(grant, shaped))
            .collect();
        let answer = LookupAnswer {
            resource: rec.code.clone(),
            version: served.version,
            grant: grant.id.clone(),
            fields: field_views(grant),
            records,
        };
        let digest = serde_json::to_vec(&answer.records)
            .ok()
            .map(|b| sm3_hex(&b));
        Ok(Answered {
            value: answer,
            rows,
            subjects,
            digest,
        })
    }

    /// 核验: whether the claimed values match the record, per field; never the values.
    pub async fn verify(
        &self,
        caller: &Caller,
        code: &str,
        key: &str,
        claims: &BTreeMap<String, String>,
    ) -> Result<VerifyAnswer> {
        let call = self.admit(caller, code, Service::Verify).await?;
        let outcome = self.verify_in(&call, key, claims);
        call.answer(outcome).await
    }

    fn verify_in(
        &self,
        call: &Call,
        key: &str,
        claims: &BTreeMap<String, String>,
    ) -> Result<Answered<VerifyAnswer>> {
        let (rec, grant) = (&call.rec, &call.grant);
        if claims.is_empty() {
            return Err(SharingError::invalid(
                "CLAIMS_EMPTY",
                "请至少提供一个待核验的信息项",
                "send at least one claimed field to verify",
            ));
        }
        for f in claims.keys() {
            decide_verify_field(grant, f)?;
        }
        let key = normalize_key(key);
        let served = self.served(rec)?;
        let row = served.lookup(&key)?.into_iter().find(|r| grant.in_scope(r));
        let mut results = BTreeMap::new();
        for (name, claimed) in claims {
            let ok = row.as_ref().is_some_and(|r| {
                let idx = rec.spec.data_items.iter().position(|i| &i.name == name);
                idx.and_then(|i| r.get(i).cloned().flatten())
                    .is_some_and(|v| v.trim() == claimed.trim())
            });
            results.insert(name.clone(), if ok { "match" } else { "no_match" });
        }
        let subjects = row
            .as_ref()
            .map(|r| self.subjects(rec, std::slice::from_ref(r)))
            .unwrap_or_default();
        let found = row.is_some();
        let all_match = found && results.values().all(|v| *v == "match");
        let digest = Some(sm3_hex(format!("{results:?}").as_bytes()));
        Ok(Answered {
            value: VerifyAnswer {
                resource: rec.code.clone(),
                version: served.version,
                found,
                results,
                all_match,
            },
            rows: 0,
            subjects,
            digest,
        })
    }

    /// The change feed after `cursor`: inserted, updated and deleted records within the
    /// grant's scope, masked.
    pub async fn changes(
        &self,
        caller: &Caller,
        code: &str,
        cursor: &str,
        limit: usize,
    ) -> Result<FeedPage> {
        let after = Cursor::parse(cursor).ok_or_else(|| {
            SharingError::invalid(
                "CURSOR_INVALID",
                "游标格式应为 v版本.序号，如 v3.120",
                "the cursor reads v<version>.<seq>, e.g. v3.120",
            )
        })?;
        let call = self.admit(caller, code, Service::Subscribe).await?;
        let outcome = self
            .feed_page(&call.rec, &call.grant, after, limit.clamp(1, 10_000))
            .map(|page| {
                let rows = page.changes.len() as u64;
                self.inner.directory.count_rows(&call.grant.id, rows);
                Answered {
                    value: page,
                    rows,
                    subjects: Vec::new(),
                    digest: None,
                }
            });
        call.answer(outcome).await
    }

    /// A page of the feed shaped by `grant` (also what webhooks deliver).
    pub(crate) fn feed_page(
        &self,
        rec: &ResourceRecord,
        grant: &CompiledGrant,
        after: Cursor,
        limit: usize,
    ) -> Result<FeedPage> {
        let served = match self.served(rec) {
            Ok(s) => s,
            // Nothing served yet: nothing has changed.
            Err(SharingError::NotFound(_)) => {
                return Ok(FeedPage {
                    resource: rec.code.clone(),
                    changes: Vec::new(),
                    next_cursor: after.to_string(),
                    has_more: false,
                });
            }
            Err(e) => return Err(e),
        };
        let key_name = served.layout.columns[served.layout.key].clone();
        let mut out = Vec::new();
        let mut at = after;
        let mut has_more = false;
        // Changes outside the scope are skipped but still advance the cursor.
        loop {
            let (batch, last) = served.idx.changes(at, limit)?;
            if batch.is_empty() {
                break;
            }
            for c in batch {
                at = c.cursor;
                let row = served.align(c.row);
                let Some(shaped) = grant.project(&row, &self.inner.masking_key) else {
                    continue;
                };
                let record = record_of(grant, shaped);
                let key = record
                    .get(&key_name)
                    .and_then(|v| v.as_str().map(str::to_string));
                out.push(FeedChange {
                    cursor: c.cursor.to_string(),
                    version: c.cursor.version,
                    op: c.op,
                    key,
                    record,
                });
                if out.len() >= limit {
                    break;
                }
            }
            if out.len() >= limit {
                has_more = at < last;
                break;
            }
            if at >= last {
                break;
            }
        }
        Ok(FeedPage {
            resource: rec.code.clone(),
            changes: out,
            next_cursor: at.to_string(),
            has_more,
        })
    }

    /// The newest position of a resource's feed (where a new subscription starts).
    pub fn feed_head(&self, code: &str) -> Result<Cursor> {
        self.index(code)?.head()
    }

    /// 抽取: a version's granted rows and columns, masked, as CSV or Parquet, streamed.
    /// Returns the stream of file bytes; the audit entry is written when it ends.
    pub async fn extract(
        &self,
        caller: &Caller,
        code: &str,
        version: Option<i64>,
        format: ExtractFormat,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>>> {
        if version.is_some_and(|v| v < 0) {
            return Err(SharingError::invalid(
                "VERSION_INVALID",
                "版本号不能为负数",
                "a version cannot be negative",
            ));
        }
        let call = self.admit(caller, code, Service::Extract).await?;
        let (rec, grant) = (call.rec.clone(), call.grant.clone());
        let opened = async {
            let version = match version {
                Some(v) => v,
                None => self
                    .inner
                    .lake
                    .version(code)
                    .await?
                    .ok_or_else(|| SharingError::NotFound(format!("data of {code}")))?,
            };
            let columns: Vec<String> = rec.spec.data_items.iter().map(|i| i.name.clone()).collect();
            Ok(self
                .inner
                .lake
                .stream_columns(code, version, &columns, false)
                .await?)
        }
        .await;
        let mut stream = match opened {
            Ok(s) => s,
            // The refusal or failure is the call's answer, audited as such.
            Err(e) => return call.answer(Err(e)).await,
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let this = self.clone();
        tokio::spawn(async move {
            let fields: Vec<arrow::datatypes::Field> = grant
                .fields
                .iter()
                .map(|f| {
                    arrow::datatypes::Field::new(&f.name, arrow::datatypes::DataType::Utf8, true)
                })
                .collect();
            let out_schema = Arc::new(arrow::datatypes::Schema::new(fields));
            let buf = SharedBuf::default();
            let mut parquet = match format {
                ExtractFormat::Parquet => {
                    let props = parquet::file::properties::WriterProperties::builder()
                        .set_max_row_group_row_count(Some(65_536))
                        .set_compression(parquet::basic::Compression::SNAPPY)
                        .build();
                    match parquet::arrow::ArrowWriter::try_new(
                        buf.clone(),
                        out_schema.clone(),
                        Some(props),
                    ) {
                        Ok(w) => Some(w),
                        Err(e) => {
                            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                            if let Err(e) = call.record(0, Vec::new(), "EXTRACT_FAILED", None).await
                            {
                                tracing::error!(error = %e, "extract audit failed");
                            }
                            return;
                        }
                    }
                }
                ExtractFormat::Csv => None,
            };
            let mut rows_out = 0u64;
            let mut failed: Option<String> = None;
            if format == ExtractFormat::Csv {
                let header: Vec<&str> = grant.fields.iter().map(|f| f.name.as_str()).collect();
                let mut w = csv::Writer::from_writer(Vec::new());
                let _ = w.write_record(&header);
                let bytes = w.into_inner().unwrap_or_default();
                // A BOM so that Excel opens the Chinese text as UTF-8.
                let mut first = "\u{feff}".as_bytes().to_vec();
                first.extend(bytes);
                if tx.send(Ok(Bytes::from(first))).await.is_err() {
                    return;
                }
            }
            while let Some(batch) = stream.next().await {
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => {
                        failed = Some(e.to_string());
                        break;
                    }
                };
                let cast: Vec<Arc<dyn arrow::array::Array>> = match batch
                    .columns()
                    .iter()
                    .map(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8))
                    .collect::<Result<_, _>>()
                {
                    Ok(c) => c,
                    Err(e) => {
                        failed = Some(e.to_string());
                        break;
                    }
                };
                let cols: Vec<&arrow::array::StringArray> = cast
                    .iter()
                    .filter_map(|c| c.as_any().downcast_ref::<arrow::array::StringArray>())
                    .collect();
                let mut shaped_rows: Vec<Vec<Option<String>>> =
                    Vec::with_capacity(batch.num_rows());
                let mut row: Vec<Option<&str>> = vec![None; cols.len()];
                for i in 0..batch.num_rows() {
                    for (c, a) in cols.iter().enumerate() {
                        row[c] = if arrow::array::Array::is_null(*a, i) {
                            None
                        } else {
                            Some(a.value(i))
                        };
                    }
                    if let Some(s) = grant.project(&row, &this.inner.masking_key) {
                        shaped_rows.push(s);
                    }
                }
                rows_out += shaped_rows.len() as u64;
                let chunk = match &mut parquet {
                    None => {
                        let mut w = csv::Writer::from_writer(Vec::new());
                        for r in &shaped_rows {
                            let _ = w.write_record(r.iter().map(|v| v.as_deref().unwrap_or("")));
                        }
                        w.into_inner().unwrap_or_default()
                    }
                    Some(pw) => {
                        let arrays: Vec<Arc<dyn arrow::array::Array>> = (0..grant.fields.len())
                            .map(|c| {
                                Arc::new(arrow::array::StringArray::from(
                                    shaped_rows.iter().map(|r| r[c].clone()).collect::<Vec<_>>(),
                                )) as Arc<dyn arrow::array::Array>
                            })
                            .collect();
                        let b = match arrow::record_batch::RecordBatch::try_new(
                            out_schema.clone(),
                            arrays,
                        ) {
                            Ok(b) => b,
                            Err(e) => {
                                failed = Some(e.to_string());
                                break;
                            }
                        };
                        if let Err(e) = pw.write(&b) {
                            failed = Some(e.to_string());
                            break;
                        }
                        buf.take()
                    }
                };
                if !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                    failed = Some("the client went away".into());
                    break;
                }
            }
            if failed.is_none()
                && let Some(pw) = parquet.take()
            {
                match pw.close() {
                    Ok(_) => {
                        let _ = tx.send(Ok(Bytes::from(buf.take()))).await;
                    }
                    Err(e) => failed = Some(e.to_string()),
                }
            }
            if let Some(e) = &failed {
                let _ = tx.send(Err(std::io::Error::other(e.clone()))).await;
            }
            this.inner.directory.count_rows(&grant.id, rows_out);
            let result = if failed.is_some() {
                "EXTRACT_FAILED"
            } else {
                "ok"
            };
            if let Err(e) = call.record(rows_out, Vec::new(), result, None).await {
                tracing::error!(error = %e, "extract audit failed");
            }
        });
        Ok(tokio_stream_from(rx))
    }

    /// 比对: starts a comparison job over keys already saved to `keys_file` (the server
    /// streams the upload there). The job runs in the background; poll [`Self::comparison`].
    pub async fn start_comparison(
        &self,
        caller: &Caller,
        code: &str,
        keys_file: PathBuf,
        format: KeyFormat,
    ) -> Result<ComparisonJobRow> {
        let call = self.admit(caller, code, Service::Compare).await?;
        let (rec, grant) = (call.rec.clone(), call.grant.clone());
        let version = match self.served(&rec) {
            Ok(s) => s.version as i64,
            Err(e) => return call.answer::<ComparisonJobRow>(Err(e)).await,
        };
        let id = format!(
            "C{}-{}",
            chrono::Utc::now().format("%Y%m%d%H%M%S"),
            crate::workflow::short_id()
        );
        let dir = self.inner.comparisons_dir.join(&id);
        let staged = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let keys_path = dir.join("keys");
            if std::fs::rename(&keys_file, &keys_path).is_err() {
                std::fs::copy(&keys_file, &keys_path)?;
                let _ = std::fs::remove_file(&keys_file);
            }
            Ok(())
        })();
        if let Err(e) = staged {
            return call.answer(Err(e.into())).await;
        }
        let job = ComparisonJobRow {
            id: id.clone(),
            grant_id: grant.id.clone(),
            resource_code: code.to_string(),
            application_id: caller.application.clone(),
            consumer: caller.department.clone(),
            version: Some(version),
            state: JobState::Running,
            keys_total: 0,
            keys_done: 0,
            found: 0,
            error: String::new(),
            created_at: shuniu_store::now(),
            finished_at: None,
        };
        let inserted = async {
            let mut tx = self.inner.store.begin().await?;
            tx.insert_comparison_job(&job).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = inserted {
            return call.answer(Err(e.into())).await;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let outcome = this.run_comparison(&rec, &grant, &id, &dir, format).await;
            let (state, total, found, error) = match &outcome {
                Ok((t, f)) => (JobState::Finished, *t, *f, String::new()),
                Err(e) => (JobState::Failed, 0, 0, e.message_zh()),
            };
            let finished = async {
                let mut tx = this.inner.store.begin().await?;
                tx.finish_comparison(&id, state, total as i64, found as i64, &error)
                    .await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = finished {
                tracing::error!(job = %id, error = %e, "recording the comparison failed");
            }
            this.inner.directory.count_rows(&grant.id, found);
            let result = if outcome.is_ok() {
                "ok"
            } else {
                "COMPARISON_FAILED"
            };
            if let Err(e) = call.record(found, Vec::new(), result, None).await {
                tracing::error!(error = %e, "comparison audit failed");
            }
        });
        Ok(job)
    }

    async fn run_comparison(
        &self,
        rec: &Arc<ResourceRecord>,
        grant: &Arc<CompiledGrant>,
        id: &str,
        dir: &std::path::Path,
        format: KeyFormat,
    ) -> Result<(u64, u64)> {
        let served = self.served(rec)?;
        let (progress_tx, mut progress_rx) = tokio::sync::watch::channel((0u64, 0u64));
        let store = self.inner.store.clone();
        let job = id.to_string();
        let reporter = tokio::spawn(async move {
            while progress_rx.changed().await.is_ok() {
                let (done, found) = *progress_rx.borrow();
                // Progress is advisory: a missed update is overwritten by the next.
                if let Ok(mut tx) = store.begin().await
                    && tx
                        .update_comparison_progress(&job, done as i64, found as i64)
                        .await
                        .is_ok()
                {
                    let _ = tx.commit().await;
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        });
        let dir = dir.to_path_buf();
        let grant = grant.clone();
        let rec = rec.clone();
        let key = self.inner.masking_key;
        let cells = self.inner.cells.clone();
        let result_label = result_label(id);
        let result = tokio::task::spawn_blocking(move || -> Result<(u64, u64)> {
            // Keys and result hold ID numbers and granted fields: sealed on disk.
            let input = std::io::BufReader::with_capacity(
                1 << 20,
                shuniu_keys::SealedReader::new(
                    &cells,
                    KEYS_LABEL,
                    std::fs::File::open(dir.join("keys"))?,
                ),
            );
            let tmp = dir.join("result.csv.tmp");
            let mut out = csv::Writer::from_writer(shuniu_keys::SealedWriter::new(
                &cells,
                &result_label,
                std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?),
            )?);
            let mut header = vec!["key".to_string(), "found".to_string()];
            header.extend(grant.fields.iter().map(|f| f.name.clone()));
            out.write_record(&header)
                .map_err(|e| SharingError::Io(e.into()))?;
            let key_item = crate::key_item(&rec.spec.data_items);
            let skip_header: Vec<String> = key_item
                .map(|k| {
                    let i = &rec.spec.data_items[k];
                    vec![i.name.clone(), i.label.clone(), "key".into()]
                })
                .unwrap_or_else(|| vec!["key".into()]);
            const CHUNK: usize = 200_000;
            let (mut total, mut found) = (0u64, 0u64);
            let mut chunk: Vec<String> = Vec::with_capacity(CHUNK);
            let mut lines = input.lines();
            let mut first = true;
            loop {
                chunk.clear();
                for line in lines.by_ref() {
                    let line = line?;
                    let k = match format {
                        KeyFormat::Csv => line
                            .split(',')
                            .next()
                            .unwrap_or("")
                            .trim()
                            .trim_matches('"')
                            .trim_start_matches('\u{feff}')
                            .to_string(),
                        KeyFormat::Ndjson => match serde_json::from_str::<serde_json::Value>(&line)
                        {
                            Ok(serde_json::Value::String(s)) => s,
                            Ok(serde_json::Value::Object(o)) => o
                                .get("key")
                                .and_then(|v| v.as_str())
                                .unwrap_or("")
                                .to_string(),
                            _ if line.trim().is_empty() => String::new(),
                            _ => {
                                return Err(SharingError::invalid(
                                    "KEYS_INVALID",
                                    format!("第 {} 行不是 JSON", total + chunk.len() as u64 + 1),
                                    format!("line {} is not JSON", total + chunk.len() as u64 + 1),
                                ));
                            }
                        },
                    };
                    if first {
                        first = false;
                        if format == KeyFormat::Csv && skip_header.iter().any(|h| h == &k) {
                            continue;
                        }
                    }
                    if k.is_empty() {
                        continue;
                    }
                    chunk.push(normalize_key(&k));
                    if chunk.len() >= CHUNK {
                        break;
                    }
                }
                if chunk.is_empty() {
                    break;
                }
                // Sorted keys walk the B-tree in order: far fewer page misses.
                chunk.sort_unstable();
                let mut record = Vec::with_capacity(header.len());
                served
                    .idx
                    .lookup_many(chunk.iter().map(String::as_str), |k, row| {
                        record.clear();
                        record.push(k.to_string());
                        let shaped = row
                            .map(|r| served.align(r))
                            .and_then(|r| grant.project(&r, &key));
                        match shaped {
                            Some(values) => {
                                found += 1;
                                record.push("1".into());
                                record.extend(values.into_iter().map(|v| v.unwrap_or_default()));
                            }
                            None => {
                                record.push("0".into());
                                record
                                    .extend(std::iter::repeat_n(String::new(), grant.fields.len()));
                            }
                        }
                        out.write_record(&record)
                            .map_err(|e| SharingError::Io(e.into()))?;
                        Ok(())
                    })?;
                total += chunk.len() as u64;
                let _ = progress_tx.send((total, found));
            }
            let w = out
                .into_inner()
                .map_err(|e| SharingError::Io(std::io::Error::other(e.to_string())))?
                .finish()?;
            w.get_ref().sync_all()?;
            drop(w);
            std::fs::rename(&tmp, dir.join("result.csv"))?;
            let _ = std::fs::remove_file(dir.join("keys"));
            Ok((total, found))
        })
        .await
        .map_err(|e| SharingError::Index(format!("comparison panicked: {e}")))?;
        reporter.abort();
        result
    }

    /// A comparison job, for its caller.
    pub async fn comparison(&self, caller: &Caller, id: &str) -> Result<ComparisonJobRow> {
        let job = self
            .inner
            .store
            .comparison_job(id)
            .await?
            .filter(|j| j.application_id == caller.application)
            .ok_or_else(|| SharingError::NotFound(format!("comparison {id}")))?;
        Ok(job)
    }

    /// The finished result of a comparison job (CSV: key, found, granted fields), opened from
    /// its sealed file as it streams.
    pub async fn comparison_result(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>>> {
        let job = self.comparison(caller, id).await?;
        if job.state != JobState::Finished {
            return Err(SharingError::state(
                format!("比对任务尚未完成（{}）", job.state),
                format!("the comparison is not finished ({})", job.state),
            ));
        }
        let path = self.inner.comparisons_dir.join(&job.id).join("result.csv");
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SharingError::NotFound(format!("result of {id}")));
            }
            Err(e) => return Err(e.into()),
        };
        let mut reader =
            shuniu_keys::SealedReader::new(&self.inner.cells, &result_label(&job.id), file);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            loop {
                let mut buf = vec![0u8; 64 * 1024];
                match reader.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })))
    }

    /// A new upload of comparison keys: where it goes, and the writer that seals it there
    /// (call `finish` on it; the file then becomes a job's key file).
    pub fn upload_writer(
        &self,
    ) -> Result<(
        PathBuf,
        shuniu_keys::SealedWriter<std::io::BufWriter<std::fs::File>>,
    )> {
        let dir = self.inner.comparisons_dir.join("uploads");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.keys", crate::workflow::short_id()));
        let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let writer = shuniu_keys::SealedWriter::new(&self.inner.cells, KEYS_LABEL, file)?;
        Ok((path, writer))
    }
}

impl crate::directory::Directory {
    /// Takes rows from the daily row quota (a lookup knows its rows after the read).
    pub fn admit_rows(&self, g: &CompiledGrant, rows: u64) -> Result<()> {
        let (_, used, _) = self.usage_today().get(&g.id).copied().unwrap_or_default();
        if used + rows > g.rows_per_day {
            self.count_refusal(&g.id);
            return Err(SharingError::Limited {
                code: "QUOTA_EXCEEDED",
                retry_after: 3600,
                zh: format!("已用完今日行数配额（每日 {} 行）", g.rows_per_day),
                en: format!("today's quota of {} rows is used up", g.rows_per_day),
            });
        }
        self.count_rows(&g.id, rows);
        Ok(())
    }
}

/// A `Write` that collects bytes to hand on in chunks (the Parquet writer's sink).
#[derive(Clone, Default)]
struct SharedBuf(Arc<parking_lot::Mutex<Vec<u8>>>);

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock())
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

impl Sharing {
    /// The grants an application holds (its own view: no usage of others).
    pub fn grants_of(&self, caller: &Caller) -> Vec<shuniu_store::GrantRow> {
        self.inner.directory.grants_of(&caller.application)
    }
}

impl Sharing {
    /// A key of a record the application may look up in this resource (the first in key
    /// order within its grant's row scope), for examples and the demo's account file.
    pub async fn example_key(&self, application: &str, code: &str) -> Result<Option<String>> {
        let rec = self.inner.directory.resource(code).await?;
        let Some(grant) = self.inner.directory.grant(application, &rec)? else {
            return Ok(None);
        };
        let served = self.served(&rec)?;
        let key = crate::key_item(&rec.spec.data_items).unwrap_or(served.layout.key);
        Ok(served
            .idx
            .first_rows(5_000)?
            .into_iter()
            .map(|r| served.align(r))
            .find(|r| grant.in_scope(r))
            .and_then(|r| r.get(key).cloned().flatten()))
    }
}

impl Sharing {
    /// A value of the resource's first item of this semantic type (an ID number, a credit
    /// code) in a record the application may look up, for examples and the demo's account file.
    pub async fn example_subject(
        &self,
        application: &str,
        code: &str,
        semantic: SemanticType,
    ) -> Result<Option<String>> {
        let rec = self.inner.directory.resource(code).await?;
        let Some(col) = rec
            .spec
            .data_items
            .iter()
            .position(|i| i.semantic_type == semantic)
        else {
            return Ok(None);
        };
        let Some(grant) = self.inner.directory.grant(application, &rec)? else {
            return Ok(None);
        };
        let served = self.served(&rec)?;
        Ok(served
            .idx
            .first_rows(5_000)?
            .into_iter()
            .map(|r| served.align(r))
            .filter(|r| grant.in_scope(r))
            .find_map(|r| r.get(col).cloned().flatten()))
    }
}

/// A resource's serving index at one version, with the mapping of its stored columns onto the
/// resource's current items (`None`: they are the same).
pub(crate) struct Served {
    idx: Arc<crate::ServingIndex>,
    pub(crate) version: u64,
    layout: Arc<crate::Layout>,
    map: Option<Vec<Option<usize>>>,
}

impl Served {
    fn align(&self, row: Row) -> Row {
        match &self.map {
            None => row,
            Some(map) => map
                .iter()
                .map(|m| m.and_then(|p| row.get(p).cloned().flatten()))
                .collect(),
        }
    }

    pub(crate) fn lookup(&self, key: &str) -> Result<Vec<Row>> {
        Ok(self
            .idx
            .lookup(key, 100)?
            .into_iter()
            .map(|r| self.align(r))
            .collect())
    }
}

/// What an answered call hands back and logs: the answer, the rows it carried, the keyed
/// digests of the people in them, and a digest of what was sent.
pub(crate) struct Answered<T> {
    pub value: T,
    pub rows: u64,
    pub subjects: Vec<String>,
    pub digest: Option<String>,
}

/// One admitted unified-service call and the one audit entry it owes. A call ends in
/// [`Call::answer`] (its outcome, audited `ok` or with the error's code, then returned) or,
/// for calls that stream on after the answer (extracts, comparisons), in [`Call::record`]
/// when the work ends. Both consume the call, so no path audits twice; a call dropped
/// without either is a bug, logged.
#[must_use]
pub(crate) struct Call {
    sharing: Sharing,
    caller: Caller,
    pub rec: Arc<ResourceRecord>,
    pub grant: Arc<CompiledGrant>,
    service: Service,
    recorded: bool,
}

impl Call {
    /// Audits the outcome, durably, then returns it.
    pub(crate) async fn answer<T>(self, outcome: Result<Answered<T>>) -> Result<T> {
        match outcome {
            Ok(a) => {
                self.record(a.rows, a.subjects, "ok", a.digest).await?;
                Ok(a.value)
            }
            Err(e) => {
                self.record(0, Vec::new(), e.code(), None).await?;
                Err(e)
            }
        }
    }

    /// Writes the call's audit entry with its result (`ok` or a refusal or failure code).
    pub(crate) async fn record(
        mut self,
        rows: u64,
        subjects: Vec<String>,
        result: &str,
        digest: Option<String>,
    ) -> Result<()> {
        self.recorded = true;
        self.sharing
            .audit_call(
                &self.caller,
                &self.rec,
                Some(&self.grant),
                self.service,
                rows,
                subjects,
                result,
                digest,
            )
            .await
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.recorded {
            tracing::error!(
                resource = %self.rec.code,
                application = %self.caller.application,
                service = self.service.code(),
                "a unified-service call ended without its audit entry"
            );
        }
    }
}

/// What a comparison's key file is sealed for.
const KEYS_LABEL: &str = "comparison-keys";

/// What a comparison's result file is sealed for: its job, so results cannot be swapped.
fn result_label(job: &str) -> String {
    format!("comparison-result:{job}")
}
