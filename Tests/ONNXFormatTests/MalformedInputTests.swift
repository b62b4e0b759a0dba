import Foundation
import XCTest
@testable import ONNXFormat
import TestSupport

/// Every malformed file must be rejected with an `ONNXFormatError` that names the file, the field
/// path and the byte offset of the problem; nothing may crash, hang or read out of bounds.
final class MalformedInputTests: XCTestCase {
    func decode(_ bytes: [UInt8], name: String = "bad.onnx") throws -> ONNXModel {
        let file = bytes.withUnsafeBytes { MappedFile(copying: $0, name: name) }
        return try ONNXModel.decode(file: file)
    }

    /// Decodes `bytes`, requires an `ONNXFormatError` and checks its file, field, offset and reason.
    @discardableResult
    func expectFormatError(_ bytes: [UInt8], name: String = "bad.onnx", field: String, offset: Int? = nil,
                           reason: String, file: StaticString = #filePath, line: UInt = #line) -> ONNXFormatError? {
        do {
            _ = try decode(bytes, name: name)
            XCTFail("decoded without error; expected \(field): \(reason)", file: file, line: line)
            return nil
        } catch let e as ONNXFormatError {
            XCTAssertEqual(e.file, name, file: file, line: line)
            XCTAssertEqual(e.field, field, e.description, file: file, line: line)
            if let offset { XCTAssertEqual(e.offset, offset, e.description, file: file, line: line) }
            XCTAssertGreaterThanOrEqual(e.offset, 0, file: file, line: line)
            XCTAssertLessThanOrEqual(e.offset, bytes.count, file: file, line: line)
            XCTAssertTrue(e.reason.contains(reason), "reason '\(e.reason)' lacks '\(reason)'", file: file, line: line)
            XCTAssertTrue(e.description.contains(name) && e.description.contains("byte \(e.offset)"), file: file, line: line)
            return e
        } catch {
            XCTFail("unexpected error type \(type(of: error)): \(error)", file: file, line: line)
            return nil
        }
    }

    /// Offset of the first occurrence of `needle` in `haystack`.
    func offset(of needle: [UInt8], in haystack: [UInt8]) -> Int {
        for i in 0...(haystack.count - needle.count) where Array(haystack[i..<(i + needle.count)]) == needle { return i }
        XCTFail("marker not found")
        return -1
    }

    // MARK: wire format

    func testTruncatedVarint() {
        var m = ProtoWriter()
        m.tag(1, 0); m.raw([0x88, 0x80])   // ir_version whose varint never ends
        expectFormatError(m.bytes, field: "ModelProto", offset: 1, reason: "truncated varint")

        // Inside a packed dims field of an initializer: the error names the nested field.
        let bytes = makeModel { g in
            g.message(5) { t in t.bytes(1, [0x02, 0x83]); t.int(2, 1); t.string(8, "w") }
        }
        expectFormatError(bytes, field: "ModelProto.graph.initializer[0]", reason: "truncated varint")
    }

    func testOverlongVarint() {
        var m = ProtoWriter()
        m.tag(1, 0); m.raw([UInt8](repeating: 0xFF, count: 11))
        expectFormatError(m.bytes, field: "ModelProto", offset: 1, reason: "varint")
        var n = ProtoWriter()
        n.tag(1, 0); n.raw([UInt8](repeating: 0xFF, count: 9) + [0x02])   // bit 64 set
        expectFormatError(n.bytes, field: "ModelProto", offset: 1, reason: "overflows 64 bits")
    }

    func testLengthPastEnd() {
        var m = ProtoWriter()
        m.int(1, 8)
        m.tag(7, 2); m.varint(100); m.raw([1, 2, 3])
        expectFormatError(m.bytes, field: "ModelProto", offset: 3, reason: "runs past the end")

        // A node whose length fits the file but not its enclosing graph message.
        var g = ProtoWriter()
        g.tag(1, 2); g.varint(50); g.raw([0x0A, 0x01, 0x78])
        var outer = ProtoWriter()
        outer.bytes(7, g.bytes)
        outer.raw([UInt8](repeating: 0, count: 64))
        expectFormatError(outer.bytes, field: "ModelProto.graph", offset: 3, reason: "runs past the end of the enclosing message")
    }

