// swift-tools-version: 6.1
// TMRVC: CPU-only real-time voice conversion with a pure-Swift inference path.
import PackageDescription

// Runtime CPU dispatch: the hot loops (Sources/TMRVCKernelsAVX2) are compiled twice, for
// AVX2/FMA (`-target-cpu haswell`, `KERNELS_FMA`) and for baseline x86-64
// (Sources/TMRVCKernelsGeneric holds symbolic links to the same files), and TMRVCKernels picks one
// at load time from CPUID (`TMRVC_KERNELS=generic` forces the baseline one). Every other target
// is compiled for baseline x86-64, so the binaries run on any x86-64 CPU. Without the flag,
// hand-written SIMD8 FMA code becomes scalar libm calls (40-60x slower): that is why the hot
// loops live in the kernel targets and use `madd`, which is a plain multiply-add in the generic
// build. The flag is an unsafe flag, accepted in a root package only: a package that depends on
// TMRVC gets both kernel targets at baseline (correct, slower) unless it passes
// `-Xswiftc -target-cpu -Xswiftc haswell` itself.
let avx2Kernels: [SwiftSetting] = {
    #if arch(x86_64)
    return [.unsafeFlags(["-target-cpu", "haswell"]), .define("KERNELS_FMA")]
    #else
    return [.define("KERNELS_FMA")]
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
        .executable(name: "tmrvc-bench", targets: ["tmrvc-bench"]),
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
        .target(name: "TMRVCKernelsAVX2", swiftSettings: avx2Kernels),
        .target(name: "TMRVCKernelsGeneric"),
        .target(name: "TMRVCKernels", dependencies: ["TMRVCKernelsAVX2", "TMRVCKernelsGeneric", "CTMRVCSupport"]),
        .target(name: "TMRVCConstants"),
        .target(name: "TMRVCDSP", dependencies: ["TMRVCConstants", "TMRVCKernels", "CFFTW"],
                linkerSettings: [.linkedLibrary("fftw3")]),   // double-precision FFTW (same libfftw3-dev)
        .target(name: "ONNXFormat"),
        .target(name: "TMRVCRuntime", dependencies: ["ONNXFormat", "TMRVCKernels", "CBLAS", "CTMRVCSupport"]),
        .target(name: "TMRVCEngine", dependencies: ["TMRVCRuntime", "TMRVCConstants", "TMRVCDSP", "CFFTW", "CTMRVCSupport"]),
        .target(name: "CTMRVC"),
        .target(name: "CJACKHost", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "TMRVCCAPI", dependencies: ["CTMRVC", "TMRVCEngine", "TMRVCRuntime", "TMRVCKernels"]),
        .target(name: "TMRVCAudioIO", dependencies: ["CSndFile"]),
        .target(name: "TMRVCTooling", dependencies: ["TMRVCRuntime", "TMRVCEngine", "ONNXFormat"]),
        .executableTarget(name: "tmrvc",
                          dependencies: ["TMRVCRuntime", "TMRVCConstants", "TMRVCEngine", "TMRVCTooling", "TMRVCAudioIO",
                                         "TMRVCDSP", "TMRVCKernels", "ONNXFormat", "CBLAS", "CFFTW", "CTMRVCSupport", "CJACKHost",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Benchmarks (`tmrvc-bench`, run by `tmrvc bench`): models and pipeline against ONNX Runtime,
        // kernel microbenchmarks (their test models come from TestSupport), offline throughput, profile.
        .executableTarget(name: "tmrvc-bench", dependencies: ["TMRVCRuntime", "TMRVCConstants", "TMRVCEngine", "TMRVCTooling",
                                                              "TMRVCDSP", "TMRVCKernels", "ONNXFormat", "CBLAS", "CFFTW",
                                                              "CTMRVCSupport", "TestSupport",
                                                              .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Benchmarks/TMRVCBench"),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DSPTests", dependencies: ["TMRVCDSP", "TMRVCConstants"],
                    exclude: ["Resources"]),
        // libFuzzer targets (tools/fuzz.sh); a plain build makes no-op executables.
        .executableTarget(name: "ONNXFuzz", dependencies: ["ONNXFormat", "TMRVCRuntime"]),
        .executableTarget(name: "SpeakerFuzz", dependencies: ["TMRVCEngine"]),
        .target(name: "CMemFD", path: "Sources/CMemFD"),
        .executableTarget(name: "AudioFuzz", dependencies: ["TMRVCAudioIO", "CMemFD"]),
        .testTarget(name: "ONNXFormatTests", dependencies: ["ONNXFormat", "TestSupport"]),
        .testTarget(name: "ConformanceTests", dependencies: ["TMRVCRuntime", "ONNXFormat"]),
        .testTarget(name: "EngineTests", dependencies: ["TMRVCEngine", "TMRVCConstants", "TMRVCAudioIO", "TMRVCDSP", "TMRVCTooling", "TestSupport"]),
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "RealtimeTests", dependencies: ["TMRVCRuntime", "TMRVCEngine", "TMRVCCAPI", "CTMRVC", "TMRVCDSP", "AllocationCounter", "TestSupport", "ONNXFormat"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        .testTarget(name: "CAPITests", dependencies: ["CTMRVC", "TMRVCCAPI", "TMRVCEngine", "TMRVCKernels", "TMRVCAudioIO", "TestSupport"]),
        .testTarget(name: "ParityTests", dependencies: ["TMRVCTooling", "TMRVCDSP", "TMRVCKernels"]),
        .testTarget(name: "RuntimeTests", dependencies: ["TMRVCRuntime", "TMRVCKernels", "TMRVCConstants", "TestSupport"],
                    resources: []),
    ]
)
