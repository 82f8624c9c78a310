import CNablaKernels

extension Tensor {
    /// Matrix product with PyTorch's `matmul` semantics.
    ///
    /// Vector·vector is a dot product, matrix·vector and vector·matrix drop the vector's axis,
    /// and tensors of rank > 2 are batches of matrices whose batch dimensions broadcast.
    public func matmul(_ other: Tensor) -> Tensor {
        let a = self, b = other
        nablaCheck(a.rank >= 1 && b.rank >= 1, "matmul: scalars cannot be multiplied as matrices (shapes \(a.shape) and \(b.shape))")
        nablaCheck(a.dtype == b.dtype, "matmul: dtype mismatch \(a.dtype) and \(b.dtype) (shapes \(a.shape) × \(b.shape))")
        a.requireFloatingPoint("matmul")
        // Promote vectors to matrices, remember which axes to drop.
        let a2 = a.rank == 1 ? a.reshaped([1, a.shape[0]]) : a
        let b2 = b.rank == 1 ? b.reshaped([b.shape[0], 1]) : b
        let k1 = a2.shape[a2.rank - 1], k2 = b2.shape[b2.rank - 2]
        nablaCheck(k1 == k2, "matmul: \(a.shape) × \(b.shape): inner dimensions \(k1) and \(k2) differ")
        var r = Tensor.batchedMatmul(a2, b2)
        if a.rank == 1 { r = r.squeezed(axis: -2) }
        if b.rank == 1 { r = r.squeezed(axis: -1) }
        return r
    }

    /// `a · b` for a of rank ≥ 2 and b of rank ≥ 2 (shapes already checked).
    static func batchedMatmul(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = matmulRaw(a, b, transA: false, transB: false)
        let av = a.detached(), bv = b.detached()
        guard Tensor.recording(a, b) else { return out }
        let needsFirst = a.liveNode != nil, needsSecond = b.liveNode != nil
        return record(out, op: "MatMul", a, b) { g in
            // dA = g · Bᵀ, dB = Aᵀ · g (summed over broadcast batch dimensions).
            let g = g.to(av.dtype)
            return [!needsFirst ? nil : matmulRaw(g, bv, transA: false, transB: true).sum(toShape: av.shape),
                    !needsSecond ? nil : matmulRaw(av, g, transA: true, transB: false).sum(toShape: bv.shape)]
        }.saving(bv, if: needsFirst, av, if: needsSecond)
    }

    /// op(a) · op(b) over broadcast batch dimensions, no autograd. `trans` refers to the
    /// last two axes of the stored tensor.
    /// A transposed view of a contiguous tensor is read in place: GEMM is told to transpose.
    static func matmulRaw(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
        if let t = a.transposedSource() { return matmulRaw(t, b, transA: !transA, transB: transB) }
        if let t = b.transposedSource() { return matmulRaw(a, t, transA: transA, transB: !transB) }
        let ra = a.rank, rb = b.rank
        let m = transA ? a.shape[ra - 1] : a.shape[ra - 2]
        let k = transA ? a.shape[ra - 2] : a.shape[ra - 1]
        let n = transB ? b.shape[rb - 2] : b.shape[rb - 1]
        let batchA = Array(a.shape[..<(ra - 2)]), batchB = Array(b.shape[..<(rb - 2)])
        // Fast path: b is a single matrix and a is not transposed: fold a's batch into M.
        if batchB.isEmpty && !transA && !batchA.isEmpty {
            let rows = Shape.count(batchA) * m
            let out = Tensor(uninitializedShape: batchA + [m, n], dtype: a.dtype)
            gemm(transA, transB, rows, n, k, a, 0, b, 0, out, 0)
            return out
        }
        let batch = Shape.broadcastOrTrap(batchA, batchB, op: "matmul (batch dimensions)")
        let out = Tensor(uninitializedShape: batch + [m, n], dtype: a.dtype)
        let nb = Shape.count(batch)
        let sa = Shape.broadcastStrides(from: batchA, to: batch), sb = Shape.broadcastStrides(from: batchB, to: batch)
        let bst = Shape.strides(batch)
        for i in 0..<nb {
            var oa = 0, ob = 0, rem = i
            for d in 0..<batch.count { let c = rem / bst[d]; rem %= bst[d]; oa += c * sa[d]; ob += c * sb[d] }
            gemm(transA, transB, m, n, k, a, oa * m * k, b, ob * k * n, out, i * m * n)
        }
        return out
    }

