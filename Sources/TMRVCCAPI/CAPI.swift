// The C API of libtmrvc (Sources/CTMRVC/include/tmrvc.h): C-callable functions over
// `StreamingEngine`. No Foundation. The thread contract is in the header and in
// docs/design/host-integration.md; the real-time functions below neither allocate nor lock.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTMRVC
import TMRVCEngine
import TMRVCKernels
import TMRVCRuntime

/// What a `tmrvc_engine *` points to.
final class EngineHandle {
    let engine: StreamingEngine
    /// Mono mix of the host's channels, then the converted signal (sized by prepare).
    var mono: UnsafeMutablePointer<Float>?
    var channels = 0
    var maxBlock = 0
    /// Message of the latest failed non-real-time call, guarded by `errorLock`.
    private var error = ""
    private var errorLock = pthread_mutex_t()

    init(engine: StreamingEngine) {
        self.engine = engine
        pthread_mutex_init(&errorLock, nil)
    }

    deinit {
        mono?.deallocate()
        pthread_mutex_destroy(&errorLock)
    }

    func fail(_ status: tmrvc_status, _ message: String) -> tmrvc_status {
        pthread_mutex_lock(&errorLock)
        error = message
        pthread_mutex_unlock(&errorLock)
        return status
    }

    func lastError() -> String {
        pthread_mutex_lock(&errorLock)
        defer { pthread_mutex_unlock(&errorLock) }
        return error
    }
}

@inline(__always)
private func handle(_ p: OpaquePointer?) -> EngineHandle? {
    guard let p else { return nil }
    return Unmanaged<EngineHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}

