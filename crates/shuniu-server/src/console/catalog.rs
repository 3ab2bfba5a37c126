//! The catalog's pages: search, an entry and its history, the registration and edit form,
//! review, the negative list and three lists, departments, and the Excel import and export.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use std::collections::{BTreeMap, HashMap};

use crate::AppState;
use crate::i18n::Lang;
use crate::web::ListQuery;
use crate::web::{CheckedForm, CheckedMultipart, not_found_page, ser};

use axum::http::{HeaderMap, header};
use shuniu_catalog::{CatalogError, ListKind, Review, SearchParams};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::ResourceRecord;
use shuniu_types::{DataItemInput, FieldError, ResourceInput};

use shuniu_types::ErrorKind;

use super::{ConsoleUser, page, urlencode, vocabularies};
use crate::views::{self, DepartmentNames};

pub(crate) async fn names(
    state: &AppState,
) -> Result<DepartmentNames, shuniu_auth::accounts::AccountError> {
    views::department_names(&state.engines.accounts).await
}

const FACET_DIMS: [&str; 6] = [
    "provider",
    "category",
    "share_type",
    "open_type",
    "level",
    "update_cycle",
];

pub(crate) async fn catalog_page(
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
    let found = match state.engines.catalog.search(&user.actor, &params).await {
        Ok(f) => f,
        Err(e) => return user.fail(e),
    };
    let names = tried!(user, names(&state).await);
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
        export_href => link(&[("page", None)]).replacen("/catalog", "/export.xlsx", 1),
        clear_href => if text.is_empty() { "/catalog".to_string() } else { format!("/catalog?q={}", urlencode(&text)) },
    };
    page(&state, &user, "catalog.html", extra)
}

