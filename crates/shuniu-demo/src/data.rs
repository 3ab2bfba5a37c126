//! The demo city's data: a population of persons with valid GB 11643 ID numbers, households,
//! enterprises with valid GB 32100 credit codes, properties — and the rows each catalog
//! resource holds about them, with realistic defects injected at a configurable rate.
//!
//! Everything is a pure function of (seed, index): person `i` is the same person in every
//! department's dataset, so cross-department checks have something to find, and nothing is
//! held in memory, so a city of 10,000,000 streams like one of 1,000.

use chrono::{Duration, NaiveDate};
use shuniu_types::{CreditCode, DivisionCode, IdNumber, RegistrationNumber};

use crate::{DISTRICTS, DemoResource, GIVEN, SURNAMES, Subject};

/// What kinds of defects a row may carry (for the quality capability to find).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    BadCheckDigit,
    MissingKey,
    ImpossibleDate,
    UnknownDivision,
    ConflictingAddress,
    BadMobile,
    DuplicateRow,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn h(seed: u64, a: u64, b: u64) -> u64 {
    mix(seed ^ mix(a.wrapping_mul(0x1000_0000_01B3) ^ mix(b)))
}

/// A uniform number in [0, 1).
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn pick<T: Copy>(list: &[T], x: u64) -> T {
    list[(x % list.len() as u64) as usize]
}

const BIRTH_DAYS: u64 = 30_680; // 1940-01-01 .. 2023-12-31
const STREETS: &[&str] = &[
    "香港中路",
    "山东路",
    "延安三路",
    "宁夏路",
    "辽阳西路",
    "福州路",
    "李村路",
    "长江中路",
    "正阳路",
    "鹤山路",
    "烟台路",
    "胶州湾路",
    "海尔路",
    "银川东路",
    "重庆中路",
];
const NATIONS: &[&str] = &["01", "01", "01", "01", "01", "01", "03", "04", "05", "08"];
const RELATIONS: &[&str] = &["02", "10", "20", "30", "40"];
const INDUSTRIES: &[&str] = &[
    "C3411", "F5123", "I6510", "L7212", "E4811", "K7010", "H6110",
];
const ENT_SUFFIX: &[&str] = &[
    "科技有限公司",
    "贸易有限公司",
    "海洋工程有限公司",
    "食品有限公司",
    "物流有限公司",
    "建设工程有限公司",
];
const ENT_WORDS: &[&str] = &[
    "海纳", "崂山", "琴岛", "瑞丰", "德润", "金沙", "蓝谷", "明远", "汇通", "青禾",
];
const HOSPITALS: &[&str] = &[
    "青岛大学附属医院",
    "青岛市市立医院",
    "青岛市中心医院",
    "青岛市海慈医疗集团",
    "青岛市妇女儿童医院",
];
const DIAGNOSES: &[&str] = &[
    "高血压",
    "2型糖尿病",
    "急性上呼吸道感染",
    "腰椎间盘突出",
    "冠心病",
];
const SCHOOLS: &[&str] = &[
    "青岛第二中学",
    "青岛第五十八中学",
    "青岛实验小学",
    "青岛第九中学",
    "崂山区第一实验小学",
];
const USAGES: &[&str] = &["住宅", "商业", "办公", "工业", "仓储"];
const INSURANCE: &[&str] = &["110", "310", "210", "410", "510"];
const STATUSES: &[&str] = &["01", "02", "03"];

/// A person of the city, derived from their index alone.
#[derive(Debug, Clone)]
pub struct Person {
    pub id_number: String,
    pub name: String,
    /// 1 male, 2 female (GB/T 2261.1).
    pub sex: u8,
    pub birth: NaiveDate,
    pub division: &'static str,
    pub address: String,
    pub mobile: String,
    pub household_no: String,
}

