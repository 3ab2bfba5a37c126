//! Console pages of the aggregation capability: the upload page, the load report (which
//! refreshes itself while the load runs), rejected rows, and the hub's SQL page.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use shuniu_policy::{Action, Target, decide};
use tokio::io::AsyncWriteExt;

use axum::extract::Query;
use shuniu_store::LoadRecord;
use shuniu_types::states::LoadStatus;

use shuniu_types::ErrorKind;

use super::{ConsoleUser, page};
use crate::AppState;
use crate::api::data::{LoadView, RowsView, UploadQuery, new_upload, rejects_response};
use crate::i18n::t;
use crate::web::ListQuery;
use crate::web::forms::text;
use crate::web::listing::{at, column, csv_download};
use crate::web::{CheckedForm, CheckedMultipart, ser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/catalog/r/{code}/load",
            get(load_page)
                .post(load_submit)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/catalog/r/{code}/mapping", post(save_mapping))
        .route("/loads", get(loads_page))
        .route("/loads/{id}", get(load_report))
        .route("/loads/{id}/rejects.csv", get(load_rejects))
        .route("/sql", get(sql_page).post(sql_submit))
}

async fn load_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let r = match state.engines.catalog.get(&user.actor, &code).await {
        Ok(r) => r,
        Err(e) => return user.fail(e),
    };
    if let Err(d) = decide(
        &user.actor,
        Action::LoadData,
        Target::Resource {
            provider: &r.spec.provider,
            status: r.status,
        },
    ) {
        return user.fail(d);
    }
    let mapping = tried!(
        user,
        state.engines.aggregation.mapping(&user.actor, &code).await
    );
    page(
        &state,
        &user,
        "load.html",
        context! {
            code => r.code.clone(),
            name => r.spec.name.clone(),
            items => ser(&r.spec.data_items),
            mapping => ser(mapping),
            mapped => q.contains_key("mapped"),
        },
    )
}

