// Fast exact in-silico saturation mutagenesis (fastISM, Nair et al. 2022) for TorchScript
// modules.
//
// The module is frozen and its forward graph walked once. Every top-level node is one of
//  * static: depends only on constants (weights, int lists, shape queries along C or L);
//  * a prefix step: a position-local operation on (N, C, L) tensors that derive from the
//    input: 1-D convolution, max/average pooling, constant padding, slicing along L,
//    element-wise activations and arithmetic, batch norm, dropout in eval, channel concat;
//  * global: anything else (flatten, linear, global pooling, attention, control flow, ...)
//    and everything downstream of it.
// For every input position p and every prefix tensor, the interval of output positions a
// substitution at p can change is propagated through the steps (receptive fields, strides,
// pooling and cropping boundaries included). Each tensor gets a fixed window width (the
// widest interval) and, per p, a window start inside the tensor.
//
// For a set of references, the prefix runs once over whole tensors (`prepare`), keeping each
// input a step reads padded with the value the step's own padding supplies (0 for
// convolutions, -inf for max-pooling, the pad value for constant padding). For a batch of
// mutants (`run`), each step then runs on windows only: its input window is read from the
// padded reference with the mutant's own window of that input spliced in, and the step runs
// without padding, so windows at the sequence ends see exactly the padding the full tensor
// sees. Windows are kept channels-last, (N, L, C), so that reading rows of a reference, a
// convolution (im2col + one GEMM) and pooling (strided maxima) touch contiguous channel
// vectors; element-wise operations see (N, C, L) views of them. The tensors that global nodes read (the cut) are the references with the windows
// written in, and the rest of the model is a second TorchScript method of the frozen module
// (`peakscope_suffix`, the forward graph with the prefix replaced by inputs), so the caller
// gets the same output value (tensor, tuple or dict) that forward on the mutants returns.
#include <ATen/ATen.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/remove_mutation.h>
#include <torch/csrc/jit/runtime/operator.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using torch::jit::Node;
using torch::jit::Value;
using torch::indexing::Slice;

struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// How output position j of a step reads one input: positions a + j*s + t for t in
// [0, span), with `fill` outside the input.
struct ReadMap {
  int64_t a = 0, s = 1, span = 1;
  double fill = 0.0;
};

enum class Op { Conv, MaxPool, AvgPool, Affine, Resample, Generic, Cat };

// How a step's read of one input is materialised for a batch of mutants.
enum class Mode {
  Direct,   // the input's own window is exactly the read window
  Full,     // the input's window is the whole tensor: pad it and cut the read window out
  General,  // reference window with the input's window spliced in
};

struct Read {
  int src = -1;  // index of the positional value read
  ReadMap map;
  int64_t pl = 0, pr = 0, wn = 0;  // padding of the reference copy, read width
  Mode mode = Mode::General;
  bool const_start = false;
  int64_t start0 = 0;
  at::Tensor start_t;  // (L0,) read start in padded coordinates, per mutated position
  at::Tensor off_t;    // (L0,) where the input's window starts inside the read window
  std::vector<int64_t> off;  // the same, on the host
  at::Tensor arange;   // (wn,)
  int refs_slot = -1;  // index of the padded reference kept by `prepare`
};

struct Arg {
  int read = -1;  // >= 0: a positional input, materialised by reads[read]
  c10::IValue value;
};

enum class ConvFn { Conv1d, Convolution, UnderscoreConvolution };

struct Step {
  Op op = Op::Generic;
  int out = -1;
  std::string label;
  std::vector<Arg> args;   // Generic: the node's inputs in order
  std::vector<Read> reads;
  // convolution
  ConvFn conv_fn = ConvFn::Convolution;
  at::Tensor weight;
  at::Tensor wt;  // groups == 1: (K*Cin, Cout), rows in (tap, channel) order, for im2col
  at::Tensor wo;  // groups == 1: (Cin, K*Cout), for summing taps on the output
  // groups == 1: which of the two GEMM formulations runs (0: by cost, 1: im2col, 2: taps
  // summed on the output). Fixed per step from the window geometry, so that `prepare` (whole
  // tensors) and `run` (windows) compute every output position with the same arithmetic.
  int form = 0;
  c10::optional<at::Tensor> bias;
  // batch norm in eval: y = x * scale + shift per channel
  at::Tensor scale, shift;
  int64_t stride = 1, dilation = 1, groups = 1;
  bool benchmark = false, deterministic = false, cudnn_enabled = true, allow_tf32 = true;
  // pooling
  int64_t kernel = 1;
  at::Tensor divisor;  // average pooling: the divisor per output position, when not all k
  // resample
  int64_t step = 1;
  mutable torch::jit::Operation operation = nullptr;
  int64_t macs_per_position = 0;
};

struct PosVal {
  Value* v = nullptr;
  int64_t channels = 0, length = 0, width = 1;
  std::vector<int64_t> lo, hi, start;  // per mutated position
  at::Tensor start_t;
  std::string name;
};

struct Plan {
  torch::jit::Module frozen;
  int64_t L0 = 0;
  c10::Device device = c10::Device(c10::kCPU);
  std::vector<PosVal> vals;
  std::vector<Step> steps;
  std::vector<int> cuts;  // positional values passed to peakscope_suffix, in order
  std::vector<Read> cut_reads;  // how each cut is spliced into its whole reference
  int n_ref_slots = 0;
  std::string summary, details;
  int64_t bytes_per_mutant = 0;
};

// A padded reference, rows (R * Lp, C), followed by room for a batch's windows of the same
// tensor, so that one row gather reads reference and window rows alike.
struct Buffer {
  at::Tensor rows;
  int64_t base = 0;  // R * Lp
  int64_t lp = 0;    // padded length
};

struct Refs {
  int64_t n = 0;
  at::TensorOptions input_options;  // dtype and device of the references (the mutant column)
  std::vector<Buffer> padded;       // by Read::refs_slot
  std::vector<Buffer> full;         // by position in Plan::cuts
};

// ---------------------------------------------------------------------------------------
// graph analysis

// ShapeList: `x.shape` of a positional tensor, whose entries 1 and 2 are constants and
// entry 0 is the batch size.
enum class Kind { Static, Pos, PosList, ShapeList, Global };

struct Analysis {
  Plan& plan;
  std::unordered_map<Value*, Kind> kind;
  std::unordered_map<Value*, c10::IValue> val;  // static values and reference (dummy) values
  std::unordered_map<Value*, int> pos_index;
  std::unordered_map<Node*, int> step_of;
  std::string first_global;  // the first node that ends the prefix, for the summary

  explicit Analysis(Plan& p) : plan(p) {}

  Kind kind_of(Value* v) {
    auto it = kind.find(v);
    return it == kind.end() ? Kind::Global : it->second;
  }
};

std::string node_name(Node* n) {
  std::string k = n->kind().toQualString();
  if (k.rfind("aten::", 0) == 0) k = k.substr(6);
  return k;
}

std::string where(Node* n) {
  std::ostringstream os;
  os << node_name(n);
  if (n->outputs().size() == 1) os << " (%" << n->output()->debugName() << ")";
  return os.str();
}

bool is_int_list_or_int(const c10::IValue& v) { return v.isInt() || v.isIntList(); }

int64_t single(const c10::IValue& v, const char* what, int64_t dflt) {
  if (v.isNone()) return dflt;
  if (v.isInt()) return v.toInt();
  if (v.isIntList()) {
    auto l = v.toIntVector();
    if (l.empty()) return dflt;
    if (l.size() != 1) throw Unsupported(std::string(what) + " has " + std::to_string(l.size()) + " entries (not 1-D)");
    return l[0];
  }
  throw Unsupported(std::string(what) + " is not an int");
}

bool is_3d_batch1(const c10::IValue& v) {
  if (!v.isTensor()) return false;
  const auto& t = v.toTensor();
  return t.dim() == 3 && t.size(0) == 1;
}

