// Deterministic parallel-for over a fixed number of std::threads.
//
// Work is split statically: with T threads, thread t gets the contiguous range
// [n*t/T, n*(t+1)/T). Nothing depends on scheduling, so a kernel whose per-index work writes only
// its own outputs gives bitwise identical results for every run. For reductions whose result
// must not depend on the thread count either, use ParallelForBlocks: the index space is cut into
// blocks of a fixed size (independent of T), each block computes its own partial, and the caller
// combines the partials in block order.
//
// No global mutable state: the thread count is passed per call (ResolveThreads turns 0 into the
// default). The default is min(hardware_concurrency, kMaxDefaultThreads), overridable with the
// environment variable HPA_NUM_THREADS (read once, at first use).
//
// Exceptions thrown by the body on a worker thread are caught and rethrown on the calling thread
// (the first one by thread index) after every thread has joined. Bodies must not touch N-API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

namespace hpa {

constexpr int kMaxDefaultThreads = 8;
constexpr int kMaxThreads = 256;

// The default number of threads: HPA_NUM_THREADS if set to a positive integer, else
// min(hardware_concurrency, kMaxDefaultThreads) (at least 1).
inline int DefaultThreads() {
  static const int value = [] {
    if (const char* env = std::getenv("HPA_NUM_THREADS")) {
      char* end = nullptr;
      long v = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && v > 0) return static_cast<int>(std::min<long>(v, kMaxThreads));
    }
    unsigned hw = std::thread::hardware_concurrency();
    if (hw == 0) hw = 1;
    return static_cast<int>(std::min<unsigned>(hw, kMaxDefaultThreads));
  }();
  return value;
}

// requested <= 0 means "the default"; the result is clamped to [1, kMaxThreads].
inline int ResolveThreads(int requested) {
  if (requested <= 0) return DefaultThreads();
  return std::min(requested, kMaxThreads);
}

// Runs fn(begin, end) over [0, n) split into `threads` static contiguous chunks (fewer when n is
// small: each chunk gets at least min_grain indices). Chunk 0 runs on the calling thread.
template <typename Fn>
void ParallelFor(int64_t n, int threads, int64_t min_grain, Fn&& fn) {
  if (n <= 0) return;
  if (min_grain < 1) min_grain = 1;
  int64_t t = ResolveThreads(threads);
  t = std::min<int64_t>(t, (n + min_grain - 1) / min_grain);
  if (t <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(t));
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(t - 1));
  auto run = [&](int64_t i) {
    const int64_t b = n * i / t;
    const int64_t e = n * (i + 1) / t;
    try {
      if (b < e) fn(b, e);
    } catch (...) {
      errors[static_cast<size_t>(i)] = std::current_exception();
    }
  };
  for (int64_t i = 1; i < t; ++i) workers.emplace_back(run, i);
  run(0);
  for (auto& w : workers) w.join();
  for (auto& err : errors) {
    if (err) std::rethrow_exception(err);
  }
}

// Number of fixed-size blocks covering [0, n).
inline int64_t NumBlocks(int64_t n, int64_t block) { return n <= 0 ? 0 : (n + block - 1) / block; }

// Runs fn(block_index, begin, end) for each block of `block` indices of [0, n); the blocks are
// spread statically over the threads. Block boundaries do not depend on the thread count, so
// per-block partial results combined in block order are the same for any thread count.
template <typename Fn>
void ParallelForBlocks(int64_t n, int64_t block, int threads, Fn&& fn) {
  if (block < 1) block = 1;
  const int64_t nb = NumBlocks(n, block);
  ParallelFor(nb, threads, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; ++bi) {
      const int64_t begin = bi * block;
      const int64_t end = std::min(n, begin + block);
      fn(bi, begin, end);
    }
  });
}

}  // namespace hpa
