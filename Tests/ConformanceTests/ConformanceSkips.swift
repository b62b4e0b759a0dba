/// Node-test cases whose ops the runtime supports but which are skipped, each with its reason.
enum ConformanceSkips {
    static let cases: [String: String] = [:]
}
