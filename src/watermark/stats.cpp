// One-proportion z-test and exact binomial tail for the detector.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "plumb/watermark.h"

namespace plumb {

double watermark_z(int64_t green, int64_t scored, double gamma) {
  const auto t = static_cast<double>(scored);
  return (static_cast<double>(green) - gamma * t) / std::sqrt(t * gamma * (1.0 - gamma));
}

double normal_upper_tail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

namespace {

double log_pmf(int64_t k, int64_t n, double p) {
  const auto kd = static_cast<double>(k), nd = static_cast<double>(n);
  return std::lgamma(nd + 1) - std::lgamma(kd + 1) - std::lgamma(nd - kd + 1) + kd * std::log(p) +
         (nd - kd) * std::log1p(-p);
}

}  // namespace

double binomial_upper_tail(int64_t s, int64_t n, double p) {
  if (s <= 0) return 1.0;
  if (s > n) return 0.0;
  const double odds = p / (1.0 - p);
  if (static_cast<double>(s) >= p * static_cast<double>(n)) {
    // Terms decrease from k = s upward: sum them relative to the first.
    double rel = 1.0, term = 1.0;
    for (int64_t k = s; k < n; ++k) {
      term *= static_cast<double>(n - k) / static_cast<double>(k + 1) * odds;
      rel += term;
      if (term < rel * 1e-17) break;
    }
    return std::min(1.0, std::exp(log_pmf(s, n, p)) * rel);
  }
  // Below the mean: 1 - P(X <= s - 1), terms decreasing from k = s - 1 downward.
  double rel = 1.0, term = 1.0;
  for (int64_t k = s - 1; k > 0; --k) {
    term *= static_cast<double>(k) / static_cast<double>(n - k + 1) / odds;
    rel += term;
    if (term < rel * 1e-17) break;
  }
  return std::max(0.0, 1.0 - std::exp(log_pmf(s - 1, n, p)) * rel);
}

}  // namespace plumb
