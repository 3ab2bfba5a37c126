//! Command line of record linkage: `shuniu link files`. It works on files alone, without a
//! data directory, so a department can link two of its own exports before anything is loaded.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use shuniu_ingest::{Fields, IngestError, RecordSink, SourceOptions, TextEncoding, read_file};
use shuniu_linkage::{Linker, Records, ScoredPair, Settings, clusters};
use shuniu_types::DivisionCode;

#[derive(Subcommand)]
pub enum LinkCommand {
    /// Link two files (or deduplicate one) and write the pairs that match.
    Files(FilesArgs),
}

#[derive(Args)]
pub struct FilesArgs {
    /// The first file (CSV in UTF-8 or GBK, Excel, JSON, NDJSON or Parquet).
    left: PathBuf,
    /// The second file; without it, the first is deduplicated.
    right: Option<PathBuf>,
    /// The column that identifies a record in each file.
    #[arg(long)]
    id: String,
    /// Where to write `left_id,right_id,match_probability`.
    #[arg(long)]
    out: PathBuf,
    /// Comparisons and blocking rules as JSON (docs/linkage.md); chosen from the columns when
    /// not given.
    #[arg(long)]
    settings: Option<PathBuf>,
    /// Pairs at or above this match probability are written.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// auto, utf-8, gbk or gb18030 (CSV).
    #[arg(long, default_value = "auto")]
    encoding: TextEncoding,
    /// Each record of one file matches at most one of the other (keep each record's best pair).
    #[arg(long)]
    one_to_one: bool,
    /// Add an `explanation` column: each comparison's level and weight in bits.
    #[arg(long)]
    explain: bool,
    /// Also write `source,id,cluster` for every record: records joined by written pairs.
    #[arg(long)]
    clusters: Option<PathBuf>,
    /// Also write the settings used and the trained model (m, u, prior) as JSON.
    #[arg(long)]
    model_out: Option<PathBuf>,
    /// GB/T 2260 code of the city that addresses without a city are in.
    #[arg(long, default_value = "370200")]
    home_city: String,
}

/// Collects a file's records as text.
struct Collect {
    id: usize,
    columns: Vec<usize>,
    records: Records,
    skipped: u64,
}

impl RecordSink for Collect {
    fn record(&mut self, _line: u64, fields: &dyn Fields) -> Result<(), IngestError> {
        let Some(id) = fields.get(self.id).map(str::trim).filter(|s| !s.is_empty()) else {
            self.skipped += 1;
            return Ok(());
        };
        let values: Vec<Option<&str>> = self.columns.iter().map(|c| fields.get(*c)).collect();
        self.records
            .push(id, &values)
            .map_err(|e| IngestError::input("LINK_RECORD", e.message_zh(), e.to_string()))
    }
    fn bad_record(
        &mut self,
        _line: u64,
        _raw: Vec<String>,
        _code: &'static str,
        _zh: String,
        _en: String,
    ) -> Result<(), IngestError> {
        self.skipped += 1;
        Ok(())
    }
}

