#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CFFTW
import CTMRVCSupport
import Synchronization
import TMRVCConstants
import TMRVCDSP
import TMRVCRuntime

/// The real-time voice changer: host audio in arbitrary blocks at 44.1/48 kHz (or 24 kHz) in,
/// converted audio out, with a fixed latency that is reported exactly.
///
/// Signal flow (docs/design/streaming-design.md): host rate -> polyphase resampler -> 24 kHz ->
/// noise gate -> per 240-sample hop: causal log-mel -> content_encoder -> (ir_estimator every N
/// hops, cached) -> voice-source blend; YIN F0 -> register map into the speaker's register (+ pitch
/// shift) -> converter -> vocoder (harmonic and noise envelopes) x excitation at the mapped F0 ->
/// iSTFT overlap-add -> 24 kHz FIFO -> resampler -> host rate -> dry/wet + gain.
///
/// Threading: `prepare`, `reset`, `setSpeaker` and `init` are not real-time; `process` is (no
/// allocation, no locks, no throwing) and must be called from one thread at a time. `parameters`
/// may be changed, and `latencySamples`, `statistics` and `speakerGeneration` read, from any
/// thread; `loadSpeaker(path:)`/`post` may run on any non-audio threads while audio is processed
/// — the new speaker is picked up at the next hop and crossfaded in. Until a speaker is set the
/// output is the input delayed by the latency (docs/design/host-integration.md).
public final class StreamingEngine: @unchecked Sendable {
    /// Controls, settable from any thread.
    public let parameters = EngineParameters()
    /// Directory the models were loaded from.
    public let modelsDirectory: String

    /// Diagnostic signal paths (for tests and measurements).
    public enum Mode: Sendable {
        /// The models convert the voice.
        case convert
        /// The models are bypassed: each frame's spectrum is analysed from the input with the
        /// synthesis window and resynthesised, so the output reproduces the input through exactly
        /// the same timing (latency measurement).
        case resynthesis
    }

    /// Signal path; set before `prepare`.
    public var mode: Mode = .convert

    static let hop = TMRVCConstants.Audio.hopLength
    static let internalRate = TMRVCConstants.Audio.sampleRate
    static let maxLookahead = TMRVCConstants.Streaming.maxLookaheadHops
    static let melCount = TMRVCConstants.Dims.mel
    static let contentCount = TMRVCConstants.Dims.content
    static let irWindow = TMRVCConstants.Streaming.irWindowFrames
    static let synthesisFFT = TMRVCConstants.Vocoder.nFft
    static let bins = TMRVCConstants.Vocoder.nFft / 2 + 1
    /// Host-rate FIFO headroom absorbing the resamplers' sample-count jitter (host samples).
    static let hostHeadroom = 4
    /// Extra 24 kHz FIFO headroom so a hop can be emitted before its last sample is output.
    static let internalHeadroom = hop

    // Models and DSP shared by both paths.
    private let content: StreamingModel
    private let contentIn: TensorBuffer
    private let contentOut: TensorBuffer
    private let irSession: InferenceSession
    private let irIn: TensorBuffer
    private let irOut: TensorBuffer
    private let mel = CausalLogMel()
    private let pitch: [PitchEstimator]
    /// Per estimator: the hop of its last estimate (-2: none yet) and that estimate. Both paths of
    /// a crossfade share one estimate per hop, so each estimator's pitch track advances once per hop.
    private let pitchHop: UnsafeMutablePointer<Int>
    private let pitchLast: UnsafeMutablePointer<PitchEstimate>
    private let paths: [ConversionPath]
    private var active = 0
    private var fadingTo = -1
    private var fadePosition = 0
    private let fadeLength: Int
    private let fadeIn: UnsafeMutablePointer<Float>
    private let speakers = SpeakerMailbox()
    /// Whether a speaker has been set or taken from the mailbox. Until then the convert path
    /// outputs the dry (delayed) input: the models without a speaker make no usable voice.
    private var hasSpeaker = false
    /// Host output sample (counted since `reset`) where the first speaker's converted signal
    /// begins to replace the dry one: `Int.min` when a speaker was set before the stream started,
    /// `Int.max` while there is none. A function of the hop index, so the output does not depend
    /// on the block partition.
    private var speakerOnset = Int.max
    private var hostSamplesOut = 0
    private let publishedLatency = Atomic<Int>(0)

    // 24 kHz working buffers.
    private let history: UnsafeMutablePointer<Float>
    private let historyLength: Int
    private let melFrame: UnsafeMutablePointer<Float>
    /// The content encoder's input frame when the content warp is on (`melFrame` warped).
    private let warpedMelFrame: UnsafeMutablePointer<Float>
    private let melWarp = MelWarp()
    private let melHistory: UnsafeMutablePointer<Float>   // [irWindow][mel], newest last
    private let contentRing: UnsafeMutablePointer<Float>  // [(maxLookahead + 1)][content]
    private let irParams: UnsafeMutablePointer<Float>
    private let hopIn: UnsafeMutablePointer<Float>
    private var hopFill = 0
    private var hopIndex = 0
    /// Incremental ir_estimator run in flight: parts done so far and parts in all (0: none).
    private var irPartsDone = 0
    private var irPartsTotal = 0
    private let hopOut: UnsafeMutablePointer<Float>
    private var gate: NoiseGate
    private var gateEnabled = false
    // Diagnostic analysis (resynthesis mode).
    private let analysis = RealFFT(n: TMRVCConstants.Vocoder.nFft)
    private let analysisIn: UnsafeMutablePointer<Float>
    private let analysisOut: UnsafeMutablePointer<Float>
    private let analysisPlan: fftwf_plan
    private let analysisWindow: UnsafeMutablePointer<Float>
    private let diagMagnitude: UnsafeMutablePointer<Float>
    private let diagPhase: UnsafeMutablePointer<Float>

    // Host side, sized by `prepare`.
    public private(set) var sampleRate = 0
    public private(set) var maxBlockSize = 0
    private var down: PolyphaseResampler?
    private var up: PolyphaseResampler?
    private var in24: UnsafeMutablePointer<Float>?
    private var out24: UnsafeMutablePointer<Float>?
    private var hostWet: UnsafeMutablePointer<Float>?
    private var fifo24: RingBuffer<Float>?
    private var hostFifo: RingBuffer<Float>?
    private var dryLine: UnsafeMutablePointer<Float>?
    private var dryLineLength = 0
    private var dryWrite = 0
    private var dryTapOld = 0
    private var dryTap = 0
    private var dryFadeLeft = 0
    private var dryFadeLength = 1

