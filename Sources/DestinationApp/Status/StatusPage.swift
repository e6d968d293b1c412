import Foundation
import HTTPServer

/// The operator's status page (`GET /status`): one self-contained HTML document.
///
/// Everything is drawn on the server (the chart is inline SVG) and the page carries no script
/// and no external asset, so it works from an air-gapped browser and its Content-Security-Policy
/// can forbid scripts outright. Rendering is a pure function of the snapshot: the same
/// snapshot gives the same bytes, and every string that came from users or Adobe is escaped.
///
/// Wiring, in the service (the history only knows what happened since the process started):
///
///     let activity = ActivityHistory()
///     let sampling = Task { [weak self] in
///         await activity.recordPeriodically(every: .seconds(5)) {
///             guard let self, let stats = try? self.store?.stats() else { return nil }
///             return ActivitySample(store: stats, delivery: self.deliveryQueue?.stats)
///         }
///     }                                    // sampling.cancel() on shutdown
///     router.add(.GET, "/status") { _, writer in
///         let stats = try? store.stats()
///         let snapshot = StatusSnapshot(
///             generatedAt: Date(), startedAt: startedAt, isSandbox: configuration.isSandbox,
///             adobeClientCode: configuration.adobeTarget.clientCode, store: stats,
///             storeProblem: store.writeProblem(), delivery: deliveryQueue.stats,
///             deadLetters: (try? StatusSnapshot.newestDeadLetters(in: store, held: stats?.deadLetters ?? 0)) ?? [],
///             mappings: registry.current, activity: activity.lastHour())
///         writer.send(StatusPage.response(snapshot))
///     }
public enum StatusPage {
    /// Seconds between automatic reloads.
    public static let refreshSeconds = 10
    /// Dead-letter messages longer than this are cut on the page (the full text stays in the
    /// cell's tooltip, itself capped at `maximumTooltipCharacters`).
    static let maximumMessageCharacters = 240
    static let maximumTooltipCharacters = 2_000

    /// The page as an HTTP answer, with headers that keep browsers from running or caching it.
    public static func response(_ snapshot: StatusSnapshot) -> HTTPResponse {
        HTTPResponse(
            status: .ok,
            headers: HTTPHeaders([
                ("Content-Type", "text/html; charset=utf-8"),
                ("Cache-Control", "no-store"),
                ("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "no-referrer"),
            ]),
            body: render(snapshot))
    }

    /// The HTML document for `snapshot`, UTF-8 encoded.
    public static func render(_ snapshot: StatusSnapshot) -> [UInt8] {
        var page = PageWriter(snapshot: snapshot)
        page.write()
        return Array(page.html.utf8)
    }
}

// MARK: - Page

private struct PageWriter {
    let snapshot: StatusSnapshot
    let hour: [ActivityBucket]
    var html = ""

    init(snapshot: StatusSnapshot) {
        self.snapshot = snapshot
        hour = ActivityHistory.lastHour(of: snapshot.activity, endingAt: snapshot.generatedAt)
        html.reserveCapacity(48 * 1024)
    }

    /// The one-word state in the tab title and the pill, worst first.
    var overall: (label: String, tone: String) {
        if snapshot.storeProblem != nil || snapshot.queue == nil { return ("Store failing", "bad") }
        guard let delivery = snapshot.delivery, delivery.isRunning else { return ("Delivery stopped", "idle") }
        if delivery.isPaused { return ("Delivery paused", "bad") }
        if delivery.rateLimit.isWaiting { return ("Rate-limited", "warn") }
        return ("Delivering", "ok")
    }

    mutating func write() {
        html += """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="refresh" content="\(StatusPage.refreshSeconds)">
        <meta name="robots" content="noindex">
        <title>\(escape(overall.label)) · adobe-target-destination</title>
        <style>\(Self.styleSheet)</style>
        </head>
        <body>
        <main>

        """
        writeHeader()
        writeBanners()
        writeCards()
        writeActivity()
        writeDeadLetters()
        writeMappings()
        html += """
        <footer>No script, no external resources; this page reloads every \(StatusPage.refreshSeconds) s. \
        The same figures as JSON: <code>GET /admin/stats</code>. Readiness: <code>GET /ready</code>.</footer>
        </main>
        </body>
        </html>

        """
    }

