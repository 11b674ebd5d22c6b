// tasks.cpp — the task sampler (see tasks.h for the prior and the batch layout).
//
// Each task is drawn into f64 host buffers by draw_task with its own Generator; the buffers
// become tensors of the requested dtype at the end.
#include "gmm/mixture/tasks.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tg::gmm {

namespace {

constexpr double kCosineLimit = 0.8;
constexpr int64_t kMaxMeanDraws = 1000000;

double softplus(double v) { return v > 30 ? v : std::log1p(std::exp(v)); }

bool pairwise_cosine_ok(const double* mu, int64_t k, int64_t d) {
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = i + 1; j < k; ++j) {
      double dot = 0, ni = 0, nj = 0;
      for (int64_t c = 0; c < d; ++c) {
        dot += mu[i * d + c] * mu[j * d + c];
        ni += mu[i * d + c] * mu[i * d + c];
        nj += mu[j * d + c] * mu[j * d + c];
      }
      if (dot >= kCosineLimit * std::sqrt(ni * nj)) return false;
    }
  }
  return true;
}

// Means (K, d) into mu: U(-5,5)^d (+ N(0, s^2 I)), whole set redrawn until the cosine filter holds.
void draw_filtered_means(double* mu, int64_t k, int64_t d, double perturbation_std,
                         Generator& gen) {
  for (int64_t attempt = 0; attempt < kMaxMeanDraws; ++attempt) {
    for (int64_t i = 0; i < k * d; ++i) {
      mu[i] = gen.uniform(-5.0, 5.0);
      if (perturbation_std > 0) mu[i] += perturbation_std * gen.normal();
    }
    if (pairwise_cosine_ok(mu, k, d)) return;
  }
  throw std::runtime_error(
      "sample_tasks: no set of K=" + std::to_string(k) + " means in d=" + std::to_string(d) +
      " with pairwise cosine < 0.8 after " + std::to_string(kMaxMeanDraws) + " draws");
}

// Means for the phase transition: c +- (Delta/2) u, c ~ N(0, Delta^2 I), u uniform on the sphere.
void draw_phase_means(double* mu, int64_t d, double delta, Generator& gen) {
  std::vector<double> u(d);
  double norm = 0;
  while (norm < 1e-12) {
    norm = 0;
    for (auto& v : u) {
      v = gen.normal();
      norm += v * v;
    }
    norm = std::sqrt(norm);
  }
  for (int64_t c = 0; c < d; ++c) {
    const double centre = delta * gen.normal();
    mu[c] = centre - 0.5 * delta * u[c] / norm;
    mu[d + c] = centre + 0.5 * delta * u[c] / norm;
  }
}

// Views of one task's slots in the batch buffers.
struct TaskSlots {
  double* x;        // (N, d)
  double* weights;  // (Kmax)
  double* means;    // (Kmax, d)
  double* scales;   // (Kmax, d) or nullptr
  int64_t* labels;  // (N)
  int64_t* length;
};

void draw_task(const TaskConfig& cfg, int64_t k, uint64_t seed, const TaskSlots& out) {
  Generator gen(seed);
  const int64_t d = cfg.d, n = cfg.n;
  // Weights: sorted uniforms, normalised.
  std::vector<double> u(k);
  for (auto& v : u) v = gen.uniform(0.2, 0.8);
  std::sort(u.begin(), u.end());
  double total = 0;
  for (double v : u) total += v;
  for (int64_t i = 0; i < k; ++i) out.weights[i] = u[i] / total;
  // Means.
  if (cfg.shift == Shift::PhaseTransition) {
    draw_phase_means(out.means, d, phase_transition_separation(n, cfg.phase_a), gen);
  } else {
    const double s = cfg.shift == Shift::MeanPerturbation ? cfg.perturbation_std : 0.0;
    draw_filtered_means(out.means, k, d, s, gen);
  }
  if (out.scales) {
    for (int64_t i = 0; i < k * d; ++i) out.scales[i] = 2.0 * softplus(gen.uniform(-1.0, 1.0));
  }
  // Points: z ~ Cat(pi) by inverting the CDF, x = mu_z + sigma_z * eps.
  const int64_t length = cfg.random_lengths ? gen.randint(n / 2, n + 1) : n;
  *out.length = length;
  for (int64_t p = 0; p < n; ++p) {
    if (p >= length) {
      out.labels[p] = -1;
      continue;  // x stays zero at padding
    }
    const double r = gen.uniform();
    int64_t z = 0;
    double cdf = out.weights[0];
    while (z + 1 < k && r >= cdf) cdf += out.weights[++z];
    out.labels[p] = z;
    for (int64_t c = 0; c < d; ++c) {
      const double sigma = out.scales ? out.scales[z * d + c] : 1.0;
      out.x[p * d + c] = out.means[z * d + c] + sigma * gen.normal();
    }
  }
}

