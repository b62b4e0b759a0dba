import ONNXFormat

// ONNX Unsqueeze: inserts size-1 dimensions (a view). Axes are an attribute before opset 13 and
// an input from opset 13; they index the output shape.

extension Operators {
    static let unsqueeze = OperatorDefinition("Unsqueeze") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let given: [Int]
        if ctx.opset >= 13 {
            given = try ctx.constantInts(1)
        } else {
            guard let a = ctx.ints("axes") else { throw ctx.error("missing required attribute 'axes'") }
            given = a
        }
        let rank = x.shape.count + given.count
        let axes = try ShapeSupport.axes(given, rank: rank, ctx)
        var shape: [Int] = []
        var next = x.shape.makeIterator()
        for i in 0..<rank { shape.append(axes.contains(i) ? 1 : next.next()!) }
        try ctx.aliasOutput(0, of: x, shape: shape)
        return nil
    }
}
