// Two-way parallelism for the alignment: this machine class has two cores, and the stages split naturally in
// two (the two videos) or into independent items. An exception in either half is rethrown in the caller, after
// both halves finished, so stage boundaries catch it as usual.
#pragma once
#include <cstddef>
#include <exception>
#include <thread>

namespace vidkompy {

// Runs a() on a second thread and b() on this one; returns when both are done.
template <class A, class B>
void run_both(A&& a, B&& b) {
  std::exception_ptr error;
  std::thread other([&] {
    try {
      a();
    } catch (...) {
      error = std::current_exception();
    }
  });
  try {
    b();
  } catch (...) {
    other.join();
    throw;
  }
  other.join();
  if (error) std::rethrow_exception(error);
}

// f(i) for i in [0, n), odd i on a second thread. Each call must write only its own results.
template <class F>
void for_each_index(size_t n, F&& f) {
  run_both([&] { for (size_t i = 1; i < n; i += 2) f(i); },
           [&] { for (size_t i = 0; i < n; i += 2) f(i); });
}

}  // namespace vidkompy
