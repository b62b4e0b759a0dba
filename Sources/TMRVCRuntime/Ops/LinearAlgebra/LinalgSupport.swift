import CBLAS
import ONNXFormat
import TMRVCKernels

// Shared pieces of the linear-algebra family: BLAS configuration, float32 GEMM dispatch
// (GEMM or GEMV by shape), naive loops for the non-float element types, and the adapter that
// runs the float32 kernels on float16/bfloat16 tensors.

/// Configures OpenBLAS once: a single thread, so that sgemm never spawns threads or mallocs on
/// the audio thread (threaded OpenBLAS allocates per call). Touch it from every BLAS factory.
let linalgBLASConfigured: Bool = {
    openblas_set_num_threads(1)
    return true
}()

/// The largest dimension handed to BLAS (its integers are 32-bit).
let linalgBLASLimit = Int(Int32.max)

/// One float32 product `C = alpha * op(A) * op(B) + beta * C` (row-major), dispatched to
/// cblas_sgemv when one side is a vector (M == 1 or N == 1), to the runtime's lock-free GEMM up
/// to `kernelGemmMACs` and to cblas_sgemm above.
/// `transA`/`transB` mean A is stored K x M / B is stored N x K. Zero-sized products only
/// scale C.
@inline(__always)
func linalgSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { for j in 0..<n { row[j] = 0 } } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
        }
        return
    }
    if m * n * k <= kernelGemmMACs && n > 1 && m > 1 {
        // Products of run-time matrices up to this size (every one on the per-frame path: the
        // converter's hoisted slow-node updates, attention) run in the runtime's own GEMM:
        // OpenBLAS's sgemm takes its buffer-pool mutex on every call and allocates for some
        // small shapes.
        KernelSet.active.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    if n == 1 {
        // y (M) = op(A) (M x K) * x (K); x is column 0 of op(B): stride ldb unless transposed.
        let incx = transB ? 1 : ldb
        if transA {
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(m), alpha, a, Int32(lda),
                        b, Int32(incx), beta, c, Int32(ldc))
        } else {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(k), alpha, a, Int32(lda),
                        b, Int32(incx), beta, c, Int32(ldc))
        }
        return
    }
    if m == 1 {
        // y (N) = op(B)^T * a, a being row 0 of op(A): stride lda when A is transposed.
        let inca = transA ? lda : 1
        if transB {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb),
                        a, Int32(inca), beta, c, 1)
        } else {
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb),
                        a, Int32(inca), beta, c, 1)
        }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Element types with a naive (non-BLAS) matrix product: float64 and the integer types.
protocol LinalgScalar {
    static var linalgZero: Self { get }
    /// acc + a * b (wrapping for integers).
    static func linalgMulAdd(_ acc: Self, _ a: Self, _ b: Self) -> Self
}

extension Double: LinalgScalar {
    static var linalgZero: Double { 0 }
    @inline(__always) static func linalgMulAdd(_ acc: Double, _ a: Double, _ b: Double) -> Double { acc + a * b }
}
extension Int32: LinalgScalar {
    static var linalgZero: Int32 { 0 }
    @inline(__always) static func linalgMulAdd(_ acc: Int32, _ a: Int32, _ b: Int32) -> Int32 { acc &+ a &* b }
}
extension Int64: LinalgScalar {
    static var linalgZero: Int64 { 0 }
    @inline(__always) static func linalgMulAdd(_ acc: Int64, _ a: Int64, _ b: Int64) -> Int64 { acc &+ a &* b }
}
extension UInt32: LinalgScalar {
    static var linalgZero: UInt32 { 0 }
    @inline(__always) static func linalgMulAdd(_ acc: UInt32, _ a: UInt32, _ b: UInt32) -> UInt32 { acc &+ a &* b }
}
extension UInt64: LinalgScalar {
    static var linalgZero: UInt64 { 0 }
    @inline(__always) static func linalgMulAdd(_ acc: UInt64, _ a: UInt64, _ b: UInt64) -> UInt64 { acc &+ a &* b }
}

/// Naive `C[i, j] = sum_k A[i, k] * B[k, j]` with element strides (for transposes); C is
/// contiguous with row length `ldc`.
@inline(__always)
func linalgNaiveProduct<T: LinalgScalar>(_ a: UnsafePointer<T>, aRow: Int, aCol: Int,
                                          _ b: UnsafePointer<T>, bRow: Int, bCol: Int,
                                          _ c: UnsafeMutablePointer<T>, ldc: Int, m: Int, n: Int, k: Int) {
    for i in 0..<m {
        for j in 0..<n {
            var acc = T.linalgZero
            for p in 0..<k { acc = T.linalgMulAdd(acc, a[i * aRow + p * aCol], b[p * bRow + j * bCol]) }
            c[i * ldc + j] = acc
        }
    }
}

/// The element types the linear-algebra ops handle.
enum LinalgElement {
    case float, double, int32, int64, uint32, uint64

    init?(_ t: DataType) {
        switch t {
        case .float: self = .float
        case .double: self = .double
        case .int32: self = .int32
        case .int64: self = .int64
        case .uint32: self = .uint32
        case .uint64: self = .uint64
        default: return nil
        }
    }
}

// MARK: - float16 / bfloat16 through the float32 kernels

/// Whether `t` is a 16-bit float type run through the float32 kernels.
func linalgIsHalf(_ t: DataType) -> Bool { t == .float16 || t == .bfloat16 }

/// One half <-> float32 conversion done around the inner kernel.
struct LinalgHalfConversion {
    let half: TensorBuffer
    let single: TensorBuffer
    let bfloat: Bool
}

