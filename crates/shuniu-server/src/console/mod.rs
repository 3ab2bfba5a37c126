//! The web console: server-rendered pages in Simplified Chinese with an English switch
//! (remembered in a cookie). Console users sign in with a password; the session cookie is
//! HttpOnly and SameSite=Lax, and every form carries the session's CSRF token.

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::{Environment, Value, context};
use serde::Serialize;
use shuniu_auth::accounts::{AccountError, csrf_matches};
use shuniu_catalog::{CatalogError, ListKind, Review, SearchParams};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::ResourceRecord;
use shuniu_types::{
    Actor, CategoryKind, DataItemInput, DataType, FieldError, MaskingRule, OpenType,
    ResourceFormat, ResourceInput, Role, SecurityLevel, SemanticType, ShareMethod, ShareType,
    UpdateCycle,
};
use std::collections::{BTreeMap, HashMap};

pub(crate) mod audit;
mod data;
mod opendata;
mod quality;
mod sharing;

use crate::AppState;
use crate::i18n::{Lang, t};
use crate::views::{self, DepartmentNames};

const SESSION_COOKIE: &str = "shuniu_session";
const LANG_COOKIE: &str = "shuniu_lang";
const LOGIN_CSRF_COOKIE: &str = "shuniu_login_csrf";

pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    // Filters first: templates resolve them when they are added.
    env.add_filter("truncate", |s: String, n: usize| -> String {
        if s.chars().count() <= n {
            s
        } else {
            s.chars().take(n).chain(std::iter::once('…')).collect()
        }
    });
    for (name, src) in [
        ("base.html", include_str!("../../templates/base.html")),
        ("login.html", include_str!("../../templates/login.html")),
        ("catalog.html", include_str!("../../templates/catalog.html")),
        (
            "resource.html",
            include_str!("../../templates/resource.html"),
        ),
        ("form.html", include_str!("../../templates/form.html")),
        ("review.html", include_str!("../../templates/review.html")),
        (
            "negative.html",
            include_str!("../../templates/negative.html"),
        ),
        ("lists.html", include_str!("../../templates/lists.html")),
        (
            "departments.html",
            include_str!("../../templates/departments.html"),
        ),
        ("import.html", include_str!("../../templates/import.html")),
        ("users.html", include_str!("../../templates/users.html")),
        ("quality.html", include_str!("../../templates/quality.html")),
        (
            "quality_resource.html",
            include_str!("../../templates/quality_resource.html"),
        ),
        (
            "quality_tickets.html",
            include_str!("../../templates/quality_tickets.html"),
        ),
        (
            "quality_ticket.html",
            include_str!("../../templates/quality_ticket.html"),
        ),
        (
            "quality_sources.html",
            include_str!("../../templates/quality_sources.html"),
        ),
        (
            "applications.html",
            include_str!("../../templates/applications.html"),
        ),
        ("load.html", include_str!("../../templates/load.html")),
        (
            "loadreport.html",
            include_str!("../../templates/loadreport.html"),
        ),
        ("sql.html", include_str!("../../templates/sql.html")),
        ("audit.html", include_str!("../../templates/audit.html")),
        ("flows.html", include_str!("../../templates/flows.html")),
        ("mydata.html", include_str!("../../templates/mydata.html")),
        ("sharing.html", include_str!("../../templates/sharing.html")),
        (
            "sharing_form.html",
            include_str!("../../templates/sharing_form.html"),
        ),
        (
            "sharing_request.html",
            include_str!("../../templates/sharing_request.html"),
        ),
        (
            "portal_base.html",
            include_str!("../../templates/portal_base.html"),
        ),
        (
            "portal_home.html",
            include_str!("../../templates/portal_home.html"),
        ),
        (
            "portal_dataset.html",
            include_str!("../../templates/portal_dataset.html"),
        ),
        (
            "portal_list.html",
            include_str!("../../templates/portal_list.html"),
        ),
        (
            "portal_themes.html",
            include_str!("../../templates/portal_themes.html"),
        ),
        (
            "portal_requests.html",
            include_str!("../../templates/portal_requests.html"),
        ),
        (
            "portal_account.html",
            include_str!("../../templates/portal_account.html"),
        ),
        (
            "opendata.html",
            include_str!("../../templates/opendata.html"),
        ),
        (
            "opendata_rules.html",
            include_str!("../../templates/opendata_rules.html"),
        ),
    ] {
        // Templates are compiled into the binary; a syntax error fails the unit tests.
        if let Err(e) = env.add_template(name, src) {
            tracing::error!(template = name, error = %e, "template does not compile");
        }
    }
    env.add_function("t", |state: &minijinja::State, key: &str| -> String {
        let lang = state
            .lookup("lang")
            .map(|v| v.to_string())
            .unwrap_or_default();
        t(Lang::parse(&lang), key)
    });
    env.add_function(
        "label",
        |state: &minijinja::State, vocab: &str, code: &str| -> String {
            let en = state
                .lookup("lang")
                .map(|v| v.to_string())
                .unwrap_or_default()
                == "en";
            views::vocab_label(vocab, code, en)
        },
    );
    env
}

