import AdobeTarget
import EventStore
import Foundation
import JSONKit
import Logging
import Metrics

/// What the queue needs from the Adobe Target client; `AdobeTargetClient` is the real one.
public protocol ProfileUpdateSending: AnyObject, Sendable {
    /// Delivers one (coalesced) profile update. Never throws: every failure is an outcome.
    func deliver(userID: String, attributes: ProfileAttributes) async -> DeliveryResult
    /// Changes whenever the credentials are replaced, so that a pause on 401/403 can end.
    var credentialsGeneration: Int { get }
}

extension AdobeTargetClient: ProfileUpdateSending {
    public var credentialsGeneration: Int { tokenProvider.generation }
}

/// Counters and state of the delivery queue since it started.
public struct DeliveryStats: Sendable, Equatable {
    public var isRunning: Bool
    /// Jobs delivered by this process.
    public var deliveredJobs: Int
    /// Jobs dead-lettered by this process, by reason code (`EXPIRED`, `PROFILE_NOT_FOUND`, …).
    public var deadLetteredJobs: [String: Int]
    /// Jobs put back for a later attempt after a transient failure / a missing profile.
    public var transientRetries: Int
    public var profileNotFoundRetries: Int
    /// Updates sent (one per user's coalesced run of jobs).
    public var deliveries: Int
    /// Requests sent to Adobe (lookups and updates).
    public var adobeCalls: Int
    /// Adobe requests per delivered job, `nil` before the first delivery.
    public var adobeCallsPerDeliveredJob: Double? {
        deliveredJobs == 0 ? nil : Double(adobeCalls) / Double(deliveredJobs)
    }
    public var lookupCacheHits: Int
    public var lookupCacheMisses: Int
    public var lookupCacheHitRatio: Double? {
        let total = lookupCacheHits + lookupCacheMisses
        return total == 0 ? nil : Double(lookupCacheHits) / Double(total)
    }
    public var rateLimit: RateLimitState
    public var isPaused: Bool { pauseReason != nil }
    /// Why delivery is paused (Adobe refused the credentials), for `/ready`.
    public var pauseReason: String?
    public var pausedSince: Date?
    public var inFlightDeliveries: Int
    public var inFlightJobs: Int
    /// The last store failure the queue met, until a store call succeeds again.
    public var lastStoreError: String?
}

extension DeliveryStats {
    /// The statistics as the admin API shows them (no user IDs, no secrets).
    public var jsonValue: JSONValue {
        func number(_ value: Int) -> JSONValue { .number(Double(value)) }
        var dead = JSONObject()
        for reason in deadLetteredJobs.keys.sorted() { dead[reason] = number(deadLetteredJobs[reason]!) }
        return .object(JSONObject([
            ("running", .bool(isRunning)),
            ("paused", .bool(isPaused)),
            ("pauseReason", pauseReason.map(JSONValue.string) ?? .null),
            ("deliveredJobs", number(deliveredJobs)),
            ("deadLetteredJobs", .object(dead)),
            ("transientRetries", number(transientRetries)),
            ("profileNotFoundRetries", number(profileNotFoundRetries)),
            ("deliveries", number(deliveries)),
            ("adobeCalls", number(adobeCalls)),
            ("adobeCallsPerDeliveredJob", adobeCallsPerDeliveredJob.map(JSONValue.number) ?? .null),
            ("lookupCacheHitRatio", lookupCacheHitRatio.map(JSONValue.number) ?? .null),
            ("inFlightDeliveries", number(inFlightDeliveries)),
            ("inFlightJobs", number(inFlightJobs)),
            ("rateLimit", .object(JSONObject([
                ("limit", number(rateLimit.limit)),
                ("windowSeconds", .number(rateLimit.windowSeconds)),
                ("usedInWindow", number(rateLimit.usedInWindow)),
                ("headroom", number(rateLimit.headroom)),
                ("waiting", .bool(rateLimit.isWaiting)),
            ]))),
            ("lastStoreError", lastStoreError.map(JSONValue.string) ?? .null),
        ]))
    }
}

/// One user's leased run of jobs as the queue holds it (possibly a tail of the leased group).
struct LeasedRun: Sendable {
    var userID: String
    var jobs: [LeasedJob]
    var leaseExpiresAt: Date

