// Fused optimizer steps over Float32Array buffers, with torch.optim 1.13's single-tensor
// semantics (float32 arithmetic, the same operation order), and global-norm gradient clipping
// (torch.nn.utils.clip_grad_norm_).
//
//   sgdStepSync(param, grad, momentumBuffer|null, lr, momentum, dampening, nesterov, weightDecay,
//               maximize, initBuffer, threads?)
//   adamwStepSync(param, grad, expAvg, expAvgSq, maxExpAvgSq|null, step, lr, beta1, beta2, eps,
//                 weightDecay, amsgrad, maximize, threads?)
//   sgdStepManySync(params[], grads[], momentumBuffers[] (entries null when momentum is 0),
//                   initBuffer[] (booleans), lr, momentum, dampening, nesterov, weightDecay,
//                   maximize, threads?): the SGD step of many parameters in one call, split over
//                   the threads in fixed blocks across all buffers (one call instead of one per
//                   parameter; same per-element arithmetic as sgdStepSync)
//   clipGradNormSync(grads[], maxNorm, normType (2 or Infinity), errorIfNonfinite, threads?) -> total norm
//   sgdStep / sgdStepMany / adamwStep / clipGradNorm: same arguments, return a Promise (void / void / number).
//
// Buffers are updated in place. Elementwise work is split statically over threads (each element
// is computed the same way whatever the split), so results do not depend on the thread count;
// the clipping norm is reduced over fixed blocks in double and combined in block order.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "async_work.h"
#include "parallel.h"
#include "registry.h"
#include "validate.h"

