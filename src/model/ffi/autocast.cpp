// Mixed-precision autocast control for CUDA, which tch does not expose with a dtype.
// TorchScript files traced from Rust (or with folded constants) keep their weights as
// graph constants that Module::to(kind) cannot convert; autocast casts per operation,
// as torch.autocast does in Python.
#include <ATen/autocast_mode.h>

extern "C" {

// dtype: 0 = float16, 1 = bfloat16. Returns 0 on success.
int peakscope_autocast_enter(int dtype) {
  try {
    at::autocast::set_autocast_dtype(at::kCUDA, dtype == 1 ? at::kBFloat16 : at::kHalf);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::increment_nesting();
    return 0;
  } catch (...) {
    return -1;
  }
}

int peakscope_autocast_exit() {
  try {
    if (at::autocast::decrement_nesting() == 0) {
      at::autocast::clear_cache();
    }
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    return 0;
  } catch (...) {
    return -1;
  }
}
}
