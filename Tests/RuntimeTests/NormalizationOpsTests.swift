import Foundation
import XCTest
import ONNXFormat
@testable import TMRVCRuntime

/// Compiles one node with its operator's factory and runs the kernel directly (no session), so
/// op tests can use any opset, attribute and constant-input combination.
enum NormOpHarness {
    static func attr(_ name: String, int v: Int) -> AttributeProto { var a = AttributeProto(); a.name = name; a.i = Int64(v); return a }
    static func attr(_ name: String, float v: Float) -> AttributeProto { var a = AttributeProto(); a.name = name; a.f = v; return a }
    static func attr(_ name: String, ints v: [Int]) -> AttributeProto { var a = AttributeProto(); a.name = name; a.ints = v.map { Int64($0) }; return a }
    static func attr(_ name: String, floats v: [Float]) -> AttributeProto { var a = AttributeProto(); a.name = name; a.floats = v; return a }
    static func attr(_ name: String, string v: String) -> AttributeProto { var a = AttributeProto(); a.name = name; a.s = Array(v.utf8); return a }
    static func attr(_ name: String, strings v: [String]) -> AttributeProto { var a = AttributeProto(); a.name = name; a.strings = v.map { Array($0.utf8) }; return a }

    /// Runs `op` on `inputs` (nil = omitted); inputs whose index is in `constant` are load-time
    /// constants. The kernel runs twice (outputs poisoned in between) to catch kernels that
    /// depend on the previous contents of their outputs or scratch.
    static func run(_ op: String, opset: Int, inputs: [Tensor?], constant: Set<Int> = [], attributes: [AttributeProto] = [],
                    outputs: Int = 1, omitOutputs: Set<Int> = []) throws -> [Tensor?] {
        let memory = OwnedMemory()
        var buffers: [TensorBuffer?] = []
        for (i, t) in inputs.enumerated() {
            guard let t else { buffers.append(nil); continue }
            let b = TensorBuffer(name: "in\(i)", dataType: t.dataType, shape: t.shape, role: constant.contains(i) ? .constant : .input)
            b.data = memory.allocate(bytes: b.byteCount)
            t.bytes.withUnsafeBytes { if let src = $0.baseAddress { b.data.copyMemory(from: src, byteCount: $0.count) } }
            buffers.append(b)
        }
        var attrs: [String: AttributeProto] = [:]
        for a in attributes { attrs[a.name] = a }
        let node = Graph.Node(name: "n", opType: op, domain: "", inputs: inputs.indices.map { inputs[$0] == nil ? -1 : $0 },
                              outputs: (0..<outputs).map { omitOutputs.contains($0) ? -1 : 100 + $0 }, attributes: attrs)
        var ctx = NodeContext(node: node, opset: opset, file: "test", inputs: buffers,
                              outputs: [TensorBuffer?](repeating: nil, count: outputs),
                              outputNames: (0..<outputs).map { omitOutputs.contains($0) ? "" : "out\($0)" }, memory: memory)
        guard let def = OperatorRegistry.definitions[op] else { throw RuntimeError(.unsupported, "no \(op)") }
        let kernel = try def.factory(&ctx)
        for b in ctx.outputs.compactMap({ $0 }) {
            if b.role == .alias { b.data = b.aliasOf!.data } else if b.role == .intermediate { b.data = memory.allocate(bytes: b.byteCount) }
        }
        var results: [Tensor?] = []
        for pass in 0..<2 {
            for b in ctx.outputs.compactMap({ $0 }) where b.role == .intermediate {
                b.data.initializeMemory(as: UInt8.self, repeating: 0xA5, count: b.byteCount)
            }
            kernel?.run()
            let snap = ctx.outputs.map { $0?.snapshot() }
            if pass == 1 && snap != results { throw RuntimeError(.shape, "second run differs from the first") }
            results = snap
        }
        return results
    }

