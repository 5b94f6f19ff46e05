"""Turn a saved benchmark run (``pytest bench/ --benchmark-json out/bench.json``) into Markdown tables.

One table per benchmark group, every row against the group's reference (the row its
``extra_info["reference"]`` names, else the first: vqdsp's own): ``time / ref`` above 1 means
slower than the reference. The ``stages`` groups (bench/test_stages.py) give each stage's share
of the end-to-end time instead: the README's "where the time goes" table.
Rows with ``audio_seconds`` get the real-time factor (audio seconds / median wall seconds); memory
rows get their peak RSS. Several files (e.g. one benchmark re-run alone) are reported together::

    python bench/report.py out/bench.json [more.json ...] [-o out/bench.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TARGETS = (  # (group prefix, row label, what, goal): the README's goals, reported, never asserted
    ("end to end, 8 kHz mono", "vqdsp, 2 threads", "real-time factor", 100.0),  # the goals are for 2 threads
    ("end to end, 48 kHz stereo", "vqdsp, 2 threads", "real-time factor", 30.0),
    ("memory", "VQDenoise reset=False", "peak RSS MB", 500.0),
)


EXTRAS = ("gflops", "share_of_nominal_peak", "share_of_practical_peak", "gb_per_s")  # extra_info keys shown as columns


def label(bench: dict) -> str:
    """A row's name: ``extra_info["label"]``, else the ``method`` parameter, else the test's name."""
    return str((bench.get("extra_info") or {}).get("label") or (bench.get("params") or {}).get("method") or bench["name"])


def seconds(bench: dict) -> float:
    return float(bench["stats"]["median"])


def fmt_time(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def reference(rows: list[dict]) -> dict:
    """The row the others are compared with: the one ``extra_info["reference"]`` names, else the first."""
    named = (rows[0].get("extra_info") or {}).get("reference")
    for row in rows:
        if named is not None and label(row) == named:
            return row
    return rows[0]


def rtf(bench: dict) -> float | None:
    audio = (bench.get("extra_info") or {}).get("audio_seconds")
    return None if audio is None else float(audio) / seconds(bench)


def group_table(name: str, rows: list[dict]) -> list[str]:
    ref = reference(rows)
    info = [r.get("extra_info") or {} for r in rows]
    memory = any("peak_rss_mb" in i for i in info)
    extras = [k for k in EXTRAS if any(k in i for i in info)]
    stages = name.startswith("stages")
    head = ["", "median", "share of end to end" if stages else f"time / {label(ref)}"]
    if any("audio_seconds" in i for i in info):
        head += ["real-time factor"]
    if memory:
        head += ["peak RSS", "peak RSS, shorter run", "RSS after model load"]
    head += extras
    lines = [f"**{name}** (median of {min(r['stats']['rounds'] for r in rows)}+ rounds)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row, i in zip(rows, info, strict=True):
        ratio = seconds(row) / seconds(ref)
        cells = [label(row), fmt_time(seconds(row)), f"{100 * ratio:.0f}%" if stages else f"{ratio:.3g}"]
        if "real-time factor" in head:
            factor = rtf(row)
            cells.append("" if factor is None else f"{factor:.3g}x")
        if memory:
            cells += [f"{i[k]:.0f} MB" if i.get(k) == i.get(k) and k in i else "" for k in ("peak_rss_mb", "short_peak_rss_mb", "rss_after_load_mb")]
        cells += [str(i.get(k, "")) for k in extras]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def machine_line(benches: list[dict]) -> str:
    info = benches[0].get("extra_info") or {}
    loads = [b["extra_info"]["load_avg_1min"] for b in benches if "load_avg_1min" in (b.get("extra_info") or {})]
    parts = [f"{info.get('cpu', '?')}, {info.get('cpu_count', '?')} cores, {info.get('torch_threads', '?')} torch threads",
             f"torch {info.get('torch', '?')}, numpy {info.get('numpy', '?')}, Python {info.get('python', '?')}"]
    if info.get("gpu"):
        parts.append(f"GPU {info['gpu']}")
    line = "Machine: " + "; ".join(parts) + "."
    cores = info.get("cpu_count") or 1
    if loads:
        line += f" 1-minute load average during the run: {min(loads):.1f} to {max(loads):.1f}"
        line += " (**measured under load**: other jobs shared the CPU)." if max(loads) > 0.75 * cores else "."
    return line


def targets(groups: dict[str, list[dict]]) -> list[str]:
    lines = []
    for prefix, row_label, what, goal in TARGETS:
        for name, rows in groups.items():
            row = next((r for r in rows if name.startswith(prefix) and label(r) == row_label), None)
            if row is None:
                continue
            if what == "real-time factor":
                value, met = rtf(row), rtf(row) >= goal
                text = f"{value:.3g}x vs goal {goal:g}x" + ("" if met else f" (missed: {goal / value:.1f}x too slow)")
            else:
                value = row["extra_info"]["peak_rss_mb"]
                met = value <= goal
                text = f"{value:.0f} MB vs goal {goal:g} MB" + ("" if met else f" (missed by {value - goal:.0f} MB)")
            lines.append(f"- {row_label}, {name}: {what} {text}: **{'met' if met else 'missed'}**")
    return lines


def render(data: dict) -> str:
    benches = data.get("benchmarks", [])
    if not benches:
        raise ValueError("no benchmarks in this file: was it written with --benchmark-json by a run with timings?")
    groups: dict[str, list[dict]] = {}
    for bench in benches:
        groups.setdefault(bench.get("group") or bench["name"], []).append(bench)
    commit = data.get("commit_info", {}).get("id", "")[:7]
    out = [machine_line(benches), f"Run {data.get('datetime', '?')[:19]}" + (f", commit {commit}." if commit else "."), ""]
    for name, rows in groups.items():
        out += group_table(name, rows)
    goal_lines = targets(groups)
    if goal_lines:
        out += ["Targets:", "", *goal_lines, ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Markdown tables from a pytest-benchmark JSON file.")
    parser.add_argument("json", type=Path, nargs="+", help="files written by pytest --benchmark-json, reported together")
    parser.add_argument("-o", "--output", type=Path, help="write the Markdown here (default: print it)")
    args = parser.parse_args(argv)
    try:
        runs = [json.loads(path.read_text()) for path in args.json]
        data = {**runs[0], "benchmarks": [b for run in runs for b in run.get("benchmarks", [])]}
        text = render(data)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: cannot make a report from {', '.join(map(str, args.json))}: {err}", file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
