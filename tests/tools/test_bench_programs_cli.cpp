// test_bench_programs_cli.cpp — the benchmark programs of bench/ take their flags like the tools:
// --help lists them with types and defaults, a bad flag or value is one line on stderr and exit
// code 2, and a tiny run prints the keys that bench/sklearn_em.py reads.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "run_program.h"

using tg::testing::Run;
using tg::testing::run_program;

TEST_CASE("bench_em: help with types and defaults, bad flags exit 2 with one line") {
  const Run help = run_program("bench_em", "--help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--tasks INT:POSITIVE [128]") != std::string::npos);
  CHECK(help.out.find("--dump FILE") != std::string::npos);

  const Run unknown = run_program("bench_em", "--bogus 1");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("--bogus") != std::string::npos);
  CHECK(unknown.err.find('\n') == unknown.err.size() - 1);

  const Run zero = run_program("bench_em", "--tasks 0");
  CHECK(zero.exit_code == 2);
  CHECK(zero.err == "bench_em: --tasks: must be > 0, got 0\n");
}

TEST_CASE("bench_em: a tiny run prints one JSON object with the timings and EM's outcome") {
  const Run r = run_program("bench_em", "--tasks 2 --k 2 --d 2 --n 8 --reps 1 --threads 1");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("tasks").get<int>() == 2);
  for (const char* key : {"em_batched_ms_per_task", "em_per_task_loop_cpu_ms_per_task",
                          "em_strong10_ms_per_task", "spectral_cpu_ms_per_task"}) {
    CAPTURE(key);
    CHECK(j.at(key).get<double>() >= 0);
  }
  CHECK(j.contains("em_mean_log_likelihood"));
}

TEST_CASE("bench_gpt2_block: --activation takes gelu or relu only") {
  const Run r = run_program("bench_gpt2_block", "--activation tanh");
  CHECK(r.exit_code == 2);
  CHECK(r.err ==
        "bench_gpt2_block: --activation: unknown activation 'tanh' (expected gelu or relu)\n");
}
