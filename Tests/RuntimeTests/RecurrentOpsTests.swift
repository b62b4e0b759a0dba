import Foundation
import XCTest
import ONNXFormat
@testable import TMRVCRuntime

final class RecurrentOpsTests: XCTestCase {
    typealias H = NormOpHarness

    struct Case {
        var gates: Int
        var directions: Int, reverseOnly: Bool
        var sequence: Int, batch: Int, input: Int, hidden: Int
        var layout: Int
        var x: [Float], w: [Float], r: [Float], b: [Float]?, h0: [Float]?, c0: [Float]?, p: [Float]?
        var linearBeforeReset = false

        init(gates: Int, directions: Int, reverseOnly: Bool = false, sequence: Int, batch: Int, input: Int, hidden: Int,
             layout: Int, bias: Bool, initial: Bool, peepholes: Bool = false, seed: UInt64) {
            self.gates = gates; self.directions = directions; self.reverseOnly = reverseOnly
            self.sequence = sequence; self.batch = batch; self.input = input; self.hidden = hidden; self.layout = layout
            let g = gates * hidden
            x = H.noise(sequence * batch * input, seed: seed)
            w = H.noise(directions * g * input, seed: seed + 1).map { $0 * 0.6 }
            r = H.noise(directions * g * hidden, seed: seed + 2).map { $0 * 0.6 }
            b = bias ? H.noise(directions * 2 * g, seed: seed + 3).map { $0 * 0.5 } : nil
            h0 = initial ? H.noise(directions * batch * hidden, seed: seed + 4) : nil
            c0 = initial && gates == 4 ? H.noise(directions * batch * hidden, seed: seed + 5) : nil
            p = peepholes ? H.noise(directions * 3 * hidden, seed: seed + 6).map { $0 * 0.5 } : nil
        }

        var direction: String { directions == 2 ? "bidirectional" : (reverseOnly ? "reverse" : "forward") }
        var stateShape: [Int] { layout == 0 ? [directions, batch, hidden] : [batch, directions, hidden] }
        func xIndex(_ t: Int, _ n: Int) -> Int { (layout == 0 ? t * batch + n : n * sequence + t) * input }
        func stateIndex(_ d: Int, _ n: Int) -> Int { layout == 0 ? (d * batch + n) * hidden : (n * directions + d) * hidden }
        func yIndex(_ t: Int, _ d: Int, _ n: Int) -> Int {
            layout == 0 ? ((t * directions + d) * batch + n) * hidden : ((n * sequence + t) * directions + d) * hidden
        }