    // Quality control.
    private var userQuality: Float = -1
    private var qualityCap: Float = 1
    private var profile = QualityProfile(quality: 0)
    private var calmHops = 0
    private var overloadCooldown = 0
    private var lastWet: Float = 1
    private var lastGain: Float = 1
    private var dcBlocker = DCBlocker(sampleRate: TMRVCConstants.Audio.sampleRate)   // on the converted 24 kHz signal
    private var limiter = SafetyLimiter(sampleRate: TMRVCConstants.Audio.sampleRate) // on the output, sized in prepare
    private var lastAlpha: Float = 0
    /// Whether the engine lowers the quality itself when hops take too long (default on; off
    /// while batching).
    public var overloadControlEnabled = true
    /// Offline batching, read by `prepare`: with more than 1, the content encoder and the vocoder
    /// run on batches of about this many hops (rounded to a multiple of the IR update interval)
    /// and the converter on chunks of one interval — matrix–matrix products that read each weight
    /// once per batch instead of once per 10 ms hop (several times faster for files). The output
    /// equals the one-hop path's within float rounding, one batch later: the latency grows by
    /// (batch − 1) hops (``latencySamples`` includes it), and `process` does a whole batch's model
    /// work in the call that completes it, so this is for files, not real time. Parameter and
    /// speaker changes are picked up between batches; a quality other than the one at `prepare`
    /// (and crossfades) run hop by hop. 1 (the default): the real-time path.
    public var batchHops = 1
    private var batch: HopBatch?
    /// Hops per batch as prepared (nil: no batching).
    public var batchSize: Int? { batch?.hops }
    /// Busy-waits this long per hop (tests of the overload control only).
    public var simulatedExtraHopCostMicroseconds: Double = 0

    /// Statistics the audio thread updates (read them from the same thread or after processing).
    public struct Statistics: Sendable {
        /// Hops processed.
        public var hops = 0
        /// Most recent hop's processing time in microseconds.
        public var lastHopMicroseconds = 0.0
        /// Largest hop processing time in microseconds.
        public var maxHopMicroseconds = 0.0
        /// Times the overload control lowered the quality.
        public var overloadReductions = 0
        /// Host-FIFO underruns (must stay 0: the design never starves).
        public var underruns = 0
        /// Crossfades performed (speaker or quality changes).
        public var crossfades = 0
        /// F0 (Hz) of the most recent converted frame on the active path, after the register
        /// mapping and the pitch shift (0: unvoiced): the pitch the output is synthesised at.
        public var outputF0Hz = 0.0
        /// Non-finite input samples (NaN, ±inf) replaced by 0 before any processing.
        public var nonFiniteInputSamples = 0
        /// Hops whose converted output was non-finite: output as silence, model states reset.
        public var nonFiniteHops = 0
        /// Non-finite output samples replaced by 0 at the very end (a last guard; stays 0 when the
        /// input scrub and the hop check work).
        public var nonFiniteOutputSamples = 0
        /// Output samples the safety limiter turned down (its gain below 1).
        public var limitedSamples = 0
        /// The quality in use (the user's q, or lower after an overload).
        public var effectiveQuality: Float = 0
    }
    /// Live stats.
    /// Statistics as of the end of the most recent `process` call (or `reset`); safe to read
    /// from any thread while audio runs (each field is published atomically).
    public var statistics: Statistics { published.snapshot() }
    private var stats = Statistics()
    private let published = PublishedStatistics()

    /// Weight storage the models were compiled with.
    public let weightStorage: WeightStorage

    /// Loads the models from `modelsDirectory` (default: the shipped `weights/`), compiles them
    /// for one frame per call and plans the FFTs. `weightStorage` `.float16` stores the matrix
    /// weights as half floats (faster, less exact; see docs/performance.md). Not real-time.
    public init(modelsDirectory: String, weightStorage: WeightStorage = .float32) throws(EngineError) {
        self.weightStorage = weightStorage
        self.modelsDirectory = modelsDirectory
        let contentPath = modelsDirectory + "/content_encoder.onnx"
        do { content = try StreamingModel(path: contentPath, frames: 1, weightStorage: weightStorage) } catch {
            throw EngineError(path: contentPath, reason: error.message)
        }
        guard let ci = content.input("mel"), ci.count == Self.melCount, let co = content.output("content"), co.count == Self.contentCount else {
            throw EngineError(path: contentPath, reason: "expected input 'mel' [1,80,T] and output 'content' [1,256,T]")
        }
        contentIn = ci
        contentOut = co
        let irPath = modelsDirectory + "/ir_estimator.onnx"
        do { irSession = try InferenceSession(path: irPath, options: SessionOptions(weightStorage: weightStorage)) } catch { throw EngineError(path: irPath, reason: error.message) }
        guard let ii = irSession.inputIndex("mel_window"), irSession.inputs[ii].count == Self.melCount * Self.irWindow,
              let io = irSession.outputIndex("ir_params"), irSession.outputs[io].count == TMRVCConstants.Dims.irParams else {
            throw EngineError(path: irPath, reason: "expected input 'mel_window' [1,80,\(Self.irWindow)] and output 'ir_params' [1,24]")
        }
        irIn = irSession.inputs[ii]
        irOut = irSession.outputs[io]
        paths = [try ConversionPath(modelsDirectory: modelsDirectory, weightStorage: weightStorage),
                 try ConversionPath(modelsDirectory: modelsDirectory, weightStorage: weightStorage)]
        pitch = (0...Self.maxLookahead).map { l in PitchEstimator(windowLength: QualityProfile.pitchWindow(lookahead: l)) }
        pitchHop = .allocate(capacity: Self.maxLookahead + 1)
        pitchHop.initialize(repeating: -2, count: Self.maxLookahead + 1)
        pitchLast = .allocate(capacity: Self.maxLookahead + 1)
        pitchLast.initialize(repeating: .unvoiced, count: Self.maxLookahead + 1)
        historyLength = QualityProfile.pitchWindow(lookahead: Self.maxLookahead) + 2 * Self.hop * (Self.maxLookahead + 2)
        history = .allocate(capacity: historyLength)
        history.initialize(repeating: 0, count: historyLength)
        melFrame = .allocate(capacity: Self.melCount)
        melFrame.initialize(repeating: 0, count: Self.melCount)
        warpedMelFrame = .allocate(capacity: Self.melCount)
        warpedMelFrame.initialize(repeating: 0, count: Self.melCount)
        melHistory = .allocate(capacity: Self.melCount * Self.irWindow)
        melHistory.initialize(repeating: Float(logf(Float(TMRVCConstants.Frontend.logFloor))), count: Self.melCount * Self.irWindow)
        contentRing = .allocate(capacity: Self.contentCount * (Self.maxLookahead + 1))
        contentRing.initialize(repeating: 0, count: Self.contentCount * (Self.maxLookahead + 1))
        irParams = .allocate(capacity: TMRVCConstants.Dims.irParams)
        irParams.initialize(repeating: 0, count: TMRVCConstants.Dims.irParams)
        hopIn = .allocate(capacity: Self.hop)
        hopIn.initialize(repeating: 0, count: Self.hop)
        hopOut = .allocate(capacity: Self.hop)
        hopOut.initialize(repeating: 0, count: Self.hop)
        fadeLength = Int(TMRVCConstants.Streaming.crossfadeMs * Double(Self.internalRate) / 1000)
        fadeIn = .allocate(capacity: fadeLength)
        // Linear: the two paths carry the same (time-shifted or re-voiced) speech, so their sum
        // keeps the level, and the step size never exceeds the signal's own.
        for i in 0..<fadeLength { fadeIn[i] = Float(i + 1) / Float(fadeLength) }
        gate = NoiseGate(thresholdDBFS: -120)
        // Diagnostic analysis FFT (planned here, never on the audio thread).
        let n = Self.synthesisFFT
        analysisIn = analysis.input.pointer
        analysisOut = analysis.output.pointer
        analysisPlan = analysis.plan
        analysisWindow = .allocate(capacity: n)
        for i in 0..<n { analysisWindow[i] = sqrtf(0.5 - 0.5 * cosf(2 * Float.pi * Float(i) / Float(n))) }
        diagMagnitude = .allocate(capacity: Self.bins)
        diagMagnitude.initialize(repeating: 0, count: Self.bins)
        diagPhase = .allocate(capacity: Self.bins)
        diagPhase.initialize(repeating: 0, count: Self.bins)
    }

