//! The demo city's catalog, written out as a real city's departments would register it.

use crate::Subject;
use Subject::{Enterprise as E, General as G, Person as P, Property as H};

/// Data item library: (name, label, type, length, description, personal, sensitive, semantic type).
pub type ItemDef = (&'static str, &'static str, &'static str, Option<u32>, &'static str, bool, bool, &'static str);

pub const ITEMS: &[ItemDef] = &[
    ("id_number", "公民身份号码", "字符型", Some(18), "GB 11643 公民身份号码", true, true, "身份证号"),
    ("name", "姓名", "字符型", Some(50), "姓名", true, false, "姓名"),
    ("sex", "性别", "字符型", Some(1), "GB/T 2261.1 性别代码", true, false, "性别"),
    ("birth_date", "出生日期", "日期型", None, "出生日期", true, false, "日期"),
    ("nation", "民族", "字符型", Some(2), "GB/T 3304 民族代码", true, false, ""),
    ("address", "住址", "字符型", Some(200), "户籍或居住地址", true, false, "地址"),
    ("mobile", "联系电话", "字符型", Some(11), "手机号码", true, true, "手机号"),
    ("division", "行政区划代码", "字符型", Some(6), "GB/T 2260 行政区划代码", false, false, "行政区划代码"),
    ("household_no", "户号", "字符型", Some(20), "户籍户号", true, false, ""),
    ("relation", "与户主关系", "字符型", Some(2), "GB/T 4761 家庭关系代码", true, false, ""),
    ("credit_code", "统一社会信用代码", "字符型", Some(18), "GB 32100 统一社会信用代码", false, false, "统一社会信用代码"),
    ("ent_name", "单位名称", "字符型", Some(200), "市场主体或单位名称", false, false, ""),
    ("legal_rep", "法定代表人", "字符型", Some(50), "法定代表人姓名", true, false, "姓名"),
    ("legal_rep_id", "法定代表人证件号码", "字符型", Some(18), "法定代表人公民身份号码", true, true, "身份证号"),
    ("reg_address", "住所", "字符型", Some(200), "登记住所", false, false, "地址"),
    ("reg_date", "成立日期", "日期型", None, "成立日期", false, false, "日期"),
    ("capital", "注册资本", "货币型", None, "注册资本（万元）", false, false, "金额"),
    ("industry", "行业代码", "字符型", Some(5), "GB/T 4754 国民经济行业代码", false, false, ""),
    ("ent_status", "经营状态", "字符型", Some(2), "存续、注销、吊销等", false, false, ""),
    ("licence_no", "证照编号", "字符型", Some(40), "证照编号", false, false, ""),
    ("issue_date", "发证日期", "日期型", None, "发证日期", false, false, "日期"),
    ("expire_date", "有效期至", "日期型", None, "有效期截止日期", false, false, "日期"),
    ("issuer", "发证机关", "字符型", Some(100), "发证机关名称", false, false, ""),
    ("event_date", "登记日期", "日期型", None, "业务发生或登记日期", false, false, "日期"),
    ("amount", "金额", "货币型", None, "金额（元）", false, false, "金额"),
    ("period", "所属期", "字符型", Some(6), "YYYYMM", false, false, ""),
    ("insurance_type", "险种类型", "字符型", Some(3), "养老、医疗、失业、工伤、生育", false, false, ""),
    ("pay_base", "缴费基数", "货币型", None, "缴费基数（元）", true, true, "金额"),
    ("employer", "参保单位", "字符型", Some(200), "参保单位名称", false, false, ""),
    ("diagnosis", "诊断名称", "字符型", Some(200), "ICD-10 诊断名称", true, true, ""),
    ("hospital", "医疗机构名称", "字符型", Some(200), "医疗机构名称", false, false, ""),
    ("school", "学校名称", "字符型", Some(200), "学校名称", false, false, ""),
    ("grade", "年级", "字符型", Some(20), "年级", false, false, ""),
    ("student_no", "全国学籍号", "字符型", Some(19), "全国中小学生学籍号", true, false, ""),
    ("property_no", "不动产单元号", "字符型", Some(28), "GB/T 37346 不动产单元代码", false, false, ""),
    ("location", "坐落", "字符型", Some(200), "坐落地址", false, false, "地址"),
    ("area", "面积", "数值型", Some(12), "面积（平方米）", false, false, ""),
    ("usage", "用途", "字符型", Some(20), "用途", false, false, ""),
    ("owner_id", "权利人证件号码", "字符型", Some(18), "权利人公民身份号码或统一社会信用代码", true, true, "身份证号"),
    ("owner_name", "权利人", "字符型", Some(200), "权利人名称", true, false, "姓名"),
    ("record_id", "记录编号", "字符型", Some(32), "业务记录唯一编号", false, false, ""),
    ("indicator", "指标名称", "字符型", Some(100), "统计指标名称", false, false, ""),
    ("value", "指标值", "数值型", Some(18), "指标值", false, false, ""),
    ("observed_at", "采集时间", "日期时间型", None, "数据采集时间", false, false, ""),
    ("longitude", "经度", "数值型", Some(12), "WGS84 经度", false, false, ""),
    ("latitude", "纬度", "数值型", Some(12), "WGS84 纬度", false, false, ""),
    ("case_no", "案件编号", "字符型", Some(40), "案件编号", false, false, ""),
    ("penalty", "处罚内容", "备注型", None, "行政处罚决定内容", false, false, ""),
    ("permit_item", "许可事项", "字符型", Some(200), "行政许可事项名称", false, false, ""),
    ("vehicle_no", "号牌号码", "字符型", Some(10), "机动车号牌号码", true, false, ""),
    ("bank_account", "银行账号", "字符型", Some(30), "发放账户", true, true, "银行卡号"),
    ("disability_level", "残疾等级", "字符型", Some(2), "残疾等级", true, true, ""),
    ("status", "状态", "字符型", Some(10), "业务状态", false, false, ""),
    ("remark", "备注", "备注型", None, "备注", false, false, ""),
];

pub struct Template {
    pub dept: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub item: (u8, &'static str),
    pub subject: Subject,
    pub items: &'static [&'static str],
    pub share: &'static str,
    pub open: bool,
    pub sensitive: bool,
    pub cycle: &'static str,
    pub format: &'static str,
    pub summary: &'static str,
    pub legal_basis: &'static str,
    pub per_district: bool,
}

const fn r(dept: &'static str, name: &'static str, kind: &'static str, item: (u8, &'static str), subject: Subject, items: &'static [&'static str], share: &'static str, cycle: &'static str, summary: &'static str) -> Template {
    Template { dept, name, kind, item, subject, items, share, open: false, sensitive: false, cycle, format: "数据库", summary, legal_basis: "", per_district: false }
}

