// swift-tools-version: 6.1
// TMRVC: CPU-only real-time voice conversion with a pure-Swift inference path.
import PackageDescription

// Without an explicit target CPU, SwiftPM builds for baseline x86-64 (SSE2) and SIMD8<Float> code
// degrades to scalar calls (40-60x slower, see docs/performance notes). The flag is an unsafe flag,
// which SwiftPM accepts only in a root package: consumers that depend on TMRVC as a package get the
// portable baseline build and should pass `-Xswiftc -target-cpu -Xswiftc haswell` themselves.
let cpuFlags: [SwiftSetting] = {
    #if arch(x86_64)
    return [.unsafeFlags(["-target-cpu", "haswell"])]
    #else
    return []
    #endif
}()

let package = Package(
    name: "TMRVC",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "TMRVCRuntime", targets: ["TMRVCRuntime"]),
        .library(name: "ONNXFormat", targets: ["ONNXFormat"]),
        .library(name: "TMRVCEngine", targets: ["TMRVCEngine"]),
        // libtmrvc.so: the C API (Sources/CTMRVC/include/tmrvc.h); tools/build_library.sh also
        // makes libtmrvc.a and a stripped, self-contained copy.
        .library(name: "tmrvc-c", type: .dynamic, targets: ["TMRVCCAPI"]),
        .library(name: "tmrvc-c-static", type: .static, targets: ["TMRVCCAPI"]),
        .executable(name: "tmrvc", targets: ["tmrvc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3f",
                       providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CSndFile", path: "Sources/CSndFile", pkgConfig: "sndfile",
                       providers: [.apt(["libsndfile1-dev"])]),
        .target(name: "CTMRVCSupport"),
        .target(name: "TMRVCConstants", swiftSettings: cpuFlags),
        .target(name: "TMRVCDSP", dependencies: ["TMRVCConstants", "CFFTW"], swiftSettings: cpuFlags,
                linkerSettings: [.linkedLibrary("fftw3")]),   // double-precision FFTW (same libfftw3-dev)
        .target(name: "ONNXFormat", swiftSettings: cpuFlags),
        .target(name: "TMRVCRuntime", dependencies: ["ONNXFormat", "CBLAS", "CTMRVCSupport"], swiftSettings: cpuFlags),
        .target(name: "TMRVCEngine", dependencies: ["TMRVCRuntime", "TMRVCConstants", "TMRVCDSP", "CFFTW", "CTMRVCSupport"], swiftSettings: cpuFlags),
        .target(name: "CTMRVC"),
        .target(name: "CJACKHost", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CCPUCheck"),
        .target(name: "TMRVCCAPI", dependencies: ["CTMRVC", "TMRVCEngine", "TMRVCRuntime"], swiftSettings: cpuFlags),
        .target(name: "TMRVCAudioIO", dependencies: ["CSndFile"], swiftSettings: cpuFlags),
        .target(name: "TMRVCTooling", dependencies: ["TMRVCRuntime", "TMRVCEngine", "ONNXFormat"], swiftSettings: cpuFlags),
        .executableTarget(name: "tmrvc",
                          dependencies: ["TMRVCRuntime", "TMRVCConstants", "TMRVCEngine", "TMRVCTooling", "TMRVCAudioIO",
                                         "TMRVCDSP", "ONNXFormat", "CBLAS", "CFFTW", "CTMRVCSupport", "TestSupport", "CJACKHost", "CCPUCheck",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: cpuFlags),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DSPTests", dependencies: ["TMRVCDSP", "TMRVCConstants"],
                    exclude: ["Resources"], swiftSettings: cpuFlags),
        // libFuzzer targets (tools/fuzz.sh); a plain build makes no-op executables.
        .executableTarget(name: "ONNXFuzz", dependencies: ["ONNXFormat", "TMRVCRuntime"], swiftSettings: cpuFlags),
        .executableTarget(name: "SpeakerFuzz", dependencies: ["TMRVCEngine"], swiftSettings: cpuFlags),
        .target(name: "CMemFD", path: "Sources/CMemFD"),
        .executableTarget(name: "AudioFuzz", dependencies: ["TMRVCAudioIO", "CMemFD"], swiftSettings: cpuFlags),
        .testTarget(name: "ONNXFormatTests", dependencies: ["ONNXFormat", "TestSupport"], swiftSettings: cpuFlags),
        .testTarget(name: "ConformanceTests", dependencies: ["TMRVCRuntime", "ONNXFormat"], swiftSettings: cpuFlags),
        .testTarget(name: "EngineTests", dependencies: ["TMRVCEngine", "TMRVCConstants", "TMRVCAudioIO", "TMRVCDSP", "TMRVCTooling", "TestSupport"],
                    swiftSettings: cpuFlags),
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "RealtimeTests", dependencies: ["TMRVCRuntime", "TMRVCEngine", "TMRVCCAPI", "CTMRVC", "TMRVCDSP", "AllocationCounter", "TestSupport", "ONNXFormat"],
                    swiftSettings: cpuFlags),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"], swiftSettings: cpuFlags),
        .testTarget(name: "CAPITests", dependencies: ["CTMRVC", "TMRVCCAPI", "TMRVCEngine", "TMRVCAudioIO", "TestSupport"], swiftSettings: cpuFlags),
        .testTarget(name: "ParityTests", dependencies: ["TMRVCTooling", "TMRVCDSP"], swiftSettings: cpuFlags),
        .testTarget(name: "RuntimeTests", dependencies: ["TMRVCRuntime", "TMRVCConstants", "TestSupport"],
                    resources: [], swiftSettings: cpuFlags),
    ]
)
