// The hot loops of the runtime and the DSP, written once and compiled twice: this target
// (TMRVCKernelsAVX2: -target-cpu haswell, `KERNELS_FMA`) and TMRVCKernelsGeneric (baseline
// x86-64, whose sources are symbolic links to these files). TMRVCKernels chooses one of the two
// at load time (`KernelSet.active`); nothing else in the package is compiled for AVX2, so a
// binary runs on any x86-64 CPU. Every function here is a plain function over raw pointers (no
// generics or classes cross the module boundary, so nothing is specialised or inlined into a
// caller compiled for the other CPU), allocation-free and real-time safe.

/// Activation codes of the packed products (`FusedActivation` in the runtime).
public enum KernelActivationCode {
    public static let none = 0
    public static let gelu = 1
    public static let geluTanh = 2
}

@inline(__always)
func activate(_ v: SIMD16<Float>, _ code: Int) -> SIMD16<Float> {
    switch code {
    case KernelActivationCode.gelu: return SIMD16(lowHalf: VectorMath.gelu(v.lowHalf), highHalf: VectorMath.gelu(v.highHalf))
    case KernelActivationCode.geluTanh: return SIMD16(lowHalf: VectorMath.geluTanh(v.lowHalf), highHalf: VectorMath.geluTanh(v.highHalf))
    default: return v
    }
}

/// Loads one 16-wide panel row as float32.
protocol PanelRowLoader {
    static var elementBytes: Int { get }
    static func load(_ base: UnsafeRawPointer, row: Int) -> SIMD16<Float>
}

enum Float32Rows: PanelRowLoader {
    static var elementBytes: Int { 4 }
    @inline(__always) static func load(_ base: UnsafeRawPointer, row: Int) -> SIMD16<Float> {
        base.load(fromByteOffset: row &* 64, as: SIMD16<Float>.self)
    }
}

enum Float16Rows: PanelRowLoader {
    static var elementBytes: Int { 2 }
    @inline(__always) static func load(_ base: UnsafeRawPointer, row: Int) -> SIMD16<Float> {
        // Two 8-lane conversions (each one vcvtph2ps); the 16-lane generic initializer is not inlined.
        let lo = SIMD8<Float>(base.load(fromByteOffset: row &* 32, as: SIMD8<Float16>.self))
        let hi = SIMD8<Float>(base.load(fromByteOffset: row &* 32 &+ 16, as: SIMD8<Float16>.self))
        return SIMD16(lowHalf: lo, highHalf: hi)
    }
}

/// True when this build converts float16 weights in hardware (F16C or an ARM FPU). The baseline
/// x86-64 build has no F16C: each half becomes a library call, and widening the bit patterns with
/// SSE2 integer operations measured 4.5 ms per pipeline frame against 1.2 ms with float32 weights,
/// so the runtime packs float32 weights for it even when float16 storage is asked for.
#if KERNELS_FMA || !arch(x86_64)
public let float16WeightsSupported = true
#else
public let float16WeightsSupported = false
#endif

/// Compile-time column counts of the small-T kernels.
protocol ColumnCount { static var count: Int { get } }
enum OneColumn: ColumnCount { static var count: Int { 1 } }
enum TwoColumns: ColumnCount { static var count: Int { 2 } }
enum ThreeColumns: ColumnCount { static var count: Int { 3 } }
enum FourColumns: ColumnCount { static var count: Int { 4 } }

@inline(__always)
func accumulate(_ acc: inout SIMD16<Float>, _ w: SIMD16<Float>, _ x: Float) {
    acc = madd(acc, w, SIMD16(repeating: x))
}

/// The weights of one packed matrix (the runtime's `PackedMatrix` layout: `panels` = ceil(rows / 16)
/// panels of `depth` k-major rows of 16 float32 (or float16 when `half`) values; the bias padded to
/// panels x 16 floats).
struct PackedPanels {
    var weights: UnsafeRawPointer
    var bias: UnsafePointer<Float>
    var rows: Int
    var depth: Int
    var panels: Int
    var activation: Int
}

