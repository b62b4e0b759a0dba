import Dispatch
import XCTest
@testable import TMRVCDSP

final class FFTPlanningTests: XCTestCase {
    /// Plans are created under FFTWPlannerLock: constructing objects on several threads at once is safe.
    func testConcurrentConstruction() {
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let mel = CausalLogMel()
            let syn = OverlapAddSynthesizer()
            let x = [Float](repeating: Float(i) * 0.01, count: 480)
            var frames = [Float](repeating: 0, count: 3 * CausalLogMel.bandCount)
            XCTAssertEqual(mel.process(x, count: x.count, frames: &frames, frameCapacity: 3), 2)
            var out = [Float](repeating: 0, count: 240)
            syn.synthesize(magnitude: x, phase: x, output: &out)
        }
    }

    /// FFTW_MEASURE may choose other algorithms; results agree with FFTW_ESTIMATE to rounding.
    func testMeasureRigorMatchesEstimate() throws {
        let audio = Array(try NPYArray.load("dsp_audio.npy").values[0..<4800])
        let a = CausalLogMel(rigor: .estimate), b = CausalLogMel(rigor: .measure)
        var fa = [Float](repeating: 0, count: 20 * CausalLogMel.bandCount), fb = fa
        XCTAssertEqual(a.process(audio, count: audio.count, frames: &fa, frameCapacity: 20), 20)
        XCTAssertEqual(b.process(audio, count: audio.count, frames: &fb, frameCapacity: 20), 20)
        for i in 0..<fa.count { XCTAssertEqual(fa[i], fb[i], accuracy: 1e-5) }
        let sa = OverlapAddSynthesizer(rigor: .estimate), sb = OverlapAddSynthesizer(rigor: .measure)
        var oa = [Float](repeating: 0, count: 240), ob = oa
        sa.synthesize(magnitude: audio, phase: Array(audio[241...]), output: &oa)
        sb.synthesize(magnitude: audio, phase: Array(audio[241...]), output: &ob)
        for i in 0..<240 { XCTAssertEqual(oa[i], ob[i], accuracy: 1e-6) }
    }
}
