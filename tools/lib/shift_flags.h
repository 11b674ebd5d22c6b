// shift_flags.h — the task-shift flags of tools/eval and tools/baselines, bound, checked and
// reported in one place (the shifts themselves: gmm/mixture/tasks.h).
//
//   --shift none|perturb|aniso|phase   the task distribution
//   --perturbation S                   perturb: the means get N(0, S^2 I) on top of U(-5,5)^d
//   --phase-a A                        phase: separation Delta = sqrt((1 + sqrt(A)) ln N)
//   --phase-b B                        phase: dimension d = floor(B N ln N) at each N
// The phase transition has K = 2 and its own d at each N; each program says how that meets its
// own K and d flags. --phase-a and --phase-b are refused with another shift; --perturbation is
// ignored there (tools/baselines always took it that way).
//
// In JSON every record names its shift: "shift" and the shift's parameters ("perturbation_std";
// "phase_a", "phase_b" (null where d was not derived from b) and "separation", Delta at the
// record's N).
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/mixture/evaluate.h"

namespace tg::tools {

struct ShiftFlags {
  gmm::Shift shift = gmm::Shift::None;
  double perturbation = 0.0;
  double phase_a = 1.0;
  double phase_b = 0.0;  // 0: not given (a program may then fix d itself)

  // Binds the four flags to the fields (so this object must stay where it is until parsing is
  // done). `phase_b_default` is how the help shows --phase-b's default.
  void add_to(CLI::App& app, const std::string& phase_b_default);
  // After app.parse(): "" or the one-line problem (a phase flag with another shift).
  std::string problem(const CLI::App& app) const;
  static bool given(const CLI::App& app, const std::string& flag);  // "--shift", "--phase-a", ...

  // The shift and its parameters into the harness settings.
  void apply(gmm::EvalSettings& settings) const;
  // "phase transition (K = 2, a = 1, ..., d = floor(b N ln N), b = 0.05)" and the like;
  // `fixed_d`: the d of a phase transition without --phase-b.
  std::string describe(int64_t fixed_d = 0) const;
  // The records as JSON, each with "shift" and the shift's parameters.
  nlohmann::json records_json(const std::vector<gmm::EvalRecord>& records) const;
};

}  // namespace tg::tools
