//! The rule language: conditions and amounts an officer writes and reads in Chinese, checked
//! when saved and compiled to one SQL expression over the target's table, so that a policy is
//! evaluated over every person or enterprise at once by DataFusion (vectorized), never row by
//! row.
//!
//! ```text
//! 年龄 不小于 【高龄津贴起始年龄】 且 户籍区划 属于 ('370202', '370203')
//! 注册资本 介于 100 与 【小微企业注册资本上限】 或 非 是否失信 = '是'
//! ```
//!
//! Attributes are named by their labels (年龄, 户籍区划); parameters by 【name】, replaced by
//! the value in force on the day the policy is evaluated for; texts are quoted ('…', “…”,
//! 「…」). Operators: 大于 小于 不小于 不大于 等于 不等于 (or > < ≥ ≤ = ≠), 属于/不属于 (a list),
//! 介于…与… (a range, both ends included), 开头为 and 包含 (texts), 为空/不为空, 且 或 非,
//! + − × ÷ and brackets.
//!
//! How: the labels, parameters and Chinese operators are first rewritten to SQL tokens, then the
//! text is parsed by the SQL parser DataFusion itself uses (sqlparser), and the tree is checked
//! node by node — only the constructs above are allowed, every name must be known, both sides
//! of a comparison must have one type — and printed again from the tree (never from the
//! officer's text), the attributes replaced by their expressions over the table.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::RuleError;
use crate::parameters::{DatedValue, ParamValue, Parameter};

/// The type of an attribute or an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Number,
    Text,
    Bool,
}

impl Type {
    fn zh(self) -> &'static str {
        match self {
            Type::Number => "数值",
            Type::Text => "文本",
            Type::Bool => "是非",
        }
    }

    fn en(self) -> &'static str {
        match self {
            Type::Number => "a number",
            Type::Text => "a text",
            Type::Bool => "true or false",
        }
    }
}

/// An attribute a rule may name: its label, its type, and the SQL expression that computes it
/// over the target's table (a column, or 年龄 from the birth date on the evaluation day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub label: String,
    #[serde(rename = "type")]
    pub kind: Type,
    pub sql: String,
    /// The library item it is read from (a trace names it with its source).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub item: String,
    /// The join it is read through (a granted resource's alias); empty for the library's own.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// What a rule may name: the target's attributes and the parameters, on one day.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary<'a> {
    pub attributes: &'a [Attribute],
    pub parameters: &'a [Parameter],
    /// The day the parameters' values are taken at (the evaluated period's last day).
    pub day: NaiveDate,
}

/// A rule compiled: its SQL expression, and what it read (for the trace).
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub sql: String,
    pub kind: Type,
    /// Labels of the attributes it reads, in order of first use.
    pub attributes: Vec<String>,
    /// The parameters it reads with the value used and its legal reference.
    pub parameters: Vec<(String, DatedValue)>,
}

/// One row of a decision table: when `when` holds, the amount is `amount` (the first row that
/// holds wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    pub when: String,
    pub amount: String,
}

/// Chinese operators and their SQL, longest first where one is a prefix of another.
const OPERATORS: &[(&str, &str)] = &[
    ("大于等于", ">="),
    ("小于等于", "<="),
    ("不小于", ">="),
    ("不大于", "<="),
    ("不等于", "<>"),
    ("不属于", "NOT IN"),
    ("不为空", "IS NOT NULL"),
    ("大于", ">"),
    ("小于", "<"),
    ("等于", "="),
    ("属于", "IN"),
    ("介于", "BETWEEN"),
    // Texts: 开头为 (starts with) and 包含 (contains), compiled to functions, not patterns.
    ("开头为", "LIKE"),
    ("包含", "ILIKE"),
    ("为空", "IS NULL"),
    ("并且", "AND"),
    ("或者", "OR"),
    ("且", "AND"),
    ("与", "AND"),
    ("或", "OR"),
    ("非", "NOT"),
    ("为", "="),
    ("是", "="),
    ("≥", ">="),
    ("≤", "<="),
    ("≠", "<>"),
    ("×", "*"),
    ("÷", "/"),
    ("−", "-"),
    ("（", "("),
    ("）", ")"),
    ("，", ","),
    ("、", ","),
];

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9fff}' | '\u{f900}'..='\u{faff}')
}

