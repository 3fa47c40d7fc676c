// Loads libvidkompy_torch.so, the plugin that holds every use of LibTorch. LibTorch's static initialisers
// (operator registration) take about half a second of CPU; as a plugin, runs that need no FFT or model (--help,
// a render from a saved alignment, most tests) do not pay it. Loading it on a thread beside the decoders gained
// nothing measurable on two cores, so it loads when the spatial stage starts.
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

// Next to the binary (the build folder; tests and benchmarks sit one folder below it), then the install prefix.
std::vector<std::filesystem::path> plugin_places() {
  namespace fs = std::filesystem;
  std::vector<fs::path> places;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    places.push_back(exe.parent_path() / kPluginName);
    places.push_back(exe.parent_path().parent_path() / kPluginName);
    places.push_back(exe.parent_path().parent_path() / "lib" / "vidkompy" / kPluginName);
  }
#ifdef VIDKOMPY_PLUGIN_DIR
  places.push_back(fs::path(VIDKOMPY_PLUGIN_DIR) / kPluginName);
#endif
  return places;
}

Loaded load() {
  Loaded l;
  std::error_code ec;
  for (const std::filesystem::path& p : plugin_places()) {
    if (!std::filesystem::is_regular_file(p, ec)) continue;
    // Never closed: LibTorch does not support being unloaded.
    void* handle = ::dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = ::dlerror();
      l.error = p.string() + ": " + (why ? why : "cannot be loaded");
      return l;
    }
    using Entry = const TorchPlugin* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(handle, "vidkompy_torch_plugin"));
    if (!entry) {
      l.error = p.string() + ": not a vidkompy plugin";
      return l;
    }
    l.api = entry();
    return l;
  }
  l.error = std::string(kPluginName) + ": not found next to the binary or under the install prefix";
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

Status torch_status() {
  const Loaded& l = loaded();
  if (l.api) return Status::Ok();
  return Status::Fail(kExitInput, kPluginName, "cannot load the LibTorch plugin: " + l.error);
}

std::unique_ptr<Fft2d> make_cpu_fft() { return api().make_fft(); }

std::unique_ptr<Embedder> load_torchscript_embedder(const std::string& path, int threads) {
  return api().load_embedder(path, threads);
}

std::string default_model_path() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> places;
  if (!ec) {
    places.push_back(exe.parent_path() / "models" / "vidkompy-embedder.pt");
    places.push_back(exe.parent_path().parent_path() / "share" / "vidkompy" / "vidkompy-embedder.pt");
  }
#ifdef VIDKOMPY_MODEL_DIR
  places.push_back(fs::path(VIDKOMPY_MODEL_DIR) / "vidkompy-embedder.pt");
#endif
  for (const fs::path& p : places)
    if (fs::is_regular_file(p, ec)) return p.string();
  return {};
}

}  // namespace vidkompy
