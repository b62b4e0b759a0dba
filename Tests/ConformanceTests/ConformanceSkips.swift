/// Node-test cases whose ops the runtime supports but which are skipped, each with its reason.
enum ConformanceSkips {
    static let cases: [String: String] = [
        // normalization ops
        "test_batchnorm_epsilon_training_mode": "BatchNormalization training_mode=1 (batch statistics, running-mean outputs): inference-only runtime",
        "test_batchnorm_example_training_mode": "BatchNormalization training_mode=1 (batch statistics, running-mean outputs): inference-only runtime",
        // end normalization ops
    ]
}