/// Whether a character belongs to a run of Chinese: a CJK character or a non-ASCII operator
/// symbol (≥, （ …).
fn in_run(c: char) -> bool {
    is_cjk(c) || !c.is_ascii() && operator_words(&c.to_string()).is_some()
}

/// Splits a run of Chinese text into operator words, or `None` if some of it is not one.
fn operator_words(run: &str) -> Option<Vec<&'static str>> {
    let mut out = Vec::new();
    let mut rest = run;
    while !rest.is_empty() {
        let (word, sql) = OPERATORS.iter().find(|(w, _)| rest.starts_with(w))?;
        out.push(*sql);
        rest = &rest[word.len()..];
    }
    Some(out)
}

/// The rule rewritten to SQL tokens: `__aN` for the N-th attribute, `__pN` for the N-th
/// parameter, texts as '…', operators in SQL.
fn rewrite(
    text: &str,
    vocab: &Vocabulary<'_>,
) -> Result<(String, Vec<usize>, Vec<usize>), RuleError> {
    let mut labels: Vec<(usize, &str)> = vocab
        .attributes
        .iter()
        .enumerate()
        .map(|(i, a)| (i, a.label.as_str()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    // The longest label first: 户籍区划代码 before 户籍区划.
    labels.sort_by_key(|(_, l)| std::cmp::Reverse(l.len()));
    let mut out = String::with_capacity(text.len() * 2);
    let mut attrs = Vec::new();
    let mut params = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let closing = match c {
            '\'' => Some('\''),
            '"' => Some('"'),
            '“' => Some('”'),
            '「' => Some('」'),
            '‘' => Some('’'),
            _ => None,
        };
        if let Some(end) = closing {
            let body = &rest[c.len_utf8()..];
            let Some(at) = body.find(end) else {
                return Err(RuleError::syntax(
                    "文本缺少结束引号",
                    "a text has no closing quote",
                ));
            };
            out.push_str(&format!(" '{}' ", body[..at].replace('\'', "''")));
            rest = &body[at + end.len_utf8()..];
            continue;
        }
        if c == '【' {
            let body = &rest[c.len_utf8()..];
            let Some(at) = body.find('】') else {
                return Err(RuleError::syntax(
                    "参数缺少“】”",
                    "a parameter has no closing 】",
                ));
            };
            let name = body[..at].trim();
            let Some(i) = vocab.parameters.iter().position(|p| p.name == name) else {
                return Err(RuleError::UnknownParameter(name.to_string()));
            };
            out.push_str(&format!(" __p{} ", params.len()));
            params.push(i);
            rest = &body[at + '】'.len_utf8()..];
            continue;
        }
        if let Some((i, label)) = labels.iter().find(|(_, l)| rest.starts_with(l)) {
            out.push_str(&format!(" __a{} ", attrs.len()));
            attrs.push(*i);
            rest = &rest[label.len()..];
            continue;
        }
        if in_run(c) {
            // A run of Chinese that is not a label: operator words, or an unknown name.
            let end = rest
                .char_indices()
                .find(|(_, ch)| !in_run(*ch) || matches!(ch, '【' | '“' | '「' | '‘'))
                .map_or(rest.len(), |(k, _)| k);
            let run = cut_at_label(&rest[..end], &labels);
            match operator_words(run) {
                Some(words) => {
                    for w in words {
                        out.push(' ');
                        out.push_str(w);
                        out.push(' ');
                    }
                }
                None => {
                    let name: String = run.chars().filter(|c| is_cjk(*c)).collect();
                    return Err(RuleError::UnknownAttribute(name));
                }
            }
            rest = &rest[run.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok((out, attrs, params))
}

/// The run up to where a label starts (so `年龄大于80且户籍区划…` splits before 户籍区划).
fn cut_at_label<'t>(run: &'t str, labels: &[(usize, &str)]) -> &'t str {
    for (k, _) in run.char_indices().skip(1) {
        if labels.iter().any(|(_, l)| run[k..].starts_with(l)) {
            return &run[..k];
        }
    }
    run
}

fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

struct Checker<'v, 'a> {
    vocab: &'v Vocabulary<'a>,
    attrs: Vec<usize>,
    params: Vec<usize>,
    read_attrs: Vec<String>,
    read_params: Vec<(String, DatedValue)>,
}

impl Checker<'_, '_> {
    fn placeholder(&mut self, name: &str) -> Result<(String, Type), RuleError> {
        let index = |prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|n| n.parse::<usize>().ok())
        };
        if let Some(k) = index("__a")
            && let Some(a) = self
                .attrs
                .get(k)
                .and_then(|i| self.vocab.attributes.get(*i))
        {
            if !self.read_attrs.contains(&a.label) {
                self.read_attrs.push(a.label.clone());
            }
            return Ok((format!("({})", a.sql), a.kind));
        }
        if let Some(k) = index("__p")
            && let Some(p) = self
                .params
                .get(k)
                .and_then(|i| self.vocab.parameters.get(*i))
        {
            let v = p.at(self.vocab.day)?;
            if !self.read_params.iter().any(|(n, _)| n == &p.name) {
                self.read_params.push((p.name.clone(), v.clone()));
            }
            return Ok(match &v.value {
                ParamValue::Number(n) => (number_text(*n), Type::Number),
                ParamValue::Text(t) => (quote(t), Type::Text),
            });
        }
        Err(RuleError::UnknownAttribute(name.to_string()))
    }

    fn same(&self, what: &str, a: Type, b: Type) -> Result<(), RuleError> {
        if a == b {
            Ok(())
        } else {
            Err(RuleError::mismatch(
                format!("{what}两边须为同一类型，却是{}与{}", a.zh(), b.zh()),
                format!(
                    "both sides of {what} must have one type, not {} and {}",
                    a.en(),
                    b.en()
                ),
            ))
        }
    }

    fn want(&self, what: &str, got: Type, want: Type) -> Result<(), RuleError> {
        if got == want {
            Ok(())
        } else {
            Err(RuleError::mismatch(
                format!("{what}须为{}，却是{}", want.zh(), got.zh()),
                format!("{what} must be {}, not {}", want.en(), got.en()),
            ))
        }
    }

    /// 开头为 and 包含: both sides texts, compiled to a function (never a LIKE pattern, so the
    /// officer's text needs no escaping).
    fn text_test(
        &mut self,
        what: &str,
        negated: bool,
        expr: &Expr,
        pattern: &Expr,
        test: impl Fn(&str, &str) -> String,
    ) -> Result<(String, Type), RuleError> {
        let (s, t) = self.walk(expr)?;
        let (p, pt) = self.walk(pattern)?;
        self.want(what, t, Type::Text)?;
        self.want(what, pt, Type::Text)?;
        let test = test(&s, &p);
        Ok((
            if negated {
                format!("(NOT {test})")
            } else {
                test
            },
            Type::Bool,
        ))
    }

    fn walk(&mut self, e: &Expr) -> Result<(String, Type), RuleError> {
        match e {
            Expr::Identifier(id) => self.placeholder(&id.value),
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => Ok((n.to_string(), Type::Number)),
                Value::SingleQuotedString(s) => Ok((quote(s), Type::Text)),
                Value::Boolean(b) => Ok((b.to_string(), Type::Bool)),
                other => Err(RuleError::Unsupported(other.to_string())),
            },
            Expr::Nested(inner) => {
                let (s, t) = self.walk(inner)?;
                Ok((format!("({s})"), t))
            }
            Expr::UnaryOp { op, expr } => {
                let (s, t) = self.walk(expr)?;
                match op {
                    UnaryOperator::Not => {
                        self.want("“非”之后", t, Type::Bool)?;
                        Ok((format!("(NOT {s})"), Type::Bool))
                    }
                    UnaryOperator::Minus => {
                        self.want("负号之后", t, Type::Number)?;
                        Ok((format!("(-{s})"), Type::Number))
                    }
                    UnaryOperator::Plus => {
                        self.want("正号之后", t, Type::Number)?;
                        Ok((s, Type::Number))
                    }
                    other => Err(RuleError::Unsupported(other.to_string())),
                }
            }
            Expr::BinaryOp { left, op, right } => {
                let (l, lt) = self.walk(left)?;
                let (r, rt) = self.walk(right)?;
                let sql = |o: &str| format!("({l} {o} {r})");
                match op {
                    BinaryOperator::And | BinaryOperator::Or => {
                        self.want("“且”“或”的两边", lt, Type::Bool)?;
                        self.want("“且”“或”的两边", rt, Type::Bool)?;
                        Ok((
                            sql(if *op == BinaryOperator::And {
                                "AND"
                            } else {
                                "OR"
                            }),
                            Type::Bool,
                        ))
                    }
                    BinaryOperator::Gt
                    | BinaryOperator::Lt
                    | BinaryOperator::GtEq
                    | BinaryOperator::LtEq
                    | BinaryOperator::Eq
                    | BinaryOperator::NotEq => {
                        self.same("比较", lt, rt)?;
                        Ok((sql(&op.to_string()), Type::Bool))
                    }
                    BinaryOperator::Plus
                    | BinaryOperator::Minus
                    | BinaryOperator::Multiply
                    | BinaryOperator::Divide => {
                        self.want("算式的两边", lt, Type::Number)?;
                        self.want("算式的两边", rt, Type::Number)?;
                        // Amounts are money: divide as decimals, not integers.
                        let o = op.to_string();
                        if *op == BinaryOperator::Divide {
                            Ok((format!("(CAST({l} AS DOUBLE) / {r})"), Type::Number))
                        } else {
                            Ok((sql(&o), Type::Number))
                        }
                    }
                    other => Err(RuleError::Unsupported(other.to_string())),
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let (s, t) = self.walk(expr)?;
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    let (i, it) = self.walk(item)?;
                    self.same("“属于”", t, it)?;
                    items.push(i);
                }
                let not = if *negated { "NOT " } else { "" };
                Ok((format!("({s} {not}IN ({}))", items.join(", ")), Type::Bool))
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (s, t) = self.walk(expr)?;
                let (lo, lot) = self.walk(low)?;
                let (hi, hit) = self.walk(high)?;
                self.same("“介于”", t, lot)?;
                self.same("“介于”", t, hit)?;
                let not = if *negated { "NOT " } else { "" };
                Ok((format!("({s} {not}BETWEEN {lo} AND {hi})"), Type::Bool))
            }
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => self.text_test(
                "“开头为”的两边",
                *negated,
                expr,
                pattern,
                |s, p| format!("(starts_with({s}, {p}))"),
            ),
            Expr::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => self.text_test("“包含”的两边", *negated, expr, pattern, |s, p| {
                format!("(strpos({s}, {p}) > 0)")
            }),
            Expr::IsNull(inner) => {
                let (s, _) = self.walk(inner)?;
                Ok((format!("({s} IS NULL)"), Type::Bool))
            }
            Expr::IsNotNull(inner) => {
                let (s, _) = self.walk(inner)?;
                Ok((format!("({s} IS NOT NULL)"), Type::Bool))
            }
            other => {
                let text = other.to_string();
                let shown: String = text.chars().take(40).collect();
                Err(RuleError::Unsupported(shown))
            }
        }
    }
}

