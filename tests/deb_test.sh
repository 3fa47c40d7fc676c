#!/usr/bin/env bash
# Builds the Debian package with cpack into a temporary folder and checks what it declares and carries.
# Usage: tests/deb_test.sh BUILD_DIR   (run by ctest)
set -euo pipefail
build=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$build" && cpack -G DEB -B "$work" >/dev/null)
deb=$(ls "$work"/vidkompy_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libavcodec libavformat libswscale libtorch libopenblas0-pthread; do
  grep -q "$lib" <<<"$depends" || { echo "Depends lacks $lib: $depends" >&2; exit 1; }
done
files=$(dpkg-deb -c "$deb")
for f in ./usr/bin/vidkompy ./usr/lib/vidkompy/libvidkompy_torch.so ./usr/share/vidkompy/vidkompy-embedder.pt \
         ./usr/share/man/man1/vidkompy.1; do
  grep -q " $f\$" <<<"$files" || { echo "$deb lacks $f" >&2; exit 1; }
done
# The CPU build: the cuFFT plugin (NVIDIA's libcufft is no Debian package) stays out.
if grep -q "libvidkompy_cufft" <<<"$files"; then echo "$deb carries the cuFFT plugin" >&2; exit 1; fi
echo "$(basename "$deb"): Depends: $depends"
