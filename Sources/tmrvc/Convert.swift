import ArgumentParser
import Foundation
import TMRVCAudioIO
import TMRVCEngine
import TMRVCKernels
import TMRVCRuntime
import TMRVCTooling

/// `tmrvc convert in.wav -o out.wav --speaker voice.tmrvc_speaker`: runs the streaming engine over a file.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a recording to the target voice with the streaming engine.",
        discussion: """
        The file is processed by the engine a plugin runs, with its models batched: the content
        encoder and vocoder run on 100 hops (1 s) per call and the converter on one IR interval,
        several times faster than hop by hop, with the same output within float rounding
        (--streaming runs them hop by hop, exactly as in real time). The output is shifted by the
        engine's latency so it lines up with the input and has the same length.
        Any format libsndfile reads is accepted; several channels are mixed down to mono (average).
        Sample rates: 24000, 44100 or 48000 Hz. The output is a mono WAV at the input's rate,
        written atomically (a temporary file renamed into place).
        """)

    @Argument(help: "Input audio file.")
    var input: String

    @Option(name: .shortAndLong, help: "Output WAV file.")
    var output: String

    @OptionGroup var setup: EngineSetup

    @OptionGroup var controls: VoiceControls

    @Flag(help: "Allow -o to name the input file (it is replaced by the converted audio).")
    var force = false

    @Flag(help: "Write 32-bit float samples instead of 16-bit PCM.")
    var float = false

    @Flag(help: "Run the models hop by hop as in real time (the plugin's path) instead of in batches.")
    var streaming = false

    /// Hops per batch of the offline path (1 s of audio).
    static let batchHops = 100


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
        let reader: AudioFileReader
        do { reader = try AudioFileReader(path: input) } catch { throw CLIError(error.description) }
        let rate = reader.sampleRate
        guard StreamingEngine.supportedSampleRates.contains(rate) else {
            throw CLIError("\(input): sample rate \(rate) Hz is not supported (supported: \(StreamingEngine.supportedSampleRates.map(String.init).joined(separator: ", ")) Hz); resample it first, e.g. sox in.wav -r 48000 out.wav")
        }
        let (profile, engine) = try setup.load()
        // Offline there is no deadline: a slow machine must not lower the quality (and with it the
        // latency the output is aligned by) halfway through the file.
        engine.overloadControlEnabled = false
        engine.batchHops = streaming ? 1 : Self.batchHops
        controls.apply(to: engine.parameters)
        let block = 4096
        do { try engine.prepare(sampleRate: rate, maxBlockSize: block) } catch { throw CLIError("\(input): \(error)") }
        engine.setSpeaker(profile)
        let latency = engine.latencySamples
        // Streamed from file to file in blocks (memory does not grow with the length): the input,
        // then `latency` zeros so its last sample comes out; the first `latency` output samples
        // (before the input's first one) are dropped, so the output lines up with the input.
        let frames = reader.frames, total = frames + latency
        let writer: AudioFileWriter
        do { writer = try AudioFileWriter(path: output, sampleRate: rate, format: float ? .float32 : .pcm16) } catch { throw CLIError(error.description) }
        let x = UnsafeMutablePointer<Float>.allocate(capacity: block), y = UnsafeMutablePointer<Float>.allocate(capacity: block)
        defer { x.deallocate(); y.deallocate() }
        var bar = ProgressBar(total: total, label: "converting", lines: frames >= 30 * rate)
        let start = Date()
        var pos = 0
        do {
            while pos < total {
                var n = try reader.read(into: x, maxFrames: min(block, total - pos))
                if n == 0 {   // the input is over: pad with zeros
                    n = min(block, total - pos)
                    x.update(repeating: 0, count: n)
                }
                engine.process(input: x, output: y, frames: n)
                let skip = max(0, min(n, latency - pos))
                try writer.write(y + skip, count: n - skip)
                pos += n
                bar.update(pos)
            }
            bar.finish()
            try writer.finish()
        } catch { throw CLIError(error.description) }
        let elapsed = Date().timeIntervalSince(start)
        let duration = Double(frames) / Double(rate)
        let profileInUse = engine.currentProfile
        print("""
        wrote \(output): \(String(format: "%.2f", duration)) s at \(rate) Hz\(reader.sourceChannels > 1 ? " (mixed down from \(reader.sourceChannels) channels)" : "")
        latency \(latency) samples (\(String(format: "%.1f", 1000 * Double(latency) / Double(rate))) ms; q \(controls.quality): lookahead \(profileInUse.lookaheadHops) hops\(engine.batchSize.map { String(format: "; %.0f ms of it from batching", Double(($0 - 1) * 10)) } ?? ""))
        real-time factor \(String(format: "%.3f", elapsed / duration)) (\(String(format: "%.2f", elapsed)) s for \(String(format: "%.2f", duration)) s of audio; \(KernelSet.active.name) kernels; \(engine.batchSize.map { "models in batches of \($0) hops" } ?? "models hop by hop"))
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
