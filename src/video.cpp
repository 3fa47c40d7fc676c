// Probe, decode and encode on libavformat/libavcodec/libswscale. Decoding yields YUV 4:2:0 at a requested
// size in presentation order; decode errors mid-stream are logged and skipped while frames remain, because
// archive footage is often slightly damaged and one bad packet should not cost the whole render.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <algorithm>
#include <array>
#include <functional>

#include "ffmpeg.hpp"
#include "vidkompy/gpu.hpp"
#include "vidkompy/options.hpp"
#include "vidkompy/spatial.hpp"

namespace vidkompy {

void ImageBuffer::reset(int width, int height, int depth) {
  const int cw = (width + 1) / 2, ch = (height + 1) / 2, b = depth > 8 ? 2 : 1;
  bytes.resize((size_t(width) * height + 2 * size_t(cw) * ch) * b);
  image.width = width;
  image.height = height;
  image.depth = depth;
  uint8_t* p = bytes.data();
  image.plane[0] = {p, width * b, width, height};
  image.plane[1] = {p + size_t(width) * height * b, cw * b, cw, ch};
  image.plane[2] = {p + (size_t(width) * height + size_t(cw) * ch) * b, cw * b, cw, ch};
}

void ImageBuffer::fill(int y, int u, int v) {
  const int val[3] = {y, u, v};
  for (int i = 0; i < 3; ++i) {
    const Plane& pl = image.plane[i];
    if (image.depth <= 8) {
      std::memset(pl.data, val[i], size_t(pl.stride) * pl.height);
    } else {
      uint16_t* w = reinterpret_cast<uint16_t*>(pl.data);
      std::fill(w, w + size_t(pl.stride) / 2 * pl.height, uint16_t(val[i]));
    }
  }
}

static_assert(Colour::kUnspecified == AVCOL_SPC_UNSPECIFIED && Colour::kUnspecified == AVCOL_PRI_UNSPECIFIED &&
              Colour::kUnspecified == AVCOL_TRC_UNSPECIFIED && Colour::kBt709 == AVCOL_SPC_BT709 &&
              Colour::kSmpte170m == AVCOL_SPC_SMPTE170M && Colour::kPq == AVCOL_TRC_SMPTE2084 &&
              Colour::kHlg == AVCOL_TRC_ARIB_STD_B67);

Colour shown_colour(const VideoInfo& v) {
  Colour c = v.colour;
  if (c.matrix == Colour::kUnspecified)
    c.matrix = v.width >= 1280 || v.height > 576 ? Colour::kBt709 : Colour::kSmpte170m;
  return c;
}

std::string colour_name(int matrix) {
  const char* name = av_color_space_name(AVColorSpace(matrix));
  return name ? name : "unknown";
}

namespace {

// The status a pass returns when SIGINT/SIGTERM arrived: exit 130/143.
Status interrupted(const Context& ctx) {
  return Status::Fail(ctx.interrupted() == SIGTERM ? kExitSigterm : kExitSigint, "", "interrupted");
}

// Why a path cannot be opened before FFmpeg gets to guess: missing, a directory, empty.
std::string check_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::strerror(errno);
  if (S_ISDIR(st.st_mode)) return "is a directory, not a video file";
  if (S_ISREG(st.st_mode) && st.st_size == 0) return "empty file (0 bytes)";
  return {};
}

// A JPEG pixel format's (yuvj420p, ...) twin without the implied full range: the same layout (libswscale warns
// about the JPEG ones; the range is set apart). Other formats are their own twin.
int plain_twin(int format) {
  switch (format) {
    case AV_PIX_FMT_YUVJ420P: return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: return AV_PIX_FMT_YUV411P;
    default: return format;
  }
}

// Whether a frame's numbers span 0-255: tagged so, or in a JPEG pixel format, which FFmpeg's H.264 and MJPEG
// decoders use for full range instead of the tag.
bool full_range(const AVFrame* f) { return f->color_range == AVCOL_RANGE_JPEG || plain_twin(f->format) != f->format; }

// Whether two matrices (AVColorSpace) turn YUV into different colours; unspecified matches anything (the frame is
// then taken to mean what the other side means, as players guess).
bool matrices_differ(int a, int b) {
  if (a == AVCOL_SPC_UNSPECIFIED || b == AVCOL_SPC_UNSPECIFIED || a == AVCOL_SPC_RGB || b == AVCOL_SPC_RGB)
    return false;
  return std::memcmp(sws_getCoefficients(a), sws_getCoefficients(b), 4 * sizeof(int)) != 0;
}

// A libswscale context, kept while what it converts stays the same, that also converts the range and the matrix
// (libswscale assumes limited range and BT.601 unless told). The ranges are set before it is initialised: that is
// when it picks its shortcuts, and the plain copy between equal formats does not convert ranges. Matrices are
// converted where they differ (libswscale goes through RGB then) and where RGB comes in (made YUV by the
// output's matrix); an unspecified one is taken to mean the other side's.
class Scaler {
 public:
  SwsContext* get(const AVFrame* f, int w, int h, AVPixelFormat to, int flags, bool dst_full, int dst_matrix) {
    const bool src_full = full_range(f);
    const int src_matrix = f->colorspace == AVCOL_SPC_UNSPECIFIED ? dst_matrix : f->colorspace;
    const std::array<int, 10> key{f->format, f->width, f->height, to, w, h, flags, src_full, dst_full, dst_matrix};
    if (sws_ && key == key_ && src_matrix == src_matrix_) return sws_.get();
    sws_.reset(sws_alloc_context());
    SwsContext* s = sws_.get();
    if (!s) return nullptr;
    av_opt_set_int(s, "srcw", f->width, 0), av_opt_set_int(s, "srch", f->height, 0);
    av_opt_set_int(s, "src_format", plain_twin(f->format), 0), av_opt_set_int(s, "src_range", src_full, 0);
    av_opt_set_int(s, "dstw", w, 0), av_opt_set_int(s, "dsth", h, 0);
    av_opt_set_int(s, "dst_format", to, 0), av_opt_set_int(s, "dst_range", dst_full, 0);
    av_opt_set_int(s, "sws_flags", flags, 0);
    if (sws_init_context(s, nullptr, nullptr) < 0) return sws_.reset(), nullptr;
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
    if (matrices_differ(src_matrix, dst_matrix) ||
        (d && (d->flags & AV_PIX_FMT_FLAG_RGB) && dst_matrix != AVCOL_SPC_UNSPECIFIED)) {
      auto table = [](int m) { return sws_getCoefficients(m == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : m); };
      sws_setColorspaceDetails(s, table(src_matrix), src_full, table(dst_matrix), dst_full, 0, 1 << 16, 1 << 16);
    }
    key_ = key, src_matrix_ = src_matrix;
    return s;
  }

 private:
  SwsPtr sws_;
  std::array<int, 10> key_{};
  int src_matrix_ = 0;
};

// `in` as `to` at w x h, its range and matrix kept (a JPEG format's range moves into the tag), in `out`: a fresh
// picture where the last one is still held elsewhere (the render may hold a decoder's frame). Null when it cannot
// be converted.
AVFrame* convert_kept(const AVFrame* in, int w, int h, AVPixelFormat to, int flags, Scaler& scaler, FramePtr& out) {
  const bool full = full_range(in);
  SwsContext* sws = scaler.get(in, w, h, to, flags, full, in->colorspace);
  if (!sws) return nullptr;
  if (!out || out->format != to || out->width != w || out->height != h || !av_frame_is_writable(out.get())) {
    out.reset(av_frame_alloc());
    if (!out) return nullptr;
    out->format = to, out->width = w, out->height = h;
    if (av_frame_get_buffer(out.get(), 0) < 0) return out.reset(), nullptr;
  }
  sws_scale(sws, in->data, in->linesize, 0, in->height, out->data, out->linesize);
  if (av_frame_copy_props(out.get(), in) < 0) return nullptr;
  if (full) out->color_range = AVCOL_RANGE_JPEG;
  return out.get();
}

bool is_image_demuxer(const AVFormatContext* f) {
  const std::string name = f->iformat->name;
  return name.find("image2") != std::string::npos || name.find("_pipe") != std::string::npos;
}

// Index of the main video stream (cover art excluded), or a negative AVERROR.
int find_video_stream(AVFormatContext* f) {
  int best = -1;
  for (unsigned i = 0; i < f->nb_streams; ++i) {
    const AVStream* s = f->streams[i];
    if (s->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
    if (s->disposition & AV_DISPOSITION_ATTACHED_PIC) continue;
    if (best < 0) best = int(i);
    if (s->disposition & AV_DISPOSITION_DEFAULT) return int(i);
  }
  return best >= 0 ? best : AVERROR_STREAM_NOT_FOUND;
}

// NVDEC's surfaces when the stream offers them, else the first software format (a profile NVDEC lacks).
AVPixelFormat prefer_cuda(AVCodecContext*, const AVPixelFormat* formats) {
  for (const AVPixelFormat* p = formats; *p != AV_PIX_FMT_NONE; ++p)
    if (*p == AV_PIX_FMT_CUDA) return *p;
  for (const AVPixelFormat* p = formats; *p != AV_PIX_FMT_NONE; ++p) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(*p);
    if (d && !(d->flags & AV_PIX_FMT_FLAG_HWACCEL)) return *p;
  }
  return AV_PIX_FMT_NONE;
}

// Sets up NVDEC (libavcodec's CUDA hwaccel) on c: false with `why` when the codec has no CUDA configuration or
// no CUDA device context can be made.
bool use_nvdec(AVCodecContext* c, const AVCodec* dec, std::string& why) {
  bool supported = false;
  for (int i = 0; const AVCodecHWConfig* cfg = avcodec_get_hw_config(dec, i); ++i)
    supported = supported || (cfg->device_type == AV_HWDEVICE_TYPE_CUDA &&
                              (cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX));
  if (!supported) return why = std::string("no NVDEC support for ") + dec->name, false;
  AVBufferRef* device = nullptr;
  if (int err = av_hwdevice_ctx_create(&device, AV_HWDEVICE_TYPE_CUDA, nullptr, nullptr, 0); err < 0)
    return why = "cannot open the CUDA device: " + av_error(err), false;
  c->hw_device_ctx = device;  // the codec context owns the reference now
  c->get_format = prefer_cuda;
  return true;
}

// `nvdec`: try the GPU decoder first; when it cannot be set up or opened, `nvdec_why` says why and the stream is
// decoded in software.
CodecPtr open_decoder(const AVStream* st, bool threads, bool nvdec, std::string& why, std::string& nvdec_why) {
  const AVCodec* dec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!dec) {
    why = std::string("no decoder for codec ") + avcodec_get_name(st->codecpar->codec_id);
    return nullptr;
  }
  for (const bool hw : {true, false}) {
    if (hw && !nvdec) continue;
    CodecPtr c(avcodec_alloc_context3(dec));
    if (!c || avcodec_parameters_to_context(c.get(), st->codecpar) < 0) {
      why = "cannot set up the decoder";
      return nullptr;
    }
    c->pkt_timebase = st->time_base;
    if (hw && !use_nvdec(c.get(), dec, nvdec_why)) continue;
    if (threads && !hw) {
      c->thread_count = 0;  // one per core
      c->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    }
    if (int err = avcodec_open2(c.get(), dec, nullptr); err < 0) {
      if (hw) {
        nvdec_why = "cannot open " + std::string(dec->name) + " on NVDEC: " + av_error(err);
        continue;
      }
      why = "cannot open the " + std::string(dec->name) + " decoder: " + av_error(err);
      return nullptr;
    }
    return c;
  }
  return nullptr;
}