// A static tensor used by a position-local operation must not vary along the length axis
// (it broadcasts over positions): 0-d, or last dimension 1.
bool position_free(const at::Tensor& t) { return t.dim() == 0 || (t.dim() <= 3 && t.size(-1) == 1); }

const std::set<std::string>& elementwise_ops() {
  static const std::set<std::string> ops = {
      "aten::relu", "aten::relu6", "aten::gelu", "aten::sigmoid", "aten::tanh", "aten::silu", "aten::mish", "aten::elu",
      "aten::selu", "aten::celu", "aten::leaky_relu", "aten::hardtanh", "aten::hardswish", "aten::hardsigmoid",
      "aten::softplus", "aten::threshold", "aten::exp", "aten::log", "aten::log1p", "aten::expm1", "aten::sqrt",
      "aten::rsqrt", "aten::abs", "aten::neg", "aten::reciprocal", "aten::square", "aten::sin", "aten::cos",
      "aten::erf", "aten::erfc", "aten::sign", "aten::clamp", "aten::clamp_min", "aten::clamp_max", "aten::pow",
      "aten::nan_to_num", "aten::logit", "aten::contiguous", "aten::clone", "aten::detach", "aten::to",
      "aten::type_as", "aten::add", "aten::sub", "aten::rsub", "aten::mul", "aten::div", "aten::maximum",
      "aten::minimum", "aten::where", "aten::masked_fill", "aten::lerp", "aten::addcmul", "aten::addcdiv",
      "aten::remainder", "aten::fmod", "aten::floor", "aten::ceil", "aten::round", "aten::eq", "aten::ne",
      "aten::gt", "aten::ge", "aten::lt", "aten::le", "aten::logical_not", "aten::logical_and", "aten::logical_or",
      "aten::batch_norm", "aten::prelu", "aten::dropout", "aten::feature_dropout", "aten::alpha_dropout",
      "aten::feature_alpha_dropout", "aten::softmax", "aten::log_softmax", "aten::glu", "aten::slice",
      "aten::narrow", "aten::repeat"};
  return ops;
}

// ---------------------------------------------------------------------------------------
// applying a step to channels-last windows (or, in `prepare`, to whole tensors)

at::Tensor ncl(const at::Tensor& nlc) { return nlc.permute({0, 2, 1}); }

// Output positions `w` of a read of width `wn`.
int64_t out_width(const ReadMap& m, int64_t wn) { return (wn - m.span) / m.s + 1; }

// Input rows a + t*d + j*s for j < w, for tap t: a strided (N, w, C) view.
at::Tensor tap(const at::Tensor& x, int64_t t, int64_t d, int64_t s, int64_t w) {
  return x.slice(1, t * d, t * d + (w - 1) * s + 1, s);
}

// Two GEMM formulations of a convolution with the same products: im2col on the input
// (copies w*K*Cin values per mutant, GEMM over w rows) or taps summed on the output (GEMM
// over wn rows into K*Cout columns, then a strided sum of w*K*Cout values). True when the
// second is cheaper for w output positions read from wn input positions.
bool conv_out_side(int64_t k, int64_t cin, int64_t cout, int64_t w, int64_t wn) {
  const double copy = 32.0;
  double in_side = double(w) * k * cin * (cout + copy);
  double out_side = double(wn) * k * cin * cout + double(w) * k * cout * copy;
  return k > 1 && out_side < in_side;
}

// `in`: (N, wn, C) windows, one per read. `divisor`: (N or 1, w, 1) or undefined.
// `native`: convolutions through the module's own convolution operator (oneDNN, cuDNN) rather
// than the step's GEMM formulation: what whole references run with when their outputs are
// reported themselves (variant REF windows): faster on whole sequences, and the arithmetic
// the naive forward uses.
at::Tensor apply(const Step& st, std::vector<at::Tensor>& in, const at::Tensor& divisor, bool native = false) {
  switch (st.op) {
    case Op::Conv: {
      const at::Tensor& x = in[0];
      int64_t n = x.size(0), w = out_width(st.reads[0].map, x.size(1));
      if (st.wt.defined() && !native) {
        int64_t k = st.weight.size(2), cin = x.size(2), cout = st.weight.size(0), wn = x.size(1);
        if (k > 1 && (st.form == 2 || (st.form == 0 && conv_out_side(k, cin, cout, w, wn)))) {
          auto z = at::mm(x.reshape({n * wn, cin}), st.wo);  // (n*wn, K*Cout)
          auto taps = z.as_strided({n, w, k, cout}, {wn * k * cout, st.stride * k * cout, st.dilation * k * cout + cout, 1});
          auto y = taps.sum(2);
          if (st.bias) y.add_(*st.bias);
          return y;
        }
        at::Tensor cols;
        if (k == 1) {
          cols = tap(x, 0, 1, st.stride, w).reshape({n * w, cin});
        } else {
          // (N, w, C, span) -> (N, w, span, C), taps every `dilation`
          auto u = x.unfold(1, st.reads[0].map.span, st.stride).permute({0, 1, 3, 2});
          if (st.dilation > 1) u = u.slice(2, 0, st.reads[0].map.span, st.dilation);
          cols = u.reshape({n * w, k * cin});
        }
        auto y = st.bias ? at::addmm(*st.bias, cols, st.wt) : at::mm(cols, st.wt);
        return y.view({n, w, cout});
      }
      std::vector<int64_t> stride{st.stride}, pad{0}, dil{st.dilation}, opad{0};
      at::Tensor y;
      switch (st.conv_fn) {
        case ConvFn::Conv1d:
          y = at::conv1d(ncl(x), st.weight, st.bias, stride, pad, dil, st.groups);
          break;
        case ConvFn::Convolution:
          y = at::convolution(ncl(x), st.weight, st.bias, stride, pad, dil, false, opad, st.groups);
          break;
        case ConvFn::UnderscoreConvolution:
          y = at::_convolution(ncl(x), st.weight, st.bias, stride, pad, dil, false, opad, st.groups, st.benchmark,
                               st.deterministic, st.cudnn_enabled, st.allow_tf32);
          break;
      }
      return ncl(y);
    }
    case Op::MaxPool:
    case Op::AvgPool: {
      const at::Tensor& x = in[0];
      const ReadMap& m = st.reads[0].map;
      int64_t w = out_width(m, x.size(1));
      at::Tensor y;
      if (st.op == Op::MaxPool && st.kernel > 8) {
        y = std::get<0>(x.unfold(1, m.span, m.s).slice(3, 0, m.span, st.dilation).max(3));
      } else {
        y = tap(x, 0, st.dilation, m.s, w);
        for (int64_t t = 1; t < st.kernel; ++t) {
          auto v = tap(x, t, st.dilation, m.s, w);
          y = st.op == Op::MaxPool ? at::maximum(y, v) : y + v;
        }
        if (st.op == Op::AvgPool) {
          // summed in window order and divided, as PyTorch's pooling kernels do
          y = divisor.defined() ? y / divisor.to(y.scalar_type()) : y / double(st.kernel);
        } else if (st.kernel == 1) {
          y = y.clone();
        }
      }
      return y;
    }
    case Op::Affine:
      return at::addcmul(st.shift.to(in[0].scalar_type()), in[0], st.scale.to(in[0].scalar_type()));
    case Op::Resample:
      if (st.step == 1) return in[0];
      return in[0].slice(1, 0, in[0].size(1), st.step);
    case Op::Cat:
      return at::cat(in, 2);
    case Op::Generic: {
      torch::jit::Stack stack;
      for (const auto& a : st.args) {
        if (a.read >= 0)
          stack.emplace_back(ncl(in[a.read]));
        else
          stack.push_back(a.value);
      }
      st.operation(stack);
      return ncl(stack.back().toTensor());
    }
  }
  throw std::runtime_error("unknown step");
}

// ---------------------------------------------------------------------------------------
// building a step from a node

struct Built {
  Step step;
  std::vector<Value*> pos_inputs;  // one per read, in read order
};

