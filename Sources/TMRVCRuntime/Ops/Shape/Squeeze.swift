import ONNXFormat

// ONNX Squeeze: removes size-1 dimensions (a view). Axes are an attribute before opset 13 and
// an optional input from opset 13.

extension Operators {
    static let squeeze = OperatorDefinition("Squeeze") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let rank = x.shape.count
        let given: [Int]?
        if ctx.opset >= 13 {
            given = ctx.optionalInput(1) != nil ? try ctx.constantInts(1) : nil
        } else {
            given = ctx.ints("axes")
        }
        var shape: [Int] = []
        if let given, !given.isEmpty {  // an empty axes list squeezes all unit dims, as onnxruntime does
            let axes = try ShapeSupport.axes(given, rank: rank, ctx)
            for a in axes where x.shape[a] != 1 {
                throw ctx.error("cannot squeeze axis \(a) of shape \(x.shape): its size is not 1")
            }
            for (i, d) in x.shape.enumerated() where !axes.contains(i) { shape.append(d) }
        } else {
            shape = x.shape.filter { $0 != 1 }
        }
        try ctx.aliasOutput(0, of: x, shape: shape)
        return nil
    }
}
