// Argument validation shared by every native entry point. Each helper throws a JS TypeError or
// RangeError whose message names the argument, so bad input never aborts the process.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace hpa {

[[noreturn]] inline void ThrowType(Napi::Env env, const std::string& what) {
  throw Napi::TypeError::New(env, what);
}
[[noreturn]] inline void ThrowRange(Napi::Env env, const std::string& what) {
  throw Napi::RangeError::New(env, what);
}

inline Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

// A typed array of exactly type T (Float32Array, Int32Array, Uint8Array, ...).
template <typename T>
Napi::TypedArrayOf<T> TypedArrayArg(Napi::Env env, Napi::Value v, const char* name,
                                    napi_typedarray_type type, const char* type_name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    ThrowType(env, std::string(name) + " must be a " + type_name);
  }
  return v.As<Napi::TypedArrayOf<T>>();
}

inline double NumberArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsNumber()) ThrowType(env, std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) ThrowRange(env, std::string(name) + " must be finite");
  return d;
}

inline int64_t IntArg(Napi::Env env, Napi::Value v, const char* name, int64_t lo, int64_t hi) {
  double d = NumberArg(env, v, name);
  if (d != std::floor(d)) ThrowType(env, std::string(name) + " must be an integer");
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    ThrowRange(env, std::string(name) + " must be in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "], got " + std::to_string(static_cast<int64_t>(d)));
  }
  return static_cast<int64_t>(d);
}

inline bool BoolArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsBoolean()) ThrowType(env, std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace hpa