impl Template {
    const fn open(mut self) -> Self {
        self.open = true;
        self
    }
    const fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    const fn district(mut self) -> Self {
        self.per_district = true;
        self
    }
    const fn sheet(mut self) -> Self {
        self.format = "电子表格";
        self
    }
    const fn not_shared(mut self, basis: &'static str) -> Self {
        self.share = "not_shared";
        self.legal_basis = basis;
        self
    }
}

const B: &str = "base";
const T: &str = "theme";
const D: &str = "department";
const POP: (u8, &str) = (1, "人口");
const ENT: (u8, &str) = (2, "法人单位");
const GEO: (u8, &str) = (3, "自然资源和空间地理");
const CREDIT: (u8, &str) = (4, "社会信用");
const LIC: (u8, &str) = (5, "电子证照");
const SOC: (u8, &str) = (1, "社会保障");
const HEALTH: (u8, &str) = (2, "医疗健康");
const EDU: (u8, &str) = (3, "教育文化");
const MKT: (u8, &str) = (4, "市场监管");
const CITY: (u8, &str) = (5, "城市管理");
const ECO: (u8, &str) = (6, "生态环境");
const TRAFFIC: (u8, &str) = (7, "交通出行");
const SAFETY: (u8, &str) = (8, "公共安全");
const HOUSING: (u8, &str) = (9, "住房保障");
const AGRI: (u8, &str) = (10, "农业农村");
const ECON: (u8, &str) = (11, "经济运行");
const C: &str = "conditional";
const U: &str = "unconditional";