    deinit {
        history.deallocate(); melFrame.deallocate(); warpedMelFrame.deallocate(); melHistory.deallocate(); contentRing.deallocate()
        irParams.deallocate(); hopIn.deallocate(); hopOut.deallocate(); fadeIn.deallocate()
        analysisWindow.deallocate(); diagMagnitude.deallocate(); diagPhase.deallocate()
        pitchHop.deallocate(); pitchLast.deallocate()
        releaseHostBuffers()
    }

    /// Supported host sample rates (plus the internal rate, which needs no resampling).
    public static var supportedSampleRates: [Int] { [internalRate] + TMRVCConstants.Audio.hostSampleRates }

    /// Sizes every buffer for `sampleRate` and blocks of up to `maxBlockSize` frames, and resets
    /// the stream. Not real-time. Throws for an unsupported rate or block size.
    public func prepare(sampleRate: Int, maxBlockSize: Int) throws(EngineError) {
        guard Self.supportedSampleRates.contains(sampleRate) else {
            throw EngineError(path: "sample rate", reason: "\(sampleRate) Hz is not supported (supported: \(Self.supportedSampleRates.map(String.init).joined(separator: ", ")) Hz)")
        }
        guard maxBlockSize >= 1, maxBlockSize <= 1 << 16 else {
            throw EngineError(path: "block size", reason: "\(maxBlockSize) frames is outside 1...65536")
        }
        releaseHostBuffers()
        batch = nil
        if batchHops > 1 && mode == .convert {
            batch = try HopBatch(modelsDirectory: modelsDirectory, profile: QualityProfile(quality: parameters.quality),
                                 requestedHops: batchHops, weightStorage: weightStorage)
        }
        self.sampleRate = sampleRate
        self.maxBlockSize = maxBlockSize
        if sampleRate != Self.internalRate {
            down = PolyphaseResampler(inputRate: sampleRate, outputRate: Self.internalRate)
            up = PolyphaseResampler(inputRate: Self.internalRate, outputRate: sampleRate)
        } else {
            down = nil
            up = nil
        }
        let max24 = (down?.maxOutputCount(forInputCount: maxBlockSize) ?? maxBlockSize) + 2
        in24 = .allocate(capacity: max24)
        in24!.initialize(repeating: 0, count: max24)
        out24 = .allocate(capacity: max24)
        out24!.initialize(repeating: 0, count: max24)
        let maxHost = (up?.maxOutputCount(forInputCount: max24) ?? max24) + 2
        hostWet = .allocate(capacity: max(maxHost, maxBlockSize))
        hostWet!.initialize(repeating: 0, count: max(maxHost, maxBlockSize))
        fifo24 = RingBuffer<Float>(capacity: max24 + Self.internalHeadroom + Self.hop * (Self.maxLookahead + 4 + 2 * (batch?.hops ?? 0)), fill: 0)
        hostFifo = RingBuffer<Float>(capacity: maxHost + maxBlockSize + Self.hostHeadroom + 8, fill: 0)
        let maxLatency = Self.latency(sampleRate: sampleRate, lookahead: Self.maxLookahead, down: down, up: up, batchDelay: batchDelayHops)
        dryLineLength = maxLatency + maxBlockSize + 8
        dryLine = .allocate(capacity: dryLineLength)
        dryLine!.initialize(repeating: 0, count: dryLineLength)
        reset()
    }

    /// Runs `seconds` of silence through the prepared engine, then resets the stream (speaker and
    /// parameters kept): the first hops after loading fault in every weight page and cost several
    /// times a warm hop. Call after `prepare` and before real-time processing starts. Not real-time.
    public func warmUp(seconds: Double = 0.5) {
        guard maxBlockSize > 0 else { return }
        let block = min(maxBlockSize, max(1, sampleRate / 100))
        let silence = UnsafeMutablePointer<Float>.allocate(capacity: block)
        defer { silence.deallocate() }
        silence.initialize(repeating: 0, count: block)
        for _ in 0..<Int(seconds * Double(sampleRate)) / block { process(input: silence, output: silence, frames: block) }
        reset()
    }

    private func releaseHostBuffers() {
        in24?.deallocate(); out24?.deallocate(); hostWet?.deallocate(); dryLine?.deallocate()
        in24 = nil; out24 = nil; hostWet = nil; dryLine = nil
    }

