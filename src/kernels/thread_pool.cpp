// ThreadPool: n-1 persistent workers plus the calling thread.  A call publishes the job by
// bumping a generation counter; workers spin briefly on it (decode issues hundreds of small
// parallel_for calls per token, and a condition-variable wake costs tens of microseconds),
// then sleep on a condition variable so idle pools do not burn CPU.
#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/kernels.h"

namespace plumb::kernels {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();  // SSE2 baseline; tells the core this is a spin loop
#endif
}

constexpr auto kSpinBeforeSleep = std::chrono::microseconds(200);

}  // namespace

struct ThreadPool::Impl {
  int n_threads = 1;
  std::vector<std::thread> workers;
  std::mutex call_mutex;  // one parallel_for at a time
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  bool stop = false;  // guarded by mutex
  // The current job; written before generation is bumped, read after it is observed.
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0;

  void run_chunk(int index) const {
    const int64_t begin = n * index / n_threads;
    const int64_t end = n * (index + 1) / n_threads;
    if (begin < end) (*fn)(begin, end, index);
  }

  void worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t gen = generation.load(std::memory_order_acquire);
      if (gen == seen) {
        const auto spin_until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
        while ((gen = generation.load(std::memory_order_acquire)) == seen &&
               std::chrono::steady_clock::now() < spin_until) {
          for (int i = 0; i < 16; ++i) cpu_relax();
        }
        if (gen == seen) {
          std::unique_lock<std::mutex> lock(mutex);
          wake.wait(lock, [&] { return stop || generation.load(std::memory_order_acquire) != seen; });
          if (stop) return;
          gen = generation.load(std::memory_order_acquire);
        }
      }
      seen = gen;
      run_chunk(index);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : impl_(std::make_unique<Impl>()) {
  assert(n_threads >= 1);
  impl_->n_threads = n_threads < 1 ? 1 : n_threads;
  impl_->workers.reserve(static_cast<size_t>(impl_->n_threads - 1));
  for (int i = 1; i < impl_->n_threads; ++i) impl_->workers.emplace_back([this, i] { impl_->worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  for (auto& t : impl_->workers) t.join();
}

int ThreadPool::size() const { return impl_->n_threads; }

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  Impl& p = *impl_;
  if (p.n_threads == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> call_lock(p.call_mutex);
  p.fn = &fn;
  p.n = n;
  p.pending.store(p.n_threads - 1, std::memory_order_relaxed);
  {
    // Bumping under the mutex means a worker about to sleep either sees the new generation
    // in its wait predicate or is already waiting when notify_all runs.
    std::lock_guard<std::mutex> lock(p.mutex);
    p.generation.fetch_add(1, std::memory_order_release);
  }
  p.wake.notify_all();
  p.run_chunk(0);
  while (p.pending.load(std::memory_order_acquire) != 0) {
    for (int i = 0; i < 16; ++i) cpu_relax();
    std::this_thread::yield();
  }
}

}  // namespace plumb::kernels
