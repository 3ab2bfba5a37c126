//! JSON API, version 1. Every call authenticates with an application's API key
//! (`Authorization: Bearer snk_…`); the engines decide what the application may do.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shuniu_auth::accounts::DepartmentInput;
use shuniu_catalog::{Review, SearchParams};
use shuniu_types::{Actor, ResourceInput, Role};
use std::collections::BTreeMap;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod audit;
pub mod cases;
pub mod ckan;
pub mod data;
pub mod events;
pub mod indicators;
pub mod libraries;
pub mod licences;
pub mod open311;
pub mod policies;
pub mod quality;
pub mod services;
pub mod sharing;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::views::{
    self, ApplicationView, DepartmentView, FacetValue, HistoryView, ResourceDetail, ResourceList,
    ResourcePage,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Shuniu (数纽) API", version = "1.0.0", description = "City public-data hub: catalog, identity. Errors: {\"error\": {code, message_zh, message_en, fields}}."),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    components(schemas(ErrorBody, ListName))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(me))
        .routes(routes!(list_departments, create_department))
        .routes(routes!(list_applications, create_application))
        .routes(routes!(search_resources, register_resource))
        .routes(routes!(get_resource, update_resource))
        .routes(routes!(submit_resource))
        .routes(routes!(review_resource))
        .routes(routes!(withdraw_resource))
        .routes(routes!(resource_history))
        .routes(routes!(review_queue))
        .routes(routes!(negative_list))
        .routes(routes!(catalog_list))
        .routes(routes!(export_catalog))
        .routes(routes!(import_catalog))
        .layer(DefaultBodyLimit::max(
            shuniu_catalog::excel::MAX_BYTES + 64 * 1024,
        ))
        .merge(data::router())
        .merge(audit::router())
        .merge(quality::router())
        .merge(libraries::router())
        .merge(licences::router())
        .merge(events::router())
        .merge(indicators::router())
        .merge(policies::router())
        .merge(cases::router())
        .merge(sharing::router())
        .merge(services::router())
}

/// The authenticated application.
pub struct Caller(pub Actor);

/// The API key of `Authorization: Bearer …`, or 401.
pub(crate) fn bearer_key(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(ApiError::unauthenticated)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer_key(parts)?;
        match state.engines.accounts.authenticate_key(key).await? {
            Some(actor) => Ok(Caller(actor)),
            None => Err(ApiError::unauthenticated()),
        }
    }
}

/// `axum::Json` whose rejections use the API's error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                format!("JSON 内容与接口定义不符：{}", e.body_text()),
                format!("the JSON does not match the schema: {}", e.body_text()),
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "请求体应为 application/json",
                "the request body must be application/json",
            )),
            Err(e) => Err(ApiError::bad_request(&e.body_text())),
        }
    }
}

/// `axum::Query` whose rejections use the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(ApiError::bad_request(&e.body_text()))
            }
            Err(e) => Err(ApiError::bad_request(&e.body_text())),
        }
    }
}

async fn department_names(state: &AppState) -> Result<views::DepartmentNames, ApiError> {
    Ok(views::department_names(&state.engines.accounts).await?)
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub principal: String,
    pub display_name: String,
    pub role: Role,
    pub department: String,
}

/// Who the API key belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, body = MeView), (status = 401, body = ErrorBody)))]
async fn me(Caller(actor): Caller) -> axum::Json<MeView> {
    axum::Json(MeView {
        principal: actor.principal,
        display_name: actor.display_name,
        role: actor.role,
        department: actor.department,
    })
}

/// All departments, city and district.
#[utoipa::path(get, path = "/api/v1/departments", tag = "identity",
    responses((status = 200, body = Vec<DepartmentView>), (status = 401, body = ErrorBody)))]
