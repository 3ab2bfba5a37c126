//! Input formats. Each source reads its header at [`open`] and then walks its records once
//! in [`Source::run`], handing them to a [`RecordSink`].

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};

use crate::IngestError;
use crate::encoding::{TextEncoding, detect_encoding};

/// One record's fields, however the source holds them.
pub trait Fields {
    fn len(&self) -> usize;
    /// The field's text; `None` for a missing or null value.
    fn get(&self, i: usize) -> Option<&str>;
    /// The fields as read, for the rejected-rows file.
    fn raw(&self) -> Vec<String>;
    /// A line with nothing on it is not a row.
    fn is_blank(&self) -> bool {
        (0..self.len()).all(|i| self.get(i).is_none_or(|v| v.trim().is_empty()))
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Receives the records of a source.
pub trait RecordSink {
    fn record(&mut self, line: u64, fields: &dyn Fields) -> Result<(), IngestError>;
    /// A record the source itself could not read (bad bytes, a broken Excel cell).
    fn bad_record(
        &mut self,
        line: u64,
        raw: Vec<String>,
        code: &'static str,
        zh: String,
        en: String,
    ) -> Result<(), IngestError>;
}

/// Fields held as owned strings (Excel, JSON, Parquet, database rows, pushed rows).
#[derive(Debug, Clone, Default)]
pub struct OwnedFields(pub Vec<Option<String>>);

impl Fields for OwnedFields {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, i: usize) -> Option<&str> {
        self.0.get(i).and_then(|v| v.as_deref())
    }
    fn raw(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Xlsx,
    Xls,
    Json,
    Ndjson,
    Parquet,
}

impl std::str::FromStr for FileFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" | "txt" | "tsv" => Ok(FileFormat::Csv),
            "xlsx" | "xlsm" => Ok(FileFormat::Xlsx),
            "xls" => Ok(FileFormat::Xls),
            "json" => Ok(FileFormat::Json),
            "ndjson" | "jsonl" => Ok(FileFormat::Ndjson),
            "parquet" => Ok(FileFormat::Parquet),
            other => Err(format!(
                "unknown format {other:?}: use csv, xlsx, xls, json, ndjson or parquet"
            )),
        }
    }
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
            FileFormat::Xls => "xls",
            FileFormat::Json => "json",
            FileFormat::Ndjson => "ndjson",
            FileFormat::Parquet => "parquet",
        }
    }

    /// From the file name's extension; `None` when it says nothing.
    pub fn from_name(name: &str) -> Option<FileFormat> {
        let ext = Path::new(name).extension()?.to_str()?;
        ext.parse().ok()
    }
}

/// How to read a file; everything has a sensible default.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    pub format: Option<FileFormat>,
    pub encoding: TextEncoding,
    /// CSV field delimiter; default `,` (tab for .tsv).
    pub delimiter: Option<u8>,
    pub quote: u8,
    /// Excel sheet name; default the first sheet.
    pub sheet: Option<String>,
    /// A record larger than this fails the load (an unclosed quote would otherwise swallow
    /// the rest of the file into memory).
    pub max_record_bytes: usize,
    /// Bytes of the input consumed so far, for progress bars.
    pub progress: Arc<AtomicU64>,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            format: None,
            encoding: TextEncoding::Auto,
            delimiter: None,
            quote: b'"',
            sheet: None,
            max_record_bytes: 16 * 1024 * 1024,
            progress: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// What a source found out about its input.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSummary {
    pub format: FileFormat,
    /// Resolved text encoding (CSV, JSON), if any.
    pub encoding: Option<&'static str>,
    pub bytes: u64,
    /// SM3 digest of the input bytes, hex.
    pub sm3: String,
}

/// SM3 of a byte string, hex.
pub fn sm3_hex(bytes: &[u8]) -> String {
    hex::encode(Sm3::digest(bytes))
}

/// An incremental SM3 digest.
#[derive(Default, Clone)]
pub struct Sm3Stream(Sm3);

