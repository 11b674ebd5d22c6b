// main.cpp — doctest's main, shared by every test binary: the suite runs with a temporary
// folder of its own (private_tmpdir.h).
#include <doctest/doctest.h>

#include "private_tmpdir.h"

int main(int argc, char** argv) {
  const tg::testing::PrivateTmpdir tmpdir;
  return doctest::Context(argc, argv).run();
}
