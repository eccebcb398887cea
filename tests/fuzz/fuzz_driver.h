// An in-process fuzz loop (gcc builds; clang's libFuzzer is not in the project's toolchain): a
// target defines FuzzOne with libFuzzer's signature, so the same file also links with
// -fsanitize=fuzzer where clang is installed. The driver feeds it the seed corpus, then random
// mutations of it (bit flips, byte edits, inserted "interesting" bytes and numbers, splices of
// two inputs) for a bounded time. A UserError is an expected answer to bad input; anything
// else (an InternalError, another exception, a signal, a broken invariant the target checks) is
// a finding: the input is written to crash-<target>-<n> in the working directory and the
// process fails. Such an input becomes a regression test (a file of the corpus, or a gtest).
//
//   fuzz_jsonl_decoder tests/fuzz/corpus/jsonl_decoder --seconds 5
#pragma once

#include <cstddef>
#include <cstdint>

// The target: one input. Returns 0 (libFuzzer's convention); throws or aborts on a finding.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// The target's name, for crash files.
extern const char* const kFuzzTargetName;