impl Sm3Stream {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// Counts and hashes the bytes read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sm3,
    bytes: u64,
    progress: Arc<AtomicU64>,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, progress: Arc<AtomicU64>) -> Self {
        HashingReader {
            inner,
            hasher: Sm3::new(),
            bytes: 0,
            progress,
        }
    }
    pub fn finish(self) -> (u64, String) {
        (self.bytes, hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.progress.store(self.bytes, Ordering::Relaxed);
        Ok(n)
    }
}

/// SM3 and size of a whole file (for formats read by random access).
fn digest_file(path: &Path, progress: &Arc<AtomicU64>) -> Result<(u64, String), IngestError> {
    let mut r = HashingReader::new(File::open(path)?, Arc::new(AtomicU64::new(0)));
    std::io::copy(&mut r, &mut std::io::sink())?;
    let out = r.finish();
    progress.store(0, Ordering::Relaxed);
    Ok(out)
}

/// An opened input: its header is known, its records not yet read.
pub trait Source: Send {
    fn headers(&self) -> &[String];
    fn format(&self) -> FileFormat;
    fn run(self: Box<Self>, sink: &mut dyn RecordSink) -> Result<SourceSummary, IngestError>;
}

fn empty_file() -> IngestError {
    IngestError::input(
        "EMPTY_FILE",
        "文件为空：没有表头",
        "the file is empty: there is no header",
    )
}

/// Opens a file in the given (or detected) format and reads its header.
pub fn read_file(path: &Path, opts: &SourceOptions) -> Result<Box<dyn Source>, IngestError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let format = match opts.format.or_else(|| FileFormat::from_name(name)) {
        Some(f) => f,
        None => sniff_format(path)?,
    };
    match format {
        FileFormat::Csv => {
            let mut o = opts.clone();
            if o.delimiter.is_none() && name.to_ascii_lowercase().ends_with(".tsv") {
                o.delimiter = Some(b'\t');
            }
            Ok(Box::new(CsvSource::open(path, &o)?))
        }
        FileFormat::Xlsx | FileFormat::Xls => Ok(Box::new(ExcelSource::open(path, format, opts)?)),
        FileFormat::Json | FileFormat::Ndjson => {
            Ok(Box::new(JsonSource::open(path, format, opts)?))
        }
        FileFormat::Parquet => Ok(Box::new(ParquetSource::open(path, opts)?)),
    }
}

/// Looks at the first bytes when the name does not say the format.
fn sniff_format(path: &Path) -> Result<FileFormat, IngestError> {
    let mut head = [0u8; 8];
    let n = File::open(path)?.read(&mut head)?;
    let head = &head[..n];
    Ok(if head.starts_with(b"PAR1") {
        FileFormat::Parquet
    } else if head.starts_with(b"PK\x03\x04") {
        FileFormat::Xlsx
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        FileFormat::Xls
    } else {
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => FileFormat::Json,
            Some(b'{') => FileFormat::Ndjson,
            _ => FileFormat::Csv,
        }
    })
}

// ---------------------------------------------------------------- CSV

struct CsvSource {
    path: std::path::PathBuf,
    opts: SourceOptions,
    encoding: TextEncoding,
    headers: Vec<String>,
}

/// A CSV record in the output buffer of csv-core: fields end at `ends`.
struct CsvFields<'a> {
    text: &'a str,
    ends: &'a [usize],
}

impl Fields for CsvFields<'_> {
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end).filter(|s| !s.is_empty())
    }
    fn raw(&self) -> Vec<String> {
        (0..self.len())
            .map(|i| self.get(i).unwrap_or_default().to_string())
            .collect()
    }
}

type BoxedRead = Box<dyn Read + Send>;

/// A CSV record's fields, or its raw text when its bytes are not valid in the encoding.
type CsvRecord<'a> = Result<&'a dyn Fields, Vec<String>>;

