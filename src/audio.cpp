// The output's audio track. Codecs MP4 carries are copied packet by packet (no generation loss, no cost);
// anything else, and audio played at another speed (a speed change), is decoded, resampled and encoded to AAC.
// Either way the track is shifted so that source time plan.start sits at output time 0 and is cut at
// plan.duration, so audio stays in sync with the fg video.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "ffmpeg.hpp"
#include "vidkompy/options.hpp"

namespace vidkompy {
namespace {

// Codecs copied into the output as they are. Into MP4 and MOV only these: others (Vorbis, PCM, FLAC, ...) are
// re-encoded to AAC there, MP4 support for them being missing or marked experimental in FFmpeg 5.1, and players
// disagreeing about it. Matroska takes whatever its muxer does.
bool can_copy(const AVOutputFormat* out, AVCodecID id) {
  if (std::string(out->name).find("matroska") != std::string::npos)
    return avformat_query_codec(out, id, FF_COMPLIANCE_NORMAL) == 1;
  return id == AV_CODEC_ID_AAC || id == AV_CODEC_ID_MP3 || id == AV_CODEC_ID_AC3 || id == AV_CODEC_ID_EAC3 ||
         id == AV_CODEC_ID_OPUS || id == AV_CODEC_ID_ALAC;
}

class AudioBase : public AudioTrack {
 public:
  AudioBase(const Context& ctx, AVFormatContext* out, AudioPlan plan)
      : ctx_(ctx), out_(out), plan_(std::move(plan)) {}

 protected:

  Status open_input_stream() {
    std::string why;
    in_ = open_input(plan_.path, why);
    if (!in_) return Status::Fail(kExitInput, plan_.path, why);
    index_ = av_find_best_stream(in_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    pkt_.reset(av_packet_alloc());
    return Status::Ok();
  }
  AVStream* in_stream() const { return in_->streams[index_]; }

  // The next packet of the audio stream, or false at the end of the file.
  bool read_packet() {
    for (;;) {
      av_packet_unref(pkt_.get());
      if (av_read_frame(in_.get(), pkt_.get()) < 0) return false;
      if (pkt_->stream_index == index_) return true;
    }
  }

  Status write(AVPacket* pkt) {
    pkt->stream_index = stream_->index;
    if (int err = av_interleaved_write_frame(out_, pkt); err < 0)
      return Status::Fail(kExitOutput, out_->url ? out_->url : "", "write failed: " + av_error(err));
    ++written_;
    return Status::Ok();
  }

  // Says so when no audio fell within the output's time span (bg's audio ended before the mapped start, say).
  void warn_if_silent() const {
    if (!written_)
      ctx_.log->warn("{}: its audio does not reach the output's time span; the audio track is empty", plan_.path);
  }

  const Context& ctx_;
  AVFormatContext* out_;
  AudioPlan plan_;
  InputPtr in_;
  int index_ = -1;
  AVStream* stream_ = nullptr;
  PacketPtr pkt_;
  int64_t written_ = 0;
};

class CopiedAudio final : public AudioBase {
 public:
  using AudioBase::AudioBase;

  Status open() {
    if (Status st = open_input_stream(); !st.ok()) return st;
    stream_ = avformat_new_stream(out_, nullptr);
    avcodec_parameters_copy(stream_->codecpar, in_stream()->codecpar);
    stream_->codecpar->codec_tag = 0;
    stream_->time_base = in_stream()->time_base;
    return Status::Ok();
  }

