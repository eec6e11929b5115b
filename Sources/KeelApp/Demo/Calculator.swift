import KeelCore

/// The arguments of every calculator tool: two numbers.
@Schema
public struct CalculatorArguments: Decodable, Sendable {
    /// The first number.
    public var a: Double
    /// The second number.
    public var b: Double

    public init(a: Double, b: Double) {
        self.a = a
        self.b = b
    }
}

/// One arithmetic operation as a tool: `add`, `subtract`, `multiply` or `divide`.
public struct CalculatorTool: Tool {
    /// The four operations.
    public enum Operation: String, Sendable, CaseIterable {
        case add, subtract, multiply, divide
    }

    /// Why a calculation failed.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public let operation: Operation

    public init(_ operation: Operation) {
        self.operation = operation
    }

    public var name: String { operation.rawValue }

    public var description: String {
        switch operation {
        case .add: "Add two numbers: a + b."
        case .subtract: "Subtract b from a: a - b."
        case .multiply: "Multiply two numbers: a × b."
        case .divide: "Divide a by b: a ÷ b. b must not be zero."
        }
    }

    public func call(_ arguments: CalculatorArguments, context: ToolContext) async throws -> String {
        let result: Double
        switch operation {
        case .add: result = arguments.a + arguments.b
        case .subtract: result = arguments.a - arguments.b
        case .multiply: result = arguments.a * arguments.b
        case .divide:
            guard arguments.b != 0 else { throw Failure(description: "division by zero") }
            result = arguments.a / arguments.b
        }
        guard result.isFinite else { throw Failure(description: "the result is too large") }
        return JSONValue.number(result).serialized()
    }
}

/// The built-in `calculator` toolset: `add`, `subtract`, `multiply` and `divide`, each taking
/// numbers `a` and `b`. Division by zero is a tool error the model reads.
public enum Calculator {
    /// All four calculator tools.
    public static var tools: [AnyTool] {
        CalculatorTool.Operation.allCases.map { AnyTool(CalculatorTool($0)) }
    }
}