    func testWrongWireType() throws {
        // node.input (field 1, a string) encoded as a varint.
        let marker: [UInt8] = Array("MARKER_OP".utf8)
        let bytes = makeModel { g in
            g.message(1) { n in n.string(4, "MARKER_OP"); n.int(1, 5) }
        }
        let tagAt = offset(of: marker, in: bytes) + marker.count
        expectFormatError(bytes, field: "ModelProto.graph.node[0]", offset: tagAt, reason: "wrong wire type varint for field 1")

        // A float attribute (fixed32) encoded as a varint.
        let attr = makeModel { g in
            g.message(1) { n in n.string(4, "Elu"); n.message(5) { a in a.string(1, "alpha"); a.int(2, 1) } }
        }
        expectFormatError(attr, field: "ModelProto.graph.node[0].attribute[0]", reason: "wrong wire type varint for field 2")

        // Tensor dims (varint) encoded as fixed32.
        let dims = makeModel { g in g.message(5) { t in t.float32(1, 1) } }
        expectFormatError(dims, field: "ModelProto.graph.initializer[0]", reason: "wrong wire type fixed32 for field 1")
    }

    func testInvalidWireTypesGroupsAndFieldNumbers() {
        var a = ProtoWriter(); a.tag(3, 7); a.varint(1)
        expectFormatError(a.bytes, field: "ModelProto", offset: 0, reason: "invalid wire type 7")
        var b = ProtoWriter(); b.int(1, 8); b.tag(9, 3)
        expectFormatError(b.bytes, field: "ModelProto", offset: 2, reason: "groups are not supported")
        var c = ProtoWriter(); c.tag(0, 0); c.varint(1)
        expectFormatError(c.bytes, field: "ModelProto", offset: 0, reason: "invalid field number 0")
        var d = ProtoWriter(); d.int(1, 8)
        expectFormatError(d.bytes, field: "ModelProto", offset: 0, reason: "model has no graph")
        var e = ProtoWriter(); e.tag(99, 5); e.raw([1, 2])   // truncated fixed32 in an unknown field
        expectFormatError(e.bytes, field: "ModelProto", reason: "truncated fixed32")
        var f = ProtoWriter(); f.tag(99, 1); f.raw([1, 2, 3])
        expectFormatError(f.bytes, field: "ModelProto", reason: "truncated fixed64")
    }

    func testInt32FieldOutOfRange() {
        let bytes = makeModel { g in g.message(5) { t in t.int(2, 1 << 40) } }
        expectFormatError(bytes, field: "ModelProto.graph.initializer[0]", reason: "int32 field out of range")
    }

    func testDeeplyNestedSubgraphsAreRejected() {
        // If -> then_branch -> If -> ... far deeper than any real model.
        func nested(_ depth: Int) -> [UInt8] {
            var graph = ProtoWriter()
            graph.string(2, "leaf")
            for _ in 0..<depth {
                var n = ProtoWriter()
                n.string(4, "If")
                n.message(5) { a in a.string(1, "then_branch"); a.int(20, 5); a.bytes(6, graph.bytes) }
                var g = ProtoWriter()
                g.bytes(1, n.bytes)
                graph = g
            }
            var m = ProtoWriter()
            m.bytes(7, graph.bytes)
            return m.bytes
        }
        XCTAssertNoThrow(try decode(nested(10)))
        let deep = nested(300)
        XCTAssertThrowsError(try decode(deep)) { error in
            let e = error as! ONNXFormatError
            XCTAssertTrue(e.field.hasPrefix("ModelProto.graph.node[0].attribute[0].g.node[0]"), e.field)
            XCTAssertTrue(e.reason.contains("nested deeper than 64"), e.reason)
            XCTAssertTrue(e.offset > 0 && e.offset < deep.count)
        }
    }

    // MARK: tensors

    func testUnknownDataType() {
        let bytes = makeModel { g in g.message(5) { t in t.int(1, 1); t.int(2, 99); t.string(8, "w") } }
        let e = expectFormatError(bytes, field: "ModelProto.graph.initializer[0].data_type", reason: "unknown data type 99")
        XCTAssertEqual(e?.offset, offset(of: [0x10, 99], in: bytes))

        let input = makeModel { g in
            g.message(11) { v in v.string(1, "x"); v.message(2) { t in t.message(1) { tt in tt.int(1, 77) } } }
        }
        expectFormatError(input, field: "ModelProto.graph.input[0].type.tensor_type.elem_type", reason: "unknown data type 77")

        let attr = makeModel { g in
            g.message(1) { n in n.string(4, "Relu"); n.message(5) { a in a.string(1, "x"); a.int(20, 42) } }
        }
        expectFormatError(attr, field: "ModelProto.graph.node[0].attribute[0].type", reason: "unknown attribute type 42")

        let none = makeModel { g in g.message(5) { t in t.int(1, 1); t.string(8, "w"); t.bytes(9, [0, 0, 0, 0]) } }
        expectFormatError(none, field: "ModelProto.graph.initializer[0](w).data_type", reason: "no data_type")
    }

