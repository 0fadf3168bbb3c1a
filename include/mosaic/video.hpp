// video.hpp: video decoding with exact frame numbers, frame conversion and PNG files (FFmpeg).
//
// Frame k is the k-th frame in presentation order, whatever the container's timestamps say, so
// variable-frame-rate files, B-frames and edit lists give the same numbers as decoding the whole
// file and counting. The reader builds a frame index from the packet timestamps on first use (a
// demux pass, no decoding) and seeks to the nearest keyframe before a requested frame; streams
// without usable timestamps (raw .h264) are counted by decoding and read sequentially.
//
//   VideoReader video("/data/m01.mp4");
//   VideoInfo info = video.info();                      // width, height, fps, codec, frame_count
//   Image img = video.read_frame(120);                  // full frame, BGR24
//   Image small = video.read_frame(120, {.format = PixelFormat::kGray8, .width = 64, .height = 64});
//   write_png("frame_000120.png", img);                 // atomic
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mosaic {

/// \brief Pixel layouts of decoded images (8 bits per channel, rows tightly packed).
enum class PixelFormat { kBgr24, kRgb24, kGray8 };

/// \brief A decoded image: `height` rows of `width * channels()` bytes, no padding.
struct Image {
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kBgr24;
  std::vector<uint8_t> pixels;

  int channels() const noexcept { return format == PixelFormat::kGray8 ? 1 : 3; }
  std::size_t row_bytes() const noexcept { return static_cast<std::size_t>(width) * channels(); }
  const uint8_t* row(int y) const noexcept { return pixels.data() + row_bytes() * static_cast<std::size_t>(y); }
  uint8_t* row(int y) noexcept { return pixels.data() + row_bytes() * static_cast<std::size_t>(y); }
};

/// \brief A rectangle in frame pixels: top-left (x, y), size (w, h).
struct CropRect {
  int x = 0;
  int y = 0;
  int w = 0;
  int h = 0;
  friend bool operator==(const CropRect&, const CropRect&) = default;
};

/// \brief How a decoded frame is turned into an Image: crop first, then resize, then format.
struct FrameConversion {
  PixelFormat format = PixelFormat::kBgr24;
  /// Must lie inside the frame (clamp it first); nullopt = the whole frame.
  std::optional<CropRect> crop = std::nullopt;
  /// Output size; 0 = the crop's (or frame's) size. Resizing averages areas (SWS_AREA), like
  /// OpenCV's INTER_AREA for downscaling.
  int width = 0;
  int height = 0;
};

/// \brief What a video file says about itself, plus the exact frame count once it is known.
struct VideoInfo {
  std::filesystem::path path;
  int width = 0;
  int height = 0;
  /// avg_frame_rate, else r_frame_rate; 0 when the container gives neither.
  double fps = 0;
  /// The container's count: the stream's nb_frames, else duration x fps (0 when unknown).
  int64_t nominal_frame_count = 0;
  double duration_seconds = 0;
  std::string codec;        ///< decoder name, e.g. "h264"
  std::string pixel_format; ///< e.g. "yuv420p"
};

/// \brief Where each frame of a video is, in presentation order: built once per file by a demux
/// pass and shareable between readers of the same file (workers decoding in parallel).
struct VideoFrameIndex {
  /// True when the stream has no usable timestamps: frames are counted by decoding and read
  /// sequentially (no seeking).
  bool sequential = false;
  int64_t frame_count = 0;
  /// Presentation timestamps of frames 0..frame_count-1, ascending (empty when sequential).
  std::vector<int64_t> pts;
  /// Presentation indices of the keyframes (ascending) and the timestamp to seek to for each.
  std::vector<int64_t> keyframe_index;
  std::vector<int64_t> keyframe_seek_ts;

  /// \brief The keyframe a decode of `frame` has to start from (an index into keyframe_index),
  /// or -1 when the frame comes before the first keyframe (decode from the start of the file).
  int64_t keyframe_slot(int64_t frame) const noexcept;
};

struct VideoReaderOptions {
  /// Decoder threads (libavcodec); 1 keeps decoding on the calling thread, 0 = FFmpeg's choice.
  int decoder_threads = 1;
  /// A frame index built by another reader of the same file; built on first use when null.
  std::shared_ptr<const VideoFrameIndex> index = nullptr;
  /// Let the decoder drop non-reference frames shown before the next wanted frame (they are
  /// never returned and nothing depends on them). Frames are identified by timestamp, so the
  /// numbering and the pixels of returned frames are the same either way; false decodes all.
  bool skip_unneeded_frames = true;
};

/// \brief Decode one video file; frames addressed by 0-based presentation index.
///
/// Not thread-safe: give each thread its own reader (share the frame index through
/// `shared_index()` to scan the file once). Errors throw IoError naming the file:
/// missing, unreadable, not a video, corrupt, a frame that cannot be decoded
/// ("Failed to decode frame {i} from {path}").
class VideoReader {
 public:
  explicit VideoReader(const std::filesystem::path& path, const VideoReaderOptions& options = {});
  ~VideoReader();
  VideoReader(VideoReader&&) noexcept;
  VideoReader& operator=(VideoReader&&) noexcept;
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const noexcept;
  /// The exact number of decodable frames (builds the frame index on first call).
  int64_t frame_count();
  /// The frame index (built on first call).
  std::shared_ptr<const VideoFrameIndex> shared_index();

  /// \brief Decode frame `index` and convert it. Throws IoError when out of range or undecodable.
  Image read_frame(int64_t index, const FrameConversion& conversion = {});

  /// \brief Decode the frames `indices` (ascending, no duplicates) in one forward pass, seeking
  /// only where a keyframe lies between the current position and the next frame wanted; calls
  /// `on_frame(i, image)` for each, in order (the image may be moved from).
  void read_frames(std::span<const int64_t> indices, const FrameConversion& conversion,
                   const std::function<void(std::size_t position, Image& image)>& on_frame);

  /// Frames the decoder returned so far (for throughput figures), including those decoded only to
  /// reach others; frames it was allowed to drop unseen (skip_unneeded_frames) are not counted.
  int64_t frames_decoded() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// \brief Read a video's metadata (no frame index, no decoding). Throws like VideoReader.
VideoInfo probe_video(const std::filesystem::path& path);

/// \brief Encode an image as PNG bytes with libavcodec's encoder (RGB or grayscale PNG; a BGR24
/// image is stored with its channels in the right order, as cv2.imwrite does).
std::vector<uint8_t> encode_png(const Image& image);

/// \brief Write an image as a PNG file atomically (temporary file, then rename).
void write_png(const std::filesystem::path& path, const Image& image);

/// \brief Decode an image file (PNG, ...) into `format`. Throws IoError naming the file.
Image read_image(const std::filesystem::path& path, PixelFormat format = PixelFormat::kBgr24);

}  // namespace mosaic
