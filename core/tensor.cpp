// Tensor handle, storage, creation functions and printing.
#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/bf16_cache.h"
#include "core/random.h"

namespace seqgrad {

std::atomic<std::int64_t> TensorImpl::live_{0};

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::Float32: return "float32";
        case DType::Float64: return "float64";
        case DType::Int64: return "int64";
    }
    return "?";
}

std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::Float32: return 4;
        case DType::Float64: return 8;
        case DType::Int64: return 8;
    }
    return 0;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::int64_t numel_of(const Shape& shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
}

namespace {
std::atomic<std::uint64_t> g_next_storage_id{1};
}
Storage::Storage(std::size_t n)
    : data(memory::allocate(n)), nbytes(n), id(g_next_storage_id.fetch_add(1, std::memory_order_relaxed)) {}
Storage::~Storage() {
    if (has_derived_copy) bf16::forget(id);
    memory::release(data, nbytes);
}

TensorImpl::TensorImpl(std::shared_ptr<Storage> s, Shape sh, DType dt)
    : storage(std::move(s)), shape(std::move(sh)), dtype(dt) {
    ++live_;
}
TensorImpl::~TensorImpl() { --live_; }

// ---- handle -------------------------------------------------------------------------------------

namespace {
void require(const Tensor& t, const char* what) {
    if (!t.defined()) fail<Error>("{}: the tensor is undefined (default-constructed or moved from)", what);
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
    for (auto s : shape)
        if (s < 0) fail("empty: negative size in shape {}", shape_str(shape));
    const auto n = static_cast<std::size_t>(numel_of(shape));
    auto storage = std::make_shared<Storage>(n * dtype_size(dtype));
    return Tensor(std::make_shared<TensorImpl>(std::move(storage), shape, dtype));
}

Tensor Tensor::from(const std::vector<double>& values, const Shape& shape, TensorOptions options) {
    if (static_cast<std::int64_t>(values.size()) != numel_of(shape))
        fail("Tensor::from: {} values do not fill shape {} ({} elements)", values.size(), shape_str(shape),
             numel_of(shape));
    Tensor t = empty(shape, options.dtype);
    switch (options.dtype) {
        case DType::Float32: std::transform(values.begin(), values.end(), t.data<float>(), [](double v) { return static_cast<float>(v); }); break;
        case DType::Float64: std::copy(values.begin(), values.end(), t.data<double>()); break;
        case DType::Int64: std::transform(values.begin(), values.end(), t.data<std::int64_t>(), [](double v) { return static_cast<std::int64_t>(v); }); break;
    }
    if (options.requires_grad) t.set_requires_grad(true);
    return t;
}

Tensor Tensor::from_float(const std::vector<float>& values, const Shape& shape, TensorOptions options) {
    return from(std::vector<double>(values.begin(), values.end()), shape, options);
}

Tensor Tensor::ids(const std::vector<std::int64_t>& values, const Shape& shape) {
    if (static_cast<std::int64_t>(values.size()) != numel_of(shape))
        fail("Tensor::ids: {} values do not fill shape {}", values.size(), shape_str(shape));
    Tensor t = empty(shape, DType::Int64);
    std::copy(values.begin(), values.end(), t.data<std::int64_t>());
    return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, {.dtype = dtype}); }

const Shape& Tensor::shape() const {
    require(*this, "shape");
    return impl_->shape;
}

std::int64_t Tensor::size(std::int64_t d) const { return shape()[wrap_dim("size", d, dim())]; }
std::int64_t Tensor::numel() const { return numel_of(shape()); }
DType Tensor::dtype() const {
    require(*this, "dtype");
    return impl_->dtype;
}

template <typename T>
static constexpr DType dtype_of() {
    if constexpr (std::is_same_v<T, float>) return DType::Float32;
    else if constexpr (std::is_same_v<T, double>) return DType::Float64;
    else return DType::Int64;
}