    /// Returns to the start of a stream: zero states and histories, FIFOs refilled to the
    /// latency. Keeps the speaker and parameters. Not real-time (it may rebuild the noise gate).
    public func reset() {
        for p in paths { p.reset() }
        batch?.reset()
        batch?.clearRoomEstimates()
        content.resetState()
        mel.reset()
        for p in pitch { p.reset() }
        pitchHop.update(repeating: -2, count: Self.maxLookahead + 1)
        history.update(repeating: 0, count: historyLength)
        melHistory.update(repeating: logf(Float(TMRVCConstants.Frontend.logFloor)), count: Self.melCount * Self.irWindow)
        contentRing.update(repeating: 0, count: Self.contentCount * (Self.maxLookahead + 1))
        irParams.update(repeating: 0, count: TMRVCConstants.Dims.irParams)
        hopFill = 0
        hopIndex = 0
        irPartsDone = 0
        irPartsTotal = 0
        fadingTo = -1
        down?.reset()
        up?.reset()
        gateEnabled = parameters.gateThresholdDB > -120
        gate = NoiseGate(thresholdDBFS: parameters.gateThresholdDB)
        userQuality = parameters.quality
        qualityCap = 1
        applyProfile(QualityProfile(quality: userQuality), to: paths[active])
        profile = QualityProfile(quality: userQuality)
        lastAlpha = parameters.voiceSourceAlpha
        for p in paths { p.setAcoustic(ir: irParams, voiceSourceAlpha: lastAlpha) }
        lastWet = parameters.wet
        lastGain = powf(10, parameters.outputGainDB / 20)
        dcBlocker.reset()
        limiter = SafetyLimiter(sampleRate: max(1, sampleRate))
        refillFifos()
        hostSamplesOut = 0
        speakerOnset = hasSpeaker ? Int.min : Int.max
        stats = Statistics()
        stats.effectiveQuality = effectiveQuality
        published.publish(stats)
    }

    private func refillFifos() {
        guard let fifo24, let hostFifo else { return }
        fifo24.removeAll()
        hostFifo.removeAll()
        for _ in 0..<(Self.internalHeadroom + Self.hop * batchDelayHops) { _ = fifo24.append(0) }
        if down != nil { for _ in 0..<Self.hostHeadroom { _ = hostFifo.append(0) } }
        dryLine?.update(repeating: 0, count: dryLineLength)
        dryWrite = 0
        dryTap = updateLatency()
        dryTapOld = dryTap
        dryFadeLeft = 0
    }

    /// Total latency from input to output, in host samples at the prepared rate: the 20 ms of
    /// hop accumulation and synthesis overlap, the lookahead, both resamplers' group delays and
    /// the host FIFO headroom. Measured by the engine tests to within one sample.
    /// Safe to read from any thread while audio runs (it changes when q changes, by the user or
    /// the overload control, at the hop where the crossfade to the new profile begins).
    public var latencySamples: Int { publishedLatency.load(ordering: .relaxed) }

    /// The latency of the current profile (audio thread, or while not processing); publishes it.
    @discardableResult
    private func updateLatency() -> Int {
        let l = Self.latency(sampleRate: sampleRate, lookahead: profile.lookaheadHops, down: down, up: up, batchDelay: batchDelayHops)
        publishedLatency.store(l, ordering: .relaxed)
        return l
    }

    /// Current quality profile (after the overload control's cap). Audio thread, or while not
    /// processing (other threads: `statistics.effectiveQuality`).
    public var currentProfile: QualityProfile { profile }

    /// The quality actually in use: the user's q, possibly lowered by the overload control. Audio
    /// thread, or while not processing (other threads: `statistics.effectiveQuality`).
    public var effectiveQuality: Float { min(userQuality, qualityCap) }

    /// Hops a batch delays the output by (0 without batching).
    private var batchDelayHops: Int { (batch?.hops ?? 1) - 1 }

    static func latency(sampleRate: Int, lookahead: Int, down: PolyphaseResampler?, up: PolyphaseResampler?, batchDelay: Int = 0) -> Int {
        guard sampleRate > 0 else { return 0 }
        let core = Double(Self.internalHeadroom + Self.hop + Self.hop * (lookahead + batchDelay))   // 24 kHz samples
        let ratio = Double(sampleRate) / Double(Self.internalRate)
        let resampling = (down?.groupDelayInputSamples ?? 0) + (up?.groupDelayOutputSamples ?? 0)
        let headroom = sampleRate == Self.internalRate ? 0.0 : Double(Self.hostHeadroom)
        return Int((core * ratio + resampling + headroom).rounded())
    }

    // MARK: speakers

    /// Sets the speaker immediately (before streaming starts; not real-time, no crossfade).
    public func setSpeaker(_ profile: SpeakerProfile) {
        let stats: [Float]? = profile.pitchStatistics.map { [$0.mean, $0.std] }
        profile.embedding.withUnsafeBufferPointer { e in
            profile.loraDelta.withUnsafeBufferPointer { l in
                (profile.voiceSourcePreset ?? []).withUnsafeBufferPointer { p in
                    (stats ?? []).withUnsafeBufferPointer { s in
                        paths[active].setSpeaker(embedding: e.baseAddress!, lora: l.baseAddress!,
                                                 preset: profile.voiceSourcePreset == nil ? nil : p.baseAddress!,
                                                 pitchStatistics: stats == nil ? nil : s.baseAddress!)
                    }
                }
            }
        }
        paths[active].setAcoustic(ir: irParams, voiceSourceAlpha: lastAlpha)
        hasSpeaker = true
        speakerOnset = Int.min
    }

    /// Reads and validates a `.tmrvc_speaker` file and hands it to the audio thread, which
    /// crossfades to it over 100 ms at its next hop (the first speaker starts at once, no
    /// crossfade). Call from any thread but the audio thread, while audio runs or not; it never
    /// waits for the audio thread, and a newer load replaces one not yet picked up.
    public func loadSpeaker(path: String) throws(SpeakerFileError) {
        speakers.post(try SpeakerProfile(contentsOf: path))
    }

    /// Posts an already validated profile to the audio thread, as `loadSpeaker(path:)` does.
    public func post(_ profile: SpeakerProfile) { speakers.post(profile) }

    /// Number of speaker changes the audio thread has picked up.
    public var speakerGeneration: Int { speakers.generation }

    // MARK: processing

    /// Converts `frames` host samples from `input` into `output` (which may alias `input`).
    /// Real-time safe. Blocks larger than `maxBlockSize` are split internally.
    public func process(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, frames: Int) {
        guard maxBlockSize > 0 else {
            output.update(repeating: 0, count: frames)
            return
        }
        // Denormals flushed for the whole call (filters, FFTs, resamplers and models decaying
        // after speech would otherwise run on subnormal floats, many times slower).
        let fpMode = tmrvc_enable_ftz_daz()
        defer { tmrvc_restore_fp_mode(fpMode) }
        var done = 0
        while done < frames {
            let n = min(maxBlockSize, frames - done)
            processBlock(input: input + done, output: output + done, frames: n)
            done += n
        }
    }

