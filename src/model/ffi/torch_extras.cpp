// libtorch controls that tch does not expose:
//  * CUDA autocast with a chosen dtype (fp16/bf16). TorchScript files traced from Rust (or
//    with folded constants) keep their weights as graph constants that Module::to(kind)
//    cannot convert; autocast casts per operation, as torch.autocast does in Python.
//  * TF32 for cuDNN/cuBLAS: off for strict fp32 (matches CPU to ~1e-6), on for speed.
//  * torch::jit::optimize_for_inference (freeze, fold batch norm into convolutions, ...).
#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <torch/script.h>

#include <cstring>
#include <string>

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

void peakscope_set_tf32(int allow) {
  at::globalContext().setAllowTF32CuDNN(allow != 0);
  at::globalContext().setAllowTF32CuBLAS(allow != 0);
}

// Load `in` on device (-1 = CPU, else CUDA index), freeze and optimize it for inference,
// save to `out`. Returns 0, or -1 with a message in err.
int peakscope_optimize_file(const char* in, const char* out, int device, char* err, int err_len) {
  try {
    c10::Device d = device < 0 ? c10::Device(c10::kCPU) : c10::Device(c10::kCUDA, device);
    torch::jit::Module m = torch::jit::load(std::string(in), d);
    m.eval();
    torch::jit::Module opt = torch::jit::optimize_for_inference(m);
    opt.save(std::string(out));
    return 0;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    auto nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    std::strncpy(err, msg.c_str(), err_len - 1);
    err[err_len - 1] = 0;
    return -1;
  }
}
}
