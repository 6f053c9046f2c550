// BackgroundSave (models/background_save.h): one std::thread per job, joined before the next.
#include "models/background_save.h"

#include "core/autograd.h"

namespace seqgrad::models {

BackgroundSave::~BackgroundSave() {
    if (worker_.joinable()) worker_.join();
}

void BackgroundSave::wait() {
    if (worker_.joinable()) worker_.join();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void BackgroundSave::submit(std::function<void()> job) {
    wait();
    if (!background_) {
        job();
        return;
    }
    worker_ = std::thread([this, job = std::move(job)] {
        try {
            job();
        } catch (...) {
            error_ = std::current_exception();  // read by wait() after join(): no race
        }
    });
}

std::map<std::string, Tensor> snapshot(const std::map<std::string, Tensor>& tensors) {
    NoGradGuard no_grad;
    std::map<std::string, Tensor> out;
    for (const auto& [name, t] : tensors) out.emplace(name, t.detach().clone());
    return out;
}

}  // namespace seqgrad::models
