// The seam between vidkompy and LibTorch: the FFT backend and the TorchScript embedder live in a plugin,
// libvidkompy_torch.so, that the executable loads when a stage first needs it (see torch_plugin.cpp).
#pragma once
#include <memory>
#include <string>

#include "vidkompy/types.hpp"

namespace vidkompy {

class Fft2d;
class Embedder;

// What the plugin exports, as one table (extern "C" vidkompy_torch_plugin() returns it).
struct TorchPlugin {
  std::unique_ptr<Fft2d> (*make_fft)();
  std::unique_ptr<Embedder> (*load_embedder)(const std::string& path, int threads);
};

// Loads the plugin (once); an input error naming it when it cannot be loaded.
Status torch_status();

}  // namespace vidkompy
