import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime

/// The production-control flags of `keel agent`, `keel demo` and `keel batch`.
struct ControlOptions: ParsableArguments {
    @Option(name: .customLong("max-cost"), help: ArgumentHelp("The most the run may spend, in US dollars.", valueName: "usd"))
    var maxCost: Double?

    @Option(name: .customLong("max-tokens"), help: ArgumentHelp("The most tokens (input and output) the run may use.", valueName: "n"))
    var maxTokens: Int?

    @Option(help: ArgumentHelp("The tenant the run's spending counts against.", valueName: "id"))
    var tenant: String?

    @Option(name: .customLong("tenant-daily-cost"), help: ArgumentHelp("The tenant's cap per UTC day across runs, in US dollars.", valueName: "usd"))
    var tenantDailyCost: Double?

    @Option(name: .customLong("tenant-daily-tokens"), help: ArgumentHelp("The tenant's token cap per UTC day across runs.", valueName: "n"))
    var tenantDailyTokens: Int?

    @Option(help: ArgumentHelp("Requests per minute your provider tier allows; calls are paced to it.", valueName: "n"))
    var rpm: Int?

    @Option(help: ArgumentHelp("Tokens per minute your provider tier allows; calls are paced to it.", valueName: "n"))
    var tpm: Int?

    @Option(help: ArgumentHelp("When the run must stop, from now, such as 10m; an agent then answers with what it has.", valueName: "duration"))
    var deadline: String?

    @Option(help: ArgumentHelp("Attempts per model call on transient errors (default 3).", valueName: "n"))
    var attempts: Int?

    @Option(name: .customLong("model-timeout"), help: ArgumentHelp("How long one model call may take, such as 60s.", valueName: "duration"))
    var modelTimeout: String?

    @Option(help: ArgumentHelp("A JSON or YAML file of model prices that override the defaults.", valueName: "path"))
    var prices: String?

    @Option(name: .customLong("alert-url"), help: ArgumentHelp("A URL that budget and dead-letter alerts are POSTed to as JSON.", valueName: "url"))
    var alertURL: String?

    func validate() throws {
        if let maxCost, !(maxCost > 0) { throw ValidationError("--max-cost must be a positive number of dollars") }
        if let maxTokens, maxTokens <= 0 { throw ValidationError("--max-tokens must be positive") }
        if let rpm, rpm <= 0 { throw ValidationError("--rpm must be positive") }
        if let tpm, tpm <= 0 { throw ValidationError("--tpm must be positive") }
        if let attempts, attempts < 1 { throw ValidationError("--attempts must be at least 1") }
        if let deadline, Duration(parsing: deadline) == nil { throw ValidationError("--deadline must be a duration such as 10m, got '\(deadline)'") }
        if let modelTimeout, Duration(parsing: modelTimeout) == nil { throw ValidationError("--model-timeout must be a duration such as 60s, got '\(modelTimeout)'") }
        if (tenantDailyCost != nil || tenantDailyTokens != nil) && tenant == nil { throw ValidationError("--tenant-daily-cost and --tenant-daily-tokens need --tenant") }
        if let alertURL, URL(string: alertURL)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            throw ValidationError("--alert-url must be an http or https URL")
        }
    }

    /// The settings a run keeps, with the `--prices` file read now, into the run's input.
    func settings() throws -> ControlSettings {
        var loaded: [String: ModelPrice]?
        if let prices {
            do {
                loaded = try PriceTable.load(contentsOf: URL(fileURLWithPath: prices)).prices
            } catch let error as PriceTable.LoadError {
                throw CLIError(error.description)
            }
        }
        return ControlSettings(
            maxCostUSD: maxCost, maxTokens: maxTokens, tenant: tenant, tenantDailyCostUSD: tenantDailyCost, tenantDailyTokens: tenantDailyTokens,
            requestsPerMinute: rpm, tokensPerMinute: tpm, attempts: attempts,
            modelTimeoutMilliseconds: modelTimeout.flatMap { Duration(parsing: $0) }.map { Int($0.saturatingMilliseconds) },
            prices: loaded, alertURL: alertURL)
    }

    /// What a run started by this command may do: what its own flags name.
    func authority(model: ModelOptions, mcp: [String] = []) -> RunAuthority {
        RunAuthority(mcpServers: Set(mcp), baseURLs: Set(model.baseURL.map { [$0] } ?? []), alertURLs: Set(alertURL.map { [$0] } ?? []))
    }

    /// The deadline as a date, from now.
    var deadlineDate: Date? {
        deadline.flatMap { Duration(parsing: $0) }.map { Date().addingTimeInterval($0.timeInterval) }
    }
}
