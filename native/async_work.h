// Reusable async plumbing for the kernels: run a C++ callable on the libuv thread pool
// (Napi::AsyncWorker) and settle a Promise with its result, keeping the JS inputs alive meanwhile.
//
// Usage (validate every argument synchronously first, then capture raw pointers):
//
//   hpa::KeepAlive keep;
//   keep.Add(boxesArray);                       // the worker reads its memory: keep it referenced
//   const float* p = boxesArray.Data();
//   return hpa::RunAsync(env, std::move(keep),
//       [p, n]() { std::vector<int32_t> out = Kernel(p, n); return out; },   // worker thread
//       [](Napi::Env env, std::vector<int32_t>&& out, const hpa::KeepAlive&) {  // main thread
//         return hpa::ToTypedArray(env, std::move(out));
//       });
//
// or, for a result that is just one std::vector<T>, hpa::RunAsyncVector(env, keep, work); for work
// that only writes into buffers the caller passed (nothing to return), hpa::RunAsyncVoid(env, keep,
// work) resolves with undefined. This is the one helper for Promise-returning native work (the
// merge module's former PromiseWorker is RunAsyncVoid).
//
// The work runs without the JS engine: it must not touch Napi values. It may throw
// hpa::AsyncRangeError / hpa::AsyncTypeError (rejected as RangeError / TypeError) or any
// std::exception (rejected as Error); std::bad_alloc rejects with a RangeError naming the
// allocation. Every input is referenced (Napi::Reference) from Queue() until the worker is
// destroyed on the main thread, so the garbage collector cannot free a buffer the worker reads.
// (A caller that transfers/detaches the buffer while the work runs is the one hazard left; the
// wrappers in src/ document that inputs must not be mutated until the Promise settles.)
#pragma once
#include <napi.h>

#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "large_buffer.h"

namespace hpa {

// Thrown from worker code to reject with a RangeError / TypeError carrying the message.
struct AsyncRangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct AsyncTypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// JS values kept referenced while a worker uses their memory. Index order is insertion order.
class KeepAlive {
 public:
  KeepAlive() = default;
  KeepAlive(KeepAlive&&) = default;
  KeepAlive& operator=(KeepAlive&&) = default;
  KeepAlive(const KeepAlive&) = delete;
  KeepAlive& operator=(const KeepAlive&) = delete;

  // Keeps every value of `values` referenced, in order.
  explicit KeepAlive(const std::vector<Napi::Value>& values) {
    refs_.reserve(values.size());
    for (const Napi::Value& v : values) refs_.push_back(Napi::Persistent(v));
  }

  // Keeps `v` referenced; returns its index for Get().
  size_t Add(Napi::Value v) {
    refs_.push_back(Napi::Persistent(v));
    return refs_.size() - 1;
  }
  // The i-th kept value (main thread only).
  Napi::Value Get(size_t i) const { return refs_.at(i).Value(); }
  size_t Size() const { return refs_.size(); }

 private:
  std::vector<Napi::Reference<Napi::Value>> refs_;
};

// Typed-array element type for T.
template <typename T>
constexpr napi_typedarray_type TypedArrayTypeOf() {
  if constexpr (std::is_same_v<T, float>) return napi_float32_array;
  else if constexpr (std::is_same_v<T, double>) return napi_float64_array;
  else if constexpr (std::is_same_v<T, int32_t>) return napi_int32_array;
  else if constexpr (std::is_same_v<T, uint32_t>) return napi_uint32_array;
  else if constexpr (std::is_same_v<T, int16_t>) return napi_int16_array;
  else if constexpr (std::is_same_v<T, uint16_t>) return napi_uint16_array;
  else if constexpr (std::is_same_v<T, int8_t>) return napi_int8_array;
  else if constexpr (std::is_same_v<T, uint8_t>) return napi_uint8_array;
  else static_assert(sizeof(T) == 0, "unsupported typed array element type");
}

// Moves a vector into a new JS typed array. Large vectors hand their memory to an external
// ArrayBuffer (no copy); where the runtime forbids external buffers, or for small results, the
// data is copied into a fresh ArrayBuffer. Main thread only. A kernel whose result is large
// (megabytes) should allocate it as a LargeBuffer instead (large_buffer.h: mapped memory reused
// from earlier results, no page faults in steady state) and use the overload below.
template <typename T>
Napi::TypedArrayOf<T> ToTypedArray(Napi::Env env, std::vector<T>&& v) {
  const size_t n = v.size();
  constexpr size_t kExternalMinBytes = 1 << 16;
  if (n * sizeof(T) >= kExternalMinBytes) {
    auto* holder = new std::vector<T>(std::move(v));
    napi_value ab = nullptr;
    napi_status st = napi_create_external_arraybuffer(
        env, holder->data(), n * sizeof(T),
        [](napi_env, void*, void* hint) { delete static_cast<std::vector<T>*>(hint); }, holder,
        &ab);
    if (st == napi_ok) {
      return Napi::TypedArrayOf<T>::New(env, n, Napi::ArrayBuffer(env, ab), 0,
                                        TypedArrayTypeOf<T>());
    }
    // e.g. napi_no_external_buffers_allowed: fall back to a copy.
    v = std::move(*holder);
    delete holder;
    napi_value exc;
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) napi_get_and_clear_last_exception(env, &exc);
  }
  Napi::TypedArrayOf<T> out = Napi::TypedArrayOf<T>::New(env, n, TypedArrayTypeOf<T>());
  if (n) std::memcpy(out.Data(), v.data(), n * sizeof(T));
  return out;
}

