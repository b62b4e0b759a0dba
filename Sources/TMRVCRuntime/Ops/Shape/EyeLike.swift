import ONNXFormat

// ONNX EyeLike: a 2-D tensor shaped like the input with ones on the k-th diagonal. Only the
// input's shape matters, so the result is a load-time constant.

extension Operators {
    static let eyeLike = OperatorDefinition("EyeLike", since: 9) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard x.shape.count == 2 else { throw ctx.error("input must be 2-D, got shape \(x.shape)") }
        let type: DataType
        if ctx.has("dtype") {
            guard let t = DataType(rawValue: Int32(try ctx.int("dtype"))) else {
                throw ctx.error("unknown dtype \(try ctx.int("dtype"))")
            }
            type = t
        } else {
            type = x.dataType
        }
        guard let one = ShapeSupport.scalarBytes(1, as: type) else {
            throw ctx.unsupported("element type \(type) is not supported")
        }
        let k = try ctx.int("k", default: 0)
        let rows = x.shape[0], cols = x.shape[1]
        var t = Tensor(zeros: type, shape: x.shape)
        for i in 0..<rows {
            let j = i + k
            guard j >= 0 && j < cols else { continue }
            let at = (i * cols + j) * one.count
            t.bytes.replaceSubrange(at..<(at + one.count), with: one)
        }
        try ctx.constantOutput(0, t)
        return nil
    }
}
