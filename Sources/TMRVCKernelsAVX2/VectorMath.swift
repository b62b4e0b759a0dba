// Vectorised float32 transcendental functions (8 lanes). This file is compiled twice (see
// Kernels.swift): with FMA (`KERNELS_FMA`, -target-cpu haswell) `madd` is one fused
// multiply-add; without it a multiply and an add (a fused one would become a slow libm call), and
// `squareError` uses Dekker's exact product split instead of an FMA.
// Accuracy, measured against double-precision references over dense grids (RuntimeTests,
// VectorMathTests, both kernel variants): exp, tanh and sigmoid within a few ulp; sigmoid relative
// ≤ 3e-7; GELU (erf form) absolute ≤ 2e-7 · max(1, |x|) and relative ≤ 1e-6 in the negative tail,
// where 1 + erf would cancel: erfc is evaluated directly. Special values: NaN in, NaN out; exp
// overflows to +inf above 88.72 and returns 0 below -87.34 (subnormal results flush, as the
// session runs with FTZ/DAZ anyway).

/// c + a * b (fused where the variant has FMA).
@inline(__always) func madd<V: SIMD>(_ c: V, _ a: V, _ b: V) -> V where V.Scalar == Float {
    #if KERNELS_FMA || !arch(x86_64)
    return c.addingProduct(a, b)
    #else
    return c + a * b
    #endif
}

/// The rounding error of `hi = x * x` (hi + error = x² exactly, |x| ≤ 2^60).
@inline(__always) func squareError(_ x: SIMD8<Float>, _ hi: SIMD8<Float>) -> SIMD8<Float> {
    #if KERNELS_FMA || !arch(x86_64)
    return (-hi).addingProduct(x, x)
    #else
    // Veltkamp split x = xh + xl with 12-bit halves, then Dekker's exact square.
    let c = SIMD8<Float>(repeating: 4097) * x
    let xh = c - (c - x)
    let xl = x - xh
    return ((xh * xh - hi) + SIMD8<Float>(repeating: 2) * xh * xl) + xl * xl
    #endif
}

enum VectorMath {
    typealias V = SIMD8<Float>

    @inline(__always) static func splat(_ v: Float) -> V { V(repeating: v) }

