// --gpu support for builds without CUDA: there is never a device.
#include "vidkompy/gpu.hpp"

namespace vidkompy {

#ifndef VIDKOMPY_WITH_CUDA
int cuda_device_count() { return 0; }
#endif

}  // namespace vidkompy