/// y = act(W x + bias) for one contiguous column x (`depth` floats) into contiguous y (`rows`
/// floats); `activation` is a `KernelActivationCode`.
public func packedGEMV(weights: UnsafeRawPointer, bias: UnsafePointer<Float>, rows: Int, depth: Int, half: Bool,
                       activation: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
    let m = PackedPanels(weights: weights, bias: bias, rows: rows, depth: depth, panels: (rows + 15) / 16, activation: activation)
    if half { gemv(Float16Rows.self, m, x, y) } else { gemv(Float32Rows.self, m, x, y) }
}

/// y(n, t) = act(W x(:, t) + bias) for `columns` (1...4) columns gathered as depth x 4 floats
/// (x[k * 4 + t]); output (n, t) goes to y[n * ysN + t * ysT].
public func packedBlock(weights: UnsafeRawPointer, bias: UnsafePointer<Float>, rows: Int, depth: Int, half: Bool,
                        activation: Int, columns: Int, x: UnsafePointer<Float>,
                        y: UnsafeMutablePointer<Float>, ysN: Int, ysT: Int) {
    let m = PackedPanels(weights: weights, bias: bias, rows: rows, depth: depth, panels: (rows + 15) / 16, activation: activation)
    if half { blockColumns(Float16Rows.self, m, columns, x, y, ysN, ysT) } else { blockColumns(Float32Rows.self, m, columns, x, y, ysN, ysT) }
}

@inline(__always)
func blockColumns<L: PanelRowLoader>(_: L.Type, _ m: PackedPanels, _ columns: Int, _ x: UnsafePointer<Float>,
                                     _ y: UnsafeMutablePointer<Float>, _ ysN: Int, _ ysT: Int) {
    switch columns {
    case 1: block(L.self, OneColumn.self, m, x, y, ysN, ysT)
    case 2: block(L.self, TwoColumns.self, m, x, y, ysN, ysT)
    case 3: block(L.self, ThreeColumns.self, m, x, y, ysN, ysT)
    default: block(L.self, FourColumns.self, m, x, y, ysN, ysT)
    }
}

/// One column, contiguous x and y: four interleaved accumulators over k hide the FMA latency.
/// (Not inlined: inside a small function the optimizer inlines the vcvtph2ps conversions, inside
/// a large one it calls them.) One panel at a time: a single sequential weight stream measured
/// faster than two interleaved ones when the weights come from L3 or DRAM (the per-frame case).
@inline(never)
func gemv<L: PanelRowLoader>(_: L.Type, _ m: PackedPanels, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    let depth = m.depth, rows = m.rows
    let k4 = depth & ~3
    let braw = UnsafeRawPointer(m.bias)
    var p = 0
    while p < m.panels {
        let base = m.weights + p * depth * 16 * L.elementBytes
        var a0 = braw.load(fromByteOffset: p * 64, as: SIMD16<Float>.self)
        var a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var k = 0
        while k < k4 {
            accumulate(&a0, L.load(base, row: k), x[k])
            accumulate(&a1, L.load(base, row: k + 1), x[k + 1])
            accumulate(&a2, L.load(base, row: k + 2), x[k + 2])
            accumulate(&a3, L.load(base, row: k + 3), x[k + 3])
            k += 4
        }
        while k < depth {
            accumulate(&a0, L.load(base, row: k), x[k])
            k += 1
        }
        let r = activate((a0 + a1) + (a2 + a3), m.activation)
        let n0 = p * 16
        if n0 + 16 <= rows {
            UnsafeMutableRawPointer(y + n0).storeBytes(of: r, as: SIMD16<Float>.self)
        } else {
            for j in 0..<(rows - n0) { y[n0 + j] = r[j] }
        }
        p += 1
    }
}