    init(userID: String, jobs: [LeasedJob], leaseExpiresAt: Date) {
        self.userID = userID
        self.jobs = jobs
        self.leaseExpiresAt = leaseExpiresAt
    }

    init(_ group: LeasedJobGroup) {
        self.init(userID: group.userID, jobs: group.jobs, leaseExpiresAt: group.leaseExpiresAt)
    }
}

/// Delivers stored jobs to Adobe Target: leases due jobs from the store, coalesces each user's
/// run into one update, sends it with at most `concurrency` deliveries in flight, and records
/// each outcome atomically (issue #5, interface §7 and §8).
///
/// One instance runs once: `start()`, then `stop(gracePeriodSeconds:)`. Every method is safe
/// from any thread. Wiring in the app:
///
///     let queue = try DeliveryQueue(
///         configuration: DeliveryConfiguration(concurrency: …, maxBackoffSeconds: …, maxAgeSeconds: …,
///                                              profileNotFoundRetrySeconds: …, rateLimitPerDay: …,
///                                              adobeRequestTimeoutSeconds: …),
///         store: store, sender: adobeTargetClient, logger: logger)
///     try queue.start()            // once the store is open
///     queue.notifyJobsAdded()      // after an append with jobs (otherwise it polls)
///     queue.pauseReason            // non-nil: /ready answers 503 with it
///     queue.stopAndWait()          // before store.close()
public final class DeliveryQueue: @unchecked Sendable {
    public let configuration: DeliveryConfiguration

    private let store: any EventStore
    private let sender: any ProfileUpdateSending
    private let clock: DeliveryClock
    private let logger: Logger
    private let policy: OutcomePolicy
    private let rateLimiter: RateLimiter
    private let metrics: DeliveryMetrics
    /// Store calls block (SQLite, fsync); they run here, never on the cooperative pool.
    private let storeQueue = DispatchQueue(label: "DeliveryQueue.store", attributes: .concurrent)
    private let wakeStream: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation

    private struct Pause {
        var reason: String
        var since: Date
        /// The credentials generation that Adobe refused; any other one ends the pause.
        var generation: Int
        var nextProbeAt: Date
    }

    private enum Lifecycle { case idle, running, stopping, stopped }

    /// Guarded by `lock`.
    private struct State {
        var lifecycle = Lifecycle.idle
        var dispatcher: Task<Void, Never>?
        var maintenance: Task<Void, Never>?
        var pause: Pause?
        var probeRequested = false
        /// Runs refused with 401/403 or leased but not started when delivery paused. They keep
        /// their lease (no attempt is spent) and go first when delivery resumes, if the lease
        /// still has time; otherwise the store hands them out again when it expires.
        var parked: [LeasedRun] = []
        var deliveredJobs = 0
        var deadLetteredJobs: [String: Int] = [:]
        var transientRetries = 0
        var profileNotFoundRetries = 0
        var deliveries = 0
        var adobeCalls = 0
        var lookupCacheHits = 0
        var lookupCacheMisses = 0
        var inFlightDeliveries = 0
        var inFlightJobs = 0
        var lastStoreError: String?
        /// When the notified jobs not yet covered by a lease become due, ascending, in buckets
        /// of at most `newJobsPollSeconds`: the dispatcher leases once per bucket, at its end.
        var newJobsDue: [DueBucket] = []
    }

    private let lock = NSLock()
    private var state = State()

    /// Notified jobs due from `start` to `end`; a lease at `end` covers them all.
    private struct DueBucket {
        var start: Date
        var end: Date
    }