pub(crate) fn ser<T: Serialize>(v: T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

#[derive(Serialize)]
struct Choice {
    code: &'static str,
    zh: &'static str,
    en: &'static str,
}

macro_rules! choices {
    ($t:ty) => {
        <$t>::ALL
            .iter()
            .map(|v| Choice {
                code: v.code(),
                zh: v.zh(),
                en: v.en(),
            })
            .collect::<Vec<_>>()
    };
}

fn vocabularies() -> Value {
    ser(BTreeMap::from([
        ("category", choices!(CategoryKind)),
        ("share_type", choices!(ShareType)),
        ("open_type", choices!(OpenType)),
        ("share_method", choices!(ShareMethod)),
        ("update_cycle", choices!(UpdateCycle)),
        ("level", choices!(SecurityLevel)),
        ("format", choices!(ResourceFormat)),
        ("data_type", choices!(DataType)),
        ("semantic_type", choices!(SemanticType)),
        ("masking", choices!(MaskingRule)),
    ]))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/catalog") }))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/lang/{lang}", get(set_lang))
        .route("/catalog", get(catalog_page))
        .route("/catalog/new", get(new_form).post(new_submit))
        .route("/catalog/r/{code}", get(resource_page))
        .route("/catalog/r/{code}/edit", get(edit_form).post(edit_submit))
        .route("/catalog/r/{code}/{action}", post(resource_action))
        .route("/review", get(review_page))
        .route("/negative-list", get(negative_page))
        .route(
            "/lists",
            get(|| async { Redirect::to("/lists/aggregation") }),
        )
        .route("/lists/{kind}", get(lists_page))
        .route("/departments", get(departments_page))
        .route("/import", get(import_page).post(import_submit))
        .route("/export.xlsx", get(export_xlsx))
        .route("/admin/users", get(users_page).post(add_user))
        .route(
            "/admin/applications",
            get(applications_page).post(add_application),
        )
        .route("/admin/applications/{id}/revoke", post(revoke_application))
        .route(
            "/static/console.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    include_str!("../../static/console.css"),
                )
            }),
        )
        .route(
            "/static/console.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("../../static/console.js"),
                )
            }),
        )
        .merge(data::router())
        .merge(audit::router())
        .merge(quality::router())
        .merge(sharing::router())
        .merge(opendata::router())
}

pub(crate) fn lang_of(jar: &CookieJar) -> Lang {
    jar.get(LANG_COOKIE)
        .map(|c| Lang::parse(c.value()))
        .unwrap_or(Lang::Zh)
}

/// A signed-in console user. Pages that need one redirect anonymous visitors to the login.
pub struct ConsoleUser {
    pub actor: Actor,
    pub csrf: String,
    pub lang: Lang,
    /// Path and query of the page, for the language switch to come back to.
    pub path: String,
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let lang = lang_of(&jar);
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let to_login =
            || Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response();
        let next = next.clone();
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(to_login());
        };
        match state.accounts.session(&token).await {
            Ok(Some((actor, csrf))) => Ok(ConsoleUser {
                actor,
                csrf,
                lang,
                path: next,
            }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(error_page(
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                &e.to_string(),
            )),
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only same-site relative paths may be redirect targets (no open redirects).
fn safe_next(next: Option<&String>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.clone(),
        _ => "/catalog".into(),
    }
}

pub(crate) fn render(state: &AppState, name: &str, ctx: Value) -> Response {
    match state
        .templates
        .get_template(name)
        .and_then(|t| t.render(ctx))
    {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "render failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

fn page(state: &AppState, user: &ConsoleUser, name: &str, extra: Value) -> Response {
    let ctx = context! {
        lang => user.lang.code(),
        csrf => user.csrf.clone(),
        user => context! {
            name => user.actor.display_name.clone(),
            role => user.actor.role.code(),
            department => user.actor.department.clone(),
            operator => user.actor.role == Role::HubOperator,
            can_register => user.actor.role != Role::Viewer,
        },
        site_name => state.settings.site_name.clone(),
        request_path => user.path.clone(),
        ..extra
    };
    render(state, name, ctx)
}

pub(crate) fn error_page(lang: Lang, status: StatusCode, detail: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"{}\"><meta charset=\"utf-8\"><title>{}</title><link rel=\"stylesheet\" href=\"/static/console.css\"><main class=\"narrow\"><h1>{}</h1><p>{}</p><p><a href=\"/catalog\">{}</a></p></main></html>",
        lang.code(),
        status.as_u16(),
        status.as_u16(),
        minijinja::HtmlEscape(detail),
        t(lang, "back")
    );
    (status, Html(body)).into_response()
}

pub fn not_found_page() -> Response {
    error_page(
        Lang::Zh,
        StatusCode::NOT_FOUND,
        "页面不存在 / Page not found",
    )
}

fn catalog_error(user: &ConsoleUser, e: CatalogError) -> Response {
    let en = user.lang == Lang::En;
    match e {
        CatalogError::NotFound(code) => error_page(
            user.lang,
            StatusCode::NOT_FOUND,
            &format!("{} {code}", t(user.lang, "not_found")),
        ),
        CatalogError::Denied(d) => error_page(
            user.lang,
            StatusCode::FORBIDDEN,
            if en { &d.message_en } else { &d.message_zh },
        ),
        CatalogError::Invalid(errs) => {
            let msg: Vec<String> = errs
                .iter()
                .map(|e| {
                    if en {
                        e.message_en.clone()
                    } else {
                        e.message_zh.clone()
                    }
                })
                .collect();
            error_page(user.lang, StatusCode::UNPROCESSABLE_ENTITY, &msg.join("; "))
        }
        other => {
            tracing::error!(error = %other, "console error");
            error_page(
                user.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &other.to_string(),
            )
        }
    }
}

/// The refusal to answer a form without the session's CSRF token, if it lacks it.
fn csrf_rejection(user: &ConsoleUser, form: &[(String, String)]) -> Option<Response> {
    let submitted = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if csrf_matches(&user.csrf, submitted) {
        None
    } else {
        Some(error_page(
            user.lang,
            StatusCode::FORBIDDEN,
            "CSRF token missing or wrong / 表单已过期，请刷新页面后重试",
        ))
    }
}

pub(crate) fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age_days: i64,
) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_path("/");
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_secure(secure);
    // Max-Age through the attribute parser keeps the `time` crate out of our dependencies.
    if let Ok(parsed) = Cookie::parse(format!("{}=x; Max-Age={}", name, max_age_days * 86_400)) {
        c.set_max_age(parsed.max_age());
    }
    c
}