    /// Deterministic pseudo-random floats in about [-1, 1).
    static func noise(_ n: Int, seed: UInt64 = 1) -> [Float] {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) - (1 << 52)) / Float(1 << 52)
        }
    }

    static func doubles(_ shape: [Int], _ v: [Double]) -> Tensor {
        Tensor(dataType: .double, shape: shape, bytes: v.withUnsafeBytes { Array($0) })
    }

    static func bools(_ shape: [Int], _ v: [Bool]) -> Tensor {
        Tensor(dataType: .bool, shape: shape, bytes: v.map { $0 ? 1 : 0 })
    }

    static func int32s(_ shape: [Int], _ v: [Int32]) -> Tensor {
        Tensor(dataType: .int32, shape: shape, bytes: v.withUnsafeBytes { Array($0) })
    }

    /// Worst error |got - want| / max(1, |want|) must be within `tolerance`.
    static func assertClose(_ got: [Float], _ want: [Double], tolerance: Double, _ what: String = "",
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, "\(what): count", file: file, line: line)
        var worst = 0.0, at = 0
        for i in 0..<min(got.count, want.count) {
            let e = abs(Double(got[i]) - want[i]) / max(1, abs(want[i]))
            if !(e <= worst) { worst = e; at = i }
        }
        XCTAssertLessThanOrEqual(worst, tolerance, "\(what): worst error at \(at): got \(got.isEmpty ? 0 : got[at]) want \(want.isEmpty ? 0 : want[at])", file: file, line: line)
    }

    static func expectError(_ kind: RuntimeError.Kind, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected a \(kind) error", file: file, line: line)
        } catch let e as RuntimeError {
            XCTAssertEqual(e.kind, kind, e.message, file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }
}

final class NormalizationOpsTests: XCTestCase {
    typealias H = NormOpHarness

    /// Reference softmax family along `n` elements spaced by `inner`.
    func referenceSoftmax(_ x: [Float], outer: Int, n: Int, inner: Int, variant: String) -> [Double] {
        var y = [Double](repeating: 0, count: x.count)
        for o in 0..<outer {
            for j in 0..<inner {
                let idx = (0..<n).map { (o * n + $0) * inner + j }
                let v = idx.map { Double(x[$0]) }
                let m = v.max()!
                let s = v.map { Foundation.exp($0 - m) }.reduce(0, +)
                for (k, i) in idx.enumerated() {
                    switch variant {
                    case "Softmax": y[i] = Foundation.exp(v[k] - m) / s
                    case "LogSoftmax": y[i] = v[k] - m - Foundation.log(s)
                    default: y[i] = k == v.firstIndex(of: m)! ? 1 : 0
                    }
                }
            }
        }
        return y
    }

    func testSoftmaxFamilyOldOpsetsFlattenToTwoD() throws {
        let x = H.noise(24).map { $0 * 3 }
        for op in ["Softmax", "LogSoftmax", "Hardmax"] {
            // opset 11, axis 1 of [2, 3, 4]: rows of 12.
            let y = try H.run(op, opset: 11, inputs: [Tensor(shape: [2, 3, 4], floats: x)], attributes: [H.attr("axis", int: 1)])
            H.assertClose(y[0]!.floats, referenceSoftmax(x, outer: 2, n: 12, inner: 1, variant: op), tolerance: 1e-6, op)
            // opset 11 default axis is 1 too; axis 0 is one row of 24.
            let y0 = try H.run(op, opset: 11, inputs: [Tensor(shape: [2, 3, 4], floats: x)], attributes: [H.attr("axis", int: 0)])
            H.assertClose(y0[0]!.floats, referenceSoftmax(x, outer: 1, n: 24, inner: 1, variant: op), tolerance: 1e-6, op)
            // opset 13, axis 1: along the 3 only.
            let y13 = try H.run(op, opset: 13, inputs: [Tensor(shape: [2, 3, 4], floats: x)], attributes: [H.attr("axis", int: 1)])
            H.assertClose(y13[0]!.floats, referenceSoftmax(x, outer: 2, n: 3, inner: 4, variant: op), tolerance: 1e-6, op)
        }
    }