    /// e^x (Cephes polynomial on [-ln2/2, ln2/2], 2^n applied in two halves so n = 128 works).
    @inline(__always)
    static func exp(_ x: V) -> V {
        let hiLimit: Float = 88.72283, loLimit: Float = -87.33654
        var v = x
        v.replace(with: splat(loLimit), where: v .< splat(loLimit))
        v.replace(with: splat(hiLimit), where: v .> splat(hiLimit))
        // n = round(v / ln2) with the 1.5 * 2^23 trick (also yields the integer bits).
        let shifter: Float = 12_582_912
        let biased = v * splat(1.44269504088896341) + splat(shifter)
        let n = biased - splat(shifter)
        var r = madd(v, n, splat(-0.693359375))
        r = madd(r, n, splat(2.12194440e-4))
        var p = splat(1.9875691500e-4)
        p = madd(splat(1.3981999507e-3), p, r)
        p = madd(splat(8.3334519073e-3), p, r)
        p = madd(splat(4.1665795894e-2), p, r)
        p = madd(splat(1.6666665459e-1), p, r)
        p = madd(splat(5.0000001201e-1), p, r)
        let r2 = r * r
        var y = madd(r + splat(1), p, r2)
        // 2^n = 2^(n >> 1) * 2^(n - (n >> 1)), each factor a normal number for n in [-126, 128].
        let ni = unsafeBitCast(biased, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: 0x4B40_0000)
        let n1 = ni &>> 1, n2 = ni &- n1
        let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: V.self)
        let s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: V.self)
        y = y * s1 * s2
        y.replace(with: splat(.infinity), where: x .> splat(hiLimit))
        y.replace(with: splat(0), where: x .< splat(loLimit))
        y.replace(with: x, where: x .!= x)
        return y
    }

    /// erfc(z) for z >= 0 (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 in exact
    /// arithmetic): t exp(-z^2 + P(t)), t = 1 / (1 + z/2). No cancellation for large z.
    @inline(__always)
    static func erfcNonNegative(_ z: V) -> V {
        let hi = z * z
        return erfcNonNegative(z, squareHigh: hi, squareLow: squareError(z, hi))
    }

    /// erfc(z) with z^2 given as an unevaluated sum hi + lo (exact when hi = z*z rounded and
    /// lo = fma(z, z, -hi)): the exponent -z^2 + P(t) then carries one rounding instead of the
    /// ~z^2 ulp of a rounded square, which matters in the tail.
    @inline(__always)
    static func erfcNonNegative(_ z: V, squareHigh hi: V, squareLow lo: V) -> V {
        let t = splat(1) / madd(splat(1), z, splat(0.5))
        var p = splat(0.17087277)
        p = madd(splat(-0.82215223), p, t)
        p = madd(splat(1.48851587), p, t)
        p = madd(splat(-1.13520398), p, t)
        p = madd(splat(0.27886807), p, t)
        p = madd(splat(-0.18628806), p, t)
        p = madd(splat(0.09678418), p, t)
        p = madd(splat(0.37409196), p, t)
        p = madd(splat(1.00002368), p, t)
        p = madd(splat(-1.26551223), p, t)
        return t * exp((p - hi) - lo)
    }

    /// GELU with the exact (erf) form: x Φ(x), Φ(x) = erfc(-x/√2) / 2, erfc evaluated directly on
    /// |x|/√2 so the negative tail keeps its relative accuracy.
    @inline(__always)
    static func gelu(_ x: V) -> V {
        let a = abs(x) * splat(0.70710678118654752440)
        // (x / sqrt 2)^2 = x^2 / 2 from the exact split of x * x (halving is exact), so the
        // rounding of x / sqrt 2 does not reach the exponent.
        let hi = x * x
        let lo = squareError(x, hi)
        let e = splat(0.5) * erfcNonNegative(a, squareHigh: splat(0.5) * hi, squareLow: splat(0.5) * lo)
        var phi = splat(1) - e
        phi.replace(with: e, where: x .< splat(0))
        var y = x * phi
        // Beyond these the float result is x (1 - Φ < 1e-23) or -0 (Φ < 1e-88); this also
        // keeps ±inf out of the NaN that inf - inf would give in the split square.
        y.replace(with: x, where: x .> splat(10))
        y.replace(with: splat(-0.0), where: x .< splat(-20))
        return y
    }

    /// 1 / (1 + e^-x).
    @inline(__always)
    static func sigmoid(_ x: V) -> V {
        splat(1) / (splat(1) + exp(-x))
    }

    /// GELU, tanh approximation: x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) (= 0.5 x (1 + tanh u)).
    @inline(__always)
    static func geluTanh(_ x: V) -> V {
        let u = madd(x, splat(0.044715) * x * x, x) * splat(1.5957691216057307118)
        return x * sigmoid(u)
    }

    /// tanh(x): Cephes odd polynomial below |x| = 0.625, 1 - 2 / (e^{2|x|} + 1) above.
    @inline(__always)
    static func tanh(_ x: V) -> V {
        let ax = abs(x)
        let z = x * x
        var p = splat(-5.70498872745e-3)
        p = madd(splat(2.06390887954e-2), p, z)
        p = madd(splat(-5.37397155531e-2), p, z)
        p = madd(splat(1.33314422036e-1), p, z)
        p = madd(splat(-3.33332819422e-1), p, z)
        let small = madd(x, p * z, x)
        var ax44 = ax
        ax44.replace(with: splat(44), where: ax .> splat(44))
        let e = exp(splat(2) * ax44)
        var large = splat(1) - splat(2) / (e + splat(1))
        large.replace(with: -large, where: x .< splat(0))
        var y = large
        y.replace(with: small, where: ax .< splat(0.625))
        y.replace(with: x, where: x .!= x)
        return y
    }

    /// Applies `F` to `count` floats, 16 at a time (two independent vectors for ILP), then 8,
    /// then the tail through a zero-padded vector. Specialized per function (no closure calls).
    @inline(__always)
    static func map<F: VectorFunction>(_: F.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        while i + 16 <= count {
            let a = F.apply(rx.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            let b = F.apply(rx.loadUnaligned(fromByteOffset: i * 4 + 32, as: V.self))
            ry.storeBytes(of: a, toByteOffset: i * 4, as: V.self)
            ry.storeBytes(of: b, toByteOffset: i * 4 + 32, as: V.self)
            i += 16
        }
        while i + 8 <= count {
            ry.storeBytes(of: F.apply(rx.loadUnaligned(fromByteOffset: i * 4, as: V.self)), toByteOffset: i * 4, as: V.self)
            i += 8
        }
        if i < count {
            var v = V()
            for j in 0..<(count - i) { v[j] = x[i + j] }
            let r = F.apply(v)
            for j in 0..<(count - i) { y[i + j] = r[j] }
        }
    }
}

/// An 8-lane function for `VectorMath.map`.
protocol VectorFunction { static func apply(_ v: SIMD8<Float>) -> SIMD8<Float> }
enum ExpFunction: VectorFunction { @inline(__always) static func apply(_ v: SIMD8<Float>) -> SIMD8<Float> { VectorMath.exp(v) } }
enum GeluFunction: VectorFunction { @inline(__always) static func apply(_ v: SIMD8<Float>) -> SIMD8<Float> { VectorMath.gelu(v) } }
enum GeluTanhFunction: VectorFunction { @inline(__always) static func apply(_ v: SIMD8<Float>) -> SIMD8<Float> { VectorMath.geluTanh(v) } }
enum SigmoidFunction: VectorFunction { @inline(__always) static func apply(_ v: SIMD8<Float>) -> SIMD8<Float> { VectorMath.sigmoid(v) } }
enum TanhFunction: VectorFunction { @inline(__always) static func apply(_ v: SIMD8<Float>) -> SIMD8<Float> { VectorMath.tanh(v) } }

@inline(__always) private func abs(_ v: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & SIMD8<UInt32>(repeating: 0x7FFF_FFFF), to: SIMD8<Float>.self)
}

// MARK: the array kernels (in place allowed: `y` may equal `x`)

/// y = e^x for `count` floats.
public func vectorExp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) { VectorMath.map(ExpFunction.self, x, y, count) }
/// y = GELU(x), erf form.
public func vectorGelu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) { VectorMath.map(GeluFunction.self, x, y, count) }
/// y = GELU(x), tanh approximation.
public func vectorGeluTanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) { VectorMath.map(GeluTanhFunction.self, x, y, count) }
/// y = 1 / (1 + e^-x).
public func vectorSigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) { VectorMath.map(SigmoidFunction.self, x, y, count) }
/// y = tanh(x).
public func vectorTanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) { VectorMath.map(TanhFunction.self, x, y, count) }
