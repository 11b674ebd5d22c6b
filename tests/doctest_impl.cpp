// doctest_impl.cpp — doctest's implementation, compiled once and linked into every test binary
// (the library tg_doctest). Each binary's own main() is in main.cpp, autograd_main.cpp or
// mpi/main.cpp, which include doctest.h without DOCTEST_CONFIG_IMPLEMENT.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
