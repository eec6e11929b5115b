import Foundation
import KeelCore
import Testing

/// Durations from outside — headers, flags, files — are parsed within bounds, and durations are
/// converted without trapping.
@Suite(.timeLimit(.minutes(5))) struct DurationBoundsTests {
    @Test(arguments: ["inf", "-inf", "nan", "1e21", "1e10", "-1", "-5s", "1e300ms", "99999999999999h", "315360001", "", " ", "5 s s"])
    func absurdDurationsAreRefused(text: String) {
        #expect(Duration(parsing: text) == nil)
    }

    @Test(arguments: [("0", Duration.zero), ("1.5", .milliseconds(1_500)), ("2m", .seconds(120)), ("1h2m3.5s", .milliseconds(3_723_500)),
        ("250ms", .milliseconds(250)), ("315360000", .seconds(315_360_000))])
    func sensibleDurationsParse(text: String, expected: Duration) {
        #expect(Duration(parsing: text) == expected)
    }

    @Test func boundedSecondsRefusesWhatDurationWouldTrapOn() {
        for value in [Double.infinity, -.infinity, .nan, 1e21, -0.001, Double.greatestFiniteMagnitude] {
            #expect(Duration(boundedSeconds: value) == nil)
        }
        #expect(Duration(boundedSeconds: 0.25) == .milliseconds(250))
        #expect(Duration(boundedSeconds: 31_536_000) == .seconds(31_536_000))
    }

    @Test func conversionsSaturateInsteadOfTrapping() {
        let huge = Duration.seconds(Int64.max)
        #expect(huge.saturatingNanoseconds == .max)
        #expect(Duration.seconds(Int64.min).saturatingNanoseconds == .min)
        #expect(huge.saturatingMilliseconds == Int64.max / 1_000_000)
        #expect(Duration.milliseconds(1_500).saturatingNanoseconds == 1_500_000_000)
        #expect(Duration.milliseconds(1_500).timeInterval == 1.5)
        #expect(huge.formattedSeconds.hasSuffix("s"))
    }

    @Test func tokenCountsAddWithoutTrapping() {
        let most = Usage(inputTokens: .max, outputTokens: .max)
        #expect(most.totalTokens == .max)
        #expect((most + most).inputTokens == .max)
        #expect(!most.isPlausible)
        #expect(Usage(inputTokens: 10, cachedInputTokens: 2, outputTokens: 5).isPlausible)
        #expect(!Usage(inputTokens: -1).isPlausible)
    }
}