fn compile(
    text: &str,
    vocab: &Vocabulary<'_>,
    want: Type,
    what: &str,
) -> Result<Compiled, RuleError> {
    if text.trim().is_empty() {
        return Err(RuleError::syntax("规则为空", "the rule is empty"));
    }
    let (sql_text, attrs, params) = rewrite(text, vocab)?;
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(&sql_text)
        .map_err(|e| RuleError::syntax(e.to_string(), e.to_string()))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| RuleError::syntax(e.to_string(), e.to_string()))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(RuleError::syntax(
            format!("“{}”处多出内容", next.token),
            format!("unexpected {} after the rule", next.token),
        ));
    }
    let mut checker = Checker {
        vocab,
        attrs,
        params,
        read_attrs: Vec::new(),
        read_params: Vec::new(),
    };
    let (sql, kind) = checker.walk(&expr)?;
    checker.want(what, kind, want)?;
    Ok(Compiled {
        sql,
        kind,
        attributes: checker.read_attrs,
        parameters: checker.read_params,
    })
}

/// A condition: true or false for each person or enterprise.
pub fn condition(text: &str, vocab: &Vocabulary<'_>) -> Result<Compiled, RuleError> {
    compile(text, vocab, Type::Bool, "条件")
}

/// An amount: a number (a formula over attributes and parameters).
pub fn amount(text: &str, vocab: &Vocabulary<'_>) -> Result<Compiled, RuleError> {
    compile(text, vocab, Type::Number, "金额")
}