int rotation_of(const AVStream* st) {
  const uint8_t* m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (!m) return 0;
  double theta = -av_display_rotation_get(reinterpret_cast<const int32_t*>(m));
  if (!std::isfinite(theta)) return 0;
  int deg = int(std::lround(theta / 90.0)) * 90 % 360;
  return deg < 0 ? deg + 360 : deg;
}


// Rotates planar frames as they are displayed (pixels turned by 90, 180 or 270 degrees clockwise), as the
// ffmpeg CLI does by default: a phone video stored sideways is shown upright. Formats whose chroma is subsampled
// in one direction only (4:2:2) or packed are converted to 4:2:0 or 4:4:4 first, so every plane turns alike.
class Rotator {
 public:
  explicit Rotator(int degrees) : deg_(degrees) {}

  AVFrame* turn(AVFrame* in) {
    AVFrame* src = in;
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(in->format));
    if (!d) return nullptr;
    if (!one_sample_per_plane(d) || d->log2_chroma_w != d->log2_chroma_h) {
      const AVPixelFormat to = d->log2_chroma_w ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_YUV444P;
      if (!(src = convert_kept(in, in->width, in->height, to, SWS_BICUBIC, sws_, conv_))) return nullptr;
      d = av_pix_fmt_desc_get(to);
    }
    const bool swap = deg_ != 180;
    if (!ensure(out_, AVPixelFormat(src->format), swap ? src->height : src->width, swap ? src->width : src->height))
      return nullptr;
    av_frame_copy_props(out_.get(), src);
    const int bytes = (d->comp[0].depth + 7) / 8;
    for (int p = 0; p < 4 && src->data[p]; ++p) {
      const int cw = p == 1 || p == 2 ? d->log2_chroma_w : 0, ch = p == 1 || p == 2 ? d->log2_chroma_h : 0;
      const int w = AV_CEIL_RSHIFT(src->width, cw), h = AV_CEIL_RSHIFT(src->height, ch);
      if (bytes == 1)
        turn_plane<uint8_t>(src->data[p], src->linesize[p], w, h, out_->data[p], out_->linesize[p]);
      else
        turn_plane<uint16_t>(src->data[p], src->linesize[p], w, h, out_->data[p], out_->linesize[p]);
    }
    return out_.get();
  }

 private:
  // Every component on a plane of its own, one whole byte or two per sample (not NV12, RGB24, PAL8, bit-packed).
  static bool one_sample_per_plane(const AVPixFmtDescriptor* d) {
    if (d->flags & (AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL)) return false;
    if (d->nb_components > 1 && !(d->flags & AV_PIX_FMT_FLAG_PLANAR)) return false;
    const int bytes = (d->comp[0].depth + 7) / 8;
    for (int c = 0; c < d->nb_components; ++c) {
      if (d->comp[c].step != bytes || d->comp[c].offset != 0 || d->comp[c].shift != 0) return false;
      for (int o = 0; o < c; ++o)
        if (d->comp[o].plane == d->comp[c].plane) return false;
    }
    return bytes <= 2;
  }

  static bool ensure(FramePtr& f, AVPixelFormat fmt, int w, int h) {
    if (f && f->format == fmt && f->width == w && f->height == h) return true;
    f.reset(av_frame_alloc());
    if (!f) return false;
    f->format = fmt, f->width = w, f->height = h;
    return av_frame_get_buffer(f.get(), 0) >= 0;
  }

  // dst(x, y) for clockwise turns: 90 takes src(y, h-1-x), 180 src(w-1-x, h-1-y), 270 src(w-1-y, x).
  template <typename T>
  void turn_plane(const uint8_t* s, int ss, int w, int h, uint8_t* d, int ds) const {
    const int dw = deg_ == 180 ? w : h, dh = deg_ == 180 ? h : w;
    for (int y = 0; y < dh; ++y) {
      T* row = reinterpret_cast<T*>(d + size_t(y) * ds);
      for (int x = 0; x < dw; ++x) {
        int sx, sy;
        if (deg_ == 90) sx = y, sy = h - 1 - x;
        else if (deg_ == 180) sx = w - 1 - x, sy = h - 1 - y;
        else sx = w - 1 - y, sy = x;
        row[x] = reinterpret_cast<const T*>(s + size_t(sy) * ss)[sx];
      }
    }
  }

  int deg_;
  Scaler sws_;
  FramePtr conv_, out_;
};

// Pulls decoded frames out of a demuxer+decoder pair, skipping over damaged packets.
class Decoder {
 public:
  // `gpu`, when given, lets the decoder use NVDEC if its --gpu and a device allow (the big sequential passes);
  // frames then come back to system memory (NV12 or P010, split into planes), and a stream NVDEC cannot open is
  // decoded in software.
  // `announce`: say so at info level (the render's decoders: one line per file), else at debug level.
  bool open(const std::string& path, bool threads, std::string& why, const Context* gpu = nullptr,
            bool announce = false) {
    why = check_path(path);
    if (!why.empty()) return false;
    fmt_ = open_input(path, why);
    if (!fmt_) return false;
    if (is_image_demuxer(fmt_.get())) {
      why = "is a still image, not a video";
      return false;
    }
    stream_ = find_video_stream(fmt_.get());
    if (stream_ < 0) {
      why = "no video stream";
      return false;
    }
    const bool nvdec = gpu && use_nvdec(*gpu);
    std::string nvdec_why;
    codec_ = open_decoder(fmt_->streams[stream_], threads, nvdec, why, nvdec_why);
    if (!codec_) return false;
    if (nvdec && !nvdec_why.empty())
      gpu->log->log(announce ? spdlog::level::info : spdlog::level::debug,
                    "{}: NVDEC is not usable ({}); decoding on the CPU", path, nvdec_why);
    else if (nvdec)
      gpu->log->debug("{}: decoding on NVDEC", path);
    if (const int deg = rotation_of(fmt_->streams[stream_])) rotator_ = std::make_unique<Rotator>(deg);
    pkt_.reset(av_packet_alloc());
    frame_.reset(av_frame_alloc());
    return true;
  }

  // The same for one of the pair's videos: its frames come at the probed size (info's), resampled where they
  // differ: a fg whose pixels have another shape than bg's (probe_inputs gives it the width it has in bg's
  // shape), or a stream that changes size midway.
  bool open(const VideoInfo& info, bool threads, std::string& why, const Context* gpu = nullptr) {
    show_w_ = info.width, show_h_ = info.height;
    bars_ = info.bars;
    return open(info.path, threads, why, gpu);
  }
  // Frames come with these bars cut off (before they are resized).
  void cut(const Bars& bars) { bars_ = bars; }

  // Next decoded frame (owned by the decoder until the next call), or null at the end.
  AVFrame* next() {
    for (;;) {
      int err = avcodec_receive_frame(codec_.get(), frame_.get());
      AVFrame* got = frame_.get();
      if (err == 0 && got->format == AV_PIX_FMT_CUDA) {
        // An NVDEC surface: copied back to system memory for the CPU stages.
        if (!sw_frame_) sw_frame_.reset(av_frame_alloc());
        av_frame_unref(sw_frame_.get());
        if (!sw_frame_ || av_hwframe_transfer_data(sw_frame_.get(), got, 0) < 0 ||
            av_frame_copy_props(sw_frame_.get(), got) < 0) {
          ++errors_;
          continue;
        }
        got = sw_frame_.get();
      }
      if (err == 0 && !(got = planar(got))) {
        ++errors_;  // out of memory
        continue;
      }
      if (err == 0 && rotator_ && !(got = rotator_->turn(got))) {
        ++errors_;  // cannot be turned (out of memory, unknown format): skip it
        continue;
      }
      if (err == 0 && bars_.any() && !(got = cropped(got))) {
        ++errors_;  // out of memory
        continue;
      }
      if (err == 0 && show_w_ > 0 && (got->width != show_w_ || got->height != show_h_) && !(got = resized(got))) {
        ++errors_;  // cannot be resampled: skip it
        continue;
      }
      if (err == 0) return got;
      if (err == AVERROR_EOF) return nullptr;
      if (err != AVERROR(EAGAIN)) {
        ++errors_;  // a damaged frame: skip it
        continue;
      }
      if (flushed_) return nullptr;
      err = av_read_frame(fmt_.get(), pkt_.get());
      if (err < 0) {
        if (err != AVERROR_EOF) ++errors_;
        avcodec_send_packet(codec_.get(), nullptr);
        flushed_ = true;
        continue;
      }
      if (pkt_->stream_index == stream_) {
        if (!wanted_.empty())  // a frame no other refers to and nobody wants is not decoded at all
          codec_->skip_frame = pkt_->pts == AV_NOPTS_VALUE ||
                                       std::binary_search(wanted_.begin(), wanted_.end(), pkt_->pts)
                                   ? AVDISCARD_DEFAULT
                                   : AVDISCARD_NONREF;
        if (avcodec_send_packet(codec_.get(), pkt_.get()) < 0) ++errors_;
      }
      av_packet_unref(pkt_.get());
    }
  }

  // `in` without bars_: a reference to its pictures with the plane pointers moved (no copy). Where the bars leave
  // nothing (a frame smaller than the probed one), `in` itself.
  AVFrame* cropped(AVFrame* in) {
    if (bars_.left + bars_.right >= in->width || bars_.top + bars_.bottom >= in->height) return in;
    if (!cut_) cut_.reset(av_frame_alloc());
    if (!cut_) return nullptr;
    av_frame_unref(cut_.get());
    if (av_frame_ref(cut_.get(), in) < 0) return nullptr;
    cut_->crop_left = size_t(bars_.left), cut_->crop_right = size_t(bars_.right);
    cut_->crop_top = size_t(bars_.top), cut_->crop_bottom = size_t(bars_.bottom);
    if (av_frame_apply_cropping(cut_.get(), AV_FRAME_CROP_UNALIGNED) < 0) return in;
    return cut_.get();
  }

