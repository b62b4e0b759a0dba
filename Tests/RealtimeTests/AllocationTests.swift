import Foundation
import XCTest
import AllocationCounter
import ONNXFormat
import TestSupport
import TMRVCDSP
import TMRVCRuntime
import TMRVCEngine
import TMRVCCAPI
import CTMRVC

/// Counts heap allocations around `run()`. Meaningful in release builds (debug builds allocate
/// far more), so `tools/test.sh` also runs this target with `-c release`.
final class AllocationTests: XCTestCase {
    func testCounterSeesAllocations() throws {
        if tmrvc_allocation_counter_sanitized() != 0 {
            throw XCTSkip("built under a sanitizer, whose allocator owns malloc: nothing is interposed")
        }
        XCTAssertEqual(tmrvc_allocation_counter_is_active(), 1, "malloc interposition is not active")
        tmrvc_allocation_counting_begin()
        let a = [Int](repeating: 1, count: 1000)
        let n = tmrvc_allocation_counting_end()
        XCTAssertEqual(a.count, 1000)
        XCTAssertGreaterThan(n, 0, "the counter must see an array allocation")
        // Frees, mutex locks and system calls are counted too.
        let p = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)
        var mutex = pthread_mutex_t()
        pthread_mutex_init(&mutex, nil)
        tmrvc_allocation_counting_begin()
        p.deallocate()
        pthread_mutex_lock(&mutex)
        pthread_mutex_unlock(&mutex)
        sched_yield()
        usleep(1)
        _ = tmrvc_allocation_counting_end()
        pthread_mutex_destroy(&mutex)
        XCTAssertEqual(tmrvc_frees_counted(), 1, "the counter must see a free")
        XCTAssertEqual(tmrvc_locks_counted(), 1, "the counter must see a mutex lock")
        XCTAssertEqual(tmrvc_syscalls_counted(), 2, "the counter must see sched_yield and usleep")
    }

    /// Real-time claims are about release builds; debug builds box closures and allocate.
    static func requireRelease() throws {
        #if DEBUG
        throw XCTSkip("allocation counts are checked in release builds (tools/test.sh runs this target with -c release)")
        #endif
    }

    /// The source-filter excitation (ExcitationGenerator.step, shape, copyState, reset) and the
    /// register map, over voiced, unvoiced and transition hops.
    func testExcitationAndRegisterMapDoNotAllocate() throws {
        try Self.requireRelease()
        let g = ExcitationGenerator(), other = ExcitationGenerator()
        let bins = ExcitationGenerator.binCount
        let h = UnsafeMutablePointer<Float>.allocate(capacity: bins), n = UnsafeMutablePointer<Float>.allocate(capacity: bins)
        let re = UnsafeMutablePointer<Float>.allocate(capacity: bins), im = UnsafeMutablePointer<Float>.allocate(capacity: bins)
        defer { h.deallocate(); n.deallocate(); re.deallocate(); im.deallocate() }
        h.initialize(repeating: 0.5, count: bins)
        n.initialize(repeating: 0.1, count: bins)
        var map = RegisterMap(targetMean: 0.2, targetStd: 0.1)
        g.step(f0Hz: 120)
        tmrvc_allocation_counting_begin()
        var sum: Float = 0
        for k in 0..<10_000 {
            let voiced = k % 50 >= 10
            let y = map.map(logF0: Float(k % 17) * 0.02 - 0.5, voiced: voiced, shiftSemitones: 2, applyTarget: k % 1000 < 500)
            g.step(f0Hz: voiced ? 200 * Double(exp2f(y)) : 0)
            g.shape(harmonic: h, noise: n, real: re, imaginary: im)
            sum += re[3]
            if k % 997 == 0 { other.copyState(from: g) }
            if k % 4999 == 0 { g.reset(); map.reset() }
        }
        let count = tmrvc_allocation_counting_end()
        XCTAssertTrue(sum.isFinite)
        XCTAssertEqual(count, 0, "ExcitationGenerator / RegisterMap: \(count) allocations in 10,000 hops")
    }

    func testSmallGraphRunDoesNotAllocate() throws {
        try Self.requireRelease()
        let simple = makeModel(nodes: [("Add", ["x", "w"], ["a"]), ("Mul", ["a", "w"], ["y"])],
                               initializer: ("w", [4], [1, 2, 3, 4]), input: ("x", [2, 4]), output: ("y", [2, 4]))
        let file = simple.withUnsafeBytes { MappedFile(copying: $0, name: "mem.onnx") }
        let s = try InferenceSession(model: try ONNXModel.decode(file: file))
        s.run()
        tmrvc_allocation_counting_begin()
        for _ in 0..<10_000 { s.run() }
        let n = tmrvc_allocation_counting_end()
        XCTAssertEqual(n, 0, "InferenceSession.run() allocated \(n) times in 10,000 runs")
    }
}

