/// Fixed-capacity FIFO ring buffer of trivially copyable elements (single thread).
///
/// Storage is allocated once in `init`; every operation is real-time safe (no allocation, no
/// locks). Single-threaded: the engine's FIFOs live on the audio thread.
public final class RingBuffer<Element: BitwiseCopyable> {
    /// Maximum number of elements held.
    public let capacity: Int
    @usableFromInline
    let storage: UnsafeMutablePointer<Element>
    @usableFromInline
    var head = 0      // index of the oldest element
    @usableFromInline
    var countStored = 0

    /// Creates an empty buffer for `capacity` elements, storage filled with `fill`.
    public init(capacity: Int, fill: Element) {
        precondition(capacity > 0, "RingBuffer capacity must be positive")
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: fill, count: capacity)
    }

    deinit { storage.deallocate() }

    /// Number of elements currently stored.
    @inlinable
    public var count: Int { countStored }
    /// Free slots.
    @inlinable
    public var availableToWrite: Int { capacity - countStored }
    /// `true` when nothing is stored.
    @inlinable
    public var isEmpty: Bool { countStored == 0 }
    /// `true` when ``count`` == ``capacity``.
    @inlinable
    public var isFull: Bool { countStored == capacity }

    /// Removes everything.
    @inlinable
    public func removeAll() {
        head = 0
        countStored = 0
    }

    /// Appends one element; returns `false` (and drops it) when full.
    @discardableResult
    @inlinable
    public func append(_ value: Element) -> Bool {
        if countStored == capacity { return false }
        var tail = head + countStored
        if tail >= capacity { tail -= capacity }
        storage[tail] = value
        countStored += 1
        return true
    }

    /// Removes and returns the oldest element, or `nil` when empty.
    @inlinable
    public func popFirst() -> Element? {
        if countStored == 0 { return nil }
        let v = storage[head]
        head += 1
        if head == capacity { head = 0 }
        countStored -= 1
        return v
    }

    /// The `i`-th oldest element (0 = oldest); `i` must be `< count`.
    @inlinable
    public subscript(i: Int) -> Element {
        precondition(i >= 0 && i < countStored, "RingBuffer index out of range")
        var j = head + i
        if j >= capacity { j -= capacity }
        return storage[j]
    }

    /// Appends up to `n` elements from `source`; returns how many fit.
    @discardableResult
    @inlinable
    public func write(_ source: UnsafePointer<Element>, count n: Int) -> Int {
        let m = min(n, capacity - countStored)
        var tail = head + countStored
        if tail >= capacity { tail -= capacity }
        let first = min(m, capacity - tail)
        (storage + tail).update(from: source, count: first)
        if m > first { storage.update(from: source + first, count: m - first) }
        countStored += m
        return m
    }

    /// Copies up to `n` of the oldest elements into `destination` without removing them; returns the count copied.
    @discardableResult
    @inlinable
    public func peek(into destination: UnsafeMutablePointer<Element>, count n: Int) -> Int {
        let m = min(n, countStored)
        let first = min(m, capacity - head)
        destination.update(from: storage + head, count: first)
        if m > first { (destination + first).update(from: storage, count: m - first) }
        return m
    }

    /// Removes up to `n` of the oldest elements, copying them into `destination`; returns the count read.
    @discardableResult
    @inlinable
    public func read(into destination: UnsafeMutablePointer<Element>, count n: Int) -> Int {
        let m = peek(into: destination, count: n)
        discard(m)
        return m
    }

    /// Removes up to `n` of the oldest elements; returns the count removed.
    @discardableResult
    @inlinable
    public func discard(_ n: Int) -> Int {
        let m = min(max(0, n), countStored)
        head += m
        if head >= capacity { head -= capacity }
        countStored -= m
        return m
    }
}

extension RingBuffer where Element: ExpressibleByIntegerLiteral {
    /// Creates an empty buffer for `capacity` elements (storage zero-filled).
    public convenience init(capacity: Int) { self.init(capacity: capacity, fill: 0) }
}
