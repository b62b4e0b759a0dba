import Foundation
import XCTest

/// Minimal reader of the `.npy` files written by tools/dsp_reference.py (format 1.x, '<f4', C order).
struct NPYArray {
    var shape: [Int]
    var values: [Float]

    static func load(_ name: String) throws -> NPYArray {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Resources").appendingPathComponent(name)
        let data = try Data(contentsOf: url)
        let bytes = [UInt8](data)
        guard bytes.count > 10, bytes[0] == 0x93, String(bytes: bytes[1..<6], encoding: .ascii) == "NUMPY" else {
            throw NSError(domain: "npy", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(name): not an npy file"])
        }
        let major = bytes[6]
        let headerLen: Int
        let headerStart: Int
        if major == 1 {
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        let header = String(bytes: bytes[headerStart..<(headerStart + headerLen)], encoding: .ascii) ?? ""
        guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False") else {
            throw NSError(domain: "npy", code: 2, userInfo: [NSLocalizedDescriptionKey: "\(name): unsupported header \(header)"])
        }
        let open = header.range(of: "(")!, close = header.range(of: ")")!
        let dims = header[open.upperBound..<close.lowerBound].split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = dims.reduce(1, *)
        let start = headerStart + headerLen
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<(start + 4 * count)]))
            }
        }
        return NPYArray(shape: dims, values: values)
    }
}

/// Deterministic pseudo-random numbers (SplitMix64) for reproducible tests.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }
    /// Standard normal (Box-Muller).
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-300), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}

/// Least-squares fit of `a*cos(w n) + b*sin(w n)` to `x[start..<end]`; returns (amplitude, phase) with
/// `x[n] ≈ amplitude * sin(w n + phase)`.
func fitSinusoid(_ x: [Float], omega: Double, start: Int, end: Int) -> (amplitude: Double, phase: Double) {
    var cc = 0.0, ss = 0.0, cs = 0.0, xc = 0.0, xs = 0.0
    for n in start..<end {
        let c = cos(omega * Double(n)), s = sin(omega * Double(n))
        cc += c * c; ss += s * s; cs += c * s
        xc += Double(x[n]) * c; xs += Double(x[n]) * s
    }
    let det = cc * ss - cs * cs
    let a = (xc * ss - xs * cs) / det
    let b = (xs * cc - xc * cs) / det
    // a cos + b sin = A sin(wn + phi) with A cos(phi) = b, A sin(phi) = a
    return ((a * a + b * b).squareRoot(), atan2(a, b))
}

/// RMS of `x[start..<end]`.
func rms(_ x: [Float], _ start: Int, _ end: Int) -> Double {
    var s = 0.0
    for n in start..<end { s += Double(x[n]) * Double(x[n]) }
    return (s / Double(max(1, end - start))).squareRoot()
}
