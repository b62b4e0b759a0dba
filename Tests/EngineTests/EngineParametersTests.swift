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

    /// The control table is what the parameters clamp to and start from, in the C API's order.
    func testControlTableDrivesDefaultsAndRanges() {
        let p = EngineParameters()
        let accessors: [(EngineParameters.Control, ReferenceWritableKeyPath<EngineParameters, Float>)] = [
            (EngineParameters.quality, \.quality), (EngineParameters.pitch, \.pitchShiftSemitones),
            (EngineParameters.dryWet, \.wet), (EngineParameters.gain, \.outputGainDB),
            (EngineParameters.gate, \.gateThresholdDB), (EngineParameters.voiceSource, \.voiceSourceAlpha)]
        for (control, path) in accessors {
            XCTAssertEqual(p[keyPath: path], control.defaultValue, "\(control.id)")
            p[keyPath: path] = control.range.upperBound + 100
            XCTAssertEqual(p[keyPath: path], control.range.upperBound, "\(control.id)")
            p[keyPath: path] = control.range.lowerBound - 100
            XCTAssertEqual(p[keyPath: path], control.range.lowerBound, "\(control.id)")
        }
        XCTAssertEqual(EngineParameters.controls.map { "\($0.id)" },
                       ["q", "pitch", "dry_wet", "gain", "gate", "register_mode", "voice_source"])
        XCTAssertEqual(EngineParameters.gain.rangeDescription, "-60...24 dB")
        XCTAssertEqual(EngineParameters.quality.rangeDescription, "0...1")
    }
}
