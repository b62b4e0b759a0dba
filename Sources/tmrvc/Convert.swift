import ArgumentParser
import Foundation
import TMRVCAudioIO
import TMRVCEngine
import TMRVCRuntime

/// `tmrvc convert in.wav -o out.wav --speaker voice.tmrvc_speaker`: runs the streaming engine over a file.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a recording to the target voice with the streaming engine.",
        discussion: """
        The file is processed by exactly the engine a plugin runs (same blocks, same latency), then
        shifted by the engine's latency so the output lines up with the input and has the same length.
        Any format libsndfile reads is accepted; several channels are mixed down to mono (average).
        Sample rates: 24000, 44100 or 48000 Hz. The output is a mono WAV at the input's rate,
        written atomically (a temporary file renamed into place).
        """)

    @Argument(help: "Input audio file.")
    var input: String

    @Option(name: .shortAndLong, help: "Output WAV file.")
    var output: String

    @Option(help: "Target speaker (.tmrvc_speaker).")
    var speaker: String

    @OptionGroup var controls: VoiceControls

    @Option(help: "Directory with the five ONNX models (default: the shipped weights/).")
    var models: String?

    @Flag(help: "Allow -o to name the input file (it is replaced by the converted audio).")
    var force = false

    @Flag(help: "Write 32-bit float samples instead of 16-bit PCM.")
    var float = false

    @Flag(help: "Store the models' matrix weights as float16 (about 2x faster per frame, errors ~1e-3; see docs/performance.md).")
    var fp16 = false

    func run() throws {
        do {
            try convert()
        } catch let e as CLIError {
            FileHandle.standardError.write("error: \(e)\n".data(using: .utf8)!)
            throw ExitCode.failure
        }
    }

    func convert() throws {
        if !force, let a = realpath(input, nil), let b = realpath(output, nil) {
            let same = strcmp(a, b) == 0
            free(a); free(b)
            if same { throw CLIError("\(output): is the input file; pass --force to replace it with the converted audio") }
        }
        do { try AudioFile.checkOutputPath(output) } catch { throw CLIError(error.description) }
        let audio: AudioBuffer
        do { audio = try AudioFile.read(path: input) } catch { throw CLIError(error.description) }
        guard StreamingEngine.supportedSampleRates.contains(audio.sampleRate) else {
            throw CLIError("\(input): sample rate \(audio.sampleRate) Hz is not supported (supported: \(StreamingEngine.supportedSampleRates.map(String.init).joined(separator: ", ")) Hz); resample it first, e.g. sox in.wav -r 48000 out.wav")
        }
        let profile: SpeakerProfile
        do { profile = try SpeakerProfile(contentsOf: speaker) } catch { throw CLIError(error.description) }
        let engine: StreamingEngine
        do { engine = try StreamingEngine(modelsDirectory: try ModelLocation.resolve(models), weightStorage: fp16 ? .float16 : .float32) } catch let e as EngineError {
            throw CLIError(e.description)
        }
        // Offline there is no deadline: a slow machine must not lower the quality (and with it the
        // latency the output is aligned by) halfway through the file.
        engine.overloadControlEnabled = false
        controls.apply(to: engine.parameters)
        let block = 4096
        do { try engine.prepare(sampleRate: audio.sampleRate, maxBlockSize: block) } catch { throw CLIError("\(input): \(error)") }
        engine.setSpeaker(profile)
        let latency = engine.latencySamples
        let total = audio.samples.count + latency
        var padded = audio.samples + [Float](repeating: 0, count: latency)
        var converted = [Float](repeating: 0, count: total)
        var bar = ProgressBar(total: total, label: "converting")
        let start = Date()
        var pos = 0
        while pos < total {
            let n = min(block, total - pos)
            padded.withUnsafeMutableBufferPointer { x in
                converted.withUnsafeMutableBufferPointer { y in
                    engine.process(input: x.baseAddress! + pos, output: y.baseAddress! + pos, frames: n)
                }
            }
            pos += n
            bar.update(pos)
        }
        bar.finish()
        let elapsed = Date().timeIntervalSince(start)
        padded = []
        let aligned = Array(converted[latency...])
        do {
            try AudioFile.write(aligned, sampleRate: audio.sampleRate, to: output, format: float ? .float32 : .pcm16)
        } catch { throw CLIError(error.description) }
        let profileInUse = engine.currentProfile
        print("""
        wrote \(output): \(String(format: "%.2f", audio.duration)) s at \(audio.sampleRate) Hz\(audio.sourceChannels > 1 ? " (mixed down from \(audio.sourceChannels) channels)" : "")
        latency \(latency) samples (\(String(format: "%.1f", 1000 * Double(latency) / Double(audio.sampleRate))) ms; q \(controls.quality): lookahead \(profileInUse.lookaheadHops) hops)
        real-time factor \(String(format: "%.3f", elapsed / audio.duration)) (\(String(format: "%.2f", elapsed)) s for \(String(format: "%.2f", audio.duration)) s of audio)
        pitch: \(registerDescription(profile))\(controls.pitch != 0 ? String(format: ", shifted by %+.2f semitones", controls.pitch) : "")
        """)
    }

    func registerDescription(_ profile: SpeakerProfile) -> String {
        switch (controls.register, profile.pitchStatistics) {
        case (.shift, _): return "the input's register (--register shift)"
        case (.auto, nil): return "the input's register (the speaker file has no pitch statistics)"
        case (.auto, let s?): return "mapped into the speaker's register (\(String(format: "%.1f", 200 * pow(2, Double(s.mean)))) Hz)"
        }
    }
}
