//! The synthetic demo city: Qingdao-like departments with real GB/T 2260 codes, their
//! users, and a catalog of 300+ resources that reads like a real city's — base libraries,
//! thematic and department resources, negative-listed entries with their legal basis,
//! drafts, entries waiting for review and returned ones.
//!
//! Generation is pure and deterministic: the same seed gives the same city, byte for byte.
//! The binary applies it through the ordinary services (accounts, catalog), so the demo
//! exercises the same code paths as real use. Each resource says what its rows describe
//! ([`Subject`]) and which items it holds, so that the data generator of a later capability
//! can fill it.
//!
//! Architecture invariant: no I/O, no storage; depends on domain types only.

use chrono::NaiveDate;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shuniu_types::{CreditCode, DataItemInput, DivisionCode, ResourceInput, Role};

pub mod data;
mod templates;
use templates::{ITEMS, RESOURCES};

/// The demo city: 青岛市.
pub const CITY_DIVISION: &str = "370200";
pub const CITY_NAME: &str = "青岛市";
/// The hub operator's department (大数据局).
pub const HUB_DEPARTMENT: &str = "370200DSJ";

/// Districts and county-level cities of Qingdao (GB/T 2260).
pub const DISTRICTS: &[(&str, &str)] = &[
    ("370202", "市南区"),
    ("370203", "市北区"),
    ("370211", "黄岛区"),
    ("370212", "崂山区"),
    ("370213", "李沧区"),
    ("370214", "城阳区"),
    ("370215", "即墨区"),
    ("370281", "胶州市"),
    ("370283", "平度市"),
    ("370285", "莱西市"),
];

/// City departments: (short code, name, short name).
pub const CITY_DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("DSJ", "青岛市大数据发展管理局", "大数据局"),
    ("GA", "青岛市公安局", "公安"),
    ("MZ", "青岛市民政局", "民政"),
    ("RS", "青岛市人力资源和社会保障局", "人社"),
    ("WJ", "青岛市卫生健康委员会", "卫健"),
    ("YB", "青岛市医疗保障局", "医保"),
    ("SJ", "青岛市市场监督管理局", "市场监管"),
    ("ZR", "青岛市自然资源和规划局", "自然资源"),
    ("ZJ", "青岛市住房和城乡建设局", "住建"),
    ("JY", "青岛市教育局", "教育"),
    ("SW", "国家税务总局青岛市税务局", "税务"),
    ("GJJ", "青岛市住房公积金管理中心", "公积金"),
    ("FG", "青岛市发展和改革委员会", "发改"),
    ("GX", "青岛市工业和信息化局", "工信"),
    ("CZ", "青岛市财政局", "财政"),
    ("ST", "青岛市生态环境局", "生态环境"),
    ("JT", "青岛市交通运输局", "交通"),
    ("SL", "青岛市水务管理局", "水务"),
    ("NY", "青岛市农业农村局", "农业农村"),
    ("SWU", "青岛市商务局", "商务"),
    ("WL", "青岛市文化和旅游局", "文旅"),
    ("YJ", "青岛市应急管理局", "应急"),
    ("SF", "青岛市司法局", "司法"),
    ("TJ", "青岛市统计局", "统计"),
    ("TY", "青岛市体育局", "体育"),
    ("TV", "青岛市退役军人事务局", "退役军人"),
    ("CG", "青岛市城市管理局", "城管"),
    ("XF", "青岛市信访局", "信访"),
    ("SP", "青岛市行政审批服务局", "行政审批"),
    ("GZ", "青岛市人民政府国有资产监督管理委员会", "国资"),
    ("JR", "青岛市地方金融监督管理局", "金融"),
    ("YL", "青岛市园林和林业局", "园林"),
    ("HY", "青岛市海洋发展局", "海洋"),
    ("QX", "青岛市气象局", "气象"),
    ("DA", "青岛市档案馆", "档案"),
    ("CL", "青岛市残疾人联合会", "残联"),
    ("GH", "青岛市总工会", "工会"),
    ("FY", "青岛市中级人民法院", "法院"),
    ("YS", "青岛市医疗保障基金中心", "医保中心"),
    ("RF", "青岛市人民防空办公室", "人防"),
    ("MW", "青岛市民族宗教事务局", "民宗"),
];

