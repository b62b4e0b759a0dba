import ONNXFormat

// ONNX InstanceNormalization: y = scale[c] * (x - mean) / sqrt(var + epsilon) + B[c], with the
// statistics of each (n, c) over the spatial dims.

extension Operators {
    static let instanceNormalization = OperatorDefinition("InstanceNormalization", since: 6) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let kind = try ctx.normFloatKind(x, "input")
        guard x.shape.count >= 2 else { throw ctx.error("input must have rank >= 2 (N, C, ...), got \(x.shape)") }
        let epsilon = Double(try ctx.float("epsilon", default: 1e-5))
        let c = x.shape[1]
        let scale = try ctx.input(1), bias = try ctx.input(2)
        for (p, what) in [(scale, "scale"), (bias, "B")] {
            guard p.dataType == x.dataType else { throw ctx.error("\(what) is \(p.dataType), input is \(x.dataType)") }
            guard p.shape == [c] else { throw ctx.error("\(what) must have shape [\(c)], got \(p.shape)") }
        }
        let y = try ctx.output(0, x.dataType, x.shape)
        return GroupNormKernel(x: x, y: y, scale: scale, bias: bias, kind: kind, batch: x.shape[0], groups: c,
                               channelsPerGroup: 1, spatial: x.shape[2...].reduce(1, *),
                               perChannel: true, epsilon: epsilon)
    }
}
