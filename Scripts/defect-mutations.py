#!/usr/bin/env python3
"""Puts each defect of issue 11 back, one at a time, and runs the test that pins it.

For every defect below: the fix is reverted with one textual edit (what the code did at d37cb15),
Keel and its tests are built, the named tests run, and the file is restored. A defect whose test
still passes is reported: that test would not have caught it. Run from anywhere:

    Scripts/defect-mutations.py            # every defect (about 30 minutes on 2 cores)
    Scripts/defect-mutations.py 2 17 21    # chosen defects

PostgreSQL server binaries are needed for 9, 10, 11 and 13; Debian's faketime for 10. The working tree must be clean.
"""
import os
import subprocess
import sys

# (defect, file, text of the fix, text of the defect, replace every occurrence, test filter)
MUTATIONS = [
    ("1", "Sources/KeelCore/Chat/Duration+Parsing.swift",
     "guard seconds.isFinite, seconds >= 0, seconds <= Double(Self.longestAccepted.components.seconds) else { return nil }",
     "guard seconds >= 0 else { return nil }", False, "boundedSecondsRefusesWhatDurationWouldTrapOn"),
    ("2", "Sources/KeelRuntime/RateLimit/RateLimiter.swift",
     "let snapshot = snapshot.bounded(longestPause: longestPause)", "let snapshot = snapshot", False,
     "aYearLongRetryAfterPausesALimiterForTwoMinutesAtMost"),
    ("3", "Sources/KeelCore/Streaming/ServerSentEventParser.swift",
     "guard line.count < limits.lineBytes else {", "guard true else {", False, "anEndlessLineIsRefusedAtItsLimit"),
    ("4", "Sources/KeelRuntime/Tools/ToolExecutor.swift",
     "content: Self.cut(output, at: maximumResultCharacters))", "content: output)", False,
     "aHugeToolResultIsCutAndTheModelReadsThatItWas"),
    ("5", "Sources/KeelCore/Schema/JSONSchema+Validation.swift",
     "switch Self.matches(regex, string, within: Self.patternTimeLimit) {",
     "switch Self.matches(regex, string, within: .seconds(1_000_000)) {", False, "aCatastrophicPatternIsAViolationNotAHang"),
    ("6", "Sources/KeelSQLite/SQLiteRunStore+Rows.swift",
     'epoch: column("epoch"), parentRunID', 'epoch: row["epoch"], parentRunID', False,
     "aValueOfTheWrongTypeIsAClearErrorNotACrash"),
    ("7", "Sources/KeelCore/Tokenization/BPETokenizer.swift",
     "        throw LoadError(\n            description: \"the tokenizer vocabulary",
     "        fatalError(\"\"); throw LoadError(\n            description: \"the tokenizer vocabulary", False,
     "aBinaryWithoutItsResourcesSaysWhatIsMissing"),
    ("9", "Sources/KeelPostgres/PostgresRunStore+Runs.swift",
     " AND epoch = \\(lease.epoch) AND owner = \\(lease.owner)", "", True, "PostgresFencingTests"),
    ("10", "Sources/KeelPostgres/PostgresRunStore+Runs.swift",
     "OR (r.status = 'running' AND (r.lease_expires_at IS NULL OR r.lease_expires_at < EXTRACT(EPOCH FROM clock_timestamp()))))",
     "OR (r.status = 'running' AND (r.lease_expires_at IS NULL OR r.lease_expires_at < \\(Date().timeIntervalSince1970))))", False,
     "skewedAndSteppedClocksStealNothingAndWakeOnTime"),
    ("11", "Sources/KeelRuntime/Durable/DurableRuntime.swift",
     "let stopAt = heldUntil - margin", "let stopAt = heldUntil + leaseDuration * 1_000", False,
     "aWorkerThatCannotRenewStopsBeforeItsLeaseExpires"),
    ("12", "Sources/KeelRuntime/Store/Lease.swift",
     'if !digits.isEmpty { return "\\(host)@\\(digits)" }', "if !digits.isEmpty { return host }", False, "RunOwnerTests"),
    ("13", "Sources/KeelPostgres/PostgresRunStore+TLS.swift",
     "case .require(let configuration): return .require(try NIOSSLContext(configuration: configuration))",
     "case .require: return .disable", False, "requireConnectsOverTLSAndDisableIsRefused"),
    ("14", "Sources/KeelSQLite/SQLiteRunStore.swift",
     "AND (? IS NULL OR workflow IN (SELECT value FROM json_each(?)))", "AND (? IS NULL OR ? IS NOT NULL)", False,
     "SQLiteConformanceTests"),
    ("15", "Sources/KeelApp/Settings/RunAuthority.swift",
     "if let refused = specs.first(where: { !mcpServers.contains($0) }) {", "if let refused = Optional<String>.none {", False,
     "RunAuthorityCommandTests"),
    ("16", "Sources/KeelRuntime/Loop/ToolCallFlow.swift",
     "if let broken = ToolSteps.ruleBroken(by: edited, policy: policy) {", "if let broken = Optional<String>.none {", False,
     "editedArgumentsAreCheckedAgainstTheRules|EditedApprovalTests"),
    ("17", "Sources/KeelRuntime/Durable/RunContext.swift",
     '"\\(key):in-doubt:\\(previous.attempts)"', '"\\(key):in-doubt"', False, "eachAttemptInDoubtAsksAgain"),
    ("18", "Sources/KeelRuntime/Governance/Approval.swift",
     'public static func isReservedSignalName(_ name: String) -> Bool { name.hasPrefix("approval:") }',
     "public static func isReservedSignalName(_ name: String) -> Bool { false }", False, "SQLiteConformanceTests"),
    ("19", "Sources/KeelRuntime/Governance/AuditLog.swift",
     "guard let storedHead else {", "guard let storedHead = storedHead ?? Optional(previous) else {", False,
     "anAuditLogWithoutItsHeadIsNotIntact"),
    ("20", "Sources/KeelRuntime/Budget/ModelCaller.swift",
     "for held in [reservation] + readmission.held where !lapsed.contains(held) {",
     "for held in [reservation] where !lapsed.contains(held) {", False, "aRetrysExtraReservationLastsAsLongAsTheRetry"),
    ("21", "Sources/KeelHTTP/ProviderTransport.swift",
     'secrets.reduce(text) { text, secret in text.replacingOccurrences(of: secret, with: "<redacted>") }', "text", False,
     "SecretRedactionTests"),
    ("22", "Sources/KeelRuntime/Durable/DurableRuntime.swift",
     "(error is CancellationError && Task.isCancelled)", "(error is CancellationError)", False,
     "aWorkflowsOwnCancellationErrorDoesNotEndAWorkerSlot"),
]


