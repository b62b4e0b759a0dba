import Foundation
import XCTest
import CTMRVC
import TMRVCAudioIO
import TMRVCCAPI
import TMRVCEngine
import TMRVCKernels
import TestSupport

/// The C API (Sources/CTMRVC/include/tmrvc.h) called through its C entry points: error codes for
/// every misuse, dry output until a speaker arrives, channel handling, block splitting, thread-safe
/// reads, and the example C host (examples/c-host) compiled with `cc` and checked against `tmrvc convert`.
final class CAPITests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let weights = root + "/weights"
    static let speakerPath = root + "/weights/speakers/flite_rms.tmrvc_speaker"
    static let input = root + "/Tests/Fixtures/audio/utt2_en-gb-m3.wav"
    /// Directory of the built products (the test bundle's folder).
    static var productsDirectory: String {
        let bundle = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundlePath ?? CommandLine.arguments[0]
        return (bundle as NSString).deletingLastPathComponent
    }

    func makeEngine(rate: UInt32 = 48000, block: UInt32 = 512, channels: UInt32 = 1) throws -> OpaquePointer {
        var e: OpaquePointer?
        var message = [CChar](repeating: 0, count: 512)
        let s = tmrvc_create(Self.weights, 0, &e, &message, message.count)
        XCTAssertEqual(s, TMRVC_OK, text(message))
        let engine = try XCTUnwrap(e)
        XCTAssertEqual(tmrvc_prepare(engine, rate, block, channels), TMRVC_OK)
        return engine
    }

    func lastError(_ e: OpaquePointer?) -> String {
        var b = [CChar](repeating: 0, count: 1024)
        _ = tmrvc_last_error(e, &b, b.count)
        return text(b)
    }

    /// Processes mono `x` in blocks of `block` frames; returns the output.
    func process(_ e: OpaquePointer, _ x: [Float], block: Int) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xi in y.withUnsafeMutableBufferPointer { yo in
            var done = 0
            while done < x.count {
                let n = min(block, x.count - done)
                var ins: [UnsafePointer<Float>?] = [xi.baseAddress! + done]
                var outs: [UnsafeMutablePointer<Float>?] = [yo.baseAddress! + done]
                XCTAssertEqual(tmrvc_process(e, &ins, &outs, UInt32(n)), n > 512 ? TMRVC_BLOCK_SPLIT : TMRVC_OK)
                done += n
            }
        } }
        return y
    }

    /// A NUL-terminated C string buffer as a Swift string.
    func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func sine(_ count: Int, rate: Double = 48000, hz: Double = 220, amplitude: Float = 0.3) -> [Float] {
        (0..<count).map { amplitude * Float(sin(2 * Double.pi * hz * Double($0) / rate)) }
    }

    func testVersionStatusStringsAndParameterInfo() {
        XCTAssertEqual(tmrvc_abi_version(), TMRVC_ABI_VERSION)
        XCTAssertEqual(tmrvc_cpu_supported(), 1, "every x86-64 CPU is supported (qemu -cpu Nehalem runs it in tools/test.sh)")
        let kernels = String(cString: tmrvc_kernels())
        XCTAssertTrue(["avx2", "generic"].contains(kernels), kernels)
        XCTAssertEqual(kernels, KernelSet.active.name, "the C API reports the build the engine uses")
        for s in [TMRVC_OK, TMRVC_BLOCK_SPLIT, TMRVC_ERROR_NULL_HANDLE, TMRVC_ERROR_INVALID_ARGUMENT, TMRVC_ERROR_UNSUPPORTED_RATE,
                  TMRVC_ERROR_UNSUPPORTED_BLOCK, TMRVC_ERROR_NOT_PREPARED, TMRVC_ERROR_MODEL, TMRVC_ERROR_SPEAKER] {
            XCTAssertNotEqual(String(cString: tmrvc_status_string(s)), "unknown status", "\(s)")
        }
        XCTAssertEqual(String(cString: tmrvc_status_string(tmrvc_status(rawValue: 42))), "unknown status")
        var names: [String] = []
        for i in 0..<TMRVC_PARAM_COUNT.rawValue {
            var lo: Float = 0, hi: Float = 0, d: Float = 0
            var name: UnsafePointer<CChar>?
            XCTAssertEqual(tmrvc_parameter_info(tmrvc_parameter(rawValue: i), &lo, &hi, &d, &name), TMRVC_OK)
            XCTAssertTrue(lo < hi && (lo...hi).contains(d))
            names.append(String(cString: name!))
        }
        XCTAssertEqual(names, ["q", "pitch", "dry_wet", "gain", "gate", "register_mode", "voice_source"])
        XCTAssertEqual(tmrvc_parameter_info(TMRVC_PARAM_COUNT, nil, nil, nil, nil), TMRVC_ERROR_INVALID_ARGUMENT)
    }

    /// Every misuse gets an error code (and a message naming the problem), never a crash.
    func testErrorsAreCodesNeverCrashes() throws {
        // NULL handle everywhere.
        let x: [Float] = [0.1, 0.2]
        var y: [Float] = [9, 9]
        var ins: [UnsafePointer<Float>?] = [nil]
        var outs: [UnsafeMutablePointer<Float>?] = [nil]
        XCTAssertEqual(tmrvc_prepare(nil, 48000, 512, 1), TMRVC_ERROR_NULL_HANDLE)
        XCTAssertEqual(tmrvc_reset(nil), TMRVC_ERROR_NULL_HANDLE)
        XCTAssertEqual(tmrvc_process(nil, &ins, &outs, 2), TMRVC_ERROR_NULL_HANDLE)
        XCTAssertEqual(tmrvc_set_parameter(nil, TMRVC_PARAM_Q, 0.5), TMRVC_ERROR_NULL_HANDLE)
        XCTAssertTrue(tmrvc_get_parameter(nil, TMRVC_PARAM_Q).isNaN)
        XCTAssertEqual(tmrvc_latency_samples(nil), 0)
        XCTAssertEqual(tmrvc_load_speaker(nil, Self.speakerPath), TMRVC_ERROR_NULL_HANDLE)
        XCTAssertEqual(tmrvc_load_speaker_memory(nil, x, 8), TMRVC_ERROR_NULL_HANDLE)
        XCTAssertEqual(tmrvc_speaker_generation(nil), 0)
        var stats = tmrvc_statistics()
        XCTAssertEqual(tmrvc_get_statistics(nil, &stats, MemoryLayout<tmrvc_statistics>.size), TMRVC_ERROR_NULL_HANDLE)
        XCTAssertEqual(lastError(nil), "the engine handle is NULL")
        tmrvc_destroy(nil)
        // Creation failures name the file.
        var e: OpaquePointer?
        var message = [CChar](repeating: 0, count: 512)
        XCTAssertEqual(tmrvc_create("/nonexistent/models", 0, &e, &message, message.count), TMRVC_ERROR_MODEL)
        XCTAssertNil(e)
        XCTAssertTrue(text(message).contains("/nonexistent/models/content_encoder.onnx"), text(message))
        XCTAssertEqual(tmrvc_create(nil, 0, &e, &message, message.count), TMRVC_ERROR_INVALID_ARGUMENT)
        XCTAssertEqual(tmrvc_create(Self.weights, 0x80, &e, &message, message.count), TMRVC_ERROR_INVALID_ARGUMENT)
        XCTAssertTrue(text(message).contains("unknown flags"))
        XCTAssertEqual(tmrvc_create(Self.weights, TMRVC_CREATE_FLOAT16 | TMRVC_CREATE_INT8, &e, &message, message.count),
                       TMRVC_ERROR_INVALID_ARGUMENT)
        XCTAssertTrue(text(message).contains("exclude each other"), text(message))
        XCTAssertNil(e)
        // int8 weights: an engine that runs.
        XCTAssertEqual(tmrvc_create(Self.weights, TMRVC_CREATE_INT8, &e, &message, message.count), TMRVC_OK, text(message))
        tmrvc_destroy(try XCTUnwrap(e))
        // A truncated message buffer stays NUL-terminated; the full length is returned.
        XCTAssertEqual(tmrvc_create(Self.weights, 0, &e, &message, 0), TMRVC_OK)
        let engine = try XCTUnwrap(e)
        defer { tmrvc_destroy(engine) }
        // Processing before prepare: silence and a code.
        x.withUnsafeBufferPointer { xi in y.withUnsafeMutableBufferPointer { yo in
            ins = [xi.baseAddress!]
            outs = [yo.baseAddress!]
            XCTAssertEqual(tmrvc_process(engine, &ins, &outs, 2), TMRVC_ERROR_NOT_PREPARED)
        } }
        XCTAssertEqual(y, [0, 0])
        XCTAssertEqual(tmrvc_reset(engine), TMRVC_ERROR_NOT_PREPARED)
        // Unsupported rates, blocks and channel counts.
        XCTAssertEqual(tmrvc_prepare(engine, 22050, 512, 1), TMRVC_ERROR_UNSUPPORTED_RATE)
        XCTAssertTrue(lastError(engine).contains("22050 Hz is not supported"), lastError(engine))
        var small = [CChar](repeating: 0, count: 8)
        XCTAssertGreaterThan(tmrvc_last_error(engine, &small, small.count), 7)
        XCTAssertEqual(small[7], 0)
        XCTAssertEqual(tmrvc_prepare(engine, 48000, 0, 1), TMRVC_ERROR_UNSUPPORTED_BLOCK)
        XCTAssertEqual(tmrvc_prepare(engine, 48000, 70000, 1), TMRVC_ERROR_UNSUPPORTED_BLOCK)
        XCTAssertEqual(tmrvc_prepare(engine, 48000, 512, 0), TMRVC_ERROR_UNSUPPORTED_BLOCK)
        XCTAssertEqual(tmrvc_prepare(engine, 48000, 512, 17), TMRVC_ERROR_UNSUPPORTED_BLOCK)
        XCTAssertEqual(tmrvc_prepare(engine, 44100, 512, 2), TMRVC_OK)
        // NULL buffers.
        ins = [nil, nil]
        outs = [nil, nil]
        XCTAssertEqual(tmrvc_process(engine, nil, &outs, 2), TMRVC_ERROR_INVALID_ARGUMENT)
        XCTAssertEqual(tmrvc_process(engine, &ins, &outs, 2), TMRVC_ERROR_INVALID_ARGUMENT)
        // Parameters: unknown ids and non-finite values change nothing; values are clamped.
        XCTAssertEqual(tmrvc_set_parameter(engine, TMRVC_PARAM_PITCH, 3), TMRVC_OK)
        XCTAssertEqual(tmrvc_set_parameter(engine, TMRVC_PARAM_PITCH, .nan), TMRVC_ERROR_INVALID_ARGUMENT)
        XCTAssertEqual(tmrvc_set_parameter(engine, TMRVC_PARAM_PITCH, .infinity), TMRVC_ERROR_INVALID_ARGUMENT)
        XCTAssertEqual(tmrvc_get_parameter(engine, TMRVC_PARAM_PITCH), 3)
        XCTAssertEqual(tmrvc_set_parameter(engine, TMRVC_PARAM_GAIN, 100), TMRVC_OK)
        XCTAssertEqual(tmrvc_get_parameter(engine, TMRVC_PARAM_GAIN), 24)
        XCTAssertEqual(tmrvc_set_parameter(engine, TMRVC_PARAM_REGISTER_MODE, 1), TMRVC_OK)
        XCTAssertEqual(tmrvc_get_parameter(engine, TMRVC_PARAM_REGISTER_MODE), 1)
        XCTAssertEqual(tmrvc_set_parameter(engine, TMRVC_PARAM_COUNT, 0), TMRVC_ERROR_INVALID_ARGUMENT)
        XCTAssertTrue(tmrvc_get_parameter(engine, TMRVC_PARAM_COUNT).isNaN)
        // Speakers: missing, corrupt, empty, oversized.
        XCTAssertEqual(tmrvc_load_speaker(engine, "/nonexistent/v.tmrvc_speaker"), TMRVC_ERROR_SPEAKER)
        XCTAssertTrue(lastError(engine).contains("/nonexistent/v.tmrvc_speaker"), lastError(engine))
        XCTAssertEqual(tmrvc_load_speaker(engine, nil), TMRVC_ERROR_INVALID_ARGUMENT)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.speakerPath)))
        bytes[100] ^= 0xFF
        XCTAssertEqual(tmrvc_load_speaker_memory(engine, bytes, bytes.count), TMRVC_ERROR_SPEAKER)
        XCTAssertTrue(lastError(engine).contains("checksum mismatch"), lastError(engine))
        XCTAssertEqual(tmrvc_load_speaker_memory(engine, bytes, 0), TMRVC_ERROR_INVALID_ARGUMENT)
        XCTAssertEqual(tmrvc_load_speaker_memory(engine, bytes, SpeakerProfile.maximumFileSize + 1), TMRVC_ERROR_SPEAKER)
        XCTAssertEqual(tmrvc_speaker_generation(engine), 0)
        XCTAssertEqual(tmrvc_get_statistics(engine, nil, 8), TMRVC_ERROR_INVALID_ARGUMENT)
    }

    /// Without a speaker the output is the input delayed by the reported latency, exactly; once a
    /// speaker arrives (from memory, as a host restores its state) the output is converted.
    func testDryUntilASpeakerArrivesThenConverted() throws {
        let e = try makeEngine()
        defer { tmrvc_destroy(e) }
        let latency = Int(tmrvc_latency_samples(e))
        let swiftEngine = try StreamingEngine(modelsDirectory: Self.weights)
        try swiftEngine.prepare(sampleRate: 48000, maxBlockSize: 512)
        XCTAssertEqual(latency, swiftEngine.latencySamples)
        XCTAssertGreaterThan(latency, 960)
        let x = sine(48000 / 2)
        let dry = process(e, x, block: 333)
        XCTAssertEqual(Array(dry[latency...]), Array(x[..<(x.count - latency)]))
        XCTAssertTrue(dry[..<latency].allSatisfy { $0 == 0 })
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.speakerPath)))
        XCTAssertEqual(tmrvc_load_speaker_memory(e, bytes, bytes.count), TMRVC_OK)
        let wet = process(e, x, block: 333)
        XCTAssertEqual(tmrvc_speaker_generation(e), 1)
        XCTAssertTrue(wet.allSatisfy(\.isFinite))
        let tail = Array(wet[(wet.count / 2)...]), reference = Array(x[(x.count / 2 - latency)..<(x.count - latency)])
        let difference = zip(tail, reference).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(difference, 0.05, "converted output must differ from the dry input")
        var stats = tmrvc_statistics()
        XCTAssertEqual(tmrvc_get_statistics(e, &stats, MemoryLayout<tmrvc_statistics>.size), TMRVC_OK)
        XCTAssertLessThanOrEqual(abs(Int(stats.hops) - 2 * x.count / 480), 1)   // 2 x 0.5 s at 48 kHz = 100 hops of 10 ms
        XCTAssertEqual(stats.crossfades, 0, "the first speaker starts without a crossfade")
        XCTAssertEqual(Int(stats.latency_samples), latency)
    }

    /// Two channels: averaged to mono, the converted signal on both outputs, equal to a mono
    /// engine fed the average. Blocks longer than prepared are processed in pieces (code 1).
    func testStereoAndLongBlocks() throws {
        let stereo = try makeEngine(channels: 2), mono = try makeEngine(channels: 1)
        defer { tmrvc_destroy(stereo); tmrvc_destroy(mono) }
        XCTAssertEqual(tmrvc_load_speaker(stereo, Self.speakerPath), TMRVC_OK)
        XCTAssertEqual(tmrvc_load_speaker(mono, Self.speakerPath), TMRVC_OK)
        let l = sine(24000, hz: 180), r = sine(24000, hz: 260, amplitude: 0.2)
        let average = zip(l, r).map { ($0 + $1) / 2 }
        var left = [Float](repeating: 0, count: l.count), right = left
        l.withUnsafeBufferPointer { li in r.withUnsafeBufferPointer { ri in
            left.withUnsafeMutableBufferPointer { lo in right.withUnsafeMutableBufferPointer { ro in
                var ins: [UnsafePointer<Float>?] = [li.baseAddress!, ri.baseAddress!]
                var outs: [UnsafeMutablePointer<Float>?] = [lo.baseAddress!, ro.baseAddress!]
                XCTAssertEqual(tmrvc_process(stereo, &ins, &outs, UInt32(l.count)), TMRVC_BLOCK_SPLIT)
            } }
        } }
        XCTAssertEqual(left, right)
        let expected = process(mono, average, block: 100)
        XCTAssertTrue(left == expected, "stereo output must equal the mono engine fed the channel average")
    }

    /// Latency and statistics are read from another thread while audio runs (ThreadSanitizer
    /// checks this in CI's sanitizer job); the latency follows q.
    func testLatencyAndStatisticsFromAnotherThread() throws {
        let e = try makeEngine()
        defer { tmrvc_destroy(e) }
        XCTAssertEqual(tmrvc_load_speaker(e, Self.speakerPath), TMRVC_OK)
        let q0 = Int(tmrvc_latency_samples(e))
        let stop = ManagedAtomicFlag()
        let finished = DispatchSemaphore(value: 0)
        let address = UInt(bitPattern: e)
        let reader = Thread {
            let e = OpaquePointer(bitPattern: address)
            var s = tmrvc_statistics()
            while !stop.isSet {
                _ = tmrvc_latency_samples(e)
                _ = tmrvc_get_statistics(e, &s, MemoryLayout<tmrvc_statistics>.size)
                _ = tmrvc_speaker_generation(e)
            }
            finished.signal()
        }
        reader.start()
        XCTAssertEqual(tmrvc_set_parameter(e, TMRVC_PARAM_Q, 1), TMRVC_OK)
        _ = process(e, sine(48000 / 4), block: 480)
        stop.set()
        finished.wait()   // the reader's last calls end before the engine is destroyed (the C API's contract)
        let q1 = Int(tmrvc_latency_samples(e))
        var s = tmrvc_statistics()
        XCTAssertEqual(tmrvc_get_statistics(e, &s, MemoryLayout<tmrvc_statistics>.size), TMRVC_OK)
        // Each hop of lookahead adds 10 ms (480 samples at 48 kHz). The overload control may have
        // lowered q on a slow (debug) build: the latency follows the q in use.
        let lookahead = QualityProfile(quality: s.effective_q).lookaheadHops
        XCTAssertGreaterThan(lookahead, 0, "q = 1 (or a lowered q > 0) must add lookahead")
        XCTAssertEqual(q1 - q0, lookahead * 480)
        XCTAssertEqual(Int(s.latency_samples), q1)
        XCTAssertGreaterThanOrEqual(s.crossfades, 1)
        // A short struct (an older header) gets only the fields it knows.
        var prefix = [UInt64](repeating: .max, count: 2)
        XCTAssertEqual(tmrvc_get_statistics(e, &prefix, 8), TMRVC_OK)
        XCTAssertEqual(prefix[0], s.hops)
        XCTAssertEqual(prefix[1], .max)
    }

    /// examples/c-host/tmrvc_stream.c, compiled with the system C compiler against tmrvc.h and the
    /// library (TMRVC_C_LIBRARY, else the build's libtmrvc-c.so), streams a recording in odd-sized
    /// blocks; its aligned output equals `tmrvc convert --float` of the same file.
    func testExampleCHostMatchesConvert() throws {
        let library = ProcessInfo.processInfo.environment["TMRVC_C_LIBRARY"] ?? Self.productsDirectory + "/libtmrvc-c.so"
        guard FileManager.default.fileExists(atPath: library) else { return XCTFail("\(library) not built (swift build builds it)") }
        let dir = NSTemporaryDirectory() + "tmrvc-capi-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let libDir = dir + "/lib"
        try FileManager.default.createDirectory(atPath: libDir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: libDir + "/libtmrvc.so", withDestinationPath: library)
        let host = dir + "/tmrvc_stream"
        let cc = try run("/usr/bin/env", ["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-std=c11", "-I", Self.root + "/Sources/CTMRVC/include",
                                          Self.root + "/examples/c-host/tmrvc_stream.c", "-L", libDir, "-ltmrvc", "-lsndfile",
                                          "-Wl,-rpath," + libDir, "-o", host])
        XCTAssertEqual(cc.status, 0, cc.err)
        let viaC = dir + "/c.wav", viaCLI = dir + "/cli.wav"
        let h = try run(host, [Self.weights, Self.speakerPath, Self.input, viaC, "0", "-2"])
        XCTAssertEqual(h.status, 0, h.err)
        XCTAssertTrue(h.err.contains("1 speaker(s) picked up"), h.err)
        let c = try run(Self.productsDirectory + "/tmrvc", ["convert", Self.input, "-o", viaCLI, "--speaker", Self.speakerPath,
                                                            "--q", "0", "--pitch", "-2", "--float"])
        XCTAssertEqual(c.status, 0, c.err)
        let a = try AudioFile.read(path: viaC), b = try AudioFile.read(path: viaCLI)
        XCTAssertEqual(a.samples.count, b.samples.count)
        let diff = zip(a.samples, b.samples).map { abs($0 - $1) }.max() ?? .infinity
        let peak = b.samples.map(abs).max() ?? 0
        print("example C host vs tmrvc convert: max |difference| \(diff), output peak \(peak)")
        XCTAssertGreaterThan(peak, 0.01)
        XCTAssertLessThanOrEqual(diff, 1e-5)
        XCTAssertTrue(h.err.contains("\(KernelSet.active.name) kernels"), h.err)

        // The same host with the generic (baseline x86-64) kernels forced: same length, close output.
        let viaGeneric = dir + "/generic.wav"
        let g = try run(host, [Self.weights, Self.speakerPath, Self.input, viaGeneric, "0", "-2"], environment: ["TMRVC_KERNELS": "generic"])
        XCTAssertEqual(g.status, 0, g.err)
        XCTAssertTrue(g.err.contains("generic kernels"), g.err)
        let gen = try AudioFile.read(path: viaGeneric)
        XCTAssertEqual(gen.samples.count, b.samples.count)
        let gdiff = zip(gen.samples, b.samples).map { abs($0 - $1) }.max() ?? .infinity
        print("example C host, generic kernels vs \(KernelSet.active.name): max |difference| \(gdiff)")
        XCTAssertTrue(gen.samples.allSatisfy(\.isFinite))
        XCTAssertLessThanOrEqual(gdiff, Self.kernelBuildTolerance)
    }

    /// Largest sample difference allowed between the generic and the AVX2/FMA kernel builds on the
    /// example conversion (they differ in rounding only: no fused multiply-add in the generic one).
    static let kernelBuildTolerance: Float = 1e-4   // measured 1.9e-6 (2026-12-06)

    func run(_ executable: String, _ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        try runProcess(executable, args, environment: environment)
    }
}

/// A flag set by one thread and polled by another.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
