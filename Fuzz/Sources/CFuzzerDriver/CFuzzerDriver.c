// Declarations only: LLVMFuzzerRunDriver lives in libclang_rt.fuzzer.
#include "CFuzzerDriver.h"