    private func processBlock(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, frames: Int) {
        guard let in24, let out24, let hostWet, let fifo24, let hostFifo, let dryLine else { return }
        // Non-finite input samples become 0 (hostWet is free until the upsampler writes it; the
        // output may alias the input, so the input itself is not touched).
        let clean = hostWet
        var bad = 0
        for i in 0..<frames {
            let x = input[i]
            if x.isFinite { clean[i] = x } else { clean[i] = 0; bad += 1 }
        }
        if bad > 0 { stats.nonFiniteInputSamples += bad }
        let input = UnsafePointer(clean)
        // Dry path: a delay line read at the current latency.
        for i in 0..<frames {
            dryLine[dryWrite] = input[i]
            dryWrite += 1
            if dryWrite == dryLineLength { dryWrite = 0 }
        }
        // Host rate -> 24 kHz.
        let n24: Int
        if let down {
            n24 = down.process(input, count: frames, output: in24, outputCapacity: down.maxOutputCount(forInputCount: frames) + 2)
        } else {
            in24.update(from: input, count: frames)
            n24 = frames
        }
        // Hops.
        var i = 0
        while i < n24 {
            let take = min(Self.hop - hopFill, n24 - i)
            (hopIn + hopFill).update(from: in24 + i, count: take)
            hopFill += take
            i += take
            if hopFill == Self.hop {
                processHop()   // writes the converted hop(s) into fifo24
                hopFill = 0
            }
        }
        // One 24 kHz output sample per 24 kHz input sample: a constant delay.
        let got24 = fifo24.read(into: out24, count: n24)
        if got24 < n24 { (out24 + got24).update(repeating: 0, count: n24 - got24); stats.underruns += 1 }
        // 24 kHz -> host rate.
        let nHost: Int
        if let up {
            nHost = up.process(out24, count: n24, output: hostWet, outputCapacity: up.maxOutputCount(forInputCount: n24) + 2)
        } else {
            hostWet.update(from: out24, count: n24)
            nHost = n24
        }
        _ = hostFifo.write(hostWet, count: nHost)
        let got = hostFifo.read(into: hostWet, count: frames)
        if got < frames { (hostWet + got).update(repeating: 0, count: frames - got); stats.underruns += 1 }
        // Dry/wet mix and gain, with per-block linear ramps (no zipper noise).
        let wet = parameters.wet
        // Until the first speaker: dry; then the converted signal fades in over 100 ms.
        let onsetRamp = Float(max(1, fadeLength * sampleRate / Self.internalRate))
        let onset = mode == .resynthesis ? Int.min : speakerOnset
        let gain = powf(10, parameters.outputGainDB / 20)
        let w0 = lastWet, g0 = lastGain
        let step = 1 / Float(frames)
        for k in 0..<frames {
            let t = Float(k + 1) * step
            var w = w0 + (wet - w0) * t
            if onset != Int.min {
                let since = hostSamplesOut + k - onset
                w *= since <= 0 ? 0 : min(1, Float(since) / onsetRamp)
            }
            let g = g0 + (gain - g0) * t
            var readAt = dryWrite - frames + k - dryTap
            while readAt < 0 { readAt += dryLineLength }
            var dry = dryLine[readAt]
            if dryFadeLeft > 0 {
                // The latency changed: fade the dry path from the old tap to the new one.
                var oldAt = dryWrite - frames + k - dryTapOld
                while oldAt < 0 { oldAt += dryLineLength }
                let a = Float(dryFadeLeft) / Float(dryFadeLength)
                dry = a * dryLine[oldAt] + (1 - a) * dry
                dryFadeLeft -= 1
            }
            let y = limiter.process(g * (w * hostWet[k] + (1 - w) * dry))
            if y.isFinite {
                output[k] = y
            } else {
                output[k] = 0
                stats.nonFiniteOutputSamples += 1
            }
        }
        stats.limitedSamples = limiter.limitedSamples
        lastWet = wet
        lastGain = gain
        hostSamplesOut += frames
        stats.effectiveQuality = effectiveQuality
        published.publish(stats)
    }

    private func processHop() {
        let start = Self.now()
        if let batch { batchedHop(batch) } else { streamedHop(pickUpChanges: true) }
        // Overload control on the measured cost of this hop.
        if simulatedExtraHopCostMicroseconds > 0 {
            let until = start + simulatedExtraHopCostMicroseconds
            while Self.now() < until {}
        }
        let micros = Self.now() - start
        stats.hops += 1
        stats.lastHopMicroseconds = micros
        stats.maxHopMicroseconds = max(stats.maxHopMicroseconds, micros)
        if batch == nil { controlOverload(hopMicroseconds: micros) }
    }

    /// One hop through the one-frame models: the real-time path (with batching, the hops outside
    /// a batch).
    private func streamedHop(pickUpChanges pickUp: Bool) {
        if pickUp { pickUpChanges() }
        analyzeHop()
        let slot = hopIndex % (Self.maxLookahead + 1)
        if mode == .convert {
            contentIn.floats.update(from: contentFrame(), count: Self.melCount)
            content.step()
            (contentRing + slot * Self.contentCount).update(from: contentOut.floats, count: Self.contentCount)
            if let batch {
                estimateRoomWhole(batch)
                var due = false
                while let p = batch.popRoomEstimate(dueBy: hopIndex) { irParams.update(from: p, count: TMRVCConstants.Dims.irParams); due = true }
                if due {
                    paths[active].setAcoustic(ir: irParams, voiceSourceAlpha: lastAlpha)
                    if fadingTo >= 0 { paths[fadingTo].setAcoustic(ir: irParams, voiceSourceAlpha: lastAlpha) }
                }
            } else {
                if hopIndex % profile.irUpdateInterval == 0 && irPartsTotal == 0 { beginRoomEstimate() }
                if irPartsTotal > 0 { continueRoomEstimate() }
            }
        }
        // Conversion on the active path (and the incoming one during a crossfade).
        run(paths[active])
        if fadingTo >= 0 {
            run(paths[fadingTo])
            let from = paths[active].block, to = paths[fadingTo].block
            for k in 0..<Self.hop {
                let g = fadeIn[min(fadePosition + k, fadeLength - 1)]
                hopOut[k] = (1 - g) * from[k] + g * to[k]
            }
            fadePosition += Self.hop
            if fadePosition >= fadeLength {
                active = fadingTo
                fadingTo = -1
            }
        } else {
            hopOut.update(from: paths[active].block, count: Self.hop)
        }
        finishHop()
        hopIndex += 1
    }

