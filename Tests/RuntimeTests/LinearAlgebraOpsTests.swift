import XCTest
import Foundation
import ONNXFormat
@testable import TMRVCRuntime

/// Linear-algebra ops (MatMul, Gemm, Conv, ConvTranspose) against naive reference loops, with
/// the shapes our streaming models use: 1-D causal convs on [1, C, T], T = 1 real-time and T up
/// to a few hundred offline, kernels 1...7, depthwise, pointwise, grouped and dilated.
final class LinearAlgebraOpsTests: XCTestCase {

    // MARK: harness

    /// Deterministic pseudo-random floats in [-1, 1).
    struct Noise {
        var state: UInt64
        init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
    }

    static func attr(_ name: String, _ v: Int) -> AttributeProto {
        var a = AttributeProto(); a.name = name; a.type = .int; a.i = Int64(v); return a
    }
    static func attr(_ name: String, _ v: [Int]) -> AttributeProto {
        var a = AttributeProto(); a.name = name; a.type = .ints; a.ints = v.map { Int64($0) }; return a
    }
    static func attr(_ name: String, _ v: Float) -> AttributeProto {
        var a = AttributeProto(); a.name = name; a.type = .float; a.f = v; return a
    }
    static func attr(_ name: String, _ v: String) -> AttributeProto {
        var a = AttributeProto(); a.name = name; a.type = .string; a.s = Array(v.utf8); return a
    }

    struct Operand {
        var tensor: Tensor
        var constant: Bool
    }

    /// Compiles one node directly through its factory (weights optionally as load-time
    /// constants), runs it `runs` times on outputs pre-filled with NaN, and returns output 0.
    func runOp(_ op: String, _ inputs: [Operand?], _ attributes: [AttributeProto] = [], runs: Int = 2,
               file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
        try runOpKernel(op, inputs, attributes, runs: runs, file: file, line: line).output
    }

    func runOpKernel(_ op: String, _ inputs: [Operand?], _ attributes: [AttributeProto] = [], runs: Int = 2,
                     file: StaticString = #filePath, line: UInt = #line) throws -> (output: Tensor, kernel: Kernel, memory: OwnedMemory) {
        try Self.buildAndRun(op, inputs, attributes, runs: runs, file: file, line: line)
    }

    static func buildAndRun(_ op: String, _ inputs: [Operand?], _ attributes: [AttributeProto] = [], runs: Int = 2,
                            file: StaticString = #filePath, line: UInt = #line) throws -> (output: Tensor, kernel: Kernel, memory: OwnedMemory) {
        let def = try XCTUnwrap(OperatorRegistry.definitions[op], file: file, line: line)
        let memory = OwnedMemory()
        var buffers: [TensorBuffer?] = []
        for (i, operand) in inputs.enumerated() {
            guard let operand else { buffers.append(nil); continue }
            let t = operand.tensor
            let b = TensorBuffer(name: "in\(i)", dataType: t.dataType, shape: t.shape,
                                 role: operand.constant ? .constant : .input)
            b.data = memory.allocate(bytes: b.byteCount)
            t.bytes.withUnsafeBytes { if let p = $0.baseAddress { b.data.copyMemory(from: p, byteCount: $0.count) } }
            buffers.append(b)
        }
        var attrs: [String: AttributeProto] = [:]
        for a in attributes { attrs[a.name] = a }
        let node = Graph.Node(name: "n", opType: op, domain: "", inputs: [], outputs: [], attributes: attrs)
        var ctx = NodeContext(node: node, opset: 22, file: "test", inputs: buffers, outputs: [nil],
                              outputNames: ["y"], memory: memory)
        let built = try def.factory(&ctx)
        let kernel = try XCTUnwrap(built, file: file, line: line)
        let y = try XCTUnwrap(ctx.outputs[0], file: file, line: line)
        y.data = memory.allocate(bytes: y.byteCount)
        if y.dataType == .float { for i in 0..<y.count { y.floats[i] = .nan } }
        for _ in 0..<runs { kernel.run() }
        return (y.snapshot(), kernel, memory)
    }

    func assertClose(_ got: [Float], _ want: [Float], tolerance: Float = 1e-4, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        var worst: Float = 0, at = -1
        for i in 0..<min(got.count, want.count) {
            let d = abs(got[i] - want[i])
            if !(d <= tolerance * max(1, abs(want[i]))) && (d > worst || at < 0 || d.isNaN) { worst = d; at = i }
        }
        if at >= 0 { XCTFail("\(what): element \(at) = \(got[at]), expected \(want[at])", file: file, line: line) }
    }

    static func indices(_ shape: [Int]) -> [[Int]] {
        var result: [[Int]] = [[]]
        for d in shape { result = result.flatMap { prefix in (0..<d).map { prefix + [$0] } } }
        return result
    }

    static func flat(_ index: [Int], _ shape: [Int]) -> Int {
        var o = 0
        for (i, d) in zip(index, shape) { o = o * d + i }
        return o
    }

    // MARK: references

    struct ConvSpec {
        var x: [Int]            // [N, C, spatial...]
        var m: Int              // output channels
        var kernel: [Int]
        var group = 1
        var strides: [Int]? = nil
        var dilations: [Int]? = nil
        var padBegin: [Int]? = nil
        var padEnd: [Int]? = nil
        var bias = true

