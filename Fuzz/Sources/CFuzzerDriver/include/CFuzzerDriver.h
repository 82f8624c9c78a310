// libFuzzer's driver entry point (libclang_rt.fuzzer, linked by -sanitize=fuzzer).
//
// SwiftPM points an executable's `main` at the module's own entry point, so libFuzzer's
// `main` is never used; each harness's `@main` calls this driver instead.
#ifndef CFUZZERDRIVER_H
#define CFUZZERDRIVER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer with the command line `argc`/`argv` and the per-input callback `callback`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