pub(crate) async fn resource_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
) -> Response {
    let r = match state.engines.catalog.get(&user.actor, &code).await {
        Ok(r) => r,
        Err(e) => return user.fail(e),
    };
    let history = tried!(
        user,
        state.engines.catalog.history(&user.actor, &code).await
    );
    let names = tried!(user, names(&state).await);
    let target = Target::Resource {
        provider: &r.spec.provider,
        status: r.status,
    };
    let can = |a| decide(&user.actor, a, target).is_ok();
    // The dataset: its version, first rows and recent loads, for those who may see them.
    let can_read_data = can(Action::ReadData);
    let (data_version, preview, loads) = if can_read_data {
        let version = tried!(user, state.engines.aggregation.current_version(&code).await);
        let preview = match version {
            Some(_) => tried!(
                user,
                state
                    .engines
                    .aggregation
                    .preview(&user.actor, &code, None, 10, None)
                    .await
            )
            .map(crate::api::data::RowsView::from),
            None => None,
        };
        let loads = state
            .engines
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
pub(crate) fn input_from_form(form: &[(String, String)]) -> ResourceInput {
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
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
    // Numbers that do not parse become 0 and validation names them; the form shows them.
    let (mut input, _) = ResourceInput::from_text(get);
    // Blank rows (the spare rows of the form) are not data items.
    input.data_items = items
        .into_values()
        .filter(|i| !(i.name.is_empty() && i.label.is_empty()))
        .collect();
    input
}

pub(crate) fn error_map(errors: &[FieldError], lang: Lang) -> BTreeMap<String, String> {
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

pub(crate) async fn form_page(
    state: &AppState,
    user: &ConsoleUser,
    input: &ResourceInput,
    code: Option<&str>,
    version: Option<i64>,
    errors: &[FieldError],
) -> Response {
    let departments = tried!(user, state.engines.accounts.departments().await);
    let providers: Vec<Value> = departments
        .iter()
        .filter(|d| {
            decide(
                &user.actor,
                Action::RegisterResource,
                Target::NewResource { provider: &d.code },
            )
            .is_ok()
        })
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

pub(crate) async fn new_form(State(state): State<AppState>, user: ConsoleUser) -> Response {
    if let Err(d) = decide(
        &user.actor,
        Action::RegisterResource,
        Target::NewResource {
            provider: &user.actor.department,
        },
    ) {
        return user.fail(d);
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

pub(crate) async fn new_submit(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let input = input_from_form(&form);
    match state.engines.catalog.register(&user.actor, &input).await {
        Ok(r) => Redirect::to(&format!("/catalog/r/{}", urlencode(&r.code))).into_response(),
        Err(CatalogError::Invalid(errors)) => {
            form_page(&state, &user, &input, None, None, &errors).await
        }
        Err(e) => user.fail(e),
    }
}

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
) -> Response {
    let r = match state.engines.catalog.get(&user.actor, &code).await {
        Ok(r) => r,
        Err(e) => return user.fail(e),
    };
    if let Err(d) = decide(
        &user.actor,
        Action::EditResource,
        Target::Resource {
            provider: &r.spec.provider,
            status: r.status,
        },
    ) {
        return user.fail(d);
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

pub(crate) async fn edit_submit(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let input = input_from_form(&form);
    let version = form
        .iter()
        .find(|(k, _)| k == "version")
        .and_then(|(_, v)| v.parse().ok());
    match state
        .engines
        .catalog
        .update(&user.actor, &code, &input, version)
        .await
    {
        Ok(r) => Redirect::to(&format!("/catalog/r/{}", urlencode(&r.code))).into_response(),
        Err(CatalogError::Invalid(errors)) => {
            form_page(&state, &user, &input, Some(&code), version, &errors).await
        }
        Err(e) => user.fail(e),
    }
}

pub(crate) async fn resource_action(
    State(state): State<AppState>,
    Path((code, action)): Path<(String, String)>,
    headers: HeaderMap,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let reason = form
        .iter()
        .find(|(k, _)| k == "reason")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let result = match action.as_str() {
        "submit" => state.engines.catalog.submit(&user.actor, &code).await,
        "publish" => {
            state
                .engines
                .catalog
                .review(&user.actor, &code, Review::Publish, &reason)
                .await
        }
        "return" => {
            state
                .engines
                .catalog
                .review(&user.actor, &code, Review::Return, &reason)
                .await
        }
        "withdraw" => {
            state
                .engines
                .catalog
                .withdraw(&user.actor, &code, &reason)
                .await
        }
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
        Err(e) => user.fail(e),
    }
}

pub(crate) fn summaries(
    records: &[ResourceRecord],
    names: &DepartmentNames,
) -> Vec<views::ResourceSummary> {
    records.iter().map(|r| views::summary(r, names)).collect()
}

pub(crate) async fn review_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let items = tried!(user, state.engines.catalog.review_queue(&user.actor).await);
    let items = narrowed(&state, &q, items);
    if q.format.is_some() {
        return match state.engines.catalog.export_excel(&items).await {
            Ok(bytes) => views::xlsx_response(bytes, "review-queue"),
            Err(e) => user.fail(e),
        };
    }
    let (items, listing) = q.page_of(items, "/review");
    let export_href = listing.export_href.replace("format=csv", "format=xlsx");
    let names = tried!(user, names(&state).await);
    page(
        &state,
        &user,
        "review.html",
        context! { items => ser(summaries(&items, &names)), l => ser(&listing), export_href => export_href },
    )
}

/// Catalog entries holding every word of the list's filter box (name, code, provider's name
/// or code, summary).
fn narrowed(state: &AppState, q: &ListQuery, items: Vec<ResourceRecord>) -> Vec<ResourceRecord> {
    items
        .into_iter()
        .filter(|r| {
            q.matches(&[
                &r.spec.name,
                &r.code,
                &r.spec.provider,
                &state.names.department(&r.spec.provider).unwrap_or_default(),
                &r.spec.summary,
            ])
        })
        .collect()
}

pub(crate) async fn negative_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let items = tried!(user, state.engines.catalog.negative_list().await);
    let items = narrowed(&state, &q, items);
    if q.format.is_some() {
        return match state.engines.catalog.export_excel(&items).await {
            Ok(bytes) => views::xlsx_response(bytes, "negative-list"),
            Err(e) => user.fail(e),
        };
    }
    let (items, listing) = q.page_of(items, "/negative-list");
    let rows: Vec<Value> = items
        .iter()
        .map(|r| context! { code => r.code.clone(), name => r.spec.name.clone(), provider => r.spec.provider.clone(), legal_basis => r.spec.legal_basis.clone(), summary => r.spec.summary.clone() })
        .collect();
    page(
        &state,
        &user,
        "negative.html",
        context! { items => rows, l => ser(&listing), export_href => listing.export_href.replace("format=csv", "format=xlsx") },
    )
}

pub(crate) async fn lists_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(kind): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let (kind, as_xlsx) = match kind.strip_suffix(".xlsx") {
        Some(k) => (k.to_string(), true),
        None => (kind, false),
    };
    let Some(kind) = ListKind::parse(&kind) else {
        return not_found_page();
    };
    let items = match state.engines.catalog.list(kind).await {
        Ok(i) => narrowed(&state, &q, i),
        Err(e) => return user.fail(e),
    };
    if as_xlsx {
        return match state.engines.catalog.export_excel(&items).await {
            Ok(bytes) => views::xlsx_response(bytes, kind.code()),
            Err(e) => user.fail(e),
        };
    }
    let names = tried!(user, names(&state).await);
    let tabs: Vec<Value> = [ListKind::Aggregation, ListKind::Sharing, ListKind::Open]
        .iter()
        .map(|k| context! { code => k.code(), label => if user.lang == Lang::En { k.en() } else { k.zh() }, active => *k == kind })
        .collect();
    let path = format!("/lists/{}", kind.code());
    let (items, listing) = q.page_of(items, &path);
    // The Excel export of the list as filtered.
    let export_href = listing
        .export_href
        .replacen(&path, &format!("{path}.xlsx"), 1)
        .replace("?format=csv", "")
        .replace("&format=csv", "");
    page(
        &state,
        &user,
        "lists.html",
        context! { kind => kind.code(), tabs => tabs, items => ser(summaries(&items, &names)), l => ser(&listing), export_href => export_href },
    )
}

/// The catalog as Excel: the entries the current search finds (its words and facet filters),
/// or every visible entry when nothing is searched.
pub(crate) async fn export_xlsx(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let text = q.get("q").cloned().unwrap_or_default();
    let filters: BTreeMap<String, String> = FACET_DIMS
        .iter()
        .filter_map(|dim| {
            q.get(*dim)
                .filter(|v| !v.is_empty())
                .map(|v| (dim.to_string(), v.clone()))
        })
        .collect();
    let found = if text.trim().is_empty() && filters.is_empty() {
        state.engines.catalog.visible(&user.actor).await
    } else {
        let params = SearchParams {
            text,
            filters,
            offset: 0,
            limit: 200,
        };
        state.engines.catalog.search_all(&user.actor, &params).await
    };
    match found {
        Ok(items) => match state.engines.catalog.export_excel(&items).await {
            Ok(bytes) => views::xlsx_response(bytes, "catalog"),
            Err(e) => user.fail(e),
        },
        Err(e) => user.fail(e),
    }
}

pub(crate) async fn departments_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let departments = tried!(user, state.engines.accounts.departments().await);
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

pub(crate) async fn import_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    page(&state, &user, "import.html", context! { report => () })
}

pub(crate) async fn import_submit(
    State(state): State<AppState>,
    CheckedMultipart(user, mut multipart): CheckedMultipart<ConsoleUser>,
) -> Response {
    let mut file = Vec::new();
    let mut dry_run = false;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let Ok(bytes) = field.bytes().await else {
                    return user.refuse(
                        ErrorKind::BadRequest,
                        "UPLOAD_INTERRUPTED",
                        "上传中断，请重新上传文件",
                        "the upload was interrupted; upload the file again",
                    );
                };
                match name.as_str() {
                    "dry_run" => dry_run = true,
                    "file" => file = bytes.to_vec(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                return user.refuse(
                    ErrorKind::BadRequest,
                    "FORM_UNREADABLE",
                    format!("表单无法读取：{e}"),
                    format!("the form cannot be read: {e}"),
                );
            }
        }
    }
    match state
        .engines
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
        Err(e) => user.fail(e),
    }
}