/// Up to four columns of x gathered as depth x 4 floats.
@inline(never)
func block<L: PanelRowLoader, C: ColumnCount>(_: L.Type, _: C.Type, _ m: PackedPanels, _ x: UnsafePointer<Float>,
                                               _ y: UnsafeMutablePointer<Float>, _ ysN: Int, _ ysT: Int) {
    let depth = m.depth, rows = m.rows
    let braw = UnsafeRawPointer(m.bias)
    let c = C.count
    for p in 0..<m.panels {
        let base = m.weights + p * depth * 16 * L.elementBytes
        let b = braw.load(fromByteOffset: p * 64, as: SIMD16<Float>.self)
        var c0 = b, c1 = b, c2 = b, c3 = b
        if c == 1 {
            // Two interleaved chains for the latency.
            var d0 = SIMD16<Float>()
            var k = 0
            while k + 2 <= depth {
                accumulate(&c0, L.load(base, row: k), x[k * 4])
                accumulate(&d0, L.load(base, row: k + 1), x[k * 4 + 4])
                k += 2
            }
            if k < depth { accumulate(&c0, L.load(base, row: k), x[k * 4]) }
            c0 += d0
        } else if c < 4 {
            // Two or three columns: a second set of accumulators over odd k keeps eight or
            // more FMA chains in flight.
            var d0 = SIMD16<Float>(), d1 = SIMD16<Float>(), d2 = SIMD16<Float>()
            var k = 0
            while k + 2 <= depth {
                let w0 = L.load(base, row: k), w1 = L.load(base, row: k + 1)
                let x0 = x + k * 4, x1 = x0 + 4
                accumulate(&c0, w0, x0[0])
                accumulate(&d0, w1, x1[0])
                accumulate(&c1, w0, x0[1])
                accumulate(&d1, w1, x1[1])
                if c > 2 {
                    accumulate(&c2, w0, x0[2])
                    accumulate(&d2, w1, x1[2])
                }
                k += 2
            }
            if k < depth {
                let w0 = L.load(base, row: k), x0 = x + k * 4
                accumulate(&c0, w0, x0[0])
                accumulate(&c1, w0, x0[1])
                if c > 2 { accumulate(&c2, w0, x0[2]) }
            }
            c0 += d0
            c1 += d1
            if c > 2 { c2 += d2 }
        } else {
            for k in 0..<depth {
                let wk = L.load(base, row: k)
                let xk = x + k * 4
                accumulate(&c0, wk, xk[0])
                accumulate(&c1, wk, xk[1])
                accumulate(&c2, wk, xk[2])
                accumulate(&c3, wk, xk[3])
            }
        }
        let n0 = p * 16
        let valid = min(16, rows - n0)
        storeColumn(activate(c0, m.activation), y + n0 * ysN, ysN: ysN, valid: valid)
        if c > 1 { storeColumn(activate(c1, m.activation), y + n0 * ysN + ysT, ysN: ysN, valid: valid) }
        if c > 2 { storeColumn(activate(c2, m.activation), y + n0 * ysN + 2 * ysT, ysN: ysN, valid: valid) }
        if c > 3 { storeColumn(activate(c3, m.activation), y + n0 * ysN + 3 * ysT, ysN: ysN, valid: valid) }
    }
}

@inline(__always)
func storeColumn(_ v: SIMD16<Float>, _ y: UnsafeMutablePointer<Float>, ysN: Int, valid: Int) {
    if ysN == 1 && valid == 16 {
        UnsafeMutableRawPointer(y).storeBytes(of: v, as: SIMD16<Float>.self)
    } else {
        for j in 0..<valid { y[j * ysN] = v[j] }
    }
}

/// Dot product of `n` floats, SIMD8 accumulation whose order depends only on n (a scalar tail for
/// the last n mod 8).
public func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var i = 0
    let stride = MemoryLayout<Float>.stride
    while i + 16 <= n {
        acc0 = madd(acc0, ra.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Float>.self),
                    rb.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Float>.self))
        acc1 = madd(acc1, ra.loadUnaligned(fromByteOffset: (i + 8) * stride, as: SIMD8<Float>.self),
                    rb.loadUnaligned(fromByteOffset: (i + 8) * stride, as: SIMD8<Float>.self))
        i += 16
    }
    if i + 8 <= n {
        acc0 = madd(acc0, ra.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Float>.self),
                    rb.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Float>.self))
        i += 8
    }
    var total = (acc0 + acc1).sum()
    while i < n {
        total += a[i] * b[i]
        i += 1
    }
    return total
}