        /// Straightforward double-precision LSTM/GRU with the default activations: (Y, Y_h, Y_c).
        func reference() -> ([Double], [Double], [Double]) {
            let hs = hidden, g = gates * hs
            var y = [Double](repeating: 0, count: sequence * directions * batch * hs)
            var yh = [Double](repeating: 0, count: directions * batch * hs), yc = yh
            func sig(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
            for d in 0..<directions {
                let reverse = reverseOnly || d == 1
                for n in 0..<batch {
                    var h = (0..<hs).map { k in h0.map { Double($0[stateIndex(d, n) + k]) } ?? 0 }
                    var c = (0..<hs).map { k in c0.map { Double($0[stateIndex(d, n) + k]) } ?? 0 }
                    for s in 0..<sequence {
                        let t = reverse ? sequence - 1 - s : s
                        func proj(_ row: Int, _ vec: [Double], _ m: [Float], _ cols: Int, _ off: Int) -> Double {
                            var acc = 0.0
                            for k in 0..<cols { acc += Double(m[off + row * cols + k]) * vec[k] }
                            return acc
                        }
                        let xv = (0..<input).map { Double(x[xIndex(t, n) + $0]) }
                        func wb(_ j: Int) -> Double { b.map { Double($0[d * 2 * g + j]) } ?? 0 }
                        func rb(_ j: Int) -> Double { b.map { Double($0[d * 2 * g + g + j]) } ?? 0 }
                        let xw = (0..<g).map { proj($0, xv, w, input, d * g * input) + wb($0) }
                        if gates == 4 {
                            let hr = (0..<g).map { proj($0, h, r, hs, d * g * hs) + rb($0) }
                            func pp(_ j: Int) -> Double { p.map { Double($0[d * 3 * hs + j]) } ?? 0 }
                            var newC = c, newH = h
                            for k in 0..<hs {
                                let i = sig(xw[k] + hr[k] + pp(k) * c[k])
                                let f = sig(xw[2 * hs + k] + hr[2 * hs + k] + pp(2 * hs + k) * c[k])
                                let cc = Foundation.tanh(xw[3 * hs + k] + hr[3 * hs + k])
                                newC[k] = f * c[k] + i * cc
                                let o = sig(xw[hs + k] + hr[hs + k] + pp(hs + k) * newC[k])
                                newH[k] = o * Foundation.tanh(newC[k])
                            }
                            c = newC; h = newH
                        } else {
                            let hr = (0..<g).map { proj($0, h, r, hs, d * g * hs) }
                            var newH = h
                            let z = (0..<hs).map { sig(xw[$0] + hr[$0] + rb($0)) }
                            let rr = (0..<hs).map { sig(xw[hs + $0] + hr[hs + $0] + rb(hs + $0)) }
                            let rh = (0..<hs).map { rr[$0] * h[$0] }
                            for k in 0..<hs {
                                let hh: Double
                                if linearBeforeReset {
                                    hh = Foundation.tanh(xw[2 * hs + k] + rr[k] * (hr[2 * hs + k] + rb(2 * hs + k)))
                                } else {
                                    hh = Foundation.tanh(xw[2 * hs + k] + proj(2 * hs + k, rh, r, hs, d * g * hs) + rb(2 * hs + k))
                                }
                                newH[k] = (1 - z[k]) * hh + z[k] * h[k]
                            }
                            h = newH
                        }
                        for k in 0..<hs { y[yIndex(t, d, n) + k] = h[k] }
                    }
                    for k in 0..<hs { yh[stateIndex(d, n) + k] = h[k]; yc[stateIndex(d, n) + k] = c[k] }
                }
            }
            return (y, yh, yc)
        }

        func inputs() -> [Tensor?] {
            let g = gates * hidden
            var list: [Tensor?] = [
                Tensor(shape: layout == 0 ? [sequence, batch, input] : [batch, sequence, input], floats: x),
                Tensor(shape: [directions, g, input], floats: w),
                Tensor(shape: [directions, g, hidden], floats: r),
                b.map { Tensor(shape: [directions, 2 * g], floats: $0) },
                H.int32s([batch], [Int32](repeating: Int32(sequence), count: batch)),
                h0.map { Tensor(shape: stateShape, floats: $0) },
            ]
            if gates == 4 {
                list.append(c0.map { Tensor(shape: stateShape, floats: $0) })
                list.append(p.map { Tensor(shape: [directions, 3 * hidden], floats: $0) })
            }
            return list
        }

        func attributes() -> [AttributeProto] {
            [H.attr("hidden_size", int: hidden), H.attr("direction", string: direction), H.attr("layout", int: layout),
             H.attr("linear_before_reset", int: linearBeforeReset ? 1 : 0)]
        }
    }

    func check(_ c: Case, file: StaticString = #filePath, line: UInt = #line) throws {
        let op = c.gates == 4 ? "LSTM" : "GRU"
        let outs = try H.run(op, opset: 14, inputs: c.inputs(), constant: [4], attributes: c.attributes(), outputs: c.gates == 4 ? 3 : 2)
        let (y, yh, yc) = c.reference()
        let what = "\(op) \(c.direction) layout \(c.layout) batch \(c.batch) lbr \(c.linearBeforeReset)"
        XCTAssertEqual(outs[0]!.shape, c.layout == 0 ? [c.sequence, c.directions, c.batch, c.hidden] : [c.batch, c.sequence, c.directions, c.hidden], what, file: file, line: line)
        XCTAssertEqual(outs[1]!.shape, c.stateShape, what, file: file, line: line)
        H.assertClose(outs[0]!.floats, y, tolerance: 2e-6, "\(what) Y", file: file, line: line)
        H.assertClose(outs[1]!.floats, yh, tolerance: 2e-6, "\(what) Y_h", file: file, line: line)
        if c.gates == 4 { H.assertClose(outs[2]!.floats, yc, tolerance: 2e-6, "\(what) Y_c", file: file, line: line) }
    }