/// Zero heap allocations on the audio path of the real models and the whole engine.
final class PipelineAllocationTests: XCTestCase {
    static let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("weights").path

    func testEachPerFrameModelRunsTenThousandFramesWithoutAllocating() throws {
        try AllocationTests.requireRelease()
        for name in ["content_encoder", "converter", "vocoder"] {
            let m = try StreamingModel(path: Self.weights + "/\(name).onnx", frames: 1,
                                       slowInputs: ["spk_embed", "lora_delta", "acoustic_params"])
            for b in m.session.inputs { for i in 0..<b.count { b.floats[i] = Float((i * 7919) % 13) * 0.01 } }
            m.step()
            tmrvc_allocation_counting_begin()
            let acoustic = m.session.inputIndex("acoustic_params")
            for k in 0..<10_000 {
                // acoustic params change every 10 frames, the update at once or spread over 4 frames
                if k % 20 == 0 { m.session.invalidateSlowInputs() }
                if k % 20 == 10, let acoustic { m.session.invalidateSlowInput(acoustic, spreadOver: 4) }
                m.step()
            }
            let n = tmrvc_allocation_counting_end()
            XCTAssertEqual(n, 0, "\(name): \(n) allocations in 10,000 frames")
        }
    }

    /// The IR estimator run in parts (as the engine runs it) does not allocate, fp32, fp16 or int8.
    func testIREstimatorInPartsDoesNotAllocate() throws {
        try AllocationTests.requireRelease()
        for storage in [WeightStorage.float32, .float16, .int8] {
            let s = try InferenceSession(path: Self.weights + "/ir_estimator.onnx", options: SessionOptions(weightStorage: storage))
            for b in s.inputs { for i in 0..<b.count { b.floats[i] = Float((i * 7919) % 13) * 0.01 - 5 } }
            for p in 0..<5 { s.runPart(p, of: 5) }
            tmrvc_allocation_counting_begin()
            for _ in 0..<2_000 { for p in 0..<5 { s.runPart(p, of: 5) } }
            let n = tmrvc_allocation_counting_end()
            XCTAssertEqual(n, 0, "ir_estimator (\(storage)) in 5 parts: \(n) allocations in 2,000 runs")
        }
    }

    /// fp16 and int8 weight storage and the session's profiling mode keep run() allocation-free.
    func testFloat16AndInt8WeightsAndProfilingDoNotAllocate() throws {
        try AllocationTests.requireRelease()
        for storage in [WeightStorage.float16, .int8] { try reducedPrecisionDoesNotAllocate(storage) }
    }

    func reducedPrecisionDoesNotAllocate(_ storage: WeightStorage) throws {
        for name in ["content_encoder", "converter", "vocoder"] {
            let m = try StreamingModel(path: Self.weights + "/\(name).onnx", frames: 1,
                                       slowInputs: ["spk_embed", "lora_delta", "acoustic_params"], weightStorage: storage)
            for b in m.session.inputs { for i in 0..<b.count { b.floats[i] = Float((i * 7919) % 13) * 0.01 } }
            m.step()
            m.session.isProfiling = true
            tmrvc_allocation_counting_begin()
            for k in 0..<2_000 {
                if k % 10 == 0 { m.session.invalidateSlowInputs() }
                if k == 1_000 { m.session.isProfiling = false }
                m.step()
            }
            let n = tmrvc_allocation_counting_end()
            XCTAssertEqual(n, 0, "\(name) (\(storage.label), profiling): \(n) allocations in 2,000 frames")
        }
        let e = try StreamingEngine(modelsDirectory: Self.weights, weightStorage: storage)
        e.overloadControlEnabled = false
        try e.prepare(sampleRate: 48000, maxBlockSize: 480)
        let x = (0..<480).map { Float(sin(Double($0) * 0.07)) * 0.3 }
        var y = [Float](repeating: 0, count: 480)
        x.withUnsafeBufferPointer { xi in y.withUnsafeMutableBufferPointer { yo in
            for _ in 0..<20 { e.process(input: xi.baseAddress!, output: yo.baseAddress!, frames: 480) }
            tmrvc_allocation_counting_begin()
            for _ in 0..<2_000 { e.process(input: xi.baseAddress!, output: yo.baseAddress!, frames: 480) }
            let n = tmrvc_allocation_counting_end()
            XCTAssertEqual(n, 0, "engine (\(storage.label)): \(n) allocations in 2,000 hops")
        } }
    }