pub const RESOURCES: &[Template] = &[
    // 公安
    r("GA", "户籍人口基本信息", B, POP, P, &["nation", "address", "household_no", "relation", "division"], C, "daily", "全市户籍人口的身份、户籍地址和户主关系信息"),
    r("GA", "常住人口信息", B, POP, P, &["address", "division"], C, "monthly", "在本市居住半年以上人口的居住信息"),
    r("GA", "流动人口居住登记信息", B, POP, P, &["address", "mobile", "event_date"], C, "daily", "流动人口居住登记和居住证办理信息"),
    r("GA", "户籍迁入迁出登记信息", B, POP, P, &["address", "event_date", "division"], C, "daily", "户口迁入、迁出、变更登记记录"),
    r("GA", "居民身份证制证信息", B, LIC, P, &["licence_no", "issue_date", "expire_date", "issuer"], C, "daily", "居民身份证申领、制证、签发信息"),
    r("GA", "机动车登记信息", T, TRAFFIC, P, &["vehicle_no", "event_date", "status"], C, "daily", "机动车注册、转移、抵押、注销登记信息"),
    r("GA", "机动车驾驶证信息", B, LIC, P, &["licence_no", "issue_date", "expire_date", "status"], C, "daily", "机动车驾驶证核发和状态信息"),
    r("GA", "道路交通事故统计信息", T, TRAFFIC, G, &["indicator", "value", "period"], U, "monthly", "按区市、道路类型统计的道路交通事故起数和伤亡情况").open(),
    r("GA", "在逃人员信息", T, SAFETY, P, &["case_no", "event_date"], C, "realtime", "公安机关上网追逃人员信息").not_shared("《中华人民共和国刑事诉讼法》第一百五十五条；《中华人民共和国人民警察法》第二十二条"),
    r("GA", "重点人员管控信息", T, SAFETY, P, &["case_no", "status"], C, "realtime", "涉恐涉稳重点人员管控信息").not_shared("《中华人民共和国反恐怖主义法》第四十八条"),
    r("GA", "犯罪记录封存信息", T, SAFETY, P, &["case_no", "event_date"], C, "irregular", "未成年人犯罪记录封存信息").not_shared("《中华人民共和国刑事诉讼法》第二百八十六条"),
    r("GA", "户籍人口变动情况", D, (2, "公安"), G, &["indicator", "value", "period"], U, "monthly", "按派出所辖区统计的户籍人口出生、死亡、迁入、迁出数").district(),
    // 民政
    r("MZ", "婚姻登记信息", B, POP, P, &["event_date", "status", "remark"], C, "daily", "结婚、离婚、补发婚姻登记证信息"),
    r("MZ", "死亡火化信息", B, POP, P, &["event_date", "address"], C, "daily", "殡仪馆火化登记信息，用于死亡人员待遇停发"),
    r("MZ", "最低生活保障家庭信息", T, SOC, P, &["household_no", "amount", "bank_account", "address"], C, "monthly", "城乡最低生活保障对象及保障金发放信息").sensitive(),
    r("MZ", "特困人员救助供养信息", T, SOC, P, &["amount", "address", "status"], C, "monthly", "特困人员认定和供养金发放信息").sensitive(),
    r("MZ", "临时救助信息", T, SOC, P, &["amount", "event_date"], C, "monthly", "临时救助对象及救助金额信息"),
    r("MZ", "养老机构信息", T, SOC, E, &["reg_address", "licence_no", "status"], U, "quarterly", "养老机构备案、床位和服务信息").open(),
    r("MZ", "社会组织登记信息", B, ENT, E, &["reg_date", "reg_address", "ent_status"], U, "daily", "社会团体、民办非企业单位、基金会登记信息").open(),
    r("MZ", "地名信息", B, GEO, H, &["longitude", "latitude", "remark"], U, "yearly", "标准地名及其地理位置信息").open(),
    r("MZ", "低保家庭核对信息", D, (3, "民政"), P, &["household_no", "amount", "status"], C, "monthly", "区市低保家庭经济状况核对结果").district().sensitive(),
    r("MZ", "高龄津贴发放信息", D, (3, "民政"), P, &["amount", "bank_account", "period"], C, "monthly", "80 周岁以上老年人高龄津贴发放信息").district(),
    r("MZ", "残疾人两项补贴信息", D, (3, "民政"), P, &["amount", "disability_level", "period"], C, "monthly", "困难残疾人生活补贴和重度残疾人护理补贴发放信息").district().sensitive(),
    // 人社
    r("RS", "社会保险参保信息", T, SOC, P, &["insurance_type", "employer", "event_date", "status"], C, "daily", "职工和城乡居民各险种参保登记信息"),
    r("RS", "社会保险缴费信息", T, SOC, P, &["insurance_type", "pay_base", "period", "amount"], C, "monthly", "社会保险个人缴费明细").sensitive(),
    r("RS", "养老金发放信息", T, SOC, P, &["amount", "period", "bank_account"], C, "monthly", "企业职工和城乡居民基本养老金发放信息").sensitive(),
    r("RS", "失业登记信息", T, SOC, P, &["event_date", "status"], C, "daily", "城镇登记失业人员信息"),
    r("RS", "就业登记信息", T, SOC, P, &["employer", "event_date"], C, "daily", "劳动者就业登记和劳动合同备案信息"),
    r("RS", "职业资格证书信息", B, LIC, P, &["licence_no", "issue_date", "issuer"], U, "monthly", "职业资格和职业技能等级证书信息"),
    r("RS", "人力资源服务机构信息", T, MKT, E, &["licence_no", "reg_address"], U, "monthly", "经营性人力资源服务机构许可和备案信息").open(),
    r("RS", "社保卡发卡信息", B, LIC, P, &["licence_no", "issue_date", "status"], C, "daily", "社会保障卡制发、挂失、补换信息"),
    r("RS", "就业困难人员认定信息", D, (4, "人社"), P, &["event_date", "status"], C, "monthly", "区市就业困难人员认定和援助信息").district(),
    // 卫健
    r("WJ", "出生医学证明信息", B, POP, P, &["event_date", "hospital", "address"], C, "daily", "新生儿出生医学证明签发信息"),
    r("WJ", "死亡医学证明信息", B, POP, P, &["event_date", "hospital"], C, "daily", "居民死亡医学证明签发信息"),
    r("WJ", "医疗机构执业信息", T, HEALTH, E, &["licence_no", "reg_address", "expire_date"], U, "monthly", "医疗机构执业许可和校验信息").open(),
    r("WJ", "医师执业注册信息", B, LIC, P, &["licence_no", "hospital", "issue_date"], U, "monthly", "医师执业注册信息"),
    r("WJ", "预防接种信息", T, HEALTH, P, &["event_date", "hospital", "remark"], C, "daily", "儿童和成人预防接种记录").sensitive(),
    r("WJ", "居民电子健康档案", T, HEALTH, P, &["hospital", "diagnosis", "event_date"], C, "daily", "居民健康档案摘要信息").sensitive(),
    r("WJ", "严重精神障碍患者信息", T, HEALTH, P, &["diagnosis", "status"], C, "monthly", "严重精神障碍患者登记和随访管理信息").not_shared("《中华人民共和国精神卫生法》第四条"),
    r("WJ", "传染病报告个案信息", T, HEALTH, P, &["diagnosis", "event_date", "hospital"], C, "realtime", "法定传染病报告个案信息").not_shared("《中华人民共和国传染病防治法》第十二条、第六十八条"),
    r("WJ", "计划生育家庭特别扶助信息", T, SOC, P, &["amount", "period"], C, "yearly", "计划生育特殊家庭扶助金发放信息"),
    r("WJ", "卫生资源统计信息", T, HEALTH, G, &["indicator", "value", "period"], U, "yearly", "医疗卫生机构、床位、卫生技术人员数").open(),
    r("WJ", "家庭医生签约信息", D, (5, "卫健"), P, &["hospital", "event_date"], C, "monthly", "区市家庭医生签约服务信息").district(),
    // 医保
    r("YB", "基本医疗保险参保信息", T, SOC, P, &["insurance_type", "employer", "status"], C, "daily", "职工和居民基本医疗保险参保信息"),
    r("YB", "医疗费用结算信息", T, HEALTH, P, &["hospital", "amount", "event_date", "diagnosis"], C, "daily", "定点医药机构医疗费用结算明细").sensitive(),
    r("YB", "定点医药机构信息", T, HEALTH, E, &["reg_address", "status"], U, "monthly", "医保定点医疗机构和零售药店信息").open(),
    r("YB", "长期护理保险待遇信息", T, SOC, P, &["amount", "period", "status"], C, "monthly", "长期护理保险失能评估和待遇享受信息"),
    r("YB", "医疗救助信息", T, SOC, P, &["amount", "event_date"], C, "monthly", "困难群众医疗救助信息").sensitive(),
    // 市场监管
    r("SJ", "市场主体登记信息", B, ENT, E, &["reg_date", "capital", "industry", "reg_address", "ent_status", "legal_rep_id"], U, "realtime", "企业、个体工商户、农民专业合作社登记信息").open(),
    r("SJ", "营业执照信息", B, LIC, E, &["licence_no", "issue_date", "issuer"], U, "daily", "营业执照电子证照信息"),
    r("SJ", "企业年报信息", B, CREDIT, E, &["period", "amount"], U, "yearly", "企业年度报告公示信息").open(),
    r("SJ", "经营异常名录信息", B, CREDIT, E, &["event_date", "remark"], U, "daily", "列入和移出经营异常名录信息").open(),
    r("SJ", "严重违法失信企业名单", B, CREDIT, E, &["event_date", "remark"], U, "daily", "列入严重违法失信名单的市场主体").open(),
    r("SJ", "行政处罚信息", B, CREDIT, E, &["case_no", "penalty", "event_date"], U, "daily", "市场监管行政处罚决定信息").open(),
    r("SJ", "食品经营许可信息", T, MKT, E, &["licence_no", "issue_date", "expire_date"], U, "daily", "食品经营许可证核发信息").open(),
    r("SJ", "特种设备登记信息", T, MKT, E, &["record_id", "location", "status"], C, "monthly", "电梯、锅炉等特种设备使用登记信息"),
    r("SJ", "产品质量监督抽查信息", T, MKT, E, &["event_date", "status", "remark"], U, "monthly", "产品质量监督抽查结果").open(),
    r("SJ", "个体工商户登记信息", D, (6, "市场监管"), E, &["reg_date", "reg_address", "ent_status"], U, "daily", "区市个体工商户登记信息").district(),
    // 自然资源
    r("ZR", "不动产登记信息", B, GEO, H, &["owner_name", "owner_id", "area", "usage", "event_date"], C, "daily", "不动产首次、转移、变更、抵押登记信息").sensitive(),
    r("ZR", "不动产权证书信息", B, LIC, H, &["licence_no", "owner_name", "issue_date"], C, "daily", "不动产权证书和登记证明电子证照"),
    r("ZR", "国土空间规划信息", B, GEO, H, &["usage", "area"], U, "yearly", "国土空间总体规划和详细规划信息").open(),
    r("ZR", "建设用地供应信息", B, GEO, H, &["usage", "area", "amount", "event_date"], U, "monthly", "国有建设用地出让、划拨信息").open(),
    r("ZR", "基础测绘成果目录", B, GEO, G, &["remark"], C, "yearly", "基础测绘成果目录信息").sheet(),
    r("ZR", "地质灾害隐患点信息", T, SAFETY, H, &["longitude", "latitude", "status"], U, "quarterly", "地质灾害隐患点分布和监测信息").open(),
    // 住建
    r("ZJ", "商品房预售许可信息", T, HOUSING, H, &["licence_no", "area", "issue_date"], U, "daily", "商品房预售许可证核发信息").open(),
    r("ZJ", "商品房网签备案信息", T, HOUSING, H, &["owner_name", "owner_id", "amount", "event_date"], C, "daily", "新建商品房买卖合同网签备案信息").sensitive(),
    r("ZJ", "公共租赁住房保障信息", T, HOUSING, P, &["address", "amount", "status"], C, "monthly", "公租房申请、配租和租赁补贴信息"),
    r("ZJ", "建筑业企业资质信息", B, LIC, E, &["licence_no", "issue_date", "expire_date"], U, "monthly", "建筑业企业资质证书信息").open(),
    r("ZJ", "建设工程施工许可信息", T, CITY, E, &["licence_no", "location", "issue_date"], U, "daily", "建筑工程施工许可证核发信息").open(),
    r("ZJ", "物业服务企业信息", T, CITY, E, &["reg_address", "status"], U, "quarterly", "物业服务企业和项目信息").open(),
    r("ZJ", "既有建筑安全排查信息", T, SAFETY, H, &["location", "status", "event_date"], C, "quarterly", "城镇既有建筑安全隐患排查信息"),
    // 教育
    r("JY", "中小学生学籍信息", T, EDU, P, &["student_no", "school", "grade"], C, "monthly", "全市中小学在校学生学籍信息"),
    r("JY", "义务教育招生入学信息", T, EDU, P, &["school", "address", "event_date"], C, "yearly", "义务教育阶段招生报名和录取信息"),
    r("JY", "学校基本信息", T, EDU, E, &["reg_address", "status"], U, "yearly", "各级各类学校基本情况").open(),
    r("JY", "教师资格证书信息", B, LIC, P, &["licence_no", "issue_date"], U, "monthly", "教师资格认定和证书信息"),
    r("JY", "学生资助信息", T, EDU, P, &["school", "amount", "period"], C, "quarterly", "家庭经济困难学生资助信息").sensitive(),
    r("JY", "校外培训机构信息", T, EDU, E, &["licence_no", "reg_address", "status"], U, "monthly", "校外培训机构审批和监管信息").open(),
    r("JY", "学前教育入园信息", D, (7, "教育"), P, &["school", "event_date"], C, "yearly", "区市幼儿园入园登记信息").district(),
    // 税务
    r("SW", "纳税人登记信息", B, ENT, E, &["reg_date", "industry", "status"], C, "daily", "纳税人税务登记信息"),
    r("SW", "纳税信用等级信息", B, CREDIT, E, &["period", "status"], U, "yearly", "纳税信用 A 级纳税人名单和评价结果").open(),
    r("SW", "企业纳税信息", T, ECON, E, &["period", "amount"], C, "monthly", "企业分税种纳税额信息").sensitive(),
    r("SW", "个人所得税纳税信息", T, ECON, P, &["period", "amount", "employer"], C, "monthly", "个人所得税纳税记录").not_shared("《中华人民共和国税收征收管理法》第八条；《中华人民共和国个人所得税法》第十五条"),
    r("SW", "重大税收违法失信案件信息", B, CREDIT, E, &["case_no", "penalty"], U, "monthly", "重大税收违法失信主体信息").open(),
    // 公积金
    r("GJJ", "住房公积金缴存信息", T, HOUSING, P, &["employer", "pay_base", "amount", "period"], C, "monthly", "住房公积金个人缴存信息").sensitive(),
    r("GJJ", "住房公积金贷款信息", T, HOUSING, P, &["amount", "event_date", "status"], C, "monthly", "住房公积金个人住房贷款信息").sensitive(),
    r("GJJ", "住房公积金提取信息", T, HOUSING, P, &["amount", "event_date"], C, "monthly", "住房公积金提取记录"),
    r("GJJ", "公积金缴存单位信息", B, ENT, E, &["reg_address", "status"], C, "monthly", "住房公积金缴存单位登记信息"),
    // 发改
    r("FG", "政府投资项目信息", T, ECON, G, &["amount", "location", "status"], U, "monthly", "政府投资项目审批和建设信息").open(),
    r("FG", "信用联合奖惩名单", B, CREDIT, E, &["event_date", "remark"], U, "daily", "守信激励和失信惩戒对象名单").open(),
    r("FG", "价格监测信息", T, ECON, G, &["indicator", "value", "observed_at"], U, "weekly", "重要民生商品价格监测信息").open(),
    r("FG", "企业投资项目备案信息", T, ECON, E, &["amount", "location", "event_date"], U, "daily", "企业投资项目备案信息").open(),
    // 工信
    r("GX", "专精特新中小企业名单", T, ECON, E, &["industry", "event_date"], U, "yearly", "市级专精特新中小企业认定名单").open(),
    r("GX", "规模以上工业企业信息", T, ECON, E, &["industry", "amount", "period"], C, "monthly", "规上工业企业产值、用电等运行信息"),
    r("GX", "无线电台站信息", D, (8, "工信"), H, &["longitude", "latitude", "licence_no"], C, "quarterly", "无线电台站设置和频率使用信息"),
    // 财政
    r("CZ", "惠民惠农补贴发放信息", T, SOC, P, &["amount", "bank_account", "period"], C, "monthly", "各类惠民惠农财政补贴资金发放信息").sensitive(),
    r("CZ", "政府采购信息", T, ECON, E, &["amount", "event_date", "remark"], U, "daily", "政府采购项目和中标成交信息").open(),
    r("CZ", "财政预决算信息", T, ECON, G, &["indicator", "amount", "period"], U, "yearly", "市级财政预算和决算公开信息").open().sheet(),
    // 生态环境
    r("ST", "空气质量监测信息", T, ECO, G, &["indicator", "value", "observed_at", "longitude", "latitude"], U, "realtime", "国控和省控空气质量监测站小时数据").open(),
    r("ST", "排污许可信息", T, ECO, E, &["licence_no", "issue_date", "expire_date"], U, "monthly", "排污许可证核发信息").open(),
    r("ST", "环境行政处罚信息", B, CREDIT, E, &["case_no", "penalty", "event_date"], U, "daily", "生态环境行政处罚决定信息").open(),
    r("ST", "重点排污单位在线监测信息", T, ECO, E, &["indicator", "value", "observed_at"], U, "realtime", "重点排污单位污染物排放在线监测数据").open(),
    r("ST", "近岸海域水质监测信息", T, ECO, G, &["indicator", "value", "observed_at"], U, "monthly", "近岸海域海水水质监测信息").open(),
    // 交通
    r("JT", "道路运输经营许可信息", T, TRAFFIC, E, &["licence_no", "issue_date", "expire_date"], U, "daily", "道路旅客和货物运输经营许可信息").open(),
    r("JT", "网约车驾驶员证信息", B, LIC, P, &["licence_no", "issue_date"], C, "daily", "网络预约出租汽车驾驶员证信息"),
    r("JT", "公交线路和站点信息", T, TRAFFIC, G, &["longitude", "latitude", "remark"], U, "monthly", "公交线路、站点和首末班时间").open(),
    r("JT", "公交实时到站信息", T, TRAFFIC, G, &["observed_at", "longitude", "latitude"], U, "realtime", "公交车辆实时位置和到站预测").open(),
    r("JT", "城市停车场信息", T, TRAFFIC, H, &["location", "value", "observed_at"], U, "realtime", "公共停车场位置和实时泊位").open(),
    // 水务
    r("SL", "城市供水水质信息", T, ECO, G, &["indicator", "value", "observed_at"], U, "monthly", "城市公共供水水质检测信息").open(),
    r("SL", "水库水情信息", T, SAFETY, G, &["indicator", "value", "observed_at"], U, "realtime", "大中型水库水位和蓄水量").open(),
    r("SL", "取水许可信息", T, ECO, E, &["licence_no", "issue_date", "expire_date"], U, "monthly", "取水许可证核发信息").open(),
    // 农业农村
    r("NY", "家庭农场名录信息", T, AGRI, E, &["reg_address", "area"], U, "quarterly", "县级以上示范家庭农场名录").open(),
    r("NY", "耕地地力保护补贴信息", T, AGRI, P, &["area", "amount", "bank_account"], C, "yearly", "耕地地力保护补贴发放信息"),
    r("NY", "农产品质量安全检测信息", T, AGRI, G, &["indicator", "value", "event_date"], U, "monthly", "农产品质量安全例行监测结果").open(),
    r("NY", "农村集体经济组织信息", D, (9, "农业农村"), E, &["reg_address", "amount"], C, "yearly", "区市农村集体经济组织登记赋码信息").district(),
    // 商务
    r("SWU", "对外贸易经营者备案信息", T, ECON, E, &["event_date", "status"], U, "daily", "对外贸易经营者备案登记信息").open(),
    r("SWU", "单用途预付卡备案企业信息", T, MKT, E, &["event_date", "status"], U, "monthly", "单用途商业预付卡发卡企业备案信息").open(),
    r("SWU", "外商投资企业信息", T, ECON, E, &["amount", "reg_date"], C, "monthly", "外商投资企业设立和变更信息"),
    // 文旅
    r("WL", "A级旅游景区信息", T, EDU, H, &["location", "longitude", "latitude"], U, "quarterly", "A 级旅游景区名录和位置").open(),
    r("WL", "旅行社信息", T, MKT, E, &["licence_no", "reg_address"], U, "monthly", "旅行社业务经营许可信息").open(),
    r("WL", "公共文化场馆信息", T, EDU, H, &["location", "remark"], U, "quarterly", "图书馆、文化馆、博物馆开放信息").open(),
    r("WL", "景区实时客流信息", T, EDU, G, &["value", "observed_at"], U, "realtime", "重点景区实时在园人数").open(),
    // 应急
    r("YJ", "安全生产许可信息", T, SAFETY, E, &["licence_no", "issue_date", "expire_date"], U, "monthly", "危险化学品、非煤矿山安全生产许可信息").open(),
    r("YJ", "应急避难场所信息", T, SAFETY, H, &["location", "longitude", "latitude", "area"], U, "yearly", "应急避难场所位置和容量").open(),
    r("YJ", "危险化学品企业信息", T, SAFETY, E, &["reg_address", "status"], C, "quarterly", "危险化学品生产、经营、使用企业信息"),
    r("YJ", "自然灾害灾情信息", T, SAFETY, G, &["indicator", "value", "event_date"], U, "irregular", "自然灾害损失和救灾情况").open(),
    // 司法
    r("SF", "律师执业信息", B, LIC, P, &["licence_no", "employer"], U, "monthly", "律师执业证和律师事务所信息"),
    r("SF", "社区矫正对象信息", T, SAFETY, P, &["event_date", "status"], C, "daily", "社区矫正对象管理信息").not_shared("《中华人民共和国社区矫正法》第四条、第二十三条"),
    r("SF", "人民调解组织信息", T, CITY, G, &["location", "remark"], U, "yearly", "人民调解委员会名录").open(),
    r("SF", "法律援助案件信息", T, SOC, P, &["case_no", "event_date", "status"], C, "monthly", "法律援助申请和指派信息"),
    // 统计
    r("TJ", "国民经济主要指标", T, ECON, G, &["indicator", "value", "period"], U, "monthly", "地区生产总值、固定资产投资等主要经济指标").open().sheet(),
    r("TJ", "人口抽样调查汇总数据", T, ECON, G, &["indicator", "value", "period"], U, "yearly", "人口变动抽样调查汇总数据").open(),
    r("TJ", "统计调查对象原始资料", T, ECON, E, &["period", "amount"], C, "monthly", "企业联网直报原始调查资料").not_shared("《中华人民共和国统计法》第二十五条"),
    r("TJ", "区市主要经济指标", D, (10, "统计"), G, &["indicator", "value", "period"], U, "quarterly", "区市主要经济指标季度数据").district().open(),
    // 体育
    r("TY", "公共体育设施信息", T, EDU, H, &["location", "longitude", "latitude"], U, "yearly", "全民健身场地设施信息").open(),
    r("TY", "体育经营场所许可信息", T, MKT, E, &["licence_no", "issue_date"], U, "monthly", "高危险性体育项目经营许可信息").open(),
    // 退役军人
    r("TV", "退役军人信息", B, POP, P, &["event_date", "address", "status"], C, "monthly", "退役军人和其他优抚对象信息采集").sensitive(),
    r("TV", "优抚对象抚恤补助信息", T, SOC, P, &["amount", "period", "bank_account"], C, "monthly", "优抚对象定期抚恤补助发放信息"),
    // 城管
    r("CG", "城市部件信息", T, CITY, H, &["longitude", "latitude", "status"], U, "monthly", "井盖、路灯、垃圾箱等城市部件普查信息").open(),
    r("CG", "户外广告设置许可信息", T, CITY, E, &["licence_no", "location", "expire_date"], U, "monthly", "户外广告和招牌设置许可").open(),
    r("CG", "城市管理案件信息", T, CITY, G, &["case_no", "location", "status", "event_date"], C, "realtime", "数字城管上报、派遣、处置案件信息"),
    r("CG", "生活垃圾分类信息", D, (11, "城管"), G, &["indicator", "value", "period"], U, "monthly", "区市生活垃圾分类收运量").district().open(),
    // 信访
    r("XF", "信访事项信息", T, CITY, P, &["case_no", "event_date", "status"], C, "daily", "信访事项登记、办理、答复信息").not_shared("《信访工作条例》第四十五条"),
    r("XF", "12345热线诉求统计信息", T, CITY, G, &["indicator", "value", "period"], U, "monthly", "12345 政务服务便民热线诉求分类统计").open(),
    // 行政审批
    r("SP", "行政许可信息", B, CREDIT, E, &["permit_item", "licence_no", "issue_date"], U, "daily", "行政许可决定信息（双公示）").open(),
    r("SP", "政务服务事项办件信息", T, CITY, G, &["permit_item", "event_date", "status"], C, "realtime", "一网通办办件受理和办结信息"),
    r("SP", "电子印章信息", B, LIC, E, &["licence_no", "issue_date", "status"], C, "daily", "政务服务电子印章制发信息"),
    r("SP", "一件事一次办业务信息", D, (12, "行政审批"), G, &["permit_item", "status", "event_date"], C, "daily", "区市一件事一次办联办业务信息").district(),
    // 国资
    r("GZ", "市属国有企业名录", B, ENT, E, &["capital", "reg_address"], U, "yearly", "市属国有企业及其重要子企业名录").open(),
    r("GZ", "国有资产产权登记信息", B, ENT, E, &["amount", "event_date"], C, "yearly", "国有资产产权登记信息"),
    // 金融
    r("JR", "地方金融组织信息", T, MKT, E, &["licence_no", "status"], U, "monthly", "小额贷款公司、融资担保公司等地方金融组织名录").open(),
    r("JR", "融资担保业务信息", T, ECON, E, &["amount", "event_date"], C, "monthly", "融资担保机构业务统计"),
    // 园林
    r("YL", "城市绿地信息", T, ECO, H, &["area", "location"], U, "yearly", "公园绿地、防护绿地分布和面积").open(),
    r("YL", "古树名木信息", T, ECO, H, &["longitude", "latitude", "remark"], U, "yearly", "古树名木普查和保护信息").open(),
    // 海洋
    r("HY", "海域使用权信息", B, GEO, H, &["area", "usage", "expire_date"], C, "monthly", "海域使用权登记信息"),
    r("HY", "渔船信息", T, AGRI, H, &["owner_name", "licence_no"], C, "monthly", "渔船登记和捕捞许可信息"),
    r("HY", "海洋预报信息", T, SAFETY, G, &["indicator", "value", "observed_at"], U, "daily", "海浪、潮汐和风暴潮预报").open(),
    // 气象
    r("QX", "气象观测信息", T, ECO, G, &["indicator", "value", "observed_at", "longitude", "latitude"], U, "realtime", "自动气象站逐小时观测数据").open(),
    r("QX", "气象预警信号信息", T, SAFETY, G, &["indicator", "event_date", "remark"], U, "realtime", "气象灾害预警信号发布信息").open(),
    // 档案
    r("DA", "婚姻登记历史档案目录", B, POP, P, &["event_date", "remark"], C, "irregular", "1949 年以来婚姻登记档案目录").sheet(),
    r("DA", "开放档案目录", T, EDU, G, &["remark", "period"], U, "yearly", "到期开放档案目录").open().sheet(),
    // 残联
    r("CL", "残疾人证信息", B, LIC, P, &["licence_no", "disability_level", "issue_date"], C, "daily", "第二代残疾人证核发信息").sensitive(),
    r("CL", "残疾人就业和扶贫信息", T, SOC, P, &["employer", "status"], C, "quarterly", "残疾人就业登记和帮扶信息"),
    // 工会
    r("GH", "困难职工帮扶信息", T, SOC, P, &["employer", "amount"], C, "quarterly", "困难职工建档和帮扶信息"),
    r("GH", "基层工会组织信息", B, ENT, E, &["reg_address", "status"], U, "yearly", "基层工会法人资格登记信息"),
    // 法院
    r("FY", "失信被执行人信息", B, CREDIT, P, &["case_no", "event_date", "status"], U, "daily", "失信被执行人名单信息"),
    r("FY", "限制高消费人员信息", B, CREDIT, P, &["case_no", "event_date"], C, "daily", "限制消费令信息"),
    r("FY", "破产案件信息", B, CREDIT, E, &["case_no", "event_date", "status"], U, "daily", "企业破产重整和清算案件信息").open(),
    // 医保中心
    r("YS", "医保基金结算汇总信息", T, HEALTH, G, &["indicator", "amount", "period"], C, "monthly", "医保基金按定点机构和险种的结算汇总"),
    r("YS", "异地就医备案信息", T, HEALTH, P, &["hospital", "event_date"], C, "daily", "参保人员异地就医备案信息"),
    // 人防
    r("RF", "人防工程信息", T, SAFETY, H, &["location", "area", "status"], C, "yearly", "人民防空工程位置和面积"),
    // 民宗
    r("MW", "宗教活动场所信息", T, CITY, H, &["location", "licence_no"], C, "yearly", "依法登记的宗教活动场所信息"),
    // 大数据局
    r("DSJ", "城市运行体征指标", T, CITY, G, &["indicator", "value", "observed_at"], U, "realtime", "城市云脑汇聚的城市运行体征指标").open(),
    r("DSJ", "公共数据共享调用统计", D, (1, "大数据"), G, &["indicator", "value", "period"], U, "monthly", "各部门共享接口调用量和需求满足率").open(),
    r("DSJ", "政务云资源使用信息", D, (1, "大数据"), G, &["indicator", "value", "period"], C, "monthly", "政务云计算、存储资源分配和使用情况"),
    r("DSJ", "区市网格事件信息", D, (1, "大数据"), G, &["case_no", "location", "status", "event_date"], C, "realtime", "区市网格员上报的城市治理事件").district(),
    r("DSJ", "区市公共数据资源目录", D, (1, "大数据"), G, &["remark"], U, "monthly", "区市编制的公共数据资源目录汇总").district().sheet(),
];
