#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CBLAS
import ONNXFormat

// Shared parts of LSTM and GRU: attribute/shape validation, activation functions, BLAS helpers.

/// One of the ONNX RNN activation functions, with its alpha/beta.
struct RNNActivation: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case sigmoid, tanh, relu, affine, leakyRelu, thresholdedRelu, scaledTanh, hardSigmoid, elu, softsign, softplus
    }
    var kind: Kind
    var alpha: Float = 0
    var beta: Float = 0

    /// Parses the (case-insensitive) ONNX name; `alphas`/`betas` are consumed in order by the
    /// functions that take them, defaults otherwise (as ONNX Runtime does).
    static func parse(_ name: String, alphas: inout ArraySlice<Float>, betas: inout ArraySlice<Float>) -> RNNActivation? {
        // (kind, number of parameters used, default alpha, default beta)
        let table: [String: (Kind, Int, Float, Float)] = [
            "sigmoid": (.sigmoid, 0, 0, 0), "tanh": (.tanh, 0, 0, 0), "relu": (.relu, 0, 0, 0),
            "affine": (.affine, 2, 1, 0), "leakyrelu": (.leakyRelu, 1, 0.01, 0),
            "thresholdedrelu": (.thresholdedRelu, 1, 1, 0), "scaledtanh": (.scaledTanh, 2, 1, 1),
            "hardsigmoid": (.hardSigmoid, 2, 0.2, 0.5), "elu": (.elu, 1, 1, 0),
            "softsign": (.softsign, 0, 0, 0), "softplus": (.softplus, 0, 0, 0),
        ]
        guard let (kind, uses, a0, b0) = table[name.lowercased()] else { return nil }
        var f = RNNActivation(kind: kind, alpha: a0, beta: b0)
        if uses >= 1, let a = alphas.popFirst() { f.alpha = a }
        if uses >= 2, let b = betas.popFirst() { f.beta = b }
        return f
    }

    /// Applies the function in place to `n` values, first clipping them to [-clip, clip] when
    /// `clip` is finite.
    @inline(__always)
    func apply(_ p: UnsafeMutablePointer<Float>, _ n: Int, clip: Float) {
        if clip.isFinite {
            for i in 0..<n { p[i] = Swift.min(Swift.max(p[i], -clip), clip) }
        }
        let a = alpha, b = beta
        switch kind {
        case .sigmoid: for i in 0..<n { p[i] = 1 / (1 + expf(-p[i])) }
        case .tanh: for i in 0..<n { p[i] = tanhf(p[i]) }
        case .relu: for i in 0..<n { p[i] = Swift.max(p[i], 0) }
        case .affine: for i in 0..<n { p[i] = a * p[i] + b }
        case .leakyRelu: for i in 0..<n { let v = p[i]; p[i] = v >= 0 ? v : a * v }
        case .thresholdedRelu: for i in 0..<n { let v = p[i]; p[i] = v > a ? v : 0 }
        case .scaledTanh: for i in 0..<n { p[i] = a * tanhf(b * p[i]) }
        case .hardSigmoid: for i in 0..<n { p[i] = Swift.min(Swift.max(a * p[i] + b, 0), 1) }
        case .elu: for i in 0..<n { let v = p[i]; p[i] = v >= 0 ? v : a * (expf(v) - 1) }
        case .softsign: for i in 0..<n { let v = p[i]; p[i] = v / (1 + abs(v)) }
        case .softplus: for i in 0..<n { let v = p[i]; p[i] = v > 20 ? v : log1pf(expf(v)) }
        }
    }
}

/// Validated shape and attributes of an LSTM or GRU node.
struct RNNConfig {
    var x: TensorBuffer, w: TensorBuffer, r: TensorBuffer, b: TensorBuffer?
    var initialH: TensorBuffer?
    var directions: Int
    /// Per direction: whether it runs backwards in time.
    var reverse: [Bool]
    var hidden: Int, batch: Int, sequence: Int, inputSize: Int
    /// 0: [seq, batch, ...]; 1: [batch, seq, ...].
    var layout: Int
    /// Per direction, the activation functions (f, g[, h]).
    var activations: [[RNNActivation]]
    /// Clip threshold (infinity when absent).
    var clip: Float

    /// Output shape of Y.
    var yShape: [Int] { layout == 0 ? [sequence, directions, batch, hidden] : [batch, sequence, directions, hidden] }
    /// Output shape of Y_h / Y_c (and of initial_h / initial_c).
    var stateShape: [Int] { layout == 0 ? [directions, batch, hidden] : [batch, directions, hidden] }
}