  // `in` resampled to show_w_ x show_h_, in its own format where libswscale can write that (else 4:2:0), range
  // and matrix kept. Null when it cannot be.
  AVFrame* resized(AVFrame* in) {
    AVPixelFormat to = AVPixelFormat(plain_twin(in->format));
    if (!sws_isSupportedOutput(to)) to = AV_PIX_FMT_YUV420P;
    const int flags = (show_w_ < in->width || show_h_ < in->height ? SWS_AREA : SWS_BICUBIC) | SWS_ACCURATE_RND;
    return convert_kept(in, show_w_, show_h_, to, flags, resize_sws_, resized_);
  }

  // A semi-planar frame (NVDEC's NV12 and P010; raw NV12, NV21 ... files) split into the planar format with the
  // same samples, else `in` itself. libswscale 5.1's NV12 and NV21 input code writes through a null pointer at
  // many frame sizes (200x150, say: every GPU run on such a pair crashed); planar frames also take the render's
  // no-copy path. Null when out of memory.
  AVFrame* planar(AVFrame* in) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(in->format));
    if (!d || d->nb_components != 3 || (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_HWACCEL)) ||
        d->comp[0].plane != 0 || d->comp[1].plane != 1 || d->comp[2].plane != 1)
      return in;
    // 8 bits, or high-bit samples in 16 (P010, P016, P210, P410: read as 16-bit planar they keep their value).
    const int bytes = d->comp[0].step;
    const bool be = d->flags & AV_PIX_FMT_FLAG_BE;
    const int cw_log = d->log2_chroma_w, ch_log = d->log2_chroma_h;
    if (cw_log > 1 || ch_log > cw_log) return in;  // only 4:2:0, 4:2:2 and 4:4:4 have planar twins below
    AVPixelFormat to = AV_PIX_FMT_NONE;
    if (bytes == 1 && d->comp[0].depth == 8)
      to = cw_log && ch_log ? AV_PIX_FMT_YUV420P : cw_log ? AV_PIX_FMT_YUV422P : AV_PIX_FMT_YUV444P;
    else if (bytes == 2 && d->comp[0].depth + d->comp[0].shift == 16)
      to = cw_log && ch_log ? (be ? AV_PIX_FMT_YUV420P16BE : AV_PIX_FMT_YUV420P16LE)
           : cw_log       ? (be ? AV_PIX_FMT_YUV422P16BE : AV_PIX_FMT_YUV422P16LE)
                          : (be ? AV_PIX_FMT_YUV444P16BE : AV_PIX_FMT_YUV444P16LE);
    if (to == AV_PIX_FMT_NONE) return in;
    // A fresh picture unless ours is unshared: the render may still hold a reference to the last one.
    if (!planar_ || planar_->format != to || planar_->width != in->width || planar_->height != in->height ||
        !av_frame_is_writable(planar_.get())) {
      planar_.reset(av_frame_alloc());
      if (!planar_) return nullptr;
      planar_->format = to, planar_->width = in->width, planar_->height = in->height;
      if (av_frame_get_buffer(planar_.get(), 0) < 0) return planar_.reset(), nullptr;
    }
    for (int y = 0; y < in->height; ++y)
      std::memcpy(planar_->data[0] + ptrdiff_t(y) * planar_->linesize[0], in->data[0] + ptrdiff_t(y) * in->linesize[0],
                  size_t(in->width) * bytes);
    if (bytes == 1)
      split_chroma<1>(in, planar_.get(), d);
    else
      split_chroma<2>(in, planar_.get(), d);
    if (av_frame_copy_props(planar_.get(), in) < 0) return nullptr;
    return planar_.get();
  }

  // planar()'s chroma: the interleaved plane of `in` into out's two, B bytes a sample (a constant, so that the
  // copies compile to plain moves: this runs on every NVDEC frame).
  template <int B>
  static void split_chroma(const AVFrame* in, AVFrame* out, const AVPixFmtDescriptor* d) {
    const int cw = AV_CEIL_RSHIFT(in->width, d->log2_chroma_w), ch = AV_CEIL_RSHIFT(in->height, d->log2_chroma_h);
    const int step = d->comp[1].step, u_at = d->comp[1].offset, v_at = d->comp[2].offset;  // NV21: V first
    for (int y = 0; y < ch; ++y) {
      const uint8_t* uv = in->data[1] + ptrdiff_t(y) * in->linesize[1];
      uint8_t* u = out->data[1] + ptrdiff_t(y) * out->linesize[1];
      uint8_t* v = out->data[2] + ptrdiff_t(y) * out->linesize[2];
      for (int x = 0; x < cw; ++x) {
        std::memcpy(u + x * B, uv + x * step + u_at, B);
        std::memcpy(v + x * B, uv + x * step + v_at, B);
      }
    }
  }

  // Back to the keyframe at or before `ts` (the stream's time base): the frames that follow start there.
  bool seek(int64_t ts) {
    if (av_seek_frame(fmt_.get(), stream_, ts, AVSEEK_FLAG_BACKWARD) < 0) return false;
    avcodec_flush_buffers(codec_.get());
    flushed_ = false;
    return true;
  }

  // Only the frames with these timestamps are wanted (ascending): the others are decoded only where later
  // frames refer to them. A non-reference frame (most B-frames) costs nothing then: skipping the ones between a
  // keyframe and a wanted frame saves about a fifth of the decoding there (libx264's default B-frames, measured
  // on the benchmark pair). The frames that do come are decoded exactly as without it.
  void want_only(std::vector<int64_t> pts) { wanted_ = std::move(pts); }

  AVFormatContext* format() const { return fmt_.get(); }
  AVStream* stream() const { return fmt_->streams[stream_]; }
  AVCodecContext* codec() const { return codec_.get(); }
  int64_t errors() const { return errors_; }

 private:
  InputPtr fmt_;
  CodecPtr codec_;
  PacketPtr pkt_;
  FramePtr frame_;
  FramePtr sw_frame_;  // NVDEC frames copied to system memory
  FramePtr planar_;    // semi-planar frames split into planes
  std::unique_ptr<Rotator> rotator_;  // only for streams displayed rotated
  int show_w_ = 0, show_h_ = 0;       // the size frames come at (0: as decoded)
  Bars bars_;                         // cut off every frame (cropped)
  FramePtr cut_;
  Scaler resize_sws_;
  FramePtr resized_;
  std::vector<int64_t> wanted_;  // want_only; empty: every frame
  int stream_ = -1;
  bool flushed_ = false;
  int64_t errors_ = 0;
};

int64_t count_packets(AVFormatContext* f, int stream) {
  PacketPtr pkt(av_packet_alloc());
  int64_t n = 0;
  while (av_read_frame(f, pkt.get()) >= 0) {
    if (pkt->stream_index == stream && !(pkt->flags & AV_PKT_FLAG_DISCARD)) ++n;  // (as in packet_timestamps)
    av_packet_unref(pkt.get());
  }
  return n;
}

// The timestamp of every frame in presentation order, from the packets alone (no decoding): what tells a frame's
// index after a seek. Empty where they cannot name the frames one to one (a packet without one, two alike).
std::vector<int64_t> packet_timestamps(const std::string& path, Rational* time_base = nullptr) {
  std::string why;
  InputPtr f = open_input(path, why);
  const int stream = f ? find_video_stream(f.get()) : -1;
  if (stream < 0) return {};
  if (time_base) *time_base = {f->streams[stream]->time_base.num, f->streams[stream]->time_base.den};
  std::vector<int64_t> ts;
  PacketPtr pkt(av_packet_alloc());
  bool usable = true;
  while (av_read_frame(f.get(), pkt.get()) >= 0) {
    // (Packets flagged discard are edit-list lead-ins the decoder drops: they are no frame.)
    if (pkt->stream_index == stream && !(pkt->flags & AV_PKT_FLAG_DISCARD)) {
      usable = usable && pkt->pts != AV_NOPTS_VALUE;
      ts.push_back(pkt->pts);
    }
    av_packet_unref(pkt.get());
  }
  std::sort(ts.begin(), ts.end());
  if (!usable || std::adjacent_find(ts.begin(), ts.end()) != ts.end()) return {};
  return ts;
}

}  // namespace

bool indexes_frames(const std::vector<int64_t>& pts) {
  return !pts.empty() && pts.front() != AV_NOPTS_VALUE &&
         std::adjacent_find(pts.begin(), pts.end(), std::greater_equal<>()) == pts.end();
}

std::vector<double> variable_frame_times(const VideoInfo& info, const std::vector<int64_t>* frame_pts) {
  Rational tb = info.time_base;
  const std::vector<int64_t> pts = frame_pts ? *frame_pts : packet_timestamps(info.path, &tb);
  if (!indexes_frames(pts) || !tb.valid() || !info.fps.valid()) return {};
  std::vector<double> t(pts.size());
  bool even = true;
  for (size_t i = 0; i < pts.size(); ++i) {
    t[i] = double(pts[i] - pts[0]) * tb.num / tb.den;
    even = even && std::abs(t[i] - double(i) / info.fps.value()) < 0.25 / info.fps.value();
  }
  return even ? std::vector<double>{} : t;
}

namespace {

// Index of the frame with timestamp ts in `pts` (indexes_frames), -1 if none.
int64_t frame_at(const std::vector<int64_t>& pts, int64_t ts) {
  const auto at = std::lower_bound(pts.begin(), pts.end(), ts);
  return at != pts.end() && *at == ts ? int64_t(at - pts.begin()) : -1;
}

// Tells the frames of a pass that skips some (Decoder::want_only) by their timestamps: each frame's index in the
// pass over every frame. `table` holds every frame's timestamp in presentation order (Reel::pts or
// packet_timestamps); `wanted` the indices of the frames the pass needs (ascending, within the table). tell() gives
// -1 where what comes no longer adds up: a frame the table does not name, one out of order, or a wanted frame
// passed over. The caller then decodes every frame from the start and counts them. One rule for every pass that
// skips: the polish's pairs, a long pair's sparse reel and the render's bg.
class FrameTeller {
 public:
  FrameTeller(const std::vector<int64_t>& table, const std::vector<int64_t>& wanted) : table_(&table) {
    for (const int64_t i : wanted) wanted_.push_back(table[size_t(i)]);
    wanted_.erase(std::unique(wanted_.begin(), wanted_.end()), wanted_.end());
  }
  // The wanted frames' timestamps, for Decoder::want_only.
  const std::vector<int64_t>& wanted() const { return wanted_; }
  // The decoder was sought to frame i (seek_frame): the frames before it are neither counted nor waited for.
  void start_at(int64_t i) {
    last_ = i - 1;
    next_ = size_t(std::lower_bound(wanted_.begin(), wanted_.end(), (*table_)[size_t(i)]) - wanted_.begin());
  }
  int64_t tell(const AVFrame* f) {
    const int64_t idx = frame_at(*table_, f->best_effort_timestamp);
    if (idx <= last_) return -1;
    const int64_t ts = (*table_)[size_t(idx)];
    if (next_ < wanted_.size() && wanted_[next_] < ts) return -1;
    while (next_ < wanted_.size() && wanted_[next_] <= ts) ++next_;
    return last_ = idx;
  }
  // Every wanted frame came.
  bool complete() const { return next_ == wanted_.size(); }

