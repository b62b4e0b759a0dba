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
    /// Activation applied after the bias.
    public let activation: FusedActivation
    /// The kernel build that runs the products.
    public let kernels: KernelSet
    private let ownedBlock: UnsafeMutableRawPointer?

    /// Bytes of packed weights.
    public var weightBytes: Int { panels * depth * 16 * (storage == .float16 ? 2 : 4) }

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
        if columns == 1 && xsK == 1 && ysN == 1 {
            kernels.packedGEMV(weights, bias, rows, depth, half, act, x, y)
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
            kernels.packedBlock(weights, bias, rows, depth, half, act, c, scratch, y + t0 * ysT, ysN, ysT)
            t0 += c
        }
    }
}
