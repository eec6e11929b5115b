import Foundation
import Hummingbird
import KeelRuntime
import NIOCore
import ServiceLifecycle
import Synchronization

/// `GET /v1/runs/{id}/events`: the run's journal as server-sent events, followed in the store —
/// so steps committed by any worker process appear — as `event: step` with the write's number as
/// its `id`, then `event: run` when the run finishes.
///
/// A client that reconnects with `Last-Event-ID` (or `?last_event_id=`) gets what was written
/// after it: nothing missed, nothing twice. A comment line every `heartbeat` keeps proxies from
/// closing a quiet stream. Each stream ends after `maxDuration` or when the server shuts down (the
/// client reconnects), and each key may hold `maxStreamsPerKey` at once.
struct EventRoutes: Sendable {
    let store: any ServedStore
    let settings: KeelServer.EventSettings
    let open: OpenStreams

    /// The streams each key holds.
    final class OpenStreams: Sendable {
        private let counts = Mutex<[String: Int]>([:])

        func take(_ key: String, max: Int) -> Bool {
            counts.withLock { counts in
                guard counts[key, default: 0] < max else { return false }
                counts[key, default: 0] += 1
                return true
            }
        }

        func give(_ key: String) {
            counts.withLock { counts in counts[key] = Swift.max(0, counts[key, default: 1] - 1) }
        }
    }

    func add(to group: RouterGroup<ServerContext>) {
        group.get("runs/:id/events", use: events)
    }

    @Sendable func events(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.caller(atLeast: .viewer)
        let run = try await KeelServer.ownRun(try context.parameters.require("id"), of: caller, in: store)
        let text = request.headers[.init("Last-Event-ID")!] ?? request.uri.queryParameters.get("last_event_id")
        var resumeAfter = 0
        if let text {
            guard let value = Int(text), value >= 0 else { throw APIError(.badRequest, "invalid_last_event_id", "Last-Event-ID must be a step's event id") }
            resumeAfter = value
        }
        let after = resumeAfter
        guard open.take(caller.id, max: settings.maxStreamsPerKey) else {
            throw APIError(.tooManyRequests, "too_many_streams", "this key holds \(settings.maxStreamsPerKey) event streams already", retryAfter: 1)
        }
        let (store, settings, open, keyID, runID, encoder) = (store, settings, open, caller.id, run.id, context.responseEncoder)
        let body = ResponseBody { writer in
            defer { open.give(keyID) }
            try await Self.follow(runID, after: after, store: store, settings: settings, encoder: encoder, writer: &writer)
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"], body: body)
    }

    /// Writes the run's changes after `after` until it finishes or the stream has lasted long
    /// enough; a failed write (the client left) ends it.
    static func follow(
        _ runID: String, after: Int, store: any ServedStore, settings: KeelServer.EventSettings, encoder: JSONEncoder, writer: inout any ResponseBodyWriter
    ) async throws {
        let clock = ContinuousClock()
        let started = clock.now
        var last = after
        var quietSince = clock.now
        try await writer.write(ByteBuffer(string: "retry: \(settings.retryMilliseconds)\n\n"))
        // A server shutting down ends its streams (their clients reconnect to another) rather
        // than wait for them.
        while clock.now - started < settings.maxDuration, !Task.isShuttingDownGracefully {
            // The status first: every step a finished run wrote is committed before it finished,
            // so the changes read after it are all there are.
            let status = try await store.run(id: runID)?.status
            var changes = try await store.journalChanges(runID: runID, after: last, limit: 200)
            while !changes.isEmpty {
                var text = ""
                for change in changes {
                    var step = StepView(change.entry)
                    step.commit = change.commit
                    text += "id: \(change.commit)\nevent: step\ndata: \(String(decoding: try encoder.encode(step), as: UTF8.self))\n\n"
                    last = change.commit
                }
                try await writer.write(ByteBuffer(string: text))
                quietSince = clock.now
                changes = changes.count == 200 ? try await store.journalChanges(runID: runID, after: last, limit: 200) : []
            }
            if let status, status.isFinished || (status == .waiting && !settings.followWaitingRuns) {
                if let run = try await store.run(id: runID) {
                    try await writer.write(ByteBuffer(string: "event: run\ndata: \(String(decoding: try encoder.encode(RunView(run)), as: UTF8.self))\n\n"))
                }
                return
            }
            if clock.now - quietSince >= settings.heartbeat {
                try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                quietSince = clock.now
            }
            try await Task.sleep(for: settings.pollInterval)
        }
    }
}