    func testRawDataByteCountMismatch() {
        let bytes = makeModel { g in
            g.message(5) { t in t.int(1, 2); t.int(1, 3); t.int(2, 1); t.string(8, "w"); t.bytes(9, [UInt8](repeating: 7, count: 20)) }
        }
        let payload = offset(of: [UInt8](repeating: 7, count: 20), in: bytes)
        expectFormatError(bytes, field: "ModelProto.graph.initializer[0](w).raw_data", offset: payload, reason: "raw_data has 20 bytes but dims [2, 3] of float32 need 24")

        let int64 = makeModel { g in g.message(5) { t in t.int(1, 2); t.int(2, 7); t.string(8, "i"); t.bytes(9, [UInt8](repeating: 0, count: 8)) } }
        expectFormatError(int64, field: "ModelProto.graph.initializer[0](i).raw_data", reason: "need 16")
    }

    func testTypedFieldElementCountMismatch() {
        let tensorAt: ([UInt8]) -> Int = { bytes in
            // The initializer's payload starts after the graph tag+length and the tensor tag+length.
            self.offset(of: [0x08, 0x03], in: bytes)
        }
        let floats = makeModel { g in g.message(5) { t in t.int(1, 3); t.int(2, 1); t.string(8, "f"); t.packedFloats(4, [1, 2]) } }
        expectFormatError(floats, field: "ModelProto.graph.initializer[0](f).float_data", offset: tensorAt(floats),
                          reason: "float_data holds 2 elements but dims [3] need 3 of float32")

        let unpacked = makeModel { g in g.message(5) { t in t.int(1, 3); t.int(2, 1); t.string(8, "f"); for v: Float in [1, 2, 3, 4] { t.float32(4, v) } } }
        expectFormatError(unpacked, field: "ModelProto.graph.initializer[0](f).float_data", reason: "holds 4 elements")

        let int64 = makeModel { g in g.message(5) { t in t.int(1, 3); t.int(2, 7); t.string(8, "i"); t.packedVarints(7, [1]) } }
        expectFormatError(int64, field: "ModelProto.graph.initializer[0](i).int64_data", reason: "holds 1 elements")

        let int32 = makeModel { g in g.message(5) { t in t.int(1, 3); t.int(2, 6); t.string(8, "i"); t.packedVarints(5, [1, 2, 3, 4]) } }
        expectFormatError(int32, field: "ModelProto.graph.initializer[0](i).int32_data", reason: "holds 4 elements")

        let bools = makeModel { g in g.message(5) { t in t.int(1, 3); t.int(2, 9); t.string(8, "b") } }
        expectFormatError(bools, field: "ModelProto.graph.initializer[0](b).int32_data", reason: "holds 0 elements")

        let doubles = makeModel { g in g.message(5) { t in t.int(1, 3); t.int(2, 11); t.string(8, "d"); t.double64(10, 1) } }
        expectFormatError(doubles, field: "ModelProto.graph.initializer[0](d).double_data", reason: "holds 1 elements")

        let uint64 = makeModel { g in g.message(5) { t in t.int(1, 3); t.int(2, 13); t.string(8, "u"); t.packedVarints(11, [1, 2]) } }
        expectFormatError(uint64, field: "ModelProto.graph.initializer[0](u).uint64_data", reason: "holds 2 elements")

        let strings = makeModel { g in g.message(5) { t in t.int(1, 2); t.int(2, 8); t.string(8, "s"); t.string(6, "a") } }
        expectFormatError(strings, field: "ModelProto.graph.initializer[0](s).string_data", reason: "holds 1 elements")

        let packed = makeModel { g in g.message(5) { t in t.int(1, 1); t.int(2, 1); t.string(8, "f"); t.bytes(4, [0, 0, 0]) } }
        expectFormatError(packed, field: "ModelProto.graph.initializer[0]", reason: "not a multiple of 4")
    }