    func testSoftmaxAlongChannelsOfAudioShape() throws {
        // [1, C, T] along C (strided path), and along T (rows).
        let c = 80, t = 37
        let x = H.noise(c * t, seed: 3).map { $0 * 8 }
        for op in ["Softmax", "LogSoftmax"] {
            let y = try H.run(op, opset: 13, inputs: [Tensor(shape: [1, c, t], floats: x)], attributes: [H.attr("axis", int: 1)])
            H.assertClose(y[0]!.floats, referenceSoftmax(x, outer: 1, n: c, inner: t, variant: op), tolerance: 1e-6, op)
            let yt = try H.run(op, opset: 13, inputs: [Tensor(shape: [1, c, t], floats: x)])
            H.assertClose(yt[0]!.floats, referenceSoftmax(x, outer: c, n: t, inner: 1, variant: op), tolerance: 1e-6, op)
        }
        // float64 too.
        let xd = x.prefix(12).map { Double($0) }
        let yd = try H.run("Softmax", opset: 13, inputs: [H.doubles([3, 4], xd)])
        XCTAssertEqual(yd[0]!.dataType, .double)
        H.assertClose(yd[0]!.floats, referenceSoftmax(Array(x.prefix(12)), outer: 3, n: 4, inner: 1, variant: "Softmax"), tolerance: 1e-7)
    }

    func testLayerNormOver256ChannelsMatchesDoubleReference() throws {
        let rows = 50, c = 256
        let x = H.noise(rows * c, seed: 5).map { $0 * 3 + 1 }
        let scale = H.noise(c, seed: 6), bias = H.noise(c, seed: 7)
        let y = try H.run("LayerNormalization", opset: 20,
                          inputs: [Tensor(shape: [1, rows, c], floats: x), Tensor(shape: [c], floats: scale), Tensor(shape: [c], floats: bias)],
                          constant: [1, 2], attributes: [H.attr("axis", int: -1), H.attr("epsilon", float: 1e-5)], outputs: 3)
        var want = [Double](), wantMean = [Double](), wantInv = [Double]()
        for r in 0..<rows {
            let v = x[(r * c)..<((r + 1) * c)].map { Double($0) }
            let m = v.reduce(0, +) / Double(c)
            let variance = v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(c)
            let inv = 1 / (variance + Double(Float(1e-5))).squareRoot()
            wantMean.append(m); wantInv.append(inv)
            for i in 0..<c { want.append((v[i] - m) * inv * Double(scale[i]) + Double(bias[i])) }
        }
        XCTAssertEqual(y[0]!.shape, [1, rows, c])
        XCTAssertEqual(y[1]!.shape, [1, rows, 1])
        H.assertClose(y[0]!.floats, want, tolerance: 1e-6, "Y")
        H.assertClose(y[1]!.floats, wantMean, tolerance: 1e-7, "Mean")
        H.assertClose(y[2]!.floats, wantInv, tolerance: 1e-5, "InvStdDev")
        // Without bias and without the optional outputs.
        let y2 = try H.run("LayerNormalization", opset: 17,
                           inputs: [Tensor(shape: [rows, c], floats: x), Tensor(shape: [c], floats: scale)], outputs: 1)
        let want2 = (0..<(rows * c)).map { want[$0] - Double(bias[$0 % c]) }
        H.assertClose(y2[0]!.floats, want2, tolerance: 1e-6, "no bias")
    }