async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let csrf = shuniu_auth::random_token().unwrap_or_default();
    let jar = jar.add(cookie(
        LOGIN_CSRF_COOKIE,
        csrf.clone(),
        state.settings.secure_cookies,
        1,
    ));
    let ctx = context! {
        lang => lang.code(), csrf => csrf, next => safe_next(q.get("next")), site_name => state.settings.site_name.clone(),
        failed => q.contains_key("failed"),
        locked => q.contains_key("locked"),
    };
    (jar, render(&state, "login.html", ctx)).into_response()
}

async fn login_submit(
    State(state): State<AppState>,
    jar: CookieJar,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let expected = jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if !csrf_matches(
        &expected,
        form.get("csrf").map(String::as_str).unwrap_or(""),
    ) {
        return error_page(
            lang,
            StatusCode::FORBIDDEN,
            "CSRF token missing or wrong / 登录表单已过期，请刷新页面",
        );
    }
    let next = safe_next(form.get("next"));
    let login = form.get("login").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    match state.accounts.login(&login, &password).await {
        Ok(session) => {
            let jar = jar
                .add(cookie(
                    SESSION_COOKIE,
                    session.token,
                    state.settings.secure_cookies,
                    1,
                ))
                .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/"));
            (jar, Redirect::to(&next)).into_response()
        }
        Err(AccountError::BadCredentials) => {
            Redirect::to(&format!("/login?failed=1&next={}", urlencode(&next))).into_response()
        }
        Err(AccountError::Locked { .. }) => {
            Redirect::to(&format!("/login?locked=1&next={}", urlencode(&next))).into_response()
        }
        Err(e) => error_page(lang, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

async fn logout(
    State(state): State<AppState>,
    user: ConsoleUser,
    jar: CookieJar,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = csrf_rejection(&user, &form) {
        return r;
    }
    if let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
        let _ = state.accounts.logout(&token).await;
    }
    (
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        Redirect::to("/login"),
    )
        .into_response()
}

async fn set_lang(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(lang): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = Lang::parse(&lang);
    let jar = jar.add(cookie(
        LANG_COOKIE,
        lang.code().into(),
        state.settings.secure_cookies,
        365,
    ));
    (jar, Redirect::to(&safe_next(q.get("next")))).into_response()
}

async fn names(state: &AppState) -> DepartmentNames {
    views::department_names(&state.accounts)
        .await
        .unwrap_or_default()
}

const FACET_DIMS: [&str; 6] = [
    "provider",
    "category",
    "share_type",
    "open_type",
    "level",
    "update_cycle",
];

async fn catalog_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let text = q.get("q").cloned().unwrap_or_default();
    let page_no: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| (1..=10_000).contains(p))
        .unwrap_or(1);
    let per_page = 20;
    let mut filters = BTreeMap::new();
    for dim in FACET_DIMS {
        if let Some(v) = q.get(dim).filter(|v| !v.is_empty()) {
            filters.insert(dim.to_string(), v.clone());
        }
    }
    let params = SearchParams {
        text: text.clone(),
        filters: filters.clone(),
        offset: (page_no - 1) * per_page,
        limit: per_page,
    };
    let found = match state.catalog.search(&user.actor, &params).await {
        Ok(f) => f,
        Err(e) => return catalog_error(&user, e),
    };
    let names = names(&state).await;
    let en = user.lang == Lang::En;
    // Each facet value links to the current query with that filter toggled.
    let link = |overrides: &[(&str, Option<&str>)]| -> String {
        let mut params: BTreeMap<&str, String> = BTreeMap::new();
        if !text.is_empty() {
            params.insert("q", text.clone());
        }
        for (k, v) in &filters {
            params.insert(k.as_str(), v.clone());
        }
        for (k, v) in overrides {
            match v {
                Some(v) => params.insert(k, v.to_string()),
                None => params.remove(k),
            };
        }
        let qs: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        format!("/catalog?{}", qs.join("&"))
    };
    let facets: Vec<Value> = FACET_DIMS
        .iter()
        .map(|dim| {
            let values: Vec<Value> = found
                .facets
                .get(*dim)
                .map(|vs| {
                    vs.iter()
                        .take(if *dim == "provider" { 15 } else { 10 })
                        .map(|(v, n)| {
                            let selected = filters.get(*dim) == Some(v);
                            let label = views::facet_label(dim, v, &names, en);
                            context! { value => v, label => label, count => n, selected => selected,
                                href => link(&[(dim, if selected { None } else { Some(v.as_str()) }), ("page", None)]) }
                        })
                        .collect()
                })
                .unwrap_or_default();
            context! { dim => *dim, values => values }
        })
        .collect();
    let items: Vec<_> = found
        .items
        .iter()
        .map(|r| views::summary(r, &names))
        .collect();
    let pages = found.total.div_ceil(per_page).max(1);
    let extra = context! {
        q => text.clone(), total => found.total, items => ser(&items), facets => facets,
        page => page_no, pages => pages,
        prev_href => (page_no > 1).then(|| link(&[("page", Some(&(page_no - 1).to_string()))])),
        next_href => (page_no < pages).then(|| link(&[("page", Some(&(page_no + 1).to_string()))])),
        filtered => !filters.is_empty(),
        clear_href => if text.is_empty() { "/catalog".to_string() } else { format!("/catalog?q={}", urlencode(&text)) },
    };
    page(&state, &user, "catalog.html", extra)
}