    // MARK: Header and banners

    mutating func writeHeader() {
        var facts: [String] = []
        if snapshot.isSandbox {
            facts.append("sandbox (built-in simulator)")
        } else if let clientCode = snapshot.adobeClientCode {
            facts.append("Adobe Target client <b>\(escape(clientCode))</b>")
        }
        if let startedAt = snapshot.startedAt {
            facts.append("up \(Format.duration(snapshot.generatedAt.timeIntervalSince(startedAt)))")
        }
        facts.append("as of \(Format.dateTime(snapshot.generatedAt))")
        let state = overall
        html += """
        <header class="top">
        <div><h1>adobe-target-destination</h1><p class="sub">\(facts.joined(separator: " · "))</p></div>
        <span class="pill \(state.tone)">\(escape(state.label))</span>
        </header>

        """
    }

    mutating func writeBanners() {
        if let problem = snapshot.storeProblem {
            banner("bad", title: "The store cannot take events",
                   "\(escape(problem)). Ingest answers 503 until this is fixed; events already acknowledged are safe on disk.")
        } else if snapshot.queue == nil {
            banner("bad", title: "The store's counters could not be read",
                   "The figures below are incomplete. Check the server's log for the store error.")
        }
        if let delivery = snapshot.delivery {
            if let reason = delivery.pauseReason {
                let since = delivery.pausedSince.map {
                    " since \(Format.time($0)) (\(Format.duration(snapshot.generatedAt.timeIntervalSince($0))) ago)"
                } ?? ""
                banner("bad", title: "Delivery paused\(since)", """
                \(escape(reason)). Nothing is dropped: events keep queueing and are delivered once Adobe accepts the \
                credentials. Replace the bearer token with <code>PUT /admin/settings/adobe-target</code> \
                (body <code>{"bearerToken": "…"}</code>), or in the config or environment followed by SIGHUP.
                """)
            }
            if delivery.rateLimit.isWaiting {
                banner("warn", title: "Waiting for the Adobe rate limit", """
                All \(Format.integer(delivery.rateLimit.limit)) calls allowed per \
                \(Format.window(delivery.rateLimit.windowSeconds)) are used; deliveries resume as the window frees room. \
                Raise <code>delivery.rateLimitPerDay</code> only if your Adobe contract allows it.
                """)
            }
            if let error = delivery.lastStoreError {
                banner("warn", title: "The delivery queue met a store error",
                       "\(escape(error)). It retries on its own; this clears after the next successful store call.")
            }
            if !delivery.isRunning {
                banner("warn", title: "Delivery is not running",
                       "Events are accepted and stored but not forwarded. This happens while the server starts or stops.")
            }
        } else {
            banner("warn", title: "Delivery is not running",
                   "Events are accepted and stored but not forwarded. This happens while the server starts or stops.")
        }
        if snapshot.isSandbox {
            banner("info", title: "Sandbox mode", """
            No Adobe Target client code is configured, so deliveries go to the built-in simulator and nothing reaches \
            Adobe. Set <code>adobeTarget.clientCode</code> or <code>ADOBE_TARGET_CLIENT_CODE</code> to deliver for real.
            """)
        }
    }

    mutating func banner(_ tone: String, title: String, _ body: String) {
        html += "<div class=\"banner \(tone)\" role=\"\(tone == "info" ? "note" : "alert")\"><strong>\(title).</strong> \(body)</div>\n"
    }

    // MARK: Headline figures