void check_config(const TaskConfig& cfg, int64_t k_max) {
  auto fail = [](const std::string& msg) { throw std::invalid_argument("sample_tasks: " + msg); };
  if (cfg.d < 1) fail("d must be >= 1, got " + std::to_string(cfg.d));
  if (cfg.n < 1) fail("n must be >= 1, got " + std::to_string(cfg.n));
  if (cfg.tasks_per_k < 1) fail("tasks_per_k must be >= 1");
  if (cfg.ks.empty()) fail("the list of K is empty");
  for (int64_t k : cfg.ks) {
    if (k < 1) fail("every K must be >= 1, got " + std::to_string(k));
    if (k > k_max) fail("K=" + std::to_string(k) + " exceeds k_max=" + std::to_string(k_max));
    if (cfg.shift == Shift::PhaseTransition && k != 2) {
      fail("the phase-transition shift has K = 2, got K=" + std::to_string(k));
    }
  }
  if (cfg.perturbation_std < 0) fail("perturbation_std must be >= 0");
  if (cfg.phase_a < 0) fail("phase_a must be >= 0");
  if (!is_floating(cfg.dtype)) fail("dtype must be f32 or f64");
}

}  // namespace

Shift parse_shift(const std::string& name) {
  if (name == "none") return Shift::None;
  if (name == "perturb") return Shift::MeanPerturbation;
  if (name == "aniso") return Shift::Anisotropic;
  if (name == "phase") return Shift::PhaseTransition;
  throw std::invalid_argument("parse_shift: unknown shift '" + name +
                              "' (expected none, perturb, aniso or phase)");
}

const char* shift_name(Shift shift) {
  switch (shift) {
    case Shift::None:
      return "none";
    case Shift::MeanPerturbation:
      return "perturb";
    case Shift::Anisotropic:
      return "aniso";
    case Shift::PhaseTransition:
      return "phase";
  }
  return "?";
}

double phase_transition_separation(int64_t n, double a) {
  return std::sqrt((1.0 + std::sqrt(a)) * std::log(static_cast<double>(n)));
}

int64_t phase_transition_dimension(int64_t n, double b) {
  const double nd = static_cast<double>(n);
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor(b * nd * std::log(nd))));
}

int64_t TaskBatch::length(int64_t b) const { return lengths.data<int64_t>()[b]; }
int64_t TaskBatch::k(int64_t b) const { return ks.data<int64_t>()[b]; }

Tensor TaskBatch::valid_mask(DType dtype) const {
  const Tensor positions = arange(n(), DType::F64).unsqueeze(0);              // (1, N)
  const Tensor valid_lengths = lengths.to(DType::F64).unsqueeze(1);           // (B, 1)
  return lt(positions.expand({batch_size(), n()}), valid_lengths).to(dtype);  // (B, N)
}

TaskRange split_range(int64_t total, int part, int parts) {
  if (parts < 1 || part < 0 || part >= parts || total < 0) {
    throw std::invalid_argument("split_range: part " + std::to_string(part) + " of " +
                                std::to_string(parts) + " is not a part");
  }
  const int64_t first = part * total / parts, end = (part + 1) * total / parts;
  return {first, end - first};
}

TaskBatch sample_tasks(const TaskConfig& cfg, Generator& gen) {
  return sample_tasks(cfg, gen, TaskRange{0, cfg.batch_size()});
}

