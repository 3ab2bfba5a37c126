//! The licence library (电子证照库): every current licence the hub has issued, one row per
//! licence, with its holder's identifier in the item of its kind (a citizen ID number or a
//! unified social credit code). Those items are indexed like any other resource's ID
//! numbers and credit codes, so a granted application finds a holder's licences by a lookup
//! on the library through the unified service, under the same grants, masking and audit as
//! every other lookup; and the library is requested, granted and catalogued like the others.
//!
//! Derived from the licence engine's register (the control plane), which keeps each holder
//! only as a keyed digest plus the identifier sealed with the master key; the build opens it
//! through the engine. Built in full each time, streamed a page at a time from the register
//! into one load (never the whole register in memory); the server rebuilds it when licences
//! change (issued, re-issued, suspended, revoked).

use std::time::Instant;

use shuniu_aggregate::Producer;
use shuniu_ingest::RecordSink;
use shuniu_ingest::source::OwnedFields;
use shuniu_lake::WriteMode;
use shuniu_store::{BaseLibraryRow, ResourceRecord};
use shuniu_types::catalog::{DataType, ResourceInput};
use shuniu_types::{Actor, Role, SemanticType};

use crate::{
    BuildReport, Libraries, LibraryError, LibraryKind, PROVENANCE, Result, SourceMeta,
    derived_summary, ingest_err, plain_item, succeeded,
};

/// The name under which the register's version reached is recorded with the library's
/// sources (not a resource code, so no load ever triggers the library).
const REGISTER: &str = "licence_register";

/// Licences read from the register per page.
const PAGE: i64 = 5_000;

/// The library's items after its key, in order: name, label, type, length.
const ITEMS: [(&str, &str, DataType, Option<u32>); 14] = [
    ("type_code", "证照类型代码", DataType::Text, Some(30)),
    ("type_name", "证照类型名称", DataType::Text, Some(100)),
    (
        "holder_id_number",
        "持证人公民身份号码",
        DataType::Text,
        Some(18),
    ),
    (
        "holder_credit_code",
        "持证单位统一社会信用代码",
        DataType::Text,
        Some(18),
    ),
    ("holder_name", "持证主体名称", DataType::Text, Some(200)),
    ("authority", "颁证单位", DataType::Text, Some(100)),
    ("authority_code", "颁证单位代码", DataType::Text, Some(18)),
    ("area", "颁证单位行政区划代码", DataType::Text, Some(6)),
    ("issued_on", "颁证日期", DataType::Date, None),
    ("valid_from", "有效期起始日期", DataType::Date, None),
    ("valid_until", "有效期截止日期", DataType::Date, None),
    ("state", "证照状态", DataType::Text, Some(12)),
    ("version", "证照版本", DataType::Integer, None),
    (PROVENANCE, "数据来源", DataType::Memo, None),
];

/// A licence state as the library shows it (GB/T 36903's 证照状态).
fn state_label(state: &str) -> &str {
    match state {
        "valid" => "有效",
        "suspended" => "暂扣",
        "revoked" => "吊销",
        "cancelled" => "注销",
        "expired" => "过期",
        other => other,
    }
}

impl Libraries {
    /// The licence engine, which the licence library is derived from.
    fn licence_engine(&self) -> Result<&shuniu_licences::Licences> {
        self.licences.as_ref().ok_or_else(|| {
            LibraryError::invalid(
                "LIBRARY_NO_LICENCES",
                "本中枢未启用电子证照",
                "this hub has no licence engine",
            )
        })
    }