 private:
  const std::vector<int64_t>* table_;
  std::vector<int64_t> wanted_;
  size_t next_ = 0;    // the first wanted frame not yet come
  int64_t last_ = -1;  // the last frame told
};

bool damaged(const AVFrame* f) { return f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT); }

// Seeks `dec` back to the keyframe at or before timestamp `ts` and decodes up to the first frame at or after it,
// which it returns (owned by dec); null where none comes clean. Frames before the first clean keyframe after a
// seek may be garbage (open GOPs, streams without IDR frames; some files mark frames as sync samples that do not
// decode cleanly on their own): where they hide `ts`, it seeks further back. `known`, where given, tells whether a
// frame met on the way is one the caller can name; one it cannot ends the search.
AVFrame* seek_clean(Decoder& dec, int64_t ts, const std::function<bool(const AVFrame*)>& known = nullptr) {
  const double tb = av_q2d(dec.stream()->time_base);
  for (double back : {0.0, 1.0, 4.0, 16.0}) {
    if (!dec.seek(ts - int64_t(back / tb))) return nullptr;
    bool clean = false;
    while (AVFrame* f = dec.next()) {
      clean = (clean || f->key_frame) && !damaged(f);
      if (known && !known(f)) return nullptr;
      if (f->best_effort_timestamp < ts) continue;
      if (!clean) break;  // further back
      return f;
    }
  }
  return nullptr;
}

// Seeks `dec` to frame `want` of `pts` (the timestamp of every frame: Reel::pts or packet_timestamps). Returns it,
// or null where the frames after the seek cannot be trusted to be the ones `pts` counts (the caller then decodes
// from the start).
AVFrame* seek_frame(Decoder& dec, const std::vector<int64_t>& pts, int64_t want) {
  AVFrame* f = seek_clean(dec, pts[size_t(want)],
                          [&](const AVFrame* g) { return frame_at(pts, g->best_effort_timestamp) >= 0; });
  return f && f->best_effort_timestamp == pts[size_t(want)] ? f : nullptr;
}

}  // namespace

void set_ffmpeg_log_level(int verbose) {
  av_log_set_level(verbose >= 2 ? AV_LOG_INFO : verbose == 1 ? AV_LOG_ERROR : AV_LOG_QUIET);
}

InputPtr open_input(const std::string& path, std::string& why) {
  AVFormatContext* raw = nullptr;
  if (int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); err < 0) {
    why = err == AVERROR_INVALIDDATA ? "not a recognised video file" : "cannot open: " + av_error(err);
    return nullptr;
  }
  InputPtr f(raw);
  if (int err = avformat_find_stream_info(f.get(), nullptr); err < 0) {
    why = "cannot read stream information: " + av_error(err);
    return nullptr;
  }
  return f;
}

Status probe(const std::string& path, VideoInfo& info) {
  info = VideoInfo{};
  info.path = path;
  Decoder dec;
  std::string why;
  if (!dec.open(path, false, why)) return Status::Fail(kExitInput, path, why);
  AVFormatContext* f = dec.format();
  AVStream* st = dec.stream();
  const AVCodecParameters* par = st->codecpar;
  info.container = f->iformat->name;
  info.codec = avcodec_get_name(par->codec_id);
  info.rotation = rotation_of(st);
  // The size as displayed: the decoder turns the frames of a stream stored sideways.
  const bool sideways = info.rotation == 90 || info.rotation == 270;
  info.width = sideways ? par->height : par->width;
  info.height = sideways ? par->width : par->height;
  if (info.width <= 0 || info.height <= 0) return Status::Fail(kExitInput, path, "video stream has no frame size");
  if (par->format >= 0) info.pix_fmt = av_get_pix_fmt_name(AVPixelFormat(par->format));
  AVRational fr = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate : st->r_frame_rate;
  if (fr.num > 0 && fr.den > 0) {
    av_reduce(&fr.num, &fr.den, fr.num, fr.den, 1 << 30);
    info.fps = {fr.num, fr.den};
  }
  info.time_base = {st->time_base.num, st->time_base.den};
  info.start_time = st->start_time != AV_NOPTS_VALUE ? st->start_time * av_q2d(st->time_base) : 0.0;
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
    info.duration = st->duration * av_q2d(st->time_base);
  else if (f->duration > 0)
    info.duration = f->duration / double(AV_TIME_BASE);
  int audio = av_find_best_stream(f, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (audio >= 0) {
    const AVCodecParameters* ap = f->streams[audio]->codecpar;
    info.has_audio = true;
    info.audio_codec = avcodec_get_name(ap->codec_id);
    info.audio_rate = ap->sample_rate;
    info.audio_channels = ap->ch_layout.nb_channels;
  }
  // A file whose first frame cannot be decoded is unusable, whatever its header says.
  const AVFrame* first = dec.next();
  if (!first) return Status::Fail(kExitInput, path, "no decodable video frame (corrupt or truncated file)");
  // The colour as decoded (some codecs say it only in the stream), else as the header says.
  auto known = [](int frame, int header, int unknown) { return frame != unknown ? frame : header; };
  info.colour.full_range = full_range(first) || par->color_range == AVCOL_RANGE_JPEG;
  info.colour.matrix = known(first->colorspace, par->color_space, AVCOL_SPC_UNSPECIFIED);
  info.colour.primaries = known(first->color_primaries, par->color_primaries, AVCOL_PRI_UNSPECIFIED);
  info.colour.transfer = known(first->color_trc, par->color_trc, AVCOL_TRC_UNSPECIFIED);
  if (AVRational sar = av_guess_sample_aspect_ratio(f, st, const_cast<AVFrame*>(first)); sar.num > 0 && sar.den > 0) {
    av_reduce(&sar.num, &sar.den, sar.num, sar.den, 1 << 16);
    info.sar = sideways ? Rational{sar.den, sar.num} : Rational{sar.num, sar.den};  // (turned with the picture)
  }
  if (!info.pix_fmt.size() && dec.codec()->pix_fmt >= 0) info.pix_fmt = av_get_pix_fmt_name(dec.codec()->pix_fmt);
  if (const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(first->format))) {
    info.alpha = d->flags & AV_PIX_FMT_FLAG_ALPHA;
    info.depth = d->comp[0].depth;
  }

  info.frames = st->nb_frames;
  // An MP4 cut without re-encoding keeps the frames before the cut for the decoder to start from, and its edit
  // list has them dropped: the header counts them, its duration does not (a 1.3 s cut of a 6 s clip: 150 frames
  // in the header, 117 shown). Where the two disagree by more than a frame and 1%, the packets are counted.
  const bool header_doubtful = info.frames > 0 && info.duration > 0 && info.fps.valid() &&
                               std::abs(double(info.frames) - info.duration * info.fps.value()) >
                                   1 + 0.01 * double(info.frames);
  if (info.frames <= 0 || header_doubtful) {
    // The header does not say (Matroska, WebM, raw streams), or not what is shown: count packets from a fresh
    // demuxer.
    InputPtr counter = open_input(path, why);
    if (counter) info.frames = count_packets(counter.get(), st->index);
  }
  if (info.frames <= 0) info.frames = 1;
  if (!info.fps.valid() && info.duration > 0) {
    AVRational q = av_d2q(info.frames / info.duration, 100000);
    info.fps = {q.num, q.den};
  }
  if (!info.fps.valid()) return Status::Fail(kExitInput, path, "cannot determine the frame rate");
  if (info.duration <= 0) info.duration = info.frames / info.fps.value();
  return Status::Ok();
}

namespace {

Gray to_gray(const AVFrame* f, SwsPtr& sws) {
  Gray g;
  g.w = f->width;
  g.h = f->height;
  g.px.resize(size_t(g.w) * g.h);
  sws = SwsPtr(sws_getCachedContext(sws.release(), f->width, f->height, AVPixelFormat(f->format), g.w, g.h,
                                    AV_PIX_FMT_GRAY8, SWS_POINT, nullptr, nullptr, nullptr));
  uint8_t* dst[4] = {g.px.data(), nullptr, nullptr, nullptr};
  int stride[4] = {g.w, 0, 0, 0};
  if (sws) sws_scale(sws.get(), f->data, f->linesize, 0, f->height, dst, stride);
  return g;
}

}  // namespace

Status decode_gray_at(const Context&, const VideoInfo& info, int64_t pts, int count, std::vector<Gray>& out) {
  out.clear();
  auto dec = std::make_unique<Decoder>();
  std::string why;
  if (!dec->open(info, false, why)) return Status::Fail(kExitInput, info.path, why);
  AVFrame* f = pts != AV_NOPTS_VALUE ? seek_clean(*dec, pts) : nullptr;
  if (!f) {  // from the start: as clean as it gets
    dec = std::make_unique<Decoder>();
    if (!dec->open(info, false, why)) return Status::Fail(kExitInput, info.path, why);
    bool clean = true;
    while ((f = dec->next())) {
      clean = (clean || f->key_frame) && !damaged(f);
      if (pts == AV_NOPTS_VALUE || f->best_effort_timestamp >= pts) break;
    }
    if (f && !clean) f = nullptr;
  }
  SwsPtr sws;
  while (f && !(out.size() && damaged(f))) {  // that frame and the ones after it, up to a damaged one
    out.push_back(to_gray(f, sws));
    f = int(out.size()) < count ? dec->next() : nullptr;
  }
  if (out.empty()) return Status::Fail(kExitInput, info.path, "cannot decode the frame again");
  return Status::Ok();
}