// The value of a static input, or throw.
c10::IValue static_value(Analysis& an, Value* v, const char* what) {
  if (an.kind_of(v) != Kind::Static) throw Unsupported(std::string(what) + " depends on the input");
  return an.val.at(v);
}

void add_read(Built& b, Value* src, ReadMap m) {
  Read r;
  r.map = m;
  b.step.reads.push_back(r);
  b.pos_inputs.push_back(src);
}

Built build_conv(Analysis& an, Node* n) {
  Built b;
  Step& st = b.step;
  st.op = Op::Conv;
  std::string k = n->kind().toQualString();
  auto ins = n->inputs();
  if (an.kind_of(ins[0]) != Kind::Pos) throw Unsupported("convolution input is not a positional tensor");
  for (size_t i = 1; i < ins.size(); ++i)
    if (an.kind_of(ins[i]) != Kind::Static) throw Unsupported("convolution weights depend on the input");
  auto w = an.val.at(ins[1]);
  if (!w.isTensor() || w.toTensor().dim() != 3) throw Unsupported("not a 1-D convolution (weight is not 3-D)");
  st.weight = w.toTensor();
  auto bias = an.val.at(ins[2]);
  if (bias.isTensor()) st.bias = bias.toTensor();
  st.stride = single(an.val.at(ins[3]), "stride", 1);
  auto padv = an.val.at(ins[4]);
  int64_t kernel = st.weight.size(2);
  int64_t pad_left = 0;
  if (k == "aten::conv1d" || k == "aten::_convolution_mode") {
    st.conv_fn = ConvFn::Conv1d;
    st.dilation = single(an.val.at(ins[5]), "dilation", 1);
    st.groups = an.val.at(ins[6]).toInt();
    if (padv.isString()) {
      auto mode = padv.toStringRef();
      if (mode == "valid") {
        pad_left = 0;
      } else if (mode == "same") {
        pad_left = st.dilation * (kernel - 1) / 2;
      } else {
        throw Unsupported("convolution padding '" + mode + "'");
      }
    } else {
      pad_left = single(padv, "padding", 0);
    }
  } else {
    if (!is_int_list_or_int(padv)) throw Unsupported("convolution padding is not an int list");
    pad_left = single(padv, "padding", 0);
    st.dilation = single(an.val.at(ins[5]), "dilation", 1);
    if (an.val.at(ins[6]).toBool()) throw Unsupported("transposed convolution");
    st.groups = an.val.at(ins[8]).toInt();
    if (k == "aten::_convolution") {
      st.conv_fn = ConvFn::UnderscoreConvolution;
      st.benchmark = an.val.at(ins[9]).toBool();
      st.deterministic = an.val.at(ins[10]).toBool();
      st.cudnn_enabled = an.val.at(ins[11]).toBool();
      st.allow_tf32 = ins.size() > 12 ? an.val.at(ins[12]).toBool() : true;
    } else {
      st.conv_fn = ConvFn::Convolution;
    }
  }
  if (st.stride < 1 || st.dilation < 1 || pad_left < 0) throw Unsupported("convolution with unusual stride/dilation/padding");
  ReadMap m;
  m.a = -pad_left;
  m.s = st.stride;
  m.span = st.dilation * (kernel - 1) + 1;
  m.fill = 0.0;
  add_read(b, ins[0], m);
  if (st.groups == 1) {
    // GEMM weights: (K*Cin, Cout) rows in (tap, channel) order; (Cin, K*Cout)
    st.wt = st.weight.permute({2, 1, 0}).reshape({kernel * st.weight.size(1), st.weight.size(0)}).contiguous();
    st.wo = st.weight.permute({1, 2, 0}).reshape({st.weight.size(1), kernel * st.weight.size(0)}).contiguous();
  }
  st.macs_per_position = st.weight.size(0) * st.weight.size(1) * kernel;
  std::ostringstream os;
  os << "conv " << st.weight.size(1) * st.groups << "->" << st.weight.size(0) << " k" << kernel;
  if (st.stride != 1) os << " s" << st.stride;
  if (st.dilation != 1) os << " d" << st.dilation;
  if (st.groups != 1) os << " g" << st.groups;
  if (pad_left != 0) os << " pad" << pad_left;
  st.label = os.str();
  return b;
}

Built build_pool(Analysis& an, Node* n, bool max) {
  Built b;
  Step& st = b.step;
  st.op = max ? Op::MaxPool : Op::AvgPool;
  auto ins = n->inputs();
  if (an.kind_of(ins[0]) != Kind::Pos) throw Unsupported("pooling input is not a positional tensor");
  for (size_t i = 1; i < ins.size(); ++i)
    if (an.kind_of(ins[i]) != Kind::Static) throw Unsupported("pooling parameters depend on the input");
  st.kernel = single(an.val.at(ins[1]), "kernel_size", 1);
  st.stride = single(an.val.at(ins[2]), "stride", st.kernel);
  int64_t pad = single(an.val.at(ins[3]), "padding", 0);
  ReadMap m;
  m.a = -pad;
  m.s = st.stride;
  if (max) {
    st.dilation = single(an.val.at(ins[4]), "dilation", 1);
    m.span = st.dilation * (st.kernel - 1) + 1;
    m.fill = -std::numeric_limits<double>::infinity();
  } else {
    st.dilation = 1;
    m.span = st.kernel;
    m.fill = 0.0;
  }
  if (st.kernel < 1 || st.stride < 1 || pad < 0) throw Unsupported("pooling with unusual kernel/stride/padding");
  add_read(b, ins[0], m);
  std::ostringstream os;
  os << (max ? "max_pool" : "avg_pool") << " k" << st.kernel << " s" << st.stride;
  if (pad) os << " pad" << pad;
  if (st.dilation != 1) os << " d" << st.dilation;
  st.label = os.str();
  return b;
}

// Average pooling divides by the number of positions each window holds (padding included
// or not, windows cut by ceil mode): the windowed computation divides by k unless told.
at::Tensor avg_divisor(Node* n, Analysis& an, int64_t L, int64_t Lout) {
  auto ins = n->inputs();
  int64_t k = single(an.val.at(ins[1]), "kernel_size", 1);
  int64_t s = single(an.val.at(ins[2]), "stride", k);
  int64_t pad = single(an.val.at(ins[3]), "padding", 0);
  bool include_pad = an.val.at(ins[5]).toBool();
  std::vector<double> f(Lout);
  bool any = false;
  for (int64_t j = 0; j < Lout; ++j) {
    int64_t h0 = j * s - pad;
    int64_t h1 = std::min(h0 + k, L + pad);
    int64_t pool = h1 - h0;
    h0 = std::max<int64_t>(h0, 0);
    h1 = std::min(h1, L);
    int64_t d = include_pad ? pool : (h1 - h0);
    f[j] = d > 0 ? double(d) : 1.0;  // no position: a sum of padding, 0
    if (d != k) any = true;
  }
  if (!any) return at::Tensor();
  return at::tensor(f, at::kDouble).to(at::kFloat);
}

int64_t norm_dim(int64_t d) { return d < 0 ? d + 3 : d; }

