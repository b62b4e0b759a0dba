import TMRVCConstants
import TMRVCDSP
import TMRVCRuntime

/// One conversion path of the engine: register mapping + converter + vocoder + source–filter
/// synthesis (excitation, overlap-add) for one target speaker at one lookahead. The engine keeps two
/// and crossfades between them when the speaker or the quality knob changes. All buffers are
/// allocated at init; `process` is real-time safe.
final class ConversionPath {
    let converter: StreamingModel
    let vocoder: StreamingModel
    let synthesizer: OverlapAddSynthesizer
    /// Harmonic and noise excitation at the output F0 (`tmrvc.excitation.Excitation`).
    let excitation: ExcitationGenerator
    /// The source's running log-F0 statistics and the target register of the path's speaker.
    var registerMap = RegisterMap()

    /// Lookahead of this path in hops: frame t is converted at hop t + lookahead.
    var lookaheadHops = 0
    /// Index of the pitch estimator (window length) this path uses.
    var pitchWindow = 0
    /// Voice-source preset of the path's speaker (zeros when the profile has none).
    let preset: UnsafeMutablePointer<Float>
    var hasPreset = false
    /// 240 output samples of the last processed hop.
    let block: UnsafeMutablePointer<Float>

    // Converter and vocoder bindings, resolved at init.
    private let contentIn: TensorBuffer
    private let pitchIn: TensorBuffer
    private let speakerIn: TensorBuffer
    private let loraIn: TensorBuffer
    private let acousticIn: TensorBuffer
    /// The converter's input index of acoustic_params (invalidated alone every IR update).
    private let acousticIndex: Int
    private let featuresOut: TensorBuffer
    private let featuresIn: TensorBuffer
    private let vocoderPitchIn: TensorBuffer
    private let harmonicOut: TensorBuffer
    private let noiseOut: TensorBuffer
    /// `Y = H E_h + N E_n` of the current frame (real and imaginary parts, 241 each).
    private let spectrumReal: UnsafeMutablePointer<Float>
    private let spectrumImaginary: UnsafeMutablePointer<Float>

    static let hop = TMRVCConstants.Audio.hopLength

