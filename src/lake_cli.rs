//! Command line of the aggregation capability: `load`, `sql`, `loads`, `connector`.
//! The command line acts as the hub operator: whoever can read the data directory already
//! holds everything in it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use shuniu_aggregate::{Aggregation, ConnectorInput, LoadRequest};
use shuniu_ingest::{SourceOptions, TextEncoding};
use shuniu_lake::{SqlOutput, WriteMode};
use shuniu_store::LoadRecord;
use shuniu_types::Actor;

use crate::Common;

#[derive(Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub common: Common,
    /// Resource code of the catalog entry the data belongs to.
    #[arg(long)]
    resource: String,
    /// replace (full), append, upsert (by key) or delete (by key).
    #[arg(long, default_value = "replace")]
    mode: WriteMode,
    /// auto, utf-8, gbk or gb18030 (CSV).
    #[arg(long, default_value = "auto")]
    encoding: TextEncoding,
    /// csv, xlsx, xls, json, ndjson or parquet; default from the file name.
    #[arg(long)]
    format: Option<shuniu_ingest::FileFormat>,
    /// CSV delimiter, e.g. ';' or '\t'.
    #[arg(long)]
    delimiter: Option<String>,
    /// CSV quote character.
    #[arg(long, default_value = "\"")]
    quote: String,
    /// Excel sheet name (default: the first sheet).
    #[arg(long)]
    sheet: Option<String>,
    /// Map a file column to a data item, `--map 补贴金额=amount` (repeatable; `=` alone skips it).
    #[arg(long = "map")]
    mappings: Vec<String>,
    /// Skip file columns that match no data item.
    #[arg(long)]
    ignore_unknown_columns: bool,
    /// Fail the load when more than this share of rows is rejected.
    #[arg(long, default_value_t = 0.5)]
    max_rejects: f64,
    /// Print the load report as JSON.
    #[arg(long)]
    json: bool,
    file: PathBuf,
}

fn one_byte(s: &str, what: &str) -> Result<u8> {
    let s = match s {
        "\\t" | "tab" => "\t",
        other => other,
    };
    match s.as_bytes() {
        [b] => Ok(*b),
        _ => bail!("{what} must be one ASCII character, not {s:?}"),
    }
}

pub async fn load(agg: &Aggregation, args: LoadArgs) -> Result<()> {
    let mapping = if args.mappings.is_empty() {
        None
    } else {
        let mut m = BTreeMap::new();
        for pair in &args.mappings {
            let (k, v) = pair
                .split_once('=')
                .with_context(|| format!("--map takes HEADER=ITEM, not {pair:?}"))?;
            m.insert(k.to_string(), v.to_string());
        }
        Some(m)
    };
    let source = SourceOptions {
        format: args.format,
        encoding: args.encoding,
        delimiter: args
            .delimiter
            .as_deref()
            .map(|d| one_byte(d, "--delimiter"))
            .transpose()?,
        quote: one_byte(&args.quote, "--quote")?,
        sheet: args.sheet.clone(),
        ..Default::default()
    };
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?
        .len();
    let progress = source.progress.clone();
    let req = LoadRequest {
        mode: args.mode,
        source,
        source_name: args
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string(),
        ignore_unknown_columns: args.ignore_unknown_columns,
        mapping,
        max_reject_ratio: args.max_rejects,
    };
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(size);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} 汇聚 loading [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    };
    let ticker = {
        let bar = bar.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let actor = Actor::local_operator();
    let result = agg
        .load_file(&actor, &args.resource, &args.file, req, |_| {})
        .await;
    ticker.abort();
    bar.finish_and_clear();
    let record = match result {
        Ok(r) => r,
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"status": "failed", "error": {"code": e.code(), "message_zh": e.message_zh(), "message_en": e.message_en()}})
                );
            }
            bail!("{} / {}", e.message_zh(), e.message_en());
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        print_report(&record, agg);
    }
    if !record.status.committed() {
        bail!(
            "汇聚失败 / load failed: {}",
            record.error_en.clone().unwrap_or_default()
        );
    }
    Ok(())
}

fn print_report(r: &LoadRecord, agg: &Aggregation) {
    let ok = r.status.committed();
    println!(
        "{} {}  {}",
        if ok {
            "✔ 汇聚完成 load succeeded"
        } else {
            "✘ 汇聚失败 load failed"
        },
        r.id,
        r.resource_code
    );
    if let Some(v) = r.version {
        println!("  版本 version         {v}");
    }
    println!("  方式 mode            {}", r.mode);
    println!(
        "  来源 source          {} ({}, {} bytes, {})",
        r.source_name,
        r.source_format,
        r.source_bytes,
        r.source_encoding.as_deref().unwrap_or("-")
    );
    println!(
        "  SM3                  {}",
        r.source_sm3.as_deref().unwrap_or("-")
    );
    println!("  读取 rows read       {}", r.rows_read);
    println!("  接收 rows accepted   {}", r.rows_accepted);
    println!("  拒收 rows rejected   {}", r.rows_rejected);
    if r.mode == "upsert" || r.mode == "delete" {
        println!(
            "  新增/更新/删除 inserted/updated/deleted  {}/{}/{}",
            r.rows_inserted, r.rows_updated, r.rows_deleted
        );
    }
    println!(
        "  用时 duration        {:.2} s",
        r.duration_ms.unwrap_or(0) as f64 / 1000.0
    );
    if let Some(by) = r
        .report
        .get("rejections_by_code")
        .and_then(|v| v.as_object())
        && !by.is_empty()
    {
        println!("  拒收原因 rejections by reason:");
        for (code, n) in by {
            println!("    {code:<20} {n}");
        }
        let p = agg.rejects_path(&r.id);
        if p.exists() {
            println!("  不合格行 rejected rows: {}", p.display());
        }
    }
    if let (Some(zh), Some(en)) = (&r.error_zh, &r.error_en) {
        println!("  原因 {zh}\n  reason {en}");
    }
}

