// shift_flags.cpp — see shift_flags.h.
#include "tools/lib/shift_flags.h"

#include <stdexcept>

#include "gmm/mixture/tasks.h"
#include "tools/lib/cli.h"

namespace tg::tools {

namespace {

gmm::Shift parse_shift_flag(const std::string& text) {
  try {
    return gmm::parse_shift(text);
  } catch (const std::invalid_argument&) {
    throw CLI::ValidationError("--shift: unknown shift '" + text +
                               "' (expected none, perturb, aniso or phase)");
  }
}

}  // namespace

void ShiftFlags::add_to(CLI::App& app, const std::string& phase_b_default) {
  namespace cli = tools::cli;
  cli::add_choice(app, "--shift", shift, parse_shift_flag, gmm::shift_name,
                  "none|perturb|aniso|phase",
                  "the prior (none), perturbed means, anisotropic components, or "
                  "the K = 2 phase transition");
  cli::add_number(app, "--perturbation", perturbation, "perturb: std S of the means' N(0, S^2 I)")
      ->check(cli::at_least(0, false));
  cli::add_number(app, "--phase-a", phase_a, "phase: separation sqrt((1 + sqrt(A)) ln N)")
      ->check(cli::at_least(0, false));
  cli::add_number(app, "--phase-b", phase_b, "phase: dimension d = floor(B N ln N) at each N")
      ->check(cli::at_least(0, true))
      ->default_str(phase_b_default);
}

bool ShiftFlags::given(const CLI::App& app, const std::string& flag) {
  return app.get_option(flag)->count() > 0;
}

std::string ShiftFlags::problem(const CLI::App& app) const {
  if (shift == gmm::Shift::PhaseTransition) return "";
  for (const char* flag : {"--phase-a", "--phase-b"}) {
    if (given(app, flag)) {
      return std::string(flag) + " applies to --shift phase only (the shift is " +
             gmm::shift_name(shift) + ")";
    }
  }
  return "";
}

void ShiftFlags::apply(gmm::EvalSettings& settings) const {
  settings.shift = shift;
  settings.perturbation_std = perturbation;
  settings.phase_a = phase_a;
  settings.phase_b = phase_b;
}

std::string ShiftFlags::describe(int64_t fixed_d) const {
  std::ostringstream os;
  switch (shift) {
    case gmm::Shift::None:
      return "the prior";
    case gmm::Shift::MeanPerturbation:
      os << "mean perturbation (s = " << perturbation << ")";
      return os.str();
    case gmm::Shift::Anisotropic:
      return "anisotropic components (std 2 softplus(U(-1, 1)) per coordinate)";
    case gmm::Shift::PhaseTransition:
      os << "phase transition (K = 2, a = " << phase_a << ", separation sqrt((1 + sqrt(a)) ln N), ";
      if (phase_b > 0) {
        os << "d = floor(b N ln N), b = " << phase_b << ")";
      } else {
        os << "d = " << fixed_d << ")";
      }
      return os.str();
  }
  return "?";
}

nlohmann::json ShiftFlags::records_json(const std::vector<gmm::EvalRecord>& records) const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : records) {
    nlohmann::json j = gmm::to_json(r);
    j["shift"] = gmm::shift_name(shift);
    if (shift == gmm::Shift::MeanPerturbation) j["perturbation_std"] = perturbation;
    if (shift == gmm::Shift::PhaseTransition) {
      j["phase_a"] = phase_a;
      j["phase_b"] = phase_b > 0 ? nlohmann::json(phase_b) : nlohmann::json();
      j["separation"] = gmm::phase_transition_separation(r.n, phase_a);
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace tg::tools
