#!/usr/bin/python3
"""theory_plot.py — docs/plots/theory_error_vs_knots.png from `tools/verify --json`.

Documentation tooling only (never part of the build or the tests). Needs Debian's matplotlib:

    tools/verify --json > /tmp/verify.json
    /usr/bin/python3 docs/plots/theory_plot.py /tmp/verify.json docs/plots/theory_error_vs_knots.png

Left: the EM construction's worst error over 5 steps (means and weights) against the knot count
of its PWL log and square, for both spacings of the log knots. Right: the normalised power step's
final relative error against the knot count of its PWL s^(-1/2).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source, target):
    with open(source) as f:
        result = json.load(f)
    em, power = result["em"], result["power_normalized"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"sqrt": "-", "geometric": "--"}
    for spacing, style in styles.items():
        rows = [r for r in em["knots"] if r["log_spacing"] == spacing]
        knots = [r["knots"] for r in rows]
        left.loglog(knots, [r["max_mu_error"] for r in rows], "o" + style, color="C0",
                    label=f"max |mu_TF - mu_EM|, {spacing} log knots")
        left.loglog(knots, [r["max_pi_error"] for r in rows], "s" + style, color="C1",
                    label=f"max |pi_TF - pi_EM|, {spacing} log knots")
    case = em["cases"][0]
    left.set_title(f"EM construction: d={case['d']}, K={case['K']}, N={case['N']} "
                   f"(d0={em['d0']}, K0={em['k0']}), worst of {em['steps']} steps")
    left.set_xlabel("knots of PWL log and PWL square")
    left.set_ylabel("error against exact EM")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)

    knots = [r["knots"] for r in power["knots"]]
    right.loglog(knots, [r["final_error"] for r in power["knots"]], "o-", color="C2",
                 label="normalised step, worst of 8 starts")
    right.loglog(knots, [0.5 * 3 / 32 * (13.8155 / k) ** 2 for k in knots], ":", color="gray",
                 label="(3/64) (ln(s_hi/s_lo)/knots)^2")
    right.set_title("Tensor power iteration: relative error after 8 steps")
    right.set_xlabel("knots of PWL s^(-1/2) on [1e-3, 1e3]")
    right.set_ylabel("|v_TF - v_ref| / |v_ref|")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdin",
         sys.argv[2] if len(sys.argv) > 2 else "docs/plots/theory_error_vs_knots.png")
