// Video decoding with exact frame numbers (see include/mosaic/video.hpp for the contract).
//
// Frame numbering: a demux pass collects the presentation timestamps of every video packet
// (packets the container marks as discarded, e.g. before an mp4 edit list, are left out, as the
// decoder drops their frames too). Sorted, they give frame k <-> pts_k; a decoded frame is
// identified by looking its timestamp up, never by assuming a constant frame rate, so VFR files,
// B-frames and open GOPs all number frames the way a full sequential decode would. Files without
// timestamps (raw elementary streams) or with duplicate timestamps fall back to counting frames
// while decoding sequentially.
#include "media/video_reader.hpp"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace fs = std::filesystem;

namespace mosaic {
namespace media {

std::string av_error_text(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(code, buf, sizeof buf) < 0) return fmt::format("error {}", code);
  return buf;
}

void init_ffmpeg_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    // MOSAIC_FFMPEG_LOG=1 restores FFmpeg's own messages for debugging a file.
    if (std::getenv("MOSAIC_FFMPEG_LOG") == nullptr) av_log_set_level(AV_LOG_FATAL);
  });
}

AVPixelFormat to_av_pixel_format(PixelFormat format) noexcept {
  switch (format) {
    case PixelFormat::kBgr24: return AV_PIX_FMT_BGR24;
    case PixelFormat::kRgb24: return AV_PIX_FMT_RGB24;
    case PixelFormat::kGray8: return AV_PIX_FMT_GRAY8;
  }
  return AV_PIX_FMT_BGR24;
}

namespace {

int channels_of(PixelFormat format) { return format == PixelFormat::kGray8 ? 1 : 3; }

// The deprecated full-range "J" formats are their plain counterparts with the range flag set;
// swscale wants the latter (and warns about the former).
AVPixelFormat normalize_jpeg_format(AVPixelFormat fmt, bool& full_range) {
  switch (fmt) {
    case AV_PIX_FMT_YUVJ420P: full_range = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: full_range = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: full_range = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: full_range = true; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: full_range = true; return AV_PIX_FMT_YUV411P;
    default: return fmt;
  }
}

// Offsets of a crop's top-left corner in each plane, when the crop can be taken by moving the
// plane pointers (planar or unsubsampled packed formats, chroma-aligned corner).
bool crop_pointers(const AVPixFmtDescriptor* desc, const uint8_t* const data[4], const int linesize[4],
                   const CropRect& crop, const uint8_t* out[4]) {
  if (desc == nullptr) return false;
  if (desc->flags & (AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_PAL)) return false;
  const bool planar = (desc->flags & AV_PIX_FMT_FLAG_PLANAR) != 0;
  const int cw = desc->log2_chroma_w, ch = desc->log2_chroma_h;
  if (!planar && (cw != 0 || ch != 0)) return false;
  if ((crop.x & ((1 << cw) - 1)) != 0 || (crop.y & ((1 << ch) - 1)) != 0) return false;
  int max_step[4] = {0, 0, 0, 0};
  int max_step_comp[4] = {0, 0, 0, 0};
  av_image_fill_max_pixsteps(max_step, max_step_comp, desc);
  const bool rgb = (desc->flags & AV_PIX_FMT_FLAG_RGB) != 0;
  for (int p = 0; p < 4; ++p) {
    out[p] = nullptr;
    if (data[p] == nullptr) continue;
    // Planes 1 and 2 of a YUV format are the subsampled chroma planes.
    const bool chroma = !rgb && (p == 1 || p == 2);
    const int sx = chroma ? cw : 0, sy = chroma ? ch : 0;
    out[p] = data[p] + static_cast<std::ptrdiff_t>(crop.y >> sy) * linesize[p] +
             static_cast<std::ptrdiff_t>(crop.x >> sx) * max_step[p];
  }
  return true;
}

// A scratch image with 64-byte aligned, padded rows: swscale's SIMD paths may write a little
// past the visible width, so it never writes straight into an Image's tight rows.
struct Scratch {
  std::vector<uint8_t> bytes;
  int linesize = 0;
  uint8_t* data(int width, int height, int channels) {
    linesize = (width * channels + 63) & ~63;
    // 64 bytes to align the start, 64 of padding after the last row.
    const std::size_t need = static_cast<std::size_t>(linesize) * static_cast<std::size_t>(height) + 128;
    if (bytes.size() < need) bytes.resize(need);
    const auto addr = reinterpret_cast<uintptr_t>(bytes.data());
    return bytes.data() + ((64 - (addr & 63)) & 63);
  }
};

thread_local Scratch t_scratch_out;

}  // namespace

