//! The licence engine: licence types, departments' e-seals, issuing from a resource's rows,
//! state changes, and the lists a verifier needs. Every entry point asks the policy module;
//! every read of a resource's rows and every change is audited.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_keys::MasterKey;
use shuniu_policy::{Action, Target, decide};
use shuniu_sharing::Sharing;
use shuniu_store::{LicenceFilter, LicenceRow, LicenceTypeRow, SealRow, Store};
use shuniu_types::{Actor, CreditCode, IdNumber, LicenceId, LicenceTypeCode};

use crate::envelope::{LicenceClaims, holder_digest, seal as seal_envelope};
use crate::lists::{
    Bitstring, Signed, StatusListCredential, StatusPurpose, TrustList, TrustedSeal,
};
use crate::seal::{DEFAULT_SIGNER_ID, SealKey, SealPublicKey};
use crate::verify::{Verified, Verifier};
use crate::{LicenceError, Rejection, Result};

/// Licence states (GB/T 36903's 状态).
pub const VALID: &str = "valid";
pub const SUSPENDED: &str = "suspended";
pub const REVOKED: &str = "revoked";
pub const CANCELLED: &str = "cancelled";
pub const EXPIRED: &str = "expired";

/// How long a verifier may use the status lists offline.
pub const STATUS_TTL_HOURS: i64 = 24;

/// What a department submits to register a licence type.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LicenceTypeInput {
    /// GB/T 36902 type code; when empty, composed from the defining department's credit code
    /// and `number`.
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub number: Option<u16>,
    pub name: String,
    pub definer: String,
    pub issuers: Vec<String>,
    pub resource_code: String,
    pub holder_item: String,
    pub holder_name_item: String,
    #[serde(default)]
    pub serial_item: Option<String>,
    /// (item, label) shown on the face and carried in the QR code.
    pub fields: Vec<(String, String)>,
    #[serde(default)]
    pub validity_years: Option<i64>,
}

/// What a bulk issue did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IssueReport {
    pub type_code: String,
    pub rows_read: u64,
    pub issued: u64,
    pub reissued: u64,
    pub unchanged: u64,
    /// Licences cancelled because their holder's row left the resource.
    pub cancelled: u64,
    /// Rows whose holder identifier is not a valid ID number or credit code.
    pub holders_invalid: u64,
    pub source_version: i64,
    pub seconds: f64,
}

/// A licence as a service department reads it in place of paper (免证办): the face's fields,
/// its state, and how many times it has been used.
#[derive(Debug, Clone, Serialize)]
pub struct LicenceUse {
    pub id: String,
    pub type_code: String,
    pub type_name: String,
    pub holder_type: String,
    pub holder_name: String,
    pub holder_shown: String,
    pub authority: String,
    pub issued_on: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub state: String,
    pub fields: Vec<(String, String)>,
    /// Uses including this one (用证次数).
    pub uses: i64,
    /// `grant`: read by holder identifier under the caller's grant; `presented`: the holder
    /// showed the QR code (consent).
    pub basis: &'static str,
}

/// A state change a department may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateChange {
    Suspend,
    Restore,
    Revoke,
}

struct Inner {
    store: Store,
    keys: Arc<MasterKey>,
    audit: AuditLog,
    sharing: Sharing,
    trust_key: SealKey,
    hub_name: String,
    base_url: String,
    issuing: tokio::sync::Mutex<()>,
    /// Counts committed changes to the register (issues, re-issues, state changes), so that
    /// what is derived from it (the licence library) follows.
    changes: tokio::sync::watch::Sender<u64>,
}

/// The licence engine. Cheap to clone.
#[derive(Clone)]
pub struct Licences {
    inner: Arc<Inner>,
}

fn sealed_label(code: &str) -> String {
    format!("licence-seal:{code}")
}

/// The sealing label of a licence's holder identifier: a sealed value opens only for the
/// licence it was sealed for.
fn holder_label(id: &str) -> String {
    format!("licence-holder:{id}")
}

/// A current licence with its holder's identifier opened: a row of the licence library.
#[derive(Debug, Clone)]
pub struct LibraryEntry {
    pub licence: LicenceRow,
    /// `None` for a licence issued before holders were kept sealed.
    pub holder: Option<String>,
}

impl Licences {
    /// Opens the engine; the hub's trust key (which signs the trust and status lists) is kept
    /// at `dir/trust.key` sealed under the master key, its public half at `dir/trust.pub`.
    pub fn open(
        store: Store,
        keys: Arc<MasterKey>,
        audit: AuditLog,
        sharing: Sharing,
        dir: &Path,
        hub_name: &str,
        base_url: &str,
    ) -> Result<Licences> {
        std::fs::create_dir_all(dir).map_err(|e| LicenceError::Internal(e.to_string()))?;
        let secret = keys.secret_file(&dir.join("trust.key"))?;
        let trust_key = SealKey::from_secret(&secret, DEFAULT_SIGNER_ID)?;
        let public = format!("{}\n", trust_key.public_hex());
        if std::fs::read_to_string(dir.join("trust.pub"))
            .ok()
            .as_deref()
            != Some(&public)
        {
            std::fs::write(dir.join("trust.pub"), public)
                .map_err(|e| LicenceError::Internal(e.to_string()))?;
        }
        Ok(Licences {
            inner: Arc::new(Inner {
                store,
                keys,
                audit,
                sharing,
                trust_key,
                hub_name: hub_name.to_string(),
                base_url: base_url.trim_end_matches('/').to_string(),
                issuing: tokio::sync::Mutex::new(()),
                changes: tokio::sync::watch::channel(0).0,
            }),
        })
    }

    /// Changes to the register: the value moves after every committed change.
    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// The register's version: moves with every issue, re-issue and state change.
    pub async fn register_version(&self) -> Result<i64> {
        self.store()
            .licence_register_version()
            .await
            .map_err(internal)
    }

    fn changed(&self) {
        self.inner.changes.send_modify(|n| *n += 1);
    }

    /// Up to `n` current licences (not superseded) with identifiers after `after`, in
    /// identifier order, each with its holder's identifier opened: the pass the licence
    /// library (电子证照库) is derived by. The caller (the base-library engine) decides and
    /// audits the derivation.
    pub async fn library_page(&self, after: &str, n: i64) -> Result<Vec<LibraryEntry>> {
        let rows = self
            .store()
            .licences(&LicenceFilter {
                current_only: true,
                limit: n,
                after_id: Some(after.to_string()),
                ..Default::default()
            })
            .await
            .map_err(internal)?;
        rows.into_iter()
            .map(|l| {
                let holder = if l.holder_sealed.is_empty() {
                    None
                } else {
                    Some(
                        self.inner
                            .keys
                            .open_text(&holder_label(&l.id), &l.holder_sealed)?,
                    )
                };
                Ok(LibraryEntry { licence: l, holder })
            })
            .collect()
    }

