// Exact cosine search over an in-memory matrix of unit vectors, and reciprocal-rank fusion.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace plumb::index {

// Row-major [rows x dim] matrix of L2-normalised float32 vectors with their chunk ids.
class VectorMatrix {
 public:
  explicit VectorMatrix(int dim = 0) : dim_(dim) {}
  int dim() const { return dim_; }
  size_t rows() const { return ids_.size(); }
  // Appends a vector (normalised on the way in).  REQUIRES: v.size() == dim().
  void add(int64_t id, const float* v);
  // The `k` best (id, cosine) pairs for `query` (any norm), best first.
  std::vector<std::pair<int64_t, float>> top_k(const std::vector<float>& query, size_t k) const;

 private:
  int dim_;
  std::vector<int64_t> ids_;
  std::vector<float> data_;
};

// Dot product; written with independent accumulators so -O3 vectorises it without -ffast-math.
float dot_f32(const float* a, const float* b, size_t n);
// In place; leaves an all-zero vector unchanged.
void l2_normalize(float* v, size_t n);

// Float32 <-> BLOB (native byte order, which is little-endian on every platform we build for).
std::string_view floats_as_blob(const std::vector<float>& v);
std::vector<float> blob_as_floats(std::string_view blob);

// Reciprocal-rank fusion of ranked id lists: score(id) = sum over lists of 1 / (k + rank),
// rank 1-based.  Returns (id, score), best first; ties broken by smaller id.
std::vector<std::pair<int64_t, double>> rrf_fuse(const std::vector<std::vector<int64_t>>& lists, int k);

}  // namespace plumb::index
