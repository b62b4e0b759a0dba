import XCTest
import ONNXFormat
import TestSupport
@testable import TMRVCRuntime

final class SessionTests: XCTestCase {
    func session(_ bytes: [UInt8], _ options: SessionOptions = SessionOptions()) throws -> InferenceSession {
        let file = bytes.withUnsafeBytes { MappedFile(copying: $0, name: "mem.onnx") }
        return try InferenceSession(model: try ONNXModel.decode(file: file), options: options)
    }

    func testBroadcastPlans() throws {
        let b = BroadcastPlan([[2, 3], [3]])!
        XCTAssertEqual(b.outputShape, [2, 3])
        XCTAssertEqual(b.rowStrides, [1, 1])
        let c = BroadcastPlan([[2, 1], [1, 3]])!
        XCTAssertEqual(c.outputShape, [2, 3])
        XCTAssertEqual(c.rowLength, 3)
        XCTAssertEqual(c.rowStrides, [0, 1])
        XCTAssertEqual(c.rowOffsets[0], [0, 1])
        XCTAssertNil(BroadcastPlan([[2], [3]]))
    }

    func testAddBroadcastAndArenaReuse() throws {
        // y = ((x + w) * w) + w: three intermediates, two of which can share storage.
        let s = try session(makeModel(nodes: [("Add", ["x", "w"], ["a"]), ("Mul", ["a", "w"], ["b"]), ("Add", ["b", "w"], ["c"]),
                                              ("Mul", ["c", "w"], ["y"])],
                                      initializer: ("w", [3], [1, 2, 3]), input: ("x", [2, 3]), output: ("y", [2, 3])))
        let out = try s.run(["x": Tensor(shape: [2, 3], floats: [0, 1, 2, 3, 4, 5])])["y"]!
        let x: [Float] = [0, 1, 2, 3, 4, 5], w: [Float] = [1, 2, 3]
        XCTAssertEqual(out.floats, (0..<6).map { i in (((x[i] + w[i % 3]) * w[i % 3]) + w[i % 3]) * w[i % 3] })
        XCTAssertEqual(s.statistics.kernelCount, 4)
        XCTAssertLessThan(s.statistics.arenaBytes, s.statistics.unplannedBytes, "liveness must let intermediates share memory")
    }

    func testSlowInputsAreHoisted() throws {
        // y = x + spk * w: spk * w depends only on the slow input.
        let bytes = makeModel(nodes: [("Mul", ["spk", "w"], ["sw"]), ("Add", ["x", "sw"], ["y"])],
                              initializers: [("w", [2], [10, 20])], inputs: [("x", [2]), ("spk", [2])], outputs: [("y", [2])])
        let s = try session(bytes, SessionOptions(slowInputs: ["spk"]))
        XCTAssertEqual(s.statistics.hoistedNodeCount, 1)
        XCTAssertEqual(s.statistics.kernelCount, 1)
        let xi = s.inputIndex("x")!, si = s.inputIndex("spk")!
        try s.write(Tensor(shape: [2], floats: [1, 1]), toInput: xi)
        try s.write(Tensor(shape: [2], floats: [1, 2]), toInput: si)
        s.run()
        XCTAssertEqual(s.outputs[0].snapshot().floats, [11, 41])
        try s.write(Tensor(shape: [2], floats: [0, 0]), toInput: si)
        s.run()
        XCTAssertEqual(s.outputs[0].snapshot().floats, [11, 41], "without invalidation the hoisted value is reused")
        s.invalidateSlowInputs()
        s.run()
        XCTAssertEqual(s.outputs[0].snapshot().floats, [1, 1])
    }

