#!/usr/bin/python3
"""real_data.py — our mixtures against sklearn's GaussianMixture on three real, labelled data sets.

    /usr/bin/python3 bench/real_data.py [--fit build/bin/fit] [--tgmm-checkpoint runs/default]
                                        [--n-init 10] [--seed 0] [--threads 1]

The data sets are the CSV files Debian's python3-sklearn ships (iris: N = 150, d = 4, 3 classes;
wine: 178, 13, 3; breast cancer: 569, 30, 2). Their first line is "N,d,class names..."; each row
is d features, then the class label. K is the true number of classes. For each data set:

  spherical, diag  (the raw features)  build/bin/fit --method em-strong --covariance C (k-means++,
                   10 restarts) against GaussianMixture(covariance_type=C, n_init=--n-init,
                   init_params="k-means++", tol=1e-7, max_iter=100): the same initialisation
                   family, restarts, stopping rule and iteration cap as our strong EM. sklearn adds
                   reg_covar = 1e-6 to each variance; ours floors each variance at 1e-6.
  unit             (after --standardize: each column centred and scaled to unit variance) our
                   em-strong, em-paper and spectral, and TGMM where a checkpoint is given and the
                   data fit it. sklearn has no fixed-variance model, so it has no row here.

Each row reports, computed here by ONE formula for every method from its fitted parameters in the
original units (weights, means, per-coordinate standard deviations):
  log-lik  the average log-likelihood per point, (1/N) sum_n log sum_k pi_k N(x_n; mu_k, diag(s_k^2))
  ARI      sklearn.metrics.adjusted_rand_score of the true labels and the method's hard
           assignments (tools/fit --assignments; sklearn's predict), both the most probable
           component of each point
  time     wall seconds of the fit alone: tools/fit's fit_seconds (without starting the program,
           reading the CSV or loading a model), sklearn's fit call. Both are held to --threads
           threads (OpenMP, BLAS).
Our log-likelihood is also checked against the one tools/fit prints (they must agree to 1e-9).

TGMM (--tgmm-checkpoint DIR, a tools/train run): only a data set whose d is at most the model's d
and whose K the model was trained for can be read. A smaller d is padded with independent N(0, 1)
columns (seeded), not zeros: the model was trained on points with unit noise in every coordinate,
and a constant column is an input it has never seen, while noise columns make the data a
unit-variance mixture whose components all have mean 0 there — inside the model's family, and
carrying no information about the classes. The row "em-strong, padded" shows what the padding
costs EM. TGMM is fitted to the standardized, padded points and its means and scales are read
back on the real coordinates. It is marked off its prior: real data are not unit-variance
mixtures with means drawn from U(-5, 5)^d, and N exceeds the model's training N.
Prints the table as Markdown.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import warnings

DATA_DIR = "/usr/lib/python3/dist-packages/sklearn/datasets/data"
DATA_SETS = [("iris", "iris.csv"), ("wine", "wine_data.csv"),
             ("breast cancer", "breast_cancer.csv")]


def load(path, np):
    """Features (N, d) f64 and labels (N) int from a sklearn CSV: header 'N,d,names...'."""
    with open(path) as f:
        header = f.readline().strip().split(",")
        n, d = int(header[0]), int(header[1])
        rows = np.loadtxt(f, delimiter=",")
    assert rows.shape == (n, d + 1), (path, rows.shape)
    return rows[:, :d], rows[:, d].astype(int)


def log_likelihood(x, weights, means, scales, np):
    """Average per point of log sum_k pi_k N(x; mu_k, diag(s_k^2)); scales (K, d)."""
    from scipy.special import logsumexp
    z = (x[:, None, :] - means[None, :, :]) / scales[None, :, :]  # (N, K, d)
    log_joint = (np.log(weights)[None, :] - 0.5 * (z ** 2).sum(axis=2)
                 - np.log(scales).sum(axis=1)[None, :]
                 - 0.5 * x.shape[1] * np.log(2 * np.pi))  # (N, K)
    return float(logsumexp(log_joint, axis=1).mean())


def model_metadata(checkpoint):
    """The metadata of DIR/model.safetensors (or the file itself): d, ks, ..."""
    path = checkpoint
    if os.path.isdir(path):
        path = os.path.join(path, "model.safetensors")
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))["__metadata__"]


def run_fit(fit, x, k, flags, tmp, env):
    """build/bin/fit on the points x: (its JSON, the fit's wall seconds)."""
    path = os.path.join(tmp, "points.csv")
    with open(path, "w") as f:
        for row in x:
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    cmd = [fit, "--csv", path, "--k", str(k), "--json", "--assignments"] + flags
    result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True,
                                       env=env).stdout)
    return result, result["fit_seconds"]


