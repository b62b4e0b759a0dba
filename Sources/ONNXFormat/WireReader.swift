// Protobuf wire-format decoding over a byte range, with bounds checks on every read.
// Errors name the file, the field path and the byte offset.

/// The protobuf wire types used by ONNX.
public enum WireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// A malformed or unsupported ONNX file, with the place where the problem was found.
public struct ONNXFormatError: Error, CustomStringConvertible, Sendable {
    /// Path of the file being read.
    public let file: String
    /// Dotted field path, e.g. `ModelProto.graph.node[3].attribute[0].t`.
    public let field: String
    /// Byte offset in the file where the problem was detected.
    public let offset: Int
    /// What is wrong.
    public let reason: String

    public init(file: String, field: String, offset: Int, reason: String) {
        self.file = file
        self.field = field
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        "\(file): \(field) at byte \(offset): \(reason)"
    }
}

/// A cursor over a protobuf message held in memory. All reads are bounds-checked.
struct WireReader {
    let base: UnsafeRawPointer
    /// Absolute offset (in the file) of `base`, used for error messages.
    let fileOffset: Int
    let file: String
    var position: Int
    let end: Int
    var field: String
    /// Offset of the most recent tag, so that errors about a field's value point at the field.
    var tagStart: Int
    /// Field number of the most recent tag.
    var tagNumber: Int = 0
    /// Message nesting depth (bounded, so that a crafted file cannot exhaust the stack).
    var depth: Int = 0

    /// Deepest message nesting accepted (a model, graph, node, attribute, sub-graph chain uses
    /// three levels per sub-graph; value-info types five).
    static let maxDepth = 64

    init(base: UnsafeRawPointer, fileOffset: Int, start: Int, end: Int, file: String, field: String) {
        self.base = base
        self.fileOffset = fileOffset
        self.position = start
        self.end = end
        self.file = file
        self.field = field
        self.tagStart = start
    }

    var isAtEnd: Bool { position >= end }

    func error(_ reason: String, at pos: Int? = nil) -> ONNXFormatError {
        ONNXFormatError(file: file, field: field, offset: fileOffset + (pos ?? position), reason: reason)
    }

    /// An error about member `name` of the current message, at the start of its tag.
    func error(_ reason: String, member name: String) -> ONNXFormatError {
        ONNXFormatError(file: file, field: field + "." + name, offset: fileOffset + tagStart, reason: reason)
    }

    mutating func readVarint() throws(ONNXFormatError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < end else { throw error("truncated varint", at: start) }
            let byte = base.load(fromByteOffset: position, as: UInt8.self)
            position += 1
            if shift == 63 && byte > 1 { throw error("varint overflows 64 bits", at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw error("varint longer than 10 bytes", at: start) }
        }
    }

    /// Reads a tag; returns the field number and wire type.
    mutating func readTag() throws(ONNXFormatError) -> (field: Int, wire: WireType) {
        let start = position
        tagStart = start
        let tag = try readVarint()
        guard let wire = WireType(rawValue: UInt8(tag & 7)) else {
            throw error("invalid wire type \(tag & 7)", at: start)
        }
        let number = tag >> 3
        guard number > 0, number < (1 << 29) else { throw error("invalid field number \(number)", at: start) }
        tagNumber = Int(number)
        return (Int(number), wire)
    }

    mutating func readFixed32() throws(ONNXFormatError) -> UInt32 {
        guard end - position >= 4 else { throw error("truncated fixed32") }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(littleEndian: v)
    }

    mutating func readFixed64() throws(ONNXFormatError) -> UInt64 {
        guard end - position >= 8 else { throw error("truncated fixed64") }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(littleEndian: v)
    }

