//! The public open-data portal (公共数据开放网): no account needed to browse, preview and
//! download open data. Search by theme, department, format, update cycle and access; dataset
//! pages with metadata, a preview, downloads, API instructions and counters; department and
//! theme pages; public data requests; accounts of enterprises and researchers, their
//! applications for conditionally open data and their data tokens. DCAT-AP metadata at
//! `/catalog.{jsonld,ttl,rdf}` and `/open/dataset/{name}.{jsonld,ttl,rdf}`.
//!
//! Forms are protected by a double-submit CSRF cookie (the portal has anonymous forms);
//! downloads and previews are rate-limited like the CKAN API.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{CookieJar, SameSite};
use minijinja::context;
use shuniu_open::dcat::RdfKind;
use shuniu_open::export::Format;
use shuniu_open::{DatastoreQuery, OpenError, Reader, SearchParams};

use crate::AppState;
use crate::api::ckan::{base_url, client_address, presented_token};
use crate::i18n::Lang;
use crate::web::{
    CheckedForm, CsrfSession, cookie, error_page, lang_of, problem_page, render, ser,
};
use shuniu_types::Classified;

const SESSION_COOKIE: &str = "shuniu_open_session";
const CSRF_COOKIE: &str = "shuniu_portal_csrf";
const PAGE_ROWS: usize = 20;
/// Rows per page of a dataset page's preview.
const PREVIEW_ROWS: usize = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open", get(home))
        .route("/open/dataset/{name}", get(dataset))
        .route("/open/dataset/{name}/{file}", get(download))
        .route("/open/dataset/{name}/apply", post(apply))
        .route("/open/org/{org}", get(org_page))
        .route("/open/group/{group}", get(group_page))
        .route("/open/themes", get(themes_page))
        .route("/open/api", get(api_page))
        .route("/open/requests", get(requests_page).post(post_request))
        .route("/open/events", get(event_lookup))
        .route("/open/events/{id}", get(event_page))
        .route("/open/register", get(register_page).post(register_submit))
        .route("/open/login", get(login_page).post(login_submit))
        .route("/open/logout", post(logout))
        .route("/open/account", get(account_page))
        .route("/open/account/token/{id}", post(issue_token))
        .route("/catalog.jsonld", get(catalog_jsonld))
        .route("/catalog.ttl", get(catalog_ttl))
        .route("/catalog.rdf", get(catalog_rdf))
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        Ok(Visit::of(state, &parts.headers, path_of(&parts.uri)).await)
    }
}

/// The portal's forms carry the double-submit token of its CSRF cookie.
impl CsrfSession for Visit {
    fn expected_csrf(&self) -> &str {
        &self.csrf
    }
    fn lang(&self) -> Lang {
        self.lang
    }
}

/// What every portal page knows: language, CSRF token, the signed-in portal user.
struct Visit {
    lang: Lang,
    csrf: String,
    user: Option<shuniu_store::OpenUserRow>,
    jar: CookieJar,
    path: String,
    state: AppState,
}

impl Visit {
    async fn of(state: &AppState, headers: &HeaderMap, path: String) -> Visit {
        let jar = CookieJar::from_headers(headers);
        let lang = lang_of(&jar);
        let (csrf, jar) = match jar.get(CSRF_COOKIE).map(|c| c.value().to_string()) {
            Some(c) if c.len() == 64 => (c, jar),
            _ => {
                let token = shuniu_auth::random_token().unwrap_or_default();
                let mut c = cookie(CSRF_COOKIE, token.clone(), state.settings.secure_cookies, 1);
                c.set_same_site(SameSite::Strict);
                (token, jar.add(c))
            }
        };
        let user = match jar.get(SESSION_COOKIE) {
            Some(c) => state.engines.open.session(c.value()).await.ok().flatten(),
            None => None,
        };
        Visit {
            lang,
            csrf,
            user,
            jar,
            path,
            state: state.clone(),
        }
    }

    fn page(&self, state: &AppState, name: &str, extra: minijinja::Value) -> Response {
        let ctx = context! {
            lang => self.lang.code(),
            csrf => self.csrf.clone(),
            portal_user => self.user.as_ref().map(ser),
            site_name => state.settings.site_name.clone(),
            request_path => self.path.clone(),
            ..extra
        };
        (self.jar.clone(), render(state, name, ctx)).into_response()
    }

