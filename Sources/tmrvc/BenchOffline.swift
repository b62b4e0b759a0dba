import Foundation
import TMRVCConstants
import TMRVCDSP
import TMRVCEngine
import TMRVCRuntime

/// Offline throughput in seconds of 24 kHz audio per second: log-mel front end, content encoder,
/// converter, vocoder (IR estimator every 10 frames) and overlap-add synthesis, either streamed
/// (models compiled at T = 1, one call per 10 ms hop) or chunked (models compiled at T = 100, one
/// call per second of audio, states carried between chunks). Pitch estimation is not included.
enum BenchOffline {
    struct Output { var text: String; var json: [String: Any] }

    static let chunk = 100

    static func run(directory dir: String, seconds: Double, storage: WeightStorage) throws -> Output {
        FileHandle.standardError.write("running offline throughput (\(storage.label), \(seconds) s of audio)...\n".data(using: .utf8)!)
        let hop = TMRVCConstants.Audio.hopLength, rate = TMRVCConstants.Audio.sampleRate
        let mels = TMRVCConstants.Dims.mel, bins = OverlapAddSynthesizer.binCount
        let frames = max(chunk, Int(seconds * Double(rate)) / hop / chunk * chunk)
        let audioSeconds = Double(frames * hop) / Double(rate)
        let audio = UnsafeMutablePointer<Float>.allocate(capacity: frames * hop)
        defer { audio.deallocate() }
        var g = BenchNoise(seed: 21)
        for i in 0..<(frames * hop) { audio[i] = 0.3 * Float(sin(Double(i) * 0.031)) + 0.05 * g.normal() }
        let output = UnsafeMutablePointer<Float>.allocate(capacity: frames * hop)
        defer { output.deallocate() }
        let ir = try BenchModels.loadIR(dir, storage: storage)
        BenchModels.fillInputs(ir, seed: 22)

        func models(_ t: Int) throws -> (StreamingModel, StreamingModel, StreamingModel) {
            let c = try BenchModels.load(dir, "content_encoder", frames: t, storage: storage)
            let v = try BenchModels.load(dir, "converter", frames: t, storage: storage)
            let o = try BenchModels.load(dir, "vocoder", frames: t, storage: storage)
            BenchModels.fillInputs(v.session, seed: 23)
            return (c, v, o)
        }

        // Streamed: T = 1.
        let streamed: Double
        do {
            let (content, converter, vocoder) = try models(1)
            let mel = CausalLogMel(), synth = OverlapAddSynthesizer()
            let melIn = content.input("mel")!, contentOut = content.output("content")!
            let contentIn = converter.input("content")!, featuresOut = converter.output("features")!
            let featuresIn = vocoder.input("features")!, mag = vocoder.output("magnitude")!, phase = vocoder.output("phase")!
            let acousticIndex = converter.session.inputIndex("acoustic_params")!
            let t0 = benchNowMicroseconds()
            for f in 0..<frames {
                _ = mel.process(audio + f * hop, count: hop, frames: melIn.floats, frameCapacity: 1)
                content.step()
                contentIn.floats.update(from: contentOut.floats, count: contentIn.count)
                if f % BenchModels.irInterval == 0 { ir.run(); converter.session.invalidateSlowInput(acousticIndex) }
                converter.step()
                featuresIn.floats.update(from: featuresOut.floats, count: featuresIn.count)
                vocoder.step()
                synth.synthesize(magnitude: mag.floats, phase: phase.floats, output: output + f * hop)
            }
            streamed = (benchNowMicroseconds() - t0) / 1e6
        }

        // Chunked: T = 100.
        let chunked: Double
        do {
            let (content, converter, vocoder) = try models(chunk)
            let mel = CausalLogMel(), synth = OverlapAddSynthesizer()
            let melIn = content.input("mel")!, contentOut = content.output("content")!
            let contentIn = converter.input("content")!, featuresOut = converter.output("features")!
            let featuresIn = vocoder.input("features")!, mag = vocoder.output("magnitude")!, phase = vocoder.output("phase")!
            let melFrames = UnsafeMutablePointer<Float>.allocate(capacity: chunk * mels)
            let magFrame = UnsafeMutablePointer<Float>.allocate(capacity: bins), phaseFrame = UnsafeMutablePointer<Float>.allocate(capacity: bins)
            defer { melFrames.deallocate(); magFrame.deallocate(); phaseFrame.deallocate() }
            let t0 = benchNowMicroseconds()
            for c in 0..<(frames / chunk) {
                let base = c * chunk
                _ = mel.process(audio + base * hop, count: chunk * hop, frames: melFrames, frameCapacity: chunk)
                let mi = melIn.floats   // [1, 80, T] channel-major
                for f in 0..<chunk { for b in 0..<mels { mi[b * chunk + f] = melFrames[f * mels + b] } }
                content.step()
                contentIn.floats.update(from: contentOut.floats, count: contentIn.count)
                for _ in 0..<(chunk / BenchModels.irInterval) { ir.run() }
                converter.session.invalidateSlowInputs()
                converter.step()
                featuresIn.floats.update(from: featuresOut.floats, count: featuresIn.count)
                vocoder.step()
                let pm = mag.floats, pp = phase.floats
                for f in 0..<chunk {
                    for k in 0..<bins { magFrame[k] = pm[k * chunk + f]; phaseFrame[k] = pp[k * chunk + f] }
                    synth.synthesize(magnitude: magFrame, phase: phaseFrame, output: output + (base + f) * hop)
                }
            }
            chunked = (benchNowMicroseconds() - t0) / 1e6
        }
        let text = """

        Offline throughput (\(storage.label), \(benchFormat(audioSeconds)) s of 24 kHz audio; log-mel + models + IR every 10 frames + overlap-add):
          streamed (T=1):   \(benchFormat(audioSeconds / streamed)) s of audio per second (\(benchFormat(1e6 * streamed / Double(frames))) µs per 10 ms frame)
          chunked (T=\(chunk)): \(benchFormat(audioSeconds / chunked)) s of audio per second (\(benchFormat(1e6 * chunked / Double(frames))) µs per frame); chunked/streamed \(benchFormat(streamed / chunked, 2))x
        """
        return Output(text: text, json: ["audio_seconds": audioSeconds, "streamed_x_realtime": audioSeconds / streamed,
                                         "chunked_x_realtime": audioSeconds / chunked, "chunk_frames": chunk])
    }
}