    /// When this tensor is a view that swaps the last two axes of a whole contiguous
    /// tensor (what ``transposed(_:_:)`` returns), that tensor; nil otherwise.
    func transposedSource() -> Tensor? {
        guard let v = view, rank >= 2, v.offset == 0, v.source.count == count else { return nil }
        var s = shape
        s.swapAt(rank - 2, rank - 1)
        var st = Shape.strides(s)
        st.swapAt(rank - 2, rank - 1)
        guard v.strides == st else { return nil }
        return Tensor(storage: v.source, shape: s)
    }

    /// One GEMM call on row-major operands at element offsets.
    static func gemm(_ tA: Bool, _ tB: Bool, _ m: Int, _ n: Int, _ k: Int,
                     _ a: Tensor, _ oa: Int, _ b: Tensor, _ ob: Int, _ c: Tensor, _ oc: Int) {
        let lda = tA ? m : k, ldb = tB ? k : n
        if a.dtype == .float32 {
            nabla_sgemm(tA ? 1 : 0, tB ? 1 : 0, m, n, k, 1, a.pointer(Float.self) + oa, lda,
                        b.pointer(Float.self) + ob, ldb, 0, c.pointer(Float.self) + oc, n)
        } else {
            nabla_dgemm(tA ? 1 : 0, tB ? 1 : 0, m, n, k, 1, a.pointer(Double.self) + oa, lda,
                        b.pointer(Double.self) + ob, ldb, 0, c.pointer(Double.self) + oc, n)
        }
    }

    /// Outer product of two vectors: `[m] ⊗ [n] → [m, n]`.
    public func outer(_ other: Tensor) -> Tensor {
        nablaCheck(rank == 1 && other.rank == 1, "outer: expects two vectors, got shapes \(shape) and \(other.shape)")
        return reshaped([count, 1]) * other.reshaped([1, other.count])
    }

    /// Dot product of two vectors.
    public func dot(_ other: Tensor) -> Tensor {
        nablaCheck(rank == 1 && other.rank == 1 && count == other.count, "dot: expects two vectors of equal length, got \(shape) and \(other.shape)")
        return matmul(other)
    }
}

/// An error from a linear-algebra solver (the input was singular or not positive definite).
public struct LinearAlgebraError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public let description: String
}

