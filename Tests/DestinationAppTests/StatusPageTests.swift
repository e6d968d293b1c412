import EventStore
import Foundation
import HTTPServer
import JSONKit
import Testing

@testable import DestinationApp

// MARK: - Activity history

/// A clock tests move by hand.
private final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date) { current = start }

    var now: Date { lock.withLock { current } }

    func advance(by seconds: TimeInterval) {
        lock.withLock { current += seconds }
    }
}

private final class ReadCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    var count: Int { lock.withLock { value } }

    func next() -> Int {
        lock.withLock {
            value += 1
            return value
        }
    }
}

/// 2025-05-01 14:03:12 UTC.
private let referenceTime = Date(timeIntervalSince1970: 1_746_108_192)

private func sample(delivered: Int = 0, dead: Int = 0, retried: Int = 0, accepted: Int = 0, depth: Int? = nil) -> ActivitySample {
    ActivitySample(delivered: delivered, deadLettered: dead, retried: retried, accepted: accepted, queueDepth: depth)
}

@Suite struct ActivityHistoryTests {
    @Test func firstSampleOnlySetsTheBaseline() {
        let history = ActivityHistory()
        history.record(sample: sample(delivered: 5_000, dead: 12, retried: 40, accepted: 6_000), at: referenceTime)
        let hour = history.lastHour(endingAt: referenceTime)
        #expect(hour.count == 60)
        #expect(hour.allSatisfy { $0.delivered == 0 && $0.failed == 0 && $0.accepted == 0 })
    }

    @Test func deltasLandInTheMinuteOfTheSampleThatRevealedThem() {
        let clock = ManualClock(referenceTime)  // 14:03:12
        let history = ActivityHistory(clock: { clock.now })
        history.record(sample: sample(delivered: 100, dead: 1, retried: 3, accepted: 110))
        clock.advance(by: 10)  // 14:03:22
        history.record(sample: sample(delivered: 105, dead: 1, retried: 4, accepted: 118))
        clock.advance(by: 40)  // 14:04:02
        history.record(sample: sample(delivered: 112, dead: 3, retried: 4, accepted: 125))

        let hour = history.lastHour()
        let current = hour[59], previous = hour[58]
        #expect(current.start == Date(timeIntervalSince1970: 1_746_108_240))  // 14:04:00
        #expect(current.delivered == 7)
        #expect(current.deadLettered == 2)
        #expect(current.retried == 0)
        #expect(current.accepted == 7)
        #expect(previous.delivered == 5)
        #expect(previous.retried == 1)
        #expect(previous.failed == 1)
        #expect(previous.accepted == 8)
        #expect(hour[..<58].allSatisfy { $0.delivered == 0 && $0.accepted == 0 })
    }

    @Test func aCounterThatWentDownRestartedFromZero() {
        let history = ActivityHistory()
        history.record(sample: sample(delivered: 900, retried: 50), at: referenceTime)
        // After a restart the process-local retry counter starts again; the store's do not.
        history.record(sample: sample(delivered: 910, retried: 4), at: referenceTime + 5)
        let bucket = history.lastHour(endingAt: referenceTime + 5)[59]
        #expect(bucket.retried == 4)
        #expect(bucket.delivered == 10)
    }

    @Test func minutesWithoutSamplesAreZerosAndTheHourIsContiguous() {
        let history = ActivityHistory()
        history.record(sample: sample(delivered: 0, depth: 3), at: referenceTime - 600)
        history.record(sample: sample(delivered: 4, depth: 1), at: referenceTime - 590)
        history.record(sample: sample(delivered: 9, depth: 0), at: referenceTime)

        let hour = history.lastHour(endingAt: referenceTime)
        #expect(hour.count == ActivityHistory.minutes)
        for (earlier, later) in zip(hour, hour.dropFirst()) {
            #expect(later.start.timeIntervalSince(earlier.start) == 60)
        }
        #expect(hour[59].start <= referenceTime && referenceTime < hour[59].start + 60)
        #expect(hour[49].delivered == 4)  // ten minutes earlier
        #expect(hour[49].queueDepth == 1)
        #expect(hour[59].delivered == 5)
        #expect(hour[59].queueDepth == 0)
        #expect(hour[50..<59].allSatisfy { $0.delivered == 0 && $0.queueDepth == nil })
        #expect(hour.reduce(0) { $0 + $1.delivered } == 9)
    }