    /// The hop's analysis: noise gate, the 24 kHz input history, the log-mel frame and the mel
    /// history the room estimate reads.
    private func analyzeHop() {
        if gateEnabled { gate.process(hopIn, count: Self.hop) }
        // History of the gated 24 kHz input (newest last).
        memmove(history, history + Self.hop, (historyLength - Self.hop) * MemoryLayout<Float>.stride)
        (history + historyLength - Self.hop).update(from: hopIn, count: Self.hop)
        _ = mel.process(hopIn, count: Self.hop, frames: melFrame, frameCapacity: 1)
        memmove(melHistory, melHistory + Self.melCount, Self.melCount * (Self.irWindow - 1) * MemoryLayout<Float>.stride)
        (melHistory + Self.melCount * (Self.irWindow - 1)).update(from: melFrame, count: Self.melCount)
    }

    /// Sends the converted hop in `hopOut` to the 24 kHz FIFO: a non-finite hop (a model
    /// overflowed) goes out as silence and the model states restart; then the DC blocker.
    /// Returns whether the hop was finite.
    @discardableResult
    private func finishHop() -> Bool {
        var finite = true
        for k in 0..<Self.hop where !hopOut[k].isFinite { finite = false }
        if !finite {
            hopOut.update(repeating: 0, count: Self.hop)
            for p in paths { p.reset() }
            content.resetState()
            stats.nonFiniteHops += 1
        }
        dcBlocker.process(hopOut, count: Self.hop)
        if let fifo24 { _ = fifo24.write(hopOut, count: Self.hop) }
        return finite
    }

    private func run(_ path: ConversionPath) {
        let t = hopIndex - path.lookaheadHops
        guard t >= 0 else {
            path.block.update(repeating: 0, count: Self.hop)
            return
        }
        switch mode {
        case .convert:
            let e = pitchEstimate(window: path.pitchWindow)
            let (logF0, f0Hz) = outputPitch(path, estimate: e, shift: parameters.pitchShiftSemitones,
                                            automatic: parameters.registerMode == .automatic)
            if path === paths[active] { stats.outputF0Hz = f0Hz }
            path.process(content: contentRing + (t % (Self.maxLookahead + 1)) * Self.contentCount, logF0: logF0, voicing: e.voicing,
                         excitationF0Hz: f0Hz)
        case .resynthesis:
            // Frame t's synthesis segment spans input samples [t*hop - hop, t*hop + hop): the 480
            // samples ending (lookahead) hops before the newest one.
            let n = Self.synthesisFFT
            let end = historyLength - Self.hop * path.lookaheadHops
            for k in 0..<n { analysisIn[k] = history[end - n + k] * analysisWindow[k] }
            fftwf_execute(analysisPlan)
            for k in 0..<Self.bins {
                let re = analysisOut[2 * k], im = analysisOut[2 * k + 1]
                diagMagnitude[k] = sqrtf(re * re + im * im)
                diagPhase[k] = atan2f(im, re)
            }
            path.process(magnitude: diagMagnitude, phase: diagPhase)
        }
    }

    // MARK: offline batching

    /// One hop with batching on: queued for the current batch (its analysis now, its models when
    /// the batch is full), or converted on its own when no batch can start here.
    private func batchedHop(_ b: HopBatch) {
        if b.count == 0 {
            // Between batches: the one-frame models take the stream back, changes are picked up,
            // and a batch starts only on a hop where a room estimate may apply (so no converter
            // call straddles one) with the profile it was compiled for and no crossfade.
            if b.statesInBatch { leaveBatch(b) }
            pickUpChanges()
            let h = hopIndex
            guard mode == .convert, fadingTo < 0, profile == b.profile, h >= b.firstHop, (h - b.firstHop) % b.chunk == 0 else {
                streamedHop(pickUpChanges: false)
                return
            }
            enterBatch(b)
            b.startHop = h
        }
        analyzeHop()
        estimateRoomWhole(b)
        let j = b.count, q = b.hops
        let mel = b.melIn.floats
        let frame = contentFrame()
        for c in 0..<Self.melCount { mel[c * q + j] = frame[c] }
        // The output pitch now, hop by hop as the one-frame path maps it (after the content frame,
        // whose warp reads the register statistics of the hops before).
        let e = pitchEstimate(window: paths[active].pitchWindow)
        b.estimates[j] = e
        (b.logF0[j], b.f0Hz[j]) = outputPitch(paths[active], estimate: e, shift: parameters.pitchShiftSemitones,
                                              automatic: parameters.registerMode == .automatic)
        b.count = j + 1
        hopIndex += 1
        if b.count == q {
            convertBatch(b)
            b.count = 0
        }
    }

    /// Hands the stream state (content encoder, the active path's converter and vocoder, its
    /// conditioning) from the one-frame models to the batch's.
    private func enterBatch(_ b: HopBatch) {
        let path = paths[active]
        b.content.copyStates(from: content)
        b.converter.copyStates(from: path.converter)
        b.vocoder.copyStates(from: path.vocoder)
        path.copyConditioning(to: b.converter)
        b.statesInBatch = true
    }

    /// Hands the stream state back to the one-frame models.
    private func leaveBatch(_ b: HopBatch) {
        let path = paths[active]
        content.copyStates(from: b.content)
        path.converter.copyStates(from: b.converter)
        path.vocoder.copyStates(from: b.vocoder)
        b.statesInBatch = false
    }

    /// With batching, a room estimate runs whole at the start of its cycle and is queued for the
    /// hop where the real-time path's spread-out update would reach the converter (P + K - 2 hops
    /// later, see `beginRoomEstimate`): the same values at the same hop.
    private func estimateRoomWhole(_ b: HopBatch) {
        guard mode == .convert, hopIndex % profile.irUpdateInterval == 0 else { return }
        beginRoomEstimate()
        irSession.run()
        irPartsTotal = 0
        b.pushRoomEstimate(irOut.floats, appliesAt: hopIndex + profile.roomApplyOffset)
    }

