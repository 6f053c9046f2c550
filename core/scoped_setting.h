// RAII for a setting read with Get() and changed with Set(value) (grad mode, fast paths, anomaly
// mode, the gemm backend and precision): the constructor sets a value for the scope, the destructor
// restores the one it found.
#pragma once

namespace seqgrad {

template <typename T, T (*Get)(), void (*Set)(T)>
class ScopedSetting {
public:
    explicit ScopedSetting(T value) : prev_(Get()) { Set(value); }
    ~ScopedSetting() { Set(prev_); }
    ScopedSetting(const ScopedSetting&) = delete;
    ScopedSetting& operator=(const ScopedSetting&) = delete;

private:
    T prev_;
};

}  // namespace seqgrad