    func testInvalidatingOneSlowInputReRunsOnlyItsHoistedNodes() throws {
        // y = x + a * w + b * v: the two products are hoisted, each depends on one slow input.
        let bytes = makeModel(nodes: [("Mul", ["a", "w"], ["aw"]), ("Mul", ["b", "v"], ["bv"]),
                                      ("Add", ["aw", "bv"], ["c"]), ("Add", ["x", "c"], ["y"])],
                              initializers: [("w", [2], [10, 20]), ("v", [2], [100, 200])],
                              inputs: [("x", [2]), ("a", [2]), ("b", [2])], outputs: [("y", [2])])
        let s = try session(bytes, SessionOptions(slowInputs: ["a", "b"]))
        XCTAssertEqual(s.statistics.hoistedNodeCount, 3)
        let xi = s.inputIndex("x")!, ai = s.inputIndex("a")!, bi = s.inputIndex("b")!
        try s.write(Tensor(shape: [2], floats: [1, 1]), toInput: xi)
        try s.write(Tensor(shape: [2], floats: [1, 1]), toInput: ai)
        try s.write(Tensor(shape: [2], floats: [1, 1]), toInput: bi)
        s.run()
        XCTAssertEqual(s.outputs[0].snapshot().floats, [111, 221])
        // change both, invalidate only `a`: a's product and the sum are recomputed, b's is not
        try s.write(Tensor(shape: [2], floats: [2, 2]), toInput: ai)
        try s.write(Tensor(shape: [2], floats: [0, 0]), toInput: bi)
        s.invalidateSlowInput(ai)
        s.run()
        XCTAssertEqual(s.outputs[0].snapshot().floats, [121, 241])
        s.invalidateSlowInput(xi)   // not a slow input: no effect
        s.run()
        XCTAssertEqual(s.outputs[0].snapshot().floats, [121, 241])
        s.invalidateSlowInput(bi)
        s.run()
        XCTAssertEqual(s.outputs[0].snapshot().floats, [21, 41])
    }

    /// y = x + h1 + h2 + h3 with h1 = a * w, h2 = h1 + v, h3 = h2 * w all hoisted (h2 and h3
    /// read the new h1 / h2 while the per-run adds must keep seeing the old ones).
    private func stagedModel() throws -> InferenceSession {
        let bytes = makeModel(nodes: [("Mul", ["a", "w"], ["h1"]), ("Add", ["h1", "v"], ["h2"]), ("Mul", ["h2", "w"], ["h3"]),
                                      ("Add", ["x", "h1"], ["t1"]), ("Add", ["t1", "h2"], ["t2"]), ("Add", ["t2", "h3"], ["y"])],
                              initializers: [("w", [2], [10, 20]), ("v", [2], [100, 200])],
                              inputs: [("x", [2]), ("a", [2])], outputs: [("y", [2])])
        let s = try session(bytes, SessionOptions(slowInputs: ["a"]))
        XCTAssertEqual(s.statistics.hoistedNodeCount, 3)
        return s
    }

    private func expectedStaged(a: Float, x: Float) -> [Float] {
        [(10, 100), (20, 200)].map { (w: Float, v: Float) -> Float in
            let h1 = a * w, h2 = h1 + v
            return x + h1 + h2 + h2 * w
        }
    }