/// A decision table for graded amounts: the first row whose condition holds gives the amount;
/// none holds, `otherwise` (or no amount).
pub fn decision_table(
    rows: &[TableRow],
    otherwise: Option<&str>,
    vocab: &Vocabulary<'_>,
) -> Result<Compiled, RuleError> {
    if rows.is_empty() {
        return Err(RuleError::syntax(
            "决策表没有行",
            "the decision table has no rows",
        ));
    }
    let mut sql = String::from("CASE");
    let mut attributes: Vec<String> = Vec::new();
    let mut parameters: Vec<(String, DatedValue)> = Vec::new();
    let mut keep = |c: &Compiled| {
        for a in &c.attributes {
            if !attributes.contains(a) {
                attributes.push(a.clone());
            }
        }
        for p in &c.parameters {
            if !parameters.iter().any(|(n, _)| n == &p.0) {
                parameters.push(p.clone());
            }
        }
    };
    for row in rows {
        let when = condition(&row.when, vocab)?;
        let then = amount(&row.amount, vocab)?;
        keep(&when);
        keep(&then);
        sql.push_str(&format!(
            " WHEN {} THEN CAST({} AS DOUBLE)",
            when.sql, then.sql
        ));
    }
    if let Some(o) = otherwise {
        let o = amount(o, vocab)?;
        keep(&o);
        sql.push_str(&format!(" ELSE CAST({} AS DOUBLE)", o.sql));
    }
    sql.push_str(" END");
    Ok(Compiled {
        sql,
        kind: Type::Number,
        attributes,
        parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parameters::DatedValue;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
    }

    fn attributes() -> Vec<Attribute> {
        vec![
            Attribute {
                label: "年龄".into(),
                kind: Type::Number,
                sql: "age".into(),
                item: String::new(),
                source: String::new(),
            },
            Attribute {
                label: "户籍区划".into(),
                kind: Type::Text,
                sql: "division".into(),
                item: String::new(),
                source: String::new(),
            },
            Attribute {
                label: "非农业户口标志".into(),
                kind: Type::Text,
                sql: "non_agri".into(),
                item: String::new(),
                source: String::new(),
            },
            Attribute {
                label: "注册资本".into(),
                kind: Type::Number,
                sql: "capital".into(),
                item: String::new(),
                source: String::new(),
            },
        ]
    }

    fn parameters() -> Vec<Parameter> {
        vec![Parameter {
            name: "高龄津贴起始年龄".into(),
            unit: "岁".into(),
            values: vec![
                DatedValue {
                    from: day("2020-01-01"),
                    value: ParamValue::Number(90.0),
                    reference: "旧文件 第二条".into(),
                },
                DatedValue {
                    from: day("2024-07-01"),
                    value: ParamValue::Number(80.0),
                    reference: "新文件 第二条".into(),
                },
            ],
        }]
    }

    fn with<T>(day_text: &str, f: impl FnOnce(&Vocabulary<'_>) -> T) -> T {
        let (a, p) = (attributes(), parameters());
        f(&Vocabulary {
            attributes: &a,
            parameters: &p,
            day: day(day_text),
        })
    }

    #[test]
    fn a_condition_in_chinese_compiles_to_sql_with_the_parameter_in_force() {
        let c = with("2025-01-31", |v| {
            condition(
                "年龄 不小于 【高龄津贴起始年龄】 且 户籍区划 属于 （“370202”、'370203'）",
                v,
            )
        })
        .expect("compiles");
        assert_eq!(
            c.sql,
            "(((age) >= 80) AND ((division) IN ('370202', '370203')))"
        );
        assert_eq!(c.attributes, vec!["年龄", "户籍区划"]);
        assert_eq!(c.parameters[0].1.reference, "新文件 第二条");
        // The same rule for a period before the change uses the value then.
        let old = with("2024-06-30", |v| {
            condition("年龄 ≥ 【高龄津贴起始年龄】", v)
        })
        .expect("old");
        assert_eq!(old.sql, "((age) >= 90)");
    }

    #[test]
    fn operators_need_no_spaces_and_labels_may_hold_operator_characters() {
        let c = with("2025-01-31", |v| {
            condition(
                "年龄大于80且非农业户口标志为'1'或非(注册资本介于100与200)",
                v,
            )
        })
        .expect("compiles");
        assert_eq!(
            c.sql,
            "((((age) > 80) AND ((non_agri) = '1')) OR (NOT (((capital) BETWEEN 100 AND 200))))"
        );
    }

    #[test]
    fn every_kind_of_mistake_is_refused_with_its_code() {
        let code = |text: &str| {
            with("2025-01-31", |v| condition(text, v))
                .map(|c| c.sql)
                .map_err(|e| e.code())
        };
        assert_eq!(code("收入 > 3000"), Err("RULE_UNKNOWN_ATTRIBUTE"));
        assert_eq!(code("年龄 > 【退休年龄】"), Err("RULE_UNKNOWN_PARAMETER"));
        assert_eq!(code("年龄 = '八十'"), Err("RULE_TYPE_MISMATCH"));
        assert_eq!(code("年龄 + 1"), Err("RULE_TYPE_MISMATCH"));
        assert_eq!(code("年龄 >"), Err("RULE_SYNTAX"));
        assert_eq!(code("年龄 > 80 80"), Err("RULE_SYNTAX"));
        assert_eq!(code("户籍区划 = '3702"), Err("RULE_SYNTAX"));
        assert_eq!(code(""), Err("RULE_SYNTAX"));
        assert_eq!(code("abs(年龄) > 1"), Err("RULE_UNSUPPORTED"));
        assert_eq!(code("年龄 > (SELECT 1)"), Err("RULE_UNSUPPORTED"));
        assert_eq!(
            with("2019-06-30", |v| condition(
                "年龄 ≥ 【高龄津贴起始年龄】",
                v
            ))
            .map_err(|e| e.code()),
            Err("RULE_PARAMETER_NO_VALUE")
        );
        // A name typed as SQL is not an attribute either: only labels are.
        assert_eq!(code("age > 80"), Err("RULE_UNKNOWN_ATTRIBUTE"));
    }

    #[test]
    fn texts_start_with_or_contain() {
        let c = with("2025-01-31", |v| {
            condition("户籍区划 开头为 '3702' 且 非农业户口标志 包含 '1'", v)
        })
        .expect("compiles");
        assert_eq!(
            c.sql,
            "((starts_with((division), '3702')) AND (strpos((non_agri), '1') > 0))"
        );
        assert_eq!(
            with("2025-01-31", |v| condition("年龄 开头为 '8'", v)).map_err(|e| e.code()),
            Err("RULE_TYPE_MISMATCH")
        );
    }

    #[test]
    fn a_decision_table_grades_the_amount() {
        let rows = [
            TableRow {
                when: "年龄 ≥ 100".into(),
                amount: "500".into(),
            },
            TableRow {
                when: "年龄 介于 90 与 99".into(),
                amount: "200".into(),
            },
            TableRow {
                when: "年龄 ≥ 【高龄津贴起始年龄】".into(),
                amount: "100".into(),
            },
        ];
        let c = with("2025-01-31", |v| decision_table(&rows, None, v)).expect("table");
        assert_eq!(
            c.sql,
            "CASE WHEN ((age) >= 100) THEN CAST(500 AS DOUBLE) WHEN ((age) BETWEEN 90 AND 99) THEN CAST(200 AS DOUBLE) WHEN ((age) >= 80) THEN CAST(100 AS DOUBLE) END"
        );
        assert_eq!(c.parameters.len(), 1);
        let bad = [TableRow {
            when: "年龄 ≥ 100".into(),
            amount: "户籍区划".into(),
        }];
        assert_eq!(
            with("2025-01-31", |v| decision_table(&bad, None, v)).map_err(|e| e.code()),
            Err("RULE_TYPE_MISMATCH")
        );
    }

    #[test]
    fn an_amount_is_a_formula_and_divides_as_decimals() {
        let c = with("2025-01-31", |v| amount("注册资本 × 0.01 ÷ 12", v)).expect("amount");
        assert_eq!(c.sql, "(CAST(((capital) * 0.01) AS DOUBLE) / 12)");
        assert_eq!(
            with("2025-01-31", |v| amount("年龄 > 1", v)).map_err(|e| e.code()),
            Err("RULE_TYPE_MISMATCH")
        );
    }

    proptest::proptest! {
        /// Whatever an officer types, the answer is a compiled rule or a coded refusal, and a
        /// compiled rule names only the attributes' expressions (no text of the input outside
        /// quoted literals reaches the SQL).
        #[test]
        fn any_text_compiles_or_is_refused(text in "[年龄户籍区划大于小于且或非为与属于介于（）()'“”、,0-9 <>=【】高龄津贴起始a-z]{0,40}") {
            let out = with("2025-01-31", |v| condition(&text, v));
            if let Ok(c) = out {
                let outside: String = c.sql.split('\'').step_by(2).collect();
                proptest::prop_assert!(!outside.chars().any(is_cjk), "{}", c.sql);
            }
        }
    }
}
