#!/usr/bin/env python3
"""Prints the criterion results of one `cargo bench` run as Markdown tables,
with each benchmark's ratio to the floor of its own group.

    python3 bench/summary.py target/criterion [bench/peers/target/criterion]

Reads `<group>/<function>/<parameter>/new/estimates.json` and uses the median
time per iteration (robust on a busy machine). In each group the floor is the
function named `floor*` (or `ref_*`, a reference that is not a floor); throughput groups show elements per second.
"""

import json
import sys
from pathlib import Path


def median_ns(path):
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def benchmark_id(path):
    with open(path.parent / "benchmark.json") as f:
        meta = json.load(f)
    return meta["group_id"], meta.get("function_id") or "", meta.get("value_str") or "", meta.get("throughput")


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def main(roots):
    groups = {}
    for root in roots:
        for est in sorted(Path(root).glob("**/new/estimates.json")):
            group, function, value, throughput = benchmark_id(est)
            groups.setdefault(group, []).append((function, value, median_ns(est), throughput))
    for group, rows in sorted(groups.items()):
        print(f"\n### {group}\n")
        # The floor of each input: a `floor*` function, else a `ref_*` one.
        # A group with both (the pipeline) also shows each row against its `ref_*`.
        floors = {value: ns for function, value, ns, _ in rows if function.startswith("ref_")}
        refs = dict(floors) if any(f.startswith("floor") for f, _, _, _ in rows) else {}
        floors.update({value: ns for function, value, ns, _ in rows if function.startswith("floor")})
        if group.startswith("memory_store"):
            print("| benchmark | median per iteration | claim + complete per second |")
            print("|---|---:|---:|")
            rates = {}
            for function, value, ns, throughput in rows:
                elements = (throughput or {}).get("Elements", 1)
                rate = elements / (ns * 1e-9)
                rates[value] = rate
                print(f"| {function}/{value} | {fmt_ns(ns)} | {rate:,.0f} |")
            if "1" in rates and "2" in rates:
                print(f"\n2-thread scaling: {rates['2'] / rates['1']:.2f}×")
            continue
        if refs:
            print("| benchmark | size / input | median | × floor | × ref_ |")
            print("|---|---|---:|---:|---:|")
        else:
            print("| benchmark | size / input | median | × floor (or ref_) |")
            print("|---|---|---:|---:|")
        for function, value, ns, _ in sorted(rows, key=lambda r: (_size(r[1]), r[0])):
            floor = floors.get(value) or floors.get("")
            ratio = f"{ns / floor:.2f}" if floor else ""
            if refs:
                ref = refs.get(value) or refs.get("")
                print(f"| {function} | {value} | {fmt_ns(ns)} | {ratio} | {f'{ns / ref:.2f}' if ref else ''} |")
            else:
                print(f"| {function} | {value} | {fmt_ns(ns)} | {ratio} |")
        if "standardwebhooks" in {r[0] for r in rows}:
            print("\n| size | standardwebhooks ÷ bookhook (how many times faster bookhook is) |")
            print("|---|---:|")
            by = {(f, v): ns for f, v, ns, _ in rows}
            for value in sorted({v for _, v, _, _ in rows}, key=_size):
                if ("standardwebhooks", value) in by and ("bookhook", value) in by:
                    print(f"| {value} | {by[('standardwebhooks', value)] / by[('bookhook', value)]:.2f} |")


def _size(value):
    try:
        return (0, int(value))
    except ValueError:
        return (1, value)


if __name__ == "__main__":
    main(sys.argv[1:] or ["target/criterion"])