pub fn person(seed: u64, i: u64) -> Person {
    let d = (i % DISTRICTS.len() as u64) as usize;
    let j = i / DISTRICTS.len() as u64;
    // A permutation of birth days within each block of BIRTH_DAYS people, and a sequence
    // number per block: (district, birth date, sequence) never repeats.
    let day = (j % BIRTH_DAYS).wrapping_mul(7919) % BIRTH_DAYS;
    let block = j / BIRTH_DAYS;
    let x = h(seed, 1, i);
    let sex: u8 = if x & 1 == 0 { 1 } else { 2 };
    let seq = ((block % 500) * 2 + if sex == 1 { 1 } else { 0 }) as u16;
    let base = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default();
    let birth = base + Duration::days(day as i64);
    let (division, _) = DISTRICTS[d];
    let div: DivisionCode = division.parse().unwrap_or_else(|_| {
        "370202"
            .parse()
            .expect("a valid constant division code parses")
    });
    let id_number = IdNumber::compose(div, birth, seq)
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    let name = format!("{}{}", pick(SURNAMES, x >> 8), pick(GIVEN, x >> 20));
    // People share households of about three.
    let household = i / 3;
    let address = household_address(seed, household, d);
    let mobile = format!(
        "1{}{:09}",
        pick(&['3', '5', '7', '8', '9'], x >> 32),
        (x >> 24) % 1_000_000_000
    );
    Person {
        id_number,
        name,
        sex,
        birth,
        division,
        address,
        mobile,
        household_no: format!("{}{:09}", &division[..6], household),
    }
}

fn household_address(seed: u64, household: u64, district: usize) -> String {
    let y = h(seed, 2, household);
    format!(
        "青岛市{}{}{}号{}单元{}室",
        DISTRICTS[district].1,
        pick(STREETS, y),
        1 + (y >> 8) % 300,
        1 + (y >> 20) % 6,
        101 + (y >> 28) % 30 * 100 % 3000
    )
}

/// An enterprise, derived from its index.
#[derive(Debug, Clone)]
pub struct Enterprise {
    pub credit_code: String,
    pub name: String,
    pub legal_rep: Person,
    pub address: String,
    pub reg_date: NaiveDate,
    pub division: &'static str,
    /// The registration number it had before its credit code (GS 15-2006).
    pub reg_no: String,
}

pub fn enterprise(seed: u64, k: u64, persons: u64) -> Enterprise {
    let x = h(seed, 3, k);
    let d = (k % DISTRICTS.len() as u64) as usize;
    let division = DISTRICTS[d].0;
    let div: DivisionCode = division.parse().unwrap_or_else(|_| {
        "370202"
            .parse()
            .expect("a valid constant division code parses")
    });
    // Registration authority 9 (市场监管), category 1 (企业); the body encodes k.
    const BODY: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut n = k.wrapping_mul(2_654_435_761) ^ (x & 0xFFFF);
    let mut credit_code = String::new();
    for attempt in 0..64u64 {
        let mut body = String::new();
        let mut m = n.wrapping_add(attempt);
        for _ in 0..8 {
            body.push(BODY[(m % 31) as usize] as char);
            m /= 31;
        }
        // Keep the index recoverable in the last characters so codes never collide.
        let tail: String = {
            let mut t = String::new();
            let mut kk = k;
            for _ in 0..5 {
                t.push(BODY[(kk % 31) as usize] as char);
                kk /= 31;
            }
            t
        };
        let body = format!("{}{}", &body[..3], tail);
        if let Some(c) = CreditCode::compose("91", div, &body) {
            credit_code = c.to_string();
            break;
        }
        n = mix(n);
    }
    Enterprise {
        credit_code,
        name: format!(
            "青岛{}{}{}",
            pick(ENT_WORDS, x >> 4),
            pick(ENT_WORDS, x >> 12),
            pick(ENT_SUFFIX, x >> 20)
        ),
        legal_rep: person(seed, (x >> 16) % persons.max(1)),
        address: household_address(seed, x >> 3, d),
        reg_date: NaiveDate::from_ymd_opt(1995, 1, 1).unwrap_or_default()
            + Duration::days(((x >> 40) % 10_500) as i64),
        division,
        // Registered by the district's bureau; the sequence is the enterprise's index, so
        // numbers never collide.
        reg_no: RegistrationNumber::compose(div, (k % 100_000_000) as u32)
            .map(|r| r.to_string())
            .unwrap_or_default(),
    }
}

