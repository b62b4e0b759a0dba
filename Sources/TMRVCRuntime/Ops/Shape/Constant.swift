import ONNXFormat

// ONNX Constant and Shape: values known at load.

extension Operators {
    static let constant = OperatorDefinition("Constant") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        if let t = ctx.tensor("value") {
            try ctx.constantOutput(0, try Tensor(t))
        } else if ctx.has("value_float") {
            try ctx.constantOutput(0, Tensor(shape: [], floats: [try ctx.float("value_float")]))
        } else if let fs = ctx.floats("value_floats") {
            try ctx.constantOutput(0, Tensor(shape: [fs.count], floats: fs))
        } else if ctx.has("value_int") {
            try ctx.constantOutput(0, Tensor(shape: [], int64s: [Int64(try ctx.int("value_int"))]))
        } else if let vs = ctx.ints("value_ints") {
            try ctx.constantOutput(0, Tensor(shape: [vs.count], int64s: vs.map { Int64($0) }))
        } else {
            throw ctx.unsupported("Constant needs one of value, value_float(s), value_int(s) (sparse and string values are not supported)")
        }
        return nil
    }

    static let shape = OperatorDefinition("Shape") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let rank = x.shape.count
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
        let start = clamp(try ctx.int("start", default: 0))
        let end = clamp(try ctx.int("end", default: rank))
        let dims = start < end ? Array(x.shape[start..<end]) : []
        try ctx.constantOutput(0, Tensor(shape: [dims.count], int64s: dims.map { Int64($0) }))
        return nil
    }
}