    /// The error page for an engine's refusal or failure, in the visitor's language and
    /// inside the portal's layout.
    fn fail(&self, e: &OpenError) -> Response {
        self.show(&e.problem())
    }

    fn show(&self, p: &shuniu_types::Problem) -> Response {
        let ctx = crate::web::problem_context(self.lang, p, "");
        crate::web::with_status(p, self.page(&self.state, "portal_problem.html", ctx))
    }
}

fn path_of(req_uri: &axum::http::Uri) -> String {
    req_uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/open".into())
}

/// Search parameters of the home page (facets as query parameters).
fn search_from(q: &HashMap<String, String>) -> (SearchParams, usize) {
    let page = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let mut sp = SearchParams {
        q: q.get("q").cloned().unwrap_or_default(),
        rows: PAGE_ROWS,
        start: (page - 1) * PAGE_ROWS,
        facet_fields: vec![
            "organization".into(),
            "groups".into(),
            "res_format".into(),
            "update_cycle".into(),
            "open_access".into(),
        ],
        facet_limit: Some(30),
        ..Default::default()
    };
    for f in [
        "organization",
        "groups",
        "res_format",
        "update_cycle",
        "open_access",
    ] {
        if let Some(v) = q.get(f).filter(|v| !v.is_empty()) {
            sp.fq.push(format!("{f}:\"{}\"", v.replace('"', "")));
        }
    }
    sp.sort = match q.get("sort").map(String::as_str) {
        Some("modified") => "metadata_modified desc".into(),
        Some("name") => "name asc".into(),
        Some("views") => "views_total desc".into(),
        Some("downloads") => "downloads desc".into(),
        _ => "score desc, metadata_modified desc".into(),
    };
    (sp, page)
}

