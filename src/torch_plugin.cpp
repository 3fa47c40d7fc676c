// Loads libvidkompy_torch.so, the plugin that holds every use of LibTorch. LibTorch's static initialisers
// (operator registration) take about half a second of CPU; as a plugin, runs that need no FFT or model (--help,
// a render from a saved alignment, most tests) do not pay it. The alignment loads it on a thread beside its
// decoders: on two busy cores that gains only the time it would otherwise run alone (0.07-0.1 s of 4 s).
#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <vector>

#include "torch_plugin.hpp"
#include "vidkompy/spatial.hpp"
#include "vidkompy/temporal.hpp"

namespace vidkompy {
namespace {

constexpr const char* kPluginName = "libvidkompy_torch.so";

struct Loaded {
  const TorchPlugin* api = nullptr;
  std::string error;
};

Loaded load() {
  Loaded l;
  using Entry = const TorchPlugin* (*)();
  if (auto entry = reinterpret_cast<Entry>(plugin_entry(kPluginName, "vidkompy_torch_plugin", l.error)))
    l.api = entry();
  return l;
}

const Loaded& loaded() {
  static const Loaded l = load();  // C++ guarantees one load; a second caller waits for the first
  return l;
}

const TorchPlugin& api() {
  const Loaded& l = loaded();
  if (!l.api) throw std::runtime_error("cannot load " + l.error);
  return *l.api;
}

}  // namespace

void* plugin_entry(const char* name, const char* symbol, std::string& error) {
  // Next to the binary (the build folder; tests and benchmarks sit one folder below it), then the install prefix.
#ifdef VIDKOMPY_PLUGIN_DIR
  const std::filesystem::path installed = std::filesystem::path(VIDKOMPY_PLUGIN_DIR) / name;
#else
  const std::filesystem::path installed;
#endif
  const std::filesystem::path p =
      find_beside_binary({name, std::string("../") + name, std::string("../lib/vidkompy/") + name}, installed);
  if (p.empty()) return error = std::string(name) + ": not found next to the binary or under the install prefix", nullptr;
  // Never closed: neither LibTorch nor CUDA supports being unloaded.
  void* handle = ::dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return error = p.string() + ": " + (why ? why : "cannot be loaded"), nullptr;
  }
  void* entry = ::dlsym(handle, symbol);
  if (!entry) error = p.string() + ": not a vidkompy plugin";
  return entry;
}

// Relative to the binary, so an installed tree can be moved.
std::filesystem::path find_beside_binary(const std::vector<std::filesystem::path>& relative,
                                         const std::filesystem::path& fallback) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> places;
  if (!ec)
    for (const fs::path& r : relative) places.push_back((exe.parent_path() / r).lexically_normal());
  places.push_back(fallback);
  for (const fs::path& p : places)
    if (!p.empty() && fs::is_regular_file(p, ec)) return p;
  return {};
}

Status torch_status() {
  const Loaded& l = loaded();
  if (l.api) return Status::Ok();
  return Status::Fail(kExitInput, kPluginName, "cannot load the LibTorch plugin: " + l.error);
}

std::unique_ptr<Fft2d> make_cpu_fft() { return api().make_fft(); }

std::unique_ptr<Embedder> load_torchscript_embedder(const std::string& path, int threads, bool gpu) {
  return api().load_embedder(path, threads, gpu);
}

std::string default_model_path() {
#ifdef VIDKOMPY_MODEL_DIR
  const std::filesystem::path installed = std::filesystem::path(VIDKOMPY_MODEL_DIR) / "vidkompy-embedder.pt";
#else
  const std::filesystem::path installed;
#endif
  return find_beside_binary({"models/vidkompy-embedder.pt", "../share/vidkompy/vidkompy-embedder.pt"}, installed)
      .string();
}

}  // namespace vidkompy