    func testWholeEnginePipelineDoesNotAllocate() throws {
        try AllocationTests.requireRelease()
        let e = try StreamingEngine(modelsDirectory: Self.weights)
        e.parameters.quality = 0.5
        e.overloadControlEnabled = false   // a loaded CI machine must not change the path under test
        try e.prepare(sampleRate: 48000, maxBlockSize: 480)
        let x = (0..<480).map { Float(sin(Double($0) * 0.07)) * 0.3 }
        var y = [Float](repeating: 0, count: 480)
        x.withUnsafeBufferPointer { xi in y.withUnsafeMutableBufferPointer { yo in
            for _ in 0..<20 { e.process(input: xi.baseAddress!, output: yo.baseAddress!, frames: 480) }
            e.parameters.quality = 1   // includes a crossfade and both paths running
            e.parameters.pitchShiftSemitones = 3
            tmrvc_allocation_counting_begin()
            for _ in 0..<10_000 { e.process(input: xi.baseAddress!, output: yo.baseAddress!, frames: 480) }   // one hop per call
            let n = tmrvc_allocation_counting_end()
            XCTAssertEqual(n, 0, "engine: \(n) allocations in 10,000 hops")
            XCTAssertEqual(tmrvc_frees_counted(), 0, "engine: free() on the audio thread")
            // The converter's hoisted slow-node updates multiply through the runtime's own GEMM
            // (OpenBLAS's sgemm took its buffer-pool mutex there: 6 locks per 10,000 hops before).
            XCTAssertEqual(tmrvc_locks_counted(), 0, "engine: mutex locks on the audio thread")
            XCTAssertEqual(tmrvc_syscalls_counted(), 0, "engine: system calls on the audio thread")
        } }
        XCTAssertEqual(e.statistics.crossfades, 1)
        XCTAssertGreaterThanOrEqual(e.statistics.hops, 10_000)
    }
}

/// The C API's audio-thread calls (tmrvc_process with two channels, parameter changes, latency and
/// statistics reads) allocate nothing over 10,000 callbacks of odd sizes.
final class CAPIAllocationTests: XCTestCase {
    func testCAPIProcessDoesNotAllocate() throws {
        try AllocationTests.requireRelease()
        let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/weights"
        var e: OpaquePointer?
        XCTAssertEqual(tmrvc_create(weights, 0, &e, nil, 0), TMRVC_OK)
        let engine = try XCTUnwrap(e)
        defer { tmrvc_destroy(engine) }
        XCTAssertEqual(tmrvc_prepare(engine, 48000, 512, 2), TMRVC_OK)
        XCTAssertEqual(tmrvc_load_speaker(engine, weights + "/speakers/flite_rms.tmrvc_speaker"), TMRVC_OK)
        let l = (0..<512).map { Float(sin(Double($0) * 0.07)) * 0.3 }, r = l.map { -0.5 * $0 }
        var a = [Float](repeating: 0, count: 512), b = a
        var stats = tmrvc_statistics()
        var latencySum = 0
        l.withUnsafeBufferPointer { li in r.withUnsafeBufferPointer { ri in a.withUnsafeMutableBufferPointer { ao in b.withUnsafeMutableBufferPointer { bo in
            var ins: [UnsafePointer<Float>?] = [li.baseAddress!, ri.baseAddress!]
            var outs: [UnsafeMutablePointer<Float>?] = [ao.baseAddress!, bo.baseAddress!]
            for _ in 0..<50 { _ = tmrvc_process(engine, &ins, &outs, 480) }
            tmrvc_allocation_counting_begin()
            for k in 0..<10_000 {
                let frames = UInt32([480, 1, 37, 511, 256, 64][k % 6])
                _ = tmrvc_process(engine, &ins, &outs, frames)
                if k == 5000 { _ = tmrvc_set_parameter(engine, TMRVC_PARAM_Q, 1) }   // a crossfade
                if k % 100 == 0 { _ = tmrvc_set_parameter(engine, TMRVC_PARAM_PITCH, Float(k % 7)) }
                latencySum += Int(tmrvc_latency_samples(engine))
                _ = tmrvc_get_statistics(engine, &stats, MemoryLayout<tmrvc_statistics>.size)
            }
            let n = tmrvc_allocation_counting_end()
            XCTAssertEqual(n, 0, "C API: \(n) allocations in 10,000 tmrvc_process calls")
            XCTAssertEqual(tmrvc_frees_counted(), 0, "C API: free() in the audio-thread calls")
            XCTAssertEqual(tmrvc_locks_counted(), 0, "C API: mutex locks in the audio-thread calls (42 per 10,000 with OpenBLAS's sgemm)")
            XCTAssertEqual(tmrvc_syscalls_counted(), 0, "C API: system calls in the audio-thread calls")
        } } } }
        XCTAssertGreaterThan(latencySum, 0)
        XCTAssertGreaterThanOrEqual(stats.crossfades, 1)   // the q change (the overload control may add more on a loaded machine)
        XCTAssertGreaterThan(stats.hops, 4500)   // 10,000 calls x 225 frames on average at 48 kHz = 4,684 hops (+ 50 calls before)
    }
}
