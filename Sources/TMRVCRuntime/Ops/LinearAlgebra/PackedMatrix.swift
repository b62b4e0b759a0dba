import CBLAS

// Batch-1 matrix products on constant weights: y = act(W x + bias) for x with T = 1...4 columns
// (the per-frame shapes of the streaming models), and a tiled form for any T.
//
// The weights W (N outputs x K inputs) are repacked at load into panels of 16 output rows,
// k-major inside a panel: panel p holds W[16p ..< 16p+16, k] for k = 0 ..< K as K contiguous
// 16-float (or 16-half) rows. A product then streams the weights strictly sequentially (what
// the hardware prefetcher wants when the weights come from L3 or DRAM), with 16 outputs of
// every column held in two AVX registers per accumulator. fp16 storage converts each loaded
// row with vcvtph2ps (F16C) and accumulates in float32.

/// Activation applied to the outputs of a fused product.
public enum FusedActivation: Sendable, Equatable {
    case none
    /// GELU, exact (erf) form.
    case gelu
    /// GELU, tanh approximation.
    case geluTanh

    @inline(__always)
    func apply(_ v: SIMD16<Float>) -> SIMD16<Float> {
        switch self {
        case .none: return v
        case .gelu: return SIMD16(lowHalf: VectorMath.gelu(v.lowHalf), highHalf: VectorMath.gelu(v.highHalf))
        case .geluTanh: return SIMD16(lowHalf: VectorMath.geluTanh(v.lowHalf), highHalf: VectorMath.geluTanh(v.highHalf))
        }
    }

    /// Applies the activation to `count` contiguous floats in place.
    func apply(_ p: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .none: return
        case .gelu: VectorMath.gelu(p, p, count: count)
        case .geluTanh: VectorMath.geluTanh(p, p, count: count)
        }
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

/// Compile-time column counts of the small-T kernels.
protocol ColumnCount { static var count: Int { get } }
enum OneColumn: ColumnCount { static var count: Int { 1 } }
enum TwoColumns: ColumnCount { static var count: Int { 2 } }
enum ThreeColumns: ColumnCount { static var count: Int { 3 } }
enum FourColumns: ColumnCount { static var count: Int { 4 } }

/// Constant weights packed for batch-1 products (see the file comment).
public final class PackedMatrix: @unchecked Sendable {
    /// Output rows per panel.
    public static let panelRows = 16
    /// Outputs (N).
    public let rows: Int
    /// Inputs (K).
    public let depth: Int
    /// Panels (ceil(N / 16)).
    public let panels: Int
    /// Element type of the packed weights.
    public let storage: WeightStorage
    /// Packed weights (panels x depth x 16 elements of `storage`).
    let weights: UnsafeMutableRawPointer
    /// Bias, padded to panels x 16 (zeros when none).
    let bias: UnsafeMutablePointer<Float>
    /// Activation applied after the bias.
    public let activation: FusedActivation
    private let ownedBlock: UnsafeMutableRawPointer?

    /// Bytes of packed weights.
    public var weightBytes: Int { panels * depth * 16 * (storage == .float16 ? 2 : 4) }

    /// Packs W given by `element(n, k)`. `allocate` provides zeroed 64-byte aligned memory (the
    /// session's); when nil the matrix allocates and frees its own.
    init(rows: Int, depth: Int, storage: WeightStorage, bias biasValues: UnsafePointer<Float>?, biasScale: Float = 1,
         activation: FusedActivation, allocate: ((Int) -> UnsafeMutableRawPointer)?,
         fill: (UnsafeMutableRawPointer, Int, Int, WeightStorage) -> Void) {
        self.rows = rows
        self.depth = depth
        self.storage = storage
        self.activation = activation
        panels = (rows + 15) / 16
        let wBytes = max(64, panels * depth * 16 * (storage == .float16 ? 2 : 4))
        let bBytes = max(64, panels * 16 * 4)
        if let allocate {
            weights = allocate(wBytes)
            bias = allocate(bBytes).bindMemory(to: Float.self, capacity: panels * 16)
            ownedBlock = nil
        } else {
            let block = UnsafeMutableRawPointer.allocate(byteCount: wBytes + bBytes, alignment: 64)
            block.initializeMemory(as: UInt8.self, repeating: 0, count: wBytes + bBytes)
            weights = block
            bias = (block + wBytes).bindMemory(to: Float.self, capacity: panels * 16)
            ownedBlock = block
        }
        if let b = biasValues { for n in 0..<rows { bias[n] = biasScale * b[n] } }
        fill(weights, panels, depth, storage)
    }

    deinit { ownedBlock?.deallocate() }

    /// Packs W stored row-major as N x K with row stride `ld` (Gemm transB = 1, Conv weights).
    public convenience init(rowMajorNK w: UnsafePointer<Float>, rows: Int, depth: Int, ld: Int, storage: WeightStorage,
                            bias: UnsafePointer<Float>? = nil, activation: FusedActivation = .none) {
        self.init(rowMajorNK: w, rows: rows, depth: depth, ld: ld, storage: storage, bias: bias, activation: activation, allocate: nil)
    }