Built build_resample(Analysis& an, Node* n, const std::string& k, int64_t Lin, int64_t Lout) {
  Built b;
  Step& st = b.step;
  st.op = Op::Resample;
  auto ins = n->inputs();
  for (size_t i = 1; i < ins.size(); ++i)
    if (an.kind_of(ins[i]) != Kind::Static) throw Unsupported("slice/pad bounds depend on the input");
  ReadMap m;
  std::ostringstream os;
  if (k == "aten::slice" || k == "aten::narrow") {
    int64_t start = 0;
    if (k == "aten::slice") {
      auto sv = an.val.at(ins[2]);
      start = sv.isNone() ? 0 : sv.toInt();
      st.step = an.val.at(ins[4]).toInt();
    } else {
      auto sv = an.val.at(ins[2]);
      if (!sv.isInt()) throw Unsupported("narrow with a tensor start");
      start = sv.toInt();
    }
    if (start < 0) start += Lin;
    start = std::clamp<int64_t>(start, 0, Lin);
    if (st.step < 1) throw Unsupported("slice step < 1");
    m.a = start;
    m.s = st.step;
    os << "crop " << start << ".." << start + (Lout - 1) * st.step + 1;
    if (st.step != 1) os << " step " << st.step;
  } else {
    auto padv = an.val.at(ins[1]).toIntVector();
    if (padv.size() < 2 || padv.size() % 2) throw Unsupported("pad list");
    for (size_t i = 2; i < padv.size(); ++i)
      if (padv[i] != 0) throw Unsupported("padding of a dimension other than the length");
    double fill = 0.0;
    if (k == "aten::pad") {
      auto mode = an.val.at(ins[2]).toStringRef();
      if (mode != "constant") throw Unsupported("'" + mode + "' padding (only constant padding is position-local here)");
      auto fv = an.val.at(ins[3]);
      fill = fv.isNone() ? 0.0 : fv.toDouble();
    } else {
      fill = an.val.at(ins[2]).toScalar().toDouble();
    }
    m.a = -padv[0];
    m.fill = fill;
    os << "pad " << padv[0] << "," << padv[1];
  }
  add_read(b, ins[0], m);
  st.label = os.str();
  return b;
}

// Position-local operation on whole tensors, applied element by element (with broadcasting
// over static per-channel tensors), along channels only, or slicing channels.
Built build_generic(Analysis& an, Node* n, const std::string& k) {
  Built b;
  Step& st = b.step;
  st.op = Op::Generic;
  auto ins = n->inputs();
  bool per_channel = (k == "aten::batch_norm" || k == "aten::prelu");
  for (size_t i = 0; i < ins.size(); ++i) {
    Value* v = ins[i];
    Kind kd = an.kind_of(v);
    Arg a;
    if (kd == Kind::Pos) {
      a.read = int(st.reads.size());
      add_read(b, v, ReadMap{});
    } else if (kd == Kind::Static) {
      a.value = an.val.at(v);
      if (a.value.isTensor() && !per_channel && !position_free(a.value.toTensor()))
        throw Unsupported("a constant tensor that varies along the length");
    } else {
      throw Unsupported("an input is neither constant nor positional");
    }
    st.args.push_back(a);
  }
  auto arg = [&](size_t i) -> const c10::IValue& { return st.args.at(i).value; };
  if (k == "aten::batch_norm" && arg(5).toBool()) throw Unsupported("batch norm in training mode");
  if ((k == "aten::dropout" || k == "aten::feature_dropout" || k == "aten::alpha_dropout" ||
       k == "aten::feature_alpha_dropout") &&
      arg(2).toBool())
    throw Unsupported("dropout in training mode");
  if (k == "aten::softmax" || k == "aten::log_softmax" || k == "aten::glu") {
    if (norm_dim(arg(1).toInt()) != 1) throw Unsupported(node_name(n) + " along a dimension other than channels");
  }
  if (k == "aten::repeat") {
    auto r = arg(1).toIntVector();
    if (r.size() != 3 || r[0] != 1 || r[2] != 1) throw Unsupported("repeat along the batch or the length");
  }
  if (k == "aten::slice" || k == "aten::narrow") {
    int64_t d = norm_dim(arg(1).toInt());
    if (d == 2) throw Unsupported("internal: length slice routed as element-wise");
    if (d == 0) {
      // the traced `x[:, ...]` slices the batch dimension whole
      if (k == "aten::narrow") throw Unsupported("narrow along the batch");
      auto s = arg(2), e = arg(3);
      bool whole = (s.isNone() || s.toInt() == 0) && (e.isNone() || e.toInt() >= (int64_t(1) << 62)) && arg(4).toInt() == 1;
      if (!whole) throw Unsupported("slicing the batch");
    }
  }
  st.operation = n->getOperation();
  st.label = node_name(n);
  return b;
}

// aten::batch_norm in eval: a per-channel affine map, as the kernels compute it.
Built build_batch_norm(Analysis& an, Node* n) {
  Built b;
  Step& st = b.step;
  st.op = Op::Affine;
  auto ins = n->inputs();
  if (an.kind_of(ins[0]) != Kind::Pos) throw Unsupported("batch norm input is not positional");
  for (size_t i = 1; i < ins.size(); ++i)
    if (an.kind_of(ins[i]) != Kind::Static) throw Unsupported("batch norm parameters depend on the input");
  if (an.val.at(ins[5]).toBool()) throw Unsupported("batch norm in training mode");
  auto mean = an.val.at(ins[3]), var = an.val.at(ins[4]);
  if (!mean.isTensor() || !var.isTensor()) throw Unsupported("batch norm without running statistics");
  auto m = mean.toTensor().to(at::kFloat), v = var.toTensor().to(at::kFloat);
  double eps = an.val.at(ins[7]).toDouble();
  auto w = an.val.at(ins[1]), bias = an.val.at(ins[2]);
  auto invstd = at::reciprocal(at::sqrt(v + eps));
  st.scale = w.isTensor() ? w.toTensor().to(at::kFloat) * invstd : invstd;
  st.shift = (bias.isTensor() ? bias.toTensor().to(at::kFloat) : at::zeros_like(m)) - m * st.scale;
  add_read(b, ins[0], ReadMap{});
  st.label = "batch_norm";
  return b;
}

Built build_cat(Analysis& an, Node* n) {
  Built b;
  Step& st = b.step;
  st.op = Op::Cat;
  Value* list = n->inputs()[0];
  if (an.kind_of(list) != Kind::PosList) throw Unsupported("concatenation of non-positional tensors");
  if (an.kind_of(n->inputs()[1]) != Kind::Static || norm_dim(an.val.at(n->inputs()[1]).toInt()) != 1)
    throw Unsupported("concatenation along a dimension other than channels");
  for (Value* v : list->node()->inputs()) add_read(b, v, ReadMap{});
  st.label = "cat";
  return b;
}

// Compare a step's windowed formulation, run on whole tensors with the padding made
// explicit, with the node's own result on the dummy input.
void self_check(const Step& st, std::vector<at::Tensor> full_inputs, const at::Tensor& expect, int64_t Lout) {
  std::vector<at::Tensor> in;
  for (size_t i = 0; i < st.reads.size(); ++i) {
    const Read& r = st.reads[i];
    auto x = full_inputs[i].permute({0, 2, 1});
    auto p = (r.pl || r.pr) ? at::constant_pad_nd(x, {0, 0, r.pl, r.pr}, r.map.fill) : x;
    in.push_back(p.narrow(1, r.map.a + r.pl, (Lout - 1) * r.map.s + r.map.span));
  }
  auto got = ncl(apply(st, in, st.divisor));
  if (got.sizes() != expect.sizes())
    throw Unsupported("windowed " + st.label + " gives shape " + c10::str(got.sizes()) + " instead of " + c10::str(expect.sizes()));
  auto e = expect.to(at::kDouble), g = got.to(at::kDouble);
  auto finite = at::isfinite(e);
  bool same_nonfinite = at::equal(finite, at::isfinite(g));
  double scale = std::max(1e-30, at::where(finite, e.abs(), at::zeros_like(e)).max().item<double>());
  double diff = at::where(finite, (e - g).abs(), at::zeros_like(e)).max().item<double>();
  if (!same_nonfinite || diff > 1e-4 * scale)
    throw Unsupported("windowed " + st.label + " differs from the node (" + std::to_string(diff / scale) + " relative)");
}

// ---------------------------------------------------------------------------------------

