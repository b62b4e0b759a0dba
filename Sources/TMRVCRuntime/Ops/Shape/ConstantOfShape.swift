import ONNXFormat

// ONNX ConstantOfShape: a tensor of a load-time-constant shape filled with one value.

extension Operators {
    static let constantOfShape = OperatorDefinition("ConstantOfShape", since: 9) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let shape = try ctx.constantInts(0)
        guard try ctx.input(0).shape.count == 1 else { throw ctx.error("shape input must be 1-D") }
        for d in shape where d < 0 { throw ctx.error("shape \(shape) has a negative dimension") }
        var element = Tensor(shape: [], floats: [0])
        if let t = ctx.tensor("value") {
            let v = try Tensor(t)
            guard v.count == 1 else { throw ctx.error("value must hold exactly one element, got shape \(v.shape)") }
            element = v
        }
        let count = ShapeSupport.product(shape)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * element.bytes.count)
        for _ in 0..<count { bytes += element.bytes }
        try ctx.constantOutput(0, Tensor(dataType: element.dataType, shape: shape, bytes: bytes))
        return nil
    }
}