    func testStagedSlowInputUpdateKeepsOldValuesUntilItsLastRun() throws {
        let s = try stagedModel()
        let xi = s.inputIndex("x")!, ai = s.inputIndex("a")!
        func step(x: Float) throws -> [Float] {
            try s.write(Tensor(shape: [2], floats: [x, x]), toInput: xi)
            s.run()
            return s.outputs[0].snapshot().floats
        }
        func change(a: Float, spreadOver parts: Int) throws {
            try s.write(Tensor(shape: [2], floats: [a, a]), toInput: ai)
            s.invalidateSlowInput(ai, spreadOver: parts)
        }
        try s.write(Tensor(shape: [2], floats: [1, 1]), toInput: ai)
        XCTAssertEqual(try step(x: 0), expectedStaged(a: 1, x: 0))
        try change(a: 2, spreadOver: 3)
        // one hoisted node per run; the per-run nodes see a = 1 until the third run
        XCTAssertEqual(try step(x: 5), expectedStaged(a: 1, x: 5))
        XCTAssertEqual(try step(x: 6), expectedStaged(a: 1, x: 6))
        XCTAssertEqual(try step(x: 7), expectedStaged(a: 2, x: 7))
        XCTAssertEqual(try step(x: 8), expectedStaged(a: 2, x: 8))

        // a plain invalidation during a staged update: the next run has everything new
        try change(a: 3, spreadOver: 3)
        XCTAssertEqual(try step(x: 1), expectedStaged(a: 2, x: 1))
        s.invalidateSlowInput(ai)
        XCTAssertEqual(try step(x: 2), expectedStaged(a: 3, x: 2))
        XCTAssertEqual(try step(x: 3), expectedStaged(a: 3, x: 3))

        // a second staged change during the first restarts it with the newest value
        try change(a: 4, spreadOver: 3)
        XCTAssertEqual(try step(x: 1), expectedStaged(a: 3, x: 1))
        try change(a: 5, spreadOver: 2)
        XCTAssertEqual(try step(x: 2), expectedStaged(a: 3, x: 2))
        XCTAssertEqual(try step(x: 3), expectedStaged(a: 5, x: 3))

        // spreading over 1 run is a plain invalidation; more parts than hoisted nodes still end on time
        try change(a: 6, spreadOver: 1)
        XCTAssertEqual(try step(x: 0), expectedStaged(a: 6, x: 0))
        try change(a: 7, spreadOver: 5)
        for k in 0..<4 { XCTAssertEqual(try step(x: Float(k)), expectedStaged(a: 6, x: Float(k)), "run \(k)") }
        XCTAssertEqual(try step(x: 9), expectedStaged(a: 7, x: 9))
        s.invalidateSlowInput(xi, spreadOver: 3)   // not a slow input: no effect
        XCTAssertEqual(try step(x: 1), expectedStaged(a: 7, x: 1))
    }

    func testStatePingPongSwapsWithoutCopy() throws {
        // state_out = state_in + x
        let bytes = makeModel(nodes: [("Add", ["state_in", "x"], ["state_out"])], initializers: [],
                              inputs: [("x", [2]), ("state_in", [2])], outputs: [("state_out", [2])])
        let s = try session(bytes)
        try s.write(Tensor(shape: [2], floats: [1, 2]), toInput: 0)
        for _ in 0..<3 {
            s.run()
            s.swapState(input: 1, output: 0)
        }
        XCTAssertEqual(s.inputs[1].snapshot().floats, [3, 6])
    }

    func testSymbolicInputNeedsShape() throws {
        var m = ProtoWriter()
        m.message(8) { o in o.int(2, 17) }
        m.message(7) { g in
            g.message(1) { n in n.string(1, "x"); n.string(1, "x"); n.string(2, "y"); n.string(4, "Add") }
            g.message(11) { v in v.string(1, "x"); v.message(2) { t in t.message(1) { tt in tt.int(1, 1); tt.message(2) { s in s.message(1) { d in d.string(2, "T") } } } } }
            g.message(12) { v in valueInfo(&v, name: "y", dims: [1]) }
        }
        XCTAssertThrowsError(try session(m.bytes)) { XCTAssertTrue("\($0)".contains("symbolic"), "\($0)") }
        let s = try session(m.bytes, SessionOptions(inputShapes: ["x": [4]]))
        XCTAssertEqual(try s.run(["x": Tensor(shape: [4], floats: [1, 2, 3, 4])])["y"]!.floats, [2, 4, 6, 8])
    }
}