async fn home(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    let snap = state.engines.open.snapshot();
    // Nothing asked yet: the landing page (search, themes, newest and most used, figures).
    if q.is_empty() {
        return landing(&state, &visit, &snap);
    }
    let (sp, page) = search_from(&q);
    let out = match snap.search(&sp, chrono::Utc::now()) {
        Ok(o) => o,
        Err(e) => {
            return visit.show(&shuniu_types::Problem::new(
                shuniu_types::ErrorKind::BadRequest,
                "SEARCH_INVALID",
                format!("检索式无法识别：{e}"),
                format!("the search cannot be read: {e}"),
            ));
        }
    };
    // In the order of the search form: department, theme, format, cycle, access.
    let mut ordered: Vec<_> = out.facets.iter().collect();
    ordered.sort_by_key(|(field, _)| sp.facet_fields.iter().position(|f| f == *field));
    let facets: Vec<_> = ordered
        .into_iter()
        .map(|(field, items)| {
            context! {
                field => field,
                selected => q.get(field).cloned().unwrap_or_default(),
                items => items.iter().map(|(v, c)| context! {
                    value => v, count => c, label => facet_label(&snap, field, v, visit.lang),
                }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let pages = out.count.div_ceil(PAGE_ROWS).max(1);
    let keep: Vec<(String, String)> = q
        .iter()
        .filter(|(k, v)| k.as_str() != "page" && !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let query_string = |extra: &[(&str, String)]| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &keep {
            if !extra.iter().any(|(e, _)| e == k) {
                s.append_pair(k, v);
            }
        }
        for (k, v) in extra {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.finish()
    };
    let facet_links: HashMap<String, Vec<(String, String)>> = out
        .facets
        .iter()
        .map(|(field, items)| {
            (
                field.clone(),
                items
                    .iter()
                    .map(|(v, _)| (v.clone(), query_string(&[(field.as_str(), v.clone())])))
                    .collect(),
            )
        })
        .collect();
    visit.page(
        &state,
        "portal_home.html",
        context! {
            q => sp.q.clone(),
            sort => q.get("sort").cloned().unwrap_or_default(),
            count => out.count,
            total => snap.packages.len(),
            organizations => snap.organizations.len(),
            results => out.results.iter().map(|p| ser(p.as_ref())).collect::<Vec<_>>(),
            facets => facets,
            facet_links => facet_links,
            clear_links => out.facets.keys().map(|f| (f.clone(), query_string(&[(f.as_str(), String::new())]))).collect::<HashMap<_, _>>(),
            page => page,
            pages => pages,
            prev_link => (page > 1).then(|| query_string(&[("page", (page - 1).to_string())])),
            next_link => (page < pages).then(|| query_string(&[("page", (page + 1).to_string())])),
        },
    )
}

/// The portal's front page: the search, the themes, the newest and the most used datasets,
/// and the portal's figures.
fn landing(state: &AppState, visit: &Visit, snap: &shuniu_open::Snapshot) -> Response {
    let top = |sort: &str| -> Vec<minijinja::Value> {
        let sp = SearchParams {
            rows: 6,
            sort: sort.into(),
            ..Default::default()
        };
        snap.search(&sp, chrono::Utc::now())
            .map(|o| o.results.iter().map(|p| ser(p.as_ref())).collect())
            .unwrap_or_default()
    };
    let mut groups: Vec<_> = snap.groups.iter().filter(|g| g.package_count > 0).collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.package_count));
    let downloads: i64 = snap.packages.iter().map(|p| p.downloads).sum();
    let views: i64 = snap.packages.iter().map(|p| p.views).sum();
    let rows: i64 = snap.packages.iter().map(|p| p.rows).sum();
    visit.page(
        state,
        "portal_home.html",
        context! {
            landing => true,
            total => snap.packages.len(),
            organizations => snap.organizations.len(),
            groups => groups.iter().map(|g| ser(*g)).collect::<Vec<_>>(),
            newest => top("metadata_modified desc"),
            most_used => top("views_total desc"),
            downloads => downloads,
            views => views,
            rows => rows,
        },
    )
}

fn facet_label(snap: &shuniu_open::Snapshot, field: &str, value: &str, lang: Lang) -> String {
    match field {
        "open_access" => match value {
            "public" => lang.pick("无条件开放", "Open").into(),
            _ => lang.pick("有条件开放", "Conditionally open").into(),
        },
        "update_cycle" => shuniu_types::UpdateCycle::parse_term(value)
            .map(|c| lang.pick(c.zh(), c.en()).to_string())
            .unwrap_or_else(|| value.into()),
        _ => snap.display_name(field, value),
    }
}

/// The reader behind a request: a token (header or `?token=`) or the public by address.
async fn reader_of(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Result<Reader, OpenError> {
    let token = presented_token(&parts.headers).or_else(|| {
        parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
    });
    let address = client_address(&parts.extensions);
    match token {
        None => Ok(Reader::public(&address)),
        Some(t) => state
            .engines
            .open
            .reader_for_token(&t)
            .await?
            .ok_or_else(|| {
                OpenError::Denied(shuniu_policy::Denied {
                    code: "OPEN_TOKEN_INVALID",
                    message_zh: "令牌无效或已失效".into(),
                    message_en: "the token is not valid".into(),
                    hide: false,
                })
            }),
    }
}

fn rate_limited(state: &AppState, reader: &Reader, address: &str, lang: Lang) -> Option<Response> {
    state.open_limits.check(reader, address).err().map(|wait| {
        let mut r = error_page(
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            &lang.pick(
                format!("请求过于频繁，请 {wait} 秒后重试"),
                format!("Too many requests: retry after {wait} s"),
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    })
}

async fn dataset(
    State(state): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let base = base_url(&parts.headers);
    // DCAT for one dataset: /open/dataset/NAME.ttl (.jsonld, .rdf).
    if let Some((stem, ext)) = name.rsplit_once('.')
        && let Some(kind) = RdfKind::parse(ext)
    {
        let snap = state.engines.open.snapshot();
        return match snap.package(stem) {
            Some(pkg) => match shuniu_open::dcat::dataset(pkg, &base, kind) {
                Ok(body) => ([(header::CONTENT_TYPE, kind.content_type())], body).into_response(),
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
            },
            None => (StatusCode::NOT_FOUND, "not found").into_response(),
        };
    }
    let visit = Visit::of(&state, &parts.headers, path_of(&parts.uri)).await;
    let snap = state.engines.open.snapshot();
    let Some(pkg) = snap.package(&name).cloned() else {
        return visit.fail(&OpenError::NotFound(format!("open dataset {name}")));
    };
    state
        .engines
        .open
        .count(&pkg.code, shuniu_open::Counter::View);
    let reader = match reader_of(&state, &parts).await {
        Ok(r) => r,
        Err(e) => return visit.fail(&e),
    };
    let address = client_address(&parts.extensions);
    let may_read = pkg.has_data()
        && (pkg.access == shuniu_policy::open::OpenAccess::Public
            || reader.token_code.as_deref() == Some(pkg.code.as_str()));
    let mut preview: Vec<Vec<String>> = Vec::new();
    let mut preview_error = String::new();
    let preview_page: usize = parts
        .uri
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse().ok())
        })
        .unwrap_or(1usize)
        .clamp(1, 10_000);
    let preview_pages = (pkg.rows.max(0) as usize).div_ceil(PREVIEW_ROWS).max(1);
    if may_read {
        if let Some(r) = rate_limited(&state, &reader, &address, visit.lang) {
            return r;
        }
        let query = DatastoreQuery {
            limit: PREVIEW_ROWS,
            offset: (preview_page.min(preview_pages) - 1) * PREVIEW_ROWS,
            include_total: false,
            ..Default::default()
        };
        match state
            .engines
            .open
            .datastore_search(&reader, &pkg.code, query)
            .await
        {
            Ok((_, answer)) => {
                preview = answer
                    .rows
                    .into_iter()
                    .map(|(_, r)| r.into_iter().map(Option::unwrap_or_default).collect())
                    .collect();
            }
            Err(e) => preview_error = e.message_zh(),
        }
    }
    let applications = match &visit.user {
        Some(u) => match state.engines.open.my_applications(u).await {
            Ok(apps) => apps,
            Err(e) => return visit.fail(&e),
        }
        .into_iter()
        .filter(|a| a.code == pkg.code)
        .collect(),
        None => Vec::new(),
    };
    let resource_id = pkg.resource_id("csv");
    let counters = state.engines.open.counters(&pkg.code);
    visit.page(
        &state,
        "portal_dataset.html",
        context! {
            p => ser(pkg.as_ref()),
            counters => ser(counters),
            public => pkg.access == shuniu_policy::open::OpenAccess::Public,
            may_read => may_read,
            preview => preview,
            preview_error => preview_error,
            preview_page => preview_page.min(preview_pages),
            preview_pages => preview_pages,
            licence => pkg.license_title(),
            base => base,
            resource_id => resource_id,
            cycle => visit.lang.pick(pkg.update_cycle.zh(), pkg.update_cycle.en()),
            formats => shuniu_open::packages::FORMATS.iter().map(|(e, f, _)| context! { ext => *e, label => *f }).collect::<Vec<_>>(),
            applications => applications.iter().map(ser).collect::<Vec<_>>(),
            token_query => if reader.token_code.is_some() { parts.uri.query().and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| format!("?token={v}"))).unwrap_or_default() } else { String::new() },
        },
    )
}

async fn download(
    State(state): State<AppState>,
    Path((name, file)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let jar = CookieJar::from_headers(&parts.headers);
    let lang = lang_of(&jar);
    let Some(format) = file.strip_prefix("download.").and_then(Format::parse) else {
        return error_page(
            lang,
            StatusCode::NOT_FOUND,
            "no such download / 没有这种下载格式",
        );
    };
    let reader = match reader_of(&state, &parts).await {
        Ok(r) => r,
        Err(e) => return problem_page(lang, &e.problem()),
    };
    let address = client_address(&parts.extensions);
    if let Some(r) = rate_limited(&state, &reader, &address, lang) {
        return r;
    }
    match state.engines.open.download(&reader, &name, format).await {
        Ok(d) => {
            let disposition = format!("attachment; filename=\"{}\"", d.filename);
            (
                [
                    (header::CONTENT_TYPE, d.content_type.to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                axum::body::Body::from_stream(d.body),
            )
                .into_response()
        }
        Err(e) => problem_page(lang, &e.problem()),
    }
}

async fn apply(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CheckedForm(visit, form): CheckedForm<Visit>,
) -> Response {
    let Some(user) = &visit.user else {
        return Redirect::to(&format!("/open/login?next=/open/dataset/{name}")).into_response();
    };
    match state
        .engines
        .open
        .apply(
            user,
            &name,
            form.get("purpose").map(String::as_str).unwrap_or(""),
        )
        .await
    {
        Ok(_) => Redirect::to("/open/account").into_response(),
        Err(e) => visit.fail(&e),
    }
}

async fn listing(
    state: &AppState,
    visit: &Visit,
    title: String,
    fq: String,
    intro: String,
) -> Response {
    let snap = state.engines.open.snapshot();
    let sp = SearchParams {
        fq: vec![fq],
        rows: 1000,
        sort: "name asc".into(),
        ..Default::default()
    };
    match snap.search(&sp, chrono::Utc::now()) {
        Ok(out) => visit.page(
            state,
            "portal_list.html",
            context! {
                title => title,
                intro => intro,
                count => out.count,
                results => out.results.iter().map(|p| ser(p.as_ref())).collect::<Vec<_>>(),
            },
        ),
        Err(e) => error_page(visit.lang, StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn org_page(
    State(state): State<AppState>,
    Path(org): Path<String>,
    req: Request,
) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    let snap = state.engines.open.snapshot();
    let Some(o) = snap.organization(&org).cloned() else {
        return visit.fail(&OpenError::NotFound(format!("department {org}")));
    };
    let intro = visit.lang.pick(
        format!("{} 开放的数据集 {} 个", o.title, o.package_count),
        format!("{} open datasets from {}", o.package_count, o.title),
    );
    listing(
        &state,
        &visit,
        o.title.clone(),
        format!("organization:\"{}\"", o.name),
        intro,
    )
    .await
}

async fn group_page(
    State(state): State<AppState>,
    Path(group): Path<String>,
    req: Request,
) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    let snap = state.engines.open.snapshot();
    let Some(g) = snap.group(&group).cloned() else {
        return visit.fail(&OpenError::NotFound(format!("theme {group}")));
    };
    let intro = visit.lang.pick(
        format!("主题“{}”下的开放数据集 {} 个", g.title, g.package_count),
        format!("{} open datasets in the theme {}", g.package_count, g.title),
    );
    listing(
        &state,
        &visit,
        g.title.clone(),
        format!("groups:\"{}\"", g.name),
        intro,
    )
    .await
}

/// How to use the open-data API: the CKAN actions, tokens for conditionally open data, the
/// rate limits, DCAT-AP metadata, with examples against this hub's own address.
async fn api_page(State(state): State<AppState>, req: Request) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    let snap = state.engines.open.snapshot();
    let example = snap.packages.iter().find(|p| p.has_data());
    visit.page(
        &state,
        "portal_api.html",
        context! {
            base => base_url(req.headers()),
            example => example.map(|p| p.name.clone()).unwrap_or_else(|| "dataset".into()),
            resource_id => example.map(|p| p.resource_id("csv")).unwrap_or_default(),
            field => example.and_then(|p| p.columns.first()).map(|c| c.name.clone()).unwrap_or_else(|| "field".into()),
            rate_anonymous => state.settings.open_rate_anonymous,
            rate_token => state.settings.open_rate_token,
        },
    )
}

async fn themes_page(State(state): State<AppState>, req: Request) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    let snap = state.engines.open.snapshot();
    visit.page(
        &state,
        "portal_themes.html",
        context! {
            groups => snap.groups.iter().map(ser).collect::<Vec<_>>(),
            organizations => snap.organizations.iter().map(ser).collect::<Vec<_>>(),
        },
    )
}

#[derive(serde::Deserialize)]
struct EventLookup {
    id: Option<String>,
}

/// The status page's lookup box: to the request's page.
async fn event_lookup(Query(q): Query<EventLookup>) -> Response {
    let id = q.id.unwrap_or_default();
    Redirect::to(&format!(
        "/open/events/{}",
        crate::console::urlencode(id.trim())
    ))
    .into_response()
}

/// A request's public status (the Open311 service request id, or the number a hotline
/// caller was given): category, place, state and when it changed. No reporter, no handler
/// and no handling notes: those are for the departments.
async fn event_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    let events = &state.engines.events;
    let not_found = || {
        visit.show(&shuniu_types::Problem::not_found(&format!(
            "service request {}",
            id.trim()
        )))
    };
    let e = match events.by_id(&id).await {
        Ok(Some(e)) => e,
        Ok(None) => return not_found(),
        Err(e) => return visit.show(&e.problem()),
    };
    let (cats, steps) = match (events.categories().await, events.public_steps(&e.id).await) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(e), _) | (_, Err(e)) => return visit.show(&e.problem()),
    };
    let public = match events.public(&e, &cats) {
        Ok(p) => p,
        Err(e) => return visit.show(&e.problem()),
    };
    let district_name = shuniu_events::model::DISTRICTS
        .iter()
        .find(|d| d.0 == e.district)
        .map(|d| d.1)
        .unwrap_or_default();
    visit.page(
        &state,
        "portal_event.html",
        context! {
            e => ser(&public),
            steps => steps.iter().map(|s| context! { at => s.at.clone(), to_state => s.to_state.clone() }).collect::<Vec<_>>(),
            district_name => district_name,
        },
    )
}

