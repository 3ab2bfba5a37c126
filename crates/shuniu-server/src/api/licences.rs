//! The e-licence API (电子证照): licence types and departments' e-seals (hub operators),
//! issuing and state changes (the issuing department), and verification with the lists a
//! verifier needs (anyone: a licence is shown to people who have no account).

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shuniu_licences::lists::StatusPurpose;
use shuniu_licences::{LicenceError, LicenceTypeInput, StateChange};
use shuniu_store::{LicenceFilter, LicenceRow};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_types, register_type))
        .routes(routes!(issue))
        .routes(routes!(issue_one))
        .routes(routes!(list_seals, make_seal))
        .routes(routes!(seal_structure))
        .routes(routes!(list_licences))
        .routes(routes!(get_licence))
        .routes(routes!(credential))
        .routes(routes!(document))
        .routes(routes!(change_state))
        .routes(routes!(verify))
        .routes(routes!(trust_list))
        .routes(routes!(status_list))
}

type Json = axum::Json<serde_json::Value>;

fn json<T: Serialize>(v: &T) -> Json {
    axum::Json(serde_json::to_value(v).unwrap_or_default())
}

/// A licence as the API shows it (the holder's identifier as the licence shows it).
fn view(l: &LicenceRow) -> serde_json::Value {
    serde_json::json!({
        "id": l.id, "type_code": l.type_code, "serial": l.serial, "version": l.version,
        "holder_type": l.holder_type, "holder_name": l.holder_name, "holder_shown": l.holder_shown,
        "issuer": l.issuer, "seal_code": l.seal_code, "resource_code": l.resource_code,
        "source_version": l.source_version, "state": l.state, "issued_at": l.issued_at,
        "valid_from": l.valid_from, "valid_until": l.valid_until, "uses": l.uses,
        "superseded_by": l.superseded_by, "qr_text": l.envelope, "fields": l.claims.get("f"),
    })
}

/// The licence types (证照类型).
#[utoipa::path(get, path = "/api/v1/licences/types", tag = "licences",
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn list_types(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> Result<Json, ApiError> {
    let types = state.engines.licences.types().await?;
    Ok(json(
        &types
            .iter()
            .map(|t| {
                serde_json::json!({
                    "code": t.code, "name": t.name, "definer": t.definer, "issuers": t.issuers,
                    "resource_code": t.resource_code, "holder_item": t.holder_item,
                    "holder_type": t.holder_type, "holder_name_item": t.holder_name_item,
                    "serial_item": t.serial_item, "fields": t.fields,
                    "validity_years": t.validity_years,
                })
            })
            .collect::<Vec<_>>(),
    ))
}

/// Registers a licence type: its GB/T 36902 code (or the defining department's credit code
/// and a number), the issuing departments, the resource it is issued from and its items.
/// Hub operators.
#[utoipa::path(post, path = "/api/v1/licences/types", tag = "licences", request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register_type(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<LicenceTypeInput>,
) -> Result<Json, ApiError> {
    let t = state.engines.licences.register_type(&actor, input).await?;
    Ok(json(&serde_json::json!({"code": t.code, "name": t.name})))
}