template <typename T>
T* Tensor::data() {
    require(*this, "data");
    if (impl_->dtype != dtype_of<T>())
        fail("data: tensor has dtype {} but {} was asked for", dtype_name(impl_->dtype), dtype_name(dtype_of<T>()));
    return static_cast<T*>(impl_->storage->data);
}
template <typename T>
const T* Tensor::data() const {
    return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template std::int64_t* Tensor::data<std::int64_t>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const std::int64_t* Tensor::data<std::int64_t>() const;

void* Tensor::raw_data() const {
    require(*this, "raw_data");
    return impl_->storage->data;
}
const std::shared_ptr<Storage>& Tensor::storage() const {
    require(*this, "storage");
    return impl_->storage;
}

bool Tensor::requires_grad() const { return defined() && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool value) {
    require(*this, "set_requires_grad");
    if (impl_->grad_fn && !value)
        fail<Error>("set_requires_grad: only leaf tensors can be changed; use detach() on the output of '{}'",
                    impl_->grad_fn->op);
    if (value && !is_floating(impl_->dtype))
        fail("set_requires_grad: only floating-point tensors can require grad, got {}", dtype_name(impl_->dtype));
    impl_->requires_grad = value;
    return *this;
}

bool Tensor::is_leaf() const { return defined() && impl_->grad_fn == nullptr; }
std::shared_ptr<Node> Tensor::grad_fn() const { return defined() ? impl_->grad_fn : nullptr; }

Tensor Tensor::grad() const {
    require(*this, "grad");
    return impl_->grad ? Tensor(impl_->grad) : Tensor();
}

void Tensor::set_grad(const Tensor& g) {
    require(*this, "set_grad");
    if (!g.defined()) {
        impl_->grad.reset();
        return;
    }
    if (g.shape() != shape() || g.dtype() != dtype())
        fail("set_grad: gradient {} {} does not match tensor {} {}", shape_str(g.shape()), dtype_name(g.dtype()),
             shape_str(shape()), dtype_name(dtype()));
    impl_->grad = g.impl_ptr();
}

void Tensor::zero_grad() const {
    require(*this, "zero_grad");
    impl_->grad.reset();
}

void Tensor::backward(BackwardOptions options) const {
    require(*this, "backward");
    if (numel() != 1)
        fail("backward: called without a gradient on a tensor of shape {}; only a one-element tensor (a loss) can "
             "start backward on its own, pass backward(grad) otherwise",
             shape_str(shape()));
    run_backward(*this, ones(shape(), {.dtype = dtype()}), options.retain_graph);
}

void Tensor::backward(const Tensor& grad, BackwardOptions options) const {
    require(*this, "backward");
    run_backward(*this, grad, options.retain_graph);
}

Tensor Tensor::detach() const {
    require(*this, "detach");
    return Tensor(std::make_shared<TensorImpl>(impl_->storage, impl_->shape, impl_->dtype));
}

void Tensor::retain_grad() const {
    require(*this, "retain_grad");
    impl_->retains_grad = true;
}

void Tensor::register_hook(TensorHook hook) const {
    require(*this, "register_hook");
    if (!impl_->requires_grad) fail<Error>("register_hook: the tensor does not require grad");
    impl_->hooks.push_back(std::move(hook));
}

Tensor& Tensor::set_name(std::string n) {
    require(*this, "set_name");
    impl_->name = std::move(n);
    return *this;
}
const std::string& Tensor::name() const {
    require(*this, "name");
    return impl_->name;
}

Tensor Tensor::clone() const {
    require(*this, "clone");
    Tensor t = empty(shape(), dtype());
    std::memcpy(t.raw_data(), raw_data(), static_cast<std::size_t>(numel()) * dtype_size(dtype()));
    return t;
}

Tensor Tensor::to(DType target) const {
    require(*this, "to");
    if (target == dtype()) return clone();
    Tensor t = empty(shape(), target);
    const std::int64_t n = numel();
    auto convert = [&](auto* dst) {
        using D = std::remove_pointer_t<decltype(dst)>;
        switch (dtype()) {
            case DType::Float32: { auto* s = data<float>(); for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(s[i]); break; }
            case DType::Float64: { auto* s = data<double>(); for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(s[i]); break; }
            case DType::Int64: { auto* s = data<std::int64_t>(); for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(s[i]); break; }
        }
    };
    switch (target) {
        case DType::Float32: convert(t.data<float>()); break;
        case DType::Float64: convert(t.data<double>()); break;
        case DType::Int64: convert(t.data<std::int64_t>()); break;
    }
    return t;
}

namespace {
double element(const Tensor& t, std::int64_t i) {
    switch (t.dtype()) {
        case DType::Float32: return t.data<float>()[i];
        case DType::Float64: return t.data<double>()[i];
        case DType::Int64: return static_cast<double>(t.data<std::int64_t>()[i]);
    }
    return 0;
}
}  // namespace

double Tensor::item() const {
    require(*this, "item");
    if (numel() != 1) fail("item: tensor of shape {} has {} elements, not one", shape_str(shape()), numel());
    return element(*this, 0);
}

double Tensor::at(std::initializer_list<std::int64_t> index) const {
    require(*this, "at");
    if (static_cast<std::int64_t>(index.size()) != dim())
        fail("at: {} indices for a tensor of shape {}", index.size(), shape_str(shape()));
    std::int64_t flat = 0, d = 0;
    for (auto i : index) {
        const auto s = shape()[d];
        if (i < 0 || i >= s)
            fail<IndexError>("at: index {} out of range for dim {} of size {} (shape {})", i, d, s, shape_str(shape()));
        flat = flat * s + i;
        ++d;
    }
    return element(*this, flat);
}

std::vector<double> Tensor::to_vector() const {
    require(*this, "to_vector");
    std::vector<double> v(static_cast<std::size_t>(numel()));
    for (std::int64_t i = 0; i < numel(); ++i) v[i] = element(*this, i);
    return v;
}

std::vector<float> Tensor::to_float_vector() const {
    auto v = to_vector();
    return {v.begin(), v.end()};
}

std::vector<std::int64_t> Tensor::to_ids() const {
    require(*this, "to_ids");
    if (dtype() != DType::Int64) fail("to_ids: expects an int64 tensor, got {}", dtype_name(dtype()));
    return {data<std::int64_t>(), data<std::int64_t>() + numel()};
}

std::string Tensor::str() const {
    if (!defined()) return "Tensor(undefined)";
    std::string out = fmt::format("Tensor(shape={}, dtype={}", shape_str(shape()), dtype_name(dtype()));
    if (requires_grad()) out += grad_fn() ? fmt::format(", grad_fn={}", grad_fn()->op) : ", requires_grad";
    out += ", values=[";
    const std::int64_t n = numel(), shown = n > 12 ? 6 : n;
    auto fmt_el = [&](std::int64_t i) {
        return dtype() == DType::Int64 ? fmt::format("{}", static_cast<std::int64_t>(element(*this, i)))
                                       : fmt::format("{:.6g}", element(*this, i));
    };
    for (std::int64_t i = 0; i < shown; ++i) out += (i ? ", " : "") + fmt_el(i);
    if (n > 12) {
        out += ", ...";
        for (std::int64_t i = n - 3; i < n; ++i) out += ", " + fmt_el(i);
    }
    return out + "])";
}

void Tensor::mark_modified() const {
    require(*this, "mark_modified");
    ++impl_->storage->version;
}

void Tensor::fill_(double value) {
    require(*this, "fill_");
    mark_modified();
    const std::int64_t n = numel();
    switch (dtype()) {
        case DType::Float32: std::fill_n(data<float>(), n, static_cast<float>(value)); break;
        case DType::Float64: std::fill_n(data<double>(), n, value); break;
        case DType::Int64: std::fill_n(data<std::int64_t>(), n, static_cast<std::int64_t>(value)); break;
    }
}

void Tensor::copy_(const Tensor& src) {
    require(*this, "copy_");
    check_same_shape("copy_", *this, src);
    check_same_dtype("copy_", *this, src);
    mark_modified();
    if (raw_data() != src.raw_data())
        std::memcpy(raw_data(), src.raw_data(), static_cast<std::size_t>(numel()) * dtype_size(dtype()));
}

void Tensor::convert_(DType target) {
    require(*this, "convert_");
    if (impl_->grad_fn) fail<Error>("convert_: only leaf tensors can change dtype in place (this one comes from '{}')", impl_->grad_fn->op);
    if (impl_->requires_grad && !is_floating(target))
        fail("convert_: a tensor that requires grad must stay floating-point, not {}", dtype_name(target));
    if (target == impl_->dtype) return;
    Tensor converted = to(target);
    impl_->storage = converted.storage();
    impl_->dtype = target;
    impl_->grad.reset();
}

// ---- creation -----------------------------------------------------------------------------------

Tensor full(const Shape& shape, double value, TensorOptions options) {
    Tensor t = Tensor::empty(shape, options.dtype);
    t.fill_(value);
    if (options.requires_grad) t.set_requires_grad(true);
    return t;
}
Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype()}); }