#[derive(Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub common: Common,
    /// csv, json or table.
    #[arg(long, default_value = "table")]
    format: SqlOutput,
    /// Stop after this many rows.
    #[arg(long, default_value_t = 100_000)]
    max_rows: usize,
    /// List the tables instead of running a query.
    #[arg(long)]
    tables: bool,
    query: Option<String>,
}

pub async fn sql(agg: &Aggregation, args: SqlArgs) -> Result<()> {
    let actor = Actor::local_operator();
    if args.tables {
        let tables = agg
            .tables(&actor)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message_en()))?;
        if args.format == SqlOutput::Json {
            println!("{}", serde_json::to_string_pretty(&tables)?);
        } else {
            for t in &tables {
                println!("{}\tv{}\t{}\t{}", t.code, t.version, t.provider, t.name);
            }
            eprintln!("{} 张表 / tables", tables.len());
        }
        return Ok(());
    }
    let Some(q) = args.query else {
        bail!("give a query, or --tables to list the tables");
    };
    let r = agg
        .sql(&actor, &q, args.max_rows)
        .await
        .map_err(|e| anyhow::anyhow!("{} / {}", e.message_zh(), e.message_en()))?;
    match args.format {
        SqlOutput::Csv => {
            use std::io::Write;
            std::io::stdout().write_all(&r.to_csv()?)?;
        }
        SqlOutput::Json => println!("{}", serde_json::to_string_pretty(&r.to_json()?)?),
        SqlOutput::Table => println!("{}", r.to_table()),
    }
    if r.truncated {
        eprintln!("（只显示前 {} 行 / first {} rows only）", r.rows, r.rows);
    }
    Ok(())
}

#[derive(Args)]
pub struct LoadsArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    resource: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

pub async fn loads(agg: &Aggregation, args: LoadsArgs) -> Result<()> {
    let actor = Actor::local_operator();
    let (total, items) = match &args.resource {
        Some(code) => agg.loads(&actor, code, 0, args.limit).await,
        None => agg.all_loads(&actor, None, "", 0, args.limit).await,
    }
    .map_err(|e| anyhow::anyhow!("{}", e.message_en()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(());
    }
    for l in &items {
        println!(
            "{}\t{}\t{}\t{}\tv{}\t{}/{}/{}\t{}",
            l.id,
            l.started_at,
            l.resource_code,
            l.status,
            l.version.map(|v| v.to_string()).unwrap_or("-".into()),
            l.rows_read,
            l.rows_accepted,
            l.rows_rejected,
            l.source_name
        );
    }
    eprintln!("{} / {total} 次汇聚 / loads", items.len());
    Ok(())
}

#[derive(Subcommand)]
pub enum ConnectorCommand {
    /// Pull a department database table into a resource on a schedule.
    Add {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        resource: String,
        /// postgres or mysql.
        #[arg(long)]
        kind: String,
        /// Connection URL; write secrets as ${ENV_VAR}.
        #[arg(long)]
        url: String,
        #[arg(long)]
        table: String,
        /// replace (full) or upsert (incremental by --updated-column).
        #[arg(long, default_value = "replace")]
        mode: String,
        #[arg(long)]
        updated_column: Option<String>,
        /// Cron, Beijing time: "0 2 * * *" is 02:00 daily.
        #[arg(long)]
        schedule: String,
    },
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Run a connector now.
    Run {
        #[command(flatten)]
        common: Common,
        id: String,
        #[arg(long)]
        json: bool,
    },
}

impl ConnectorCommand {
    pub fn common(&self) -> &Common {
        match self {
            ConnectorCommand::Add { common, .. }
            | ConnectorCommand::List { common }
            | ConnectorCommand::Run { common, .. } => common,
        }
    }
}

pub async fn connector(agg: &Aggregation, cmd: ConnectorCommand) -> Result<()> {
    let actor = Actor::local_operator();
    let err = |e: shuniu_aggregate::AggregateError| {
        anyhow::anyhow!("{} / {}", e.message_zh(), e.message_en())
    };
    match cmd {
        ConnectorCommand::Add {
            resource,
            kind,
            url,
            table,
            mode,
            updated_column,
            schedule,
            ..
        } => {
            let c = agg
                .add_connector(
                    &actor,
                    &resource,
                    &ConnectorInput {
                        kind,
                        url,
                        table,
                        mode,
                        updated_column,
                        schedule,
                    },
                )
                .await
                .map_err(err)?;
            println!("{}", serde_json::to_string_pretty(&c)?);
        }
        ConnectorCommand::List { .. } => {
            for c in agg.connectors(&actor).await.map_err(err)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\tnext {}",
                    c.id,
                    c.resource_code,
                    c.kind,
                    c.source_table,
                    c.mode,
                    c.schedule,
                    c.next_run_at.unwrap_or_default()
                );
            }
        }
        ConnectorCommand::Run { id, json, .. } => {
            let r = agg.run_connector(&actor, &id).await.map_err(err)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_report(&r, agg);
            }
            if !r.status.committed() {
                bail!("汇聚失败 / load failed");
            }
        }
    }
    Ok(())
}