impl CsvSource {
    fn open(path: &Path, opts: &SourceOptions) -> Result<CsvSource, IngestError> {
        let encoding = match opts.encoding {
            TextEncoding::Auto => {
                let mut sample = vec![0u8; 256 * 1024];
                let mut f = File::open(path)?;
                let mut n = 0;
                while n < sample.len() {
                    let k = f.read(&mut sample[n..])?;
                    if k == 0 {
                        break;
                    }
                    n += k;
                }
                let complete = n < sample.len();
                detect_encoding(&sample[..n], complete)
            }
            other => other,
        };
        let mut src = CsvSource {
            path: path.to_path_buf(),
            opts: opts.clone(),
            encoding,
            headers: Vec::new(),
        };
        // Read the header with a throwaway pass over the first record.
        let mut headers = None;
        src.walk(Arc::new(AtomicU64::new(0)), &mut |_, f| {
            headers = Some(match f {
                Ok(f) => f.raw(),
                Err(raw) => raw,
            });
            Ok(false)
        })?;
        let mut headers = headers.ok_or_else(empty_file)?;
        if let Some(first) = headers.first_mut() {
            *first = first.trim_start_matches('\u{feff}').to_string();
        }
        if headers.iter().all(|h| h.trim().is_empty()) {
            return Err(empty_file());
        }
        src.headers = headers;
        Ok(src)
    }

    fn reader(&self, progress: Arc<AtomicU64>) -> Result<(BoxedRead, HashingHandle), IngestError> {
        let hashing = HashingReader::new(File::open(&self.path)?, progress);
        let handle = HashingHandle::default();
        let tracked = Tracked {
            inner: hashing,
            out: handle.clone(),
        };
        let r: BoxedRead = match self.encoding {
            TextEncoding::Utf8 | TextEncoding::Auto => Box::new(tracked),
            TextEncoding::Gbk | TextEncoding::Gb18030 => Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(encoding_rs::GB18030))
                    .build(tracked),
            ),
        };
        Ok((r, handle))
    }

    /// Walks the records; `each` gets a record's fields, or its raw text when its bytes are
    /// not valid in the file's encoding, and returns false to stop early.
    fn walk(
        &self,
        progress: Arc<AtomicU64>,
        each: &mut dyn FnMut(u64, CsvRecord<'_>) -> Result<bool, IngestError>,
    ) -> Result<HashingHandle, IngestError> {
        let (r, handle) = self.reader(progress)?;
        let mut input = BufReader::with_capacity(1 << 20, r);
        let mut rdr = csv_core::ReaderBuilder::new()
            .delimiter(self.opts.delimiter.unwrap_or(b','))
            .quote(self.opts.quote)
            .build();
        let mut out = vec![0u8; 64 * 1024];
        let mut ends = vec![0usize; 64];
        let (mut outlen, mut nends) = (0usize, 0usize);
        let mut start_line = 1u64;
        let mut first = true;
        loop {
            let buf = input.fill_buf()?;
            let (res, nin, nout, nend) =
                rdr.read_record(buf, &mut out[outlen..], &mut ends[nends..]);
            input.consume(nin);
            outlen += nout;
            nends += nend;
            use csv_core::ReadRecordResult::*;
            match res {
                InputEmpty => continue,
                OutputFull => {
                    if out.len() >= self.opts.max_record_bytes {
                        return Err(IngestError::input(
                            "RECORD_TOO_LARGE",
                            format!(
                                "第 {start_line} 行开始的记录超过 {} MB，可能有未闭合的引号",
                                self.opts.max_record_bytes >> 20
                            ),
                            format!(
                                "the record starting at line {start_line} is larger than {} MB; is a quote left open?",
                                self.opts.max_record_bytes >> 20
                            ),
                        ));
                    }
                    let n = out.len() * 2;
                    out.resize(n, 0);
                }
                OutputEndsFull => {
                    if ends.len() >= 100_000 {
                        return Err(IngestError::input(
                            "TOO_MANY_FIELDS",
                            format!("第 {start_line} 行的字段超过 100000 个，请检查分隔符"),
                            format!(
                                "line {start_line} has more than 100,000 fields; check the delimiter"
                            ),
                        ));
                    }
                    let n = ends.len() * 2;
                    ends.resize(n, 0);
                }
                Record => {
                    // Strip a UTF-8 BOM left in front of the very first field.
                    let skip = if first && out[..outlen].starts_with(&[0xEF, 0xBB, 0xBF]) {
                        3
                    } else {
                        0
                    };
                    first = false;
                    let fields_ends: Vec<usize>;
                    let ends_ref: &[usize] = if skip > 0 {
                        fields_ends = ends[..nends]
                            .iter()
                            .map(|e| e.saturating_sub(skip))
                            .collect();
                        &fields_ends
                    } else {
                        &ends[..nends]
                    };
                    let bytes = &out[skip..outlen];
                    let keep_going = match std::str::from_utf8(bytes) {
                        Ok(text) if !text.contains('\u{FFFD}') => each(
                            start_line,
                            Ok(&CsvFields {
                                text,
                                ends: ends_ref,
                            }),
                        )?,
                        _ => {
                            let lossy = String::from_utf8_lossy(bytes).into_owned();
                            let raw = CsvFields {
                                text: &lossy,
                                ends: ends_ref,
                            }
                            .raw();
                            each(start_line, Err(raw))?
                        }
                    };
                    outlen = 0;
                    nends = 0;
                    start_line = rdr.line();
                    if !keep_going {
                        return Ok(handle);
                    }
                }
                End => return Ok(handle),
            }
        }
    }
}

