import CNablaKernels

/// Facts about, and switches for, the compute kernels.
///
/// It reports which GEMM path is active, which instruction set the vector kernels use,
/// and how many threads they may use.
public enum Backend {
    /// The GEMM paths.
    public enum GEMMPath: String, Sendable {
        /// Nabla's own packed, register-blocked kernel.
        case builtin
        /// OpenBLAS found at run time (Linux).
        case openblas
        /// Apple's Accelerate framework (macOS).
        case accelerate
    }

    /// The active GEMM path, chosen at first use.
    ///
    /// `NABLA_BLAS=builtin|openblas|accelerate` forces one; otherwise Accelerate or OpenBLAS
    /// when `dlopen` finds them, except on AVX-512 CPUs, where the built-in kernel measured
    /// faster than OpenBLAS and is used.
    public static var gemmPath: GEMMPath {
        switch nabla_blas_active() {
        case NABLA_BLAS_OPENBLAS: return .openblas
        case NABLA_BLAS_ACCELERATE: return .accelerate
        default: return .builtin
        }
    }

    /// A one-line description of the GEMM path, e.g. `openblas (libopenblas.so.0)`.
    public static var gemmDescription: String { String(cString: nabla_blas_description()) }

    /// Selects a GEMM path; returns false if it is not available on this machine.
    @discardableResult
    public static func selectGEMM(_ path: GEMMPath) -> Bool {
        let b: nabla_blas_backend
        switch path {
        case .builtin: b = NABLA_BLAS_BUILTIN
        case .openblas: b = NABLA_BLAS_OPENBLAS
        case .accelerate: b = NABLA_BLAS_ACCELERATE
        }
        return nabla_blas_select(b) == 0
    }

    /// The instruction set of the vector kernels (`avx512`, `avx2`, `neon`, `scalar`).
    public static var instructionSet: String { String(cString: nabla_cpu_isa_name()) }

    /// Threads the kernels may use (default: the number of CPUs, or `NABLA_NUM_THREADS`).
    public static var threadCount: Int {
        get { Int(nabla_get_num_threads()) }
        set { nabla_set_num_threads(Int32(newValue)) }
    }
}
