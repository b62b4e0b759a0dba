import XCTest
import Foundation
import ONNXFormat
import TestSupport
@testable import TMRVCRuntime
import TMRVCKernels

/// The batch-1 kernels of the performance work: packed GEMV / small GEMM (fp32 and fp16 weight
/// storage) against double-precision references, the vector transcendental functions, and the
/// compiler's fusions (MatMul + Add + Gelu, Conv + Gelu, streaming causal depthwise conv)
/// against the unfused graphs. The kernel tests run every kernel build this CPU can run
/// (`KernelSet.runnable`: the generic build always, the AVX2/FMA one where the CPU has it).
final class PerformanceKernelTests: XCTestCase {

    typealias Noise = LinearAlgebraOpsTests.Noise

    // MARK: packed products

    /// y = act(W x + b) for every shape class (N not a multiple of 16, K odd and 1, T = 1...9,
    /// MatMul-like and Conv-like strides), fp32, fp16 and int8 storage. fp16 and int8 are compared
    /// with a reference that uses the same rounded (dequantised) weights, so all check the
    /// arithmetic to ~1e-6.
    func testPackedProductsMatchReference() {
        for kernels in KernelSet.runnable { packedProductsMatchReference(kernels) }
    }

    func packedProductsMatchReference(_ kernels: KernelSet) {
        var g = Noise(1)
        for (n, k) in [(1, 1), (15, 3), (16, 16), (17, 257), (80, 256), (482, 256), (33, 774)] {
            let w = g.floats(n * k)            // row-major N x K
            let bias = g.floats(n)
            for storage in [WeightStorage.float32, .float16, .int8] {
                for activation in [FusedActivation.none, .gelu, .geluTanh] {
                    let m = w.withUnsafeBufferPointer { wp in
                        bias.withUnsafeBufferPointer { bp in
                            PackedMatrix(rowMajorNK: wp.baseAddress!, rows: n, depth: k, ld: k, storage: storage,
                                         bias: bp.baseAddress!, activation: activation, kernels: kernels)
                        }
                    }
                    let wq: [Float]
                    switch m.storage {
                    case .float16: wq = w.map { Float(Float16($0)) }
                    case .int8: wq = Self.dequantizedRows(w, rows: n, depth: k)
                    case .float32: wq = w
                    }
                    for t in [1, 2, 3, 4, 5, 9, 37] {
                        let x = g.floats(k * t)
                        for convLayout in [false, true] {
                            // x(k, t): MatMul layout A[t][k] or Conv layout X[k][t]; y likewise.
                            let (xsK, xsT) = convLayout ? (t, 1) : (1, k)
                            let (ysN, ysT) = convLayout ? (t, 1) : (1, n)
                            // int8 products also quantise each input column (int16, one scale per column).
                            let xr = m.storage == .int8 ? Self.dequantizedColumns(x, depth: k, columns: t, xsK: xsK, xsT: xsT) : x
                            var y = [Float](repeating: .nan, count: n * t)
                            var scratch = [Float](repeating: 0, count: PackedMatrix.scratchCount(depth: k, columns: t) + 1)
                            x.withUnsafeBufferPointer { xp in
                                y.withUnsafeMutableBufferPointer { yp in
                                    scratch.withUnsafeMutableBufferPointer { sp in
                                        m.multiply(x: xp.baseAddress!, xsK: xsK, xsT: xsT, columns: t, y: yp.baseAddress!,
                                                   ysN: ysN, ysT: ysT, scratch: sp.baseAddress!)
                                    }
                                }
                            }
                            var worst = 0.0
                            for j in 0..<n {
                                for c in 0..<t {
                                    var acc = Double(bias[j])
                                    for p in 0..<k { acc += Double(wq[j * k + p]) * Double(xr[p * xsK + c * xsT]) }
                                    switch activation {
                                    case .none: break
                                    case .gelu: acc = 0.5 * acc * erfc(-acc / 2.0.squareRoot())
                                    case .geluTanh: acc = acc / (1 + exp(-2 * (2 / Double.pi).squareRoot() * (acc + 0.044715 * acc * acc * acc)))
                                    }
                                    let got = Double(y[j * ysN + c * ysT])
                                    worst = max(worst, abs(got - acc) / max(1, abs(acc)))
                                }
                            }
                            XCTAssertLessThan(worst, 2e-6 * Double(max(1, k)).squareRoot(),
                                              "\(kernels.name) N=\(n) K=\(k) T=\(t) \(storage) \(activation) conv=\(convLayout)")
                        }
                    }
                }
            }
        }
    }