/// Dense float64 solvers, used by the closed-form regressions.
///
/// They are not differentiable (their results do not require gradients).
public enum LinearAlgebra {
    /// The lower-triangular Cholesky factor L of a symmetric positive-definite matrix (A = L·Lᵀ).
    ///
    /// Throws if A is not positive definite.
    public static func cholesky(_ a: Tensor) throws -> Tensor {
        nablaCheck(a.rank == 2 && a.shape[0] == a.shape[1], "cholesky: expects a square matrix, got shape \(a.shape)")
        let n = a.shape[0]
        let A = a.to(.float64).doubles
        var L = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            var d = A[j * n + j]
            for k in 0..<j { d -= L[j * n + k] * L[j * n + k] }
            guard d > 0, d.isFinite else {
                throw LinearAlgebraError(description: "cholesky: matrix is not positive definite (pivot \(j) is \(d))")
            }
            let ljj = d.squareRoot()
            L[j * n + j] = ljj
            for i in (j + 1)..<max(n, j + 1) {
                var s = A[i * n + j]
                for k in 0..<j { s -= L[i * n + k] * L[j * n + k] }
                L[i * n + j] = s / ljj
            }
        }
        return Tensor(L, shape: [n, n])
    }

    /// Solves A·X = B for symmetric positive-definite A by Cholesky factorisation.
    ///
    /// B may be a vector `[n]` or a matrix `[n, k]`.
    public static func solveSPD(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let n = a.shape[0]
        nablaCheck(b.rank >= 1 && b.shape[0] == n, "solveSPD: right-hand side of shape \(b.shape) does not match matrix \(a.shape)")
        let L = try cholesky(a).doubles
        let k = b.rank == 1 ? 1 : b.shape[1]
        var X = b.to(.float64).doubles
        for c in 0..<k {
            // Forward substitution L·y = b, then back substitution Lᵀ·x = y.
            for i in 0..<n {
                var s = X[i * k + c]
                for j in 0..<i { s -= L[i * n + j] * X[j * k + c] }
                X[i * k + c] = s / L[i * n + i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {
                var s = X[i * k + c]
                for j in (i + 1)..<n { s -= L[j * n + i] * X[j * k + c] }
                X[i * k + c] = s / L[i * n + i]
            }
        }
        return Tensor(X, shape: b.shape)
    }

    /// The least-squares solution of A·X ≈ B by Householder QR.
    ///
    /// A is `[m, n]` with m ≥ n and full column rank. QR is more accurate than the normal
    /// equations.
    public static func leastSquares(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        nablaCheck(a.rank == 2, "leastSquares: expects a matrix, got shape \(a.shape)")
        let m = a.shape[0], n = a.shape[1]
        nablaCheck(m >= n, "leastSquares: needs at least as many rows as columns, got shape \(a.shape)")
        nablaCheck(b.rank >= 1 && b.shape[0] == m, "leastSquares: right-hand side of shape \(b.shape) does not match matrix \(a.shape)")
        let k = b.rank == 1 ? 1 : b.shape[1]
        var R = a.to(.float64).doubles
        var Y = b.to(.float64).doubles
        var scaleMax = 0.0
        for v in R { scaleMax = max(scaleMax, abs(v)) }
        for j in 0..<n {
            // Householder vector for column j below the diagonal.
            var norm = 0.0
            for i in j..<m { norm += R[i * n + j] * R[i * n + j] }
            norm = norm.squareRoot()
            guard norm > 1e-12 * max(scaleMax, 1) else {
                throw LinearAlgebraError(description: "leastSquares: matrix is rank deficient (column \(j) is a combination of earlier columns)")
            }
            let alpha = R[j * n + j] > 0 ? -norm : norm
            var v = [Double](repeating: 0, count: m)
            for i in j..<m { v[i] = R[i * n + j] }
            v[j] -= alpha
            var vnorm2 = 0.0
            for i in j..<m { vnorm2 += v[i] * v[i] }
            if vnorm2 == 0 { continue }
            for c in j..<n {
                var s = 0.0
                for i in j..<m { s += v[i] * R[i * n + c] }
                let f = 2 * s / vnorm2
                for i in j..<m { R[i * n + c] -= f * v[i] }
            }
            for c in 0..<k {
                var s = 0.0
                for i in j..<m { s += v[i] * Y[i * k + c] }
                let f = 2 * s / vnorm2
                for i in j..<m { Y[i * k + c] -= f * v[i] }
            }
        }
        // Back substitution R[:n,:n]·X = Y[:n].
        var X = [Double](repeating: 0, count: n * k)
        for c in 0..<k {
            for i in stride(from: n - 1, through: 0, by: -1) {
                var s = Y[i * k + c]
                for j in (i + 1)..<n { s -= R[i * n + j] * X[j * k + c] }
                X[i * k + c] = s / R[i * n + i]
            }
        }
        return Tensor(X, shape: b.rank == 1 ? [n] : [n, k])
    }
}

extension Tensor {
    /// The affine map of a dense layer, `self · weightᵀ + bias`, in one fused operation.
    ///
    /// This is PyTorch's `torch.nn.functional.linear`.
    ///
    /// `self` is `[..., in]`, `weight` is `[out, in]` (PyTorch's layout) and `bias` is
    /// `[out]`. The transpose is never materialised: the forward pass is one GEMM with a
    /// transposed operand plus a row-broadcast add, and the backward pass computes
    /// dx = g·W, dW = gᵀ·x and db = Σ g with one GEMM or column sum each.
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        nablaCheck(weight.rank == 2, "linear: weight must be [out, in], got shape \(weight.shape)")
        let inF = weight.shape[1], outF = weight.shape[0]
        nablaCheck(rank >= 1 && shape[rank - 1] == inF,
                   "linear: input of shape \(shape) does not end in \(inF), the input size of weight \(weight.shape)")
        nablaCheck(dtype == weight.dtype, "linear: input is \(dtype) but weight is \(weight.dtype)")
        requireFloatingPoint("linear")
        if let b = bias {
            nablaCheck(b.shape == [outF], "linear: bias of shape \(b.shape) does not match weight \(weight.shape)")
            nablaCheck(b.dtype == dtype, "linear: bias is \(b.dtype) but input is \(dtype)")
        }
        let rows = Shape.count(Array(shape.dropLast()))
        var outShape = shape
        outShape[outShape.count - 1] = outF
        let out = Tensor(uninitializedShape: outShape, dtype: dtype)
        if inF == 0 {
            if dtype == .float32 { out.pointer(Float.self).initialize(repeating: 0, count: out.count) }
            else { out.pointer(Double.self).initialize(repeating: 0, count: out.count) }
        } else {
            Tensor.gemm(false, true, rows, outF, inF, self, 0, weight, 0, out, 0)
        }
        if let b = bias {
            if dtype == .float32 {
                nabla_s_binary_rows(NABLA_BIN_ADD, out.pointer(Float.self), b.pointer(Float.self), out.pointer(Float.self), rows, outF)
            } else {
                let po = out.pointer(Double.self), pb = b.pointer(Double.self)
                for r in 0..<rows { for c in 0..<outF { po[r * outF + c] += pb[c] } }
            }
        }
        let xNeeds = requiresGrad, wNeeds = weight.requiresGrad, bNeeds = bias?.requiresGrad ?? false
        guard (xNeeds || wNeeds || bNeeds) && nabla_grad_enabled() != 0 else { return out }
        let x = detached(), w = weight.detached()
        var result = out
        let hasBias = bias != nil
        defer { result.node?.notePiece(self, at: 0) }
        result.node = GradNode(op: "Linear", liveNode, weight.liveNode, bias?.liveNode, count: hasBias ? 3 : 2) { g in
            let g = g.to(x.dtype)
            // dx = g · W : [rows, out] × [out, in]
            var dx: Tensor?
            if xNeeds {
                let t = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
                Tensor.gemm(false, false, rows, inF, outF, g, 0, w, 0, t, 0)
                dx = t
            }
            // dW = gᵀ · x : [out, rows] × [rows, in]
            var dw: Tensor?
            if wNeeds {
                let t = Tensor(uninitializedShape: w.shape, dtype: w.dtype)
                Tensor.gemm(true, false, outF, inF, rows, g, 0, x, 0, t, 0)
                dw = t
            }
            // db = Σ over rows of g
            guard hasBias else { return [dx, dw] }
            guard bNeeds else { return [dx, dw, nil] }
            let db = Tensor(uninitializedShape: [outF], dtype: x.dtype)
            if x.dtype == .float32 {
                nabla_s_sum_rows(g.pointer(Float.self), db.pointer(Float.self), rows, outF)
            } else {
                let pg = g.pointer(Double.self), pd = db.pointer(Double.self)
                for c in 0..<outF { pd[c] = 0 }
                for r in 0..<rows { for c in 0..<outF { pd[c] += pg[r * outF + c] } }
            }
            return [dx, dw, db]
        }
        if GraphCapture.isActive { GraphCapture.note(result, bias.map { [self, weight, $0] } ?? [self, weight]) }
        return result.saving(w, if: xNeeds, x, if: wNeeds)
    }
}
