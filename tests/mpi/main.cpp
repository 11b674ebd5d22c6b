// main.cpp — doctest's main for the suites that run as several processes (ctest starts them with
// mpirun -np 1, 2 and 3; they pass as one plain process too). Every process runs every case, in
// the same order, so that their collectives meet; rank 0 reports in full, the others only their
// failures (each prefixed by doctest with its file and line, and by mpirun with nothing: look for
// a second summary).
#include <doctest/doctest.h>

#include "nn/distributed.h"

int main(int argc, char** argv) {
  const tg::nn::Communicator& world = tg::nn::Communicator::world();  // MPI starts here
  doctest::Context context(argc, argv);
  if (!world.is_root()) context.setOption("minimal", true);
  return context.run();
}
