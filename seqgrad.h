// The whole public API of seqgrad in one include: tensors and autograd (core/), the layers
// (namespace seqgrad::nn), the optimizers and schedules (seqgrad::optim), and the translator —
// the model interface and its architectures, decoding, training, evaluation, the model folder
// (seqgrad::models), with its data (seqgrad::data) and pictures (seqgrad::viz).
// tests/test_docs.cpp checks that a layer, an optimizer and a model can be made from it alone.
#pragma once
#include "core/allocator.h"
#include "core/autograd.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/fused_ops.h"
#include "core/gradcheck.h"
#include "core/graph_export.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "core/tensor.h"

#include "layers/attention.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/gradcheck_cases.h"
#include "layers/hard_attention.h"
#include "layers/init.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/multihead_attention.h"
#include "layers/positional_encoding.h"
#include "layers/rnn.h"
#include "layers/rnn_cell.h"

#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/optimizer.h"
#include "optim/rmsprop.h"
#include "optim/scheduler.h"
#include "optim/sgd.h"

#include "models/decoding.h"
#include "models/inspect.h"
#include "models/metrics.h"
#include "models/model_folder.h"
#include "models/rnn/seq2seq.h"
#include "models/trainer.h"
#include "models/translation_model.h"
#include "models/translator.h"