        var r: Int { x.count - 2 }
        var s: [Int] { strides ?? [Int](repeating: 1, count: r) }
        var d: [Int] { dilations ?? [Int](repeating: 1, count: r) }
        var pb: [Int] { padBegin ?? [Int](repeating: 0, count: r) }
        var pe: [Int] { padEnd ?? [Int](repeating: 0, count: r) }
        var wShape: [Int] { [m, x[1] / group] + kernel }
        var outSpatial: [Int] {
            (0..<r).map { i in (x[i + 2] + pb[i] + pe[i] - ((kernel[i] - 1) * d[i] + 1)) / s[i] + 1 }
        }
        var attributes: [AttributeProto] {
            var a = [attr("group", group)]
            if let strides { a.append(attr("strides", strides)) }
            if let dilations { a.append(attr("dilations", dilations)) }
            if padBegin != nil || padEnd != nil { a.append(attr("pads", pb + pe)) }
            return a
        }
    }

    static func referenceConv(_ spec: ConvSpec, x: [Float], w: [Float], b: [Float]?) -> [Float] {
        let n = spec.x[0], c = spec.x[1], m = spec.m, g = spec.group
        let cg = c / g, mg = m / g
        let inSp = Array(spec.x.dropFirst(2)), outSp = spec.outSpatial
        var y = [Float](repeating: 0, count: n * m * outSp.reduce(1, *))
        let outIdx = indices(outSp), kIdx = indices(spec.kernel)
        for bn in 0..<n {
            for oc in 0..<m {
                let grp = oc / mg
                for o in outIdx {
                    var acc = Double(b?[oc] ?? 0)
                    for ci in 0..<cg {
                        let ic = grp * cg + ci
                        for k in kIdx {
                            var pos: [Int] = []
                            var inside = true
                            for i in 0..<spec.r {
                                let p = o[i] * spec.s[i] + k[i] * spec.d[i] - spec.pb[i]
                                if p < 0 || p >= inSp[i] { inside = false }
                                pos.append(p)
                            }
                            if !inside { continue }
                            let xv = x[(bn * c + ic) * inSp.reduce(1, *) + flat(pos, inSp)]
                            let wv = w[(oc * cg + ci) * spec.kernel.reduce(1, *) + flat(k, spec.kernel)]
                            acc += Double(xv) * Double(wv)
                        }
                    }
                    y[(bn * m + oc) * outSp.reduce(1, *) + flat(o, outSp)] = Float(acc)
                }
            }
        }
        return y
    }

    func checkConv(_ spec: ConvSpec, seed: UInt64, constantWeights: Bool = true, extra: [AttributeProto]? = nil,
                   file: StaticString = #filePath, line: UInt = #line) throws {
        var noise = Noise(seed)
        let x = noise.floats(spec.x.reduce(1, *))
        let w = noise.floats(spec.wShape.reduce(1, *))
        let b = spec.bias ? noise.floats(spec.m) : nil
        let inputs: [Operand?] = [
            Operand(tensor: Tensor(shape: spec.x, floats: x), constant: false),
            Operand(tensor: Tensor(shape: spec.wShape, floats: w), constant: constantWeights),
        ] + (b.map { [Operand(tensor: Tensor(shape: [spec.m], floats: $0), constant: constantWeights)] } ?? [])
        let y = try runOp("Conv", inputs, extra ?? spec.attributes, file: file, line: line)
        XCTAssertEqual(y.shape, [spec.x[0], spec.m] + spec.outSpatial, "\(spec)", file: file, line: line)
        assertClose(y.floats, Self.referenceConv(spec, x: x, w: w, b: b), "\(spec)", file: file, line: line)
    }

    // MARK: Conv

    /// Causal 1-D convs on [1, C, T]: left padding (k - 1) * d (as in-graph pads, and as an
    /// input that already carries the past frames), every kernel size 1...7, dilations, T = 1.
    func testCausalConv1d() throws {
        var seed: UInt64 = 1
        for t in [1, 2, 37, 300] {
            for k in 1...7 {
                for d in [1, 2, 4] where (k > 1 || d == 1) && (t < 300 || d == 2) {
                    seed += 1
                    let past = (k - 1) * d
                    try checkConv(ConvSpec(x: [1, 8, t], m: 12, kernel: [k], dilations: [d], padBegin: [past], padEnd: [0]), seed: seed)
                    // The streaming form: the caller concatenated the past frames, no padding.
                    try checkConv(ConvSpec(x: [1, 8, t + past], m: 6, kernel: [k], dilations: [d], bias: seed % 2 == 0), seed: seed)
                }
            }
        }
    }

    func testDepthwiseConv1d() throws {
        var seed: UInt64 = 100
        for t in [1, 5, 200] {
            for k in [1, 3, 5, 7] {
                for d in [1, 3] {
                    seed += 1
                    let past = (k - 1) * d
                    try checkConv(ConvSpec(x: [1, 16, t], m: 16, kernel: [k], group: 16, dilations: [d],
                                           padBegin: [past], padEnd: [0], bias: seed % 2 == 0), seed: seed)
                    try checkConv(ConvSpec(x: [1, 16, t + past], m: 16, kernel: [k], group: 16, dilations: [d]), seed: seed)
                    // Channel multiplier 2, stride 2, symmetric padding, batch 2.
                    try checkConv(ConvSpec(x: [2, 4, t + past], m: 8, kernel: [k], group: 4, strides: [2], dilations: [d],
                                           padBegin: [k / 2], padEnd: [k / 2]), seed: seed)
                }
            }
        }
    }

