import Synchronization
import TMRVCConstants

/// Hands validated speaker profiles from a worker thread to the audio thread without locks or
/// allocation on the audio side. Two preallocated slots alternate: the worker fills one and
/// publishes its index; the audio thread takes it (an atomic exchange) and copies the values out
/// within the same hop, so a slot is never written while it is read.
public final class SpeakerMailbox: @unchecked Sendable {
    /// Floats per slot: embedding, LoRA delta, preset (zero when absent), pitch statistics (log2-F0
    /// mean and std; zero when absent).
    static let embeddingCount = TMRVCConstants.Dims.speaker
    static let loraCount = TMRVCConstants.Lora.deltaSize
    static let presetCount = TMRVCConstants.Dims.voiceSource
    static let pitchCount = 2
    static let slotCount = embeddingCount + loraCount + presetCount + pitchCount

    private let slots: UnsafeMutablePointer<Float>
    private var hasPreset: [Bool] = [false, false]
    private var hasPitch: [Bool] = [false, false]
    private let pending = Atomic<Int>(-1)
    private var nextSlot = 0
    private let generationCounter = Atomic<Int>(0)

    public init() {
        slots = .allocate(capacity: 2 * Self.slotCount)
        slots.initialize(repeating: 0, count: 2 * Self.slotCount)
    }

    deinit { slots.deallocate() }

    /// Publishes a profile (worker thread). Waits (sleeping, never spinning hot) while the audio
    /// thread has not yet taken the previous one; returns false after `timeoutMilliseconds`.
    @discardableResult
    public func post(_ profile: SpeakerProfile, timeoutMilliseconds: Int = 2000) -> Bool {
        var waited = 0
        while pending.load(ordering: .acquiring) != -1 {
            if waited >= timeoutMilliseconds { return false }
            sleepMilliseconds(1)
            waited += 1
        }
        let s = nextSlot
        nextSlot = 1 - s
        let base = slots + s * Self.slotCount
        profile.embedding.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: Self.embeddingCount) }
        profile.loraDelta.withUnsafeBufferPointer { (base + Self.embeddingCount).update(from: $0.baseAddress!, count: Self.loraCount) }
        let preset = base + Self.embeddingCount + Self.loraCount
        if let p = profile.voiceSourcePreset {
            p.withUnsafeBufferPointer { preset.update(from: $0.baseAddress!, count: Self.presetCount) }
            hasPreset[s] = true
        } else {
            preset.update(repeating: 0, count: Self.presetCount)
            hasPreset[s] = false
        }
        let pitch = preset + Self.presetCount
        if let stats = profile.pitchStatistics {
            pitch[0] = stats.mean
            pitch[1] = stats.std
            hasPitch[s] = true
        } else {
            pitch.update(repeating: 0, count: Self.pitchCount)
            hasPitch[s] = false
        }
        pending.store(s, ordering: .releasing)
        return true
    }

    /// Takes the newest posted profile, if any (audio thread; real-time safe). `body` receives
    /// the embedding, LoRA delta, preset (nil when the file had none) and pitch statistics (mean,
    /// std; nil when the file had none) and must copy them out.
    @inline(__always)
    public func take(_ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>?, UnsafePointer<Float>?) -> Void) -> Bool {
        let s = pending.exchange(-1, ordering: .acquiringAndReleasing)
        guard s >= 0 else { return false }
        let base = UnsafePointer(slots + s * Self.slotCount)
        let preset = base + Self.embeddingCount + Self.loraCount
        body(base, base + Self.embeddingCount, hasPreset[s] ? preset : nil, hasPitch[s] ? preset + Self.presetCount : nil)
        generationCounter.add(1, ordering: .relaxed)
        return true
    }

    /// Number of profiles the audio thread has taken so far.
    public var generation: Int { generationCounter.load(ordering: .relaxed) }
}

#if canImport(Glibc)
import Glibc
func sleepMilliseconds(_ ms: Int) { usleep(UInt32(ms * 1000)) }
#else
import Darwin
func sleepMilliseconds(_ ms: Int) { usleep(UInt32(ms * 1000)) }
#endif