void analyse(Plan& plan, const std::shared_ptr<torch::jit::Graph>& graph, std::string& fallback) {
  Analysis an(plan);
  auto inputs = graph->inputs();
  if (inputs.size() != 2) throw Unsupported("forward takes " + std::to_string(inputs.size() - 1) + " inputs (one (N, 4, L) tensor expected)");
  Value* x = inputs[1];
  an.kind[inputs[0]] = Kind::Static;
  an.val[inputs[0]] = plan.frozen._ivalue();
  an.kind[x] = Kind::Pos;
  // a one-hot dummy: shapes and static values do not depend on the sequence
  auto idx = at::arange(plan.L0, at::kLong).remainder(4);
  auto dummy = at::one_hot(idx, 4).t().to(at::kFloat).unsqueeze(0).contiguous().to(plan.device);
  an.val[x] = dummy;
  PosVal px;
  px.v = x;
  px.channels = 4;
  px.length = plan.L0;
  px.name = "input";
  an.pos_index[x] = 0;
  plan.vals.push_back(px);

  for (Node* n : graph->nodes()) {
    std::string k = n->kind().toQualString();
    bool any_pos = false, any_global = false, any_list = false, any_shape = false;
    for (Value* v : n->inputs()) {
      Kind kd = an.kind_of(v);
      any_pos |= kd == Kind::Pos;
      any_list |= kd == Kind::PosList;
      any_shape |= kd == Kind::ShapeList;
      any_global |= kd == Kind::Global;
    }
    auto mark_global = [&](const std::string& why) {
      for (Value* o : n->outputs()) an.kind[o] = Kind::Global;
      if (an.first_global.empty() && (any_pos || any_list)) an.first_global = where(n) + ": " + why;
    };
    if (n->kind() == c10::prim::Constant) {
      auto c = torch::jit::toIValue(n->output());
      if (!c) {
        mark_global("constant without a value");
        continue;
      }
      an.kind[n->output()] = Kind::Static;
      an.val[n->output()] = *c;
      continue;
    }
    if (any_global) {
      mark_global("after a global operation");
      continue;
    }
    if (!n->blocks().empty()) {
      mark_global("control flow");
      continue;
    }
    if (any_shape) {
      // an entry other than the batch size, or the number of dimensions, is a constant
      bool ok = false;
      if (k == "aten::__getitem__" && n->inputs().size() == 2 && an.kind_of(n->input(1)) == Kind::Static) {
        int64_t d = norm_dim(an.val.at(n->input(1)).toInt());
        if (d == 1 || d == 2) {
          an.val[n->output()] = an.val.at(n->input(0)).toIntVector()[d];
          ok = true;
        }
      } else if (k == "aten::len" && n->inputs().size() == 1) {
        an.val[n->output()] = int64_t(3);
        ok = true;
      }
      if (ok) {
        an.kind[n->output()] = Kind::Static;
      } else {
        for (Value* o : n->outputs()) an.kind[o] = Kind::Global;
      }
      continue;
    }
    if (!any_pos && !any_list) {
      // static: evaluate once
      try {
        if (n->kind() == c10::prim::GetAttr) {
          auto obj = an.val.at(n->input(0)).toObject();
          an.val[n->output()] = obj->getAttr(n->s(c10::attr::name));
        } else {
          torch::jit::Stack stack;
          for (Value* v : n->inputs()) stack.push_back(an.val.at(v));
          n->getOperation()(stack);
          if (stack.size() != n->outputs().size()) throw std::runtime_error("outputs");
          for (size_t i = 0; i < n->outputs().size(); ++i) an.val[n->outputs()[i]] = stack[i];
        }
        for (Value* o : n->outputs()) an.kind[o] = Kind::Static;
      } catch (const std::exception& e) {
        mark_global("could not be evaluated");
      }
      continue;
    }
    // depends on the input
    if (k == "aten::size" && n->inputs().size() == 2 && an.kind_of(n->input(1)) == Kind::Static) {
      int64_t d = norm_dim(an.val.at(n->input(1)).toInt());
      if (d == 1 || d == 2) {
        an.kind[n->output()] = Kind::Static;
        an.val[n->output()] = an.val.at(n->input(0)).toTensor().size(d);
        continue;
      }
      mark_global("batch size");
      continue;
    }
    if (k == "aten::size" && n->inputs().size() == 1) {
      an.kind[n->output()] = Kind::ShapeList;
      an.val[n->output()] = c10::IValue(an.val.at(n->input(0)).toTensor().sizes().vec());
      continue;
    }
    if (k == "aten::dim" || k == "prim::device") {
      torch::jit::Stack stack{an.val.at(n->input(0))};
      n->getOperation()(stack);
      an.kind[n->output()] = Kind::Static;
      an.val[n->output()] = stack.back();
      continue;
    }
    if (k == "prim::ListConstruct") {
      bool all_pos = true;
      for (Value* v : n->inputs()) all_pos &= an.kind_of(v) == Kind::Pos;
      if (all_pos) {
        an.kind[n->output()] = Kind::PosList;
        continue;
      }
      mark_global("a list mixing positional and other values");
      continue;
    }
    auto schema = n->maybeSchema();
    if (!schema) {
      mark_global("no operator schema");
      continue;
    }
    if (schema->is_mutable()) {
      throw Unsupported("in-place operation " + where(n) + " on a tensor derived from the input");
    }
    if (n->outputs().size() != 1) {
      mark_global("several outputs");
      continue;
    }
    // run the node on the reference to learn its shape (and check it is a (1, C, L) tensor)
    c10::IValue out;
    try {
      torch::jit::Stack stack;
      for (Value* v : n->inputs()) {
        if (an.kind_of(v) == Kind::PosList) {
          std::vector<at::Tensor> ts;
          for (Value* e : v->node()->inputs()) ts.push_back(an.val.at(e).toTensor());
          stack.emplace_back(c10::List<at::Tensor>(ts));
        } else {
          stack.push_back(an.val.at(v));
        }
      }
      n->getOperation()(stack);
      out = stack.back();
    } catch (const std::exception& e) {
      mark_global(std::string("failed on the reference: ") + e.what());
      continue;
    }
    if (!is_3d_batch1(out)) {
      mark_global("output is not an (N, C, L) tensor");
      continue;
    }
    bool inputs_ok = true;
    for (Value* v : n->inputs())
      if (an.kind_of(v) == Kind::Pos && !is_3d_batch1(an.val.at(v))) inputs_ok = false;
    if (!inputs_ok) {
      mark_global("input is not an (N, C, L) tensor");
      continue;
    }
    int64_t Lout = out.toTensor().size(2);
    Built b;
    try {
      if (k == "aten::conv1d" || k == "aten::convolution" || k == "aten::_convolution" || k == "aten::_convolution_mode") {
        b = build_conv(an, n);
      } else if (k == "aten::max_pool1d" && n->inputs().size() == 6) {
        b = build_pool(an, n, true);
        if (b.step.kernel < 1) throw Unsupported("kernel");
      } else if (k == "aten::avg_pool1d" && n->inputs().size() == 6) {
        b = build_pool(an, n, false);
      } else if ((k == "aten::slice" || k == "aten::narrow") && an.kind_of(n->input(1)) == Kind::Static &&
                 norm_dim(an.val.at(n->input(1)).toInt()) == 2) {
        b = build_resample(an, n, k, an.val.at(n->input(0)).toTensor().size(2), Lout);
      } else if (k == "aten::constant_pad_nd" || k == "aten::pad") {
        b = build_resample(an, n, k, an.val.at(n->input(0)).toTensor().size(2), Lout);
      } else if (k == "aten::batch_norm" && n->inputs().size() == 9) {
        b = build_batch_norm(an, n);
      } else if (k == "aten::cat" && n->inputs().size() == 2) {
        b = build_cat(an, n);
      } else if (elementwise_ops().count(k)) {
        b = build_generic(an, n, k);
      } else {
        throw Unsupported("not a position-local operation");
      }
    } catch (const std::exception& e) {
      mark_global(e.what());
      continue;
    }
    // lengths: every positional input of an element-wise/concat step has the output's length
    std::vector<at::Tensor> full_inputs;
    for (Value* v : b.pos_inputs) full_inputs.push_back(an.val.at(v).toTensor());
    if (b.step.op == Op::Generic || b.step.op == Op::Cat || b.step.op == Op::Affine) {
      bool same = true;
      for (auto& t : full_inputs) same &= t.size(2) == Lout;
      if (!same) {
        mark_global("inputs of different lengths");
        continue;
      }
    }
    // explicit padding of the reference copies
    for (size_t i = 0; i < b.step.reads.size(); ++i) {
      Read& r = b.step.reads[i];
      int64_t Lin = full_inputs[i].size(2);
      r.pl = std::max<int64_t>(0, -r.map.a);
      r.pr = std::max<int64_t>(0, r.map.a + (Lout - 1) * r.map.s + r.map.span - Lin);
      r.src = an.pos_index.at(b.pos_inputs[i]);
    }
    if (b.step.op == Op::AvgPool) {
      b.step.divisor = avg_divisor(n, an, full_inputs[0].size(2), Lout);
      if (b.step.divisor.defined()) b.step.divisor = b.step.divisor.to(plan.device).view({1, -1, 1});
    }
    try {
      self_check(b.step, full_inputs, out.toTensor(), Lout);
    } catch (const std::exception& e) {
      mark_global(e.what());
      continue;
    }
    if (b.step.divisor.defined()) b.step.divisor = b.step.divisor.view({-1});
    PosVal pv;
    pv.v = n->output();
    pv.channels = out.toTensor().size(1);
    pv.length = Lout;
    pv.name = n->output()->debugName();
    b.step.out = int(plan.vals.size());
    an.pos_index[n->output()] = b.step.out;
    plan.vals.push_back(pv);
    an.kind[n->output()] = Kind::Pos;
    an.val[n->output()] = out;
    an.step_of[n] = int(plan.steps.size());
    plan.steps.push_back(std::move(b.step));
  }
  for (Value* o : graph->outputs())
    if (an.kind_of(o) == Kind::PosList) throw Unsupported("the model returns a list of positional tensors");
  fallback = an.first_global;
}

