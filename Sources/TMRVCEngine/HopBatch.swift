import TMRVCConstants
import TMRVCDSP
import TMRVCRuntime

/// Offline batching of the per-frame models (``StreamingEngine/batchHops``): the content encoder and
/// the vocoder compiled for a batch of `hops` frames, the converter for one IR update interval
/// (`chunk` frames: its acoustic parameters are one vector per call, so a call must not straddle
/// the hop where a new room estimate applies), and the queue of analysed hops waiting for their
/// batch. One batched call reads each weight once for many frames (matrix–matrix products), where
/// the real-time path reads every weight once per 10 ms frame; the models are causal and carry
/// their state, so the result equals the real-time path's within float rounding.
///
/// Owned and driven by the engine's audio thread (``StreamingEngine``); buffers are allocated here,
/// at `prepare`.
final class HopBatch {
    /// Hops per batch (a multiple of `chunk`).
    let hops: Int
    /// Converter frames per call: the quality profile's IR update interval.
    let chunk: Int
    /// The quality profile the batch was compiled for (another profile runs hop by hop).
    let profile: QualityProfile
    /// The first hop a batch may start at: an apply hop (`QualityProfile.roomApplyOffset` of an
    /// IR cycle) at or after the lookahead.
    let firstHop: Int

    let content: StreamingModel
    let converter: StreamingModel
    let vocoder: StreamingModel
    let melIn: TensorBuffer        // [1, 80, hops]
    let contentOut: TensorBuffer   // [1, 256, hops]
    let converterContent: TensorBuffer   // [1, 256, chunk]
    let converterPitch: TensorBuffer     // [1, 2, chunk]
    let featuresOut: TensorBuffer        // [1, 80, chunk]
    let vocoderFeatures: TensorBuffer    // [1, 80, hops]
    let vocoderPitch: TensorBuffer       // [1, 2, hops]
    let harmonicOut: TensorBuffer        // [1, 241, hops]
    let noiseOut: TensorBuffer           // [1, 241, hops]

    /// Hops queued so far in the current batch, and the hop index of its first.
    var count = 0
    var startHop = 0
    /// Whether the model states currently live in the batch's models (else in the engine's
    /// one-frame models).
    var statesInBatch = false
    /// Per queued hop: the F0 estimate, the output log-F0 feature and the excitation F0 (mapped
    /// when the hop is queued, as the one-frame path maps them hop by hop).
    let estimates: UnsafeMutablePointer<PitchEstimate>
    let logF0: UnsafeMutablePointer<Float>
    let f0Hz: UnsafeMutablePointer<Double>
    /// One frame's harmonic and noise envelopes, gathered from the vocoder's [241, hops] outputs.
    let harmonicFrame: UnsafeMutablePointer<Float>
    let noiseFrame: UnsafeMutablePointer<Float>

    /// Room estimates computed but not yet applied, oldest first: the hop each applies at and its
    /// IR parameters (a batch spans several IR cycles, and its converter calls run after all of them
    /// were estimated).
    private let roomSlots: Int
    private let roomHops: UnsafeMutablePointer<Int>
    private let roomParams: UnsafeMutablePointer<Float>
    private var roomHead = 0
    private var roomCount = 0
    private let irCount = TMRVCConstants.Dims.irParams