  Status write_until(double seconds) override {
    const AVRational tb = in_stream()->time_base;
    const int64_t shift = std::llround(plan_.start / av_q2d(tb));
    while (!done_) {
      if (!have_pkt_) {
        if (!read_packet()) {
          done_ = true;
          break;
        }
        have_pkt_ = true;
      }
      if (pkt_->pts == AV_NOPTS_VALUE) {
        have_pkt_ = false;
        continue;
      }
      const double t = (pkt_->pts - shift) * av_q2d(tb);
      if (t >= plan_.duration) {
        done_ = true;
        break;
      }
      if (t >= seconds) break;
      have_pkt_ = false;
      // Packets before output time 0 are dropped, except the one just before it: MDCT codecs (AAC) need it
      // to decode the first kept packet. It keeps its negative timestamp, and the MP4 muxer writes an edit list.
      if (t < 0 && t + 2 * pkt_->duration * av_q2d(tb) <= 0) continue;
      pkt_->pts -= shift;
      pkt_->dts = pkt_->dts == AV_NOPTS_VALUE ? pkt_->pts : pkt_->dts - shift;
      pkt_->pos = -1;
      av_packet_rescale_ts(pkt_.get(), tb, stream_->time_base);
      if (Status st = write(pkt_.get()); !st.ok()) return st;
    }
    return Status::Ok();
  }

  Status finish() override {
    Status st = write_until(plan_.duration);
    if (st.ok()) warn_if_silent();
    return st;
  }

 private:
  bool have_pkt_ = false;
  bool done_ = false;
};

class EncodedAudio final : public AudioBase {
 public:
  using AudioBase::AudioBase;

  Status open() {
    if (Status st = open_input_stream(); !st.ok()) return st;
    const AVCodec* dcodec = avcodec_find_decoder(in_stream()->codecpar->codec_id);
    if (!dcodec) return Status::Fail(kExitInput, plan_.path, "no decoder for its audio codec");
    dec_.reset(avcodec_alloc_context3(dcodec));
    avcodec_parameters_to_context(dec_.get(), in_stream()->codecpar);
    dec_->pkt_timebase = in_stream()->time_base;
    if (int err = avcodec_open2(dec_.get(), dcodec, nullptr); err < 0)
      return Status::Fail(kExitInput, plan_.path, "cannot open its audio decoder: " + av_error(err));
    if (dec_->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
      const int n = dec_->ch_layout.nb_channels;
      av_channel_layout_uninit(&dec_->ch_layout);
      av_channel_layout_default(&dec_->ch_layout, n);
    }

    const AVCodec* ecodec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!ecodec) return Status::Fail(kExitOutput, out_->url, "this FFmpeg has no AAC encoder");
    enc_.reset(avcodec_alloc_context3(ecodec));
    enc_->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc_->sample_rate = 48000;
    for (const int* r = ecodec->supported_samplerates; r && *r; ++r)
      if (*r == dec_->sample_rate) enc_->sample_rate = *r;
    if (dec_->ch_layout.nb_channels <= 8)
      av_channel_layout_copy(&enc_->ch_layout, &dec_->ch_layout);
    else
      av_channel_layout_default(&enc_->ch_layout, 2);
    enc_->bit_rate = 64000 * std::min(enc_->ch_layout.nb_channels, 6);
    enc_->time_base = AVRational{1, enc_->sample_rate};
    if (out_->oformat->flags & AVFMT_GLOBALHEADER) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (int err = avcodec_open2(enc_.get(), ecodec, nullptr); err < 0)
      return Status::Fail(kExitOutput, out_->url, "cannot open the AAC encoder: " + av_error(err));

    SwrContext* swr = nullptr;
    // A speed change: the source's samples taken as if recorded at speed x their rate (faster and higher, as a
    // PAL transfer plays film's sound).
    const int in_rate = int(std::lround(dec_->sample_rate * plan_.speed));
    if (swr_alloc_set_opts2(&swr, &enc_->ch_layout, enc_->sample_fmt, enc_->sample_rate, &dec_->ch_layout,
                            dec_->sample_fmt, in_rate, 0, nullptr) < 0 ||
        swr_init(swr) < 0) {
      swr_free(&swr);
      return Status::Fail(kExitInput, plan_.path, "cannot resample its audio");
    }
    swr_.reset(swr);
    fifo_.reset(av_audio_fifo_alloc(enc_->sample_fmt, enc_->ch_layout.nb_channels, 4096));
    in_frame_.reset(av_frame_alloc());
    out_frame_.reset(av_frame_alloc());
    out_pkt_.reset(av_packet_alloc());

