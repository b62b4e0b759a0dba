import ArgumentParser
import CJACKHost
import Foundation
import Synchronization
import TMRVCEngine
import TMRVCKernels
import TMRVCRuntime
import TMRVCTooling

/// Writes a line to stdout unbuffered (status lines reach pipes and logs at once; no stdio lock
/// shared with the stdin reader).
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Set by SIGINT/SIGTERM (an atomic store is async-signal-safe); polled by `tmrvc live`'s main loop.
private let stopRequested = Atomic<Bool>(false)

/// `tmrvc live --speaker voice.tmrvc_speaker`: the streaming engine as a JACK client.
struct Live: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a live input in real time as a JACK client (JACK or PipeWire's JACK).",
        discussion: """
        Registers the ports <name>:in and <name>:out, connects them to --in / --out if given, and
        prints a status line every --interval seconds: latency, load, xruns, output F0. Commands on
        stdin, one per line: speaker PATH | q V | pitch V | wet V | gain V | gate V | register auto|shift
        | stats | quit. Ctrl-C (SIGINT) or SIGTERM stops cleanly and prints a summary. The weights
        are int8 unless --precision says otherwise: a hop costs about a third of fp32's, which leaves
        more of each JACK period free (fewer xruns: docs/design/host-integration.md), at the same
        measured quality (docs/performance.md).
        """)

    @OptionGroup var setup: EngineSetup

    @OptionGroup var controls: VoiceControls

    @Option(help: "JACK client name.")
    var name = "tmrvc"

    @Option(name: .customLong("in"), help: "Port to connect to our input, e.g. system:capture_1 (repeatable).")
    var inputs: [String] = []

    @Option(name: .customLong("out"), help: "Port to connect our output to, e.g. system:playback_1 (repeatable).")
    var outputs: [String] = []

    @Option(help: "Stop after this many seconds (0: run until quit, Ctrl-C or SIGTERM).")
    var duration: Double = 0

    @Option(help: "Seconds between status lines (0: none).")
    var interval: Double = 1


    func validate() throws {
        guard duration >= 0, duration.isFinite else { throw ValidationError("--duration must be >= 0 seconds") }
        guard interval >= 0, interval.isFinite else { throw ValidationError("--interval must be >= 0 seconds") }
    }

    func run() throws {
        do { try live() } catch let e as CLIError {
            FileHandle.standardError.write("error: \(e)\n".data(using: .utf8)!)
            throw ExitCode.failure
        }
    }

    func live() throws {
        let (profile, engine) = try setup.load(defaultPrecision: .int8)
        controls.apply(to: engine.parameters)
        var message = [CChar](repeating: 0, count: 512)
        // JACK's real-time thread calls this with the engine (kept alive by this function's scope).
        let process: tmrvc_jack_process_fn = { context, input, output, frames in
            Unmanaged<StreamingEngine>.fromOpaque(context!).takeUnretainedValue()
                .process(input: input!, output: output!, frames: Int(frames))
        }
        guard let host = tmrvc_jack_host_open(name, process, Unmanaged.passUnretained(engine).toOpaque(), &message, message.count) else {
            throw CLIError("jack: " + text(message))
        }
        defer { tmrvc_jack_host_close(host); withExtendedLifetime(engine) {} }   // callbacks stop before the engine may go
        let rate = Int(tmrvc_jack_host_sample_rate(host)), period = Int(tmrvc_jack_host_buffer_size(host))
        guard StreamingEngine.supportedSampleRates.contains(rate) else {
            throw CLIError("jack: the server runs at \(rate) Hz; the engine supports \(StreamingEngine.supportedSampleRates.map(String.init).joined(separator: ", ")) Hz (restart jackd with -r 48000)")
        }
        // Periods longer than the prepared block are split by the engine; 4096 covers common settings.
        do { try engine.prepare(sampleRate: rate, maxBlockSize: max(period, 4096)) } catch { throw CLIError("\(error)") }
        engine.setSpeaker(profile)
        // The first hops after loading touch every weight page for the first time (measured: 7 ms
        // instead of 2, 17 xruns at a 5.3 ms period): run them before the audio thread does.
        engine.warmUp()
        tmrvc_jack_host_set_latency(host, UInt32(engine.latencySamples))
        guard tmrvc_jack_host_activate(host, &message, message.count) == 0 else { throw CLIError("jack: " + text(message)) }
        for port in inputs where tmrvc_jack_host_connect_input(host, port, &message, message.count) != 0 { throw CLIError("jack: " + text(message)) }
        for port in outputs where tmrvc_jack_host_connect_output(host, port, &message, message.count) != 0 { throw CLIError("jack: " + text(message)) }
        let inName = String(cString: tmrvc_jack_host_port_name(host, 0)), outName = String(cString: tmrvc_jack_host_port_name(host, 1))
        say("""
        tmrvc live: \(inName) -> \(outName) at \(rate) Hz, JACK period \(period) frames (\(ms(period, rate)) ms)
        speaker \(setup.speaker); q \(controls.quality), pitch \(controls.pitch) st, register \(controls.register.rawValue); \(engine.weightStorage.label) weights, \(KernelSet.active.name) kernels
        engine latency \(engine.latencySamples) samples (\(ms(engine.latencySamples, rate)) ms) + the JACK period(s) of the graph
        commands on stdin: speaker PATH | q V | pitch V | wet V | gain V | gate V | register auto|shift | stats | quit
        """)

        stopRequested.store(false, ordering: .relaxed)
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        let commands = CommandReader(engine: engine)
        commands.start()

        let start = Date()
        var nextStatus = interval
        var serverGone = false
        while !stopRequested.load(ordering: .relaxed) && !commands.quitRequested {
            usleep(20_000)
            let t = Date().timeIntervalSince(start)
            tmrvc_jack_host_set_latency(host, UInt32(engine.latencySamples))
            if tmrvc_jack_host_alive(host) == 0 { serverGone = true; break }
            if commands.statusRequested || (interval > 0 && t >= nextStatus) {
                say(statusLine(t, engine, host, rate))
                if interval > 0 { while nextStatus <= t { nextStatus += interval } }
            }
            if duration > 0 && t >= duration { break }
        }
        let elapsed = Date().timeIntervalSince(start)
        let s = engine.statistics
        say("""
        stopped after \(String(format: "%.1f", elapsed)) s: \(tmrvc_jack_host_periods(host)) periods from JACK frame \(tmrvc_jack_host_first_frame(host)), \(tmrvc_jack_host_xruns(host)) xruns, \
        \(s.hops) hops (max \(String(format: "%.0f", s.maxHopMicroseconds)) us of 10,000), \(s.overloadReductions) overload reductions, \
        \(s.crossfades) crossfades, \(s.nonFiniteInputSamples) non-finite input samples, \(s.nonFiniteHops) non-finite hops
        """)
        if serverGone { throw CLIError("jack: the server shut the client down") }
    }

    func statusLine(_ t: Double, _ engine: StreamingEngine, _ host: OpaquePointer, _ rate: Int) -> String {
        let s = engine.statistics
        let f0 = s.outputF0Hz > 0 ? String(format: "%.0f Hz", s.outputF0Hz) : "unvoiced"
        return String(format: "t %.1f s | latency %d samples (%.1f ms) | JACK DSP load %.1f %% | hop %.2f ms (max %.2f) | xruns %llu | q %.2f | F0 %@",
                      t, engine.latencySamples, 1000 * Double(engine.latencySamples) / Double(rate), tmrvc_jack_host_cpu_load(host),
                      s.lastHopMicroseconds / 1000, s.maxHopMicroseconds / 1000, tmrvc_jack_host_xruns(host), s.effectiveQuality, f0)
    }

    func ms(_ samples: Int, _ rate: Int) -> String { String(format: "%.1f", 1000 * Double(samples) / Double(rate)) }

    func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Reads commands from stdin on its own thread and applies them (parameters are atomics; speakers
/// go through the engine's mailbox), so the audio thread never waits for it.
final class CommandReader: @unchecked Sendable {
    let engine: StreamingEngine
    private let quit = Atomic<Bool>(false)
    private let status = Atomic<Bool>(false)
    init(engine: StreamingEngine) { self.engine = engine }

    var quitRequested: Bool { quit.load(ordering: .relaxed) }
    /// True once per `stats` command.
    var statusRequested: Bool { status.exchange(false, ordering: .relaxed) }

    func start() {
        let t = Thread { [self] in
            while let line = readLine() {
                let reply = apply(line)
                if !reply.isEmpty { say(reply) }
                if quitRequested { return }
            }
        }
        t.start()
    }

    /// Applies one command; returns what to print.
    func apply(_ line: String) -> String {
        let words = line.split(separator: " ", maxSplits: 1).map(String.init)
        guard let command = words.first else { return "" }
        let argument = words.count > 1 ? words[1].trimmingCharacters(in: .whitespaces) : ""
        let p = engine.parameters
        func number(_ control: EngineParameters.Control, _ set: (Float) -> Void) -> String {
            guard let v = Float(argument), control.range.contains(v) else {
                return "error: \(command) needs a number within \(control.rangeDescription)"
            }
            set(v)
            return "\(command) = \(v)"
        }
        switch command {
        case "quit", "exit": quit.store(true, ordering: .relaxed); return "quitting"
        case "stats": status.store(true, ordering: .relaxed); return ""
        case "q": return number(EngineParameters.quality) { p.quality = $0 }
        case "pitch": return number(EngineParameters.pitch) { p.pitchShiftSemitones = $0 }
        case "wet": return number(EngineParameters.dryWet) { p.wet = $0 }
        case "gain": return number(EngineParameters.gain) { p.outputGainDB = $0 }
        case "gate": return number(EngineParameters.gate) { p.gateThresholdDB = $0 }
        case "content_warp": return number(EngineParameters.contentWarp) { p.contentWarpStrength = $0 }
        case "register":
            guard let r = VoiceControls.Register(rawValue: argument) else { return "error: register needs auto or shift" }
            p.registerMode = r.mode
            return "register = \(argument)"
        case "speaker":
            do { try engine.loadSpeaker(path: argument) } catch { return "error: \(error)" }
            return "speaker \(argument) loaded (crossfading)"
        default: return "error: unknown command '\(command)' (speaker, q, pitch, wet, gain, gate, register, content_warp, stats, quit)"
        }
    }
}