    mutating func writeCards() {
        let queue = snapshot.queue
        let delivery = snapshot.delivery
        let lastHourDelivered = hour.reduce(0) { $0 + $1.delivered }
        let lastHourDead = hour.reduce(0) { $0 + $1.deadLettered }
        html += "<section class=\"cards\" aria-label=\"Headline figures\">\n"

        card("Queue depth", queue.map { Format.integer($0.depth) },
             note: queue.map { "\(Format.integer($0.inFlight)) in flight" } ?? "store unreadable")

        let age = queue?.oldestPendingAge
        card("Oldest pending", age.map(Format.duration) ?? (queue == nil ? nil : "none"),
             note: age == nil ? "nothing waiting" : "age of the oldest unfinished job",
             tone: (age ?? 0) >= 3_600 ? "bad" : (age ?? 0) >= 600 ? "warn" : "")

        card("Delivered", queue.map { Format.integer($0.deliveredTotal) },
             note: "\(Format.integer(lastHourDelivered)) in the last hour")

        card("Dead-lettered", queue.map { Format.integer($0.deadLetteredTotal) },
             note: "\(Format.integer(snapshot.deadLettersHeld)) held · \(Format.integer(lastHourDead)) in the last hour",
             tone: lastHourDead > 0 ? "warn" : "")

        card("Adobe calls", delivery.map { Format.integer($0.adobeCalls) },
             note: delivery == nil ? "delivery not running" : "since this process started")

        let ratio = delivery?.lookupCacheHitRatio.map { "lookup cache hits \(Format.percent($0))" } ?? "lookup cache: no lookups yet"
        card("Calls per delivered job", delivery.map { $0.adobeCallsPerDeliveredJob.map(Format.decimal) ?? "–" },
             note: delivery == nil ? "delivery not running" : ratio)

        if let rate = delivery?.rateLimit {
            let low = rate.limit > 0 && rate.headroom * 10 < rate.limit
            card("Rate-limit headroom", Format.integer(rate.headroom),
                 note: "of \(Format.integer(rate.limit)) per \(Format.window(rate.windowSeconds)) · \(Format.integer(rate.usedInWindow)) used",
                 tone: rate.isWaiting ? "bad" : low ? "warn" : "")
        } else {
            card("Rate-limit headroom", nil, note: "delivery not running")
        }

        card("Events accepted", queue.map { Format.integer($0.acceptedEvents) },
             note: queue.map { "\(Format.integer($0.rejectedEvents)) rejected · \(Format.integer($0.duplicateEvents)) duplicates" } ?? "store unreadable")
        html += "</section>\n"
    }

    /// `value` is pre-formatted and never user text; `nil` shows a dash.
    mutating func card(_ label: String, _ value: String?, note: String, tone: String = "") {
        html += """
        <div class="card\(tone.isEmpty ? "" : " " + tone)"><div class="label">\(label)</div>\
        <div class="value">\(value ?? "–")</div><div class="note">\(escape(note))</div></div>

        """
    }

    // MARK: Activity chart

    mutating func writeActivity() {
        let delivered = hour.reduce(0) { $0 + $1.delivered }
        let retried = hour.reduce(0) { $0 + $1.retried }
        let dead = hour.reduce(0) { $0 + $1.deadLettered }
        let accepted = hour.reduce(0) { $0 + $1.accepted }
        html += """
        <section class="panel">
        <div class="panel-head"><h2>Last hour, per minute</h2>
        <div class="legend"><span><i class="sw delivered"></i>delivered \(Format.integer(delivered))</span>\
        <span><i class="sw retried"></i>retried \(Format.integer(retried))</span>\
        <span><i class="sw dead"></i>dead-lettered \(Format.integer(dead))</span>\
        <span><i class="sw accepted line"></i>events accepted \(Format.integer(accepted))</span></div></div>

        """
        html += ActivityChart.throughput(hour)
        html += "<h3>Queue depth</h3>\n"
        html += ActivityChart.queueDepth(hour)
        html += """
        <p class="hint">Times in UTC; the rightmost minute is still filling. Hover a bar for its figures. \
        Retried jobs are counted once per attempt put back.</p>
        </section>

        """
    }

    // MARK: Dead letters

