#!/usr/bin/python3
"""d_grid.py — the dimension grid: TGMM against the baselines at several d, as a table and a figure.

    /usr/bin/python3 bench/d_grid.py RUN_DIR... [--plot docs/plots/d_grid.png] [--json FILE]

Each RUN_DIR is a finished tools/train run (its eval.json: the final evaluation, TGMM and the
baselines on the same fresh tasks per K). Prints a Markdown table, one row per (d, method), one
column per K, of the mean l2-error (failures: the count instead), and with --plot draws the
paper-style figure with gnuplot: l2-error against K, one panel per d, one line per method
(log scale: the methods span two orders of magnitude). --json writes the records it used.
Runs are ordered by d; two runs with the same d are refused (the table would hide one).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

METHODS = ["tgmm", "em-paper", "em-strong", "spectral"]  # the order of rows and lines


def load_run(run_dir):
    path = os.path.join(run_dir, "eval.json")
    with open(path) as f:
        records = json.load(f)
    ds = {r["d"] for r in records}
    ns = {r["N"] for r in records}
    if len(ds) != 1 or len(ns) != 1:
        sys.exit(f"d_grid.py: {path}: expected one d and one N, found d {sorted(ds)}, N {sorted(ns)}")
    return ds.pop(), ns.pop(), records


def table(runs):
    ks = sorted({r["K"] for _, _, recs in runs for r in recs})
    lines = ["| d | N | method | " + " | ".join(f"K={k}" for k in ks) + " |",
             "|---|---|---|" + "---|" * len(ks)]
    for d, n, recs in runs:
        for method in METHODS:
            cells = []
            for k in ks:
                rec = next((r for r in recs if r["method"] == method and r["K"] == k), None)
                if rec is None:
                    cells.append("")
                elif rec.get("l2_error") is None:
                    cells.append(f"failed {rec['failures']}/{rec['tasks']}")
                else:
                    failed = f" ({rec['failures']} failed)" if rec["failures"] else ""
                    cells.append(f"{rec['l2_error']:.3f}{failed}")
            if any(cells):
                lines.append(f"| {d} | {n} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs, out):
    """One panel per d; l2-error against K per method, through gnuplot (PNG or SVG by suffix)."""
    terminal = ("svg size 1200,360 dynamic font 'Sans,11'" if out.endswith(".svg")
                else "pngcairo size 1200,360 font 'Sans,10'")
    with tempfile.TemporaryDirectory() as tmp:
        script = [f"set terminal {terminal}", f"set output '{out}'",
                  f"set multiplot layout 1,{len(runs)} title 'l2-error against K (fresh tasks, N as shown)'",
                  "set logscale y", "set xtics 1", "set grid", "set key top left"]
        for i, (d, n, recs) in enumerate(runs):
            plots = []
            for color, method in enumerate(METHODS, start=1):  # one colour per method in every panel
                style = f"with linespoints lw 2 lc {color} pt {color}"
                rows = sorted((r["K"], r["l2_error"]) for r in recs
                              if r["method"] == method and r.get("l2_error") is not None)
                if not rows:  # every task failed (spectral at K >= d): a key entry, no line
                    if any(r["method"] == method for r in recs):
                        plots.append(f"1/0 {style} title '{method}: failed'")
                    continue
                data = os.path.join(tmp, f"{i}_{method}.dat")
                with open(data, "w") as f:
                    f.writelines(f"{k} {e}\n" for k, e in rows)
                plots.append(f"'{data}' using 1:2 {style} title '{method}'")
            script += [f"set title 'd = {d}, N = {n}'", "set xlabel 'K'",
                       "set ylabel 'l2-error'" if i == 0 else "unset ylabel",
                       "set key" if i == 0 else "unset key", "plot " + ", ".join(plots)]
        script.append("unset multiplot")
        subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="tools/train run directories")
    p.add_argument("--plot", help="draw the figure into this .png or .svg file")
    p.add_argument("--json", help="write the records used into this file")
    args = p.parse_args()
    runs = sorted((load_run(r) for r in args.runs), key=lambda run: run[0])
    dims = [d for d, _, _ in runs]
    if len(set(dims)) != len(dims):
        sys.exit(f"d_grid.py: two runs have the same d ({dims})")
    print(table(runs))
    if args.plot:
        plot(runs, args.plot)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r for _, _, recs in runs for r in recs], f, indent=1)


if __name__ == "__main__":
    main()