async fn requests_page(State(state): State<AppState>, req: Request) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    requests_view(&state, &visit, None, HashMap::new()).await
}

async fn requests_view(
    state: &AppState,
    visit: &Visit,
    error: Option<String>,
    form: HashMap<String, String>,
) -> Response {
    let requests = match state.engines.open.requests().await {
        Ok(r) => r,
        Err(e) => return visit.fail(&e),
    };
    let departments = match state.engines.accounts.departments().await {
        Ok(d) => d,
        Err(e) => return problem_page(visit.lang, &e.problem()),
    };
    let mut resp = visit.page(
        state,
        "portal_requests.html",
        context! {
            requests => requests.iter().map(ser).collect::<Vec<_>>(),
            departments => departments.iter().map(|d| context! { code => d.code.clone(), name => d.name.clone() }).collect::<Vec<_>>(),
            error => error.clone(),
            form => form,
        },
    );
    if error.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

async fn post_request(
    State(state): State<AppState>,
    CheckedForm(visit, form): CheckedForm<Visit>,
) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let who = visit
        .user
        .as_ref()
        .map(|u| format!("open:{}", u.login))
        .unwrap_or_else(|| "public".into());
    match state
        .engines
        .open
        .post_request(
            get("title"),
            get("description"),
            Some(get("department")),
            get("contact"),
            &who,
        )
        .await
    {
        Ok(_) => Redirect::to("/open/requests").into_response(),
        Err(e) => {
            let msg = format!(
                "{} [{}]",
                visit.lang.pick(e.message_zh(), e.to_string()),
                e.code()
            );
            requests_view(&state, &visit, Some(msg), form.to_map()).await
        }
    }
}

