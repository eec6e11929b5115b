import GRDB
import KeelRuntime

/// The columns of one row, read with GRDB's throwing decoders.
///
/// GRDB's `row["name"]` subscript traps when a column holds a value of another type (a text
/// where an integer belongs, a NULL where a value is required); a corrupt or hand-edited row
/// must be a ``KeelRuntime/StoreError`` that names it, never a crash of every process that
/// reads it.
///
/// ```swift
/// let column = Columns(row, in: "runs")
/// let id: String = try column("id")
/// ```
struct Columns {
    let row: Row
    let table: String

    init(_ row: Row, in table: String) {
        self.row = row
        self.table = table
    }

    func callAsFunction<Value: DatabaseValueConvertible>(_ name: String) throws -> Value {
        do {
            return try row.decode(forColumn: name)
        } catch {
            let value: DatabaseValue? = row.hasColumn(name) ? row[name] as DatabaseValue : nil
            let found = value.map { $0.isNull ? "NULL" : "a value of another type" } ?? "nothing"
            throw StoreError(.corrupt, "a row of \(table) holds \(found) in its column '\(name)', where a \(Value.self) belongs")
        }
    }
}