final class FloatingPointModeTests: XCTestCase {
    func testDenormalsFlushedDuringRunAndModeRestored() throws {
        // y = x * w with a subnormal product: flushed to zero inside run().
        let bytes = makeModel(nodes: [("Mul", ["x", "w"], ["y"])], initializer: ("w", [1], [1e-20]),
                              input: ("x", [1]), output: ("y", [1]))
        let file = bytes.withUnsafeBytes { MappedFile(copying: $0, name: "mem.onnx") }
        let s = try InferenceSession(model: try ONNXModel.decode(file: file))
        let out = try s.run(["x": Tensor(shape: [1], floats: [1e-20])])["y"]!.floats[0]
        XCTAssertEqual(out, 0, "subnormal result must be flushed to zero inside run()")
        var a: Float = 1e-20
        var b: Float = 1e-20
        withUnsafeMutablePointer(to: &a) { _ in }
        withUnsafeMutablePointer(to: &b) { _ in }
        XCTAssertGreaterThan(a * b, 0, "the caller's mode (no FTZ) must be restored after run()")
    }
}

/// `runPart(_:of:)` spreads one run over several calls and computes what `run()` computes.
final class IncrementalRunTests: XCTestCase {
    static let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("weights").path

    /// Fills every input with the same deterministic values, runs once with `run()` and once per
    /// part count with `runPart`, and returns the largest absolute output difference and the
    /// peak of the one-run outputs.
    func worstPartDifference(_ s: InferenceSession, parts: ClosedRange<Int>) -> (error: Float, peak: Float) {
        func fill() {
            for b in s.inputs { for i in 0..<b.count { b.floats[i] = Float((i * 7919) % 23) * 0.2 - 5 } }
            s.invalidateSlowInputs()
        }
        fill()
        s.run()
        let reference = s.outputs.map { $0.snapshot().floats }
        let peak = reference.flatMap { $0 }.map(abs).max() ?? 0
        var worst: Float = 0
        for n in parts {
            for b in s.outputs { b.floats.update(repeating: .nan, count: b.count) }
            fill()
            for p in 0..<n { s.runPart(p, of: n) }
            for (o, ref) in zip(s.outputs, reference) {
                let got = o.snapshot().floats
                for i in got.indices { worst = max(worst, abs(got[i] - ref[i])) }   // NaN (unwritten) fails below
                XCTAssertFalse(got.contains { $0.isNaN }, "\(n) parts left output '\(o.name)' unwritten")
            }
        }
        return (worst, peak)
    }

    func testIREstimatorInPartsMatchesOneRun() throws {
        for storage in [WeightStorage.float32, .float16] {
            let s = try InferenceSession(path: Self.weights + "/ir_estimator.onnx", options: SessionOptions(weightStorage: storage))
            let (error, peak) = worstPartDifference(s, parts: 1...16)
            print("ir_estimator \(storage) in 1...16 parts: max abs difference \(error) (output peak \(peak))")
            XCTAssertGreaterThan(peak, 0)
            XCTAssertLessThanOrEqual(error, 1e-5 * max(1, peak), "\(storage)")
        }
    }

    func testStreamingModelInPartsMatchesOneRun() throws {
        let s = try InferenceSession(path: Self.weights + "/content_encoder.onnx",
                                     options: SessionOptions(inputShapes: ["mel": [1, 80, 1]] ))
        let (error, peak) = worstPartDifference(s, parts: 1...8)
        XCTAssertGreaterThan(peak, 0)
        XCTAssertLessThanOrEqual(error, 1e-5 * max(1, peak))
    }

    func testPartsShareTheWorkOfLargeConvolutions() throws {
        // The im2col convolutions split into pieces of four output positions: with five parts
        // every part of the IR estimator runs some multiply-adds (no part is empty and none
        // holds a whole 50-position convolution and more).
        let s = try InferenceSession(path: Self.weights + "/ir_estimator.onnx")
        XCTAssertEqual(s.plannedPieceCounts.filter { $0 > 1 }.count, 3, "the three convolutions split")
        let shares = s.estimatedPartShares(parts: 5)
        print("ir_estimator: estimated work per part of 5: \(shares)")
        XCTAssertEqual(shares.count, 5)
        for share in shares { XCTAssertGreaterThan(share, 0.1); XCTAssertLessThan(share, 0.3) }
    }
}
