// A chain for plan nodes that pass rows on unchanged (a side output's port: late rows, dead
// letters; a union): it counts the rows in its operator's metrics, which otherwise showed 0
// rows while the sinks after it received them.
#pragma once

#include "runtime/chain.h"

namespace millstream {

std::unique_ptr<Chain> MakeCountingChain(OperatorMetrics* metrics, ChainList children);

}  // namespace millstream