/// Lets the digest be read after the decoder that owns the reader is dropped.
#[derive(Clone, Default)]
struct HashingHandle(Arc<std::sync::Mutex<Option<(u64, String)>>>);

struct Tracked<R: Read> {
    inner: HashingReader<R>,
    out: HashingHandle,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let digest = hex::encode(self.inner.hasher.clone().finalize());
            if let Ok(mut g) = self.out.0.lock() {
                *g = Some((self.inner.bytes, digest));
            }
        }
        Ok(n)
    }
}

impl Source for CsvSource {
    fn headers(&self) -> &[String] {
        &self.headers
    }
    fn format(&self) -> FileFormat {
        FileFormat::Csv
    }
    fn run(self: Box<Self>, sink: &mut dyn RecordSink) -> Result<SourceSummary, IngestError> {
        let encoding = self.encoding;
        let mut header_seen = false;
        let handle = self.walk(self.opts.progress.clone(), &mut |line, fields| {
            if !header_seen {
                header_seen = true;
                return Ok(true);
            }
            match fields {
                Ok(fields) => sink.record(line, fields)?,
                Err(bad) => sink.bad_record(
                    line,
                    bad,
                    "ENCODING_INVALID",
                    format!(
                        "该行含有不符合 {} 编码的字节，请确认文件编码（可指定 --encoding gbk 或 utf-8）",
                        encoding.name()
                    ),
                    format!(
                        "the row has bytes that are not valid {}; check the file's encoding (--encoding gbk or utf-8)",
                        encoding.name()
                    ),
                )?,
            }
            Ok(true)
        })?;
        let (bytes, sm3) = handle
            .0
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or_default();
        Ok(SourceSummary {
            format: FileFormat::Csv,
            encoding: Some(match encoding {
                TextEncoding::Gbk => "gbk",
                TextEncoding::Gb18030 => "gb18030",
                _ => "utf-8",
            }),
            bytes,
            sm3,
        })
    }
}

// ---------------------------------------------------------------- Excel

struct ExcelSource {
    path: std::path::PathBuf,
    format: FileFormat,
    opts: SourceOptions,
    range: calamine::Range<calamine::Data>,
    header_row: usize,
    headers: Vec<String>,
}

fn excel_cell(cell: &calamine::Data) -> Result<Option<String>, String> {
    use calamine::Data;
    Ok(match cell {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) => Some(if f.fract() == 0.0 && f.abs() < 1e15 {
            format!("{}", *f as i64)
        } else {
            f.to_string()
        }),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(dt) => dt.as_datetime().map(|d| {
            if d.time() == chrono::NaiveTime::MIN {
                d.format("%Y-%m-%d").to_string()
            } else {
                d.format("%Y-%m-%d %H:%M:%S").to_string()
            }
        }),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => return Err(format!("{e}")),
    })
}