def run(argv, **options):
    return subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, SWIFT_BACKTRACE="enable=no"), **options)


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    if run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip():
        sys.exit("the working tree has changes; commit or stash them first")
    chosen = set(sys.argv[1:])
    caught = True
    for defect, path, fix, mutant, every, tests in MUTATIONS:
        if chosen and defect not in chosen:
            continue
        source = open(path).read()
        if fix not in source:
            print(f"defect {defect}: the fix is no longer where this script looks ({path}); update the script")
            caught = False
            continue
        open(path, "w").write(source.replace(fix, mutant) if every else source.replace(fix, mutant, 1))
        try:
            build = run(["swift", "build", "--build-tests"])
            if build.returncode != 0:
                print(f"defect {defect}: the mutant does not build\n{build.stdout[-2000:]}")
                caught = False
                continue
            try:
                test = run(["swift", "test", "--skip-build", "--filter", tests], timeout=300)
                failed, summary = test.returncode != 0, [line for line in (test.stdout + test.stderr).splitlines() if "✘ Test" in line or "Fatal error" in line]
            except subprocess.TimeoutExpired:
                run(["pkill", "-f", "keelPackageTests"])
                failed, summary = True, ["still running after 300 s: it hangs"]
            print(f"defect {defect} [{tests}]: " + ("caught" if failed else "NOT CAUGHT: the test passes with the defect"))
            for line in summary[:3]:
                print("    " + line[:240])
            caught = caught and failed
        finally:
            open(path, "w").write(source)
    run(["swift", "build", "--build-tests"])
    sys.exit(0 if caught else 1)


if __name__ == "__main__":
    main()
