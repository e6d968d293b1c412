import Foundation
import Logging

/// Limits and tuning of `SQLiteEventStore`.
public struct SQLiteEventStoreConfiguration: Sendable {
    /// Appends are refused while the unfinished jobs (pending plus in flight) would exceed this.
    public var maxQueueDepth: Int = 1_000_000
    /// Appends are refused while the data directory's file system has less free space than this.
    public var minFreeDiskBytes: UInt64 = 256 * 1024 * 1024
    /// The `Retry-After` suggested when the queue is full.
    public var queueFullRetryAfterSeconds: Int = 30
    /// The `Retry-After` suggested when the disk is full.
    public var diskFullRetryAfterSeconds: Int = 60
    /// A messageId accepted within this window makes later events with it duplicates.
    public var dedupWindow: TimeInterval = 24 * 3600
    /// Delivered and dead jobs, and events without unfinished jobs, are kept this long (never
    /// less than `dedupWindow`: deduplication reads the accepted events).
    public var retention: TimeInterval = 7 * 24 * 3600
    /// How often the writer thread purges expired data when it has nothing else to do;
    /// `nil` leaves purging to explicit `purgeExpiredData(now:)` calls.
    public var automaticPurgeInterval: TimeInterval? = 600
    /// How long after a commit a background thread copies committed WAL frames into the
    /// database file (it sleeps while nothing is committed). Short intervals keep each
    /// checkpoint, and its fsync, small: on ext4 a large one delays the writer's own WAL fsync
    /// and shows in the append latency (ingest bench, p99: 25–31 ms at 2 ms, 63–76 ms at 10 ms,
    /// 119 ms at 100 ms). `nil` leaves all checkpointing to the writer (SQLite's automatic
    /// checkpoint at `walCheckpointPages`, which should then be a few thousand pages).
    public var backgroundCheckpointInterval: TimeInterval? = 0.002
    /// Once the WAL holds this many pages, the writer completes a checkpoint between two
    /// groups, as soon as the background checkpointer has nearly caught up, so that the WAL
    /// starts over from its beginning instead of growing. Each such checkpoint delays one
    /// group by some milliseconds, so they should be rare: at 100,000 events/s, 256 MiB is
    /// one every two to three seconds (measured p99 11 ms, against 24 ms at 32 MiB).
    public var walCheckpointPages: Int = 65_536
    /// The WAL size at which the writer checkpoints after a commit whatever it costs: the
    /// bound on the WAL when the disk cannot keep up (appends slow down instead).
    public var walMaximumPages: Int = 131_072
    /// The WAL file is cut back to this size after it starts over; keeping about
    /// `walCheckpointPages` of it spares the file system from reallocating it every time.
    public var walSizeLimitBytes: Int = 320 * 1024 * 1024
    /// New jobs become due this long after acceptance. A user's later jobs join the lease of
    /// the first whether due or not, so updates for one profile arriving within this delay
    /// reach Adobe as one call (`delivery.coalesceSeconds`).
    public var firstAttemptDelaySeconds: Double = 0
    /// The time source; tests inject one to move through the dedup window and retention.
    public var clock: @Sendable () -> Date = { Date() }
    public var logger = Logger(label: "EventStore")

    public init() {}
}