/// Which rows a resource holds, how many, and what is wrong with some of them.
#[derive(Debug, Clone)]
pub struct DatasetPlan {
    pub subject: Subject,
    /// Item names, in the order of the columns.
    pub columns: Vec<String>,
    /// Persons, enterprises, properties or records this dataset has rows for.
    pub population: u64,
    /// Share of the population present.
    pub coverage: f64,
    /// Only this district's subjects (district-level providers).
    pub district: Option<&'static str>,
    pub defect_rate: f64,
    /// The providing department keeps the authoritative address (公安 household register).
    pub authoritative_address: bool,
    pub resource_salt: u64,
}

impl DatasetPlan {
    pub fn for_resource(
        r: &DemoResource,
        index: usize,
        scale: u64,
        defect_rate: f64,
    ) -> DatasetPlan {
        let columns: Vec<String> = r.input.data_items.iter().map(|i| i.name.clone()).collect();
        let salt = mix(index as u64 + 17);
        let district = DISTRICTS
            .iter()
            .find(|(code, _)| r.input.provider.starts_with(code))
            .map(|(code, _)| *code);
        let (population, coverage) = match r.subject {
            Subject::Person => {
                let full = r.input.name.contains("户籍人口基本信息");
                (scale, if full { 1.0 } else { 0.05 + unit(salt) * 0.35 })
            }
            Subject::Enterprise => ((scale / 20).max(50), 0.3 + unit(salt) * 0.7),
            Subject::Property => ((scale / 3).max(50), 0.2 + unit(salt) * 0.6),
            Subject::General => ((scale / 50).clamp(20, 5_000), 1.0),
            // A visit or a call for about one resident in three; some come more than once.
            Subject::Keyless => ((scale / 3).max(50), 1.0),
        };
        DatasetPlan {
            subject: r.subject,
            columns,
            population,
            coverage,
            district,
            defect_rate,
            authoritative_address: r.input.provider.ends_with("GA"),
            resource_salt: salt,
        }
    }