Bars find_bars(const VideoInfo& info) {
  Decoder dec;
  std::string why;
  if (!dec.open(info.path, false, why)) return {};
  std::vector<Gray> frames;
  SwsPtr sws;
  auto take = [&](const AVFrame* f) {
    if (f && !damaged(f) && f->width == info.width && f->height == info.height) frames.push_back(to_gray(f, sws));
  };
  take(dec.next());
  const double tb = av_q2d(dec.stream()->time_base);
  for (int k = 1; k < 6 && info.duration > 0; ++k)  // the keyframe before each sixth: one frame decoded each
    if (dec.seek(int64_t((info.start_time + info.duration * k / 6) / tb))) take(dec.next());
  constexpr int kBlack = 32, kFlat = 6, kShows = 48;
  const int w = info.width, h = info.height;
  int n = 0;
  Bars b{w, h, w, h};  // the narrowest of each side over the frames that show something
  for (const Gray& g : frames) {
    if (*std::max_element(g.px.begin(), g.px.end()) <= kShows) continue;  // dark all over
    ++n;
    // A bar is dark and flat (black codes exactly; the dark edge of a night scene or a vignette varies). Beyond
    // its first 4 lines from the edge, all of them so, a line 60% of which is within kFlat of the bar's level
    // belongs to it too: the rest may be something drawn on the bar (subtitles set in the letterbox, a logo, with
    // the coding's ringing around them), which goes with it. (A dark blue stripe of testsrc2 at fg's edge, crossed
    // by its moving band, is not a bar: its first lines are not all flat.)
    std::vector<int> line;
    auto strict = [&]() {
      const auto [lo, hi] = std::minmax_element(line.begin(), line.end());
      return *hi <= kBlack && *hi - *lo <= kFlat;
    };
    auto drawn_on = [&](int level) {
      const size_t flat = size_t(std::count_if(line.begin(), line.end(), [&](int p) { return std::abs(p - level) <= kFlat; }));
      return 5 * flat >= 3 * line.size();
    };
    // The width of the bar along one edge: lines(k) fills `line` with the k-th line from that edge.
    auto width = [&](int count, const std::function<void(int)>& lines) {
      int k = 0, level = -1;
      for (; k < count; ++k) {
        lines(k);
        if (strict()) {
          if (level < 0) level = line[0];
          continue;
        }
        if (k < 4 || !drawn_on(level)) break;
      }
      return k;
    };
    auto col = [&](int x) {
      line.clear();
      for (int y = 0; y < h; ++y) line.push_back(g.at(x, y));
    };
    auto row = [&](int y) {
      line.clear();
      for (int x = 0; x < w; ++x) line.push_back(g.at(x, y));
    };
    const int l = width(w, [&](int k) { col(k); });
    const int r = width(w - l, [&](int k) { col(w - 1 - k); });
    const int t = width(h, [&](int k) { row(k); });
    const int btm = width(h - t, [&](int k) { row(h - 1 - k); });
    b = {std::min(b.left, l), std::min(b.top, t), std::min(b.right, r), std::min(b.bottom, btm)};
  }
  if (n < 3) return {};
  auto keep = [](int bar, int size) { return bar >= 4 && bar >= size / 50 ? bar & ~1 : 0; };
  b = {keep(b.left, w), keep(b.top, h), keep(b.right, w), keep(b.bottom, h)};
  if (2 * (b.left + b.right) > w || 2 * (b.top + b.bottom) > h) return {};
  return b;
}

namespace {

// Plane pointers of `f` moved to the region's top-left (aligned down to the chroma grid). Returns false for
// pixel formats that cannot be addressed that way (palettes, bitstreams, hardware frames).
bool crop_pointers(const AVFrame* f, int& x, int& y, const uint8_t* ptr[4]) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
  if (!d || (d->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL))) return false;
  x &= ~((1 << d->log2_chroma_w) - 1);
  y &= ~((1 << d->log2_chroma_h) - 1);
  for (int p = 0; p < 4; ++p) ptr[p] = f->data[p];
  for (int c = 0; c < d->nb_components; ++c) {
    const AVComponentDescriptor& comp = d->comp[c];
    const bool chroma = (c == 1 || c == 2) && !(d->flags & AV_PIX_FMT_FLAG_RGB);
    const int cx = chroma ? x >> d->log2_chroma_w : x, cy = chroma ? y >> d->log2_chroma_h : y;
    // Several components may share a plane (packed formats); move each plane once, by its first component.
    bool first = true;
    for (int e = 0; e < c; ++e) first = first && d->comp[e].plane != comp.plane;
    if (first) ptr[comp.plane] = f->data[comp.plane] + ptrdiff_t(cy) * f->linesize[comp.plane] + ptrdiff_t(cx) * comp.step;
  }
  return true;
}

// Exact area average (box filter) of the fractional rectangle r of an 8-bit picture, clipped to the picture,
// into size x size. Sub-pixel and odd offsets are honoured, so the same content cut from two videos at
// different positions gives the same thumbnail. Integrals of the piecewise-constant picture: along a row,
// prefix sums plus the fractional part of the last pixel; down the columns, the same over the row integrals.
void area_thumb(const uint8_t* px, int stride, int width, int height, const Region& r, int size, uint8_t* out) {
  std::vector<double> xb(size_t(size) + 1), yb(size_t(size) + 1);
  for (int k = 0; k <= size; ++k) {
    xb[size_t(k)] = std::clamp(r.x + r.w * k / size, 0.0, double(width));
    yb[size_t(k)] = std::clamp(r.y + r.h * k / size, 0.0, double(height));
  }
  const int x0 = std::min(int(xb[0]), width - 1), x1 = std::max(x0 + 1, std::min(width, int(std::ceil(xb[size_t(size)]))));
  const int y0 = std::min(int(yb[0]), height - 1), y1 = std::max(y0 + 1, std::min(height, int(std::ceil(yb[size_t(size)]))));
  std::vector<double> g((size_t(size) + 1) * size_t(size));  // integral down to yb[k], per output column
  std::vector<double> above(size_t(size), 0.0), row(size_t(size), 0.0);
  std::vector<int32_t> prefix(size_t(x1 - x0) + 1, 0);
  size_t k = 0;
  for (int y = y0; y < y1; ++y) {
    const uint8_t* line = px + std::ptrdiff_t(y) * stride;
    for (int x = x0; x < x1; ++x) prefix[size_t(x - x0) + 1] = prefix[size_t(x - x0)] + line[x];
    auto integral = [&](double t) {  // of the row from x0 to t
      const int f = std::clamp(int(t), x0, x1 - 1);
      return prefix[size_t(f - x0)] + (t - f) * line[f];
    };
    double left = integral(xb[0]);
    for (size_t o = 0; o < size_t(size); ++o) {
      const double right = integral(xb[o + 1]);
      row[o] = right - left;
      left = right;
    }
    for (; k <= size_t(size) && yb[k] < y + 1; ++k)
      for (size_t o = 0; o < size_t(size); ++o) g[k * size_t(size) + o] = above[o] + (yb[k] - y) * row[o];
    for (size_t o = 0; o < size_t(size); ++o) above[o] += row[o];
  }
  for (; k <= size_t(size); ++k)
    for (size_t o = 0; o < size_t(size); ++o) g[k * size_t(size) + o] = above[o];
  for (size_t oy = 0; oy < size_t(size); ++oy)
    for (size_t ox = 0; ox < size_t(size); ++ox) {
      const double area = (xb[ox + 1] - xb[ox]) * (yb[oy + 1] - yb[oy]);
      double v;
      if (area > 1e-9) {
        v = (g[(oy + 1) * size_t(size) + ox] - g[oy * size_t(size) + ox]) / area;
      } else {  // nothing of the picture under this pixel (zero size, or outside): the nearest pixel
        const int x = std::clamp(int(0.5 * (xb[ox] + xb[ox + 1])), 0, width - 1);
        const int y = std::clamp(int(0.5 * (yb[oy] + yb[oy + 1])), 0, height - 1);
        v = px[std::ptrdiff_t(y) * stride + x];
      }
      out[oy * size_t(size) + ox] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
    }
}

}  // namespace

namespace {

// The size x size thumbnail of `region` of f into out. It decides between neighbouring frames, so it is cut exactly
// (sub-pixel, not at a chroma-aligned whole-pixel rectangle): straight from the luma plane of 8-bit YUV, else from
// a gray copy (sws converts to it).
void cut_thumbnail(const AVFrame* f, const Region& region, int size, SwsPtr& sws, uint8_t* out) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
  const bool luma8 = d && !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) && d->nb_components >= 1 &&
                     d->comp[0].plane == 0 && d->comp[0].step == 1 && d->comp[0].offset == 0 &&
                     d->comp[0].shift == 0 && d->comp[0].depth == 8;
  if (luma8) {
    area_thumb(f->data[0], f->linesize[0], f->width, f->height, region, size, out);
  } else {
    const Gray g = to_gray(f, sws);
    area_thumb(g.px.data(), g.w, g.w, g.h, region, size, out);
  }
}

// The embedder's RGB and the thumbnail of `region` of one picture (an AVFrame's planes, or a reel frame's).
class RegionCutter {
 public:
  RegionCutter(int rgb_size, int gray_size)
      : rgb_size_(rgb_size), gray_size_(gray_size), rgb_(size_t(rgb_size) * rgb_size * 3),
        gray_(size_t(gray_size) * gray_size), planar_(rgb_.size()) {}

  // False for pixel formats that cannot be cut.
  bool cut(const AVFrame* f, const Region& region) {
    int x = std::clamp(int(std::floor(region.x)), 0, f->width - 1), y = std::clamp(int(std::floor(region.y)), 0, f->height - 1);
    const uint8_t* src[4];
    if (!crop_pointers(f, x, y, src)) return false;
    const int w = std::clamp(int(std::ceil(region.x + region.w)) - x, 1, f->width - x);
    const int h = std::clamp(int(std::ceil(region.y + region.h)) - y, 1, f->height - y);
    const AVPixelFormat fmt = AVPixelFormat(f->format);
    rgb_sws_ = SwsPtr(sws_getCachedContext(rgb_sws_.release(), w, h, fmt, rgb_size_, rgb_size_, AV_PIX_FMT_RGB24,
                                           SWS_AREA, nullptr, nullptr, nullptr));
    if (!rgb_sws_) return false;
    uint8_t* d1[4] = {rgb_.data(), nullptr, nullptr, nullptr};
    int s1[4] = {rgb_size_ * 3, 0, 0, 0};
    sws_scale(rgb_sws_.get(), src, f->linesize, 0, h, d1, s1);
    if (gray_size_ > 0) cut_thumbnail(f, region, gray_size_, full_gray_sws_, gray_.data());  // 0: none wanted
    const size_t n = size_t(rgb_size_) * rgb_size_;
    for (size_t i = 0; i < n; ++i)
      for (int c = 0; c < 3; ++c) planar_[c * n + i] = rgb_[i * 3 + c] * (1.0f / 255.0f);
    return true;
  }
  const float* rgb() const { return planar_.data(); }
  const uint8_t* gray() const { return gray_.data(); }

