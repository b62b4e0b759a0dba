#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libm entry points used by kernels (kept in one place so the runtime core needs no Foundation).
enum Foundationless {
    @inline(__always) static func powf(_ x: Float, _ y: Float) -> Float { c_powf(x, y) }
    @inline(__always) static func pow(_ x: Double, _ y: Double) -> Double { c_pow(x, y) }
    @inline(__always) static func expf(_ x: Float) -> Float { c_expf(x) }
    @inline(__always) static func logf(_ x: Float) -> Float { c_logf(x) }
    @inline(__always) static func tanhf(_ x: Float) -> Float { c_tanhf(x) }
    @inline(__always) static func erff(_ x: Float) -> Float { c_erff(x) }
    @inline(__always) static func sqrtf(_ x: Float) -> Float { c_sqrtf(x) }
}

/// A floating-point type with the libm functions the kernels need: `Float` maps to the `...f`
/// entry points, `Double` to the plain ones. Generic kernels call `T.exp(x)` and are specialized
/// per type, so each call is a direct libm call.
protocol MathFloat: BinaryFloatingPoint {
    /// The value as a Double (exact; a concrete conversion, unlike the generic initializer).
    var doubleValue: Double { get }
    /// `d` rounded to this type (a concrete conversion).
    init(fromDouble d: Double)
    static func exp(_ x: Self) -> Self
    static func expm1(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func sin(_ x: Self) -> Self
    static func cos(_ x: Self) -> Self
    static func tan(_ x: Self) -> Self
    static func asin(_ x: Self) -> Self
    static func acos(_ x: Self) -> Self
    static func atan(_ x: Self) -> Self
    static func sinh(_ x: Self) -> Self
    static func cosh(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func asinh(_ x: Self) -> Self
    static func acosh(_ x: Self) -> Self
    static func atanh(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
    static func erfc(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func fmod(_ x: Self, _ y: Self) -> Self
}

extension Float: MathFloat {
    @inline(__always) var doubleValue: Double { Double(self) }
    @inline(__always) init(fromDouble d: Double) { self.init(d) }
    @inline(__always) static func exp(_ x: Float) -> Float { c_expf(x) }
    @inline(__always) static func expm1(_ x: Float) -> Float { c_expm1f(x) }
    @inline(__always) static func log(_ x: Float) -> Float { c_logf(x) }
    @inline(__always) static func log1p(_ x: Float) -> Float { c_log1pf(x) }
    @inline(__always) static func sin(_ x: Float) -> Float { c_sinf(x) }
    @inline(__always) static func cos(_ x: Float) -> Float { c_cosf(x) }
    @inline(__always) static func tan(_ x: Float) -> Float { c_tanf(x) }
    @inline(__always) static func asin(_ x: Float) -> Float { c_asinf(x) }
    @inline(__always) static func acos(_ x: Float) -> Float { c_acosf(x) }
    @inline(__always) static func atan(_ x: Float) -> Float { c_atanf(x) }
    @inline(__always) static func sinh(_ x: Float) -> Float { c_sinhf(x) }
    @inline(__always) static func cosh(_ x: Float) -> Float { c_coshf(x) }
    @inline(__always) static func tanh(_ x: Float) -> Float { c_tanhf(x) }
    @inline(__always) static func asinh(_ x: Float) -> Float { c_asinhf(x) }
    @inline(__always) static func acosh(_ x: Float) -> Float { c_acoshf(x) }
    @inline(__always) static func atanh(_ x: Float) -> Float { c_atanhf(x) }
    @inline(__always) static func erf(_ x: Float) -> Float { c_erff(x) }
    @inline(__always) static func erfc(_ x: Float) -> Float { c_erfcf(x) }
    @inline(__always) static func pow(_ x: Float, _ y: Float) -> Float { c_powf(x, y) }
    @inline(__always) static func fmod(_ x: Float, _ y: Float) -> Float { c_fmodf(x, y) }
}

extension Double: MathFloat {
    @inline(__always) var doubleValue: Double { self }
    @inline(__always) init(fromDouble d: Double) { self = d }
    @inline(__always) static func exp(_ x: Double) -> Double { c_exp(x) }
    @inline(__always) static func expm1(_ x: Double) -> Double { c_expm1(x) }
    @inline(__always) static func log(_ x: Double) -> Double { c_log(x) }
    @inline(__always) static func log1p(_ x: Double) -> Double { c_log1p(x) }
    @inline(__always) static func sin(_ x: Double) -> Double { c_sin(x) }
    @inline(__always) static func cos(_ x: Double) -> Double { c_cos(x) }
    @inline(__always) static func tan(_ x: Double) -> Double { c_tan(x) }
    @inline(__always) static func asin(_ x: Double) -> Double { c_asin(x) }
    @inline(__always) static func acos(_ x: Double) -> Double { c_acos(x) }
    @inline(__always) static func atan(_ x: Double) -> Double { c_atan(x) }
    @inline(__always) static func sinh(_ x: Double) -> Double { c_sinh(x) }
    @inline(__always) static func cosh(_ x: Double) -> Double { c_cosh(x) }
    @inline(__always) static func tanh(_ x: Double) -> Double { c_tanh(x) }
    @inline(__always) static func asinh(_ x: Double) -> Double { c_asinh(x) }
    @inline(__always) static func acosh(_ x: Double) -> Double { c_acosh(x) }
    @inline(__always) static func atanh(_ x: Double) -> Double { c_atanh(x) }
    @inline(__always) static func erf(_ x: Double) -> Double { c_erf(x) }
    @inline(__always) static func erfc(_ x: Double) -> Double { c_erfc(x) }
    @inline(__always) static func pow(_ x: Double, _ y: Double) -> Double { c_pow(x, y) }
    @inline(__always) static func fmod(_ x: Double, _ y: Double) -> Double { c_fmod(x, y) }
}

// File-scope forwarders: inside `extension Double` an unqualified `exp` would find the static
// member itself, so the members call these, which see only the C functions.
@inline(__always) private func c_expf(_ x: Float) -> Float { expf(x) }
@inline(__always) private func c_exp(_ x: Double) -> Double { exp(x) }
@inline(__always) private func c_expm1f(_ x: Float) -> Float { expm1f(x) }
@inline(__always) private func c_expm1(_ x: Double) -> Double { expm1(x) }
@inline(__always) private func c_logf(_ x: Float) -> Float { logf(x) }
@inline(__always) private func c_log(_ x: Double) -> Double { log(x) }
@inline(__always) private func c_log1pf(_ x: Float) -> Float { log1pf(x) }
@inline(__always) private func c_log1p(_ x: Double) -> Double { log1p(x) }
@inline(__always) private func c_sinf(_ x: Float) -> Float { sinf(x) }
@inline(__always) private func c_sin(_ x: Double) -> Double { sin(x) }
@inline(__always) private func c_cosf(_ x: Float) -> Float { cosf(x) }
@inline(__always) private func c_cos(_ x: Double) -> Double { cos(x) }
@inline(__always) private func c_tanf(_ x: Float) -> Float { tanf(x) }
@inline(__always) private func c_tan(_ x: Double) -> Double { tan(x) }
@inline(__always) private func c_asinf(_ x: Float) -> Float { asinf(x) }
@inline(__always) private func c_asin(_ x: Double) -> Double { asin(x) }
@inline(__always) private func c_acosf(_ x: Float) -> Float { acosf(x) }
@inline(__always) private func c_acos(_ x: Double) -> Double { acos(x) }
@inline(__always) private func c_atanf(_ x: Float) -> Float { atanf(x) }
@inline(__always) private func c_atan(_ x: Double) -> Double { atan(x) }
@inline(__always) private func c_sinhf(_ x: Float) -> Float { sinhf(x) }
@inline(__always) private func c_sinh(_ x: Double) -> Double { sinh(x) }
@inline(__always) private func c_coshf(_ x: Float) -> Float { coshf(x) }
@inline(__always) private func c_cosh(_ x: Double) -> Double { cosh(x) }
@inline(__always) private func c_tanhf(_ x: Float) -> Float { tanhf(x) }
@inline(__always) private func c_tanh(_ x: Double) -> Double { tanh(x) }
@inline(__always) private func c_asinhf(_ x: Float) -> Float { asinhf(x) }
@inline(__always) private func c_asinh(_ x: Double) -> Double { asinh(x) }
@inline(__always) private func c_acoshf(_ x: Float) -> Float { acoshf(x) }
@inline(__always) private func c_acosh(_ x: Double) -> Double { acosh(x) }
@inline(__always) private func c_atanhf(_ x: Float) -> Float { atanhf(x) }
@inline(__always) private func c_atanh(_ x: Double) -> Double { atanh(x) }
@inline(__always) private func c_erff(_ x: Float) -> Float { erff(x) }
@inline(__always) private func c_erf(_ x: Double) -> Double { erf(x) }
@inline(__always) private func c_erfcf(_ x: Float) -> Float { erfcf(x) }
@inline(__always) private func c_erfc(_ x: Double) -> Double { erfc(x) }
@inline(__always) private func c_sqrtf(_ x: Float) -> Float { sqrtf(x) }
@inline(__always) private func c_sqrt(_ x: Double) -> Double { sqrt(x) }
@inline(__always) private func c_powf(_ x: Float, _ y: Float) -> Float { powf(x, y) }
@inline(__always) private func c_pow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
@inline(__always) private func c_fmodf(_ x: Float, _ y: Float) -> Float { fmodf(x, y) }
@inline(__always) private func c_fmod(_ x: Double, _ y: Double) -> Double { fmod(x, y) }