    /// Compiles the batch models from `dir` for `profile` and about `requestedHops` hops per batch.
    init(modelsDirectory dir: String, profile: QualityProfile, requestedHops: Int, weightStorage: WeightStorage) throws(EngineError) {
        let interval = profile.irUpdateInterval
        chunk = interval
        hops = interval * max(1, Int((Double(requestedHops) / Double(interval)).rounded()))
        self.profile = profile
        var first = profile.roomApplyOffset
        while first < profile.lookaheadHops { first += interval }
        firstHop = first
        func load(_ name: String, frames: Int, slow: Set<String> = []) throws(EngineError) -> StreamingModel {
            let path = dir + "/" + name + ".onnx"
            do { return try StreamingModel(path: path, frames: frames, slowInputs: slow, weightStorage: weightStorage) } catch {
                throw EngineError(path: path, reason: error.message)
            }
        }
        content = try load("content_encoder", frames: hops)
        converter = try load("converter", frames: chunk, slow: ["spk_embed", "lora_delta", "acoustic_params"])
        vocoder = try load("vocoder", frames: hops)
        func bind(_ m: StreamingModel, _ name: String, _ count: Int, output: Bool = false, file: String) throws(EngineError) -> TensorBuffer {
            guard let b = output ? m.output(name) : m.input(name), b.dataType == .float, b.count == count else {
                throw EngineError(path: dir + "/" + file, reason: "'\(name)' is not \(count) float32 values at \(m.frames) frames per call (see docs/design/onnx-contract.md)")
            }
            return b
        }
        let bins = TMRVCConstants.Vocoder.nFft / 2 + 1
        let mels = TMRVCConstants.Dims.mel, contents = TMRVCConstants.Dims.content, pitches = TMRVCConstants.Dims.pitch
        melIn = try bind(content, "mel", mels * hops, file: "content_encoder.onnx")
        contentOut = try bind(content, "content", contents * hops, output: true, file: "content_encoder.onnx")
        converterContent = try bind(converter, "content", contents * chunk, file: "converter.onnx")
        converterPitch = try bind(converter, "pitch", pitches * chunk, file: "converter.onnx")
        featuresOut = try bind(converter, "features", mels * chunk, output: true, file: "converter.onnx")
        vocoderFeatures = try bind(vocoder, "features", mels * hops, file: "vocoder.onnx")
        vocoderPitch = try bind(vocoder, "pitch", pitches * hops, file: "vocoder.onnx")
        harmonicOut = try bind(vocoder, "harmonic", bins * hops, output: true, file: "vocoder.onnx")
        noiseOut = try bind(vocoder, "noise", bins * hops, output: true, file: "vocoder.onnx")
        estimates = .allocate(capacity: hops)
        estimates.initialize(repeating: .unvoiced, count: hops)
        logF0 = .allocate(capacity: hops)
        logF0.initialize(repeating: 0, count: hops)
        f0Hz = .allocate(capacity: hops)
        f0Hz.initialize(repeating: 0, count: hops)
        roomSlots = hops / interval + 2
        roomHops = .allocate(capacity: roomSlots)
        roomHops.initialize(repeating: 0, count: roomSlots)
        roomParams = .allocate(capacity: roomSlots * TMRVCConstants.Dims.irParams)
        roomParams.initialize(repeating: 0, count: roomSlots * TMRVCConstants.Dims.irParams)
        harmonicFrame = .allocate(capacity: bins)
        harmonicFrame.initialize(repeating: 0, count: bins)
        noiseFrame = .allocate(capacity: bins)
        noiseFrame.initialize(repeating: 0, count: bins)
    }

    deinit {
        estimates.deallocate(); logF0.deallocate(); f0Hz.deallocate()
        harmonicFrame.deallocate(); noiseFrame.deallocate(); roomHops.deallocate(); roomParams.deallocate()
    }

    /// Queues a room estimate (IR parameters) that applies from hop `hop` on; the oldest one is
    /// dropped when the queue is full (it would have been replaced before it applied).
    func pushRoomEstimate(_ params: UnsafePointer<Float>, appliesAt hop: Int) {
        if roomCount == roomSlots {
            roomHead = (roomHead + 1) % roomSlots
            roomCount -= 1
        }
        let slot = (roomHead + roomCount) % roomSlots
        roomHops[slot] = hop
        (roomParams + slot * irCount).update(from: params, count: irCount)
        roomCount += 1
    }

    /// Removes and returns the oldest queued estimate if it applies at or before `hop` (its
    /// parameters stay valid until the next push).
    func popRoomEstimate(dueBy hop: Int) -> UnsafePointer<Float>? {
        guard roomCount > 0, roomHops[roomHead] <= hop else { return nil }
        let p = roomParams + roomHead * irCount
        roomHead = (roomHead + 1) % roomSlots
        roomCount -= 1
        return UnsafePointer(p)
    }

    /// Forgets every queued room estimate (start of a stream).
    func clearRoomEstimates() {
        roomHead = 0
        roomCount = 0
    }

    /// Start of a stream: no queued hops, zero states (the engine's one-frame models hold the stream).
    func reset() {
        count = 0
        statesInBatch = false
        content.resetState()
        converter.resetState()
        vocoder.resetState()
    }
}