void FrameConverter::Scaler::run(const uint8_t* const src_data[4], const int src_linesize[4], int src_w, int src_h,
                                 AVPixelFormat src_fmt, bool src_full_range, int src_colorspace, int dst_w, int dst_h,
                                 PixelFormat dst_format, int flags, Image& out) {
  const AVPixelFormat dst_fmt = to_av_pixel_format(dst_format);
  std::string key = fmt::format("{}x{}:{}:{}:{}>{}x{}:{}:{}", src_w, src_h, static_cast<int>(src_fmt),
                                src_full_range ? 1 : 0, src_colorspace, dst_w, dst_h, static_cast<int>(dst_fmt), flags);
  if (!sws || key != this->key) {
    sws.reset(sws_getContext(src_w, src_h, src_fmt, dst_w, dst_h, dst_fmt, flags, nullptr, nullptr, nullptr));
    if (!sws)
      throw IoError(fmt::format("cannot convert frames of format {} ({}x{}) to {}x{}",
                                av_get_pix_fmt_name(src_fmt) ? av_get_pix_fmt_name(src_fmt) : "?", src_w, src_h,
                                dst_w, dst_h));
    // Honour the stream's colour matrix and range; unspecified matrices get BT.601, the
    // assumption of OpenCV and of ffmpeg's own conversions.
    const int* table = sws_getCoefficients(src_colorspace);
    sws_setColorspaceDetails(sws.get(), table, src_full_range ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0,
                             1 << 16, 1 << 16);
    this->key = std::move(key);
  }
  const int ch = channels_of(dst_format);
  uint8_t* dst = t_scratch_out.data(dst_w, dst_h, ch);
  uint8_t* dst_data[4] = {dst, nullptr, nullptr, nullptr};
  int dst_linesize[4] = {t_scratch_out.linesize, 0, 0, 0};
  int rows = sws_scale(sws.get(), src_data, src_linesize, 0, src_h, dst_data, dst_linesize);
  if (rows != dst_h) throw IoError(fmt::format("frame conversion failed ({} of {} rows)", rows, dst_h));
  out.width = dst_w;
  out.height = dst_h;
  out.format = dst_format;
  out.pixels.resize(static_cast<std::size_t>(dst_w) * ch * static_cast<std::size_t>(dst_h));
  const std::size_t row_bytes = static_cast<std::size_t>(dst_w) * ch;
  for (int y = 0; y < dst_h; ++y)
    std::memcpy(out.pixels.data() + row_bytes * y, dst + static_cast<std::ptrdiff_t>(t_scratch_out.linesize) * y,
                row_bytes);
}