// Affected intervals, window widths and starts, read geometry.
void place(Plan& plan, Read& r, const std::vector<int64_t>& start, bool allow_direct);

void geometry(Plan& plan) {
  const int64_t L0 = plan.L0;
  auto& x = plan.vals[0];
  x.lo.resize(L0);
  x.hi.resize(L0);
  for (int64_t p = 0; p < L0; ++p) {
    x.lo[p] = p;
    x.hi[p] = p + 1;
  }
  auto finish = [&](PosVal& v) {
    int64_t w = 1;
    for (int64_t p = 0; p < L0; ++p)
      if (v.hi[p] > v.lo[p]) w = std::max(w, v.hi[p] - v.lo[p]);
    v.width = std::min(w, v.length);
    v.start.resize(L0);
    for (int64_t p = 0; p < L0; ++p) {
      int64_t s = v.hi[p] > v.lo[p] ? v.lo[p] : 0;
      v.start[p] = std::clamp<int64_t>(s, 0, v.length - v.width);
    }
  };
  finish(x);
  for (auto& st : plan.steps) {
    PosVal& o = plan.vals[st.out];
    o.lo.assign(L0, std::numeric_limits<int64_t>::max());
    o.hi.assign(L0, std::numeric_limits<int64_t>::min());
    for (auto& r : st.reads) {
      const PosVal& u = plan.vals[r.src];
      for (int64_t p = 0; p < L0; ++p) {
        if (u.hi[p] <= u.lo[p]) continue;
        int64_t lo = ceil_div(u.lo[p] - r.map.a - r.map.span + 1, r.map.s);
        int64_t hi = floor_div(u.hi[p] - 1 - r.map.a, r.map.s) + 1;
        lo = std::max<int64_t>(lo, 0);
        hi = std::min<int64_t>(hi, o.length);
        if (lo >= hi) continue;
        o.lo[p] = std::min(o.lo[p], lo);
        o.hi[p] = std::max(o.hi[p], hi);
      }
    }
    for (int64_t p = 0; p < L0; ++p)
      if (o.hi[p] <= o.lo[p]) o.lo[p] = o.hi[p] = 0;
    finish(o);
  }
  auto opts = at::TensorOptions().dtype(at::kLong);
  for (auto& v : plan.vals) v.start_t = at::tensor(v.start, opts).to(plan.device);
  for (auto& st : plan.steps) {
    const PosVal& o = plan.vals[st.out];
    for (auto& r : st.reads) {
      r.wn = (o.width - 1) * r.map.s + r.map.span;
      std::vector<int64_t> start(L0);
      for (int64_t p = 0; p < L0; ++p) start[p] = r.map.a + o.start[p] * r.map.s + r.pl;
      place(plan, r, start, true);
      if (r.mode == Mode::General) r.refs_slot = plan.n_ref_slots++;
    }
    if (st.op == Op::Conv && st.wt.defined()) {
      int64_t k = st.weight.size(2);
      st.form = conv_out_side(k, st.weight.size(1), st.weight.size(0), o.width, st.reads[0].wn) ? 2 : 1;
    }
  }
}

// Where a read of width r.wn starting at `start[p]` (padded coordinates) finds the mutant's
// own window of its input, and how it is materialised.
void place(Plan& plan, Read& r, const std::vector<int64_t>& start, bool allow_direct) {
  const PosVal& u = plan.vals[r.src];
  const int64_t L0 = plan.L0;
  std::vector<int64_t> off(L0);
  bool all_zero_off = true, constant = true;
  for (int64_t p = 0; p < L0; ++p) {
    off[p] = u.start[p] + r.pl - start[p];
    all_zero_off &= off[p] == 0;
    constant &= start[p] == start[0];
  }
  r.const_start = constant;
  r.start0 = start[0];
  if (u.width == u.length) {
    r.mode = Mode::Full;
  } else if (allow_direct && r.wn == u.width && all_zero_off) {
    r.mode = Mode::Direct;
  } else {
    r.mode = Mode::General;
  }
  auto opts = at::TensorOptions().dtype(at::kLong);
  r.start_t = at::tensor(start, opts).to(plan.device);
  r.off_t = at::tensor(off, opts).to(plan.device);
  r.off = off;
  r.arange = at::arange(r.wn, opts.device(plan.device));
}

// Each cut is its whole reference with the mutant's window written in: a read of the whole
// tensor.
void cut_geometry(Plan& plan) {
  for (int c : plan.cuts) {
    Read r;
    r.src = c;
    r.wn = plan.vals[c].length;
    place(plan, r, std::vector<int64_t>(plan.L0, 0), false);
    plan.cut_reads.push_back(r);
  }
}

void describe(Plan& plan, const std::string& stop) {
  int64_t full = 0, win = 0;
  int convs = 0, pools = 0, other = 0;
  std::ostringstream d;
  for (auto& st : plan.steps) {
    const PosVal& o = plan.vals[st.out];
    if (st.op == Op::Conv) {
      ++convs;
      full += st.macs_per_position * o.length;
      win += st.macs_per_position * o.width;
    } else if (st.op == Op::MaxPool || st.op == Op::AvgPool) {
      ++pools;
    } else {
      ++other;
    }
    d << "  %" << o.name << " = " << st.label << ": window " << o.width << " of " << o.length << " x " << o.channels << " ch";
    for (auto& r : st.reads) {
      d << (r.mode == Mode::Direct ? " [direct]" : r.mode == Mode::Full ? " [whole]" : " [splice]");
    }
    d << "\n";
  }
  int64_t bytes = 0;
  for (auto& v : plan.vals) bytes += v.channels * v.width * 4;
  for (auto& st : plan.steps)
    for (auto& r : st.reads) bytes += plan.vals[r.src].channels * r.wn * 4;
  for (int c : plan.cuts) bytes += plan.vals[c].channels * plan.vals[c].length * 4;
  plan.bytes_per_mutant = bytes;
  std::ostringstream s;
  s << plan.steps.size() << " position-local ops (" << convs << " conv, " << pools << " pool, " << other << " other)";
  s << ", cut at";
  for (int c : plan.cuts) s << " %" << plan.vals[c].name << " [" << plan.vals[c].channels << "x" << plan.vals[c].length << "]";
  if (full > 0) s << "; conv MACs per mutant " << std::fixed << std::setprecision(1) << 100.0 * double(win) / double(full) << "% of the full prefix";
  if (!stop.empty()) s << "; prefix ends at " << stop;
  plan.summary = s.str();
  plan.details = d.str();
}