/// `sum_{j<n} (a[j] - b[j])^2` with SIMD8 accumulation (fixed summation order).
public func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    let s = MemoryLayout<Float>.stride
    var i = 0
    while i + 16 <= n {
        let d0 = ra.loadUnaligned(fromByteOffset: i * s, as: SIMD8<Float>.self)
            - rb.loadUnaligned(fromByteOffset: i * s, as: SIMD8<Float>.self)
        let d1 = ra.loadUnaligned(fromByteOffset: (i + 8) * s, as: SIMD8<Float>.self)
            - rb.loadUnaligned(fromByteOffset: (i + 8) * s, as: SIMD8<Float>.self)
        acc0 = madd(acc0, d0, d0)
        acc1 = madd(acc1, d1, d1)
        i += 16
    }
    var total = (acc0 + acc1).sum()
    while i < n {
        let d = a[i] - b[i]
        total += d * d
        i += 1
    }
    return total
}

/// C (m x n, row stride ldc) = alpha * op(A) op(B) + beta * C, row-major: op(A) is m x k (A stored
/// k x m when `transA`), op(B) is k x n (B stored n x k when `transB`). beta 0 overwrites C (NaN in
/// C does not propagate). For products of run-time matrices on the audio path (the slow-node
/// updates): no allocation, no locks (OpenBLAS's sgemm takes its buffer-pool mutex on every call).
/// op(B) row-major: 4 x 16 register tiles over C, B rows loaded once per four rows of C;
/// op(B) transposed: dot products along k.
public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
        let row = c + i * ldc
        if beta == 0 { for j in 0..<n { row[j] = 0 } } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
    }
    if m == 0 || n == 0 || k == 0 { return }
    @inline(__always) func aAt(_ i: Int, _ p: Int) -> Float { transA ? a[p * lda + i] : a[i * lda + p] }
    if transB {
        // C[i, j] += alpha * dot(op(A)[i, :], B[j, :])
        for i in 0..<m {
            for j in 0..<n {
                let bj = b + j * ldb
                let acc: Float
                if transA {
                    var s: Float = 0
                    for p in 0..<k { s += a[p * lda + i] * bj[p] }
                    acc = s
                } else {
                    acc = dotProduct(a + i * lda, bj, k)
                }
                c[i * ldc + j] += alpha * acc
            }
        }
        return
    }
    let rb = UnsafeRawPointer(b)
    let s = MemoryLayout<Float>.stride
    var i0 = 0
    while i0 < m {
        let rows = min(4, m - i0)
        var j0 = 0
        while j0 + 16 <= n {
            var c0 = SIMD16<Float>(), c1 = c0, c2 = c0, c3 = c0
            for p in 0..<k {
                let bv = rb.loadUnaligned(fromByteOffset: (p * ldb + j0) * s, as: SIMD16<Float>.self)
                c0 = madd(c0, bv, SIMD16(repeating: aAt(i0, p)))
                if rows > 1 { c1 = madd(c1, bv, SIMD16(repeating: aAt(i0 + 1, p))) }
                if rows > 2 { c2 = madd(c2, bv, SIMD16(repeating: aAt(i0 + 2, p))) }
                if rows > 3 { c3 = madd(c3, bv, SIMD16(repeating: aAt(i0 + 3, p))) }
            }
            let al = SIMD16<Float>(repeating: alpha)
            @inline(__always) func add(_ r: Int, _ v: SIMD16<Float>) {
                let dst = UnsafeMutableRawPointer(c + (i0 + r) * ldc + j0)
                dst.storeBytes(of: madd(dst.loadUnaligned(as: SIMD16<Float>.self), v, al), as: SIMD16<Float>.self)
            }
            add(0, c0)
            if rows > 1 { add(1, c1) }
            if rows > 2 { add(2, c2) }
            if rows > 3 { add(3, c3) }
            j0 += 16
        }
        if j0 < n {
            for r in 0..<rows {
                let row = c + (i0 + r) * ldc
                for p in 0..<k {
                    let sv = alpha * aAt(i0 + r, p)
                    let bp = b + p * ldb
                    for j in j0..<n { row[j] += sv * bp[j] }
                }
            }
        }
        i0 += rows
    }
}

