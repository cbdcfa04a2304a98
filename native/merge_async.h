// A Promise-returning AsyncWorker for the merge module's native functions: runs `work` on the
// libuv thread pool and keeps the JS objects it reads or writes (typed arrays) alive until done.
#pragma once
#include <napi.h>

#include <functional>
#include <utility>
#include <vector>

namespace hpa {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::function<void()> work, const std::vector<Napi::Value>& keep)
      : Napi::AsyncWorker(env), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {
    keep_.reserve(keep.size());
    for (const Napi::Value& v : keep) keep_.push_back(Napi::Persistent(v));
  }

  // Queues the work and returns the Promise that settles when it ends (resolves to undefined).
  static Napi::Promise Start(Napi::Env env, std::function<void()> work,
                             const std::vector<Napi::Value>& keep) {
    auto* worker = new PromiseWorker(env, std::move(work), keep);  // deleted by AsyncWorker
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::function<void()> work_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
};

}  // namespace hpa
