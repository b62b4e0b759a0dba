import ONNXFormat

// ONNX BatchNormalization in inference mode:
// y = (x - mean[c]) * scale[c] / sqrt(var[c] + epsilon) + B[c].
// training_mode = 1 (and the running-statistics outputs) and spatial = 0 are not supported.

final class BatchNormKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, y: TensorBuffer
    let scale: TensorBuffer, bias: TensorBuffer, mean: TensorBuffer, variance: TensorBuffer
    let kind: NormFloatKind
    let batch: Int, channels: Int, spatial: Int
    let epsilon: Double
    /// `channels` elements: scale / sqrt(var + epsilon), recomputed each run (parameters may be rebound).
    let factors: UnsafeMutableRawPointer

    init(x: TensorBuffer, y: TensorBuffer, scale: TensorBuffer, bias: TensorBuffer, mean: TensorBuffer,
         variance: TensorBuffer, kind: NormFloatKind, batch: Int, channels: Int, spatial: Int,
         epsilon: Double, factors: UnsafeMutableRawPointer) {
        self.x = x; self.y = y; self.scale = scale; self.bias = bias; self.mean = mean; self.variance = variance
        self.kind = kind; self.batch = batch; self.channels = channels; self.spatial = spatial
        self.epsilon = epsilon; self.factors = factors
    }

    override func run() {
        switch kind {
        case .float: compute(Float.self)
        case .double: compute(Double.self)
        }
    }

    @inline(__always)
    func compute<T: NormFloat>(_: T.Type) {
        let px = UnsafePointer(x.data.assumingMemoryBound(to: T.self))
        let py = y.data.assumingMemoryBound(to: T.self)
        let ps = UnsafePointer(scale.data.assumingMemoryBound(to: T.self))
        let pb = UnsafePointer(bias.data.assumingMemoryBound(to: T.self))
        let pm = UnsafePointer(mean.data.assumingMemoryBound(to: T.self))
        let pv = UnsafePointer(variance.data.assumingMemoryBound(to: T.self))
        let a = factors.assumingMemoryBound(to: T.self)
        let eps = T(epsilon)
        for c in 0..<channels { a[c] = ps[c] / T.nSqrt(pv[c] + eps) }
        let spatial = self.spatial
        for n in 0..<batch {
            for c in 0..<channels {
                let offset = (n * channels + c) * spatial
                let row = px + offset, out = py + offset
                let m = pm[c], f = a[c], b = pb[c]
                for i in 0..<spatial { out[i] = (row[i] - m) * f + b }
            }
        }
    }
}

extension Operators {
    static let batchNormalization = OperatorDefinition("BatchNormalization", since: 1) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let kind = try ctx.normFloatKind(x, "input")
        guard x.shape.count >= 2 else { throw ctx.error("input must have rank >= 2 (N, C, ...), got \(x.shape)") }
        if try ctx.int("training_mode", default: 0) != 0 {
            throw ctx.unsupported("training_mode = 1 is not supported (inference only)")
        }
        if ctx.opset < 9, try ctx.int("spatial", default: 1) != 1 {
            throw ctx.unsupported("spatial = 0 (per-activation statistics) is not supported")
        }
        for k in 1..<max(ctx.outputCount, 1) where ctx.hasOutput(k) {
            throw ctx.unsupported("output \(k) (running or saved statistics) exists only in training mode, which is not supported")
        }
        let epsilon = Double(try ctx.float("epsilon", default: 1e-5))
        let c = x.shape[1]
        var params: [TensorBuffer] = []
        for (i, what) in [(1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")] {
            let p = try ctx.input(i)
            guard p.dataType == x.dataType else {
                throw ctx.unsupported("\(what) is \(p.dataType) while the input is \(x.dataType); mixed types are not supported")
            }
            guard p.shape == [c] else { throw ctx.error("\(what) must have shape [\(c)], got \(p.shape)") }
            params.append(p)
        }
        let y = try ctx.output(0, x.dataType, x.shape)
        return BatchNormKernel(x: x, y: y, scale: params[0], bias: params[1], mean: params[2], variance: params[3],
                               kind: kind, batch: x.shape[0], channels: c, spatial: x.shape[2...].reduce(1, *),
                               epsilon: epsilon, factors: ctx.workspace(bytes: c * (kind == .float ? 4 : 8)))
    }
}