    /// The hub's trust key (hex, uncompressed SEC1): what a verifier pins.
    pub fn trust_public_hex(&self) -> String {
        self.inner.trust_key.public_hex()
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    pub async fn types(&self) -> Result<Vec<LicenceTypeRow>> {
        self.store().licence_types().await.map_err(internal)
    }

    pub async fn seals(&self) -> Result<Vec<SealRow>> {
        self.store().licence_seals().await.map_err(internal)
    }

    /// Registers (or updates) a licence type. The resource must hold the items named.
    pub async fn register_type(
        &self,
        actor: &Actor,
        input: LicenceTypeInput,
    ) -> Result<LicenceTypeRow> {
        decide(actor, Action::ManageLicences, Target::Hub).map_err(denied)?;
        let store = self.store();
        let definer = store
            .department(&input.definer)
            .await
            .map_err(internal)?
            .ok_or_else(|| unknown_department(&input.definer))?;
        let code: LicenceTypeCode = if input.code.trim().is_empty() {
            let credit: CreditCode = definer
                .credit_code
                .as_deref()
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| {
                    LicenceError::invalid(
                        "LICENCE_TYPE_DEFINER_CODE",
                        format!("定义部门 {} 没有有效的统一社会信用代码", definer.name),
                        format!(
                            "the defining department {} has no valid credit code",
                            definer.code
                        ),
                    )
                })?;
            LicenceTypeCode::compose(&credit, input.number.unwrap_or(1)).ok_or_else(|| {
                LicenceError::invalid(
                    "LICENCE_TYPE_NUMBER",
                    "证照类型序号应为 0–999",
                    "a type number is 0–999",
                )
            })?
        } else {
            input.code.parse().map_err(field)?
        };
        for issuer in &input.issuers {
            store
                .department(issuer)
                .await
                .map_err(internal)?
                .ok_or_else(|| unknown_department(issuer))?;
        }
        if input.issuers.is_empty() || input.name.trim().is_empty() {
            return Err(LicenceError::invalid(
                "LICENCE_TYPE_INCOMPLETE",
                "证照类型需要名称和至少一个颁发部门",
                "a licence type needs a name and at least one issuing department",
            ));
        }
        let rec = store
            .resource(&input.resource_code)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                LicenceError::invalid(
                    "LICENCE_TYPE_RESOURCE",
                    format!("数据资源 {} 不存在", input.resource_code),
                    format!("no resource {}", input.resource_code),
                )
            })?;
        let item = |name: &str| rec.spec.data_items.iter().find(|i| i.name == name);
        let holder = item(&input.holder_item).ok_or_else(|| missing_item(&input.holder_item))?;
        let holder_type = match holder.semantic_type {
            shuniu_types::SemanticType::IdNumber => "id_number",
            shuniu_types::SemanticType::CreditCode => "credit_code",
            _ => {
                return Err(LicenceError::invalid(
                    "LICENCE_TYPE_HOLDER",
                    "持证主体信息项应为身份证号或统一社会信用代码",
                    "the holder item is an ID number or a credit code",
                ));
            }
        };
        for name in std::iter::once(&input.holder_name_item)
            .chain(input.serial_item.iter())
            .chain(input.fields.iter().map(|f| &f.0))
        {
            item(name).ok_or_else(|| missing_item(name))?;
        }
        let row = LicenceTypeRow {
            code: code.to_string(),
            name: input.name.trim().to_string(),
            definer: definer.code,
            issuers: input.issuers,
            resource_code: input.resource_code,
            holder_item: input.holder_item,
            holder_type: holder_type.into(),
            holder_name_item: input.holder_name_item,
            serial_item: input.serial_item,
            fields: input.fields,
            validity_years: input.validity_years.filter(|y| *y > 0),
            // Re-registering a type keeps where its issuing reached.
            reached_version: self
                .types()
                .await?
                .into_iter()
                .find(|t| t.code == code.as_str())
                .and_then(|t| t.reached_version),
            created_by: actor.principal.clone(),
            created_at: shuniu_store::now(),
        };
        let mut tx = store.begin().await.map_err(internal)?;
        tx.put_licence_type(&row).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.inner
            .audit
            .record(
                Entry::by(
                    Kind::Admin,
                    "licence.type",
                    &actor.principal,
                    &actor.department,
                )
                .target(row.code.clone())
                .detail(row.name.clone()),
            )
            .await
            .map_err(internal)?;
        Ok(row)
    }

    /// Makes a department's e-seal: a new SM2 key pair, its private half sealed under the
    /// master key. A department's earlier seal is retired (it stays in the trust list and
    /// verifies what it signed): this is how a seal's key is rotated.
    pub async fn make_seal(
        &self,
        actor: &Actor,
        department: &str,
        signer_id: Option<&str>,
        valid_years: u32,
    ) -> Result<SealRow> {
        decide(actor, Action::ManageLicences, Target::Hub).map_err(denied)?;
        let dept = self
            .store()
            .department(department)
            .await
            .map_err(internal)?
            .ok_or_else(|| unknown_department(department))?;
        let signer_id = signer_id.unwrap_or(DEFAULT_SIGNER_ID);
        let (key, secret) = SealKey::generate(signer_id)?;
        // Whole seconds: an envelope's issue time is whole seconds too.
        let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 0);
        let until = now + chrono::Duration::days(365 * i64::from(valid_years.clamp(1, 10)));
        let existing = self.seals().await?;
        // Seal codes: the department's division, then a sequence (GB/T 38540 leaves the
        // coding to the seal authority).
        let code = format!("{}{:08}", dept.division, existing.len() as u64 + 1);
        let name = format!("{}电子证照专用章", dept.name);
        let info = seal_info(&code, &name, &key, now, until, &dept.name);
        let row = SealRow {
            code: code.clone(),
            department: dept.code.clone(),
            name,
            kid: hex::encode(key.kid()),
            public_key: key.public_hex(),
            sealed_private_key: self.inner.keys.seal(&sealed_label(&code), &secret)?,
            signer_id: signer_id.to_string(),
            valid_from: now.to_rfc3339(),
            valid_until: until.to_rfc3339(),
            state: "active".into(),
            info,
            created_by: actor.principal.clone(),
            created_at: shuniu_store::now(),
        };
        let mut tx = self.store().begin().await.map_err(internal)?;
        tx.retire_seals(&dept.code).await.map_err(internal)?;
        tx.insert_seal(&row).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.inner
            .audit
            .record(
                Entry::by(
                    Kind::Admin,
                    "licence.seal",
                    &actor.principal,
                    &actor.department,
                )
                .target(code)
                .detail(format!("{} kid {}", dept.code, row.kid)),
            )
            .await
            .map_err(internal)?;
        Ok(row)
    }

    /// A seal's data in GB/T 38540's structure (SES_Seal, DER), signed by the hub as the seal
    /// maker (see [`crate::ses`]). Public, as the trust list is.
    pub async fn seal_structure(&self, code: &str) -> Result<Vec<u8>> {
        let row = self
            .seals()
            .await?
            .into_iter()
            .find(|s| s.code == code.trim())
            .ok_or_else(|| LicenceError::NotFound(format!("seal {}", code.trim())))?;
        let picture = row
            .info
            .pointer("/picture/data")
            .and_then(|d| d.as_str())
            .unwrap_or_default()
            .to_string();
        crate::ses::encode(
            &crate::ses::SealFacts {
                code: &row.code,
                name: &row.name,
                public_hex: &row.public_key,
                created: parse_time(&row.valid_from)?,
                valid_until: parse_time(&row.valid_until)?,
                picture_svg: &picture,
            },
            &self.inner.trust_key,
        )
    }

    fn open_seal(&self, row: &SealRow) -> Result<SealKey> {
        let secret = self
            .inner
            .keys
            .unseal(&sealed_label(&row.code), &row.sealed_private_key)?;
        SealKey::from_secret(&secret, &row.signer_id)
    }

    /// Issues a type's licences from every row of its resource: a new licence for a new row,
    /// a new version for a row whose licensed fields changed (the old one is cancelled), and
    /// nothing for the rest. Rows are read through the resource's serving index, a page at a
    /// time.
    pub async fn issue_all(&self, actor: &Actor, type_code: &str) -> Result<IssueReport> {
        self.issue(actor, type_code, None).await
    }

    /// On demand (依申请): issues, or re-issues if its data changed, the licence of one holder
    /// from their row in the type's resource, and returns the holder's current licence. The
    /// resource must be keyed by the holder's identifier; a holder without a row has no
    /// licence (and one whose row left the resource has theirs cancelled).
    pub async fn issue_for(
        &self,
        actor: &Actor,
        type_code: &str,
        holder: &str,
    ) -> Result<LicenceRow> {
        let t = self
            .types()
            .await?
            .into_iter()
            .find(|t| t.code == type_code.trim())
            .ok_or_else(|| {
                LicenceError::invalid(
                    "LICENCE_TYPE_UNKNOWN",
                    format!("证照类型 {type_code} 不存在"),
                    format!("no licence type {type_code}"),
                )
            })?;
        let Some(holder) = holder_key(&t.holder_type, holder) else {
            return Err(LicenceError::invalid(
                "LICENCE_HOLDER",
                "持证主体标识不是有效的身份证号或统一社会信用代码",
                "the holder is not a valid ID number or unified social credit code",
            ));
        };
        self.issue(actor, &t.code, Some(vec![holder.clone()]))
            .await?;
        let subject = self.inner.audit.subject(&holder);
        self.store()
            .current_licence_of(&t.code, &subject)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                LicenceError::NotFound(format!(
                    "a row for this holder in {} (the resource must hold it under its key)",
                    t.resource_code
                ))
            })
    }

    /// Issues for the rows of these keys only (the resource's keys its change log named);
    /// a key whose row is gone cancels the licence of that holder (when the resource is keyed
    /// by the holder).
    async fn issue(
        &self,
        actor: &Actor,
        type_code: &str,
        keys: Option<Vec<String>>,
    ) -> Result<IssueReport> {
        let _one = self.inner.issuing.lock().await;
        let started = std::time::Instant::now();
        let t = self
            .types()
            .await?
            .into_iter()
            .find(|t| t.code == type_code)
            .ok_or_else(|| {
                LicenceError::invalid(
                    "LICENCE_TYPE_UNKNOWN",
                    format!("证照类型 {type_code} 不存在"),
                    format!("no licence type {type_code}"),
                )
            })?;
        let issuer = t.issuers.first().cloned().unwrap_or_default();
        decide(
            actor,
            Action::IssueLicences,
            Target::SharingOf {
                department: &issuer,
            },
        )
        .map_err(denied)?;
        let seal_row = self
            .seals()
            .await?
            .into_iter()
            .find(|s| s.state == "active" && s.department.as_str().eq(issuer.as_str()))
            .ok_or_else(|| {
                LicenceError::invalid(
                    "LICENCE_NO_SEAL",
                    format!("颁发部门 {issuer} 尚无有效的电子印章"),
                    format!("the issuing department {issuer} has no active e-seal"),
                )
            })?;
        let key = Arc::new(self.open_seal(&seal_row)?);
        let dept = self
            .store()
            .department(&issuer)
            .await
            .map_err(internal)?
            .ok_or_else(|| unknown_department(&issuer))?;
        let issuer_code = dept
            .credit_code
            .clone()
            .filter(|c| c.parse::<CreditCode>().is_ok())
            .unwrap_or_else(|| dept.division.clone());
        let type_code: LicenceTypeCode = t.code.parse().map_err(field)?;
        let idx = self.source_index(&t.resource_code).await?.ok_or_else(|| {
            LicenceError::invalid(
                "LICENCE_NO_DATA",
                format!("数据资源 {} 尚无数据", t.resource_code),
                format!("resource {} has no data yet", t.resource_code),
            )
        })?;
        let (version, layout) = idx.current().map_err(internal)?;
        let layout = layout.ok_or_else(|| LicenceError::Internal("no layout".into()))?;
        let col = |name: &str| layout.columns.iter().position(|c| c == name);
        let holder_col = col(&t.holder_item).ok_or_else(|| missing_item(&t.holder_item))?;
        let name_col = col(&t.holder_name_item).ok_or_else(|| missing_item(&t.holder_name_item))?;
        let serial_col = t.serial_item.as_deref().and_then(col);
        let field_cols: Vec<(String, Option<usize>)> = t
            .fields
            .iter()
            .map(|(item, label)| (label.clone(), col(item)))
            .collect();
        let mut report = IssueReport {
            type_code: t.code.clone(),
            source_version: version.unwrap_or(0) as i64,
            ..Default::default()
        };
        let today = beijing_today();
        let valid_until = t
            .validity_years
            .and_then(|y| today.with_year(today.year() + y as i32));
        let mut after: Option<String> = None;
        let mut pending = keys.clone().unwrap_or_default();
        let mut gone: Vec<String> = Vec::new();
        loop {
            let i2 = idx.clone();
            let (page, full) = if keys.is_some() {
                // The changed keys, a chunk at a time; a key without a row is gone.
                let chunk: Vec<String> = pending.drain(..pending.len().min(1_000)).collect();
                if chunk.is_empty() {
                    break;
                }
                let found = tokio::task::spawn_blocking(move || {
                    let mut rows = Vec::new();
                    let mut missing = Vec::new();
                    i2.lookup_many(chunk.iter().map(String::as_str), |k, row| {
                        match row {
                            Some(r) => rows.push(r),
                            None => missing.push(k.to_string()),
                        }
                        Ok(())
                    })
                    .map(|()| (rows, missing))
                })
                .await
                .map_err(|e| LicenceError::Internal(e.to_string()))?
                .map_err(internal)?;
                gone.extend(found.1);
                (found.0, !pending.is_empty())
            } else {
                let a = after.clone();
                let page = tokio::task::spawn_blocking(move || i2.page(a.as_deref(), 1_000))
                    .await
                    .map_err(|e| LicenceError::Internal(e.to_string()))?
                    .map_err(internal)?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                let full = page.len() == 1_000;
                (page.into_iter().map(|(_, r)| r).collect::<Vec<_>>(), full)
            };
            // Each row is compared with the holder's current licence; what must be issued is
            // numbered, signed on every core, and stored in one transaction per page.
            let mut seen: Vec<Pending> = Vec::with_capacity(page.len());
            for row in page {
                report.rows_read += 1;
                let cell = |c: usize| row.get(c).cloned().flatten().unwrap_or_default();
                let raw = cell(holder_col);
                let Some(holder) = holder_key(&t.holder_type, &raw) else {
                    report.holders_invalid += 1;
                    continue;
                };
                let fields: Vec<(String, String)> = field_cols
                    .iter()
                    .map(|(label, c)| (label.clone(), c.map(cell).unwrap_or_default()))
                    .collect();
                let name = cell(name_col);
                let subject = self.inner.audit.subject(&holder);
                let serial = serial_col
                    .map(cell)
                    .map(|s| {
                        s.chars()
                            .filter(char::is_ascii_alphanumeric)
                            .collect::<String>()
                            .to_ascii_uppercase()
                    })
                    .filter(|s| !s.is_empty() && s.len() <= 40);
                seen.push(Pending {
                    holder,
                    subject,
                    name,
                    fields,
                    serial,
                    current: None,
                });
            }
            // A licence is the same licence again by its serial, or (types the hub numbers)
            // by its holder: the page's current licences in one pass.
            let (by_serial, mut by_holder): (Vec<String>, Vec<String>) = (
                seen.iter().filter_map(|p| p.serial.clone()).collect(),
                seen.iter()
                    .filter(|p| p.serial.is_none())
                    .map(|p| p.subject.clone())
                    .collect(),
            );
            by_holder.dedup();
            let store = self.store();
            let current_by_serial = store
                .current_licences_for(&t.code, true, &by_serial)
                .await
                .map_err(internal)?;
            let current_by_holder = store
                .current_licences_for(&t.code, false, &by_holder)
                .await
                .map_err(internal)?;
            let mut todo: Vec<Option<Pending>> = Vec::new();
            let mut at_of: HashMap<String, usize> = HashMap::new();
            for mut p in seen {
                let current = match &p.serial {
                    Some(s) => current_by_serial.get(s).cloned(),
                    None => current_by_holder.get(&p.subject).cloned(),
                };
                if let Some(cur) = &current
                    && cur.holder_subject == p.subject
                    && cur.holder_name == p.name
                    && cur.claims.get("f") == Some(&serde_json::json!(p.fields))
                {
                    report.unchanged += 1;
                    continue;
                }
                // The same holder twice in one page (a resource not keyed by the holder):
                // the later row wins, as it would have one row at a time.
                if p.serial.is_none()
                    && let Some(at) = at_of.insert(p.subject.clone(), todo.len())
                {
                    todo[at] = None;
                }
                p.current = current;
                todo.push(Some(p));
            }
            let todo: Vec<Pending> = todo.into_iter().flatten().collect();
            if todo.is_empty() {
                if !full {
                    break;
                }
                continue;
            }
            // Issuing is serialized (`issuing`), so the indexes from here on are ours.
            let first_index = self.store().next_status_index().await.map_err(internal)?;
            let now = Utc::now();
            let mut drafts = Vec::with_capacity(todo.len());
            for (i, p) in todo.into_iter().enumerate() {
                let status_index = first_index + i as i64;
                let serial = p
                    .serial
                    .clone()
                    .or_else(|| p.current.as_ref().map(|c| c.serial.clone()))
                    .unwrap_or_else(|| format!("{}{:08}", today.year(), status_index));
                let version = p.current.as_ref().map_or(1, |c| c.version + 1);
                let id = LicenceId::compose(&type_code, &issuer_code, &serial, version as u16)
                    .ok_or_else(|| {
                        LicenceError::Internal(format!("cannot compose an identifier for {serial}"))
                    })?;
                let claims = LicenceClaims {
                    id: id.to_string(),
                    type_code: t.code.clone(),
                    type_name: t.name.clone(),
                    holder_name: p.name.clone(),
                    holder_id_type: t.holder_type.clone(),
                    holder_id_shown: shown(&t.holder_type, &p.holder),
                    holder_digest: holder_digest(id.as_str(), &p.holder),
                    authority: dept.name.clone(),
                    authority_code: issuer_code.clone(),
                    area: dept.division.clone(),
                    issued_on: today,
                    valid_from: today,
                    valid_until,
                    status_index: status_index as u64,
                    fields: p.fields.clone(),
                };
                drafts.push((p, serial, version, status_index, claims));
            }
            let envelopes = sign_all(
                key.clone(),
                drafts.iter().map(|d| d.4.clone()).collect(),
                now,
            )
            .await?;
            let mut tx = self.store().begin().await.map_err(internal)?;
            for ((p, serial, version, status_index, claims), envelope) in
                drafts.into_iter().zip(envelopes)
            {
                let row = LicenceRow {
                    holder_sealed: self
                        .inner
                        .keys
                        .seal_text(&holder_label(&claims.id), &p.holder)?,
                    id: claims.id.clone(),
                    type_code: t.code.clone(),
                    serial,
                    version,
                    holder_subject: p.subject,
                    holder_type: t.holder_type.clone(),
                    holder_name: p.name,
                    holder_shown: claims.holder_id_shown.clone(),
                    issuer: issuer.clone(),
                    seal_code: seal_row.code.clone(),
                    resource_code: t.resource_code.clone(),
                    source_version: report.source_version,
                    status_index,
                    state: VALID.into(),
                    issued_at: now.to_rfc3339(),
                    valid_from: today.to_string(),
                    valid_until: valid_until.map(|d| d.to_string()),
                    envelope,
                    claims: serde_json::to_value(&claims)
                        .map_err(|e| LicenceError::Internal(e.to_string()))?,
                    uses: 0,
                    superseded_by: None,
                };
                let reason = if p.current.is_some() {
                    "来源数据变更，换发新版本 / source data changed: re-issued"
                } else {
                    "依据部门数据签发 / issued from the department's data"
                };
                tx.insert_licence(
                    &row,
                    p.current.as_ref().map(|c| c.id.as_str()),
                    &actor.principal,
                    reason,
                )
                .await
                .map_err(internal)?;
                if p.current.is_some() {
                    report.reissued += 1;
                } else {
                    report.issued += 1;
                }
            }
            tx.commit().await.map_err(internal)?;
            if !full {
                break;
            }
        }
        // A holder whose row left the resource: the licence is cancelled (注销).
        if layout.key == holder_col {
            for key in gone {
                let Some(holder) = holder_key(&t.holder_type, &key) else {
                    continue;
                };
                let subject = self.inner.audit.subject(&holder);
                let Some(cur) = self
                    .store()
                    .current_licence_of(&t.code, &subject)
                    .await
                    .map_err(internal)?
                else {
                    continue;
                };
                if matches!(cur.state.as_str(), VALID | SUSPENDED) {
                    let mut tx = self.store().begin().await.map_err(internal)?;
                    tx.set_licence_state(
                        &cur.id,
                        &shuniu_store::now(),
                        &actor.principal,
                        "cancel",
                        &cur.state,
                        CANCELLED,
                        "来源数据已删除，证照注销 / the holder left the source data: cancelled",
                    )
                    .await
                    .map_err(internal)?;
                    tx.commit().await.map_err(internal)?;
                    report.cancelled += 1;
                }
            }
        }
        let mut tx = self.store().begin().await.map_err(internal)?;
        tx.set_licence_type_reached(&t.code, report.source_version)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        report.seconds = started.elapsed().as_secs_f64();
        let rec = self
            .store()
            .resource(&t.resource_code)
            .await
            .map_err(internal)?;
        self.inner
            .audit
            .record(
                Entry::by(
                    Kind::Access,
                    "licence.issue",
                    &actor.principal,
                    &actor.department,
                )
                .resource(
                    &t.resource_code,
                    rec.as_ref().map_or("", |r| r.spec.provider.as_str()),
                )
                .target(t.code.clone())
                .fields(t.fields.iter().map(|f| f.0.clone()).collect())
                .rows(report.rows_read)
                .detail(format!(
                    "issued {} re-issued {} unchanged {}",
                    report.issued, report.reissued, report.unchanged
                )),
            )
            .await
            .map_err(internal)?;
        if report.issued + report.reissued + report.cancelled > 0 {
            self.changed();
        }
        Ok(report)
    }

    /// A resource's serving index, brought up to its latest loaded version; `None` before
    /// any data.
    async fn source_index(&self, code: &str) -> Result<Option<Arc<shuniu_sharing::ServingIndex>>> {
        let loaded = self
            .store()
            .latest_versions()
            .await
            .map_err(internal)?
            .into_iter()
            .find(|(c, _, _)| c == code)
            .map(|(_, v, _)| v);
        self.inner
            .sharing
            .derivation_index(code, loaded)
            .await
            .map_err(internal)
    }

    /// Issues, from the change log, the licences of every type whose resource `code` is, for
    /// the types issued at least once (the first issue is a department's decision).
    pub async fn after_commit(&self, code: &str) -> Result<Vec<IssueReport>> {
        let mut out = Vec::new();
        for t in self.types().await? {
            let (true, Some(reached)) = (t.resource_code == code, t.reached_version) else {
                continue;
            };
            let Some(idx) = self.source_index(code).await? else {
                continue;
            };
            let from = reached.max(0) as u64;
            let keys = tokio::task::spawn_blocking(move || idx.changed_keys(from))
                .await
                .map_err(|e| LicenceError::Internal(e.to_string()))?
                .map_err(internal)?;
            if keys.is_empty() {
                continue;
            }
            let actor = Actor {
                principal: "system:licences".into(),
                display_name: "电子证照 / licences".into(),
                role: shuniu_types::Role::HubOperator,
                department: t.issuers.first().cloned().unwrap_or_default(),
            };
            out.push(self.issue(&actor, &t.code, Some(keys)).await?);
        }
        Ok(out)
    }

    /// Follows committed loads and issues from their change logs (the server runs this).
    pub fn follow_commits(
        &self,
        mut commits: tokio::sync::broadcast::Receiver<(String, i64)>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                match commits.recv().await {
                    Ok((code, _)) => {
                        if let Err(e) = me.after_commit(&code).await {
                            tracing::warn!(code, error = %e, "issuing licences from a load failed");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    /// Suspends, restores or revokes a licence, with the reason; audited.
    pub async fn change_state(
        &self,
        actor: &Actor,
        id: &str,
        change: StateChange,
        reason: &str,
    ) -> Result<LicenceRow> {
        let lic = self.licence(id).await?;
        decide(
            actor,
            Action::IssueLicences,
            Target::SharingOf {
                department: &lic.issuer,
            },
        )
        .map_err(denied)?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(LicenceError::invalid(
                "LICENCE_REASON",
                "请填写原因（不超过 500 字）",
                "give a reason (at most 500 characters)",
            ));
        }
        let (from, to, action) = match change {
            StateChange::Suspend => (VALID, SUSPENDED, "suspend"),
            StateChange::Restore => (SUSPENDED, VALID, "restore"),
            StateChange::Revoke if lic.state == SUSPENDED => (SUSPENDED, REVOKED, "revoke"),
            StateChange::Revoke => (VALID, REVOKED, "revoke"),
        };
        let mut tx = self.store().begin().await.map_err(internal)?;
        let done = tx
            .set_licence_state(
                id,
                &shuniu_store::now(),
                &actor.principal,
                action,
                from,
                to,
                reason,
            )
            .await
            .map_err(internal)?;
        if !done {
            return Err(LicenceError::invalid(
                "LICENCE_STATE",
                format!("证照当前状态为 {}，不能执行该操作", lic.state),
                format!("the licence is {}: this change does not apply", lic.state),
            ));
        }
        tx.commit().await.map_err(internal)?;
        self.changed();
        self.inner
            .audit
            .record(
                Entry::by(
                    Kind::Admin,
                    &format!("licence.{action}"),
                    &actor.principal,
                    &actor.department,
                )
                .target(id.to_string())
                .subjects(vec![lic.holder_subject.clone()])
                .detail(reason.to_string()),
            )
            .await
            .map_err(internal)?;
        self.licence(id).await
    }

    pub async fn licence(&self, id: &str) -> Result<LicenceRow> {
        self.store()
            .licence(id.trim())
            .await
            .map_err(internal)?
            .ok_or_else(|| LicenceError::NotFound(format!("licence {}", id.trim())))
    }

    /// Whether the actor may see and change this licence: the hub, or the issuing
    /// department's officers.
    pub fn may_handle(&self, actor: &Actor, licence: &LicenceRow) -> bool {
        decide(
            actor,
            Action::IssueLicences,
            Target::SharingOf {
                department: &licence.issuer,
            },
        )
        .is_ok()
    }

    /// A licence as the actor may see it; another department's is not found.
    pub async fn licence_for(&self, actor: &Actor, id: &str) -> Result<LicenceRow> {
        let l = self.licence(id).await?;
        if self.may_handle(actor, &l) {
            Ok(l)
        } else {
            Err(LicenceError::NotFound(format!("licence {}", id.trim())))
        }
    }

    /// Current licences by type and state: (type, state, count, uses).
    pub async fn counts(&self) -> Result<Vec<(String, String, i64, i64)>> {
        self.store().licence_counts().await.map_err(internal)
    }

    /// A licence's history of states.
    pub async fn events(&self, id: &str) -> Result<Vec<shuniu_store::LicenceEventRow>> {
        self.store()
            .licence_events(id.trim())
            .await
            .map_err(internal)
    }

    pub async fn list(&self, filter: &LicenceFilter) -> Result<Vec<LicenceRow>> {
        self.store().licences(filter).await.map_err(internal)
    }

    /// A holder's current licences, by their ID number or credit code.
    pub async fn of_holder(&self, holder: &str) -> Result<Vec<LicenceRow>> {
        let holder = IdNumber::parse_any(holder.trim())
            .map(|i| i.to_string())
            .or_else(|_| holder.trim().parse::<CreditCode>().map(|c| c.to_string()))
            .map_err(field)?;
        self.list(&LicenceFilter {
            holder_subject: Some(self.inner.audit.subject(&holder)),
            current_only: true,
            limit: 1_000,
            ..Default::default()
        })
        .await
    }

    /// The trust list, signed: every seal, active and retired.
    pub async fn trust_list(&self) -> Result<Signed> {
        let depts: BTreeMap<String, String> = self
            .store()
            .departments()
            .await
            .map_err(internal)?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect();
        let seals = self
            .seals()
            .await?
            .into_iter()
            .map(|s| {
                Ok(TrustedSeal {
                    kid: s.kid,
                    seal_code: s.code,
                    seal_name: s.name,
                    department_name: depts.get(&s.department).cloned().unwrap_or_default(),
                    department: s.department,
                    public_key: s.public_key,
                    signer_id: s.signer_id,
                    valid_from: parse_time(&s.valid_from)?,
                    valid_until: parse_time(&s.valid_until)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Signed::sign(
            &TrustList {
                issuer: self.inner.hub_name.clone(),
                issued_at: Utc::now(),
                seals,
            },
            &self.inner.trust_key,
        )
    }

    /// A status list as of now, valid for [`STATUS_TTL_HOURS`].
    pub async fn status_list(&self, purpose: StatusPurpose) -> Result<Signed> {
        // A licence re-issued as a new version is cancelled (注销): it stops verifying as a
        // revoked one does.
        let states: &[&str] = match purpose {
            StatusPurpose::Revocation => &[REVOKED, CANCELLED],
            StatusPurpose::Suspension => &[SUSPENDED],
        };
        let mut bits = Bitstring::with_capacity(0);
        for state in states {
            for i in self
                .store()
                .licence_status_indexes(state)
                .await
                .map_err(internal)?
            {
                bits.set(i.max(0) as usize, true);
            }
        }
        let cred = StatusListCredential::new(
            &self.inner.base_url,
            purpose,
            &bits,
            Utc::now(),
            chrono::Duration::hours(STATUS_TTL_HOURS),
        )?;
        Signed::sign(&cred, &self.inner.trust_key)
    }

    /// A verifier loaded with the lists as of now (what an offline verifier would have
    /// fetched last).
    pub async fn verifier(&self) -> Result<Verifier> {
        let root = SealPublicKey::from_hex(&self.trust_public_hex(), DEFAULT_SIGNER_ID)?;
        Verifier::new(
            &root,
            &self.trust_list().await?,
            &[
                self.status_list(StatusPurpose::Revocation).await?,
                self.status_list(StatusPurpose::Suspension).await?,
            ],
        )
    }

    /// Verifies a QR text online: the lists are as of this moment.
    pub async fn verify(&self, text: &str) -> Result<std::result::Result<Verified, Rejection>> {
        Ok(self.verifier().await?.verify(text, Utc::now()))
    }
}

impl Licences {
    /// 免证办 by identifier: the holder's current licences of the types whose resource the
    /// calling system may look up through the unified service (decided by the sharing policy
    /// exactly as a lookup), each read audited with the grant's purpose on the holder's
    /// record and counted as a use. A system with no such grant is refused (and audited)
    /// whoever the holder is, so a refusal says nothing about the holder.
    pub async fn read_for_holder(
        &self,
        caller: &shuniu_sharing::Caller,
        holder: &str,
    ) -> Result<Vec<LicenceUse>> {
        let types = self.types().await?;
        let mut resources: Vec<String> = types.iter().map(|t| t.resource_code.clone()).collect();
        resources.sort();
        resources.dedup();
        let grants = self
            .inner
            .sharing
            .licence_use_grants(caller, &resources)
            .await?;
        if grants.is_empty() {
            let d = shuniu_policy::Denied::new(
                "NO_GRANT",
                "本应用没有任何证照所依据资源的共享授权，请先提交共享申请",
                "this application has no grant on the resource of any licence type; file a sharing request first",
            );
            self.record_uses(caller, Vec::new(), d.code).await?;
            return Err(LicenceError::Denied(d));
        }
        let held = self.of_holder(holder).await?;
        let mut reads = Vec::new();
        for l in held {
            if l.state == CANCELLED {
                continue;
            }
            if let Some(g) = grants.iter().find(|g| g.resource == l.resource_code) {
                reads.push((
                    l,
                    g.provider.clone(),
                    Some(g.grant.clone()),
                    g.purpose.clone(),
                ));
            }
        }
        self.record_uses(caller, reads, "ok").await
    }

    /// 免证办 by consent: the holder shows the QR code at a counter and the counter's system
    /// reads that one licence, verified online (a revoked or suspended licence is refused with
    /// its reason). The purpose the system states goes on the holder's record.
    pub async fn read_presented(
        &self,
        caller: &shuniu_sharing::Caller,
        qr_text: &str,
        purpose: &str,
    ) -> Result<LicenceUse> {
        if let Err(d) = shuniu_policy::grant::decide_presented_licence(&caller.department, purpose)
        {
            self.record_uses(caller, Vec::new(), d.code).await?;
            return Err(LicenceError::Denied(d));
        }
        let verified = match self.verify(qr_text).await? {
            Ok(v) => v,
            Err(r) => {
                self.record_uses(caller, Vec::new(), r.code()).await?;
                return Err(LicenceError::Rejected(r));
            }
        };
        let l = self.licence(&verified.claims.id).await?;
        let provider = self
            .inner
            .sharing
            .resource_provider(&l.resource_code)
            .await
            .unwrap_or_else(|| l.issuer.clone());
        let mut used = self
            .record_uses(
                caller,
                vec![(l, provider, None, purpose.trim().to_string())],
                "ok",
            )
            .await?;
        used.pop()
            .ok_or_else(|| LicenceError::Internal("a presented licence was not read".into()))
    }

    /// Audits the reads (one durable write: one entry per licence, on its holder's record),
    /// then counts each as a use; or, with no reads, audits the refusal `result`.
    async fn record_uses(
        &self,
        caller: &shuniu_sharing::Caller,
        reads: Vec<(LicenceRow, String, Option<String>, String)>,
        result: &str,
    ) -> Result<Vec<LicenceUse>> {
        let principal = caller.principal();
        if reads.is_empty() {
            if result != "ok" {
                self.inner
                    .audit
                    .record(
                        Entry::by(Kind::Access, "licence.use", &principal, &caller.department)
                            .channel("service")
                            .result(result),
                    )
                    .await
                    .map_err(internal)?;
            }
            return Ok(Vec::new());
        }
        let entries = reads
            .iter()
            .map(|(l, provider, grant, purpose)| {
                Entry::by(Kind::Access, "licence.use", &principal, &caller.department)
                    .channel("service")
                    .resource(&l.resource_code, provider)
                    .target(l.id.clone())
                    .rows(1)
                    .subjects(vec![l.holder_subject.clone()])
                    .purpose(Some(purpose.clone()))
                    .grant(grant.clone())
                    .detail(if grant.is_some() {
                        "grant"
                    } else {
                        "presented"
                    })
                    .result(result)
            })
            .collect();
        self.inner
            .audit
            .record_all(entries)
            .await
            .map_err(internal)?;
        let mut tx = self.store().begin().await.map_err(internal)?;
        for (l, ..) in &reads {
            tx.add_licence_use(&l.id).await.map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        let names: BTreeMap<String, String> = self
            .types()
            .await?
            .into_iter()
            .map(|t| (t.code, t.name))
            .collect();
        Ok(reads
            .into_iter()
            .map(|(l, _, grant, _)| {
                let claims: Option<LicenceClaims> = serde_json::from_value(l.claims.clone()).ok();
                LicenceUse {
                    type_name: names.get(&l.type_code).cloned().unwrap_or_default(),
                    authority: claims
                        .as_ref()
                        .map(|c| c.authority.clone())
                        .unwrap_or_default(),
                    issued_on: claims
                        .as_ref()
                        .map(|c| c.issued_on.to_string())
                        .unwrap_or_else(|| l.issued_at.chars().take(10).collect()),
                    fields: claims.map(|c| c.fields).unwrap_or_default(),
                    uses: l.uses + 1,
                    basis: if grant.is_some() {
                        "grant"
                    } else {
                        "presented"
                    },
                    id: l.id,
                    type_code: l.type_code,
                    holder_type: l.holder_type,
                    holder_name: l.holder_name,
                    holder_shown: l.holder_shown,
                    valid_from: l.valid_from,
                    valid_until: l.valid_until,
                    state: l.state,
                }
            })
            .collect())
    }
}

impl Licences {
    /// The licence as a W3C Verifiable Credential 2.0, secured with the issuing department's
    /// e-seal (see [`crate::credential`]); for the hub and the issuing department, audited as an
    /// export of the holder's data.
    pub async fn credential(&self, actor: &Actor, id: &str) -> Result<serde_json::Value> {
        let l = self.licence_for(actor, id).await?;
        let (claims, seal_row) = (claims_of(&l)?, self.seal_of(&l).await?);
        let secured = self.credential_of(&l, &claims, &seal_row)?;
        self.audit_export(&actor.principal, &actor.department, &l, "w3c-vc-2.0")
            .await?;
        Ok(secured)
    }

    /// The licence document (电子证照文件, PDF) with the credential attached; for the hub and
    /// the issuing department, audited as an export.
    pub async fn document(&self, actor: &Actor, id: &str) -> Result<Vec<u8>> {
        let l = self.licence_for(actor, id).await?;
        let pdf = self.render_document(&l).await?;
        self.audit_export(&actor.principal, &actor.department, &l, "pdf")
            .await?;
        Ok(pdf)
    }

    /// The holder's own licence document, for the person signed in on the citizen page
    /// (identified upstream); another person's licence does not exist for them.
    pub async fn document_for_holder(&self, holder: &IdNumber, id: &str) -> Result<Vec<u8>> {
        let l = self.licence(id).await?;
        if l.holder_subject != self.inner.audit.subject(holder.as_str()) {
            return Err(LicenceError::NotFound(format!("licence {}", id.trim())));
        }
        let pdf = self.render_document(&l).await?;
        self.audit_export("citizen", "", &l, "pdf by the holder")
            .await?;
        Ok(pdf)
    }

    async fn audit_export(
        &self,
        principal: &str,
        department: &str,
        l: &LicenceRow,
        what: &str,
    ) -> Result<()> {
        self.inner
            .audit
            .record(
                Entry::by(Kind::Access, "licence.export", principal, department)
                    .resource(&l.resource_code, &l.issuer)
                    .target(l.id.clone())
                    .rows(1)
                    .subjects(vec![l.holder_subject.clone()])
                    .detail(what.to_string()),
            )
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn render_document(&self, l: &LicenceRow) -> Result<Vec<u8>> {
        let (claims, seal_row) = (claims_of(l)?, self.seal_of(l).await?);
        let credential = self.credential_of(l, &claims, &seal_row)?;
        let seal_name = seal_row.name.clone();
        let department_name = self
            .store()
            .department(&l.issuer)
            .await
            .map_err(internal)?
            .map_or_else(|| claims.authority.clone(), |d| d.name);
        let date = |d: NaiveDate| d.format("%Y年%m月%d日").to_string();
        let face = crate::document::Face {
            title: claims.type_name.clone(),
            holder_name: claims.holder_name.clone(),
            holder_label: if claims.holder_id_type == "id_number" {
                "公民身份号码".into()
            } else {
                "统一社会信用代码".into()
            },
            holder_shown: claims.holder_id_shown.clone(),
            fields: claims.fields.clone(),
            authority: claims.authority.clone(),
            issued_on: date(claims.issued_on),
            validity: match claims.valid_until {
                Some(until) => format!("{} 至 {}", date(claims.valid_from), date(until)),
                None => format!("{} 起长期", date(claims.valid_from)),
            },
            licence_id: l.id.clone(),
            qr_text: l.envelope.clone(),
            seal_name,
            verify_url: format!("{}/verify", self.inner.base_url.trim_end_matches('/')),
            credential: serde_json::to_vec_pretty(&credential)
                .map_err(|e| LicenceError::Internal(e.to_string()))?,
        };
        crate::document::pdf(&face, &department_name)
    }

    /// The seal that signed a licence.
    async fn seal_of(&self, l: &LicenceRow) -> Result<SealRow> {
        self.seals()
            .await?
            .into_iter()
            .find(|s| s.code == l.seal_code)
            .ok_or_else(|| LicenceError::Internal(format!("seal {} of {}", l.seal_code, l.id)))
    }

    /// The secured credential of a licence, signed by its seal (no access decision: callers
    /// make it).
    fn credential_of(
        &self,
        l: &LicenceRow,
        claims: &LicenceClaims,
        seal_row: &SealRow,
    ) -> Result<serde_json::Value> {
        let key = self.open_seal(seal_row)?;
        let base = self.inner.base_url.trim_end_matches('/');
        let status = |purpose: &str| {
            serde_json::json!({
                "id": format!("{base}/api/v1/licences/status/{purpose}#{}", l.status_index),
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": l.status_index.to_string(),
                "statusListCredential": format!("{base}/api/v1/licences/status/{purpose}"),
            })
        };
        let mut vc = serde_json::json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": format!("urn:gbt36904:{}", l.id),
            "type": ["VerifiableCredential", "ElectronicLicence"],
            "name": claims.type_name,
            "issuer": {
                "id": format!("urn:uscc:{}", claims.authority_code),
                "name": claims.authority,
            },
            "validFrom": format!("{}T00:00:00+08:00", claims.valid_from),
            "credentialSubject": {
                "id": format!("urn:shuniu:holder:{}", claims.holder_digest),
                "name": claims.holder_name,
                "identifierType": claims.holder_id_type,
                "identifier": claims.holder_id_shown,
                "licence": {
                    "identifier": l.id,
                    "typeCode": claims.type_code,
                    "typeName": claims.type_name,
                    "issuedOn": claims.issued_on.to_string(),
                    "area": claims.area,
                    "fields": claims.fields.iter().map(|(label, value)| {
                        serde_json::json!({"label": label, "value": value})
                    }).collect::<Vec<_>>(),
                },
            },
            "credentialStatus": [status("revocation"), status("suspension")],
        });
        if let Some(until) = claims.valid_until {
            vc["validUntil"] = serde_json::Value::String(format!("{until}T23:59:59+08:00"));
        }
        let method = format!("{base}/api/v1/licences/trust-list#{}", seal_row.kid);
        crate::credential::secure(vc, &key, &method, Utc::now())
    }
}

/// A licence's claims as stored.
fn claims_of(l: &LicenceRow) -> Result<LicenceClaims> {
    serde_json::from_value(l.claims.clone())
        .map_err(|e| LicenceError::Internal(format!("claims of {}: {e}", l.id)))
}

/// A row that needs a licence (new, or changed since the current one).
struct Pending {
    holder: String,
    subject: String,
    name: String,
    fields: Vec<(String, String)>,
    serial: Option<String>,
    current: Option<LicenceRow>,
}

/// Seals the claims on every core (SM2 signing is the cost of issuing); the envelopes come
/// back in the claims' order.
async fn sign_all(
    key: Arc<SealKey>,
    claims: Vec<LicenceClaims>,
    at: DateTime<Utc>,
) -> Result<Vec<String>> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let chunk = claims.len().div_ceil(cores).max(1);
    tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let workers: Vec<_> = claims
                .chunks(chunk)
                .map(|part| {
                    let key = &key;
                    scope.spawn(move || {
                        part.iter()
                            .map(|c| seal_envelope(c, key, at))
                            .collect::<Result<Vec<String>>>()
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(claims.len());
            for w in workers {
                out.extend(
                    w.join().map_err(|_| {
                        LicenceError::Internal("a signing thread panicked".into())
                    })??,
                );
            }
            Ok(out)
        })
    })
    .await
    .map_err(|e| LicenceError::Internal(e.to_string()))?
}

/// A holder's identifier in its canonical form (a 15-digit ID number upgraded), or `None`
/// when the cell is not one.
fn holder_key(holder_type: &str, raw: &str) -> Option<String> {
    match holder_type {
        "id_number" => IdNumber::parse_any(raw.trim()).map(|i| i.to_string()).ok(),
        _ => raw.trim().parse::<CreditCode>().map(|c| c.to_string()).ok(),
    }
}

/// The holder's identifier as a licence shows it: a person's masked, an enterprise's whole.
fn shown(holder_type: &str, holder: &str) -> String {
    if holder_type == "id_number" && holder.len() == 18 {
        format!("{}********{}", &holder[..6], &holder[14..])
    } else {
        holder.to_string()
    }
}

/// GB/T 38540's seal information (印章信息): header, id, property (type, name, certificate
/// list, dates), picture. Kept as JSON with the standard's field names; the certificate list
/// holds the seal's SM2 public key.
fn seal_info(
    code: &str,
    name: &str,
    key: &SealKey,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    department_name: &str,
) -> serde_json::Value {
    serde_json::json!({
        "header": {"id": "ES", "version": 4, "vid": "Shuniu"},
        "esID": code,
        "property": {
            "type": 1,
            "name": name,
            "certListType": 1,
            "certList": [key.public_hex()],
            "createDate": from.format("%Y%m%d%H%M%SZ").to_string(),
            "validStart": from.format("%Y%m%d%H%M%SZ").to_string(),
            "validEnd": until.format("%Y%m%d%H%M%SZ").to_string(),
        },
        "picture": {"type": "svg", "data": seal_svg(department_name), "width": 42, "height": 42},
        "signerId": key.signer_id(),
    })
}

/// The seal's picture: a red ring, the department's name along the upper arc, a star.
pub fn seal_svg(department_name: &str) -> String {
    let name: String = department_name
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '"' | '\''))
        .collect();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="200" height="200"><defs><path id="arc" d="M 30 100 A 70 70 0 1 1 170 100"/></defs><circle cx="100" cy="100" r="92" fill="none" stroke="#d0021b" stroke-width="7"/><text font-size="22" fill="#d0021b" font-family="serif" letter-spacing="2"><textPath href="#arc" startOffset="50%" text-anchor="middle">{name}</textPath></text><polygon fill="#d0021b" points="100,62 109,90 139,90 115,107 124,136 100,118 76,136 85,107 61,90 91,90"/><text x="100" y="165" font-size="16" fill="#d0021b" text-anchor="middle" font-family="serif">电子证照专用章</text></svg>"##
    )
}

fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| LicenceError::Internal(format!("time {s}: {e}")))
}

fn internal(e: impl std::fmt::Display) -> LicenceError {
    LicenceError::Internal(e.to_string())
}

fn denied(d: shuniu_policy::Denied) -> LicenceError {
    LicenceError::Denied(d)
}

fn field(e: shuniu_types::FieldError) -> LicenceError {
    LicenceError::invalid(e.code, e.message_zh, e.message_en)
}

fn unknown_department(code: &str) -> LicenceError {
    LicenceError::invalid(
        "LICENCE_DEPARTMENT",
        format!("部门 {code} 不存在"),
        format!("no department {code}"),
    )
}

fn missing_item(name: &str) -> LicenceError {
    LicenceError::invalid(
        "LICENCE_TYPE_ITEM",
        format!("数据资源没有信息项 {name}"),
        format!("the resource has no item {name}"),
    )
}

/// Today in Beijing (a licence's dates are civil dates where it is issued).
pub fn beijing_today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(8)).date_naive()
}
