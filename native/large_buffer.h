// Large result buffers for the kernels: memory that the kernel fills on a worker thread and that
// is then handed to JS without a copy (an external ArrayBuffer whose finalizer frees it).
//
// Why not std::vector / new[]: a result of tens of MB (RoIAlign's 1000×256×7×7 float output is
// 50 MB) is above glibc's mmap threshold, so every call mapped fresh memory and took one page
// fault per 4 KiB page on first touch (about 12 000 faults and 30-40 ms of system time per call,
// measured). Here a buffer of at least kLargeBufferMinBytes is mapped directly (start aligned to
// 2 MiB, length rounded to whole 2 MiB pages when that wastes at most 1/8) and, when freed, kept
// in a small cache for the next result (see "Reuse" below), so a kernel called in a loop writes
// into memory that is already populated. madvise(MADV_HUGEPAGE) is applied only with
// HPA_HUGE_PAGES=1 (see HugePagesWanted for the measurement); where THP is off or the platform
// has no mmap the same code works with ordinary pages / the heap.
//
// Fresh anonymous mappings read as zero: LargeBuffer::zeroed() says when the memory is known to
// be zero and MakeZeroed() zero-fills only where that is not already so. (RoIAlign's backward
// still zeroes its output itself: on fresh pages that memset is the first touch, by writes, which
// was measured cheaper than letting the accumulation's reads touch them first.)
//
// Reuse: results handed to JS are freed by a finalizer after the garbage collector finds them
// unreachable, which Node runs on a later event-loop turn; freed mappings go to a small bounded
// cache (BlockCache) and the next large result reuses one that is already populated, with no page
// faults at all. Back-to-back synchronous calls with no event-loop turn between them cannot reuse
// memory this way: each gets fresh pages. Mapped results are reported to the engine as external
// memory (napi_adjust_external_memory) so that it collects them when many are unreachable.
//
// Thread use: Make/MakeZeroed and the destructor may run on any thread; the only shared state is
// the cache, behind a mutex. ToTypedArray (main thread only) transfers ownership to the engine.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__) || defined(__APPLE__) || defined(__unix__)
#include <sys/mman.h>
#include <unistd.h>
#define HPA_LARGE_BUFFER_MMAP 1
#else
#define HPA_LARGE_BUFFER_MMAP 0
#endif

namespace hpa {

constexpr size_t kHugePageBytes = size_t{2} << 20;
// Buffers of at least this size are mapped (2 MiB aligned, cached for reuse); smaller ones come
// from malloc (glibc reuses those itself).
constexpr size_t kLargeBufferMinBytes = kHugePageBytes;

namespace large_detail {

// An owned block: `data` (bytes usable), `mapped` the length of the mapping to munmap (0: the
// block came from malloc). Mapped lengths are multiples of the page size.
struct Block {
  void* data = nullptr;
  size_t mapped = 0;
  bool zeroed = false;
};

inline size_t RoundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

// Huge-page advice is opt-in: HPA_HUGE_PAGES=1 in the environment (read once). Measured on this
// project's VMs (THP `madvise`, virtio-balloon free page reporting): a *fresh* 2 MiB page costs
// about 4x more per byte than 4 KiB pages (freed 2 MiB blocks are handed back to the hypervisor
// and fault there again), so back-to-back calls got slower with it; reused (cached) blocks are
// fault-free either way. On bare metal the advice is expected to pay off.
inline bool HugePagesWanted() {
  static const bool wanted = [] {
    const char* v = std::getenv("HPA_HUGE_PAGES");
    return v && v[0] == '1' && v[1] == '\0';
  }();
  return wanted;
}

#if HPA_LARGE_BUFFER_MMAP
// Recently freed mappings kept for reuse, so that a kernel called in a loop (a training step, a
// benchmark) writes into pages that are already mapped and populated instead of taking fresh
// zeroed pages from the OS on every call. Bounded (kCacheMaxBytes in at most kCacheMaxEntries
// blocks, oldest evicted first); a block is reused for a request of at least 2/3 its size (best
// fit). Internally
// locked: finalizers (main thread) put, kernels (any thread) take. Never destroyed (finalizers
// may run during process teardown).
class BlockCache {
 public:
  static constexpr size_t kCacheMaxBytes = size_t{256} << 20;
  static constexpr int kCacheMaxEntries = 8;

  static BlockCache& Instance() {
    static BlockCache* cache = new BlockCache();
    return *cache;
  }
  // A cached mapping of length in [len, 1.5 len], or nullptr; *mapped receives its length.
  void* Take(size_t len, size_t* mapped) {
    std::lock_guard<std::mutex> lock(mu_);
    int best = -1;
    for (int i = 0; i < count_; ++i) {
      const size_t l = entries_[i].len;
      if (l >= len && l - len <= len / 2 && (best < 0 || l < entries_[best].len)) best = i;
    }
    if (best < 0) return nullptr;
    void* p = entries_[best].data;
    *mapped = entries_[best].len;
    Erase(best);
    return p;
  }
  // Keeps the mapping, evicting (unmapping) the oldest entries to make room; false when it is
  // larger than the whole cache (the caller unmaps it).
  bool Put(void* data, size_t len) {
    if (len > kCacheMaxBytes) return false;
    Entry evicted[kCacheMaxEntries];
    int n_evicted = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (count_ > 0 && (count_ >= kCacheMaxEntries || len > kCacheMaxBytes - total_)) {
        evicted[n_evicted++] = entries_[0];
        Erase(0);
      }
      entries_[count_++] = {data, len};
      total_ += len;
    }
    for (int i = 0; i < n_evicted; ++i) munmap(evicted[i].data, evicted[i].len);
    return true;
  }

