// GPU detection for --gpu auto|on|off. Builds without CUDA report no device.
#pragma once

namespace vidkompy {

// Number of usable CUDA devices; 0 without a driver, a device, or CUDA support in this build.
int cuda_device_count();

}  // namespace vidkompy
