// PNG scanline unfiltering for the merge's fast PNG decode path (src/hpa/merge-png-decode.ts):
// zlib has already inflated the IDAT stream; this undoes the per-row filters (PNG spec 9.2).
//   pngUnfilterSync(filtered, width, height, bytesPerPixel, out) -> undefined
//   pngUnfilter(...same...) -> Promise<undefined>   (libuv pool)
// filtered: Uint8Array of (width*bytesPerPixel + 1)*height bytes (a filter-type byte per row);
// bytesPerPixel: 1..8; out: Uint8Array(width*height*bytesPerPixel), not overlapping filtered.
// A filter type above 4 is a corrupt file: Error "PNG row N has invalid filter type T".
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "async_work.h"
#include "registry.h"
#include "validate.h"

namespace {

struct UnfilterJob {
  const uint8_t* filtered;
  uint8_t* out;
  size_t width, height, bpp;
};

void Unfilter(const UnfilterJob& j) {
  const size_t stride = j.width * j.bpp;
  const size_t bpp = j.bpp;
  std::vector<uint8_t> zero_row(stride, 0);  // the row "above" the first one
  for (size_t y = 0; y < j.height; ++y) {
    const uint8_t* src = j.filtered + y * (stride + 1);
    const uint8_t type = *src++;
    uint8_t* cur = j.out + y * stride;
    const uint8_t* prev = y > 0 ? cur - stride : zero_row.data();
    switch (type) {
      case 0: std::memcpy(cur, src, stride); break;
      case 1:
        for (size_t i = 0; i < bpp; ++i) cur[i] = src[i];
        for (size_t i = bpp; i < stride; ++i) cur[i] = static_cast<uint8_t>(src[i] + cur[i - bpp]);
        break;
      case 2:
        for (size_t i = 0; i < stride; ++i) cur[i] = static_cast<uint8_t>(src[i] + prev[i]);
        break;
      case 3:
        for (size_t i = 0; i < bpp; ++i) cur[i] = static_cast<uint8_t>(src[i] + (prev[i] >> 1));
        for (size_t i = bpp; i < stride; ++i) {
          cur[i] = static_cast<uint8_t>(src[i] + ((cur[i - bpp] + prev[i]) >> 1));
        }
        break;
      case 4:
        for (size_t i = 0; i < bpp; ++i) cur[i] = static_cast<uint8_t>(src[i] + prev[i]);
        for (size_t i = bpp; i < stride; ++i) {
          const int a = cur[i - bpp], b = prev[i], c = prev[i - bpp];
          const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
          const int pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          cur[i] = static_cast<uint8_t>(src[i] + pred);
        }
        break;
      default:
        throw std::runtime_error("PNG row " + std::to_string(y) + " has invalid filter type " +
                                 std::to_string(type));
    }
  }
}

UnfilterJob ParseUnfilterArgs(const Napi::CallbackInfo& info, std::vector<Napi::Value>* keep) {
  Napi::Env env = info.Env();
  Napi::Uint8Array filtered = hpa::TypedArrayArg<uint8_t>(env, hpa::Arg(info, 0), "filtered",
                                                          napi_uint8_array, "Uint8Array");
  const int64_t width = hpa::IntArg(env, hpa::Arg(info, 1), "width", 1, 1 << 20);
  const int64_t height = hpa::IntArg(env, hpa::Arg(info, 2), "height", 1, 1 << 20);
  const int64_t bpp = hpa::IntArg(env, hpa::Arg(info, 3), "bytesPerPixel", 1, 8);
  Napi::Uint8Array out = hpa::TypedArrayArg<uint8_t>(env, hpa::Arg(info, 4), "out",
                                                     napi_uint8_array, "Uint8Array");
  if (width * height > (int64_t(1) << 30)) hpa::ThrowRange(env, "width*height must be at most 2^30");
  const size_t out_len = static_cast<size_t>(width * height * bpp);
  const size_t in_len = static_cast<size_t>((width * bpp + 1) * height);
  if (filtered.ByteLength() != in_len) {
    hpa::ThrowRange(env, "filtered must hold (width*bytesPerPixel+1)*height = " +
                             std::to_string(in_len) + " bytes, got " +
                             std::to_string(filtered.ByteLength()));
  }
  if (out.ByteLength() != out_len) {
    hpa::ThrowRange(env, "out must hold width*height*bytesPerPixel = " + std::to_string(out_len) +
                             " bytes, got " + std::to_string(out.ByteLength()));
  }
  const uint8_t* a = filtered.Data();
  const uint8_t* b = out.Data();
  if (a < b + out_len && b < a + in_len) hpa::ThrowRange(env, "out must not overlap filtered");
  keep->push_back(filtered);
  keep->push_back(out);
  return {filtered.Data(), out.Data(), static_cast<size_t>(width), static_cast<size_t>(height),
          static_cast<size_t>(bpp)};
}

Napi::Value PngUnfilterSync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  UnfilterJob job = ParseUnfilterArgs(info, &keep);
  try {
    Unfilter(job);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  return info.Env().Undefined();
}

Napi::Value PngUnfilter(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  UnfilterJob job = ParseUnfilterArgs(info, &keep);
  return hpa::RunAsyncVoid(info.Env(), hpa::KeepAlive(keep), [job] { Unfilter(job); });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("pngUnfilterSync", Napi::Function::New(env, PngUnfilterSync, "pngUnfilterSync"));
  exports.Set("pngUnfilter", Napi::Function::New(env, PngUnfilter, "pngUnfilter"));
}

}  // namespace

HPA_REGISTER_MODULE(merge_png, Init);
