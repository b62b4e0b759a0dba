#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Real-time helpers. The per-sample/per-hop entry points of this module are annotated
// `@_noAllocation` in non-DEBUG builds (`#if !DEBUG`): the compiler then proves, in every release
// build, that they cannot allocate or free memory (and, transitively, take the allocator's locks).
// Debug builds skip the check because unoptimised code calls non-inlined stdlib entry points the
// checker cannot see into. C calls (memmove, fftw_execute, libm) are vouched for with
// `_unsafePerformance`. Generic types (RingBuffer) cannot carry the annotation; their
// methods are `@inlinable` so that clients get specialised, allocation-free code.

/// Copies `count` floats; the ranges may overlap (memmove). Real-time safe.
@inline(__always) @_noAllocation
func rtMove(_ destination: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, _ count: Int) {
    _unsafePerformance { _ = memmove(destination, source, count * MemoryLayout<Float>.stride) }
}

/// Sets `count` floats to `value`. Real-time safe.
@inline(__always) @_noAllocation
func rtFill(_ destination: UnsafeMutablePointer<Float>, _ value: Float, _ count: Int) {
    var i = 0
    while i < count { destination[i] = value; i += 1 }
}
