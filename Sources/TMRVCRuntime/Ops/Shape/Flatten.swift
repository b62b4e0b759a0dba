import ONNXFormat

// ONNX Flatten: a 2-D view [prod(dims[..<axis]), prod(dims[axis...])].

extension Operators {
    static let flatten = OperatorDefinition("Flatten") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let rank = x.shape.count
        var axis = try ctx.int("axis", default: 1)
        let lowest = ctx.opset >= 11 ? -rank : 0
        guard axis >= lowest && axis <= rank else { throw ctx.error("axis \(axis) is out of range for rank \(rank)") }
        if axis < 0 { axis += rank }
        let shape = [ShapeSupport.product(x.shape[..<axis]), ShapeSupport.product(x.shape[axis...])]
        try ctx.aliasOutput(0, of: x, shape: shape)
        return nil
    }
}