    /// Runs the models of a full batch and sends its hops to the FIFO: the content encoder on all
    /// of them, the output pitch hop by hop, the converter one chunk (IR interval) at a time with
    /// the room estimates applied on their hops, the vocoder on all, then synthesis hop by hop.
    private func convertBatch(_ b: HopBatch) {
        let q = b.hops, n = b.chunk, path = paths[active]
        let ring = Self.maxLookahead + 1, cc = Self.contentCount, lookahead = path.lookaheadHops
        b.content.step()
        let content = b.contentOut.floats   // [256][q]
        stats.outputF0Hz = b.f0Hz[q - 1]
        let cin = b.converterContent.floats, pin = b.converterPitch.floats, features = b.featuresOut.floats
        let vf = b.vocoderFeatures.floats
        for c in stride(from: 0, to: q, by: n) {
            let h0 = b.startHop + c
            var due = false
            while let p = b.popRoomEstimate(dueBy: h0 + n - 1) { irParams.update(from: p, count: TMRVCConstants.Dims.irParams); due = true }
            if due {
                path.setAcoustic(ir: irParams, voiceSourceAlpha: lastAlpha)
                path.copyConditioning(to: b.converter)
            }
            for i in 0..<n {
                let f = h0 + i - lookahead   // the content frame this hop converts
                if f >= b.startHop {
                    for ch in 0..<cc { cin[ch * n + i] = content[ch * q + f - b.startHop] }
                } else {
                    let src = contentRing + (f % ring) * cc
                    for ch in 0..<cc { cin[ch * n + i] = src[ch] }
                }
                pin[i] = b.logF0[c + i]
                pin[n + i] = b.estimates[c + i].voicing
            }
            b.converter.step()
            for ch in 0..<Self.melCount { (vf + ch * q + c).update(from: features + ch * n, count: n) }
        }
        let vp = b.vocoderPitch.floats
        for j in 0..<q {
            vp[j] = b.logF0[j]
            vp[q + j] = b.estimates[j].voicing
        }
        b.vocoder.step()
        let harmonic = b.harmonicOut.floats, noise = b.noiseOut.floats
        var finite = true
        for j in 0..<q {
            for k in 0..<Self.bins {
                b.harmonicFrame[k] = harmonic[k * q + j]
                b.noiseFrame[k] = noise[k * q + j]
            }
            path.synthesize(harmonic: b.harmonicFrame, noise: b.noiseFrame, excitationF0Hz: b.f0Hz[j])
            hopOut.update(from: path.block, count: Self.hop)
            if !finishHop() { finite = false }
        }
        // The newest content frames go to the ring, where the next hops' lookahead reads them.
        for f in max(b.startHop, b.startHop + q - ring)..<(b.startHop + q) {
            let dst = contentRing + (f % ring) * cc
            for ch in 0..<cc { dst[ch] = content[ch * q + f - b.startHop] }
        }
        // A non-finite hop restarted the one-frame models; the batch's restart with them.
        if !finite { b.reset() }
    }

    /// The content encoder's input for the newest hop: the mel frame, warped in frequency when the
    /// content warp is on (`pitch.content_warp_*`: automatic register mode and a speaker with pitch
    /// statistics; the factor from the active path's register statistics of the hops before).
    private func contentFrame() -> UnsafePointer<Float> {
        let strength = Double(parameters.contentWarpStrength)
        guard strength != 0, parameters.registerMode == .automatic else { return UnsafePointer(melFrame) }
        let alpha = paths[active].registerMap.contentWarp(strength: strength)
        guard alpha != 1 else { return UnsafePointer(melFrame) }
        melWarp.apply(alpha: alpha, input: melFrame, output: warpedMelFrame)
        return UnsafePointer(warpedMelFrame)
    }

    /// The output pitch of a frame from its F0 estimate: the log-F0 feature `log2(f0 / f0_ref)` in
    /// the speaker's register (automatic mode, a speaker file with pitch statistics) plus the
    /// user's shift, and the excitation F0 in Hz; both 0 when unvoiced. Advances the path's
    /// running register statistics.
    private func outputPitch(_ path: ConversionPath, estimate e: PitchEstimate, shift: Float, automatic: Bool) -> (logF0: Float, f0Hz: Double) {
        let voiced = e.f0Hz > 0 && e.voicing > 0
        let source: Float = voiced ? e.logF0Feature : 0   // log2(f0 / f0_ref) in Double, rounded once
        let logF0 = path.registerMap.map(logF0: source, voiced: voiced, shiftSemitones: shift, applyTarget: automatic)
        return (logF0, voiced ? TMRVCConstants.Pitch.f0RefHz * pow(2.0, Double(logF0)) : 0)
    }

    /// Starts an ir_estimator run on the newest 50 mel frames. The run is spread over
    /// P = min(`streaming.ir_run_parts`, interval) hops with `InferenceSession.runPart`, and the
    /// converter's re-evaluation of its acoustic_params nodes over K =
    /// min(`streaming.acoustic_update_parts`, interval - P + 1) more (the first one shared), so
    /// no hop pays for a whole model run or a whole conditioning update; the estimate applies
    /// on hop P + K - 2 of the cycle (docs/design/streaming-design.md).
    private func beginRoomEstimate() {
        // melHistory is frame-major [50][80]; the model wants channel-major [1,80,50].
        let dst = irIn.floats
        for f in 0..<Self.irWindow {
            for c in 0..<Self.melCount { dst[c * Self.irWindow + f] = melHistory[f * Self.melCount + c] }
        }
        irPartsDone = 0
        irPartsTotal = profile.roomEstimateParts
    }

    private func continueRoomEstimate() {
        irSession.runPart(irPartsDone, of: irPartsTotal)
        irPartsDone += 1
        guard irPartsDone == irPartsTotal else { return }
        // The converter's acoustic_params nodes are re-evaluated over the next K hops (this one
        // first), so the estimate applies on hop P + K - 2 of the cycle, before the next estimate.
        let acousticParts = profile.acousticUpdateParts
        irPartsTotal = 0
        irParams.update(from: irOut.floats, count: TMRVCConstants.Dims.irParams)
        paths[active].setAcoustic(ir: irParams, voiceSourceAlpha: lastAlpha, spreadOver: acousticParts)
        if fadingTo >= 0 { paths[fadingTo].setAcoustic(ir: irParams, voiceSourceAlpha: lastAlpha, spreadOver: acousticParts) }
    }

    /// This hop's F0 estimate with pitch window `index` (computed once per hop; an estimator that
    /// skipped hops, unused while another quality was active, starts a new pitch track).
    private func pitchEstimate(window index: Int) -> PitchEstimate {
        if pitchHop[index] == hopIndex { return pitchLast[index] }
        let estimator = pitch[index]
        if pitchHop[index] != hopIndex - 1 { estimator.resetTrack() }
        let e = estimator.estimate(window: history + historyLength - estimator.windowLength)
        pitchHop[index] = hopIndex
        pitchLast[index] = e
        return e
    }

    private func applyProfile(_ p: QualityProfile, to path: ConversionPath) {
        path.lookaheadHops = p.lookaheadHops
        path.pitchWindow = p.lookaheadHops
    }

    /// Starts a crossfade to the idle path, configured by `configure`. Real-time safe.
    private func beginCrossfade() -> ConversionPath {
        let next = 1 - active
        paths[next].copyState(from: paths[active])
        fadingTo = next
        fadePosition = 0
        stats.crossfades += 1
        return paths[next]
    }