extension NodeContext {
    /// Validates the common inputs and attributes of LSTM (`gates` 4) and GRU (`gates` 3).
    func rnnConfig(gates: Int, defaultActivations: [String]) throws(RuntimeError) -> RNNConfig {
        let x = try input(0), w = try input(1), r = try input(2)
        for (t, what) in [(x, "X"), (w, "W"), (r, "R")] {
            guard t.dataType == .float else { throw unsupported("\(what) is \(t.dataType); only float32 is supported") }
            guard t.shape.count == 3 else { throw error("\(what) must have rank 3, got \(t.shape)") }
        }
        let direction = try string("direction", default: "forward")
        let reverse: [Bool]
        switch direction {
        case "forward": reverse = [false]
        case "reverse": reverse = [true]
        case "bidirectional": reverse = [false, true]
        default: throw error("direction '\(direction)' is not one of forward, reverse, bidirectional")
        }
        let dirs = reverse.count
        let layout = try int("layout", default: 0)
        guard layout == 0 || layout == 1 else { throw error("layout \(layout) is not 0 or 1") }
        let sequence = layout == 0 ? x.shape[0] : x.shape[1]
        let batch = layout == 0 ? x.shape[1] : x.shape[0]
        let inputSize = x.shape[2]
        let hidden = r.shape[2]
        if has("hidden_size") {
            let h = try int("hidden_size")
            guard h == hidden else { throw error("hidden_size \(h) does not match R \(r.shape)") }
        }
        guard hidden > 0 else { throw error("hidden size must be positive, R is \(r.shape)") }
        guard w.shape == [dirs, gates * hidden, inputSize] else {
            throw error("W must have shape \([dirs, gates * hidden, inputSize]), got \(w.shape)")
        }
        guard r.shape == [dirs, gates * hidden, hidden] else {
            throw error("R must have shape \([dirs, gates * hidden, hidden]), got \(r.shape)")
        }
        let b = optionalInput(3)
        if let b {
            guard b.dataType == .float else { throw unsupported("B is \(b.dataType); only float32 is supported") }
            guard b.shape == [dirs, 2 * gates * hidden] else {
                throw error("B must have shape \([dirs, 2 * gates * hidden]), got \(b.shape)")
            }
        }
        if let lens = optionalInput(4) {
            guard lens.shape == [batch] else { throw error("sequence_lens must have shape [\(batch)], got \(lens.shape)") }
            guard lens.isConstant else {
                throw unsupported("sequence_lens must be known at load time (only full-length sequences are supported)")
            }
            let values = try constantInts(4)
            guard values.allSatisfy({ $0 == sequence }) else {
                throw unsupported("sequence_lens \(values) has sequences shorter than \(sequence); only full-length sequences are supported")
            }
        }
        let stateShape = layout == 0 ? [dirs, batch, hidden] : [batch, dirs, hidden]
        let initialH = optionalInput(5)
        if let h = initialH {
            guard h.dataType == .float else { throw unsupported("initial_h is \(h.dataType); only float32 is supported") }
            guard h.shape == stateShape else { throw error("initial_h must have shape \(stateShape), got \(h.shape)") }
        }
        // Activations.
        let count = defaultActivations.count
        var names = strings("activations") ?? []
        if names.isEmpty {
            names = Array([[String]](repeating: defaultActivations, count: dirs).joined())
        } else if names.count == count && dirs == 2 {
            names += names
        }
        guard names.count == count * dirs else {
            throw error("activations must list \(count * dirs) functions, got \(names)")
        }
        var alphas = ArraySlice(floats("activation_alpha") ?? [])
        var betas = ArraySlice(floats("activation_beta") ?? [])
        var activations: [[RNNActivation]] = []
        for d in 0..<dirs {
            var list: [RNNActivation] = []
            for name in names[(d * count)..<((d + 1) * count)] {
                guard let f = RNNActivation.parse(name, alphas: &alphas, betas: &betas) else {
                    throw unsupported("activation '\(name)' is not supported")
                }
                list.append(f)
            }
            activations.append(list)
        }
        var clip = Float.infinity
        if has("clip") {
            clip = try float("clip")
            guard clip > 0 else { throw error("clip must be positive, got \(clip)") }
        }
        return RNNConfig(x: x, w: w, r: r, b: b, initialH: initialH, directions: dirs, reverse: reverse,
                         hidden: hidden, batch: batch, sequence: sequence, inputSize: inputSize, layout: layout,
                         activations: activations, clip: clip)
    }
}

/// C[m, n] = A[m, k] * B[n, k]^T (+ C when `accumulate`), row-major with leading dimensions.
@inline(__always)
func rnnGemmNT(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
               c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
    guard m > 0 && n > 0 else { return }
    guard k > 0 else {
        if !accumulate { for i in 0..<m { for j in 0..<n { c[i * ldc + j] = 0 } } }
        return
    }
    if m == 1 {
        // y[n] = B[n, k] * a[k]
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, b, Int32(ldb), a, 1,
                    accumulate ? 1 : 0, c, 1)
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda),
                    b, Int32(ldb), accumulate ? 1 : 0, c, Int32(ldc))
    }
}
