import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Keep-alive connections to one origin, each served by its own thread.
///
/// Why threads and not the cooperative pool: the cooperative pool has as many threads as
/// cores (2 here), and socket I/O must never block one of them. Why one thread per connection
/// rather than one event loop: each worker does plain blocking-style I/O (non-blocking socket,
/// `poll` with the deadline), which keeps TLS, deadlines and the parser sequential and simple;
/// a request costs one hand-over through a lock and one continuation resume, and the
/// connection count is small (the delivery concurrency, 8 to 32).
///
/// Requests wait in one FIFO queue; an idle worker takes the next one, so connections are
/// reused in turn. Workers (and their connections) start on demand up to
/// `maximumConnections` and end after `idleSeconds` without work.
final class HTTPConnectionPool: @unchecked Sendable {
    struct Settings: Sendable {
        var origin: HTTPOrigin
        var tls: TLSClientContext?
        var maximumConnections: Int
        var idleSeconds: Double = 30
        var limits = HTTPAnswerLimits()
    }

    /// One request from submission to its answer. Mutable state is guarded by the pool's lock.
    final class Job: @unchecked Sendable {
        let request: [UInt8]
        let deadline: Deadline
        var continuation: UnsafeContinuation<Result<HTTPAnswer, HTTPClientFailure>, Never>?
        var isCancelled = false
        var isFinished = false
        /// The worker performing it, to wake on cancellation.
        var worker: Worker?

        init(request: [UInt8], deadline: Deadline) {
            self.request = request
            self.deadline = deadline
        }
    }

    final class Worker: @unchecked Sendable {
        /// The read end of a pipe, polled beside the connection; a byte written to the other
        /// end interrupts the worker's wait.
        let wakeDescriptor: Int32
        private let signalDescriptor: Int32

        init?() {
            var ends: [Int32] = [-1, -1]
            // Glibc's Swift module exports neither pipe2 nor SOCK_CLOEXEC in every build, so
            // close-on-exec is set just after: `serve` spawns no processes meanwhile.
            guard pipe(&ends) == 0 else { return nil }
            for end in ends {
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            }
            wakeDescriptor = ends[0]
            signalDescriptor = ends[1]
        }

        func wake() {
            var byte: UInt8 = 1
            // A full pipe already holds a wake-up; nothing is lost when this write fails.
            _ = write(signalDescriptor, &byte, 1)
        }

        deinit {
            close(wakeDescriptor)
            close(signalDescriptor)
        }
    }

    let settings: Settings
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var queueHead = 0
    private var workers: [ObjectIdentifier: Worker] = [:]
    /// Workers between taking a job and finishing it; the others are idle or about to be.
    private var busyWorkers = 0
    private var isShutDown = false
    private var threadNumber = 0

    init(settings: Settings) {
        self.settings = settings
    }

