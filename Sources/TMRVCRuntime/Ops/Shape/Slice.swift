import ONNXFormat

// ONNX Slice: a strided window (negative steps allowed), clamped per the spec. Starts, ends,
// axes and steps are attributes before opset 10 and load-time-constant inputs from opset 10.

extension Operators {
    static let slice = OperatorDefinition("Slice") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let rank = x.shape.count
        let starts: [Int], ends: [Int], axesGiven: [Int]?, stepsGiven: [Int]?
        if ctx.opset >= 10 {
            starts = try ctx.constantInts(1)
            ends = try ctx.constantInts(2)
            axesGiven = ctx.optionalInput(3) != nil ? try ctx.constantInts(3) : nil
            stepsGiven = ctx.optionalInput(4) != nil ? try ctx.constantInts(4) : nil
        } else {
            guard let s = ctx.ints("starts"), let e = ctx.ints("ends") else {
                throw ctx.error("missing required attributes 'starts' and 'ends'")
            }
            starts = s; ends = e; axesGiven = ctx.ints("axes"); stepsGiven = nil
        }
        guard starts.count == ends.count else { throw ctx.error("starts \(starts) and ends \(ends) differ in length") }
        let axes = try ShapeSupport.axes(axesGiven ?? Array(0..<starts.count), rank: rank, ctx)
        let steps = stepsGiven ?? [Int](repeating: 1, count: starts.count)
        guard axes.count == starts.count, steps.count == starts.count else {
            throw ctx.error("starts, ends, axes and steps differ in length")
        }
        var first = [Int](repeating: 0, count: rank)
        var step = [Int](repeating: 1, count: rank)
        var shape = x.shape
        for (k, a) in axes.enumerated() {
            let d = x.shape[a], s = steps[k]
            guard s != 0 else { throw ctx.error("step of axis \(a) is 0") }
            var b = starts[k], e = ends[k]
            if b < 0 { b += d }
            if e < 0 { e += d }
            let count: Int
            if s > 0 {
                b = min(max(b, 0), d)
                e = min(max(e, 0), d)
                count = e > b ? (e - b + s - 1) / s : 0
            } else {
                b = min(max(b, 0), d - 1)
                e = min(max(e, -1), d - 1)
                count = b > e ? (b - e + (-s) - 1) / (-s) : 0
            }
            first[a] = count > 0 ? b : 0
            step[a] = s
            shape[a] = count
        }
        if shape == x.shape && step.allSatisfy({ $0 == 1 }) {
            try ctx.aliasOutput(0, of: x, shape: shape)
            return nil
        }
        let out = try ctx.output(0, x.dataType, shape)
        let inStrides = ShapeSupport.strides(x.shape)
        var offset = 0
        for i in 0..<rank { offset += first[i] * inStrides[i] }
        let plan = StridedCopyPlan(elementSize: x.dataType.byteSize!, shape: shape,
                                   srcStrides: (0..<rank).map { inStrides[$0] * step[$0] },
                                   dstStrides: ShapeSupport.strides(shape), srcOffset: offset)
        return StridedCopyKernel(from: x, to: out, plan: plan)
    }
}
