# Finds every library vidkompy links. All come from Debian bookworm packages (scripts/setup.sh installs them);
# traps are recorded in the README ("Building").
find_package(PkgConfig REQUIRED)
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale libswresample)
find_package(Threads REQUIRED)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
# LibTorch 1.13 (CPU): torch::fft for phase correlation, TorchScript for the embedder. It adds
# -D_GLIBCXX_USE_CXX11_ABI=1, which matches every other Debian library.
find_package(Torch REQUIRED)
# FAISS 1.7.3 (static) needs OpenMP found first; BLAS comes from libopenblas0-pthread (27x faster than the
# reference BLAS that Debian would pick otherwise).
find_package(OpenMP REQUIRED)
find_package(faiss REQUIRED)
