// train.cpp — the main job's program (run through the launcher tools/train).
//
// TGMM itself (the transformer estimator, its trainer and the EM / spectral baselines) is built
// on the nn and gmm layers, which are still to come. Until then this program exercises the
// foundation end to end on the same problem: it samples a Gaussian mixture from the paper's
// prior, then fits the mixture's weights and means by gradient descent on the negative
// log-likelihood, with every gradient coming from the autograd engine:
//
//   log p(x_n) = logsumexp_k [ log_softmax(w)_k - ||x_n - mu_k||^2 / 2 ] - (d/2) log 2pi
//
// and reports the error of the fit against the true parameters.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

#include "autograd/ops.h"

using namespace tg;

namespace {

struct Options {
  int64_t d = 2, k = 3, n = 512, steps = 300;
  double lr = 0.5;
  uint64_t seed = 42;
};

int usage(const char* msg) {
  std::fprintf(stderr, "train: %s (usage: train [--d D] [--k K] [--n N] [--steps S] [--seed S])\n",
               msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("train: fits a Gaussian mixture by gradient descent through the autograd engine"
                  "\n  --d D      dimension (2)\n  --k K      components (3)\n"
                  "  --n N      points (512)\n  --steps S  gradient steps (300)\n"
                  "  --seed S   random seed (42)\n");
      return 0;
    }
    if (i + 1 >= argc) return usage(("missing value for " + flag).c_str());
    const std::string value = argv[++i];
    try {
      if (flag == "--d") o.d = std::stoll(value);
      else if (flag == "--k") o.k = std::stoll(value);
      else if (flag == "--n") o.n = std::stoll(value);
      else if (flag == "--steps") o.steps = std::stoll(value);
      else if (flag == "--seed") o.seed = std::stoull(value);
      else return usage(("unknown flag " + flag).c_str());
    } catch (const std::exception&) {
      return usage(("bad value '" + value + "' for " + flag).c_str());
    }
  }
  if (o.d < 1 || o.k < 1 || o.k > 6 || o.n < o.k || o.steps < 1) {
    return usage("need d >= 1, 1 <= k <= 6, n >= k, steps >= 1");
  }

  try {
    Generator gen(o.seed);
    // The paper's prior: weights U(0.2, 0.8) normalised, means U(-5, 5)^d, unit noise.
    std::vector<double> pi(o.k), mu(o.k * o.d);
    for (auto& p : pi) p = gen.uniform(0.2, 0.8);
    const double total = std::accumulate(pi.begin(), pi.end(), 0.0);
    for (auto& p : pi) p /= total;
    for (auto& m : mu) m = gen.uniform(-5, 5);
    std::vector<double> x(o.n * o.d);
    for (int64_t i = 0; i < o.n; ++i) {
      double u = gen.uniform(), c = 0;
      int64_t z = 0;
      while (z + 1 < o.k && u > (c += pi[z])) ++z;
      for (int64_t j = 0; j < o.d; ++j) x[i * o.d + j] = mu[z * o.d + j] + gen.normal();
    }
    const Tensor X = from_vector(x, {o.n, o.d}, DType::F64);

    // Parameters: means started at K random points, weight logits at 0.
    std::vector<double> mu0(o.k * o.d);
    for (int64_t k = 0; k < o.k; ++k) {
      const int64_t i = gen.randint(0, o.n);
      for (int64_t j = 0; j < o.d; ++j) mu0[k * o.d + j] = x[i * o.d + j];
    }
    ag::Variable means(from_vector(mu0, {o.k, o.d}, DType::F64), true);
    ag::Variable logits(zeros({o.k}, DType::F64), true);
    const ag::Variable points(X);

    std::printf("fitting a %lld-component mixture in %lld-D to %lld points by gradient descent\n",
                (long long)o.k, (long long)o.d, (long long)o.n);
    double nll = 0;
    for (int64_t step = 1; step <= o.steps; ++step) {
      // (N,1,d) - (1,K,d) -> (N,K,d)
      ag::Variable diff = ag::unsqueeze(points, 1) - ag::unsqueeze(means, 0);
      ag::Variable sq = ag::sum(ag::square(diff), {-1});                     // (N,K)
      ag::Variable logp = ag::log_softmax(logits, 0) - sq * 0.5;             // (N,K)
      ag::Variable ll = ag::logsumexp(logp, {1});                            // (N)
      ag::Variable loss = -ag::mean(ll) + 0.5 * o.d * std::log(2 * M_PI);
      nll = loss.item();
      means.zero_grad();
      logits.zero_grad();
      loss.backward();
      // Gradient descent; the mean gradient is scaled by 1/pi_k (a preconditioner that makes
      // the step size independent of the component's weight, as EM's M-step is).
      const Tensor w = softmax(logits.value(), 0).unsqueeze(1);              // (K,1)
      Tensor& m = means.mutable_value();
      add_(m, div(means.grad(), w), -1.0);
      add_(logits.mutable_value(), logits.grad(), -o.lr * o.k);
      if (step == 1 || step % 50 == 0 || step == o.steps) {
        std::printf("step %4lld  negative log-likelihood per point %.5f\n", (long long)step, nll);
      }
    }

    // Error against the truth, under the best matching of components (K <= 6: all permutations).
    const auto fit_mu = means.value().to_vector();
    const auto fit_pi = softmax(logits.value(), 0).to_vector();
    std::vector<int64_t> perm(o.k);
    std::iota(perm.begin(), perm.end(), 0);
    double best_mean = INFINITY, best_weight = 0;
    do {
      double me = 0, we = 0;
      for (int64_t k = 0; k < o.k; ++k) {
        for (int64_t j = 0; j < o.d; ++j) {
          const double e = fit_mu[perm[k] * o.d + j] - mu[k * o.d + j];
          me += e * e;
        }
        we += (fit_pi[perm[k]] - pi[k]) * (fit_pi[perm[k]] - pi[k]);
      }
      if (me < best_mean) best_mean = me, best_weight = we;
    } while (std::next_permutation(perm.begin(), perm.end()));
    std::printf("mean error %.5f  weight error %.6f  (per coordinate / per component)\n",
                best_mean / (o.k * o.d), best_weight / o.k);
    std::printf("TGMM training (the transformer estimator) arrives with the nn and gmm layers.\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return 1;
  }
  return 0;
}