    /// The rows, as text cells in column order; `None` is an empty cell.
    pub fn rows(&self, seed: u64, persons: u64) -> impl Iterator<Item = Vec<Option<String>>> + '_ {
        self.rows_with_truth(seed, persons).map(|(row, _)| row)
    }

    /// The rows with the ID number of the person each describes (the truth a keyless source
    /// hides, against which record linkage is measured).
    pub fn rows_with_truth(
        &self,
        seed: u64,
        persons: u64,
    ) -> impl Iterator<Item = (Vec<Option<String>>, String)> + '_ {
        let mut last: Option<(Vec<Option<String>>, String)> = None;
        (0..self.population).filter_map(move |i| {
            let x = h(seed ^ self.resource_salt, 4, i);
            if unit(x) >= self.coverage {
                return None;
            }
            if let Some(d) = self.district
                && DISTRICTS[(i % DISTRICTS.len() as u64) as usize].0 != d
                && self.subject != Subject::General
            {
                return None;
            }
            let y = h(seed ^ self.resource_salt, 5, i);
            let defect = self.defect(y);
            if defect == Some(Defect::DuplicateRow)
                && let Some(prev) = &last
            {
                return Some(prev.clone());
            }
            let row = self.row(seed, persons, i, defect, y);
            last = Some(row.clone());
            Some(row)
        })
    }

    fn defect(&self, y: u64) -> Option<Defect> {
        let u = unit(y);
        if u >= self.defect_rate {
            return None;
        }
        // Split the defect rate among the kinds.
        let k = u / self.defect_rate;
        Some(match k {
            k if k < 0.22 => Defect::BadCheckDigit,
            k if k < 0.30 => Defect::MissingKey,
            k if k < 0.40 => Defect::ImpossibleDate,
            k if k < 0.55 => Defect::UnknownDivision,
            k if k < 0.80 => Defect::ConflictingAddress,
            k if k < 0.92 => Defect::BadMobile,
            _ => Defect::DuplicateRow,
        })
    }

    fn row(
        &self,
        seed: u64,
        persons: u64,
        i: u64,
        defect: Option<Defect>,
        y: u64,
    ) -> (Vec<Option<String>>, String) {
        let p = match self.subject {
            Subject::Person => person(seed, i),
            _ => person(seed, (y >> 7) % persons.max(1)),
        };
        let e = match self.subject {
            Subject::Enterprise => Some(enterprise(seed, i, persons)),
            _ => None,
        };
        let date = |off: u64| {
            (NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or_default()
                + Duration::days(((y >> off) % 3_900) as i64))
            .format("%Y-%m-%d")
            .to_string()
        };
        let mut first_date_done = false;
        let mut out = Vec::with_capacity(self.columns.len());
        for (ci, col) in self.columns.iter().enumerate() {
            let v: Option<String> = match col.as_str() {
                "id_number" => Some(p.id_number.clone()),
                "name" => Some(p.name.clone()),
                "sex" => Some(p.sex.to_string()),
                "birth_date" => Some(p.birth.format("%Y-%m-%d").to_string()),
                "nation" => Some(pick(NATIONS, y >> 3).to_string()),
                "address" => Some(p.address.clone()),
                "mobile" => Some(p.mobile.clone()),
                "division" => Some(
                    e.as_ref()
                        .map(|e| e.division)
                        .unwrap_or(p.division)
                        .to_string(),
                ),
                "household_no" => Some(p.household_no.clone()),
                "relation" => Some(pick(RELATIONS, y >> 5).to_string()),
                "credit_code" => Some(e.as_ref().map(|e| e.credit_code.clone()).unwrap_or_else(
                    || enterprise(seed, (y >> 9) % (persons / 20).max(50), persons).credit_code,
                )),
                "org_code" => e.as_ref().and_then(|e| {
                    e.credit_code
                        .parse::<CreditCode>()
                        .ok()
                        .map(|c| c.org_code().hyphenated())
                }),
                "reg_no" => e.as_ref().map(|e| e.reg_no.clone()),
                "ent_name" => Some(e.as_ref().map(|e| e.name.clone()).unwrap_or_default()),
                "legal_rep" => Some(
                    e.as_ref()
                        .map(|e| e.legal_rep.name.clone())
                        .unwrap_or(p.name.clone()),
                ),
                "legal_rep_id" => Some(
                    e.as_ref()
                        .map(|e| e.legal_rep.id_number.clone())
                        .unwrap_or(p.id_number.clone()),
                ),
                "reg_address" => Some(
                    e.as_ref()
                        .map(|e| e.address.clone())
                        .unwrap_or(p.address.clone()),
                ),
                "reg_date" => Some(
                    e.as_ref()
                        .map(|e| e.reg_date.format("%Y-%m-%d").to_string())
                        .unwrap_or_else(|| date(11)),
                ),
                "capital" => Some(format!("{}.{:02}", 10 + (y >> 13) % 50_000, (y >> 5) % 100)),
                "industry" => Some(pick(INDUSTRIES, y >> 17).to_string()),
                "ent_status" => Some(pick(STATUSES, y >> 19).to_string()),
                "licence_no" => Some(format!("QD{}{:010}", 2015 + (y >> 21) % 10, i)),
                "issue_date" => Some(date(14)),
                "expire_date" => Some(date(15)),
                "issuer" => Some("青岛市行政审批服务局".to_string()),
                "event_date" => Some(date(16)),
                "amount" => Some(format!("{}.{:02}", (y >> 18) % 20_000, (y >> 6) % 100)),
                "period" => Some(format!("2025{:02}", 1 + (y >> 22) % 12)),
                "insurance_type" => Some(pick(INSURANCE, y >> 23).to_string()),
                "pay_base" => Some(format!("{}.00", 3_500 + (y >> 24) % 20_000)),
                "employer" => {
                    Some(enterprise(seed, (y >> 25) % (persons / 20).max(50), persons).name)
                }
                "diagnosis" => Some(pick(DIAGNOSES, y >> 26).to_string()),
                "hospital" => Some(pick(HOSPITALS, y >> 27).to_string()),
                "school" => Some(pick(SCHOOLS, y >> 28).to_string()),
                "grade" => Some(format!("{}年级", 1 + (y >> 29) % 9)),
                "student_no" => Some(format!("G{}", p.id_number)),
                "property_no" => Some(format!(
                    "{}001001GB{:05}F{:08}",
                    p.division,
                    (i / 100) % 100_000,
                    i
                )),
                "location" => Some(household_address(
                    seed,
                    i,
                    (i % DISTRICTS.len() as u64) as usize,
                )),
                "area" => Some(format!("{}.{}", 30 + (y >> 30) % 200, (y >> 2) % 100)),
                "usage" => Some(pick(USAGES, y >> 31).to_string()),
                "owner_id" => Some(p.id_number.clone()),
                "owner_name" => Some(p.name.clone()),
                "record_id" => Some(format!("R{:012}", i)),
                "indicator" => Some(format!("指标{}", 1 + (y >> 33) % 40)),
                "value" => Some(format!("{}.{}", (y >> 34) % 100_000, (y >> 4) % 10)),
                "observed_at" => Some(format!(
                    "{} {:02}:{:02}:00",
                    date(35),
                    (y >> 36) % 24,
                    (y >> 37) % 60
                )),
                "longitude" => Some(format!("120.{:06}", 100_000 + (y >> 38) % 500_000)),
                "latitude" => Some(format!("36.{:06}", 50_000 + (y >> 39) % 300_000)),
                "case_no" => Some(format!("青执罚〔2025〕{}号", i)),
                "penalty" => Some("责令改正，罚款人民币五千元".to_string()),
                "permit_item" => Some("食品经营许可".to_string()),
                "vehicle_no" => Some(format!("鲁B{:05}", (y >> 40) % 100_000)),
                "bank_account" => Some(format!("6222{:015}", (y >> 12) % 1_000_000_000_000_000)),
                "disability_level" => Some(format!("{}", 1 + (y >> 41) % 4)),
                "status" => Some(pick(STATUSES, y >> 42).to_string()),
                "remark" => None,
                "legacy_id" => legacy_id(&p.id_number, y >> 43),
                _ => None,
            };

            let v = match (defect, col.as_str(), v) {
                (
                    Some(Defect::BadCheckDigit),
                    "id_number" | "legal_rep_id" | "owner_id",
                    Some(id),
                ) if id.len() == 18 => {
                    let last = id.as_bytes()[17];
                    let wrong = if last == b'9' {
                        '0'
                    } else if last == b'X' {
                        '1'
                    } else {
                        (last + 1) as char
                    };
                    Some(format!("{}{}", &id[..17], wrong))
                }
                (Some(Defect::MissingKey), _, _) if ci == 0 => None,
                (Some(Defect::ImpossibleDate), c, Some(_))
                    if !first_date_done && (c.ends_with("_date") || c == "event_date") =>
                {
                    first_date_done = true;
                    Some("2023-02-30".to_string())
                }
                (Some(Defect::UnknownDivision), "division", Some(_)) => Some("379999".to_string()),
                (Some(Defect::ConflictingAddress), "address", Some(a))
                    if !self.authoritative_address =>
                {
                    Some(a.replacen("号", "号附", 1))
                }
                (Some(Defect::BadMobile), "mobile", Some(m)) => m.get(..10).map(str::to_string),
                (_, _, v) => v,
            };
            // Keyless sources: keyed by hand from what a person says.
            let v = if self.subject == Subject::Keyless {
                v.map(|v| {
                    hand_keyed(
                        col,
                        v,
                        h(seed ^ self.resource_salt, 6, i ^ (ci as u64) << 40),
                    )
                })
                .filter(|v| !v.is_empty())
            } else {
                v
            };
            out.push(v);
        }
        (out, p.id_number)
    }
}