def ours_row(np, ari, x, labels, result, seconds, columns=None):
    """(log-lik, ARI, seconds) of a tools/fit result; `columns` keeps the real coordinates."""
    weights = np.array(result["weights"])
    means, scales = np.array(result["means"]), np.array(result["scales"])
    if columns is not None:
        means, scales = means[:, :columns], scales[:, :columns]
    ll = log_likelihood(x, weights, means, scales, np)
    if columns is None and abs(ll - result["log_likelihood"]) > 1e-9 * max(1.0, abs(ll)):
        sys.exit("log-likelihoods disagree: %r here, %r from tools/fit" %
                 (ll, result["log_likelihood"]))
    return ll, ari(labels, result["assignments"]), seconds


def sklearn_row(np, ari, x, labels, k, covariance, args):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture
    gm = GaussianMixture(n_components=k, covariance_type=covariance, n_init=args.n_init,
                         init_params="k-means++", tol=1e-7, max_iter=100,
                         random_state=args.seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(x)
    seconds = time.perf_counter() - start
    d = x.shape[1]
    variances = gm.covariances_ if covariance == "diag" else \
        np.repeat(gm.covariances_[:, None], d, axis=1)  # spherical: (K) -> (K, d)
    ll = log_likelihood(x, gm.weights_, gm.means_, np.sqrt(variances), np)
    return ll, ari(labels, gm.predict(x)), seconds


def tgmm_rows(np, ari, x, labels, k, args, tmp, env):
    """TGMM and em-strong on the standardized points padded to the model's d, or a reason why not."""
    meta = model_metadata(args.tgmm_checkpoint)
    model_d, model_ks = int(meta["d"]), [int(v) for v in meta["ks"].split(",")]
    n, d = x.shape
    if d > model_d:
        return [], "d = %d exceeds the model's d = %d" % (d, model_d)
    if k not in model_ks:
        return [], "K = %d is not among the model's K (%s)" % (k, meta["ks"])
    rng = np.random.default_rng(args.seed)
    padded = np.hstack([x, rng.standard_normal((n, model_d - d))])
    rows = []
    for method, flags in [("tgmm (off its prior)",
                           ["--method", "tgmm", "--checkpoint", args.tgmm_checkpoint]),
                          ("em-strong, padded", ["--method", "em-strong"])]:
        result, seconds = run_fit(args.fit, padded, k, flags + ["--standardize"], tmp, env)
        label = "%s (d %d -> %d)" % (method, d, model_d) if d < model_d else method
        rows.append((label,) + ours_row(np, ari, x, labels, result, seconds, columns=d))
    return rows, None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--fit", default=os.path.join(root, "build", "bin", "fit"))
    p.add_argument("--tgmm-checkpoint", default=None,
                   help="a tools/train run directory or model file (default: no TGMM rows)")
    p.add_argument("--n-init", type=int, default=10, help="sklearn's restarts (ours: 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np  # after the thread settings, which numpy's BLAS reads at import
    from sklearn.metrics import adjusted_rand_score as ari
    env = dict(os.environ, OMP_WAIT_POLICY="passive")

    table = ["| data set | covariance | method | log-lik / point | ARI | time (s) |",
             "|---|---|---|---|---|---|"]
    notes = []

    def add(data, covariance, method, row):
        ll, score, seconds = row
        table.append("| %s | %s | %s | %.4f | %.3f | %.4f |" %
                     (data, covariance, method, ll, score, seconds))

    with tempfile.TemporaryDirectory() as tmp:
        for name, file in DATA_SETS:
            x, labels = load(os.path.join(DATA_DIR, file), np)
            k = len(np.unique(labels))
            data = "%s (N = %d, d = %d, K = %d)" % (name, x.shape[0], x.shape[1], k)
            for covariance in ("spherical", "diag"):
                result, seconds = run_fit(args.fit, x, k,
                                          ["--method", "em-strong", "--covariance", covariance],
                                          tmp, env)
                add(data, covariance, "em-strong", ours_row(np, ari, x, labels, result, seconds))
                add(data, covariance, "sklearn", sklearn_row(np, ari, x, labels, k, covariance, args))
            for method in ("em-strong", "em-paper", "spectral"):
                result, seconds = run_fit(args.fit, x, k, ["--method", method, "--standardize"],
                                          tmp, env)
                add(data, "unit, standardized", method,
                    ours_row(np, ari, x, labels, result, seconds))
            if args.tgmm_checkpoint:
                rows, reason = tgmm_rows(np, ari, x, labels, k, args, tmp, env)
                for row in rows:
                    add(data, "unit, standardized", row[0], row[1:])
                if reason:
                    notes.append("TGMM on %s: not run, %s." % (name, reason))
    print("\n".join(table))
    if notes:
        print()
        print("\n".join(notes))


if __name__ == "__main__":
    main()
