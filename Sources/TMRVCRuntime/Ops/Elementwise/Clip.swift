import ONNXFormat

// ONNX Clip: y = min(max(x, min), max). Opset 11+: `min` and `max` are optional scalar inputs
// (read at run time, so they may be computed); opsets 6-10: float attributes. Float types and
// integers; a missing bound is unbounded. When min > max every element becomes max (the spec).

final class ClipKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let x: TensorBuffer, out: TensorBuffer
    let low: TensorBuffer?, high: TensorBuffer?
    let lowAttribute: Double, highAttribute: Double
    let kind: ElementKind

    init(x: TensorBuffer, out: TensorBuffer, low: TensorBuffer?, high: TensorBuffer?,
         lowAttribute: Double, highAttribute: Double, kind: ElementKind) {
        self.x = x; self.out = out; self.low = low; self.high = high
        self.lowAttribute = lowAttribute; self.highAttribute = highAttribute; self.kind = kind
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        let lo = low.map { elementPointer($0, S.self)[0].math } ?? S.Math(fromDouble: lowAttribute)
        let hi = high.map { elementPointer($0, S.self)[0].math } ?? S.Math(fromDouble: highAttribute)
        mapElements(out.count, UnsafePointer(elementPointer(x, S.self)), elementPointer(out, S.self)) { v in
            let a = v.math
            let b = a < lo ? lo : a
            return S(math: b > hi ? hi : b)
        }
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        let lo = low.map { elementPointer($0, T.self)[0] } ?? T.min
        let hi = high.map { elementPointer($0, T.self)[0] } ?? T.max
        mapElements(out.count, UnsafePointer(elementPointer(x, T.self)), elementPointer(out, T.self)) { a in
            let b = a < lo ? lo : a
            return b > hi ? hi : b
        }
    }

    override func run() { kind.visit(self) }
}

extension Operators {
    static let clipOp = OperatorDefinition("Clip", since: 6) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard let kind = ElementKind(x.dataType), kind != .bool else {
            throw ctx.unsupported("element type \(x.dataType) is not supported")
        }
        var low: TensorBuffer? = nil, high: TensorBuffer? = nil
        var lowAttribute = -Double.infinity, highAttribute = Double.infinity
        if ctx.opset >= 11 {
            low = ctx.optionalInput(1)
            high = ctx.optionalInput(2)
            for (name, b) in [("min", low), ("max", high)] {
                guard let b else { continue }
                guard b.dataType == x.dataType else { throw ctx.error("\(name) is \(b.dataType), input is \(x.dataType)") }
                guard b.count == 1 else { throw ctx.error("\(name) must be a scalar, got shape \(b.shape)") }
            }
        } else {
            guard kind.isFloatingPoint else { throw ctx.unsupported("Clip before opset 11 takes float types only") }
            // The defaults are float's lowest and max (the spec), not infinities.
            lowAttribute = Double(try ctx.float("min", default: -.greatestFiniteMagnitude))
            highAttribute = Double(try ctx.float("max", default: .greatestFiniteMagnitude))
        }
        let out = try ctx.output(0, x.dataType, x.shape)
        return ClipKernel(x: x, out: out, low: low, high: high, lowAttribute: lowAttribute,
                          highAttribute: highAttribute, kind: kind)
    }
}
