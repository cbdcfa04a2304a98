// Synthetic-image finishing pass (src/synth/finish.ts wraps it): for one float channel, in one call,
// clamp negatives to 0, multiply by a gain, Gaussian blur (separable, edges clamped), add a
// background offset plus Gaussian noise (a 65536-entry normal quantile table indexed by 16 random
// bits per pixel), and round to 8 bits. The noise comes from xoshiro128**,
// the same generator as src/util/rng.ts, continued from (and written back to) the caller's
// 4-word state, so an image is a pure function of its seed.
//
// synthFinishChannel(channel: Float32Array, width, height, gain, blurSigma, background,
//                    noiseSigma, rngState: Uint32Array(4)) -> Uint8Array(width*height)
// `channel` is used as scratch space and left blurred.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "registry.h"
#include "validate.h"

namespace {

struct Xoshiro128 {
  uint32_t s[4];
  static uint32_t Rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  uint32_t Next() {
    const uint32_t result = Rotl(s[1] * 5u, 7) * 9u;
    const uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = Rotl(s[3], 11);
    return result;
  }
};

// Inverse standard normal CDF (Acklam's rational approximation, then one Halley step on erfc:
// accurate to ~1e-15).
double InverseNormalCdf(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  double x;
  if (p < 0.02425) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - 0.02425) {
    const double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const double q = p - 0.5;
    const double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

// 65536 equiprobable standard-normal values (the quantiles at (i + 0.5) / 65536): indexing it with
// 16 uniform random bits samples N(0, 1) to far finer than one gray level, without log/cos per pixel.
const std::vector<float>& NormalQuantiles() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (int i = 0; i < 65536; i++) t[i] = static_cast<float>(InverseNormalCdf((i + 0.5) / 65536.0));
    return t;
  }();
  return table;
}

std::vector<float> GaussianKernel(double sigma) {
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<double> k(2 * radius + 1);
  double sum = 0;
  for (int i = -radius; i <= radius; i++) sum += k[i + radius] = std::exp(-(i * i) / (2 * sigma * sigma));
  std::vector<float> out(k.size());
  for (size_t i = 0; i < k.size(); i++) out[i] = static_cast<float>(k[i] / sum);
  return out;
}

void Blur(float* img, int w, int h, double sigma) {
  const std::vector<float> k = GaussianKernel(sigma);
  const int r = static_cast<int>(k.size() - 1) / 2;
  const int taps = static_cast<int>(k.size());
  std::vector<float> tmp(static_cast<size_t>(w) * h);
  std::vector<float> line(w + 2 * r);
  for (int y = 0; y < h; y++) {
    const float* row = img + static_cast<size_t>(y) * w;
    for (int i = 0; i < w + 2 * r; i++) line[i] = row[std::min(w - 1, std::max(0, i - r))];
    // Tap-outer, pixel-inner: the inner loop vectorizes.
    float* out = tmp.data() + static_cast<size_t>(y) * w;
    std::fill(out, out + w, 0.0f);
    for (int j = 0; j < taps; j++) {
      const float kj = k[j];
      const float* src = line.data() + j;
      for (int x = 0; x < w; x++) out[x] += kj * src[x];
    }
  }
  std::vector<float> acc(w);
  for (int y = 0; y < h; y++) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int j = 0; j < taps; j++) {
      const int sy = std::min(h - 1, std::max(0, y + j - r));
      const float* src = tmp.data() + static_cast<size_t>(sy) * w;
      const float wj = k[j];
      for (int x = 0; x < w; x++) acc[x] += wj * src[x];
    }
    std::copy(acc.begin(), acc.end(), img + static_cast<size_t>(y) * w);
  }
}

Napi::Value SynthFinishChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto channel = hpa::TypedArrayArg<float>(env, hpa::Arg(info, 0), "channel", napi_float32_array, "Float32Array");
  const int64_t w = hpa::IntArg(env, hpa::Arg(info, 1), "width", 1, 1 << 16);
  const int64_t h = hpa::IntArg(env, hpa::Arg(info, 2), "height", 1, 1 << 16);
  const double gain = hpa::NumberArg(env, hpa::Arg(info, 3), "gain");
  const double blur = hpa::NumberArg(env, hpa::Arg(info, 4), "blurSigma");
  const double background = hpa::NumberArg(env, hpa::Arg(info, 5), "background");
  const double noise = hpa::NumberArg(env, hpa::Arg(info, 6), "noiseSigma");
  auto state = hpa::TypedArrayArg<uint32_t>(env, hpa::Arg(info, 7), "rngState", napi_uint32_array, "Uint32Array");
  if (static_cast<int64_t>(channel.ElementLength()) != w * h) {
    hpa::ThrowRange(env, "channel must have width*height = " + std::to_string(w * h) + " elements, got " +
                             std::to_string(channel.ElementLength()));
  }
  if (gain < 0) hpa::ThrowRange(env, "gain must be >= 0");
  if (blur < 0 || blur > 64) hpa::ThrowRange(env, "blurSigma must be in [0, 64]");
  if (noise < 0 || noise > 1000) hpa::ThrowRange(env, "noiseSigma must be in [0, 1000]");
  if (std::fabs(background) > 1000) hpa::ThrowRange(env, "background must be in [-1000, 1000]");
  if (state.ElementLength() != 4) hpa::ThrowRange(env, "rngState must have 4 elements");
  if ((state[0] | state[1] | state[2] | state[3]) == 0) hpa::ThrowRange(env, "rngState must not be all zero");

  float* img = channel.Data();
  const size_t n = static_cast<size_t>(w) * h;
  const float g = static_cast<float>(gain);
  for (size_t i = 0; i < n; i++) img[i] = img[i] > 0 ? img[i] * g : 0.0f;
  if (blur > 0) Blur(img, static_cast<int>(w), static_cast<int>(h), blur);

  Xoshiro128 rng{{state[0], state[1], state[2], state[3]}};
  auto out = Napi::Uint8Array::New(env, n);
  uint8_t* dst = out.Data();
  auto put = [&](size_t i, float v) {
    const float r = std::floor(v + 0.5f);
    dst[i] = r < 0 ? 0 : r > 255 ? 255 : static_cast<uint8_t>(r);
  };
  // Each 32-bit draw gives two 16-bit indices into the normal quantile table: two noise samples.
  const std::vector<float>& normal = NormalQuantiles();
  const float sigma = static_cast<float>(noise);
  const float offset = static_cast<float>(background);
  for (size_t i = 0; i < n; i += 2) {
    const uint32_t r = rng.Next();
    put(i, img[i] + offset + sigma * normal[r & 0xffff]);
    if (i + 1 < n) put(i + 1, img[i + 1] + offset + sigma * normal[r >> 16]);
  }
  for (int i = 0; i < 4; i++) state[i] = rng.s[i];
  return out;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("synthFinishChannel", Napi::Function::New(env, SynthFinishChannel, "synthFinishChannel"));
}

}  // namespace

HPA_REGISTER_MODULE(synth_finish, Init);