void FrameConverter::convert(const AVFrame& frame, const FrameConversion& conversion, Image& out) {
  bool full_range = frame.color_range == AVCOL_RANGE_JPEG;
  const AVPixelFormat src_fmt = normalize_jpeg_format(static_cast<AVPixelFormat>(frame.format), full_range);
  const int fw = frame.width, fh = frame.height;
  const CropRect crop = conversion.crop.value_or(CropRect{0, 0, fw, fh});
  if (crop.x < 0 || crop.y < 0 || crop.w <= 0 || crop.h <= 0 || crop.x + crop.w > fw || crop.y + crop.h > fh)
    throw InputError(fmt::format("crop ({}, {}, {}, {}) is outside the {}x{} frame", crop.x, crop.y, crop.w, crop.h,
                                 fw, fh));
  const int dst_w = conversion.width > 0 ? conversion.width : crop.w;
  const int dst_h = conversion.height > 0 ? conversion.height : crop.h;
  const bool resize = dst_w != crop.w || dst_h != crop.h;
  const bool whole = crop.x == 0 && crop.y == 0 && crop.w == fw && crop.h == fh;
  const int colorspace = frame.colorspace;

  if (!resize || whole) {
    // Convert the whole frame, then copy the crop's rows: exactly "convert, then crop", as the
    // reference crops OpenCV's BGR frame (chroma interpolation at the crop edges included).
    Image& target = whole ? out : full_;
    first_.run(frame.data, frame.linesize, fw, fh, src_fmt, full_range, colorspace, resize ? dst_w : fw,
          resize ? dst_h : fh, conversion.format, resize ? SWS_AREA : SWS_BICUBIC, target);
    if (whole) return;
    const int ch = channels_of(conversion.format);
    out.width = crop.w;
    out.height = crop.h;
    out.format = conversion.format;
    out.pixels.resize(static_cast<std::size_t>(crop.w) * ch * static_cast<std::size_t>(crop.h));
    for (int y = 0; y < crop.h; ++y)
      std::memcpy(out.row(y), full_.row(crop.y + y) + static_cast<std::size_t>(crop.x) * ch,
                  static_cast<std::size_t>(crop.w) * ch);
    return;
  }
  // Crop and resize: take the crop in the source format when the plane pointers allow it (one
  // area-averaging pass over the crop only), else convert the whole frame first.
  const uint8_t* cropped[4] = {nullptr, nullptr, nullptr, nullptr};
  if (crop_pointers(av_pix_fmt_desc_get(src_fmt), frame.data, frame.linesize, crop, cropped)) {
    first_.run(cropped, frame.linesize, crop.w, crop.h, src_fmt, full_range, colorspace, dst_w, dst_h, conversion.format,
          SWS_AREA, out);
    return;
  }
  first_.run(frame.data, frame.linesize, fw, fh, src_fmt, full_range, colorspace, fw, fh, conversion.format,
             SWS_BICUBIC, full_);
  const int ch = channels_of(conversion.format);
  const uint8_t* src[4] = {full_.row(crop.y) + static_cast<std::size_t>(crop.x) * ch, nullptr, nullptr, nullptr};
  const int src_linesize[4] = {static_cast<int>(full_.row_bytes()), 0, 0, 0};
  second_.run(src, src_linesize, crop.w, crop.h, to_av_pixel_format(conversion.format), true, SWS_CS_DEFAULT, dst_w,
               dst_h, conversion.format, SWS_AREA, out);
}

}  // namespace media

// ---------------------------------------------------------------------------------------------

int64_t VideoFrameIndex::keyframe_slot(int64_t frame) const noexcept {
  auto it = std::upper_bound(keyframe_index.begin(), keyframe_index.end(), frame);
  return static_cast<int64_t>(it - keyframe_index.begin()) - 1;
}

namespace {

using media::av_error_text;

// Thrown inside the decoder when the first frame after a seek already lies past the target
// (the demuxer landed on a later keyframe than asked): the caller seeks further back.
struct Overshoot {};

}  // namespace

struct VideoReader::Impl {
  fs::path path;
  VideoReaderOptions options;
  VideoInfo info;
  media::FormatContextPtr format;
  media::CodecContextPtr codec;
  int stream_index = -1;
  media::PacketPtr packet{av_packet_alloc()};
  media::FramePtr frame{av_frame_alloc()};
  std::shared_ptr<const VideoFrameIndex> index;
  int64_t start_seek_ts = AV_NOPTS_VALUE;  // dts of the first packet, to rewind to
  media::FrameConverter converter;

  // Decoder position: the presentation index of the last frame the decoder returned (-1 = none
  // yet since the last rewind), whether the input is exhausted and whether the next frame is the
  // first after a seek (checked for overshoot).
  int64_t last_output = -1;
  bool input_eof = false;
  bool after_seek = false;
  int64_t decoded = 0;

  std::string where() const { return path.string(); }