    func testInvalidDims() {
        let negative = makeModel { g in g.message(5) { t in t.int(1, -1); t.int(2, 1); t.string(8, "w") } }
        expectFormatError(negative, field: "ModelProto.graph.initializer[0](w).dims", reason: "invalid dimension -1")
        let huge = makeModel { g in g.message(5) { t in for _ in 0..<3 { t.int(1, 1 << 30) }; t.int(2, 1); t.string(8, "w") } }
        expectFormatError(huge, field: "ModelProto.graph.initializer[0](w).dims", reason: "too many elements")
    }

    // MARK: external data

    /// A model file in a fresh directory whose initializer `w` (float32, `dims`) is external.
    func writeExternalModel(dims: [Int], entries: [(String, String)], dataFiles: [String: [UInt8]] = [:],
                            inAttribute: Bool = false) throws -> (dir: URL, model: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-ext-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for (name, bytes) in dataFiles {
            let url = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
        func tensor(_ t: inout ProtoWriter) {
            for d in dims { t.int(1, Int64(d)) }
            t.int(2, 1)
            t.string(8, "w")
            for (k, v) in entries { t.message(13) { e in e.string(1, k); e.string(2, v) } }
            t.int(14, 1)
        }
        let bytes = makeModel { g in
            if inAttribute {
                node(&g, "Constant", [], ["w"]) { n in n.message(5) { a in a.string(1, "value"); a.int(20, 4); a.message(5, tensor) } }
            } else {
                g.message(5, tensor)
            }
        }
        let model = dir.appendingPathComponent("model.onnx").path
        try Data(bytes).write(to: URL(fileURLWithPath: model))
        return (dir, model)
    }

    func expectLoadError(_ model: String, field: String, reason: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ONNXModel.load(path: model), file: file, line: line) { error in
            guard let e = error as? ONNXFormatError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(e.file, model, file: file, line: line)
            XCTAssertEqual(e.field, field, e.description, file: file, line: line)
            XCTAssertTrue(e.reason.contains(reason), e.description, file: file, line: line)
            XCTAssertGreaterThan(e.offset, 0, "points at the tensor", file: file, line: line)
        }
    }

    func testExternalDataResolves() throws {
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        let data = [UInt8](repeating: 0xEE, count: 8) + values.withUnsafeBytes { Array($0) }
        let (_, model) = try writeExternalModel(dims: [2, 3], entries: [("location", "weights/w.bin"), ("offset", "8"), ("length", "24")],
                                                dataFiles: ["weights/w.bin": data])
        let m = try ONNXModel.load(path: model)
        XCTAssertEqual(m.graph.initializers[0].withBytes { Array($0.bindMemory(to: Float.self)) }, values)

        let (_, attrModel) = try writeExternalModel(dims: [6], entries: [("location", "w.bin")],
                                                    dataFiles: ["w.bin": values.withUnsafeBytes { Array($0) }], inAttribute: true)
        let a = try ONNXModel.load(path: attrModel)
        XCTAssertEqual(a.graph.nodes[0].attributes[0].t?.withBytes { Array($0.bindMemory(to: Float.self)) }, values)
    }

    func testExternalDataOutsideItsFile() throws {
        let field = "ModelProto.graph.initializer[0](w).external_data"
        let (_, past) = try writeExternalModel(dims: [4], entries: [("location", "w.bin"), ("offset", "8")],
                                               dataFiles: ["w.bin": [UInt8](repeating: 0, count: 16)])
        expectLoadError(past, field: field, reason: "lies outside")
        let (_, far) = try writeExternalModel(dims: [2], entries: [("location", "w.bin"), ("offset", "\(Int.max)")],
                                              dataFiles: ["w.bin": [UInt8](repeating: 0, count: 16)])
        expectLoadError(far, field: field, reason: "lies outside")
        let (_, length) = try writeExternalModel(dims: [4], entries: [("location", "w.bin"), ("length", "12")],
                                                 dataFiles: ["w.bin": [UInt8](repeating: 0, count: 16)])
        expectLoadError(length, field: field, reason: "external length 12 does not match")
        let (_, badOffset) = try writeExternalModel(dims: [1], entries: [("location", "w.bin"), ("offset", "-4")],
                                                    dataFiles: ["w.bin": [0, 0, 0, 0]])
        expectLoadError(badOffset, field: field, reason: "offset '-4' is not a non-negative integer")
        let (_, noLocation) = try writeExternalModel(dims: [1], entries: [("offset", "0")])
        expectLoadError(noLocation, field: field, reason: "no location")
    }