    init(modelsDirectory dir: String, weightStorage: WeightStorage = .float32) throws(EngineError) {
        func load(_ name: String, slow: Set<String> = []) throws(EngineError) -> StreamingModel {
            let path = dir + "/" + name + ".onnx"
            do { return try StreamingModel(path: path, frames: 1, slowInputs: slow, weightStorage: weightStorage) } catch {
                throw EngineError(path: path, reason: error.message)
            }
        }
        converter = try load("converter", slow: ["spk_embed", "lora_delta", "acoustic_params"])
        vocoder = try load("vocoder")
        synthesizer = OverlapAddSynthesizer()
        excitation = ExcitationGenerator()
        func bind(_ m: StreamingModel, _ name: String, _ count: Int, output: Bool = false, file: String) throws(EngineError) -> TensorBuffer {
            guard let b = output ? m.output(name) : m.input(name) else {
                throw EngineError(path: dir + "/" + file, reason: "the model has no \(output ? "output" : "input") '\(name)' (see docs/design/onnx-contract.md)")
            }
            guard b.dataType == .float, b.count == count else {
                throw EngineError(path: dir + "/" + file, reason: "'\(name)' is \(b.dataType) \(b.shape), the engine needs \(count) float32 values per frame")
            }
            return b
        }
        let c = "converter.onnx", v = "vocoder.onnx"
        contentIn = try bind(converter, "content", TMRVCConstants.Dims.content, file: c)
        pitchIn = try bind(converter, "pitch", TMRVCConstants.Dims.pitch, file: c)
        speakerIn = try bind(converter, "spk_embed", TMRVCConstants.Dims.speaker, file: c)
        loraIn = try bind(converter, "lora_delta", TMRVCConstants.Lora.deltaSize, file: c)
        acousticIn = try bind(converter, "acoustic_params", TMRVCConstants.Dims.acousticParams, file: c)
        acousticIndex = converter.session.inputIndex("acoustic_params")!
        featuresOut = try bind(converter, "features", TMRVCConstants.Dims.mel, output: true, file: c)
        featuresIn = try bind(vocoder, "features", TMRVCConstants.Dims.mel, file: v)
        let bins = TMRVCConstants.Vocoder.nFft / 2 + 1
        if vocoder.input("pitch") == nil || vocoder.output("harmonic") == nil || vocoder.output("noise") == nil,
           vocoder.output("magnitude") != nil || vocoder.output("phase") != nil {
            throw EngineError(path: dir + "/" + v, reason: "the model has the pre-excitation vocoder contract (outputs 'magnitude' and 'phase'); "
                              + "this engine needs the source-filter vocoder: inputs 'features', 'pitch', outputs 'harmonic', 'noise' "
                              + "(docs/design/onnx-contract.md); export the vocoder again with the current tools/")
        }
        vocoderPitchIn = try bind(vocoder, "pitch", TMRVCConstants.Dims.pitch, file: v)
        harmonicOut = try bind(vocoder, "harmonic", bins, output: true, file: v)
        noiseOut = try bind(vocoder, "noise", bins, output: true, file: v)
        spectrumReal = .allocate(capacity: bins)
        spectrumReal.initialize(repeating: 0, count: bins)
        spectrumImaginary = .allocate(capacity: bins)
        spectrumImaginary.initialize(repeating: 0, count: bins)
        preset = .allocate(capacity: TMRVCConstants.Dims.voiceSource)
        preset.initialize(repeating: 0, count: TMRVCConstants.Dims.voiceSource)
        block = .allocate(capacity: Self.hop)
        block.initialize(repeating: 0, count: Self.hop)
    }

    deinit {
        preset.deallocate()
        block.deallocate()
        spectrumReal.deallocate()
        spectrumImaginary.deallocate()
    }

    /// Sets the target speaker (embedding, LoRA delta, optional preset, optional pitch statistics:
    /// log2(f0 / f0_ref) mean and std). The register map keeps its source statistics and takes the
    /// new target (none: shift only). Real-time safe.
    func setSpeaker(embedding: UnsafePointer<Float>, lora: UnsafePointer<Float>, preset newPreset: UnsafePointer<Float>?,
                    pitchStatistics: UnsafePointer<Float>?) {
        speakerIn.floats.update(from: embedding, count: speakerIn.count)
        loraIn.floats.update(from: lora, count: loraIn.count)
        if let newPreset {
            preset.update(from: newPreset, count: TMRVCConstants.Dims.voiceSource)
            hasPreset = true
        } else {
            preset.update(repeating: 0, count: TMRVCConstants.Dims.voiceSource)
            hasPreset = false
        }
        if let pitchStatistics {
            registerMap.setTarget(mean: Double(pitchStatistics[0]), std: Double(pitchStatistics[1]))
        } else {
            registerMap.clearTarget()
        }
        converter.session.invalidateSlowInputs()
    }

    /// Copies speaker, preset, register map, excitation and model states from `other` (the start of
    /// a crossfade). Real-time safe.
    func copyState(from other: ConversionPath) {
        setSpeaker(embedding: other.speakerIn.floats, lora: other.loraIn.floats, preset: other.hasPreset ? other.preset : nil,
                   pitchStatistics: nil)
        registerMap = other.registerMap   // source statistics and the target
        excitation.copyState(from: other.excitation)
        converter.copyStates(from: other.converter)
        vocoder.copyStates(from: other.vocoder)
        synthesizer.reset()   // the overlap belongs to the other path's time alignment
    }