    func testPointwiseConv1d() throws {
        // T = 1 runs as one GEMV, larger T as one GEMM.
        for (i, t) in [1, 3, 64, 301].enumerated() {
            try checkConv(ConvSpec(x: [1, 32, t], m: 24, kernel: [1]), seed: UInt64(200 + i))
            try checkConv(ConvSpec(x: [1, 32, t], m: 24, kernel: [1], bias: false), seed: UInt64(210 + i))
            try checkConv(ConvSpec(x: [1, 32, t], m: 8, kernel: [1], group: 4), seed: UInt64(220 + i))
            try checkConv(ConvSpec(x: [3, 6, t], m: 1, kernel: [1]), seed: UInt64(230 + i))
            // Strided pointwise goes through im2col.
            try checkConv(ConvSpec(x: [1, 6, t], m: 5, kernel: [1], strides: [2]), seed: UInt64(240 + i))
        }
    }

    func testGroupedAndStridedConv1d() throws {
        var seed: UInt64 = 300
        for t in [1, 9, 50] {
            for (g, c, m) in [(2, 8, 6), (4, 8, 8), (3, 6, 9), (1, 1, 4)] {
                for k in [2, 3, 5] {
                    for s in [1, 2, 3] {
                        seed += 1
                        let spec = ConvSpec(x: [2, c, t + 4], m: m, kernel: [k], group: g, strides: [s], dilations: [seed % 2 == 0 ? 1 : 2],
                                            padBegin: [1], padEnd: [2])
                        if spec.x[2] + 3 < spec.d[0] * (k - 1) + 1 { continue }
                        try checkConv(spec, seed: seed)
                        try checkConv(spec, seed: seed, constantWeights: false)
                    }
                }
            }
        }
    }

    func testConv2dAnd3d() throws {
        try checkConv(ConvSpec(x: [2, 4, 7, 6], m: 6, kernel: [3, 2], group: 2, strides: [2, 1], dilations: [1, 2],
                               padBegin: [1, 0], padEnd: [2, 1]), seed: 400)
        try checkConv(ConvSpec(x: [1, 3, 5, 5], m: 3, kernel: [3, 3], group: 3, padBegin: [1, 1], padEnd: [1, 1]), seed: 401)
        try checkConv(ConvSpec(x: [1, 5, 4, 4], m: 7, kernel: [1, 1]), seed: 402)
        try checkConv(ConvSpec(x: [1, 2, 4, 5, 3], m: 4, kernel: [2, 3, 2], strides: [1, 2, 1], dilations: [2, 1, 1],
                               padBegin: [0, 1, 1], padEnd: [1, 1, 0]), seed: 403)
        try checkConv(ConvSpec(x: [1, 4, 3, 4, 5], m: 4, kernel: [3, 1, 2], group: 4, padBegin: [1, 0, 1], padEnd: [1, 0, 0]), seed: 404)
    }

    /// The strategy each model-relevant shape gets (the fast paths must actually be taken).
    func testConvStrategySelection() throws {
        func strategy(_ spec: ConvSpec) throws -> ConvKernel.Strategy? {
            let x = Operand(tensor: Tensor(zeros: .float, shape: spec.x), constant: false)
            let w = Operand(tensor: Tensor(zeros: .float, shape: spec.wShape), constant: true)
            return (try runOpKernel("Conv", [x, w], spec.attributes, runs: 1).kernel as? ConvKernel)?.strategy
        }
        XCTAssertEqual(try strategy(ConvSpec(x: [1, 64, 1], m: 32, kernel: [1])), .pointwise)
        XCTAssertEqual(try strategy(ConvSpec(x: [1, 64, 200], m: 32, kernel: [1], group: 2)), .pointwise)
        XCTAssertEqual(try strategy(ConvSpec(x: [1, 64, 1], m: 64, kernel: [7], group: 64, dilations: [3], padBegin: [18], padEnd: [0])), .depthwise)
        XCTAssertEqual(try strategy(ConvSpec(x: [1, 64, 19], m: 64, kernel: [7], group: 64, dilations: [3])), .depthwise)
        XCTAssertEqual(try strategy(ConvSpec(x: [1, 64, 5], m: 32, kernel: [5])), .wholeWindow)
        XCTAssertEqual(try strategy(ConvSpec(x: [1, 64, 5], m: 32, kernel: [5], group: 4)), .wholeWindow)
        XCTAssertEqual(try strategy(ConvSpec(x: [1, 64, 7], m: 32, kernel: [3], dilations: [3])), .im2col)
        XCTAssertEqual(try strategy(ConvSpec(x: [1, 64, 1], m: 32, kernel: [5], padBegin: [4], padEnd: [0])), .im2col)
        // Whole-window results match the reference, with groups and batches.
        try checkConv(ConvSpec(x: [2, 8, 5], m: 6, kernel: [5], group: 2), seed: 450)
        try checkConv(ConvSpec(x: [1, 4, 3, 2], m: 3, kernel: [3, 2], bias: false), seed: 451)
    }