/// District-level branches created in every district: (suffix, name suffix, parent).
const DISTRICT_BRANCHES: &[(&str, &str, &str)] = &[
    ("DSJ", "大数据中心", "DSJ"),
    ("GA", "公安分局", "GA"),
    ("MZ", "民政局", "MZ"),
];

#[derive(Debug, Clone)]
pub struct DemoDepartment {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub parent_code: Option<String>,
    pub division: String,
    pub credit_code: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoUser {
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub department: String,
    pub password: String,
}

/// What a resource's rows describe; a later data generator keys rows by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// One row per person, keyed by ID number.
    Person,
    /// One row per legal entity, keyed by credit code.
    Enterprise,
    /// One row per property or place.
    Property,
    /// Aggregates, events, observations.
    General,
    /// One row per contact with a person (a visit, a call) keyed by its own record number,
    /// without a usable ID number: such rows reach a person only by record linkage. Generated
    /// with the defects of hand-keyed data, and with their truth known.
    Keyless,
}

/// Where the demo leaves a catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Published,
    Draft,
    Submitted,
    Returned(String),
    Withdrawn(String),
}

#[derive(Debug, Clone)]
pub struct DemoResource {
    pub input: ResourceInput,
    pub subject: Subject,
    pub fate: Fate,
}

#[derive(Debug, Clone)]
pub struct DemoCity {
    pub seed: u64,
    pub departments: Vec<DemoDepartment>,
    pub users: Vec<DemoUser>,
    pub resources: Vec<DemoResource>,
}

/// The login of the demo's hub operator (大数据局), the first user generated.
pub const OPERATOR_LOGIN: &str = "admin";

impl DemoCity {
    /// The hub operator the demo acts as when it applies the city.
    pub fn operator(&self) -> Option<&DemoUser> {
        self.users.iter().find(|u| u.login == OPERATOR_LOGIN)
    }

    /// The data officers (数据管理员), one per department that has one.
    pub fn officers(&self) -> impl Iterator<Item = &DemoUser> {
        self.users.iter().filter(|u| u.role == Role::DataOfficer)
    }

    /// The data officer of `department`, who registers and loads its data in the demo.
    pub fn officer_of(&self, department: &str) -> Option<&DemoUser> {
        self.officers().find(|u| u.department == department)
    }
}

pub(crate) const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "于", "姜", "崔", "曲",
];
pub(crate) const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "海燕", "建华", "晓东", "志强",
];

const RETURN_REASONS: &[&str] = &[
    "信息项“证件号码”未标注为个人信息，请补充脱敏规则后重新提交",
    "资源摘要过于简单，请说明数据范围、来源系统和统计口径",
    "更新周期与实际数据更新频率不符，请核实后修改",
    "共享条件表述不明确，请列明使用部门需具备的法定职责",
    "数据长度与源系统字段定义不一致，请核对信息项定义",
];

fn person_name(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{}{}",
        SURNAMES.choose(rng).copied().unwrap_or("王"),
        GIVEN.choose(rng).copied().unwrap_or("伟")
    )
}

fn password(rng: &mut ChaCha8Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let body: String = (0..10)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("Qd-{body}")
}

/// A government organ's credit code: registration authority 1 (机构编制), category 1 (机关).
fn organ_credit_code(rng: &mut ChaCha8Rng, division: &str) -> String {
    const BODY: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let div: DivisionCode = division
        .parse()
        .unwrap_or_else(|_| "370200".parse().expect("constant parses"));
    loop {
        let body: String = (0..8)
            .map(|_| BODY[rng.gen_range(0..BODY.len())] as char)
            .collect();
        if let Some(c) = CreditCode::compose("11", div, &body) {
            return c.to_string();
        }
    }
}