    mutating func writeDeadLetters() {
        let shown = snapshot.deadLetters.count
        let held = max(snapshot.deadLettersHeld, shown)
        let count = shown < held ? "newest \(Format.integer(shown)) of \(Format.integer(held))" : "\(Format.integer(held)) held"
        html += """
        <section class="panel">
        <div class="panel-head"><h2>Dead letters</h2><span class="count">\(count)</span></div>

        """
        guard !snapshot.deadLetters.isEmpty else {
            html += "<p class=\"empty\">No dead letters: every accepted event was delivered or is still queued.</p>\n</section>\n"
            return
        }
        html += """
        <table class="dead">
        <thead><tr><th class="num">ID</th><th>Reason</th><th>Message</th><th>Mapping</th>\
        <th class="num">Attempts</th><th class="num">Adobe status</th><th>Dead since</th></tr></thead>
        <tbody>

        """
        for letter in snapshot.deadLetters {
            let message = Format.truncated(letter.message, to: StatusPage.maximumMessageCharacters)
            let tooltip = Format.truncated(letter.message, to: StatusPage.maximumTooltipCharacters)
            let age = Format.duration(max(0, snapshot.generatedAt.timeIntervalSince(letter.deadAt)))
            html += """
            <tr><td class="num">\(letter.id)</td>\
            <td><span class="badge \(Self.reasonTone(letter.reason))">\(escape(letter.reason))</span></td>\
            <td class="message" title="\(escape(tooltip))">\(escape(message))</td>\
            <td class="nowrap"><code>\(escape(letter.mappingID))</code></td>\
            <td class="num">\(Format.integer(letter.attempts))</td>\
            <td class="num">\(letter.lastAdobeStatus.map(String.init) ?? "<span class=\"muted\">no answer</span>")</td>\
            <td class="nowrap" title="\(Format.dateTime(letter.deadAt))">\(age) ago</td></tr>

            """
        }
        let sampleIDs = snapshot.deadLetters.prefix(2).map { String($0.id) }.joined(separator: ",")
        html += """
        </tbody>
        </table>
        <div class="replay"><p><strong>Replay</strong> once the cause is fixed (needs the admin token; \
        <code>$DESTINATION</code> is this server's address):</p>
        <pre>curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" "$DESTINATION/admin/dead-letters/replay"
        curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \\
             -d '{"ids":[\(sampleIDs)]}' "$DESTINATION/admin/dead-letters/replay"</pre>
        <p class="hint">The first line replays all of them, the second only the listed ids. \
        <code>MAPPING_ERROR</code> letters carry no payload and stay dead: fix the mapping, then have Segment send the event again. \
        Full details, events included: <code>GET /admin/dead-letters</code>.</p></div>
        </section>

        """
    }

    /// A class from a fixed set, never the code itself: the code is data.
    static func reasonTone(_ reason: String) -> String {
        switch reason {
        case "PROFILE_NOT_FOUND": "warn"
        case "ADOBE_REJECTED": "bad"
        case "MAPPING_ERROR": "violet"
        default: "idle"
        }
    }

    // MARK: Mappings

    mutating func writeMappings() {
        let enabled = snapshot.mappings.filter(\.isEnabled).count
        let count = snapshot.mappings.isEmpty ? "none" : "\(snapshot.mappings.count) · \(enabled) enabled"
        html += """
        <section class="panel">
        <div class="panel-head"><h2>Mappings in force</h2><span class="count">\(count)</span></div>

        """
        guard !snapshot.mappings.isEmpty else {
            html += """
            <p class="empty">No mappings: events are stored but nothing is sent to Adobe Target. \
            Add one to the config file, or with <code>PUT /admin/mappings/{id}</code>.</p>
            </section>

            """
            return
        }
        html += """
        <table class="mappings">
        <thead><tr><th>ID</th><th>Name</th><th>State</th><th>Subscription</th><th>Action</th></tr></thead>
        <tbody>

        """
        for mapping in snapshot.mappings {
            html += """
            <tr\(mapping.isEnabled ? "" : " class=\"disabled\"")><td class="nowrap"><code>\(escape(mapping.id))</code></td>\
            <td>\(escape(mapping.name))</td>\
            <td><span class="badge \(mapping.isEnabled ? "ok" : "idle")">\(mapping.isEnabled ? "enabled" : "disabled")</span></td>\
            <td><code class="fql">\(escape(mapping.subscription))</code></td>\
            <td>\(escape(mapping.action))</td></tr>

            """
        }
        html += "</tbody>\n</table>\n</section>\n"
    }

    func escape(_ text: String) -> String { HTMLEscaping.escape(text) }

