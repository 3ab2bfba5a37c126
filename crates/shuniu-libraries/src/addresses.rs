//! The address library (标准地址库): every address the designated authoritative address
//! sources hold (a person's registered address from the household register, an enterprise's
//! registered address from the market-entity register), parsed into its parts and keyed by
//! its standard form; and, for every other dataset holding addresses, how many of its
//! addresses are in the library once normalized (its match rate, shown in its quality report).
//!
//! Built in full each time: the distinct addresses are collected in memory (bounded by the
//! number of distinct addresses, not of rows), and the rows of the sources are streamed a page
//! at a time from their serving indexes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use shuniu_aggregate::Producer;
use shuniu_ingest::RecordSink;
use shuniu_ingest::source::OwnedFields;
use shuniu_lake::WriteMode;
use shuniu_sharing::ServingIndex;
use shuniu_store::{BaseLibraryRow, ResourceRecord};
use shuniu_types::address::{self, Address};
use shuniu_types::catalog::{DataType, ResourceInput, ResourceStatus};
use shuniu_types::{Actor, SemanticType};

use crate::{
    BuildReport, CHUNK, Libraries, LibraryError, LibraryKind, Loaded, PROVENANCE, Result,
    SOURCE_COUNT, SourceMeta, derived_summary, ingest_err, plain_item, succeeded,
};

/// How many of a dataset's addresses the library holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AddressMatch {
    pub resource: String,
    pub name: String,
    /// The item holding the address.
    pub column: String,
    /// Non-empty addresses read.
    pub addresses: u64,
    /// Of those, parsed down to a road, estate or community within a district.
    pub parsed: u64,
    /// Of those, whose standard form is in the library.
    pub matched: u64,
    /// `matched / addresses`.
    pub rate: f64,
}

/// The parts written for each address, in the library's item order after the key.
const PARTS: [(&str, &str, u32); 11] = [
    ("province", "省级行政区划代码", 6),
    ("city", "地级行政区划代码", 6),
    ("district", "县级行政区划代码", 6),
    ("street", "街道（乡镇）", 50),
    ("community", "社区（村）", 50),
    ("road", "道路（街巷）", 50),
    ("number", "门牌号", 20),
    ("estate", "小区（楼宇）", 50),
    ("building", "楼号", 20),
    ("unit", "单元", 20),
    ("room", "室", 20),
];

fn parts_of(a: &Address) -> [Option<String>; 11] {
    let code = |c: Option<shuniu_types::DivisionCode>| c.map(|c| c.to_string());
    [
        code(a.province),
        code(a.city),
        code(a.district),
        a.street.clone(),
        a.community.clone(),
        a.road.clone(),
        a.number.clone(),
        a.estate.clone(),
        a.building.clone(),
        a.unit.clone(),
        a.room.clone(),
    ]
}

/// The standard form of an address as written, when it parses down to a place in a district.
pub fn standard_form(text: &str) -> Option<(String, Address)> {
    let a = address::parse(text, None);
    (a.district.is_some() && a.has_detail()).then(|| (a.standard(), a))
}

/// An address source: the resource, its serving index and the column.
struct Holder {
    meta: SourceMeta,
    name: String,
    provider: String,
    idx: Arc<ServingIndex>,
    column: usize,
    column_name: String,
}

impl Libraries {
    /// The designated sources of addresses: attributes whose designated column holds
    /// addresses (its semantic type, or its name ends in `address`).
    async fn address_designations(&self) -> Result<Vec<(ResourceRecord, String)>> {
        let mut out = Vec::new();
        for d in self.store.authoritative_sources().await? {
            let Some(rec) = self.store.resource(&d.resource_code).await? else {
                continue;
            };
            let is_address = rec.spec.data_items.iter().any(|i| {
                i.name == d.column_name
                    && (i.semantic_type == SemanticType::Address || i.name.ends_with("address"))
            });
            if is_address
                && !out.iter().any(|(r, c): &(ResourceRecord, String)| {
                    r.code == rec.code && *c == d.column_name
                })
            {
                out.push((rec, d.column_name));
            }
        }
        Ok(out)
    }