namespace {

constexpr int64_t kGrain = int64_t{1} << 16;  // elements per thread at least

// ---------------------------------------------------------------------------------------------
// SGD (torch.optim._single_tensor_sgd):
//   d = maximize ? -g : g;  if wd: d = d + wd * p
//   if momentum: buf = first ? d : buf * momentum + (1 - dampening) * d
//                d = nesterov ? d + momentum * buf : buf
//   p = p + (-lr) * d
struct SgdJob {
  float* p;
  const float* g;
  float* buf;  // null when momentum == 0
  int64_t n;
  float neg_lr, momentum, one_minus_damp, wd;
  bool nesterov, maximize, init;
  int threads;
};

using hpa::ParallelFor;

template <bool kMomentum, bool kNesterov, bool kInit, bool kMaximize, bool kDecay>
void SgdRange(const SgdJob& j, int64_t b, int64_t e) {
  float* __restrict p = j.p;
  const float* __restrict g = j.g;
  float* __restrict buf = j.buf;
  const float wd = j.wd, mom = j.momentum, omd = j.one_minus_damp, neg_lr = j.neg_lr;
  for (int64_t i = b; i < e; ++i) {  // branch-free body: GCC vectorizes it
    float d = kMaximize ? -g[i] : g[i];
    if (kDecay) d = d + wd * p[i];
    if (kMomentum) {
      const float m = kInit ? d : buf[i] * mom + omd * d;
      buf[i] = m;
      d = kNesterov ? d + mom * m : m;
    }
    p[i] = p[i] + neg_lr * d;
  }
}

template <bool kMomentum, bool kNesterov, bool kInit, bool kMaximize>
void SgdRange4(const SgdJob& j, int64_t b, int64_t e) {
  j.wd != 0.f ? SgdRange<kMomentum, kNesterov, kInit, kMaximize, true>(j, b, e)
              : SgdRange<kMomentum, kNesterov, kInit, kMaximize, false>(j, b, e);
}
template <bool kMomentum, bool kNesterov, bool kInit>
void SgdRange3(const SgdJob& j, int64_t b, int64_t e) {
  j.maximize ? SgdRange4<kMomentum, kNesterov, kInit, true>(j, b, e)
             : SgdRange4<kMomentum, kNesterov, kInit, false>(j, b, e);
}
template <bool kMomentum, bool kNesterov>
void SgdRange2(const SgdJob& j, int64_t b, int64_t e) {
  j.init ? SgdRange3<kMomentum, kNesterov, true>(j, b, e) : SgdRange3<kMomentum, kNesterov, false>(j, b, e);
}

void RunSgd(const SgdJob& j) {
  ParallelFor(j.n, j.threads, kGrain, [&](int64_t b, int64_t e) {
    if (!j.buf) SgdRange3<false, false, false>(j, b, e);
    else if (j.nesterov) SgdRange2<true, true>(j, b, e);
    else SgdRange2<true, false>(j, b, e);
  });
}

// Many parameters in one call: fixed blocks of kSgdBlock elements over all buffers in order,
// distributed over the threads (each element's arithmetic is the same as RunSgd's).
constexpr int64_t kSgdBlock = int64_t{1} << 15;

void RunSgdMany(const std::vector<SgdJob>& jobs, int threads) {
  struct Ref {
    int32_t job;
    int64_t begin, end;
  };
  std::vector<Ref> blocks;
  for (size_t k = 0; k < jobs.size(); ++k) {
    for (int64_t s = 0; s < jobs[k].n; s += kSgdBlock) blocks.push_back({static_cast<int32_t>(k), s, std::min(jobs[k].n, s + kSgdBlock)});
  }
  ParallelFor(static_cast<int64_t>(blocks.size()), threads, 2, [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; ++bi) {
      const Ref& r = blocks[bi];
      const SgdJob& j = jobs[r.job];
      if (!j.buf) SgdRange3<false, false, false>(j, r.begin, r.end);
      else if (j.nesterov) SgdRange2<true, true>(j, r.begin, r.end);
      else SgdRange2<true, false>(j, r.begin, r.end);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// AdamW (torch.optim._single_tensor_adamw), step already incremented:
//   p = p * (1 - lr*wd);  m = m*b1 + (1-b1)*g;  v = v*b2 + ((1-b2)*g)*g
//   vmax = max(vmax, v) (amsgrad);  denom = sqrt(v or vmax) / sqrt(1 - b2^t) + eps
//   p = p + (-lr / (1 - b1^t)) * (m / denom)
struct AdamWJob {
  float* p;
  const float* g;
  float *m, *v, *vmax;
  int64_t n;
  float decay, b1, omb1, b2, omb2, bc2_sqrt, eps, neg_step;
  bool maximize;
  int threads;
};

template <bool kAmsgrad, bool kMaximize>
void AdamWRange(const AdamWJob& j, int64_t b, int64_t e) {
  float* __restrict p = j.p;
  const float* __restrict g = j.g;
  float* __restrict m = j.m;
  float* __restrict v = j.v;
  float* __restrict vmax = j.vmax;
  int64_t i = b;
#if defined(__SSE2__)
  const __m128 decay = _mm_set1_ps(j.decay), b1 = _mm_set1_ps(j.b1), omb1 = _mm_set1_ps(j.omb1);
  const __m128 b2 = _mm_set1_ps(j.b2), omb2 = _mm_set1_ps(j.omb2), bc2 = _mm_set1_ps(j.bc2_sqrt);
  const __m128 eps = _mm_set1_ps(j.eps), neg_step = _mm_set1_ps(j.neg_step);
  const __m128 sign = _mm_set1_ps(-0.f);
  for (; i + 4 <= e; i += 4) {
    __m128 gi = _mm_loadu_ps(g + i);
    if (kMaximize) gi = _mm_xor_ps(gi, sign);
    const __m128 pi = _mm_mul_ps(_mm_loadu_ps(p + i), decay);
    const __m128 mi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i), b1), _mm_mul_ps(omb1, gi));
    __m128 vi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), b2), _mm_mul_ps(_mm_mul_ps(omb2, gi), gi));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    if (kAmsgrad) {
      vi = _mm_max_ps(_mm_loadu_ps(vmax + i), vi);
      _mm_storeu_ps(vmax + i, vi);
    }
    const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), bc2), eps);
    _mm_storeu_ps(p + i, _mm_add_ps(pi, _mm_mul_ps(neg_step, _mm_div_ps(mi, denom))));
  }
#endif
  for (; i < e; ++i) {
    const float gi = kMaximize ? -g[i] : g[i];
    const float pi = p[i] * j.decay;
    const float mi = m[i] * j.b1 + j.omb1 * gi;
    float vi = v[i] * j.b2 + (j.omb2 * gi) * gi;
    m[i] = mi;
    v[i] = vi;
    if (kAmsgrad) {
      vi = std::max(vmax[i], vi);  // torch.maximum (NaN in either propagates in torch; documented)
      vmax[i] = vi;
    }
    const float denom = std::sqrt(vi) / j.bc2_sqrt + j.eps;
    p[i] = pi + j.neg_step * (mi / denom);
  }
}

