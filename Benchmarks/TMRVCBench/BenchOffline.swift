import Foundation
import TMRVCConstants
import TMRVCDSP
import TMRVCEngine
import TMRVCRuntime
import TMRVCTooling

/// Offline throughput in seconds of 24 kHz audio per second: log-mel front end, content encoder,
/// converter, vocoder (IR estimator every 10 frames) and source–filter synthesis (excitation at a
/// fixed 150 Hz, `Y = H E_h + N E_n`, overlap-add), either streamed (models compiled at T = 1, one
/// call per 10 ms hop) or chunked (models compiled at T = 100, one call per second of audio, states
/// carried between chunks). Pitch estimation and register mapping are not included.
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
        let f0Hz = 150.0
        let logF0 = Float(log2(f0Hz / TMRVCConstants.Pitch.f0RefHz))
        let specRe = UnsafeMutablePointer<Float>.allocate(capacity: bins), specIm = UnsafeMutablePointer<Float>.allocate(capacity: bins)
        defer { specRe.deallocate(); specIm.deallocate() }
        func vocoderBindings(_ vocoder: StreamingModel) throws -> (pitch: TensorBuffer, harmonic: TensorBuffer, noise: TensorBuffer) {
            guard let p = vocoder.input("pitch"), let h = vocoder.output("harmonic"), let n = vocoder.output("noise") else {
                throw CLIError("\(dir)/vocoder.onnx: expected input 'pitch' and outputs 'harmonic', 'noise' (the source-filter vocoder contract)")
            }
            let frames = p.count / 2   // [1, 2, T]: log-F0 row, then voicing row
            for f in 0..<frames { p.floats[f] = logF0; p.floats[frames + f] = 0.9 }
            return (p, h, n)
        }

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
            let mel = CausalLogMel(), synth = OverlapAddSynthesizer(), excitation = ExcitationGenerator()
            let melIn = content.input("mel")!, contentOut = content.output("content")!
            let contentIn = converter.input("content")!, featuresOut = converter.output("features")!
            let featuresIn = vocoder.input("features")!
            let (_, harmonic, noise) = try vocoderBindings(vocoder)
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
                excitation.step(f0Hz: f0Hz)
                excitation.shape(harmonic: harmonic.floats, noise: noise.floats, real: specRe, imaginary: specIm)
                synth.synthesize(real: specRe, imaginary: specIm, output: output + f * hop)
            }
            streamed = (benchNowMicroseconds() - t0) / 1e6
        }

        // Chunked: T = 100.
        let chunked: Double
        do {
            let (content, converter, vocoder) = try models(chunk)
            let mel = CausalLogMel(), synth = OverlapAddSynthesizer(), excitation = ExcitationGenerator()
            let melIn = content.input("mel")!, contentOut = content.output("content")!
            let contentIn = converter.input("content")!, featuresOut = converter.output("features")!
            let featuresIn = vocoder.input("features")!
            let (_, harmonic, noise) = try vocoderBindings(vocoder)
            let melFrames = UnsafeMutablePointer<Float>.allocate(capacity: chunk * mels)
            let hFrame = UnsafeMutablePointer<Float>.allocate(capacity: bins), nFrame = UnsafeMutablePointer<Float>.allocate(capacity: bins)
            defer { melFrames.deallocate(); hFrame.deallocate(); nFrame.deallocate() }
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
                let ph = harmonic.floats, pn = noise.floats
                for f in 0..<chunk {
                    for k in 0..<bins { hFrame[k] = ph[k * chunk + f]; nFrame[k] = pn[k * chunk + f] }
                    excitation.step(f0Hz: f0Hz)
                    excitation.shape(harmonic: hFrame, noise: nFrame, real: specRe, imaginary: specIm)
                    synth.synthesize(real: specRe, imaginary: specIm, output: output + (base + f) * hop)
                }
            }
            chunked = (benchNowMicroseconds() - t0) / 1e6
        }
        let text = """

        Offline throughput (\(storage.label), \(benchFormat(audioSeconds)) s of 24 kHz audio; log-mel + models + IR every 10 frames + excitation + overlap-add):
          streamed (T=1):   \(benchFormat(audioSeconds / streamed)) s of audio per second (\(benchFormat(1e6 * streamed / Double(frames))) µs per 10 ms frame)
          chunked (T=\(chunk)): \(benchFormat(audioSeconds / chunked)) s of audio per second (\(benchFormat(1e6 * chunked / Double(frames))) µs per frame); chunked/streamed \(benchFormat(streamed / chunked, 2))x
        """
        return Output(text: text, json: ["audio_seconds": audioSeconds, "streamed_x_realtime": audioSeconds / streamed,
                                         "chunked_x_realtime": audioSeconds / chunked, "chunk_frames": chunk])
    }
}