    func testConvAutoPad() throws {
        // SAME_UPPER / SAME_LOWER / VALID equal their explicit-pads forms.
        for (t, k, s) in [(10, 3, 1), (10, 4, 1), (11, 4, 2), (1, 5, 1), (7, 2, 3)] {
            let total = max(0, ((t + s - 1) / s - 1) * s + k - t)
            try checkConv(ConvSpec(x: [1, 3, t], m: 2, kernel: [k], strides: [s], padBegin: [total / 2], padEnd: [total - total / 2]),
                          seed: 500, extra: [Self.attr("auto_pad", "SAME_UPPER"), Self.attr("strides", [s])])
            try checkConv(ConvSpec(x: [1, 3, t], m: 2, kernel: [k], strides: [s], padBegin: [total - total / 2], padEnd: [total / 2]),
                          seed: 501, extra: [Self.attr("auto_pad", "SAME_LOWER"), Self.attr("strides", [s])])
            if t >= k {
                try checkConv(ConvSpec(x: [1, 3, t], m: 2, kernel: [k], strides: [s]), seed: 502,
                              extra: [Self.attr("auto_pad", "VALID"), Self.attr("strides", [s]), Self.attr("pads", [7, 7])])
            }
        }
    }

    func testConvRejectsBadAttributes() throws {
        let x = Operand(tensor: Tensor(zeros: .float, shape: [1, 4, 5]), constant: false)
        let w = Operand(tensor: Tensor(zeros: .float, shape: [4, 2, 3]), constant: true)
        XCTAssertThrowsError(try runOp("Conv", [x, w], [Self.attr("group", 3)]))          // 4 % 3
        XCTAssertThrowsError(try runOp("Conv", [x, w], [Self.attr("group", 1)]))          // W has 2 channels per group, X 4
        XCTAssertNoThrow(try runOp("Conv", [x, w], [Self.attr("group", 2)]))
        XCTAssertThrowsError(try runOp("Conv", [x, w], [Self.attr("group", 2), Self.attr("auto_pad", "SAME")]))
        XCTAssertThrowsError(try runOp("Conv", [x, w], [Self.attr("group", 2), Self.attr("kernel_shape", [5])]))
        XCTAssertThrowsError(try runOp("Conv", [x, w], [Self.attr("group", 2), Self.attr("strides", [0])]))
        XCTAssertThrowsError(try runOp("Conv", [x, w], [Self.attr("group", 2), Self.attr("pads", [1])]))
        XCTAssertThrowsError(try runOp("Conv", [x, w], [Self.attr("group", 2), Self.attr("dilations", [4])])) // extent 9 > 5
        let wide = Operand(tensor: Tensor(zeros: .float, shape: [1, 4, 5]), constant: true)
        XCTAssertThrowsError(try runOp("Conv", [x, wide, Operand(tensor: Tensor(zeros: .float, shape: [2]), constant: true)]))
        let ints = Operand(tensor: Tensor(shape: [1, 1, 3], int64s: [1, 2, 3]), constant: false)
        XCTAssertThrowsError(try runOp("Conv", [ints, ints]))
    }

    func testConvFloat16() throws {
        let spec = ConvSpec(x: [1, 4, 9], m: 4, kernel: [3], group: 4, padBegin: [2], padEnd: [0])
        var noise = Noise(600)
        let x = noise.floats(spec.x.reduce(1, *)).map { Float(Float16($0)) }
        let w = noise.floats(spec.wShape.reduce(1, *)).map { Float(Float16($0)) }
        let b = noise.floats(4).map { Float(Float16($0)) }
        func half(_ v: [Float], _ shape: [Int]) -> Tensor {
            Tensor(dataType: .float16, shape: shape, bytes: v.map { Float16($0).bitPattern }.withUnsafeBytes { Array($0) })
        }
        for constant in [true, false] {
            let y = try runOp("Conv", [Operand(tensor: half(x, spec.x), constant: false),
                                       Operand(tensor: half(w, spec.wShape), constant: constant),
                                       Operand(tensor: half(b, [4]), constant: constant)], spec.attributes)
            XCTAssertEqual(y.dataType, .float16)
            let want = Self.referenceConv(spec, x: x, w: w, b: b).map { Float(Float16($0)) }
            assertClose(y.floats, want, tolerance: 1e-3, "float16 conv")
        }
    }

    // MARK: ConvTranspose

    struct ConvTransposeSpec {
        var x: [Int]
        var m: Int
        var kernel: [Int]
        var group = 1
        var strides: [Int]
        var dilations: [Int]
        var padBegin: [Int]
        var padEnd: [Int]
        var outputPadding: [Int]

        var r: Int { x.count - 2 }
        var wShape: [Int] { [x[1], m / group] + kernel }
        var outSpatial: [Int] {
            (0..<r).map { i in strides[i] * (x[i + 2] - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1 - padBegin[i] - padEnd[i] }
        }
        var attributes: [AttributeProto] {
            [attr("group", group), attr("strides", strides), attr("dilations", dilations),
             attr("pads", padBegin + padEnd), attr("output_padding", outputPadding)]
        }
    }

