// Self-registration of native modules: each native/*.cc file adds its exports with
// HPA_REGISTER_MODULE(name, InitFn), so files never have to edit addon.cc (one concern per file).
#pragma once
#include <napi.h>

#include <vector>

namespace hpa {

using ModuleInit = void (*)(Napi::Env env, Napi::Object exports);

inline std::vector<ModuleInit>& ModuleInits() {
  static std::vector<ModuleInit> inits;
  return inits;
}

struct ModuleRegistrar {
  explicit ModuleRegistrar(ModuleInit init) { ModuleInits().push_back(init); }
};

}  // namespace hpa

#define HPA_REGISTER_MODULE(name, init) \
  static ::hpa::ModuleRegistrar hpa_registrar_##name(init)
