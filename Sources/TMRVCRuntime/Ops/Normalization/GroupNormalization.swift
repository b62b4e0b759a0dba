import ONNXFormat

// ONNX GroupNormalization (opset 18: scale/bias per group; opset 21: per channel) and the
// shared kernel of InstanceNormalization (one group per channel).

/// Normalizes each (batch, group) block of `channelsPerGroup * spatial` contiguous values, then
/// applies a per-channel (or per-group) scale and bias.
final class GroupNormKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, y: TensorBuffer, scale: TensorBuffer, bias: TensorBuffer
    let kind: NormFloatKind
    let batch: Int, groups: Int, channelsPerGroup: Int, spatial: Int
    let perChannel: Bool
    let epsilon: Double

    init(x: TensorBuffer, y: TensorBuffer, scale: TensorBuffer, bias: TensorBuffer, kind: NormFloatKind,
         batch: Int, groups: Int, channelsPerGroup: Int, spatial: Int, perChannel: Bool, epsilon: Double) {
        self.x = x; self.y = y; self.scale = scale; self.bias = bias; self.kind = kind
        self.batch = batch; self.groups = groups; self.channelsPerGroup = channelsPerGroup
        self.spatial = spatial; self.perChannel = perChannel; self.epsilon = epsilon
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
        let block = channelsPerGroup * spatial
        let spatial = self.spatial
        for n in 0..<batch {
            for g in 0..<groups {
                let offset = (n * groups + g) * block
                let (m, inv) = normMeanInvStd(px + offset, block, epsilon: epsilon)
                let mt = T(m), it = T(inv)
                for k in 0..<channelsPerGroup {
                    let p = perChannel ? g * channelsPerGroup + k : g
                    let a = it * ps[p], b = pb[p]
                    let row = px + offset + k * spatial, out = py + offset + k * spatial
                    for i in 0..<spatial { out[i] = (row[i] - mt) * a + b }
                }
            }
        }
    }
}

extension Operators {
    static let groupNormalization = OperatorDefinition("GroupNormalization", since: 18) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let kind = try ctx.normFloatKind(x, "input")
        guard x.shape.count >= 2 else { throw ctx.error("input must have rank >= 2 (N, C, ...), got \(x.shape)") }
        let groups = try ctx.int("num_groups")
        let epsilon = Double(try ctx.float("epsilon", default: 1e-5))
        if ctx.opset >= 21 {
            let stash = try ctx.int("stash_type", default: 1)
            guard stash == 1 else { throw ctx.unsupported("stash_type \(stash) is not supported (only 1, float32)") }
        }
        let c = x.shape[1]
        guard groups > 0, c % groups == 0 else { throw ctx.error("num_groups \(groups) does not divide \(c) channels") }
        let perChannel = ctx.opset >= 21
        let expected = perChannel ? c : groups
        let scale = try ctx.input(1), bias = try ctx.input(2)
        for (p, what) in [(scale, "scale"), (bias, "bias")] {
            guard p.dataType == x.dataType else { throw ctx.error("\(what) is \(p.dataType), input is \(x.dataType)") }
            guard p.shape == [expected] else {
                throw ctx.error("\(what) must have shape [\(expected)] (\(perChannel ? "channels" : "groups") at opset \(ctx.opset)), got \(p.shape)")
            }
        }
        let y = try ctx.output(0, x.dataType, x.shape)
        return GroupNormKernel(x: x, y: y, scale: scale, bias: bias, kind: kind, batch: x.shape[0], groups: groups,
                               channelsPerGroup: c / groups, spatial: x.shape[2...].reduce(1, *),
                               perChannel: perChannel, epsilon: epsilon)
    }
}
