import TMRVCConstants
import TMRVCDSP
import TMRVCRuntime

/// Computes a speaker embedding from reference recordings with `speaker_encoder.onnx`, in Swift
/// (offline, not real-time). The LoRA delta of an enrolled profile is zero until few-shot
/// adaptation (tools/) fits one.
public enum SpeakerEnrollment {
    /// Log-mel frames (frame-major [frames][80]) of a mono recording at `sampleRate`.
    public static func logMel(samples: [Float], sampleRate: Int) throws(EngineError) -> [Float] {
        var x = samples
        if sampleRate != TMRVCConstants.Audio.sampleRate {
            guard sampleRate > 0 else { throw EngineError(path: "sample rate", reason: "\(sampleRate) Hz is invalid") }
            let r = PolyphaseResampler(inputRate: sampleRate, outputRate: TMRVCConstants.Audio.sampleRate)
            // Flush the filter with zeros so the tail is complete, then drop its group delay.
            let delay = Int(r.groupDelayOutputSamples.rounded())
            let padded = x + [Float](repeating: 0, count: Int(r.groupDelayInputSamples.rounded()) + 1)
            var out = [Float](repeating: 0, count: r.maxOutputCount(forInputCount: padded.count) + 2)
            let n = padded.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { o in r.process(p.baseAddress!, count: padded.count, output: o.baseAddress!, outputCapacity: o.count) }
            }
            x = Array(out[min(delay, n)..<n])
        }
        let mel = CausalLogMel()
        let frames = x.count / TMRVCConstants.Audio.hopLength
        guard frames >= 10 else {
            throw EngineError(path: "audio", reason: "recording too short for enrollment (\(x.count) samples at 24 kHz; need at least 0.1 s)")
        }
        var out = [Float](repeating: 0, count: frames * TMRVCConstants.Dims.mel)
        _ = x.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in mel.process(p.baseAddress!, count: frames * TMRVCConstants.Audio.hopLength, frames: o.baseAddress!, frameCapacity: frames) }
        }
        return out
    }

    /// The speaker embedding of one utterance's log-mel (frame-major), L2-normalised by the model.
    public static func embedding(logMel: [Float], modelsDirectory: String) throws(EngineError) -> [Float] {
        let path = modelsDirectory + "/speaker_encoder.onnx"
        let frames = logMel.count / TMRVCConstants.Dims.mel
        let model: StreamingModel
        do { model = try StreamingModel(path: path, frames: frames) } catch { throw EngineError(path: path, reason: error.message) }
        guard let input = model.input("mel"), input.count == logMel.count, let output = model.output("spk_embed"),
              output.count == TMRVCConstants.Dims.speaker else {
            throw EngineError(path: path, reason: "expected input 'mel' [1,80,T] and output 'spk_embed' [1,\(TMRVCConstants.Dims.speaker)]")
        }
        // The model wants channel-major [1, 80, T].
        let dst = input.floats
        for f in 0..<frames {
            for c in 0..<TMRVCConstants.Dims.mel { dst[c * frames + f] = logMel[f * TMRVCConstants.Dims.mel + c] }
        }
        model.session.run()
        return Array(UnsafeBufferPointer(start: output.floats, count: output.count))
    }

    /// Averages per-utterance embeddings weighted by their frame counts, then L2-normalises.
    public static func combine(_ embeddings: [(embedding: [Float], frames: Int)]) -> [Float] {
        var sum = [Float](repeating: 0, count: TMRVCConstants.Dims.speaker)
        for (e, n) in embeddings { for i in sum.indices { sum[i] += e[i] * Float(n) } }
        let norm = max(1e-12, sum.reduce(0) { $0 + $1 * $1 }.squareRoot())
        return sum.map { $0 / norm }
    }
}