    @Test func minutesOlderThanAnHourAreForgotten() {
        let history = ActivityHistory()
        history.record(sample: sample(delivered: 0), at: referenceTime)
        history.record(sample: sample(delivered: 7), at: referenceTime + 1)
        history.record(sample: sample(delivered: 8), at: referenceTime + 3 * 3_600)

        let later = history.lastHour(endingAt: referenceTime + 3 * 3_600)
        #expect(later.reduce(0) { $0 + $1.delivered } == 1)
        // The early minute was pruned, not merely hidden: asking for the old hour finds nothing.
        #expect(history.lastHour(endingAt: referenceTime).reduce(0) { $0 + $1.delivered } == 0)
    }

    @Test func aClockSteppedBackCountsInTheLatestMinute() {
        let history = ActivityHistory()
        history.record(sample: sample(delivered: 0), at: referenceTime)
        history.record(sample: sample(delivered: 3), at: referenceTime - 300)
        let hour = history.lastHour(endingAt: referenceTime)
        #expect(hour[59].delivered == 3)
        #expect(hour[54].delivered == 0)
    }

    @Test func samplesFromTheStoresCounters() {
        let stats = StoreStats(
            queueDepth: 17, inFlight: 2, oldestPendingAge: 30, deliveredTotal: 1_000, deadTotal: 9, deadLetters: 4,
            acceptedEvents: 1_200, rejectedEvents: 3, duplicateEvents: 1)
        let fromStore = ActivitySample(store: stats, delivery: nil)
        #expect(fromStore == ActivitySample(delivered: 1_000, deadLettered: 9, retried: 0, accepted: 1_200, queueDepth: 17))
    }

    @Test func concurrentWritersAndReadersAgree() async {
        let history = ActivityHistory()
        history.record(sample: sample(delivered: 0), at: referenceTime)
        // One writer with rising totals, many readers at once.
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for total in 1...2_000 { history.record(sample: sample(delivered: total), at: referenceTime + 1) }
            }
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<200 { #expect(history.lastHour(endingAt: referenceTime + 1).count == 60) }
                }
            }
        }
        #expect(history.lastHour(endingAt: referenceTime + 1)[59].delivered == 2_000)
    }

    @Test func periodicSamplingStopsWhenCancelled() async throws {
        let clock = ManualClock(referenceTime)
        let history = ActivityHistory(clock: { clock.now })
        let reads = ReadCounter()
        let task = Task {
            await history.recordPeriodically(every: .milliseconds(5)) {
                sample(delivered: reads.next())
            }
        }
        while reads.count < 5 { try await Task.sleep(for: .milliseconds(2)) }
        task.cancel()
        await task.value
        let total = reads.count
        // Baseline 1, then one per read: everything after the first read is counted.
        #expect(history.lastHour()[59].delivered == total - 1)
    }
}

// MARK: - Status page

