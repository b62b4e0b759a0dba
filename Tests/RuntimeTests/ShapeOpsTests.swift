import XCTest
import ONNXFormat
@testable import TMRVCRuntime

/// Runs one operator through its factory the way the compiler does (storage for intermediates,
/// aliases pointing at their roots), then runs its kernel.
private struct ShapeOpHarness {
    struct Input {
        var tensor: Tensor
        var constant: Bool
    }
    struct Result {
        var outputs: [Tensor?]
        var hasKernel: Bool
        var roles: [TensorBuffer.Role?]
    }

    static func run(_ def: OperatorDefinition, opset: Int = 17, _ inputs: [Input?], attributes: [AttributeProto] = [],
                    outputs: Int = 1, omitOutputs: Set<Int> = [], runs: Int = 1) throws -> Result {
        let memory = OwnedMemory()
        var buffers: [TensorBuffer?] = []
        for (i, input) in inputs.enumerated() {
            guard let input else { buffers.append(nil); continue }
            let b = TensorBuffer(name: "in\(i)", dataType: input.tensor.dataType, shape: input.tensor.shape,
                                 role: input.constant ? .constant : .input)
            b.data = memory.allocate(bytes: b.byteCount)
            input.tensor.bytes.withUnsafeBytes { if let p = $0.baseAddress { b.data.copyMemory(from: p, byteCount: $0.count) } }
            buffers.append(b)
        }
        var attrs: [String: AttributeProto] = [:]
        for a in attributes { attrs[a.name] = a }
        let node = Graph.Node(name: "node", opType: def.opType, domain: "",
                              inputs: inputs.indices.map { inputs[$0] == nil ? -1 : $0 },
                              outputs: (0..<outputs).map { omitOutputs.contains($0) ? -1 : 100 + $0 }, attributes: attrs)
        var ctx = NodeContext(node: node, opset: opset, file: "test", inputs: buffers,
                              outputs: [TensorBuffer?](repeating: nil, count: outputs),
                              outputNames: (0..<outputs).map { omitOutputs.contains($0) ? "" : "out\($0)" }, memory: memory)
        let kernel = try def.factory(&ctx)
        for case let b? in ctx.outputs {
            switch b.role {
            case .intermediate: b.data = memory.allocate(bytes: b.byteCount)
            case .alias: b.data = b.aliasOf!.data
            default: break
            }
        }
        for _ in 0..<runs { kernel?.run() }
        return Result(outputs: ctx.outputs.map { $0?.snapshot() }, hasKernel: kernel != nil, roles: ctx.outputs.map { $0?.role })
    }
}

private func f(_ shape: [Int], _ values: [Float], constant: Bool = false) -> ShapeOpHarness.Input {
    .init(tensor: Tensor(shape: shape, floats: values), constant: constant)
}
private func i64(_ shape: [Int], _ values: [Int64], constant: Bool = true) -> ShapeOpHarness.Input {
    .init(tensor: Tensor(shape: shape, int64s: values), constant: constant)
}
private func i64(_ values: [Int]) -> ShapeOpHarness.Input { i64([values.count], values.map { Int64($0) }) }
private func typed<T>(_ type: DataType, _ shape: [Int], _ values: [T], constant: Bool = false) -> ShapeOpHarness.Input {
    .init(tensor: Tensor(dataType: type, shape: shape, bytes: values.withUnsafeBytes { Array($0) }), constant: constant)
}
private func ints(_ name: String, _ v: [Int]) -> AttributeProto {
    var a = AttributeProto(); a.name = name; a.type = .ints; a.ints = v.map { Int64($0) }; return a
}
private func int(_ name: String, _ v: Int) -> AttributeProto {
    var a = AttributeProto(); a.name = name; a.type = .int; a.i = Int64(v); return a
}
private func string(_ name: String, _ v: String) -> AttributeProto {
    var a = AttributeProto(); a.name = name; a.type = .string; a.s = Array(v.utf8); return a
}
private func floatAttr(_ name: String, _ v: Float) -> AttributeProto {
    var a = AttributeProto(); a.name = name; a.type = .float; a.f = v; return a
}
private func ramp(_ n: Int) -> [Float] { (0..<n).map { Float($0) } }

