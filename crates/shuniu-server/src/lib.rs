//! The HTTP server: the JSON API under `/api/v1` (with its OpenAPI document generated from
//! the handlers), the CKAN Action API, the server-rendered console and the public portal in
//! Chinese and English (both on the shared page machinery in `web`), health and readiness
//! probes, and Prometheus metrics.
//!
//! Architecture invariant: this crate translates between HTTP and the engines it is given
//! (catalog, accounts, aggregation, quality, sharing, open data, traceability). It makes no
//! access decisions of its own (the engines ask `shuniu-policy`; pages may ask it what to
//! offer), holds no SQL and never touches the store: every read and write is an engine call.

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use shuniu_aggregate::Aggregation;
use shuniu_auth::accounts::Accounts;
use shuniu_catalog::Catalog;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tower_http::LatencyUnit;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub mod api;
pub mod console;
pub mod error;
pub mod figures;
mod i18n;
mod portal;
mod views;
mod web;

pub use error::ApiError;

/// Settings the server needs from the configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Mark cookies `Secure` (only sent over HTTPS). On by default unless serving loopback.
    pub secure_cookies: bool,
    /// The name shown in the console header, e.g. 青岛市公共数据枢纽.
    pub site_name: String,
    /// Open-data API calls and downloads per second per client address without a token.
    pub open_rate_anonymous: u32,
    /// The same per approved application presenting its data token.
    pub open_rate_token: u32,
    /// The citizen page signs a person in with a name and an ID number, unchecked: only the
    /// demo (`shuniu demo`) sets this, never `shuniu serve`. Without it the page asks for the
    /// province's identity service and signs nobody in.
    pub simulated_citizen_sign_in: bool,
    /// The province's identity service citizens sign in through (OpenID Connect).
    pub citizen_sign_in: Option<shuniu_auth::oidc::IdentityProvider>,
    /// The province's legal-person identity service (法人统一身份认证) enterprises sign in
    /// through to their own page (OpenID Connect, the credit code as a claim).
    pub enterprise_sign_in: Option<shuniu_auth::oidc::IdentityProvider>,
    /// The office platform's single sign-on console users may sign in through; passwords
    /// stay.
    pub console_sign_in: Option<shuniu_auth::oidc::IdentityProvider>,
}

/// The engines the server translates to, each built by the binary (or a test) and handed in.
#[derive(Clone)]
pub struct Engines {
    pub catalog: Catalog,
    pub accounts: Accounts,
    pub aggregation: Aggregation,
    pub quality: shuniu_quality::Quality,
    pub sharing: shuniu_sharing::Sharing,
    pub open: shuniu_open::Open,
    pub traceability: shuniu_audit::Traceability,
    pub libraries: shuniu_libraries::Libraries,
    pub licences: shuniu_licences::Licences,
    pub events: shuniu_events::Events,
    pub indicators: shuniu_indicators::Indicators,
    pub matching: shuniu_matching::Matching,
    pub cases: shuniu_cases::Cases,
}