    public init(
        configuration: DeliveryConfiguration, store: any EventStore, sender: any ProfileUpdateSending,
        clock: DeliveryClock = .system, logger: Logger = Logger(label: "delivery"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(DeliveryConfigurationError) {
        let problems = configuration.problems()
        guard problems.isEmpty else { throw DeliveryConfigurationError(problems: problems) }
        self.configuration = configuration
        self.store = store
        self.sender = sender
        self.clock = clock
        self.logger = logger
        policy = OutcomePolicy(configuration: configuration)
        metrics = DeliveryMetrics(factory: metricsFactory)
        rateLimiter = RateLimiter(
            limit: configuration.rateLimitPerDay, windowSeconds: configuration.rateLimitWindowSeconds, store: store)
        (wakeStream, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: Control

    /// Starts the workers. The rate-limit window is read from the store first, so that a
    /// restart continues the previous process's count.
    public func start() throws(StoreError) {
        try rateLimiter.refresh(now: clock.now())
        lock.withLock {
            guard state.lifecycle == .idle else { return }
            state.lifecycle = .running
            state.dispatcher = Task.detached { [self] in await runDispatcher() }
            state.maintenance = Task.detached { [self] in await runMaintenance() }
        }
        logger.info("delivery started", metadata: [
            "concurrency": "\(configuration.concurrency)", "rateLimitPerDay": "\(configuration.rateLimitPerDay)",
            "rateLimitUsed": "\(rateLimiter.state.usedInWindow)",
        ])
    }

    /// Stops leasing, lets deliveries in flight finish and record their outcomes (cancelling
    /// them after `gracePeriodSeconds`; cancelled ones are retried later), and writes the Adobe
    /// call count. Jobs leased but not started keep their lease until it expires, and the store
    /// hands them out again at its next open.
    public func stop(gracePeriodSeconds: Double = 10) async {
        let tasks: (Task<Void, Never>, Task<Void, Never>)? = lock.withLock {
            // A second caller during a stop waits for the same tasks.
            guard state.lifecycle == .running || state.lifecycle == .stopping,
                  let dispatcher = state.dispatcher, let maintenance = state.maintenance
            else {
                state.lifecycle = .stopped
                return nil
            }
            state.lifecycle = .stopping
            return (dispatcher, maintenance)
        }
        guard let (dispatcher, maintenance) = tasks else { return }
        wakeContinuation.yield()
        let watchdog = Task.detached {
            try? await Task.sleep(nanoseconds: Self.nanoseconds(gracePeriodSeconds))
            if !Task.isCancelled { dispatcher.cancel() }
        }
        await dispatcher.value
        watchdog.cancel()
        maintenance.cancel()
        await maintenance.value
        do {
            let now = clock.now()
            try await onStore { [rateLimiter] () throws(StoreError) in try rateLimiter.refresh(now: now) }
        } catch {
            logger.error("could not write the Adobe call count at stop; the rate limit undercounts the last seconds",
                         metadata: ["error": "\(error)"])
        }
        lock.withLock {
            state.lifecycle = .stopped
            state.dispatcher = nil
            state.maintenance = nil
        }
        logger.info("delivery stopped")
    }

    /// `stop` for synchronous callers (a signal handler's thread). Blocks the calling thread:
    /// never call it from async code.
    public func stopAndWait(gracePeriodSeconds: Double = 10) {
        let done = DispatchSemaphore(value: 0)
        Task.detached { [self] in
            await stop(gracePeriodSeconds: gracePeriodSeconds)
            done.signal()
        }
        done.wait()
    }

    /// Makes every pending retry due now (after an outage is fixed) and, while paused, tries
    /// one delivery at once. Returns how many jobs moved.
    @discardableResult
    public func retryNow() throws(StoreError) -> Int {
        let moved = try store.makeAllPendingDueNow()
        lock.withLock { if state.pause != nil { state.probeRequested = true } }
        wakeContinuation.yield()
        logger.info("pending retries made due now", metadata: ["jobs": "\(moved)"])
        return moved
    }

    /// Tells the queue that new jobs were stored and become due in `dueInSeconds` (the
    /// store's first-attempt delay), so that it leases them then instead of at its next poll.
    /// Cheap enough to call once per ingest request: a stream of requests costs one lease per
    /// `newJobsPollSeconds` at most, and only a notification that moves the next lease
    /// earlier wakes the dispatcher.
    public func notifyJobsAdded(dueInSeconds: Double = 0) {
        let dueAt = clock.now().addingTimeInterval(max(0, dueInSeconds))
        let width = configuration.newJobsPollSeconds
        let wake = lock.withLock { () -> Bool in
            // With a constant delay due times only grow: the new one usually joins the last bucket.
            let position = state.newJobsDue.lastIndex { $0.start <= dueAt } ?? -1
            if position >= 0, dueAt.timeIntervalSince(state.newJobsDue[position].start) <= width {
                state.newJobsDue[position].end = max(state.newJobsDue[position].end, dueAt)
                return false
            }
            state.newJobsDue.insert(DueBucket(start: dueAt, end: dueAt), at: position + 1)
            return position == -1
        }
        if wake { wakeContinuation.yield() }
    }

    /// A lease runs at `now`: it covers the buckets that end by then.
    private func noteLease(at now: Date) {
        lock.withLock {
            let covered = state.newJobsDue.prefix { $0.end <= now }.count
            if covered > 0 { state.newJobsDue.removeFirst(covered) }
        }
    }

    /// How long the dispatcher may sleep with nothing due: until the next bucket's jobs are due.
    private func idleSleepSeconds() -> Double {
        let next = lock.withLock { state.newJobsDue.first?.end }
        guard let next else { return configuration.idlePollSeconds }
        return min(configuration.idlePollSeconds, max(0, next.timeIntervalSince(clock.now())))
    }

    public var stats: DeliveryStats {
        let rate = rateLimiter.state
        return lock.withLock {
            DeliveryStats(
                isRunning: state.lifecycle == .running, deliveredJobs: state.deliveredJobs,
                deadLetteredJobs: state.deadLetteredJobs, transientRetries: state.transientRetries,
                profileNotFoundRetries: state.profileNotFoundRetries, deliveries: state.deliveries,
                adobeCalls: state.adobeCalls, lookupCacheHits: state.lookupCacheHits,
                lookupCacheMisses: state.lookupCacheMisses, rateLimit: rate, pauseReason: state.pause?.reason,
                pausedSince: state.pause?.since, inFlightDeliveries: state.inFlightDeliveries,
                inFlightJobs: state.inFlightJobs, lastStoreError: state.lastStoreError)
        }
    }

    /// Why delivery is paused, for `/ready`; `nil` while delivering.
    public var pauseReason: String? {
        lock.withLock { state.pause?.reason }
    }

    // MARK: Dispatcher

    private var isStopping: Bool {
        lock.withLock { state.lifecycle != .running }
    }

    private var inFlightDeliveries: Int {
        lock.withLock { state.inFlightDeliveries }
    }

    /// The one loop that leases: it hands each user's run to a child task, at most
    /// `concurrency` at a time. A user's run is leased only when no earlier job of the user is
    /// unfinished, so one user's updates are never in flight twice.
    private func runDispatcher() async {
        var wakeups = wakeStream.makeAsyncIterator()
        var buffer: [LeasedRun] = []
        var next = 0
        await withDiscardingTaskGroup { group in
            while !isStopping && !Task.isCancelled {
                if inFlightDeliveries >= configuration.concurrency {
                    await sleep(&wakeups, seconds: configuration.idlePollSeconds)
                    continue
                }
                let now = clock.now()

                if let probe = pauseAction(now: now) {
                    park(Array(buffer[next...]))
                    buffer.removeAll()
                    next = 0
                    if probe, let run = await probeRun() {
                        logger.info("delivery paused: trying one delivery in case the refusal was transient")
                        startDelivery(run, reservedCalls: 0, in: &group)
                    }
                    await sleep(&wakeups, seconds: configuration.idlePollSeconds)
                    continue
                }
                let unparked = unpark()
                if !unparked.isEmpty {
                    buffer = unparked + buffer[next...]
                    next = 0
                }

                if next == buffer.count {
                    buffer.removeAll()
                    next = 0
                    guard rateLimiter.state.headroom >= configuration.callsPerDelivery else {
                        await waitForRateLimit(&wakeups)
                        continue
                    }
                    buffer = await lease(limit: configuration.leaseBatchSize)
                    if buffer.isEmpty {
                        await sleep(&wakeups, seconds: idleSleepSeconds())
                        continue
                    }
                }

                let leased = buffer[next]
                // The current time, not the loop's `now`: the lease call, or a wait for a free
                // delivery slot, may have taken a while since.
                guard leased.leaseExpiresAt.timeIntervalSince(clock.now()) >= configuration.minimumLeaseRemainingSeconds else {
                    // Too little lease left for the requests to time out: another worker could
                    // take these jobs mid-delivery. Let the lease expire instead.
                    next += 1
                    logger.debug("skipping a run whose lease is nearly over", metadata: ["jobs": "\(leased.jobs.count)"])
                    continue
                }
                guard rateLimiter.reserve(configuration.callsPerDelivery) else {
                    await waitForRateLimit(&wakeups)
                    continue
                }
                next += 1
                startDelivery(leased, reservedCalls: configuration.callsPerDelivery, in: &group)
            }
        }
    }

    private func startDelivery(_ leased: LeasedRun, reservedCalls: Int, in group: inout DiscardingTaskGroup) {
        lock.withLock {
            state.inFlightDeliveries += 1
            state.inFlightJobs += leased.jobs.count
        }
        metrics.inFlight.record(inFlightDeliveries)
        group.addTask { [self] in
            await process(leased, reservedCalls: reservedCalls)
            lock.withLock {
                state.inFlightDeliveries -= 1
                state.inFlightJobs -= leased.jobs.count
            }
            metrics.inFlight.record(inFlightDeliveries)
            wakeContinuation.yield()
        }
    }

    private func park(_ runs: [LeasedRun]) {
        guard !runs.isEmpty else { return }
        lock.withLock { state.parked.append(contentsOf: runs) }
    }

    private func unpark() -> [LeasedRun] {
        lock.withLock {
            let runs = state.parked
            state.parked.removeAll()
            return runs
        }
    }

    /// The run to try while paused: a parked one whose lease still has time, else a new lease.
    private func probeRun() async -> LeasedRun? {
        let now = clock.now()
        let parked: LeasedRun? = lock.withLock {
            state.parked.removeAll { $0.leaseExpiresAt.timeIntervalSince(now) < configuration.minimumLeaseRemainingSeconds }
            return state.parked.isEmpty ? nil : state.parked.removeFirst()
        }
        if let parked { return parked }
        return await lease(limit: 1).first
    }

    /// `nil` when delivering; while paused, whether to probe now. Ends the pause when the
    /// credentials were replaced.
    private func pauseAction(now: Date) -> Bool? {
        let generation = sender.credentialsGeneration
        let (action, resumed): (Bool?, Bool) = lock.withLock {
            guard var pause = state.pause else { return (nil, false) }
            if generation != pause.generation {
                state.pause = nil
                state.probeRequested = false
                return (nil, true)
            }
            let probe = (state.probeRequested || now >= pause.nextProbeAt) && state.inFlightDeliveries == 0
            if probe {
                state.probeRequested = false
                pause.nextProbeAt = now.addingTimeInterval(configuration.authorizationProbeIntervalSeconds)
                state.pause = pause
            }
            return (probe, false)
        }
        if resumed {
            metrics.paused.record(0)
            logger.notice("the Adobe Target credentials were replaced: delivery resumes")
        }
        return action
    }

    private func waitForRateLimit(_ wakeups: inout AsyncStream<Void>.Iterator) async {
        let before = rateLimiter.state
        if !before.isWaiting || before.headroom < configuration.callsPerDelivery {
            logger.debug("rate limit reached: deliveries wait for the window to free room", metadata: [
                "limit": "\(before.limit)", "usedInWindow": "\(before.usedInWindow)",
            ])
        }
        rateLimiter.markWaiting()
        metrics.rateLimitWaiting.record(1)
        await sleep(&wakeups, seconds: configuration.rateLimitWaitSeconds)
        await refreshRateLimit()
        if rateLimiter.state.headroom >= configuration.callsPerDelivery { metrics.rateLimitWaiting.record(0) }
    }

    /// Leases due jobs. The lease starts when the store call runs, not when it was queued:
    /// behind other store calls it may wait long enough to use up much of a short lease.
    private func lease(limit: Int) async -> [LeasedRun] {
        do {
            let leaseSeconds = configuration.leaseSeconds
            let groups = try await onStore { [self] () throws(StoreError) in
                let now = clock.now()
                noteLease(at: now)
                return try store.leaseDueJobs(now: now, limit: limit, leaseSeconds: leaseSeconds)
            }
            storeSucceeded()
            return groups.map(LeasedRun.init)
        } catch {
            storeFailed(error, while: "leasing due jobs")
            try? await Task.sleep(nanoseconds: Self.nanoseconds(configuration.storeErrorRetrySeconds))
            return []
        }
    }

    /// Sleeps until woken (new jobs, a finished delivery, `retryNow`, `stop`) or `seconds` pass.
    private func sleep(_ wakeups: inout AsyncStream<Void>.Iterator, seconds: Double) async {
        let wake = wakeContinuation
        let timer = Task.detached {
            // A timer cancelled because something else woke the dispatcher must not wake it
            // too: that wake-up would end the next sleep at once, whose cancelled timer would
            // end the one after, and the dispatcher would poll the store without pause.
            do { try await Task.sleep(nanoseconds: Self.nanoseconds(seconds)) } catch { return }
            wake.yield()
        }
        _ = await wakeups.next(isolation: nil)
        timer.cancel()
    }

    // MARK: Delivering one user's run

    private func process(_ leased: LeasedRun, reservedCalls: Int) async {
        var reservation = reservedCalls
        defer { if reservation > 0 { rateLimiter.settle(reserved: reservation, used: 0) } }

        // A payload that is not an object cannot become profile attributes; it says the
        // mapping is wrong, so such a job is set aside and the others go ahead.
        var deliverable: [LeasedJob] = []
        var malformed: [LeasedJob] = []
        for job in leased.jobs {
            if job.payload.objectValue != nil { deliverable.append(job) } else { malformed.append(job) }
        }
        if !malformed.isEmpty {
            let message = "the mapped traits are not a JSON object, so they cannot become Adobe profile attributes; "
                + "fix the mapping's traits field, then replay the dead letter"
            await record([RecordedOutcome(jobIDs: malformed.map(\.id), outcome: .deadLetter(
                reason: .mappingError, message: message, status: nil, body: nil))], jobs: malformed, userID: leased.userID)
        }
        guard !deliverable.isEmpty else { return }

        switch await attempt(deliverable, userID: leased.userID, reservation: &reservation) {
        case .record(let outcomes):
            await record(outcomes, jobs: deliverable, userID: leased.userID)
        case .pause(let reason):
            logFailure("delivery paused", reason: reason, jobs: deliverable, userID: leased.userID)
            park([LeasedRun(userID: leased.userID, jobs: deliverable, leaseExpiresAt: leased.leaseExpiresAt)])
        case .deliverIndividually:
            logger.info("a coalesced update could not be built; delivering its jobs one by one",
                        metadata: ["jobs": "\(deliverable.count)"])
            for (index, job) in deliverable.enumerated() {
                var single = 0
                let remaining = Array(deliverable[index...])
                guard case .record(let outcomes) = await attempt([job], userID: leased.userID, reservation: &single,
                                                                  remainingJobs: remaining)
                else {
                    logFailure("delivery paused", reason: pauseReason ?? "", jobs: remaining, userID: leased.userID)
                    park([LeasedRun(userID: leased.userID, jobs: remaining, leaseExpiresAt: leased.leaseExpiresAt)])
                    return
                }
                await record(outcomes, jobs: remaining, userID: leased.userID)
                // An outcome covering later jobs (a retry) keeps their order: stop here.
                if outcomes.contains(where: { $0.jobIDs != [job.id] }) { return }
            }
        }
    }

    /// Sends one update for `jobs` (coalesced, later values winning) and decides what follows.
    /// A 401/403 pauses delivery, unless the credentials changed during the call: then the
    /// update is sent again at once with the new ones.
    ///
    /// - Parameter remainingJobs: the jobs a retry-or-pause decision covers (by default `jobs`).
    private func attempt(
        _ jobs: [LeasedJob], userID: String, reservation: inout Int, remainingJobs: [LeasedJob]? = nil
    ) async -> DeliveryDecision {
        let attributes = ProfileAttributes(coalescing: jobs.compactMap { $0.payload.objectValue })
        var tries = 0
        while true {
            tries += 1
            let generation = sender.credentialsGeneration
            let started = ContinuousClock.now
            let result = await sender.deliver(userID: userID, attributes: attributes)
            let elapsed = ContinuousClock.now - started
            account(result, elapsed: elapsed, reservation: &reservation)

            let now = clock.now()
            // An outcome that ends this job alone covers `jobs`; a retry keeps every later job
            // waiting behind it, so it covers `remainingJobs`.
            let covered = Self.endsJob(result.outcome) ? jobs : (remainingJobs ?? jobs)
            let decision = policy.decide(result.outcome, jobs: covered.map(JobTiming.init), now: now, unitRandom: Double.random(in: 0..<1))
            guard case .pause(let reason) = decision else {
                if Self.provesCredentials(result.outcome) { resume(refusedGeneration: generation) }
                return decision
            }
            if sender.credentialsGeneration != generation && tries < 2 { continue }
            pause(reason: reason, generation: generation, now: now)
            return decision
        }
    }

    private static func endsJob(_ outcome: DeliveryOutcome) -> Bool {
        switch outcome {
        case .delivered, .rejected, .invalidRequest: return true
        case .profileNotFound, .retryable, .unauthorized: return false
        }
    }

    /// Answers that Adobe gives only to accepted credentials.
    private static func provesCredentials(_ outcome: DeliveryOutcome) -> Bool {
        switch outcome {
        case .delivered, .profileNotFound, .rejected: return true
        case .retryable, .unauthorized, .invalidRequest: return false
        }
    }

    /// Ends a pause when a delivery with the refused credentials went through after all.
    private func resume(refusedGeneration generation: Int) {
        let resumed: Bool = lock.withLock {
            guard let pause = state.pause, pause.generation == generation else { return false }
            state.pause = nil
            state.probeRequested = false
            return true
        }
        if resumed {
            metrics.paused.record(0)
            logger.notice("Adobe Target accepted the credentials again: delivery resumes")
            wakeContinuation.yield()
        }
    }

    private func account(_ result: DeliveryResult, elapsed: Duration, reservation: inout Int) {
        rateLimiter.settle(reserved: reservation, used: result.adobeCalls)
        reservation = 0
        lock.withLock {
            state.deliveries += 1
            state.adobeCalls += result.adobeCalls
            if result.lookupCached {
                state.lookupCacheHits += 1
            } else if result.adobeCalls > 0 {
                state.lookupCacheMisses += 1
            }
        }
        metrics.adobeCalls.increment(by: result.adobeCalls)
        if result.adobeCalls > 0 {
            let (seconds, attoseconds) = elapsed.components
            metrics.deliveryLatency.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        if let ratio = stats.lookupCacheHitRatio { metrics.lookupCacheHitRatio.record(ratio) }
    }

    private func pause(reason: String, generation: Int, now: Date) {
        let started: Bool = lock.withLock {
            if state.pause != nil { return false }
            state.pause = Pause(
                reason: reason, since: now, generation: generation,
                nextProbeAt: now.addingTimeInterval(configuration.authorizationProbeIntervalSeconds))
            return true
        }
        if started {
            metrics.paused.record(1)
            logger.error("delivery paused: \(reason)")
        }
    }

    /// Records outcomes in order; a failure leaves the jobs leased, so they are delivered again
    /// once the lease expires (at least once, never lost).
    private func record(_ outcomes: [RecordedOutcome], jobs: [LeasedJob], userID: String) async {
        for outcome in outcomes {
            do {
                try await onStore { [store] () throws(StoreError) in try store.recordOutcome(outcome.jobIDs, outcome.outcome) }
                storeSucceeded()
            } catch {
                storeFailed(error, while: "recording the outcome of \(outcome.jobIDs.count) job(s)")
                return
            }
            count(outcome)
            let affected = jobs.filter { outcome.jobIDs.contains($0.id) }
            switch outcome.outcome {
            case .delivered:
                break
            case .retry(let nextAttemptAt, let status, let body, let profileNotFound):
                let what = profileNotFound ? "profile not found in Adobe Target yet" : "transient failure"
                logFailure("delivery failed, will retry", reason: "\(what): \(Self.describe(status, body))",
                           jobs: affected, userID: userID, extra: ["nextAttemptAt": "\(nextAttemptAt)"])
            case .deadLetter(let reason, let message, _, _):
                logFailure("delivery dead-lettered", reason: message, jobs: affected, userID: userID,
                           extra: ["reason": "\(reason.rawValue)"])
            }
        }
    }

    private func count(_ outcome: RecordedOutcome) {
        let jobs = outcome.jobIDs.count
        lock.withLock {
            switch outcome.outcome {
            case .delivered: state.deliveredJobs += jobs
            case .retry(_, _, _, let profileNotFound):
                if profileNotFound { state.profileNotFoundRetries += jobs } else { state.transientRetries += jobs }
            case .deadLetter(let reason, _, _, _): state.deadLetteredJobs[reason.rawValue, default: 0] += jobs
            }
        }
        metrics.countJobs(jobs, outcomeClass: outcome.outcomeClass)
    }

    /// One warning line per failed delivery, naming its jobs; user IDs and tokens stay out.
    private func logFailure(
        _ message: Logger.Message, reason: String, jobs: [LeasedJob], userID: String, extra: Logger.Metadata = [:]
    ) {
        var metadata = extra
        metadata["messageIds"] = "\(jobs.map { $0.messageId ?? "-" }.joined(separator: ","))"
        metadata["mappingIds"] = "\(Array(Set(jobs.map(\.mappingID))).sorted().joined(separator: ","))"
        metadata["jobIds"] = "\(jobs.map { String($0.id) }.joined(separator: ","))"
        metadata["attempts"] = "\(jobs.map(\.attempts).max().map { $0 + 1 } ?? 0)"
        metadata["error"] = "\(reason)"
        logger.warning(message, metadata: metadata)
    }

    private static func describe(_ status: Int?, _ body: String?) -> String {
        switch (status, body) {
        case (let status?, let body?) where !body.isEmpty: return "HTTP \(status): \(body.prefix(300))"
        case (let status?, _): return "HTTP \(status)"
        case (nil, let body?): return String(body.prefix(300))
        case (nil, nil): return "no answer"
        }
    }

    // MARK: Maintenance

    /// Writes the Adobe call count and refreshes the gauges, until the queue stops.
    private func runMaintenance() async {
        var lastGauges = Date.distantPast
        while !Task.isCancelled {
            await refreshRateLimit()
            let now = Date()
            if now.timeIntervalSince(lastGauges) >= configuration.gaugeRefreshSeconds {
                lastGauges = now
                do {
                    let stats = try await onStore { [store] () throws(StoreError) in try store.stats() }
                    metrics.queueDepth.record(stats.queueDepth)
                    metrics.oldestPendingAge.record(stats.oldestPendingAge ?? 0)
                } catch {
                    storeFailed(error, while: "reading queue statistics")
                }
            }
            try? await Task.sleep(nanoseconds: Self.nanoseconds(
                min(configuration.rateLimitRefreshSeconds, configuration.gaugeRefreshSeconds)))
        }
    }

    private func refreshRateLimit() async {
        let now = clock.now()
        do {
            try await onStore { [rateLimiter] () throws(StoreError) in try rateLimiter.refresh(now: now) }
            storeSucceeded()
        } catch {
            storeFailed(error, while: "counting Adobe calls for the rate limit")
        }
        let rate = rateLimiter.state
        metrics.rateLimitHeadroom.record(rate.headroom)
    }

    // MARK: Store access

    /// Runs a blocking store call on `storeQueue`.
    private func onStore<T: Sendable>(_ body: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            storeQueue.async {
                do throws(StoreError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    private func storeSucceeded() {
        lock.withLock { state.lastStoreError = nil }
    }

    private func storeFailed(_ error: StoreError, while operation: String) {
        lock.withLock { state.lastStoreError = "\(operation): \(error)" }
        logger.error("delivery store failure while \(operation); jobs stay queued and are retried",
                     metadata: ["error": "\(error)"])
    }

    static func nanoseconds(_ seconds: Double) -> UInt64 {
        guard seconds > 0 else { return 0 }
        return UInt64(min(seconds, 1e9) * 1e9)
    }
}
