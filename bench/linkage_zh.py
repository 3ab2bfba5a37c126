"""Chinese record-linkage benchmark: the demo city's keyless clinic records (门诊就诊登记信息:
name, birth date, address, phone, sometimes a 15-digit ID number — typed by hand, with
homophone and look-alike names, dates in any spelling and with swapped parts, full-width
digits, `4-2301`, old district names) linked to its household register, against Splink 5 in
the same run.

    cargo build --release --bin shuniu -p shuniu-bench --bin linkage-data
    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/linkage_zh.py [SCALE]

`linkage-data SCALE DIR` writes the same rows `shuniu demo --scale SCALE` loads (the register
of SCALE residents, about a third as many visits) and the truth the generator knows. Each tool
runs as its own process; per tool the best pair of each visit at a match probability of at
least 0.5 is its answer; precision is over those answers, recall over the visits whose person
is in the register. Peak RSS from wait4(2).

  * shuniu: `shuniu link files visits.csv register.csv --id rid --settings zh.json`, the
    settings `shuniu demo` links with (name with pinyin and look-alike levels and term
    frequencies, date with swapped parts, address by parsed parts, phone, ID number; blocking
    on name pinyin + birth year, birth date, phone digits, ID number digits).
  * Splink 5 (DuckDB), configured as its users would for this data: the inputs cleaned first
    in pandas (dates in their Chinese and compact spellings to ISO, full-width digits to ASCII,
    phones to digits) — counted in its time — then NameComparison (term frequencies),
    DateOfBirthComparison, JaroWinkler levels on the address, exact phone and ID number;
    blocking on surname + birth year, birth date, phone, ID number; u by random sampling
    (1e6 pairs), m by EM blocked on birth date and on surname, the prior from deterministic
    rules at recall 0.4 (0.7 gave it a recall of 0.47 at scale 3,000; 0.4 is its best we
    found); predict at 0.5.
"""

import csv
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

# The same process timing and peak-RSS measurement as the FEBRL4 benchmark.
from linkage import measured, peak_rss

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHUNIU = os.environ.get("SHUNIU_BIN", str(ROOT / "target" / "release" / "shuniu"))
DATA = os.environ.get("LINKAGE_DATA_BIN", str(ROOT / "target" / "release" / "linkage-data"))
PYTHON = sys.executable
WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/shuniu-linkage-zh"))
RUNS = int(os.environ.get("RUNS", "1"))
# Past the size Splink can hold in this machine's memory, ours alone (SKIP_SPLINK=1).
SKIP_SPLINK = os.environ.get("SKIP_SPLINK") == "1"

SETTINGS = {
    "comparisons": [
        {"column": "name", "kind": "name", "tf": True},
        {"column": "birth_date", "kind": "date"},
        {"column": "address", "kind": "address"},
        {"column": "mobile", "kind": "phone"},
        {"column": "id_no", "kind": "id_number"},
    ],
    "blocking": [
        ["name:pinyin", "birth_date:year"],
        ["birth_date"],
        ["mobile:digits"],
        ["id_no:digits"],
    ],
    "u_sample_pairs": 300000,
}

SPLINK = r'''
import json, re, sys, time
start = time.perf_counter()
import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
t_import = time.perf_counter() - start
visits, register, out = sys.argv[1], sys.argv[2], sys.argv[3]
start = time.perf_counter()

FW = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}

def iso(d):
    if not isinstance(d, str) or not d.strip():
        return None
    d = d.translate(FW).strip()
    m = re.match(r"^(\d{4})\D?(\d{1,2})\D?(\d{1,2})", d)
    if m:
        y, mo, da = m.groups()
        return f"{y}-{int(mo):02d}-{int(da):02d}"
    return None

def prep(path):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["birth_date"] = df["birth_date"].map(iso)
    df["address"] = df["address"].map(lambda a: a.translate(FW) if a else None)
    df["mobile"] = df["mobile"].map(lambda p: re.sub(r"\D", "", p)[-11:] or None if p else None)
    df["id_no"] = df["id_no"].map(lambda v: v or None)
    df["name"] = df["name"].map(lambda v: v or None)
    df["surname"] = df["name"].map(lambda v: v[0] if v else None)
    df["birth_year"] = df["birth_date"].map(lambda v: v[:4] if v else None)
    return df

left, right = prep(visits), prep(register)
settings = SettingsCreator(
    unique_id_column_name="rid",
    link_type="link_only",
    comparisons=[
        cl.NameComparison("name").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("birth_date", input_is_string=True,
                                 datetime_format="%Y-%m-%d", invalid_dates_as_null=True),
        cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
        cl.ExactMatch("mobile"),
        cl.ExactMatch("id_no"),
    ],
    blocking_rules_to_generate_predictions=[
        block_on("surname", "birth_year"),
        block_on("birth_date"),
        block_on("mobile"),
        block_on("id_no"),
    ],
    retain_intermediate_calculation_columns=False,
)
db_api = DuckDBAPI()
linker = Linker([db_api.register(left), db_api.register(right)], settings)
linker.training.estimate_probability_two_random_records_match(
    [block_on("name", "birth_date"), block_on("mobile")], recall=0.4)
linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
linker.training.estimate_parameters_using_expectation_maximisation(
    block_on("birth_date"), estimate_without_term_frequencies=True)
linker.training.estimate_parameters_using_expectation_maximisation(
    block_on("surname"), estimate_without_term_frequencies=True)
pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
# Each pair once, the visit (record ids R…) on the left.
rows = []
for l, rr, p in zip(pred["rid_l"], pred["rid_r"], pred["match_probability"]):
    if str(l).startswith("R") and not str(rr).startswith("R"):
        rows.append((l, rr, p))
    elif str(rr).startswith("R") and not str(l).startswith("R"):
        rows.append((rr, l, p))
pd.DataFrame(rows, columns=["left_id", "right_id", "match_probability"]).to_csv(out, index=False)
work = time.perf_counter() - start
print(json.dumps({"import": t_import, "work": work, "pairs": len(rows)}))
'''


