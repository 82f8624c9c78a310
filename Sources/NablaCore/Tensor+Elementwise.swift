import CNablaKernels
import RealModule

// Element-wise operations. Each op's derivative sits right beside its forward
// computation, in the closure passed to `record`.

extension Tensor {
    /// Sums `g` down to `shape`, undoing broadcasting (used by every broadcasting rule).
    public func sum(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        nablaCheck(lead >= 0, "sum(toShape:): cannot reduce \(shape) to \(target)")
        var axes: [Int] = Array(0..<lead)
        for (i, d) in target.enumerated() where d == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        var r = axes.isEmpty ? self : self.sum(axes: axes, keepDims: true)
        if r.shape != target { r = r.reshaped(target) }
        return r
    }

    // MARK: Arithmetic

    /// Element-wise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryRaw(a, b, FAdd.self, kernel: NABLA_BIN_ADD, op: "add")
        let sa = a.shape, sb = b.shape
        guard Tensor.recording(a, b) else { return out }
        return record(out, op: "Add", a, b) { g in [g.sum(toShape: sa), g.sum(toShape: sb)] }
    }

    /// Element-wise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryRaw(a, b, FSub.self, kernel: NABLA_BIN_SUB, op: "sub")
        let sa = a.shape, sb = b.shape
        guard Tensor.recording(a, b) else { return out }
        return record(out, op: "Sub", a, b) { g in [g.sum(toShape: sa), (-g).sum(toShape: sb)] }
    }

    /// Element-wise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryRaw(a, b, FMul.self, kernel: NABLA_BIN_MUL, op: "mul")
        let av = a.detached(), bv = b.detached()
        guard Tensor.recording(a, b) else { return out }
        let needsFirst = a.liveNode != nil, needsSecond = b.liveNode != nil
        return record(out, op: "Mul", a, b) { g in
            [!needsFirst ? nil : (g * bv).sum(toShape: av.shape),
             !needsSecond ? nil : (g * av).sum(toShape: bv.shape)]
        }.saving(bv, if: needsFirst, av, if: needsSecond)
    }

    /// Element-wise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryRaw(a, b, FDiv.self, kernel: NABLA_BIN_DIV, op: "div")
        let av = a.detached(), bv = b.detached()
        guard Tensor.recording(a, b) else { return out }
        let needsFirst = a.liveNode != nil, needsSecond = b.liveNode != nil
        return record(out, op: "Div", a, b) { g in
            [!needsFirst ? nil : (g / bv).sum(toShape: av.shape),
             !needsSecond ? nil : (-(g * av) / (bv * bv)).sum(toShape: bv.shape)]
        }.saving(bv, if: true, av, if: needsSecond)
    }

    /// Negation.
    public static prefix func - (x: Tensor) -> Tensor {
        if !x.dtype.isFloatingPoint {
            nablaCheck(x.dtype != .bool, "negation: a bool tensor cannot be negated (shape \(x.shape)); use .! for logical not")
            return scalarRaw(x, 0, NABLA_BIN_SUB, scalarFirst: true)
        }
        return record(mapRaw(x, FNeg.self, kernel: NABLA_UN_NEG), op: "Neg", x) { g in [-g] }
    }

    // MARK: With Swift scalars (either side)

    static func scalarRaw(_ a: Tensor, _ s: Double, _ k: nabla_binary_op, scalarFirst: Bool) -> Tensor {
        if !a.dtype.isFloatingPoint { return integerScalarRaw(a, s, k, scalarFirst: scalarFirst) }
        let out = Tensor(uninitializedShape: a.shape, dtype: a.dtype)
        let n = a.count
        if a.dtype == .float32 {
            if scalarFirst { nabla_s_scalar_binary(k, Float(s), a.pointer(Float.self), out.pointer(Float.self), n) }
            else { nabla_s_binary_scalar(k, a.pointer(Float.self), Float(s), out.pointer(Float.self), n) }
        } else {
            let p = a.pointer(Double.self), d = out.pointer(Double.self)
            switch (k, scalarFirst) {
            case (NABLA_BIN_ADD, _): for i in 0..<n { d[i] = p[i] + s }
            case (NABLA_BIN_MUL, _): for i in 0..<n { d[i] = p[i] * s }
            case (NABLA_BIN_SUB, false): for i in 0..<n { d[i] = p[i] - s }
            case (NABLA_BIN_SUB, true): for i in 0..<n { d[i] = s - p[i] }
            case (NABLA_BIN_DIV, false): for i in 0..<n { d[i] = p[i] / s }
            case (NABLA_BIN_DIV, true): for i in 0..<n { d[i] = s / p[i] }
            case (NABLA_BIN_POW, false): for i in 0..<n { d[i] = powReal(p[i], s) }
            case (NABLA_BIN_POW, true): for i in 0..<n { d[i] = powReal(s, p[i]) }
            case (NABLA_BIN_MAX, _): for i in 0..<n { d[i] = FMax.apply(p[i], s) }
            case (NABLA_BIN_MIN, _): for i in 0..<n { d[i] = FMin.apply(p[i], s) }
            default: nablaFail("unsupported scalar op")
            }
        }
        return out
    }

    /// Adds a Swift scalar to every element.
    public static func + (a: Tensor, s: Double) -> Tensor {
        record(scalarRaw(a, s, NABLA_BIN_ADD, scalarFirst: false), op: "AddScalar", a) { g in [g] }
    }
    /// Adds a Swift scalar to every element.
    public static func + (s: Double, a: Tensor) -> Tensor { a + s }
    /// Subtracts a Swift scalar from every element.
    public static func - (a: Tensor, s: Double) -> Tensor { a + (-s) }
    /// A Swift scalar minus every element.
    public static func - (s: Double, a: Tensor) -> Tensor {
        record(scalarRaw(a, s, NABLA_BIN_SUB, scalarFirst: true), op: "RSubScalar", a) { g in [-g] }
    }
    /// Multiplies every element by a Swift scalar.
    public static func * (a: Tensor, s: Double) -> Tensor {
        record(scalarRaw(a, s, NABLA_BIN_MUL, scalarFirst: false), op: "MulScalar", a) { g in [g * s] }
    }
    /// Multiplies every element by a Swift scalar.
    public static func * (s: Double, a: Tensor) -> Tensor { a * s }
    /// Divides every element by a Swift scalar.
    public static func / (a: Tensor, s: Double) -> Tensor {
        record(scalarRaw(a, s, NABLA_BIN_DIV, scalarFirst: false), op: "DivScalar", a) { g in [g / s] }
    }
    /// A Swift scalar divided by every element.
    public static func / (s: Double, a: Tensor) -> Tensor {
        let out = scalarRaw(a, s, NABLA_BIN_DIV, scalarFirst: true)
        let av = a.detached()
        // d(s/a)/da = -s/a²
        guard Tensor.recording(a) else { return out }
        return record(out, op: "RDivScalar", a) { g in [g * (-s) / (av * av)] }.saving(av)
    }

    /// Adds a `Float` scalar to every element (computed as a `Double` scalar).
    @_disfavoredOverload public static func + (a: Tensor, s: Float) -> Tensor { a + Double(s) }
    /// Adds every element to a `Float` scalar (computed as a `Double` scalar).
    @_disfavoredOverload public static func + (s: Float, a: Tensor) -> Tensor { a + Double(s) }
    /// Subtracts a `Float` scalar from every element (computed as a `Double` scalar).
    @_disfavoredOverload public static func - (a: Tensor, s: Float) -> Tensor { a - Double(s) }
    /// Subtracts every element from a `Float` scalar (computed as a `Double` scalar).
    @_disfavoredOverload public static func - (s: Float, a: Tensor) -> Tensor { Double(s) - a }
    /// Multiplies every element by a `Float` scalar (computed as a `Double` scalar).
    @_disfavoredOverload public static func * (a: Tensor, s: Float) -> Tensor { a * Double(s) }
    /// Multiplies a `Float` scalar by every element (computed as a `Double` scalar).
    @_disfavoredOverload public static func * (s: Float, a: Tensor) -> Tensor { a * Double(s) }
    /// Divides every element by a `Float` scalar (computed as a `Double` scalar).
    @_disfavoredOverload public static func / (a: Tensor, s: Float) -> Tensor { a / Double(s) }
    /// Divides a `Float` scalar by every element (computed as a `Double` scalar).
    @_disfavoredOverload public static func / (s: Float, a: Tensor) -> Tensor { Double(s) / a }

    /// `a = a + b` (records a graph op, like the operator).
    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    /// `a = a - b`.
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    /// `a = a * b`.
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    /// `a = a / b`.
    public static func /= (a: inout Tensor, b: Tensor) { a = a / b }
    /// `a = a + s`.
    public static func += (a: inout Tensor, s: Double) { a = a + s }
    /// `a = a - s`.
    public static func -= (a: inout Tensor, s: Double) { a = a - s }
    /// `a = a * s`.
    public static func *= (a: inout Tensor, s: Double) { a = a * s }
    /// `a = a / s`.
    public static func /= (a: inout Tensor, s: Double) { a = a / s }

    // MARK: Powers

    /// `self` raised to a scalar power.
    public func pow(_ p: Double) -> Tensor {
        let out: Tensor
        if p == 2 { out = Tensor.mapRaw(self, FSquare.self, kernel: NABLA_UN_SQUARE) }
        else { out = Tensor.scalarRaw(self, p, NABLA_BIN_POW, scalarFirst: false) }
        let x = detached()
        // d(x^p)/dx = p·x^(p-1)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "PowScalar", self) { g in
            // p = 0 is constant (zero gradient, not 0·x⁻¹ = NaN at x = 0), as in PyTorch.
            [p == 0 ? Tensor.zeros(like: x) : p == 2 ? g * x * 2 : g * (x.pow(p - 1) * p)]
        }.saving(x)
    }

    /// Element-wise power with broadcasting: `self ** exponent`.
    public func pow(_ exponent: Tensor) -> Tensor {
        let out = Tensor.binaryRaw(self, exponent, FPow.self, kernel: NABLA_BIN_POW, op: "pow")
        let a = detached(), b = exponent.detached(), o = out
        // ∂/∂a = b·a^(b-1);  ∂/∂b = a^b·log(a)
        guard Tensor.recording(self, exponent) else { return out }
        let needsFirst = self.liveNode != nil, needsSecond = exponent.liveNode != nil
        return Tensor.record(out, op: "Pow", self, exponent) { g in
            // ∂/∂a at exponent 0 is 0 (the function is constant), not 0·a⁻¹ = NaN at a = 0,
            // as in PyTorch and as the scalar-exponent pow.
            [!needsFirst ? nil : (g * Tensor.where(b .== 0, Tensor.zeros(like: b), b * a.pow(b - 1))).sum(toShape: a.shape),
             // ∂/∂b at base 0 is taken as 0 (PyTorch's convention), not 0·log 0 = NaN.
             !needsSecond ? nil : (g * o * Tensor.where(a .== 0, Tensor.zeros(like: a), a.log())).sum(toShape: b.shape)]
        }.saving(a, b, o)
    }

    /// Element-wise square (`x²`).
    public func squared() -> Tensor { pow(2) }

    // MARK: Unary functions

    /// e^x.
    public func exp() -> Tensor {
        let out = Tensor.mapRaw(self, FExp.self, kernel: NABLA_UN_EXP)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Exp", self) { g in [g * out] }.saving(out)
    }
    /// Natural logarithm.
    public func log() -> Tensor {
        let x = detached()
        let out = Tensor.mapRaw(self, FLog.self, kernel: NABLA_UN_LOG)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Log", self) { g in [g / x] }.saving(x)
    }
    /// Square root (derivative 1/(2√x)).
    public func sqrt() -> Tensor {
        let out = Tensor.mapRaw(self, FSqrt.self, kernel: NABLA_UN_SQRT)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Sqrt", self) { g in [g / (out * 2)] }.saving(out)
    }
    /// Absolute value; the derivative at 0 is 0 (PyTorch's convention).
    public func abs() -> Tensor {
        let x = detached()
        let out = Tensor.mapRaw(self, FAbs.self, kernel: NABLA_UN_ABS)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Abs", self) { g in [g * x.sign()] }.saving(x)
    }
    /// Sign: −1, 0 or 1 (zero gradient everywhere).
    public func sign() -> Tensor { Tensor.mapRaw(self, FSign.self, kernel: NABLA_UN_SIGN) }
    /// Sine.
    public func sin() -> Tensor {
        let x = detached()
        let out = Tensor.mapRaw(self, FSin.self, kernel: NABLA_UN_SIN)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Sin", self) { g in [g * x.cos()] }.saving(x)
    }
    /// Cosine.
    public func cos() -> Tensor {
        let x = detached()
        let out = Tensor.mapRaw(self, FCos.self, kernel: NABLA_UN_COS)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Cos", self) { g in [-(g * x.sin())] }.saving(x)
    }
    /// Hyperbolic tangent (derivative 1 − tanh²).
    public func tanh() -> Tensor {
        let out = Tensor.mapRaw(self, FTanh.self, kernel: NABLA_UN_TANH)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Tanh", self) { g in
            [Tensor.fusedBackward(out, g, NablaFusedRule.tanh)]
        }.saving(out)
    }
    /// Logistic sigmoid 1/(1+e^−x), stable for large |x| (derivative σ(1−σ)).
    public func sigmoid() -> Tensor {
        let out = Tensor.mapRaw(self, FSigmoid.self, kernel: NABLA_UN_SIGMOID)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Sigmoid", self) { g in
            [Tensor.fusedBackward(out, g, NablaFusedRule.sigmoid)]
        }.saving(out)
    }
    /// Rectified linear unit max(0, x); the derivative at 0 is 0, as in PyTorch.
    public func relu() -> Tensor {
        let x = detached()
        let out = Tensor.mapRaw(self, FRelu.self, kernel: NABLA_UN_RELU)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Relu", self) { g in
            [Tensor.fusedBackward(x, g, NablaFusedRule.relu)]
        }.saving(x)
    }
    /// The error function (derivative 2/√π·e^(−x²)).
    public func erf() -> Tensor {
        let x = detached()
        let out = Tensor.mapRaw(self, FErf.self, kernel: NABLA_UN_ERF)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Erf", self) { g in
            [g * ((-(x * x)).exp() * (2 / Double.pi.squareRoot()))]
        }.saving(x)
    }

    enum NablaFusedRule { case tanh, sigmoid, relu }

    /// `g · f'(…)` for the activations with fused backward kernels.
    static func fusedBackward(_ v: Tensor, _ g: Tensor, _ rule: NablaFusedRule) -> Tensor {
        let g = g.to(v.dtype)
        let out = Tensor(uninitializedShape: v.shape, dtype: v.dtype)
        let n = v.count
        if v.dtype == .float32 {
            let pv = v.pointer(Float.self), pg = g.pointer(Float.self), po = out.pointer(Float.self)
            switch rule {
            case .tanh: nabla_s_tanh_backward(pv, pg, po, n)
            case .sigmoid: nabla_s_sigmoid_backward(pv, pg, po, n)
            case .relu: nabla_s_relu_backward(pv, pg, po, n)
            }
        } else {
            let pv = v.pointer(Double.self), pg = g.pointer(Double.self), po = out.pointer(Double.self)
            switch rule {
            case .tanh: for i in 0..<n { po[i] = pg[i] * (1 - pv[i] * pv[i]) }
            case .sigmoid: for i in 0..<n { po[i] = pg[i] * pv[i] * (1 - pv[i]) }
            case .relu: for i in 0..<n { po[i] = pv[i] > 0 ? pg[i] : 0 }
            }
        }
        return out
    }

    // MARK: Maximum, minimum, clamp

    /// Element-wise maximum with broadcasting; at ties the gradient is split evenly.
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = binaryRaw(a, b, FMax.self, kernel: NABLA_BIN_MAX, op: "maximum")
        let av = a.detached(), bv = b.detached()
        guard Tensor.recording(a, b) else { return out }
        return record(out, op: "Maximum", a, b) { g in
            let wa = (av .> bv).to(av.dtype) + (av .== bv).to(av.dtype) * 0.5
            return [(g * wa).sum(toShape: av.shape), (g * (1 - wa)).sum(toShape: bv.shape)]
        }.saving(av, bv)
    }
    /// Element-wise minimum with broadcasting; at ties the gradient is split evenly.
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
        if !a.dtype.isFloatingPoint || !b.dtype.isFloatingPoint {
            if !a.dtype.isFloatingPoint && !b.dtype.isFloatingPoint {
                let dt = commonDType(a, b, op: "minimum")
                return integerBinary(a, b, .min, dtype: dt == .bool ? .uint8 : dt, op: "minimum").to(dt)
            }
            let dt = commonDType(a, b, op: "minimum")
            return minimum(a.to(dt), b.to(dt))
        }
        return -maximum(-a, -b)
    }

    /// Limits every element to `[lo, hi]`; the gradient passes where lo ≤ x ≤ hi.
    public func clamped(min lo: Double = -.infinity, max hi: Double = .infinity) -> Tensor {
        nablaCheck(!(lo > hi), "clamp: min \(lo) is greater than max \(hi)")
        requireFloatingPoint("clamp")
        let out = Tensor(uninitializedShape: shape, dtype: dtype)
        if dtype == .float32 {
            nabla_s_clamp(pointer(Float.self), Float(lo), Float(hi), out.pointer(Float.self), count)
        } else {
            let s = pointer(Double.self), d = out.pointer(Double.self)
            for i in 0..<count { d[i] = s[i].isNaN ? s[i] : Swift.min(Swift.max(s[i], lo), hi) }
        }
        let x = detached()
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Clamp", self) { g in
            [Tensor.where((x .>= lo) .& (x .<= hi), g, Tensor.zeros([], dtype: g.dtype))]
        }.saving(x)
    }

    // MARK: Comparisons (no gradient) and where

    /// True where `a == b` (a bool tensor; broadcasts, promoting the dtypes).
    public static func .== (a: Tensor, b: Tensor) -> Tensor { compareRaw(a, b, .eq) }
    /// True where `a != b`.
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { compareRaw(a, b, .ne) }
    /// True where `a < b`.
    public static func .< (a: Tensor, b: Tensor) -> Tensor { compareRaw(a, b, .lt) }
    /// True where `a <= b`.
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { compareRaw(a, b, .le) }
    /// True where `a > b`.
    public static func .> (a: Tensor, b: Tensor) -> Tensor { compareRaw(a, b, .gt) }
    /// True where `a >= b`.
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { compareRaw(a, b, .ge) }

    /// True where an element equals `s`.
    public static func .== (a: Tensor, s: Double) -> Tensor { compareRaw(a, comparisonOperand(s, for: a), .eq) }
    /// True where an element differs from `s`.
    public static func .!= (a: Tensor, s: Double) -> Tensor { compareRaw(a, comparisonOperand(s, for: a), .ne) }
    /// True where an element is below `s`.
    public static func .< (a: Tensor, s: Double) -> Tensor { compareRaw(a, comparisonOperand(s, for: a), .lt) }
    /// True where an element is at most `s`.
    public static func .<= (a: Tensor, s: Double) -> Tensor { compareRaw(a, comparisonOperand(s, for: a), .le) }
    /// True where an element is above `s`.
    public static func .> (a: Tensor, s: Double) -> Tensor { compareRaw(a, comparisonOperand(s, for: a), .gt) }
    /// True where an element is at least `s`.
    public static func .>= (a: Tensor, s: Double) -> Tensor { compareRaw(a, comparisonOperand(s, for: a), .ge) }
    /// True where `s` equals an element.
    public static func .== (s: Double, a: Tensor) -> Tensor { a .== s }
    /// True where `s` differs from an element.
    public static func .!= (s: Double, a: Tensor) -> Tensor { a .!= s }
    /// True where `s` is below an element.
    public static func .< (s: Double, a: Tensor) -> Tensor { a .> s }
    /// True where `s` is at most an element.
    public static func .<= (s: Double, a: Tensor) -> Tensor { a .>= s }
    /// True where `s` is above an element.
    public static func .> (s: Double, a: Tensor) -> Tensor { a .< s }
    /// True where `s` is at least an element.
    public static func .>= (s: Double, a: Tensor) -> Tensor { a .<= s }

    /// Chooses `a` where `condition` is true (non-zero) and `b` elsewhere (as `torch.where`).
    ///
    /// `condition` is a bool tensor (any other dtype counts non-zero as true). All three
    /// broadcast; `a` and `b` are promoted to a common dtype. Differentiable in `a` and `b`.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let dt = commonDType(a, b, op: "where")
        let a = a.to(dt), b = b.to(dt)
        let c = condition.dtype == .bool ? condition : condition.to(.bool)
        let shape = Shape.broadcastOrTrap(Shape.broadcastOrTrap(c.shape, a.shape, op: "where"), b.shape, op: "where")
        let cb = c.broadcast(to: shape).detached()
        // Select rather than blend, so a non-finite value on the unselected side never
        // leaks into the result (0·inf would be NaN).
        let out = selectRaw(cb, a.detached().broadcast(to: shape), b.detached().broadcast(to: shape))
        let sa = a.shape, sb = b.shape
        guard Tensor.recording(a, b) else { return out }
        return record(out, op: "Where", a, b) { g in
            let zero = Tensor.zeros([], dtype: g.dtype)
            return [Tensor.where(cb, g, zero).sum(toShape: sa), Tensor.where(cb, zero, g).sum(toShape: sb)]
        }.saving(cb)
    }

    /// Element-wise logical and of two bool tensors (broadcasts).
    public static func .& (a: Tensor, b: Tensor) -> Tensor {
        broadcastApply(a.to(.bool), b.to(.bool), Bool.self, Bool.self, Bool.self, op: "logicalAnd") { $0 && $1 }
    }
    /// Element-wise logical or of two bool tensors (broadcasts).
    public static func .| (a: Tensor, b: Tensor) -> Tensor {
        broadcastApply(a.to(.bool), b.to(.bool), Bool.self, Bool.self, Bool.self, op: "logicalOr") { $0 || $1 }
    }
    /// Element-wise logical not of a bool tensor.
    public static prefix func .! (a: Tensor) -> Tensor { a .== 0 }

    /// Integer (or bool) `a ∘ s`: integer arithmetic for an integral `s` and +, −, ×, max,
    /// min; anything else in float32 (true division, as PyTorch).
    static func integerScalarRaw(_ a: Tensor, _ s: Double, _ k: nabla_binary_op, scalarFirst: Bool) -> Tensor {
        let t = scalarOperand(s, for: a)
        let kind: IntegerOp?
        switch k {
        case NABLA_BIN_ADD: kind = .add
        case NABLA_BIN_SUB: kind = .sub
        case NABLA_BIN_MUL: kind = .mul
        case NABLA_BIN_MAX: kind = .max
        case NABLA_BIN_MIN: kind = .min
        default: kind = nil
        }
        if let kind, !t.dtype.isFloatingPoint {
            let dt = DType.promote(a.dtype == .bool ? .int64 : a.dtype, t.dtype)
            return scalarFirst ? integerBinary(t, a, kind, dtype: dt, op: "scalar") : integerBinary(a, t, kind, dtype: dt, op: "scalar")
        }
        return scalarRaw(a.to(.float32), s, k, scalarFirst: scalarFirst)
    }

}