fn read_records(path: &Path, id: &str, encoding: TextEncoding) -> Result<Records> {
    let opts = SourceOptions {
        encoding,
        ..Default::default()
    };
    let source = read_file(path, &opts)
        .map_err(|e| anyhow::anyhow!("{} / {}", e.message_zh(), e))
        .with_context(|| format!("reading {}", path.display()))?;
    let headers: Vec<String> = source
        .headers()
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let Some(id_index) = headers.iter().position(|h| h == id) else {
        bail!(
            "{} 中没有标识列 {id:?} / {} has no identifier column {id:?} (columns: {})",
            path.display(),
            path.display(),
            headers.join(", ")
        );
    };
    let columns: Vec<usize> = (0..headers.len()).filter(|i| *i != id_index).collect();
    let mut sink = Collect {
        id: id_index,
        records: Records::new(columns.iter().map(|i| headers[*i].clone()).collect()),
        columns,
        skipped: 0,
    };
    source
        .run(&mut sink)
        .map_err(|e| anyhow::anyhow!("{} / {}", e.message_zh(), e))
        .with_context(|| format!("reading {}", path.display()))?;
    if sink.skipped > 0 {
        eprintln!(
            "{}：{} 条记录没有标识或无法读取，已跳过 / {} records without an identifier or unreadable, skipped",
            path.display(),
            sink.skipped,
            sink.skipped
        );
    }
    Ok(sink.records)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn run(cmd: LinkCommand) -> Result<()> {
    match cmd {
        LinkCommand::Files(args) => files(args),
    }
}

fn files(args: FilesArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&args.threshold) {
        bail!("--threshold 应在 0 与 1 之间 / --threshold must be between 0 and 1");
    }
    let home: Option<DivisionCode> = Some(args.home_city.parse().map_err(
        |e: shuniu_types::FieldError| {
            anyhow::anyhow!("--home-city: {} / {}", e.message_zh, e.message_en)
        },
    )?);
    let started = Instant::now();
    let left = read_records(&args.left, &args.id, args.encoding)?;
    let right = match &args.right {
        Some(p) => Some(read_records(p, &args.id, args.encoding)?),
        None => None,
    };
    let settings = match &args.settings {
        Some(p) => Settings::from_json(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .map_err(|e| anyhow::anyhow!("{} / {}", e.message_zh(), e))?,
        None => Settings::choose(&left, right.as_ref())
            .map_err(|e| anyhow::anyhow!("{} / {}", e.message_zh(), e))?,
    };
    let err = |e: shuniu_linkage::LinkError| anyhow::anyhow!("{} / {}", e.message_zh(), e);
    let linker = Linker::new(settings, &left, right.as_ref(), home).map_err(err)?;
    let model = linker.train().map_err(err)?;
    let mut pairs: Vec<ScoredPair> = linker.predict(&model, args.threshold).map_err(err)?;
    if args.one_to_one {
        pairs = linker.one_to_one(pairs);
    }
    let right_records = right.as_ref().unwrap_or(&left);

    let tmp = args.out.with_extension("partial");
    {
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("writing {}", args.out.display()))?;
        let mut w = std::io::BufWriter::new(file);
        if args.explain {
            writeln!(
                w,
                "left_id,right_id,match_probability,match_weight,explanation"
            )?;
        } else {
            writeln!(w, "left_id,right_id,match_probability")?;
        }
        for p in &pairs {
            let (l, r) = (p.left as usize, p.right as usize);
            write!(
                w,
                "{},{},{:.6}",
                csv_field(left.id(l)),
                csv_field(right_records.id(r)),
                p.match_probability
            )?;
            if args.explain {
                let (prior, parts) = linker.explain(&model, l, r);
                let text: Vec<String> = std::iter::once(format!("prior={prior:+.2}"))
                    .chain(
                        parts
                            .iter()
                            .map(|c| format!("{}={}({:+.2})", c.column, c.level, c.weight)),
                    )
                    .collect();
                write!(w, ",{:.3},{}", p.match_weight, csv_field(&text.join("; ")))?;
            }
            writeln!(w)?;
        }
        w.flush()?;
    }
    // Written whole or not at all: the pairs file appears only when complete.
    std::fs::rename(&tmp, &args.out)?;

    if let Some(path) = &args.clusters {
        let n_left = left.len();
        let total = n_left + right.as_ref().map_or(0, Records::len);
        let offset = if right.is_some() { n_left as u32 } else { 0 };
        let c = clusters(total, pairs.iter().map(|p| (p.left, p.right + offset)));
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?,
        );
        writeln!(w, "source,id,cluster")?;
        let name = |i: usize| -> (&str, &str) {
            if i < n_left {
                ("left", left.id(i))
            } else {
                ("right", right_records.id(i - n_left))
            }
        };
        for (i, cl) in c.iter().enumerate() {
            let (src, id) = name(i);
            let (_, cid) = name(*cl as usize);
            writeln!(w, "{src},{},{}", csv_field(id), csv_field(cid))?;
        }
        w.flush()?;
    }
    if let Some(path) = &args.model_out {
        let doc = serde_json::json!({ "settings": linker.settings(), "model": model });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "{} 条 × {} 条记录，比较 {} 对，写出 {} 对（阈值 {}），用时 {:.2} 秒 / {} × {} records, {} pairs compared, {} written (threshold {}), {:.2} s",
        left.len(),
        right_records.len(),
        model.pairs,
        pairs.len(),
        args.threshold,
        started.elapsed().as_secs_f64(),
        left.len(),
        right_records.len(),
        model.pairs,
        pairs.len(),
        args.threshold,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}
