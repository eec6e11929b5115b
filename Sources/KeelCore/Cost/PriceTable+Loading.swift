import Foundation

extension PriceTable {
    /// An error reading a price file: where and why.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads prices from a JSON or YAML file (by its extension: `.json`, `.yaml`, `.yml`). Both hold
    /// a mapping from model name to its prices in US dollars per million tokens:
    ///
    /// ```yaml
    /// # prices.yaml
    /// gpt-4o:
    ///   input: 2.50
    ///   cached_input: 1.25
    ///   output: 10.00
    /// claude-sonnet-4:
    ///   input: 3
    ///   cached_input: 0.30
    ///   cache_write: 3.75
    ///   output: 15
    /// my-local-model:
    ///   input: 0
    ///   output: 0
    /// ```
    ///
    /// `cached_input` and `cache_write` default to `input`. Use ``merging(_:)`` to override the defaults.
    public static func load(contentsOf url: URL) throws -> PriceTable {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw LoadError(description: "cannot read the price file \(url.path): \(error.localizedDescription)")
        }
        let isYAML = ["yaml", "yml"].contains(url.pathExtension.lowercased())
        return try isYAML ? PriceTable(yaml: text) : PriceTable(json: text)
    }

    /// Prices from JSON: `{"gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10}}`.
    public init(json text: String) throws {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: text)
        } catch {
            throw LoadError(description: "the price file is not JSON (\(error.description))")
        }
        guard case .object(let models) = document else { throw LoadError(description: "the price file must map model names to prices") }
        var prices: [String: ModelPrice] = [:]
        for (model, fields) in models {
            guard case .object(let values) = fields else { throw LoadError(description: "the prices of '\(model)' must be an object") }
            prices[model] = try Self.price(model, values.mapValues { $0.doubleValue })
        }
        self.init(prices)
    }

    /// Prices from the YAML subset shown in ``load(contentsOf:)``: model names at the left margin,
    /// indented `field: number` lines under each, `#` comments.
    public init(yaml text: String) throws {
        var models: [String: [String: Double?]] = [:]
        var current: String?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw LoadError(description: "line \(index + 1) of the price file has no ':'")
            }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if line.first?.isWhitespace == false {
                guard value.isEmpty else { throw LoadError(description: "line \(index + 1): a model name must be followed by its prices on indented lines") }
                current = key
                models[key] = [:]
            } else {
                guard let model = current else { throw LoadError(description: "line \(index + 1) is indented but belongs to no model") }
                models[model]?[key] = Double(value)
            }
        }
        self.init(try models.reduce(into: [:]) { prices, entry in prices[entry.key] = try Self.price(entry.key, entry.value) })
    }

    private static func price(_ model: String, _ values: [String: Double?]) throws -> ModelPrice {
        for key in values.keys where !["input", "cached_input", "cache_write", "output"].contains(key) {
            throw LoadError(description: "'\(model)' has an unknown price '\(key)': use input, cached_input, cache_write and output")
        }
        func number(_ key: String) throws -> Double? {
            guard let entry = values[key] else { return nil }
            guard let value = entry, value.isFinite, value >= 0 else {
                throw LoadError(description: "the \(key) price of '\(model)' must be a non-negative number")
            }
            return value
        }
        guard let input = try number("input"), let output = try number("output") else {
            throw LoadError(description: "'\(model)' needs both an input and an output price")
        }
        return ModelPrice(
            inputPerMillion: input, cachedInputPerMillion: try number("cached_input"), cacheWriteInputPerMillion: try number("cache_write"),
            outputPerMillion: output)
    }

    /// These prices with `other`'s added, `other` winning where both name a model.
    public func merging(_ other: PriceTable) -> PriceTable {
        PriceTable(prices.merging(other.prices) { _, new in new })
    }
}