async fn resource_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
) -> Response {
    let r = match state.catalog.get(&user.actor, &code).await {
        Ok(r) => r,
        Err(e) => return catalog_error(&user, e),
    };
    let history = state
        .catalog
        .history(&user.actor, &code)
        .await
        .unwrap_or_default();
    let names = names(&state).await;
    let target = Target::Resource {
        provider: &r.spec.provider,
        status: r.status,
    };
    let can = |a| decide(&user.actor, a, target).is_ok();
    // The dataset: its version, first rows and recent loads, for those who may see them.
    let can_read_data = can(Action::ReadData);
    let (data_version, preview, loads) = if can_read_data {
        let version = state
            .aggregation
            .current_version(&code)
            .await
            .ok()
            .flatten();
        let preview = match version {
            Some(_) => state
                .aggregation
                .preview(&user.actor, &code, None, 10, None)
                .await
                .ok()
                .flatten()
                .map(crate::api::data::RowsView::from),
            None => None,
        };
        let loads = state
            .aggregation
            .loads(&user.actor, &code, 0, 10)
            .await
            .map(|(_, l)| {
                l.into_iter()
                    .map(crate::api::data::LoadView::from)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        (version, preview, loads)
    } else {
        (None, None, Vec::new())
    };
    let extra = context! {
        r => ser(views::detail(&r, &names)),
        path => r.spec.classification.path_zh(),
        history => ser(history.iter().map(views::HistoryView::from).collect::<Vec<_>>()),
        can_edit => can(Action::EditResource), can_submit => can(Action::SubmitResource),
        can_review => can(Action::ReviewResource), can_withdraw => can(Action::WithdrawResource),
        can_load => can(Action::LoadData), can_read_data => can_read_data,
        data_version => data_version, preview => ser(preview), loads => ser(loads),
        can_request => r.status == shuniu_types::ResourceStatus::Published
            && shuniu_policy::decide(
                &user.actor,
                Action::RequestShare,
                shuniu_policy::Target::Share {
                    provider: &r.spec.provider,
                    consumer: &user.actor.department,
                    escalated: false,
                },
            )
            .is_ok(),
    };
    page(&state, &user, "resource.html", extra)
}

/// Builds a [`ResourceInput`] from the console form. Unparseable numbers become out-of-range
/// values so that validation reports them on their field.
fn input_from_form(form: &[(String, String)]) -> ResourceInput {
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let num = |k: &str| get(k).parse::<u32>().unwrap_or(0);
    let mut items: BTreeMap<usize, DataItemInput> = BTreeMap::new();
    for (k, v) in form {
        let Some(rest) = k.strip_prefix("items-") else {
            continue;
        };
        let Some((idx, field)) = rest.split_once('-') else {
            continue;
        };
        let Ok(idx) = idx.parse::<usize>() else {
            continue;
        };
        if idx >= shuniu_types::limits::ITEMS * 2 {
            continue;
        }
        let item = items.entry(idx).or_default();
        let v = v.trim().to_string();
        match field {
            "name" => item.name = v,
            "label" => item.label = v,
            "data_type" => item.data_type = v,
            "length" => {
                item.length = if v.is_empty() {
                    None
                } else {
                    Some(v.parse().unwrap_or(0))
                }
            }
            "description" => item.description = v,
            "is_key" => item.is_key = true,
            "required" => item.required = true,
            "personal" => item.personal = true,
            "sensitive" => item.sensitive = true,
            "masking" => item.masking = v,
            "semantic_type" => item.semantic_type = v,
            _ => {}
        }
    }
    let detail = get("detail_code");
    ResourceInput {
        name: get("name"),
        provider: get("provider"),
        category: get("category"),
        item_code: num("item_code").min(255) as u8,
        item_name: get("item_name"),
        subject_code: num("subject_code").min(65_535) as u16,
        subject_name: get("subject_name"),
        detail_code: if detail.is_empty() {
            None
        } else {
            Some(detail.parse().unwrap_or(0))
        },
        detail_name: Some(get("detail_name")).filter(|s| !s.is_empty()),
        summary: get("summary"),
        format: get("format"),
        share_type: get("share_type"),
        share_conditions: get("share_conditions"),
        share_method: get("share_method"),
        open_type: get("open_type"),
        open_conditions: get("open_conditions"),
        legal_basis: get("legal_basis"),
        update_cycle: get("update_cycle"),
        level: get("level"),
        publish_date: chrono::NaiveDate::parse_from_str(&get("publish_date"), "%Y-%m-%d").ok(),
        related: get("related")
            .split([',', '，', ' '])
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        // Blank rows (the spare rows of the form) are not data items.
        data_items: items
            .into_values()
            .filter(|i| !(i.name.is_empty() && i.label.is_empty()))
            .collect(),
    }
}

fn error_map(errors: &[FieldError], lang: Lang) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for e in errors {
        let msg = if lang == Lang::En {
            e.message_en.clone()
        } else {
            e.message_zh.clone()
        };
        m.entry(e.field.clone())
            .and_modify(|s: &mut String| {
                s.push('；');
                s.push_str(&msg)
            })
            .or_insert(msg);
    }
    m
}

async fn form_page(
    state: &AppState,
    user: &ConsoleUser,
    input: &ResourceInput,
    code: Option<&str>,
    version: Option<i64>,
    errors: &[FieldError],
) -> Response {
    let departments = state.accounts.departments().await.unwrap_or_default();
    let providers: Vec<Value> = departments
        .iter()
        .filter(|d| user.actor.role == Role::HubOperator || d.code == user.actor.department)
        .map(|d| context! { code => d.code.clone(), name => d.name.clone() })
        .collect();
    let mut items = input.data_items.clone();
    // Spare rows so that items can be added without scripts.
    items.extend(std::iter::repeat_with(DataItemInput::default).take(3));
    let extra = context! {
        input => ser(input), items => ser(&items), code => code, version => version,
        errors => ser(error_map(errors, user.lang)), has_errors => !errors.is_empty(),
        providers => providers, vocab => vocabularies(),
        related => input.related.join(", "),
        publish_date => input.publish_date.map(|d| d.to_string()).unwrap_or_default(),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut resp = page(state, user, "form.html", extra);
    *resp.status_mut() = status;
    resp
}

async fn new_form(State(state): State<AppState>, user: ConsoleUser) -> Response {
    if let Err(d) = decide(
        &user.actor,
        Action::RegisterResource,
        Target::NewResource {
            provider: &user.actor.department,
        },
    ) {
        return error_page(
            user.lang,
            StatusCode::FORBIDDEN,
            if user.lang == Lang::En {
                &d.message_en
            } else {
                &d.message_zh
            },
        );
    }
    let input = ResourceInput {
        provider: user.actor.department.clone(),
        category: "department".into(),
        share_type: "conditional".into(),
        open_type: "not_open".into(),
        update_cycle: "monthly".into(),
        level: "general_2".into(),
        format: "database".into(),
        share_method: "interface".into(),
        ..Default::default()
    };
    form_page(&state, &user, &input, None, None, &[]).await
}

async fn new_submit(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = csrf_rejection(&user, &form) {
        return r;
    }
    let input = input_from_form(&form);
    match state.catalog.register(&user.actor, &input).await {
        Ok(r) => Redirect::to(&format!("/catalog/r/{}", urlencode(&r.code))).into_response(),
        Err(CatalogError::Invalid(errors)) => {
            form_page(&state, &user, &input, None, None, &errors).await
        }
        Err(e) => catalog_error(&user, e),
    }
}

async fn edit_form(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
) -> Response {
    let r = match state.catalog.get(&user.actor, &code).await {
        Ok(r) => r,
        Err(e) => return catalog_error(&user, e),
    };
    if let Err(d) = decide(
        &user.actor,
        Action::EditResource,
        Target::Resource {
            provider: &r.spec.provider,
            status: r.status,
        },
    ) {
        return error_page(
            user.lang,
            StatusCode::FORBIDDEN,
            if user.lang == Lang::En {
                &d.message_en
            } else {
                &d.message_zh
            },
        );
    }
    form_page(
        &state,
        &user,
        &ResourceInput::from(&r.spec),
        Some(&code),
        Some(r.version),
        &[],
    )
    .await
}

async fn edit_submit(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = csrf_rejection(&user, &form) {
        return r;
    }
    let input = input_from_form(&form);
    let version = form
        .iter()
        .find(|(k, _)| k == "version")
        .and_then(|(_, v)| v.parse().ok());
    match state
        .catalog
        .update(&user.actor, &code, &input, version)
        .await
    {
        Ok(r) => Redirect::to(&format!("/catalog/r/{}", urlencode(&r.code))).into_response(),
        Err(CatalogError::Invalid(errors)) => {
            form_page(&state, &user, &input, Some(&code), version, &errors).await
        }
        Err(e) => catalog_error(&user, e),
    }
}

async fn resource_action(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((code, action)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = csrf_rejection(&user, &form) {
        return r;
    }
    let reason = form
        .iter()
        .find(|(k, _)| k == "reason")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let result = match action.as_str() {
        "submit" => state.catalog.submit(&user.actor, &code).await,
        "publish" => {
            state
                .catalog
                .review(&user.actor, &code, Review::Publish, &reason)
                .await
        }
        "return" => {
            state
                .catalog
                .review(&user.actor, &code, Review::Return, &reason)
                .await
        }
        "withdraw" => state.catalog.withdraw(&user.actor, &code, &reason).await,
        _ => return not_found_page(),
    };
    match result {
        Ok(_) => {
            // Back to where the action was taken (the review queue or the resource page).
            let from_review = headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|r| r.contains("/review"));
            let to = if from_review {
                "/review".to_string()
            } else {
                format!("/catalog/r/{}", urlencode(&code))
            };
            Redirect::to(&to).into_response()
        }
        Err(e) => catalog_error(&user, e),
    }
}

fn summaries(records: &[ResourceRecord], names: &DepartmentNames) -> Vec<views::ResourceSummary> {
    records.iter().map(|r| views::summary(r, names)).collect()
}

async fn review_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    match state.catalog.review_queue(&user.actor).await {
        Ok(items) => {
            let names = names(&state).await;
            page(
                &state,
                &user,
                "review.html",
                context! { items => ser(summaries(&items, &names)) },
            )
        }
        Err(e) => catalog_error(&user, e),
    }
}

async fn negative_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    match state.catalog.negative_list().await {
        Ok(items) => {
            let names = names(&state).await;
            let rows: Vec<Value> = items
                .iter()
                .map(|r| context! { code => r.code.clone(), name => r.spec.name.clone(), provider_name => names.get(&r.spec.provider).cloned().unwrap_or_default(), legal_basis => r.spec.legal_basis.clone(), summary => r.spec.summary.clone() })
                .collect();
            page(&state, &user, "negative.html", context! { items => rows })
        }
        Err(e) => catalog_error(&user, e),
    }
}

