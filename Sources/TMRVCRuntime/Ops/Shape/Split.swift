import ONNXFormat

// ONNX Split: cuts the input along an axis into consecutive parts. Sizes come from the `split`
// attribute (before opset 13), the `split` input (opset 13+, load-time constant), the
// `num_outputs` attribute (opset 18+, last part smaller) or an equal split over the outputs.

extension Operators {
    static let split = OperatorDefinition("Split", since: 2) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let rank = x.shape.count
        guard rank > 0 else { throw ctx.error("cannot split a scalar") }
        let axis = try ShapeSupport.axis(try ctx.int("axis", default: 0), rank: rank, ctx)
        let length = x.shape[axis]
        let n = ctx.outputCount
        var sizes: [Int]
        let given: [Int]? = ctx.opset >= 13
            ? (ctx.optionalInput(1) != nil ? try ctx.constantInts(1) : nil)
            : ctx.ints("split")
        if let given, !given.isEmpty {  // an empty split list means "not given", as onnxruntime reads it
            if ctx.opset >= 18 && ctx.has("num_outputs") {
                throw ctx.error("'split' and 'num_outputs' must not both be given")
            }
            sizes = given
        } else if ctx.opset >= 18 && ctx.has("num_outputs") {
            let k = try ctx.int("num_outputs")
            guard k >= 1, k == n else { throw ctx.error("num_outputs \(k) does not match the \(n) outputs") }
            let chunk = (length + k - 1) / k
            sizes = [Int](repeating: chunk, count: k - 1)
            let last = length - chunk * (k - 1)
            guard last >= 0 else { throw ctx.error("cannot split \(length) into \(k) parts of \(chunk)") }
            sizes.append(last)
        } else {
            if ctx.opset >= 18 {
                throw ctx.error("either the 'split' input or the 'num_outputs' attribute is required from opset 18")
            }
            guard n > 0, length % n == 0 else {
                throw ctx.error("dimension \(length) of axis \(axis) cannot be split evenly into \(n) outputs")
            }
            sizes = [Int](repeating: length / n, count: n)
        }
        guard sizes.count == n else { throw ctx.error("split \(sizes) has \(sizes.count) parts for \(n) outputs") }
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == length else {
            throw ctx.error("split \(sizes) does not add up to dimension \(length) of axis \(axis)")
        }
        let inStrides = ShapeSupport.strides(x.shape)
        var steps: [StridedCopyKernel.Step] = []
        var start = 0
        for (k, size) in sizes.enumerated() {
            defer { start += size }
            guard ctx.hasOutput(k) else { continue }
            var shape = x.shape
            shape[axis] = size
            if size == length {
                try ctx.aliasOutput(k, of: x, shape: shape)
                continue
            }
            let out = try ctx.output(k, x.dataType, shape)
            if out.count == 0 { continue }
            let plan = StridedCopyPlan(elementSize: x.dataType.byteSize!, shape: shape, srcStrides: inStrides,
                                       dstStrides: ShapeSupport.strides(shape), srcOffset: start * inStrides[axis])
            steps.append(.init(source: x, destination: out, plan: plan))
        }
        return steps.isEmpty ? nil : StridedCopyKernel(steps)
    }
}
