// Checkpoint writes that overlap the next epoch. At the end of an epoch the trainer copies what it
// will write (the model's and the optimizer's tensors, the metrics) and hands the writing — each file
// to a temporary, fsync'ed and renamed (core/atomic_file.h) — to one background thread, then starts
// the next epoch at once: the fsyncs wait on the disk, not on the training.
//
// One job at a time, in order: submit() first waits for the job before it. A job's error (a full disk,
// an unwritable folder) is kept and thrown, unchanged, by the next submit() or wait() on the training
// thread, so it stops the run as a synchronous write would, one epoch later at the most. With
// `background == false` every job runs inside submit() (`seqgrad train --blocking-save`).
#pragma once
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "core/tensor.h"

namespace seqgrad::models {

class BackgroundSave {
public:
    explicit BackgroundSave(bool background) : background_(background) {}
    BackgroundSave(const BackgroundSave&) = delete;
    BackgroundSave& operator=(const BackgroundSave&) = delete;
    // Waits for the pending job; its error, if any, is dropped (an error already on its way out of the
    // training thread is the one reported).
    ~BackgroundSave();

    // Waits for the job before (throwing its error), then runs `job` in the background (or now).
    void submit(std::function<void()> job);
    // Returns when no job is pending; throws the error of the job that just finished, if it failed.
    void wait();

private:
    bool background_;
    std::thread worker_;
    std::exception_ptr error_;
};

// Copies of the tensors (same names, dtypes and values, storage of their own, no history): what a
// background job writes while training goes on changing the originals.
std::map<std::string, Tensor> snapshot(const std::map<std::string, Tensor>& tensors);

}  // namespace seqgrad::models