  void open() {
    media::init_ffmpeg_logging();
    std::error_code ec;
    if (!fs::exists(path, ec)) throw IoError(fmt::format("Failed to open video: {} (file not found)", where()));
    if (fs::is_directory(path, ec)) throw IoError(fmt::format("Failed to open video: {} (is a directory)", where()));
    AVFormatContext* raw = nullptr;
    int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
    if (rc < 0)
      throw IoError(fmt::format("Failed to open video: {} (not a readable media file: {})", where(), av_error_text(rc)));
    format.reset(raw);
    rc = avformat_find_stream_info(raw, nullptr);
    if (rc < 0)
      throw IoError(fmt::format("Failed to open video: {} (cannot read stream information: {})", where(),
                                av_error_text(rc)));
    const AVCodec* decoder = nullptr;
    stream_index = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    if (stream_index >= 0 && (raw->streams[stream_index]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      // Cover art is not the video; look for a real video stream.
      stream_index = -1;
      for (unsigned s = 0; s < raw->nb_streams; ++s) {
        const AVStream* st = raw->streams[s];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
          stream_index = static_cast<int>(s);
          decoder = avcodec_find_decoder(st->codecpar->codec_id);
          break;
        }
      }
    }
    if (stream_index < 0)
      throw IoError(fmt::format("Failed to open video: {} (no video stream in the file)", where()));
    AVStream* st = raw->streams[stream_index];
    if (decoder == nullptr)
      throw IoError(fmt::format("Failed to open video: {} (no decoder for codec '{}')", where(),
                                avcodec_get_name(st->codecpar->codec_id)));
    codec.reset(avcodec_alloc_context3(decoder));
    if (!codec) throw IoError(fmt::format("Failed to open video: {} (out of memory)", where()));
    rc = avcodec_parameters_to_context(codec.get(), st->codecpar);
    if (rc < 0) throw IoError(fmt::format("Failed to open video: {} ({})", where(), av_error_text(rc)));
    codec->thread_count = std::max(0, options.decoder_threads);
    codec->pkt_timebase = st->time_base;
    rc = avcodec_open2(codec.get(), decoder, nullptr);
    if (rc < 0)
      throw IoError(fmt::format("Failed to open video: {} (cannot open the {} decoder: {})", where(), decoder->name,
                                av_error_text(rc)));
    if (st->codecpar->width <= 0 || st->codecpar->height <= 0)
      throw IoError(fmt::format("Failed to open video: {} (the video stream has no frame size; corrupt file?)", where()));

    info.path = path;
    info.width = st->codecpar->width;
    info.height = st->codecpar->height;
    auto valid = [](AVRational r) { return r.num > 0 && r.den > 0; };
    if (valid(st->avg_frame_rate))
      info.fps = av_q2d(st->avg_frame_rate);
    else if (valid(st->r_frame_rate))
      info.fps = av_q2d(st->r_frame_rate);
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
      info.duration_seconds = static_cast<double>(st->duration) * av_q2d(st->time_base);
    else if (raw->duration != AV_NOPTS_VALUE && raw->duration > 0)
      info.duration_seconds = static_cast<double>(raw->duration) / AV_TIME_BASE;
    if (st->nb_frames > 0)
      info.nominal_frame_count = st->nb_frames;
    else
      info.nominal_frame_count = static_cast<int64_t>(std::floor(info.duration_seconds * info.fps + 0.5));
    info.codec = avcodec_get_name(st->codecpar->codec_id);
    const char* pix = av_get_pix_fmt_name(static_cast<AVPixelFormat>(st->codecpar->format));
    info.pixel_format = pix ? pix : "";
    if (options.index) index = options.index;
  }

  void reopen() {
    format.reset();
    codec.reset();
    auto keep = index;
    open();
    index = keep;
    last_output = -1;
    input_eof = false;
    after_seek = false;
  }

  // Back to the first frame: seek to the first packet's timestamp, or reopen the file when the
  // demuxer cannot seek.
  void rewind() {
    int rc = -1;
    if (start_seek_ts != AV_NOPTS_VALUE)
      rc = av_seek_frame(format.get(), stream_index, start_seek_ts, AVSEEK_FLAG_BACKWARD);
    if (rc < 0) {
      reopen();
      return;
    }
    avcodec_flush_buffers(codec.get());
    last_output = -1;
    input_eof = false;
    after_seek = false;  // at the start, nothing can be overshot
  }