Tensor arange(std::int64_t n, TensorOptions options) {
    if (n < 0) fail("arange: n must be non-negative, got {}", n);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
    return Tensor::from(v, {n}, options);
}

namespace {
template <typename Draw>
Tensor random_tensor(const char* op, const Shape& shape, TensorOptions options, Generator* gen, Draw draw) {
    if (!is_floating(options.dtype)) fail("{}: expects a floating-point dtype, got {}", op, dtype_name(options.dtype));
    Generator& g = gen ? *gen : default_generator();
    Tensor t = Tensor::empty(shape, options.dtype);
    const std::int64_t n = t.numel();
    if (options.dtype == DType::Float32) {
        float* p = t.data<float>();
        for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(draw(g));
    } else {
        double* p = t.data<double>();
        for (std::int64_t i = 0; i < n; ++i) p[i] = draw(g);
    }
    if (options.requires_grad) t.set_requires_grad(true);
    return t;
}
}  // namespace

Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) {
    return random_tensor("rand", shape, options, gen, [](Generator& g) { return g.uniform(); });
}
Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) {
    return random_tensor("randn", shape, options, gen, [](Generator& g) { return g.normal(); });
}
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions options, Generator* gen) {
    if (!(lo <= hi)) fail("uniform: lo must not exceed hi, got [{}, {})", lo, hi);
    return random_tensor("uniform", shape, options, gen, [lo, hi](Generator& g) { return g.uniform(lo, hi); });
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
    if (a.shape() != b.shape()) return false;
    auto va = a.to_vector(), vb = b.to_vector();
    for (std::size_t i = 0; i < va.size(); ++i) {
        if (std::isnan(va[i]) || std::isnan(vb[i])) return false;
        if (std::abs(va[i] - vb[i]) > atol + rtol * std::abs(vb[i])) return false;
    }
    return true;
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) fail("{}: shapes differ: {} vs {}", op, shape_str(a.shape()), shape_str(b.shape()));
}
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
    if (a.dtype() != b.dtype())
        fail("{}: dtypes differ: {} vs {} (convert one with .to())", op, dtype_name(a.dtype()), dtype_name(b.dtype()));
}
void check_defined(const char* op, const Tensor& t, const char* what) {
    if (!t.defined()) fail("{}: {} is an undefined tensor", op, what);
}
std::int64_t wrap_dim(const char* op, std::int64_t dim, std::int64_t rank) {
    const std::int64_t r = std::max<std::int64_t>(rank, 1);
    if (dim < -r || dim >= r)
        fail<IndexError>("{}: dim {} out of range for a tensor with {} dims (expected {} to {})", op, dim, rank, -r,
                         r - 1);
    return dim < 0 ? dim + r : dim;
}

}  // namespace seqgrad