def best(pairs_csv):
    """Each visit's best pair at 0.5 or above."""
    top = {}
    with open(pairs_csv, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            p = float(row["match_probability"])
            if p >= 0.5 and p > top.get(row["left_id"], ("", -1))[1]:
                top[row["left_id"]] = (row["right_id"], p)
    return top


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = WORK / f"data-{scale}"
    if not (data / "truth.csv").exists():
        subprocess.run([DATA, str(scale), str(data)], check=True)
    visits, register = data / "visits.csv", data / "register.csv"
    with open(data / "truth.csv", encoding="utf-8") as f:
        truth = {r["rid"]: r["id_number"] for r in csv.DictReader(f)}
    with open(register, encoding="utf-8") as f:
        in_register = {r["rid"] for r in csv.DictReader(f)}
    findable = sum(1 for v in truth.values() if v in in_register)
    settings = WORK / "zh.json"
    settings.write_text(json.dumps(SETTINGS, ensure_ascii=False, indent=2))
    splink_py = WORK / "splink_zh.py"
    splink_py.write_text(SPLINK)
    ours = [SHUNIU, "link", "files", str(visits), str(register), "--id", "rid", "--settings",
            str(settings), "--out", str(WORK / "ours.csv")]
    splink = [PYTHON, str(splink_py), str(visits), str(register), str(WORK / "splink.csv")]
    t_ours, t_splink, t_work = [], [], []
    for _ in range(RUNS):
        t_ours.append(measured(ours)[0])
        if not SKIP_SPLINK:
            secs, out = measured(splink)
            t_splink.append(secs)
            t_work.append(json.loads(out.decode().strip().splitlines()[-1])["work"])
    rss = {"ours": peak_rss(ours), "splink": 0 if SKIP_SPLINK else peak_rss(splink)}
    print(f"scale {scale}: {len(truth)} visits, {len(in_register)} register rows, {findable} findable; "
          f"{RUNS} run(s), medians")
    print("| tool | linked | correct | precision | recall | F1 | time | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    results = {}
    tools = [("shuniu", WORK / "ours.csv", t_ours, rss["ours"])]
    if not SKIP_SPLINK:
        tools.append(("Splink 5 (whole process)", WORK / "splink.csv", t_splink, rss["splink"]))
    for name, path, times, mem in tools:
        top = best(path)
        correct = sum(1 for l, (r, _) in top.items() if truth.get(l) == r)
        precision = correct / max(len(top), 1)
        recall = correct / max(findable, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        results[name] = f1
        print(f"| {name} | {len(top)} | {correct} | {precision:.4f} | {recall:.4f} | {f1:.4f} | "
              f"{statistics.median(times):.1f} s | {mem:.0f} MiB |")
    if SKIP_SPLINK:
        return
    print(f"| Splink 5 linkage work alone (no imports) | | | | | | {statistics.median(t_work):.1f} s | |")
    print()
    print(f"time ratio, ours / Splink whole process: {statistics.median(t_ours) / statistics.median(t_splink):.3f}")
    print(f"time ratio, ours / Splink work alone:    {statistics.median(t_ours) / statistics.median(t_work):.3f}")


if __name__ == "__main__":
    main()