/// Generates the city for `seed`.
pub fn generate(seed: u64) -> DemoCity {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut departments = Vec::new();
    for (short, name, short_name) in CITY_DEPARTMENTS {
        departments.push(DemoDepartment {
            code: format!("{CITY_DIVISION}{short}"),
            name: (*name).into(),
            short_name: (*short_name).into(),
            parent_code: None,
            division: CITY_DIVISION.into(),
            credit_code: organ_credit_code(&mut rng, CITY_DIVISION),
        });
    }
    for (division, district) in DISTRICTS {
        for (suffix, name_suffix, parent) in DISTRICT_BRANCHES {
            departments.push(DemoDepartment {
                code: format!("{division}{suffix}"),
                name: format!("{CITY_NAME}{district}{name_suffix}"),
                short_name: format!("{}{}", district.trim_end_matches(['区', '市']), name_suffix),
                parent_code: Some(format!("{CITY_DIVISION}{parent}")),
                division: (*division).into(),
                credit_code: organ_credit_code(&mut rng, division),
            });
        }
    }

    let mut users = vec![DemoUser {
        login: OPERATOR_LOGIN.into(),
        display_name: format!("{}（大数据局）", person_name(&mut rng)),
        role: Role::HubOperator,
        department: HUB_DEPARTMENT.into(),
        password: password(&mut rng),
    }];
    for (short, _, short_name) in CITY_DEPARTMENTS.iter().skip(1) {
        users.push(DemoUser {
            login: format!("{}.officer", short.to_lowercase()),
            display_name: format!("{}（{}数据管理员）", person_name(&mut rng), short_name),
            role: Role::DataOfficer,
            department: format!("{CITY_DIVISION}{short}"),
            password: password(&mut rng),
        });
    }
    for short in ["GA", "MZ", "RS", "WJ", "JY"] {
        users.push(DemoUser {
            login: format!("{}.viewer", short.to_lowercase()),
            display_name: format!("{}（查看员）", person_name(&mut rng)),
            role: Role::Viewer,
            department: format!("{CITY_DIVISION}{short}"),
            password: password(&mut rng),
        });
    }
    for (division, _) in DISTRICTS {
        users.push(DemoUser {
            login: format!("d{division}.officer"),
            display_name: format!("{}（区县数据管理员）", person_name(&mut rng)),
            role: Role::DataOfficer,
            department: format!("{division}DSJ"),
            password: password(&mut rng),
        });
    }

    let resources = resources(&mut rng);
    DemoCity {
        seed,
        departments,
        users,
        resources,
    }
}