    /// Packs W stored row-major as K x N with row stride `ld` (MatMul weights, Gemm transB = 0).
    public convenience init(rowMajorKN w: UnsafePointer<Float>, rows: Int, depth: Int, ld: Int, storage: WeightStorage,
                            bias: UnsafePointer<Float>? = nil, activation: FusedActivation = .none) {
        self.init(rowMajorKN: w, rows: rows, depth: depth, ld: ld, storage: storage, bias: bias, activation: activation, allocate: nil)
    }

    convenience init(rowMajorNK w: UnsafePointer<Float>, rows: Int, depth: Int, ld: Int, storage: WeightStorage,
                     bias: UnsafePointer<Float>?, biasScale: Float = 1, activation: FusedActivation,
                     allocate: ((Int) -> UnsafeMutableRawPointer)?) {
        self.init(rows: rows, depth: depth, storage: storage, bias: bias, biasScale: biasScale, activation: activation,
                  allocate: allocate) { dst, panels, depth, storage in
            for p in 0..<panels {
                for j in 0..<16 where p * 16 + j < rows {
                    let src = w + (p * 16 + j) * ld
                    for k in 0..<depth { PackedMatrix.store(src[k], dst, (p * depth + k) * 16 + j, storage) }
                }
            }
        }
    }

    convenience init(rowMajorKN w: UnsafePointer<Float>, rows: Int, depth: Int, ld: Int, storage: WeightStorage,
                     bias: UnsafePointer<Float>?, biasScale: Float = 1, activation: FusedActivation,
                     allocate: ((Int) -> UnsafeMutableRawPointer)?) {
        self.init(rows: rows, depth: depth, storage: storage, bias: bias, biasScale: biasScale, activation: activation,
                  allocate: allocate) { dst, panels, depth, storage in
            for k in 0..<depth {
                let src = w + k * ld
                for n in 0..<rows { PackedMatrix.store(src[n], dst, ((n / 16) * depth + k) * 16 + n % 16, storage) }
            }
        }
    }

    @inline(__always)
    static func store(_ v: Float, _ dst: UnsafeMutableRawPointer, _ index: Int, _ storage: WeightStorage) {
        if storage == .float16 {
            dst.storeBytes(of: Float16(v).bitPattern, toByteOffset: index * 2, as: UInt16.self)
        } else {
            dst.storeBytes(of: v, toByteOffset: index * 4, as: Float.self)
        }
    }

    /// Scratch floats `multiply` needs for `columns` columns (0 for one column).
    public static func scratchCount(depth: Int, columns: Int) -> Int { columns == 1 ? 0 : depth * 4 }

    /// y = act(W x + bias) for `columns` columns. Column t of x is x[k * xsK + t * xsT]; output
    /// (n, t) goes to y[n * ysN + t * ysT]. `scratch` holds `scratchCount` floats. Real-time safe.
    @inline(__always)
    public func multiply(x: UnsafePointer<Float>, xsK: Int, xsT: Int, columns: Int,
                         y: UnsafeMutablePointer<Float>, ysN: Int, ysT: Int, scratch: UnsafeMutablePointer<Float>?) {
        if storage == .float16 {
            product(Float16Rows.self, x: x, xsK: xsK, xsT: xsT, columns: columns, y: y, ysN: ysN, ysT: ysT, scratch: scratch)
        } else {
            product(Float32Rows.self, x: x, xsK: xsK, xsT: xsT, columns: columns, y: y, ysN: ysN, ysT: ysT, scratch: scratch)
        }
    }

    @inline(__always)
    func product<L: PanelRowLoader>(_: L.Type, x: UnsafePointer<Float>, xsK: Int, xsT: Int, columns: Int,
                                    y: UnsafeMutablePointer<Float>, ysN: Int, ysT: Int, scratch: UnsafeMutablePointer<Float>?) {
        if columns == 1 && xsK == 1 && ysN == 1 {
            gemv(L.self, x: x, y: y)
            return
        }
        guard let scratch else { preconditionFailure("PackedMatrix.multiply: scratch required for strided or multi-column products") }
        var t0 = 0
        while t0 < columns {
            let c = min(4, columns - t0)
            // Gather x[:, t0 ..< t0 + c] as depth x 4 (unused columns stay at their last values; never stored).
            let xb = x + t0 * xsT
            for k in 0..<depth {
                let src = xb + k * xsK, dst = scratch + k * 4
                for t in 0..<c { dst[t] = src[t * xsT] }
            }
            let yb = y + t0 * ysT
            switch c {
            case 1: block(L.self, OneColumn.self, y: yb, ysN: ysN, ysT: ysT, x: scratch)
            case 2: block(L.self, TwoColumns.self, y: yb, ysN: ysN, ysT: ysT, x: scratch)
            case 3: block(L.self, ThreeColumns.self, y: yb, ysN: ysN, ysT: ysT, x: scratch)
            default: block(L.self, FourColumns.self, y: yb, ysN: ysN, ysT: ysT, x: scratch)
            }
            t0 += c
        }
    }

