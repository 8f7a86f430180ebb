#include "index/vector_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

namespace plumb::index {

float dot_f32(const float* a, const float* b, size_t n) {
  constexpr size_t kLanes = 16;
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (size_t j = 0; j < kLanes; ++j) s += acc[j];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void l2_normalize(float* v, size_t n) {
  const float norm = std::sqrt(dot_f32(v, v, n));
  if (norm == 0 || !std::isfinite(norm)) return;
  const float inv = 1.0f / norm;
  for (size_t i = 0; i < n; ++i) v[i] *= inv;
}

void VectorMatrix::add(int64_t id, const float* v) {
  const size_t off = data_.size();
  data_.insert(data_.end(), v, v + dim_);
  l2_normalize(data_.data() + off, dim_);
  ids_.push_back(id);
}

std::vector<std::pair<int64_t, float>> VectorMatrix::top_k(const std::vector<float>& query, size_t k) const {
  std::vector<std::pair<int64_t, float>> out;
  if (query.size() != static_cast<size_t>(dim_) || ids_.empty() || k == 0) return out;
  std::vector<float> q = query;
  l2_normalize(q.data(), q.size());
  std::vector<float> scores(ids_.size());
  for (size_t r = 0; r < ids_.size(); ++r) scores[r] = dot_f32(data_.data() + r * dim_, q.data(), dim_);
  std::vector<uint32_t> order(ids_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  k = std::min(k, order.size());
  auto better = [&](uint32_t a, uint32_t b) {
    return scores[a] != scores[b] ? scores[a] > scores[b] : ids_[a] < ids_[b];
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), better);
  for (size_t i = 0; i < k; ++i) out.emplace_back(ids_[order[i]], scores[order[i]]);
  return out;
}

std::string_view floats_as_blob(const std::vector<float>& v) {
  return std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::vector<float> blob_as_floats(std::string_view blob) {
  std::vector<float> v(blob.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), blob.data(), v.size() * sizeof(float));
  return v;
}

std::vector<std::pair<int64_t, double>> rrf_fuse(const std::vector<std::vector<int64_t>>& lists, int k) {
  std::unordered_map<int64_t, double> score;
  for (const auto& list : lists)
    for (size_t r = 0; r < list.size(); ++r) score[list[r]] += 1.0 / (k + static_cast<double>(r + 1));
  std::vector<std::pair<int64_t, double>> out(score.begin(), score.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return out;
}

}  // namespace plumb::index