impl Engines {
    /// Builds every engine over one control plane, audit log, catalog and lake, with their
    /// files under `data_dir` (`loads/`, `serving/`, `open/`): the one wiring the binary, the
    /// integration tests and the benchmarks share.
    pub async fn assemble(
        store: shuniu_store::Store,
        audit: shuniu_audit::AuditLog,
        catalog: Catalog,
        lake: shuniu_lake::Lake,
        data_dir: &std::path::Path,
        keys: shuniu_keys::MasterKey,
    ) -> Result<Engines, Box<dyn std::error::Error + Send + Sync>> {
        // The data key of sensitive cells: a secret file sealed under the master key.
        let cells = shuniu_keys::CellKey::from_secret(
            &keys.secret_file(&data_dir.join("keys").join("cells.key"))?,
        );
        let lake = lake.with_cells(cells.clone());
        let quality = shuniu_quality::Quality::new(
            store.clone(),
            audit.clone(),
            catalog.clone(),
            lake.clone(),
        );
        let aggregation = Aggregation::new(
            store.clone(),
            audit.clone(),
            catalog.clone(),
            quality.clone(),
            lake.clone(),
            &data_dir.join("loads"),
            keys.clone(),
        )?;
        let sharing = shuniu_sharing::Sharing::open(
            store.clone(),
            catalog.clone(),
            lake.clone(),
            audit.clone(),
            shuniu_sharing::SharingSettings {
                data_dir: data_dir.to_path_buf(),
                decision_days: 5,
                keys: keys.clone(),
                cells,
            },
        )
        .await?;
        let licences = shuniu_licences::Licences::open(
            store.clone(),
            std::sync::Arc::new(keys.clone()),
            audit.clone(),
            sharing.clone(),
            &data_dir.join("licences"),
            "城市数据中枢 / city data hub",
            "",
        )?;
        let events = shuniu_events::Events::open(
            store.clone(),
            audit.clone(),
            sharing.clone(),
            std::sync::Arc::new(keys.clone()),
        )
        .await?;
        let indicators = shuniu_indicators::Indicators::new(
            store.clone(),
            audit.clone(),
            lake.clone(),
            events.clone(),
            sharing.clone(),
        );
        let matching = shuniu_matching::Matching::new(
            store.clone(),
            lake.clone(),
            audit.clone(),
            sharing.clone(),
        );
        let cases = shuniu_cases::Cases::new(
            store.clone(),
            audit.clone(),
            sharing.clone(),
            lake.clone(),
            keys.clone(),
            licences.clone(),
            &data_dir.join("uploads"),
        );
        let open = shuniu_open::Open::open(
            store.clone(),
            catalog.clone(),
            lake,
            audit.clone(),
            shuniu_open::OpenSettings {
                data_dir: data_dir.to_path_buf(),
                keys,
            },
        )
        .await?;
        let libraries = shuniu_libraries::Libraries::new(
            store.clone(),
            catalog.clone(),
            aggregation.clone(),
            sharing.clone(),
            audit.clone(),
            Some(licences.clone()),
        );
        Ok(Engines {
            libraries,
            licences,
            events,
            indicators,
            matching,
            cases,
            traceability: shuniu_audit::Traceability::new(audit.clone(), store.clone()),
            accounts: Accounts::new(store, audit),
            catalog,
            aggregation,
            quality,
            sharing,
            open,
        })
    }
}

#[derive(Clone)]
pub struct AppState {
    pub engines: Engines,
    pub(crate) open_limits: Arc<api::ckan::OpenLimits>,
    pub settings: Arc<ServerSettings>,
    pub(crate) templates: Arc<minijinja::Environment<'static>>,
    /// Names of departments, users and applications that pages show instead of codes.
    pub(crate) names: web::NameBook,
    metrics: PrometheusHandle,
}

fn metrics_handle() -> PrometheusHandle {
    // The recorder is process-global; tests start several servers in one process.
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => h,
            // Another recorder is installed (embedding application): keep a private one.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        })
        .clone()
}

impl AppState {
    pub fn new(engines: Engines, settings: ServerSettings) -> AppState {
        let names = web::NameBook::default();
        AppState {
            engines,
            open_limits: Arc::new(api::ckan::OpenLimits::new(
                settings.open_rate_anonymous,
                settings.open_rate_token,
            )),
            settings: Arc::new(settings),
            templates: Arc::new(web::templates(names.clone())),
            names,
            metrics: metrics_handle(),
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.engines.catalog.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}"),
        )
            .into_response(),
    }
}

async fn prometheus(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("shuniu_http_requests_total", &labels).increment(1);
    metrics::histogram!("shuniu_http_request_duration_seconds", &labels[..2])
        .record(start.elapsed().as_secs_f64());
    response
}

/// Headers every answer carries: no framing, no MIME sniffing, scripts and styles only from
/// the hub itself, no referrer sent to other sites.
async fn security_headers(req: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let (api_router, openapi) = api::router().split_for_parts();
    let openapi = Arc::new(openapi);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(prometheus))
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .merge(api_router)
        .merge(api::ckan::router())
        .merge(api::open311::router())
        .merge(portal::router())
        .merge(console::router())
        .merge(web::router())
        .fallback(fallback)
        .layer(middleware::from_fn(record_metrics))
        .layer(middleware::from_fn(security_headers))
        .layer(
            // One structured INFO line per request: method, path, status, latency, and the
            // request id that every error logged while answering it carries too.
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        uri = %req.uri(),
                        request_id = %id
                    )
                })
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(
            REQUEST_ID.clone(),
            RequestIds::default(),
        ))
        .with_state(state)
}

static REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// Request ids: this process's start time and a counter, unless the caller (a proxy) sent one.
#[derive(Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        RequestIds {
            prefix: format!("{started:x}").into(),
            next: Default::default(),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _req: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::not_found(req.uri().path()).into_response()
    } else {
        web::not_found_page()
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Other processes may share the control plane (PostgreSQL): pick up their catalog changes.
    let catalog = state.engines.catalog.clone();
    let refresher = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = catalog.refresh().await {
                tracing::warn!(error = %e, "catalog refresh failed");
            }
        }
    });
    // Scheduled pulls from department databases, and loads orphaned by other processes.
    let aggregation = state.engines.aggregation.clone();
    let scheduler = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = aggregation.recover().await {
                tracing::warn!(error = %e, "load recovery failed");
            }
            match aggregation.run_due_connectors().await {
                Ok(loads) if !loads.is_empty() => {
                    tracing::info!(runs = loads.len(), "scheduled pulls ran")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scheduled pulls failed"),
            }
        }
    });
    // The serving index follows every committed version; grants, usage, escalations and
    // webhooks run in the background.
    let follower = state
        .engines
        .sharing
        .follow_commits(state.engines.aggregation.subscribe_commits());
    let sharing_work = state.engines.sharing.spawn_background();
    // Open data republishes as loads commit and follows catalog changes.
    let open_follower = state
        .engines
        .open
        .follow_commits(state.engines.aggregation.subscribe_commits());
    let open_work = state.engines.open.spawn_background();
    // Base libraries follow the loads of their sources, from the change logs.
    let library_follower = state
        .engines
        .libraries
        .follow_commits(state.engines.aggregation.subscribe_commits());
    // Licences follow the loads of the resources they are issued from, and the licence
    // library follows the licences.
    let licence_follower = state
        .engines
        .licences
        .follow_commits(state.engines.aggregation.subscribe_commits());
    let licence_library_follower = state.engines.libraries.follow_licences();
    // Eligible lists not yet confirmed follow their library.
    let matching_follower = state
        .engines
        .matching
        .follow_commits(state.engines.aggregation.subscribe_commits());
    // Integrated services: the outbox of automatic steps, the steps' deadlines and the cases
    // death registrations open, every two seconds and at each commit.
    let case_work = state.engines.cases.spawn_background(
        std::time::Duration::from_secs(2),
        state.engines.aggregation.subscribe_commits(),
    );
    // City events' deadlines: reminders before, escalation after, every minute.
    let events = state.engines.events.clone();
    let event_watch = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = events.sweep(chrono::Utc::now()).await {
                tracing::warn!(error = %e, "event deadline sweep failed");
            }
        }
    });
    // Indicators whose schedule is due, every minute.
    let indicators = state.engines.indicators.clone();
    let figure_engines = state.engines.clone();
    let indicator_watch = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // The hub's own figures, once a day, before the built-in indicators read them.
            match figure_engines.record_hub_figures().await {
                Ok(true) => tracing::info!("the hub's figures recorded for today"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "the hub's figures not recorded"),
            }
            match indicators.run_due().await {
                Ok(runs) if !runs.is_empty() => {
                    tracing::info!(runs = runs.len(), "scheduled indicators computed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scheduled indicators failed"),
            }
        }
    });
    let result = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    open_follower.abort();
    library_follower.abort();
    matching_follower.abort();
    case_work.abort();
    licence_follower.abort();
    event_watch.abort();
    indicator_watch.abort();
    if let Some(f) = licence_library_follower {
        f.abort();
    }
    open_work.abort();
    refresher.abort();
    scheduler.abort();
    follower.abort();
    sharing_work.abort();
    result
}
