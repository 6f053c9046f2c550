// Tensor: a cheap handle (shared_ptr) to a TensorImpl holding storage, shape, dtype, grad and the
// autograd Node that produced it (grad_fn). Tensors are row-major and contiguous; reshape shares
// storage, every other shape op copies. dtypes: float32 (training), float64 (gradcheck) and int64
// (token ids, argmax results).
//
// Ownership (docs/STYLE.md, "Ownership"): strong pointers point only toward inputs:
//   output TensorImpl -> Node (grad_fn) -> input Tensors.
// A Node keeps only a weak pointer to its output, so no cycle can form.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace seqgrad {

class Generator;
struct Node;
class Tensor;

enum class DType : std::uint8_t { Float32, Float64, Int64 };
const char* dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);
inline bool is_floating(DType d) { return d == DType::Float32 || d == DType::Float64; }

using Shape = std::vector<std::int64_t>;
// The one shape formatter every error message uses: "[32, 128]".
std::string shape_str(const Shape& shape);
std::int64_t numel_of(const Shape& shape);

// Raw bytes of one tensor, from the caching allocator (core/allocator.h).
struct Storage {
    explicit Storage(std::size_t nbytes);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    void* data;
    std::size_t nbytes;
    // For copies derived from the values (the bf16 weight copies, core/bf16_cache.h): a number no other
    // storage of this process has, and a version that every in-place write through fill_, copy_ and
    // the optimizers' step() increases (code writing values through data<T>() calls mark_modified()).
    std::uint64_t id;
    std::uint64_t version = 0;
    bool has_derived_copy = false;  // a bf16 copy exists: the destructor drops it
};

using TensorHook = std::function<Tensor(const Tensor& grad)>;

struct TensorImpl {
    TensorImpl(std::shared_ptr<Storage> storage, Shape shape, DType dtype);
    ~TensorImpl();
    TensorImpl(const TensorImpl&) = delete;
    TensorImpl& operator=(const TensorImpl&) = delete;

    std::shared_ptr<Storage> storage;
    Shape shape;
    DType dtype;
    bool requires_grad = false;
    bool retains_grad = false;
    std::shared_ptr<TensorImpl> grad;       // same shape and dtype, or null
    std::shared_ptr<Node> grad_fn;          // the op that produced this tensor, or null for leaves
    std::vector<TensorHook> hooks;          // run on the gradient flowing into this tensor
    std::string name;                       // optional label for graph export and traces

    // How many TensorImpls exist right now: the leak tests watch this return to its baseline.
    static std::int64_t live_count() { return live_.load(); }

private:
    static std::atomic<std::int64_t> live_;
};

// Options for creating tensors, used with designated initialisers:
//   zeros({2, 3}, {.dtype = DType::Float64, .requires_grad = true})
struct TensorOptions {
    DType dtype = DType::Float32;
    bool requires_grad = false;
};

struct BackwardOptions {
    bool retain_graph = false;
};

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
    // A fresh, uninitialised tensor.
    static Tensor empty(const Shape& shape, DType dtype = DType::Float32);
    // Values copied from a vector (converted to dtype); size must equal the shape's numel.
    static Tensor from(const std::vector<double>& values, const Shape& shape, TensorOptions options = {});
    static Tensor from_float(const std::vector<float>& values, const Shape& shape, TensorOptions options = {});
    // Integer ids (dtype int64).
    static Tensor ids(const std::vector<std::int64_t>& values, const Shape& shape);
    // A 0-d tensor holding one number.
    static Tensor scalar(double value, DType dtype = DType::Float32);

    bool defined() const { return impl_ != nullptr; }
    TensorImpl* impl() const { return impl_.get(); }
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

    const Shape& shape() const;
    std::int64_t dim() const { return static_cast<std::int64_t>(shape().size()); }
    // Size along dim d; negative d counts from the end.
    std::int64_t size(std::int64_t d) const;
    std::int64_t numel() const;
    DType dtype() const;

    template <typename T>
    T* data();
    template <typename T>
    const T* data() const;
    void* raw_data() const;
    const std::shared_ptr<Storage>& storage() const;

    // Autograd.
    bool requires_grad() const;
    Tensor& set_requires_grad(bool value = true);  // leaves only
    bool is_leaf() const;
    std::shared_ptr<Node> grad_fn() const;
    Tensor grad() const;                 // undefined when no gradient has arrived
    void set_grad(const Tensor& g);
    void zero_grad() const;              // drops the gradient (the handle is const, the tensor is not)
    void backward(BackwardOptions options = {}) const;                       // scalar only
    void backward(const Tensor& grad, BackwardOptions options = {}) const;  // any shape
    Tensor detach() const;               // same storage, no history
    void retain_grad() const;            // keep .grad() on a non-leaf after backward
    void register_hook(TensorHook hook) const;
    Tensor& set_name(std::string name);
    const std::string& name() const;

    // Copies and conversions.
    Tensor clone() const;
    Tensor to(DType dtype) const;
    double item() const;                       // one-element tensors
    double at(std::initializer_list<std::int64_t> index) const;  // one element, any dtype
    std::vector<double> to_vector() const;     // every element, as double
    std::vector<float> to_float_vector() const;
    std::vector<std::int64_t> to_ids() const;  // int64 tensors
    std::string str() const;                   // shape, dtype and values (elided when large)

    // Fill in place (no autograd): used by initialisers and optimizers.
    void fill_(double value);
    void copy_(const Tensor& src);
    // After writing the values in place through data<T>(): copies derived from them (the bf16 weight
    // copies) are made again at their next use. fill_, copy_ and the optimizers call it themselves.
    void mark_modified() const;
    // Change the dtype in place (every handle sees it): leaves only, drops the gradient. Used by
    // Module::to(DType::Float64) so a whole layer can be gradchecked in double precision.
    void convert_(DType dtype);

private:
    std::shared_ptr<TensorImpl> impl_;
};

// ---- creation -----------------------------------------------------------------------------------
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
// 0, 1, ..., n-1
Tensor arange(std::int64_t n, TensorOptions options = {});
// Uniform in [0, 1), standard normal, uniform in [lo, hi); nullptr means the default generator.
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions options = {}, Generator* gen = nullptr);

// True when both have the same shape, dtype and (within atol + rtol*|b|) values.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

// Calls f(T{}) with T = float or double for the tensor's dtype; other dtypes are an error naming op.
template <typename F>
decltype(auto) dispatch_floating(DType dtype, const char* op, F&& f) {
    switch (dtype) {
        case DType::Float32: return f(float{});
        case DType::Float64: return f(double{});
        default: break;
    }
    fail("{}: expects a floating-point tensor (float32 or float64), got {}", op, dtype_name(dtype));
}

// Shape check shared by ops: throws ShapeError "op: what: [..] vs [..]".
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_defined(const char* op, const Tensor& t, const char* what = "input");
// Normalise a possibly negative dim against rank; throws IndexError naming op.
std::int64_t wrap_dim(const char* op, std::int64_t dim, std::int64_t rank);

}  // namespace seqgrad

template <>
struct fmt::formatter<seqgrad::Tensor> : fmt::formatter<std::string_view> {
    auto format(const seqgrad::Tensor& t, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(t.str(), ctx);
    }
};
