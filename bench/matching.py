"""Policy matching benchmark (免申即享), with OpenFisca as the peer in the same run.

50 policies — 25 for persons, 25 for enterprises, five shapes of each (高龄津贴 graded by age with
a dated threshold, 婴幼儿照护, 低收入老人补差, 两癌筛查补助, 助学; 小微企业注册补助, 高新技术企业
奖励, 稳岗返还, 老字号, 创业贴息), each shape in five variants — over 1,000,000 persons and
100,000 enterprises (SCALE persons, SCALE/10 enterprises).

Ours: the persons and enterprises are loaded into two resources (the ID number sealed, as in a
real population library), bound as the population and legal-entity libraries, the 50 policies
written in the rule language and published; then one `shuniu policy evaluate --all` computes
every policy for the month (how many qualify, the total amount) from the lake — process start,
reading the Delta tables, 50 vectorized queries, the audit entries.

Peer: OpenFisca (PyPI openfisca-core), the same rules written as OpenFisca variables with the
same parameters as dated OpenFisca parameters, over the same rows read from the CSV files we
loaded (pandas), configured as its users do (a tax-benefit system, `set_input`, `calculate` per
variable and month). Timed twice: loading the data and computing, and computing alone.

Both are warmed (one run first) and alternate RUNS times; medians. Then each policy's eligible
set and amounts — ours from `evaluate --all --out` (each subject's key and amount), OpenFisca's
from its arrays — are compared subject by subject: the same subjects, each amount to the fen
(OpenFisca keeps floats in float32, its default). Parameters change only on a month's first
day here, so OpenFisca's value at the month's start and ours at its end are the same value.
Target: ≤ 10 s and ≥ 50× OpenFisca.

    cargo build --release --bin shuniu
    .venv/bin/pip install -r bench/requirements.txt     # openfisca-core, pandas
    SCALE=1000000 RUNS=3 .venv/bin/python bench/matching.py
"""

import csv
import datetime
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from load_csv import DISTRICTS, SHUNIU, measured  # noqa: E402

SCALE = int(os.environ.get("SCALE", "1000000"))
ENTERPRISES = SCALE // 10
RUNS = int(os.environ.get("RUNS", "3"))
PERIOD = os.environ.get("PERIOD", "2025-06")
WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/shuniu-matching-bench")) / str(SCALE)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The population and the enterprises.

ID_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
CREDIT = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_W = [3, 7, 9, 10, 5, 8, 4, 2]
INDUSTRIES = [c + f"{n:02d}" for c in "ABCDEFGHIJKLMNOPQRS" for n in (1, 2, 3)]


def persons(n, rng):
    """ID numbers (GB 11643, valid and distinct), birth dates 1915–2025, registered districts,
    sex (from the ID number), monthly income."""
    div = np.array(DISTRICTS)[rng.integers(0, len(DISTRICTS), n)]
    birth = np.datetime64("1915-01-01") + rng.integers(0, 40_000, n).astype("timedelta64[D]")
    ymd = np.char.replace(birth.astype(str), "-", "")
    # Distinct: the sequence number is the row's position within its (district, birthday).
    order = np.lexsort((ymd, div))
    seq = np.empty(n, dtype=np.int64)
    keys = np.char.add(div[order], ymd[order])
    first = np.r_[True, keys[1:] != keys[:-1]]
    starts = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    seq[order] = np.arange(n) - starts
    body = np.char.add(np.char.add(div, ymd), np.char.zfill(seq.astype(str), 3))
    digits = np.array([list(map(int, b)) for b in body.tolist()]) if n <= 10_000 else _digits(body)
    check = np.array(list("10X98765432"))[(digits * ID_W).sum(axis=1) % 11]
    ids = np.char.add(body, check)
    sex = np.where(seq % 2 == 1, "1", "2")
    income = np.round(rng.gamma(2.0, 1500.0, n), 2)
    return ids, birth, div, sex, income


def _digits(body):
    b = np.frombuffer(np.char.encode(body, "ascii").tobytes(), dtype=np.uint8).reshape(len(body), 17)
    return (b - ord("0")).astype(np.int64)


