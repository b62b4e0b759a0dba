#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libm entry points used by kernels (kept in one place so the runtime core needs no Foundation).
enum Foundationless {
    @inline(__always) static func powf(_ x: Float, _ y: Float) -> Float { Glibc.powf(x, y) }
    @inline(__always) static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
    @inline(__always) static func expf(_ x: Float) -> Float { Glibc.expf(x) }
    @inline(__always) static func logf(_ x: Float) -> Float { Glibc.logf(x) }
    @inline(__always) static func tanhf(_ x: Float) -> Float { Glibc.tanhf(x) }
    @inline(__always) static func erff(_ x: Float) -> Float { Glibc.erff(x) }
    @inline(__always) static func sqrtf(_ x: Float) -> Float { Glibc.sqrtf(x) }
}
