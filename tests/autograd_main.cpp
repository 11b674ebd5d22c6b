// autograd_main.cpp — doctest's main for the autograd suite, plus the op-coverage check.
//
// Every gradcheck run records the op names in its graph (ag::gradchecked_ops()). After a full
// run (no command-line filters, as ctest runs it), every op in autograd/op_registry.h must have
// been seen by some gradcheck, or the suite fails and names the missing ops.
#include <doctest/doctest.h>

#include <iostream>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/op_registry.h"
#include "private_tmpdir.h"

int main(int argc, char** argv) {
  const tg::testing::PrivateTmpdir tmpdir;  // a temporary folder of its own
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (context.shouldExit() || argc > 1) return status;  // filtered or informational run

  std::string missing;
  for (const auto& op : tg::ag::registered_ops()) {
    if (!tg::ag::gradchecked_ops().count(std::string(op.name))) {
      missing += ' ';
      missing += op.name;
    }
  }
  const size_t total = tg::ag::registered_ops().size();
  if (!missing.empty()) {
    std::cout << "op coverage: FAILED: ops without a gradcheck:" << missing << "\n";
    return 1;
  }
  std::cout << "op coverage: all " << total << " differentiable ops have a passing-run gradcheck\n";
  return status;
}