    func testLSTMAgainstReferenceAllDirectionsLayoutsBatches() throws {
        var seed: UInt64 = 100
        for layout in [0, 1] {
            for (dirs, reverse) in [(1, false), (1, true), (2, false)] {
                for batch in [1, 3] {
                    seed += 10
                    try check(Case(gates: 4, directions: dirs, reverseOnly: reverse, sequence: 5, batch: batch, input: 4, hidden: 6,
                                   layout: layout, bias: true, initial: true, peepholes: true, seed: seed))
                    try check(Case(gates: 4, directions: dirs, reverseOnly: reverse, sequence: 4, batch: batch, input: 3, hidden: 5,
                                   layout: layout, bias: false, initial: false, seed: seed + 5))
                }
            }
        }
    }

    func testGRUAgainstReferenceAllDirectionsLayoutsBatches() throws {
        var seed: UInt64 = 500
        for layout in [0, 1] {
            for (dirs, reverse) in [(1, false), (1, true), (2, false)] {
                for batch in [1, 3] {
                    for lbr in [false, true] {
                        seed += 10
                        var c = Case(gates: 3, directions: dirs, reverseOnly: reverse, sequence: 5, batch: batch, input: 4, hidden: 6,
                                     layout: layout, bias: true, initial: true, seed: seed)
                        c.linearBeforeReset = lbr
                        try check(c)
                        var plain = Case(gates: 3, directions: dirs, reverseOnly: reverse, sequence: 3, batch: batch, input: 2, hidden: 4,
                                         layout: layout, bias: false, initial: false, seed: seed + 5)
                        plain.linearBeforeReset = lbr
                        try check(plain)
                    }
                }
            }
        }
    }

    /// Inputs shared with the ONNX Runtime script that produced the pinned values below:
    /// sin(a * i + b) * s as float32.
    func sinSeries(_ n: Int, _ a: Double, _ b: Double, _ s: Double) -> [Float] {
        (0..<n).map { Float(Foundation.sin(a * Double($0) + b) * s) }
    }

    func testCustomActivationsAndClipMatchOnnxRuntime() throws {
        let (s, n, i, h) = (3, 1, 3, 2)
        // LSTM, bidirectional, clip 0.5, six activations with alpha/beta consumed in order.
        do {
            let g = 4, d = 2
            let outs = try H.run("LSTM", opset: 14, inputs: [
                Tensor(shape: [s, n, i], floats: sinSeries(s * n * i, 0.7, 0.1, 1.5)),
                Tensor(shape: [d, g * h, i], floats: sinSeries(d * g * h * i, 0.37, 0.2, 0.9)),
                Tensor(shape: [d, g * h, h], floats: sinSeries(d * g * h * h, 0.53, 0.3, 0.8)),
                Tensor(shape: [d, 2 * g * h], floats: sinSeries(d * 2 * g * h, 0.91, 0.4, 0.5)),
            ], attributes: [
                H.attr("hidden_size", int: h), H.attr("direction", string: "bidirectional"), H.attr("clip", float: 0.5),
                H.attr("activations", strings: ["HardSigmoid", "LeakyRelu", "ScaledTanh", "Sigmoid", "Affine", "Softsign"]),
                H.attr("activation_alpha", floats: [0.3, 0.05, 0.9, 1.5]), H.attr("activation_beta", floats: [0.4, 1.1, 0.2]),
            ], outputs: 3)
            // ONNX Runtime 1.23 (CPU).
            let y: [Double] = [0.14533139765262604, 0.06605972349643707, 0.09426064789295197, -0.05594177916646004, 0.16010697185993195,
                               0.08124255388975143, 0.1792936623096466, 0.0521966926753521, 0.03955523297190666, 0.06792102009057999,
                               0.20829786360263824, 0.14029312133789062]
            let yc: [Double] = [0.1614968478679657, 0.12553197145462036, 0.332747220993042, -0.10778290033340454]
            H.assertClose(outs[0]!.floats, y, tolerance: 1e-6, "LSTM Y")
            H.assertClose(outs[1]!.floats, [0.03955523297190666, 0.06792102009057999, 0.09426064789295197, -0.05594177916646004], tolerance: 1e-6, "LSTM Y_h")
            H.assertClose(outs[2]!.floats, yc, tolerance: 1e-6, "LSTM Y_c")
        }
        // GRU, linear_before_reset, clip 0.5, HardSigmoid(0.3, default beta) and Elu(0.7).
        do {
            let g = 3, d = 1
            let outs = try H.run("GRU", opset: 14, inputs: [
                Tensor(shape: [s, n, i], floats: sinSeries(s * n * i, 0.7, 0.1, 1.5)),
                Tensor(shape: [d, g * h, i], floats: sinSeries(d * g * h * i, 0.37, 0.2, 0.9)),
                Tensor(shape: [d, g * h, h], floats: sinSeries(d * g * h * h, 0.53, 0.3, 0.8)),
                Tensor(shape: [d, 2 * g * h], floats: sinSeries(d * 2 * g * h, 0.91, 0.4, 0.5)),
            ], attributes: [
                H.attr("hidden_size", int: h), H.attr("clip", float: 0.5), H.attr("linear_before_reset", int: 1),
                H.attr("activations", strings: ["HardSigmoid", "Elu"]), H.attr("activation_alpha", floats: [0.3, 0.7]),
            ], outputs: 2)
            let y: [Double] = [-0.09639999270439148, -0.09639999270439148, -0.19566911458969116, -0.15905998647212982,
                               0.2565158009529114, -0.0515403114259243]
            H.assertClose(outs[0]!.floats, y, tolerance: 1e-6, "GRU Y")
            H.assertClose(outs[1]!.floats, Array(y.suffix(2)), tolerance: 1e-6, "GRU Y_h")
        }
    }