    static let styleSheet = """

    :root{--bg:#f3f5f8;--panel:#fff;--ink:#1b2230;--muted:#667085;--line:#e4e8ee;--ok:#17804f;--warn:#a86a06;\
    --bad:#c02b2b;--info:#2459a8;--violet:#6b46c1;--delivered:#2f9e6b;--retried:#e8a93a;--dead:#d94848;--accepted:#2f62d0}
    *{box-sizing:border-box}
    body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
    main{max-width:1240px;margin:0 auto;padding:24px 28px 36px}
    header.top{display:flex;justify-content:space-between;align-items:center;gap:16px;margin-bottom:16px}
    h1{font-size:22px;margin:0;letter-spacing:-.01em}
    h2{font-size:16px;margin:0}
    h3{font-size:13px;margin:14px 0 2px;color:var(--muted);font-weight:600}
    .sub{margin:3px 0 0;color:var(--muted)}
    .pill{display:inline-block;padding:7px 16px;border-radius:999px;font-weight:650;font-size:13px;white-space:nowrap}
    .pill.ok{background:#dff3e9;color:var(--ok)}.pill.bad{background:#fde4e4;color:var(--bad)}
    .pill.warn{background:#fcf0d9;color:var(--warn)}.pill.idle{background:#e9ecf1;color:var(--muted)}
    .banner{border:1px solid;border-left-width:6px;border-radius:10px;padding:12px 16px;margin:0 0 12px}
    .banner.bad{background:#fff4f4;border-color:#f1c0c0;border-left-color:var(--bad)}
    .banner.bad strong{color:var(--bad)}
    .banner.warn{background:#fffaf0;border-color:#f0d9a8;border-left-color:var(--warn)}
    .banner.warn strong{color:var(--warn)}
    .banner.info{background:#f2f7ff;border-color:#bdd3f3;border-left-color:var(--info)}
    .banner.info strong{color:var(--info)}
    .cards{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:12px;margin:16px 0}
    .card{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:12px 16px}
    .card .label{color:var(--muted);font-size:11.5px;text-transform:uppercase;letter-spacing:.06em;font-weight:650}
    .card .value{font-size:28px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums;letter-spacing:-.01em}
    .card .note{color:var(--muted);font-size:12.5px}
    .card.warn{border-color:#f0d9a8}.card.warn .value{color:var(--warn)}
    .card.bad{border-color:#f1c0c0}.card.bad .value{color:var(--bad)}
    .panel{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:16px 20px;margin-bottom:16px}
    .panel-head{display:flex;justify-content:space-between;align-items:baseline;gap:16px;flex-wrap:wrap;margin-bottom:8px}
    .count{color:var(--muted);font-size:13px}
    .legend{display:flex;gap:18px;flex-wrap:wrap;color:var(--muted);font-size:12.5px}
    .legend span{display:inline-flex;align-items:center;gap:6px;font-variant-numeric:tabular-nums}
    .sw{display:inline-block;width:11px;height:11px;border-radius:3px}
    .sw.delivered{background:var(--delivered)}.sw.retried{background:var(--retried)}.sw.dead{background:var(--dead)}
    .sw.line{height:3px;border-radius:2px;width:16px}.sw.accepted{background:var(--accepted)}
    svg.chart{display:block;width:100%;height:auto}
    svg.chart text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#7a8496}
    svg.chart text.nodata{font-size:13px;fill:#98a2b3;stroke:#fff;stroke-width:8px;paint-order:stroke}
    svg.chart .grid{stroke:#edf0f4;stroke-width:1}
    svg.chart .axis{stroke:#cfd5de;stroke-width:1}
    svg.chart .bar:hover .hit{fill:#eef2f8}
    svg.chart .delivered{fill:var(--delivered)}svg.chart .retried{fill:var(--retried)}svg.chart .dead{fill:var(--dead)}
    svg.chart .accepted{fill:none;stroke:var(--accepted);stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
    svg.chart .depth{fill:none;stroke:#5b6b86;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
    svg.chart .depth-area{fill:#5b6b86;fill-opacity:.10;stroke:none}
    svg.chart .depth-dot{fill:#5b6b86}
    table{width:100%;border-collapse:collapse;font-size:13px}
    th{text-align:left;color:var(--muted);font-weight:650;font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;\
    border-bottom:1px solid var(--line);padding:7px 10px}
    td{border-bottom:1px solid var(--line);padding:7px 10px;vertical-align:top}
    tbody tr:last-child td{border-bottom:none}
    .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
    td.message{max-width:460px;overflow-wrap:anywhere}
    tr.disabled td{color:var(--muted)}
    code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
    code{background:#f1f3f7;border-radius:4px;padding:1px 5px;overflow-wrap:anywhere}
    pre{background:#141b27;color:#e4ebf5;padding:12px 14px;border-radius:8px;overflow:auto;margin:6px 0;line-height:1.5}
    .badge{display:inline-block;padding:2px 8px;border-radius:6px;font-size:11.5px;font-weight:650;letter-spacing:.02em;white-space:nowrap}
    .badge.ok{background:#dff3e9;color:var(--ok)}.badge.bad{background:#fde4e4;color:var(--bad)}
    .badge.warn{background:#fcf0d9;color:var(--warn)}.badge.violet{background:#efe9fb;color:var(--violet)}
    .badge.idle{background:#e9ecf1;color:var(--muted)}
    .muted{color:var(--muted)}
    .nowrap{white-space:nowrap}.nowrap code{overflow-wrap:normal}
    .empty{color:var(--muted);text-align:center;padding:18px 0;margin:0}
    .replay{margin-top:12px;padding-top:10px;border-top:1px solid var(--line)}
    .replay p{margin:0}
    .hint{color:var(--muted);font-size:12.5px;margin:6px 0 0}
    footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
    @media (max-width:900px){.cards{grid-template-columns:repeat(2,minmax(0,1fr))}}

    """
}

// MARK: - Chart

/// The inline SVG charts. Coordinates are printed with one decimal so that output is stable.
enum ActivityChart {
    static let width = 1160.0
    static let left = 46.0
    static let right = 8.0

