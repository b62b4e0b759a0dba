import ArgumentParser
import TMRVCEngine
import TMRVCRuntime
import TMRVCTooling

/// The engine controls `tmrvc convert` and `tmrvc live` share, validated with messages naming the range.
struct VoiceControls: ParsableArguments {
    /// Default 0, as in the engine and the C API: the lowest latency, and offline the best measured
    /// (docs/quality.md: q = 1 gives the same WER with lower log-F0 correlation and naturalness).
    @Option(name: .customLong("q"), parsing: .unconditional, help: "Quality knob 0...1 (latency 20 ms + lookahead x 10 ms).")
    var quality: Float = 0

    @Option(parsing: .unconditional, help: "Pitch shift in semitones (added after the register mapping).")
    var pitch: Float = 0

    /// `--register`: the engine's register mode.
    enum Register: String, ExpressibleByArgument, CaseIterable {
        case auto, shift
        var mode: EngineParameters.RegisterMode { self == .auto ? .automatic : .shiftOnly }
    }

    @Option(help: ArgumentHelp("Output pitch: auto moves the input's pitch into the speaker's register (speaker files with pitch statistics; others fall back to shift), shift keeps the input's pitch and applies --pitch only.",
                               valueName: "auto|shift"))
    var register: Register = .auto

    @Option(name: .customLong("content-warp"), help: ArgumentHelp("Content warp strength 0 (off) ...1: the content encoder hears the input warped toward the speaker's vocal-tract scale by 2^(strength x the log2 register difference), clamped to 0.8...1.25 (register auto only; docs/training.md \"Content warp\").", valueName: "strength"))
    var contentWarp: Float = EngineParameters.contentWarp.defaultValue

    @Option(help: "Dry/wet mix, 0 (input) ... 1 (converted).")
    var wet: Float = 1

    @Option(parsing: .unconditional, help: "Output gain in dB, -60...24.")
    var gain: Float = 0

    @Option(name: .customLong("voice-source"), help: "Blend of the speaker's voice-source preset, 0...1.")
    var voiceSource: Float = 0

    @Option(parsing: .unconditional, help: "Input noise gate threshold in dBFS, -120 (off) ...0.")
    var gate: Float = -60

    func validate() throws {
        for (option, value, control) in [("q", quality, EngineParameters.quality), ("pitch", pitch, EngineParameters.pitch),
                                         ("wet", wet, EngineParameters.dryWet), ("voice-source", voiceSource, EngineParameters.voiceSource),
                                         ("gain", gain, EngineParameters.gain), ("gate", gate, EngineParameters.gate),
                                         ("content-warp", contentWarp, EngineParameters.contentWarp)]
        where !control.range.contains(value) {
            throw ValidationError("--\(option) must be within \(control.rangeDescription)")
        }
    }

    func apply(to parameters: EngineParameters) {
        parameters.quality = quality
        parameters.pitchShiftSemitones = pitch
        parameters.registerMode = register.mode
        parameters.contentWarpStrength = contentWarp
        parameters.wet = wet
        parameters.outputGainDB = gain
        parameters.voiceSourceAlpha = voiceSource
        parameters.gateThresholdDB = gate
    }
}

/// The speaker and models `tmrvc convert` and `tmrvc live` load, and the loading itself.
struct EngineSetup: ParsableArguments {
    @Option(help: "Target speaker (.tmrvc_speaker).")
    var speaker: String

    @Option(help: "Directory with the five ONNX models (default: the shipped weights/).")
    var models: String?

    @Option(help: "Storage of the models' matrix weights: fp32, fp16 (about 2x faster per frame, errors ~1e-3) or int8 (per-channel, a quarter of the bytes); see docs/performance.md. Default: fp32 for convert, int8 for live.")
    var precision: WeightStorage?

    /// Reads the speaker file and loads the engine with `precision`, or `defaultPrecision` (the
    /// command's) when none was given, with errors naming the file.
    func load(defaultPrecision: WeightStorage = .float32) throws -> (profile: SpeakerProfile, engine: StreamingEngine) {
        let precision = self.precision ?? defaultPrecision
        let profile: SpeakerProfile
        do { profile = try SpeakerProfile(contentsOf: speaker) } catch { throw CLIError(error.description) }
        do {
            return (profile, try StreamingEngine(modelsDirectory: try ModelLocation.resolve(models), weightStorage: precision))
        } catch let e as EngineError {
            throw CLIError(e.description)
        }
    }
}

extension WeightStorage: ExpressibleByArgument {
    public init?(argument: String) { self.init(label: argument) }
    public static var allValueStrings: [String] { ["fp32", "fp16", "int8"] }
}
