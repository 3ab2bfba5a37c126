//! The sources and the assembler together, on real files of every format.

use std::collections::BTreeMap;
use std::io::Write;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Date32Type, Decimal128Type};
use arrow::record_batch::RecordBatch;
use shuniu_types::{DataItem, DataType, MaskingRule, SemanticType};

use crate::source::{FileFormat, SourceOptions, read_file};
use crate::{Assembler, BatchSink, ColumnPlan, IngestError, Rejection, TextEncoding};

#[derive(Default)]
struct Collect {
    batches: Vec<RecordBatch>,
    rejected: Vec<Rejection>,
}

impl BatchSink for Collect {
    fn batch(&mut self, b: RecordBatch) -> Result<(), IngestError> {
        self.batches.push(b);
        Ok(())
    }
    fn rejected(&mut self, r: Rejection) -> Result<(), IngestError> {
        self.rejected.push(r);
        Ok(())
    }
}

fn item(name: &str, label: &str, t: DataType, key: bool, length: Option<u32>) -> DataItem {
    DataItem {
        name: name.into(),
        label: label.into(),
        data_type: t,
        length,
        description: String::new(),
        is_key: key,
        required: key,
        personal: false,
        sensitive: false,
        masking: MaskingRule::None,
        semantic_type: SemanticType::None,
    }
}

fn items() -> Vec<DataItem> {
    vec![
        item("id_number", "公民身份号码", DataType::Text, true, Some(18)),
        item("name", "姓名", DataType::Text, false, Some(10)),
        item("birth_date", "出生日期", DataType::Date, false, None),
        item("amount", "金额", DataType::Currency, false, None),
    ]
}

fn load(path: &std::path::Path, opts: &SourceOptions) -> Result<Collect, IngestError> {
    let src = read_file(path, opts)?;
    let plan = ColumnPlan::resolve(&items(), src.headers(), &BTreeMap::new(), false)?;
    let mut asm = Assembler::new(plan, Collect::default());
    let summary = src.run(&mut asm)?;
    assert_eq!(summary.sm3.len(), 64);
    assert_eq!(summary.bytes, std::fs::metadata(path)?.len());
    assert_eq!(asm.rows_read, asm.rows_accepted + asm.rows_rejected);
    asm.finish()
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

const CSV: &str = "公民身份号码,姓名,出生日期,金额\n\
110101199003070000,张三,1990-03-07,\"1,200.50\"\n\
110101199003070001,李四,1990/3/8,15\n\
,王五,1990-03-09,1\n\
110101199003070003,赵六,2023-02-29,1\n\
110101199003070004,钱七\n\
110101199003070005,\"孙\n八\",1990-03-10,2\n";

fn rows(c: &Collect) -> usize {
    c.batches.iter().map(|b| b.num_rows()).sum()
}

#[test]
fn csv_utf8_bom_and_gbk_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(CSV.as_bytes());
    let (gbk, _, _) = encoding_rs::GBK.encode(CSV);
    for (name, bytes, enc) in [
        ("plain.csv", CSV.as_bytes().to_vec(), TextEncoding::Auto),
        ("bom.csv", bom, TextEncoding::Auto),
        ("gbk.csv", gbk.to_vec(), TextEncoding::Auto),
        ("gbk-declared.csv", gbk.to_vec(), TextEncoding::Gbk),
    ] {
        let p = write(&dir, name, &bytes);
        let opts = SourceOptions {
            encoding: enc,
            ..Default::default()
        };
        let got = load(&p, &opts).unwrap();
        assert_eq!(rows(&got), 3, "{name}");
        let codes: Vec<(u64, &str)> = got.rejected.iter().map(|r| (r.line, r.code)).collect();
        assert_eq!(
            codes,
            vec![
                (4, "REQUIRED_MISSING"),
                (5, "IMPOSSIBLE_DATE"),
                (6, "RAGGED_ROW")
            ],
            "{name}"
        );
        let b = &got.batches[0];
        assert_eq!(b.column(1).as_string::<i32>().value(0), "张三");
        assert_eq!(b.column(1).as_string::<i32>().value(2), "孙\n八");
        assert_eq!(
            b.column(3).as_primitive::<Decimal128Type>().value(0),
            120_050
        );
        assert_eq!(
            b.column(2).as_primitive::<Date32Type>().value(1),
            7371 // 1990-03-08
        );
    }
}

#[test]
fn utf8_declared_on_a_gbk_file_rejects_rows_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let (gbk, _, _) = encoding_rs::GBK.encode(CSV);
    let p = write(&dir, "gbk.csv", &gbk);
    let opts = SourceOptions {
        encoding: TextEncoding::Utf8,
        ..Default::default()
    };
    // The header itself is not valid UTF-8, so no column matches.
    let err = load(&p, &opts).err().expect("fails");
    assert_eq!(err.code(), "UNKNOWN_COLUMNS");
}