    static func referenceConvTranspose(_ spec: ConvTransposeSpec, x: [Float], w: [Float], b: [Float]?) -> [Float] {
        let n = spec.x[0], c = spec.x[1], m = spec.m, g = spec.group
        let cg = c / g, mg = m / g
        let inSp = Array(spec.x.dropFirst(2)), outSp = spec.outSpatial
        let inSize = inSp.reduce(1, *), outSize = outSp.reduce(1, *), taps = spec.kernel.reduce(1, *)
        var y = [Double](repeating: 0, count: n * m * outSize)
        for bn in 0..<n {
            for oc in 0..<m { for o in 0..<outSize { y[(bn * m + oc) * outSize + o] = Double(b?[oc] ?? 0) } }
            for ic in 0..<c {
                let grp = ic / cg
                for i in indices(inSp) {
                    let xv = Double(x[(bn * c + ic) * inSize + flat(i, inSp)])
                    for k in indices(spec.kernel) {
                        var pos: [Int] = []
                        var inside = true
                        for d in 0..<spec.r {
                            let p = i[d] * spec.strides[d] + k[d] * spec.dilations[d] - spec.padBegin[d]
                            if p < 0 || p >= outSp[d] { inside = false }
                            pos.append(p)
                        }
                        if !inside { continue }
                        for mi in 0..<mg {
                            let wv = Double(w[(ic * mg + mi) * taps + flat(k, spec.kernel)])
                            y[(bn * m + grp * mg + mi) * outSize + flat(pos, outSp)] += xv * wv
                        }
                    }
                }
            }
        }
        return y.map { Float($0) }
    }

    func checkConvTranspose(_ spec: ConvTransposeSpec, seed: UInt64, bias: Bool = true, constantWeights: Bool = true,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        var noise = Noise(seed)
        let x = noise.floats(spec.x.reduce(1, *)), w = noise.floats(spec.wShape.reduce(1, *))
        let b = bias ? noise.floats(spec.m) : nil
        let inputs: [Operand?] = [
            Operand(tensor: Tensor(shape: spec.x, floats: x), constant: false),
            Operand(tensor: Tensor(shape: spec.wShape, floats: w), constant: constantWeights),
        ] + (b.map { [Operand(tensor: Tensor(shape: [spec.m], floats: $0), constant: constantWeights)] } ?? [])
        let y = try runOp("ConvTranspose", inputs, spec.attributes, file: file, line: line)
        XCTAssertEqual(y.shape, [spec.x[0], spec.m] + spec.outSpatial, "\(spec)", file: file, line: line)
        assertClose(y.floats, Self.referenceConvTranspose(spec, x: x, w: w, b: b), "\(spec)", file: file, line: line)
    }

    func testConvTranspose1d() throws {
        var seed: UInt64 = 700
        // Upsampling layers of a vocoder: stride s, kernel 2s, padding s/2.
        for t in [1, 4, 33] {
            for s in [1, 2, 4] {
                for (g, c, m) in [(1, 6, 4), (2, 4, 6), (4, 4, 4)] {
                    seed += 1
                    let k = 2 * s
                    try checkConvTranspose(ConvTransposeSpec(x: [1, c, t], m: m, kernel: [k], group: g, strides: [s], dilations: [1],
                                                             padBegin: [s / 2], padEnd: [s - s / 2], outputPadding: [0]), seed: seed)
                    try checkConvTranspose(ConvTransposeSpec(x: [2, c, t], m: m, kernel: [3], group: g, strides: [s], dilations: [2],
                                                             padBegin: [0], padEnd: [1], outputPadding: [s > 1 ? 1 : 0]),
                                           seed: seed, bias: false, constantWeights: false)
                }
            }
        }
    }

    func testConvTranspose2dAnd3d() throws {
        try checkConvTranspose(ConvTransposeSpec(x: [2, 4, 3, 4], m: 6, kernel: [3, 2], group: 2, strides: [2, 3], dilations: [1, 2],
                                                 padBegin: [1, 0], padEnd: [0, 2], outputPadding: [1, 0]), seed: 800)
        try checkConvTranspose(ConvTransposeSpec(x: [1, 2, 2, 3, 2], m: 3, kernel: [2, 2, 3], strides: [1, 2, 2], dilations: [1, 1, 1],
                                                 padBegin: [0, 1, 1], padEnd: [0, 0, 1], outputPadding: [0, 1, 0]), seed: 801)
    }