/// Reference transpose by index arithmetic.
private func naiveTranspose<T>(_ x: [T], _ shape: [Int], _ perm: [Int]) -> [T] {
    let outShape = perm.map { shape[$0] }
    let inStrides = ShapeSupport.strides(shape)
    var out: [T] = []
    var index = [Int](repeating: 0, count: shape.count)
    for _ in 0..<x.count {
        var o = 0
        for (k, p) in perm.enumerated() { o += index[k] * inStrides[p] }
        out.append(x[o])
        var d = shape.count - 1
        while d >= 0 { index[d] += 1; if index[d] < outShape[d] { break }; index[d] = 0; d -= 1 }
    }
    return out
}

final class ShapeOpsTests: XCTestCase {
    // MARK: Transpose

    func testTransposeChannelTimeSwapBothWays() throws {
        for (c, t) in [(80, 37), (192, 1), (5, 3), (256, 64)] {
            let x = ramp(c * t)
            let r = try ShapeOpHarness.run(Operators.transpose, [f([1, c, t], x)], attributes: [ints("perm", [0, 2, 1])])
            XCTAssertEqual(r.outputs[0]!.shape, [1, t, c])
            XCTAssertEqual(r.outputs[0]!.floats, naiveTranspose(x, [1, c, t], [0, 2, 1]))
            let back = try ShapeOpHarness.run(Operators.transpose, [f([1, t, c], r.outputs[0]!.floats)],
                                              attributes: [ints("perm", [0, 2, 1])])
            XCTAssertEqual(back.outputs[0]!.floats, x)
        }
        let plan = StridedCopyPlan(elementSize: 4, shape: [1, 37, 80], srcStrides: [80 * 37, 1, 37], dstStrides: [80 * 37, 80, 1])
        XCTAssertEqual(plan.inner, .transpose)
        XCTAssertEqual(plan.coalescedShape, [37, 80])
    }

    func testTransposeAllPermutationsAndTypes() throws {
        let shape = [2, 3, 4, 5]
        let x = ramp(120)
        func perms(_ a: [Int]) -> [[Int]] {
            if a.count <= 1 { return [a] }
            return a.indices.flatMap { i -> [[Int]] in
                var rest = a; let h = rest.remove(at: i); return perms(rest).map { [h] + $0 }
            }
        }
        for p in perms([0, 1, 2, 3]) {
            let r = try ShapeOpHarness.run(Operators.transpose, [f(shape, x)], attributes: [ints("perm", p)])
            XCTAssertEqual(r.outputs[0]!.floats, naiveTranspose(x, shape, p), "perm \(p)")
        }
        // Type-agnostic: 1, 2, 8 and 16-byte elements.
        let bytes = (0..<120).map { UInt8($0) }
        let r8 = try ShapeOpHarness.run(Operators.transpose, [typed(.int8, shape, bytes)], attributes: [ints("perm", [3, 1, 0, 2])])
        XCTAssertEqual(r8.outputs[0]!.bytes, naiveTranspose(bytes, shape, [3, 1, 0, 2]))
        let halves = (0..<120).map { UInt16($0 * 7) }
        let r16 = try ShapeOpHarness.run(Operators.transpose, [typed(.float16, shape, halves)], attributes: [ints("perm", [1, 3, 2, 0])])
        XCTAssertEqual(r16.outputs[0]!.bytes, naiveTranspose(halves, shape, [1, 3, 2, 0]).withUnsafeBytes { Array($0) })
        let longs = (0..<120).map { Int64($0) * 1_000_000_007 }
        let r64 = try ShapeOpHarness.run(Operators.transpose, [typed(.int64, shape, longs)], attributes: [ints("perm", [2, 0, 3, 1])])
        XCTAssertEqual(r64.outputs[0]!.int64s, naiveTranspose(longs, shape, [2, 0, 3, 1]))
        // Register-tile transposes with ragged edges for every unit size.
        for (rows, cols) in [(13, 9), (4, 4), (17, 33)] {
            let b = (0..<(rows * cols)).map { UInt8(truncatingIfNeeded: $0) }
            let tb = try ShapeOpHarness.run(Operators.transpose, [typed(.uint8, [1, rows, cols], b)], attributes: [ints("perm", [0, 2, 1])])
            XCTAssertEqual(tb.outputs[0]!.bytes, naiveTranspose(b, [1, rows, cols], [0, 2, 1]))
            let h = (0..<(rows * cols)).map { UInt16($0) }
            let th = try ShapeOpHarness.run(Operators.transpose, [typed(.uint16, [rows, cols], h)])
            XCTAssertEqual(th.outputs[0]!.bytes, naiveTranspose(h, [rows, cols], [1, 0]).withUnsafeBytes { Array($0) })
            let l = (0..<(rows * cols)).map { Int64($0) - 100 }
            let tl = try ShapeOpHarness.run(Operators.transpose, [typed(.int64, [rows, 1, cols], l)], attributes: [ints("perm", [2, 1, 0])])
            XCTAssertEqual(tl.outputs[0]!.int64s, naiveTranspose(l, [rows, 1, cols], [2, 1, 0]))
        }
        let pairs = (0..<40).map { UInt64($0) }   // 20 complex128 elements of 16 bytes
        let rc = try ShapeOpHarness.run(Operators.transpose, [typed(.complex128, [4, 5], pairs)])
        let elements = (0..<20).map { [pairs[2 * $0], pairs[2 * $0 + 1]] }
        XCTAssertEqual(rc.outputs[0]!.bytes, naiveTranspose(elements, [4, 5], [1, 0]).flatMap { $0 }.withUnsafeBytes { Array($0) })
    }