    func testExternalDataMissingFile() throws {
        let (_, model) = try writeExternalModel(dims: [4], entries: [("location", "missing.bin")])
        expectLoadError(model, field: "ModelProto.graph.initializer[0](w).external_data", reason: "cannot open external data file")
        let (_, attr) = try writeExternalModel(dims: [4], entries: [("location", "missing.bin")], inAttribute: true)
        expectLoadError(attr, field: "ModelProto.graph.node[0].attribute[0].t.external_data", reason: "cannot open external data file")
        let (_, dir) = try writeExternalModel(dims: [4], entries: [("location", "sub/")], dataFiles: ["sub/x": [1]])
        expectLoadError(dir, field: "ModelProto.graph.initializer[0](w).external_data", reason: "not a regular file")
    }

    func testExternalDataFifoDoesNotHang() throws {
        let (dir, model) = try writeExternalModel(dims: [1], entries: [("location", "pipe")])
        XCTAssertEqual(mkfifo(dir.appendingPathComponent("pipe").path, 0o600), 0)
        expectLoadError(model, field: "ModelProto.graph.initializer[0](w).external_data", reason: "not a regular file")
    }

    func testExternalDataPathEscapingTheDirectory() throws {
        let field = "ModelProto.graph.initializer[0](w).external_data"
        for location in ["../secret.bin", "a/../../secret.bin", "/etc/passwd", "w.bin\u{0}/../../x"] {
            let (_, model) = try writeExternalModel(dims: [1], entries: [("location", location)], dataFiles: ["w.bin": [0, 0, 0, 0]])
            expectLoadError(model, field: field, reason: "must be a relative path inside the model's directory")
        }
        // A symbolic link inside the directory that points outside it.
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-secret-\(UUID().uuidString).bin")
        try Data([0, 0, 0, 0]).write(to: outside)
        addTeardownBlock { try? FileManager.default.removeItem(at: outside) }
        let (dir, model) = try writeExternalModel(dims: [1], entries: [("location", "link.bin")])
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link.bin").path, withDestinationPath: outside.path)
        expectLoadError(model, field: field, reason: "outside the model's directory")
        // A link that stays inside is fine.
        try Data([0, 0, 128, 63]).write(to: dir.appendingPathComponent("real.bin"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("link.bin"))
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link.bin").path, withDestinationPath: "real.bin")
        let m = try ONNXModel.load(path: model)
        XCTAssertEqual(m.graph.initializers[0].withBytes { Array($0.bindMemory(to: Float.self)) }, [1])
    }

    func testMissingModelFile() {
        XCTAssertThrowsError(try ONNXModel.load(path: "/nonexistent/model.onnx")) { error in
            let e = error as! ONNXFormatError
            XCTAssertEqual(e.file, "/nonexistent/model.onnx")
            XCTAssertTrue(e.reason.contains("cannot open"), e.description)
        }
        XCTAssertThrowsError(try decodeTensorFile(path: "/nonexistent/input_0.pb"))
    }

    // MARK: exhaustive corruption of a small valid model

    /// Every prefix and every single-byte corruption of a valid model either decodes or throws
    /// an `ONNXFormatError` with an offset inside the file: never a crash.
    func testEveryTruncationAndByteCorruption() {
        let bytes = makeModel(nodes: [("Add", ["x", "w"], ["y"]), ("Relu", ["y"], ["z"])])
        for cut in 0..<bytes.count {
            do { _ = try decode(Array(bytes[..<cut])) } catch let e as ONNXFormatError {
                XCTAssertLessThanOrEqual(e.offset, cut)
            } catch { XCTFail("\(error)") }
        }
        for i in bytes.indices {
            for v: UInt8 in [0x00, 0x07, 0x7F, 0x80, 0xFF, bytes[i] ^ 0x01] {
                var b = bytes
                b[i] = v
                do { _ = try decode(b) } catch let e as ONNXFormatError {
                    XCTAssertLessThanOrEqual(e.offset, b.count, e.description)
                } catch { XCTFail("\(error)") }
            }
        }
    }
}
