// CUDA device detection. Linked with the static CUDA runtime, which loads the driver (libcuda.so.1) only at
// run time, so a CUDA build still starts on machines without a GPU, driver or CUDA runtime.
#include <cuda_runtime.h>

#include "vidkompy/gpu.hpp"

namespace vidkompy {

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error: "no driver" and "no device" both mean no GPU
    return 0;
  }
  return n;
}

}  // namespace vidkompy