    func testConvTransposeOutputShapeAndAutoPad() throws {
        var noise = Noise(900)
        let x = noise.floats(1 * 2 * 5), w = noise.floats(2 * 3 * 4)
        let xs = Operand(tensor: Tensor(shape: [1, 2, 5], floats: x), constant: false)
        let ws = Operand(tensor: Tensor(shape: [2, 3, 4], floats: w), constant: true)
        // natural = 2 * 4 + 4 = 12; output_shape 10 => total padding 2, split 1 / 1.
        let y = try runOp("ConvTranspose", [xs, ws], [Self.attr("strides", [2]), Self.attr("output_shape", [10])])
        let spec = ConvTransposeSpec(x: [1, 2, 5], m: 3, kernel: [4], strides: [2], dilations: [1], padBegin: [1], padEnd: [1], outputPadding: [0])
        XCTAssertEqual(y.shape, [1, 3, 10])
        assertClose(y.floats, Self.referenceConvTranspose(spec, x: x, w: w, b: nil), "output_shape")
        // SAME_UPPER: out = in * stride = 10, total 2 => 1 / 1; odd totals put the extra at the end.
        let same = try runOp("ConvTranspose", [xs, ws], [Self.attr("strides", [2]), Self.attr("auto_pad", "SAME_UPPER")])
        assertClose(same.floats, y.floats, "SAME_UPPER")
        let odd = try runOp("ConvTranspose", [xs, ws], [Self.attr("strides", [2]), Self.attr("auto_pad", "SAME_UPPER"),
                                                        Self.attr("output_shape", [9])])
        let oddSpec = ConvTransposeSpec(x: [1, 2, 5], m: 3, kernel: [4], strides: [2], dilations: [1], padBegin: [1], padEnd: [2], outputPadding: [0])
        assertClose(odd.floats, Self.referenceConvTranspose(oddSpec, x: x, w: w, b: nil), "SAME_UPPER odd")
        let lower = try runOp("ConvTranspose", [xs, ws], [Self.attr("strides", [2]), Self.attr("auto_pad", "SAME_LOWER"),
                                                          Self.attr("output_shape", [9])])
        let lowerSpec = ConvTransposeSpec(x: [1, 2, 5], m: 3, kernel: [4], strides: [2], dilations: [1], padBegin: [2], padEnd: [1], outputPadding: [0])
        assertClose(lower.floats, Self.referenceConvTranspose(lowerSpec, x: x, w: w, b: nil), "SAME_LOWER odd")
        XCTAssertThrowsError(try runOp("ConvTranspose", [xs, ws], [Self.attr("output_padding", [1])]))  // not below stride 1
        XCTAssertThrowsError(try runOp("ConvTranspose", [xs, ws], [Self.attr("group", 3)]))             // 2 channels, group 3
        XCTAssertThrowsError(try runOp("ConvTranspose", [xs, Operand(tensor: Tensor(zeros: .float, shape: [3, 3, 4]), constant: true)]))
        XCTAssertThrowsError(try runOp("ConvTranspose", [xs, ws], [Self.attr("output_shape", [10, 10])]))
    }

    // MARK: MatMul

    static func referenceMatMul(_ a: [Float], _ aShape: [Int], _ b: [Float], _ bShape: [Int]) -> ([Float], [Int]) {
        let a2 = aShape.count == 1 ? [1] + aShape : aShape
        let b2 = bShape.count == 1 ? bShape + [1] : bShape
        let m = a2[a2.count - 2], k = a2[a2.count - 1], n = b2[b2.count - 1]
        let ab = Array(a2.dropLast(2)), bb = Array(b2.dropLast(2))
        let batch = BroadcastPlan.resultShape([ab, bb])!
        var out: [Float] = []
        for idx in indices(batch) {
            func offset(_ shape: [Int]) -> Int {
                let pad = batch.count - shape.count
                var o = 0
                for (i, d) in shape.enumerated() { o = o * d + (d == 1 ? 0 : idx[pad + i]) }
                return o
            }
            let ao = offset(ab) * m * k, bo = offset(bb) * k * n
            for i in 0..<m {
                for j in 0..<n {
                    var acc = 0.0
                    for p in 0..<k { acc += Double(a[ao + i * k + p]) * Double(b[bo + p * n + j]) }
                    out.append(Float(acc))
                }
            }
        }
        var shape = batch
        if aShape.count > 1 { shape.append(m) }
        if bShape.count > 1 { shape.append(n) }
        return (out, shape)
    }

    func testMatMulShapes() throws {
        let cases: [([Int], [Int])] = [
            ([1, 1, 64], [64, 32]),      // linear layer, one frame: GEMV
            ([1, 100, 64], [64, 32]),    // linear layer, offline: one folded GEMM
            ([2, 3, 5, 7], [7, 1]),      // N = 1: GEMV
            ([5], [5, 4]), ([4, 5], [5]), ([5], [5]), ([5], [2, 5, 3]), ([2, 3, 4, 5], [5]),
            ([2, 1, 3, 4], [3, 4, 2]),   // batch broadcast both ways
            ([3, 4], [2, 2, 4, 6]),      // A broadcast over B's batches
            ([2, 1, 4], [2, 4, 3]),      // M = 1 per batch: GEMV with transposed B
            ([3, 0], [0, 4]),            // K = 0: zeros
            ([0, 3], [3, 4]),
        ]
        for (i, (sa, sb)) in cases.enumerated() {
            var noise = Noise(UInt64(1000 + i))
            let a = noise.floats(sa.reduce(1, *)), b = noise.floats(sb.reduce(1, *))
            for constantB in [true, false] {
                let y = try runOp("MatMul", [Operand(tensor: Tensor(shape: sa, floats: a), constant: false),
                                             Operand(tensor: Tensor(shape: sb, floats: b), constant: constantB)])
                let (want, shape) = Self.referenceMatMul(a, sa, b, sb)
                XCTAssertEqual(y.shape, shape, "\(sa) x \(sb)")
                assertClose(y.floats, want, "\(sa) x \(sb)")
            }
        }
        let a = Operand(tensor: Tensor(zeros: .float, shape: [2, 3]), constant: false)
        XCTAssertThrowsError(try runOp("MatMul", [a, Operand(tensor: Tensor(zeros: .float, shape: [4, 2]), constant: false)]))
        XCTAssertThrowsError(try runOp("MatMul", [Operand(tensor: Tensor(zeros: .float, shape: [2, 2, 3]), constant: false),
                                                  Operand(tensor: Tensor(zeros: .float, shape: [3, 3, 1]), constant: false)]))
        XCTAssertThrowsError(try runOp("MatMul", [a, Operand(tensor: Tensor(zeros: .int64, shape: [3, 2]), constant: false)]))
    }

