// PNG row filtering for the merge's PNG writer (src/hpa/merge-png.ts): turns 8-bit interleaved
// pixels into PNG's filtered scanlines (one filter-type byte + the filtered row), ready for zlib.
//   pngFilterSync(pixels, width, height, channels, filter, out) -> undefined
//   pngFilter(...same...) -> Promise<undefined>   (libuv pool)
// pixels: Uint8Array(width*height*channels); channels 1..4; filter: 0 None, 1 Sub, 2 Up,
// 3 Average, 4 Paeth (the same filter on every row, per the PNG spec); out: Uint8Array of
// (width*channels + 1)*height bytes, not overlapping pixels.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "merge_async.h"
#include "registry.h"
#include "validate.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define HPA_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define HPA_MULTIVERSION
#endif

namespace {

struct FilterJob {
  const uint8_t* pixels;
  uint8_t* out;
  size_t width, height;
  int channels;
  int filter;
};

HPA_MULTIVERSION
void UpRow(const uint8_t* __restrict cur, const uint8_t* __restrict prev, uint8_t* __restrict dst,
           size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(cur[i] - prev[i]);
}

HPA_MULTIVERSION
void SubRow(const uint8_t* __restrict cur, uint8_t* __restrict dst, size_t n, size_t bpp) {
  for (size_t i = 0; i < bpp && i < n; ++i) dst[i] = cur[i];
  for (size_t i = bpp; i < n; ++i) dst[i] = static_cast<uint8_t>(cur[i] - cur[i - bpp]);
}

HPA_MULTIVERSION
void AverageRow(const uint8_t* __restrict cur, const uint8_t* __restrict prev,
                uint8_t* __restrict dst, size_t n, size_t bpp) {
  for (size_t i = 0; i < bpp && i < n; ++i) dst[i] = static_cast<uint8_t>(cur[i] - (prev[i] >> 1));
  for (size_t i = bpp; i < n; ++i) {
    dst[i] = static_cast<uint8_t>(cur[i] - ((cur[i - bpp] + prev[i]) >> 1));
  }
}

// Paeth predictor, written branch-free so the compiler can vectorize it.
HPA_MULTIVERSION
void PaethRow(const uint8_t* __restrict cur, const uint8_t* __restrict prev,
              uint8_t* __restrict dst, size_t n, size_t bpp) {
  for (size_t i = 0; i < bpp && i < n; ++i) dst[i] = static_cast<uint8_t>(cur[i] - prev[i]);
  for (size_t i = bpp; i < n; ++i) {
    const int a = cur[i - bpp], b = prev[i], c = prev[i - bpp];
    const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
    const int pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
    dst[i] = static_cast<uint8_t>(cur[i] - pred);
  }
}

void RunFilter(const FilterJob& j) {
  const size_t stride = j.width * static_cast<size_t>(j.channels);
  const size_t bpp = static_cast<size_t>(j.channels);
  std::vector<uint8_t> zero_row(stride, 0);  // the row "above" the first one
  for (size_t y = 0; y < j.height; ++y) {
    const uint8_t* cur = j.pixels + y * stride;
    const uint8_t* prev = y > 0 ? cur - stride : zero_row.data();
    uint8_t* dst = j.out + y * (stride + 1);
    dst[0] = static_cast<uint8_t>(j.filter);
    ++dst;
    switch (j.filter) {
      case 0: std::memcpy(dst, cur, stride); break;
      case 1: SubRow(cur, dst, stride, bpp); break;
      case 2: UpRow(cur, prev, dst, stride); break;
      case 3: AverageRow(cur, prev, dst, stride, bpp); break;
      default: PaethRow(cur, prev, dst, stride, bpp); break;
    }
  }
}

FilterJob ParseFilterArgs(const Napi::CallbackInfo& info, std::vector<Napi::Value>* keep) {
  Napi::Env env = info.Env();
  Napi::Uint8Array pixels = hpa::TypedArrayArg<uint8_t>(env, hpa::Arg(info, 0), "pixels",
                                                        napi_uint8_array, "Uint8Array");
  const int64_t width = hpa::IntArg(env, hpa::Arg(info, 1), "width", 1, 1 << 20);
  const int64_t height = hpa::IntArg(env, hpa::Arg(info, 2), "height", 1, 1 << 20);
  const int64_t channels = hpa::IntArg(env, hpa::Arg(info, 3), "channels", 1, 4);
  const int64_t filter = hpa::IntArg(env, hpa::Arg(info, 4), "filter", 0, 4);
  Napi::Uint8Array out = hpa::TypedArrayArg<uint8_t>(env, hpa::Arg(info, 5), "out",
                                                     napi_uint8_array, "Uint8Array");
  if (width * height > (int64_t(1) << 30)) hpa::ThrowRange(env, "width*height must be at most 2^30");
  const size_t in_len = static_cast<size_t>(width * height * channels);
  const size_t out_len = static_cast<size_t>((width * channels + 1) * height);
  if (pixels.ByteLength() != in_len) {
    hpa::ThrowRange(env, "pixels must hold width*height*channels = " + std::to_string(in_len) +
                             " bytes, got " + std::to_string(pixels.ByteLength()));
  }
  if (out.ByteLength() != out_len) {
    hpa::ThrowRange(env, "out must hold (width*channels+1)*height = " + std::to_string(out_len) +
                             " bytes, got " + std::to_string(out.ByteLength()));
  }
  const uint8_t* a = pixels.Data();
  const uint8_t* b = out.Data();
  if (a < b + out_len && b < a + in_len) hpa::ThrowRange(env, "out must not overlap pixels");
  keep->push_back(pixels);
  keep->push_back(out);
  return {pixels.Data(), out.Data(), static_cast<size_t>(width), static_cast<size_t>(height),
          static_cast<int>(channels), static_cast<int>(filter)};
}

Napi::Value PngFilterSync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  RunFilter(ParseFilterArgs(info, &keep));
  return info.Env().Undefined();
}

Napi::Value PngFilter(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  FilterJob job = ParseFilterArgs(info, &keep);
  return hpa::PromiseWorker::Start(info.Env(), [job] { RunFilter(job); }, keep);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("pngFilterSync", Napi::Function::New(env, PngFilterSync, "pngFilterSync"));
  exports.Set("pngFilter", Napi::Function::New(env, PngFilter, "pngFilter"));
}

}  // namespace

HPA_REGISTER_MODULE(merge_png, Init);
