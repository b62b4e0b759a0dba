import XCTest
@testable import ONNXFormat
import TestSupport

final class DecodeTests: XCTestCase {
    func decode(_ bytes: [UInt8]) throws -> ONNXModel {
        let file = bytes.withUnsafeBytes { MappedFile(copying: $0, name: "mem.onnx") }
        return try ONNXModel.decode(file: file)
    }

    func testDecodesGraphNodesInitializersAndShapes() throws {
        let model = try decode(makeModel(nodes: [("Add", ["x", "w"], ["y"])]))
        XCTAssertEqual(model.defaultOpset, 17)
        XCTAssertEqual(model.graph.nodes.map(\.opType), ["Add"])
        XCTAssertEqual(model.graph.nodes[0].inputs, ["x", "w"])
        XCTAssertEqual(model.graph.initializers.first?.dims, [2])
        XCTAssertEqual(model.graph.initializers.first?.withBytes { Array($0.bindMemory(to: Float.self)) }, [1, 2])
        XCTAssertEqual(model.graph.inputs.first?.shape, [.value(2)])
    }

    func testTruncatedFileNamesFieldAndOffset() throws {
        let bytes = makeModel(nodes: [("Add", ["x", "w"], ["y"])])
        for cut in [1, 5, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try decode(Array(bytes[..<cut]))) { error in
                let e = error as! ONNXFormatError
                XCTAssertEqual(e.file, "mem.onnx")
                XCTAssertTrue(e.field.hasPrefix("ModelProto"), e.description)
                XCTAssertLessThanOrEqual(e.offset, cut)
            }
        }
    }

    func testRawDataSizeMismatchIsRejected() throws {
        var m = ProtoWriter()
        m.message(7) { g in
            g.message(5) { t in t.int(1, 3); t.int(2, 1); t.string(8, "w"); t.bytes(9, [0, 0, 0, 0]) }
        }
        XCTAssertThrowsError(try decode(m.bytes)) { error in
            let e = error as! ONNXFormatError
            XCTAssertTrue(e.field.contains("initializer[0](w).raw_data"), e.description)
            XCTAssertTrue(e.reason.contains("need 12"), e.reason)
        }
    }

    func testWrongWireTypeIsRejected() throws {
        var m = ProtoWriter()
        m.tag(7, 0); m.varint(5)   // graph encoded as a varint
        XCTAssertThrowsError(try decode(m.bytes)) { error in
            XCTAssertTrue((error as! ONNXFormatError).reason.contains("wrong wire type"))
        }
    }
}