    pub(crate) async fn define_licences(
        &self,
        actor: &Actor,
        provider: &str,
    ) -> Result<ResourceRecord> {
        let types = self.licence_engine()?.types().await?;
        let Some(first) = types.first() else {
            return Err(LibraryError::invalid(
                "LIBRARY_NO_LICENCE_TYPES",
                "尚未登记任何证照类型，请先在“电子证照 → 证照类型”中登记",
                "no licence type is registered yet: register one first (Licences → Types)",
            ));
        };
        let template = self
            .store
            .resource(&first.resource_code)
            .await?
            .ok_or_else(|| LibraryError::NotFound(format!("resource {}", first.resource_code)))?;
        let mut key = plain_item("licence_id", "电子证照标识", "", DataType::Text);
        key.length = Some(80);
        key.is_key = true;
        key.required = true;
        key.description =
            "GB/T 36904 电子证照标识（含类型代码、颁证单位代码、流水号、版本与校验位）".into();
        let mut items = vec![key];
        for (name, label, data_type, length) in ITEMS {
            let mut i = plain_item(name, label, "", data_type);
            i.length = length;
            match name {
                // The holder's identifiers and name are personal; the ID number is sensitive
                // (sealed in the serving index, masked when shared masked), as in the sources.
                "holder_id_number" => {
                    i.semantic_type = SemanticType::IdNumber.code().into();
                    i.personal = true;
                    i.sensitive = true;
                }
                "holder_credit_code" => i.semantic_type = SemanticType::CreditCode.code().into(),
                "holder_name" => {
                    i.personal = true;
                    i.masking = "name".into();
                    i.description = "自然人姓名或单位名称".into();
                }
                "area" => i.semantic_type = SemanticType::DivisionCode.code().into(),
                "state" => i.description = "有效、暂扣、吊销、注销、过期".into(),
                _ => {}
            }
            items.push(i);
        }
        let mut input = ResourceInput::from(&template.spec);
        input.name = LibraryKind::Licence.name_zh().into();
        input.provider = provider.to_string();
        input.summary = "由城市数据中枢汇集各部门签发的电子证照形成的证照库：每张现行证照一行，含证照类型、持证主体（身份号码或统一社会信用代码）、颁证单位、有效期与状态；用证部门经授权按持证主体查询，代替纸质证明（免证办）".into();
        input.update_cycle = "realtime".into();
        input.share_type = "conditional".into();
        input.share_conditions = "用于政务服务办理中核验申请人的证照（免证办），须说明用途".into();
        input.related = types.iter().map(|t| t.resource_code.clone()).collect();
        input.related.sort();
        input.related.dedup();
        input.data_items = items;
        input.publish_date = None;
        self.publish_definition(actor, LibraryKind::Licence, &input)
            .await
    }

