import Foundation
import TMRVCConstants
import TMRVCEngine
import TMRVCRuntime
import TMRVCTooling

/// Per-frame latency of each streaming model (T = 1), the whole per-frame model pipeline and the
/// engine hop.
enum BenchModels {
    static let slowInputs: Set<String> = ["spk_embed", "lora_delta", "acoustic_params"]
    /// The IR estimator and the acoustic-parameter update run every this many frames.
    static let irInterval = 10
    /// One IR estimator run is spread over this many frames (`InferenceSession.runPart`), as the
    /// engine does.
    static let irParts = min(TMRVCConstants.Streaming.irRunParts, irInterval)
    /// The converter's update of its acoustic_params nodes is spread over this many frames
    /// (`InferenceSession.invalidateSlowInput(_:spreadOver:)`), the first being the IR's last, as
    /// the engine does.
    static let acousticParts = max(1, min(TMRVCConstants.Streaming.acousticUpdateParts, irInterval - irParts + 1))

    static func load(_ dir: String, _ name: String, frames: Int = 1, storage: WeightStorage) throws -> StreamingModel {
        let path = dir + "/" + name + ".onnx"
        do {
            return try StreamingModel(path: path, frames: frames, slowInputs: slowInputs, weightStorage: storage)
        } catch { throw CLIError(error.message) }
    }

    static func loadIR(_ dir: String, storage: WeightStorage) throws -> InferenceSession {
        let path = dir + "/ir_estimator.onnx"
        do { return try InferenceSession(path: path, options: SessionOptions(weightStorage: storage)) } catch {
            throw CLIError(error.message)
        }
    }

    /// Fills every non-state input with noise.
    static func fillInputs(_ s: InferenceSession, seed: UInt64) {
        var noise = BenchNoise(seed: seed)
        for (i, b) in s.inputs.enumerated() where b.dataType == .float && !s.inputNames[i].hasPrefix("state_in_") {
            noise.fill(b.floats, b.count)
        }
    }

    /// Times `body(k)` for k in warmup..<warmup+frames after `warmup` untimed calls. With a
    /// `period` > 1 the result also has the median per position of that cycle (frame k is at
    /// position k % period; `warmup` should be a multiple of the period).
    static func timeLoop(frames: Int, warmup: Int, period: Int = 1, _ body: (Int) -> Void) -> LatencyStats {
        var samples = [Double](repeating: 0, count: frames)
        for k in 0..<warmup { body(k) }
        for k in 0..<frames {
            let t0 = benchNowMicroseconds()
            body(warmup + k)
            samples[k] = benchNowMicroseconds() - t0
        }
        return LatencyStats(samples, period: period)
    }

    /// Bytes of constants each model's per-frame plan reads (fp32 as stored), from the last `run`.
    nonisolated(unsafe) static var perRunConstantBytes: [String: Int] = [:]