extension Tensor {
    /// The exact GELU ½x(1 + erf(x/√2)) as one fused node: one pass forward and one backward
    /// (gx = g·(Φ(x) + x·φ(x))). float32 computes erf by a polynomial accurate to 1.5e-7.
    package func geluErf() -> Tensor {
        requireFloatingPoint("gelu")
        let x = contiguous().detached()
        let out = Tensor(uninitializedShape: shape, dtype: dtype)
        if dtype == .float32 { nabla_s_gelu(x.pointer(Float.self), out.pointer(Float.self), count) }
        else { nabla_d_gelu(x.pointer(Double.self), out.pointer(Double.self), count) }
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "GELU", self) { g in
            let g = g.to(x.dtype).contiguous()
            let gx = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
            if x.dtype == .float32 { nabla_s_gelu_backward(x.pointer(Float.self), g.pointer(Float.self), gx.pointer(Float.self), x.count) }
            else { nabla_d_gelu_backward(x.pointer(Double.self), g.pointer(Double.self), gx.pointer(Double.self), x.count) }
            return [gx]
        }.saving(x)
    }
}

extension Tensor {
    /// Inverted dropout as one fused node: each element is zeroed with probability `p` and
    /// the others scaled by 1/(1 − p). The mask is a hash of `seed` and the element's
    /// position, so it is never stored; the backward pass applies the same mask to the
    /// gradient. A seed drawn from a seeded generator makes it reproducible.
    public func dropout(_ p: Double, seed: UInt64) -> Tensor {
        requireFloatingPoint("dropout")
        nablaCheck(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
        func apply(_ x: Tensor) -> Tensor {
            let x = x.contiguous()
            let out = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
            if x.dtype == .float32 { nabla_s_dropout(x.pointer(Float.self), out.pointer(Float.self), x.count, p, seed) }
            else { nabla_d_dropout(x.pointer(Double.self), out.pointer(Double.self), x.count, p, seed) }
            return out
        }
        let out = apply(detached())
        guard Tensor.recording(self) else { return out }
        let dtype = self.dtype
        return Tensor.record(out, op: "Dropout", self) { g in [apply(g.to(dtype))] }
    }
}
