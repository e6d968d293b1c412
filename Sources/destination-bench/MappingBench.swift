func runMappingBenchmarks(samplesDirectory: String) {
    print("Mapping: no benchmark yet")
}