/// The 15-digit GB 11643-1989 form of an ID number (no century, no check character), as an
/// old system registered it, for about one record in five of people born in the 1900s.
fn legacy_id(id: &str, x: u64) -> Option<String> {
    if id.len() != 18 || &id[6..8] != "19" || !x.is_multiple_of(5) {
        return None;
    }
    Some(format!("{}{}", &id[..6], &id[8..17]))
}

/// Homophones of the demo's given names (同音字), as a clerk keying a spoken name writes them.
const HOMOPHONES: &[(&str, &str)] = &[
    ("伟", "玮"),
    ("芳", "方"),
    ("敏", "闵"),
    ("静", "婧"),
    ("丽", "莉"),
    ("强", "蔷"),
    ("磊", "垒"),
    ("军", "君"),
    ("洋", "阳"),
    ("勇", "永"),
    ("艳", "燕"),
    ("杰", "洁"),
    ("娟", "鹃"),
    ("涛", "滔"),
    ("明", "鸣"),
    ("超", "潮"),
    ("霞", "侠"),
    ("平", "萍"),
    ("刚", "钢"),
    ("英", "瑛"),
    ("燕", "艳"),
    ("华", "桦"),
    ("东", "冬"),
];

/// The pinyin of the demo's surnames and given-name characters, for names keyed in pinyin.
const PINYIN: &[(&str, &str)] = &[
    ("王", "WANG"),
    ("李", "LI"),
    ("张", "ZHANG"),
    ("刘", "LIU"),
    ("陈", "CHEN"),
    ("杨", "YANG"),
    ("赵", "ZHAO"),
    ("黄", "HUANG"),
    ("周", "ZHOU"),
    ("吴", "WU"),
    ("徐", "XU"),
    ("孙", "SUN"),
    ("胡", "HU"),
    ("朱", "ZHU"),
    ("高", "GAO"),
    ("林", "LIN"),
    ("何", "HE"),
    ("郭", "GUO"),
    ("马", "MA"),
    ("罗", "LUO"),
    ("于", "YU"),
    ("姜", "JIANG"),
    ("崔", "CUI"),
    ("曲", "QU"),
    ("伟", "WEI"),
    ("芳", "FANG"),
    ("娜", "NA"),
    ("敏", "MIN"),
    ("静", "JING"),
    ("丽", "LI"),
    ("强", "QIANG"),
    ("磊", "LEI"),
    ("军", "JUN"),
    ("洋", "YANG"),
    ("勇", "YONG"),
    ("艳", "YAN"),
    ("杰", "JIE"),
    ("娟", "JUAN"),
    ("涛", "TAO"),
    ("明", "MING"),
    ("超", "CHAO"),
    ("秀", "XIU"),
    ("英", "YING"),
    ("霞", "XIA"),
    ("平", "PING"),
    ("刚", "GANG"),
    ("桂", "GUI"),
    ("海", "HAI"),
    ("燕", "YAN"),
    ("建", "JIAN"),
    ("华", "HUA"),
    ("晓", "XIAO"),
    ("东", "DONG"),
    ("志", "ZHI"),
];