    func testLayerNormRejectsWhatItCannotDo() {
        let x = Tensor(shape: [2, 3, 4], floats: H.noise(24))
        H.expectError(.unsupported) {
            _ = try H.run("LayerNormalization", opset: 17, inputs: [x, Tensor(shape: [4], floats: H.noise(4))],
                          attributes: [H.attr("stash_type", int: 11)])
        }
        // Scale [3, 1] varies along a leading normalized dim only.
        H.expectError(.unsupported) {
            _ = try H.run("LayerNormalization", opset: 17, inputs: [x, Tensor(shape: [3, 1], floats: H.noise(3))],
                          attributes: [H.attr("axis", int: 1)])
        }
        H.expectError(.shape) {
            _ = try H.run("LayerNormalization", opset: 17, inputs: [x, Tensor(shape: [5], floats: H.noise(5))])
        }
        H.expectError(.shape) {
            _ = try H.run("LayerNormalization", opset: 17, inputs: [x, Tensor(shape: [4], floats: H.noise(4))],
                          attributes: [H.attr("axis", int: 3)])
        }
    }

    func testLayerNormParameterBroadcasts() throws {
        // Normalized shape [3, 4]: scale [4] (trailing dim), bias [1, 1] (single value), scale [1, 3, 4] (full).
        let x = H.noise(24, seed: 31)
        let s4 = H.noise(4, seed: 32), s12 = H.noise(12, seed: 33)
        let xt = Tensor(shape: [2, 3, 4], floats: x)
        let a = try H.run("LayerNormalization", opset: 17, inputs: [xt, Tensor(shape: [4], floats: s4), Tensor(shape: [1, 1], floats: [0.25])],
                          attributes: [H.attr("axis", int: 1)])
        let b = try H.run("LayerNormalization", opset: 17, inputs: [xt, Tensor(shape: [1, 3, 4], floats: s12)],
                          attributes: [H.attr("axis", int: -2)])
        var wantA: [Double] = [], wantB: [Double] = []
        for r in 0..<2 {
            let v = x[(r * 12)..<((r + 1) * 12)].map { Double($0) }
            let m = v.reduce(0, +) / 12
            let inv = 1 / (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 12 + Double(Float(1e-5))).squareRoot()
            for i in 0..<12 {
                wantA.append((v[i] - m) * inv * Double(s4[i % 4]) + 0.25)
                wantB.append((v[i] - m) * inv * Double(s12[i]))
            }
        }
        H.assertClose(a[0]!.floats, wantA, tolerance: 1e-6, "periodic scale, scalar bias")
        H.assertClose(b[0]!.floats, wantB, tolerance: 1e-6, "full scale with a leading 1")
    }