    func testTransposeOfUnitDimensionsIsAView() throws {
        let r = try ShapeOpHarness.run(Operators.transpose, [f([1, 4, 3], ramp(12))], attributes: [ints("perm", [1, 0, 2])])
        XCTAssertFalse(r.hasKernel)
        XCTAssertEqual(r.roles[0], .alias)
        XCTAssertEqual(r.outputs[0]!.shape, [4, 1, 3])
        XCTAssertEqual(r.outputs[0]!.floats, ramp(12))
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.transpose, [f([2, 3], ramp(6))], attributes: [ints("perm", [0, 0])]))
    }

    // MARK: Concat / Split

    func testConcatCausalConvState() throws {
        let c = 7
        let state = (0..<(c * 2)).map { Float(1000 + $0) }
        let x = (0..<(c * 5)).map { Float($0) }
        for axis in [2, -1] {
            let r = try ShapeOpHarness.run(Operators.concat, [f([1, c, 2], state), f([1, c, 5], x)], attributes: [int("axis", axis)])
            let out = r.outputs[0]!
            XCTAssertEqual(out.shape, [1, c, 7])
            var want: [Float] = []
            for ch in 0..<c {
                want.append(contentsOf: state[(ch * 2)..<(ch * 2 + 2)])
                want.append(contentsOf: x[(ch * 5)..<(ch * 5 + 5)])
            }
            XCTAssertEqual(out.floats, want)
        }
        // An empty state contributes nothing; the result is then a view of x.
        let empty = try ShapeOpHarness.run(Operators.concat, [f([1, c, 0], []), f([1, c, 5], x)], attributes: [int("axis", 2)])
        XCTAssertEqual(empty.outputs[0]!.floats, x)
        XCTAssertEqual(empty.roles[0], .alias)
        // Mixed constant / run-time inputs, axis 1, int64.
        let r = try ShapeOpHarness.run(Operators.concat, [i64([1, 1, 2], [1, 2]), i64([1, 2, 2], [3, 4, 5, 6], constant: false)],
                                       attributes: [int("axis", 1)])
        XCTAssertEqual(r.outputs[0]!.int64s, [1, 2, 3, 4, 5, 6])
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.concat, [f([1, 2], [0, 0]), f([2, 2], ramp(4))], attributes: [int("axis", 1)]))
    }

    func testSplitVariants() throws {
        // opset 18 num_outputs with an uneven last part, along the time axis of [1,2,5].
        let x = ramp(10)
        let r = try ShapeOpHarness.run(Operators.split, opset: 18, [f([1, 2, 5], x)],
                                       attributes: [int("axis", -1), int("num_outputs", 2)], outputs: 2)
        XCTAssertEqual(r.outputs[0]!.shape, [1, 2, 3])
        XCTAssertEqual(r.outputs[0]!.floats, [0, 1, 2, 5, 6, 7])
        XCTAssertEqual(r.outputs[1]!.floats, [3, 4, 8, 9])
        // opset 11 attribute, unused middle output.
        let a = try ShapeOpHarness.run(Operators.split, opset: 11, [f([6], ramp(6))], attributes: [ints("split", [1, 2, 3])],
                                       outputs: 3, omitOutputs: [1])
        XCTAssertEqual(a.outputs[0]!.floats, [0])
        XCTAssertNil(a.outputs[1])
        XCTAssertEqual(a.outputs[2]!.floats, [3, 4, 5])
        // opset 13 input; a size that does not add up is an error.
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.split, opset: 13, [f([6], ramp(6)), i64([2, 2])], outputs: 2))
        // Equal split not possible.
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.split, opset: 13, [f([5], ramp(5))], outputs: 2))
    }

    // MARK: Slice

    func testSliceClampingNegativeStepsAndAttributes() throws {
        let x = ramp(20)  // [4, 5]
        let r = try ShapeOpHarness.run(Operators.slice, opset: 13,
                                       [f([4, 5], x), i64([Int(Int64.max), -1]), i64([Int(Int64.min), Int(Int64.min)]),
                                        i64([0, 1]), i64([-2, -2])])
        // rows 3, 1; cols 4, 2, 0
        XCTAssertEqual(r.outputs[0]!.shape, [2, 3])
        XCTAssertEqual(r.outputs[0]!.floats, [19, 17, 15, 9, 7, 5])
        // Time-window slice of [1, C, T] along the last axis.
        let w = try ShapeOpHarness.run(Operators.slice, opset: 13, [f([1, 3, 6], ramp(18)), i64([-2]), i64([Int(Int64.max)]), i64([2])])
        XCTAssertEqual(w.outputs[0]!.floats, [4, 5, 10, 11, 16, 17])
        // Empty result.
        let e = try ShapeOpHarness.run(Operators.slice, opset: 13, [f([4, 5], x), i64([3]), i64([1]), i64([1])])
        XCTAssertEqual(e.outputs[0]!.shape, [4, 0])
        // Whole tensor: a view.
        let v = try ShapeOpHarness.run(Operators.slice, opset: 13, [f([4, 5], x), i64([0]), i64([100])])
        XCTAssertEqual(v.roles[0], .alias)
        // opset 9 attributes.
        let a = try ShapeOpHarness.run(Operators.slice, opset: 9, [f([4, 5], x)],
                                       attributes: [ints("starts", [1]), ints("ends", [3]), ints("axes", [1])])
        XCTAssertEqual(a.outputs[0]!.floats, [1, 2, 6, 7, 11, 12, 16, 17])
        // Run-time starts are refused (static shapes).
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.slice, opset: 13, [f([4, 5], x), i64([1], [0], constant: false), i64([2])])) {
            XCTAssertEqual(($0 as? RuntimeError)?.kind, .unsupported)
        }
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.slice, opset: 13, [f([4, 5], x), i64([0]), i64([2]), i64([0]), i64([0])]))
    }

    // MARK: Gather

    func testGatherRuntimeIndicesAreClamped() throws {
        let table = ramp(12)  // [4, 3]
        let r = try ShapeOpHarness.run(Operators.gather, [f([4, 3], table, constant: true), i64([4], [1, -1, 99, -99], constant: false)])
        XCTAssertEqual(r.outputs[0]!.shape, [4, 3])
        XCTAssertEqual(r.outputs[0]!.floats, [3, 4, 5, 9, 10, 11, 9, 10, 11, 0, 1, 2])
        // Constant out-of-range indices are a load error.
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.gather, [f([4, 3], table), i64([1], [4])]))
        // Scalar index removes the axis; int32 indices; axis 2 on [1, C, T].
        let idx = typed(.int32, [], [Int32(-1)])
        let s = try ShapeOpHarness.run(Operators.gather, [f([1, 2, 3], ramp(6)), idx], attributes: [int("axis", 2)])
        XCTAssertEqual(s.outputs[0]!.shape, [1, 2])
        XCTAssertEqual(s.outputs[0]!.floats, [2, 5])
        // Byte-sized elements and multi-element slices.
        let b = try ShapeOpHarness.run(Operators.gather, [typed(.uint8, [3, 2], [UInt8](0..<6)), i64([2, 1], [2, 0], constant: false)])
        XCTAssertEqual(b.outputs[0]!.shape, [2, 1, 2])
        XCTAssertEqual(b.outputs[0]!.bytes, [4, 5, 0, 1])
    }

    func testGatherElementsRuntimeIndices() throws {
        let data = ramp(9)  // [3, 3]
        let r = try ShapeOpHarness.run(Operators.gatherElements, [f([3, 3], data), i64([2, 3], [2, 0, -1, 7, 1, -9], constant: false)],
                                       attributes: [int("axis", 0)])
        // Column j of row i reads data[clamp(idx), j].
        XCTAssertEqual(r.outputs[0]!.floats, [6, 1, 8, 6, 4, 2])
        let a1 = try ShapeOpHarness.run(Operators.gatherElements, [f([2, 3], ramp(6)), i64([2, 2], [2, 0, 1, 1])],
                                        attributes: [int("axis", 1)])
        XCTAssertEqual(a1.outputs[0]!.floats, [2, 0, 4, 4])
    }

    // MARK: Pad

    func testPadModes() throws {
        let a = f([4], [1, 2, 3, 4])
        func pad(_ mode: String, _ pads: [Int]) throws -> [Float] {
            try ShapeOpHarness.run(Operators.pad, opset: 18, [a, i64(pads)], attributes: [string("mode", mode)]).outputs[0]!.floats
        }
        // Expected values from numpy.pad.
        XCTAssertEqual(try pad("reflect", [5, 6]), [2, 3, 4, 3, 2, 1, 2, 3, 4, 3, 2, 1, 2, 3, 4])
        XCTAssertEqual(try pad("wrap", [5, 6]), [4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2])
        XCTAssertEqual(try pad("edge", [2, 3]), [1, 1, 1, 2, 3, 4, 4, 4, 4])
        XCTAssertEqual(try pad("constant", [1, 2]), [0, 1, 2, 3, 4, 0, 0])
        // Negative pads crop.
        XCTAssertEqual(try pad("constant", [-1, 2]), [2, 3, 4, 0, 0])
        XCTAssertEqual(try pad("edge", [-2, -1]), [3])
        XCTAssertThrowsError(try pad("constant", [-3, -2]))
    }

    func testPadCausalTimeAxisWithRuntimeValueAndAxes() throws {
        // [1, C, T] left-padded on time by 2 with a run-time constant value.
        let x = ramp(6)
        let r = try ShapeOpHarness.run(Operators.pad, opset: 18,
                                       [f([1, 2, 3], x), i64([2, 0]), f([], [-7]), i64([-1])], runs: 2)
        XCTAssertEqual(r.outputs[0]!.shape, [1, 2, 5])
        XCTAssertEqual(r.outputs[0]!.floats, [-7, -7, 0, 1, 2, -7, -7, 3, 4, 5])
        // Outer-dimension padding, int32, reflect.
        let m = try ShapeOpHarness.run(Operators.pad, opset: 18, [typed(.int32, [2, 2], [Int32(1), 2, 3, 4]), i64([1, 0, 1, 1])],
                                       attributes: [string("mode", "reflect")])
        XCTAssertEqual(m.outputs[0]!.shape, [4, 3])
        XCTAssertEqual(m.outputs[0]!.bytes, [Int32(3), 4, 3, 1, 2, 1, 3, 4, 3, 1, 2, 1].withUnsafeBytes { Array($0) })
        // opset 2 attributes with a float value converted to the data type.
        let old = try ShapeOpHarness.run(Operators.pad, opset: 2, [typed(.int64, [2], [Int64(5), 6])],
                                         attributes: [ints("pads", [1, 1]), floatAttr("value", 9)])
        XCTAssertEqual(old.outputs[0]!.int64s, [9, 5, 6, 9])
        // Zero pads: a view.
        XCTAssertEqual(try ShapeOpHarness.run(Operators.pad, opset: 18, [f([2], [1, 2]), i64([0, 0])]).roles[0], .alias)
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.pad, opset: 18, [f([2], [1, 2]), i64([0, 0])], attributes: [string("mode", "mirror")]))
    }

    // MARK: Expand / Tile / views

    func testExpandTileAndViews() throws {
        let e = try ShapeOpHarness.run(Operators.expand, opset: 13, [f([3, 1], [1, 2, 3]), i64([2, 1, 2])])
        XCTAssertEqual(e.outputs[0]!.shape, [2, 3, 2])
        XCTAssertEqual(e.outputs[0]!.floats, [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.expand, opset: 13, [f([3], [1, 2, 3]), i64([2])]))
        let same = try ShapeOpHarness.run(Operators.expand, opset: 13, [f([1, 3], [1, 2, 3]), i64([1])])
        XCTAssertEqual(same.roles[0], .alias)

        let t = try ShapeOpHarness.run(Operators.tile, opset: 13, [typed(.int16, [2, 2], [Int16(1), 2, 3, 4]), i64([2, 3])])
        XCTAssertEqual(t.outputs[0]!.shape, [4, 6])
        XCTAssertEqual(t.outputs[0]!.bytes, [Int16(1), 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
                                             1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4].withUnsafeBytes { Array($0) })

        let u = try ShapeOpHarness.run(Operators.unsqueeze, opset: 11, [f([3], [1, 2, 3])], attributes: [ints("axes", [0, -1])])
        XCTAssertEqual(u.outputs[0]!.shape, [1, 3, 1])
        let u13 = try ShapeOpHarness.run(Operators.unsqueeze, opset: 13, [f([2, 3], ramp(6)), i64([3, 1])])
        XCTAssertEqual(u13.outputs[0]!.shape, [2, 1, 3, 1])
        let s = try ShapeOpHarness.run(Operators.squeeze, opset: 11, [f([1, 3, 1], [1, 2, 3])], attributes: [ints("axes", [2])])
        XCTAssertEqual(s.outputs[0]!.shape, [1, 3])
        let all = try ShapeOpHarness.run(Operators.squeeze, opset: 13, [f([1, 3, 1], [1, 2, 3])])
        XCTAssertEqual(all.outputs[0]!.shape, [3])
        XCTAssertFalse(all.hasKernel)
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.squeeze, opset: 13, [f([1, 3, 1], [1, 2, 3]), i64([1])]))
        let fl = try ShapeOpHarness.run(Operators.flatten, [f([2, 3, 4], ramp(24))], attributes: [int("axis", 0)])
        XCTAssertEqual(fl.outputs[0]!.shape, [1, 24])
        let fl2 = try ShapeOpHarness.run(Operators.flatten, [f([2, 3, 4], ramp(24))], attributes: [int("axis", -1)])
        XCTAssertEqual(fl2.outputs[0]!.shape, [6, 4])
    }

    // MARK: Constants

    func testRangeWithConstantInputs() throws {
        let r = try ShapeOpHarness.run(Operators.range, [f([], [1], constant: true), f([], [5], constant: true), f([], [2], constant: true)])
        XCTAssertEqual(r.outputs[0]!.floats, [1, 3])
        XCTAssertEqual(r.roles[0], .constant)
        let h = Float16(1).bitPattern, l = Float16(5).bitPattern, d = Float16(2).bitPattern
        let r16 = try ShapeOpHarness.run(Operators.range, [typed(.float16, [], [h], constant: true), typed(.float16, [], [l], constant: true),
                                                           typed(.float16, [], [d], constant: true)])
        XCTAssertEqual(r16.outputs[0]!.floats, [1, 3])
        // bfloat16 1, 5, 2 are 0x3F80, 0x40A0, 0x4000.
        let rb = try ShapeOpHarness.run(Operators.range, [typed(.bfloat16, [], [UInt16(0x3F80)], constant: true),
                                                          typed(.bfloat16, [], [UInt16(0x40A0)], constant: true),
                                                          typed(.bfloat16, [], [UInt16(0x4000)], constant: true)])
        XCTAssertEqual(rb.outputs[0]!.bytes, [UInt16(0x3F80), 0x4040].withUnsafeBytes { Array($0) })
        let ri = try ShapeOpHarness.run(Operators.range, [i64([], [10]), i64([], [6]), i64([], [-3])])
        XCTAssertEqual(ri.outputs[0]!.int64s, [10, 7])
        let rf = try ShapeOpHarness.run(Operators.range, [f([], [0], constant: true), f([], [1], constant: true), f([], [0.3], constant: true)])
        XCTAssertEqual(rf.outputs[0]!.shape, [4])
        XCTAssertThrowsError(try ShapeOpHarness.run(Operators.range, [f([], [1]), f([], [5], constant: true), f([], [2], constant: true)]))
    }

    func testConstantOfShapeEyeLikeSize() throws {
        var value = TensorProto(); value.dataType = .int64; value.dims = [1]; value.storage = .owned(Array(withUnsafeBytes(of: Int64(7)) { Array($0) }))
        var attr = AttributeProto(); attr.name = "value"; attr.type = .tensor; attr.t = value
        let c = try ShapeOpHarness.run(Operators.constantOfShape, [i64([2, 2])], attributes: [attr])
        XCTAssertEqual(c.outputs[0]!.int64s, [7, 7, 7, 7])
        let z = try ShapeOpHarness.run(Operators.constantOfShape, [i64([])])
        XCTAssertEqual(z.outputs[0]!.shape, [])
        XCTAssertEqual(z.outputs[0]!.floats, [0])
        let e = try ShapeOpHarness.run(Operators.eyeLike, [f([2, 3], ramp(6))], attributes: [int("k", -1), int("dtype", 7)])
        XCTAssertEqual(e.outputs[0]!.int64s, [0, 0, 0, 1, 0, 0])
        let s = try ShapeOpHarness.run(Operators.size, [f([2, 3], ramp(6))])
        XCTAssertEqual(s.outputs[0]!.int64s, [6])
        XCTAssertEqual(s.outputs[0]!.shape, [])
    }

    // MARK: Trilu, DepthToSpace

    func testTriluBatchedInt64() throws {
        let x = (1...12).map { Int64($0) }  // [2, 2, 3]
        let up = try ShapeOpHarness.run(Operators.trilu, opset: 14, [i64([2, 2, 3], x, constant: false), i64([], [1])])
        XCTAssertEqual(up.outputs[0]!.int64s, [0, 2, 3, 0, 0, 6, 0, 8, 9, 0, 0, 12])
        let low = try ShapeOpHarness.run(Operators.trilu, opset: 14, [i64([2, 2, 3], x, constant: false)], attributes: [int("upper", 0)])
        XCTAssertEqual(low.outputs[0]!.int64s, [1, 0, 0, 4, 5, 0, 7, 0, 0, 10, 11, 0])
        // Run-time k, including extreme values.
        let rk = try ShapeOpHarness.run(Operators.trilu, opset: 14, [i64([2, 2, 3], x, constant: false), i64([], [-1], constant: false)],
                                        attributes: [int("upper", 0)])
        XCTAssertEqual(rk.outputs[0]!.int64s, [0, 0, 0, 4, 0, 0, 0, 0, 0, 10, 0, 0])
        let big = try ShapeOpHarness.run(Operators.trilu, opset: 14, [i64([2, 2, 3], x, constant: false), i64([], [Int64.min], constant: false)])
        XCTAssertEqual(big.outputs[0]!.int64s, x)
    }

    func testDepthToSpaceInvertsSpaceToDepth() throws {
        let x = ramp(2 * 3 * 4 * 6)
        for mode in ["DCR", "CRD"] {
            let s = try ShapeOpHarness.run(Operators.spaceToDepth, [f([2, 3, 4, 6], x)], attributes: [int("blocksize", 2), string("mode", mode)])
            XCTAssertEqual(s.outputs[0]!.shape, [2, 12, 2, 3])
            let d = try ShapeOpHarness.run(Operators.depthToSpace, [f([2, 12, 2, 3], s.outputs[0]!.floats)],
                                           attributes: [int("blocksize", 2), string("mode", mode)])
            XCTAssertEqual(d.outputs[0]!.floats, x, mode)
        }
    }

    // MARK: Planner

    func testStridedCopyCoalescing() {
        // Concat slot of [1, C, 2] into [1, C, 7]: C rows of 2 contiguous elements.
        let p = StridedCopyPlan(elementSize: 4, shape: [1, 8, 2], srcStrides: [16, 2, 1], dstStrides: [56, 7, 1], dstOffset: 0)
        XCTAssertEqual(p.coalescedShape, [8, 2])
        XCTAssertEqual(p.inner, .contiguous)
        // Fully contiguous copy collapses to one run.
        let q = StridedCopyPlan(elementSize: 2, shape: [3, 4, 5], srcStrides: [20, 5, 1], dstStrides: [20, 5, 1])
        XCTAssertEqual(q.coalescedShape, [60])
        // Broadcast along the inner dimension.
        let b = StridedCopyPlan(elementSize: 4, shape: [3, 6], srcStrides: [1, 0], dstStrides: [6, 1])
        XCTAssertEqual(b.inner, .fill)
    }
}