    stream_ = avformat_new_stream(out_, nullptr);
    avcodec_parameters_from_context(stream_->codecpar, enc_.get());
    stream_->time_base = enc_->time_base;
    total_ = std::llround(plan_.duration * enc_->sample_rate);
    ctx_.log->debug("{}: re-encoding {} audio to AAC", plan_.path, avcodec_get_name(in_stream()->codecpar->codec_id));
    return Status::Ok();
  }

  Status write_until(double seconds) override {
    const int64_t want = std::min<int64_t>(total_, std::llround(seconds * enc_->sample_rate));
    while (encoded_ < want && !input_done_) {
      if (Status st = decode_some(); !st.ok()) return st;
      if (Status st = encode_fifo(false); !st.ok()) return st;
    }
    return Status::Ok();
  }

  Status finish() override {
    if (Status st = write_until(plan_.duration); !st.ok()) return st;
    if (Status st = encode_fifo(true); !st.ok()) return st;
    avcodec_send_frame(enc_.get(), nullptr);
    Status st = drain();
    if (st.ok()) warn_if_silent();
    return st;
  }

 private:
  // Decodes one packet's worth of audio into the FIFO, trimming to [start, start + duration).
  Status decode_some() {
    if (!read_packet()) {
      input_done_ = true;
      avcodec_send_packet(dec_.get(), nullptr);
    } else if (avcodec_send_packet(dec_.get(), pkt_.get()) < 0) {
      return Status::Ok();  // a damaged audio packet: skip it
    }
    while (avcodec_receive_frame(dec_.get(), in_frame_.get()) == 0) {
      const int rate = enc_->sample_rate;
      const int max_out = swr_get_out_samples(swr_.get(), in_frame_->nb_samples);
      if (max_out <= 0) continue;
      FramePtr conv(av_frame_alloc());
      conv->format = enc_->sample_fmt;
      conv->nb_samples = max_out;
      av_channel_layout_copy(&conv->ch_layout, &enc_->ch_layout);
      conv->sample_rate = rate;
      if (av_frame_get_buffer(conv.get(), 0) < 0) return Status::Fail(kExitOutput, out_->url, "out of memory");
      const int n = swr_convert(swr_.get(), conv->data, max_out, const_cast<const uint8_t**>(in_frame_->extended_data),
                                in_frame_->nb_samples);
      if (n <= 0) continue;
      int skip = 0;
      if (!started_) {
        // Place the first decoded samples on the output timeline; later frames follow contiguously.
        const int64_t ts = in_frame_->best_effort_timestamp;
        const double t = ts == AV_NOPTS_VALUE ? 0.0 : ts * av_q2d(in_stream()->time_base);
        const int64_t pos = std::llround((t - plan_.start) / plan_.speed * rate);
        if (pos + n <= 0) continue;  // wholly before output time 0
        started_ = true;
        if (pos < 0) skip = int(-pos);
        if (pos > 0) {  // audio starts later than the video
          if (Status st = write_silence(std::min(pos, total_)); !st.ok()) return st;
        }
      }
      const int64_t keep = std::min<int64_t>(n - skip, total_ - queued_);
      if (keep <= 0) {
        input_done_ = true;
        continue;
      }
      void* planes[AV_NUM_DATA_POINTERS];
      for (int c = 0; c < enc_->ch_layout.nb_channels && c < AV_NUM_DATA_POINTERS; ++c)
        planes[c] = conv->data[c] + skip * av_get_bytes_per_sample(enc_->sample_fmt);
      av_audio_fifo_write(fifo_.get(), planes, int(keep));
      queued_ += keep;
    }
    return Status::Ok();
  }

