# The two plugins, defined once for the product (CMakeLists.txt, cmake/Cuda.cmake) and for the device check
# (gpu/CMakeLists.txt). ROOT is the repository root; both land in the build folder, beside the binaries.

# LibTorch lives in a plugin that the core loads on first use (src/torch_plugin.cpp): its static initialisers
# cost half a second that runs without an FFT or a model should not pay. Its imported target lists /usr/include
# as a system include directory, which breaks libstdc++'s #include_next; as a plain -I, GCC drops it.
function(vidkompy_torch_plugin root)
  add_library(vidkompy_torch MODULE ${root}/src/fft_torch.cpp ${root}/src/embedder_torch.cpp)
  target_include_directories(vidkompy_torch PRIVATE ${root}/include)
  target_compile_options(vidkompy_torch PRIVATE -Wall -Wextra -fvisibility=hidden)
  target_link_libraries(vidkompy_torch PRIVATE ${TORCH_LIBRARIES})
  target_link_options(vidkompy_torch PRIVATE -Wl,--no-undefined)
  set_target_properties(vidkompy_torch PROPERTIES NO_SYSTEM_FROM_IMPORTED ON
                                                  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
endfunction()

# The cuFFT backend is a plugin (src/gpu.cpp loads it when a device is present): libcufft.so is NEEDED by it
# alone, never by the executable. The static CUDA runtime loads the driver only at run time.
function(vidkompy_cufft_plugin root)
  add_library(vidkompy_cufft MODULE ${root}/src/cuda/fft_cuda.cu)
  target_include_directories(vidkompy_cufft PRIVATE ${root}/include)
  set_target_properties(vidkompy_cufft PROPERTIES CUDA_STANDARD 17 CUDA_RUNTIME_LIBRARY Static
                                                  CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden
                                                  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  target_link_libraries(vidkompy_cufft PRIVATE CUDA::cufft)
  target_link_options(vidkompy_cufft PRIVATE -Wl,--no-undefined)
endfunction()