    pub(crate) async fn build_licences(
        &self,
        actor: &Actor,
        lib: &BaseLibraryRow,
        started: Instant,
        full: bool,
    ) -> Result<BuildReport> {
        let engine = self.licence_engine()?.clone();
        // The register's version now: a change during the build moves it past what is
        // recorded, so the next build reads again.
        let version = engine.register_version().await?;
        let reached = self
            .store
            .base_library_sources(&lib.code)
            .await?
            .into_iter()
            .find(|(c, _)| c == REGISTER)
            .map(|(_, v)| v);
        let has_data = self.aggregation.current_version(&lib.code).await?.is_some();
        let reason = if full {
            "requested"
        } else if !has_data || reached.is_none() {
            "first_build"
        } else if reached != Some(version) {
            "register_changed"
        } else {
            ""
        };
        let types = engine.types().await?;
        // The resources the licences were issued from, with the versions loaded now.
        let loaded = self.loaded().await?;
        let mut metas: Vec<SourceMeta> = Vec::new();
        for t in &types {
            if metas.iter().any(|m| m.code == t.resource_code) {
                continue;
            }
            let (version, loaded_at) = loaded.get(&t.resource_code).cloned().unwrap_or_default();
            metas.push(SourceMeta {
                code: t.resource_code.clone(),
                version: version.max(0) as u64,
                loaded_at,
            });
        }
        if reason.is_empty() {
            return Ok(BuildReport {
                library: lib.code.clone(),
                mode: "unchanged".into(),
                reason: String::new(),
                subjects_composed: 0,
                rows_written: 0,
                rows_removed: 0,
                subjects_in_conflict: 0,
                keys_invalid: 0,
                alternate_keys_unjoined: 0,
                sources: metas,
                version: None,
                seconds: started.elapsed().as_secs_f64(),
                address_match: Vec::new(),
            });
        }
        let counted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let unopened = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (c2, u2) = (counted.clone(), unopened.clone());
        let handle = tokio::runtime::Handle::current();
        // Runs on the load's blocking thread: each page of the register is read on the
        // runtime and written before the next is read.
        let producer: Producer = Box::new(move |sink: &mut dyn RecordSink| {
            let mut after = String::new();
            let mut n = 0u64;
            loop {
                let page = handle
                    .block_on(engine.library_page(&after, PAGE))
                    .map_err(ingest_err)?;
                let Some(last) = page.last() else { break };
                after = last.licence.id.clone();
                for e in page {
                    let l = &e.licence;
                    let Some(holder) = e.holder else {
                        // Issued before holders were kept sealed: re-issued on the next
                        // change of its source row, and counted until then.
                        u2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        continue;
                    };
                    let person = l.holder_type == "id_number";
                    let claim =
                        |k: &str| l.claims.get(k).and_then(|v| v.as_str()).map(str::to_string);
                    n += 1;
                    let fields = vec![
                        Some(l.id.clone()),
                        Some(l.type_code.clone()),
                        claim("tn"),
                        person.then(|| holder.clone()),
                        (!person).then(|| holder.clone()),
                        Some(l.holder_name.clone()),
                        claim("a"),
                        claim("ac"),
                        claim("ar"),
                        claim("d"),
                        Some(l.valid_from.clone()),
                        l.valid_until.clone(),
                        Some(state_label(&l.state).to_string()),
                        Some(l.version.to_string()),
                        Some(
                            serde_json::json!({
                                "resource": l.resource_code,
                                "version": l.source_version,
                                "issued_at": l.issued_at,
                                "seal": l.seal_code,
                            })
                            .to_string(),
                        ),
                    ];
                    sink.record(n, &OwnedFields(fields))?;
                }
            }
            c2.store(n, std::sync::atomic::Ordering::Relaxed);
            Ok(derived_summary())
        });
        let mut headers = vec!["licence_id".to_string()];
        headers.extend(ITEMS.iter().map(|i| i.0.to_string()));
        let rec = self
            .aggregation
            .load_derived(
                actor,
                &lib.code,
                WriteMode::Replace,
                "电子证照库构建 / licence library build",
                &headers,
                producer,
            )
            .await;
        let rec = match rec {
            Ok(r) => r,
            // No licence yet: the library is empty, as it was.
            Err(e) if e.code() == "NO_ROWS" => {
                return Err(LibraryError::invalid(
                    "LIBRARY_NO_SOURCES",
                    "尚未签发任何电子证照",
                    "no licence has been issued yet",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let rec = succeeded(rec)?;
        // What was read is the issued licences of each type's resource.
        for t in &types {
            self.audit_derive(
                actor,
                &t.resource_code,
                t.issuers.first().map_or("", String::as_str),
                &lib.code,
                vec![t.holder_item.clone(), t.holder_name_item.clone()],
            )
            .await?;
        }
        let composed = counted.load(std::sync::atomic::Ordering::Relaxed);
        let report = BuildReport {
            library: lib.code.clone(),
            mode: "full".into(),
            reason: reason.into(),
            subjects_composed: composed,
            rows_written: rec.rows_accepted.max(0) as u64,
            rows_removed: 0,
            subjects_in_conflict: 0,
            keys_invalid: unopened.load(std::sync::atomic::Ordering::Relaxed),
            alternate_keys_unjoined: 0,
            sources: metas,
            version: rec.version,
            seconds: started.elapsed().as_secs_f64(),
            address_match: Vec::new(),
        };
        let build =
            serde_json::to_value(&report).map_err(|e| LibraryError::Internal(e.to_string()))?;
        // The register's version is what the library reached, not the resources' versions:
        // it follows the licences (the server rebuilds it when they change), not the loads.
        let mut tx = self.store.begin().await?;
        tx.record_library_build(
            &lib.code,
            &shuniu_store::now(),
            &build,
            &[(REGISTER.to_string(), version)],
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Rebuilds the licence library, if one is bound (after licences changed).
    pub async fn rebuild_licence_library(&self) -> Result<Option<BuildReport>> {
        let Some(lib) = self
            .store
            .base_libraries()
            .await?
            .into_iter()
            .find(|l| l.kind == LibraryKind::Licence.code())
        else {
            return Ok(None);
        };
        let Some(rec) = self.store.resource(&lib.code).await? else {
            return Ok(None);
        };
        let actor = Actor {
            principal: "system:libraries".into(),
            display_name: "基础库 / base libraries".into(),
            role: Role::HubOperator,
            department: rec.spec.provider.clone(),
        };
        self.build(&actor, &lib.code, false).await.map(Some)
    }

    /// Follows the licence register and rebuilds the licence library when it changes (the
    /// server runs this). A burst of changes (a bulk issue, page by page) is one rebuild.
    pub fn follow_licences(&self) -> Option<tokio::task::JoinHandle<()>> {
        let mut changes = self.licences.as_ref()?.subscribe_changes();
        let me = self.clone();
        Some(tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                changes.borrow_and_update();
                if let Err(e) = me.rebuild_licence_library().await {
                    tracing::warn!(error = %e, "licence library update failed");
                }
            }
        }))
    }
}
