import CBLAS
import CFFTW
import CTMRVCSupport
import Foundation
import ONNXFormat
import TestSupport
import TMRVCDSP
import TMRVCKernels
import TMRVCRuntime

/// Kernel microbenchmarks, each against a baseline measured in the same run: the packed
/// GEMV / small GEMM against OpenBLAS (cblas_sgemv / cblas_sgemm), the Conv kernel against the
/// BLAS call it replaces, overlap-add synthesis against the bare FFTW inverse transform, the
/// excitation generator's cost per hop, the
/// polyphase resampler against a plain FIR, plus memory bandwidth and an estimate of the clock.
enum BenchKernels {
    struct Output { var text: String; var json: [String: Any] }

    /// Median and minimum microseconds per call over `batches` batches of `reps` calls.
    static func measure(reps: Int, batches: Int = 25, _ body: () -> Void) -> (median: Double, min: Double) {
        for _ in 0..<max(1, reps / 4) { body() }
        var t: [Double] = []
        t.reserveCapacity(batches)
        for _ in 0..<batches {
            let t0 = benchNowMicroseconds()
            for _ in 0..<reps { body() }
            t.append((benchNowMicroseconds() - t0) / Double(reps))
        }
        t.sort()
        return (t[t.count / 2], t[0])
    }

