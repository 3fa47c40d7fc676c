// The seam between vidkompy and LibTorch: the FFT backend and the TorchScript embedder live in a plugin,
// libvidkompy_torch.so, that the executable loads when a stage first needs it (see torch_plugin.cpp).
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "vidkompy/types.hpp"

namespace vidkompy {

class Fft2d;
class Embedder;

// What the plugin exports, as one table (extern "C" vidkompy_torch_plugin() returns it).
struct TorchPlugin {
  std::unique_ptr<Fft2d> (*make_fft)();
  std::unique_ptr<Embedder> (*load_embedder)(const std::string& path, int threads, bool gpu);
};

// Loads the plugin (once); an input error naming it when it cannot be loaded.
Status torch_status();

// Loads the plugin `name` (beside the binary, then under the install prefix) and returns its entry point
// `symbol`, or null with `error` set.
void* plugin_entry(const char* name, const char* symbol, std::string& error);

// The first regular file among `relative` (each taken from the binary's folder), then `fallback` (the install
// prefix compiled in); empty if none exists. How every plugin and the bundled model are found.
std::filesystem::path find_beside_binary(const std::vector<std::filesystem::path>& relative,
                                         const std::filesystem::path& fallback);

}  // namespace vidkompy
