#!/usr/bin/python3
"""sklearn_em.py — our batched EM against sklearn's GaussianMixture on the same tasks.

    /usr/bin/python3 bench/sklearn_em.py [--bench build/bin/bench_em] [--tasks 128] [--k 5] [--d 8]
                                [--n 128] [--seed 0] [--threads 1]

Runs bench_em (which times our EM and spectral method and dumps its tasks and starting means),
then fits sklearn.mixture.GaussianMixture to every task from the SAME starting means and uniform
weights, one task after another, and prints both times per task and the ratio.

sklearn has no known-variance mode. The closest setting is covariance_type='spherical' (one
variance per component) started at variance 1 (precisions_init = 1): its M-step also re-estimates
that variance, a little more work per iteration than ours. Its stopping rule (change of the
average log-likelihood per point < tol, at most max_iter iterations) is the one we use, so
tol=1e-7 and max_iter=100 match the paper's EM. n_init=1. Both sides are held to --threads
threads (BLAS and OpenMP) so that the ratio compares work, not cores. Times are medians, in wall
time and in process CPU time (the steadier measure on a shared, loaded machine).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--bench", default=os.path.join(root, "build", "bin", "bench_em"))
    p.add_argument("--tasks", type=int, default=128)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--d", type=int, default=8)
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np  # after the thread settings, which numpy's BLAS reads at import
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "tasks.bin")
        cmd = [args.bench, "--tasks", str(args.tasks), "--k", str(args.k), "--d", str(args.d),
               "--n", str(args.n), "--seed", str(args.seed), "--threads", str(args.threads),
               "--reps", str(args.reps), "--dump", dump]
        ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        with open(dump, "rb") as f:
            B, N, d, K = (int(v) for v in f.readline().split())
            x = np.frombuffer(f.read(B * N * d * 8), dtype="<f8").reshape(B, N, d)
            means0 = np.frombuffer(f.read(B * K * d * 8), dtype="<f8").reshape(B, K, d)

    def fit_all():
        iterations, ll = [], []
        for b in range(B):
            gm = GaussianMixture(n_components=K, covariance_type="spherical", max_iter=100,
                                 tol=1e-7, n_init=1, means_init=means0[b],
                                 weights_init=np.full(K, 1.0 / K), precisions_init=np.ones(K))
            gm.fit(x[b])
            iterations.append(gm.n_iter_)
            ll.append(gm.score(x[b]))
        return iterations, ll

    warnings.simplefilter("ignore", ConvergenceWarning)
    fit_all()  # warm-up
    times, cpu_times = [], []
    for _ in range(max(1, args.reps // 2)):
        start, cpu_start = time.perf_counter(), time.process_time()
        iterations, ll = fit_all()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    sk_ms = 1e3 * sorted(times)[len(times) // 2] / B
    sk_cpu_ms = 1e3 * sorted(cpu_times)[len(cpu_times) // 2] / B

    report = {
        "tasks": B, "k": K, "d": d, "n": N, "threads": args.threads,
        "ours": ours,
        "sklearn_ms_per_task": sk_ms,
        "sklearn_cpu_ms_per_task": sk_cpu_ms,
        "sklearn_mean_iterations": float(np.mean(iterations)),
        "sklearn_mean_log_likelihood": float(np.mean(ll)),
        "speedup_em_batched_vs_sklearn": sk_ms / ours["em_batched_ms_per_task"],
        "speedup_em_per_task_loop_vs_sklearn": sk_ms / ours["em_per_task_loop_ms_per_task"],
        "cpu_speedup_em_batched_vs_sklearn": sk_cpu_ms / ours["em_batched_cpu_ms_per_task"],
    }
    print(json.dumps(report, indent=1))
    print(f"EM, K={K} d={d} N={N}, {B} tasks, {args.threads} thread(s), ms per task, wall (cpu): "
          f"ours {ours['em_batched_ms_per_task']:.4f} ({ours['em_batched_cpu_ms_per_task']:.4f}), "
          f"sklearn {sk_ms:.3f} ({sk_cpu_ms:.3f}) -> "
          f"{report['speedup_em_batched_vs_sklearn']:.1f}x "
          f"({report['cpu_speedup_em_batched_vs_sklearn']:.1f}x); spectral "
          f"{ours['spectral_ms_per_task']:.4f} ({ours['spectral_cpu_ms_per_task']:.4f})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
