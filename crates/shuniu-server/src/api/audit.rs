//! The traceability API: signed tree heads (to check and to keep), inclusion and consistency
//! proofs, entries, search and flows.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shuniu_audit::{ConsistencyProof, Entry, InclusionProof, SignedTreeHead};
use shuniu_store::{AuditFilter, AuditIndexRow};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tree_head, sign_tree_head))
        .routes(routes!(tree_heads))
        .routes(routes!(public_key))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
        .routes(routes!(entry))
        .routes(routes!(search))
        .routes(routes!(flows))
}

/// A signed tree head (RFC 9162 structure, SM3 root, SM2 signature over
/// `shuniu-tree-head/v1\n{tree_size}\n{timestamp}\n{root_hash}\n`).
#[derive(Serialize, ToSchema)]
pub struct TreeHeadView {
    pub tree_size: u64,
    pub timestamp: String,
    pub root_hash: String,
    pub key_id: String,
    /// Hex r‖s.
    pub signature: String,
}

impl From<SignedTreeHead> for TreeHeadView {
    fn from(h: SignedTreeHead) -> Self {
        TreeHeadView {
            tree_size: h.tree_size,
            timestamp: h.timestamp,
            root_hash: h.root_hash,
            key_id: h.key_id,
            signature: h.signature,
        }
    }
}

/// The latest signed tree head: it covers every entry made durable so far.
#[utoipa::path(get, path = "/api/v1/audit/tree-head", tag = "audit",
    responses((status = 200, body = TreeHeadView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn tree_head(
    State(state): State<AppState>,
    _c: Caller,
) -> Result<Json<TreeHeadView>, ApiError> {
    let log = state.engines.traceability.log();
    log.sync().await?;
    log.latest_head().map(|h| Json(h.into())).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "AUDIT_EMPTY",
            "审计日志还没有条目",
            "the audit log has no entries yet",
        )
    })
}

