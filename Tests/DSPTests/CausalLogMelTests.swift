import XCTest
import TMRVCConstants
@testable import TMRVCDSP

final class CausalLogMelTests: XCTestCase {
    /// Streams `audio` through a fresh front end with the given block sizes (cycled); frame-major output.
    private func stream(_ audio: [Float], blocks: [Int]) -> [Float] {
        let mel = CausalLogMel()
        let bands = CausalLogMel.bandCount
        var out = [Float]()
        var frames = [Float](repeating: 0, count: bands * (audio.count / CausalLogMel.hopLength + 2))
        var i = 0, b = 0
        audio.withUnsafeBufferPointer { a in
            while i < audio.count {
                let n = min(blocks[b % blocks.count], audio.count - i)
                b += 1
                let cap = CausalLogMel.maxFrameCount(forSampleCount: n)
                XCTAssertEqual(mel.frameCount(afterPushing: n), (mel.pendingSampleCount + n) / CausalLogMel.hopLength)
                let produced = frames.withUnsafeMutableBufferPointer { f in
                    mel.process(a.baseAddress! + i, count: n, frames: f.baseAddress!, frameCapacity: cap)
                }
                out.append(contentsOf: frames[0..<(produced * bands)])
                i += n
            }
        }
        return out
    }

    func testMatchesPythonReference() throws {
        let audio = try NPYArray.load("dsp_audio.npy").values
        let ref = try NPYArray.load("dsp_log_mel.npy")
        let bands = CausalLogMel.bandCount
        XCTAssertEqual(ref.shape, [bands, audio.count / CausalLogMel.hopLength])
        let frames = ref.shape[1]
        let out = stream(audio, blocks: [CausalLogMel.hopLength])
        XCTAssertEqual(out.count, frames * bands)
        var maxErr: Float = 0, maxErrAboveFloor: Float = 0
        var worst = (0, 0)
        for t in 0..<frames {
            for b in 0..<bands {
                let r = ref.values[b * frames + t]
                let e = abs(out[t * bands + b] - r)
                if e > maxErr { maxErr = e; worst = (t, b) }
                if r > CausalLogMel.silenceValue + 1 { maxErrAboveFloor = max(maxErrAboveFloor, e) }
            }
        }
        print("CausalLogMel vs Python float64 reference: max abs error \(maxErr) (frame \(worst.0), band \(worst.1)); " +
              "above floor+1: \(maxErrAboveFloor); \(frames) frames")
        XCTAssertLessThanOrEqual(maxErr, 1e-4)
    }

    func testBlockPartitionDoesNotChangeOutput() throws {
        let audio = try NPYArray.load("dsp_audio.npy").values
        let whole = stream(audio, blocks: [audio.count])
        for blocks in [[1], [7], [239, 241], [1000], [3, 512, 17, 0, 240, 961]] {
            let parts = stream(audio, blocks: blocks.map { max($0, 1) })
            XCTAssertEqual(parts, whole, "blocks \(blocks)")
        }
    }

    func testSilenceGivesLogFloorAndResetRestarts() {
        let mel = CausalLogMel()
        let zeros = [Float](repeating: 0, count: 5 * CausalLogMel.hopLength + 17)
        var frames = [Float](repeating: 1, count: 5 * CausalLogMel.bandCount)
        let n = mel.process(zeros, count: zeros.count, frames: &frames, frameCapacity: 5)
        XCTAssertEqual(n, 5)
        XCTAssertEqual(mel.pendingSampleCount, 17)
        XCTAssertEqual(CausalLogMel.silenceValue, Float(log(1e-5)), accuracy: 1e-6)
        for v in frames { XCTAssertEqual(v, CausalLogMel.silenceValue) }
        mel.reset()
        XCTAssertEqual(mel.pendingSampleCount, 0)
    }

    func testCallbackVariantMatchesBufferVariant() throws {
        let audio = Array(try NPYArray.load("dsp_audio.npy").values[0..<4800])
        let expected = stream(audio, blocks: [audio.count])
        let mel = CausalLogMel()
        var got = [Float]()
        var calls = 0
        for start in stride(from: 0, to: audio.count, by: 333) {
            let n = min(333, audio.count - start)
            audio.withUnsafeBufferPointer { a in
                calls += mel.process(a.baseAddress! + start, count: n) { frame in
                    XCTAssertEqual(frame.count, CausalLogMel.bandCount)
                    got.append(contentsOf: frame)
                }
            }
        }
        XCTAssertEqual(calls, audio.count / CausalLogMel.hopLength)
        XCTAssertEqual(got, expected)
    }

    func testFilterbankShape() {
        let fb = MelFilterbank()
        XCTAssertEqual(fb.bandCount, TMRVCConstants.Frontend.nMels)
        XCTAssertEqual(fb.binCount, TMRVCConstants.Frontend.nFft / 2 + 1)
        // Slaney area normalisation: each triangle integrates (over Hz) to 1, i.e. sum(w) * bin width ≈ 1.
        let binHz = Double(TMRVCConstants.Audio.sampleRate) / Double(TMRVCConstants.Frontend.nFft)
        for b in 10..<fb.bandCount {
            var s = 0.0
            for k in 0..<fb.binCount { s += fb.weights[b * fb.binCount + k] }
            XCTAssertEqual(s * binHz, 1, accuracy: 0.05, "band \(b)")
            XCTAssertLessThan(fb.firstBin[b], fb.endBin[b])
        }
        XCTAssertEqual(MelFilterbank.melToHz(MelFilterbank.hzToMel(3456.7)), 3456.7, accuracy: 1e-9)
        XCTAssertEqual(MelFilterbank.hzToMel(1000), 15, accuracy: 1e-12)
    }
}