/// Streams the file field of the multipart form to disk, then starts the load and sends
/// the browser to its report.
async fn load_submit(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedMultipart(user, mut multipart): CheckedMultipart<ConsoleUser>,
) -> Response {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut upload = None;
    let mut filename = String::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(mut field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    if let Err(e) = state.engines.aggregation.may_load(&user.actor, &code).await {
                        return user.fail(e);
                    }
                    filename = field.file_name().unwrap_or("upload").to_string();
                    let (u, mut f) = match new_upload(&state).await {
                        Ok(x) => x,
                        Err(e) => {
                            return user.api_failure(&e);
                        }
                    };
                    loop {
                        match field.chunk().await {
                            Ok(Some(bytes)) => {
                                if let Err(e) = f.write_all(&bytes).await {
                                    return user.show_problem(&shuniu_types::Problem::internal(
                                        "UPLOAD_WRITE_FAILED",
                                        &e,
                                    ));
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                return user.refuse(
                                    ErrorKind::BadRequest,
                                    "UPLOAD_INTERRUPTED",
                                    format!("上传中断，请重新上传文件（{e}）"),
                                    format!(
                                        "the upload was interrupted ({e}); upload the file again"
                                    ),
                                );
                            }
                        }
                    }
                    let _ = f.flush().await;
                    upload = Some(u);
                } else {
                    let value = field.text().await.unwrap_or_default();
                    fields.push((name, value));
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
    let Some(upload) = upload else {
        return user.refuse(
            ErrorKind::BadRequest,
            "NO_FILE",
            "没有选择文件，请选择要上传的文件",
            "no file was chosen: choose the file to upload",
        );
    };
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let q = UploadQuery {
        mode: get("mode"),
        format: get("format"),
        encoding: get("encoding"),
        delimiter: get("delimiter"),
        sheet: get("sheet"),
        filename: Some(filename),
        ignore_unknown_columns: Some(get("ignore_unknown_columns").is_some()),
        max_rejects: get("max_rejects").and_then(|v| v.parse::<f64>().ok().map(|p| p / 100.0)),
        wait: None,
    };
    let req = match q.request() {
        Ok(r) => r,
        Err(e) => return user.api_failure(&e),
    };
    let path = upload.0.clone();
    match state
        .engines
        .aggregation
        .start_file_load(user.actor.clone(), code, path, req, upload)
        .await
    {
        Ok(started) => Redirect::to(&format!("/loads/{}", started.id)).into_response(),
        Err(e) => user.fail(e),
    }
}

/// Saves the upload page's column mapping (file header → data item; an empty item skips
/// the column) and comes back to the upload page.
async fn save_mapping(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let mut mapping = std::collections::BTreeMap::new();
    for (k, header) in form.iter() {
        let Some(n) = k.strip_prefix("header-") else {
            continue;
        };
        let header = header.trim();
        if header.is_empty() {
            continue;
        }
        let item = text(&form, &format!("item-{n}")).trim().to_string();
        mapping.insert(header.to_string(), item);
    }
    match state
        .engines
        .aggregation
        .set_mapping(&user.actor, &code, &mapping)
        .await
    {
        Ok(()) => Redirect::to(&format!(
            "/catalog/r/{}/load?mapped=1#mapping-head",
            super::urlencode(&code)
        ))
        .into_response(),
        Err(e) => user.fail(e),
    }
}

/// Every load the user may see, newest first: filtered by state and words, paged in the
/// store, exportable as filtered.
async fn loads_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = q.filter("status").and_then(LoadStatus::parse_term);
    let text = q.q.clone().unwrap_or_default();
    let agg = &state.engines.aggregation;
    if q.wants_csv() {
        let (_, rows) = tried!(
            user,
            agg.all_loads(&user.actor, status, &text, 0, EXPORT_LIMIT)
                .await
        );
        let lang = user.lang;
        let names = &state.names;
        let cols = [
            column(t(lang, "load_report"), |l: &LoadRecord| l.id.clone()),
            column(t(lang, "resource"), |l: &LoadRecord| {
                names.resource(&l.resource_code).unwrap_or_default()
            }),
            column(t(lang, "code"), |l: &LoadRecord| l.resource_code.clone()),
            column(t(lang, "state"), |l: &LoadRecord| {
                lang.pick(l.status.zh(), l.status.en()).to_string()
            }),
            column(t(lang, "source"), |l: &LoadRecord| l.source_name.clone()),
            column(t(lang, "rows_accepted"), |l: &LoadRecord| {
                l.rows_accepted.to_string()
            }),
            column(t(lang, "rows_rejected"), |l: &LoadRecord| {
                l.rows_rejected.to_string()
            }),
            column(t(lang, "time"), |l: &LoadRecord| at(&l.started_at)),
            column(t(lang, "message"), |l: &LoadRecord| {
                lang.pick(l.error_zh.clone(), l.error_en.clone())
                    .unwrap_or_default()
            }),
        ];
        return csv_download("loads", &cols, &rows);
    }
    let (offset, limit) = q.window();
    let (total, rows) = tried!(
        user,
        agg.all_loads(&user.actor, status, &text, offset, limit)
            .await
    );
    let listing = q.listing(total as usize, rows.len(), "/loads");
    let rows: Vec<LoadView> = rows.into_iter().map(LoadView::from).collect();
    page(
        &state,
        &user,
        "loads.html",
        context! {
            loads => ser(&rows),
            l => ser(&listing),
            states => super::options::<LoadStatus>(user.lang),
        },
    )
}

/// At most this many loads go into one export.
const EXPORT_LIMIT: i64 = 100_000;

async fn load_report(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    match state
        .engines
        .aggregation
        .load_record(&user.actor, &id)
        .await
    {
        Ok(l) => {
            let has_rejects = state.engines.aggregation.rejects_path(&l.id).exists();
            let running = !l.status.is_finished();
            let percent = if l.source_bytes > 0 {
                (l.bytes_read * 100 / l.source_bytes).clamp(0, 100)
            } else {
                0
            };
            page(
                &state,
                &user,
                "loadreport.html",
                context! {
                    l => ser(LoadView::from(l)),
                    running => running,
                    percent => percent,
                    has_rejects => has_rejects,
                },
            )
        }
        Err(e) => user.fail(e),
    }
}

async fn load_rejects(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    let id = id.trim_end_matches(".csv").to_string();
    match rejects_response(&state, &user.actor, &id).await {
        Ok(r) => r,
        Err(e) => user.api_failure(&e),
    }
}

async fn sql_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    sql_render(&state, &user, "", None, None).await
}

async fn sql_render(
    state: &AppState,
    user: &ConsoleUser,
    sql: &str,
    result: Option<RowsView>,
    error: Option<String>,
) -> Response {
    let tables = match state.engines.aggregation.tables(&user.actor).await {
        Ok(t) => t,
        Err(e) => return user.fail(e),
    };
    page(
        state,
        user,
        "sql.html",
        context! {
            sql => sql,
            tables => ser(tables),
            result => ser(result),
            error => error,
        },
    )
}

async fn sql_submit(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let sql = form
        .iter()
        .find(|(k, _)| k == "sql")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    match state.engines.aggregation.sql(&user.actor, &sql, 1000).await {
        Ok(r) => sql_render(&state, &user, &sql, Some(r.into()), None).await,
        Err(e) if e.code().starts_with("FORBIDDEN") => user.fail(e),
        Err(e) => {
            let msg = user.lang.pick(e.message_zh(), e.message_en());
            sql_render(&state, &user, &sql, None, Some(msg)).await
        }
    }
}
