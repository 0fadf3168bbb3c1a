// video_reader.hpp (internal): RAII owners of FFmpeg objects and the frame converter shared by
// the video reader and the PNG codec. Only src/media includes this; FFmpeg headers never reach
// the public API.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>
#include <string_view>

#include "mosaic/video.hpp"

namespace mosaic::media {

struct FormatContextDeleter {
  void operator()(AVFormatContext* ctx) const noexcept { avformat_close_input(&ctx); }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* ctx) const noexcept { avcodec_free_context(&ctx); }
};
struct PacketDeleter {
  void operator()(AVPacket* pkt) const noexcept { av_packet_free(&pkt); }
};
struct FrameDeleter {
  void operator()(AVFrame* frame) const noexcept { av_frame_free(&frame); }
};
struct SwsDeleter {
  void operator()(SwsContext* ctx) const noexcept { sws_freeContext(ctx); }
};

using FormatContextPtr = std::unique_ptr<AVFormatContext, FormatContextDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;

/// \brief FFmpeg's text for an AVERROR code ("Invalid data found when processing input").
std::string av_error_text(int code);

/// \brief Quiet FFmpeg's own logging once per process (errors reach users as exceptions that
/// name the file; the library's warnings about one damaged packet would only be noise).
void init_ffmpeg_logging();

/// \brief Converts decoded AVFrames to Images (crop, area resize, BGR/RGB/gray), caching the
/// swscale context between frames of the same shape.
class FrameConverter {
 public:
  /// Convert `frame` per `conversion` into `out` (reusing its buffer). The frame's colour
  /// matrix and range are honoured (BT.601 when unspecified, as OpenCV and ffmpeg assume).
  void convert(const AVFrame& frame, const FrameConversion& conversion, Image& out);

 private:
  /// One swscale context, rebuilt only when the conversion's shape changes.
  struct Scaler {
    SwsPtr sws;
    std::string key;
    void run(const uint8_t* const src_data[4], const int src_linesize[4], int src_w, int src_h,
             AVPixelFormat src_fmt, bool src_full_range, int src_colorspace, int dst_w, int dst_h,
             PixelFormat dst_format, int flags, Image& out);
  };

  Scaler first_;
  Scaler second_;  // crop + resize of an intermediate full-resolution image
  Image full_;     // that intermediate, or the full frame before a crop is copied out
};

/// \brief The AVPixelFormat of an Image format.
AVPixelFormat to_av_pixel_format(PixelFormat format) noexcept;

}  // namespace mosaic::media
