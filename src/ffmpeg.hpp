// Private to src/: FFmpeg headers, RAII deleters and the audio track the MP4 writer interleaves.
// Public headers never include FFmpeg so that tests and other stages compile without it.
#pragma once
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/display.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}
#include <memory>
#include <string>

#include "vidkompy/video.hpp"

namespace vidkompy {

inline std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

struct InputCloser {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct CodecCloser {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct SwrFree {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
struct FifoFree {
  void operator()(AVAudioFifo* f) const { av_audio_fifo_free(f); }
};
using InputPtr = std::unique_ptr<AVFormatContext, InputCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecCloser>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFree>;
using SwrPtr = std::unique_ptr<SwrContext, SwrFree>;
using FifoPtr = std::unique_ptr<AVAudioFifo, FifoFree>;

// Opens `path` for demuxing with stream info read. On failure returns null and sets `why`.
InputPtr open_input(const std::string& path, std::string& why);

// The output's audio stream: packets copied from the source when MP4 can carry its codec, otherwise decoded
// and re-encoded to AAC. Shifted so that source time plan.start lands at output time 0, cut at plan.duration.
class AudioTrack {
 public:
  virtual ~AudioTrack() = default;
  // Writes every audio packet whose output time is before `seconds`.
  virtual Status write_until(double seconds) = 0;
  // Writes the rest (up to the planned duration) and flushes.
  virtual Status finish() = 0;
};

// Adds the audio stream to `out` (before its header is written). Returns null (and ok status) when the plan's
// file has no usable audio.
std::unique_ptr<AudioTrack> add_audio_track(const Context& ctx, AVFormatContext* out, const AudioPlan& plan,
                                            Status& status);

}  // namespace vidkompy