#[test]
fn unterminated_quote_and_huge_records_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut s =
        String::from("公民身份号码,姓名,出生日期,金额\n110101199003070000,\"张三,1990-03-07,1\n");
    for _ in 0..2000 {
        s.push_str("110101199003070000,李四,1990-03-07,1\n");
    }
    let p = write(&dir, "open-quote.csv", s.as_bytes());
    let opts = SourceOptions {
        max_record_bytes: 32 * 1024,
        ..Default::default()
    };
    let err = load(&p, &opts).err().expect("fails");
    assert_eq!(err.code(), "RECORD_TOO_LARGE");
    assert!(err.message_zh().contains("第 2 行"));
    // Under the limit the swallowed record is one ragged row, reported at its first line.
    let got = load(&p, &SourceOptions::default()).unwrap();
    assert_eq!(rows(&got), 0);
    assert_eq!(got.rejected.len(), 1);
    assert_eq!(got.rejected[0].line, 2);
    assert_eq!(got.rejected[0].code, "RAGGED_ROW");
}

#[test]
fn empty_files_and_semicolons() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "empty.csv", b"");
    assert_eq!(
        load(&p, &SourceOptions::default()).err().unwrap().code(),
        "EMPTY_FILE"
    );
    let p = write(&dir, "blank.csv", b"\n\n");
    assert_eq!(
        load(&p, &SourceOptions::default()).err().unwrap().code(),
        "EMPTY_FILE"
    );
    let p = write(
        &dir,
        "semi.txt",
        "id_number;name\n'110101199003070000';'A;B'\n".as_bytes(),
    );
    let opts = SourceOptions {
        delimiter: Some(b';'),
        quote: b'\'',
        ..Default::default()
    };
    let got = load(&p, &opts).unwrap();
    assert_eq!(got.batches[0].column(1).as_string::<i32>().value(0), "A;B");
}

#[test]
fn too_long_values_are_rejected_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "long.csv",
        "id_number,name\n110101199003070000,一二三四五六七八九十十一\n".as_bytes(),
    );
    let got = load(&p, &SourceOptions::default()).unwrap();
    assert_eq!(got.rejected[0].code, "TOO_LONG");
    assert_eq!(got.rejected[0].column.as_deref(), Some("name"));
}

#[test]
fn excel_json_ndjson_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    // Excel, with a real date cell and a number cell.
    let xlsx = dir.path().join("people.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let date_fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in ["公民身份号码", "姓名", "出生日期", "金额"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "110101199003070000").unwrap();
    ws.write_string(1, 1, "张三").unwrap();
    let d = rust_xlsxwriter::ExcelDateTime::from_ymd(1990, 3, 7).unwrap();
    ws.write_datetime_with_format(1, 2, &d, &date_fmt).unwrap();
    ws.write_number(1, 3, 12.5).unwrap();
    ws.write_string(2, 0, "110101199003070001").unwrap();
    ws.write_string(2, 2, "not a date").unwrap();
    wb.save(&xlsx).unwrap();
    let got = load(&xlsx, &SourceOptions::default()).unwrap();
    assert_eq!(rows(&got), 1);
    assert_eq!(got.rejected[0].line, 3);
    assert_eq!(got.rejected[0].code, "NOT_A_DATE");
    assert_eq!(
        got.batches[0]
            .column(2)
            .as_primitive::<Date32Type>()
            .value(0),
        7370
    );

    let json = write(
        &dir,
        "rows.json",
        r#" [ {"id_number": "110101199003070000", "name": "张三", "amount": 12.5},
             {"id_number": "110101199003070001", "name": null, "amount": "x"} ] "#
            .as_bytes(),
    );
    let got = load(&json, &SourceOptions::default()).unwrap();
    assert_eq!(rows(&got), 1);
    assert_eq!(got.rejected[0].line, 2);
    let bad = write(&dir, "bad.json", br#"[{"id_number": "1"},, {}]"#);
    assert_eq!(
        load(&bad, &SourceOptions::default()).err().unwrap().code(),
        "JSON_INVALID"
    );

    let nd = write(
        &dir,
        "rows.ndjson",
        "{\"id_number\":\"110101199003070000\",\"birth_date\":\"1990-03-07\"}\n\n{\"id_number\":\"1\",\"extra\":1}\n"
            .as_bytes(),
    );
    let got = load(&nd, &SourceOptions::default()).unwrap();
    assert_eq!(rows(&got), 1);
    assert_eq!(got.rejected[0].line, 3);
    assert_eq!(got.rejected[0].code, "UNKNOWN_KEYS");

    // Parquet written from the batches just read.
    let pq = dir.path().join("rows.parquet");
    let b = got.batches[0].clone();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&pq).unwrap(), b.schema(), None)
            .unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
    let got = load(
        &pq,
        &SourceOptions {
            format: Some(FileFormat::Parquet),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(rows(&got), 1);
    assert_eq!(
        got.batches[0]
            .column(2)
            .as_primitive::<Date32Type>()
            .value(0),
        7370
    );
    assert!(got.batches[0].column(3).is_null(0));
}
