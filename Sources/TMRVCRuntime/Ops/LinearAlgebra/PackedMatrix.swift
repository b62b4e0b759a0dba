import TMRVCKernels

// Batch-1 matrix products on constant weights: y = act(W x + bias) for x with T = 1...4 columns
// (the per-frame shapes of the streaming models), and a tiled form for any T.
//
// The weights W (N outputs x K inputs) are repacked at load into panels of 16 output rows,
// k-major inside a panel: panel p holds W[16p ..< 16p+16, k] for k = 0 ..< K as K contiguous
// 16-float (or 16-half) rows. A product then streams the weights strictly sequentially (what
// the hardware prefetcher wants when the weights come from L3 or DRAM), with 16 outputs of
// every column held in two AVX registers per accumulator. fp16 storage converts each loaded
// row with vcvtph2ps (F16C) and accumulates in float32. The generic kernel build (no F16C) gets
// float32 weights even when float16 storage is requested (`KernelSet.float16WeightsSupported`).
// int8 storage (symmetric, one scale per output row) has its own layout and kernel
// (`TMRVCKernelsAVX2.packedInt8`: k-pairs for vpmaddwd, each input column quantised to int16
// on the fly, exact int32 sums, then the row and column scales).
// The loops are in TMRVCKernels (Sources/TMRVCKernelsAVX2/Kernels.swift, built per CPU).

/// Activation applied to the outputs of a fused product.
public enum FusedActivation: Sendable, Equatable {
    case none
    /// GELU, exact (erf) form.
    case gelu
    /// GELU, tanh approximation.
    case geluTanh

    /// The kernels' code for it (`KernelActivationCode`).
    var code: Int {
        switch self {
        case .none: return 0
        case .gelu: return 1
        case .geluTanh: return 2
        }
    }

