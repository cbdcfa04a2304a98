// Entry point of the addon: runs every module's init (see registry.h).
#include "registry.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::String::New(env, "0.1.0"));
  for (hpa::ModuleInit init : hpa::ModuleInits()) init(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(hpa_detect_native, Init)