def credit_code(i, division):
    body = f"{i:08d}"
    org = body + {10: "X", 11: "0"}.get(11 - sum(int(c) * w for c, w in zip(body, ORG_W)) % 11,
                                        str(11 - sum(int(c) * w for c, w in zip(body, ORG_W)) % 11))
    first17 = "91" + division + org
    s = sum(CREDIT.index(c) * w for c, w in zip(first17, CREDIT_W))
    return first17 + CREDIT[(31 - s % 31) % 31]


def enterprises(n, rng):
    div = np.array(DISTRICTS)[rng.integers(0, len(DISTRICTS), n)]
    codes = np.array([credit_code(10_000_000 + i, d) for i, d in enumerate(div.tolist())])
    established = np.datetime64("1950-01-01") + rng.integers(0, 27_000, n).astype("timedelta64[D]")
    capital = np.round(rng.lognormal(5.0, 1.5, n), 2)  # 万元
    industry = np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), n)]
    employees = rng.integers(0, 800, n)
    return codes, established, div, capital, industry, employees


PERSON_RESOURCE = {
    "name": "人口基础信息库（基准）", "provider": "370200DSJ", "category": "base",
    "item_code": 1, "item_name": "人口", "subject_code": 1, "subject_name": "基准",
    "summary": "benchmark", "format": "database", "share_type": "conditional",
    "share_conditions": "policy matching", "open_type": "not_open", "update_cycle": "daily",
    "level": "general_3",
    "data_items": [
        {"name": "id_number", "label": "公民身份号码", "data_type": "text", "length": 18, "is_key": True,
         "required": True, "semantic_type": "id_number", "sensitive": True},
        {"name": "birth_date", "label": "出生日期", "data_type": "date"},
        {"name": "division", "label": "户籍地行政区划", "data_type": "text", "length": 6, "semantic_type": "division_code"},
        {"name": "sex", "label": "性别", "data_type": "text", "length": 1},
        {"name": "income", "label": "月收入", "data_type": "numeric"},
    ],
}

ENTERPRISE_RESOURCE = {
    "name": "法人基础信息库（基准）", "provider": "370200DSJ", "category": "base",
    "item_code": 2, "item_name": "法人", "subject_code": 1, "subject_name": "基准",
    "summary": "benchmark", "format": "database", "share_type": "conditional",
    "share_conditions": "policy matching", "open_type": "not_open", "update_cycle": "daily",
    "level": "general_3",
    "data_items": [
        {"name": "credit_code", "label": "统一社会信用代码", "data_type": "text", "length": 18, "is_key": True,
         "required": True, "semantic_type": "credit_code"},
        {"name": "established", "label": "成立日期", "data_type": "date"},
        {"name": "division", "label": "所在区划", "data_type": "text", "length": 6, "semantic_type": "division_code"},
        {"name": "capital", "label": "注册资本", "data_type": "numeric"},
        {"name": "industry", "label": "行业代码", "data_type": "text", "length": 3},
        {"name": "employees", "label": "从业人数", "data_type": "integer"},
    ],
}


# ---------------------------------------------------------------------------------------------
# The 50 policies: each written once in the rule language and once as OpenFisca formulas.
# `v(name)` reads a variable for the month, `P` is the policy's parameters at the month.

def districts(k):
    return DISTRICTS[k % 5: k % 5 + 6]


def quoted(codes):
    return "(" + ",".join(f"'{c}'" for c in codes) + ")"


def b(codes):
    return [c.encode() for c in codes]