    /// Clock estimate: a chain of dependent one-cycle integer additions (inline assembly, so
    /// the optimizer keeps it); the best of three 100-million-add runs.
    static func estimateClockGHz() -> Double {
        let n: UInt64 = 100_000_000
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = benchNowMicroseconds()
            let x = tmrvc_dependent_adds(n)
            best = min(best, benchNowMicroseconds() - t0)
            blackHole(Float(x & 1))
        }
        return Double(n) / best / 1000
    }

    nonisolated(unsafe) static var sink: [Float] = [0]
    /// Keeps a value alive for the optimizer (stores a Float derived from it).
    @inline(never) static func blackHole(_ x: Float) { sink[0] += x }
    @inline(never) static func blackHole(_ x: SIMD8<Float>) { sink[0] += x.sum() }

    static func noise(_ n: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        var g = BenchNoise(seed: seed)
        g.fill(p, n, scale: 0.05)
        return p
    }

    /// Streaming read bandwidth (GB/s) over `bytes` bytes, 8-lane sums with four accumulators.
    static func readBandwidth(bytes: Int) -> Double {
        let n = bytes / 4
        let p = noise(n, seed: 99)
        defer { p.deallocate() }
        let raw = UnsafeRawPointer(p)
        var sink = SIMD8<Float>()
        let r = measure(reps: max(1, 64_000_000 / bytes), batches: 9) {
            var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0
            var i = 0
            while i + 32 <= n {
                a0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                a1 += raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
                a2 += raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self)
                a3 += raw.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self)
                i += 32
            }
            sink += (a0 + a1) + (a2 + a3)
        }
        blackHole(sink)
        return Double(bytes) / r.median / 1000
    }

    struct Shape { let n: Int, k: Int, label: String }
    static let gemvShapes = [
        Shape(n: 512, k: 256, label: "pw1 256->512 (content, converter)"),
        Shape(n: 256, k: 512, label: "pw2 512->256"),
        Shape(n: 768, k: 256, label: "pw1 256->768 (vocoder)"),
        Shape(n: 256, k: 768, label: "pw2 768->256 (vocoder)"),
        Shape(n: 256, k: 774, label: "conv_in 258x3->256 (converter)"),
        Shape(n: 482, k: 256, label: "head 256->482 (vocoder)"),
    ]

    static func run() -> Output {
        FileHandle.standardError.write("running kernel microbenchmarks...\n".data(using: .utf8)!)
        var lines: [String] = [""]
        var json: [String: Any] = [:]
        let ghz = estimateClockGHz()
        let peak = 32 * ghz   // 2 x 256-bit FMA per cycle = 32 FLOP/cycle (AVX2)
        json["clock_ghz_estimate"] = ghz
        json["peak_gflops_avx2_fma"] = peak
        let bwDRAM = readBandwidth(bytes: 256 << 20)
        let bwL3 = readBandwidth(bytes: 16 << 20)
        let bwL2 = readBandwidth(bytes: 512 << 10)
        json["read_bandwidth_gbs"] = ["256MiB": bwDRAM, "16MiB": bwL3, "512KiB": bwL2]
        lines.append("Kernel microbenchmarks (single thread). Clock ≈ \(benchFormat(ghz, 2)) GHz (dependent integer adds) -> stated peak \(benchFormat(peak)) GFLOP/s (AVX2: 2 FMA x 8 lanes x 2 FLOP per cycle).")
        lines.append("Streaming read bandwidth (8-lane loads): 512 KiB \(benchFormat(bwL2)) GB/s, 16 MiB \(benchFormat(bwL3)) GB/s, 256 MiB \(benchFormat(bwDRAM)) GB/s.")

        // GEMV, weights hot in cache.
        lines.append("")
        lines.append("GEMV y = W x (T=1), weights cache-resident: µs per call (median), GFLOP/s, % of peak, GB/s of weights; ratio = cblas / ours")
        lines.append(benchPad("shape", 34) + benchPad("cblas_sgemv (model layout K x N)", 42) + benchPad("cblas_sgemv (N x K)", 42)
                     + benchPad("ours fp32", 42) + benchPad("ours fp16", 42) + benchPad("ours int8", 42) + "ratios fp32, fp16, int8 (vs best cblas)")
        var gemvRows: [[String: Any]] = []
        for s in gemvShapes {
            let wKN = noise(s.k * s.n, seed: 1), wNK = UnsafeMutablePointer<Float>.allocate(capacity: s.n * s.k)
            for k in 0..<s.k { for n in 0..<s.n { wNK[n * s.k + k] = wKN[k * s.n + n] } }
            let x = noise(s.k, seed: 2), y = UnsafeMutablePointer<Float>.allocate(capacity: s.n + 16)
            defer { wKN.deallocate(); wNK.deallocate(); x.deallocate(); y.deallocate() }
            let p32 = PackedMatrix(rowMajorKN: wKN, rows: s.n, depth: s.k, ld: s.n, storage: .float32)
            let p16 = PackedMatrix(rowMajorKN: wKN, rows: s.n, depth: s.k, ld: s.n, storage: .float16)
            let p8 = PackedMatrix(rowMajorKN: wKN, rows: s.n, depth: s.k, ld: s.n, storage: .int8)
            let reps = 2000
            let blasT = measure(reps: reps) {
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(s.k), Int32(s.n), 1, wKN, Int32(s.n), x, 1, 0, y, 1)
            }
            let blasN = measure(reps: reps) {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(s.n), Int32(s.k), 1, wNK, Int32(s.k), x, 1, 0, y, 1)
            }
            let o32 = measure(reps: reps) { p32.multiply(x: x, xsK: 1, xsT: 1, columns: 1, y: y, ysN: 1, ysT: 1, scratch: nil) }
            let o16 = measure(reps: reps) { p16.multiply(x: x, xsK: 1, xsT: 1, columns: 1, y: y, ysN: 1, ysT: 1, scratch: nil) }
            let o8 = measure(reps: reps) { p8.multiply(x: x, xsK: 1, xsT: 1, columns: 1, y: y, ysN: 1, ysT: 1, scratch: nil) }
            let flops = 2.0 * Double(s.n * s.k)
            func cell(_ us: Double, bytesPerWeight: Double) -> String {
                let gf = flops / us / 1000
                return "\(benchFormat(us, 2)) µs \(benchFormat(gf)) GF/s \(benchFormat(100 * gf / peak))% \(benchFormat(Double(s.n * s.k) * bytesPerWeight / us / 1000)) GB/s"
            }
            let bestBLAS = min(blasT.median, blasN.median)
            lines.append(benchPad(s.label, 34) + benchPad(cell(blasT.median, bytesPerWeight: 4), 42) + benchPad(cell(blasN.median, bytesPerWeight: 4), 42)
                         + benchPad(cell(o32.median, bytesPerWeight: 4), 42) + benchPad(cell(o16.median, bytesPerWeight: 2), 42)
                         + benchPad(cell(o8.median, bytesPerWeight: 1), 42)
                         + "\(benchFormat(bestBLAS / o32.median, 2))x, \(benchFormat(bestBLAS / o16.median, 2))x, \(benchFormat(bestBLAS / o8.median, 2))x")
            gemvRows.append(["shape": s.label, "n": s.n, "k": s.k, "cblas_trans_us": blasT.median, "cblas_notrans_us": blasN.median,
                             "ours_fp32_us": o32.median, "ours_fp16_us": o16.median, "ours_int8_us": o8.median,
                             "ratio_fp32": bestBLAS / o32.median, "ratio_fp16": bestBLAS / o16.median, "ratio_int8": bestBLAS / o8.median])
        }
        json["gemv_hot"] = gemvRows

        // The same GEMVs in each kernel build this CPU can run (runtime CPU dispatch: the process
        // uses KernelSet.active; TMRVC_KERNELS=generic forces the baseline build).
        lines.append("")
        lines.append("Kernel builds (active: \(KernelSet.active.name); runnable here: \(KernelSet.runnable.map(\.name).joined(separator: ", "))): GEMV µs per call (median), weights cache-resident")
        var buildRows: [[String: Any]] = []
        for s in gemvShapes {
            let w = noise(s.k * s.n, seed: 1), x = noise(s.k, seed: 2), y = UnsafeMutablePointer<Float>.allocate(capacity: s.n + 16)
            defer { w.deallocate(); x.deallocate(); y.deallocate() }
            var cells: [String] = []
            var row: [String: Any] = ["shape": s.label]
            for set in KernelSet.runnable {
                for storage in [WeightStorage.float32, .float16, .int8] {
                    let m = PackedMatrix(rowMajorKN: w, rows: s.n, depth: s.k, ld: s.n, storage: storage, kernels: set)
                    let t = measure(reps: 1000) { m.multiply(x: x, xsK: 1, xsT: 1, columns: 1, y: y, ysN: 1, ysT: 1, scratch: nil) }
                    let key = "\(set.name)_\(storage.label)_us"
                    row[key] = t.median
                    let packed = m.storage == storage ? "" : " (stored fp32: no F16C)"
                    cells.append("\(set.name) \(storage.label)\(packed) \(benchFormat(t.median, 2)) µs")
                }
            }
            if let g = row["generic_fp32_us"] as? Double, let a = row["avx2_fp32_us"] as? Double,
               let g16 = row["generic_fp16_us"] as? Double, let a16 = row["avx2_fp16_us"] as? Double,
               let g8 = row["generic_int8_us"] as? Double, let a8 = row["avx2_int8_us"] as? Double {
                cells.append("avx2 / generic time: fp32 \(benchFormat(a / g, 2))x, fp16 \(benchFormat(a16 / g16, 2))x, int8 \(benchFormat(a8 / g8, 2))x")
            }
            lines.append(benchPad(s.label, 34) + cells.joined(separator: "   "))
            buildRows.append(row)
        }
        json["kernel_builds"] = ["active": KernelSet.active.name, "gemv_hot": buildRows]

        // GEMV with the weights out of L2: cycle through distinct matrices totalling 12 MiB
        // (L3-resident, like the pipeline's working set) and 256 MiB (DRAM).
        var cold: [String: Any] = [:]
        lines.append("")
        for (label, total) in [("12 MiB, L3", 12 << 20), ("256 MiB, DRAM", 256 << 20)] {
            let s = Shape(n: 768, k: 256, label: "pw1 256->768")
            let count = total / (s.n * s.k * 4)
            var mats: [UnsafeMutablePointer<Float>] = []
            var p32: [PackedMatrix] = [], p16: [PackedMatrix] = []
            for i in 0..<count {
                let w = noise(s.k * s.n, seed: UInt64(100 + i))
                mats.append(w)
                p32.append(PackedMatrix(rowMajorKN: w, rows: s.n, depth: s.k, ld: s.n, storage: .float32))
                p16.append(PackedMatrix(rowMajorKN: w, rows: s.n, depth: s.k, ld: s.n, storage: .float16))
            }
            let x = noise(s.k, seed: 3), y = UnsafeMutablePointer<Float>.allocate(capacity: s.n + 16)
            defer { for m in mats { m.deallocate() }; x.deallocate(); y.deallocate() }
            var i = 0
            let batches = total > (64 << 20) ? 7 : 25
            let blas = measure(reps: count, batches: batches) {
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(s.k), Int32(s.n), 1, mats[i], Int32(s.n), x, 1, 0, y, 1)
                i = (i + 1) % count
            }
            i = 0
            let o32 = measure(reps: count, batches: batches) {
                p32[i].multiply(x: x, xsK: 1, xsT: 1, columns: 1, y: y, ysN: 1, ysT: 1, scratch: nil)
                i = (i + 1) % count
            }
            i = 0
            let o16 = measure(reps: count, batches: batches) {
                p16[i].multiply(x: x, xsK: 1, xsT: 1, columns: 1, y: y, ysN: 1, ysT: 1, scratch: nil)
                i = (i + 1) % count
            }
            let bound = total > (64 << 20) ? bwDRAM : bwL3
            let wb = Double(s.n * s.k)
            let gb = (blas: wb * 4 / blas.median / 1000, o32: wb * 4 / o32.median / 1000, o16: wb * 2 / o16.median / 1000)
            lines.append("GEMV \(s.label) cycling through \(count) matrices (\(label)): weight GB/s — cblas_sgemv \(benchFormat(gb.blas)) (\(benchFormat(blas.median, 1)) µs), ours fp32 \(benchFormat(gb.o32)) (\(benchFormat(o32.median, 1)) µs), ours fp16 \(benchFormat(gb.o16)) (\(benchFormat(o16.median, 1)) µs); streaming-read bound \(benchFormat(bound)) GB/s. Time ratio cblas/ours: fp32 \(benchFormat(blas.median / o32.median, 2))x, fp16 \(benchFormat(blas.median / o16.median, 2))x")
            cold[label] = ["matrices": count, "cblas_gbs": gb.blas, "ours_fp32_gbs": gb.o32, "ours_fp16_gbs": gb.o16,
                           "cblas_us": blas.median, "ours_fp32_us": o32.median, "ours_fp16_us": o16.median, "read_bound_gbs": bound]
        }
        json["gemv_cycling"] = cold

        // Small and large GEMM.
        lines.append("")
        lines.append("GEMM Y[T,N] = X[T,K] W[K,N]: µs per call (median), GFLOP/s (% of peak); ratio = cblas_sgemm / ours")
        var gemmRows: [[String: Any]] = []
        for (s, t) in [(gemvShapes[0], 2), (gemvShapes[0], 4), (gemvShapes[2], 2), (gemvShapes[2], 3), (gemvShapes[2], 4),
                       (gemvShapes[3], 4), (gemvShapes[2], 100), (gemvShapes[3], 100)] {
            let w = noise(s.k * s.n, seed: 4), x = noise(s.k * t, seed: 5)
            let y = UnsafeMutablePointer<Float>.allocate(capacity: s.n * t + 16)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: PackedMatrix.scratchCount(depth: s.k, columns: t) + 16)
            defer { w.deallocate(); x.deallocate(); y.deallocate(); scratch.deallocate() }
            let p32 = PackedMatrix(rowMajorKN: w, rows: s.n, depth: s.k, ld: s.n, storage: .float32)
            let p16 = PackedMatrix(rowMajorKN: w, rows: s.n, depth: s.k, ld: s.n, storage: .float16)
            let reps = t >= 100 ? 40 : 1000
            let blas = measure(reps: reps) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(s.n), Int32(s.k), 1, x, Int32(s.k), w, Int32(s.n), 0, y, Int32(s.n))
            }
            let o32 = measure(reps: reps) { p32.multiply(x: x, xsK: 1, xsT: s.k, columns: t, y: y, ysN: 1, ysT: s.n, scratch: scratch) }
            let o16 = measure(reps: reps) { p16.multiply(x: x, xsK: 1, xsT: s.k, columns: t, y: y, ysN: 1, ysT: s.n, scratch: scratch) }
            let flops = 2.0 * Double(s.n * s.k * t)
            func cell(_ us: Double) -> String {
                let gf = flops / us / 1000
                return "\(benchFormat(us, 2)) µs \(benchFormat(gf)) GF (\(benchFormat(100 * gf / peak))%)"
            }
            lines.append(benchPad("T=\(t) K=\(s.k) N=\(s.n)", 22) + "cblas " + benchPad(cell(blas.median), 30) + "ours fp32 " + benchPad(cell(o32.median), 30)
                         + "ours fp16 " + benchPad(cell(o16.median), 30)
                         + "ratios \(benchFormat(blas.median / o32.median, 2))x, \(benchFormat(blas.median / o16.median, 2))x")
            gemmRows.append(["t": t, "n": s.n, "k": s.k, "cblas_us": blas.median, "ours_fp32_us": o32.median, "ours_fp16_us": o16.median])
        }
        json["gemm"] = gemmRows

        // Conv1d through the runtime (one-node models) against the BLAS call of the old path.
        lines.append("")
        lines.append("Conv1d (runtime session, one Conv node) vs the BLAS call it needs: µs per run (median); ratio = baseline / ours")
        var convRows: [[String: Any]] = []
        for (label, c, m, kw, t) in [("causal conv_in T=1 (whole window)", 258, 256, 3, 1), ("conv_in chunk T=100 (im2col)", 258, 256, 3, 100),
                                     ("pointwise conv_out T=1", 256, 256, 1, 1)] {
            let inLen = t + kw - 1
            let wCount = m * c * kw
            var wv = [Float](repeating: 0, count: wCount), bv = [Float](repeating: 0, count: m)
            var g = BenchNoise(seed: 6)
            for i in 0..<wCount { wv[i] = g.normal() * 0.05 }
            for i in 0..<m { bv[i] = g.normal() * 0.05 }
            let bytes = makeModel(nodes: [("Conv", ["x", "w", "b"], ["y"])], initializers: [("w", [m, c, kw], wv), ("b", [m], bv)],
                                  inputs: [("x", [1, c, inLen])], outputs: [("y", [1, m, t])])
            let file = bytes.withUnsafeBytes { MappedFile(copying: $0, name: "conv.onnx") }
            guard let model = try? ONNXModel.decode(file: file),
                  let s32 = try? InferenceSession(model: model), let s16 = try? InferenceSession(model: model, options: SessionOptions(weightStorage: .float16))
            else { lines.append("\(label): could not build the model"); continue }
            var g2 = BenchNoise(seed: 7)
            g2.fill(s32.inputs[0].floats, s32.inputs[0].count)
            s16.inputs[0].floats.update(from: s32.inputs[0].floats, count: s32.inputs[0].count)
            let reps = t >= 100 ? 40 : 2000
            let o32 = measure(reps: reps) { s32.run() }
            let o16 = measure(reps: reps) { s16.run() }
            // Baseline: the BLAS call on the same data (im2col for T > 1 excluded: it is ours too).
            let x = s32.inputs[0].floats, y = UnsafeMutablePointer<Float>.allocate(capacity: m * t + 16)
            let col = UnsafeMutablePointer<Float>.allocate(capacity: c * kw * t + 16)
            defer { y.deallocate(); col.deallocate() }
            for ci in 0..<c { for k in 0..<kw { for p in 0..<t { col[(ci * kw + k) * t + p] = x[ci * inLen + p + k] } } }
            let base = wv.withUnsafeBufferPointer { w in
                measure(reps: reps) {
                    if t == 1 {
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(c * kw), 1, w.baseAddress!, Int32(c * kw), x, 1, 0, y, 1)
                    } else {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(t), Int32(c * kw), 1, w.baseAddress!, Int32(c * kw),
                                    col, Int32(t), 0, y, Int32(t))
                    }
                }
            }
            lines.append(benchPad(label, 36) + "baseline \(t == 1 ? "cblas_sgemv" : "cblas_sgemm (im2col done)") \(benchFormat(base.median, 2)) µs   ours fp32 \(benchFormat(o32.median, 2)) µs (\(benchFormat(base.median / o32.median, 2))x)   ours fp16 \(benchFormat(o16.median, 2)) µs (\(benchFormat(base.median / o16.median, 2))x)")
            convRows.append(["case": label, "baseline_us": base.median, "ours_fp32_us": o32.median, "ours_fp16_us": o16.median])
        }
        json["conv1d"] = convRows

        // Vector transcendental functions against the scalar libm loops they replace.
        do {
            let n = 4096
            let x = noise(n, seed: 12), y = UnsafeMutablePointer<Float>.allocate(capacity: n)
            defer { x.deallocate(); y.deallocate() }
            for i in 0..<n { x[i] *= 60 }   // N(0, 3^2)
            var rows: [[String: Any]] = []
            var parts: [String] = []
            for set in KernelSet.runnable {
                let cases: [(String, KernelSet.VectorFunction, (Float) -> Float)] = [
                    ("GELU (erf)", set.gelu, { v in 0.5 * v * erfcf(-v * 0.70710678) }),
                    ("exp", set.exp, { expf($0) }),
                    ("tanh", set.tanh, { tanhf($0) }),
                    ("sigmoid", set.sigmoid, { v in 1 / (1 + expf(-v)) }),
                ]
                for (name, vec, scalar) in cases {
                    let ours = measure(reps: 200) { vec(x, y, n) }
                    let base = measure(reps: 200) { for i in 0..<n { y[i] = scalar(x[i]) } }
                    parts.append("\(name) [\(set.name)] \(benchFormat(1000 * ours.median / Double(n), 2)) ns vs libm \(benchFormat(1000 * base.median / Double(n), 2)) ns (\(benchFormat(base.median / ours.median, 1))x)")
                    rows.append(["function": name, "kernels": set.name, "ours_ns_per_element": 1000 * ours.median / Double(n),
                                 "libm_ns_per_element": 1000 * base.median / Double(n)])
                }
            }
            lines.append("")
            lines.append("Vector math, ns per element over 4096 floats (x ~ N(0, 9)), 8-lane approximations vs scalar libm: " + parts.joined(separator: "; "))
            json["vector_math"] = rows
        }

        // iSTFT: overlap-add synthesis against the bare inverse FFT it contains.
        do {
            let synth = OverlapAddSynthesizer()
            let bins = OverlapAddSynthesizer.binCount, n = OverlapAddSynthesizer.fftSize, hop = OverlapAddSynthesizer.hopLength
            let mag = noise(bins, seed: 8), phase = noise(bins, seed: 9), out = UnsafeMutablePointer<Float>.allocate(capacity: hop)
            for i in 0..<bins { mag[i] = abs(mag[i]); phase[i] *= 60 }
            let inBuf = fftwf_alloc_complex(bins)!, outBuf = fftwf_alloc_real(n)!
            let spectrum = noise(2 * bins, seed: 10)
            let plan = FFTWPlannerLock.shared.withLock { fftwf_plan_dft_c2r_1d(Int32(n), inBuf, outBuf, UInt32(FFTW_ESTIMATE))! }
            defer {
                mag.deallocate(); phase.deallocate(); out.deallocate(); spectrum.deallocate()
                FFTWPlannerLock.shared.withLock { fftwf_destroy_plan(plan) }
                fftwf_free(inBuf); fftwf_free(outBuf)
            }
            let ours = measure(reps: 20_000) { synth.synthesize(magnitude: mag, phase: phase, output: out) }
            let raw = measure(reps: 20_000) {
                UnsafeMutableRawPointer(inBuf).copyMemory(from: spectrum, byteCount: 8 * bins)
                fftwf_execute(plan)
            }
            lines.append("")
            lines.append("iSTFT frame (n=480, hop 240): OverlapAddSynthesizer.synthesize(magnitude:phase:) \(benchFormat(ours.median, 2)) µs vs bare FFTW c2r (+ input copy) \(benchFormat(raw.median, 2)) µs: ratio raw/ours \(benchFormat(raw.median / ours.median, 2))x (the rest is 241 cos/sin pairs and the windowed overlap-add)")
            json["istft"] = ["ours_us": ours.median, "fftw_c2r_us": raw.median]
        }

        // Excitation of the source-filter vocoder: one hop (240 samples, two 480-point r2c FFTs).
        do {
            let g = ExcitationGenerator()
            var k = 0
            let voiced = measure(reps: 2_000) { k += 1; g.step(f0Hz: 130 + Double(k % 7)) }
            let low = measure(reps: 2_000) { k += 1; g.step(f0Hz: 52 + Double(k % 3)) }
            for _ in 0..<3 { g.step(f0Hz: 0) }
            let unvoiced = measure(reps: 2_000) { g.step(f0Hz: 0) }
            lines.append("")
            lines.append("Excitation hop (ExcitationGenerator.step, harmonic + noise frame spectra): voiced 130 Hz \(benchFormat(voiced.median, 2)) µs (min \(benchFormat(voiced.min, 2))), voiced 52 Hz \(benchFormat(low.median, 2)) µs, unvoiced \(benchFormat(unvoiced.median, 2)) µs")
            json["excitation"] = ["voiced_us": voiced.median, "voiced_52hz_us": low.median, "unvoiced_us": unvoiced.median]
        }

        // Resampler against a direct-form FIR with the same prototype filter.
        lines.append("")
        lines.append("Polyphase resampler, 10 ms blocks: µs per block (median) vs direct FIR (zero-stuffed, all taps, same filter); ratio = FIR / ours")
        var resRows: [[String: Any]] = []
        for (inRate, outRate) in [(48_000, 24_000), (24_000, 48_000), (44_100, 24_000)] {
            let r = PolyphaseResampler(inputRate: inRate, outputRate: outRate)
            let block = inRate / 100
            let x = noise(block, seed: 11), y = UnsafeMutablePointer<Float>.allocate(capacity: r.maxOutputCount(forInputCount: block) + 4)
            defer { x.deallocate(); y.deallocate() }
            let ours = measure(reps: 2000) { _ = r.process(x, count: block, output: y, outputCapacity: r.maxOutputCount(forInputCount: block) + 4) }
            // Direct form: every output sample evaluates the whole prototype at the intermediate rate (L * inRate).
            let h = r.prototype.map(Float.init)
            let L = r.upFactor, M = r.downFactor
            let outCount = block * L / M
            let hist = UnsafeMutablePointer<Float>.allocate(capacity: block * L + h.count)
            hist.initialize(repeating: 0, count: block * L + h.count)
            defer { hist.deallocate() }
            let fir = h.withUnsafeBufferPointer { hp in
                measure(reps: 200) {
                    for i in 0..<block { hist[h.count + i * L] = x[i] }   // zero-stuffed upsampling
                    for o in 0..<outCount {
                        let end = h.count + o * M
                        var acc: Float = 0
                        for j in 0..<hp.count { acc += hp[j] * hist[end - j] }
                        y[o] = acc
                    }
                }
            }
            lines.append(benchPad("\(inRate) -> \(outRate) Hz (\(r.tapCount) taps)", 34) + "ours \(benchFormat(ours.median, 2)) µs   direct FIR \(benchFormat(fir.median, 1)) µs   ratio \(benchFormat(fir.median / ours.median, 1))x")
            resRows.append(["in": inRate, "out": outRate, "taps": r.tapCount, "ours_us": ours.median, "direct_fir_us": fir.median])
        }
        json["resampler"] = resRows
        return Output(text: lines.joined(separator: "\n"), json: json)
    }
}
