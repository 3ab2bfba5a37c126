"""Profile API benchmark (issue: p99 ≤ 20 ms through HTTP at 100,000 residents and every source).

The demo city at SCALE residents (default 100,000) is generated once; `shuniu serve` answers
`GET /api/v1/profiles/persons/{id}` for 公安's population system, whose profiles consult every
resource of its department that holds a person (the household register, residents, migrants,
moves, ID cards …); each disclosing resource's records are shaped and durably audited. (The
demo's consuming systems hold grants limited to 50 calls a second, which a load generator
would only measure as 429s.) wrk (Debian's package) drives random residents' profiles over
loopback; three runs, medians.

    cargo build --release --bin shuniu
    apt-get install wrk
    .venv/bin/python bench/profiles.py [SCALE]

No peer tool answers this question (a profile is a fan-out of granted, audited lookups), so the
figure is the target's alone; the same machine's lookup figures are in docs/benchmarks.md.
"""

import json
import os
import pathlib
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHUNIU = os.environ.get("SHUNIU_BIN", str(ROOT / "target" / "release" / "shuniu"))
RUNS = int(os.environ.get("RUNS", "3"))
DURATION = int(os.environ.get("DURATION", "20"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "8"))
WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/shuniu-profiles-bench"))
APP = "ga-population-system"
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def valid(id_number):
    if len(id_number) != 18 or not id_number[:17].isdigit():
        return False
    return "10X98765432"[sum(int(d) * w for d, w in zip(id_number, W)) % 11] == id_number[17]


def wrk_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s)", s)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    env = dict(os.environ, SHUNIU_LOG="warn")
    data = WORK / f"city-{scale}"
    if not (data / "demo-accounts.json").exists():
        WORK.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        subprocess.run([SHUNIU, "demo", "--no-serve", "--scale", str(scale), "--data-dir", str(data)],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"demo city of {scale:,} residents generated in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    accounts = json.loads((data / "demo-accounts.json").read_text())
    app = next(a for a in accounts["applications"] if a["id"] == APP)
    key = app["api_key"]
    mz = next(a for a in accounts["applications"] if a["id"] == "mz-assistance-system")
    register = next(g["resource_code"] for g in mz["grants"] if g["resource_name"] == "户籍人口基本信息")
    out = subprocess.run([SHUNIU, "sql", "--data-dir", str(data), "--format", "csv", "--max-rows", "1000000",
                          f'SELECT id_number FROM "{register}"'], check=True, capture_output=True, text=True, env=env)
    ids = [line.strip() for line in out.stdout.splitlines()[1:] if valid(line.strip())]
    ids = ids[:: max(1, len(ids) // 20000)]
    keys = WORK / "profile-ids.txt"
    keys.write_text("\n".join(ids) + "\n")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([SHUNIU, "serve", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except Exception:
                time.sleep(0.2)
        # What a profile holds here: resources consulted and sections, over a sample.
        sections, consulted, linked = [], [], 0
        for i in ids[:200]:
            req = urllib.request.Request(f"{base}/api/v1/profiles/persons/{i}?purpose=bench",
                                         headers={"Authorization": f"Bearer {key}"})
            p = json.load(urllib.request.urlopen(req))
            sections.append(len(p["sections"]))
            consulted.append(p["resources_consulted"])
            linked += any(s["matched_by"] == "linkage" for s in p["sections"])
        print(f"resources consulted per profile: {statistics.median(consulted):.0f}; sections: median "
              f"{statistics.median(sections):.0f}, max {max(sections)}; with linked records: {linked} of 200")
        script = WORK / "profile.lua"
        script.write_text(
            'local keys = {}\n'
            f'for line in io.lines("{keys}") do keys[#keys + 1] = line end\n'
            'math.randomseed(os.time() + math.floor(os.clock() * 1000000))\n'
            'request = function()\n'
            '  local k = keys[math.random(#keys)]\n'
            f'  return wrk.format("GET", "/api/v1/profiles/persons/" .. k .. "?purpose=bench", '
            f'{{["Authorization"] = "Bearer {key}"}})\n'
            'end\n'
        )
        runs = []
        for r in range(RUNS):
            out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", "-s", str(script), base],
                                 check=True, capture_output=True, text=True).stdout
            if "50%" not in out:
                raise SystemExit(f"wrk gave no latency distribution:\n{out}")
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            p50 = wrk_ms(re.search(r"50%\s+(\S+)", out).group(1))
            p99 = wrk_ms(re.search(r"99%\s+(\S+)", out).group(1))
            bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            runs.append((rps, p50, p99, int(bad.group(1)) if bad else 0))
            print(f"  run {r + 1}: {rps:,.0f} profiles/s p50 {p50:.2f} ms p99 {p99:.2f} ms non-2xx {runs[-1][3]}",
                  file=sys.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    print(f"| residents | connections | profiles/s (median) | p50 | p99 | non-2xx |")
    print(f"|---|---|---|---|---|---|")
    print(f"| {scale:,} | {CONNECTIONS} | {statistics.median(r[0] for r in runs):,.0f} | "
          f"{statistics.median(r[1] for r in runs):.2f} ms | {statistics.median(r[2] for r in runs):.2f} ms | "
          f"{sum(r[3] for r in runs)} |")


if __name__ == "__main__":
    main()