def person_policies():
    out = []
    for k in range(5):
        ds = districts(k)
        out.append(dict(
            code=f"B-GAOLING-{k}", name=f"高龄津贴（基准{k}）", target="persons",
            conditions=["年龄 ≥ 【起始年龄】", f"户籍地行政区划 属于 {quoted(ds)}"],
            amount={"table": {"rows": [{"when": "年龄 ≥ 100", "amount": "500"},
                                       {"when": "年龄 ≥ 90", "amount": "200"}], "otherwise": str(100 + 10 * k)}},
            parameters={"起始年龄": {"2020-01-01": 90, "2024-07-01": 80 + k % 3}},
            of_eligible=lambda v, P, ds=ds: (v("age") >= P["起始年龄"]) & np.isin(v("division"), b(ds)),
            of_amount=lambda v, P, k=k: np.where(v("age") >= 100, 500.0, np.where(v("age") >= 90, 200.0, 100.0 + 10 * k)),
        ))
        limit = 3 if k % 2 == 0 else 4
        out.append(dict(
            code=f"B-YINGYOU-{k}", name=f"婴幼儿照护补贴（基准{k}）", target="persons",
            conditions=[f"年龄 < {limit}", "户籍地行政区划 开头为 '3702'"],
            amount={"formula": "【照护补贴标准】"},
            parameters={"照护补贴标准": {"2024-01-01": 250 + 50 * k, "2025-01-01": 300 + 50 * k}},
            of_eligible=lambda v, P, limit=limit: (v("age") < limit) & np.char.startswith(v("division"), b"3702"),
            of_amount=lambda v, P: np.full(len(v("age")), float(P["照护补贴标准"])),
        ))
        out.append(dict(
            code=f"B-DIBAO-LAOREN-{k}", name=f"低收入老人生活补差（基准{k}）", target="persons",
            conditions=[f"年龄 ≥ {60 + k}", "月收入 < 【收入线】"],
            amount={"formula": "【收入线】 - 月收入"},
            parameters={"收入线": {"2024-01-01": 1100 + 100 * k, "2025-01-01": 1200 + 100 * k}},
            of_eligible=lambda v, P, k=k: (v("age") >= 60 + k) & (v("income") < P["收入线"]),
            of_amount=lambda v, P: P["收入线"] - v("income"),
        ))
        out.append(dict(
            code=f"B-LIANGAI-{k}", name=f"两癌筛查补助（基准{k}）", target="persons",
            conditions=["性别 = '2'", f"年龄 介于 {35 + k} 与 64"],
            amount={"formula": "200"},
            parameters={},
            of_eligible=lambda v, P, k=k: (v("sex") == b"2") & (v("age") >= 35 + k) & (v("age") <= 64),
            of_amount=lambda v, P: np.full(len(v("age")), 200.0),
        ))
        out.append(dict(
            code=f"B-ZHUXUE-{k}", name=f"助学补贴（基准{k}）", target="persons",
            conditions=["年龄 介于 6 与 18", f"户籍地行政区划 属于 {quoted(ds)}"],
            amount={"formula": f"100 + 年龄 × {10 + k}"},
            parameters={},
            of_eligible=lambda v, P, ds=ds: (v("age") >= 6) & (v("age") <= 18) & np.isin(v("division"), b(ds)),
            of_amount=lambda v, P, k=k: 100.0 + v("age") * (10 + k),
        ))
    return out


def enterprise_policies():
    out = []
    for k in range(5):
        ds = districts(k)
        out.append(dict(
            code=f"B-XIAOWEI-{k}", name=f"小微企业首次注册补助（基准{k}）", target="enterprises",
            conditions=["注册资本 ≤ 【资本上限】", f"成立年限 < {1 + k % 3}"],
            amount={"formula": "注册资本 × 10"},
            parameters={"资本上限": {"2024-01-01": 300 + 100 * k}},
            of_eligible=lambda v, P, k=k: (v("capital") <= P["资本上限"]) & (v("years") < 1 + k % 3),
            of_amount=lambda v, P: v("capital") * 10,
        ))
        out.append(dict(
            code=f"B-GAOXIN-{k}", name=f"高新技术企业奖励（基准{k}）", target="enterprises",
            conditions=["(行业代码 开头为 'I' 或 行业代码 开头为 'M')", f"从业人数 ≥ {10 * (k + 1)}"],
            amount={"table": {"rows": [{"when": "从业人数 ≥ 500", "amount": "200000"}], "otherwise": "100000"}},
            parameters={},
            of_eligible=lambda v, P, k=k: (np.char.startswith(v("industry"), b"I") | np.char.startswith(v("industry"), b"M")) & (v("employees") >= 10 * (k + 1)),
            of_amount=lambda v, P: np.where(v("employees") >= 500, 200000.0, 100000.0),
        ))
        out.append(dict(
            code=f"B-WENGANG-{k}", name=f"稳岗返还（基准{k}）", target="enterprises",
            conditions=["从业人数 ≥ 5", f"成立年限 ≥ {2 + k}", f"所在区划 属于 {quoted(ds)}"],
            amount={"formula": "从业人数 × 【每人返还】"},
            parameters={"每人返还": {"2023-01-01": 250 + 50 * k, "2025-03-01": 300 + 50 * k}},
            of_eligible=lambda v, P, k=k, ds=ds: (v("employees") >= 5) & (v("years") >= 2 + k) & np.isin(v("division"), b(ds)),
            of_amount=lambda v, P: v("employees") * float(P["每人返还"]),
        ))
        out.append(dict(
            code=f"B-LAOZIHAO-{k}", name=f"老字号传承扶持（基准{k}）", target="enterprises",
            conditions=[f"成立年限 ≥ {30 + 5 * k}"],
            amount={"formula": "50000"},
            parameters={},
            of_eligible=lambda v, P, k=k: v("years") >= 30 + 5 * k,
            of_amount=lambda v, P: np.full(len(v("years")), 50000.0),
        ))
        out.append(dict(
            code=f"B-TIEXI-{k}", name=f"创业担保贷款贴息（基准{k}）", target="enterprises",
            conditions=["成立年限 < 3", "注册资本 介于 10 与 【贷款上限】"],
            amount={"formula": "注册资本 × 【贴息比例】 × 100"},
            parameters={"贷款上限": {"2024-01-01": 200 + 50 * k}, "贴息比例": {"2024-01-01": 0.5 + 0.05 * k}},
            of_eligible=lambda v, P: (v("years") < 3) & (v("capital") >= 10) & (v("capital") <= P["贷款上限"]),
            of_amount=lambda v, P: v("capital") * P["贴息比例"] * 100,
        ))
    return out