 private:
  int rgb_size_, gray_size_;
  SwsPtr rgb_sws_, full_gray_sws_;
  std::vector<uint8_t> rgb_, gray_;
  std::vector<float> planar_;
};

}  // namespace

Status extract_region(const Context& ctx, const VideoInfo& info, const Region& region, int rgb_size, int gray_size,
                      const std::function<Status(const float* rgb, const uint8_t* gray)>& sink, int64_t first,
                      int64_t end, const std::vector<int64_t>& pts) {
  auto dec = std::make_unique<Decoder>();
  std::string why;
  if (!dec->open(info, true, why, &ctx)) return Status::Fail(kExitInput, info.path, why);
  // The loop filter stays on: without it a heavily compressed bg frame is blocky enough to blur the difference
  // between neighbouring frames (a bbb pair at CRF 30: 97.5% exact frames with it skipped, 100% with it).
  RegionCutter cutter(rgb_size, gray_size);
  int64_t index = 0;
  AVFrame* f = nullptr;
  if (first > kSkipFrames) {
    std::vector<int64_t> read;
    const std::vector<int64_t>& table = pts.empty() ? (read = packet_timestamps(info.path)) : pts;
    if (indexes_frames(table) && first < int64_t(table.size()) && (f = seek_frame(*dec, table, first))) {
      index = first;
    } else {  // from the start again
      dec = std::make_unique<Decoder>();
      if (!dec->open(info, true, why, &ctx)) return Status::Fail(kExitInput, info.path, why);
    }
  }
  for (f = f ? f : dec->next(); f && index < end; f = dec->next(), ++index) {
    if (ctx.interrupted()) return interrupted(ctx);
    if (index < first) continue;
    if (!cutter.cut(f, region)) return Status::Fail(kExitInput, info.path, "unsupported pixel format");
    if (Status st = sink(cutter.rgb(), cutter.gray()); !st.ok()) return st;
  }
  return Status::Ok();
}

namespace {

class RegionThumbs final : public ThumbReader {
 public:
  RegionThumbs(const Context& ctx, const Region& region, int size)
      : ctx_(ctx), region_(region), size_(size), thumb_(size_t(size) * size) {}
  Status open(const VideoInfo& info) {
    info_ = info;
    dec_ = std::make_unique<Decoder>();
    std::string why;
    if (!dec_->open(info_, true, why, &ctx_)) return Status::Fail(kExitInput, info_.path, why);
    return Status::Ok();
  }
  const uint8_t* next() override {
    if (!status_.ok()) return nullptr;
    if (ctx_.interrupted()) return status_ = interrupted(ctx_), nullptr;
    AVFrame* f = pending_ ? pending_ : dec_->next();
    pending_ = nullptr;
    if (!f) return nullptr;
    cut_thumbnail(f, region_, size_, sws_, thumb_.data());  // as the first reading cut them
    return thumb_.data();
  }
  const Status& status() const override { return status_; }
  bool skip_to(int64_t want, const std::vector<int64_t>& pts) override {
    if (!status_.ok() || want <= 0) return false;
    std::vector<int64_t> read;
    const std::vector<int64_t>& table = pts.empty() ? (read = packet_timestamps(info_.path)) : pts;
    if (!indexes_frames(table) || want >= int64_t(table.size())) return false;
    if ((pending_ = seek_frame(*dec_, table, want))) return true;
    ctx_.log->debug("{}: cannot seek to frame {}; decoding from the start", info_.path, want);
    status_ = open(info_);  // somewhere the table cannot say: from the start again
    return false;
  }

 private:
  const Context& ctx_;
  VideoInfo info_;
  Region region_;
  int size_;
  std::unique_ptr<Decoder> dec_;
  AVFrame* pending_ = nullptr;  // frame `want` of skip_to, owned by dec_
  SwsPtr sws_;
  std::vector<uint8_t> thumb_;
  Status status_;
};

}  // namespace

std::unique_ptr<ThumbReader> open_thumbs(const Context& ctx, const VideoInfo& info, const Region& region, int size,
                                         Status& status) {
  auto r = std::make_unique<RegionThumbs>(ctx, region, size);
  status = r->open(info);
  if (!status.ok()) return nullptr;
  return r;
}

namespace {

// One pass of read_reel. With `table` (every frame's timestamp, from the packets), each frame is told by its
// timestamp, and the frames the reel does not keep are not decoded where no other frame refers to them.
// `trusted` turns false where what came does not add up to the table (a frame outside it or out of order, a
// kept frame missing, a damaged packet): the caller then reads again without.
Status reel_pass(const Context& ctx, const VideoInfo& info, int w, int h, int samples,
                 const std::vector<int64_t>& table, Reel& out, const std::function<void()>& on_frame, bool& trusted) {
  const int64_t step = out.step;
  Decoder dec;
  std::string why;
  if (!dec.open(info, true, why, &ctx)) return Status::Fail(kExitInput, info.path, why);
  const size_t bytes = out.frame_bytes();
  // Reserved from the header's frame count, but never past 1 GiB: a damaged or hostile header can claim billions
  // of frames (found by fuzzing: a 12 GB reservation); the vector grows past it if the frames really come.
  if (info.frames > 0)
    out.yuv.reserve(std::min<size_t>(size_t((info.frames - 1) / step + 1), (size_t(1) << 30) / bytes) * bytes);
  const int64_t n = std::max<int64_t>(info.frames, 1);
  samples = int(std::min<int64_t>(samples, n));
  auto is_sample = [&](int64_t idx, int k) { return k < samples && idx == (2 * k + 1) * n / (2 * samples); };
  std::optional<FrameTeller> teller;
  if (!table.empty()) {
    std::vector<int64_t> wanted;
    for (int64_t i = 0, k = 0; i < int64_t(table.size()); ++i) {
      const bool sample = is_sample(i, int(k));
      k += sample;
      if (i % step == 0 || sample) wanted.push_back(i);
    }
    dec.want_only(teller.emplace(table, wanted).wanted());
  }
  SwsPtr reel_sws, full_sws;
  int k = 0;
  int64_t last = -1;  // the last frame that came
  for (int64_t count = 0;; ++count) {
    if (ctx.interrupted()) return interrupted(ctx);
    AVFrame* f = dec.next();
    if (!f) break;
    const int64_t idx = teller ? teller->tell(f) : count;
    if (idx < 0) return trusted = false, Status::Ok();
    if (on_frame)
      for (int64_t i = last; i < idx; ++i) on_frame();  // the skipped frames too
    last = idx;
    if (!teller) out.pts.push_back(f->best_effort_timestamp);
    if (f->key_frame) out.keys.push_back(idx);
    if (is_sample(idx, k)) {
      out.samples.push_back(to_gray(f, full_sws));
      out.sample_index.push_back(idx);
      ++k;
    }
    if (idx % step) continue;
    // (A size change mid-stream comes at the probed size, Decoder::open(info), as the render stretches it to the
    // first size: sx and sy stay those of the first size.)
    const size_t at = out.yuv.size();
    out.yuv.resize(at + bytes);
    Image img = out.image(size_t(idx));
    reel_sws = SwsPtr(sws_getCachedContext(reel_sws.release(), f->width, f->height, AVPixelFormat(f->format), w, h,
                                           AV_PIX_FMT_YUV420P, SWS_AREA, nullptr, nullptr, nullptr));
    if (!reel_sws) return Status::Fail(kExitInput, info.path, "cannot convert frames of this pixel format");
    uint8_t* dst[4] = {img.plane[0].data, img.plane[1].data, img.plane[2].data, nullptr};
    int stride[4] = {img.plane[0].stride, img.plane[1].stride, img.plane[2].stride, 0};
    sws_scale(reel_sws.get(), f->data, f->linesize, 0, f->height, dst, stride);
  }
  if (teller) {
    const int64_t frames = int64_t(table.size());
    if (dec.errors() || !teller->complete()) return trusted = false, Status::Ok();
    if (on_frame)
      for (int64_t i = last + 1; i < frames; ++i) on_frame();
    out.pts = table;
  }
  return Status::Ok();
}

}  // namespace

Status read_reel(const Context& ctx, const VideoInfo& info, int w, int h, int samples, int64_t step, Reel& out,
                 const std::function<void()>& on_frame) {
  auto fresh = [&] {
    out = Reel{};
    out.step = std::max<int64_t>(1, step);
    out.w = w, out.h = h;
    out.sx = double(w) / info.width, out.sy = double(h) / info.height;
  };
  fresh();
  // A sparse reel (a long pair's) keeps one frame in `step`: most of the others need not be decoded at all (the
  // B-frames nobody refers to; on a 22-minute master with libx264's default B-frames, 40% of the decoding). That
  // needs every frame's timestamp beforehand, from the packets.
  std::vector<int64_t> table = out.step > 1 ? packet_timestamps(info.path) : std::vector<int64_t>{};
  if (!indexes_frames(table)) table.clear();
  bool trusted = true;
  Status st = reel_pass(ctx, info, w, h, samples, table, out, on_frame, trusted);
  if (st.ok() && !trusted) {
    ctx.log->debug("{}: the frames do not add up to the packets' timestamps; decoding every frame", info.path);
    fresh();
    st = reel_pass(ctx, info, w, h, samples, {}, out, on_frame, trusted);
  }
  if (!st.ok()) return st;
  if (out.pts.empty()) return Status::Fail(kExitInput, info.path, "no decodable video frame");
  if (out.samples.empty()) {  // the file has fewer frames than its header said
    std::vector<Gray> g;
    if (Status again = decode_gray_at(ctx, info, out.pts.front(), 1, g); !again.ok()) return again;
    out.samples.push_back(std::move(g[0]));
    out.sample_index.push_back(0);
  }
  return Status::Ok();
}

Image Reel::image(size_t i) const {
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  uint8_t* base = const_cast<uint8_t*>(yuv.data()) + i / size_t(step) * frame_bytes();
  Image img;
  img.width = w, img.height = h;
  img.plane[0] = {base, w, w, h};
  img.plane[1] = {base + size_t(w) * h, cw, cw, ch};
  img.plane[2] = {base + size_t(w) * h + size_t(cw) * ch, cw, cw, ch};
  return img;
}

Gray Reel::luma(size_t i) const {
  Gray g;
  g.w = w, g.h = h;
  const uint8_t* p = yuv.data() + i / size_t(step) * frame_bytes();
  g.px.assign(p, p + size_t(w) * h);
  return g;
}

