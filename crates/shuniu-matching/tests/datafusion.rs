//! Compiled rules run in DataFusion as they are: the eligible rows and amounts of a graded
//! policy over a small population equal what the policy says, person by person.

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use shuniu_matching::rules::{self, Attribute, TableRow, Type, Vocabulary};
use shuniu_matching::{DatedValue, ParamValue, Parameter};

#[tokio::test]
async fn a_graded_allowance_over_a_population() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("age", DataType::Int64, true),
        Field::new("division", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e", "f"])),
            Arc::new(Int64Array::from(vec![
                Some(79),
                Some(80),
                Some(95),
                Some(101),
                None,
                Some(85),
            ])),
            Arc::new(StringArray::from(vec![
                Some("370202"),
                Some("370202"),
                Some("370203"),
                Some("370211"),
                Some("370202"),
                Some("110101"),
            ])),
        ],
    )
    .expect("batch");
    let ctx = SessionContext::new();
    ctx.register_batch("persons", batch).expect("register");

    let attributes = vec![
        Attribute {
            label: "年龄".into(),
            kind: Type::Number,
            sql: "\"age\"".into(),
            item: String::new(),
            source: String::new(),
        },
        Attribute {
            label: "户籍区划".into(),
            kind: Type::Text,
            sql: "\"division\"".into(),
            item: String::new(),
            source: String::new(),
        },
    ];
    let parameters = vec![Parameter {
        name: "高龄津贴起始年龄".into(),
        unit: "岁".into(),
        values: vec![DatedValue {
            from: NaiveDate::from_ymd_opt(2024, 7, 1).expect("day"),
            value: ParamValue::Number(80.0),
            reference: "示例文件 第二条".into(),
        }],
    }];
    let vocab = Vocabulary {
        attributes: &attributes,
        parameters: &parameters,
        day: NaiveDate::from_ymd_opt(2025, 1, 31).expect("day"),
    };
    let eligible = rules::condition(
        "年龄 ≥ 【高龄津贴起始年龄】 且 户籍区划 以 '3702' 开头",
        &vocab,
    );
    // 开头为 and 包含 run as DataFusion functions.
    let local = rules::condition("户籍区划 开头为 '3702' 且 户籍区划 包含 '02'", &vocab)
        .expect("text tests");
    let n = ctx
        .sql(&format!("SELECT id FROM persons WHERE {}", local.sql))
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs")
        .iter()
        .map(|b| b.num_rows())
        .sum::<usize>();
    assert_eq!(
        n, 5,
        "the five 3702… divisions (each holds 02 in 3702): {}",
        local.sql
    );
    // 以…开头 is not in the language: refused, not guessed.
    assert_eq!(
        eligible.map_err(|e| e.code()).err(),
        Some("RULE_UNKNOWN_ATTRIBUTE")
    );
    let eligible = rules::condition(
        "年龄 ≥ 【高龄津贴起始年龄】 且 户籍区划 属于 ('370202','370203','370211')",
        &vocab,
    )
    .expect("condition");
    let amount = rules::decision_table(
        &[
            TableRow {
                when: "年龄 ≥ 100".into(),
                amount: "500".into(),
            },
            TableRow {
                when: "年龄 ≥ 90".into(),
                amount: "200".into(),
            },
        ],
        Some("100"),
        &vocab,
    )
    .expect("table");
    let sql = format!(
        "SELECT id, {} AS amount FROM persons WHERE {} ORDER BY id",
        amount.sql, eligible.sql
    );
    let batches = ctx
        .sql(&sql)
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs");
    let mut got = Vec::new();
    for b in &batches {
        let ids = b
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("ids");
        let amounts = b
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("amounts");
        for k in 0..b.num_rows() {
            got.push((ids.value(k).to_string(), amounts.value(k)));
        }
    }
    assert_eq!(
        got,
        vec![
            ("b".to_string(), 100.0),
            ("c".to_string(), 200.0),
            ("d".to_string(), 500.0)
        ],
        "79 is too young, e has no age, f is registered elsewhere"
    );
}

/// A whole policy over a library-shaped table: the vocabulary derived from the data items
/// (年龄 from the birth date on the period's last day), the totals query run as it is planned.
#[tokio::test]
async fn a_policy_planned_for_a_month_counts_and_totals_in_datafusion() {
    use shuniu_matching::policy::{Amount, Condition, PolicyInput, TargetKind, month_end};
    use shuniu_types::catalog::{DataItem, DataType, MaskingRule, SemanticType};
    let item = |name: &str, label: &str, data_type: DataType| DataItem {
        name: name.into(),
        label: label.into(),
        data_type,
        length: None,
        description: String::new(),
        is_key: false,
        required: false,
        personal: false,
        sensitive: false,
        masking: MaskingRule::None,
        semantic_type: SemanticType::None,
    };
    let items = [
        item("birth_date", "出生日期", DataType::Date),
        item("division", "行政区划代码", DataType::Text),
    ];
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let days = |y, m, d| (NaiveDate::from_ymd_opt(y, m, d).expect("day") - epoch).num_days() as i32;
    let schema = Arc::new(Schema::new(vec![
        Field::new("birth_date", arrow::datatypes::DataType::Date32, true),
        Field::new("division", arrow::datatypes::DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(arrow::array::Date32Array::from(vec![
                Some(days(1945, 2, 1)),  // 79 on 2025-01-31
                Some(days(1945, 1, 31)), // 80 that day
                Some(days(1920, 1, 1)),  // 105
                None,
            ])),
            Arc::new(StringArray::from(vec![
                Some("370202"),
                Some("370202"),
                Some("370203"),
                Some("370202"),
            ])),
        ],
    )
    .expect("batch");
    let ctx = SessionContext::new();
    ctx.register_batch("lib", batch).expect("register");
    let policy = PolicyInput {
        code: "POL-GAOLING".into(),
        name: "高龄津贴".into(),
        department: "370200MZ".into(),
        document: "示例".into(),
        target: TargetKind::Persons,
        effective_from: NaiveDate::from_ymd_opt(2024, 7, 1).expect("day"),
        effective_to: None,
        conditions: vec![Condition {
            rule: "年龄 ≥ 80 且 行政区划代码 属于 ('370202','370203')".into(),
            reference: "第二条".into(),
        }],
        amount: Amount::Table {
            rows: vec![TableRow {
                when: "年龄 ≥ 100".into(),
                amount: "500".into(),
            }],
            otherwise: Some("100".into()),
        },
        unit: "元/月".into(),
        parameters: Vec::new(),
        notify: String::new(),
    };
    let day = month_end("2025-01").expect("day");
    let attributes = shuniu_matching::vocabulary::attributes(&items, day);
    assert_eq!(policy.check(&attributes), Ok(()));
    let plan = policy.plan(&attributes, &[], day).expect("plan");
    let batches = ctx
        .sql(&plan.totals_sql("lib"))
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs");
    let b = &batches[0];
    let eligible = b
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("count")
        .value(0);
    let amount = b
        .column(1)
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("sum")
        .value(0);
    assert_eq!((eligible, amount), (2, 600.0));
}