impl ExcelSource {
    fn open(path: &Path, format: FileFormat, opts: &SourceOptions) -> Result<Self, IngestError> {
        use calamine::Reader;
        let bad = |e: String| {
            IngestError::input(
                "EXCEL_INVALID",
                format!("无法读取 Excel 文件：{e}"),
                format!("cannot read the Excel file: {e}"),
            )
        };
        let mut wb = calamine::open_workbook_auto(path).map_err(|e| bad(e.to_string()))?;
        let range = match &opts.sheet {
            Some(name) => wb.worksheet_range(name).map_err(|e| bad(e.to_string()))?,
            None => wb
                .worksheet_range_at(0)
                .ok_or_else(|| bad("no worksheet".into()))?
                .map_err(|e| bad(e.to_string()))?,
        };
        let mut header_row = None;
        for (i, row) in range.rows().enumerate() {
            if row.iter().any(|c| !matches!(c, calamine::Data::Empty)) {
                header_row = Some(i);
                break;
            }
        }
        let header_row = header_row.ok_or_else(empty_file)?;
        let headers: Vec<String> = range
            .rows()
            .nth(header_row)
            .map(|r| {
                r.iter()
                    .map(|c| excel_cell(c).ok().flatten().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        // Trailing empty header cells are formatting, not columns.
        let width = headers
            .iter()
            .rposition(|h| !h.trim().is_empty())
            .map(|p| p + 1)
            .unwrap_or(0);
        Ok(ExcelSource {
            path: path.to_path_buf(),
            format,
            opts: opts.clone(),
            range,
            header_row,
            headers: headers[..width].to_vec(),
        })
    }
}

impl Source for ExcelSource {
    fn headers(&self) -> &[String] {
        &self.headers
    }
    fn format(&self) -> FileFormat {
        self.format
    }
    fn run(self: Box<Self>, sink: &mut dyn RecordSink) -> Result<SourceSummary, IngestError> {
        let (bytes, sm3) = digest_file(&self.path, &self.opts.progress)?;
        let width = self.headers.len();
        let first_row = self.range.start().map(|(r, _)| r as u64).unwrap_or(0);
        let total = self.range.height().max(1) as u64;
        for (i, row) in self.range.rows().enumerate().skip(self.header_row + 1) {
            let line = first_row + i as u64 + 1;
            let mut fields = Vec::with_capacity(width);
            let mut error = None;
            for (c, cell) in row.iter().enumerate() {
                match excel_cell(cell) {
                    Ok(v) => {
                        if c < width || v.is_some() {
                            fields.push(v)
                        }
                    }
                    Err(e) => {
                        error = Some(e);
                        fields.push(None);
                    }
                }
            }
            fields.resize(fields.len().max(width), None);
            self.opts
                .progress
                .store(bytes * (i as u64 + 1) / total, Ordering::Relaxed);
            let f = OwnedFields(fields);
            match error {
                Some(e) => sink.bad_record(
                    line,
                    f.raw(),
                    "EXCEL_CELL_ERROR",
                    format!("单元格含有错误值 {e}"),
                    format!("a cell holds the error value {e}"),
                )?,
                None => sink.record(line, &f)?,
            }
        }
        self.opts.progress.store(bytes, Ordering::Relaxed);
        Ok(SourceSummary {
            format: self.format,
            encoding: None,
            bytes,
            sm3,
        })
    }
}

// ---------------------------------------------------------------- JSON and NDJSON

struct JsonSource {
    path: std::path::PathBuf,
    format: FileFormat,
    opts: SourceOptions,
    headers: Vec<String>,
}

fn json_text(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn json_invalid(where_zh: String, where_en: String, e: impl std::fmt::Display) -> IngestError {
    IngestError::input(
        "JSON_INVALID",
        format!("JSON 格式错误（{where_zh}）：{e}"),
        format!("malformed JSON ({where_en}): {e}"),
    )
}

/// Skips whitespace and returns the next byte without consuming it.
fn peek_non_ws<R: BufRead>(r: &mut R) -> std::io::Result<Option<u8>> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(p) => {
                let b = buf[p];
                r.consume(p);
                return Ok(Some(b));
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

impl JsonSource {
    fn open(path: &Path, format: FileFormat, opts: &SourceOptions) -> Result<Self, IngestError> {
        let mut src = JsonSource {
            path: path.to_path_buf(),
            format,
            opts: opts.clone(),
            headers: Vec::new(),
        };
        let mut headers = None;
        src.walk(Arc::new(AtomicU64::new(0)), &mut |_, obj| {
            headers = Some(obj.keys().cloned().collect());
            Ok(false)
        })?;
        src.headers = headers.ok_or_else(empty_file)?;
        Ok(src)
    }

    fn walk(
        &mut self,
        progress: Arc<AtomicU64>,
        each: &mut dyn FnMut(u64, JsonObject) -> Result<bool, IngestError>,
    ) -> Result<(u64, String), IngestError> {
        let hashing = Tracked {
            inner: HashingReader::new(File::open(&self.path)?, progress),
            out: HashingHandle::default(),
        };
        let handle = hashing.out.clone();
        let mut r = BufReader::with_capacity(1 << 20, hashing);
        // Skip a UTF-8 BOM.
        if r.fill_buf()?.starts_with(&[0xEF, 0xBB, 0xBF]) {
            r.consume(3);
        }
        let mut n = 0u64;
        match self.format {
            FileFormat::Ndjson => {
                let mut line = String::new();
                let mut line_no = 0u64;
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 {
                        break;
                    }
                    line_no += 1;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let obj: JsonObject = serde_json::from_str(&line).map_err(|e| {
                        json_invalid(format!("第 {line_no} 行"), format!("line {line_no}"), e)
                    })?;
                    if !each(line_no, obj)? {
                        return Ok((0, String::new()));
                    }
                }
            }
            _ => {
                if peek_non_ws(&mut r)? != Some(b'[') {
                    return Err(json_invalid(
                        "开头".into(),
                        "start".into(),
                        "expected an array of objects",
                    ));
                }
                r.consume(1);
                loop {
                    match peek_non_ws(&mut r)? {
                        Some(b']') => break,
                        Some(b',') if n > 0 => r.consume(1),
                        Some(_) if n == 0 => {}
                        other => {
                            return Err(json_invalid(
                                format!("第 {} 个元素之后", n),
                                format!("after element {n}"),
                                format!(
                                    "expected ',' or ']', found {:?}",
                                    other.map(|b| b as char)
                                ),
                            ));
                        }
                    }
                    if n > 0 && peek_non_ws(&mut r)? == Some(b']') {
                        return Err(json_invalid(
                            format!("第 {n} 个元素之后"),
                            format!("after element {n}"),
                            "trailing comma",
                        ));
                    }
                    n += 1;
                    let mut de = serde_json::Deserializer::from_reader(&mut r);
                    let obj: JsonObject =
                        serde::Deserialize::deserialize(&mut de).map_err(|e| {
                            json_invalid(format!("第 {n} 个元素"), format!("element {n}"), e)
                        })?;
                    if !each(n, obj)? {
                        return Ok((0, String::new()));
                    }
                }
            }
        }
        // Read to the end so the digest covers the whole file.
        std::io::copy(&mut r, &mut std::io::sink())?;
        let got = handle
            .0
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or_default();
        Ok(got)
    }
}

impl Source for JsonSource {
    fn headers(&self) -> &[String] {
        &self.headers
    }
    fn format(&self) -> FileFormat {
        self.format
    }
    fn run(mut self: Box<Self>, sink: &mut dyn RecordSink) -> Result<SourceSummary, IngestError> {
        let headers = self.headers.clone();
        let progress = self.opts.progress.clone();
        let (bytes, sm3) = self.walk(progress, &mut |line, mut obj| {
            let mut fields: Vec<Option<String>> = headers
                .iter()
                .map(|h| obj.remove(h).as_ref().and_then(json_text))
                .collect();
            if !obj.is_empty() {
                let extra: Vec<String> = obj.keys().cloned().collect();
                fields.extend(obj.values().map(json_text));
                return sink
                    .bad_record(
                        line,
                        OwnedFields(fields).raw(),
                        "UNKNOWN_KEYS",
                        format!("该记录含有第一条记录没有的键：{}", extra.join("、")),
                        format!(
                            "the record has keys the first record does not: {}",
                            extra.join(", ")
                        ),
                    )
                    .map(|_| true);
            }
            sink.record(line, &OwnedFields(fields)).map(|_| true)
        })?;
        Ok(SourceSummary {
            format: self.format,
            encoding: Some("utf-8"),
            bytes,
            sm3,
        })
    }
}

/// Rows pushed as JSON objects by a department system: the header is the union of keys.
pub fn read_json_rows(
    rows: &[JsonObject],
) -> (Vec<String>, impl Iterator<Item = (u64, OwnedFields)> + '_) {
    let mut headers: Vec<String> = Vec::new();
    for r in rows {
        for k in r.keys() {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
    }
    let h = headers.clone();
    let iter = rows.iter().enumerate().map(move |(i, r)| {
        (
            i as u64 + 1,
            OwnedFields(h.iter().map(|k| r.get(k).and_then(json_text)).collect()),
        )
    });
    (headers, iter)
}

// ---------------------------------------------------------------- Parquet

struct ParquetSource {
    path: std::path::PathBuf,
    opts: SourceOptions,
    headers: Vec<String>,
}

fn parquet_invalid(e: impl std::fmt::Display) -> IngestError {
    IngestError::input(
        "PARQUET_INVALID",
        format!("无法读取 Parquet 文件：{e}"),
        format!("cannot read the Parquet file: {e}"),
    )
}

impl ParquetSource {
    fn open(path: &Path, opts: &SourceOptions) -> Result<Self, IngestError> {
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            File::open(path)?,
        )
        .map_err(parquet_invalid)?;
        let headers = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        Ok(ParquetSource {
            path: path.to_path_buf(),
            opts: opts.clone(),
            headers,
        })
    }
}

impl Source for ParquetSource {
    fn headers(&self) -> &[String] {
        &self.headers
    }
    fn format(&self) -> FileFormat {
        FileFormat::Parquet
    }
    fn run(self: Box<Self>, sink: &mut dyn RecordSink) -> Result<SourceSummary, IngestError> {
        use arrow::array::{Array, AsArray};
        let (bytes, sm3) = digest_file(&self.path, &self.opts.progress)?;
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            File::open(&self.path)?,
        )
        .map_err(parquet_invalid)?;
        let total = builder.metadata().file_metadata().num_rows().max(1) as u64;
        let reader = builder
            .with_batch_size(8192)
            .build()
            .map_err(parquet_invalid)?;
        let mut line = 0u64;
        for batch in reader {
            let batch = batch.map_err(parquet_invalid)?;
            let cols: Vec<arrow::array::ArrayRef> = batch
                .columns()
                .iter()
                .map(|c| {
                    let opts = arrow::compute::CastOptions {
                        safe: true,
                        format_options: arrow::util::display::FormatOptions::default(),
                    };
                    arrow::compute::cast_with_options(c, &arrow::datatypes::DataType::Utf8, &opts)
                })
                .collect::<Result<_, _>>()
                .map_err(parquet_invalid)?;
            let strings: Vec<&arrow::array::StringArray> =
                cols.iter().map(|c| c.as_string::<i32>()).collect();
            for row in 0..batch.num_rows() {
                line += 1;
                let fields = OwnedFields(
                    strings
                        .iter()
                        .map(|s| (!s.is_null(row)).then(|| s.value(row).to_string()))
                        .collect(),
                );
                sink.record(line, &fields)?;
            }
            self.opts
                .progress
                .store(bytes * line.min(total) / total, Ordering::Relaxed);
        }
        Ok(SourceSummary {
            format: FileFormat::Parquet,
            encoding: None,
            bytes,
            sm3,
        })
    }
}
