import ONNXFormat
import TMRVCKernels

// ONNX activations: Relu, LeakyRelu(alpha), Sigmoid, HardSigmoid(alpha, beta), HardSwish,
// Softplus, Softsign, Elu(alpha), Selu(alpha, gamma), Celu(alpha), Gelu(approximate none/tanh),
// Mish, ThresholdedRelu(alpha), Swish(alpha), Shrink(lambd, bias). (PRelu, whose slope is an
// input, is in PRelu.swift.)
//
// Float types only (Relu also integers), computed with libm in the compute type so results
// match the reference to a few ulps: Sigmoid and Softplus use forms that do not overflow, Elu,
// Selu and Celu use expm1, Gelu avoids the cancellation of 1 + erf / 1 + tanh.

enum Activation: Sendable {
    case relu, leakyRelu, sigmoid, hardSigmoid, hardSwish, softplus, softsign
    case elu, selu, celu, gelu, geluTanh, mish, thresholdedRelu, swish, shrink
}

/// Scalar formulas shared by the kernel and tests.
enum ActivationMath {
    @inline(__always)
    static func sigmoid<T: MathFloat>(_ x: T) -> T {
        if x >= 0 { return 1 / (1 + T.exp(-x)) }
        let e = T.exp(x)
        return e / (1 + e)
    }

    /// log(1 + e^x) without overflow.
    @inline(__always)
    static func softplus<T: MathFloat>(_ x: T) -> T {
        x > 0 ? x + T.log1p(T.exp(-x)) : T.log1p(T.exp(x))
    }

    /// x tanh(softplus(x)) with one exp: tanh(log(1 + n)) = n (n + 2) / (n (n + 2) + 2), n = e^x
    /// (the factor is 1 to float precision beyond x = 20, and n^2 would overflow past 44).
    @inline(__always)
    static func mish<T: MathFloat>(_ x: T) -> T {
        if x > 20 { return x }
        let n = T.exp(x)
        let p = n * (n + 2)
        return x * (p / (p + 2))
    }

    /// 0.5 x (1 + erf(x / sqrt 2)), computed as 0.5 x erfc(-x / sqrt 2): the same value without
    /// the cancellation of 1 + erf for negative x.
    @inline(__always)
    static func gelu<T: MathFloat>(_ x: T) -> T {
        T(0.5) * x * T.erfc(x * T(-0.70710678118654752440))
    }

    /// 0.5 x (1 + tanh(u)), u = sqrt(2 / pi) (x + 0.044715 x^3), computed as x sigmoid(2u): the
    /// same value without the cancellation of 1 + tanh for negative x.
    @inline(__always)
    static func geluTanh<T: MathFloat>(_ x: T) -> T {
        x * sigmoid(T(1.5957691216057307118) * (x + T(0.044715) * x * x * x))
    }
}

final class ActivationKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let activation: Activation
    let x: TensorBuffer, out: TensorBuffer
    let kind: ElementKind
    let alpha: Double, beta: Double, gamma: Double

    init(activation: Activation, x: TensorBuffer, out: TensorBuffer, kind: ElementKind,
         alpha: Double, beta: Double, gamma: Double) {
        self.activation = activation; self.x = x; self.out = out; self.kind = kind
        self.alpha = alpha; self.beta = beta; self.gamma = gamma
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        typealias M = S.Math
        let n = out.count
        let px = UnsafePointer(elementPointer(x, S.self)), po = elementPointer(out, S.self)
        let alpha = M(fromDouble: self.alpha), beta = M(fromDouble: self.beta), gamma = M(fromDouble: self.gamma)
        switch activation {
        case .relu: mapElements(n, px, po) { v in let x = v.math; return S(math: x < 0 ? 0 : x) }
        case .leakyRelu: mapElements(n, px, po) { v in let x = v.math; return S(math: x < 0 ? alpha * x : x) }
        case .sigmoid: mapElements(n, px, po) { S(math: ActivationMath.sigmoid($0.math)) }
        case .hardSigmoid: mapElements(n, px, po) { v in
            let y = alpha * v.math + beta
            return S(math: y < 0 ? 0 : (y > 1 ? 1 : y))
        }
        case .hardSwish: mapElements(n, px, po) { v in
            let x = v.math
            let y = x / 6 + M(0.5)
            return S(math: x * (y < 0 ? 0 : (y > 1 ? 1 : y)))
        }
        case .softplus: mapElements(n, px, po) { S(math: ActivationMath.softplus($0.math)) }
        case .softsign: mapElements(n, px, po) { v in let x = v.math; return S(math: x / (1 + Swift.abs(x))) }
        case .elu: mapElements(n, px, po) { v in let x = v.math; return S(math: x < 0 ? alpha * M.expm1(x) : x) }
        case .selu: mapElements(n, px, po) { v in
            let x = v.math
            return S(math: x <= 0 ? gamma * alpha * M.expm1(x) : gamma * x)
        }
        case .celu: mapElements(n, px, po) { v in let x = v.math; return S(math: x < 0 ? alpha * M.expm1(x / alpha) : x) }
        case .gelu: mapElements(n, px, po) { S(math: ActivationMath.gelu($0.math)) }
        case .geluTanh: mapElements(n, px, po) { S(math: ActivationMath.geluTanh($0.math)) }
        case .mish: mapElements(n, px, po) { S(math: ActivationMath.mish($0.math)) }
        case .thresholdedRelu: mapElements(n, px, po) { v in let x = v.math; return S(math: x > alpha ? x : 0) }
        case .swish: mapElements(n, px, po) { v in let x = v.math; return S(math: x * ActivationMath.sigmoid(alpha * x)) }
        case .shrink: mapElements(n, px, po) { v in
            let x = v.math
            return S(math: x < -alpha ? x + beta : (x > alpha ? x - beta : 0))
        }
        }
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        guard activation == .relu else { return }
        mapElements(out.count, UnsafePointer(elementPointer(x, T.self)), elementPointer(out, T.self)) { $0 < 0 ? 0 : $0 }
    }

    override func run() {
        if kind == .float {
            // float32 GELU and sigmoid: 8-lane vector approximations (TMRVCKernels).
            switch activation {
            case .gelu: KernelSet.active.gelu(x.floats, out.floats, out.count); return
            case .geluTanh: KernelSet.active.geluTanh(x.floats, out.floats, out.count); return
            case .sigmoid: KernelSet.active.sigmoid(x.floats, out.floats, out.count); return
            default: break
            }
        }
        kind.visit(self)
    }
}

