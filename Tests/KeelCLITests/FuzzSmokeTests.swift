import Foundation
import KeelTestSupport
import Testing

/// Thirty seconds of each libFuzzer target (`Fuzz/run`, AddressSanitizer and coverage), in CI:
/// every parser of outside data meets inputs nobody wrote, on every change. The ten-minute runs
/// are in FUZZING.md. Off the CI, run `FUZZ_SECONDS=30 Fuzz/run` (or set KEEL_FUZZ_SMOKE=1).
@Suite(.serialized, .timeLimit(.minutes(20)), .heavy) struct FuzzSmokeTests {
    static let enabled: Bool = {
        #if os(Linux)
        return MachineRequirements.required || ProcessInfo.processInfo.environment["KEEL_FUZZ_SMOKE"] != nil
        #else
        return false
        #endif
    }()

    static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    @Test(.enabled(if: enabled, "fuzzing smoke runs in CI on Linux; run FUZZ_SECONDS=30 Fuzz/run, or set KEEL_FUZZ_SMOKE=1"))
    func eachTargetRunsThirtySecondsWithoutAFinding() async throws {
        let log = try TemporaryFolder.make("keel-fuzz").appendingPathComponent("fuzz.log")
        var environment = ProcessInfo.processInfo.environment
        environment["FUZZ_SECONDS"] = "30"
        // The build (done already by .ci/run) and five targets of 30 s each.
        let run = try SpawnedProcess(Self.fuzz.appendingPathComponent("run").path, [], environment: environment, directory: Self.fuzz, output: log)
        let status = await run.wait(timeout: .seconds(900))
        if status == nil { run.send(SIGKILL) }
        let output = run.outputText
        #expect(status == 0, "Fuzz/run ended with \(status.map(String.init) ?? "no exit in 15 minutes"):\n\(output.suffix(3_000))")
        for target in ["FuzzJSON", "FuzzSSE", "FuzzDuration", "FuzzSchema", "FuzzTokenizer"] {
            #expect(output.contains("== \(target): 30 s"), "\(target) did not run")
        }
        // libFuzzer prints its final statistics (stat::number_of_executed_units) for a run that ended
        // at its time limit, and a deadly signal or a crash artifact for a finding.
        #expect(output.components(separatedBy: "stat::number_of_executed_units").count - 1 == 5, "\(output.suffix(3_000))")
        #expect(!output.contains("Test unit written to"), "a finding:\n\(output.suffix(3_000))")
    }
}