    private func pickUpChanges() {
        let threshold = parameters.gateThresholdDB
        if threshold != gate.thresholdDBFS {   // the gate knob, live (-120 switches the gate off)
            gate.setThreshold(threshold)
            gateEnabled = threshold > -120
        }
        let alpha = parameters.voiceSourceAlpha
        if alpha != lastAlpha {
            lastAlpha = alpha
            paths[active].setAcoustic(ir: irParams, voiceSourceAlpha: alpha)
            if fadingTo >= 0 { paths[fadingTo].setAcoustic(ir: irParams, voiceSourceAlpha: alpha) }
        }
        guard fadingTo < 0 else { return }   // one transition at a time
        // Speaker change.
        if speakers.take({ e, l, p, s in
            // The first speaker starts at once (the output was dry until now, and the wet ramp
            // of the mix fades it in); later ones are crossfaded on the idle path.
            let next = hasSpeaker ? beginCrossfade() : paths[active]
            if !hasSpeaker {
                // At the stream's first hop nothing converted has been output yet: as if set
                // before the stream. Later, this hop's input reaches the output one latency later.
                let ratio = Double(sampleRate) / Double(Self.internalRate)
                speakerOnset = hopIndex == 0 ? Int.min : Int((Double(hopIndex * Self.hop) * ratio).rounded()) + dryTap
            }
            next.setSpeaker(embedding: e, lora: l, preset: p, pitchStatistics: s)
            next.setAcoustic(ir: irParams, voiceSourceAlpha: lastAlpha)
            hasSpeaker = true
        }) {
            return
        }
        // Quality change (user or overload control).
        userQuality = parameters.quality
        let wanted = QualityProfile(quality: min(userQuality, qualityCap))
        if wanted != profile {
            let oldLatency = dryTap
            let next = beginCrossfade()
            applyProfile(wanted, to: next)
            next.setAcoustic(ir: irParams, voiceSourceAlpha: lastAlpha)
            // The incoming path converts frame t at hop t + its lookahead, so its output already
            // lands at its own latency; only the dry path's tap moves (crossfaded too).
            profile = wanted
            dryTapOld = oldLatency
            dryTap = updateLatency()
            dryFadeLength = max(1, fadeLength * sampleRate / Self.internalRate)
            dryFadeLeft = dryFadeLength
        }
    }

    /// The overload control's step for one hop that took `micros` (internal for its tests).
    func controlOverload(hopMicroseconds micros: Double) {
        guard overloadControlEnabled else { return }
        let budget = 1e6 * Double(Self.hop) / Double(Self.internalRate)   // 10 ms
        if overloadCooldown > 0 { overloadCooldown -= 1 }
        if micros > 0.6 * budget {
            calmHops = 0
            if overloadCooldown == 0 && effectiveQuality > 0 {
                qualityCap = max(0, effectiveQuality - 0.25)
                overloadCooldown = 50
                stats.overloadReductions += 1
            }
        } else if micros < 0.4 * budget {
            // 3 s of hops below 40 % (hops between 40 and 60 % neither count nor reset): raise
            // again. Resetting on those too kept a host whose normal hop costs a little over 2 ms
            // at the lowered quality for good (found by the soak test).
            calmHops += 1
            if calmHops >= 300 && qualityCap < 1 {
                qualityCap = min(1, qualityCap + 0.25)
                calmHops = 0
            }
        }
    }

    @inline(__always)
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1e6 + Double(ts.tv_nsec) / 1e3
    }
}

extension QualityProfile {
    /// F0 window (24 kHz samples) used at a given lookahead.
    static func pitchWindow(lookahead: Int) -> Int {
        4 * TMRVCConstants.Audio.hopLength + 2 * TMRVCConstants.Audio.hopLength * lookahead
    }
}

/// The engine's statistics, published field by field through atomics so any thread can read them
/// while the audio thread writes (relaxed: each field is current, the set is not a transaction).
final class PublishedStatistics: Sendable {
    private let hops = Atomic<Int>(0)
    private let lastHop = Atomic<UInt64>(0)
    private let maxHop = Atomic<UInt64>(0)
    private let overloadReductions = Atomic<Int>(0)
    private let underruns = Atomic<Int>(0)
    private let crossfades = Atomic<Int>(0)
    private let outputF0 = Atomic<UInt64>(0)
    private let nonFiniteInputSamples = Atomic<Int>(0)
    private let nonFiniteHops = Atomic<Int>(0)
    private let nonFiniteOutputSamples = Atomic<Int>(0)
    private let limitedSamples = Atomic<Int>(0)
    private let effectiveQuality = Atomic<UInt32>(0)

    func publish(_ s: StreamingEngine.Statistics) {
        hops.store(s.hops, ordering: .relaxed)
        lastHop.store(s.lastHopMicroseconds.bitPattern, ordering: .relaxed)
        maxHop.store(s.maxHopMicroseconds.bitPattern, ordering: .relaxed)
        overloadReductions.store(s.overloadReductions, ordering: .relaxed)
        underruns.store(s.underruns, ordering: .relaxed)
        crossfades.store(s.crossfades, ordering: .relaxed)
        outputF0.store(s.outputF0Hz.bitPattern, ordering: .relaxed)
        nonFiniteInputSamples.store(s.nonFiniteInputSamples, ordering: .relaxed)
        nonFiniteHops.store(s.nonFiniteHops, ordering: .relaxed)
        nonFiniteOutputSamples.store(s.nonFiniteOutputSamples, ordering: .relaxed)
        limitedSamples.store(s.limitedSamples, ordering: .relaxed)
        effectiveQuality.store(s.effectiveQuality.bitPattern, ordering: .relaxed)
    }

    func snapshot() -> StreamingEngine.Statistics {
        var s = StreamingEngine.Statistics()
        s.hops = hops.load(ordering: .relaxed)
        s.lastHopMicroseconds = Double(bitPattern: lastHop.load(ordering: .relaxed))
        s.maxHopMicroseconds = Double(bitPattern: maxHop.load(ordering: .relaxed))
        s.overloadReductions = overloadReductions.load(ordering: .relaxed)
        s.underruns = underruns.load(ordering: .relaxed)
        s.crossfades = crossfades.load(ordering: .relaxed)
        s.outputF0Hz = Double(bitPattern: outputF0.load(ordering: .relaxed))
        s.nonFiniteInputSamples = nonFiniteInputSamples.load(ordering: .relaxed)
        s.nonFiniteHops = nonFiniteHops.load(ordering: .relaxed)
        s.nonFiniteOutputSamples = nonFiniteOutputSamples.load(ordering: .relaxed)
        s.limitedSamples = limitedSamples.load(ordering: .relaxed)
        s.effectiveQuality = Float(bitPattern: effectiveQuality.load(ordering: .relaxed))
        return s
    }
}
