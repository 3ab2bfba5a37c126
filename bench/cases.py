"""Integrated-services benchmark (一件事一次办), with SpiffWorkflow as the peer in the same run.

The process: four steps — 户口登记 and 医保参保 in parallel, 社保卡 after both (a join), 归档 last
— each an automatic step, exported by the hub as BPMN 2.0 (`cases-bench.bpmn`, written by the
Rust side) and run by both.

Ours: `target/release/cases N` (bench/src/cases.rs) — N applications checked and opened, every
step run by the case engine's outbox, each a durable change of the control plane (one
transaction per round of due jobs; an effect recorded with the step it completes), on SQLite
and, when BENCH_DATABASE_URL names one, PostgreSQL.

Peer: SpiffWorkflow (PyPI), the same BPMN parsed by its BPMN parser, each case a BpmnWorkflow
whose ready tasks are run one by one, the workflow serialized after every step and written to
SQLite in a committed transaction (WAL, synchronous=NORMAL — the hub's own SQLite settings), as
applications built on it persist a process instance between steps.

Both warmed, RUNS alternating runs, medians; the peer's completed workflows are checked (every
one complete, every task run). Target: ≥ 10× the peer's cases per second.

    cargo build --release -p shuniu-bench --bin cases
    .venv/bin/pip install -r bench/requirements.txt      # SpiffWorkflow
    N=10000 RUNS=3 .venv/bin/python bench/cases.py
"""

import json
import re
import os
import pathlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
N = int(os.environ.get("N", "10000"))
RUNS = int(os.environ.get("RUNS", "3"))
WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/shuniu-cases-bench"))
WORK.mkdir(parents=True, exist_ok=True)
BIN = ROOT / "target" / "release" / "cases"
STEPS = {"hukou", "insurance", "card", "archive"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fresh_database(url):
    """A new, empty PostgreSQL database beside the one `url` names (each run starts empty, as
    the SQLite run does with its new file)."""
    base, _, _ = url.rpartition("/")
    name = "shuniu_cases_bench"
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", url, "-q", "-c", sql], check=True, capture_output=True)
    return f"{base}/{name}"


def ours(n, database_url=""):
    if database_url:
        database_url = fresh_database(database_url)
    env = {**os.environ, "BENCH_WORK": str(WORK), "BENCH_DATABASE_URL": database_url}
    out = subprocess.run([str(BIN), str(n)], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def spiff(n):
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.util.task import TaskState

    # Two adjustments a SpiffWorkflow user makes to a process from another tool: its default
    # serializer has no converter for the base ServiceTask spec (its users register one, or
    # model such steps as plain tasks, which it runs the same way), and it reads a timer's
    # duration as a Python expression ('P3D' quoted).
    xml = (WORK / "cases-bench.bpmn").read_text(encoding="utf-8").replace("bpmn:serviceTask", "bpmn:task")
    xml = re.sub(r'(<bpmn:timeDuration[^>]*>)(P\d+[DW])(</bpmn:timeDuration>)', r"\1'\2'\3", xml)
    (WORK / "cases-bench-spiff.bpmn").write_text(xml, encoding="utf-8")
    parser = BpmnParser()
    parser.add_bpmn_file(str(WORK / "cases-bench-spiff.bpmn"))
    spec = parser.get_spec("SVC-BENCH")
    serializer = BpmnWorkflowSerializer()
    with tempfile.TemporaryDirectory(dir=WORK) as d:
        db = sqlite3.connect(pathlib.Path(d) / "spiff.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE workflows (id INTEGER PRIMARY KEY, state TEXT NOT NULL, completed INTEGER NOT NULL)")
        started = time.perf_counter()
        steps = 0
        for i in range(n):
            wf = BpmnWorkflow(spec)
            first = wf.get_next_task(state=TaskState.READY)
            first.data.update({"child_name": "王小明"})
            db.execute("BEGIN")
            db.execute("INSERT INTO workflows VALUES (?, ?, 0)", (i, serializer.serialize_json(wf)))
            db.execute("COMMIT")
            while not wf.is_completed():
                task = wf.get_next_task(state=TaskState.READY)
                if task is None:
                    raise RuntimeError(f"case {i} stuck")
                task.run()
                wf.refresh_waiting_tasks()
                if task.task_spec.bpmn_id in STEPS:
                    steps += 1
                db.execute("BEGIN")
                db.execute(
                    "UPDATE workflows SET state = ?, completed = ? WHERE id = ?",
                    (serializer.serialize_json(wf), int(wf.is_completed()), i),
                )
                db.execute("COMMIT")
        seconds = time.perf_counter() - started
        done = db.execute("SELECT COUNT(*) FROM workflows WHERE completed = 1").fetchone()[0]
        assert done == n, (done, n)
        assert steps == 4 * n, (steps, n)
    return {"cases": n, "seconds": seconds, "cases_per_second": n / seconds}


def main():
    pg = os.environ.get("BENCH_DATABASE_URL", "")
    log(f"warming up ({min(N, 500)} cases each)")
    ours(min(N, 500))
    spiff(min(N, 200))
    runs = {"sqlite": [], "postgresql": [], "spiff": []}
    for r in range(RUNS):
        o = ours(N)
        runs["sqlite"].append(o["cases_per_second"])
        log(f"run {r + 1}: shuniu (SQLite) {o['cases_per_second']:.0f} cases/s ({o['seconds']:.1f} s)")
        if pg:
            o = ours(N, pg)
            runs["postgresql"].append(o["cases_per_second"])
            log(f"run {r + 1}: shuniu (PostgreSQL) {o['cases_per_second']:.0f} cases/s ({o['seconds']:.1f} s)")
        s = spiff(N)
        runs["spiff"].append(s["cases_per_second"])
        log(f"run {r + 1}: SpiffWorkflow {s['cases_per_second']:.0f} cases/s ({s['seconds']:.1f} s)")
    med = {k: statistics.median(v) for k, v in runs.items() if v}
    result = {
        "cases": N,
        "runs": runs,
        "median_cases_per_second": med,
        "ratio_sqlite": med["sqlite"] / med["spiff"],
        "ratio_postgresql": med.get("postgresql", 0) / med["spiff"] if "postgresql" in med else None,
        "target": 10,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