    /// Writes the acoustic parameters (ir params + blended voice source); the converter
    /// re-evaluates what depends on them over the next `parts` frames and uses them from the
    /// `parts`-th on (`InferenceSession.invalidateSlowInput(_:spreadOver:)`). Real-time safe.
    func setAcoustic(ir: UnsafePointer<Float>, voiceSourceAlpha alpha: Float, spreadOver parts: Int = 1) {
        let p = acousticIn.floats
        let nIR = TMRVCConstants.Dims.irParams
        p.update(from: ir, count: nIR)
        // Estimated voice source: no estimator is trained yet, so the neutral vector (zeros);
        // the preset is blended in with `alpha`.
        for i in 0..<TMRVCConstants.Dims.voiceSource { p[nIR + i] = alpha * preset[i] }
        converter.session.invalidateSlowInput(acousticIndex, spreadOver: parts)
    }

    /// Converts one frame into `block` (240 samples). Real-time safe.
    ///
    /// - Parameters:
    ///   - logF0: the output pitch feature `log2(f0 / f0_ref)` (already register-mapped and
    ///     shifted; 0 when unvoiced), fed to converter and vocoder with `voicing`.
    ///   - excitationF0Hz: F0 of the harmonic excitation (0: unvoiced).
    func process(content: UnsafePointer<Float>, logF0: Float, voicing: Float, excitationF0Hz: Double) {
        contentIn.floats.update(from: content, count: contentIn.count)
        pitchIn.floats[0] = logF0
        pitchIn.floats[1] = voicing
        converter.step()
        featuresIn.floats.update(from: featuresOut.floats, count: featuresIn.count)
        vocoderPitchIn.floats[0] = logF0
        vocoderPitchIn.floats[1] = voicing
        vocoder.step()
        synthesize(harmonic: harmonicOut.floats, noise: noiseOut.floats, excitationF0Hz: excitationF0Hz)
    }

    /// Source–filter synthesis of one frame into `block`: the excitation's next hop at
    /// `excitationF0Hz`, shaped by the vocoder's envelopes (241 bins each), then overlap-add.
    /// Real-time safe.
    func synthesize(harmonic: UnsafePointer<Float>, noise: UnsafePointer<Float>, excitationF0Hz: Double) {
        excitation.step(f0Hz: excitationF0Hz)
        excitation.shape(harmonic: harmonic, noise: noise, real: spectrumReal, imaginary: spectrumImaginary)
        synthesizer.synthesize(real: spectrumReal, imaginary: spectrumImaginary, output: block)
    }

    /// Writes this path's converter conditioning (speaker embedding, LoRA delta, acoustic
    /// parameters) into `model`, the same converter compiled for more frames, and marks its
    /// hoisted nodes stale (offline batching; not real-time: it looks the inputs up by name).
    func copyConditioning(to model: StreamingModel) {
        func copy(_ buffer: TensorBuffer, _ name: String) {
            model.input(name)?.floats.update(from: buffer.floats, count: buffer.count)
        }
        copy(speakerIn, "spk_embed")
        copy(loraIn, "lora_delta")
        copy(acousticIn, "acoustic_params")
        model.session.invalidateSlowInputs()
    }

    /// Synthesizes from a given spectrum (diagnostic resynthesis mode). Real-time safe.
    func process(magnitude: UnsafePointer<Float>, phase: UnsafePointer<Float>) {
        synthesizer.synthesize(magnitude: magnitude, phase: phase, output: block)
    }

    /// Start of a stream: zero states and overlap, excitation and register statistics from the
    /// start (the target stays). Real-time safe.
    func reset() {
        converter.resetState()
        vocoder.resetState()
        synthesizer.reset()
        excitation.reset()
        registerMap.reset()
        block.update(repeating: 0, count: Self.hop)
    }
}

/// A problem loading or configuring the engine, naming the file or setting.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    /// The file or setting concerned.
    public let path: String
    /// What is wrong.
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { reason.hasPrefix(path) ? reason : "\(path): \(reason)" }
}