@inline(__always)
func linalgHalfToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int, bfloat: Bool) {
    if bfloat {
        for i in 0..<count { dst[i] = Float(bitPattern: UInt32(src[i]) << 16) }
    } else {
        for i in 0..<count { dst[i] = Float(Float16(bitPattern: src[i])) }
    }
}

@inline(__always)
func linalgFloatToHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int, bfloat: Bool) {
    if bfloat {
        for i in 0..<count {
            let v = src[i]
            if v.isNaN { dst[i] = 0x7FC0; continue }
            let bits = v.bitPattern
            // Round to nearest, ties to even.
            let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
            dst[i] = UInt16(truncatingIfNeeded: rounded >> 16)
        }
    } else {
        for i in 0..<count { dst[i] = Float16(src[i]).bitPattern }
    }
}

/// Runs a float32 kernel on 16-bit float tensors: inputs are converted into float32 shadows
/// (constants once at load), the inner kernel runs, and its outputs are rounded back.
final class LinalgHalfAdapterKernel: Kernel, @unchecked Sendable {
    let inputs: [LinalgHalfConversion]
    let outputs: [LinalgHalfConversion]
    let inner: Kernel

    init(inputs: [LinalgHalfConversion], outputs: [LinalgHalfConversion], inner: Kernel) {
        self.inputs = inputs; self.outputs = outputs; self.inner = inner
    }

    override func run() {
        for c in inputs {
            linalgHalfToFloat(c.half.data.assumingMemoryBound(to: UInt16.self), c.single.floats,
                              count: c.half.count, bfloat: c.bfloat)
        }
        inner.run()
        for c in outputs {
            linalgFloatToHalf(c.single.floats, c.half.data.assumingMemoryBound(to: UInt16.self),
                              count: c.half.count, bfloat: c.bfloat)
        }
    }
}

/// Builds `floatFactory`'s kernel on float32 shadows of the 16-bit float inputs of `ctx` and
/// declares the real outputs with the 16-bit type of input 0.
func linalgHalfAdapter(_ ctx: inout NodeContext,
                       _ floatFactory: (inout NodeContext) throws(RuntimeError) -> Kernel?) throws(RuntimeError) -> Kernel? {
    var shadows: [TensorBuffer?] = []
    var conversions: [LinalgHalfConversion] = []
    for input in ctx.inputs {
        guard let input, linalgIsHalf(input.dataType) else { shadows.append(input); continue }
        let s = TensorBuffer(name: input.name + "#f32", dataType: .float, shape: input.shape,
                             role: input.isConstant ? .constant : .intermediate)
        s.data = ctx.workspace(bytes: input.count * 4)
        let bfloat = input.dataType == .bfloat16
        if input.isConstant {
            linalgHalfToFloat(input.data.assumingMemoryBound(to: UInt16.self), s.floats, count: input.count, bfloat: bfloat)
        } else {
            conversions.append(LinalgHalfConversion(half: input, single: s, bfloat: bfloat))
        }
        shadows.append(s)
    }
    let halfType = try ctx.input(0).dataType
    var sub = NodeContext(node: ctx.node, opset: ctx.opset, file: ctx.file, inputs: shadows,
                          outputs: [TensorBuffer?](repeating: nil, count: ctx.outputs.count),
                          outputNames: ctx.outputNames, memory: ctx.memory)
    guard let inner = try floatFactory(&sub) else {
        throw ctx.unsupported("\(halfType) inputs need a run-time kernel")
    }
    var back: [LinalgHalfConversion] = []
    for (i, o) in sub.outputs.enumerated() {
        guard let o else { continue }
        guard o.dataType == .float, o.role == .intermediate else {
            throw ctx.unsupported("output \(i) cannot be converted back to \(halfType)")
        }
        o.data = ctx.workspace(bytes: o.byteCount)
        let h = try ctx.output(i, halfType, o.shape)
        back.append(LinalgHalfConversion(half: h, single: o, bfloat: halfType == .bfloat16))
    }
    return LinalgHalfAdapterKernel(inputs: conversions, outputs: back, inner: inner)
}

/// Products of run-time matrices up to this many multiply-adds use `KernelSet.gemm` (lock-free)
/// instead of OpenBLAS's sgemm, which is faster on large offline products.
let kernelGemmMACs = 8 << 20

// MARK: - batch-1 products and fused epilogues

/// Most columns (T, rows of A) for which a product on constant float32 weights uses the packed
/// SIMD kernels instead of OpenBLAS: every T (with fp16 and int8 storage always: their weights exist
/// only in that form). It was 4 until 2026-12-07; then batched offline conversion (models at T = 20
/// and 100) took 4.02 s per 60 s of 48 kHz audio with the packed kernels against 5.63 s with
/// OpenBLAS sgemm above 4 columns (same loaded 2-vCPU Xeon, L2 2 MiB, L3 300 MiB; its OpenBLAS
/// picks the SSE3 `PRESCOTT` sgemm kernels on this CPU), and the packed kernels never take a lock.
let linalgPackedColumnLimit = Int.max

/// Whether a product with `columns` columns on constant weights takes the packed path.
func linalgUsePacked(columns: Int, storage: WeightStorage) -> Bool {
    storage != .float32 || columns <= linalgPackedColumnLimit
}

/// Adds `bias[j]` to column j of every row of the row-major rows x columns matrix `y`, then
/// applies the activation (the epilogue of fused chains on the BLAS path).
func linalgApplyEpilogue(_ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>?,
                         activation: FusedActivation) {
    if let bias {
        for i in 0..<rows {
            let row = y + i * columns
            for j in 0..<columns { row[j] += bias[j] }
        }
    }
    activation.apply(y, count: rows * columns)
}
