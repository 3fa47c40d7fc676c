# VIDKOMPY_CUDA=AUTO|ON|OFF. AUTO enables CUDA when nvcc is found. The CUDA target never sees Torch headers.
include(CheckLanguage)
set(VIDKOMPY_HAVE_CUDA OFF)
if(NOT VIDKOMPY_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(VIDKOMPY_HAVE_CUDA ON)
  elseif(VIDKOMPY_CUDA STREQUAL "ON")
    message(FATAL_ERROR "VIDKOMPY_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

if(VIDKOMPY_HAVE_CUDA)
  if(NOT CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # The static CUDA runtime loads the driver at run time, so a CUDA build still
  # starts on machines without a GPU, driver or CUDA runtime (src/cuda/device.cu).
  add_library(vidkompy_cuda STATIC src/cuda/device.cu)
  target_include_directories(vidkompy_cuda PUBLIC include)
  set_target_properties(vidkompy_cuda PROPERTIES CUDA_STANDARD 17 POSITION_INDEPENDENT_CODE ON
                                                 CUDA_RUNTIME_LIBRARY Static)
  target_link_libraries(vidkompy_cuda PUBLIC ${CMAKE_DL_LIBS})
  # The cuFFT backend is a plugin (src/gpu.cpp loads it when a device is present): libcufft.so is NEEDED by it
  # alone, never by the executable.
  add_library(vidkompy_cufft MODULE src/cuda/fft_cuda.cu)
  target_include_directories(vidkompy_cufft PRIVATE include)
  set_target_properties(vidkompy_cufft PROPERTIES CUDA_STANDARD 17 CUDA_RUNTIME_LIBRARY Static
                                                  CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden
                                                  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  target_link_libraries(vidkompy_cufft PRIVATE CUDA::cufft)
  target_link_options(vidkompy_cufft PRIVATE -Wl,--no-undefined)
  install(TARGETS vidkompy_cufft LIBRARY DESTINATION lib/vidkompy COMPONENT cuda)
  message(STATUS "vidkompy: CUDA backends ON (${CMAKE_CUDA_COMPILER}, archs ${CMAKE_CUDA_ARCHITECTURES})")
else()
  message(STATUS "vidkompy: CUDA backends OFF")
endif()
