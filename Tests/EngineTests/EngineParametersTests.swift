import Foundation
import XCTest
@testable import TMRVCEngine

final class EngineParametersTests: XCTestCase {
    func testDefaultsClampingAndNonFiniteValues() {
        let p = EngineParameters()
        XCTAssertEqual([p.quality, p.pitchShiftSemitones, p.wet, p.outputGainDB, p.voiceSourceAlpha, p.gateThresholdDB],
                       [0, 0, 1, 0, 0, -60])
        p.quality = 2; p.pitchShiftSemitones = -30; p.wet = -1; p.outputGainDB = 50; p.voiceSourceAlpha = 0.25; p.gateThresholdDB = -200
        XCTAssertEqual([p.quality, p.pitchShiftSemitones, p.wet, p.outputGainDB, p.voiceSourceAlpha, p.gateThresholdDB],
                       [1, -24, 0, 24, 0.25, -120])
        p.quality = .nan; p.pitchShiftSemitones = .infinity; p.wet = .nan; p.outputGainDB = .nan; p.voiceSourceAlpha = .nan; p.gateThresholdDB = .nan
        XCTAssertEqual([p.quality, p.pitchShiftSemitones, p.wet, p.outputGainDB, p.voiceSourceAlpha, p.gateThresholdDB],
                       [0, 0, 1, 0, 0, -120])
    }

    func testRegisterModeDefaultsToAutomaticAndIsSettableFromAnyThread() {
        let p = EngineParameters()
        XCTAssertEqual(p.registerMode, .automatic)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { p.registerMode = .shiftOnly; done.signal() }
        done.wait()
        XCTAssertEqual(p.registerMode, .shiftOnly)
        p.registerMode = .automatic
        XCTAssertEqual(p.registerMode, .automatic)
    }
}
