import SwiftCompilerPlugin
import SwiftSyntaxMacros

@main
struct KeelMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [SchemaMacro.self, FieldMacro.self]
}