async fn register_page(State(state): State<AppState>, req: Request) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    visit.page(
        &state,
        "portal_account.html",
        context! { mode => "register", form => HashMap::<String, String>::new() },
    )
}

async fn register_submit(
    State(state): State<AppState>,
    CheckedForm(visit, form): CheckedForm<Visit>,
) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let reg = shuniu_open::public::Registration {
        login: get("login"),
        password: get("password"),
        name: get("name"),
        kind: get("kind"),
        org_name: get("org_name"),
        credit_code: get("credit_code"),
    };
    match state.engines.open.register(&reg).await {
        Ok(_) => sign_in_and_go(&state, &visit, &reg.login, &reg.password, "/open/account").await,
        Err(e) => {
            let mut safe = form.to_map();
            safe.remove("password");
            let mut r = visit.page(
                &state,
                "portal_account.html",
                context! {
                    mode => "register",
                    form => safe,
                    error => format!("{} [{}]", visit.lang.pick(e.message_zh(), e.to_string()), e.code()),
                },
            );
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
    }
}

async fn sign_in_and_go(
    state: &AppState,
    visit: &Visit,
    login: &str,
    password: &str,
    next: &str,
) -> Response {
    match state.engines.open.sign_in(login, password).await {
        Ok(token) => {
            let mut c = cookie(SESSION_COOKIE, token, state.settings.secure_cookies, 1);
            c.set_same_site(SameSite::Lax);
            (visit.jar.clone().add(c), Redirect::to(next)).into_response()
        }
        Err(e) => {
            let mut r = visit.page(
                state,
                "portal_account.html",
                context! {
                    mode => "login",
                    form => HashMap::from([("login".to_string(), login.to_string())]),
                    error => format!("{} [{}]", visit.lang.pick(e.message_zh(), e.to_string()), e.code()),
                },
            );
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
    }
}

async fn login_page(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    visit.page(
        &state,
        "portal_account.html",
        context! { mode => "login", next => q.get("next").cloned().unwrap_or_default(), form => HashMap::<String, String>::new() },
    )
}

async fn login_submit(
    State(state): State<AppState>,
    CheckedForm(visit, form): CheckedForm<Visit>,
) -> Response {
    let next = form
        .get("next")
        .filter(|n| n.starts_with("/open") && !n.contains("//") && !n.contains('\\'))
        .cloned()
        .unwrap_or_else(|| "/open/account".into());
    sign_in_and_go(
        &state,
        &visit,
        form.get("login").map(String::as_str).unwrap_or(""),
        form.get("password").map(String::as_str).unwrap_or(""),
        &next,
    )
    .await
}

async fn logout(
    State(state): State<AppState>,
    CheckedForm(visit, _form): CheckedForm<Visit>,
) -> Response {
    if let Some(c) = visit.jar.get(SESSION_COOKIE) {
        let _ = state.engines.open.sign_out(c.value()).await;
    }
    (
        visit
            .jar
            .clone()
            .remove(axum_extra::extract::cookie::Cookie::from(SESSION_COOKIE)),
        Redirect::to("/open"),
    )
        .into_response()
}

async fn account_page(State(state): State<AppState>, req: Request) -> Response {
    let visit = Visit::of(&state, req.headers(), path_of(req.uri())).await;
    account_view(&state, &visit, None).await
}

async fn account_view(
    state: &AppState,
    visit: &Visit,
    new_token: Option<(String, String)>,
) -> Response {
    let Some(user) = &visit.user else {
        return Redirect::to("/open/login?next=/open/account").into_response();
    };
    let apps = match state.engines.open.my_applications(user).await {
        Ok(apps) => apps,
        Err(e) => return visit.fail(&e),
    };
    let snap = state.engines.open.snapshot();
    let apps: Vec<_> = apps
        .iter()
        .map(|a| {
            context! {
                a => ser(a),
                name => snap.package(&a.code).map(|p| p.name.clone()).unwrap_or_else(|| a.code.to_lowercase()),
                title => snap.package(&a.code).map(|p| p.title.clone()).unwrap_or_default(),
            }
        })
        .collect();
    visit.page(
        state,
        "portal_account.html",
        context! {
            mode => "account",
            applications => apps,
            new_token => new_token.as_ref().map(|(id, t)| context! { id => id, token => t }),
            form => HashMap::<String, String>::new(),
        },
    )
}

async fn issue_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(visit, _form): CheckedForm<Visit>,
) -> Response {
    let Some(user) = &visit.user else {
        return Redirect::to("/open/login?next=/open/account").into_response();
    };
    match state.engines.open.issue_token(user, &id).await {
        Ok(token) => account_view(&state, &visit, Some((id, token))).await,
        Err(e) => visit.fail(&e),
    }
}

async fn catalog_rdf_page(
    state: &AppState,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    kind: RdfKind,
) -> Response {
    let page = match q.get("page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                "page must be a number / 页码应为数字",
            )
                .into_response();
        }
    };
    let snap = state.engines.open.snapshot();
    match shuniu_open::dcat::catalog(
        &snap,
        &base_url(headers),
        &state.settings.site_name,
        page,
        kind,
    ) {
        Ok(body) => ([(header::CONTENT_TYPE, kind.content_type())], body).into_response(),
        Err(e) if !e.kind().is_server_fault() => {
            (StatusCode::NOT_FOUND, format!("{} / {}", e.message_zh(), e)).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn catalog_jsonld(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    catalog_rdf_page(&state, &headers, &q, RdfKind::JsonLd).await
}

async fn catalog_ttl(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    catalog_rdf_page(&state, &headers, &q, RdfKind::Turtle).await
}

async fn catalog_rdf(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    catalog_rdf_page(&state, &headers, &q, RdfKind::RdfXml).await
}
