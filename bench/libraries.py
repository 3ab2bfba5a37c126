"""Base-library benchmark (issue: "a 1% change in a source costs about 1% of a full build").

The demo city at SCALE residents (default 100,000) is generated once with the release binary;
its population library reads every resource keyed by ID number (the household register and a
hundred others). Per run:

- a full build (`shuniu libraries build CODE --full`): one streaming merge of every source;
- a 1% change: 1% of the household register's residents, drawn at random, get a new address
  (`shuniu load --mode upsert`); the serving index folds the new version in (`shuniu sharing
  index`, the cost every load pays for lookups and change feeds, reported apart); then an
  incremental build (`shuniu libraries build CODE`), which reads the changed keys from the
  change log and composes those subjects only.

The build's own `seconds` (engine time, not process start-up) is taken; three runs, medians;
the incremental build is checked to have composed exactly the changed residents and to hold
their new addresses. No peer tool derives a library incrementally from change logs, so the
figure is the ratio of our two builds.

    cargo build --release --bin shuniu
    python3 bench/libraries.py [SCALE]
"""

import csv
import io
import json
import os
import pathlib
import random
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHUNIU = os.environ.get("SHUNIU_BIN", str(ROOT / "target" / "release" / "shuniu"))
RUNS = int(os.environ.get("RUNS", "3"))
WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/shuniu-libraries-bench"))
ENV = dict(os.environ, SHUNIU_LOG="warn")


def shuniu(*args, capture=True):
    r = subprocess.run([SHUNIU, *args], capture_output=capture, text=True, env=ENV)
    if r.returncode != 0:
        sys.exit(f"shuniu {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = WORK / f"city-{scale}"
    if not (data / "demo-accounts.json").exists():
        WORK.mkdir(parents=True, exist_ok=True)
        t = time.time()
        shuniu("demo", "--no-serve", "--scale", str(scale), "--data-dir", str(data))
        print(f"demo city of {scale} residents generated in {time.time() - t:.0f} s", file=sys.stderr)
    d = ["--data-dir", str(data)]
    libraries = json.loads(shuniu("libraries", "list", "--json", *d))
    population = next(l for l in libraries if l["kind"] == "population")
    code = population["code"]
    register = next(a["authoritative"] for a in population["attributes"] if a["name"] == "address")
    sources = len({s for a in population["attributes"] for s in a["sources"]})
    full, incremental, fold, composed = [], [], [], []
    rows = None
    for run in range(RUNS):
        r = json.loads(shuniu("libraries", "build", code, "--full", "--json", *d))
        full.append(r["seconds"])
        rows = r["rows_written"]
        # 1% of the register's residents move.
        out = shuniu("sql", "--format", "csv", "--max-rows", "10000000", *d,
                     f'SELECT * FROM "{register}"')
        table = list(csv.DictReader(io.StringIO(out)))
        random.seed(run)
        moved = random.sample(table, max(1, len(table) // 100))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(table[0].keys()))
        w.writeheader()
        for row in moved:
            row["address"] = f"山东省青岛市市南区香港中路{random.randint(1, 999)}号（第{run}次迁居）"
            w.writerow(row)
        path = WORK / "moved.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        shuniu("load", "--resource", register, "--mode", "upsert", str(path), *d)
        t = time.time()
        shuniu("sharing", "index", "--resource", register, *d)
        fold.append(time.time() - t)
        r = json.loads(shuniu("libraries", "build", code, "--json", *d))
        assert r["mode"] == "incremental", r
        incremental.append(r["seconds"])
        composed.append(r["subjects_composed"])
        # Every moved resident is composed again; a register row whose key is not a valid ID
        # number (the demo's injected defects) is counted as invalid instead.
        # (A moved row identical to the stored one changes nothing and is not in the log.)
        touched = r["subjects_composed"] + r["keys_invalid"]
        assert 0.99 * len({m["id_number"] for m in moved}) <= touched <= len(moved), (touched, len(moved))
        sample = moved[0]["id_number"]
        got = json.loads(shuniu("sql", "--format", "json", *d,
                                f"SELECT address FROM \"{code}\" WHERE id_number = '{sample}'"))
        assert got and got[0]["address"] == moved[0]["address"], (got, moved[0]["address"])
        print(f"run {run + 1}: full {full[-1]:.2f} s, 1% change: index fold {fold[-1]:.2f} s, "
              f"incremental build {incremental[-1]:.2f} s ({composed[-1]} subjects)", file=sys.stderr)
    f, i, x = statistics.median(full), statistics.median(incremental), statistics.median(fold)
    print(json.dumps({
        "scale": scale, "library_rows": rows, "sources": sources,
        "full_build_s": round(f, 3), "incremental_build_s": round(i, 3),
        "changed_subjects": composed[0], "index_fold_s": round(x, 3),
        "incremental_over_full": round(i / f, 4),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