private func realisticSnapshot(
    paused: Bool = false, sandbox: Bool = false, withActivity: Bool = true
) -> StatusSnapshot {
    let now = referenceTime
    var activity: [ActivityBucket] = []
    if withActivity {
        for minute in 0..<60 {
            let start = ActivityHistory.start(ofMinute: ActivityHistory.minuteIndex(of: now) - 59 + Int64(minute))
            // A morning ramp with an outage between minutes 38 and 44 (retries pile up).
            let outage = (38...44).contains(minute)
            let base = 180 + (minute * 37 % 23) * 4 + minute * 2
            activity.append(ActivityBucket(
                start: start,
                delivered: outage ? (minute == 38 ? 40 : 0) : base + (minute > 44 && minute < 50 ? 160 : 0),
                deadLettered: minute % 17 == 5 ? 2 : (minute == 44 ? 6 : 0),
                retried: outage ? 90 + minute : (minute % 9 == 0 ? 3 : 0),
                accepted: base + 6 + (minute % 5),
                queueDepth: minute == 12 ? nil : (outage ? 40 + (minute - 37) * 170 : (minute > 44 && minute < 50 ? 1_200 - (minute - 44) * 230 : 8 + minute % 6))))
        }
    }
    return StatusSnapshot(
        generatedAt: now, startedAt: now - 3 * 3_600 - 25 * 60, isSandbox: sandbox,
        adobeClientCode: sandbox ? nil : "acmecorp",
        queue: StatusSnapshot.Queue(
            depth: paused ? 4_812 : 23, inFlight: paused ? 0 : 6, oldestPendingAge: paused ? 1_384 : 4.2,
            deliveredTotal: 1_284_330, deadLetteredTotal: 212, acceptedEvents: 1_301_877, rejectedEvents: 41,
            duplicateEvents: 388),
        delivery: StatusSnapshot.Delivery(
            pauseReason: paused ? "Adobe Target answered 401 Unauthorized to a profile update: the bearer token was refused" : nil,
            pausedSince: paused ? now - 1_380 : nil, deliveredJobs: 48_221, adobeCalls: 61_940,
            lookupCacheHitRatio: 0.734,
            rateLimit: StatusSnapshot.RateLimit(limit: 1_000_000, windowSeconds: 86_400, usedInWindow: 212_480, headroom: 787_512, isWaiting: false)),
        activity: activity,
        deadLetters: [
            StatusSnapshot.DeadLetterRow(
                id: 90_412, reason: "ADOBE_REJECTED",
                message: "Adobe Target answered 400: profile attribute name 'loyalty tier<>' contains characters Adobe does not allow",
                mappingID: "update-profile", attempts: 1, lastAdobeStatus: 400, deadAt: now - 95),
            StatusSnapshot.DeadLetterRow(
                id: 90_388, reason: "PROFILE_NOT_FOUND",
                message: "No Adobe Target profile for this mbox3rdPartyId after 2 h of retries (at.js had not created it)",
                mappingID: "update-profile", attempts: 14, lastAdobeStatus: 404, deadAt: now - 1_260),
            StatusSnapshot.DeadLetterRow(
                id: 90_301, reason: "MAPPING_ERROR", message: "The root value is missing the required field 'user_id'.",
                mappingID: "vip-traits", attempts: 0, lastAdobeStatus: nil, deadAt: now - 2_940),
            StatusSnapshot.DeadLetterRow(
                id: 89_977, reason: "EXPIRED", message: "Gave up after 4 h: Adobe Target answered 503 Service Unavailable 61 times",
                mappingID: "order-completed", attempts: 61, lastAdobeStatus: 503, deadAt: now - 9_800),
        ],
        deadLettersHeld: 37,
        mappings: [
            StatusSnapshot.MappingRow(id: "update-profile", name: "Update Profile", isEnabled: true, subscription: #"type = "identify""#),
            StatusSnapshot.MappingRow(
                id: "vip-traits", name: "VIP customers → loyalty attributes", isEnabled: true,
                subscription: #"type = "identify" and traits.vip = true and contains(traits.email, "@acme")"#),
            StatusSnapshot.MappingRow(
                id: "order-completed", name: "Orders & lifetime value", isEnabled: true,
                subscription: #"event = "Order Completed" and properties.total > 0"#),
            StatusSnapshot.MappingRow(id: "legacy-page", name: "Legacy page views", isEnabled: false, subscription: #"type = "page""#),
        ])
}

private func emptySnapshot() -> StatusSnapshot {
    StatusSnapshot(
        generatedAt: referenceTime,
        queue: StatusSnapshot.Queue(
            depth: 0, inFlight: 0, oldestPendingAge: nil, deliveredTotal: 0, deadLetteredTotal: 0, acceptedEvents: 0,
            rejectedEvents: 0, duplicateEvents: 0),
        delivery: StatusSnapshot.Delivery(
            deliveredJobs: 0, adobeCalls: 0,
            rateLimit: StatusSnapshot.RateLimit(limit: 1_000, windowSeconds: 86_400, usedInWindow: 0, headroom: 1_000, isWaiting: false)),
        activity: [], deadLetters: [], deadLettersHeld: 0, mappings: [])
}

private func html(_ snapshot: StatusSnapshot) -> String {
    String(decoding: StatusPage.render(snapshot), as: UTF8.self)
}

private func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

@Suite struct StatusPageTests {
    @Test func userAndAdobeTextIsEscapedEverywhere() {
        var snapshot = realisticSnapshot()
        snapshot.mappings[0].name = "<script>alert(1)</script>"
        snapshot.mappings[0].id = "id\"><b>"
        snapshot.deadLetters[0].message = #"Adobe said "<img src=x onerror=alert(2)>" & 'more'"#
        snapshot.deadLetters[0].reason = "<i>CODE</i>"
        snapshot.deadLetters[0].mappingID = "<u>m</u>"
        snapshot.delivery?.pauseReason = "token <b>refused</b>"
        snapshot.adobeClientCode = "<acme>"
        let page = html(snapshot)

        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!page.contains("<script"))
        #expect(!page.contains("<img"))
        #expect(!page.contains("<b>refused"))
        #expect(!page.contains("<i>CODE"))
        #expect(!page.contains("<u>m"))
        #expect(!page.contains("<acme>"))
        #expect(!page.contains("id\"><b>"))
        // Inside the message cell and its tooltip attribute alike.
        let escapedMessage = "Adobe said &quot;&lt;img src=x onerror=alert(2)&gt;&quot; &amp; &#39;more&#39;"
        #expect(occurrences(of: escapedMessage, in: page) == 2)
        #expect(page.contains("token &lt;b&gt;refused&lt;/b&gt;"))
        #expect(page.contains(#"type = &quot;identify&quot;"#))
    }

    @Test func escapingCoversMarkupQuotesAndControlCharacters() {
        #expect(HTMLEscaping.escape(#"a<b>&"c'"#) == "a&lt;b&gt;&amp;&quot;c&#39;")
        #expect(HTMLEscaping.escape("x\u{0}y\u{1B}z\tw\n") == "x\u{FFFD}y\u{FFFD}z\tw\n")
        #expect(HTMLEscaping.escape("Café → ü 🚀") == "Café → ü 🚀")
    }

    @Test func pausedBannerIsShownOnlyWhilePaused() {
        let paused = html(realisticSnapshot(paused: true))
        #expect(paused.contains(#"<div class="banner bad" role="alert"><strong>Delivery paused since 13:40 UTC (23 min ago).</strong>"#))
        #expect(paused.contains("the bearer token was refused"))
        #expect(paused.contains("PUT /admin/settings/adobe-target"))
        #expect(paused.contains("<title>Delivery paused · adobe-target-destination</title>"))

        let running = html(realisticSnapshot(paused: false))
        #expect(!running.contains("Delivery paused"))
        #expect(!running.contains("class=\"banner"))
        #expect(running.contains(#"<span class="pill ok">Delivering</span>"#))
    }

    @Test func chartHasOneBarPerMinuteOfTheHour() {
        for snapshot in [realisticSnapshot(), realisticSnapshot(withActivity: false), emptySnapshot()] {
            #expect(occurrences(of: #"<g class="bar">"#, in: html(snapshot)) == 60)
        }
        // Buckets outside the hour are ignored, missing ones drawn empty.
        var skewed = emptySnapshot()
        skewed.activity = [
            ActivityBucket(start: referenceTime - 7_200, delivered: 999),
            ActivityBucket(start: referenceTime, delivered: 5),
        ]
        let page = html(skewed)
        #expect(occurrences(of: #"<g class="bar">"#, in: page) == 60)
        #expect(occurrences(of: #"<rect class="delivered""#, in: page) == 1)
        #expect(!page.contains("999 delivered"))
    }

    @Test func barsAreDrawnToScale() {
        var snapshot = emptySnapshot()
        let start = ActivityHistory.start(ofMinute: ActivityHistory.minuteIndex(of: referenceTime))
        snapshot.activity = [
            ActivityBucket(start: start - 60, delivered: 40),
            ActivityBucket(start: start, delivered: 20, deadLettered: 20),
        ]
        let page = html(snapshot)
        // Peak 40 → axis 0…40 in steps of 10; the plot is 196 high from y=10 to y=206.
        #expect(page.contains(">40</text>"))
        let fullBar = #"<rect class="delivered" x="1118.1" y="10" width="12.5" height="196""#
        #expect(page.contains(fullBar))
        #expect(page.contains(#"<rect class="delivered" x="1136.5" y="108" width="12.5" height="98""#))
        #expect(page.contains(#"<rect class="dead" x="1136.5" y="10" width="12.5" height="98""#))
        #expect(page.contains("<title>14:03 UTC: 20 delivered, 0 retried, 20 dead-lettered, 0 accepted</title>"))
    }

    @Test func emptyStatesExplainThemselves() {
        let page = html(emptySnapshot())
        #expect(page.contains("No dead letters"))
        #expect(page.contains("No mappings: events are stored but nothing is sent to Adobe Target"))
        #expect(page.contains("No deliveries, failures or accepted events in the last hour"))
        #expect(page.contains("No queue samples in the last hour"))
        #expect(!page.contains("<table"))
        #expect(!page.contains("<polyline"))
        #expect(!page.contains("/admin/dead-letters/replay"))

        let full = html(realisticSnapshot())
        #expect(!full.contains("No dead letters"))
        #expect(!full.contains("No mappings"))
        #expect(!full.contains("No queue samples"))
    }

    @Test func pageLoadsNothingFromElsewhere() {
        for snapshot in [realisticSnapshot(), realisticSnapshot(paused: true, sandbox: true), emptySnapshot()] {
            let page = html(snapshot).lowercased()
            for forbidden in ["src=", "href=", "url(", "@import", "http://", "https://", "<script", "<link", "<iframe", "<img"] {
                #expect(!page.contains(forbidden), "found \(forbidden)")
            }
        }
        let response = StatusPage.response(realisticSnapshot())
        #expect(response.headers["Content-Type"] == "text/html; charset=utf-8")
        #expect(response.headers["Content-Security-Policy"]?.hasPrefix("default-src 'none'") == true)
        #expect(response.headers["Cache-Control"] == "no-store")
    }

    @Test func outputIsDeterministicForAFixedSnapshot() {
        let snapshot = realisticSnapshot(paused: true)
        #expect(StatusPage.render(snapshot) == StatusPage.render(snapshot))
        let page = html(snapshot)
        #expect(page.contains("as of 2025-05-01 14:03:12 UTC"))
        #expect(page.contains("up 3 h 25 min"))
        #expect(page.contains(#"<meta http-equiv="refresh" content="10">"#))
        // Changing the snapshot changes the page.
        var other = snapshot
        other.queue?.depth += 1
        #expect(StatusPage.render(other) != StatusPage.render(snapshot))
    }

    @Test func headlineFiguresAreShown() {
        let page = html(realisticSnapshot())
        #expect(page.contains(#"<div class="label">Queue depth</div><div class="value">23</div><div class="note">6 in flight</div>"#))
        #expect(page.contains(#"<div class="value">1,284,330</div>"#))
        #expect(page.contains(#"<div class="label">Calls per delivered job</div><div class="value">1.28</div>"#))
        #expect(page.contains("lookup cache hits 73%"))
        #expect(page.contains(#"<div class="value">787,512</div><div class="note">of 1,000,000 per 24 h · 212,480 used</div>"#))
        #expect(page.contains("Adobe Target client <b>acmecorp</b>"))
        #expect(page.contains("newest 4 of 37"))
        #expect(page.contains(#"-d '{"ids":[90412,90388]}'"#))
        #expect(page.contains("4 · 3 enabled"))
        #expect(page.contains(#"<tr class="disabled">"#))
    }

    @Test func sandboxModeIsAnnounced() {
        let page = html(realisticSnapshot(sandbox: true))
        #expect(page.contains(#"<div class="banner info" role="note"><strong>Sandbox mode.</strong>"#))
        #expect(page.contains("sandbox (built-in simulator)"))
        #expect(!html(realisticSnapshot()).contains("Sandbox mode"))
    }

    @Test func missingDeliveryAndStoreAreSaidPlainly() {
        var snapshot = emptySnapshot()
        snapshot.delivery = nil
        snapshot.queue = nil
        snapshot.storeProblem = "the disk has less than 1% free"
        let page = html(snapshot)
        #expect(page.contains("<strong>The store cannot take events.</strong> the disk has less than 1% free."))
        #expect(page.contains("<strong>Delivery is not running.</strong>"))
        #expect(page.contains(#"<span class="pill bad">Store failing</span>"#))
        #expect(page.contains(#"<div class="label">Queue depth</div><div class="value">–</div>"#))
    }

    @Test func theSnapshotCarriesNoSecrets() {
        var labels: Set<String> = []
        func collect(_ value: Any) {
            for child in Mirror(reflecting: value).children {
                if let label = child.label { labels.insert(label.lowercased()) }
                collect(child.value)
            }
        }
        collect(realisticSnapshot(paused: true))
        #expect(labels.contains("pausereason"))  // the walk reached nested structs
        for word in ["token", "secret", "writekey", "password", "userid", "body", "payload", "messageid"] {
            #expect(!labels.contains { $0.contains(word) }, "a snapshot field mentions \(word)")
        }
    }

    @Test func snapshotIsBuiltFromTheServicesOwnTypes() throws {
        let stats = StoreStats(
            queueDepth: 5, inFlight: 1, oldestPendingAge: 12, deliveredTotal: 70, deadTotal: 3, deadLetters: 3,
            acceptedEvents: 80, rejectedEvents: 2, duplicateEvents: 0)
        func letter(_ id: Int64, deadAt: TimeInterval) -> DeadLetter {
            DeadLetter(
                id: id, eventSequence: 1, messageId: "m-\(id)", mappingID: "update-profile", userID: "secret-user-\(id)",
                reason: .adobeRejected, message: "Adobe Target answered 400", attempts: 2,
                lastAnswer: AdobeAnswer(status: 400, body: "private-body"), payload: ["traits": ["email": "a@b.c"]],
                event: Array("{}".utf8), createdAt: referenceTime - 1_000, deadAt: referenceTime - deadAt)
        }
        let document = try JSONValue(parsing: """
        {"adobeTarget": {"clientCode": "acmecorp"}, "mappings": [
          {"id": "m1", "name": "First", "subscription": "type = \\"identify\\"", "mapping": {"traits": {"@path": "$.traits"}}},
          {"id": "m2", "enabled": false, "subscription": "event = \\"X\\"", "mapping": {"traits": {"@path": "$.properties"}}}
        ]}
        """)
        let configuration = try ConfigurationLoader.load(document: document, environment: [:], overrides: ConfigurationOverrides()).get()

        let snapshot = StatusSnapshot(
            generatedAt: referenceTime, isSandbox: false, adobeClientCode: "acmecorp", store: stats, storeProblem: nil,
            delivery: nil, deadLetters: [letter(1, deadAt: 300), letter(2, deadAt: 60), letter(3, deadAt: 120)],
            mappings: configuration.mappings, activity: [])

        #expect(snapshot.queue == StatusSnapshot.Queue(
            depth: 5, inFlight: 1, oldestPendingAge: 12, deliveredTotal: 70, deadLetteredTotal: 3, acceptedEvents: 80,
            rejectedEvents: 2, duplicateEvents: 0))
        #expect(snapshot.deadLetters.map(\.id) == [2, 3, 1])
        #expect(snapshot.deadLetters[0] == StatusSnapshot.DeadLetterRow(
            id: 2, reason: "ADOBE_REJECTED", message: "Adobe Target answered 400", mappingID: "update-profile",
            attempts: 2, lastAdobeStatus: 400, deadAt: referenceTime - 60))
        #expect(snapshot.deadLettersHeld == 3)
        #expect(snapshot.mappings == [
            StatusSnapshot.MappingRow(id: "m1", name: "First", isEnabled: true, subscription: #"type = "identify""#),
            StatusSnapshot.MappingRow(id: "m2", name: "m2", isEnabled: false, subscription: #"event = "X""#),
        ])
        let page = html(snapshot)
        for privateText in ["secret-user", "private-body", "a@b.c", "m-1"] {
            #expect(!page.contains(privateText))
        }
    }

    @Test func formatsDependOnNoLocale() {
        #expect(Format.integer(0) == "0")
        #expect(Format.integer(999) == "999")
        #expect(Format.integer(1_000) == "1,000")
        #expect(Format.integer(-1_234_567) == "-1,234,567")
        #expect(Format.decimal(1.284) == "1.28")
        #expect(Format.decimal(2.005) == "2.01" || Format.decimal(2.005) == "2.00")
        #expect(Format.decimal(3) == "3.00")
        #expect(Format.duration(4.2) == "4 s")
        #expect(Format.duration(1_384) == "23 min 04 s")
        #expect(Format.duration(7_200) == "2 h")
        #expect(Format.duration(3 * 86_400 + 4 * 3_600 + 59) == "3 d 04 h")
        #expect(Format.window(86_400) == "24 h")
        #expect(Format.dateTime(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29 00:00:00 UTC")
        #expect(Format.dateTime(Date(timeIntervalSince1970: 946_684_799)) == "1999-12-31 23:59:59 UTC")
        #expect(Format.dateTime(Date(timeIntervalSince1970: -1)) == "1969-12-31 23:59:59 UTC")
        #expect(Format.truncated("abcdef", to: 4) == "abc…")
        #expect(ActivityChart.Scale(peak: 0).top == 4)
        #expect(ActivityChart.Scale(peak: 7).top == 8)
        #expect(ActivityChart.Scale(peak: 40).top == 40)
        #expect(ActivityChart.Scale(peak: 1_234).top == 2_000)
    }

    /// `scripts/status-screenshot.sh` sets STATUS_HTML_OUT to get a realistic page to look at.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STATUS_HTML_OUT"] != nil))
    func writesARealisticPageForTheScreenshot() throws {
        let path = ProcessInfo.processInfo.environment["STATUS_HTML_OUT"]!
        let snapshot: StatusSnapshot
        switch ProcessInfo.processInfo.environment["STATUS_HTML_VARIANT"] ?? "running" {
        case "running": snapshot = realisticSnapshot()
        case "paused": snapshot = realisticSnapshot(paused: true)
        case "sandbox": snapshot = realisticSnapshot(sandbox: true)
        case "empty": snapshot = emptySnapshot()
        case let other:
            Issue.record("unknown STATUS_HTML_VARIANT \(other); use running, paused, sandbox or empty")
            return
        }
        try Data(StatusPage.render(snapshot)).write(to: URL(fileURLWithPath: path))
    }
}