POLICIES = person_policies() + enterprise_policies()


def definition(p):
    return {
        "code": p["code"], "name": p["name"], "department": "370200DSJ",
        "document": "基准测试政策（示例）", "target": p["target"],
        "effective_from": "2024-01-01", "unit": "元",
        "conditions": [{"rule": r, "reference": f"第{i + 1}条"} for i, r in enumerate(p["conditions"])],
        "amount": p["amount"],
        "parameters": [
            {"name": n, "unit": "", "values": [{"from": d, "value": x, "reference": "基准"} for d, x in vs.items()]}
            for n, vs in p["parameters"].items()
        ],
    }


# ---------------------------------------------------------------------------------------------
# Setup: the files, the hub.

def files():
    WORK.mkdir(parents=True, exist_ok=True)
    pcsv, ecsv = WORK / "persons.csv", WORK / "enterprises.csv"
    if not pcsv.exists() or not ecsv.exists():
        rng = np.random.default_rng(20261207)
        t = time.perf_counter()
        ids, birth, div, sex, income = persons(SCALE, rng)
        with open(pcsv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id_number", "birth_date", "division", "sex", "income"])
            w.writerows(zip(ids.tolist(), birth.astype(str).tolist(), div.tolist(), sex.tolist(), income.tolist()))
        codes, est, ediv, capital, industry, employees = enterprises(ENTERPRISES, rng)
        with open(ecsv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["credit_code", "established", "division", "capital", "industry", "employees"])
            w.writerows(zip(codes.tolist(), est.astype(str).tolist(), ediv.tolist(), capital.tolist(),
                            industry.tolist(), employees.tolist()))
        log(f"generated {SCALE:,} persons and {ENTERPRISES:,} enterprises in {time.perf_counter() - t:.0f} s")
    return pcsv, ecsv


def run(*args, **kw):
    p = subprocess.run([SHUNIU, *args], capture_output=True, text=True,
                       env=dict(os.environ, SHUNIU_LOG="warn", RUST_BACKTRACE="0"), **kw)
    if p.returncode != 0:
        sys.exit(f"shuniu {' '.join(args)} failed:\n{p.stderr}")
    return p.stdout


def hub(pcsv, ecsv):
    data = WORK / "hub"
    if (data / "bench-ready").exists():
        return data
    subprocess.run(["rm", "-rf", str(data)], check=True)
    run("init", "--data-dir", str(data))
    for spec, path, kind in [(PERSON_RESOURCE, pcsv, "population"), (ENTERPRISE_RESOURCE, ecsv, "legal_entity")]:
        f = WORK / f"{kind}.json"
        f.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        code = run("catalog", "register", "--publish", "--data-dir", str(data), str(f)).strip()
        t = time.perf_counter()
        run("load", "--json", "--resource", code, "--mode", "replace", "--data-dir", str(data), str(path))
        log(f"loaded {kind} ({code}) in {time.perf_counter() - t:.0f} s")
        run("libraries", "bind", "--data-dir", str(data), kind, code)
    t = time.perf_counter()
    for p in POLICIES:
        f = WORK / "policies" / f"{p['code']}.json"
        f.parent.mkdir(exist_ok=True)
        f.write_text(json.dumps(definition(p), ensure_ascii=False), encoding="utf-8")
        run("policy", "define", "--data-dir", str(data), str(f))
    log(f"defined and published {len(POLICIES)} policies in {time.perf_counter() - t:.0f} s")
    (data / "bench-ready").write_text("ok")
    return data


# ---------------------------------------------------------------------------------------------
# OpenFisca.

def formulas(p, key, names):
    """A policy's two OpenFisca formulas: whether a subject qualifies, and its amount."""

    def at(parameters, period):
        node = getattr(parameters(period), key)
        return {n: getattr(node, f"x{j}") for j, n in enumerate(names)}

    def eligible(subject, period, parameters):
        return p["of_eligible"](lambda n: subject(n, period), at(parameters, period))

    def amount(subject, period, parameters):
        ok = subject(f"eligible_{key}", period)
        return np.where(ok, p["of_amount"](lambda n: subject(n, period), at(parameters, period)), 0.0)

    return eligible, amount


def openfisca_system():
    from openfisca_core.entities import build_entity
    from openfisca_core.parameters import ParameterNode
    from openfisca_core.periods import ETERNITY, MONTH
    from openfisca_core.taxbenefitsystems import TaxBenefitSystem
    from openfisca_core.variables import Variable

    systems = {}
    for target, inputs, dated in [
        ("persons", [("birth_date", datetime.date), ("division", str), ("sex", str), ("income", float)], "birth_date"),
        ("enterprises", [("established", datetime.date), ("division", str), ("capital", float),
                         ("industry", str), ("employees", int)], "established"),
    ]:
        entity = build_entity(key="subject", plural="subjects", label=target, is_person=True)
        tbs = TaxBenefitSystem([entity])
        for name, kind in inputs:
            extra = {"max_length": {"division": 6, "sex": 1, "industry": 3}[name]} if kind is str else {}
            tbs.add_variable(type(name, (Variable,), dict(value_type=kind, entity=entity, definition_period=ETERNITY,
                                                          label=name, **extra)))

        def years_from(dated):
            def whole_years(subject, period):
                return years_between(subject(dated, period), period)
            return whole_years

        def years_between(d, period):
            y = d.astype("datetime64[Y]").astype(int) + 1970
            m = d.astype("datetime64[M]").astype(int) % 12 + 1
            day = (d - d.astype("datetime64[M]")).astype(int) + 1
            e = period.stop
            return (e.year * 10000 + e.month * 100 + e.day - (y * 10000 + m * 100 + day)) // 10000

        years = "age" if target == "persons" else "years"
        tbs.add_variable(type(years, (Variable,), dict(value_type=int, entity=entity, definition_period=MONTH,
                                                       label=years, formula=years_from(dated))))
        params = {}
        for i, p in enumerate(x for x in POLICIES if x["target"] == target):
            key = f"p{i}"
            params[key] = {f"x{j}": {"values": vs} for j, vs in enumerate(p["parameters"].values())}
            names = list(p["parameters"].keys())

            eligible, amount = formulas(p, key, names)
            tbs.add_variable(type(f"eligible_{key}", (Variable,), dict(value_type=bool, entity=entity, definition_period=MONTH, label=p["code"], formula=eligible)))
            tbs.add_variable(type(f"amount_{key}", (Variable,), dict(value_type=float, entity=entity, definition_period=MONTH, label=p["code"], formula=amount)))
        # A policy without parameters still has its node (OpenFisca wants every node to hold something).
        tbs.parameters = ParameterNode("", data={k: (v or {"none": {"values": {"2000-01-01": 0}}}) for k, v in params.items()})
        systems[target] = tbs
    return systems


def openfisca_load(pcsv, ecsv):
    import pandas as pd

    pf = pd.read_csv(pcsv, dtype={"id_number": str, "division": str, "sex": str})
    ef = pd.read_csv(ecsv, dtype={"credit_code": str, "division": str, "industry": str})
    return pf, ef


def openfisca_run(systems, pf, ef, keep=False):
    from openfisca_core.simulations import SimulationBuilder

    results = {}
    for target, frame, key, columns in [
        ("persons", pf, "id_number", {"birth_date": "date", "division": "str", "sex": "str", "income": "float"}),
        ("enterprises", ef, "credit_code", {"established": "date", "division": "str", "capital": "float",
                                            "industry": "str", "employees": "int"}),
    ]:
        tbs = systems[target]
        sim = SimulationBuilder().build_default_simulation(tbs, count=len(frame))
        for c, kind in columns.items():
            values = frame[c].to_numpy()
            if kind == "date":
                values = values.astype("datetime64[D]")
            elif kind == "str":
                values = values.astype(object)
            sim.set_input(c, "ETERNITY", values)
        for i, p in enumerate(x for x in POLICIES if x["target"] == target):
            ok = sim.calculate(f"eligible_p{i}", PERIOD)
            amount = sim.calculate(f"amount_p{i}", PERIOD)
            results[p["code"]] = (int(ok.sum()), float(amount[ok].astype(np.float64).sum()),
                                  (frame[key].to_numpy()[ok], amount[ok]) if keep else None)
    return results


# ---------------------------------------------------------------------------------------------

def ours(data, out=None):
    args = ["policy", "evaluate", "--all", "--period", PERIOD, "--json", "--data-dir", str(data)]
    if out:
        args += ["--out", str(out)]
    secs, rss, stdout = measured([SHUNIU, *args], env=dict(os.environ, SHUNIU_LOG="warn", RUST_BACKTRACE="0"))
    return secs, rss, json.loads(stdout)


def main():
    pcsv, ecsv = files()
    data = hub(pcsv, ecsv)
    systems = openfisca_system()
    log("warming both …")
    ours(data)
    pf, ef = openfisca_load(pcsv, ecsv)
    openfisca_run(systems, pf, ef)
    mine, theirs_all, theirs_compute, rss = [], [], [], []
    answers = None
    for r in range(RUNS):
        s, m, answers = ours(data)
        mine.append(s)
        rss.append(m)
        t = time.perf_counter()
        pf, ef = openfisca_load(pcsv, ecsv)
        t_loaded = time.perf_counter()
        theirs = openfisca_run(systems, pf, ef)
        t_done = time.perf_counter()
        theirs_all.append(t_done - t)
        theirs_compute.append(t_done - t_loaded)
        log(f"run {r + 1}: shuniu {s:.2f} s · OpenFisca {t_done - t:.2f} s (compute {t_done - t_loaded:.2f} s)")
    # Every policy's count and total, then every subject and amount.
    totals = {p["policy"]: (p["eligible"], p["amount"]) for p in answers["policies"]}
    # OpenFisca keeps float variables in float32 (its default): amounts agree to the fen
    # (half a fen either way), totals to a relative 1e-5.
    mismatched = [c for c, (n, a) in totals.items() if theirs[c][0] != n or abs(theirs[c][1] - a) > 1e-5 * max(1.0, abs(a))]
    keys_dir = WORK / "eligible"
    ours(data, keys_dir)
    detailed = openfisca_run(systems, pf, ef, keep=True)
    subjects_compared = 0
    for code, (_, _, (keys, amounts)) in detailed.items():
        mine_rows = {}
        with open(keys_dir / f"{code}.csv", newline="") as f:
            for row in csv.DictReader(f):
                mine_rows[row["key"]] = float(row["amount"]) if row["amount"] else 0.0
        theirs_rows = dict(zip(keys.tolist(), amounts.tolist()))
        subjects_compared += len(theirs_rows)
        if set(mine_rows) != set(theirs_rows) or any(abs(mine_rows[k] - v) > max(0.005, 1e-6 * abs(v)) for k, v in theirs_rows.items()):
            mismatched.append(code + " (subjects)")
    med, med_all, med_compute = statistics.median(mine), statistics.median(theirs_all), statistics.median(theirs_compute)
    eligible = sum(n for n, _ in totals.values())
    print(json.dumps({
        "persons": SCALE, "enterprises": ENTERPRISES, "policies": len(totals), "period": PERIOD,
        "eligible": eligible, "shuniu_s": mine, "shuniu_median_s": med, "shuniu_peak_rss_mib": max(rss),
        "openfisca_s": theirs_all, "openfisca_median_s": med_all,
        "openfisca_compute_s": theirs_compute, "openfisca_compute_median_s": med_compute,
        "ratio_vs_load_and_compute": med_all / med, "ratio_vs_compute": med_compute / med,
        "subjects_compared": subjects_compared, "mismatched": mismatched,
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