    func testMatMulIntegerAndDouble() throws {
        let a: [Int64] = [1, 2, 3, 4, 5, 6], b: [Int64] = [7, 8, 9, 10, 11, 12]
        let y = try runOp("MatMul", [Operand(tensor: Tensor(shape: [2, 3], int64s: a), constant: false),
                                     Operand(tensor: Tensor(shape: [3, 2], int64s: b), constant: false)])
        XCTAssertEqual(y.int64s, [58, 64, 139, 154])
        let da: [Double] = [0.5, -1, 2, 3], db: [Double] = [1, 2, 3, 4]
        func dt(_ v: [Double], _ s: [Int]) -> Tensor { Tensor(dataType: .double, shape: s, bytes: v.withUnsafeBytes { Array($0) }) }
        let yd = try runOp("MatMul", [Operand(tensor: dt(da, [2, 2]), constant: false), Operand(tensor: dt(db, [2, 2]), constant: false)])
        XCTAssertEqual(yd.dataType, .double)
        XCTAssertEqual(yd.floats, [-2.5, -3, 11, 16])
    }

    func testMatMulBFloat16() throws {
        // Values exactly representable in bfloat16 (8 significant bits) with exact products.
        let a: [Float] = [1, 2, 0.5, -3, 4, 0.25], b: [Float] = [2, -1, 0.5, 8, 1, 3]
        func bf(_ v: [Float], _ s: [Int]) -> Tensor {
            Tensor(dataType: .bfloat16, shape: s, bytes: v.map { UInt16($0.bitPattern >> 16) }.withUnsafeBytes { Array($0) })
        }
        let y = try runOp("MatMul", [Operand(tensor: bf(a, [2, 3]), constant: false), Operand(tensor: bf(b, [3, 2]), constant: false)])
        XCTAssertEqual(y.dataType, .bfloat16)
        let got = y.bytes.withUnsafeBytes { $0.bindMemory(to: UInt16.self).map { Float(bitPattern: UInt32($0) << 16) } }
        XCTAssertEqual(got, Self.referenceMatMul(a, [2, 3], b, [3, 2]).0)
    }

    func testMatMulFloat16() throws {
        var noise = Noise(1100)
        let a = noise.floats(2 * 3 * 8).map { Float(Float16($0)) }, b = noise.floats(8 * 5).map { Float(Float16($0)) }
        func half(_ v: [Float], _ s: [Int]) -> Tensor {
            Tensor(dataType: .float16, shape: s, bytes: v.map { Float16($0).bitPattern }.withUnsafeBytes { Array($0) })
        }
        let y = try runOp("MatMul", [Operand(tensor: half(a, [2, 3, 8]), constant: false), Operand(tensor: half(b, [8, 5]), constant: true)])
        XCTAssertEqual(y.dataType, .float16)
        assertClose(y.floats, Self.referenceMatMul(a, [2, 3, 8], b, [8, 5]).0.map { Float(Float16($0)) }, tolerance: 1e-3, "float16")
    }

    // MARK: Gemm