async fn lists_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(kind): Path<String>,
) -> Response {
    let (kind, as_xlsx) = match kind.strip_suffix(".xlsx") {
        Some(k) => (k.to_string(), true),
        None => (kind, false),
    };
    let Some(kind) = ListKind::parse(&kind) else {
        return not_found_page();
    };
    let items = match state.catalog.list(kind).await {
        Ok(i) => i,
        Err(e) => return catalog_error(&user, e),
    };
    if as_xlsx {
        return match state.catalog.export_excel(&items).await {
            Ok(bytes) => views::xlsx_response(bytes, kind.code()),
            Err(e) => catalog_error(&user, e),
        };
    }
    let names = names(&state).await;
    let tabs: Vec<Value> = [ListKind::Aggregation, ListKind::Sharing, ListKind::Open]
        .iter()
        .map(|k| context! { code => k.code(), label => if user.lang == Lang::En { k.en() } else { k.zh() }, active => *k == kind })
        .collect();
    page(
        &state,
        &user,
        "lists.html",
        context! { kind => kind.code(), tabs => tabs, items => ser(summaries(&items, &names)) },
    )
}

async fn export_xlsx(State(state): State<AppState>, user: ConsoleUser) -> Response {
    match state.catalog.visible(&user.actor).await {
        Ok(items) => match state.catalog.export_excel(&items).await {
            Ok(bytes) => views::xlsx_response(bytes, "catalog"),
            Err(e) => catalog_error(&user, e),
        },
        Err(e) => catalog_error(&user, e),
    }
}

