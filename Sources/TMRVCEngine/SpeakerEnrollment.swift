#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TMRVCConstants
import TMRVCDSP
import TMRVCRuntime

/// Computes a speaker embedding from reference recordings with `speaker_encoder.onnx`, and the
/// speaker's register (log-F0 statistics) with the engine's pitch estimator, in Swift (offline, not
/// real-time). The LoRA delta of an enrolled profile is zero until few-shot adaptation (tools/) fits one.
public enum SpeakerEnrollment {
    /// Log-mel frames (frame-major [frames][80]) of a mono recording at `sampleRate`.
    public static func logMel(samples: [Float], sampleRate: Int) throws(EngineError) -> [Float] {
        try logMel(samples24k: try resampled(samples: samples, sampleRate: sampleRate))
    }

    /// A mono recording at `sampleRate` resampled to `audio.sample_rate` (24 kHz) with the engine's
    /// polyphase resampler, group delay removed, tail flushed.
    public static func resampled(samples: [Float], sampleRate: Int) throws(EngineError) -> [Float] {
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
        return x
    }

    /// Log-mel frames (frame-major [frames][80]) of a 24 kHz mono recording.
    public static func logMel(samples24k x: [Float]) throws(EngineError) -> [Float] {
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

    /// F0 (Hz) of the voiced frames of a 24 kHz mono recording: the engine's `PitchEstimator`
    /// (window `frontend.win_length` = 960, from a zero history), frames with `f0 > 0` and voicing > 0.
    public static func voicedF0(samples24k x: [Float]) -> [Double] {
        let estimator = PitchEstimator(windowLength: TMRVCConstants.Frontend.winLength)
        let count = x.count / TMRVCConstants.Audio.hopLength * TMRVCConstants.Audio.hopLength
        guard count > 0 else { return [] }
        var estimates = [PitchEstimate](repeating: .unvoiced, count: estimator.estimateCount(afterPushing: count))
        let n = x.withUnsafeBufferPointer { p in
            estimates.withUnsafeMutableBufferPointer { e in
                estimator.process(p.baseAddress!, count: count, estimates: e.baseAddress!, capacity: e.count)
            }
        }
        return estimates[0..<n].filter { $0.f0Hz > 0 && $0.voicing > 0 }.map { Double($0.f0Hz) }
    }

    /// The speaker's register from the F0 (Hz) of its voiced frames, as `tmrvc.excitation.log_f0_stats`:
    /// mean and (population) standard deviation of `log2(f0 / pitch.f0_ref_hz)`, the standard
    /// deviation floored at 0.02. Throws with fewer than 10 voiced frames.
    public static func pitchStatistics(voicedF0 f0: [Double]) throws(EngineError) -> PitchStatistics {
        guard f0.count >= 10 else {
            throw EngineError(path: "audio", reason: "only \(f0.count) voiced frames: too little speech for pitch statistics (need at least 10)")
        }
        let x = f0.map { log2($0 / TMRVCConstants.Pitch.f0RefHz) }
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
        return PitchStatistics(mean: Float(mean), std: Float(max(variance.squareRoot(), 0.02)))
    }

    /// Averages per-utterance embeddings weighted by their frame counts, then L2-normalises.
    public static func combine(_ embeddings: [(embedding: [Float], frames: Int)]) -> [Float] {
        var sum = [Float](repeating: 0, count: TMRVCConstants.Dims.speaker)
        for (e, n) in embeddings { for i in sum.indices { sum[i] += e[i] * Float(n) } }
        let norm = max(1e-12, sum.reduce(0) { $0 + $1 * $1 }.squareRoot())
        return sum.map { $0 / norm }
    }
}