/// Copies `message` NUL-terminated into a caller's buffer (truncated); returns its full length.
private func copyOut(_ message: String, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int {
    let bytes = Array(message.utf8)
    if let buffer, size > 0 {
        let n = min(bytes.count, size - 1)
        for i in 0..<n { buffer[i] = CChar(bitPattern: bytes[i]) }
        buffer[n] = 0
    }
    return bytes.count
}

// MARK: parameters

@_cdecl("tmrvc_abi_version")
public func tmrvc_abi_version() -> UInt32 { TMRVC_ABI_VERSION }

@_cdecl("tmrvc_kernels")
public func tmrvc_kernels() -> UnsafePointer<CChar> {
    let s: StaticString = KernelSet.active.name == "avx2" ? "avx2" : "generic"
    return UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("tmrvc_status_string")
public func tmrvc_status_string(_ status: tmrvc_status) -> UnsafePointer<CChar> {
    let s: StaticString
    switch status {
    case TMRVC_OK: s = "ok"
    case TMRVC_BLOCK_SPLIT: s = "the block was longer than the prepared maximum and was processed in pieces"
    case TMRVC_ERROR_NULL_HANDLE: s = "the engine handle is NULL"
    case TMRVC_ERROR_INVALID_ARGUMENT: s = "invalid argument (NULL pointer, unknown parameter or non-finite value)"
    case TMRVC_ERROR_UNSUPPORTED_RATE: s = "unsupported sample rate (24000, 44100 or 48000 Hz)"
    case TMRVC_ERROR_UNSUPPORTED_BLOCK: s = "unsupported block size or channel count (1...65536 frames, 1...16 channels)"
    case TMRVC_ERROR_NOT_PREPARED: s = "tmrvc_prepare has not succeeded yet (output silenced)"
    case TMRVC_ERROR_MODEL: s = "a model could not be loaded (see tmrvc_last_error)"
    case TMRVC_ERROR_SPEAKER: s = "the speaker file could not be loaded (see tmrvc_last_error)"
    default: s = "unknown status"
    }
    return UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("tmrvc_parameter_info")
public func tmrvc_parameter_info(_ id: tmrvc_parameter, _ minimum: UnsafeMutablePointer<Float>?, _ maximum: UnsafeMutablePointer<Float>?,
                                 _ defaultValue: UnsafeMutablePointer<Float>?, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> tmrvc_status {
    let i = Int(id.rawValue)
    guard i >= 0, i < EngineParameters.controls.count else { return TMRVC_ERROR_INVALID_ARGUMENT }
    let p = EngineParameters.controls[i]
    minimum?.pointee = p.range.lowerBound
    maximum?.pointee = p.range.upperBound
    defaultValue?.pointee = p.defaultValue
    name?.pointee = UnsafeRawPointer(p.id.utf8Start).assumingMemoryBound(to: CChar.self)
    return TMRVC_OK
}

// MARK: life cycle

@_cdecl("tmrvc_create")
public func tmrvc_create(_ modelsDirectory: UnsafePointer<CChar>?, _ flags: UInt32, _ outEngine: UnsafeMutablePointer<OpaquePointer?>?,
                         _ errorBuffer: UnsafeMutablePointer<CChar>?, _ errorSize: Int) -> tmrvc_status {
    outEngine?.pointee = nil
    guard let modelsDirectory, let outEngine else {
        _ = copyOut("tmrvc_create: models_dir and out_engine must not be NULL", errorBuffer, errorSize)
        return TMRVC_ERROR_INVALID_ARGUMENT
    }
    guard flags & ~(TMRVC_CREATE_FLOAT16 | TMRVC_CREATE_INT8) == 0 else {
        _ = copyOut("tmrvc_create: unknown flags 0x\(String(flags, radix: 16))", errorBuffer, errorSize)
        return TMRVC_ERROR_INVALID_ARGUMENT
    }
    guard flags & TMRVC_CREATE_FLOAT16 == 0 || flags & TMRVC_CREATE_INT8 == 0 else {
        _ = copyOut("tmrvc_create: TMRVC_CREATE_FLOAT16 and TMRVC_CREATE_INT8 exclude each other", errorBuffer, errorSize)
        return TMRVC_ERROR_INVALID_ARGUMENT
    }
    let storage: WeightStorage = flags & TMRVC_CREATE_INT8 != 0 ? .int8 : flags & TMRVC_CREATE_FLOAT16 != 0 ? .float16 : .float32
    do {
        let engine = try StreamingEngine(modelsDirectory: String(cString: modelsDirectory), weightStorage: storage)
        outEngine.pointee = OpaquePointer(Unmanaged.passRetained(EngineHandle(engine: engine)).toOpaque())
        return TMRVC_OK
    } catch {
        _ = copyOut(error.description, errorBuffer, errorSize)
        return TMRVC_ERROR_MODEL
    }
}

@_cdecl("tmrvc_destroy")
public func tmrvc_destroy(_ engine: OpaquePointer?) {
    guard let engine else { return }
    Unmanaged<EngineHandle>.fromOpaque(UnsafeRawPointer(engine)).release()
}

@_cdecl("tmrvc_prepare")
public func tmrvc_prepare(_ engine: OpaquePointer?, _ sampleRate: UInt32, _ maxBlock: UInt32, _ channels: UInt32) -> tmrvc_status {
    guard let h = handle(engine) else { return TMRVC_ERROR_NULL_HANDLE }
    guard StreamingEngine.supportedSampleRates.contains(Int(sampleRate)) else {
        return h.fail(TMRVC_ERROR_UNSUPPORTED_RATE, "tmrvc_prepare: \(sampleRate) Hz is not supported (supported: "
                      + StreamingEngine.supportedSampleRates.map(String.init).joined(separator: ", ") + " Hz)")
    }
    guard (1...16).contains(channels), (1...65536).contains(maxBlock) else {
        return h.fail(TMRVC_ERROR_UNSUPPORTED_BLOCK, "tmrvc_prepare: \(maxBlock) frames x \(channels) channels is outside 1...65536 frames, 1...16 channels")
    }
    h.maxBlock = 0   // process() silences its output while the buffers are replaced
    do { try h.engine.prepare(sampleRate: Int(sampleRate), maxBlockSize: Int(maxBlock)) } catch {
        return h.fail(TMRVC_ERROR_UNSUPPORTED_BLOCK, "tmrvc_prepare: \(error)")
    }
    h.mono?.deallocate()
    h.mono = .allocate(capacity: Int(maxBlock))
    h.mono!.initialize(repeating: 0, count: Int(maxBlock))
    h.channels = Int(channels)
    h.maxBlock = Int(maxBlock)
    return TMRVC_OK
}

@_cdecl("tmrvc_reset")
public func tmrvc_reset(_ engine: OpaquePointer?) -> tmrvc_status {
    guard let h = handle(engine) else { return TMRVC_ERROR_NULL_HANDLE }
    guard h.maxBlock > 0 else { return h.fail(TMRVC_ERROR_NOT_PREPARED, "tmrvc_reset: call tmrvc_prepare first") }
    h.engine.reset()
    return TMRVC_OK
}

// MARK: audio (real-time)

@_cdecl("tmrvc_process")
public func tmrvc_process(_ engine: OpaquePointer?, _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
                          _ outputs: UnsafePointer<UnsafeMutablePointer<Float>?>?, _ frames: UInt32) -> tmrvc_status {
    guard let h = handle(engine) else { return TMRVC_ERROR_NULL_HANDLE }
    guard let inputs, let outputs else { return TMRVC_ERROR_INVALID_ARGUMENT }
    let n = Int(frames)
    guard h.maxBlock > 0, let mono = h.mono else {
        // Not prepared: the channel count is unknown, so only the first output can be silenced.
        outputs[0]?.update(repeating: 0, count: n)
        return TMRVC_ERROR_NOT_PREPARED
    }
    let channels = h.channels
    for c in 0..<channels where inputs[c] == nil || outputs[c] == nil { return TMRVC_ERROR_INVALID_ARGUMENT }
    let scale = 1 / Float(channels)
    var done = 0
    while done < n {
        let m = min(h.maxBlock, n - done)
        // Mix to mono (average), convert in place, copy to every output (outputs may alias inputs).
        mono.update(from: inputs[0]! + done, count: m)
        if channels > 1 {
            for c in 1..<channels {
                let x = inputs[c]! + done
                for i in 0..<m { mono[i] += x[i] }
            }
            for i in 0..<m { mono[i] *= scale }
        }
        h.engine.process(input: mono, output: mono, frames: m)
        for c in 0..<channels { (outputs[c]! + done).update(from: mono, count: m) }
        done += m
    }
    return n > h.maxBlock ? TMRVC_BLOCK_SPLIT : TMRVC_OK
}

@_cdecl("tmrvc_set_parameter")
public func tmrvc_set_parameter(_ engine: OpaquePointer?, _ id: tmrvc_parameter, _ value: Float) -> tmrvc_status {
    guard let h = handle(engine) else { return TMRVC_ERROR_NULL_HANDLE }
    guard value.isFinite else { return TMRVC_ERROR_INVALID_ARGUMENT }
    let p = h.engine.parameters
    switch id {
    case TMRVC_PARAM_Q: p.quality = value
    case TMRVC_PARAM_PITCH: p.pitchShiftSemitones = value
    case TMRVC_PARAM_DRY_WET: p.wet = value
    case TMRVC_PARAM_GAIN: p.outputGainDB = value
    case TMRVC_PARAM_GATE: p.gateThresholdDB = value
    case TMRVC_PARAM_REGISTER_MODE: p.registerMode = value >= 0.5 ? .shiftOnly : .automatic
    case TMRVC_PARAM_VOICE_SOURCE: p.voiceSourceAlpha = value
    default: return TMRVC_ERROR_INVALID_ARGUMENT
    }
    return TMRVC_OK
}

@_cdecl("tmrvc_get_parameter")
public func tmrvc_get_parameter(_ engine: OpaquePointer?, _ id: tmrvc_parameter) -> Float {
    guard let h = handle(engine) else { return .nan }
    let p = h.engine.parameters
    switch id {
    case TMRVC_PARAM_Q: return p.quality
    case TMRVC_PARAM_PITCH: return p.pitchShiftSemitones
    case TMRVC_PARAM_DRY_WET: return p.wet
    case TMRVC_PARAM_GAIN: return p.outputGainDB
    case TMRVC_PARAM_GATE: return p.gateThresholdDB
    case TMRVC_PARAM_REGISTER_MODE: return Float(p.registerMode.rawValue)
    case TMRVC_PARAM_VOICE_SOURCE: return p.voiceSourceAlpha
    default: return .nan
    }
}

@_cdecl("tmrvc_latency_samples")
public func tmrvc_latency_samples(_ engine: OpaquePointer?) -> UInt32 {
    guard let h = handle(engine) else { return 0 }
    return UInt32(h.engine.latencySamples)
}

@_cdecl("tmrvc_speaker_generation")
public func tmrvc_speaker_generation(_ engine: OpaquePointer?) -> UInt64 {
    guard let h = handle(engine) else { return 0 }
    return UInt64(h.engine.speakerGeneration)
}

@_cdecl("tmrvc_get_statistics")
public func tmrvc_get_statistics(_ engine: OpaquePointer?, _ out: UnsafeMutableRawPointer?, _ size: Int) -> tmrvc_status {
    guard let h = handle(engine) else { return TMRVC_ERROR_NULL_HANDLE }
    guard let out else { return TMRVC_ERROR_INVALID_ARGUMENT }
    let s = h.engine.statistics
    var c = tmrvc_statistics()
    c.hops = UInt64(s.hops)
    c.last_hop_microseconds = s.lastHopMicroseconds
    c.max_hop_microseconds = s.maxHopMicroseconds
    c.overload_reductions = UInt64(s.overloadReductions)
    c.underruns = UInt64(s.underruns)
    c.crossfades = UInt64(s.crossfades)
    c.output_f0_hz = s.outputF0Hz
    c.non_finite_input_samples = UInt64(s.nonFiniteInputSamples)
    c.non_finite_hops = UInt64(s.nonFiniteHops)
    c.non_finite_output_samples = UInt64(s.nonFiniteOutputSamples)
    c.limited_samples = UInt64(s.limitedSamples)
    c.effective_q = s.effectiveQuality
    c.latency_samples = UInt32(h.engine.latencySamples)
    withUnsafeBytes(of: &c) { out.copyMemory(from: $0.baseAddress!, byteCount: min(max(0, size), $0.count)) }
    return TMRVC_OK
}

// MARK: speakers (not real-time)

@_cdecl("tmrvc_load_speaker")
public func tmrvc_load_speaker(_ engine: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> tmrvc_status {
    guard let h = handle(engine) else { return TMRVC_ERROR_NULL_HANDLE }
    guard let path else { return h.fail(TMRVC_ERROR_INVALID_ARGUMENT, "tmrvc_load_speaker: path is NULL") }
    do { try h.engine.loadSpeaker(path: String(cString: path)) } catch {
        return h.fail(TMRVC_ERROR_SPEAKER, error.description)
    }
    return TMRVC_OK
}

@_cdecl("tmrvc_load_speaker_memory")
public func tmrvc_load_speaker_memory(_ engine: OpaquePointer?, _ bytes: UnsafeRawPointer?, _ size: Int) -> tmrvc_status {
    guard let h = handle(engine) else { return TMRVC_ERROR_NULL_HANDLE }
    guard let bytes, size > 0 else { return h.fail(TMRVC_ERROR_INVALID_ARGUMENT, "tmrvc_load_speaker_memory: no bytes") }
    guard size <= SpeakerProfile.maximumFileSize else {
        return h.fail(TMRVC_ERROR_SPEAKER, "speaker data: \(size) bytes is larger than the format's maximum \(SpeakerProfile.maximumFileSize)")
    }
    let data = [UInt8](UnsafeRawBufferPointer(start: bytes, count: size))
    do { h.engine.post(try SpeakerProfile(bytes: data, path: "speaker data")) } catch {
        return h.fail(TMRVC_ERROR_SPEAKER, error.description)
    }
    return TMRVC_OK
}

@_cdecl("tmrvc_last_error")
public func tmrvc_last_error(_ engine: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int {
    guard let h = handle(engine) else { return copyOut("the engine handle is NULL", buffer, size) }
    return copyOut(h.lastError(), buffer, size)
}
