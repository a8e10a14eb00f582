// libtorch controls that tch does not expose:
//  * CUDA autocast with a chosen dtype (fp16/bf16). TorchScript files traced from Rust (or
//    with folded constants) keep their weights as graph constants that Module::to(kind)
//    cannot convert; autocast casts per operation, as torch.autocast does in Python.
//  * TF32 for cuDNN/cuBLAS: off for strict fp32 (matches CPU to ~1e-6), on for speed.
//  * torch::jit::optimize_for_inference (freeze, fold batch norm into convolutions, ...).
//  * Traced convolutions that follow this run's cuDNN switches (see below).
#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
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

static void copy_error(const std::exception& e, char* err, int err_len) {
  std::string msg = e.what();
  auto nl = msg.find('\n');
  if (nl != std::string::npos) msg = msg.substr(0, nl);
  std::strncpy(err, msg.c_str(), err_len - 1);
  err[err_len - 1] = 0;
}

// Tracing records a convolution as aten::_convolution with the tracing process's cuDNN
// switches baked in as constants (benchmark, deterministic, cudnn_enabled, allow_tf32 -- the
// last is true by default), so the traced graph ignores this process's settings: a model
// traced anywhere runs its CUDA fp32 convolutions in TF32 (~1e-3 relative error) whatever
// the caller asks. Replace each such node by aten::convolution, which reads the switches
// at run time, as a scripted model's conv1d does. Returns the number of nodes replaced.
static int follow_runtime_flags(torch::jit::Block* block, torch::jit::Graph* graph) {
  static const auto traced = c10::Symbol::fromQualString("aten::_convolution");
  static const auto runtime = c10::Symbol::fromQualString("aten::convolution");
  int replaced = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    torch::jit::Node* node = *it;
    ++it;
    for (torch::jit::Block* sub : node->blocks()) replaced += follow_runtime_flags(sub, graph);
    // _convolution(input, weight, bias, stride, padding, dilation, transposed,
    //              output_padding, groups, benchmark, deterministic, cudnn_enabled, allow_tf32)
    if (node->kind() != traced || node->inputs().size() != 13) continue;
    auto ins = node->inputs().slice(0, 9);
    torch::jit::Node* conv = graph->create(runtime, ins, 1);
    conv->copyMetadata(node);
    conv->insertBefore(node);
    conv->output()->setType(node->output()->type());
    node->output()->replaceAllUsesWith(conv->output());
    node->destroy();
    ++replaced;
  }
  return replaced;
}

// Rewrite the TorchScript file `in` so its traced convolutions follow the runtime switches
// and save it to `out`. Returns the number of convolutions rewritten (0: nothing to do and
// `out` is not written), or -1 with a message in err.
int peakscope_runtime_conv_flags(const char* in, const char* out, char* err, int err_len) {
  try {
    torch::jit::Module m = torch::jit::load(std::string(in), c10::Device(c10::kCPU));
    int replaced = 0;
    for (const torch::jit::Module& sub : m.modules()) {
      for (const torch::jit::Method& method : sub.get_methods()) {
        auto graph = method.graph();
        int n = follow_runtime_flags(graph->block(), graph.get());
        if (n > 0) torch::jit::EliminateDeadCode(graph);
        replaced += n;
      }
    }
    if (replaced > 0) m.save(std::string(out));
    return replaced;
  } catch (const std::exception& e) {
    copy_error(e, err, err_len);
    return -1;
  }
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
    copy_error(e, err, err_len);
    return -1;
  }
}
}