fn resources(rng: &mut ChaCha8Rng) -> Vec<DemoResource> {
    let mut out = Vec::new();
    // Subject codes (目) are numbered within each (类, 项).
    let mut next_subject: std::collections::HashMap<(String, u8), u16> = Default::default();
    let publish_base = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap_or_default();
    for t in RESOURCES {
        let targets: Vec<(String, String)> = if t.per_district {
            // District data is provided by the district's branch of the department where one
            // exists, otherwise by the district's big-data centre that aggregates it.
            let branch = if DISTRICT_BRANCHES.iter().any(|b| b.0 == t.dept) {
                t.dept
            } else {
                "DSJ"
            };
            DISTRICTS
                .iter()
                .map(|(d, name)| (format!("{d}{branch}"), format!("{name}{}", t.name)))
                .collect()
        } else {
            vec![(format!("{CITY_DIVISION}{}", t.dept), t.name.to_string())]
        };
        for (provider, name) in targets {
            let key = (t.kind.to_string(), t.item.0);
            let subject_code = {
                let n = next_subject.entry(key).or_insert(0);
                *n += 1;
                *n
            };
            let subject = t.subject;
            let mut items: Vec<DataItemInput> = Vec::new();
            let base: &[&str] = match (subject, t.keyed_by) {
                (Subject::Enterprise, Some("org_code")) => &["org_code", "ent_name", "legal_rep"],
                (Subject::Enterprise, Some(_)) => &["reg_no", "ent_name", "legal_rep"],
                (Subject::Person, _) => &["id_number", "name", "sex", "birth_date"],
                (Subject::Enterprise, _) => &["credit_code", "ent_name", "legal_rep"],
                (Subject::Property, _) => &["property_no", "location", "division"],
                (Subject::General, _) => &["record_id", "division"],
                (Subject::Keyless, _) => &["record_id", "name"],
            };
            for key in base.iter().chain(t.items.iter()) {
                if items.iter().any(|i| i.name == *key) {
                    continue;
                }
                if let Some(def) = ITEMS.iter().find(|d| d.0 == *key) {
                    items.push(DataItemInput {
                        name: def.0.into(),
                        label: def.1.into(),
                        data_type: def.2.into(),
                        length: def.3,
                        description: def.4.into(),
                        is_key: items.is_empty(),
                        required: items.is_empty(),
                        personal: def.5,
                        sensitive: def.6,
                        masking: String::new(),
                        semantic_type: def.7.into(),
                    });
                }
            }
            let (share, open, level) = match (t.share, subject) {
                ("not_shared", _) => ("not_shared", "not_open", "general_4"),
                (s, Subject::Person | Subject::Keyless) => (
                    s,
                    "not_open",
                    if t.sensitive {
                        "general_4"
                    } else {
                        "general_3"
                    },
                ),
                (s, Subject::Enterprise) => (
                    s,
                    if t.open { "conditional" } else { "not_open" },
                    "general_2",
                ),
                (s, _) => (
                    s,
                    if t.open { "unconditional" } else { "not_open" },
                    if t.open { "general_1" } else { "general_2" },
                ),
            };
            let share_conditions = if share == "conditional" {
                match subject {
                    Subject::Person | Subject::Keyless => {
                        "仅限依法履行职责需要核验或使用个人信息的部门，按最小必要原则申请字段，用于政务服务办理"
                    }
                    Subject::Enterprise => {
                        "用于市场监管、信用评价、政策兑现等法定职责，不得向第三方提供"
                    }
                    _ => "用于本部门法定职责范围内的业务办理和统计分析",
                }
            } else {
                ""
            };
            let open_conditions = if open == "conditional" {
                "面向经实名注册的企业和科研机构，经提供部门审核同意后开放"
            } else {
                ""
            };
            let days = rng.gen_range(0..1500);
            let input = ResourceInput {
                name: name.clone(),
                provider,
                category: t.kind.into(),
                item_code: t.item.0,
                item_name: t.item.1.into(),
                subject_code,
                subject_name: t.name.chars().take(50).collect(),
                detail_code: None,
                detail_name: None,
                summary: format!(
                    "{}。{}",
                    t.summary,
                    if t.keyed_by.is_some() {
                        "数据来源于部门存量业务系统，以统一社会信用代码实施前的标识登记，由城市数据中枢经法人库关联到统一社会信用代码"
                    } else {
                        summary_tail(subject, t.cycle)
                    }
                ),
                format: t.format.into(),
                share_type: share.into(),
                share_conditions: share_conditions.into(),
                share_method: if subject == Subject::General {
                    "file".into()
                } else {
                    "interface".into()
                },
                open_type: open.into(),
                open_conditions: open_conditions.into(),
                legal_basis: t.legal_basis.into(),
                update_cycle: t.cycle.into(),
                level: level.into(),
                publish_date: Some(publish_base + chrono::Days::new(days)),
                related: Vec::new(),
                data_items: items,
            };
            out.push(DemoResource {
                input,
                subject,
                fate: Fate::Published,
            });
        }
    }
    // A realistic mix of lifecycle states: most published, some in the pipeline.
    let n = out.len();
    let mut idx: Vec<usize> = (0..n)
        .filter(|&i| out[i].input.share_type != "not_shared")
        .collect();
    idx.shuffle(rng);
    for (k, &i) in idx.iter().take(40).enumerate() {
        out[i].fate = match k % 10 {
            0..=3 => Fate::Draft,
            4..=6 => Fate::Submitted,
            7 | 8 => Fate::Returned(RETURN_REASONS[k % RETURN_REASONS.len()].into()),
            _ => Fate::Withdrawn("该资源已并入新的资源目录，原目录停止维护".into()),
        };
        out[i].input.publish_date = None;
    }
    // The city's household register is the authoritative source of addresses (一数一源), and
    // the civil-affairs cremation records feed pensions and insurance (change subscriptions):
    // whatever the seed, both are published.
    for r in out.iter_mut().filter(|r| {
        (r.input.name == "户籍人口基本信息" && r.input.provider == "370200GA")
            // The legal-entity register: every granted system's profiles reach enterprises.
            || (r.input.name == "市场主体登记信息" && r.input.provider == "370200SJ")
            || (r.input.name == "死亡火化信息" && r.input.provider == "370200MZ")
            // The portal's own example search word (人口) finds the population survey.
            || (r.input.name == "人口抽样调查汇总数据" && r.input.provider == "370200TJ")
            // Keyless sources: linkage quality is measured on every demo.
            || r.subject == Subject::Keyless
    }) {
        if r.fate != Fate::Published {
            r.fate = Fate::Published;
            r.input.publish_date = Some(publish_base);
        }
    }
    out
}