    /// Applies the activation to `count` contiguous floats in place.
    func apply(_ p: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .none: return
        case .gelu: KernelSet.active.gelu(p, p, count)
        case .geluTanh: KernelSet.active.geluTanh(p, p, count)
        }
    }
}

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
    /// Element type of the packed weights (float32 when float16 was asked for but the kernel build
    /// has no hardware conversion).
    public let storage: WeightStorage
    /// Packed weights (panels x depth x 16 elements of `storage`).
    let weights: UnsafeMutableRawPointer
    /// Bias, padded to panels x 16 (zeros when none).
    let bias: UnsafeMutablePointer<Float>
    /// int8 storage: the per-row scales, padded to panels x 16 (nil for float storage).
    let scales: UnsafeMutablePointer<Float>?
    /// int8 storage: the products' quantised input columns (`Int8Layout.scratchCount`), so a
    /// matrix is not safe to multiply from two threads at once (sessions are not either).
    let quantizedInput: UnsafeMutablePointer<Int32>?
    /// Activation applied after the bias.
    public let activation: FusedActivation
    /// The kernel build that runs the products.
    public let kernels: KernelSet
    private let ownedBlock: UnsafeMutableRawPointer?

    /// Bytes of packed weights.
    public var weightBytes: Int {
        storage == .int8 ? panels * (Int8Layout.panelBytes(depth: depth) + 64) : panels * depth * 16 * storage.bytesPerWeight
    }

    /// Packs W given by `element(n, k)`. `allocate` provides zeroed 64-byte aligned memory (the
    /// session's); when nil the matrix allocates and frees its own.
    init(rows: Int, depth: Int, storage: WeightStorage, bias biasValues: UnsafePointer<Float>?, biasScale: Float = 1,
         activation: FusedActivation, kernels: KernelSet = .active, allocate: ((Int) -> UnsafeMutableRawPointer)?,
         fill: (UnsafeMutableRawPointer, Int, Int, WeightStorage) -> Void) {
        let storage: WeightStorage = storage == .float16 && !kernels.float16WeightsSupported ? .float32 : storage
        self.kernels = kernels
        self.rows = rows
        self.depth = depth
        self.storage = storage
        self.activation = activation
        panels = (rows + 15) / 16
        let int8 = storage == .int8
        let wBytes = max(64, int8 ? panels * Int8Layout.panelBytes(depth: depth) : panels * depth * 16 * storage.bytesPerWeight)
        let bBytes = max(64, panels * 16 * 4)
        let sBytes = int8 ? bBytes : 0
        let qBytes = int8 ? (Int8Layout.scratchCount(depth: depth) * 4 + 63) & ~63 : 0
        if let allocate {
            weights = allocate(wBytes)
            bias = allocate(bBytes).bindMemory(to: Float.self, capacity: panels * 16)
            scales = int8 ? allocate(sBytes).bindMemory(to: Float.self, capacity: panels * 16) : nil
            quantizedInput = int8 ? allocate(qBytes).bindMemory(to: Int32.self, capacity: qBytes / 4) : nil
            ownedBlock = nil
        } else {
            let total = ((wBytes + 63) & ~63) + bBytes + sBytes + qBytes
            let block = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 64)
            block.initializeMemory(as: UInt8.self, repeating: 0, count: total)
            weights = block
            let b = block + ((wBytes + 63) & ~63)
            bias = b.bindMemory(to: Float.self, capacity: panels * 16)
            scales = int8 ? (b + bBytes).bindMemory(to: Float.self, capacity: panels * 16) : nil
            quantizedInput = int8 ? (b + bBytes + sBytes).bindMemory(to: Int32.self, capacity: qBytes / 4) : nil
            ownedBlock = block
        }
        if let b = biasValues { for n in 0..<rows { bias[n] = biasScale * b[n] } }
        if let scales {
            // Pack as float32 first, then quantise each output row with its own scale.
            let count = panels * depth * 16
            let staged = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { staged.deallocate() }
            staged.initialize(repeating: 0, count: count)
            fill(UnsafeMutableRawPointer(staged), panels, depth, .float32)
            PackedMatrix.quantize(staged, into: weights, scales: scales, panels: panels, depth: depth)
        } else {
            fill(weights, panels, depth, storage)
        }
    }

    /// Symmetric per-row int8 of packed float32 panels (k-major, 16 rows) into the int8 layout
    /// (`Int8Layout`): s[n] = max_k |W[n, k]| / 127 (1 for an all-zero or non-finite row),
    /// q = round(W / s) (ties away from zero; |q| <= 127).
    static func quantize(_ w: UnsafePointer<Float>, into q: UnsafeMutableRawPointer, scales: UnsafeMutablePointer<Float>,
                         panels: Int, depth: Int) {
        for p in 0..<panels {
            let panel = w + p * depth * 16
            for j in 0..<16 {
                var peak: Float = 0
                for k in 0..<depth { peak = max(peak, abs(panel[k * 16 + j])) }
                let s: Float = peak > 0 && peak.isFinite ? peak / 127 : 1
                scales[p * 16 + j] = s
                for k in 0..<depth {
                    let v = (panel[k * 16 + j] / s).rounded()
                    q.storeBytes(of: Int8(max(-127, min(127, v.isNaN ? 0 : v))),
                                 toByteOffset: Int8Layout.offset(row: p * 16 + j, k: k, depth: depth), as: Int8.self)
                }
            }
        }
    }

    deinit { ownedBlock?.deallocate() }

    /// Packs W stored row-major as N x K with row stride `ld` (Gemm transB = 1, Conv weights).
    public convenience init(rowMajorNK w: UnsafePointer<Float>, rows: Int, depth: Int, ld: Int, storage: WeightStorage,
                            bias: UnsafePointer<Float>? = nil, activation: FusedActivation = .none, kernels: KernelSet = .active) {
        self.init(rowMajorNK: w, rows: rows, depth: depth, ld: ld, storage: storage, bias: bias, activation: activation,
                  kernels: kernels, allocate: nil)
    }

    /// Packs W stored row-major as K x N with row stride `ld` (MatMul weights, Gemm transB = 0).
    public convenience init(rowMajorKN w: UnsafePointer<Float>, rows: Int, depth: Int, ld: Int, storage: WeightStorage,
                            bias: UnsafePointer<Float>? = nil, activation: FusedActivation = .none, kernels: KernelSet = .active) {
        self.init(rowMajorKN: w, rows: rows, depth: depth, ld: ld, storage: storage, bias: bias, activation: activation,
                  kernels: kernels, allocate: nil)
    }

    convenience init(rowMajorNK w: UnsafePointer<Float>, rows: Int, depth: Int, ld: Int, storage: WeightStorage,
                     bias: UnsafePointer<Float>?, biasScale: Float = 1, activation: FusedActivation,
                     kernels: KernelSet = .active, allocate: ((Int) -> UnsafeMutableRawPointer)?) {
        self.init(rows: rows, depth: depth, storage: storage, bias: bias, biasScale: biasScale, activation: activation,
                  kernels: kernels, allocate: allocate) { dst, panels, depth, storage in
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
                     kernels: KernelSet = .active, allocate: ((Int) -> UnsafeMutableRawPointer)?) {
        self.init(rows: rows, depth: depth, storage: storage, bias: bias, biasScale: biasScale, activation: activation,
                  kernels: kernels, allocate: allocate) { dst, panels, depth, storage in
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
    /// The arithmetic runs in `kernels` (the process's `KernelSet.active` unless given at init).
    public func multiply(x: UnsafePointer<Float>, xsK: Int, xsT: Int, columns: Int,
                         y: UnsafeMutablePointer<Float>, ysN: Int, ysT: Int, scratch: UnsafeMutablePointer<Float>?) {
        let half = storage == .float16, act = activation.code
        if let scales, let quantizedInput, columns == 1 && xsK == 1 {
            kernels.packedInt8(weights, bias, scales, rows, depth, act, 1, x, 1, y, ysN, ysT, quantizedInput)
            return
        }
        if scales == nil && columns == 1 && xsK == 1 && ysN == 1 {
            kernels.packedGEMV(weights, bias, rows, depth, half, act, x, y)
            return
        }
        guard let scratch else { preconditionFailure("PackedMatrix.multiply: scratch required for strided or multi-column products") }
        var t0 = 0
        while t0 < columns {
            let c = min(4, columns - t0)
            PackedMatrix.gather(x + t0 * xsT, xsK: xsK, xsT: xsT, columns: c, depth: depth, into: scratch)
            if let scales, let quantizedInput {
                kernels.packedInt8(weights, bias, scales, rows, depth, act, c, scratch, 4, y + t0 * ysT, ysN, ysT, quantizedInput)
            } else {
                kernels.packedBlock(weights, bias, rows, depth, half, act, c, scratch, y + t0 * ysT, ysN, ysT)
            }
            t0 += c
        }
    }

    /// Gathers `columns` (<= 4) columns of x as depth x 4 (unused columns stay at their last
    /// values; never stored).
    @inline(__always)
    static func gather(_ x: UnsafePointer<Float>, xsK: Int, xsT: Int, columns c: Int, depth: Int, into scratch: UnsafeMutablePointer<Float>) {
        for k in 0..<depth {
            let src = x + k * xsK, dst = scratch + k * 4
            for t in 0..<c { dst[t] = src[t * xsT] }
        }
    }
}
