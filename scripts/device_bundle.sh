#!/usr/bin/env bash
# Packs a built CUDA-enabled tree for a lent GPU machine that has CUDA and PyTorch but no FFmpeg (issue #7):
# the binaries, tests and benchmarks of BUILD, the ffmpeg CLI the tests call, and every shared library they need
# from Debian except glibc, libstdc++ and CUDA's own. Libraries that only unused FFmpeg features need (text to
# speech, device capture, some encoders) are replaced by stubs with the same soname and symbols
# (scripts/stub_lib.py), which brings the archive under the device tool's 64 MiB. scripts/device_run.sh unpacks it.
# Usage: scripts/device_bundle.sh [BUILD [OUT]]   (default build, .dev/bundle.tar.xz; .dev is git-ignored)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$root/build}")
out=${2:-$root/.dev/bundle.tar.xz}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/build/tests" "$stage/bin" "$stage/lib" "$stage/stubs" "$(dirname "$out")"
# Kept real: libavdevice (ffmpeg's lavfi input lives there), the encoders the tests use (x264, x265, vpx) and
# the decoders' libraries.
stubbed="libflite.so.1 libflite_cmu_us_awb.so.1 libflite_cmu_us_kal.so.1 libflite_cmu_us_kal16.so.1
  libflite_cmu_us_rms.so.1 libflite_cmu_us_slt.so.1 libflite_cmulex.so.1 libflite_usenglish.so.1 libpocketsphinx.so.3
  libsphinxbase.so.3 librubberband.so.2 libmysofa.so.1 liblilv-0.so.0 libbs2b.so.0 libvidstab.so.1.1 libzimg.so.2
  libplacebo.so.208 libcodec2.so.1.0 librsvg-2.so.2 libicudata.so.72 libSvtAv1Enc.so.1 librav1e.so.0
  libraw1394.so.11 libavc1394.so.0 librom1394.so.0 libiec61883.so.0 libjack.so.0 libopenal.so.1 libxcb-shape.so.0
  libxcb-xfixes.so.0 libcdio_paranoia.so.2 libcdio_cdda.so.2 libdc1394.so.25 libasound.so.2 libcaca.so.0 libGL.so.1
  libpulse.so.0 libSDL2-2.0.so.0 libXv.so.1"
for l in $stubbed; do "$root/scripts/stub_lib.py" "/usr/lib/x86_64-linux-gnu/$l" "$stage/stubs"; done
bins=("$build/vidkompy" "$build/vidkompy_bench" "$build/libvidkompy_cufft.so" "$build"/tests/*_test
      /usr/bin/ffmpeg /usr/bin/ffprobe /usr/bin/time)
LD_LIBRARY_PATH="$stage/stubs" ldd "${bins[@]}" 2>/dev/null | awk '/=>/ {print $3}' | sort -u |
  grep -v -E "^$stage/stubs|/(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libcuda|libcufft)\.so|ld-linux" |
  while read -r l; do cp -L "$l" "$stage/lib/"; done
cp "$stage"/stubs/* "$stage/lib/"
cp -a "$build/vidkompy" "$build/vidkompy_bench" "$build/libvidkompy_cufft.so" "$build/models" \
  "$build/CTestTestfile.cmake" "$stage/build/"
cp -a "$build"/tests/*_test "$build"/tests/*.cmake "$stage/build/tests/"
cp /usr/bin/ffmpeg /usr/bin/ffprobe /usr/bin/time "$stage/bin/"
tar -C "$stage" -cf - build bin lib | xz -T0 -9e >"$out"
echo "$out: $(du -h "$out" | cut -f1), $(ls "$stage/lib" | wc -l) libraries" >&2