    pub(crate) async fn define_addresses(
        &self,
        actor: &Actor,
        provider: &str,
    ) -> Result<ResourceRecord> {
        let designations = self.address_designations().await?;
        let Some((template, _)) = designations.first() else {
            return Err(LibraryError::invalid(
                "LIBRARY_NO_DESIGNATIONS",
                "尚未为任何地址属性指定权威数据源（一数一源），请先在“数据治理 → 一数一源”中指定（如户籍地址）",
                "no address attribute has a designated authoritative source yet: designate one first (e.g. the household register's address)",
            ));
        };
        // An address's parts are text of a set length; the counts and provenance as elsewhere.
        let text = |name: &str, label: &str, length: Option<u32>, data_type: DataType| {
            let mut i = plain_item(name, label, "", data_type);
            i.length = length;
            i
        };
        let mut key = text("standard_address", "标准地址", Some(200), DataType::Text);
        key.is_key = true;
        key.required = true;
        key.description =
            "省、市、区县、街道、社区、道路、门牌、小区、楼、单元、室，按标准写法".into();
        let mut items = vec![key];
        for (name, label, length) in PARTS {
            let mut i = text(name, label, Some(length), DataType::Text);
            if ["province", "city", "district"].contains(&name) {
                i.semantic_type = "行政区划代码".into();
            }
            items.push(i);
        }
        items.push(text(SOURCE_COUNT, "登记主体数", None, DataType::Integer));
        items.push(text(PROVENANCE, "数据来源", None, DataType::Memo));
        let mut input = ResourceInput::from(&template.spec);
        input.name = LibraryKind::Address.name_zh().into();
        input.provider = provider.to_string();
        input.summary = "由城市数据中枢从权威地址来源（户籍地址、企业住所等）解析生成的标准地址，拆分为行政区划、街道、社区、道路、门牌、小区、楼、单元、室；其他数据的地址按标准写法与之比对，匹配率见各资源的质量报告".into();
        input.update_cycle = "daily".into();
        input.share_type = "unconditional".into();
        input.share_conditions = String::new();
        input.related = designations.iter().map(|(r, _)| r.code.clone()).collect();
        input.data_items = items;
        input.publish_date = None;
        self.publish_definition(actor, LibraryKind::Address, &input)
            .await
    }

    /// Every published dataset with a serving index holding addresses, and which column.
    async fn address_holders(
        &self,
        loaded: &Loaded,
        exclude: &[String],
    ) -> Result<Vec<(ResourceRecord, String)>> {
        let with_data: Vec<String> = loaded
            .keys()
            .filter(|c| !exclude.contains(c))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for rec in self.store.resources_by_code(&with_data).await? {
            if rec.status != ResourceStatus::Published {
                continue;
            }
            if let Some(item) =
                rec.spec.data_items.iter().find(|i| {
                    i.semantic_type == SemanticType::Address || i.name.ends_with("address")
                })
            {
                let column = item.name.clone();
                out.push((rec, column));
            }
        }
        out.sort_by(|a, b| a.0.code.cmp(&b.0.code));
        Ok(out)
    }

    async fn holder(
        &self,
        loaded: &Loaded,
        rec: &ResourceRecord,
        column: &str,
    ) -> Result<Option<Holder>> {
        let loaded = loaded.get(&rec.code).cloned();
        let Some(idx) = self
            .sharing
            .derivation_index(&rec.code, loaded.as_ref().map(|l| l.0))
            .await?
        else {
            return Ok(None);
        };
        let (Some(version), Some(layout)) = idx.current()? else {
            return Ok(None);
        };
        let Some(col) = layout.columns.iter().position(|c| c == column) else {
            return Ok(None);
        };
        Ok(Some(Holder {
            meta: SourceMeta {
                code: rec.code.clone(),
                version,
                loaded_at: loaded.map(|l| l.1).unwrap_or_default(),
            },
            name: rec.spec.name.clone(),
            provider: rec.spec.provider.clone(),
            idx,
            column: col,
            column_name: column.to_string(),
        }))
    }