/// Issues a type's licences from every row of its resource (new rows: new licences; changed
/// rows: a new version; the rest unchanged). The issuing department or the hub.
#[utoipa::path(post, path = "/api/v1/licences/types/{code}/issue", tag = "licences",
    params(("code" = String, Path, description = "Licence type code (GB/T 36902)")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn issue(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state.engines.licences.issue_all(&actor, &code).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct IssueOneBody {
    /// The holder's ID number or unified social credit code (in the body, not the URL, so
    /// that it stays out of access logs).
    pub holder: String,
}

/// On demand (依申请): issues — or re-issues if the data changed — one holder's licence from
/// their row in the type's resource and returns it. The issuing department or the hub.
#[utoipa::path(post, path = "/api/v1/licences/types/{code}/issue-one", tag = "licences",
    params(("code" = String, Path, description = "Licence type code (GB/T 36902)")),
    request_body = IssueOneBody,
    responses((status = 200, body = Object, description = "The holder's current licence"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "No row for this holder"),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn issue_one(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<IssueOneBody>,
) -> Result<Json, ApiError> {
    let l = state
        .engines
        .licences
        .issue_for(&actor, &code, &body.holder)
        .await?;
    Ok(axum::Json(view(&l)))
}

/// The e-seals (电子印章): public keys and validity; never a private key.
#[utoipa::path(get, path = "/api/v1/licences/seals", tag = "licences",
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn list_seals(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> Result<Json, ApiError> {
    let seals = state.engines.licences.seals().await?;
    Ok(json(
        &seals
            .iter()
            .map(|s| {
                serde_json::json!({
                    "code": s.code, "department": s.department, "name": s.name, "kid": s.kid,
                    "public_key": s.public_key, "signer_id": s.signer_id,
                    "valid_from": s.valid_from, "valid_until": s.valid_until, "state": s.state,
                    "info": s.info,
                })
            })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct SealRequest {
    /// The department the seal is made for.
    pub department: String,
    /// The SM2 signer ID; `1234567812345678` by default.
    pub signer_id: Option<String>,
    /// Validity in years (1–10), 3 by default.
    pub valid_years: Option<u32>,
}

/// Makes a department's e-seal (a new SM2 key pair); the department's earlier seal is retired
/// and keeps verifying what it signed. Hub operators.
#[utoipa::path(post, path = "/api/v1/licences/seals", tag = "licences", request_body = SealRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn make_seal(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<SealRequest>,
) -> Result<Json, ApiError> {
    let s = state
        .engines
        .licences
        .make_seal(
            &actor,
            &req.department,
            req.signer_id.as_deref(),
            req.valid_years.unwrap_or(3),
        )
        .await?;
    Ok(json(&serde_json::json!({
        "code": s.code, "kid": s.kid, "public_key": s.public_key, "state": s.state,
    })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LicenceQuery {
    /// Licence type code.
    #[serde(rename = "type")]
    pub type_code: Option<String>,
    /// `valid`, `suspended`, `revoked`, `cancelled`, `expired`.
    pub state: Option<String>,
    /// A holder's ID number or credit code.
    pub holder: Option<String>,
    /// At most this many, 50 by default (1–1000).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Issued licences, newest first: the hub's all, a department's its own.
#[utoipa::path(get, path = "/api/v1/licences", tag = "licences", params(LicenceQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn list_licences(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<LicenceQuery>,
) -> Result<Json, ApiError> {
    let licences = &state.engines.licences;
    let rows = match q.holder.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        Some(holder) => licences.of_holder(holder).await?,
        None => {
            licences
                .list(&LicenceFilter {
                    type_code: q.type_code,
                    state: q.state,
                    current_only: false,
                    limit: q.limit.unwrap_or(50).clamp(1, 1000),
                    offset: q.offset.unwrap_or(0).max(0),
                    ..Default::default()
                })
                .await?
        }
    };
    Ok(json(
        &rows
            .iter()
            .filter(|l| licences.may_handle(&actor, l))
            .map(view)
            .collect::<Vec<_>>(),
    ))
}

/// One licence with its history of states.
#[utoipa::path(get, path = "/api/v1/licences/{id}", tag = "licences",
    params(("id" = String, Path, description = "Licence identifier (GB/T 36904)")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_licence(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json, ApiError> {
    let l = state.engines.licences.licence_for(&actor, &id).await?;
    let events = state.engines.licences.events(&id).await?;
    let mut v = view(&l);
    v["events"] = serde_json::json!(
        events
            .iter()
            .map(|e| serde_json::json!({
                "seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                "from": e.from_state, "to": e.to_state, "reason": e.reason,
            }))
            .collect::<Vec<_>>()
    );
    Ok(axum::Json(v))
}

#[derive(Deserialize, ToSchema)]
pub struct StateRequest {
    /// `suspend`, `restore` or `revoke`.
    #[schema(pattern = "^(suspend|restore|revoke)$")]
    pub change: String,
    /// Why (shown in the licence's history and the audit log).
    pub reason: String,
}

/// Suspends, restores or revokes a licence. The issuing department or the hub.
#[utoipa::path(post, path = "/api/v1/licences/{id}/state", tag = "licences", request_body = StateRequest,
    params(("id" = String, Path, description = "Licence identifier (GB/T 36904)")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_state(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<StateRequest>,
) -> Result<Json, ApiError> {
    let change = match req.change.as_str() {
        "suspend" => StateChange::Suspend,
        "restore" => StateChange::Restore,
        "revoke" => StateChange::Revoke,
        _ => {
            return Err(LicenceError::invalid(
                "LICENCE_CHANGE",
                "操作只能是 suspend（暂停）、restore（恢复）或 revoke（吊销）",
                "change is suspend, restore or revoke",
            )
            .into());
        }
    };
    let l = state
        .engines
        .licences
        .change_state(&actor, &id, change, &req.reason)
        .await?;
    Ok(axum::Json(view(&l)))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    /// The text of a licence's QR code (`SNL1:…`).
    pub qr: String,
}

/// Verifies a licence's QR text now (online: the lists as of this moment). Anyone may ask:
/// the answer says whether it is valid and, if not, why, with a stable code.
#[utoipa::path(post, path = "/api/v1/licences/verify", tag = "licences", request_body = VerifyRequest, security(()),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn verify(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Json, ApiError> {
    Ok(axum::Json(
        match state.engines.licences.verify(&req.qr).await? {
            Ok(v) => serde_json::json!({"valid": true, "licence": v}),
            Err(r) => serde_json::json!({
                "valid": false, "code": r.code(), "reason_zh": r.zh(), "reason_en": r.en(),
            }),
        },
    ))
}

/// A seal's data in GB/T 38540's structure (SES_Seal version 4, DER): header, id, property
/// (name, public key, validity), picture, signed by the hub as seal maker (SM2 with SM3).
/// Anyone may fetch it, as the trust list.
#[utoipa::path(get, path = "/api/v1/licences/seals/{code}/ses", tag = "licences", security(()),
    params(("code" = String, Path, description = "Seal code")),
    responses((status = 200, content_type = "application/octet-stream", description = "DER"),
              (status = 404, body = ErrorBody)))]
async fn seal_structure(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let der = state.engines.licences.seal_structure(&code).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        der,
    )
        .into_response())
}

/// The trust list: every e-seal's public key and validity, signed with the hub's trust key
/// (`trust_key` in the answer, which a verifier pins).
#[utoipa::path(get, path = "/api/v1/licences/trust-list", tag = "licences", security(()),
    responses((status = 200, body = Object)))]
async fn trust_list(State(state): State<AppState>) -> Result<Json, ApiError> {
    let l = &state.engines.licences;
    let mut v = serde_json::to_value(l.trust_list().await?).unwrap_or_default();
    v["trust_key"] = serde_json::json!(l.trust_public_hex());
    Ok(axum::Json(v))
}

/// A status list (Bitstring Status List credential), signed, valid for 24 hours.
#[utoipa::path(get, path = "/api/v1/licences/status/{purpose}", tag = "licences", security(()),
    params(("purpose" = String, Path, description = "`revocation` or `suspension`")),
    responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
async fn status_list(
    State(state): State<AppState>,
    Path(purpose): Path<String>,
) -> Result<Json, ApiError> {
    let purpose = match purpose.as_str() {
        "revocation" => StatusPurpose::Revocation,
        "suspension" => StatusPurpose::Suspension,
        _ => {
            return Err(LicenceError::invalid(
                "LICENCE_STATUS_PURPOSE",
                "状态列表只有 revocation 和 suspension",
                "the status lists are revocation and suspension",
            )
            .into());
        }
    };
    Ok(json(&state.engines.licences.status_list(purpose).await?))
}

/// A licence as a W3C Verifiable Credential 2.0: the licence's fields as the credential
/// subject, its revocation and suspension entries (`BitstringStatusListEntry`) in the hub's
/// status lists, and a Data Integrity proof by the issuing department's e-seal (cryptosuite
/// `shuniu-sm2-jcs-2026`: SM2 over the SM3 digests of the JCS-canonical proof options and
/// credential). For the hub and the issuing department; audited.
#[utoipa::path(get, path = "/api/v1/licences/{id}/credential", tag = "licences",
    params(("id" = String, Path, description = "GB/T 36904 licence identifier")),
    responses((status = 200, body = Object, description = "The secured credential (application/vc+ld+json shape)"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn credential(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json, ApiError> {
    Ok(axum::Json(
        state.engines.licences.credential(&caller, &id).await?,
    ))
}

/// The licence document (电子证照文件): one A4 PDF page with the face, the e-seal's picture and
/// the QR code, and the licence's Verifiable Credential attached (`licence-credential.json`,
/// the seal's SM2 signature over the licence's canonical form). For the hub and the issuing
/// department; audited.
#[utoipa::path(get, path = "/api/v1/licences/{id}/document", tag = "licences",
    params(("id" = String, Path, description = "GB/T 36904 licence identifier")),
    responses((status = 200, content_type = "application/pdf", description = "The licence document"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn document(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let pdf = state.engines.licences.document(&caller, &id).await?;
    Ok(crate::web::licence_pdf(&id, pdf))
}