    func testGemmVariants() throws {
        var seed: UInt64 = 1200
        for (m, k, n) in [(1, 16, 8), (5, 16, 1), (4, 7, 6), (1, 1, 1)] {
            for transA in [0, 1] {
                for transB in [0, 1] {
                    for cShape in [nil, [], [1], [n], [1, n], [m, 1], [m, n]] as [[Int]?] {
                        seed += 1
                        var noise = Noise(seed)
                        let a = noise.floats(m * k), b = noise.floats(k * n)
                        let c = cShape.map { noise.floats($0.reduce(1, *)) }
                        let alpha: Float = seed % 3 == 0 ? 0.5 : 1, beta: Float = seed % 2 == 0 ? 1 : -2
                        var inputs: [Operand?] = [
                            Operand(tensor: Tensor(shape: transA == 1 ? [k, m] : [m, k], floats: transA == 1 ? Self.transpose(a, m, k) : a), constant: false),
                            Operand(tensor: Tensor(shape: transB == 1 ? [n, k] : [k, n], floats: transB == 1 ? Self.transpose(b, k, n) : b), constant: true),
                        ]
                        if let cShape, let c { inputs.append(Operand(tensor: Tensor(shape: cShape, floats: c), constant: seed % 2 == 0)) }
                        let y = try runOp("Gemm", inputs, [Self.attr("transA", transA), Self.attr("transB", transB),
                                                           Self.attr("alpha", alpha), Self.attr("beta", beta)])
                        var want = Self.referenceMatMul(a, [m, k], b, [k, n]).0.map { $0 * alpha }
                        if let cShape, let c {
                            let padded = [Int](repeating: 1, count: 2 - cShape.count) + cShape
                            for i in 0..<m { for j in 0..<n {
                                want[i * n + j] += beta * c[(padded[0] == 1 ? 0 : i) * padded[1] + (padded[1] == 1 ? 0 : j)]
                            } }
                        }
                        XCTAssertEqual(y.shape, [m, n])
                        assertClose(y.floats, want, "Gemm m\(m) k\(k) n\(n) tA\(transA) tB\(transB) C\(String(describing: cShape))")
                    }
                }
            }
        }
        let a = Operand(tensor: Tensor(zeros: .float, shape: [2, 3]), constant: false)
        let b = Operand(tensor: Tensor(zeros: .float, shape: [3, 4]), constant: false)
        XCTAssertThrowsError(try runOp("Gemm", [a, b, Operand(tensor: Tensor(zeros: .float, shape: [3]), constant: false)]))
        XCTAssertThrowsError(try runOp("Gemm", [a, b], [Self.attr("transB", 1)]))
        let ints = try runOp("Gemm", [Operand(tensor: Tensor(shape: [1, 2], int64s: [1, 2]), constant: false),
                                      Operand(tensor: Tensor(shape: [2, 1], int64s: [3, 4]), constant: false),
                                      Operand(tensor: Tensor(shape: [1], int64s: [10]), constant: false)])
        XCTAssertEqual(ints.int64s, [21])
    }

    static func transpose(_ v: [Float], _ rows: Int, _ cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: v.count)
        for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = v[i * cols + j] } }
        return t
    }
}

/// Timing of the streaming model shapes (run with TMRVC_LINALG_BENCH=1, in release). When a
/// malloc-counting library exporting `tmrvc_malloc_count` is preloaded, also checks that the
/// kernels do not allocate.
final class LinearAlgebraBenchmarks: XCTestCase {
    func testStreamingLayerTimings() throws {
        guard ProcessInfo.processInfo.environment["TMRVC_LINALG_BENCH"] != nil else {
            throw XCTSkip("set TMRVC_LINALG_BENCH=1 to run")
        }
        typealias T = LinearAlgebraOpsTests
        let counter: (@convention(c) () -> Int)? = dlsym(nil, "tmrvc_malloc_count")  // nil = RTLD_DEFAULT
            .map { unsafeBitCast($0, to: (@convention(c) () -> Int).self) }
        let cases: [(String, T.ConvSpec)] = [
            ("pointwise 256->256 T=1", T.ConvSpec(x: [1, 256, 1], m: 256, kernel: [1])),
            ("pointwise 256->512 T=200", T.ConvSpec(x: [1, 256, 200], m: 512, kernel: [1])),
            ("depthwise 256 k7 T=1 (streamed)", T.ConvSpec(x: [1, 256, 7], m: 256, kernel: [7], group: 256)),
            ("depthwise 256 k7 d3 T=1 (streamed)", T.ConvSpec(x: [1, 256, 19], m: 256, kernel: [7], group: 256, dilations: [3])),
            ("depthwise 256 k7 T=200 causal pads", T.ConvSpec(x: [1, 256, 200], m: 256, kernel: [7], group: 256, padBegin: [6], padEnd: [0])),
            ("conv 256->256 k3 T=1 (streamed)", T.ConvSpec(x: [1, 256, 3], m: 256, kernel: [3])),
            ("conv 256->256 k3 d2 T=1 (streamed)", T.ConvSpec(x: [1, 256, 5], m: 256, kernel: [3], dilations: [2])),
            ("conv 256->256 k5 T=200 causal pads", T.ConvSpec(x: [1, 256, 200], m: 256, kernel: [5], padBegin: [4], padEnd: [0])),
            ("conv 80->256 k7 T=200", T.ConvSpec(x: [1, 80, 206], m: 256, kernel: [7])),
        ]
        if let counter {
            // The counter sees Swift allocations.
            let before = counter()
            let probe = [Int](repeating: 1, count: Int.random(in: 100...200))
            XCTAssertGreaterThan(counter() - before, 0)
            withExtendedLifetime(probe) {}
        }
        for (label, spec) in cases {
            let x = T.Operand(tensor: Tensor(zeros: .float, shape: spec.x), constant: false)
            let w = T.Operand(tensor: Tensor(zeros: .float, shape: spec.wShape), constant: true)
            let b = T.Operand(tensor: Tensor(zeros: .float, shape: [spec.m]), constant: true)
            let built = try T.buildAndRun("Conv", [x, w, b], spec.attributes, runs: 3)
            let kernel = built.kernel
            let runs = 2000
            let before = counter?() ?? 0
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<runs { kernel.run() }
            let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(runs)
            let allocations = (counter?() ?? 0) - before
            print(String(format: "  %@ %9.2f us/run  %@", label.padding(toLength: 40, withPad: " ", startingAt: 0), ns / 1000,
                         counter == nil ? "" : "mallocs: \(allocations)"))
            if counter != nil { XCTAssertEqual(allocations, 0, label) }
            withExtendedLifetime(built.memory) {}
        }
    }
}