  void build_index() {
    auto idx = std::make_shared<VideoFrameIndex>();
    struct Pkt {
      int64_t pts;
      int64_t dts;
      bool key;
    };
    std::vector<Pkt> packets;
    bool timestamps_usable = true;
    for (;;) {
      int rc = av_read_frame(format.get(), packet.get());
      if (rc < 0) break;  // end of file, or damage: frames up to here are what can be read
      if (packet->stream_index == stream_index && !(packet->flags & AV_PKT_FLAG_DISCARD)) {
        if (packet->pts == AV_NOPTS_VALUE) timestamps_usable = false;
        packets.push_back({packet->pts, packet->dts, (packet->flags & AV_PKT_FLAG_KEY) != 0});
      }
      av_packet_unref(packet.get());
    }
    if (packets.empty()) throw IoError(fmt::format("{}: Video has no frames.", where()));
    start_seek_ts = packets.front().dts != AV_NOPTS_VALUE ? packets.front().dts : packets.front().pts;
    if (timestamps_usable) {
      idx->pts.reserve(packets.size());
      for (const auto& p : packets) idx->pts.push_back(p.pts);
      std::sort(idx->pts.begin(), idx->pts.end());
      if (std::adjacent_find(idx->pts.begin(), idx->pts.end()) != idx->pts.end()) timestamps_usable = false;
    }
    if (timestamps_usable) {
      idx->frame_count = static_cast<int64_t>(idx->pts.size());
      std::vector<std::pair<int64_t, int64_t>> keys;  // (presentation index, seek timestamp)
      for (const auto& p : packets) {
        if (!p.key) continue;
        auto pos = std::lower_bound(idx->pts.begin(), idx->pts.end(), p.pts) - idx->pts.begin();
        // Seek by the keyframe's own presentation timestamp: demuxers index keyframes by it (mov
        // shifts its decode timestamps by the edit list, so a dts lands one keyframe early).
        // A demuxer that lands later is caught by the overshoot check in read_one().
        keys.emplace_back(pos, p.pts);
      }
      std::sort(keys.begin(), keys.end());
      for (const auto& [pos, ts] : keys) {
        if (!idx->keyframe_index.empty() && idx->keyframe_index.back() == pos) continue;
        idx->keyframe_index.push_back(pos);
        idx->keyframe_seek_ts.push_back(ts);
      }
      index = std::move(idx);
      rewind();
      return;
    }
    // No usable timestamps: count frames by decoding everything once.
    idx->sequential = true;
    idx->pts.clear();
    rewind();
    int64_t count = 0;
    bool flushing = false;
    for (;;) {
      int rc = avcodec_receive_frame(codec.get(), frame.get());
      if (rc == 0) {
        ++count;
        ++decoded;
        av_frame_unref(frame.get());
        continue;
      }
      if (rc == AVERROR_EOF) break;
      if (rc != AVERROR(EAGAIN)) continue;  // a damaged frame: skip it, as a sequential reader would
      if (flushing) break;
      rc = av_read_frame(format.get(), packet.get());
      if (rc < 0) {
        avcodec_send_packet(codec.get(), nullptr);
        flushing = true;
        continue;
      }
      if (packet->stream_index == stream_index) avcodec_send_packet(codec.get(), packet.get());
      av_packet_unref(packet.get());
    }
    if (count == 0) throw IoError(fmt::format("{}: Video has no frames (none could be decoded).", where()));
    idx->frame_count = count;
    index = std::move(idx);
    rewind();
  }

  void ensure_index() {
    if (!index) build_index();
    if (start_seek_ts == AV_NOPTS_VALUE && !index->sequential && !index->keyframe_seek_ts.empty())
      start_seek_ts = index->keyframe_seek_ts.front();
  }

  void seek_slot(int64_t slot) {
    if (slot < 0) {
      rewind();
      after_seek = true;
      return;
    }
    int rc = av_seek_frame(format.get(), stream_index, index->keyframe_seek_ts[static_cast<std::size_t>(slot)],
                           AVSEEK_FLAG_BACKWARD);
    if (rc < 0) {
      rewind();  // decoding from the start is slow but always right
      return;
    }
    avcodec_flush_buffers(codec.get());
    // Frames without a timestamp are counted on from the keyframe.
    last_output = index->keyframe_index[static_cast<std::size_t>(slot)] - 1;
    input_eof = false;
    after_seek = true;
  }

  // The presentation index of a timestamp, or -1 when it is not a frame's.
  int64_t presentation_index(int64_t ts) const {
    if (index->sequential || ts == AV_NOPTS_VALUE) return -1;
    auto it = std::lower_bound(index->pts.begin(), index->pts.end(), ts);
    if (it != index->pts.end() && *it == ts) return static_cast<int64_t>(it - index->pts.begin());
    return -1;
  }

  int64_t identify(const AVFrame& f) const {
    const int64_t ts = f.best_effort_timestamp != AV_NOPTS_VALUE ? f.best_effort_timestamp : f.pts;
    const int64_t i = presentation_index(ts);
    return i >= 0 ? i : last_output + 1;
  }