/// Builds an activation; `parameters` reads its attributes (alpha, beta, gamma) from the node.
func makeActivation(_ activation: Activation,
                    _ parameters: @escaping @Sendable (NodeContext) throws(RuntimeError) -> (Double, Double, Double) = { _ in (0, 0, 0) })
    -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard let kind = ElementKind(x.dataType), kind.isFloatingPoint || (kind.isInteger && activation == .relu) else {
            throw ctx.unsupported("element type \(x.dataType) is not supported")
        }
        var (alpha, beta, gamma) = try parameters(ctx)
        var chosen = activation
        if activation == .gelu {
            switch try ctx.string("approximate", default: "none") {
            case "none": break
            case "tanh": chosen = .geluTanh
            case let a: throw ctx.error("approximate must be 'none' or 'tanh', got '\(a)'")
            }
        }
        if activation == .celu && alpha == 0 { throw ctx.error("alpha must not be 0") }
        if activation == .shrink && alpha < 0 { throw ctx.error("lambd must not be negative, got \(alpha)") }
        if kind.isInteger { (alpha, beta, gamma) = (0, 0, 0) }
        let out = try ctx.output(0, x.dataType, x.shape)
        return ActivationKernel(activation: chosen, x: x, out: out, kind: kind, alpha: alpha, beta: beta, gamma: gamma)
    }
}

/// Reads a FLOAT attribute as Double.
@inline(__always)
private func attribute(_ ctx: NodeContext, _ name: String, _ value: Float) throws(RuntimeError) -> Double {
    Double(try ctx.float(name, default: value))
}

extension Operators {
    static let reluOp = OperatorDefinition("Relu", since: 6, makeActivation(.relu))
    static let leakyReluOp = OperatorDefinition("LeakyRelu", since: 6, makeActivation(.leakyRelu) { ctx throws(RuntimeError) in
        (try attribute(ctx, "alpha", 0.01), 0, 0) })
    static let sigmoidOp = OperatorDefinition("Sigmoid", since: 6, makeActivation(.sigmoid))
    static let hardSigmoidOp = OperatorDefinition("HardSigmoid", since: 6, makeActivation(.hardSigmoid) { ctx throws(RuntimeError) in
        (try attribute(ctx, "alpha", 0.2), try attribute(ctx, "beta", 0.5), 0) })
    static let hardSwishOp = OperatorDefinition("HardSwish", since: 14, makeActivation(.hardSwish))
    static let softplusOp = OperatorDefinition("Softplus", since: 1, makeActivation(.softplus))
    static let softsignOp = OperatorDefinition("Softsign", since: 1, makeActivation(.softsign))
    static let eluOp = OperatorDefinition("Elu", since: 6, makeActivation(.elu) { ctx throws(RuntimeError) in
        (try attribute(ctx, "alpha", 1), 0, 0) })
    static let seluOp = OperatorDefinition("Selu", since: 6, makeActivation(.selu) { ctx throws(RuntimeError) in
        (try attribute(ctx, "alpha", 1.67326319217681884765625), 0, try attribute(ctx, "gamma", 1.05070102214813232421875)) })
    static let celuOp = OperatorDefinition("Celu", since: 12, makeActivation(.celu) { ctx throws(RuntimeError) in
        (try attribute(ctx, "alpha", 1), 0, 0) })
    static let geluOp = OperatorDefinition("Gelu", since: 20, makeActivation(.gelu))
    static let mishOp = OperatorDefinition("Mish", since: 18, makeActivation(.mish))
    static let thresholdedReluOp = OperatorDefinition("ThresholdedRelu", since: 10, makeActivation(.thresholdedRelu) { ctx throws(RuntimeError) in
        (try attribute(ctx, "alpha", 1), 0, 0) })
    static let swishOp = OperatorDefinition("Swish", since: 24, makeActivation(.swish) { ctx throws(RuntimeError) in
        (try attribute(ctx, "alpha", 1), 0, 0) })
    static let shrinkOp = OperatorDefinition("Shrink", since: 9, makeActivation(.shrink) { ctx throws(RuntimeError) in
        (try attribute(ctx, "lambd", 0.5), try attribute(ctx, "bias", 0), 0) })
}