fn summary_tail(subject: Subject, cycle: &str) -> &'static str {
    match (subject, cycle) {
        (Subject::Person, _) => {
            "数据来源于部门业务系统，按自然人汇聚，以公民身份号码为唯一标识，涉及个人信息的字段按规定脱敏后共享"
        }
        (Subject::Enterprise, _) => {
            "数据来源于部门业务系统，按市场主体汇聚，以统一社会信用代码为唯一标识"
        }
        (Subject::Property, _) => {
            "数据来源于部门业务系统，以不动产单元号或设施编号为唯一标识，包含空间位置信息"
        }
        (Subject::Keyless, _) => {
            "数据来源于部门业务系统，按业务记录汇聚，未采集公民身份号码，经记录关联（姓名、出生日期、住址、电话）与人口库关联"
        }
        (Subject::General, "realtime") => "数据由物联感知设备实时采集，经清洗后汇聚至城市数据中枢",
        (Subject::General, _) => "数据按行政区划统计，可用于辅助决策和社会公众查询",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_realistic() {
        let a = generate(7);
        let b = generate(7);
        assert_eq!(
            a.users.iter().map(|u| &u.password).collect::<Vec<_>>(),
            b.users.iter().map(|u| &u.password).collect::<Vec<_>>()
        );
        assert_eq!(a.resources.len(), b.resources.len());
        assert!(a.resources.len() >= 300, "{} resources", a.resources.len());
        assert!(a.departments.len() >= 40);
        let c = generate(8);
        assert_ne!(a.users[0].password, c.users[0].password);
    }

    #[test]
    fn every_entry_validates_and_codes_are_real() {
        let city = generate(1);
        for d in &city.departments {
            assert!(d.division.parse::<DivisionCode>().is_ok());
            assert!(
                d.credit_code.parse::<CreditCode>().is_ok(),
                "{}",
                d.credit_code
            );
        }
        for r in &city.resources {
            if let Err(e) = r.input.validate() {
                panic!("{}: {:?}", r.input.name, e);
            }
            assert!(
                city.departments.iter().any(|d| d.code == r.input.provider),
                "{}",
                r.input.provider
            );
        }
        let negative = city
            .resources
            .iter()
            .filter(|r| r.input.share_type == "not_shared")
            .count();
        assert!(negative >= 4, "{negative} negative-listed");
        assert!(
            city.resources
                .iter()
                .any(|r| matches!(r.fate, Fate::Returned(_)))
        );
        assert!(city.resources.iter().any(|r| r.fate == Fate::Submitted));
    }
}
