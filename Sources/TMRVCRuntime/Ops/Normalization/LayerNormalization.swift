import ONNXFormat

// ONNX LayerNormalization (opset 17): normalizes over dims[axis...] of each outer row, then
// applies Scale and optional B (each broadcast over the normalized shape: the full shape, a
// trailing part of it, or a single value).
// Statistics are accumulated in double; Mean and InvStdDev outputs are float32 (stash_type 1).

/// How a per-element parameter (scale, bias) covers the normalized elements.
enum NormParameterMode: Sendable, Equatable {
    case none, scalar, full
    /// Varies along trailing normalized dims only: element i uses p[i % period].
    case periodic(Int)

    @inline(__always)
    func index(_ i: Int) -> Int {
        switch self {
        case .full: return i
        case .periodic(let period): return i % period
        default: return 0
        }
    }
}

final class LayerNormKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, y: TensorBuffer
    let scale: TensorBuffer, bias: TensorBuffer?
    let scaleMode: NormParameterMode, biasMode: NormParameterMode
    let mean: TensorBuffer?, invStd: TensorBuffer?
    let kind: NormFloatKind
    let outer: Int, size: Int
    let epsilon: Double

    init(x: TensorBuffer, y: TensorBuffer, scale: TensorBuffer, bias: TensorBuffer?,
         scaleMode: NormParameterMode, biasMode: NormParameterMode,
         mean: TensorBuffer?, invStd: TensorBuffer?, kind: NormFloatKind, outer: Int, size: Int, epsilon: Double) {
        self.x = x; self.y = y; self.scale = scale; self.bias = bias
        self.scaleMode = scaleMode; self.biasMode = biasMode
        self.mean = mean; self.invStd = invStd; self.kind = kind
        self.outer = outer; self.size = size; self.epsilon = epsilon
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
        let pb = bias.map { UnsafePointer($0.data.assumingMemoryBound(to: T.self)) }
        let pm = mean?.floats
        let pi = invStd?.floats
        let size = self.size
        for o in 0..<outer {
            let row = px + o * size, out = py + o * size
            let (m, inv) = normMeanInvStd(row, size, epsilon: epsilon)
            pm?[o] = Float(m)
            pi?[o] = Float(inv)
            let mt = T(m), it = T(inv)
            switch (scaleMode, biasMode) {
            case (.full, .full):
                let b = pb!
                for i in 0..<size { out[i] = (row[i] - mt) * it * ps[i] + b[i] }
            case (.full, .none):
                for i in 0..<size { out[i] = (row[i] - mt) * it * ps[i] }
            default:
                for i in 0..<size {
                    var v = (row[i] - mt) * it * ps[scaleMode.index(i)]
                    if let b = pb { v += b[biasMode.index(i)] }
                    out[i] = v
                }
            }
        }
    }
}

extension NodeContext {
    /// How parameter `p` covers the normalized shape `normShape` (right-aligned broadcast).
    func normParameterMode(_ p: TensorBuffer?, normShape: [Int], xShape: [Int], dataType: DataType, what: String) throws(RuntimeError) -> NormParameterMode {
        guard let p else { return .none }
        guard p.dataType == dataType else { throw error("\(what) is \(p.dataType), input is \(dataType)") }
        var dims = p.shape
        while let f = dims.first, f == 1 { dims.removeFirst() }
        if dims.isEmpty { return .scalar }
        if dims.count <= normShape.count && Array(normShape.suffix(dims.count)) == dims {
            let period = dims.reduce(1, *)
            return period == normShape.reduce(1, *) ? .full : .periodic(period)
        }
        if BroadcastPlan.resultShape([p.shape, xShape]) == xShape {
            throw unsupported("\(what) shape \(p.shape) broadcasts over the input \(xShape) along more than the trailing normalized dims \(normShape)")
        }
        throw error("\(what) shape \(p.shape) does not broadcast to the normalized shape \(normShape)")
    }
}

extension Operators {
    static let layerNormalization = OperatorDefinition("LayerNormalization", since: 17) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let kind = try ctx.normFloatKind(x, "input")
        let rank = x.shape.count
        guard rank >= 1 else { throw ctx.error("input must have rank >= 1") }
        let axis = try ctx.normResolveAxis(try ctx.int("axis", default: -1), rank: rank)
        let epsilon = Double(try ctx.float("epsilon", default: 1e-5))
        let stash = try ctx.int("stash_type", default: 1)
        guard stash == 1 else { throw ctx.unsupported("stash_type \(stash) is not supported (only 1, float32)") }
        let normShape = Array(x.shape[axis...])
        let scale = try ctx.input(1)
        let bias = ctx.optionalInput(2)
        let scaleMode = try ctx.normParameterMode(scale, normShape: normShape, xShape: x.shape, dataType: x.dataType, what: "Scale")
        let biasMode = try ctx.normParameterMode(bias, normShape: normShape, xShape: x.shape, dataType: x.dataType, what: "B")
        let y = try ctx.output(0, x.dataType, x.shape)
        let statShape = Array(x.shape[..<axis]) + [Int](repeating: 1, count: rank - axis)
        let mean = ctx.hasOutput(1) ? try ctx.output(1, .float, statShape) : nil
        let invStd = ctx.hasOutput(2) ? try ctx.output(2, .float, statShape) : nil
        return LayerNormKernel(x: x, y: y, scale: scale, bias: bias, scaleMode: scaleMode, biasMode: biasMode,
                               mean: mean, invStd: invStd, kind: kind,
                               outer: x.shape[..<axis].reduce(1, *), size: normShape.reduce(1, *), epsilon: epsilon)
    }
}
