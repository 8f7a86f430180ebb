// Documents index: indexing throughput (MB/s of text) and query latency p50/p99 over a
// generated corpus of >= 100k chunks.
//
//   cmake -S . -B build-index -G Ninja -DPLUMB_BENCH=ON && cmake --build build-index --target index_bench
//   build-index/bench/index_bench                       # 100k chunks (PLUMB_INDEX_BENCH_CHUNKS to change)
//
// The corpus: 1000 text files of paragraphs of 90 words drawn from a Zipf-distributed synthetic
// vocabulary of 30k words; with --chunk-tokens 100 every paragraph is one chunk.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <ctime>

#include <unistd.h>

#include "index/vector_search.h"
#include "plumb/doc_index.h"

namespace {

namespace fs = std::filesystem;
namespace ix = plumb::index;

// CPU seconds of this thread: on a shared machine, wall time mostly measures the neighbours.
double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

constexpr int kVocab = 30000;
constexpr int kWordsPerPara = 90;
constexpr int kFiles = 1000;

std::string word(int i) {
  // Pronounceable, distinct: base-20 digits mapped to syllables.
  static const char* syl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po",
                              "da", "fe", "gi", "ho", "ju", "ba", "ce", "wi", "xo", "ya"};
  std::string w;
  do {
    w += syl[i % 20];
    i /= 20;
  } while (i > 0);
  return w;
}

struct Corpus {
  fs::path dir;
  std::string db;
  int64_t chunks_target = 0;
  double bytes = 0;
  std::vector<std::string> vocab;
  std::discrete_distribution<int> zipf;
};

bool g_corpus_made = false;

Corpus& corpus() {
  g_corpus_made = true;
  static Corpus c = [] {
    Corpus c;
    const char* env = std::getenv("PLUMB_INDEX_BENCH_CHUNKS");
    c.chunks_target = env ? std::atoll(env) : 100000;
    c.dir = fs::temp_directory_path() / ("plumb-index-bench-" + std::to_string(getpid()));
    fs::remove_all(c.dir);
    fs::create_directories(c.dir / "docs");
    c.db = (c.dir / "bench.db").string();
    for (int i = 0; i < kVocab; ++i) c.vocab.push_back(word(i));
    std::vector<double> w(kVocab);
    for (int i = 0; i < kVocab; ++i) w[i] = 1.0 / (i + 1);
    c.zipf = std::discrete_distribution<int>(w.begin(), w.end());
    std::mt19937 rng(42);
    const int64_t paras_per_file = (c.chunks_target + kFiles - 1) / kFiles;
    for (int f = 0; f < kFiles; ++f) {
      std::string text;
      for (int64_t p = 0; p < paras_per_file; ++p) {
        for (int k = 0; k < kWordsPerPara; ++k) {
          text += c.vocab[c.zipf(rng)];
          text += k + 1 < kWordsPerPara ? (k % 15 == 14 ? "\n" : " ") : "\n\n";
        }
      }
      std::ofstream(c.dir / "docs" / ("doc" + std::to_string(f) + ".txt")) << text;
      c.bytes += static_cast<double>(text.size());
    }
    return c;
  }();
  return c;
}

void BM_IndexAdd(benchmark::State& state) {
  Corpus& c = corpus();
  for (auto _ : state) {
    fs::remove(c.db);
    fs::remove(c.db + "-wal");
    fs::remove(c.db + "-shm");
    auto idx = ix::DocIndex::open(c.db);
    if (!idx.ok()) { state.SkipWithError(idx.status().to_string().c_str()); return; }
    ix::AddOptions o;
    o.chunking.chunk_tokens = 100;
    o.chunking.overlap_tokens = 10;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu_s();
    auto r = (*idx)->add({(c.dir / "docs").string()}, o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = thread_cpu_s() - c0;
    if (!r.ok()) { state.SkipWithError(r.status().to_string().c_str()); return; }
    state.counters["chunks"] = static_cast<double>(r->chunks_written);
    state.counters["MB"] = c.bytes / 1e6;
    state.counters["MB_per_s"] = c.bytes / 1e6 / s;
    state.counters["MB_per_cpu_s"] = c.bytes / 1e6 / cpu;
    state.counters["chunks_per_s"] = r->chunks_written / s;
  }
}
BENCHMARK(BM_IndexAdd)->Iterations(1)->Unit(benchmark::kSecond);

void BM_IndexAddUnchanged(benchmark::State& state) {
  Corpus& c = corpus();
  auto idx = ix::DocIndex::open(c.db);
  ix::AddOptions o;
  o.chunking.chunk_tokens = 100;
  o.chunking.overlap_tokens = 10;
  for (auto _ : state) {
    auto r = (*idx)->add({(c.dir / "docs").string()}, o);
    if (!r.ok() || r->files_read != 0) { state.SkipWithError("unchanged re-run read files"); return; }
  }
  state.counters["files"] = kFiles;
}
BENCHMARK(BM_IndexAddUnchanged)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_Query(benchmark::State& state) {
  Corpus& c = corpus();
  auto idx = ix::DocIndex::open(c.db);
  auto st = (*idx)->stats();
  std::mt19937 rng(7);
  // Natural-language-ish queries: 2-5 words from the whole frequency range, plus stop words.
  std::uniform_int_distribution<int> nwords(2, 5), any(0, 5000);
  std::vector<std::string> queries;
  for (int i = 0; i < 1000; ++i) {
    std::string q = "what about";
    for (int k = nwords(rng); k > 0; --k) q += " " + c.vocab[k % 2 ? any(rng) : c.zipf(rng)];
    queries.push_back(q + "?");
  }
  std::vector<double> lat, cpu;
  for (auto _ : state) {
    lat.clear();
    cpu.clear();
    for (const auto& q : queries) {
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = thread_cpu_s();
      auto r = (*idx)->query(q, ix::QueryOptions{.k = 5});
      cpu.push_back((thread_cpu_s() - c0) * 1e3);
      lat.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!r.ok()) { state.SkipWithError(r.status().to_string().c_str()); return; }
      benchmark::DoNotOptimize(r);
    }
  }
  std::sort(lat.begin(), lat.end());
  std::sort(cpu.begin(), cpu.end());
  state.counters["p50_cpu_ms"] = cpu[cpu.size() / 2];
  state.counters["p99_cpu_ms"] = cpu[cpu.size() * 99 / 100];
  state.counters["chunks"] = static_cast<double>(st->chunks);
  state.counters["p50_ms"] = lat[lat.size() / 2];
  state.counters["p99_ms"] = lat[lat.size() * 99 / 100];
  state.counters["queries"] = static_cast<double>(lat.size());
}
BENCHMARK(BM_Query)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_CosineTop10(benchmark::State& state) {
  // Exact vector search per query (the hybrid mode's cost): 100k x 384 float32 unit vectors.
  const int rows = 100000, dim = 384;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  ix::VectorMatrix m(dim);
  std::vector<float> v(dim), q(dim);
  for (int r = 0; r < rows; ++r) {
    for (auto& x : v) x = nd(rng);
    m.add(r, v.data());
  }
  for (auto& x : q) x = nd(rng);
  for (auto _ : state) benchmark::DoNotOptimize(m.top_k(q, 10));
  state.counters["GB_per_s"] = benchmark::Counter(double(rows) * dim * 4, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CosineTop10)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  if (g_corpus_made) fs::remove_all(corpus().dir, ec);
  return 0;
}