async fn list_departments(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> Result<axum::Json<Vec<DepartmentView>>, ApiError> {
    Ok(axum::Json(
        state
            .engines
            .accounts
            .departments()
            .await?
            .iter()
            .map(DepartmentView::from)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct DepartmentRequest {
    /// Letters and digits, e.g. `370200GA`.
    #[schema(pattern = "^[A-Za-z0-9]{2,32}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[schema(min_length = 1, max_length = 50, pattern = r"\S")]
    pub short_name: String,
    pub parent_code: Option<String>,
    /// GB/T 2260 division code.
    #[schema(pattern = "^[0-9]{6}$")]
    pub division: String,
    /// GB 32100 unified social credit code.
    pub credit_code: Option<String>,
}

/// Registers a department (hub operator).
#[utoipa::path(post, path = "/api/v1/departments", tag = "identity", request_body = DepartmentRequest,
    responses((status = 201, body = DepartmentView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_department(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<DepartmentRequest>,
) -> Result<Response, ApiError> {
    let input = DepartmentInput {
        code: req.code,
        name: req.name,
        short_name: req.short_name,
        parent_code: req.parent_code,
        division: req.division,
        credit_code: req.credit_code,
    };
    let d = state
        .engines
        .accounts
        .create_department(&actor, &input)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(DepartmentView::from(&d))).into_response())
}

/// API applications (hub operator).
#[utoipa::path(get, path = "/api/v1/applications", tag = "identity",
    responses((status = 200, body = Vec<ApplicationView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_applications(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<axum::Json<Vec<ApplicationView>>, ApiError> {
    Ok(axum::Json(
        state
            .engines
            .accounts
            .applications(&actor)
            .await?
            .iter()
            .map(ApplicationView::from)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct ApplicationRequest {
    /// Letters, digits and `. _ -`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub id: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[schema(min_length = 1)]
    pub department: String,
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct NewApplicationView {
    pub application: ApplicationView,
    /// The API key. Shown once: only its SM3 digest is stored.
    pub key: String,
}

/// Registers an API application and returns its key (hub operator).
#[utoipa::path(post, path = "/api/v1/applications", tag = "identity", request_body = ApplicationRequest,
    responses((status = 201, body = NewApplicationView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_application(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<ApplicationRequest>,
) -> Result<Response, ApiError> {
    let (app, key) = state
        .engines
        .accounts
        .create_application(&actor, &req.id, &req.name, &req.department, req.role)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(NewApplicationView {
            application: ApplicationView::from(&app),
            key,
        }),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Full-text query in Chinese or English (names, summaries, data items, codes).
    pub q: Option<String>,
    /// Providing department code.
    pub provider: Option<String>,
    /// `base`, `theme` or `department`.
    pub category: Option<String>,
    pub share_type: Option<String>,
    pub open_type: Option<String>,
    pub level: Option<String>,
    pub update_cycle: Option<String>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

fn page_params(page: Option<u32>, per_page: Option<u32>) -> Result<(u32, u32), ApiError> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(20);
    if !(1..=10_000).contains(&page) {
        return Err(ApiError::bad_request("page must be between 1 and 10000"));
    }
    if !(1..=200).contains(&per_page) {
        return Err(ApiError::bad_request("per_page must be between 1 and 200"));
    }
    Ok((page, per_page))
}

/// Searches the catalog (Chinese word segmentation) with facet counts.
#[utoipa::path(get, path = "/api/v1/catalog/resources", tag = "catalog", params(SearchQuery),
    responses((status = 200, body = ResourcePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn search_resources(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<axum::Json<ResourcePage>, ApiError> {
    let (page, per_page) = page_params(q.page, q.per_page)?;
    let mut filters = BTreeMap::new();
    for (k, v) in [
        ("provider", q.provider),
        ("category", q.category),
        ("share_type", q.share_type),
        ("open_type", q.open_type),
        ("level", q.level),
        ("update_cycle", q.update_cycle),
    ] {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            filters.insert(k.to_string(), v.trim().to_string());
        }
    }
    let params = SearchParams {
        text: q.q.unwrap_or_default(),
        filters,
        offset: ((page - 1) * per_page) as usize,
        limit: per_page as usize,
    };
    let found = state.engines.catalog.search(&actor, &params).await?;
    let names = department_names(&state).await?;
    let facets = found
        .facets
        .iter()
        .map(|(dim, values)| {
            let list = values
                .iter()
                .map(|(v, n)| FacetValue {
                    value: v.clone(),
                    label: views::facet_label(dim, v, &names, false),
                    count: *n,
                })
                .collect();
            (dim.clone(), list)
        })
        .collect();
    Ok(axum::Json(ResourcePage {
        total: found.total as u64,
        page,
        per_page,
        items: found
            .items
            .iter()
            .map(|r| views::summary(r, &names))
            .collect(),
        facets,
    }))
}

/// Registers a catalog entry as a draft; the code is generated.
#[utoipa::path(post, path = "/api/v1/catalog/resources", tag = "catalog", request_body = ResourceInput,
    responses((status = 201, body = ResourceDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register_resource(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<ResourceInput>,
) -> Result<Response, ApiError> {
    let r = state.engines.catalog.register(&actor, &input).await?;
    let names = department_names(&state).await?;
    Ok((StatusCode::CREATED, axum::Json(views::detail(&r, &names))).into_response())
}

/// One catalog entry with all its metadata.
#[utoipa::path(get, path = "/api/v1/catalog/resources/{code}", tag = "catalog", params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = ResourceDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_resource(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<axum::Json<ResourceDetail>, ApiError> {
    let r = state.engines.catalog.get(&actor, &code).await?;
    Ok(axum::Json(views::detail(
        &r,
        &department_names(&state).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateRequest {
    /// The version the change is based on; a concurrent change makes the update fail (409).
    pub expected_version: Option<i64>,
    pub resource: ResourceInput,
}

/// Changes an entry's metadata as a new version.
#[utoipa::path(put, path = "/api/v1/catalog/resources/{code}", tag = "catalog", request_body = UpdateRequest,
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = ResourceDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_resource(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<UpdateRequest>,
) -> Result<axum::Json<ResourceDetail>, ApiError> {
    let r = state
        .engines
        .catalog
        .update(&actor, &code, &req.resource, req.expected_version)
        .await?;
    Ok(axum::Json(views::detail(
        &r,
        &department_names(&state).await?,
    )))
}

/// Submits a draft or returned entry for the hub's review.
#[utoipa::path(post, path = "/api/v1/catalog/resources/{code}/submit", tag = "catalog", params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = ResourceDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn submit_resource(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<axum::Json<ResourceDetail>, ApiError> {
    let r = state.engines.catalog.submit(&actor, &code).await?;
    Ok(axum::Json(views::detail(
        &r,
        &department_names(&state).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Publish,
    Return,
}

#[derive(Deserialize, ToSchema)]
pub struct ReviewRequest {
    pub decision: ReviewDecision,
    /// Required when returning.
    #[serde(default)]
    pub reason: String,
}

/// Publishes or returns a submitted entry (hub operator).
#[utoipa::path(post, path = "/api/v1/catalog/resources/{code}/review", tag = "catalog", request_body = ReviewRequest,
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = ResourceDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn review_resource(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> Result<axum::Json<ResourceDetail>, ApiError> {
    let decision = match req.decision {
        ReviewDecision::Publish => Review::Publish,
        ReviewDecision::Return => Review::Return,
    };
    let r = state
        .engines
        .catalog
        .review(&actor, &code, decision, &req.reason)
        .await?;
    Ok(axum::Json(views::detail(
        &r,
        &department_names(&state).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct WithdrawRequest {
    #[schema(min_length = 1, pattern = r"\S")]
    pub reason: String,
}

/// Withdraws a published entry; its history is kept.
#[utoipa::path(post, path = "/api/v1/catalog/resources/{code}/withdraw", tag = "catalog", request_body = WithdrawRequest,
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = ResourceDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn withdraw_resource(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<WithdrawRequest>,
) -> Result<axum::Json<ResourceDetail>, ApiError> {
    let r = state
        .engines
        .catalog
        .withdraw(&actor, &code, &req.reason)
        .await?;
    Ok(axum::Json(views::detail(
        &r,
        &department_names(&state).await?,
    )))
}

/// Every recorded change of an entry, oldest first.
#[utoipa::path(get, path = "/api/v1/catalog/resources/{code}/history", tag = "catalog", params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = Vec<HistoryView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn resource_history(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<axum::Json<Vec<HistoryView>>, ApiError> {
    let h = state.engines.catalog.history(&actor, &code).await?;
    Ok(axum::Json(h.iter().map(HistoryView::from).collect()))
}

/// Entries waiting for review (hub operator).
#[utoipa::path(get, path = "/api/v1/catalog/review-queue", tag = "catalog",
    responses((status = 200, body = ResourceList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn review_queue(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<axum::Json<ResourceList>, ApiError> {
    let items = state.engines.catalog.review_queue(&actor).await?;
    let names = department_names(&state).await?;
    Ok(axum::Json(ResourceList {
        total: items.len() as u64,
        items: items.iter().map(|r| views::summary(r, &names)).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct NegativeListEntry {
    pub code: String,
    pub name: String,
    pub provider: String,
    pub provider_name: String,
    /// The law, regulation or policy that forbids sharing.
    pub legal_basis: String,
}

/// The negative list (负面清单): published resources that are not shared, with their legal basis.
#[utoipa::path(get, path = "/api/v1/catalog/negative-list", tag = "catalog",
    responses((status = 200, body = Vec<NegativeListEntry>), (status = 401, body = ErrorBody)))]
async fn negative_list(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> Result<axum::Json<Vec<NegativeListEntry>>, ApiError> {
    let names = department_names(&state).await?;
    let list = state.engines.catalog.negative_list().await?;
    Ok(axum::Json(
        list.iter()
            .map(|r| NegativeListEntry {
                code: r.code.clone(),
                name: r.spec.name.clone(),
                provider: r.spec.provider.clone(),
                provider_name: names.get(&r.spec.provider).cloned().unwrap_or_default(),
                legal_basis: r.spec.legal_basis.clone(),
            })
            .collect(),
    ))
}

/// The three lists.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ListName {
    Aggregation,
    Sharing,
    Open,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (default) or `xlsx`.
    #[param(pattern = "^(json|xlsx)$")]
    pub format: Option<String>,
}

/// One of the three lists (汇聚清单 `aggregation`, 共享清单 `sharing`, 开放清单 `open`), as JSON or Excel.
#[utoipa::path(get, path = "/api/v1/catalog/lists/{kind}", tag = "catalog",
    params(("kind" = ListName, Path, description = "汇聚清单 aggregation, 共享清单 sharing, 开放清单 open"), FormatQuery),
    responses((status = 200, description = "The list, as JSON or (format=xlsx) as an Excel workbook", content(
                  (ResourceList = "application/json"),
                  (Workbook = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn catalog_list(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    Path(kind): Path<String>,
    ApiQuery(f): ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    let kind = shuniu_catalog::ListKind::parse(&kind)
        .ok_or_else(|| ApiError::not_found(&format!("list {kind}")))?;
    let items = state.engines.catalog.list(kind).await?;
    match f.format.as_deref().unwrap_or("json") {
        "json" => {
            let names = department_names(&state).await?;
            Ok(axum::Json(ResourceList {
                total: items.len() as u64,
                items: items.iter().map(|r| views::summary(r, &names)).collect(),
            })
            .into_response())
        }
        "xlsx" => Ok(views::xlsx_response(
            state.engines.catalog.export_excel(&items).await?,
            kind.code(),
        )),
        other => Err(ApiError::bad_request(&format!(
            "unknown format {other}; use json or xlsx"
        ))),
    }
}

/// Exports every entry the caller may see, in the import layout.
#[utoipa::path(get, path = "/api/v1/catalog/export", tag = "catalog",
    responses((status = 200, description = "Excel workbook", body = Workbook, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
              (status = 401, body = ErrorBody)))]
async fn export_catalog(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Response, ApiError> {
    let items = state.engines.catalog.visible(&actor).await?;
    Ok(views::xlsx_response(
        state.engines.catalog.export_excel(&items).await?,
        "catalog",
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check the workbook without importing.
    pub dry_run: Option<bool>,
}

/// An Excel workbook (.xlsx or .xls) as the raw request body.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Workbook(#[allow(dead_code)] Vec<u8>);

#[derive(Serialize, ToSchema)]
pub struct ImportRowError {
    pub row: u64,
    pub field: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportReportView {
    pub resources: u64,
    pub dry_run: bool,
    /// Every bad row; when there is any, nothing was imported.
    pub errors: Vec<ImportRowError>,
    /// Codes of the drafts created.
    pub imported: Vec<String>,
}

/// Imports catalog entries from an Excel workbook (.xlsx or .xls): all or nothing.
#[utoipa::path(post, path = "/api/v1/catalog/import", tag = "catalog", params(ImportQuery),
    request_body(description = "The workbook (.xlsx or .xls)", content(
        (Workbook = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (Workbook = "application/vnd.ms-excel"),
        (Workbook = "application/octet-stream"))),
    responses((status = 200, body = ImportReportView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, description = "Workbook too large"), (status = 422, body = ErrorBody)))]
async fn import_catalog(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> Result<axum::Json<ImportReportView>, ApiError> {
    let report = state
        .engines
        .catalog
        .import_excel(&actor, &body, q.dry_run.unwrap_or(false))
        .await?;
    Ok(axum::Json(import_view(report)))
}

pub(crate) fn import_view(report: shuniu_catalog::excel::ImportReport) -> ImportReportView {
    ImportReportView {
        resources: report.resources as u64,
        dry_run: report.dry_run,
        errors: report
            .errors
            .into_iter()
            .map(|e| ImportRowError {
                row: e.row as u64,
                field: e.field,
                code: e.code.into(),
                message_zh: e.message_zh,
                message_en: e.message_en,
            })
            .collect(),
        imported: report.imported,
    }
}
