import ONNXFormat
import TMRVCRuntime

/// Reads NumPy `.npy` files (format 1.0-3.0, little-endian, C order), as used by the fixtures.
public enum NPY {
    /// A file that is not a supported `.npy` array.
    public struct Error: Swift.Error, CustomStringConvertible {
        /// The file.
        public let path: String
        /// What is wrong.
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Loads an array as a `Tensor` (float32, float64, int64, int32, bool, uint8).
    public static func load(path: String) throws -> Tensor {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw Error(path: path, reason: error.reason) }
        let bytes = UnsafeRawBufferPointer(start: file.bytes, count: file.count)
        func fail(_ r: String) -> Error { Error(path: path, reason: r) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else {
            throw fail("not a .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1: headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default: throw fail("unsupported .npy version \(major)")
        }
        guard headerStart + headerLength <= bytes.count else { throw fail("truncated header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = value(of: "descr", in: header)?.trimmingQuotes else { throw fail("header has no descr") }
        guard let order = value(of: "fortran_order", in: header), order.hasPrefix("False") else {
            throw fail("only C-order arrays are supported")
        }
        guard let shapeText = value(of: "shape", in: header), let open = shapeText.firstIndex(of: "("),
              let close = shapeText.firstIndex(of: ")") else { throw fail("header has no shape") }
        let shape = shapeText[shapeText.index(after: open)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }.compactMap { Int($0) }
        let type: DataType
        switch descr {
        case "<f4": type = .float
        case "<f8": type = .double
        case "<i8": type = .int64
        case "<i4": type = .int32
        case "|b1": type = .bool
        case "|u1": type = .uint8
        default: throw fail("unsupported dtype \(descr)")
        }
        let start = headerStart + headerLength
        let count = shape.reduce(1, *) * (type.byteSize ?? 0)
        guard bytes.count - start == count else {
            throw fail("data is \(bytes.count - start) bytes, shape \(shape) of \(descr) needs \(count)")
        }
        return Tensor(dataType: type, shape: shape, bytes: Array(bytes[start...]))
    }

    static func value(of key: String, in header: String) -> Substring? {
        guard let r = header.range(of: "'\(key)':") else { return nil }
        return header[r.upperBound...].drop { $0 == " " }
    }
}

extension Substring {
    var trimmingQuotes: String {
        let s = self.drop { $0 == "'" }
        return String(s.prefix { $0 != "'" })
    }

    func trimmingCharacters(in set: Character) -> String {
        String(self.drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}

extension String {
    func range(of needle: String) -> Range<String.Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}