    /// Symmetric per-row int8 as documented on `WeightStorage.int8`, in double: the reference
    /// the kernels must reproduce.
    static func dequantizedRows(_ w: [Float], rows: Int, depth: Int) -> [Float] {
        var out = w
        for n in 0..<rows {
            let row = w[n * depth ..< (n + 1) * depth]
            let peak = row.map { abs($0) }.max() ?? 0
            let s: Float = peak > 0 ? peak / 127 : 1
            for k in 0..<depth { out[n * depth + k] = s * (w[n * depth + k] / s).rounded() }
        }
        return out
    }

    /// The int8 kernels' quantisation of input columns: per column, levels =
    /// `Int8Layout.activationLevels(depth:)`, q = round(x * levels / peak) in Float (half to even), back as
    /// q * peak / levels.
    static func dequantizedColumns(_ x: [Float], depth: Int, columns: Int, xsK: Int, xsT: Int) -> [Float] {
        var out = x
        let levels = Float(Int8Layout.activationLevels(depth: depth))
        for c in 0..<columns {
            let peak = (0..<depth).map { abs(x[$0 * xsK + c * xsT]) }.max() ?? 0
            guard peak > 0 else { continue }
            let inverse = levels / peak, step = peak / levels
            for k in 0..<depth { out[k * xsK + c * xsT] = (x[k * xsK + c * xsT] * inverse).rounded(.toNearestOrEven) * step }
        }
        return out
    }

    /// int8 packing: each row's largest magnitude maps to exactly +-127 (so it comes back within
    /// float rounding), the rest within half a step of the row's scale; an all-zero row stays zero;
    /// the weights take a quarter of the float32 bytes (plus the scales); both kernel builds agree;
    /// non-finite inputs come out NaN.
    /// `packedInt8Sums` (MatMulInteger / ConvInteger with constant int8 weights), both kernel
    /// builds: exact Int32 sums of int8 weights and int16 inputs in -255...255 (uint8 minus a
    /// zero point), one contiguous column or up to four gathered ones, odd depths and partial panels.
    func testPackedInt8SumsAreExact() {
        var g = Noise(3)
        for kernels in KernelSet.runnable {
            for (n, k) in [(1, 1), (15, 3), (16, 16), (17, 257), (40, 512), (33, 775)] {
                let w = (0..<(n * k)).map { _ in Int8(clamping: Int(g.next() * 128)) }
                var packed = [UInt8](repeating: 0, count: (n + 15) / 16 * Int8Layout.panelBytes(depth: k))
                for r in 0..<n { for i in 0..<k { packed[Int8Layout.offset(row: r, k: i, depth: k)] = UInt8(bitPattern: w[r * k + i]) } }
                for t in [1, 2, 3, 4] {
                    let x = (0..<(k * t)).map { _ in Int16(clamping: Int(g.next() * 256)) }   // x(i, col) at col * k + i
                    let stride = t == 1 ? 1 : 4
                    var pairs = [Int32](repeating: 0, count: (k + 1) / 2 * stride)
                    for kp in 0..<(k + 1) / 2 {
                        for col in 0..<t {
                            let low = UInt32(UInt16(bitPattern: x[col * k + 2 * kp]))
                            let high = 2 * kp + 1 < k ? UInt32(UInt16(bitPattern: x[col * k + 2 * kp + 1])) : 0
                            pairs[kp * stride + col] = Int32(bitPattern: low | high << 16)
                        }
                    }
                    var y = [Int32](repeating: .min, count: n * t)
                    packed.withUnsafeBytes { pw in
                        pairs.withUnsafeBufferPointer { pp in
                            y.withUnsafeMutableBufferPointer { yp in
                                kernels.packedInt8Sums(pw.baseAddress!, n, k, t, pp.baseAddress!, stride, yp.baseAddress!, 1, n)
                            }
                        }
                    }
                    var want = [Int32](repeating: 0, count: n * t)
                    for col in 0..<t {
                        for r in 0..<n {
                            var sum: Int32 = 0
                            for i in 0..<k { sum += Int32(w[r * k + i]) * Int32(x[col * k + i]) }
                            want[col * n + r] = sum
                        }
                    }
                    XCTAssertEqual(y, want, "\(kernels.name) n \(n) k \(k) columns \(t)")
                }
            }
        }
    }