    /// Reads a length prefix and returns the byte range `[start, end)` of the payload.
    mutating func readLengthDelimited() throws(ONNXFormatError) -> Range<Int> {
        let start = position
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw error("length \(length) runs past the end of the enclosing message (\(end - position) bytes left)", at: start)
        }
        let range = position..<(position + Int(length))
        position += Int(length)
        return range
    }

    mutating func readString() throws(ONNXFormatError) -> String {
        let range = try readLengthDelimited()
        let bytes = UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func readBytes() throws(ONNXFormatError) -> [UInt8] {
        let range = try readLengthDelimited()
        return Array(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    mutating func readInt64(_ wire: WireType) throws(ONNXFormatError) -> Int64 {
        try expect(wire, .varint)
        return Int64(bitPattern: try readVarint())
    }

    mutating func readInt32(_ wire: WireType) throws(ONNXFormatError) -> Int32 {
        try expect(wire, .varint)
        let start = position
        let v = Int64(bitPattern: try readVarint())
        guard v >= Int64(Int32.min), v <= Int64(Int32.max) else { throw error("int32 field out of range: \(v)", at: start) }
        return Int32(v)
    }

    mutating func readFloat(_ wire: WireType) throws(ONNXFormatError) -> Float {
        try expect(wire, .fixed32)
        return Float(bitPattern: try readFixed32())
    }

    /// A sub-reader for an embedded message.
    mutating func readMessage(_ wire: WireType, field name: String) throws(ONNXFormatError) -> WireReader {
        try expect(wire, .lengthDelimited)
        guard depth < WireReader.maxDepth else {
            throw error("messages nested deeper than \(WireReader.maxDepth) levels", at: tagStart)
        }
        let range = try readLengthDelimited()
        var sub = WireReader(base: base, fileOffset: fileOffset, start: range.lowerBound, end: range.upperBound,
                             file: file, field: field + "." + name)
        sub.depth = depth + 1
        return sub
    }

    /// Checks the wire type of the field just tagged; errors point at the tag.
    func expect(_ got: WireType, _ want: WireType) throws(ONNXFormatError) {
        guard got == want else { throw error("wrong wire type \(got) for field \(tagNumber) (expected \(want))", at: tagStart) }
    }

    /// Appends a repeated scalar that may be packed or unpacked.
    mutating func readRepeatedVarint(_ wire: WireType, into out: inout [Int64]) throws(ONNXFormatError) {
        if wire == .lengthDelimited {
            let range = try readLengthDelimited()
            var sub = WireReader(base: base, fileOffset: fileOffset, start: range.lowerBound, end: range.upperBound,
                                 file: file, field: field)
            while !sub.isAtEnd { out.append(Int64(bitPattern: try sub.readVarint())) }
        } else {
            out.append(try readInt64(wire))
        }
    }

    mutating func readRepeatedFixed32(_ wire: WireType, into out: inout [UInt32]) throws(ONNXFormatError) {
        if wire == .lengthDelimited {
            let range = try readLengthDelimited()
            guard range.count % 4 == 0 else { throw error("packed fixed32 payload of \(range.count) bytes is not a multiple of 4", at: tagStart) }
            var p = range.lowerBound
            while p < range.upperBound {
                out.append(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
                p += 4
            }
        } else {
            try expect(wire, .fixed32)
            out.append(try readFixed32())
        }
    }

    mutating func readRepeatedFixed64(_ wire: WireType, into out: inout [UInt64]) throws(ONNXFormatError) {
        if wire == .lengthDelimited {
            let range = try readLengthDelimited()
            guard range.count % 8 == 0 else { throw error("packed fixed64 payload of \(range.count) bytes is not a multiple of 8", at: tagStart) }
            var p = range.lowerBound
            while p < range.upperBound {
                out.append(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
                p += 8
            }
        } else {
            try expect(wire, .fixed64)
            out.append(try readFixed64())
        }
    }

    /// Skips a field of an unknown number.
    mutating func skip(_ wire: WireType) throws(ONNXFormatError) {
        switch wire {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup, .endGroup: throw error("protobuf groups are not supported", at: tagStart)
        }
    }
}