    func groupNormReference(_ x: [Float], n: Int, c: Int, s: Int, groups: Int, scale: (Int) -> Double, bias: (Int) -> Double, eps: Double) -> [Double] {
        var y = [Double](repeating: 0, count: x.count)
        let cg = c / groups
        for b in 0..<n {
            for g in 0..<groups {
                let start = (b * c + g * cg) * s
                let v = x[start..<(start + cg * s)].map { Double($0) }
                let m = v.reduce(0, +) / Double(v.count)
                let variance = v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)
                for k in 0..<(cg * s) {
                    let ch = g * cg + k / s
                    y[start + k] = (v[k] - m) / (variance + eps).squareRoot() * scale(ch) + bias(ch)
                }
            }
        }
        return y
    }

    func testGroupAndInstanceNormalizationOnAudioShapes() throws {
        let n = 2, c = 8, s = 30
        let x = H.noise(n * c * s, seed: 9).map { $0 * 2 + 0.5 }
        let perChannel = H.noise(c, seed: 10), perChannelB = H.noise(c, seed: 11)
        let perGroup = H.noise(4, seed: 12), perGroupB = H.noise(4, seed: 13)
        let xt = Tensor(shape: [n, c, s], floats: x)
        // Opset 21: scale and bias per channel.
        let y21 = try H.run("GroupNormalization", opset: 21,
                            inputs: [xt, Tensor(shape: [c], floats: perChannel), Tensor(shape: [c], floats: perChannelB)],
                            attributes: [H.attr("num_groups", int: 4)])
        H.assertClose(y21[0]!.floats, groupNormReference(x, n: n, c: c, s: s, groups: 4, scale: { Double(perChannel[$0]) },
                                                          bias: { Double(perChannelB[$0]) }, eps: Double(Float(1e-5))), tolerance: 2e-6)
        // Opset 18: per group; a per-channel scale is an error there.
        let y18 = try H.run("GroupNormalization", opset: 18,
                            inputs: [xt, Tensor(shape: [4], floats: perGroup), Tensor(shape: [4], floats: perGroupB)],
                            attributes: [H.attr("num_groups", int: 4), H.attr("epsilon", float: 1e-3)])
        H.assertClose(y18[0]!.floats, groupNormReference(x, n: n, c: c, s: s, groups: 4, scale: { Double(perGroup[$0 / 2]) },
                                                          bias: { Double(perGroupB[$0 / 2]) }, eps: Double(Float(1e-3))), tolerance: 2e-6)
        H.expectError(.shape) {
            _ = try H.run("GroupNormalization", opset: 18,
                          inputs: [xt, Tensor(shape: [c], floats: perChannel), Tensor(shape: [c], floats: perChannelB)],
                          attributes: [H.attr("num_groups", int: 4)])
        }
        H.expectError(.shape) {
            _ = try H.run("GroupNormalization", opset: 21,
                          inputs: [xt, Tensor(shape: [c], floats: perChannel), Tensor(shape: [c], floats: perChannelB)],
                          attributes: [H.attr("num_groups", int: 3)])
        }
        // InstanceNormalization = one group per channel.
        let yi = try H.run("InstanceNormalization", opset: 6,
                           inputs: [xt, Tensor(shape: [c], floats: perChannel), Tensor(shape: [c], floats: perChannelB)])
        H.assertClose(yi[0]!.floats, groupNormReference(x, n: n, c: c, s: s, groups: c, scale: { Double(perChannel[$0]) },
                                                         bias: { Double(perChannelB[$0]) }, eps: Double(Float(1e-5))), tolerance: 2e-6)
    }

    func testBatchNormalizationInference() throws {
        let c = 16, t = 40
        let x = H.noise(c * t, seed: 14)
        let scale = H.noise(c, seed: 15), bias = H.noise(c, seed: 16), mean = H.noise(c, seed: 17)
        let variance = H.noise(c, seed: 18).map { abs($0) + 0.1 }
        let params = [scale, bias, mean, variance].map { Tensor(shape: [c], floats: $0) }
        let y = try H.run("BatchNormalization", opset: 15, inputs: [Tensor(shape: [1, c, t], floats: x)] + params,
                          constant: [1, 2, 3, 4], attributes: [H.attr("epsilon", float: 1e-3)])
        let want = (0..<(c * t)).map { i -> Double in
            let ch = i / t
            return (Double(x[i]) - Double(mean[ch])) / (Double(variance[ch]) + Double(Float(1e-3))).squareRoot() * Double(scale[ch]) + Double(bias[ch])
        }
        H.assertClose(y[0]!.floats, want, tolerance: 2e-6)
        // Non-constant parameters work as well (recomputed each run).
        let y2 = try H.run("BatchNormalization", opset: 9, inputs: [Tensor(shape: [1, c, t], floats: x)] + params,
                           attributes: [H.attr("epsilon", float: 1e-3)])
        H.assertClose(y2[0]!.floats, want, tolerance: 2e-6)
        H.expectError(.unsupported) {
            _ = try H.run("BatchNormalization", opset: 15, inputs: [Tensor(shape: [1, c, t], floats: x)] + params,
                          attributes: [H.attr("training_mode", int: 1)], outputs: 3)
        }
        H.expectError(.unsupported) {
            _ = try H.run("BatchNormalization", opset: 7, inputs: [Tensor(shape: [1, c, t], floats: x)] + params,
                          attributes: [H.attr("spatial", int: 0)])
        }
        H.expectError(.unsupported) {
            _ = try H.run("BatchNormalization", opset: 9, inputs: [Tensor(shape: [1, c, t], floats: x)] + params, outputs: 3)
        }
    }

    func testLpAndMeanVarianceNormalization() throws {
        let y = try H.run("LpNormalization", opset: 13, inputs: [Tensor(shape: [2, 2], floats: [0, 0, 3, 4])],
                          attributes: [H.attr("axis", int: 1), H.attr("p", int: 2)])
        XCTAssertEqual(y[0]!.floats, [0, 0, 0.6, 0.8])
        H.expectError(.shape) {
            _ = try H.run("LpNormalization", opset: 13, inputs: [Tensor(shape: [2, 2], floats: [0, 0, 3, 4])], attributes: [H.attr("p", int: 3)])
        }
        // MVN over the time axis of [1, C, T].
        let c = 3, t = 50
        let x = H.noise(c * t, seed: 19).map { $0 * 2 + 1 }
        let m = try H.run("MeanVarianceNormalization", opset: 13, inputs: [Tensor(shape: [1, c, t], floats: x)], attributes: [H.attr("axes", ints: [2])])
        var want: [Double] = []
        for ch in 0..<c {
            let v = x[(ch * t)..<((ch + 1) * t)].map { Double($0) }
            let mean = v.reduce(0, +) / Double(t)
            let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(t)).squareRoot()
            want += v.map { ($0 - mean) / (std + 1e-9) }
        }
        H.assertClose(m[0]!.floats, want, tolerance: 1e-6)
    }

    /// Naive reduction over `axes` of a [3, 4, 5, 6] tensor (double precision).
    func referenceReduce(_ x: [Float], shape: [Int], axes: Set<Int>, keep: Bool, _ op: String) -> (shape: [Int], values: [Double]) {
        let rank = shape.count
        var strides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        let outDims = (0..<rank).filter { !axes.contains($0) }
        var groups: [[Double]] = []
        let outCount = outDims.map { shape[$0] }.reduce(1, *)
        groups = [[Double]](repeating: [], count: outCount)
        for i in 0..<x.count {
            var o = 0
            for d in outDims { o = o * shape[d] + (i / strides[d]) % shape[d] }
            groups[o].append(Double(x[i]))
        }
        let values = groups.map { g -> Double in
            switch op {
            case "ReduceSum": return g.reduce(0, +)
            case "ReduceMean": return g.reduce(0, +) / Double(g.count)
            case "ReduceProd": return g.reduce(1, *)
            case "ReduceMax": return g.max()!
            case "ReduceMin": return g.min()!
            case "ReduceL1": return g.map(abs).reduce(0, +)
            case "ReduceL2": return g.map { $0 * $0 }.reduce(0, +).squareRoot()
            case "ReduceLogSum": return Foundation.log(g.reduce(0, +))
            case "ReduceLogSumExp": return Foundation.log(g.map { Foundation.exp($0) }.reduce(0, +))
            default: return g.map { $0 * $0 }.reduce(0, +)
            }
        }
        let outShape = (0..<rank).compactMap { axes.contains($0) ? (keep ? 1 : nil) : shape[$0] }
        return (outShape, values)
    }

    func testReductionsOverNonContiguousAxes() throws {
        let shape = [3, 4, 5, 6]
        let raw = H.noise(360, seed: 21)
        let ops = ["ReduceSum", "ReduceMean", "ReduceProd", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2",
                   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]
        for op in ops {
            let x = op == "ReduceLogSum" ? raw.map { abs($0) + 0.5 } : (op == "ReduceProd" ? raw.map { $0 * 0.5 + 1 } : raw)
            for (axes, keep) in [([0, 2], true), ([1, 3], false), ([3], true), ([0], false), ([1, 2], true), ([-1, 0], false), ([0, 1, 2, 3], false)] {
                let set = Set(axes.map { $0 < 0 ? $0 + 4 : $0 })
                let want = referenceReduce(x, shape: shape, axes: set, keep: keep, op)
                let tol = op == "ReduceProd" ? 1e-4 : 1e-5
                // Opset 13 (attribute; ReduceSum takes the input from 13) and opset 18 (input).
                if op != "ReduceSum" {
                    let a = try H.run(op, opset: 13, inputs: [Tensor(shape: shape, floats: x)],
                                      attributes: [H.attr("axes", ints: axes), H.attr("keepdims", int: keep ? 1 : 0)])
                    XCTAssertEqual(a[0]!.shape, want.shape, "\(op) \(axes)")
                    H.assertClose(a[0]!.floats, want.values, tolerance: tol, "\(op) \(axes) attribute")
                }
                let b = try H.run(op, opset: 18, inputs: [Tensor(shape: shape, floats: x), Tensor(shape: [axes.count], int64s: axes.map { Int64($0) })],
                                  constant: [1], attributes: [H.attr("keepdims", int: keep ? 1 : 0)])
                XCTAssertEqual(b[0]!.shape, want.shape, "\(op) \(axes)")
                H.assertClose(b[0]!.floats, want.values, tolerance: tol, "\(op) \(axes) input")
            }
        }
    }

    func testReductionAxesRulesAndNoop() throws {
        let x = Tensor(shape: [2, 3], floats: [-1, 2, -3, 4, -5, 6])
        // Attribute at opset 18 and input before: errors. Non-constant axes: unsupported.
        H.expectError(.shape) { _ = try H.run("ReduceMean", opset: 18, inputs: [x], attributes: [H.attr("axes", ints: [1])]) }
        H.expectError(.shape) { _ = try H.run("ReduceMean", opset: 13, inputs: [x, Tensor(shape: [1], int64s: [1])], constant: [1]) }
        H.expectError(.unsupported) { _ = try H.run("ReduceSum", opset: 13, inputs: [x, Tensor(shape: [1], int64s: [1])]) }
        H.expectError(.shape) { _ = try H.run("ReduceSum", opset: 11, inputs: [x], attributes: [H.attr("axes", ints: [1, -1])]) }
        H.expectError(.shape) { _ = try H.run("ReduceSum", opset: 11, inputs: [x], attributes: [H.attr("axes", ints: [2])]) }
        // No axes: everything (keepdims default 1).
        let all = try H.run("ReduceSum", opset: 13, inputs: [x])
        XCTAssertEqual(all[0]!.shape, [1, 1]); XCTAssertEqual(all[0]!.floats, [3])
        // noop_with_empty_axes: no reduction, but the per-element map still applies.
        let noop = try H.run("ReduceL1", opset: 18, inputs: [x, Tensor(shape: [0], int64s: [])], constant: [1],
                             attributes: [H.attr("noop_with_empty_axes", int: 1)])
        XCTAssertEqual(noop[0]!.shape, [2, 3]); XCTAssertEqual(noop[0]!.floats, [1, 2, 3, 4, 5, 6])
        let noopSum = try H.run("ReduceSum", opset: 13, inputs: [x], attributes: [H.attr("noop_with_empty_axes", int: 1)])
        XCTAssertEqual(noopSum[0]!.floats, x.floats)
    }

    func testReductionsOfIntegersAndBooleans() throws {
        let v: [Int64] = [3, -2, 7, 0, 5, -9]
        let x = Tensor(shape: [2, 3], int64s: v)
        let expectations: [(String, [Int64])] = [("ReduceSum", [8, -4]), ("ReduceMean", [2, -1]), ("ReduceProd", [-42, 0]),
                                                 ("ReduceMax", [7, 5]), ("ReduceMin", [-2, -9]), ("ReduceL1", [12, 14]),
                                                 ("ReduceSumSquare", [62, 106])]
        for (op, want) in expectations {
            let y = try H.run(op, opset: 11, inputs: [x], attributes: [H.attr("axes", ints: [1]), H.attr("keepdims", int: 0)])
            XCTAssertEqual(y[0]!.int64s, want, op)
            let y32 = try H.run(op, opset: 11, inputs: [H.int32s([2, 3], v.map { Int32($0) })],
                                attributes: [H.attr("axes", ints: [1]), H.attr("keepdims", int: 0)])
            XCTAssertEqual(y32[0]!.dataType, .int32)
            XCTAssertEqual(y32[0]!.int64s, want, op)
        }
        H.expectError(.unsupported) { _ = try H.run("ReduceL2", opset: 13, inputs: [x]) }
        let b = H.bools([2, 3], [true, false, false, false, false, false])
        let bmax = try H.run("ReduceMax", opset: 20, inputs: [b, Tensor(shape: [1], int64s: [1])], constant: [1])
        XCTAssertEqual(bmax[0]!.bytes, [1, 0])
        let bmin = try H.run("ReduceMin", opset: 20, inputs: [b, Tensor(shape: [1], int64s: [0])], constant: [1],
                             attributes: [H.attr("keepdims", int: 0)])
        XCTAssertEqual(bmin[0]!.bytes, [0, 0, 0])
        H.expectError(.unsupported) { _ = try H.run("ReduceSum", opset: 20, inputs: [b]) }
    }

    func testReduceMeanOverLongTimeAxisIsAccurate() throws {
        // [1, C, T] mean over T (the speaker-encoder pooling shape), large offset.
        let c = 4, t = 3000
        let x = H.noise(c * t, seed: 23).map { $0 + 100 }
        let y = try H.run("ReduceMean", opset: 20, inputs: [Tensor(shape: [1, c, t], floats: x), Tensor(shape: [1], int64s: [2])],
                          constant: [1], attributes: [H.attr("keepdims", int: 0)])
        XCTAssertEqual(y[0]!.shape, [1, c])
        let want = (0..<c).map { ch in x[(ch * t)..<((ch + 1) * t)].map { Double($0) }.reduce(0, +) / Double(t) }
        H.assertClose(y[0]!.floats, want, tolerance: 1e-5)
    }

    func testArgMaxArgMinTiesAndTypes() throws {
        let x = Tensor(shape: [2, 4], floats: [1, 3, 3, 0, 2, 2, -1, -1])
        let first = try H.run("ArgMax", opset: 13, inputs: [x], attributes: [H.attr("axis", int: 1)])
        XCTAssertEqual(first[0]!.shape, [2, 1]); XCTAssertEqual(first[0]!.int64s, [1, 0])
        let last = try H.run("ArgMax", opset: 13, inputs: [x], attributes: [H.attr("axis", int: 1), H.attr("select_last_index", int: 1)])
        XCTAssertEqual(last[0]!.int64s, [2, 1])
        let minLast = try H.run("ArgMin", opset: 13, inputs: [x], attributes: [H.attr("axis", int: -1), H.attr("keepdims", int: 0),
                                                                                H.attr("select_last_index", int: 1)])
        XCTAssertEqual(minLast[0]!.shape, [2]); XCTAssertEqual(minLast[0]!.int64s, [3, 3])
        let ints = try H.run("ArgMin", opset: 13, inputs: [Tensor(shape: [2, 2], int64s: [5, 1, -3, 8])])
        XCTAssertEqual(ints[0]!.shape, [1, 2]); XCTAssertEqual(ints[0]!.int64s, [1, 0])
        H.expectError(.shape) { _ = try H.run("ArgMax", opset: 13, inputs: [x], attributes: [H.attr("axis", int: 2)]) }
    }
}
