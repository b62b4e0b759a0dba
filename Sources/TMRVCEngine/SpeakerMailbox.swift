import Synchronization
import TMRVCConstants

/// Hands validated speaker profiles from worker threads to the audio thread without locks or
/// allocation on the audio side, and without the poster ever waiting for the audio thread.
///
/// Two preallocated slots. A poster writes a slot the audio thread cannot be reading and
/// publishes its index; the audio thread takes it (an atomic exchange) and copies the values out
/// within the same call. The newest post wins: a post that finds an earlier one not yet taken
/// retracts it (compare-exchange) and overwrites that same slot, which nobody reads. Otherwise it
/// writes the slot the audio thread took least recently, whose copy finished before the later
/// take began. Posters are serialised among themselves by an atomic flag (they sleep, never the
/// audio thread), so `post` is safe from any number of threads at once.
public final class SpeakerMailbox: @unchecked Sendable {
    /// Floats per slot: embedding, LoRA delta, preset (zero when absent), pitch statistics (log2-F0
    /// mean and std; zero when absent).
    static let embeddingCount = TMRVCConstants.Dims.speaker
    static let loraCount = TMRVCConstants.Lora.deltaSize
    static let presetCount = TMRVCConstants.Dims.voiceSource
    static let pitchCount = 2
    /// Slot layout: the floats, then a flags float (bit 0: preset present, bit 1: pitch statistics present).
    static let slotCount = embeddingCount + loraCount + presetCount + pitchCount + 1

    private let slots: UnsafeMutablePointer<Float>
    /// Index of the slot waiting for the audio thread, or -1.
    private let pending = Atomic<Int>(-1)
    /// Slot most recently published (poster side only, under `posting`).
    private var lastPublished = 1
    /// Held by the one poster writing a slot.
    private let posting = Atomic<Bool>(false)
    private let generationCounter = Atomic<Int>(0)

    public init() {
        slots = .allocate(capacity: 2 * Self.slotCount)
        slots.initialize(repeating: 0, count: 2 * Self.slotCount)
    }

    deinit { slots.deallocate() }

    /// Publishes a profile (any thread but the audio thread). Never waits for the audio thread; a
    /// profile posted before the previous one was taken replaces it. `profile` must have the
    /// format's sizes (a validated `SpeakerProfile` has).
    public func post(_ profile: SpeakerProfile) {
        precondition(profile.embedding.count == Self.embeddingCount && profile.loraDelta.count == Self.loraCount,
                     "speaker profile sizes do not match the format")
        while !posting.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            sleepMilliseconds(1)
        }
        defer { posting.store(false, ordering: .releasing) }
        let untaken = pending.load(ordering: .acquiring)
        let s: Int
        if untaken >= 0, pending.compareExchange(expected: untaken, desired: -1, ordering: .acquiringAndReleasing).exchanged {
            s = untaken   // retracted before the audio thread saw it: nobody reads it
        } else {
            s = 1 - lastPublished   // the audio thread took `lastPublished` (or is copying it)
        }
        let base = slots + s * Self.slotCount
        profile.embedding.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: Self.embeddingCount) }
        profile.loraDelta.withUnsafeBufferPointer { (base + Self.embeddingCount).update(from: $0.baseAddress!, count: Self.loraCount) }
        let preset = base + Self.embeddingCount + Self.loraCount
        var flags = 0
        if let p = profile.voiceSourcePreset, p.count == Self.presetCount {
            p.withUnsafeBufferPointer { preset.update(from: $0.baseAddress!, count: Self.presetCount) }
            flags |= 1
        } else {
            preset.update(repeating: 0, count: Self.presetCount)
        }
        let pitch = preset + Self.presetCount
        if let stats = profile.pitchStatistics {
            pitch[0] = stats.mean
            pitch[1] = stats.std
            flags |= 2
        } else {
            pitch.update(repeating: 0, count: Self.pitchCount)
        }
        pitch[Self.pitchCount] = Float(flags)
        lastPublished = s
        pending.store(s, ordering: .releasing)
    }

    /// Takes the newest posted profile, if any (audio thread; real-time safe). `body` receives
    /// the embedding, LoRA delta, preset (nil when the file had none) and pitch statistics (mean,
    /// std; nil when the file had none) and must copy them out before returning.
    @inline(__always)
    public func take(_ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>?, UnsafePointer<Float>?) -> Void) -> Bool {
        let s = pending.exchange(-1, ordering: .acquiringAndReleasing)
        guard s >= 0 else { return false }
        let base = UnsafePointer(slots + s * Self.slotCount)
        let preset = base + Self.embeddingCount + Self.loraCount
        let pitch = preset + Self.presetCount
        let flags = Int(pitch[Self.pitchCount])
        body(base, base + Self.embeddingCount, flags & 1 != 0 ? preset : nil, flags & 2 != 0 ? pitch : nil)
        generationCounter.add(1, ordering: .releasing)
        return true
    }

    /// Number of profiles the audio thread has taken so far (any thread).
    public var generation: Int { generationCounter.load(ordering: .acquiring) }
}

#if canImport(Glibc)
import Glibc
func sleepMilliseconds(_ ms: Int) { usleep(UInt32(ms * 1000)) }
#else
import Darwin
func sleepMilliseconds(_ ms: Int) { usleep(UInt32(ms * 1000)) }
#endif
