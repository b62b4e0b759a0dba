/// Namespace for operator definitions; each op file adds its definitions in an extension.
enum Operators {}