TaskBatch sample_tasks(const TaskConfig& cfg, Generator& gen, TaskRange range) {
  const int64_t k_max =
      cfg.k_max > 0 ? cfg.k_max
                    : (cfg.ks.empty() ? 0 : *std::max_element(cfg.ks.begin(), cfg.ks.end()));
  check_config(cfg, k_max);
  const int64_t per_k = cfg.tasks_per_k, whole = cfg.batch_size();
  if (range.first < 0 || range.count < 0 || range.first + range.count > whole) {
    throw std::invalid_argument("sample_tasks: tasks [" + std::to_string(range.first) + ", " +
                                std::to_string(range.first + range.count) +
                                ") do not lie within the batch of " + std::to_string(whole));
  }
  const int64_t B = range.count, first = range.first;
  const int64_t N = cfg.n, d = cfg.d;
  const bool anisotropic = cfg.shift == Shift::Anisotropic;

  Tensor x = zeros({B, N, d}, DType::F64);          // (B, N, d)
  Tensor weights = zeros({B, k_max}, DType::F64);   // (B, Kmax)
  Tensor means = zeros({B, k_max, d}, DType::F64);  // (B, Kmax, d)
  Tensor mask = zeros({B, k_max}, DType::F64);      // (B, Kmax)
  Tensor scales = anisotropic ? zeros({B, k_max, d}, DType::F64) : Tensor();
  Tensor lengths = empty({B}, DType::I64);    // (B)
  Tensor ks = empty({B}, DType::I64);         // (B)
  Tensor labels = empty({B, N}, DType::I64);  // (B, N)

  // Seeds drawn in task order, for the whole batch, keep the batch independent of the thread
  // count and let a range hold exactly the whole batch's tasks at its positions.
  std::vector<uint64_t> seeds(whole);
  for (auto& s : seeds) s = gen.next_u64();
  int64_t* ks_data = ks.data<int64_t>();
  double* mask_data = mask.data<double>();
  for (int64_t b = 0; b < B; ++b) {
    ks_data[b] = cfg.ks[(first + b) / per_k];
    for (int64_t j = 0; j < ks_data[b]; ++j) mask_data[b * k_max + j] = 1.0;
  }

  std::string error;
#pragma omp parallel for schedule(dynamic)
  for (int64_t b = 0; b < B; ++b) {
    TaskSlots slots{x.data<double>() + b * N * d,
                    weights.data<double>() + b * k_max,
                    means.data<double>() + b * k_max * d,
                    anisotropic ? scales.data<double>() + b * k_max * d : nullptr,
                    labels.data<int64_t>() + b * N,
                    lengths.data<int64_t>() + b};
    try {
      draw_task(cfg, ks_data[b], seeds[first + b], slots);
    } catch (const std::exception& e) {
#pragma omp critical
      error = e.what();
    }
  }
  if (!error.empty()) throw std::runtime_error(error);

  TaskBatch batch;
  batch.x = x.to(cfg.dtype);
  batch.weights = weights.to(cfg.dtype);
  batch.means = means.to(cfg.dtype);
  batch.component_mask = mask.to(cfg.dtype);
  if (anisotropic) batch.scales = scales.to(cfg.dtype);
  batch.lengths = lengths;
  batch.ks = ks;
  batch.labels = labels;
  return batch;
}

Tensor task_points(const TaskBatch& batch, int64_t b) {
  return batch.x.select(0, b).narrow(0, 0, batch.length(b));
}
Tensor task_weights(const TaskBatch& batch, int64_t b) {
  return batch.weights.select(0, b).narrow(0, 0, batch.k(b));
}
Tensor task_means(const TaskBatch& batch, int64_t b) {
  return batch.means.select(0, b).narrow(0, 0, batch.k(b));
}
Tensor task_scales(const TaskBatch& batch, int64_t b) {
  return batch.scales.defined() ? batch.scales.select(0, b).narrow(0, 0, batch.k(b)) : Tensor();
}
Tensor task_labels(const TaskBatch& batch, int64_t b) {
  return batch.labels.select(0, b).narrow(0, 0, batch.length(b));
}

TaskBatch points_batch(const Tensor& x, int64_t k) {
  if (x.dim() != 2) {
    throw std::invalid_argument("points_batch: expected points (N, d), got " + x.describe());
  }
  const int64_t N = x.size(0), d = x.size(1);
  if (k < 1 || k > N) {
    throw std::invalid_argument("points_batch: K=" + std::to_string(k) + " must be in 1.." +
                                std::to_string(N) + " (the number of points)");
  }
  TaskBatch batch;
  batch.x = x.to(DType::F64).contiguous().reshape({1, N, d});
  batch.lengths = from_indices({N});
  batch.ks = from_indices({k});
  batch.weights = zeros({1, k}, DType::F64);
  batch.means = zeros({1, k, d}, DType::F64);
  batch.component_mask = ones({1, k}, DType::F64);
  batch.labels = full({1, N}, -1, DType::I64);
  return batch;
}

}  // namespace tg::gmm