  [[noreturn]] void fail_frame(int64_t target, std::string_view why) const {
    throw IoError(fmt::format("Failed to decode frame {} from {} ({})", target, where(), why));
  }

  // Decode forward until the frame `target` comes out; convert it into `out`.
  void decode_to(int64_t target, const FrameConversion& conversion, Image& out) {
    for (;;) {
      int rc = avcodec_receive_frame(codec.get(), frame.get());
      if (rc == 0) {
        ++decoded;
        const int64_t i = identify(*frame);
        const bool first = after_seek;
        after_seek = false;
        if (first && i > target) {
          av_frame_unref(frame.get());
          throw Overshoot{};
        }
        if (i <= last_output && !first) {
          // A frame from before the current position (an open GOP's leading picture): skip.
          av_frame_unref(frame.get());
          continue;
        }
        last_output = i;
        if (i == target) {
          converter.convert(*frame, conversion, out);
          av_frame_unref(frame.get());
          return;
        }
        av_frame_unref(frame.get());
        if (i > target) fail_frame(target, "the decoder skipped it; damaged data?");
        continue;
      }
      if (rc == AVERROR_EOF) {
        input_eof = true;
        fail_frame(target, "end of stream reached before it");
      }
      if (rc != AVERROR(EAGAIN)) {
        if (rc == AVERROR_INVALIDDATA) continue;  // a damaged frame: keep going, as ffmpeg does
        fail_frame(target, av_error_text(rc));
      }
      if (input_eof) fail_frame(target, "end of stream reached before it");
      rc = av_read_frame(format.get(), packet.get());
      if (rc < 0) {
        input_eof = true;
        avcodec_send_packet(codec.get(), nullptr);  // drain the frames still in the decoder
        continue;
      }
      if (packet->stream_index == stream_index) {
        if (options.skip_unneeded_frames && !index->sequential) {
          // A frame shown before the target is never returned: when nothing references it
          // either, the decoder may drop it unseen. Frames are identified by timestamp, so
          // the numbering is unaffected; h264/hevc honour this per packet.
          const int64_t shown = presentation_index(packet->pts);
          const AVDiscard want = shown >= 0 && shown < target ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
          if (codec->skip_frame != want) codec->skip_frame = want;
        }
        rc = avcodec_send_packet(codec.get(), packet.get());
        // AVERROR_INVALIDDATA: a damaged packet; the frames after it may still decode.
        if (rc < 0 && rc != AVERROR_INVALIDDATA && rc != AVERROR(EAGAIN)) {
          av_packet_unref(packet.get());
          fail_frame(target, av_error_text(rc));
        }
      }
      av_packet_unref(packet.get());
    }
  }

  void read_one(int64_t target, const FrameConversion& conversion, Image& out) {
    if (index->sequential) {
      if (input_eof || target <= last_output) rewind();
      decode_to(target, conversion, out);
      return;
    }
    int64_t slot = index->keyframe_slot(target);
    const int64_t key_pos = slot >= 0 ? index->keyframe_index[static_cast<std::size_t>(slot)] : 0;
    // Keep decoding forward when no keyframe lies between here and the target.
    const bool forward = !input_eof && target > last_output && key_pos <= last_output + 1;
    if (!forward) seek_slot(slot);
    for (int attempt = 0;; ++attempt) {
      try {
        decode_to(target, conversion, out);
        return;
      } catch (const Overshoot&) {
        // The demuxer landed after the target: go one keyframe further back each time, and
        // finally to the start.
        if (slot < 0 || attempt > 8) fail_frame(target, "seeking never reached it");
        slot = attempt < 8 ? slot - 1 : -1;
        seek_slot(slot);
      }
    }
  }
};

VideoReader::VideoReader(const fs::path& path, const VideoReaderOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->options = options;
  impl_->open();
}

VideoReader::~VideoReader() = default;
VideoReader::VideoReader(VideoReader&&) noexcept = default;
VideoReader& VideoReader::operator=(VideoReader&&) noexcept = default;

const VideoInfo& VideoReader::info() const noexcept { return impl_->info; }

int64_t VideoReader::frame_count() {
  impl_->ensure_index();
  return impl_->index->frame_count;
}

std::shared_ptr<const VideoFrameIndex> VideoReader::shared_index() {
  impl_->ensure_index();
  return impl_->index;
}