// The forward graph with the prefix replaced by inputs (one per cut tensor).
void build_suffix(Plan& plan, const std::shared_ptr<torch::jit::Graph>& graph) {
  auto g = graph->copy();
  std::unordered_map<Value*, Value*> map;
  for (size_t i = 0; i < graph->inputs().size(); ++i) map[graph->inputs()[i]] = g->inputs()[i];
  auto a = graph->nodes().begin();
  auto b = g->nodes().begin();
  for (; a != graph->nodes().end(); ++a, ++b) {
    for (size_t i = 0; i < a->outputs().size(); ++i) map[a->outputs()[i]] = b->outputs()[i];
  }
  // every positional value becomes an input; dead-code elimination then drops the prefix and
  // the inputs still used are the cut
  std::vector<std::pair<int, Value*>> added;
  for (size_t i = 1; i < plan.vals.size(); ++i) {
    Value* nv = g->addInput("cut_" + plan.vals[i].name);
    nv->setType(c10::TensorType::get());
    map.at(plan.vals[i].v)->replaceAllUsesWith(nv);
    added.emplace_back(int(i), nv);
  }
  torch::jit::EliminateDeadCode(g);
  Value* gx = g->inputs()[1];
  if (gx->hasUses()) plan.cuts.push_back(0);
  for (auto& [i, v] : added)
    if (v->hasUses()) plan.cuts.push_back(i);
  for (size_t i = g->inputs().size(); i-- > 2;)
    if (!g->inputs()[i]->hasUses()) g->eraseInput(i);
  if (!gx->hasUses()) g->eraseInput(1);
  if (plan.cuts.empty()) throw Unsupported("the output does not depend on the input");
  auto type = plan.frozen.type();
  auto cu = plan.frozen._ivalue()->compilation_unit();
  auto name = c10::QualifiedName(*type->name(), "peakscope_suffix");
  auto fn = cu->create_function(name, g);
  type->addMethod(fn);
}

void copy_error(const std::exception& e, char* err, int err_len) {
  std::string msg = e.what();
  auto nl = msg.find('\n');
  if (nl != std::string::npos) msg = msg.substr(0, nl);
  std::strncpy(err, msg.c_str(), err_len - 1);
  err[err_len - 1] = 0;
}

char* dup(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = 0;
  return p;
}

// ---------------------------------------------------------------------------------------
// running

// Rows [j0, j1) of each mutant's read window, from the padded reference.
at::Tensor reference_rows(const Buffer& buf, const Read& r, const at::Tensor& ref_idx, const at::Tensor& pos, int64_t j0,
                          int64_t j1) {
  int64_t n = pos.size(0), c = buf.rows.size(1);
  auto first = ref_idx * buf.lp + r.start_t.index_select(0, pos) + j0;  // (n,)
  auto idx = first.unsqueeze(1) + r.arange.narrow(0, 0, j1 - j0).unsqueeze(0);
  return buf.rows.index_select(0, idx.view({-1})).view({n, j1 - j0, c});
}

// The rows of a read for a batch: padded reference rows with the mutant's window rows in
// place. When the window sits at the same offset in every mutant's read (a batch away from
// the sequence ends), that is the window itself or the window between reference rows;
// otherwise one row gather from `buf`, which holds the reference rows followed by room for
// the batch's windows.
at::Tensor gather_rows(Buffer& buf, const Read& r, int64_t width, const at::Tensor& window, const at::Tensor& ref_idx,
                       const at::Tensor& pos, const at::Tensor& rows, const std::vector<int64_t>& pos_h) {
  int64_t n = pos.size(0), c = buf.rows.size(1);
  int64_t o = r.off[pos_h[0]];
  bool uniform = true;
  for (int64_t p : pos_h) uniform &= r.off[p] == o;
  if (uniform) {
    int64_t lo = std::max<int64_t>(0, o), hi = std::min(r.wn, o + width);
    if (lo < hi) {
      auto mid = window.narrow(1, lo - o, hi - lo);
      if (lo == 0 && hi == r.wn) return mid;
      std::vector<at::Tensor> parts;
      if (lo > 0) parts.push_back(reference_rows(buf, r, ref_idx, pos, 0, lo));
      parts.push_back(mid.to(buf.rows.scalar_type()));
      if (hi < r.wn) parts.push_back(reference_rows(buf, r, ref_idx, pos, hi, r.wn));
      return at::cat(parts, 1);
    }
  }
  int64_t need = buf.base + n * width;
  if (buf.rows.size(0) < need) {
    auto grown = at::empty({buf.base + 2 * n * width, c}, buf.rows.options());
    grown.narrow(0, 0, buf.base).copy_(buf.rows.narrow(0, 0, buf.base));
    buf.rows = grown;
  }
  buf.rows.narrow(0, buf.base, n * width).view({n, width, c}).copy_(window);
  auto s = r.start_t.index_select(0, pos).unsqueeze(1);
  auto rel = r.arange.unsqueeze(0) - r.off_t.index_select(0, pos).unsqueeze(1);  // (n, wn)
  auto inside = (rel >= 0).logical_and_(rel < width);
  auto from_ref = ref_idx.unsqueeze(1) * buf.lp + s + r.arange.unsqueeze(0);
  auto from_win = buf.base + rows.unsqueeze(1) * width + rel;
  auto idx = at::where(inside, from_win, from_ref);
  return buf.rows.index_select(0, idx.view({-1})).view({n, r.wn, c});
}

at::Tensor materialise(const Plan& plan, const Read& r, const std::vector<at::Tensor>& win, Buffer* buf,
                       const at::Tensor& ref_idx, const at::Tensor& pos, const at::Tensor& rows,
                       const std::vector<int64_t>& pos_h) {
  const PosVal& u = plan.vals[r.src];
  const at::Tensor& m = win[r.src];
  int64_t n = pos.size(0);
  switch (r.mode) {
    case Mode::Direct:
      return m;
    case Mode::Full: {
      auto p = (r.pl || r.pr) ? at::constant_pad_nd(m, {0, 0, r.pl, r.pr}, r.map.fill) : m;
      if (r.const_start) return p.narrow(1, r.start0, r.wn);
      auto lp = p.size(1);
      auto idx = (rows * lp + r.start_t.index_select(0, pos)).unsqueeze(1) + r.arange.unsqueeze(0);
      return p.reshape({n * lp, u.channels}).index_select(0, idx.view({-1})).view({n, r.wn, u.channels});
    }
    case Mode::General:
      return gather_rows(*buf, r, u.width, m, ref_idx, pos, rows, pos_h);
  }
  throw std::runtime_error("read mode");
}

std::vector<at::Tensor> run_windows(const Plan& plan, Refs& refs, const at::Tensor& ref_idx, const at::Tensor& pos,
                                    const at::Tensor& alt) {
  int64_t n = pos.size(0);
  std::vector<at::Tensor> win(plan.vals.size());
  auto x = at::zeros({n, 1, 4}, refs.input_options);
  x.scatter_(2, alt.view({n, 1, 1}), 1.0);
  win[0] = x;
  auto rows = at::arange(n, pos.options());
  auto pos_cpu = pos.to(at::kCPU).contiguous();
  std::vector<int64_t> pos_h(pos_cpu.data_ptr<int64_t>(), pos_cpu.data_ptr<int64_t>() + n);
  for (const auto& st : plan.steps) {
    std::vector<at::Tensor> in;
    in.reserve(st.reads.size());
    for (const auto& r : st.reads)
      in.push_back(materialise(plan, r, win, r.refs_slot >= 0 ? &refs.padded[r.refs_slot] : nullptr, ref_idx, pos, rows, pos_h));
    at::Tensor fw;
    const PosVal& o = plan.vals[st.out];
    if (st.divisor.defined()) {
      auto idx = o.start_t.index_select(0, pos).unsqueeze(1) + at::arange(o.width, pos.options()).unsqueeze(0);
      fw = st.divisor.index({idx}).unsqueeze(2);  // (n, w, 1)
    }
    win[st.out] = apply(st, in, fw);
  }
  std::vector<at::Tensor> outs;
  for (size_t c = 0; c < plan.cuts.size(); ++c) {
    const Read& r = plan.cut_reads[c];
    auto full = materialise(plan, r, win, &refs.full[c], ref_idx, pos, rows, pos_h);
    outs.push_back(ncl(full));
  }
  return outs;
}