Status reel_regions(const Context& ctx, const Reel& reel, const Region& region, int rgb_size, int gray_size,
                    const std::function<Status(const float* rgb, const uint8_t* gray)>& sink, size_t stride) {
  RegionCutter cutter(rgb_size, gray_size);
  const Region r{region.x * reel.sx, region.y * reel.sy, region.w * reel.sx, region.h * reel.sy};
  FramePtr f(av_frame_alloc());
  if (!f) return Status::Fail(kExitInput, "", "out of memory");
  for (size_t i = 0; i < reel.frames(); i += std::max<size_t>(1, stride)) {
    if (ctx.interrupted()) return interrupted(ctx);
    const Image img = reel.image(i);
    f->format = AV_PIX_FMT_YUV420P;
    f->width = img.width, f->height = img.height;
    for (int p = 0; p < 3; ++p) f->data[p] = img.plane[p].data, f->linesize[p] = img.plane[p].stride;
    if (!cutter.cut(f.get(), r)) return Status::Fail(kExitInput, "", "unsupported pixel format");
    if (Status st = sink(cutter.rgb(), cutter.gray()); !st.ok()) return st;
  }
  return Status::Ok();
}

namespace {

// decode_gray_frames from the keyframe before the first wanted frame, each frame told by its timestamp in `pts`.
// False where that cannot be trusted (see seek_frame; or a wanted frame did not come): the caller then decodes
// from the start.
bool decode_gray_seeking(const Context& ctx, const VideoInfo& info, const std::vector<int64_t>& indices,
                         const std::vector<int64_t>& pts, std::vector<Gray>& out) {
  Decoder dec;
  std::string why;
  if (!dec.open(info, true, why)) return false;
  FrameTeller teller(pts, indices);
  dec.want_only(teller.wanted());
  AVFrame* f = seek_frame(dec, pts, indices.front());
  teller.start_at(indices.front());
  SwsPtr sws;
  for (size_t k = 0; f; f = k < indices.size() ? dec.next() : nullptr) {
    if (ctx.interrupted()) return false;
    const int64_t idx = teller.tell(f);
    if (idx < 0) return false;
    for (; k < indices.size() && indices[k] == idx; ++k) out.push_back(to_gray(f, sws));
  }
  return out.size() == indices.size();
}

}  // namespace

Status decode_gray_frames(const Context& ctx, const VideoInfo& info, const std::vector<int64_t>& indices,
                          std::vector<Gray>& out, const std::vector<int64_t>& pts) {
  out.clear();
  if (indices.empty()) return Status::Ok();
  // Knowing every frame's timestamp (the alignment's pass read them), the frames before the keyframe that precedes
  // the first wanted one need not be decoded: in a long bg whose moment lies minutes in, that is most of the work.
  if (indexes_frames(pts) && indices.front() > 0 && indices.back() < int64_t(pts.size())) {
    if (decode_gray_seeking(ctx, info, indices, pts, out)) return Status::Ok();
    if (ctx.interrupted()) return interrupted(ctx);
    ctx.log->debug("{}: cannot decode frame {} again by seeking; decoding from the start", info.path, indices.front());
    out.clear();
  }
  Decoder dec;
  std::string why;
  if (!dec.open(info, true, why)) return Status::Fail(kExitInput, info.path, why);
  SwsPtr sws;
  size_t k = 0;
  for (int64_t idx = 0; k < indices.size(); ++idx) {
    if (ctx.interrupted()) return interrupted(ctx);
    AVFrame* f = dec.next();
    if (!f) break;
    while (k < indices.size() && indices[k] == idx) {
      out.push_back(to_gray(f, sws));
      ++k;
    }
  }
  if (out.size() != indices.size()) return Status::Fail(kExitInput, info.path, "cannot decode the frames again");
  return Status::Ok();
}

Gray resize_gray(const Gray& src, int w, int h) {
  Gray g;
  g.w = w;
  g.h = h;
  g.px.resize(size_t(w) * h);
  if (w == src.w && h == src.h) {
    g.px = src.px;
    return g;
  }
  const int flags = (w < src.w || h < src.h) ? SWS_AREA : SWS_BICUBIC;
  SwsPtr sws(sws_getContext(src.w, src.h, AV_PIX_FMT_GRAY8, w, h, AV_PIX_FMT_GRAY8, flags | SWS_ACCURATE_RND, nullptr,
                            nullptr, nullptr));
  const uint8_t* s[4] = {src.px.data(), nullptr, nullptr, nullptr};
  int ss[4] = {src.w, 0, 0, 0};
  uint8_t* d[4] = {g.px.data(), nullptr, nullptr, nullptr};
  int ds[4] = {w, 0, 0, 0};
  if (sws) sws_scale(sws.get(), s, ss, 0, src.h, d, ds);
  return g;
}

namespace {

class FfmpegFrames final : public FrameSource {
 public:
  FfmpegFrames(const Context& ctx, std::string path, DecodeOptions opt) : ctx_(ctx), path_(std::move(path)), opt_(opt) {}

  Status open() {
    dec_ = std::make_unique<Decoder>();
    index_ = -1;
    reported_ = 0;
    std::string why;
    if (!dec_->open(path_, true, why, &ctx_, !announced_)) status_ = Status::Fail(kExitInput, path_, why);
    dec_->cut(opt_.bars);
    announced_ = true;  // a rewind opens the file again, quietly
    if (teller_) teller_->start_at(0), dec_->want_only(teller_->wanted());
    return status_;
  }

  bool next(Image& out) override {
    if (!status_.ok() || ctx_.interrupted()) return false;
    AVFrame* f = pending_ ? pending_ : dec_->next();
    pending_ = nullptr;
    if (!f) {
      report_errors();
      if (index_ < 0) status_ = Status::Fail(kExitInput, path_, "no decodable video frame");
      return false;
    }
    if (teller_) {
      // Told by timestamp. A frame the table does not name, a wanted one that did not come, or a damaged one (the
      // alignment counted only the frames that decode): from the start again, every frame decoded and counted.
      const int64_t idx = teller_->tell(f);
      if (idx >= 0 && !dec_->errors()) {
        index_ = idx - 1;
      } else {
        ctx_.log->debug("{}: frames do not add up to the packets' timestamps; decoding every frame", path_);
        teller_.reset();
        if (!open().ok()) return false;
        return next(out);
      }
    }
    ++index_;
    const int w = opt_.width > 0 ? opt_.width : f->width;
    const int h = opt_.height > 0 ? opt_.height : f->height;
    const bool recolour = full_range(f) != opt_.colour.full_range || matrices_differ(f->colorspace, opt_.colour.matrix);
    const AVPixelFormat to = opt_.depth > 8 ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P;
    if (plain_twin(f->format) == to && !recolour && f->width == w && f->height == h && f->buf[0]) {
      // No copy: hold a reference of our own, so the picture stays valid even after the decoder has released
      // its frame (at the end of the stream, say, while the caller still shows the last bg frame).
      av_frame_unref(held_.get());
      if (av_frame_ref(held_.get(), f) < 0) {
        status_ = Status::Fail(kExitInput, path_, "out of memory");
        return false;
      }
      out.width = w;
      out.height = h;
      out.depth = opt_.depth;
      for (int i = 0; i < 3; ++i) {
        const int pw = i ? (w + 1) / 2 : w, ph = i ? (h + 1) / 2 : h;
        out.plane[i] = {held_->data[i], held_->linesize[i], pw, ph};
      }
      return true;
    }
    if (buf_.image.width != w || buf_.image.height != h || buf_.image.depth != opt_.depth) buf_.reset(w, h, opt_.depth);
    // Area averaging when shrinking keeps fine detail from aliasing; bicubic when enlarging.
    const int flags = (w < f->width || h < f->height) ? SWS_AREA : SWS_BICUBIC;
    SwsContext* sws = sws_.get(f, w, h, to, flags | SWS_ACCURATE_RND, opt_.colour.full_range,
                               opt_.colour.matrix);
    if (!sws) {
      status_ = Status::Fail(kExitInput, path_, "cannot convert frames of this pixel format");
      return false;
    }
    uint8_t* dst[4] = {buf_.image.plane[0].data, buf_.image.plane[1].data, buf_.image.plane[2].data, nullptr};
    int dst_stride[4] = {buf_.image.plane[0].stride, buf_.image.plane[1].stride, buf_.image.plane[2].stride, 0};
    sws_scale(sws, f->data, f->linesize, 0, f->height, dst, dst_stride);
    out = buf_.image;
    return true;
  }

  int64_t index() const override { return index_; }
  Status rewind() override {
    status_ = Status::Ok();
    pending_ = nullptr;
    return open();
  }
  bool skip_to(int64_t want) override {
    if (!status_.ok() || want <= index_ + 1) return false;
    if (!table_read_) table_ = packet_timestamps(path_), table_read_ = true;
    if (!indexes_frames(table_) || want >= int64_t(table_.size())) return false;
    if (AVFrame* f = seek_frame(*dec_, table_, want)) {
      pending_ = f;  // next() returns it
      index_ = want - 1;
      if (teller_) teller_->start_at(want);
      return true;
    }
    // The decoder is somewhere the table cannot say: from the start again.
    if (!ctx_.interrupted()) ctx_.log->debug("{}: cannot seek to frame {}; decoding from the start", path_, want);
    status_ = Status::Ok();
    open();
    return false;
  }
  void want_only(const std::vector<int64_t>& frames) override {
    if (!table_read_) table_ = packet_timestamps(path_), table_read_ = true;
    if (!indexes_frames(table_) || index_ >= 0 || frames.empty()) return;
    std::vector<int64_t> wanted;
    for (const int64_t i : frames)
      if (i >= 0 && i < int64_t(table_.size())) wanted.push_back(i);
    wanted.push_back(int64_t(table_.size()) - 1);  // bg's last frame stands in for frames mapped past its end
    std::sort(wanted.begin(), wanted.end());
    dec_->want_only(teller_.emplace(table_, wanted).wanted());
    ctx_.log->debug("{}: decoding {} of its {} frames, and the frames they refer to", path_,
                    teller_->wanted().size(), table_.size());
  }
  const Status& status() const override { return status_; }

 private:
  bool announced_ = false;
  void report_errors() {
    if (dec_->errors() > reported_) {
      ctx_.log->warn("{}: skipped {} damaged packet(s) or frame(s) while decoding", path_, dec_->errors() - reported_);
      reported_ = dec_->errors();
    }
  }