    /// Sends `request` (a complete HTTP/1.1 request) and returns the answer or why none came.
    func execute(_ request: [UInt8], timeoutSeconds: Double) async -> Result<HTTPAnswer, HTTPClientFailure> {
        // The deadline starts now: time spent waiting for a free connection counts, so that a
        // caller is answered within the timeout whatever the load.
        let job = Job(request: request, deadline: Deadline(secondsFromNow: timeoutSeconds))
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                submit(job, continuation)
            }
        } onCancel: {
            cancel(job)
        }
    }

    /// Fails queued and in-flight requests at once as `.cancelled`; later requests too.
    func shutdown() {
        condition.lock()
        isShutDown = true
        let queued = Array(queue[queueHead...])
        queue.removeAll()
        queueHead = 0
        for job in queued { job.isFinished = true }
        let active = Array(workers.values)
        condition.broadcast()
        condition.unlock()
        for job in queued { job.continuation?.resume(returning: .failure(.cancelled)) }
        for worker in active { worker.wake() }
    }

    private func submit(_ job: Job, _ continuation: UnsafeContinuation<Result<HTTPAnswer, HTTPClientFailure>, Never>) {
        condition.lock()
        guard !isShutDown, !job.isCancelled else {
            job.isFinished = true
            condition.unlock()
            continuation.resume(returning: .failure(.cancelled))
            return
        }
        job.continuation = continuation
        queue.append(job)
        let pending = queue.count - queueHead
        var spawn: Worker?
        // Counting idle workers as those not busy (rather than those already waiting on the
        // condition) keeps a worker that is just finishing from looking absent, which would
        // open a needless connection for every sequential request.
        if pending > workers.count - busyWorkers, workers.count < max(1, settings.maximumConnections) {
            if let worker = Worker() {
                workers[ObjectIdentifier(worker)] = worker
                threadNumber += 1
                spawn = worker
            } else if workers.isEmpty {
                // No thread will ever take the job: fail it rather than leave it waiting.
                let code = errno
                queue.removeLast()
                job.isFinished = true
                job.continuation = nil
                condition.unlock()
                continuation.resume(
                    returning: .failure(.connectFailed(detail: "no connection thread could start: pipe: \(errorText(code))")))
                return
            }
        }
        if spawn == nil { condition.signal() }
        let number = threadNumber
        condition.unlock()
        if let spawn {
            let thread = Thread { [self] in run(spawn) }
            thread.name = "adobe-target-http-\(number)"
            // The worker's frames are shallow; a small stack keeps 32 of them cheap.
            thread.stackSize = 512 * 1024
            thread.start()
        }
    }

    private func cancel(_ job: Job) {
        condition.lock()
        guard !job.isFinished else {
            condition.unlock()
            return
        }
        job.isCancelled = true
        if let worker = job.worker {
            condition.unlock()
            worker.wake()
            return
        }
        guard let continuation = job.continuation,
            let index = queue[queueHead...].firstIndex(where: { $0 === job })
        else {
            // Not submitted yet: `submit` sees the flag.
            condition.unlock()
            return
        }
        queue.remove(at: index)
        job.isFinished = true
        job.continuation = nil
        condition.unlock()
        continuation.resume(returning: .failure(.cancelled))
    }

    /// Completes a job its worker performed; the worker counts as idle again from here.
    private func finish(_ job: Job, with result: Result<HTTPAnswer, HTTPClientFailure>) {
        condition.lock()
        busyWorkers -= 1
        let continuation = job.isFinished ? nil : job.continuation
        job.isFinished = true
        job.continuation = nil
        job.worker = nil
        condition.unlock()
        continuation?.resume(returning: result)
    }

    /// The next job for `worker`, or `nil` when it should end (shutdown, or idle too long).
    private func nextJob(for worker: Worker) -> Job? {
        condition.lock()
        defer { condition.unlock() }
        let idleUntil = Date(timeIntervalSinceNow: settings.idleSeconds)
        while !isShutDown && queueHead == queue.count {
            let signalled = condition.wait(until: idleUntil)
            if !signalled && queueHead == queue.count { break }
        }
        guard !isShutDown, queueHead < queue.count else {
            workers[ObjectIdentifier(worker)] = nil
            return nil
        }
        let job = queue[queueHead]
        queueHead += 1
        if queueHead == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueHead = 0
        } else if queueHead >= 1024 {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        job.worker = worker
        busyWorkers += 1
        return job
    }

    private func isInterrupted(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return isShutDown || job.isCancelled
    }

    private func run(_ worker: Worker) {
        var connection: HTTPConnection?
        defer { connection?.close() }
        while let job = nextJob(for: worker) {
            let result = perform(job, on: &connection, worker: worker)
            finish(job, with: result)
        }
    }

    private func perform(_ job: Job, on connection: inout HTTPConnection?, worker: Worker)
        -> Result<HTTPAnswer, HTTPClientFailure>
    {
        let io = IOContext(
            deadline: job.deadline, wakeDescriptor: worker.wakeDescriptor,
            isInterrupted: { [self] in isInterrupted(job) })
        if isInterrupted(job) { return .failure(.cancelled) }
        // Waited out its time in the queue: sending it now would only load a server that
        // is already slow, for an answer nobody waits for.
        if job.deadline.remainingMilliseconds == 0 { return .failure(.timedOut) }
        if let idle = connection, idle.isUnusableWhileIdle() {
            idle.close()
            connection = nil
        }
        var retried = false
        while true {
            let reused = connection != nil
            do throws(HTTPClientFailure) {
                let current: HTTPConnection
                if let connection {
                    current = connection
                } else {
                    current = try HTTPConnection.open(to: settings.origin, tls: settings.tls, io)
                    connection = current
                }
                let answer = try current.exchange(job.request, limits: settings.limits, io)
                if !answer.keepsConnection {
                    current.close()
                    connection = nil
                }
                return .success(answer)
            } catch {
                connection?.close()
                connection = nil
                // A server may close an idle keep-alive connection just as a request goes out
                // on it; the request then fails before any answer byte. Sending it again on a
                // fresh connection is safe only because every request this client sends is
                // idempotent: Adobe's profile lookup is a GET, and its profile update sets the
                // same attribute values again. Once, so that a server that always drops the
                // connection is reported rather than hammered.
                if reused, !retried, case .connectionLost(_, answerStarted: false) = error {
                    retried = true
                    continue
                }
                return .failure(error)
            }
        }
    }
}