/// Signs the current tree now and publishes the head (hub operator).
#[utoipa::path(post, path = "/api/v1/audit/tree-head", tag = "audit",
    responses((status = 201, body = TreeHeadView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn sign_tree_head(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<(StatusCode, Json<TreeHeadView>), ApiError> {
    shuniu_policy::decide(
        &actor,
        shuniu_policy::Action::SignTreeHead,
        shuniu_policy::Target::Hub,
    )
    .map_err(|d| ApiError::new(StatusCode::FORBIDDEN, d.code, d.message_zh, d.message_en))?;
    let log = state.engines.traceability.log();
    let sth = log.sign_now().await?;
    log.record(
        Entry::new(shuniu_audit::Kind::Admin, "audit.sign_tree_head", &actor)
            .target(format!("size {}", sth.tree_size)),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(sth.into())))
}

/// Every published tree head, oldest first: keep your own copy to check the hub against.
#[utoipa::path(get, path = "/api/v1/audit/tree-heads", tag = "audit",
    responses((status = 200, body = Vec<TreeHeadView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn tree_heads(
    State(state): State<AppState>,
    _c: Caller,
) -> Result<Json<Vec<TreeHeadView>>, ApiError> {
    let heads = shuniu_audit::published_heads(state.engines.traceability.log().dir())?;
    Ok(Json(heads.into_iter().map(Into::into).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct PublicKeyView {
    /// SM2 public key, hex SEC1 (04‖x‖y).
    pub public_key: String,
    pub key_id: String,
    /// The SM2 distinguishing identifier used in signatures.
    pub dist_id: String,
}

/// The key tree heads are signed with.
#[utoipa::path(get, path = "/api/v1/audit/public-key", tag = "audit",
    responses((status = 200, body = PublicKeyView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn public_key(State(state): State<AppState>, _c: Caller) -> Json<PublicKeyView> {
    let k = state.engines.traceability.log().public_key();
    Json(PublicKeyView {
        public_key: k.to_hex(),
        key_id: k.key_id(),
        dist_id: shuniu_audit::sign::DIST_ID.into(),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// Entry index (0-based).
    pub index: u64,
    /// Tree size of the head to prove against; default the latest.
    pub tree_size: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct InclusionView {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub audit_path: Vec<String>,
}

impl From<InclusionProof> for InclusionView {
    fn from(p: InclusionProof) -> Self {
        InclusionView {
            leaf_index: p.leaf_index,
            tree_size: p.tree_size,
            leaf_hash: p.leaf_hash,
            audit_path: p.audit_path,
        }
    }
}

/// PATH(index, D[tree_size]) (RFC 9162 §2.1.3).
#[utoipa::path(get, path = "/api/v1/audit/proofs/inclusion", tag = "audit", params(InclusionQuery),
    responses((status = 200, body = InclusionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn inclusion(
    State(state): State<AppState>,
    _c: Caller,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionView>, ApiError> {
    let log = state.engines.traceability.log();
    let size = q.tree_size.unwrap_or_else(|| log.size());
    Ok(Json(log.inclusion_proof(q.index, size).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    pub first: u64,
    pub second: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ConsistencyView {
    pub first: u64,
    pub second: u64,
    pub proof: Vec<String>,
}

impl From<ConsistencyProof> for ConsistencyView {
    fn from(p: ConsistencyProof) -> Self {
        ConsistencyView {
            first: p.first,
            second: p.second,
            proof: p.proof,
        }
    }
}

/// PROOF(first, D[second]) (RFC 9162 §2.1.4): the later tree extends the earlier one.
#[utoipa::path(get, path = "/api/v1/audit/proofs/consistency", tag = "audit", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn consistency(
    State(state): State<AppState>,
    _c: Caller,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyView>, ApiError> {
    let log = state.engines.traceability.log();
    Ok(Json(log.consistency_proof(q.first, q.second).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub index: u64,
    /// The entry as logged (its JSON bytes are the Merkle leaf's payload).
    #[schema(value_type = Object)]
    pub entry: Entry,
    pub proof: InclusionView,
}

/// One entry with its inclusion proof in the latest tree (the hub, or a department for
/// entries that concern it).
#[utoipa::path(get, path = "/api/v1/audit/entries/{index}", tag = "audit",
    params(("index" = u64, Path, description = "Entry index")),
    responses((status = 200, body = EntryView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn entry(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(index): Path<String>,
) -> Result<Json<EntryView>, ApiError> {
    let index: u64 = index
        .parse()
        .map_err(|_| ApiError::bad_request("the entry index is a non-negative integer"))?;
    let e = state.engines.traceability.entry(&actor, index).await?;
    let log = state.engines.traceability.log();
    let proof = log.inclusion_proof(index, log.size()).await?;
    Ok(Json(EntryView {
        index,
        entry: e,
        proof: proof.into(),
    }))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    pub principal: Option<String>,
    pub department: Option<String>,
    pub resource: Option<String>,
    pub action: Option<String>,
    /// access, load, admin or auth.
    pub kind: Option<String>,
    /// Beijing-time lower bound, e.g. 2026-11-01 or 2026-11-01T08:00.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Entries with an index below this (the next page).
    pub before: Option<i64>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl SearchQuery {
    pub fn filter(self) -> AuditFilter {
        AuditFilter {
            principal: self.principal,
            department: self.department,
            resource: self.resource,
            action: self.action,
            kind: self.kind,
            from: self.from,
            to: self.to,
            before: self.before,
            limit: self.limit.unwrap_or(100),
            ..Default::default()
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct IndexRowView {
    pub idx: i64,
    pub at: String,
    pub kind: String,
    pub action: String,
    pub principal: String,
    pub department: String,
    pub channel: String,
    pub resource: Option<String>,
    pub provider: Option<String>,
    pub rows: Option<i64>,
    pub result: String,
    pub purpose: Option<String>,
}

impl From<AuditIndexRow> for IndexRowView {
    fn from(r: AuditIndexRow) -> Self {
        IndexRowView {
            idx: r.idx,
            at: r.at,
            kind: r.kind,
            action: r.action,
            principal: r.principal,
            department: r.department,
            channel: r.channel,
            resource: r.resource,
            provider: r.provider,
            rows: r.rows,
            result: r.result,
            purpose: r.purpose,
        }
    }
}

/// Audit search, newest first: everything for the hub, what concerns the caller's
/// department (as consumer or provider) for a department.
#[utoipa::path(get, path = "/api/v1/audit/search", tag = "audit", params(SearchQuery),
    responses((status = 200, body = Vec<IndexRowView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Vec<IndexRowView>>, ApiError> {
    // The documented range: a limit outside it is refused, not quietly adjusted.
    if let Some(l) = q.limit
        && !(1..=1000).contains(&l)
    {
        return Err(ApiError::bad_request("limit is between 1 and 1000"));
    }
    let rows = state
        .engines
        .traceability
        .search(&actor, q.filter())
        .await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowsQuery {
    /// Days back (1–366, default 30).
    pub days: Option<i64>,
}

/// Flows between departments, volumes, the unified service's share, anomalies (hub).
#[utoipa::path(get, path = "/api/v1/audit/flows", tag = "audit", params(FlowsQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn flows(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<FlowsQuery>,
) -> Result<Json<shuniu_audit::views::FlowReport>, ApiError> {
    Ok(Json(
        state
            .engines
            .traceability
            .flows(&actor, q.days.unwrap_or(30))
            .await?,
    ))
}
