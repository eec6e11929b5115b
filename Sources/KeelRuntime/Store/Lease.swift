import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The right to run one run, for a while: writes carry it, and the store refuses writes under a
/// lease that has been taken over (a newer epoch).
public struct Lease: Sendable, Hashable {
    public var runID: String
    public var owner: String
    /// The fencing epoch of the claim.
    public var epoch: Int
    public var expiresAt: Date

    public init(runID: String, owner: String, epoch: Int, expiresAt: Date) {
        self.runID = runID
        self.owner = owner
        self.epoch = epoch
        self.expiresAt = expiresAt
    }
}

/// Who runs runs: a process on a host. Its ``id`` is `host@pidns/pid/start/nonce`, where
/// `pidns` is the process's PID namespace (on Linux) and `start` its start time, so that neither
/// a process in another namespace with the same host name (containers with host networking or
/// fixed host names) nor a reused process id is mistaken for the owner.
public struct RunOwner: Sendable, Hashable, CustomStringConvertible {
    public var id: String

    public init(id: String) { self.id = id }

    /// This process, with a fresh nonce (so two runtimes in one process are distinct owners).
    public static func currentProcess() -> RunOwner {
        let pid = ProcessInfo.processInfo.processIdentifier
        let nonce = UUID().uuidString.prefix(8).lowercased()
        return RunOwner(id: "\(localMachine)/\(pid)/\(startTime(of: pid) ?? "0")/\(nonce)")
    }

    /// Where process ids mean the same processes as here: the host name, and on Linux the PID
    /// namespace (`/proc/self/ns/pid`), as `host@4026531836`.
    public static let localMachine: String = {
        let host = ProcessInfo.processInfo.hostName
        #if os(Linux)
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid") {
            let digits = link.filter(\.isNumber)
            if !digits.isEmpty { return "\(host)@\(digits)" }
        }
        #endif
        return host
    }()

    public var description: String { id }

    /// Whether an owner id names a process of this machine's PID namespace that no longer runs —
    /// gone, a zombie, or its id reused by a process that started later — so its lease can be
    /// taken at once instead of waiting for it to expire. Owners elsewhere (other hosts, other
    /// PID namespaces on this host, ids written without a namespace) are never judged dead here;
    /// their leases expire.
    public static func isDeadLocally(_ ownerID: String) -> Bool {
        let parts = ownerID.split(separator: "/").map(String.init)
        guard parts.count >= 2, parts[0] == localMachine, let pid = Int32(parts[1]), pid > 0 else {
            return false
        }
        if pid == ProcessInfo.processInfo.processIdentifier { return false }
        if kill(pid, 0) != 0 { return errno == ESRCH }
        #if os(Linux)
        guard let stat = procStat(of: pid) else { return true }
        if stat.state == "Z" || stat.state == "X" { return true }  // exited, not yet reaped
        if parts.count >= 3, parts[2] != "0", parts[2] != stat.startTime { return true }  // the id was reused
        #endif
        return false
    }

    /// The process's start time in clock ticks since boot, from `/proc` (Linux only).
    static func startTime(of pid: Int32) -> String? {
        #if os(Linux)
        return procStat(of: pid)?.startTime
        #else
        return nil
        #endif
    }

    /// The state letter and start time of `/proc/<pid>/stat`. The fields after the command name
    /// (which may hold spaces) are read from its closing parenthesis.
    static func procStat(of pid: Int32) -> (state: String, startTime: String)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ").map(String.init)
        // After the name: state is field 3 of the file, start time field 22.
        guard fields.count > 19 else { return nil }
        return (fields[0], fields[19])
    }
}

/// The answer to a claim.
public enum ClaimResult: Sendable, Hashable {
    /// The run is yours until the lease expires.
    case claimed(Lease, RunRecord)
    /// Another live owner holds the run.
    case busy(owner: String, until: Date?)
    /// The run is completed, failed or cancelled.
    case finished(RunRecord)
    /// There is no such run.
    case notFound
}