    static var plotWidth: Double { width - left - right }
    static var slot: Double { plotWidth / Double(ActivityHistory.minutes) }

    /// Stacked bars (delivered, retried, dead-lettered) per minute with events accepted as a
    /// line on the same scale: both are counts per minute, so the gap between them is the
    /// backlog building up or draining.
    static func throughput(_ hour: [ActivityBucket]) -> String {
        let height = 230.0, top = 10.0, bottom = 24.0
        let plotHeight = height - top - bottom
        let baseline = top + plotHeight
        let peak = hour.map { max($0.delivered + $0.failed, $0.accepted) }.max() ?? 0
        let scale = Scale(peak: peak)
        func y(_ value: Int) -> Double { baseline - plotHeight * Double(value) / Double(scale.top) }

        var svg = """
        <svg class="chart throughput" viewBox="0 0 \(n(width)) \(n(height))" role="img" \
        aria-label="Delivered, retried and dead-lettered jobs and accepted events per minute over the last hour">

        """
        svg += gridAndLabels(scale: scale, y: y)
        for (index, bucket) in hour.enumerated() {
            let x = left + slot * Double(index)
            let barX = x + slot * 0.16, barWidth = slot * 0.68
            svg += "<g class=\"bar\"><title>\(Format.time(bucket.start)): \(Format.integer(bucket.delivered)) delivered, "
                + "\(Format.integer(bucket.retried)) retried, \(Format.integer(bucket.deadLettered)) dead-lettered, "
                + "\(Format.integer(bucket.accepted)) accepted</title>"
            svg += "<rect class=\"hit\" x=\"\(n(x))\" y=\"\(n(top))\" width=\"\(n(slot))\" height=\"\(n(plotHeight))\" fill=\"transparent\"/>"
            var stacked = 0
            // A nonzero count stays visible (2 units high) even beside a tall peak.
            for (value, kind) in [(bucket.delivered, "delivered"), (bucket.retried, "retried"), (bucket.deadLettered, "dead")] where value > 0 {
                let y0 = y(stacked), y1 = y(stacked + value)
                svg += "<rect class=\"\(kind)\" x=\"\(n(barX))\" y=\"\(n(y1))\" width=\"\(n(barWidth))\" height=\"\(n(max(y0 - y1, 2)))\" rx=\"1.5\"/>"
                stacked += value
            }
            svg += "</g>\n"
        }
        if hour.contains(where: { $0.accepted > 0 }) {
            let points = hour.enumerated().map { index, bucket in
                "\(n(left + slot * (Double(index) + 0.5))),\(n(y(bucket.accepted)))"
            }
            svg += "<polyline class=\"accepted\" points=\"\(points.joined(separator: " "))\"/>\n"
        }
        svg += minuteLabels(hour, baseline: baseline)
        if peak == 0 {
            svg += "<text class=\"nodata\" x=\"\(n(left + plotWidth / 2))\" y=\"\(n(top + plotHeight / 2))\" text-anchor=\"middle\">"
                + "No deliveries, failures or accepted events in the last hour</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// The last sampled queue depth of each minute; minutes without a sample leave a gap
    /// rather than pretend the queue was empty.
    static func queueDepth(_ hour: [ActivityBucket]) -> String {
        let height = 120.0, top = 10.0, bottom = 24.0
        let plotHeight = height - top - bottom
        let baseline = top + plotHeight
        let peak = hour.compactMap(\.queueDepth).max() ?? 0
        let scale = Scale(peak: peak, ticks: 2)
        func y(_ value: Int) -> Double { baseline - plotHeight * Double(value) / Double(scale.top) }

        var svg = """
        <svg class="chart depth-chart" viewBox="0 0 \(n(width)) \(n(height))" role="img" \
        aria-label="Queue depth over the last hour">

        """
        svg += gridAndLabels(scale: scale, y: y)
        // Consecutive sampled minutes form one segment.
        var segments: [[(x: Double, y: Double)]] = []
        var current: [(x: Double, y: Double)] = []
        for (index, bucket) in hour.enumerated() {
            if let depth = bucket.queueDepth {
                current.append((left + slot * (Double(index) + 0.5), y(depth)))
            } else if !current.isEmpty {
                segments.append(current)
                current = []
            }
        }
        if !current.isEmpty { segments.append(current) }
        for segment in segments {
            let line = segment.map { "\(n($0.x)),\(n($0.y))" }.joined(separator: " ")
            if segment.count == 1 {
                svg += "<circle class=\"depth-dot\" cx=\"\(n(segment[0].x))\" cy=\"\(n(segment[0].y))\" r=\"2.5\"/>\n"
            } else {
                let area = "\(n(segment[0].x)),\(n(baseline)) \(line) \(n(segment[segment.count - 1].x)),\(n(baseline))"
                svg += "<polygon class=\"depth-area\" points=\"\(area)\"/>\n"
                svg += "<polyline class=\"depth\" points=\"\(line)\"/>\n"
            }
        }
        for (index, bucket) in hour.enumerated() {
            let x = left + slot * Double(index)
            let label = bucket.queueDepth.map { "\(Format.integer($0)) jobs queued" } ?? "no sample"
            svg += "<g class=\"bar-depth\"><title>\(Format.time(bucket.start)): \(label)</title>"
                + "<rect class=\"hit\" x=\"\(n(x))\" y=\"\(n(top))\" width=\"\(n(slot))\" height=\"\(n(plotHeight))\" fill=\"transparent\"/></g>\n"
        }
        svg += minuteLabels(hour, baseline: baseline)
        if segments.isEmpty {
            svg += "<text class=\"nodata\" x=\"\(n(left + plotWidth / 2))\" y=\"\(n(top + plotHeight / 2 + 4))\" text-anchor=\"middle\">"
                + "No queue samples in the last hour</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    static func gridAndLabels(scale: Scale, y: (Int) -> Double) -> String {
        var svg = ""
        for tick in scale.ticks {
            let lineY = y(tick)
            svg += "<line class=\"\(tick == 0 ? "axis" : "grid")\" x1=\"\(n(left))\" y1=\"\(n(lineY))\" x2=\"\(n(width - right))\" y2=\"\(n(lineY))\"/>"
            svg += "<text x=\"\(n(left - 8))\" y=\"\(n(lineY + 4))\" text-anchor=\"end\">\(Format.compact(tick))</text>\n"
        }
        return svg
    }

    /// Every quarter hour, and the current minute.
    static func minuteLabels(_ hour: [ActivityBucket], baseline: Double) -> String {
        var svg = ""
        for index in Array(stride(from: 0, to: hour.count - 1, by: 15)) + [hour.count - 1] where index >= 0 {
            let isLast = index == hour.count - 1
            let x = left + slot * (Double(index) + 0.5)
            let label = isLast ? "now" : Format.time(hour[index].start, withZone: false)
            svg += "<text x=\"\(n(x))\" y=\"\(n(baseline + 16))\" text-anchor=\"middle\">\(label)</text>"
        }
        return svg + "\n"
    }

    /// One decimal at most, no locale.
    static func n(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let magnitude = abs(tenths)
        return magnitude % 10 == 0 ? "\(sign)\(magnitude / 10)" : "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }

    /// A y axis from zero to a round number at or above the peak, in `ticks` equal steps of
    /// 1, 2 or 5 times a power of ten.
    struct Scale {
        let step: Int
        let count: Int

        init(peak: Int, ticks: Int = 4) {
            count = ticks
            let raw = max(1, Double(peak) / Double(ticks))
            var power = 1.0
            while power * 10 <= raw { power *= 10 }
            let multiplier = [1.0, 2.0, 5.0, 10.0].first { $0 * power >= raw } ?? 10
            step = max(1, Int(multiplier * power))
        }

        var top: Int { step * count }
        var ticks: [Int] { (0...count).map { $0 * step } }
    }
}

// MARK: - Escaping and formatting

/// Escapes text for HTML element content and quoted attribute values.
public enum HTMLEscaping {
    public static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            // Control characters other than tab and newlines are invalid in HTML text.
            case "\u{0}"..."\u{8}", "\u{B}", "\u{C}", "\u{E}"..."\u{1F}", "\u{7F}": escaped += "\u{FFFD}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}

/// Number, date and duration formats that depend on no locale or time zone, so the page is
/// the same bytes wherever it is rendered.
enum Format {
    static func integer(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped += "," }
            grouped.append(digit)
        }
        return value < 0 ? "-" + grouped : grouped
    }

    /// Axis labels: 1500 → 1.5k.
    static func compact(_ value: Int) -> String {
        switch value {
        case 1_000_000...: return ActivityChart.n(Double(value) / 1_000_000) + "M"
        case 1_000...: return ActivityChart.n(Double(value) / 1_000) + "k"
        default: return String(value)
        }
    }

    /// Two decimals.
    static func decimal(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(integer(hundredths / 100)).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    static func percent(_ ratio: Double) -> String {
        guard ratio.isFinite else { return "–" }
        return "\(Int((ratio * 100).rounded()))%"
    }

    /// 42 s, 3 min 05 s, 2 h 07 min, 3 d 04 h.
    static func duration(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite else { return "–" }
        let total = max(0, Int(seconds.rounded()))
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        switch total {
        case ..<60: return "\(total) s"
        case ..<3_600: return total % 60 == 0 ? "\(total / 60) min" : "\(total / 60) min \(two(total % 60)) s"
        case ..<86_400: return total % 3_600 / 60 == 0 ? "\(total / 3_600) h" : "\(total / 3_600) h \(two(total % 3_600 / 60)) min"
        default: return total % 86_400 / 3_600 == 0 ? "\(total / 86_400) d" : "\(total / 86_400) d \(two(total % 86_400 / 3_600)) h"
        }
    }

    /// A rate-limit window: 86400 → 24 h.
    static func window(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        return whole >= 3_600 && whole % 3_600 == 0 ? "\(whole / 3_600) h" : duration(seconds)
    }

    /// Whole-string truncation on character boundaries, with an ellipsis.
    static func truncated(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// `14:03 UTC`.
    static func time(_ date: Date, withZone: Bool = true) -> String {
        let parts = utc(date)
        return "\(pad(parts.hour)):\(pad(parts.minute))" + (withZone ? " UTC" : "")
    }

    /// `2025-05-01 14:03:12 UTC`.
    static func dateTime(_ date: Date) -> String {
        let parts = utc(date)
        return "\(parts.year)-\(pad(parts.month))-\(pad(parts.day)) \(pad(parts.hour)):\(pad(parts.minute)):\(pad(parts.second)) UTC"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// Civil UTC date from Unix time (Howard Hinnant's days-from-civil inverse), so no
    /// calendar or time-zone database is involved.
    private static func utc(_ date: Date) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, secondOfDay / 3_600, secondOfDay % 3_600 / 60, secondOfDay % 60)
    }
}