    func testInt8PackingIsSymmetricPerRow() {
        let (n, k) = (19, 37)
        var g = LinearAlgebraOpsTests.Noise(7)
        var w = g.floats(n * k)
        for j in 0..<k { w[3 * k + j] = 0 }                   // an all-zero row
        for j in 0..<k { w[5 * k + j] *= 1000 }               // rows of very different ranges
        let identity = (0..<k).map { c in (0..<k).map { Float($0 == c ? 1 : 0) } }
        var results: [[Float]] = []
        for kernels in KernelSet.runnable {
            let m = w.withUnsafeBufferPointer {
                PackedMatrix(rowMajorNK: $0.baseAddress!, rows: n, depth: k, ld: k, storage: .int8, kernels: kernels)
            }
            XCTAssertEqual(m.storage, .int8)
            XCTAssertEqual(m.weightBytes, 2 * ((k + 1) / 2 * 32) + 2 * 64, "a quarter of float32 (depth padded to pairs), plus 16 scales per panel")
            // Column c of W through the kernel: W e_c.
            var recovered = [Float](repeating: 0, count: n * k)
            for c in 0..<k {
                var y = [Float](repeating: .nan, count: n)
                identity[c].withUnsafeBufferPointer { x in
                    y.withUnsafeMutableBufferPointer { m.multiply(x: x.baseAddress!, xsK: 1, xsT: 1, columns: 1, y: $0.baseAddress!, ysN: 1, ysT: 1, scratch: nil) }
                }
                for r in 0..<n { recovered[r * k + c] = y[r] }
            }
            for r in 0..<n {
                let row = Array(w[r * k ..< (r + 1) * k]), got = Array(recovered[r * k ..< (r + 1) * k])
                let peak = row.map { abs($0) }.max()!
                if peak == 0 { XCTAssertEqual(got, row, "zero row"); continue }
                let step = peak / 127
                let arg = row.indices.max { abs(row[$0]) < abs(row[$1]) }!
                XCTAssertEqual(got[arg], row[arg], accuracy: peak * 1e-6, "row \(r): the peak is exact")
                for c in 0..<k { XCTAssertLessThanOrEqual(abs(got[c] - row[c]), step * 0.5 * (1 + 1e-5), "row \(r) col \(c)") }
            }
            results.append(recovered)
            // A non-finite input gives NaN outputs (never finite garbage); an all-zero one gives the bias (0).
            for (bad, expectNaN) in [(Float.infinity, true), (.nan, true), (0, false)] {
                var x = [Float](repeating: 0, count: k)
                x[k / 2] = bad
                var y = [Float](repeating: 1, count: n)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { m.multiply(x: xp.baseAddress!, xsK: 1, xsT: 1, columns: 1, y: $0.baseAddress!, ysN: 1, ysT: 1, scratch: nil) }
                }
                XCTAssertTrue(y.allSatisfy { expectNaN ? $0.isNaN : $0 == 0 }, "\(kernels.name) input \(bad): \(y)")
            }
        }
        if results.count == 2 { XCTAssertEqual(results[0], results[1], "generic and AVX2 builds agree") }
    }

    /// Rounding at packing and the widening in each kernel build: normal, subnormal (3e-5, 1e-7),
    /// zero, signed, largest and infinite halves; the generic x86-64 build keeps float32 weights.
    func testFloat16PackingRoundsToNearest() {
        let w: [Float] = [1, 1.0 / 3, 65504, 1e-8, -2.5, 0.1, 3e-5, -1e-7, -0.0, 6.1e-5, 1000.7, -65504, .infinity, -1e6]
        for kernels in KernelSet.runnable {
            let m = w.withUnsafeBufferPointer {
                PackedMatrix(rowMajorNK: $0.baseAddress!, rows: w.count, depth: 1, ld: 1, storage: .float16, kernels: kernels)
            }
            var y = [Float](repeating: 0, count: w.count)
            let one: [Float] = [1]
            one.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { m.multiply(x: x.baseAddress!, xsK: 1, xsT: 1, columns: 1, y: $0.baseAddress!, ysN: 1, ysT: 1, scratch: nil) }
            }
            if kernels.float16WeightsSupported {
                XCTAssertEqual(m.storage, .float16)
                XCTAssertEqual(y, w.map { Float(Float16($0)) }, kernels.name)
            } else {   // the generic x86-64 build packs float32 instead (no F16C)
                XCTAssertEqual(m.storage, .float32)
                XCTAssertEqual(y, w, kernels.name)
            }
        }
    }

    // MARK: vector math

    /// Worst relative error (absolute below `floor`) against double references on a dense grid,
    /// plus special values.
    func testVectorMathAccuracy() {
        for kernels in KernelSet.runnable { vectorMathAccuracy(kernels) }
    }

    func vectorMathAccuracy(_ k: KernelSet) {
        let xs = (0..<40001).map { Float($0 - 20000) * 0.0025 }   // [-50, 50]
        func check(_ name: String, _ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
                   _ reference: (Double) -> Double, bound: Double, floor: Double) {
            var y = [Float](repeating: 0, count: xs.count)
            xs.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { f(x.baseAddress!, $0.baseAddress!, xs.count) } }
            var worst = 0.0, at: Float = 0
            for (i, x) in xs.enumerated() {
                let want = reference(Double(x))
                guard want.isFinite, abs(want) < 3e38 else { continue }
                let err = abs(Double(y[i]) - want) / max(abs(want), floor)
                if err > worst { worst = err; at = x }
            }
            print("VectorMath.\(name) [\(k.name)]: worst relative error \(worst) at x = \(at)")
            XCTAssertLessThan(worst, bound, "\(name) [\(k.name)] at x = \(at)")
        }
        check("exp", k.exp, { Foundation.exp($0) }, bound: 3e-7, floor: 1e-37)
        check("tanh", k.tanh, { Foundation.tanh($0) }, bound: 5e-7, floor: 1e-30)
        check("sigmoid", k.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }, bound: 5e-7, floor: 1e-30)
        // GELU's deep negative tail: x / sqrt 2 rounds to float, so values below 1e-3 get an absolute floor.
        check("gelu", k.gelu, { 0.5 * $0 * erfc(-$0 / 2.0.squareRoot()) }, bound: 1e-6, floor: 1e-3)
        check("geluTanh", k.geluTanh,
              { $0 / (1 + Foundation.exp(-2 * (2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }, bound: 1e-6, floor: 1e-3)

        let special: [Float] = [.nan, .infinity, -.infinity, 89, -88, 0, -0.0, 1e-30]
        var y = [Float](repeating: 0, count: special.count)
        special.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { k.exp(x.baseAddress!, $0.baseAddress!, special.count) } }
        XCTAssertTrue(y[0].isNaN, k.name)
        XCTAssertEqual(Array(y[1...]), [.infinity, 0, .infinity, 0, 1, 1, 1], k.name)
        special.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { k.tanh(x.baseAddress!, $0.baseAddress!, special.count) } }
        XCTAssertTrue(y[0].isNaN, k.name)
        XCTAssertEqual(Array(y[1...]), [1, -1, 1, -1, 0, -0.0, 1e-30], k.name)
        special.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { k.gelu(x.baseAddress!, $0.baseAddress!, special.count) } }
        XCTAssertTrue(y[0].isNaN, k.name)
        XCTAssertEqual(Array(y[1...]), [.infinity, -0.0, 89, -0.0, 0, -0.0, 5e-31], k.name)
    }

    // MARK: fusion

    static func session(_ bytes: [UInt8], _ options: SessionOptions = SessionOptions()) throws -> InferenceSession {
        let file = bytes.withUnsafeBytes { MappedFile(copying: $0, name: "fusion.onnx") }
        return try InferenceSession(model: try ONNXModel.decode(file: file), options: options)
    }

    /// MatMul + Add(bias) + Gelu on constant weights: one kernel, same values as the three-node
    /// graph compiled without fusion (the intermediate made a graph output blocks fusion).
    func testMatMulAddGeluFusesIntoOneKernel() throws {
        var g = Noise(2)
        let (k, n) = (40, 37)
        let w = g.floats(k * n), b = g.floats(n)
        for t in [1, 3, 7] {
            let nodes = [("MatMul", ["x", "w"], ["m"]), ("Add", ["b", "m"], ["a"]), ("Gelu", ["a"], ["y"])]
            let fused = try Self.session(makeModel(nodes: nodes, initializers: [("w", [k, n], w), ("b", [n], b)],
                                                   inputs: [("x", [1, t, k])], outputs: [("y", [1, t, n])], opset: 20))
            let plain = try Self.session(makeModel(nodes: nodes, initializers: [("w", [k, n], w), ("b", [n], b)],
                                                   inputs: [("x", [1, t, k])], outputs: [("y", [1, t, n]), ("m", [1, t, n])], opset: 20))
            XCTAssertEqual(fused.statistics.kernelCount, 1)
            XCTAssertEqual(plain.statistics.kernelCount, 3)
            let x = g.floats(k * t)
            for s in [fused, plain] { s.inputs[0].floats.update(from: x, count: x.count); s.run() }
            for i in 0..<(n * t) {
                XCTAssertEqual(fused.outputs[0].floats[i], plain.outputs[0].floats[i], accuracy: 2e-6, "T=\(t) element \(i)")
            }
        }
    }

    func testConvGeluFusesAndFloat16StorageStaysClose() throws {
        var g = Noise(3)
        let (c, m, kw, t) = (12, 20, 3, 5)
        let w = g.floats(m * c * kw), b = g.floats(m)
        let nodes = [("Conv", ["x", "w", "b"], ["v"]), ("Gelu", ["v"], ["y"])]
        let model = makeModel(nodes: nodes, initializers: [("w", [m, c, kw], w), ("b", [m], b)],
                              inputs: [("x", [1, c, t + kw - 1])], outputs: [("y", [1, m, t])], opset: 20)
        let s32 = try Self.session(model)
        let s16 = try Self.session(model, SessionOptions(weightStorage: .float16))
        XCTAssertEqual(s32.statistics.kernelCount, 1)
        let x = g.floats(c * (t + kw - 1))
        for s in [s32, s16] { s.inputs[0].floats.update(from: x, count: x.count); s.run() }
        for o in 0..<m {
            for p in 0..<t {
                var acc = Double(b[o])
                for ci in 0..<c { for j in 0..<kw { acc += Double(w[(o * c + ci) * kw + j]) * Double(x[ci * (t + kw - 1) + p + j]) } }
                let want = 0.5 * acc * erfc(-acc / 2.0.squareRoot())
                XCTAssertEqual(Double(s32.outputs[0].floats[o * t + p]), want, accuracy: 2e-6)
                XCTAssertEqual(Double(s16.outputs[0].floats[o * t + p]), want, accuracy: 5e-3)
            }
        }
    }

    /// Concat(state, x) -> depthwise dilated Conv + Slice(last S columns): one kernel with two
    /// outputs, equal to the reference for T = 1 (the streaming call) and T = 4, over several
    /// frames with the state fed back.
    func testCausalDepthwiseStepFuses() throws {
        var g = Noise(4)
        let (c, kw, d) = (10, 3, 2)
        let s = (kw - 1) * d
        let w = g.floats(c * kw), b = g.floats(c)
        func int64Tensor(_ w: inout ProtoWriter, _ name: String, _ v: [Int64]) {
            w.int(1, Int64(v.count)); w.int(2, 7); w.string(8, name)
            w.bytes(9, v.withUnsafeBytes { Array($0) })
        }
        for t in [1, 4] {
            let model = makeModel(opset: 20) { gr in
                node(&gr, "Concat", ["state_in", "x"], ["cat"]) { n in
                    n.message(5) { a in a.string(1, "axis"); a.int(3, 2); a.int(20, 2) }
                }
                node(&gr, "Conv", ["cat", "w", "b"], ["y"]) { n in
                    n.message(5) { a in a.string(1, "group"); a.int(3, Int64(c)); a.int(20, 2) }
                    n.message(5) { a in a.string(1, "dilations"); a.packedVarints(8, [Int64(d)]); a.int(20, 7) }
                    n.message(5) { a in a.string(1, "kernel_shape"); a.packedVarints(8, [Int64(kw)]); a.int(20, 7) }
                }
                node(&gr, "Slice", ["cat", "starts", "ends", "axes"], ["state_out"])
                gr.string(2, "causal")
                gr.message(5) { tt in floatTensor(&tt, name: "w", dims: [c, 1, kw], values: w) }
                gr.message(5) { tt in floatTensor(&tt, name: "b", dims: [c], values: b) }
                gr.message(5) { tt in int64Tensor(&tt, "starts", [Int64(-s)]) }
                gr.message(5) { tt in int64Tensor(&tt, "ends", [Int64.max]) }
                gr.message(5) { tt in int64Tensor(&tt, "axes", [2]) }
                gr.message(11) { v in valueInfo(&v, name: "state_in", dims: [1, c, s]) }
                gr.message(11) { v in valueInfo(&v, name: "x", dims: [1, c, t]) }
                gr.message(12) { v in valueInfo(&v, name: "y", dims: [1, c, t]) }
                gr.message(12) { v in valueInfo(&v, name: "state_out", dims: [1, c, s]) }
            }
            let sess = try Self.session(model)
            XCTAssertEqual(sess.statistics.kernelCount, 1, "T=\(t): Concat + Conv + Slice must fuse")
            var state = [Float](repeating: 0, count: c * s)
            for frame in 0..<5 {
                let x = g.floats(c * t)
                sess.inputs[sess.inputIndex("state_in")!].floats.update(from: state, count: state.count)
                sess.inputs[sess.inputIndex("x")!].floats.update(from: x, count: x.count)
                sess.run()
                let y = sess.outputs[sess.outputIndex("y")!].floats, so = sess.outputs[sess.outputIndex("state_out")!].floats
                for ch in 0..<c {
                    let window = Array(state[(ch * s)..<((ch + 1) * s)]) + Array(x[(ch * t)..<((ch + 1) * t)])
                    for p in 0..<t {
                        var acc = b[ch]
                        for j in 0..<kw { acc += w[ch * kw + j] * window[p + j * d] }
                        XCTAssertEqual(y[ch * t + p], acc, accuracy: 1e-5, "T=\(t) frame \(frame) channel \(ch) position \(p)")
                    }
                    for j in 0..<s { XCTAssertEqual(so[ch * s + j], window[t + j], "state T=\(t) frame \(frame)") }
                }
                state = Array(UnsafeBufferPointer(start: so, count: c * s))
            }
        }
    }
}