// Moves a LargeBuffer into a new JS typed array: its memory becomes an external ArrayBuffer freed
// by the finalizer (no copy); where the runtime forbids external buffers the data is copied into
// a fresh ArrayBuffer and the buffer is freed here. Main thread only.
template <typename T>
Napi::TypedArrayOf<T> ToTypedArray(Napi::Env env, LargeBuffer<T>&& buf) {
  const size_t n = buf.size();
  if (n > 0) {
    napi_value ab = nullptr;
    napi_status st = napi_create_external_arraybuffer(env, buf.data(), n * sizeof(T),
                                                      large_detail::FinalizeExternal, buf.FinalizeHint(), &ab);
    if (st == napi_ok) {
      if (const size_t mapped = buf.MappedBytes()) {
        // Tell the engine how much memory this object holds, so that its collector runs when
        // many such results are unreachable (the finalizer subtracts it again).
        int64_t ignored = 0;
        napi_adjust_external_memory(env, static_cast<int64_t>(mapped), &ignored);
      }
      buf.Disown();  // the finalizer frees it
      return Napi::TypedArrayOf<T>::New(env, n, Napi::ArrayBuffer(env, ab), 0, TypedArrayTypeOf<T>());
    }
    // e.g. napi_no_external_buffers_allowed: fall back to a copy.
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
    }
  }
  Napi::TypedArrayOf<T> out = Napi::TypedArrayOf<T>::New(env, n, TypedArrayTypeOf<T>());
  if (n) std::memcpy(out.Data(), buf.data(), n * sizeof(T));
  return out;
}

namespace async_detail {

template <typename Work, typename Convert>
class TaskWorker final : public Napi::AsyncWorker {
 public:
  using Result = std::invoke_result_t<Work&>;
  static_assert(!std::is_void_v<Result>, "work must return a value (e.g. bool) to convert");

  TaskWorker(Napi::Env env, KeepAlive&& keep, Work&& work, Convert&& convert)
      : Napi::AsyncWorker(env, "hpa-detect:kernel"),
        deferred_(Napi::Promise::Deferred::New(env)),
        keep_(std::move(keep)),
        work_(std::move(work)),
        convert_(std::move(convert)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_.emplace(work_());
    } catch (const AsyncRangeError& e) {
      kind_ = Kind::Range;
      SetError(e.what());
    } catch (const AsyncTypeError& e) {
      kind_ = Kind::Type;
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      kind_ = Kind::Range;
      SetError("out of memory for the kernel's working buffers");
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(convert_(env, std::move(*result_), keep_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) override {
    Napi::Env env = Env();
    std::string msg = e.Message();
    switch (kind_) {
      case Kind::Range: deferred_.Reject(Napi::RangeError::New(env, msg).Value()); break;
      case Kind::Type: deferred_.Reject(Napi::TypeError::New(env, msg).Value()); break;
      default: deferred_.Reject(e.Value());
    }
  }

 private:
  enum class Kind { Other, Range, Type };
  Napi::Promise::Deferred deferred_;
  KeepAlive keep_;
  Work work_;
  Convert convert_;
  std::optional<Result> result_;
  Kind kind_ = Kind::Other;
};

}  // namespace async_detail

// Queues `work()` (worker thread) and returns a Promise resolved with
// `convert(env, std::move(result), keep)` (main thread) or rejected with the error work threw.
template <typename Work, typename Convert>
Napi::Promise RunAsync(Napi::Env env, KeepAlive keep, Work work, Convert convert) {
  using W = async_detail::TaskWorker<Work, Convert>;
  auto* worker = new W(env, std::move(keep), std::move(work), std::move(convert));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // AsyncWorker deletes itself after OnOK/OnError
  return promise;
}

// RunAsync for work returning std::vector<T> or LargeBuffer<T>: resolves with the matching typed array.
template <typename Work>
Napi::Promise RunAsyncVector(Napi::Env env, KeepAlive keep, Work work) {
  return RunAsync(env, std::move(keep), std::move(work),
                  [](Napi::Env e, auto&& v, const KeepAlive&) -> Napi::Value {
                    return ToTypedArray(e, std::move(v));
                  });
}

// RunAsync for work that returns nothing (it writes into buffers kept alive by `keep`): the
// Promise resolves with undefined, or rejects as RunAsync's does.
template <typename Work>
Napi::Promise RunAsyncVoid(Napi::Env env, KeepAlive keep, Work work) {
  return RunAsync(
      env, std::move(keep),
      [w = std::move(work)]() mutable {
        w();
        return true;
      },
      [](Napi::Env e, bool, const KeepAlive&) -> Napi::Value { return e.Undefined(); });
}

}  // namespace hpa
