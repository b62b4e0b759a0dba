import ONNXFormat

// ONNX IsNaN and IsInf(detect_negative, detect_positive): float types to bool.

enum FloatClassTest: Sendable { case nan, infinity(negative: Bool, positive: Bool) }

final class FloatClassKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let test: FloatClassTest
    let x: TensorBuffer, out: TensorBuffer
    let kind: ElementKind

    init(test: FloatClassTest, x: TensorBuffer, out: TensorBuffer, kind: ElementKind) {
        self.test = test; self.x = x; self.out = out; self.kind = kind
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        let px = UnsafePointer(elementPointer(x, S.self)), po = out.bytes
        switch test {
        case .nan: mapElements(out.count, px, po) { $0.math.isNaN ? 1 : 0 }
        case .infinity(let negative, let positive):
            let low = negative ? -S.Math.infinity : S.Math.nan
            let high = positive ? S.Math.infinity : S.Math.nan
            mapElements(out.count, px, po) { v in let m = v.math; return m == low || m == high ? 1 : 0 }
        }
    }

    override func run() { kind.visit(self) }
}

extension Operators {
    static let isNaNOp = OperatorDefinition("IsNaN", since: 9) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard let kind = ElementKind(x.dataType), kind.isFloatingPoint else {
            throw ctx.unsupported("element type \(x.dataType) is not supported (float types only)")
        }
        let out = try ctx.output(0, .bool, x.shape)
        return FloatClassKernel(test: .nan, x: x, out: out, kind: kind)
    }

    static let isInfOp = OperatorDefinition("IsInf", since: 10) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard let kind = ElementKind(x.dataType), kind.isFloatingPoint else {
            throw ctx.unsupported("element type \(x.dataType) is not supported (float types only)")
        }
        let negative = try ctx.int("detect_negative", default: 1) != 0
        let positive = try ctx.int("detect_positive", default: 1) != 0
        let out = try ctx.output(0, .bool, x.shape)
        return FloatClassKernel(test: .infinity(negative: negative, positive: positive), x: x, out: out, kind: kind)
    }
}