    pub(crate) async fn build_addresses(
        &self,
        actor: &Actor,
        lib: &BaseLibraryRow,
        started: Instant,
    ) -> Result<BuildReport> {
        let libraries: Vec<String> = self
            .store
            .base_libraries()
            .await?
            .into_iter()
            .map(|l| l.code)
            .collect();
        // The load versions, read once for every holder.
        let loaded = self.loaded().await?;
        let mut authorities = Vec::new();
        for (rec, column) in self.address_designations().await? {
            if let Some(h) = self.holder(&loaded, &rec, &column).await? {
                authorities.push(h);
            }
        }
        if authorities.is_empty() {
            return Err(LibraryError::invalid(
                "LIBRARY_NO_SOURCES",
                "指定的权威地址来源尚无数据",
                "the designated address sources hold no data yet",
            ));
        }
        let mut exclude = libraries.clone();
        exclude.extend(authorities.iter().map(|a| a.meta.code.clone()));
        let mut others = Vec::new();
        for (rec, column) in self.address_holders(&loaded, &exclude).await? {
            if let Some(h) = self.holder(&loaded, &rec, &column).await? {
                others.push(h);
            }
        }
        let authorities = Arc::new(authorities);
        let others = Arc::new(others);
        // One pass over the authorities: the distinct standard addresses, with how many
        // subjects each holds and the first source it came from.
        let (a2, o2) = (authorities.clone(), others.clone());
        let (library, matches) = tokio::task::spawn_blocking(move || collect(&a2, &o2))
            .await
            .map_err(|e| LibraryError::Internal(e.to_string()))??;
        let rows = library.len() as u64;
        let metas: Vec<SourceMeta> = authorities.iter().map(|a| a.meta.clone()).collect();
        let m2 = metas.clone();
        let producer: Producer = Box::new(move |sink: &mut dyn RecordSink| {
            for (n, (standard, (parts, count, from))) in library.into_iter().enumerate() {
                let mut fields = Vec::with_capacity(PARTS.len() + 3);
                fields.push(Some(standard));
                fields.extend(parts);
                fields.push(Some(count.to_string()));
                let m = &m2[from];
                fields.push(Some(
                    serde_json::json!({"resource": m.code, "version": m.version, "loaded_at": m.loaded_at})
                        .to_string(),
                ));
                sink.record(n as u64 + 1, &OwnedFields(fields))?;
            }
            Ok(derived_summary())
        });
        let mut headers = vec!["standard_address".to_string()];
        headers.extend(PARTS.iter().map(|p| p.0.to_string()));
        headers.push(SOURCE_COUNT.into());
        headers.push(PROVENANCE.into());
        let rec = self
            .aggregation
            .load_derived(
                actor,
                &lib.code,
                WriteMode::Replace,
                "标准地址库构建 / address library build",
                &headers,
                producer,
            )
            .await?;
        let rec = succeeded(rec)?;
        for h in authorities.iter().chain(others.iter()) {
            self.audit_derive(
                actor,
                &h.meta.code,
                &h.provider,
                &lib.code,
                vec![h.column_name.clone()],
            )
            .await?;
        }
        let report = BuildReport {
            library: lib.code.clone(),
            mode: "full".into(),
            reason: "requested".into(),
            subjects_composed: rows,
            rows_written: rec.rows_accepted.max(0) as u64,
            rows_removed: 0,
            subjects_in_conflict: 0,
            keys_invalid: 0,
            alternate_keys_unjoined: 0,
            sources: metas,
            version: rec.version,
            seconds: started.elapsed().as_secs_f64(),
            address_match: matches,
        };
        let build =
            serde_json::to_value(&report).map_err(|e| LibraryError::Internal(e.to_string()))?;
        let reached: Vec<(String, i64)> = authorities
            .iter()
            .map(|a| (a.meta.code.clone(), a.meta.version as i64))
            .collect();
        let mut tx = self.store.begin().await?;
        tx.record_library_build(&lib.code, &shuniu_store::now(), &build, &reached)
            .await?;
        tx.commit().await?;
        Ok(report)
    }
}

/// standard address → (its parts, subjects at it, the authority it came from first).
type Library = BTreeMap<String, ([Option<String>; 11], u64, usize)>;

/// Streams every holder's addresses a page at a time: the authorities' into the library, the
/// others' against it.
fn collect(
    authorities: &[Holder],
    others: &[Holder],
) -> std::result::Result<(Library, Vec<AddressMatch>), LibraryError> {
    let mut library = Library::new();
    let mut matches = Vec::new();
    let each = |h: &Holder, f: &mut dyn FnMut(&str)| -> std::result::Result<(), LibraryError> {
        let mut after: Option<String> = None;
        loop {
            let page = h
                .idx
                .page(after.as_deref(), CHUNK)
                .map_err(|e| LibraryError::Internal(ingest_err(e).to_string()))?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (_, row) in &page {
                if let Some(v) = row.get(h.column).and_then(|v| v.as_deref()) {
                    let v = v.trim();
                    if !v.is_empty() {
                        f(v);
                    }
                }
            }
            if page.len() < CHUNK {
                break;
            }
        }
        Ok(())
    };
    for (i, h) in authorities.iter().enumerate() {
        let (mut addresses, mut parsed) = (0u64, 0u64);
        each(h, &mut |v| {
            addresses += 1;
            if let Some((standard, a)) = standard_form(v) {
                parsed += 1;
                library
                    .entry(standard)
                    .or_insert_with(|| (parts_of(&a), 0, i))
                    .1 += 1;
            }
        })?;
        matches.push(AddressMatch {
            resource: h.meta.code.clone(),
            name: h.name.clone(),
            column: h.column_name.clone(),
            addresses,
            parsed,
            matched: parsed,
            rate: parsed as f64 / addresses.max(1) as f64,
        });
    }
    for h in others {
        let (mut addresses, mut parsed, mut matched) = (0u64, 0u64, 0u64);
        each(h, &mut |v| {
            addresses += 1;
            if let Some((standard, _)) = standard_form(v) {
                parsed += 1;
                if library.contains_key(&standard) {
                    matched += 1;
                }
            }
        })?;
        if addresses > 0 {
            matches.push(AddressMatch {
                resource: h.meta.code.clone(),
                name: h.name.clone(),
                column: h.column_name.clone(),
                addresses,
                parsed,
                matched,
                rate: matched as f64 / addresses as f64,
            });
        }
    }
    Ok((library, matches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_address_share_one_standard_form() {
        let (a, _) = standard_form("山东省青岛市市南区香港中路１０号３号楼２单元３０１室").unwrap();
        let (b, _) = standard_form("青岛市市南区香港中路10号3栋2单元301").unwrap();
        assert_eq!(a, b);
        // A district alone is not an address the library holds.
        assert_eq!(standard_form("青岛市市南区"), None);
    }
}