  // Lead-in silence, in chunks that are encoded as they go: an hour's gap must not sit in memory at once.
  Status write_silence(int64_t samples) {
    constexpr int kChunk = 4096;
    FramePtr silence(av_frame_alloc());
    silence->format = enc_->sample_fmt;
    silence->nb_samples = kChunk;
    av_channel_layout_copy(&silence->ch_layout, &enc_->ch_layout);
    if (av_frame_get_buffer(silence.get(), 0) < 0) return Status::Fail(kExitOutput, out_->url, "out of memory");
    av_samples_set_silence(silence->data, 0, kChunk, silence->ch_layout.nb_channels, AVSampleFormat(silence->format));
    while (samples > 0) {
      const int n = int(std::min<int64_t>(samples, kChunk));
      av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(silence->data), n);
      queued_ += n;
      samples -= n;
      if (Status st = encode_fifo(false); !st.ok()) return st;
    }
    return Status::Ok();
  }

  Status encode_fifo(bool all) {
    const int fs = enc_->frame_size > 0 ? enc_->frame_size : 1024;
    while (av_audio_fifo_size(fifo_.get()) >= fs || (all && av_audio_fifo_size(fifo_.get()) > 0)) {
      const int n = std::min(fs, av_audio_fifo_size(fifo_.get()));
      av_frame_unref(out_frame_.get());
      out_frame_->format = enc_->sample_fmt;
      out_frame_->nb_samples = n;
      out_frame_->sample_rate = enc_->sample_rate;
      av_channel_layout_copy(&out_frame_->ch_layout, &enc_->ch_layout);
      if (av_frame_get_buffer(out_frame_.get(), 0) < 0) return Status::Fail(kExitOutput, out_->url, "out of memory");
      av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(out_frame_->data), n);
      out_frame_->pts = encoded_;
      encoded_ += n;
      if (int err = avcodec_send_frame(enc_.get(), out_frame_.get()); err < 0)
        return Status::Fail(kExitOutput, out_->url, "audio encoding failed: " + av_error(err));
      if (Status st = drain(); !st.ok()) return st;
    }
    return Status::Ok();
  }

  Status drain() {
    while (avcodec_receive_packet(enc_.get(), out_pkt_.get()) == 0) {
      av_packet_rescale_ts(out_pkt_.get(), enc_->time_base, stream_->time_base);
      if (Status st = write(out_pkt_.get()); !st.ok()) return st;
    }
    return Status::Ok();
  }

  CodecPtr dec_, enc_;
  SwrPtr swr_;
  FifoPtr fifo_;
  FramePtr in_frame_, out_frame_;
  PacketPtr out_pkt_;
  int64_t total_ = 0;    // samples the output should hold
  int64_t queued_ = 0;   // samples put into the FIFO so far (output timeline)
  int64_t encoded_ = 0;  // samples sent to the encoder
  bool started_ = false;
  bool input_done_ = false;
};

}  // namespace

std::unique_ptr<AudioTrack> add_audio_track(const Context& ctx, AVFormatContext* out, const AudioPlan& plan,
                                            Status& status) {
  status = Status::Ok();
  if (plan.path.empty() || plan.duration <= 0) return nullptr;
  std::string why;
  InputPtr probe = open_input(plan.path, why);
  if (!probe) {
    status = Status::Fail(kExitInput, plan.path, why);
    return nullptr;
  }
  int idx = av_find_best_stream(probe.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (idx < 0) return nullptr;
  const AVCodecID id = probe->streams[idx]->codecpar->codec_id;
  if (plan.speed == 1.0 && can_copy(out->oformat, id)) {
    auto a = std::make_unique<CopiedAudio>(ctx, out, plan);
    status = a->open();
    if (status.ok()) return a;
  } else {
    auto a = std::make_unique<EncodedAudio>(ctx, out, plan);
    status = a->open();
    if (status.ok()) return a;
  }
  return nullptr;
}

}  // namespace vidkompy
