#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTMRVCSupport
import TMRVCKernelsAVX2
import TMRVCKernelsGeneric

/// One compiled variant of the hot loops (TMRVCKernelsAVX2 / TMRVCKernelsGeneric: the same
/// source built for two CPUs), as a table of C function pointers (no reference counting on the
/// audio thread) chosen once at load time.
///
/// `KernelSet.active` is the AVX2/FMA build on a CPU that has AVX2 and FMA (Haswell, Excavator
/// and newer) and the baseline x86-64 build otherwise; `TMRVC_KERNELS=generic` in the
/// environment forces the baseline build (tests run both), `TMRVC_KERNELS=avx2` is honoured only
/// where the CPU has AVX2 and FMA. Everything outside the two kernel targets is compiled for
/// baseline x86-64, so a binary never executes an instruction its CPU lacks.
public struct KernelSet: @unchecked Sendable {
    /// "avx2" or "generic".
    public let name: String
    /// False where float16 weight storage would be slower than float32 (no F16C: the generic
    /// x86-64 build); `PackedMatrix` then stores float32 (see
    /// `TMRVCKernelsAVX2.float16WeightsSupported`).
    public let float16WeightsSupported: Bool
    /// See `TMRVCKernelsAVX2.packedGEMV`.
    public let packedGEMV: @convention(c) (_ weights: UnsafeRawPointer, _ bias: UnsafePointer<Float>, _ rows: Int, _ depth: Int,
                                      _ half: Bool, _ activation: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Void
    /// See `TMRVCKernelsAVX2.packedBlock`.
    public let packedBlock: @convention(c) (_ weights: UnsafeRawPointer, _ bias: UnsafePointer<Float>, _ rows: Int, _ depth: Int,
                                       _ half: Bool, _ activation: Int, _ columns: Int, _ x: UnsafePointer<Float>,
                                       _ y: UnsafeMutablePointer<Float>, _ ysN: Int, _ ysT: Int) -> Void
    /// See `TMRVCKernelsAVX2.packedInt8`.
    public let packedInt8: @convention(c) (_ weights: UnsafeRawPointer, _ bias: UnsafePointer<Float>, _ scales: UnsafePointer<Float>,
                                      _ rows: Int, _ depth: Int, _ activation: Int, _ columns: Int, _ x: UnsafePointer<Float>,
                                      _ xsK: Int, _ y: UnsafeMutablePointer<Float>, _ ysN: Int, _ ysT: Int,
                                      _ scratch: UnsafeMutablePointer<Int32>) -> Void
    /// See `TMRVCKernelsAVX2.packedInt8Sums`.
    public let packedInt8Sums: @convention(c) (_ weights: UnsafeRawPointer, _ rows: Int, _ depth: Int, _ columns: Int,
                                          _ xq: UnsafePointer<Int32>, _ stride: Int, _ y: UnsafeMutablePointer<Int32>,
                                          _ ysN: Int, _ ysT: Int) -> Void
    /// See `TMRVCKernelsAVX2.dynamicQuantizeUInt8` (ONNX DynamicQuantizeLinear).
    public let dynamicQuantizeUInt8: @convention(c) (_ x: UnsafePointer<Float>, _ count: Int, _ y: UnsafeMutablePointer<UInt8>,
                                                _ scale: UnsafeMutablePointer<Float>, _ zeroPoint: UnsafeMutablePointer<UInt8>) -> Void
    /// See `TMRVCKernelsAVX2.gemm`: C = alpha op(A) op(B) + beta C on run-time matrices, lock-free.
    public let gemm: @convention(c) (_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                                     _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                     _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) -> Void
    /// Elementwise y = f(x) over `count` floats (in place allowed).
    public typealias VectorFunction = @convention(c) (_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) -> Void
    public let exp: VectorFunction
    public let tanh: VectorFunction
    public let sigmoid: VectorFunction
    /// GELU, erf form.
    public let gelu: VectorFunction
    /// GELU, tanh approximation.
    public let geluTanh: VectorFunction
    /// Dot product of n floats, n a multiple of 8.
    public let dot: @convention(c) (_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float
    /// sum (a[j] - b[j])^2 over n floats.
    public let squaredDistance: @convention(c) (_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float

    /// The AVX2/FMA build (call only where `hostSupportsAVX2` is true).
    public static let avx2 = KernelSet(
        name: "avx2", float16WeightsSupported: TMRVCKernelsAVX2.float16WeightsSupported,
        packedGEMV: { TMRVCKernelsAVX2.packedGEMV(weights: $0, bias: $1, rows: $2, depth: $3, half: $4, activation: $5, x: $6, y: $7) },
        packedBlock: { TMRVCKernelsAVX2.packedBlock(weights: $0, bias: $1, rows: $2, depth: $3, half: $4, activation: $5,
                                                    columns: $6, x: $7, y: $8, ysN: $9, ysT: $10) },
        packedInt8: { TMRVCKernelsAVX2.packedInt8(weights: $0, bias: $1, scales: $2, rows: $3, depth: $4, activation: $5,
                                                  columns: $6, x: $7, xsK: $8, y: $9, ysN: $10, ysT: $11, scratch: $12) },
        packedInt8Sums: { TMRVCKernelsAVX2.packedInt8Sums(weights: $0, rows: $1, depth: $2, columns: $3, xq: $4, stride: $5,
                                                      y: $6, ysN: $7, ysT: $8) },
        dynamicQuantizeUInt8: { TMRVCKernelsAVX2.dynamicQuantizeUInt8($0, $1, $2, $3, $4) },
        gemm: { TMRVCKernelsAVX2.gemm(transA: $0, transB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6, lda: $7, b: $8, ldb: $9,
                                    beta: $10, c: $11, ldc: $12) },
        exp: { TMRVCKernelsAVX2.vectorExp($0, $1, $2) }, tanh: { TMRVCKernelsAVX2.vectorTanh($0, $1, $2) },
        sigmoid: { TMRVCKernelsAVX2.vectorSigmoid($0, $1, $2) }, gelu: { TMRVCKernelsAVX2.vectorGelu($0, $1, $2) },
        geluTanh: { TMRVCKernelsAVX2.vectorGeluTanh($0, $1, $2) },
        dot: { TMRVCKernelsAVX2.dotProduct($0, $1, $2) }, squaredDistance: { TMRVCKernelsAVX2.squaredDistance($0, $1, $2) })

    /// The baseline x86-64 build (SSE2; no FMA, no F16C).
    public static let generic = KernelSet(
        name: "generic", float16WeightsSupported: TMRVCKernelsGeneric.float16WeightsSupported,
        packedGEMV: { TMRVCKernelsGeneric.packedGEMV(weights: $0, bias: $1, rows: $2, depth: $3, half: $4, activation: $5, x: $6, y: $7) },
        packedBlock: { TMRVCKernelsGeneric.packedBlock(weights: $0, bias: $1, rows: $2, depth: $3, half: $4, activation: $5,
                                                       columns: $6, x: $7, y: $8, ysN: $9, ysT: $10) },
        packedInt8: { TMRVCKernelsGeneric.packedInt8(weights: $0, bias: $1, scales: $2, rows: $3, depth: $4, activation: $5,
                                                  columns: $6, x: $7, xsK: $8, y: $9, ysN: $10, ysT: $11, scratch: $12) },
        packedInt8Sums: { TMRVCKernelsGeneric.packedInt8Sums(weights: $0, rows: $1, depth: $2, columns: $3, xq: $4, stride: $5,
                                                      y: $6, ysN: $7, ysT: $8) },
        dynamicQuantizeUInt8: { TMRVCKernelsGeneric.dynamicQuantizeUInt8($0, $1, $2, $3, $4) },
        gemm: { TMRVCKernelsGeneric.gemm(transA: $0, transB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6, lda: $7, b: $8, ldb: $9,
                                       beta: $10, c: $11, ldc: $12) },
        exp: { TMRVCKernelsGeneric.vectorExp($0, $1, $2) }, tanh: { TMRVCKernelsGeneric.vectorTanh($0, $1, $2) },
        sigmoid: { TMRVCKernelsGeneric.vectorSigmoid($0, $1, $2) }, gelu: { TMRVCKernelsGeneric.vectorGelu($0, $1, $2) },
        geluTanh: { TMRVCKernelsGeneric.vectorGeluTanh($0, $1, $2) },
        dot: { TMRVCKernelsGeneric.dotProduct($0, $1, $2) }, squaredDistance: { TMRVCKernelsGeneric.squaredDistance($0, $1, $2) })

    /// True when this CPU has AVX2 and FMA (always false off x86-64, where both builds are the same code).
    public static let hostSupportsAVX2: Bool = tmrvc_cpu_has_avx2_fma() != 0

    /// The set every model and DSP block uses, chosen once per process (see the type's comment).
    public static let active: KernelSet = {
        let forced = getenv("TMRVC_KERNELS").map { String(cString: $0) }
        if forced == "generic" || !hostSupportsAVX2 { return generic }
        return avx2
    }()

    /// Both sets this host can run (the generic one first): for tests and benchmarks.
    public static var runnable: [KernelSet] { hostSupportsAVX2 ? [generic, avx2] : [generic] }
}

/// The packed int8 weight layout both kernel builds read (the same source in each).
public typealias Int8Layout = TMRVCKernelsAVX2.Int8Layout