async fn departments_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let departments = state.accounts.departments().await.unwrap_or_default();
    let tree: Vec<Value> = departments
        .iter()
        .filter(|d| d.parent_code.is_none())
        .map(|d| {
            let children: Vec<_> = departments
                .iter()
                .filter(|c| c.parent_code.as_deref() == Some(&d.code))
                .map(views::DepartmentView::from)
                .collect();
            context! { d => ser(views::DepartmentView::from(d)), children => ser(children) }
        })
        .collect();
    page(
        &state,
        &user,
        "departments.html",
        context! { tree => tree, total => departments.len() },
    )
}

async fn import_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    page(&state, &user, "import.html", context! { report => () })
}

async fn import_submit(
    State(state): State<AppState>,
    user: ConsoleUser,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let mut csrf = String::new();
    let mut file = Vec::new();
    let mut dry_run = false;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let Ok(bytes) = field.bytes().await else {
                    return error_page(
                        user.lang,
                        StatusCode::BAD_REQUEST,
                        "upload interrupted / 上传中断",
                    );
                };
                match name.as_str() {
                    "csrf" => csrf = String::from_utf8_lossy(&bytes).to_string(),
                    "dry_run" => dry_run = true,
                    "file" => file = bytes.to_vec(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => return error_page(user.lang, StatusCode::BAD_REQUEST, &e.to_string()),
        }
    }
    if let Some(r) = csrf_rejection(&user, &[("csrf".to_string(), csrf)]) {
        return r;
    }
    match state
        .catalog
        .import_excel(&user.actor, &file, dry_run)
        .await
    {
        Ok(report) => {
            let view = crate::api::import_view(report);
            page(
                &state,
                &user,
                "import.html",
                context! { report => ser(view) },
            )
        }
        Err(CatalogError::Invalid(errors)) => {
            let view = crate::api::ImportReportView {
                resources: 0,
                dry_run,
                errors: errors
                    .iter()
                    .map(|e| crate::api::ImportRowError {
                        row: 0,
                        field: e.field.clone(),
                        code: e.code.into(),
                        message_zh: e.message_zh.clone(),
                        message_en: e.message_en.clone(),
                    })
                    .collect(),
                imported: vec![],
            };
            page(
                &state,
                &user,
                "import.html",
                context! { report => ser(view) },
            )
        }
        Err(CatalogError::Workbook(detail)) => {
            let view = crate::api::ImportReportView {
                resources: 0,
                dry_run,
                errors: vec![crate::api::ImportRowError {
                    row: 0,
                    field: "file".into(),
                    code: "WORKBOOK_UNREADABLE".into(),
                    message_zh: format!("无法读取该 Excel 文件：{detail}"),
                    message_en: format!("the file cannot be read as a workbook: {detail}"),
                }],
                imported: vec![],
            };
            page(
                &state,
                &user,
                "import.html",
                context! { report => ser(view) },
            )
        }
        Err(e) => catalog_error(&user, e),
    }
}

