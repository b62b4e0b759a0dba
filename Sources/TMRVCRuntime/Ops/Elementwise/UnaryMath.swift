import ONNXFormat
import TMRVCKernels

// ONNX unary math: Sqrt, Exp, Log, Abs, Neg, Reciprocal, Floor, Ceil, Round, Sign, Cos, Sin,
// Tan, Acos, Asin, Atan, Cosh, Sinh, Tanh, Acosh, Asinh, Atanh, Erf. Float types through libm in the compute type
// (float16/bfloat16 widen to float); Abs, Neg and Sign also take integers (wrapping: the
// negation of the most negative value is itself). Round rounds half to even.

enum MathFunction: Sendable {
    case sqrt, exp, log, abs, neg, reciprocal, floor, ceil, round, sign
    case cos, sin, tan, acos, asin, atan, cosh, sinh, tanh, acosh, asinh, atanh, erf

    var acceptsIntegers: Bool { self == .abs || self == .neg || self == .sign }
}

final class UnaryMathKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let function: MathFunction
    let x: TensorBuffer, out: TensorBuffer
    let kind: ElementKind

    init(function: MathFunction, x: TensorBuffer, out: TensorBuffer, kind: ElementKind) {
        self.function = function; self.x = x; self.out = out; self.kind = kind
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        let n = out.count
        let px = UnsafePointer(elementPointer(x, S.self)), po = elementPointer(out, S.self)
        typealias M = S.Math
        switch function {
        case .sqrt: mapElements(n, px, po) { S(math: $0.math.squareRoot()) }
        case .exp: mapElements(n, px, po) { S(math: M.exp($0.math)) }
        case .log: mapElements(n, px, po) { S(math: M.log($0.math)) }
        case .abs: mapElements(n, px, po) { S(math: Swift.abs($0.math)) }
        case .neg: mapElements(n, px, po) { S(math: -$0.math) }
        case .reciprocal: mapElements(n, px, po) { S(math: 1 / $0.math) }
        case .floor: mapElements(n, px, po) { S(math: $0.math.rounded(.down)) }
        case .ceil: mapElements(n, px, po) { S(math: $0.math.rounded(.up)) }
        case .round: mapElements(n, px, po) { S(math: $0.math.rounded(.toNearestOrEven)) }
        case .sign: mapElements(n, px, po) { v in
            let m = v.math
            return S(math: m > 0 ? 1 : (m < 0 ? -1 : m))
        }
        case .cos: mapElements(n, px, po) { S(math: M.cos($0.math)) }
        case .sin: mapElements(n, px, po) { S(math: M.sin($0.math)) }
        case .tan: mapElements(n, px, po) { S(math: M.tan($0.math)) }
        case .acos: mapElements(n, px, po) { S(math: M.acos($0.math)) }
        case .asin: mapElements(n, px, po) { S(math: M.asin($0.math)) }
        case .atan: mapElements(n, px, po) { S(math: M.atan($0.math)) }
        case .cosh: mapElements(n, px, po) { S(math: M.cosh($0.math)) }
        case .sinh: mapElements(n, px, po) { S(math: M.sinh($0.math)) }
        case .tanh: mapElements(n, px, po) { S(math: M.tanh($0.math)) }
        case .acosh: mapElements(n, px, po) { S(math: M.acosh($0.math)) }
        case .asinh: mapElements(n, px, po) { S(math: M.asinh($0.math)) }
        case .atanh: mapElements(n, px, po) { S(math: M.atanh($0.math)) }
        case .erf: mapElements(n, px, po) { S(math: M.erf($0.math)) }
        }
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        let n = out.count
        let px = UnsafePointer(elementPointer(x, T.self)), po = elementPointer(out, T.self)
        switch function {
        case .abs: mapElements(n, px, po) { $0 < 0 ? 0 &- $0 : $0 }
        case .neg: mapElements(n, px, po) { 0 &- $0 }
        case .sign: mapElements(n, px, po) { $0 > 0 ? 1 : ($0 < 0 ? 0 &- 1 : 0) }
        default: break
        }
    }

    override func run() {
        if kind == .float {
            // float32 exp and tanh: 8-lane vector approximations (a few ulp; TMRVCKernels).
            switch function {
            case .exp: KernelSet.active.exp(x.floats, out.floats, out.count); return
            case .tanh: KernelSet.active.tanh(x.floats, out.floats, out.count); return
            default: break
            }
        }
        kind.visit(self)
    }
}

func makeUnaryMath(_ function: MathFunction) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard let kind = ElementKind(x.dataType),
              kind.isFloatingPoint || (kind.isInteger && function.acceptsIntegers) else {
            throw ctx.unsupported("element type \(x.dataType) is not supported")
        }
        let out = try ctx.output(0, x.dataType, x.shape)
        return UnaryMathKernel(function: function, x: x, out: out, kind: kind)
    }
}

extension Operators {
    static let sqrtOp = OperatorDefinition("Sqrt", since: 6, makeUnaryMath(.sqrt))
    static let expOp = OperatorDefinition("Exp", since: 6, makeUnaryMath(.exp))
    static let logOp = OperatorDefinition("Log", since: 6, makeUnaryMath(.log))
    static let absOp = OperatorDefinition("Abs", since: 6, makeUnaryMath(.abs))
    static let negOp = OperatorDefinition("Neg", since: 6, makeUnaryMath(.neg))
    static let reciprocalOp = OperatorDefinition("Reciprocal", since: 6, makeUnaryMath(.reciprocal))
    static let floorOp = OperatorDefinition("Floor", since: 6, makeUnaryMath(.floor))
    static let ceilOp = OperatorDefinition("Ceil", since: 6, makeUnaryMath(.ceil))
    static let roundOp = OperatorDefinition("Round", since: 11, makeUnaryMath(.round))
    static let signOp = OperatorDefinition("Sign", since: 9, makeUnaryMath(.sign))
    static let cosOp = OperatorDefinition("Cos", since: 7, makeUnaryMath(.cos))
    static let sinOp = OperatorDefinition("Sin", since: 7, makeUnaryMath(.sin))
    static let tanOp = OperatorDefinition("Tan", since: 7, makeUnaryMath(.tan))
    static let acosOp = OperatorDefinition("Acos", since: 7, makeUnaryMath(.acos))
    static let asinOp = OperatorDefinition("Asin", since: 7, makeUnaryMath(.asin))
    static let atanOp = OperatorDefinition("Atan", since: 7, makeUnaryMath(.atan))
    static let coshOp = OperatorDefinition("Cosh", since: 9, makeUnaryMath(.cosh))
    static let sinhOp = OperatorDefinition("Sinh", since: 9, makeUnaryMath(.sinh))
    static let tanhOp = OperatorDefinition("Tanh", since: 6, makeUnaryMath(.tanh))
    static let acoshOp = OperatorDefinition("Acosh", since: 9, makeUnaryMath(.acosh))
    static let asinhOp = OperatorDefinition("Asinh", since: 9, makeUnaryMath(.asinh))
    static let atanhOp = OperatorDefinition("Atanh", since: 9, makeUnaryMath(.atanh))
    static let erfOp = OperatorDefinition("Erf", since: 9, makeUnaryMath(.erf))
}