fn fullwidth_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect()
}

/// A value as a clerk keys it from what a person says: names by sound or in pinyin, dates in
/// other spellings or with day and month swapped, addresses without the city, in full-width
/// digits, in the compact unit-room form or under the district's old name, phones with +86.
fn hand_keyed(col: &str, v: String, z: u64) -> String {
    let u = unit(z);
    match col {
        "name" if u < 0.20 => {
            let mut out = v.clone();
            for (a, b) in HOMOPHONES {
                if v.ends_with(a) {
                    out = format!("{}{b}", &v[..v.len() - a.len()]);
                    break;
                }
            }
            out
        }
        "name" if u < 0.28 => v
            .chars()
            .map(|c| {
                PINYIN
                    .iter()
                    .find(|(h, _)| h.starts_with(c))
                    .map_or(c.to_string(), |(_, p)| format!("{p} "))
            })
            .collect::<String>()
            .trim()
            .to_string(),
        "name" if u < 0.31 && v.starts_with('王') => v.replacen('王', "玉", 1),
        "birth_date" => {
            let parts: Vec<&str> = v.split('-').collect();
            match (parts.as_slice(), u) {
                ([y, m, d], u) if u < 0.08 && d.parse::<u32>().is_ok_and(|d| d <= 12) => {
                    format!("{y}-{d}-{m}")
                }
                ([y, m, d], u) if u < 0.40 => format!(
                    "{y}年{}月{}日",
                    m.trim_start_matches('0'),
                    d.trim_start_matches('0')
                ),
                ([y, m, d], u) if u < 0.60 => format!("{y}{m}{d}"),
                _ => v,
            }
        }
        "address" => {
            let mut a = v;
            if u < 0.35 {
                a = a.replacen("青岛市", "", 1);
            }
            if unit(z >> 3) < 0.30 {
                a = fullwidth_digits(&a);
            }
            if unit(z >> 6) < 0.25 {
                a = a.replace("单元", "-").replace('室', "");
            }
            if unit(z >> 9) < 0.30 {
                a = a.replacen("市北区", "四方区", 1);
            }
            a
        }
        // Not every caller leaves a number.
        "mobile" if u < 0.10 => String::new(),
        "mobile" if u < 0.20 => format!("+86 {v}"),
        "mobile" if u < 0.30 => {
            if v.len() == 11 {
                format!("{}-{}-{}", &v[..3], &v[3..7], &v[7..])
            } else {
                v
            }
        }
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persons_are_valid_unique_and_stable() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            let p = person(7, i);
            let id: IdNumber = p.id_number.parse().expect("valid GB 11643 number");
            assert_eq!(id.birth_date(), p.birth);
            assert_eq!(
                id.sex() == shuniu_types::Sex::Male,
                p.sex == 1,
                "sex digit matches"
            );
            assert!(seen.insert(p.id_number.clone()), "unique {}", p.id_number);
            assert!(DISTRICTS.iter().any(|d| d.0 == p.division));
        }
        assert_eq!(person(7, 123).id_number, person(7, 123).id_number);
        // A city of ten million: indices far out still give valid, distinct numbers.
        let a = person(7, 9_999_999).id_number;
        let b = person(7, 9_999_989).id_number;
        assert!(a.parse::<IdNumber>().is_ok() && a != b);
    }

    #[test]
    fn keyless_rows_hide_their_person_behind_hand_keyed_values() {
        let city = crate::generate(7);
        let (index, hospital) = city
            .resources
            .iter()
            .enumerate()
            .find(|(_, r)| r.subject == Subject::Keyless && r.input.name == "门诊就诊登记信息")
            .expect("the demo has a keyless hospital source");
        let columns: Vec<&str> = hospital
            .input
            .data_items
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert!(!columns.contains(&"id_number"), "{columns:?}");
        let col = |c: &str| columns.iter().position(|x| *x == c).expect(c);
        let plan = DatasetPlan::for_resource(hospital, index, 3000, 0.02);
        let rows: Vec<_> = plan.rows_with_truth(7, 3000).collect();
        assert_eq!(rows.len(), 1000);
        let (mut renamed, mut legacy, mut respelled) = (0, 0, 0);
        for (row, truth) in &rows {
            let id: IdNumber = truth.parse().expect("the truth is a valid ID number");
            let person_name = (0..3000)
                .map(|i| person(7, i))
                .find(|p| p.id_number == *truth)
                .map(|p| p.name)
                .expect("the truth is a resident");
            if row[col("name")].as_deref() != Some(person_name.as_str()) {
                renamed += 1;
            }
            if let Some(old) = &row[col("legacy_id")] {
                assert_eq!(old.len(), 15);
                assert_eq!(IdNumber::upgrade_legacy(old).ok(), Some(id.clone()));
                legacy += 1;
            }
            if row[col("birth_date")]
                .as_deref()
                .is_some_and(|d| d != id.birth_date().format("%Y-%m-%d").to_string())
            {
                respelled += 1;
            }
        }
        // About a quarter of names by sound or in pinyin, a fifth of older patients' legacy
        // numbers, most dates in another spelling.
        assert!((150..=450).contains(&renamed), "{renamed}");
        assert!((80..=300).contains(&legacy), "{legacy}");
        assert!(respelled > 400, "{respelled}");
    }

    #[test]
    fn enterprises_have_valid_distinct_credit_codes() {
        let mut seen = std::collections::HashSet::new();
        for k in 0..5_000 {
            let e = enterprise(7, k, 100_000);
            assert!(
                e.credit_code.parse::<CreditCode>().is_ok(),
                "{}",
                e.credit_code
            );
            assert!(
                e.reg_no.parse::<RegistrationNumber>().is_ok(),
                "{}",
                e.reg_no
            );
            assert!(seen.insert(e.reg_no.clone()));
            assert!(seen.insert(e.credit_code));
        }
    }
}