int64_t VideoReader::frames_decoded() const noexcept { return impl_->decoded; }

Image VideoReader::read_frame(int64_t index, const FrameConversion& conversion) {
  Image out;
  const int64_t one[1] = {index};
  read_frames(one, conversion, [&](std::size_t, Image& img) { out = std::move(img); });
  return out;
}

void VideoReader::read_frames(std::span<const int64_t> indices, const FrameConversion& conversion,
                              const std::function<void(std::size_t, Image&)>& on_frame) {
  impl_->ensure_index();
  const int64_t count = impl_->index->frame_count;
  Image image;
  int64_t previous = -1;
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const int64_t target = indices[k];
    if (target < 0 || target >= count)
      throw IoError(fmt::format("Failed to decode frame {} from {} (out of range [0, {}))", target,
                                impl_->where(), count));
    if (k > 0 && target <= previous)
      throw InputError(fmt::format("VideoReader::read_frames: frame indices must be ascending and unique "
                                   "(got {} after {})", target, previous));
    previous = target;
    impl_->read_one(target, conversion, image);
    on_frame(k, image);
  }
}

VideoInfo probe_video(const fs::path& path) {
  VideoReader reader(path);
  return reader.info();
}

// ---------------------------------------------------------------------------------------------
// PNG

std::vector<uint8_t> encode_png(const Image& image) {
  using namespace media;
  if (image.width <= 0 || image.height <= 0 || image.pixels.size() < image.row_bytes() * image.height)
    throw InputError(fmt::format("encode_png: invalid image {}x{} with {} bytes", image.width, image.height,
                                 image.pixels.size()));
  init_ffmpeg_logging();
  const AVCodec* encoder = avcodec_find_encoder(AV_CODEC_ID_PNG);
  if (encoder == nullptr) throw IoError("encode_png: this FFmpeg build has no PNG encoder");
  CodecContextPtr ctx(avcodec_alloc_context3(encoder));
  const bool gray = image.format == PixelFormat::kGray8;
  ctx->width = image.width;
  ctx->height = image.height;
  ctx->pix_fmt = gray ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
  ctx->time_base = AVRational{1, 25};
  // zlib level 3 with Paeth prediction: within a few percent of the smallest files at a
  // fraction of level 9's time.
  ctx->compression_level = 3;
  av_opt_set(ctx->priv_data, "pred", "paeth", 0);
  int rc = avcodec_open2(ctx.get(), encoder, nullptr);
  if (rc < 0) throw IoError(fmt::format("encode_png: cannot open the PNG encoder: {}", av_error_text(rc)));
  FramePtr frame(av_frame_alloc());
  frame->format = ctx->pix_fmt;
  frame->width = image.width;
  frame->height = image.height;
  rc = av_frame_get_buffer(frame.get(), 0);
  if (rc < 0) throw IoError(fmt::format("encode_png: {}", av_error_text(rc)));
  const std::size_t row_bytes = image.row_bytes();
  for (int y = 0; y < image.height; ++y) {
    uint8_t* dst = frame->data[0] + static_cast<std::ptrdiff_t>(frame->linesize[0]) * y;
    const uint8_t* src = image.row(y);
    if (image.format == PixelFormat::kBgr24) {
      for (int x = 0; x < image.width; ++x) {
        dst[3 * x] = src[3 * x + 2];
        dst[3 * x + 1] = src[3 * x + 1];
        dst[3 * x + 2] = src[3 * x];
      }
    } else {
      std::memcpy(dst, src, row_bytes);
    }
  }
  rc = avcodec_send_frame(ctx.get(), frame.get());
  if (rc < 0) throw IoError(fmt::format("encode_png: {}", av_error_text(rc)));
  PacketPtr packet(av_packet_alloc());
  rc = avcodec_receive_packet(ctx.get(), packet.get());
  if (rc < 0) throw IoError(fmt::format("encode_png: {}", av_error_text(rc)));
  return std::vector<uint8_t>(packet->data, packet->data + packet->size);
}

void write_png(const fs::path& path, const Image& image) {
  std::vector<uint8_t> bytes = encode_png(image);
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

Image read_image(const fs::path& path, PixelFormat format) {
  // The image2 demuxer presents a still image as a one-frame video.
  VideoReader reader(path);
  return reader.read_frame(0, {.format = format});
}

}  // namespace mosaic
