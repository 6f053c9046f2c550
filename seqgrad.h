// The whole public API of seqgrad in one include.
#pragma once
#include "core/allocator.h"
#include "core/autograd.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/tensor.h"
#include "core/fused_ops.h"
#include "core/graph_export.h"
