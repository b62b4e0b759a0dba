import XCTest
import Foundation
import ONNXFormat
import TMRVCKernels
@testable import TMRVCRuntime

/// The quantised operators of ONNX Runtime's `quantize_dynamic` files (DynamicQuantizeLinear,
/// MatMulInteger, ConvInteger) against integer reference loops: the packed int8 path (constant
/// int8 weights with zero zero points) and the plain loop (uint8 or run-time weights, nonzero zero
/// points, groups), with the shapes of the streaming models (T = 1 and a few columns, odd depths,
/// row counts that are not multiples of 16). The ONNX backend node tests cover the same operators
/// in ConformanceTests.
final class QuantizationOpsTests: XCTestCase {
    typealias Operand = LinearAlgebraOpsTests.Operand

    /// Deterministic bytes.
    struct Bytes {
        var state: UInt64
        init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
        mutating func next() -> UInt8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in next() } }
    }

    static func value(_ b: UInt8, signed: Bool) -> Int32 { signed ? Int32(Int8(bitPattern: b)) : Int32(b) }

    static func tensor(_ type: DataType, _ shape: [Int], _ bytes: [UInt8], constant: Bool) -> Operand {
        Operand(tensor: Tensor(dataType: type, shape: shape, bytes: bytes), constant: constant)
    }

    static func int32s(_ t: Tensor) -> [Int32] {
        t.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
    }

    // MARK: MatMulInteger

    func testMatMulIntegerMatchesReference() throws {
        var g = Bytes(7)
        for (m, k, n) in [(1, 1, 1), (1, 7, 17), (3, 64, 40), (5, 257, 16), (9, 33, 3), (4, 512, 33)] {
            let a = g.bytes(m * k), b = g.bytes(k * n)
            // Packed: constant int8 B, zero point absent or an explicit zero vector; uint8 A with a scalar zero point.
            // Loop: uint8 B with per-column zero points; int8 A with per-row zero points; run-time B.
            for variant in 0..<4 {
                let packed = variant < 2
                let aSigned = variant == 3, bSigned = packed || variant == 2
                let aZero: [UInt8] = variant == 3 ? g.bytes(m) : [g.next()]
                let bZero: [UInt8]? = variant == 0 ? nil : (packed ? [UInt8](repeating: 0, count: n) : g.bytes(n))
                var want = [Int32](repeating: 0, count: m * n)
                for r in 0..<m {
                    let za = Self.value(aZero[aZero.count == 1 ? 0 : r], signed: aSigned)
                    for c in 0..<n {
                        let zb = bZero.map { Self.value($0[c], signed: bSigned) } ?? 0
                        var s: Int32 = 0
                        for i in 0..<k {
                            s &+= (Self.value(a[r * k + i], signed: aSigned) - za) &* (Self.value(b[i * n + c], signed: bSigned) - zb)
                        }
                        want[r * n + c] = s
                    }
                }
                let inputs: [Operand?] = [
                    Self.tensor(aSigned ? .int8 : .uint8, [m, k], a, constant: false),
                    Self.tensor(bSigned ? .int8 : .uint8, [k, n], b, constant: variant != 2),
                    Self.tensor(aSigned ? .int8 : .uint8, aZero.count == 1 ? [] : [m], aZero, constant: false),
                    bZero.map { Self.tensor(bSigned ? .int8 : .uint8, [n], $0, constant: true) },
                ]
                let (y, kernel, _) = try LinearAlgebraOpsTests.buildAndRun("MatMulInteger", inputs)
                XCTAssertEqual(y.shape, [m, n])
                XCTAssertEqual(Self.int32s(y), want, "MatMulInteger m \(m) k \(k) n \(n) variant \(variant)")
                XCTAssertEqual((kernel as? MatMulIntegerKernel)?.product.packed != nil, packed, "path of variant \(variant)")
            }
        }
    }

    func testMatMulIntegerRefusesBatchedBAndFloat() {
        XCTAssertThrowsError(try LinearAlgebraOpsTests.buildAndRun("MatMulInteger", [
            Self.tensor(.uint8, [2, 3, 4], [UInt8](repeating: 1, count: 24), constant: false),
            Self.tensor(.int8, [2, 4, 5], [UInt8](repeating: 1, count: 40), constant: true)])) { error in
            XCTAssertTrue("\(error)".contains("batched B"), "\(error)")
        }
        XCTAssertThrowsError(try LinearAlgebraOpsTests.buildAndRun("MatMulInteger", [
            Operand(tensor: Tensor(shape: [1, 2], floats: [1, 2]), constant: false),
            Self.tensor(.int8, [2, 1], [1, 2], constant: true)])) { error in
            XCTAssertTrue("\(error)".contains("uint8 or int8"), "\(error)")
        }
    }

    // MARK: ConvInteger

    func testConvIntegerMatchesReference() throws {
        var g = Bytes(11)
        struct Spec { var c: Int, m: Int, length: Int, kernel: Int, stride = 1, dilation = 1, pads = (0, 0), group = 1, batch = 1 }
        let specs = [
            Spec(c: 8, m: 20, length: 3, kernel: 3),                                     // streaming whole window
            Spec(c: 5, m: 17, length: 12, kernel: 3, pads: (2, 0)),                      // causal padding, 12 positions
            Spec(c: 16, m: 33, length: 9, kernel: 5, stride: 2, dilation: 2, pads: (1, 3)),
            Spec(c: 7, m: 4, length: 6, kernel: 1, batch: 2),                            // pointwise, two batch items
            Spec(c: 6, m: 9, length: 10, kernel: 3, pads: (1, 1), group: 3),             // grouped: the loop
        ]
        for (si, s) in specs.enumerated() {
            let cg = s.c / s.group, mg = s.m / s.group
            let x = g.bytes(s.batch * s.c * s.length), w = g.bytes(s.m * cg * s.kernel)
            let out = (s.length + s.pads.0 + s.pads.1 - ((s.kernel - 1) * s.dilation + 1)) / s.stride + 1
            for variant in 0..<3 {   // 0: int8 weights, no w zero point; 1: int8 weights, zero w zero points; 2: uint8 weights, per-channel zero points
                let wSigned = variant < 2
                let xZero = g.next()
                let wZero: [UInt8]? = variant == 0 ? nil : (variant == 1 ? [UInt8](repeating: 0, count: s.m) : g.bytes(s.m))
                var want = [Int32](repeating: 0, count: s.batch * s.m * out)
                for b in 0..<s.batch {
                    for o in 0..<s.m {
                        let grp = o / mg
                        let zw = wZero.map { Self.value($0[o], signed: wSigned) } ?? 0
                        for p in 0..<out {
                            var sum: Int32 = 0
                            for ci in 0..<cg {
                                for t in 0..<s.kernel {
                                    let q = p * s.stride + t * s.dilation - s.pads.0
                                    guard q >= 0, q < s.length else { continue }
                                    let xv = Int32(x[(b * s.c + grp * cg + ci) * s.length + q]) - Int32(xZero)
                                    sum &+= xv &* (Self.value(w[(o * cg + ci) * s.kernel + t], signed: wSigned) - zw)
                                }
                            }
                            want[(b * s.m + o) * out + p] = sum
                        }
                    }
                }
                let inputs: [Operand?] = [
                    Self.tensor(.uint8, [s.batch, s.c, s.length], x, constant: false),
                    Self.tensor(wSigned ? .int8 : .uint8, [s.m, cg, s.kernel], w, constant: true),
                    Self.tensor(.uint8, [], [xZero], constant: false),
                    wZero.map { Self.tensor(wSigned ? .int8 : .uint8, [s.m], $0, constant: true) },
                ]
                let attributes = [LinearAlgebraOpsTests.attr("strides", [s.stride]), LinearAlgebraOpsTests.attr("dilations", [s.dilation]),
                                  LinearAlgebraOpsTests.attr("pads", [s.pads.0, s.pads.1]), LinearAlgebraOpsTests.attr("group", s.group)]
                let (y, kernel, _) = try LinearAlgebraOpsTests.buildAndRun("ConvInteger", inputs, attributes)
                XCTAssertEqual(y.shape, [s.batch, s.m, out])
                XCTAssertEqual(Self.int32s(y), want, "ConvInteger spec \(si) variant \(variant)")
                let packed = variant < 2 && s.group == 1
                XCTAssertEqual((kernel as? ConvIntegerKernel)?.product.packed != nil, packed, "path of spec \(si) variant \(variant)")
            }
        }
    }

    // MARK: DynamicQuantizeLinear

    /// Runs DynamicQuantizeLinear on `x`: (y, scale, zero point).
    func quantize(_ x: [Float]) throws -> ([UInt8], Float, UInt8) {
        let def = try XCTUnwrap(OperatorRegistry.definitions["DynamicQuantizeLinear"])
        let memory = OwnedMemory()
        let input = TensorBuffer(name: "x", dataType: .float, shape: [x.count], role: .input)
        input.data = memory.allocate(bytes: input.byteCount)
        for (i, v) in x.enumerated() { input.floats[i] = v }
        let node = Graph.Node(name: "n", opType: "DynamicQuantizeLinear", domain: "", inputs: [], outputs: [], attributes: [:])
        var ctx = NodeContext(node: node, opset: 22, file: "test", inputs: [input], outputs: [nil, nil, nil],
                              outputNames: ["y", "scale", "zero_point"], memory: memory)
        let kernel = try XCTUnwrap(try def.factory(&ctx))
        let outs = try (0..<3).map { try XCTUnwrap(ctx.outputs[$0]) }
        for o in outs { o.data = memory.allocate(bytes: max(1, o.byteCount)) }
        XCTAssertEqual(outs[0].dataType, .uint8); XCTAssertEqual(outs[1].shape, []); XCTAssertEqual(outs[2].dataType, .uint8)
        kernel.run()
        return (Array(UnsafeBufferPointer(start: outs[0].bytes, count: x.count)), outs[1].floats[0], outs[2].bytes[0])
    }

    func testDynamicQuantizeLinearFollowsTheSpec() throws {
        // The ONNX reference: range widened to 0, scale (max - min) / 255, rounding half to even.
        let x: [Float] = [0, 2, -3.5, 1.25, 7.3, -0.01, 3.2]
        let (y, scale, zp) = try quantize(x)
        let s = (Float(7.3) - Float(-3.5)) / 255
        XCTAssertEqual(scale, s)
        XCTAssertEqual(zp, UInt8((3.5 / s).rounded(.toNearestOrEven)))
        for (q, v) in zip(y, x) { XCTAssertEqual(q, UInt8(max(0, min(255, (v / s).rounded(.toNearestOrEven) + Float(zp))))) }
        XCTAssertEqual(y[0], zp, "0 is exact")
        // Positive only: zero point 0, the maximum at 255.
        let (p, _, pz) = try quantize([0.5, 1, 2])
        XCTAssertEqual(pz, 0); XCTAssertEqual(p.last, 255)
        // All zero: scale 1 (ONNX Runtime's choice), zero point 0.
        let (z, zs, zz) = try quantize([0, 0, 0])
        XCTAssertEqual(z, [0, 0, 0]); XCTAssertEqual(zs, 1); XCTAssertEqual(zz, 0)
        // Non-finite values leave the range alone: NaN gives the zero point, infinities saturate.
        let (n, ns, nz) = try quantize([1, -1, .nan, .infinity, -.infinity])
        XCTAssertEqual(ns, 2 / 255); XCTAssertEqual(n[2], nz); XCTAssertEqual(n[3], 255); XCTAssertEqual(n[4], 0)
    }
}
