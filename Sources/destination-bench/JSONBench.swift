func runJSONBenchmarks(samplesDirectory: String) {
    print("JSON: no benchmark yet")
}
