func runSubscriptionBenchmarks(samplesDirectory: String) {
    print("Subscription: no benchmark yet")
}