  const Context& ctx_;
  std::string path_;
  DecodeOptions opt_;
  std::unique_ptr<Decoder> dec_;
  AVFrame* pending_ = nullptr;  // a frame decoded by skip_to, owned by dec_, for the next next()
  std::vector<int64_t> table_;  // packet_timestamps, read on the first skip_to or want_only
  bool table_read_ = false;
  std::optional<FrameTeller> teller_;  // want_only's frames; none: every frame decoded and counted
  FramePtr held_{av_frame_alloc()};
  Scaler sws_;
  ImageBuffer buf_;
  int64_t index_ = -1;
  int64_t reported_ = 0;
  Status status_;
};

}  // namespace

Status BgCursor::seek(int64_t want) {
  if (want < src_.index()) {  // the map steps back: start bg over
    if (Status st = src_.rewind(); !st.ok()) return st;
    have_ = ended_ = false;
  }
  // Far ahead (fg's moment minutes into bg, a --frames segment, a map that stepped back): from the keyframe before
  // it, not frame by frame. Not for a few frames: the packets are read once to tell frames by timestamp.
  if (!ended_ && want - src_.index() > kSkipFrames) src_.skip_to(want);
  while (!ended_ && src_.index() < want) {
    if (src_.next(img_)) {
      have_ = true;
    } else {
      if (ctx_.interrupted()) return Status::Ok();
      if (!src_.status().ok()) return src_.status();
      ended_ = true;
      ctx_.log->warn("{}: ends at frame {}; using it for fg frames mapped past it", path_, src_.index());
    }
  }
  if (!have_) return Status::Fail(kExitInput, path_, "no decodable video frame");
  return Status::Ok();
}

std::unique_ptr<FrameSource> open_frames(const Context& ctx, const std::string& path, const DecodeOptions& opt,
                                         Status& status) {
  auto src = std::make_unique<FfmpegFrames>(ctx, path, opt);
  status = src->open();
  if (!status.ok()) return nullptr;
  return src;
}

// ---------------------------------------------------------------------------------------------- encoding

namespace {

class FileEncoder final : public Encoder {
 public:
  FileEncoder(const Context& ctx, std::string path, EncodeOptions opt)
      : ctx_(ctx), path_(std::move(path)), opt_(std::move(opt)) {}

  ~FileEncoder() override {
    if (out_) {
      if (out_->pb) avio_closep(&out_->pb);
      avformat_free_context(out_);
    }
  }

  Status open() {
    if (avformat_alloc_output_context2(&out_, nullptr, opt_.container.c_str(), path_.c_str()) < 0 || !out_)
      return fail("cannot set up the " + opt_.container + " muxer");
    std::string why;
    if (!(use_gpu(ctx_) && open_video_encoder("h264_nvenc", why))) {
      if (!why.empty()) ctx_.log->info("NVENC is not usable ({}); encoding with libx264", why);
      if (!open_video_encoder("libx264", why)) return fail(why);
    }
    stream_ = avformat_new_stream(out_, nullptr);
    if (!stream_) return fail("cannot add the video stream");
    avcodec_parameters_from_context(stream_->codecpar, enc_.get());
    stream_->sample_aspect_ratio = enc_->sample_aspect_ratio;  // (MP4 and Matroska keep it apart too)
    stream_->time_base = enc_->time_base;
    stream_->avg_frame_rate = enc_->framerate;

    Status st;
    audio_ = add_audio_track(ctx_, out_, opt_.audio, st);
    if (!st.ok()) return st;

    if (int err = avio_open(&out_->pb, path_.c_str(), AVIO_FLAG_WRITE); err < 0)
      return fail("cannot create the output file: " + av_error(err));
    AVDictionary* mux_opts = nullptr;
    if (opt_.container != "matroska") av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    int err = avformat_write_header(out_, &mux_opts);
    av_dict_free(&mux_opts);
    if (err < 0) return fail("cannot write the " + opt_.container + " header: " + av_error(err));
    frame_.reset(av_frame_alloc());
    frame_->format = pix_fmt();
    frame_->width = opt_.width;
    frame_->height = opt_.height;
    pkt_.reset(av_packet_alloc());
    return Status::Ok();
  }

  Status write(const Image& img) override {
    if (img.width < opt_.width || img.height < opt_.height || img.depth != opt_.depth)
      return fail("internal error: frame smaller than output, or of another depth");
    for (int i = 0; i < 3; ++i) {
      frame_->data[i] = img.plane[i].data;
      frame_->linesize[i] = img.plane[i].stride;
    }
    frame_->pts = last_pts_ = pts_of(next_pts_++);
    // The encoder copies a frame that is not reference-counted, so the caller may reuse its buffer.
    if (int err = avcodec_send_frame(enc_.get(), frame_.get()); err < 0)
      return fail("encoding failed: " + av_error(err));
    return drain();
  }

  Status finish() override {
    if (int err = avcodec_send_frame(enc_.get(), nullptr); err < 0 && err != AVERROR_EOF)
      return fail("encoding failed: " + av_error(err));
    if (Status st = drain(); !st.ok()) return st;
    if (audio_) {
      if (Status st = audio_->finish(); !st.ok()) return st;
    }
    if (int err = av_write_trailer(out_); err < 0) return fail("cannot finish the MP4 file: " + av_error(err));
    if (out_->pb->error < 0) return fail("write failed: " + av_error(out_->pb->error));
    if (int err = avio_closep(&out_->pb); err < 0) return fail("cannot close the output file: " + av_error(err));
    return Status::Ok();
  }

 private:
  Status drain() {
    for (;;) {
      int err = avcodec_receive_packet(enc_.get(), pkt_.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return Status::Ok();
      if (err < 0) return fail("encoding failed: " + av_error(err));
      // Audio first, up to this packet's time, so the muxer interleaves without buffering the whole track.
      if (audio_) {
        const double t = pkt_->dts * av_q2d(enc_->time_base);
        if (Status st = audio_->write_until(t + 0.5); !st.ok()) return st;
      }
      av_packet_rescale_ts(pkt_.get(), enc_->time_base, stream_->time_base);
      pkt_->stream_index = stream_->index;
      if ((err = av_interleaved_write_frame(out_, pkt_.get())) < 0) return fail("write failed: " + av_error(err));
    }
  }

  Status fail(const std::string& why) const { return Status::Fail(kExitOutput, path_, why); }
  AVPixelFormat pix_fmt() const { return opt_.depth > 8 ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P; }
  // Frame i's timestamp in the encoder's time base: i at a constant rate, else its own time (frames past the list
  // of times follow the last at the average rate).
  int64_t pts_of(int64_t i) const {
    if (opt_.times.empty()) return i;
    const size_t n = opt_.times.size();
    const double t = i < int64_t(n) ? opt_.times[size_t(i)] : opt_.times[n - 1] + double(i - int64_t(n) + 1) / opt_.fps.value();
    return std::max<int64_t>(std::llround(t * kVariableTimeBase), i ? last_pts_ + 1 : 0);
  }
  static constexpr int kVariableTimeBase = 90000;  // 1/90000 s: MPEG's clock, fine enough for any frame time

  const Context& ctx_;
  std::string path_;
  EncodeOptions opt_;
  AVFormatContext* out_ = nullptr;
  AVStream* stream_ = nullptr;
  CodecPtr enc_;
  FramePtr frame_;
  PacketPtr pkt_;
  std::unique_ptr<AudioTrack> audio_;
  int64_t next_pts_ = 0, last_pts_ = 0;

 private:
  // Opens enc_ as `name` (libx264, or h264_nvenc with the same --crf/--preset mapped onto its constant-quality
  // mode and p1-p7 presets). False with `why` when it cannot be found or opened.
  bool open_video_encoder(const char* name, std::string& why) {
    const AVCodec* codec = avcodec_find_encoder_by_name(name);
    if (!codec) return why = std::string("this FFmpeg has no ") + name + " encoder", false;
    enc_.reset(avcodec_alloc_context3(codec));
    if (!enc_) return why = "out of memory", false;
    enc_->width = opt_.width;
    enc_->height = opt_.height;
    enc_->pix_fmt = pix_fmt();
    enc_->time_base = opt_.times.empty() ? AVRational{opt_.fps.den, opt_.fps.num} : AVRational{1, kVariableTimeBase};
    enc_->framerate = AVRational{opt_.fps.num, opt_.fps.den};
    enc_->sample_aspect_ratio = AVRational{opt_.sar.num, opt_.sar.den};
    enc_->color_range = opt_.colour.full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    enc_->colorspace = AVColorSpace(opt_.colour.matrix);
    enc_->color_primaries = AVColorPrimaries(opt_.colour.primaries);
    enc_->color_trc = AVColorTransferCharacteristic(opt_.colour.transfer);
    enc_->thread_count = 0;
    if (out_->oformat->flags & AVFMT_GLOBALHEADER) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (std::string(name) == "h264_nvenc") {
      static const std::pair<const char*, const char*> kPresets[] = {
          {"ultrafast", "p1"}, {"superfast", "p1"}, {"veryfast", "p2"}, {"faster", "p3"}, {"fast", "p4"},
          {"medium", "p5"},    {"slow", "p6"},      {"slower", "p7"},   {"veryslow", "p7"}, {"placebo", "p7"}};
      const char* preset = "p5";
      for (const auto& [x264, nv] : kPresets)
        if (opt_.preset == x264) preset = nv;
      av_opt_set(enc_->priv_data, "preset", preset, 0);
      av_opt_set(enc_->priv_data, "tune", "hq", 0);
      av_opt_set(enc_->priv_data, "rc", "vbr", 0);
      av_opt_set_int(enc_->priv_data, "cq", opt_.crf, 0);  // constant quality; with no bitrate cap below
      enc_->bit_rate = 0;
    } else {
      av_opt_set(enc_->priv_data, "preset", opt_.preset.c_str(), 0);
      // crf 0 is lossless at 8 bits only (10-bit quantizers go below it): lossless is asked for as qp 0.
      if (opt_.crf == 0)
        av_opt_set_int(enc_->priv_data, "qp", 0, 0);
      else
        av_opt_set_double(enc_->priv_data, "crf", opt_.crf, 0);
    }
    if (int err = avcodec_open2(enc_.get(), codec, nullptr); err < 0) {
      enc_.reset();
      return why = std::string("cannot open the ") + name + " encoder: " + av_error(err), false;
    }
    ctx_.log->debug("encoder: {} ({}x{} at {} bits, crf/cq {}, preset {})", name, opt_.width, opt_.height, opt_.depth,
                    opt_.crf, opt_.preset);
    return true;
  }
};

}  // namespace

std::unique_ptr<Encoder> open_encoder(const Context& ctx, const std::string& path, const EncodeOptions& opt,
                                      Status& status) {
  auto enc = std::make_unique<FileEncoder>(ctx, path, opt);
  status = enc->open();
  if (!status.ok()) return nullptr;
  return enc;
}

}  // namespace vidkompy
