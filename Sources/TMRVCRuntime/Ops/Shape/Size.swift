import ONNXFormat

// ONNX Size: the element count, known at load.

extension Operators {
    static let size = OperatorDefinition("Size") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        try ctx.constantOutput(0, Tensor(shape: [], int64s: [Int64(x.count)]))
        return nil
    }
}
