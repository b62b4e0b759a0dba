import Synchronization

/// Lock-free, wait-free single-producer single-consumer FIFO of trivially copyable elements.
///
/// Exactly one thread may call the producer methods (``push(_:)``, ``write(_:count:)``,
/// ``availableToWrite``) and exactly one (other) thread the consumer methods (``pop()``,
/// ``read(into:count:)``, ``availableToRead``). Indices are monotonically increasing `Int`s in
/// `Atomic`s (`Synchronization`); the producer publishes with a releasing store and the consumer
/// observes it with an acquiring load (and vice versa for freed slots). Storage is allocated once in
/// `init`; no operation allocates, locks or blocks, so both ends may be real-time threads.
///
/// Typical use: audio callback -> inference thread (input samples), inference thread -> audio
/// callback (output samples), parameter/event messages.
@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, visionOS 2.0, *)
public final class SPSCQueue<Element: BitwiseCopyable>: @unchecked Sendable {
    /// Maximum number of elements queued (the requested capacity rounded up to a power of two).
    public let capacity: Int
    @usableFromInline
    let mask: Int
    @usableFromInline
    let storage: UnsafeMutablePointer<Element>
    @usableFromInline
    let writeIndex = Atomic<Int>(0)
    @usableFromInline
    let padding0: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    @usableFromInline
    let readIndex = Atomic<Int>(0)
    @usableFromInline
    let padding1: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// Creates an empty queue holding at least `minimumCapacity` elements (rounded up to a power
    /// of two); storage is filled with `fill`.
    public init(minimumCapacity: Int, fill: Element) {
        precondition(minimumCapacity > 0, "SPSCQueue capacity must be positive")
        var c = 1
        while c < minimumCapacity { c <<= 1 }
        capacity = c
        mask = c - 1
        storage = .allocate(capacity: c)
        storage.initialize(repeating: fill, count: c)
    }

    deinit { storage.deallocate() }

    // MARK: producer side

    /// Free slots as seen by the producer (a lower bound while the consumer runs).
    @inlinable
    public var availableToWrite: Int {
        capacity - (writeIndex.load(ordering: .relaxed) - readIndex.load(ordering: .acquiring))
    }

    /// Enqueues one element; returns `false` when the queue is full. Producer only.
    @discardableResult
    @inlinable
    public func push(_ value: Element) -> Bool {
        let w = writeIndex.load(ordering: .relaxed)
        let r = readIndex.load(ordering: .acquiring)
        if w - r >= capacity { return false }
        storage[w & mask] = value
        writeIndex.store(w + 1, ordering: .releasing)
        return true
    }

    /// Enqueues up to `n` elements from `source`; returns how many were written. Producer only.
    @discardableResult
    @inlinable
    public func write(_ source: UnsafePointer<Element>, count n: Int) -> Int {
        let w = writeIndex.load(ordering: .relaxed)
        let r = readIndex.load(ordering: .acquiring)
        let m = min(n, capacity - (w - r))
        if m <= 0 { return 0 }
        let start = w & mask
        let first = min(m, capacity - start)
        (storage + start).update(from: source, count: first)
        if m > first { storage.update(from: source + first, count: m - first) }
        writeIndex.store(w + m, ordering: .releasing)
        return m
    }

    // MARK: consumer side

    /// Elements ready for the consumer (a lower bound while the producer runs).
    @inlinable
    public var availableToRead: Int {
        writeIndex.load(ordering: .acquiring) - readIndex.load(ordering: .relaxed)
    }

    /// Dequeues one element, or `nil` when empty. Consumer only.
    @inlinable
    public func pop() -> Element? {
        let r = readIndex.load(ordering: .relaxed)
        let w = writeIndex.load(ordering: .acquiring)
        if w == r { return nil }
        let v = storage[r & mask]
        readIndex.store(r + 1, ordering: .releasing)
        return v
    }

    /// Dequeues up to `n` elements into `destination`; returns how many were read. Consumer only.
    @discardableResult
    @inlinable
    public func read(into destination: UnsafeMutablePointer<Element>, count n: Int) -> Int {
        let r = readIndex.load(ordering: .relaxed)
        let w = writeIndex.load(ordering: .acquiring)
        let m = min(n, w - r)
        if m <= 0 { return 0 }
        let start = r & mask
        let first = min(m, capacity - start)
        destination.update(from: storage + start, count: first)
        if m > first { (destination + first).update(from: storage, count: m - first) }
        readIndex.store(r + m, ordering: .releasing)
        return m
    }
}

@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, visionOS 2.0, *)
extension SPSCQueue where Element: ExpressibleByIntegerLiteral {
    /// Creates an empty queue holding at least `minimumCapacity` elements (storage zero-filled).
    public convenience init(minimumCapacity: Int) { self.init(minimumCapacity: minimumCapacity, fill: 0) }
}