 private:
  struct Entry {
    void* data;
    size_t len;
  };
  void Erase(int i) {  // keeps insertion order (oldest first)
    total_ -= entries_[i].len;
    for (int j = i + 1; j < count_; ++j) entries_[j - 1] = entries_[j];
    --count_;
  }
  std::mutex mu_;
  Entry entries_[kCacheMaxEntries] = {};
  int count_ = 0;
  size_t total_ = 0;
};
#endif

inline Block Allocate(size_t bytes) {
  Block b;
  if (bytes == 0) bytes = 1;
#if HPA_LARGE_BUFFER_MMAP
  if (bytes >= kLargeBufferMinBytes) {
    const long ps = sysconf(_SC_PAGESIZE);
    const size_t page = ps > 0 ? static_cast<size_t>(ps) : 4096;
    // Whole huge pages where that wastes at most 1/8 (a partial last huge page would be mapped
    // with small pages, one fault per 4 KiB again); otherwise whole small pages.
    const size_t len = RoundUp(bytes, bytes >= 8 * kHugePageBytes ? kHugePageBytes : page);
    if (len < bytes || len > SIZE_MAX - kHugePageBytes) throw std::bad_alloc();
    if (void* cached = BlockCache::Instance().Take(len, &b.mapped)) {
      b.data = cached;  // already populated; contents are a previous result's
      return b;
    }
    // Over-map by 2 MiB, then unmap the unaligned head and the unused tail.
    const size_t over = len + kHugePageBytes;
    void* p = mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    const uintptr_t raw = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (raw + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
    if (aligned > raw) munmap(p, aligned - raw);
    const uintptr_t end = raw + over, used_end = aligned + len;
    if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
#ifdef MADV_HUGEPAGE
    // Fails harmlessly (EINVAL) where THP is not built in; with THP `never` it has no effect.
    if (HugePagesWanted()) madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);
#endif
    b.data = reinterpret_cast<void*>(aligned);
    b.mapped = len;
    b.zeroed = true;  // fresh anonymous memory reads as zero
    return b;
  }
#endif
  b.data = std::malloc(bytes);
  if (!b.data) throw std::bad_alloc();
  return b;
}

inline void Release(void* data, size_t mapped) {
  if (!data) return;
#if HPA_LARGE_BUFFER_MMAP
  if (mapped) {
    if (!BlockCache::Instance().Put(data, mapped)) munmap(data, mapped);
    return;
  }
#endif
  std::free(data);
}

// The finalizer's hint carries the mapped length (0 for malloc): no side allocation needed.
// Mapped blocks are also reported to the JS engine as external memory while JS owns them (see
// ToTypedArray), so that its garbage collector runs, and returns them here, when many are alive.
inline void FinalizeExternal(napi_env env, void* data, void* hint) {
  const size_t mapped = static_cast<size_t>(reinterpret_cast<uintptr_t>(hint));
  if (mapped) {
    int64_t ignored = 0;
    napi_adjust_external_memory(env, -static_cast<int64_t>(mapped), &ignored);
  }
  Release(data, mapped);
}

}  // namespace large_detail

// A move-only buffer of n elements of T (trivially copyable), uninitialised unless zeroed().
template <typename T>
class LargeBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "LargeBuffer holds plain data");

 public:
  LargeBuffer() = default;
  LargeBuffer(LargeBuffer&& o) noexcept : block_(o.block_), size_(o.size_) {
    o.block_ = {};
    o.size_ = 0;
  }
  LargeBuffer& operator=(LargeBuffer&& o) noexcept {
    if (this != &o) {
      large_detail::Release(block_.data, block_.mapped);
      block_ = o.block_;
      size_ = o.size_;
      o.block_ = {};
      o.size_ = 0;
    }
    return *this;
  }
  LargeBuffer(const LargeBuffer&) = delete;
  LargeBuffer& operator=(const LargeBuffer&) = delete;
  ~LargeBuffer() { large_detail::Release(block_.data, block_.mapped); }

  // n elements, contents unspecified (zero where zeroed() is true). Throws std::bad_alloc.
  static LargeBuffer Make(int64_t n) {
    LargeBuffer b;
    const size_t count = n > 0 ? static_cast<size_t>(n) : 0;
    if (count > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    b.block_ = large_detail::Allocate(count * sizeof(T));
    b.size_ = count;
    return b;
  }
  // n elements, all zero bits (memset only where the memory is not fresh from the OS).
  static LargeBuffer MakeZeroed(int64_t n) {
    LargeBuffer b = Make(n);
    if (!b.block_.zeroed && b.size_) {
      std::memset(b.block_.data, 0, b.size_ * sizeof(T));
      b.block_.zeroed = true;
    }
    return b;
  }

  T* data() { return static_cast<T*>(block_.data); }
  const T* data() const { return static_cast<const T*>(block_.data); }
  size_t size() const { return size_; }
  // True while the memory is known to be all zero (fresh mapping or MakeZeroed, before any
  // write through data(); the flag is not cleared by writes: check it before writing).
  bool zeroed() const { return block_.zeroed; }

  // The finalizer hint that frees this memory with large_detail::FinalizeExternal.
  void* FinalizeHint() const { return reinterpret_cast<void*>(static_cast<uintptr_t>(block_.mapped)); }
  // Bytes mapped for this buffer (0: heap memory).
  size_t MappedBytes() const { return block_.mapped; }
  // Gives up ownership (after FinalizeExternal has been registered for the memory).
  void Disown() {
    block_ = {};
    size_ = 0;
  }

 private:
  large_detail::Block block_;
  size_t size_ = 0;
};

}  // namespace hpa
