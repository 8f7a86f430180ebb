// model/hparams.h — hyper-parameters from GGUF metadata.
#pragma once

#include "model/arch/arch.h"
#include "plumb/gguf.h"
#include "plumb/model.h"

namespace plumb::model {

// Reads <arch>.* keys (see ModelHParams for the list) and checks them for consistency.  A
// missing required key is NotFound naming the file and the key; an impossible value is Corrupt.
Result<ModelHParams> read_hparams(const gguf::File& file, const ArchSpec& arch);

}  // namespace plumb::model