void RunAdamW(const AdamWJob& j) {
  ParallelFor(j.n, j.threads, kGrain, [&](int64_t b, int64_t e) {
    if (j.vmax) {
      j.maximize ? AdamWRange<true, true>(j, b, e) : AdamWRange<true, false>(j, b, e);
    } else {
      j.maximize ? AdamWRange<false, true>(j, b, e) : AdamWRange<false, false>(j, b, e);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// clip_grad_norm_: total = ||(||g_1||, ..., ||g_n||)|| (2-norm) or max |g| (inf-norm), computed
// from per-block partial sums in double, combined in a fixed order; coef = maxNorm / (total +
// 1e-6) in float, clamped to 1; every gradient is multiplied by coef (skipped when coef is 1).
constexpr int64_t kNormBlock = int64_t{1} << 14;

struct ClipJob {
  std::vector<float*> bufs;
  std::vector<int64_t> lens;
  float max_norm;
  bool inf_norm, error_if_nonfinite;
  int threads;
};

struct BlockRef {
  int32_t buf;
  int64_t begin, end;
};

std::vector<BlockRef> Blocks(const ClipJob& j) {
  std::vector<BlockRef> blocks;
  for (size_t b = 0; b < j.bufs.size(); ++b) {
    for (int64_t s = 0; s < j.lens[b]; s += kNormBlock) {
      blocks.push_back({static_cast<int32_t>(b), s, std::min(j.lens[b], s + kNormBlock)});
    }
  }
  return blocks;
}

double RunClip(const ClipJob& j) {
  const std::vector<BlockRef> blocks = Blocks(j);
  std::vector<double> partial(blocks.size(), 0.0);
  const int64_t nb = static_cast<int64_t>(blocks.size());
  ParallelFor(nb, j.threads, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; ++bi) {
      const BlockRef& r = blocks[bi];
      const float* __restrict g = j.bufs[r.buf];
      if (j.inf_norm) {
        float mx = 0.f;
        bool nan = false;
        for (int64_t i = r.begin; i < r.end; ++i) {
          const float a = std::fabs(g[i]);
          nan |= std::isnan(a);
          mx = a > mx ? a : mx;
        }
        partial[bi] = nan ? NAN : mx;
      } else {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t i = r.begin;
        for (; i + 4 <= r.end; i += 4) {
          s0 += static_cast<double>(g[i]) * g[i];
          s1 += static_cast<double>(g[i + 1]) * g[i + 1];
          s2 += static_cast<double>(g[i + 2]) * g[i + 2];
          s3 += static_cast<double>(g[i + 3]) * g[i + 3];
        }
        for (; i < r.end; ++i) s0 += static_cast<double>(g[i]) * g[i];
        partial[bi] = (s0 + s1) + (s2 + s3);
      }
    }
  });
  // Per-buffer norms (float, as torch.norm returns), then the norm of the norms.
  std::vector<double> per(j.bufs.size(), 0.0);
  for (int64_t bi = 0; bi < nb; ++bi) {
    double& acc = per[blocks[bi].buf];
    const double x = partial[bi];
    acc = j.inf_norm ? (std::isnan(x) || std::isnan(acc) ? NAN : std::max(acc, x)) : acc + x;
  }
  double total_d = 0;
  for (double x : per) {
    if (j.inf_norm) {
      total_d = std::isnan(x) || std::isnan(total_d) ? NAN : std::max(total_d, x);
    } else {
      const double nf = static_cast<float>(std::sqrt(x));
      total_d += nf * nf;
    }
  }
  const float total = static_cast<float>(j.inf_norm ? total_d : std::sqrt(total_d));
  if (j.error_if_nonfinite && !std::isfinite(total)) {
    throw hpa::AsyncRangeError("the total norm of the gradients is non-finite (" + std::to_string(total) +
                               "); pass errorIfNonfinite: false to clip anyway");
  }
  float coef = j.max_norm / (total + 1e-6f);
  if (coef > 1.f) coef = 1.f;  // torch.clamp(max=1.0); NaN stays NaN
  if (coef != 1.f) {
    ParallelFor(nb, j.threads, 4, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi) {
        const BlockRef& r = blocks[bi];
        float* __restrict g = j.bufs[r.buf];
        for (int64_t i = r.begin; i < r.end; ++i) g[i] *= coef;
      }
    });
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Argument parsing.

Napi::Float32Array F32(Napi::Env env, Napi::Value v, const char* name) {
  return hpa::TypedArrayArg<float>(env, v, name, napi_float32_array, "Float32Array");
}

int Threads(Napi::Env env, Napi::Value v) {
  return v.IsUndefined() ? 0 : static_cast<int>(hpa::IntArg(env, v, "threads", 0, hpa::kMaxThreads));
}

double NonNeg(Napi::Env env, Napi::Value v, const char* name) {
  const double d = hpa::NumberArg(env, v, name);
  if (d < 0) hpa::ThrowRange(env, std::string(name) + " must be >= 0, got " + std::to_string(d));
  return d;
}

double Beta(Napi::Env env, Napi::Value v, const char* name) {
  const double d = hpa::NumberArg(env, v, name);
  if (!(d >= 0 && d < 1)) hpa::ThrowRange(env, std::string(name) + " must be in [0, 1), got " + std::to_string(d));
  return d;
}

void SameLength(Napi::Env env, const Napi::Float32Array& a, const Napi::Float32Array& ref, const char* name,
                const char* ref_name) {
  if (a.ElementLength() != ref.ElementLength()) {
    hpa::ThrowRange(env, std::string(name) + " length (" + std::to_string(a.ElementLength()) + ") must equal " +
                             ref_name + " length (" + std::to_string(ref.ElementLength()) + ")");
  }
}

// Buffers that are written must not share memory with any other buffer of the call.
struct Span {
  const char* name;
  uintptr_t begin, end;
};
void NoOverlap(Napi::Env env, const std::vector<Span>& spans) {
  for (size_t a = 0; a < spans.size(); ++a) {
    for (size_t b = a + 1; b < spans.size(); ++b) {
      if (spans[a].begin < spans[b].end && spans[b].begin < spans[a].end) {
        hpa::ThrowRange(env, std::string(spans[b].name) + " must not share memory with " + spans[a].name);
      }
    }
  }
}
Span SpanOf(const char* name, const Napi::Float32Array& a) {
  const uintptr_t b = reinterpret_cast<uintptr_t>(a.Data());
  return {name, b, b + a.ElementLength() * sizeof(float)};
}

SgdJob ParseSgd(const Napi::CallbackInfo& info, hpa::KeepAlive* keep) {
  Napi::Env env = info.Env();
  Napi::Float32Array p = F32(env, hpa::Arg(info, 0), "param");
  Napi::Float32Array g = F32(env, hpa::Arg(info, 1), "grad");
  SameLength(env, g, p, "grad", "param");
  const double lr = NonNeg(env, hpa::Arg(info, 3), "lr");
  const double momentum = NonNeg(env, hpa::Arg(info, 4), "momentum");
  const double dampening = hpa::NumberArg(env, hpa::Arg(info, 5), "dampening");
  const bool nesterov = hpa::BoolArg(env, hpa::Arg(info, 6), "nesterov");
  const double wd = NonNeg(env, hpa::Arg(info, 7), "weightDecay");
  const bool maximize = hpa::BoolArg(env, hpa::Arg(info, 8), "maximize");
  const bool init = hpa::BoolArg(env, hpa::Arg(info, 9), "initBuffer");
  const int threads = Threads(env, hpa::Arg(info, 10));
  if (nesterov && (momentum <= 0 || dampening != 0)) {
    hpa::ThrowRange(env, "nesterov requires momentum > 0 and dampening 0");
  }
  SgdJob j{p.Data(), g.Data(), nullptr, static_cast<int64_t>(p.ElementLength()), static_cast<float>(-lr),
           static_cast<float>(momentum), static_cast<float>(1 - dampening), static_cast<float>(wd), nesterov,
           maximize, init, threads};
  std::vector<Span> spans{SpanOf("param", p), SpanOf("grad", g)};
  Napi::Value bv = hpa::Arg(info, 2);
  if (momentum != 0) {
    Napi::Float32Array buf = F32(env, bv, "momentumBuffer");
    SameLength(env, buf, p, "momentumBuffer", "param");
    spans.push_back(SpanOf("momentumBuffer", buf));
    j.buf = buf.Data();
    if (keep) keep->Add(buf);
  } else if (!bv.IsNull() && !bv.IsUndefined() && !bv.IsTypedArray()) {
    hpa::ThrowType(env, "momentumBuffer must be a Float32Array or null");
  }
  NoOverlap(env, spans);
  if (keep) {
    keep->Add(p);
    keep->Add(g);
  }
  return j;
}

struct SgdManyJob {
  std::vector<SgdJob> jobs;
  int threads;
};

Napi::Array ArrayArg(Napi::Env env, Napi::Value v, const char* name, uint32_t length, bool check_length) {
  if (!v.IsArray()) hpa::ThrowType(env, std::string(name) + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  if (check_length && a.Length() != length) {
    hpa::ThrowRange(env, std::string(name) + " has " + std::to_string(a.Length()) + " entries, params " + std::to_string(length));
  }
  return a;
}

SgdManyJob ParseSgdMany(const Napi::CallbackInfo& info, hpa::KeepAlive* keep) {
  Napi::Env env = info.Env();
  Napi::Array ps = ArrayArg(env, hpa::Arg(info, 0), "params", 0, false);
  const uint32_t n = ps.Length();
  Napi::Array gs = ArrayArg(env, hpa::Arg(info, 1), "grads", n, true);
  Napi::Array bs = ArrayArg(env, hpa::Arg(info, 2), "momentumBuffers", n, true);
  Napi::Array is = ArrayArg(env, hpa::Arg(info, 3), "initBuffer", n, true);
  const double lr = NonNeg(env, hpa::Arg(info, 4), "lr");
  const double momentum = NonNeg(env, hpa::Arg(info, 5), "momentum");
  const double dampening = hpa::NumberArg(env, hpa::Arg(info, 6), "dampening");
  const bool nesterov = hpa::BoolArg(env, hpa::Arg(info, 7), "nesterov");
  const double wd = NonNeg(env, hpa::Arg(info, 8), "weightDecay");
  const bool maximize = hpa::BoolArg(env, hpa::Arg(info, 9), "maximize");
  SgdManyJob out{{}, Threads(env, hpa::Arg(info, 10))};
  if (nesterov && (momentum <= 0 || dampening != 0)) {
    hpa::ThrowRange(env, "nesterov requires momentum > 0 and dampening 0");
  }
  std::vector<Span> spans;
  std::vector<std::string> names;  // Span keeps a char pointer: reserve so that it stays valid
  names.reserve(3 * static_cast<size_t>(n));
  out.jobs.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const std::string idx = "[" + std::to_string(i) + "]";
    names.push_back("params" + idx);
    Napi::Float32Array p = F32(env, ps.Get(i), names.back().c_str());
    spans.push_back(SpanOf(names.back().c_str(), p));
    names.push_back("grads" + idx);
    Napi::Float32Array g = F32(env, gs.Get(i), names.back().c_str());
    SameLength(env, g, p, names.back().c_str(), names[names.size() - 2].c_str());
    spans.push_back(SpanOf(names.back().c_str(), g));
    const bool init = hpa::BoolArg(env, is.Get(i), "initBuffer[i]");
    SgdJob j{p.Data(), g.Data(), nullptr, static_cast<int64_t>(p.ElementLength()), static_cast<float>(-lr),
             static_cast<float>(momentum), static_cast<float>(1 - dampening), static_cast<float>(wd), nesterov,
             maximize, init, out.threads};
    Napi::Value bv = bs.Get(i);
    names.push_back("momentumBuffers" + idx);
    if (momentum != 0) {
      Napi::Float32Array buf = F32(env, bv, names.back().c_str());
      SameLength(env, buf, p, names.back().c_str(), names[names.size() - 3].c_str());
      spans.push_back(SpanOf(names.back().c_str(), buf));
      j.buf = buf.Data();
      if (keep) keep->Add(buf);
    } else if (!bv.IsNull() && !bv.IsUndefined() && !bv.IsTypedArray()) {
      hpa::ThrowType(env, names.back() + " must be a Float32Array or null");
    }
    if (keep) {
      keep->Add(p);
      keep->Add(g);
    }
    out.jobs.push_back(j);
  }
  NoOverlap(env, spans);
  return out;
}

AdamWJob ParseAdamW(const Napi::CallbackInfo& info, hpa::KeepAlive* keep) {
  Napi::Env env = info.Env();
  Napi::Float32Array p = F32(env, hpa::Arg(info, 0), "param");
  Napi::Float32Array g = F32(env, hpa::Arg(info, 1), "grad");
  Napi::Float32Array m = F32(env, hpa::Arg(info, 2), "expAvg");
  Napi::Float32Array v = F32(env, hpa::Arg(info, 3), "expAvgSq");
  SameLength(env, g, p, "grad", "param");
  SameLength(env, m, p, "expAvg", "param");
  SameLength(env, v, p, "expAvgSq", "param");
  const int64_t step = hpa::IntArg(env, hpa::Arg(info, 5), "step", 1, int64_t{1} << 52);
  const double lr = NonNeg(env, hpa::Arg(info, 6), "lr");
  const double b1 = Beta(env, hpa::Arg(info, 7), "beta1");
  const double b2 = Beta(env, hpa::Arg(info, 8), "beta2");
  const double eps = NonNeg(env, hpa::Arg(info, 9), "eps");
  const double wd = NonNeg(env, hpa::Arg(info, 10), "weightDecay");
  const bool amsgrad = hpa::BoolArg(env, hpa::Arg(info, 11), "amsgrad");
  const bool maximize = hpa::BoolArg(env, hpa::Arg(info, 12), "maximize");
  const int threads = Threads(env, hpa::Arg(info, 13));
  std::vector<Span> spans{SpanOf("param", p), SpanOf("grad", g), SpanOf("expAvg", m), SpanOf("expAvgSq", v)};
  float* vmax = nullptr;
  if (amsgrad) {
    Napi::Float32Array mx = F32(env, hpa::Arg(info, 4), "maxExpAvgSq");
    SameLength(env, mx, p, "maxExpAvgSq", "param");
    spans.push_back(SpanOf("maxExpAvgSq", mx));
    vmax = mx.Data();
    if (keep) keep->Add(mx);
  }
  NoOverlap(env, spans);
  // Scalars in double as Python computes them, then float as ATen's CPU kernels use them.
  const double bc1 = 1 - std::pow(b1, static_cast<double>(step));
  const double bc2 = 1 - std::pow(b2, static_cast<double>(step));
  if (!(bc1 > 0) || !(bc2 > 0)) hpa::ThrowRange(env, "beta1 and beta2 must be > 0 (bias correction is 0)");
  AdamWJob j{p.Data(), g.Data(), m.Data(), v.Data(), vmax, static_cast<int64_t>(p.ElementLength()),
             static_cast<float>(1 - lr * wd), static_cast<float>(b1), static_cast<float>(1 - b1),
             static_cast<float>(b2), static_cast<float>(1 - b2), static_cast<float>(std::sqrt(bc2)),
             static_cast<float>(eps), static_cast<float>(-(lr / bc1)), maximize, threads};
  if (keep) {
    keep->Add(p);
    keep->Add(g);
    keep->Add(m);
    keep->Add(v);
  }
  return j;
}

ClipJob ParseClip(const Napi::CallbackInfo& info, hpa::KeepAlive* keep) {
  Napi::Env env = info.Env();
  Napi::Value gv = hpa::Arg(info, 0);
  if (!gv.IsArray()) hpa::ThrowType(env, "grads must be an array of Float32Array");
  Napi::Array arr = gv.As<Napi::Array>();
  ClipJob j;
  std::vector<Span> spans;
  std::vector<std::string> names;
  names.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    names.push_back("grads[" + std::to_string(i) + "]");
    Napi::Float32Array g = F32(env, arr.Get(i), names.back().c_str());
    j.bufs.push_back(g.Data());
    j.lens.push_back(static_cast<int64_t>(g.ElementLength()));
    spans.push_back(SpanOf(names.back().c_str(), g));
    if (keep) keep->Add(g);
  }
  j.max_norm = static_cast<float>(NonNeg(env, hpa::Arg(info, 1), "maxNorm"));
  Napi::Value nt = hpa::Arg(info, 2);
  if (!nt.IsNumber()) hpa::ThrowType(env, "normType must be a number (2 or Infinity)");
  const double ntd = nt.As<Napi::Number>().DoubleValue();
  if (ntd != 2 && ntd != INFINITY) hpa::ThrowRange(env, "normType must be 2 or Infinity, got " + std::to_string(ntd));
  j.inf_norm = ntd == INFINITY;
  j.error_if_nonfinite = hpa::BoolArg(env, hpa::Arg(info, 3), "errorIfNonfinite");
  j.threads = Threads(env, hpa::Arg(info, 4));
  NoOverlap(env, spans);
  return j;
}

Napi::Value SgdSync(const Napi::CallbackInfo& info) {
  RunSgd(ParseSgd(info, nullptr));
  return info.Env().Undefined();
}
Napi::Value SgdManySync(const Napi::CallbackInfo& info) {
  SgdManyJob j = ParseSgdMany(info, nullptr);
  RunSgdMany(j.jobs, j.threads);
  return info.Env().Undefined();
}
Napi::Value AdamWSync(const Napi::CallbackInfo& info) {
  RunAdamW(ParseAdamW(info, nullptr));
  return info.Env().Undefined();
}
Napi::Value ClipSync(const Napi::CallbackInfo& info) {
  ClipJob j = ParseClip(info, nullptr);
  try {
    return Napi::Number::New(info.Env(), RunClip(j));
  } catch (const hpa::AsyncRangeError& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  }
}

Napi::Value Done(Napi::Env env, bool&&, const hpa::KeepAlive&) { return env.Undefined(); }

Napi::Value SgdAsync(const Napi::CallbackInfo& info) {
  hpa::KeepAlive keep;
  SgdJob j = ParseSgd(info, &keep);
  return hpa::RunAsync(info.Env(), std::move(keep), [j]() { RunSgd(j); return true; }, Done);
}
Napi::Value SgdManyAsync(const Napi::CallbackInfo& info) {
  hpa::KeepAlive keep;
  SgdManyJob j = ParseSgdMany(info, &keep);
  return hpa::RunAsync(info.Env(), std::move(keep), [j = std::move(j)]() { RunSgdMany(j.jobs, j.threads); return true; }, Done);
}
Napi::Value AdamWAsync(const Napi::CallbackInfo& info) {
  hpa::KeepAlive keep;
  AdamWJob j = ParseAdamW(info, &keep);
  return hpa::RunAsync(info.Env(), std::move(keep), [j]() { RunAdamW(j); return true; }, Done);
}
Napi::Value ClipAsync(const Napi::CallbackInfo& info) {
  hpa::KeepAlive keep;
  ClipJob j = ParseClip(info, &keep);
  return hpa::RunAsync(info.Env(), std::move(keep), [j = std::move(j)]() { return RunClip(j); },
                       [](Napi::Env env, double&& total, const hpa::KeepAlive&) -> Napi::Value {
                         return Napi::Number::New(env, total);
                       });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sgdStepSync", Napi::Function::New(env, SgdSync, "sgdStepSync"));
  exports.Set("sgdStep", Napi::Function::New(env, SgdAsync, "sgdStep"));
  exports.Set("sgdStepManySync", Napi::Function::New(env, SgdManySync, "sgdStepManySync"));
  exports.Set("sgdStepMany", Napi::Function::New(env, SgdManyAsync, "sgdStepMany"));
  exports.Set("adamwStepSync", Napi::Function::New(env, AdamWSync, "adamwStepSync"));
  exports.Set("adamwStep", Napi::Function::New(env, AdamWAsync, "adamwStep"));
  exports.Set("clipGradNormSync", Napi::Function::New(env, ClipSync, "clipGradNormSync"));
  exports.Set("clipGradNorm", Napi::Function::New(env, ClipAsync, "clipGradNorm"));
}

}  // namespace

HPA_REGISTER_MODULE(optim, Init);
