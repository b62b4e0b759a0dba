import ONNXFormat

// ONNX Reshape, Identity: views of their input (no run-time work).

extension Operators {
    static let reshape = OperatorDefinition("Reshape", since: 5) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let spec = try ctx.constantInts(1)
        let allowZero = try ctx.int("allowzero", default: 0) != 0
        var shape: [Int] = []
        var inferred: Int? = nil
        for (i, d) in spec.enumerated() {
            if d == -1 {
                guard inferred == nil else { throw ctx.error("more than one -1 in shape \(spec)") }
                inferred = i
                shape.append(1)
            } else if d == 0 && !allowZero {
                guard i < x.shape.count else { throw ctx.error("shape \(spec) copies dimension \(i) that input \(x.shape) lacks") }
                shape.append(x.shape[i])
            } else if d < 0 {
                throw ctx.error("invalid dimension \(d) in shape \(spec)")
            } else {
                shape.append(d)
            }
        }
        if let i = inferred {
            let known = try ctx.elementCount(shape)
            guard known > 0, x.count % known == 0 else { throw ctx.error("cannot reshape \(x.shape) to \(spec)") }
            shape[i] = x.count / known
        }
        guard try ctx.elementCount(shape) == x.count else { throw ctx.error("cannot reshape \(x.shape) (\(x.count) elements) to \(spec)") }
        try ctx.aliasOutput(0, of: x, shape: shape)
        return nil
    }

    static let identity = OperatorDefinition("Identity") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        try ctx.aliasOutput(0, of: x, shape: x.shape)
        return nil
    }
}
