// The GPU FFT backend: the same phase correlation as fft_torch.cpp (spectra of a batch of references, one
// template's cross-power spectrum normalised to unit magnitude, inverse FFT) on cuFFT. Built as its own plugin,
// libvidkompy_cufft.so, because it needs libcufft.so: the executable loads it only when a device is present.
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "vidkompy/spatial.hpp"

namespace vidkompy {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}
void check(cufftResult r, const char* what) {
  if (r != CUFFT_SUCCESS) throw std::runtime_error(std::string("cuFFT: ") + what + " failed (" + std::to_string(int(r)) + ")");
}

constexpr int kThreads = 256;

// cross = spectra[r] * conj(templ) for every reference r; partial[block] = the block's sum of |cross|.
__global__ void cross_power(const cufftComplex* spectra, const cufftComplex* templ, cufftComplex* cross,
                            size_t per_ref, size_t total, double* partial) {
  __shared__ double sums[kThreads];
  double s = 0;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < total; i += size_t(gridDim.x) * blockDim.x) {
    const cufftComplex a = spectra[i], t = templ[i % per_ref];
    const cufftComplex c = make_cuFloatComplex(a.x * t.x + a.y * t.y, a.y * t.x - a.x * t.y);
    cross[i] = c;
    s += double(hypotf(c.x, c.y));
  }
  sums[threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if (threadIdx.x < k) sums[threadIdx.x] += sums[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = sums[0];
}

// The floor of the normalisation, as in the CPU backend: 1e-4 of the mean magnitude (one block sums the partials).
__global__ void magnitude_floor(const double* partial, int blocks, size_t total, float* floor) {
  __shared__ double sums[kThreads];
  double s = 0;
  for (int b = threadIdx.x; b < blocks; b += blockDim.x) s += partial[b];
  sums[threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if (threadIdx.x < k) sums[threadIdx.x] += sums[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) *floor = float(sums[0] / double(total)) * 1e-4f + 1e-12f;
}

// cross /= (|cross| + floor), with the inverse FFT's 1 / (h w) folded in (cuFFT does not normalise; torch's
// irfft2 does).
__global__ void normalise(cufftComplex* cross, size_t total, const float* floor, float scale) {
  const float f = *floor;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < total; i += size_t(gridDim.x) * blockDim.x) {
    const cufftComplex c = cross[i];
    const float k = scale / (hypotf(c.x, c.y) + f);
    cross[i] = make_cuFloatComplex(c.x * k, c.y * k);
  }
}

template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t n = 0;
  void reserve(size_t count) {
    if (count <= n) return;
    if (p) cudaFree(p);
    p = nullptr;
    check(cudaMalloc(&p, count * sizeof(T)), "cudaMalloc");
    n = count;
  }
  ~DeviceBuffer() {
    if (p) cudaFree(p);
  }
};

class CufftFft final : public Fft2d {
 public:
  ~CufftFft() override { destroy_plans(); }

  void set_references(const std::vector<std::vector<float>>& refs, int h, int w) override {
    const int n = int(refs.size());
    if (h != h_ || w != w_ || n != n_) {
      // Plans are cached per size: the search asks for the same canvas with many templates.
      destroy_plans();
      int dims[2] = {h, w};
      check(cufftPlanMany(&forward_many_, 2, dims, nullptr, 1, 0, nullptr, 1, 0, CUFFT_R2C, n), "plan R2C batch");
      check(cufftPlanMany(&inverse_many_, 2, dims, nullptr, 1, 0, nullptr, 1, 0, CUFFT_C2R, n), "plan C2R batch");
      check(cufftPlan2d(&forward_one_, h, w, CUFFT_R2C), "plan R2C");
      planned_ = true;
      h_ = h, w_ = w, n_ = n;
    }
    const size_t pixels = size_t(h) * w, bins = size_t(h) * (w / 2 + 1);
    real_.reserve(pixels * size_t(std::max(n, 1)));
    spectra_.reserve(bins * size_t(std::max(n, 1)));
    cross_.reserve(bins * size_t(std::max(n, 1)));
    templ_.reserve(bins);
    host_.resize(pixels * size_t(n));
    for (int r = 0; r < n; ++r) std::memcpy(&host_[size_t(r) * pixels], refs[size_t(r)].data(), pixels * sizeof(float));
    check(cudaMemcpy(real_.p, host_.data(), host_.size() * sizeof(float), cudaMemcpyHostToDevice), "upload");
    if (n) check(cufftExecR2C(forward_many_, real_.p, spectra_.p), "R2C batch");
  }

  void phase_correlate(const std::vector<float>& templ, std::vector<std::vector<float>>& surfaces) override {
    // The search calls this from two threads; the device buffers below are shared, and the GPU would run the
    // calls one after the other anyway.
    std::lock_guard<std::mutex> hold(lock_);
    const size_t pixels = size_t(h_) * w_, bins = size_t(h_) * (w_ / 2 + 1), total = bins * size_t(n_);
    surfaces.resize(size_t(n_));
    if (!n_) return;
    check(cudaMemcpy(real_.p, templ.data(), pixels * sizeof(float), cudaMemcpyHostToDevice), "upload template");
    check(cufftExecR2C(forward_one_, real_.p, templ_.p), "R2C template");
    const int blocks = int(std::min<size_t>(1024, (total + kThreads - 1) / kThreads));
    partial_.reserve(size_t(blocks));
    floor_.reserve(1);
    cross_power<<<blocks, kThreads>>>(spectra_.p, templ_.p, cross_.p, bins, total, partial_.p);
    magnitude_floor<<<1, kThreads>>>(partial_.p, blocks, total, floor_.p);
    normalise<<<blocks, kThreads>>>(cross_.p, total, floor_.p, 1.0f / float(pixels));
    check(cudaGetLastError(), "kernels");
    check(cufftExecC2R(inverse_many_, cross_.p, real_.p), "C2R batch");
    host_.resize(pixels * size_t(n_));
    check(cudaMemcpy(host_.data(), real_.p, host_.size() * sizeof(float), cudaMemcpyDeviceToHost), "download");
    for (int r = 0; r < n_; ++r)
      surfaces[size_t(r)].assign(host_.begin() + std::ptrdiff_t(size_t(r) * pixels),
                                 host_.begin() + std::ptrdiff_t(size_t(r + 1) * pixels));
  }

 private:
  void destroy_plans() {
    if (!planned_) return;
    cufftDestroy(forward_many_);
    cufftDestroy(inverse_many_);
    cufftDestroy(forward_one_);
    planned_ = false;
  }

  int h_ = 0, w_ = 0, n_ = -1;
  bool planned_ = false;
  cufftHandle forward_many_ = 0, inverse_many_ = 0, forward_one_ = 0;
  // real_ holds the references, then a template, then the surfaces: one buffer of n canvases.
  DeviceBuffer<float> real_;
  DeviceBuffer<cufftComplex> spectra_, cross_, templ_;
  DeviceBuffer<double> partial_;
  DeviceBuffer<float> floor_;
  std::vector<float> host_;
  std::mutex lock_;
};

}  // namespace
}  // namespace vidkompy

// The plugin's one entry point: a new backend, or null with `why` filled (no device, no memory).
extern "C" __attribute__((visibility("default"))) vidkompy::Fft2d* vidkompy_cufft_new(char* why, int why_size) {
  try {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) throw std::runtime_error("no CUDA device");
    return new vidkompy::CufftFft();
  } catch (const std::exception& e) {
    std::snprintf(why, size_t(why_size), "%s", e.what());
    return nullptr;
  }
}
