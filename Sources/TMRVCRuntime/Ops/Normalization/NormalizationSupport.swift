#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ONNXFormat

// Helpers shared by the normalization, softmax and reduction kernels.

/// Floating-point element types of the normalization kernels (float32, float64).
protocol NormFloat: BinaryFloatingPoint {
    static func nExp(_ x: Self) -> Self
    static func nLog(_ x: Self) -> Self
    static func nSqrt(_ x: Self) -> Self
}

extension Float: NormFloat {
    @inline(__always) static func nExp(_ x: Float) -> Float { expf(x) }
    @inline(__always) static func nLog(_ x: Float) -> Float { logf(x) }
    @inline(__always) static func nSqrt(_ x: Float) -> Float { sqrtf(x) }
}

extension Double: NormFloat {
    @inline(__always) static func nExp(_ x: Double) -> Double { exp(x) }
    @inline(__always) static func nLog(_ x: Double) -> Double { log(x) }
    @inline(__always) static func nSqrt(_ x: Double) -> Double { sqrt(x) }
}

/// float32 or float64, chosen at load.
enum NormFloatKind: Sendable {
    case float, double

    init?(_ t: DataType) {
        switch t {
        case .float: self = .float
        case .double: self = .double
        default: return nil
        }
    }
}

extension NodeContext {
    /// Resolves a possibly negative axis against `rank` (valid range [-rank, rank-1]).
    func normResolveAxis(_ axis: Int, rank: Int, what: String = "axis") throws(RuntimeError) -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else { throw error("\(what) \(axis) is out of range for rank \(rank)") }
        return a
    }

    /// Requires a float32/float64 tensor.
    func normFloatKind(_ b: TensorBuffer, _ what: String) throws(RuntimeError) -> NormFloatKind {
        guard let k = NormFloatKind(b.dataType) else {
            throw unsupported("\(what) element type \(b.dataType) is not supported (float32, float64)")
        }
        return k
    }
}

/// Splits `shape` around `axis` into (outer, axis length, inner) element counts.
@inline(__always)
func normSplit(_ shape: [Int], axis: Int) -> (outer: Int, n: Int, inner: Int) {
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    return (outer, shape[axis], inner)
}

/// Mean and 1/sqrt(variance + epsilon) of `n` contiguous values, accumulated in double
/// (two passes, so the variance keeps its precision for data with a large mean).
@inline(__always)
func normMeanInvStd<T: NormFloat>(_ x: UnsafePointer<T>, _ n: Int, epsilon: Double) -> (mean: Double, invStd: Double) {
    guard n > 0 else { return (0, 1 / (epsilon).squareRoot()) }
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var i = 0
    while i + 4 <= n {
        s0 += Double(x[i]); s1 += Double(x[i + 1]); s2 += Double(x[i + 2]); s3 += Double(x[i + 3])
        i += 4
    }
    while i < n { s0 += Double(x[i]); i += 1 }
    let mean = ((s0 + s1) + (s2 + s3)) / Double(n)
    var v0 = 0.0, v1 = 0.0, v2 = 0.0, v3 = 0.0
    i = 0
    while i + 4 <= n {
        let d0 = Double(x[i]) - mean, d1 = Double(x[i + 1]) - mean
        let d2 = Double(x[i + 2]) - mean, d3 = Double(x[i + 3]) - mean
        v0 += d0 * d0; v1 += d1 * d1; v2 += d2 * d2; v3 += d3 * d3
        i += 4
    }
    while i < n { let d = Double(x[i]) - mean; v0 += d * d; i += 1 }
    let variance = ((v0 + v1) + (v2 + v3)) / Double(n)
    return (mean, 1 / (variance + epsilon).squareRoot())
}