Buffer make_buffer(const at::Tensor& nlc) {
  Buffer b;
  b.lp = nlc.size(1);
  b.base = nlc.size(0) * b.lp;
  b.rows = nlc.contiguous().view({b.base, nlc.size(2)});
  return b;
}

std::unique_ptr<Refs> prepare(const Plan& plan, const at::Tensor& references, bool native) {
  auto refs = std::make_unique<Refs>();
  refs->n = references.size(0);
  refs->input_options = references.options();
  refs->padded.resize(plan.n_ref_slots);
  std::vector<at::Tensor> full(plan.vals.size());
  full[0] = references.permute({0, 2, 1});
  // the last step that reads each value (cuts: past the end), so that whole-sequence
  // activations are freed as soon as nothing needs them (peak memory, and fewer fresh pages)
  std::vector<size_t> last_use(plan.vals.size(), 0);
  for (size_t i = 0; i < plan.steps.size(); ++i)
    for (const auto& r : plan.steps[i].reads) last_use[r.src] = std::max(last_use[r.src], i);
  for (int c : plan.cuts) last_use[c] = plan.steps.size();
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& st = plan.steps[i];
    const PosVal& o = plan.vals[st.out];
    std::vector<at::Tensor> in;
    for (const auto& r : st.reads) {
      auto x = full[r.src];
      auto p = (r.pl || r.pr) ? at::constant_pad_nd(x, {0, 0, r.pl, r.pr}, r.map.fill) : x;
      if (r.refs_slot >= 0) refs->padded[r.refs_slot] = make_buffer(p);
      in.push_back(p.narrow(1, r.map.a + r.pl, (o.length - 1) * r.map.s + r.map.span));
    }
    at::Tensor fw;
    if (st.divisor.defined()) fw = st.divisor.view({1, -1, 1});
    full[st.out] = apply(st, in, fw, native);
    in.clear();
    for (const auto& r : st.reads)
      if (last_use[r.src] == i) full[r.src] = at::Tensor();
  }
  for (int c : plan.cuts) refs->full.push_back(make_buffer(full[c]));
  return refs;
}

}  // namespace

extern "C" {

// Analyse the TorchScript file `path` (the module as the caller runs it) for inputs of
// length L on `device` (-1 CPU, else CUDA index). On success returns a plan, with a one-line
// summary and per-step details (malloc'd strings) and the serialized frozen module carrying
// the `peakscope_suffix` method. On failure returns null with the reason in err.
void* peakscope_fastism_build(const char* path, int64_t L, int device, char** summary, char** details, char** module_bytes,
                              int64_t* module_len, char* err, int err_len) {
  try {
    c10::Device d = device < 0 ? c10::Device(c10::kCPU) : c10::Device(c10::kCUDA, device);
    torch::jit::Module m = torch::jit::load(std::string(path), d);
    m.eval();
    auto plan = std::make_unique<Plan>();
    plan->L0 = L;
    plan->device = d;
    try {
      plan->frozen = torch::jit::freeze_module(m);
    } catch (const std::exception& e) {
      throw Unsupported(std::string("the module cannot be frozen: ") + e.what());
    }
    auto graph = plan->frozen.get_method("forward").graph();
    torch::jit::RemoveTensorMutation(graph);
    torch::jit::EliminateDeadCode(graph);
    std::string stop;
    at::NoGradGuard no_grad;
    analyse(*plan, graph, stop);
    if (plan->steps.empty()) throw Unsupported(stop.empty() ? "no position-local operation on the input" : "the first operation on the input is global: " + stop);
    bool any_conv_window = false;
    geometry(*plan);
    for (auto& st : plan->steps)
      if (st.op == Op::Conv && plan->vals[st.out].width < plan->vals[st.out].length) any_conv_window = true;
    if (!any_conv_window) throw Unsupported("no convolution before the first global operation (" + (stop.empty() ? std::string("none") : stop) + ") can skip positions");
    build_suffix(*plan, graph);
    cut_geometry(*plan);
    describe(*plan, stop);
    std::ostringstream os;
    plan->frozen.save(os);
    std::string bytes = os.str();
    *module_len = int64_t(bytes.size());
    *module_bytes = static_cast<char*>(std::malloc(bytes.size()));
    std::memcpy(*module_bytes, bytes.data(), bytes.size());
    *summary = dup(plan->summary);
    *details = dup(plan->details);
    return plan.release();
  } catch (const std::exception& e) {
    copy_error(e, err, err_len);
    return nullptr;
  }
}

void peakscope_fastism_free_buffer(char* p) { std::free(p); }

void peakscope_fastism_free(void* plan) { delete static_cast<Plan*>(plan); }

int peakscope_fastism_cuts(void* plan) { return int(static_cast<Plan*>(plan)->cuts.size()); }

int64_t peakscope_fastism_bytes_per_mutant(void* plan) { return static_cast<Plan*>(plan)->bytes_per_mutant; }

// Run the prefix over whole tensors for references (R, 4, L). Returns a handle or null.
// `native` != 0: convolutions through the module's own operator (see `apply`).
void* peakscope_fastism_prepare(void* plan, const at::Tensor* references, int native, char* err, int err_len) {
  try {
    at::NoGradGuard no_grad;
    auto* p = static_cast<Plan*>(plan);
    if (references->dim() != 3 || references->size(1) != 4 || references->size(2) != p->L0)
      throw std::runtime_error("references must be (R, 4, " + std::to_string(p->L0) + ")");
    return prepare(*p, *references, native != 0).release();
  } catch (const std::exception& e) {
    copy_error(e, err, err_len);
    return nullptr;
  }
}

void peakscope_fastism_free_refs(void* refs) { delete static_cast<Refs*>(refs); }

// The cut tensors of the references themselves (what `forward` computes for them up to the
// cuts), so that `peakscope_suffix` gives the references' outputs without a second pass.
// Writes peakscope_fastism_cuts(plan) new tensors to outs.
int peakscope_fastism_ref_cuts(void* plan, void* refs, at::Tensor** outs, char* err, int err_len) {
  try {
    auto* p = static_cast<Plan*>(plan);
    auto* r = static_cast<Refs*>(refs);
    for (size_t c = 0; c < p->cuts.size(); ++c) {
      const Buffer& b = r->full[c];
      auto t = b.rows.narrow(0, 0, b.base).view({r->n, b.lp, b.rows.size(1)});
      outs[c] = new at::Tensor(ncl(t));
    }
    return 0;
  } catch (const std::exception& e) {
    copy_error(e, err, err_len);
    return -1;
  }
}

// The cut tensors of a batch of mutants: mutant i is reference ref_idx[i] with position
// pos[i] set to one-hot alt[i]. Writes peakscope_fastism_cuts(plan) new tensors to outs.
int peakscope_fastism_run(void* plan, void* refs, const at::Tensor* ref_idx, const at::Tensor* pos, const at::Tensor* alt,
                          at::Tensor** outs, char* err, int err_len) {
  try {
    at::NoGradGuard no_grad;
    auto* p = static_cast<Plan*>(plan);
    auto* r = static_cast<Refs*>(refs);
    auto res = run_windows(*p, *r, ref_idx->to(at::kLong), pos->to(at::kLong), alt->to(at::kLong));
    for (size_t i = 0; i < res.size(); ++i) outs[i] = new at::Tensor(std::move(res[i]));
    return 0;
  } catch (const std::exception& e) {
    copy_error(e, err, err_len);
    return -1;
  }
}
}