    /// One column, contiguous x and y: four interleaved accumulators over k hide the FMA latency.
    /// (Not inlined into callers: inside a small function the optimizer inlines the vcvtph2ps
    /// conversions, inside a large one it calls them.)
    @inline(never)
    func gemv<L: PanelRowLoader>(_: L.Type, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let depth = self.depth, rows = self.rows
        let k4 = depth & ~3
        let w = UnsafeRawPointer(weights)
        let braw = UnsafeRawPointer(bias)
        let act = activation
        // One panel at a time: a single sequential weight stream measured faster than two
        // interleaved ones when the weights come from L3 or DRAM (the per-frame case).
        var p = 0
        while p < panels {
            let base = w + p * depth * 16 * L.elementBytes
            var a0 = braw.load(fromByteOffset: p * 64, as: SIMD16<Float>.self)
            var a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            var k = 0
            while k < k4 {
                a0.addProduct(L.load(base, row: k), SIMD16(repeating: x[k]))
                a1.addProduct(L.load(base, row: k + 1), SIMD16(repeating: x[k + 1]))
                a2.addProduct(L.load(base, row: k + 2), SIMD16(repeating: x[k + 2]))
                a3.addProduct(L.load(base, row: k + 3), SIMD16(repeating: x[k + 3]))
                k += 4
            }
            while k < depth {
                a0.addProduct(L.load(base, row: k), SIMD16(repeating: x[k]))
                k += 1
            }
            let r = act.apply((a0 + a1) + (a2 + a3))
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
    func block<L: PanelRowLoader, C: ColumnCount>(_: L.Type, _: C.Type, y: UnsafeMutablePointer<Float>, ysN: Int, ysT: Int,
                                                   x: UnsafePointer<Float>) {
        let depth = self.depth, rows = self.rows
        let w = UnsafeRawPointer(weights)
        let braw = UnsafeRawPointer(bias)
        let act = activation
        let c = C.count
        for p in 0..<panels {
            let base = w + p * depth * 16 * L.elementBytes
            let b = braw.load(fromByteOffset: p * 64, as: SIMD16<Float>.self)
            var c0 = b, c1 = b, c2 = b, c3 = b
            if c == 1 {
                // Two interleaved chains for the latency.
                var d0 = SIMD16<Float>()
                var k = 0
                while k + 2 <= depth {
                    c0.addProduct(L.load(base, row: k), SIMD16(repeating: x[k * 4]))
                    d0.addProduct(L.load(base, row: k + 1), SIMD16(repeating: x[k * 4 + 4]))
                    k += 2
                }
                if k < depth { c0.addProduct(L.load(base, row: k), SIMD16(repeating: x[k * 4])) }
                c0 += d0
            } else if c < 4 {
                // Two or three columns: a second set of accumulators over odd k keeps eight or
                // more FMA chains in flight.
                var d0 = SIMD16<Float>(), d1 = SIMD16<Float>(), d2 = SIMD16<Float>()
                var k = 0
                while k + 2 <= depth {
                    let w0 = L.load(base, row: k), w1 = L.load(base, row: k + 1)
                    let x0 = x + k * 4, x1 = x0 + 4
                    c0.addProduct(w0, SIMD16(repeating: x0[0]))
                    d0.addProduct(w1, SIMD16(repeating: x1[0]))
                    c1.addProduct(w0, SIMD16(repeating: x0[1]))
                    d1.addProduct(w1, SIMD16(repeating: x1[1]))
                    if c > 2 {
                        c2.addProduct(w0, SIMD16(repeating: x0[2]))
                        d2.addProduct(w1, SIMD16(repeating: x1[2]))
                    }
                    k += 2
                }
                if k < depth {
                    let w0 = L.load(base, row: k), x0 = x + k * 4
                    c0.addProduct(w0, SIMD16(repeating: x0[0]))
                    c1.addProduct(w0, SIMD16(repeating: x0[1]))
                    if c > 2 { c2.addProduct(w0, SIMD16(repeating: x0[2])) }
                }
                c0 += d0
                c1 += d1
                if c > 2 { c2 += d2 }
            } else {
                for k in 0..<depth {
                    let wk = L.load(base, row: k)
                    let xk = x + k * 4
                    c0.addProduct(wk, SIMD16(repeating: xk[0]))
                    c1.addProduct(wk, SIMD16(repeating: xk[1]))
                    c2.addProduct(wk, SIMD16(repeating: xk[2]))
                    c3.addProduct(wk, SIMD16(repeating: xk[3]))
                }
            }
            let n0 = p * 16
            let valid = min(16, rows - n0)
            storeColumn(act.apply(c0), y + n0 * ysN, ysN: ysN, valid: valid)
            if c > 1 { storeColumn(act.apply(c1), y + n0 * ysN + ysT, ysN: ysN, valid: valid) }
            if c > 2 { storeColumn(act.apply(c2), y + n0 * ysN + 2 * ysT, ysN: ysN, valid: valid) }
            if c > 3 { storeColumn(act.apply(c3), y + n0 * ysN + 3 * ysT, ysN: ysN, valid: valid) }
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
}