fn account_error(user: &ConsoleUser, e: AccountError) -> Response {
    match e {
        AccountError::Denied(d) => error_page(
            user.lang,
            StatusCode::FORBIDDEN,
            if user.lang == Lang::En {
                &d.message_en
            } else {
                &d.message_zh
            },
        ),
        other => {
            tracing::error!(error = %other, "console admin error");
            error_page(
                user.lang,
                StatusCode::SERVICE_UNAVAILABLE,
                &other.to_string(),
            )
        }
    }
}

fn form_value(form: &[(String, String)], key: &str) -> String {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// An administration page: its form (with what was typed and the errors), the roles and
/// departments to choose from, and 422 when the form was refused.
async fn admin_page(
    state: &AppState,
    user: &ConsoleUser,
    template: &str,
    form: Value,
    errors: &[FieldError],
    extra: Value,
) -> Response {
    let departments = state.accounts.departments().await.unwrap_or_default();
    let ctx = context! {
        form => form,
        errors => ser(error_map(errors, user.lang)),
        roles => ser(choices!(Role)),
        departments => ser(departments.iter().map(views::DepartmentView::from).collect::<Vec<_>>()),
        ..extra
    };
    let mut resp = page(state, user, template, ctx);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

async fn users_view(
    state: &AppState,
    user: &ConsoleUser,
    form: Value,
    errors: &[FieldError],
    created: Option<String>,
) -> Response {
    let users = match state.accounts.users(&user.actor).await {
        Ok(u) => u,
        Err(e) => return account_error(user, e),
    };
    let names = names(state).await;
    let rows: Vec<Value> = users
        .iter()
        .map(|u| context! { login => u.login.clone(), display_name => u.display_name.clone(), role => u.role.code(), department_name => names.get(&u.department_code).cloned().unwrap_or_default() })
        .collect();
    admin_page(
        state,
        user,
        "users.html",
        form,
        errors,
        context! { users => rows, created => created },
    )
    .await
}

async fn users_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let form = context! { role => "data_officer", department => user.actor.department.clone() };
    users_view(&state, &user, form, &[], None).await
}

async fn add_user(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = csrf_rejection(&user, &form) {
        return r;
    }
    let get = |k: &str| form_value(&form, k);
    let role = Role::parse_term(&get("role")).unwrap_or(Role::Viewer);
    let result = state
        .accounts
        .create_user(
            &user.actor,
            &get("login"),
            &get("display_name"),
            role,
            &get("department"),
            &get("password"),
        )
        .await;
    let kept = context! { login => get("login"), display_name => get("display_name"), role => role.code(), department => get("department") };
    match result {
        Ok(u) => {
            users_view(
                &state,
                &user,
                context! { role => "data_officer", department => u.department_code.clone() },
                &[],
                Some(u.login),
            )
            .await
        }
        Err(AccountError::Invalid(errors)) => users_view(&state, &user, kept, &errors, None).await,
        Err(e) => account_error(&user, e),
    }
}

async fn applications_view(
    state: &AppState,
    user: &ConsoleUser,
    form: Value,
    errors: &[FieldError],
    new_key: Option<String>,
) -> Response {
    let apps = match state.accounts.applications(&user.actor).await {
        Ok(a) => a,
        Err(e) => return account_error(user, e),
    };
    let names = names(state).await;
    let rows: Vec<Value> = apps
        .iter()
        .map(|a| context! {
            id => a.id.clone(), name => a.name.clone(), role => a.role.code(), key_prefix => a.key_prefix.clone(),
            revoked_at => a.revoked_at.clone(), department_name => names.get(&a.department_code).cloned().unwrap_or_default(),
        })
        .collect();
    admin_page(
        state,
        user,
        "applications.html",
        form,
        errors,
        context! { apps => rows, new_key => new_key },
    )
    .await
}

async fn applications_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let form = context! { role => "viewer", department => user.actor.department.clone() };
    applications_view(&state, &user, form, &[], None).await
}