    static func run(directory dir: String, frames: Int, warmup: Int, storage: WeightStorage) throws -> [String: LatencyStats] {
        FileHandle.standardError.write("running Swift side (\(storage.label), \(frames) frames per model)...\n".data(using: .utf8)!)
        var result: [String: LatencyStats] = [:]
        let content = try load(dir, "content_encoder", storage: storage)
        let converter = try load(dir, "converter", storage: storage)
        let vocoder = try load(dir, "vocoder", storage: storage)
        let ir = try loadIR(dir, storage: storage)
        fillInputs(content.session, seed: 1)
        fillInputs(converter.session, seed: 2)
        fillInputs(vocoder.session, seed: 3)
        fillInputs(ir, seed: 4)

        perRunConstantBytes = ["content_encoder": content.session.statistics.perRunConstantBytes,
                               "converter": converter.session.statistics.perRunConstantBytes,
                               "vocoder": vocoder.session.statistics.perRunConstantBytes,
                               "ir_estimator": ir.statistics.perRunConstantBytes]
        result["content_encoder"] = timeLoop(frames: frames, warmup: warmup) { _ in content.step() }
        converter.session.invalidateSlowInputs()
        // acoustic_params change with every IR update (the speaker only on a swap)
        let acousticIndex = converter.session.inputIndex("acoustic_params")!
        result["converter"] = timeLoop(frames: frames, warmup: warmup) { k in
            if k % irInterval == 0 { converter.session.invalidateSlowInput(acousticIndex) }
            converter.step()
        }
        result["vocoder"] = timeLoop(frames: frames, warmup: warmup) { _ in vocoder.step() }
        let irCalls = max(100, frames / irInterval)
        let irStats = timeLoop(frames: irCalls, warmup: max(10, warmup / irInterval)) { _ in ir.run() }
        result["ir_estimator"] = irStats
        result["ir_estimator_amortised"] = irStats.scaled(Double(irInterval))
        result["ir_estimator_part"] = timeLoop(frames: irCalls * irParts, warmup: max(10, warmup / irInterval) * irParts) { k in
            ir.runPart(k % irParts, of: irParts)
        }

        // The per-frame pipeline as the engine runs it (without the DSP front and back end).
        content.resetState(); converter.resetState(); vocoder.resetState()
        let melIn = content.input("mel")!, contentOut = content.output("content")!
        let contentIn = converter.input("content")!, featuresOut = converter.output("features")!
        let featuresIn = vocoder.input("features")!
        let acoustic = converter.input("acoustic_params")!
        let irOut = ir.outputs[0]
        var noise = BenchNoise(seed: 5)
        let melFrames = 64
        let mels = UnsafeMutablePointer<Float>.allocate(capacity: melFrames * melIn.count)
        defer { mels.deallocate() }
        noise.fill(mels, melFrames * melIn.count)
        // splitIR false: the same pipeline with the whole IR run and the whole acoustic update on
        // every 10th frame (the schedule before runPart), as a same-run baseline for the tail.
        func frame(_ k: Int, splitIR: Bool) {
            melIn.floats.update(from: mels + (k % melFrames) * melIn.count, count: melIn.count)
            content.step()
            contentIn.floats.update(from: contentOut.floats, count: contentIn.count)
            // The IR estimate runs in parts over the first irParts frames of each interval; the
            // converter then updates its acoustic_params nodes over acousticParts frames (the
            // engine's schedule).
            let phase = k % irInterval
            let parts = splitIR ? irParts : 1
            if phase < parts {
                ir.runPart(phase, of: parts)
                if phase == parts - 1 {
                    acoustic.floats.update(from: irOut.floats, count: min(irOut.count, acoustic.count))
                    converter.session.invalidateSlowInput(acousticIndex, spreadOver: splitIR ? acousticParts : 1)
                }
            }
            converter.step()
            featuresIn.floats.update(from: featuresOut.floats, count: featuresIn.count)
            vocoder.step()
        }
        // The two schedules interleaved in blocks of 10 IR cycles, alternating which runs first, so
        // that drift of the machine hits both alike: on a shared VM the same loop's median moved
        // between ~480 and ~1040 µs (fp32) from one command to the next, which made back-to-back
        // measurements of the schedules disagree in sign. The models are shared; a block ends on a
        // cycle boundary, where both schedules have finished their estimate and update.
        let block = 10 * irInterval
        let blocks = max(1, (frames + block - 1) / block)
        var samples = [[Double]](repeating: [], count: 2)     // [whole, in parts]
        for s in 0..<2 { samples[s].reserveCapacity(blocks * block) }
        for k in 0..<max(block, (warmup + block - 1) / block * block) { frame(k, splitIR: k / block % 2 == 1) }
        for b in 0..<blocks {
            for s in (b % 2 == 0 ? [0, 1] : [1, 0]) {
                for k in 0..<block {
                    let t0 = benchNowMicroseconds()
                    frame(k, splitIR: s == 1)
                    samples[s].append(benchNowMicroseconds() - t0)
                }
            }
        }
        result["pipeline_whole_ir"] = LatencyStats(samples[0], period: irInterval)
        result["pipeline"] = LatencyStats(samples[1], period: irInterval)

        // One engine hop at 24 kHz (log-mel, pitch, the models, overlap-add; lookahead 0). Models the
        // engine refuses (e.g. an earlier vocoder contract, benchmarked as a baseline) skip the row.
        let engine: StreamingEngine
        do { engine = try StreamingEngine(modelsDirectory: dir, weightStorage: storage) } catch {
            print("engine hop: skipped (\(error.description))")
            return result
        }
        engine.parameters.quality = 0
        engine.overloadControlEnabled = false
        do { try engine.prepare(sampleRate: TMRVCConstants.Audio.sampleRate, maxBlockSize: TMRVCConstants.Audio.hopLength) } catch {
            throw CLIError(error.description)
        }
        let hop = TMRVCConstants.Audio.hopLength
        let audio = UnsafeMutablePointer<Float>.allocate(capacity: hop * 100)
        defer { audio.deallocate() }
        for i in 0..<(hop * 100) { audio[i] = 0.3 * Float(sin(Double(i) * 0.031)) + 0.05 * noise.normal() }
        let out = UnsafeMutablePointer<Float>.allocate(capacity: hop)
        defer { out.deallocate() }
        result["engine_hop"] = timeLoop(frames: frames, warmup: warmup) { k in
            engine.process(input: audio + (k % 100) * hop, output: out, frames: hop)
        }
        return result
    }