/// Runtime CPU dispatch: which kernel build the process chose.
final class KernelSelectionTests: XCTestCase {
    /// `TMRVC_KERNELS=generic` forces the baseline build (tools/test.sh runs the parity suites that
    /// way too); otherwise the AVX2/FMA build is chosen exactly where the CPU has AVX2 and FMA.
    func testActiveBuildFollowsCPUAndEnvironment() {
        let forced = ProcessInfo.processInfo.environment["TMRVC_KERNELS"]
        let expected = forced == "generic" || !KernelSet.hostSupportsAVX2 ? "generic" : "avx2"
        print("kernels: \(KernelSet.active.name) (TMRVC_KERNELS=\(forced ?? "unset"), AVX2+FMA: \(KernelSet.hostSupportsAVX2))")
        XCTAssertEqual(KernelSet.active.name, expected)
        XCTAssertEqual(KernelSet.runnable.map(\.name), KernelSet.hostSupportsAVX2 ? ["generic", "avx2"] : ["generic"])
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ")) } ?? []
        if !flags.isEmpty { XCTAssertEqual(KernelSet.hostSupportsAVX2, flags.contains("avx2") && flags.contains("fma")) }
    }
}

/// The runtime's GEMM on run-time matrices (`KernelSet.gemm`, used instead of OpenBLAS's sgemm on
/// the audio path) against a double-precision reference, in every kernel build this CPU runs.
final class KernelGemmTests: XCTestCase {
    func testGemmMatchesReference() {
        var g = PerformanceKernelTests.Noise(7)
        for kernels in KernelSet.runnable {
            for (m, n, k) in [(1, 1, 1), (2, 17, 3), (4, 16, 256), (5, 33, 7), (8, 256, 256), (9, 40, 130), (3, 15, 0)] {
                for transA in [false, true] {
                    for transB in [false, true] {
                        for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (-2, 0.25)] {
                            let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 1
                            let a = g.floats((transA ? k : m) * lda), b = g.floats((transB ? n : k) * ldb)
                            var c = g.floats(m * ldc)
                            if beta == 0 { for i in c.indices { c[i] = .nan } }   // beta 0 must overwrite NaN
                            let c0 = c
                            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                                kernels.gemm(transA, transB, m, n, k, alpha, ap.baseAddress!, lda, bp.baseAddress!, ldb, beta, cp.baseAddress!, ldc)
                            } } }
                            var worst = 0.0
                            for i in 0..<m {
                                for j in 0..<n {
                                    var acc = 0.0
                                    for p in 0..<k {
                                        acc += Double(transA ? a[p * lda + i] : a[i * lda + p]) * Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                                    }
                                    let want = Double(alpha) * acc + (beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j]))
                                    worst = max(worst, abs(Double(c[i * ldc + j]) - want))
                                }
                                if n < ldc { XCTAssertEqual(c[i * ldc + n].bitPattern, c0[i * ldc + n].bitPattern, "padding untouched") }
                            }
                            XCTAssertLessThan(worst, 1e-5 * Double(max(1, k)).squareRoot() * 4,
                                              "\(kernels.name) m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) alpha=\(alpha) beta=\(beta)")
                        }
                    }
                }
            }
        }
    }
}