    func testUnsupportedRecurrentFeaturesAreErrors() {
        let c = Case(gates: 4, directions: 1, sequence: 4, batch: 2, input: 3, hidden: 5, layout: 0, bias: true, initial: true, seed: 7)
        var inputs = c.inputs()
        // A shorter sequence.
        inputs[4] = H.int32s([2], [4, 3])
        H.expectError(.unsupported) { _ = try H.run("LSTM", opset: 14, inputs: inputs, constant: [4], attributes: c.attributes(), outputs: 3) }
        // sequence_lens known only at run time.
        H.expectError(.unsupported) { _ = try H.run("LSTM", opset: 14, inputs: c.inputs(), attributes: c.attributes(), outputs: 3) }
        H.expectError(.unsupported) {
            _ = try H.run("LSTM", opset: 14, inputs: c.inputs(), constant: [4], attributes: c.attributes() + [H.attr("input_forget", int: 1)], outputs: 3)
        }
        H.expectError(.unsupported) {
            _ = try H.run("LSTM", opset: 14, inputs: c.inputs(), constant: [4],
                          attributes: c.attributes() + [H.attr("activations", strings: ["Sigmoid", "Gelu", "Tanh"])], outputs: 3)
        }
        H.expectError(.shape) {
            _ = try H.run("LSTM", opset: 14, inputs: c.inputs(), constant: [4],
                          attributes: c.attributes() + [H.attr("hidden_size", int: 4)], outputs: 3)
        }
        H.expectError(.shape) {
            _ = try H.run("GRU", opset: 14, inputs: Array(c.inputs().prefix(3)), attributes: [H.attr("direction", string: "sideways")], outputs: 2)
        }
        // W with the LSTM gate count given to GRU.
        H.expectError(.shape) { _ = try H.run("GRU", opset: 14, inputs: Array(c.inputs().prefix(3)), outputs: 2) }
    }

    func testOnlyYhRequestedAndEmptySequence() throws {
        let c = Case(gates: 3, directions: 2, sequence: 4, batch: 2, input: 3, hidden: 5, layout: 0, bias: true, initial: true, seed: 9)
        let outs = try H.run("GRU", opset: 14, inputs: Array(c.inputs().prefix(6)), constant: [4], attributes: c.attributes(),
                             outputs: 2, omitOutputs: [0])
        XCTAssertNil(outs[0])
        H.assertClose(outs[1]!.floats, c.reference().1, tolerance: 2e-6)
        // Zero time steps: Y is empty and Y_h is the initial state.
        let e = Case(gates: 4, directions: 1, sequence: 0, batch: 2, input: 3, hidden: 5, layout: 0, bias: true, initial: true, seed: 11)
        var inputs = e.inputs()
        inputs[4] = nil
        let eo = try H.run("LSTM", opset: 14, inputs: inputs, attributes: e.attributes(), outputs: 3)
        XCTAssertEqual(eo[0]!.shape, [0, 1, 2, 5])
        XCTAssertEqual(eo[1]!.floats, e.h0!)
        XCTAssertEqual(eo[2]!.floats, e.c0!)
    }
}