    static let rows: [(key: String, label: String, ort: String?)] = [
        ("content_encoder", "content_encoder", "content_encoder"),
        ("converter", "converter (slow inputs hoisted)", "converter"),
        ("vocoder", "vocoder", "vocoder"),
        ("ir_estimator", "ir_estimator (per call)", "ir_estimator"),
        ("ir_estimator_amortised", "ir_estimator (/10, amortised)", "ir_estimator/10"),
        ("ir_estimator_part", "ir_estimator (one of \(irParts) parts)", nil),   // ORT cannot split a run
        ("pipeline_whole_ir", "pipeline, IR + update whole (before)", nil),
        ("pipeline", "pipeline per frame (models)", "pipeline"),
        ("engine_hop", "engine hop (DSP + models)", nil),
    ]

    /// Column of the Swift runtime running ONNX Runtime's own dynamic-INT8 files.
    static let ortInt8FilesLabel = "on ORT int8 files"

    /// `ortInt8`: ONNX Runtime on its own dynamic-INT8 models (`bench_ort --int8`), compared with
    /// Swift int8 (weights quantised at load) and with the Swift runtime on the same files.
    static func table(swift: [String: [String: LatencyStats]], order: [String], ort: ORTResult?, ortInt8: ORTResult? = nil) -> String {
        var lines: [String] = []
        lines.append("")
        lines.append("Per-frame latency, µs (T=1, single thread; min / median / p99 / p99.9 / max)\(ort.map { "; ONNX Runtime \($0.version)" } ?? "")")
        var header = benchPad("", 32)
        for o in order { header += benchPad("Swift \(o)", 46) }
        if ort != nil {
            header += benchPad("ONNX Runtime fp32", 46)
            for o in order { header += benchPad("ORT/Swift \(o) (med, p99.9)", 28) }
        }
        if ortInt8 != nil {
            header += benchPad("ONNX Runtime int8 (dynamic)", 46) + benchPad("ORT int8/Swift int8", 28)
                + benchPad("ORT int8/Swift, same files", 28)
        }
        lines.append(header)
        func fmt(_ s: LatencyStats) -> String {
            [s.min, s.median, s.p99, s.p999, s.max].map { benchFormat($0) }.joined(separator: " / ")
        }
        for row in rows {
            var line = benchPad(row.label, 32)
            for o in order { line += benchPad(swift[o]?[row.key].map(fmt) ?? "-", 46) }
            if let ort {
                var o: LatencyStats? = nil
                if let name = row.ort {
                    if name == "ir_estimator/10" { o = ort.stats("ir_estimator")?.scaled(Double(irInterval)) } else { o = ort.stats(name) }
                }
                line += benchPad(o.map(fmt) ?? "-", 46)
                for p in order {
                    if let o, let s = swift[p]?[row.key] {
                        line += benchPad("\(benchFormat(o.median / s.median, 2))x, \(benchFormat(o.p999 / s.p999, 2))x", 28)
                    } else {
                        line += benchPad("-", 28)
                    }
                }
            }
            if let ortInt8 {
                var o: LatencyStats? = nil
                if let name = row.ort {
                    if name == "ir_estimator/10" { o = ortInt8.stats("ir_estimator")?.scaled(Double(irInterval)) } else { o = ortInt8.stats(name) }
                }
                line += benchPad(o.map(fmt) ?? "-", 46)
                for column in ["int8", ortInt8FilesLabel] {
                    if let o, let s = swift[column]?[row.key] {
                        line += benchPad("\(benchFormat(o.median / s.median, 2))x, \(benchFormat(o.p999 / s.p999, 2))x", 28)
                    } else {
                        line += benchPad("-", 28)
                    }
                }
            }
            lines.append(line)
        }
        let b = perRunConstantBytes
        if let c = b["content_encoder"], let v = b["converter"], let o = b["vocoder"], let i = b["ir_estimator"] {
            let perFrame = Double(c + v + o) + Double(i) / Double(irInterval)
            lines.append("Constants read per frame (fp32 as stored; fp16 storage halves the matrix weights, int8 quarters them): content_encoder \(c), converter \(v) (slow inputs hoisted), vocoder \(o), ir_estimator \(i) / \(irInterval) -> \(benchFormat(perFrame / 1e6, 2)) MB per frame")
        }
        for o in order {
            for (key, label) in [("pipeline", "IR + acoustic update in parts"), ("pipeline_whole_ir", "IR + update whole")] {
                guard let s = swift[o]?[key], let r = s.slowestCycleRatio else { continue }
                lines.append("Pipeline \(o), \(label): median per frame of the \(irInterval)-frame IR cycle (frame 0 starts an estimate) "
                             + s.cycleMedians.map { benchFormat($0) }.joined(separator: " ")
                             + " µs; slowest / overall median \(benchFormat(r, 2))x")
            }
        }
        if let ort, let id = ort.stats("identity") {
            lines.append("ONNX Runtime per-call overhead (identity model [1,80,1], IOBinding from Python): median \(benchFormat(id.median)) µs, p99.9 \(benchFormat(id.p999)) µs")
        }
        return lines.joined(separator: "\n")
    }
}