async fn add_application(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = csrf_rejection(&user, &form) {
        return r;
    }
    let get = |k: &str| form_value(&form, k);
    let role = Role::parse_term(&get("role")).unwrap_or(Role::Viewer);
    let kept = context! { id => get("id"), name => get("name"), role => role.code(), department => get("department") };
    match state
        .accounts
        .create_application(
            &user.actor,
            &get("id"),
            &get("name"),
            &get("department"),
            role,
        )
        .await
    {
        Ok((_, key)) => {
            applications_view(
                &state,
                &user,
                context! { role => "viewer", department => user.actor.department.clone() },
                &[],
                Some(key),
            )
            .await
        }
        Err(AccountError::Invalid(errors)) => {
            applications_view(&state, &user, kept, &errors, None).await
        }
        Err(e) => account_error(&user, e),
    }
}

async fn revoke_application(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = csrf_rejection(&user, &form) {
        return r;
    }
    match state.accounts.revoke_application(&user.actor, &id).await {
        Ok(()) => Redirect::to("/admin/applications").into_response(),
        Err(AccountError::Store(shuniu_store::StoreError::NotFound { .. })) => not_found_page(),
        Err(e) => account_error(&user, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = templates();
        for name in [
            "base.html",
            "login.html",
            "catalog.html",
            "resource.html",
            "form.html",
            "review.html",
            "negative.html",
            "lists.html",
            "departments.html",
            "import.html",
            "users.html",
            "applications.html",
        ] {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn redirects_stay_on_site() {
        assert_eq!(safe_next(Some(&"/catalog?q=x".to_string())), "/catalog?q=x");
        assert_eq!(safe_next(Some(&"//evil.example".to_string())), "/catalog");
        assert_eq!(
            safe_next(Some(&"https://evil.example".to_string())),
            "/catalog"
        );
        assert_eq!(safe_next(Some(&"/\\evil".to_string())), "/catalog");
    }

    #[test]
    fn form_parsing_skips_blank_rows_and_keeps_bad_numbers_visible() {
        let form: Vec<(String, String)> = vec![
            ("name".into(), "人口".into()),
            ("item_code".into(), "abc".into()),
            ("items-0-name".into(), "id_number".into()),
            ("items-0-label".into(), "身份证号".into()),
            ("items-0-length".into(), "x".into()),
            ("items-0-personal".into(), "on".into()),
            ("items-1-name".into(), "".into()),
            ("items-1-label".into(), "".into()),
        ];
        let input = input_from_form(&form);
        assert_eq!(input.item_code, 0);
        assert_eq!(input.data_items.len(), 1);
        assert_eq!(input.data_items[0].length, Some(0));
        assert!(input.data_items[0].personal);
    }
}
